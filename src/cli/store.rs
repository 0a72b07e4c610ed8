//! `store …`: rebuild the index from the journal, verify it against a scratch rebuild.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Config;
use crate::spool::{self, Layout};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Rebuild the index from the journal (the service must be stopped; on PostgreSQL: every
    /// gateway of the database — the index's table is rebuilt in one transaction).
    Rebuild,
    /// Check that the index agrees with the journal: rebuild a scratch copy from the journal
    /// and compare every arrival. Exit 0 when they agree, 1 otherwise (the service must be
    /// stopped; on PostgreSQL: no gateway of the database may lead meanwhile).
    Verify,
}

/// `store …` (the service must be stopped: both take the instance lock).
pub(super) fn run(config: &Config, command: StoreCommand) -> Result<ExitCode, String> {
    match command {
        StoreCommand::Rebuild => run_rebuild(config),
        StoreCommand::Verify => run_store_verify(config),
    }
}

/// Replayed records on a terminal (quiet when piped).
fn progress() -> impl FnMut(u64) {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    move |n| {
        if terminal {
            use std::io::Write;
            let _ = write!(std::io::stderr(), "\rзаписей журнала применено: {n}");
        }
    }
}

fn run_rebuild(config: &Config) -> Result<ExitCode, String> {
    if let Some(db) = crate::postgres::journal(config)? {
        let n = db
            .rebuild_index(&mut progress())
            .map_err(|e| e.to_string())?;
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) && n > 0 {
            eprintln!();
        }
        println!("индекс в базе перестроен по журналу базы: записей {n}");
        return Ok(ExitCode::SUCCESS);
    }
    let layout = Layout::new(&config.spool);
    std::fs::create_dir_all(&layout.state).map_err(|e| e.to_string())?;
    let _lock = spool::InstanceLock::acquire(&layout.lock).map_err(|e| e.to_string())?;
    let (store, aside) = Store::open_or_reset(&layout.store, config.spool.min_free_bytes)
        .map_err(|e| e.to_string())?;
    if let Some(aside) = aside {
        eprintln!("старый индекс не открылся; перенесён в {}", aside.display());
    }
    let n = medo_store::rebuild(&store, &crate::journal::Folder::new(&layout.journal))
        .map_err(|e| e.to_string())?;
    println!("индекс перестроен по журналу: записей {n}");
    Ok(ExitCode::SUCCESS)
}

fn run_store_verify(config: &Config) -> Result<ExitCode, String> {
    let layout = Layout::new(&config.spool);
    let _lock = spool::InstanceLock::acquire(&layout.lock).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&layout.tmp).map_err(|e| e.to_string())?;
    let scratch_dir = layout
        .tmp
        .join(format!("store-verify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch_dir);
    let differences = match crate::postgres::journal(config)? {
        // the database's index against a scratch rebuild from its journal, both held still
        Some(db) => {
            let live = crate::postgres::index(config)?.expect("the database's index");
            db.while_nobody_leads(|| Ok(compare(&live, &db, &scratch_dir)))
                .map_err(|e| e.to_string())??
        }
        None => {
            let live = Store::open(&layout.store).map_err(|e| e.to_string())?;
            compare(
                &live,
                &crate::journal::Folder::new(&layout.journal),
                &scratch_dir,
            )?
        }
    };
    let _ = std::fs::remove_dir_all(&scratch_dir);
    report(&differences)
}

/// What differs between the `live` index and a scratch one rebuilt from `journal` in
/// `scratch_dir` (said in Russian; empty: they agree).
fn compare(
    live: &Store,
    journal: &dyn crate::JournalRead,
    scratch_dir: &std::path::Path,
) -> Result<Vec<String>, String> {
    Ok({
        let scratch = Store::open(scratch_dir).map_err(|e| e.to_string())?;
        medo_store::rebuild(&scratch, journal).map_err(|e| e.to_string())?;
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
    })
}

fn report(differences: &[String]) -> Result<ExitCode, String> {
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
