//! Operator commands that change state (`appeals register`, `appeals refuse`) travel through a
//! queue folder, `state_dir/control/`, so they work whether or not the service is running:
//! the CLI drops a command file (written to a temporary name, then renamed), and the gateway
//! applies it on its next pass — journal first, then the notice is published. A command that
//! cannot be applied is moved to `control/rejected/` with the reason; one the process kept
//! dying on ([`POISON_AFTER`] times) to `control/poisoned/`.
//! Touches only `state_dir/control/`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A command for the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// Register an appeal that waits for an operator (optionally under a given number).
    /// `force` registers it although a refusal rule applies, `comment` says why; `operator`
    /// is who asked (the login of the CLI's user).
    Register {
        id: String,
        number: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        force: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator: Option<String>,
        /// The registration date (`YYYY-MM-DD`) when the СЭД registered it earlier than now.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        date: Option<String>,
    },
    /// Refuse it with one of the nine official reasons.
    Refuse {
        id: String,
        reason: String,
        comment: Option<String>,
        /// Who asked (as for `Register`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator: Option<String>,
    },
    /// A step of consideration reported by the SED (executor, extension, redirect, answer);
    /// `operator`: who reported it (as for `Register`).
    Progress {
        id: String,
        step: Step,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator: Option<String>,
    },
    /// `spool retry` moved a quarantined arrival's package back into inbound as `to`: journal
    /// it (operators' actions are part of the record).
    Retried { arrival: u64, to: String },
    /// Redirect by competence within a region's hub (`appeals redirect`): `to` is a body's
    /// id (or `body:ID`).
    Redirect {
        id: String,
        to: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator: Option<String>,
    },
    /// A document of ours waiting for approval is approved (`documents approve`): `document`
    /// is its message uid or our outgoing number.
    Approve {
        document: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator: Option<String>,
    },
    /// A hub's package held for no body (`unrouted`) is for `body` (`appeals assign`):
    /// decide it as that body's.
    Assign {
        arrival: u64,
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator: Option<String>,
    },
}

impl Command {
    /// The appeal the command is about (any of its numbers).
    pub fn id(&self) -> &str {
        match self {
            Command::Register { id, .. }
            | Command::Refuse { id, .. }
            | Command::Progress { id, .. }
            | Command::Redirect { id, .. } => id,
            Command::Approve { document, .. } => document,
            Command::Retried { .. } | Command::Assign { .. } => "",
        }
    }

    /// The same command about the appeal `id` (the internal id the CLI resolved a number to).
    pub fn about(self, id: String) -> Command {
        match self {
            Command::Register {
                number,
                force,
                comment,
                operator,
                date,
                ..
            } => Command::Register {
                id,
                number,
                force,
                comment,
                operator,
                date,
            },
            Command::Refuse {
                reason,
                comment,
                operator,
                ..
            } => Command::Refuse {
                id,
                reason,
                comment,
                operator,
            },
            Command::Progress { step, operator, .. } => Command::Progress { id, step, operator },
            Command::Redirect {
                to,
                comment,
                operator,
                ..
            } => Command::Redirect {
                id,
                to,
                comment,
                operator,
            },
            other => other,
        }
    }

    /// What it asks, as its file names it (`register`, `refuse`, `progress`, `retried`).
    pub fn op(&self) -> &'static str {
        match self {
            Command::Register { .. } => "register",
            Command::Refuse { .. } => "refuse",
            Command::Progress { .. } => "progress",
            Command::Retried { .. } => "retried",
            Command::Assign { .. } => "assign",
            Command::Redirect { .. } => "redirect",
            Command::Approve { .. } => "approve",
        }
    }
}

