//! What stops a pass of the loop, by kind: the spool (set-up, transient, fatal), the
//! journal, the index, the checkpoints, or something else said in words.

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
    #[error("{0}")]
    Other(String),
}

impl GatewayError {
    /// Worth retrying later without stopping.
    pub fn is_transient(&self) -> bool {
        matches!(self, GatewayError::Spool(SpoolError::Transient { .. }))
    }
}
