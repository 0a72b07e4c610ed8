//! Evidence off the box (`[audit]`): at every group commit the signed note of the journal —
//! its size and head, and the numbering it covers — is handed to a witness outside
//! `state_dir`: `witness_command` (run without a shell, the note on its standard input) and
//! `witness_dir` (one file per note, `<journal size>.note`, written once, never replaced: a
//! WORM share takes it). At start the journal is compared with the witness folder's newest
//! note of this state's recovery epoch, so a restored backup or a cut that took the local
//! anchor with it is refused (exit 2); `journal recover --from-witness` moves the
//! numbering past every number the witness saw and starts a new epoch.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use medo_config::AuditConfig;
use medo_store::checkpoint::{self, CheckpointError, Sequences};
use medo_store::JournalRead;

/// How long a witness command may take with one note.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// The witnesses configured, and this state's recovery epoch.
#[derive(Debug)]
pub struct Witness {
    command: Option<String>,
    dir: Option<PathBuf>,
    pub epoch: u64,
    /// Whether the last hand-over failed (warned once per episode; `/metrics` shows it).
    pub failing: bool,
}

/// Where this state's recovery epoch is kept: `state_dir/witness.epoch`.
pub fn epoch_path(state: &Path) -> PathBuf {
    state.join("witness.epoch")
}

impl Witness {
    /// The configured witnesses, in recovery `epoch` (the files backend keeps it in
    /// [`epoch_path`], the database in a row); `None` when there are none.
    pub fn new(audit: &AuditConfig, epoch: u64) -> Option<Witness> {
        if audit.witness_command.is_none() && audit.witness_dir.is_none() {
            return None;
        }
        Some(Witness {
            command: audit.witness_command.clone(),
            dir: audit.witness_dir.clone(),
            epoch,
            failing: false,
        })
    }

    /// The notes' origin: ours, with the epoch once there was a recovery from the witness.
    pub fn origin(&self, base: &str) -> String {
        match self.epoch {
            0 => base.to_string(),
            e => format!("{base}#{e}"),
        }
    }

    /// Hands one note to every witness; a failure is logged (once per episode), never fatal:
    /// the service goes on, `/metrics` says `medo_witness_failing 1`.
    pub fn hand(&mut self, note: &str, size: u64) {
        let mut problems = Vec::new();
        if let Some(dir) = &self.dir {
            if let Err(e) = write_once(dir, (size, self.epoch), note) {
                problems.push(format!("{}: {e}", dir.display()));
            }
        }
        if let Some(command) = &self.command {
            if let Err(e) = run_command(command, note) {
                problems.push(format!("{command}: {e}"));
            }
        }
        match (problems.is_empty(), self.failing) {
            (true, true) => tracing::info!("the witness takes the journal's notes again"),
            (false, false) => {
                tracing::error!(problems = %problems.join("; "), "the witness cannot take the journal's note (the service goes on)")
            }
            _ => {}
        }
        self.failing = !problems.is_empty();
    }

    /// The journal against the witness folder (if configured): refused when the witness saw
    /// more, or another head at the journal's size, or a later recovery epoch.
    pub fn check(
        &self,
        key: &ed25519_dalek::VerifyingKey,
        journal: &dyn JournalRead,
        records: u64,
    ) -> Result<(), CheckpointError> {
        let Some(dir) = &self.dir else { return Ok(()) };
        check_folder(dir, (key, self.epoch), journal, records)
    }
}

/// A journal of `records` records against the newest note of `epoch` in the witness folder
/// `dir` signed by `key` (what the start and `journal verify --witness` compare).
pub fn check_folder(
    dir: &Path,
    (key, epoch): (&ed25519_dalek::VerifyingKey, u64),
    journal: &dyn JournalRead,
    records: u64,
) -> Result<(), CheckpointError> {
    let newest = checkpoint::newest_witness_note(dir, key)?;
    checkpoint::check_witness(newest.as_slice(), epoch, records, |seq| {
        hash_at(journal, seq)
    })
}

/// The hash of record `seq` of `journal`.
pub fn hash_at(journal: &dyn JournalRead, seq: u64) -> Option<String> {
    journal
        .read_range(seq, seq + 1, 1)
        .ok()?
        .first()
        .map(|r| r.hash.clone())
}

/// The recovery epoch the files backend keeps in `state_dir` (0 before any recovery).
pub fn read_epoch(state: &Path) -> u64 {
    std::fs::read_to_string(epoch_path(state))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// The highest numbers each year that the witness's notes in `dir` cover (signed by `key`):
/// what a recovery from the witness moves the sequences past.
pub fn sequences_seen(
    dir: &Path,
    key: &ed25519_dalek::VerifyingKey,
) -> Result<Vec<Sequences>, CheckpointError> {
    type Whose = (Option<medo_model::BodyId>, i32);
    let mut seen: std::collections::BTreeMap<Whose, Sequences> = Default::default();
    for s in checkpoint::witness_notes(dir, key)?
        .into_iter()
        .flat_map(|n| n.sequences)
    {
        let e = seen
            .entry((s.body.clone(), s.year))
            .or_insert_with(|| s.clone());
        e.registered = e.registered.max(s.registered);
        e.outgoing = e.outgoing.max(s.outgoing);
    }
    Ok(seen.into_values().collect())
}

/// `<dir>/<journal size>.note` (`<size>.e<epoch>.note` after a recovery: the sizes start
/// over), written once: an existing note (the same commit handed again after a crash) is
/// left as it is.
fn write_once(dir: &Path, (size, epoch): (u64, u64), note: &str) -> std::io::Result<()> {
    let name = match epoch {
        0 => format!("{size}.note"),
        e => format!("{size}.e{e}.note"),
    };
    let path = dir.join(name);
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(mut f) => f.write_all(note.as_bytes()).and_then(|_| f.sync_all()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Why the witness command did not take a note (logged; the service goes on).
#[derive(Debug, thiserror::Error)]
enum CommandFailed {
    #[error("empty command")]
    Empty,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("exited with {0}")]
    Exit(std::process::ExitStatus),
    #[error("timed out")]
    TimedOut,
}

/// Runs the witness command (no shell: split on whitespace), the note on its standard input.
fn run_command(command: &str, note: &str) -> Result<(), CommandFailed> {
    let mut parts = command.split_whitespace();
    let program = parts.next().ok_or(CommandFailed::Empty)?;
    let mut child = std::process::Command::new(program)
        .args(parts)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(note.as_bytes());
    }
    match super::child::wait_or_kill(&mut child, COMMAND_TIMEOUT)? {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(CommandFailed::Exit(s)),
        None => Err(CommandFailed::TimedOut),
    }
}
