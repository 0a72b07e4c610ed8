//! Tables are created once, whoever comes first: eight sessions opening a fresh database at
//! the same moment (two nodes starting, a command beside the starting service) all succeed —
//! `CREATE … IF NOT EXISTS` alone can fail on the catalog's unique index when run at once.
//! Needs a PostgreSQL server (`pg_virtualenv`); says SKIPPED without one.

#[test]
fn sessions_opening_a_fresh_database_at_once_all_succeed() {
    for round in 0..3 {
        let Some(url) = medo_pg::testing::database(&format!("schema_race_{round}")) else {
            return;
        };
        let start = std::sync::Arc::new(std::sync::Barrier::new(8));
        let openers: Vec<_> = (0..8)
            .map(|i| {
                let (url, start) = (url.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    match i % 2 {
                        0 => medo_pg::PgJournal::open(&url).map(drop),
                        _ => medo_pg::backend::Keys::open(&url).map(drop),
                    }
                })
            })
            .collect();
        for o in openers {
            let opened = o.join().unwrap();
            assert!(opened.is_ok(), "round {round}: {:?}", opened.err());
        }
    }
}
