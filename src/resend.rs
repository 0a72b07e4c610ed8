//! Our own documents (answers to УРОГ queries) that get no Квитанция are sent again with
//! back-off — by default after 1, 6, 12 and 24 hours, then daily — and escalated to the
//! operator. A pure fold over the journal: what was published and awaits a receipt, what was
//! acknowledged, what was re-sent.

use std::collections::BTreeMap;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::journal::{Event, Output, Record};

/// Default waits before each re-send, seconds (the first send is at 0); the last repeats.
pub const DEFAULT_SCHEDULE: [u64; 4] = [3_600, 6 * 3_600, 12 * 3_600, 24 * 3_600];
/// Re-sends after which the operator is alerted.
pub const ESCALATE_AFTER: u32 = 3;

/// A document waiting for its receipt.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub arrival: u64,
    pub output: Output,
    pub last_sent: OffsetDateTime,
    pub resends: u32,
}

/// What awaits a receipt, by our message uid.
#[derive(Debug, Default, Clone)]
pub struct Tracker {
    decided: BTreeMap<String, (u64, Output)>,
    waiting: BTreeMap<String, Waiting>,
}

/// Outputs that expect a receipt from the partner: our documents.
fn wants_receipt(o: &Output) -> bool {
    o.kind == "response"
}

impl Tracker {
    pub fn apply(&mut self, r: &Record) {
        for o in r.event.outputs().iter().filter(|o| wants_receipt(o)) {
            self.decided.insert(
                o.name.clone(),
                (r.event.arrival().unwrap_or(r.seq), o.clone()),
            );
        }
        match &r.event {
            Event::Published { name, .. } => {
                let Some(when) = OffsetDateTime::parse(&r.ts, &Rfc3339).ok() else {
                    return;
                };
                if let Some((arrival, o)) = self.decided.get(name) {
                    let w = self
                        .waiting
                        .entry(o.message_uid.clone())
                        .or_insert(Waiting {
                            arrival: *arrival,
                            output: o.clone(),
                            last_sent: when,
                            resends: 0,
                        });
                    w.last_sent = when;
                }
            }
            Event::Resent { message_uid, .. } => {
                if let Some(w) = self.waiting.get_mut(message_uid) {
                    w.resends += 1;
                }
            }
            Event::ReceiptReceived { about_uid, .. } => {
                self.waiting.remove(&about_uid.to_lowercase());
            }
            _ => {}
        }
    }

    /// Whether we sent a message with this uid and still wait for its receipt.
    pub fn awaits(&self, message_uid: &str) -> bool {
        self.waiting.contains_key(&message_uid.to_lowercase())
    }

    /// Documents due for a re-send now, under `schedule` (waits before each re-send).
    pub fn due(&self, now: OffsetDateTime, schedule: &[u64]) -> Vec<&Waiting> {
        self.waiting
            .values()
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
}
