//! What a decision may know: [`BookView`], the appeal book read through a narrow trait, and
//! [`Overlay`], the book *as of the previous decision* — the store's book (as of the last
//! commit) with every event decided since folded on top by the same [`book::fold`] that
//! builds the store. A query, a re-delivery or a command decided after an appeal in the same
//! pass therefore sees that appeal exactly as a later pass would.

use std::collections::HashSet;

use crate::appeals::normalize_number;
use crate::book::{self, find_in, Appeal, AppealBook, Appeals, QueryFacts, Shelf, StatusFacts};
use medo_model::{Event, Record};

/// The appeal book as decisions read it. Reads are infallible here: a shelf backed by
/// storage remembers its first read error, and the caller discards the decision (see
/// `gateway::StrictStore`), so an unreadable entry is never mistaken for an absent one.
pub trait BookView {
    fn appeal(&self, id: u64) -> Option<Appeal>;
    /// The first appeal received with this document uid.
    fn id_by_document(&self, uid: &str) -> Option<u64>;
    /// Our registration number (normalised) → the appeals that carry it (one per body of a
    /// hub that gave it).
    fn ids_by_number(&self, norm: &str) -> Vec<u64>;
    /// Every appeal that carried this УРОГ number (normalised).
    fn ids_by_urog(&self, norm: &str) -> Vec<u64>;
    fn status(&self, id: u64) -> Option<StatusFacts>;
    /// [`Appeals::find_status_many`]: what an answer says of each requested number.
    fn status_many(&self, ids: &[String]) -> Vec<Result<StatusFacts, crate::book::Lookup>>;
    /// The next registration sequence number of `body` in `year`.
    fn next_seq(&self, body: &str, year: i32) -> u64;
    /// The next outgoing-document sequence number of `body` in `year`.
    fn next_outgoing_seq(&self, body: &str, year: i32) -> u64;
    /// The query answered from this arrival.
    fn query(&self, arrival: u64) -> Option<QueryFacts>;
    /// Queries that reported this (normalised) number as not found.
    fn queries_awaiting(&self, norm: &str) -> Vec<u64>;

    /// The appeal of `body` that carries our number `norm` (normalised).
    fn id_by_number_in(&self, body: &str, norm: &str) -> Option<u64> {
        self.ids_by_number(norm)
            .into_iter()
            .find(|id| self.appeal(*id).is_some_and(|a| a.body == body))
    }

    /// What the answer of `ctx`'s body says of each of `ids`: in a hub only that body's
    /// appeals count (a УРОГ query to one body is answered from its appeals alone); a
    /// one-body node reads [`BookView::status_many`] (compact facts, on all cores).
    fn status_many_of(
        &self,
        ctx: &super::Context<'_>,
        ids: &[String],
    ) -> Vec<Result<StatusFacts, crate::book::Lookup>> {
        if !ctx.policy.hub {
            return self.status_many(ids);
        }
        let body = ctx.body();
        let of_body = |i: u64| self.appeal(i).filter(|a| a.body == *body);
        let mine = |ids: Vec<u64>| -> Vec<u64> {
            ids.into_iter().filter(|i| of_body(*i).is_some()).collect()
        };
        ids.iter()
            .map(|id| {
                find_in(
                    id,
                    |n| mine(self.ids_by_number(n)),
                    |n| mine(self.ids_by_urog(n)),
                    of_body,
                )
                .map(|a| StatusFacts::from(&a))
            })
            .collect()
    }

    /// Resolves our number, a УРОГ number or an internal id, as [`Appeals::find`].
    fn find(&self, id: &str) -> Result<Appeal, crate::book::Lookup> {
        find_in(
            id,
            |n| self.ids_by_number(n),
            |n| self.ids_by_urog(n),
            |i| self.appeal(i),
        )
    }
}

impl BookView for AppealBook {
    fn appeal(&self, id: u64) -> Option<Appeal> {
        Appeals::appeal(self, id)
    }
    fn id_by_document(&self, uid: &str) -> Option<u64> {
        Appeals::by_document(self, uid).map(|a| a.id)
    }
    fn ids_by_number(&self, norm: &str) -> Vec<u64> {
        self.number_index(norm)
    }
    fn ids_by_urog(&self, norm: &str) -> Vec<u64> {
        self.urog_index(norm)
    }
    fn status(&self, id: u64) -> Option<StatusFacts> {
        Appeals::appeal(self, id).as_ref().map(StatusFacts::from)
    }
    fn status_many(&self, ids: &[String]) -> Vec<Result<StatusFacts, crate::book::Lookup>> {
        Appeals::find_status_many(self, ids)
    }
    fn next_seq(&self, body: &str, year: i32) -> u64 {
        Appeals::next_seq(self, body, year)
    }
    fn next_outgoing_seq(&self, body: &str, year: i32) -> u64 {
        self.outgoing_seq(body, year) + 1
    }
    fn query(&self, arrival: u64) -> Option<QueryFacts> {
        self.load_query(arrival)
            .unwrap_or_else(|never| match never {})
    }
    fn queries_awaiting(&self, norm: &str) -> Vec<u64> {
        self.awaiting_index(norm)
    }
}

/// The book as of the previous decision: `base` (the store as of the last commit) with the
/// events decided since folded into `delta`.
pub struct Overlay<'a> {
    base: &'a dyn BookView,
    delta: AppealBook,
    /// Numbers (normalised) and ids the delta knows: lookups of these must merge.
    touched: HashSet<String>,
    /// Appeals loaded from the base and changed here (the delta holds the newer copy).
    changed: HashSet<u64>,
}

