//! The spool's filesystem protocol: the state directory's layout, the single-instance lock,
//! scanning inbound, readiness (never touching a package before it is ready), claiming by
//! rename, the package key, quarantine with `reason.json`, archiving, and outbound publishing
//! (build in `tmp/`, fsync files, rename into outbound, fsync the directory).
//!
//! Touches only `inbound`, `outbound` and `state_dir`. Every move is a rename within one
//! filesystem (checked at start); every effect is idempotent: a destination that already
//! exists means the effect already happened.

//!
//! Modules beside the protocol: `control` (the operator command queue), `idempotency` (the
//! API's idempotency keys), `recovery` (what an operator accepted as lost), `sharing` (modes
//! and groups of what is shared with VipNet).
//!
//! Deliberately does not know: what a package means (no decisions, no journal, no store,
//! no PDF), any async runtime.

pub mod control;
pub mod crossing;
pub mod idempotency;
pub mod recovery;
pub mod sharing;

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use medo_wire::hash::Sha256;

use crate::sharing::Handover;
#[cfg(not(target_os = "linux"))]
use medo_stdx::fsync_dir;
use medo_wire::container::is_readable_zip;
use medo_wire::envelope;
use medo_wire::hash::FileHasher;
use medo_wire::known::{self, KnownFile};
use medo_wire::package::{is_envelope_name, list_files};
use medo_wire::Limits;

/// Spool directories and timing (`[spool]`, validated by the configuration reader).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    pub inbound: PathBuf,
    pub outbound: PathBuf,
    pub state_dir: PathBuf,
    pub settle_ms: u64,
    pub rescan_secs: u64,
    pub incomplete_after_secs: u64,
    /// Most packages claimed per pass (a bound on work per cycle).
    pub max_batch: usize,
    /// An outbound package older than this was not picked up by VipNet: alert.
    pub outbound_stale_secs: u64,
    /// Below this much free space on the spool's filesystem nothing is claimed (`/healthz`
    /// 503 «мало места»): the journal, the store and the archive never meet a full disk.
    /// Default 512 MiB — about a hundred full passes at the measured growth (a pass of
    /// `max_batch` = 256 appeals adds ~4.4 MiB of journal, store and archive; OPERATIONS
    /// «Sizing»).
    pub min_free_bytes: u64,
    /// `[spool] shared`: inbound and outbound are on a network share — claim by copy and
    /// publish in place ([`crossing`]) even where the filesystems look the same.
    pub shared: bool,
    /// `[spool] shared_dir`: what every gateway of one database must reach — the taken
    /// packages (`claimed/`, `archive/`, `quarantine/`), the outgoing ones being built
    /// (`tmp/`, `publishing/`), the command queue with its idempotency keys and files
    /// (`control/`), kept answer files (`answers/`) and applicant cards (`cards/`). By
    /// default state_dir; with several gateways, one folder on the share that every node
    /// mounts.
    pub shared_dir: Option<PathBuf>,
}

/// Paths of the spool.
#[derive(Debug, Clone)]
pub struct Layout {
    pub inbound: PathBuf,
    pub outbound: PathBuf,
    pub state: PathBuf,
    /// What every node must reach ([`SpoolConfig::shared_dir`]): state_dir, or
    /// `[spool] shared_dir`.
    pub shared_dir: PathBuf,
    pub claimed: PathBuf,
    pub archive: PathBuf,
    pub quarantine: PathBuf,
    pub tmp: PathBuf,
    pub journal: PathBuf,
    pub store: PathBuf,
    pub lock: PathBuf,
    /// Inbound is on another filesystem than `claimed` (or `[spool] shared`): packages are
    /// claimed by copy ([`crossing`]).
    pub claim_by_copy: bool,
    /// Outbound is on another filesystem than `tmp` (or `[spool] shared`): packages are
    /// built in `outbound/.medo-tmp` and renamed there.
    pub stage_in_outbound: bool,
}

impl SpoolConfig {
    /// The folder every node must reach: `shared_dir`, or state_dir.
    pub fn shared_root(&self) -> &Path {
        self.shared_dir.as_deref().unwrap_or(&self.state_dir)
    }
}

impl Layout {
    /// Where outgoing packages are built: `tmp/`, or the hidden staging folder in outbound
    /// when outbound is on another filesystem.
    pub fn staging(&self) -> PathBuf {
        match self.stage_in_outbound {
            true => self.outbound.join(crossing::STAGING),
            false => self.tmp.clone(),
        }
    }

    /// Publish intents (`publishing/<batch>.intent`, see [`publish_all`]).
    pub fn publishing(&self) -> PathBuf {
        self.shared_dir.join("publishing")
    }

    /// Where a package rests, from the path the journal names (`archive/…`,
    /// `quarantine/…`, `vanished/…`).
    pub fn rest(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.shared_dir.join(rel)
    }

    /// What every node must reach lives apart from the state (`[spool] shared_dir`: a
    /// share): its files and folders are synced one by one, not by the state's `syncfs`.
    pub fn shared_apart(&self) -> bool {
        self.shared_dir != self.state
    }

    /// Makes files and folders on the shared side durable: one `syncfs` there, or each by
    /// itself when it is apart ([`Self::shared_apart`]).
    fn sync_shared(&self, files: &[PathBuf], dirs: &[PathBuf]) -> Result<(), SpoolError> {
        match self.shared_apart() {
            true => crossing::sync_share(files, dirs),
            false => sync_batch(&self.shared_dir, files, dirs),
        }
    }

    pub fn new(spool: &SpoolConfig) -> Layout {
        let s = &spool.state_dir;
        let p = spool.shared_dir.as_ref().unwrap_or(s);
        Layout {
            inbound: spool.inbound.clone(),
            outbound: spool.outbound.clone(),
            state: s.clone(),
            shared_dir: p.clone(),
            claimed: p.join("claimed"),
            archive: p.join("archive"),
            quarantine: p.join("quarantine"),
            tmp: p.join("tmp"),
            journal: s.join("journal"),
            store: s.join("store"),
            lock: s.join("lock"),
            claim_by_copy: spool.shared,
            stage_in_outbound: spool.shared,
        }
    }
}

/// Errors of the spool layer, classified for the run loop.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Setup problems (missing folders, different filesystems, another instance): exit 2.
    #[error(transparent)]
    Setup(#[from] Setup),
    /// Worth retrying later (outbound not writable, disk full).
    #[error("{what}: {source}")]
    Transient { what: String, source: io::Error },
    /// fsync failed: the state of the disk is unknown; the process must stop.
    #[error("fsync failed on {path}: {source} (stopping: never retry an fsync)")]
    Fatal { path: PathBuf, source: io::Error },
}

