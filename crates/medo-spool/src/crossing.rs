//! The spool across filesystems: inbound and outbound on a network share (the VipNet node's
//! folders over SMB/NFS) while the claimed folders, the archive and the state stay local.
//! A rename cannot cross filesystems, so:
//!
//! * **claim by copy**: `inbound/<name>` is first renamed *within inbound* to a hidden name
//!   that carries the claim ([`hidden_name`]: out of VipNet's and our own scan, and ours
//!   alone), copied into `claimed/<claim>` (through a `.part` name, mtimes kept, synced),
//!   journaled `received`, and the hidden original is removed only once the package is at
//!   rest: until then it is the copy every node reaches. After a crash at any step the
//!   hidden original says what happened ([`claiming`]): not journaled → copied and journaled
//!   now under the same claim (never a second arrival); journaled, not at rest → copied
//!   again when this node has no copy; at rest → removed.
//! * **publish in place**: outgoing packages are built in `outbound/.medo-tmp/` (hidden, on
//!   the share's filesystem) and renamed into outbound there.
//!
//! Detected at start (the device of inbound or outbound differs from the claimed folder's)
//! or forced by `[spool] shared = true`.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use crate::{fatal_sync, transient, Layout, SpoolError};

/// The prefix of a folder in inbound being claimed by copy.
pub const CLAIMING: &str = ".medo-claim.";

/// The hidden staging folder in outbound when it is on another filesystem.
pub const STAGING: &str = ".medo-tmp";

/// Most entries a claim copies (files and folders, at any depth): far beyond any package's
/// `max_package_files`; what lies beyond is not copied, and the package is quarantined when
/// its key is read (too many files).
const MAX_COPIED: usize = 100_000;

/// Deepest folder nesting a claim copies.
const MAX_DEPTH: usize = 8;

/// Longest file name (bytes) most filesystems and SMB take.
const NAME_MAX: usize = 255;

/// `.medo-claim.<claim>.<name>`: the claim first (claims hold no dot), the original name
/// after it when the whole fits a file name (else it is left out, and the package is
/// received under its claim's name).
pub fn hidden_name(claim: &str, name: &OsStr) -> OsString {
    let mut hidden = OsString::from(format!("{CLAIMING}{claim}."));
    if hidden.len() + name.len() <= NAME_MAX {
        hidden.push(name);
    }
    hidden
}

/// A folder of inbound being claimed by copy.
#[derive(Debug, Clone)]
pub struct Claiming {
    pub claim: String,
    /// Its name in inbound before it was hidden (the claim's own when it did not fit).
    pub name: OsString,
    pub path: PathBuf,
}

/// The folders of inbound being claimed by copy (none when claims are renames).
pub fn claiming(layout: &Layout) -> Result<Vec<Claiming>, SpoolError> {
    if !layout.claim_by_copy {
        return Ok(Vec::new());
    }
    let inbound = &layout.inbound;
    let mut found = Vec::new();
    for e in
        fs::read_dir(inbound).map_err(transient(format!("cannot read {}", inbound.display())))?
    {
        let Ok(e) = e else { continue };
        let file = e.file_name();
        let Some(rest) = file.as_encoded_bytes().strip_prefix(CLAIMING.as_bytes()) else {
            continue;
        };
        let Some(dot) = rest.iter().position(|&b| b == b'.') else {
            continue;
        };
        let Ok(claim) = std::str::from_utf8(&rest[..dot]) else {
            continue;
        };
        let name = &rest[dot + 1..];
        let name = match name.is_empty() {
            true => OsString::from(claim),
            // SAFETY: a suffix of an OsStr's bytes after an ASCII dot is valid encoded bytes
            false => unsafe { OsStr::from_encoded_bytes_unchecked(name) }.to_os_string(),
        };
        found.push(Claiming {
            claim: claim.to_string(),
            name,
            path: e.path(),
        });
    }
    found.sort_by(|a, b| a.claim.cmp(&b.claim));
    Ok(found)
}

/// Hides `inbound/<name>` as the claim's and copies it into `claimed/<claim>`.
pub(crate) fn claim(layout: &Layout, name: &OsStr, claim: &str) -> Result<PathBuf, SpoolError> {
    let src = layout.inbound.join(name);
    let hidden = layout.inbound.join(hidden_name(claim, name));
    fs::rename(&src, &hidden).map_err(transient(format!("cannot claim {}", src.display())))?;
    medo_stdx::fault::point("after-claim-hide");
    copy_in(layout, &hidden, claim)
}

/// Copies a hidden original into `claimed/<claim>` anew (through `.<claim>.part`, so a torn
/// copy is never a claim); a copy already there is replaced.
pub fn copy_in(layout: &Layout, original: &Path, claim: &str) -> Result<PathBuf, SpoolError> {
    let dst = layout.claimed.join(claim);
    let part = layout.claimed.join(format!(".{claim}.part"));
    for old in [&part, &dst] {
        if old.exists() {
            fs::remove_dir_all(old)
                .map_err(transient(format!("cannot clear {}", old.display())))?;
        }
    }
    let mut budget = MAX_COPIED;
    copy_tree(original, &part, 0, &mut budget)
        .map_err(transient(format!("cannot copy {}", original.display())))?;
    medo_stdx::fault::point("after-claim-copy");
    fs::rename(&part, &dst).map_err(transient(format!("cannot claim {}", dst.display())))?;
    Ok(dst)
}

