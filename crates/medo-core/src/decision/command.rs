//! Operator commands (CLI, control files, HTTP) as decisions: register, refuse, steps of
//! consideration. Manual registration runs the same refusal rules as automatic registration,
//! as checks: an appeal the rules would refuse is registered only with `--force` and a
//! comment, and the override is journaled with who and why.

use super::refusal::Refusal;
use crate::appeals::{self, normalize_number, AppealFacts};
use crate::book::{Appeal, AppealState};
use crate::deadlines;
use medo_model::{AnswerFile, DecidedBy, Event, NoticeRef, OutFile, Output, OutputKind, Step};
use medo_wire::message::RefusalReason;
use medo_wire::time::parse_date;

use super::appeal::{cause_of_appeal, refusal, registration};
use super::notice::{self, NoticeCause, Progress};
use super::{BookView, Context};

/// What an operator asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Register (under the operator's number, or the next); `force` overrides a refusal
    /// rule, with `comment` saying why.
    Register {
        number: Option<String>,
        force: bool,
        comment: Option<String>,
        /// The registration date when it is not today (the СЭД registered it earlier).
        date: Option<String>,
    },
    Refuse {
        reason: String,
        comment: Option<String>,
    },
    Progress(Step),
}

/// A command with what the loop gathered for it.
#[derive(Debug, Clone)]
pub struct CommandInput {
    /// The appeal: our number, the УРОГ number or the internal id.
    pub id: String,
    pub op: Op,
    /// Who (the operator's login, `api` for the HTTP API), when known.
    pub operator: Option<String>,
    /// The appeal's facts read again from its package (registration checks); `Err`: why the
    /// package could not be read.
    pub facts: Option<Result<AppealFacts, String>>,
    /// An answer file (a PDF, checked), or why it cannot be used.
    pub answer_file: Option<Result<AnswerFile, String>>,
    /// The command's id (its queue file's): journaled with the event, so that it is never
    /// applied twice.
    pub command: Option<medo_model::CommandId>,
}

