//! The operators' dashboard at `/`: one server-rendered HTML page (no scripts; it refreshes
//! itself every minute): the spool by state with reasons and ages, appeals (recent, search by
//! any number, overdue and due soon, each with its history), the recent exchange log and the
//! СЭД webhooks. Built from the same read-only views as the CLI, in Russian and the configured
//! zone. Templated with `maud`, which escapes every value it prints. Reads only.

use std::collections::BTreeMap;

use maud::{html, Markup, DOCTYPE};

use crate::book::Appeals;
use crate::config::Config;
use crate::operator::{self, Row};
use crate::spoolview;
use crate::webhooks::HookStatus;

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}.bad{color:#b00}";

/// Spool states listed one by one (archived folders are only counted).
const LISTED: [&str; 6] = [
    "quarantined",
    "incomplete",
    "ready",
    "processing",
    "outbound",
    "rejected",
];

/// Renders the page; `query` searches appeals by any of their numbers.
/// `store`: the running service's index — the spool section then costs the same whatever
/// the history; without it the journal is walked.
pub fn page(
    config: &Config,
    book: &dyn Appeals,
    store: Option<&crate::store::Store>,
    query: Option<&str>,
    (webhooks, held): (&BTreeMap<String, HookStatus>, &[(String, String)]),
) -> String {
    let now = operator::local_time(time::OffsetDateTime::now_utc(), config);
    html! {
        (DOCTYPE)
        html lang="ru" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content="60";
                title { "medo-gateway" }
                style { (STYLE) }
            }
            body {
                h1 { "medo-gateway — " (config.policy.sender.organization) }
                p #as-of { "по состоянию на " (now) " · версия " (crate::VERSION) " · страница обновляется каждую минуту" }
                (attention(config, held))
                (webhooks_table(webhooks, config))
                (spool_section(config, store))
                (appeals_section(config, book, query))
                (exchange_log(config))
            }
        }
    }
    .into_string()
}

/// What needs a person now: operator commands set aside as poisoned (the service kept
/// stopping on them) and messages decided but not rendered (held, not sent) — with why.
fn attention(config: &Config, held: &[(String, String)]) -> Markup {
    let poisoned = crate::control::poisoned(&config.spool.state_dir, 20);
    if poisoned.is_empty() && held.is_empty() {
        return html! {};
    }
    html! {
        h2.bad { "Требует внимания" }
        table #attention {
            tr { th { "что" } th { "имя" } th { "причина" } }
            @for (name, why) in &poisoned {
                tr.bad { td { "команда отложена" } td { (name) } td { (why) } }
            }
            @for (name, why) in held {
                tr.bad { td { "сообщение не отправлено" } td { (name) } td { (why) } }
            }
        }
    }
}

/// The webhooks, each with how it fares (a failing one in red, with since when and why).
fn webhooks_table(hooks: &BTreeMap<String, HookStatus>, config: &Config) -> Markup {
    if hooks.is_empty() {
        return html! {};
    }
    html! {
        h2 { "Веб-хуки СЭД" }
        table #webhooks {
            tr { th { "клиент" } th { "доставлено" } th { "неудачных попыток" } th { "состояние" } }
            @for (client, s) in hooks {
                tr class=[s.failing_since.map(|_| "bad")] {
                    td { (client) } td { (s.delivered) } td { (s.failures) }
                    td {
                        @if let Some(since) = s.failing_since {
                            "не доставляется с " (operator::local_time(since, config)) ": "
                            (s.last_error.as_deref().unwrap_or("")) " — повторяется"
                        } @else {
                            "доставляется"
                        }
                    }
                }
            }
        }
    }
}

