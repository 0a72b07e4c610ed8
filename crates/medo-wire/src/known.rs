//! What the package key's one read of a claimed folder learns of its files, so that
//! [`read_package_known`](super::package::read_package_known) right after it neither lists the
//! folder again nor opens, reads or hashes a file a second time: each file's digest and size,
//! whether the open file passed the checks every member gets, the bytes of the few files the
//! reader reads (envelope, XML, a small container) while a budget lasts, and the listing
//! itself when it holds nothing the reader would refuse.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::path::Path;

use super::hash::{sha256_bytes, FileHasher};
use crate::member::{is_envelope_name, link_count, open_no_follow, read_open, SMALL_FILE_BYTES};

/// A file of a claimed folder as the package key read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFile {
    /// Lower-case hex SHA-256 of the bytes read.
    pub sha256: String,
    pub size: u64,
    /// The open file the digest was read from was reached without following a link, is a
    /// regular file and has this one name — the checks every member gets when it is opened.
    pub checked: bool,
    /// The bytes themselves, for a file the reader reads whole (see [`wants_bytes`]), when
    /// they were within the budget the key was given.
    pub bytes: Option<Vec<u8>>,
}

/// What is known of a folder's files, by their (UTF-8) names.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub files: HashMap<String, KnownFile>,
    /// The folder's sorted listing when the key's listing saw nothing the reader refuses (only
    /// regular files, UTF-8 names without control characters, no more than the file limit):
    /// it then stands for the reader's own listing. `None`: the reader lists the folder.
    pub listing: Option<Vec<String>>,
}

impl Known {
    /// What the package key read (each file's name as on disk and what was found), by the
    /// names the files have now — those renamed from windows-1251 (`renamed`: the name on disk
    /// then, the name now) under their new one; a name that is still not UTF-8 is left out
    /// (read again). The key's listing stands for the reader's only when it was complete and
    /// nothing was renamed.
    pub fn from_read(
        read: Vec<(OsString, KnownFile)>,
        listing_complete: bool,
        renamed: &[(OsString, String)],
    ) -> Known {
        let mut known = Known::default();
        for (raw, file) in read {
            let now = renamed
                .iter()
                .find(|(was, _)| *was == raw)
                .map(|(_, name)| name.clone())
                .or_else(|| raw.to_str().map(str::to_string));
            if let Some(name) = now {
                known.files.insert(name, file);
            }
        }
        if listing_complete && renamed.is_empty() {
            let mut listing: Vec<String> = known.files.keys().cloned().collect();
            listing.sort();
            known.listing = Some(listing);
        }
        known
    }

    /// A file known and checked, with its bytes when they were kept.
    pub(super) fn checked(&self, name: &str) -> Option<&KnownFile> {
        self.files.get(name).filter(|f| f.checked)
    }
}

/// Whether the reader reads this file whole (so its bytes are worth keeping): an envelope, an
/// XML (the message is one of them) or a ZIP (a container).
pub fn wants_bytes(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false; // renamed before it is read: the reader opens it under its new name
    };
    let lower = name.to_ascii_lowercase();
    is_envelope_name(name) || lower.ends_with(".xml") || lower.ends_with(".zip")
}

/// Reads one file of a folder for its package key: opened without following a link (and
/// without blocking on a FIFO), checked on the open file, hashed. Its bytes are kept when
/// [`wants_bytes`] and they fit in `keep` bytes (and are a small file, one the reader would
/// read whole). A file that is not a regular file when opened
/// is an `InvalidData` error (the listing said it was one: the folder changed under us).
pub fn read_for_key(
    dir: &Path,
    name: &OsStr,
    keep: u64,
    hasher: &mut FileHasher,
) -> io::Result<KnownFile> {
    let file: File = open_no_follow(&dir.join(name))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is no longer a regular file", name.to_string_lossy()),
        ));
    }
    let checked = link_count(&meta) == 1;
    let keep = keep.min(SMALL_FILE_BYTES);
    if checked && meta.len() <= keep && wants_bytes(name) {
        let mut bytes = Vec::new();
        if read_open(file, meta.len(), keep, &mut bytes)? {
            let (sha256, size) = (sha256_bytes(&bytes), bytes.len() as u64);
            let bytes = Some(bytes);
            return Ok(KnownFile {
                sha256,
                size,
                checked,
                bytes,
            });
        }
        // grown past what may be kept since its fstat: hashed again from the start, and left
        // for the reader to open and check again
        let (sha256, size) = hasher.hash_reader(open_no_follow(&dir.join(name))?)?;
        return Ok(KnownFile {
            sha256,
            size,
            checked: false,
            bytes: None,
        });
    }
    let (sha256, size) = hasher.hash_reader(file)?;
    Ok(KnownFile {
        sha256,
        size,
        checked,
        bytes: None,
    })
}
