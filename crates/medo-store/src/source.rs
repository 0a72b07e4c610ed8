//! Where the index's trees are read from: this process's sled, or another backend's copy of
//! the same keys and values (PostgreSQL's `medo_index`, issue 29) behind [`KvRead`]. Every
//! read of the index ([`crate::index::Store`]'s) goes through three primitives — a key's
//! value, an ordered walk over a key range, a tree's size — so the arrivals' state machine,
//! the book and the re-send tracker read the same way on either backend.
//!
//! Order: keys compare as bytes, shorter first on a common prefix (sled's order, and
//! PostgreSQL's `bytea` order), so a walk visits the same entries in the same order anywhere.

use std::ops::Bound;
use std::sync::Arc;

use crate::apply::Tree;
use crate::index::StoreError;

/// A visitor of a walk: `Ok(true)` goes on, `Ok(false)` stops, an error stops and is returned.
pub type Visit<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool, StoreError> + 'a;

/// A key range of a tree: its lower and upper bound.
pub type Range<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);

/// The index's trees as another backend holds them (read-only here: that backend writes them
/// in its own commits). Reads see committed state; every failure is an error, never "absent".
pub trait KvRead: Send + Sync {
    /// The value under `key`.
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// The entries of `tree` in `range`, in key order (descending when `rev`), to `visit`
    /// until it says stop.
    fn walk(
        &self,
        tree: Tree,
        range: Range<'_>,
        rev: bool,
        visit: &mut Visit<'_>,
    ) -> Result<(), StoreError>;
    /// How many entries `tree` holds.
    fn count(&self, tree: Tree) -> Result<u64, StoreError>;
}

/// A value read: sled's shared buffer, or bytes fetched from elsewhere.
pub enum Val {
    Sled(sled::IVec),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Val {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Val::Sled(v) => v,
            Val::Owned(v) => v,
        }
    }
}

/// This process's sled trees, one per [`Tree`].
#[derive(Clone)]
pub(crate) struct SledTrees {
    pub(crate) db: sled::Db,
    trees: Vec<sled::Tree>,
}

impl SledTrees {
    pub(crate) fn open(db: sled::Db) -> Result<SledTrees, sled::Error> {
        let trees = Tree::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<_, _>>()?;
        Ok(SledTrees { db, trees })
    }

    pub(crate) fn tree(&self, tree: Tree) -> &sled::Tree {
        &self.trees[tree as usize]
    }
}

/// The index's source: which trees the reads go to.
#[derive(Clone)]
pub(crate) enum Source {
    Sled(SledTrees),
    Remote(Arc<dyn KvRead>),
}

impl Source {
    pub(crate) fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Val>, StoreError> {
        Ok(match self {
            Source::Sled(s) => s.tree(tree).get(key)?.map(Val::Sled),
            Source::Remote(r) => r.get(tree, key)?.map(Val::Owned),
        })
    }

    pub(crate) fn contains(&self, tree: Tree, key: &[u8]) -> Result<bool, StoreError> {
        Ok(match self {
            Source::Sled(s) => s.tree(tree).contains_key(key)?,
            Source::Remote(r) => r.get(tree, key)?.is_some(),
        })
    }

    pub(crate) fn walk(
        &self,
        tree: Tree,
        range: Range<'_>,
        rev: bool,
        visit: &mut Visit<'_>,
    ) -> Result<(), StoreError> {
        match self {
            Source::Remote(r) => r.walk(tree, range, rev, visit),
            Source::Sled(s) => sled_walk(s.tree(tree), range, rev, visit),
        }
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub(crate) fn prefix(
        &self,
        tree: Tree,
        prefix: &[u8],
        visit: &mut Visit<'_>,
    ) -> Result<(), StoreError> {
        let end = successor(prefix);
        let upper = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        self.walk(tree, (Bound::Included(prefix), upper), false, visit)
    }

    /// Every entry of `tree`, in key order.
    pub(crate) fn all(&self, tree: Tree, visit: &mut Visit<'_>) -> Result<(), StoreError> {
        self.walk(tree, (Bound::Unbounded, Bound::Unbounded), false, visit)
    }

    pub(crate) fn count(&self, tree: Tree) -> Result<u64, StoreError> {
        match self {
            Source::Sled(s) => Ok(s.tree(tree).len() as u64),
            Source::Remote(r) => r.count(tree),
        }
    }
}

fn sled_walk(
    tree: &sled::Tree,
    range: Range<'_>,
    rev: bool,
    visit: &mut Visit<'_>,
) -> Result<(), StoreError> {
    let mut iter = tree.range::<&[u8], _>(range);
    loop {
        let item = if rev { iter.next_back() } else { iter.next() };
        let Some(item) = item else {
            return Ok(());
        };
        let (k, v) = item?;
        if !visit(&k, &v)? {
            return Ok(());
        }
    }
}

/// The least key after every key starting with `prefix` (`None`: there is none — all 0xff).
pub fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_ends_before_its_successor() {
        for (prefix, end) in [
            (&b"n\0"[..], Some(&b"n\x01"[..])),
            (b"a\xff", Some(b"b")),
            (b"\xff\xff", None),
            (b"", None),
        ] {
            assert_eq!(successor(prefix).as_deref(), end, "{prefix:?}");
        }
    }
}
