//! The index: sled (pinned 0.34.7) holding, per arrival, where its package stands, plus
//! lookups by package key, header uid and claim folder. Derived entirely from the journal:
//! [`Store::apply`] is the only writer, `store rebuild` replays the journal from scratch, and
//! a store that cannot be opened is moved aside and rebuilt. Related updates of one record go
//! in one transaction; [`Store::flush`] is the durability barrier before effects.
//! Touches only its own directory (`state_dir/store`).

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::Digest;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use crate::apply::{
    apply_one, be, body_key, outgoing_year_key, prefixed, read_u64, year_key, Kv, Tree,
};
use crate::journal::{Event, Output, Record};
pub use crate::source::KvRead;
use crate::source::{SledTrees, Source};
use medo_core::book::{Appeal, Appeals, DeadlineFacts, QueryFacts, StatusFacts, Unrouted};
use medo_core::resend::Waiting;

type TxError = ConflictableTransactionError<StoreError>;

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
    pub key: medo_model::PackageKey,
    pub src: String,
    pub claim: String,
    pub received_at: String,
    pub state: State,
    pub header_uid: Option<medo_model::MessageUid>,
    pub header_type: Option<String>,
    pub source_uid: Option<medo_model::ParticipantUid>,
    pub duplicate_of: Option<u64>,
    pub quarantine: Option<(String, String)>,
    pub outputs: Vec<Output>,
    pub published: Vec<String>,
    pub dir: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The index's storage failed (what failed is said; sled's own error stays inside this
    /// crate: no sled type crosses the seam).
    #[error("store: {0}")]
    Storage(Storage),
    #[error("store: {0}")]
    Decode(String),
    /// Another backend's index could not be read (what failed is said: its database's words).
    #[error("store: the database: {0}")]
    Database(String),
}

/// A failure of the index's storage engine (sled), opaque outside this crate.
#[derive(Debug)]
pub struct Storage(sled::Error);

impl std::fmt::Display for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Storage {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Storage(Storage(e))
    }
}

/// Whether the filesystem holding `dir` has less than `min_free` bytes (at least 64 MiB)
/// free for us.
fn disk_low(dir: &Path, min_free: u64) -> bool {
    let at = dir.parent().unwrap_or(dir);
    medo_stdx::free_bytes(at).is_some_and(|free| free < min_free.max(64 << 20))
}

impl StoreError {
    /// Whether the error is the machine's (disk full, quota, read-only, no rights, no
    /// descriptors or memory), not the store's own data.
    pub fn is_environment(&self) -> bool {
        let StoreError::Storage(Storage(sled::Error::Io(e))) = self else {
            return false;
        };
        #[cfg(unix)]
        if let Some(code) = e.raw_os_error() {
            return [
                libc::ENOSPC,
                libc::EDQUOT,
                libc::EROFS,
                libc::EACCES,
                libc::EPERM,
                libc::EMFILE,
                libc::ENFILE,
                libc::ENOMEM,
                libc::EIO,
            ]
            .contains(&code);
        }
        matches!(
            e.kind(),
            std::io::ErrorKind::StorageFull
                | std::io::ErrorKind::ReadOnlyFilesystem
                | std::io::ErrorKind::PermissionDenied
                | std::io::ErrorKind::OutOfMemory
        )
    }
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => e.into(),
        }
    }
}

/// An output waiting to be published, with the arrival it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOutput {
    pub arrival: u64,
    pub key: medo_model::PackageKey,
    pub output: Output,
}

/// A bounded part of a longer list: its first items, and whether more follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub more: bool,
}

/// The index: this process's sled trees, or another backend's copy of them read through
/// [`KvRead`] ([`Store::remote`]). Cloning shares the same trees (sled handles are shared).
///
/// The trees ([`Tree`]): `arrivals` id → [`Arrival`]; `keys`, `uids`, `claims` → the first
/// arrival with that package key, header uid, claim folder; `open` the arrivals not yet at
/// rest (so a pass never walks the whole history); `pending` outputs decided but not yet
/// published: name → (arrival, key, output); `meta`; `appeals` id → appeal (JSON, without its
/// PIN hash); `appeal_index`, by prefix: `d` document uid → id, `n` our number → id, `u` УРОГ
/// number + id → (), `y` year → highest sequence number, `p` id → PIN hash, `o` id → its
/// deadline facts while the appeal is under consideration, `z` year → highest
/// outgoing-document number, `q` query arrival → its [`QueryFacts`], `r` number a query could
/// not resolve + query arrival → (), `c` operator command id → (), `b` body + id → (), `h`
/// held arrival → [`Unrouted`]; `appeal_status` id → the appeal's [`StatusFacts`] (an appeal
/// saved by an older version has none: its appeal is read instead); `awaiting` our documents
/// awaiting a receipt: `d` output name → (arrival, output) until published, `w` message uid →
/// [`Waiting`], `s` message uid → output name, `x` rejections.
#[derive(Clone)]
pub struct Store {
    src: Source,
}

