//! The decision core: what the gateway decides, as pure functions — the classification of
//! what arrived, registration and refusal by the nine official reasons, УРОГ queries, steps
//! of consideration, re-sends; the appeal book and its fold; deadlines under 59-ФЗ; the
//! rendering of our messages and documents (outbox, PDF); the ССТУ.РФ request.
//!
//! Deliberately does not know: files, the network, the clock (a decision's time is given),
//! logging, the store or the journal's segments, the spool, configuration files (it takes a
//! [`policy::Policy`]). Its dependency tree has no tokio, sled, axum, hyper, reqwest, notify or
//! tracing (`.ci/borders.py`), and `clippy.toml` forbids the file system, the network and the
//! clocks in it.

pub mod appeals;
pub mod approval;
pub mod book;
pub mod deadlines;
pub mod decision;
pub mod due;
pub mod letter;
pub mod letters;
pub mod outbox;
pub mod pdf;
pub mod policy;
pub mod resend;
pub mod route;
pub mod sstu;
pub mod stamp;
pub mod urog;
