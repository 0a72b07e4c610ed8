//! The index in PostgreSQL: one table, `medo_index (tree, key, value)`, holding exactly the
//! keys and values of sled's trees (`medo_store::apply::Tree`), written by the same fold
//! (`medo_store::apply::apply_one`) **inside the journal commit's transaction** — so the
//! index is never behind the journal, and never half applied.
//!
//! Round trips: a commit's reads are found out before they are made — the commit's records
//! are applied "dry" against what has been fetched so far, every key missed is noted, and the
//! misses are fetched in one query; a few such rounds (the fold reads keys that depend on
//! values it read) and the last, real apply finds everything at hand. Its writes are gathered
//! and sent at the end in two statements (an upsert and a delete, `unnest` arrays). A commit
//! of a hundred records costs a handful of round trips, not one per read.

use std::cell::RefCell;
use std::collections::BTreeMap;

use medo_store::apply::{Kv, Tree};
use medo_store::index::{Store, StoreError};
use postgres::{Client, Statement, Transaction};

/// The index's table, created when missing.
pub const SCHEMA: &str = "
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS medo_index (
    tree  smallint NOT NULL,
    key   bytea    NOT NULL,
    value bytea    NOT NULL,
    PRIMARY KEY (tree, key)
);
";

/// A tree's number in the table (its place in `Tree::ALL`).
pub fn tree_id(tree: Tree) -> i16 {
    Tree::ALL.iter().position(|t| *t == tree).unwrap_or(0) as i16
}

/// Why a commit's apply failed: the fold's own error, or the database's.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Db(#[from] postgres::Error),
}

pub(crate) type Key = (i16, Vec<u8>);

/// A commit's writes to the index: each key's new value (`None`: removed).
pub type Writes = BTreeMap<(i16, Vec<u8>), Option<Vec<u8>>>;

/// The index's rows as a transaction sees them: those fetched (absent ones too), the writes
/// it gathers, and — while applying dry — the keys it missed.
pub(crate) struct PgKv<'t, 'c> {
    tx: RefCell<&'t mut Transaction<'c>>,
    get: Statement,
    fetched: RefCell<BTreeMap<Key, Option<Vec<u8>>>>,
    writes: RefCell<BTreeMap<Key, Option<Vec<u8>>>>,
    /// `Some`: a dry run, noting the keys not fetched yet (read as absent meanwhile).
    missed: RefCell<Option<Vec<Key>>>,
}

/// Dry rounds at most before the real apply (the fold's reads are at most this deep).
const ROUNDS: usize = 6;

/// Applies `records` to the index inside `tx`: dry rounds fetching what they miss, then the
/// real apply (any key still missed is read on its own), then the writes in two statements;
/// the writes are handed back (what a leader's read cache learns once the commit is done).
pub(crate) fn apply(
    tx: &mut Transaction<'_>,
    records: &[medo_model::Record],
) -> Result<Writes, IndexError> {
    let kv = PgKv::new(tx)?;
    for _ in 0..ROUNDS {
        kv.writes.borrow_mut().clear();
        *kv.missed.borrow_mut() = Some(Vec::new());
        for r in records {
            // a dry run's errors are those of values not fetched yet: the real run tells
            if medo_store::apply::apply_one(&kv, r).is_err() {
                break;
            }
        }
        let missed = kv.missed.borrow_mut().take().unwrap_or_default();
        if missed.is_empty() {
            break;
        }
        kv.fetch(missed)?;
    }
    kv.writes.borrow_mut().clear();
    for r in records {
        medo_store::apply::apply_one(&kv, r)?;
    }
    Ok(kv.flush()?)
}

impl<'t, 'c> PgKv<'t, 'c> {
    pub(crate) fn new(tx: &'t mut Transaction<'c>) -> Result<PgKv<'t, 'c>, postgres::Error> {
        let get = tx.prepare("SELECT value FROM medo_index WHERE tree = $1 AND key = $2")?;
        Ok(PgKv {
            tx: RefCell::new(tx),
            get,
            fetched: RefCell::new(BTreeMap::new()),
            writes: RefCell::new(BTreeMap::new()),
            missed: RefCell::new(None),
        })
    }

