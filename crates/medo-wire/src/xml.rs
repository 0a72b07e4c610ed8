//! A bounded, namespace-aware XML tree reader and a small writer.
//!
//! The reader turns decoded text into an [`Element`] tree, enforcing depth and element-count
//! limits and refusing DTDs; entity references other than the five predefined ones and
//! character references are errors (no entity expansion of any kind). The writer emits
//! indented XML with every attribute prefixed and empty values left out.
//! Pure: text in, text out.

use std::borrow::Cow;
use std::rc::Rc;

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::error::WireErrorKind;

/// An attribute with its namespace resolved (`None` when unprefixed). Names and values
/// borrow the parsed text where they can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute<'a> {
    pub ns: Option<Rc<str>>,
    pub name: Cow<'a, str>,
    pub value: Cow<'a, str>,
}

/// An element with its namespace resolved. Text is the concatenation of its direct text
/// nodes (XML 1.0 line ends), except that blank nodes before the first non-blank one are
/// dropped: indentation is no text (and costs no allocation). Names and text borrow the
/// parsed text where they can (a tree costs few allocations); namespaces are shared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element<'a> {
    pub ns: Option<Rc<str>>,
    pub name: Cow<'a, str>,
    pub attributes: Vec<Attribute<'a>>,
    pub children: Vec<Element<'a>>,
    pub text: Cow<'a, str>,
}

impl<'a> Element<'a> {
    /// The value of an attribute by local name, prefixed (any namespace) or not.
    /// A prefixed attribute in the element's own namespace wins over an unprefixed one.
    pub fn attr(&self, name: &str) -> Option<&str> {
        let mut fallback = None;
        for a in self.attributes.iter().filter(|a| a.name == name) {
            if a.ns.is_some() && a.ns == self.ns {
                return Some(&a.value);
            }
            fallback.get_or_insert(&*a.value);
        }
        fallback
    }

    /// A non-blank attribute value, trimmed.
    pub fn attr_text(&self, name: &str) -> Option<String> {
        self.attr(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// Whether a child belongs to this element's vocabulary: same namespace, or none at all
    /// (lenient towards producers that forget the prefix). Foreign namespaces are skipped.
    fn is_own(&self, child: &Element) -> bool {
        child.ns.is_none() || child.ns == self.ns
    }

    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element<'a>> {
        self.children
            .iter()
            .find(|c| c.name == name && self.is_own(c))
    }

    /// Every child with this local name.
    pub fn children_named<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = &'s Element<'a>> + 's {
        self.children
            .iter()
            .filter(move |c| c.name == name && self.is_own(c))
    }

    /// Trimmed, non-blank text of this element.
    pub fn trimmed_text(&self) -> Option<String> {
        let t = self.text.trim();
        (!t.is_empty()).then(|| t.to_string())
    }

    /// Trimmed, non-blank text of the first child with this name.
    pub fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).and_then(Element::trimmed_text)
    }

    /// Text of the first grandchild `outer/inner`.
    pub fn path_text(&self, outer: &str, inner: &str) -> Option<String> {
        self.child(outer).and_then(|c| c.child_text(inner))
    }
}

/// Bounds for [`parse`].
#[derive(Debug, Clone, Copy)]
pub struct XmlLimits {
    pub max_depth: usize,
    pub max_elements: usize,
}

fn malformed(e: impl std::fmt::Display) -> WireErrorKind {
    WireErrorKind::MalformedXml(e.to_string())
}

/// `part` (bytes quick-xml hands back with a shorter lifetime) as a slice of the parsed
/// `text` itself, when it lies inside it; `None` for a copy (a normalised value).
fn within<'a>(text: &'a str, part: &[u8]) -> Option<&'a str> {
    let offset = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    text.get(offset..offset.checked_add(part.len())?)
}

/// Borrowed from `text` when possible, else owned.
fn borrow_or_own<'a>(text: &'a str, part: Cow<'_, str>) -> Cow<'a, str> {
    match within(text, part.as_bytes()) {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(part.into_owned()),
    }
}

/// The namespaces of one document, each allocated once and shared by its elements.
#[derive(Default)]
struct Namespaces(Vec<Rc<str>>);

impl Namespaces {
    fn of(&mut self, resolved: ResolveResult<'_>) -> Result<Option<Rc<str>>, WireErrorKind> {
        match resolved {
            ResolveResult::Bound(ns) => {
                let uri: &str = ns.as_ref();
                if let Some(known) = self.0.iter().find(|k| &***k == uri) {
                    return Ok(Some(known.clone()));
                }
                let new: Rc<str> = Rc::from(uri);
                self.0.push(new.clone());
                Ok(Some(new))
            }
            ResolveResult::Unbound => Ok(None),
            ResolveResult::Unknown(prefix) => Err(malformed(format!("unbound prefix {prefix:?}"))),
        }
    }
}

