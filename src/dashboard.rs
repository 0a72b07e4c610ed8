//! The operators' dashboard at `/`: one server-rendered HTML page (no scripts): the spool by
//! state with reasons and ages, appeals (recent, search by any number, overdue and due soon,
//! each with its history), and the recent exchange log. Built from the same read-only views as
//! the CLI; escapes everything it prints. Reads only.

use std::fmt::Write;

use crate::book::Appeals;
use crate::config::Config;
use crate::operator;
use crate::spoolview;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The webhooks, each with how it fares (a failing one in red, with since when and why).
fn webhooks_table(
    h: &mut String,
    hooks: &std::collections::BTreeMap<String, crate::webhooks::HookStatus>,
    config: &Config,
) {
    if hooks.is_empty() {
        return;
    }
    h.push_str("<h2>Веб-хуки СЭД</h2><table id=\"webhooks\"><tr><th>клиент</th><th>доставлено</th><th>неудачных попыток</th><th>состояние</th></tr>");
    for (client, s) in hooks {
        let state = match (&s.failing_since, &s.last_error) {
            (Some(since), why) => format!(
                "не доставляется с {}: {} — повторяется",
                operator::local_time(*since, config),
                why.as_deref().unwrap_or("")
            ),
            (None, _) => "доставляется".to_string(),
        };
        let _ = write!(
            h,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if s.failing_since.is_some() { "bad" } else { "" },
            esc(client),
            s.delivered,
            s.failures,
            esc(&state)
        );
    }
    h.push_str("</table>");
}

/// Renders the page; `query` searches appeals by any of their numbers.
/// `store`: the running service's index — the spool section then costs the same whatever
/// the history; without it the journal is walked.
pub fn page(
    config: &Config,
    book: &dyn Appeals,
    store: Option<&crate::store::Store>,
    query: Option<&str>,
    webhooks: &std::collections::BTreeMap<String, crate::webhooks::HookStatus>,
) -> String {
    let today = operator::today(config);
    let mut h = String::from("<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"60\"><title>medo-gateway</title><style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}.bad{color:#b00}</style></head><body>");
    let _ = write!(
        h,
        "<h1>medo-gateway — {}</h1><p id=\"as-of\">по состоянию на {} · версия {} · страница обновляется каждую минуту</p>",
        esc(&config.sender.organization),
        operator::local_time(time::OffsetDateTime::now_utc(), config),
        esc(crate::VERSION)
    );
    webhooks_table(&mut h, webhooks, config);
    // spool
    let listed = match store {
        Some(store) => spoolview::live_items(config, store),
        None => spoolview::items(config).map(|items| (items, 0)),
    };
    match listed {
        Ok((items, archived_uncounted)) => {
            let mut status = spoolview::status(&items);
            *status.counts.entry("archived").or_insert(0) += archived_uncounted;
            h.push_str("<h2>Спул</h2><table id=\"spool-status\"><tr><th>состояние</th><th>пакетов</th><th>старейший</th></tr>");
            for (state, n) in &status.counts {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{n}</td><td>{}</td></tr>",
                    spoolview::state_label(state),
                    status
                        .oldest_secs
                        .get(state)
                        .map(|a| spoolview::age_text(*a))
                        .unwrap_or_default()
                );
            }
            h.push_str("</table><h3>Карантин и ожидающие</h3><table id=\"spool-items\"><tr><th>состояние</th><th>ID</th><th>папка</th><th>причина</th></tr>");
            for i in items.iter().filter(|i| {
                matches!(
                    i.state,
                    "quarantined" | "incomplete" | "ready" | "processing" | "outbound" | "rejected"
                )
            }) {
                let _ = write!(
                    h,
                    "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    if matches!(i.state, "quarantined" | "rejected") {
                        "bad"
                    } else {
                        ""
                    },
                    spoolview::state_label(i.state),
                    esc(&i.id),
                    esc(&i.name),
                    esc(i.detail.as_deref().unwrap_or(""))
                );
            }
            h.push_str("</table>");
        }
        Err(e) => {
            let _ = write!(h, "<p class=\"bad\">журнал не читается: {}</p>", esc(&e));
        }
    }
    // appeals
    let _ = write!(h, "<h2>Обращения</h2><form method=\"get\" action=\"/\"><input name=\"q\" placeholder=\"номер (наш, А26-…, id)\" value=\"{}\"> <button>Найти</button></form>", esc(query.unwrap_or("")));
    let selected: Vec<operator::Row> = match query.filter(|q| !q.trim().is_empty()) {
        Some(q) => match book.find(q) {
            Ok(a) => vec![operator::row(&a, config, today)],
            Err(e) => {
                let _ = write!(h, "<p class=\"bad\">{}</p>", esc(&e));
                Vec::new()
            }
        },
        None => book
            .recent(50)
            .iter()
            .map(|a| operator::row(a, config, today))
            .collect(),
    };
    table(&mut h, "appeals", &selected);
    // deadlines run only for open appeals: their deadline facts say which to show
    let (overdue, soon) = operator::due_lists(book, config, today, 3);
    h.push_str("<h3>Просроченные</h3>");
    table(&mut h, "overdue", &overdue);
    h.push_str("<h3>Срок в ближайшие 3 дня</h3>");
    table(&mut h, "due-soon", &soon);
    if let Some(a) = selected.first().filter(|_| query.is_some()) {
        let _ = write!(
            h,
            "<h3>История {}</h3><ul id=\"history\">",
            esc(a.appeal.number.as_deref().unwrap_or(&a.appeal.urog_number))
        );
        for (ts, what) in &a.appeal.history {
            let _ = write!(h, "<li>{} — {}</li>", esc(ts), esc(what));
        }
        h.push_str("</ul>");
    }
    // exchange log
    h.push_str("<h2>Журнал обмена (последние 50)</h2><table id=\"log\"><tr><th>№</th><th>время</th><th>событие</th><th>поступление</th></tr>");
    let journal = config.spool.state_dir.join("journal");
    if let Ok(records) = crate::journal::tail(&journal, 50) {
        for r in records.iter().rev() {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                r.seq,
                esc(&r.ts),
                r.event.kind(),
                r.event.arrival().map(|a| a.to_string()).unwrap_or_default()
            );
        }
    }
    h.push_str("</table></body></html>");
    h
}

fn table(h: &mut String, id: &str, rows: &[operator::Row]) {
    let _ = write!(h, "<table id=\"{id}\"><tr><th>id</th><th>УРОГ</th><th>наш номер</th><th>статус</th><th>срок</th><th>отметки</th></tr>");
    for r in rows {
        let a = &r.appeal;
        let marks = [
            r.overdue.then_some("просрочено"),
            a.restricted.then_some("ДСП"),
            a.held.as_ref().map(|_| "ждёт оператора"),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        let _ = write!(
            h,
            "<tr><td><a href=\"/?q={}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            a.id,
            a.id,
            esc(&a.urog_number),
            esc(a.number.as_deref().unwrap_or("-")),
            r.status,
            esc(r.next_due.as_deref().unwrap_or("-")),
            marks
        );
    }
    h.push_str("</table>");
}
