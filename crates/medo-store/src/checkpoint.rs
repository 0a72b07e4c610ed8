//! Signed journal checkpoints: every `checkpoint_every` records and at clean shutdown the
//! gateway signs (Ed25519) a short note naming the journal's size and head hash, in
//! `journal/checkpoints/<size>.note`. An auditor holding the public key checks each note's
//! signature and that the journal still has that head at that size — so rewriting history
//! before a checkpoint is detected even if the chain is recomputed.
//! Touches only `state_dir/checkpoint.key` and `journal/checkpoints/`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::journal;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why a checkpoint, the anchor or a witness note could not be written, read or trusted —
/// in words for the administrator (the start refuses with them, `journal verify` prints them).
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{}: {}", path.display(), medo_stdx::words::io(source))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: не ключ Ed25519 (нужно 32 байта)", .0.display())]
    NotAKey(PathBuf),
    #[error("открытый ключ: не ключ Ed25519 в base64")]
    PublicKey,
    #[error("в журнале {records} записей, а его подписанная контрольная точка {note} говорит о {size}: записи удалены с конца журнала или восстановлена более старая копия")]
    Shorter {
        records: u64,
        note: String,
        size: u64,
    },
    #[error("запись журнала {seq} — не та, что названа в его подписанной контрольной точке {note}: журнал переписан или подменён")]
    Rewritten { seq: u64, note: String },
    #[error("у свидетеля есть записи эпохи восстановления {later}, а это состояние эпохи {epoch}: восстановлена более старая папка state_dir")]
    LaterEpoch { later: u64, epoch: u64 },
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
}

/// What is wrong with a note's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoteProblem {
    #[error("не запись контрольной точки")]
    NotANote,
    #[error("нет подписи")]
    Unsigned,
    #[error("подпись не сходится с этим открытым ключом")]
    OtherKey,
    #[error("повреждённое содержимое")]
    Damaged,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The signing key, created (32 random bytes, mode 0600) the first time.
pub fn load_or_create_key(path: &Path) -> Result<SigningKey, CheckpointError> {
    if let Ok(bytes) = fs::read(path) {
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CheckpointError::NotAKey(path.to_path_buf()))?;
        return Ok(SigningKey::from_bytes(&arr));
    }
    let seed: Vec<u8> = uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .chain(uuid::Uuid::new_v4().as_bytes())
        .copied()
        .collect();
    let arr: [u8; 32] = seed.as_slice().try_into().expect("two UUIDs are 32 bytes");
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(io(path))?;
    f.write_all(&arr)
        .and_then(|_| f.sync_all())
        .map_err(io(path))?;
    Ok(SigningKey::from_bytes(&arr))
}

/// Reads the key (never makes one): `journal verify` on a host without it says so.
pub fn load_key(path: &Path) -> Result<SigningKey, CheckpointError> {
    let bytes = fs::read(path).map_err(io(path))?;
    let arr: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| CheckpointError::NotAKey(path.to_path_buf()))?;
    Ok(SigningKey::from_bytes(&arr))
}

/// The public key as one line of base64 (what auditors keep).
pub fn public_key_line(key: &SigningKey) -> String {
    B64.encode(key.verifying_key().to_bytes())
}

fn body(origin: &str, size: u64, head: &str) -> String {
    format!("{origin}\n{size}\n{head}\n")
}

/// A note naming the journal's size and head, signed.
fn signed_note(key: &SigningKey, origin: &str, size: u64, head: &str) -> String {
    let text = body(origin, size, head);
    let sig = key.sign(text.as_bytes());
    format!("{text}\n— {} {}\n", origin, B64.encode(sig.to_bytes()))
}

pub use medo_model::Sequences;

/// A witness's note: signed like the anchor, with the numbering it covers from the fourth
/// line on (`sequences <year> <registered> <outgoing>`, and ` <body>` after it for each body of
/// a hub; readers of anchors read three lines) and the recovery epoch in its origin
/// (`…#<epoch>` once `journal recover --from-witness` was used).
pub fn witness_note(
    key: &SigningKey,
    origin: &str,
    (size, head): (u64, &str),
    sequences: &[Sequences],
) -> String {
    let mut text = body(origin, size, head);
    for s in sequences {
        let whose = s.body.as_ref().map(|b| format!(" {b}")).unwrap_or_default();
        text.push_str(&format!(
            "sequences {} {} {}{whose}\n",
            s.year, s.registered, s.outgoing
        ));
    }
    let sig = key.sign(text.as_bytes());
    format!("{text}\n— {} {}\n", origin, B64.encode(sig.to_bytes()))
}

