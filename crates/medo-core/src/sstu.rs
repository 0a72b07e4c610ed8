//! ССТУ.РФ export (urog-appeals.md §2.1–2.2): one JSON object per appeal («request») with one
//! question per classifier code, status-dependent fields, and the date-order rules of the
//! public clients. Pure: builds and validates; an invalid appeal is reported, never written.
//! The applicant's name and the classifier codes come from the operator's card
//! (`appeals card`), never from the journal.

use serde::{Deserialize, Serialize};

use crate::book::{Appeal, AppealState};
use medo_wire::time::{format_date, local_day, parse_date};
use time::Date;

/// The applicant card an operator (or the SED) supplies: personal data, kept out of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    pub name: String,
    /// ТОТК classifier codes, one question each (e.g. `0003.0008.0086.0567`).
    pub codes: Vec<String>,
    pub address: Option<String>,
    pub email: Option<String>,
}

/// The largest base64 attachment public clients accept (`< 10^7` characters).
pub const MAX_ATTACHMENT_BASE64: usize = 10_000_000 - 1;
// an answer file at the default bound fits ССТУ.РФ once base64-encoded (4 characters per 3 bytes)
const _: () = assert!(
    (medo_wire::Limits::DEFAULT.max_answer_bytes as usize).div_ceil(3) * 4 <= MAX_ATTACHMENT_BASE64
);

/// An answer file: name and bytes.
pub struct Answer<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

fn question_status(a: &Appeal) -> Option<&'static str> {
    match a.state {
        AppealState::Received => Some("NotRegistered"),
        AppealState::Registered | AppealState::InWork => Some("InWork"),
        AppealState::Redirected => Some("Transferred"),
        AppealState::Answered => medo_model::RESULTS
            .iter()
            .find(|r| Some(r.0) == a.result.as_deref())
            .map(|r| r.2),
        AppealState::Refused => None,
    }
}

/// Why an appeal cannot be exported to ССТУ.РФ (in words for the operator; the CLI adds the
/// command that mends it). Machine output names it by a stable English code (`problem`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    #[error("нет карточки заявителя")]
    NoCard,
    #[error("в карточке пусто имя заявителя")]
    NoName,
    #[error("в карточке нет кода классификатора")]
    NoCode,
    #[error("обращение в состоянии «{state}» в ССТУ.РФ не передаётся")]
    NotReported { state: &'static str },
    #[error(
        "дата поступления (incomingDate) {incoming} раньше даты создания (createDate) {create}"
    )]
    IncomingBeforeCreate { incoming: Date, create: Date },
    #[error("дата регистрации (registrationDate) {registration} раньше даты поступления (incomingDate) {incoming}")]
    RegisteredBeforeIncoming { registration: Date, incoming: Date },
    #[error("со статуса InWork нужна дата регистрации (registrationDate)")]
    NoRegistrationDate,
    #[error("дата ответа (responseDate) {response} раньше даты регистрации (registrationDate) {registration}")]
    AnsweredBeforeRegistration { response: Date, registration: Date },
    #[error("для результата нужна дата ответа (responseDate)")]
    NoResponseDate,
    #[error("файл ответа {name} слишком велик для ССТУ.РФ")]
    AnswerTooLarge { name: String },
    #[error("для статуса {status} нужен файл ответа")]
    NoAnswerFile { status: &'static str },
    #[error("для статуса Transferred нужен идентификатор принявшего органа в ССТУ (sstu_id)")]
    NoTransferTarget,
}

