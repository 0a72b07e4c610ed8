//! The storage seam: what the loop needs of the system of record and of the index, as two
//! traits, and the one commit that binds them. Today's backend is the files of
//! `state_dir/journal/` ([`crate::journal::Journal`]) and sled ([`crate::index::Store`]); a
//! backend that can do both in one transaction (PostgreSQL, issue 29) implements the same
//! traits and the same [`commit`].
//!
//! The journal's readers — the changes feed, the dashboard's recent log, export, `journal
//! verify`, the start's chain and anchor checks, the folds of the book and the index — read
//! through [`JournalRead`] (files: [`journal::Folder`]), never the folder's segments; the
//! checkpoints, which the files backend keeps in the journal's folder
//! (`journal/checkpoints/`), still read the records there themselves.
//!
//! [`Index`] also says what the loop reads of the index (the arrivals' state machine in
//! bounded pages, the commands carried out, the re-send tracker); the book's views are the
//! core's `Appeals`; [`Book`] is the book as decisions read it (every read error an error).
//! [`Backend`] bundles a journal, an index and the signed notes; the loop is generic over it
//! and the composition root chooses and opens one (files: [`crate::files::Files`]). The
//! operator command queue and the idempotency keys are traits of the spool
//! (`control::Queue`, `idempotency::Keys`).

use medo_model::{Event, Record};

use crate::index::{Arrival, Page, PendingOutput, Store, StoreError};
use crate::journal::{self, JournalError, VerifyReport};
use ed25519_dalek::SigningKey;
use medo_core::book::{Appeal, Appeals, Lookup, QueryFacts, StatusFacts, Unrouted};
use medo_core::resend::Waiting;

use crate::checkpoint::CheckpointError;

/// The journal's read side: records by position, the last ones, a verifying walk. Every
/// record handed out is checked (its own hash, its link to the one before); a backend that
/// cannot vouch for a record says so (an error, or `first_bad` in a walk's report).
pub trait JournalRead {
    /// Records with `from <= seq < until`, at most `max`, each checked against the chain.
    fn read_range(&self, from: u64, until: u64, max: usize) -> Result<Vec<Record>, JournalError>;
    /// The last `n` records.
    fn tail(&self, n: u64) -> Result<Vec<Record>, JournalError>;
    /// Every record in order, verified as it goes, handed to `visit` until it says stop; the
    /// report names the first bad record, if any.
    fn scan(&self, visit: &mut dyn FnMut(&Record) -> bool) -> Result<VerifyReport, JournalError>;
    /// Every record's hash and link checked (`journal verify`).
    fn verify(&self) -> Result<VerifyReport, JournalError>;
    /// At least the last `at_least` records checked (the start's check), the first of them
    /// linked to what comes before on trust.
    fn verify_tail(&self, at_least: u64) -> Result<VerifyReport, JournalError>;

    /// Records with `seq >= from`.
    fn read_from(&self, from: u64) -> Result<Vec<Record>, JournalError> {
        self.read_range(from, u64::MAX, usize::MAX)
    }

    /// Every record to `visit`, none kept; a bad record stops it with an error naming it.
    fn fold_all(&self, visit: &mut dyn FnMut(&Record)) -> Result<(), JournalError> {
        let report = self.scan(&mut |r| {
            visit(r);
            true
        })?;
        report.intact()
    }
}

/// The system of record: an append-only, hash-chained sequence of records, read as any
/// [`JournalRead`].
pub trait Journal: JournalRead {
    /// The seq the next record will get.
    fn next_seq(&self) -> u64;
    /// The hash of the last record (or [`medo_model::GENESIS`]).
    fn head(&self) -> &str;
    /// The time of the last record (RFC 3339), if any.
    fn last_ts(&self) -> Option<&str>;
    /// Appends `events` at `now` as one group commit, durable when it returns; an error is
    /// fatal (the caller stops).
    fn append(&mut self, events: Vec<Event>, now: &str) -> Result<Vec<Record>, JournalError>;
}

