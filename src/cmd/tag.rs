//! `flowdx tag`: write run histories back out with the diagnosis of every failed run in six
//! appended columns (CSV) or fields (JSON Lines): `flowdx_category`, `flowdx_root_cause`,
//! `flowdx_fix`, `flowdx_actor`, `flowdx_confidence`, `flowdx_aadsts`.
//!
//! Everything else is the input's own bytes: the header (and an Excel `sep=` line), quoting,
//! the delimiter, CRLF or LF, quoted line breaks, a UTF-8 byte order mark. Removing the
//! appended cells gives the input back byte for byte. Records are decoded in parallel chunks
//! by the same pipeline as `analyze` ([`ingest::map_ordered`]) and written in input order.
//!
//! CSV: every record gets the six cells, in the file's delimiter; they are empty for runs
//! that did not fail and for malformed rows; blank lines stay as they are. JSON Lines: every
//! run object gets the six fields (`null` for runs that did not fail; `flowdx_aadsts` is an
//! array of `"AADSTS50076"` strings); lines that are not run objects stay as they are. In
//! CSV `flowdx_aadsts` lists the codes separated by spaces.

use super::analyze::{self, ReadArgs};
use crate::classify::{Classifier, Diagnosis, MsgContext};
use crate::filter::{Facts, Filter, FilterArgs};
use crate::ingest::{self, Framing, IngestOptions, Input, Overrides, Piece, RawChunk};
use crate::join::{JoinData, JoinIndex};
use crate::model::{InputFormat, InputKind, Item, Malformed, Position};
use crate::vocab::{Category, RootCause};
use crate::{Error, Result};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The appended columns, in order.
pub const COLUMNS: [&str; 6] = [
    "flowdx_category",
    "flowdx_root_cause",
    "flowdx_fix",
    "flowdx_actor",
    "flowdx_confidence",
    "flowdx_aadsts",
];

/// How many malformed records the summary names.
const SHOW_MALFORMED: usize = 3;

#[derive(Debug, clap::Args)]
#[command(
    long_about = "Write run histories back out with the diagnosis of every failed run appended: \
CSV in, CSV out (six more columns, in the file's own delimiter); JSON Lines in, JSON Lines out \
(six more fields on each run object). The columns are flowdx_category, flowdx_root_cause, \
flowdx_fix, flowdx_actor, flowdx_confidence and flowdx_aadsts; they are empty (CSV) or null \
(JSON Lines) for runs that did not fail.\n\nEvery byte of the input is kept: header, quoting, \
line endings, quoted line breaks, a sep= line, a byte order mark. Removing the appended cells \
gives the input back. Records keep their order whatever --jobs is.\n\nOne input goes to \
standard output, or to -o FILE. Several inputs need -o DIR: one tagged file per input, under \
the input's file name. Files are replaced atomically. Output is gzip-compressed exactly when \
its name ends in .gz (so a .gz input tagged into a folder stays compressed; standard output \
is never compressed).\n\nOnly run histories in CSV or JSON Lines are tagged; inventories, \
sign-in logs and policies are refused (give them with --join). Malformed records are written \
through unchanged (CSV rows with empty cells), counted, and summed up on standard error; \
--strict makes them an error.\n\nFilters (--since, --owner, --category, ...) choose which \
failed runs are tagged: every row is still written, failed runs outside the filters get empty \
cells (null in JSON Lines) like runs that did not fail, and the summary counts them. With \
--only-selected only the header and the selected failed runs are written."
)]
pub struct Args {
    /// Run histories to tag (CSV or JSON Lines, optionally .gz); - reads standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Use this inventory, run-actions export or sign-in log for the joins (as for
    /// `analyze --join`): a failed run that says only ActionFailed takes its error text from
    /// the failing action or the connection's status.
    #[arg(long = "join", value_name = "PATH")]
    pub join: Vec<PathBuf>,

    /// Write to this file (one input) or into this folder (several inputs).
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub read: ReadArgs,

    /// Target chunk size in bytes (default 1 MiB); for tests.
    #[arg(long, value_name = "BYTES", hide = true, default_value_t = 0)]
    pub chunk_size: usize,

    /// Exit with status 2 if any record is malformed.
    #[arg(long)]
    pub strict: bool,

