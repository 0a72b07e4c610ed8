//! Webhooks: the changes feed pushed to a СЭД as it grows. For each `[[api.clients]]` with a
//! `webhook_url`, one task inside `run` reads the feed after its own cursor (kept in
//! `webhooks/<client>.cursor` of the folder every node reaches — `[spool] shared_dir`, by
//! default state_dir —, replaced atomically after each delivery) and POSTs
//! each item — the feed item's JSON, signed `X-Medo-Signature: sha256=<HMAC-SHA256 of the raw
//! body with the client's secret>`, named `X-Medo-Delivery: <its cursor>` — one at a time, in
//! journal order (so in order per appeal), retrying a failed one with back-off before anything
//! after it. At least once: after a crash the item in flight may come again with the same
//! `X-Medo-Delivery`. A webhook configured anew starts at the feed's current end (the feed
//! has the history). Its state shows in `/metrics` and on the dashboard. Of several
//! gateways on one database only the leader delivers; a node that comes to lead reads the
//! cursor again (where the last leader left it: at least once across a fail-over, too).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::feed::{self, Item};

/// How a client's webhook fares (what `/metrics` and the dashboard show).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookStatus {
    pub delivered: u64,
    pub failures: u64,
    /// The item being retried: since when and the last error.
    pub failing_since: Option<time::OffsetDateTime>,
    pub last_error: Option<String>,
    /// The cursor after the last delivered item.
    pub cursor: String,
}

/// Each webhook client's status, shared with the HTTP handlers.
pub type Statuses = Arc<Mutex<BTreeMap<String, HookStatus>>>;

/// Items one read of the feed hands a webhook.
const BATCH: usize = 100;
/// How long one delivery may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle webhook looks at the feed.
const IDLE: Duration = Duration::from_secs(1);

/// `sha256=<hex>`: the HMAC-SHA256 of `body` with `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One client's webhook, ready to run.
pub struct Hook {
    pub client: String,
    pub url: String,
    pub secret: Vec<u8>,
    /// `webhooks/<client>.cursor` in the shared folder.
    pub cursor_file: PathBuf,
    pub journal: crate::postgres::JournalSource,
    /// The client holds the `dsp` scope (ДСП appeals' details; see `feed::for_scope`).
    pub dsp: bool,
    /// A hub's client of some bodies: only their items (`feed::of_bodies`).
    pub bodies: Option<Vec<medo_model::BodyId>>,
    /// Whether this node delivers now (it leads, or is the only one).
    pub delivers: Delivers,
}

/// Whether a node delivers now (see [`Hook::delivers`]).
pub type Delivers = Arc<dyn Fn() -> bool + Send + Sync>;

impl Hook {
    /// The clients' webhooks of `config`, their secrets read (an unreadable or empty secret
    /// is a start-up error).
    pub fn all(config: &crate::config::Config, delivers: Delivers) -> Result<Vec<Hook>, String> {
        let layout = crate::spool::Layout::new(&config.spool);
        let mut hooks = Vec::new();
        for c in &config.api_clients {
            let Some(w) = &c.webhook else { continue };
            let secret = std::fs::read(&w.secret_file).map_err(|e| {
                format!(
                    "[[api.clients]] {:?} webhook_secret_file {}: {e}",
                    c.name,
                    w.secret_file.display()
                )
            })?;
            let secret = secret.trim_ascii().to_vec();
            if secret.is_empty() {
                return Err(format!(
                    "[[api.clients]] {:?} webhook_secret_file {} is empty",
                    c.name,
                    w.secret_file.display()
                ));
            }
            hooks.push(Hook {
                dsp: c.scopes.dsp,
                bodies: c.bodies.clone(),
                client: c.name.clone(),
                url: w.url.clone(),
                secret,
                delivers: delivers.clone(),
                cursor_file: layout
                    .shared_dir
                    .join("webhooks")
                    .join(format!("{}.cursor", c.name)),
                journal: crate::postgres::JournalSource::of(config),
            });
        }
        Ok(hooks)
    }
}

/// The durable end of the feed: the journal position after what the store has applied.
fn durable(store: &crate::store::Store) -> Result<u64, String> {
    let applied = store.applied_seq().map_err(|e| e.to_string())?;
    Ok(applied.map_or(0, |s| s + 1))
}

