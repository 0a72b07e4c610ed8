//! The run loop: scan → claim → journal → decide → journal → effects → journal, in
//! journal-first order. Owns the spool and a storage backend (`medo_store::Backend`: the
//! journal, the index, the signed notes — the files one unless the composition root opened
//! another, [`Gateway::open_with`]) for the process lifetime.
//!
//! Order of every pass (group-committed: one fsync per step for the whole batch), each step
//! within the pass's [`PassLimits`] (what is left waits for the next pass, which follows at
//! once):
//! 1. claim ready folders from inbound (rename into `claimed/`), hash them → `received`;
//! 2. for each unfinished arrival decide (`parsed`, `duplicate`, `quarantined`, `decided`);
//! 3. effects: publish each decided output (tmp → fsync → rename → dir fsync) → `published`;
//!    move the claimed folder to archive or quarantine → `archived`.
//!
//! The index is updated from journal records only, and flushed before effects. After a crash
//! the journal replays into the store and every unfinished arrival resumes from its last
//! journaled step; effects are idempotent (deterministic names, existing destination = done).
//!
//! Deliberately does not know: who wakes it (file events, timers — the binary's `service`),
//! an async runtime, HTTP, how its numbers are exposed ([`Counters`] is plain data).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use medo_config::Config;
use medo_core::appeals;
use medo_core::decision;
use medo_core::decision::notice::{self as decide, Facts};
use medo_core::outbox;
use medo_spool::control;
use medo_spool::{self as spool, InstanceLock, Layout, Reason, SettleTracker, SpoolError, Verdict};
use medo_store::index::{self as store, Arrival, State};
use medo_store::journal::{Event, Record};
use medo_store::{Backend, Book, Files, Index, Journal, Notary};
use medo_wire::known::Known;
use medo_wire::message::{Body, Message};
use medo_wire::package::{read_message_only, read_package, read_package_gated, Package};

mod applicant;
mod child;
pub mod counters;
mod error;
pub mod forward;
mod intake;
pub mod notify;
mod sign;
pub mod start;
mod strict;
mod verify;
pub mod witness;

pub use counters::Counters;
pub use error::GatewayError;
pub(crate) use strict::StrictStore;

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub claimed: usize,
    pub parsed: usize,
    pub duplicates: usize,
    pub quarantined: usize,
    pub published: usize,
    pub archived: usize,
    /// Complete folders still settling.
    pub settling: usize,
    /// Nothing was claimed for want of disk space: why (`/healthz` says it).
    pub disk_low: Option<String>,
    /// Appeals waiting for their signature checks (run beside the loop).
    pub verifying: usize,
    /// Documents of ours with the signer now (`[signing]`, beside the loop).
    pub signing: usize,
    /// Documents of ours seen waiting for a person's approval this pass.
    pub awaiting_approval: usize,
    /// Applicants' e-mails with the mail worker now (`[smtp]`).
    pub mailing: usize,
    /// Incomplete folders (missing files) not yet overdue.
    pub incomplete: usize,
    /// When to look again at the latest (settling or incomplete folders; zero: work was
    /// left for the next pass by [`PassLimits`]).
    pub next_look: Option<Duration>,
}

/// What one pass takes on at most (TigerBeetle's rule: every loop has a bound): the rest
/// waits for the next pass, which follows at once (`next_look` zero; `run --once` repeats
/// passes until nothing is left, so it still publishes everything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassLimits {
    /// Arrivals decided in one pass (oldest first).
    pub decide: usize,
    /// Arrivals filed away (archive or quarantine) in one pass.
    pub file_away: usize,
    /// Arrivals whose pending outputs are rendered and published in one pass — all of each
    /// one's outputs together.
    pub output_arrivals: usize,
    /// Bytes of rendered packages one pass holds: no further arrival's outputs are rendered
    /// once this is reached (the first arrival's always are).
    pub render_bytes: u64,
}

impl PassLimits {
    pub const DEFAULT: PassLimits = PassLimits {
        decide: 1024,
        file_away: 1024,
        output_arrivals: 256,
        render_bytes: 64 * 1024 * 1024,
    };
}

// a pass takes a whole claimed batch of the default size, and renders several answers at
// the largest size an answer file may have
const _: () = assert!(PassLimits::DEFAULT.decide >= 256);
const _: () =
    assert!(PassLimits::DEFAULT.render_bytes >= 4 * medo_wire::Limits::DEFAULT.max_answer_bytes);

impl PassReport {
    /// Asks for the next pass at once: this one left work by its limits.
    fn again_now(&mut self) {
        self.next_look = Some(Duration::ZERO);
    }

    fn add(&mut self, other: &PassReport) {
        self.claimed += other.claimed;
        self.parsed += other.parsed;
        self.duplicates += other.duplicates;
        self.quarantined += other.quarantined;
        self.published += other.published;
        self.archived += other.archived;
        self.settling = other.settling;
        self.incomplete = other.incomplete;
        self.next_look = other.next_look;
    }
}

/// The time as the gateway keeps it: the system clock, but never before the last journal
/// record. A clock set back (NTP step, a wrong manual change, a restored VM snapshot) must
/// not make the journal run backwards or date a registration before an earlier one; the
/// gateway holds time at the journal's last instant and warns until the clock catches up.
fn monotone_now(last_journaled: Option<&str>, behind_warned: &mut bool) -> OffsetDateTime {
    let system = OffsetDateTime::now_utc();
    let last = last_journaled.and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
    match last {
        Some(last) if system < last => {
            if !*behind_warned {
                tracing::warn!(
                    behind_secs = (last - system).as_seconds_f64(),
                    "the system clock is behind the journal's last record; holding time at that record until the clock catches up"
                );
                *behind_warned = true;
            }
            last
        }
        _ => {
            *behind_warned = false;
            system
        }
    }
}

/// Bytes of envelopes, messages and small containers the package keys keep for the parse
/// (so it reads no file twice); past it a file is read again when parsed. Given back when a
/// pass completes (its kept bytes are dropped then; a pass cut short by an error keeps them
/// until the next completes), so this bounds what is held, whatever the folders hold.
const KEPT_PER_PASS: u64 = 16 * 1024 * 1024;
// a whole message (at the default bound) and a small file can always be kept for the parse
const _: () = assert!(KEPT_PER_PASS >= medo_wire::Limits::DEFAULT.max_message_bytes);
const _: () = assert!(KEPT_PER_PASS >= medo_wire::member::SMALL_FILE_BYTES);

/// How long a count of outbound folders is reused (the gauge and the stale alert).
const OUTBOUND_COUNT_EVERY: Duration = Duration::from_secs(5);

/// Folders in outbound (packages VipNet has not picked up) and the oldest one's age in
/// seconds. The entry type comes from the directory listing; only folders are stat'ed.
fn count_outbound(outbound: &std::path::Path) -> (u64, u64) {
    let now = std::time::SystemTime::now();
    let ages: Vec<u64> = std::fs::read_dir(outbound)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.metadata().ok()?.modified().ok())
                .map(|m| now.duration_since(m).map(|d| d.as_secs()).unwrap_or(0))
                .collect()
        })
        .unwrap_or_default();
    (ages.len() as u64, ages.into_iter().max().unwrap_or(0))
}

/// How often the appeal gauges are counted (a walk over the open appeals' deadline facts).
const COUNT_EVERY: Duration = Duration::from_secs(60);
/// How long after start the appeal gauges are first counted.
const FIRST_COUNT_AFTER: Duration = Duration::from_secs(5);

/// How soon a pass looks again while appeals wait for their signature checks.
const VERIFY_POLL: Duration = Duration::from_millis(100);

/// The gateway: the spool and a storage backend (the files one unless the composition root
/// chose another), owned by one thread at a time.
pub struct Gateway<B: Backend = Files> {
    config: Config,
    /// Each body's policy (`Policy::for_body`, in the bodies' order): a decision takes its
    /// body's.
    policies: Vec<medo_config::Policy>,
    layout: Layout,
    /// The journal, the index over it, the signed notes.
    backend: B,
    tracker: SettleTracker,
    /// Inbound files still open for writing (fed by `run`'s file events).
    writers: std::sync::Arc<spool::Writers>,
    /// The signature verifier's workers and their answers.
    verifiers: verify::Verifiers,
    /// Our signer's worker and its answers (`[signing]`), if configured.
    signers: Option<sign::Signers>,
    /// The applicants' mail worker and its answers (`[smtp]`), if configured.
    mailer: Option<notify::Mailer>,
    /// The witnesses of the journal's notes (`[audit]`), if any.
    witness: Option<witness::Witness>,
    claims: u64,
    /// Claims taken because they stayed incomplete too long, with the reason.
    overdue: HashMap<String, (String, String)>,
    /// What each claimed folder's package key read of its files (claim name → key): its
    /// parse in this pass lists, reads and hashes nothing again. Emptied every pass.
    hashed: HashMap<String, spool::PackageKey>,
    /// Bytes the package keys of this pass may still keep for the parse (reset every pass).
    keep_budget: u64,
    /// When the overdue-appeals gauge was last counted, and the count (a walk over open
    /// appeals: done at most once a minute; the first [`FIRST_COUNT_AFTER`] after start).
    overdue_counted: Option<(std::time::Instant, u64)>,
    /// When outbound was last listed for the waiting-packages gauge and alert, and the
    /// result (a stat per outbound folder: done at most every few seconds, not every pass).
    outbound_counted: Option<(std::time::Instant, (u64, u64))>,
    /// Whether the clock-behind warning was given (once per episode).
    clock_behind_warned: bool,
    /// Hidden originals a claim by copy could not copy (said once each, not every pass).
    uncopied: std::collections::HashSet<String>,
    /// Held outputs that wait for something under way (approval, the signer), not broken:
    /// not counted as held for the alert.
    waits: HashSet<String>,
    /// Whether the little-disk-space warning was given (once per episode).
    disk_warned: bool,
    /// Inbound folders the last scan left unclaimed (settling, incomplete, beyond the
    /// batch, or a claim that failed for now).
    unclaimed: HashSet<std::ffi::OsString>,
    /// Re-sends wait for these: the folders unclaimed when the re-sends fell due (a receipt
    /// for our document may wait among them). `None` while nothing is due.
    resend_gate: Option<HashSet<std::ffi::OsString>>,
    /// Outputs that could not be rendered: output name → (its arrival, why).
    held: HashMap<String, (u64, String)>,
    /// What a pass takes on at most.
    limits: PassLimits,
    /// How each claimed folder looked when it was read for its decision (claim → snapshot):
    /// a folder changed since is checked again before it is archived.
    read_as: HashMap<String, spool::Snapshot>,
    /// The operator command queue (`state_dir/control/`).
    queue: control::Folder,
    /// Secret for PINs (`state_dir/pin.key`).
    pin_secret: Vec<u8>,
    /// What `/metrics` shows.
    metrics: Counters,
    /// Signs journal checkpoints (`state_dir/checkpoint.key`).
    checkpoint_key: ed25519_dalek::SigningKey,
    _lock: InstanceLock,
}

