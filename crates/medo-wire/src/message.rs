//! The typed model of a МЭДО communication message (xdms 2.0–2.7 and 2.7.1), shared by the
//! reader ([`super::read`]) and the writer ([`super::write`]). Plain data; builders for the
//! messages the gateway sends. Pure.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use super::time::{serialize_date, XmlDateTime};

/// Namespace of xdms 2.0 … 2.7 messages.
pub const NS_XDMS_2X: &str = "http://www.infpres.com/IEDMS";
/// Namespace of 2.7.1 messages.
pub const NS_XDMS_271: &str = "urn:IEDMS:MESSAGE";

/// The format family of a message and its declared version (serialised as the version:
/// `2.2`, `2.7`, `2.7.1` — the journal's form).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Format {
    /// xdms 2.0–2.6 (`http://www.infpres.com/IEDMS`), windows-1251, no container — the
    /// default (what a 2.x partner without a declared version writes).
    #[default]
    #[serde(rename = "2.2")]
    V22,
    /// xdms 2.7 (`http://www.infpres.com/IEDMS`) with a `http://minsvyaz.ru/container` ZIP.
    #[serde(rename = "2.7")]
    V27,
    /// 2.7.1 (`urn:IEDMS:MESSAGE`), UTF-8 `message.xml`, `deliveryIndex`.
    #[serde(rename = "2.7.1")]
    V271,
}

impl Format {
    pub fn namespace(self) -> &'static str {
        match self {
            Format::V22 | Format::V27 => NS_XDMS_2X,
            Format::V271 => NS_XDMS_271,
        }
    }

    /// The `version` attribute written for this format.
    pub fn version(self) -> &'static str {
        match self {
            Format::V22 => "2.2",
            Format::V27 => "2.7",
            Format::V271 => "2.7.1",
        }
    }

    /// The name of the communication XML file written for this format.
    pub fn message_file(self) -> &'static str {
        match self {
            Format::V22 | Format::V27 => "document.xml",
            Format::V271 => "message.xml",
        }
    }

    /// Parses `"2.2"`, `"2.7"`, `"2.7.1"` (configuration values).
    pub fn parse(text: &str) -> Option<Format> {
        match text.trim() {
            "2.0" | "2.2" | "2.5" | "2.6" => Some(Format::V22),
            "2.7" => Some(Format::V27),
            "2.7.1" => Some(Format::V271),
            _ => None,
        }
    }
}

/// `header/@type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum HeaderType {
    #[serde(rename = "Документ")]
    Document,
    #[serde(rename = "Уведомление")]
    Notification,
    #[serde(rename = "Квитанция")]
    Acknowledgment,
    #[serde(rename = "Транспортный контейнер")]
    Container,
    /// A value outside the known four, kept as written.
    Other(String),
}

impl HeaderType {
    pub fn parse(text: &str) -> HeaderType {
        match text.trim() {
            "Документ" => HeaderType::Document,
            "Уведомление" => HeaderType::Notification,
            "Квитанция" => HeaderType::Acknowledgment,
            "Транспортный контейнер" => HeaderType::Container,
            other => HeaderType::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            HeaderType::Document => "Документ",
            HeaderType::Notification => "Уведомление",
            HeaderType::Acknowledgment => "Квитанция",
            HeaderType::Container => "Транспортный контейнер",
            HeaderType::Other(s) => s,
        }
    }
}

/// A МЭДО participant: `@uid` + `organization` (`communicationPartner`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Partner {
    pub uid: String,
    pub organization: Option<String>,
    pub comment: Option<String>,
}

/// `header`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    #[serde(rename = "type")]
    pub kind: HeaderType,
    pub uid: String,
    pub created: Option<XmlDateTime>,
    pub source: Partner,
    pub operator: Option<String>,
    pub comment: Option<String>,
}

/// A whole message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub format: Format,
    /// The `version` attribute as written (`2.2`, `2.6`, `2.7`, `2.7.1`, …).
    pub version: String,
    pub header: Header,
    pub body: Body,
    /// `deliveryIndex`: the destinations (mandatory in 2.7.1, optional before).
    pub delivery_index: Vec<Partner>,
}

/// What follows the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    Document {
        document: Box<Document>,
        files: Vec<AssociatedFile>,
    },
    Notification(Box<Notification>),
    Acknowledgment(Acknowledgment),
    Container(ContainerRef),
    /// No known body element (kept so the package can still be journaled and shown).
    Unknown {
        element: Option<String>,
    },
}

/// `documentNumber`: number and date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct DocNumber {
    pub number: String,
    #[serde(serialize_with = "serialize_date")]
    pub date: Option<Date>,
}

/// `anyone`: who someone is. All parts optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Anyone {
    pub region: Option<String>,
    pub organization: Option<String>,
    pub person: Option<String>,
    pub department: Option<String>,
    pub post: Option<String>,
    pub contact_info: Option<String>,
    pub comment: Option<String>,
}

