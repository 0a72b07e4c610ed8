//! `medo-gateway inspect`: a JSON summary of a package folder, for operators and scripts.
//! Reads the folder through [`crate::wire::package`]; writes nothing.

use std::path::Path;

use serde::Serialize;

use crate::wire::container::ContainerInfo;
use crate::wire::envelope::Envelope;
use crate::wire::message::{Body, Format, Header, Partner};
use crate::wire::package::{read_package, PackageFile};
use crate::wire::{Limits, WireError};

/// What `inspect` prints for one package.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub folder: String,
    pub format: Format,
    pub version: &'a str,
    pub envelope_file: &'a str,
    pub envelope: &'a Envelope,
    pub message_file: &'a str,
    pub message_encoding: &'a str,
    pub header: &'a Header,
    pub body: &'a Body,
    pub delivery_index: &'a [Partner],
    pub files: &'a [PackageFile],
    pub container_file: Option<&'a str>,
    pub container: Option<&'a ContainerInfo>,
    /// ДСП (restricted): from the container passport's classification, or the document's.
    pub restricted: bool,
    pub missing: &'a [String],
    pub warnings: &'a [String],
}

/// Reads a package and renders its report as JSON: pretty, or on one line (`compact`) —
/// serialised once either way.
pub fn inspect(folder: &Path, limits: &Limits, compact: bool) -> Result<String, WireError> {
    let package = read_package(folder, limits)?;
    let restricted = package
        .container
        .as_ref()
        .is_some_and(|c| c.passport.is_restricted())
        || package
            .message
            .document()
            .and_then(|d| d.classification.as_deref())
            .is_some_and(|c| {
                let c = c.to_lowercase();
                c.contains("дсп") || c.contains("ограниченного")
            });
    let report = Report {
        folder: folder.display().to_string(),
        format: package.message.format,
        version: &package.message.version,
        envelope_file: &package.envelope_file,
        envelope: &package.envelope,
        message_file: &package.message_file,
        message_encoding: package.message_encoding,
        header: &package.message.header,
        body: &package.message.body,
        delivery_index: &package.message.delivery_index,
        files: &package.files,
        container_file: package.container_file.as_deref(),
        container: package.container.as_ref(),
        restricted,
        missing: &package.missing,
        warnings: &package.warnings,
    };
    let json = match compact {
        true => serde_json::to_string(&report),
        false => serde_json::to_string_pretty(&report),
    };
    Ok(json.expect("the report always serialises"))
}