/// Why the service cannot start until someone fixes something (exit 2), for the
/// administrator in Russian with the fix; the variant says what it is (the CLI waits for a
/// running service on [`Setup::LockHeld`], never by the text).
#[derive(Debug, thiserror::Error)]
pub enum Setup {
    #[error("{key} {}: {why} (проверьте [spool] {key} в файле настроек)", path.display())]
    TransportFolder {
        key: &'static str,
        path: PathBuf,
        why: &'static str,
    },
    #[error("не удалось создать папку {}: {}", path.display(), medo_stdx::words::io(source))]
    Create { path: PathBuf, source: io::Error },
    #[error("{}: {}", path.display(), medo_stdx::words::io(source))]
    Unreadable { path: PathBuf, source: io::Error },
    #[error("{} и {} — на разных файловых системах: папки пакетов (claimed, archive, quarantine, tmp в shared_dir или state_dir) должны быть на одной (пакеты переносятся между ними переименованием)", first.display(), other.display())]
    Filesystems { first: PathBuf, other: PathBuf },
    #[error("{what} {} — символическая ссылка: укажите в настройках саму папку", path.display())]
    Symlink { what: &'static str, path: PathBuf },
    #[error("{inner_what} {} совпадает с {outer_what} {} или лежит внутри неё: это должны быть разные папки", inner.display(), outer.display())]
    Nested {
        inner_what: &'static str,
        inner: PathBuf,
        outer_what: &'static str,
        outer: PathBuf,
    },
    #[error("в state_dir {} нельзя писать: {}", path.display(), medo_stdx::words::io(source))]
    StateUnwritable { path: PathBuf, source: io::Error },
    #[error("не удалось открыть файл блокировки {}: {}", path.display(), medo_stdx::words::io(source))]
    LockOpen { path: PathBuf, source: io::Error },
    #[error("уже работает другой экземпляр medo-gateway (pid {pid}), он держит {}: с одной папкой state_dir может работать только один", path.display())]
    LockHeld { pid: String, path: PathBuf },
    #[error("не удалось заблокировать {}: {}", path.display(), medo_stdx::words::io(source))]
    Lock { path: PathBuf, source: io::Error },
    /// A start check's refusal (journal, keys, witness, folder rights), already in words.
    #[error("{0}")]
    Refused(String),
}

pub(crate) fn transient(what: impl Into<String>) -> impl FnOnce(io::Error) -> SpoolError {
    let what = what.into();
    move |source| SpoolError::Transient { what, source }
}

pub(crate) fn fatal_sync(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Fatal {
        path: path.to_path_buf(),
        source,
    }
}

/// Inbound and outbound are folders (VipNet's: never created by us).
pub fn check_transport_folders(layout: &Layout) -> Result<(), SpoolError> {
    for (dir, key) in [(&layout.inbound, "inbound"), (&layout.outbound, "outbound")] {
        if !dir.is_dir() {
            let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
            let why = match fs::metadata(dir) {
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                    "недоступна этому пользователю"
                }
                Ok(_) => "не папка",
                Err(_) => "нет такой папки",
            };
            return Err(Setup::TransportFolder {
                key,
                path: shown,
                why,
            }
            .into());
        }
    }
    Ok(())
}

pub use medo_stdx::free_bytes;

/// While running: inbound is there. A transport folder gone for a moment (a VipNet
/// reinstall, an admin's `mv`, a remount) is a transient condition — the pass stops,
/// `/healthz` says why, and the service goes on by itself once it is back; only at start is
/// a missing folder a set-up error. (Outbound gone: claims go on, publishing fails for now
/// and is retried — nothing is lost.)
pub fn inbound_present(layout: &Layout) -> Result<(), SpoolError> {
    for (dir, key) in [(&layout.inbound, "inbound")] {
        if let Err(source) = fs::metadata(dir).and_then(|m| {
            m.is_dir()
                .then_some(())
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotADirectory, "not a folder"))
        }) {
            return Err(SpoolError::Transient {
                what: format!(
                    "{key} {} is missing; waiting for it to come back",
                    dir.display()
                ),
                source,
            });
        }
    }
    Ok(())
}

/// Creates the state folders, checks that they share a filesystem (the moves among them are
/// renames) and notes whether inbound and outbound are on another ([`crossing`]).
pub fn prepare(layout: &mut Layout) -> Result<(), SpoolError> {
    check_transport_folders(layout)?;
    for dir in [
        &layout.state,
        &layout.claimed,
        &layout.archive,
        &layout.quarantine,
        &layout.tmp,
        &layout.journal,
    ] {
        fs::create_dir_all(dir).map_err(|source| Setup::Create {
            path: dir.clone(),
            source,
        })?;
    }
    same_filesystem(&[
        &layout.shared_dir,
        &layout.claimed,
        &layout.archive,
        &layout.quarantine,
        &layout.tmp,
    ])?;
    layout.claim_by_copy |= !same_device(&layout.inbound, &layout.claimed)?;
    layout.stage_in_outbound |= !same_device(&layout.outbound, &layout.tmp)?;
    check_layout(layout, false)?;
    for dir in [&layout.state, &layout.shared_dir] {
        let probe = dir.join(".write-probe");
        File::create(&probe)
            .and_then(|_| fs::remove_file(&probe))
            .map_err(|source| Setup::StateUnwritable {
                path: dir.clone(),
                source,
            })?;
    }
    Ok(())
}

#[cfg(unix)]
fn same_filesystem(dirs: &[&Path]) -> Result<(), SpoolError> {
    use std::os::unix::fs::MetadataExt;
    let devs: Vec<(u64, &Path)> = dirs
        .iter()
        .map(|d| {
            fs::metadata(d)
                .map(|m| (m.dev(), *d))
                .map_err(|source| Setup::Unreadable {
                    path: d.to_path_buf(),
                    source,
                })
        })
        .collect::<Result<_, _>>()?;
    if let Some((_, other)) = devs.iter().find(|(dev, _)| *dev != devs[0].0) {
        return Err(Setup::Filesystems {
            first: devs[0].1.to_path_buf(),
            other: other.to_path_buf(),
        }
        .into());
    }
    Ok(())
}

#[cfg(not(unix))]
fn same_filesystem(_dirs: &[&Path]) -> Result<(), SpoolError> {
    Ok(())
}

/// Whether two folders are on one filesystem.
fn same_device(a: &Path, b: &Path) -> Result<bool, SpoolError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let dev = |d: &Path| {
            fs::metadata(d)
                .map(|m| m.dev())
                .map_err(|source| Setup::Unreadable {
                    path: d.to_path_buf(),
                    source,
                })
        };
        Ok(dev(a)? == dev(b)?)
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        Ok(true)
    }
}

