//! `run [--once]`: the service (tokio, signals) or one run until idle; exit codes by the
//! kind of error.

use std::process::ExitCode;

use crate::config::Config;
use crate::gateway;

use crate::service::ServiceError;

pub(super) fn run_service(config: Config, once: bool) -> ExitCode {
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
