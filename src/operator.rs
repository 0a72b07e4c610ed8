//! Operators' view of appeals: listings with deadlines and the details of one appeal, built
//! read-only from the journal (so they work while the service runs) and, for the annotation
//! and files, from the archived package. Touches nothing it does not read.

use std::path::Path;

use serde::Serialize;
use time::{Date, OffsetDateTime};

use crate::book::{Appeal, AppealBook, AppealState, Appeals};
use crate::config::Config;
use crate::deadlines::DueDates;
use crate::model::SignatureCheck;
use crate::wire::package::read_package;
use crate::wire::time::parse_date;

/// One line of `appeals list`.
#[derive(Debug, Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub appeal: Appeal,
    pub status: &'static str,
    /// The ССТУ.РФ per-question status alongside.
    pub sstu_status: Option<&'static str>,
    pub due: DueDates,
    /// The next deadline that matters now, and whether it has passed.
    pub next_due: Option<String>,
    pub overdue: bool,
    /// Registered, past its 7-day redirect period with no step (`due::undecided`).
    pub undecided: bool,
}

/// The static ССТУ status name for a result status (the set is fixed).
fn sstu_static(s: &str) -> &'static str {
    crate::control::RESULTS
        .iter()
        .map(|r| r.2)
        .find(|x| *x == s)
        .unwrap_or("Answered")
}

/// An appeal's deadlines and the one that matters now (`None` once it is closed).
pub fn deadlines(
    f: &crate::book::DeadlineFacts,
    config: &Config,
    today: Date,
) -> (DueDates, Option<Date>) {
    medo_core::due::deadlines(f, &config.policy, today)
}

/// Open appeals past their deadline, and those due within `soon_days` (not yet past),
/// found from the deadline facts; only those appeals are read.
pub fn due_lists(
    book: &dyn Appeals,
    config: &Config,
    today: Date,
    soon_days: i64,
) -> (Vec<Row>, Vec<Row>) {
    let ((overdue, _), (soon, _)) = due_lists_capped(book, config, today, soon_days, usize::MAX);
    (overdue, soon)
}

/// [`due_lists`] with at most `max` rows each, and how many there are in all (the dashboard:
/// a page of bounded size however many appeals are late).
pub fn due_lists_capped(
    book: &dyn Appeals,
    config: &Config,
    today: Date,
    soon_days: i64,
    max: usize,
) -> ((Vec<Row>, usize), (Vec<Row>, usize)) {
    let (mut overdue, mut soon) = ((Vec::new(), 0), (Vec::new(), 0));
    book.each_open_deadline(&mut |id, f| {
        let (_, next) = deadlines(f, config, today);
        let Some(next) = next else { return };
        let (list, count) = if today > next {
            (&mut overdue.0, &mut overdue.1)
        } else if next <= today + time::Duration::days(soon_days) {
            (&mut soon.0, &mut soon.1)
        } else {
            return;
        };
        *count += 1;
        if list.len() < max {
            if let Some(a) = book.appeal(id) {
                list.push(row(&a, config, today));
            }
        }
    });
    (overdue, soon)
}

/// How many open appeals are past their deadline (from the deadline facts alone).
pub fn overdue_count(book: &dyn Appeals, config: &Config, today: Date) -> u64 {
    medo_core::due::overdue_count(book, &config.policy, today)
}

/// Deadlines of an appeal and the one that matters now.
pub fn row(a: &Appeal, config: &Config, today: Date) -> Row {
    let facts = crate::book::DeadlineFacts::from(a);
    let (due, next) = deadlines(&facts, config, today);
    Row {
        undecided: medo_core::due::undecided(&facts, &config.policy, today),
        appeal: a.clone(),
        status: status_label(a),
        sstu_status: a
            .sstu_result
            .as_deref()
            .map(sstu_static)
            .or(a.state.sstu_status()),
        due,
        next_due: next.map(crate::wire::time::format_date),
        overdue: next.is_some_and(|d| today > d),
    }
}

/// The status as people read it — and whether УРОГ has been told: a decision whose notice
/// has not gone out yet says so («зарегистрировано, уведомление не отправлено»).
fn status_label(a: &Appeal) -> &'static str {
    match (a.state, a.unsent.is_empty()) {
        (AppealState::Registered, false) => "зарегистрировано, уведомление не отправлено",
        (AppealState::Refused, false) => "отказано в регистрации, уведомление не отправлено",
        (state, _) => state.label(),
    }
}

