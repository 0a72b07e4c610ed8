//! The SMTP client the loop's mail worker uses (`[smtp]`, issue 30): lettre over rustls (no
//! libssl), installed into the engine at start (`medo_engine::notify::install`) — the loop's
//! crate knows no network client.

use std::time::Duration;

use lettre::message::{header::ContentType, Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use medo_config::{Smtp, SmtpTls};
use medo_engine::notify::Mail;

/// One message through the configured server.
pub fn send(mail: &Mail, smtp: &Smtp) -> Result<(), String> {
    let message = compose(mail, &smtp.from)?;
    let transport = transport(smtp)?;
    transport.send(&message).map(|_| ()).map_err(|e| {
        format!(
            "почтовый сервер {}: {}",
            smtp.server,
            redacted(&e.to_string())
        )
    })
}

/// A server's words without e-mail addresses (a refusal often quotes the recipient's: no
/// personal data in the logs).
fn redacted(text: &str) -> String {
    text.split_whitespace()
        .map(|w| if w.contains('@') { "<адрес>" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
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

#[cfg(test)]
mod tests {
    #[test]
    fn a_servers_refusal_loses_the_address() {
        assert_eq!(
            super::redacted("550 5.1.1 <ivanov@example.ru>: Recipient address rejected"),
            "550 5.1.1 <адрес> Recipient address rejected"
        );
    }
}
