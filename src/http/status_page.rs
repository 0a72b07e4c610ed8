//! `GET /status`: the applicant's page (issue 30 item 4) — a small Russian form (number and
//! PIN; no scripts), and with them the appeal's status, due date, where it is, its timeline and
//! the files to download. A body's site links to it; readable on a phone. The lookup is the
//! API's (`looked_up`): the same rate limit, PIN lock and «not found» for every miss.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::status::{looked_up, ApplicantStatus, StatusQuery};
use super::HttpState;

#[derive(Debug, Deserialize)]
pub(super) struct PageQuery {
    number: Option<String>,
    pin: Option<String>,
}

pub(super) async fn page(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let (Some(number), Some(pin)) = (q.number.filter(|n| !n.trim().is_empty()), q.pin) else {
        return Html(shell(form("", None)).into_string()).into_response();
    };
    let query = StatusQuery::new(number.clone(), pin.clone());
    match looked_up(&state, peer, &headers, &query) {
        Ok(a) => {
            let Some(shown) = super::status::shown(state.clone(), a).await else {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html(shell(form(&number, None)).into_string()),
                )
                    .into_response();
            };
            let body = html! { (form(&number, None)) (status(&shown, &number, &pin, state.config.policy.utc_offset)) };
            Html(shell(body).into_string()).into_response()
        }
        Err(r) => {
            let why = match r.status() {
                StatusCode::TOO_MANY_REQUESTS => "Слишком много запросов. Повторите через минуту.",
                _ => "Обращение с таким номером и PIN-кодом не найдено. Проверьте номер и PIN-код.",
            };
            let page = shell(form(&number, Some(why))).into_string();
            (r.status(), Html(page)).into_response()
        }
    }
}

fn shell(body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ru" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Статус обращения" }
                style { (STYLE) }
            }
            body { main { h1 { "Статус обращения" } (body) } }
        }
    }
}

fn form(number: &str, problem: Option<&str>) -> Markup {
    html! {
        form method="get" action="/status" {
            label { "Регистрационный номер" input name="number" value=(number) required autocomplete="off" placeholder="ОГ-1/26"; }
            label { "PIN-код" input name="pin" type="password" inputmode="numeric" required autocomplete="off"; }
            button type="submit" { "Узнать статус" }
        }
        @if let Some(p) = problem { p.problem { (p) } }
    }
}

/// A date or a journal time as people write it, in the configured zone: `07.12.2026`.
fn day_ru(text: &str, offset: time::UtcOffset) -> String {
    use crate::wire::time::{format_date_ru, local_day, show_date_ru};
    local_day(text, offset).map_or_else(|| show_date_ru(text), format_date_ru)
}

fn status(s: &ApplicantStatus, number: &str, pin: &str, offset: time::UtcOffset) -> Markup {
    let day = |d: &Option<String>| d.as_deref().map(|t| day_ru(t, offset)).unwrap_or_default();
    html! {
        section.status {
            p.big { "Обращение № " (s.number) ": " strong { (s.status) } }
            dl {
                @if s.registered_on.is_some() { dt { "Зарегистрировано" } dd { (day(&s.registered_on)) } }
                dt { "Орган" } dd { (s.body.name) @if let Some(a) = &s.body.address { br; (a) } @if let Some(c) = &s.body.contacts { br; (c) } }
                @if s.due_date.is_some() { dt { "Срок ответа" } dd { (day(&s.due_date)) } }
                @if s.extended_until.is_some() { dt { "Срок продлён до" } dd { (day(&s.extended_until)) @if let Some(r) = &s.extension_reason { br; (r) } } }
                @if let Some(to) = &s.redirected_to { dt { "Направлено по компетенции" } dd { (to) } }
            }
            h2 { "Ход рассмотрения" }
            ol.timeline {
                @for t in &s.timeline {
                    li { span.when { (day_ru(&t.at, offset)) } " — " (t.status) @if let Some(d) = &t.detail { ": " (ru_dates(d)) } }
                }
            }
            @if !s.files.is_empty() {
                h2 { "Документы" }
                ul.files {
                    @for f in &s.files {
                        li { a href=(link(&f.name, number, pin)) { (title(f.kind)) } " (" (f.size / 1024 + 1) " КБ)" }
                    }
                }
            }
        }
    }
}

/// Every `YYYY-MM-DD` in a timeline's words written as people write it (`DD.MM.YYYY`).
fn ru_dates(text: &str) -> String {
    let b = text.as_bytes();
    let digit = |i: Option<usize>| i.and_then(|i| b.get(i)).is_some_and(u8::is_ascii_digit);
    let date_at = |i: usize| {
        !digit(i.checked_sub(1))
            && !digit(Some(i + 10))
            && b.get(i..i + 10).is_some_and(|w| {
                w.iter().enumerate().all(|(k, c)| match k {
                    4 | 7 => *c == b'-',
                    _ => c.is_ascii_digit(),
                })
            })
    };
    let (mut out, mut i) = (String::with_capacity(text.len()), 0);
    while i < b.len() {
        if date_at(i) {
            out.push_str(&format!(
                "{}.{}.{}",
                &text[i + 8..i + 10],
                &text[i + 5..i + 7],
                &text[i..i + 4]
            ));
            i += 10;
        } else {
            let c = text[i..].chars().next().expect("within the text");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn title(kind: &str) -> &'static str {
    match kind {
        "answer" => "Ответ на обращение",
        "extension" => "Уведомление о продлении срока рассмотрения",
        _ => "Уведомление о переадресации обращения",
    }
}

/// The download link: the file's name and the lookup's number and PIN, percent-encoded.
fn link(name: &str, number: &str, pin: &str) -> String {
    let enc =
        |s: &str| percent_encoding::utf8_percent_encode(s, super::status::URL_SAFE).to_string();
    format!(
        "/api/v1/status/files/{}?number={}&pin={}",
        enc(name),
        enc(number),
        enc(pin)
    )
}

const STYLE: &str = "body{font-family:sans-serif;margin:0;padding:1em;max-width:40em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}\
form{display:flex;flex-direction:column;gap:.6em;margin-bottom:1em}\
label{display:flex;flex-direction:column;font-size:.95em}\
input{font-size:1.1em;padding:.4em;margin-top:.2em}\
button{font-size:1.1em;padding:.5em;background:#1f3c88;color:#fff;border:0;border-radius:4px}\
.problem{color:#a00}.big{font-size:1.15em}dt{font-weight:bold;margin-top:.5em}dd{margin:0}\
.timeline li{margin:.3em 0}.when{color:#555}.files a{color:#1f3c88}";

#[cfg(test)]
mod tests {
    #[test]
    fn iso_dates_in_words_are_written_as_people_write_them() {
        assert_eq!(
            super::ru_dates("срок продлён до 2027-01-27: ответ № ОГ-1/26 от 2026-12-08"),
            "срок продлён до 27.01.2027: ответ № ОГ-1/26 от 08.12.2026"
        );
        assert_eq!(
            super::ru_dates("2026-1-08 и 12345-67-890"),
            "2026-1-08 и 12345-67-890"
        );
    }
}
