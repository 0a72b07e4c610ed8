//! Appeals forwarded by УРОГ: what a package says about the appeal (cover letter number and
//! date, files, signatures, classification, addressing), the automatic refusal rules mapped
//! to the nine official reasons, registration numbers from a template, and PINs for status
//! lookups. Pure: works on parsed packages and configuration, touches nothing.

use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Digest;

use medo_wire::hash::Sha256;
use time::Date;

use medo_model::{ArrivedFile, FileRole, SignatureCheck, SignatureEncoding};
use medo_wire::container::ContainerInfo;
use medo_wire::message::{
    AssociatedFile, Body, Document, Format, RefusalReason, GROUP_DOCUMENT_TEXT,
};
use medo_wire::package::Package;

/// Why an operator's (or a СЭД's) registration number cannot be given: empty, longer than
/// 31 characters, or holding control characters (a line break would reach УРОГ inside the
/// number). `None`: it can.
pub fn number_problem(number: &str) -> Option<String> {
    if number.trim().is_empty() || number.chars().count() > 31 {
        return Some("регистрационный номер — от 1 до 31 символа".into());
    }
    number.chars().any(char::is_control).then(|| {
        "регистрационный номер содержит управляющие символы (перевод строки, табуляцию…)".into()
    })
}

/// Normalises a УРОГ number for matching: a Latin `A26` prefix becomes Cyrillic `А26`;
/// spaces trimmed; letters upper-cased.
pub fn normalize_number(number: &str) -> String {
    let t = number.trim().to_uppercase();
    match t.strip_prefix('A') {
        Some(rest) if rest.starts_with("26") => format!("А{rest}"),
        _ => t,
    }
}

pub use medo_model::SignatureFile;

/// What the gateway extracts from a forwarded appeal's package. No personal data beyond
/// the annotation, which is kept out of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppealFacts {
    /// The УРОГ cover letter number as written.
    pub urog_number: String,
    /// Normalised for matching (`А26-…`).
    pub urog_number_norm: String,
    #[serde(serialize_with = "medo_wire::time::serialize_date")]
    pub urog_date: Option<Date>,
    pub urog_organization: Option<String>,
    /// The document GUID notifications refer to.
    pub document_uid: String,
    pub kind: Option<String>,
    pub annotation: Option<String>,
    pub signatories: Vec<String>,
    /// File names: the cover letter / main document first.
    pub files: Vec<String>,
    /// The files of group «Текст документа» (or the container's main document).
    pub text_files: Vec<String>,
    pub signatures: Vec<SignatureFile>,
    pub classification: Option<String>,
    pub restricted: bool,
    /// Destinations of `deliveryIndex` (empty when there is none).
    pub destinations: Vec<String>,
    /// Files named by the message or passport that are absent.
    pub missing: Vec<String>,
    pub format: Format,
    /// Every file it arrived with, its role and digest (journaled with `appeal_received`).
    pub arrived: Vec<ArrivedFile>,
}

fn is_signature_name(name: &str) -> bool {
    let l = name.to_lowercase();
    l.ends_with(".p7s") || l.ends_with(".sig")
}

/// What the body of a forwarded appeal's message says of it: the cover letter's requisites,
/// the document's files (the main one first) and the (file, detached signature) pairs.
struct Cover {
    number: String,
    date: Option<time::Date>,
    organization: Option<String>,
    document_uid: String,
    kind: Option<String>,
    annotation: Option<String>,
    signatories: Vec<String>,
    files: Vec<String>,
    text_files: Vec<String>,
    classification: Option<String>,
    restricted: bool,
    signed: Vec<(String, String)>,
}

/// Extracts the appeal facts from a parsed package. `signature_encoding` tells the encoding of
/// a signature file by name (the caller reads it; `None` = absent).
pub fn facts(
    package: &Package,
    signature_encoding: &dyn Fn(&str) -> Option<SignatureEncoding>,
) -> Option<AppealFacts> {
    let m = &package.message;
    let mut missing = package.missing.clone();
    let cover = match &m.body {
        Body::Document { document, files } => document_cover(package, document, files),
        Body::Container(_) => {
            let c = package.container.as_ref()?;
            missing.extend(c.missing.iter().cloned());
            container_cover(package, c)
        }
        _ => return None,
    };
    let arrived = arrived(package, &cover.files, &cover.signed);
    Some(AppealFacts {
        urog_number_norm: normalize_number(&cover.number),
        urog_number: cover.number,
        urog_date: cover.date,
        urog_organization: cover.organization,
        document_uid: cover.document_uid,
        kind: cover.kind,
        annotation: cover.annotation,
        signatories: cover.signatories,
        files: cover.files,
        text_files: cover.text_files,
        signatures: signature_files(cover.signed, signature_encoding),
        classification: cover.classification,
        restricted: cover.restricted,
        destinations: m.delivery_index.iter().map(|p| p.uid.clone()).collect(),
        missing,
        format: m.format,
        arrived,
    })
}

