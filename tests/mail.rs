//! Issue 30 item 5: e-mail to the applicant (`[smtp]`), against a local SMTP server the test
//! starts (Python's aiosmtpd from .ci/venv, writing a Maildir): the registration with the
//! number and PIN, the answer with the answer attached — each message parsed back (the Russian
//! subject, the stable Message-ID, the attachment's digest), each journaled `applicant_notified`
//! without the address; a status reached with no address known is journaled as not sent.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use common::env::Env;

/// aiosmtpd on a free port, delivering into a Maildir; stopped when dropped.
struct Server {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/venv/bin/python")
}

fn server(root: &Path) -> Option<Server> {
    let ok = Command::new(python())
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !common::in_ci(),
            "CI=true: aiosmtpd is needed in .ci/venv (see .ci/run)"
        );
        common::skipped("the e-mail tests: no aiosmtpd in .ci/venv");
        return None;
    }
    let port = common::env::free_port();
    let maildir = root.join("maildir");
    let child = Command::new(python())
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .spawn()
        .unwrap();
    common::wait_http(port);
    Some(Server {
        child,
        port,
        maildir,
    })
}

/// Every message delivered: subject (decoded), Message-ID, To, the attachments' names and
/// SHA-256s, the text — read by Python's `email` package.
fn delivered(maildir: &Path) -> Vec<serde_json::Value> {
    const READ: &str = r#"
import sys, json, mailbox, hashlib, email.header
out = []
for m in mailbox.Maildir(sys.argv[1], factory=None, create=False):
    subject = str(email.header.make_header(email.header.decode_header(m['Subject'])))
    files, text = [], ''
    for part in m.walk():
        if part.get_filename():
            name = str(email.header.make_header(email.header.decode_header(part.get_filename())))
            files.append({'name': name, 'sha256': hashlib.sha256(part.get_payload(decode=True)).hexdigest()})
        elif part.get_content_type() == 'text/plain':
            text += part.get_payload(decode=True).decode('utf-8')
    out.append({'subject': subject, 'message_id': m['Message-ID'], 'to': m['To'], 'files': files, 'text': text})
print(json.dumps(out, ensure_ascii=False))
"#;
    if !maildir.join("new").exists() {
        return Vec::new();
    }
    let out = Command::new(python())
        .args(["-c", READ])
        .arg(maildir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap()
}

/// `[smtp]` towards the test's server (with `more` sections before it).
fn with_smtp(env: &Env, smtp: &Server, more: &str) {
    env.add_sections(&format!(
        "{more}[smtp]\nserver = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"priem@berdsk.ru\"\n",
        smtp.port
    ));
}

/// Appeal 1's card, with the applicant's address.
fn card(env: &Env) {
    let code = "0003.0008.0086.0567";
    env.ok(&[
        "appeals",
        "card",
        "1",
        "--name",
        "Иванов Иван",
        "--code",
        code,
        "--email",
        "ivanov@example.ru",
    ]);
}

#[test]
fn the_applicant_is_told_by_e_mail_of_the_registration_and_the_answer() {
    let env = Env::new();
    let Some(smtp) = server(env.root.path()) else {
        return;
    };
    with_smtp(&env, &smtp, "[registration]\nmode = \"manual\"\n");
    env.drop_sample("urog-appeal-2.2", "a");
    env.once();
    // the card with the address first, then the registration: told with the number and PIN
    card(&env);
    env.ok(&["appeals", "register", "1"]);
    env.once();
    let shown: serde_json::Value =
        serde_json::from_str(&env.ok(&["appeals", "show", "1", "--json", "--pin"])).unwrap();
    let (number, pin) = (
        shown["number"].as_str().unwrap(),
        shown["pin"].as_str().unwrap(),
    );
    let mails = delivered(&smtp.maildir);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(
        mails[0]["subject"],
        format!("Обращение зарегистрировано: № {number}")
    );
    assert_eq!(mails[0]["to"], "ivanov@example.ru");
    assert_eq!(mails[0]["message_id"], "<appeal-1-registered@berdsk.ru>");
    let text = mails[0]["text"].as_str().unwrap();
    assert!(text.contains(pin) && text.contains(number), "{text}");
    // the answer, attached
    let answer = env.root.path().join("answer.pdf");
    std::fs::write(&answer, medo_gateway::samples::minimal_pdf("ответ")).unwrap();
    env.ok(&[
        "appeals",
        "event",
        number,
        "answered",
        "--result",
        "explained",
        "--file",
        answer.to_str().unwrap(),
    ]);
    env.once();
    let mails = delivered(&smtp.maildir);
    assert_eq!(mails.len(), 2, "{mails:?}");
    let answered = mails
        .iter()
        .find(|m| m["message_id"] == "<appeal-1-answered@berdsk.ru>")
        .unwrap();
    assert_eq!(
        answered["subject"],
        format!("Ответ на обращение № {number}")
    );
    let digest = medo_gateway::wire::hash::sha256_bytes(&std::fs::read(&answer).unwrap());
    assert_eq!(
        answered["files"][0]["sha256"],
        digest.as_str(),
        "{answered}"
    );
    // journaled, without the address; nothing sent twice on another run
    env.once();
    assert_eq!(delivered(&smtp.maildir).len(), 2);
    let told = env.records_of_kind("applicant_notified");
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told.iter().all(|r| r["sent"] == true));
    let journal = env
        .journal_lines()
        .iter()
        .map(|r| r.to_string())
        .collect::<String>();
    assert!(
        !journal.contains("ivanov@example.ru"),
        "the address stays out of the journal"
    );
    env.verify_all();
}

