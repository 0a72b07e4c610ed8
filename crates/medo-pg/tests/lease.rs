//! One leader among the gateways on one database (issue 29): the lease row, and fencing —
//! a leader paused past its lease (SIGSTOP, a frozen VM) cannot commit when it wakes, because
//! every commit inserts its rows only under its own live epoch, in the same statement.

use std::time::Duration;

use medo_model::Event;
use medo_pg::{lease, PgJournal};
use medo_store::journal::JournalError;
use medo_store::{Journal, JournalRead};
use postgres::{Client, NoTls};

use medo_pg::testing::database;

fn event(n: u64) -> Event {
    Event::Retried {
        arrival: n,
        to: format!("папка-{n}"),
        command: None,
    }
}

/// The database's clock moves past the lease's expiry (the holder was paused that long).
fn expire(url: &str) {
    let mut sql = Client::connect(url, NoTls).unwrap();
    sql.execute(
        "UPDATE medo_lease SET expires = clock_timestamp() - interval '1 second'",
        &[],
    )
    .unwrap();
}

const LEASE: Duration = Duration::from_secs(30);

#[test]
fn a_leader_paused_past_its_lease_cannot_commit_once_another_took_over() {
    let Some(url) = database("fence") else { return };
    let mut a = PgJournal::open(&url).unwrap();
    let mut b = PgJournal::open(&url).unwrap();
    assert_eq!(a.lead("node-a/1", LEASE).unwrap(), Some(1));
    assert_eq!(
        b.lead("node-b/1", LEASE).unwrap(),
        None,
        "a live lease is not taken"
    );
    a.append(vec![event(0), event(1)], "2026-12-07T10:00:00Z")
        .unwrap();
    assert!(a.renew(LEASE).unwrap());
    // nobody writes beside a live leader, not even a writer that never led
    let mut stray = PgJournal::open(&url).unwrap();
    let refused = stray.append(vec![event(7)], "2026-12-07T10:00:00Z");
    assert!(
        matches!(refused, Err(JournalError::Fenced { epoch: 0 })),
        "{refused:?}"
    );

    // a is paused past its lease; b takes over under the next epoch, where the journal ends
    expire(&url);
    assert_eq!(b.lead("node-b/1", LEASE).unwrap(), Some(2));
    assert_eq!(b.next_seq(), 2, "the new leader reads the journal's end");
    b.append(vec![event(2)], "2026-12-07T10:01:00Z").unwrap();

    // a wakes: its commit is refused and nothing of it is written; it cannot renew
    let late = a.append(vec![event(9), event(10)], "2026-12-07T10:01:01Z");
    assert!(
        matches!(late, Err(JournalError::Fenced { epoch: 1 })),
        "{late:?}"
    );
    assert!(!a.renew(LEASE).unwrap());
    assert!(a.leads().is_none(), "it stepped down");
    let again = a.append(vec![event(11)], "2026-12-07T10:01:02Z");
    assert!(
        matches!(again, Err(JournalError::Fenced { .. })),
        "{again:?}"
    );

    let report = b.verify().unwrap();
    assert_eq!(
        (report.records, report.first_bad),
        (3, None),
        "b's chain, whole"
    );
    let mut sql = Client::connect(&url, NoTls).unwrap();
    let (held, live) = lease::holder(&mut sql).unwrap().unwrap();
    assert_eq!(
        (held.holder.as_str(), held.epoch, live),
        ("node-b/1", 2, true)
    );
    // the database ends b's connections: its renewal connects again
    medo_pg::testing::end_connections(&mut sql);
    assert!(b.renew(LEASE).unwrap(), "renewed on a new connection");
    assert_eq!(b.reconnects(), 1);
    // and an expired lease is never renewed: taking it again is a new epoch
    expire(&url);
    assert!(!b.renew(LEASE).unwrap());
    assert_eq!(b.lead("node-b/1", LEASE).unwrap(), Some(3));
}
