//! The VipNet transport envelope (`envelope.ini` / `envelope.ltr`, any single `*.ini`/`*.ltr`):
//! an INI file, windows-1251 by default, CRLF or LF, with a main section (`[ПИСЬМО КП ПС СЗИ]`,
//! matched leniently), `[АДРЕСАТЫ]`, `[ФАЙЛЫ]` and optional `[ТЕКСТ]`.
//! Pure: bytes in, bytes out.

use serde::Serialize;
use time::PrimitiveDateTime;

use super::error::WireErrorKind;
use super::text::{decode_envelope, encode_cp1251_plain};
use super::time::{format_envelope_date, parse_envelope_date};

/// The canonical name of the main section.
pub const MAIN_SECTION: &str = "ПИСЬМО КП ПС СЗИ";
const ADDRESSEES: &str = "АДРЕСАТЫ";
const FILES: &str = "ФАЙЛЫ";
const TEXT: &str = "ТЕКСТ";

/// A parsed envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Envelope {
    /// The main section's title as written (e.g. `ПСИЬМО КП ПС СЗИ` in quirky traffic).
    pub main_section: Option<String>,
    /// `ТЕМА`: the subject.
    pub subject: Option<String>,
    /// `ДАТА` as written (`dd.MM.yyyy HH:mm:ss`).
    pub date: Option<String>,
    /// Keys of the main section in file order (`ТЕМА`, `ДАТА`, `ЭЦП`, …).
    pub fields: Vec<(String, String)>,
    /// Transport (VipNet) addresses from `[АДРЕСАТЫ]`, in key order.
    pub addressees: Vec<String>,
    /// Files from `[ФАЙЛЫ]`, in key order, reduced to their base names.
    pub files: Vec<String>,
    /// `[ТЕКСТ] ФАЙЛ=`, reduced to its base name.
    pub text_file: Option<String>,
    /// The encoding the envelope was read in.
    pub encoding: &'static str,
    /// Non-fatal oddities met while reading.
    pub warnings: Vec<String>,
}

impl Envelope {
    /// `ДАТА`, when it parses.
    pub fn parsed_date(&self) -> Option<PrimitiveDateTime> {
        self.date.as_deref().and_then(parse_envelope_date)
    }
}

/// Whether a section title is the main `[ПИСЬМО …]` one, matched like the prior art:
/// the first word is six letters from {П,И,С,Ь,М,О} (catches `ПСИЬМО`), extra brackets ignored.
pub fn is_main_section(title: &str) -> bool {
    let first = title.split_whitespace().next().unwrap_or("");
    // per character, without allocating (a character whose upper case is several characters
    // is never one of the six letters, so this agrees with upper-casing the word first)
    first.chars().count() == 6
        && first
            .chars()
            .all(|c| c.to_uppercase().all(|u| "ПИСЬМО".contains(u)))
}

/// Whether a key, upper-cased, is `upper` (compared per character, without allocating).
fn is_key(key: &str, upper: &str) -> bool {
    key.chars().flat_map(char::to_uppercase).eq(upper.chars())
}

/// Normalises a section header line (`[[ПИСЬМО КП ПС СЗИ]` → `ПИСЬМО КП ПС СЗИ`).
fn section_title(line: &str) -> Option<String> {
    let t = line.trim();
    if !t.starts_with('[') {
        return None;
    }
    Some(t.trim_matches(|c| c == '[' || c == ']').trim().to_string())
}

/// Reduces a `[ФАЙЛЫ]` entry to its base name. Windows (`C:\…\x.pdf`) and Unix prefixes are
/// dropped; an entry with `..` components, control characters or no name is refused.
pub fn file_base_name(entry: &str) -> Result<String, WireErrorKind> {
    let entry = entry.trim();
    let unsafe_name = |why| WireErrorKind::UnsafeName(entry.to_string(), why);
    if entry.chars().any(|c| c.is_control()) {
        return Err(unsafe_name("control character"));
    }
    let parts: Vec<&str> = entry.split(['/', '\\']).collect();
    if parts.iter().any(|p| p.trim() == "..") {
        return Err(unsafe_name("refers to a parent folder"));
    }
    let base = parts.last().copied().unwrap_or("").trim();
    if base.is_empty() || base == "." {
        return Err(unsafe_name("no file name"));
    }
    if base.contains(':') {
        return Err(unsafe_name("drive or stream designator"));
    }
    if base.len() > 255 {
        return Err(unsafe_name("longer than 255 bytes"));
    }
    Ok(base.to_string())
}

