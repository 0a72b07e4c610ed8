//! `journal …`: verify (with the anchor and the witness), recover, checkpoints, export.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use crate::book::Appeals;
use crate::config::Config;
use crate::gateway::witness;
use crate::journal;
use crate::operator;
use crate::spool::Layout;
use crate::JournalRead;

use super::print_json;

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
        /// Verify an exported journal (`journal export --format jsonl`, from either storage
        /// backend) instead of this node's: every line's hash and the chain from the first.
        #[arg(long, value_name = "FILE", conflicts_with = "witness")]
        file: Option<PathBuf>,
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
    Export(ExportArgs),
}

/// `journal export`'s filters and format.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
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

/// `journal …`.
pub(super) fn run(config: Config, command: JournalCommand) -> Result<ExitCode, String> {
    let dir = Layout::new(&config.spool).journal;
    if let crate::config::Storage::Postgres { url, .. } = &config.storage {
        return on_postgres(&config, url.expose(), command);
    }
    match command {
        JournalCommand::Verify {
            json,
            file: Some(file),
            ..
        } => {
            let report = journal::verify_file(&file).map_err(|e| e.to_string())?;
            print_report(&report, json)
        }
        JournalCommand::Verify { json, witness, .. } => {
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
        } => checkpoint_pubkey(&config),
        JournalCommand::Checkpoint {
            command: CheckpointCommand::Verify { pubkey, json },
        } => checkpoint_verify(&dir, &pubkey, json),
        JournalCommand::Export(args) => {
            export(&config, (&journal::Folder::new(&dir), Some(&dir)), args)
        }
    }
}

/// `journal checkpoint pubkey`.
fn checkpoint_pubkey(config: &Config) -> Result<ExitCode, String> {
    let key_path = config.spool.state_dir.join("checkpoint.key");
    if !key_path.exists() {
        return Err(format!(
            "{} does not exist yet: run the gateway once",
            key_path.display()
        ));
    }
    let key = crate::checkpoint::load_or_create_key(&key_path).map_err(|e| e.to_string())?;
    println!("{}", crate::checkpoint::public_key_line(&key));
    Ok(ExitCode::SUCCESS)
}

/// `journal checkpoint verify --pubkey FILE`.
fn checkpoint_verify(dir: &Path, pubkey: &Path, json: bool) -> Result<ExitCode, String> {
    let key = std::fs::read_to_string(pubkey).map_err(|e| format!("{}: {e}", pubkey.display()))?;
    let report = crate::checkpoint::verify(dir, &key).map_err(|e| e.to_string())?;
    print_checkpoints(&report, json)
}