/// Builds an element (without children) from a start tag.
fn open_element<'a>(
    text: &'a str,
    reader: &NsReader<&[u8]>,
    namespaces: &mut Namespaces,
    ns: Option<Rc<str>>,
    start: &quick_xml::events::BytesStart<'_>,
) -> Result<Element<'a>, WireErrorKind> {
    let name = borrow_or_own(text, Cow::Borrowed(start.local_name().as_ref()));
    let mut attributes = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(malformed)?;
        let key = attr.key;
        let raw_key: &str = key.as_ref();
        if raw_key == "xmlns" || raw_key.starts_with("xmlns:") {
            continue;
        }
        let (resolved, local) = reader.resolver().resolve_attribute(key);
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(malformed)?;
        attributes.push(Attribute {
            ns: namespaces.of(resolved)?,
            name: borrow_or_own(text, Cow::Borrowed(local.as_ref())),
            value: borrow_or_own(text, value),
        });
    }
    Ok(Element {
        ns,
        name,
        attributes,
        children: Vec::new(),
        text: Cow::Borrowed(""),
    })
}

/// Parses a whole document into its root element, which borrows from `text`.
pub fn parse(text: &str, limits: XmlLimits) -> Result<Element<'_>, WireErrorKind> {
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut namespaces = Namespaces::default();
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(malformed)?;
        let ns = namespaces.of(resolved);
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if root.is_some() {
                    return Err(malformed("content after the root element"));
                }
                elements += 1;
                if elements > limits.max_elements {
                    return Err(WireErrorKind::XmlTooManyElements(limits.max_elements));
                }
                if stack.len() >= limits.max_depth {
                    return Err(WireErrorKind::XmlTooDeep(limits.max_depth));
                }
                let element = open_element(text, &reader, &mut namespaces, ns?, start)?;
                if matches!(event, Event::Start(_)) {
                    stack.push(element);
                } else {
                    attach(&mut stack, &mut root, element);
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(|| malformed("unexpected end tag"))?;
                attach(&mut stack, &mut root, element);
            }
            Event::Text(t) => {
                let raw: &[u8] = t[..].as_bytes();
                let blank = raw
                    .iter()
                    .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
                // blank text before any real text (indentation) is no text: nothing to keep
                if blank && stack.last().is_none_or(|parent| parent.text.is_empty()) {
                    continue;
                }
                let content = match within(text, raw) {
                    Some(s) => normalize_line_ends(s),
                    None => Cow::Owned(t.xml10_content().into_owned()),
                };
                append_text(&mut stack, content)?
            }
            Event::CData(t) => append_text(&mut stack, borrow_or_own(text, t.xml10_content()))?,
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(malformed)? {
                    Some(ch) => ch.to_string(),
                    None => {
                        let name = r.xml10_content();
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| malformed(format!("unknown entity &{name};")))?
                            .to_string()
                    }
                };
                append_text(&mut stack, Cow::Owned(resolved))?;
            }
            Event::DocType(_) => return Err(WireErrorKind::XmlDoctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed("unexpected end of document (unclosed elements)"));
    }
    root.ok_or_else(|| malformed("no root element"))
}

/// Text with XML 1.0 line ends (`\r\n` and a lone `\r` become `\n`); borrowed when there is
/// no `\r`.
fn normalize_line_ends(text: &str) -> Cow<'_, str> {
    if !text.contains('\r') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
}

fn attach<'a>(stack: &mut [Element<'a>], root: &mut Option<Element<'a>>, element: Element<'a>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn append_text<'a>(stack: &mut [Element<'a>], text: Cow<'a, str>) -> Result<(), WireErrorKind> {
    match stack.last_mut() {
        Some(parent) if parent.text.is_empty() => {
            parent.text = text;
            Ok(())
        }
        Some(parent) => {
            parent.text.to_mut().push_str(&text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(malformed("text outside the root element")),
    }
}

/// Whether a character may appear in an XML 1.0 document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes text for XML, dropping characters XML 1.0 cannot carry (C0 controls, U+FFFE/FFFF).
fn escape_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        escape(text)
    } else {
        let clean: String = text.chars().filter(|c| is_xml_char(*c)).collect();
        std::borrow::Cow::Owned(escape(&clean).into_owned())
    }
}

