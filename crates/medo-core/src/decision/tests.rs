//! Table tests of the core, rust-analyzer style: a sequence of arrivals and commands (the
//! book's history), then one more input, and the events it gives rendered as text. In
//! process, no files: the book is an in-memory `AppealBook`, the batch an `Overlay`.

use proptest::prelude::*;
use time::macros::datetime;

use super::command::Op;
use super::*;
use crate::appeals::{normalize_number, AppealFacts, SignatureFile};
use crate::book::AppealBook;
use medo_model::{DuplicateBy, Event, Record};
use medo_wire::message::{Format, HeaderType};

const UROG: &str = "2d7c5a1e-8b3f-4e6a-9c0d-1f2e3a4b5c6d";
const US: &str = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
/// The decision time of every test (ctx().now), as the journal writes it.
const TS: &str = "2026-12-31T22:30:00Z";

/// The policy of the bundled `config/gateway.toml` (its values written out: the core reads no
/// files), in `mode` ("auto" or "manual").
fn config(mode: &str) -> Policy {
    use crate::policy::{DocumentsConfig, PartnerConfig, RegistrationMode, ReplyFormat};
    let (days_off, working_weekends, _) =
        crate::deadlines::production_calendar(crate::deadlines::built_in_calendars())
            .expect("the built-in calendar reads");
    let mut policy = Policy {
        sender: medo_wire::message::Sender {
            uid: US.into(),
            organization: "Федеральное агентство по образцам (пример)".into(),
        },
        mode: match mode {
            "manual" => RegistrationMode::Manual,
            _ => RegistrationMode::Auto,
        },
        number_template: "ОГ-{seq}/{yy}".into(),
        outgoing_template: "ОЗ-{seq}/{yy}".into(),
        documents: DocumentsConfig {
            kind_id: "DK00000000".into(),
            ..DocumentsConfig::default()
        },
        partners: vec![PartnerConfig {
            name: "Управление Президента Российской Федерации по работе с обращениями граждан и организаций".into(),
            uid: UROG.into(),
            transport_address: "WH-MEDO~APRF".into(),
            role: "urog".into(),
            format: ReplyFormat::Mirror,
            signer_names: Vec::new(),
        }],
        appeal_roles: vec!["urog".into()],
        query_kinds: vec!["Запрос".into(), "Запрос информации".into()],
        require_signature: false,
        calendar: crate::deadlines::Calendar {
            policy: crate::deadlines::DayPolicy::Calendar,
            holidays: days_off,
            working_weekends,
        },
        acknowledge_notifications: false,
        utc_offset: time::UtcOffset::from_hms(3, 0, 0).expect("+03:00"),
        bodies: Vec::new().into(),
        hub: false,
    };
    policy.bodies = vec![crate::policy::Body::main_of(&policy)].into();
    policy
}

fn ctx(policy: &Policy) -> Context<'_> {
    Context {
        policy,
        bodies: &[],
        pin_secret: b"0123456789abcdef",
        now: datetime!(2026-12-31 22:30 UTC), // 2027-01-01 01:30 in Moscow: the year is 27
    }
}

/// One step of a scenario.
#[derive(Debug, Clone)]
enum Step {
    Arrive(ArrivalInput),
    Command(Box<CommandInput>),
}

/// A forwarded appeal: УРОГ cover letter `urog`, document `doc`, text present, addressed to us.
fn appeal(arrival: u64, urog: &str, doc: &str) -> ArrivalInput {
    let facts = AppealFacts {
        urog_number: urog.into(),
        urog_number_norm: normalize_number(urog),
        urog_date: Some(time::macros::date!(2026 - 11 - 27)),
        urog_organization: Some("Администрация Президента".into()),
        document_uid: doc.into(),
        kind: Some("Письмо".into()),
        annotation: Some("О направлении обращения".into()),
        signatories: Vec::new(),
        files: vec!["letter.pdf".into(), "appeal.pdf".into()],
        text_files: vec!["letter.pdf".into()],
        signatures: vec![SignatureFile {
            document: "letter.pdf".into(),
            signature: "letter.pdf.sig".into(),
            encoding: medo_model::SignatureEncoding::Der,
            status: medo_model::SignatureCheck::NotChecked,
            signer: None,
        }],
        classification: None,
        restricted: false,
        destinations: vec![US.into()],
        missing: Vec::new(),
        format: Format::V22,
        arrived: vec![medo_model::ArrivedFile {
            name: "letter.pdf".into(),
            role: medo_model::FileRole::Document,
            size: 4,
            sha256: "ab".repeat(32).into(),
            container: None,
        }],
    };
    let doc = DocumentInput {
        kind: Some("Письмо".into()),
        uid: doc.into(),
        number: urog.into(),
        date: facts.urog_date,
        organization: facts.urog_organization.clone(),
        annotation: facts.annotation.clone(),
        appeal: Some(facts),
        ..DocumentInput::default()
    };
    arrive(arrival, doc)
}

fn arrive(arrival: u64, doc: DocumentInput) -> ArrivalInput {
    ArrivalInput {
        arrival,
        key: format!("{arrival:064x}").into(),
        facts: Facts {
            header_uid: format!("00000000-0000-4000-8000-{arrival:012x}"),
            header_type: HeaderType::Document,
            format: Format::V22,
            source_uid: UROG.into(),
        },
        duplicate_of: None,
        body: Incoming::Document(Box::new(doc)),
        bodies: Vec::new(),
    }
}

