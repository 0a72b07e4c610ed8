//! The run loop: scan → claim → journal → decide → journal → effects → journal, in
//! journal-first order. Owns the spool, the journal and the store for the process lifetime.
//!
//! Order of every pass (group-committed: one fsync per step for the whole batch):
//! 1. claim ready folders from inbound (rename into `claimed/`), hash them → `received`;
//! 2. for each unfinished arrival decide (`parsed`, `duplicate`, `quarantined`, `decided`);
//! 3. effects: publish each decided output (tmp → fsync → rename → dir fsync) → `published`;
//!    move the claimed folder to archive or quarantine → `archived`.
//!
//! The store is updated from journal records only, and flushed before effects. After a crash
//! the journal replays into the store and every unfinished arrival resumes from its last
//! journaled step; effects are idempotent (deterministic names, existing destination = done).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::appeals;
use crate::book::{Appeal, AppealBook, AppealState};
use crate::config::{Config, RegistrationMode};
use crate::control;
use crate::decide::{self, Facts};
use crate::journal::NoticeRef;
use crate::journal::{Event, Journal, JournalError, Output, Record};
use crate::outbox;
use crate::spool::{self, InstanceLock, Layout, Reason, SettleTracker, SpoolError, Verdict};
use crate::store::{self, Arrival, State, Store, StoreError};
use crate::urog;
use crate::wire::container::{entry_bytes, entry_head, extract_entries};
use crate::wire::message::RefusalReason;
use crate::wire::message::{Body, Message};
use crate::wire::package::{read_message_only, read_package, Package};
use crate::wire::time::format_date;

/// Errors that stop a pass. `Transient` ones are retried with backoff; the others stop the
/// service (exit non-zero; the service manager restarts it).
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Other(String),
}

impl GatewayError {
    /// Worth retrying later without stopping.
    pub fn is_transient(&self) -> bool {
        matches!(self, GatewayError::Spool(SpoolError::Transient { .. }))
    }
}

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
    /// Incomplete folders (missing files) not yet overdue.
    pub incomplete: usize,
    /// When to look again at the latest (settling or incomplete folders).
    pub next_look: Option<Duration>,
}

impl PassReport {
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

fn now_utc() -> (OffsetDateTime, String) {
    let now = OffsetDateTime::now_utc();
    let text = now.format(&Rfc3339).expect("UTC times format");
    (now, text)
}

/// The gateway: spool + journal + store, owned by one thread at a time.
pub struct Gateway {
    config: Config,
    layout: Layout,
    journal: Journal,
    store: Store,
    tracker: SettleTracker,
    claims: u64,
    /// Claims taken because they stayed incomplete too long, with the reason.
    overdue: HashMap<String, String>,
    /// Every appeal, folded from the journal.
    book: AppealBook,
    /// Secret for PINs (`state_dir/pin.key`).
    pin_secret: Vec<u8>,
    _lock: InstanceLock,
}

impl Gateway {
    /// Takes the lock, prepares the folders, opens the journal and the store (rebuilding or
    /// catching it up from the journal), clears `tmp/`, adopts claimed folders the journal
    /// does not know, and journals `service_start`.
    pub fn open(config: Config) -> Result<Gateway, GatewayError> {
        let layout = Layout::new(&config.spool);
        std::fs::create_dir_all(&layout.state).map_err(|e| {
            GatewayError::Other(format!(
                "cannot create state_dir {}: {e}",
                layout.state.display()
            ))
        })?;
        let lock = InstanceLock::acquire(&layout.lock)?;
        spool::prepare(&layout)?;
        let (journal, _) = Journal::open(&layout.journal)?;
        let (store, rebuilt) = Store::open_or_reset(&layout.store)?;
        catch_up(
            &store,
            &layout.journal,
            rebuilt.is_some(),
            journal.next_seq(),
        )?;
        if let Ok(n) = spool::clean_tmp(&layout) {
            if n > 0 {
                tracing::info!(entries = n, "removed unfinished builds from tmp/");
            }
        }
        let book = AppealBook::load(&layout.journal)?;
        let pin_secret = load_or_create_secret(&layout.state.join("pin.key"))?;
        let mut gw = Gateway {
            config,
            layout,
            journal,
            store,
            tracker: SettleTracker::default(),
            claims: 0,
            overdue: HashMap::new(),
            book,
            pin_secret,
            _lock: lock,
        };
        gw.commit(vec![Event::ServiceStart {
            version: env!("CARGO_PKG_VERSION").to_string(),
        }])?;
        gw.adopt_orphan_claims()?;
        Ok(gw)
    }

    /// The config in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The appeal book as of the last commit.
    pub fn book(&self) -> &AppealBook {
        &self.book
    }

    /// Journals events (one fsync), applies them to the store, flushes the store.
    fn commit(&mut self, events: Vec<Event>) -> Result<Vec<Record>, GatewayError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (_, ts) = now_utc();
        let records = self.journal.append(events, &ts)?;
        for r in &records {
            self.store.apply(r)?;
            self.book.apply(r);
        }
        self.store.flush()?;
        Ok(records)
    }

    /// Claimed folders without a `received` record (a crash between the rename and the
    /// journal write) become arrivals now.
    fn adopt_orphan_claims(&mut self) -> Result<(), GatewayError> {
        let names = spool::claimed(&self.layout)
            .map_err(|e| GatewayError::Other(format!("cannot list claimed/: {e}")))?;
        let mut events = Vec::new();
        for claim in names {
            if self.store.by_claim(&claim)?.is_some() {
                continue;
            }
            tracing::warn!(claim = %claim, "adopting a claimed folder the journal does not know (crash after claim)");
            events.push(self.received_event(&claim, &claim)?);
        }
        self.commit(events)?;
        Ok(())
    }

