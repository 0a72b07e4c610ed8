//! The operators' dashboard at `/`: one server-rendered HTML page an operator keeps open all
//! day (no scripts; it refreshes itself every minute; one small stylesheet, [`STYLE`], readable
//! at 1366×768 and on a phone). Summary figures first (under consideration, overdue, due soon,
//! seven days without a decision, waiting for an operator, quarantined, rejected, not picked
//! up), what needs a person, then the appeals — searchable by any number, filtered by a tab,
//! paged — with the found one's history, the packages not at rest, the СЭД webhooks and the
//! recent exchange log. A hub's page has a body selector. Built from the same read-only views
//! as the CLI, in Russian and the configured zone; every list is capped, so the page stays
//! small whatever the backlog. Templated with `maud`, which escapes every value it prints.

use std::collections::BTreeMap;

use maud::{html, Markup, DOCTYPE};

use crate::book::Appeals;
use crate::config::Config;
use crate::operator::{self, Row};
use crate::spoolview;
use crate::webhooks::HookStatus;
use medo_core::due::BodyFigures;

/// The operators' pages' one stylesheet (the dashboard's and `/supervision`'s): system fonts,
/// colour for what needs a person (red: overdue, quarantined, rejected; amber: due soon,
/// waiting), tables that scroll sideways inside their box and drop their less needed columns
/// (`.wide`) on a phone.
pub const STYLE: &str = "\
:root{--bad:#a3001b;--bad-bg:#fdecee;--warn:#7a4f00;--warn-bg:#fff3d1;--line:#d6dbe2;--ink:#1d232b;--head:#1f3a5f}\
*{box-sizing:border-box}\
body{font:15px/1.45 system-ui,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:0;color:var(--ink);background:#f4f6f8}\
header{background:var(--head);color:#fff;padding:.6em 1em}header h1{font-size:1.15em;margin:0}\
header p{margin:.2em 0 0;font-size:.85em;opacity:.85}header a{color:#fff}\
main{padding:.6em 1em 2em;max-width:96em}h2{font-size:1.05em;margin:1.3em 0 .4em}\
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(10.5em,1fr));gap:.5em}\
.card{display:block;background:#fff;border:1px solid var(--line);border-left:5px solid var(--line);border-radius:4px;padding:.35em .6em;color:inherit;text-decoration:none}\
.card b{display:block;font-size:1.7em;line-height:1.2}\
.card.bad{border-left-color:var(--bad);background:var(--bad-bg);color:var(--bad)}\
.card.warn{border-left-color:#d99a00;background:var(--warn-bg);color:var(--warn)}\
.box{overflow-x:auto;background:#fff;border:1px solid var(--line);border-radius:4px;margin-bottom:.6em}\
table{border-collapse:collapse;width:100%}\
th,td{padding:.3em .55em;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}\
th{background:#eef1f5;font-weight:600;white-space:nowrap}\
tr.bad td,.bad{color:var(--bad)}tr.bad td{background:var(--bad-bg)}tr.warn td{background:var(--warn-bg)}\
tr:target td{outline:2px solid #d99a00}td.n,th.n{text-align:right}th a{color:inherit}\
nav a{display:inline-block;padding:.2em .6em;margin:0 .25em .35em 0;border:1px solid var(--line);border-radius:4px;background:#fff;color:var(--head);text-decoration:none}\
nav a.on{background:var(--head);color:#fff}\
form{margin:.3em 0 .5em}input,select,button{font:inherit;padding:.25em .45em;max-width:100%}input[name=q]{width:22em}\
.mute{color:#5b6470;font-size:.9em}.soon{color:var(--warn);font-weight:600}td.bad{font-weight:600}\
@media (max-width:700px){body{font-size:14px}main{padding:.5em}.wide{display:none}.cards{grid-template-columns:repeat(2,1fr)}}";

/// Spool states listed one by one (archived folders are only counted).
const LISTED: [&str; 6] = [
    "quarantined",
    "incomplete",
    "ready",
    "processing",
    "outbound",
    "rejected",
];

/// Rows of one page of an appeal list, and of the packages not at rest (the page stays small
/// whatever the backlog: 20,000 overdue appeals once made a 7 MB page).
pub const DUE_ROWS: usize = 50;

