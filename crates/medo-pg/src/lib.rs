//! PostgreSQL as the system of record (issue 29): the journal's lines in a table — the same
//! canonical line per record and the same hash chain as the files' segments (`medo_store::
//! journal`), so a journal exported from either backend verifies with the same `journal
//! verify` — and a group commit as one transaction.
//!
//! The table `medo_journal (seq bigint primary key, line text)` holds each record's line
//! exactly as a segment file would (without its newline). Reading hands every line through
//! the files' own checks ([`medo_store::journal::LineWalk`]): its own hash, `prev` = the hash
//! before, contiguous `seq` — a row changed, removed or reordered in the database is named
//! the way a changed line of a segment is.
//!
//! Client: the synchronous `postgres` crate (tokio-postgres under its own small runtime) —
//! the loop and the storage seam are synchronous, and no ORM: the SQL is a handful of
//! statements, written here where a reader sees them.

use std::sync::Mutex;

use medo_model::{Event, Record, GENESIS};
use medo_store::journal::{JournalError, LineWalk, VerifyReport};
use medo_store::{Journal, JournalRead};
use postgres::{Client, NoTls};

/// The journal's table, created when missing (idempotent; one statement per object).
pub const SCHEMA: &str = "
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS medo_journal (
    seq  bigint PRIMARY KEY CHECK (seq >= 0),
    line text   NOT NULL
);
CREATE TABLE IF NOT EXISTS medo_lease (
    id      smallint    PRIMARY KEY CHECK (id = 1),
    holder  text        NOT NULL,
    epoch   bigint      NOT NULL,
    expires timestamptz NOT NULL
);
";

pub mod backend;
pub mod index;
pub mod lease;
pub mod read;
pub mod testing;

/// Runs `f` where the synchronous client may block: here, or — when called on an async
/// runtime's thread (an HTTP handler, a value dropped in a task) — on a thread of its own
/// (the client drives its connection with a runtime of its own, which cannot start inside
/// another's).
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The advisory lock the creation of tables is taken under (any constant of ours).
const SCHEMA_LOCK: &str = "SELECT pg_advisory_xact_lock(7262993001)";

/// Creates tables (idempotent `CREATE … IF NOT EXISTS`) one session at a time: two sessions
/// creating the same table at once can fail on the catalog's unique index
/// (`pg_type_typname_nsp_index`) — two nodes starting on a fresh database, or a command
/// beside the starting service (found by a test).
pub(crate) fn create_schema(client: &mut Client, sql: &str) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    tx.batch_execute(SCHEMA_LOCK)?;
    tx.batch_execute(sql)?;
    tx.commit()
}

/// Records replayed per statement batch by `store rebuild`.
const REBUILD_PAGE: usize = 512;

/// Locks the lease table against every writer for the transaction's span (a leader's
/// commit share-locks its row, a renewal or a take updates it); the live lease's holder,
/// if a node leads.
fn lock_lease(tx: &mut postgres::Transaction<'_>) -> Result<Option<String>, JournalError> {
    tx.batch_execute("LOCK TABLE medo_lease IN EXCLUSIVE MODE")
        .map_err(db("locking the lease"))?;
    let live = tx
        .query_opt(
            "SELECT holder FROM medo_lease WHERE id = 1 AND expires > clock_timestamp()",
            &[],
        )
        .map_err(db("reading the lease"))?;
    Ok(live.map(|r| r.get(0)))
}

fn leads_now(holder: String) -> JournalError {
    JournalError::Database {
        doing: "checking that no node leads",
        why: format!(
            "node {holder} leads (its lease is live): stop every gateway of the database first"
        ),
    }
}

/// Rows read per round trip when walking the journal.
const ROWS_PER_READ: i64 = 10_000;

/// What the walks name as the source of a bad line.
const SOURCE: &str = "medo_journal";

