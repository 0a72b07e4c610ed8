//! Prometheus metrics of the run loop (`/metrics`, prefix `medo_`): packages by state,
//! processing latency (received → at rest), quarantined, overdue appeals, journal records,
//! last scan time, outbound waiting. Updated by the loop from journal records and after each
//! pass; rendered as Prometheus text. Pure bookkeeping.

use std::collections::HashMap;
use std::fmt::Write;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::model::{Event, Record};

/// Upper bounds of the latency histogram, seconds.
pub const LATENCY_BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// The numbers `/metrics` shows.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    pub received: u64,
    pub archived: u64,
    pub quarantined: u64,
    /// Quarantines by reason code (`unknown-partner`, `incomplete`, …).
    pub quarantined_by_code: std::collections::BTreeMap<String, u64>,
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
    pub journal_records: u64,
    pub last_scan_unix: f64,
    latency_counts: [u64; LATENCY_BUCKETS.len()],
    latency_sum: f64,
    latency_count: u64,
    received_at: HashMap<u64, OffsetDateTime>,
}

fn at(ts: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(ts, &Rfc3339).ok()
}

impl Metrics {
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
            Event::ReceiptReceived {
                accepted: false, ..
            } => self.rejected += 1,
            Event::Archived { arrival, .. } => {
                self.archived += 1;
                self.in_flight = self.in_flight.saturating_sub(1);
                if let (Some(start), Some(end)) = (self.received_at.remove(arrival), at(&r.ts)) {
                    let secs = (end - start).as_seconds_f64().max(0.0);
                    for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                        if secs <= *bound {
                            self.latency_counts[i] += 1;
                        }
                    }
                    self.latency_sum += secs;
                    self.latency_count += 1;
                }
            }
            _ => {}
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let mut gauge = |name: &str, help: &str, kind: &str, value: String| {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        gauge(
            "medo_packages_received_total",
            "Packages claimed from inbound.",
            "counter",
            self.received.to_string(),
        );
        gauge(
            "medo_packages_archived_total",
            "Packages at rest (archive or quarantine).",
            "counter",
            self.archived.to_string(),
        );
        gauge(
            "medo_packages_quarantined_total",
            "Packages quarantined.",
            "counter",
            self.quarantined.to_string(),
        );
        gauge(
            "medo_packages_duplicate_total",
            "Packages recognised as duplicates.",
            "counter",
            self.duplicates.to_string(),
        );
        gauge(
            "medo_outputs_published_total",
            "Outbound packages published.",
            "counter",
            self.published.to_string(),
        );
        gauge(
            "medo_outbound_rejected_total",
            "Our messages rejected: the МЭДО operator's error receipts and partners' negative receipts.",
            "counter",
            self.rejected.to_string(),
        );
        gauge(
            "medo_packages_in_flight",
            "Packages claimed and not yet at rest.",
            "gauge",
            self.in_flight.to_string(),
        );
        gauge(
            "medo_inbound_waiting",
            "Folders waiting in inbound (settling or incomplete).",
            "gauge",
            self.inbound_waiting.to_string(),
        );
        gauge(
            "medo_outbound_waiting",
            "Outbound packages not yet picked up by VipNet.",
            "gauge",
            self.outbound_waiting.to_string(),
        );
        gauge(
            "medo_appeals_overdue",
            "Appeals past a 59-FZ deadline.",
            "gauge",
            self.overdue_appeals.to_string(),
        );
        gauge(
            "medo_outbound_oldest_seconds",
            "Age of the oldest outbound package VipNet has not picked up (0: none waiting).",
            "gauge",
            self.outbound_oldest_secs.to_string(),
        );
        gauge(
            "medo_journal_records",
            "Records in the journal.",
            "gauge",
            self.journal_records.to_string(),
        );
        gauge(
            "medo_last_scan_timestamp_seconds",
            "Unix time of the last completed scan.",
            "gauge",
            format!("{:.3}", self.last_scan_unix),
        );
        let _ = writeln!(
            s,
            "# HELP medo_build_info The running build.\n# TYPE medo_build_info gauge\nmedo_build_info{{version=\"{}\",commit=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            crate::BUILD_COMMIT
        );
        let _ = writeln!(
            s,
            "# HELP medo_quarantined_by_code_total Packages quarantined, by reason code.\n# TYPE medo_quarantined_by_code_total counter"
        );
        for (code, n) in &self.quarantined_by_code {
            let _ = writeln!(
                s,
                "medo_quarantined_by_code_total{{code=\"{}\"}} {n}",
                label(code)
            );
        }
        let _ = writeln!(
            s,
            "# HELP medo_packages Packages by state now.\n# TYPE medo_packages gauge"
        );
        for (state, n) in [
            ("inbound", self.inbound_waiting),
            ("processing", self.in_flight),
            ("quarantined", self.quarantine_now),
            ("outbound", self.outbound_waiting),
        ] {
            let _ = writeln!(s, "medo_packages{{state=\"{state}\"}} {n}");
        }
        let _ = writeln!(s, "# HELP medo_processing_latency_seconds Time from claim to rest.\n# TYPE medo_processing_latency_seconds histogram");
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                s,
                "medo_processing_latency_seconds_bucket{{le=\"{bound}\"}} {}",
                self.latency_counts[i]
            );
        }
        let _ = writeln!(
            s,
            "medo_processing_latency_seconds_bucket{{le=\"+Inf\"}} {}",
            self.latency_count
        );
        let _ = writeln!(
            s,
            "medo_processing_latency_seconds_sum {:.6}",
            self.latency_sum
        );
        let _ = writeln!(
            s,
            "medo_processing_latency_seconds_count {}",
            self.latency_count
        );
        s
    }
}