/// A document of `kind` from УРОГ naming `numbers` in its annotation.
fn letter(arrival: u64, kind: &str, numbers: &[&str]) -> ArrivalInput {
    let mut a = appeal(arrival, &format!("А26-05-{arrival}"), &doc_uid(arrival));
    if let Incoming::Document(d) = &mut a.body {
        d.kind = Some(kind.into());
        d.annotation = Some(format!("О ходе рассмотрения {}", numbers.join(", ")));
        if let Some(f) = d.appeal.as_mut() {
            f.kind = d.kind.clone();
            f.annotation = d.annotation.clone();
        }
    }
    a
}

fn doc_uid(n: u64) -> String {
    format!("d0c00000-0000-4000-8000-{n:012x}")
}

fn with(mut a: ArrivalInput, change: impl FnOnce(&mut DocumentInput)) -> ArrivalInput {
    if let Incoming::Document(d) = &mut a.body {
        change(d);
    }
    a
}

fn again(of: u64, by: DuplicateBy, mut a: ArrivalInput) -> ArrivalInput {
    a.duplicate_of = Some((of, by));
    a
}

fn command(id: &str, op: Op, facts: Option<AppealFacts>) -> CommandInput {
    CommandInput {
        id: id.into(),
        op,
        operator: Some("ivanova".into()),
        facts: facts.map(Ok),
        answer_file: None,
        command: None,
    }
}

fn register(force: bool, comment: Option<&str>) -> Op {
    Op::Register {
        number: None,
        force,
        comment: comment.map(str::to_string),
        date: None,
    }
}

/// Runs the steps in one pass (one overlay) or one pass each (the book committed after each
/// step); returns every step's events.
fn run(steps: &[Step], config: &Policy, one_pass: bool) -> Vec<Vec<Event>> {
    let mut book = AppealBook::default();
    let mut out = Vec::new();
    let mut pending: Vec<Event> = Vec::new();
    for chunk in steps.chunks(if one_pass { steps.len().max(1) } else { 1 }) {
        let mut view = Overlay::new(&book);
        for step in chunk {
            let mut events = match step {
                Step::Arrive(a) => decide_arrival(a, &view, ctx(config)),
                Step::Command(c) => decide_command(c, &view, ctx(config)).into_iter().collect(),
            };
            view.apply(&events, TS);
            let again = reanswers(&events, &view, ctx(config));
            view.apply(&again, TS);
            events.extend(again);
            pending.extend(events.iter().cloned());
            out.push(events);
        }
        drop(view);
        commit(&mut book, pending.drain(..));
    }
    out
}

/// Folds events into the book as the store does when they are journaled.
fn commit(book: &mut AppealBook, events: impl Iterator<Item = Event>) {
    for (seq, event) in events.enumerate() {
        book.apply(&Record {
            seq: seq as u64,
            ts: TS.into(),
            prev: String::new(),
            event,
            hash: String::new(),
        });
    }
}

/// One line per event: its kind, appeal or arrival, and what matters.
fn render(events: &[Event]) -> String {
    events.iter().map(line).collect::<Vec<_>>().join("\n")
}

fn line(e: &Event) -> String {
    match e {
        Event::AppealReceived {
            appeal,
            held,
            cites,
            ..
        } => {
            let cites = if cites.is_empty() {
                String::new()
            } else {
                format!(" cites={cites:?}")
            };
            let held = held.as_deref().map(|h| format!(" held: {h}"));
            format!(
                "appeal_received #{appeal}{cites}{}",
                held.unwrap_or_default()
            )
        }
        Event::AppealRegistered {
            appeal,
            number,
            overrides,
            operator,
            outputs,
            ..
        } => {
            let overrides = overrides.as_deref().map(|o| format!(" overrides «{o}»"));
            let by = operator.as_deref().map(|o| format!(" by {o}"));
            format!(
                "appeal_registered #{appeal} {number}{}{}{}",
                overrides.unwrap_or_default(),
                by.unwrap_or_default(),
                notices(outputs)
            )
        }
        Event::AppealRefused {
            appeal,
            reason,
            outputs,
            ..
        } => format!("appeal_refused #{appeal} «{reason}»{}", notices(outputs)),
        Event::AppealRedelivered {
            appeal,
            of,
            outputs,
        } => format!("appeal_redelivered #{appeal} of #{of}{}", notices(outputs)),
        Event::QueryAnswered { .. } => answer_line(e),
        Event::Resent {
            arrival, outputs, ..
        } => format!("resent #{arrival}{}", notices(outputs)),
        other => other.kind().to_string(),
    }
}

/// ` → kind number-or-reason` per output.
fn notices(outputs: &[medo_model::Output]) -> String {
    outputs
        .iter()
        .map(|o| {
            let n = o.registration.as_ref().map_or("", |r| r.number.as_str());
            let r = o.reason.as_deref().unwrap_or("");
            format!(" → {} {n}{r}", o.kind)
        })
        .collect()
}

