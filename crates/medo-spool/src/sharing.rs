//! Who may touch the folders we share with VipNet, set explicitly rather than left to the
//! process umask (the unit's `UMask=0027` would leave a published package's files unwritable
//! by the VipNet group, and VipNet could not remove a package it has sent).
//!
//! * a package we publish: its folder `0770`, its files `0660`, both given the **group of the
//!   outbound folder** (the VipNet group, when outbound is `root:vipnet 2770` as OPERATIONS.md
//!   says) — the service may hand a file to a group it is a member of;
//! * `state_dir`: `0700`, created so and tightened at start when it is looser (journal, store,
//!   archive of citizens' appeals, the checkpoint key: nobody else's business).
//!
//! Touches only the modes and groups of what it is given.

use std::fs::{self, File, Permissions};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Mode of a published package's folder: the VipNet group reads, renames and removes it.
pub const PACKAGE_DIR_MODE: u32 = 0o770;
/// Mode of a published package's files.
pub const PACKAGE_FILE_MODE: u32 = 0o660;
/// Mode of `state_dir`.
pub const STATE_DIR_MODE: u32 = 0o700;

/// How the files of packages published into one outbound folder are handed over.
#[derive(Debug, Clone, Copy)]
pub struct Handover {
    /// The outbound folder's group, when it is not already ours and we may give files to it.
    gid: Option<u32>,
}

impl Handover {
    /// Reads the outbound folder's group. A group the service cannot give files to (not a
    /// member) is left alone: [`Handover::problem`] says so at start.
    pub fn of(outbound: &Path) -> Handover {
        let gid = fs::metadata(outbound).ok().map(|m| m.gid());
        Handover {
            gid: gid.filter(|g| *g != egid() && may_give_to(*g)),
        }
    }

    /// What is wrong with the outbound folder for VipNet, in a sentence for the log: its group
    /// cannot be given to our files, or the group may not write into it. A folder of the
    /// service's own group is not shared with a group: nothing to say.
    pub fn problem(outbound: &Path) -> Option<String> {
        let m = fs::metadata(outbound).ok()?;
        if m.gid() == egid() {
            return None;
        }
        if !may_give_to(m.gid()) {
            return Some(format!(
                "outbound {} belongs to group {}, which this service is not a member of: published packages keep the service's group and VipNet may be unable to remove them (add the group to the service user, e.g. SupplementaryGroups={})",
                outbound.display(),
                group_name(m.gid()),
                group_name(m.gid())
            ));
        }
        if m.mode() & 0o070 != 0o070 {
            return Some(format!(
                "outbound {} is mode {:04o}: the VipNet group needs rwx on it (e.g. 2770)",
                outbound.display(),
                m.mode() & 0o7777
            ));
        }
        None
    }

    /// Why this service cannot work in the transport folder `dir` (`key`: `inbound` — claims
    /// rename out of it — or `outbound` — packages are renamed into it), with the fix: the
    /// path, its owner and group by name, its mode and what is needed. `None`: it can.
    pub fn unwritable(dir: &Path, key: &str) -> Option<String> {
        if writable(dir) {
            return None;
        }
        let m = fs::metadata(dir).ok()?;
        Some(format!(
            "в {key} {} эта служба не может писать (пользователь {}, группа {}): папка принадлежит {}:{}, режим {:04o}; службе нужны права записи и поиска — добавьте пользователя службы в группу {} (SupplementaryGroups={} в юните) и дайте группе rwx (например, chmod 2770) или смените группу папки",
            dir.display(),
            user_name(unsafe { libc::geteuid() }),
            group_name(egid()),
            user_name(m.uid()),
            group_name(m.gid()),
            m.mode() & 0o7777,
            group_name(m.gid()),
            group_name(m.gid())
        ))
    }

    /// A staged package folder: mode and group as VipNet needs them.
    pub fn folder(&self, dir: &Path) -> io::Result<()> {
        fs::set_permissions(dir, Permissions::from_mode(PACKAGE_DIR_MODE))?;
        match self.gid {
            Some(gid) => std::os::unix::fs::chown(dir, None, Some(gid)),
            None => Ok(()), // already ours: no system call
        }
    }

