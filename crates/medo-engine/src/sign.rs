//! Our signatures beside the loop (`[signing]`): the signing command — CryptoPro's `cryptcp`
//! or `csptest` with a ГОСТ key in production, `openssl cms -sign` in tests — runs on a
//! worker thread, so a slow token holds only the document it signs; intake and every other
//! package flow. The loop asks [`Signers::status`] for each document of ours still unsigned;
//! an answer not there yet sends the job to the worker and the document waits («ждёт
//! подписи»). A failure is said once per attempt and tried again on a later pass. Answers
//! live in memory until the loop journals them (`document_signed`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The largest signature a signer may write (a CMS with its certificate chain is a few KiB).
pub const MAX_SIGNATURE_BYTES: u64 = 1 << 20;

/// One file to sign: its name and bytes (written into `scratch` for the command).
#[derive(Debug, Clone)]
pub struct Job {
    /// The output it belongs to (what the answer is found by).
    pub output: String,
    pub file: String,
    pub bytes: Vec<u8>,
}

/// A signer's answer: the file as it was signed and the detached signature's bytes, or why
/// there is none (in Russian).
pub type Answer = Result<Signature, String>;

/// A file and our detached signature of it: the bytes the signer was given (a document
/// rendered again may differ byte for byte — these are what is sent).
#[derive(Debug)]
pub struct Signature {
    pub file: String,
    pub document: Vec<u8>,
    pub p7s: Vec<u8>,
}

/// Where a document stands with the signer.
#[derive(Debug)]
pub enum Status {
    /// Signed: the file as signed and the detached signature.
    Signed(Signature),
    /// The signer failed just now, in these words (said once; tried again after a rest).
    Failed(String),
    /// With the signer now.
    Signing,
    /// Failed a moment ago: tried again after [`RETRY_AFTER`].
    Resting,
}

/// How long a document the signer failed waits before it is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);

/// The worker, the jobs sent to it and the answers it gave.
pub struct Signers {
    jobs: Option<Sender<Job>>,
    sent: HashSet<String>,
    done: Arc<Mutex<HashMap<String, Answer>>>,
    failed: HashMap<String, std::time::Instant>,
    command: String,
    timeout: Duration,
    scratch: PathBuf,
}

impl Signers {
    /// Signers running `command` (placeholders `{file}`, `{signature}`; no shell) for at most
    /// `timeout` a file, in folders under `scratch`.
    pub fn new(command: String, timeout: Duration, scratch: PathBuf) -> Signers {
        Signers {
            jobs: None,
            sent: HashSet::new(),
            done: Arc::default(),
            failed: HashMap::new(),
            command,
            timeout,
            scratch,
        }
    }

    /// Where `job.output` stands — sent to the worker the first time it is asked for. An
    /// answer is handed out once (a signature is journaled by then); a failure rests for
    /// [`RETRY_AFTER`], then the document is signed anew.
    pub fn status(&mut self, job: Job) -> Status {
        let answer = self
            .done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&job.output);
        match answer {
            Some(Ok(signature)) => {
                self.sent.remove(&job.output);
                return Status::Signed(signature);
            }
            Some(Err(why)) => {
                self.sent.remove(&job.output);
                self.failed.insert(job.output, std::time::Instant::now());
                return Status::Failed(why);
            }
            None => {}
        }
        if let Some(at) = self.failed.get(&job.output) {
            if at.elapsed() < RETRY_AFTER {
                return Status::Resting;
            }
            self.failed.remove(&job.output);
        }
        if self.sent.insert(job.output.clone()) {
            let _ = self.sender().send(job);
        }
        Status::Signing
    }

    /// The worker's queue, the worker started on first use (one: a token signs one at a time).
    fn sender(&mut self) -> &Sender<Job> {
        self.jobs.get_or_insert_with(|| {
            let (tx, rx) = channel::<Job>();
            let done = self.done.clone();
            let (command, timeout, scratch) =
                (self.command.clone(), self.timeout, self.scratch.clone());
            let _ = std::thread::Builder::new()
                .name("signer".into())
                .spawn(move || work(&rx, &done, (&command, timeout), &scratch));
            tx
        })
    }
}

