//! Issue 29, item 4: `storage migrate` moves the journal between the files and PostgreSQL —
//! verifying its chain, resumable, idempotent, refusing a database that holds another
//! history — and back, the same records and head on either side. Needs a PostgreSQL server
//! (CI: `pg_virtualenv`); says SKIPPED without one.

mod common;

use common::env::Env;

fn head_of(env: &Env) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["journal", "verify", "--json"])).unwrap();
    v["head"].as_str().unwrap().to_string()
}

#[test]
fn the_journal_moves_to_postgres_and_back_resumably_and_only_onto_its_own_history() {
    let Some(url) = medo_pg::testing::database("migrate") else {
        return;
    };
    let first = Env::new();
    first.drop_sample("urog-appeal-2.2", "a");
    first.once();
    let said = first.ok(&["storage", "migrate", "--to", "postgres", "--url", &url]);
    let records = first.journal_lines().len();
    assert!(
        said.contains(&format!("скопировано записей {records}, уже было 0")),
        "{said}"
    );
    // again: nothing to copy; after more work: only what is new (the URL from a file)
    let url_file = first.root.path().join("db.url");
    std::fs::write(&url_file, format!("{url}\n")).unwrap();
    let file = url_file.to_str().unwrap();
    let again = first.ok(&["storage", "migrate", "--to", "postgres", "--url-file", file]);
    assert!(
        again.contains(&format!("скопировано записей 0, уже было {records}")),
        "{again}"
    );
    first.drop_sample("urog-appeal-2.7.1", "b");
    first.once();
    let now = first.journal_lines().len();
    let more = first.ok(&["storage", "migrate", "--to", "postgres", "--url-file", file]);
    assert!(
        more.contains(&format!(
            "скопировано записей {}, уже было {records}",
            now - records
        )),
        "{more}"
    );
    let head = head_of(&first);
    assert!(
        more.contains(&head),
        "the database's head is the files': {more}"
    );
    // the index in the database, applied by the same fold in each commit's transaction,
    // holds exactly what this node's sled index holds: tree by tree, key by key
    let sled = medo_gateway::store::Store::open(&first.state.join("store")).unwrap();
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let in_db = medo_pg::index::digests(&mut db).unwrap();
    assert_eq!(
        in_db,
        sled.digests().unwrap(),
        "the database's index is the files' index"
    );
    let count = |tree: &str| in_db.iter().find(|d| d.0 == tree).map(|d| d.1);
    assert_eq!(count("appeals"), Some(2), "two appeals: {in_db:?}");
    assert_eq!(count("arrivals"), Some(2), "{in_db:?}");
    drop(sled);

    // back into an empty node: the same records, the same head
    let second = Env::new();
    let back = second.ok(&["storage", "migrate", "--to", "files", "--url", &url]);
    assert!(
        back.contains(&format!("скопировано записей {now}")),
        "{back}"
    );
    assert_eq!(head_of(&second), head);
    assert_eq!(second.journal_lines(), first.journal_lines());

    // a node with another history is refused, the database untouched
    let other = Env::new();
    other.drop_sample("urog-appeal-2.7.1", "c");
    other.once();
    let refused = other.cmd(&["storage", "migrate", "--to", "postgres", "--url", &url]);
    assert_eq!(refused.status.code(), Some(2));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("другая история") || why.contains("впереди"),
        "{why}"
    );
    let still = first.ok(&["storage", "migrate", "--to", "postgres", "--url", &url]);
    assert!(still.contains("скопировано записей 0"), "{still}");

    // `[storage] backend = "postgres"`: `journal verify` checks the database's journal, the
    // migration takes the configured URL; the service says plainly it does not run there yet
    first.add_sections(&format!(
        "[storage]\nbackend = \"postgres\"\nurl_file = \"{file}\"\n"
    ));
    let verified = first.ok(&["journal", "verify"]);
    assert!(
        verified.contains(&format!("журнал цел: записей {now}")),
        "{verified}"
    );
    assert!(verified.contains(&head), "{verified}");
    let configured = first.ok(&["storage", "migrate", "--to", "postgres"]);
    assert!(configured.contains("скопировано записей 0"), "{configured}");
    let run = first.cmd(&["run", "--once"]);
    assert_eq!(run.status.code(), Some(2));
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(
        said.contains("пока не запускается") && !said.contains("postgresql://"),
        "{said}"
    );
}