    fn received_event(&self, src: &str, claim: &str) -> Result<Event, GatewayError> {
        let dir = self.layout.claimed.join(claim);
        let (key, files, bytes) = spool::package_key(&dir, self.config.limits.max_package_files)
            .map_err(|e| SpoolError::Transient {
                what: format!("cannot hash {}", dir.display()),
                source: e,
            })?;
        Ok(Event::Received {
            key,
            src: src.escape_default().to_string(),
            claim: claim.to_string(),
            files,
            bytes,
        })
    }

    /// One full cycle: scan and claim, decide, publish and file away.
    pub fn pass(&mut self) -> Result<PassReport, GatewayError> {
        let mut report = self.claim_ready()?;
        self.decide_all(&mut report)?;
        self.process_commands()?;
        self.effects(&mut report)?;
        Ok(report)
    }

    /// Scans inbound and claims what is ready (or overdue).
    fn claim_ready(&mut self) -> Result<PassReport, GatewayError> {
        let mut report = PassReport::default();
        let names = spool::scan_inbound(&self.layout.inbound, 100_000)?;
        self.tracker.retain(&names);
        let now = Instant::now();
        let mut claimed: Vec<(String, String)> = Vec::new();
        for name in &names {
            if claimed.len() >= self.config.spool.max_batch {
                report.next_look = Some(Duration::ZERO);
                break;
            }
            let dir = self.layout.inbound.join(name);
            match self
                .tracker
                .judge(name, &dir, now, &self.config.spool, &self.config.limits)
            {
                Verdict::Wait { after, settling } => {
                    report.next_look = Some(report.next_look.map_or(after, |n| n.min(after)));
                    if settling {
                        report.settling += 1;
                    } else {
                        report.incomplete += 1;
                    }
                }
                verdict => {
                    self.claims += 1;
                    let claim = spool::claim_name(self.claims);
                    match spool::claim(&self.layout, name, &claim) {
                        Ok(_) => {}
                        Err(SpoolError::Transient { what, source }) => {
                            tracing::warn!(folder = %name, error = %source, "{what}; will retry");
                            continue;
                        }
                        Err(e) => return Err(e.into()),
                    }
                    if let Verdict::Overdue(why) = verdict {
                        self.overdue.insert(claim.clone(), why);
                    }
                    claimed.push((name.clone(), claim));
                    report.claimed += 1;
                }
            }
        }
        if claimed.is_empty() {
            return Ok(report);
        }
        spool::sync_claims(&self.layout)?;
        let events = claimed
            .iter()
            .map(|(name, claim)| self.received_event(name, claim))
            .collect::<Result<Vec<_>, _>>()?;
        self.commit(events)?;
        Ok(report)
    }

    /// Decides every arrival that is received or parsed but not yet decided.
    fn decide_all(&mut self, report: &mut PassReport) -> Result<(), GatewayError> {
        let pending: Vec<Arrival> = self
            .store
            .unfinished()?
            .into_iter()
            .filter(|a| matches!(a.state, State::Received | State::Parsed))
            .collect();
        let mut events = Vec::new();
        // keys and uids first seen in this batch (the store learns them only on commit)
        let mut batch_keys: HashMap<String, u64> = HashMap::new();
        let mut batch_uids: HashMap<String, u64> = HashMap::new();
        let mut appeal_batch = AppealBatch::default();
        for a in pending {
            let (now, _) = now_utc();
            let dir = self.layout.claimed.join(&a.claim);
            if let Some(why) = self.overdue.remove(&a.claim) {
                let message = read_message_only(&dir, &self.config.limits).ok();
                self.quarantine_events(
                    &a,
                    "incomplete",
                    &format!("still incomplete after incomplete_after_secs: {why}"),
                    message.as_ref(),
                    now,
                    &mut events,
                );
                report.quarantined += 1;
                continue;
            }
            let package = match read_package(&dir, &self.config.limits) {
                Ok(p) => p,
                Err(e) => {
                    let message = read_message_only(&dir, &self.config.limits).ok();
                    self.quarantine_events(
                        &a,
                        e.code(),
                        &e.to_string(),
                        message.as_ref(),
                        now,
                        &mut events,
                    );
                    report.quarantined += 1;
                    continue;
                }
            };
            let facts = facts_of(&package.message);
            if a.state == State::Received {
                events.push(parsed_event(&a, &package, &facts));
                report.parsed += 1;
            }
            if self.config.partner(&facts.source_uid).is_none() {
                let msg = format!("sender {} is not a configured partner (add it under [[partners]], then `spool retry`)", facts.source_uid);
                self.quarantine_events(
                    &a,
                    "unknown-partner",
                    &msg,
                    Some(&package.message),
                    now,
                    &mut events,
                );
                report.quarantined += 1;
                continue;
            }
            let by_key = self
                .store
                .by_key(&a.key)?
                .or_else(|| batch_keys.get(&a.key).copied());
            let by_uid = self
                .store
                .by_uid(&facts.header_uid)?
                .or_else(|| batch_uids.get(&facts.header_uid).copied());
            batch_keys.entry(a.key.clone()).or_insert(a.arrival);
            batch_uids
                .entry(facts.header_uid.clone())
                .or_insert(a.arrival);
            if let Some((of, by)) = decide::duplicate_of(a.arrival, by_key, by_uid) {
                events.push(Event::Duplicate {
                    arrival: a.arrival,
                    key: a.key.clone(),
                    of,
                    by: by.to_string(),
                });
                report.duplicates += 1;
            }
            let outputs: Vec<Output> = if decide::wants_receipt(&facts.header_type, &self.config) {
                decide::receipt(&self.config, a.arrival, &a.key, &facts, true, None, now)
                    .into_iter()
                    .collect()
            } else {
                Vec::new()
            };
            // the appeal's records come before `decided`, which closes the arrival's decision:
            // a batch cut short by a crash is decided again, never half-applied
            self.appeal_events(&a, &package, &facts, now, &mut events, &mut appeal_batch)?;
            events.push(Event::Decided {
                arrival: a.arrival,
                key: a.key.clone(),
                outputs,
            });
        }
        self.commit(events)?;
        Ok(())
    }

