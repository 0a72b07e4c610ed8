//! The journal on PostgreSQL against the journal on files (`cargo bench --bench postgres`,
//! issue 29): prints its figures, asserts nothing. Run it under a throwaway server with
//! durability on — `pg_virtualenv -o fsync=on cargo bench --bench postgres` (pg_virtualenv's
//! own default is fsync off, which would measure nothing); `benches/run.sh` does. The server's
//! version and its `fsync` and `synchronous_commit` are printed with the figures.
//!
//! * commits: `BENCH_PG_RECORDS` (100,000) records of ~600 bytes each (about a journal line
//!   of the service) in group commits of `BENCH_PG_GROUP` (100) and of 1, the same events and
//!   times — on files the journal's append then sled's apply and flush (the files backend's
//!   commit), on PostgreSQL the journal's rows and the index's in one transaction —
//!   records/s and commits/s, PostgreSQL ÷ files;
//! * a verifying read of the whole journal (`verify`): records/s on each.
//!
//! * the whole loop: a backlog of `BENCH_PG_BACKLOG` (2,000) distinct appeals, one `run
//!   --once` on files and one on PostgreSQL (`[storage] backend = "postgres"`, this node
//!   leading), every receipt and «Зарегистрирован» durable: registrations/s on each and
//!   PostgreSQL ÷ files (issue 29's goal: ≥ 0.5), in `BENCH_PG_ROUNDS` (3) pairs back to back.
//!
//! Without PostgreSQL (`PGHOST` unset) it says SKIPPED.

use std::time::Instant;

#[path = "common/backlog.rs"]
mod backlog;
#[path = "common/hub.rs"]
mod hub;

use medo_gateway::journal::{self, Event};
use medo_pg::PgJournal;
use medo_store::{Journal, JournalRead};

use backlog::env_usize;

/// One `run --once` over `n` distinct appeals, on files or (`url`) on PostgreSQL:
/// registrations/s.
fn backlog_on(n: usize, url: Option<&str>) -> f64 {
    let root = tempfile::tempdir_in(backlog::bench_dir()).unwrap();
    let config_path = backlog::write_config(root.path(), 1);
    backlog::samples(&config_path, &root.path().join("samples"));
    let sample = root.path().join("samples/urog-appeal-2.2");
    for i in 0..n {
        let dst = root.path().join("in").join(format!("{i:06}"));
        backlog::distinct_appeal(&sample, &dst, i, None);
    }
    if let Some(url) = url {
        let file = root.path().join("db.url");
        std::fs::write(&file, url).unwrap();
        let text = std::fs::read_to_string(&config_path).unwrap();
        let storage = format!("[storage]\nbackend = \"postgres\"\nurl_file = {file:?}\n\n");
        std::fs::write(&config_path, format!("{storage}{text}")).unwrap();
    }
    let config = medo_gateway::config::Config::load(&config_path).unwrap();
    let t = Instant::now();
    let report = medo_gateway::gateway::run_once(config).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(
        report.published,
        2 * n,
        "a receipt and a «Зарегистрирован» per appeal"
    );
    n as f64 / secs
}

/// The whole loop on files and on PostgreSQL, the same backlog, back to back, in
/// `BENCH_PG_ROUNDS` (3) pairs (the disk's fsync rate drifts within minutes): each pair's
/// figures and the median ratio.
fn whole_loop(url: &str) {
    let n = env_usize("BENCH_PG_BACKLOG", 2_000);
    let rounds = env_usize("BENCH_PG_ROUNDS", 3);
    let mut ratios = Vec::new();
    for round in 0..rounds.min(if n == 0 { 0 } else { usize::MAX }) {
        let mut sql = postgres::Client::connect(url, postgres::NoTls).unwrap();
        sql.batch_execute(
            "DROP TABLE IF EXISTS medo_journal, medo_lease, medo_index, medo_checkpoints, medo_keys, medo_spool",
        )
        .unwrap();
        let files = backlog_on(n, None);
        let pg = backlog_on(n, Some(url));
        ratios.push(pg / files);
        println!(
            "the whole loop, pair {}: a backlog of {n} appeals (receipt + notice + archive durable): files {files:.0} registrations/s, PostgreSQL {pg:.0} registrations/s; PostgreSQL ÷ files = {:.2}",
            round + 1,
            pg / files
        );
    }
    if !ratios.is_empty() {
        ratios.sort_by(f64::total_cmp);
        println!(
            "the whole loop: median PostgreSQL ÷ files over {} pairs = {:.2} (goal ≥ 0.5)",
            ratios.len(),
            ratios[ratios.len() / 2]
        );
    }
}

