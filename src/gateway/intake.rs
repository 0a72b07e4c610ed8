//! Appeals and УРОГ queries inside the run loop: recognising forwarded appeals and queries,
//! deciding registrations and refusals, answering queries, and applying operator commands
//! (register, refuse, steps of consideration). Produces journal events only; the effects are
//! published by the loop. Split from `gateway` so that module keeps the spool protocol.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::*;

impl Gateway {
    /// Recognises a forwarded appeal and journals what becomes of it: a re-delivery gets the
    /// notice the first delivery got; a new one is received, its signatures recorded (and
    /// verified when a verifier is configured), then — in auto mode and not held — refused by
    /// the first rule that applies, or registered under the next number of the year.
    pub(super) fn appeal_events(
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
        if let Body::Acknowledgment(ack) = &package.message.body {
            if self.store.awaits(&ack.uid)? {
                if !ack.accepted {
                    tracing::warn!(about = %ack.uid, "a partner did not accept our document (negative receipt)");
                }
                events.push(Event::ReceiptReceived {
                    arrival: a.arrival,
                    about_uid: ack.uid.clone(),
                    accepted: ack.accepted,
                    comment: ack.comment.clone(),
                });
            }
            return Ok(());
        }
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
            source_uid: &facts.source_uid,
            inbound_format: facts.format,
            document_uid: &doc_uid,
            foundation,
        };
        // decided before a crash cut the batch short: do not decide twice
        if let Some(known) = self.store.try_appeal(a.arrival)? {
            if known.state != AppealState::Received
                || known.held.is_some()
                || self.config.mode == RegistrationMode::Manual
            {
                return Ok(());
            }
        }
        // a re-delivery of an appeal we already have
        let original = match self.store.try_by_document(&af.document_uid)? {
            Some(o) if o.id != a.arrival => Some((o.id, outcome_of(&o))),
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
        let already_received = self.store.try_appeal(a.arrival)?.is_some();
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
        let known = requested.iter().any(|n| self.store.find(n).is_ok());
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
        let items = urog::response_items(&requested, &self.store, &self.config.calendar);
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
            source_uid: &facts.source_uid,
            inbound_format: facts.format,
            document_uid: &doc_uid,
            foundation: NoticeRef {
                organization: package.message.header.source.organization.clone(),
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
            .store
            .try_next_seq(year)?
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
    pub(super) fn process_commands(&mut self) -> Result<(), GatewayError> {
        for (path, command) in control::pending(&self.layout.state, 64) {
            let (now, _) = self.now();
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
        if let control::Command::Retried { arrival, to } = command {
            return match self.store.arrival(*arrival) {
                Ok(Some(_)) => Ok(Event::Retried {
                    arrival: *arrival,
                    to: to.clone(),
                }),
                Ok(None) => Err(format!("no arrival {arrival}")),
                Err(e) => Err(e.to_string()),
            };
        }
        let appeal = self.store.find(command.id())?;
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
                        .store
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
            control::Command::Retried { .. } => unreachable!("handled before the appeal lookup"),
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
pub(super) struct AppealBatch {
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