    /// Recognises a forwarded appeal and journals what becomes of it: a re-delivery gets the
    /// notice the first delivery got; a new one is received, its signatures recorded (and
    /// verified when a verifier is configured), then — in auto mode and not held — refused by
    /// the first rule that applies, or registered under the next number of the year.
    fn appeal_events(
        &self,
        a: &Arrival,
        package: &Package,
        facts: &Facts,
        now: OffsetDateTime,
        events: &mut Vec<Event>,
        batch: &mut AppealBatch,
    ) -> Result<(), GatewayError> {
        let Some(partner) = self.config.partner(&facts.source_uid) else {
            return Ok(());
        };
        let kind = match &package.message.body {
            Body::Document { document, .. } => document.kind.clone(),
            Body::Container(_) => package
                .container
                .as_ref()
                .and_then(|c| c.passport.kind.text.clone()),
            _ => None,
        };
        if let Some(event) =
            self.query_event(a, package, facts, &partner.role, kind.as_deref(), now)
        {
            events.push(event);
            return Ok(());
        }
        if !appeals::is_forwarded_appeal(
            &partner.role,
            &self.config.appeal_roles,
            &facts.header_type,
            kind.as_deref(),
            &self.config.query_kinds,
        ) {
            return Ok(());
        }
        let dir = self.layout.claimed.join(&a.claim);
        let zip_path = package.container_file.as_ref().map(|f| dir.join(f));
        let head = |name: &str| -> Option<String> {
            let bytes = match &zip_path {
                Some(zip) => entry_head(zip, name, 64)?,
                None => {
                    let base = crate::wire::envelope::file_base_name(name).ok()?;
                    let mut buf = Vec::with_capacity(64);
                    std::io::Read::read_to_end(
                        &mut std::io::Read::take(std::fs::File::open(dir.join(base)).ok()?, 64),
                        &mut buf,
                    )
                    .ok()?;
                    buf
                }
            };
            Some(appeals::signature_encoding(&bytes).to_string())
        };
        let Some(mut af) = appeals::facts(package, &head) else {
            return Ok(());
        };
        let doc_uid = af.document_uid.clone();
        let foundation = NoticeRef {
            organization: af.urog_organization.clone(),
            number: af.urog_number.clone(),
            date: af.urog_date.map(format_date),
        };
        let notice_cause = decide::NoticeCause {
            arrival: a.arrival,
            key: &a.key,
            tag: "",
            source_uid: &facts.source_uid,
            inbound_format: facts.format,
            document_uid: &doc_uid,
            foundation,
        };
        // decided before a crash cut the batch short: do not decide twice
        if let Some(known) = self.book.get(a.arrival) {
            if known.state != AppealState::Received
                || known.held.is_some()
                || self.config.mode == RegistrationMode::Manual
            {
                return Ok(());
            }
        }
        // a re-delivery of an appeal we already have
        let original = match self.book.by_document(&af.document_uid) {
            Some(o) if o.id != a.arrival => Some((o.id, outcome_of(o))),
            _ => batch
                .docs
                .get(&af.document_uid)
                .filter(|id| **id != a.arrival)
                .map(|id| {
                    (
                        *id,
                        batch.outcomes.get(id).cloned().unwrap_or(Outcome::Pending),
                    )
                }),
        };
        if let Some((of, outcome)) = original {
            let outputs = match outcome {
                Outcome::Registered(ours) => {
                    decide::notice(&self.config, &notice_cause, Some(ours), None, now)
                }
                Outcome::Refused(reason, comment) => decide::notice(
                    &self.config,
                    &notice_cause,
                    None,
                    Some((reason, comment)),
                    now,
                ),
                Outcome::Pending => None,
            };
            events.push(Event::AppealRedelivered {
                appeal: a.arrival,
                of,
                outputs: outputs.into_iter().collect(),
            });
            return Ok(());
        }
        let already_received = self.book.get(a.arrival).is_some();
        self.verify_signatures(&mut af, &dir, zip_path.as_deref(), a.arrival);
        let invalid = af
            .signatures
            .iter()
            .find(|s| s.status == "invalid")
            .map(|s| s.signature.clone());
        let held = match (invalid, self.config.mode) {
            (Some(sig), _) => Some(format!("signature {sig} did not verify")),
            (None, RegistrationMode::Manual) => Some("manual registration mode".to_string()),
            (None, RegistrationMode::Auto) => None,
        };
        if !already_received {
            events.push(Event::AppealReceived {
                appeal: a.arrival,
                key: a.key.clone(),
                urog_number: af.urog_number.clone(),
                urog_number_norm: af.urog_number_norm.clone(),
                urog_date: af.urog_date.map(format_date),
                urog_organization: af.urog_organization.clone(),
                document_uid: af.document_uid.clone(),
                source_uid: facts.source_uid.clone(),
                format: facts.format.version().to_string(),
                restricted: af.restricted,
                signatures: af.signatures.clone(),
                held: held.clone(),
            });
        }
        batch.docs.insert(af.document_uid.clone(), a.arrival);
        if held.is_some() {
            batch.outcomes.insert(a.arrival, Outcome::Pending);
            return Ok(());
        }
        match appeals::refusal(&af, &self.config.sender.uid, self.config.require_signature) {
            Some((reason, comment)) => {
                let outputs = decide::notice(
                    &self.config,
                    &notice_cause,
                    None,
                    Some((reason, Some(comment.clone()))),
                    now,
                );
                events.push(Event::AppealRefused {
                    appeal: a.arrival,
                    reason: reason.as_str().to_string(),
                    comment: Some(comment.clone()),
                    by: "auto".into(),
                    outputs: outputs.into_iter().collect(),
                });
                batch
                    .outcomes
                    .insert(a.arrival, Outcome::Refused(reason, Some(comment)));
            }
            None => {
                let (event, ours) =
                    self.registration(a.arrival, None, now, &notice_cause, "auto", batch)?;
                events.push(event);
                batch.outcomes.insert(a.arrival, Outcome::Registered(ours));
            }
        }
        Ok(())
    }

