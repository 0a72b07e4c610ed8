//! What the decision core reads of the configuration: our identity, the registration mode and
//! number templates, the partners and their reply formats, how our documents are described,
//! the calendar and the zone. The configuration reader (the binary's `config`) validates
//! the file and builds this; the core never sees the rest (folders, HTTP, audit, limits).

use medo_wire::message::{Format, Sender};

use crate::deadlines::Calendar;

/// The policy the core decides by: the fields of one body (`sender`, `mode`, the templates,
/// `documents` — those of the body in force, see [`Policy::for_body`]) and the node's.
#[derive(Debug, Clone)]
pub struct Policy {
    pub sender: Sender,
    pub mode: RegistrationMode,
    pub number_template: String,
    /// Numbers of the documents we originate (answers to УРОГ queries): `[numbering]
    /// outgoing_template`, default `"ОЗ-{seq}/{yy}"`, a sequence per year like registrations.
    pub outgoing_template: String,
    /// How our documents are described in a container's passport.
    pub documents: DocumentsConfig,
    pub partners: Vec<PartnerConfig>,
    /// Partner roles whose documents are forwarded appeals (default `["urog"]`).
    pub appeal_roles: Vec<String>,
    /// Document kinds that are УРОГ queries, not appeals (default `["Запрос", "Запрос
    /// информации"]`); a link of one of these types (or to a document of one of these kinds)
    /// makes a query too.
    pub query_kinds: Vec<String>,
    /// Refuse («Нет подписи») appeals that carry no signature.
    pub require_signature: bool,
    /// How 59-ФЗ days are counted, and the holidays.
    pub calendar: Calendar,
    /// Whether inbound notifications (Уведомление) get a Квитанция too.
    pub acknowledge_notifications: bool,
    /// The offset written into the date-times of our messages (default +03:00, Moscow).
    pub utc_offset: time::UtcOffset,
    /// The bodies the node serves, in the configuration's order (one-body: the `[gateway]`
    /// one, id `main`). Never empty. Shared: each body's policy ([`Policy::for_body`]) holds
    /// the same list, not a copy (a hub of 1,000 bodies would otherwise hold a million).
    pub bodies: std::sync::Arc<[Body]>,
    /// Whether `[[bodies]]` is configured (a region's hub): a package that names no body is
    /// held for the hub operator, and the body shows in metrics' labels.
    pub hub: bool,
}

/// One body the node serves: its identity in МЭДО, its registration and outgoing
/// sequences, its mode, how its documents are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub id: medo_model::BodyId,
    /// Its МЭДО participant uid (lower case) and organisation, as written into our messages.
    pub sender: Sender,
    /// Other spellings of its name seen in addressees.
    pub aliases: Vec<String>,
    /// Its own VipNet address in `[АДРЕСАТЫ]`, when it has one.
    pub transport_address: Option<String>,
    pub mode: RegistrationMode,
    pub number_template: String,
    pub outgoing_template: String,
    /// The node's `[documents]` with the body's signer and executor over them.
    pub documents: DocumentsConfig,
    /// Its id in the ССТУ.РФ directory.
    pub sstu_department_id: Option<String>,
    /// Its name and aliases as routing compares them, normalised once (see
    /// [`Body::normalized_names`]; empty until first asked).
    pub normalized: std::sync::OnceLock<Vec<String>>,
}

impl Body {
    /// Its name and aliases as routing compares them ([`crate::route::normalize_name`]),
    /// computed the first time they are asked for (a hub of 489 bodies would otherwise
    /// normalise ~1,000 names for every package it routes by name).
    pub fn normalized_names(&self) -> &[String] {
        self.normalized.get_or_init(|| {
            std::iter::once(&self.sender.organization)
                .chain(&self.aliases)
                .map(|n| crate::route::normalize_name(n))
                .collect()
        })
    }

