//! Writing communication messages: [`Message`] → bytes, in the element order of the 2.x XSD.
//! 2.2/2.7: windows-1251 with `encoding="windows-1251"`; 2.7.1: UTF-8 without BOM, first line
//! exactly `<?xml version="1.0" encoding="UTF-8"?>`. Every attribute is prefixed (`xdms:`),
//! empty elements are never written, GUIDs are lower case, dates `YYYY-MM-DD`.
//! Required content that is missing is an error, not an empty element. Pure.

use super::error::WireErrorKind;
use super::message::*;
use super::text::encode_cp1251_xml;
use super::time::format_date;
use super::xml::XmlWriter;

const PREFIX: &str = "xdms";

/// Serialises a message in its own format (`message.format`).
pub fn write_message(message: &Message) -> Result<Vec<u8>, WireErrorKind> {
    check(message)?;
    let (encoding, newline) = match message.format {
        Format::V22 | Format::V27 => ("windows-1251", "\r\n"),
        Format::V271 => ("UTF-8", "\n"),
    };
    let mut w = XmlWriter::new(PREFIX, encoding, newline);
    w.root(
        "communication",
        message.format.namespace(),
        &[("version", message.format.version())],
    );
    header(&mut w, &message.header);
    match &message.body {
        Body::Document { document: d, files } => {
            document(&mut w, d);
            w.open("files", &[]);
            for f in files {
                file(&mut w, f);
            }
            w.close();
        }
        Body::Notification(n) => notification(&mut w, n),
        Body::Acknowledgment(a) => acknowledgment(&mut w, a),
        Body::Container(c) => {
            w.open(
                "container",
                &[("type", c.container_type.as_deref().unwrap_or(""))],
            );
            w.leaf("body", &c.body);
            w.opt("signature", c.signature.as_deref());
            w.close();
        }
        Body::Unknown { .. } => unreachable!("check() refuses unknown bodies"),
    }
    if !message.delivery_index.is_empty() {
        w.open("deliveryIndex", &[]);
        for p in &message.delivery_index {
            w.open("destination", &[]);
            partner(&mut w, "destination", p);
            w.close();
        }
        w.close();
    }
    w.close();
    let text = w.finish();
    Ok(match message.format {
        Format::V22 | Format::V27 => encode_cp1251_xml(&text),
        Format::V271 => text.into_bytes(),
    })
}

