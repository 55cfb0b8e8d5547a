//! The search indexer thread: what it is sent, and its loop. It runs off the gossip and sync
//! paths at background priority, so indexing never delays forwarding a record.

use std::sync::Arc;
use std::time::Duration;

use rix_net::jittered;
use rix_record::VerifiedRecord;
use rix_search::SearchIndex;
use rix_store::Replica;

/// Lowers the calling thread's CPU priority to nice 10 (on Linux `setpriority` applies to the
/// thread, and threads it starts inherit it). Best effort: failure leaves normal priority.
pub(crate) fn background_priority() {
    if let Err(e) = rustix::process::setpriority_process(None, 10) {
        tracing::debug!(error = %e, "could not lower the indexer's priority");
    }
}

/// Work for the indexer thread.
pub(crate) enum IndexJob {
    Add(VerifiedRecord),
    /// Commit everything queued so far, then acknowledge.
    Flush(std::sync::mpsc::Sender<()>),
    /// Commit and end (shutdown).
    Stop,
}

/// Records waiting to be indexed; a full queue makes the storing thread wait.
pub(crate) const INDEX_QUEUE: usize = 8192;
/// The indexer commits after this long without new records...
const INDEX_IDLE_COMMIT: Duration = Duration::from_secs(1);
/// ...and about this often (jittered) while records keep coming.
const INDEX_BUSY_COMMIT: Duration = Duration::from_secs(5);

/// The indexer: first indexes what the replica holds but the index lacks, then adds records as
/// they are stored, committing when idle for a second, every five seconds or so under load, and
/// before any search (so a search sees every stored record). It runs off the gossip and sync
/// paths, so indexing never delays forwarding a record. Commits are spaced out because each
/// one writes a segment and syncs several files: on a shared disk, committing every record
/// batch made other writers' syncs, and so record delivery, wait. Returns whether it was told
/// to stop (rather than left with no one to send it jobs).
pub(crate) fn run_indexer(
    index: Arc<SearchIndex>,
    replica: Arc<Replica>,
    jobs: std::sync::mpsc::Receiver<IndexJob>,
) -> bool {
    use std::sync::mpsc::RecvTimeoutError;
    match index.catch_up(&replica, false) {
        Ok(0) => {}
        Ok(added) => tracing::info!(added, "search index caught up with the replica"),
        Err(e) => tracing::warn!(error = %e, "search index catch-up failed"),
    }
    let commit = |dirty: &mut bool, last: &mut std::time::Instant| {
        if *dirty {
            if let Err(e) = index.commit() {
                tracing::warn!(error = %e, "search index commit failed");
            }
            *dirty = false;
            *last = std::time::Instant::now();
        }
    };
    let (mut dirty, mut last_commit) = (false, std::time::Instant::now());
    let mut busy_commit = jittered(INDEX_BUSY_COMMIT);
    loop {
        match jobs.recv_timeout(INDEX_IDLE_COMMIT) {
            Ok(IndexJob::Add(record)) => match index.add(&record) {
                Ok(_) => dirty = true,
                Err(e) => tracing::warn!(error = %e, "could not index a record; `rix reindex` rebuilds the index"),
            },
            Ok(IndexJob::Flush(ack)) => {
                commit(&mut dirty, &mut last_commit);
                let _ = ack.send(());
            }
            Ok(IndexJob::Stop) => {
                commit(&mut dirty, &mut last_commit);
                return true;
            }
            Err(RecvTimeoutError::Timeout) => commit(&mut dirty, &mut last_commit),
            Err(RecvTimeoutError::Disconnected) => {
                commit(&mut dirty, &mut last_commit);
                return false;
            }
        }
        if last_commit.elapsed() >= busy_commit {
            commit(&mut dirty, &mut last_commit);
            busy_commit = jittered(INDEX_BUSY_COMMIT);
        }
    }
}