/// Sorts key/value entries of a numbered section by numeric key; non-numeric keys keep their
/// place after the numbered ones.
fn by_number(
    entries: Vec<(String, String)>,
    warnings: &mut Vec<String>,
    section: &str,
) -> Vec<String> {
    let mut numbered: Vec<(u64, String)> = Vec::new();
    let mut other = Vec::new();
    for (k, v) in entries {
        match k.trim().parse::<u64>() {
            Ok(n) => numbered.push((n, v)),
            Err(_) => {
                warnings.push(format!("[{section}] has a non-numeric key {k:?}"));
                other.push(v);
            }
        }
    }
    numbered.sort_by_key(|(n, _)| *n);
    numbered.into_iter().map(|(_, v)| v).chain(other).collect()
}

/// The sections of an envelope as read, line by line: entries per section, in file order.
#[derive(Default)]
struct Sections {
    main_section: Option<String>,
    fields: Vec<(String, String)>,
    addressees: Vec<(String, String)>,
    files: Vec<(String, String)>,
    text: Vec<(String, String)>,
}

/// Parses an envelope. `own_name` is the envelope's file name, which must not be listed.
pub fn parse(bytes: &[u8], own_name: &str, max_files: usize) -> Result<Envelope, WireErrorKind> {
    let decoded = decode_envelope(bytes)?;
    let mut warnings = decoded.warnings;
    let sections = read_sections(&decoded.text, max_files, &mut warnings)?;
    let addressees = by_number(sections.addressees, &mut warnings, ADDRESSEES)
        .into_iter()
        .filter(|a| !a.is_empty())
        .collect();
    let names = listed_files(sections.files, own_name, &mut warnings)?;
    let text_file = sections
        .text
        .into_iter()
        .find(|(k, _)| is_key(k, "ФАЙЛ"))
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
        .map(|v| file_base_name(&v))
        .transpose()?;
    let fields = sections.fields;
    let field = |key: &str| {
        fields
            .iter()
            .find(|(k, _): &&(String, String)| is_key(k, key))
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let (subject, date) = (field("ТЕМА"), field("ДАТА"));
    if let Some(d) = date.as_deref().filter(|d| parse_envelope_date(d).is_none()) {
        warnings.push(format!("ДАТА {d:?} is not dd.MM.yyyy HH:mm:ss"));
    }
    Ok(Envelope {
        main_section: sections.main_section,
        subject,
        date,
        fields,
        addressees,
        files: names,
        text_file,
        encoding: decoded.encoding,
        warnings,
    })
}

/// Reads the lines into their sections (comments and blank lines skipped; a line that is not
/// `key=value`, or outside any section, is a warning); at most `max_files` `[ФАЙЛЫ]` entries.
fn read_sections(
    text: &str,
    max_files: usize,
    warnings: &mut Vec<String>,
) -> Result<Sections, WireErrorKind> {
    let mut s = Sections::default();
    let mut current: Option<String> = None;
    let mut in_main_section = false;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r').trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(title) = section_title(line) {
            let upper = title.to_uppercase();
            in_main_section = is_main_section(&upper);
            if in_main_section && s.main_section.is_none() {
                if current.is_some() {
                    warnings.push("main section is not the first section".into());
                }
                s.main_section = Some(title.clone());
            } else if ![ADDRESSEES, FILES, TEXT].contains(&upper.as_str()) {
                warnings.push(format!("unknown section [{title}]"));
            }
            current = Some(upper);
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            warnings.push(format!("line {} is not key=value", n + 1));
            continue;
        };
        let entry = (key.trim().to_string(), value.trim().to_string());
        match current.as_deref() {
            Some(_) if in_main_section => s.fields.push(entry),
            Some(ADDRESSEES) => s.addressees.push(entry),
            Some(FILES) if s.files.len() >= max_files => {
                return Err(WireErrorKind::TooLarge {
                    what: "[ФАЙЛЫ] entry count",
                    limit: max_files as u64,
                })
            }
            Some(FILES) => s.files.push(entry),
            Some(TEXT) => s.text.push(entry),
            Some(_) => {}
            None => warnings.push(format!("line {} is outside any section", n + 1)),
        }
    }
    if s.main_section.is_none() {
        warnings.push(format!("no [{MAIN_SECTION}] section"));
    }
    Ok(s)
}

