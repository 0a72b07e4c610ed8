//! Reading communication messages: bytes → encoding detection → bounded XML tree → [`Message`].
//! Namespaces decide the family (2.x vs 2.7.1), not prefixes; prefixed and unprefixed
//! attributes are both accepted; unknown elements and values are tolerated and kept where the
//! model has room. Pure.

use super::error::{invalid, WireErrorKind};
use super::limits::Limits;
use super::message::*;
use super::text::{decode_xml, Decoded};
use super::time::{parse_date, XmlDateTime};
use super::xml::{self, Element, XmlLimits};

/// A message read from bytes, with the encoding used and warnings for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMessage {
    pub message: Message,
    pub encoding: &'static str,
    pub warnings: Vec<String>,
}

/// Checks XML bytes against a size limit and decodes them (declared or sniffed encoding);
/// [`xml_tree`] then parses the text.
pub fn decode_xml_bounded(bytes: &[u8], max_bytes: u64) -> Result<Decoded, WireErrorKind> {
    if bytes.len() as u64 > max_bytes {
        return Err(WireErrorKind::TooLarge {
            what: "XML file",
            limit: max_bytes,
        });
    }
    decode_xml(bytes)
}

/// Parses decoded text into a tree under the limits (the tree borrows the text).
pub fn xml_tree<'a>(text: &'a str, limits: &Limits) -> Result<Element<'a>, WireErrorKind> {
    xml::parse(
        text,
        XmlLimits {
            max_depth: limits.max_xml_depth,
            max_elements: limits.max_xml_elements,
        },
    )
}

/// Parses a communication message.
pub fn parse_message(bytes: &[u8], limits: &Limits) -> Result<ParsedMessage, WireErrorKind> {
    let decoded = decode_xml_bounded(bytes, limits.max_message_bytes)?;
    let root = xml_tree(&decoded.text, limits)?;
    message_from_root(&root, decoded.encoding, decoded.warnings)
}

/// Maps an already parsed tree (see [`parse_tree`]) to a message.
pub fn message_from_root(
    root: &Element,
    encoding: &'static str,
    mut warnings: Vec<String>,
) -> Result<ParsedMessage, WireErrorKind> {
    let message = message_from_tree(root, &mut warnings)?;
    Ok(ParsedMessage {
        message,
        encoding,
        warnings,
    })
}

/// Whether the root is a `communication` in a МЭДО namespace (cheap check for picking the XML).
pub fn is_communication(root: &Element) -> bool {
    root.name == "communication"
        && matches!(root.ns.as_deref(), Some(NS_XDMS_2X) | Some(NS_XDMS_271))
}

/// Normalises a GUID: trims, strips braces, lower-cases; warns when it is not GUID-shaped.
pub fn normalize_guid(raw: &str, field: &str, warnings: &mut Vec<String>) -> String {
    let g = raw
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .to_lowercase();
    if !is_guid(&g) {
        warnings.push(format!("{field} {g:?} is not a GUID"));
    }
    g
}

