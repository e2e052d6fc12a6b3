//! flowdx: diagnose Power Automate and Logic Apps failures caused by Microsoft Entra
//! conditional access, MFA and token lifetime, from exported run histories.
//!
//! The crate is the pipeline; the binary is a thin command line over it:
//! [`ingest`] (discover, sniff, decode) → [`classify`] (catalog and text rules) →
//! [`report`] (mergeable aggregate, joins, findings, renderers) → [`infer`] (timing patterns
//! and token policy checks). [`cmd`] holds one module per subcommand.

pub mod classify;
pub mod cmd;
pub mod error;
pub mod filter;
pub mod r#gen;
pub mod infer;
pub mod ingest;
pub mod join;
pub mod model;
pub mod report;
pub mod time;
pub mod vocab;

pub use error::{Error, Result};
