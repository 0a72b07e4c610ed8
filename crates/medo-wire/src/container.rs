//! The ZIP transport container (`*.edc.zip`, 2.7 and 2.7.1): read under limits, streamed
//! (entries are hashed, and optionally copied out, chunk by chunk — never held whole in
//! memory, except the bounded passport), and written.
//!
//! Refused: more entries than allowed, names with `..`, absolute or drive paths, sub-folders,
//! control characters, duplicate names, symlinks and other special entries, encrypted
//! entries, more decompressed bytes than allowed (counted, not trusted from headers), ratios
//! beyond the limit, bad CRCs. Touches only the archive it reads and the folder it is told
//! to extract into or write.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use super::error::WireErrorKind;
use super::hash::HashingReader;
use super::limits::Limits;
use super::passport::{parse_passport, Passport};

/// One file inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerEntry {
    pub name: String,
    pub size: u64,
    pub compressed_size: u64,
    pub sha256: String,
}

/// What a container holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerInfo {
    pub passport_name: String,
    pub passport: Passport,
    pub entries: Vec<ContainerEntry>,
    /// Files the passport names that the ZIP lacks.
    pub missing: Vec<String>,
    pub warnings: Vec<String>,
}

impl ContainerInfo {
    pub fn entry(&self, name: &str) -> Option<&ContainerEntry> {
        self.entries
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name))
    }
}

/// Most XML entries buffered as passport candidates (each bounded by `max_passport_bytes`).
const MAX_PASSPORT_CANDIDATES: usize = 4;

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;

fn zip_error(e: ZipError) -> WireErrorKind {
    WireErrorKind::Zip(e.to_string())
}

/// Whether `path` is a ZIP whose central directory can be read (the readiness check).
pub fn is_readable_zip(path: &Path) -> bool {
    File::open(path)
        .ok()
        .and_then(|f| ZipArchive::new(f).ok())
        .is_some()
}

/// Checks an entry name: a plain file name in the container root.
pub fn check_entry_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty name");
    }
    if name.chars().any(|c| c.is_control()) {
        return Err("control character in name");
    }
    if name.contains('/') || name.contains('\\') {
        if name.split(['/', '\\']).any(|p| p == "..") {
            return Err("path traversal");
        }
        if name.starts_with('/') || name.starts_with('\\') {
            return Err("absolute path");
        }
        return Err("sub-folder (containers are flat)");
    }
    if name == ".." || name == "." {
        return Err("path traversal");
    }
    if name.contains(':') {
        return Err("drive or stream designator");
    }
    Ok(())
}

/// The sizes the central directory declares, checked before anything is inflated: a
/// container that says it holds more than the limits allow, or a ratio no document has,
/// is refused at once instead of after seconds of inflating (the inflation below still
/// counts what really comes out: a directory that lies is caught there).
fn declared_within_limits<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    limits: &Limits,
) -> Result<(), WireErrorKind> {
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let file = archive.by_index_raw(index).map_err(zip_error)?;
        let (size, compressed) = (file.size(), file.compressed_size());
        total = total.saturating_add(size);
        if size > limits.max_zip_entry_bytes {
            return Err(WireErrorKind::TooLarge {
                what: "ZIP entry size (declared)",
                limit: limits.max_zip_entry_bytes,
            });
        }
        if total > limits.max_zip_total_bytes {
            return Err(WireErrorKind::TooLarge {
                what: "total decompressed ZIP size (declared)",
                limit: limits.max_zip_total_bytes,
            });
        }
        if size > limits.ratio_check_after_bytes && size / compressed.max(1) > limits.max_zip_ratio
        {
            let name = file.name().map_err(zip_error)?.into_owned();
            return Err(WireErrorKind::ZipRatio {
                name,
                ratio: limits.max_zip_ratio,
            });
        }
    }
    Ok(())
}