/// A witness's note as read back: signed by `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessNote {
    pub size: u64,
    pub head: String,
    pub epoch: u64,
    /// The numbering it covers (one line a body in a hub's note; none in an older note).
    pub sequences: Vec<Sequences>,
}

/// The most of a witness note read (a one-body node's are a few hundred bytes; a hub of 1,000
/// bodies writes a line each, ~45 KB): a huge file on the share is not taken into memory.
const MAX_NOTE_BYTES: u64 = 64 * 1024;

/// The notes in a witness folder signed by `key` (others are not ours: ignored).
pub fn witness_notes(dir: &Path, key: &VerifyingKey) -> Result<Vec<WitnessNote>, CheckpointError> {
    let names = note_files(dir)?;
    Ok(names
        .iter()
        .filter_map(|(_, p)| read_note(p, key))
        .collect())
}

/// The newest note in a witness folder signed by `key`: files looked at newest first by the
/// epoch and size their names carry (`<size>.note`, `<size>.e<epoch>.note`), so the start
/// reads one note, not the thousands a year of commits leaves.
pub fn newest_witness_note(
    dir: &Path,
    key: &VerifyingKey,
) -> Result<Option<WitnessNote>, CheckpointError> {
    let mut names = note_files(dir)?;
    names.sort_by_key(|(order, _)| std::cmp::Reverse(*order));
    Ok(names.iter().find_map(|(_, p)| read_note(p, key)))
}

/// A note file's place in time as its name says: (epoch, size).
type NoteOrder = (u64, u64);

/// The `.note` files of a witness folder, each with the (epoch, size) its name says
/// (`(0, 0)` for a name not of ours).
fn note_files(dir: &Path) -> Result<Vec<(NoteOrder, PathBuf)>, CheckpointError> {
    let rd = fs::read_dir(dir).map_err(io(dir))?;
    Ok(rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "note"))
        .map(|p| {
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let order = match stem.split_once(".e") {
                Some((size, epoch)) => (epoch.parse().ok(), size.parse().ok()),
                None => (Some(0), stem.parse().ok()),
            };
            (order.0.zip(order.1).unwrap_or((0, 0)), p)
        })
        .collect())
}