/// What the page is asked: a search, a list (tab) and where its page starts, a body.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub q: Option<String>,
    /// `recent` (default), `all`, `overdue`, `soon`, `undecided`.
    pub list: Option<String>,
    pub after: Option<u64>,
    /// A hub's body (its id); `None`: every body.
    pub body: Option<String>,
}

/// The lists an operator picks from: (`list=`, its name).
const TABS: [(&str, &str); 5] = [
    ("recent", "Последние"),
    ("overdue", "Просроченные"),
    ("soon", "Срок ≤ 3 дней"),
    ("undecided", "7 дней без решения"),
    ("all", "Все по порядку"),
];

/// Renders the page for `view`. `store`: the running service's index — the spool section then
/// costs the same whatever the history; without it the journal is walked.
pub fn page(
    config: &Config,
    book: &dyn Appeals,
    store: Option<&crate::store::Store>,
    view: &View,
    (webhooks, held): (&BTreeMap<String, HookStatus>, &[(String, String)]),
) -> String {
    let now = operator::local_time(time::OffsetDateTime::now_utc(), config);
    let body = view
        .body
        .as_deref()
        .filter(|b| config.policy.hub && config.policy.body(b).is_some());
    let today = operator::today(config);
    let figures = figures_of(book, config, today, body);
    let spool = spool_items(config, store);
    html! {
        (DOCTYPE)
        html lang="ru" {
            (head("МЭДО-шлюз — обращения"))
            body {
                header {
                    h1 { "МЭДО-шлюз — " (title_of(config, body)) }
                    p #as-of { "по состоянию на " (now) " · версия " (crate::VERSION) " · страница обновляется каждую минуту"
                        @if config.policy.hub { " · " a href="/supervision" { "сквозной контроль по органам" } } }
                }
                main {
                    (body_selector(config, body))
                    (summary(&figures, &spool, body))
                    (attention(config, held))
                    (approvals(config, store))
                    (appeals_section(config, book, view, body, &figures))
                    (spool_section(&spool))
                    (webhooks_table(webhooks, config))
                    (exchange_log(config))
                }
            }
        }
    }
    .into_string()
}

/// The operators' pages' `<head>`: for any screen, refreshed every minute, [`STYLE`].
pub fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta http-equiv="refresh" content="60";
            title { (title) }
            style { (STYLE) }
        }
    }
}

/// Whose page it is: the body's organisation, the hub, or the one body's.
fn title_of(config: &Config, body: Option<&str>) -> String {
    match (body.and_then(|b| config.policy.body(b)), config.policy.hub) {
        (Some(b), _) => b.sender.organization.clone(),
        (None, true) => format!("узел региона, органов: {}", config.policy.bodies.len()),
        (None, false) => config.policy.sender.organization.clone(),
    }
}

/// One body's figures, or the sum over every body.
fn figures_of(
    book: &dyn Appeals,
    config: &Config,
    today: time::Date,
    body: Option<&str>,
) -> BodyFigures {
    let by_body = medo_core::due::by_body(book, &config.policy, today);
    by_body
        .iter()
        .filter(|(id, _)| body.is_none_or(|b| id.as_str() == b))
        .fold(BodyFigures::default(), |t, (_, f)| BodyFigures {
            open: t.open + f.open,
            overdue: t.overdue + f.overdue,
            due_soon: t.due_soon + f.due_soon,
            held: t.held + f.held,
            undecided: t.undecided + f.undecided,
        })
}

/// A hub's body selector (a form, no script): every body, or one.
fn body_selector(config: &Config, body: Option<&str>) -> Markup {
    if !config.policy.hub {
        return html! {};
    }
    html! {
        form #body method="get" action="/" {
            label for="body-select" { "Орган: " }
            select #body-select name="body" {
                option value="" selected[body.is_none()] { "все органы узла" }
                @for b in config.policy.bodies.iter() {
                    option value=(b.id) selected[body == Some(b.id.as_str())] { (b.sender.organization) " (" (b.id) ")" }
                }
            }
            " " button { "Показать" }
        }
    }
}

/// The packages of the spool and the archived ones only counted (or why they could not be
/// listed).
type SpoolItems = Result<(Vec<spoolview::Item>, usize), String>;

