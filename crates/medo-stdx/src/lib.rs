//! The few things every medo crate needs and none owns: named fault points for the tests'
//! crash windows (`fault`), the order-preserving parallel map (`parallel`), OS errors said in
//! Russian (`words`), a directory's fsync and the capped retry backoff.
//!
//! Deliberately does not know: МЭДО, the journal, appeals, the spool's layout, any async
//! runtime. Depends on no other medo crate.

pub mod fault;
pub mod parallel;
pub mod words;

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::Duration;

/// Makes a folder's entries durable (a rename or a new file in it survives a power cut).
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Free bytes for us on the filesystem holding `dir` (`statvfs`: blocks available to an
/// unprivileged user). Tests stand in a full disk with `MEDO_FAULT_FREE_BYTES` (see
/// `fault`). `None`: it cannot be told.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    if let Some(n) = fault::free_bytes() {
        return Some(n);
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid NUL-terminated path and a struct statvfs to fill
        if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
            return None;
        }
        Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// Capped exponential backoff: 1 s, 2 s, 4 s … 64 s.
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_and_stops_at_64() {
        let waits: Vec<u64> = (0..10).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 1, 2, 4, 8, 16, 32, 64, 64, 64]);
        assert_eq!(backoff(u32::MAX).as_secs(), 64);
    }
}
