//! What the applicant may take away (issue 30 item 4): the answer (when it is not ДСП), the
//! notice of an extension, the notice of a redirect — each listed with its name, kind and
//! size in the status, and downloaded by that name with the number and PIN
//! (`/api/v1/status/files/{name}`). The notices are drawn from the book (the same bytes each
//! time); the answer is the file kept with its step.

use crate::book::Appeal;
use crate::config::Config;

/// One file for the applicant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicantFile {
    /// The name it is listed and asked for by (ASCII, safe in a URL).
    pub name: String,
    /// `answer`, `extension` or `redirect`.
    pub kind: &'static str,
    /// The name a browser saves it under (Russian).
    pub download_name: String,
    pub bytes: Vec<u8>,
}

/// The applicant's files of `a` (its body's letterhead for the notices).
pub fn files(a: &Appeal, config: &Config) -> Vec<ApplicantFile> {
    let policy = config
        .policy
        .for_body(a.body.as_str())
        .unwrap_or_else(|| config.policy.clone());
    let mut out = Vec::new();
    if let (Some(name), false) = (&a.answer_file, a.restricted) {
        let kept = config
            .spool
            .shared_root()
            .join(crate::model::kept_path(a.id, name));
        if let Ok(bytes) = std::fs::read(kept) {
            out.push(ApplicantFile {
                name: format!("answer{}", extension(name)),
                kind: "answer",
                download_name: format!("Ответ на обращение {}{}", number(a), extension(name)),
                bytes,
            });
        }
    }
    if let Some(bytes) = medo_core::letters::applicant_extension_pdf(a, &policy) {
        out.push(ApplicantFile {
            name: "extension-notice.pdf".into(),
            kind: "extension",
            download_name: format!("Уведомление о продлении срока {}.pdf", number(a)),
            bytes,
        });
    }
    if let Some(bytes) = medo_core::letters::applicant_redirect_pdf(a, &policy) {
        out.push(ApplicantFile {
            name: "redirect-notice.pdf".into(),
            kind: "redirect",
            download_name: format!("Уведомление о переадресации {}.pdf", number(a)),
            bytes,
        });
    }
    out
}

/// `.pdf` (the answer's own extension when it is a plain one; `.pdf` otherwise).
fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 5 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map_or_else(|| ".pdf".into(), |e| format!(".{e}"))
}

/// The appeal's number as a file name may carry it (`/` is no part of a file name).
fn number(a: &Appeal) -> String {
    a.number.clone().unwrap_or_default().replace('/', "-")
}