/// The kept cursor, or — a webhook new here — the feed's current end (kept at once).
fn start_cursor(cursor_file: &Path, store: &crate::store::Store) -> Result<u64, String> {
    match std::fs::read_to_string(cursor_file) {
        Ok(text) => feed::parse_cursor(text.trim())
            .ok_or_else(|| format!("{}: not a cursor", cursor_file.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let end = durable(store)?;
            keep_cursor(cursor_file, &feed::cursor(end)).map_err(|e| e.to_string())?;
            Ok(end)
        }
        Err(e) => Err(format!("{}: {e}", cursor_file.display())),
    }
}

/// Replaces the cursor file atomically (written, synced, renamed, the folder synced).
fn keep_cursor(path: &Path, cursor: &str) -> std::io::Result<()> {
    let dir = path.parent().expect("a cursor file has a folder");
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(cursor.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Runs one webhook until `stop` resolves.
pub async fn run(
    hook: Hook,
    store: crate::store::Store,
    statuses: Statuses,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(stop);
    tokio::select! {
        _ = &mut stop => Ok(()),
        r = deliver_forever(&hook, &store, &statuses) => r,
    }
}

async fn deliver_forever(
    hook: &Hook,
    store: &crate::store::Store,
    statuses: &Statuses,
) -> std::io::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(concat!("medo-gateway/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(std::io::Error::other)?;
    // read when this node comes to deliver: another may have moved it meanwhile
    let mut cursor: Option<u64> = None;
    loop {
        if !(hook.delivers)() {
            cursor = None;
            tokio::time::sleep(IDLE).await;
            continue;
        }
        let mut from = match cursor {
            Some(at) => at,
            None => start_at(hook, store, statuses).await,
        };
        let (journal, s, dsp) = (hook.journal.clone(), store.clone(), hook.dsp);
        let bodies = hook.bodies.clone();
        let page = tokio::task::spawn_blocking(move || {
            let end = durable(&s)?;
            let mut page = feed::page_in(&journal, from, end, BATCH)?;
            feed::of_bodies(&mut page, bodies.as_deref(), &s);
            feed::for_scope(&mut page, dsp, |id| {
                crate::book::Appeals::appeal(&s, id).is_some_and(|a| a.restricted)
            });
            feed::with_numbers(&mut page, |id| {
                crate::book::Appeals::appeal(&s, id).and_then(|a| a.number)
            });
            Ok::<_, String>(page)
        })
        .await
        .map_err(std::io::Error::other)?;
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(client = %hook.client, error = %e, "webhook cannot read the feed");
                tokio::time::sleep(IDLE * 10).await;
                continue;
            }
        };
        for item in &page.items {
            deliver(&client, hook, item, statuses).await;
            from = advance(hook, &item.cursor, statuses).await?;
        }
        if page.items.is_empty() {
            if feed::parse_cursor(&page.next) != Some(from) {
                from = advance(hook, &page.next, statuses).await?;
            }
            tokio::time::sleep(IDLE).await;
        }
        cursor = Some(from);
    }
}

/// The cursor a webhook delivers from (kept, or the feed's end for a new one), tried until
/// it reads.
async fn start_at(hook: &Hook, store: &crate::store::Store, statuses: &Statuses) -> u64 {
    let from = loop {
        let (file, s) = (hook.cursor_file.clone(), store.clone());
        match tokio::task::spawn_blocking(move || start_cursor(&file, &s)).await {
            Ok(Ok(from)) => break from,
            Ok(Err(e)) => {
                tracing::error!(client = %hook.client, error = %e, "webhook cannot start")
            }
            Err(e) => tracing::error!(client = %hook.client, error = %e, "webhook cannot start"),
        }
        tokio::time::sleep(IDLE * 10).await;
    };
    set(statuses, &hook.client, |s| s.cursor = feed::cursor(from));
    from
}

/// Keeps `cursor` as delivered; the position it names.
async fn advance(hook: &Hook, cursor: &str, statuses: &Statuses) -> std::io::Result<u64> {
    let (path, text) = (hook.cursor_file.clone(), cursor.to_string());
    tokio::task::spawn_blocking(move || keep_cursor(&path, &text))
        .await
        .map_err(std::io::Error::other)??;
    set(statuses, &hook.client, |s| s.cursor = cursor.to_string());
    Ok(feed::parse_cursor(cursor).unwrap_or_default())
}

fn set(statuses: &Statuses, client: &str, change: impl FnOnce(&mut HookStatus)) {
    let mut map = statuses.lock().expect("webhook statuses lock");
    change(map.entry(client.to_string()).or_default());
}

/// POSTs one item until the СЭД takes it (2xx), backing off between tries.
async fn deliver(client: &reqwest::Client, hook: &Hook, item: &Item, statuses: &Statuses) {
    let body = serde_json::to_vec(item).expect("a feed item serialises");
    let signature = signature(&hook.secret, &body);
    let mut tries = 0u32;
    loop {
        let sent = client
            .post(&hook.url)
            .header("Content-Type", "application/json")
            .header("X-Medo-Signature", &signature)
            .header("X-Medo-Delivery", &item.cursor)
            .header("X-Medo-Event", item.change)
            .body(body.clone())
            .send()
            .await;
        let why = match sent {
            Ok(r) if r.status().is_success() => {
                if tries > 0 {
                    tracing::info!(client = %hook.client, tries, "webhook delivers again");
                }
                set(statuses, &hook.client, |s| {
                    s.delivered += 1;
                    s.failing_since = None;
                    s.last_error = None;
                });
                return;
            }
            Ok(r) => format!("HTTP {}", r.status().as_u16()),
            Err(e) => e.without_url().to_string(),
        };
        tries += 1;
        if tries == 1 {
            tracing::warn!(client = %hook.client, delivery = %item.cursor, error = %why, "webhook delivery failed; retrying with back-off");
        }
        set(statuses, &hook.client, |s| {
            s.failures += 1;
            s.last_error = Some(why);
            s.failing_since
                .get_or_insert_with(time::OffsetDateTime::now_utc);
        });
        tokio::time::sleep(medo_stdx::backoff(tries)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_the_raw_body() {
        // RFC 4231, test case 2
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
