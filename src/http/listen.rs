//! The listeners: a bounded accept loop (at most [`MAX_CONNECTIONS`] at once, per address at
//! most `max_connections_per_address`, headers within [`HEADER_READ_TIMEOUT`], a connection at
//! most [`CONNECTION_LIFETIME`]) on TCP and on the operators' Unix socket.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;

use super::{router, HttpState, Surface};

/// Most connections served at once; more are closed at once (the process's file descriptors
/// belong to the spool first: a flood of idle clients must never stop intake).
pub const MAX_CONNECTIONS: usize = 256;

/// A client must send a request's headers within this time, or the connection is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest a connection lives, whatever it does (a slow body, a kept-alive idle one).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// Serves on a bound listener until `shutdown` resolves: each connection under
/// [`HEADER_READ_TIMEOUT`] and [`CONNECTION_LIFETIME`], at most [`MAX_CONNECTIONS`] at once.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<HttpState>,
    surface: Surface,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(listen = %addr, surface = ?surface, "HTTP API listening");
    }
    let limits = state.config.http_limits.clone();
    let app = router(state, surface);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let per_address = PerAddress::default();
    // refused connections are logged at most every 10 s (a flood must not flood the log)
    let (mut last_warned, mut refused) = (None, 0u64);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // out of descriptors or the like: back off instead of spinning
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // one address cannot take the listener (a trusted proxy speaks for many)
        let Some(held) = per_address.take(peer.ip(), &limits) else {
            refused += 1;
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refused += 1;
            if last_warned.is_none_or(|t: Instant| t.elapsed() >= Duration::from_secs(10)) {
                tracing::warn!(
                    limit = MAX_CONNECTIONS,
                    refused,
                    "too many HTTP connections; closing new ones"
                );
                (last_warned, refused) = (Some(Instant::now()), 0);
            }
            continue;
        };
        tokio::spawn(connection(stream, peer, app.clone(), (slot, held)));
    }
}

/// Connections open per client address on one listener.
#[derive(Debug, Default, Clone)]
pub(super) struct PerAddress(Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>);

/// One connection counted against its address; given back when dropped.
pub(super) struct AddressSlot(Option<(PerAddress, IpAddr)>);

impl PerAddress {
    /// A slot for a connection from `ip`, unless it already holds
    /// `max_connections_per_address` (a trusted proxy is not counted).
    fn take(&self, ip: IpAddr, limits: &crate::config::HttpLimits) -> Option<AddressSlot> {
        if limits.trusts(ip) {
            return Some(AddressSlot(None));
        }
        let mut open = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = open.entry(ip).or_insert(0);
        if *n >= limits.max_connections_per_address {
            return None;
        }
        *n += 1;
        Some(AddressSlot(Some((self.clone(), ip))))
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Some((per, ip)) = self.0.take() {
            let mut open = per
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(n) = open.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&ip);
                }
            }
        }
    }
}

/// Binds the operators' Unix socket at `path` (a stale socket file left by a crash is
/// replaced; anything else there is not), mode 0660: the service's user and group only.
#[cfg(unix)]
pub fn bind_operators_socket(path: &std::path::Path) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.file_type().is_socket() {
            return Err(std::io::Error::other("exists and is not a socket"));
        }
        std::fs::remove_file(path)?;
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

/// Serves the operators' surface on a Unix socket until `shutdown`: the same routes, limits
/// and timeouts as on TCP; whoever may open the socket (mode 0660) is local and trusted as
/// a loopback client is — the socket's mode is the access control.
#[cfg(unix)]
pub async fn serve_unix(
    listener: tokio::net::UnixListener,
    state: Arc<HttpState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(socket = ?listener.local_addr().ok(), "HTTP API listening (operators, Unix socket)");
    let app = router(state, Surface::Operators);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        tokio::spawn(connection(
            stream,
            local,
            app.clone(),
            (slot, AddressSlot(None)),
        ));
    }
}

/// One HTTP/1 connection, bounded in time; the client's address is given to the handlers.
pub(super) async fn connection<S>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    _slots: (tokio::sync::OwnedSemaphorePermit, AddressSlot),
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use tower::ServiceExt;
    let service = hyper::service::service_fn(
        move |mut request: axum::extract::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request.map(axum::body::Body::new))
        },
    );
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let served = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    if let Ok(Err(e)) = tokio::time::timeout(CONNECTION_LIFETIME, served).await {
        tracing::debug!(error = %e, "HTTP connection ended with an error");
    }
}
