//! Reading a whole package folder: envelope → communication XML → files → container.
//! Produces a [`Package`] with everything the gateway (and `inspect`) needs, or a
//! [`WireError`] naming the file and the problem. Reads only regular files directly inside the
//! given folder; never follows a name out of it; never writes.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use serde::Serialize;

use super::container::{read_container, ContainerInfo};
use super::envelope::{self, file_base_name, Envelope};
use super::error::{WireError, WireErrorKind};
use super::hash::{sha256_bytes, FileHasher};
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

fn io_error(file: &str, e: std::io::Error) -> WireError {
    WireError::new(file, WireErrorKind::Io(e.to_string()))
}

/// Whether a file name is an envelope (`*.ini` / `*.ltr`, any case).
pub fn is_envelope_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    lower.ends_with(".ini") || lower.ends_with(".ltr")
}

/// Regular files directly in `dir`, sorted by name. Symlinks, FIFOs, sockets, devices,
/// sub-folders and hard-linked files are refused, and so are names that are not UTF-8 or hold control characters:
/// a package is a flat folder of plain files.
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
                name.escape_default().to_string(),
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
        if hard_linked(&entry) {
            return Err(WireError::new(
                &name,
                WireErrorKind::UnsafeName(
                    name.clone(),
                    "hard link (the file has other names outside the package)",
                ),
            ));
        }
        files.push(name);
    }
    files.sort();
    Ok(files)
}

/// A regular file that also has other names: a package's files are its own (VipNet writes
/// them afresh), and a link to a file elsewhere must not be archived or served.
#[cfg(unix)]
fn hard_linked(entry: &fs::DirEntry) -> bool {
    use std::os::unix::fs::MetadataExt;
    entry.metadata().is_ok_and(|m| m.nlink() > 1)
}

#[cfg(not(unix))]
fn hard_linked(_entry: &fs::DirEntry) -> bool {
    false
}

/// Containers up to this size are read into memory once (hash and parse from one read).
const SMALL_CONTAINER_BYTES: u64 = 4 * 1024 * 1024;

/// The whole file when it is at most [`SMALL_CONTAINER_BYTES`]; `None` when larger.
fn read_small(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len > SMALL_CONTAINER_BYTES {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(len as usize + 1);
    (&mut file)
        .take(SMALL_CONTAINER_BYTES + 1)
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= SMALL_CONTAINER_BYTES).then_some(bytes))
}

/// Reads a file of at most `limit` bytes.
fn read_bounded(
    path: &Path,
    name: &str,
    limit: u64,
    what: &'static str,
) -> Result<Vec<u8>, WireError> {
    let file = File::open(path).map_err(|e| io_error(name, e))?;
    // sized from the file's length: one read for the bytes, one for the end (no probing)
    let size_hint = file.metadata().map_or(0, |m| m.len()).min(limit + 1);
    let mut bytes = Vec::with_capacity(size_hint as usize + 1);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(name, e))?;
    if bytes.len() as u64 > limit {
        return Err(WireError::new(
            name,
            WireErrorKind::TooLarge { what, limit },
        ));
    }
    Ok(bytes)
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
        let bytes = read_bounded(
            &dir.join(name),
            name,
            limits.max_message_bytes,
            "message size",
        )?;
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
                return Ok((
                    (*name).clone(),
                    parsed,
                    (sha256_bytes(&bytes), bytes.len() as u64),
                ));
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

/// Lists the folder and reads its one envelope: (files present, envelope name, envelope).
fn open_folder(dir: &Path, limits: &Limits) -> Result<(Vec<String>, String, Envelope), WireError> {
    let present = list_files(dir, limits)?;
    let envelope_file = find_envelope(&present)?;
    let env_bytes = read_bounded(
        &dir.join(&envelope_file),
        &envelope_file,
        limits.max_envelope_bytes,
        "envelope size",
    )?;
    let envelope = envelope::parse(&env_bytes, &envelope_file, limits.max_package_files)
        .map_err(|k| WireError::new(&envelope_file, k))?;
    Ok((present, envelope_file, envelope))
}