    /// Write only the header and the failed runs the filters select (every failed run
    /// without filters), instead of every row.
    #[arg(long)]
    pub only_selected: bool,

    #[command(flatten)]
    pub filter: FilterArgs,
}

/// One tagged input's counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Run records and malformed records.
    pub records: u64,
    pub failed: u64,
    /// Failed runs the filters left untagged.
    pub filtered: u64,
    pub malformed: u64,
    /// The first few malformed records.
    pub first_malformed: Vec<Malformed>,
}

impl Summary {
    fn add(&mut self, other: Summary) {
        self.records += other.records;
        self.failed += other.failed;
        self.filtered += other.filtered;
        self.malformed += other.malformed;
        for m in other.first_malformed {
            if self.first_malformed.len() < SHOW_MALFORMED {
                self.first_malformed.push(m);
            }
        }
    }
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<u8> {
    let classifier = args.read.classifier()?;
    // The kind is sniffed, not forced, so that inventories and sign-in logs are refused.
    let overrides = args.read.overrides(None);
    let inputs = tag_inputs(&args.paths, &overrides)?;
    let targets = targets(&inputs, args.output.as_deref())?;
    let joins = analyze::join_inputs(&args.join, &overrides)?;
    let jobs = args.read.jobs();
    let opts = IngestOptions {
        chunk_size: args.chunk_size,
        workers: jobs,
        ..IngestOptions::default()
    };
    let filter = args.filter.build()?;
    let mut data = JoinData::default();
    analyze::read_joins(&joins, &opts, args.strict, &mut data)?;
    data.canonicalize();
    let index = data.index(&classifier);
    let tagger = Tagger {
        index: &index,
        classifier: &classifier,
        filter: &filter,
        only_selected: args.only_selected,
    };

    let mut total = Summary::default();
    for (input, target) in inputs.iter().zip(&targets) {
        let mut summary = Summary::default();
        analyze::write_output(target.as_deref(), out, |w| {
            let gz = target
                .as_deref()
                .is_some_and(|p| p.extension().is_some_and(|e| e == "gz"));
            if gz {
                let mut enc = flate2::write::GzEncoder::new(w, flate2::Compression::default());
                summary = tag_input(input, &opts, &tagger, &mut enc)?;
                enc.finish().map_err(Error::Output)?;
            } else {
                summary = tag_input(input, &opts, &tagger, w)?;
            }
            Ok(())
        })?;
        eprintln!(
            "flowdx: {}: {}",
            input.source.display,
            summary_line(&summary)
        );
        total.add(summary);
    }
    if args.strict
        && let Some(first) = total.first_malformed.first()
    {
        return Err(Error::Strict {
            count: total.malformed,
            first: first.to_string(),
        });
    }
    Ok(super::EXIT_OK)
}

/// `12 records, 3 failed runs tagged, 1 malformed (first: runs.csv: line 7: ...)`.
fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "{} record{}, {} failed run{} tagged, {} malformed",
        s.records,
        if s.records == 1 { "" } else { "s" },
        s.failed,
        if s.failed == 1 { "" } else { "s" },
        s.malformed
    );
    if s.filtered > 0 {
        line.push_str(&format!(
            ", {} failed left untagged by the filters",
            s.filtered
        ));
    }
    if !s.first_malformed.is_empty() {
        let firsts: Vec<String> = s.first_malformed.iter().map(|m| m.to_string()).collect();
        line.push_str(&format!(" (first: {})", firsts.join("; ")));
    }
    line
}

/// Sniff every input; each must be a run history in CSV or JSON Lines.
fn tag_inputs(paths: &[PathBuf], overrides: &Overrides) -> Result<Vec<Input>> {
    let (inputs, _) = analyze::discover_inputs(paths, overrides)?;
    for i in &inputs {
        if i.kind != InputKind::RunHistory {
            return Err(Error::Input {
                path: i.source.path.clone(),
                what: format!(
                    "a {} is not a run history; tag writes run histories back out (give \
                     inventories, run actions and sign-in logs with --join)",
                    i.kind
                ),
            });
        }
        if !matches!(i.format, InputFormat::Csv | InputFormat::JsonLines) {
            return Err(Error::Input {
                path: i.source.path.clone(),
                what: format!(
                    "a {} run history cannot be tagged record by record; tag reads CSV and \
                     JSON Lines",
                    i.format
                ),
            });
        }
    }
    if inputs.is_empty() {
        return Err(Error::Usage("no run history to tag".into()));
    }
    Ok(inputs)
}