/// A step of consideration as a command file carries it — its own type: the file format can
/// change without changing the hashed journal format (`model::Step`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    ExecutorAssigned {
        executor: String,
        post: Option<String>,
    },
    /// `file`: the extension letter, an attachment reference (as for `Answered`).
    Extended {
        until: String,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
    /// `file`: the redirect letter, an attachment reference (as for `Answered`).
    Redirected {
        to: String,
        sstu_id: Option<String>,
        number: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
    /// `file`: an attachment reference (`<stem>/<name>` under `control/files/`, made by
    /// [`attach`]) — never a host path.
    Answered {
        result: String,
        file: Option<String>,
    },
}

impl Step {
    /// The attached file (answer, extension or redirect letter), if any.
    pub fn file(&self) -> Option<&String> {
        match self {
            Step::Extended { file, .. }
            | Step::Redirected { file, .. }
            | Step::Answered { file, .. } => file.as_ref(),
            Step::ExecutorAssigned { .. } => None,
        }
    }

    /// The same step carrying the attachment `reference`; `Err` for a step that takes none.
    pub fn with_file(mut self, reference: String) -> Result<Step, Step> {
        match &mut self {
            Step::Extended { file, .. }
            | Step::Redirected { file, .. }
            | Step::Answered { file, .. } => {
                *file = Some(reference);
                Ok(self)
            }
            Step::ExecutorAssigned { .. } => Err(self),
        }
    }

    /// The name a step's file is kept under in `answers/<appeal>/` (an answer by its own
    /// name, as ССТУ.РФ exports it; the letters prefixed: each step's file kept apart).
    pub fn kept_name(&self, name: &str) -> String {
        match self {
            Step::Extended { .. } => format!("extension-{name}"),
            Step::Redirected { .. } => format!("redirect-{name}"),
            _ => name.to_string(),
        }
    }
}

impl From<Step> for medo_model::Step {
    fn from(s: Step) -> Self {
        use medo_model::Step as M;
        match s {
            Step::ExecutorAssigned { executor, post } => M::ExecutorAssigned { executor, post },
            Step::Extended { until, reason, .. } => M::Extended { until, reason },
            Step::Redirected {
                to,
                sstu_id,
                number,
                ..
            } => M::Redirected {
                to,
                sstu_id,
                number,
                to_body: None,
                as_appeal: None,
                comment: None,
            },
            Step::Answered { result, file } => M::Answered { result, file },
        }
    }
}

/// The results an answer may have (the model's vocabulary).
pub use medo_model::{result, RESULTS};

/// The queue folder.
pub fn dir(state: &Path) -> PathBuf {
    state.join("control")
}

/// A name unique on this host, in time order: nanoseconds and the process id.
fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{nanos:020}-{}", std::process::id())
}

/// Queues a command; returns its file.
pub fn submit(state: &Path, command: &Command) -> io::Result<PathBuf> {
    submit_named(state, command, &unique_name())
}

/// A queue file name (without `.json`) for a command whose id is `id` (an API client's
/// idempotency key): queue order (time first), and the id after `~` — the id journaled, so a
/// repeated request never applies twice.
pub fn keyed_name(id: &str) -> String {
    format!("{}~{id}", unique_name())
}

/// Queues a command under the file name `name` (`.json` added); returns its file.
pub fn submit_named(state: &Path, command: &Command, name: &str) -> io::Result<PathBuf> {
    let dir = dir(state);
    fs::create_dir_all(&dir)?;
    let name = format!("{name}.json");
    let tmp = dir.join(format!(".{name}.tmp"));
    fs::write(
        &tmp,
        serde_json::to_vec_pretty(command).expect("commands serialise"),
    )?;
    let path = dir.join(name);
    fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Why a file could not be attached to a command, or an attachment not found — in words for
/// the operator or the СЭД (never a host path of ours: an API client reads it).
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The operator's file could not be read (the CLI names it).
    #[error("{}", medo_stdx::words::io(.0))]
    Unreadable(io::Error),
    #[error("не обычный файл")]
    NotRegular,
    #[error("{size} байт, больше предела {max} (limits.max_answer_bytes)")]
    TooLarge { size: u64, max: u64 },
    #[error("больше предела {max} байт (limits.max_answer_bytes)")]
    OverLimit { max: u64 },
    #[error("нет пригодного имени файла")]
    NoName,
    /// The caller's check refused the bytes (not a PDF that reads).
    #[error("{0}")]
    Refused(String),
    #[error("{0:?}: нужно простое имя файла")]
    NotPlain(String),
    #[error("файл {name:?} не сохранён: {}", medo_stdx::words::io(source))]
    NotKept { name: String, source: io::Error },
    #[error("{0:?}: файл ответа передаётся приложением к команде (путь не принимается)")]
    APath(String),
    #[error("{0:?}: не ссылка на приложенный файл")]
    NotAReference(String),
    #[error("{0:?}: приложенный файл — не обычный файл")]
    NotRegularAttachment(String),
    #[error("{reference:?}: {}", medo_stdx::words::io(source))]
    Gone {
        reference: String,
        source: io::Error,
    },
}

