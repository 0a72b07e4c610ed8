//! E-mail to the applicant beside the loop (`[smtp]`, issue 30): lettre's SMTP transport over
//! rustls on a worker thread, so a slow or absent mail server holds only the messages; intake
//! and decisions flow. Each message has a stable `Message-ID` per appeal and status: a crash
//! between the server's acceptance and the journal (`applicant_notified`) repeats the same
//! message at most. A failure rests a minute, then the message is tried again.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::message::{header::ContentType, Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use medo_config::{Smtp, SmtpTls};

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

/// One message through the configured server.
fn send(mail: &Mail, smtp: &Smtp) -> Result<(), String> {
    let message = compose(mail, &smtp.from)?;
    let transport = transport(smtp)?;
    transport
        .send(&message)
        .map(|_| ())
        .map_err(|e| format!("почтовый сервер {}: {e}", smtp.server))
}

/// The message: UTF-8 text, the attachment when there is one, the stable Message-ID.
fn compose(mail: &Mail, from: &str) -> Result<Message, String> {
    let from: Mailbox = from.parse().map_err(|e| format!("[smtp] from: {e}"))?;
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|_| "адрес заявителя не читается".to_string())?;
    let builder = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(mail.message_id.clone()));
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(mail.text.clone());
    let built = match &mail.attachment {
        None => builder.singlepart(text),
        Some((name, bytes)) => {
            let kind = ContentType::parse("application/pdf").expect("a known content type");
            let file = Attachment::new(name.clone()).body(bytes.clone(), kind);
            builder.multipart(MultiPart::mixed().singlepart(text).singlepart(file))
        }
    };
    built.map_err(|e| format!("письмо не составляется: {e}"))
}

fn transport(smtp: &Smtp) -> Result<SmtpTransport, String> {
    let params = || TlsParameters::new(smtp.server.clone()).map_err(|e| format!("[smtp] TLS: {e}"));
    let mut builder = SmtpTransport::builder_dangerous(&smtp.server).port(smtp.port);
    builder = match smtp.tls {
        SmtpTls::StartTls => builder.tls(Tls::Required(params()?)),
        SmtpTls::Implicit => builder.tls(Tls::Wrapper(params()?)),
        SmtpTls::None => builder.tls(Tls::None),
    };
    if let Some((user, password)) = &smtp.login {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.timeout(Some(Duration::from_secs(30))).build())
}
