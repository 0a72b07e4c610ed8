//! Issue 27: the loop runs over a storage backend its caller chooses and opens
//! (`Gateway::open_with`), through the seam's traits only. A backend of the test's own — the
//! files backend behind a ledger of every group commit and checkpoint — carries a whole run;
//! every journal record went through its `commit`, exactly once and in order, and the clean
//! stop signed one checkpoint through it.

mod common;

use std::sync::{Arc, Mutex};

use common::env::{copy_dir, Env};
use medo_gateway::book::Appeals;
use medo_gateway::config::Config;
use medo_gateway::gateway::start::{open_files, Opened};
use medo_gateway::gateway::Gateway;
use medo_store::checkpoint::CheckpointError;
use medo_store::journal::{Event, Record};
use medo_store::{Backend, CommitError, Files, JournalRead, Notary};

/// What the ledger saw: each group commit's (seq, hash) pairs, and the checkpoints signed.
#[derive(Default)]
struct Seen {
    commits: Vec<Vec<(u64, String)>>,
    checkpoints: usize,
}

/// The files backend, every commit and checkpoint written down on the way through.
struct Ledger {
    inner: Files,
    seen: Arc<Mutex<Seen>>,
}

impl Backend for Ledger {
    type Journal = <Files as Backend>::Journal;
    type Index = <Files as Backend>::Index;

    fn journal(&self) -> &Self::Journal {
        self.inner.journal()
    }
    fn index(&self) -> &Self::Index {
        self.inner.index()
    }
    fn commit(
        &mut self,
        events: Vec<Event>,
        now: &str,
        notary: &Notary,
    ) -> Result<Vec<Record>, CommitError<CheckpointError>> {
        let records = self.inner.commit(events, now, notary)?;
        let group = records.iter().map(|r| (r.seq, r.hash.clone())).collect();
        self.seen.lock().unwrap().commits.push(group);
        Ok(records)
    }
    fn checkpoint(&self, notary: &Notary) -> Result<(), CheckpointError> {
        self.seen.lock().unwrap().checkpoints += 1;
        self.inner.checkpoint(notary)
    }
}

/// Drops `n` 2.7.1 packages of one appeal, each with its own header uid (each answered by a
/// receipt and a notice).
fn drop_appeals(env: &Env, n: u32) {
    for i in 0..n {
        let staging = env.root.path().join(format!("staging{i}"));
        copy_dir(&env.samples.join("urog-appeal-2.7.1"), &staging);
        let path = staging.join("message.xml");
        let text = std::fs::read_to_string(&path).unwrap();
        let at = text.find("xdms:uid=\"").unwrap() + 10;
        let mut new = text.clone();
        new.replace_range(at..at + 36, &format!("{i:08x}-5555-4000-8000-000000000000"));
        std::fs::write(&path, new).unwrap();
        std::fs::rename(&staging, env.inbound.join(format!("a{i}"))).unwrap();
    }
}

#[test]
fn the_loop_runs_over_a_backend_its_caller_opens_and_commits_only_through_it() {
    let env = Env::new();
    drop_appeals(&env, 3);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let ledger = seen.clone();
    let config = Config::load(&env.config).unwrap();
    let mut gw = Gateway::open_with(config, move |start| {
        let o = open_files(start)?;
        Ok(Opened {
            backend: Ledger {
                inner: o.backend,
                seen: ledger,
            },
            checkpoint_key: o.checkpoint_key,
            pin_secret: o.pin_secret,
            witness: o.witness,
            restored: o.restored,
        })
    })
    .unwrap();
    gw.run_until_idle(20).unwrap();
    // the three carry one document (only their header uids differ): one appeal, registered,
    // delivered twice again
    let book = gw.appeals().after(0, 100);
    assert_eq!(book.len(), 1, "the backend's index holds the book");
    assert!(book[0].number.is_some());
    assert_eq!(book[0].redeliveries.len(), 2);
    gw.close().unwrap();

    assert_eq!(env.outbound_names().len(), 6, "a receipt and a notice each");
    let journal = medo_store::journal::Folder::new(env.state.join("journal"));
    let journaled: Vec<(u64, String)> = journal
        .read_from(0)
        .unwrap()
        .into_iter()
        .map(|r| (r.seq, r.hash))
        .collect();
    let seen = seen.lock().unwrap();
    let committed: Vec<(u64, String)> = seen.commits.iter().flatten().cloned().collect();
    assert_eq!(
        committed, journaled,
        "every record went through the backend's commit, once, in order"
    );
    assert!(
        seen.commits.iter().all(|g| !g.is_empty()),
        "no empty commit"
    );
    assert_eq!(seen.checkpoints, 1, "the clean stop signs one checkpoint");
}
