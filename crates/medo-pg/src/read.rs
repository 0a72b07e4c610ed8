//! The index's read side in PostgreSQL: `medo_index`'s rows read as sled's trees are
//! ([`medo_store::source::KvRead`]), so `medo_store::index::Store::remote` answers the loop,
//! the decisions, the API and the dashboard from the database exactly as the files backend's
//! sled does (same keys, same values, same order: `bytea` compares as sled's keys do).
//!
//! Connections: a pool (`r2d2`, `[storage] pool_size` of them) — many readers at once (API,
//! dashboard, status) each take one for a statement and give it back. Each read is one round
//! trip (`query_typed`: no separate prepare). A walk fetches a page at a time and hands the
//! page to its visitor with no connection held, so a visitor may read more (pool of one
//! included). A read on a connection found lost is made again on another, then a new one.

use std::ops::Bound;
use std::time::Duration;

use medo_store::apply::Tree;
use medo_store::index::StoreError;
use medo_store::source::{KvRead, Range, Visit};
use postgres::types::{ToSql, Type};
use postgres::{NoTls, Row};
use r2d2_postgres::{r2d2, PostgresConnectionManager};

use crate::index::tree_id;

/// Rows a walk fetches per round trip.
const PAGE: i64 = 256;
/// How long a reader waits for a free connection (or for a new one to be made).
const CHECKOUT: Duration = Duration::from_secs(5);

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// The pool the index is read through (shared by its clones; safe to use and to drop on an
/// async runtime's thread: see [`crate::off_runtime`]).
#[derive(Clone)]
pub struct PgRead {
    pool: std::sync::Arc<Held>,
}

/// The pool, its connections closed off any runtime when the last reader goes.
struct Held(Option<Pool>);

impl Held {
    fn pool(&self) -> &Pool {
        self.0.as_ref().expect("the pool lives until dropped")
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take() {
            crate::off_runtime(move || drop(pool));
        }
    }
}

fn failed(doing: &str) -> impl Fn(postgres::Error) -> StoreError + '_ {
    move |e| {
        let why = e
            .as_db_error()
            .map_or_else(|| e.to_string(), |d| d.to_string());
        StoreError::Database(format!("{doing}: {why}"))
    }
}

impl PgRead {
    /// A pool of at most `size` connections to `url` (one is made now: a wrong URL or a
    /// database that is down is said here, not at the first read).
    pub fn open(url: &str, size: u32) -> Result<PgRead, StoreError> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| StoreError::Database(format!("the URL: {e}")))?;
        let pool = crate::off_runtime(|| {
            r2d2::Pool::builder()
                .max_size(size.max(1))
                .min_idle(Some(1))
                // a connection is tried by using it: a lost one is made again below
                .test_on_check_out(false)
                .connection_timeout(CHECKOUT)
                .build(PostgresConnectionManager::new(config, NoTls))
        })
        .map_err(|e| StoreError::Database(format!("connecting: {e}")))?;
        Ok(PgRead {
            pool: std::sync::Arc::new(Held(Some(pool))),
        })
    }

    /// One statement's rows; a connection found lost is dropped and the statement made again
    /// on the next (every pooled connection may have been lost at once: a server restart).
    fn rows(
        &self,
        doing: &str,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, StoreError> {
        crate::off_runtime(|| self.rows_here(doing, sql, params))
    }

    fn rows_here(
        &self,
        doing: &str,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, StoreError> {
        let pool = self.pool.pool();
        let tries = pool.max_size() + 1;
        for attempt in 1..=tries {
            let mut client = pool
                .get()
                .map_err(|e| StoreError::Database(format!("{doing}: no connection: {e}")))?;
            match client.query_typed(sql, params) {
                Ok(rows) => return Ok(rows),
                Err(e) if attempt < tries && crate::connection_lost(&e) => {
                    // the pool drops a closed connection when it is given back
                    continue;
                }
                Err(e) => return Err(failed(doing)(e)),
            }
        }
        unreachable!("the last attempt returns")
    }
}

/// The SQL of one page of a walk: the bounds as comparisons, the order, the page's size.
fn page_sql(range: &Range<'_>, rev: bool) -> String {
    let mut sql = String::from("SELECT key, value FROM medo_index WHERE tree = $1");
    let mut n = 1;
    for (bound, (incl, excl)) in [(range.0, (">=", ">")), (range.1, ("<=", "<"))] {
        let op = match bound {
            Bound::Included(_) => incl,
            Bound::Excluded(_) => excl,
            Bound::Unbounded => continue,
        };
        n += 1;
        sql.push_str(&format!(" AND key {op} ${n}"));
    }
    let order = if rev { "DESC" } else { "ASC" };
    sql.push_str(&format!(" ORDER BY key {order} LIMIT {PAGE}"));
    sql
}

fn bound_key<'a>(b: &Bound<&'a [u8]>) -> Option<&'a [u8]> {
    match b {
        Bound::Included(k) | Bound::Excluded(k) => Some(k),
        Bound::Unbounded => None,
    }
}

