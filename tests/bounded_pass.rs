//! Issue 27 item 5: a pass takes on a bounded amount of work (arrivals decided, outputs
//! rendered and published, folders filed away; bytes rendered) and asks for the next pass at
//! once; siblings (an arrival's receipt and its notice) always leave together; `run --once`
//! (`run_until_idle`) still publishes everything. Driven in process with small limits.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

use common::env::{copy_dir, Env};
use medo_gateway::config::Config;
use medo_gateway::gateway::{Gateway, PassLimits};

/// Drops `n` distinct 2.7.1 appeals (each: a receipt and a «Зарегистрирован» notice).
fn drop_appeals(env: &Env, n: u32) {
    for i in 0..n {
        let staging = env.root.path().join(format!("staging{i}"));
        copy_dir(&env.samples.join("urog-appeal-2.7.1"), &staging);
        let path = staging.join("message.xml");
        let text = fs::read_to_string(&path).unwrap();
        let at = text.find("xdms:uid=\"").unwrap() + 10;
        let mut new = text.clone();
        new.replace_range(at..at + 36, &format!("{i:08x}-3333-4000-8000-000000000000"));
        fs::write(&path, new).unwrap();
        fs::rename(&staging, env.inbound.join(format!("a{i}"))).unwrap();
    }
}

/// Outbound folders by their cause (`<kind>-<key>-<arrival>` → `<key>-<arrival>`): how many
/// of each.
fn by_cause(env: &Env) -> BTreeMap<String, usize> {
    let mut causes = BTreeMap::new();
    for name in env.outbound_names() {
        let cause = name.split_once('-').unwrap().1.to_string();
        *causes.entry(cause).or_default() += 1;
    }
    causes
}

/// Passes until one leaves nothing to do; each pass's report and what outbound held after it.
fn passes(gw: &mut Gateway, env: &Env) -> Vec<(medo_gateway::gateway::PassReport, usize)> {
    let mut seen = Vec::new();
    for _ in 0..100 {
        let r = gw.pass().unwrap();
        let causes = by_cause(env);
        assert!(
            causes.values().all(|n| *n == 2),
            "an arrival's receipt and notice leave together: {causes:?}"
        );
        let idle = r.claimed + r.published + r.archived == 0 && r.next_look != Some(Duration::ZERO);
        seen.push((r, causes.len()));
        if idle && env.outbound_names().len() == 10 {
            return seen;
        }
    }
    panic!("no end after 100 passes: {seen:?}");
}

#[test]
fn a_pass_publishes_at_most_its_limit_of_arrivals_and_the_next_follows_at_once() {
    let env = Env::new();
    drop_appeals(&env, 5);
    let mut gw = Gateway::open(Config::load(&env.config).unwrap()).unwrap();
    gw.set_pass_limits(PassLimits {
        decide: 2,
        file_away: 2,
        output_arrivals: 2,
        ..PassLimits::DEFAULT
    });
    let seen = passes(&mut gw, &env);
    assert!(
        seen.iter()
            .all(|(r, _)| r.published <= 4 && r.archived <= 2),
        "{seen:?}"
    );
    let left_work = seen
        .iter()
        .filter(|(r, _)| r.next_look == Some(Duration::ZERO));
    assert!(
        left_work.count() >= 2,
        "passes that left work asked for the next at once: {seen:?}"
    );
    assert_eq!(seen.iter().map(|(r, _)| r.published).sum::<usize>(), 10);
    assert_eq!(seen.iter().map(|(r, _)| r.archived).sum::<usize>(), 5);
    gw.close().unwrap();
}

#[test]
fn past_its_bytes_a_pass_renders_no_further_arrival_and_run_once_still_sends_all() {
    let env = Env::new();
    drop_appeals(&env, 5);
    let mut gw = Gateway::open(Config::load(&env.config).unwrap()).unwrap();
    gw.set_pass_limits(PassLimits {
        render_bytes: 1,
        ..PassLimits::DEFAULT
    });
    // the folders settle first (a pass or a few); the one that claims them decides all five
    let first = (0..100)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(2));
            gw.pass().unwrap()
        })
        .find(|r| r.claimed > 0)
        .expect("claimed within 100 passes");
    assert_eq!((first.claimed, first.parsed), (5, 5));
    assert_eq!(
        first.published, 2,
        "one arrival's two outputs, then the bytes are spent"
    );
    assert_eq!(first.next_look, Some(Duration::ZERO));
    let report = gw.run_until_idle(20).unwrap();
    assert_eq!(first.published + report.published, 10);
    assert_eq!(by_cause(&env).len(), 5);
    assert!(by_cause(&env).values().all(|n| *n == 2));
    gw.close().unwrap();
}
