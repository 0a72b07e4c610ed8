//! Reading a whole package folder: envelope → communication XML → files → container.
//! Produces a [`Package`] with everything the gateway (and `inspect`) needs, or a
//! [`WireError`] naming the file and the problem. Reads only regular files directly inside the
//! given folder; never follows a name out of it; never writes.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use serde::Serialize;

use super::container::{read_container, ContainerInfo};
use super::envelope::{self, file_base_name, Envelope};
use super::error::{WireError, WireErrorKind};
use super::hash::{sha256_bytes, FileHasher};
use super::known::Known;
use super::limits::Limits;
use super::message::{Body, Message};
use super::read::{
    decode_xml_bounded, is_communication, message_from_root, xml_tree, ParsedMessage,
};

/// A file of the package folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageFile {
    pub name: String,
    pub size: u64,
    pub sha256: String,
    /// Listed under `[ФАЙЛЫ]`.
    pub listed: bool,
}

/// A package read from its folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    pub envelope_file: String,
    pub envelope: Envelope,
    pub message_file: String,
    pub message_encoding: &'static str,
    pub message: Message,
    /// Every regular file in the folder except the envelope, hashed.
    pub files: Vec<PackageFile>,
    /// Files named by the envelope or the message that the folder lacks.
    pub missing: Vec<String>,
    pub container_file: Option<String>,
    pub container: Option<ContainerInfo>,
    pub warnings: Vec<String>,
}

use crate::member::{io_error, read_open, SMALL_FILE_BYTES};
pub use crate::member::{is_envelope_name, open_member, read_member};

/// Regular files directly in `dir`, sorted by name. Symlinks, FIFOs, sockets, devices and
/// sub-folders are refused (by the directory entry's type, no extra stat), and so are names that
/// are not UTF-8 or hold control characters: a package is a flat folder of plain files.
/// Hard links are refused when a file is opened ([`open_member`]), on the open file itself.
pub fn list_files(dir: &Path, limits: &Limits) -> Result<Vec<String>, WireError> {
    let mut files = Vec::new();
    let read = fs::read_dir(dir).map_err(|e| io_error("-", e))?;
    for entry in read {
        let entry = entry.map_err(|e| io_error("-", e))?;
        if files.len() >= limits.max_package_files {
            return Err(WireError::new(
                "-",
                WireErrorKind::TooLarge {
                    what: "files in the package folder",
                    limit: limits.max_package_files as u64,
                },
            ));
        }
        let name = entry.file_name().into_string().map_err(|raw| {
            let shown = raw.to_string_lossy().into_owned();
            WireError::new(
                &shown,
                WireErrorKind::UnsafeName(shown.clone(), "file name is not UTF-8"),
            )
        })?;
        if name.chars().any(|c| c.is_control()) {
            return Err(WireError::new(
                super::text::escape_controls(&name),
                WireErrorKind::UnsafeName(name.clone(), "control character in file name"),
            ));
        }
        // the directory entry's own type (not following symlinks); no extra stat on Linux
        let file_type = entry.file_type().map_err(|e| io_error(&name, e))?;
        if !file_type.is_file() {
            return Err(WireError::new(
                &name,
                WireErrorKind::NotRegularFile(name.clone()),
            ));
        }
        files.push(name);
    }
    files.sort();
    Ok(files)
}

/// The first `max` bytes of an entry of the package's container `zip` (opened through
/// [`open_member`]).
pub fn container_entry_head(dir: &Path, zip: &str, entry: &str, max: usize) -> Option<Vec<u8>> {
    super::container::entry_head(open_member(dir, zip).ok()?.0, entry, max)
}

/// The whole of a small entry of the package's container `zip`, at most `max` bytes.
pub fn container_entry(dir: &Path, zip: &str, entry: &str, max: u64) -> Option<Vec<u8>> {
    super::container::entry_bytes(open_member(dir, zip).ok()?.0, entry, max)
}