pub(crate) fn db(doing: &'static str) -> impl FnOnce(postgres::Error) -> JournalError {
    move |e| JournalError::Database {
        doing,
        why: e
            .as_db_error()
            .map_or_else(|| e.to_string(), |d| d.to_string()),
    }
}

/// The journal in PostgreSQL: one connection appends (its transactions are the group
/// commits), another reads.
pub struct PgJournal {
    /// Where to connect again after a lost connection.
    url: String,
    /// Connections made again after one was lost (said to operators and tests).
    reconnects: std::sync::atomic::AtomicU64,
    write: Client,
    read: Mutex<Client>,
    next_seq: u64,
    head: String,
    last_ts: Option<String>,
    /// The lease this node writes under ([`PgJournal::lead`]); `None`: it writes only while no
    /// node holds a live lease (a migration into an empty database).
    fence: Option<lease::Lease>,
    /// The index's writes of the commits since [`PgJournal::take_writes`] last took them
    /// (`None`: not known — a commit resolved by reading it back — every cached read goes).
    writes: Option<index::Writes>,
}

impl PgJournal {
    /// Connects (`url`: `postgresql://user:password@host:port/database`), creates the table
    /// when missing, and reads where the journal ends (its last row, checked on its own).
    pub fn open(url: &str) -> Result<PgJournal, JournalError> {
        let mut write = Client::connect(url, NoTls).map_err(db("connecting"))?;
        create_schema(&mut write, SCHEMA).map_err(db("creating the table"))?;
        create_schema(&mut write, index::SCHEMA).map_err(db("creating the index's table"))?;
        index::mark_schema(&mut write).map_err(db("marking the index"))?;
        PgJournal::connected(url, write)
    }

    /// [`PgJournal::open`] for a reader that writes nothing (the changes feed, the webhooks,
    /// the dashboard — opened per read): no tables created or marked (a database no node has
    /// opened yet reads as an error), so readers never queue on the creation's lock.
    pub fn open_read(url: &str) -> Result<PgJournal, JournalError> {
        let write = Client::connect(url, NoTls).map_err(db("connecting"))?;
        PgJournal::connected(url, write)
    }

    fn connected(url: &str, write: Client) -> Result<PgJournal, JournalError> {
        let read = Client::connect(url, NoTls).map_err(db("connecting"))?;
        let mut journal = PgJournal {
            url: url.to_string(),
            reconnects: Default::default(),
            write,
            read: Mutex::new(read),
            next_seq: 0,
            head: GENESIS.to_string(),
            last_ts: None,
            fence: None,
            writes: Some(index::Writes::new()),
        };
        journal.find_end()?;
        Ok(journal)
    }

    /// Takes the lease as `holder` for `lease` when no node holds a live one (see
    /// [`lease::try_take`]), and reads where the journal ends now — another node may have
    /// written since this one last looked. `None`: another node leads.
    pub fn lead(
        &mut self,
        holder: &str,
        lease: std::time::Duration,
    ) -> Result<Option<u64>, JournalError> {
        let Some(taken) = self.on_writer(|c| lease::try_take(c, holder, lease))? else {
            return Ok(None);
        };
        let epoch = taken.epoch;
        self.fence = Some(taken);
        self.find_end()?;
        Ok(Some(epoch))
    }

    /// Extends this node's lease; `false`: it no longer leads (it expired, or another node
    /// took it) — the caller steps down.
    pub fn renew(&mut self, lease: std::time::Duration) -> Result<bool, JournalError> {
        let Some(held) = &self.fence else {
            return Ok(false);
        };
        let held = held.clone();
        let renewed = self.on_writer(|c| lease::renew(c, &held, lease))?;
        if !renewed {
            self.fence = None;
        }
        Ok(renewed)
    }