/// Builds the request JSON for one appeal, or says why it cannot be exported.
pub fn request(
    a: &Appeal,
    card: Option<&Card>,
    department_id: &str,
    answered_on: Option<&str>,
    transfer: Option<(&str, &str, &str)>,
    answer: Option<Answer<'_>>,
    offset: time::UtcOffset,
) -> Result<serde_json::Value, Vec<Problem>> {
    // every date in the request is a day in the configured zone (journal times are UTC)
    let day = |t: &str| local_day(t, offset).map(format_date);
    let answered_on = answered_on.and_then(day);
    let transfer_day = transfer.and_then(|(_, t, _)| day(t));
    let transfer = transfer.map(|(d, _, n)| (d, transfer_day.as_deref().unwrap_or(""), n));
    let Some(card) = card else {
        return Err(vec![Problem::NoCard]);
    };
    let Some(status) = question_status(a) else {
        return Err(vec![Problem::NotReported {
            state: a.state.label(),
        }]);
    };
    let q = Question {
        status,
        incoming: day(&a.received_at),
        registration: a.registered_on.clone(),
        answered_on: answered_on.as_deref(),
        transfer: transfer.filter(|_| status == "Transferred"),
        attachment: None,
        actions_taken: a.result.as_deref() == Some("supported-measures"),
        extended: a.extended_to.is_some(),
    };
    let mut problems = card_problems(card);
    problems.extend(date_problems(&q, a.urog_date.as_deref()));
    let (attachment, file_problem) = attachment(status, answer);
    problems.extend(file_problem);
    if status == "Transferred" && transfer.is_none_or(|(dept, _, _)| dept.is_empty()) {
        problems.push(Problem::NoTransferTarget);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let q = Question { attachment, ..q };
    let mut req = serde_json::json!({
        "departmentId": department_id,
        "isDirect": false,
        "format": "Electronic",
        "number": a.urog_number,
        "createDate": a.urog_date,
        "name": card.name,
        "questions": card.codes.iter().map(|code| q.json(code)).collect::<Vec<_>>(),
    });
    let o = req.as_object_mut().expect("an object");
    if let Some(x) = &card.address {
        o.insert("address".into(), serde_json::json!(x));
    }
    if let Some(x) = &card.email {
        o.insert("email".into(), serde_json::json!(x));
    }
    Ok(req)
}

/// What each question of an appeal's request says (one per classifier code).
struct Question<'a> {
    status: &'static str,
    incoming: Option<String>,
    registration: Option<String>,
    answered_on: Option<&'a str>,
    transfer: Option<(&'a str, &'a str, &'a str)>,
    attachment: Option<serde_json::Value>,
    actions_taken: bool,
    extended: bool,
}

impl Question<'_> {
    /// A status that reports a result (needs its response date).
    fn is_result(&self) -> bool {
        matches!(
            self.status,
            "Explained" | "Supported" | "NotSupported" | "Answered" | "LeftWithoutAnswer"
        )
    }

    /// The question's JSON for one classifier code.
    fn json(&self, code: &str) -> serde_json::Value {
        let status = self.status;
        let mut q =
            serde_json::json!({ "code": code, "status": status, "incomingDate": self.incoming });
        let o = q.as_object_mut().expect("an object");
        if status != "NotRegistered" {
            o.insert(
                "registrationDate".into(),
                serde_json::json!(self.registration),
            );
        }
        if self.is_result() {
            o.insert("responseDate".into(), serde_json::json!(self.answered_on));
        }
        if status == "Supported" {
            o.insert("actionsTaken".into(), serde_json::json!(self.actions_taken));
        }
        if let Some(att) = &self.attachment {
            o.insert("attachment".into(), att.clone());
        }
        if let Some((dept, date, number)) = self.transfer {
            o.insert("transfer".into(), serde_json::json!({ "departmentId": dept, "transferDate": date, "transferNumber": number }));
        }
        if self.extended && status == "InWork" {
            o.insert("isExtend".into(), serde_json::json!(true));
        }
        q
    }
}

/// The applicant's card: a name and at least one classifier code.
fn card_problems(card: &Card) -> Vec<Problem> {
    let mut problems = Vec::new();
    if card.name.trim().is_empty() {
        problems.push(Problem::NoName);
    }
    if card.codes.is_empty() {
        problems.push(Problem::NoCode);
    }
    problems
}

/// Date order: incoming ≥ create, registration ≥ incoming (from InWork on), response ≥
/// registration (for a result).
fn date_problems(q: &Question<'_>, create: Option<&str>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let d = |x: Option<&str>| x.and_then(parse_date);
    let (incoming, registration) = (d(q.incoming.as_deref()), d(q.registration.as_deref()));
    if let (Some(c), Some(i)) = (d(create), incoming) {
        if i < c {
            problems.push(Problem::IncomingBeforeCreate {
                incoming: i,
                create: c,
            });
        }
    }
    if q.status != "NotRegistered" {
        match (incoming, registration) {
            (Some(i), Some(r)) if r < i => problems.push(Problem::RegisteredBeforeIncoming {
                registration: r,
                incoming: i,
            }),
            (_, None) => problems.push(Problem::NoRegistrationDate),
            _ => {}
        }
    }
    if q.is_result() {
        match (registration, d(q.answered_on)) {
            (Some(r), Some(x)) if x < r => problems.push(Problem::AnsweredBeforeRegistration {
                response: x,
                registration: r,
            }),
            (_, None) => problems.push(Problem::NoResponseDate),
            _ => {}
        }
    }
    problems
}

