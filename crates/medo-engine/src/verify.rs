//! Signature checks beside the loop: the configured verifier runs on a few worker threads,
//! so a slow verifier (a token, a CRL fetch — up to `signature_timeout_secs` a signature)
//! holds only the appeal whose signatures it checks; every other package flows. The loop
//! asks [`Verifiers::status`] for each signature; an answer not there yet sends the job to
//! the workers and the appeal waits (its arrival stays undecided, looked at again on the
//! next pass). Results live in memory: after a restart the checks simply run again.

use medo_model::SignatureCheck;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use medo_wire::Limits;

/// Verifier processes run at once, at most.
pub const WORKERS: usize = 2;

/// One signature to check: `document` and `signature` in the claimed folder `dir`, or
/// entries of its container `zip` (extracted into `scratch` first).
#[derive(Debug, Clone)]
pub struct Job {
    pub arrival: u64,
    pub index: usize,
    pub dir: PathBuf,
    pub zip: Option<String>,
    pub document: String,
    pub signature: String,
    pub scratch: PathBuf,
}

/// A check's answer: `verified`, `invalid` or `not checked`, and the signer it named.
pub type Answer = (SignatureCheck, Option<String>);

/// The workers, the jobs sent to them and the answers they gave.
pub struct Verifiers {
    jobs: Option<Sender<Job>>,
    sent: HashSet<(u64, usize)>,
    done: Arc<Mutex<HashMap<(u64, usize), Answer>>>,
    command: String,
    timeout: Duration,
    limits: Limits,
}

impl Verifiers {
    pub fn new(command: Option<String>, timeout: Duration, limits: Limits) -> Verifiers {
        Verifiers {
            jobs: None,
            sent: HashSet::new(),
            done: Arc::default(),
            command: command.unwrap_or_default(),
            timeout,
            limits,
        }
    }

    /// The check's answer (`verified`, `invalid`, `not checked`), or `None` while it runs —
    /// sent to the workers the first time it is asked for.
    pub fn status(&mut self, job: Job) -> Option<Answer> {
        let key = (job.arrival, job.index);
        if let Some(s) = self
            .done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Some(s.clone());
        }
        if self.sent.insert(key) {
            let _ = self.sender().send(job);
        }
        None
    }

    /// Forgets an arrival's answers once its decision is journaled.
    pub fn forget(&mut self, arrival: u64) {
        self.sent.retain(|(a, _)| *a != arrival);
        self.done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(a, _), _| *a != arrival);
    }

    /// The workers' queue, the workers started on first use.
    fn sender(&mut self) -> &Sender<Job> {
        self.jobs.get_or_insert_with(|| {
            let (tx, rx) = channel::<Job>();
            let rx = Arc::new(Mutex::new(rx));
            for n in 0..WORKERS {
                let (rx, done) = (rx.clone(), self.done.clone());
                let (command, timeout, limits) =
                    (self.command.clone(), self.timeout, self.limits.clone());
                let _ = std::thread::Builder::new()
                    .name(format!("verifier-{n}"))
                    .spawn(move || work(&rx, &done, &command, timeout, &limits));
            }
            tx
        })
    }
}

/// A worker: takes jobs until the loop is gone.
fn work(
    jobs: &Mutex<Receiver<Job>>,
    done: &Mutex<HashMap<(u64, usize), Answer>>,
    command: &str,
    timeout: Duration,
    limits: &Limits,
) {
    loop {
        let job = match jobs.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(j) => j,
            Err(_) => return,
        };
        let status = check(&job, command, timeout, limits);
        done.lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((job.arrival, job.index), status);
    }
}

/// One check: the files in place, or the container's entries extracted first.
fn check(job: &Job, command: &str, timeout: Duration, limits: &Limits) -> Answer {
    let (file, sig) = match &job.zip {
        Some(zip) => {
            let _ = std::fs::remove_dir_all(&job.scratch);
            let extracted = std::fs::create_dir_all(&job.scratch).is_ok()
                && medo_wire::package::extract_container_entries(
                    &job.dir,
                    zip,
                    &[&job.document, &job.signature],
                    &job.scratch,
                    limits,
                )
                .is_ok();
            if !extracted {
                let _ = std::fs::remove_dir_all(&job.scratch);
                return (SignatureCheck::NotChecked, None);
            }
            (
                job.scratch.join(&job.document),
                job.scratch.join(&job.signature),
            )
        }
        None => (job.dir.join(&job.document), job.dir.join(&job.signature)),
    };
    let status = run_verifier(command, &file, &sig, timeout);
    let _ = std::fs::remove_dir_all(&job.scratch);
    status
}

/// Runs a signature verifier (no shell): `{file}` and `{signature}` in its arguments are
/// replaced by paths. Exit 0 → `verified`, another exit → `invalid`, no result in time or
/// cannot start → `not checked`. The first line it prints (at most 4 KiB read) names the
/// signer — a name or a certificate subject — checked against the partner's `signer_names`.
fn run_verifier(
    command: &str,
    file: &std::path::Path,
    signature: &std::path::Path,
    timeout: Duration,
) -> Answer {
    let mut parts = command.split_whitespace().map(|p| {
        p.replace("{file}", &file.to_string_lossy())
            .replace("{signature}", &signature.to_string_lossy())
    });
    let Some(program) = parts.next() else {
        return (SignatureCheck::NotChecked, None);
    };
    let child = std::process::Command::new(program)
        .args(parts)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        tracing::warn!(program = %command, "signature verifier cannot start");
        return (SignatureCheck::NotChecked, None);
    };
    // read beside the wait (a chatty verifier must not block on a full pipe)
    let reader = child.stdout.take().map(|out| {
        std::thread::spawn(move || {
            use std::io::Read;
            let mut head = Vec::new();
            let mut out = out;
            let _ = (&mut out).take(4096).read_to_end(&mut head);
            let _ = std::io::copy(&mut out, &mut std::io::sink());
            head
        })
    });
    let signer = |reader: Option<std::thread::JoinHandle<Vec<u8>>>| {
        let head = reader.and_then(|r| r.join().ok()).unwrap_or_default();
        String::from_utf8_lossy(&head)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(|l| l.chars().filter(|c| !c.is_control()).take(512).collect())
    };
    match super::child::wait_or_kill(&mut child, timeout) {
        Ok(Some(status)) if status.success() => (SignatureCheck::Verified, signer(reader)),
        Ok(Some(_)) => (SignatureCheck::Invalid, signer(reader)),
        Ok(None) => {
            tracing::warn!(
                timeout_s = timeout.as_secs(),
                "signature verifier timed out"
            );
            (SignatureCheck::NotChecked, None)
        }
        Err(e) => {
            tracing::warn!(error = %e, "signature verifier cannot be waited for");
            (SignatureCheck::NotChecked, None)
        }
    }
}
