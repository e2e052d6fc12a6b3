//! The report: a mergeable aggregate of observations, findings over it, and one renderer
//! per output format.

mod observe;
pub use observe::*;

/// The mergeable aggregate.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Report {}
