//! The backend's book as the decision core reads it ([`BookView`]): every read is strict — the first
//! read error is kept, the caller discards the decision and stops the pass ([`StrictStore::
//! take_error`]), so an unreadable entry is never mistaken for an absent one (a guessed "not
//! there" could register an appeal twice or give a number twice).

use std::cell::RefCell;

use medo_core::book::{Appeal, QueryFacts, StatusFacts};
use medo_core::decision::BookView;
use medo_store::index::StoreError;
use medo_store::Book;

use super::error::GatewayError;

pub(crate) struct StrictStore {
    store: Box<dyn Book>,
    failed: RefCell<Option<StoreError>>,
}

impl StrictStore {
    pub(crate) fn new(store: impl Book + 'static) -> StrictStore {
        StrictStore {
            store: Box::new(store),
            failed: RefCell::new(None),
        }
    }

    /// The first read error since the last call, if any.
    pub(crate) fn take_error(&self) -> Result<(), GatewayError> {
        match self.failed.borrow_mut().take() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    fn keep<T: Default>(&self, r: Result<T, StoreError>) -> T {
        r.unwrap_or_else(|e| {
            self.failed.borrow_mut().get_or_insert(e);
            T::default()
        })
    }
}

impl BookView for StrictStore {
    fn appeal(&self, id: u64) -> Option<Appeal> {
        self.keep(self.store.try_appeal(id))
    }
    fn id_by_document(&self, uid: &str) -> Option<u64> {
        self.keep(self.store.try_id_by_document(uid))
    }
    fn ids_by_number(&self, norm: &str) -> Vec<u64> {
        self.keep(self.store.try_ids_by_number(norm))
    }
    fn ids_by_urog(&self, norm: &str) -> Vec<u64> {
        self.keep(self.store.try_ids_by_urog(norm))
    }
    fn status(&self, id: u64) -> Option<StatusFacts> {
        self.keep(self.store.try_status(id))
    }
    fn status_many(&self, ids: &[String]) -> Vec<Result<StatusFacts, medo_core::book::Lookup>> {
        match self.store.try_find_status_many(ids) {
            Ok(found) => found,
            Err(e) => {
                self.failed.borrow_mut().get_or_insert(e);
                vec![Err(medo_core::book::Lookup::Unreadable); ids.len()]
            }
        }
    }
    fn next_seq(&self, body: &str, year: i32) -> u64 {
        self.keep(self.store.try_next_seq(body, year))
    }
    fn next_outgoing_seq(&self, body: &str, year: i32) -> u64 {
        self.keep(self.store.try_next_outgoing_seq(body, year))
    }
    fn query(&self, arrival: u64) -> Option<QueryFacts> {
        self.keep(self.store.try_query(arrival))
    }
    fn queries_awaiting(&self, norm: &str) -> Vec<u64> {
        self.keep(self.store.try_queries_awaiting(norm))
    }
}
