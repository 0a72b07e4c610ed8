//! Configuration: TOML file → raw serde struct → validated [`Config`]. Reads only the config
//! file it is given. The validated type has no `Default`: every value is either from the file
//! or an explicit, documented default applied here.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use medo_core::deadlines::{Calendar, DayPolicy};
use medo_wire::message::{Format, Sender};
use medo_wire::read::is_guid;
use medo_wire::time::parse_date;
use medo_wire::Limits;

mod approval;
mod bodies;
mod invalid;
mod signing;
mod smtp;
mod storage;

pub use approval::Approval;
pub use bodies::MAX_BODIES;
pub use invalid::Invalid;
pub use signing::Signing;
pub use smtp::{Smtp, SmtpTls};
pub use storage::{DatabaseUrl, Storage};

/// Errors reading or validating the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("не удалось прочитать файл настроек {}: {}{}", path.display(), medo_stdx::words::io(source), read_hint(source))]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("файл настроек {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// One key's value is wrong.
    #[error("файл настроек {path}: {problem}")]
    Key { path: PathBuf, problem: Invalid },
}

/// What to do about a config that cannot be read.
fn read_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            " — запустите от имени пользователя службы (sudo -u medo-gateway medo-gateway …) или от root"
        }
        std::io::ErrorKind::NotFound => " — укажите файл: --config ФАЙЛ",
        _ => "",
    }
}

