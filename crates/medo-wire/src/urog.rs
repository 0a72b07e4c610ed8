//! Our УРОГ query profile's XML (DESIGN §5): the optional `query.xml` attachment
//! (`schemas/urog-query.xsd`) and the `response.xml` we answer with (`schemas/urog-response.xsd`).
//! Pure: bytes in, bytes out.

use super::error::WireErrorKind;
use super::limits::Limits;
use super::read::{decode_xml_bounded, xml_tree};
use super::xml::XmlWriter;

pub const NS_QUERY: &str = "urn:medo-gateway:urog-query:1";
pub const NS_RESPONSE: &str = "urn:medo-gateway:urog-response:1";

/// The appeal numbers a `query.xml` names.
pub fn parse_query(bytes: &[u8], limits: &Limits) -> Result<Vec<String>, WireErrorKind> {
    let decoded = decode_xml_bounded(bytes, limits.max_passport_bytes)?;
    let root = xml_tree(&decoded.text, limits)?;
    if root.name != "query" || root.ns.as_deref() != Some(NS_QUERY) {
        return Err(WireErrorKind::NotMedo(format!(
            "query.xml root is <{}>, not a {NS_QUERY} query",
            root.name
        )));
    }
    Ok(root
        .children_named("appeal")
        .filter_map(|a| a.child_text("number"))
        .collect())
}

/// One appeal in a response.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ResponseItem {
    /// The number as the query wrote it.
    pub requested: String,
    pub found: bool,
    pub urog_number: Option<String>,
    pub urog_date: Option<String>,
    pub registration_number: Option<String>,
    pub registration_date: Option<String>,
    /// The status in words («зарегистрировано», «не найдено», …).
    pub status: String,
    pub sstu_status: Option<String>,
    pub executor: Option<String>,
    pub due_date: Option<String>,
    pub extended_to: Option<String>,
    pub redirected_to: Option<String>,
    pub result: Option<String>,
}

/// Writes `response.xml` (UTF-8).
pub fn write_response(
    query_number: &str,
    query_date: Option<&str>,
    items: &[ResponseItem],
) -> Vec<u8> {
    let mut w = XmlWriter::new("r", "UTF-8", "\n");
    w.root("response", NS_RESPONSE, &[("version", "1")]);
    w.open("query", &[]);
    w.leaf("number", query_number);
    w.opt("date", query_date);
    w.close();
    for i in items {
        w.open(
            "appeal",
            &[("found", if i.found { "true" } else { "false" })],
        );
        w.leaf("requested", &i.requested);
        w.opt("urogNumber", i.urog_number.as_deref());
        w.opt("urogDate", i.urog_date.as_deref());
        w.opt("registrationNumber", i.registration_number.as_deref());
        w.opt("registrationDate", i.registration_date.as_deref());
        w.leaf("status", &i.status);
        w.opt("sstuStatus", i.sstu_status.as_deref());
        w.opt("executor", i.executor.as_deref());
        w.opt("dueDate", i.due_date.as_deref());
        w.opt("extendedTo", i.extended_to.as_deref());
        w.opt("redirectedTo", i.redirected_to.as_deref());
        w.opt("result", i.result.as_deref());
        w.close();
    }
    w.close();
    w.finish().into_bytes()
}