/// Appeals one step of a page reads at a time.
const PAGE_SCAN: usize = 1_000;

/// A page of `appeals list`: the rows after the appeal `after` (id order) that pass the
/// filters (as [`list`]), at most `limit`; and the id to continue after, when more follow.
/// What `appeals list` keeps: the overdue ones, those due within some days, one body's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filters<'a> {
    pub overdue: bool,
    /// Only those past the 7-day redirect period with no step.
    pub undecided: bool,
    pub within: Option<i64>,
    pub body: Option<&'a str>,
}

pub fn page(
    book: &dyn Appeals,
    config: &Config,
    today: Date,
    filters: Filters<'_>,
    after: u64,
    limit: usize,
) -> (Vec<Row>, Option<u64>) {
    let mut rows = Vec::new();
    let mut last = after;
    // one body's (a hub's --body): its own index, not a walk over the others
    let after = |from: u64, n: usize| match filters.body {
        Some(body) => book.after_of(body, from, n),
        None => book.after(from, n),
    };
    loop {
        let chunk = after(last, (limit + 1).clamp(1, PAGE_SCAN));
        if chunk.is_empty() {
            return (rows, None);
        }
        for a in &chunk {
            last = a.id;
            rows.extend(list_one(a, config, today, filters));
            if rows.len() == limit {
                let more = !after(last, 1).is_empty();
                return (rows, more.then_some(last));
            }
        }
    }
}

/// An appeal's row if it passes the filters of `appeals list`.
fn list_one(a: &Appeal, config: &Config, today: Date, filters: Filters<'_>) -> Option<Row> {
    let Filters {
        overdue,
        undecided,
        within,
        body,
    } = filters;
    if body.is_some_and(|b| a.body != b) {
        return None;
    }
    let r = row(a, config, today);
    let due_soon = within.is_none_or(|days| {
        r.next_due
            .as_deref()
            .and_then(parse_date)
            .is_some_and(|d| d >= today && d <= today + time::Duration::days(days))
    });
    ((!overdue || r.overdue) && (!undecided || r.undecided) && due_soon).then_some(r)
}

/// `appeals list`: every appeal, or the overdue ones, or those due within `within` days.
pub fn list(book: &dyn Appeals, config: &Config, today: Date, filters: Filters<'_>) -> Vec<Row> {
    let mut rows = Vec::new();
    book.each(&mut |a| rows.extend(list_one(a, config, today, filters)));
    rows
}

/// What stands out about an appeal (the CLI's and the dashboard's «отметки»): overdue, ДСП,
/// waiting for an operator and why, delivered again by УРОГ.
pub fn marks(r: &Row) -> Vec<String> {
    let a = &r.appeal;
    let mut marks = Vec::new();
    if r.overdue {
        marks.push("ПРОСРОЧЕНО".to_string());
    }
    if r.undecided {
        marks.push("7 дней без решения: в работу или переадресовать".to_string());
    }
    if !a.unsent.is_empty() {
        marks.push(format!("не отправлено УРОГ: {}", a.unsent.len()));
    }
    if a.restricted {
        marks.push("ДСП".into());
    }
    if let Some(h) = &a.held {
        marks.push(format!("ждёт оператора: {}", held_in_words(h)));
    }
    if !a.redeliveries.is_empty() {
        marks.push(format!("повторная доставка: {}", a.redeliveries.len()));
    }
    marks
}

/// Renders rows as a table.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:>6}  {:<18} {:<10}  {:<24} {:<14} {:<10}  {}\n",
        "ID", "УРОГ", "ОТ", "СТАТУС", "НАШ НОМЕР", "СРОК", "ОТМЕТКИ"
    );
    for r in rows {
        let a = &r.appeal;
        let marks = marks(r);
        out.push_str(&format!(
            "{:>6}  {:<18} {:<10}  {:<24} {:<14} {:<10}  {}\n",
            a.id,
            a.urog_number,
            a.urog_date.as_deref().unwrap_or("-"),
            r.status,
            a.number.as_deref().unwrap_or("-"),
            r.next_due.as_deref().unwrap_or("-"),
            marks.join(", ")
        ));
    }
    out
}

