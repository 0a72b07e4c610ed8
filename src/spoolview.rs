//! Operators' view of the spool (`spool status`, `spool list`, `spool show`): what waits in
//! inbound (ready or incomplete), what is being processed, quarantined (with reasons), archived,
//! and what VipNet has not yet picked up from outbound — built read-only from the folders and
//! the journal, so it works while the service runs. Writes nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;

use crate::config::Config;
use crate::journal::{Event, Record};
use crate::spool::{completeness, Completeness, Layout, Reason};

/// One line of `spool list`.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `ready`, `incomplete`, `processing`, `quarantined`, `archived`, `held` (a hub's
    /// package for no body: waits for `appeals assign`), `vanished` (removed from `claimed/`
    /// by someone else), `outbound`, `rejected` (a message of ours the МЭДО operator or the
    /// partner did not accept).
    pub state: &'static str,
    /// The arrival number when the package was claimed; the folder name otherwise.
    pub id: String,
    /// The folder's name as VipNet delivered it (or the outbound folder's name).
    pub name: String,
    pub key: Option<String>,
    pub age_secs: Option<u64>,
    pub detail: Option<String>,
}

fn age(path: &Path) -> Option<u64> {
    let m = std::fs::metadata(path).ok()?.modified().ok()?;
    SystemTime::now()
        .duration_since(m)
        .ok()
        .map(|d| d.as_secs())
}

fn dirs(path: &Path) -> Vec<String> {
    raw_dirs(path).into_iter().map(|(name, _)| name).collect()
}