/// Attaches an operator's file to the queue: the CLI copies the regular file (read with the
/// operator's own rights, at most `max` bytes, that `check` accepts — the caller passes the
/// PDF check, `pdf::inspect`: the spool reads no PDFs) into `control/files/<stem>/<name>`; the
/// command names only the reference `<stem>/<name>` — never a host path, so the service never
/// opens a path it was given. Returns the reference.
pub fn attach<E: std::fmt::Display>(
    state: &Path,
    file: &Path,
    max: u64,
    check: impl FnOnce(&[u8]) -> Result<(), E>,
) -> Result<String, AttachError> {
    let meta = fs::metadata(file).map_err(AttachError::Unreadable)?;
    if !meta.is_file() {
        return Err(AttachError::NotRegular);
    }
    if meta.len() > max {
        return Err(AttachError::TooLarge {
            size: meta.len(),
            max,
        });
    }
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.chars().any(char::is_control))
        .ok_or(AttachError::NoName)?;
    let mut bytes = Vec::new();
    fs::File::open(file)
        .and_then(|f| io::Read::read_to_end(&mut io::Read::take(f, max + 1), &mut bytes))
        .map_err(AttachError::Unreadable)?;
    // what is not a readable PDF never reaches the queue (the service checks again)
    check(&bytes).map_err(|e| AttachError::Refused(e.to_string()))?;
    attach_from(state, &name, &bytes[..], max)
}

/// Attaches bytes sent in a request body under `name` (a plain file name), at most `max`.
pub fn attach_bytes(
    state: &Path,
    name: &str,
    bytes: &[u8],
    max: u64,
) -> Result<String, AttachError> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\');
    if !plain {
        return Err(AttachError::NotPlain(name.to_string()));
    }
    attach_from(state, name, bytes, max)
}

/// Copies at most `max` bytes from `src` into `control/files/<stem>/<name>`; the reference.
fn attach_from(
    state: &Path,
    name: &str,
    src: impl io::Read,
    max: u64,
) -> Result<String, AttachError> {
    let stem = unique_name();
    let dir = dir(state).join("files").join(&stem);
    // the error says what went wrong, never where: no host path reaches an API client
    let kept = |source: io::Error| {
        let _ = fs::remove_dir_all(&dir);
        AttachError::NotKept {
            name: name.to_string(),
            source,
        }
    };
    fs::create_dir_all(&dir).map_err(kept)?;
    let mut dst = fs::File::create(dir.join(name)).map_err(kept)?;
    let copied = io::copy(&mut src.take(max + 1), &mut dst).map_err(kept)?;
    if copied > max {
        let _ = fs::remove_dir_all(&dir);
        return Err(AttachError::OverLimit { max });
    }
    Ok(format!("{stem}/{name}"))
}

/// The attached file a reference names: `<stem>/<name>` under `control/files/`, a regular
/// file (not a link); anything else — an absolute path above all — is refused.
pub fn attached(state: &Path, reference: &str) -> Result<PathBuf, AttachError> {
    let mut parts = reference.split('/');
    let (Some(stem), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(AttachError::APath(reference.to_string()));
    };
    let plain = |p: &str| !p.is_empty() && p != "." && p != ".." && !p.contains('\\');
    if !plain(stem) || !plain(name) {
        return Err(AttachError::NotAReference(reference.to_string()));
    }
    let path = dir(state).join("files").join(stem).join(name);
    match fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => Ok(path),
        Ok(_) => Err(AttachError::NotRegularAttachment(reference.to_string())),
        Err(source) => Err(AttachError::Gone {
            reference: reference.to_string(),
            source,
        }),
    }
}

/// Removes an attachment (its command was applied and the file kept, or rejected).
pub fn detach(state: &Path, reference: &str) {
    if let Some((stem, _)) = reference.split_once('/') {
        if !stem.is_empty() && stem != "." && stem != ".." {
            let _ = fs::remove_dir_all(dir(state).join("files").join(stem));
        }
    }
}