/// The index: records applied in journal order (made durable by `flush`), and what the loop
/// reads of them — the arrivals' state machine (an arrival by id, key, header uid or claim;
/// the unfinished ones and the outputs waiting, in bounded pages), the commands carried out,
/// the re-send tracker. Every read error is an error, never "not there". (The book's views
/// are the core's `Appeals`, which the backend implements too.)
pub trait Index {
    /// Applies records (their seqs follow the last applied one) with their related updates.
    fn apply_all(&self, records: &[Record]) -> Result<(), StoreError>;
    /// The durability barrier before any effect of the applied records.
    fn flush(&self) -> Result<(), StoreError>;
    /// The seq of the last record applied (`None`: none yet).
    fn applied_seq(&self) -> Result<Option<u64>, StoreError>;
    /// The hash of the last record applied.
    fn head(&self) -> Result<Option<String>, StoreError>;

    /// An arrival by its id (the seq of its `received` record).
    fn arrival(&self, id: u64) -> Result<Option<Arrival>, StoreError>;
    /// The first arrival with this package key.
    fn by_key(&self, key: &str) -> Result<Option<u64>, StoreError>;
    /// The first arrival with this header uid.
    fn by_uid(&self, uid: &str) -> Result<Option<u64>, StoreError>;
    /// The arrival claimed under this name.
    fn by_claim(&self, claim: &str) -> Result<Option<u64>, StoreError>;
    /// The oldest `max` arrivals not yet at rest that `wanted` accepts, and whether more wait.
    fn unfinished_oldest(
        &self,
        max: usize,
        wanted: &dyn Fn(&Arrival) -> bool,
    ) -> Result<Page<Arrival>, StoreError>;
    /// How many arrivals are not yet at rest.
    fn unfinished_count(&self) -> usize;
    /// Every pending output of the oldest `max_arrivals` arrivals `wanted` accepts.
    fn pending_outputs_oldest(
        &self,
        max_arrivals: usize,
        wanted: &dyn Fn(u64) -> bool,
    ) -> Result<Page<PendingOutput>, StoreError>;
    /// Whether the output of this name waits to be published.
    fn is_pending(&self, name: &str) -> Result<bool, StoreError>;
    /// Whether a person approved the document the output `name` sends.
    fn approved(&self, name: &str) -> Result<bool, StoreError>;
    /// The applicant's notifications due (appeal, status, when reached), at most `max`.
    fn notifications_due(&self, max: usize) -> Result<Vec<(u64, String, String)>, StoreError>;
    /// Our signature of the document the output `name` sends (`[signing]`), if journaled.
    fn signature_of(&self, name: &str) -> Result<Option<medo_model::OurSignature>, StoreError>;
    /// Whether the operator command `id` was carried out (journaled).
    fn command_done(&self, id: &str) -> Result<bool, StoreError>;
    /// Our documents waiting for a receipt (the re-send tracker).
    fn waiting(&self) -> Result<Vec<Waiting>, StoreError>;
    /// Whether a receipt for our message `message_uid` is awaited.
    fn awaits(&self, message_uid: &str) -> Result<bool, StoreError>;
    /// The output name of the message we decided to send with this uid.
    fn sent(&self, message_uid: &str) -> Result<Option<String>, StoreError>;
    /// Our output (name, message uid) that carried the file `file`.
    fn sent_file(&self, file: &str) -> Result<Option<(String, String)>, StoreError>;
}

impl crate::migrate::Import for journal::Journal {
    fn import(&mut self, records: &[Record]) -> Result<(), JournalError> {
        journal::Journal::import(self, records)
    }
}

