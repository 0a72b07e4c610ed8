//! `inspect` (a package folder read as the gateway reads it) and `samples` (the packages
//! УРОГ would send).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;
use crate::wire::Limits;

use crate::inspect::inspect;
use crate::samples::{self, Parties};
use crate::wire::message::Sender;

pub(super) fn run_inspect(folders: &[PathBuf], compact: bool, limits: &Limits) -> ExitCode {
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

pub(super) fn run_samples(config: &Config, out: Option<PathBuf>) -> Result<ExitCode, String> {
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
