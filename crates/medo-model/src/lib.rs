//! The typed message model: what the gateway decides and journals. [`Event`] is a journal
//! record's content (its serde form *is* the journal format: fields added later are optional
//! and left out when empty, so older lines keep their canonical bytes and still verify);
//! [`Output`] is one message we send, with [`Notice`] as its typed reading; [`Step`] a step of
//! consideration as journaled. The control-file format (`control::Command`) and the HTTP
//! request bodies (`http`) have their own types, converted into these, so changing an input
//! format never changes the hashed journal format. Pure data and the one serialisation that is
//! hashed: a [`Record`]'s canonical line and its hash ([`Record::new`]); no I/O.
//!
//! Deliberately does not know: files, the journal's segments, the store, the spool, the clock
//! (a record's time is given to it), configuration.

use serde::{Deserialize, Serialize};
use sha2::Digest;

pub use medo_wire::message::Format;
use medo_wire::message::RefusalReason;
use medo_wire::urog::ResponseItem;

#[macro_use]
pub mod kind_first;

/// What an output is — the journal's `kind` of an output (kebab-case: `receipt`,
/// `report-document`, …); the names and bytes of every kind ever written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputKind {
    /// A Квитанция: the message was (or was not) accepted.
    Receipt,
    /// «Зарегистрирован».
    Registered,
    /// «Отказано в регистрации».
    Refused,
    /// «Назначен исполнитель».
    Executor,
    /// «Исполнение» (an extension, a redirect, the course of consideration).
    Course,
    /// «Доклад направлен».
    Report,
    /// Our report as a document with its files.
    ReportDocument,
    /// Our answer to a УРОГ query (a document).
    Response,
    /// The appeal itself, sent by competence to another body over МЭДО (a document: our
    /// cover letter and the appeal's files as they arrived).
    Forwarded,
}

impl OutputKind {
    /// The journal's name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputKind::Receipt => "receipt",
            OutputKind::Registered => "registered",
            OutputKind::Refused => "refused",
            OutputKind::Executor => "executor",
            OutputKind::Course => "course",
            OutputKind::Report => "report",
            OutputKind::ReportDocument => "report-document",
            OutputKind::Response => "response",
            OutputKind::Forwarded => "forwarded",
        }
    }

    /// Our documents (not notices): they await a receipt and are sent again without one.
    pub fn is_document(self) -> bool {
        matches!(
            self,
            OutputKind::Response | OutputKind::ReportDocument | OutputKind::Forwarded
        )
    }
}

impl std::fmt::Display for OutputKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string with a meaning of its own, journaled as its text (`#[serde(transparent)]`: the
/// journal's bytes are those of the text): it reads as `&str` where text is asked for, and
/// compares with text.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        /// Shown as its text is (a list of them reads as a list of strings).
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> $name {
                $name(text)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> $name {
                $name(text.to_string())
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }
    };
}

text_id!(
    /// A package's key: SHA-256 (hex) over its files' sorted `name\0sha256` lines — what a
    /// package is, whatever its folder is called (duplicates are found by it).
    PackageKey
);

text_id!(
    /// An operator command's id (its queue file's id: time and process, or the API client's
    /// idempotency key's digest): journaled with what the command did, so a command whose id
    /// is in the journal is never carried out again.
    CommandId
);

text_id!(
    /// A message's or a document's uid (`header/@uid`, `document/@uid`, a container's
    /// passport uid): what receipts and duplicates refer to.
    MessageUid
);

text_id!(
    /// A МЭДО participant's uid (the sender of a message, a partner).
    ParticipantUid
);

text_id!(
    /// A number УРОГ gave: its cover letter's (`А26-…`), a query's, the numbers a query
    /// names (as written, or normalised — the field says which).
    UrogNumber
);

text_id!(
    /// A number we gave: a registration number (`ОГ-…`) or an outgoing one (`ОЗ-…`).
    OurNumber
);

text_id!(
    /// A body the node serves (`[[bodies]] id`, a short slug: `mo-berdsk`; `main` in a
    /// one-body configuration): in URLs, the CLI, metrics, and the journal's records of a hub.
    BodyId
);

impl BodyId {
    /// The one body of a one-body node, and of every record written before bodies.
    pub const MAIN: &'static str = "main";

    /// [`BodyId::MAIN`].
    pub fn main() -> BodyId {
        BodyId::from(BodyId::MAIN)
    }

    /// The body a record names, `main` when it names none.
    pub fn or_main(body: Option<&BodyId>) -> BodyId {
        body.cloned().unwrap_or_else(BodyId::main)
    }
}

text_id!(
    /// A SHA-256 digest as 64 lowercase hex digits: a file's (what arrived, what we send —
    /// a re-send carries the same bytes), or a PIN's keyed hash (the PIN itself is never
    /// journaled).
    HexDigest
);

/// A calendar day as the journal writes it: `YYYY-MM-DD` (a day that does not read so is
/// refused when read — every day the gateway ever journaled was written in that form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(time::Date);

impl Day {
    /// `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Day> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(text, format).ok().map(Day)
    }

    pub fn date(self) -> time::Date {
        self.0
    }
}

impl From<time::Date> for Day {
    fn from(date: time::Date) -> Day {
        Day(date)
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&medo_wire::time::format_date(self.0))
    }
}

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Day, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Day::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?}: not YYYY-MM-DD")))
    }
}

/// How an arrival was found to repeat an earlier one (the journal's words: `key`, `uid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DuplicateBy {
    /// The same package key (the same bytes).
    Key,
    /// The same header uid.
    Uid,
}