/// Where each input's tagged copy goes: `None` for standard output.
fn targets(inputs: &[Input], output: Option<&Path>) -> Result<Vec<Option<PathBuf>>> {
    let Some(output) = output else {
        if inputs.len() > 1 {
            return Err(Error::Usage(format!(
                "{} inputs: give -o DIR to write one tagged file per input",
                inputs.len()
            )));
        }
        return Ok(vec![None]);
    };
    let into_dir = inputs.len() > 1 || output.is_dir();
    if !into_dir {
        return Ok(vec![Some(output.to_path_buf())]);
    }
    if !output.is_dir() {
        return Err(Error::Usage(format!(
            "-o {}: several inputs are written into a folder, and this is not one",
            output.display()
        )));
    }
    let mut seen: HashMap<PathBuf, &str> = HashMap::new();
    let mut out = Vec::new();
    for i in inputs {
        let Some(name) = i
            .source
            .path
            .file_name()
            .filter(|_| i.source.display != "-")
        else {
            return Err(Error::Usage(
                "standard input has no file name to write into a folder; tag it alone".into(),
            ));
        };
        let target = output.join(name);
        if let Some(other) = seen.insert(target.clone(), &i.source.display) {
            return Err(Error::Usage(format!(
                "{other} and {} would both be written to {}",
                i.source.display,
                target.display()
            )));
        }
        out.push(Some(target));
    }
    for (i, t) in inputs.iter().zip(&out) {
        if let Some(t) = t
            && same_file(&i.source.path, t)
        {
            return Err(Error::Usage(format!(
                "{}: the tagged copy would replace its input",
                i.source.display
            )));
        }
    }
    Ok(out)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// What the workers note about one record.
enum Seen {
    /// A run on this line: its cells (`None`: it did not fail).
    Run(u64, Option<Cells>),
    /// A failed run on this line that the filters leave untagged.
    Filtered(u64),
    Malformed(Malformed),
}

/// The six appended values of a failed run.
struct Cells {
    category: Category,
    root_cause: RootCause,
    fix: &'static str,
    actor: &'static str,
    confidence: &'static str,
    aadsts: Vec<u32>,
}

impl Cells {
    fn of(d: &Diagnosis) -> Cells {
        Cells {
            category: d.category,
            root_cause: d.root_cause,
            fix: d.fix.as_str(),
            actor: d.actor.as_str(),
            confidence: d.confidence.as_str(),
            aadsts: d.aadsts.clone(),
        }
    }

    fn codes(&self) -> impl Iterator<Item = String> + '_ {
        self.aadsts.iter().map(|c| format!("AADSTS{c}"))
    }
}

/// One chunk, tagged.
struct Tagged {
    bytes: Vec<u8>,
    summary: Summary,
}

/// How records are tagged: the joins, the rules and the filters.
pub struct Tagger<'a> {
    pub index: &'a JoinIndex,
    pub classifier: &'a Classifier,
    pub filter: &'a Filter,
    /// Write only the tagged rows (`--only-selected`).
    pub only_selected: bool,
}

/// Tag one input into `w`; returns its counts.
pub fn tag_input(
    input: &Input,
    opts: &IngestOptions,
    tagger: &Tagger<'_>,
    w: &mut dyn Write,
) -> Result<Summary> {
    let Tagger {
        index,
        classifier,
        filter,
        only_selected,
    } = *tagger;
    let mut total = Summary::default();
    ingest::map_ordered(
        input,
        opts,
        |acc: &mut Vec<Seen>, item| match item {
            Item::Run(run) => {
                let line = match run.position {
                    Position::Line(l) => l,
                    _ => 0,
                };
                if !run.status.is_failed() {
                    acc.push(Seen::Run(line, None));
                    return;
                }
                let r = index.resolve(&run, classifier);
                let cells = match &r.verdict {
                    Some((d, _, _)) => Cells::of(d),
                    None => {
                        let message = r.fallback_message.as_deref().unwrap_or("");
                        Cells::of(&classifier.classify(message, MsgContext::default()))
                    }
                };
                let facts = Facts {
                    time: run.time,
                    owner: r.owner.as_deref(),
                    environment: r.environment.as_deref(),
                    connector: r.connector.as_deref(),
                };
                if filter.selects_failure(&facts, cells.category, cells.root_cause) {
                    acc.push(Seen::Run(line, Some(cells)));
                } else {
                    acc.push(Seen::Filtered(line));
                }
            }
            Item::Malformed(m) => acc.push(Seen::Malformed(m)),
            _ => {}
        },
        |framing, raw, seen| tag_chunk(framing, raw, seen, only_selected),
        |piece| {
            match piece {
                Piece::Head(f) => write_head(f, w),
                Piece::Chunk(t) => {
                    total.add(t.summary);
                    w.write_all(&t.bytes)
                }
            }
            .map_err(Error::Output)
        },
    )?;
    Ok(total)
}

