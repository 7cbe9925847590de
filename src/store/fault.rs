//! A fault-injecting seam in the segment writer: tests make the Nth write (or every write from
//! then on) fail with `ENOSPC`, the way a full disk does, without needing a small filesystem.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// Shared switch consulted before every segment write and fsync.
#[derive(Debug)]
pub struct FaultInjector {
    /// Writes still allowed before failures start; negative = never fail.
    writes_left: AtomicI64,
    /// Whether failing writes first write half of their bytes (a torn write).
    partial: AtomicBool,
    /// Whether fsyncs fail too.
    fail_syncs: AtomicBool,
}

impl Default for FaultInjector {
    fn default() -> Self {
        FaultInjector {
            writes_left: AtomicI64::new(-1),
            partial: AtomicBool::new(true),
            fail_syncs: AtomicBool::new(false),
        }
    }
}

fn enospc() -> std::io::Error {
    std::io::Error::from_raw_os_error(libc::ENOSPC)
}

impl FaultInjector {
    /// A switch that fails nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// After `n` more successful writes, every write fails with ENOSPC (having written half
    /// its bytes) until [`FaultInjector::clear`].
    pub fn fail_writes_after(&self, n: u64) {
        self.writes_left.store(n as i64, Ordering::SeqCst);
    }

    /// Also fail fsyncs while writes fail.
    pub fn set_fail_syncs(&self, on: bool) {
        self.fail_syncs.store(on, Ordering::SeqCst);
    }

    /// Whether a failing write first writes part of its bytes (default true).
    pub fn set_partial_writes(&self, on: bool) {
        self.partial.store(on, Ordering::SeqCst);
    }

    /// "Space is back": writes and fsyncs succeed again.
    pub fn clear(&self) {
        self.writes_left.store(-1, Ordering::SeqCst);
        self.fail_syncs.store(false, Ordering::SeqCst);
    }

    /// Before a write of `len` bytes: `Ok(())` to proceed, or `Err((bytes to write first,
    /// error))`.
    pub(crate) fn before_write(&self, len: usize) -> Result<(), (usize, std::io::Error)> {
        let left = self.writes_left.load(Ordering::SeqCst);
        if left < 0 {
            return Ok(());
        }
        if left > 0 {
            self.writes_left.fetch_sub(1, Ordering::SeqCst);
            return Ok(());
        }
        let part = if self.partial.load(Ordering::SeqCst) {
            len / 2
        } else {
            0
        };
        Err((part, enospc()))
    }

    /// Before an fsync.
    pub(crate) fn before_sync(&self) -> std::io::Result<()> {
        if self.fail_syncs.load(Ordering::SeqCst) && self.writes_left.load(Ordering::SeqCst) == 0 {
            return Err(std::io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(())
    }
}