/// The `[ФАЙЛЫ]` entries in number order, reduced to base names: the envelope itself is
/// refused, a name listed twice read once, two names differing only in case refused.
fn listed_files(
    files: Vec<(String, String)>,
    own_name: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<String>, WireErrorKind> {
    let mut names: Vec<String> = Vec::new();
    for entry in by_number(files, warnings, FILES) {
        if entry.is_empty() {
            warnings.push("[ФАЙЛЫ] has an empty entry".into());
            continue;
        }
        let base = file_base_name(&entry)?;
        if base.eq_ignore_ascii_case(own_name) {
            return Err(WireErrorKind::Envelope(format!(
                "[ФАЙЛЫ] lists the envelope itself ({base})"
            )));
        }
        // the same name listed twice is a known quirk of some senders: read once; two
        // names that differ only in case are not the same file on every system: refused
        if names.contains(&base) {
            warnings.push(format!("[ФАЙЛЫ] lists {base} twice; read once"));
            continue;
        }
        let lower = base.to_lowercase();
        if names.iter().any(|n| n.to_lowercase() == lower) {
            return Err(WireErrorKind::Envelope(format!(
                "[ФАЙЛЫ] lists {base} twice (in another case)"
            )));
        }
        if base != entry {
            warnings.push(format!(
                "[ФАЙЛЫ] entry {entry:?} carries a path; using {base:?}"
            ));
        }
        names.push(base);
    }
    Ok(names)
}

/// What an outgoing envelope says. The writer fills in the fixed transport flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEnvelope {
    /// `ТЕМА`, e.g. `ЭСД МЭДО (Квитанция)`.
    pub subject: String,
    /// `ДАТА` (local time of the gateway).
    pub date: PrimitiveDateTime,
    /// Transport addresses of the recipients.
    pub addressees: Vec<String>,
    /// Payload files (written first, in this order).
    pub payload: Vec<String>,
    /// The communication XML (written last).
    pub message_file: String,
    /// Optional `[ТЕКСТ] ФАЙЛ=`.
    pub text_file: Option<String>,
}

/// Writes an envelope: windows-1251, CRLF, keys numbered from 0, the XML listed last,
/// empty values left out.
pub fn write(envelope: &OutgoingEnvelope) -> Vec<u8> {
    let date = format_envelope_date(envelope.date);
    let main = [
        ("ТЕМА", envelope.subject.as_str()),
        ("ШИФРОВАНИЕ", "0"),
        ("АВТООТПРАВКА", "1"),
        ("ЭЦП", "1"),
        ("ДОСТАВЛЕНО", "1"),
        ("ПРОЧТЕНО", "1"),
        ("ДАТА", date.as_str()),
    ];
    let mut text = format!("[{MAIN_SECTION}]\r\n");
    for (key, value) in main.iter().filter(|(_, v)| !v.trim().is_empty()) {
        text.push_str(&format!("{key}={}\r\n", value.trim()));
    }
    text.push_str(&numbered(
        ADDRESSEES,
        envelope.addressees.iter().map(String::as_str),
    ));
    let files = envelope
        .payload
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(envelope.message_file.as_str()));
    text.push_str(&numbered(FILES, files));
    if let Some(t) = envelope
        .text_file
        .as_deref()
        .filter(|t| !t.trim().is_empty())
    {
        text.push_str(&format!("[{TEXT}]\r\nФАЙЛ={}\r\n", t.trim()));
    }
    encode_cp1251_plain(&text)
}

