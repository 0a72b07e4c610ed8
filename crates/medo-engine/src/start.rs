//! The start of the files backend: the journal opened and checked against what vouches for
//! it (the keys beside it, the anchor and the newest checkpoint, the chain itself, the
//! witnesses), the index opened and brought up to the journal (caught up, or rebuilt when it
//! was reset, is outdated or does not match) — every refusal in words for the administrator
//! (exit 2), before anything is decided. A second backend brings its own opener (what
//! [`crate::Gateway::open_with`] takes); the loop does not change.

use std::path::Path;

use medo_config::Config;
use medo_spool::recovery::Accepted;
use medo_spool::Layout;
use medo_store::checkpoint::Sequences;
use medo_store::index::Store;
use medo_store::journal::Journal;
use medo_store::{Files, JournalRead};

use crate::{refused, witness, GatewayError};

/// What an opener is given: the config and the state folder's layout (the instance lock is
/// held), and the operator's acceptance of lost pieces if one waits.
pub struct Start<'a> {
    pub config: &'a Config,
    pub layout: &'a Layout,
    pub accepted: Option<&'a Accepted>,
}

/// An opened, checked backend and what the loop needs beside it: the keys (the checkpoint
/// key signs the notes, the PIN secret derives applicants' PINs), the witnesses, and the
/// numbering a recovery from the witness restored (journaled at start).
pub struct Opened<B> {
    pub backend: B,
    pub checkpoint_key: ed25519_dalek::SigningKey,
    pub pin_secret: Vec<u8>,
    pub witness: Option<witness::Witness>,
    pub restored: Vec<Sequences>,
}

/// Opens the files backend (`state_dir/journal`, `store`, the notes, the keys) and checks it.
pub fn open_files(start: &Start) -> Result<Opened<Files>, GatewayError> {
    let (config, layout, accepted) = (start.config, start.layout, start.accepted);
    let (journal, _) = Journal::open(&layout.journal)?;
    guard_keys(layout, journal.next_seq(), accepted)?;
    let checkpoint_key =
        medo_store::checkpoint::load_or_create_key(&layout.state.join("checkpoint.key"))?;
    guard_anchor(layout, &journal, &checkpoint_key, accepted)?;
    check_journal_anchor(layout, &journal, &checkpoint_key)?;
    // the index opens while the chain is checked (they read different files); nothing is
    // applied to it before the check passed
    let (checked, store) = std::thread::scope(|s| {
        let opening = s.spawn(|| Store::open_or_reset(&layout.store, config.spool.min_free_bytes));
        let checked = check_chain(&journal);
        let store = opening
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (checked, store)
    });
    checked?;
    let (store, rebuilt) = store?;
    let (witness, restored) =
        open_files_witness(config, layout, &journal, &checkpoint_key, accepted)?;
    catch_up(&store, &journal, rebuilt.is_some())?;
    let pin_secret = load_or_create_secret(&layout.state.join("pin.key"))?;
    Ok(Opened {
        backend: Files::new(journal, store, &layout.state),
        checkpoint_key,
        pin_secret,
        witness,
        restored,
    })
}

/// Brings the store up to the journal: replays the records it has not applied (a crash
/// between the journal's fsync and the store's flush leaves it behind), or rebuilds it from
/// scratch when it was reset or does not match the journal (ahead of it, or another head).
fn catch_up(store: &Store, journal: &Journal, reset: bool) -> Result<(), GatewayError> {
    let next_seq = journal.next_seq();
    let applied = store.applied_seq()?;
    // a store folded by an older layout lacks index entries: rebuilt once
    let outdated = applied.is_some() && !store.schema_current()?;
    if outdated {
        tracing::warn!("the store was built by an older version; rebuilding it from the journal");
    }
    let consistent = match applied {
        _ if reset || outdated => false,
        None => true,
        Some(seq) if seq >= next_seq => return Err(journal_lost(seq, next_seq)),
        Some(seq) => {
            let at = journal.read_range(seq, seq + 1, 1)?;
            let head = store.head()?;
            if !at
                .first()
                .is_some_and(|r| r.seq == seq && Some(&r.hash) == head.as_ref())
            {
                return Err(journal_lost(seq, next_seq));
            }
            true
        }
    };
    if !consistent {
        let n = medo_store::rebuild(store, journal)?;
        tracing::warn!(records = n, "store rebuilt from the journal");
        return Ok(());
    }
    store.mark_schema()?;
    // applied in pages: a store far behind is caught up without holding the journal's rest
    let (mut from, mut caught) = (applied.map_or(0, |s| s + 1), 0);
    while from < next_seq {
        let page = journal.read_range(from, next_seq, CATCH_UP_PAGE)?;
        let Some(last) = page.last() else { break };
        from = last.seq + 1;
        caught += page.len();
        store.apply_all(&page)?;
    }
    if caught > 0 {
        store.flush()?;
        tracing::info!(records = caught, "store caught up with the journal");
    }
    Ok(())
}