/// Why an appeal waits for an operator, as people read it (the journal keeps the
/// machine's words: `manual registration mode`, `signature X did not verify`).
pub fn held_in_words(held: &str) -> String {
    if held == "manual registration mode" || held == "manual" {
        return "ручной режим регистрации".into();
    }
    if let Some(sig) = held
        .strip_prefix("signature ")
        .and_then(|r| r.strip_suffix(" did not verify"))
    {
        return format!("подпись {sig} не прошла проверку");
    }
    held.to_string()
}

/// A signature's check, as people read it (`verified`, `invalid`, `not checked`, `missing`
/// in the journal and `--json`).
pub fn signature_in_words(status: SignatureCheck) -> &'static str {
    match status {
        SignatureCheck::Verified => "подпись верна",
        SignatureCheck::Invalid => "подпись не прошла проверку",
        SignatureCheck::NotChecked => "не проверялась",
        SignatureCheck::Missing => "нет подписи",
    }
}

/// What `appeals show` prints.
#[derive(Debug, Serialize)]
pub struct Details {
    #[serde(flatten)]
    pub row: Row,
    pub kind: Option<String>,
    pub annotation: Option<String>,
    /// Who signed the cover letter (post and name, as the message writes them).
    pub signatories: Vec<String>,
    pub files: Vec<String>,
    pub pin: Option<String>,
    /// Earlier appeals this one cites (a repeat appeal), and later ones citing it.
    pub cites: Vec<Related>,
    pub cited_by: Vec<Related>,
}

/// Another appeal an appeal is linked to.
#[derive(Debug, Clone, Serialize)]
pub struct Related {
    pub id: u64,
    pub number: Option<String>,
    pub urog_number: String,
}

fn related(book: &dyn Appeals, ids: &[u64]) -> Vec<Related> {
    ids.iter()
        .filter_map(|id| book.appeal(*id))
        .map(|a| Related {
            id: a.id,
            number: a.number,
            urog_number: a.urog_number,
        })
        .collect()
}

/// Details of one appeal; the annotation and files come from its archived package.
pub fn details(
    a: &Appeal,
    book: &dyn Appeals,
    config: &Config,
    today: Date,
    pin_secret: Option<&[u8]>,
) -> Details {
    let package = a.dir.as_ref().and_then(|d| {
        let dir = crate::spool::Layout::new(&config.spool).rest(d);
        read_package(&dir, &config.limits).ok()
    });
    let facts = package
        .as_ref()
        .and_then(|p| crate::appeals::facts(p, &|_| None));
    Details {
        row: row(a, config, today),
        kind: facts.as_ref().and_then(|f| f.kind.clone()),
        annotation: facts.as_ref().and_then(|f| f.annotation.clone()),
        signatories: facts
            .as_ref()
            .map(|f| f.signatories.clone())
            .unwrap_or_default(),
        files: facts.map(|f| f.files).unwrap_or_default(),
        // every appeal that has our number has a PIN
        pin: pin_secret
            .filter(|_| a.number.is_some())
            .map(|s| crate::appeals::issued_pin(s, a.id, a.pin_hash.as_deref())),
        cites: related(book, &a.cites),
        cited_by: related(book, &a.cited_by),
    }
}