/// Reads a whole package folder.
pub fn read_package(dir: &Path, limits: &Limits) -> Result<Package, WireError> {
    let (present, envelope_file, envelope) = open_folder(dir, limits)?;
    let mut warnings: Vec<String> = envelope
        .warnings
        .iter()
        .map(|w| format!("{envelope_file}: {w}"))
        .collect();
    let (message_file, parsed, message_sha256) =
        find_message(dir, &envelope, &present, limits, &mut warnings)?;
    warnings.extend(
        parsed
            .warnings
            .iter()
            .map(|w| format!("{message_file}: {w}")),
    );
    let message = parsed.message;

    let mut missing: Vec<String> = Vec::new();
    let note_missing = |name: &str, missing: &mut Vec<String>| {
        if !present.iter().any(|p| p.eq_ignore_ascii_case(name))
            && !missing.iter().any(|m| m == name)
        {
            missing.push(name.to_string());
        }
    };
    for name in &envelope.files {
        note_missing(name, &mut missing);
    }
    let mut named_by_message: Vec<String> = Vec::new();
    match &message.body {
        Body::Document { files, .. } => {
            for f in files {
                // a `reference` file carries a URL, not a local file
                if f.file_type.as_deref() == Some("reference") {
                    continue;
                }
                let base =
                    file_base_name(&f.local_name).map_err(|k| WireError::new(&message_file, k))?;
                named_by_message.push(base);
            }
        }
        Body::Container(c) => {
            named_by_message
                .push(file_base_name(&c.body).map_err(|k| WireError::new(&message_file, k))?);
            if let Some(s) = &c.signature {
                named_by_message
                    .push(file_base_name(s).map_err(|k| WireError::new(&message_file, k))?);
            }
        }
        _ => {}
    }
    for name in &named_by_message {
        note_missing(name, &mut missing);
        if !envelope.files.iter().any(|f| f.eq_ignore_ascii_case(name)) {
            warnings.push(format!(
                "{name} is named by the message but not listed in [ФАЙЛЫ]"
            ));
        }
    }
    for name in &present {
        let known = name == &envelope_file
            || envelope.files.iter().any(|f| f == name)
            || named_by_message.iter().any(|f| f == name)
            || envelope.text_file.as_deref() == Some(name.as_str());
        if !known {
            warnings.push(format!("extra file {name} is not listed in [ФАЙЛЫ]"));
        }
    }

    let container_name = match &message.body {
        Body::Container(c) => file_base_name(&c.body).ok(),
        _ => None,
    };
    let mut files = Vec::new();
    // made on first use: a 2.7.1 package often has no file to stream
    let mut hasher: Option<FileHasher> = None;
    let mut hash_file = |name: &str| {
        hasher
            .get_or_insert_with(|| FileHasher::new(64 * 1024))
            .hash_file(&dir.join(name))
            .map_err(|e| io_error(name, e))
    };
    // a small container is read once: hashed from memory and parsed from the same bytes
    let mut container_bytes: Option<(String, Vec<u8>)> = None;
    for name in present.iter().filter(|n| *n != &envelope_file) {
        // the message was hashed from the bytes already read; everything else is streamed
        let is_container = container_name
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(name));
        let (sha256, size) = if name == &message_file {
            message_sha256.clone()
        } else if is_container {
            match read_small(&dir.join(name)).map_err(|e| io_error(name, e))? {
                Some(bytes) => {
                    let digest = (sha256_bytes(&bytes), bytes.len() as u64);
                    container_bytes = Some((name.clone(), bytes));
                    digest
                }
                None => hash_file(name)?,
            }
        } else {
            hash_file(name)?
        };
        files.push(PackageFile {
            listed: envelope.files.iter().any(|f| f == name),
            name: name.clone(),
            size,
            sha256,
        });
    }

    let (container_file, container) = match &message.body {
        Body::Container(c) => {
            let name = file_base_name(&c.body).map_err(|k| WireError::new(&message_file, k))?;
            let actual = present
                .iter()
                .find(|p| p.eq_ignore_ascii_case(&name))
                .cloned();
            match actual {
                Some(actual) => {
                    let info = match container_bytes.take() {
                        Some((n, bytes)) if n == actual => {
                            read_container(std::io::Cursor::new(bytes), limits, None)
                        }
                        _ => {
                            let f =
                                File::open(dir.join(&actual)).map_err(|e| io_error(&actual, e))?;
                            read_container(
                                std::io::BufReader::with_capacity(64 * 1024, f),
                                limits,
                                None,
                            )
                        }
                    }
                    .map_err(|k| WireError::new(&actual, k))?;
                    warnings.extend(info.warnings.iter().map(|w| format!("{actual}: {w}")));
                    for m in &info.missing {
                        warnings.push(format!(
                            "{actual}: the passport names {m}, which the container lacks"
                        ));
                    }
                    (Some(actual), Some(info))
                }
                None => (Some(name), None),
            }
        }
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

/// Reads only the envelope and the communication XML of a folder — enough to answer a
/// package that fails later (a bad container, a missing file) with a negative receipt.
pub fn read_message_only(dir: &Path, limits: &Limits) -> Result<Message, WireError> {
    let (present, _, envelope) = open_folder(dir, limits)?;
    let mut warnings = Vec::new();
    let (_, parsed, _) = find_message(dir, &envelope, &present, limits, &mut warnings)?;
    Ok(parsed.message)
}
