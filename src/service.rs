//! The service's composition root: the run loop of `medo-engine` driven on tokio's blocking
//! pool, woken by file events (notify) and the rescan timer, beside the HTTP listeners, the
//! operators' socket, the webhooks, health (sd-notify) and the metrics they serve. Nothing
//! here decides or journals: the engine does; this module wires it to the world.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::control;
use crate::spool::{self, Layout};
use crate::store::Store;
use medo_engine::{Gateway, GatewayError};

/// What stops the service: the engine's errors, or the world around it not starting.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Engine(#[from] GatewayError),
    #[error("не удалось прочитать [http] api_token_file {}: {}", path.display(), crate::words::io(source))]
    TokenFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("не удалось слушать {at}: {}", crate::words::io(source))]
    Listen { at: String, source: std::io::Error },
    #[error("[[api.clients]] webhook_url: {0}")]
    Webhooks(String),
    #[error("не удалось следить за папкой {}: {source}", path.display())]
    Watch {
        path: std::path::PathBuf,
        source: notify::Error,
    },
    #[error("поток цикла обработки завершился аварийно: {0}")]
    Thread(#[from] tokio::task::JoinError),
}

impl ServiceError {
    /// A set-up refusal of the engine's (exit 2).
    pub fn is_setup(&self) -> bool {
        matches!(
            self,
            ServiceError::Engine(GatewayError::Spool(crate::spool::SpoolError::Setup(_)))
        )
    }

    /// Worth retrying later without stopping.
    pub fn is_transient(&self) -> bool {
        matches!(self, ServiceError::Engine(e) if e.is_transient())
    }
}

/// A running HTTP listener: what stops it, and its task.
type Listener = (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
);

/// Spawns a task made by `task` from the future that resolves when it should stop; the
/// sender stops it.
fn spawn_stoppable<T>(
    task: impl FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> T,
) -> Listener
where
    T: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stopped = Box::pin(async {
        let _ = rx.await;
    });
    (tx, tokio::spawn(task(stopped)))
}

/// Starts the configured HTTP listeners: the operators' (`[http] listen`) and the public one
/// (`[http] public_listen`), sharing one state (limits, PIN locks).
async fn start_http(
    config: &Config,
    store: Store,
    metrics: std::sync::Arc<std::sync::RwLock<crate::metrics::Metrics>>,
    health: std::sync::Arc<crate::health::Health>,
) -> Result<Vec<Listener>, ServiceError> {
    use crate::http::Surface;
    let webhooks = crate::webhooks::Statuses::default();
    let leads = health.clone();
    // of several nodes only the leader delivers (alone: always)
    let delivers: crate::webhooks::Delivers = std::sync::Arc::new(move || {
        leads
            .leadership()
            .is_none_or(|l| l.role == crate::health::Role::Leader)
    });
    let mut listeners = start_webhooks(config, &store, &webhooks, delivers)?;
    listeners.extend(start_operator_socket(config, &store));
    let surfaces = [
        (config.http_listen, Surface::Operators),
        (config.http_public_listen, Surface::Public),
    ];
    if surfaces.iter().all(|(a, _)| a.is_none()) && config.http_operators_socket.is_none() {
        return Ok(listeners);
    }
    let token = match &config.api_token_file {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|source| ServiceError::TokenFile {
                path: f.clone(),
                source,
            })
            .map(|t| Some(t.trim().to_string()).filter(|t| !t.is_empty()))?,
        None => None,
    };
    let state_for = |loopback: bool| {
        let mut state = crate::http::HttpState::new(
            config.clone(),
            store.clone(),
            metrics.clone(),
            token.clone(),
        );
        state.loopback = loopback;
        state.webhooks = webhooks.clone();
        state.health = health.clone();
        std::sync::Arc::new(state)
    };
    if let Some(path) = &config.http_operators_socket {
        let listener =
            crate::http::bind_operators_socket(path).map_err(|source| ServiceError::Listen {
                at: path.display().to_string(),
                source,
            })?;
        // whoever may open the socket (its mode) is local: as a loopback listener's clients
        let state = state_for(true);
        listeners.push(spawn_stoppable(|stopped| {
            crate::http::serve_unix(listener, state, stopped)
        }));
    }
    let state = state_for(config.http_listen.is_none_or(|a| a.ip().is_loopback()));
    for (address, surface) in surfaces {
        let Some(address) = address else { continue };
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| ServiceError::Listen {
                at: address.to_string(),
                source,
            })?;
        let state = state.clone();
        listeners.push(spawn_stoppable(|stopped| {
            crate::http::serve(listener, state, surface, stopped)
        }));
    }
    Ok(listeners)
}

