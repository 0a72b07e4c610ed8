//! How `appeals list` and `appeals show` read fast, whatever the history: from the running
//! service over its local socket (`state_dir/operator.sock`, mode 0600 — the service answers
//! from its store), or — no service — from the store itself, opened under the instance lock
//! and brought up to the journal's end by applying the journal's tail (what the service does
//! at start); folding the whole journal only when neither can be used (no store yet, another
//! user, the lock held, a store that disagrees with the journal: the service or `store
//! rebuild` settle those). All three give the same output: one [`answer`] over [`Appeals`].

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::book::Appeals;
use crate::config::Config;
use crate::operator;
use crate::spool::{InstanceLock, Layout};
use crate::store::Store;

/// What the operator asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Query {
    /// `appeals list`: after the appeal `after`, at most `limit` rows (`None`: all).
    List {
        overdue: bool,
        /// Only those past the 7-day redirect period with no step (`--undecided`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        undecided: bool,
        due_within: Option<i64>,
        after: u64,
        limit: Option<usize>,
        json: bool,
        /// One body's (`--body`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// `appeals show ID` (`--body`: our number as that body gave it).
    Show {
        id: String,
        json: bool,
        pin: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
}

/// What the command prints: `stdout`, and a note for stderr (where the next page starts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub stdout: String,
    pub note: Option<String>,
}

/// Why a query has no answer: its words, and whether it only needs to be asked more
/// precisely (a number several bodies of a hub gave: `--body`; the CLI exits 2, else 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unanswered {
    pub why: String,
    #[serde(default)]
    pub ambiguous: bool,
}

impl Unanswered {
    fn text(why: String) -> Unanswered {
        Unanswered {
            why,
            ambiguous: false,
        }
    }
}

impl From<medo_core::book::Lookup> for Unanswered {
    fn from(l: medo_core::book::Lookup) -> Unanswered {
        Unanswered {
            ambiguous: matches!(l, medo_core::book::Lookup::OursInBodies { .. }),
            why: l.to_string(),
        }
    }
}

/// The longest request line the socket reads.
const MAX_REQUEST: u64 = 64 * 1024;
/// How long a client may take to ask, and the CLI waits for an answer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The socket's path.
pub fn socket(layout: &Layout) -> PathBuf {
    layout.state.join("operator.sock")
}

/// The answer to `query` over `book` (`pin_secret`: to show the applicant's PIN).
pub fn answer(
    query: &Query,
    book: &dyn Appeals,
    config: &Config,
    pin_secret: Option<&[u8]>,
) -> Result<Answer, Unanswered> {
    let today = operator::today(config);
    match query {
        Query::List {
            overdue,
            undecided,
            due_within,
            after,
            limit,
            json,
            body,
        } => {
            let filters = operator::Filters {
                overdue: *overdue,
                undecided: *undecided,
                within: *due_within,
                body: body.as_deref(),
            };
            let (rows, next) = match limit {
                Some(limit) => operator::page(book, config, today, filters, *after, *limit),
                None => (operator::list(book, config, today, filters), None),
            };
            let note = next.map(|n| {
                format!(
                    "показаны {} обращений; дальше: appeals list --after {n}",
                    rows.len()
                )
            });
            let stdout = match json {
                true => pretty(&rows),
                false => operator::table(&rows),
            };
            Ok(Answer { stdout, note })
        }
        Query::Show {
            id,
            json,
            pin,
            body,
        } => {
            let appeal = book.find_of(body.as_deref(), id)?;
            let secret = pin_secret.filter(|_| *pin);
            let details = operator::details(&appeal, book, config, today, secret);
            let stdout = match json {
                true => pretty(&details),
                false => operator::show_text(&details, config),
            };
            Ok(Answer { stdout, note: None })
        }
    }
}

/// `--json` output: pretty JSON and a newline.
fn pretty<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("reports serialise") + "\n"
}