impl Journal for journal::Journal {
    fn next_seq(&self) -> u64 {
        journal::Journal::next_seq(self)
    }
    fn head(&self) -> &str {
        journal::Journal::head(self)
    }
    fn last_ts(&self) -> Option<&str> {
        journal::Journal::last_ts(self)
    }
    fn append(&mut self, events: Vec<Event>, now: &str) -> Result<Vec<Record>, JournalError> {
        journal::Journal::append(self, events, now)
    }
}

/// The open journal reads as its folder does.
impl JournalRead for journal::Journal {
    fn read_range(&self, from: u64, until: u64, max: usize) -> Result<Vec<Record>, JournalError> {
        journal::read_range(self.dir(), from, until, max)
    }
    fn tail(&self, n: u64) -> Result<Vec<Record>, JournalError> {
        journal::tail(self.dir(), n)
    }
    fn scan(&self, visit: &mut dyn FnMut(&Record) -> bool) -> Result<VerifyReport, JournalError> {
        journal::scan(self.dir(), visit)
    }
    fn verify(&self) -> Result<VerifyReport, JournalError> {
        journal::verify(self.dir())
    }
    fn verify_tail(&self, at_least: u64) -> Result<VerifyReport, JournalError> {
        journal::verify_tail(self.dir(), at_least)
    }
}

/// A journal's folder, read (by any process, with or without the writer running).
impl JournalRead for journal::Folder {
    fn read_range(&self, from: u64, until: u64, max: usize) -> Result<Vec<Record>, JournalError> {
        journal::read_range(self.path(), from, until, max)
    }
    fn tail(&self, n: u64) -> Result<Vec<Record>, JournalError> {
        journal::tail(self.path(), n)
    }
    fn scan(&self, visit: &mut dyn FnMut(&Record) -> bool) -> Result<VerifyReport, JournalError> {
        journal::scan(self.path(), visit)
    }
    fn verify(&self) -> Result<VerifyReport, JournalError> {
        journal::verify(self.path())
    }
    fn verify_tail(&self, at_least: u64) -> Result<VerifyReport, JournalError> {
        journal::verify_tail(self.path(), at_least)
    }
}

impl Index for Store {
    fn apply_all(&self, records: &[Record]) -> Result<(), StoreError> {
        Store::apply_all(self, records)
    }
    fn flush(&self) -> Result<(), StoreError> {
        Store::flush(self)
    }
    fn applied_seq(&self) -> Result<Option<u64>, StoreError> {
        Store::applied_seq(self)
    }
    fn head(&self) -> Result<Option<String>, StoreError> {
        Store::head(self)
    }
    fn arrival(&self, id: u64) -> Result<Option<Arrival>, StoreError> {
        Store::arrival(self, id)
    }
    fn by_key(&self, key: &str) -> Result<Option<u64>, StoreError> {
        Store::by_key(self, key)
    }
    fn by_uid(&self, uid: &str) -> Result<Option<u64>, StoreError> {
        Store::by_uid(self, uid)
    }
    fn by_claim(&self, claim: &str) -> Result<Option<u64>, StoreError> {
        Store::by_claim(self, claim)
    }
    fn unfinished_oldest(
        &self,
        max: usize,
        wanted: &dyn Fn(&Arrival) -> bool,
    ) -> Result<Page<Arrival>, StoreError> {
        Store::unfinished_oldest(self, max, wanted)
    }
    fn unfinished_count(&self) -> usize {
        Store::unfinished_count(self)
    }
    fn pending_outputs_oldest(
        &self,
        max_arrivals: usize,
        wanted: &dyn Fn(u64) -> bool,
    ) -> Result<Page<PendingOutput>, StoreError> {
        Store::pending_outputs_oldest(self, max_arrivals, wanted)
    }
    fn is_pending(&self, name: &str) -> Result<bool, StoreError> {
        Store::is_pending(self, name)
    }
    fn signature_of(&self, name: &str) -> Result<Option<medo_model::OurSignature>, StoreError> {
        Store::signature_of(self, name)
    }
    fn approved(&self, name: &str) -> Result<bool, StoreError> {
        Store::approved(self, name)
    }
    fn notifications_due(&self, max: usize) -> Result<Vec<(u64, String, String)>, StoreError> {
        Store::notifications_due(self, max)
    }
    fn command_done(&self, id: &str) -> Result<bool, StoreError> {
        Store::try_command_done(self, id)
    }
    fn waiting(&self) -> Result<Vec<Waiting>, StoreError> {
        Store::waiting(self)
    }
    fn awaits(&self, message_uid: &str) -> Result<bool, StoreError> {
        Store::awaits(self, message_uid)
    }
    fn sent(&self, message_uid: &str) -> Result<Option<String>, StoreError> {
        Store::sent(self, message_uid)
    }
    fn sent_file(&self, file: &str) -> Result<Option<(String, String)>, StoreError> {
        Store::sent_file(self, file)
    }
}