/// The operators' local socket (`crate::operator_view`): `appeals list` / `show` answered
/// from the store while the service runs. Without it (a state_dir path too long for a Unix
/// socket, say) the service runs on and the commands read the journal: a WARN, not a stop.
fn start_operator_socket(config: &Config, store: &Store) -> Option<Listener> {
    let layout = Layout::new(&config.spool);
    let listener = match crate::operator_view::bind(&layout) {
        Ok(l) => l,
        Err(e) => {
            let path = crate::operator_view::socket(&layout);
            tracing::warn!(socket = %path.display(), error = %e, "no operator socket: appeals list/show will read the journal while the service runs");
            return None;
        }
    };
    let (config, store) = (config.clone(), store.clone());
    Some(spawn_stoppable(|stopped| {
        crate::operator_view::serve(listener, config, store, stopped)
    }))
}

/// Starts one task per client webhook (`crate::webhooks`), stopped like the listeners.
fn start_webhooks(
    config: &Config,
    store: &Store,
    statuses: &crate::webhooks::Statuses,
    delivers: crate::webhooks::Delivers,
) -> Result<Vec<Listener>, ServiceError> {
    let hooks = crate::webhooks::Hook::all(config, delivers).map_err(ServiceError::Webhooks)?;
    let mut running = Vec::new();
    for hook in hooks {
        tracing::info!(client = %hook.client, "webhook on");
        let (store, statuses) = (store.clone(), statuses.clone());
        running.push(spawn_stoppable(|stopped| {
            crate::webhooks::run(hook, store, statuses, stopped)
        }));
    }
    Ok(running)
}

/// Stops the listeners and waits for them.
async fn stop_http(listeners: Vec<Listener>) {
    for (stop, task) in listeners {
        let _ = stop.send(());
        let _ = task.await;
    }
}

/// The health the service reports into, handed to the backend's opener.
type SharedHealth = std::sync::Arc<crate::health::Health>;

/// Whether a filesystem event may mean work: not an open or a read (inotify reports the
/// pass's own listing of inbound and `control/` as opens — taken for nudges, they made the
/// loop run twenty passes a second while idle, and a held output log at every one).
fn changes_something(event: &notify::Result<notify::Event>) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match event {
        Ok(e) => !matches!(
            e.kind,
            EventKind::Access(
                AccessKind::Open(_)
                    | AccessKind::Read
                    | AccessKind::Close(AccessMode::Read | AccessMode::Execute)
            )
        ),
        Err(_) => true,
    }
}

/// Notes in `writers` what an event tells of a file directly inside an inbound folder:
/// created or written to (being written), closed after writing, removed or renamed away
/// (done); lost events (an overflow, an error) forget everything.
fn note_writers(writers: &spool::Writers, inbound: &Path, event: &notify::Result<notify::Event>) {
    use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind};
    let e = match event {
        Ok(e) if !e.need_rescan() => e,
        _ => return writers.forget_all(),
    };
    for path in &e.paths {
        let Ok(rel) = path.strip_prefix(inbound) else {
            continue;
        };
        let mut parts = rel.iter();
        let (Some(folder), Some(file), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        match e.kind {
            EventKind::Create(CreateKind::File | CreateKind::Any)
            | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => {
                writers.writing(folder, file)
            }
            EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Name(_)) => writers.closed(folder, file),
            _ => {}
        }
    }
}

