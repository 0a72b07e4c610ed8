//! Redirect by competence (59-ФЗ art. 8 p. 3; `appeals redirect ID --to TARGET`).
//!
//! * To a body of the same hub: the appeal is registered anew at the receiving body — its own
//!   id, number, book and deadlines from the day of the redirect —, the two linked both ways,
//!   and the sending body's «Исполнение» notice tells УРОГ which body it went to. No МЭДО
//!   package passes between two bodies of one node.
//! * To a МЭДО partner of role `body`: the appeal itself goes there — our cover letter
//!   «О направлении обращения по компетенции» under the next outgoing number, with the
//!   appeal's files as they arrived (their journaled digests: the loop keeps copies under
//!   `answers/<appeal>/forwarded/` before the decision is journaled, the outbox checks them
//!   when it packs) — and the «Исполнение» notice tells УРОГ where, under which number of ours.
//!
//! Rules, in order (the first that applies refuses): the target names a body of the hub
//! (`body:ID` or its id) or a partner of role `body` (`partner:NAME`, its name or uid; a
//! body's id wins); the appeal is registered or in work; the target is not its own body; the
//! appeal was never at the target (redirected there before, or back); a forwarded appeal has
//! its files.

use medo_model::{ArrivedFile, BodyId, DecidedBy, Event, FileRole, OutFile, Step};

use super::appeal::{cause_of_appeal, our_ref, registered_ref, registration};
use super::command::{progress, CommandInput, Op};
use super::notice::{forwarded, Forwarding};
use super::{BookView, Context, Refusal};
use crate::book::{appeal_id, appeals_of, arrival_of, Appeal, AppealState, APPEALS_PER_ARRIVAL};
use crate::policy::{PartnerConfig, Policy};

/// A redirect as the operator or the СЭД asked for it.
#[derive(Debug, Clone)]
pub struct RedirectInput {
    /// The appeal: our number, the УРОГ number or the internal id.
    pub id: String,
    /// `body:ID`, `partner:NAME`, or a body's id (a body wins) or a partner's name or uid.
    pub to: String,
    pub comment: Option<String>,
    pub operator: Option<String>,
    pub command: Option<medo_model::CommandId>,
    /// The appeal's files as the loop found them (journaled, or read from its package for an
    /// appeal journaled before files were), or why they could not be read — needed when the
    /// target is a МЭДО partner.
    pub files: Option<Result<Vec<ArrivedFile>, String>>,
}

