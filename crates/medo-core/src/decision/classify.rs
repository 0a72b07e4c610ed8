//! What an arrival is — by explicit rules, in this order (the first that applies wins):
//!
//! 0. not from a partner whose role is in `appeal_roles` (or `body`: another body redirecting
//!    an appeal by competence) → [`Class::NotOurs`];
//! 1. this very arrival is in the book already (a crash cut its batch short after some of
//!    its records) → [`Class::Resume`] (an appeal) or [`Class::Decided`] (a query answered,
//!    a re-delivery noted);
//! 2. a re-delivery: the same package (same key) or the same header uid as an earlier
//!    arrival that is an appeal → [`Class::Redelivery`], or that was a query →
//!    [`Class::QueryAgain`]; or the same document uid *and* the same УРОГ cover-letter
//!    number as an appeal in the book → [`Class::Redelivery`];
//! 3. the same document uid as an appeal in the book under *another* УРОГ number: not
//!    guessed → [`Class::Held`] for the operator, with the reason;
//! 4. a УРОГ query, only when the document says so: its kind is one of `query_kinds`, or it
//!    carries `query.xml`, or one of its links is of a query kind (the link type, or the
//!    kind of the linked document) → [`Class::Query`]. Merely naming a known appeal's number
//!    does not make a query;
//! 5. otherwise a forwarded appeal → [`Class::Appeal`], with the known appeals it cites (a
//!    repeat appeal is registered as a new appeal and linked to the earlier ones).

use crate::appeals::normalize_number;
use crate::policy::Policy;
use crate::urog;

use super::{ArrivalInput, BookView, DocumentInput};

/// Most earlier appeals one appeal is linked to.
const MAX_CITES: usize = 64;

/// What an arrival is (see the module's rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    NotOurs,
    /// An appeal already received from this arrival: finish its decision.
    Resume,
    /// Already decided from this arrival before a crash cut its batch short (a query
    /// answered, a re-delivery noted): nothing more.
    Decided,
    /// The appeal `of` delivered again (`by`: `key`, `uid` or `document`).
    Redelivery {
        of: u64,
        by: &'static str,
    },
    /// The query answered from arrival `of` delivered again.
    QueryAgain {
        of: u64,
    },
    /// A УРОГ query (`by`: `kind`, `query.xml` or `link`).
    Query {
        by: &'static str,
    },
    /// A forwarded appeal, citing these earlier appeals.
    Appeal {
        cites: Vec<u64>,
    },
    /// A forwarded appeal that cannot be classified without an operator.
    Held {
        reason: String,
        cites: Vec<u64>,
    },
}

/// Classifies a Документ or container (rules 0–5 of the module).
pub fn classify(
    input: &ArrivalInput,
    doc: &DocumentInput,
    view: &dyn BookView,
    policy: &Policy,
) -> Class {
    let role_ok = policy.sends_appeals(&input.facts.source_uid);
    if !role_ok {
        return Class::NotOurs;
    }
    if view.appeal(input.arrival).is_some() {
        return Class::Resume;
    }
    if view.query(input.arrival).is_some() {
        return Class::Decided;
    }
    match redelivery(input, doc, view) {
        Some(Class::Redelivery { of, .. }) if noted(view, of, input.arrival) => {
            return Class::Decided
        }
        Some(class) => return class,
        None => {}
    }
    if let Some(by) = query_signal(doc, &policy.query_kinds) {
        return Class::Query { by };
    }
    match &doc.appeal {
        Some(_) => Class::Appeal {
            cites: cited(doc, input.arrival, view),
        },
        None => Class::NotOurs,
    }
}

/// Rules 2 and 3: the same package, header or document as something in the book.
fn redelivery(input: &ArrivalInput, doc: &DocumentInput, view: &dyn BookView) -> Option<Class> {
    if let Some((of, by)) = input.duplicate_of {
        if view.appeal(of).is_some() {
            return Some(Class::Redelivery {
                of,
                by: by.as_str(),
            });
        }
        if view.query(of).is_some() {
            return Some(Class::QueryAgain { of });
        }
    }
    let facts = doc.appeal.as_ref()?;
    let id = view.id_by_document(&facts.document_uid)?;
    let earlier = view.appeal(id)?;
    if earlier.urog_number_norm == facts.urog_number_norm {
        return Some(Class::Redelivery {
            of: id,
            by: "document",
        });
    }
    Some(Class::Held {
        reason: format!(
            "документ {} уже получен как обращение {} с сопроводительным письмом № {}, а это письмо № {}: повторная доставка или новое обращение — решает оператор",
            facts.document_uid, id, earlier.urog_number, facts.urog_number
        ),
        cites: vec![id],
    })
}

/// Whether `arrival` is already noted as a re-delivery of appeal `of`.
fn noted(view: &dyn BookView, of: u64, arrival: u64) -> bool {
    view.appeal(of)
        .is_some_and(|a| a.redeliveries.contains(&arrival))
}

/// Rule 4: what makes a document a query, if anything.
pub(super) fn query_signal(doc: &DocumentInput, query_kinds: &[String]) -> Option<&'static str> {
    let is_query_kind = |k: &str| query_kinds.iter().any(|q| same_words(q, k));
    if doc.kind.as_deref().is_some_and(is_query_kind) {
        return Some("kind");
    }
    if doc.query_xml.is_some() {
        return Some("query.xml");
    }
    let by_link = doc.links.iter().any(|l| {
        is_query_kind(&l.link_type) || l.document_kind.as_deref().is_some_and(is_query_kind)
    });
    by_link.then_some("link")
}

/// Whether two kinds are the same words: case (Cyrillic too) and spacing aside.
fn same_words(a: &str, b: &str) -> bool {
    let words = |s: &str| {
        s.split_whitespace()
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
    };
    words(a) == words(b)
}

/// The numbers a document refers to: its links' numbers, `А26-…` in the annotation, the
/// numbers of its `query.xml`.
pub(super) fn referenced(doc: &DocumentInput) -> Vec<String> {
    let links: Vec<String> = doc.links.iter().filter_map(|l| l.number.clone()).collect();
    urog::referenced_numbers(
        &links,
        doc.annotation.as_deref(),
        doc.query_xml.as_deref().unwrap_or_default(),
    )
}

/// Rule 5: the known appeals a new appeal cites (never itself), in order of mention.
fn cited(doc: &DocumentInput, arrival: u64, view: &dyn BookView) -> Vec<u64> {
    let own = doc.appeal.as_ref().map(|a| a.urog_number_norm.clone());
    let mut ids: Vec<u64> = Vec::new();
    for n in referenced(doc) {
        if own.as_deref() == Some(normalize_number(&n).as_str()) {
            continue;
        }
        // our numbers and УРОГ numbers only: a bare number in a link is not an internal id
        let norm = normalize_number(&n);
        let found = view
            .ids_by_number(&norm)
            .into_iter()
            .chain(view.ids_by_urog(&norm));
        for id in found {
            if id != arrival && !ids.contains(&id) && ids.len() < MAX_CITES {
                ids.push(id);
            }
        }
    }
    ids
}
