//! Named fault points, so tests can stop the process exactly inside a narrow window (between
//! two durable steps) instead of by luck: with `MEDO_FAULT_STOP=<point>` in its environment,
//! the process aborts — as a `kill -9` would: no clean-up, nothing flushed — when it reaches
//! that point. Unset (production), a point costs one comparison.
//!
//! Points: `in-command` (an operator command begun — its attempt noted — nothing of it
//! journaled: stands for a file that crashes a parser); `after-command-commit` (an operator
//! command journaled, its queue file not yet removed); `after-publish-intents` (packages staged in `tmp/` and synced, their publish
//! intents durable, nothing renamed into outbound yet); `after-publish` (outbound packages renamed into outbound and synced, `published`
//! not yet journaled); `after-claim-sync` (a batch of claims synced, nothing journaled);
//! across filesystems (`spool::crossing`): `after-claim-hide` (a folder renamed to its hidden
//! claim name in inbound, not copied), `after-claim-copy` (copied to its `.part` name, not
//! yet the claim), `before-original-removed` (packages at rest, their hidden originals still
//! in inbound, `archived` not journaled); `after-mail-sent` (an applicant's e-mail accepted
//! by the server, `applicant_notified` not journaled). And one stall: `MEDO_FAULT_STALL=<file>` holds the loop before each
//! pass while that file exists (`/healthz` must then say 503). And one disk:
//! `MEDO_FAULT_FREE_BYTES=<n>` makes the spool's filesystem report `n` free bytes.

use std::sync::OnceLock;

/// Holds the processing loop before a pass while the file named by `MEDO_FAULT_STALL`
/// exists (a test stalls the loop — a hung disk, a deadlock — and lets it go again).
/// Unset (production), it costs one comparison.
pub fn stall_while_flagged() {
    static FLAG: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
    let flag = FLAG.get_or_init(|| std::env::var_os("MEDO_FAULT_STALL").map(Into::into));
    while flag.as_ref().is_some_and(|f| f.exists()) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The free space tests make the spool's filesystem report (`MEDO_FAULT_FREE_BYTES=<n>`): a
/// full disk without filling one. Unset (production), `None`.
pub fn free_bytes() -> Option<u64> {
    static FREE: OnceLock<Option<u64>> = OnceLock::new();
    *FREE.get_or_init(|| std::env::var("MEDO_FAULT_FREE_BYTES").ok()?.parse().ok())
}

/// Stops the process here when `MEDO_FAULT_STOP` names this point.
pub fn point(name: &str) {
    static STOP: OnceLock<Option<String>> = OnceLock::new();
    let stop = STOP.get_or_init(|| std::env::var("MEDO_FAULT_STOP").ok());
    if stop.as_deref() == Some(name) {
        eprintln!(
            "medo-gateway: fault point {name} reached (MEDO_FAULT_STOP): stopping as a crash would"
        );
        std::process::abort();
    }
}