/// Renders details for people.
pub fn show_text(d: &Details, config: &Config) -> String {
    let a = &d.row.appeal;
    let mut s = String::new();
    let mut line = |k: &str, v: String| s.push_str(&format!("{k:<22}{v}\n"));
    line("Обращение", format!("{} (внутренний номер)", a.id));
    line(
        "Статус",
        format!(
            "{}{}",
            d.row.status,
            d.row
                .sstu_status
                .map(|s| format!(" (ССТУ: {s})"))
                .unwrap_or_default()
        ),
    );
    line(
        "Сопроводительное",
        format!(
            "{}{}",
            a.urog_number,
            a.urog_date
                .as_deref()
                .map(|x| format!(" от {x}"))
                .unwrap_or_default()
        ),
    );
    if let Some(o) = &a.urog_organization {
        line("Отправитель", o.clone());
    }
    if let Some(n) = &a.number {
        line(
            "Регистрация",
            format!("{n} от {}", a.registered_on.as_deref().unwrap_or("?")),
        );
    }
    if let Some(r) = &a.reason {
        line(
            "Отказ",
            format!(
                "{r}{}",
                a.comment
                    .as_deref()
                    .map(|c| format!(" — {c}"))
                    .unwrap_or_default()
            ),
        );
    }
    if let Some(h) = &a.held {
        line("Ждёт оператора", held_in_words(h));
    }
    let shown = |r: &Related| {
        let ours = r
            .number
            .as_deref()
            .map(|n| format!("{n}, "))
            .unwrap_or_default();
        format!("{ours}{} (внутренний номер {})", r.urog_number, r.id)
    };
    for r in &d.cites {
        line("Повторное обращение к", shown(r));
    }
    for r in &d.cited_by {
        line("На него ссылается", shown(r));
    }
    if let Some(e) = &a.executor {
        line("Исполнитель", e.clone());
    }
    if let Some(x) = &a.extended_to {
        line("Продлено до", x.clone());
    }
    if let Some(t) = &a.redirected_to {
        line("Направлено", t.clone());
    }
    if let Some(r) = &a.result {
        line(
            "Результат",
            crate::control::result(r).map_or(r.clone(), |(l, _)| l.to_string()),
        );
    }
    if a.restricted {
        line(
            "Гриф",
            "ДСП (информация ограниченного распространения)".into(),
        );
    }
    if let Some(k) = &d.kind {
        line("Вид", k.clone());
    }
    if let Some(t) = &d.annotation {
        line("Содержание", t.clone());
    }
    if !d.files.is_empty() {
        line("Файлы", d.files.join(", "));
    }
    for sig in &a.signatures {
        line(
            "Подпись",
            format!(
                "{} → {} ({}, {})",
                sig.signature,
                sig.document,
                sig.encoding,
                signature_in_words(sig.status)
            ),
        );
    }
    line(
        "Зарегистрировать до",
        crate::wire::time::format_date(d.row.due.register_by),
    );
    if let Some(x) = d.row.due.redirect_by {
        line("Переадресовать до", crate::wire::time::format_date(x));
    }
    if let Some(x) = d.row.due.answer_by {
        line("Ответить до", crate::wire::time::format_date(x));
    }
    if let Some(p) = &d.pin {
        line("PIN заявителя", p.clone());
    }
    if let Some(dir) = &a.dir {
        line("Пакет", dir.clone());
    }
    s.push_str("История:\n");
    for (ts, what) in &a.history {
        s.push_str(&format!("  {}  {what}\n", journal_time(ts, config)));
    }
    s
}

/// A moment as people here read it: local time of the configured zone, to the second, with
/// the zone as Russians name it — `2026-11-30 03:00:54 МСК`, `… МСК+2` (Yekaterinburg),
/// `… UTC+05:30` for an offset no Russian zone has.
pub fn local_time(t: OffsetDateTime, config: &Config) -> String {
    let local = t.to_offset(config.policy.utc_offset);
    let (h, m, _) = config.policy.utc_offset.as_hms();
    let zone = match (h - 3, m) {
        (0, 0) => "МСК".to_string(),
        (d, 0) if d > 0 => format!("МСК+{d}"),
        (d, 0) => format!("МСК−{}", -d),
        _ => format!("UTC{:+03}:{:02}", h, m.abs()),
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {zone}",
        local.year(),
        u8::from(local.month()),
        local.day(),
        local.hour(),
        local.minute(),
        local.second()
    )
}

/// A journal time (RFC 3339, UTC) as [`local_time`]; text that is not one is shown as is.
pub fn journal_time(ts: &str, config: &Config) -> String {
    OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .map_or_else(|_| ts.to_string(), |t| local_time(t, config))
}

/// Today in the configured offset.
pub fn today(config: &Config) -> Date {
    OffsetDateTime::now_utc()
        .to_offset(config.policy.utc_offset)
        .date()
}

/// Loads the book from the configured journal.
pub fn load(config: &Config) -> Result<AppealBook, String> {
    if let Some(db) = crate::postgres::journal(config)? {
        return fold_book(&db).map_err(|e| e.to_string());
    }
    let journal = config.spool.state_dir.join("journal");
    if !journal.exists() {
        return Ok(AppealBook::default());
    }
    load_book(&journal).map_err(|e| e.to_string())
}