impl Gateway<Files> {
    /// Takes the lock, prepares the folders, opens the files backend ([`start::open_files`]:
    /// the journal checked, the store caught up or rebuilt), clears `tmp/`, adopts claimed
    /// folders the journal does not know, and journals `service_start`.
    pub fn open(config: Config) -> Result<Gateway, GatewayError> {
        Gateway::open_with(config, start::open_files)
    }
}

impl<B: Backend> Gateway<B> {
    /// [`Gateway::open`] over the backend `open_backend` opens and checks (the composition
    /// root chooses it).
    pub fn open_with(
        config: Config,
        open_backend: impl FnOnce(&start::Start) -> Result<start::Opened<B>, GatewayError>,
    ) -> Result<Gateway<B>, GatewayError> {
        let mut layout = Layout::new(&config.spool);
        check_folders(&config, &layout)?;
        let lock = InstanceLock::acquire(&layout.lock)?;
        spool::prepare(&mut layout)?;
        let accepted = medo_spool::recovery::waiting(&layout.state);
        let opened = open_backend(&start::Start {
            config: &config,
            layout: &layout,
            accepted: accepted.as_ref(),
        })?;
        tidy(&layout, opened.backend.index());
        let verifiers = verify::Verifiers::new(
            config.signature_verifier.clone(),
            Duration::from_secs(config.signature_timeout_secs.max(1)),
            config.limits.clone(),
        );
        let signers = config.signing.as_ref().map(|s| {
            let timeout = Duration::from_secs(s.timeout_secs);
            sign::Signers::new(s.command.clone(), timeout, layout.tmp.clone())
        });
        let mailer = config.smtp.clone().map(notify::Mailer::new);
        let queue = control::Folder::new(&layout.shared_dir);
        let policies = config
            .policy
            .bodies
            .iter()
            .map(|b| config.policy.for_body(&b.id).expect("a body of the policy"))
            .collect();
        let mut gw = Gateway {
            config,
            policies,
            layout,
            backend: opened.backend,
            tracker: SettleTracker::default(),
            verifiers,
            signers,
            mailer,
            witness: opened.witness,
            writers: Default::default(),
            claims: 0,
            overdue: HashMap::new(),
            hashed: HashMap::new(),
            keep_budget: KEPT_PER_PASS,
            // the first count waits a few seconds: a walk over a region's open appeals is
            // no part of a restart (/healthz answers after the first pass)
            overdue_counted: std::time::Instant::now()
                .checked_sub(COUNT_EVERY - FIRST_COUNT_AFTER)
                .map(|at| (at, 0)),
            outbound_counted: None,
            clock_behind_warned: false,
            uncopied: Default::default(),
            waits: HashSet::new(),
            disk_warned: false,
            unclaimed: HashSet::new(),
            resend_gate: None,
            held: HashMap::new(),
            limits: PassLimits::DEFAULT,
            read_as: HashMap::new(),
            pin_secret: opened.pin_secret,
            queue,
            metrics: Counters::default(),
            checkpoint_key: opened.checkpoint_key,
            _lock: lock,
        };
        gw.journal_start(accepted, opened.restored)?;
        if gw.layout.claim_by_copy {
            // copies a crash cut short (their originals are still hidden in inbound)
            spool::crossing::clear_parts(&gw.layout);
        }
        gw.resume_copy_claims()?;
        gw.adopt_orphan_claims()?;
        Ok(gw)
    }

    /// Journals `service_start`, and the operator's acceptance of lost pieces when one waits
    /// (taken: the next start does not see it again).
    fn journal_start(
        &mut self,
        accepted: Option<medo_spool::recovery::Accepted>,
        restored: Vec<medo_store::checkpoint::Sequences>,
    ) -> Result<(), GatewayError> {
        self.commit(vec![Event::ServiceStart {
            version: env!("CARGO_PKG_VERSION").to_string(),
        }])?;
        if let Some(a) = accepted {
            tracing::warn!(missing = ?a.missing, "an operator accepted lost state pieces: made anew and journaled");
            self.commit(vec![Event::JournalRecovered {
                missing: a.missing.iter().map(|p| p.name().to_string()).collect(),
                comment: a.comment,
                operator: a.operator,
                sequences: restored,
            }])?;
            medo_spool::recovery::taken(&self.layout.state);
        }
        Ok(())
    }

    /// Now, never before the last journal record (see [`monotone_now`]).
    fn now(&mut self) -> (OffsetDateTime, String) {
        let now = monotone_now(
            self.backend.journal().last_ts(),
            &mut self.clock_behind_warned,
        );
        let text = now.format(&Rfc3339).expect("UTC times format");
        (now, text)
    }

    /// Sets what one pass takes on at most (tests drive the bounds with small ones).
    pub fn set_pass_limits(&mut self, limits: PassLimits) {
        self.limits = limits;
    }

    /// What the file events tell of inbound files still being written (`run` feeds it).
    pub fn writers(&self) -> std::sync::Arc<spool::Writers> {
        self.writers.clone()
    }

    /// The config in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The appeals as of the last commit (the backend's index holds them).
    pub fn appeals(&self) -> &B::Index {
        self.backend.index()
    }

    /// Sends our documents again that got no receipt in time (same message uid, a new folder),
    /// and alerts after `ESCALATE_AFTER` re-sends.
    fn resend_due(&mut self) -> Result<(), GatewayError> {
        let (now, _) = self.now();
        let waiting = self.backend.index().waiting()?;
        let due = medo_core::resend::due(waiting, now, &self.config.resend_after_secs);
        if due.is_empty() {
            self.resend_gate = None;
            return Ok(());
        }
        // every folder that waited in inbound when these fell due is read first: a receipt
        // for one of them may be there (after an outage it usually is). Folders that came
        // later do not hold them, so a steady inflow cannot hold re-sends for ever.
        let gate = self
            .resend_gate
            .get_or_insert_with(|| self.unclaimed.clone());
        gate.retain(|name| self.unclaimed.contains(name));
        if !gate.is_empty() {
            tracing::debug!(
                due = due.len(),
                waiting_folders = gate.len(),
                "re-sends held until the folders waiting in inbound are read"
            );
            return Ok(());
        }
        self.resend_gate = None;
        let strict = StrictStore::new(self.backend.index().clone());
        let ctx = self.context(now);
        let events: Vec<Event> = due
            .iter()
            .map(|w| {
                let attempt = w.resends + 1;
                if attempt >= medo_core::resend::ESCALATE_AFTER {
                    tracing::warn!(message_uid = %w.output.message_uid, attempt, "no receipt for our document after repeated sending: check with the partner");
                }
                medo_core::decision::resend(w, &strict, ctx)
            })
            .collect();
        strict.take_error()?;
        self.commit(events)?;
        Ok(())
    }

    /// Outbound packages VipNet has not picked up: how many, and the oldest age in seconds.
    /// Listed at most every [`OUTBOUND_COUNT_EVERY`]: after an outage outbound holds tens of
    /// thousands of folders, and a listing per pass made a backlog quadratic.
    fn outbound_backlog(&mut self) -> (u64, u64) {
        if let Some((at, counted)) = self.outbound_counted {
            if at.elapsed() < OUTBOUND_COUNT_EVERY {
                return counted;
            }
        }
        let counted = count_outbound(&self.layout.outbound);
        self.outbound_counted = Some((std::time::Instant::now(), counted));
        counted
    }

    /// Warns when outbound packages wait longer than `outbound_stale_secs` (VipNet is not
    /// picking them up).
    fn check_outbound(&mut self) {
        let (waiting, oldest) = self.outbound_backlog();
        if waiting > 0 && oldest > self.config.spool.outbound_stale_secs {
            tracing::warn!(
                waiting,
                oldest_secs = oldest,
                "outbound packages are not being picked up by VipNet"
            );
        }
    }

