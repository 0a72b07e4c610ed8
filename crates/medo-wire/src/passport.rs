//! The transport container's description file (`passport.xml`): 2.7 namespace
//! `http://minsvyaz.ru/container`, 2.7.1 `urn:IEDMS:CONTAINER`. Model, reader and writer. Pure.

use serde::Serialize;
use time::Date;

use super::error::WireErrorKind;
use super::limits::Limits;
use super::read::{decode_xml_bounded, normalize_guid, xml_tree};
use super::time::{format_date, parse_date, serialize_date};
use super::xml::{Element, XmlWriter};

pub const NS_CONTAINER_27: &str = "http://minsvyaz.ru/container";
pub const NS_CONTAINER_271: &str = "urn:IEDMS:CONTAINER";
/// Classification code of «Информация ограниченного распространения» (ДСП).
pub const CLASSIFICATION_RESTRICTED: &str = "DC00000001";
/// Classification code of «Обычная информация».
pub const CLASSIFICATION_ORDINARY: &str = "DC00000000";

/// Which passport namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PassportFormat {
    #[serde(rename = "2.7")]
    V27,
    #[serde(rename = "2.7.1")]
    V271,
}

impl PassportFormat {
    pub fn namespace(self) -> &'static str {
        match self {
            PassportFormat::V27 => NS_CONTAINER_27,
            PassportFormat::V271 => NS_CONTAINER_271,
        }
    }
}

/// A text with an optional code (`<c:documentKind c:id="DK00000035">…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Coded {
    pub id: Option<String>,
    pub text: Option<String>,
}

/// A stamp image and where it goes (mm from the top-left corner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Stamp {
    pub local_name: String,
    pub page: Option<u32>,
    pub x: Option<u32>,
    pub y: Option<u32>,
    pub w: Option<u32>,
    pub h: Option<u32>,
}

/// A person in the passport (signer, executor, addressee person).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Person {
    pub id: Option<String>,
    pub post: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// An organisation in the passport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Organization {
    pub id: Option<String>,
    pub title: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// A signature of the main document and its stamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct DocumentSignature {
    pub local_name: String,
    /// `Утверждающая`, `Согласующая`, `Заверяющая`, …
    pub signature_type: Option<String>,
    pub stamp: Option<Stamp>,
}

/// A `sign`: a person and the signatures they made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Sign {
    pub person: Person,
    pub signatures: Vec<DocumentSignature>,
}

/// An `author`: organisation, its registration of the document, signers, executor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Author {
    pub organization: Organization,
    pub registration_number: Option<String>,
    #[serde(serialize_with = "serialize_date")]
    pub registration_date: Option<Date>,
    pub registration_stamp: Option<Stamp>,
    pub signs: Vec<Sign>,
    pub executor: Option<Person>,
}

/// An `addressee`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PassportAddressee {
    pub organization: Organization,
    pub person: Option<Person>,
}

/// The main document (`c:document`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct MainDocument {
    pub local_name: String,
    pub pages: Option<u32>,
    pub enclosure_pages: Option<u32>,
    pub description: Option<String>,
}

/// An attachment and its signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Attachment {
    pub local_name: String,
    pub order: Option<u32>,
    pub description: Option<String>,
    pub signatures: Vec<String>,
}

/// A link to another document (`requisites/links/link`): the document this one answers
/// («В ответ на») or carries out («Во исполнение»), by its uid and its author's registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PassportLink {
    pub uid: Option<String>,
    /// `@type`: «В ответ на», «Во исполнение», … (the 2.x `linkType` values).
    pub link_type: Option<String>,
    pub organization: Option<String>,
    pub number: Option<String>,
    #[serde(serialize_with = "serialize_date")]
    pub date: Option<Date>,
}

/// A parsed passport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Passport {
    pub format: PassportFormat,
    pub uid: Option<String>,
    pub version: Option<String>,
    pub kind: Coded,
    pub place: Option<Coded>,
    pub classification: Option<Coded>,
    pub annotation: Option<String>,
    pub links: Vec<PassportLink>,
    pub authors: Vec<Author>,
    pub addressees: Vec<PassportAddressee>,
    pub document: Option<MainDocument>,
    pub attachments: Vec<Attachment>,
}

impl Passport {
    /// ДСП: restricted by classification code or text («ограниченного распространения», «ДСП»).
    pub fn is_restricted(&self) -> bool {
        let Some(c) = &self.classification else {
            return false;
        };
        if c.id.as_deref() == Some(CLASSIFICATION_RESTRICTED) {
            return true;
        }
        let text = c.text.as_deref().unwrap_or("").to_lowercase();
        text.contains("ограниченного")
            || text.contains("дсп")
            || text.contains("служебного пользования")
    }

