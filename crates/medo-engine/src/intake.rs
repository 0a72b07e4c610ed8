//! The loop's side of decisions about appeals, queries and operator commands: it *gathers*
//! what the pure core (`medo_core::decision`) needs — the parsed package, signature heads,
//! `query.xml`, the verifier's results, an appeal's package read again for the registration
//! checks — calls the core against the batch's [`Overlay`], and performs what the core may
//! not (running the verifier, copying an answer file after its record is journaled).

use std::collections::HashMap;
use std::path::Path;

use time::OffsetDateTime;

use super::*;
use medo_core::decision::command::Op;
use medo_core::decision::{
    self, ArrivalInput, BookView, CommandInput, Context, DocumentInput, Incoming, LinkInput,
    Overlay, ReceiptInput,
};
use medo_model::AnswerFile;
use medo_wire::message::Acknowledgment;
use medo_wire::package::{container_entry, container_entry_head, read_member};

/// A command's event with the attached file to keep once it is journaled (appeal,
/// (reference, kept name)), or why the command does not apply.
type CommandOutcome = Result<(Vec<Event>, Option<(u64, (String, String))>), Rejected>;

/// Why an operator command does not apply: its words are the rejection the operator or the
/// СЭД reads (`control/rejected/`).
#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    #[error(transparent)]
    Refusal(#[from] decision::Refusal),
    #[error("нет поступления {0}")]
    NoArrival(u64),
    #[error("нет органа {0:?} в [[bodies]] этого узла")]
    NoBody(String),
    #[error(
        "поступление {0} не ждёт назначения органа (адресат его определён, или орган уже назначен)"
    )]
    NotHeld(u64),
    #[error("пакет поступления {arrival} не читается: {why}")]
    Unreadable { arrival: u64, why: String },
    #[error(transparent)]
    Unparsed(#[from] control::Unparsed),
    #[error(transparent)]
    Approval(#[from] medo_core::approval::NotApproved),
}

/// The decisions of one pass: the book as of the previous decision, over the strict store,
/// and the package keys and header uids first seen in this batch (the store learns them only
/// on commit).
pub(super) struct Batch<'s> {
    view: Overlay<'s>,
    strict: &'s StrictStore,
    keys: HashMap<medo_model::PackageKey, u64>,
    uids: HashMap<String, u64>,
}

impl<'s> Batch<'s> {
    pub(super) fn new(strict: &'s StrictStore) -> Batch<'s> {
        Batch {
            view: Overlay::new(strict),
            strict,
            keys: HashMap::new(),
            uids: HashMap::new(),
        }
    }

    /// The earlier arrival this one repeats (same key first, then same header uid), in the
    /// store or earlier in this batch.
    pub(super) fn duplicate_of(
        &mut self,
        store: &dyn medo_store::Index,
        a: &Arrival,
        header_uid: &str,
    ) -> Result<Option<(u64, medo_model::DuplicateBy)>, GatewayError> {
        let by_key = store
            .by_key(&a.key)?
            .or_else(|| self.keys.get(&a.key).copied());
        let by_uid = store
            .by_uid(header_uid)?
            .or_else(|| self.uids.get(header_uid).copied());
        self.keys.entry(a.key.clone()).or_insert(a.arrival);
        self.uids.entry(header_uid.to_string()).or_insert(a.arrival);
        Ok(decide::duplicate_of(a.arrival, by_key, by_uid))
    }
}

/// Bytes of a signature read to tell its encoding.
const SIGNATURE_HEAD: u64 = 64;

impl<B: Backend> Gateway<B> {
    /// Decides the book's events for one parsed arrival against the batch's view (the book as
    /// of the previous decision), folds them into it and returns them. A store read error
    /// discards the decision and stops the pass.
    pub(super) fn book_events(
        &self,
        input: ArrivalInput,
        now: OffsetDateTime,
        batch: &mut Batch<'_>,
        body: &str,
    ) -> Result<Vec<Event>, GatewayError> {
        let (view, strict) = (&mut batch.view, batch.strict);
        let ctx = self.context(now).for_body(body);
        let mut decided = decision::decide_arrival(&input, view, ctx);
        let ts = now.format(&Rfc3339).expect("UTC times format");
        view.apply(&decided, &ts);
        let again = decision::reanswers(&decided, view, ctx);
        view.apply(&again, &ts);
        decided.extend(again);
        strict.take_error()?;
        tell_operator(&decided);
        Ok(decided)
    }

