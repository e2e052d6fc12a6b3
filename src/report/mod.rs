//! The report: a mergeable aggregate of observations ([`Report`]), the findings the `infer`
//! step adds to it, and one renderer per output format ([`render`]).
//!
//! The analysis turns each record into an [`Observation`] (the record's outcome, borrowed)
//! and folds it into a per-worker [`Report`]; reports merge in any order to the same result;
//! the renderers read the merged report.

mod aggregate;
mod bounded;
mod group;
mod observe;
pub mod render;
mod strmap;
mod timeline;
mod view;

pub use aggregate::*;
pub use bounded::BoundedSet;
pub use group::*;
pub use observe::*;
pub use render::{OutputFormat, RenderOptions, render};
pub use strmap::StrMap;
pub use timeline::*;
pub use view::*;

#[cfg(test)]
pub(crate) mod testutil;
