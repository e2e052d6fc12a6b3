//! The library's error type. Every variant carries the context a person needs to find the
//! problem: the file, and where useful the line, record or JSON path. Bad records inside an
//! otherwise readable file are *not* errors: they are counted as malformed (see
//! [`crate::model::Malformed`]); only `--strict` turns them into a failure.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a recognised export: {reason}")]
    NotAnExport { path: PathBuf, reason: String },
    #[error("{path}: {what}")]
    Input { path: PathBuf, what: String },
    #[error("{path}:{line}: {what}")]
    Rules {
        path: PathBuf,
        line: usize,
        what: String,
    },
    #[error("invalid argument: {0}")]
    Usage(String),
    #[error("{count} malformed record(s); first: {first}")]
    Strict { count: u64, first: String },
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