/// The calendar in force: the policy, the configured holidays and the production calendar's
/// days off and working weekends; and the years whose file is provisional.
fn calendar(registration: &RawRegistration) -> Result<(Calendar, Vec<i32>), Invalid> {
    let mut holidays = registration
        .holidays
        .iter()
        .map(|h| parse_date(h).ok_or_else(|| Invalid::Holiday(h.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    let (days_off, working_weekends, provisional) =
        production_calendar(registration.calendar_dir.as_deref())?;
    holidays.extend(days_off);
    let calendar = Calendar {
        policy: registration.days.unwrap_or_default(),
        holidays,
        working_weekends,
    };
    Ok((calendar, provisional))
}

/// A numbering template (`default` when unset): it must contain `{seq}`.
fn template(value: Option<String>, default: &str, key: &'static str) -> Result<String, Invalid> {
    let t = value.unwrap_or_else(|| default.into());
    match t.contains("{seq}") || t.contains("{seq:") {
        true => Ok(t),
        false => Err(Invalid::NoSeq { key }),
    }
}

fn partners(raw: Vec<RawPartner>) -> Result<Vec<PartnerConfig>, Invalid> {
    raw.into_iter()
        .map(|p| {
            if !is_guid(p.uid.trim()) {
                return Err(Invalid::PartnerUid { name: p.name });
            }
            let format = match p.format.as_deref().unwrap_or("mirror") {
                "mirror" => ReplyFormat::Mirror,
                f => {
                    ReplyFormat::Fixed(Format::parse(f).ok_or_else(|| Invalid::PartnerFormat {
                        name: p.name.clone(),
                        format: f.to_string(),
                    })?)
                }
            };
            Ok(PartnerConfig {
                name: p.name,
                uid: p.uid.trim().to_lowercase(),
                transport_address: p.transport_address,
                role: p.role.unwrap_or_else(|| "other".into()),
                format,
                signer_names: p
                    .signer_names
                    .into_iter()
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .collect(),
            })
        })
        .collect()
}

/// `[gateway] utc_offset` (default Moscow time), within the zones people live in: UTC−12 …
/// UTC+14.
fn utc_offset(text: Option<&str>) -> Result<time::UtcOffset, Invalid> {
    let text = text.unwrap_or("+03:00");
    time::UtcOffset::parse(
        text,
        time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]"),
    )
    .ok()
    .filter(|o| (-12 * 3600..=14 * 3600).contains(&o.whole_seconds()))
    .ok_or_else(|| Invalid::UtcOffset(text.to_string()))
}

/// Limits and spool settings that make no sense as 0 (refused, not clamped).
fn no_zeros(limits: &Limits, spool: &RawSpool) -> Result<(), Invalid> {
    for (key, value) in [
        ("[limits] max_xml_depth", limits.max_xml_depth as u64),
        ("[limits] max_zip_entries", limits.max_zip_entries as u64),
        ("[limits] max_message_bytes", limits.max_message_bytes),
    ] {
        if value == 0 {
            return Err(Invalid::Zero { key });
        }
    }
    for (key, value) in [
        ("[spool] max_batch", spool.max_batch.map(|n| n as u64)),
        ("[spool] rescan_secs", spool.rescan_secs),
    ] {
        if value == Some(0) {
            return Err(Invalid::BelowOne { key });
        }
    }
    Ok(())
}

/// Reads the TOML into the raw config; an error names the key as the file writes it
/// (`[spool] rescan_secs`, `[[partners]] #2 format`) beside the parser's own message.
fn read_toml(text: &str) -> Result<RawConfig, Invalid> {
    let de = toml::Deserializer::parse(text).map_err(|e| Invalid::Toml(e.to_string()))?;
    serde_path_to_error::deserialize(de).map_err(|e| Invalid::Syntax {
        key: key_name(&e.path().to_string()),
        message: e.into_inner().to_string(),
    })
}

/// `spool.rescan_secs` → `[spool] rescan_secs`; `api.clients[1].scopes` →
/// `[[api.clients]] #2 scopes` (the innermost array of tables, counted from 1).
fn key_name(path: &str) -> String {
    let segments: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
    let table = segments.iter().rposition(|s| s.contains('['));
    let (head, rest) = match table {
        Some(i) => {
            let (name, index) = segments[i].split_once('[').expect("contains '['");
            let n: usize = index.trim_end_matches(']').parse().unwrap_or(0);
            let mut names = segments[..i].to_vec();
            names.push(name);
            (
                format!("[[{}]] #{}", names.join("."), n + 1),
                &segments[i + 1..],
            )
        }
        None if segments.is_empty() => return "верхний уровень".to_string(),
        None => (format!("[{}]", segments[0]), &segments[1..]),
    };
    match rest {
        [] => head,
        rest => format!("{head} {}", rest.join(".")),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    gateway: RawGateway,
    spool: RawSpool,
    #[serde(default)]
    bodies: Vec<bodies::RawBody>,
    #[serde(default)]
    registration: Option<RawRegistration>,
    #[serde(default)]
    partners: Vec<RawPartner>,
    #[serde(default)]
    receipts: Option<RawReceipts>,
    #[serde(default)]
    http: Option<RawHttp>,
    #[serde(default)]
    sstu: Option<RawSstu>,
    #[serde(default)]
    journal: Option<RawJournal>,
    #[serde(default)]
    numbering: Option<RawNumbering>,
    #[serde(default)]
    documents: Option<RawDocuments>,
    #[serde(default)]
    api: Option<RawApi>,
    #[serde(default)]
    audit: Option<AuditConfig>,
    #[serde(default)]
    storage: Option<storage::RawStorage>,
    #[serde(default)]
    signing: Option<signing::RawSigning>,
    #[serde(default)]
    smtp: Option<smtp::RawSmtp>,
    #[serde(default)]
    queries: Option<approval::RawApproval>,
    #[serde(default)]
    reports: Option<approval::RawApproval>,
    #[serde(default)]
    limits: Limits,
}

/// Evidence off the box (`[audit]`): every group commit's signed note — the journal's size
/// and head, and the numbering sequences it covers — is also handed to a witness outside
/// `state_dir`, so a restored backup or a cut that took the local anchor with it is caught.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Run without a shell, the note on its standard input (`logger -t medo-checkpoint`).
    #[serde(default)]
    pub witness_command: Option<String>,
    /// One file per note, `<journal size>.note` (a WORM share); compared with at start.
    #[serde(default)]
    pub witness_dir: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    #[serde(default)]
    clients: Vec<RawClient>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    name: String,
    token_sha256: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    webhook_url: Option<String>,
    #[serde(default)]
    webhook_secret_file: Option<PathBuf>,
    /// A hub: the bodies whose appeals it sees and acts on (absent: all).
    #[serde(default)]
    bodies: Option<Vec<String>>,
}

/// What an API client may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes {
    /// Read appeals, files, the changes feed; the dashboard and `/metrics` off loopback.
    pub read: bool,
    /// Register, refuse, report steps.
    pub write: bool,
    /// Read ДСП (restricted) appeals' files.
    pub dsp: bool,
}

impl Scopes {
    /// Scopes by name (`read`, `write`, `dsp`), or the unknown one.
    pub fn parse(names: &[String]) -> Result<Scopes, Invalid> {
        let mut scopes = Scopes::default();
        for s in names {
            match s.as_str() {
                "read" => scopes.read = true,
                "write" => scopes.write = true,
                "dsp" => scopes.dsp = true,
                other => return Err(Invalid::Scope(other.to_string())),
            }
        }
        Ok(scopes)
    }
}

/// One СЭД client of the HTTP API (`[[api.clients]]`): its token is kept only as a SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    pub name: String,
    pub token_sha256: [u8; 32],
    pub scopes: Scopes,
    /// Changes pushed to the СЭД as they happen (optional; the feed stays the source of truth).
    pub webhook: Option<Webhook>,
    /// A hub's client of some bodies only (`bodies`): it sees and acts on their appeals alone
    /// — another body's appeal, its files and its feed items are not there for it. `None`:
    /// every body.
    pub bodies: Option<Vec<medo_model::BodyId>>,
}