/// The PIN secret, if the state (on PostgreSQL: the database) has one.
pub fn pin_secret(config: &Config) -> Option<Vec<u8>> {
    if let crate::config::Storage::Postgres { url, .. } = &config.storage {
        let mut keys = medo_pg::backend::Keys::open(url.expose()).ok()?;
        return keys.get("pin").ok().flatten();
    }
    std::fs::read(Path::new(&config.spool.state_dir).join("pin.key")).ok()
}

/// Where applicant cards live (personal data: outside the journal, mode 0600).
fn card_path(config: &Config, appeal: u64) -> std::path::PathBuf {
    config
        .spool
        .shared_root()
        .join("cards")
        .join(format!("{appeal}.json"))
}

/// Saves an applicant card for the ССТУ.РФ export.
pub fn write_card(config: &Config, appeal: u64, card: &crate::sstu::Card) -> Result<(), String> {
    let path = card_path(config, appeal);
    let dir = path.parent().expect("cards/ has a parent");
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    std::io::Write::write_all(
        &mut f,
        &serde_json::to_vec_pretty(card).expect("cards serialise"),
    )
    .map_err(|e| e.to_string())
}

fn read_card(config: &Config, appeal: u64) -> Option<crate::sstu::Card> {
    std::fs::read(card_path(config, appeal))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// What `sstu export` did.
#[derive(Debug, Default, Serialize)]
pub struct ExportReport {
    pub written: Vec<String>,
    /// appeal id → why it was not written
    pub invalid: Vec<(u64, Vec<crate::sstu::Problem>)>,
    pub archives: Vec<String>,
}

/// Largest ZIP part of an export (ССТУ.РФ accepts archives up to 50 MB).
pub const SSTU_ZIP_PART_BYTES: usize = 50 * 1024 * 1024;

/// Writes one JSON per exportable appeal into `out` (and, with `zip`, packs them into parts of
/// at most 50 MB); appeals that fail validation are reported, not written.
pub fn sstu_export(
    config: &Config,
    book: &dyn Appeals,
    out: &Path,
    zip: bool,
) -> Result<ExportReport, String> {
    let department = config
        .sstu_department_id
        .as_deref()
        .ok_or("set [sstu] department_id (our body's id in the ССТУ.РФ directory)")?;
    // names, addresses and e-mails: a folder only its owner enters (0700 when we make it),
    // files only its owner reads (0600)
    private_dir(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut report = ExportReport::default();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for a in book
        .all()
        .iter()
        .filter(|a| a.state != AppealState::Refused)
    {
        let answer_bytes = a.answer_file.as_ref().and_then(|f| {
            std::fs::read(
                config
                    .spool
                    .shared_root()
                    .join(crate::model::kept_path(a.id, f)),
            )
            .ok()
        });
        let answer = match (&a.answer_file, &answer_bytes) {
            (Some(name), Some(bytes)) => Some(crate::sstu::Answer { name, bytes }),
            _ => None,
        };
        let transfer = a
            .transfer
            .as_ref()
            .map(|(d, t, n)| (d.as_str(), t.as_str(), n.as_str()));
        match crate::sstu::request(
            a,
            read_card(config, a.id).as_ref(),
            department,
            a.answered_on.as_deref(),
            transfer,
            answer,
            config.policy.utc_offset,
        ) {
            Ok(json) => {
                let name = format!("appeal-{}.json", a.id);
                let bytes = serde_json::to_vec_pretty(&json).expect("json serialises");
                private_file(&out.join(&name))
                    .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes))
                    .map_err(|e| format!("{name}: {e}"))?;
                report.written.push(name.clone());
                files.push((name, bytes));
            }
            Err(problems) => report.invalid.push((a.id, problems)),
        }
    }
    if zip {
        let mut part: Vec<(String, Vec<u8>)> = Vec::new();
        let mut size = 0;
        let flush =
            |part: &mut Vec<(String, Vec<u8>)>, report: &mut ExportReport| -> Result<(), String> {
                if part.is_empty() {
                    return Ok(());
                }
                let name = format!("sstu-{:03}.zip", report.archives.len() + 1);
                let f = private_file(&out.join(&name)).map_err(|e| format!("{name}: {e}"))?;
                crate::wire::container::write_zip(f, part).map_err(|e| format!("{name}: {e}"))?;
                report.archives.push(name);
                part.clear();
                Ok(())
            };
        for (name, bytes) in files {
            // JSON compresses well; counting raw bytes keeps every part under the limit
            if size + bytes.len() > SSTU_ZIP_PART_BYTES {
                flush(&mut part, &mut report)?;
                size = 0;
            }
            size += bytes.len();
            part.push((name, bytes));
        }
        flush(&mut part, &mut report)?;
    }
    Ok(report)
}

