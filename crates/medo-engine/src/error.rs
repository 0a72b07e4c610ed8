//! What stops a pass of the loop, by kind: the spool (set-up, transient, fatal), the
//! journal, the index (or its rebuild), the checkpoints, or a file operation of the loop's own.

use medo_spool::SpoolError;
use medo_store::checkpoint::CheckpointError;
use medo_store::index::StoreError;
use medo_store::journal::JournalError;

/// Errors that stop a pass. `Transient` ones are retried with backoff; the others stop the
/// service (exit non-zero; the service manager restarts it).
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The index could not be rebuilt from the journal at start.
    #[error("индекс не перестраивается из журнала: {0}")]
    Rebuild(#[from] medo_store::RebuildError),
    /// A file operation of the loop's own (not a package's) failed.
    #[error("не удалось {doing} {}: {}", path.display(), medo_stdx::words::io(source))]
    Io {
        doing: &'static str,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl GatewayError {
    /// Worth retrying later without stopping.
    pub fn is_transient(&self) -> bool {
        matches!(self, GatewayError::Spool(SpoolError::Transient { .. }))
    }

    /// The database the state is kept in failed this node: a connection lost, a commit it
    /// could not make after its retry, the lease lost to another node. Nothing of the
    /// failed step was written; the service drops the gateway and opens it again (as a
    /// standby first, when another node leads now) instead of stopping.
    pub fn is_database(&self) -> bool {
        let journal = |e: &JournalError| {
            matches!(
                e,
                JournalError::Database { .. } | JournalError::Fenced { .. }
            )
        };
        match self {
            GatewayError::Store(StoreError::Database(_)) => true,
            GatewayError::Journal(e) | GatewayError::Checkpoint(CheckpointError::Journal(e)) => {
                journal(e)
            }
            _ => false,
        }
    }
}