impl ApiClient {
    /// Whether the client sees the appeals of `body`.
    pub fn sees(&self, body: &str) -> bool {
        self.bodies
            .as_ref()
            .is_none_or(|list| list.iter().any(|b| b == body))
    }
}

/// A client's webhook: each change of the feed POSTed to `url`, signed with the secret in
/// `secret_file` (read at start; `X-Medo-Signature: sha256=<HMAC>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    pub secret_file: PathBuf,
}

/// `webhook_url` and `webhook_secret_file`: both or neither; an http(s) URL; the `read` scope
/// (a change is what the feed shows).
fn webhook(
    name: &str,
    url: Option<String>,
    secret: Option<PathBuf>,
    scopes: Scopes,
) -> Result<Option<Webhook>, Invalid> {
    match (url, secret) {
        (None, None) => Ok(None),
        (Some(url), Some(secret_file)) => {
            let url = url.trim().to_string();
            let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
            if !scheme_ok || url.len() <= "https://".len() {
                return Err(Invalid::WebhookUrl(name.to_string()));
            }
            if !scopes.read {
                return Err(Invalid::WebhookScope(name.to_string()));
            }
            Ok(Some(Webhook { url, secret_file }))
        }
        _ => Err(Invalid::WebhookPair(name.to_string())),
    }
}