    /// Reads `keys` in one query; the absent ones are noted absent.
    fn fetch(&self, mut keys: Vec<Key>) -> Result<(), postgres::Error> {
        keys.sort();
        keys.dedup();
        let (trees, names): (Vec<i16>, Vec<Vec<u8>>) = keys.iter().cloned().unzip();
        let rows = self.tx.borrow_mut().query(
            "SELECT i.tree, i.key, i.value FROM medo_index i
             JOIN unnest($1::smallint[], $2::bytea[]) AS w(tree, key)
               ON i.tree = w.tree AND i.key = w.key",
            &[&trees, &names],
        )?;
        let mut fetched = self.fetched.borrow_mut();
        for key in keys {
            fetched.entry(key).or_insert(None);
        }
        for row in rows {
            fetched.insert((row.get(0), row.get(1)), Some(row.get(2)));
        }
        Ok(())
    }

    /// Sends the gathered writes: one upsert, one delete; hands them back.
    pub(crate) fn flush(self) -> Result<Writes, postgres::Error> {
        let writes = self.writes.into_inner();
        let tx = self.tx.into_inner();
        let (mut put, mut gone) = ((vec![], vec![], vec![]), (vec![], vec![]));
        for ((tree, key), value) in writes.clone() {
            match value {
                Some(v) => {
                    put.0.push(tree);
                    put.1.push(key);
                    put.2.push(v);
                }
                None => {
                    gone.0.push(tree);
                    gone.1.push(key);
                }
            }
        }
        if !put.0.is_empty() {
            tx.execute(
                "INSERT INTO medo_index (tree, key, value)
                 SELECT * FROM unnest($1::smallint[], $2::bytea[], $3::bytea[])
                 ON CONFLICT (tree, key) DO UPDATE SET value = EXCLUDED.value",
                &[&put.0, &put.1, &put.2],
            )?;
        }
        if !gone.0.is_empty() {
            tx.execute(
                "DELETE FROM medo_index WHERE (tree, key) IN
                 (SELECT * FROM unnest($1::smallint[], $2::bytea[]))",
                &[&gone.0, &gone.1],
            )?;
        }
        Ok(writes)
    }
}

impl Kv for PgKv<'_, '_> {
    type Error = IndexError;
    type Value = Vec<u8>;

    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, IndexError> {
        let k = (tree_id(tree), key.to_vec());
        if let Some(written) = self.writes.borrow().get(&k) {
            return Ok(written.clone());
        }
        if let Some(fetched) = self.fetched.borrow().get(&k) {
            return Ok(fetched.clone());
        }
        if let Some(missed) = self.missed.borrow_mut().as_mut() {
            missed.push(k);
            return Ok(None);
        }
        let row = self.tx.borrow_mut().query_opt(&self.get, &[&k.0, &key])?;
        let value: Option<Vec<u8>> = row.map(|r| r.get(0));
        self.fetched.borrow_mut().insert(k, value.clone());
        Ok(value)
    }
    fn insert(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<(), IndexError> {
        let k = (tree_id(tree), key.to_vec());
        self.writes.borrow_mut().insert(k, Some(value.to_vec()));
        Ok(())
    }
    fn remove(&self, tree: Tree, key: &[u8]) -> Result<(), IndexError> {
        self.writes
            .borrow_mut()
            .insert((tree_id(tree), key.to_vec()), None);
        Ok(())
    }
}

/// Marks the index as built by this layout's fold (as sled's is), when it is not yet — on a
/// connection or inside a transaction (`store rebuild`).
pub(crate) fn mark_schema(
    client: &mut impl postgres::GenericClient,
) -> Result<(), postgres::Error> {
    let (key, value) = Store::schema_mark();
    client.execute(
        "INSERT INTO medo_index (tree, key, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        &[&tree_id(Tree::Meta), &key, &&value[..]],
    )?;
    Ok(())
}

/// Per tree: its name, how many entries, and SHA-256 over its keys and values in order —
/// computed as sled's `Store::digests` computes them, so the two indexes compare.
pub fn digests(client: &mut Client) -> Result<Vec<(&'static str, u64, String)>, postgres::Error> {
    use sha2::Digest;
    let mut out = Vec::new();
    for tree in Tree::ALL {
        let rows = client.query(
            "SELECT key, value FROM medo_index WHERE tree = $1 ORDER BY key",
            &[&tree_id(tree)],
        )?;
        let mut h = sha2::Sha256::new();
        for row in &rows {
            for part in [row.get::<_, Vec<u8>>(0), row.get::<_, Vec<u8>>(1)] {
                h.update((part.len() as u64).to_be_bytes());
                h.update(&part);
            }
        }
        out.push((tree.name(), rows.len() as u64, hex::encode(h.finalize())));
    }
    Ok(out)
}