    /// Which body an arrival is for, as the batch's view knows the book (a store read error
    /// stops the pass).
    pub(super) fn route(
        &self,
        input: &ArrivalInput,
        batch: &Batch<'_>,
    ) -> Result<decision::Route, GatewayError> {
        let route = decision::route_of(input, &batch.view, &self.config.policy);
        batch.strict.take_error()?;
        Ok(route)
    }

    /// What the core is given besides its input and the view.
    pub(super) fn context(&self, now: OffsetDateTime) -> Context<'_> {
        Context {
            policy: &self.config.policy,
            bodies: &self.policies,
            pin_secret: &self.pin_secret,
            now,
        }
    }

    /// Everything a decision about this arrival reads, read now (`duplicate_of` is set by
    /// the caller, once the batch has seen it).
    pub(super) fn gather(
        &self,
        a: &Arrival,
        package: &Package,
        facts: &Facts,
    ) -> Result<ArrivalInput, GatewayError> {
        self.gather_at(a, package, facts, &self.layout.claimed.join(&a.claim))
    }

    /// [`Self::gather`] of a package in `dir` (claimed, or where it rests).
    fn gather_at(
        &self,
        a: &Arrival,
        package: &Package,
        facts: &Facts,
        dir: &Path,
    ) -> Result<ArrivalInput, GatewayError> {
        let body = match &package.message.body {
            Body::Acknowledgment(ack) => Incoming::Receipt(Box::new(self.receipt_input(ack)?)),
            Body::Document { .. } | Body::Container(_) => {
                Incoming::Document(Box::new(self.document_input(package, facts, dir)))
            }
            _ => Incoming::Other,
        };
        Ok(ArrivalInput {
            arrival: a.arrival,
            key: a.key.clone(),
            facts: facts.clone(),
            duplicate_of: None,
            body,
            bodies: Vec::new(),
        })
    }

    /// A receipt with what it is about: a document of ours waiting for it, or any message of
    /// ours — by its uid, or (a zero uid) by the file the МЭДО operator names.
    pub(super) fn receipt_input(&self, ack: &Acknowledgment) -> Result<ReceiptInput, GatewayError> {
        let by_uid = match ack.uid.trim_start_matches(['0', '-']).is_empty() {
            true => None,
            false => self
                .backend
                .index()
                .sent(&ack.uid)?
                .map(|name| (ack.uid.to_lowercase(), name)),
        };
        let ours = match (by_uid, ack.error_file.as_deref()) {
            (Some(found), _) => Some(found),
            (None, Some(file)) => self.backend.index().sent_file(file)?,
            (None, None) => None,
        };
        Ok(ReceiptInput {
            about_uid: ack.uid.clone(),
            accepted: ack.accepted,
            comment: ack.comment.clone(),
            by_operator: ack.is_operator_error(),
            error_code: ack.error_code.clone(),
            error_file: ack.error_file.clone(),
            awaited: self.backend.index().awaits(&ack.uid)?,
            ours,
        })
    }

    /// A Документ or container as the core sees it.
    fn document_input(&self, package: &Package, facts: &Facts, dir: &Path) -> DocumentInput {
        let document = package.message.document();
        let passport = package.container.as_ref().map(|c| &c.passport);
        let author = passport.and_then(|p| p.authors.first());
        let zip = package.container_file.as_deref();
        let head = |name: &str| signature_head(dir, zip, name);
        DocumentInput {
            kind: document
                .and_then(|d| d.kind.clone())
                .or_else(|| passport.and_then(|p| p.kind.text.clone())),
            uid: document
                .map(|d| d.uid.clone())
                .or_else(|| passport.and_then(|p| p.uid.clone()))
                .unwrap_or_else(|| facts.header_uid.clone()),
            number: document
                .map(|d| d.num.number.clone())
                .or_else(|| author.and_then(|x| x.registration_number.clone()))
                .unwrap_or_default(),
            date: document
                .map(|d| d.num.date)
                .unwrap_or_else(|| author.and_then(|x| x.registration_date)),
            organization: package.message.header.source.organization.clone(),
            annotation: document
                .and_then(|d| d.annotation.clone())
                .or_else(|| passport.and_then(|p| p.annotation.clone())),
            links: document
                .map(links_of)
                .or_else(|| passport.map(passport_links))
                .unwrap_or_default(),
            query_xml: self.query_xml(package, dir, zip),
            appeal: appeals::facts(package, &head),
            addressing: addressing(package),
        }
    }

