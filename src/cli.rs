//! The command line: clap definitions and dispatch to library functions. Prints results and
//! maps errors to documented exit codes; holds no logic of its own.
//!
//! Exit codes: 0 success; 1 a package could not be read, or the journal does not verify;
//! 2 usage or configuration error; 3 the service stopped on a fatal error (fsync, journal,
//! store); 4 transient errors persisted through every retry of `run --once`.

use crate::book::Appeals;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::control;
use crate::gateway::{self, GatewayError};
use crate::inspect::inspect;
use crate::journal;
use crate::operator;
use crate::operator_view;
use crate::samples::{self, Parties};
use crate::service::ServiceError;
use crate::spool::{self, Layout, SpoolError};
use crate::spoolview;
use crate::store::{self, Store};
use crate::wire::message::Sender;
use crate::wire::Limits;

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
    /// Forwarded appeals: list, show, register or refuse those waiting for an operator.
    Appeals {
        #[command(subcommand)]
        command: AppealsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Print a fresh random bearer token for the client NAME (once: it is stored nowhere)
    /// and the `[[api.clients]]` lines with its SHA-256 to paste into the config.
    Token {
        /// The client's name (`delo`, `directum`…): its `[[api.clients]] name`.
        name: String,
        /// Scopes: read, write, dsp (default: read only — give write explicitly).
        #[arg(long, value_delimiter = ',', default_values = ["read"])]
        scopes: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SstuCommand {
    /// Write one JSON per appeal (urog-appeals §2.1), validated first: an invalid appeal is
    /// reported, not written. Exit 1 when any is invalid.
    Export {
        /// The folder the JSON files (or ZIP parts) are written to.
        #[arg(long)]
        out: PathBuf,
        /// Also pack them into ZIP parts of at most 50 MB.
        #[arg(long)]
        zip: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppealsCommand {
    /// List appeals with their status and next deadline.
    List {
        /// Only those past their deadline.
        #[arg(long)]
        overdue: bool,
        /// Only those whose next deadline is within this many days.
        #[arg(long, value_name = "DAYS")]
        due_within: Option<i64>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Rows per page (the next page: `--after` the id the note names).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        limit: u64,
        /// Start after this appeal id.
        #[arg(long, value_name = "ID", default_value_t = 0)]
        after: u64,
        /// Every appeal, not a page.
        #[arg(long, conflicts_with_all = ["limit", "after"])]
        all: bool,
    },
    /// Show one appeal: status, numbers, deadlines, signatures, history.
    /// ID: our registration number, the УРОГ number (A26-… or А26-…), or the internal id.
    Show {
        /// Our registration number, the УРОГ number or the internal id.
        id: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also print the applicant's status PIN.
        #[arg(long)]
        pin: bool,
    },
    /// Register an appeal waiting for an operator; notifies УРОГ «Зарегистрирован».
    Register {
        /// Our registration number, the УРОГ number or the internal id.
        id: String,
        /// Use this registration number instead of the next one from the template.
        #[arg(long)]
        number: Option<String>,
        /// Register although a refusal rule applies (the override is journaled; needs --comment).
        #[arg(long, requires = "comment")]
        force: bool,
        /// Why the appeal is registered despite the rule.
        #[arg(long)]
        comment: Option<String>,
        /// The registration date (YYYY-MM-DD) when it was registered earlier (not after today,
        /// not before it arrived).
        #[arg(long)]
        date: Option<String>,
    },
    /// Refuse an appeal waiting for an operator; notifies УРОГ «Отказано в регистрации».
    Refuse {
        /// The УРОГ number or the internal id.
        id: String,
        /// One of the nine official reasons, exactly: «Не подлежит регистрации», «Ошибка
        /// адресации», «Не указан корреспондент», «Нет искового заявления», «Отсутствует
        /// текст», «Нет подписи», «Приложение отсутствует», «Листаж приложения указан
        /// ошибочно», «Несовпадение реквизитов приложения с приложенными документами».
        #[arg(long)]
        reason: String,
        /// A comment sent with the refusal.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Record the applicant card used by the ССТУ.РФ export (personal data: kept in
    /// state_dir/cards/, mode 0600, never in the journal).
    Card {
        /// Our registration number, the УРОГ number or the internal id.
        id: String,
        /// The applicant's full name.
        #[arg(long)]
        name: String,
        /// A ТОТК classifier code; one per question (repeat the option).
        #[arg(long = "code", required = true)]
        codes: Vec<String>,
        /// The applicant's postal address.
        #[arg(long)]
        address: Option<String>,
        /// The applicant's e-mail.
        #[arg(long)]
        email: Option<String>,
    },
    /// Report a step of consideration of a registered appeal (what the SED does); notifies УРОГ.
    Event {
        /// Our registration number, the УРОГ number or the internal id.
        id: String,
        #[command(subcommand)]
        step: EventStep,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventStep {
    /// «Назначен исполнитель»; status «рассматривается».
    ExecutorAssigned {
        /// The executor's name, e.g. "Иванов И.И.".
        #[arg(long)]
        executor: String,
        /// The executor's post.
        #[arg(long)]
        post: Option<String>,
    },
    /// «Исполнение»: the term extended (once, at most 30 days past the due date).
    Extended {
        /// The new due date, YYYY-MM-DD.
        #[arg(long)]
        until: String,
        /// Why the term is extended (sent to УРОГ).
        #[arg(long)]
        reason: String,
        /// The extension letter (a PDF), sent to УРОГ as our document before the notice.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// «Исполнение»: redirected to the competent body; status «направлено».
    Redirected {
        /// The competent body it is redirected to.
        #[arg(long)]
        to: String,
        /// The body's GUID in the ССТУ.РФ directory.
        #[arg(long)]
        sstu_id: Option<String>,
        /// Our cover letter's number.
        #[arg(long)]
        number: Option<String>,
        /// The redirect letter (a PDF), sent to УРОГ as our document before the notice.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// «Доклад направлен»; status «рассмотрено».
    Answered {
        /// explained | supported | supported-measures | not-supported | answered | left-without-answer
        #[arg(long)]
        result: String,
        /// The answer file (a PDF): sent to УРОГ as our document «Доклад» before the notice,
        /// kept under state_dir/answers/.
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Check every record: canonical bytes, own hash, chain to the previous record,
    /// contiguous seq. Exit 0 when intact; otherwise 1 and the first bad record.
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Compare with the witness's notes in DIR too ([audit] witness_dir): a journal
        /// shorter than, or different from, what the witness saw is reported.
        #[arg(long, value_name = "DIR")]
        witness: Option<PathBuf>,
    },
    /// Signed checkpoints (size and head hash, Ed25519).
    Checkpoint {
        #[command(subcommand)]
        command: CheckpointCommand,
    },
    /// Accept that a piece of the state next to the journal is lost (the service refuses to
    /// start without it): the next start makes it anew and journals who accepted it and why.
    Recover {
        /// What was lost: anchor (anchor.note), checkpoint-key, pin-key (every PIN changes).
        #[arg(
            long = "accept-missing",
            value_enum,
            required_unless_present = "from_witness"
        )]
        accept_missing: Vec<LostPiece>,
        /// After a restore from backup: continue with the numbering moved past every number
        /// the witness in DIR saw ([audit] witness_dir), in a new recovery epoch.
        #[arg(long, value_name = "DIR")]
        from_witness: Option<PathBuf>,
        /// Why (journaled; needed with --accept-missing).
        #[arg(long)]
        comment: Option<String>,
    },
    /// Write the journal to stdout for auditors (the chain is verified while reading).
    Export {
        /// JSON lines (one record each) or CSV.
        #[arg(long, value_enum, default_value_t = ExportFormatArg::Jsonl)]
        format: ExportFormatArg,
        /// CSV as Excel opens it in a Russian locale: UTF-8 with a BOM, `;`-separated, CRLF
        /// (implies `--format csv`).
        #[arg(long)]
        excel: bool,
        /// Only records on or after this day in the configured zone ([gateway] utc_offset):
        /// YYYY-MM-DD or ДД.ММ.ГГГГ.
        #[arg(long)]
        since: Option<String>,
        /// Only records on or before this day in the configured zone: YYYY-MM-DD or ДД.ММ.ГГГГ.
        #[arg(long)]
        until: Option<String>,
        /// Only the records of one appeal (our number, the УРОГ number, or its id).
        #[arg(long)]
        appeal: Option<String>,
        /// Only the records of arrivals from this МЭДО participant (GUID).
        #[arg(long)]
        partner: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CheckpointCommand {
    /// Print the public key auditors verify checkpoints with (base64, one line).
    Pubkey,
    /// Check every signed checkpoint: the signature, and that the journal still has the named
    /// head at the named size. Exit 0 when all hold, 1 otherwise.
    Verify {
        /// File with the public key line.
        #[arg(long)]
        pubkey: PathBuf,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormatArg {
    Jsonl,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Rebuild the index from the journal (the service must be stopped).
    Rebuild,
    /// Check that the index agrees with the journal: rebuild a scratch copy from the journal
    /// and compare every arrival. Exit 0 when they agree, 1 otherwise (the service must be
    /// stopped).
    Verify,
}

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
        #[arg(long, value_parser = ["ready", "incomplete", "processing", "quarantined", "archived", "vanished", "outbound", "rejected"])]
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
    match cli.command {
        Command::Inspect { folders, compact } => {
            let limits = limits_for(&cli.config)?;
            Ok(run_inspect(&folders, compact, &limits))
        }
        Command::Samples { out } => {
            let config = Config::load(&cli.config).map_err(|e| e.to_string())?;
            run_samples(&config, out)
        }
        Command::Run { once } => {
            let config = Config::load(&cli.config).map_err(|e| e.to_string())?;
            Ok(run_service(config, once))
        }
        Command::Journal { command } => {
            let config = Config::load(&cli.config).map_err(|e| e.to_string())?;
            let dir = Layout::new(&config.spool).journal;
            match command {
                JournalCommand::Verify { json, witness } => {
                    run_verify(&dir, (&config.spool.state_dir, witness.as_deref()), json)
                }
                JournalCommand::Recover {
                    accept_missing,
                    from_witness,
                    comment,
                } => {
                    let missing = accept_missing.into_iter().map(Into::into).collect();
                    run_recover(&config, (missing, from_witness), comment)
                }
                JournalCommand::Checkpoint {
                    command: CheckpointCommand::Pubkey,
                } => {
                    let key_path = config.spool.state_dir.join("checkpoint.key");
                    if !key_path.exists() {
                        return Err(format!(
                            "{} does not exist yet: run the gateway once",
                            key_path.display()
                        ));
                    }
                    let key = crate::checkpoint::load_or_create_key(&key_path)
                        .map_err(|e| e.to_string())?;
                    println!("{}", crate::checkpoint::public_key_line(&key));
                    Ok(ExitCode::SUCCESS)
                }
                JournalCommand::Checkpoint {
                    command: CheckpointCommand::Verify { pubkey, json },
                } => {
                    let key = std::fs::read_to_string(&pubkey)
                        .map_err(|e| format!("{}: {e}", pubkey.display()))?;
                    let report =
                        crate::checkpoint::verify(&dir, &key).map_err(|e| e.to_string())?;
                    if json {
                        print_json(&report);
                    } else if report.bad.is_empty() {
                        println!("контрольных точек проверено: {}", report.checkpoints);
                    } else {
                        for b in &report.bad {
                            println!("НЕВЕРНО {b}");
                        }
                    }
                    Ok(if report.bad.is_empty() && report.checkpoints > 0 {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    })
                }
                JournalCommand::Export {
                    format,
                    excel,
                    since,
                    until,
                    appeal,
                    partner,
                } => {
                    // days as people write them, in the configured zone
                    let day_of = |d: &Option<String>| -> Result<Option<time::Date>, String> {
                        d.as_deref()
                            .map(|d| {
                                person_date(d).ok_or_else(|| {
                                    format!("{d:?}: не дата (ГГГГ-ММ-ДД или ДД.ММ.ГГГГ)")
                                })
                            })
                            .transpose()
                    };
                    let (since, until) = (day_of(&since)?, day_of(&until)?);
                    let offset = config.policy.utc_offset;
                    let appeal = match appeal {
                        Some(id) => Some(
                            operator::load(&config)?
                                .find(&id)
                                .map_err(|e| e.to_string())?
                                .id,
                        ),
                        None => None,
                    };
                    let partner = match partner {
                        Some(uid) => {
                            Some(journal::arrivals_from(&dir, &uid).map_err(|e| e.to_string())?)
                        }
                        None => None,
                    };
                    let keep = move |r: &journal::Record| {
                        let day = crate::wire::time::local_day(&r.ts, offset);
                        let arrival = match &r.event {
                            journal::Event::Received { .. } => Some(r.seq),
                            e => e.arrival(),
                        };
                        since.is_none_or(|s| day.is_some_and(|d| d >= s))
                            && until.is_none_or(|u| day.is_some_and(|d| d <= u))
                            && appeal.is_none_or(|a| arrival == Some(a))
                            && partner
                                .as_ref()
                                .is_none_or(|set| arrival.is_some_and(|a| set.contains(&a)))
                    };
                    let format = match (format, excel) {
                        (_, true) => journal::ExportFormat::Csv { excel: true },
                        (ExportFormatArg::Csv, false) => {
                            journal::ExportFormat::Csv { excel: false }
                        }
                        (ExportFormatArg::Jsonl, false) => journal::ExportFormat::Jsonl,
                    };
                    run_export(&dir, format, &keep)
                }
            }
        }
        Command::Store { command } => {
            let config = Config::load(&cli.config).map_err(|e| e.to_string())?;
            match command {
                StoreCommand::Rebuild => run_rebuild(&config),
                StoreCommand::Verify => run_store_verify(&config),
            }
        }
        Command::Api {
            command: ApiCommand::Token { name, scopes },
        } => api_token(&name, &scopes),
        Command::Sstu {
            command: SstuCommand::Export { out, zip },
        } => {
            let config = Config::load(&cli.config).map_err(|e| e.to_string())?;
            let book = operator::load(&config)?;
            let report = operator::sstu_export(&config, &book, &out, zip)?;
            for name in &report.written {
                println!("записан {}", out.join(name).display());
            }
            for name in &report.archives {
                println!("упакован {}", out.join(name).display());
            }
            for (id, problems) in &report.invalid {
                let said: Vec<String> = problems.iter().map(sstu_problem).collect();
                eprintln!("обращение {id} не выгружено: {}", said.join("; "));
            }
            Ok(if report.invalid.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Appeals { command } => {
            let config = Config::load(&cli.config).map_err(|e| e.to_string())?;
            run_appeals(config, command)
        }
        Command::Spool {
            command: SpoolCommand::Status { json },
        } => {
            let config = Config::load(&cli.config).map_err(|e| e.to_string())?;
            spool::check_transport_folders(&Layout::new(&config.spool))
                .map_err(|e| e.to_string())?;
            let status = spoolview::status(&spoolview::items(&config)?);
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
        Command::Spool {
            command: SpoolCommand::List { state, json },
        } => {
            let config = Config::load(&cli.config).map_err(|e| e.to_string())?;
            spool::check_transport_folders(&Layout::new(&config.spool))
                .map_err(|e| e.to_string())?;
            let items: Vec<spoolview::Item> = spoolview::items(&config)?
                .into_iter()
                .filter(|i| state.as_deref().is_none_or(|s| s == i.state))
                .collect();
            if json {
                print_json(&items);
            } else {
                print!("{}", spoolview::table(&items));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Spool {
            command: SpoolCommand::Show { id, json },
        } => {
            let config = Config::load(&cli.config).map_err(|e| e.to_string())?;
            let records = spoolview::show(&config, &id)?;
            for r in &records {
                if json {
                    println!("{}", r.line());
                } else {
                    let detail = serde_json::to_value(&r.event).unwrap_or_default();
                    let at = operator::journal_time(&r.ts, &config);
                    println!("{:>8}  {at}  {:<24} {}", r.seq, r.event.label(), detail);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Spool {
            command: SpoolCommand::Retry { id },
        } => {
            let config = Config::load(&cli.config).map_err(|e| e.to_string())?;
            let layout = Layout::new(&config.spool);
            let (back, arrival) = retry(&layout, &id)?;
            println!("{id}: возвращено во входящую как {}", back.display());
            // the journal records the operator's action (through the service when it runs)
            match arrival {
                Some(arrival) => {
                    let to = back
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    submit(config, control::Command::Retried { arrival, to })
                }
                None => Ok(ExitCode::SUCCESS),
            }
        }
    }
}

/// `appeals list` / `show`: from the running service, else the store caught up, else the
/// journal folded ([`operator_view`]).
fn print_answer(config: &Config, query: &operator_view::Query) -> Result<ExitCode, String> {
    let layout = Layout::new(&config.spool);
    let answer = match operator_view::ask(&layout, query) {
        Some(answer) => answer,
        None => {
            let secret = operator_view::pin_secret_for(query, config);
            match operator_view::store_view(&layout) {
                Some((_lock, store)) => {
                    operator_view::answer(query, &store, config, secret.as_deref())
                }
                None => {
                    let book = operator::load(config)?;
                    operator_view::answer(query, &book, config, secret.as_deref())
                }
            }
        }
    };
    // an appeal that is not there is a refused request (exit 1), as any refused command
    let answer = match answer {
        Ok(a) => a,
        Err(why) => return Ok(refused(&why)),
    };
    print!("{}", answer.stdout);
    if let Some(note) = answer.note {
        eprintln!("{note}");
    }
    Ok(ExitCode::SUCCESS)
}

fn run_appeals(config: Config, command: AppealsCommand) -> Result<ExitCode, String> {
    match command {
        AppealsCommand::List {
            overdue,
            due_within,
            json,
            limit,
            after,
            all,
        } => {
            let query = operator_view::Query::List {
                overdue,
                due_within,
                after,
                limit: (!all).then_some(limit as usize),
                json,
            };
            print_answer(&config, &query)
        }
        AppealsCommand::Show { id, json, pin } => {
            print_answer(&config, &operator_view::Query::Show { id, json, pin })
        }
        AppealsCommand::Register {
            id,
            number,
            force,
            comment,
            date,
        } => {
            let operator = cli_operator();
            submit(
                config,
                control::Command::Register {
                    id,
                    number,
                    force,
                    comment,
                    operator,
                    date,
                },
            )
        }
        AppealsCommand::Refuse {
            id,
            reason,
            comment,
        } => submit(
            config,
            control::Command::Refuse {
                id,
                reason,
                comment,
                operator: cli_operator(),
            },
        ),
        AppealsCommand::Card {
            id,
            name,
            codes,
            address,
            email,
        } => {
            let book = operator::load(&config)?;
            let appeal = match book.find(&id) {
                Ok(a) => a,
                Err(why) => return Ok(refused(&why.to_string())),
            };
            let card = crate::sstu::Card {
                name,
                codes,
                address,
                email,
            };
            operator::write_card(&config, appeal.id, &card)?;
            println!("карточка обращения {} сохранена", appeal.id);
            Ok(ExitCode::SUCCESS)
        }
        AppealsCommand::Event { id, step } => {
            let (step, file) = match step {
                EventStep::ExecutorAssigned { executor, post } => {
                    (control::Step::ExecutorAssigned { executor, post }, None)
                }
                EventStep::Extended {
                    until,
                    reason,
                    file,
                } => (
                    control::Step::Extended {
                        until,
                        reason,
                        file: None,
                    },
                    file,
                ),
                EventStep::Redirected {
                    to,
                    sstu_id,
                    number,
                    file,
                } => (
                    control::Step::Redirected {
                        to,
                        sstu_id,
                        number,
                        file: None,
                    },
                    file,
                ),
                EventStep::Answered { result, file } => {
                    (control::Step::Answered { result, file: None }, file)
                }
            };
            // read here, with the operator's own rights; the service gets a copy
            let state = &config.spool.state_dir;
            let max = config.limits.max_answer_bytes;
            let step = match file
                .map(|f| {
                    control::attach(state, &f, max, is_pdf)
                        .map_err(|e| format!("--file {}: {e}", f.display()))
                })
                .transpose()
            {
                Ok(Some(reference)) => step.with_file(reference).unwrap_or_else(|s| s),
                Ok(None) => step,
                Err(why) => {
                    eprintln!("medo-gateway: {why}");
                    return Ok(ExitCode::from(1));
                }
            };
            let attachment = step.file().cloned();
            let state = config.spool.state_dir.clone();
            let operator = cli_operator();
            let submitted = submit(config, control::Command::Progress { id, step, operator });
            if let (Err(_), Some(a)) = (&submitted, &attachment) {
                control::detach(&state, a);
            }
            submitted
        }
    }
}

/// Queues an operator command; applies it at once when no service is running, otherwise
/// waits a little for the service to apply it.
fn submit(config: Config, command: control::Command) -> Result<ExitCode, String> {
    let id = command.id().to_string();
    let about_an_appeal = !matches!(command, control::Command::Retried { .. });
    // fail fast on what can be checked without the service
    if about_an_appeal {
        let book = operator::load(&config)?;
        if let Err(why) = book.find(command.id()) {
            return Ok(refused(&why.to_string()));
        }
    }
    let state = config.spool.state_dir.clone();
    let path = control::submit(&state, &command).map_err(|e| {
        format!(
            "не удалось поставить команду в очередь в {}: {}",
            control::dir(&state).display(),
            crate::words::io(&e)
        )
    })?;
    match gateway::Gateway::open(config.clone()) {
        Ok(mut gw) => {
            let applied = gw.apply_operator_commands();
            let closed = gw.close();
            applied.map_err(|e| e.to_string())?;
            closed.map_err(|e| e.to_string())?;
        }
        Err(GatewayError::Spool(SpoolError::Setup(spool::Setup::LockHeld { .. }))) => {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while control::outcome(&path).is_none() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        Err(e) => return Err(e.to_string()),
    }
    match control::outcome(&path) {
        None => {
            println!("поставлено в очередь: работающая служба выполнит на следующем проходе");
            Ok(ExitCode::SUCCESS)
        }
        Some(Err(why)) => {
            eprintln!("medo-gateway: {why}");
            Ok(ExitCode::from(1))
        }
        Some(Ok(())) if !about_an_appeal => {
            println!("записано в журнал");
            Ok(ExitCode::SUCCESS)
        }
        Some(Ok(())) => {
            let book = operator::load(&config)?;
            let a = book.find(&id).map_err(|e| e.to_string())?;
            println!(
                "обращение {} ({}): {}{}",
                a.id,
                a.urog_number,
                a.state.label(),
                a.number
                    .as_deref()
                    .map(|n| format!(
                        " под номером {n} от {}",
                        a.registered_on.as_deref().unwrap_or("?")
                    ))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_service(config: Config, once: bool) -> ExitCode {
    let source = config.source.clone();
    let result = if once {
        gateway::run_once(config).map(|r| {
            println!(
                "run --once: взято {}, разобрано {}, дубликатов {}, в карантин {}, отправлено {}, в архив {}; во входящей осталось: не дособрано {}, ждут готовности {}{}",
                r.claimed, r.parsed, r.duplicates, r.quarantined, r.published, r.archived, r.incomplete, r.settling,
                peak_rss_kib().map(|k| format!("; пиковая память {} КиБ", k)).unwrap_or_default()
            );
        }).map_err(ServiceError::from)
    } else {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("medo-gateway: не удалось запустить среду выполнения: {e}");
                return ExitCode::from(3);
            }
        };
        runtime.block_on(async {
            let shutdown = shutdown_signal();
            gateway::run(config, shutdown).await
        })
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_setup() => {
            let from = source
                .map(|p| format!(" [файл настроек: {}]", p.display()))
                .unwrap_or_default();
            eprintln!("medo-gateway: {e}{from}");
            ExitCode::from(2)
        }
        Err(e) if e.is_transient() => {
            eprintln!(
                "medo-gateway: {e} (временная ошибка: работа продолжится при следующем запуске)"
            );
            ExitCode::from(4)
        }
        Err(e) => {
            eprintln!("medo-gateway: фатальная ошибка: {e}");
            ExitCode::from(3)
        }
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called (inside the
/// runtime), not when the future is first polled, so a signal during start-up is not lost.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => std::future::pending().await,
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn run_verify(
    dir: &Path,
    (state, witness): (&Path, Option<&Path>),
    json: bool,
) -> Result<ExitCode, String> {
    let report = journal::verify(dir).map_err(|e| e.to_string())?;
    let anchored = anchor_check(dir, state, report.records)
        .and_then(|()| witness.map_or(Ok(()), |w| witness_check(dir, state, w, report.records)));
    if json {
        let mut v = serde_json::to_value(&report).map_err(|e| e.to_string())?;
        v["anchor_problem"] = serde_json::json!(anchored.as_ref().err());
        print_json(&v);
    }
    if let (None, Err(why)) = (&report.first_bad, &anchored) {
        if !json {
            println!("журнал ПОВРЕЖДЁН: {why}");
        }
        return Ok(ExitCode::from(1));
    }
    match &report.first_bad {
        None => {
            if !json {
                println!(
                    "журнал цел: записей {}, сегментов {}, голова {}",
                    report.records, report.segments, report.head
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(bad) => {
            if !json {
                println!(
                    "журнал ПОВРЕЖДЁН: {}, строка {} (запись № {}): {}; записей до неё проверено: {}",
                    bad.file, bad.line, bad.expected_seq, bad.problem, report.records
                );
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// The journal against its newest signed checkpoint (when this host has the key: the
/// service's `checkpoint.key`; auditors use `journal checkpoint verify --pubkey`).
fn anchor_check(dir: &Path, state: &Path, records: u64) -> Result<(), String> {
    let key_path = state.join("checkpoint.key");
    if !key_path.exists() {
        return Ok(());
    }
    let key = crate::checkpoint::load_or_create_key(&key_path)
        .map_err(|e| e.to_string())?
        .verifying_key();
    crate::checkpoint::check_journal(dir, state, &key, records).map_err(|e| e.to_string())
}

/// The journal against a witness's notes (`journal verify --witness DIR`), as the start
/// compares it: the newest note of this state's epoch, signed by our key.
fn witness_check(dir: &Path, state: &Path, witness: &Path, records: u64) -> Result<(), String> {
    let key_path = state.join("checkpoint.key");
    let key = crate::checkpoint::load_key(&key_path)
        .map_err(|e| e.to_string())?
        .verifying_key();
    let newest =
        crate::checkpoint::newest_witness_note(witness, &key).map_err(|e| e.to_string())?;
    let epoch = std::fs::read_to_string(state.join("witness.epoch"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    crate::checkpoint::check_witness(newest.as_slice(), epoch, records, |seq| {
        journal::read_range(dir, seq, seq + 1, 1)
            .ok()?
            .first()
            .map(|r| r.hash.clone())
    })
    .map_err(|e| e.to_string())
}

fn run_export(
    dir: &Path,
    format: journal::ExportFormat,
    keep: &dyn Fn(&journal::Record) -> bool,
) -> Result<ExitCode, String> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let report = journal::export(dir, format, keep, &mut out).map_err(|e| e.to_string())?;
    drop(out);
    // a last line still being written by the running service is not damage: stop before it
    let last_segment = journal::segments(dir).ok().and_then(|s| {
        s.last()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
    });
    if let Some(bad) = report.first_bad.as_ref().filter(|b| {
        b.problem == journal::LineProblem::Truncated && Some(&b.file) == last_segment.as_ref()
    }) {
        eprintln!(
            "последняя запись в {} ещё пишется; выгружено до неё",
            bad.file
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(bad) = report.first_bad {
        eprintln!(
            "выгрузка остановлена: {}, строка {}: {}",
            bad.file, bad.line, bad.problem
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn run_rebuild(config: &Config) -> Result<ExitCode, String> {
    let layout = Layout::new(&config.spool);
    std::fs::create_dir_all(&layout.state).map_err(|e| e.to_string())?;
    let _lock = spool::InstanceLock::acquire(&layout.lock).map_err(|e| e.to_string())?;
    let (store, aside) = Store::open_or_reset(&layout.store, config.spool.min_free_bytes)
        .map_err(|e| e.to_string())?;
    if let Some(aside) = aside {
        eprintln!("старый индекс не открылся; перенесён в {}", aside.display());
    }
    let n = store::rebuild(&store, &layout.journal).map_err(|e| e.to_string())?;
    println!("индекс перестроен по журналу: записей {n}");
    Ok(ExitCode::SUCCESS)
}

/// Prints a value as pretty JSON on stdout (every `--json` output).
fn print_json<T: serde::Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("reports serialise")
    );
}

/// This process's peak resident memory (Linux: `VmHWM`, which, unlike `getrusage`, does not
/// carry over the parent's peak across `exec`).
fn peak_rss_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn run_store_verify(config: &Config) -> Result<ExitCode, String> {
    let layout = Layout::new(&config.spool);
    let _lock = spool::InstanceLock::acquire(&layout.lock).map_err(|e| e.to_string())?;
    let live = Store::open(&layout.store).map_err(|e| e.to_string())?;
    let scratch_dir = layout
        .tmp
        .join(format!("store-verify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch_dir);
    let differences = {
        let scratch = Store::open(&scratch_dir).map_err(|e| e.to_string())?;
        store::rebuild(&scratch, &layout.journal).map_err(|e| e.to_string())?;
        let (a, b) = (
            live.all_arrivals().map_err(|e| e.to_string())?,
            scratch.all_arrivals().map_err(|e| e.to_string())?,
        );
        let mut diffs: Vec<String> = Vec::new();
        if a.len() != b.len() {
            diffs.push(format!(
                "в индексе поступлений {}, в журнале {}",
                a.len(),
                b.len()
            ));
        }
        for (x, y) in a.iter().zip(&b) {
            if x != y {
                diffs.push(format!("поступление {} различается", y.arrival));
            }
        }
        let (da, db) = (
            live.digests().map_err(|e| e.to_string())?,
            scratch.digests().map_err(|e| e.to_string())?,
        );
        for ((name, n, x), (_, m, y)) in da.iter().zip(&db) {
            if x != y {
                diffs.push(format!(
                    "дерево {name} различается ({n} записей в индексе, {m} по журналу)"
                ));
            }
        }
        diffs
    };
    let _ = std::fs::remove_dir_all(&scratch_dir);
    if differences.is_empty() {
        println!("индекс совпадает с журналом");
        Ok(ExitCode::SUCCESS)
    } else {
        for d in differences.iter().take(20) {
            println!("{d}");
        }
        println!("индекс РАСХОДИТСЯ с журналом: выполните `medo-gateway store rebuild`");
        Ok(ExitCode::from(1))
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

fn run_inspect(folders: &[PathBuf], compact: bool, limits: &Limits) -> ExitCode {
    let mut failed = 0;
    for folder in folders {
        match inspect(folder, limits, compact) {
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
        .policy
        .partners
        .iter()
        .find(|p| p.role == "urog")
        .ok_or("для образцов нужен партнёр с role = \"urog\" в файле настроек")?;
    let urog_sender = Sender {
        uid: urog.uid.clone(),
        organization: urog.name.clone(),
    };
    let parties = Parties {
        urog: &urog_sender,
        urog_address: &urog.transport_address,
        us: &config.policy.sender,
        our_address: config.transport_address.as_deref().unwrap_or("OUR~MEDO"),
    };
    let out = out.unwrap_or_else(|| config.spool.inbound.clone());
    let written = samples::generate(&out, &parties).map_err(|e| {
        format!(
            "не удалось записать образцы в {}: {}",
            out.display(),
            crate::words::io(&e)
        )
    })?;
    for dir in written {
        println!("записан {}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `api token NAME`: 32 random bytes from the OS as the token (printed once), its SHA-256 in
/// the config lines to paste.
fn api_token(name: &str, scopes: &[String]) -> Result<ExitCode, String> {
    use sha2::Digest;
    if name.trim().is_empty() || name.contains(['"', '\\', '\n']) {
        return Err("имя клиента — непустое, без кавычек и переводов строки".into());
    }
    crate::config::Scopes::parse(scopes).map_err(|e| format!("области доступа: {e}"))?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("нет случайных байтов от ОС: {e}"))?;
    let token = hex::encode(bytes);
    let digest = hex::encode(crate::wire::hash::Sha256::digest(token.as_bytes()));
    let listed: Vec<String> = scopes.iter().map(|s| format!("{s:?}")).collect();
    println!("Токен клиента «{name}» (передайте его СЭД; он нигде не хранится и больше не будет показан):");
    println!("{token}");
    println!();
    println!("Добавьте в конфигурацию:");
    println!("[[api.clients]]");
    println!("name = {name:?}");
    println!("token_sha256 = \"{digest}\"");
    println!("scopes = [{}]", listed.join(", "));
    Ok(ExitCode::SUCCESS)
}

/// An ССТУ.РФ export problem in words, with the command that mends it.
fn sstu_problem(p: &crate::sstu::Problem) -> String {
    use crate::sstu::Problem;
    let mend = match p {
        Problem::NoCard | Problem::NoName | Problem::NoCode => {
            " (appeals card ID --name … --code …)"
        }
        Problem::NoAnswerFile { .. } => " (appeals event … answered --file)",
        Problem::NoTransferTarget => " (appeals event … redirected --sstu-id)",
        _ => "",
    };
    format!("{p}{mend}")
}

/// What `journal recover --accept-missing` names (the spool's `recovery::Piece`, spelled for
/// the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LostPiece {
    /// `anchor.note`: the signed size and head of the journal at its last group commit.
    Anchor,
    /// `checkpoint.key`: the Ed25519 key checkpoints and anchors are signed with.
    CheckpointKey,
    /// `pin.key`: the secret applicants' PINs derive from (every PIN changes).
    PinKey,
}

impl From<LostPiece> for crate::recovery::Piece {
    fn from(p: LostPiece) -> Self {
        use crate::recovery::Piece;
        match p {
            LostPiece::Anchor => Piece::Anchor,
            LostPiece::CheckpointKey => Piece::CheckpointKey,
            LostPiece::PinKey => Piece::PinKey,
        }
    }
}

/// `journal recover --accept-missing …`: the operator's word, taken by the next start.
fn run_recover(
    config: &Config,
    (missing, from_witness): (Vec<crate::recovery::Piece>, Option<PathBuf>),
    comment: Option<String>,
) -> Result<ExitCode, String> {
    // accepting a loss needs the operator's reason; a restore from the witness has one
    let comment = match (comment, missing.is_empty()) {
        (Some(c), _) => c,
        (None, true) => "восстановление из копии (journal recover --from-witness)".into(),
        (None, false) => String::new(),
    };
    if comment.trim().is_empty() || comment.chars().any(char::is_control) {
        eprintln!("medo-gateway: --comment: почему утрата принимается (одна строка текста)");
        return Ok(ExitCode::from(1));
    }
    let from_witness = from_witness.map(|d| std::path::absolute(&d).unwrap_or(d));
    if let Some(dir) = &from_witness {
        if !dir.is_dir() {
            eprintln!("medo-gateway: --from-witness {}: не папка", dir.display());
            return Ok(ExitCode::from(1));
        }
    }
    let accepted = crate::recovery::Accepted {
        missing,
        comment,
        operator: cli_operator(),
        from_witness,
    };
    let state = &config.spool.state_dir;
    let path = crate::recovery::accept(state, &accepted)
        .map_err(|e| format!("{}: {e}", state.display()))?;
    let mut names: Vec<&str> = accepted.missing.iter().map(|p| p.name()).collect();
    if accepted.from_witness.is_some() {
        names.push("нумерация — за всеми номерами, что видел свидетель");
    }
    println!(
        "принято: {} — будет создано заново при следующем запуске службы, запись journal_recovered в журнале ({})",
        names.join(", "),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A day as a person writes it: `ГГГГ-ММ-ДД` or `ДД.ММ.ГГГГ`.
fn person_date(text: &str) -> Option<time::Date> {
    let text = text.trim();
    if let Some((d, rest)) = text.split_once('.') {
        let (m, y) = rest.split_once('.')?;
        let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
        return time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok();
    }
    (text.len() == 10)
        .then(|| crate::wire::time::parse_date(text))
        .flatten()
}

/// A refused operator request (an unknown appeal, say): said on stderr, exit 1 — as a
/// command the service refused; exit 2 stays for set-up problems.
fn refused(why: &str) -> ExitCode {
    eprintln!("medo-gateway: {why}");
    ExitCode::from(1)
}

/// Who runs an operator command from the CLI: the login behind `sudo`, else the user.
/// An operator's answer file must be a PDF that reads (the service checks again).
fn is_pdf(bytes: &[u8]) -> Result<(), crate::pdf::NotPdf> {
    crate::pdf::inspect(bytes).map(drop)
}

fn cli_operator() -> Option<String> {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .ok()
        .filter(|u| !u.trim().is_empty() && !u.chars().any(char::is_control))
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