/// The `[[api.clients]]`, checked: unique names, 64-hex token digests, known scopes.
fn api_clients(raw: Option<RawApi>) -> Result<Vec<ApiClient>, Invalid> {
    let mut clients: Vec<ApiClient> = Vec::new();
    for c in raw.map(|a| a.clients).unwrap_or_default() {
        let name = c.name.trim().to_string();
        if name.is_empty() || clients.iter().any(|k| k.name == name) {
            return Err(Invalid::ClientName(name));
        }
        let digest = hex::decode(c.token_sha256.trim())
            .ok()
            .and_then(|d| <[u8; 32]>::try_from(d).ok())
            .ok_or_else(|| Invalid::TokenDigest(name.clone()))?;
        let scopes = Scopes::parse(&c.scopes).map_err(|e| Invalid::ClientScope {
            name: name.clone(),
            scope: Box::new(e),
        })?;
        let webhook = webhook(&name, c.webhook_url, c.webhook_secret_file, scopes)?;
        clients.push(ApiClient {
            bodies: c
                .bodies
                .map(|list| list.iter().map(|b| b.trim().into()).collect()),
            name,
            token_sha256: digest,
            scopes,
            webhook,
        });
    }
    Ok(clients)
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDocuments {
    #[serde(default)]
    signer_post: Option<String>,
    #[serde(default)]
    signer_name: Option<String>,
    #[serde(default)]
    executor_name: Option<String>,
    #[serde(default)]
    executor_phone: Option<String>,
    #[serde(default)]
    place: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    contacts: Option<String>,
    #[serde(default)]
    kind_id: Option<String>,
    #[serde(default)]
    kind_ids: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNumbering {
    #[serde(default)]
    outgoing_template: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJournal {
    #[serde(default)]
    checkpoint_every: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSstu {
    #[serde(default)]
    pub(crate) department_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    listen: Option<String>,
    #[serde(default)]
    public_listen: Option<String>,
    #[serde(default)]
    api_token_file: Option<PathBuf>,
    #[serde(default)]
    health_stale_secs: Option<u64>,
    /// Proxies whose `X-Forwarded-For` / `Forwarded` name the client (addresses or CIDR).
    #[serde(default)]
    trusted_proxies: Vec<String>,
    #[serde(default)]
    status_lookups_per_minute: Option<u32>,
    #[serde(default)]
    max_connections_per_address: Option<usize>,
    /// The operators' surface on a Unix socket (mode 0660, the service's group).
    #[serde(default)]
    operators_socket: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReceipts {
    #[serde(default)]
    acknowledge_notifications: bool,
    #[serde(default)]
    resend_after_secs: Option<Vec<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGateway {
    /// The one body's (optional exactly when `[[bodies]]` is configured).
    #[serde(default)]
    participant_uid: Option<String>,
    #[serde(default)]
    organization: Option<String>,
    #[serde(default)]
    transport_address: Option<String>,
    #[serde(default)]
    utc_offset: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpool {
    inbound: PathBuf,
    outbound: PathBuf,
    state_dir: PathBuf,
    #[serde(default)]
    settle_ms: Option<u64>,
    #[serde(default)]
    rescan_secs: Option<u64>,
    #[serde(default)]
    incomplete_after_secs: Option<u64>,
    #[serde(default)]
    max_batch: Option<usize>,
    #[serde(default)]
    outbound_stale_secs: Option<u64>,
    #[serde(default)]
    min_free_mib: Option<u64>,
    #[serde(default)]
    shared: bool,
    #[serde(default)]
    shared_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistration {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    number_template: Option<String>,
    #[serde(default)]
    appeal_roles: Option<Vec<String>>,
    #[serde(default)]
    query_kinds: Option<Vec<String>>,
    #[serde(default)]
    require_signature: bool,
    #[serde(default)]
    signature_verifier: Option<String>,
    #[serde(default)]
    signature_timeout_secs: Option<u64>,
    #[serde(default)]
    days: Option<DayPolicy>,
    #[serde(default)]
    holidays: Vec<String>,
    #[serde(default)]
    calendar_dir: Option<PathBuf>,
}

/// The production calendar: (days off on weekdays, working weekends, provisional years) from
/// the files of `dir` (`*.toml`, one year each), or the built-in ones.
fn production_calendar(
    dir: Option<&Path>,
) -> Result<medo_core::deadlines::ProductionCalendar, Invalid> {
    let files: Vec<(String, String)> = match dir {
        None => medo_core::deadlines::built_in_calendars(),
        Some(dir) => {
            let mut files = Vec::new();
            let entries = std::fs::read_dir(dir).map_err(|source| Invalid::CalendarDir {
                path: dir.to_path_buf(),
                source,
            })?;
            for e in entries.flatten() {
                let path = e.path();
                if path.extension().is_some_and(|x| x == "toml") {
                    let text = match std::fs::read_to_string(&path) {
                        Ok(text) => text,
                        Err(source) => return Err(Invalid::CalendarFile { path, source }),
                    };
                    files.push((path.display().to_string(), text));
                }
            }
            files
        }
    };
    Ok(medo_core::deadlines::production_calendar(files)?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPartner {
    name: String,
    uid: String,
    transport_address: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    signer_names: Vec<String>,
}

pub use medo_core::policy::{
    DocumentsConfig, PartnerConfig, Policy, RegistrationMode, ReplyFormat,
};
pub use medo_spool::SpoolConfig;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// What the decision core reads (`[gateway]` identity, registration, partners, documents,
    /// calendar, zone): the core takes this, never the whole `Config`.
    pub policy: Policy,
    pub transport_address: Option<String>,
    pub spool: SpoolConfig,
    /// The СЭД clients of the HTTP API (`[[api.clients]]`).
    pub api_clients: Vec<ApiClient>,
    pub limits: Limits,
    /// Command verifying a detached signature: `{file}` and `{signature}` are replaced by paths;
    /// exit 0 = valid. Run without a shell, with a timeout.
    pub signature_verifier: Option<String>,
    pub signature_timeout_secs: u64,
    /// Years of the production calendar that are provisional (no Government decree in the
    /// file yet): said at start.
    pub calendar_provisional: Vec<i32>,
    /// A signed checkpoint every this many journal records (and at clean shutdown).
    pub checkpoint_every: u64,
    /// Our body's id in the ССТУ.РФ directory (for the export).
    pub sstu_department_id: Option<String>,
    /// The witnesses of the journal's notes (`[audit]`).
    pub audit: AuditConfig,
    /// How our documents are signed (`[signing]`); `None`: they go out unsigned.
    pub signing: Option<signing::Signing>,
    /// Which of our documents wait for a person's approval (`[queries]`/`[reports] approval`).
    pub approval: approval::Approval,
    /// E-mail to applicants (`[smtp]`); `None`: none is sent.
    pub smtp: Option<smtp::Smtp>,
    /// Where the journal and the index live (`[storage]`; files unless it says postgres).
    pub storage: Storage,
    /// Where the HTTP API listens (off when `None`).
    pub http_listen: Option<std::net::SocketAddr>,
    /// Where the public listener (the applicant's status, `/healthz`) listens, if anywhere.
    pub http_public_listen: Option<std::net::SocketAddr>,
    /// File holding the bearer token for write endpoints (disabled when `None`).
    pub api_token_file: Option<PathBuf>,
    /// `/healthz` says 503 when no pass completed for this long (`[http] health_stale_secs`;
    /// default three rescan periods and 30 s).
    pub health_stale_secs: u64,
    /// Who a request comes from and how much one address may take (`[http]`).
    pub http_limits: HttpLimits,
    /// The operators' surface (dashboard, metrics, API) on a Unix socket, mode 0660 in the
    /// service's group (`[http] operators_socket`): other local users cannot read it.
    pub http_operators_socket: Option<PathBuf>,
    /// Waits before each re-send of our documents that got no receipt (the last repeats).
    pub resend_after_secs: Vec<u64>,
    /// The file it was read from (absolute), when read from one: named in set-up errors.
    pub source: Option<PathBuf>,
}

/// Who a request comes from and how much one address may take (`[http]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Proxies (addresses, CIDR ranges) whose `X-Forwarded-For` / `Forwarded` header names
    /// the client; from anyone else those headers are ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Applicants' status lookups per client address per minute (default 20).
    pub status_lookups_per_minute: u32,
    /// Connections one client address may hold open on a listener (default 32; a trusted
    /// proxy is not limited so).
    pub max_connections_per_address: usize,
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            trusted_proxies: Vec::new(),
            status_lookups_per_minute: 20,
            max_connections_per_address: 32,
        }
    }
}

impl HttpLimits {
    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: std::net::IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(&ip))
    }
}

/// A client's `bodies` name bodies of this node.
fn clients_of_bodies(clients: Vec<ApiClient>, policy: &Policy) -> Result<Vec<ApiClient>, Invalid> {
    for c in &clients {
        for b in c.bodies.iter().flatten() {
            if policy.body(b).is_none() {
                return Err(Invalid::ClientBody {
                    name: c.name.clone(),
                    body: b.to_string(),
                });
            }
        }
    }
    Ok(clients)
}

/// `[http]`'s limits, checked: proxies as addresses or CIDR ranges, limits above zero.
fn http_limits(raw: Option<&RawHttp>) -> Result<HttpLimits, Invalid> {
    let mut limits = HttpLimits::default();
    let Some(raw) = raw else { return Ok(limits) };
    for p in &raw.trusted_proxies {
        let net = p
            .parse::<ipnet::IpNet>()
            .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| Invalid::Proxy(p.clone()))?;
        limits.trusted_proxies.push(net);
    }
    if let Some(n) = raw.status_lookups_per_minute {
        if n == 0 {
            return Err(Invalid::BelowOne {
                key: "[http] status_lookups_per_minute",
            });
        }
        limits.status_lookups_per_minute = n;
    }
    if let Some(n) = raw.max_connections_per_address {
        if n == 0 {
            return Err(Invalid::BelowOne {
                key: "[http] max_connections_per_address",
            });
        }
        limits.max_connections_per_address = n;
    }
    Ok(limits)
}

impl Config {
    /// Reads and validates a config file. Relative spool paths are resolved against the
    /// current directory (as the README's commands assume: run from the project root).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        // every message names the file as an absolute path: `config/gateway.toml` says
        // nothing to whoever runs the unit in /var/lib/medo-gateway
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let mut config = Config::parse(&text, &path)?;
        config.source = Some(path);
        Ok(config)
    }

    /// Validates config text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = read_toml(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Config::from_raw(raw, path.parent()).map_err(|problem| ConfigError::Key {
            path: path.to_path_buf(),
            problem,
        })
    }

    /// The raw file checked section by section (each validator owns its keys).
    fn from_raw(raw: RawConfig, base: Option<&Path>) -> Result<Config, Invalid> {
        let registration = raw.registration.unwrap_or_default();
        let (mut policy, calendar_provisional) = policy(
            &raw.gateway,
            &registration,
            raw.numbering,
            (raw.partners, raw.bodies),
            (raw.documents, raw.receipts.as_ref()),
        )?;
        let sstu_department_id = raw
            .sstu
            .and_then(|s| s.department_id)
            .filter(|d| !d.trim().is_empty());
        if !policy.hub {
            let mut main = policy.bodies[0].clone();
            main.sstu_department_id = sstu_department_id.clone();
            policy.bodies = vec![main].into();
        }
        no_zeros(&raw.limits, &raw.spool)?;
        let api_clients = clients_of_bodies(api_clients(raw.api)?, &policy)?;
        let spool = spool_config(raw.spool);
        let http = raw.http.as_ref();
        let (http_listen, http_public_listen) = (
            address("listen", http.and_then(|h| h.listen.as_deref()))?,
            address(
                "public_listen",
                http.and_then(|h| h.public_listen.as_deref()),
            )?,
        );
        Ok(Config {
            policy,
            transport_address: raw.gateway.transport_address,
            health_stale_secs: http
                .and_then(|h| h.health_stale_secs)
                .unwrap_or(3 * spool.rescan_secs + 30)
                .max(1),
            api_clients,
            spool,
            limits: raw.limits,
            signature_verifier: registration
                .signature_verifier
                .filter(|s| !s.trim().is_empty()),
            signature_timeout_secs: registration.signature_timeout_secs.unwrap_or(30),
            calendar_provisional,
            http_listen,
            http_public_listen,
            checkpoint_every: raw
                .journal
                .and_then(|j| j.checkpoint_every)
                .unwrap_or(1000)
                .max(1),
            audit: raw.audit.unwrap_or_default(),
            storage: storage::storage(raw.storage, base)?,
            signing: signing::signing(raw.signing, base)?,
            approval: approval::approval(raw.queries, raw.reports)?,
            smtp: smtp::smtp(raw.smtp, base)?,
            sstu_department_id,
            api_token_file: http.and_then(|h| h.api_token_file.clone()),
            http_limits: http_limits(http)?,
            http_operators_socket: http.and_then(|h| h.operators_socket.clone()),
            resend_after_secs: raw
                .receipts
                .as_ref()
                .and_then(|r| r.resend_after_secs.clone())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| medo_core::resend::DEFAULT_SCHEDULE.to_vec()),
            source: None,
        })
    }
}

