//! What readers do with the journal through the seam ([`JournalRead`]), whatever the
//! backend: the auditors' export (JSON lines or CSV, the chain verified over every record) and
//! the arrivals of one participant (`journal export --partner`).

use std::io::{self, Write};
use std::path::PathBuf;

use medo_model::{Event, Record};

use crate::journal::{JournalError, VerifyReport};
use crate::seam::JournalRead;

/// The arrivals whose messages came from participant `uid` (by their `parsed` records).
pub fn arrivals_from(
    journal: &dyn JournalRead,
    uid: &str,
) -> Result<std::collections::HashSet<u64>, JournalError> {
    let mut set = std::collections::HashSet::new();
    journal.scan(&mut |r| {
        if let Event::Parsed {
            arrival,
            source_uid,
            ..
        } = &r.event
        {
            if source_uid.eq_ignore_ascii_case(uid) {
                set.insert(*arrival);
            }
        }
        true
    })?;
    Ok(set)
}

/// Export formats for auditors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Jsonl,
    /// RFC 4180 CSV; `excel`: as Excel opens it in a Russian locale — UTF-8 with a BOM,
    /// `;`-separated, CRLF.
    Csv {
        excel: bool,
    },
}

/// The CSV columns.
const CSV_HEADER: [&str; 8] = [
    "seq", "ts", "kind", "arrival", "key", "detail", "prev", "hash",
];

/// Writes the journal for auditors: JSON lines (the records as stored) or CSV
/// (`seq,ts,kind,arrival,key,detail,prev,hash`, by the `csv` crate), the records `keep`
/// selects. The chain is verified over every record, kept or not.
pub fn export(
    journal: &dyn JournalRead,
    format: ExportFormat,
    keep: &dyn Fn(&Record) -> bool,
    out: &mut dyn Write,
) -> Result<VerifyReport, JournalError> {
    let stdout_err = |e: io::Error| JournalError::Io {
        path: PathBuf::from("-"),
        source: e,
    };
    let excel = match format {
        ExportFormat::Jsonl => {
            return export_with(journal, keep, |r| writeln!(out, "{}", r.line()), stdout_err)
        }
        ExportFormat::Csv { excel } => excel,
    };
    if excel {
        out.write_all("\u{feff}".as_bytes()).map_err(stdout_err)?;
    }
    let mut w = csv::WriterBuilder::new()
        .delimiter(if excel { b';' } else { b',' })
        .terminator(match excel {
            true => csv::Terminator::CRLF,
            false => csv::Terminator::Any(b'\n'),
        })
        .from_writer(out);
    w.write_record(CSV_HEADER)
        .map_err(|e| stdout_err(e.into()))?;
    let report = export_with(
        journal,
        keep,
        |r| w.write_record(csv_row(r)).map_err(io::Error::from),
        stdout_err,
    )?;
    w.flush().map_err(stdout_err)?;
    Ok(report)
}

/// Scans the journal, handing each kept record to `write`; the first write error stops it.
fn export_with(
    journal: &dyn JournalRead,
    keep: &dyn Fn(&Record) -> bool,
    mut write: impl FnMut(&Record) -> io::Result<()>,
    stdout_err: impl Fn(io::Error) -> JournalError,
) -> Result<VerifyReport, JournalError> {
    let mut write_err = None;
    let report = journal.scan(&mut |r| {
        if !keep(r) {
            return true;
        }
        if let Err(e) = write(r) {
            write_err = Some(e);
            return false;
        }
        true
    })?;
    match write_err {
        Some(e) => Err(stdout_err(e)),
        None => Ok(report),
    }
}

/// A record as the CSV's columns.
fn csv_row(r: &Record) -> [String; 8] {
    let value = serde_json::to_value(&r.event).unwrap_or_default();
    let key = value
        .get("key")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    let arrival = match &r.event {
        Event::Received { .. } => r.seq.to_string(),
        e => e.arrival().map(|a| a.to_string()).unwrap_or_default(),
    };
    let mut detail = value;
    if let Some(obj) = detail.as_object_mut() {
        obj.remove("kind");
        obj.remove("key");
        obj.remove("arrival");
    }
    [
        r.seq.to_string(),
        r.ts.clone(),
        r.event.kind().to_string(),
        arrival,
        key,
        detail.to_string(),
        r.prev.clone(),
        r.hash.clone(),
    ]
}