/// Sub-folders (hidden ones aside) as people read their names (windows-1251 ones decoded),
/// with the path to reach them.
fn raw_dirs(path: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut v: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(path)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .filter(|e| !e.file_name().as_encoded_bytes().starts_with(b"."))
                .map(|e| (crate::wire::text::display_name(&e.file_name()), e.path()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Folders waiting in inbound: `ready` or `incomplete` (with why).
fn inbound_items(layout: &Layout, config: &Config) -> Vec<Item> {
    raw_dirs(&layout.inbound)
        .into_iter()
        .map(|(name, dir)| {
            let (state, detail) = match completeness(&dir, &config.limits) {
                Completeness::Complete => ("ready", None),
                Completeness::Incomplete(why) => ("incomplete", Some(why)),
            };
            Item {
                state,
                id: name.clone(),
                name,
                key: None,
                age_secs: age(&dir),
                detail,
            }
        })
        .collect()
}

/// Our packages VipNet has not picked up yet.
fn outbound_items(layout: &Layout) -> Vec<Item> {
    dirs(&layout.outbound)
        .into_iter()
        .map(|name| Item {
            state: "outbound",
            id: name.clone(),
            age_secs: age(&layout.outbound.join(&name)),
            name,
            key: None,
            detail: Some("VipNet ещё не забрал".into()),
        })
        .collect()
}

/// Every package the spool knows, in every state.
pub fn items(config: &Config) -> Result<Vec<Item>, String> {
    let layout = Layout::new(&config.spool);
    // arrival → (src, key, claim, final dir); one pass, no record kept
    let mut arrivals: BTreeMap<u64, (String, String, String, Option<String>)> = BTreeMap::new();
    let mut rejected = Vec::new();
    let mut held: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let source = crate::postgres::JournalSource::of(config);
    let on_files = matches!(source, crate::postgres::JournalSource::Files(_));
    if !on_files || layout.journal.exists() {
        let report = source.read(|j| {
            j.scan(&mut |r| {
                match &r.event {
                    Event::Received {
                        key, src, claim, ..
                    } => {
                        arrivals.insert(r.seq, (src.clone(), key.to_string(), claim.clone(), None));
                    }
                    Event::Archived { arrival, dir, .. } => {
                        if let Some(a) = arrivals.get_mut(arrival) {
                            a.3 = Some(dir.clone());
                        }
                    }
                    Event::ReceiptReceived {
                        accepted: false, ..
                    } => rejected.extend(rejection(r)),
                    Event::Unrouted {
                        arrival,
                        candidates,
                        ..
                    } => {
                        let names = candidates.iter().map(|c| c.to_string()).collect();
                        held.insert(*arrival, names);
                    }
                    Event::Assigned { arrival, .. } => {
                        held.remove(arrival);
                    }
                    _ => {}
                }
                true
            })
            .map_err(|e| e.to_string())
        })?;
        if let Some(bad) = report.first_bad {
            return Err(bad.to_string());
        }
    }
    let mut out = Vec::new();
    out.extend(inbound_items(&layout, config));
    for (arrival, (src, key, claim, dir)) in &arrivals {
        let (state, path) = match dir {
            Some(d) if held.contains_key(arrival) => ("held", layout.rest(d)),
            None => ("processing", layout.claimed.join(claim)),
            Some(d) if d.starts_with("quarantine/") => ("quarantined", layout.rest(d)),
            Some(d) if d.starts_with("vanished/") => ("vanished", layout.rest(d)),
            Some(d) => ("archived", layout.rest(d)),
        };
        let detail = match state {
            "quarantined" => std::fs::read(path.join("reason.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Reason>(&b).ok())
                .map(|r| format!("{}: {}", r.code, r.message))
                .or_else(|| Some("возвращено во входящие (spool retry)".into())),
            "held" => Some(held_detail(&held[arrival])),
            _ => dir.clone(),
        };
        out.push(Item {
            state,
            id: arrival.to_string(),
            name: src.clone(),
            key: Some(key.clone()),
            age_secs: age(&path),
            detail,
        });
    }
    out.extend(outbound_items(&layout));
    out.extend(rejected);
    Ok(out)
}

/// Why a package is held, and the bodies suggested for it.
fn held_detail(candidates: &[String]) -> String {
    let hint = match candidates {
        [] => String::new(),
        c => format!("; возможно: {}", c.join(", ")),
    };
    format!("адресат не определён{hint} — appeals assign ID --body ОРГАН")
}

/// A receipt that rejected one of our messages, as a line: «отклонено оператором МЭДО» with
/// the code and text, or the partner's «не принято».
pub fn rejection(r: &Record) -> Option<Item> {
    let Event::ReceiptReceived {
        arrival,
        about_uid,
        accepted: false,
        comment,
        by_operator,
        error_code,
        error_file,
        output,
        ..
    } = &r.event
    else {
        return None;
    };
    let text = comment.as_deref().unwrap_or("без пояснения");
    let detail = match by_operator {
        true => format!(
            "отклонено оператором МЭДО (код {}{}): {text}",
            error_code.as_deref().unwrap_or("—"),
            error_file
                .as_deref()
                .map(|f| format!(", файл {f}"))
                .unwrap_or_default()
        ),
        false => format!("не принято получателем: {text}"),
    };
    Some(Item {
        state: "rejected",
        id: arrival.to_string(),
        name: output.clone().unwrap_or_else(|| about_uid.to_string()),
        key: None,
        age_secs: None,
        detail: Some(format!("{detail} — повторно не отправляется")),
    })
}

/// What the running service shows (the dashboard): like [`items`], but from the store and
/// the folders instead of a walk over the whole journal — cost independent of history.
/// Archived arrivals are only counted (second value).
pub fn live_items(
    config: &Config,
    store: &crate::store::Store,
) -> Result<(Vec<Item>, usize), String> {
    let layout = Layout::new(&config.spool);
    let mut out = Vec::new();
    out.extend(inbound_items(&layout, config));
    for a in store.unfinished().map_err(|e| e.to_string())? {
        out.push(Item {
            state: "processing",
            id: a.arrival.to_string(),
            name: a.src.clone(),
            key: Some(a.key.to_string()),
            age_secs: age(&layout.claimed.join(&a.claim)),
            detail: None,
        });
    }
    for name in dirs(&layout.quarantine) {
        let dir = layout.quarantine.join(&name);
        let reason = std::fs::read(dir.join("reason.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Reason>(&b).ok());
        out.push(Item {
            state: "quarantined",
            id: reason
                .as_ref()
                .map_or_else(|| name.clone(), |r| r.arrival.to_string()),
            name: reason
                .as_ref()
                .map_or_else(|| name.clone(), |r| r.original_name.clone()),
            key: reason.as_ref().map(|r| r.key.clone()),
            age_secs: age(&dir),
            detail: reason.map(|r| format!("{}: {}", r.code, r.message)),
        });
    }
    for h in crate::book::Appeals::unrouted(store) {
        let names: Vec<String> = h.candidates.iter().map(|c| c.to_string()).collect();
        out.push(Item {
            state: "held",
            id: h.arrival.to_string(),
            name: h.arrival.to_string(),
            key: Some(h.key.to_string()),
            age_secs: None,
            detail: Some(held_detail(&names)),
        });
    }
    out.extend(outbound_items(&layout));
    let rejections = store.rejections().map_err(|e| e.to_string())?;
    out.extend(rejections.iter().filter_map(rejection));
    // what rests in quarantine or waits for its body is listed, not counted as archived
    let listed = out
        .iter()
        .filter(|i| i.state == "quarantined" || i.state == "held")
        .count();
    let at_rest = store.arrivals_at_rest().map_err(|e| e.to_string())?;
    Ok((out, at_rest.saturating_sub(listed)))
}

/// `spool status`: counts per state and the oldest age in each.
#[derive(Debug, Serialize)]
pub struct Status {
    pub counts: BTreeMap<&'static str, usize>,
    pub oldest_secs: BTreeMap<&'static str, u64>,
}

pub fn status(items: &[Item]) -> Status {
    let mut counts = BTreeMap::new();
    let mut oldest = BTreeMap::new();
    for state in [
        "ready",
        "incomplete",
        "processing",
        "quarantined",
        "archived",
        "held",
        "vanished",
        "outbound",
        "rejected",
    ] {
        counts.insert(state, 0);
    }
    for i in items {
        *counts.entry(i.state).or_insert(0) += 1;
        if let Some(a) = i.age_secs {
            let e = oldest.entry(i.state).or_insert(0);
            *e = (*e).max(a);
        }
    }
    Status {
        counts,
        oldest_secs: oldest,
    }
}

/// Renders items as a table.
pub fn table(items: &[Item]) -> String {
    let mut s = format!(
        "{:<18} {:>8}  {:<28} {:<16} {:>12}  {}\n",
        "СОСТОЯНИЕ", "ID", "ПАПКА", "КЛЮЧ", "ВОЗРАСТ", "ПОДРОБНОСТИ"
    );
    for i in items {
        s.push_str(&format!(
            "{:<18} {:>8}  {:<28} {:<16} {:>12}  {}\n",
            state_label(i.state),
            if i.id == i.name { "-" } else { &i.id },
            i.name,
            i.key
                .as_deref()
                .map(|k| &k[..k.len().min(16)])
                .unwrap_or("-"),
            i.age_secs.map(age_text).unwrap_or_else(|| "-".into()),
            detail_for_people(i)
        ));
    }
    s
}

/// A quarantine's `code: message` as people read it: the code in words first
/// («архив повреждён (bad-zip): …»); `--json` keeps `code: message`.
fn detail_for_people(i: &Item) -> String {
    let detail = i.detail.as_deref().unwrap_or("");
    if i.state != "quarantined" {
        return detail.to_string();
    }
    match detail.split_once(": ") {
        Some((code, rest)) if crate::wire::error::code_in_words(code) != code => {
            format!(
                "{} ({code}): {rest}",
                crate::wire::error::code_in_words(code)
            )
        }
        _ => detail.to_string(),
    }
}

/// A state as operators read it (Russian); `--json`, `--state` and the journal keep the
/// English key.
pub fn state_label(state: &str) -> &'static str {
    match state {
        "ready" => "готов",
        "incomplete" => "не дособран",
        "processing" => "обрабатывается",
        "quarantined" => "в карантине",
        "archived" => "в архиве",
        "held" => "ждёт органа",
        "vanished" => "исчез",
        "outbound" => "ждёт VipNet",
        "rejected" => "отклонено",
        _ => "?",
    }
}

/// An age as people read it: `45 с`, `14 мин 5 с`, `2 ч 14 мин`, `3 дн 2 ч`.
pub fn age_text(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} с"),
        (0, 0, _) => format!("{m} мин {s} с"),
        (0, _, _) => format!("{h} ч {m} мин"),
        _ => format!("{d} дн {h} ч"),
    }
}

/// `spool show ID`: the journal records of one arrival (ID: arrival number or key prefix).
pub fn show(config: &Config, id: &str) -> Result<Vec<Record>, String> {
    let mut arrival: Option<u64> = None;
    let mut out = Vec::new();
    let source = crate::postgres::JournalSource::of(config);
    let report = source.read(|j| {
        j.scan(&mut |r| {
            if arrival.is_none() {
                if let Event::Received { key, .. } = &r.event {
                    if r.seq.to_string() == id || (id.len() >= 8 && key.starts_with(id)) {
                        arrival = Some(r.seq);
                    }
                }
            }
            if arrival.is_some_and(|a| r.seq == a || r.event.arrival() == Some(a)) {
                out.push(r.clone());
            }
            true
        })
        .map_err(|e| e.to_string())
    })?;
    if let Some(bad) = report.first_bad {
        return Err(bad.to_string());
    }
    if arrival.is_none() {
        return Err(format!(
            "нет поступления {id:?} (укажите его номер или не меньше 8 знаков его ключа)"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_ages_read_in_russian() {
        for (secs, want) in [
            (45, "45 с"),
            (845, "14 мин 5 с"),
            (8_040, "2 ч 14 мин"),
            (266_400, "3 дн 2 ч"),
        ] {
            assert_eq!(age_text(secs), want);
        }
        assert_eq!(state_label("archived"), "в архиве");
        assert_eq!(state_label("outbound"), "ждёт VipNet");
    }
}
