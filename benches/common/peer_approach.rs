//! The public Rust peer's published approach to reading a MEDO package (`P40b0s/copy_from_in`,
//! `libs/medo_parser`), rebuilt here from its description so the bench can run it on the same
//! inputs, same machine, same run — the peer itself needs git dependencies this machine cannot
//! fetch. Written for this bench; none of the peer's code is copied.
//!
//! What the peer does per package, and so what this does:
//! * lists the folder; for the `.ltr`/`.ini` envelope, decodes it from windows-1251 and splits
//!   it into sections and `key=value` lines;
//! * for the `.xml` file, decodes it (UTF-8, or windows-1251 when the declaration says so),
//!   strips every namespace prefix the document declares (text replacement), and deserialises
//!   it with `quick_xml::de` into typed structs (header, document, files, container);
//! * when the message names a ZIP container, **extracts every entry to disk** (a `container`
//!   folder; here one per package under a scratch root, so the package folder stays as the
//!   gateway reads it) and deserialises the first `.xml` entry (the passport) the same way.
//!
//! It hashes nothing, checks no limits, and keeps fewer fields than the gateway: the bench's
//! comparison favours it.

use std::fs;
use std::io;
use std::path::Path;

use serde::Deserialize;

#[derive(Deserialize)]
#[allow(dead_code)]
pub struct Communication {
    #[serde(rename = "@version")]
    version: Option<String>,
    header: Option<Header>,
    document: Option<Document>,
    files: Option<Files>,
    container: Option<ContainerRef>,
    acknowledgment: Option<Acknowledgment>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Header {
    #[serde(rename = "@type")]
    kind: Option<String>,
    #[serde(rename = "@uid")]
    uid: Option<String>,
    #[serde(rename = "@created")]
    created: Option<String>,
    source: Option<Source>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Source {
    #[serde(rename = "@uid")]
    uid: Option<String>,
    organization: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Document {
    #[serde(rename = "@uid")]
    uid: Option<String>,
    kind: Option<String>,
    num: Option<Num>,
    signatories: Option<Signatories>,
    addressees: Option<Addressees>,
    pages: Option<String>,
    annotation: Option<String>,
    correspondents: Option<Correspondents>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Num {
    number: Option<String>,
    date: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Signatories {
    #[serde(default)]
    signatory: Vec<Person>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Person {
    organization: Option<String>,
    person: Option<String>,
    post: Option<String>,
    signed: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Addressees {
    #[serde(default)]
    addressee: Vec<Person>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Correspondents {
    #[serde(default)]
    correspondent: Vec<Correspondent>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Correspondent {
    organization: Option<String>,
    num: Option<Num>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Files {
    #[serde(default)]
    file: Vec<FileRef>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct FileRef {
    #[serde(rename = "@localName")]
    local_name: Option<String>,
    group: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct ContainerRef {
    body: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Acknowledgment {
    #[serde(rename = "@uid")]
    uid: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
pub struct Passport {
    #[serde(rename = "@uid")]
    uid: Option<String>,
    requisites: Option<Requisites>,
    authors: Option<Authors>,
    addressees: Option<PassportAddressees>,
    document: Option<LocalFile>,
    attachments: Option<Attachments>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Requisites {
    #[serde(rename = "documentKind")]
    document_kind: Option<String>,
    annotation: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Authors {
    #[serde(default)]
    author: Vec<Author>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Author {
    organization: Option<Organization>,
    registration: Option<Num>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Organization {
    title: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PassportAddressees {
    #[serde(default)]
    addressee: Vec<PassportAddressee>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PassportAddressee {
    organization: Option<Organization>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct LocalFile {
    #[serde(rename = "@localName")]
    local_name: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Attachments {
    #[serde(default)]
    attachment: Vec<LocalFile>,
}

/// What the approach yields for one package (kept so the work is not optimised away).
#[allow(dead_code)]
pub struct Parsed {
    pub envelope: Vec<(String, String)>,
    pub communication: Communication,
    pub passport: Option<Passport>,
    pub files: Vec<String>,
}

/// Decodes as the declaration says: windows-1251 when it says so, else UTF-8 (BOM dropped).
fn decode(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(100)];
    let cp1251 = head
        .windows(12)
        .any(|w| w.eq_ignore_ascii_case(b"windows-1251"));
    match cp1251 {
        true => encoding_rs::WINDOWS_1251.decode(bytes).0.into_owned(),
        false => encoding_rs::UTF_8.decode(bytes).0.into_owned(),
    }
}

/// Removes every `prefix:` the document declares with `xmlns:prefix=`.
fn strip_namespaces(xml: &str) -> String {
    let mut out = xml.to_string();
    let prefixes: Vec<String> = xml
        .split("xmlns:")
        .skip(1)
        .filter_map(|rest| rest.split_once('=').map(|(p, _)| format!("{p}:")))
        .collect();
    for p in prefixes {
        out = out.replace(&p, "");
    }
    out
}

fn envelope(bytes: &[u8]) -> Vec<(String, String)> {
    let text = encoding_rs::WINDOWS_1251.decode(bytes).0;
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.trim_matches(['[', ']']).to_string();
        } else if let Some((k, v)) = line.split_once('=') {
            out.push((format!("{section}/{k}"), v.to_string()));
        }
    }
    out
}

fn deserialize<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> io::Result<T> {
    let xml = strip_namespaces(&decode(bytes));
    quick_xml::de::from_str(&xml).map_err(|e| io::Error::other(e.to_string()))
}

/// Extracts every entry of `zip` into `into` and deserialises the first `.xml` entry.
fn unzip(zip: &Path, into: &Path, files: &mut Vec<String>) -> io::Result<Option<Passport>> {
    fs::create_dir_all(into)?;
    let mut archive = zip::ZipArchive::new(fs::File::open(zip)?).map_err(io::Error::other)?;
    let mut passport = None;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(io::Error::other)?;
        let Some(name) = entry.enclosed_name() else {
            continue;
        };
        let path = into.join(&name);
        io::copy(&mut entry, &mut fs::File::create(&path)?)?;
        if passport.is_none() && path.extension().is_some_and(|e| e == "xml") {
            passport = Some(path);
        }
        files.push(format!("container/{}", name.display()));
    }
    passport.map(|p| deserialize(&fs::read(p)?)).transpose()
}

/// Reads the package in `dir` the peer's way; a container is extracted under `scratch`.
pub fn parse(dir: &Path, scratch: &Path) -> io::Result<Parsed> {
    let mut files = Vec::new();
    let (mut env, mut communication) = (None, None);
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        files.push(path.file_name().unwrap().to_string_lossy().into_owned());
        match path.extension().and_then(|e| e.to_str()) {
            Some("ltr" | "ini") => env = Some(envelope(&fs::read(&path)?)),
            Some("xml") => communication = Some(deserialize::<Communication>(&fs::read(&path)?)?),
            _ => {}
        }
    }
    let communication = communication.ok_or_else(|| io::Error::other("no .xml"))?;
    let body = communication
        .container
        .as_ref()
        .and_then(|c| c.body.clone());
    let passport = match body {
        Some(zip) => unzip(&dir.join(zip), &scratch.join("container"), &mut files)?,
        None => None,
    };
    Ok(Parsed {
        envelope: env.ok_or_else(|| io::Error::other("no envelope"))?,
        communication,
        passport,
        files,
    })
}