/// Creates `dir` (and its parents) with mode 0700 where it does not exist yet.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// A file only its owner reads and writes (0600), created or truncated.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let f = options.open(path)?;
    // an existing file keeps its mode on open: tighten it
    #[cfg(unix)]
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(f)
}

/// The appeal book folded from the whole journal in the folder `journal`.
pub fn load_book(journal: &Path) -> Result<AppealBook, crate::journal::JournalError> {
    fold_book(&crate::journal::Folder::new(journal))
}

/// The appeal book folded from a whole journal (stops with an error at a bad record).
pub fn fold_book(
    journal: &dyn crate::JournalRead,
) -> Result<AppealBook, crate::journal::JournalError> {
    let mut book = AppealBook::default();
    journal.fold_all(&mut |r| book.apply(r))?;
    Ok(book)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::journal::{Event, Record, GENESIS};

    /// An appeal received at `ts`, waiting for an operator (manual mode).
    pub(crate) fn received(id: u64, ts: &str) -> Record {
        Record::new(
            id,
            ts.into(),
            GENESIS.into(),
            Event::AppealReceived {
                appeal: id,
                key: format!("k{id}").into(),
                urog_number: format!("А26-02-{id}").into(),
                urog_number_norm: format!("А26-02-{id}").into(),
                urog_date: None,
                urog_organization: None,
                document_uid: format!("d{id}").into(),
                source_uid: "s".into(),
                format: crate::wire::message::Format::V22,
                restricted: false,
                signatures: Vec::new(),
                held: Some("manual".into()),
                cites: Vec::new(),
                files: Vec::new(),
                body: None,
                redirected_from: None,
                via: None,
            },
        )
    }

    #[test]
    fn people_read_local_time_with_the_zone_as_russians_name_it() {
        let mut config =
            Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/gateway.toml"))
                .unwrap();
        let t = time::macros::datetime!(2026-11-30 00:00:54.123456 UTC);
        for (offset, want) in [
            ((3, 0), "2026-11-30 03:00:54 МСК"),
            ((5, 0), "2026-11-30 05:00:54 МСК+2"),
            ((2, 0), "2026-11-30 02:00:54 МСК−1"),
            ((12, 0), "2026-11-30 12:00:54 МСК+9"),
            ((5, 30), "2026-11-30 05:30:54 UTC+05:30"),
        ] {
            config.policy.utc_offset = time::UtcOffset::from_hms(offset.0, offset.1, 0).unwrap();
            assert_eq!(local_time(t, &config), want);
        }
    }

    #[test]
    fn due_lists_find_overdue_and_due_soon_from_the_deadline_facts() {
        let config =
            Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/gateway.toml"))
                .unwrap();
        let mut book = AppealBook::default();
        // waiting for registration since 1 November: 3 days to register → overdue
        book.apply(&received(1, "2026-11-02T09:00:00Z"));
        // received yesterday: registration due within 3 days
        book.apply(&received(2, "2026-11-22T09:00:00Z"));
        // registered on the 20th: the answer is due in December → neither list
        book.apply(&received(3, "2026-11-20T09:00:00Z"));
        book.apply(&Record::new(
            4,
            "2026-11-20T10:00:00Z".into(),
            GENESIS.into(),
            Event::AppealRegistered {
                appeal: 3,
                number: "ОГ-1/26".into(),
                year: 2026,
                year_seq: 1,
                date: crate::model::Day::parse("2026-11-20").unwrap(),
                pin_hash: "p".into(),
                by: crate::model::DecidedBy::Auto,
                outputs: Vec::new(),
                overrides: None,
                comment: None,
                operator: None,
                command: None,
            },
        ));
        let today = time::macros::date!(2026 - 11 - 23);
        let (overdue, soon) = due_lists(&book, &config, today, 3);
        let ids = |rows: &[Row]| rows.iter().map(|r| r.appeal.id).collect::<Vec<_>>();
        assert_eq!((ids(&overdue), ids(&soon)), (vec![1], vec![2]));
        assert!(overdue[0].overdue && !soon[0].overdue);
        assert_eq!(overdue_count(&book, &config, today), 1);
    }
}