/// A query answer: our number, which answer, what it says per number.
fn answer_line(e: &Event) -> String {
    let Event::QueryAnswered {
        arrival,
        number,
        unresolved,
        outputs,
        reanswer,
        ..
    } = e
    else {
        return String::new();
    };
    let items: Vec<medo_wire::urog::ResponseItem> = outputs
        .first()
        .and_then(|o| serde_json::from_str(o.text.as_deref()?).ok())
        .unwrap_or_default();
    let said: Vec<String> = items
        .iter()
        .map(|i| format!("{}: {}", i.requested, i.status))
        .collect();
    let which = reanswer.map(|k| format!(" (answer {})", k + 1));
    format!(
        "query_answered #{arrival} {}{} [{}] unresolved={unresolved:?}",
        number.as_deref().unwrap_or("-"),
        which.unwrap_or_default(),
        said.join("; ")
    )
}

/// Runs `history` then `last` in one pass and checks the last step's events.
fn check(history: Vec<Step>, last: Step, expect: &str) {
    check_with(&config("auto"), history, last, expect)
}

fn check_with(config: &Policy, mut history: Vec<Step>, last: Step, expect: &str) {
    history.push(last);
    let got = run(&history, config, true);
    let text = render(got.last().unwrap());
    assert_eq!(text.trim(), expect.trim(), "\n--- got:\n{text}\n");
}

fn arr(a: ArrivalInput) -> Step {
    Step::Arrive(a)
}

#[test]
fn a_new_appeal_is_received_and_registered() {
    check(
        vec![],
        arr(appeal(1, "А26-02-1", &doc_uid(1))),
        "appeal_received #1\nappeal_registered #1 ОГ-1/27 → registered ОГ-1/27",
    );
}

#[test]
fn a_repeat_appeal_citing_an_earlier_number_is_registered_and_linked() {
    let repeat = with(appeal(2, "А26-02-2", &doc_uid(2)), |d| {
        d.annotation = Some("Повторное обращение, ранее А26-02-1".into());
    });
    check(
        vec![arr(appeal(1, "А26-02-1", &doc_uid(1)))],
        arr(repeat),
        "appeal_received #2 cites=[1]\nappeal_registered #2 ОГ-2/27 → registered ОГ-2/27",
    );
}

#[test]
fn a_letter_linked_to_an_earlier_appeal_by_our_number_is_an_appeal_too() {
    let repeat = with(appeal(2, "А26-02-2", &doc_uid(2)), |d| {
        d.links.push(LinkInput {
            link_type: "Связан с".into(),
            number: Some("ОГ-1/27".into()),
            ..LinkInput::default()
        });
    });
    check(
        vec![arr(appeal(1, "А26-02-1", &doc_uid(1)))],
        arr(repeat),
        "appeal_received #2 cites=[1]\nappeal_registered #2 ОГ-2/27 → registered ОГ-2/27",
    );
}

/// Re-deliveries: by key or header uid of an earlier arrival, or by the same document and
/// cover letter — the same notice; the same document under another cover letter — held.
#[test]
fn redeliveries_get_the_same_notice_and_ambiguity_is_held() {
    let first = || vec![arr(appeal(1, "А26-02-1", &doc_uid(1)))];
    for (last, expect) in [
        (
            again(1, DuplicateBy::Key, appeal(2, "А26-02-1", &doc_uid(1))),
            "appeal_redelivered #2 of #1 → registered ОГ-1/27",
        ),
        (
            appeal(2, "А26-02-1", &doc_uid(1)),
            "appeal_redelivered #2 of #1 → registered ОГ-1/27",
        ),
        (
            appeal(2, "А26-02-9", &doc_uid(1)),
            "appeal_received #2 cites=[1] held: документ d0c00000-0000-4000-8000-000000000001 уже получен как обращение 1 с сопроводительным письмом № А26-02-1, а это письмо № А26-02-9: повторная доставка или новое обращение — решает оператор",
        ),
    ] {
        check(first(), arr(last), expect);
    }
}

#[test]
fn a_redelivery_of_a_refused_appeal_gets_the_refusal_again() {
    let no_text = with(appeal(1, "А26-02-1", &doc_uid(1)), |d| {
        d.appeal.as_mut().unwrap().text_files.clear();
    });
    check(
        vec![arr(no_text.clone())],
        arr(again(
            1,
            DuplicateBy::Uid,
            ArrivalInput {
                arrival: 2,
                ..no_text
            },
        )),
        "appeal_redelivered #2 of #1 → refused Отсутствует текст",
    );
}

#[test]
fn a_query_is_a_query_only_when_it_says_so() {
    let known = || vec![arr(appeal(1, "А26-02-1", &doc_uid(1)))];
    check(
        known(),
        arr(letter(2, "Запрос", &["А26-02-1"])),
        "query_answered #2 ОЗ-1/27 [А26-02-1: зарегистрировано] unresolved=[]",
    );
    check(
        known(),
        arr(letter(2, "запрос информации", &["А26-02-1"])),
        "query_answered #2 ОЗ-1/27 [А26-02-1: зарегистрировано] unresolved=[]",
    );
    check(
        known(),
        arr(with(letter(2, "Письмо", &["А26-02-1"]), |d| {
            d.query_xml = Some(vec!["ОГ-1/27".into()])
        })),
        "query_answered #2 ОЗ-1/27 [А26-02-1: зарегистрировано; ОГ-1/27: зарегистрировано] unresolved=[]",
    );
    check(
        known(),
        arr(with(letter(2, "Письмо", &[]), |d| {
            d.links.push(LinkInput {
                link_type: "Связан с".into(),
                number: Some("А26-02-1".into()),
                document_kind: Some("Запрос".into()),
                ..LinkInput::default()
            })
        })),
        "query_answered #2 ОЗ-1/27 [А26-02-1: зарегистрировано] unresolved=[]",
    );
    // merely naming a known appeal does not make a query
    check(
        known(),
        arr(letter(2, "Письмо", &["А26-02-1"])),
        "appeal_received #2 cites=[1]\nappeal_registered #2 ОГ-2/27 → registered ОГ-2/27",
    );
}

