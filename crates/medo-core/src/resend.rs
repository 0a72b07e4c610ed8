//! Our own documents (answers to УРОГ queries, reports with their files) that get no Квитанция are sent again with
//! back-off — by default after 1, 6, 12 and 24 hours, then daily — and escalated to the
//! operator. A pure fold over the journal onto a [`ResendShelf`]: what was published and awaits
//! a receipt, what was acknowledged, what was re-sent. No I/O here.

use std::collections::BTreeMap;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use serde::{Deserialize, Serialize};

use medo_model::{Event, Output, Record};

/// Default waits before each re-send, seconds (the first send is at 0); the last repeats.
pub const DEFAULT_SCHEDULE: [u64; 4] = [3_600, 6 * 3_600, 12 * 3_600, 24 * 3_600];
/// Re-sends after which the operator is alerted.
pub const ESCALATE_AFTER: u32 = 3;

/// A document waiting for its receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    pub arrival: u64,
    pub output: Output,
    #[serde(with = "time::serde::rfc3339")]
    pub last_sent: OffsetDateTime,
    pub resends: u32,
}

/// Where the fold keeps what awaits a receipt (the sled store in the service, memory in
/// tests).
pub trait ResendShelf {
    type Error;
    /// A document decided under this output name and not yet published.
    fn decided(&self, name: &str) -> Result<Option<(u64, Output)>, Self::Error>;
    fn decide(&mut self, name: &str, arrival: u64, output: &Output) -> Result<(), Self::Error>;
    fn forget_decided(&mut self, name: &str) -> Result<(), Self::Error>;
    /// The document with this message uid (lower case) awaiting its receipt.
    fn waiting(&self, uid: &str) -> Result<Option<Waiting>, Self::Error>;
    fn wait(&mut self, uid: &str, w: &Waiting) -> Result<(), Self::Error>;
    fn stop_waiting(&mut self, uid: &str) -> Result<(), Self::Error>;
}

/// Outputs that expect a receipt from the partner: our documents (answers to queries,
/// reports with their files).
fn wants_receipt(o: &Output) -> bool {
    o.kind.is_document()
}

/// Folds one journal record in: decided documents become waiting when published (again
/// at each re-send), and stop waiting when their receipt arrives.
pub fn fold<S: ResendShelf>(shelf: &mut S, r: &Record) -> Result<(), S::Error> {
    for o in r.event.outputs().iter().filter(|o| wants_receipt(o)) {
        shelf.decide(&o.name, r.event.arrival().unwrap_or(r.seq), o)?;
    }
    match &r.event {
        Event::Published { name, .. } => {
            let Some(when) = OffsetDateTime::parse(&r.ts, &Rfc3339).ok() else {
                return Ok(());
            };
            if let Some((arrival, o)) = shelf.decided(name)? {
                let uid = o.message_uid.to_lowercase();
                let w = match shelf.waiting(&uid)? {
                    Some(w) => Waiting {
                        last_sent: when,
                        ..w
                    },
                    None => Waiting {
                        arrival,
                        output: o,
                        last_sent: when,
                        resends: 0,
                    },
                };
                shelf.wait(&uid, &w)?;
                shelf.forget_decided(name)?;
            }
        }
        Event::Resent { message_uid, .. } => {
            let uid = message_uid.to_lowercase();
            if let Some(mut w) = shelf.waiting(&uid)? {
                w.resends += 1;
                shelf.wait(&uid, &w)?;
            }
        }
        Event::ReceiptReceived { about_uid, .. } => {
            shelf.stop_waiting(&about_uid.to_lowercase())?;
        }
        _ => {}
    }
    Ok(())
}

/// Documents due for a re-send at `now` under `schedule` (waits before each re-send; the
/// last repeats).
pub fn due(waiting: Vec<Waiting>, now: OffsetDateTime, schedule: &[u64]) -> Vec<Waiting> {
    waiting
        .into_iter()
        .filter(|w| {
            let wait = schedule
                .get(w.resends as usize)
                .or(schedule.last())
                .copied()
                .unwrap_or(86_400);
            (now - w.last_sent).whole_seconds() >= wait as i64
        })
        .collect()
}

/// The in-memory shelf (the reference fold `tests/book_store.rs` compares the store with).
#[derive(Debug, Default, Clone)]
pub struct Tracker {
    decided: BTreeMap<String, (u64, Output)>,
    waiting: BTreeMap<String, Waiting>,
}

impl Tracker {
    pub fn apply(&mut self, r: &Record) {
        match fold(self, r) {
            Ok(()) => {}
            Err(never) => match never {},
        }
    }

    /// Everything awaiting a receipt.
    pub fn all_waiting(&self) -> Vec<Waiting> {
        self.waiting.values().cloned().collect()
    }
}

impl ResendShelf for Tracker {
    type Error = std::convert::Infallible;

    fn decided(&self, name: &str) -> Result<Option<(u64, Output)>, Self::Error> {
        Ok(self.decided.get(name).cloned())
    }
    fn decide(&mut self, name: &str, arrival: u64, output: &Output) -> Result<(), Self::Error> {
        self.decided
            .insert(name.to_string(), (arrival, output.clone()));
        Ok(())
    }
    fn forget_decided(&mut self, name: &str) -> Result<(), Self::Error> {
        self.decided.remove(name);
        Ok(())
    }
    fn waiting(&self, uid: &str) -> Result<Option<Waiting>, Self::Error> {
        Ok(self.waiting.get(uid).cloned())
    }
    fn wait(&mut self, uid: &str, w: &Waiting) -> Result<(), Self::Error> {
        self.waiting.insert(uid.to_string(), w.clone());
        Ok(())
    }
    fn stop_waiting(&mut self, uid: &str) -> Result<(), Self::Error> {
        self.waiting.remove(uid);
        Ok(())
    }
}