/// The book as the decisions read it: every read can fail, and a failure is an error, never
/// "not there" (a guessed "not there" could register an appeal twice or give a number twice).
/// The engine's strict view turns these into the core's `BookView`.
pub trait Book {
    /// The appeal with this id.
    fn try_appeal(&self, id: u64) -> Result<Option<Appeal>, StoreError>;
    /// The first appeal received with this document uid (its id).
    fn try_id_by_document(&self, uid: &str) -> Result<Option<u64>, StoreError>;
    /// Our registration number (normalised) → the appeals carrying it (one per body).
    fn try_ids_by_number(&self, norm: &str) -> Result<Vec<u64>, StoreError>;
    /// Every appeal that carried this УРОГ number (normalised).
    fn try_ids_by_urog(&self, norm: &str) -> Result<Vec<u64>, StoreError>;
    /// An appeal's status facts.
    fn try_status(&self, id: u64) -> Result<Option<StatusFacts>, StoreError>;
    /// What an answer says of each of `ids`.
    fn try_find_status_many(
        &self,
        ids: &[String],
    ) -> Result<Vec<Result<StatusFacts, Lookup>>, StoreError>;
    /// The next registration sequence number of `body` in `year`.
    fn try_next_seq(&self, body: &str, year: i32) -> Result<u64, StoreError>;
    /// The next outgoing-document sequence number of `body` in `year`.
    fn try_next_outgoing_seq(&self, body: &str, year: i32) -> Result<u64, StoreError>;
    /// The query answered from this arrival.
    fn try_query(&self, arrival: u64) -> Result<Option<QueryFacts>, StoreError>;
    /// Queries that reported this (normalised) number as not found.
    fn try_queries_awaiting(&self, norm: &str) -> Result<Vec<u64>, StoreError>;
    /// The package of `arrival` held for the hub's operator (no body named), if it is.
    fn try_unrouted(&self, arrival: u64) -> Result<Option<Unrouted>, StoreError>;
}

impl Book for Store {
    fn try_appeal(&self, id: u64) -> Result<Option<Appeal>, StoreError> {
        Store::try_appeal(self, id)
    }
    fn try_id_by_document(&self, uid: &str) -> Result<Option<u64>, StoreError> {
        Store::try_id_by_document(self, uid)
    }
    fn try_ids_by_number(&self, norm: &str) -> Result<Vec<u64>, StoreError> {
        Store::try_ids_by_number(self, norm)
    }
    fn try_ids_by_urog(&self, norm: &str) -> Result<Vec<u64>, StoreError> {
        Store::try_ids_by_urog(self, norm)
    }
    fn try_status(&self, id: u64) -> Result<Option<StatusFacts>, StoreError> {
        Store::try_status(self, id)
    }
    fn try_find_status_many(
        &self,
        ids: &[String],
    ) -> Result<Vec<Result<StatusFacts, Lookup>>, StoreError> {
        Store::try_find_status_many(self, ids)
    }
    fn try_next_seq(&self, body: &str, year: i32) -> Result<u64, StoreError> {
        Store::try_next_seq(self, body, year)
    }
    fn try_next_outgoing_seq(&self, body: &str, year: i32) -> Result<u64, StoreError> {
        Store::try_next_outgoing_seq(self, body, year)
    }
    fn try_query(&self, arrival: u64) -> Result<Option<QueryFacts>, StoreError> {
        Store::try_query(self, arrival)
    }
    fn try_queries_awaiting(&self, norm: &str) -> Result<Vec<u64>, StoreError> {
        Store::try_queries_awaiting(self, norm)
    }
    fn try_unrouted(&self, arrival: u64) -> Result<Option<Unrouted>, StoreError> {
        Store::try_unrouted(self, arrival)
    }
}