#[test]
fn a_query_in_the_same_batch_as_its_appeal_finds_it() {
    check(
        vec![arr(appeal(1, "А26-02-1", &doc_uid(1)))],
        arr(letter(2, "Запрос", &["A26-02-1", "А26-99-1"])),
        "query_answered #2 ОЗ-1/27 [A26-02-1: зарегистрировано; А26-99-1: не найдено] unresolved=[\"А26-99-1\"]",
    );
}

#[test]
fn an_answer_that_said_not_found_is_answered_again_when_the_appeal_arrives() {
    check(
        vec![arr(letter(1, "Запрос", &["А26-02-7"]))],
        arr(appeal(2, "А26-02-7", &doc_uid(2))),
        "appeal_received #2\nappeal_registered #2 ОГ-1/27 → registered ОГ-1/27\nquery_answered #1 ОЗ-2/27 (answer 2) [А26-02-7: зарегистрировано] unresolved=[]",
    );
}

#[test]
fn a_redelivered_query_gets_its_answer_again_not_a_new_number() {
    let q = letter(1, "Запрос", &["А26-02-7"]);
    check(
        vec![arr(q.clone())],
        arr(again(1, DuplicateBy::Key, ArrivalInput { arrival: 2, ..q })),
        "resent #1 → response ОЗ-1/27",
    );
}

#[test]
fn outgoing_numbers_follow_their_own_sequence() {
    check(
        vec![
            arr(appeal(1, "А26-02-1", &doc_uid(1))),
            arr(letter(2, "Запрос", &[])),
            arr(appeal(3, "А26-02-3", &doc_uid(3))),
        ],
        arr(with(letter(4, "Запрос", &[]), |d| {
            d.query_xml = Some(vec!["ОГ-2/27".into()])
        })),
        "query_answered #4 ОЗ-2/27 [ОГ-2/27: зарегистрировано] unresolved=[]",
    );
}

#[test]
fn manual_registration_runs_the_refusal_rules_as_checks() {
    let manual = config("manual");
    let elsewhere = with(appeal(1, "А26-02-1", &doc_uid(1)), |d| {
        d.appeal.as_mut().unwrap().destinations =
            vec!["99999999-1111-4222-8333-444444444444".into()];
    });
    let facts = match &elsewhere.body {
        Incoming::Document(d) => d.appeal.clone(),
        _ => None,
    };
    let history = || vec![arr(elsewhere.clone())];
    let refused = run(
        &[
            history(),
            vec![Step::Command(Box::new(command(
                "1",
                register(false, None),
                facts.clone(),
            )))],
        ]
        .concat(),
        &manual,
        true,
    );
    assert_eq!(
        render(&refused[0]),
        "appeal_received #1 held: manual registration mode"
    );
    assert!(refused[1].is_empty(), "refused: no event");
    let err = decide_command(
        &command("1", register(false, None), facts.clone()),
        &Overlay::new(&book_of(&history(), &manual)),
        ctx(&manual),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Refusal::Refusable { id: 1, reason: Some(r), .. } if r.as_str() == "Ошибка адресации"),
        "{err:?}"
    );
    let said = err.to_string();
    assert!(
        said.contains("«Ошибка адресации»") && said.contains("force с comment"),
        "{said}"
    );
    check_with(
        &manual,
        history(),
        Step::Command(Box::new(command(
            "1",
            register(true, Some("адресат уточнён по телефону")),
            facts,
        ))),
        "appeal_registered #1 ОГ-1/27 overrides «Ошибка адресации» by ivanova → registered ОГ-1/27",
    );
}

#[test]
fn manual_registration_of_a_clean_appeal_needs_no_force() {
    let manual = config("manual");
    let a = appeal(1, "А26-02-1", &doc_uid(1));
    let facts = match &a.body {
        Incoming::Document(d) => d.appeal.clone(),
        _ => None,
    };
    check_with(
        &manual,
        vec![arr(a)],
        Step::Command(Box::new(command("А26-02-1", register(false, None), facts))),
        "appeal_registered #1 ОГ-1/27 by ivanova → registered ОГ-1/27",
    );
}

#[test]
fn the_sequence_skips_a_number_an_operator_took_by_hand() {
    let manual = config("manual");
    let facts = |n: u64| match &appeal(n, "А26", &doc_uid(n)).body {
        Incoming::Document(d) => d.appeal.clone(),
        _ => None,
    };
    let by_hand = Op::Register {
        number: Some("ОГ-2/27".into()),
        force: false,
        comment: None,
        date: None,
    };
    check_with(
        &manual,
        vec![
            arr(appeal(1, "А26-02-1", &doc_uid(1))),
            arr(appeal(2, "А26-02-2", &doc_uid(2))),
            Step::Command(Box::new(command("1", by_hand, facts(1)))),
        ],
        Step::Command(Box::new(command("2", register(false, None), facts(2)))),
        "appeal_registered #2 ОГ-3/27 by ivanova → registered ОГ-3/27",
    );
}

