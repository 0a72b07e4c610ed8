//! medo-gateway: exchange of citizens' appeals with УРОГ over МЭДО.
//!
//! The library holds all logic; `src/main.rs` only parses the command line and calls [`cli::main`].
//! See `docs/ARCHITECTURE.md` for the module map and the invariants each module keeps.

pub mod appeal_files;
pub mod appeals_api;
pub mod applicant;
pub mod cli;
pub mod dashboard;
pub mod documents;
pub mod feed;
/// The run loop (`medo-engine`) and the service around it ([`service::run`]).
pub mod gateway {
    pub use crate::service::{run, run_once};
    pub use medo_engine::*;
}
pub mod health;
pub mod http;
pub mod inspect;
pub mod mail;
pub mod metrics;
pub mod operator;
pub mod operator_view;
pub mod postgres;
pub mod service;
pub mod spoolview;
pub mod supervision;
pub mod webhooks;
pub use medo_config as config;
pub use medo_core::{
    appeals, book, deadlines, decision, letters, outbox, pdf, policy, resend, sstu, urog,
};
pub use medo_model as model;
pub use medo_spool as spool;
pub use medo_spool::{control, idempotency, recovery, sharing};
pub use medo_stdx::{fault, parallel, words};
pub use medo_store::{checkpoint, journal, reading, JournalRead};
/// The index (`medo_store::index`) and its rebuild from the journal, under the old name.
pub mod store {
    pub use medo_store::index::*;
    pub use medo_store::{rebuild, RebuildError};
}
pub use medo_wire as wire;
pub use medo_wire::samples;

/// The commit this binary was built from (`unknown` outside a git checkout).
pub const BUILD_COMMIT: &str = env!("MEDO_COMMIT");

/// `--version`: the package version and the commit.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("MEDO_COMMIT"), ")");
