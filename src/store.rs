//! The index: sled (pinned 0.34.7) holding, per arrival, where its package stands, plus
//! lookups by package key, header uid and claim folder. Derived entirely from the journal:
//! [`Store::apply`] is the only writer, `store rebuild` replays the journal from scratch, and
//! a store that cannot be opened is moved aside and rebuilt. Related updates of one record go
//! in one transaction; [`Store::flush`] is the durability barrier before effects.
//! Touches only its own directory (`state_dir/store`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use crate::journal::{Event, Output, Record};

/// Where an arrival stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Claimed and journaled; not yet parsed.
    Received,
    Parsed,
    /// Effects decided (outputs may still be unpublished).
    Decided,
    /// Decided to quarantine; the folder may still be in `claimed/`.
    Quarantined,
    /// In its resting place (archive or quarantine); nothing left to do.
    Done,
}

/// One arrival: a package folder claimed from inbound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrival {
    pub arrival: u64,
    pub key: String,
    pub src: String,
    pub claim: String,
    pub received_at: String,
    pub state: State,
    pub header_uid: Option<String>,
    pub header_type: Option<String>,
    pub source_uid: Option<String>,
    pub duplicate_of: Option<u64>,
    pub quarantine: Option<(String, String)>,
    pub outputs: Vec<Output>,
    pub published: Vec<String>,
    pub dir: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store: {0}")]
    Decode(String),
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}

/// An output waiting to be published, with the arrival it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOutput {
    pub arrival: u64,
    pub key: String,
    pub output: Output,
}

/// The sled-backed index.
pub struct Store {
    db: sled::Db,
    arrivals: sled::Tree,
    keys: sled::Tree,
    uids: sled::Tree,
    claims: sled::Tree,
    /// Arrivals not yet at rest (so a pass never walks the whole history).
    open: sled::Tree,
    /// Outputs decided but not yet published: name → (arrival, key, output).
    pending: sled::Tree,
    meta: sled::Tree,
}

const APPLIED: &[u8] = b"applied_seq";
const HEAD: &[u8] = b"head";

fn be(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Decode(e.to_string()))
}

impl Store {
    /// Opens the store at `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        Ok(Store {
            arrivals: db.open_tree("arrivals")?,
            keys: db.open_tree("keys")?,
            uids: db.open_tree("uids")?,
            claims: db.open_tree("claims")?,
            open: db.open_tree("open")?,
            pending: db.open_tree("pending")?,
            meta: db.open_tree("meta")?,
            db,
        })
    }

    /// Opens the store; when that fails (corruption), moves it aside and starts empty —
    /// the caller then replays the journal into it. Returns whether it was rebuilt.
    pub fn open_or_reset(dir: &Path) -> Result<(Store, Option<PathBuf>), StoreError> {
        match Store::open(dir) {
            Ok(s) => Ok((s, None)),
            Err(e) => {
                let aside = dir.with_extension(format!("corrupt-{}", std::process::id()));
                tracing::warn!(error = %e, moved_to = %aside.display(), "store cannot be opened; moving it aside and rebuilding it from the journal");
                std::fs::rename(dir, &aside)
                    .map_err(|e| StoreError::Decode(format!("cannot move the store aside: {e}")))?;
                Ok((Store::open(dir)?, Some(aside)))
            }
        }
    }

    /// The seq of the last journal record applied, if any.
    pub fn applied_seq(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .meta
            .get(APPLIED)?
            .map(|v| u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8]))))
    }

    /// The hash of the last journal record applied.
    pub fn head(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .meta
            .get(HEAD)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Empties every tree (before a rebuild).
    pub fn clear(&self) -> Result<(), StoreError> {
        for t in [
            &self.arrivals,
            &self.keys,
            &self.uids,
            &self.claims,
            &self.meta,
        ] {
            t.clear()?;
        }
        Ok(())
    }

    /// An arrival by its id.
    pub fn arrival(&self, arrival: u64) -> Result<Option<Arrival>, StoreError> {
        self.arrivals
            .get(be(arrival))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Every arrival not yet at rest, oldest first.
    pub fn unfinished(&self) -> Result<Vec<Arrival>, StoreError> {
        let mut out = Vec::new();
        for item in self.open.iter() {
            let (k, _) = item?;
            if let Some(v) = self.arrivals.get(k)? {
                out.push(decode(&v)?);
            }
        }
        Ok(out)
    }

    /// Every arrival, oldest first.
    pub fn all(&self) -> Result<Vec<Arrival>, StoreError> {
        self.arrivals.iter().map(|i| decode(&i?.1)).collect()
    }

    /// The first arrival that carried this package key (and was parsed).
    pub fn by_key(&self, key: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .keys
            .get(key)?
            .map(|v| u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8]))))
    }

    /// The first arrival that carried this header uid.
    pub fn by_uid(&self, uid: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .uids
            .get(uid)?
            .map(|v| u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8]))))
    }

    /// The arrival whose claimed folder has this name.
    pub fn by_claim(&self, claim: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .claims
            .get(claim)?
            .map(|v| u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8]))))
    }

    /// Applies one journal record, atomically across trees. Records at or below the applied
    /// seq are skipped (replay is idempotent).
    pub fn apply(&self, record: &Record) -> Result<(), StoreError> {
        if self.applied_seq()?.is_some_and(|s| record.seq <= s) {
            return Ok(());
        }
        let current = match record.event.arrival() {
            Some(a) => self.arrival(a)?,
            None => None,
        };
        // the package key of the arrival the record is about (appeal events carry none)
        let key = current.as_ref().map(|a| a.key.clone()).unwrap_or_default();
        let updated = next_arrival(record, current);
        (
            &self.arrivals,
            &self.keys,
            &self.uids,
            &self.claims,
            &self.open,
            &self.pending,
            &self.meta,
        )
            .transaction(|(arrivals, keys, uids, claims, open, pending, meta)| {
                for output in record.event.outputs() {
                    let item = PendingOutput {
                        arrival: record.event.arrival().unwrap_or(record.seq),
                        key: updated
                            .as_ref()
                            .map_or_else(|| key.clone(), |a| a.key.clone()),
                        output: output.clone(),
                    };
                    let bytes = serde_json::to_vec(&item).map_err(|e| {
                        ConflictableTransactionError::Abort(StoreError::Decode(e.to_string()))
                    })?;
                    pending.insert(output.name.as_bytes(), bytes)?;
                }
                if let Event::Published { name, .. } = &record.event {
                    pending.remove(name.as_bytes())?;
                }
                if let Some(a) = &updated {
                    let bytes = serde_json::to_vec(a).map_err(|e| {
                        ConflictableTransactionError::Abort(StoreError::Decode(e.to_string()))
                    })?;
                    arrivals.insert(&be(a.arrival), bytes)?;
                    match &record.event {
                        Event::Received { claim, .. } => {
                            claims.insert(claim.as_bytes(), &be(a.arrival))?;
                            open.insert(&be(a.arrival), &[])?;
                        }
                        Event::Parsed {
                            key, header_uid, ..
                        } => {
                            if keys.get(key.as_bytes())?.is_none() {
                                keys.insert(key.as_bytes(), &be(a.arrival))?;
                            }
                            if uids.get(header_uid.as_bytes())?.is_none() {
                                uids.insert(header_uid.as_bytes(), &be(a.arrival))?;
                            }
                        }
                        Event::Archived { .. } => {
                            claims.remove(a.claim.as_bytes())?;
                            open.remove(&be(a.arrival))?;
                        }
                        _ => {}
                    }
                }
                meta.insert(APPLIED, &be(record.seq))?;
                meta.insert(HEAD, record.hash.as_bytes())?;
                Ok(())
            })?;
        Ok(())
    }

    /// Outputs decided but not yet published, in name order.
    pub fn pending_outputs(&self) -> Result<Vec<PendingOutput>, StoreError> {
        self.pending.iter().map(|i| decode(&i?.1)).collect()
    }

    /// Durability barrier: everything applied so far is on disk when this returns.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

