//! Model-based test of the spool, in process: random sequences of drop, drop-partial, finish,
//! duplicate, pass, crash (the gateway dropped mid-life without a clean stop, a torn record
//! appended to the journal) and restart; then a final clean run. The model says which packages
//! must have been received (each complete drop exactly once, partial ones never before they
//! are finished) and which receipts and notices must exist.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;

use common::env::{copy_dir, names, Env};
use medo_gateway::config::Config;
use medo_gateway::gateway::Gateway;
use medo_gateway::spool::package_key;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// A new, distinct 2.7.1 container (receipt expected).
    Drop,
    /// The 2.2 sample again (receipt expected; a duplicate after the first).
    Duplicate,
    /// A 2.2 package without its appeal.pdf yet.
    DropPartial,
    /// Adds the missing file to the oldest unfinished partial package.
    Finish,
    Pass,
    Crash,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Drop),
        2 => Just(Op::Duplicate),
        2 => Just(Op::DropPartial),
        2 => Just(Op::Finish),
        4 => Just(Op::Pass),
        1 => Just(Op::Crash),
        1 => Just(Op::Restart),
    ]
}

struct World {
    env: Env,
    gw: Option<Gateway>,
    n: u64,
    /// key → number of complete drops
    expected: BTreeMap<String, usize>,
    /// Outbound packages expected: a receipt and a notice per complete appeal delivery.
    outputs: usize,
    /// folders in inbound still missing appeal.pdf
    partial: Vec<String>,
}

impl World {
    fn gateway(&mut self) -> &mut Gateway {
        if self.gw.is_none() {
            let config = Config::load(&self.env.config).unwrap();
            self.gw = Some(Gateway::open(config).unwrap());
        }
        self.gw.as_mut().unwrap()
    }

    fn land(&mut self, staging: &std::path::Path, name: &str) {
        let (key, _, _) = package_key(staging, 1000).unwrap();
        *self.expected.entry(key).or_default() += 1;
        self.outputs += 2;
        fs::rename(staging, self.env.inbound.join(name)).unwrap();
    }

    fn apply(&mut self, op: &Op) {
        self.n += 1;
        let n = self.n;
        let staging = self.env.root.path().join(format!("staging{n}"));
        match op {
            Op::Drop => {
                copy_dir(&self.env.samples.join("urog-appeal-2.7.1"), &staging);
                let path = staging.join("message.xml");
                let text = fs::read_to_string(&path).unwrap();
                let at = text.find("xdms:uid=\"").unwrap() + 10;
                let mut new = text.clone();
                new.replace_range(at..at + 36, &format!("{n:08x}-2222-4000-8000-000000000000"));
                fs::write(&path, new).unwrap();
                self.land(&staging, &format!("d{n}"));
            }
            Op::Duplicate => {
                copy_dir(&self.env.samples.join("urog-appeal-2.2"), &staging);
                self.land(&staging, &format!("u{n}"));
            }
            Op::DropPartial => {
                let dir = self.env.inbound.join(format!("p{n}"));
                copy_dir(&self.env.samples.join("urog-appeal-2.2"), &dir);
                fs::remove_file(dir.join("appeal.pdf")).unwrap();
                self.partial.push(format!("p{n}"));
            }
            Op::Finish => {
                if !self.partial.is_empty() {
                    let name = self.partial.remove(0);
                    let dir = self.env.inbound.join(&name);
                    assert!(
                        dir.exists(),
                        "partial {name} was claimed before it was complete"
                    );
                    fs::copy(
                        self.env.samples.join("urog-appeal-2.2/appeal.pdf"),
                        dir.join("appeal.pdf"),
                    )
                    .unwrap();
                    let (key, _, _) = package_key(&dir, 1000).unwrap();
                    *self.expected.entry(key).or_default() += 1;
                    self.outputs += 2;
                }
            }
            Op::Pass => {
                self.gateway().pass().unwrap();
            }
            Op::Crash => {
                if let Some(gw) = self.gw.take() {
                    drop(gw); // no service_stop: like a kill between two passes
                    let seg_dir = self.env.state.join("journal");
                    if let Some(seg) = names(&seg_dir).into_iter().rfind(|n| n.ends_with(".jsonl"))
                    {
                        let mut f = fs::OpenOptions::new()
                            .append(true)
                            .open(seg_dir.join(seg))
                            .unwrap();
                        f.write_all(b"{\"seq\":").unwrap(); // a torn write
                    }
                }
            }
            Op::Restart => {
                if let Some(gw) = self.gw.take() {
                    gw.close().unwrap();
                }
            }
        }
        for p in &self.partial {
            assert!(
                self.env.inbound.join(p).exists(),
                "incomplete {p} was touched"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, max_shrink_iters: 50, ..ProptestConfig::default() })]

    #[test]
    fn the_spool_keeps_its_promises(ops in proptest::collection::vec(op(), 1..25)) {
        let env = Env::with(0, 3600, "");
        let mut world = World { env, gw: None, n: 0, expected: BTreeMap::new(), outputs: 0, partial: Vec::new() };
        for op in &ops {
            world.apply(op);
        }
        world.apply(&Op::Restart);
        world.gateway().run_until_idle(3).unwrap();
        world.apply(&Op::Restart);

        let env = &world.env;
        let mut received: BTreeMap<String, usize> = BTreeMap::new();
        for r in env.records_of_kind("received") {
            *received.entry(r["key"].as_str().unwrap().to_string()).or_default() += 1;
        }
        prop_assert_eq!(&received, &world.expected);
        prop_assert_eq!(env.outbound_names().len(), world.outputs);
        let mut partial = world.partial.clone();
        partial.sort();
        prop_assert_eq!(names(&env.inbound), partial);
        prop_assert!(names(&env.state.join("claimed")).is_empty());
        env.verify_all();
    }
}
