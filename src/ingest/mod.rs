//! Ingestion: discover files, sniff their kind and format, decode them into normalised
//! [`Item`]s, streaming and in parallel.
//!
//! * [`discover()`] expands paths (files, folders, `-`) into [`Source`]s.
//! * [`sniff()`] reads the first 64 KiB and decides the format and the kind
//!   ([`mapping`] holds the tables that decide it and map fields).
//! * [`fold`] decodes: a reader thread cuts the stream into chunks of whole records
//!   (`chunk.rs`), workers decode chunks (`csv.rs`, `json.rs`, `jsonl.rs`, `text.rs`)
//!   into slots and build the model's records (`records.rs`), folding them into their own
//!   accumulators. Bad records become [`Item::Malformed`] with a position and a reason;
//!   they never stop the decoding.

mod chunk;
mod csv;
mod discover;
mod json;
mod jsonl;
pub mod mapping;
pub mod powershell;
mod records;
mod sniff;
mod text;

use crate::model::{InputFormat, InputKind, Item};
use crate::report::InputInfo;
use crate::time::DateOrder;
use crate::{Error, Result};
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
    /// `--map FIELD=COLUMN`: FIELD is one of [`mapping::field_names`] for the kind; COLUMN a
    /// CSV header or Format-List key (compared ignoring case, spaces and punctuation) or a
    /// JSON path (`properties/status` or `properties.status`).
    pub map: Vec<(String, String)>,
    pub date_order: DateOrder,
}

/// A sniffed input, ready to decode.
#[derive(Clone, Debug)]
pub struct Input {
    pub source: Source,
    pub kind: InputKind,
    pub format: InputFormat,
    /// `--map` as given (validated against the kind by [`sniff()`]).
    pub map: Vec<(String, String)>,
    /// The file's date order: the override, or what [`sniff()`] decided from its dates.
    pub date_order: DateOrder,
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

/// Options for decoding. Zero sizes mean the defaults.
#[derive(Clone, Debug, Default)]
pub struct IngestOptions {
    /// Advanced by raw bytes read (compressed bytes for `.gz`, like [`Source::size`]).
    pub progress: Option<indicatif::ProgressBar>,
    /// Target chunk size; default [`DEFAULT_CHUNK`].
    pub chunk_size: usize,
    /// Largest single record; larger ones are malformed. Default [`DEFAULT_MAX_RECORD`].
    pub max_record: usize,
    /// Decoding workers per file; default rayon's thread count.
    pub workers: usize,
}

/// Default chunk size.
pub const DEFAULT_CHUNK: usize = 1 << 19;
/// Default limit on one record.
pub const DEFAULT_MAX_RECORD: usize = 64 << 20;

impl IngestOptions {
    fn limits(&self) -> chunk::Limits {
        let chunk_size = if self.chunk_size == 0 {
            DEFAULT_CHUNK
        } else {
            self.chunk_size
        };
        let max_record = if self.max_record == 0 {
            DEFAULT_MAX_RECORD
        } else {
            self.max_record
        };
        chunk::Limits {
            chunk_size,
            max_record: max_record.max(1),
        }
    }