impl DuplicateBy {
    pub fn as_str(self) -> &'static str {
        match self {
            DuplicateBy::Key => "key",
            DuplicateBy::Uid => "uid",
        }
    }
}

/// Who decided a registration or a refusal (the journal's words: `auto`, `operator`); which
/// operator, if any, is journaled beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecidedBy {
    /// The gateway, by the refusal rules (`[registration] mode = "auto"`).
    Auto,
    /// An operator (the CLI, the API).
    Operator,
}

impl DecidedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            DecidedBy::Auto => "auto",
            DecidedBy::Operator => "operator",
        }
    }
}

/// One outbound message the gateway decided to send. Fields added after the first journal
/// format are optional and left out when empty, so older records keep their canonical bytes. Everything needed to write it again,
/// byte for byte, after a crash is here (the creation time included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// Outbound folder name, derived from the cause: `<kind>-<key[..16]>-<arrival>`.
    pub name: String,
    /// What we send: a receipt, a notice («Зарегистрирован», «Отказано в регистрации», a
    /// step), a response to a query, a report document.
    pub kind: OutputKind,
    /// `header/@uid` of the message we send (UUID v5 of the cause: deterministic).
    pub message_uid: MessageUid,
    /// The format it is written in (`2.2`, `2.7` or `2.7.1` in the journal).
    pub format: Format,
    /// Creation time written into the message (RFC 3339 with offset).
    pub created: String,
    pub recipient_uid: ParticipantUid,
    /// Receipts: the acknowledged header uid; notices: the document uid.
    pub about_uid: MessageUid,
    /// Receipts: accepted or not.
    pub accepted: bool,
    /// Negative receipts and refusals: why (no personal data).
    pub comment: Option<String>,
    /// Notices: the sender's document (УРОГ's cover letter): organisation, number, date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foundation: Option<NoticeRef>,
    /// «Зарегистрирован»: our registration number and date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<NoticeRef>,
    /// «Отказано в регистрации»: one of the nine official reasons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// «Исполнение»: the course text; «Назначен исполнитель»: the executor's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// «Назначен исполнитель»: the executor's post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post: Option<String>,
    /// A document of ours: the files it carries, as kept under `state_dir` (their digests
    /// journaled, so a re-send carries the same bytes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<OutFile>,
    /// A document about a ДСП appeal: restricted access in its passport.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restricted: bool,
    /// A document of ours: its kind («Доклад», «Уведомление о продлении срока рассмотрения»,
    /// «Письмо о переадресации обращения»).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_kind: Option<String>,
    /// «Исполнение»: the document of ours it refers to; an appeal forwarded: our
    /// registration of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<NoticeRef>,
    /// The body it goes out from — its uid and organisation as the source (a hub's; absent:
    /// the one body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyId>,
}

/// The certificate a document of ours was signed with, as its stamp shows it («ДОКУМЕНТ
/// ПОДПИСАН ЭЛЕКТРОННОЙ ПОДПИСЬЮ»: the serial, the owner, the validity) — journaled with the
/// signature, so a re-send draws the same stamp after the certificate was replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateFacts {
    /// Hexadecimal, upper case, as CryptoPro shows it.
    pub serial: String,
    /// Who it was issued to: the subject's common name (or the whole subject).
    pub owner: String,
    pub valid_from: Day,
    pub valid_to: Day,
}

/// Our detached signature (CMS, `.p7s`) of the main file of a document we send (`[signing]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OurSignature {
    /// Where the `.p7s` is kept, relative to `shared_dir` (`signatures/<output>.p7s`).
    pub kept: String,
    /// The `.p7s`'s digest (checked when it is packed).
    pub sha256: HexDigest,
    /// The signed file as it was signed, kept beside the signature (`signatures/<output>.<ext>`):
    /// what every send of the document carries (a PDF rendered again would differ in its
    /// font subset's names).
    pub document_kept: String,
    /// The signed file's digest.
    pub document_sha256: HexDigest,
    /// The certificate's facts for the stamp (`[signing] certificate`), when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateFacts>,
}

/// A file one of our documents carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutFile {
    /// Where it is kept, relative to `state_dir` (`answers/<appeal>/<name>`).
    pub kept: String,
    /// Its name in the package.
    pub name: String,
    pub sha256: HexDigest,
    pub pages: Option<u32>,
    pub description: String,
    /// A detached signature: the name of the file (of the same document) it signs — packed
    /// beside it as `<its package name>.p7s`, listed with it in a container's passport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signs: Option<String>,
}

/// What a file an appeal arrived with is, as the wire names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileRole {
    /// The main document: УРОГ's cover letter (the first file of `Документ`, the passport's
    /// `document`).
    Document,
    /// Any other file the document lists: the appeal itself and the applicant's files.
    Attachment,
    /// A detached signature (`.p7s`, `.sig`) of one of them.
    Signature,
    /// The communication XML.
    Message,
    /// The container's `passport.xml`.
    Passport,
    /// In the package but named by nothing.
    Other,
}

/// A file an appeal arrived with, journaled with its digest: the СЭД lists and fetches them
/// (`GET /api/v1/appeals/{id}/files/{name}`) and gets exactly the bytes that arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrivedFile {
    /// Its name in the package folder, or in the container (unique within the appeal).
    pub name: String,
    pub role: FileRole,
    pub size: u64,
    pub sha256: HexDigest,
    /// The transport container (a file of the folder) it is an entry of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// Where an appeal's file of ours is kept, relative to `state_dir`: `answers/<appeal>/<name>`