    /// Answers a УРОГ query, if this package is one: the numbers it names (links, `А26-…` in the
    /// annotation, an attached `query.xml`) looked up in the book; unknown ones reported as not
    /// found and logged for the operator.
    fn query_event(
        &self,
        a: &Arrival,
        package: &Package,
        facts: &Facts,
        role: &str,
        kind: Option<&str>,
        now: OffsetDateTime,
    ) -> Option<Event> {
        let document = package.message.document();
        let container = package.container.as_ref();
        let annotation = document
            .and_then(|d| d.annotation.clone())
            .or_else(|| container.and_then(|c| c.passport.annotation.clone()));
        let dir = self.layout.claimed.join(&a.claim);
        let query_xml = match &package.container_file {
            Some(zip) => entry_bytes(
                &dir.join(zip),
                "query.xml",
                self.config.limits.max_passport_bytes,
            ),
            None => package
                .files
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case("query.xml"))
                .and_then(|f| std::fs::read(dir.join(&f.name)).ok()),
        };
        let from_xml = query_xml
            .and_then(|b| crate::wire::urog::parse_query(&b, &self.config.limits).ok())
            .unwrap_or_default();
        let requested = urog::referenced_numbers(document, annotation.as_deref(), &from_xml);
        let known = requested.iter().any(|n| self.book.find(n).is_ok());
        if !urog::is_query(
            role,
            &self.config.appeal_roles,
            &facts.header_type,
            kind,
            &self.config.query_kinds,
            known,
        ) {
            return None;
        }
        let (number, date) = match (document, container) {
            (Some(d), _) => (d.num.number.clone(), d.num.date),
            (None, Some(c)) => (
                c.passport
                    .authors
                    .first()
                    .and_then(|x| x.registration_number.clone())
                    .unwrap_or_default(),
                c.passport.authors.first().and_then(|x| x.registration_date),
            ),
            _ => (String::new(), None),
        };
        let items = urog::response_items(&requested, &self.book, &self.config.calendar);
        let unresolved: Vec<String> = items
            .iter()
            .filter(|i| !i.found)
            .map(|i| i.requested.clone())
            .collect();
        if !unresolved.is_empty() || requested.is_empty() {
            tracing::warn!(query = %number, unresolved = unresolved.len(), "УРОГ query names appeals we cannot resolve; answered as not found — check it");
        }
        let doc_uid = document
            .map(|d| d.uid.clone())
            .or_else(|| container.and_then(|c| c.passport.uid.clone()))
            .unwrap_or_else(|| facts.header_uid.clone());
        let cause = decide::NoticeCause {
            arrival: a.arrival,
            key: &a.key,
            tag: "",
            source_uid: &facts.source_uid,
            inbound_format: facts.format,
            document_uid: &doc_uid,
            foundation: NoticeRef {
                organization: facts_org(package),
                number: number.clone(),
                date: date.map(format_date),
            },
        };
        let ours = NoticeRef {
            organization: Some(self.config.sender.organization.clone()),
            number: format!("ОЗ-{}", a.arrival),
            date: Some(format_date(now.to_offset(self.config.utc_offset).date())),
        };
        let text = serde_json::to_string(&items).expect("items serialise");
        let progress = decide::Progress {
            kind: "response",
            step: 0,
            text,
            post: None,
        };
        let output = decide::progress_notice(&self.config, &cause, progress, ours, now);
        Some(Event::QueryAnswered {
            arrival: a.arrival,
            key: a.key.clone(),
            query_number: number,
            query_date: date.map(format_date),
            requested,
            unresolved,
            outputs: output.into_iter().collect(),
        })
    }

    /// Allocates the next number of the year (or uses the operator's) and builds the
    /// `appeal_registered` event with its notice.
    fn registration(
        &self,
        appeal: u64,
        number: Option<String>,
        now: OffsetDateTime,
        cause: &decide::NoticeCause<'_>,
        by: &str,
        batch: &mut AppealBatch,
    ) -> Result<(Event, NoticeRef), GatewayError> {
        let date = now.to_offset(self.config.utc_offset).date();
        let year = date.year();
        let seq = self
            .book
            .next_seq(year)
            .max(batch.seqs.get(&year).map_or(1, |s| s + 1));
        let number = number
            .unwrap_or_else(|| appeals::format_number(&self.config.number_template, seq, date));
        let ours = NoticeRef {
            organization: Some(self.config.sender.organization.clone()),
            number: number.clone(),
            date: Some(format_date(date)),
        };
        let pin = appeals::pin(&self.pin_secret, appeal);
        let outputs = decide::notice(&self.config, cause, Some(ours.clone()), None, now);
        batch.seqs.insert(year, seq);
        Ok((
            Event::AppealRegistered {
                appeal,
                number,
                year,
                year_seq: seq,
                date: format_date(date),
                pin_hash: appeals::pin_hash(appeal, &pin),
                by: by.to_string(),
                outputs: outputs.into_iter().collect(),
            },
            ours,
        ))
    }

    /// Runs the configured verifier on every signature not yet checked.
    fn verify_signatures(
        &self,
        af: &mut appeals::AppealFacts,
        dir: &Path,
        zip: Option<&Path>,
        arrival: u64,
    ) {
        let Some(command) = &self.config.signature_verifier else {
            return;
        };
        let timeout = Duration::from_secs(self.config.signature_timeout_secs.max(1));
        for (i, s) in af
            .signatures
            .iter_mut()
            .enumerate()
            .filter(|(_, s)| s.status == "not checked")
        {
            let scratch = self.layout.tmp.join(format!("verify-{arrival}-{i}"));
            let (file, sig) = match zip {
                Some(zip) => {
                    let _ = std::fs::remove_dir_all(&scratch);
                    if std::fs::create_dir_all(&scratch).is_err()
                        || extract_entries(
                            zip,
                            &[&s.document, &s.signature],
                            &scratch,
                            &self.config.limits,
                        )
                        .is_err()
                    {
                        continue;
                    }
                    (scratch.join(&s.document), scratch.join(&s.signature))
                }
                None => (dir.join(&s.document), dir.join(&s.signature)),
            };
            s.status = run_verifier(command, &file, &sig, timeout).to_string();
            let _ = std::fs::remove_dir_all(&scratch);
        }
    }

    /// Applies queued operator commands (register / refuse an appeal waiting for an operator).
    fn process_commands(&mut self) -> Result<(), GatewayError> {
        for (path, command) in control::pending(&self.layout.state, 64) {
            let (now, _) = now_utc();
            let result = command.and_then(|c| self.command_event(&c, now));
            match result {
                Ok(event) => {
                    self.commit(vec![event])?;
                    control::done(&path);
                }
                Err(why) => {
                    tracing::warn!(command = %path.display(), reason = %why, "operator command rejected");
                    control::reject(&path, &why);
                }
            }
        }
        Ok(())
    }

    fn command_event(
        &self,
        command: &control::Command,
        now: OffsetDateTime,
    ) -> Result<Event, String> {
        let appeal = self.book.find(command.id())?.clone();
        let wanted: &[AppealState] = match command {
            control::Command::Progress { .. } => &[AppealState::Registered, AppealState::InWork],
            _ => &[AppealState::Received],
        };
        if !wanted.contains(&appeal.state) {
            return Err(format!(
                "appeal {} is {}: that step does not apply",
                appeal.id,
                appeal.state.label()
            ));
        }
        let format = crate::wire::message::Format::parse(&appeal.format)
            .unwrap_or(crate::wire::message::Format::V22);
        let cause = decide::NoticeCause {
            arrival: appeal.id,
            key: &appeal.key,
            tag: "",
            source_uid: &appeal.source_uid,
            inbound_format: format,
            document_uid: &appeal.document_uid,
            foundation: NoticeRef {
                organization: appeal.urog_organization.clone(),
                number: appeal.urog_number.clone(),
                date: appeal.urog_date.clone(),
            },
        };
        match command {
            control::Command::Progress { step, .. } => {
                self.progress_event(&appeal, step, now, &cause)
            }
            control::Command::Register { number, .. } => {
                if let Some(n) = number {
                    if n.trim().is_empty() || n.chars().count() > 31 {
                        return Err("a registration number has 1 to 31 characters".into());
                    }
                    if self
                        .book
                        .find(n)
                        .is_ok_and(|other| other.number.as_deref() == Some(n.as_str()))
                    {
                        return Err(format!("number {n} is already taken"));
                    }
                }
                let mut batch = AppealBatch::default();
                let (event, _) = self
                    .registration(
                        appeal.id,
                        number.clone(),
                        now,
                        &cause,
                        "operator",
                        &mut batch,
                    )
                    .map_err(|e| e.to_string())?;
                Ok(event)
            }
            control::Command::Refuse {
                reason, comment, ..
            } => {
                let reason = RefusalReason::parse(reason).ok_or_else(|| {
                    format!(
                        "{reason:?} is not one of the nine official reasons: {}",
                        RefusalReason::ALL
                            .iter()
                            .map(|r| r.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                })?;
                let comment = comment.clone().filter(|c| !c.trim().is_empty());
                let outputs = decide::notice(
                    &self.config,
                    &cause,
                    None,
                    Some((reason, comment.clone())),
                    now,
                );
                Ok(Event::AppealRefused {
                    appeal: appeal.id,
                    reason: reason.as_str().to_string(),
                    comment,
                    by: "operator".into(),
                    outputs: outputs.into_iter().collect(),
                })
            }
        }
    }

    /// A step of consideration: validated against the appeal's state and deadlines, journaled
    /// with its notice to УРОГ.
    fn progress_event(
        &self,
        appeal: &Appeal,
        step: &control::Step,
        now: OffsetDateTime,
        cause: &decide::NoticeCause<'_>,
    ) -> Result<Event, String> {
        let registration = NoticeRef {
            organization: Some(self.config.sender.organization.clone()),
            number: appeal.number.clone().unwrap_or_default(),
            date: appeal.registered_on.clone(),
        };
        let n = appeal.steps + 1;
        let (kind, text, post) = match step {
            control::Step::ExecutorAssigned { executor, post } => {
                if executor.trim().is_empty() {
                    return Err("--executor must not be empty".into());
                }
                (
                    "executor",
                    executor.trim().to_string(),
                    post.clone().filter(|p| !p.trim().is_empty()),
                )
            }
            control::Step::Extended { until, reason } => {
                let until_date = crate::wire::time::parse_date(until)
                    .ok_or_else(|| format!("--until {until:?} is not YYYY-MM-DD"))?;
                if reason.trim().is_empty() {
                    return Err("an extension needs a --reason".into());
                }
                let registered = appeal
                    .registered_on
                    .as_deref()
                    .and_then(crate::wire::time::parse_date)
                    .ok_or("the appeal has no registration date")?;
                let due = crate::deadlines::due_dates(
                    &self.config.calendar,
                    registered,
                    Some(registered),
                    None,
                )
                .answer_by
                .expect("registered appeals have an answer date");
                crate::deadlines::check_extension(due, until_date, appeal.extended_to.is_some())?;
                let shown = until_date
                    .format(time::macros::format_description!("[day].[month].[year]"))
                    .map_err(|e| e.to_string())?;
                (
                    "course",
                    format!("Срок рассмотрения продлён до {shown}: {}", reason.trim()),
                    None,
                )
            }
            control::Step::Redirected {
                to,
                sstu_id,
                number,
            } => {
                if to.trim().is_empty() {
                    return Err("--to must name the competent body".into());
                }
                if let Some(g) = sstu_id {
                    if !crate::wire::read::is_guid(g) {
                        return Err(format!("--sstu-id {g:?} is not a GUID"));
                    }
                }
                let letter = number
                    .as_deref()
                    .map(|n| format!(" (исх. № {n})"))
                    .unwrap_or_default();
                (
                    "course",
                    format!("Направлено по компетенции: {}{letter}", to.trim()),
                    None,
                )
            }
            control::Step::Answered { result, file } => {
                let (label, _) = control::result(result).ok_or_else(|| {
                    format!(
                        "--result {result:?}: use one of {}",
                        control::RESULTS
                            .iter()
                            .map(|r| r.0)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
                if let Some(f) = file {
                    let src = Path::new(f);
                    let name = src.file_name().ok_or("--file has no file name")?;
                    let dir = self
                        .layout
                        .state
                        .join("answers")
                        .join(appeal.id.to_string());
                    std::fs::create_dir_all(&dir)
                        .and_then(|_| std::fs::copy(src, dir.join(name)))
                        .map_err(|e| format!("cannot keep the answer file {f}: {e}"))?;
                }
                ("report", format!("Рассмотрено: {label}"), None)
            }
        };
        let progress = decide::Progress {
            kind,
            step: n,
            text,
            post,
        };
        let outputs = decide::progress_notice(&self.config, cause, progress, registration, now);
        Ok(Event::AppealProgress {
            appeal: appeal.id,
            step: step.clone(),
            outputs: outputs.into_iter().collect(),
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
        events.push(Event::Quarantined {
            arrival: a.arrival,
            key: a.key.clone(),
            code: code.to_string(),
            message: message.to_string(),
            header_uid: facts.as_ref().map(|f| f.header_uid.clone()),
        });
        let receipt = facts
            .as_ref()
            .filter(|f| decide::wants_receipt(&f.header_type, &self.config))
            .and_then(|f| {
                let comment = format!("Сообщение не принято: {code}");
                decide::receipt(
                    &self.config,
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

    /// Publishes unpublished outputs, then files away every decided arrival; each step is one
    /// group commit (one sync of the files, one journal fsync).
    fn effects(&mut self, report: &mut PassReport) -> Result<(), GatewayError> {
        let ready: Vec<Arrival> = self
            .store
            .unfinished()?
            .into_iter()
            .filter(|a| matches!(a.state, State::Decided | State::Quarantined))
            .collect();
        // 1. every output decided and not yet published (receipts, notices — also those of
        //    operator decisions about arrivals long archived)
        let pending = self.store.pending_outputs()?;
        let mut packages = Vec::new();
        let mut owners = Vec::new();
        for p in &pending {
            match outbox::render(&p.output, &self.config) {
                Ok(files) => {
                    packages.push(spool::Outgoing {
                        name: p.output.name.clone(),
                        files,
                    });
                    owners.push(p);
                }
                Err(e) => {
                    tracing::error!(output = %p.output.name, error = %e, "cannot render an output; it stays pending (the journal keeps the decision)")
                }
            }
        }
        let digests = spool::publish_all(&self.layout, &packages)?;
        let events: Vec<Event> = packages
            .iter()
            .zip(&owners)
            .zip(digests)
            .map(|((p, o), sha256)| Event::Published {
                arrival: o.arrival,
                key: o.key.clone(),
                name: p.name.clone(),
                sha256,
            })
            .collect();
        report.published += events.len();
        self.commit(events)?;
        // 2. resting places
        if ready.is_empty() {
            return Ok(());
        }
        let mut moves = Vec::new();
        let mut dirs = Vec::new();
        let mut taken: HashSet<String> = HashSet::new();
        for a in &ready {
            let (rel, reason) = match (&a.state, &a.quarantine) {
                (State::Quarantined, Some((code, message))) => {
                    let rel = self.quarantine_dir(a, &taken);
                    let reason = Reason {
                        code: code.clone(),
                        message: message.clone(),
                        time: now_utc().1,
                        original_name: a.src.clone(),
                        key: a.key.clone(),
                        arrival: a.arrival,
                        header_uid: a.header_uid.clone(),
                    };
                    (rel, Some(reason))
                }
                _ => (self.archive_dir(a)?, None),
            };
            taken.insert(rel.clone());
            moves.push(spool::Move {
                claim: a.claim.clone(),
                dest: self.layout.state.join(&rel),
                reason,
            });
            dirs.push(rel);
        }
        spool::file_away_all(&self.layout, &moves)?;
        let events: Vec<Event> = ready
            .iter()
            .zip(dirs)
            .map(|(a, dir)| Event::Archived {
                arrival: a.arrival,
                key: a.key.clone(),
                dir,
            })
            .collect();
        report.archived += events.len();
        self.commit(events)?;
        Ok(())
    }

    /// `archive/<date received>/<key>` for the first arrival of a key, `<key>.<arrival>` after.
    fn archive_dir(&self, a: &Arrival) -> Result<String, GatewayError> {
        let date = a.received_at.get(..10).unwrap_or("undated");
        let first = self
            .store
            .by_key(&a.key)?
            .is_none_or(|first| first == a.arrival);
        let leaf = if first {
            a.key.clone()
        } else {
            format!("{}.{}", a.key, a.arrival)
        };
        Ok(format!("archive/{date}/{leaf}"))
    }

    /// `quarantine/<key>` unless another arrival of the same key holds it (on disk, or earlier
    /// in this batch): then `quarantine/<key>.<arrival>`.
    fn quarantine_dir(&self, a: &Arrival, taken: &HashSet<String>) -> String {
        let plain = format!("quarantine/{}", a.key);
        let reason = self.layout.state.join(&plain).join("reason.json");
        let mine = match std::fs::read(&reason) {
            Ok(bytes) => {
                serde_json::from_slice::<Reason>(&bytes).is_ok_and(|r| r.arrival == a.arrival)
            }
            Err(_) => !self.layout.state.join(&plain).exists(),
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
                    let work_left = !self.store.unfinished()?.is_empty();
                    if progressed || work_left || r.next_look == Some(Duration::ZERO) {
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
                    let wait = backoff(transient_failures);
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

    /// Journals `service_stop` (clean shutdown).
    pub fn close(mut self) -> Result<(), GatewayError> {
        self.commit(vec![Event::ServiceStop])?;
        Ok(())
    }
}

/// What became of an appeal, for answering its re-deliveries.
#[derive(Debug, Clone)]
enum Outcome {
    Registered(NoticeRef),
    Refused(RefusalReason, Option<String>),
    Pending,
}

/// Appeal decisions made in the current batch (the book learns them only on commit).
#[derive(Debug, Default)]
struct AppealBatch {
    docs: HashMap<String, u64>,
    seqs: HashMap<i32, u64>,
    outcomes: HashMap<u64, Outcome>,
}

fn outcome_of(a: &Appeal) -> Outcome {
    match a.state {
        AppealState::Registered => Outcome::Registered(NoticeRef {
            organization: None,
            number: a.number.clone().unwrap_or_default(),
            date: a.registered_on.clone(),
        }),
        AppealState::Refused => match a.reason.as_deref().and_then(RefusalReason::parse) {
            Some(r) => Outcome::Refused(r, a.comment.clone()),
            None => Outcome::Pending,
        },
        // registered and then considered: a re-delivery gets the registration notice again
        AppealState::InWork | AppealState::Redirected | AppealState::Answered => {
            Outcome::Registered(NoticeRef {
                organization: None,
                number: a.number.clone().unwrap_or_default(),
                date: a.registered_on.clone(),
            })
        }
        AppealState::Received => Outcome::Pending,
    }
}

/// Runs a signature verifier (no shell): `{file}` and `{signature}` in its arguments are
/// replaced by paths. Exit 0 → `verified`, another exit → `invalid`, no result in time or
/// cannot start → `not checked`.
pub fn run_verifier(
    command: &str,
    file: &Path,
    signature: &Path,
    timeout: Duration,
) -> &'static str {
    let mut parts = command.split_whitespace().map(|p| {
        p.replace("{file}", &file.to_string_lossy())
            .replace("{signature}", &signature.to_string_lossy())
    });
    let Some(program) = parts.next() else {
        return "not checked";
    };
    let child = std::process::Command::new(program)
        .args(parts)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        tracing::warn!(program = %command, "signature verifier cannot start");
        return "not checked";
    };
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return "verified",
            Ok(Some(_)) => return "invalid",
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                tracing::warn!(
                    timeout_s = timeout.as_secs(),
                    "signature verifier timed out"
                );
                return "not checked";
            }
        }
    }
}

/// Capped exponential backoff: 1 s, 2 s, 4 s … 64 s.
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(6))
}

/// Brings the store up to the journal: replays the records it has not applied (a crash
/// between the journal's fsync and the store's flush leaves it behind), or rebuilds it from
/// scratch when it was reset or does not match the journal (ahead of it, or another head).
fn catch_up(store: &Store, journal: &Path, reset: bool, next_seq: u64) -> Result<(), GatewayError> {
    let applied = store.applied_seq()?;
    let consistent = match applied {
        _ if reset => false,
        None => true,
        Some(seq) if seq >= next_seq => false,
        Some(seq) => {
            let at = crate::journal::read_from(journal, seq)?;
            let head = store.head()?;
            at.first()
                .is_some_and(|r| r.seq == seq && Some(&r.hash) == head.as_ref())
        }
    };
    if !consistent {
        let n = store::rebuild(store, journal)
            .map_err(|e| GatewayError::Other(format!("store rebuild: {e}")))?;
        tracing::warn!(records = n, "store rebuilt from the journal");
        return Ok(());
    }
    let from = applied.map_or(0, |s| s + 1);
    if from < next_seq {
        let records = crate::journal::read_from(journal, from)?;
        for r in &records {
            store.apply(r)?;
        }
        store.flush()?;
        tracing::info!(records = records.len(), "store caught up with the journal");
    }
    Ok(())
}

/// Reads the PIN secret, creating it (32 random bytes, mode 0600) the first time.
fn load_or_create_secret(path: &Path) -> Result<Vec<u8>, GatewayError> {
    if let Ok(bytes) = std::fs::read(path) {
        if bytes.len() >= 16 {
            return Ok(bytes);
        }
    }
    let secret: Vec<u8> = uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .chain(uuid::Uuid::new_v4().as_bytes())
        .copied()
        .collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .map_err(|e| GatewayError::Other(format!("cannot create {}: {e}", path.display())))?;
    std::io::Write::write_all(&mut f, &secret)
        .and_then(|_| f.sync_all())
        .map_err(|e| GatewayError::Other(format!("cannot write {}: {e}", path.display())))?;
    Ok(secret)
}

/// The sender organisation of a package (header source).
fn facts_org(package: &Package) -> Option<String> {
    package.message.header.source.organization.clone()
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
        header_uid: f.header_uid.clone(),
        header_type: f.header_type.as_str().to_string(),
        format: p.message.format.version().to_string(),
        source_uid: f.source_uid.clone(),
        document_uid: match &p.message.body {
            Body::Document { document, .. } => Some(document.uid.clone()),
            Body::Container(_) => p.container.as_ref().and_then(|c| c.passport.uid.clone()),
            _ => None,
        },
        warnings: p.warnings.len() as u64,
    }
}

/// `run --once`: process everything ready now, publish all effects, stop.
pub fn run_once(config: Config) -> Result<PassReport, GatewayError> {
    let mut gw = Gateway::open(config)?;
    let report = gw.run_until_idle(20);
    let closed = gw.close();
    let report = report?;
    closed?;
    Ok(report)
}

/// `run`: the service. Filesystem events only nudge the scan loop; it also rescans every
/// `rescan_secs` and whenever a folder is settling. Returns on `shutdown` (clean stop) or on
/// a fatal error.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), GatewayError> {
    use notify::Watcher;
    let rescan = Duration::from_secs(config.spool.rescan_secs.max(1));
    let inbound = config.spool.inbound.clone();
    let http_listen = config.http_listen;
    let token_file = config.api_token_file.clone();
    let control_dir = control::dir(&config.spool.state_dir);
    let _ = std::fs::create_dir_all(&control_dir);
    let mut gw = tokio::task::spawn_blocking(move || Gateway::open(config))
        .await
        .map_err(|e| GatewayError::Other(e.to_string()))??;
    let (nudge_tx, mut nudges) = tokio::sync::mpsc::channel::<()>(1);
    let mut watcher = notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
        // any event, error or overflow (need_rescan) is just a nudge: the scan decides
        let _ = nudge_tx.try_send(());
    })
    .map_err(|e| GatewayError::Other(format!("cannot watch {}: {e}", inbound.display())))?;
    if let Err(e) = watcher.watch(&inbound, notify::RecursiveMode::Recursive) {
        tracing::warn!(error = %e, "filesystem events unavailable; relying on periodic rescans");
    }
    // operator commands are applied as soon as they are queued
    let _ = watcher.watch(&control_dir, notify::RecursiveMode::NonRecursive);
    // the HTTP API, when configured, reads the book the loop publishes after each pass
    let shared_book = std::sync::Arc::new(std::sync::RwLock::new(gw.book().clone()));
    let (http_stop, http_task) = match http_listen {
        Some(listen) => {
            let token = match &token_file {
                Some(f) => Some(
                    std::fs::read_to_string(f)
                        .map_err(|e| {
                            GatewayError::Other(format!(
                                "cannot read api_token_file {}: {e}",
                                f.display()
                            ))
                        })?
                        .trim()
                        .to_string(),
                )
                .filter(|t| !t.is_empty()),
                None => None,
            };
            let state = std::sync::Arc::new(crate::http::HttpState::new(
                gw.config().clone(),
                shared_book.clone(),
                token,
            ));
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| GatewayError::Other(format!("cannot listen on {listen}: {e}")))?;
            let task = tokio::spawn(crate::http::serve(listener, state, async {
                let _ = rx.await;
            }));
            (Some(tx), Some(task))
        }
        None => (None, None),
    };
    tracing::info!(inbound = %inbound.display(), "medo-gateway running");
    tokio::pin!(shutdown);
    let mut failures = 0u32;
    loop {
        let (back, result) = tokio::task::spawn_blocking(move || {
            let r = gw.pass();
            (gw, r)
        })
        .await
        .map_err(|e| GatewayError::Other(e.to_string()))?;
        gw = back;
        if http_task.is_some() {
            *shared_book.write().expect("book lock") = gw.book().clone();
        }
        let wait = match result {
            Ok(r) => {
                failures = 0;
                if r.claimed + r.published + r.quarantined > 0 {
                    tracing::info!(
                        claimed = r.claimed,
                        published = r.published,
                        quarantined = r.quarantined,
                        duplicates = r.duplicates,
                        "pass"
                    );
                }
                r.next_look.map_or(rescan, |n| n.min(rescan))
            }
            Err(e) if e.is_transient() => {
                failures += 1;
                let wait = backoff(failures);
                tracing::warn!(error = %e, retry_in_s = wait.as_secs(), "transient error; retrying");
                wait
            }
            Err(e) => return Err(e),
        };
        tokio::select! {
            _ = &mut shutdown => break,
            _ = nudges.recv() => {
                // let a burst of events finish before scanning
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
    drop(watcher);
    if let (Some(stop), Some(task)) = (http_stop, http_task) {
        let _ = stop.send(());
        let _ = task.await;
    }
    tokio::task::spawn_blocking(move || gw.close())
        .await
        .map_err(|e| GatewayError::Other(e.to_string()))??;
    tracing::info!("medo-gateway stopped");
    Ok(())
}