fn event(n: usize) -> Event {
    Event::Retried {
        arrival: n as u64,
        to: format!("{n:08}-{}", "пакет ".repeat(45)),
        command: None,
    }
}

/// Appends `records` in groups of `group` to `j`, each group then handed to `after` (the
/// files backend's index: applied to sled and flushed): seconds taken.
fn append(
    j: &mut dyn Journal,
    records: usize,
    group: usize,
    after: &mut dyn FnMut(&[journal::Record]),
) -> f64 {
    let t = Instant::now();
    let mut n = 0;
    while n < records {
        let events: Vec<Event> = (n..(n + group).min(records)).map(event).collect();
        n += events.len();
        let written = j.append(events, "2026-12-07T10:00:00Z").expect("append");
        after(&written);
    }
    t.elapsed().as_secs_f64()
}

fn main() {
    let Some(url) = medo_pg::testing::database("bench") else {
        return;
    };
    let mut sql = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut setting =
        |name: &str| -> String { sql.query_one(&format!("SHOW {name}"), &[]).unwrap().get(0) };
    let (version, fsync, commit) = (
        setting("server_version"),
        setting("fsync"),
        setting("synchronous_commit"),
    );
    println!("PostgreSQL {version}: fsync = {fsync}, synchronous_commit = {commit}");
    if let Some(loop_url) = medo_pg::testing::database("loop") {
        whole_loop(&loop_url);
    }
    let records = env_usize("BENCH_PG_RECORDS", 100_000);
    for group in [env_usize("BENCH_PG_GROUP", 100), 1] {
        let count = if group == 1 { records / 20 } else { records };
        let dir = tempfile::tempdir_in(".").unwrap();
        let (mut files, _) = journal::Journal::open(&dir.path().join("journal")).unwrap();
        let store = medo_gateway::store::Store::open(&dir.path().join("store")).unwrap();
        let mut index = |records: &[journal::Record]| {
            store.apply_all(records).unwrap();
            store.flush().unwrap();
        };
        let f = append(&mut files, count, group, &mut index);
        sql.batch_execute("DROP TABLE IF EXISTS medo_journal, medo_lease")
            .unwrap();
        let mut pg = PgJournal::open(&url).unwrap();
        let p = append(&mut pg, count, group, &mut |_| {});
        let commits = count.div_ceil(group) as f64;
        println!(
            "append {count} records in commits of {group}: files {:.0} records/s ({:.0} commits/s), PostgreSQL {:.0} records/s ({:.0} commits/s); PostgreSQL ÷ files = {:.2}",
            count as f64 / f,
            commits / f,
            count as f64 / p,
            commits / p,
            f / p
        );
        if group > 1 {
            let t = Instant::now();
            let a = journal::Folder::new(dir.path().join("journal"))
                .verify()
                .unwrap()
                .records;
            let vf = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let b = pg.verify().unwrap().records;
            let vp = t.elapsed().as_secs_f64();
            println!(
                "verify {a} / {b} records: files {:.0} records/s, PostgreSQL {:.0} records/s",
                a as f64 / vf,
                b as f64 / vp
            );
        }
    }
}
