//! The PostgreSQL backend's start (`[storage] backend = "postgres"`): the composition root's
//! opener for `medo_engine::Gateway::open_with`, as `medo_engine::start::open_files` is for
//! the files. It connects, **takes the lease** (waiting as a standby while another node's
//! lease is live), keeps renewing it on a thread of its own, takes the keys every node shares
//! from the database (the first node brings its own), and checks the journal before anything
//! is decided: the chain's end, the newest signed note (the database's checkpoints and this
//! node's anchor), the index applied exactly to the journal's end — every refusal in words
//! (exit 2).

use std::time::Duration;

use medo_engine::start::{Opened, Start};
use medo_engine::witness::Witness;
use medo_engine::GatewayError;
use medo_pg::backend::{Keys, Postgres};
use medo_pg::lease::Keeper;
use medo_pg::PgJournal;
use medo_spool::recovery::{Accepted, Piece};
use medo_store::checkpoint::Sequences;
use medo_store::{Index, Journal};

use std::sync::Arc;

use crate::config::Storage;
use crate::health::{Health, Leadership, Role};

/// The database's journal when `[storage]` names PostgreSQL (`None`: the files backend) —
/// what the commands that read the journal read there.
pub fn journal(config: &crate::config::Config) -> Result<Option<PgJournal>, String> {
    match &config.storage {
        Storage::Files => Ok(None),
        Storage::Postgres { url, .. } => PgJournal::open(url.expose())
            .map(Some)
            .map_err(|e| e.to_string()),
    }
}

/// Where the feed, the webhooks and the dashboard's log read the journal: this node's
/// segments, or the database's table (a reader opened for each read, off any runtime's
/// thread: on PostgreSQL `state_dir/journal` holds nothing).
#[derive(Debug, Clone)]
pub enum JournalSource {
    Files(crate::journal::Folder),
    Postgres(String),
}

impl JournalSource {
    pub fn of(config: &crate::config::Config) -> JournalSource {
        match &config.storage {
            Storage::Files => JournalSource::Files(crate::journal::Folder::new(
                crate::spool::Layout::new(&config.spool).journal,
            )),
            Storage::Postgres { url, .. } => JournalSource::Postgres(url.expose().to_string()),
        }
    }

    /// `read` over the journal; a database that cannot be reached is an error in words.
    pub fn read<T: Send>(
        &self,
        read: impl FnOnce(&dyn crate::JournalRead) -> Result<T, String> + Send,
    ) -> Result<T, String> {
        match self {
            JournalSource::Files(folder) => read(folder),
            JournalSource::Postgres(url) => medo_pg::off_runtime(|| {
                let journal = PgJournal::open_read(url).map_err(|e| e.to_string())?;
                read(&journal)
            }),
        }
    }
}

/// The database's index, read through a pool, when `[storage]` names PostgreSQL.
pub fn index(config: &crate::config::Config) -> Result<Option<crate::store::Store>, String> {
    match &config.storage {
        Storage::Files => Ok(None),
        Storage::Postgres { url, pool_size, .. } => {
            let read =
                medo_pg::read::PgRead::open(url.expose(), *pool_size).map_err(|e| e.to_string())?;
            Ok(Some(crate::store::Store::remote(Arc::new(read))))
        }
    }
}

/// Why the start is refused, as the engine says a refusal (exit 2).
fn refused(text: String) -> GatewayError {
    GatewayError::Spool(crate::spool::SpoolError::Setup(
        crate::spool::Setup::Refused(text),
    ))
}

/// This process's name in the lease: host, process id, start time (unique to its life).
fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{host}:{}:{started}", std::process::id())
}

/// Opens the database's journal and index as the leader (see the module's words).
pub fn open(start: &Start) -> Result<Opened<Postgres>, GatewayError> {
    open_watched(start, None)
}

/// [`open`] for the service: while it waits as a standby, `health` hears of every try (the
/// node's part, the database's leader changes; a try that failed is a failed pass).
pub fn opener(
    health: Arc<Health>,
) -> impl FnOnce(&Start) -> Result<Opened<Postgres>, GatewayError> {
    move |start| open_watched(start, Some(&health))
}

