//! `storage migrate`: the journal — the system of record — moved between the storage
//! backends (issue 29): from this node's files (`state_dir/journal/`) into an empty (or
//! partly filled, same-history) PostgreSQL database, or back. Resumable and idempotent
//! (`medo_store::migrate`); the service must be stopped (the instance lock is taken), and no
//! gateway may lead on the database (its live lease refuses the copy). The index is not
//! copied: the target rebuilds it from the journal.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use crate::config::Config;
use crate::spool::{self, Layout};
use medo_store::migrate::{self, Import, Migrated};
use medo_store::JournalRead;

#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Copy the journal to the other storage backend, verifying its chain: `--to postgres`
    /// from this node's files into the database, `--to files` from the database into this
    /// node's (empty) journal folder. Resumable: run it again after an interruption; a
    /// finished copy copies nothing; a target with another history is refused (exit 2).
    Migrate {
        /// The backend to copy into.
        #[arg(long, value_enum)]
        to: Backend,
        /// The database: `postgresql://user:password@host:port/database` (default: `[storage]
        /// url` or `url_file` of the configuration).
        #[arg(long, conflicts_with = "url_file")]
        url: Option<String>,
        /// A file holding the whole URL (so the password stays out of the shell's history).
        #[arg(long, value_name = "FILE")]
        url_file: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Postgres,
    Files,
}

pub(super) fn run(config: &Config, command: StorageCommand) -> Result<ExitCode, String> {
    let StorageCommand::Migrate { to, url, url_file } = command;
    let url = match (url, url_file) {
        (Some(url), _) => url,
        (None, Some(file)) => std::fs::read_to_string(&file)
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("{}: {}", file.display(), crate::words::io(&e)))?,
        (None, None) => match &config.storage {
            crate::config::Storage::Postgres { url, .. } => url.expose().to_string(),
            crate::config::Storage::Files => {
                return Err(
                    "укажите базу: --url, --url-file или [storage] url в настройках".to_string(),
                )
            }
        },
    };
    let layout = Layout::new(&config.spool);
    std::fs::create_dir_all(&layout.state).map_err(|e| e.to_string())?;
    let _lock = spool::InstanceLock::acquire(&layout.lock).map_err(|e| e.to_string())?;
    let mut pg = medo_pg::PgJournal::open(&url).map_err(|e| e.to_string())?;
    let done = match to {
        Backend::Postgres => {
            let files = crate::journal::Folder::new(&layout.journal);
            copy(&files, &mut pg)
        }
        Backend::Files => {
            let (mut files, _) =
                crate::journal::Journal::open(&layout.journal).map_err(|e| e.to_string())?;
            copy(&pg, &mut files)
        }
    };
    match done {
        Ok(m) => {
            println!(
                "журнал перенесён: скопировано записей {}, уже было {}, голова {}",
                m.copied, m.already, m.head
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(migrate::MigrateError::Journal(e)) => Err(e.to_string()),
        Err(refused) => {
            eprintln!("medo-gateway: перенос отклонён: {refused}");
            Ok(ExitCode::from(2))
        }
    }
}

/// The copy, its progress on a terminal (quiet when piped), the target verified after it.
fn copy(from: &dyn JournalRead, to: &mut dyn Import) -> Result<Migrated, migrate::MigrateError> {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut progress = |n: u64| {
        if terminal {
            let _ = write!(std::io::stderr(), "\rскопировано записей: {n}");
        }
    };
    let migrated = migrate::migrate(from, to, &mut progress)?;
    if terminal && migrated.copied > 0 {
        let _ = writeln!(std::io::stderr());
    }
    let report = to.verify()?;
    report.intact()?;
    Ok(migrated)
}