/// Reads a container from any seekable reader. When `extract_to` is given, every entry is
/// also copied into that (existing, empty) folder under its checked name, created anew.
pub fn read_container<R: Read + Seek>(
    reader: R,
    limits: &Limits,
    extract_to: Option<&Path>,
) -> Result<ContainerInfo, WireErrorKind> {
    let mut archive = ZipArchive::new(reader).map_err(zip_error)?;
    if archive.len() > limits.max_zip_entries {
        return Err(WireErrorKind::TooLarge {
            what: "ZIP entry count",
            limit: limits.max_zip_entries as u64,
        });
    }
    // the zip crate keeps one entry per name; a second, hidden entry must not slip through
    if archive.has_duplicate_names() {
        return Err(WireErrorKind::Zip("two entries share a name".into()));
    }
    declared_within_limits(&mut archive, limits)?;
    let mut entries: Vec<ContainerEntry> = Vec::with_capacity(archive.len());
    let mut candidates: Vec<(String, Vec<u8>)> = Vec::new();
    let mut inflating = Inflating {
        total: 0,
        // the decompressor buffers its input; 16 KiB of output per read keeps the zeroing of
        // a buffer per container cheap
        buf: vec![0u8; 16 * 1024],
        limits,
    };
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).map_err(zip_error)?;
        let name = file.name().map_err(zip_error)?.into_owned();
        check_entry(&file, &name, &entries)?;
        let is_xml = name.to_lowercase().ends_with(".xml");
        let mut keep = (is_xml && candidates.len() < MAX_PASSPORT_CANDIDATES).then(Vec::new);
        let mut out = match extract_to {
            Some(dir) => {
                Some(create_new(&dir.join(&name)).map_err(|e| WireErrorKind::Io(e.to_string()))?)
            }
            None => None,
        };
        let compressed = file.compressed_size();
        let (sha256, size) = inflating.entry(&mut file, &name, &mut keep, out.as_mut())?;
        if let Some(out) = out {
            out.sync_all()
                .map_err(|e| WireErrorKind::Io(e.to_string()))?;
        }
        if let Some(k) = keep {
            candidates.push((name.clone(), k));
        }
        entries.push(ContainerEntry {
            name,
            size,
            compressed_size: compressed,
            sha256,
        });
    }
    let (passport_name, passport, warnings) = pick_passport(candidates, limits)?;
    let missing = passport
        .referenced_files()
        .into_iter()
        .filter(|n| !entries.iter().any(|e| e.name.eq_ignore_ascii_case(n)))
        .map(str::to_string)
        .collect();
    Ok(ContainerInfo {
        passport_name,
        passport,
        entries,
        missing,
        warnings,
    })
}

/// An entry may be read: a checked flat name, a regular file, not encrypted, not a second
/// spelling of an earlier entry's name.
fn check_entry<R: Read>(
    file: &zip::read::ZipFile<'_, R>,
    name: &str,
    earlier: &[ContainerEntry],
) -> Result<(), WireErrorKind> {
    let refuse = |why| WireErrorKind::ZipEntry(name.to_string(), why);
    check_entry_name(name).map_err(refuse)?;
    if file.is_dir() {
        return Err(refuse("sub-folder (containers are flat)"));
    }
    if file.is_symlink() {
        return Err(refuse("symbolic link"));
    }
    if let Some(mode) = file.unix_mode() {
        let kind = mode & S_IFMT;
        if kind != 0 && kind != S_IFREG {
            return Err(refuse("special file (not a regular file)"));
        }
    }
    if file.encrypted() {
        return Err(refuse("encrypted"));
    }
    let lower = name.to_lowercase();
    if earlier.iter().any(|e| e.name.to_lowercase() == lower) {
        return Err(refuse("duplicate name"));
    }
    Ok(())
}

/// Inflating a container's entries one after another under the limits: the bytes so far.
struct Inflating<'l> {
    total: u64,
    buf: Vec<u8>,
    limits: &'l Limits,
}