/// Writes indented XML with a fixed namespace prefix on every element and attribute.
/// Empty values are never written: [`XmlWriter::leaf`] skips blank text and
/// [`XmlWriter::open`] skips blank attributes.
pub struct XmlWriter {
    out: String,
    prefix: &'static str,
    open: Vec<String>,
    newline: &'static str,
}

impl XmlWriter {
    /// Starts a document with the exact declaration line for `encoding`.
    pub fn new(prefix: &'static str, encoding: &str, newline: &'static str) -> Self {
        let mut out = String::with_capacity(2048);
        out.push_str(&format!(
            "<?xml version=\"1.0\" encoding=\"{encoding}\"?>{newline}"
        ));
        XmlWriter {
            out,
            prefix,
            open: Vec::new(),
            newline,
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.open.len() {
            self.out.push_str("  ");
        }
    }

    fn start_tag(&mut self, name: &str, attrs: &[(&str, &str)], extra: &str) {
        self.indent();
        self.out.push('<');
        self.out.push_str(self.prefix);
        self.out.push(':');
        self.out.push_str(name);
        self.out.push_str(extra);
        for (key, value) in attrs {
            if value.trim().is_empty() {
                continue;
            }
            self.out.push(' ');
            self.out.push_str(self.prefix);
            self.out.push(':');
            self.out.push_str(key);
            self.out.push_str("=\"");
            self.out.push_str(&escape_text(value));
            self.out.push('"');
        }
        self.out.push('>');
    }

    /// Opens the root element, declaring the namespace.
    pub fn root(&mut self, name: &str, namespace: &str, attrs: &[(&str, &str)]) {
        let decl = format!(" xmlns:{}=\"{}\"", self.prefix, escape(namespace));
        self.start_tag(name, attrs, &decl);
        self.out.push_str(self.newline);
        self.open.push(name.to_string());
    }

    /// Opens an element with attributes; close it with [`XmlWriter::close`].
    pub fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start_tag(name, attrs, "");
        self.out.push_str(self.newline);
        self.open.push(name.to_string());
    }

    /// Closes the innermost open element.
    pub fn close(&mut self) {
        let name = self.open.pop().expect("close() matches an open()");
        self.indent();
        self.out.push_str("</");
        self.out.push_str(self.prefix);
        self.out.push(':');
        self.out.push_str(&name);
        self.out.push('>');
        self.out.push_str(self.newline);
    }

    /// Writes `<name attrs>text</name>`, or nothing when `text` is blank.
    pub fn leaf_with(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        if text.trim().is_empty() {
            return;
        }
        self.start_tag(name, attrs, "");
        self.out.push_str(&escape_text(text));
        self.out.push_str("</");
        self.out.push_str(self.prefix);
        self.out.push(':');
        self.out.push_str(name);
        self.out.push('>');
        self.out.push_str(self.newline);
    }

    /// Writes `<name>text</name>`, or nothing when `text` is blank.
    pub fn leaf(&mut self, name: &str, text: &str) {
        self.leaf_with(name, &[], text);
    }