/// One witness note, if it is one signed by `key` (read at most [`MAX_NOTE_BYTES`]).
fn read_note(path: &Path, key: &VerifyingKey) -> Option<WitnessNote> {
    use std::io::Read;
    let mut text = String::new();
    fs::File::open(path)
        .ok()?
        .take(MAX_NOTE_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    let (size, head) = signed_body(&text, key).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let epoch = lines
        .first()
        .and_then(|o| o.rsplit_once('#'))
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    let sequences = lines
        .iter()
        .skip(3)
        .map_while(|l| {
            let mut p = l.strip_prefix("sequences ")?.split(' ');
            Some(Sequences {
                year: p.next()?.parse().ok()?,
                registered: p.next()?.parse().ok()?,
                outgoing: p.next()?.parse().ok()?,
                body: p.next().map(Into::into),
            })
        })
        .collect();
    Some(WitnessNote {
        size,
        head,
        epoch,
        sequences,
    })
}

/// The journal (`records` records, `hash_at` reads a record's hash) against a witness's
/// notes of our `epoch`: the newest must name no more records than the journal has, and the
/// same head at that size; a note of a later epoch means a state older than a recovery.
pub fn check_witness(
    notes: &[WitnessNote],
    epoch: u64,
    records: u64,
    hash_at: impl FnOnce(u64) -> Option<String>,
) -> Result<(), CheckpointError> {
    if let Some(later) = notes.iter().map(|n| n.epoch).max().filter(|e| *e > epoch) {
        return Err(CheckpointError::LaterEpoch { later, epoch });
    }
    let Some(newest) = notes
        .iter()
        .filter(|n| n.epoch == epoch)
        .max_by_key(|n| n.size)
    else {
        return Ok(());
    };
    let anchor = Anchor {
        size: newest.size,
        head: newest.head.clone(),
        note: format!("записи свидетеля {:020}.note", newest.size),
    };
    check_anchor(&anchor, records, hash_at)
}

/// Where the per-commit anchor lives: `state_dir/anchor.note`.
pub fn anchor_path(state: &Path) -> PathBuf {
    state.join("anchor.note")
}

/// The journal in `journal_dir` (of `records` records) against the newest note signed with
/// `key` — the numbered checkpoints and the anchor of `state`; `Err` says what is wrong, for
/// people. No note yet: nothing to check.
pub fn check_journal(
    journal_dir: &Path,
    state: &Path,
    key: &VerifyingKey,
    records: u64,
) -> Result<(), CheckpointError> {
    let Some(anchor) = newest(journal_dir, &anchor_path(state), key) else {
        return Ok(());
    };
    let hash_at = |seq: u64| {
        Some(
            journal::read_from(journal_dir, seq)
                .ok()?
                .first()?
                .hash
                .clone(),
        )
    };
    check_anchor(&anchor, records, hash_at)
}

/// What is wrong with the anchor (`anchor.note`) next to a journal of `records` records:
/// missing, unreadable, or not a note signed by `key` (`None`: none, or an empty journal).
pub fn anchor_problem(state: &Path, key: &VerifyingKey, records: u64) -> Option<String> {
    if records == 0 {
        return None;
    }
    match fs::read_to_string(anchor_path(state)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("отсутствует".into()),
        Err(e) => Some(format!("не читается ({})", medo_stdx::words::io(&e))),
        Ok(text) => signed_body(&text, key)
            .err()
            .map(|why| format!("не запись, подписанная нашим ключом контрольных точек ({why})")),
    }
}

/// After an operator accepted the loss of the journal's end (`journal recover
/// --accept-missing anchor`): the anchor and every checkpoint note naming more than
/// `records` records are renamed `….accepted-<records>` — kept for the audit, no longer
/// read by the start check.
pub fn set_aside_beyond(journal_dir: &Path, state: &Path, records: u64) {
    let mut notes = vec![anchor_path(state)];
    if let Ok(rd) = fs::read_dir(journal_dir.join("checkpoints")) {
        notes.extend(
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "note"))
                .filter(|p| {
                    p.file_stem()
                        .and_then(|s| s.to_str()?.parse::<u64>().ok())
                        .is_some_and(|size| size > records)
                }),
        );
    }
    for note in notes.into_iter().filter(|p| p.exists()) {
        let mut aside = note.clone().into_os_string();
        aside.push(format!(".accepted-{records}"));
        if let Err(e) = fs::rename(&note, &aside) {
            tracing::warn!(note = %note.display(), error = %e, "cannot set a note aside");
        }
    }
}

/// Writes the checkpoint for a journal of `size` records whose last hash is `head`.
pub fn write(
    dir: &Path,
    key: &SigningKey,
    origin: &str,
    size: u64,
    head: &str,
) -> Result<PathBuf, CheckpointError> {
    let dir = dir.join("checkpoints");
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let note = signed_note(key, origin, size, head);
    let path = dir.join(format!("{size:020}.note"));
    let tmp = dir.join(format!(".{size}.tmp"));
    fs::write(&tmp, note)
        .and_then(|_| fs::rename(&tmp, &path))
        .map_err(io(&path))?;
    Ok(path)
}

/// Writes the anchor — the checkpoint of every group commit — to `path` (outside the journal
/// folder, `state_dir/anchor.note`, so that restoring an older journal does not restore an
/// older anchor with it). Replaced atomically, not synced: a crash can only lose the newest
/// anchor, leaving an older one.
pub fn write_anchor(
    path: &Path,
    key: &SigningKey,
    origin: &str,
    size: u64,
    head: &str,
) -> Result<(), CheckpointError> {
    let note = signed_note(key, origin, size, head);
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, note)
        .and_then(|_| fs::rename(&tmp, path))
        .map_err(io(path))
}

/// The journal's size and head as the newest signed note says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub size: u64,
    pub head: String,
    /// Which note says so.
    pub note: String,
}

