//! Issue 16, item 6: `appeals list` and `appeals show` read the same whichever way they go —
//! from the running service over `state_dir/operator.sock` (0600), from the store with the
//! journal's tail applied, or from the whole journal folded — and `appeals list` pages.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::env::{Env, Service};
use medo_gateway::journal::{Event, Journal};
use medo_gateway::operator_view::{self, Query};

/// `appeals …` with `args`: (stdout, stderr), asserting success.
fn appeals(env: &Env, args: &[&str]) -> (String, String) {
    let mut all = vec!["appeals"];
    all.extend_from_slice(args);
    let out = env.cmd(&all);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {err}");
    (String::from_utf8(out.stdout).unwrap(), err)
}

fn ids(json: &str) -> Vec<u64> {
    let rows: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
    rows.iter().map(|r| r["id"].as_u64().unwrap()).collect()
}

/// Five appeals, processed.
fn five_appeals() -> Env {
    let env = Env::new();
    for n in 1..=5u32 {
        let d = env.drop_sample("urog-appeal-2.2", &format!("a{n}"));
        common::packages::new_document(&d, 700 + n, "Письмо", &format!("А26-02-70{n}"), "x");
    }
    env.once();
    env
}

#[test]
fn the_three_ways_answer_alike() {
    let env = five_appeals();
    let list = ["list", "--json"];
    let show = ["show", "А26-02-703", "--json"];
    let (from_store, _) = appeals(&env, &list);
    let (shown_from_store, _) = appeals(&env, &show);
    assert_eq!(ids(&from_store).len(), 5);

    // the whole journal folded (no store to read)
    let store = env.state.join("store");
    let aside = env.state.join("store.aside");
    fs::rename(&store, &aside).unwrap();
    assert_eq!(appeals(&env, &list).0, from_store);
    assert_eq!(appeals(&env, &show).0, shown_from_store);
    fs::rename(&aside, &store).unwrap();

    // the running service, over its socket (the store is locked by it meanwhile)
    let service = Service::start(&env);
    let layout = medo_gateway::spool::Layout::new(
        &medo_gateway::config::Config::load(&env.config)
            .unwrap()
            .spool,
    );
    let socket = operator_view::socket(&layout);
    let mode = fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the socket is the owner's only");
    let asked = Query::Show {
        id: "А26-02-703".into(),
        json: true,
        pin: false,
        body: None,
    };
    let answer = operator_view::ask(&layout, &asked)
        .expect("the service answers")
        .unwrap();
    assert_eq!(answer.stdout, shown_from_store);
    assert_eq!(appeals(&env, &list).0, from_store);
    assert_eq!(appeals(&env, &show).0, shown_from_store);
    let unknown = env.cmd(&["appeals", "show", "А26-99-999"]);
    assert!(
        !unknown.status.success(),
        "an unknown appeal is an error through the socket too"
    );
    assert!(service.stop().success());
    assert!(
        operator_view::ask(&layout, &asked).is_none(),
        "no service: no answer"
    );
}

#[test]
fn a_page_at_a_time_and_the_journals_tail_included() {
    let env = five_appeals();
    let (all, _) = appeals(&env, &["list", "--json", "--all"]);
    let (first, note) = appeals(&env, &["list", "--json", "--limit", "2"]);
    assert_eq!(ids(&first), ids(&all)[..2]);
    let after = ids(&first)[1].to_string();
    assert!(note.contains(&format!("--after {after}")), "{note}");
    let (second, _) = appeals(&env, &["list", "--json", "--limit", "2", "--after", &after]);
    let (third, last_note) = appeals(
        &env,
        &[
            "list",
            "--json",
            "--limit",
            "2",
            "--after",
            &ids(&second)[1].to_string(),
        ],
    );
    let paged: Vec<u64> = [first, second, third].iter().flat_map(|p| ids(p)).collect();
    assert_eq!(paged, ids(&all), "the pages together are the list");
    assert!(
        !last_note.contains("--after"),
        "the last page says no more: {last_note}"
    );

    // records journaled after the store last applied (a crash between the two): shown
    let (mut journal, _) = Journal::open(&env.state.join("journal")).unwrap();
    let next = journal.next_seq();
    let received = env.records_of_kind("appeal_received");
    let mut late: serde_json::Value = received[0].clone();
    for k in ["seq", "ts", "prev", "hash"] {
        late.as_object_mut().unwrap().remove(k);
    }
    late["appeal"] = next.into();
    late["urog_number"] = "А26-02-799".into();
    late["urog_number_norm"] = "А26-02-799".into();
    late["document_uid"] = "late-document".into();
    let event: Event = serde_json::from_value(late).unwrap();
    journal.append(vec![event], "2026-12-03T10:00:00Z").unwrap();
    drop(journal);
    let (shown, _) = appeals(&env, &["show", "А26-02-799", "--json"]);
    assert!(shown.contains(&format!("\"id\": {next}")), "{shown}");
    let (listed, _) = appeals(&env, &["list", "--json", "--all"]);
    assert_eq!(ids(&listed).len(), 6);
    // read from the store, the tail applied to it (not the journal folded)
    let store = medo_gateway::store::Store::open(&env.state.join("store")).unwrap();
    assert_eq!(store.applied_seq().unwrap(), Some(next));
}
