//! An appeal's files for the СЭД API: which files it arrived with (journaled with
//! `appeal_received`; for appeals journaled before files were, read from the archived
//! package), and one of them streamed from the archive — a file of the folder or an entry of
//! its transport container — with the headers a client needs (type, length, its SHA-256 as
//! `ETag`, an RFC 6266 `Content-Disposition` with the Cyrillic name). The bytes are hashed as
//! they go out: a file that differs from what arrived is cut off, never served whole.

use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::book::Appeal;
use crate::model::ArrivedFile;
use crate::spool::Layout;
use crate::wire::limits::Limits;

/// Bytes per chunk of a streamed file.
const CHUNK: usize = 64 * 1024;
/// Chunks buffered between the reading thread and the connection.
const CHUNKS_AHEAD: usize = 4;

/// Where an appeal's package is: its archive folder, or its claimed folder while the loop
/// still works on it (the engine's [`medo_engine::package_dir`], in words).
pub fn package_dir(
    layout: &Layout,
    store: &crate::store::Store,
    appeal: &Appeal,
) -> Result<PathBuf, String> {
    medo_engine::package_dir(layout, store, appeal).map_err(|e| e.to_string())
}

/// The files of an appeal: as journaled (`journaled`), or — none journaled, the appeal came
/// before files were — as its package in `dir` holds them now (the engine's
/// [`medo_engine::forward::files_of`]).
pub fn list(
    journaled: &[ArrivedFile],
    dir: &Path,
    limits: &Limits,
) -> Result<Vec<ArrivedFile>, String> {
    medo_engine::forward::files_of(journaled, dir, limits)
}

/// Where an appeal's package is, and its files (as [`list`]).
pub fn of(
    config: &crate::config::Config,
    store: &crate::store::Store,
    appeal: &Appeal,
) -> Result<(PathBuf, Vec<ArrivedFile>), String> {
    let dir = package_dir(&Layout::new(&config.spool), store, appeal)?;
    let files = list(&appeal.files, &dir, &config.limits)?;
    Ok((dir, files))
}

/// The file named `name` (exactly as listed).
pub fn find<'a>(files: &'a [ArrivedFile], name: &str) -> Option<&'a ArrivedFile> {
    files.iter().find(|f| f.name == name)
}

/// Its media type by its name's extension (`application/octet-stream` when unknown; the
/// detached signatures of МЭДО as `application/pkcs7-signature`).
pub fn content_type(name: &str) -> String {
    let lower = name.to_lowercase();
    if lower.ends_with(".p7s") || lower.ends_with(".sig") {
        return "application/pkcs7-signature".into();
    }
    mime_guess::from_path(&lower)
        .first_or_octet_stream()
        .essence_str()
        .to_string()
}

/// RFC 5987 `attr-char`s stay as they are; everything else is percent-encoded.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `Content-Disposition` (RFC 6266): an ASCII `filename` for old clients (each other character
/// as `_`) and the real name as `filename*=UTF-8''…`.
pub fn content_disposition(name: &str) -> String {
    content_disposition_as(name, name)
}

/// [`content_disposition`] with the ASCII `filename` made of `plain` (a name of the file's
/// own in ASCII, where it has one) and the real name `name`.
pub fn content_disposition_as(plain: &str, name: &str) -> String {
    let ascii: String = plain
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(name, ATTR_CHAR)
    )
}

/// Sends what is written to it down a channel, a chunk at a time (from a blocking thread),
/// always holding the latest chunk back: it goes out only through [`ChannelWriter::finish`],
/// once the whole file is known to be the one that arrived.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    held: Option<Bytes>,
}

impl ChannelWriter {
    fn send(&self, chunk: std::io::Result<Bytes>) -> std::io::Result<()> {
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::other("the client went away"))
    }

    /// The held chunk after a good copy, or the error instead of it.
    fn finish(mut self, outcome: Result<(), String>) {
        let last = match outcome {
            Ok(()) => self.held.take().map(Ok),
            Err(why) => Some(Err(std::io::Error::other(why))),
        };
        if let Some(last) = last {
            let _ = self.send(last);
        }
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(CHUNK);
        if let Some(earlier) = self.held.replace(Bytes::copy_from_slice(&buf[..n])) {
            self.send(Ok(earlier))?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The file's bytes as a response body, read on a blocking thread. When the bytes read differ
/// from the journaled length or digest (the archive was changed), the body ends in an error
/// before its last chunk (the client sees a cut-off response, never a whole wrong file) and
/// it is logged.
pub fn stream(dir: PathBuf, file: ArrivedFile, appeal: u64) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel(CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter { tx, held: None };
        let copied = crate::wire::package::copy_member(
            &dir,
            file.name.rsplit('/').next().unwrap_or(&file.name),
            file.container.as_deref(),
            file.size,
            &mut out,
        );
        let outcome = match copied {
            Ok((len, sha256)) if len == file.size && sha256 == file.sha256 => Ok(()),
            Ok(_) => Err("it differs from the file that arrived".to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(why) = &outcome {
            tracing::error!(appeal, file = %file.sha256, error = %why, "an appeal's file could not be served");
        }
        out.finish(outcome);
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cyrillic_name_travels_as_rfc_6266_says() {
        assert_eq!(
            content_disposition("Обращение №1.pdf"),
            "attachment; filename=\"_________ _1.pdf\"; \
             filename*=UTF-8''%D0%9E%D0%B1%D1%80%D0%B0%D1%89%D0%B5%D0%BD%D0%B8%D0%B5%20%E2%84%961.pdf"
        );
        assert_eq!(
            content_disposition("a\"b\\c;d.pdf"),
            "attachment; filename=\"a_b_c;d.pdf\"; filename*=UTF-8''a%22b%5Cc%3Bd.pdf"
        );
    }

    #[test]
    fn appeals_journaled_before_files_were_list_them_from_their_package() {
        let out = tempfile::tempdir().unwrap();
        let written = crate::samples::generate_for_test(out.path());
        let dir = written
            .iter()
            .find(|p| p.ends_with("urog-appeal-2.7.1"))
            .unwrap();
        let listed = list(&[], dir, &Limits::default()).unwrap();
        let names: Vec<(&str, crate::model::FileRole)> =
            listed.iter().map(|f| (f.name.as_str(), f.role)).collect();
        use crate::model::FileRole::*;
        assert_eq!(names[0], ("message.xml", Message));
        assert_eq!(names[1], ("passport.xml", Passport));
        assert_eq!(
            names[2..],
            [
                ("cover-letter.pdf", Document),
                ("cover-letter.pdf.p7s", Signature),
                ("appeal.pdf", Attachment)
            ]
        );
        assert!(listed[1..].iter().all(|f| f.container.is_some()));
        // journaled files are taken as journaled, the package unread
        assert_eq!(
            list(&listed[..1], Path::new("/nonexistent"), &Limits::default()).unwrap(),
            listed[..1]
        );
    }

    #[test]
    fn media_types_by_extension() {
        assert_eq!(content_type("Письмо.PDF"), "application/pdf");
        assert_eq!(
            content_type("Письмо.pdf.p7s"),
            "application/pkcs7-signature"
        );
        assert_eq!(content_type("document.xml"), "text/xml");
        assert_eq!(content_type("без расширения"), "application/octet-stream");
    }
}