/// A queued command's id: its file's name without `.json` (unique: time and process id),
/// journaled with what the command did.
pub fn command_id(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match stem.split_once('~') {
        Some((_, id)) if !id.is_empty() => id.to_string(),
        _ => stem,
    }
}

/// The largest command file read (a command is a few hundred bytes; its file travels
/// beside it, in `files/`): a bigger one is rejected unread.
pub const MAX_COMMAND_BYTES: u64 = 64 * 1024;

/// Queued commands in order (bounded: at most `max`, each at most [`MAX_COMMAND_BYTES`]).
pub fn pending(state: &Path, max: usize) -> Vec<(PathBuf, Result<Command, Unparsed>)> {
    let Ok(rd) = fs::read_dir(dir(state)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|x| x == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files.truncate(max);
    files
        .into_iter()
        .map(|p| {
            let parsed = read_bounded(&p)
                .and_then(|b| serde_json::from_slice(&b).map_err(Unparsed::NotACommand));
            (p, parsed)
        })
        .collect()
}

/// Why a queued file is not a command (its words go into `rejected/`).
#[derive(Debug, thiserror::Error)]
pub enum Unparsed {
    #[error("файл команды не читается: {}", medo_stdx::words::io(.0))]
    Read(io::Error),
    #[error("файл команды больше {} КиБ", MAX_COMMAND_BYTES / 1024)]
    TooLarge,
    #[error("не команда: {0}")]
    NotACommand(serde_json::Error),
}

/// A command file's bytes, if it is not larger than [`MAX_COMMAND_BYTES`].
fn read_bounded(path: &Path) -> Result<Vec<u8>, Unparsed> {
    use std::io::Read;
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_COMMAND_BYTES + 1).read_to_end(&mut bytes))
        .map_err(Unparsed::Read)?;
    match bytes.len() as u64 > MAX_COMMAND_BYTES {
        true => Err(Unparsed::TooLarge),
        false => Ok(bytes),
    }
}

/// How many times the process stopped while carrying out a command before one is set aside
/// as poisoned: a stop or two can be a kill or a power cut; the third in a row is the
/// command itself (a file that crashes a parser) — never retried into a crash loop.
pub const POISON_AFTER: u32 = 3;

/// The marker of a command being carried out: `control/attempts/<file name>`, holding how
/// many times it was begun. It outlives a crash of the process (it is in the page cache; a
/// power cut may lose it, and then the command is simply tried again).
fn attempts_marker(path: &Path) -> Option<PathBuf> {
    Some(path.parent()?.join("attempts").join(path.file_name()?))
}

/// An attempt at a command, noted in its marker while it runs. Given back when the attempt
/// ends by returning — done, rejected, or an error the loop retries — so only a stop of
/// the process counts: an abort (no destructor runs) or a panic (the destructor sees it).
pub struct Attempt {
    marker: Option<PathBuf>,
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let Some(marker) = self.marker.take() else {
            return;
        };
        if std::thread::panicking() {
            return;
        }
        let Ok(text) = fs::read_to_string(&marker) else {
            return;
        };
        match text.trim().parse::<u32>().unwrap_or(1) {
            0 | 1 => {
                let _ = fs::remove_file(&marker);
            }
            n => {
                let _ = fs::write(&marker, (n - 1).to_string());
            }
        }
    }
}

/// Notes that the command in `path` is being carried out; returns how many earlier
/// attempts stopped the process before it was done or rejected, and the attempt.
pub fn begin(path: &Path) -> (u32, Attempt) {
    let Some(marker) = attempts_marker(path) else {
        return (0, Attempt { marker: None });
    };
    let before: u32 = fs::read_to_string(&marker)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    let _ = marker.parent().map(fs::create_dir_all);
    if let Err(e) = fs::write(&marker, (before + 1).to_string()) {
        tracing::warn!(error = %e, "cannot note a command's attempt");
    }
    (
        before,
        Attempt {
            marker: Some(marker),
        },
    )
}

/// Forgets the attempts of the command in `path` (done, rejected or set aside).
fn forget_attempts(path: &Path) {
    if let Some(marker) = attempts_marker(path) {
        let _ = fs::remove_file(marker);
    }
}