fn book_of(steps: &[Step], config: &Policy) -> AppealBook {
    let mut book = AppealBook::default();
    commit(&mut book, run(steps, config, true).into_iter().flatten());
    book
}

/// Random scenarios over a few numbers and documents, so that they collide.
fn step_strategy() -> impl Strategy<Value = (u8, u8, u8, u8)> {
    (0u8..6, 0u8..4, 0u8..3, 0u8..4)
}

fn make_steps(raw: &[(u8, u8, u8, u8)]) -> Vec<Step> {
    let mut steps = Vec::new();
    for (i, (what, n, d, other)) in raw.iter().enumerate() {
        let arrival = i as u64 + 1;
        let urog = format!("А26-02-{n}");
        let step = match what {
            0 | 1 => arr(appeal(arrival, &urog, &doc_uid(u64::from(*d)))),
            2 => arr(letter(
                arrival,
                "Запрос",
                &[&urog, &format!("ОГ-{other}/27")],
            )),
            3 => arr(letter(arrival, "Письмо", &[&urog])),
            4 if arrival > 1 => {
                let of = u64::from(*other) % (arrival - 1) + 1;
                arr(again(
                    of,
                    DuplicateBy::Key,
                    appeal(arrival, &urog, &doc_uid(u64::from(*d))),
                ))
            }
            _ => Step::Command(Box::new(command(
                &urog,
                register(*other == 0, Some("проверено")),
                None,
            ))),
        };
        steps.push(step);
    }
    steps
}

proptest! {
    /// The consistency invariant: any sequence gives the same journal in one pass as in one
    /// pass per step (the view includes everything decided earlier in the batch).
    #[test]
    fn one_pass_or_one_per_step_gives_the_same_journal(
        raw in proptest::collection::vec(step_strategy(), 1..14),
        manual in any::<bool>(),
    ) {
        let config = config(if manual { "manual" } else { "auto" });
        let steps = make_steps(&raw);
        prop_assert_eq!(run(&steps, &config, true), run(&steps, &config, false));
    }

    /// Numbers are never given twice, whatever the sequence.
    #[test]
    fn no_number_is_given_twice(raw in proptest::collection::vec(step_strategy(), 1..20)) {
        let config = config("auto");
        let events: Vec<Event> = run(&make_steps(&raw), &config, true).into_iter().flatten().collect();
        let mut seen = std::collections::HashSet::new();
        for e in &events {
            let n = match e {
                Event::AppealRegistered { number, .. } => Some(number.clone()),
                Event::QueryAnswered { number, .. } => number.clone(),
                _ => None,
            };
            if let Some(n) = n {
                prop_assert!(seen.insert(n.clone()), "{} given twice", n);
            }
        }
    }
}

/// A crash cut a batch after an appeal's `appeal_received` (the journal keeps it, the
/// registration was lost with the torn tail): deciding the arrival again finishes it — no
/// second `appeal_received`, one registration.
#[test]
fn an_appeal_cut_short_by_a_crash_is_finished_not_received_twice() {
    let config = config("auto");
    let a = appeal(1, "А26-02-1", &doc_uid(1));
    let first = decide_arrival(&a, &AppealBook::default(), ctx(&config));
    let mut book = AppealBook::default();
    commit(&mut book, first.iter().take(1).cloned());
    let again = decide_arrival(&a, &Overlay::new(&book), ctx(&config));
    assert_eq!(
        render(&again),
        "appeal_registered #1 ОГ-1/27 → registered ОГ-1/27"
    );
    assert_eq!(again[0], first[1], "the same decision, byte for byte");
}

/// A crash cut a batch after a re-delivery's `appeal_redelivered`: deciding the arrival again
/// notes nothing twice and sends no second notice.
#[test]
fn a_redelivery_cut_short_by_a_crash_is_not_noted_twice() {
    let config = config("auto");
    let first = appeal(1, "А26-02-1", &doc_uid(1));
    let again_ = again(1, DuplicateBy::Key, appeal(2, "А26-02-1", &doc_uid(1)));
    let history = run(&[arr(first), arr(again_.clone())], &config, true);
    let mut book = AppealBook::default();
    commit(&mut book, history.into_iter().flatten());
    assert!(decide_arrival(&again_, &Overlay::new(&book), ctx(&config)).is_empty());
}

