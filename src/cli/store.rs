//! `store …`: rebuild the index from the journal, verify it against a scratch rebuild.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Config;
use crate::spool::{self, Layout};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Rebuild the index from the journal (the service must be stopped).
    Rebuild,
    /// Check that the index agrees with the journal: rebuild a scratch copy from the journal
    /// and compare every arrival. Exit 0 when they agree, 1 otherwise (the service must be
    /// stopped).
    Verify,
}

/// `store …` (the service must be stopped: both take the instance lock).
pub(super) fn run(config: &Config, command: StoreCommand) -> Result<ExitCode, String> {
    match command {
        StoreCommand::Rebuild => run_rebuild(config),
        StoreCommand::Verify => run_store_verify(config),
    }
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
    let n = medo_store::rebuild(&store, &crate::journal::Folder::new(&layout.journal))
        .map_err(|e| e.to_string())?;
    println!("индекс перестроен по журналу: записей {n}");
    Ok(ExitCode::SUCCESS)
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
        medo_store::rebuild(&scratch, &crate::journal::Folder::new(&layout.journal))
            .map_err(|e| e.to_string())?;
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