/// The three spool folders are real folders — not symbolic links — and none is, or lies
/// inside, another, compared by device and inode whatever the path text says (inbound
/// replaced by a link into state_dir would have the service claim its own journal). Checked
/// at start and before every claim; `running`: a transport folder missing for now is left
/// out (see [`inbound_present`]), not a set-up error.
#[cfg(unix)]
pub fn check_layout(layout: &Layout, running: bool) -> Result<(), SpoolError> {
    use std::os::unix::fs::MetadataExt;
    let shared = ("shared_dir", &layout.shared_dir);
    let named: Vec<(&str, &PathBuf)> = [
        ("inbound", &layout.inbound),
        ("outbound", &layout.outbound),
        ("state_dir", &layout.state),
    ]
    .into_iter()
    .chain(layout.shared_apart().then_some(shared))
    // while running, a folder on the share (the transport folders, shared_dir) gone for a
    // moment is waited for, not a set-up error
    .filter(|(what, p)| {
        !(running && matches!(*what, "inbound" | "outbound" | "shared_dir") && !p.exists())
    })
    .collect();
    let setup = |p: &Path, source: io::Error| Setup::Unreadable {
        path: p.to_path_buf(),
        source,
    };
    for &(what, p) in &named {
        let m = fs::symlink_metadata(p).map_err(|e| setup(p, e))?;
        if m.file_type().is_symlink() {
            return Err(Setup::Symlink {
                what,
                path: p.clone(),
            }
            .into());
        }
    }
    let id = |p: &Path| {
        fs::metadata(p)
            .map(|m| (m.dev(), m.ino()))
            .map_err(|e| setup(p, e))
    };
    for &(outer_what, outer) in &named {
        let outer_id = id(outer)?;
        for (inner_what, inner) in named.iter().filter(|(w, _)| *w != outer_what) {
            let real = fs::canonicalize(inner).map_err(|e| setup(inner, e))?;
            for ancestor in real.ancestors() {
                if id(ancestor)? == outer_id {
                    return Err(Setup::Nested {
                        inner_what,
                        inner: inner.to_path_buf(),
                        outer_what,
                        outer: outer.clone(),
                    }
                    .into());
                }
            }
        }
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check_layout(_layout: &Layout, _running: bool) -> Result<(), SpoolError> {
    Ok(())
}

/// The single-instance lock (`state_dir/lock`), held for the process lifetime.
pub struct InstanceLock {
    _file: File,
}

impl InstanceLock {
    pub fn acquire(path: &Path) -> Result<InstanceLock, SpoolError> {
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|source| Setup::LockOpen {
                path: path.to_path_buf(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => {
                let _ = file.set_len(0);
                let _ = writeln!(file, "{}", std::process::id());
                Ok(InstanceLock { _file: file })
            }
            Err(fs::TryLockError::WouldBlock) => {
                let pid = fs::read_to_string(path).unwrap_or_default();
                Err(Setup::LockHeld {
                    pid: pid.trim().to_string(),
                    path: path.to_path_buf(),
                }
                .into())
            }
            Err(fs::TryLockError::Error(source)) => Err(Setup::Lock {
                path: path.to_path_buf(),
                source,
            }
            .into()),
        }
    }
}

/// What a folder looks like now: every entry's name, size, mtime; compared between scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    entries: Vec<(String, u64, SystemTime)>,
    pub newest: SystemTime,
}

/// A claimed folder against its look when judged ready.
#[derive(Debug)]
pub enum SinceReady {
    /// Not judged by this tracker (nothing to compare with).
    Unwatched,
    /// As judged: its snapshot now (the baseline for later checks, taken once).
    Unchanged(Snapshot),
    /// Changed (or unreadable) since it was judged ready.
    Changed,
}

/// Takes a snapshot of a package folder (lstat only; reads no content).
pub fn snapshot(dir: &Path, max_entries: usize) -> io::Result<Snapshot> {
    let mut entries = Vec::new();
    let mut newest = fs::symlink_metadata(dir)?.modified()?;
    for e in fs::read_dir(dir)? {
        let e = e?;
        if entries.len() > max_entries {
            break;
        }
        let m = e.metadata()?;
        let mtime = m.modified()?;
        newest = newest.max(mtime);
        entries.push((e.file_name().to_string_lossy().into_owned(), m.len(), mtime));
    }
    entries.sort();
    Ok(Snapshot { entries, newest })
}

/// Whether a package folder is complete: exactly one envelope, every `[ФАЙЛЫ]` file present,
/// every ZIP's central directory readable. Reads only; never modifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completeness {
    Complete,
    /// Not yet complete; the reason is for logs and the quarantine record.
    Incomplete(String),
}

pub fn completeness(dir: &Path, limits: &Limits) -> Completeness {
    // names as read: UTF-8, or the windows-1251 reading of other bytes (VipNet on Linux), with
    // the name on disk to open
    let listed: Vec<(String, OsString)> = match list_files(dir, limits) {
        Ok(f) => f.into_iter().map(|n| (n.clone(), n.into())).collect(),
        Err(e) if e.code() == "unsafe-name" => match decoded_listing(dir, limits) {
            Some(f) => f,
            None => return Completeness::Complete,
        },
        // unsafe entries (symlinks, FIFOs, control characters): complete as far as waiting
        // helps; parsing will quarantine it with the precise reason
        Err(e) if e.code() != "io" => return Completeness::Complete,
        Err(e) => return Completeness::Incomplete(e.to_string()),
    };
    let files: Vec<String> = listed.iter().map(|(n, _)| n.clone()).collect();
    let on_disk = |name: &str| {
        let raw = listed
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.clone());
        dir.join(raw.unwrap_or_else(|| name.into()))
    };
    let envelopes: Vec<&String> = files.iter().filter(|n| is_envelope_name(n)).collect();
    let [env_name] = envelopes.as_slice() else {
        return Completeness::Incomplete(format!("{} envelopes", envelopes.len()));
    };
    let bytes = match fs::read(on_disk(env_name)) {
        Ok(b) if b.len() as u64 <= limits.max_envelope_bytes => b,
        Ok(_) => return Completeness::Complete, // too large: parsing will say so
        Err(e) => return Completeness::Incomplete(format!("{env_name}: {e}")),
    };
    let env = match envelope::parse(&bytes, env_name, limits.max_package_files) {
        Ok(env) => env,
        Err(_) => return Completeness::Complete, // a bad envelope does not get better by waiting
    };
    for listed in &env.files {
        if !files.iter().any(|f| f.eq_ignore_ascii_case(listed)) {
            return Completeness::Incomplete(format!("{listed} listed but missing"));
        }
    }
    for zip in files.iter().filter(|f| f.to_lowercase().ends_with(".zip")) {
        if !is_readable_zip(&on_disk(zip)) {
            return Completeness::Incomplete(format!("{zip}: no readable central directory yet"));
        }
    }
    Completeness::Complete
}

/// The regular files of a folder whose names are not all UTF-8: each with its UTF-8 or
/// windows-1251 reading and its name on disk; `None` when anything else is wrong with it
/// (parsing then says what).
fn decoded_listing(dir: &Path, limits: &Limits) -> Option<Vec<(String, OsString)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).ok()? {
        let e = e.ok()?;
        if out.len() >= limits.max_package_files || !e.file_type().ok()?.is_file() {
            return None;
        }
        let raw = e.file_name();
        let name = match raw.to_str() {
            Some(n) => n.to_string(),
            None => medo_wire::text::cp1251_name(raw.as_encoded_bytes()),
        };
        if name.chars().any(char::is_control) {
            return None;
        }
        out.push((name, raw));
    }
    out.sort();
    Some(out)
}

/// What the scanner decided about a folder in inbound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Complete and unchanged for `settle_ms`: claim it.
    Ready,
    /// Still incomplete after `incomplete_after_secs`: claim it for quarantine.
    Overdue(String),
    /// Look again later (at the latest after this long). `settling`: it will be acted on
    /// once unchanged for `settle_ms` (complete, or incomplete and overdue); otherwise it is
    /// incomplete and waiting for files.
    Wait { after: Duration, settling: bool },
}

/// What the tracker knows of one inbound folder.
struct Seen {
    /// Its last snapshot.
    snap: Snapshot,
    /// Since when it has looked like that.
    since: Instant,
    /// When it was first seen.
    first: Instant,
    /// It was complete when it looked like that (unchanged files need no second look).
    complete: bool,
}

/// Files in inbound still being written, as the kernel tells it on local filesystems: a
/// file created or written to and not yet closed after writing (inotify's `IN_CLOSE_WRITE`).
/// Such a folder is not ready however long the writer pauses. Where no events arrive
/// (network shares) it stays empty and the settle window alone decides. Shared by the
/// watcher's thread (which notes) and the loop (which asks).
#[derive(Debug, Default)]
pub struct Writers(std::sync::Mutex<HashMap<OsString, HashMap<OsString, Instant>>>);

