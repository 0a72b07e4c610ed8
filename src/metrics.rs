//! Prometheus metrics of the run loop (`/metrics`, prefix `medo_`): packages by state,
//! processing latency (received → at rest), quarantined, overdue appeals, journal records,
//! last scan time, outbound waiting. Updated by the loop from journal records and after each
//! pass; rendered as OpenMetrics text by `prometheus-client` (the series' names are the
//! documented ones: a counter registered as `x` is exposed as `x_total`). Pure bookkeeping.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use crate::webhooks::HookStatus;

pub use medo_engine::counters::{Counters, Latency, HELD_SHOWN, LATENCY_BUCKETS};

/// The numbers `/metrics` shows: the loop's [`Counters`], with their exposition.
#[derive(Debug, Clone, Default)]
pub struct Metrics(pub Counters);

impl std::ops::Deref for Metrics {
    type Target = Counters;
    fn deref(&self) -> &Counters {
        &self.0
    }
}

impl std::ops::DerefMut for Metrics {
    fn deref_mut(&mut self) -> &mut Counters {
        &mut self.0
    }
}

impl Metrics {
    /// The exposition (OpenMetrics text, [`CONTENT_TYPE`]) of these numbers and the
    /// webhooks' series, encoded by `prometheus-client`.
    pub fn render(
        &self,
        hooks: &BTreeMap<String, HookStatus>,
        leadership: Option<crate::health::Leadership>,
    ) -> String {
        let mut r = Registry::default();
        if let Some(l) = leadership {
            let leader = u64::from(l.role == crate::health::Role::Leader);
            r.register(
                "medo_leader",
                "1 while this node leads (holds the lease), 0 on a standby",
                gauge(leader),
            );
            r.register(
                "medo_failovers",
                "Leader changes on this database (the lease's epoch less one)",
                counter(l.failovers),
            );
        }
        for (name, help, total) in self.totals() {
            r.register(name, help, counter(total));
        }
        for (name, help, now) in self.levels() {
            // a hub's appeal gauges are per body (below): one-body series stay as they are
            let per_body = ["medo_appeals_overdue", "medo_appeals_redirect_overdue"];
            if !(self.hub && per_body.contains(&name)) {
                r.register(name, help, gauge(now));
            }
        }
        if self.hub {
            self.register_bodies(&mut r);
        }
        let last_scan = Gauge::<f64, AtomicU64>::default();
        last_scan.set(self.last_scan_unix);
        r.register(
            "medo_last_scan_timestamp_seconds",
            "Unix time of the last completed scan",
            last_scan,
        );
        r.register(
            "medo_build",
            "The running build",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                ("commit", crate::BUILD_COMMIT),
            ]),
        );
        self.register_labelled(&mut r);
        r.register(
            "medo_processing_latency_seconds",
            "Time from claim to rest",
            LatencyHistogram(self.latency.clone()),
        );
        register_webhooks(&mut r, hooks);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &r).expect("writing to a String");
        text
    }

    /// The counters: name (exposed with `_total`), help, total.
    fn totals(&self) -> [(&'static str, &'static str, u64); 10] {
        [
            ("medo_packages_received", "Packages claimed from inbound", self.received),
            ("medo_packages_archived", "Packages at rest (archive or quarantine)", self.archived),
            ("medo_packages_quarantined", "Packages quarantined", self.quarantined),
            ("medo_packages_duplicate", "Packages recognised as duplicates", self.duplicates),
            ("medo_outputs_published", "Outbound packages published", self.published),
            ("medo_documents_signed", "Documents of ours signed ([signing])", self.documents_signed),
            ("medo_applicants_notified", "Applicants told of a status by e-mail ([smtp])", self.applicants_notified),
            ("medo_mail_failures", "Applicants' e-mails not sent (the server refused, or unreachable): tried again", self.mail_failures),
            (
                "medo_signing_failures",
                "Attempts to sign a document of ours that failed or timed out (held, not sent unsigned)",
                self.signing_failures,
            ),
            (
                "medo_outbound_rejected",
                "Our messages rejected: the МЭДО operator's error receipts and partners' negative receipts",
                self.rejected,
            ),
        ]
    }

    /// The gauges measured after each pass: name, help, value.
    fn levels(&self) -> [(&'static str, &'static str, u64); 13] {
        [
            (
                "medo_documents_awaiting_approval",
                "Documents of ours waiting for a person's approval ([queries]/[reports] approval = \"operator\")",
                self.awaiting_approval,
            ),
            (
                "medo_documents_approval_overdue",
                "Documents of ours waiting for approval longer than approval_alert_secs",
                self.approval_overdue,
            ),
            (
                "medo_packages_in_flight",
                "Packages claimed and not yet at rest",
                self.in_flight,
            ),
            (
                "medo_inbound_waiting",
                "Folders waiting in inbound (settling or incomplete)",
                self.inbound_waiting,
            ),
            (
                "medo_outbound_waiting",
                "Outbound packages not yet picked up by VipNet",
                self.outbound_waiting,
            ),
            (
                "medo_appeals_overdue",
                "Appeals past a 59-FZ deadline",
                self.overdue_appeals,
            ),
            (
                "medo_appeals_redirect_overdue",
                "Registered appeals past the 7-day redirect period (59-FZ art. 8 p. 3) with no step: neither taken into work nor redirected",
                self.undecided_appeals,
            ),
            (
                "medo_outbound_oldest_seconds",
                "Age of the oldest outbound package VipNet has not picked up (0: none waiting)",
                self.outbound_oldest_secs,
            ),
            (
                "medo_journal_records",
                "Records in the journal",
                self.journal_records,
            ),
            (
                "medo_commands_poisoned",
                "Operator commands set aside because the process kept stopping on them",
                self.commands_poisoned,
            ),
            (
                "medo_outputs_held",
                "Messages decided that cannot be rendered: held, not sent (reason in the log)",
                self.outputs_held,
            ),
            (
                "medo_disk_free_bytes",
                "Free bytes on the spool's filesystem (below [spool] min_free_mib nothing is claimed)",
                self.disk_free_bytes,
            ),
            (
                "medo_witness_failing",
                "1 while the witness ([audit]) cannot take the journal's notes",
                self.witness_failing,
            ),
        ]
    }

    /// A hub's appeal gauges, label `body` (at most 1,000 bodies: 5,000 series), and the
    /// packages held for the hub's operator.
    fn register_bodies(&self, r: &mut Registry) {
        type ByBody = Family<Vec<(&'static str, String)>, Gauge>;
        type Figure = fn(&medo_core::due::BodyFigures) -> u64;
        let families: [(&str, &str, Figure); 5] = [
            (
                "medo_appeals_overdue",
                "Appeals past a 59-FZ deadline, per body",
                |f| f.overdue,
            ),
            (
                "medo_appeals_redirect_overdue",
                "Registered appeals past the 7-day redirect period with no step, per body",
                |f| f.undecided,
            ),
            (
                "medo_appeals_open",
                "Appeals under consideration, per body",
                |f| f.open,
            ),
            (
                "medo_appeals_due_soon",
                "Appeals due within 3 days (not yet overdue), per body",
                |f| f.due_soon,
            ),
            (
                "medo_appeals_waiting_operator",
                "Appeals waiting for an operator, per body",
                |f| f.held,
            ),
        ];
        for (name, help, value) in families {
            let family = ByBody::default();
            for (body, figures) in &self.by_body {
                family
                    .get_or_create(&vec![("body", body.clone())])
                    .set(i64::try_from(value(figures)).unwrap_or(i64::MAX));
            }
            r.register(name, help, family);
        }
        r.register(
            "medo_arrivals_held",
            "Packages for no body of the hub, waiting for its operator (appeals assign)",
            gauge(self.arrivals_held),
        );
    }

    /// Quarantines by reason code and packages by state.
    fn register_labelled(&self, r: &mut Registry) {
        let by_code = Family::<Vec<(&'static str, String)>, Counter>::default();
        for (code, n) in &self.quarantined_by_code {
            by_code
                .get_or_create(&vec![("code", code.clone())])
                .inc_by(*n);
        }
        r.register(
            "medo_quarantined_by_code",
            "Packages quarantined, by reason code",
            by_code,
        );
        let by_state = Family::<Vec<(&'static str, &'static str)>, Gauge>::default();
        for (state, n) in [
            ("inbound", self.inbound_waiting),
            ("processing", self.in_flight),
            ("quarantined", self.quarantine_now),
            ("outbound", self.outbound_waiting),
        ] {
            by_state
                .get_or_create(&vec![("state", state)])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        r.register("medo_packages", "Packages by state now", by_state);
    }
}

/// `Content-Type` of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The Prometheus text format 0.0.4's content type (what `/metrics` serves unless
/// OpenMetrics is asked for).
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The OpenMetrics exposition [`Metrics::render`] makes, in the Prometheus text format 0.0.4
/// (promtool, node_exporter's textfile readers, other scrapers read only this):
/// `prometheus-client` writes OpenMetrics only. The differences are few and fixed: a
/// counter's family takes its sample's `_total` name, an info family becomes a gauge named
/// `_info`, `# UNIT` and `# EOF` go, `_created` samples go.
pub fn to_text_004(openmetrics: &str) -> String {
    let mut kinds = std::collections::HashMap::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some((family, kind)) = rest.split_once(' ') {
                kinds.insert(family.to_string(), kind.to_string());
            }
        }
    }
    let renamed = |family: &str| match kinds.get(family).map(String::as_str) {
        Some("counter") => (format!("{family}_total"), "counter"),
        Some("info") => (format!("{family}_info"), "gauge"),
        Some("histogram") => (family.to_string(), "histogram"),
        _ => (family.to_string(), "gauge"),
    };
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (family, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.push_str(&format!("# HELP {} {help}\n", renamed(family).0));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let family = rest.split_once(' ').map_or(rest, |(f, _)| f);
            let (name, kind) = renamed(family);
            out.push_str(&format!("# TYPE {name} {kind}\n"));
            continue;
        }
        let name = line.split(['{', ' ']).next().unwrap_or("");
        if name.ends_with("_created") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The loop's latency counts as an OpenMetrics histogram.
#[derive(Debug)]
struct LatencyHistogram(Latency);

impl TypedMetric for LatencyHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let buckets = self.0.buckets();
        encoder.encode_histogram::<NoLabelSet>(self.0.sum, self.0.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

fn counter(total: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(total);
    c
}

fn gauge(now: u64) -> Gauge {
    let g = Gauge::default();
    g.set(i64::try_from(now).unwrap_or(i64::MAX));
    g
}

/// The webhooks' series: deliveries, failed tries, and whether each is failing now (labelled
/// by client name; nothing when no webhook is configured).
fn register_webhooks(r: &mut Registry, hooks: &BTreeMap<String, HookStatus>) {
    if hooks.is_empty() {
        return;
    }
    let label = |client: &String| vec![("client", client.clone())];
    let (delivered, failures) = (
        Family::<_, Counter>::default(),
        Family::<_, Counter>::default(),
    );
    let failing = Family::<Vec<(&'static str, String)>, Gauge>::default();
    for (client, h) in hooks {
        delivered.get_or_create(&label(client)).inc_by(h.delivered);
        failures.get_or_create(&label(client)).inc_by(h.failures);
        failing
            .get_or_create(&label(client))
            .set(i64::from(h.failing_since.is_some()));
    }
    r.register(
        "medo_webhook_delivered",
        "Changes a СЭД's webhook took (2xx)",
        delivered,
    );
    r.register(
        "medo_webhook_failures",
        "Webhook tries that failed (retried with back-off)",
        failures,
    );
    r.register(
        "medo_webhook_failing",
        "1 while a webhook's delivery is being retried",
        failing,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, Record};

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
        let text = m.render(&BTreeMap::new(), None);
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
        assert!(m
            .render(&BTreeMap::new(), None)
            .contains("\nmedo_outbound_rejected_total 2\n"));
    }

    #[test]
    fn the_latency_is_exposed_as_a_cumulative_histogram() {
        let mut m = Metrics::default();
        m.latency.observe(3.0);
        m.latency.observe(400.0);
        let text = m.render(&BTreeMap::new(), None);
        assert!(text.contains("# TYPE medo_processing_latency_seconds histogram\n"));
        assert!(text.contains("medo_processing_latency_seconds_bucket{le=\"2.5\"} 0\n"));
        assert!(text.contains("medo_processing_latency_seconds_bucket{le=\"5.0\"} 1\n"));
        assert!(text.contains("medo_processing_latency_seconds_bucket{le=\"300.0\"} 1\n"));
        assert!(text.contains("medo_processing_latency_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("medo_processing_latency_seconds_count 2\n"));
        assert!(text.contains("medo_processing_latency_seconds_sum 403.0\n"));
    }
}