    /// The metrics after a pass: counters from the journal records of this process, gauges
    /// measured now.
    pub fn counters(&mut self, report: &PassReport) -> Counters {
        let today = today(&self.config);
        self.metrics.in_flight = self.backend.index().unfinished_count() as u64;
        self.metrics.inbound_waiting = (report.settling + report.incomplete) as u64;
        let (waiting, oldest) = self.outbound_backlog();
        self.metrics.outbound_waiting = waiting;
        self.metrics.outbound_oldest_secs = oldest;
        self.metrics.quarantine_now = std::fs::read_dir(&self.layout.quarantine)
            .map(|rd| rd.count() as u64)
            .unwrap_or(0);
        self.count_appeals(today);
        self.waits.retain(|n| self.held.contains_key(n));
        self.metrics.outputs_held = (self.held.len() - self.waits.len()) as u64;
        self.count_approvals();
        self.metrics.held = self
            .held
            .iter()
            .take(counters::HELD_SHOWN)
            .map(|(n, (_, why))| (n.clone(), why.clone()))
            .collect();
        self.metrics.commands_poisoned = control::Queue::poisoned_count(&self.queue) as u64;
        self.metrics.journal_records = self.backend.journal().next_seq();
        self.metrics.last_scan_unix = OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9;
        self.metrics.clone()
    }

    /// Documents waiting for a person's approval, and how many of them longer than
    /// `approval_alert_secs` (when approval is configured).
    fn count_approvals(&mut self) {
        let approval = self.config.approval;
        if !approval.queries && !approval.reports {
            return;
        }
        let Ok(waiting) = self.awaiting_approval() else {
            return; // a read error shows in the pass itself
        };
        let index = self.backend.index();
        let now = OffsetDateTime::now_utc();
        let ages: Vec<i64> = waiting
            .iter()
            .filter(|(_, o)| !index.approved(&o.name).unwrap_or(false))
            .map(|(_, o)| {
                OffsetDateTime::parse(&o.created, &Rfc3339)
                    .map_or(0, |at| (now - at).whole_seconds())
            })
            .collect();
        self.metrics.awaiting_approval = ages.len() as u64;
        self.metrics.approval_overdue = ages
            .iter()
            .filter(|&&a| a > approval.alert_secs as i64)
            .count() as u64;
    }

    /// Appeals past their deadline (and, in a hub, every body's figures), counted at most
    /// once a minute (a walk over the open appeals' deadline facts).
    fn count_appeals(&mut self, today: time::Date) {
        if let Some((at, _)) = self.overdue_counted {
            if at.elapsed() < COUNT_EVERY {
                return;
            }
        }
        let (index, policy) = (self.backend.index(), &self.config.policy);
        let figures = medo_core::due::by_body(index, policy, today);
        let n = figures.values().map(|f| f.overdue).sum();
        self.metrics.undecided_appeals = figures.values().map(|f| f.undecided).sum();
        if policy.hub {
            self.metrics.by_body = figures
                .into_iter()
                .map(|(b, f)| (b.to_string(), f))
                .collect();
            self.metrics.arrivals_held = medo_core::book::Appeals::unrouted(index).len() as u64;
        }
        self.metrics.hub = policy.hub;
        self.metrics.overdue_appeals = n;
        self.overdue_counted = Some((std::time::Instant::now(), n));
    }