impl Writers {
    fn files(&self) -> std::sync::MutexGuard<'_, HashMap<OsString, HashMap<OsString, Instant>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `file` in inbound folder `folder` was created or written to.
    pub fn writing(&self, folder: &OsStr, file: &OsStr) {
        let mut all = self.files();
        all.entry(folder.to_os_string())
            .or_default()
            .insert(file.to_os_string(), Instant::now());
    }

    /// `file` was closed after writing, removed or renamed away.
    pub fn closed(&self, folder: &OsStr, file: &OsStr) {
        let mut all = self.files();
        if let Some(files) = all.get_mut(folder) {
            files.remove(file);
            if files.is_empty() {
                all.remove(folder);
            }
        }
    }

    /// A folder claimed (gone from inbound): what was noted of it is forgotten.
    pub fn forget(&self, folder: &OsStr) {
        self.files().remove(folder);
    }

    /// Events were lost (the kernel's queue overflowed): nothing is known, the settle
    /// window decides until new events say otherwise.
    pub fn forget_all(&self) {
        self.files().clear();
    }

    /// Whether a file of `folder` is being written: written to within `within` and not
    /// closed since (an entry older than that is forgotten — a lost close cannot hold a
    /// folder for ever).
    pub fn busy(&self, folder: &OsStr, within: Duration) -> bool {
        let mut all = self.files();
        let Some(files) = all.get_mut(folder) else {
            return false;
        };
        files.retain(|_, at| at.elapsed() < within);
        let busy = !files.is_empty();
        if !busy {
            all.remove(folder);
        }
        busy
    }
}

/// Whether a file directly in `dir` is open for writing by any process, as the kernel
/// knows it: a read lease (`fcntl(F_SETLEASE, F_RDLCK)`) is granted only on a file nobody
/// has open for writing, and is given back at once. `Some(true)`: one is; `Some(false)`:
/// none is; `None`: the kernel cannot tell here (a network filesystem, no `CAP_LEASE` for
/// another user's files — the unit grants it) — the settle window alone decides then.
#[cfg(target_os = "linux")]
pub fn open_for_writing(dir: &Path, max_entries: usize) -> Option<bool> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let mut told = true;
    for e in fs::read_dir(dir).ok()?.take(max_entries) {
        let Ok(e) = e else { continue };
        if !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let Ok(file) = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(e.path())
        else {
            told = false;
            continue;
        };
        // SAFETY: fcntl on a descriptor this function owns, with integer arguments
        let leased = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_RDLCK) };
        if leased == 0 {
            // SAFETY: as above; gives the lease back before the file is closed
            unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK) };
            continue;
        }
        match io::Error::last_os_error().raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EBUSY) => return Some(true),
            _ => told = false,
        }
    }
    told.then_some(false)
}

#[cfg(not(target_os = "linux"))]
pub fn open_for_writing(_dir: &Path, _max_entries: usize) -> Option<bool> {
    None
}

/// How long a folder has looked the same, against the settle window, and whether its newest
/// file is older than the incomplete limit.
struct Look {
    stable_for: Duration,
    settle: Duration,
    overdue: bool,
}

impl Look {
    /// The verdict on a folder no writer holds open: ready once settled when complete; an
    /// incomplete one waits, and is overdue once settled past the limit.
    fn verdict(&self, complete: Completeness) -> Verdict {
        let (stable_for, settle) = (self.stable_for, self.settle);
        match complete {
            Completeness::Complete if stable_for >= settle => Verdict::Ready,
            Completeness::Complete => Verdict::Wait {
                after: settle - stable_for,
                settling: true,
            },
            Completeness::Incomplete(why) if self.overdue && stable_for >= settle => {
                Verdict::Overdue(why)
            }
            Completeness::Incomplete(_) if self.overdue => Verdict::Wait {
                after: settle - stable_for,
                settling: true,
            },
            Completeness::Incomplete(_) => Verdict::Wait {
                after: settle.max(Duration::from_millis(200)),
                settling: false,
            },
        }
    }
}

/// Remembers each inbound folder's last snapshot and since when it has been unchanged.
#[derive(Default)]
pub struct SettleTracker {
    seen: HashMap<OsString, Seen>,
}

impl SettleTracker {
    /// Looks at one folder.
    /// `writing`: a file of it is still open for writing (see [`Writers`]) — it counts as
    /// changing, whatever its snapshot says.
    pub fn judge(
        &mut self,
        name: &OsStr,
        dir: &Path,
        now: Instant,
        (spool, limits): (&SpoolConfig, &Limits),
        writing: bool,
    ) -> Verdict {
        let settle = Duration::from_millis(spool.settle_ms);
        let Ok(snap) = snapshot(dir, limits.max_package_files) else {
            return Verdict::Wait {
                after: settle,
                settling: false,
            };
        };
        let newest = snap.newest;
        let (since, first_seen, known_complete) = self.note(name, snap, now, writing);
        let stable_for = now.duration_since(since);
        let limit = Duration::from_secs(spool.incomplete_after_secs);
        // a folder that never stops changing (a writer gone mad, or a slow attack) is not
        // waited for longer than the incomplete limit, counted from when we first saw it
        let watched = now.duration_since(first_seen);
        if stable_for < settle && watched >= limit && watched >= settle {
            return Verdict::Overdue(format!("still changing after {} s", watched.as_secs()));
        }
        let complete = if known_complete {
            Completeness::Complete
        } else {
            completeness(dir, limits)
        };
        if let Some(seen) = self.seen.get_mut(name) {
            seen.complete = complete == Completeness::Complete;
        }
        let look = Look {
            stable_for,
            settle,
            overdue: SystemTime::now().duration_since(newest).unwrap_or_default() >= limit,
        };
        match complete {
            // the kernel's word last: a file still open for writing is not ready, whatever
            // its age (a writer pausing longer than settle_ms between chunks)
            Completeness::Complete
                if stable_for >= settle
                    && open_for_writing(dir, limits.max_package_files) == Some(true) =>
            {
                if let Some(seen) = self.seen.get_mut(name) {
                    seen.since = now;
                }
                Verdict::Wait {
                    after: settle,
                    settling: true,
                }
            }
            complete => look.verdict(complete),
        }
    }

    /// Remembers this look at `name`; returns since when it has looked the same (now, when
    /// it changed or is being written), when it was first seen, and whether it was known
    /// complete.
    fn note(
        &mut self,
        name: &OsStr,
        snap: Snapshot,
        now: Instant,
        writing: bool,
    ) -> (Instant, Instant, bool) {
        let (since, first, complete) = match self.seen.get(name) {
            Some(old) if writing => (now, old.first, false),
            None if writing => (now, now, false),
            Some(old) if old.snap == snap => (old.since, old.first, old.complete),
            Some(old) => (now, old.first, false),
            None => (now, now, false),
        };
        let seen = Seen {
            snap,
            since,
            first,
            complete,
        };
        self.seen.insert(name.to_os_string(), seen);
        (since, first, complete)
    }