fn open_watched(start: &Start, health: Option<&Health>) -> Result<Opened<Postgres>, GatewayError> {
    let Storage::Postgres {
        url,
        pool_size,
        lease_secs,
    } = &start.config.storage
    else {
        return Err(refused("[storage] backend не \"postgres\"".into()));
    };
    let (url, lease) = (url.expose(), Duration::from_secs(*lease_secs));
    let mut journal = PgJournal::open(url)?;
    let epoch = lead(&mut journal, lease, health)?;
    let held = journal.leads().cloned().expect("the lease was just taken");
    if let Err(refusal) = check_spool(start, url) {
        // the lease is given up at once: another node of this spool may lead
        let _ = journal.step_down();
        return Err(refusal);
    }
    let keeper = Keeper::start(url, held, lease);
    tracing::info!(
        epoch,
        records = journal.next_seq(),
        "leading: the lease is ours"
    );
    let (checkpoint_key, pin_secret) = keys(start, url, journal.next_seq())?;
    let restoring = start.accepted.is_some_and(|a| a.from_witness.is_some());
    if restoring || Accepted::covers(start.accepted, Piece::Anchor) {
        // the operator's word (a lost anchor, or a database restored from a backup older
        // than this node's anchor): not compared; a fresh one is signed at the next commit
        let _ = std::fs::remove_file(medo_store::checkpoint::anchor_path(&start.layout.state));
    }
    medo_engine::start::check_chain(&journal)?;
    let anchor = medo_store::checkpoint::anchor_path(&start.layout.state);
    let mut backend = Postgres::open(url, journal, *pool_size, anchor.clone())?;
    backend.keep_lease(keeper);
    check_notes(&mut backend, &anchor, &checkpoint_key)?;
    check_index(&backend)?;
    let (witness, restored) = witness(start, url, &backend, &checkpoint_key)?;
    Ok(Opened {
        backend,
        checkpoint_key,
        pin_secret,
        witness,
        restored,
    })
}

/// The marker naming the spool in the outbound folder (a hidden name: never a package).
const SPOOL_MARK: &str = ".medo-spool";

/// Whether this node's outbound folder is the one every node of this database publishes
/// into. A node publishing into a folder of its own would, after a fail-over, publish again
/// what the previous leader published but had not yet journaled (a receipt or a notice sent
/// twice): refused (exit 2), in words. The first leader names the spool (a random token in
/// `outbound/.medo-spool`, kept in `medo_spool`); each leader after it must find the same.
fn check_spool(start: &Start, url: &str) -> Result<(), GatewayError> {
    let outbound = &start.config.spool.outbound;
    let mark = outbound.join(SPOOL_MARK);
    let mine = match std::fs::read_to_string(&mark) {
        Ok(token) => token.trim().to_string(),
        Err(_) => {
            let token = uuid::Uuid::new_v4().to_string();
            let tmp = outbound.join(format!("{SPOOL_MARK}.tmp"));
            std::fs::write(&tmp, &token)
                .and_then(|()| std::fs::rename(&tmp, &mark))
                .map_err(|source| GatewayError::Io {
                    doing: "записать метку папки",
                    path: mark.clone(),
                    source,
                })?;
            token
        }
    };
    if medo_pg::backend::same_spool(url, &mine)? {
        return Ok(());
    }
    Err(refused(format!(
        "папка outbound {} — не та, в которую отправляют другие узлы этой базы (метка {SPOOL_MARK} не совпадает с medo_spool): узлы одной базы должны работать с одной транспортной папкой VipNet (inbound и outbound на общем ресурсе), иначе после смены ведущего узла уже отправленное могло бы уйти второй раз. Укажите в [spool] папки общего ресурса",
        outbound.display()
    )))
}