/// The newest anchor among the numbered checkpoints in `journal/checkpoints/` and
/// `anchor` (the per-commit one): the largest size whose signature verifies with `key`.
/// Notes whose signature does not verify are ignored (and reported by `checkpoint verify`).
fn newest(journal_dir: &Path, anchor: &Path, key: &VerifyingKey) -> Option<Anchor> {
    let mut notes: Vec<PathBuf> = fs::read_dir(journal_dir.join("checkpoints"))
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "note"))
                .collect()
        })
        .unwrap_or_default();
    notes.push(anchor.to_path_buf());
    notes
        .iter()
        .filter_map(|p| {
            let text = fs::read_to_string(p).ok()?;
            let (size, head) = signed_body(&text, key).ok()?;
            let note = p.file_name()?.to_string_lossy().into_owned();
            Some(Anchor { size, head, note })
        })
        .max_by_key(|a| a.size)
}

/// The size and head of a note whose signature verifies with `key`, or what is wrong.
fn signed_body(text: &str, key: &VerifyingKey) -> Result<(u64, String), NoteProblem> {
    let (signed, sig_line) = text.split_once("\n\n").ok_or(NoteProblem::NotANote)?;
    let signed = format!("{signed}\n");
    let sig = sig_line
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|s| B64.decode(s).ok())
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or(NoteProblem::Unsigned)?;
    key.verify(signed.as_bytes(), &sig)
        .map_err(|_| NoteProblem::OtherKey)?;
    let lines: Vec<&str> = signed.lines().collect();
    match (
        lines.get(1).and_then(|s| s.parse::<u64>().ok()),
        lines.get(2),
    ) {
        (Some(size), Some(head)) => Ok((size, head.to_string())),
        _ => Err(NoteProblem::Damaged),
    }
}

/// A signed note naming the journal's `size` and `head` — what another backend keeps of its
/// checkpoints (PostgreSQL: a table) as the files keep them in `journal/checkpoints/`.
pub fn note(key: &SigningKey, origin: &str, size: u64, head: &str) -> String {
    signed_note(key, origin, size, head)
}

/// A journal of `records` records (`hash_at` reads a record's hash) against the newest of
/// `notes` (name, text) whose signature verifies with `key` — another backend's checkpoints
/// and a node's anchor; `Err` says what is wrong, for people. No note: nothing to check.
pub fn check_notes(
    notes: &[(String, String)],
    key: &VerifyingKey,
    records: u64,
    hash_at: impl FnOnce(u64) -> Option<String>,
) -> Result<(), CheckpointError> {
    let newest = notes
        .iter()
        .filter_map(|(note, text)| {
            let (size, head) = signed_body(text, key).ok()?;
            Some(Anchor {
                size,
                head,
                note: note.clone(),
            })
        })
        .max_by_key(|a| a.size);
    match newest {
        Some(anchor) => check_anchor(&anchor, records, hash_at),
        None => Ok(()),
    }
}

/// Whether the journal agrees with `anchor`: at least that many records, and the record
/// `size - 1` has that hash (`hash_at` reads it). `Err` says what is wrong, for people.
fn check_anchor(
    anchor: &Anchor,
    records: u64,
    hash_at: impl FnOnce(u64) -> Option<String>,
) -> Result<(), CheckpointError> {
    if anchor.size > records {
        return Err(CheckpointError::Shorter {
            records,
            note: anchor.note.clone(),
            size: anchor.size,
        });
    }
    if anchor.size > 0 && hash_at(anchor.size - 1).as_deref() != Some(anchor.head.as_str()) {
        return Err(CheckpointError::Rewritten {
            seq: anchor.size - 1,
            note: anchor.note.clone(),
        });
    }
    Ok(())
}

/// The outcome of verifying every checkpoint.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub checkpoints: u64,
    pub bad: Vec<String>,
}

/// Checks every note's signature with `pubkey` (base64 line) and that the journal's record
/// number `size - 1` has the named head hash.
pub fn verify(journal_dir: &Path, pubkey: &str) -> Result<Report, CheckpointError> {
    let key = public_key(pubkey)?;
    let mut heads = std::collections::HashMap::new();
    let scan = journal::scan(journal_dir, |r| {
        heads.insert(r.seq + 1, r.hash.clone());
        true
    })?;
    let dir = journal_dir.join("checkpoints");
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "note"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    let notes: Vec<(String, String)> = paths
        .iter()
        .map(|note| {
            let name = note.file_name().map(|n| n.to_string_lossy().into_owned());
            let text = fs::read_to_string(note).unwrap_or_default();
            (name.unwrap_or_default(), text)
        })
        .collect();
    let mut report = verify_notes(&notes, &key, |size| heads.get(&size).cloned());
    if let Some(b) = scan.first_bad {
        report.bad.insert(
            0,
            format!(
                "journal broken at {} line {}: {}",
                b.file, b.line, b.problem
            ),
        );
    }
    Ok(report)
}

