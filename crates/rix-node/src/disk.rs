//! The free-space reserve. A disk that fills up is the commonest fault a node meets in years
//! of running, so the node stops taking records from outside (gossip, sync, imports) while the
//! disk holding its data directory has less than `store.reserve_mb` free, keeps answering
//! queries, says so (`rix status`, the log, `rix_disk_free_bytes`), and resumes by itself when
//! space returns. The member's own publishing may use the lower half of the reserve: an
//! administration can still publish when the disk is nearly full, and nothing that peers still
//! hold is lost by refusing it for a while (sync brings it later).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Bytes free for an unprivileged writer on the file system holding `dir`.
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(dir)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// What changed when the disk was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Free space fell below the reserve: records from outside are refused from now on.
    Paused,
    /// Free space is back above the reserve: records from outside are taken again.
    Resumed,
}

/// Free space on the data directory's disk as last measured, and whether the node takes
/// records from outside. Shared without a lock: two atomics, written by the one watcher.
#[derive(Debug)]
pub struct DiskGauge {
    dir: PathBuf,
    reserve: u64,
    free: AtomicU64,
    paused: AtomicBool,
}

impl DiskGauge {
    /// A gauge for `dir` with `reserve` bytes kept free; nothing measured yet (accepting).
    pub fn new(dir: PathBuf, reserve: u64) -> Self {
        Self { dir, reserve, free: AtomicU64::new(u64::MAX), paused: AtomicBool::new(false) }
    }

    /// Measures free space now and updates the state.
    pub fn measure(&self) -> std::io::Result<Option<Change>> {
        let free = free_bytes(&self.dir)?;
        Ok(self.record(free))
    }

    /// Updates the state for `free` bytes free.
    pub fn record(&self, free: u64) -> Option<Change> {
        self.free.store(free, Ordering::Relaxed);
        let below = free < self.reserve;
        match (self.paused.swap(below, Ordering::Relaxed), below) {
            (false, true) => Some(Change::Paused),
            (true, false) => Some(Change::Resumed),
            _ => None,
        }
    }

    /// Whether records from peers and imports are taken.
    pub fn accepting(&self) -> bool {
        !self.paused.load(Ordering::Relaxed)
    }

    /// Whether the member may publish: free space above half the reserve.
    pub fn may_publish(&self) -> bool {
        self.free() >= self.reserve / 2
    }

    /// Bytes free as last measured (`u64::MAX` before the first measurement).
    pub fn free(&self) -> u64 {
        self.free.load(Ordering::Relaxed)
    }

    /// The reserve, bytes.
    pub fn reserve(&self) -> u64 {
        self.reserve
    }

    /// The directory measured.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What `rix status` shows of it.
    pub fn view(&self) -> rix_api::StorageView {
        rix_api::StorageView {
            data_dir: self.dir.display().to_string(),
            free_bytes: self.free(),
            reserve_bytes: self.reserve,
            accepting: self.accepting(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_the_reserve_pauses_and_above_it_resumes_and_publishing_keeps_half() {
        let gauge = DiskGauge::new(PathBuf::from("/"), 100);
        assert!(gauge.accepting() && gauge.may_publish());
        assert_eq!(gauge.record(500), None);
        assert_eq!(gauge.record(99), Some(Change::Paused));
        assert!(!gauge.accepting() && gauge.may_publish());
        assert_eq!(gauge.record(60), None);
        assert!(!gauge.may_publish() || gauge.free() >= 50);
        assert_eq!(gauge.record(49), None);
        assert!(!gauge.may_publish());
        assert_eq!(gauge.record(100), Some(Change::Resumed));
        assert!(gauge.accepting() && gauge.may_publish());
        assert!(free_bytes(Path::new("/")).unwrap() > 0);
    }
}