    /// The numbers of an attached `query.xml`, `None` when there is none (one that does not
    /// parse still makes the document a query, naming nothing).
    fn query_xml(&self, package: &Package, dir: &Path, zip: Option<&str>) -> Option<Vec<String>> {
        let max = self.config.limits.max_passport_bytes;
        let bytes = match zip {
            Some(zip) => container_entry(dir, zip, "query.xml", max)?,
            None => {
                let f = package
                    .files
                    .iter()
                    .find(|f| f.name.eq_ignore_ascii_case("query.xml"))?;
                match read_member(dir, &f.name, max) {
                    Ok((bytes, len)) if len <= max => bytes,
                    _ => Vec::new(),
                }
            }
        };
        Some(medo_wire::urog::parse_query(&bytes, &self.config.limits).unwrap_or_default())
    }

    /// Whether every signature of a new appeal that needs checking has its answer from the
    /// verifier workers (`super::verify`); the answers are written into `input`. `false`:
    /// checks still run (sent now if not yet) — the appeal waits, nothing else does.
    pub(super) fn signatures_ready(
        &mut self,
        input: &mut ArrivalInput,
        a: &Arrival,
        package: &Package,
        batch: &Batch<'_>,
    ) -> bool {
        if self.config.signature_verifier.is_none()
            || !decision::needs_verification(input, &batch.view, &self.config.policy)
        {
            return true;
        }
        let Incoming::Document(doc) = &mut input.body else {
            return true;
        };
        let Some(af) = doc.appeal.as_mut() else {
            return true;
        };
        let mut ready = true;
        let waiting = af
            .signatures
            .iter_mut()
            .enumerate()
            .filter(|(_, s)| s.status == medo_model::SignatureCheck::NotChecked);
        for (i, s) in waiting {
            let job = super::verify::Job {
                arrival: a.arrival,
                index: i,
                dir: self.layout.claimed.join(&a.claim),
                zip: package.container_file.clone(),
                document: s.document.clone(),
                signature: s.signature.clone(),
                scratch: self.layout.tmp.join(format!("verify-{}-{i}", a.arrival)),
            };
            match self.verifiers.status(job) {
                Some((status, signer)) => {
                    s.status = status;
                    s.signer = signer;
                }
                None => ready = false,
            }
        }
        ready
    }

    /// Applies queued operator commands (register / refuse / steps, at most
    /// [`COMMANDS_PER_PASS`] a pass), one journal commit each.
    pub(super) fn process_commands(&mut self) -> Result<(), GatewayError> {
        use control::Queue;
        for queued in self.queue.pending(COMMANDS_PER_PASS) {
            let (ticket, id, command) = (queued.ticket, queued.id, queued.command);
            let attachment = command.as_ref().ok().and_then(attachment_of);
            if self.backend.index().command_done(&id)? {
                // journaled before a crash cut the removal of its file: never applied twice
                tracing::info!(command = %id, "operator command already applied; removing its file");
                let appeal = command.as_ref().ok().and_then(|c| {
                    medo_core::book::Appeals::find(self.backend.index(), c.id()).ok()
                });
                if let (Some(a), Some(r)) = (appeal, &attachment) {
                    self.keep_answer(a.id, r);
                }
                self.queue.done(&ticket);
                attachment.inspect(|(r, _)| self.queue.detach(r));
                continue;
            }
            let (earlier, _attempt) = self.queue.begin(&ticket);
            if earlier >= control::POISON_AFTER {
                self.poison_command(&ticket, &id, command.as_ref().ok(), earlier)?;
                attachment.inspect(|(r, _)| self.queue.detach(r));
                continue;
            }
            medo_stdx::fault::point("in-command");
            let (now, _) = self.now();
            let result = match command {
                Ok(c) => self.command_event(&c, &id, now),
                Err(e) => Ok(Err(e.into())),
            }?;
            match result {
                Ok((events, answer)) => {
                    self.commit(events)?;
                    medo_stdx::fault::point("after-command-commit");
                    if let Some((appeal, r)) = &answer {
                        self.keep_answer(*appeal, r);
                    }
                    self.queue.done(&ticket);
                }
                Err(why) => {
                    tracing::warn!(command = %ticket, reason = %why, "operator command rejected");
                    self.queue.reject(&ticket, &why.to_string());
                }
            }
            attachment.inspect(|(r, _)| self.queue.detach(r));
        }
        Ok(())
    }