/// (the answer, the extension and redirect letters; ССТУ.РФ exports the answer from here).
pub fn kept_path(appeal: u64, name: &str) -> String {
    format!("answers/{appeal}/{name}")
}

/// An answer file as the loop read it for a decision (a PDF, checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerFile {
    /// Its name (in the package we send).
    pub name: String,
    /// The name it is kept under in `answers/<appeal>/`.
    pub kept: String,
    pub sha256: HexDigest,
    pub pages: Option<u32>,
}

/// The numbering as of a moment: the year, the last registration and the last outgoing
/// number given in it (a witness's note carries it; a recovery from the witness moves the
/// sequences past it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequences {
    pub year: i32,
    pub registered: u64,
    pub outgoing: u64,
    /// Whose numbering: a hub's body (absent: the one body, `main`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyId>,
}

/// A document reference in a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeRef {
    pub organization: Option<String>,
    pub number: String,
    /// The day of the document (`YYYY-MM-DD` in the journal).
    pub date: Option<Day>,
}

/// A detached signature's encoding, told by its first bytes (`der`, `base64`, `unknown` in
/// the journal), or `missing` when the document names it and the package lacks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureEncoding {
    /// Starts with a DER SEQUENCE (`0x30`).
    Der,
    /// PEM-less base64 text.
    Base64,
    Unknown,
    Missing,
}

impl SignatureEncoding {
    /// As the journal and `--json` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureEncoding::Der => "der",
            SignatureEncoding::Base64 => "base64",
            SignatureEncoding::Unknown => "unknown",
            SignatureEncoding::Missing => "missing",
        }
    }
}

impl std::fmt::Display for SignatureEncoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the verifier said of a signature (`verified`, `invalid`, `not checked`, `missing` in
/// the journal, the API and `--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignatureCheck {
    #[serde(rename = "verified")]
    Verified,
    #[serde(rename = "invalid")]
    Invalid,
    /// Not checked yet, or the verifier could not tell (not configured, failed to start,
    /// timed out): a later look may check it.
    #[serde(rename = "not checked")]
    NotChecked,
    /// The signature file is missing.
    #[serde(rename = "missing")]
    Missing,
}

impl SignatureCheck {
    /// As the journal, the API and `--json` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureCheck::Verified => "verified",
            SignatureCheck::Invalid => "invalid",
            SignatureCheck::NotChecked => "not checked",
            SignatureCheck::Missing => "missing",
        }
    }
}