    /// `op` on the writing connection; a connection found lost is made again and `op` tried
    /// once more (the lease's statements may repeat: a take that happened unknown to us is
    /// found live and ours' expiry waited out, a renewal is the same twice).
    fn on_writer<T>(
        &mut self,
        op: impl Fn(&mut Client) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        match op(&mut self.write) {
            Err(_) if self.write.is_closed() => {
                self.write = self.connect_again()?;
                op(&mut self.write)
            }
            done => done,
        }
    }

    /// Who holds the lease, its epoch, and whether it is live (`None`: never taken).
    pub fn lease_holder(&mut self) -> Result<Option<(lease::Lease, bool)>, JournalError> {
        self.on_writer(lease::holder)
    }

    /// The index's writes of the commits since the last call (`None`: not known — forget
    /// every cached read), for a leader's read cache.
    pub fn take_writes(&mut self) -> Option<index::Writes> {
        self.writes.replace(index::Writes::new())
    }

    /// Gives up the lease this node leads under (a clean stop), if it still holds it.
    pub fn step_down(&mut self) -> Result<(), JournalError> {
        if let Some(held) = self.fence.take() {
            self.on_writer(|c| lease::release(c, &held))?;
        }
        Ok(())
    }

    /// `store rebuild`: the index's table rebuilt from the journal's, in one transaction
    /// (the old index stands until it commits). Refused while a node leads; the lease table
    /// is locked for the rebuild's span, so that none takes the lease (nor commits) meanwhile.
    /// `progress` hears how many records are replayed; the count is returned.
    pub fn rebuild_index(&self, progress: &mut dyn FnMut(u64)) -> Result<u64, JournalError> {
        let mut client = Client::connect(&self.url, NoTls).map_err(db("connecting"))?;
        let mut tx = client.transaction().map_err(db("beginning the rebuild"))?;
        if let Some(holder) = lock_lease(&mut tx)? {
            return Err(leads_now(holder));
        }
        tx.batch_execute("DELETE FROM medo_index")
            .map_err(db("emptying the index"))?;
        index::mark_schema(&mut tx).map_err(db("marking the index"))?;
        let (mut from, mut replayed) = (0u64, 0u64);
        loop {
            let page = self.read_range(from, u64::MAX, REBUILD_PAGE)?;
            let Some(last) = page.last() else { break };
            from = last.seq + 1;
            index::apply(&mut tx, &page).map_err(|e| JournalError::Database {
                doing: "rebuilding the index",
                why: e.to_string(),
            })?;
            replayed += page.len() as u64;
            progress(replayed);
        }
        tx.commit().map_err(db("committing the rebuild"))?;
        Ok(replayed)
    }

    /// Runs `check` while no node leads and none can start to (`store verify`: the journal
    /// and the index hold still meanwhile); refused while a node leads.
    pub fn while_nobody_leads<T>(
        &self,
        check: impl FnOnce() -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        let mut client = Client::connect(&self.url, NoTls).map_err(db("connecting"))?;
        let mut tx = client.transaction().map_err(db("beginning the check"))?;
        if let Some(holder) = lock_lease(&mut tx)? {
            return Err(leads_now(holder));
        }
        let out = check();
        tx.rollback().map_err(db("ending the check"))?;
        out
    }

    /// The lease this node writes under, if it leads.
    pub fn leads(&self) -> Option<&lease::Lease> {
        self.fence.as_ref()
    }

    /// Reads where the journal ends: its last row, checked on its own.
    fn find_end(&mut self) -> Result<(), JournalError> {
        let last = self
            .write
            .query_opt(
                "SELECT seq, line FROM medo_journal ORDER BY seq DESC LIMIT 1",
                &[],
            )
            .map_err(db("reading the last record"))?;
        let Some(row) = last else {
            (self.next_seq, self.head, self.last_ts) = (0, GENESIS.to_string(), None);
            return Ok(());
        };
        let seq: i64 = row.get(0);
        let line: String = row.get(1);
        let mut walk = LineWalk::new(SOURCE, seq_u64(seq), "", None);
        walk.batch(&[line.as_bytes()]);
        let report = walk.finish();
        if let Some(bad) = report.first_bad.clone() {
            return Err(report_error(bad));
        }
        let record: Record = serde_json::from_str(&line).map_err(|e| JournalError::Corrupt {
            file: SOURCE.into(),
            line: seq_u64(seq) + 1,
            problem: e.to_string(),
        })?;
        (self.next_seq, self.head) = (report.records, report.head);
        self.last_ts = Some(record.ts);
        Ok(())
    }

