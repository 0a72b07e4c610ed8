//! The decision core: every official answer the gateway gives is decided here, by pure
//! functions of (what the loop gathered, the book as of the previous decision, the policy,
//! the time). No I/O, no store handle, no clock: the loop reads the package, the signature
//! heads, `query.xml` and the verifier's results first ([`ArrivalInput`], [`CommandInput`]),
//! calls the core, journals the events it returns, folds them into the [`Overlay`] the next
//! decision reads, and performs effects (publishing, copying an answer file) only after the
//! journal record.
//!
//! * [`classify`]: what an arrival is, by the documented rules, in order (see
//!   `docs/ARCHITECTURE.md`, "Classification").
//! * [`decide_arrival`]: the events for one arrival (appeal received / refused / registered /
//!   re-delivered, query answered, receipt noted).
//! * [`decide_command`]: the event for one operator command (register, refuse, a step).
//! * [`reanswers`]: queries that said «не найдено» answered again once the appeal is known.
//! * [`resend`]: a document without a receipt sent again, re-rendered as of now.

mod appeal;
mod classify;
pub mod command;
pub mod notice;
mod query;
pub mod redirect;
pub mod refusal;
pub mod view;

#[cfg(test)]
mod tests;

use time::{Date, OffsetDateTime};

use crate::appeals::AppealFacts;
use crate::policy::Policy;
pub use classify::{classify, Class};
pub use command::{decide_command, CommandInput};
use medo_model::Event;
pub use notice::Facts;
pub use query::{reanswers, resend};
pub use redirect::{decide_redirect, RedirectInput};
pub use refusal::Refusal;
pub use view::{BookView, Overlay};

pub use crate::route::Route;

/// What every decision is given besides its input and the view.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The policy in force: the body's whose decision this is.
    pub policy: &'a Policy,
    /// Each body's policy (`Policy::for_body`, in the bodies' order) — a decision about an
    /// appeal takes its body's; empty: `policy` is the only one.
    pub bodies: &'a [Policy],
    /// The secret an applicant's PIN is derived from (only the PIN's hash is journaled).
    pub pin_secret: &'a [u8],
    /// The decision's time (journal time: never before the last record).
    pub now: OffsetDateTime,
}

impl<'a> Context<'a> {
    /// This context with `body`'s policy in force (unchanged when the node serves no such
    /// body, or knows only one policy).
    pub fn for_body(self, body: &str) -> Context<'a> {
        match self.policy_of(body) {
            Some(policy) => Context { policy, ..self },
            None => self,
        }
    }

    /// The policy of `body` among [`Context::bodies`] (in the bodies' order: one lookup by
    /// id, not a walk over every policy's own body).
    pub fn policy_of(&self, body: &str) -> Option<&'a Policy> {
        self.bodies.get(self.policy.position(body)?)
    }

    /// The body this decision is taken for (its policy's).
    pub fn body(&self) -> &medo_model::BodyId {
        &self.policy.body_in_force().id
    }

    /// The body as journaled: a hub's records name it; a one-body node's do not (its records
    /// keep the bytes they always had).
    pub fn journaled_body(&self) -> Option<medo_model::BodyId> {
        self.policy.hub.then(|| self.body().clone())
    }

    /// Today in the configured zone (registration and document dates).
    pub fn today(&self) -> Date {
        self.now.to_offset(self.policy.utc_offset).date()
    }
}

/// What the loop gathered about an arrival before deciding it; nothing is read after this.
#[derive(Debug, Clone)]
pub struct ArrivalInput {
    pub arrival: u64,
    pub key: medo_model::PackageKey,
    pub facts: Facts,
    /// An earlier arrival of the same package (same key, or same header uid), and by which.
    pub duplicate_of: Option<(u64, medo_model::DuplicateBy)>,
    pub body: Incoming,
    /// The bodies of a hub it is for, as routed ([`route_of`]), the first answering the
    /// receipt: an appeal to several is an appeal at each. Empty: the context's body.
    pub bodies: Vec<medo_model::BodyId>,
}

/// The part of an arrival a decision looks at.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// A Квитанция about a message (a partner's, or the МЭДО operator's error receipt).
    Receipt(Box<ReceiptInput>),
    /// A Документ or Транспортный контейнер.
    Document(Box<DocumentInput>),
    /// Anything else (notifications, unknown bodies): nothing beyond the receipt.
    Other,
}

/// A Квитанция as decisions see it.
#[derive(Debug, Clone, Default)]
pub struct ReceiptInput {
    /// `acknowledgment/@uid` as written (all zeros in some МЭДО operator receipts).
    pub about_uid: String,
    pub accepted: bool,
    pub comment: Option<String>,
    /// The МЭДО operator's error receipt (`content="MEDOErrorAcknowledgment"`, `errorCode`).
    pub by_operator: bool,
    pub error_code: Option<String>,
    pub error_file: Option<String>,
    /// One of our documents waits for this receipt.
    pub awaited: bool,
    /// Our message it is about — by its uid, or by the file the operator names when the uid
    /// is zero: (message uid, output name).
    pub ours: Option<(String, String)>,
}