/// The byte order mark, and for CSV the header with the appended column names.
fn write_head(f: &Framing, w: &mut dyn Write) -> std::io::Result<()> {
    if f.bom {
        w.write_all(&[0xef, 0xbb, 0xbf])?;
    }
    let Some(delim) = f.delim else {
        return w.write_all(&f.head);
    };
    let (body, end) = split_ending(&f.head);
    w.write_all(body)?;
    for c in COLUMNS {
        w.write_all(&[delim])?;
        w.write_all(c.as_bytes())?;
    }
    w.write_all(end)
}

/// A record without its line ending, and the ending (`\r\n`, `\n` or nothing).
fn split_ending(rec: &[u8]) -> (&[u8], &[u8]) {
    let cut = if rec.ends_with(b"\r\n") {
        rec.len() - 2
    } else if rec.ends_with(b"\n") {
        rec.len() - 1
    } else {
        rec.len()
    };
    rec.split_at(cut)
}

/// The records of a chunk, each with its first line: CSV cuts at line breaks outside
/// quotes (as the chunk reader does), JSON Lines at every line break.
fn records(data: &[u8], first_line: u64, quotes: bool) -> Vec<(u64, &[u8])> {
    let mut out = Vec::new();
    let (mut start, mut line, mut lines_in, mut q) = (0, first_line, 0u64, false);
    for (i, &b) in data.iter().enumerate() {
        match b {
            b'"' if quotes => q = !q,
            b'\n' => {
                lines_in += 1;
                if !q {
                    out.push((line, &data[start..=i]));
                    start = i + 1;
                    line += lines_in;
                    lines_in = 0;
                }
            }
            _ => {}
        }
    }
    if start < data.len() {
        out.push((line, &data[start..]));
    }
    out
}

fn tag_chunk(framing: &Framing, raw: RawChunk<'_>, seen: Vec<Seen>, only: bool) -> Tagged {
    let mut summary = Summary::default();
    let mut runs: HashMap<u64, Option<&Cells>> = HashMap::new();
    for s in &seen {
        summary.records += 1;
        match s {
            Seen::Run(line, cells) => {
                if cells.is_some() {
                    summary.failed += 1;
                }
                runs.insert(*line, cells.as_ref());
            }
            Seen::Filtered(line) => {
                summary.filtered += 1;
                runs.insert(*line, None);
            }
            Seen::Malformed(m) => {
                summary.malformed += 1;
                if summary.first_malformed.len() < SHOW_MALFORMED {
                    summary.first_malformed.push(m.clone());
                }
            }
        }
    }
    let mut bytes = Vec::with_capacity(raw.passthrough.len() + raw.records.len() * 5 / 4);
    if !only {
        bytes.extend_from_slice(raw.passthrough);
    }
    // With --only-selected, a record without a diagnosis is not written.
    let skip = |line: u64| only && runs.get(&line).copied().flatten().is_none();
    match framing.delim {
        Some(delim) => {
            for (line, rec) in records(raw.records, raw.first_line, true) {
                if skip(line) {
                    continue;
                }
                let (body, end) = split_ending(rec);
                bytes.extend_from_slice(body);
                if !body.trim_ascii().is_empty() {
                    csv_cells(&mut bytes, delim, runs.get(&line).copied().flatten());
                }
                bytes.extend_from_slice(end);
            }
        }
        None => {
            for (line, rec) in records(raw.records, raw.first_line, false) {
                if skip(line) {
                    continue;
                }
                match runs.get(&line) {
                    Some(cells) => json_fields(&mut bytes, rec, *cells),
                    None => bytes.extend_from_slice(rec),
                }
            }
        }
    }
    Tagged { bytes, summary }
}