impl KvRead for PgRead {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let rows = self.rows(
            "reading the index",
            "SELECT value FROM medo_index WHERE tree = $1 AND key = $2",
            &[(&tree_id(tree), Type::INT2), (&key, Type::BYTEA)],
        )?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    fn walk(
        &self,
        tree: Tree,
        range: Range<'_>,
        rev: bool,
        visit: &mut Visit<'_>,
    ) -> Result<(), StoreError> {
        let id = tree_id(tree);
        // the bound a page moves: the lower going up, the upper going down
        let mut moved: Option<Vec<u8>> = None;
        loop {
            let mut bounds = range;
            if let Some(last) = &moved {
                let side = if rev { &mut bounds.1 } else { &mut bounds.0 };
                *side = Bound::Excluded(last);
            }
            let sql = page_sql(&bounds, rev);
            let keys: Vec<&[u8]> = [&bounds.0, &bounds.1]
                .into_iter()
                .filter_map(bound_key)
                .collect();
            let mut params: Vec<(&(dyn ToSql + Sync), Type)> = vec![(&id, Type::INT2)];
            params.extend(keys.iter().map(|k| (k as &(dyn ToSql + Sync), Type::BYTEA)));
            let rows = self.rows("walking the index", &sql, &params)?;
            for row in &rows {
                if !visit(row.get(0), row.get(1))? {
                    return Ok(());
                }
            }
            if (rows.len() as i64) < PAGE {
                return Ok(());
            }
            moved = rows.last().map(|r| r.get::<_, Vec<u8>>(0));
        }
    }

    fn count(&self, tree: Tree) -> Result<u64, StoreError> {
        let rows = self.rows(
            "counting the index",
            "SELECT count(*) FROM medo_index WHERE tree = $1",
            &[(&tree_id(tree), Type::INT2)],
        )?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0)) as u64)
    }
}

/// Bytes (keys and values) a leader's read cache holds at most; past it, it starts empty.
const CACHE_BYTES: usize = 32 << 20;

/// The leader's read of the index: [`PgRead`] with the values it read or wrote kept. Only a
/// node that **leads** may read through it — it is then the database's only writer (the
/// lease fences every other), and it tells the cache what each of its commits wrote
/// ([`Cached::learn`]), so a value kept is the committed one. Walks and counts go to the
/// database. A standby, the HTTP surfaces and the commands read [`PgRead`] itself.
pub struct Cached {
    read: PgRead,
    kept: std::sync::Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    values: std::collections::HashMap<(i16, Vec<u8>), Option<Vec<u8>>>,
    bytes: usize,
}

impl Kept {
    fn keep(&mut self, key: (i16, Vec<u8>), value: Option<Vec<u8>>) {
        let size = key.1.len() + value.as_ref().map_or(0, Vec::len);
        if self.bytes + size > CACHE_BYTES {
            *self = Kept::default();
        }
        let key_len = key.1.len();
        self.bytes += size;
        if let Some(old) = self.values.insert(key, value) {
            // a value written again replaces the one kept: its bytes are no longer held
            self.bytes -= key_len + old.map_or(0, |v| v.len());
        }
    }
}

impl Cached {
    pub fn new(read: PgRead) -> Cached {
        Cached {
            read,
            kept: Default::default(),
        }
    }

    /// What a commit of this node wrote (`None`: not known — everything kept goes).
    pub fn learn(&self, writes: Option<crate::index::Writes>) {
        let mut kept = self.kept.lock().expect("the cache's lock");
        match writes {
            Some(writes) => writes.into_iter().for_each(|(k, v)| kept.keep(k, v)),
            None => *kept = Kept::default(),
        }
    }
}

impl KvRead for Cached {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let k = (tree_id(tree), key.to_vec());
        if let Some(v) = self.kept.lock().expect("the cache's lock").values.get(&k) {
            return Ok(v.clone());
        }
        let v = self.read.get(tree, key)?;
        self.kept
            .lock()
            .expect("the cache's lock")
            .keep(k, v.clone());
        Ok(v)
    }

    fn walk(
        &self,
        tree: Tree,
        range: Range<'_>,
        rev: bool,
        visit: &mut Visit<'_>,
    ) -> Result<(), StoreError> {
        self.read.walk(tree, range, rev, visit)
    }

    fn count(&self, tree: Tree) -> Result<u64, StoreError> {
        self.read.count(tree)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_says_its_bounds_and_order() {
        let (a, b) = (&b"a"[..], &b"b"[..]);
        for (range, rev, want) in [
            (
                (Bound::Included(a), Bound::Excluded(b)),
                false,
                "WHERE tree = $1 AND key >= $2 AND key < $3 ORDER BY key ASC",
            ),
            (
                (Bound::Unbounded, Bound::Included(b)),
                true,
                "WHERE tree = $1 AND key <= $2 ORDER BY key DESC",
            ),
            (
                (Bound::Excluded(a), Bound::Unbounded),
                false,
                "WHERE tree = $1 AND key > $2 ORDER BY key ASC",
            ),
        ] {
            let sql = page_sql(&range, rev);
            assert!(sql.contains(want), "{sql}");
        }
    }
}