fn missing(what: &str) -> WireErrorKind {
    WireErrorKind::Write(format!("{what} is required"))
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// Refuses messages that would need an empty required element.
fn check(m: &Message) -> Result<(), WireErrorKind> {
    if blank(&m.header.uid) {
        return Err(missing("header/@uid"));
    }
    if blank(&m.header.source.uid) || m.header.source.organization.as_deref().is_none_or(blank) {
        return Err(missing("header/source uid and organization"));
    }
    if m.format == Format::V271 && m.delivery_index.is_empty() {
        return Err(missing("deliveryIndex (2.7.1)"));
    }
    match &m.body {
        Body::Document { document: d, files } => {
            if blank(&d.uid) || blank(&d.num.number) {
                return Err(missing("document/@uid and document/num/number"));
            }
            if d.signatories.is_empty() || d.addressees.is_empty() {
                return Err(missing("document signatories and addressees"));
            }
            if d.signatories.iter().any(|s| s.signed.is_none()) {
                return Err(missing("signatory/signed"));
            }
            if d.annotation.as_deref().is_none_or(blank) {
                return Err(missing("document/annotation"));
            }
            if d.signatories.iter().any(|s| s.who.is_empty())
                || d.addressees.iter().any(Anyone::is_empty)
            {
                return Err(missing("a non-empty signatory and addressee"));
            }
            if files.is_empty() || files.iter().any(|f| blank(&f.local_name)) {
                return Err(missing("at least one file with a localName"));
            }
        }
        Body::Notification(n) => {
            if blank(&n.uid) || n.time.is_none() {
                return Err(missing("notification/@uid and time"));
            }
            if let NotificationDetail::DocumentRefused { reason: None, .. } = n.detail {
                return Err(WireErrorKind::Write(
                    "a refusal must carry one of the nine official reasons".into(),
                ));
            }
            if let NotificationDetail::Unknown { name } = &n.detail {
                return Err(WireErrorKind::Write(format!(
                    "cannot write notification <{name}>"
                )));
            }
            match &n.detail {
                NotificationDetail::CourseChanged { course_text, .. } if blank(course_text) => {
                    return Err(missing("courseChanged/courseText"));
                }
                NotificationDetail::ExecutorAssigned {
                    secretary,
                    manager,
                    executor,
                } if secretary.is_empty() || manager.is_empty() || executor.is_empty() => {
                    return Err(missing("executorAssigned secretary, manager and executor"));
                }
                NotificationDetail::ReportSent { report } if blank(&report.num.number) => {
                    return Err(missing("reportSent/report/num/number"));
                }
                NotificationDetail::ReportPrepared { signatory }
                    if signatory.who.is_empty() || signatory.signed.is_none() =>
                {
                    return Err(missing("reportPrepared/signatory with signed date"));
                }
                NotificationDetail::DocumentAccepted { num } if blank(&num.number) => {
                    return Err(missing("documentAccepted/num/number"));
                }
                _ => {}
            }
            if n.foundation.as_ref().is_some_and(|f| blank(&f.num.number)) {
                return Err(missing("foundation/num/number"));
            }
        }
        Body::Acknowledgment(a) => {
            if blank(&a.uid) || a.time.is_none() {
                return Err(missing("acknowledgment/@uid and time"));
            }
        }
        Body::Container(c) => {
            if blank(&c.body) {
                return Err(missing("container/body"));
            }
        }
        Body::Unknown { .. } => return Err(WireErrorKind::Write("unknown message body".into())),
    }
    Ok(())
}

fn header(w: &mut XmlWriter, h: &Header) {
    let created = h.created.map(|c| c.to_string()).unwrap_or_default();
    let uid = h.uid.to_lowercase();
    w.open(
        "header",
        &[
            ("type", h.kind.as_str()),
            ("uid", &uid),
            ("created", &created),
        ],
    );
    partner(w, "source", &h.source);
    w.opt("operator", h.operator.as_deref());
    w.opt("comment", h.comment.as_deref());
    w.close();
}

fn partner(w: &mut XmlWriter, name: &str, p: &Partner) {
    let uid = p.uid.to_lowercase();
    w.open(name, &[("uid", &uid)]);
    w.opt("organization", p.organization.as_deref());
    w.opt("comment", p.comment.as_deref());
    w.close();
}

/// The `anyone` parts, in schema order (comment is written by the caller where it belongs).
fn anyone_parts(w: &mut XmlWriter, a: &Anyone) {
    w.opt("region", a.region.as_deref());
    w.opt("organization", a.organization.as_deref());
    w.opt("person", a.person.as_deref());
    w.opt("department", a.department.as_deref());
    w.opt("post", a.post.as_deref());
    w.opt("contactInfo", a.contact_info.as_deref());
}

/// An `addressee`-typed element: anyone + comment.
fn addressee(w: &mut XmlWriter, name: &str, a: &Anyone) {
    w.open(name, &[]);
    anyone_parts(w, a);
    w.opt("comment", a.comment.as_deref());
    w.close();
}

fn doc_number(w: &mut XmlWriter, name: &str, n: &DocNumber) {
    w.open(name, &[]);
    w.leaf("number", &n.number);
    if let Some(d) = n.date {
        w.leaf("date", &format_date(d));
    }
    w.close();
}

fn reference(w: &mut XmlWriter, name: &str, r: &DocReference) {
    w.open(name, &[]);
    anyone_parts(w, &r.who);
    doc_number(w, "num", &r.num);
    w.opt("comment", r.who.comment.as_deref());
    w.close();
}

fn signatory(w: &mut XmlWriter, name: &str, s: &Signatory) {
    w.open(name, &[]);
    anyone_parts(w, &s.who);
    if let Some(d) = s.signed {
        w.leaf("signed", &format_date(d));
    }
    w.opt("comment", s.who.comment.as_deref());
    w.close();
}

fn number(w: &mut XmlWriter, name: &str, n: Option<u32>) {
    if let Some(n) = n {
        w.leaf(name, &n.to_string());
    }
}

fn document(w: &mut XmlWriter, d: &Document) {
    let uid = d.uid.to_lowercase();
    w.open(
        "document",
        &[("uid", &uid), ("id", d.id.as_deref().unwrap_or(""))],
    );
    w.opt("type", d.doc_type.as_deref());
    w.opt("kind", d.kind.as_deref());
    doc_number(w, "num", &d.num);
    w.opt("classification", d.classification.as_deref());
    w.opt("urgency", d.urgency.as_deref());
    w.open("signatories", &[]);
    for s in &d.signatories {
        signatory(w, "signatory", s);
    }
    w.close();
    w.open("addressees", &[]);
    for a in &d.addressees {
        addressee(w, "addressee", a);
    }
    w.close();
    w.leaf("pages", &d.pages.unwrap_or(0).to_string());
    number(w, "enclosuresPages", d.enclosures_pages);
    w.opt("annotation", d.annotation.as_deref());
    if !d.enclosures.is_empty() {
        w.open("enclosures", &[]);
        for e in &d.enclosures {
            enclosure(w, e);
        }
        w.close();
    }
    if !d.correspondents.is_empty() {
        w.open("correspondents", &[]);
        for c in &d.correspondents {
            w.open("correspondent", &[]);
            anyone_parts(w, &c.who);
            if let Some(n) = &c.num {
                doc_number(w, "num", n);
            }
            w.opt("comment", c.who.comment.as_deref());
            w.close();
        }
        w.close();
    }
    let links: Vec<&Link> = d.links.iter().filter(|l| l.reference.is_some()).collect();
    if !links.is_empty() {
        w.open("links", &[]);
        for l in links {
            w.open("link", &[]);
            w.leaf("linkType", &l.link_type);
            if let Some(r) = &l.reference {
                reference(w, "reference", r);
            }
            w.close();
        }
        w.close();
    }
    if !d.clauses.is_empty() {
        w.open("clauses", &[]);
        for c in &d.clauses {
            w.open("clause", &[]);
            w.opt("designation", c.designation.as_deref());
            w.opt("text", c.text.as_deref());
            if let Some(deadline) = c.deadline {
                w.leaf("deadline", &format_date(deadline));
            }
            if let Some(p) = &c.principal {
                addressee(w, "principal", p);
            }
            w.opt("comment", c.comment.as_deref());
            w.close();
        }
        w.close();
    }
    if let Some(e) = &d.executor {
        addressee(w, "executor", e);
    }
    w.opt("comment", d.comment.as_deref());
    w.close();
}

fn enclosure(w: &mut XmlWriter, e: &Enclosure) {
    w.open("enclosure", &[("uid", e.uid.as_deref().unwrap_or(""))]);
    w.leaf("title", &e.title);
    if let Some(r) = &e.reference {
        reference(w, "reference", r);
    }
    w.leaf("pages", &e.pages.unwrap_or(0).to_string());
    if !e.files.is_empty() {
        let ids: Vec<String> = e.files.iter().map(u32::to_string).collect();
        w.leaf("files", &ids.join(" "));
    }
    w.opt("comment", e.comment.as_deref());
    w.close();
}

fn file(w: &mut XmlWriter, f: &AssociatedFile) {
    let id = f.local_id.map(|i| i.to_string()).unwrap_or_default();
    w.open(
        "file",
        &[
            ("localName", &f.local_name),
            ("localId", &id),
            ("type", f.file_type.as_deref().unwrap_or("")),
        ],
    );
    w.leaf("group", f.group.as_deref().unwrap_or(GROUP_DOCUMENT_TEXT));
    w.opt("description", f.description.as_deref());
    number(w, "pages", f.pages);
    w.close();
}

fn notification(w: &mut XmlWriter, n: &Notification) {
    let uid = n.uid.to_lowercase();
    w.open(
        "notification",
        &[
            ("type", n.kind.as_str()),
            ("uid", &uid),
            ("id", n.id.as_deref().unwrap_or("")),
        ],
    );
    let element = match &n.detail {
        NotificationDetail::DocumentAccepted { .. } => "documentAccepted",
        NotificationDetail::DocumentRefused { .. } => "documentRefused",
        NotificationDetail::ExecutorAssigned { .. } => "executorAssigned",
        NotificationDetail::ReportPrepared { .. } => "reportPrepared",
        NotificationDetail::ReportSent { .. } => "reportSent",
        NotificationDetail::CourseChanged { .. } => "courseChanged",
        NotificationDetail::Unknown { name } => name.as_str(),
    };
    w.open(element, &[]);
    if let Some(t) = n.time {
        w.leaf("time", &t.to_string());
    }
    if let Some(f) = &n.foundation {
        reference(w, "foundation", f);
    }
    if let Some(c) = &n.correspondent {
        addressee(w, "correspondent", c);
    }
    match &n.detail {
        NotificationDetail::DocumentAccepted { num } => doc_number(w, "num", num),
        NotificationDetail::DocumentRefused {
            reason,
            reason_text,
        } => {
            let text = reason.map(RefusalReason::as_str).unwrap_or(reason_text);
            w.leaf("reason", text);
        }
        NotificationDetail::ExecutorAssigned {
            secretary,
            manager,
            executor,
        } => {
            addressee(w, "secretary", secretary);
            addressee(w, "manager", manager);
            addressee(w, "executor", executor);
        }
        NotificationDetail::ReportPrepared { signatory: s } => signatory(w, "signatory", s),
        NotificationDetail::ReportSent { report } => reference(w, "report", report),
        NotificationDetail::CourseChanged {
            course_text,
            reference: r,
        } => {
            w.leaf("courseText", course_text);
            if let Some(r) = r {
                reference(w, "reference", r);
            }
        }
        NotificationDetail::Unknown { .. } => {}
    }
    w.close();
    w.opt("comment", n.comment.as_deref());
    w.close();
}

fn acknowledgment(w: &mut XmlWriter, a: &Acknowledgment) {
    let uid = a.uid.to_lowercase();
    w.open("acknowledgment", &[("uid", &uid)]);
    if let Some(t) = a.time {
        w.leaf("time", &t.to_string());
    }
    w.leaf("accepted", if a.accepted { "true" } else { "false" });
    w.opt("comment", a.comment.as_deref());
    w.close();
}
