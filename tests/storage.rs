//! Issue 29, item 4: `storage migrate` moves the journal between the files and PostgreSQL —
//! verifying its chain, resumable, idempotent, refusing a database that holds another
//! history — and back, the same records and head on either side. Needs a PostgreSQL server
//! (CI: `pg_virtualenv`); says SKIPPED without one.

mod common;

use common::db_records;
use common::env::Env;

use medo_core::book::Appeals;
use medo_gateway::store::Store;

/// One read of the index, said as text to compare.
type View = fn(&Store) -> String;

/// Every read the loop, the decisions and the views make answers the same from the node's
/// sled index and from the database's (`Store::remote`): a table of reads, each compared.
fn same_reads(files: &Store, db: &Store) {
    let appeals = files.all();
    assert!(!appeals.is_empty());
    assert_eq!(db.all(), appeals, "all appeals, with their PIN hashes");
    let views: Vec<(&str, View)> = vec![
        ("recent", |s| format!("{:?}", s.recent(1))),
        ("after", |s| format!("{:?}", s.after(0, 10))),
        ("body", |s| format!("{:?}", s.after_of("main", 0, 10))),
        ("iter", |s| {
            format!("{:?}", s.iter_appeals_after(0).collect::<Vec<_>>())
        }),
        ("next", |s| {
            format!(
                "{:?}",
                (
                    s.next_seq("main", 2026),
                    s.try_next_outgoing_seq("main", 2026)
                )
            )
        }),
        ("arrivals", |s| format!("{:?}", s.all_arrivals())),
        ("unfinished", |s| {
            format!("{:?} {}", s.unfinished(), s.unfinished_count())
        }),
        ("at rest", |s| format!("{:?}", s.arrivals_at_rest())),
        ("pending", |s| {
            format!("{:?}", s.pending_outputs_oldest(10, &|_| true))
        }),
        ("waiting", |s| {
            format!("{:?} {:?}", s.waiting(), s.rejections())
        }),
        ("held", |s| format!("{:?}", s.unrouted())),
        ("meta", |s| {
            format!("{:?}", (s.applied_seq(), s.head(), s.schema_current()))
        }),
        ("digests", |s| format!("{:?}", s.digests())),
        ("deadlines", |s| {
            let mut seen = Vec::new();
            s.each_open_deadline(&mut |id, f| seen.push(format!("{id} {f:?}")));
            seen.join("; ")
        }),
    ];
    for (what, read) in views {
        assert_eq!(read(db), read(files), "{what}");
    }
    for a in &appeals {
        let number = a.number.clone().unwrap_or_default();
        for id in [number.as_str(), a.urog_number.as_str(), &a.id.to_string()] {
            assert_eq!(db.find(id), files.find(id), "find {id}");
        }
        let ids = vec![number.clone(), a.urog_number.clone()];
        assert_eq!(db.find_status_many(&ids), files.find_status_many(&ids));
        assert_eq!(
            db.by_document(&a.document_uid),
            files.by_document(&a.document_uid)
        );
    }
    for a in files.all_arrivals().unwrap() {
        let keys = (
            a.key.to_string(),
            a.claim.clone(),
            a.header_uid.clone().unwrap_or_default(),
        );
        let by = |s: &Store| {
            (
                s.by_key(&keys.0).unwrap(),
                s.by_claim(&keys.1).unwrap(),
                s.by_uid(&keys.2).unwrap(),
                s.arrival(a.arrival).unwrap(),
            )
        };
        assert_eq!(by(db), by(files), "arrival {}", a.arrival);
        assert_eq!(by(db).3.as_ref(), Some(&a), "the arrival itself");
    }
}

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
    let pool = medo_pg::read::PgRead::open(&url, 2).unwrap();
    same_reads(&sled, &Store::remote(std::sync::Arc::new(pool)));
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
    // migration takes the configured URL
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
    // and the service runs on it, where the files left off (this node's anchor checks it)
    let run = first.cmd(&["run", "--once"]);
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{said}");
    assert!(
        !said.contains("postgresql://"),
        "the URL is never said: {said}"
    );
    let records = db_records(&url);
    assert_eq!(records[now - 1]["hash"].as_str(), Some(head.as_str()));
    assert!(
        records.len() > now,
        "service_start and service_stop journaled"
    );
}

/// The kinds of the journal's records, in order ("received", "parsed", …).
/// `[storage]` naming the database at `url` (kept in a file of `env`'s, as an operator keeps
/// it), lease 2 s: the section's TOML.
fn storage_of(env: &Env, url: &str) -> String {
    let url_file = env.root.path().join("db.url");
    std::fs::write(&url_file, url).unwrap();
    format!("[storage]\nbackend = \"postgres\"\nurl_file = {url_file:?}\nlease_secs = 2\n")
}

