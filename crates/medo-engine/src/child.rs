//! The helper processes the loop runs (the signature verifier, the witness command): waited
//! for with a deadline, killed and reaped past it.

use std::time::{Duration, Instant};

/// Waits for a helper process (verifier, witness) at most `timeout`; past it the process is
/// killed and reaped. `Ok(None)`: timed out.
pub(super) fn wait_or_kill(
    child: &mut std::process::Child,
    timeout: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(Some(status)),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                return other.map(|_| None);
            }
        }
    }
}
