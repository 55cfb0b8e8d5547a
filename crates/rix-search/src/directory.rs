//! Where the index lives on disk: tantivy's memory-mapped directory, without its syncs.
//!
//! The index is derived from the replica and can always be rebuilt, so a commit need not wait
//! for the disk. tantivy's own directory `fdatasync`s every file of every segment and the
//! directory itself on each commit; on a disk shared with the replica (and, on a test machine,
//! with other nodes) those syncs made record delivery wait. Here files are written and renamed
//! but never synced; [`sync_all`] makes the whole directory durable at once, which the index
//! does before writing its clean-shutdown marker. After a crash without that marker the index
//! is checked and, if damaged, rebuilt (see [`crate::SearchIndex::open`]).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    AntiCallToken, Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, TerminatingWrite, WatchCallback,
    WatchHandle, WritePtr,
};

/// An [`MmapDirectory`] whose writes are never synced.
#[derive(Clone, Debug)]
pub struct UnsyncedDirectory {
    root: PathBuf,
    inner: MmapDirectory,
}

impl UnsyncedDirectory {
    /// The directory at `root`, which must exist.
    pub fn open(root: &Path) -> Result<Self, tantivy::directory::error::OpenDirectoryError> {
        Ok(Self { root: root.to_owned(), inner: MmapDirectory::open(root)? })
    }
}

/// A file written without a sync at the end.
struct UnsyncedFile(File);

impl Write for UnsyncedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl TerminatingWrite for UnsyncedFile {
    fn terminate_ref(&mut self, _: AntiCallToken) -> io::Result<()> {
        self.0.flush()
    }
}

impl Directory for UnsyncedDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let file = OpenOptions::new().write(true).create_new(true).open(self.root.join(path)).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                OpenWriteError::FileAlreadyExists(path.to_owned())
            } else {
                OpenWriteError::wrap_io_error(e, path.to_owned())
            }
        })?;
        Ok(BufWriter::new(Box::new(UnsyncedFile(file))))
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    /// Atomic against a crash of the process (write, then rename), not against a power cut.
    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let target = self.root.join(path);
        let tmp = self.root.join(format!(".{}.rix-tmp", path.display()));
        std::fs::write(&tmp, data)?;
        std::fs::rename(tmp, target)
    }

    fn sync_directory(&self) -> io::Result<()> {
        Ok(())
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.inner.acquire_lock(lock)
    }

    fn watch(&self, callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(callback)
    }
}

/// Makes every file in `dir`, and `dir` itself, durable.
pub fn sync_all(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        // tantivy deletes files it no longer needs while we list them.
        match File::open(entry.path()) {
            Ok(file) if file.metadata()?.is_file() => file.sync_all()?,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    File::open(dir)?.sync_all()
}
