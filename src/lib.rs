//! medo-gateway: exchange of citizens' appeals with УРОГ over МЭДО.
//!
//! The library holds all logic; `src/main.rs` only parses the command line and calls [`cli::main`].
//! See `docs/ARCHITECTURE.md` for the module map and the invariants each module keeps.

pub mod cli;
pub mod config;
pub mod inspect;
pub mod samples;
pub mod wire;