/// Where a redirect goes.
enum Target<'p> {
    Body(&'p Policy),
    Partner(&'p PartnerConfig),
}

/// The events of a redirect: within the hub, the sending body's step (with its notice to
/// УРОГ), the appeal received and registered at the receiving body; to a partner, the step
/// with the forwarded appeal and the notice.
pub fn decide_redirect(
    input: &RedirectInput,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Result<Vec<Event>, Refusal> {
    let appeal = view.find(&input.id)?;
    let ctx = ctx.for_body(&appeal.body);
    let target = target_of(&input.to, ctx)?;
    if !matches!(appeal.state, AppealState::Registered | AppealState::InWork) {
        return Err(Refusal::NotApplicable {
            id: appeal.id,
            state: appeal.state.label(),
        });
    }
    match target {
        Target::Body(policy) => within_hub(&appeal, policy, input, view, ctx),
        Target::Partner(partner) => over_medo(&appeal, partner, input, view, ctx),
    }
}

/// The appeal registered anew at the body of `target`.
fn within_hub(
    appeal: &Appeal,
    target: &Policy,
    input: &RedirectInput,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Result<Vec<Event>, Refusal> {
    let to = target.body_in_force().id.clone();
    if to == appeal.body {
        return Err(Refusal::RedirectToItself(to.to_string()));
    }
    let arrival = arrival_of(appeal.id);
    let known = appeals_of(arrival, |id| view.appeal(id).is_some());
    if known
        .iter()
        .any(|id| view.appeal(*id).is_some_and(|a| a.body == to))
    {
        return Err(Refusal::AlreadyAt(to.to_string()));
    }
    let new_id = (known.len() as u64..APPEALS_PER_ARRIVAL)
        .map(|k| appeal_id(arrival, k))
        .find(|id| view.appeal(*id).is_none())
        .ok_or(Refusal::AlreadyAt(to.to_string()))?;
    let body = target.body_in_force();
    let step = Step::Redirected {
        to: body.sender.organization.clone(),
        sstu_id: body
            .sstu_department_id
            .clone()
            .filter(|d| medo_wire::read::is_guid(d)),
        number: None,
        to_body: Some(body.id.clone()),
        as_appeal: Some(new_id),
        comment: comment_of(input),
    };
    let mut sent = vec![sending_step(appeal, input, step, view, ctx)?];
    sent.push(received_at(appeal, &to, new_id));
    let there = Context {
        policy: target,
        ..ctx
    };
    let cause = cause_of_appeal(new_id, &appeal.key, appeal);
    let mut registered = registration(new_id, None, None, &cause, DecidedBy::Operator, view, there);
    // the receiving body registers what its peer sent it: УРОГ hears of it from the sender
    if let Event::AppealRegistered { outputs, .. } = &mut registered {
        outputs.clear();
    }
    sent.push(registered);
    Ok(sent)
}

/// The appeal sent to `partner` over МЭДО: one step (numbered from the outgoing sequence)
/// with the forwarded appeal and the «Исполнение» notice to УРОГ referring to it.
fn over_medo(
    appeal: &Appeal,
    partner: &PartnerConfig,
    input: &RedirectInput,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Result<Vec<Event>, Refusal> {
    let files = forwarded_files(appeal, input)?;
    let date = ctx.today();
    let seq = view.next_outgoing_seq(ctx.body(), date.year());
    let number = crate::appeals::format_number(&ctx.policy.outgoing_template, seq, date);
    let ours = our_ref(ctx, &number, date);
    let step = Step::Redirected {
        to: partner.name.clone(),
        sstu_id: None,
        number: Some(number.clone()),
        to_body: None,
        as_appeal: None,
        comment: comment_of(input),
    };
    let mut event = sending_step(appeal, input, step, view, ctx)?;
    let Event::AppealProgress {
        outputs,
        number: n,
        year,
        year_seq,
        ..
    } = &mut event
    else {
        unreachable!("a step is a progress event")
    };
    (*n, *year, *year_seq) = (Some(number.into()), Some(date.year()), Some(seq));
    for notice in outputs.iter_mut() {
        notice.document = Some(ours.clone());
    }
    let forwarding = Forwarding {
        step: appeal.steps + 1,
        ours,
        registered: registered_ref(appeal, ctx),
        comment: comment_of(input),
        files,
        restricted: appeal.restricted,
    };
    let cause = cause_of_appeal(appeal.id, &appeal.key, appeal);
    outputs.extend(forwarded(
        ctx.policy,
        &partner.uid,
        &cause,
        forwarding,
        ctx.now,
    ));
    Ok(vec![event])
}

fn comment_of(input: &RedirectInput) -> Option<String> {
    input.comment.clone().filter(|c| !c.trim().is_empty())
}

/// The files a forwarded appeal carries: every file of its document (УРОГ's cover letter, the
/// appeal, the applicant's files) and their detached signatures, as they arrived, each kept
/// as `answers/<appeal>/forwarded/<n>` ([`forwarded_kept`]).
fn forwarded_files(appeal: &Appeal, input: &RedirectInput) -> Result<Vec<OutFile>, Refusal> {
    let arrived = match &input.files {
        Some(Ok(files)) => files,
        Some(Err(why)) => return Err(Refusal::FilesUnread(why.clone())),
        None => &appeal.files,
    };
    let sent: Vec<OutFile> = arrived
        .iter()
        .filter(|f| {
            matches!(
                f.role,
                FileRole::Document | FileRole::Attachment | FileRole::Signature
            )
        })
        .enumerate()
        .map(|(n, f)| OutFile {
            kept: medo_model::kept_path(appeal.id, &forwarded_kept(n)),
            name: f.name.clone(),
            sha256: f.sha256.clone(),
            pages: None,
            description: describe(f.role).into(),
            signs: (f.role == FileRole::Signature)
                .then(|| appeal.signatures.iter().find(|s| s.signature == f.name))
                .flatten()
                .map(|s| s.document.clone()),
        })
        .collect();
    if !sent.iter().any(|f| f.signs.is_none()) {
        return Err(Refusal::FilesUnread("у обращения нет файлов".into()));
    }
    Ok(sent)
}

/// Where the `n`th file of a forwarded appeal is kept, under the appeal's folder.
pub fn forwarded_kept(n: usize) -> String {
    format!("forwarded/{n:03}")
}

fn describe(role: FileRole) -> &'static str {
    match role {
        FileRole::Document => "Сопроводительное письмо к обращению",
        FileRole::Signature => "Электронная подпись",
        _ => "Обращение и приложенные материалы",
    }
}

/// The body or partner `to` names: `body:ID`, `partner:NAME`, or a body's id (a body wins)
/// or a partner's name or uid; only a partner of role `body` is one.
fn target_of<'p>(to: &str, ctx: Context<'p>) -> Result<Target<'p>, Refusal> {
    let (explicit, name) = match to.split_once(':') {
        Some((kind @ ("body" | "partner"), name)) => (Some(kind), name.trim()),
        _ => (None, to.trim()),
    };
    let body = ctx.policy_of(name);
    let partner = ctx
        .policy
        .partners
        .iter()
        .find(|p| p.role == "body" && (p.name == name || p.uid.eq_ignore_ascii_case(name)));
    match (explicit, body, partner) {
        (Some("body") | None, Some(policy), _) => Ok(Target::Body(policy)),
        (Some("partner") | None, _, Some(partner)) => Ok(Target::Partner(partner)),
        _ => Err(Refusal::UnknownTarget(to.to_string())),
    }
}

/// The sending body's step «направлено по компетенции», with its notice to УРОГ, carrying
/// the command and who asked.
fn sending_step(
    appeal: &Appeal,
    input: &RedirectInput,
    step: Step,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Result<Event, Refusal> {
    let command = CommandInput {
        id: appeal.id.to_string(),
        op: Op::Progress(step.clone()),
        operator: input.operator.clone(),
        facts: None,
        answer_file: None,
        command: input.command.clone(),
    };
    let cause = cause_of_appeal(appeal.id, &appeal.key, appeal);
    let mut event = progress(appeal, &step, &command, &cause, view, ctx)?;
    if let Event::AppealProgress {
        command, operator, ..
    } = &mut event
    {
        command.clone_from(&input.command);
        operator.clone_from(&input.operator);
    }
    Ok(event)
}

/// The appeal as the receiving body receives it: what arrived, its files and signatures,
/// linked to the sender's.
fn received_at(appeal: &Appeal, to: &BodyId, new_id: u64) -> Event {
    Event::AppealReceived {
        appeal: new_id,
        key: appeal.key.clone(),
        urog_number: appeal.urog_number.as_str().into(),
        urog_number_norm: appeal.urog_number_norm.as_str().into(),
        urog_date: appeal.urog_date.as_deref().and_then(medo_model::Day::parse),
        urog_organization: appeal.urog_organization.clone(),
        document_uid: appeal.document_uid.as_str().into(),
        source_uid: appeal.source_uid.as_str().into(),
        format: appeal.format,
        restricted: appeal.restricted,
        signatures: appeal.signatures.clone(),
        held: None,
        cites: Vec::new(),
        files: appeal.files.clone(),
        body: Some(to.clone()),
        redirected_from: Some(appeal.id),
        via: appeal.via.clone(),
    }
}
