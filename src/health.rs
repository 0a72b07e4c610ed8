//! What `/healthz` answers: 200 only while the processing loop has completed a pass within
//! `stale_after` (`[http] health_stale_secs`; by default three rescan periods and half a
//! minute), its last pass did not fail, and the journal's and the store's folders are
//! writable; otherwise 503 with the reason. A service whose loop is stuck (a hung disk, a
//! deadlock) is then restarted by whatever watches it, instead of answering "ok" forever.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The loop's last news.
#[derive(Debug, Default)]
struct News {
    last_pass: Option<Instant>,
    /// The last pass that completed or failed: the loop is alive.
    last_attempt: Option<Instant>,
    failing: Option<String>,
    /// A condition the loop waits out while it runs on (little disk space).
    condition: Option<String>,
}

/// Which part a node of a shared database plays (`[storage] backend = "postgres"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// It holds the lease: it claims, decides and publishes.
    Leader,
    /// Another node leads: it serves the read side and waits to take over.
    Standby,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Standby => "standby",
        }
    }
}

/// A node's part and the database's count of leader changes (the lease's epoch less one:
/// the same figure on every node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leadership {
    pub role: Role,
    pub failovers: u64,
}

/// Shared by the loop (which reports) and the HTTP handler (which asks).
#[derive(Debug)]
pub struct Health {
    news: Mutex<News>,
    /// `None`: one node on its own files (no lease).
    leadership: Mutex<Option<Leadership>>,
    stale_after: Duration,
    /// Folders that must stay writable: the journal's, the store's (on PostgreSQL: the
    /// node's state folder).
    writable: Vec<PathBuf>,
}

impl Health {
    pub fn new(config: &crate::config::Config) -> Health {
        let layout = crate::spool::Layout::new(&config.spool);
        Health {
            news: Mutex::new(News::default()),
            leadership: Mutex::new(None),
            stale_after: Duration::from_secs(config.health_stale_secs),
            writable: match config.storage {
                crate::config::Storage::Files => vec![layout.journal, layout.store],
                // the journal and the index are the database's: the node writes its state
                crate::config::Storage::Postgres { .. } => vec![layout.state, layout.shared_dir],
            },
        }
    }

    /// The node's part now (a standby's wait for the lease reports it at every try, as a
    /// pass: the standby is alive and reads the database).
    pub fn lead_as(&self, leadership: Leadership) {
        *self.leadership.lock().expect("health lock") = Some(leadership);
    }

    /// The node's part, when it shares a database with others.
    pub fn leadership(&self) -> Option<Leadership> {
        *self.leadership.lock().expect("health lock")
    }

    /// A pass completed.
    pub fn pass_done(&self) {
        let mut n = self.news.lock().expect("health lock");
        n.last_pass = Some(Instant::now());
        n.last_attempt = n.last_pass;
        n.failing = None;
    }

    /// A pass failed (the loop retries with back-off).
    pub fn pass_failed(&self, why: &str) {
        let mut n = self.news.lock().expect("health lock");
        n.failing = Some(why.to_string());
        n.last_attempt = Some(Instant::now());
    }

    /// A condition the loop waits out (`None`: none): `/healthz` says 503 with it.
    pub fn condition(&self, why: Option<String>) {
        self.news.lock().expect("health lock").condition = why;
    }

    /// Whether the loop is alive — a pass completed or failed within `stale_after` — however
    /// unhealthy: the systemd watchdog restarts a stuck loop, not one that waits out a
    /// missing folder or a full disk (a restart would exit 2 there, for good).
    pub fn alive(&self) -> bool {
        let n = self.news.lock().expect("health lock");
        n.last_attempt
            .is_some_and(|t| t.elapsed() <= self.stale_after)
    }

    /// `Ok` when healthy, else the reason (English, for machines and logs).
    pub fn check(&self) -> Result<(), String> {
        let (last, failing) = {
            let n = self.news.lock().expect("health lock");
            (
                n.last_pass,
                n.failing.clone().or_else(|| n.condition.clone()),
            )
        };
        let unwritable: Vec<String> = self
            .writable
            .iter()
            .filter(|d| !writable(d))
            .map(|d| d.display().to_string())
            .collect();
        verdict(
            last,
            failing.as_deref(),
            Instant::now(),
            self.stale_after,
            &unwritable,
        )
    }
}

/// Tells systemd the service is ready (`Type=notify`), and — when the unit has a
/// `WatchdogSec` — pings its watchdog every half period while the loop is alive
/// ([`Health::alive`]), so a stuck loop stops the pings and systemd restarts the service; a
/// loop waiting out a condition (503) is not restarted. Outside systemd, nothing.
pub fn tell_systemd(health: std::sync::Arc<Health>) {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let Some(period) = sd_notify::watchdog_enabled() else {
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(period / 2).await;
            if health.alive() {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            } else {
                let why = health.check().err().unwrap_or_default();
                tracing::error!(reason = %why, "the loop is stuck: the systemd watchdog is not pinged");
            }
        }
    });
}

/// Tells systemd the service is stopping.
pub fn stopping() {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
}

/// The verdict over what is known: the last completed pass, the last pass's failure, the
/// folders found unwritable.
pub fn verdict(
    last_pass: Option<Instant>,
    failing: Option<&str>,
    now: Instant,
    stale_after: Duration,
    unwritable: &[String],
) -> Result<(), String> {
    if let Some(dir) = unwritable.first() {
        return Err(format!("{dir} is not writable"));
    }
    if let Some(why) = failing {
        return Err(format!("the last pass failed: {why}"));
    }
    match last_pass {
        None => Err("starting: no pass completed yet".into()),
        Some(t) if now.duration_since(t) > stale_after => Err(format!(
            "no pass completed for {} s (the processing loop is stuck)",
            now.duration_since(t).as_secs()
        )),
        Some(_) => Ok(()),
    }
}

/// Whether this process may write into `dir` (a read-only remount or lost permissions say no).
fn writable(dir: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; access() only reads it
    unsafe { libc::access(path.as_ptr(), libc::W_OK) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_only_after_a_recent_good_pass_with_writable_folders() {
        let t0 = Instant::now();
        let stale = Duration::from_secs(30);
        let later = |s| t0 + Duration::from_secs(s);
        let none: &[String] = &[];
        type Case<'a> = (
            Option<Instant>,
            Option<&'a str>,
            Instant,
            &'a [String],
            Result<(), &'a str>,
        );
        let cases: [Case; 5] = [
            (None, None, later(1), none, Err("starting")),
            (Some(t0), None, later(10), none, Ok(())),
            (
                Some(t0),
                None,
                later(31),
                none,
                Err("no pass completed for 31 s"),
            ),
            (
                Some(t0),
                Some("disk full"),
                later(1),
                none,
                Err("the last pass failed: disk full"),
            ),
            (
                Some(t0),
                None,
                later(1),
                &["/s/journal".to_string()],
                Err("/s/journal is not writable"),
            ),
        ];
        for (last, failing, now, unwritable, want) in cases {
            let got = verdict(last, failing, now, stale, unwritable);
            match (got, want) {
                (Ok(()), Ok(())) => {}
                (Err(e), Err(w)) => assert!(e.starts_with(w), "{e:?} vs {w:?}"),
                (g, w) => panic!("{g:?} vs {w:?}"),
            }
        }
    }
}
