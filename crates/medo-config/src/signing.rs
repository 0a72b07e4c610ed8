//! `[signing]`: our documents signed before they go out (issue 30). `command` makes a
//! detached CMS signature `{signature}` of `{file}` — run without a shell, as
//! `signature_verifier` is —, within `timeout_secs`; `certificate` (a PEM or DER file) gives
//! the stamp its details: the serial, the owner, the validity.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::invalid::Invalid;
use medo_model::CertificateFacts;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSigning {
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    timeout_secs: Option<u64>,
    #[serde(default)]
    certificate: Option<PathBuf>,
}

/// How our documents are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signing {
    /// The command, `{file}` and `{signature}` in its arguments.
    pub command: String,
    pub timeout_secs: u64,
    /// The certificate's facts for the stamp, read at start.
    pub certificate: Option<CertificateFacts>,
}

/// The signing command's time, seconds: by default, least, most.
pub const TIMEOUT_SECS: (u64, u64, u64) = (60, 1, 600);

/// `[signing]` read and checked; the certificate (relative: to the config's folder) read now.
pub(crate) fn signing(
    raw: Option<RawSigning>,
    base: Option<&Path>,
) -> Result<Option<Signing>, Invalid> {
    let Some(raw) = raw else { return Ok(None) };
    let command = raw.command.unwrap_or_default();
    if command.trim().is_empty() {
        return Err(Invalid::Empty("[signing] command"));
    }
    if !command.contains("{file}") || !command.contains("{signature}") {
        return Err(Invalid::SigningPlaceholders);
    }
    let timeout_secs = raw.timeout_secs.unwrap_or(TIMEOUT_SECS.0);
    if !(TIMEOUT_SECS.1..=TIMEOUT_SECS.2).contains(&timeout_secs) {
        return Err(Invalid::SigningTimeout(timeout_secs));
    }
    let certificate = match raw.certificate {
        None => None,
        Some(file) => {
            let path = match base {
                Some(dir) if file.is_relative() => dir.join(&file),
                _ => file,
            };
            Some(certificate(&path)?)
        }
    };
    Ok(Some(Signing {
        command,
        timeout_secs,
        certificate,
    }))
}

/// The stamp's facts of a certificate file: PEM (`-----BEGIN CERTIFICATE-----`) or DER.
fn certificate(path: &Path) -> Result<CertificateFacts, Invalid> {
    let bad = |why: String| Invalid::SigningCertificate {
        path: path.to_path_buf(),
        why,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(medo_stdx::words::io(&e)))?;
    let der = match bytes.starts_with(b"-----BEGIN") {
        true => {
            let (_, pem) = x509_parser::pem::parse_x509_pem(&bytes)
                .map_err(|e| bad(format!("не PEM: {e}")))?;
            pem.contents
        }
        false => bytes,
    };
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| bad(format!("не сертификат X.509: {e}")))?;
    let subject = cert.subject();
    let owner = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map_or_else(|| subject.to_string(), str::to_string);
    let day = |t: x509_parser::time::ASN1Time| medo_model::Day::from(t.to_datetime().date());
    let validity = cert.validity();
    Ok(CertificateFacts {
        serial: cert.raw_serial_as_string().replace(':', "").to_uppercase(),
        owner,
        valid_from: day(validity.not_before),
        valid_to: day(validity.not_after),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(command: &str, timeout: Option<u64>) -> Option<RawSigning> {
        Some(RawSigning {
            command: Some(command.into()),
            timeout_secs: timeout,
            certificate: None,
        })
    }

    #[test]
    fn the_command_needs_both_placeholders_and_a_sane_timeout() {
        let ok = "cryptcp -sign -detached {file} {signature}";
        let s = signing(raw(ok, None), None).unwrap().unwrap();
        assert_eq!((s.command.as_str(), s.timeout_secs), (ok, 60));
        for (command, timeout, words) in [
            ("", None, "не может быть пустым"),
            ("cryptcp -sign {file}", None, "{signature}"),
            ("cryptcp -sign {signature}", None, "{file}"),
            (ok, Some(0), "от 1 до 600"),
            (ok, Some(601), "от 1 до 600"),
        ] {
            let e = signing(raw(command, timeout), None)
                .unwrap_err()
                .to_string();
            assert!(e.contains(words), "{command:?} {timeout:?}: {e}");
        }
        assert_eq!(signing(None, None).unwrap(), None);
    }

    #[test]
    fn a_file_that_is_no_certificate_is_named_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cert.pem");
        std::fs::write(&path, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
        let e = certificate(&path).unwrap_err().to_string();
        assert!(
            e.contains("[signing] certificate") && e.contains("cert.pem"),
            "{e}"
        );
        let e = certificate(&dir.path().join("missing.der"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.der"), "{e}");
    }
}