/// The СЭД's registration date: taken when it is between the appeal's arrival and today
/// (both in `utc_offset`), refused otherwise (the command does not apply).
#[test]
fn a_registration_date_is_taken_between_arrival_and_today() {
    let manual = config("manual");
    let dated = |date: &str| {
        let op = Op::Register {
            number: Some("СЭД-1".into()),
            force: false,
            comment: None,
            date: Some(date.into()),
        };
        let facts = match &appeal(1, "А26-02-1", &doc_uid(1)).body {
            Incoming::Document(d) => d.appeal.clone(),
            _ => None,
        };
        let steps = vec![
            arr(appeal(1, "А26-02-1", &doc_uid(1))),
            Step::Command(Box::new(command("1", op, facts))),
        ];
        run(&steps, &manual, true).pop().unwrap()
    };
    // arrival at 22:30 UTC on 31 December is 1 January in Moscow: that day is today too
    match dated("2027-01-01").as_slice() {
        [Event::AppealRegistered { date, number, .. }] => {
            assert_eq!(
                (date.to_string().as_str(), number.as_str()),
                ("2027-01-01", "СЭД-1")
            );
        }
        other => panic!("{other:?}"),
    }
    for refused in ["2026-12-31", "2027-01-02", "01.01.2027"] {
        assert!(dated(refused).is_empty(), "{refused} must not apply");
    }
}

/// A hub of two bodies, `a` (the tests' own identity) and `b`, with a partner of role
/// `body`; and each body's policy.
fn hub() -> (Policy, Vec<Policy>) {
    use crate::policy::{Body, PartnerConfig, ReplyFormat};
    let mut p = config("auto");
    p.hub = true;
    let mut a = Body::main_of(&p);
    a.id = "a".into();
    let mut b = Body::main_of(&p);
    b.id = "b".into();
    b.sender.uid = "bbbbbbbb-0000-4000-8000-000000000002".into();
    b.sender.organization = "Орган Б".into();
    b.number_template = "Б-{seq}/{yy}".into();
    p.bodies = vec![a, b].into();
    p.partners.push(PartnerConfig {
        name: "Минстрой".into(),
        uid: "dddddddd-0000-4000-8000-000000000004".into(),
        transport_address: "MINSTROY~MEDO".into(),
        role: "body".into(),
        format: ReplyFormat::Mirror,
        signer_names: Vec::new(),
    });
    let policies = p.bodies.iter().filter_map(|x| p.for_body(&x.id)).collect();
    (p, policies)
}

/// Issue 28: redirect by competence within a hub, by its rules — (what, the appeal's story
/// before, the redirect asked, what comes of it).
#[test]
fn redirect_within_the_hub_follows_its_rules() {
    let (policy, policies) = hub();
    let ctx = || Context {
        bodies: &policies,
        ..ctx(&policy)
    };
    let at_a = |mut a: ArrivalInput| {
        a.bodies = vec!["a".into()];
        a
    };
    let no_text = |n: u64| {
        with(at_a(appeal(n, &format!("А26-02-{n}"), &doc_uid(n))), |d| {
            d.appeal.as_mut().unwrap().text_files.clear();
        })
    };
    let answered = Op::Progress(medo_model::Step::Answered {
        result: "explained".into(),
        file: None,
    });
    // the book: 1 registered at a, 2 refused, 3 answered
    let mut book = AppealBook::default();
    let mut events = Vec::new();
    for a in [
        at_a(appeal(1, "А26-02-1", &doc_uid(1))),
        no_text(2),
        at_a(appeal(3, "А26-02-3", &doc_uid(3))),
    ] {
        events.extend(decide_arrival(&a, &book, ctx()));
    }
    commit(&mut book, events.into_iter());
    let done = decide_command(&command("3", answered, None), &book, ctx()).unwrap();
    commit(&mut book, std::iter::once(done));
    let redirect = |id: &str, to: &str| RedirectInput {
        id: id.into(),
        to: to.into(),
        comment: None,
        operator: Some("ivanova".into()),
        command: Some("cmd-r".into()),
        files: None,
    };
    let first = decide_redirect(&redirect("1", "b"), &book, ctx()).expect("1 → b");
    let new_id = crate::book::appeal_id(1, 1);
    assert_eq!(
        render(&first)
            .lines()
            .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>(),
        [
            "appeal_progress",
            &format!("appeal_received #{new_id}"),
            &format!("appeal_registered #{new_id}")
        ],
        "{}",
        render(&first)
    );
    match &first[..] {
        [Event::AppealProgress {
            step:
                medo_model::Step::Redirected {
                    to,
                    to_body,
                    as_appeal,
                    ..
                },
            outputs,
            command,
            ..
        }, Event::AppealReceived {
            body,
            redirected_from,
            ..
        }, Event::AppealRegistered {
            number,
            outputs: none,
            ..
        }] => {
            assert_eq!(
                (to.as_str(), to_body.as_deref(), *as_appeal),
                ("Орган Б", Some("b"), Some(new_id))
            );
            assert_eq!(outputs.len(), 1, "the sender's notice to УРОГ");
            assert_eq!(outputs[0].body.as_deref(), Some("a"));
            assert_eq!(command.as_deref(), Some("cmd-r"));
            assert_eq!((body.as_deref(), *redirected_from), (Some("b"), Some(1)));
            assert_eq!(number.as_str(), "Б-1/27", "the receiving body's own number");
            assert!(none.is_empty(), "no notice from the receiving body");
        }
        other => panic!("{other:?}"),
    }
    let refused = |book: &AppealBook, id: &str, to: &str| {
        decide_redirect(&redirect(id, to), book, ctx())
            .expect_err(id)
            .to_string()
    };
    let table = [
        ("1", "a", "уже у органа a"),
        ("1", "body:nowhere", "не орган этого узла"),
        ("1", "partner:b", "не орган этого узла"),
        ("1", "partner:Нигде", "не орган этого узла"),
        ("1", "body:Минстрой", "не орган этого узла"),
        ("2", "b", "отказано в регистрации"),
        ("3", "b", "рассмотрено"),
    ];
    for (id, to, words) in table {
        let why = refused(&book, id, to);
        assert!(why.contains(words), "{id} → {to}: {why}");
    }
    // once it went: neither again to the same body nor back
    commit(&mut book, first.into_iter());
    assert!(
        refused(&book, "1", "b").contains("направлено"),
        "redirected: no further step"
    );
    let back = refused(&book, &new_id.to_string(), "a");
    assert!(back.contains("уже было у органа a"), "{back}");
    let shown = crate::book::Appeals::appeal(&book, 1).unwrap();
    assert_eq!(
        (shown.state, shown.redirected_as),
        (crate::book::AppealState::Redirected, Some(new_id))
    );
    let there = crate::book::Appeals::appeal(&book, new_id).unwrap();
    assert_eq!(
        (there.body.as_str(), there.redirected_from, there.state),
        ("b", Some(1), crate::book::AppealState::Registered)
    );
}