/// Who signs the journal's notes: the checkpoint key, the origin line, and how many records
/// a checkpoint is signed after (`checkpoint_every`).
pub struct Notary<'a> {
    pub key: &'a SigningKey,
    pub origin: &'a str,
    pub every: u64,
}

impl Notary<'_> {
    /// Whether a commit that took the journal from `before` to `end` records passed a
    /// multiple of `every`: a numbered checkpoint is then signed.
    pub fn checkpoint_due(&self, before: u64, end: u64) -> bool {
        before / self.every != end / self.every
    }
}

/// One storage backend as the loop sees it, opened (and checked) by the composition root:
/// the journal, the index over it (arrivals, book, re-sends), and the signed notes that
/// bind them. Today's is [`crate::files::Files`] (the journal's segments, sled, notes as
/// files); the next (PostgreSQL, issue 29) implements the same and the loop does not change.
pub trait Backend {
    type Journal: Journal;
    /// The index: read by the loop ([`Index`]), by the decisions ([`Book`]) and by the views
    /// (the core's `Appeals`); a clone reads the same index (the service hands one to HTTP
    /// and the decisions read one beside the loop's writes).
    type Index: Index + Book + Appeals + Clone + Send + Sync + 'static;

    fn journal(&self) -> &Self::Journal;
    fn index(&self) -> &Self::Index;
    /// One group commit: `events` journaled, the notes signed (the anchor of every commit, a
    /// checkpoint when the journal passed a multiple of `notary.every`), the index applied and
    /// flushed — [`commit`]'s assertions hold for every backend.
    fn commit(
        &mut self,
        events: Vec<Event>,
        now: &str,
        notary: &Notary,
    ) -> Result<Vec<Record>, CommitError<CheckpointError>>;
    /// Signs a checkpoint of the journal as it stands (a clean shutdown).
    fn checkpoint(&self, notary: &Notary) -> Result<(), CheckpointError>;
    /// Whether this backend has lost the right to commit (a database's lease, lost to a
    /// frozen pause or an outage): the service steps down before the next commit is refused.
    /// The files backend never does.
    fn stepped_down(&self) -> bool {
        false
    }
}

/// Records applied per transaction when replaying the journal.
const REPLAY_BATCH: usize = 512;

/// Why the index could not be rebuilt from the journal.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    /// The journal holds a record that does not verify: the index stops before it.
    #[error("{0}")]
    Unverified(crate::journal::BadRecord),
}

/// Replays a whole journal into an emptied store.
pub fn rebuild(store: &Store, journal: &dyn JournalRead) -> Result<u64, RebuildError> {
    store.clear()?;
    let mut applied = 0u64;
    let mut failure: Option<StoreError> = None;
    let mut batch: Vec<Record> = Vec::with_capacity(REPLAY_BATCH);
    let report = journal.scan(&mut |r| {
        batch.push(r.clone());
        if batch.len() < REPLAY_BATCH {
            return true;
        }
        match store.apply_all(&batch) {
            Ok(()) => {
                applied += batch.len() as u64;
                batch.clear();
                true
            }
            Err(e) => {
                failure = Some(e);
                false
            }
        }
    })?;
    if failure.is_none() && !batch.is_empty() {
        match store.apply_all(&batch) {
            Ok(()) => applied += batch.len() as u64,
            Err(e) => failure = Some(e),
        }
    }
    if let Some(e) = failure {
        return Err(e.into());
    }
    if let Some(bad) = report.first_bad {
        return Err(RebuildError::Unverified(bad));
    }
    store.mark_schema()?;
    store.flush()?;
    Ok(applied)
}

