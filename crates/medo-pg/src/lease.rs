//! One leader among the gateways on one database: a **lease row with an expiry** that the
//! leader renews, and **fencing** — every journal commit inserts its rows only while the
//! row still names this node's epoch and has not expired, in the same statement and
//! transaction. An advisory lock alone cannot see a frozen holder (a SIGSTOPped process
//! keeps its session and its locks); a lease that must be renewed can, and the epoch makes
//! a leader that was paused past its lease unable to commit anything when it wakes, even
//! before it notices.
//!
//! The times are the database server's (`clock_timestamp()`), never a node's own clock: two
//! nodes with skewed clocks still agree on who leads.

use std::time::Duration;

use medo_store::journal::JournalError;
use postgres::{Client, Transaction};

use crate::db;

/// The lease a node holds: who (a name unique to this process's life: node, pid, start) and
/// under which epoch (one more at each takeover).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub holder: String,
    pub epoch: u64,
}

fn interval(lease: Duration) -> f64 {
    lease.as_secs_f64()
}

/// Takes the lease when no node holds a live one (none yet, or the holder's expired): the
/// epoch goes one up, the expiry `lease` from now. `None`: another node's lease is live.
pub fn try_take(
    client: &mut Client,
    holder: &str,
    lease: Duration,
) -> Result<Option<Lease>, JournalError> {
    let row = client
        .query_opt(
            "INSERT INTO medo_lease AS l (id, holder, epoch, expires)
             VALUES (1, $1, 1, clock_timestamp() + make_interval(secs => $2))
             ON CONFLICT (id) DO UPDATE
                SET holder = EXCLUDED.holder, epoch = l.epoch + 1, expires = EXCLUDED.expires
                WHERE l.expires <= clock_timestamp()
             RETURNING holder, epoch",
            &[&holder, &interval(lease)],
        )
        .map_err(db("taking the lease"))?;
    Ok(row.map(|r| Lease {
        holder: r.get(0),
        epoch: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
    }))
}

/// Extends a live lease this node holds; `false` when it has expired or another node took
/// it (a lease that expired is never extended: taking it again is a new epoch).
pub fn renew(client: &mut Client, held: &Lease, lease: Duration) -> Result<bool, JournalError> {
    let n = client
        .execute(
            "UPDATE medo_lease SET expires = clock_timestamp() + make_interval(secs => $3)
             WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires > clock_timestamp()",
            &[&held.holder, &epoch_i64(held.epoch), &interval(lease)],
        )
        .map_err(db("renewing the lease"))?;
    Ok(n == 1)
}

/// Ends a live lease this node holds now (a clean stop: a standby need not wait for it to
/// expire); `false` when it was not live or not ours.
pub fn release(client: &mut Client, held: &Lease) -> Result<bool, JournalError> {
    let n = client
        .execute(
            "UPDATE medo_lease SET expires = clock_timestamp()
             WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires > clock_timestamp()",
            &[&held.holder, &epoch_i64(held.epoch)],
        )
        .map_err(db("releasing the lease"))?;
    Ok(n == 1)
}

/// Who holds the lease, its epoch, and whether it is live (`None`: never taken).
pub fn holder(client: &mut Client) -> Result<Option<(Lease, bool)>, JournalError> {
    let row = client
        .query_opt(
            "SELECT holder, epoch, expires > clock_timestamp() FROM medo_lease WHERE id = 1",
            &[],
        )
        .map_err(db("reading the lease"))?;
    Ok(row.map(|r| {
        let lease = Lease {
            holder: r.get(0),
            epoch: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
        };
        (lease, r.get(2))
    }))
}

fn epoch_i64(epoch: u64) -> i64 {
    i64::try_from(epoch).unwrap_or(i64::MAX)
}

/// Inserts the journal's rows only if `fence` is still the live lease (the row locked `FOR
/// SHARE` until the commit, so a takeover waits for it); without a fence, only while no node
/// holds a live lease. Returns the rows written: fewer than given means fenced off.
pub(crate) fn insert_fenced_raw(
    tx: &mut Transaction<'_>,
    fence: Option<&Lease>,
    seqs: &[i64],
    lines: &[String],
) -> Result<u64, postgres::Error> {
    match fence {
        Some(lease) => tx.execute(
            "WITH lease AS (
                 SELECT 1 FROM medo_lease
                 WHERE id = 1 AND holder = $3 AND epoch = $4 AND expires > clock_timestamp()
                 FOR SHARE)
             INSERT INTO medo_journal (seq, line)
             SELECT s, l FROM unnest($1::bigint[], $2::text[]) AS t(s, l)
             WHERE EXISTS (SELECT 1 FROM lease)",
            &[&seqs, &lines, &lease.holder, &epoch_i64(lease.epoch)],
        ),
        None => tx.execute(
            "INSERT INTO medo_journal (seq, line)
             SELECT s, l FROM unnest($1::bigint[], $2::text[]) AS t(s, l)
             WHERE NOT EXISTS (SELECT 1 FROM medo_lease WHERE expires > clock_timestamp())",
            &[&seqs, &lines],
        ),
    }
}

/// Renews a held lease every third of its length on a connection of its own (the loop's
/// passes may take longer than a lease; a slow pass must not cost the lease). When a renewal
/// is refused — the lease expired or another node took it — [`Keeper::lost`] says so and
/// renewing stops: the node steps down (its commits are fenced off in any case). Dropping the
/// keeper stops it.
pub struct Keeper {
    lost: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Keeper {
    /// Starts renewing `held` (of length `lease`) over connections to `url`.
    pub fn start(url: &str, held: Lease, lease: Duration) -> Keeper {
        let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let (url, flag) = (url.to_string(), lost.clone());
        let thread = std::thread::Builder::new()
            .name("medo-lease".into())
            .spawn(move || keep(&url, &held, lease, &stopped, &flag))
            .expect("a thread for the lease");
        Keeper {
            lost,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Whether the lease was lost (a renewal refused, or none possible before it expired).
    pub fn lost(&self) -> bool {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The keeper's loop: renew, wait a third of the lease (or until stopped), again; a lost
/// connection is made again at the next turn, and a lease not renewed before it would
/// expire is lost.
fn keep(
    url: &str,
    held: &Lease,
    lease: Duration,
    stopped: &std::sync::mpsc::Receiver<()>,
    lost: &std::sync::atomic::AtomicBool,
) {
    let every = lease / 3;
    let mut client: Option<Client> = None;
    let mut renewed_at = std::time::Instant::now();
    loop {
        match stopped.recv_timeout(every) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        if client.as_ref().is_none_or(Client::is_closed) {
            client = Client::connect(url, postgres::NoTls).ok();
        }
        let renewal = client.as_mut().map(|c| renew(c, held, lease));
        match renewal {
            Some(Ok(true)) => renewed_at = std::time::Instant::now(),
            Some(Ok(false)) => break,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "the lease could not be renewed now; trying again");
                client = None;
            }
            None => tracing::warn!("no connection to renew the lease; trying again"),
        }
        if renewed_at.elapsed() >= lease {
            break;
        }
    }
    tracing::error!(
        epoch = held.epoch,
        "the lease is lost: another node may lead now; stepping down"
    );
    lost.store(true, std::sync::atomic::Ordering::SeqCst);
}