    fn workers(&self) -> usize {
        if self.workers == 0 {
            rayon::current_num_threads()
        } else {
            self.workers
        }
    }
}

/// Expand paths (files, folders recursively, `-`) into sources, and list what was skipped.
pub fn discover(paths: &[PathBuf]) -> Result<(Vec<Source>, Vec<Skipped>)> {
    discover::discover(paths)
}

/// Decide the kind and format of a source. Errors name the file and what was looked for.
pub fn sniff(source: Source, overrides: &Overrides) -> Result<Input> {
    sniff::sniff(source, overrides)
}

/// Sniff every source: a source found in a folder that is not an export is skipped (with
/// the reason), one named on the command line is an error.
pub fn sniff_all(
    sources: Vec<Source>,
    overrides: &Overrides,
) -> Result<(Vec<Input>, Vec<Skipped>)> {
    let mut inputs = Vec::new();
    let mut skipped = Vec::new();
    for s in sources {
        let named = s.named;
        let display = s.display.clone();
        match sniff(s, overrides) {
            Ok(i) => inputs.push(i),
            Err(Error::NotAnExport { reason, .. }) if !named => skipped.push(Skipped {
                path: display,
                reason,
            }),
            Err(Error::Io { source, .. }) if !named => skipped.push(Skipped {
                path: display,
                reason: format!("cannot read: {source}"),
            }),
            Err(e) => return Err(e),
        }
    }
    Ok((inputs, skipped))
}

/// What the builders know about the file.
fn context(input: &Input, plan: Option<&csv::CsvPlan>, limits: chunk::Limits) -> records::Ctx {
    let mut ctx = records::Ctx {
        max_record: limits.max_record,
        file: input.source.display.clone(),
        kind: input.kind,
        date_order: input.date_order,
        flow_id: None,
        flow_name: None,
    };
    let name = input
        .source
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if input.kind == InputKind::RunHistory
        && let Some(plan) = plan
        && !plan.has(mapping::RunF::FlowId.i())
        && !plan.has(mapping::RunF::ResourceId.i())
        && !plan.has(mapping::RunF::Internal.i())
        && input.source.display != "-"
    {
        // A portal download is one file per flow, named after it.
        if let Some(g) = records::find_guid(&name) {
            ctx.flow_id = Some(g.to_string());
        } else if !plan.has(mapping::RunF::FlowName.i()) {
            let stem = name.split('.').next().unwrap_or(&name);
            ctx.flow_name = Some(stem.to_string()).filter(|s| !s.is_empty());
        }
    }
    ctx
}

/// Decode every record of `input`, folding items into per-worker accumulators made by
/// `init`. Returns the accumulators (one per worker that saw data, at least one); the
/// caller merges them. Items reach a worker in file order within a chunk, but chunks are
/// spread over workers, so merging must not depend on order.
pub fn fold<A, I, F>(input: &Input, opts: &IngestOptions, init: I, fold: F) -> Result<Vec<A>>
where
    A: Send,
    I: Fn() -> A + Sync,
    F: Fn(&mut A, Item<'_>) + Sync,
{
    let reader = discover::open(&input.source, discover::Mode::Stream, opts.progress.clone())
        .map_err(|e| Error::io(&input.source.path, e))?;
    fold_reader(input, reader, opts, init, fold)
}

/// Sniff and decode an in-memory buffer as if it were a file named `name` found in a folder
/// (gzip and UTF-16 are recognised by their first bytes, as for files). For fuzzing and
/// tests: the same code paths as [`sniff()`] and [`fold`], without touching the disk.
pub fn fold_bytes<A, I, F>(
    name: &str,
    bytes: &[u8],
    overrides: &Overrides,
    opts: &IngestOptions,
    init: I,
    fold: F,
) -> Result<(Input, Vec<A>)>
where
    A: Send,
    I: Fn() -> A + Sync,
    F: Fn(&mut A, Item<'_>) + Sync,
{
    let gzip = bytes.starts_with(&[0x1f, 0x8b]);
    let source = Source {
        path: PathBuf::from(name),
        display: name.to_string(),
        named: false,
        gzip,
        size: Some(bytes.len() as u64),
    };
    let open = |mode| {
        let raw: Box<dyn std::io::Read + Send> = Box::new(std::io::Cursor::new(bytes.to_vec()));
        discover::stack(raw, gzip, mode, None).map_err(|e| Error::io(name, e))
    };
    let input = sniff::sniff_reader(source, open(discover::Mode::Peek)?, overrides)?;
    let accs = fold_reader(&input, open(discover::Mode::Stream)?, opts, init, fold)?;
    Ok((input, accs))
}

/// [`fold`] over an already opened (decompressed, UTF-8) stream.
fn fold_reader<A, I, F>(
    input: &Input,
    mut reader: Box<dyn std::io::Read + Send>,
    opts: &IngestOptions,
    init: I,
    fold: F,
) -> Result<Vec<A>>
where
    A: Send,
    I: Fn() -> A + Sync,
    F: Fn(&mut A, Item<'_>) + Sync,
{
    let path = &input.source.path;
    let limits = opts.limits();
    let workers = opts.workers();
    let table = mapping::table(input.kind);
    let map = sniff::resolve_map(input.kind, &input.map)?;
    match input.format {
        InputFormat::Csv => {
            let (header, buf) = csv::read_header(&mut *reader, limits.max_record)
                .map_err(|e| Error::io(path, e))?;
            let plan = csv::CsvPlan::new(&header, table, &map).map_err(Error::Usage)?;
            let ctx = context(input, Some(&plan), limits);
            let (_, start) = csv_start(&header, &buf);
            let cutter = Box::new(chunk::LineCutter::new(true));
            Ok(chunk::fold_stream(
                reader,
                start,
                cutter,
                limits,
                workers,
                &init,
                &|acc, c| csv::decode_chunk(&plan, &ctx, c, &mut |item| fold(acc, item)),
            ))
        }
        InputFormat::Json => {
            let plan = json::JsonPlan::new(table, &map);
            let ctx = context(input, None, limits);
            let cutter = Box::new(chunk::JsonCutter::new());
            let start = chunk::Start::beginning();
            Ok(chunk::fold_stream(
                reader,
                start,
                cutter,
                limits,
                workers,
                &init,
                &|acc, c| json::decode_chunk(&plan, &ctx, c, &mut |item| fold(acc, item)),
            ))
        }
        InputFormat::JsonLines => {
            let plan = json::JsonPlan::new(table, &map);
            let ctx = context(input, None, limits);
            let cutter = Box::new(chunk::LineCutter::new(false));
            let start = chunk::Start::beginning();
            Ok(chunk::fold_stream(
                reader,
                start,
                cutter,
                limits,
                workers,
                &init,
                &|acc, c| jsonl::decode_chunk(&plan, &ctx, c, &mut |item| fold(acc, item)),
            ))
        }
        InputFormat::Text => {
            let plan = text::KeyPlan::new(table, &map);
            let ctx = context(input, None, limits);
            let mut acc = init();
            text::decode(reader, &plan, &ctx, &mut |item| fold(&mut acc, item))
                .map_err(|e| Error::io(path, e))?;
            Ok(vec![acc])
        }
    }
}

/// Split what [`csv::read_header`] read into the bytes before the first record (the
/// `sep=` line and the header) and the chunk reader's start: the rest, numbered from the
/// first record's line.
fn csv_start<'b>(header: &csv::Header, buf: &'b [u8]) -> (&'b [u8], chunk::Start) {
    let (head, rest) = buf.split_at(header.consumed.min(buf.len()));
    let start = chunk::Start {
        buf: rest.to_vec(),
        line: 1 + header.lines,
        offset: header.consumed as u64,
    };
    (head, start)
}

/// What a command that writes records back out needs besides the chunks: the bytes before
/// the first record (a CSV file's `sep=` line and header, with its line break) and the
/// CSV delimiter.
#[derive(Clone, Debug)]
pub struct Framing {
    pub format: InputFormat,
    /// The bytes before the first record; empty for JSON Lines.
    pub head: Vec<u8>,
    /// The CSV delimiter; `None` for JSON Lines.
    pub delim: Option<u8>,
    /// The input started with a UTF-8 byte order mark (dropped before decoding).
    pub bom: bool,
}

/// A run of whole records exactly as read, for [`map_ordered`].
pub struct RawChunk<'a> {
    /// Bytes to pass on as they are (a broken record the reader had to skip) ...
    pub passthrough: &'a [u8],
    /// ... then whole records, the first starting on line `first_line`.
    pub records: &'a [u8],
    pub first_line: u64,
}

/// What [`map_ordered`] hands its sink: the framing first, then each chunk's output in
/// file order.
pub enum Piece<'a, O> {
    Head(&'a Framing),
    Chunk(O),
}

/// Decode a CSV or JSON Lines input in parallel chunks like [`fold`], but keep the chunks'
/// bytes: `per_item` sees every item of a chunk (in file order) and collects what it needs
/// into a `Vec<T>`, then `per_chunk` turns the chunk's raw bytes and that vector into an
/// output, and `sink` receives the outputs in file order on the calling thread, whatever
/// the number of workers. Memory is bounded by a few chunks per worker.
pub fn map_ordered<T, O, F, G, S>(
    input: &Input,
    opts: &IngestOptions,
    per_item: F,
    per_chunk: G,
    mut sink: S,
) -> Result<()>
where
    O: Send,
    F: Fn(&mut Vec<T>, Item<'_>) + Sync,
    G: Fn(&Framing, RawChunk<'_>, Vec<T>) -> O + Sync,
    S: FnMut(Piece<'_, O>) -> Result<()>,
{
    let path = &input.source.path;
    let bom = discover::utf8_bom(&input.source).map_err(|e| Error::io(path, e))?;
    let mut reader = discover::open(&input.source, discover::Mode::Stream, opts.progress.clone())
        .map_err(|e| Error::io(path, e))?;
    let limits = opts.limits();
    let workers = opts.workers();
    let table = mapping::table(input.kind);
    let map = sniff::resolve_map(input.kind, &input.map)?;
    fn raw(c: &chunk::Chunk) -> RawChunk<'_> {
        let start = c.start.min(c.buf.len());
        RawChunk {
            passthrough: &c.buf[..start],
            records: &c.buf[start..],
            first_line: c.first_line,
        }
    }
    let lost = |file: &str| Error::Input {
        path: PathBuf::from(file),
        what: format!(
            "a record is larger than the {} limit and cannot be written back out",
            chunk::mib(limits.max_record)
        ),
    };
    // The pipeline once the format's framing, start and decoder are known.
    let mut stream = |reader: Box<dyn std::io::Read + Send>,
                      framing: Framing,
                      start: chunk::Start,
                      cutter: Box<dyn chunk::Cutter>,
                      decode: &(dyn Fn(&chunk::Chunk, &mut Vec<T>) + Sync)|
     -> Result<()> {
        sink(Piece::Head(&framing))?;
        chunk::map_stream(
            reader,
            start,
            cutter,
            limits,
            workers,
            &|c: &chunk::Chunk| {
                let mut acc = Vec::new();
                decode(c, &mut acc);
                (c.lost, per_chunk(&framing, raw(c), acc))
            },
            &mut |(was_lost, o)| {
                if was_lost {
                    return Err(lost(&input.source.display));
                }
                sink(Piece::Chunk(o))
            },
        )
    };
    match input.format {
        InputFormat::Csv => {
            let (header, buf) = csv::read_header(&mut *reader, limits.max_record)
                .map_err(|e| Error::io(path, e))?;
            let plan = csv::CsvPlan::new(&header, table, &map).map_err(Error::Usage)?;
            let ctx = context(input, Some(&plan), limits);
            let (head, start) = csv_start(&header, &buf);
            let framing = Framing {
                format: input.format,
                head: head.to_vec(),
                delim: Some(header.delim),
                bom,
            };
            stream(
                reader,
                framing,
                start,
                Box::new(chunk::LineCutter::new(true)),
                &|c, acc| csv::decode_chunk(&plan, &ctx, c, &mut |item| per_item(acc, item)),
            )
        }
        InputFormat::JsonLines => {
            let plan = json::JsonPlan::new(table, &map);
            let ctx = context(input, None, limits);
            let framing = Framing {
                format: input.format,
                head: Vec::new(),
                delim: None,
                bom,
            };
            stream(
                reader,
                framing,
                chunk::Start::beginning(),
                Box::new(chunk::LineCutter::new(false)),
                &|c, acc| jsonl::decode_chunk(&plan, &ctx, c, &mut |item| per_item(acc, item)),
            )
        }
        other => Err(Error::Input {
            path: path.clone(),
            what: format!(
                "a {other} input cannot be written back record by record; only CSV and JSON \
                 Lines can"
            ),
        }),
    }
}

#[cfg(test)]
mod tests;