impl Inflating<'_> {
    /// Inflates one entry, hashing it, checking every limit as it grows, keeping its bytes in
    /// `keep` (a passport candidate; dropped past `max_passport_bytes`) and copying them to
    /// `out`. Returns its digest and size.
    fn entry<R: Read>(
        &mut self,
        file: &mut zip::read::ZipFile<'_, R>,
        name: &str,
        keep: &mut Option<Vec<u8>>,
        mut out: Option<&mut File>,
    ) -> Result<(String, u64), WireErrorKind> {
        let compressed = file.compressed_size();
        let mut hashing = HashingReader::new(file);
        loop {
            let n = hashing
                .read(&mut self.buf)
                .map_err(|e| WireErrorKind::Zip(format!("{name}: {e}")))?;
            if n == 0 {
                return Ok(hashing.finish());
            }
            self.total += n as u64;
            self.check(name, hashing.bytes_read(), compressed)?;
            if let Some(k) = keep.as_mut() {
                if (k.len() + n) as u64 > self.limits.max_passport_bytes {
                    *keep = None;
                } else {
                    k.extend_from_slice(&self.buf[..n]);
                }
            }
            if let Some(out) = out.as_mut() {
                out.write_all(&self.buf[..n])
                    .map_err(|e| WireErrorKind::Io(e.to_string()))?;
            }
        }
    }

    /// The entry's size so far, the total and the compression ratio within the limits.
    fn check(&self, name: &str, size: u64, compressed: u64) -> Result<(), WireErrorKind> {
        let limits = self.limits;
        if size > limits.max_zip_entry_bytes {
            return Err(WireErrorKind::TooLarge {
                what: "ZIP entry size",
                limit: limits.max_zip_entry_bytes,
            });
        }
        if self.total > limits.max_zip_total_bytes {
            return Err(WireErrorKind::TooLarge {
                what: "total decompressed ZIP size",
                limit: limits.max_zip_total_bytes,
            });
        }
        if size > limits.ratio_check_after_bytes && size / compressed.max(1) > limits.max_zip_ratio
        {
            return Err(WireErrorKind::ZipRatio {
                name: name.to_string(),
                ratio: limits.max_zip_ratio,
            });
        }
        Ok(())
    }
}

/// Chooses the passport among buffered XML entries: `passport.xml` first, then the others in
/// archive order; the first whose root is a container description wins.
fn pick_passport(
    mut candidates: Vec<(String, Vec<u8>)>,
    limits: &Limits,
) -> Result<(String, Passport, Vec<String>), WireErrorKind> {
    candidates.sort_by_key(|(name, _)| !name.eq_ignore_ascii_case("passport.xml"));
    let mut first_error = None;
    for (name, bytes) in candidates {
        match parse_passport(&bytes, limits) {
            Ok((passport, warnings)) => return Ok((name, passport, warnings)),
            Err(e) => {
                first_error.get_or_insert((name, e));
            }
        }
    }
    match first_error {
        // a passport.xml that is broken is reported as such, not as "no passport"
        Some((name, e)) if name.eq_ignore_ascii_case("passport.xml") => {
            Err(WireErrorKind::Invalid {
                field: name,
                reason: e.to_string(),
            })
        }
        _ => Err(WireErrorKind::NoPassport),
    }
}

fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// A file to put into a container: its name inside the ZIP and where to read it from.
#[derive(Debug, Clone)]
pub struct ContainerFile {
    pub name: String,
    pub source: PathBuf,
}

/// Writes a flat, deflated container: the passport first, then `files` streamed from disk.
/// Timestamps are fixed (1980-01-01) so the same inputs give the same bytes.
pub fn write_container<W: Write + Seek>(
    out: W,
    passport_name: &str,
    passport: &[u8],
    files: &[ContainerFile],
) -> Result<W, WireErrorKind> {
    let werr = |e: ZipError| WireErrorKind::Write(e.to_string());
    let ioerr = |e: io::Error| WireErrorKind::Write(e.to_string());
    for name in std::iter::once(passport_name).chain(files.iter().map(|f| f.name.as_str())) {
        check_entry_name(name).map_err(|why| WireErrorKind::UnsafeName(name.to_string(), why))?;
    }
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644);
    let mut zip = ZipWriter::new(out);
    zip.start_file(passport_name, options).map_err(werr)?;
    zip.write_all(passport).map_err(ioerr)?;
    for f in files {
        let mut src = File::open(&f.source).map_err(ioerr)?;
        let large = src.metadata().map_err(ioerr)?.len() >= u32::MAX as u64;
        zip.start_file(f.name.as_str(), options.large_file(large))
            .map_err(werr)?;
        io::copy(&mut src, &mut zip).map_err(ioerr)?;
    }
    zip.finish().map_err(werr)
}

