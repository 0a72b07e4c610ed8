//! `/supervision` — a region's hub supervised as a whole («сквозной контроль»): one row per
//! body with its open appeals, those past a 59-ФЗ deadline, due within 3 days and waiting
//! for an operator; sorted by any column (a link, no scripts); each row linkable
//! (`#<body id>`); then the packages held for no body, with the bodies suggested. Read-only,
//! from the figures the loop counts once a minute (`medo_core::due::by_body`) and the book's
//! held list: a page of 1,000 bodies costs no walk over the appeals.

use std::collections::BTreeMap;

use maud::{html, Markup, DOCTYPE};

use crate::config::Config;
use medo_core::book::Unrouted;
use medo_core::due::BodyFigures;

/// The columns a table can be sorted by (`?sort=`), as the page names them.
const COLUMNS: [(&str, &str); 6] = [
    ("body", "Орган"),
    ("open", "На рассмотрении"),
    ("overdue", "Просрочено"),
    ("due_soon", "Срок в ближайшие 3 дня"),
    ("undecided", "7 дней без решения"),
    ("held", "Ждут оператора"),
];

/// The page: `figures` per body id (as counted), `held` packages, sorted by `sort`.
pub fn page(
    config: &Config,
    figures: &BTreeMap<String, BodyFigures>,
    held: &[Unrouted],
    sort: Option<&str>,
) -> String {
    let now = crate::operator::local_time(time::OffsetDateTime::now_utc(), config);
    let rows = sorted(config, figures, sort);
    html! {
        (DOCTYPE)
        html lang="ru" {
            (crate::dashboard::head("Сквозной контроль — medo-gateway"))
            body {
                header {
                    h1 { "Сквозной контроль" }
                    p { "по состоянию на " (now) " · органов: " (rows.len()) " · цифры обновляются раз в минуту · " a href="/" { "панель узла" } }
                }
                main {
                    (summary(&rows, held))
                    (bodies_table(&rows))
                    (held_table(config, held))
                }
            }
        }
    }
    .into_string()
}

/// A body's row: its id, organisation and figures.
struct BodyRow<'a> {
    id: &'a str,
    organization: &'a str,
    figures: BodyFigures,
}

/// Every configured body with its figures (none counted yet: zeros), sorted by `sort`
/// (descending for figures, the id for `body`; ties by id).
fn sorted<'a>(
    config: &'a Config,
    figures: &BTreeMap<String, BodyFigures>,
    sort: Option<&str>,
) -> Vec<BodyRow<'a>> {
    let mut rows: Vec<BodyRow> = config
        .policy
        .bodies
        .iter()
        .map(|b| BodyRow {
            id: b.id.as_str(),
            organization: &b.sender.organization,
            figures: figures.get(b.id.as_str()).copied().unwrap_or_default(),
        })
        .collect();
    let key = |r: &BodyRow| -> u64 {
        match sort {
            Some("open") => r.figures.open,
            Some("due_soon") => r.figures.due_soon,
            Some("undecided") => r.figures.undecided,
            Some("held") => r.figures.held,
            Some("body") => 0,
            _ => r.figures.overdue,
        }
    };
    rows.sort_by(|a, b| key(b).cmp(&key(a)).then(a.id.cmp(b.id)));
    rows
}

/// The hub's totals first.
fn summary(rows: &[BodyRow], held: &[Unrouted]) -> Markup {
    let total = |f: fn(&BodyFigures) -> u64| rows.iter().map(|r| f(&r.figures)).sum::<u64>();
    let overdue = total(|f| f.overdue);
    html! {
        p #summary {
            "На рассмотрении: " b { (total(|f| f.open)) } " · "
            span class=(if overdue > 0 { "bad" } else { "" }) { "просрочено: " b { (overdue) } }
            " · срок в ближайшие 3 дня: " b { (total(|f| f.due_soon)) }
            " · 7 дней без решения (ни в работе, ни переадресовано): " b { (total(|f| f.undecided)) }
            " · ждут оператора: " b { (total(|f| f.held)) }
            " · пакетов без органа: " b { (held.len()) }
        }
    }
}