/// Copies one file of the package folder — or, with `zip`, one entry of that container — into
/// `out`, at most `max` bytes (more is an error: nothing past it is read). Returns the length
/// and SHA-256 of what was copied, so the caller can tell it from what arrived.
pub fn copy_member(
    dir: &Path,
    name: &str,
    zip: Option<&str>,
    max: u64,
    out: &mut dyn io::Write,
) -> Result<(u64, String), WireError> {
    let too_large = |what: &str| {
        WireError::new(
            what,
            WireErrorKind::TooLarge {
                what: "file size",
                limit: max,
            },
        )
    };
    let mut copy = |reader: &mut dyn Read, what: &str| {
        let mut hashing = super::hash::HashingReader::new(reader.take(max + 1));
        io::copy(&mut hashing, out).map_err(|e| io_error(what, e))?;
        let (sha256, len) = hashing.finish();
        match len > max {
            true => Err(too_large(what)),
            false => Ok((len, sha256)),
        }
    };
    match zip {
        None => {
            let base = file_base_name(name).map_err(|k| WireError::new(name, k))?;
            copy(&mut open_member(dir, &base)?.0, &base)
        }
        Some(zip) => {
            let file = open_member(dir, zip)?.0;
            super::container::with_entry(file, name, |entry| copy(entry, name))
                .map_err(|k| WireError::new(format!("{zip}/{name}"), k))?
        }
    }
}

/// Copies entries of the package's container `zip` into `out` (created new).
pub fn extract_container_entries(
    dir: &Path,
    zip: &str,
    entries: &[&str],
    out: &Path,
    limits: &Limits,
) -> Result<(), WireError> {
    let (file, _) = open_member(dir, zip)?;
    super::container::extract_entries(file, entries, out, limits)
        .map_err(|k| WireError::new(zip, k))
}

/// A package file of at most `limit` bytes: the bytes the package key kept, else read.
fn read_bounded<'k>(
    dir: &Path,
    name: &str,
    limit: u64,
    what: &'static str,
    known: &'k Known,
) -> Result<Cow<'k, [u8]>, WireError> {
    let too_large = || WireError::new(name, WireErrorKind::TooLarge { what, limit });
    if let Some(bytes) = known.checked(name).and_then(|f| f.bytes.as_deref()) {
        return match bytes.len() as u64 <= limit {
            true => Ok(Cow::Borrowed(bytes)),
            false => Err(too_large()),
        };
    }
    let (file, len) = open_member(dir, name)?;
    let mut bytes = Vec::new();
    if !read_open(file, len, limit, &mut bytes).map_err(|e| io_error(name, e))? {
        return Err(too_large());
    }
    Ok(Cow::Owned(bytes))
}

