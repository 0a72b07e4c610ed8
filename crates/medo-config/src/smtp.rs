//! `[smtp]`: e-mail to applicants (issue 30) — `server`, `port`, `from`, `tls = "starttls" |
//! "implicit" | "none"`, and the login in files (`username_file`, `password_file`: the
//! password stays out of the config and out of every log).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::invalid::Invalid;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSmtp {
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    tls: Option<String>,
    #[serde(default)]
    username_file: Option<PathBuf>,
    #[serde(default)]
    password_file: Option<PathBuf>,
}

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// STARTTLS on the submission port (587 by default): required, never plain.
    StartTls,
    /// TLS from the first byte (465).
    Implicit,
    /// Plain text (25): a relay on the same host or network only.
    None,
}

/// Where and as whom applicants' e-mail is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Smtp {
    pub server: String,
    pub port: u16,
    pub from: String,
    pub tls: SmtpTls,
    /// The login, when the server wants one.
    pub login: Option<(String, String)>,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("server", &self.server)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("tls", &self.tls)
            .field("login", &self.login.as_ref().map(|(u, _)| (u, "…")))
            .finish()
    }
}

pub(crate) fn smtp(raw: Option<RawSmtp>, base: Option<&Path>) -> Result<Option<Smtp>, Invalid> {
    let Some(raw) = raw else { return Ok(None) };
    let given = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let server = given(raw.server).ok_or(Invalid::Empty("[smtp] server"))?;
    let from = given(raw.from).ok_or(Invalid::Empty("[smtp] from"))?;
    if !from.contains('@') {
        return Err(Invalid::SmtpFrom(from));
    }
    let tls = match raw.tls.as_deref().unwrap_or("starttls") {
        "starttls" => SmtpTls::StartTls,
        "implicit" => SmtpTls::Implicit,
        "none" => SmtpTls::None,
        other => return Err(Invalid::SmtpTls(other.to_string())),
    };
    let port = raw.port.unwrap_or(match tls {
        SmtpTls::StartTls => 587,
        SmtpTls::Implicit => 465,
        SmtpTls::None => 25,
    });
    let read = |file: PathBuf| -> Result<String, Invalid> {
        let path = match base {
            Some(dir) if file.is_relative() => dir.join(&file),
            _ => file,
        };
        std::fs::read_to_string(&path)
            .map(|t| t.trim_end_matches(['\r', '\n']).to_string())
            .map_err(|e| Invalid::SmtpFile {
                path,
                why: medo_stdx::words::io(&e),
            })
    };
    let login = match (raw.username_file, raw.password_file) {
        (Some(u), Some(p)) => Some((read(u)?, read(p)?)),
        (None, None) => None,
        _ => return Err(Invalid::SmtpLogin),
    };
    Ok(Some(Smtp {
        server,
        port,
        from,
        tls,
        login,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(tls: Option<&str>, from: &str) -> Option<RawSmtp> {
        Some(RawSmtp {
            server: Some("smtp.example.ru".into()),
            from: Some(from.into()),
            tls: tls.map(Into::into),
            ..RawSmtp::default()
        })
    }

    #[test]
    fn the_port_follows_the_tls_and_the_password_is_never_shown() {
        for (tls, port) in [(None, 587), (Some("implicit"), 465), (Some("none"), 25)] {
            let s = smtp(raw(tls, "priem@berdsk.ru"), None).unwrap().unwrap();
            assert_eq!(s.port, port, "{tls:?}");
        }
        assert!(smtp(raw(Some("ssl"), "a@b"), None)
            .unwrap_err()
            .to_string()
            .contains("starttls"));
        assert!(smtp(raw(None, "no-at-sign"), None).is_err());
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("u"), "priem\n").unwrap();
        std::fs::write(dir.path().join("p"), "s3cret\n").unwrap();
        let mut r = raw(None, "priem@berdsk.ru").unwrap();
        r.username_file = Some("u".into());
        r.password_file = Some("p".into());
        let s = smtp(Some(r), Some(dir.path())).unwrap().unwrap();
        assert_eq!(s.login, Some(("priem".into(), "s3cret".into())));
        assert!(!format!("{s:?}").contains("s3cret"));
        let mut half = raw(None, "priem@berdsk.ru").unwrap();
        half.username_file = Some("u".into());
        assert!(smtp(Some(half), Some(dir.path())).is_err());
    }
}
