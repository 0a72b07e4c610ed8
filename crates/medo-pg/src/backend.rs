//! The PostgreSQL backend as the loop sees it (`medo_store::Backend`): the journal's table,
//! the index's table read through a pool ([`crate::read::PgRead`] behind
//! `medo_store::index::Store::remote`, with the leader's read cache [`Cached`]: this node is
//! the only writer while it leads, and learns what each of its commits wrote), the
//! checkpoints in a table, the keys every node shares.
//!
//! A commit is **one transaction**: the journal's rows (fenced by the lease) and the index's
//! rows (the same fold as sled's) — so the index needs no catch-up at start and is never torn;
//! `Index::apply_all` only checks that the database applied what was journaled. The anchor of
//! every commit is the node's own file (`state_dir/anchor.note`, as on files): each node
//! anchors what it committed, so a database restored from an older backup is refused by any
//! node that committed past it.

use std::sync::Arc;

use medo_model::{Event, Record};
use medo_store::checkpoint::{self, CheckpointError};
use medo_store::index::Store;
use medo_store::journal::JournalError;
use medo_store::seam::{Backend, CommitError, Notary};
use medo_store::Journal;
use postgres::{Client, NoTls};

use crate::read::{Cached, PgRead};
use crate::{db, PgJournal};

/// The tables of the checkpoints and of the keys every node shares, created when missing.
pub const SCHEMA: &str = "
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS medo_checkpoints (
    size bigint PRIMARY KEY,
    note text   NOT NULL
);
CREATE TABLE IF NOT EXISTS medo_keys (
    name  text  PRIMARY KEY,
    value bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS medo_spool (
    id    smallint PRIMARY KEY CHECK (id = 1),
    token text     NOT NULL
);
";

/// The spool every node of the database must share, by the token its outbound folder
/// holds: the database's, once a leader named one; `mine` (this node's outbound's) is
/// recorded when none is. `Ok(true)`: this node's outbound is the database's spool.
pub fn same_spool(url: &str, mine: &str) -> Result<bool, JournalError> {
    let mut client = Client::connect(url, NoTls).map_err(db("connecting"))?;
    crate::create_schema(&mut client, SCHEMA).map_err(db("creating the spool's table"))?;
    client
        .execute(
            "INSERT INTO medo_spool (id, token) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            &[&mine],
        )
        .map_err(db("naming the spool"))?;
    let row = client
        .query_one("SELECT token FROM medo_spool WHERE id = 1", &[])
        .map_err(db("reading the spool's name"))?;
    Ok(row.get::<_, String>(0) == mine)
}

/// The journal, the index and the notes in one PostgreSQL database.
pub struct Postgres {
    journal: PgJournal,
    index: Store,
    /// The leader's read cache behind `index`, told what each commit wrote.
    cache: Arc<Cached>,
    /// The index read without the cache: what a commit checks it applied.
    uncached: Store,
    /// The checkpoints' connection.
    notes: Client,
    /// This node's anchor (`state_dir/anchor.note`).
    anchor: std::path::PathBuf,
    /// Renews the lease this node leads under (`None`: not leading — a migration).
    keeper: Option<crate::lease::Keeper>,
}

impl Postgres {
    /// Binds a journal (leading, or about to) to the index read through a pool of `pool_size`
    /// connections; `anchor` is this node's anchor file.
    pub fn open(
        url: &str,
        mut journal: PgJournal,
        pool_size: u32,
        anchor: std::path::PathBuf,
    ) -> Result<Postgres, JournalError> {
        let mut notes = Client::connect(url, NoTls).map_err(db("connecting"))?;
        crate::create_schema(&mut notes, SCHEMA).map_err(db("creating the checkpoints' table"))?;
        let read = PgRead::open(url, pool_size).map_err(|e| JournalError::Database {
            doing: "opening the index's connections",
            why: e.to_string(),
        })?;
        let uncached = Store::remote(Arc::new(read.clone()));
        let cache = Arc::new(Cached::new(read));
        journal.take_writes();
        Ok(Postgres {
            journal,
            index: Store::remote(cache.clone()),
            cache,
            uncached,
            notes,
            anchor,
            keeper: None,
        })
    }

    /// The checkpoints kept in the database (name, signed text), oldest first.
    pub fn checkpoints(&mut self) -> Result<Vec<(String, String)>, JournalError> {
        checkpoints(&mut self.notes)
    }

    /// Keeps the lease this node leads under renewed (by `keeper`) while the backend lives;
    /// once it is lost, every commit is refused before it is tried.
    pub fn keep_lease(&mut self, keeper: crate::lease::Keeper) {
        self.keeper = Some(keeper);
    }

    /// Whether this node has lost the lease it led under (it must step down).
    pub fn lease_lost(&self) -> bool {
        self.keeper.as_ref().is_some_and(crate::lease::Keeper::lost)
    }
}

/// The checkpoints kept in the database `client` reaches (name, signed text), oldest first.
fn checkpoints(client: &mut Client) -> Result<Vec<(String, String)>, JournalError> {
    let rows = client
        .query("SELECT size, note FROM medo_checkpoints ORDER BY size", &[])
        .map_err(db("reading the checkpoints"))?;
    Ok(rows
        .iter()
        .map(|r| (format!("medo_checkpoints {}", r.get::<_, i64>(0)), r.get(1)))
        .collect())
}

/// Signs a checkpoint of a journal of `size` records ending at `head` into `medo_checkpoints`.
fn write_checkpoint(
    notes: &mut Client,
    notary: &Notary,
    (size, head): (u64, &str),
) -> Result<(), CheckpointError> {
    let note = checkpoint::note(notary.key, notary.origin, size, head);
    notes
        .execute(
            "INSERT INTO medo_checkpoints (size, note) VALUES ($1, $2)
                 ON CONFLICT (size) DO NOTHING",
            &[&i64::try_from(size).unwrap_or(i64::MAX), &note],
        )
        .map_err(|e| {
            CheckpointError::Journal(JournalError::Database {
                doing: "writing a checkpoint",
                why: e.to_string(),
            })
        })?;
    Ok(())
}

/// The keys every node uses (the checkpoints' signing key, the PIN secret), in `medo_keys`.
pub struct Keys(Client);

impl Keys {
    pub fn open(url: &str) -> Result<Keys, JournalError> {
        let mut client = Client::connect(url, NoTls).map_err(db("connecting"))?;
        crate::create_schema(&mut client, SCHEMA).map_err(db("creating the keys' table"))?;
        Ok(Keys(client))
    }

    /// The database's key `name`, if it holds one.
    pub fn get(&mut self, name: &str) -> Result<Option<Vec<u8>>, JournalError> {
        let row = self
            .0
            .query_opt("SELECT value FROM medo_keys WHERE name = $1", &[&name])
            .map_err(db("reading a key"))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// The signed checkpoints in the database (name, text), oldest first: what `journal
    /// checkpoint verify` checks.
    pub fn checkpoints(&mut self) -> Result<Vec<(String, String)>, JournalError> {
        checkpoints(&mut self.0)
    }

    /// Whether the database holds the key `name`.
    pub fn held(&mut self, name: &str) -> Result<bool, JournalError> {
        let row = self
            .0
            .query_opt("SELECT 1 FROM medo_keys WHERE name = $1", &[&name])
            .map_err(db("reading a key"))?;
        Ok(row.is_some())
    }

    /// Keeps `value` as the database's `name`, replacing what was there (the witnesses'
    /// recovery epoch: written by the leader that takes a recovery).
    pub fn put(&mut self, name: &str, value: &[u8]) -> Result<(), JournalError> {
        self.0
            .execute(
                "INSERT INTO medo_keys (name, value) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                &[&name, &value],
            )
            .map_err(db("keeping a key"))?;
        Ok(())
    }

    /// The database's key `name` when it holds one; otherwise `local` (this node's, made or
    /// read from its `state_dir`) is put there — the first node of a database brings its
    /// keys, the next ones take them.
    pub fn shared(&mut self, name: &str, local: &[u8]) -> Result<Vec<u8>, JournalError> {
        self.0
            .execute(
                "INSERT INTO medo_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&name, &local],
            )
            .map_err(db("keeping a key"))?;
        let row = self
            .0
            .query_one("SELECT value FROM medo_keys WHERE name = $1", &[&name])
            .map_err(db("reading a key"))?;
        Ok(row.get(0))
    }
}

/// A clean stop gives the lease up at once: the renewing stops first, then the lease ends.
impl Drop for Postgres {
    fn drop(&mut self) {
        drop(self.keeper.take());
        if let Err(e) = self.journal.step_down() {
            tracing::warn!(error = %e, "the lease could not be given up: a standby takes over when it expires");
        }
    }
}

impl Backend for Postgres {
    type Journal = PgJournal;
    type Index = Store;

    fn journal(&self) -> &PgJournal {
        &self.journal
    }

    fn index(&self) -> &Store {
        &self.index
    }

    fn commit(
        &mut self,
        events: Vec<Event>,
        now: &str,
        notary: &Notary,
    ) -> Result<Vec<Record>, CommitError<CheckpointError>> {
        if self.lease_lost() {
            let epoch = self.journal.leads().map_or(0, |l| l.epoch);
            return Err(CommitError::Journal(JournalError::Fenced { epoch }));
        }
        let (notes, anchor) = (&mut self.notes, &self.anchor);
        // the index is checked uncached: the cache learns the commit's writes only after it
        let committed = medo_store::seam::commit(
            &mut self.journal,
            &self.uncached,
            events,
            now,
            |j, written| {
                let (end, head) = (j.next_seq(), j.head());
                if notary.checkpoint_due(end - written.len() as u64, end) {
                    write_checkpoint(notes, notary, (end, head))?;
                }
                checkpoint::write_anchor(anchor, notary.key, notary.origin, end, head)
            },
        );
        // what the commit wrote is what the cache keeps (on an error: all is forgotten)
        let writes = self.journal.take_writes().filter(|_| committed.is_ok());
        self.cache.learn(writes);
        committed
    }

    fn stepped_down(&self) -> bool {
        self.lease_lost()
    }

    fn checkpoint(&self, notary: &Notary) -> Result<(), CheckpointError> {
        // a clean stop's checkpoint is this node's anchor (the table's are written by commits)
        let (end, head) = (self.journal.next_seq(), self.journal.head());
        checkpoint::write_anchor(&self.anchor, notary.key, notary.origin, end, head)
    }
}