    /// Whether a folder judged ready as `name`, now claimed at `dir`, still looks as it did
    /// then (names, sizes, mtimes): a writer that went on after the judgment — a pause
    /// longer than the settle window on a share without events — shows here. Forgets the
    /// folder either way (a folder put back is watched anew).
    pub fn unchanged_since_ready(
        &mut self,
        name: &OsStr,
        dir: &Path,
        max_entries: usize,
    ) -> SinceReady {
        let Some(seen) = self.seen.remove(name) else {
            return SinceReady::Unwatched;
        };
        match snapshot(dir, max_entries) {
            Ok(now) if now == seen.snap => SinceReady::Unchanged(now),
            _ => SinceReady::Changed,
        }
    }

    /// Forgets folders no longer in inbound.
    pub fn retain(&mut self, present: &[OsString]) {
        let present: HashSet<&OsStr> = present.iter().map(OsString::as_os_str).collect();
        self.seen.retain(|k, _| present.contains(k.as_os_str()));
    }
}

/// Folders in inbound one pass looks at (a bound on memory; the rest wait).
pub const MAX_INBOUND_FOLDERS: usize = 1_000_000;

/// Package folders in inbound (hidden names skipped), sorted, at most `max`.
pub fn scan_inbound(inbound: &Path, max: usize) -> Result<Vec<OsString>, SpoolError> {
    let mut names = Vec::new();
    for e in
        fs::read_dir(inbound).map_err(transient(format!("cannot read {}", inbound.display())))?
    {
        let Ok(e) = e else { continue };
        // names are bytes: VipNet on Linux may write them in cp1251 (claimed all the same)
        let name = e.file_name();
        if name.as_encoded_bytes().starts_with(b".") || !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if names.len() >= max {
            tracing::warn!(
                limit = max,
                "more folders in inbound than a pass looks at; the rest wait for later passes"
            );
            break;
        }
        names.push(name);
    }
    names.sort();
    Ok(names)
}

/// A fresh claim folder name (unique: time, pid, counter).
pub fn claim_name(counter: u64) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("c{nanos}-{}-{counter}", std::process::id())
}

/// Claims `inbound/<name>` by renaming it to `claimed/<claim>` (or, across filesystems, by
/// copy: [`crossing`]). Make a batch of claims durable with [`sync_claims`] before
/// journaling them.
pub fn claim(layout: &Layout, name: &OsStr, claim: &str) -> Result<PathBuf, SpoolError> {
    if layout.claim_by_copy {
        return crossing::claim(layout, name, claim);
    }
    let src = layout.inbound.join(name);
    let dst = layout.claimed.join(claim);
    fs::rename(&src, &dst).map_err(transient(format!("cannot claim {}", src.display())))?;
    Ok(dst)
}

/// Makes a batch of claims' renames (or copies) durable.
pub fn sync_claims(layout: &Layout) -> Result<(), SpoolError> {
    if layout.claim_by_copy {
        return crossing::sync_claims(layout);
    }
    layout.sync_shared(&[], &[layout.claimed.clone(), layout.inbound.clone()])
}

/// Makes written files and changed folders durable. On Linux one `syncfs` covers the whole
/// filesystem (group commit for a batch); elsewhere every file and folder is fsynced.
pub(crate) fn sync_batch(
    any: &Path,
    files: &[PathBuf],
    dirs: &[PathBuf],
) -> Result<(), SpoolError> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let _ = (files, dirs);
        let handle = File::open(any).map_err(fatal_sync(any))?;
        // SAFETY: syncfs takes a valid open file descriptor, which `handle` keeps open.
        if unsafe { libc::syncfs(handle.as_raw_fd()) } != 0 {
            return Err(SpoolError::Fatal {
                path: any.to_path_buf(),
                source: io::Error::last_os_error(),
            });
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = any;
        for f in files {
            File::open(f)
                .and_then(|f| f.sync_all())
                .map_err(fatal_sync(f))?;
        }
        for d in dirs {
            fsync_dir(d).map_err(fatal_sync(d))?;
        }
        Ok(())
    }
}

/// The package key: SHA-256 over the sorted `name\0sha256\n` lines of every file in the
/// folder, plus the file count and total bytes. Files are streamed, never held whole.
pub fn package_key(dir: &Path, max_files: usize) -> io::Result<(String, u64, u64)> {
    package_key_digests(dir, max_files, &mut 0).map(|k| (k.key, k.files, k.bytes))
}

/// A package key with what its read learnt of each file — so a package parsed right after
/// its claim is neither listed nor read nor hashed a second time
/// ([`medo_wire::package::read_package_known`]).
pub struct PackageKey {
    pub key: String,
    pub files: u64,
    pub bytes: u64,
    /// Each file's name as on disk and what its read found.
    pub read: Vec<(OsString, KnownFile)>,
    /// The listing held only regular files with UTF-8 names free of control characters, no
    /// more than `max_files`: it can stand for the reader's own.
    pub listing_complete: bool,
}

/// [`package_key`], keeping what it read of each file: the bytes of those the reader reads
/// whole are kept while `keep` (bytes, spent here) lasts.
pub fn package_key_digests(dir: &Path, max_files: usize, keep: &mut u64) -> io::Result<PackageKey> {
    // names as the bytes on disk (not UTF-8 ones included): every file is hashed
    let mut names: Vec<OsString> = Vec::new();
    let mut listing_complete = true;
    for e in fs::read_dir(dir)? {
        let e = e?;
        if names.len() >= max_files {
            listing_complete = false;
            break;
        }
        if e.file_type()?.is_file() {
            let name = e.file_name();
            listing_complete &= name
                .to_str()
                .is_some_and(|n| !n.chars().any(char::is_control));
            names.push(name);
        } else {
            listing_complete = false;
        }
    }
    names.sort();
    // 64 KiB: below malloc's mmap threshold (a 256 KiB buffer was mapped, faulted in and
    // unmapped again for every package)
    let mut hasher = FileHasher::new(64 * 1024);
    let mut key = Sha256::new();
    let mut bytes = 0;
    let mut read = Vec::with_capacity(names.len());
    for n in names {
        let file = known::read_for_key(dir, &n, *keep, &mut hasher)?;
        *keep -= file.bytes.as_ref().map_or(0, |b| b.len() as u64);
        bytes += file.size;
        key.update(n.as_encoded_bytes());
        key.update([0]);
        key.update(file.sha256.as_bytes());
        key.update(b"\n");
        read.push((n, file));
    }
    Ok(PackageKey {
        key: hex::encode(key.finalize()),
        files: read.len() as u64,
        bytes,
        read,
        listing_complete,
    })
}

/// Gives files of a claimed folder whose names are not UTF-8 — VipNet on Linux may write
/// them in windows-1251 — their windows-1251 reading as UTF-8 names, so they match the
/// envelope's entries (decoded the same way). A name that cannot be given (a control
/// character, a clash, too long in UTF-8) stays: the package is then quarantined with the
/// reason. Only ever on our own claimed copy; idempotent. Returns what was renamed: each
/// name as it was on disk and the name it has now.
pub fn normalize_names(dir: &Path) -> Vec<(OsString, String)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut renamed = Vec::new();
    for e in entries.filter_map(|e| e.ok()) {
        let raw = e.file_name();
        if raw.to_str().is_some() {
            continue;
        }
        let name = medo_wire::text::cp1251_name(raw.as_encoded_bytes());
        let plain = !name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\');
        let target = dir.join(&name);
        if plain && !target.exists() && fs::rename(e.path(), &target).is_ok() {
            renamed.push((raw, name));
        }
    }
    renamed
}

