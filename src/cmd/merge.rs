//! `flowdx merge`: combine partial reports (`analyze --partial`) written by shards into the
//! report one `analyze` over all their inputs gives.
//!
//! A partial holds the counts, groups and timelines before the timing analysis, and the
//! join data its runs were resolved against. Merging adds the counts and groups, joins the
//! timelines, takes the union of the join data, rebuilds the join index from it and only
//! then runs the timing analysis, so a cadence or a wave that spans shards is found as in
//! one run.

use super::analyze::{ReportArgs, emit, finish, write_partial};
use crate::classify::Classifier;
use crate::join::JoinData;
use crate::report::Report;
use crate::{Error, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
#[command(
    long_about = "Merge partial reports written by `flowdx analyze --partial` into one report.\n\n\
The result is the report one `analyze` over all the shards' inputs would give, provided each \
run history went to one shard and every shard had the same --join files (inventories, \
run actions, sign-in logs, policies). Partials can be merged in any order and in stages: \
`merge --partial` writes a partial again."
)]
pub struct Args {
    /// Partial reports (JSON); - reads one from standard input.
    #[arg(required = true, value_name = "PARTIAL")]
    pub paths: Vec<PathBuf>,

    /// Write the merge as a partial report again (to merge in stages).
    #[arg(long, conflicts_with_all = ["format", "redact", "excel"])]
    pub partial: bool,

    /// The rules file the shards used (connection statuses are classified again).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    #[command(flatten)]
    pub report: ReportArgs,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<u8> {
    let classifier = match &args.rules {
        Some(p) => Classifier::with_user_rules(p)?,
        None => Classifier::builtin(),
    };
    let (report, data) = merge_files(&args.paths)?;
    if args.partial {
        return write_partial(&report, &data, &args.report, out);
    }
    let index = data.index(&classifier);
    let report = finish(report, &index, args.report.as_of)?;
    let status = emit(&report, &args.report, None, out);
    crate::cmd::analyze::leave_to_exit(report);
    status
}

/// Read and merge every partial; the join data canonical.
pub fn merge_files(paths: &[PathBuf]) -> Result<(Report, JoinData)> {
    let mut report = Report::new();
    let mut data = JoinData::default();
    for path in paths {
        let text = read_text(path)?;
        for (r, d) in read_partials(&text).map_err(|what| Error::Input {
            path: path.clone(),
            what,
        })? {
            report.merge(r);
            data.merge(d);
        }
    }
    data.canonicalize();
    Ok((report, data))
}

/// One partial, or several, one per line (as `analyze --partial` writes them to standard
/// output, collected by a scheduler).
fn read_partials(text: &str) -> std::result::Result<Vec<(Report, JoinData)>, String> {
    let whole = match Report::read_partial(text) {
        Ok(one) => return Ok(vec![one]),
        Err(e) => e,
    };
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    // Lines of partials only when the first line is one; else the file is something else.
    let first_is_partial = lines.first().is_some_and(|(_, l)| {
        l.trim_start()
            .starts_with("{\"format\":\"flowdx-partial-report\"")
    });
    if lines.len() < 2 || !first_is_partial {
        return Err(whole);
    }
    lines
        .into_iter()
        .map(|(n, l)| Report::read_partial(l).map_err(|e| format!("line {}: {e}", n + 1)))
        .collect()
}

fn read_text(path: &Path) -> Result<String> {
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(path, e))?;
    } else {
        bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    }
    String::from_utf8(bytes).map_err(|e| Error::Input {
        path: path.to_path_buf(),
        what: format!(
            "not a flowdx partial report: invalid UTF-8 at byte {}",
            e.utf8_error().valid_up_to()
        ),
    })
}