    /// Writes an optional leaf.
    pub fn opt(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.leaf(name, text);
        }
    }

    /// Writes an element that has attributes but no content: `<name a="…"/>`.
    pub fn empty_with_attrs(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start_tag(name, attrs, "");
        self.out.pop();
        self.out.push_str("/>");
        self.out.push_str(self.newline);
    }

    /// The finished document.
    pub fn finish(self) -> String {
        debug_assert!(self.open.is_empty(), "unclosed elements: {:?}", self.open);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: XmlLimits = XmlLimits {
        max_depth: 8,
        max_elements: 100,
    };

    #[test]
    fn namespaces_are_resolved_not_prefixes() {
        let a = parse(
            r#"<x:a xmlns:x="urn:n" x:k="1"><x:b>t &amp; &#1071;</x:b></x:a>"#,
            LIMITS,
        )
        .unwrap();
        let b = parse(
            r#"<a xmlns="urn:n" k="1"><b>t &amp; &#1071;</b></a>"#,
            LIMITS,
        )
        .unwrap();
        assert_eq!(a.ns.as_deref(), Some("urn:n"));
        assert_eq!(b.ns.as_deref(), Some("urn:n"));
        assert_eq!(a.attr("k"), Some("1"));
        assert_eq!(b.attr("k"), Some("1"));
        assert_eq!(a.child_text("b").as_deref(), Some("t & Я"));
        assert_eq!(b.child_text("b").as_deref(), Some("t & Я"));
    }

    #[test]
    fn names_and_text_borrow_the_document_and_entities_are_resolved() {
        let text =
            r#"<a xmlns="urn:n" k="v" e="x &amp; y"><b>plain</b><c>t &lt; u<d/>tail</c></a>"#;
        let a = parse(text, LIMITS).unwrap();
        assert!(matches!(a.name, Cow::Borrowed("a")));
        assert!(matches!(a.attributes[0].value, Cow::Borrowed("v")));
        assert_eq!(a.attr("e"), Some("x & y"));
        let b = a.child("b").unwrap();
        assert!(matches!(b.text, Cow::Borrowed("plain")));
        // text split by an entity and by a child element is joined
        assert_eq!(a.child("c").unwrap().text, "t < utail");
        // every element of the document shares one namespace allocation
        assert!(Rc::ptr_eq(a.ns.as_ref().unwrap(), b.ns.as_ref().unwrap()));
    }

    #[test]
    fn indentation_before_real_text_is_no_text_and_line_ends_are_normalised() {
        let doc = "<a>\r\n  <b> x\r\ny </b>\r\n  <c>\r\n  <d/>\r\ntail\r\n</c>\r\n  <e>  </e><f>p<g/>\r\n</f></a>\r\n";
        let a = parse(doc, LIMITS).unwrap();
        // indentation alone is no text, and costs no allocation
        assert_eq!(a.text, "");
        assert!(matches!(a.text, Cow::Borrowed(_)));
        assert_eq!(a.child("e").unwrap().text, "");
        // text keeps its blanks, with XML 1.0 line ends
        assert_eq!(a.child("b").unwrap().text, " x\ny ");
        // blank text before real text in the same element is dropped, not what follows
        assert_eq!(a.child("c").unwrap().text, "\ntail\n");
        // blank text after real text is kept too
        assert_eq!(a.child("f").unwrap().text, "p\n");
        assert_eq!(a.child_text("c").as_deref(), Some("tail"));
        // a lone CR is a line end as well
        let lone = parse("<a>x\ry</a>", LIMITS).unwrap();
        assert_eq!(lone.text, "x\ny");
    }

    #[test]
    fn limits_and_dtds_are_enforced() {
        let deep = "<a>".repeat(9) + &"</a>".repeat(9);
        assert_eq!(parse(&deep, LIMITS), Err(WireErrorKind::XmlTooDeep(8)));
        let wide = format!("<a>{}</a>", "<b/>".repeat(100));
        assert_eq!(
            parse(&wide, LIMITS),
            Err(WireErrorKind::XmlTooManyElements(100))
        );
        let lol = r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY l "lol">]><a>&l;</a>"#;
        assert_eq!(parse(lol, LIMITS), Err(WireErrorKind::XmlDoctype));
        assert!(matches!(
            parse("<a>&l;</a>", LIMITS),
            Err(WireErrorKind::MalformedXml(_))
        ));
        assert!(matches!(
            parse("<a><b></a>", LIMITS),
            Err(WireErrorKind::MalformedXml(_))
        ));
        assert!(matches!(
            parse("<a>", LIMITS),
            Err(WireErrorKind::MalformedXml(_))
        ));
        assert!(matches!(
            parse("", LIMITS),
            Err(WireErrorKind::MalformedXml(_))
        ));
    }

    #[test]
    fn writer_skips_empty_values_and_escapes() {
        let mut w = XmlWriter::new("p", "UTF-8", "\n");
        w.root("r", "urn:n", &[("version", "1"), ("empty", " ")]);
        w.leaf("a", "x < y & \"z\"");
        w.leaf("b", "  ");
        w.close();
        let out = w.finish();
        assert_eq!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<p:r xmlns:p=\"urn:n\" p:version=\"1\">\n  <p:a>x &lt; y &amp; &quot;z&quot;</p:a>\n</p:r>\n"
        );
        let back = parse(&out, LIMITS).unwrap();
        assert_eq!(back.child_text("a").as_deref(), Some("x < y & \"z\""));
    }

    #[test]
    fn writer_drops_characters_xml_cannot_carry() {
        let mut w = XmlWriter::new("p", "UTF-8", "\n");
        w.root("r", "urn:n", &[]);
        w.leaf("a", "a\u{1}b\u{FFFF}c");
        w.close();
        let written = w.finish();
        let back = parse(&written, LIMITS).unwrap();
        assert_eq!(back.child_text("a").as_deref(), Some("abc"));
    }
}
