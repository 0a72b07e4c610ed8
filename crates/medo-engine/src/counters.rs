//! The loop's numbers, as plain data: counters kept from the journal records this process
//! commits, gauges measured after each pass, the claim → rest latency as bucket counts. The
//! binary encodes them for `/metrics`; this module knows no exposition format.

use std::collections::{BTreeMap, HashMap};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use medo_model::{Event, Record};

/// Upper bounds of the latency histogram, seconds.
pub const LATENCY_BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// Held outputs shown with their reasons (the dashboard's list; the gauge counts them all).
pub const HELD_SHOWN: usize = 20;

/// Observations of the claim → rest latency: how many fell at or under each bound of
/// [`LATENCY_BUCKETS`] (not cumulative), above them all, their sum and count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latency {
    pub within: [u64; LATENCY_BUCKETS.len()],
    pub above: u64,
    pub sum: f64,
    pub count: u64,
}

impl Latency {
    pub fn observe(&mut self, seconds: f64) {
        match LATENCY_BUCKETS.iter().position(|b| seconds <= *b) {
            Some(i) => self.within[i] += 1,
            None => self.above += 1,
        }
        self.sum += seconds;
        self.count += 1;
    }

    /// `(upper bound, observations in that bucket)` — each above the previous bound, at or
    /// under its own; not cumulative (the encoder sums them) — ending with +∞.
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        let mut out: Vec<(f64, u64)> = LATENCY_BUCKETS.iter().copied().zip(self.within).collect();
        out.push((f64::INFINITY, self.above));
        out
    }
}

/// The numbers `/metrics` shows.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub received: u64,
    pub archived: u64,
    pub quarantined: u64,
    /// Quarantines by reason code (`unknown-partner`, `incomplete`, …).
    pub quarantined_by_code: BTreeMap<String, u64>,
    pub duplicates: u64,
    pub published: u64,
    /// Our messages rejected (the МЭДО operator's error receipts, partners' negative ones).
    pub rejected: u64,
    pub in_flight: u64,
    pub inbound_waiting: u64,
    pub outbound_waiting: u64,
    /// Age of the oldest outbound package, seconds.
    pub outbound_oldest_secs: u64,
    /// Folders in quarantine now.
    pub quarantine_now: u64,
    pub overdue_appeals: u64,
    /// Registered appeals past the 7-day redirect period with no step (`due::undecided`).
    pub undecided_appeals: u64,
    /// A region's hub (`[[bodies]]`): the appeal gauges are per body (label `body`).
    pub hub: bool,
    /// Per body: open, overdue, due soon, waiting for an operator (a hub's only).
    pub by_body: std::collections::BTreeMap<String, medo_core::due::BodyFigures>,
    /// Packages held for the hub's operator (no body named).
    pub arrivals_held: u64,
    /// Operator commands set aside as poisoned (`control/poisoned/`), until an operator
    /// clears them.
    pub commands_poisoned: u64,
    /// Outputs decided but not renderable (held pending, with a reason in the log).
    pub outputs_held: u64,
    /// Documents of ours waiting for a person's approval.
    pub awaiting_approval: u64,
    /// Of them, waiting longer than `approval_alert_secs`.
    pub approval_overdue: u64,
    /// Applicants' e-mails the server refused or that could not be sent, attempts since start.
    pub mail_failures: u64,
    /// Applicants told of a status by e-mail since start.
    pub applicants_notified: u64,
    /// Documents of ours the signer failed to sign (`[signing]`), attempts since start.
    pub signing_failures: u64,
    /// Documents of ours signed (`document_signed` journaled) since start.
    pub documents_signed: u64,
    /// Those outputs and why, for the dashboard (at most [`HELD_SHOWN`]).
    pub held: Vec<(String, String)>,
    /// Free bytes on the spool's filesystem, as last measured.
    pub disk_free_bytes: u64,
    /// 1 while the witness cannot take the journal's notes (`[audit]`).
    pub witness_failing: u64,
    pub journal_records: u64,
    pub last_scan_unix: f64,
    /// Claim → rest, observed as arrivals come to rest.
    pub latency: Latency,
    received_at: HashMap<u64, OffsetDateTime>,
}

fn at(ts: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(ts, &Rfc3339).ok()
}

impl Counters {
    /// Counts one journal record.
    pub fn record(&mut self, r: &Record) {
        self.journal_records = r.seq + 1;
        match &r.event {
            Event::Received { .. } => {
                self.received += 1;
                self.in_flight += 1;
                if let Some(t) = at(&r.ts) {
                    self.received_at.insert(r.seq, t);
                }
            }
            Event::Quarantined { code, .. } => {
                self.quarantined += 1;
                *self.quarantined_by_code.entry(code.clone()).or_default() += 1;
            }
            Event::Duplicate { .. } => self.duplicates += 1,
            Event::Published { .. } => self.published += 1,
            Event::DocumentSigned { .. } => self.documents_signed += 1,
            Event::ApplicantNotified { sent: true, .. } => self.applicants_notified += 1,
            Event::ReceiptReceived {
                accepted: false, ..
            } => self.rejected += 1,
            Event::Archived { arrival, .. } => {
                self.archived += 1;
                self.in_flight = self.in_flight.saturating_sub(1);
                if let (Some(start), Some(end)) = (self.received_at.remove(arrival), at(&r.ts)) {
                    self.latency
                        .observe((end - start).as_seconds_f64().max(0.0));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_observation_falls_in_one_bucket_and_the_last_is_infinity() {
        let mut l = Latency::default();
        for s in [0.05, 0.1, 0.3, 7.0, 1000.0] {
            l.observe(s);
        }
        let c = l.buckets();
        assert_eq!(c.len(), LATENCY_BUCKETS.len() + 1);
        assert_eq!(c[0], (0.1, 2), "0.05 and the bound itself");
        assert_eq!(c[1], (0.25, 0));
        assert_eq!(c[2], (0.5, 1));
        assert_eq!(c[6], (10.0, 1));
        assert_eq!(c[9], (300.0, 0));
        assert_eq!(c[10], (f64::INFINITY, 1));
        assert_eq!(l.count, 5);
        assert!((l.sum - 1007.45).abs() < 1e-9);
    }

    #[test]
    fn an_arrival_at_rest_is_observed_once_from_its_claim() {
        let rec = |seq, ts: &str, event| Record {
            seq,
            ts: ts.into(),
            prev: String::new(),
            hash: String::new(),
            event,
        };
        let mut c = Counters::default();
        c.record(&rec(
            4,
            "2026-12-03T10:00:00Z",
            Event::Received {
                src: "p".into(),
                key: "k".into(),
                claim: "c".into(),
                bytes: 1,
                files: 1,
            },
        ));
        let archived = Event::Archived {
            arrival: 4,
            key: "k".into(),
            dir: "archive/x".into(),
        };
        c.record(&rec(9, "2026-12-03T10:00:03Z", archived.clone()));
        c.record(&rec(10, "2026-12-03T10:00:09Z", archived));
        assert_eq!((c.received, c.archived, c.in_flight), (1, 2, 0));
        assert_eq!(
            c.latency.count, 1,
            "the second rest has no claim left to time"
        );
        assert!((c.latency.sum - 3.0).abs() < 1e-9);
        assert_eq!(c.journal_records, 11);
    }
}