    /// The rows `from <= seq < until`, at most `max`, as lines (one round trip).
    fn lines(&self, from: u64, until: u64, max: i64) -> Result<Vec<(u64, String)>, JournalError> {
        let mut read = self.read.lock().expect("journal read connection");
        let query = |c: &mut Client| {
            c.query(
                "SELECT seq, line FROM medo_journal WHERE seq >= $1 AND seq < $2 ORDER BY seq LIMIT $3",
                &[&seq_i64(from), &seq_i64(until), &max],
            )
        };
        let rows = match query(&mut read) {
            // a read changes nothing: on a new connection, once more
            Err(e) if connection_lost(&e) || read.is_closed() => {
                *read = self.connect_again()?;
                query(&mut read)
            }
            done => done,
        }
        .map_err(db("reading records"))?;
        Ok(rows
            .iter()
            .map(|r| (seq_u64(r.get(0)), r.get::<_, String>(1)))
            .collect())
    }

    /// The hash of record `seq - 1` (what record `seq`'s `prev` must be), read from its line.
    fn prev_of(&self, seq: u64) -> Result<String, JournalError> {
        if seq == 0 {
            return Ok(GENESIS.to_string());
        }
        let lines = self.lines(seq - 1, seq, 1)?;
        let (_, line) = lines.first().ok_or(JournalError::Corrupt {
            file: SOURCE.into(),
            line: seq,
            problem: format!("нет записи {} (запись удалена)", seq - 1),
        })?;
        let record: Record = serde_json::from_str(line).map_err(|e| JournalError::Corrupt {
            file: SOURCE.into(),
            line: seq,
            problem: e.to_string(),
        })?;
        Ok(record.hash)
    }

    /// Walks the rows from `from` (its `prev` must be `prev`) in pages through the files'
    /// checks; `visit` sees each good record and may stop the walk.
    fn walk(
        &self,
        from: u64,
        prev: &str,
        visit: Option<&mut dyn FnMut(&Record) -> bool>,
    ) -> Result<VerifyReport, JournalError> {
        let mut walk = LineWalk::new(SOURCE, from, prev, visit);
        let mut next = from;
        loop {
            let page = self.lines(next, u64::MAX, ROWS_PER_READ)?;
            let Some((last, _)) = page.last() else {
                break;
            };
            next = last + 1;
            let lines: Vec<&[u8]> = page.iter().map(|(_, l)| l.as_bytes()).collect();
            if !walk.batch(&lines) || page.len() < ROWS_PER_READ as usize {
                break;
            }
        }
        Ok(walk.finish())
    }
}

fn report_error(bad: medo_store::journal::BadRecord) -> JournalError {
    JournalError::Corrupt {
        file: bad.file,
        line: bad.line,
        problem: bad.problem.to_string(),
    }
}

/// A seq as the table keeps it (`bigint`; the journal's seqs never reach 2^63).
fn seq_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn seq_u64(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

impl Journal for PgJournal {
    fn next_seq(&self) -> u64 {
        self.next_seq
    }
    fn head(&self) -> &str {
        &self.head
    }
    fn last_ts(&self) -> Option<&str> {
        self.last_ts.as_deref()
    }

    /// One transaction for the whole group (`unnest` of the seqs and lines: one statement);
    /// durable when the commit returns (`synchronous_commit` as the server is configured).
    fn append(&mut self, events: Vec<Event>, now: &str) -> Result<Vec<Record>, JournalError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (mut next, mut head) = (self.next_seq, self.head.clone());
        let records: Vec<Record> = events
            .into_iter()
            .map(|event| {
                let r = Record::new(next, now.to_string(), head.clone(), event);
                (next, head) = (next + 1, r.hash.clone());
                r
            })
            .collect();
        if !self.commit_rows(&records)? {
            let epoch = self.fence.take().map_or(0, |l| l.epoch);
            return Err(JournalError::Fenced { epoch });
        }
        (self.next_seq, self.head) = (next, head);
        self.last_ts = Some(now.to_string());
        Ok(records)
    }
}