/// Issue 28: redirect to a body outside the hub, over МЭДО — one step numbered from the
/// outgoing sequence, the notice to УРОГ naming where and under which number of ours, and
/// the appeal itself to the partner with every file as it arrived (digests kept, signatures
/// paired); refused when its files cannot be read, and once gone, not again.
#[test]
fn redirect_over_medo_sends_the_appeal_with_its_files() {
    let (policy, policies) = hub();
    let ctx = || Context {
        bodies: &policies,
        ..ctx(&policy)
    };
    let mut arrival = appeal(1, "А26-02-1", &doc_uid(1));
    arrival.bodies = vec!["a".into()];
    let mut book = AppealBook::default();
    let received = decide_arrival(&arrival, &book, ctx());
    commit(&mut book, received.into_iter());
    let file = |name: &str, role, byte: &str| medo_model::ArrivedFile {
        name: name.into(),
        role,
        size: 4,
        sha256: byte.repeat(32).into(),
        container: None,
    };
    use medo_model::FileRole::{Attachment, Document, Message, Signature};
    let arrived = vec![
        file("document.xml", Message, "00"),
        file("letter.pdf", Document, "ab"),
        file("letter.pdf.sig", Signature, "cd"),
        file("appeal.pdf", Attachment, "ef"),
    ];
    let redirect = |to: &str, files| RedirectInput {
        id: "А26-02-1".into(),
        to: to.into(),
        comment: Some("вопросы строительства".into()),
        operator: Some("ivanova".into()),
        command: Some("cmd-m".into()),
        files,
    };
    let unread = decide_redirect(
        &redirect("partner:Минстрой", Some(Err("архив удалён".into()))),
        &book,
        ctx(),
    )
    .unwrap_err()
    .to_string();
    assert!(unread.contains("архив удалён"), "{unread}");
    let events = decide_redirect(&redirect("Минстрой", Some(Ok(arrived))), &book, ctx()).unwrap();
    let [Event::AppealProgress {
        step:
            medo_model::Step::Redirected {
                to,
                number: Some(n),
                to_body: None,
                ..
            },
        outputs,
        number: Some(journaled),
        ..
    }] = &events[..]
    else {
        panic!("{}", render(&events))
    };
    assert_eq!(
        (to.as_str(), n.as_str(), journaled.as_str()),
        ("Минстрой", "ОЗ-1/27", "ОЗ-1/27")
    );
    let [notice, sent] = &outputs[..] else {
        panic!("{outputs:?}")
    };
    assert_eq!(notice.kind, medo_model::OutputKind::Course);
    assert_eq!(notice.recipient_uid.as_str(), UROG);
    assert!(notice
        .text
        .as_deref()
        .unwrap()
        .contains("Минстрой (исх. № ОЗ-1/27)"));
    assert_eq!(
        notice.document.as_ref().map(|d| d.number.as_str()),
        Some("ОЗ-1/27")
    );
    assert_eq!(sent.kind, medo_model::OutputKind::Forwarded);
    assert_eq!(
        sent.recipient_uid.as_str(),
        "dddddddd-0000-4000-8000-000000000004"
    );
    assert_eq!(sent.foundation.as_ref().unwrap().number, "А26-02-1");
    assert_eq!(sent.document.as_ref().unwrap().number, "ОГ-1/27");
    let files: Vec<_> = sent
        .files
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.kept.as_str(),
                &f.sha256[..2],
                f.signs.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            ("letter.pdf", "answers/1/forwarded/000", "ab", None),
            (
                "letter.pdf.sig",
                "answers/1/forwarded/001",
                "cd",
                Some("letter.pdf")
            ),
            ("appeal.pdf", "answers/1/forwarded/002", "ef", None),
        ],
        "every file of the document as it arrived, the message itself not"
    );
    assert!(matches!(
        sent.notice(),
        Ok(medo_model::Notice::Forwarded { .. })
    ));
    commit(&mut book, events.into_iter());
    let again = decide_redirect(&redirect("Минстрой", None), &book, ctx()).unwrap_err();
    assert!(again.to_string().contains("направлено"), "{again}");
}