/// Counts and oldest ages per state, then every package not at rest.
fn spool_section(config: &Config, store: Option<&crate::store::Store>) -> Markup {
    let listed = match store {
        Some(store) => spoolview::live_items(config, store),
        None => spoolview::items(config).map(|items| (items, 0)),
    };
    let (items, archived_uncounted) = match listed {
        Ok(listed) => listed,
        Err(e) => return html! { p.bad { "журнал не читается: " (e) } },
    };
    let mut status = spoolview::status(&items);
    *status.counts.entry("archived").or_insert(0) += archived_uncounted;
    html! {
        h2 { "Спул" }
        table #spool-status {
            tr { th { "состояние" } th { "пакетов" } th { "старейший" } }
            @for (state, n) in &status.counts {
                tr {
                    td { (spoolview::state_label(state)) } td { (n) }
                    td { (status.oldest_secs.get(state).map(|a| spoolview::age_text(*a)).unwrap_or_default()) }
                }
            }
        }
        h3 { "Карантин и ожидающие" }
        table #spool-items {
            tr { th { "состояние" } th { "ID" } th { "папка" } th { "возраст" } th { "причина" } }
            @for i in items.iter().filter(|i| LISTED.contains(&i.state)) {
                tr class=[matches!(i.state, "quarantined" | "rejected").then_some("bad")] {
                    td { (spoolview::state_label(i.state)) } td { (i.id) } td { (i.name) }
                    td { (i.age_secs.map(spoolview::age_text).unwrap_or_default()) }
                    td { (i.detail.as_deref().unwrap_or("")) }
                }
            }
        }
    }
}

/// Rows of the overdue and due-soon tables, at most (the page stays small whatever the
/// backlog: 20,000 overdue appeals made a 7 MB page).
pub const DUE_ROWS: usize = 100;

/// The search, the recent (or found) appeals with the found one's history, the overdue and
/// those due within three days.
fn appeals_section(config: &Config, book: &dyn Appeals, query: Option<&str>) -> Markup {
    let today = operator::today(config);
    let found = query.filter(|q| !q.trim().is_empty()).map(|q| book.find(q));
    let rows: Vec<Row> = match &found {
        Some(Ok(a)) => vec![operator::row(a, config, today)],
        Some(Err(_)) => Vec::new(),
        None => book
            .recent(50)
            .iter()
            .map(|a| operator::row(a, config, today))
            .collect(),
    };
    // deadlines run only for open appeals: their deadline facts say which to show
    let ((overdue, late), (soon, due)) =
        operator::due_lists_capped(book, config, today, 3, DUE_ROWS);
    html! {
        h2 { "Обращения" }
        form method="get" action="/" {
            input name="q" placeholder="номер (наш, А26-…, id)" value=(query.unwrap_or(""));
            " "
            button { "Найти" }
        }
        @if let Some(Err(e)) = &found { p.bad { (e) } }
        (appeals_table("appeals", &rows))
        @if let Some(Ok(a)) = &found {
            h3 { "История " (a.number.as_deref().unwrap_or(&a.urog_number)) }
            ul #history {
                @for (ts, what) in &a.history {
                    li { (operator::journal_time(ts, config)) " — " (what) }
                }
            }
        }
        h3 { "Просроченные (" (late) ")" }
        (appeals_table("overdue", &overdue))
        @if late > overdue.len() { p { "показаны первые " (overdue.len()) "; все: medo-gateway appeals list --overdue" } }
        h3 { "Срок в ближайшие 3 дня (" (due) ")" }
        (appeals_table("due-soon", &soon))
        @if due > soon.len() { p { "показаны первые " (soon.len()) "; все: medo-gateway appeals list" } }
    }
}

fn appeals_table(id: &str, rows: &[Row]) -> Markup {
    html! {
        table id=(id) {
            tr { th { "id" } th { "УРОГ" } th { "наш номер" } th { "статус" } th { "срок" } th { "отметки" } }
            @for r in rows {
                tr class=[r.overdue.then_some("bad")] {
                    td { a href={ "/?q=" (r.appeal.id) } { (r.appeal.id) } }
                    td { (r.appeal.urog_number) }
                    td { (r.appeal.number.as_deref().unwrap_or("-")) }
                    td { (r.status) }
                    td { (r.next_due.as_deref().unwrap_or("-")) }
                    td { (operator::marks(r).join(", ")) }
                }
            }
        }
    }
}

/// The journal's last 50 records, newest first, kinds as people read them.
fn exchange_log(config: &Config) -> Markup {
    let journal = crate::journal::Folder::new(config.spool.state_dir.join("journal"));
    let records = crate::JournalRead::tail(&journal, 50).unwrap_or_default();
    html! {
        h2 { "Журнал обмена (последние 50)" }
        table #log {
            tr { th { "№" } th { "время" } th { "событие" } th { "поступление" } }
            @for r in records.iter().rev() {
                tr {
                    td { (r.seq) } td { (operator::journal_time(&r.ts, config)) }
                    td { (r.event.label()) }
                    td { (r.event.arrival().map(|a| a.to_string()).unwrap_or_default()) }
                }
            }
        }
    }
}