pub(crate) const APPLIED: &[u8] = b"applied_seq";
/// How many arrivals the store holds.
pub(crate) const ARRIVALS: &[u8] = b"arrivals";
/// sled's page cache (its default is 1 GiB): bounds the service's memory whatever the history.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;
pub(crate) const HEAD: &[u8] = b"head";
/// The fold's layout: 2 = outgoing numbering, queries answered and the numbers they did not
/// find, appeals citing each other (issue 13), operator commands carried out (issue 14);
/// 3 = awaiting receipts and rejections; 4 = the history says who decided in Russian;
/// 5 = our numbers may repeat across bodies (issue 28: one key per appeal carrying one);
/// 6 = each body's appeals indexed (a hub's list of one body).
const SCHEMA: u64 = 6;
const SCHEMA_KEY: &[u8] = b"schema";
/// Appeals decoded per page of [`Store::iter_appeals_after`] (a list holds a page at a time).
const APPEALS_PAGE: usize = 32;

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Decode(e.to_string()))
}

impl Store {
    /// Opens the store at `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .cache_capacity(CACHE_BYTES)
            .open()?;
        let store = Store {
            src: Source::Sled(SledTrees::open(db)?),
        };
        store.with_arrival_count()
    }

    /// The index another backend keeps (PostgreSQL's `medo_index`): the same trees, read
    /// through `reader`; that backend applies records in its own commits.
    pub fn remote(reader: Arc<dyn KvRead>) -> Store {
        Store {
            src: Source::Remote(reader),
        }
    }

    /// This process's sled trees (`None`: the index is another backend's).
    fn sled(&self) -> Result<&SledTrees, StoreError> {
        match &self.src {
            Source::Sled(s) => Ok(s),
            Source::Remote(_) => Err(StoreError::Decode(
                "the index is written by the database's own commits, not here".into(),
            )),
        }
    }

    /// A store written before the arrival counter existed gets it now (one walk, once).
    fn with_arrival_count(self) -> Result<Store, StoreError> {
        let s = self.sled()?;
        let (meta, arrivals) = (s.tree(Tree::Meta), s.tree(Tree::Arrivals));
        if meta.get(ARRIVALS)?.is_none() && !arrivals.is_empty() {
            meta.insert(ARRIVALS, &be(arrivals.len() as u64))?;
        }
        Ok(self)
    }

    /// Opens the store; when that fails (corruption), moves it aside and starts empty —
    /// the caller then replays the journal into it. Returns whether it was rebuilt.
    pub fn open_or_reset(
        dir: &Path,
        min_free: u64,
    ) -> Result<(Store, Option<PathBuf>), StoreError> {
        match Store::open(dir) {
            Ok(s) => Ok((s, None)),
            // a full or read-only disk, missing rights: the store is fine, the place is not —
            // moving it aside would cost a rebuild at every restart and fix nothing
            Err(e) if e.is_environment() => Err(e),
            // on a (nearly) full disk sled may call a healthy store empty or corrupt: it is
            // left as it is
            Err(e) if disk_low(dir, min_free) => Err(sled::Error::Io(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                format!("{e}; the disk is (nearly) full — the store is left as it is: free space and start again"),
            ))
            .into()),
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
        Ok(self.src.get(Tree::Meta, APPLIED)?.map(|v| read_u64(&v)))
    }

    /// The hash of the last journal record applied.
    pub fn head(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .src
            .get(Tree::Meta, HEAD)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Whether the store was built by a fold of this layout ([`SCHEMA`]); an older one is
    /// rebuilt from the journal (its indexes may lack entries a newer fold writes).
    pub fn schema_current(&self) -> Result<bool, StoreError> {
        Ok(self.src.get(Tree::Meta, SCHEMA_KEY)?.as_deref() == Some(&be(SCHEMA)[..]))
    }

    /// The meta entry that marks an index built by this layout's fold (key, value) — another
    /// backend's index marks itself the same way.
    pub fn schema_mark() -> (&'static [u8], [u8; 8]) {
        (SCHEMA_KEY, be(SCHEMA))
    }

    /// Marks the store as built by this layout's fold.
    pub fn mark_schema(&self) -> Result<(), StoreError> {
        self.sled()?
            .tree(Tree::Meta)
            .insert(SCHEMA_KEY, &be(SCHEMA))?;
        Ok(())
    }

    /// Empties every tree (before a rebuild).
    pub fn clear(&self) -> Result<(), StoreError> {
        let s = self.sled()?;
        for tree in Tree::ALL {
            s.tree(tree).clear()?;
        }
        Ok(())
    }

    /// An arrival by its id.
    pub fn arrival(&self, arrival: u64) -> Result<Option<Arrival>, StoreError> {
        self.src
            .get(Tree::Arrivals, &be(arrival))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Every arrival not yet at rest, oldest first.
    pub fn unfinished(&self) -> Result<Vec<Arrival>, StoreError> {
        Ok(self.unfinished_oldest(usize::MAX, &|_| true)?.items)
    }

    /// How many arrivals are at rest (archived or quarantined): all minus the open ones.
    pub fn arrivals_at_rest(&self) -> Result<usize, StoreError> {
        // a counter kept with the records (sled's `len` walks every entry); a store written
        // before the counter existed is counted once the slow way
        let total = match self.src.get(Tree::Meta, ARRIVALS)? {
            Some(v) => read_u64(&v),
            None => self.src.count(Tree::Arrivals)?,
        };
        Ok(total.saturating_sub(self.src.count(Tree::Open)?) as usize)
    }

    /// Every arrival, oldest first.
    pub fn all_arrivals(&self) -> Result<Vec<Arrival>, StoreError> {
        let mut out = Vec::new();
        self.src.all(Tree::Arrivals, &mut |_, v| {
            out.push(decode(v)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// The arrival id stored under `key` in a lookup tree.
    fn lookup(&self, tree: Tree, key: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.src.get(tree, key.as_bytes())?.map(|v| read_u64(&v)))
    }

    /// The first arrival that carried this package key (and was parsed).
    pub fn by_key(&self, key: &str) -> Result<Option<u64>, StoreError> {
        self.lookup(Tree::Keys, key)
    }

    /// The first arrival that carried this header uid.
    pub fn by_uid(&self, uid: &str) -> Result<Option<u64>, StoreError> {
        self.lookup(Tree::Uids, uid)
    }

    /// The arrival whose claimed folder has this name.
    pub fn by_claim(&self, claim: &str) -> Result<Option<u64>, StoreError> {
        self.lookup(Tree::Claims, claim)
    }

    /// Applies one journal record, atomically across trees. Records at or below the applied
    /// seq are skipped (replay is idempotent).
    pub fn apply(&self, record: &Record) -> Result<(), StoreError> {
        self.apply_all(std::slice::from_ref(record))
    }

    /// Applies records in order in one transaction (all or none).
    pub fn apply_all(&self, records: &[Record]) -> Result<(), StoreError> {
        let s = match &self.src {
            Source::Sled(s) => s,
            Source::Remote(_) => return self.applied_through(records.last()),
        };
        let t = |tree| s.tree(tree);
        (
            t(Tree::Arrivals),
            t(Tree::Keys),
            t(Tree::Uids),
            t(Tree::Claims),
            t(Tree::Open),
            t(Tree::Pending),
            t(Tree::Meta),
            t(Tree::Appeals),
            t(Tree::AppealIndex),
            t(Tree::Status),
            t(Tree::Awaiting),
        )
            .transaction(|trees| {
                for record in records {
                    apply_one(&SledKv(trees), record)?;
                }
                Ok(())
            })?;
        Ok(())
    }

    /// Another backend's index applies its records in the journal's own transaction: here
    /// it is only checked that it did (a record it lacks is an error, never skipped).
    fn applied_through(&self, last: Option<&Record>) -> Result<(), StoreError> {
        let (Some(last), applied) = (last, self.applied_seq()?) else {
            return Ok(());
        };
        if applied.is_some_and(|a| a >= last.seq) {
            return Ok(());
        }
        Err(StoreError::Decode(format!(
            "the database's index has applied up to {applied:?}, not record {}",
            last.seq
        )))
    }

    /// Per tree: its name, how many entries, and SHA-256 over its keys and values in order —
    /// two stores hold the same index exactly when these agree (`store verify`).
    pub fn digests(&self) -> Result<Vec<(&'static str, u64, String)>, StoreError> {
        let mut out = Vec::new();
        for tree in Tree::ALL {
            let mut h = medo_wire::hash::Sha256::new();
            let mut n = 0u64;
            self.src.all(tree, &mut |k, v| {
                for part in [k, v] {
                    h.update((part.len() as u64).to_be_bytes());
                    h.update(part);
                }
                n += 1;
                Ok(true)
            })?;
            out.push((tree.name(), n, hex::encode(h.finalize())));
        }
        Ok(out)
    }

    /// The pending outputs of the oldest `max_arrivals` arrivals that `wanted` accepts —
    /// every output of each (siblings go together: a notice that names our document never
    /// leaves without it) — oldest arrival first, then by name; and whether more wait. One
    /// walk over the pending outputs, holding at most `max_arrivals` arrivals' outputs.
    pub fn pending_outputs_oldest(
        &self,
        max_arrivals: usize,
        wanted: &dyn Fn(u64) -> bool,
    ) -> Result<Page<PendingOutput>, StoreError> {
        let mut groups: std::collections::BTreeMap<u64, Vec<PendingOutput>> = Default::default();
        let mut more = false;
        self.src.all(Tree::Pending, &mut |_, v| {
            let p: PendingOutput = decode(v)?;
            if !wanted(p.arrival) {
                return Ok(true);
            }
            if let Some(group) = groups.get_mut(&p.arrival) {
                group.push(p);
                return Ok(true);
            }
            if groups.len() == max_arrivals {
                more = true;
                match groups.last_key_value() {
                    Some((&newest, _)) if newest > p.arrival => {
                        groups.remove(&newest);
                    }
                    _ => return Ok(true),
                }
            }
            groups.insert(p.arrival, vec![p]);
            Ok(true)
        })?;
        Ok(Page {
            items: groups.into_values().flatten().collect(),
            more,
        })
    }

    /// The oldest `max` arrivals not yet at rest that `wanted` accepts, oldest first; and
    /// whether more wait. Walks the open arrivals, holding at most `max`.
    pub fn unfinished_oldest(
        &self,
        max: usize,
        wanted: &dyn Fn(&Arrival) -> bool,
    ) -> Result<Page<Arrival>, StoreError> {
        let (mut items, mut more) = (Vec::new(), false);
        self.src.all(Tree::Open, &mut |k, _| {
            let Some(v) = self.src.get(Tree::Arrivals, k)? else {
                return Ok(true);
            };
            let a: Arrival = decode(&v)?;
            if !wanted(&a) {
                return Ok(true);
            }
            more = items.len() == max;
            if !more {
                items.push(a);
            }
            Ok(!more)
        })?;
        Ok(Page { items, more })
    }

    /// Whether the output of this name waits to be published.
    pub fn is_pending(&self, name: &str) -> Result<bool, StoreError> {
        self.src.contains(Tree::Pending, name.as_bytes())
    }

    /// The applicant's notifications due (appeal, status, when it was reached), the oldest
    /// appeals first, at most `max`.
    pub fn notifications_due(&self, max: usize) -> Result<Vec<(u64, String, String)>, StoreError> {
        let mut out = Vec::new();
        let prefix = crate::apply::prefixed(crate::apply::NOTIFY, b"");
        self.src.prefix(Tree::Awaiting, &prefix, &mut |k, v| {
            let rest = &k[prefix.len()..];
            if rest.len() >= 8 {
                let appeal = u64::from_be_bytes(rest[..8].try_into().expect("8 bytes"));
                let status = String::from_utf8_lossy(&rest[8..]).into_owned();
                out.push((appeal, status, String::from_utf8_lossy(v).into_owned()));
            }
            Ok(out.len() < max)
        })?;
        Ok(out)
    }

    /// Whether a person approved the document the output `name` sends (`document_approved`).
    pub fn approved(&self, name: &str) -> Result<bool, StoreError> {
        let k = crate::apply::prefixed(crate::apply::APPROVED, name.as_bytes());
        self.src.contains(Tree::Awaiting, &k)
    }

    /// Our signature of the document the output `name` sends (`document_signed`), if any.
    pub fn signature_of(&self, name: &str) -> Result<Option<medo_model::OurSignature>, StoreError> {
        let k = crate::apply::prefixed(crate::apply::SIGNED, name.as_bytes());
        self.src
            .get(Tree::Awaiting, &k)?
            .map(|v| decode(v.as_ref()))
            .transpose()
    }

    /// How many arrivals are not yet at rest.
    pub fn unfinished_count(&self) -> usize {
        logged("unfinished arrivals", self.src.count(Tree::Open)) as usize
    }

    /// Durability barrier: everything applied so far is on disk when this returns.
    pub fn flush(&self) -> Result<(), StoreError> {
        if let Source::Sled(s) = &self.src {
            s.db.flush()?;
        }
        Ok(())
    }
}

type Trees = (
    sled::transaction::TransactionalTree,
    sled::transaction::TransactionalTree,
    sled::transaction::TransactionalTree,
    sled::transaction::TransactionalTree,
    sled::transaction::TransactionalTree,
    sled::transaction::TransactionalTree,
    sled::transaction::TransactionalTree,
    sled::transaction::TransactionalTree,
    sled::transaction::TransactionalTree,
    sled::transaction::TransactionalTree,
    sled::transaction::TransactionalTree,
);

/// sled's transactional trees as the index's key-value transaction.
struct SledKv<'a>(&'a Trees);

impl SledKv<'_> {
    fn tree(&self, tree: Tree) -> &sled::transaction::TransactionalTree {
        let t = self.0;
        match tree {
            Tree::Arrivals => &t.0,
            Tree::Keys => &t.1,
            Tree::Uids => &t.2,
            Tree::Claims => &t.3,
            Tree::Open => &t.4,
            Tree::Pending => &t.5,
            Tree::Meta => &t.6,
            Tree::Appeals => &t.7,
            Tree::AppealIndex => &t.8,
            Tree::Status => &t.9,
            Tree::Awaiting => &t.10,
        }
    }
}

impl Kv for SledKv<'_> {
    type Error = TxError;
    type Value = sled::IVec;
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<sled::IVec>, TxError> {
        Ok(self.tree(tree).get(key)?)
    }
    fn insert(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<(), TxError> {
        self.tree(tree).insert(key, value)?;
        Ok(())
    }
    fn remove(&self, tree: Tree, key: &[u8]) -> Result<(), TxError> {
        self.tree(tree).remove(key)?;
        Ok(())
    }
}

/// A store error aborts sled's transaction, carried out to its caller.
impl From<StoreError> for TxError {
    fn from(e: StoreError) -> TxError {
        ConflictableTransactionError::Abort(e)
    }
}

impl Store {
    /// Appeals with ids after `after`, in id order, at most `max` of them (the API's pages).
    pub fn appeals_after(&self, after: u64, max: usize) -> Result<Vec<Appeal>, StoreError> {
        self.iter_appeals_after(after).take(max).collect()
    }

    /// Up to `max` appeals of `body` after the id `after`, in id order (the body's index: a
    /// page of one body costs that page, not a walk over the hub's other bodies).
    pub fn body_appeals_after(
        &self,
        body: &str,
        after: u64,
        max: usize,
    ) -> Result<Vec<Appeal>, StoreError> {
        let from = body_key(body, after.saturating_add(1));
        let end = body_key(body, u64::MAX);
        let mut out = Vec::new();
        let range = (Bound::Included(&from[..]), Bound::Included(&end[..]));
        self.src
            .walk(Tree::AppealIndex, range, false, &mut |k, _| {
                let id = read_u64(&k[k.len() - 8..]);
                if id <= after {
                    return Ok(true);
                }
                if let Some(a) = self.appeal_by_id(id)? {
                    out.push(Appeal {
                        pin_hash: None,
                        ..a
                    });
                }
                Ok(out.len() < max)
            })?;
        Ok(out)
    }

    /// The appeals after the id `after`, in id order, decoded one at a time as they are
    /// asked for (a page of the API list holds its page, not the appeals it looked at).
    pub fn iter_appeals_after(
        &self,
        after: u64,
    ) -> impl Iterator<Item = Result<Appeal, StoreError>> + '_ {
        let mut next = after.checked_add(1);
        let mut page = std::collections::VecDeque::new();
        std::iter::from_fn(move || {
            if page.is_empty() {
                page.extend(self.appeals_page(next.take()?, &mut next));
            }
            page.pop_front()
        })
    }

    /// Up to [`APPEALS_PAGE`] appeals from the id `from` on (an error ends the page);
    /// `next` is set to where the following page starts, if one may follow.
    fn appeals_page(&self, from: u64, next: &mut Option<u64>) -> Vec<Result<Appeal, StoreError>> {
        let (mut out, mut last) = (Vec::new(), None);
        let range = (Bound::Included(&be(from)[..]), Bound::Unbounded);
        let walked = self.src.walk(Tree::Appeals, range, false, &mut |k, v| {
            last = Some(read_u64(k));
            let mut a: Appeal = decode(v)?;
            a.pin_hash = None;
            out.push(Ok(a));
            Ok(out.len() < APPEALS_PAGE)
        });
        match walked {
            Err(e) => out.push(Err(e)),
            Ok(()) if out.len() == APPEALS_PAGE => *next = last.and_then(|l| l.checked_add(1)),
            Ok(()) => {}
        }
        out
    }

    fn appeal_by_id(&self, id: u64) -> Result<Option<Appeal>, StoreError> {
        let Some(v) = self.src.get(Tree::Appeals, &be(id))? else {
            return Ok(None);
        };
        let mut a: Appeal = decode(&v)?;
        a.pin_hash = self
            .src
            .get(Tree::AppealIndex, &prefixed(b'p', &be(id)))?
            .map(|p| String::from_utf8_lossy(&p).into_owned().into());
        Ok(Some(a))
    }

    /// The status facts of an appeal: stored, or (saved by an older version) from the appeal.
    fn status_by_id(&self, id: u64) -> Result<Option<StatusFacts>, StoreError> {
        match self.src.get(Tree::Status, &be(id))? {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(self.appeal_by_id(id)?.as_ref().map(StatusFacts::from)),
        }
    }

    /// [`Appeals::find`], reading status facts instead of the appeal; a read error is an
    /// error (the inner `Err` says why a number is not found).
    fn try_find_status(
        &self,
        id: &str,
    ) -> Result<Result<StatusFacts, medo_core::book::Lookup>, StoreError> {
        let failed = std::cell::RefCell::new(None);
        let found = medo_core::book::find_in(
            id,
            |n| remember(&failed, self.number_ids(n)),
            |n| remember(&failed, self.urog_ids(n)),
            |i| remember(&failed, self.status_by_id(i)),
        );
        match failed.into_inner() {
            Some(e) => Err(e),
            None => Ok(found),
        }
    }

    /// What an answer says of each of `ids`, on all cores — a read error is an error.
    pub fn try_find_status_many(
        &self,
        ids: &[String],
    ) -> Result<Vec<Result<StatusFacts, medo_core::book::Lookup>>, StoreError> {
        const SEQUENTIAL_BELOW: usize = 64;
        let (found, ()) = medo_stdx::parallel::map_in_order(
            ids,
            SEQUENTIAL_BELOW,
            |id| self.try_find_status(id),
            || (),
        );
        found.into_iter().collect()
    }

    fn index_id(&self, tag: u8, key: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .src
            .get(Tree::AppealIndex, &prefixed(tag, key.as_bytes()))?
            .map(|v| read_u64(&v)))
    }

    /// The ids that end the appeal index's keys `tag` + `norm` + 0 + id.
    fn ids_under(&self, tag: u8, norm: &str) -> Result<Vec<u64>, StoreError> {
        let mut p = prefixed(tag, norm.as_bytes());
        p.push(0);
        let mut ids = Vec::new();
        self.src.prefix(Tree::AppealIndex, &p, &mut |k, _| {
            ids.push(read_u64(&k[p.len()..]));
            Ok(true)
        })?;
        Ok(ids)
    }

    /// Every value under the key prefix `tag` of `tree`, decoded, in key order.
    fn decoded_under<T: for<'de> Deserialize<'de>>(
        &self,
        tree: Tree,
        tag: u8,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.src.prefix(tree, &prefixed(tag, b""), &mut |_, v| {
            out.push(decode(v)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// The sequence stored under `key` in the appeal index (0 when none).
    fn sequence(&self, key: &[u8]) -> Result<u64, StoreError> {
        Ok(self
            .src
            .get(Tree::AppealIndex, key)?
            .map_or(0, |v| read_u64(&v)))
    }

    fn number_ids(&self, norm: &str) -> Result<Vec<u64>, StoreError> {
        self.ids_under(b'n', norm)
    }

    fn urog_ids(&self, norm: &str) -> Result<Vec<u64>, StoreError> {
        self.ids_under(b'u', norm)
    }

    /// The appeal with this id — a read error is an error (decisions must not guess).
    pub fn try_appeal(&self, id: u64) -> Result<Option<Appeal>, StoreError> {
        self.appeal_by_id(id)
    }

    /// The appeal first received with this document uid — a read error is an error.
    pub fn try_by_document(&self, uid: &str) -> Result<Option<Appeal>, StoreError> {
        match self.index_id(b'd', uid)? {
            Some(id) => self.appeal_by_id(id),
            None => Ok(None),
        }
    }

    /// The next registration sequence number of `year` — a read error is an error (a
    /// guessed number could be a number given twice).
    pub fn try_next_seq(&self, body: &str, year: i32) -> Result<u64, StoreError> {
        Ok(self.sequence(&year_key(body, year))? + 1)
    }

    /// The next outgoing-document sequence number of `year` — a read error is an error.
    pub fn try_next_outgoing_seq(&self, body: &str, year: i32) -> Result<u64, StoreError> {
        Ok(self.sequence(&outgoing_year_key(body, year))? + 1)
    }

    /// The query answered from this arrival — a read error is an error.
    pub fn try_query(&self, arrival: u64) -> Result<Option<QueryFacts>, StoreError> {
        self.src
            .get(Tree::AppealIndex, &prefixed(b'q', &be(arrival)))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Whether the operator command with this id was carried out (journaled) — a read
    /// error is an error.
    pub fn try_command_done(&self, id: &str) -> Result<bool, StoreError> {
        self.src
            .contains(Tree::AppealIndex, &prefixed(b'c', id.as_bytes()))
    }

    /// Queries that reported this (normalised) number as not found.
    pub fn try_queries_awaiting(&self, norm: &str) -> Result<Vec<u64>, StoreError> {
        self.ids_under(b'r', norm)
    }

    /// Our registration number (normalised) → the appeal — a read error is an error.
    pub fn try_ids_by_number(&self, norm: &str) -> Result<Vec<u64>, StoreError> {
        self.number_ids(norm)
    }

    /// Every appeal that carried this УРОГ number (normalised) — a read error is an error.
    pub fn try_ids_by_urog(&self, norm: &str) -> Result<Vec<u64>, StoreError> {
        self.urog_ids(norm)
    }

    /// The appeal first received with this document uid (its id) — a read error is an error.
    pub fn try_id_by_document(&self, uid: &str) -> Result<Option<u64>, StoreError> {
        self.index_id(b'd', uid)
    }

    /// The package of `arrival` held for the hub's operator — a read error is an error.
    pub fn try_unrouted(&self, arrival: u64) -> Result<Option<Unrouted>, StoreError> {
        self.src
            .get(Tree::AppealIndex, &prefixed(b'h', &be(arrival)))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Every package held for the hub's operator, oldest first.
    pub fn try_unrouted_all(&self) -> Result<Vec<Unrouted>, StoreError> {
        self.decoded_under(Tree::AppealIndex, b'h')
    }

    /// An appeal's status facts — a read error is an error.
    pub fn try_status(&self, id: u64) -> Result<Option<StatusFacts>, StoreError> {
        self.status_by_id(id)
    }

    /// Our documents awaiting a receipt.
    pub fn waiting(&self) -> Result<Vec<Waiting>, StoreError> {
        self.decoded_under(Tree::Awaiting, b'w')
    }

    /// The output name of the message we decided to send with this uid.
    pub fn sent(&self, message_uid: &str) -> Result<Option<String>, StoreError> {
        let key = prefixed(b's', message_uid.to_lowercase().as_bytes());
        Ok(self
            .src
            .get(Tree::Awaiting, &key)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The message (uid, output name) a rejected file name cites: a container of ours is
    /// named by its message uid.
    pub fn sent_file(&self, file: &str) -> Result<Option<(String, String)>, StoreError> {
        let Some(uid) = medo_core::outbox::message_uid_of_file(file) else {
            return Ok(None);
        };
        Ok(self.sent(&uid)?.map(|name| (uid, name)))
    }

    /// Receipts that rejected our messages (the partner's negative receipts, the МЭДО
    /// operator's errors), oldest first.
    pub fn rejections(&self) -> Result<Vec<Record>, StoreError> {
        self.decoded_under(Tree::Awaiting, b'x')
    }

    /// Whether we sent a message with this uid and still wait for its receipt.
    pub fn awaits(&self, message_uid: &str) -> Result<bool, StoreError> {
        let key = prefixed(b'w', message_uid.to_lowercase().as_bytes());
        self.src.contains(Tree::Awaiting, &key)
    }
}

impl Store {
    /// The ids of the first (`rev`: last) `max` appeals; a read error ends the list (logged).
    fn ids_of_appeals(&self, rev: bool, max: usize) -> Vec<u64> {
        let mut ids = Vec::new();
        let all = (Bound::Unbounded, Bound::Unbounded);
        let walked = self.src.walk(Tree::Appeals, all, rev, &mut |k, _| {
            ids.push(read_u64(k));
            Ok(ids.len() < max)
        });
        logged("appeals", walked);
        ids
    }
}

/// A read's value, or the default with the (first) error kept in `failed`.
fn remember<T: Default>(
    failed: &std::cell::RefCell<Option<StoreError>>,
    r: Result<T, StoreError>,
) -> T {
    r.unwrap_or_else(|e| {
        failed.borrow_mut().get_or_insert(e);
        T::default()
    })
}

/// For views (HTTP, dashboard, query answers): a store error is logged and reads as "not
/// there" — the store is an index, and `store verify` / a rebuild is the remedy. Decisions
/// use the `try_` reads, where an error stops the pass.
fn logged<T: Default>(what: &str, r: Result<T, StoreError>) -> T {
    r.unwrap_or_else(|e| {
        tracing::error!(error = %e, what, "store read failed");
        T::default()
    })
}

impl Appeals for Store {
    fn appeal(&self, id: u64) -> Option<Appeal> {
        logged("appeal", self.appeal_by_id(id))
    }
    fn after_of(&self, body: &str, after: u64, max: usize) -> Vec<Appeal> {
        logged(
            "a body's appeals",
            self.body_appeals_after(body, after, max),
        )
    }
    fn after(&self, after: u64, max: usize) -> Vec<Appeal> {
        logged("appeals after", self.appeals_after(after, max))
    }
    fn by_document(&self, uid: &str) -> Option<Appeal> {
        let id = logged("appeal by document", self.index_id(b'd', uid));
        id.and_then(|id| self.appeal(id))
    }
    fn ids_by_number(&self, norm: &str) -> Vec<u64> {
        logged("appeals by number", self.number_ids(norm))
    }
    fn ids_by_urog(&self, norm: &str) -> Vec<u64> {
        logged("appeals by УРОГ number", self.urog_ids(norm))
    }
    fn find(&self, id: &str) -> Result<Appeal, medo_core::book::Lookup> {
        medo_core::book::find_in(
            id,
            |n| logged("appeal by number", self.number_ids(n)),
            |n| logged("appeal by УРОГ number", self.urog_ids(n)),
            |i| self.appeal(i),
        )
    }
    /// Reads compact status facts (a whole appeal is kilobytes, and a cold one costs a sled
    /// page load), and splits a long list across the cores.
    fn find_status_many(
        &self,
        ids: &[String],
    ) -> Vec<Result<StatusFacts, medo_core::book::Lookup>> {
        logged("appeal status", self.try_find_status_many(ids).map(Some))
            .unwrap_or_else(|| vec![Err(medo_core::book::Lookup::Unreadable); ids.len()])
    }
    fn next_seq(&self, body: &str, year: i32) -> u64 {
        logged("year sequence", self.sequence(&year_key(body, year))) + 1
    }
    fn all(&self) -> Vec<Appeal> {
        self.ids_of_appeals(false, usize::MAX)
            .into_iter()
            .filter_map(|i| self.appeal(i))
            .collect()
    }
    fn each_open_deadline(&self, visit: &mut dyn FnMut(u64, &DeadlineFacts)) {
        let p = prefixed(b'o', b"");
        let walked = self.src.prefix(Tree::AppealIndex, &p, &mut |k, v| {
            let id = read_u64(&k[p.len()..]);
            // an index written by an older version holds no facts: read the appeal instead
            let facts = decode::<DeadlineFacts>(v)
                .ok()
                .or_else(|| self.appeal(id).map(|a| DeadlineFacts::from(&a)));
            if let Some(facts) = facts {
                visit(id, &facts);
            }
            Ok(true)
        });
        logged("open appeals", walked);
    }
    fn unrouted(&self) -> Vec<Unrouted> {
        logged("held packages", self.try_unrouted_all())
    }
    fn query_facts(&self, arrival: u64) -> Option<QueryFacts> {
        logged("query", self.try_query(arrival))
    }
    fn recent(&self, n: usize) -> Vec<Appeal> {
        self.ids_of_appeals(true, n)
            .into_iter()
            .filter_map(|i| self.appeal(i))
            .collect()
    }
}

/// The arrival as it stands after `record` (pure).
pub(crate) fn next_arrival(record: &Record, current: Option<Arrival>) -> Option<Arrival> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn output(name: &str) -> Output {
        serde_json::from_value(serde_json::json!({
            "name": name, "kind": "receipt", "message_uid": "u", "format": "2.2",
            "created": "2026-12-07T10:00:00+03:00", "recipient_uid": "r", "about_uid": "a",
            "accepted": true,
        }))
        .unwrap()
    }

    /// A store holding arrivals 0..n: each received; those in `decided` decided with the
    /// outputs named `<letter>-<arrival>` (names sort by letter first, as real names sort by
    /// kind: an arrival's siblings are not neighbours in name order).
    fn store(n: u64, decided: &[(u64, &[&str])]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let mut records = Vec::new();
        let mut prev = medo_model::GENESIS.to_string();
        let mut push = |event| {
            let r = Record::new(records.len() as u64, "t".into(), prev.clone(), event);
            prev = r.hash.clone();
            records.push(r);
        };
        for i in 0..n {
            push(Event::Received {
                key: format!("k{i}").into(),
                src: format!("s{i}"),
                claim: format!("c{i}"),
                files: 1,
                bytes: 1,
            });
        }
        for (arrival, letters) in decided {
            push(Event::Decided {
                arrival: *arrival,
                key: format!("k{arrival}").into(),
                outputs: letters
                    .iter()
                    .map(|l| output(&format!("{l}-{arrival}")))
                    .collect(),
            });
        }
        store.apply_all(&records).unwrap();
        (dir, store)
    }

    fn names(page: &Page<PendingOutput>) -> Vec<&str> {
        page.items.iter().map(|p| p.output.name.as_str()).collect()
    }

    #[test]
    fn a_page_of_pending_outputs_holds_the_oldest_arrivals_with_all_their_siblings() {
        let (_d, s) = store(
            4,
            &[(3, &["a", "z"]), (1, &["b", "y"]), (2, &["c"]), (0, &["x"])],
        );
        let all = &|_| true;
        let page = s.pending_outputs_oldest(2, all).unwrap();
        assert_eq!(names(&page), ["x-0", "b-1", "y-1"]);
        assert!(page.more);
        let page = s.pending_outputs_oldest(4, all).unwrap();
        assert_eq!(names(&page), ["x-0", "b-1", "y-1", "c-2", "a-3", "z-3"]);
        assert!(!page.more, "exactly the limit is not more");
        let page = s.pending_outputs_oldest(1, &|a| a != 0).unwrap();
        assert_eq!((names(&page), page.more), (vec!["b-1", "y-1"], true));
        assert!(s.is_pending("z-3").unwrap() && !s.is_pending("z-4").unwrap());
    }

    #[test]
    fn a_page_of_unfinished_arrivals_is_the_oldest_that_are_wanted() {
        let (_d, s) = store(5, &[(1, &["a"]), (3, &["b"])]);
        assert_eq!(s.unfinished_count(), 5);
        let decided = |a: &Arrival| a.state == State::Decided;
        let page = s.unfinished_oldest(1, &decided).unwrap();
        let ids = |p: &Page<Arrival>| p.items.iter().map(|a| a.arrival).collect::<Vec<_>>();
        assert_eq!((ids(&page), page.more), (vec![1], true));
        let page = s.unfinished_oldest(2, &decided).unwrap();
        assert_eq!((ids(&page), page.more), (vec![1, 3], false));
        let page = s
            .unfinished_oldest(2, &|a| a.state == State::Received)
            .unwrap();
        assert_eq!((ids(&page), page.more), (vec![0, 2], true));
    }
}