impl std::fmt::Display for SignatureCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signature file found for a document, and what the verifier said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureFile {
    /// The signed file.
    pub document: String,
    /// The signature file.
    pub signature: String,
    pub encoding: SignatureEncoding,
    pub status: SignatureCheck,
    /// Who signed, as the verifier reports it (the first line of its output: a name or a
    /// certificate subject), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

event_with_kind_first_reader! {
/// What happened. (Event fields never reuse the record's own names: `seq`, `ts`, `prev`,
/// `kind`, `hash`.) Per-package events name the arrival (the `seq` of its `received` record)
/// and the package key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    ServiceStart {
        version: String,
    },
    ServiceStop,
    /// A folder was claimed from inbound.
    Received {
        key: PackageKey,
        /// The folder's name in inbound (transport-assigned, e.g. `54334177`).
        src: String,
        /// The folder's name under `state_dir/claimed/`.
        claim: String,
        files: u64,
        bytes: u64,
    },
    Parsed {
        arrival: u64,
        key: PackageKey,
        header_uid: MessageUid,
        header_type: String,
        format: Format,
        source_uid: ParticipantUid,
        document_uid: Option<MessageUid>,
        warnings: u64,
    },
    Duplicate {
        arrival: u64,
        key: PackageKey,
        /// The earlier arrival it repeats.
        of: u64,
        /// `key` (same bytes) or `uid` (same header uid).
        by: DuplicateBy,
    },
    Quarantined {
        arrival: u64,
        key: PackageKey,
        code: String,
        message: String,
        header_uid: Option<MessageUid>,
    },
    Decided {
        arrival: u64,
        key: PackageKey,
        outputs: Vec<Output>,
    },
    /// A hub's package for no body it serves («адресат не определён»): held for the hub's
    /// operator (`appeals assign`), nothing answered yet; the likeliest bodies suggested.
    Unrouted {
        arrival: u64,
        key: PackageKey,
        candidates: Vec<BodyId>,
    },
    /// The hub's operator said which body an unrouted package is for (`appeals assign`): it
    /// is decided now as that body's, and `outputs` carries the body's receipt.
    Assigned {
        arrival: u64,
        key: PackageKey,
        body: BodyId,
        outputs: Vec<Output>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<CommandId>,
    },
    /// The applicant was told of a status of the appeal by e-mail (`[smtp]`) — `sent` — or
    /// could not be (`reason`: no address known then). No address in the journal: the cards
    /// keep personal data out of it. `message_id` is the same on every try of this status.
    ApplicantNotified {
        appeal: u64,
        /// `registered`, `redirected`, `extended` or `answered`.
        status: String,
        message_id: String,
        sent: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A person approved a document of ours waiting for approval (`[queries]`/`[reports]
    /// approval = "operator"`): the output `name` goes out from now on.
    DocumentApproved {
        arrival: u64,
        key: PackageKey,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<CommandId>,
    },
    /// The main file of a document we send (the output `name`) was signed (`[signing]`): it
    /// is sent with `signature` from now on (re-sends too).
    DocumentSigned {
        arrival: u64,
        key: PackageKey,
        name: String,
        signature: OurSignature,
    },
    Published {
        arrival: u64,
        key: PackageKey,
        name: String,
        sha256: HexDigest,
    },
    /// The claimed folder reached its resting place (`archive/…` or `quarantine/…`).
    Archived {
        arrival: u64,
        key: PackageKey,
        dir: String,
    },
    /// A forwarded appeal was recognised (`appeal` = its arrival). Numbers only: the
    /// annotation and the applicant stay in the archived package.
    AppealReceived {
        appeal: u64,
        key: PackageKey,
        urog_number: UrogNumber,
        urog_number_norm: UrogNumber,
        urog_date: Option<Day>,
        /// The sender of the cover letter (an organisation, not a person).
        urog_organization: Option<String>,
        document_uid: MessageUid,
        source_uid: ParticipantUid,
        format: Format,
        restricted: bool,
        signatures: Vec<SignatureFile>,
        /// Why it waits for an operator (manual mode, an invalid signature, an ambiguous
        /// classification), if it does.
        held: Option<String>,
        /// Earlier appeals this one cites (a repeat appeal): registered as a new appeal, linked.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cites: Vec<u64>,
        /// The files it arrived with and their digests (absent in journals written before
        /// files were recorded: they are read from the archived package then).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<ArrivedFile>,
        /// The body it is for (a hub's; absent: the one body, `main`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<BodyId>,
        /// Redirected here from another body of the hub: that body's appeal.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        redirected_from: Option<u64>,
        /// Forwarded to us by another body over МЭДО: that body's cover letter (the `urog_*`
        /// fields are УРОГ's letter it cites; our notices to the sender cite this one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<NoticeRef>,
    },
    /// Registered under our number; `outputs` carries the «Зарегистрирован» notice.
    AppealRegistered {
        appeal: u64,
        number: OurNumber,
        year: i32,
        /// The number's place in the year's sequence (1, 2, …; never reused or skipped).
        year_seq: u64,
        date: Day,
        pin_hash: HexDigest,
        by: DecidedBy,
        outputs: Vec<Output>,
        /// An operator registered it although a refusal rule applied (`--force`): the
        /// official reason overridden, and the operator's comment.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        overrides: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
        /// Who registered it by hand (the operator's login; `api` for the HTTP API).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator: Option<String>,
        /// The operator command (its queue file's id) this event carries out: a command
        /// whose id is journaled is never applied again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<CommandId>,
    },
    /// Refused with an official reason; `outputs` carries the «Отказано в регистрации» notice.
    AppealRefused {
        appeal: u64,
        reason: RefusalReason,
        comment: Option<String>,
        by: DecidedBy,
        outputs: Vec<Output>,
        /// The operator command (its queue file's id) this event carries out: a command
        /// whose id is journaled is never applied again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<CommandId>,
        /// Who refused (the CLI's login, `api:<client>`), as registration journals it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator: Option<String>,
    },
    /// The same appeal delivered again (`appeal` = the new arrival): it gets the notice the
    /// first one got, in `outputs`.
    AppealRedelivered {
        appeal: u64,
        of: u64,
        outputs: Vec<Output>,
    },
    /// A УРОГ query answered (`arrival` = the query's arrival): the numbers it named, those we
    /// could not resolve (an operator alert), and the response in `outputs`.
    QueryAnswered {
        arrival: u64,
        key: PackageKey,
        query_number: UrogNumber,
        query_date: Option<Day>,
        requested: Vec<UrogNumber>,
        unresolved: Vec<UrogNumber>,
        outputs: Vec<Output>,
        /// Our answer's outgoing number (`[numbering] outgoing_template`), its place in the
        /// year's sequence and date; absent in journals written before outgoing numbering.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        number: Option<OurNumber>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        year: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        year_seq: Option<u64>,
        /// A later answer to the same query (`arrival` = the query's arrival), sent because
        /// an appeal it reported as not found became known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reanswer: Option<u32>,
        /// The body the query was for, which answered it from its own appeals (a hub's;
        /// absent: the one body, `main`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<BodyId>,
    },
    /// A Квитанция about one of our messages arrived (`arrival` = the receipt's arrival).
    ReceiptReceived {
        arrival: u64,
        about_uid: MessageUid,
        accepted: bool,
        comment: Option<String>,
        /// The МЭДО operator's error receipt (not the partner's): its `errorCode` and the
        /// file it names (`errorFileMessage`; how a zero-uid rejection was tied to us).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        by_operator: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_code: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_file: Option<String>,
        /// Our output (its outbound folder name) the receipt is about, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<String>,
    },
    /// Our document got no receipt in time: sent again (same message uid) as `outputs`.
    Resent {
        arrival: u64,
        message_uid: MessageUid,
        attempt: u32,
        outputs: Vec<Output>,
    },
    /// An operator put a quarantined arrival's package back into inbound (`spool retry`) as
    /// the folder `to`; it comes back as a new arrival.
    Retried {
        arrival: u64,
        to: String,
        /// The operator command (its queue file's id) this event carries out: a command
        /// whose id is journaled is never applied again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<CommandId>,
    },
    /// A step of consideration reported by the SED; `outputs` carries its notice.
    AppealProgress {
        appeal: u64,
        step: Step,
        outputs: Vec<Output>,
        /// The operator command (its queue file's id) this event carries out: a command
        /// whose id is journaled is never applied again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<CommandId>,
        /// A report sent as a document with its file: its outgoing number, the year and
        /// its place in the year's sequence (shared with answers to queries).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        number: Option<OurNumber>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        year: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        year_seq: Option<u64>,
        /// Who reported the step (the CLI's login, `api:<client>`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator: Option<String>,
    },
    /// An operator command set aside without being carried out: the process stopped while
    /// carrying it out, again and again (a file that crashes a parser), so it is never tried
    /// again — moved to `control/poisoned/` with `reason`. `about` is the appeal it named;
    /// `op` what it asked (`register`, `refuse`, `progress`, `retried`).
    CommandPoisoned {
        command: CommandId,
        op: String,
        about: String,
        reason: String,
    },
    /// An operator accepted that pieces of the state next to the journal were lost
    /// (`journal recover --accept-missing`): `missing` (`anchor`, `checkpoint-key`,
    /// `pin-key`) were made anew at this start; `comment` says why, `operator` who.
    JournalRecovered {
        missing: Vec<String>,
        comment: String,
        operator: Option<String>,
        /// After a restore (`journal recover --from-witness`): the numbering the witness saw,
        /// per year — the sequences move past it, so no number is given twice.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sequences: Vec<Sequences>,
    },
}
}