/// `reason.json` next to a quarantined package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub message: String,
    pub time: String,
    pub original_name: String,
    pub key: String,
    pub arrival: u64,
    pub header_uid: Option<String>,
}

/// A claimed folder's move to its resting place: `dest` (archive) or `dest/package` with
/// `dest/reason.json` (quarantine).
pub struct Move {
    pub claim: String,
    pub dest: PathBuf,
    pub reason: Option<Reason>,
}

impl Move {
    /// Where the folder rests (`dest`, or `dest/package` in quarantine).
    pub fn target(&self) -> PathBuf {
        if self.reason.is_some() {
            self.dest.join("package")
        } else {
            self.dest.clone()
        }
    }
}

/// Moves claimed folders to their resting places, group-committed: reason files written and
/// synced together, renames, then one fsync per touched folder. Idempotent: a move whose
/// claim is gone and whose target exists is already done; one whose claim is gone and whose
/// target does not exist was removed from outside — its index is returned (`vanished`).
pub fn file_away_all(layout: &Layout, moves: &[Move]) -> Result<Vec<usize>, SpoolError> {
    let mut written = Vec::new();
    let mut todo = Vec::new();
    let mut vanished = Vec::new();
    // most moves of a batch share their parent (the day's archive folder): made once
    let mut made: HashSet<PathBuf> = HashSet::new();
    for (i, m) in moves.iter().enumerate() {
        let src = layout.claimed.join(&m.claim);
        let target = m.target();
        if !src.exists() {
            if target.exists() {
                continue;
            }
            // removed from outside after we claimed it: nothing to move, and waiting would
            // stall every other package of the batch; the caller journals it as vanished
            vanished.push(i);
            continue;
        }
        let parent = target.parent().unwrap_or(&m.dest).to_path_buf();
        if !made.contains(&parent) {
            fs::create_dir_all(&parent)
                .map_err(transient(format!("cannot create {}", parent.display())))?;
            made.insert(parent.clone());
        }
        if let Some(r) = &m.reason {
            let tmp = m.dest.join(".reason.json.tmp");
            let body = serde_json::to_vec_pretty(r).expect("reasons serialise");
            fs::write(&tmp, body).map_err(transient(format!("cannot write {}", tmp.display())))?;
            written.push(tmp);
        }
        todo.push((src, target, parent));
    }
    if todo.is_empty() {
        return Ok(vanished);
    }
    if !written.is_empty() {
        layout.sync_shared(&written, &[])?;
        for tmp in &written {
            let dest = tmp.with_file_name("reason.json");
            fs::rename(tmp, &dest).map_err(transient("cannot write reason.json"))?;
        }
    }
    let mut dirs: Vec<PathBuf> = vec![layout.claimed.clone()];
    for (src, target, parent) in &todo {
        fs::rename(src, target).map_err(transient(format!(
            "cannot move {} to {}",
            src.display(),
            target.display()
        )))?;
        dirs.push(parent.clone());
        if let Some(grand) = parent.parent() {
            dirs.push(grand.to_path_buf());
        }
    }
    dirs.sort();
    dirs.dedup();
    layout.sync_shared(&[], &dirs)?;
    Ok(vanished)
}

/// The digest of an outbound package: SHA-256 over its sorted `name\0sha256` lines (like
/// package keys).
pub fn files_digest(files: &[(String, Vec<u8>)]) -> String {
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut key = Sha256::new();
    for (n, bytes) in sorted {
        key.update(n.as_bytes());
        key.update([0]);
        key.update(hex::encode(Sha256::digest(bytes)).as_bytes());
        key.update(b"\n");
    }
    hex::encode(key.finalize())
}

/// An outbound package to publish: its folder name and files (the envelope last).
pub struct Outgoing {
    pub name: String,
    pub files: Vec<(String, Vec<u8>)>,
}

/// Publishes outbound packages exactly once, group-committed:
/// 1. each is built in `tmp/<name>/`, and all their files are synced at once;
/// 2. an *intent* file `publishing/<batch>.intent` names each with its digest, durable:
///    from here on, "intent present, staged copy gone" means the package was renamed into
///    outbound — even if VipNet has taken it away since;
/// 3. each folder is renamed into outbound, and outbound is fsynced once.
///
/// The caller journals `published`, then removes the intents ([`forget_intents`]).
/// Idempotent after a crash at any point: a package in outbound, or with an intent and no
/// staged copy, was published (its digest read back, or from the intent); a staged copy with
/// an intent is complete (it was synced first) and is renamed now; anything else is built
/// again. Returns the digest of every package (published now or before).
pub fn publish_all(layout: &Layout, packages: &[Outgoing]) -> Result<Vec<String>, SpoolError> {
    let intents = read_intents(layout)?;
    let handover = Handover::of(&layout.outbound);
    let staging = layout.staging();
    let mut digests: Vec<Option<String>> = vec![None; packages.len()];
    let mut built = Vec::new();
    let mut renames = Vec::new();
    let (mut written, mut staged_dirs) = (Vec::new(), Vec::new());
    for (i, p) in packages.iter().enumerate() {
        let (tmp, dst) = (staging.join(&p.name), layout.outbound.join(&p.name));
        if dst.exists() {
            continue;
        }
        if let Some(d) = intents.get(&p.name) {
            if !tmp.exists() {
                digests[i] = Some(d.clone()); // renamed before a crash: published
                continue;
            }
            if staged_digest(&tmp, p).as_ref() == Some(d) {
                digests[i] = Some(d.clone()); // staged and synced before a crash
                renames.push((tmp, dst));
                continue;
            }
        }
        let digest = stage(p, &tmp, handover, &mut written)?;
        digests[i] = Some(digest.clone());
        built.push((p.name.clone(), digest));
        staged_dirs.push(tmp.clone());
        renames.push((tmp, dst));
    }
    if !built.is_empty() {
        let intent = stage_intents(layout, &built)?;
        staged_dirs.push(staging.clone());
        if layout.stage_in_outbound {
            crossing::sync_share(&written, &staged_dirs)?;
            layout.sync_shared(std::slice::from_ref(&intent), &[layout.publishing()])?;
        } else {
            written.push(intent.clone());
            staged_dirs.push(layout.publishing());
            layout.sync_shared(&written, &staged_dirs)?;
        }
        commit_intents(layout, &intent)?;
        medo_stdx::fault::point("after-publish-intents");
    }
    if !renames.is_empty() {
        for (tmp, dst) in &renames {
            fs::rename(tmp, dst).map_err(transient(format!(
                "cannot publish into {}",
                layout.outbound.display()
            )))?;
        }
        let dirs = [layout.outbound.clone(), staging.clone()];
        match layout.stage_in_outbound || layout.shared_apart() {
            true => crossing::sync_share(&[], &dirs)?,
            false => sync_batch(&layout.outbound, &[], &dirs)?,
        }
    }
    packages
        .iter()
        .zip(digests)
        .map(|(p, d)| match d {
            Some(d) => Ok(d),
            // published before (a replay): read back what is in outbound, not a re-rendering
            None => read_back(&layout.outbound.join(&p.name), p),
        })
        .collect()
}