/// A status reached while no address is known is journaled as not sent, once.
#[test]
fn without_an_address_the_status_is_journaled_as_not_told() {
    let env = Env::new();
    let Some(smtp) = server(env.root.path()) else {
        return;
    };
    with_smtp(&env, &smtp, "");
    env.drop_sample("urog-appeal-2.2", "a");
    env.once();
    env.once();
    let told = env.records_of_kind("applicant_notified");
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["sent"], false);
    assert_eq!(told[0]["reason"], "нет адреса");
    assert!(delivered(&smtp.maildir).is_empty());
}

/// The window a stable Message-ID covers: the server accepted the message and the process was
/// killed before `applicant_notified` was journaled — the next run sends the same message
/// (the same Message-ID: a mail client shows one) and journals it once.
#[test]
fn a_crash_after_sending_repeats_the_same_message_at_most() {
    let env = Env::new();
    let Some(smtp) = server(env.root.path()) else {
        return;
    };
    with_smtp(&env, &smtp, "[registration]\nmode = \"manual\"\n");
    env.drop_sample("urog-appeal-2.2", "a");
    env.once();
    card(&env);
    env.ok(&["appeals", "register", "1"]);
    env.crash_at("after-mail-sent", &["run", "--once"]);
    assert!(env.records_of_kind("applicant_notified").is_empty());
    env.once();
    let mails = delivered(&smtp.maildir);
    assert_eq!(
        mails.len(),
        2,
        "sent, then sent again after the crash: {mails:?}"
    );
    assert_eq!(mails[0]["message_id"], mails[1]["message_id"]);
    assert_eq!(mails[0]["subject"], mails[1]["subject"]);
    assert_eq!(
        env.records_of_kind("applicant_notified").len(),
        1,
        "journaled once"
    );
    env.once();
    assert_eq!(delivered(&smtp.maildir).len(), 2, "and never again");
}

/// Old news is never mailed: statuses reached before `[smtp]` was set (more than three days
/// ago) are journaled as not sent — as after an index rebuild on a long history.
#[test]
fn statuses_older_than_three_days_are_not_mailed() {
    let env = Env::new();
    env.drop_sample("urog-appeal-2.2", "a");
    let out = env.cmd_at("-5d", &["run", "--once"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    card(&env);
    let Some(smtp) = server(env.root.path()) else {
        return;
    };
    with_smtp(&env, &smtp, "");
    env.once();
    let told = env.records_of_kind("applicant_notified");
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["sent"], false);
    assert!(
        told[0]["reason"].as_str().unwrap().starts_with("устарело"),
        "{told:?}"
    );
    assert!(delivered(&smtp.maildir).is_empty(), "old news mailed");
}
