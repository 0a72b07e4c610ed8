//! E-mail to the applicant beside the loop (`[smtp]`, issue 30): the installed transport
//! (the binary's: lettre's SMTP over rustls) on a worker thread, so a slow or absent mail server holds only the messages; intake
//! and decisions flow. Each message has a stable `Message-ID` per appeal and status: a crash
//! between the server's acceptance and the journal (`applicant_notified`) repeats the same
//! message at most. A failure rests a minute, then the message is tried again.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use medo_config::Smtp;

/// How long a message the server refused waits before it is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// One message to one applicant.
#[derive(Debug, Clone)]
pub struct Mail {
    /// `(appeal, status)`: what the answer is found by.
    pub about: (u64, String),
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub attachment: Option<(String, Vec<u8>)>,
}

/// Where a message stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Status {
    Sent,
    /// The server or the network refused it just now, in these words (tried again later).
    Failed(String),
    /// With the worker now.
    Sending,
    /// Failed a moment ago.
    Resting,
}

/// The worker's answers by (appeal, status): sent, or why not.
type Answers = Mutex<HashMap<(u64, String), Result<(), String>>>;

/// The worker and its answers.
pub struct Mailer {
    jobs: Option<Sender<Mail>>,
    sent: HashSet<(u64, String)>,
    done: Arc<Answers>,
    failed: HashMap<(u64, String), Instant>,
    smtp: Smtp,
}

impl Mailer {
    pub fn new(smtp: Smtp) -> Mailer {
        Mailer {
            jobs: None,
            sent: HashSet::new(),
            done: Arc::default(),
            failed: HashMap::new(),
            smtp,
        }
    }

    /// Where `mail` stands — sent to the worker the first time it is asked for.
    pub fn status(&mut self, mail: Mail) -> Status {
        let key = mail.about.clone();
        let answer = self
            .done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
        match answer {
            Some(Ok(())) => {
                self.sent.remove(&key);
                return Status::Sent;
            }
            Some(Err(why)) => {
                self.sent.remove(&key);
                self.failed.insert(key, Instant::now());
                return Status::Failed(why);
            }
            None => {}
        }
        if let Some(at) = self.failed.get(&key) {
            if at.elapsed() < RETRY_AFTER {
                return Status::Resting;
            }
            self.failed.remove(&key);
        }
        if self.sent.insert(key) {
            let _ = self.sender().send(mail);
        }
        Status::Sending
    }

    fn sender(&mut self) -> &Sender<Mail> {
        self.jobs.get_or_insert_with(|| {
            let (tx, rx) = channel::<Mail>();
            let (done, smtp) = (self.done.clone(), self.smtp.clone());
            let _ = std::thread::Builder::new()
                .name("mailer".into())
                .spawn(move || work(&rx, &done, &smtp));
            tx
        })
    }
}

fn work(jobs: &Receiver<Mail>, done: &Answers, smtp: &Smtp) {
    while let Ok(mail) = jobs.recv() {
        let answer = send(&mail, smtp);
        done.lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(mail.about.clone(), answer);
    }
}

/// How a message reaches the server: installed by the composition root (the binary's SMTP
/// client, lettre over rustls) — the loop's crate knows no network client.
pub type Transport = fn(&Mail, &Smtp) -> Result<(), String>;

static TRANSPORT: std::sync::OnceLock<Transport> = std::sync::OnceLock::new();

/// Installs the transport (once, at start; later calls change nothing).
pub fn install(transport: Transport) {
    let _ = TRANSPORT.set(transport);
}

/// One message through the installed transport.
fn send(mail: &Mail, smtp: &Smtp) -> Result<(), String> {
    match TRANSPORT.get() {
        Some(send) => send(mail, smtp),
        None => Err("нет почтового транспорта в этой сборке".into()),
    }
}