/// Records applied to the store at once when it catches up with the journal at start.
const CATCH_UP_PAGE: usize = 512;

/// The journal behind the store: records the store applied are gone or different. Never
/// rebuilt silently — that would give numbers a second time.
fn journal_lost(applied: u64, next_seq: u64) -> GatewayError {
    refused(format!(
        "индекс применил запись журнала {applied}, а в журнале {next_seq} записей или там другая запись: журнал обрезан или восстановлена старая копия. Восстановите самый новый журнал (docs/OPERATIONS.md, «Journal behind»); служба не запускается, чтобы ни один номер не был присвоен дважды"
    ))
}

/// Refuses a journal shorter than, or different from, its newest signed checkpoint.
fn check_journal_anchor(
    layout: &Layout,
    journal: &Journal,
    key: &ed25519_dalek::SigningKey,
) -> Result<(), GatewayError> {
    let records = journal.next_seq();
    medo_store::checkpoint::check_journal(&layout.journal, &layout.state, &key.verifying_key(), records)
        .map_err(|why| {
            refused(format!(
                "{why}. Восстановите самый новый журнал (docs/OPERATIONS.md, «Journal behind»); служба не запускается, чтобы ни один номер не был присвоен дважды"
            ))
        })
}

/// How many of the journal's last records the start verifies: all of a journal up to this
/// size (about a second on 2 cores at a million, PERFORMANCE.md), the last this many of a
/// longer one (`journal verify` checks the whole).
const CHAIN_CHECKED_AT_START: u64 = 1_000_000;

/// The chain is verified at start (each line's hash, seq, prev — `JournalRead::verify_tail`):
/// a record edited, deleted or reordered refuses the start (exit 2), so the service never
/// registers or signs a checkpoint over a broken chain.
/// The chain of the journal's last records checked (the first of them linked to what comes
/// before on trust): a broken chain refuses the start (exit 2), in words.
pub fn check_chain(journal: &impl medo_store::Journal) -> Result<(), GatewayError> {
    let started = std::time::Instant::now();
    let report = JournalRead::verify_tail(journal, CHAIN_CHECKED_AT_START)?;
    if let Some(bad) = report.first_bad {
        return Err(refused(format!(
            "цепочка журнала нарушена на записи {} ({}, строка {}: {}): служба не запускается и ничего не подписывает поверх неё. Подробности — `medo-gateway journal verify`; восстановите журнал из резервной копии (docs/OPERATIONS.md, «Broken chain»)",
            bad.expected_seq, bad.file, bad.line, bad.problem
        )));
    }
    tracing::debug!(
        records = medo_store::Journal::next_seq(journal),
        ms = started.elapsed().as_millis() as u64,
        "journal chain verified at start"
    );
    Ok(())
}

/// Where a backend keeps the witnesses' recovery epoch and reads its journal: what
/// [`open_witness`] needs of it.
pub struct WitnessSite<'a> {
    /// The recovery epoch kept (0 before any recovery from the witness).
    pub epoch: u64,
    /// Keeps a new epoch (a file in `state_dir`, a row in the database); `Err` in words.
    pub save: &'a dyn Fn(u64) -> Result<(), String>,
    /// The journal compared with the witness folder.
    pub journal: &'a dyn JournalRead,
    /// How many records it holds.
    pub records: u64,
}

/// The witnesses (`[audit]`): a recovery from the witness taken (a new epoch; the numbering
/// the witness saw, for the journal), else the journal compared with the witness folder —
/// refused (exit 2) when the witness saw more or another head. Either backend's.
pub fn open_witness(
    config: &Config,
    key: &ed25519_dalek::SigningKey,
    accepted: Option<&Accepted>,
    site: WitnessSite,
) -> Result<(Option<witness::Witness>, Vec<Sequences>), GatewayError> {
    let setup = refused;
    let mut w = witness::Witness::new(&config.audit, site.epoch);
    if let Some(dir) = accepted.and_then(|a| a.from_witness.as_ref()) {
        let seen =
            witness::sequences_seen(dir, &key.verifying_key()).map_err(|e| setup(e.to_string()))?;
        let epoch = site.epoch + 1;
        (site.save)(epoch)
            .map_err(|e| setup(format!("не удалось записать эпоху свидетеля: {e}")))?;
        if let Some(w) = w.as_mut() {
            w.epoch = epoch;
        }
        tracing::warn!(
            epoch,
            "continuing after a restore: the numbering moves past what the witness saw"
        );
        return Ok((w, seen));
    }
    if let Some(w) = &w {
        w.check(&key.verifying_key(), site.journal, site.records)
            .map_err(|why| setup(format!("{why}. Свидетель ([audit] witness_dir) видел больше этого журнала, чем есть здесь: восстановите самый новый журнал или продолжите после восстановления командой `medo-gateway journal recover --from-witness DIR --comment \"почему\"` (docs/OPERATIONS.md, «Restore drill»); служба не запускается, чтобы ни один номер не был присвоен дважды")))?;
    }
    Ok((w, Vec::new()))
}