    /// Every file the passport names (document, stamps, signatures, attachments).
    pub fn referenced_files(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        if let Some(d) = &self.document {
            names.push(&d.local_name);
        }
        for a in &self.authors {
            if let Some(s) = &a.registration_stamp {
                names.push(&s.local_name);
            }
            for sign in &a.signs {
                for sig in &sign.signatures {
                    names.push(&sig.local_name);
                    if let Some(s) = &sig.stamp {
                        names.push(&s.local_name);
                    }
                }
            }
        }
        for a in &self.attachments {
            names.push(&a.local_name);
            names.extend(a.signatures.iter().map(String::as_str));
        }
        names.retain(|n| !n.is_empty());
        names
    }

    /// The signature files of the main document.
    pub fn document_signatures(&self) -> Vec<&str> {
        self.authors
            .iter()
            .flat_map(|a| &a.signs)
            .flat_map(|s| &s.signatures)
            .map(|s| s.local_name.as_str())
            .collect()
    }
}

fn number(e: &Element, name: &str) -> Option<u32> {
    e.child_text(name).and_then(|t| t.parse().ok())
}

fn coded(e: &Element) -> Coded {
    Coded {
        id: e.attr_text("id"),
        text: e
            .trimmed_text()
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" ")),
    }
}

fn stamp(e: &Element) -> Stamp {
    let pos = e.child("position");
    let get = |outer: &str, inner: &str| {
        pos.and_then(|p| p.child(outer))
            .and_then(|o| o.child_text(inner))
            .and_then(|t| t.parse().ok())
    };
    Stamp {
        local_name: e.attr_text("localName").unwrap_or_default(),
        page: pos.and_then(|p| number(p, "page")),
        x: get("topLeft", "x"),
        y: get("topLeft", "y"),
        w: get("dimension", "w"),
        h: get("dimension", "h"),
    }
}

fn person(e: &Element) -> Person {
    Person {
        id: e.attr_text("id"),
        post: e.child_text("post"),
        name: e.child_text("name"),
        phone: e.child_text("phone"),
        email: e.child_text("email"),
    }
}

fn organization(e: &Element) -> Organization {
    Organization {
        id: e.attr_text("id"),
        title: e.child_text("title"),
        address: e.child_text("address"),
        phone: e.child_text("phone"),
        email: e.child_text("email"),
    }
}

fn author(e: &Element) -> Author {
    let reg = e.child("registration");
    Author {
        organization: e
            .child("organization")
            .map(organization)
            .unwrap_or_default(),
        registration_number: reg.and_then(|r| r.child_text("number")),
        registration_date: reg
            .and_then(|r| r.child_text("date"))
            .and_then(|d| parse_date(&d)),
        registration_stamp: reg.and_then(|r| r.child("registrationStamp")).map(stamp),
        signs: e
            .children_named("sign")
            .map(|s| Sign {
                person: s.child("person").map(person).unwrap_or_default(),
                signatures: s
                    .children_named("documentSignature")
                    .map(|d| DocumentSignature {
                        local_name: d.attr_text("localName").unwrap_or_default(),
                        signature_type: d.attr_text("type"),
                        stamp: d.child("signatureStamp").map(stamp),
                    })
                    .collect(),
            })
            .collect(),
        executor: e.child("executor").map(person),
    }
}

fn link(e: &Element) -> PassportLink {
    let reg = e.child("registration");
    PassportLink {
        uid: e.attr_text("uid").map(|u| u.to_lowercase()),
        link_type: e.attr_text("type"),
        organization: e.child("organization").and_then(|o| o.child_text("title")),
        number: reg.and_then(|r| r.child_text("number")),
        date: reg
            .and_then(|r| r.child_text("date"))
            .and_then(|d| parse_date(&d)),
    }
}

/// Decodes and parses a passport's bytes: the passport and warnings for the operator.
pub fn parse_passport(
    bytes: &[u8],
    limits: &Limits,
) -> Result<(Passport, Vec<String>), WireErrorKind> {
    let decoded = decode_xml_bounded(bytes, limits.max_passport_bytes)?;
    let root = xml_tree(&decoded.text, limits)?;
    let mut warnings = decoded.warnings;
    let passport = passport_from_tree(&root, &mut warnings)?;
    Ok((passport, warnings))
}

