//! The command line: clap definitions and dispatch to library functions, one module per
//! command group (as mini-redis keeps one file per command). Prints results and maps errors to
//! documented exit codes; holds no logic of its own.
//!
//! Exit codes: 0 success; 1 a package could not be read, or the journal does not verify;
//! 2 usage or configuration error; 3 the service stopped on a fatal error (fsync, journal,
//! store); 4 transient errors persisted through every retry of `run --once`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::wire::Limits;

mod api;
mod appeals;
mod documents;
mod journal;
mod service;
mod spool;
mod sstu;
mod storage;
mod store;
mod tools;

pub use api::ApiCommand;
pub use appeals::{AppealsCommand, EventStep};
pub use journal::{CheckpointCommand, ExportArgs, ExportFormatArg, JournalCommand, LostPiece};
pub use spool::SpoolCommand;
pub use sstu::SstuCommand;
pub use storage::StorageCommand;
pub use store::StoreCommand;

/// Default configuration path (relative to the working directory).
pub const DEFAULT_CONFIG: &str = "config/gateway.toml";

/// medo-gateway: exchanges citizens' appeals with УРОГ over МЭДО, beside a VipNet client.
#[derive(Debug, Parser)]
#[command(name = "medo-gateway", version = crate::VERSION, about, long_about = None)]
pub struct Cli {
    /// Configuration file; when the default is absent, /etc/medo-gateway/gateway.toml (where
    /// the Debian package installs it) if that exists.
    #[arg(long, global = true, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read package folders and print a JSON summary of each (envelope, message, files with
    /// SHA-256, container passport, warnings). Exit 1 if any cannot be read.
    Inspect {
        /// Package folders (one МЭДО message each).
        #[arg(required = true)]
        folders: Vec<PathBuf>,
        /// Print one JSON object per line instead of pretty JSON.
        #[arg(long)]
        compact: bool,
    },
    /// Write the sample inbound packages (as УРОГ would send them) into a folder.
    Samples {
        /// Where to write them (default: the configured inbound folder).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run the gateway: watch inbound, claim ready packages, journal, answer with receipts,
    /// archive. Stops cleanly on SIGINT/SIGTERM.
    Run {
        /// Process everything that is ready now, publish all effects, and exit.
        #[arg(long)]
        once: bool,
    },
    /// The exchange journal (the system of record).
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// The sled index derived from the journal.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// The storage backends: move the journal between files and PostgreSQL.
    Storage {
        #[command(subcommand)]
        command: StorageCommand,
    },
    /// Spool tools for operators.
    Spool {
        #[command(subcommand)]
        command: SpoolCommand,
    },
    /// ССТУ.РФ reporting.
    Sstu {
        #[command(subcommand)]
        command: SstuCommand,
    },
    /// The HTTP API's СЭД clients.
    Api {
        #[command(subcommand)]
        command: ApiCommand,
    },
    /// Our documents not yet sent; approve those waiting for approval.
    Documents {
        #[command(subcommand)]
        command: documents::DocumentsCommand,
    },
    /// Forwarded appeals: list, show, register or refuse those waiting for an operator.
    Appeals {
        #[command(subcommand)]
        command: AppealsCommand,
        /// A region's hub: the body (`[[bodies]] id`) — whose appeals to list, whose number
        /// ID is; for `assign`, the body the package is for.
        #[arg(long, global = true, value_name = "BODY")]
        body: Option<String>,
    },
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // colours only for a person at a terminal (a journal, a file or a pipe gets plain text)
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // under systemd (stderr is the journal's stream) each line starts with its syslog
    // priority, `<4>`…, which journald takes for the entry's level: `journalctl -p warning`
    let journal = std::env::var_os("JOURNAL_STREAM").is_some() && !terminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(terminal)
        .with_writer(LevelPrefixed(journal));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Writes log lines to stderr, each prefixed with its syslog priority when `.0` (the stream
/// is journald's, which reads `<N>` as the entry's level — `SyslogLevelPrefix=`, on by
/// default).
struct LevelPrefixed(bool);

/// One log line's writer: the prefix before the first bytes.
struct PrefixedLine {
    prefix: Option<&'static [u8]>,
}

impl std::io::Write for PrefixedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut err = std::io::stderr().lock();
        if let Some(p) = self.prefix.take() {
            err.write_all(p)?;
        }
        err.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LevelPrefixed {
    type Writer = PrefixedLine;
    fn make_writer(&'a self) -> PrefixedLine {
        PrefixedLine { prefix: None }
    }
    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> PrefixedLine {
        let prefix: &'static [u8] = match *meta.level() {
            tracing::Level::ERROR => b"<3>",
            tracing::Level::WARN => b"<4>",
            tracing::Level::INFO => b"<6>",
            _ => b"<7>",
        };
        PrefixedLine {
            prefix: self.0.then_some(prefix),
        }
    }
}

/// Where the Debian package installs the configuration.
pub const INSTALLED_CONFIG: &str = "/etc/medo-gateway/gateway.toml";

/// The default `config/gateway.toml` when it exists (a checkout), else the installed one when
/// that exists (an operator's shell on the server); a path given explicitly is kept.
fn config_path(given: PathBuf) -> PathBuf {
    let installed = Path::new(INSTALLED_CONFIG);
    // "there, but not for this user" (a 0750 /etc/medo-gateway) counts as there: the caller
    // is then told it cannot read the installed config, not that a relative one is missing
    let there = |p: &Path| match std::fs::symlink_metadata(p) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::PermissionDenied,
    };
    if given == Path::new(DEFAULT_CONFIG) && !given.exists() && there(installed) {
        return installed.to_path_buf();
    }
    given
}

/// Loads the config; a missing *default* config falls back to built-in limits for commands
/// that only need limits (`inspect`).
fn limits_for(path: &Path) -> Result<Limits, String> {
    if path == Path::new(DEFAULT_CONFIG) && !path.exists() {
        return Ok(Limits::default());
    }
    Config::load(path)
        .map(|c| c.limits)
        .map_err(|e| e.to_string())
}

/// A command whose reader has gone (`inspect … | head`) ends as Unix tools do — silently, by
/// SIGPIPE — instead of panicking in `println!` on EPIPE (Rust ignores SIGPIPE by default).
/// Not for `run`: the service must outlive a closed log stream.
fn quiet_on_closed_pipe() {
    // SAFETY: resetting a signal's disposition to the default has no preconditions; no
    // other thread exists yet.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Entry point used by `src/main.rs`.
pub fn main() -> ExitCode {
    // the applicants' mail goes through the binary's SMTP client
    medo_engine::notify::install(crate::mail::send);
    let mut cli = Cli::parse();
    cli.config = config_path(cli.config);
    if !matches!(cli.command, Command::Run { .. }) {
        quiet_on_closed_pipe();
    }
    init_tracing(cli.log_format);
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("medo-gateway: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let load = || Config::load(&cli.config).map_err(|e| e.to_string());
    match cli.command {
        Command::Inspect { folders, compact } => {
            let limits = limits_for(&cli.config)?;
            Ok(tools::run_inspect(&folders, compact, &limits))
        }
        Command::Samples { out } => tools::run_samples(&load()?, out),
        Command::Run { once } => Ok(service::run_service(load()?, once)),
        Command::Journal { command } => journal::run(load()?, command),
        Command::Store { command } => store::run(&load()?, command),
        Command::Storage { command } => storage::run(&load()?, command),
        Command::Api { command } => api::run(command),
        Command::Sstu { command } => sstu::run(&load()?, command),
        Command::Appeals { command, body } => appeals::run(load()?, command, body),
        Command::Documents { command } => documents::run(load()?, command),
        Command::Spool { command } => spool::run(load()?, command),
    }
}

/// Prints a value as pretty JSON on stdout (every `--json` output).
pub(super) fn print_json<T: serde::Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("reports serialise")
    );
}

/// A refused operator request (an unknown appeal, say): said on stderr, exit 1 — as a
/// command the service refused; exit 2 stays for set-up problems.
pub(super) fn refused(why: &str) -> ExitCode {
    eprintln!("medo-gateway: {why}");
    ExitCode::from(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument and option of every command, and every command, says what it is.
    fn undocumented(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        let here = format!("{path} {}", cmd.get_name());
        if cmd.get_about().is_none() && path.contains(' ') {
            out.push(format!("{here}: no about"));
        }
        for a in cmd.get_arguments() {
            let builtin = matches!(a.get_id().as_str(), "help" | "version");
            if !builtin && a.get_help().is_none() && a.get_long_help().is_none() {
                out.push(format!("{here} {}", a.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            undocumented(sub, &here, out);
        }
    }

    #[test]
    fn every_option_and_argument_has_help() {
        let mut missing = Vec::new();
        undocumented(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "without help:\n{}", missing.join("\n"));
    }
}