/// Finds the single envelope among the folder's files.
fn find_envelope(files: &[String]) -> Result<String, WireError> {
    let envelopes: Vec<&String> = files.iter().filter(|n| is_envelope_name(n)).collect();
    match envelopes.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(WireError::new(
            "-",
            WireErrorKind::Envelope("no *.ini or *.ltr envelope".into()),
        )),
        many => Err(WireError::new(
            "-",
            WireErrorKind::Envelope(format!(
                "{} envelopes ({}); expected exactly one",
                many.len(),
                many.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        )),
    }
}

/// Picks and parses the communication XML: XML files listed in `[ФАЙЛЫ]` in order (then
/// unlisted ones), the first whose root is a МЭДО `communication`. Each candidate is read and
/// parsed once.
fn find_message(
    dir: &Path,
    env: &Envelope,
    present: &[String],
    limits: &Limits,
    warnings: &mut Vec<String>,
    known: &Known,
) -> Result<(String, ParsedMessage, (String, u64)), WireError> {
    let is_xml = |n: &str| n.to_lowercase().ends_with(".xml");
    let exists = |n: &str| present.iter().any(|p| p == n);
    let mut candidates: Vec<&String> = env
        .files
        .iter()
        .filter(|n| is_xml(n) && exists(n))
        .collect();
    let listed = candidates.len();
    candidates.extend(
        present
            .iter()
            .filter(|n| is_xml(n) && !env.files.contains(n)),
    );
    let mut first_error: Option<WireError> = None;
    // why each well-formed candidate is not a МЭДО message, by candidate
    let mut not_medo: Vec<(bool, WireError)> = Vec::new();
    for (i, name) in candidates.iter().enumerate() {
        let bytes = read_bounded(dir, name, limits.max_message_bytes, "message size", known)?;
        let decoded = decode_xml_bounded(&bytes, limits.max_message_bytes);
        let tree = decoded
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|d| xml_tree(&d.text, limits).map(|root| (root, d)));
        match tree {
            Ok((root, d)) if is_communication(&root) => {
                if i >= listed {
                    warnings.push(format!("the message {name} is not listed in [ФАЙЛЫ]"));
                }
                let parsed = message_from_root(&root, d.encoding, d.warnings.clone())
                    .map_err(|k| WireError::new(*name, k))?;
                let digest = match known.checked(name) {
                    Some(f) => (f.sha256.clone(), f.size),
                    None => (sha256_bytes(&bytes), bytes.len() as u64),
                };
                return Ok(((*name).clone(), parsed, digest));
            }
            Ok((root, d)) => {
                let looks_like = root.name == "communication";
                if let Err(kind) = message_from_root(&root, d.encoding, d.warnings.clone()) {
                    not_medo.push((looks_like, WireError::new(*name, kind)));
                }
            }
            Err(e) => {
                first_error.get_or_insert(WireError::new(*name, e));
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    // Well-formed XML, but none is a МЭДО communication: report the likeliest candidate (a
    // `communication` in another namespace, else the last listed XML: producers list the
    // message last).
    let likeliest = match not_medo.iter().position(|(looks_like, _)| *looks_like) {
        Some(at) => Some(not_medo.swap_remove(at).1),
        None if listed > 0 && not_medo.len() >= listed => Some(not_medo.swap_remove(listed - 1).1),
        None => not_medo.pop().map(|(_, e)| e),
    };
    Err(likeliest.unwrap_or_else(|| {
        WireError::new(
            "-",
            WireErrorKind::NotMedo("no communication XML in the package".into()),
        )
    }))
}

/// Lists the folder (or takes the package key's listing) and reads its one envelope: (files
/// present, envelope name, envelope).
fn open_folder(
    dir: &Path,
    limits: &Limits,
    known: &Known,
) -> Result<(Vec<String>, String, Envelope), WireError> {
    let present = match &known.listing {
        Some(listing) => listing.clone(),
        None => list_files(dir, limits)?,
    };
    let envelope_file = find_envelope(&present)?;
    let env_bytes = read_bounded(
        dir,
        &envelope_file,
        limits.max_envelope_bytes,
        "envelope size",
        known,
    )?;
    let envelope = envelope::parse(&env_bytes, &envelope_file, limits.max_package_files)
        .map_err(|k| WireError::new(&envelope_file, k))?;
    Ok((present, envelope_file, envelope))
}

/// What is read of a package's member files: each one's digest — known from the package
/// key, or hashed — and a small container's bytes, read once to be parsed.
struct Members<'a> {
    dir: &'a Path,
    known: &'a Known,
    /// One buffer for every small file.
    scratch: Vec<u8>,
    /// The streaming hasher, only for a big file.
    hasher: Option<FileHasher>,
    container_bytes: Option<(String, Cow<'a, [u8]>)>,
}

impl<'a> Members<'a> {
    /// Every file of the folder but the envelope, hashed once: the message from the bytes
    /// already read, a small container's bytes kept to be parsed.
    fn hash_all(
        &mut self,
        present: &[String],
        (envelope_file, envelope): (&str, &Envelope),
        (message_file, message_digest): (&str, &(String, u64)),
        message: &Message,
    ) -> Result<Vec<PackageFile>, WireError> {
        let container_name = match &message.body {
            Body::Container(c) => file_base_name(&c.body).ok(),
            _ => None,
        };
        let mut files = Vec::new();
        for name in present.iter().filter(|n| *n != envelope_file) {
            let is_container = container_name
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(name));
            let (sha256, size) = match name == message_file {
                true => message_digest.clone(),
                false => self.digest(name, is_container)?,
            };
            files.push(PackageFile {
                listed: envelope.files.iter().any(|f| f == name),
                name: name.clone(),
                size,
                sha256,
            });
        }
        Ok(files)
    }

    /// A member's (SHA-256, size). A file the package key read and checked is taken as it
    /// found it (a small container's bytes too, to be parsed), not opened again. Any other is
    /// opened and checked as every member is; a digest already known for its size is taken
    /// as is (a small container is still read, to be parsed from memory).
    fn digest(&mut self, name: &str, is_container: bool) -> Result<(String, u64), WireError> {
        let known: &'a Known = self.known;
        if let Some(f) = known.checked(name) {
            match (&f.bytes, is_container && f.size <= SMALL_FILE_BYTES) {
                (_, false) => return Ok((f.sha256.clone(), f.size)),
                (Some(bytes), true) => {
                    self.container_bytes = Some((name.to_string(), Cow::Borrowed(bytes)));
                    return Ok((f.sha256.clone(), f.size));
                }
                (None, true) => {} // a small container whose bytes were not kept: read below
            }
        }
        let (file, len) = open_member(self.dir, name)?;
        let known = known
            .files
            .get(name)
            .filter(|f| f.size == len)
            .map(|f| (f.sha256.clone(), f.size));
        if let Some(digest) = known
            .as_ref()
            .filter(|_| !is_container || len > SMALL_FILE_BYTES)
        {
            return Ok(digest.clone()); // a big container is parsed from its file later
        }
        if len > SMALL_FILE_BYTES {
            return self.stream(name, file);
        }
        if !read_open(file, len, SMALL_FILE_BYTES, &mut self.scratch)
            .map_err(|e| io_error(name, e))?
        {
            // grown past the small size since its fstat: streamed from the start
            return self.stream(name, open_member(self.dir, name)?.0);
        }
        if is_container {
            let bytes = std::mem::take(&mut self.scratch);
            let digest = known.unwrap_or_else(|| (sha256_bytes(&bytes), bytes.len() as u64));
            self.container_bytes = Some((name.to_string(), Cow::Owned(bytes)));
            return Ok(digest);
        }
        Ok((sha256_bytes(&self.scratch), self.scratch.len() as u64))
    }

    fn stream(&mut self, name: &str, file: File) -> Result<(String, u64), WireError> {
        self.hasher
            .get_or_insert_with(|| FileHasher::new(64 * 1024))
            .hash_reader(file)
            .map_err(|e| io_error(name, e))
    }
}

/// The local files a message names (a document's files but `reference` ones, which carry a
/// URL; a container and its signature).
fn files_named(message: &Message, message_file: &str) -> Result<Vec<String>, WireError> {
    let base = |name: &str| file_base_name(name).map_err(|k| WireError::new(message_file, k));
    let mut named = Vec::new();
    match &message.body {
        Body::Document { files, .. } => {
            for f in files
                .iter()
                .filter(|f| f.file_type.as_deref() != Some("reference"))
            {
                named.push(base(&f.local_name)?);
            }
        }
        Body::Container(c) => {
            named.push(base(&c.body)?);
            if let Some(s) = &c.signature {
                named.push(base(s)?);
            }
        }
        _ => {}
    }
    Ok(named)
}

/// The files the envelope or the message name that are not there (returned), with a warning
/// for each file the message names but `[ФАЙЛЫ]` does not list and each file present that
/// nothing names.
fn check_listing(
    present: &[String],
    envelope_file: &str,
    envelope: &Envelope,
    named_by_message: &[String],
    warnings: &mut Vec<String>,
) -> Vec<String> {
    let mut missing: Vec<String> = Vec::new();
    let mut note_missing = |name: &str| {
        if !present.iter().any(|p| p.eq_ignore_ascii_case(name))
            && !missing.iter().any(|m| m == name)
        {
            missing.push(name.to_string());
        }
    };
    for name in &envelope.files {
        note_missing(name);
    }
    for name in named_by_message {
        note_missing(name);
        if !envelope.files.iter().any(|f| f.eq_ignore_ascii_case(name)) {
            warnings.push(format!(
                "{name} is named by the message but not listed in [ФАЙЛЫ]"
            ));
        }
    }
    for name in present {
        let known = name == envelope_file
            || envelope.files.iter().any(|f| f == name)
            || named_by_message.iter().any(|f| f == name)
            || envelope.text_file.as_deref() == Some(name.as_str());
        if !known {
            warnings.push(format!("extra file {name} is not listed in [ФАЙЛЫ]"));
        }
    }
    missing
}

/// Reads a whole package folder.
pub fn read_package(dir: &Path, limits: &Limits) -> Result<Package, WireError> {
    read_package_known(dir, limits, &Known::default())
}

/// [`read_package`] of a folder whose files are already `known` (the gateway's package key
/// read them, [`Known`]): a file the key read and checked is not opened again — its digest,
/// and the bytes it kept (envelope, message, small container) stand for it, and so does the
/// key's listing when it is complete. Any other known file is opened and checked as every
/// member is and its size compared, but not hashed again. A small container is parsed from
/// the kept bytes, else read again, never hashed again.
pub fn read_package_known(
    dir: &Path,
    limits: &Limits,
    known: &Known,
) -> Result<Package, WireError> {
    read_package_gated(dir, limits, known, &|_| true)
}

/// [`read_package_known`], the transport container inflated only when `open_container` says
/// so of the message (the gateway: only for a sender it knows — a stranger's container costs
/// no inflating; its package is quarantined from the message alone). A container not opened
/// is still listed and hashed; `container` is `None` and a warning says why.
pub fn read_package_gated(
    dir: &Path,
    limits: &Limits,
    known: &Known,
    open_container: &dyn Fn(&Message) -> bool,
) -> Result<Package, WireError> {
    let (present, envelope_file, envelope) = open_folder(dir, limits, known)?;
    let mut warnings: Vec<String> = envelope
        .warnings
        .iter()
        .map(|w| format!("{envelope_file}: {w}"))
        .collect();
    let (message_file, parsed, message_sha256) =
        find_message(dir, &envelope, &present, limits, &mut warnings, known)?;
    warnings.extend(
        parsed
            .warnings
            .iter()
            .map(|w| format!("{message_file}: {w}")),
    );
    let message = parsed.message;

    let named_by_message = files_named(&message, &message_file)?;
    let missing = check_listing(
        &present,
        &envelope_file,
        &envelope,
        &named_by_message,
        &mut warnings,
    );
    let mut members = Members {
        dir,
        known,
        scratch: Vec::new(),
        hasher: None,
        container_bytes: None,
    };
    let files = members.hash_all(
        &present,
        (&envelope_file, &envelope),
        (&message_file, &message_sha256),
        &message,
    )?;
    let read = ContainerRead {
        dir,
        limits,
        present: &present,
        bytes: members.container_bytes,
    };
    let (container_file, container) = match &message.body {
        Body::Container(c) if !open_container(&message) => {
            read.not_opened(&c.body, &message_file, &mut warnings)?
        }
        Body::Container(c) => read.open(&c.body, &message_file, &mut warnings)?,
        _ => (None, None),
    };
    Ok(Package {
        envelope_file,
        envelope,
        message_file,
        message_encoding: parsed.encoding,
        message,
        files,
        missing,
        container_file,
        container,
        warnings,
    })
}

/// Reading the container a message names, from the bytes the folder's hashing kept or from
/// its file.
struct ContainerRead<'a> {
    dir: &'a Path,
    limits: &'a Limits,
    present: &'a [String],
    bytes: Option<(String, Cow<'a, [u8]>)>,
}

impl ContainerRead<'_> {
    /// The container's file as the folder spells it, for the name the message gives.
    fn actual(
        &self,
        body: &str,
        message_file: &str,
    ) -> Result<(String, Option<String>), WireError> {
        let name = file_base_name(body).map_err(|k| WireError::new(message_file, k))?;
        let actual = self
            .present
            .iter()
            .find(|p| p.eq_ignore_ascii_case(&name))
            .cloned();
        Ok((name, actual))
    }

    /// A container of a sender we do not know is not opened (its name is kept).
    fn not_opened(
        &self,
        body: &str,
        message_file: &str,
        warnings: &mut Vec<String>,
    ) -> Result<(Option<String>, Option<ContainerInfo>), WireError> {
        let (name, actual) = self.actual(body, message_file)?;
        if let Some(actual) = &actual {
            warnings.push(format!(
                "{actual}: not opened (the sender is not one we know)"
            ));
        }
        Ok((Some(actual.unwrap_or(name)), None))
    }

    /// The container read and checked; the passport's warnings and the files it names that
    /// the container lacks become the package's warnings.
    fn open(
        self,
        body: &str,
        message_file: &str,
        warnings: &mut Vec<String>,
    ) -> Result<(Option<String>, Option<ContainerInfo>), WireError> {
        let (name, actual) = self.actual(body, message_file)?;
        let Some(actual) = actual else {
            return Ok((Some(name), None));
        };
        let info = match self.bytes {
            Some((n, bytes)) if n == actual => {
                read_container(std::io::Cursor::new(bytes.as_ref()), self.limits, None)
            }
            _ => {
                let (f, _) = open_member(self.dir, &actual)?;
                let reader = std::io::BufReader::with_capacity(64 * 1024, f);
                read_container(reader, self.limits, None)
            }
        }
        .map_err(|k| WireError::new(&actual, k))?;
        warnings.extend(info.warnings.iter().map(|w| format!("{actual}: {w}")));
        for m in &info.missing {
            warnings.push(format!(
                "{actual}: the passport names {m}, which the container lacks"
            ));
        }
        Ok((Some(actual), Some(info)))
    }
}

/// Reads only the envelope and the communication XML of a folder — enough to answer a
/// package that fails later (a bad container, a missing file) with a negative receipt.
pub fn read_message_only(dir: &Path, limits: &Limits) -> Result<Message, WireError> {
    let none = Known::default();
    let (present, _, envelope) = open_folder(dir, limits, &none)?;
    let mut warnings = Vec::new();
    let (_, parsed, _) = find_message(dir, &envelope, &present, limits, &mut warnings, &none)?;
    Ok(parsed.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::known::KnownFile;

    /// `read_open` with a stated length, as if the file had changed since its `fstat`.
    fn read_stated(content: &[u8], stated: u64, limit: u64) -> (bool, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f"), content).unwrap();
        let (file, len) = open_member(dir.path(), "f").unwrap();
        assert_eq!(len, content.len() as u64);
        let mut into = b"old".to_vec();
        let fits = read_open(file, stated, limit, &mut into).unwrap();
        (fits, into)
    }

    #[test]
    fn read_open_reads_whole_files_whatever_their_stated_length() {
        let content: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        for stated in [5000, 0, 1, 4999, 5001, 100_000] {
            assert_eq!(
                read_stated(&content, stated, 1 << 20),
                (true, content.clone())
            );
        }
        assert_eq!(read_stated(b"", 0, 10), (true, vec![]));
    }

    #[test]
    fn read_open_stops_past_the_limit() {
        let content = vec![7u8; 100];
        for stated in [100, 10, 0, 1000] {
            let (fits, bytes) = read_stated(&content, stated, 50);
            assert!(!fits);
            assert_eq!(bytes.len(), 51, "stated {stated}");
        }
        assert!(read_stated(&content, 100, 100).0);
    }

    #[cfg(unix)]
    #[test]
    fn open_member_refuses_links_and_special_files_on_the_open_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        fs::write(p.join("plain"), b"x").unwrap();
        fs::hard_link(p.join("plain"), p.join("second-name")).unwrap();
        std::os::unix::fs::symlink(p.join("plain"), p.join("link")).unwrap();
        fs::create_dir(p.join("sub")).unwrap();
        let code = |name: &str| open_member(p, name).unwrap_err().code();
        assert_eq!(code("second-name"), "unsafe-name");
        assert_eq!(code("link"), "not-regular-file");
        assert_eq!(code("sub"), "not-regular-file");
        assert_eq!(code("absent"), "io");
        let fifo = std::ffi::CString::new(p.join("fifo").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        // refused at once, not blocked waiting for a writer
        assert_eq!(code("fifo"), "not-regular-file");
        fs::remove_file(p.join("second-name")).unwrap();
        assert_eq!(open_member(p, "plain").unwrap().1, 1);
    }

    /// A digest the package key took is used as is (not hashed again) when the size agrees,
    /// for a container too (which is still parsed); a size that disagrees is hashed afresh.
    #[test]
    fn known_digests_are_not_computed_again() {
        let out = tempfile::tempdir().unwrap();
        let written = crate::samples::generate_for_test(out.path());
        for dir in &written[..2] {
            let limits = Limits::default();
            let plain = read_package(dir, &limits).unwrap();
            // pretend digests (recognisable) for every file but the message
            let files = plain
                .files
                .iter()
                .filter(|f| f.name != plain.message_file)
                .enumerate()
                .map(|(i, f)| {
                    let size = if i == 0 { f.size + 1 } else { f.size };
                    let file = KnownFile {
                        sha256: format!("known-{i}"),
                        size,
                        checked: false,
                        bytes: None,
                    };
                    (f.name.clone(), file)
                })
                .collect();
            let known = Known {
                files,
                listing: None,
            };
            let read = read_package_known(dir, &limits, &known).unwrap();
            assert_eq!(read.files.len(), plain.files.len());
            for (f, p) in read.files.iter().zip(&plain.files) {
                match known.files.get(&f.name) {
                    Some(k) if k.size == p.size => assert_eq!(f.sha256, k.sha256),
                    _ => assert_eq!(f.sha256, p.sha256, "{}: hashed afresh", f.name),
                }
            }
            assert_eq!(
                read.container.is_some(),
                plain.container.is_some(),
                "still parsed"
            );
        }
    }
}