/// What the core reads (`[gateway]` identity or `[[bodies]]`, `[registration]`,
/// `[numbering]`, `[[partners]]`, `[documents]`, `[receipts]`), checked; and the calendar's
/// provisional years.
fn policy(
    gateway: &RawGateway,
    registration: &RawRegistration,
    numbering: Option<RawNumbering>,
    (partners_raw, bodies_raw): (Vec<RawPartner>, Vec<bodies::RawBody>),
    (documents_raw, receipts): (Option<RawDocuments>, Option<&RawReceipts>),
) -> Result<(Policy, Vec<i32>), Invalid> {
    let hub = !bodies_raw.is_empty();
    let sender = match hub {
        false => one_body(gateway)?,
        // the bodies' own (the first one's stand at the top until one is chosen)
        true => Sender {
            uid: String::new(),
            organization: String::new(),
        },
    };
    check_signatures(registration)?;
    let (calendar, provisional) = calendar(registration)?;
    let mode = match registration.mode.as_deref().unwrap_or("auto") {
        "auto" => RegistrationMode::Auto,
        "manual" => RegistrationMode::Manual,
        other => return Err(Invalid::Mode(other.to_string())),
    };
    let policy = Policy {
        sender,
        mode,
        number_template: template(
            registration.number_template.clone(),
            "ОГ-{seq}/{yy}",
            "[registration] number_template",
        )?,
        outgoing_template: template(
            numbering.and_then(|n| n.outgoing_template),
            "ОЗ-{seq}/{yy}",
            "[numbering] outgoing_template",
        )?,
        documents: documents(documents_raw.unwrap_or_default()),
        partners: partners(partners_raw)?,
        appeal_roles: registration
            .appeal_roles
            .clone()
            .unwrap_or_else(|| vec!["urog".into()]),
        query_kinds: registration
            .query_kinds
            .clone()
            .unwrap_or_else(|| vec!["Запрос".into(), "Запрос информации".into()]),
        require_signature: registration.require_signature,
        calendar,
        acknowledge_notifications: receipts.is_some_and(|r| r.acknowledge_notifications),
        utc_offset: utc_offset(gateway.utc_offset.as_deref())?,
        bodies: Vec::new().into(),
        hub,
    };
    Ok((with_bodies(policy, bodies_raw, gateway)?, provisional))
}