/// The first `max` bytes of one entry of an opened ZIP (for sniffing a signature's encoding).
pub fn entry_head(zip: File, name: &str, max: usize) -> Option<Vec<u8>> {
    check_entry_name(name).ok()?;
    let mut archive = ZipArchive::new(zip).ok()?;
    let entry = archive.by_name(name).ok()?;
    let mut head = Vec::with_capacity(max);
    entry.take(max as u64).read_to_end(&mut head).ok()?;
    Some(head)
}

/// Copies the named entries of an opened ZIP into `dir` (created new), each at most
/// `limits.max_zip_entry_bytes`. Used to hand a document and its signature to a verifier.
pub fn extract_entries(
    zip: File,
    names: &[&str],
    dir: &Path,
    limits: &Limits,
) -> Result<(), WireErrorKind> {
    let io = |e: io::Error| WireErrorKind::Io(e.to_string());
    let mut archive = ZipArchive::new(zip).map_err(zip_error)?;
    for name in names {
        check_entry_name(name).map_err(|why| WireErrorKind::UnsafeName(name.to_string(), why))?;
        let entry = archive.by_name(name).map_err(zip_error)?;
        let mut out = create_new(&dir.join(name)).map_err(io)?;
        let copied =
            io::copy(&mut entry.take(limits.max_zip_entry_bytes + 1), &mut out).map_err(io)?;
        if copied > limits.max_zip_entry_bytes {
            return Err(WireErrorKind::TooLarge {
                what: "ZIP entry size",
                limit: limits.max_zip_entry_bytes,
            });
        }
    }
    Ok(())
}

/// Runs `read` over one entry of an opened ZIP (a reader of its inflated bytes).
pub fn with_entry<T>(
    zip: File,
    name: &str,
    read: impl FnOnce(&mut dyn Read) -> T,
) -> Result<T, WireErrorKind> {
    check_entry_name(name).map_err(|why| WireErrorKind::UnsafeName(name.to_string(), why))?;
    let mut archive = ZipArchive::new(zip).map_err(zip_error)?;
    let mut entry = archive.by_name(name).map_err(zip_error)?;
    Ok(read(&mut entry))
}

/// The whole of one (small) entry of an opened ZIP, at most `max` bytes (e.g. a `query.xml`).
pub fn entry_bytes(zip: File, name: &str, max: u64) -> Option<Vec<u8>> {
    check_entry_name(name).ok()?;
    let mut archive = ZipArchive::new(zip).ok()?;
    let entry = archive.by_name(name).ok()?;
    let mut bytes = Vec::new();
    entry.take(max + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= max).then_some(bytes)
}

/// Writes a plain deflated ZIP of in-memory files (exports), fixed timestamps.
pub fn write_zip<W: Write + Seek>(out: W, files: &[(String, Vec<u8>)]) -> Result<W, WireErrorKind> {
    let werr = |e: ZipError| WireErrorKind::Write(e.to_string());
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644);
    let mut zip = ZipWriter::new(out);
    for (name, bytes) in files {
        check_entry_name(name).map_err(|why| WireErrorKind::UnsafeName(name.clone(), why))?;
        zip.start_file(name.as_str(), options).map_err(werr)?;
        zip.write_all(bytes)
            .map_err(|e| WireErrorKind::Write(e.to_string()))?;
    }
    zip.finish().map_err(werr)
}

/// A container in memory: `passport.xml` first, then `files` in order (the outbound
/// documents: their files are small and already in memory); deterministic bytes.
pub fn container_bytes(
    passport: &[u8],
    files: &[(String, Vec<u8>)],
) -> Result<Vec<u8>, WireErrorKind> {
    let mut all = Vec::with_capacity(files.len() + 1);
    all.push(("passport.xml".to_string(), passport.to_vec()));
    all.extend(files.iter().cloned());
    if all.len() > 1
        && files
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("passport.xml"))
    {
        return Err(WireErrorKind::Write("a file is named passport.xml".into()));
    }
    Ok(write_zip(io::Cursor::new(Vec::new()), &all)?.into_inner())
}
