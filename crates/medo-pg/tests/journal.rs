//! The journal in a real PostgreSQL (CI runs the tests under `pg_virtualenv`, which sets
//! `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`): the same lines and chain as the files' segments,
//! group commits as transactions, a changed or removed row named as a changed line is, an
//! export that verifies on its own. Each test works in a database of its own. Without a
//! server the tests say SKIPPED (under CI=true they fail).

use medo_model::{Event, GENESIS};
use medo_pg::PgJournal;
use medo_store::journal::{self, LineProblem};
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

/// The same events at the same times make the same lines as a files journal's segment, and
/// reopening continues the chain where it ended.
#[test]
fn the_journal_in_postgres_is_the_files_journal_line_for_line() {
    let Some(url) = database("lines") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (mut files, _) = journal::Journal::open(dir.path()).unwrap();
    let mut pg = PgJournal::open(&url).unwrap();
    assert_eq!((pg.next_seq(), pg.head()), (0, GENESIS));
    for (group, now) in [
        (0..3, "2026-12-07T10:00:00Z"),
        (3..4, "2026-12-07T10:00:01Z"),
    ] {
        let events: Vec<Event> = group.map(event).collect();
        let a = Journal::append(&mut files, events.clone(), now).unwrap();
        let b = pg.append(events, now).unwrap();
        assert_eq!(a, b, "one commit, the same records");
    }
    drop(pg);
    let mut pg = PgJournal::open(&url).unwrap();
    assert_eq!((pg.next_seq(), pg.head()), (4, Journal::head(&files)));
    assert_eq!(pg.last_ts(), Some("2026-12-07T10:00:01Z"));
    let head = Journal::head(&files).to_string();
    let more = pg.append(vec![event(4)], "2026-12-07T10:00:02Z").unwrap();
    assert_eq!(more[0].prev, head, "the chain goes on after a reopen");
    Journal::append(&mut files, vec![event(4)], "2026-12-07T10:00:02Z").unwrap();
    let segment = journal::segments(dir.path()).unwrap().remove(0);
    let segment = std::fs::read_to_string(segment).unwrap();
    let lines: Vec<String> = pg.read_from(0).unwrap().iter().map(|r| r.line()).collect();
    assert_eq!(lines.join("\n") + "\n", segment, "line for line");
    let report = pg.verify().unwrap();
    assert_eq!((report.records, report.first_bad), (5, None));
    assert_eq!(report.head, Journal::head(&files));
    assert_eq!(
        pg.tail(2)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect::<Vec<_>>(),
        [3, 4]
    );
    assert_eq!(pg.read_range(1, 3, 10).unwrap().len(), 2);
    assert_eq!(pg.verify_tail(2).unwrap().first_bad, None);
}

/// A row changed, removed or put back in another place is named as a bad line of a segment
/// would be; an export verifies on its own, and a cut one says so.
#[test]
fn a_changed_or_missing_row_is_named_and_an_export_verifies_alone() {
    let Some(url) = database("tamper") else {
        return;
    };
    let mut pg = PgJournal::open(&url).unwrap();
    pg.append((0..5).map(event).collect(), "2026-12-07T10:00:00Z")
        .unwrap();
    let export = tempfile::NamedTempFile::new().unwrap();
    let lines: Vec<String> = pg
        .read_from(0)
        .unwrap()
        .iter()
        .map(|r| r.line() + "\n")
        .collect();
    std::fs::write(export.path(), lines.concat()).unwrap();
    let report = journal::verify_file(export.path()).unwrap();
    assert_eq!(
        (report.records, report.first_bad, report.head),
        (5, None, pg.head().to_string())
    );
    std::fs::write(export.path(), &lines.concat()[..lines.concat().len() - 3]).unwrap();
    let cut = journal::verify_file(export.path())
        .unwrap()
        .first_bad
        .unwrap();
    assert_eq!((cut.line, cut.problem), (5, LineProblem::Truncated));

    let mut sql = Client::connect(&url, NoTls).unwrap();
    sql.execute(
        "UPDATE medo_journal SET line = replace(line, 'папка-2', 'папка-9') WHERE seq = 2",
        &[],
    )
    .unwrap();
    let bad = pg.verify().unwrap().first_bad.expect("the changed row");
    assert_eq!(
        (bad.file.as_str(), bad.line, bad.expected_seq),
        ("medo_journal", 3, 2)
    );
    assert_eq!(bad.problem, LineProblem::Changed);
    assert!(
        pg.read_from(0).is_err(),
        "a read never hands out a changed record"
    );
    sql.execute("DELETE FROM medo_journal WHERE seq = 2", &[])
        .unwrap();
    let gone = pg.verify().unwrap().first_bad.expect("the removed row");
    assert_eq!(
        gone.problem,
        LineProblem::WrongSeq {
            seq: 3,
            expected: 2
        }
    );
}

