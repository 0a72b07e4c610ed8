//! The two shelves of the appeal book agree: the sled store the service reads (folded inside
//! each record's transaction) and the in-memory book operator commands fold from the journal.
//! Random journals of appeal events (received, registered, refused, redelivered, progress,
//! archived; answers awaiting receipts, receipts, re-sends) are written through the journal
//! API, then both shelves are compared appeal by appeal and lookup by lookup.

use medo_gateway::book::Appeals;
use medo_gateway::decision::BookView;
use medo_gateway::journal::{Event, Journal, Output};
use medo_gateway::model::{DecidedBy, Format, OutputKind, Step};
use medo_gateway::resend::Tracker;
use medo_gateway::store::{self, Store};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Receive { urog: u8, held: bool },
    Register(u8),
    Refuse(u8),
    Redeliver(u8),
    Progress(u8, u8),
    Archive(u8),
    Answer,
    Publish(u8),
    Receipt(u8),
    Resend(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6, any::<bool>()).prop_map(|(urog, held)| Op::Receive { urog, held }),
        any::<u8>().prop_map(Op::Register),
        any::<u8>().prop_map(Op::Refuse),
        any::<u8>().prop_map(Op::Redeliver),
        (any::<u8>(), 0u8..4).prop_map(|(a, s)| Op::Progress(a, s)),
        any::<u8>().prop_map(Op::Archive),
        Just(Op::Answer),
        any::<u8>().prop_map(Op::Publish),
        any::<u8>().prop_map(Op::Receipt),
        any::<u8>().prop_map(Op::Resend),
    ]
}

fn output(name: &str, kind: OutputKind, uid: &str) -> Output {
    Output {
        name: name.into(),
        kind,
        message_uid: uid.into(),
        format: Format::V22,
        created: "2026-11-23T08:00:00+03:00".into(),
        recipient_uid: "r".into(),
        about_uid: "a".into(),
        accepted: true,
        comment: None,
        foundation: None,
        registration: None,
        reason: None,
        text: None,
        post: None,
        files: Vec::new(),
        restricted: false,
        document_kind: None,
        document: None,
        body: None,
    }
}