/// Marks a command done (removes its file).
pub fn done(path: &Path) {
    let _ = fs::remove_file(path);
    forget_attempts(path);
}

/// Moves a command that stopped the process [`POISON_AFTER`] times to `poisoned/`, with
/// why next to it (`<name>.error.txt`); it is never tried again.
pub fn poison(path: &Path, why: &str) {
    set_aside(path, "poisoned", why);
}

/// Moves a command to `<folder>/` beside the queue with its reason next to it.
fn set_aside(path: &Path, folder: &str, why: &str) {
    let Some(parent) = path.parent() else { return };
    let aside = parent.join(folder);
    let _ = fs::create_dir_all(&aside);
    if let Some(name) = path.file_name() {
        let target = aside.join(name);
        let _ = fs::rename(path, &target);
        let _ = fs::write(target.with_extension("error.txt"), why);
    }
    forget_attempts(path);
}

/// Names of the commands set aside as poisoned (unsorted; one directory read, no contents).
fn poisoned_names(folder: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(folder) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect()
}

/// How many commands are set aside as poisoned (for the metrics on every pass: reads no reasons).
pub fn poisoned_count(state: &Path) -> usize {
    poisoned_names(&dir(state).join("poisoned")).len()
}

/// Commands set aside as poisoned: (queue file name, reason), newest last (bounded).
pub fn poisoned(state: &Path, max: usize) -> Vec<(String, String)> {
    let folder = dir(state).join("poisoned");
    let mut names = poisoned_names(&folder);
    names.sort();
    let skip = names.len().saturating_sub(max);
    names
        .into_iter()
        .skip(skip)
        .map(|n| {
            let why =
                fs::read_to_string(folder.join(&n).with_extension("error.txt")).unwrap_or_default();
            (n, why)
        })
        .collect()
}

/// Moves a command to `rejected/` with its reason next to it.
pub fn reject(path: &Path, why: &str) {
    set_aside(path, "rejected", why);
}

/// What became of a submitted command: `None` while queued, else `Ok` or the rejection.
pub fn outcome(path: &Path) -> Option<Result<(), String>> {
    if path.exists() {
        return None;
    }
    for folder in ["rejected", "poisoned"] {
        let aside = path.parent()?.join(folder).join(path.file_name()?);
        if aside.exists() {
            return Some(Err(
                fs::read_to_string(aside.with_extension("error.txt")).unwrap_or_default()
            ));
        }
    }
    Some(Ok(()))
}

/// Where a queued command waits (files: its path in `control/`), opaque to the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket(PathBuf);

impl std::fmt::Display for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.display())
    }
}

/// A command as the loop takes it from the queue: where it waits, its id (journaled with
/// what it did), the command or why it does not read.
#[derive(Debug)]
pub struct Queued {
    pub ticket: Ticket,
    pub id: String,
    pub command: Result<Command, Unparsed>,
}

/// The operator command queue as the loop carries it out (the seam of issue 27: files in
/// `control/` today — [`Folder`]; a table when the commands live in the database). The
/// submitting side (the CLI, the API) writes into the same folder through [`submit`].
pub trait Queue {
    /// At most `max` queued commands, oldest first.
    fn pending(&self, max: usize) -> Vec<Queued>;
    /// Notes an attempt: how many earlier attempts stopped the process, and the attempt,
    /// given back when it returns.
    fn begin(&self, ticket: &Ticket) -> (u32, Attempt);
    /// Carried out (journaled): off the queue.
    fn done(&self, ticket: &Ticket);
    /// Does not apply: set aside with why (the submitter reads it as the outcome).
    fn reject(&self, ticket: &Ticket, why: &str);
    /// Stopped the process [`POISON_AFTER`] times: set aside, never tried again.
    fn poison(&self, ticket: &Ticket, why: &str);
    /// How many are set aside as poisoned.
    fn poisoned_count(&self) -> usize;
    /// The file a command's `reference` names (an answer, a letter), checked.
    fn attached(&self, reference: &str) -> Result<PathBuf, AttachError>;
    /// Removes the file a command carried, once the command is settled.
    fn detach(&self, reference: &str);
}

/// The queue in `state_dir/control/`.
#[derive(Debug, Clone)]
pub struct Folder {
    state: PathBuf,
}

