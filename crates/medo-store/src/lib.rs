//! Storage: the journal — the system of record, append-only, hash-chained, group-committed —
//! its signed checkpoints and anchor, and the index (sled) derived from it by the book's and
//! the re-send tracker's folds, rebuildable from the journal at any time.
//!
//! Deliberately does not know: the spool's folders beyond its own (`journal/`, `store/`,
//! the checkpoint key and notes), decisions (it folds what was decided), HTTP, any async
//! runtime. The next backend (PostgreSQL, issue 29) comes in behind this crate's seam.

pub mod apply;
pub mod checkpoint;
pub mod files;
pub mod index;
pub mod journal;
pub mod migrate;
pub mod reading;
pub mod seam;
pub mod source;

pub use files::Files;
pub use seam::{
    commit, rebuild, Backend, Book, CommitError, Index, Journal, JournalRead, Notary, RebuildError,
};