/// Copies a folder: files with their bytes and modification times, folders, symbolic links
/// as links (never followed). The folder's own time is set last.
fn copy_tree(from: &Path, to: &Path, depth: usize, budget: &mut usize) -> io::Result<()> {
    fs::create_dir(to)?;
    if depth < MAX_DEPTH {
        for e in fs::read_dir(from)? {
            let e = e?;
            if *budget == 0 {
                break;
            }
            *budget -= 1;
            let (src, dst) = (e.path(), to.join(e.file_name()));
            let kind = e.file_type()?;
            if kind.is_dir() {
                copy_tree(&src, &dst, depth + 1, budget)?;
            } else if kind.is_symlink() {
                #[cfg(unix)]
                std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
            } else if kind.is_file() {
                fs::copy(&src, &dst)?;
                let out = fs::OpenOptions::new().write(true).open(&dst)?;
                out.set_modified(fs::metadata(&src)?.modified()?)?;
            }
        }
    }
    File::open(to)?.set_modified(fs::metadata(from)?.modified()?)
}

/// Makes a batch of copy claims durable: the copies (the claimed folder's filesystem) and
/// the hiding renames (inbound).
pub(crate) fn sync_claims(layout: &Layout) -> Result<(), SpoolError> {
    crate::sync_batch(&layout.claimed, &[], std::slice::from_ref(&layout.claimed))?;
    sync_share(&[], std::slice::from_ref(&layout.inbound))
}

/// Makes files and folders on the share durable, each by its own fsync (one `syncfs` need
/// not reach a network filesystem's server). A folder whose filesystem has no directory
/// fsync (`EINVAL`: CIFS) leaves its renames to the server.
pub(crate) fn sync_share(files: &[PathBuf], dirs: &[PathBuf]) -> Result<(), SpoolError> {
    for f in files {
        File::open(f)
            .and_then(|f| f.sync_all())
            .map_err(fatal_sync(f))?;
    }
    for d in dirs {
        match medo_stdx::fsync_dir(d) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            done => done.map_err(fatal_sync(d))?,
        }
    }
    Ok(())
}

/// Gives a hidden original back to inbound under its name (a file changed after it was
/// judged ready: it settles again) and drops its copy. `false`: it could not be.
pub fn put_back(layout: &Layout, claim: &str, name: &OsStr) -> bool {
    let hidden = layout.inbound.join(hidden_name(claim, name));
    let back = layout.inbound.join(name);
    if back.exists() || fs::rename(&hidden, &back).is_err() {
        return false;
    }
    let _ = fs::remove_dir_all(layout.claimed.join(claim));
    true
}

/// The hidden original of a claim taken while it is being read (to compare its look with
/// the judged one: a writer still at it writes there, not into our copy).
pub fn original(layout: &Layout, claim: &str, name: &OsStr) -> PathBuf {
    layout.inbound.join(hidden_name(claim, name))
}

/// Removes hidden originals whose packages are at rest (the removals made durable at once).
pub fn forget_originals(layout: &Layout, rested: &[Claiming]) -> Result<(), SpoolError> {
    if rested.is_empty() {
        return Ok(());
    }
    medo_stdx::fault::point("before-original-removed");
    for c in rested {
        match fs::remove_dir_all(&c.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(transient(format!("cannot remove {}", c.path.display()))(e))
            }
            _ => {}
        }
    }
    sync_share(&[], std::slice::from_ref(&layout.inbound))
}

/// Removes `claimed/<claim>`, a copy whose hidden original is gone from inbound and which
/// the journal does not hold before rest: a leader before this one finished that package
/// (its original is removed only once it is at rest), or it was put back to settle again.
pub fn drop_stale_copy(layout: &Layout, claim: &str) -> Result<(), SpoolError> {
    let copy = layout.claimed.join(claim);
    tracing::warn!(
        claim,
        "removing a copy of a package another leader finished (its original is gone from inbound)"
    );
    match fs::remove_dir_all(&copy) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(transient(format!("cannot remove {}", copy.display()))(e))
        }
        _ => Ok(()),
    }
}

/// Renames a hidden original that cannot be copied (and whose arrival is filed away
/// without its files) to `.medo-lost.<claim>.<name>`: out of every scan, kept for the
/// operator.
pub fn set_aside(layout: &Layout, c: &Claiming) {
    let mut lost = OsString::from(format!(".medo-lost.{}.", c.claim));
    lost.push(&c.name);
    let _ = fs::rename(&c.path, layout.inbound.join(lost));
}

/// Removes `.part` leftovers of copies a crash cut short (their originals are still hidden
/// in inbound and are copied again).
pub fn clear_parts(layout: &Layout) -> usize {
    let Ok(rd) = fs::read_dir(&layout.claimed) else {
        return 0;
    };
    let mut n = 0;
    for e in rd.filter_map(|e| e.ok()) {
        let name = e.file_name();
        let bytes = name.as_encoded_bytes();
        if bytes.starts_with(b".")
            && bytes.ends_with(b".part")
            && fs::remove_dir_all(e.path()).is_ok()
        {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hidden_name_carries_the_claim_and_the_name_when_it_fits() {
        let short = hidden_name("c1-2-3", OsStr::new("пакет 1"));
        assert_eq!(short, OsString::from(".medo-claim.c1-2-3.пакет 1"));
        let long = "я".repeat(120); // 240 bytes
        assert_eq!(
            hidden_name("c1-2-3", OsStr::new(&long)),
            OsString::from(".medo-claim.c1-2-3.")
        );
    }
}
