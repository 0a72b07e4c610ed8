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