/// The files backend's [`WitnessSite`]: the epoch in `state_dir/witness.epoch`.
fn open_files_witness(
    config: &Config,
    layout: &Layout,
    journal: &Journal,
    key: &ed25519_dalek::SigningKey,
    accepted: Option<&Accepted>,
) -> Result<(Option<witness::Witness>, Vec<Sequences>), GatewayError> {
    let save = |epoch: u64| {
        std::fs::write(witness::epoch_path(&layout.state), epoch.to_string())
            .map_err(|e| medo_stdx::words::io(&e))
    };
    let folder = medo_store::journal::Folder::new(&layout.journal);
    let site = WitnessSite {
        epoch: witness::read_epoch(&layout.state),
        save: &save,
        journal: &folder,
        records: journal.next_seq(),
    };
    open_witness(config, key, accepted, site)
}

/// Next to a non-empty journal the checkpoint key and the PIN key must be there: made anew
/// only when an operator accepted their loss (`journal recover --accept-missing`).
fn guard_keys(
    layout: &Layout,
    records: u64,
    accepted: Option<&Accepted>,
) -> Result<(), GatewayError> {
    use medo_spool::recovery::Piece;
    if records == 0 {
        return Ok(());
    }
    let pieces = [
        (Piece::CheckpointKey, "checkpoint.key", 32),
        (Piece::PinKey, "pin.key", 16),
    ];
    for (piece, name, least) in pieces {
        let file = layout.state.join(name);
        let (why, present) = match std::fs::metadata(&file) {
            Ok(m) if m.len() >= least => continue,
            Ok(_) => ("повреждён (слишком короткий)", true),
            Err(_) => ("отсутствует", false),
        };
        if !Accepted::covers(accepted, piece) {
            let text = medo_spool::recovery::refusal(piece, &file, records, why);
            return Err(refused(text));
        }
        if present {
            let _ = std::fs::remove_file(&file);
        }
    }
    Ok(())
}

/// Next to a non-empty journal the anchor must be a note signed by our key: a missing or
/// garbage anchor is refused unless its loss was accepted (a new checkpoint key cannot
/// read the old anchor: accepting the key's loss accepts the anchor's).
fn guard_anchor(
    layout: &Layout,
    journal: &Journal,
    key: &ed25519_dalek::SigningKey,
    accepted: Option<&Accepted>,
) -> Result<(), GatewayError> {
    use medo_spool::recovery::Piece;
    let records = journal.next_seq();
    if Accepted::covers(accepted, Piece::Anchor) {
        // the operator accepted that the journal's end is lost: the notes that name more
        // than it holds are kept aside, for the audit, where the start check does not read
        medo_store::checkpoint::set_aside_beyond(&layout.journal, &layout.state, records);
        return Ok(());
    }
    let Some(why) =
        medo_store::checkpoint::anchor_problem(&layout.state, &key.verifying_key(), records)
    else {
        return Ok(());
    };
    if Accepted::covers(accepted, Piece::CheckpointKey) {
        return Ok(());
    }
    let file = medo_store::checkpoint::anchor_path(&layout.state);
    let text = medo_spool::recovery::refusal(Piece::Anchor, &file, records, &why);
    Err(refused(text))
}

/// Reads the PIN secret, creating it (32 random bytes, mode 0600) the first time.
pub fn load_or_create_secret(path: &Path) -> Result<Vec<u8>, GatewayError> {
    if let Ok(bytes) = std::fs::read(path) {
        if bytes.len() >= 16 {
            return Ok(bytes);
        }
    }
    let secret: Vec<u8> = uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .chain(uuid::Uuid::new_v4().as_bytes())
        .copied()
        .collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let failed = |doing| {
        move |source| GatewayError::Io {
            doing,
            path: path.to_path_buf(),
            source,
        }
    };
    let mut f = options.open(path).map_err(failed("создать"))?;
    std::io::Write::write_all(&mut f, &secret)
        .and_then(|_| f.sync_all())
        .map_err(failed("записать"))?;
    Ok(secret)
}