/// Append the six cells, each after the delimiter, quoted where needed.
fn csv_cells(out: &mut Vec<u8>, delim: u8, cells: Option<&Cells>) {
    let Some(c) = cells else {
        out.extend(std::iter::repeat_n(delim, COLUMNS.len()));
        return;
    };
    let codes = c.codes().collect::<Vec<_>>().join(" ");
    for v in [
        c.category.as_str(),
        c.root_cause.as_str(),
        c.fix,
        c.actor,
        c.confidence,
        codes.as_str(),
    ] {
        out.push(delim);
        if v.bytes()
            .any(|b| b == delim || matches!(b, b'"' | b'\n' | b'\r'))
        {
            out.push(b'"');
            out.extend_from_slice(v.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(v.as_bytes());
        }
    }
}

/// Insert the six fields before the object's closing brace; a line that does not end in
/// one is written unchanged.
fn json_fields(out: &mut Vec<u8>, line: &[u8], cells: Option<&Cells>) {
    let (body, end) = split_ending(line);
    let trimmed = body.trim_ascii_end();
    let Some(close) = trimmed.len().checked_sub(1).filter(|&i| trimmed[i] == b'}') else {
        out.extend_from_slice(line);
        return;
    };
    let empty = trimmed[..close].trim_ascii_end().ends_with(b"{");
    let values: [serde_json::Value; 6] = match cells {
        None => Default::default(),
        Some(c) => [
            c.category.as_str().into(),
            c.root_cause.as_str().into(),
            c.fix.into(),
            c.actor.into(),
            c.confidence.into(),
            c.codes().collect::<Vec<_>>().into(),
        ],
    };
    out.extend_from_slice(&body[..close]);
    for (i, (name, v)) in COLUMNS.iter().zip(values).enumerate() {
        if i > 0 || !empty {
            out.push(b',');
        }
        out.extend_from_slice(format!("\"{name}\":{v}").as_bytes());
    }
    out.extend_from_slice(&body[close..]);
    out.extend_from_slice(end);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_cut_outside_quotes_and_count_lines() {
        let data = b"a,\"x\ny\"\r\nb,c\n\nd,e";
        let recs = records(data, 5, true);
        let lines: Vec<u64> = recs.iter().map(|r| r.0).collect();
        assert_eq!(lines, vec![5, 7, 8, 9]);
        assert_eq!(recs[0].1, b"a,\"x\ny\"\r\n");
        assert_eq!(recs[3].1, b"d,e");
        let concat: Vec<u8> = recs.iter().flat_map(|r| r.1.iter().copied()).collect();
        assert_eq!(concat, data);
    }

    #[test]
    fn json_fields_go_before_the_closing_brace() {
        let cells = Cells {
            category: Category::MfaRequired,
            root_cause: RootCause::CaPolicyAfterConnection,
            fix: "repair-connection",
            actor: "owner",
            confidence: "certain",
            aadsts: vec![50076],
        };
        let mut out = Vec::new();
        json_fields(&mut out, b"{\"a\":1} \r\n", Some(&cells));
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("{\"a\":1,\"flowdx_category\":\"mfa-required\","));
        assert!(text.ends_with("\"flowdx_aadsts\":[\"AADSTS50076\"]} \r\n"));
        let mut out = Vec::new();
        json_fields(&mut out, b"{ }", None);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{ \"flowdx_category\":null,\"flowdx_root_cause\":null,\"flowdx_fix\":null,\
             \"flowdx_actor\":null,\"flowdx_confidence\":null,\"flowdx_aadsts\":null}"
        );
    }

    #[test]
    fn csv_cells_quote_what_needs_it() {
        let cells = Cells {
            category: Category::CaBlocked,
            root_cause: RootCause::Unknown,
            fix: "y",
            actor: "z",
            confidence: "c;d",
            aadsts: vec![1, 2],
        };
        let mut out = Vec::new();
        csv_cells(&mut out, b';', Some(&cells));
        assert_eq!(out, b";ca-blocked;unknown;y;z;\"c;d\";AADSTS1 AADSTS2");
        let mut out = Vec::new();
        csv_cells(&mut out, b'\t', None);
        assert_eq!(out, b"\t\t\t\t\t\t");
    }
}