/// The arrival as it stands after `record` (pure).
fn next_arrival(record: &Record, current: Option<Arrival>) -> Option<Arrival> {
    match &record.event {
        Event::Received {
            key, src, claim, ..
        } => Some(Arrival {
            arrival: record.seq,
            key: key.clone(),
            src: src.clone(),
            claim: claim.clone(),
            received_at: record.ts.clone(),
            state: State::Received,
            header_uid: None,
            header_type: None,
            source_uid: None,
            duplicate_of: None,
            quarantine: None,
            outputs: Vec::new(),
            published: Vec::new(),
            dir: None,
        }),
        event => {
            let mut a = current?;
            match event {
                Event::Parsed {
                    header_uid,
                    header_type,
                    source_uid,
                    ..
                } => {
                    a.state = State::Parsed;
                    a.header_uid = Some(header_uid.clone());
                    a.header_type = Some(header_type.clone());
                    a.source_uid = Some(source_uid.clone());
                }
                Event::Duplicate { of, .. } => a.duplicate_of = Some(*of),
                Event::Quarantined {
                    code,
                    message,
                    header_uid,
                    ..
                } => {
                    a.state = State::Quarantined;
                    a.quarantine = Some((code.clone(), message.clone()));
                    if a.header_uid.is_none() {
                        a.header_uid = header_uid.clone();
                    }
                }
                Event::Decided { outputs, .. } => {
                    if a.state != State::Quarantined {
                        a.state = State::Decided;
                    }
                    a.outputs.extend(outputs.iter().cloned());
                }
                Event::Published { name, .. } => {
                    if !a.published.contains(name) {
                        a.published.push(name.clone());
                    }
                }
                Event::Archived { dir, .. } => {
                    a.state = State::Done;
                    a.dir = Some(dir.clone());
                }
                _ => return None,
            }
            Some(a)
        }
    }
}

/// Replays a whole journal into an emptied store.
pub fn rebuild(store: &Store, journal_dir: &Path) -> Result<u64, Box<dyn std::error::Error>> {
    store.clear()?;
    let mut applied = 0u64;
    let mut failure: Option<StoreError> = None;
    let report = crate::journal::scan(journal_dir, |r| match store.apply(r) {
        Ok(()) => {
            applied += 1;
            true
        }
        Err(e) => {
            failure = Some(e);
            false
        }
    })?;
    if let Some(e) = failure {
        return Err(Box::new(e));
    }
    if let Some(bad) = report.first_bad {
        return Err(format!("journal {} line {}: {}", bad.file, bad.line, bad.problem).into());
    }
    store.flush()?;
    Ok(applied)
}