/// Asks the running service. `None` when no service answers on the socket (not running,
/// an older one, a stale socket file).
pub fn ask(layout: &Layout, query: &Query) -> Option<Result<Answer, Unanswered>> {
    let mut stream = std::os::unix::net::UnixStream::connect(socket(layout)).ok()?;
    stream.set_read_timeout(Some(TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(TIMEOUT)).ok()?;
    let mut line = serde_json::to_vec(query).expect("queries serialise");
    line.push(b'\n');
    stream.write_all(&line).ok()?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).ok()?;
    serde_json::from_str::<Result<Answer, Unanswered>>(&reply).ok()
}

/// The store as of the journal's end, for a command run while the service does not run;
/// `None` when it cannot be used that way (see the module's note): the caller folds the
/// journal then. Holds the instance lock while the store is open.
pub fn store_view(layout: &Layout) -> Option<(InstanceLock, Store)> {
    if !layout.store.is_dir() || !owned_by_us(&layout.state) {
        return None;
    }
    let lock = InstanceLock::acquire(&layout.lock).ok()?;
    let store = Store::open(&layout.store).ok()?;
    if !store.schema_current().ok()? {
        return None;
    }
    let applied = store.applied_seq().ok()??;
    let journal = crate::journal::Folder::new(&layout.journal);
    let records = crate::JournalRead::read_from(&journal, applied).ok()?;
    let head = store.head().ok()?;
    let same = records
        .first()
        .is_some_and(|r| r.seq == applied && Some(&r.hash) == head.as_ref());
    if !same {
        return None;
    }
    for chunk in records[1..].chunks(512) {
        store.apply_all(chunk).ok()?;
    }
    store.flush().ok()?;
    Some((lock, store))
}

/// Whether this process runs as the owner of `state_dir` (another user — root — opening the
/// store would leave files the service cannot replace).
fn owned_by_us(state: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail
    let me = unsafe { libc::geteuid() };
    let mine = std::fs::metadata(state).is_ok_and(|m| m.uid() == me);
    if !mine {
        eprintln!(
            "примечание: {} принадлежит другому пользователю — журнал читается целиком (медленно); запустите команду от имени владельца",
            state.display()
        );
    }
    mine
}

/// The PIN key (`state_dir/pin.key`), read only for a query that shows a PIN.
pub fn pin_secret_for(query: &Query, config: &Config) -> Option<Vec<u8>> {
    match query {
        Query::Show { pin: true, .. } => operator::pin_secret(config),
        _ => None,
    }
}

/// Serves the socket inside `run` until `stop` resolves: one query per connection, answered
/// from the service's store.
pub async fn serve(
    listener: tokio::net::UnixListener,
    config: Config,
    store: Store,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(stop);
    loop {
        let (conn, _) = tokio::select! {
            _ = &mut stop => return Ok(()),
            accepted = listener.accept() => accepted?,
        };
        let (config, store) = (config.clone(), store.clone());
        tokio::spawn(async move {
            if let Err(e) = one_query(conn, config, store).await {
                tracing::warn!(error = %e, "operator socket: a query failed");
            }
        });
    }
}

async fn one_query(
    conn: tokio::net::UnixStream,
    config: Config,
    store: Store,
) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let (read, mut write) = conn.into_split();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(read.take(MAX_REQUEST));
    tokio::time::timeout(TIMEOUT, reader.read_line(&mut line))
        .await
        .map_err(|_| std::io::Error::other("no query within the time"))??;
    let reply = match serde_json::from_str::<Query>(&line) {
        Err(e) => Err(Unanswered::text(format!("not a query: {e}"))),
        Ok(query) => tokio::task::spawn_blocking(move || {
            let secret = pin_secret_for(&query, &config);
            answer(&query, &store, &config, secret.as_deref())
        })
        .await
        .map_err(std::io::Error::other)?,
    };
    let mut out = serde_json::to_vec(&reply).expect("answers serialise");
    out.push(b'\n');
    write.write_all(&out).await
}

/// Binds the socket (a stale file from a killed service removed first: the caller holds the
/// instance lock) and makes it the owner's only.
pub fn bind(layout: &Layout) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let path = socket(layout);
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}
