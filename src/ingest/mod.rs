//! Ingestion: discover files, sniff their kind and format, decode them into normalised
//! [`Item`]s, streaming and in parallel.

use crate::Result;
use crate::model::{InputFormat, InputKind, Item};
use crate::report::InputInfo;
use crate::time::DateOrder;
use std::path::PathBuf;

/// A file (or stdin) to read.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    /// As shown in reports: the path as given or found, `-` for stdin.
    pub display: String,
    /// Named on the command line (an unrecognised file is then an error, not a skip).
    pub named: bool,
    pub gzip: bool,
    pub size: Option<u64>,
}

/// A file found in a folder that is not a recognised export, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// What the user forced on the command line.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub kind: Option<InputKind>,
    pub format: Option<InputFormat>,
    /// `--map FIELD=COLUMN`.
    pub map: Vec<(String, String)>,
    pub date_order: DateOrder,
}

/// A sniffed input, ready to decode.
#[derive(Clone, Debug)]
pub struct Input {
    pub source: Source,
    pub kind: InputKind,
    pub format: InputFormat,
}

impl Input {
    pub fn info(&self) -> InputInfo {
        InputInfo {
            path: self.source.display.clone(),
            kind: self.kind,
            format: self.format,
            gzip: self.source.gzip,
            bytes: self.source.size.unwrap_or(0),
        }
    }
}

/// Options for decoding.
#[derive(Clone, Debug, Default)]
pub struct IngestOptions {
    pub progress: Option<indicatif::ProgressBar>,
}

/// Expand paths (files, folders recursively, `-`) into sources, and list what was skipped.
pub fn discover(_paths: &[PathBuf]) -> Result<(Vec<Source>, Vec<Skipped>)> {
    unimplemented!("discover")
}

/// Decide the kind and format of a source. Errors name the file and what was looked for.
pub fn sniff(_source: Source, _overrides: &Overrides) -> Result<Input> {
    unimplemented!("sniff")
}

/// Decode every record of `input`, folding items into per-worker accumulators made by
/// `init`. Returns the accumulators (one per chunk group); the caller merges them.
pub fn fold<A, I, F>(_input: &Input, _opts: &IngestOptions, _init: I, _fold: F) -> Result<Vec<A>>
where
    A: Send,
    I: Fn() -> A + Sync,
    F: Fn(&mut A, Item<'_>) + Sync,
{
    unimplemented!("fold")
}