impl Event {
    /// The arrival a per-package event belongs to.
    pub fn arrival(&self) -> Option<u64> {
        match self {
            Event::Parsed { arrival, .. }
            | Event::Duplicate { arrival, .. }
            | Event::Quarantined { arrival, .. }
            | Event::Decided { arrival, .. }
            | Event::Unrouted { arrival, .. }
            | Event::Assigned { arrival, .. }
            | Event::DocumentSigned { arrival, .. }
            | Event::DocumentApproved { arrival, .. }
            | Event::Published { arrival, .. }
            | Event::Archived { arrival, .. }
            | Event::QueryAnswered { arrival, .. }
            | Event::ReceiptReceived { arrival, .. }
            | Event::Resent { arrival, .. }
            | Event::Retried { arrival, .. } => Some(*arrival),
            Event::AppealReceived { appeal, .. }
            | Event::AppealRegistered { appeal, .. }
            | Event::AppealRefused { appeal, .. }
            | Event::AppealRedelivered { appeal, .. }
            | Event::AppealProgress { appeal, .. }
            | Event::ApplicantNotified { appeal, .. } => Some(*appeal),
            _ => None,
        }
    }

    /// The `kind` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ServiceStart { .. } => "service_start",
            Event::ServiceStop => "service_stop",
            Event::Received { .. } => "received",
            Event::Parsed { .. } => "parsed",
            Event::Duplicate { .. } => "duplicate",
            Event::Quarantined { .. } => "quarantined",
            Event::Decided { .. } => "decided",
            Event::Unrouted { .. } => "unrouted",
            Event::Assigned { .. } => "assigned",
            Event::DocumentSigned { .. } => "document_signed",
            Event::DocumentApproved { .. } => "document_approved",
            Event::ApplicantNotified { .. } => "applicant_notified",
            Event::Published { .. } => "published",
            Event::Archived { .. } => "archived",
            Event::AppealReceived { .. } => "appeal_received",
            Event::AppealRegistered { .. } => "appeal_registered",
            Event::AppealRefused { .. } => "appeal_refused",
            Event::AppealRedelivered { .. } => "appeal_redelivered",
            Event::AppealProgress { .. } => "appeal_progress",
            Event::QueryAnswered { .. } => "query_answered",
            Event::ReceiptReceived { .. } => "receipt_received",
            Event::Resent { .. } => "resent",
            Event::Retried { .. } => "retried",
            Event::CommandPoisoned { .. } => "command_poisoned",
            Event::JournalRecovered { .. } => "journal_recovered",
        }
    }

    /// What people read for the kind (`spool show`, the dashboard's exchange log); the
    /// journal and `--json` keep [`Event::kind`].
    pub fn label(&self) -> &'static str {
        match self {
            Event::ServiceStart { .. } => "запуск службы",
            Event::ServiceStop => "остановка службы",
            Event::Received { .. } => "поступление",
            Event::Parsed { .. } => "разобрано",
            Event::Duplicate { .. } => "дубликат",
            Event::Quarantined { .. } => "в карантин",
            Event::Decided { .. } => "решение",
            Event::Unrouted { .. } => "адресат не определён",
            Event::Assigned { .. } => "орган назначен",
            Event::DocumentSigned { .. } => "документ подписан",
            Event::DocumentApproved { .. } => "документ утверждён",
            Event::ApplicantNotified { .. } => "заявитель уведомлён",
            Event::Published { .. } => "отправлено",
            Event::Archived { .. } => "в архиве",
            Event::AppealReceived { .. } => "обращение поступило",
            Event::AppealRegistered { .. } => "зарегистрировано",
            Event::AppealRefused { .. } => "отказано в регистрации",
            Event::AppealRedelivered { .. } => "повторная доставка",
            Event::AppealProgress { .. } => "ход рассмотрения",
            Event::QueryAnswered { .. } => "ответ на запрос",
            Event::ReceiptReceived { .. } => "квитанция получена",
            Event::Resent { .. } => "повторная отправка",
            Event::Retried { .. } => "возвращено из карантина",
            Event::CommandPoisoned { .. } => "команда отложена (сбой)",
            Event::JournalRecovered { .. } => "восстановление: утрата принята",
        }
    }

    /// The operator command this event carries out, if any.
    pub fn command(&self) -> Option<&str> {
        match self {
            Event::AppealRegistered { command, .. }
            | Event::AppealRefused { command, .. }
            | Event::AppealProgress { command, .. }
            | Event::Assigned { command, .. }
            | Event::Retried { command, .. }
            | Event::DocumentApproved { command, .. } => command.as_ref().map(CommandId::as_str),
            Event::CommandPoisoned { command, .. } => Some(command.as_str()),
            _ => None,
        }
    }

    /// Outbound messages this event asks for (published by the effects step).
    pub fn outputs(&self) -> &[Output] {
        match self {
            Event::Decided { outputs, .. }
            | Event::Assigned { outputs, .. }
            | Event::AppealRegistered { outputs, .. }
            | Event::AppealRefused { outputs, .. }
            | Event::AppealRedelivered { outputs, .. }
            | Event::AppealProgress { outputs, .. }
            | Event::QueryAnswered { outputs, .. }
            | Event::Resent { outputs, .. } => outputs,
            _ => &[],
        }
    }
}