/// A 2.x Документ: its requisites, its files (references aside), those of the text group,
/// and the detached signatures beside them (`<file>.p7s` / `<file>.sig`).
fn document_cover(package: &Package, document: &Document, files: &[AssociatedFile]) -> Cover {
    let names: Vec<String> = files
        .iter()
        .filter(|f| f.file_type.as_deref() != Some("reference"))
        .map(|f| f.local_name.clone())
        .collect();
    let text_files = files
        .iter()
        .filter(|f| f.group.as_deref() == Some(GROUP_DOCUMENT_TEXT))
        .map(|f| f.local_name.clone())
        .collect();
    let mut signed = Vec::new();
    for f in &names {
        let (p7s, sig) = (
            format!("{}.p7s", f.to_lowercase()),
            format!("{}.sig", f.to_lowercase()),
        );
        for p in package.files.iter().filter(|p| is_signature_name(&p.name)) {
            let l = p.name.to_lowercase();
            if l == p7s || l == sig {
                signed.push((f.clone(), p.name.clone()));
            }
        }
    }
    let restricted = document.classification.as_deref().is_some_and(|c| {
        let c = c.to_lowercase();
        c.contains("дсп") || c.contains("ограниченного")
    });
    Cover {
        number: document.num.number.clone(),
        date: document.num.date,
        organization: package.message.header.source.organization.clone(),
        document_uid: document.uid.clone(),
        kind: document.kind.clone(),
        annotation: document.annotation.clone(),
        signatories: document
            .signatories
            .iter()
            .filter_map(|s| s.who.person.clone())
            .collect(),
        files: names,
        text_files,
        classification: document.classification.clone(),
        restricted,
        signed,
    }
}

/// A 2.7 transport container: the passport's first author, its document (the main file) and
/// attachments, each with the signatures the passport lists.
fn container_cover(package: &Package, c: &ContainerInfo) -> Cover {
    let m = &package.message;
    let p = &c.passport;
    let author = p.authors.first();
    let main = p
        .document
        .as_ref()
        .map(|d| d.local_name.clone())
        .filter(|n| !n.is_empty());
    let mut names: Vec<String> = main.iter().cloned().collect();
    names.extend(p.attachments.iter().map(|a| a.local_name.clone()));
    let text_files = main
        .iter()
        .filter(|n| c.entry(n).is_some())
        .cloned()
        .collect();
    let mut signed: Vec<(String, String)> = Vec::new();
    if let Some(main) = &main {
        let of_main = p.document_signatures().into_iter();
        signed.extend(of_main.map(|s| (main.clone(), s.to_string())));
    }
    for a in &p.attachments {
        signed.extend(
            a.signatures
                .iter()
                .map(|s| (a.local_name.clone(), s.clone())),
        );
    }
    Cover {
        number: author
            .and_then(|a| a.registration_number.clone())
            .unwrap_or_default(),
        date: author.and_then(|a| a.registration_date),
        organization: author
            .and_then(|a| a.organization.title.clone())
            .or_else(|| m.header.source.organization.clone()),
        document_uid: p.uid.clone().unwrap_or_else(|| m.header.uid.clone()),
        kind: p.kind.text.clone(),
        annotation: p.annotation.clone(),
        signatories: p
            .authors
            .iter()
            .flat_map(|a| &a.signs)
            .filter_map(|s| s.person.name.clone())
            .collect(),
        files: names,
        text_files,
        classification: p
            .classification
            .as_ref()
            .and_then(|c| c.text.clone().or_else(|| c.id.clone())),
        restricted: p.is_restricted(),
        signed,
    }
}

/// Each (file, signature) pair as journaled: its encoding by content, `missing` when named
/// but absent; not checked yet.
fn signature_files(
    signed: Vec<(String, String)>,
    signature_encoding: &dyn Fn(&str) -> Option<SignatureEncoding>,
) -> Vec<SignatureFile> {
    signed
        .into_iter()
        .map(|(document, signature)| {
            let encoding = signature_encoding(&signature);
            SignatureFile {
                document,
                status: if encoding.is_some() {
                    SignatureCheck::NotChecked
                } else {
                    SignatureCheck::Missing
                },
                encoding: encoding.unwrap_or(SignatureEncoding::Missing),
                signer: None,
                signature,
            }
        })
        .collect()
}