/// A checkpoints' report, in words or as JSON; exit 0 when there are some and all hold.
fn print_checkpoints(report: &crate::checkpoint::Report, json: bool) -> Result<ExitCode, String> {
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

/// `journal export`: the records the filters keep, in the format asked for — from `reader`
/// (the files' folder `dir`, or the database's table).
fn export(
    config: &Config,
    (reader, dir): (&dyn crate::JournalRead, Option<&Path>),
    args: ExportArgs,
) -> Result<ExitCode, String> {
    // days as people write them, in the configured zone
    let day_of = |d: &Option<String>| -> Result<Option<time::Date>, String> {
        d.as_deref()
            .map(|d| {
                person_date(d).ok_or_else(|| format!("{d:?}: не дата (ГГГГ-ММ-ДД или ДД.ММ.ГГГГ)"))
            })
            .transpose()
    };
    let (since, until) = (day_of(&args.since)?, day_of(&args.until)?);
    let offset = config.policy.utc_offset;
    let appeal = match args.appeal {
        Some(id) => Some(
            operator::load(config)?
                .find(&id)
                .map_err(|e| e.to_string())?
                .id,
        ),
        None => None,
    };
    let partner = match args.partner {
        Some(uid) => Some(crate::reading::arrivals_from(reader, &uid).map_err(|e| e.to_string())?),
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
    let format = match (args.format, args.excel) {
        (_, true) => crate::reading::ExportFormat::Csv { excel: true },
        (ExportFormatArg::Csv, false) => crate::reading::ExportFormat::Csv { excel: false },
        (ExportFormatArg::Jsonl, false) => crate::reading::ExportFormat::Jsonl,
    };
    run_export((reader, dir), format, &keep)
}

fn run_verify(
    dir: &Path,
    (state, witness): (&Path, Option<&Path>),
    json: bool,
) -> Result<ExitCode, String> {
    let report = journal::Folder::new(dir)
        .verify()
        .map_err(|e| e.to_string())?;
    let anchored = anchor_check(dir, state, report.records)
        .and_then(|()| witness.map_or(Ok(()), |w| witness_check(dir, state, w, report.records)));
    witnessed_report(&report, anchored, json)
}

/// A verification's report with what the anchor or the witness said (`Err`: the journal is
/// shorter than, or other than, what they vouch for — exit 1).
fn witnessed_report(
    report: &journal::VerifyReport,
    anchored: Result<(), String>,
    json: bool,
) -> Result<ExitCode, String> {
    if json {
        let mut v = serde_json::to_value(report).map_err(|e| e.to_string())?;
        v["anchor_problem"] = serde_json::json!(anchored.as_ref().err());
        print_json(&v);
    }
    if let (None, Err(why)) = (&report.first_bad, &anchored) {
        if !json {
            println!("журнал ПОВРЕЖДЁН: {why}");
        }
        return Ok(ExitCode::from(1));
    }
    if json {
        return Ok(exit_of(report));
    }
    print_report(report, false)
}

/// `journal …` with `[storage] backend = "postgres"`: `verify` checks the database's journal
/// (every row through the same checks as a segment's line; `--witness` against the witness
/// folder with the database's epoch), `verify --file` an export, `export` reads the
/// database's, the checkpoints are the database's (`medo_checkpoints`, the key in
/// `medo_keys`); `recover` is this node's word, taken when it next leads.
fn on_postgres(config: &Config, url: &str, command: JournalCommand) -> Result<ExitCode, String> {
    let text = |e: crate::journal::JournalError| e.to_string();
    match command {
        JournalCommand::Verify {
            json,
            file: Some(file),
            ..
        } => print_report(
            &journal::verify_file(&file).map_err(|e| e.to_string())?,
            json,
        ),
        JournalCommand::Verify { json, witness, .. } => {
            let db = medo_pg::PgJournal::open_read(url).map_err(text)?;
            let report = db.verify().map_err(text)?;
            match witness {
                Some(dir) if report.first_bad.is_none() => {
                    let seen = db_witness_check(url, &db, &dir, report.records);
                    witnessed_report(&report, seen, json)
                }
                _ => print_report(&report, json),
            }
        }
        JournalCommand::Export(args) => {
            let db = medo_pg::PgJournal::open_read(url).map_err(text)?;
            export(config, (&db, None), args)
        }
        JournalCommand::Recover {
            accept_missing,
            from_witness,
            comment,
        } => {
            let missing = accept_missing.into_iter().map(Into::into).collect();
            let code = run_recover(config, (missing, from_witness), comment)?;
            println!("на PostgreSQL это слово узла: его возьмёт этот узел, когда станет ведущим (остановите другие узлы или запустите этот первым)");
            Ok(code)
        }
        JournalCommand::Checkpoint {
            command: CheckpointCommand::Pubkey,
        } => {
            let key = db_checkpoint_key(url)?;
            println!("{}", crate::checkpoint::public_key_line(&key));
            Ok(ExitCode::SUCCESS)
        }
        JournalCommand::Checkpoint {
            command: CheckpointCommand::Verify { pubkey, json },
        } => {
            let line = std::fs::read_to_string(&pubkey)
                .map_err(|e| format!("{}: {e}", pubkey.display()))?;
            let key = crate::checkpoint::public_key(&line).map_err(|e| e.to_string())?;
            let notes = medo_pg::backend::Keys::open(url)
                .and_then(|mut k| k.checkpoints())
                .map_err(text)?;
            let db = medo_pg::PgJournal::open_read(url).map_err(text)?;
            let head_at = |size: u64| size.checked_sub(1).and_then(|s| witness::hash_at(&db, s));
            print_checkpoints(
                &crate::checkpoint::verify_notes(&notes, &key, head_at),
                json,
            )
        }
    }
}

/// The checkpoint key every node of the database shares (`medo_keys`).
fn db_checkpoint_key(url: &str) -> Result<ed25519_dalek::SigningKey, String> {
    let mut keys = medo_pg::backend::Keys::open(url).map_err(|e| e.to_string())?;
    let bytes = keys
        .get("checkpoint")
        .map_err(|e| e.to_string())?
        .ok_or("в базе ещё нет ключа контрольных точек (medo_keys): запустите службу один раз")?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "ключ контрольных точек в базе повреждён: не 32 байта".to_string())?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&bytes))
}

/// The database's journal against a witness folder, with the database's recovery epoch.
fn db_witness_check(
    url: &str,
    db: &medo_pg::PgJournal,
    dir: &Path,
    records: u64,
) -> Result<(), String> {
    let key = db_checkpoint_key(url)?.verifying_key();
    let mut keys = medo_pg::backend::Keys::open(url).map_err(|e| e.to_string())?;
    let epoch = crate::postgres::witness_epoch(&mut keys).map_err(|e| e.to_string())?;
    witness::check_folder(dir, (&key, epoch), db, records).map_err(|e| e.to_string())
}

/// 0 for an intact journal, 1 for a damaged one.
fn exit_of(report: &journal::VerifyReport) -> ExitCode {
    match report.first_bad {
        None => ExitCode::SUCCESS,
        Some(_) => ExitCode::from(1),
    }
}

/// A verification's report, in words or as JSON; the exit code says intact (0) or not (1).
fn print_report(report: &journal::VerifyReport, json: bool) -> Result<ExitCode, String> {
    if json {
        print_json(&serde_json::to_value(report).map_err(|e| e.to_string())?);
    } else if let Some(bad) = &report.first_bad {
        println!(
            "журнал ПОВРЕЖДЁН: {}, строка {} (запись № {}): {}; записей до неё проверено: {}",
            bad.file, bad.line, bad.expected_seq, bad.problem, report.records
        );
    } else {
        println!(
            "журнал цел: записей {}, сегментов {}, голова {}",
            report.records, report.segments, report.head
        );
    }
    Ok(exit_of(report))
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
    let epoch = crate::gateway::witness::read_epoch(state);
    crate::gateway::witness::check_folder(
        witness,
        (&key, epoch),
        &journal::Folder::new(dir),
        records,
    )
    .map_err(|e| e.to_string())
}

fn run_export(
    (reader, dir): (&dyn crate::JournalRead, Option<&Path>),
    format: crate::reading::ExportFormat,
    keep: &dyn Fn(&journal::Record) -> bool,
) -> Result<ExitCode, String> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let report =
        crate::reading::export(reader, format, keep, &mut out).map_err(|e| e.to_string())?;
    drop(out);
    // a last line still being written by the running service is not damage: stop before it
    let last_segment = dir.and_then(|d| journal::segments(d).ok()).and_then(|s| {
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
        operator: super::appeals::cli_operator(),
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