/// `[gateway]`'s identity of a one-body node: its participant uid and organisation, both
/// required there.
fn one_body(gateway: &RawGateway) -> Result<Sender, Invalid> {
    let uid = gateway.participant_uid.as_deref().unwrap_or("").trim();
    if !is_guid(uid) {
        return Err(Invalid::NotGuid("[gateway] participant_uid"));
    }
    let organization = gateway.organization.as_deref().unwrap_or("").trim();
    if organization.is_empty() {
        return Err(Invalid::Empty("[gateway] organization"));
    }
    Ok(Sender {
        uid: uid.to_lowercase(),
        organization: organization.to_string(),
    })
}

/// The policy with its bodies: the one `main` of `[gateway]`, or the hub's `[[bodies]]` (the
/// first one's fields at the top, as one-body code reads them; `[gateway] participant_uid`, if
/// given, must be one of theirs).
fn with_bodies(
    mut policy: Policy,
    raw: Vec<bodies::RawBody>,
    gateway: &RawGateway,
) -> Result<Policy, Invalid> {
    if !policy.hub {
        policy.bodies = vec![medo_core::policy::Body::main_of(&policy)].into();
        return Ok(policy);
    }
    let node = bodies::NodeDefaults {
        mode: policy.mode,
        number_template: &policy.number_template,
        outgoing_template: &policy.outgoing_template,
        documents: &policy.documents,
    };
    policy.bodies = bodies::bodies(raw, &node, &policy.partners)?.into();
    if let Some(uid) = gateway.participant_uid.as_deref().map(str::trim) {
        if policy.body_by_uid(uid).is_none() {
            return Err(Invalid::GatewayNotABody(uid.to_string()));
        }
    }
    let first = policy.bodies[0].id.clone();
    Ok(policy
        .for_body(&first)
        .expect("the first body is the policy's"))
}