impl Folder {
    /// The queue of the state folder `state`.
    pub fn new(state: impl Into<PathBuf>) -> Folder {
        Folder {
            state: state.into(),
        }
    }
}

impl Queue for Folder {
    fn pending(&self, max: usize) -> Vec<Queued> {
        pending(&self.state, max)
            .into_iter()
            .map(|(path, command)| Queued {
                id: command_id(&path),
                ticket: Ticket(path),
                command,
            })
            .collect()
    }
    fn begin(&self, ticket: &Ticket) -> (u32, Attempt) {
        begin(&ticket.0)
    }
    fn done(&self, ticket: &Ticket) {
        done(&ticket.0)
    }
    fn reject(&self, ticket: &Ticket, why: &str) {
        reject(&ticket.0, why)
    }
    fn poison(&self, ticket: &Ticket, why: &str) {
        poison(&ticket.0, why)
    }
    fn poisoned_count(&self) -> usize {
        poisoned_count(&self.state)
    }
    fn attached(&self, reference: &str) -> Result<PathBuf, AttachError> {
        attached(&self.state, reference)
    }
    fn detach(&self, reference: &str) {
        detach(&self.state, reference)
    }
}

#[cfg(test)]
mod attempt_tests {
    use super::*;

    /// Only a stop of the process counts: an attempt that returns (done, rejected, an error
    /// retried) is given back; one the process never came back from (here: its guard
    /// forgotten, as an abort would) counts.
    #[test]
    fn only_attempts_the_process_died_in_count() {
        let state = tempfile::tempdir().unwrap();
        let path = submit(
            state.path(),
            &Command::Refuse {
                id: "1".into(),
                reason: "Отсутствует текст".into(),
                comment: None,
                operator: None,
            },
        )
        .unwrap();
        for _ in 0..5 {
            let (earlier, attempt) = begin(&path);
            assert_eq!(earlier, 0, "returned attempts are given back");
            drop(attempt);
        }
        for stopped in 0..2 {
            let (earlier, attempt) = begin(&path);
            assert_eq!(earlier, stopped);
            std::mem::forget(attempt); // the process died inside it
        }
        let (earlier, _attempt) = begin(&path);
        assert_eq!(earlier, 2);
        done(&path);
        assert!(
            !attempts_marker(&path).unwrap().exists(),
            "done forgets them"
        );
    }

    /// The queue as the loop sees it (the [`Queue`] trait over the folder): oldest first,
    /// bounded in count and in each file's size, a settled command off the queue with its
    /// outcome for the submitter.
    #[test]
    fn the_folder_queue_hands_out_commands_oldest_first_within_bounds() {
        let state = tempfile::tempdir().unwrap();
        let refuse = |id: &str| Command::Refuse {
            id: id.into(),
            reason: "Отсутствует текст".into(),
            comment: None,
            operator: None,
        };
        let first = submit_named(state.path(), &refuse("1"), "1~a").unwrap();
        let second = submit_named(state.path(), &refuse("2"), "2~b").unwrap();
        // a file far larger than any command is rejected unread
        let big = dir(state.path()).join("3~c.json");
        fs::write(&big, vec![b' '; MAX_COMMAND_BYTES as usize + 1]).unwrap();
        let queue = Folder::new(state.path());
        let taken = queue.pending(2);
        let ids: Vec<&str> = taken.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"], "oldest first, at most two");
        assert!(matches!(&taken[0].command, Ok(Command::Refuse { id, .. }) if id == "1"));
        let all = queue.pending(10);
        let too_big = all[2].command.as_ref().unwrap_err();
        assert!(matches!(too_big, Unparsed::TooLarge), "{too_big:?}");
        assert_eq!(too_big.to_string(), "файл команды больше 64 КиБ");
        queue.done(&taken[0].ticket);
        queue.reject(&taken[1].ticket, "нет такого обращения");
        assert_eq!(outcome(&first), Some(Ok(())));
        assert_eq!(outcome(&second), Some(Err("нет такого обращения".into())));
        assert_eq!(queue.pending(10).len(), 1);
        queue.poison(&all[2].ticket, "stops");
        assert_eq!((queue.poisoned_count(), queue.pending(10).len()), (1, 0));
    }
}
