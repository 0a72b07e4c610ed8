//! The wire layer: everything that knows МЭДО bytes — envelopes (INI, cp1251), communication
//! messages (xdms 2.0–2.7 and 2.7.1 XML), transport containers (ZIP + passport).
//!
//! Invariants:
//! * the only module that knows XML, INI or ZIP; the rest of the crate sees typed values;
//! * reads only the files of the one package folder it is given (never follows a name out of it)
//!   and writes only where the caller tells it to;
//! * every read is bounded by [`Limits`]; no input makes it panic; every failure is a typed
//!   error naming the file and the problem;
//! * no spool logic (readiness, claiming, retries) and no business decisions.

pub mod container;
pub mod envelope;
pub mod error;
pub mod fuzzing;
pub mod hash;
pub mod known;
pub mod limits;
pub mod member;
pub mod message;
pub mod package;
pub mod passport;
pub mod read;
pub mod samples;
pub mod text;
pub mod time;
pub mod urog;
pub mod write;
pub mod xml;

pub use error::{WireError, WireErrorKind};
pub use limits::Limits;
