//! `documents …`: our documents (answers to УРОГ queries, reports) that wait for a person's
//! approval (`[queries]`/`[reports] approval = "operator"`) — listed from the journal, and
//! approved by a command the service (or, without one, this process) carries out.

use std::process::ExitCode;

use clap::Subcommand;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::config::Config;
use crate::control;
use crate::journal::{Event, Record};

use super::print_json;

#[derive(Debug, Subcommand)]
pub enum DocumentsCommand {
    /// Our documents not yet sent; with --pending only those waiting for approval.
    List {
        /// Only those waiting for a person's approval («ждёт утверждения»).
        #[arg(long)]
        pending: bool,
        /// The list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve a document waiting for approval: it is signed (when [signing] is set) and sent.
    Approve {
        /// Its outgoing number (ОЗ-3/26) or its message uid.
        id: String,
    },
}

/// One document of ours not yet sent.
#[derive(Debug, Serialize)]
pub struct Unsent {
    pub uid: String,
    pub number: Option<String>,
    pub kind: &'static str,
    /// The output (outbound folder) name.
    pub name: String,
    /// When it was made (RFC 3339, as journaled).
    pub created: String,
    /// `awaiting_approval` or `to_send`.
    pub state: &'static str,
    pub waiting_secs: i64,
}

pub(super) fn run(config: Config, command: DocumentsCommand) -> Result<ExitCode, String> {
    match command {
        DocumentsCommand::List { pending, json } => {
            let mut list = unsent(&config)?;
            if pending {
                list.retain(|d| d.state == "awaiting_approval");
            }
            match json {
                true => print_json(&list),
                false => print_list(&list, &config),
            }
            Ok(ExitCode::SUCCESS)
        }
        DocumentsCommand::Approve { id } => {
            let command = control::Command::Approve {
                document: id,
                operator: super::appeals::cli_operator(),
            };
            super::appeals::submit(config, command, None)
        }
    }
}

/// Our documents decided and not yet published, from the journal (either backend's), each
/// with whether it waits for approval under the configuration.
pub fn unsent(config: &Config) -> Result<Vec<Unsent>, String> {
    let setting = (config.approval.queries, config.approval.reports);
    let source = crate::postgres::JournalSource::of(config);
    let (outputs, approved) = source.read(|journal| {
        let (mut outputs, mut approved) = (Vec::new(), std::collections::HashSet::new());
        journal
            .fold_all(&mut |r: &Record| match &r.event {
                Event::Published { name, .. } => {
                    outputs.retain(|o: &crate::model::Output| &o.name != name)
                }
                Event::DocumentApproved { name, .. } => {
                    approved.insert(name.clone());
                }
                e => outputs.extend(e.outputs().iter().filter(|o| o.kind.is_document()).cloned()),
            })
            .map_err(|e| e.to_string())?;
        Ok((outputs, approved))
    })?;
    let now = OffsetDateTime::now_utc();
    Ok(outputs
        .into_iter()
        .map(|o| {
            let waits = medo_core::approval::waits(o.kind, setting) && !approved.contains(&o.name);
            let age = OffsetDateTime::parse(&o.created, &Rfc3339)
                .map_or(0, |at| (now - at).whole_seconds());
            Unsent {
                uid: o.message_uid.to_string(),
                number: o.registration.as_ref().map(|r| r.number.clone()),
                kind: o.kind.as_str(),
                state: if waits {
                    "awaiting_approval"
                } else {
                    "to_send"
                },
                name: o.name,
                created: o.created,
                waiting_secs: age,
            }
        })
        .collect())
}

fn print_list(list: &[Unsent], config: &Config) {
    if list.is_empty() {
        println!("неотправленных документов нет");
        return;
    }
    println!(
        "{:<14} {:<17} {:<18} {:<12} идентификатор",
        "номер", "вид", "создан", "ждёт"
    );
    for d in list {
        let created = OffsetDateTime::parse(&d.created, &Rfc3339)
            .map(|t| t.to_offset(config.policy.utc_offset))
            .map(|t| {
                format!(
                    "{:02}.{:02}.{} {:02}:{:02}",
                    t.day(),
                    u8::from(t.month()),
                    t.year(),
                    t.hour(),
                    t.minute()
                )
            })
            .unwrap_or_else(|_| d.created.clone());
        let state = match d.state {
            "awaiting_approval" => "утверждения",
            _ => "отправки",
        };
        println!(
            "{:<14} {:<17} {:<18} {:<12} {}",
            d.number.as_deref().unwrap_or("—"),
            kind_ru(d.kind),
            created,
            format!(
                "{state}, {}",
                crate::spoolview::age_text(d.waiting_secs.max(0) as u64)
            ),
            d.uid
        );
    }
}

fn kind_ru(kind: &str) -> &'static str {
    match kind {
        "response" => "ответ на запрос",
        "report-document" => "доклад",
        "forwarded" => "переадресация",
        _ => "документ",
    }
}