/// A Документ or container as decisions see it.
#[derive(Debug, Clone, Default)]
pub struct DocumentInput {
    /// `document/kind` (the passport's `documentKind` for containers).
    pub kind: Option<String>,
    /// The document uid (the passport's for containers; the header uid when there is none).
    pub uid: String,
    /// The sender's registration number and date of the document, and the sender.
    pub number: String,
    pub date: Option<Date>,
    pub organization: Option<String>,
    pub annotation: Option<String>,
    pub links: Vec<LinkInput>,
    /// Numbers of an attached `query.xml` (`None`: there is none).
    pub query_xml: Option<Vec<String>>,
    /// The appeal facts (signatures verified when a verifier is configured and it is new).
    pub appeal: Option<AppealFacts>,
    /// Whom it is addressed to (which body of a hub it is for: [`route_of`]).
    pub addressing: crate::route::Addressing,
}

/// One `links/link` of a document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkInput {
    pub link_type: String,
    /// The referenced document's number, date and author.
    pub number: Option<String>,
    pub date: Option<Date>,
    pub organization: Option<String>,
    /// The kind of an embedded linked document.
    pub document_kind: Option<String>,
}

/// The events one arrival gives (without `parsed`, `duplicate` and `decided`, which the loop
/// writes around them). Empty when the sender is not a partner in an appeal role, or the
/// message is nothing the book cares about.
pub fn decide_arrival(input: &ArrivalInput, view: &dyn BookView, ctx: Context<'_>) -> Vec<Event> {
    match &input.body {
        Incoming::Receipt(r) => receipt(input.arrival, r),
        Incoming::Other => Vec::new(),
        Incoming::Document(doc) => match classify(input, doc, view, ctx.policy) {
            Class::NotOurs | Class::Decided => Vec::new(),
            Class::Resume => appeal::resume(input, view, ctx),
            Class::Redelivery { of, .. } => appeal::redelivery(input, of, view, ctx),
            Class::QueryAgain { of } => query::again(input, of, view, ctx),
            Class::Query { .. } => query::answer(input, doc, view, ctx),
            Class::Appeal { cites } => appeal::new_appeals(input, doc, cites, None, view, ctx),
            Class::Held { reason, cites } => {
                appeal::new_appeals(input, doc, cites, Some(reason), view, ctx)
            }
        },
    }
}

/// A receipt is journaled when a document of ours waits for it, and when it rejects one of
/// our messages (the partner's negative receipt or the МЭДО operator's error): the operator
/// sees it and the message is not sent again.
fn receipt(arrival: u64, r: &ReceiptInput) -> Vec<Event> {
    let rejects_ours = !r.accepted && r.ours.is_some();
    if !r.awaited && !rejects_ours {
        return Vec::new();
    }
    let (about_uid, output) = match &r.ours {
        Some((uid, name)) => (uid.clone(), Some(name.clone())),
        None => (r.about_uid.clone(), None),
    };
    vec![Event::ReceiptReceived {
        arrival,
        about_uid: about_uid.into(),
        accepted: r.accepted,
        comment: r.comment.clone(),
        by_operator: r.by_operator,
        error_code: r.error_code.clone(),
        error_file: r.error_file.clone(),
        output,
    }]
}

/// Whether the document says it is a УРОГ query (classification rule 4, from an appeal
/// role): the loop decides queries after a batch's other arrivals.
pub fn is_query(input: &ArrivalInput, policy: &Policy) -> bool {
    let role_ok = policy.sends_appeals(&input.facts.source_uid);
    match &input.body {
        Incoming::Document(doc) => {
            role_ok && classify::query_signal(doc, &policy.query_kinds).is_some()
        }
        _ => false,
    }
}

/// Which body an arrival is for. A document the book acts on — an appeal or a query, new —
/// by the routing rules ([`crate::route::route`]); one about something the book knows (a
/// re-delivery, a query again, a decision a crash cut short) the body that knows it;
/// anything else (receipts, notifications, documents of no concern to the book) the node's
/// first body, as a one-body node always answered them.
pub fn route_of(input: &ArrivalInput, view: &dyn BookView, policy: &Policy) -> Route {
    let first = || Route::Bodies(vec![policy.body_in_force().id.clone()]);
    let of_appeal = |id: u64| view.appeal(id).map(|a| Route::Bodies(vec![a.body]));
    let of_query = |id: u64| view.query(id).map(|q| Route::Bodies(vec![q.body]));
    let Incoming::Document(doc) = &input.body else {
        return first();
    };
    let known = match classify(input, doc, view, policy) {
        Class::NotOurs => return first(),
        Class::Resume => of_appeal(input.arrival),
        Class::Redelivery { of, .. } => of_appeal(of),
        Class::QueryAgain { of } => of_query(of),
        Class::Decided => of_query(input.arrival).or_else(|| {
            let (of, _) = input.duplicate_of?;
            of_appeal(of)
        }),
        Class::Query { .. } | Class::Appeal { .. } | Class::Held { .. } => None,
    };
    known.unwrap_or_else(|| crate::route::route(&doc.addressing, &policy.bodies, policy.hub))
}

/// Whether deciding this arrival needs the signature verifier's results (a new appeal):
/// the loop runs the verifier only then.
pub fn needs_verification(input: &ArrivalInput, view: &dyn BookView, policy: &Policy) -> bool {
    match &input.body {
        Incoming::Document(doc) => matches!(
            classify(input, doc, view, policy),
            Class::Appeal { .. } | Class::Held { .. }
        ),
        _ => false,
    }
}