impl<'a> Overlay<'a> {
    pub fn new(base: &'a dyn BookView) -> Overlay<'a> {
        Overlay {
            base,
            delta: AppealBook::default(),
            touched: HashSet::new(),
            changed: HashSet::new(),
        }
    }

    /// Folds decided events in, as the store will when they are committed (`ts` = their
    /// decision time).
    pub fn apply(&mut self, events: &[Event], ts: &str) {
        for event in events {
            let record = Record {
                seq: 0,
                ts: ts.to_string(),
                prev: String::new(),
                event: event.clone(),
                hash: String::new(),
            };
            book::fold(self, &record).unwrap_or_else(|never| match never {});
        }
    }

    fn touches(&self, id: &str) -> bool {
        let norm = normalize_number(id);
        self.touched.contains(&norm)
            || id
                .trim()
                .parse::<u64>()
                .is_ok_and(|i| self.changed.contains(&i))
    }
}

impl BookView for Overlay<'_> {
    fn appeal(&self, id: u64) -> Option<Appeal> {
        BookView::appeal(&self.delta, id).or_else(|| self.base.appeal(id))
    }
    fn id_by_document(&self, uid: &str) -> Option<u64> {
        self.base
            .id_by_document(uid)
            .or_else(|| self.delta.id_by_document(uid))
    }
    fn ids_by_number(&self, norm: &str) -> Vec<u64> {
        let mut ids = self.base.ids_by_number(norm);
        for id in BookView::ids_by_number(&self.delta, norm) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }
    fn ids_by_urog(&self, norm: &str) -> Vec<u64> {
        let mut ids = self.base.ids_by_urog(norm);
        for id in BookView::ids_by_urog(&self.delta, norm) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }
    fn status(&self, id: u64) -> Option<StatusFacts> {
        match BookView::appeal(&self.delta, id) {
            Some(a) => Some(StatusFacts::from(&a)),
            None => self.base.status(id),
        }
    }
    fn status_many(&self, ids: &[String]) -> Vec<Result<StatusFacts, crate::book::Lookup>> {
        let mut found = self.base.status_many(ids);
        for (id, slot) in ids.iter().zip(found.iter_mut()) {
            if self.touches(id) {
                *slot = self.find(id).map(|a| StatusFacts::from(&a));
            }
        }
        found
    }
    fn next_seq(&self, body: &str, year: i32) -> u64 {
        self.base
            .next_seq(body, year)
            .max(BookView::next_seq(&self.delta, body, year))
    }
    fn next_outgoing_seq(&self, body: &str, year: i32) -> u64 {
        self.base
            .next_outgoing_seq(body, year)
            .max(self.delta.next_outgoing_seq(body, year))
    }
    fn query(&self, arrival: u64) -> Option<QueryFacts> {
        self.delta
            .query(arrival)
            .or_else(|| self.base.query(arrival))
    }
    fn queries_awaiting(&self, norm: &str) -> Vec<u64> {
        let mut ids = self.base.queries_awaiting(norm);
        ids.retain(|q| {
            self.delta
                .query(*q)
                .is_none_or(|f| f.unresolved.iter().any(|u| normalize_number(u) == norm))
        });
        for q in self.delta.queries_awaiting(norm) {
            if !ids.contains(&q) {
                ids.push(q);
            }
        }
        ids
    }
}

/// Folding into the overlay: reads fall through to the base, writes stay in the delta.
impl Shelf for Overlay<'_> {
    type Error = std::convert::Infallible;

    fn load(&self, id: u64) -> Result<Option<Appeal>, Self::Error> {
        Ok(BookView::appeal(self, id))
    }
    fn save(&mut self, appeal: &Appeal) -> Result<(), Self::Error> {
        self.changed.insert(appeal.id);
        self.touched.insert(normalize_number(&appeal.urog_number));
        if let Some(n) = &appeal.number {
            self.touched.insert(normalize_number(n));
        }
        self.delta.save(appeal)
    }
    fn index_document(&mut self, uid: &str, id: u64) -> Result<(), Self::Error> {
        if self.base.id_by_document(uid).is_none() {
            self.delta.index_document(uid, id)?;
        }
        Ok(())
    }
    fn index_number(&mut self, norm: &str, id: u64) -> Result<(), Self::Error> {
        self.touched.insert(norm.to_string());
        self.delta.index_number(norm, id)
    }
    fn index_urog(&mut self, norm: &str, id: u64) -> Result<(), Self::Error> {
        self.touched.insert(norm.to_string());
        self.delta.index_urog(norm, id)
    }
    fn raise_seq(&mut self, body: &str, year: i32, seq: u64) -> Result<(), Self::Error> {
        self.delta.raise_seq(body, year, seq)
    }
    fn raise_outgoing_seq(&mut self, body: &str, year: i32, seq: u64) -> Result<(), Self::Error> {
        self.delta.raise_outgoing_seq(body, year, seq)
    }
    fn note_query(&mut self, q: &QueryFacts, resolved: &[String]) -> Result<(), Self::Error> {
        self.delta.note_query(q, resolved)
    }
    fn note_command(&mut self, id: &str) -> Result<(), Self::Error> {
        self.delta.note_command(id)
    }
    fn note_unrouted(&mut self, held: &book::Unrouted) -> Result<(), Self::Error> {
        self.delta.note_unrouted(held)
    }
    fn note_assigned(&mut self, arrival: u64) -> Result<(), Self::Error> {
        self.delta.note_assigned(arrival)
    }
    fn load_query(&self, arrival: u64) -> Result<Option<QueryFacts>, Self::Error> {
        Ok(BookView::query(self, arrival))
    }
    fn dir_of(&self, _arrival: u64) -> Result<Option<String>, Self::Error> {
        Ok(None) // where a package rests decides nothing
    }
    fn note_dir(&mut self, _arrival: u64, _dir: &str) -> Result<(), Self::Error> {
        Ok(())
    }
}