/// Whether an error says the connection is gone: closed, or ended by the server (SQLSTATE
/// class 08, connection exception; 57P, an administrator's or a shutdown's termination).
pub(crate) fn connection_lost(e: &postgres::Error) -> bool {
    e.is_closed()
        || e.code().is_some_and(|c| {
            let code = c.code();
            code.starts_with("08") || code.starts_with("57P")
        })
}

/// Applies `records` to the index table inside `tx` (the fold the files' sled index uses).
fn apply_to_index(
    tx: &mut postgres::Transaction<'_>,
    records: &[Record],
) -> Result<index::Writes, index::IndexError> {
    index::apply(tx, records)
}

/// How a commit attempt ended, when it did not end well.
enum Attempt {
    /// The connection was lost before the COMMIT was sent: nothing was written.
    LostBefore(postgres::Error),
    /// Lost while committing: written or not — read back to know.
    LostAt(postgres::Error),
    Failed(JournalError),
}

impl PgJournal {
    /// Writes `records`' rows in one fenced transaction (`false`: fenced off, nothing
    /// written). A connection lost on the way is made again, never leaving a commit half
    /// known: lost before the COMMIT went out, nothing was written and it is tried once more;
    /// lost during the COMMIT, the journal is read back — it ends with the last of these
    /// records (committed) or before the first (not: tried once more).
    fn commit_rows(&mut self, records: &[Record]) -> Result<bool, JournalError> {
        let seqs: Vec<i64> = records.iter().map(|r| seq_i64(r.seq)).collect();
        let lines: Vec<String> = records.iter().map(Record::line).collect();
        let last = records.last().expect("a commit has records");
        for attempt in 0..2 {
            let lost = match self.try_commit(records, &seqs, &lines) {
                Ok(written) => return Ok(written == records.len() as u64),
                Err(Attempt::Failed(e)) => return Err(e),
                Err(Attempt::LostBefore(e)) => e,
                Err(Attempt::LostAt(e)) => {
                    // what this commit wrote to the index is not known here: forget it all
                    self.writes = None;
                    self.write = self.connect_again()?;
                    if self.row_hash(last.seq)?.as_deref() == Some(last.hash.as_str()) {
                        return Ok(true);
                    }
                    e
                }
            };
            if attempt == 1 {
                return Err(db("committing records")(lost));
            }
            self.write = self.connect_again()?;
        }
        unreachable!("the loop returns")
    }

    /// One try: BEGIN, the fenced INSERT, COMMIT — the rows written.
    fn try_commit(
        &mut self,
        records: &[Record],
        seqs: &[i64],
        lines: &[String],
    ) -> Result<u64, Attempt> {
        let lost = |e: postgres::Error| match connection_lost(&e) {
            true => Attempt::LostBefore(e),
            false => Attempt::Failed(db("committing records")(e)),
        };
        let mut tx = self.write.transaction().map_err(lost)?;
        let written =
            lease::insert_fenced_raw(&mut tx, self.fence.as_ref(), seqs, lines).map_err(lost)?;
        if written != seqs.len() as u64 {
            return tx
                .rollback()
                .map(|()| written)
                .map_err(|e| Attempt::Failed(db("refusing a fenced commit")(e)));
        }
        // the index, in the same transaction: never behind the journal, never half applied
        let writes = apply_to_index(&mut tx, records).map_err(|e| match e {
            index::IndexError::Db(e) => lost(e),
            index::IndexError::Store(e) => Attempt::Failed(JournalError::Database {
                doing: "applying records to the index",
                why: e.to_string(),
            }),
        })?;
        match tx.commit() {
            Ok(()) => {
                if let Some(known) = self.writes.as_mut() {
                    known.extend(writes);
                }
                Ok(written)
            }
            Err(e) if connection_lost(&e) => Err(Attempt::LostAt(e)),
            Err(e) => Err(Attempt::Failed(db("committing records")(e))),
        }
    }

