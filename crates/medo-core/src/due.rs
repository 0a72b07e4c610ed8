//! Which deadline of an appeal matters now, and how many open appeals are past theirs: the
//! appeal's deadline facts ([`DeadlineFacts`]) read against the policy's calendar and offset.
//! Pure: "today" is given.

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use crate::book::{AppealState, Appeals, DeadlineFacts};
use crate::deadlines::{due_dates, DueDates};
use crate::policy::Policy;
use medo_wire::time::parse_date;

/// The date of an RFC 3339 timestamp in the policy's offset.
pub fn local_date(ts: &str, policy: &Policy) -> Option<Date> {
    OffsetDateTime::parse(ts, &Rfc3339)
        .ok()
        .map(|t| t.to_offset(policy.utc_offset).date())
}

/// An appeal's deadlines and the one that matters now (`None` once it is closed).
pub fn deadlines(f: &DeadlineFacts, policy: &Policy, today: Date) -> (DueDates, Option<Date>) {
    let received = local_date(&f.received_at, policy).unwrap_or(today);
    let registered = f.registered_on.as_deref().and_then(parse_date);
    let extended = f.extended_to.as_deref().and_then(parse_date);
    let due = due_dates(&policy.calendar, received, registered, extended);
    let next = match f.state {
        AppealState::Received => Some(due.register_by),
        // not yet redirected: the 7-day redirect limit runs alongside the answer date
        AppealState::Registered | AppealState::InWork => due.answer_by,
        AppealState::Refused | AppealState::Redirected | AppealState::Answered => None,
    };
    (due, next)
}

/// One body's open appeals as its supervisors count them («сквозной контроль»).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BodyFigures {
    /// Under consideration (received, registered, in work).
    pub open: u64,
    /// Past the deadline that matters now.
    pub overdue: u64,
    /// Due within [`DUE_SOON_DAYS`] days (not yet overdue).
    pub due_soon: u64,
    /// Waiting for an operator.
    pub held: u64,
    /// Registered, past the 7-day redirect period with no step ([`undecided`]).
    pub undecided: u64,
}

/// "Due soon": within this many days.
pub const DUE_SOON_DAYS: i64 = 3;

/// Every body's [`BodyFigures`] (each body of the policy, even one with none open), from the
/// deadline facts of the open appeals.
pub fn by_body(
    book: &dyn Appeals,
    policy: &Policy,
    today: Date,
) -> std::collections::BTreeMap<medo_model::BodyId, BodyFigures> {
    let mut figures: std::collections::BTreeMap<_, BodyFigures> = policy
        .bodies
        .iter()
        .map(|b| (b.id.clone(), BodyFigures::default()))
        .collect();
    let soon = today + time::Duration::days(DUE_SOON_DAYS);
    book.each_open_deadline(&mut |_, f| {
        let n = figures.entry(f.body.clone()).or_default();
        n.open += 1;
        n.held += u64::from(f.held);
        let (due, next) = deadlines(f, policy, today);
        n.undecided += u64::from(past_redirect(f.state, &due, today));
        match next {
            Some(d) if today > d => n.overdue += 1,
            Some(d) if d <= soon => n.due_soon += 1,
            _ => {}
        }
    });
    figures
}

/// Whether an appeal is registered and past its 7-day redirect period (59-ФЗ ст. 8 ч. 3) with
/// no step at all — neither taken into work (an executor, an extension) nor redirected:
/// nobody has decided whether it is the body's to answer. Not overdue in itself (an appeal
/// within the body's competence has 30 days), but the date after which a redirect is late.
pub fn undecided(f: &DeadlineFacts, policy: &Policy, today: Date) -> bool {
    past_redirect(f.state, &deadlines(f, policy, today).0, today)
}

fn past_redirect(state: AppealState, due: &DueDates, today: Date) -> bool {
    state == AppealState::Registered && due.redirect_by.is_some_and(|d| today > d)
}

/// Open appeals past the deadline that matters now (reads each one's deadline facts only).
pub fn overdue_count(book: &dyn Appeals, policy: &Policy, today: Date) -> u64 {
    let mut n = 0;
    book.each_open_deadline(&mut |_, f| {
        if deadlines(f, policy, today).1.is_some_and(|d| today > d) {
            n += 1;
        }
    });
    n
}