/// Why a commit stopped: the journal, the index, or the step between them.
#[derive(Debug, thiserror::Error)]
pub enum CommitError<E> {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Index(#[from] StoreError),
    #[error(transparent)]
    Between(E),
}

/// One commit: `events` journaled as one group commit, then `between` (checkpoints, the
/// anchor: what must hold before the index moves), then the records applied to the index and
/// flushed. Paired assertions: the records continue the journal exactly (contiguous seqs from
/// its previous end, each linked to the one before), and afterwards the index has applied
/// exactly up to the journal's last record — a torn apply is a bug, never a state.
pub fn commit<J: Journal + ?Sized, I: Index + ?Sized, E>(
    journal: &mut J,
    index: &I,
    events: Vec<Event>,
    now: &str,
    between: impl FnOnce(&J, &[Record]) -> Result<(), E>,
) -> Result<Vec<Record>, CommitError<E>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let (first, prev) = (journal.next_seq(), journal.head().to_string());
    let records = journal.append(events, now)?;
    assert_continues(&records, first, &prev);
    assert_eq!(journal.next_seq(), first + records.len() as u64);
    between(journal, &records).map_err(CommitError::Between)?;
    index.apply_all(&records)?;
    index.flush()?;
    assert_eq!(
        index.applied_seq()?,
        Some(journal.next_seq() - 1),
        "the index applied up to the journal's last record"
    );
    Ok(records)
}

