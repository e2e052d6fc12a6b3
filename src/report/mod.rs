//! The report: a mergeable aggregate of observations ([`Report`]), the findings the `infer`
//! step adds to it, and one renderer per output format ([`mod@render`]).
//!
//! How the analysis uses it:
//!
//! ```text
//! let mut r = Report::new();                       // one per worker
//! r.add_input(input.info());                       // every input, even with no records
//! r.add_skipped(skipped);                          // files found but not recognised
//! r.observe(&Observation { file, kind, ..., outcome });   // every record, exactly once
//! total.merge(r);                                  // in any order, any grouping
//! total.add_findings(infer(&total));               // timing rules read timelines()/groups()
//! total.check_accounting()?;                       // records = not failed + classified
//!                                                  //   + unclassified + malformed
//! render(&total, OutputFormat::Table, &RenderOptions::for_stdout(), &mut out)?;
//! ```
//!
//! `analyze --partial` writes [`Report::to_partial_json`]; `flowdx merge` reads partials back
//! with [`Report::from_partial_json`], merges them and renders. The partial format is
//! internal (versioned, refused when the version differs); the JSON *output* format is the
//! documented, stable one (see [`render::json`]).
//!
//! Each record must be observed once with the outcome of the whole record: a run is
//! `NotFailed`, `Classified` (with the diagnosis of the evidence that explained it, be it the
//! run's own error, a failing action or the joined connection status) or `Unclassified`
//! (with its message signature); an enrichment record (a connection inventory row, a
//! sign-in) is `NotFailed` unless it carries a failure, in which case it is `Classified` or
//! `Unclassified` under its own kind: a failing connection status counts toward the group's
//! `connection_statuses` ("broken connection"), never toward its failed runs. Only
//! run-history records feed the timelines.

mod aggregate;
mod bounded;
mod group;
mod observe;
pub mod redact;
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