impl Anyone {
    pub fn organization(name: impl Into<String>) -> Self {
        Anyone {
            organization: Some(name.into()),
            ..Anyone::default()
        }
    }

    /// Whether any part is filled in.
    pub fn is_empty(&self) -> bool {
        [
            &self.region,
            &self.organization,
            &self.person,
            &self.department,
            &self.post,
            &self.contact_info,
        ]
        .iter()
        .all(|v| v.is_none())
    }
}

/// A `signatory`: who signed and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Signatory {
    pub who: Anyone,
    #[serde(serialize_with = "serialize_date")]
    pub signed: Option<Date>,
}

/// A `documentReference`: another document by its author and number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct DocReference {
    pub who: Anyone,
    pub num: DocNumber,
}

/// A `correspondent`: a party and its own reference number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Correspondent {
    pub who: Anyone,
    pub num: Option<DocNumber>,
}

/// An `enclosure`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Enclosure {
    pub uid: Option<String>,
    pub title: String,
    pub reference: Option<DocReference>,
    pub pages: Option<u32>,
    pub files: Vec<u32>,
    pub comment: Option<String>,
}

/// A `link` to another document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Link {
    /// `linkType` as written (`В ответ на`, `Во исполнение`, …; `Связан с` by default).
    pub link_type: String,
    /// The referenced document's number and author (from `reference`, or the number of an
    /// embedded `document`).
    pub reference: Option<DocReference>,
    /// `@uid` of an embedded linked `document`, when given.
    pub document_uid: Option<String>,
    /// Kind of an embedded linked `document`.
    pub document_kind: Option<String>,
}

/// A `clause` (пункт поручения).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Clause {
    pub designation: Option<String>,
    pub text: Option<String>,
    #[serde(serialize_with = "serialize_date")]
    pub deadline: Option<Date>,
    pub principal: Option<Anyone>,
    pub comment: Option<String>,
}

/// `document`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Document {
    pub uid: String,
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub doc_type: Option<String>,
    pub kind: Option<String>,
    pub num: DocNumber,
    pub classification: Option<String>,
    pub urgency: Option<String>,
    pub signatories: Vec<Signatory>,
    pub addressees: Vec<Anyone>,
    pub pages: Option<u32>,
    pub enclosures_pages: Option<u32>,
    pub annotation: Option<String>,
    pub enclosures: Vec<Enclosure>,
    pub correspondents: Vec<Correspondent>,
    pub links: Vec<Link>,
    pub clauses: Vec<Clause>,
    pub executor: Option<Anyone>,
    pub comment: Option<String>,
}

/// Group of a file in `files/file/group`.
pub const GROUP_DOCUMENT_TEXT: &str = "Текст документа";
pub const GROUP_ATTACHMENT_TEXT: &str = "Текст приложения";

/// A `files/file` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AssociatedFile {
    pub local_name: String,
    pub local_id: Option<u32>,
    /// `@type` as written (`pdf`, `tif`, `doc`, `txt`, `reference`, or anything else).
    pub file_type: Option<String>,
    pub group: Option<String>,
    pub description: Option<String>,
    pub pages: Option<u32>,
}

/// `notification/@type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum NotificationType {
    #[serde(rename = "Зарегистрирован")]
    Registered,
    #[serde(rename = "Отказано в регистрации")]
    Refused,
    #[serde(rename = "Назначен исполнитель")]
    ExecutorAssigned,
    #[serde(rename = "Доклад подготовлен")]
    ReportPrepared,
    #[serde(rename = "Доклад направлен")]
    ReportSent,
    #[serde(rename = "Исполнение")]
    CourseChanged,
    /// Anything else (`Опубликование`, `Государственная регистрация`, …), kept as written.
    Other(String),
}

impl NotificationType {
    pub fn parse(text: &str) -> NotificationType {
        match text.trim() {
            "Зарегистрирован" => NotificationType::Registered,
            "Отказано в регистрации" => NotificationType::Refused,
            "Назначен исполнитель" => NotificationType::ExecutorAssigned,
            "Доклад подготовлен" => NotificationType::ReportPrepared,
            "Доклад направлен" => NotificationType::ReportSent,
            "Исполнение" => NotificationType::CourseChanged,
            other => NotificationType::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            NotificationType::Registered => "Зарегистрирован",
            NotificationType::Refused => "Отказано в регистрации",
            NotificationType::ExecutorAssigned => "Назначен исполнитель",
            NotificationType::ReportPrepared => "Доклад подготовлен",
            NotificationType::ReportSent => "Доклад направлен",
            NotificationType::CourseChanged => "Исполнение",
            NotificationType::Other(s) => s,
        }
    }
}