/// The forwarded appeal as packed for a 2.2 partner and a 2.7 one: our cover letter first;
/// each file under a package name with its own extension and its bytes as kept; a detached
/// signature beside its file (`<name>.sig`, not listed as a file of its own) in 2.2, listed
/// with its attachment in the container's passport.
#[test]
fn a_forwarded_appeal_packs_its_files_and_pairs_their_signatures() {
    use medo_model::FileRole::{Attachment, Document, Signature};
    let (mut policy, _) = hub();
    let bytes = |name: &str| format!("bytes of {name}").into_bytes();
    let file = |name: &str, role| medo_model::ArrivedFile {
        name: name.into(),
        role,
        size: bytes(name).len() as u64,
        sha256: medo_wire::hash::sha256_bytes(&bytes(name)).into(),
        container: None,
    };
    let arrived = vec![
        file("letter.pdf", Document),
        file("letter.pdf.sig", Signature),
        file("фото жалобы.JPEG", Attachment),
    ];
    for format in ["2.2", "2.7"] {
        let minstroy = policy.partners.last_mut().unwrap();
        minstroy.format = crate::policy::ReplyFormat::Fixed(Format::parse(format).unwrap());
        let policies: Vec<Policy> = policy
            .bodies
            .iter()
            .filter_map(|x| policy.for_body(&x.id))
            .collect();
        let ctx = Context {
            bodies: &policies,
            ..ctx(&policy)
        };
        let mut arrival = appeal(1, "А26-02-1", &doc_uid(1));
        arrival.bodies = vec!["a".into()];
        let mut book = AppealBook::default();
        let received = decide_arrival(&arrival, &book, ctx);
        commit(&mut book, received.into_iter());
        let input = RedirectInput {
            id: "1".into(),
            to: "Минстрой".into(),
            comment: None,
            operator: None,
            command: None,
            files: Some(Ok(arrived.clone())),
        };
        let events = decide_redirect(&input, &book, ctx).unwrap();
        let Event::AppealProgress { outputs, .. } = &events[0] else {
            panic!()
        };
        let sent = outputs
            .iter()
            .find(|o| o.kind == medo_model::OutputKind::Forwarded)
            .unwrap();
        let kept = |path: &str| {
            let n: usize = path.rsplit('/').next().unwrap().parse().unwrap();
            Ok(bytes(&arrived[n].name))
        };
        let packed = crate::outbox::render(sent, &policies[0], &kept, None).unwrap();
        let names: Vec<&str> = packed.iter().map(|(n, _)| n.as_str()).collect();
        let number = |b: &[u8]| {
            format!(
                "{:09}",
                u32::from_str_radix(&medo_wire::hash::sha256_bytes(b)[..8], 16).unwrap()
                    % 1_000_000_000
            )
        };
        let letter = format!("{}.pdf", number(&bytes("letter.pdf")));
        let signature = format!("{letter}.sig");
        let photo = format!("{}.jpeg", number(&bytes("фото жалобы.JPEG")));
        if format == "2.2" {
            assert_eq!(
                names,
                [
                    "cover.pdf",
                    letter.as_str(),
                    photo.as_str(),
                    signature.as_str(),
                    "document.xml",
                    "envelope.ini"
                ],
                "{format}"
            );
            let xml = String::from_utf8_lossy(&packed[4].1).into_owned();
            assert!(
                !xml.contains(".sig"),
                "a signature is no file of its own: {xml}"
            );
            let by_name: std::collections::HashMap<_, _> = packed.iter().cloned().collect();
            assert_eq!(by_name[&signature], bytes("letter.pdf.sig"));
            assert_eq!(by_name[&photo], bytes("фото жалобы.JPEG"));
        } else {
            let zip = &packed[0].1;
            let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
            let mut passport = String::new();
            std::io::Read::read_to_string(&mut z.by_name("passport.xml").unwrap(), &mut passport)
                .unwrap();
            assert!(
                passport.contains(&signature) && passport.contains(&photo),
                "{passport}"
            );
            assert!(passport.contains("Документ-основание"), "{passport}");
            assert_eq!(z.len(), 5, "passport, cover, letter, its signature, photo");
        }
    }
}

/// Issue 28: the 7-day redirect period (59-ФЗ ст. 8 ч. 3) — (state, registered days ago,
/// undecided): only a registered appeal with no step, past its redirect date, is undecided.
#[test]
fn an_appeal_with_no_step_past_seven_days_is_undecided() {
    use crate::book::{AppealState, DeadlineFacts};
    let mut policy = config("auto");
    policy.calendar = crate::deadlines::Calendar::default();
    let today = time::macros::date!(2026 - 12 - 21);
    for (state, days_ago, undecided) in [
        (AppealState::Registered, 10, true),
        (AppealState::Registered, 7, false),
        (AppealState::Registered, 2, false),
        (AppealState::InWork, 10, false),
        (AppealState::Redirected, 10, false),
        (AppealState::Received, 10, false),
    ] {
        let registered = today - time::Duration::days(days_ago);
        let facts = DeadlineFacts {
            state,
            received_at: format!("{registered}T09:00:00+03:00"),
            registered_on: Some(registered.to_string()),
            extended_to: None,
            body: medo_model::BodyId::main(),
            held: false,
        };
        assert_eq!(
            crate::due::undecided(&facts, &policy, today),
            undecided,
            "{state:?}, registered {days_ago} days ago"
        );
    }
}
