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
        text(&check).contains("SUCCESS: 8 rules found"),
        "{}",
        text(&check)
    );
    let tested = promtool(&["test", "rules", "alerts_test.yml"], &root.join("tests")).unwrap();
    assert!(tested.status.success(), "{}", text(&tested));
    // every metric the rules use is one the gateway exports (a renamed metric would make an
    // alert silently never fire)
    let rules = std::fs::read_to_string(root.join("docs/alerts.yml")).unwrap();
    let metrics_rs = std::fs::read_to_string(root.join("src/metrics.rs")).unwrap();
    let mut used: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("medo_") && !w.starts_with("medo_gateway"))
        .collect();
    used.sort();
    used.dedup();
    for name in used {
        let exported = metrics_rs.match_indices(name).any(|(at, _)| {
            let next = metrics_rs[at + name.len()..].chars().next().unwrap_or(' ');
            !(next.is_ascii_alphanumeric() || next == '_')
        });
        assert!(exported, "{name} is not exported");
    }
}