/// The nine official reasons for refusing registration (`reasonForRejection`), serialised
/// as their official words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RefusalReason {
    #[serde(rename = "Не подлежит регистрации")]
    NotSubjectToRegistration,
    #[serde(rename = "Ошибка адресации")]
    AddressingError,
    #[serde(rename = "Не указан корреспондент")]
    NoCorrespondent,
    #[serde(rename = "Нет искового заявления")]
    NoStatementOfClaim,
    #[serde(rename = "Отсутствует текст")]
    NoText,
    #[serde(rename = "Нет подписи")]
    NoSignature,
    #[serde(rename = "Приложение отсутствует")]
    AttachmentMissing,
    #[serde(rename = "Листаж приложения указан ошибочно")]
    WrongAttachmentPages,
    #[serde(rename = "Несовпадение реквизитов приложения с приложенными документами")]
    AttachmentMismatch,
}

impl RefusalReason {
    pub const ALL: [RefusalReason; 9] = [
        RefusalReason::NotSubjectToRegistration,
        RefusalReason::AddressingError,
        RefusalReason::NoCorrespondent,
        RefusalReason::NoStatementOfClaim,
        RefusalReason::NoText,
        RefusalReason::NoSignature,
        RefusalReason::AttachmentMissing,
        RefusalReason::WrongAttachmentPages,
        RefusalReason::AttachmentMismatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::NotSubjectToRegistration => "Не подлежит регистрации",
            RefusalReason::AddressingError => "Ошибка адресации",
            RefusalReason::NoCorrespondent => "Не указан корреспондент",
            RefusalReason::NoStatementOfClaim => "Нет искового заявления",
            RefusalReason::NoText => "Отсутствует текст",
            RefusalReason::NoSignature => "Нет подписи",
            RefusalReason::AttachmentMissing => "Приложение отсутствует",
            RefusalReason::WrongAttachmentPages => "Листаж приложения указан ошибочно",
            RefusalReason::AttachmentMismatch => {
                "Несовпадение реквизитов приложения с приложенными документами"
            }
        }
    }

    /// Matches the official text exactly (after trimming and collapsing spaces).
    pub fn parse(text: &str) -> Option<RefusalReason> {
        let norm = text.split_whitespace().collect::<Vec<_>>().join(" ");
        RefusalReason::ALL.into_iter().find(|r| r.as_str() == norm)
    }
}

impl std::fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The type-specific part of a notification. (Variants differ in size; the whole
/// [`Notification`] is boxed inside [`Body`], so the enum stays unboxed here.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "element", rename_all = "camelCase")]
pub enum NotificationDetail {
    /// `documentAccepted/num`: the recipient's registration number and date.
    DocumentAccepted {
        num: DocNumber,
    },
    /// `documentRefused/reason`: an official reason, or the text as written when it is not one.
    DocumentRefused {
        reason: Option<RefusalReason>,
        reason_text: String,
    },
    ExecutorAssigned {
        secretary: Anyone,
        manager: Anyone,
        executor: Anyone,
    },
    ReportPrepared {
        signatory: Signatory,
    },
    ReportSent {
        report: DocReference,
    },
    CourseChanged {
        course_text: String,
        reference: Option<DocReference>,
    },
    /// A child element this reader does not model (`documentPublished`, …), kept by name.
    Unknown {
        name: String,
    },
}

/// `notification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    #[serde(rename = "type")]
    pub kind: NotificationType,
    /// The GUID of the document (or message) the notification is about.
    pub uid: String,
    pub id: Option<String>,
    pub time: Option<XmlDateTime>,
    pub foundation: Option<DocReference>,
    pub correspondent: Option<Anyone>,
    pub detail: NotificationDetail,
    pub comment: Option<String>,
}

/// `acknowledgment` (Квитанция).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acknowledgment {
    /// `header/@uid` of the acknowledged message.
    pub uid: String,
    pub time: Option<XmlDateTime>,
    pub accepted: bool,
    pub comment: Option<String>,
    /// `@content`: what the receipt is about, in words — the МЭДО operator writes
    /// `MEDOErrorAcknowledgment` on its error receipts.
    pub content: Option<String>,
    /// `errorCode`: the МЭДО operator's error code (e.g. 248) on a message it could not deliver.
    pub error_code: Option<String>,
    /// `errorFileMessage`: the file the МЭДО operator rejected (ties a zero-uid error receipt
    /// to our message).
    pub error_file: Option<String>,
}

/// The `@content` of the МЭДО operator's error receipts.
pub const MEDO_ERROR_CONTENT: &str = "MEDOErrorAcknowledgment";

impl Acknowledgment {
    /// The МЭДО operator's error receipt (not a partner's answer): marked by `@content`, or
    /// carrying an `errorCode`.
    pub fn is_operator_error(&self) -> bool {
        self.error_code.is_some()
            || self
                .content
                .as_deref()
                .is_some_and(|c| c.trim().eq_ignore_ascii_case(MEDO_ERROR_CONTENT))
    }
}