/// A numbered section, gap-free from 0, blank values left out.
fn numbered<'a>(title: &str, values: impl Iterator<Item = &'a str>) -> String {
    let mut s = format!("[{title}]\r\n");
    for (i, v) in values.filter(|v| !v.trim().is_empty()).enumerate() {
        s.push_str(&format!("{i}={}\r\n", v.trim()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::encode_cp1251_plain;

    #[test]
    fn lenient_main_section() {
        assert!(is_main_section("ПИСЬМО КП ПС СЗИ"));
        assert!(is_main_section("ПСИЬМО КП ПС СЗИ"));
        assert!(is_main_section("письмо"));
        assert!(!is_main_section("ФАЙЛЫ"));
        assert!(!is_main_section("АДРЕСАТЫ"));
    }

    #[test]
    fn quirky_envelope_reads() {
        let text = "[[ПСИЬМО КП ПС СЗИ]\nТЕМА=Тест\r\nДАТА=30.03.2023 16:16:52\n[ФАЙЛЫ]\r\n1=C:\\Temp\\out\\document.xml\n0=/var/medo/text0.pdf\n[АДРЕСАТЫ]\n0=WH-MEDO~APRF\n[ТЕКСТ]\nФАЙЛ=annotation.txt\n";
        let env = parse(&encode_cp1251_plain(text), "envelope.ini", 100).unwrap();
        assert_eq!(env.main_section.as_deref(), Some("ПСИЬМО КП ПС СЗИ"));
        assert_eq!(env.subject.as_deref(), Some("Тест"));
        assert_eq!(env.files, vec!["text0.pdf", "document.xml"]);
        assert_eq!(env.addressees, vec!["WH-MEDO~APRF"]);
        assert_eq!(env.text_file.as_deref(), Some("annotation.txt"));
        assert!(env.parsed_date().is_some());
        assert_eq!(env.encoding, "windows-1251");
    }

    /// Issue 26 item 15: the same name listed twice is read once, with a warning.
    #[test]
    fn a_file_listed_twice_is_read_once() {
        let env = parse(
            "[ФАЙЛЫ]\n0=a.pdf\n1=document.xml\n2=a.pdf\n".as_bytes(),
            "envelope.ini",
            100,
        )
        .unwrap();
        assert_eq!(env.files, ["a.pdf", "document.xml"]);
        assert!(
            env.warnings.iter().any(|w| w.contains("twice")),
            "{:?}",
            env.warnings
        );
    }

    #[test]
    fn escaping_and_duplicate_entries_are_refused() {
        for bad in [
            "[ФАЙЛЫ]\n0=..\\..\\x.pdf\n",
            "[ФАЙЛЫ]\n0=../x.pdf\n",
            "[ФАЙЛЫ]\n0=a.pdf\n1=A.PDF\n",
            "[ФАЙЛЫ]\n0=envelope.ini\n",
            "[ФАЙЛЫ]\n0=C:\\dir\\\n",
            "[ФАЙЛЫ]\n0=a\u{7}b.pdf\n",
        ] {
            assert!(parse(bad.as_bytes(), "envelope.ini", 100).is_err(), "{bad}");
        }
    }

    #[test]
    fn written_envelope_reads_back() {
        let out = OutgoingEnvelope {
            subject: "ЭСД МЭДО (Квитанция)".into(),
            date: parse_envelope_date("15.03.2024 11:05:02").unwrap(),
            addressees: vec!["EXAMPLE_SNDR~MEDO".into(), "".into()],
            payload: vec!["a.pdf".into()],
            message_file: "document.xml".into(),
            text_file: None,
        };
        let bytes = write(&out);
        let text = encoding_rs::WINDOWS_1251.decode(&bytes).0;
        assert!(text.starts_with("[ПИСЬМО КП ПС СЗИ]\r\nТЕМА=ЭСД МЭДО (Квитанция)\r\n"));
        assert!(text.contains("[ФАЙЛЫ]\r\n0=a.pdf\r\n1=document.xml\r\n"));
        assert!(!text.contains("\n\n") && !text.contains("=\r\n"));
        let env = parse(&bytes, "envelope.ini", 10).unwrap();
        assert_eq!(env.addressees, vec!["EXAMPLE_SNDR~MEDO"]);
        assert_eq!(env.files, vec!["a.pdf", "document.xml"]);
        assert!(env.warnings.is_empty(), "{:?}", env.warnings);
    }
}
