//! Opening the files of a package folder — the one module that does (the package reader, the
//! package key's one read, the API's file streams, the spool's readiness check through
//! [`read_member`] and [`open_member`]): the last component is never followed, a FIFO cannot
//! block the open, and the open file itself must be a regular file with one name.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use crate::error::{WireError, WireErrorKind};

pub(crate) fn io_error(file: &str, e: std::io::Error) -> WireError {
    WireError::new(file, WireErrorKind::Io(e.to_string()))
}

/// Whether a file name is an envelope (`*.ini` / `*.ltr`, any case).
pub fn is_envelope_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    lower.ends_with(".ini") || lower.ends_with(".ltr")
}

/// Opens a file of the package folder for reading and checks the open file itself (so a
/// folder changed since it was listed cannot slip anything past): the last component is not
/// followed if it is a symlink, a FIFO swapped in cannot block the open, and anything but a
/// regular file with a single name (a hard link would let a package archive or serve a file
/// from elsewhere) is refused. Returns the file and its length, from the one `fstat`.
pub fn open_member(dir: &Path, name: &str) -> Result<(File, u64), WireError> {
    let file = open_no_follow(&dir.join(name)).map_err(|e| match e.raw_os_error() {
        Some(code) if code == ELOOP => {
            WireError::new(name, WireErrorKind::NotRegularFile(name.to_string()))
        }
        _ => io_error(name, e),
    })?;
    let meta = file.metadata().map_err(|e| io_error(name, e))?;
    if !meta.is_file() {
        return Err(WireError::new(
            name,
            WireErrorKind::NotRegularFile(name.to_string()),
        ));
    }
    if link_count(&meta) > 1 {
        return Err(WireError::new(
            name,
            WireErrorKind::UnsafeName(
                name.to_string(),
                "hard link (the file has other names outside the package)",
            ),
        ));
    }
    Ok((file, meta.len()))
}

/// The first `max` bytes of a file of the package folder, and its whole length — a bounded
/// read through [`open_member`] (decisions read signature heads and `query.xml` this way).
/// `name` is reduced to its base name first.
pub fn read_member(dir: &Path, name: &str, max: u64) -> Result<(Vec<u8>, u64), WireError> {
    let base = crate::envelope::file_base_name(name).map_err(|k| WireError::new(name, k))?;
    let (file, len) = open_member(dir, &base)?;
    let mut bytes = Vec::with_capacity(len.min(max) as usize);
    file.take(max)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(&base, e))?;
    Ok((bytes, len))
}

#[cfg(unix)]
const ELOOP: i32 = libc::ELOOP;
#[cfg(not(unix))]
const ELOOP: i32 = -1;

#[cfg(unix)]
pub(crate) fn open_no_follow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
pub(crate) fn open_no_follow(path: &Path) -> io::Result<File> {
    File::open(path)
}

#[cfg(unix)]
pub(crate) fn link_count(meta: &fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.nlink()
}

#[cfg(not(unix))]
pub(crate) fn link_count(_meta: &fs::Metadata) -> u64 {
    1
}

/// Files up to this size are read whole (one read into a reused buffer, hashed from memory);
/// larger ones are streamed through a [`FileHasher`]. Containers up to this size are also
/// parsed from the bytes read (hash and parse from one read).
pub const SMALL_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads an open file of `len` bytes (from its `fstat`) into `into`, at most `limit` bytes:
/// `Ok(false)` when it holds more. One `read` asks for a byte more than `len`; getting exactly
/// `len` is the end of the file (a regular file reads short only at its end), so no second
/// `read` probes for it. Anything else (shorter: still being written or shrunk; longer: grown
/// since the `fstat`) reads on to the end, bounded by `limit`.
pub(crate) fn read_open(
    mut file: File,
    len: u64,
    limit: u64,
    into: &mut Vec<u8>,
) -> io::Result<bool> {
    let want = len.min(limit).saturating_add(1);
    into.clear();
    into.resize(want as usize, 0);
    let first = loop {
        match file.read(into) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => break result?,
        }
    };
    into.truncate(first);
    if first as u64 != len {
        let rest = (limit + 1).saturating_sub(first as u64);
        file.take(rest).read_to_end(into)?;
    }
    Ok(into.len() as u64 <= limit)
}
