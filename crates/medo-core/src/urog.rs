//! УРОГ queries (DESIGN §5, our profile): which numbers a query refers to and the content of
//! the answer — per appeal what the book knows, unknown numbers listed as not found. (Whether
//! a document *is* a query is `decision::classify`'s rule 4.) Pure.

use crate::appeals::normalize_number;
use crate::book::{AppealState, StatusFacts};
use crate::deadlines::{due_dates, Calendar};
use medo_wire::time::{format_date, local_day, parse_date, show_date_ru};
use medo_wire::urog::ResponseItem;

/// Most numbers one query may name (a bound on the work of one answer).
pub const MAX_REFERENCES: usize = 10_000;

/// УРОГ numbers written in free text: `А26-…` or `A26-…` followed by digits and dashes.
pub fn numbers_in_text(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= chars.len() {
        let is_a = chars[i] == 'А' || chars[i] == 'A' || chars[i] == 'а' || chars[i] == 'a';
        let boundary = i == 0 || !chars[i - 1].is_alphanumeric();
        if is_a && boundary && chars[i + 1] == '2' && chars[i + 2] == '6' && chars[i + 3] == '-' {
            let mut j = i + 4;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '-') {
                j += 1;
            }
            let token: String = chars[i..j]
                .iter()
                .collect::<String>()
                .trim_end_matches('-')
                .to_string();
            if token.len() > 4 {
                out.push(token);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// Every number a query refers to: link references, `А26-…` in the annotation, and the
/// numbers of an attached `query.xml`; de-duplicated after normalisation, in that order.
pub fn referenced_numbers(
    link_numbers: &[String],
    annotation: Option<&str>,
    from_query_xml: &[String],
) -> Vec<String> {
    let mut raw: Vec<String> = link_numbers.to_vec();
    if let Some(a) = annotation {
        raw.extend(numbers_in_text(a));
    }
    raw.extend(from_query_xml.iter().cloned());
    let mut seen = std::collections::HashSet::new();
    raw.into_iter()
        .filter(|n| !n.trim().is_empty() && seen.insert(normalize_number(n)))
        .take(MAX_REFERENCES)
        .collect()
}

/// The answer's content for each requested number.
/// `found` holds what the book says of each number, in order
/// ([`crate::book::Appeals::find_status_many`]).
pub fn response_items(
    numbers: &[String],
    found: Vec<Result<StatusFacts, crate::book::Lookup>>,
    calendar: &Calendar,
    offset: time::UtcOffset,
) -> Vec<ResponseItem> {
    numbers
        .iter()
        .zip(found)
        .map(|(n, found)| match found {
            Ok(a) => {
                // the day it arrived in the configured zone (journal times are UTC)
                let received = local_day(&a.received_at, offset);
                let registered = a.registered_on.as_deref().and_then(parse_date);
                let extended = a.extended_to.as_deref().and_then(parse_date);
                let due = received.map(|r| due_dates(calendar, r, registered, extended));
                let due_date = match a.state {
                    AppealState::Received => due.map(|d| d.register_by),
                    _ => due.and_then(|d| d.answer_by),
                };
                ResponseItem {
                    requested: n.clone(),
                    found: true,
                    urog_number: Some(a.urog_number.clone()),
                    urog_date: a.urog_date.clone(),
                    registration_number: a.number.clone(),
                    registration_date: a.registered_on.clone(),
                    status: a.state.label().to_string(),
                    sstu_status: a
                        .sstu_result
                        .clone()
                        .or(a.state.sstu_status().map(str::to_string)),
                    executor: a.executor.clone(),
                    due_date: due_date.map(format_date),
                    extended_to: a.extended_to.clone(),
                    redirected_to: a.redirected_to.clone(),
                    result: a
                        .result
                        .as_deref()
                        .and_then(medo_model::result)
                        .map(|(label, _)| label.to_string()),
                }
            }
            Err(_) => ResponseItem {
                requested: n.clone(),
                found: false,
                status: "не найдено".into(),
                ..ResponseItem::default()
            },
        })
        .collect()
}

/// The text of an answer: a line per appeal asked about (dates as `dd.mm.yyyy`); the letter
/// around it (our number, the addressee, the subject, the signer) is [`crate::letter`]'s.
pub fn response_text(items: &[ResponseItem]) -> String {
    let mut s = String::new();
    if items.is_empty() {
        s.push_str("В запросе не найдено ни одного номера обращения (А26-… или нашего регистрационного номера).\n");
    }
    for (k, i) in items.iter().enumerate() {
        s.push_str(&format!("{}. {}: {}", k + 1, i.requested, i.status));
        if let Some(n) = &i.registration_number {
            let day = i.registration_date.as_deref().map(show_date_ru);
            s.push_str(&format!(
                ", рег. № {n} от {}",
                day.as_deref().unwrap_or("?")
            ));
        }
        for (label, v) in [
            ("исполнитель", &i.executor),
            ("срок", &i.due_date),
            ("продлено до", &i.extended_to),
            ("направлено", &i.redirected_to),
            ("результат", &i.result),
        ] {
            if let Some(v) = v {
                // dates as people write them (dd.mm.yyyy); other values as they are
                s.push_str(&format!(", {label}: {}", show_date_ru(v)));
            }
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_found_in_text() {
        assert_eq!(
            numbers_in_text("по обращениям А26-02-1234567 и A26-05-99, а также ZA26-1"),
            ["А26-02-1234567", "A26-05-99"]
        );
        assert!(numbers_in_text("нет номеров, A26 без дефиса").is_empty());
    }

    #[test]
    fn references_are_deduplicated_by_normal_form() {
        let n = referenced_numbers(
            &[],
            Some("А26-1 и A26-1"),
            &["ОГ-5/26".into(), "а26-1".into()],
        );
        assert_eq!(n, ["А26-1", "ОГ-5/26"]);
    }
}