/// The public key as `journal checkpoint pubkey` prints it (base64 of 32 bytes).
pub fn public_key(line: &str) -> Result<VerifyingKey, CheckpointError> {
    let bytes = B64
        .decode(line.trim())
        .map_err(|_| CheckpointError::PublicKey)?;
    let arr: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| CheckpointError::PublicKey)?;
    VerifyingKey::from_bytes(&arr).map_err(|_| CheckpointError::PublicKey)
}

/// Every checkpoint of `notes` (name, signed text) against `key` and the journal's head at
/// its size (`head_at(size)`: the hash of record `size - 1`) — either backend's notes.
pub fn verify_notes(
    notes: &[(String, String)],
    key: &VerifyingKey,
    head_at: impl Fn(u64) -> Option<String>,
) -> Report {
    let mut report = Report {
        checkpoints: 0,
        bad: Vec::new(),
    };
    for (name, text) in notes {
        report.checkpoints += 1;
        match signed_body(text, key) {
            Ok((size, head)) if head_at(size).as_ref() == Some(&head) => {}
            Ok((size, _)) => report.bad.push(format!("{name}: the journal no longer has this head at size {size} (history rewritten or truncated)")),
            Err(why) => report.bad.push(format!("{name}: {why}")),
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start reads the newest note by its name (epoch, then size), skipping files not
    /// signed by our key, and sees a later epoch; every note is still read by the recovery.
    #[test]
    fn the_newest_witness_note_is_found_by_name_and_signature() {
        let dir = tempfile::tempdir().unwrap();
        let ours = SigningKey::from_bytes(&[7; 32]);
        let theirs = SigningKey::from_bytes(&[9; 32]);
        let seq = Sequences {
            year: 2026,
            registered: 5,
            outgoing: 2,
            body: None,
        };
        let put = |name: &str, key: &SigningKey, origin: &str, size: u64| {
            let note = witness_note(
                key,
                origin,
                (size, &format!("h{size}")),
                std::slice::from_ref(&seq),
            );
            fs::write(dir.path().join(name), note).unwrap();
        };
        put("9.note", &ours, "gw", 9);
        put("10.note", &ours, "gw", 10);
        put("2.note", &ours, "gw", 2);
        put("11.note", &theirs, "gw", 11); // not ours: skipped
        fs::write(dir.path().join("12.note"), vec![b'x'; 1 << 20]).unwrap(); // garbage
        let key = ours.verifying_key();
        let newest = newest_witness_note(dir.path(), &key).unwrap().unwrap();
        assert_eq!(
            (newest.size, newest.head.as_str(), newest.epoch),
            (10, "h10", 0)
        );
        assert_eq!(witness_notes(dir.path(), &key).unwrap().len(), 3);
        assert_eq!(
            newest.sequences,
            std::slice::from_ref(&seq),
            "a one-body note: one line, no body"
        );

        // a hub's note: a line a body, each read back with its body
        let hub: Vec<Sequences> = ["mo-a", "mo-b"]
            .iter()
            .enumerate()
            .map(|(i, b)| Sequences {
                year: 2026,
                registered: 10 + i as u64,
                outgoing: 1,
                body: Some((*b).into()),
            })
            .collect();
        let note = witness_note(&ours, "gw", (20, "h20"), &hub);
        assert!(note.contains("sequences 2026 11 1 mo-b\n"), "{note}");
        fs::write(dir.path().join("20.note"), note).unwrap();
        let newest = newest_witness_note(dir.path(), &key).unwrap().unwrap();
        assert_eq!(newest.sequences, hub);
        fs::remove_file(dir.path().join("20.note")).unwrap();

        put("3.e1.note", &ours, "gw#1", 3);
        let newest = newest_witness_note(dir.path(), &key).unwrap().unwrap();
        assert_eq!((newest.size, newest.epoch), (3, 1));
        let err = check_witness(std::slice::from_ref(&newest), 0, 10, |_| None).unwrap_err();
        assert!(
            matches!(err, CheckpointError::LaterEpoch { later: 1, epoch: 0 }),
            "{err}"
        );
    }
}