/// Builds one package in `tmp` (files written, not yet synced); returns its digest. (A stale
/// intent for the same name is superseded: intent files are read oldest first.)
/// Modes and group are set here, explicitly, as VipNet needs them ([`Handover`]).
fn stage(
    p: &Outgoing,
    tmp: &Path,
    handover: Handover,
    written: &mut Vec<PathBuf>,
) -> Result<String, SpoolError> {
    fresh_dir(tmp)
        .and_then(|()| handover.folder(tmp))
        .map_err(transient(format!("cannot create {}", tmp.display())))?;
    for (file, bytes) in &p.files {
        let path = tmp.join(file);
        File::create(&path)
            .and_then(|mut f| {
                handover.file(&f)?;
                f.write_all(bytes)
            })
            .map_err(transient(format!("cannot write {}", path.display())))?;
        written.push(path);
    }
    Ok(files_digest(&p.files))
}

/// Creates `dir` empty: a leftover of an earlier try (a crash while staging) is removed first.
/// One `mkdir` when there is none — no look beforehand.
fn fresh_dir(dir: &Path) -> io::Result<()> {
    match fs::create_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_dir_all(dir)?;
            fs::create_dir(dir)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir_all(dir),
        done => done,
    }
}

/// The digest of a staged copy's files (named as the package names them), if readable.
fn staged_digest(tmp: &Path, p: &Outgoing) -> Option<String> {
    let files: Vec<(String, Vec<u8>)> = p
        .files
        .iter()
        .map(|(n, _)| fs::read(tmp.join(n)).map(|b| (n.clone(), b)))
        .collect::<Result<_, _>>()
        .ok()?;
    Some(files_digest(&files))
}

fn read_back(dst: &Path, p: &Outgoing) -> Result<String, SpoolError> {
    staged_digest(dst, p).ok_or_else(|| SpoolError::Transient {
        what: format!("cannot read back {}", dst.display()),
        source: io::Error::other("a file of the published package is unreadable"),
    })
}

/// The intents in `state_dir/publishing/`: package name → digest, from every `*.intent`
/// file (one per published batch: `name<TAB>digest` lines).
fn read_intents(layout: &Layout) -> Result<HashMap<String, String>, SpoolError> {
    let mut out = HashMap::new();
    for (_, lines) in intent_files(layout)? {
        out.extend(lines);
    }
    Ok(out)
}

/// Every intent file with its `(name, digest)` lines.
type IntentFile = (PathBuf, Vec<(String, String)>);

fn intent_files(layout: &Layout) -> Result<Vec<IntentFile>, SpoolError> {
    let dir = layout.publishing();
    let unreadable = |e: io::Error| SpoolError::Transient {
        what: format!("cannot read {}", dir.display()),
        source: e,
    };
    let entries = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(unreadable(e)),
    };
    let mut files = Vec::new();
    for e in entries.filter_map(|e| e.ok()) {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "intent") {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(unreadable)?;
        let lines = text
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(n, d)| (n.to_string(), d.to_string()))
            .collect();
        files.push((path, lines));
    }
    // oldest first (names begin with the time): a newer intent for a name supersedes
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// Writes the batch's intent file (`name<TAB>digest` per package) as `.tmp`, unsynced: the
/// sync of the staged packages makes it durable with them.
fn stage_intents(layout: &Layout, built: &[(String, String)]) -> Result<PathBuf, SpoolError> {
    let dir = layout.publishing();
    fs::create_dir_all(&dir).map_err(transient(format!("cannot create {}", dir.display())))?;
    let tmp = dir.join(format!("{}.tmp", claim_name(built.len() as u64)));
    let text: String = built.iter().map(|(n, d)| format!("{n}\t{d}\n")).collect();
    fs::write(&tmp, text).map_err(transient(format!("cannot write {}", tmp.display())))?;
    Ok(tmp)
}

/// Makes a staged intent valid — renamed to `.intent`, the folder fsynced — once the packages
/// and the intent's bytes are durable: an intent is either whole or absent, and never names a
/// package that is not durably staged.
fn commit_intents(layout: &Layout, staged: &Path) -> Result<(), SpoolError> {
    let path = staged.with_extension("intent");
    fs::rename(staged, &path).map_err(transient(format!("cannot create {}", path.display())))?;
    let dir = layout.publishing();
    medo_stdx::fsync_dir(&dir).map_err(fatal_sync(&dir))
}

/// Removes the intent files all of whose packages are in `done` (their `published` is
/// journaled). Not synced: a stale intent is removed at the next start ([`prune_intents`]).
pub fn forget_intents(layout: &Layout, done: &HashSet<String>) {
    let Ok(files) = intent_files(layout) else {
        return;
    };
    for (path, lines) in files {
        if lines.iter().all(|(n, _)| done.contains(n)) {
            let _ = fs::remove_file(path);
        }
    }
}

/// Removes intent files none of whose packages is still waiting to be published (a crash
/// after their `published` record) and unfinished `.tmp` ones; returns how many.
pub fn prune_intents(layout: &Layout, pending: &dyn Fn(&str) -> bool) -> usize {
    let Ok(files) = intent_files(layout) else {
        return 0;
    };
    let mut n = 0;
    for (path, lines) in files {
        if lines.iter().all(|(name, _)| !pending(name)) {
            let _ = fs::remove_file(path);
            n += 1;
        }
    }
    if let Ok(rd) = fs::read_dir(layout.publishing()) {
        for e in rd.filter_map(|e| e.ok()) {
            if e.path().extension().is_some_and(|x| x == "tmp") {
                let _ = fs::remove_file(e.path());
                n += 1;
            }
        }
    }
    n
}

/// Removes leftovers in `tmp/` and in the staging folder (builds interrupted by a crash;
/// they are rebuilt from the journal).
pub fn clean_tmp(layout: &Layout) -> io::Result<usize> {
    let mut n = clean_dir(layout, &layout.tmp)?;
    if layout.stage_in_outbound {
        match clean_dir(layout, &layout.staging()) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            done => n += done?,
        }
    }
    Ok(n)
}

fn clean_dir(layout: &Layout, dir: &Path) -> io::Result<usize> {
    // a staged copy with an intent is complete and about to be renamed: kept
    let intents = read_intents(layout).unwrap_or_default();
    let mut n = 0;
    for e in fs::read_dir(dir)? {
        let e = e?;
        if intents.contains_key(e.file_name().to_string_lossy().as_ref()) {
            continue;
        }
        let p = e.path();
        if p.is_dir() {
            fs::remove_dir_all(&p)?;
        } else {
            fs::remove_file(&p)?;
        }
        n += 1;
    }
    Ok(n)
}