/// Watches inbound (recursively: files being written are noted in the engine's
/// [`spool::Writers`]) and the command queue; every event that may mean work is a nudge on
/// the channel returned. Without events (a share that does not deliver them) the periodic
/// rescans carry on.
fn watch(
    inbound: &Path,
    control_dir: &Path,
    writers: std::sync::Arc<spool::Writers>,
) -> Result<(notify::RecommendedWatcher, tokio::sync::mpsc::Receiver<()>), ServiceError> {
    use notify::Watcher;
    let (nudge_tx, nudges) = tokio::sync::mpsc::channel::<()>(1);
    let watched = inbound.to_path_buf();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        note_writers(&writers, &watched, &event);
        // any change, error or overflow (need_rescan) is just a nudge: the scan decides
        if changes_something(&event) {
            let _ = nudge_tx.try_send(());
        }
    })
    .map_err(|source| ServiceError::Watch {
        path: inbound.to_path_buf(),
        source,
    })?;
    if let Err(e) = watcher.watch(inbound, notify::RecursiveMode::Recursive) {
        tracing::warn!(error = %e, "filesystem events unavailable; relying on periodic rescans");
    }
    // operator commands are applied as soon as they are queued
    let _ = watcher.watch(control_dir, notify::RecursiveMode::NonRecursive);
    Ok((watcher, nudges))
}

/// Says at start which years of the production calendar are provisional (when deadlines
/// count by it).
fn warn_provisional(config: &Config) {
    if config.policy.calendar.policy == crate::deadlines::DayPolicy::Calendar {
        return;
    }
    for year in &config.calendar_provisional {
        tracing::warn!(year, "the production calendar of this year is provisional (the Government's transfers are not in it): replace its file in [registration] calendar_dir when the decree is published");
    }
}

/// One pass on the blocking pool (the engine is synchronous), with its counters when the
/// HTTP surfaces show them.
async fn pass<B: Served>(
    mut gw: Gateway<B>,
    publish_metrics: bool,
) -> Result<(Gateway<B>, PassOutcome), ServiceError> {
    Ok(tokio::task::spawn_blocking(move || {
        crate::fault::stall_while_flagged();
        let r = gw.pass();
        let m = match (&r, publish_metrics) {
            (Ok(report), true) => Some(crate::metrics::Metrics(gw.counters(report))),
            _ => None,
        };
        (gw, (r, m))
    })
    .await?)
}

type PassOutcome = (
    Result<medo_engine::PassReport, GatewayError>,
    Option<crate::metrics::Metrics>,
);

/// How long to wait after a pass (its own wish within `rescan`, or the back-off after a
/// transient error), logging what it did; a fatal error stops the service.
fn wait_after(
    result: Result<medo_engine::PassReport, GatewayError>,
    rescan: Duration,
    failures: &mut u32,
) -> Result<Duration, ServiceError> {
    match result {
        Ok(r) => {
            *failures = 0;
            if r.claimed + r.published + r.quarantined > 0 {
                tracing::info!(
                    claimed = r.claimed,
                    published = r.published,
                    quarantined = r.quarantined,
                    duplicates = r.duplicates,
                    "pass"
                );
            }
            Ok(r.next_look.map_or(rescan, |n| n.min(rescan)))
        }
        Err(e) if e.is_transient() => {
            *failures += 1;
            let wait = medo_stdx::backoff(*failures);
            tracing::warn!(error = %e, retry_in_s = wait.as_secs(), "transient error; retrying");
            Ok(wait)
        }
        Err(e) => Err(e.into()),
    }
}

/// A backend the service runs on: its index is the [`Store`] the HTTP surfaces read (sled's,
/// or the database's read through a pool), and the loop moves between threads.
pub trait Served: medo_store::Backend<Index = Store> + Send + 'static {}
impl<B: medo_store::Backend<Index = Store> + Send + 'static> Served for B {}