    /// Sets aside a command the process stopped on `stops` times in a row: journaled
    /// (`command_poisoned`), then moved to `control/poisoned/` with the reason — never tried
    /// again, so one command cannot keep the service from starting.
    fn poison_command(
        &mut self,
        ticket: &control::Ticket,
        id: &str,
        command: Option<&control::Command>,
        stops: u32,
    ) -> Result<(), GatewayError> {
        let reason = format!(
            "служба {stops} раза подряд аварийно остановилась, выполняя эту команду; \
             команда отложена и выполнена не будет (подайте её заново, исправив причину)"
        );
        tracing::error!(command = %id, stops, "an operator command kept stopping the service: set aside as poisoned");
        self.commit(vec![Event::CommandPoisoned {
            command: id.into(),
            op: command
                .map_or("unreadable", control::Command::op)
                .to_string(),
            about: command.map(|c| c.id().to_string()).unwrap_or_default(),
            reason: reason.clone(),
        }])?;
        control::Queue::poison(&self.queue, ticket, &reason);
        Ok(())
    }

    /// The event for a command (and an answer file to keep once it is journaled), or why it
    /// does not apply; a store read error stops the pass.
    fn command_event(
        &self,
        command: &control::Command,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<CommandOutcome, GatewayError> {
        if let control::Command::Retried { arrival, to } = command {
            return Ok(match self.backend.index().arrival(*arrival)? {
                Some(_) => Ok((
                    vec![Event::Retried {
                        arrival: *arrival,
                        to: to.clone(),
                        command: Some(id.into()),
                    }],
                    None,
                )),
                None => Err(Rejected::NoArrival(*arrival)),
            });
        }
        if let control::Command::Redirect {
            id: appeal,
            to,
            comment,
            operator,
        } = command
        {
            let input = decision::RedirectInput {
                id: appeal.clone(),
                to: to.clone(),
                comment: comment.clone(),
                operator: operator.clone(),
                command: Some(id.into()),
                files: None,
            };
            return self.redirect(input, now);
        }
        if let control::Command::Approve { document, operator } = command {
            return self.approve(document, operator.clone(), id);
        }
        if let control::Command::Assign {
            arrival,
            body,
            operator,
        } = command
        {
            let assignment = (*arrival, body.as_str(), operator.clone());
            return self.assign(assignment, id, now);
        }
        let strict = StrictStore::new(self.backend.index().clone());
        let mut input = self.command_input(command, &strict);
        input.command = Some(id.into());
        let decided = decision::decide_command(&input, &strict, self.context(now));
        strict.take_error()?;
        let answer = match (&decided, &input.answer_file) {
            (Ok(Event::AppealProgress { appeal, .. }), Some(Ok(_))) => {
                attachment_of(command).map(|r| (*appeal, r))
            }
            _ => None,
        };
        Ok(decided.map(|e| (vec![e], answer)).map_err(Rejected::from))
    }

    /// `documents approve`: the pending document the id names, among those waiting for
    /// approval, is released (`document_approved`); a second approval is refused.
    fn approve(
        &self,
        document: &str,
        operator: Option<String>,
        id: &str,
    ) -> Result<CommandOutcome, GatewayError> {
        let index = self.backend.index();
        let waiting = self.awaiting_approval()?;
        let chosen = medo_core::approval::choose(&waiting, document, |name| {
            index.approved(name).unwrap_or(false)
        });
        let (arrival, output) = match chosen {
            Ok(found) => found,
            Err(why) => return Ok(Err(Rejected::Approval(why))),
        };
        let key = index.arrival(*arrival)?.map(|a| a.key).unwrap_or_default();
        Ok(Ok((
            vec![Event::DocumentApproved {
                arrival: *arrival,
                key,
                name: output.name.clone(),
                operator,
                command: Some(id.into()),
            }],
            None,
        )))
    }

    /// Every pending output of a kind that waits for approval under the configuration (the
    /// approved ones among them too), with its arrival.
    pub(crate) fn awaiting_approval(&self) -> Result<Vec<(u64, medo_model::Output)>, GatewayError> {
        let setting = (self.config.approval.queries, self.config.approval.reports);
        let page = self
            .backend
            .index()
            .pending_outputs_oldest(usize::MAX, &|_| true)?;
        Ok(page
            .items
            .into_iter()
            .filter(|p| medo_core::approval::waits(p.output.kind, setting))
            .map(|p| (p.arrival, p.output))
            .collect())
    }

    /// `appeals redirect`: decided with the appeal's files at hand; a forwarded appeal's files
    /// kept (`forward::keep`) before its record is journaled.
    fn redirect(
        &self,
        mut input: decision::RedirectInput,
        now: OffsetDateTime,
    ) -> Result<CommandOutcome, GatewayError> {
        let strict = StrictStore::new(self.backend.index().clone());
        let package = strict.find(&input.id).ok().map(|appeal| {
            let dir = crate::package_dir(&self.layout, self.backend.index(), &appeal)?;
            let files = crate::forward::files_of(&appeal.files, &dir, &self.config.limits);
            Ok::<_, store::StoreError>((dir, files))
        });
        let package = package.transpose()?;
        input.files = package.as_ref().map(|(_, files)| files.clone());
        let decided = decision::decide_redirect(&input, &strict, self.context(now));
        strict.take_error()?;
        let events = match decided {
            Ok(events) => events,
            Err(refusal) => return Ok(Err(refusal.into())),
        };
        let sent = crate::forward::forwarded_files(&events);
        if let (false, Some((dir, Ok(arrived)))) = (sent.is_empty(), &package) {
            if let Err(why) = crate::forward::keep(&self.layout.shared_dir, dir, arrived, &sent) {
                return Ok(Err(decision::Refusal::FilesUnread(why).into()));
            }
            medo_stdx::fault::point("after-forwarded-kept");
        }
        Ok(Ok((events, None)))
    }

    /// `appeals assign`: a held package (`unrouted`) decided now as `body`'s — `assigned`
    /// with the body's receipt, then what the arrival gives for that body (the appeal
    /// received and registered, a query answered, …), read from where the package rests.
    fn assign(
        &self,
        (arrival, body, operator): (u64, &str, Option<String>),
        id: &str,
        now: OffsetDateTime,
    ) -> Result<CommandOutcome, GatewayError> {
        let index = self.backend.index();
        if self.config.policy.body(body).is_none() {
            return Ok(Err(Rejected::NoBody(body.to_string())));
        }
        let (Some(_), Some(a)) = (index.try_unrouted(arrival)?, index.arrival(arrival)?) else {
            return Ok(Err(Rejected::NotHeld(arrival)));
        };
        let dir = match &a.dir {
            Some(rests) => self.layout.rest(rests),
            None => self.layout.claimed.join(&a.claim),
        };
        let package = match read_package(&dir, &self.config.limits) {
            Ok(p) => p,
            Err(e) => {
                let why = e.to_string();
                return Ok(Err(Rejected::Unreadable { arrival, why }));
            }
        };
        let facts = crate::facts_of(&package.message);
        let input = self.gather_at(&a, &package, &facts, &dir)?;
        let strict = StrictStore::new(index.clone());
        let mut batch = Batch::new(&strict);
        let mut events = vec![Event::Assigned {
            arrival,
            key: a.key.clone(),
            body: body.into(),
            outputs: self
                .receipt_for(&a, &facts, now, body)
                .into_iter()
                .collect(),
            operator,
            command: Some(id.into()),
        }];
        events.extend(self.book_events(input, now, &mut batch, body)?);
        Ok(Ok((events, None)))
    }

    /// What a command's decision reads: the appeal's package again (registration checks), an
    /// answer file's name.
    fn command_input(&self, command: &control::Command, view: &dyn BookView) -> CommandInput {
        let (op, operator) = match command.clone() {
            control::Command::Register {
                number,
                force,
                comment,
                operator,
                date,
                ..
            } => (
                Op::Register {
                    number,
                    force,
                    comment,
                    date,
                },
                operator,
            ),
            control::Command::Refuse {
                reason,
                comment,
                operator,
                ..
            } => (Op::Refuse { reason, comment }, operator),
            control::Command::Progress { step, operator, .. } => {
                (Op::Progress(step.into()), operator)
            }
            control::Command::Retried { .. }
            | control::Command::Assign { .. }
            | control::Command::Approve { .. }
            | control::Command::Redirect { .. } => unreachable!("handled before"),
        };
        // the core is told why, in words: it puts them in the command's rejection
        let facts = match &op {
            Op::Register { .. } => Some(
                self.reread_facts(command.id(), view)
                    .map_err(|e| e.to_string()),
            ),
            _ => None,
        };
        let answer_file = attachment_of(command).map(|(reference, kept)| {
            control::Queue::attached(&self.queue, &reference)
                .map_err(Unread::from)
                .and_then(|p| answer_file(&p, kept))
                .map_err(|e| e.to_string())
        });
        CommandInput {
            id: command.id().to_string(),
            op,
            operator,
            facts,
            answer_file,
            command: None,
        }
    }

    /// An appeal's facts read again from its package (archived, or still claimed).
    fn reread_facts(&self, id: &str, view: &dyn BookView) -> Result<appeals::AppealFacts, Unread> {
        let appeal = view.find(id)?;
        let dir = crate::package_dir(&self.layout, self.backend.index(), &appeal)?;
        let package =
            read_package(&dir, &self.config.limits).map_err(|source| Unread::Package {
                appeal: appeal.id,
                source,
            })?;
        let zip = package.container_file.as_deref();
        // the book keeps the signatures as they were checked on arrival
        let head = |name: &str| {
            appeal
                .signatures
                .iter()
                .find(|s| s.signature == name)
                .map(|s| s.encoding)
                .or_else(|| signature_head(&dir, zip, name))
        };
        appeals::facts(&package, &head).ok_or(Unread::NotADocument)
    }

    /// Keeps an attached file under `state_dir/answers/<id>/<kept>` — after its step is
    /// journaled (a copy: doing it again after a crash is harmless).
    fn keep_answer(&self, appeal: u64, (reference, kept): &(String, String)) {
        let kept = control::Queue::attached(&self.queue, reference)
            .map_err(|e| e.to_string())
            .and_then(|src| {
                let to = self
                    .layout
                    .shared_dir
                    .join(medo_model::kept_path(appeal, kept));
                to.parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|_| std::fs::copy(&src, &to))
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = kept {
            tracing::error!(appeal, error = %e, "the answer is journaled but its file could not be kept");
        }
    }
}

/// Operator commands carried out in one pass at most (the rest in the next).
pub(crate) const COMMANDS_PER_PASS: usize = 64;

/// Why the loop could not read what a command needs: said, in words, in its rejection.
#[derive(Debug, thiserror::Error)]
pub enum Unread {
    #[error(transparent)]
    Lookup(#[from] medo_core::book::Lookup),
    #[error(transparent)]
    Store(#[from] medo_store::index::StoreError),
    #[error("пакет обращения {appeal} не читается: {source}")]
    Package {
        appeal: u64,
        source: medo_wire::WireError,
    },
    #[error("пакет обращения — не документ")]
    NotADocument,
    #[error(transparent)]
    Attachment(#[from] control::AttachError),
    #[error("файл ответа {name}: {}", medo_stdx::words::io(source))]
    AnswerFile {
        name: String,
        source: std::io::Error,
    },
    #[error("файл ответа {name}: {why}")]
    NotPdf {
        name: String,
        why: medo_core::pdf::NotPdf,
    },
}

/// An attached answer file read for its decision: a PDF that reads (`pdf::inspect`), its
/// pages, its digest.
fn answer_file(path: &Path, kept: String) -> Result<AnswerFile, Unread> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(source) => return Err(Unread::AnswerFile { name, source }),
    };
    // read as a reader would, under bounds: what does not read as a PDF is not sent
    let facts = match medo_core::pdf::inspect(&bytes) {
        Ok(facts) => facts,
        Err(why) => return Err(Unread::NotPdf { name, why }),
    };
    Ok(AnswerFile {
        kept,
        name,
        sha256: medo_wire::hash::sha256_bytes(&bytes).into(),
        pages: Some(facts.pages),
    })
}

/// The attachment a command carries (an answer, extension or redirect letter) and the name
/// it is kept under, if any.
fn attachment_of(c: &control::Command) -> Option<(String, String)> {
    match c {
        control::Command::Progress { step, .. } => {
            let reference = step.file()?;
            let name = reference.rsplit('/').next().unwrap_or(reference);
            Some((reference.clone(), step.kept_name(name)))
        }
        _ => None,
    }
}

/// The encoding of a signature file of the package in `dir` (or of its container `zip`), by
/// its first bytes read through the package reader.
fn signature_head(
    dir: &Path,
    zip: Option<&str>,
    name: &str,
) -> Option<medo_model::SignatureEncoding> {
    let bytes = match zip {
        Some(zip) => container_entry_head(dir, zip, name, SIGNATURE_HEAD as usize)?,
        None => read_member(dir, name, SIGNATURE_HEAD).ok()?.0,
    };
    Some(appeals::signature_encoding(&bytes))
}

/// Whom a package names, as routing reads it: `deliveryIndex`, the document's addressees
/// (2.x: organisations by name; a container passport's: `organization/@id` when it is a
/// GUID, and the title), the envelope's `[АДРЕСАТЫ]`.
fn addressing(package: &Package) -> medo_core::route::Addressing {
    use medo_core::route::{Addressee, Addressing};
    let m = &package.message;
    let mut addressees: Vec<Addressee> = m
        .document()
        .map(|d| d.addressees.iter())
        .into_iter()
        .flatten()
        .map(|a| Addressee {
            uid: None,
            organization: a.organization.clone(),
        })
        .collect();
    if let Some(c) = &package.container {
        addressees.extend(c.passport.addressees.iter().map(|a| {
            Addressee {
                uid: a
                    .organization
                    .id
                    .clone()
                    .filter(|id| medo_wire::read::is_guid(id.trim())),
                organization: a.organization.title.clone(),
            }
        }));
    }
    Addressing {
        destinations: m.delivery_index.iter().map(|p| p.uid.clone()).collect(),
        addressees,
        transport: package.envelope.addressees.clone(),
    }
}

/// The links of a document as the core sees them.
fn links_of(d: &medo_wire::message::Document) -> Vec<LinkInput> {
    d.links
        .iter()
        .map(|l| LinkInput {
            link_type: l.link_type.clone(),
            number: l.reference.as_ref().map(|r| r.num.number.clone()),
            date: l.reference.as_ref().and_then(|r| r.num.date),
            organization: l
                .reference
                .as_ref()
                .and_then(|r| r.who.organization.clone()),
            document_kind: l.document_kind.clone(),
        })
        .collect()
}

/// The links of a container's passport as the core sees them.
fn passport_links(p: &medo_wire::passport::Passport) -> Vec<LinkInput> {
    p.links
        .iter()
        .map(|l| LinkInput {
            link_type: l.link_type.clone().unwrap_or_default(),
            number: l.number.clone(),
            date: l.date,
            organization: l.organization.clone(),
            document_kind: None,
        })
        .collect()
}

/// Tells the operator what needs a look (numbers only): queries naming appeals we cannot
/// resolve, partners not accepting our documents.
fn tell_operator(events: &[Event]) {
    for e in events {
        match e {
            Event::QueryAnswered {
                query_number,
                requested,
                unresolved,
                ..
            } if !unresolved.is_empty() || requested.is_empty() => {
                tracing::warn!(query = %query_number, unresolved = unresolved.len(), "УРОГ query names appeals we cannot resolve; answered as not found — check it");
            }
            Event::ReceiptReceived {
                about_uid,
                accepted: false,
                by_operator,
                error_code,
                output,
                ..
            } => {
                let output = output.as_deref().unwrap_or("");
                match by_operator {
                    true => {
                        tracing::warn!(about = %about_uid, %output, code = error_code.as_deref().unwrap_or(""), "the МЭДО operator rejected our message; it is not sent again — see `spool list` (state rejected)")
                    }
                    false => {
                        tracing::warn!(about = %about_uid, %output, "a partner did not accept our message (negative receipt); it is not sent again — see `spool list`")
                    }
                }
            }
            _ => {}
        }
    }
}
