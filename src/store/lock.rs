//! The data-directory lock: `<dir>/LOCK`, held with `flock` (std `File::try_lock`) for as long as
//! a read-write [`Store`](super::Store) is open. The file holds `SLLK 1 pid=<holder>` so the
//! error can name the holder. The lock dies with the process, so a SIGKILL never leaves it stale.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use super::error::StoreError;

/// Name of the lock file.
pub const LOCK_FILE: &str = "LOCK";
/// Start of the lock file's content (magic and version), followed by `pid=<holder>`.
pub const LOCK_MAGIC: &str = "SLLK 1 ";

/// A held data-directory lock (released on drop).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the exclusive lock on `dir/LOCK`, or fails with [`StoreError::Locked`].
    pub fn acquire(dir: &Path) -> Result<DirLock, StoreError> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io("open", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut s = String::new();
                let _ = file.read_to_string(&mut s);
                let pid = s
                    .strip_prefix(LOCK_MAGIC)
                    .and_then(|rest| rest.trim().strip_prefix("pid="))
                    .and_then(|p| p.parse().ok());
                return Err(StoreError::Locked { path, pid });
            }
            Err(TryLockError::Error(e)) => return Err(StoreError::io("lock", &path, e)),
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = writeln!(file, "{LOCK_MAGIC}pid={}", std::process::id());
        Ok(DirLock { _file: file })
    }
}