fn bodies_table(rows: &[BodyRow]) -> Markup {
    html! {
        h2 { "По органам" }
        div.box { table #bodies {
            tr { @for (key, name) in COLUMNS { th { a href={ "?sort=" (key) } { (name) } } } }
            @for r in rows {
                tr id=(r.id) {
                    td { a href={ "#" (r.id) } { (r.organization) } " (" (r.id) ")" }
                    td.n { (r.figures.open) }
                    td class=(if r.figures.overdue > 0 { "n bad" } else { "n" }) { (r.figures.overdue) }
                    td class=(if r.figures.due_soon > 0 { "n soon" } else { "n" }) { (r.figures.due_soon) }
                    td class=(if r.figures.undecided > 0 { "n soon" } else { "n" }) { (r.figures.undecided) }
                    td.n { (r.figures.held) }
                }
            }
        } }
    }
}

fn held_table(config: &Config, held: &[Unrouted]) -> Markup {
    html! {
        h2 { "Пакеты без органа (адресат не определён)" }
        @if held.is_empty() {
            p { "нет" }
        } @else {
            div.box { table #held {
                tr { th { "Поступление" } th { "Ждёт с" } th { "Возможно" } th { "Назначить" } }
                @for h in held {
                    tr id={ "arrival-" (h.arrival) } {
                        td { (h.arrival) }
                        td { (crate::operator::journal_time(&h.at, config)) }
                        td { (h.candidates.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")) }
                        td { code { "medo-gateway appeals assign " (h.arrival) " --body ОРГАН" } }
                    }
                }
            } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> Config {
        let base = include_str!("../config/gateway.toml").replace(
            "participant_uid = \"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\"",
            "",
        );
        let bodies = r#"
[[bodies]]
id = "a"
uid = "aaaaaaaa-0000-4000-8000-000000000001"
organization = "Орган <А>"
[[bodies]]
id = "b"
uid = "bbbbbbbb-0000-4000-8000-000000000002"
organization = "Орган Б"
[[bodies]]
id = "c"
uid = "cccccccc-0000-4000-8000-000000000003"
organization = "Орган В"
"#;
        Config::parse(&format!("{base}\n{bodies}"), std::path::Path::new("t.toml")).unwrap()
    }

    /// (sort, the order of the rows): figures descending, ties and `body` by id; a body not
    /// counted yet shows zeros.
    #[test]
    fn rows_sort_by_the_column_asked_and_names_are_escaped() {
        let config = hub();
        let figures: BTreeMap<String, BodyFigures> = [("a", (5, 0, 2, 1)), ("b", (1, 3, 0, 0))]
            .into_iter()
            .map(|(id, (open, overdue, due_soon, held))| {
                let f = BodyFigures {
                    open,
                    overdue,
                    due_soon,
                    held,
                    undecided: 0,
                };
                (id.to_string(), f)
            })
            .collect();
        for (sort, order) in [
            (None, ["b", "a", "c"]),
            (Some("open"), ["a", "b", "c"]),
            (Some("due_soon"), ["a", "b", "c"]),
            (Some("body"), ["a", "b", "c"]),
            (Some("nonsense"), ["b", "a", "c"]),
        ] {
            let ids: Vec<&str> = sorted(&config, &figures, sort)
                .iter()
                .map(|r| r.id)
                .collect();
            assert_eq!(ids, order, "{sort:?}");
        }
        let html = page(&config, &figures, &[], None);
        assert!(html.contains("Орган &lt;А&gt;") && !html.contains("Орган <А>"));
        assert!(
            html.contains("просрочено: <b>3</b>"),
            "the hub's total first"
        );
    }
}