/// The worker: takes jobs until the loop is gone.
fn work(
    jobs: &Receiver<Job>,
    done: &Mutex<HashMap<String, Answer>>,
    (command, timeout): (&str, Duration),
    scratch: &Path,
) {
    while let Ok(job) = jobs.recv() {
        let dir = scratch.join(format!("sign-{}", std::process::id()));
        let answer = sign(&job, command, timeout, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        done.lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job.output.clone(), answer);
    }
}

/// One signature: the file written into `dir`, the command run on it, the signature read.
fn sign(job: &Job, command: &str, timeout: Duration, dir: &Path) -> Answer {
    let words = |e: std::io::Error| medo_stdx::words::io(&e);
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(words)?;
    // the file under its own name (the signer may show it); a name that is no plain file
    // name is never used as a path
    let name = Path::new(&job.file)
        .file_name()
        .filter(|n| n.len() == job.file.len())
        .map_or_else(|| "document".into(), |n| n.to_os_string());
    let file = dir.join(&name);
    let signature = dir.join("signature.p7s");
    std::fs::write(&file, &job.bytes).map_err(words)?;
    run(command, (&file, &signature), timeout)?;
    let meta = std::fs::metadata(&signature)
        .map_err(|_| "программа подписи завершилась, но файла подписи нет".to_string())?;
    if meta.len() == 0 || meta.len() > MAX_SIGNATURE_BYTES {
        return Err(format!(
            "файл подписи пуст или больше {} КиБ",
            MAX_SIGNATURE_BYTES / 1024
        ));
    }
    let p7s = std::fs::read(&signature).map_err(words)?;
    Ok(Signature {
        file: job.file.clone(),
        document: job.bytes.clone(),
        p7s,
    })
}

/// Runs the signing command without a shell: `{file}` and `{signature}` in its arguments are
/// replaced by the paths. Exit 0 is a signature; anything else is why there is none (its
/// first line on stderr, at most 4 KiB read).
fn run(command: &str, (file, signature): (&Path, &Path), timeout: Duration) -> Result<(), String> {
    let mut parts = command.split_whitespace().map(|p| {
        p.replace("{file}", &file.to_string_lossy())
            .replace("{signature}", &signature.to_string_lossy())
    });
    let program = parts.next().ok_or("команда подписи пуста")?;
    let mut child = std::process::Command::new(&program)
        .args(parts)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program} не запускается: {}", medo_stdx::words::io(&e)))?;
    let reader = child.stderr.take().map(|err| {
        std::thread::spawn(move || {
            use std::io::Read;
            let (mut head, mut err) = (Vec::new(), err);
            let _ = (&mut err).take(4096).read_to_end(&mut head);
            let _ = std::io::copy(&mut err, &mut std::io::sink());
            head
        })
    });
    let said = |reader: Option<std::thread::JoinHandle<Vec<u8>>>| {
        let head = reader.and_then(|r| r.join().ok()).unwrap_or_default();
        let text = String::from_utf8_lossy(&head);
        let line = text.lines().map(str::trim).find(|l| !l.is_empty());
        line.map(|l| {
            l.chars()
                .filter(|c| !c.is_control())
                .take(300)
                .collect::<String>()
        })
    };
    match super::child::wait_or_kill(&mut child, timeout) {
        Ok(Some(status)) if status.success() => Ok(()),
        Ok(Some(status)) => Err(match said(reader) {
            Some(line) => format!("{program} завершилась с ошибкой ({status}): {line}"),
            None => format!("{program} завершилась с ошибкой ({status})"),
        }),
        Ok(None) => Err(format!(
            "{program} не ответила за {} с (остановлена)",
            timeout.as_secs()
        )),
        Err(e) => Err(format!("{program}: {}", medo_stdx::words::io(&e))),
    }
}

/// Writes `bytes` to `path` whole and durably: a temporary name beside it, synced, renamed,
/// the folder synced (a crash leaves the old file or the new one, never a part).
pub fn keep(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map_or_else(Default::default, |n| n.to_string_lossy())
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    medo_stdx::fsync_dir(dir)
}