/// The records are numbered from `first` on, without a gap, each linked to the one before
/// (the first to `prev`, the journal's head before the append).
fn assert_continues(records: &[Record], first: u64, prev: &str) {
    let mut link = prev;
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.seq, first + i as u64, "journal seqs are contiguous");
        assert_eq!(r.prev, link, "record {} links to the one before", r.seq);
        link = &r.hash;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u64) -> Event {
        Event::ServiceStart {
            version: format!("t{n}"),
        }
    }

    /// A commit journals, runs the step between, applies and flushes: the index ends where
    /// the journal ends, and a second commit continues both.
    #[test]
    fn a_commit_leaves_the_index_at_the_journals_end() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = journal::Journal::open(&dir.path().join("journal")).unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let mut seen = Vec::new();
        for round in 0..2u64 {
            let records = commit(
                &mut j,
                &store,
                vec![event(round), event(round + 10)],
                "2026-12-07T10:00:00Z",
                |j, r| {
                    seen.push((j.next_seq(), r.len()));
                    Ok::<(), String>(())
                },
            )
            .unwrap();
            assert_eq!(records.len(), 2);
            assert_eq!(
                Index::applied_seq(&store).unwrap(),
                Some(Journal::next_seq(&j) - 1)
            );
        }
        assert_eq!(
            seen,
            [(2, 2), (4, 2)],
            "the step between sees the journal already written"
        );
        // the read side reads the same folder the commits wrote: the writer's and a reader's
        let folder = journal::Folder::new(dir.path().join("journal"));
        for reader in [&j as &dyn JournalRead, &folder] {
            assert_eq!(reader.read_range(0, 4, 10).unwrap().len(), 4);
            assert_eq!(reader.read_from(2).unwrap()[0].seq, 2);
            assert_eq!(reader.tail(1).unwrap()[0].seq, 3);
            let report = reader.verify().unwrap();
            assert_eq!((report.records, report.first_bad), (4, None));
            assert_eq!(reader.verify_tail(1).unwrap().records, 4);
            let mut seen = Vec::new();
            reader.fold_all(&mut |r| seen.push(r.seq)).unwrap();
            assert_eq!(seen, [0, 1, 2, 3]);
            let mut first_two = 0;
            let report = reader
                .scan(&mut |_| {
                    first_two += 1;
                    first_two < 2
                })
                .unwrap();
            assert_eq!(
                (first_two, report.first_bad),
                (2, None),
                "the visitor stops the walk"
            );
        }
    }

    /// A step between that fails stops the commit before the index moves (the records are
    /// journaled: the start's catch-up applies them).
    #[test]
    fn a_failed_step_between_leaves_the_index_where_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = journal::Journal::open(&dir.path().join("journal")).unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let err = commit(
            &mut j,
            &store,
            vec![event(1)],
            "2026-12-07T10:00:00Z",
            |_, _| Err("anchor"),
        );
        assert!(matches!(err, Err(CommitError::Between("anchor"))));
        assert_eq!(Journal::next_seq(&j), 1);
        assert_eq!(Index::applied_seq(&store).unwrap(), None);
    }

    /// The loop reads the arrivals' state machine through the trait: what a commit applied
    /// is there by id, key and claim, unfinished until it rests, its output pending until
    /// published.
    #[test]
    fn the_index_answers_the_arrivals_state_machine_through_the_trait() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = journal::Journal::open(&dir.path().join("journal")).unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let output: medo_model::Output = serde_json::from_value(serde_json::json!({
            "name": "receipt-k-0", "kind": "receipt", "message_uid": "u", "format": "2.2",
            "created": "2026-12-07T10:00:00+03:00", "recipient_uid": "r", "about_uid": "a",
            "accepted": true,
        }))
        .unwrap();
        let events = vec![
            Event::Received {
                key: "k".into(),
                src: "54334177".into(),
                claim: "c0".into(),
                files: 1,
                bytes: 1,
            },
            // the key and the header uid are known once the package is parsed
            Event::Parsed {
                arrival: 0,
                key: "k".into(),
                header_uid: "h".into(),
                header_type: "Документ".into(),
                format: medo_model::Format::V22,
                source_uid: "s".into(),
                document_uid: None,
                warnings: 0,
            },
            Event::Decided {
                arrival: 0,
                key: "k".into(),
                outputs: vec![output],
            },
        ];
        let ok = |_: &journal::Journal, _: &[Record]| Ok::<(), String>(());
        commit(&mut j, &store, events, "2026-12-07T10:00:00Z", ok).unwrap();
        let index: &dyn Index = &store;
        assert_eq!(
            index.arrival(0).unwrap().map(|a| a.claim),
            Some("c0".into())
        );
        assert_eq!(
            (index.by_key("k").unwrap(), index.by_claim("c0").unwrap()),
            (Some(0), Some(0))
        );
        assert_eq!(index.by_uid("h").unwrap(), Some(0));
        assert_eq!(index.by_key("other").unwrap(), None);
        assert_eq!(index.unfinished_count(), 1);
        let page = index.unfinished_oldest(10, &|_| true).unwrap();
        assert_eq!((page.items.len(), page.more), (1, false));
        assert!(index.is_pending("receipt-k-0").unwrap());
        let published = Event::Published {
            arrival: 0,
            key: "k".into(),
            name: "receipt-k-0".into(),
            sha256: "s".into(),
        };
        commit(&mut j, &store, vec![published], "2026-12-07T10:00:01Z", ok).unwrap();
        assert!(!index.is_pending("receipt-k-0").unwrap());
        assert_eq!(index.head().unwrap().as_deref(), Some(Journal::head(&j)));
    }

    #[test]
    #[should_panic(expected = "journal seqs are contiguous")]
    fn records_that_skip_a_seq_are_a_bug() {
        let a = Record::new(0, "t".into(), medo_model::GENESIS.into(), event(0));
        let b = Record::new(2, "t".into(), a.hash.clone(), event(1));
        assert_continues(&[a, b], 0, medo_model::GENESIS);
    }
}
