//! The index read from PostgreSQL walks as sled's trees walk: the same entries, in the same
//! byte order (shorter first on a common prefix, 0xff last), forwards and backwards, within
//! any bounds, a page boundary (256 rows) anywhere — checked against an ordered map holding
//! the same keys. A read on a connection the server ended is made again on a new one.

use std::collections::BTreeMap;
use std::ops::Bound;

use medo_pg::read::PgRead;
use medo_pg::testing::{database, end_connections};
use medo_store::apply::Tree;
use medo_store::source::KvRead;
use postgres::{Client, NoTls};

/// Keys meant to sort unlike text: empty, 0x00 and 0xff edges, prefixes of each other, and
/// enough of them that walks cross pages.
fn keys() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = vec![vec![], vec![0], vec![0, 0], vec![0xff], vec![0xff, 0xff]];
    for i in 0..700u32 {
        let mut k = vec![b'n', 0];
        k.extend_from_slice(format!("{}", i * 7 % 701).as_bytes());
        if i % 3 == 0 {
            k.push(0);
            k.extend_from_slice(&u64::from(i).to_be_bytes());
        }
        keys.push(k);
    }
    keys
}

fn walked(
    read: &PgRead,
    range: (Bound<&[u8]>, Bound<&[u8]>),
    rev: bool,
    max: usize,
) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    read.walk(Tree::AppealIndex, range, rev, &mut |k, v| {
        assert_eq!(
            v,
            [k, b"=".as_slice()].concat(),
            "the value read with its key"
        );
        seen.push(k.to_vec());
        Ok(seen.len() < max)
    })
    .unwrap();
    seen
}

#[test]
fn a_walk_over_the_database_is_a_walk_over_sleds_order() {
    let Some(url) = database("read") else { return };
    let mut sql = Client::connect(&url, NoTls).unwrap();
    sql.batch_execute(medo_pg::index::SCHEMA).unwrap();
    let tree = medo_pg::index::tree_id(Tree::AppealIndex);
    let mut expected = BTreeMap::new();
    for k in keys() {
        let v = [k.as_slice(), b"="].concat();
        sql.execute(
            "INSERT INTO medo_index (tree, key, value) VALUES ($1, $2, $3)",
            &[&tree, &k, &v],
        )
        .unwrap();
        expected.insert(k, v);
    }
    // another tree's rows are never seen
    let other = medo_pg::index::tree_id(Tree::Appeals);
    sql.execute(
        "INSERT INTO medo_index (tree, key, value) VALUES ($1, 'n', 'x')",
        &[&other],
    )
    .unwrap();
    let read = PgRead::open(&url, 2).unwrap();
    let (lo, hi) = (b"n\x0010".to_vec(), b"n\x00600".to_vec());
    let cases: Vec<medo_store::source::Range<'_>> = vec![
        (Bound::Unbounded, Bound::Unbounded),
        (Bound::Included(&lo), Bound::Excluded(&hi)),
        (Bound::Excluded(&lo), Bound::Included(&hi)),
        (Bound::Included(&[0][..]), Bound::Included(&[0xff][..])),
        (Bound::Excluded(&[0xff][..]), Bound::Unbounded),
    ];
    for range in cases {
        let want: Vec<Vec<u8>> = expected
            .range::<[u8], _>(range)
            .map(|e| e.0.clone())
            .collect();
        let got = walked(&read, range, false, usize::MAX);
        assert_eq!(got, want, "forwards over {range:?}");
        let mut back = want.clone();
        back.reverse();
        assert_eq!(
            walked(&read, range, true, usize::MAX),
            back,
            "backwards over {range:?}"
        );
        let stop = want.len().min(300);
        assert_eq!(
            walked(&read, range, false, stop),
            want[..stop],
            "stopped at {stop}"
        );
    }
    assert_eq!(
        read.count(Tree::AppealIndex).unwrap(),
        expected.len() as u64
    );
    assert_eq!(
        read.get(Tree::AppealIndex, &[0xff]).unwrap(),
        Some(b"\xff=".to_vec())
    );
    assert_eq!(read.get(Tree::AppealIndex, b"absent").unwrap(), None);

    // the server ends every connection: the next reads are made on new ones
    let mut admin = Client::connect(&url, NoTls).unwrap();
    assert!(
        end_connections(&mut admin) >= 1,
        "the pool's connection was ended"
    );
    assert_eq!(
        read.get(Tree::AppealIndex, &[0]).unwrap(),
        Some(b"\x00=".to_vec())
    );
    assert_eq!(
        walked(&read, (Bound::Unbounded, Bound::Unbounded), false, 3).len(),
        3
    );
}

/// The leader's cache keeps what it read and learns what each commit wrote: after every
/// commit its answers are the database's (the applied record, an arrival made, one removed
/// from the open ones), and a commit it was not told of is forgotten with `learn(None)`.
#[test]
fn the_leaders_cache_answers_as_the_database_after_each_commit() {
    use medo_pg::read::Cached;
    use medo_store::Journal;
    let Some(url) = database("cache") else { return };
    let mut journal = medo_pg::PgJournal::open(&url).unwrap();
    journal
        .lead("test", std::time::Duration::from_secs(60))
        .unwrap();
    journal.take_writes();
    let cache = Cached::new(PgRead::open(&url, 2).unwrap());
    let plain = PgRead::open(&url, 1).unwrap();
    let keys: Vec<(Tree, Vec<u8>)> = vec![
        (Tree::Meta, b"applied_seq".to_vec()),
        (Tree::Arrivals, 0u64.to_be_bytes().to_vec()),
        (Tree::Open, 0u64.to_be_bytes().to_vec()),
        (Tree::Claims, b"c0".to_vec()),
    ];
    let same = |what: &str| {
        for (tree, key) in &keys {
            assert_eq!(
                cache.get(*tree, key).unwrap(),
                plain.get(*tree, key).unwrap(),
                "{what}: {tree:?} {key:?}"
            );
        }
    };
    same("empty");
    let received = medo_model::Event::Received {
        key: "k".into(),
        src: "s".into(),
        claim: "c0".into(),
        files: 1,
        bytes: 1,
    };
    let archived = medo_model::Event::Archived {
        arrival: 0,
        key: "k".into(),
        dir: "archive/x".into(),
    };
    for event in [received, archived] {
        journal.append(vec![event], "2026-12-07T10:00:00Z").unwrap();
        cache.learn(journal.take_writes());
        same("after a commit");
    }
    assert!(cache
        .get(Tree::Arrivals, &0u64.to_be_bytes())
        .unwrap()
        .is_some());
    assert!(
        cache
            .get(Tree::Open, &0u64.to_be_bytes())
            .unwrap()
            .is_none(),
        "at rest"
    );
    // a write the cache was not told of, then forgotten: the database's value again
    let mut sql = Client::connect(&url, NoTls).unwrap();
    let meta = medo_pg::index::tree_id(Tree::Meta);
    sql.execute(
        "UPDATE medo_index SET value = '\\x00' WHERE tree = $1 AND key = 'applied_seq'",
        &[&meta],
    )
    .unwrap();
    cache.learn(None);
    same("forgotten");
}
