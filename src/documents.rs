//! Our documents waiting for a person's approval (`[queries]`/`[reports] approval =
//! "operator"`), read from the service's index: what the API lists and the dashboard shows.

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::config::Config;
use crate::store::Store;

/// One document waiting for approval.
#[derive(Debug, Serialize)]
pub struct Waiting {
    pub uid: String,
    pub number: Option<String>,
    pub kind: &'static str,
    pub created: String,
    pub waiting_secs: i64,
    pub state: &'static str,
}

/// The documents waiting for approval whose body `sees` accepts (a hub's client: its
/// bodies'), oldest first.
pub fn awaiting(
    config: &Config,
    store: &Store,
    sees: impl Fn(&str) -> bool,
) -> Result<Vec<Waiting>, String> {
    let setting = (config.approval.queries, config.approval.reports);
    if !setting.0 && !setting.1 {
        return Ok(Vec::new());
    }
    let page = store
        .pending_outputs_oldest(usize::MAX, &|_| true)
        .map_err(|e| e.to_string())?;
    let now = OffsetDateTime::now_utc();
    let mut out = Vec::new();
    for p in page.items {
        let o = p.output;
        let body = crate::model::BodyId::or_main(o.body.as_ref());
        if !medo_core::approval::waits(o.kind, setting) || !sees(body.as_str()) {
            continue;
        }
        if store.approved(&o.name).map_err(|e| e.to_string())? {
            continue;
        }
        let age =
            OffsetDateTime::parse(&o.created, &Rfc3339).map_or(0, |at| (now - at).whole_seconds());
        out.push(Waiting {
            uid: o.message_uid.to_string(),
            number: o.registration.map(|r| r.number),
            kind: o.kind.as_str(),
            created: o.created,
            waiting_secs: age,
            state: "pending",
        });
    }
    Ok(out)
}