    /// Journals events (one fsync), signs the anchor (and a checkpoint when one is due),
    /// applies them to the store, flushes the store — one `medo_store::commit`, which asserts
    /// that the records continue the journal and that the store ends where the journal ends.
    fn commit(&mut self, events: Vec<Event>) -> Result<Vec<Record>, GatewayError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (_, ts) = self.now();
        let origin = self.checkpoint_origin();
        let notary = Notary {
            key: &self.checkpoint_key,
            origin: &origin,
            every: self.config.checkpoint_every,
        };
        let records = self
            .backend
            .commit(events, &ts, &notary)
            .map_err(|e| match e {
                medo_store::CommitError::Journal(e) => GatewayError::Journal(e),
                medo_store::CommitError::Index(e) => GatewayError::Store(e),
                medo_store::CommitError::Between(why) => GatewayError::Checkpoint(why),
            })?;
        for r in &records {
            self.metrics.record(r);
        }
        self.hand_to_witness()?;
        Ok(records)
    }

    /// Claimed folders without a `received` record (a crash between the rename and the
    /// journal write) become arrivals now. Claimed by copy, a folder is only a copy: one
    /// whose hidden original is gone from inbound was finished by a leader before this one
    /// (or put back) — it is removed, never received again (the index forgets the claims of
    /// finished arrivals, so "unknown" alone would make a second arrival of it).
    fn adopt_orphan_claims(&mut self) -> Result<(), GatewayError> {
        let names = spool::claimed(&self.layout).map_err(|source| GatewayError::Io {
            doing: "прочитать папку",
            path: self.layout.claimed.clone(),
            source,
        })?;
        let originals: std::collections::HashSet<String> = spool::crossing::claiming(&self.layout)?
            .into_iter()
            .map(|c| c.claim)
            .collect();
        let mut events = Vec::new();
        for claim in names {
            if self.backend.index().by_claim(&claim)?.is_some() {
                continue;
            }
            if self.layout.claim_by_copy && !originals.contains(&claim) {
                spool::crossing::drop_stale_copy(&self.layout, &claim)?;
                continue;
            }
            tracing::warn!(claim = %claim, "adopting a claimed folder the journal does not know (crash after claim)");
            events.push(self.received_event(&claim, &claim)?);
        }
        self.commit(events)?;
        Ok(())
    }

    /// Takes up the folders of inbound a claim by copy hid ([`spool::crossing`]) where a
    /// crash — of this node, or of the leader before it — left them: never journaled →
    /// copied and journaled now under the same claim (not a second arrival); journaled and
    /// not at rest without a copy here → copied again; at rest → the original is removed.
    fn resume_copy_claims(&mut self) -> Result<(), GatewayError> {
        use spool::crossing;
        if !self.layout.claim_by_copy {
            return Ok(());
        }
        let (mut events, mut rested) = (Vec::new(), Vec::new());
        for c in crossing::claiming(&self.layout)? {
            let index = self.backend.index();
            let known = match index.by_claim(&c.claim)? {
                Some(n) => index.arrival(n)?,
                None => None,
            };
            if known.as_ref().is_some_and(|a| a.state == State::Done) {
                rested.push(c);
                continue;
            }
            // journaled: copied again only before its decision — later, filing away copies
            // what is neither claimed nor at rest here (`copy_missing`)
            let before_decision = |a: &Arrival| matches!(a.state, State::Received | State::Parsed);
            if known
                .as_ref()
                .is_some_and(|a| !before_decision(a) || self.layout.claimed.join(&c.claim).exists())
            {
                continue;
            }
            if let Err(e) = crossing::copy_in(&self.layout, &c.path, &c.claim) {
                if self.uncopied.insert(c.claim.clone()) {
                    tracing::error!(claim = %c.claim, error = %e, "cannot copy a package being claimed; its original stays hidden in inbound and is tried again every pass");
                }
                continue;
            }
            self.uncopied.remove(&c.claim);
            if known.is_none() {
                tracing::warn!(claim = %c.claim, "taking up a claim by copy the journal does not know (crash after the copy)");
                let shown = medo_wire::text::display_name(&c.name);
                events.push(self.received_event(&shown, &c.claim)?);
            }
        }
        crossing::forget_originals(&self.layout, &rested)?;
        if !events.is_empty() {
            spool::sync_claims(&self.layout)?;
            self.commit(events)?;
        }
        Ok(())
    }

    /// The `received` record of a claimed folder. A folder whose files cannot be read (no
    /// rights, a file gone) is received under a key of its claim and quarantined
    /// («unreadable») — it never holds up the rest; a machine's error (descriptors, memory,
    /// I/O) stops the pass and is retried.
    fn received_event(&mut self, src: &str, claim: &str) -> Result<Event, GatewayError> {
        let dir = self.layout.claimed.join(claim);
        let (key, files, bytes) = match spool::package_key_digests(
            &dir,
            self.config.limits.max_package_files,
            &mut self.keep_budget,
        ) {
            Ok(k) => {
                let summary = (k.key.clone(), k.files, k.bytes);
                self.hashed.insert(claim.to_string(), k);
                summary
            }
            Err(e) if package_fault(&e) => {
                tracing::error!(folder = %src, error = %e, "cannot read a package's files; it is quarantined as unreadable");
                let why = format!("cannot read the package's files: {e}");
                self.overdue
                    .insert(claim.to_string(), ("unreadable".into(), why));
                let key = hex::encode(<medo_wire::hash::Sha256 as sha2::Digest>::digest(format!(
                    "unreadable/{claim}"
                )));
                (key, 0, 0)
            }
            Err(e) => {
                return Err(SpoolError::Transient {
                    what: format!("cannot hash {}", dir.display()),
                    source: e,
                }
                .into())
            }
        };
        Ok(Event::Received {
            key: key.into(),
            src: src.to_string(),
            claim: claim.to_string(),
            files,
            bytes,
        })
    }

    /// Whether the backend lost the right to commit (a database's lease): the caller drops
    /// this gateway and opens it again ([`medo_store::Backend::stepped_down`]).
    pub fn stepped_down(&self) -> bool {
        self.backend.stepped_down()
    }

    /// One full cycle: scan and claim, decide, operator commands, re-sends (only once every
    /// folder that waited in inbound when they fell due was read), publish and file away.
    pub fn pass(&mut self) -> Result<PassReport, GatewayError> {
        let mut report = self.claim_ready()?;
        self.decide_all(&mut report)?;
        self.process_commands()?;
        self.resend_due()?;
        self.effects(&mut report)?;
        self.notify_applicants(&mut report)?;
        self.check_outbound();
        self.hashed.clear();
        self.keep_budget = KEPT_PER_PASS;
        Ok(report)
    }

    /// Why nothing may be claimed now for want of disk space (`[spool] min_free_mib`), if so;
    /// the free space is kept for `/metrics`. Warned once per episode.
    fn disk_low(&mut self) -> Option<String> {
        let free = spool::free_bytes(&self.layout.state)?;
        self.metrics.disk_free_bytes = free;
        let min = self.config.spool.min_free_bytes;
        if free >= min {
            self.disk_warned = false;
            return None;
        }
        let why = format!(
            "мало места: {} МиБ свободно, нужно не меньше {} МиБ ([spool] min_free_mib) — пакеты не принимаются",
            free >> 20,
            min >> 20
        );
        if !std::mem::replace(&mut self.disk_warned, true) {
            tracing::warn!(
                free_bytes = free,
                min_free_bytes = min,
                "little disk space left: nothing is claimed until there is more"
            );
        }
        Some(why)
    }

    /// Scans inbound and claims what is ready (or overdue).
    fn claim_ready(&mut self) -> Result<PassReport, GatewayError> {
        let mut report = PassReport::default();
        // a transport folder gone for a moment: wait for it (transient); a folder swapped for
        // a link into state_dir since the start: stop before claiming
        spool::inbound_present(&self.layout)?;
        spool::check_layout(&self.layout, true)?;
        self.resume_copy_claims()?;
        if self.layout.shared_apart() {
            // claimed folders every node reaches: one an earlier leader claimed and did not
            // journal (it died, or was fenced off mid-claim) becomes an arrival here
            self.adopt_orphan_claims()?;
        }
        if let Some(why) = self.disk_low() {
            report.disk_low = Some(why);
            report.next_look = Some(Duration::from_secs(
                self.config.spool.rescan_secs.clamp(1, 10),
            ));
            return Ok(report);
        }
        let names = spool::scan_inbound(&self.layout.inbound, spool::MAX_INBOUND_FOLDERS)?;
        self.tracker.retain(&names);
        let now = Instant::now();
        // (name shown, claim, name in inbound)
        let mut claimed: Vec<(String, String, std::ffi::OsString)> = Vec::new();
        self.unclaimed.clear();
        for (i, name) in names.iter().enumerate() {
            if claimed.len() >= self.config.spool.max_batch {
                report.next_look = Some(Duration::ZERO);
                self.unclaimed.extend(names[i..].iter().cloned());
                break;
            }
            let dir = self.layout.inbound.join(name);
            let within = Duration::from_secs(self.config.spool.incomplete_after_secs);
            let writing = self.writers.busy(name, within);
            let config = (&self.config.spool, &self.config.limits);
            match self.tracker.judge(name, &dir, now, config, writing) {
                Verdict::Wait { after, settling } => {
                    self.unclaimed.insert(name.clone());
                    report.next_look = Some(report.next_look.map_or(after, |n| n.min(after)));
                    if settling {
                        report.settling += 1;
                    } else {
                        report.incomplete += 1;
                    }
                }
                verdict => {
                    if let Some(claim) = self.claim_one(name, verdict)? {
                        claimed.push((medo_wire::text::display_name(name), claim, name.clone()));
                        report.claimed += 1;
                    }
                }
            }
        }
        if claimed.is_empty() {
            return Ok(report);
        }
        self.journal_claims(&claimed, &mut report)?;
        Ok(report)
    }

    /// Renames one ready (or overdue) folder into `claimed/`: its claim name, or `None` when
    /// the rename failed for now (tried again next pass).
    fn claim_one(
        &mut self,
        name: &std::ffi::OsString,
        verdict: Verdict,
    ) -> Result<Option<String>, GatewayError> {
        self.claims += 1;
        let claim = spool::claim_name(self.claims);
        match spool::claim(&self.layout, name, &claim) {
            Ok(_) => self.writers.forget(name),
            Err(SpoolError::Transient { what, source }) => {
                let folder = medo_wire::text::display_name(name);
                tracing::warn!(folder = %folder, error = %source, "{what}; will retry");
                self.unclaimed.insert(name.clone());
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
        if let Verdict::Overdue(why) = verdict {
            self.overdue
                .insert(claim.clone(), ("incomplete".into(), why));
        }
        Ok(Some(claim))
    }

    /// Syncs the batch's claims and journals each as `received` (one fsync) — but a folder
    /// that changed since it was judged ready, which goes back to inbound unjournaled.
    fn journal_claims(
        &mut self,
        claimed: &[(String, String, std::ffi::OsString)],
        report: &mut PassReport,
    ) -> Result<(), GatewayError> {
        spool::sync_claims(&self.layout)?;
        medo_stdx::fault::point("after-claim-sync");
        let mut events = Vec::with_capacity(claimed.len());
        for (shown, claim, name) in claimed {
            // taken as overdue before hashing (an unreadable package is still checked below)
            let overdue = self.overdue.contains_key(claim);
            let event = self.received_event(shown, claim)?;
            // hashed as it is now: a file that changed since the folder was judged ready was
            // still being written — the folder goes back to inbound, nothing journaled
            if !overdue && !self.still_as_judged(name, claim) {
                report.claimed -= 1;
                continue;
            }
            events.push(event);
        }
        self.commit(events)?;
        Ok(())
    }

    /// Whether the claimed folder still looks as it did when judged ready; if not, it is put
    /// back into inbound under its name (to settle again) and forgotten by this pass.
    /// (Claimed by copy: its hidden original is looked at — a writer still at it writes
    /// there — and given back.)
    fn still_as_judged(&mut self, name: &std::ffi::OsStr, claim: &str) -> bool {
        let dir = self.layout.claimed.join(claim);
        let max = self.config.limits.max_package_files;
        let look_at = match self.layout.claim_by_copy {
            true => spool::crossing::original(&self.layout, claim, name),
            false => dir.clone(),
        };
        match self.tracker.unchanged_since_ready(name, &look_at, max) {
            spool::SinceReady::Unwatched => return true,
            spool::SinceReady::Unchanged(snap) => {
                // the baseline the decision's read is compared with before filing away
                self.read_as.insert(claim.to_string(), snap);
                return true;
            }
            spool::SinceReady::Changed => {}
        }
        let back = self.layout.inbound.join(name);
        let given_back = match self.layout.claim_by_copy {
            true => spool::crossing::put_back(&self.layout, claim, name),
            false => !back.exists() && std::fs::rename(&dir, &back).is_ok(),
        };
        if !given_back {
            return true; // cannot put it back: taken as it is (its digests are journaled)
        }
        self.hashed.remove(claim);
        self.overdue.remove(claim);
        tracing::warn!(folder = %medo_wire::text::display_name(name), "a file changed while the package was being taken: put back to settle");
        false
    }

    /// Decides every arrival that is received or parsed but not yet decided.
    fn decide_all(&mut self, report: &mut PassReport) -> Result<(), GatewayError> {
        let undecided = |a: &Arrival| matches!(a.state, State::Received | State::Parsed);
        let page = self
            .backend
            .index()
            .unfinished_oldest(self.limits.decide, &undecided)?;
        let pending = page.items;
        // the book as of the previous decision: the store plus what this batch decided
        let strict = StrictStore::new(self.backend.index().clone());
        let mut batch = intake::Batch::new(&strict);
        let mut events = Vec::new();
        // queries last: an answer says what the gateway knows when it answers, and after an
        // outage one batch holds both the appeals and the queries about them
        let mut queries = Vec::new();
        for a in pending {
            match self.decide_one(&a, &mut batch, report, true)? {
                Some(decided) => events.extend(decided),
                None => queries.push(a),
            }
        }
        for a in queries {
            events.extend(
                self.decide_one(&a, &mut batch, report, false)?
                    .unwrap_or_default(),
            );
        }
        let decided_some = !events.is_empty();
        self.commit(events)?;
        // more wait beyond this pass's limit: the next pass follows at once — unless none of
        // these could be decided (all wait for the verifier: its poll, not a spin)
        if page.more && decided_some {
            report.again_now();
        }
        if report.verifying > 0 {
            // signatures checked beside the loop: look again soon for their answers
            let soon = VERIFY_POLL;
            report.next_look = Some(report.next_look.map_or(soon, |n| n.min(soon)));
        }
        Ok(())
    }

    /// Reads a claimed arrival's package (the files its key already read are not read
    /// again), or why it is quarantined (claimed overdue, or unreadable: code and words);
    /// notes how the folder looked when read, compared again before it is filed away.
    fn read_claimed(&mut self, a: &Arrival) -> Result<Package, (String, String)> {
        let dir = self.layout.claimed.join(&a.claim);
        let read = match self.overdue.remove(&a.claim) {
            Some((code, why)) if code == "incomplete" => Err((
                code,
                format!("still incomplete after incomplete_after_secs: {why}"),
            )),
            Some(quarantine) => Err(quarantine),
            None => {
                // names written in windows-1251 read as the envelope lists them; when the
                // package key, just after the claim, saw only UTF-8 names there is nothing to
                // rename (the claimed copy is ours alone) and the folder is not listed again
                let hashed = self.hashed.remove(&a.claim);
                let renamed = match &hashed {
                    Some(k) if k.read.iter().all(|(name, _)| name.to_str().is_some()) => Vec::new(),
                    _ => spool::normalize_names(&dir),
                };
                if !renamed.is_empty() {
                    self.read_as.remove(&a.claim); // renamed by us: its look is taken anew
                    tracing::info!(
                        arrival = a.arrival,
                        files = renamed.len(),
                        "file names in windows-1251 renamed to their UTF-8 reading"
                    );
                }
                let known = hashed.map_or_else(Known::default, |k| {
                    Known::from_read(k.read, k.listing_complete, &renamed)
                });
                // a container is inflated only for a sender we know: a stranger's package is
                // quarantined from its message, at no cost of inflating
                let known_sender =
                    |m: &Message| self.config.policy.partner(&m.header.source.uid).is_some();
                read_package_gated(&dir, &self.config.limits, &known, &known_sender)
                    .map_err(|e| (e.code().to_string(), e.to_string()))
            }
        };
        // what the folder looked like when read: compared again before it is filed away
        // (taken at the claim when it was judged there; else here, once)
        if !self.read_as.contains_key(&a.claim) {
            if let Ok(snap) = spool::snapshot(&dir, self.config.limits.max_package_files) {
                self.read_as.insert(a.claim.clone(), snap);
            }
        }
        read
    }

    /// One arrival's records: `quarantined`, or `parsed` (and `duplicate`), the book's events
    /// and `decided`. The book's records come before `decided`, which closes the arrival's
    /// decision: a batch cut short by a crash is decided again, never half-applied.
    /// `None`: a query, left for after the batch's other arrivals (`defer_queries`).
    fn decide_one(
        &mut self,
        a: &Arrival,
        batch: &mut intake::Batch<'_>,
        report: &mut PassReport,
        defer_queries: bool,
    ) -> Result<Option<Vec<Event>>, GatewayError> {
        let (now, _) = self.now();
        let mut events = Vec::new();
        let package = match self.read_claimed(a) {
            Ok(p) => p,
            Err((code, why)) => {
                let dir = self.layout.claimed.join(&a.claim);
                let message = read_message_only(&dir, &self.config.limits).ok();
                self.quarantine_events(a, &code, &why, message.as_ref(), now, &mut events);
                report.quarantined += 1;
                return Ok(Some(events));
            }
        };
        let facts = facts_of(&package.message);
        let input = match self.config.policy.partner(&facts.source_uid).is_some()
            || self.operator_rejection(&package)?
        {
            true => Some(self.gather(a, &package, &facts)?),
            false => None,
        };
        if defer_queries
            && input
                .as_ref()
                .is_some_and(|i| decision::is_query(i, &self.config.policy))
        {
            return Ok(None);
        }
        if a.state == State::Received {
            events.push(parsed_event(a, &package, &facts));
            report.parsed += 1;
        }
        let Some(mut input) = input else {
            let (code, msg) = unknown_sender(&package, &facts);
            let message = Some(&package.message);
            self.quarantine_events(a, code, &msg, message, now, &mut events);
            report.quarantined += 1;
            return Ok(Some(events));
        };
        // a new appeal's signatures are checked beside the loop: it waits, nothing else does
        if !self.signatures_ready(&mut input, a, &package, batch) {
            report.verifying += 1;
            return Ok(Some(events));
        }
        let duplicate = batch.duplicate_of(self.backend.index(), a, &facts.header_uid)?;
        if let Some((of, by)) = duplicate {
            events.push(duplicate_event(a, of, by));
            report.duplicates += 1;
        }
        input.duplicate_of = duplicate;
        self.verifiers.forget(a.arrival);
        let body = match self.route(&input, batch)? {
            decision::Route::Bodies(bodies) => {
                input.bodies = bodies;
                input.bodies[0].clone()
            }
            decision::Route::NotOurs => self.config.policy.body_in_force().id.clone(),
            decision::Route::Unroutable { candidates } => {
                // held for the hub's operator: nothing answered until a body is assigned
                tracing::warn!(
                    arrival = a.arrival,
                    ?candidates,
                    "a package for no body of the hub: held for the operator (appeals assign)"
                );
                events.push(Event::Unrouted {
                    arrival: a.arrival,
                    key: a.key.clone(),
                    candidates,
                });
                events.push(Event::Decided {
                    arrival: a.arrival,
                    key: a.key.clone(),
                    outputs: Vec::new(),
                });
                return Ok(Some(events));
            }
        };
        let receipt = self.receipt_for(a, &facts, now, &body);
        events.extend(self.book_events(input, now, batch, &body)?);
        events.push(Event::Decided {
            arrival: a.arrival,
            key: a.key.clone(),
            outputs: receipt.into_iter().collect(),
        });
        Ok(Some(events))
    }

    /// The policy of `body` (the node's when it serves no such body).
    fn policy_of(&self, body: &str) -> &medo_config::Policy {
        self.config
            .policy
            .position(body)
            .and_then(|i| self.policies.get(i))
            .unwrap_or(&self.config.policy)
    }

    /// The positive receipt an arrival gets, if its kind wants one and its sender is a
    /// partner — from the body it is for.
    fn receipt_for(
        &self,
        a: &Arrival,
        facts: &Facts,
        now: OffsetDateTime,
        body: &str,
    ) -> Option<medo_model::Output> {
        let policy = self.policy_of(body);
        if !decide::wants_receipt(&facts.header_type, policy) {
            return None;
        }
        decide::receipt(policy, a.arrival, &a.key, facts, true, None, now)
    }

    /// Whether a package is the МЭДО operator's error receipt about one of our messages: the
    /// operator is no partner of ours, but its rejection of our message is taken from
    /// whoever sent it; anything else from an unknown sender is quarantined.
    fn operator_rejection(&self, package: &Package) -> Result<bool, GatewayError> {
        Ok(match &package.message.body {
            Body::Acknowledgment(ack) if ack.is_operator_error() => {
                self.receipt_input(ack)?.ours.is_some()
            }
            _ => false,
        })
    }

    /// Journals a quarantine decision, with a negative receipt when the header could be read
    /// and the sender is a partner.
    fn quarantine_events(
        &self,
        a: &Arrival,
        code: &str,
        message: &str,
        header: Option<&Message>,
        now: OffsetDateTime,
        events: &mut Vec<Event>,
    ) {
        let facts = header.map(facts_of);
        // the code only: the message may name files (`spool show` has it)
        tracing::warn!(arrival = a.arrival, code, "package quarantined");
        events.push(Event::Quarantined {
            arrival: a.arrival,
            key: a.key.clone(),
            code: code.to_string(),
            message: message.to_string(),
            header_uid: facts.as_ref().map(|f| f.header_uid.as_str().into()),
        });
        let receipt = facts
            .as_ref()
            .filter(|f| decide::wants_receipt(&f.header_type, &self.config.policy))
            .and_then(|f| {
                // the reason in words, the code beside it (for the partner's staff and tools)
                let words = medo_wire::error::code_in_words(code);
                let comment = format!("Сообщение не принято: {words} ({code})");
                decide::receipt(
                    &self.config.policy,
                    a.arrival,
                    &a.key,
                    f,
                    false,
                    Some(comment),
                    now,
                )
            });
        events.push(Event::Decided {
            arrival: a.arrival,
            key: a.key.clone(),
            outputs: receipt.into_iter().collect(),
        });
    }

    /// Publishes unpublished outputs, then files away decided arrivals — each within the
    /// pass's [`PassLimits`]; each step is one group commit (one sync of the files, one
    /// journal fsync).
    fn effects(&mut self, report: &mut PassReport) -> Result<(), GatewayError> {
        self.publish_pending(report)?;
        self.file_away(report)
    }

    /// The pending outputs this pass takes: the oldest arrivals' whose outputs are not held
    /// (a held one's siblings wait with it), then — while room is left — the held ones', so
    /// they are tried again without standing before the others. Whether more wait.
    fn pending_page(&self) -> Result<store::Page<store::PendingOutput>, GatewayError> {
        let held: HashSet<u64> = self.held.values().map(|(arrival, _)| *arrival).collect();
        let max = self.limits.output_arrivals;
        let mut page = self
            .backend
            .index()
            .pending_outputs_oldest(max, &|a| !held.contains(&a))?;
        let taken: HashSet<u64> = page.items.iter().map(|p| p.arrival).collect();
        if !page.more && !held.is_empty() && taken.len() < max {
            let again = self
                .backend
                .index()
                .pending_outputs_oldest(max - taken.len(), &|a| held.contains(&a))?;
            page.items.extend(again.items);
            page.more = again.more;
        }
        Ok(page)
    }

    /// Renders and publishes the pending outputs of one page (every output decided and not
    /// yet published: receipts, notices — also those of operator decisions about arrivals
    /// long archived), arrival by arrival until the pass's bytes are spent.
    fn publish_pending(&mut self, report: &mut PassReport) -> Result<(), GatewayError> {
        let page = self.pending_page()?;
        if !page.more {
            // the whole pending list was seen: a held output no longer pending is forgotten
            let names: HashSet<&str> = page.items.iter().map(|p| p.output.name.as_str()).collect();
            self.held.retain(|name, _| names.contains(name.as_str()));
        }
        let (mut packages, mut owners, mut tried) = (Vec::new(), Vec::new(), Vec::new());
        let (mut bytes, mut signed_now) = (0u64, Vec::new());
        let mut left = page.more;
        for group in page.items.chunk_by(|a, b| a.arrival == b.arrival) {
            if bytes >= self.limits.render_bytes {
                left = true;
                break;
            }
            for p in group {
                tried.push(p);
                if self.waits_for_approval(p)? {
                    report.awaiting_approval += 1;
                    continue;
                }
                let signed = match self.signature_for(p)? {
                    SignState::Ready(signed) => signed,
                    SignState::Signed(event) => {
                        signed_now.push(event);
                        continue;
                    }
                    SignState::WithSigner => {
                        report.signing += 1;
                        continue;
                    }
                    SignState::Waiting => continue,
                };
                let shared = &self.layout.shared_dir;
                let kept = |rel: &str| std::fs::read(shared.join(rel));
                let policy =
                    self.policy_of(medo_model::BodyId::or_main(p.output.body.as_ref()).as_str());
                match outbox::render(&p.output, policy, &kept, signed.as_ref()) {
                    Ok(files) => {
                        bytes += files.iter().map(|(_, b)| b.len() as u64).sum::<u64>();
                        packages.push(spool::Outgoing {
                            name: p.output.name.clone(),
                            files,
                        });
                        owners.push(p);
                    }
                    Err(e) => self.hold(p.arrival, &p.output.name, e.to_string()),
                }
            }
        }
        self.hold_siblings(&tried, &mut packages, &mut owners);
        if left || !signed_now.is_empty() {
            report.again_now();
        }
        // signed now: journaled before anything else of this pass, sent on the next
        self.commit(signed_now)?;
        self.publish(report, &packages, &owners)
    }

    /// Whether `p` is a document of ours that waits for a person's approval
    /// (`[queries]`/`[reports] approval = "operator"`, no `document_approved` yet): held
    /// «ждёт утверждения» — before it is signed (the official signs what was approved).
    fn waits_for_approval(&mut self, p: &store::PendingOutput) -> Result<bool, GatewayError> {
        let setting = (self.config.approval.queries, self.config.approval.reports);
        if !medo_core::approval::waits(p.output.kind, setting)
            || self.backend.index().approved(&p.output.name)?
        {
            return Ok(false);
        }
        self.hold_waiting(p.arrival, &p.output.name, "ждёт утверждения".into());
        Ok(true)
    }

    /// Whether `p` goes out now and with which signature of ours: the journaled one (a
    /// document signed before — re-sends too), none (a receipt or a notice, or signing not
    /// configured), or — a document of ours not yet signed — asked of the signer: it waits
    /// («ждёт подписи»), fails (held «не подписан: …», tried again on a later pass) or is
    /// signed now (kept in `shared_dir/signatures/`, the `document_signed` to journal).
    fn signature_for(&mut self, p: &store::PendingOutput) -> Result<SignState, GatewayError> {
        // receipts and notices are never signed: no index read for them on the publish path
        if !p.output.kind.is_document() {
            return Ok(SignState::Ready(None));
        }
        let shared = self.layout.shared_dir.clone();
        let kept = |rel: &str| std::fs::read(shared.join(rel));
        if let Some(facts) = self.backend.index().signature_of(&p.output.name)? {
            let read = kept(&facts.kept).and_then(|p7s| Ok((p7s, kept(&facts.document_kept)?)));
            return Ok(match read {
                Ok((p7s, document)) => SignState::Ready(Some(outbox::Signed {
                    facts,
                    p7s,
                    document,
                })),
                Err(e) => {
                    let why = format!(
                        "подписанный документ или подпись не читается: {}",
                        medo_stdx::words::io(&e)
                    );
                    self.hold(p.arrival, &p.output.name, why);
                    SignState::Waiting
                }
            });
        }
        if self.signers.is_none() {
            return Ok(SignState::Ready(None));
        }
        let policy = self.policy_of(medo_model::BodyId::or_main(p.output.body.as_ref()).as_str());
        let (file, bytes) = match outbox::to_sign(&p.output, policy, &kept) {
            Ok(Some(main)) => main,
            Ok(None) => return Ok(SignState::Ready(None)),
            Err(e) => {
                self.hold(p.arrival, &p.output.name, e.to_string());
                return Ok(SignState::Waiting);
            }
        };
        let job = sign::Job {
            output: p.output.name.clone(),
            file,
            bytes,
        };
        let Some(signers) = self.signers.as_mut() else {
            return Ok(SignState::Ready(None));
        };
        match signers.status(job) {
            sign::Status::Signing => {
                self.hold_waiting(p.arrival, &p.output.name, "ждёт подписи".into());
                Ok(SignState::WithSigner)
            }
            sign::Status::Resting => Ok(SignState::Waiting),
            sign::Status::Failed(why) => {
                self.metrics.signing_failures += 1;
                self.hold(p.arrival, &p.output.name, format!("не подписан: {why}"));
                Ok(SignState::Waiting)
            }
            sign::Status::Signed(signed) => {
                let signature = self.keep_signature(&p.output.name, &signed)?;
                Ok(SignState::Signed(Event::DocumentSigned {
                    arrival: p.arrival,
                    key: p.key.clone(),
                    name: p.output.name.clone(),
                    signature,
                }))
            }
        }
    }

    /// Keeps a signature of ours and the file it signs where every node reaches them
    /// (`shared_dir/signatures/`, each written whole and synced before it is journaled).
    fn keep_signature(
        &self,
        name: &str,
        signed: &sign::Signature,
    ) -> Result<medo_model::OurSignature, GatewayError> {
        let (file, document, p7s) = (&signed.file, &signed.document, &signed.p7s);
        let ext = file.rsplit_once('.').map_or("bin", |(_, e)| e);
        let (rel, document_rel) = (
            format!("signatures/{name}.p7s"),
            format!("signatures/{name}.{ext}"),
        );
        for (rel, bytes) in [(&document_rel, document), (&rel, p7s)] {
            let path = self.layout.shared_dir.join(rel);
            sign::keep(&path, bytes).map_err(|source| GatewayError::Io {
                doing: "сохранить подпись",
                path: path.clone(),
                source,
            })?;
        }
        Ok(medo_model::OurSignature {
            kept: rel,
            sha256: medo_wire::hash::sha256_bytes(p7s).into(),
            document_kept: document_rel,
            document_sha256: medo_wire::hash::sha256_bytes(document).into(),
            certificate: self
                .config
                .signing
                .as_ref()
                .and_then(|s| s.certificate.clone()),
        })
    }

    /// Publishes rendered packages exactly once and journals each as `published` — only
    /// outputs journaled and pending (asserted: nothing is sent that the journal did not
    /// decide).
    fn publish(
        &mut self,
        report: &mut PassReport,
        packages: &[spool::Outgoing],
        owners: &[&store::PendingOutput],
    ) -> Result<(), GatewayError> {
        assert_eq!(
            packages.len(),
            owners.len(),
            "one pending output per package"
        );
        for (package, owner) in packages.iter().zip(owners) {
            assert_eq!(
                package.name, owner.output.name,
                "a package is its pending output"
            );
            self.held.remove(&package.name);
        }
        let digests = spool::publish_all(&self.layout, packages)?;
        if !packages.is_empty() {
            medo_stdx::fault::point("after-publish");
        }
        // the outbound count is kept current between listings (VipNet's pick-ups show at the
        // next listing)
        if let Some((_, (waiting, _))) = &mut self.outbound_counted {
            *waiting += packages.len() as u64;
        }
        let events: Vec<Event> = packages
            .iter()
            .zip(owners)
            .zip(digests)
            .map(|((p, o), sha256)| Event::Published {
                arrival: o.arrival,
                key: o.key.clone(),
                name: p.name.clone(),
                sha256: sha256.into(),
            })
            .collect();
        report.published += events.len();
        self.commit(events)?;
        let done: HashSet<String> = packages.iter().map(|p| p.name.clone()).collect();
        spool::forget_intents(&self.layout, &done);
        Ok(())
    }

    /// Files decided and quarantined arrivals away (the oldest, within the pass's limit):
    /// into the archive, or into quarantine with the reason.
    fn file_away(&mut self, report: &mut PassReport) -> Result<(), GatewayError> {
        let at_rest_next = |a: &Arrival| matches!(a.state, State::Decided | State::Quarantined);
        let page = self
            .backend
            .index()
            .unfinished_oldest(self.limits.file_away, &at_rest_next)?;
        if page.more {
            report.again_now();
        }
        let ready = page.items;
        if ready.is_empty() {
            return Ok(());
        }
        let mut moves = Vec::new();
        let mut dirs = Vec::new();
        let mut taken: HashSet<String> = HashSet::new();
        for a in &ready {
            let (rel, reason) = self.resting_place(a, &taken)?;
            taken.insert(rel.clone());
            moves.push(spool::Move {
                claim: a.claim.clone(),
                dest: self.layout.rest(&rel),
                reason,
            });
            dirs.push(rel);
        }
        self.copy_missing(&moves, &ready)?;
        let vanished = spool::file_away_all(&self.layout, &moves)?;
        let events: Vec<Event> = ready
            .iter()
            .zip(dirs)
            .enumerate()
            .map(|(i, (a, dir))| {
                let dir = if vanished.contains(&i) {
                    tracing::error!(arrival = a.arrival, claim = %a.claim, "the claimed folder was removed from outside; its journal records and outputs stand, the package itself is lost");
                    format!("vanished/{}", a.claim)
                } else {
                    dir
                };
                Event::Archived {
                    arrival: a.arrival,
                    key: a.key.clone(),
                    dir,
                }
            })
            .collect();
        report.archived += events.len();
        // claimed by copy: the originals go once the copies rest, before `archived` — so
        // a hidden original the journal does not know was never journaled
        self.forget_originals(&ready)?;
        self.commit(events)?;
        Ok(())
    }

    /// The hidden originals ([`spool::crossing`]) of these arrivals, by claim.
    fn originals(&self, of: &[Arrival]) -> Result<Vec<spool::crossing::Claiming>, GatewayError> {
        if !self.layout.claim_by_copy {
            return Ok(Vec::new());
        }
        let claims: HashSet<&str> = of.iter().map(|a| a.claim.as_str()).collect();
        let mut originals = spool::crossing::claiming(&self.layout)?;
        originals.retain(|c| claims.contains(c.claim.as_str()));
        Ok(originals)
    }

    /// Claimed by copy: the hidden originals of arrivals now at rest are removed (a crash
    /// before this leaves them to [`Self::resume_copy_claims`]).
    fn forget_originals(&mut self, rested: &[Arrival]) -> Result<(), GatewayError> {
        let originals = self.originals(rested)?;
        Ok(spool::crossing::forget_originals(&self.layout, &originals)?)
    }

    /// Claimed by copy, a copy neither claimed nor at rest here (the leader before this one
    /// kept it on its own disk) is copied again from its hidden original before it is filed
    /// away.
    fn copy_missing(
        &mut self,
        moves: &[spool::Move],
        ready: &[Arrival],
    ) -> Result<(), GatewayError> {
        for c in self.originals(ready)? {
            let m = moves.iter().find(|m| m.claim == c.claim);
            if m.is_some_and(|m| {
                !self.layout.claimed.join(&m.claim).exists() && !m.target().exists()
            }) {
                if let Err(e) = spool::crossing::copy_in(&self.layout, &c.path, &c.claim) {
                    tracing::error!(claim = %c.claim, error = %e, "cannot copy a claimed package's original again; it is set aside in inbound");
                    spool::crossing::set_aside(&self.layout, &c);
                }
            }
        }
        Ok(())
    }

    /// Where an arrival comes to rest: quarantine (with the reason) when it was quarantined
    /// or its folder changed since it was read, else the archive.
    fn resting_place(
        &mut self,
        a: &Arrival,
        taken: &HashSet<String>,
    ) -> Result<(String, Option<Reason>), GatewayError> {
        let changed = self.changed_since_read(a);
        let quarantine = changed.or_else(|| a.quarantine.clone());
        Ok(match (&a.state, &quarantine) {
            (State::Quarantined | State::Decided, Some((code, message))) => {
                let rel = self.quarantine_dir(a, taken);
                let reason = Reason {
                    code: code.clone(),
                    message: message.clone(),
                    time: self.now().1,
                    original_name: a.src.clone(),
                    key: a.key.to_string(),
                    arrival: a.arrival,
                    header_uid: a.header_uid.as_ref().map(|u| u.to_string()),
                };
                (rel, Some(reason))
            }
            _ => (self.archive_dir(a)?, None),
        })
    }

    /// Whether a decided arrival's folder changed after it was read for its decision (a
    /// file grown or replaced by a writer still at it): its digests are checked again, and a
    /// folder that no longer matches its journaled key is filed into quarantine with the
    /// reason instead of the archive — the journal keeps what was decided on. `None`: it
    /// did not (or was not read by this process).
    fn changed_since_read(&mut self, a: &Arrival) -> Option<(String, String)> {
        let then = self.read_as.remove(&a.claim)?;
        if a.state != State::Decided {
            return None;
        }
        let dir = self.layout.claimed.join(&a.claim);
        let max = self.config.limits.max_package_files;
        if spool::snapshot(&dir, max).is_ok_and(|now| now == then) {
            return None;
        }
        let mut budget = 0;
        let key = spool::package_key_digests(&dir, max, &mut budget).ok()?.key;
        if a.key == key {
            return None;
        }
        tracing::error!(
            arrival = a.arrival,
            "a package changed after its decision: filed into quarantine, not the archive"
        );
        Some((
            "changed-after-claim".into(),
            "файлы пакета изменились после того, как он был принят и решение журналировано: в журнале — принятые данные и их хэши, здесь — изменённые".into(),
        ))
    }

    /// Holds an output that cannot be rendered: it stays pending (the journal keeps the
    /// decision), counted in `medo_outputs_held` (alert `MedoOutputHeld`); the error is
    /// logged when it is first held or its reason changes — not at every pass.
    fn hold(&mut self, arrival: u64, name: &str, why: String) {
        self.waits.remove(name);
        if self.held.get(name).map(|(_, w)| w) != Some(&why) {
            tracing::error!(output = %name, error = %why, "cannot render an output; it is held, pending (the journal keeps the decision)");
            self.held.insert(name.to_string(), (arrival, why));
        }
    }

    /// Holds an output that waits for something under way (its signature, a sibling being
    /// signed): shown with the reason, not an error.
    fn hold_waiting(&mut self, arrival: u64, name: &str, why: String) {
        self.waits.insert(name.to_string());
        if self.held.get(name).map(|(_, w)| w) != Some(&why) {
            tracing::debug!(output = %name, reason = %why, "an output waits");
            self.held.insert(name.to_string(), (arrival, why));
        }
    }

    /// Holds every output of an arrival (or appeal) one of whose outputs is held: a notice
    /// that names our document («Доклад направлен») never goes out without it.
    fn hold_siblings(
        &mut self,
        pending: &[&medo_store::index::PendingOutput],
        packages: &mut Vec<spool::Outgoing>,
        owners: &mut Vec<&medo_store::index::PendingOutput>,
    ) {
        // the ones that did not render this pass
        let rendered: HashSet<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        let held: HashMap<u64, String> = pending
            .iter()
            .filter(|p| !rendered.contains(p.output.name.as_str()))
            .map(|p| (p.arrival, p.output.name.clone()))
            .collect();
        if held.is_empty() {
            return;
        }
        let mut keep = Vec::new();
        for (package, owner) in packages.drain(..).zip(owners.drain(..)) {
            // a receipt says only that the package arrived: it never waits for a sibling
            // (a document waiting for a person or the signer, or one that does not render)
            let receipt = owner.output.kind == medo_model::OutputKind::Receipt;
            match held.get(&owner.arrival).filter(|_| !receipt) {
                Some(first) => {
                    let why = format!("waits for {first}, held");
                    let waiting = self.waits.contains(first);
                    self.hold_waiting(owner.arrival, &package.name, why);
                    if !waiting {
                        // behind a broken one: held like it (counted), without a second error
                        self.waits.remove(&package.name);
                    }
                }
                None => keep.push((package, owner)),
            }
        }
        (*packages, *owners) = keep.into_iter().unzip();
    }

    /// `archive/<date received>/<key>` for the first arrival of a key, `<key>.<arrival>` after.
    fn archive_dir(&self, a: &Arrival) -> Result<String, GatewayError> {
        let date = a.received_at.get(..10).unwrap_or("undated");
        let first = self
            .backend
            .index()
            .by_key(&a.key)?
            .is_none_or(|first| first == a.arrival);
        let leaf = if first {
            a.key.to_string()
        } else {
            format!("{}.{}", a.key, a.arrival)
        };
        Ok(format!("archive/{date}/{leaf}"))
    }

    /// `quarantine/<key>` unless another arrival of the same key holds it (on disk, or earlier
    /// in this batch): then `quarantine/<key>.<arrival>`.
    fn quarantine_dir(&self, a: &Arrival, taken: &HashSet<String>) -> String {
        let plain = format!("quarantine/{}", a.key);
        let reason = self.layout.rest(&plain).join("reason.json");
        let mine = match std::fs::read(&reason) {
            Ok(bytes) => {
                serde_json::from_slice::<Reason>(&bytes).is_ok_and(|r| r.arrival == a.arrival)
            }
            Err(_) => !self.layout.rest(&plain).exists(),
        };
        if mine && !taken.contains(&plain) {
            plain
        } else {
            format!("quarantine/{}.{}", a.key, a.arrival)
        }
    }

    /// Processes until nothing is left that can be done now. Passes that make progress repeat
    /// at once (`max_batch` bounds each pass, not the run); folders still settling are waited
    /// for, at most `max_waits` times; incomplete ones are left in inbound. Transient errors
    /// are retried with backoff, five times.
    pub fn run_until_idle(&mut self, max_waits: usize) -> Result<PassReport, GatewayError> {
        let mut total = PassReport::default();
        let mut transient_failures = 0u32;
        let mut waits = 0;
        loop {
            match self.pass() {
                Ok(r) => {
                    total.add(&r);
                    transient_failures = 0;
                    let progressed = r.claimed > 0 || r.published > 0 || r.archived > 0;
                    let work_left = self.backend.index().unfinished_count() > 0;
                    if !progressed && (r.verifying > 0 || r.signing > 0 || r.mailing > 0) {
                        // the verifier's or the signer's answer, not a spin
                        std::thread::sleep(VERIFY_POLL);
                    }
                    let signing = r.signing > 0 || r.mailing > 0;
                    if progressed || work_left || signing || r.next_look == Some(Duration::ZERO) {
                        continue;
                    }
                    if r.settling == 0 || waits >= max_waits {
                        return Ok(total);
                    }
                    waits += 1;
                    let wait = r.next_look.unwrap_or_default();
                    std::thread::sleep(
                        wait.min(Duration::from_millis(self.config.spool.settle_ms.max(1))),
                    );
                }
                Err(e) if e.is_transient() && transient_failures < 5 => {
                    transient_failures += 1;
                    let wait = medo_stdx::backoff(transient_failures);
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "transient error; retrying");
                    std::thread::sleep(wait);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Applies queued operator commands and publishes their notices, without touching inbound
    /// (what `appeals register` / `appeals refuse` do when no service is running).
    pub fn apply_operator_commands(&mut self) -> Result<PassReport, GatewayError> {
        let mut report = PassReport::default();
        self.process_commands()?;
        self.effects(&mut report)?;
        Ok(report)
    }

    /// Hands this commit's signed note — size, head and the numbering it covers — to the
    /// witnesses (`[audit]`), before anything that depends on the commit is done.
    fn hand_to_witness(&mut self) -> Result<(), GatewayError> {
        if self.witness.is_none() {
            return Ok(());
        }
        let year = today(&self.config).year();
        let sequences = self.sequences(year)?;
        let base = self.checkpoint_origin();
        let Some(w) = self.witness.as_mut() else {
            return Ok(());
        };
        let (size, head) = (
            self.backend.journal().next_seq(),
            self.backend.journal().head().to_string(),
        );
        let note = medo_store::checkpoint::witness_note(
            &self.checkpoint_key,
            &w.origin(&base),
            (size, &head),
            &sequences,
        );
        w.hand(&note, size);
        self.metrics.witness_failing = u64::from(w.failing);
        Ok(())
    }

    /// The last numbers given in `year`: the one body's (a line as it always was), or each
    /// body's of a hub (a line each, with its id).
    fn sequences(&self, year: i32) -> Result<Vec<medo_store::checkpoint::Sequences>, GatewayError> {
        let index = self.backend.index();
        let policy = &self.config.policy;
        policy
            .bodies
            .iter()
            .map(|b| {
                Ok(medo_store::checkpoint::Sequences {
                    year,
                    registered: index.try_next_seq(&b.id, year)?.saturating_sub(1),
                    outgoing: index.try_next_outgoing_seq(&b.id, year)?.saturating_sub(1),
                    body: policy.hub.then(|| b.id.clone()),
                })
            })
            .collect()
    }

    fn checkpoint_origin(&self) -> String {
        format!("medo-gateway/{}", self.config.policy.sender.uid)
    }

    /// Signs a checkpoint of the journal as it stands.
    fn checkpoint(&self) -> Result<(), GatewayError> {
        let origin = self.checkpoint_origin();
        self.backend.checkpoint(&Notary {
            key: &self.checkpoint_key,
            origin: &origin,
            every: self.config.checkpoint_every,
        })?;
        Ok(())
    }

    /// Journals `service_stop` and signs a checkpoint (clean shutdown).
    pub fn close(mut self) -> Result<(), GatewayError> {
        self.commit(vec![Event::ServiceStop])?;
        self.checkpoint()
    }
}

/// The folders before anything is opened: `state_dir` private (0700), the transport folders
/// writable by this user — a set-up problem (exit 2: fix and start again) is found now, with
/// the fix named, not after a decision as retries that end in exit 4.
fn check_folders(config: &Config, layout: &Layout) -> Result<(), GatewayError> {
    // a set-up problem (exit 2: fix and start again), like every other folder check
    let loosened = medo_spool::sharing::secure_state_dir(&layout.state).map_err(|e| {
        refused(format!(
            "не удалось создать state_dir {} или установить ему режим 0700: {}",
            layout.state.display(),
            medo_stdx::words::io(&e)
        ))
    })?;
    if let Some(mode) = loosened {
        tracing::warn!(
            state_dir = %layout.state.display(),
            was = format!("{mode:04o}"),
            "state_dir was readable by others: set to 0700"
        );
    }
    if let Some(problem) = medo_spool::sharing::Handover::problem(&config.spool.outbound) {
        tracing::warn!("{problem}");
    }
    // a transport folder this user cannot write is found now, with the fix named — not
    // after a decision, as retries that end in exit 4
    for (dir, key) in [
        (&config.spool.inbound, "inbound"),
        (&config.spool.outbound, "outbound"),
    ] {
        if let Some(why) = medo_spool::sharing::Handover::unwritable(dir, key) {
            return Err(refused(why));
        }
    }
    Ok(())
}

/// Removes what a crash left in the spool's own folders: intents of packages journaled as
/// published, unfinished builds in `tmp/`.
fn tidy(layout: &Layout, store: &dyn Index) {
    // a store that cannot answer keeps the intent (removed at a later start)
    let pending = |name: &str| store.is_pending(name).unwrap_or(true);
    let stale = spool::prune_intents(layout, &pending);
    if stale > 0 {
        tracing::info!(
            intents = stale,
            "removed publish intents of packages already journaled as published"
        );
    }
    if let Ok(n) = spool::clean_tmp(layout) {
        if n > 0 {
            tracing::info!(entries = n, "removed unfinished builds from tmp/");
        }
    }
}

/// Whether hashing a claimed folder failed because of the package itself (its files cannot
/// be read by us), not because of the machine.
fn package_fault(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        NotFound | PermissionDenied | InvalidInput | InvalidData
    ) || e.raw_os_error() == Some(libc::ENAMETOOLONG)
        || e.raw_os_error() == Some(libc::ELOOP)
}

/// A start check's refusal (exit 2), in words for the administrator.
pub(crate) fn refused(text: String) -> GatewayError {
    GatewayError::Spool(SpoolError::Setup(spool::Setup::Refused(text)))
}

/// `duplicate`: this arrival repeats arrival `of`, found by its package key or header uid.
fn duplicate_event(a: &Arrival, of: u64, by: medo_model::DuplicateBy) -> Event {
    Event::Duplicate {
        arrival: a.arrival,
        key: a.key.clone(),
        of,
        by,
    }
}

/// Why a package from a sender that is not a partner is quarantined: code and words.
fn unknown_sender(package: &Package, facts: &Facts) -> (&'static str, String) {
    match &package.message.body {
        // the МЭДО operator's error receipt that names no message of ours: not a partner
        // to add, a receipt about something else
        Body::Acknowledgment(ack) if ack.is_operator_error() => (
            "operator-receipt-not-ours",
            "квитанция оператора МЭДО об ошибке не относится ни к одному нашему сообщению (ни по uid, ни по имени файла)".to_string(),
        ),
        _ => (
            "unknown-partner",
            format!("отправитель {} не указан в [[partners]] (добавьте его, затем `spool retry`)", facts.source_uid),
        ),
    }
}

fn facts_of(m: &Message) -> Facts {
    Facts {
        header_uid: m.header.uid.clone(),
        header_type: m.header.kind.clone(),
        format: m.format,
        source_uid: m.header.source.uid.clone(),
    }
}

fn parsed_event(a: &Arrival, p: &Package, f: &Facts) -> Event {
    Event::Parsed {
        arrival: a.arrival,
        key: a.key.clone(),
        header_uid: f.header_uid.as_str().into(),
        header_type: f.header_type.as_str().to_string(),
        format: p.message.format,
        source_uid: f.source_uid.as_str().into(),
        document_uid: match &p.message.body {
            Body::Document { document, .. } => Some(document.uid.as_str().into()),
            Body::Container(_) => p
                .container
                .as_ref()
                .and_then(|c| c.passport.uid.as_deref().map(Into::into)),
            _ => None,
        },
        warnings: p.warnings.len() as u64,
    }
}

/// `run --once`: process everything ready now, publish all effects, stop.
pub fn run_once(config: Config) -> Result<PassReport, GatewayError> {
    run_once_with(config, start::open_files)
}

/// [`run_once`] over the backend `open_backend` opens (the composition root chooses it).
pub fn run_once_with<B: Backend>(
    config: Config,
    open_backend: impl FnOnce(&start::Start) -> Result<start::Opened<B>, GatewayError>,
) -> Result<PassReport, GatewayError> {
    let mut gw = Gateway::open_with(config, open_backend)?;
    let report = gw.run_until_idle(20);
    let closed = gw.close();
    let report = report?;
    closed?;
    Ok(report)
}

/// Today in the configured offset.
fn today(config: &Config) -> time::Date {
    OffsetDateTime::now_utc()
        .to_offset(config.policy.utc_offset)
        .date()
}

/// Where an appeal's package is: its archive folder, or its claimed folder while the loop
/// still works on it.
pub fn package_dir(
    layout: &Layout,
    store: &dyn medo_store::Index,
    appeal: &medo_core::book::Appeal,
) -> Result<std::path::PathBuf, store::StoreError> {
    match &appeal.dir {
        Some(rel) => Ok(layout.rest(rel)),
        None => {
            let arrival = store.arrival(medo_core::book::arrival_of(appeal.id))?;
            Ok(layout
                .claimed
                .join(arrival.map(|a| a.claim).unwrap_or_default()))
        }
    }
}

/// What a pending output waits for before it is rendered ([`Gateway::signature_for`]).
enum SignState {
    /// It goes out now, with our signature when it has one.
    Ready(Option<outbox::Signed>),
    /// Signed just now: the record to journal (it goes out on the next pass).
    Signed(Event),
    /// With the signer now (a `run --once` waits for it).
    WithSigner,
    /// Not now: held with the reason.
    Waiting,
}