/// A label value escaped for the text format.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The webhooks' series: deliveries, failed tries, and whether each is failing now (labelled
/// by client name; nothing when no webhook is configured).
pub fn render_webhooks(
    hooks: &std::collections::BTreeMap<String, crate::webhooks::HookStatus>,
) -> String {
    let mut s = String::new();
    if hooks.is_empty() {
        return s;
    }
    type Value = fn(&crate::webhooks::HookStatus) -> u64;
    let series: [(&str, &str, &str, Value); 3] = [
        (
            "medo_webhook_delivered_total",
            "Changes a СЭД's webhook took (2xx).",
            "counter",
            |h| h.delivered,
        ),
        (
            "medo_webhook_failures_total",
            "Webhook tries that failed (retried with back-off).",
            "counter",
            |h| h.failures,
        ),
        (
            "medo_webhook_failing",
            "1 while a webhook's delivery is being retried.",
            "gauge",
            |h| u64::from(h.failing_since.is_some()),
        ),
    ];
    for (name, help, kind, value) in series {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (client, h) in hooks {
            let _ = writeln!(s, "{name}{{client=\"{}\"}} {}", label(client), value(h));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(accepted: bool) -> Record {
        Record {
            seq: 5,
            ts: "2026-12-02T10:00:00Z".into(),
            prev: String::new(),
            hash: String::new(),
            event: Event::ReceiptReceived {
                arrival: 5,
                about_uid: "u".into(),
                accepted,
                comment: None,
                by_operator: !accepted,
                error_code: Some("248".into()),
                error_file: None,
                output: None,
            },
        }
    }

    #[test]
    fn quarantines_are_counted_by_their_code() {
        let mut m = Metrics::default();
        for (seq, code) in [
            (1, "unknown-partner"),
            (2, "incomplete"),
            (3, "unknown-partner"),
        ] {
            m.record(&Record {
                seq,
                ts: "2026-12-02T10:00:00Z".into(),
                prev: String::new(),
                hash: String::new(),
                event: Event::Quarantined {
                    arrival: seq,
                    key: "k".into(),
                    code: code.into(),
                    message: "m".into(),
                    header_uid: None,
                },
            });
        }
        let text = m.render();
        assert!(text.contains("medo_quarantined_by_code_total{code=\"unknown-partner\"} 2\n"));
        assert!(text.contains("medo_quarantined_by_code_total{code=\"incomplete\"} 1\n"));
        assert!(text.contains("medo_packages_quarantined_total 3\n"));
    }

    #[test]
    fn rejections_of_our_messages_are_counted() {
        let mut m = Metrics::default();
        m.record(&receipt(true));
        m.record(&receipt(false));
        m.record(&receipt(false));
        assert!(m.render().contains("\nmedo_outbound_rejected_total 2\n"));
    }
}