fn spool_items(config: &Config, store: Option<&crate::store::Store>) -> SpoolItems {
    match store {
        Some(store) => spoolview::live_items(config, store),
        None => spoolview::items(config).map(|items| (items, 0)),
    }
}

/// The figures first, each a link to its list; what needs a person in colour.
fn summary(figures: &BodyFigures, spool: &SpoolItems, body: Option<&str>) -> Markup {
    let state = |s: &str| {
        spool.as_ref().map_or(0, |(items, _)| {
            items.iter().filter(|i| i.state == s).count()
        })
    };
    let link = |list: &str| tab_link(list, body, None);
    let cards: [(&str, u64, &str, String); 8] = [
        ("На рассмотрении", figures.open, "", link("all")),
        ("Просрочено", figures.overdue, "bad", link("overdue")),
        ("Срок ≤ 3 дней", figures.due_soon, "warn", link("soon")),
        (
            "7 дней без решения",
            figures.undecided,
            "warn",
            link("undecided"),
        ),
        ("Ждут оператора", figures.held, "warn", link("recent")),
        (
            "В карантине",
            state("quarantined") as u64,
            "bad",
            "#spool".into(),
        ),
        (
            "Не приняты получателем",
            state("rejected") as u64,
            "bad",
            "#spool".into(),
        ),
        (
            "Не забраны VipNet",
            state("outbound") as u64,
            "warn",
            "#spool".into(),
        ),
    ];
    html! {
        section.cards #summary {
            @for (name, n, class, href) in cards {
                a class={ "card " (if n > 0 { class } else { "" }) } href=(href) { b { (n) } (name) }
            }
        }
    }
}

/// A link to `list` (the body kept, the search dropped), from `after`.
fn tab_link(list: &str, body: Option<&str>, after: Option<u64>) -> String {
    let mut href = format!("/?list={list}");
    if let Some(b) = body {
        href.push_str(&format!("&body={b}"));
    }
    if let Some(a) = after {
        href.push_str(&format!("&after={a}"));
    }
    href
}

