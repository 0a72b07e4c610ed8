//! `sstu export`: one validated JSON per appeal for ССТУ.РФ; problems said with the command
//! that mends them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Config;
use crate::operator;

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

/// `sstu export --out DIR [--zip]`.
pub(super) fn run(config: &Config, command: SstuCommand) -> Result<ExitCode, String> {
    let SstuCommand::Export { out, zip } = command;
    let book = operator::load(config)?;
    let report = operator::sstu_export(config, &book, &out, zip)?;
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