/// Claimed folders (names), for recovery.
pub fn claimed(layout: &Layout) -> io::Result<Vec<String>> {
    let mut v: Vec<String> = fs::read_dir(&layout.claimed)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    v.sort();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 26 item 5: a folder judged ready, then written to (a writer that paused longer
    /// than the settle window), is told apart after the claim; an untouched one is not.
    #[test]
    fn a_folder_changed_after_it_was_judged_ready_is_told() {
        let root = tempfile::tempdir().unwrap();
        let spool = spool_config(root.path());
        let limits = Limits::default();
        for touched in [false, true] {
            let dir = root.path().join(format!("pkg-{touched}"));
            fs::create_dir_all(&dir).unwrap();
            write_envelope(&dir, &["a.pdf"]);
            fs::write(dir.join("a.pdf"), b"%PDF-1.4 first half").unwrap();
            let mut tracker = SettleTracker::default();
            let name = dir.file_name().unwrap().to_os_string();
            let judge = |t: &mut SettleTracker| {
                t.judge(&name, &dir, Instant::now(), (&spool, &limits), false)
            };
            assert_eq!(judge(&mut tracker), Verdict::Ready);
            if touched {
                let mut f = fs::OpenOptions::new()
                    .append(true)
                    .open(dir.join("a.pdf"))
                    .unwrap();
                f.write_all(b" and the second").unwrap();
            }
            let since = tracker.unchanged_since_ready(&name, &dir, 100);
            match touched {
                true => assert!(matches!(since, SinceReady::Changed), "{since:?}"),
                false => assert!(matches!(since, SinceReady::Unchanged(_)), "{since:?}"),
            }
        }
    }

    /// The kernel's word on a file still being written (issue 26 item 5): open for writing
    /// → busy; closed → not; a folder without files → not.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_open_for_writing_is_told_by_the_kernel() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(open_for_writing(dir.path(), 16), Some(false));
        let mut f = File::create(dir.path().join("big.pdf")).unwrap();
        f.write_all(b"%PDF-1.4 first chunk").unwrap();
        match open_for_writing(dir.path(), 16) {
            None => eprintln!("SKIPPED: file leases not available on this filesystem"),
            told => {
                assert_eq!(told, Some(true), "open for writing");
                drop(f);
                assert_eq!(open_for_writing(dir.path(), 16), Some(false), "closed");
            }
        }
    }

    fn spool_config(dir: &Path) -> SpoolConfig {
        SpoolConfig {
            inbound: dir.join("in"),
            outbound: dir.join("out"),
            state_dir: dir.join("state"),
            settle_ms: 0,
            rescan_secs: 60,
            incomplete_after_secs: 3600,
            max_batch: 16,
            outbound_stale_secs: 3600,
            min_free_bytes: 0,
            shared: false,
            shared_dir: None,
        }
    }

    fn write_envelope(dir: &Path, files: &[&str]) {
        let mut text = String::from("[ПИСЬМО КП ПС СЗИ]\r\nТЕМА=т\r\n[ФАЙЛЫ]\r\n");
        for (i, f) in files.iter().enumerate() {
            text.push_str(&format!("{i}={f}\r\n"));
        }
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&text);
        fs::write(dir.join("envelope.ini"), bytes).unwrap();
    }

    #[test]
    fn a_folder_judged_complete_is_looked_at_again_once_it_changes() {
        let root = tempfile::tempdir().unwrap();
        let spool = spool_config(root.path());
        let limits = Limits::default();
        let dir = root.path().join("pkg");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("document.xml"), b"<a/>").unwrap();
        write_envelope(&dir, &["document.xml"]);
        let mut tracker = SettleTracker::default();
        let judge = |t: &mut SettleTracker| {
            t.judge(
                OsStr::new("pkg"),
                &dir,
                Instant::now(),
                (&spool, &limits),
                false,
            )
        };
        assert_eq!(judge(&mut tracker), Verdict::Ready);
        // unchanged: still ready (from what was learnt)
        assert_eq!(judge(&mut tracker), Verdict::Ready);
        // the envelope now lists a file that is not there: incomplete again
        write_envelope(&dir, &["document.xml", "appeal.pdf"]);
        assert!(matches!(
            judge(&mut tracker),
            Verdict::Wait {
                settling: false,
                ..
            }
        ));
        fs::write(dir.join("appeal.pdf"), b"%PDF").unwrap();
        assert_eq!(judge(&mut tracker), Verdict::Ready);
    }

    /// What a package key read, as the parse right after the claim takes it.
    fn key_read(dir: &Path, keep: u64) -> (PackageKey, medo_wire::known::Known) {
        let mut budget = keep;
        let key = package_key_digests(dir, 1000, &mut budget).unwrap();
        let read = key.read.clone();
        let known = medo_wire::known::Known::from_read(read, key.listing_complete, &[]);
        (key, known)
    }

    /// A package the key read whole is parsed from what it read — the same package as a
    /// reading from disk gives, even with its files gone — and its key does not depend on
    /// what was kept. Without the budget to keep bytes, the parse reads the files again.
    #[test]
    fn a_package_the_key_read_is_parsed_without_reading_it_again() {
        use medo_wire::package::{read_package, read_package_known};
        let out = tempfile::tempdir().unwrap();
        let limits = Limits::default();
        for dir in medo_wire::samples::generate_for_test(out.path()) {
            let from_disk = read_package(&dir, &limits).unwrap();
            let (kept, known) = key_read(&dir, 16 << 20);
            let (plain, known_no_bytes) = key_read(&dir, 0);
            assert_eq!(kept.key, plain.key, "{}", dir.display());
            assert_eq!(kept.key, package_key(&dir, 1000).unwrap().0);
            assert!(known.listing.is_some() && known.files.values().all(|f| f.checked));
            assert!(known.files.values().any(|f| f.bytes.is_some()));
            for f in fs::read_dir(&dir).unwrap() {
                fs::remove_file(f.unwrap().path()).unwrap();
            }
            let parsed = read_package_known(&dir, &limits, &known);
            assert_eq!(parsed.as_ref(), Ok(&from_disk), "{}", dir.display());
            let again = read_package_known(&dir, &limits, &known_no_bytes);
            assert_eq!(again.unwrap_err().code(), "io", "{}", dir.display());
        }
    }

    /// What the reader refuses on disk it refuses after the key's read too: a file with a
    /// second name (a hard link), an entry that is not a regular file.
    #[test]
    fn what_the_key_read_does_not_vouch_for_is_checked_again() {
        use medo_wire::package::{read_package, read_package_known};
        let out = tempfile::tempdir().unwrap();
        let limits = Limits::default();
        let dirs = medo_wire::samples::generate_for_test(out.path());
        let dir = &dirs[0];
        let pdf = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "pdf"))
            .unwrap();
        fs::hard_link(&pdf, out.path().join("elsewhere.pdf")).unwrap();
        let on_disk = read_package(dir, &limits).unwrap_err().code();
        assert_eq!(on_disk, "unsafe-name");
        let (_, known) = key_read(dir, 16 << 20);
        assert!(!known.files.values().all(|f| f.checked));
        let after_key = read_package_known(dir, &limits, &known).unwrap_err().code();
        assert_eq!(after_key, on_disk);
        fs::remove_file(out.path().join("elsewhere.pdf")).unwrap();
        fs::create_dir(dir.join("sub")).unwrap();
        let on_disk = read_package(dir, &limits).unwrap_err().code();
        assert_eq!(on_disk, "not-regular-file");
        let (_, known) = key_read(dir, 16 << 20);
        assert_eq!(known.listing, None);
        let after_key = read_package_known(dir, &limits, &known).unwrap_err().code();
        assert_eq!(after_key, on_disk);
    }

    /// A staging folder is made empty whatever an earlier try left there, in one `mkdir` when
    /// nothing is there.
    #[test]
    fn a_staging_folder_is_made_empty_whatever_was_left() {
        let root = tempfile::tempdir().unwrap();
        let fresh = root.path().join("tmp/a");
        fresh_dir(&fresh).unwrap(); // its parent is made too
        fs::write(fresh.join("half-written.xml"), b"<").unwrap();
        fresh_dir(&fresh).unwrap();
        assert_eq!(
            fs::read_dir(&fresh).unwrap().count(),
            0,
            "the leftover is gone"
        );
        fs::write(root.path().join("tmp/file"), b"x").unwrap();
        assert!(
            fresh_dir(&root.path().join("tmp/file")).is_err(),
            "a file is not cleared"
        );
    }
}