    /// The one body of a one-body node (`[gateway]`): id `main`, the policy's own fields.
    pub fn main_of(policy: &Policy) -> Body {
        Body {
            id: "main".into(),
            sender: policy.sender.clone(),
            aliases: Vec::new(),
            transport_address: None,
            mode: policy.mode,
            number_template: policy.number_template.clone(),
            outgoing_template: policy.outgoing_template.clone(),
            documents: policy.documents.clone(),
            sstu_department_id: None,
            normalized: Default::default(),
        }
    }
}

impl Policy {
    /// The place of the body with this id among the bodies (a list of each body's policies
    /// follows the same order).
    pub fn position(&self, id: &str) -> Option<usize> {
        self.bodies.iter().position(|b| b.id == id)
    }

    /// The body with this id.
    pub fn body(&self, id: &str) -> Option<&Body> {
        self.bodies.iter().find(|b| b.id == id)
    }

    /// The body whose fields are in force (the one [`Policy::for_body`] chose; else the
    /// first).
    pub fn body_in_force(&self) -> &Body {
        self.body_by_uid(&self.sender.uid)
            .unwrap_or_else(|| self.bodies.first().expect("a policy has a body"))
    }

    /// The body with this МЭДО participant uid.
    pub fn body_by_uid(&self, uid: &str) -> Option<&Body> {
        self.bodies
            .iter()
            .find(|b| b.sender.uid.eq_ignore_ascii_case(uid))
    }

    /// This policy with `body`'s fields in force (its uid and organisation as the sender,
    /// its mode, templates and documents); `None` for a body the node does not serve.
    pub fn for_body(&self, id: &str) -> Option<Policy> {
        let body = self.body(id)?;
        Some(Policy {
            sender: body.sender.clone(),
            mode: body.mode,
            number_template: body.number_template.clone(),
            outgoing_template: body.outgoing_template.clone(),
            documents: body.documents.clone(),
            ..self.clone()
        })
    }

    /// Whether documents from the partner with this uid are forwarded appeals: its role is
    /// one of `appeal_roles`, or `body` (another body redirecting an appeal to us by
    /// competence, 59-ФЗ ст. 8 ч. 3).
    pub fn sends_appeals(&self, uid: &str) -> bool {
        self.partner(uid)
            .is_some_and(|p| p.role == "body" || self.appeal_roles.contains(&p.role))
    }

    /// The partner with this МЭДО uid.
    pub fn partner(&self, uid: &str) -> Option<&PartnerConfig> {
        self.partners
            .iter()
            .find(|p| p.uid.eq_ignore_ascii_case(uid))
    }
}

/// How our own documents are described in a transport container's passport (`[documents]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DocumentsConfig {
    /// Who signs our documents (`author/sign/person`): post and name.
    pub signer_post: Option<String>,
    pub signer_name: Option<String>,
    /// The executor (`author/executor`): who prepared the document, and a phone.
    pub executor_name: Option<String>,
    pub executor_phone: Option<String>,
    /// `requisites/documentPlace` (e.g. «г. Москва»).
    pub place: Option<String>,
    /// The letterhead under the body's name: its address and contacts (phone, e-mail, site).
    pub address: Option<String>,
    pub contacts: Option<String>,
    /// `documentKind/@id` of a kind not listed in `kind_ids` (Tessa's default `DK00000000`).
    pub kind_id: String,
    /// `documentKind/@id` per kind («Ответ на запрос» = "DK…").
    pub kind_ids: std::collections::BTreeMap<String, String>,
}

impl DocumentsConfig {
    /// The directory code of a document kind.
    pub fn kind_id(&self, kind: &str) -> &str {
        self.kind_ids.get(kind).unwrap_or(&self.kind_id)
    }
}

/// Reply format for a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyFormat {
    Fixed(Format),
    /// Answer in the format the partner wrote in.
    Mirror,
}

/// Registration mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationMode {
    Auto,
    Manual,
}

/// A known МЭДО partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerConfig {
    pub name: String,
    pub uid: String,
    pub transport_address: String,
    pub role: String,
    pub format: ReplyFormat,
    /// Who may sign for this partner (names or certificate subjects, matched as parts of the
    /// signer the verifier reports, ignoring case); empty: not checked.
    pub signer_names: Vec<String>,
}