fn kinds(records: &[serde_json::Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["kind"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// The service on `[storage] backend = "postgres"` decides as it does on files: the same
/// packages give the same records (in kind and order), the same outbound packages and the
/// same registration numbers; a package seen again is a duplicate found in the database's
/// index; the database's journal verifies; a second node of the same database then leads in
/// its turn (the first gave its lease up at its clean stop) and continues the chain.
#[test]
fn the_service_on_postgres_decides_as_it_does_on_files() {
    let Some(url) = medo_pg::testing::database("service") else {
        return;
    };
    let (files, pg) = (Env::new(), Env::new());
    let storage = storage_of(&pg, &url);
    pg.add_sections(&storage);
    for env in [&files, &pg] {
        env.drop_sample("urog-appeal-2.2", "a");
        env.drop_sample("urog-appeal-2.7.1", "b");
        env.once();
        env.drop_sample("urog-appeal-2.2", "a-again");
        env.once();
    }
    let (on_files, in_db) = (files.journal_lines(), db_records(&url));
    assert_eq!(kinds(&in_db), kinds(&on_files), "the same records");
    let numbers = |records: &[serde_json::Value]| -> Vec<String> {
        let registered = records.iter().filter(|r| r["kind"] == "appeal_registered");
        registered.map(|r| r["number"].to_string()).collect()
    };
    assert_eq!(numbers(&in_db), numbers(&on_files));
    assert_eq!(numbers(&in_db).len(), 2, "{:?}", kinds(&in_db));
    assert!(kinds(&in_db).contains(&"duplicate".to_string()));
    let outbound = |env: &Env| -> Vec<String> {
        let mut kinds: Vec<String> = env
            .outbound_names()
            .iter()
            .map(|n| n.split('-').next().unwrap_or("").to_string())
            .collect();
        kinds.sort();
        kinds
    };
    assert_eq!(outbound(&pg), outbound(&files));
    // the operators' commands read the database: the journal's export, the appeals
    let exported = pg.journal_lines();
    assert_eq!(
        exported, in_db,
        "journal export reads the database's journal"
    );
    for number in numbers(&in_db) {
        let number = number.trim_matches('"');
        let shown = pg.ok(&["appeals", "show", number, "--json"]);
        assert!(shown.contains(number), "{shown}");
    }
    let listed: serde_json::Value =
        serde_json::from_str(&pg.ok(&["appeals", "list", "--json"])).unwrap();
    let listed_files: serde_json::Value =
        serde_json::from_str(&files.ok(&["appeals", "list", "--json"])).unwrap();
    let count = |v: &serde_json::Value| {
        v.as_array()
            .map(Vec::len)
            .or_else(|| v["appeals"].as_array().map(Vec::len))
    };
    assert_eq!(count(&listed), count(&listed_files), "{listed}");
    assert_eq!(count(&listed), Some(2), "{listed}");
    // the spool's views read the database's journal too: the same counts as on files
    let status = |env: &Env| -> serde_json::Value {
        serde_json::from_str(&env.ok(&["spool", "status", "--json"])).unwrap()
    };
    assert_eq!(status(&pg)["counts"], status(&files)["counts"]);
    assert_eq!(status(&pg)["counts"]["archived"], 3, "{}", status(&pg));
    let shown = pg.ok(&["spool", "show", "1", "--json"]);
    assert!(shown.contains("\"kind\":\"received\""), "{shown}");
    let segments = medo_gateway::journal::segments(&pg.state.join("journal")).unwrap_or_default();
    assert!(
        segments.is_empty(),
        "no journal on this node's disk: {segments:?}"
    );
    let verified = pg.ok(&["journal", "verify"]);
    assert!(
        verified.contains(&format!("журнал цел: записей {}", in_db.len())),
        "{verified}"
    );

    // another node, an empty state_dir, the same database and spool: it takes
    // the lease at once (given up at the first node's stop), the keys from the database
    let next = Env::new();
    next.add_sections(&storage);
    next.share_spool_of(&pg);
    pg.drop_sample("urog-appeal-2.7.1", "c");
    next.once();
    let after = db_records(&url);
    assert!(after.len() > in_db.len());
    assert_eq!(
        after[in_db.len()]["prev"],
        in_db[in_db.len() - 1]["hash"],
        "the chain goes on"
    );
    assert!(
        kinds(&after[in_db.len()..]).contains(&"duplicate".to_string()),
        "c repeats b: found in the database"
    );
    for key in ["checkpoint.key", "pin.key"] {
        assert!(
            !next.state.join(key).exists(),
            "{key}: the database's, no copy on disk"
        );
    }
    let key = medo_gateway::checkpoint::load_key(&pg.state.join("checkpoint.key")).unwrap();
    let problem = medo_gateway::checkpoint::anchor_problem(&next.state, &key.verifying_key(), 1);
    assert_eq!(
        problem, None,
        "the next node's anchor is signed with the first node's key"
    );
}

/// The changes feed (`GET /api/v1/changes`, what a СЭД polls, and what the webhooks push)
/// and the dashboard's exchange log read the database's journal when `[storage]` names it —
/// not this node's `state_dir/journal`, which holds nothing on PostgreSQL.
#[test]
fn the_changes_feed_and_the_dashboard_read_the_databases_journal() {
    use std::io::{Read, Write};
    let Some(url) = medo_pg::testing::database("feed") else {
        return;
    };
    let env = Env::new();
    let token = env.root.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let port = common::env::free_port();
    env.add_sections(&format!(
        "{}[http]\nlisten = \"127.0.0.1:{port}\"\napi_token_file = {token:?}\n",
        storage_of(&env, &url)
    ));
    let service = common::env::Service::start(&env);
    common::wait_http(port);
    env.drop_sample("urog-appeal-2.2", "a");
    let get = |path: &str| -> (u16, String) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer s3cret-token\r\n\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let code = out.split_whitespace().nth(1).unwrap().parse().unwrap();
        (code, out.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
    };
    let start = std::time::Instant::now();
    let items = loop {
        let (code, text) = get("/api/v1/changes?after=&limit=100");
        assert_eq!(code, 200, "{text}");
        let page: serde_json::Value = serde_json::from_str(&text).unwrap();
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items
            .iter()
            .any(|i| i.to_string().contains("appeal_registered"))
        {
            break items;
        }
        assert!(
            start.elapsed().as_secs() < 20,
            "the feed stays empty: {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let in_db = db_records(&url);
    assert!(!items.is_empty() && items.len() <= in_db.len(), "{items:?}");
    let (code, page) = get("/");
    assert_eq!(code, 200);
    let log = page.split("Журнал обмена").nth(1).unwrap_or("");
    let rows = log
        .split("</table>")
        .next()
        .unwrap_or("")
        .matches("<tr>")
        .count();
    assert!(
        rows > 1,
        "the dashboard's log shows the database's records: {log}"
    );
    assert!(service.stop().success());
}

/// `store verify` and `store rebuild` on PostgreSQL: the index's table against a scratch
/// rebuild from the database's journal; a damaged table found (exit 1) and rebuilt in one
/// transaction; both refused while a gateway leads the database.
#[test]
fn store_verify_and_rebuild_work_on_the_databases_tables() {
    let Some(url) = medo_pg::testing::database("store_rebuild") else {
        return;
    };
    let env = Env::new();
    env.add_sections(&storage_of(&env, &url));
    env.drop_sample("urog-appeal-2.2", "a");
    env.drop_sample("urog-appeal-2.7.1", "b");
    env.once();
    let verified = env.ok(&["store", "verify"]);
    assert!(
        verified.contains("индекс совпадает с журналом"),
        "{verified}"
    );
    // an arrival's row lost from the index's table
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let gone = db
        .execute(
            "DELETE FROM medo_index WHERE tree = $1 AND key = $2",
            &[
                &medo_pg::index::tree_id(medo_store::apply::Tree::Arrivals),
                &1u64.to_be_bytes().to_vec(),
            ],
        )
        .unwrap();
    assert_eq!(gone, 1);
    let out = env.cmd(&["store", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("РАСХОДИТСЯ"));
    let rebuilt = env.ok(&["store", "rebuild"]);
    let records = db_records(&url).len();
    assert!(rebuilt.contains(&format!("записей {records}")), "{rebuilt}");
    assert!(env.ok(&["store", "verify"]).contains("совпадает"));
    // with a gateway leading the database, neither runs
    let service = common::env::Service::start(&env);
    let start = std::time::Instant::now();
    let refused = loop {
        let out = env.cmd(&["store", "rebuild"]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        if !out.status.success() && err.contains("leads") {
            break err;
        }
        assert!(start.elapsed().as_secs() < 20, "never refused: {err}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(refused.contains("stop every gateway"), "{refused}");
    assert!(service.stop().success());
}

/// Issue 29: the journal's guards hold on the database too. The checkpoints (the key in
/// `medo_keys`) are printed and verified by `journal checkpoint pubkey|verify`; the witness
/// (`[audit]`) takes the notes of every commit; the database restored from a backup older
/// than what the witness saw is refused at start and by `journal verify --witness`; `journal
/// recover --from-witness` continues with the numbering past every number the witness saw
/// (the epoch kept in the database), and the witness accepts the journal from then on.
#[test]
fn the_witness_and_the_checkpoints_guard_the_databases_journal() {
    let Some(url) = medo_pg::testing::database("witness") else {
        return;
    };
    let env = Env::new();
    let worm = env.root.path().join("worm");
    std::fs::create_dir(&worm).unwrap();
    env.add_sections(&format!(
        "{}[journal]\ncheckpoint_every = 3\n[audit]\nwitness_dir = {worm:?}\n",
        storage_of(&env, &url)
    ));
    env.drop_sample("urog-appeal-2.2", "a");
    env.once();
    assert!(
        !common::env::names(&worm).is_empty(),
        "the witness took notes"
    );
    let pubkey = env.root.path().join("pubkey");
    std::fs::write(&pubkey, env.ok(&["journal", "checkpoint", "pubkey"])).unwrap();
    let key = pubkey.to_str().unwrap();
    let checked = env.ok(&["journal", "checkpoint", "verify", "--pubkey", key]);
    assert!(checked.contains("контрольных точек проверено"), "{checked}");
    // a backup of the database, then one more appeal
    let backup = format!("{}_backup", url.rsplit('/').next().unwrap());
    let admin_url = format!("{}/postgres", url.rsplit_once('/').unwrap().0);
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls).unwrap();
    let original = url.rsplit('/').next().unwrap();
    for sql in [
        format!("DROP DATABASE IF EXISTS {backup}"),
        format!("CREATE DATABASE {backup} TEMPLATE {original}"),
    ] {
        admin.batch_execute(&sql).unwrap();
    }
    let b = env.drop_sample("urog-appeal-2.2", "b");
    common::packages::new_document(&b, 2, "Обращение", "А26-02-2222222", "второе");
    env.once();
    let numbers = |url: &str| -> Vec<String> {
        let records = db_records(url);
        let registered = records.iter().filter(|r| r["kind"] == "appeal_registered");
        registered.map(|r| r["number"].to_string()).collect()
    };
    let given = numbers(&url);
    assert_eq!(given.len(), 2, "{given:?}");
    // the restore: the node now reads the older database
    let restored = format!("{}/{backup}", url.rsplit_once('/').unwrap().0);
    std::fs::write(env.root.path().join("db.url"), &restored).unwrap();
    let out = env.cmd(&["run", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("anchor.note"),
        "this node's anchor saw more: {err}"
    );
    // another node (no anchor of its own) is stopped by the witness
    std::fs::remove_file(env.state.join("anchor.note")).unwrap();
    let out = env.cmd(&["run", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("Свидетель"), "{err}");
    let w = worm.to_str().unwrap();
    let verify = env.cmd(&["journal", "verify", "--witness", w]);
    let said = String::from_utf8_lossy(&verify.stdout);
    assert_eq!(verify.status.code(), Some(1), "{said}");
    assert!(said.contains("ПОВРЕЖДЁН"), "{said}");
    env.ok(&["journal", "recover", "--from-witness", w]);
    let c = env.drop_sample("urog-appeal-2.2", "c");
    common::packages::new_document(&c, 3, "Обращение", "А26-02-3333333", "третье");
    env.once();
    let records = db_records(&restored);
    let recovered: Vec<_> = records
        .iter()
        .filter(|r| r["kind"] == "journal_recovered")
        .collect();
    assert_eq!(recovered.len(), 1, "{:?}", kinds(&records));
    assert!(recovered[0]["sequences"][0]["registered"].as_u64().unwrap() >= 2);
    let after = numbers(&restored);
    let newest = after.last().unwrap();
    assert!(
        !given.contains(newest),
        "{newest} was given before: {given:?}"
    );
    let verify = env.cmd(&["journal", "verify", "--witness", w]);
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{said}");
    let checked = env.ok(&["journal", "checkpoint", "verify", "--pubkey", key]);
    assert!(checked.contains("контрольных точек проверено"), "{checked}");
    drop(admin);
}

/// On PostgreSQL an operator's command from the CLI is queued for the leading node, never
/// carried out here: a node without a running service used to open a gateway of its own —
/// the files backend, another journal in its `state_dir` — and decide there.
#[test]
fn a_cli_command_on_postgres_is_left_to_the_leader() {
    let Some(url) = medo_pg::testing::database("cli_command") else {
        return;
    };
    let env = Env::new();
    env.add_sections(&format!(
        "{}[registration]\nmode = \"manual\"\n",
        storage_of(&env, &url)
    ));
    env.drop_sample("urog-appeal-2.2", "a");
    env.once();
    let said = env.ok(&["appeals", "register", "1"]);
    assert!(said.contains("поставлено в очередь"), "{said}");
    let segments = common::env::names(&env.state.join("journal"));
    assert!(
        segments.iter().all(|n| !n.ends_with(".jsonl")),
        "a files journal was written here: {segments:?}"
    );
    let registered = |url: &str| {
        db_records(url)
            .iter()
            .filter(|r| r["kind"] == "appeal_registered")
            .count()
    };
    assert_eq!(registered(&url), 0, "not carried out by the CLI");
    env.once();
    assert_eq!(registered(&url), 1, "the leader carried it out");
}