/// `require_signature` needs a program that checks the signatures.
fn check_signatures(registration: &RawRegistration) -> Result<(), Invalid> {
    let no_verifier = registration
        .signature_verifier
        .as_deref()
        .is_none_or(|v| v.trim().is_empty());
    match registration.require_signature && no_verifier {
        true => Err(Invalid::SignatureNeedsVerifier),
        false => Ok(()),
    }
}

/// `[spool]` with its defaults.
fn spool_config(raw: RawSpool) -> SpoolConfig {
    SpoolConfig {
        inbound: raw.inbound,
        outbound: raw.outbound,
        state_dir: raw.state_dir,
        settle_ms: raw.settle_ms.unwrap_or(3000),
        // on a share no file events arrive: the rescan is how packages are seen
        rescan_secs: raw.rescan_secs.unwrap_or(if raw.shared { 5 } else { 60 }),
        incomplete_after_secs: raw.incomplete_after_secs.unwrap_or(3600),
        max_batch: raw.max_batch.unwrap_or(256),
        outbound_stale_secs: raw.outbound_stale_secs.unwrap_or(3600),
        min_free_bytes: raw.min_free_mib.unwrap_or(512).saturating_mul(1 << 20),
        shared: raw.shared,
        shared_dir: raw.shared_dir.filter(|p| !p.as_os_str().is_empty()),
    }
}

/// `[http] listen` / `public_listen`: `ADDRESS:PORT`, or off when absent or empty.
fn address(
    key: &'static str,
    value: Option<&str>,
) -> Result<Option<std::net::SocketAddr>, Invalid> {
    match value {
        None | Some("") => Ok(None),
        Some(a) => a.parse().map(Some).map_err(|_| Invalid::Address {
            key,
            value: a.to_string(),
        }),
    }
}

