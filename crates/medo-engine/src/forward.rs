//! An appeal forwarded by competence over МЭДО (`appeals redirect ID --to partner:NAME`): what
//! the loop does around the core's decision — it lists the appeal's files (journaled, or read
//! from its package for an appeal journaled before files were), and, once the redirect is
//! decided and before it is journaled, keeps a copy of each file the forwarded document
//! carries under `state_dir/answers/<appeal>/forwarded/` (read from the archived package or
//! its transport container, checked against its journaled size and digest, written under a
//! temporary name, fsynced, renamed). The outbox packs those copies whenever the document is
//! (re)sent, so the partner receives the files byte for byte as they arrived, even after the
//! archive is pruned.

use std::io::Write;
use std::path::Path;

use medo_model::{ArrivedFile, Event, OutFile, OutputKind};
use medo_wire::limits::Limits;

/// The files of an appeal: as journaled (`journaled`), or — none journaled, the appeal came
/// before files were — as its package in `dir` holds them now.
pub fn files_of(
    journaled: &[ArrivedFile],
    dir: &Path,
    limits: &Limits,
) -> Result<Vec<ArrivedFile>, String> {
    if !journaled.is_empty() {
        return Ok(journaled.to_vec());
    }
    let package = medo_wire::package::read_package(dir, limits)
        .map_err(|e| format!("пакет обращения не читается: {e}"))?;
    Ok(medo_core::appeals::facts(&package, &|_| None)
        .map(|f| f.arrived)
        .unwrap_or_default())
}

/// The files of the forwarded documents among `events` (none: nothing to keep).
pub(crate) fn forwarded_files(events: &[Event]) -> Vec<&OutFile> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::AppealProgress { outputs, .. } => Some(outputs),
            _ => None,
        })
        .flatten()
        .filter(|o| o.kind == OutputKind::Forwarded)
        .flat_map(|o| &o.files)
        .collect()
}

/// Keeps each of `sent` (under `state`, at its `kept` path) from the package in `dir`, where
/// `arrived` says where each file is and what it was; a file that is missing or differs from
/// what arrived is refused in words, and nothing is journaled.
pub(crate) fn keep(
    state: &Path,
    dir: &Path,
    arrived: &[ArrivedFile],
    sent: &[&OutFile],
) -> Result<(), String> {
    for file in sent {
        let from = arrived
            .iter()
            .find(|a| a.name == file.name && a.sha256 == file.sha256)
            .ok_or_else(|| format!("{}: нет среди файлов обращения", file.name))?;
        keep_one(&state.join(&file.kept), dir, from)
            .map_err(|why| format!("{}: {why}", file.name))?;
    }
    Ok(())
}

/// One file copied out of the package under a temporary name, checked, fsynced, renamed; the
/// temporary file is not left behind when that fails.
fn keep_one(to: &Path, dir: &Path, from: &ArrivedFile) -> Result<(), String> {
    let tmp = to.with_file_name(format!(
        ".{}.tmp",
        to.file_name().unwrap_or_default().to_string_lossy()
    ));
    let kept = copy_checked(to, &tmp, dir, from);
    if kept.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    kept
}

fn copy_checked(to: &Path, tmp: &Path, dir: &Path, from: &ArrivedFile) -> Result<(), String> {
    let parent = to.parent().map(Path::to_path_buf).unwrap_or_default();
    std::fs::create_dir_all(&parent).map_err(|e| medo_stdx::words::io(&e))?;
    let mut out = std::fs::File::create(tmp).map_err(|e| medo_stdx::words::io(&e))?;
    let name = from.name.rsplit('/').next().unwrap_or(&from.name);
    let copied =
        medo_wire::package::copy_member(dir, name, from.container.as_deref(), from.size, &mut out)
            .map_err(|e| e.to_string())?;
    if copied != (from.size, from.sha256.to_string()) {
        return Err("в архиве не тот файл, что поступил (размер или SHA-256 другие)".into());
    }
    out.flush()
        .and_then(|_| out.sync_all())
        .and_then(|_| std::fs::rename(tmp, to))
        .and_then(|_| medo_stdx::fsync_dir(&parent))
        .map_err(|e| medo_stdx::words::io(&e))
}