/// The answer file as the request carries it (base64), where the status needs one; or why not.
fn attachment(
    status: &'static str,
    answer: Option<Answer<'_>>,
) -> (Option<serde_json::Value>, Option<Problem>) {
    let needs = matches!(
        status,
        "Explained" | "Supported" | "NotSupported" | "Answered"
    );
    match (answer, needs) {
        (Some(f), true) => {
            use base64::Engine;
            let content = base64::engine::general_purpose::STANDARD.encode(f.bytes);
            let too_large =
                (content.len() > MAX_ATTACHMENT_BASE64).then(|| Problem::AnswerTooLarge {
                    name: f.name.to_string(),
                });
            let json = serde_json::json!({ "name": f.name, "content": content });
            (Some(json), too_large)
        }
        (None, true) => (None, Some(Problem::NoAnswerFile { status })),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::AppealBook;
    use medo_model::{Event, Record, Step};

    fn record(seq: u64, ts: &str, event: Event) -> Record {
        Record {
            seq,
            ts: ts.into(),
            prev: String::new(),
            event,
            hash: String::new(),
        }
    }

    /// Received, registered and answered between 00:00 and 03:00 Moscow time (the evening
    /// before in UTC): every date of the request is the Moscow day, and the order holds.
    #[test]
    fn dates_are_days_in_the_configured_zone() {
        let mut book = AppealBook::default();
        let received = Event::AppealReceived {
            appeal: 1,
            key: "k".into(),
            urog_number: "А26-02-1".into(),
            urog_number_norm: "А26-02-1".into(),
            urog_date: medo_model::Day::parse("2026-11-30"),
            urog_organization: None,
            document_uid: "d".into(),
            source_uid: "s".into(),
            format: medo_wire::message::Format::V22,
            restricted: false,
            signatures: Vec::new(),
            held: None,
            cites: Vec::new(),
            files: Vec::new(),
            body: None,
            redirected_from: None,
            via: None,
        };
        book.apply(&record(1, "2026-11-30T21:10:00Z", received));
        let registered = Event::AppealRegistered {
            appeal: 1,
            number: "ОГ-1/26".into(),
            year: 2026,
            year_seq: 1,
            date: medo_model::Day::parse("2026-12-01").unwrap(),
            pin_hash: "p".into(),
            by: medo_model::DecidedBy::Auto,
            outputs: Vec::new(),
            overrides: None,
            comment: None,
            operator: None,
            command: None,
        };
        book.apply(&record(2, "2026-11-30T21:10:01Z", registered));
        let answered = Event::AppealProgress {
            appeal: 1,
            step: Step::Answered {
                result: "explained".into(),
                file: Some("answer.pdf".into()),
            },
            outputs: Vec::new(),
            command: None,
            number: None,
            year: None,
            year_seq: None,
            operator: None,
        };
        book.apply(&record(3, "2026-11-30T23:50:00Z", answered));
        let a = crate::book::Appeals::appeal(&book, 1).unwrap();
        let card = Card {
            name: "Иванов Иван".into(),
            codes: vec!["0003.0008.0086.0567".into()],
            address: None,
            email: None,
        };
        let moscow = time::UtcOffset::from_hms(3, 0, 0).unwrap();
        let json = request(
            &a,
            Some(&card),
            "00000000-1111-4222-8333-444444444444",
            a.answered_on.as_deref(),
            None,
            Some(Answer {
                name: "answer.pdf",
                bytes: b"%PDF-1.4",
            }),
            moscow,
        )
        .expect("valid: the answer is not before the registration");
        let q = &json["questions"][0];
        assert_eq!(q["incomingDate"], "2026-12-01", "{json}");
        assert_eq!(q["registrationDate"], "2026-12-01");
        assert_eq!(q["responseDate"], "2026-12-01");
    }
}