    /// A new connection in place of a lost one (counted).
    fn connect_again(&self) -> Result<Client, JournalError> {
        let client = Client::connect(&self.url, NoTls).map_err(db("connecting again"))?;
        self.reconnects
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(client)
    }

    /// Connections made again after one was lost, since it was opened.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The hash on the row of record `seq`, if there is one.
    fn row_hash(&mut self, seq: u64) -> Result<Option<String>, JournalError> {
        let row = self
            .write
            .query_opt(
                "SELECT line FROM medo_journal WHERE seq = $1",
                &[&seq_i64(seq)],
            )
            .map_err(db("reading a commit back"))?;
        Ok(row
            .and_then(|r| serde_json::from_str::<Record>(&r.get::<_, String>(0)).ok())
            .map(|r| r.hash))
    }
}

/// Records made elsewhere, verbatim (`storage migrate --to postgres`): each must continue the
/// chain; one transaction, written only while no node leads (a migration into a database no
/// gateway runs on).
impl medo_store::migrate::Import for PgJournal {
    fn import(&mut self, records: &[Record]) -> Result<(), JournalError> {
        let (mut next, mut head) = (self.next_seq, self.head.clone());
        for r in records {
            if r.seq != next || r.prev != head {
                return Err(JournalError::Corrupt {
                    file: SOURCE.into(),
                    line: r.seq + 1,
                    problem: format!(
                        "запись № {} не продолжает цепочку (ожидалась № {next})",
                        r.seq
                    ),
                });
            }
            (next, head) = (next + 1, r.hash.clone());
        }
        if records.is_empty() {
            return Ok(());
        }
        if !self.commit_rows(records)? {
            return Err(JournalError::Fenced { epoch: 0 });
        }
        (self.next_seq, self.head) = (next, head);
        self.last_ts = records.last().map(|r| r.ts.clone()).or(self.last_ts.take());
        Ok(())
    }
}

impl JournalRead for PgJournal {
    fn read_range(&self, from: u64, until: u64, max: usize) -> Result<Vec<Record>, JournalError> {
        if self.lines(from, until, 1)?.is_empty() {
            return Ok(Vec::new());
        }
        let prev = self.prev_of(from)?;
        let mut out = Vec::new();
        let mut keep = |r: &Record| {
            if r.seq >= until || out.len() >= max {
                return false;
            }
            out.push(r.clone());
            true
        };
        self.walk(from, &prev, Some(&mut keep))?.intact()?;
        Ok(out)
    }

    fn tail(&self, n: u64) -> Result<Vec<Record>, JournalError> {
        let from = self.next_seq.saturating_sub(n);
        self.read_range(from, u64::MAX, usize::MAX)
    }

    fn scan(&self, visit: &mut dyn FnMut(&Record) -> bool) -> Result<VerifyReport, JournalError> {
        self.walk(0, GENESIS, Some(visit))
    }

    fn verify(&self) -> Result<VerifyReport, JournalError> {
        self.walk(0, GENESIS, None)
    }

    fn verify_tail(&self, at_least: u64) -> Result<VerifyReport, JournalError> {
        let from = self.next_seq.saturating_sub(at_least);
        let prev = if from == 0 { GENESIS } else { "" };
        self.walk(from, prev, None)
    }
}
