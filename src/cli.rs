//! The command line: clap definitions and dispatch to library functions. Prints results and
//! maps errors to documented exit codes; holds no logic of its own.
//!
//! Exit codes: 0 success; 1 a package could not be read (each failure printed to stderr
//! naming the file and the problem); 2 usage or configuration error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::inspect::inspect;
use crate::samples::{self, Parties};
use crate::wire::message::Sender;
use crate::wire::Limits;

/// Default configuration path (relative to the working directory).
pub const DEFAULT_CONFIG: &str = "config/gateway.toml";

/// medo-gateway: exchanges citizens' appeals with УРОГ over МЭДО, beside a VipNet client.
#[derive(Debug, Parser)]
#[command(name = "medo-gateway", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file.
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
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
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

/// Entry point used by `src/main.rs`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
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
    match cli.command {
        Command::Inspect { folders, compact } => {
            let limits = limits_for(&cli.config)?;
            Ok(run_inspect(&folders, compact, &limits))
        }
        Command::Samples { out } => {
            let config = Config::load(&cli.config).map_err(|e| e.to_string())?;
            run_samples(&config, out)
        }
    }
}

fn run_inspect(folders: &[PathBuf], compact: bool, limits: &Limits) -> ExitCode {
    let mut failed = 0;
    for folder in folders {
        match inspect(folder, limits) {
            Ok(json) if compact => {
                let value: serde_json::Value = serde_json::from_str(&json).expect("our own JSON");
                println!("{value}");
            }
            Ok(json) => println!("{json}"),
            Err(e) => {
                failed += 1;
                eprintln!("{}: {e} [{}]", folder.display(), e.code());
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn run_samples(config: &Config, out: Option<PathBuf>) -> Result<ExitCode, String> {
    let urog = config
        .partners
        .iter()
        .find(|p| p.role == "urog")
        .ok_or("samples need a partner with role = \"urog\" in the config")?;
    let urog_sender = Sender {
        uid: urog.uid.clone(),
        organization: urog.name.clone(),
    };
    let parties = Parties {
        urog: &urog_sender,
        urog_address: &urog.transport_address,
        us: &config.sender,
        our_address: config.transport_address.as_deref().unwrap_or("OUR~MEDO"),
    };
    let out = out.unwrap_or_else(|| config.spool.inbound.clone());
    let written = samples::generate(&out, &parties)
        .map_err(|e| format!("cannot write samples into {}: {e}", out.display()))?;
    for dir in written {
        println!("wrote {}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}