/// `[documents]` with its defaults; blank values are absent.
fn documents(raw: RawDocuments) -> DocumentsConfig {
    let given = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    DocumentsConfig {
        signer_post: given(raw.signer_post),
        signer_name: given(raw.signer_name),
        executor_name: given(raw.executor_name),
        executor_phone: given(raw.executor_phone),
        place: given(raw.place),
        address: given(raw.address),
        contacts: given(raw.contacts),
        kind_id: given(raw.kind_id).unwrap_or_else(|| "DK00000000".into()),
        kind_ids: raw.kind_ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 17, item 5: the built-in production calendar — the New Year and May holidays of
    /// 2026 as the decree moved them — counted by both day policies.
    #[test]
    fn deadlines_know_the_production_calendar() {
        use medo_core::deadlines::{Calendar, DayPolicy};
        use time::macros::date;
        let (holidays, working_weekends, provisional) = production_calendar(None).unwrap();
        assert_eq!(provisional, [2027], "2027 waits for its decree");
        let cal = |policy| Calendar {
            policy,
            holidays: holidays.clone(),
            working_weekends: working_weekends.clone(),
        };
        let (working, next) = (
            cal(DayPolicy::Working),
            cal(DayPolicy::CalendarNextWorkingDay),
        );
        // (calendar, from, days, due)
        let table = [
            // 1 Jan 2026 + 3 working days: off until 11 Jan; 12, 13, 14 Jan
            (&working, date!(2026 - 01 - 01), 3, date!(2026 - 01 - 14)),
            // Friday 9 Jan 2026 is a day off by transfer (from Saturday 3 Jan)
            (&next, date!(2026 - 01 - 06), 3, date!(2026 - 01 - 12)),
            // 30 Apr + 3 working: 1 May off, 2–3 weekend; 4, 5, 6 May
            (&working, date!(2026 - 04 - 30), 3, date!(2026 - 05 - 06)),
            // 8 May + 3 calendar = 11 May, a day off (9 May moved to Monday): 12 May
            (&next, date!(2026 - 05 - 08), 3, date!(2026 - 05 - 12)),
            // 31 Dec 2026 is a day off by transfer (from Sunday 4 Jan)
            (&next, date!(2026 - 12 - 28), 3, date!(2027 - 01 - 11)),
            (&working, date!(2026 - 11 - 03), 1, date!(2026 - 11 - 05)),
        ];
        for (cal, from, days, due) in table {
            assert_eq!(
                cal.add_days(from, days),
                due,
                "{:?} {from} + {days}",
                cal.policy
            );
        }
    }

    #[test]
    fn a_calendar_folder_replaces_the_built_in_one_and_is_checked() {
        use medo_core::deadlines::{Calendar, DayPolicy};
        use time::macros::date;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ru-2030.toml");
        let year = |off: &str, working: &str| {
            format!("year = 2030\nsource = \"test\"\nprovisional = false\ndays_off = [{off}]\nworking_weekends = [{working}]\n")
        };
        std::fs::write(&file, year("\"2030-05-02\"", "\"2030-05-04\"")).unwrap();
        let (holidays, working_weekends, provisional) =
            production_calendar(Some(dir.path())).unwrap();
        assert!(provisional.is_empty());
        let cal = Calendar {
            policy: DayPolicy::Working,
            holidays,
            working_weekends,
        };
        assert!(
            !cal.is_working_day(date!(2030 - 05 - 02)),
            "a day off on a Thursday"
        );
        assert!(
            cal.is_working_day(date!(2030 - 05 - 04)),
            "a working Saturday"
        );
        assert!(
            !cal.is_working_day(date!(2030 - 05 - 05)),
            "an ordinary Sunday"
        );
        // Friday 3 May + 1 working day = the working Saturday
        assert_eq!(
            cal.add_days(date!(2030 - 05 - 03), 1),
            date!(2030 - 05 - 04)
        );
        std::fs::write(&file, year("\"2031-01-01\"", "")).unwrap();
        let e = production_calendar(Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ru-2030.toml") && e.contains("не дата 2030 года"),
            "{e}"
        );
    }

    #[test]
    fn a_webhook_needs_its_secret_an_http_url_and_the_read_scope() {
        let read = Scopes::parse(&["read".into()]).unwrap();
        let url = || Some("https://sed.local/hook".to_string());
        let secret = || Some(PathBuf::from("/etc/s"));
        assert!(webhook("d", None, None, read).unwrap().is_none());
        assert!(webhook("d", url(), secret(), read).unwrap().is_some());
        for (u, s, scopes, why) in [
            (url(), None, read, "вместе"),
            (None, secret(), read, "вместе"),
            (Some("ftp://x".into()), secret(), read, "http"),
            (Some("https://".into()), secret(), read, "http"),
            (url(), secret(), Scopes::default(), "область read"),
        ] {
            let e = webhook("d", u, s, scopes).unwrap_err();
            let said = e.to_string();
            assert!(said.contains(why) && said.contains("\"d\""), "{said}");
            let pair = matches!(e, Invalid::WebhookPair(_));
            assert_eq!(pair, why == "вместе", "{e:?}");
        }
    }

    /// Every configuration error names the file and the key as the file writes it.
    #[test]
    fn errors_name_the_file_and_the_key() {
        let base = include_str!("../../../config/gateway.toml");
        let cases: &[(&str, &str, &str)] = &[
            (
                "rescan_secs = 60",
                "rescan_secs = \"x\"",
                "[spool] rescan_secs: ",
            ),
            (
                "rescan_secs = 60",
                "rescan_secs = 0",
                "[spool] rescan_secs должен быть не меньше 1",
            ),
            (
                "max_batch = 256",
                "max_batch = 0",
                "[spool] max_batch должен быть не меньше 1",
            ),
            (
                "inbound = \"spool/in\"",
                "inboundd = \"x\"",
                "[spool] inboundd: ",
            ),
            (
                "days = \"calendar\"",
                "days = \"some\"",
                "[registration] days: ",
            ),
            (
                "mode = \"auto\"",
                "mode = \"fast\"",
                "[registration] mode \"fast\"",
            ),
            (
                "utc_offset = \"+03:00\"",
                "utc_offset = \"+25:00\"",
                "[gateway] utc_offset \"+25:00\"",
            ),
            (
                "format = \"mirror\"",
                "format = \"3.0\"",
                "[[partners]] \"Управление",
            ),
            ("role = \"urog\"", "role = 5", "[[partners]] #1 role: "),
            (
                "max_xml_depth = 64",
                "max_xml_depth = 0",
                "[limits] max_xml_depth должен быть больше нуля",
            ),
            ("[spool]", "[spoool]", "[spoool]: "),
        ];
        for (from, to, says) in cases {
            assert!(base.contains(from), "{from}");
            let text = base.replacen(from, to, 1);
            let e = Config::parse(&text, Path::new("/etc/medo-gateway/gateway.toml"))
                .err()
                .unwrap_or_else(|| panic!("{to} accepted"))
                .to_string();
            assert!(
                e.starts_with("файл настроек /etc/medo-gateway/gateway.toml: "),
                "{e}"
            );
            assert!(e.contains(says), "{to}: {e}");
        }
        assert!(Config::parse(base, Path::new("x")).is_ok());
    }

    #[test]
    fn keys_are_named_as_the_file_writes_them() {
        for (path, name) in [
            ("spool.rescan_secs", "[spool] rescan_secs"),
            ("partners[1].uid", "[[partners]] #2 uid"),
            ("api.clients[0].scopes", "[[api.clients]] #1 scopes"),
            ("http", "[http]"),
            (".", "верхний уровень"),
        ] {
            assert_eq!(key_name(path), name);
        }
    }
}