/// A journal record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    /// UTC, RFC 3339.
    pub ts: String,
    pub prev: String,
    #[serde(flatten)]
    pub event: Event,
    pub hash: String,
}

/// `prev` of the very first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The record without its hash: what the hash covers.
#[derive(Serialize)]
struct Unsigned<'a> {
    seq: u64,
    ts: &'a str,
    prev: &'a str,
    #[serde(flatten)]
    event: &'a Event,
}

fn unsigned_bytes(seq: u64, ts: &str, prev: &str, event: &Event) -> Vec<u8> {
    serde_json::to_vec(&Unsigned {
        seq,
        ts,
        prev,
        event,
    })
    .expect("events always serialise")
}

impl Record {
    /// Builds and hashes a record.
    pub fn new(seq: u64, ts: String, prev: String, event: Event) -> Record {
        let hash = hex::encode(sha2::Sha256::digest(unsigned_bytes(
            seq, &ts, &prev, &event,
        )));
        Record {
            seq,
            ts,
            prev,
            event,
            hash,
        }
    }

    /// The canonical line (without the newline).
    pub fn line(&self) -> String {
        serde_json::to_string(self).expect("records always serialise")
    }

    /// Recomputes the hash from the content.
    pub fn computed_hash(&self) -> String {
        hex::encode(sha2::Sha256::digest(unsigned_bytes(
            self.seq,
            &self.ts,
            &self.prev,
            &self.event,
        )))
    }
}

/// Why a journaled output does not read as a notice (a journal written by another version,
/// or edited): the text says which field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    #[error("для уведомления «{0}» нужен документ отправителя")]
    NoFoundation(OutputKind),
    #[error("для уведомления «{0}» нужен наш номер")]
    NoNumber(OutputKind),
    #[error("{0:?} — не одно из девяти официальных оснований")]
    NotAReason(String),
    #[error("пункты ответа не читаются: {0}")]
    Items(String),
    #[error("в документе нет файлов")]
    NoFiles,
}

/// A step of consideration of a registered appeal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    /// «Назначен исполнитель».
    ExecutorAssigned {
        executor: String,
        post: Option<String>,
    },
    /// «Исполнение»: the term extended (once, at most 30 days past the due date).
    Extended { until: String, reason: String },
    /// «Исполнение»: redirected to the competent body; status «направлено».
    Redirected {
        to: String,
        sstu_id: Option<String>,
        number: Option<String>,
        /// Within a region's hub (`appeals redirect`): the body it went to, and its appeal
        /// there (registered anew in the same commit).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_body: Option<BodyId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        as_appeal: Option<u64>,
        /// Why, as the operator said it (`--comment`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// «Доклад направлен»: answered; status «рассмотрено».
    Answered {
        result: String,
        file: Option<String>,
    },
}

/// The results an answer may have (ССТУ.РФ statuses in brackets).
pub const RESULTS: [(&str, &str, &str); 6] = [
    ("explained", "разъяснено", "Explained"),
    ("supported", "поддержано", "Supported"),
    (
        "supported-measures",
        "поддержано, меры приняты",
        "Supported",
    ),
    ("not-supported", "не поддержано", "NotSupported"),
    ("answered", "дан ответ автору", "Answered"),
    (
        "left-without-answer",
        "оставлено без ответа автору",
        "LeftWithoutAnswer",
    ),
];

/// The label and ССТУ status of a result code.
pub fn result(code: &str) -> Option<(&'static str, &'static str)> {
    RESULTS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, label, sstu)| (*label, *sstu))
}

/// What an [`Output`] says, typed. The journal keeps the flat `Output` (its serde form is the
/// hashed format); this is its reading — checked once, so the outbox renders cases, not
/// string kinds and optional fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Квитанция about the message `about_uid`.
    Receipt {
        accepted: bool,
        comment: Option<String>,
    },
    /// «Зарегистрирован»: their document (`foundation`), our number and date.
    Registered {
        foundation: NoticeRef,
        ours: NoticeRef,
    },
    /// «Отказано в регистрации» with one of the nine official reasons.
    Refused {
        foundation: NoticeRef,
        reason: RefusalReason,
        comment: Option<String>,
    },
    /// A step of consideration reported to the sender of `foundation`.
    Progress {
        foundation: NoticeRef,
        step: ProgressNotice,
    },
    /// A report on an appeal as a document of ours (`ours`: its outgoing number), «Во
    /// исполнение» the appeal's cover letter (`foundation`), with its files.
    ReportDocument {
        foundation: NoticeRef,
        ours: NoticeRef,
        kind: String,
        text: String,
        files: Vec<OutFile>,
    },
    /// Our answer to a query (`query`), under our outgoing number.
    Response {
        query: NoticeRef,
        ours: NoticeRef,
        items: Vec<ResponseItem>,
    },
    /// The appeal sent by competence to another body (59-ФЗ ст. 8 ч. 3): our cover letter
    /// (`ours`: its outgoing number) about the appeal's letter (`foundation`, УРОГ's) as we
    /// registered it (`registered`), with the appeal's files as they arrived.
    Forwarded {
        foundation: NoticeRef,
        ours: NoticeRef,
        registered: NoticeRef,
        comment: Option<String>,
        files: Vec<OutFile>,
    },
}