/// `[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}`, case-insensitive.
pub fn is_guid(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn required_guid(
    e: &Element,
    attr: &str,
    field: &str,
    warnings: &mut Vec<String>,
) -> Result<String, WireErrorKind> {
    let raw = e
        .attr_text(attr)
        .ok_or_else(|| WireErrorKind::Missing(field.to_string()))?;
    Ok(normalize_guid(&raw, field, warnings))
}

fn date_of(e: &Element, name: &str, field: &str, warnings: &mut Vec<String>) -> Option<time::Date> {
    let text = e.child_text(name)?;
    let date = parse_date(&text);
    if date.is_none() {
        warnings.push(format!("{field} {text:?} is not a date"));
    }
    date
}

fn date_time_of(
    text: Option<String>,
    field: &str,
    warnings: &mut Vec<String>,
) -> Option<XmlDateTime> {
    let text = text?;
    let value = XmlDateTime::parse(&text);
    if value.is_none() {
        warnings.push(format!("{field} {text:?} is not a date-time"));
    }
    value
}

fn number_of(e: &Element, name: &str, warnings: &mut Vec<String>) -> Option<u32> {
    let text = e.child_text(name)?;
    let n = text.parse().ok();
    if n.is_none() {
        warnings.push(format!("{name} {text:?} is not a number"));
    }
    n
}

fn message_from_tree(root: &Element, warnings: &mut Vec<String>) -> Result<Message, WireErrorKind> {
    if root.name != "communication" {
        return Err(WireErrorKind::NotMedo(format!(
            "root element is <{}>",
            root.name
        )));
    }
    let format_family = match root.ns.as_deref() {
        Some(NS_XDMS_2X) => Format::V22,
        Some(NS_XDMS_271) => Format::V271,
        other => {
            return Err(WireErrorKind::NotMedo(format!(
                "unknown namespace {:?}",
                other.unwrap_or("(none)")
            )))
        }
    };
    let version = root.attr_text("version").unwrap_or_else(|| {
        warnings.push("communication/@version is missing".into());
        String::new()
    });
    let format = match (format_family, version.as_str()) {
        (Format::V271, v) => {
            if v != "2.7.1" {
                warnings.push(format!("urn:IEDMS:MESSAGE with version {v:?}"));
            }
            Format::V271
        }
        (_, "2.7") => Format::V27,
        (_, v) => {
            if !["2.0", "2.2", "2.5", "2.6"].contains(&v) && !v.is_empty() {
                warnings.push(format!("unknown 2.x version {v:?}"));
            }
            Format::V22
        }
    };
    let header_el = root
        .child("header")
        .ok_or_else(|| WireErrorKind::Missing("header".into()))?;
    let header = header_from(header_el, warnings)?;
    let body = body_from(root, &header.kind, warnings)?;
    let delivery_index = root
        .child("deliveryIndex")
        .map(|d| {
            d.children_named("destination")
                .filter_map(|item| item.child("destination"))
                .map(|p| partner_from(p, "deliveryIndex destination/@uid", warnings))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    if format == Format::V271 && delivery_index.is_empty() {
        warnings.push("2.7.1 message without deliveryIndex".into());
    }
    Ok(Message {
        format,
        version,
        header,
        body,
        delivery_index,
    })
}

fn partner_from(
    e: &Element,
    field: &str,
    warnings: &mut Vec<String>,
) -> Result<Partner, WireErrorKind> {
    Ok(Partner {
        uid: required_guid(e, "uid", field, warnings)?,
        organization: e.child_text("organization"),
        comment: e.child_text("comment"),
    })
}

fn header_from(e: &Element, warnings: &mut Vec<String>) -> Result<Header, WireErrorKind> {
    let kind = HeaderType::parse(
        &e.attr_text("type")
            .ok_or_else(|| WireErrorKind::Missing("header/@type".into()))?,
    );
    if let HeaderType::Other(t) = &kind {
        warnings.push(format!("unknown header/@type {t:?}"));
    }
    let source = e
        .child("source")
        .ok_or_else(|| WireErrorKind::Missing("header/source".into()))?;
    Ok(Header {
        kind,
        uid: required_guid(e, "uid", "header/@uid", warnings)?,
        created: date_time_of(e.attr_text("created"), "header/@created", warnings),
        source: partner_from(source, "header/source/@uid", warnings)?,
        operator: e.child_text("operator"),
        comment: e.child_text("comment"),
    })
}

fn body_from(
    root: &Element,
    kind: &HeaderType,
    warnings: &mut Vec<String>,
) -> Result<Body, WireErrorKind> {
    let body = if let Some(d) = root.child("document") {
        let files = root
            .child("files")
            .map(|f| {
                f.children_named("file")
                    .map(|e| file_from(e, warnings))
                    .collect()
            })
            .transpose()?
            .unwrap_or_default();
        Body::Document {
            document: Box::new(document_from(d, warnings)?),
            files,
        }
    } else if let Some(n) = root.child("notification") {
        Body::Notification(Box::new(notification_from(n, warnings)?))
    } else if let Some(a) = root.child("acknowledgment") {
        Body::Acknowledgment(acknowledgment_from(a, warnings)?)
    } else if let Some(c) = root.child("container") {
        Body::Container(ContainerRef {
            container_type: c.attr_text("type"),
            body: c
                .child_text("body")
                .ok_or_else(|| WireErrorKind::Missing("container/body".into()))?,
            signature: c.child_text("signature"),
        })
    } else {
        let element = root
            .children
            .iter()
            .map(|c| c.name.to_string())
            .find(|n| n != "header" && n != "deliveryIndex");
        warnings.push(format!("no known message body (found {:?})", element));
        Body::Unknown { element }
    };
    let expected = match &body {
        Body::Document { .. } => HeaderType::Document,
        Body::Notification(_) => HeaderType::Notification,
        Body::Acknowledgment(_) => HeaderType::Acknowledgment,
        Body::Container(_) => HeaderType::Container,
        Body::Unknown { .. } => kind.clone(),
    };
    if &expected != kind {
        warnings.push(format!(
            "header/@type {:?} does not match the body ({:?})",
            kind.as_str(),
            expected.as_str()
        ));
    }
    Ok(body)
}

fn anyone_from(e: &Element) -> Anyone {
    Anyone {
        region: e.child_text("region"),
        organization: e.child_text("organization"),
        person: e.child_text("person"),
        department: e.child_text("department"),
        post: e.child_text("post"),
        contact_info: e.child_text("contactInfo"),
        comment: e.child_text("comment"),
    }
}

fn doc_number_from(
    e: &Element,
    field: &str,
    warnings: &mut Vec<String>,
) -> Result<DocNumber, WireErrorKind> {
    Ok(DocNumber {
        number: e
            .child_text("number")
            .ok_or_else(|| WireErrorKind::Missing(format!("{field}/number")))?,
        date: date_of(e, "date", &format!("{field}/date"), warnings),
    })
}

fn reference_from(
    e: &Element,
    field: &str,
    warnings: &mut Vec<String>,
) -> Result<DocReference, WireErrorKind> {
    let num = e
        .child("num")
        .ok_or_else(|| WireErrorKind::Missing(format!("{field}/num")))?;
    Ok(DocReference {
        who: anyone_from(e),
        num: doc_number_from(num, &format!("{field}/num"), warnings)?,
    })
}

fn signatory_from(e: &Element, warnings: &mut Vec<String>) -> Signatory {
    Signatory {
        who: anyone_from(e),
        signed: date_of(e, "signed", "signatory/signed", warnings),
    }
}

fn document_from(e: &Element, warnings: &mut Vec<String>) -> Result<Document, WireErrorKind> {
    let num = e
        .child("num")
        .ok_or_else(|| WireErrorKind::Missing("document/num".into()))?;
    fn list<'a, 'x>(e: &'a Element<'x>, outer: &str, inner: &'a str) -> Vec<&'a Element<'x>> {
        e.child(outer)
            .map(|o| o.children_named(inner).collect())
            .unwrap_or_default()
    }
    let links = list(e, "links", "link")
        .into_iter()
        .map(|l| link_from(l, warnings))
        .collect::<Result<Vec<_>, _>>()?;
    let enclosures = list(e, "enclosures", "enclosure")
        .into_iter()
        .map(|x| enclosure_from(x, warnings))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Document {
        uid: required_guid(e, "uid", "document/@uid", warnings)?,
        id: e.attr_text("id"),
        doc_type: e.child_text("type"),
        kind: e.child_text("kind"),
        num: doc_number_from(num, "document/num", warnings)?,
        classification: e.child_text("classification"),
        urgency: e.child_text("urgency"),
        signatories: list(e, "signatories", "signatory")
            .into_iter()
            .map(|s| signatory_from(s, warnings))
            .collect(),
        addressees: list(e, "addressees", "addressee")
            .into_iter()
            .map(anyone_from)
            .collect(),
        pages: number_of(e, "pages", warnings),
        enclosures_pages: number_of(e, "enclosuresPages", warnings),
        annotation: e.child_text("annotation"),
        enclosures,
        correspondents: list(e, "correspondents", "correspondent")
            .into_iter()
            .map(|c| {
                Ok(Correspondent {
                    who: anyone_from(c),
                    num: c
                        .child("num")
                        .map(|n| doc_number_from(n, "correspondent/num", warnings))
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>, WireErrorKind>>()?,
        links,
        clauses: list(e, "clauses", "clause")
            .into_iter()
            .map(|c| clause_from(c, warnings))
            .collect(),
        executor: e.child("executor").map(anyone_from),
        comment: e.child_text("comment"),
    })
}

fn link_from(e: &Element, warnings: &mut Vec<String>) -> Result<Link, WireErrorKind> {
    let link_type = e
        .child_text("linkType")
        .unwrap_or_else(|| "Связан с".to_string());
    if let Some(r) = e.child("reference") {
        return Ok(Link {
            link_type,
            reference: Some(reference_from(r, "link/reference", warnings)?),
            ..Link::default()
        });
    }
    if let Some(d) = e.child("document") {
        let reference = d
            .child("num")
            .map(|n| doc_number_from(n, "link/document/num", warnings))
            .transpose()?
            .map(|num| DocReference {
                who: Anyone::default(),
                num,
            });
        return Ok(Link {
            link_type,
            reference,
            document_uid: d
                .attr_text("uid")
                .map(|u| normalize_guid(&u, "link/document/@uid", warnings)),
            document_kind: d.child_text("kind"),
        });
    }
    warnings.push("link without reference or document".into());
    Ok(Link {
        link_type,
        ..Link::default()
    })
}

fn enclosure_from(e: &Element, warnings: &mut Vec<String>) -> Result<Enclosure, WireErrorKind> {
    Ok(Enclosure {
        uid: e.attr_text("uid"),
        title: e.child_text("title").unwrap_or_default(),
        reference: e
            .child("reference")
            .map(|r| reference_from(r, "enclosure/reference", warnings))
            .transpose()?,
        pages: number_of(e, "pages", warnings),
        files: e
            .child_text("files")
            .map(|t| {
                t.split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect()
            })
            .unwrap_or_default(),
        comment: e.child_text("comment"),
    })
}

fn clause_from(e: &Element, warnings: &mut Vec<String>) -> Clause {
    Clause {
        designation: e.child_text("designation"),
        text: e.child_text("text"),
        deadline: date_of(e, "deadline", "clause/deadline", warnings),
        principal: e.child("principal").map(anyone_from),
        comment: e.child_text("comment"),
    }
}

fn file_from(e: &Element, warnings: &mut Vec<String>) -> Result<AssociatedFile, WireErrorKind> {
    let local_id = e.attr_text("localId").and_then(|v| {
        let n = v.parse().ok();
        if n.is_none() {
            warnings.push(format!("file/@localId {v:?} is not a number"));
        }
        n
    });
    Ok(AssociatedFile {
        local_name: e
            .attr_text("localName")
            .ok_or_else(|| WireErrorKind::Missing("files/file/@localName".into()))?,
        local_id,
        file_type: e.attr_text("type"),
        group: e.child_text("group"),
        description: e.child_text("description"),
        pages: number_of(e, "pages", warnings),
    })
}

fn notification_from(
    e: &Element,
    warnings: &mut Vec<String>,
) -> Result<Notification, WireErrorKind> {
    let kind = NotificationType::parse(
        &e.attr_text("type")
            .ok_or_else(|| WireErrorKind::Missing("notification/@type".into()))?,
    );
    let Some(inner) = e.children.iter().find(|c| c.name != "comment") else {
        return Err(WireErrorKind::Missing("notification content".into()));
    };
    let detail = match &*inner.name {
        "documentAccepted" => NotificationDetail::DocumentAccepted {
            num: doc_number_from(
                inner
                    .child("num")
                    .ok_or_else(|| WireErrorKind::Missing("documentAccepted/num".into()))?,
                "documentAccepted/num",
                warnings,
            )?,
        },
        "documentRefused" => {
            let reason_text = inner.child_text("reason").unwrap_or_default();
            let reason = RefusalReason::parse(&reason_text);
            if reason.is_none() {
                warnings.push(format!(
                    "refusal reason {reason_text:?} is not one of the nine"
                ));
            }
            NotificationDetail::DocumentRefused {
                reason,
                reason_text,
            }
        }
        "executorAssigned" => NotificationDetail::ExecutorAssigned {
            secretary: inner
                .child("secretary")
                .map(anyone_from)
                .unwrap_or_default(),
            manager: inner.child("manager").map(anyone_from).unwrap_or_default(),
            executor: inner.child("executor").map(anyone_from).unwrap_or_default(),
        },
        "reportPrepared" => NotificationDetail::ReportPrepared {
            signatory: inner
                .child("signatory")
                .map(|s| signatory_from(s, warnings))
                .unwrap_or_default(),
        },
        "reportSent" => NotificationDetail::ReportSent {
            report: inner
                .child("report")
                .map(|r| reference_from(r, "reportSent/report", warnings))
                .transpose()?
                .unwrap_or_default(),
        },
        "courseChanged" => NotificationDetail::CourseChanged {
            course_text: inner.child_text("courseText").unwrap_or_default(),
            reference: inner
                .child("reference")
                .map(|r| reference_from(r, "courseChanged/reference", warnings))
                .transpose()?,
        },
        other => {
            warnings.push(format!(
                "notification element <{other}> is not modelled; kept by name"
            ));
            NotificationDetail::Unknown {
                name: other.to_string(),
            }
        }
    };
    Ok(Notification {
        kind,
        uid: required_guid(e, "uid", "notification/@uid", warnings)?,
        id: e.attr_text("id"),
        time: date_time_of(inner.child_text("time"), "notification time", warnings),
        foundation: inner
            .child("foundation")
            .map(|f| reference_from(f, "notification/foundation", warnings))
            .transpose()?,
        correspondent: inner.child("correspondent").map(anyone_from),
        detail,
        comment: e.child_text("comment"),
    })
}

fn acknowledgment_from(
    e: &Element,
    warnings: &mut Vec<String>,
) -> Result<Acknowledgment, WireErrorKind> {
    let accepted = match e.child_text("accepted").as_deref() {
        Some("true") | Some("1") => true,
        Some("false") | Some("0") => false,
        Some(other) => {
            return Err(invalid(
                "acknowledgment/accepted",
                format!("{other:?} is not a boolean"),
            ))
        }
        None => return Err(WireErrorKind::Missing("acknowledgment/accepted".into())),
    };
    Ok(Acknowledgment {
        uid: required_guid(e, "uid", "acknowledgment/@uid", warnings)?,
        time: date_time_of(e.child_text("time"), "acknowledgment/time", warnings),
        accepted,
        comment: e.child_text("comment"),
        content: e.attr_text("content"),
        error_code: e.child_text("errorCode"),
        error_file: e.child_text("errorFileMessage"),
    })
}

#[cfg(test)]
mod guid_tests {
    use super::is_guid;

    /// The definition: five hex groups of 8-4-4-4-12 joined by dashes.
    fn by_groups(s: &str) -> bool {
        let parts: Vec<&str> = s.split('-').collect();
        parts.len() == 5
            && parts
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
    }

    #[test]
    fn examples() {
        assert!(is_guid("2d7c5a1e-8b3f-4e6a-9c0d-1f2e3a4b5c6d"));
        assert!(is_guid("2D7C5A1E-8B3F-4E6A-9C0D-1F2E3A4B5C6D"));
        assert!(!is_guid("2d7c5a1e-8b3f-4e6a-9c0d-1f2e3a4b5c6"));
        assert!(!is_guid("2d7c5a1e8b3f-4e6a-9c0d-1f2e3a4b5c6d-"));
        assert!(!is_guid("{2d7c5a1e-8b3f-4e6a-9c0d-1f2e3a4b5c6d}"));
        assert!(!is_guid("2d7c5a1e-8b3f-4e6a-9c0d-1f2e3a4b5cжd"));
        assert!(!is_guid(""));
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_group_definition(s in "[0-9a-fA-Fg\\-ж]{0,40}", guid in "[0-9a-f]{8}-[0-9A-F]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}") {
            proptest::prop_assert_eq!(is_guid(&s), by_groups(&s));
            proptest::prop_assert!(is_guid(&guid));
        }
    }
}