/// Takes the lease, waiting while another node's is live (a standby): the wait is said once,
/// the lease tried every third of its length; a try the database did not answer is said to
/// `health` and made again (a standby outlives a database restart).
fn lead(
    journal: &mut PgJournal,
    lease: Duration,
    health: Option<&Health>,
) -> Result<u64, GatewayError> {
    let me = holder();
    let mut said = false;
    loop {
        match try_lead(journal, &me, lease) {
            Ok(Ok(epoch)) => {
                if let Some(h) = health {
                    h.lead_as(Leadership {
                        role: Role::Leader,
                        failovers: epoch.saturating_sub(1),
                    });
                }
                return Ok(epoch);
            }
            Ok(Err(theirs)) => {
                if !said {
                    tracing::info!(
                        "another node leads (its lease is live): waiting as a standby to take over"
                    );
                    said = true;
                }
                if let Some(h) = health {
                    h.lead_as(Leadership {
                        role: Role::Standby,
                        failovers: theirs.saturating_sub(1),
                    });
                    h.pass_done();
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the database did not answer the standby's try for the lease; trying again");
                if let Some(h) = health {
                    h.pass_failed(&e.to_string());
                }
            }
        }
        std::thread::sleep(lease / 3);
    }
}

/// One try for the lease: `Ok(epoch)` taken, `Err(epoch)` another node's live lease.
fn try_lead(
    journal: &mut PgJournal,
    me: &str,
    lease: Duration,
) -> Result<Result<u64, u64>, medo_store::journal::JournalError> {
    if let Some(epoch) = journal.lead(me, lease)? {
        return Ok(Ok(epoch));
    }
    let theirs = journal.lease_holder()?.map_or(0, |(l, _)| l.epoch);
    Ok(Err(theirs))
}

/// The checkpoint key and the PIN secret every node shares: the database's, or this node's
/// put there. A journal that has records but no keys anywhere is refused (new keys would
/// sign over an old journal and change every applicant's PIN).
fn keys(
    start: &Start,
    url: &str,
    records: u64,
) -> Result<(ed25519_dalek::SigningKey, Vec<u8>), GatewayError> {
    let state = &start.layout.state;
    let mut held = Keys::open(url)?;
    let mut shared = |name: &str, file: &str| -> Result<Vec<u8>, GatewayError> {
        if held.held(name)? {
            // the database's: no copy made on this node's disk
            return Ok(held.shared(name, &[])?);
        }
        let path = state.join(file);
        let piece = match file {
            "checkpoint.key" => Piece::CheckpointKey,
            _ => Piece::PinKey,
        };
        if records > 0 && !path.exists() && !Accepted::covers(start.accepted, piece) {
            return Err(refused(format!("в журнале базы {records} записей, но ключа «{name}» нет ни в базе (medo_keys), ни в {}: новый ключ изменил бы ПИН-коды заявителей и подписи журнала. Запустите сначала узел, с которого журнал переносился (storage migrate), или восстановите его state_dir", path.display())));
        }
        let local = match file {
            "checkpoint.key" => medo_store::checkpoint::load_or_create_key(&path)?
                .to_bytes()
                .to_vec(),
            _ => medo_engine::start::load_or_create_secret(&path)?,
        };
        Ok(held.shared(name, &local)?)
    };
    let key = shared("checkpoint", "checkpoint.key")?;
    let pin = shared("pin", "pin.key")?;
    let key: [u8; 32] = key.try_into().map_err(|_| {
        refused("ключ контрольных точек в базе (medo_keys) повреждён: не 32 байта".into())
    })?;
    Ok((ed25519_dalek::SigningKey::from_bytes(&key), pin))
}

/// Where the database keeps the witnesses' recovery epoch (`medo_keys`, decimal text).
pub const WITNESS_EPOCH: &str = "witness-epoch";

/// The database's recovery epoch of the witnesses (0 before any recovery).
pub fn witness_epoch(keys: &mut Keys) -> Result<u64, medo_store::journal::JournalError> {
    let text = keys.get(WITNESS_EPOCH)?.unwrap_or_default();
    Ok(String::from_utf8_lossy(&text).trim().parse().unwrap_or(0))
}

/// The witnesses (`[audit]`) on the database: its journal compared with the witness folder,
/// or a recovery from the witness taken (the new epoch kept in `medo_keys`, for every node).
fn witness(
    start: &Start,
    url: &str,
    backend: &Postgres,
    key: &ed25519_dalek::SigningKey,
) -> Result<(Option<Witness>, Vec<Sequences>), GatewayError> {
    let keys = std::cell::RefCell::new(Keys::open(url)?);
    let epoch = witness_epoch(&mut keys.borrow_mut())?;
    let save = |epoch: u64| {
        let text = epoch.to_string();
        keys.borrow_mut()
            .put(WITNESS_EPOCH, text.as_bytes())
            .map_err(|e| e.to_string())
    };
    let journal = medo_store::Backend::journal(backend);
    let site = medo_engine::start::WitnessSite {
        epoch,
        save: &save,
        journal,
        records: journal.next_seq(),
    };
    medo_engine::start::open_witness(start.config, key, start.accepted, site)
}

/// The journal against the newest signed note: the database's checkpoints and this node's
/// anchor (a database restored from a backup older than what this node committed is
/// refused).
fn check_notes(
    backend: &mut Postgres,
    anchor: &std::path::Path,
    key: &ed25519_dalek::SigningKey,
) -> Result<(), GatewayError> {
    let mut notes = backend.checkpoints()?;
    if let Ok(text) = std::fs::read_to_string(anchor) {
        notes.push((anchor.display().to_string(), text));
    }
    let journal = medo_store::Backend::journal(backend);
    let records = journal.next_seq();
    let hash_at = |seq: u64| {
        let at = medo_store::JournalRead::read_range(journal, seq, seq + 1, 1).ok()?;
        Some(at.first()?.hash.clone())
    };
    medo_store::checkpoint::check_notes(&notes, &key.verifying_key(), records, hash_at).map_err(
        |e| {
            refused(format!(
                "{e}: служба не запускается (docs/OPERATIONS.md, «PostgreSQL и резервирование»)"
            ))
        },
    )
}

/// The index in the database applied exactly to the journal's end (it is written in the
/// same transactions: anything else is a database changed by hand or restored in part).
fn check_index(backend: &Postgres) -> Result<(), GatewayError> {
    let journal = medo_store::Backend::journal(backend);
    let index = medo_store::Backend::index(backend);
    let end = journal.next_seq().checked_sub(1);
    let applied = Index::applied_seq(index)?;
    let head = Index::head(index)?;
    if applied == end && (end.is_none() || head.as_deref() == Some(journal.head())) {
        return Ok(());
    }
    Err(refused(format!(
        "индекс в базе (medo_index) применён до записи {applied:?}, а журнал (medo_journal) кончается записью {end:?}: они пишутся в одной транзакции, значит база изменена вручную или восстановлена частично. Восстановите базу целиком или перенесите журнал заново (storage migrate)"
    )))
}
