//! Character encodings of МЭДО files: detection and decoding (BOM → declaration → fallback
//! cp1251 ↔ UTF-8) and encoding for writing (windows-1251 or UTF-8). Pure functions over bytes.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1251};

use super::error::WireErrorKind;

/// Text decoded from a file, with the encoding actually used and any warnings on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// The WHATWG name of the encoding used (`UTF-8`, `windows-1251`, …).
    pub encoding: &'static str,
    pub warnings: Vec<String>,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Which encoding a BOM at the start of `bytes` announces, and its length.
fn sniff_bom(bytes: &[u8]) -> Option<(&'static Encoding, usize)> {
    Encoding::for_bom(bytes)
}

/// Decodes `bytes` strictly (no replacement characters) or returns `None`. A byte that a
/// single-byte encoding leaves undefined (windows-1251's 0x98, which the WHATWG table maps
/// to the C1 control U+0098) counts as invalid: no МЭДО text holds C1 controls.
fn decode_strict(encoding: &'static Encoding, bytes: &[u8]) -> Option<String> {
    let text = encoding.decode_without_bom_handling_and_without_replacement(bytes)?;
    if encoding != UTF_8 && has_c1_control(&text) {
        return None;
    }
    Some(text.into_owned())
}

/// Whether text holds a C1 control (U+0080–U+009F): what a single-byte decoder yields for a
/// byte its code page leaves undefined (0x98 in windows-1251). Scans the UTF-8 bytes, where
/// these are exactly `C2 80`–`C2 9F`.
fn has_c1_control(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr_iter(0xC2, bytes).any(|at| matches!(bytes.get(at + 1), Some(0x80..=0x9F)))
}

/// The fallback partner of an encoding: the other of the two МЭДО encodings.
fn fallback_for(encoding: &'static Encoding) -> &'static Encoding {
    if encoding == UTF_8 {
        WINDOWS_1251
    } else {
        UTF_8
    }
}

/// Whether bytes contain anything outside ASCII.
fn has_non_ascii(bytes: &[u8]) -> bool {
    bytes.iter().any(|b| !b.is_ascii())
}

/// Reads the `encoding` pseudo-attribute of an XML declaration from the ASCII-compatible
/// start of a document, if there is one.
pub fn declared_xml_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(512)];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = String::from_utf8_lossy(&head[..end]);
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?;
    let rest = rest.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    let close = value.find(quote)?;
    Some(value[..close].trim().to_string())
}

/// Decodes an XML file: the BOM (a declaration that contradicts it is an error), then the
/// declared encoding, then a fallback (windows-1251 ↔ UTF-8) with a warning. UTF-16 is
/// accepted only with a BOM.
///
/// A file declared windows-1251 whose bytes are valid, non-ASCII UTF-8 is read as UTF-8 with a
/// warning: re-encoding tools often change the bytes but not the declaration, and genuine
/// cp1251 Cyrillic text is practically never valid UTF-8.
pub fn decode_xml(bytes: &[u8]) -> Result<Decoded, WireErrorKind> {
    let mut warnings = Vec::new();
    if let Some((encoding, bom_len)) = sniff_bom(bytes) {
        let body = &bytes[bom_len..];
        let declared = declared_xml_encoding(
            // a UTF-16 document's declaration is not ASCII-readable; only check UTF-8 ones
            if encoding == UTF_8 { body } else { b"" },
        );
        if let Some(label) = declared {
            // XML 1.0 §4.3.3 and Appendix F: an entity presented in an encoding other than
            // the one it declares is a fatal error — which of the two lies cannot be known
            match Encoding::for_label(label.as_bytes()) {
                Some(e) if e == encoding => {}
                _ => {
                    return Err(WireErrorKind::Encoding(format!(
                        "byte order mark says {} but the declaration says {label:?}",
                        encoding.name()
                    )))
                }
            }
        }
        let text = decode_strict(encoding, body).ok_or_else(|| {
            WireErrorKind::Encoding(format!("invalid {} byte sequence", encoding.name()))
        })?;
        return Ok(Decoded {
            text,
            encoding: encoding.name(),
            warnings,
        });
    }
    let declared = declared_xml_encoding(bytes);
    let primary = match &declared {
        Some(label) => match Encoding::for_label(label.as_bytes()) {
            Some(e) if e == UTF_16LE || e == UTF_16BE => {
                // No BOM: the bytes we just read the declaration from are ASCII, so the
                // declaration is wrong. Treat it as UTF-8 family.
                warnings.push(format!(
                    "declared {label:?} but the file has no UTF-16 byte order mark"
                ));
                UTF_8
            }
            Some(e) => e,
            None => {
                warnings.push(format!("unknown declared encoding {label:?}"));
                UTF_8
            }
        },
        None => UTF_8,
    };
    if primary == WINDOWS_1251 && has_non_ascii(bytes) {
        if let Ok(text) = std::str::from_utf8(bytes) {
            warnings.push("declared windows-1251 but the bytes are UTF-8; read as UTF-8".into());
            return Ok(Decoded {
                text: text.to_string(),
                encoding: UTF_8.name(),
                warnings,
            });
        }
    }
    if let Some(text) = decode_strict(primary, bytes) {
        return Ok(Decoded {
            text,
            encoding: primary.name(),
            warnings,
        });
    }
    let fallback = fallback_for(primary);
    if let Some(text) = decode_strict(fallback, bytes) {
        let said = declared.as_deref().unwrap_or("nothing (UTF-8 implied)");
        warnings.push(format!(
            "declared {said} but the bytes are not valid {}; read as {}",
            primary.name(),
            fallback.name()
        ));
        return Ok(Decoded {
            text,
            encoding: fallback.name(),
            warnings,
        });
    }
    Err(WireErrorKind::Encoding(format!(
        "invalid {} byte sequence (and not {} either)",
        primary.name(),
        fallback.name()
    )))
}