/// The files a package brings: every file of the folder but the envelope (of a container that
/// was read, its entries instead of the ZIP itself), each with its role: `listed` = the
/// document's files, the main one first; `signed` = (file, its detached signature).
fn arrived(package: &Package, listed: &[String], signed: &[(String, String)]) -> Vec<ArrivedFile> {
    let role = |name: &str| {
        let is = |f: &String| f.eq_ignore_ascii_case(name);
        if listed.first().is_some_and(is) {
            FileRole::Document
        } else if listed.iter().any(is) {
            FileRole::Attachment
        } else if signed.iter().any(|(_, s)| is(s)) || is_signature_name(name) {
            FileRole::Signature
        } else {
            FileRole::Other
        }
    };
    let zip = package
        .container
        .as_ref()
        .and(package.container_file.as_deref());
    let mut out: Vec<ArrivedFile> = package
        .files
        .iter()
        .filter(|f| Some(f.name.as_str()) != zip)
        .map(|f| ArrivedFile {
            name: f.name.clone(),
            role: match f.name == package.message_file {
                true => FileRole::Message,
                false => role(&f.name),
            },
            size: f.size,
            sha256: f.sha256.clone().into(),
            container: None,
        })
        .collect();
    if let (Some(zip), Some(c)) = (zip, &package.container) {
        for e in &c.entries {
            // an entry named like a file of the folder is told apart by its container
            let taken = out.iter().any(|f| f.name.eq_ignore_ascii_case(&e.name));
            out.push(ArrivedFile {
                name: match taken {
                    true => format!("{zip}/{}", e.name),
                    false => e.name.clone(),
                },
                role: match e.name == c.passport_name {
                    true => FileRole::Passport,
                    false => role(&e.name),
                },
                size: e.size,
                sha256: e.sha256.clone().into(),
                container: Some(zip.to_string()),
            });
        }
    }
    out
}

/// The encoding of a detached signature by its first bytes: DER (`0x30`, a SEQUENCE) or
/// base64 text (PEM-less).
pub fn signature_encoding(head: &[u8]) -> SignatureEncoding {
    match head.first() {
        Some(0x30) => SignatureEncoding::Der,
        Some(_)
            if head
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=\r\n- ".contains(b)) =>
        {
            SignatureEncoding::Base64
        }
        _ => SignatureEncoding::Unknown,
    }
}

/// The automatic refusal rules, in order; the first that applies wins.
pub fn refusal(
    facts: &AppealFacts,
    our_uid: &str,
    require_signature: bool,
) -> Option<(RefusalReason, String)> {
    if !facts.destinations.is_empty()
        && !facts
            .destinations
            .iter()
            .any(|d| d.eq_ignore_ascii_case(our_uid))
    {
        return Some((
            RefusalReason::AddressingError,
            "Документ адресован другому участнику МЭДО".into(),
        ));
    }
    if facts.text_files.is_empty() {
        return Some((
            RefusalReason::NoText,
            "В сообщении нет файла с текстом документа".into(),
        ));
    }
    if let Some(first) = facts.missing.first() {
        return Some((
            RefusalReason::AttachmentMissing,
            format!("Отсутствует файл {first}"),
        ));
    }
    if require_signature
        && !facts
            .signatures
            .iter()
            .any(|s| s.status != SignatureCheck::Missing)
    {
        return Some((
            RefusalReason::NoSignature,
            "Документ не подписан электронной подписью".into(),
        ));
    }
    None
}

/// Fills a registration number template: `{seq}` (the per-year sequence; `{seq:5}` pads to 5
/// digits), `{yy}`, `{yyyy}`, `{mm}`, `{dd}`.
pub fn format_number(template: &str, seq: u64, date: Date) -> String {
    let mut out = template
        .replace("{yyyy}", &format!("{:04}", date.year()))
        .replace("{yy}", &format!("{:02}", date.year() % 100))
        .replace("{mm}", &format!("{:02}", u8::from(date.month())))
        .replace("{dd}", &format!("{:02}", date.day()));
    while let Some(start) = out.find("{seq") {
        let Some(len) = out[start..].find('}') else {
            break;
        };
        let spec = &out[start + 4..start + len];
        let width: usize = spec
            .strip_prefix(':')
            .and_then(|w| w.parse().ok())
            .unwrap_or(0);
        out.replace_range(start..=start + len, &format!("{seq:0width$}"));
    }
    out
}