/// `run`: the service on the backend `[storage]` names. Filesystem events only nudge the scan
/// loop; it also rescans every `rescan_secs` and whenever a folder is settling. Returns on
/// `shutdown` (clean stop) or on a fatal error.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServiceError> {
    match config.storage {
        crate::config::Storage::Files => {
            run_on(config, shutdown, None, |c, _| Gateway::open(c)).await
        }
        crate::config::Storage::Postgres {
            ref url, pool_size, ..
        } => {
            // the read side serves from the database before this node leads (a standby)
            let read = medo_pg::read::PgRead::open(url.expose(), pool_size)
                .map_err(GatewayError::Store)?;
            let store = Store::remote(std::sync::Arc::new(read));
            let open = |c, health| Gateway::open_with(c, crate::postgres::opener(health));
            run_on(config, shutdown, Some(store), open).await
        }
    }
}

/// Drops a gateway the database failed (off the runtime: its client blocks) — this node
/// counts as a standby until it leads again — and opens it anew ([`opening`]).
async fn reopen<B: Served>(
    gw: Gateway<B>,
    (open, config, health): (&impl Opener<B>, &Config, &SharedHealth),
    shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<Option<Gateway<B>>, ServiceError> {
    tokio::task::spawn_blocking(move || drop(gw)).await?;
    if let Some(was) = health.leadership() {
        health.lead_as(crate::health::Leadership {
            role: crate::health::Role::Standby,
            ..was
        });
    }
    opening(open, config, health, shutdown).await
}

/// `run --once` on the backend `[storage]` names.
pub fn run_once(config: Config) -> Result<medo_engine::PassReport, GatewayError> {
    match config.storage {
        crate::config::Storage::Files => medo_engine::run_once(config),
        crate::config::Storage::Postgres { .. } => {
            medo_engine::run_once_with(config, crate::postgres::open)
        }
    }
}

/// Opens a gateway (`Config` and the health it reports to).
trait Opener<B: Served>:
    Fn(Config, SharedHealth) -> Result<Gateway<B>, GatewayError> + Clone + Send + 'static
{
}
impl<B: Served, F> Opener<B> for F where
    F: Fn(Config, SharedHealth) -> Result<Gateway<B>, GatewayError> + Clone + Send + 'static
{
}

/// Opens the gateway off the runtime; when the database fails it
/// ([`GatewayError::is_database`]) tries again with back-off — `/healthz` 503 meanwhile —
/// until it opens, or fails otherwise. `None`: a stop was asked while waiting.
async fn opening<B: Served>(
    open: &impl Opener<B>,
    config: &Config,
    health: &SharedHealth,
    shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<Option<Gateway<B>>, ServiceError> {
    let mut failures = 0u32;
    loop {
        let task = tokio::task::spawn_blocking({
            let (open, config, health) = (open.clone(), config.clone(), health.clone());
            move || open(config, health)
        });
        let opened = tokio::select! {
            opened = task => opened?,
            _ = shutdown.as_mut() => return Ok(None),
        };
        let e = match opened {
            Ok(gw) => return Ok(Some(gw)),
            Err(e) if e.is_database() => e,
            Err(e) => return Err(e.into()),
        };
        failures += 1;
        let wait = medo_stdx::backoff(failures);
        tracing::warn!(error = %e, retry_in_s = wait.as_secs(), "the database failed the start; trying again");
        health.pass_failed(&format!("database unavailable: {e}"));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.as_mut() => return Ok(None),
        }
    }
}

/// [`run`] over the gateway `open` opens. With `early` (a database's index), the HTTP
/// surfaces serve from it while `open` waits for the lease; otherwise from the gateway's
/// index once it is open. A stop asked while waiting ends the wait. When the database fails
/// the running gateway, it is dropped and opened again (the lease taken anew or waited for),
/// not stopped.
async fn run_on<B: Served>(
    config: Config,
    shutdown: impl Future<Output = ()>,
    early: Option<Store>,
    open: impl Opener<B>,
) -> Result<(), ServiceError> {
    let rescan = Duration::from_secs(config.spool.rescan_secs.max(1));
    let inbound = config.spool.inbound.clone();
    let control_dir = control::dir(config.spool.shared_root());
    let _ = std::fs::create_dir_all(&control_dir);
    // the HTTP API, when configured, reads appeals and the spool straight from the store
    // (sled handles and the database's pool are shared and safe to read from other threads)
    let shared_metrics =
        std::sync::Arc::new(std::sync::RwLock::new(crate::metrics::Metrics::default()));
    let health = std::sync::Arc::new(crate::health::Health::new(&config));
    let mut http = match early {
        Some(store) => {
            let running =
                start_http(&config, store, shared_metrics.clone(), health.clone()).await?;
            // a standby is up (it serves the read side): systemd must not time its start out
            crate::health::tell_systemd(health.clone());
            Some(running)
        }
        None => None,
    };
    let told_systemd = http.is_some();
    let shutdown = std::pin::pin!(shutdown);
    let mut shutdown = shutdown;
    let Some(mut gw) = opening(&open, &config, &health, &mut shutdown).await? else {
        stop_http(http.take().unwrap_or_default()).await;
        tracing::info!("medo-gateway stopped while waiting to lead");
        return Ok(());
    };
    let (mut watcher, mut nudges) = watch(&inbound, &control_dir, gw.writers())?;
    let http = match http {
        Some(running) => running,
        None => {
            let store = gw.appeals().clone();
            start_http(gw.config(), store, shared_metrics.clone(), health.clone()).await?
        }
    };
    tracing::info!(inbound = %inbound.display(), "medo-gateway running");
    if !told_systemd {
        crate::health::tell_systemd(health.clone());
    }
    warn_provisional(gw.config());
    let mut failures = 0u32;
    // the metrics are read by the HTTP handlers only
    let publish_metrics =
        gw.config().http_listen.is_some() || gw.config().http_public_listen.is_some();
    loop {
        let (back, (result, metrics)) = pass(gw, publish_metrics).await?;
        gw = back;
        if let Some(m) = metrics {
            *shared_metrics.write().expect("metrics lock") = m;
        }
        match &result {
            Ok(r) => {
                health.pass_done();
                health.condition(r.disk_low.clone());
            }
            Err(e) => health.pass_failed(&e.to_string()),
        }
        let failed = result.as_ref().err().filter(|e| e.is_database());
        if failed.is_some() || gw.stepped_down() {
            match failed {
                Some(e) => {
                    tracing::error!(error = %e, "the database failed the pass: the gateway is opened again")
                }
                None => tracing::error!("the lease is lost: the gateway is opened again"),
            }
            gw = match reopen(gw, (&open, &config, &health), &mut shutdown).await? {
                Some(gw) => gw,
                None => {
                    stop_http(http).await;
                    tracing::info!("medo-gateway stopped while waiting for the database");
                    return Ok(());
                }
            };
            (watcher, nudges) = watch(&inbound, &control_dir, gw.writers())?;
            continue;
        }
        let wait = match wait_after(result, rescan, &mut failures) {
            Ok(wait) => wait,
            Err(e) => {
                // the backend's connections close off the runtime (a database's client blocks)
                let _ = tokio::task::spawn_blocking(move || drop(gw)).await;
                return Err(e);
            }
        };
        // while failing, the backoff holds: filesystem events (our own retries touch the
        // claimed folder, whose inotify watch followed it out of inbound) must not turn it
        // into a busy loop
        let backing_off = failures > 0;
        tokio::select! {
            _ = &mut shutdown => break,
            _ = nudges.recv(), if !backing_off => {
                // let a burst of events finish before scanning
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
    crate::health::stopping();
    drop(watcher);
    stop_http(http).await;
    tokio::task::spawn_blocking(move || gw.close()).await??;
    tracing::info!("medo-gateway stopped");
    Ok(())
}
