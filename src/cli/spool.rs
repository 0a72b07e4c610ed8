//! `spool …`: status, list, one arrival's records, retry of a quarantined package.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Config;
use crate::control;
use crate::operator;
use crate::spool::{self, Layout};
use crate::spoolview;

use super::print_json;

#[derive(Debug, Subcommand)]
pub enum SpoolCommand {
    /// Counts per state (ready, incomplete, processing, quarantined, archived, outbound) and
    /// the oldest age in each.
    Status {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Every package the spool knows, with its original folder name; `--state` filters.
    List {
        /// Only packages in this state.
        #[arg(long, value_parser = ["ready", "incomplete", "processing", "quarantined", "archived", "held", "vanished", "outbound", "rejected"])]
        state: Option<String>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The journal records of one arrival (ID: arrival number or ≥ 8 characters of its key).
    Show {
        /// The arrival number or at least 8 characters of its package key.
        id: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Put a quarantined package back into inbound for another attempt.
    Retry {
        /// The quarantine folder name, its package key (or a unique prefix of it), or the
        /// arrival number.
        id: String,
    },
}

/// `spool …`.
pub(super) fn run(config: Config, command: SpoolCommand) -> Result<ExitCode, String> {
    match command {
        SpoolCommand::Status { json } => status(&config, json),
        SpoolCommand::List { state, json } => list(&config, state.as_deref(), json),
        SpoolCommand::Show { id, json } => show(&config, &id, json),
        SpoolCommand::Retry { id } => run_retry(config, &id),
    }
}

/// `spool status`: counts per state and the oldest age in each.
fn status(config: &Config, json: bool) -> Result<ExitCode, String> {
    spool::check_transport_folders(&Layout::new(&config.spool)).map_err(|e| e.to_string())?;
    let status = spoolview::status(&spoolview::items(config)?);
    if json {
        print_json(&status);
    } else {
        for (state, n) in &status.counts {
            let oldest = status
                .oldest_secs
                .get(state)
                .map(|a| format!("  (старейший — {})", spoolview::age_text(*a)))
                .unwrap_or_default();
            let label = spoolview::state_label(state);
            println!("{label:<16} {n:>6}{oldest}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `spool list [--state S]`.
fn list(config: &Config, state: Option<&str>, json: bool) -> Result<ExitCode, String> {
    spool::check_transport_folders(&Layout::new(&config.spool)).map_err(|e| e.to_string())?;
    let items: Vec<spoolview::Item> = spoolview::items(config)?
        .into_iter()
        .filter(|i| state.is_none_or(|s| s == i.state))
        .collect();
    if json {
        print_json(&items);
    } else {
        print!("{}", spoolview::table(&items));
    }
    Ok(ExitCode::SUCCESS)
}

/// `spool show ID`: the journal records of one arrival.
fn show(config: &Config, id: &str, json: bool) -> Result<ExitCode, String> {
    let records = spoolview::show(config, id)?;
    for r in &records {
        if json {
            println!("{}", r.line());
        } else {
            let detail = serde_json::to_value(&r.event).unwrap_or_default();
            let at = operator::journal_time(&r.ts, config);
            println!("{:>8}  {at}  {:<24} {}", r.seq, r.event.label(), detail);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `spool retry ID`: back into inbound; the journal records the operator's action (through
/// the service when it runs).
fn run_retry(config: Config, id: &str) -> Result<ExitCode, String> {
    let layout = Layout::new(&config.spool);
    let (back, arrival) = retry(&layout, id)?;
    println!("{id}: возвращено во входящую как {}", back.display());
    match arrival {
        Some(arrival) => {
            let to = back
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            super::appeals::submit(config, control::Command::Retried { arrival, to }, None)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Moves a quarantined package back into inbound. Works while the service runs (a rename
/// into inbound is just a new arrival for it).
fn retry(layout: &Layout, id: &str) -> Result<(PathBuf, Option<u64>), String> {
    let mut matches = Vec::new();
    for e in std::fs::read_dir(&layout.quarantine)
        .map_err(|e| format!("{}: {e}", layout.quarantine.display()))?
    {
        let Ok(e) = e else { continue };
        let name = e.file_name().to_string_lossy().into_owned();
        let reason: Option<spool::Reason> = std::fs::read(e.path().join("reason.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let hit = name == id
            || (id.len() >= 8 && name.starts_with(id))
            || reason.as_ref().is_some_and(|r| r.arrival.to_string() == id);
        if hit && e.path().join("package").is_dir() {
            matches.push((e.path(), reason));
        }
    }
    let (dir, reason) = match matches.len() {
        1 => matches.pop().expect("one match"),
        0 => return Err(format!("в карантине нет пакета {id:?}")),
        n => {
            return Err(format!(
                "{id:?} подходит к {n} пакетам в карантине: укажите ключ длиннее"
            ))
        }
    };
    let arrival = reason.as_ref().map(|r| r.arrival);
    let original = reason
        .map(|r| r.original_name)
        .filter(|n| !n.is_empty() && !n.contains(['/', '\\']) && !n.starts_with('.'))
        .unwrap_or_else(|| "retried".to_string());
    let mut target = layout.inbound.join(&original);
    let mut n = 1;
    while target.exists() {
        target = layout.inbound.join(format!("{original}.retry{n}"));
        n += 1;
    }
    std::fs::rename(dir.join("package"), &target).map_err(|e| {
        format!(
            "не удалось вернуть {}: {}",
            dir.display(),
            crate::words::io(&e)
        )
    })?;
    std::fs::remove_dir_all(&dir).map_err(|e| {
        format!(
            "не удалось удалить {}: {}",
            dir.display(),
            crate::words::io(&e)
        )
    })?;
    Ok((target, arrival))
}