/// Digits of a PIN issued now. At most `http::PIN_WRONG_TRIES` wrong tries per number per minute
/// (the HTTP API locks the number after them), guessing one of 10^10 PINs takes on average
/// 5·10^9 tries ÷ 5 a minute = 10^9 minutes, about 1,900 years.
pub const PIN_DIGITS: usize = 10;

/// The PIN for applicant status lookups: HMAC-SHA256(secret, appeal id), so it can be shown
/// again to an operator without being stored; only its hash is journaled. Ten digits.
pub fn pin(secret: &[u8], appeal: u64) -> String {
    let bytes = pin_mac(secret, &format!("pin/v2/{appeal}"));
    let n = u64::from_be_bytes(bytes[..8].try_into().expect("32 bytes")) % 10_000_000_000;
    format!("{n:010}")
}

/// The six-digit PIN issued before ten-digit ones (appeals registered earlier keep it).
fn pin_v1(secret: &[u8], appeal: u64) -> String {
    let bytes = pin_mac(secret, &format!("pin/{appeal}"));
    let n = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) % 1_000_000;
    format!("{n:06}")
}

fn pin_mac(secret: &[u8], what: &str) -> Vec<u8> {
    let mut mac =
        <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(what.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The PIN an appeal was issued: the one whose hash was journaled (six digits for appeals
/// registered before ten-digit PINs).
pub fn issued_pin(secret: &[u8], appeal: u64, journaled_hash: Option<&str>) -> String {
    let old = pin_v1(secret, appeal);
    match journaled_hash {
        Some(h) if pin_hash(appeal, &old) == h => old,
        _ => pin(secret, appeal),
    }
}

/// The stored form of a PIN: SHA-256 over the appeal id and the PIN.
pub fn pin_hash(appeal: u64, pin: &str) -> medo_model::HexDigest {
    hex::encode(Sha256::digest(format!("{appeal}:{pin}").as_bytes())).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn latin_a26_is_normalised() {
        assert_eq!(normalize_number("A26-02-1234567"), "А26-02-1234567");
        assert_eq!(normalize_number(" а26-02-1 "), "А26-02-1");
        assert_eq!(normalize_number("A27-1"), "A27-1");
        assert_eq!(normalize_number("01-02/345"), "01-02/345");
    }

    #[test]
    fn number_templates() {
        let d = date!(2027 - 01 - 05);
        assert_eq!(format_number("ОГ-{seq}/{yy}", 7, d), "ОГ-7/27");
        assert_eq!(
            format_number("{yyyy}-{mm}-{dd}/{seq:5}", 42, d),
            "2027-01-05/00042"
        );
        assert_eq!(format_number("П-{seq}", 1, d), "П-1");
    }

    #[test]
    fn pins_are_stable_ten_digits_and_stored_hashed() {
        let p = pin(b"secret", 12);
        assert_eq!(p.len(), PIN_DIGITS);
        assert_eq!(p, pin(b"secret", 12));
        assert_ne!(p, pin(b"secret", 13));
        assert_ne!(pin_hash(12, &p), p);
        assert_eq!(pin_hash(12, &p).len(), 64);
    }

    #[test]
    fn signature_encodings() {
        assert_eq!(
            signature_encoding(&[0x30, 0x82, 0x01]),
            SignatureEncoding::Der
        );
        assert_eq!(
            signature_encoding(b"MIIGaAYJKoZIhvcNAQcCoIIGWTCCBlUCAQEx\r\n"),
            SignatureEncoding::Base64
        );
        assert_eq!(
            signature_encoding(&[0xff, 0x00]),
            SignatureEncoding::Unknown
        );
    }

    #[test]
    fn pins_issued_before_keep_working_new_ones_have_ten_digits() {
        let secret = b"0123456789abcdef";
        let new = pin(secret, 7);
        assert_eq!(new.len(), PIN_DIGITS);
        assert_eq!(issued_pin(secret, 7, Some(&pin_hash(7, &new))), new);
        let old = pin_v1(secret, 7);
        assert_eq!(old.len(), 6);
        assert_eq!(issued_pin(secret, 7, Some(&pin_hash(7, &old))), old);
        assert_eq!(issued_pin(secret, 7, None), new);
    }
}
