//! What an operator accepts as lost next to a non-empty journal: the anchor
//! (`anchor.note`), the checkpoint key or the PIN key. Without that word the service refuses
//! to start (exit 2) rather than make them anew — a journal cut together with its anchor
//! would otherwise give numbers a second time, a new checkpoint key would sign over a
//! journal nobody vouched for, a new PIN key would change every applicant's PIN.
//! `journal recover --accept-missing …` writes `state_dir/recover.json`; the next start
//! reads it, makes only what was accepted, journals `journal_recovered` (who, why, what) and
//! removes it. Touches only that file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A piece of the state that may be accepted as lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Piece {
    /// `anchor.note`: the signed size and head of the journal at its last group commit.
    Anchor,
    /// `checkpoint.key`: the Ed25519 key checkpoints and anchors are signed with.
    CheckpointKey,
    /// `pin.key`: the secret applicants' PINs derive from (every PIN changes).
    PinKey,
}

impl Piece {
    /// Its name in the journal and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Piece::Anchor => "anchor",
            Piece::CheckpointKey => "checkpoint-key",
            Piece::PinKey => "pin-key",
        }
    }
}

/// An operator's acceptance, waiting for the next start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub missing: Vec<Piece>,
    pub comment: String,
    pub operator: Option<String>,
    /// A restore: continue with the numbering moved past every number the witness in this
    /// folder saw (`journal recover --from-witness DIR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_witness: Option<PathBuf>,
}

impl Accepted {
    /// Whether `piece` was accepted as lost.
    pub fn covers(accepted: Option<&Accepted>, piece: Piece) -> bool {
        accepted.is_some_and(|a| a.missing.contains(&piece))
    }
}

/// Where the acceptance waits.
pub fn path(state: &Path) -> PathBuf {
    state.join("recover.json")
}

/// Records an acceptance for the next start (replacing an earlier one not yet taken).
pub fn accept(state: &Path, accepted: &Accepted) -> std::io::Result<PathBuf> {
    let path = path(state);
    let tmp = state.join(".recover.json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(accepted).expect("serialises"),
    )?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// The acceptance waiting, if any (an unreadable file is none: nothing is accepted by it).
pub fn waiting(state: &Path) -> Option<Accepted> {
    let bytes = std::fs::read(path(state)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Removes the acceptance once journaled.
pub fn taken(state: &Path) {
    let _ = std::fs::remove_file(path(state));
}

/// The set-up error for `piece` missing next to a journal of `records` records.
pub fn refusal(piece: Piece, file: &Path, records: u64, why: &str) -> String {
    format!(
        "{} {why}, а журнал не пуст ({records} записей): служба не запускается (молча он не создаётся заново). Восстановите его из резервной копии или, если он действительно утрачен, примите утрату командой `medo-gateway journal recover --accept-missing {} --comment \"почему\"` (записывается в журнал; docs/OPERATIONS.md, «Missing anchor or keys»)",
        file.display(),
        piece.name()
    )
}