/// `container` (2.7+): the ZIP next to the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ContainerRef {
    /// `@type`, by default «Документ в электронном виде».
    pub container_type: Option<String>,
    /// File name of the ZIP.
    pub body: String,
    /// Optional container-level signature file.
    pub signature: Option<String>,
}

/// Who we are, as written in the messages we send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub uid: String,
    pub organization: String,
}

impl Sender {
    pub fn partner(&self) -> Partner {
        Partner {
            uid: self.uid.clone(),
            organization: Some(self.organization.clone()),
            comment: None,
        }
    }
}

/// What every outgoing message needs: format, our identity, the recipient, a fresh message
/// uid (deterministic in the caller's hands) and the creation time.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub format: Format,
    pub uid: String,
    pub created: OffsetDateTime,
    pub sender: Sender,
    pub recipient: Partner,
}

impl Outgoing {
    fn message(&self, kind: HeaderType, body: Body) -> Message {
        Message {
            format: self.format,
            version: self.format.version().to_string(),
            header: Header {
                kind,
                uid: self.uid.to_lowercase(),
                created: Some(XmlDateTime::from_offset(self.created)),
                source: self.sender.partner(),
                operator: None,
                comment: None,
            },
            body,
            delivery_index: match self.format {
                Format::V271 => vec![self.recipient.clone()],
                Format::V22 | Format::V27 => Vec::new(),
            },
        }
    }

    /// A Квитанция for the message with header uid `acknowledged`.
    pub fn receipt(&self, acknowledged: &str, accepted: bool, comment: Option<String>) -> Message {
        let ack = Acknowledgment {
            uid: acknowledged.to_lowercase(),
            time: Some(XmlDateTime::from_offset(self.created)),
            accepted,
            comment,
            content: None,
            error_code: None,
            error_file: None,
        };
        self.message(HeaderType::Acknowledgment, Body::Acknowledgment(ack))
    }

    /// A notification about document `about_uid`, which the sender registered as `foundation`.
    pub fn notification(
        &self,
        about_uid: &str,
        foundation: DocReference,
        detail: NotificationDetail,
        comment: Option<String>,
    ) -> Message {
        let kind = match &detail {
            NotificationDetail::DocumentAccepted { .. } => NotificationType::Registered,
            NotificationDetail::DocumentRefused { .. } => NotificationType::Refused,
            NotificationDetail::ExecutorAssigned { .. } => NotificationType::ExecutorAssigned,
            NotificationDetail::ReportPrepared { .. } => NotificationType::ReportPrepared,
            NotificationDetail::ReportSent { .. } => NotificationType::ReportSent,
            NotificationDetail::CourseChanged { .. } => NotificationType::CourseChanged,
            NotificationDetail::Unknown { name } => NotificationType::Other(name.clone()),
        };
        let notification = Notification {
            kind,
            uid: about_uid.to_lowercase(),
            id: None,
            time: Some(XmlDateTime::from_offset(self.created)),
            foundation: Some(foundation),
            correspondent: Some(Anyone::organization(self.sender.organization.clone())),
            detail,
            comment,
        };
        self.message(
            HeaderType::Notification,
            Body::Notification(Box::new(notification)),
        )
    }

    /// «Зарегистрирован» with our registration number and date.
    pub fn registered(
        &self,
        about_uid: &str,
        foundation: DocReference,
        ours: DocNumber,
    ) -> Message {
        self.notification(
            about_uid,
            foundation,
            NotificationDetail::DocumentAccepted { num: ours },
            None,
        )
    }

    /// «Отказано в регистрации» with one of the nine reasons and an optional comment.
    pub fn refused(
        &self,
        about_uid: &str,
        foundation: DocReference,
        reason: RefusalReason,
        comment: Option<String>,
    ) -> Message {
        let detail = NotificationDetail::DocumentRefused {
            reason: Some(reason),
            reason_text: reason.as_str().to_string(),
        };
        self.notification(about_uid, foundation, detail, comment)
    }

    /// A Документ with its files (2.2 style, or a 2.7.1 message of type Документ).
    pub fn document(&self, document: Document, files: Vec<AssociatedFile>) -> Message {
        let body = Body::Document {
            document: Box::new(document),
            files,
        };
        self.message(HeaderType::Document, body)
    }

    /// A Транспортный контейнер message pointing at the ZIP `body`.
    pub fn container(&self, container: ContainerRef) -> Message {
        self.message(HeaderType::Container, Body::Container(container))
    }
}

impl Message {
    /// The document uid the message is about, when it carries a document.
    pub fn document(&self) -> Option<&Document> {
        match &self.body {
            Body::Document { document, .. } => Some(document),
            _ => None,
        }
    }
}