/// The notice of a step of consideration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressNotice {
    /// «Назначен исполнитель».
    Executor { name: String, post: Option<String> },
    /// «Исполнение»: extension or redirect, in words; the letter of ours sent about it.
    Course {
        text: String,
        document: Option<NoticeRef>,
    },
    /// «Доклад направлен»: our registration of the appeal, the result in words.
    Report { ours: NoticeRef, text: String },
}

impl Output {
    /// The typed reading of this output, or what is missing.
    pub fn notice(&self) -> Result<Notice, NoticeError> {
        let foundation = || {
            self.foundation
                .clone()
                .ok_or(NoticeError::NoFoundation(self.kind))
        };
        let ours = || {
            self.registration
                .clone()
                .ok_or(NoticeError::NoNumber(self.kind))
        };
        let text = || self.text.clone().unwrap_or_default();
        let progress = |step| {
            Ok(Notice::Progress {
                foundation: foundation()?,
                step,
            })
        };
        match self.kind {
            OutputKind::Receipt => Ok(Notice::Receipt {
                accepted: self.accepted,
                comment: self.comment.clone(),
            }),
            OutputKind::Registered => Ok(Notice::Registered {
                foundation: foundation()?,
                ours: ours()?,
            }),
            OutputKind::Refused => {
                let reason = self.reason.as_deref().unwrap_or_default();
                Ok(Notice::Refused {
                    foundation: foundation()?,
                    reason: RefusalReason::parse(reason)
                        .ok_or_else(|| NoticeError::NotAReason(reason.to_string()))?,
                    comment: self.comment.clone(),
                })
            }
            OutputKind::Executor => progress(ProgressNotice::Executor {
                name: text(),
                post: self.post.clone(),
            }),
            OutputKind::Course => progress(ProgressNotice::Course {
                text: text(),
                document: self.document.clone(),
            }),
            OutputKind::Report => progress(ProgressNotice::Report {
                ours: ours()?,
                text: text(),
            }),
            OutputKind::ReportDocument if self.files.is_empty() => Err(NoticeError::NoFiles),
            OutputKind::ReportDocument => Ok(Notice::ReportDocument {
                foundation: foundation()?,
                ours: ours()?,
                kind: self
                    .document_kind
                    .clone()
                    .unwrap_or_else(|| "Доклад".into()),
                text: text(),
                files: self.files.clone(),
            }),
            OutputKind::Forwarded if self.files.is_empty() => Err(NoticeError::NoFiles),
            OutputKind::Forwarded => Ok(Notice::Forwarded {
                foundation: foundation()?,
                ours: ours()?,
                registered: self
                    .document
                    .clone()
                    .ok_or(NoticeError::NoNumber(self.kind))?,
                comment: self.comment.clone(),
                files: self.files.clone(),
            }),
            OutputKind::Response => Ok(Notice::Response {
                query: foundation()?,
                ours: ours()?,
                items: serde_json::from_str(self.text.as_deref().unwrap_or("[]"))
                    .map_err(|e| NoticeError::Items(e.to_string()))?,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines written before the fields added since (cites, outgoing numbers, overrides) read
    /// back and write out byte for byte: old journals still verify and fold.
    #[test]
    fn older_lines_keep_their_bytes() {
        for line in [
            r#"{"seq":7,"ts":"2026-11-23T05:00:00Z","prev":"p","kind":"query_answered","arrival":7,"key":"k","query_number":"А26-05-1","query_date":null,"requested":["А26-02-1"],"unresolved":[],"outputs":[],"hash":"h"}"#,
            r#"{"seq":3,"ts":"2026-11-23T05:00:00Z","prev":"p","kind":"appeal_received","appeal":3,"key":"k","urog_number":"А26-02-1","urog_number_norm":"А26-02-1","urog_date":null,"urog_organization":null,"document_uid":"d","source_uid":"s","format":"2.2","restricted":false,"signatures":[],"held":null,"hash":"h"}"#,
            r#"{"seq":4,"ts":"2026-11-23T05:00:00Z","prev":"p","kind":"appeal_registered","appeal":3,"number":"ОГ-1/26","year":2026,"year_seq":1,"date":"2026-11-23","pin_hash":"x","by":"auto","outputs":[],"hash":"h"}"#,
            r#"{"seq":5,"ts":"2026-11-23T05:00:00Z","prev":"p","kind":"duplicate","arrival":5,"key":"k","of":3,"by":"uid","hash":"h"}"#,
            r#"{"seq":8,"ts":"2026-11-23T05:00:00Z","prev":"p","kind":"query_answered","arrival":8,"key":"k","query_number":"А26-05-2","query_date":"2026-11-20","requested":[],"unresolved":[],"outputs":[],"hash":"h"}"#,
            r#"{"seq":9,"ts":"2026-11-23T05:00:00Z","prev":"p","kind":"appeal_received","appeal":9,"key":"k","urog_number":"А26-02-2","urog_number_norm":"А26-02-2","urog_date":"2026-11-19","urog_organization":null,"document_uid":"d","source_uid":"s","format":"2.7.1","restricted":false,"signatures":[],"held":null,"hash":"h"}"#,
            r#"{"seq":6,"ts":"2026-11-23T05:00:00Z","prev":"p","kind":"appeal_refused","appeal":3,"reason":"Отсутствует текст","comment":null,"by":"operator","outputs":[],"hash":"h"}"#,
        ] {
            let r: Record = serde_json::from_str(line).unwrap();
            assert_eq!(serde_json::to_string(&r).unwrap(), line);
        }
    }

    #[test]
    fn an_output_reads_as_its_notice_or_says_what_is_missing() {
        let mut o = Output {
            name: "n".into(),
            kind: OutputKind::Refused,
            message_uid: "u".into(),
            format: Format::V22,
            created: "2026-11-23T08:00:00+03:00".into(),
            recipient_uid: "r".into(),
            about_uid: "a".into(),
            accepted: false,
            comment: None,
            foundation: Some(NoticeRef {
                organization: None,
                number: "А26-02-1".into(),
                date: None,
            }),
            registration: None,
            reason: Some("Отсутствует текст".into()),
            text: None,
            post: None,
            files: Vec::new(),
            restricted: false,
            document_kind: None,
            document: None,
            body: None,
        };
        assert!(matches!(
            o.notice(),
            Ok(Notice::Refused {
                reason: RefusalReason::NoText,
                ..
            })
        ));
        o.reason = Some("Не нравится".into());
        assert_eq!(
            o.notice(),
            Err(NoticeError::NotAReason("Не нравится".into()))
        );
        o.kind = OutputKind::Registered;
        assert_eq!(
            o.notice(),
            Err(NoticeError::NoNumber(OutputKind::Registered))
        );
        assert_eq!(
            NoticeError::NoNumber(OutputKind::Registered).to_string(),
            "для уведомления «registered» нужен наш номер"
        );
        o.kind = OutputKind::ReportDocument;
        o.registration = o.foundation.clone();
        assert_eq!(o.notice(), Err(NoticeError::NoFiles));
    }

    /// The kind and the format are typed, their journal form the same words: every kind
    /// reads and writes back byte for byte, and a kind or format we never wrote is refused
    /// when read (not carried along as text).
    #[test]
    fn kinds_and_formats_keep_their_journal_words() {
        let kinds = [
            "receipt",
            "registered",
            "refused",
            "executor",
            "course",
            "report",
            "report-document",
            "response",
            "forwarded",
        ];
        for word in kinds {
            let json = format!("{word:?}");
            let kind: OutputKind = serde_json::from_str(&json).unwrap();
            assert_eq!(
                (serde_json::to_string(&kind).unwrap(), kind.as_str()),
                (json, word)
            );
        }
        for word in ["2.2", "2.7", "2.7.1"] {
            let json = format!("{word:?}");
            let format: Format = serde_json::from_str(&json).unwrap();
            assert_eq!(serde_json::to_string(&format).unwrap(), json);
            assert_eq!(format.version(), word);
        }
        assert!(serde_json::from_str::<OutputKind>("\"fax\"").is_err());
        for (by, word) in [(DuplicateBy::Key, "key"), (DuplicateBy::Uid, "uid")] {
            assert_eq!(serde_json::to_string(&by).unwrap(), format!("{word:?}"));
            assert_eq!(by.as_str(), word);
        }
        for (by, word) in [(DecidedBy::Auto, "auto"), (DecidedBy::Operator, "operator")] {
            assert_eq!(serde_json::to_string(&by).unwrap(), format!("{word:?}"));
            assert_eq!(by.as_str(), word);
        }
        assert!(serde_json::from_str::<DecidedBy>("\"robot\"").is_err());
        // a refusal is journaled with one of the nine official reasons, in their words
        for reason in RefusalReason::ALL {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("{:?}", reason.as_str()));
            assert_eq!(
                serde_json::from_str::<RefusalReason>(&json).unwrap(),
                reason
            );
        }
        assert!(serde_json::from_str::<RefusalReason>("\"Не нравится\"").is_err());
        // a package key is journaled as its hex text; it reads as text where text is asked
        let key: PackageKey = serde_json::from_str("\"9f86d081884c7d65\"").unwrap();
        assert_eq!(serde_json::to_string(&key).unwrap(), "\"9f86d081884c7d65\"");
        assert_eq!((&key[..4], key == "9f86d081884c7d65"), ("9f86", true));
        let seen: std::collections::HashMap<PackageKey, u64> = [(key.clone(), 7)].into();
        assert_eq!(seen.get("9f86d081884c7d65"), Some(&7));
        // a command id is journaled as its text, and found by it
        let id: CommandId = serde_json::from_str("\"k3f2a\"").unwrap();
        assert_eq!(
            (serde_json::to_string(&id).unwrap(), id.as_str()),
            ("\"k3f2a\"".into(), "k3f2a")
        );
        let done: std::collections::HashSet<CommandId> = [id].into();
        assert!(done.contains("k3f2a"));
        // a day is journaled as YYYY-MM-DD, and only that form reads
        let day: Day = serde_json::from_str("\"2026-11-23\"").unwrap();
        assert_eq!(serde_json::to_string(&day).unwrap(), "\"2026-11-23\"");
        assert_eq!(day.date(), time::macros::date!(2026 - 11 - 23));
        for other in [
            "\"23.11.2026\"",
            "\"2026-11-23T00:00:00Z\"",
            "\"2026-13-01\"",
            "\"\"",
        ] {
            assert!(serde_json::from_str::<Day>(other).is_err(), "{other}");
        }
        assert!(serde_json::from_str::<Format>("\"2.5\"").is_err());
    }
}
