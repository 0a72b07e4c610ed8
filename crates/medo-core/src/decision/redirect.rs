//! Redirect by competence within a region's hub (59-ФЗ art. 8 p. 3; `appeals redirect ID
//! --to TARGET`): the appeal is registered anew at the receiving body — its own id, number,
//! book and deadlines from the day of the redirect —, the two linked both ways, and the
//! sending body's «Исполнение» notice tells УРОГ which body it went to. No МЭДО package
//! passes between two bodies of one node.
//!
//! Rules, in order (the first that applies refuses): the target names a body of the hub
//! (`body:ID` or its id) — a МЭДО partner (`partner:NAME`, role `body`) is not redirected to
//! yet; the appeal is registered or in work; the target is not its own body; the appeal was
//! never at the target (redirected there before, or back).

use medo_model::{BodyId, DecidedBy, Event, Step};

use super::appeal::{cause_of_appeal, registration};
use super::command::{progress, CommandInput, Op};
use super::{BookView, Context, Refusal};
use crate::book::{appeal_id, appeals_of, arrival_of, Appeal, AppealState, APPEALS_PER_ARRIVAL};
use crate::policy::Policy;

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
}

/// The events of a redirect within the hub: the sending body's step (with its notice to
/// УРОГ), the appeal received and registered at the receiving body.
pub fn decide_redirect(
    input: &RedirectInput,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Result<Vec<Event>, Refusal> {
    let appeal = view.find(&input.id)?;
    let ctx = ctx.for_body(&appeal.body);
    let target = body_target(&input.to, ctx)?;
    let to = target.body_in_force().id.clone();
    if !matches!(appeal.state, AppealState::Registered | AppealState::InWork) {
        return Err(Refusal::NotApplicable {
            id: appeal.id,
            state: appeal.state.label(),
        });
    }
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
    let mut sent = sending_step(&appeal, input, target, new_id, view, ctx)?;
    sent.push(received_at(&appeal, &to, new_id));
    let there = Context {
        policy: target,
        ..ctx
    };
    let cause = cause_of_appeal(new_id, &appeal.key, &appeal);
    let mut registered = registration(new_id, None, None, &cause, DecidedBy::Operator, view, there);
    // the receiving body registers what its peer sent it: УРОГ hears of it from the sender
    if let Event::AppealRegistered { outputs, .. } = &mut registered {
        outputs.clear();
    }
    sent.push(registered);
    Ok(sent)
}

/// The policy of the body `to` names (`body:ID` or an id); a partner is not redirected to
/// yet, anything else is unknown.
fn body_target<'p>(to: &str, ctx: Context<'p>) -> Result<&'p Policy, Refusal> {
    let (explicit, name) = match to.split_once(':') {
        Some((kind @ ("body" | "partner"), name)) => (Some(kind), name.trim()),
        _ => (None, to.trim()),
    };
    let body = ctx.policy_of(name);
    let partner = ctx
        .policy
        .partners
        .iter()
        .any(|p| p.role == "body" && (p.name == name || p.uid.eq_ignore_ascii_case(name)));
    match (explicit, body, partner) {
        (Some("body") | None, Some(policy), _) => Ok(policy),
        (Some("partner") | None, _, true) => Err(Refusal::RedirectOverMedo(name.to_string())),
        _ => Err(Refusal::UnknownTarget(to.to_string())),
    }
}

/// The sending body's step «направлено по компетенции» naming the receiving body, with its
/// notice to УРОГ, carrying the command and who asked.
fn sending_step(
    appeal: &Appeal,
    input: &RedirectInput,
    target: &Policy,
    new_id: u64,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Result<Vec<Event>, Refusal> {
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
        comment: input.comment.clone().filter(|c| !c.trim().is_empty()),
    };
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
    Ok(vec![event])
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
    }
}