    /// A staged package file (still open for writing): mode and group.
    pub fn file(&self, file: &File) -> io::Result<()> {
        file.set_permissions(Permissions::from_mode(PACKAGE_FILE_MODE))?;
        match self.gid {
            Some(gid) => std::os::unix::fs::fchown(file, None, Some(gid)),
            None => Ok(()),
        }
    }
}

/// Creates `state_dir` as `0700`, or tightens an existing looser one; returns the mode it
/// had when it was changed.
pub fn secure_state_dir(dir: &Path) -> io::Result<Option<u32>> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(STATE_DIR_MODE)
                .create(dir)?;
            // the umask may have taken bits away, never added any: 0700 is set either way
            fs::set_permissions(dir, Permissions::from_mode(STATE_DIR_MODE))?;
            Ok(None)
        }
        Err(e) => Err(e),
        Ok(m) if m.mode() & 0o077 != 0 => {
            fs::set_permissions(dir, Permissions::from_mode(STATE_DIR_MODE))?;
            Ok(Some(m.mode() & 0o7777))
        }
        Ok(_) => Ok(None),
    }
}

fn egid() -> u32 {
    // SAFETY: getegid has no preconditions and cannot fail.
    unsafe { libc::getegid() }
}

/// Whether this process may give a file to group `gid`: root, or a member of it.
fn may_give_to(gid: u32) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let mut groups = vec![0 as libc::gid_t; 1024];
    // SAFETY: the buffer holds `groups.len()` gid_t values; getgroups writes at most that many.
    let n = unsafe { libc::getgroups(groups.len() as libc::c_int, groups.as_mut_ptr()) };
    n > 0 && groups[..n as usize].contains(&gid)
}

/// Whether this process may create and remove entries in `dir` (`access(W_OK | X_OK)`).
fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; access() only reads it
    unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// A group's name (its number when it has none).
fn group_name(gid: u32) -> String {
    // SAFETY: getgrgid returns a pointer into static storage or null; read at once
    unsafe {
        let g = libc::getgrgid(gid);
        if g.is_null() || (*g).gr_name.is_null() {
            return gid.to_string();
        }
        std::ffi::CStr::from_ptr((*g).gr_name)
            .to_string_lossy()
            .into_owned()
    }
}

/// A user's name (its number when it has none).
fn user_name(uid: u32) -> String {
    // SAFETY: getpwuid returns a pointer into static storage or null; read at once
    unsafe {
        let p = libc::getpwuid(uid);
        if p.is_null() || (*p).pw_name.is_null() {
            return uid.to_string();
        }
        std::ffi::CStr::from_ptr((*p).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dir_is_created_0700_and_a_looser_one_tightened() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("a/state");
        assert_eq!(secure_state_dir(&dir).unwrap(), None);
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o7777, 0o700);
        fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        assert_eq!(secure_state_dir(&dir).unwrap(), Some(0o755));
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o7777, 0o700);
        assert_eq!(secure_state_dir(&dir).unwrap(), None);
    }

    #[test]
    fn an_outbound_folder_the_group_cannot_write_is_named() {
        let t = tempfile::tempdir().unwrap();
        fs::set_permissions(t.path(), Permissions::from_mode(0o750)).unwrap();
        assert_eq!(
            Handover::problem(t.path()),
            None,
            "our own group: not shared"
        );
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            // straight to stderr: libtest hides eprintln! of passing tests
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED not root: an outbound folder of another group is not checked"
            );
            return;
        }
        std::os::unix::fs::chown(t.path(), None, Some(4242)).unwrap();
        let said = Handover::problem(t.path()).expect("a problem");
        assert!(said.contains("0750"), "{said}");
        fs::set_permissions(t.path(), Permissions::from_mode(0o2770)).unwrap();
        assert_eq!(Handover::problem(t.path()), None);
    }
}