/// Decodes an envelope: UTF-8 when it has a UTF-8 BOM or is valid UTF-8 with non-ASCII
/// characters, windows-1251 otherwise (the МЭДО default).
pub fn decode_envelope(bytes: &[u8]) -> Result<Decoded, WireErrorKind> {
    if let Some(body) = bytes.strip_prefix(UTF8_BOM) {
        let text = std::str::from_utf8(body)
            .map_err(|e| WireErrorKind::Encoding(format!("UTF-8 BOM but invalid UTF-8: {e}")))?;
        return Ok(Decoded {
            text: text.to_string(),
            encoding: UTF_8.name(),
            warnings: Vec::new(),
        });
    }
    if let Some((encoding, _)) = sniff_bom(bytes) {
        return Err(WireErrorKind::Encoding(format!(
            "{} envelopes are not supported",
            encoding.name()
        )));
    }
    if has_non_ascii(bytes) {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return Ok(Decoded {
                text: text.to_string(),
                encoding: UTF_8.name(),
                warnings: vec!["envelope is UTF-8, not the usual windows-1251".into()],
            });
        }
    }
    let text = decode_strict(WINDOWS_1251, bytes)
        .ok_or_else(|| WireErrorKind::Encoding("invalid windows-1251 byte".into()))?;
    Ok(Decoded {
        text,
        encoding: WINDOWS_1251.name(),
        warnings: Vec::new(),
    })
}

/// Encodes text as windows-1251. Characters cp1251 cannot represent become `?` in plain
/// text (envelopes); use [`encode_cp1251_xml`] for XML, where they become character references.
pub fn encode_cp1251_plain(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut buf = [0u8; 4];
    for ch in text.chars() {
        let s = ch.encode_utf8(&mut buf);
        let (bytes, _, unmappable) = WINDOWS_1251.encode(s);
        if unmappable {
            out.push(b'?');
        } else {
            out.extend_from_slice(&bytes);
        }
    }
    out
}

/// Encodes XML text as windows-1251; characters outside cp1251 become numeric character
/// references (`&#NNNN;`), which keeps the document exact.
pub fn encode_cp1251_xml(text: &str) -> Vec<u8> {
    WINDOWS_1251.encode(text).0.into_owned()
}

/// A file or folder name as people read it: UTF-8 as it is; other bytes — VipNet on Linux
/// writes names in windows-1251 — decoded as windows-1251. Control characters escaped.
pub fn display_name(name: &std::ffi::OsStr) -> String {
    match name.to_str() {
        Some(s) => escape_controls(s),
        None => escape_controls(&cp1251_name(name.as_encoded_bytes())),
    }
}

/// The windows-1251 reading of a name's bytes.
pub fn cp1251_name(bytes: &[u8]) -> String {
    encoding_rs::WINDOWS_1251
        .decode_without_bom_handling(bytes)
        .0
        .into_owned()
}