/// Reads a passport from its XML tree.
pub fn passport_from_tree(
    root: &Element,
    warnings: &mut Vec<String>,
) -> Result<Passport, WireErrorKind> {
    let format = match (&*root.name, root.ns.as_deref()) {
        ("container", Some(NS_CONTAINER_27)) => PassportFormat::V27,
        ("container", Some(NS_CONTAINER_271)) => PassportFormat::V271,
        (name, ns) => {
            return Err(WireErrorKind::NotMedo(format!(
                "passport root <{name}> in namespace {:?}",
                ns.unwrap_or("(none)")
            )))
        }
    };
    let req = root.child("requisites");
    let kind = req
        .and_then(|r| r.child("documentKind"))
        .map(coded)
        .unwrap_or_default();
    if kind.text.is_none() {
        warnings.push("passport without requisites/documentKind".into());
    }
    let document = root.child("document").map(|d| MainDocument {
        local_name: d.attr_text("localName").unwrap_or_default(),
        pages: number(d, "pagesQuantity"),
        enclosure_pages: number(d, "enclosurePagesQuantity"),
        description: d.child_text("description"),
    });
    if document.as_ref().is_none_or(|d| d.local_name.is_empty()) {
        warnings.push("passport names no main document".into());
    }
    Ok(Passport {
        format,
        uid: root
            .attr_text("uid")
            .map(|u| normalize_guid(&u, "container/@uid", warnings)),
        version: root.attr_text("version"),
        kind,
        place: req.and_then(|r| r.child("documentPlace")).map(coded),
        classification: req.and_then(|r| r.child("classification")).map(coded),
        annotation: req.and_then(|r| r.child_text("annotation")),
        links: req
            .and_then(|r| r.child("links"))
            .map(|l| l.children_named("link").map(link).collect())
            .unwrap_or_default(),
        authors: root
            .child("authors")
            .map(|a| a.children_named("author").map(author).collect())
            .unwrap_or_default(),
        addressees: root
            .child("addressees")
            .map(|a| {
                a.children_named("addressee")
                    .map(|x| PassportAddressee {
                        organization: x
                            .child("organization")
                            .map(organization)
                            .unwrap_or_default(),
                        person: x.child("person").map(person),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        document,
        attachments: root
            .child("attachments")
            .map(|a| {
                a.children_named("attachment")
                    .map(|x| Attachment {
                        local_name: x.attr_text("localName").unwrap_or_default(),
                        order: number(x, "order"),
                        description: x.child_text("description"),
                        signatures: x
                            .children_named("signature")
                            .filter_map(|s| s.attr_text("localName"))
                            .collect(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

const PREFIX: &str = "c";

fn write_coded(w: &mut XmlWriter, name: &str, c: &Coded) {
    w.leaf_with(
        name,
        &[("id", c.id.as_deref().unwrap_or(""))],
        c.text.as_deref().unwrap_or(""),
    );
}

fn write_stamp(w: &mut XmlWriter, name: &str, s: &Stamp) {
    w.open(name, &[("localName", &s.local_name)]);
    if s.page.is_some() {
        w.open("position", &[]);
        opt_num(w, "page", s.page);
        if s.x.is_some() || s.y.is_some() {
            w.open("topLeft", &[]);
            opt_num(w, "x", s.x);
            opt_num(w, "y", s.y);
            w.close();
        }
        if s.w.is_some() || s.h.is_some() {
            w.open("dimension", &[]);
            opt_num(w, "w", s.w);
            opt_num(w, "h", s.h);
            w.close();
        }
        w.close();
    }
    w.close();
}

fn opt_num(w: &mut XmlWriter, name: &str, n: Option<u32>) {
    if let Some(n) = n {
        w.leaf(name, &n.to_string());
    }
}

fn write_person(w: &mut XmlWriter, name: &str, p: &Person) {
    w.open(name, &[("id", p.id.as_deref().unwrap_or(""))]);
    w.opt("post", p.post.as_deref());
    w.opt("name", p.name.as_deref());
    w.opt("phone", p.phone.as_deref());
    w.opt("email", p.email.as_deref());
    w.close();
}

fn write_org(w: &mut XmlWriter, o: &Organization) {
    w.open("organization", &[("id", o.id.as_deref().unwrap_or(""))]);
    w.opt("title", o.title.as_deref());
    w.opt("address", o.address.as_deref());
    w.opt("phone", o.phone.as_deref());
    w.opt("email", o.email.as_deref());
    w.close();
}

fn write_link(w: &mut XmlWriter, l: &PassportLink) {
    let uid = l.uid.as_deref().unwrap_or("").to_lowercase();
    let kind = l.link_type.as_deref().unwrap_or("");
    w.open("link", &[("uid", &uid), ("type", kind)]);
    if let Some(title) = &l.organization {
        w.open("organization", &[]);
        w.leaf("title", title);
        w.close();
    }
    if let Some(number) = &l.number {
        w.open("registration", &[]);
        w.leaf("number", number);
        if let Some(d) = l.date {
            w.leaf("date", &format_date(d));
        }
        w.close();
    }
    w.close();
}

/// Writes a passport as UTF-8 XML.
pub fn write_passport(p: &Passport) -> Result<Vec<u8>, WireErrorKind> {
    let doc = p
        .document
        .as_ref()
        .filter(|d| !d.local_name.trim().is_empty())
        .ok_or_else(|| WireErrorKind::Write("passport needs a main document".into()))?;
    if p.kind.text.as_deref().is_none_or(|t| t.trim().is_empty()) || p.authors.is_empty() {
        return Err(WireErrorKind::Write(
            "passport needs a document kind and an author".into(),
        ));
    }
    let version = p.version.clone().unwrap_or_else(|| match p.format {
        PassportFormat::V27 => "1.0".into(),
        PassportFormat::V271 => "2.7.1".into(),
    });
    let uid = p.uid.as_deref().unwrap_or("").to_lowercase();
    let mut w = XmlWriter::new(PREFIX, "UTF-8", "\n");
    w.root(
        "container",
        p.format.namespace(),
        &[("uid", &uid), ("version", &version)],
    );
    write_requisites(&mut w, p);
    w.open("authors", &[]);
    for a in &p.authors {
        write_author(&mut w, a);
    }
    w.close();
    if !p.addressees.is_empty() {
        w.open("addressees", &[]);
        for a in &p.addressees {
            w.open("addressee", &[]);
            write_org(&mut w, &a.organization);
            if let Some(person) = &a.person {
                write_person(&mut w, "person", person);
            }
            w.close();
        }
        w.close();
    }
    w.open("document", &[("localName", &doc.local_name)]);
    w.leaf("pagesQuantity", &doc.pages.unwrap_or(1).to_string());
    opt_num(&mut w, "enclosurePagesQuantity", doc.enclosure_pages);
    w.opt("description", doc.description.as_deref());
    w.close();
    write_attachments(&mut w, &p.attachments);
    w.close();
    Ok(w.finish().into_bytes())
}

/// `requisites`: the kind, place, classification, annotation and links.
fn write_requisites(w: &mut XmlWriter, p: &Passport) {
    w.open("requisites", &[]);
    write_coded(w, "documentKind", &p.kind);
    if let Some(c) = &p.place {
        write_coded(w, "documentPlace", c);
    }
    if let Some(c) = &p.classification {
        write_coded(w, "classification", c);
    }
    w.opt("annotation", p.annotation.as_deref());
    if !p.links.is_empty() {
        w.open("links", &[]);
        for l in &p.links {
            write_link(w, l);
        }
        w.close();
    }
    w.close();
}

/// One `author`: the organisation, its registration (number, date, stamp), who signed with
/// which signatures (and their stamps), the executor.
fn write_author(w: &mut XmlWriter, a: &Author) {
    w.open("author", &[]);
    write_org(w, &a.organization);
    if let Some(number) = &a.registration_number {
        w.open("registration", &[]);
        w.leaf("number", number);
        if let Some(d) = a.registration_date {
            w.leaf("date", &format_date(d));
        }
        if let Some(s) = &a.registration_stamp {
            write_stamp(w, "registrationStamp", s);
        }
        w.close();
    }
    for sign in &a.signs {
        w.open("sign", &[]);
        write_person(w, "person", &sign.person);
        for sig in &sign.signatures {
            let t = sig.signature_type.as_deref().unwrap_or("");
            let attrs = [("localName", sig.local_name.as_str()), ("type", t)];
            match &sig.stamp {
                Some(s) => {
                    w.open("documentSignature", &attrs);
                    write_stamp(w, "signatureStamp", s);
                    w.close();
                }
                None => w.empty_with_attrs("documentSignature", &attrs),
            }
        }
        w.close();
    }
    if let Some(e) = &a.executor {
        write_person(w, "executor", e);
    }
    w.close();
}

/// `attachments`, when there are any: each with its order, description and signatures.
fn write_attachments(w: &mut XmlWriter, attachments: &[Attachment]) {
    if attachments.is_empty() {
        return;
    }
    w.open("attachments", &[]);
    for a in attachments {
        w.open("attachment", &[("localName", &a.local_name)]);
        opt_num(w, "order", a.order);
        w.opt("description", a.description.as_deref());
        for s in &a.signatures {
            w.empty_with_attrs("signature", &[("localName", s)]);
        }
        w.close();
    }
    w.close();
}
