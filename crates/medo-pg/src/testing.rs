//! Support for tests that need a PostgreSQL server (this crate's and the binary's): a fresh
//! database of their own on the server the environment names — `PGHOST`, `PGPORT`, `PGUSER`,
//! `PGPASSWORD`, as `pg_virtualenv` (postgresql-common) sets them for the command it runs.
//! Without a server a test is skipped and says so on stderr; under `CI=true` it fails.

use postgres::{Client, NoTls};

/// A fresh database on the test server, its URL; `None` (said) when there is no server.
pub fn database(name: &str) -> Option<String> {
    let Ok(host) = std::env::var("PGHOST") else {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "CI=true: PostgreSQL is needed (run the tests under pg_virtualenv)"
        );
        // straight to the process's stderr: libtest hides a passing test's own output
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {name}: no PostgreSQL (PGHOST unset; run the tests under pg_virtualenv)"
        );
        return None;
    };
    let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let (port, user, password) = (
        var("PGPORT", "5432"),
        var("PGUSER", "postgres"),
        var("PGPASSWORD", ""),
    );
    let base = format!("postgresql://{user}:{password}@{host}:{port}");
    let mut admin = Client::connect(&format!("{base}/postgres"), NoTls).expect("the test server");
    let db = format!("medo_{name}_{}", std::process::id());
    for sql in [
        format!("DROP DATABASE IF EXISTS {db}"),
        format!("CREATE DATABASE {db}"),
    ] {
        admin.batch_execute(&sql).unwrap();
    }
    Some(format!("{base}/{db}"))
}

/// Ends every other connection to the database behind `admin` (as a server restart or an
/// administrator would) and waits until they are gone; how many were ended.
pub fn end_connections(admin: &mut Client) -> u64 {
    let ended = admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .expect("the test server");
    let others = "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND pid <> pg_backend_pid()";
    while admin
        .query_one(others, &[])
        .expect("the test server")
        .get::<_, i64>(0)
        > 0
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    ended
}