/// What needs a person now: operator commands set aside as poisoned (the service kept
/// stopping on them) and messages decided but not rendered (held, not sent) — with why.
fn attention(config: &Config, held: &[(String, String)]) -> Markup {
    let poisoned = crate::control::poisoned(config.spool.shared_root(), 20);
    if poisoned.is_empty() && held.is_empty() {
        return html! {};
    }
    html! {
        h2.bad { "Требует внимания" }
        div.box {
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
}

/// Our documents waiting for a person's approval, with how long (read-only: approved by
/// `documents approve` or the API); one past `approval_alert_secs` in red.
fn approvals(config: &Config, store: Option<&crate::store::Store>) -> Markup {
    let Some(store) = store else {
        return html! {};
    };
    let waiting = crate::documents::awaiting(config, store, |_| true).unwrap_or_default();
    if waiting.is_empty() {
        return html! {};
    }
    let alert = config.approval.alert_secs as i64;
    html! {
        h2 { "Ждут утверждения" }
        div.box {
            table #approvals {
                tr { th { "номер" } th { "вид" } th { "создан" } th { "ждёт" } }
                @for d in &waiting {
                    @let created = time::OffsetDateTime::parse(&d.created, &time::format_description::well_known::Rfc3339)
                        .map(|t| operator::local_time(t, config))
                        .unwrap_or_else(|_| d.created.clone());
                    tr class=(if d.waiting_secs > alert { "bad" } else { "" }) {
                        td { (d.number.as_deref().unwrap_or("—")) }
                        td { (if d.kind == "response" { "ответ на запрос" } else { "доклад" }) }
                        td { (created) }
                        td { (crate::spoolview::age_text(d.waiting_secs.max(0) as u64)) }
                    }
                }
            }
            p { "Утвердить: " code { "medo-gateway documents approve НОМЕР" } " или POST /api/v1/documents/{uid}/approval." }
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
        div.box {
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
}

/// Counts and oldest ages per state, then the packages not at rest (at most [`DUE_ROWS`]).
fn spool_section(spool: &SpoolItems) -> Markup {
    let (items, archived_uncounted) = match spool {
        Ok(listed) => listed,
        Err(e) => return html! { p.bad { "журнал не читается: " (e) } },
    };
    let mut status = spoolview::status(items);
    *status.counts.entry("archived").or_insert(0) += archived_uncounted;
    let waiting: Vec<&spoolview::Item> =
        items.iter().filter(|i| LISTED.contains(&i.state)).collect();
    html! {
        h2 #spool { "Пакеты МЭДО" }
        div.box {
            table #spool-status {
                tr { th { "состояние" } th.n { "пакетов" } th { "старейший" } }
                @for (state, n) in status.counts.iter().filter(|(_, n)| **n > 0) {
                    tr class=[matches!(*state, "quarantined" | "rejected").then_some("bad").filter(|_| *n > 0)] {
                        td { (spoolview::state_label(state)) } td.n { (n) }
                        td { (status.oldest_secs.get(state).map(|a| spoolview::age_text(*a)).unwrap_or_default()) }
                    }
                }
            }
        }
        h2 { "Карантин и ожидающие" }
        div.box {
            table #spool-items {
                tr { th { "состояние" } th { "№" } th.wide { "папка" } th { "возраст" } th { "причина" } }
                @for i in waiting.iter().take(DUE_ROWS) {
                    tr class=[matches!(i.state, "quarantined" | "rejected").then_some("bad")] {
                        td { (spoolview::state_label(i.state)) } td { (i.id) } td.wide { (i.name) }
                        td { (i.age_secs.map(spoolview::age_text).unwrap_or_default()) }
                        td { (i.detail.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        @if waiting.len() > DUE_ROWS {
            p.mute { "показаны первые " (DUE_ROWS) " из " (waiting.len()) "; все: medo-gateway spool list" }
        }
    }
}

/// The search, the tabs, a page of the list asked (with the next page's link), the found
/// appeal's history.
fn appeals_section(
    config: &Config,
    book: &dyn Appeals,
    view: &View,
    body: Option<&str>,
    figures: &BodyFigures,
) -> Markup {
    let today = operator::today(config);
    let query = view.q.as_deref().filter(|q| !q.trim().is_empty());
    let found = query.map(|q| book.find_of(body, q));
    let list = view.list.as_deref().unwrap_or(match body {
        Some(_) => "all",
        None => "recent",
    });
    let (rows, next): (Vec<Row>, Option<u64>) = match &found {
        Some(Ok(a)) => (vec![operator::row(a, config, today)], None),
        Some(Err(_)) => (Vec::new(), None),
        None => list_page(book, config, today, list, view.after, body),
    };
    let count = |tab: &str| match tab {
        "overdue" => Some(figures.overdue),
        "soon" => Some(figures.due_soon),
        "undecided" => Some(figures.undecided),
        _ => None,
    };
    html! {
        h2 #appeals-head { "Обращения" }
        form method="get" action="/" {
            @if let Some(b) = body { input type="hidden" name="body" value=(b); }
            input name="q" placeholder="номер: наш, А26-… или id" value=(view.q.as_deref().unwrap_or(""));
            " " button { "Найти" }
        }
        nav {
            @for (tab, name) in TABS {
                a class=[(found.is_none() && tab == list).then_some("on")] href=(tab_link(tab, body, None)) {
                    (name) @if let Some(n) = count(tab) { " (" (n) ")" }
                }
            }
        }
        @if let Some(Err(e)) = &found { p.bad { (e) } }
        (appeals_table("appeals", &rows))
        @if let Some(after) = next {
            p { a href=(tab_link(list, body, Some(after))) { "следующие " (DUE_ROWS) " →" } }
        }
        @if let Some(Ok(a)) = &found {
            h2 { "История " (a.number.as_deref().unwrap_or(&a.urog_number)) }
            div.box {
                ul #history {
                    @for (ts, what) in &a.history {
                        li { (operator::journal_time(ts, config)) " — " (what) }
                    }
                }
            }
        }
    }
}

/// A page of the list `list`: the newest (`recent`, a hub's body: in id order), or the
/// appeals in id order after `after` that pass its filter.
fn list_page(
    book: &dyn Appeals,
    config: &Config,
    today: time::Date,
    list: &str,
    after: Option<u64>,
    body: Option<&str>,
) -> (Vec<Row>, Option<u64>) {
    if list == "recent" && body.is_none() {
        let rows = book.recent(DUE_ROWS);
        return (
            rows.iter()
                .map(|a| operator::row(a, config, today))
                .collect(),
            None,
        );
    }
    let filters = operator::Filters {
        overdue: list == "overdue",
        undecided: list == "undecided",
        within: (list == "soon").then_some(3),
        body,
    };
    operator::page(book, config, today, filters, after.unwrap_or(0), DUE_ROWS)
}

fn appeals_table(id: &str, rows: &[Row]) -> Markup {
    html! {
        div.box {
            table id=(id) {
                tr { th.wide { "id" } th { "УРОГ" } th { "наш номер" } th { "статус" } th { "срок" } th { "отметки" } }
                @for r in rows {
                    tr class=[row_class(r)] {
                        td.wide { a href={ "/?q=" (r.appeal.id) } { (r.appeal.id) } }
                        td { a href={ "/?q=" (r.appeal.id) } { (r.appeal.urog_number) } }
                        td { (r.appeal.number.as_deref().unwrap_or("-")) }
                        td { (r.status) }
                        td { (r.next_due.as_deref().map(crate::wire::time::show_date_ru).unwrap_or_else(|| "-".into())) }
                        td { (operator::marks(r).join(", ")) }
                    }
                }
                @if rows.is_empty() { tr { td colspan="6" { "нет обращений" } } }
            }
        }
    }
}

/// Red: overdue; amber: waiting for a person or past the 7-day redirect date.
fn row_class(r: &Row) -> Option<&'static str> {
    match (r.overdue, r.undecided || r.appeal.held.is_some()) {
        (true, _) => Some("bad"),
        (false, true) => Some("warn"),
        _ => None,
    }
}

/// The journal's last 50 records, newest first, kinds as people read them.
fn exchange_log(config: &Config) -> Markup {
    let records = crate::postgres::JournalSource::of(config)
        .read(|j| j.tail(50).map_err(|e| e.to_string()))
        .unwrap_or_default();
    html! {
        h2 { "Журнал обмена (последние 50)" }
        div.box {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::AppealBook;

    /// 20,000 overdue appeals (the backlog that once made a 7 MB page): each list is a page of
    /// [`DUE_ROWS`] with a link to the next, which starts after the last row shown; the page
    /// stays small; the tabs count them all.
    #[test]
    fn every_list_is_a_page_and_the_page_stays_small() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut config = Config::load(&root.join("config/gateway.toml")).unwrap();
        for (path, name) in [
            (&mut config.spool.inbound, "in"),
            (&mut config.spool.outbound, "out"),
            (&mut config.spool.state_dir, "state"),
        ] {
            *path = dir.path().join(name);
            std::fs::create_dir_all(&*path).unwrap();
        }
        let mut book = AppealBook::default();
        for id in 1..=20_000 {
            book.apply(&crate::operator::tests::received(
                id,
                "2026-01-12T09:00:00Z",
            ));
        }
        let render = |list: &str, after: Option<u64>| {
            let view = View {
                list: Some(list.into()),
                after,
                ..View::default()
            };
            page(&config, &book, None, &view, (&BTreeMap::new(), &[]))
        };
        let first = render("overdue", None);
        assert!(first.len() < 60_000, "{} bytes", first.len());
        let rows = |page: &str| {
            page.matches("<tr class=\"bad\"><td class=\"wide\">")
                .count()
        };
        assert_eq!(rows(&first), DUE_ROWS);
        assert!(
            first.contains("Просроченные (20000)"),
            "the tab counts them all"
        );
        assert!(
            first.contains("href=\"/?list=overdue&amp;after=50\""),
            "the next page"
        );
        let second = render("overdue", Some(50));
        assert_eq!(rows(&second), DUE_ROWS);
        assert!(second.contains("?q=51\"") && !second.contains("?q=50\""));
        // the newest first by default; an unknown list reads as every appeal in order
        let recent = render("recent", None);
        assert!(recent.contains("?q=20000\""), "the newest");
        assert!(render("nonsense", None).contains("?q=1\""));
    }
}
