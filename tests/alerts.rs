//! Issue 17, item 3: `docs/alerts.yml` — the Prometheus alerting rules for the alerts
//! OPERATIONS.md names — is valid (`promtool check rules`) and its alerts fire on the series
//! the gateway exports and stay quiet otherwise (`promtool test rules tests/alerts_test.yml`).
//! promtool comes with Debian's `prometheus` package (.ci/run installs it); without it the
//! test says SKIPPED, except under CI=true, where it fails.

mod common;

use std::path::Path;
use std::process::Command;

fn promtool(args: &[&str], dir: &Path) -> Option<std::process::Output> {
    Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()
}

#[test]
#[cfg_attr(medo_no_promtool, ignore = "no promtool (apt-get install prometheus)")]
fn the_alerting_rules_are_valid_and_fire_when_they_should() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(check) = promtool(&["check", "rules", "docs/alerts.yml"], root) else {
        assert!(
            !common::in_ci(),
            "CI=true: promtool is needed (Debian package prometheus)"
        );
        common::skipped("the alerting rules test: no promtool (apt-get install prometheus)");
        return;
    };
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains("SUCCESS: 17 rules found"),
        "{}",
        text(&check)
    );
    let tested = promtool(&["test", "rules", "alerts_test.yml"], &root.join("tests")).unwrap();
    assert!(tested.status.success(), "{}", text(&tested));
    // every metric the rules use is one the gateway exports (a renamed metric would make an
    // alert silently never fire): checked against the exposition itself, every family with a
    // sample (a quarantine code, a webhook client, an observed latency)
    let rules = std::fs::read_to_string(root.join("docs/alerts.yml")).unwrap();
    // a one-body node's exposition and a hub's (its appeal gauges per body, its held packages)
    let (exposition, hub) = (exposition(false), exposition(true));
    let both = format!("{exposition}{hub}");
    let samples: Vec<&str> = both
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split([' ', '{']).next())
        .collect();
    let mut used: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("medo_") && !w.starts_with("medo_gateway"))
        .collect();
    used.sort();
    used.dedup();
    for name in used {
        assert!(
            samples.contains(&name),
            "{name} is not exported:\n{exposition}"
        );
    }
    // and the exposition is OpenMetrics a strict parser reads: the Python Prometheus client's
    // (.ci/venv, pinned in .ci/run; promtool 2.42's `check metrics` knows only the 0.0.4 text)
    let python = root.join(".ci/venv/bin/python");
    let parsed = Command::new(&python)
        .args(["-c", PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut parsed) = parsed else {
        assert!(
            !common::in_ci(),
            "CI=true: .ci/venv with prometheus-client is needed"
        );
        common::skipped("the OpenMetrics parse: no .ci/venv (see .ci/run)");
        return;
    };
    use std::io::Write;
    parsed
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let parsed = parsed.wait_with_output().unwrap();
    assert!(parsed.status.success(), "{}\n{exposition}", text(&parsed));
    let mut hub_parse = Command::new(&python)
        .args(["-c", PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    hub_parse
        .stdin
        .take()
        .unwrap()
        .write_all(hub.as_bytes())
        .unwrap();
    let hub_parsed = hub_parse.wait_with_output().unwrap();
    assert!(hub_parsed.status.success(), "{}\n{hub}", text(&hub_parsed));
    let hub_families = String::from_utf8_lossy(&hub_parsed.stdout);
    assert!(
        hub_families
            .lines()
            .any(|l| l == "medo_appeals_overdue gauge"),
        "{hub_families}"
    );
    let families = String::from_utf8_lossy(&parsed.stdout);
    for family in [
        "medo_build info",
        "medo_packages_received counter",
        "medo_processing_latency_seconds histogram",
        "medo_webhook_failing gauge",
    ] {
        assert!(
            families.lines().any(|l| l == family),
            "{family}:\n{families}"
        );
    }
}

/// Parses stdin as OpenMetrics (raising on anything malformed) and prints each family's name
/// and type.
const PARSE: &str = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as parse\nfor f in parse(sys.stdin.read()):\n    print(f.name, f.type)\n";

/// What `/metrics` serves with one of everything counted (`hub`: a region's hub of two
/// bodies).
fn exposition(hub: bool) -> String {
    use medo_gateway::model::{Event, Record};
    let mut m = medo_gateway::metrics::Metrics::default();
    if hub {
        m.hub = true;
        m.arrivals_held = 1;
        for body in ["mo-a", "mo-b"] {
            m.by_body.insert(body.into(), Default::default());
        }
    }
    let record = |seq, ts: &str, event| Record {
        seq,
        ts: ts.into(),
        prev: String::new(),
        hash: String::new(),
        event,
    };
    m.record(&record(
        1,
        "2026-12-03T10:00:00Z",
        Event::Received {
            src: "p".into(),
            key: "k".into(),
            claim: "c".into(),
            bytes: 1,
            files: 1,
        },
    ));
    m.record(&record(
        2,
        "2026-12-03T10:00:01Z",
        Event::Quarantined {
            arrival: 1,
            key: "k".into(),
            code: "incomplete".into(),
            message: "m".into(),
            header_uid: None,
        },
    ));
    m.record(&record(
        3,
        "2026-12-03T10:00:02Z",
        Event::Archived {
            arrival: 1,
            key: "k".into(),
            dir: "quarantine/k".into(),
        },
    ));
    let hooks = [("delo".to_string(), Default::default())]
        .into_iter()
        .collect();
    m.render(&hooks, None)
}