/// A name for people and the journal: control characters escaped (`\u{7}`, `\n`), everything
/// else — Cyrillic included — as it is.
pub fn escape_controls(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declaration_is_read_with_either_quote() {
        assert_eq!(
            declared_xml_encoding(b"<?xml version=\"1.0\" encoding='windows-1251'?><a/>")
                .as_deref(),
            Some("windows-1251")
        );
        assert_eq!(declared_xml_encoding(b"<a/>"), None);
    }

    #[test]
    fn cp1251_declared_and_cp1251_bytes() {
        let mut bytes = b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><a>".to_vec();
        bytes.extend(encode_cp1251_plain("Привет"));
        bytes.extend(b"</a>");
        let d = decode_xml(&bytes).unwrap();
        assert_eq!(d.encoding, "windows-1251");
        assert!(d.text.contains("Привет"));
        assert!(d.warnings.is_empty());
    }

    #[test]
    fn cp1251_declared_but_utf8_bytes_is_read_as_utf8_with_warning() {
        let bytes = "<?xml version=\"1.0\" encoding=\"windows-1251\"?><a>Привет</a>".as_bytes();
        let d = decode_xml(bytes).unwrap();
        assert_eq!(d.encoding, "UTF-8");
        assert!(d.text.contains("Привет"));
        assert_eq!(d.warnings.len(), 1);
    }

    #[test]
    fn utf8_declared_but_cp1251_bytes_falls_back_with_warning() {
        let mut bytes = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>".to_vec();
        bytes.extend(encode_cp1251_plain("Привет"));
        bytes.extend(b"</a>");
        let d = decode_xml(&bytes).unwrap();
        assert_eq!(d.encoding, "windows-1251");
        assert!(d.text.contains("Привет"));
        assert_eq!(d.warnings.len(), 1);
    }

    #[test]
    fn a_bom_that_contradicts_the_declaration_is_an_error() {
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend("<?xml version=\"1.0\" encoding=\"windows-1251\"?><a>Да</a>".as_bytes());
        assert!(matches!(
            decode_xml(&bytes),
            Err(WireErrorKind::Encoding(_))
        ));
        let mut agreeing = UTF8_BOM.to_vec();
        agreeing.extend("<?xml version=\"1.0\" encoding=\"utf-8\"?><a>Да</a>".as_bytes());
        let d = decode_xml(&agreeing).unwrap();
        assert_eq!((d.encoding, d.warnings.len()), ("UTF-8", 0));
    }

    #[test]
    fn utf16_with_bom_is_decoded() {
        let text = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><a>Да</a>";
        let mut bytes = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            bytes.extend(unit.to_le_bytes());
        }
        let d = decode_xml(&bytes).unwrap();
        assert_eq!(d.encoding, "UTF-16LE");
        assert_eq!(d.text, text);
    }

    #[test]
    fn invalid_utf8_after_utf8_bom_is_an_error() {
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend(b"<a>\xC3\x28</a>");
        assert!(matches!(
            decode_xml(&bytes),
            Err(WireErrorKind::Encoding(_))
        ));
    }

    #[test]
    fn envelope_detects_cp1251_and_utf8() {
        let cp = encode_cp1251_plain("[ПИСЬМО КП ПС СЗИ]\r\n");
        assert_eq!(decode_envelope(&cp).unwrap().encoding, "windows-1251");
        let utf = "[ПИСЬМО КП ПС СЗИ]\n".as_bytes();
        assert_eq!(decode_envelope(utf).unwrap().encoding, "UTF-8");
        let mut bom = UTF8_BOM.to_vec();
        bom.extend(utf);
        let d = decode_envelope(&bom).unwrap();
        assert_eq!(d.text, "[ПИСЬМО КП ПС СЗИ]\n");
    }

    #[test]
    fn c1_controls_are_found_in_utf8_bytes() {
        assert!(has_c1_control("a\u{98}b"));
        assert!(has_c1_control("\u{80}"));
        assert!(has_c1_control("«\u{9f}"));
        assert!(!has_c1_control("«Привет» № \u{a0}\u{7f}"));
        // the undefined windows-1251 byte decodes to U+0098 and is refused
        assert_eq!(decode_strict(WINDOWS_1251, b"ab\x98"), None);
        assert!(decode_strict(WINDOWS_1251, b"ab\xab\xb9").is_some());
    }

    proptest::proptest! {
        #[test]
        fn c1_scan_agrees_with_a_char_scan(text in "\\PC*", extra in proptest::char::range('\u{70}', '\u{c0}')) {
            let with = format!("{text}{extra}");
            for t in [text.as_str(), with.as_str()] {
                let by_chars = t.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c));
                proptest::prop_assert_eq!(has_c1_control(t), by_chars);
            }
        }
    }

    #[test]
    fn unmappable_characters() {
        assert_eq!(encode_cp1251_plain("a€b✓"), b"a\x88b?".to_vec());
        assert_eq!(encode_cp1251_xml("✓"), b"&#10003;".to_vec());
    }

    #[test]
    fn only_control_characters_are_escaped() {
        assert_eq!(escape_controls("П-У-738 пакет"), "П-У-738 пакет");
        assert_eq!(escape_controls("a\u{7}b\nc"), "a\\u{7}b\\nc");
    }
}