/// The database drops the gateway's connections (a restart, a fail-over of the server, an
/// administrator): the next commit and read connect again — nothing doubled, nothing torn,
/// the chain whole.
#[test]
fn a_lost_connection_is_made_again_and_no_commit_is_doubled() {
    let Some(url) = database("lost") else { return };
    let mut pg = PgJournal::open(&url).unwrap();
    pg.append((0..3).map(event).collect(), "2026-12-07T10:00:00Z")
        .unwrap();
    let mut admin = Client::connect(&url, NoTls).unwrap();
    let drop_others = medo_pg::testing::end_connections;
    assert!(
        drop_others(&mut admin) >= 1,
        "the gateway's connections ended"
    );
    pg.append(vec![event(3), event(4)], "2026-12-07T10:00:01Z")
        .unwrap();
    assert_eq!(pg.reconnects(), 1, "the writer connected again");
    drop_others(&mut admin);
    assert_eq!(
        pg.read_from(0).unwrap().len(),
        5,
        "read on a new connection"
    );
    assert_eq!(pg.reconnects(), 2, "and the reader");
    let report = pg.verify().unwrap();
    assert_eq!((report.records, report.first_bad), (5, None));
    let rows: i64 = admin
        .query_one("SELECT count(*) FROM medo_journal", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 5, "no row twice");
}

/// A TCP proxy to the test server that, once armed, lets a `COMMIT` through to the server and
/// then cuts the connection instead of passing the server's answer back — the client cannot
/// know whether its commit happened. Returns the port it listens on and its trigger.
fn cutting_proxy(
    server: std::net::SocketAddr,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let armed = Arc::new(AtomicBool::new(false));
    let trigger = armed.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(upstream) = TcpStream::connect(server) else {
                continue;
            };
            let cut = Arc::new(AtomicBool::new(false));
            let (mut c_in, mut u_out) =
                (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            let (armed, cut_up) = (armed.clone(), cut.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = c_in.read(&mut buf) {
                    // the cut is set before the COMMIT goes on: its answer cannot come first
                    let commit = buf[..n].windows(6).any(|w| w == b"COMMIT");
                    if commit && armed.swap(false, Ordering::SeqCst) {
                        cut_up.store(true, Ordering::SeqCst);
                    }
                    if n == 0 || u_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
            let (mut u_in, mut c_out) = (upstream, client);
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = u_in.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if cut.load(Ordering::SeqCst) {
                        // the server answered the COMMIT: the answer never arrives
                        let _ = c_out.shutdown(Shutdown::Both);
                        let _ = u_in.shutdown(Shutdown::Both);
                        break;
                    }
                    if c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, trigger)
}

/// The connection is lost *while committing* — the COMMIT reached the server, its answer did
/// not reach us: the journal is read back on a new connection, the commit is found written,
/// and it is neither written again nor reported lost.
#[test]
fn a_commit_whose_answer_was_lost_is_read_back_not_repeated() {
    let Some(url) = database("commitlost") else {
        return;
    };
    let host = std::env::var("PGHOST").unwrap();
    let port: u16 = std::env::var("PGPORT")
        .unwrap_or_else(|_| "5432".into())
        .parse()
        .unwrap();
    let server = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
        .unwrap()
        .find(std::net::SocketAddr::is_ipv4)
        .unwrap();
    let (proxy, cut) = cutting_proxy(server);
    let through = url.replacen(
        &format!("@{host}:{port}/"),
        &format!("@127.0.0.1:{proxy}/"),
        1,
    );
    assert_ne!(through, url, "the URL goes through the proxy");
    let mut pg = PgJournal::open(&through).unwrap();
    pg.append(vec![event(0)], "2026-12-07T10:00:00Z").unwrap();
    cut.store(true, std::sync::atomic::Ordering::SeqCst);
    let written = pg
        .append(vec![event(1), event(2)], "2026-12-07T10:00:01Z")
        .unwrap();
    assert!(
        !cut.load(std::sync::atomic::Ordering::SeqCst),
        "the COMMIT was cut"
    );
    assert_eq!(written.len(), 2);
    assert_eq!(pg.reconnects(), 1, "read back on a new connection");
    let mut admin = Client::connect(&url, NoTls).unwrap();
    let rows: i64 = admin
        .query_one("SELECT count(*) FROM medo_journal", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 3, "written once");
    pg.append(vec![event(3)], "2026-12-07T10:00:02Z").unwrap();
    assert_eq!(pg.verify().unwrap().records, 4, "and the chain goes on");
}