/// The event for one command, or why it does not apply (the operator reads it).
pub fn decide_command(
    input: &CommandInput,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Result<Event, Refusal> {
    let appeal = view.find(&input.id)?;
    let ctx = ctx.for_body(&appeal.body);
    let wanted: &[AppealState] = match input.op {
        Op::Progress(_) => &[AppealState::Registered, AppealState::InWork],
        _ => &[AppealState::Received],
    };
    if !wanted.contains(&appeal.state) {
        return Err(Refusal::NotApplicable {
            id: appeal.id,
            state: appeal.state.label(),
        });
    }
    let cause = cause_of_appeal(appeal.id, &appeal.key, &appeal);
    let mut event = decide_op(&appeal, input, &cause, view, ctx)?;
    if let Event::AppealRegistered { command, .. }
    | Event::AppealRefused { command, .. }
    | Event::AppealProgress { command, .. } = &mut event
    {
        command.clone_from(&input.command);
    }
    // who: every act of a person or a СЭД client is journaled with its author
    if let Event::AppealRefused { operator, .. } | Event::AppealProgress { operator, .. } =
        &mut event
    {
        operator.clone_from(&input.operator);
    }
    Ok(event)
}

/// The event for an operator's request on an appeal in the state it applies to.
fn decide_op(
    appeal: &Appeal,
    input: &CommandInput,
    cause: &NoticeCause<'_>,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Result<Event, Refusal> {
    match &input.op {
        Op::Progress(step) => progress(appeal, step, input, cause, view, ctx),
        Op::Register {
            number,
            force,
            comment,
            date,
        } => {
            let date = registration_date(appeal, date.as_deref(), ctx)?;
            register(
                appeal, number, *force, comment, date, input, cause, view, ctx,
            )
        }
        Op::Refuse { reason, comment } => {
            let reason = RefusalReason::parse(reason).ok_or_else(|| Refusal::UnknownReason {
                given: reason.clone(),
            })?;
            let comment = comment.clone().filter(|c| !c.trim().is_empty());
            Ok(refusal(
                appeal.id,
                reason,
                comment,
                DecidedBy::Operator,
                cause,
                ctx,
            ))
        }
    }
}

/// A registration date given by the СЭД: not after today, not before the appeal arrived.
fn registration_date(
    appeal: &Appeal,
    date: Option<&str>,
    ctx: Context<'_>,
) -> Result<Option<time::Date>, Refusal> {
    let Some(text) = date else { return Ok(None) };
    let date = parse_date(text).ok_or_else(|| Refusal::BadDate(text.to_string()))?;
    let received = medo_wire::time::local_day(&appeal.received_at, ctx.policy.utc_offset);
    if date > ctx.today() || received.is_some_and(|r| date < r) {
        return Err(Refusal::DateOutOfRange(text.to_string()));
    }
    Ok(Some(date))
}

/// Manual registration: the operator's number checked, the refusal rules run as checks.
#[allow(clippy::too_many_arguments)]
fn register(
    appeal: &Appeal,
    number: &Option<String>,
    force: bool,
    comment: &Option<String>,
    date: Option<time::Date>,
    input: &CommandInput,
    cause: &NoticeCause<'_>,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Result<Event, Refusal> {
    if let Some(n) = number {
        if let Some(why) = appeals::number_problem(n) {
            return Err(Refusal::BadNumber(why));
        }
        if view
            .id_by_number_in(ctx.body(), &normalize_number(n))
            .is_some()
        {
            return Err(Refusal::NumberTaken(n.clone()));
        }
    }
    let comment = comment.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let rule = match &input.facts {
        Some(Ok(f)) => appeals::refusal(f, &ctx.policy.sender.uid, ctx.policy.require_signature)
            .map(|(reason, why)| (Some(reason), why)),
        Some(Err(why)) => Some((None, format!("правила отказа не проверены: {why}"))),
        None => Some((
            None,
            "правила отказа не проверены: пакет обращения не найден".into(),
        )),
    };
    let overrides = match (rule, force, comment) {
        (None, _, _) => None,
        (Some((reason, why)), false, _) => {
            return Err(Refusal::Refusable {
                id: appeal.id,
                reason,
                why,
            })
        }
        (Some(_), true, None) => return Err(Refusal::ForceNeedsComment),
        (Some((reason, _)), true, Some(c)) => Some((reason, c.to_string())),
    };
    let mut event = registration(
        appeal.id,
        number.clone(),
        date,
        cause,
        DecidedBy::Operator,
        view,
        ctx,
    );
    if let Event::AppealRegistered {
        overrides: o,
        comment: c,
        operator,
        ..
    } = &mut event
    {
        if let Some((reason, why)) = overrides {
            *o = Some(
                reason
                    .map_or("правила не проверены", |r| r.as_str())
                    .to_string(),
            );
            *c = Some(why);
        }
        operator.clone_from(&input.operator);
    }
    Ok(event)
}

/// A step of consideration: validated against the appeal's state and deadlines, with its
/// notice to УРОГ. A step with its file (the answer, the extension or redirect letter) goes
/// first as a document of ours (numbered from the outgoing sequence, «Во исполнение» the
/// appeal's letter); «Доклад направлен» names that document, «Исполнение» refers to it.
pub(super) fn progress(
    appeal: &Appeal,
    step: &Step,
    input: &CommandInput,
    cause: &NoticeCause<'_>,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Result<Event, Refusal> {
    let (kind, text, post) = step_notice(appeal, step, ctx)?;
    let file = match &input.answer_file {
        Some(Err(why)) => return Err(Refusal::File(why.clone())),
        Some(Ok(file)) => Some(file),
        None => None,
    };
    let registration = super::appeal::registered_ref(appeal, ctx);
    let mut event = Event::AppealProgress {
        appeal: appeal.id,
        step: step.clone(),
        outputs: Vec::new(),
        command: None,
        number: None,
        year: None,
        year_seq: None,
        operator: None,
    };
    let sent = file.map(|f| {
        let (doc, ours) = step_document(appeal, step, f, &text, cause, view, ctx, &mut event);
        event_outputs(&mut event).extend(doc);
        ours
    });
    let reported = match (kind, &sent) {
        (OutputKind::Report, Some(ours)) => ours.clone(),
        _ => registration,
    };
    let progress = Progress {
        kind,
        step: appeal.steps + 1,
        text,
        post,
    };
    let notice = notice::progress_notice(ctx.policy, cause, progress, reported, ctx.now);
    let notice = notice.map(|mut o| {
        if kind == OutputKind::Course {
            o.document = sent;
        }
        o
    });
    event_outputs(&mut event).extend(notice);
    Ok(event)
}

fn event_outputs(event: &mut Event) -> &mut Vec<Output> {
    match event {
        Event::AppealProgress { outputs, .. } => outputs,
        _ => unreachable!("a progress event"),
    }
}

/// The kind of our document for a step, and the description of its file.
fn document_kind(step: &Step) -> (&'static str, &'static str) {
    match step {
        Step::Extended { .. } => (
            "Уведомление о продлении срока рассмотрения",
            "Уведомление заявителю о продлении срока",
        ),
        Step::Redirected { .. } => (
            "Письмо о переадресации обращения",
            "Письмо о направлении обращения по компетенции",
        ),
        _ => ("Доклад", "Ответ заявителю"),
    }
}

/// A step's letter as a document of ours: the next outgoing number (journaled in `event`),
/// the file kept under `answers/<appeal>/`; returns it and its reference.
#[allow(clippy::too_many_arguments)]
fn step_document(
    appeal: &Appeal,
    step: &Step,
    file: &AnswerFile,
    text: &str,
    cause: &NoticeCause<'_>,
    view: &dyn BookView,
    ctx: Context<'_>,
    event: &mut Event,
) -> (Option<Output>, NoticeRef) {
    let date = ctx.today();
    let seq = view.next_outgoing_seq(ctx.body(), date.year());
    let number = appeals::format_number(&ctx.policy.outgoing_template, seq, date);
    let ours = super::appeal::our_ref(ctx, &number, date);
    if let Event::AppealProgress {
        number: n,
        year,
        year_seq,
        ..
    } = event
    {
        *n = Some(number.into());
        *year = Some(date.year());
        *year_seq = Some(seq);
    }
    let progress = Progress {
        kind: OutputKind::ReportDocument,
        step: appeal.steps + 1,
        text: text.to_string(),
        post: None,
    };
    let (kind, description) = document_kind(step);
    let doc =
        notice::progress_notice(ctx.policy, cause, progress, ours.clone(), ctx.now).map(|mut o| {
            o.files = vec![OutFile {
                kept: medo_model::kept_path(appeal.id, &file.kept),
                name: file.name.clone(),
                sha256: file.sha256.clone(),
                pages: file.pages,
                description: description.into(),
                signs: None,
            }];
            o.restricted = appeal.restricted;
            o.document_kind = Some(kind.into());
            o
        });
    (doc, ours)
}

type StepNotice = (OutputKind, String, Option<String>);

/// The notice kind, text and post of a step, or why the step does not apply.
fn step_notice(appeal: &Appeal, step: &Step, ctx: Context<'_>) -> Result<StepNotice, Refusal> {
    match step {
        Step::ExecutorAssigned { executor, post } => {
            if executor.trim().is_empty() {
                return Err(Refusal::NoExecutor);
            }
            let post = post.clone().filter(|p| !p.trim().is_empty());
            Ok((OutputKind::Executor, executor.trim().to_string(), post))
        }
        Step::Extended { until, reason } => extension(appeal, until, reason, ctx),
        Step::Redirected {
            to,
            sstu_id,
            number,
            ..
        } => {
            if to.trim().is_empty() {
                return Err(Refusal::NoRecipient);
            }
            if let Some(g) = sstu_id.as_deref().filter(|g| !medo_wire::read::is_guid(g)) {
                return Err(Refusal::BadSstuId(g.to_string()));
            }
            let letter = number
                .as_deref()
                .map(|n| format!(" (исх. № {n})"))
                .unwrap_or_default();
            let text = format!("Направлено по компетенции: {}{letter}", to.trim());
            Ok((OutputKind::Course, text, None))
        }
        Step::Answered { result, .. } => {
            let (label, _) = medo_model::result(result).ok_or_else(|| Refusal::UnknownResult {
                given: result.clone(),
            })?;
            Ok((OutputKind::Report, format!("Рассмотрено: {label}"), None))
        }
    }
}

/// An extension: once, at most 30 days past the due date.
fn extension(
    appeal: &Appeal,
    until: &str,
    reason: &str,
    ctx: Context<'_>,
) -> Result<StepNotice, Refusal> {
    let until_date = parse_date(until).ok_or_else(|| Refusal::BadUntil(until.to_string()))?;
    if reason.trim().is_empty() {
        return Err(Refusal::NoExtensionReason);
    }
    let registered = appeal
        .registered_on
        .as_deref()
        .and_then(parse_date)
        .ok_or(Refusal::NotRegistered)?;
    let due = deadlines::due_dates(&ctx.policy.calendar, registered, Some(registered), None)
        .answer_by
        .ok_or(Refusal::NoDueDate)?;
    deadlines::check_extension(due, until_date, appeal.extended_to.is_some())?;
    let shown = medo_wire::time::format_date_ru(until_date);
    let text = format!("Срок рассмотрения продлён до {shown}: {}", reason.trim());
    Ok((OutputKind::Course, text, None))
}