/// Turns operations into events; ids refer to earlier arrivals (by index, wrapping).
fn events(ops: &[Op]) -> Vec<Event> {
    let mut out = Vec::new();
    let mut appeals: Vec<u64> = Vec::new();
    let mut answers: Vec<(String, String)> = Vec::new(); // (output name, message uid)
    let mut seq = 0u64;
    // each body numbers its own: the same number in two bodies
    let mut year_seq: std::collections::HashMap<bool, u64> = Default::default();
    let mut in_b: std::collections::HashSet<u64> = Default::default();
    let pick = |v: &[u64], i: u8| (!v.is_empty()).then(|| v[i as usize % v.len()]);
    for op in ops {
        let e = match op {
            Op::Receive { urog, held } => {
                appeals.push(seq);
                let other_body = urog % 3 == 0;
                if other_body {
                    in_b.insert(seq);
                }
                Event::AppealReceived {
                    appeal: seq,
                    key: format!("k{seq}").into(),
                    urog_number: format!("A26-02-{urog}").into(),
                    urog_number_norm: format!("А26-02-{urog}").into(),
                    urog_date: medo_gateway::model::Day::parse("2026-11-19"),
                    urog_organization: Some("УРОГ".into()),
                    document_uid: format!("doc-{}", seq % 7).into(),
                    source_uid: "s".into(),
                    format: Format::V22,
                    restricted: seq.is_multiple_of(3),
                    signatures: Vec::new(),
                    held: held.then(|| "manual".into()),
                    files: vec![medo_gateway::model::ArrivedFile {
                        name: format!("{seq}.pdf"),
                        role: medo_gateway::model::FileRole::Document,
                        size: seq,
                        sha256: format!("{seq:064x}").into(),
                        container: None,
                    }],
                    // a repeat appeal cites the one received before it
                    cites: appeals
                        .iter()
                        .rev()
                        .nth(1)
                        .copied()
                        .filter(|_| *urog % 2 == 0)
                        .into_iter()
                        .collect(),
                    body: other_body.then(|| "mo-b".into()),
                    redirected_from: None,
                    via: None,
                }
            }
            Op::Register(i) => {
                let Some(a) = pick(&appeals, *i) else {
                    continue;
                };
                let year_seq = year_seq.entry(in_b.contains(&a)).or_default();
                *year_seq += 1;
                Event::AppealRegistered {
                    appeal: a,
                    number: format!("ОГ-{year_seq}/26").into(),
                    year: 2026,
                    year_seq: *year_seq,
                    date: medo_gateway::model::Day::parse("2026-11-23").unwrap(),
                    pin_hash: format!("pin{a}").into(),
                    by: DecidedBy::Auto,
                    outputs: Vec::new(),
                    overrides: None,
                    comment: None,
                    operator: None,
                    command: None,
                }
            }
            Op::Refuse(i) => {
                let Some(a) = pick(&appeals, *i) else {
                    continue;
                };
                Event::AppealRefused {
                    appeal: a,
                    reason: medo_gateway::wire::message::RefusalReason::AddressingError,
                    comment: None,
                    by: DecidedBy::Operator,
                    outputs: Vec::new(),
                    // operator commands carry their id (compared below)
                    command: Some(format!("cmd-{seq}").into()),
                    operator: Some("ivanova".into()),
                }
            }
            Op::Redeliver(i) => {
                let Some(a) = pick(&appeals, *i) else {
                    continue;
                };
                Event::AppealRedelivered {
                    appeal: seq,
                    of: a,
                    outputs: Vec::new(),
                }
            }
            Op::Progress(i, s) => {
                let Some(a) = pick(&appeals, *i) else {
                    continue;
                };
                let step = match s {
                    0 => Step::ExecutorAssigned {
                        executor: "Иванов".into(),
                        post: None,
                    },
                    1 => Step::Extended {
                        until: "2026-12-30".into(),
                        reason: "проверка".into(),
                    },
                    2 => Step::Redirected {
                        to: "Минстрой".into(),
                        sstu_id: None,
                        number: Some("1".into()),
                        to_body: None,
                        as_appeal: None,
                        comment: None,
                    },
                    _ => Step::Answered {
                        result: "explained".into(),
                        file: None,
                    },
                };
                // an answer sent as a document takes an outgoing number
                let numbered = matches!(step, Step::Answered { .. });
                Event::AppealProgress {
                    appeal: a,
                    step,
                    outputs: Vec::new(),
                    command: Some(format!("cmd-{seq}").into()),
                    number: numbered.then(|| format!("ОЗ-{seq}/26").into()),
                    year: numbered.then_some(2026),
                    year_seq: numbered.then_some(seq),
                    operator: Some("api:delo".into()),
                }
            }
            Op::Archive(i) => {
                let Some(a) = pick(&appeals, *i) else {
                    continue;
                };
                Event::Archived {
                    arrival: a,
                    key: format!("k{a}").into(),
                    dir: format!("archive/2026-11-23/k{a}"),
                }
            }
            Op::Answer => {
                let name = format!("response-{seq}");
                let uid = format!("UID-{seq}");
                answers.push((name.clone(), uid.clone()));
                Event::QueryAnswered {
                    arrival: seq,
                    key: format!("q{seq}").into(),
                    query_number: "1".into(),
                    query_date: None,
                    requested: vec!["А26-02-1".into(), format!("А26-02-{}", seq % 5).into()],
                    unresolved: vec![format!("А26-02-{}", seq % 5).into()],
                    outputs: vec![output(&name, OutputKind::Response, &uid)],
                    number: Some(format!("ОЗ-{seq}/26").into()),
                    year: Some(2026),
                    year_seq: Some(seq),
                    reanswer: None,
                    body: None,
                }
            }
            Op::Publish(i) | Op::Receipt(i) | Op::Resend(i) if answers.is_empty() => {
                let _ = i;
                continue;
            }
            Op::Publish(i) => {
                let (name, _) = &answers[*i as usize % answers.len()];
                Event::Published {
                    arrival: 0,
                    key: "k".into(),
                    name: name.clone(),
                    sha256: "0".repeat(64).into(),
                }
            }
            Op::Receipt(i) => {
                let (_, uid) = &answers[*i as usize % answers.len()];
                Event::ReceiptReceived {
                    arrival: seq,
                    about_uid: uid.to_lowercase().into(),
                    accepted: true,
                    comment: None,
                    by_operator: false,
                    error_code: None,
                    error_file: None,
                    output: None,
                }
            }
            Op::Resend(i) => {
                let (name, uid) = &answers[*i as usize % answers.len()];
                Event::Resent {
                    arrival: 0,
                    message_uid: uid.clone().into(),
                    attempt: 1,
                    outputs: vec![output(&format!("{name}-r"), OutputKind::Response, uid)],
                }
            }
        };
        out.push(e);
        seq += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn the_store_and_the_journal_fold_agree(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let journal_dir = dir.path().join("journal");
        let (mut journal, _) = Journal::open(&journal_dir).unwrap();
        // one event per record, so the generated seqs are the arrival ids
        for e in events(&ops) {
            journal.append(vec![e], "2026-11-23T05:00:00Z").unwrap();
        }
        let book = medo_gateway::operator::load_book(&journal_dir).unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        store::rebuild(&store, &journal).unwrap();
        prop_assert_eq!(book.all(), store.all());
        let mut facts_book = Vec::new();
        book.each_open_deadline(&mut |id, f| facts_book.push((id, f.clone())));
        let mut facts_store = Vec::new();
        store.each_open_deadline(&mut |id, f| facts_store.push((id, f.clone())));
        prop_assert_eq!(facts_book, facts_store);
        prop_assert_eq!(book.recent(5), store.recent(5));
        for body in ["main", "mo-b"] {
            let ids = |v: Vec<medo_gateway::book::Appeal>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
            prop_assert_eq!(ids(Appeals::after_of(&book, body, 2, 7)), ids(store.after_of(body, 2, 7)));
            prop_assert_eq!(Appeals::next_seq(&book, body, 2026), store.next_seq(body, 2026));
            // what decisions read: outgoing numbers, queries answered, numbers they did not find
            prop_assert_eq!(BookView::next_outgoing_seq(&book, body, 2026), store.try_next_outgoing_seq(body, 2026).unwrap());
        }
        for n in 0..5 {
            let norm = format!("А26-02-{n}");
            prop_assert_eq!(book.queries_awaiting(&norm), store.try_queries_awaiting(&norm).unwrap());
        }
        for arrival in 0..ops.len() as u64 {
            prop_assert_eq!(BookView::query(&book, arrival), store.try_query(arrival).unwrap());
            let id = format!("cmd-{arrival}");
            prop_assert_eq!(book.command_done(&id), store.try_command_done(&id).unwrap());
        }
        let mut asked = vec!["ОГ-999999/26".to_string(), "nonsense".to_string()];
        for a in book.all() {
            prop_assert_eq!(book.by_document(&a.document_uid), store.by_document(&a.document_uid));
            for id in [a.urog_number.clone(), a.id.to_string(), a.number.clone().unwrap_or_default()] {
                prop_assert_eq!(Appeals::find(&book, &id), store.find(&id));
                asked.push(id);
            }
        }
        // a query's lookups (compact facts, in parallel past 64 names) agree with the book's
        let asked: Vec<String> = asked.iter().cycle().take(asked.len().max(100)).cloned().collect();
        prop_assert_eq!(book.find_status_many(&asked), store.find_status_many(&asked));
        let mut tracker = Tracker::default();
        for r in medo_gateway::journal::read_all(&journal_dir).unwrap() {
            tracker.apply(&r);
        }
        let mut waiting = store.waiting().unwrap();
        waiting.sort_by(|a, b| a.output.message_uid.cmp(&b.output.message_uid));
        prop_assert_eq!(tracker.all_waiting(), waiting);
    }
}
