//! Moving the journal — the system of record — between storage backends (`storage migrate`,
//! issue 29): records copied verbatim (their lines, their chain) from one backend's journal
//! into another's, in batches, each batch one durable commit at the target. **Resumable and
//! idempotent**: the copy starts where the target ends, after checking that the target's last
//! record is the source's record at that place (same hash) — so an interrupted migration
//! goes on, a finished one copies nothing, and a target holding another history is refused.
//! The index is not copied: it is rebuilt from the journal at the target.

use medo_model::Record;

use crate::journal::JournalError;
use crate::{Journal, JournalRead};

/// A journal that takes records made elsewhere, verbatim (each must continue its chain: the
/// next seq, `prev` = its head).
pub trait Import: Journal {
    fn import(&mut self, records: &[Record]) -> Result<(), JournalError>;
}

/// Records copied per commit at the target.
pub const BATCH: usize = 10_000;

/// What a migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// Records the target held before (a resumed or repeated migration).
    pub already: u64,
    /// Records copied now.
    pub copied: u64,
    /// The target's head after it: the source's.
    pub head: String,
}

/// Why a migration was refused or stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("в назначении уже {target} записей, а в источнике {source_records}: назначение впереди источника — это не та история")]
    TargetAhead { target: u64, source_records: u64 },
    #[error("запись № {seq} в назначении не та, что в источнике (другой хеш): в назначении другая история; переносите в пустое")]
    OtherHistory { seq: u64 },
}

/// Copies what `from` holds past `to`'s end into `to`, `progress` told the records copied so
/// far after each batch.
pub fn migrate(
    from: &dyn JournalRead,
    to: &mut dyn Import,
    progress: &mut dyn FnMut(u64),
) -> Result<Migrated, MigrateError> {
    let already = to.next_seq();
    if already > 0 {
        let theirs = from.read_range(already - 1, already, 1)?;
        match theirs.first() {
            None => {
                let source_records = from.verify_tail(1)?.records;
                return Err(MigrateError::TargetAhead {
                    target: already,
                    source_records,
                });
            }
            Some(r) if r.hash != to.head() => {
                return Err(MigrateError::OtherHistory { seq: already - 1 })
            }
            Some(_) => {}
        }
    }
    let mut copied = 0;
    loop {
        let next = to.next_seq();
        let batch = from.read_range(next, u64::MAX, BATCH)?;
        if batch.is_empty() {
            break;
        }
        to.import(&batch)?;
        copied += batch.len() as u64;
        progress(copied);
    }
    Ok(Migrated {
        already,
        copied,
        head: to.head().to_string(),
    })
}
