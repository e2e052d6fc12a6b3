//! CSV: header, delimiter, column plan and the parallel chunk decoder.
//!
//! The header is the file's first record (after an Excel `sep=;` line, if any); the
//! delimiter (`,` `;` or tab) is the one the header line uses most, outside quotes. Header
//! names are resolved to fields once ([`CsvPlan`]) and the plan is shared by every worker.
//! Workers split their chunk into records with simd-csv and borrow cells straight from
//! it; from the first record with an irregular quote on, the csv crate reads the rest of
//! the chunk (see [`decode_chunk`]). A row whose field count differs from the header's is
//! malformed ("expected N fields, found M"); cells that are not UTF-8 are decoded lossily.

use super::chunk::Chunk;
use super::mapping::{KindTable, RunF, norm};
use super::records::{self, Ctx, Slots, Val};
use crate::model::{InputKind, Item, Position, RunStatus, trim};
use std::borrow::Cow;
use std::io::{self, Read};

/// The header record and where the data starts.
#[derive(Clone, Debug)]
pub(crate) struct Header {
    pub delim: u8,
    pub names: Vec<String>,
    /// Bytes up to the first data record.
    pub consumed: usize,
    /// Line breaks in those bytes.
    pub lines: u64,
}

/// The delimiter a header line uses most, outside quotes (`,` on a tie or none).
pub(crate) fn detect_delimiter(line: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut q = false;
    for &b in line {
        match b {
            b'"' => q = !q,
            b',' if !q => counts[0] += 1,
            b';' if !q => counts[1] += 1,
            b'\t' if !q => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    [b',', b';', b'\t'][best]
}

/// Parse the header from the start of `buf`; `None` when `buf` does not yet hold it (and
/// `eof` is false).
pub(crate) fn parse_header(buf: &[u8], eof: bool) -> Option<Header> {
    let mut start = 0;
    let mut lines = 0;
    let mut forced = None;
    // Excel's `sep=;` hint line.
    if buf.len() >= 5 && buf[..4].eq_ignore_ascii_case(b"sep=") {
        let end = match memchr::memchr(b'\n', buf) {
            Some(e) => e,
            None if eof => buf.len(),
            None => return None,
        };
        let d = buf[4];
        if matches!(d, b',' | b';' | b'\t' | b'|') {
            forced = Some(d);
        }
        start = (end + 1).min(buf.len());
        lines = 1;
    }
    let rest = &buf[start..];
    let end = match super::chunk::first_outside_quotes(rest, 0, false) {
        Some(e) => e,
        None if eof => rest.len(),
        None => return None,
    };
    let line = &rest[..end];
    let delim = forced.unwrap_or_else(|| detect_delimiter(line));
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delim)
        .from_reader(line);
    let mut rec = ::csv::ByteRecord::new();
    let names = match rdr.read_byte_record(&mut rec) {
        Ok(true) => rec
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect(),
        _ => Vec::new(),
    };
    Some(Header {
        delim,
        names,
        consumed: start + end,
        lines: lines + memchr::memchr_iter(b'\n', line).count() as u64,
    })
}

/// Read from `r` until the header is complete; returns it and the bytes read.
pub(crate) fn read_header(r: &mut dyn Read, max: usize) -> io::Result<(Header, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut eof = false;
    loop {
        if let Some(h) = parse_header(&buf, eof) {
            return Ok((h, buf));
        }
        if buf.len() >= max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the CSV header is larger than the record size limit",
            ));
        }
        let have = buf.len();
        buf.resize(have + 64 * 1024, 0);
        let n = super::discover::read_full(r, &mut buf[have..])?;
        buf.truncate(have + n);
        eof = n == 0;
    }
}

/// Which column feeds which field.
#[derive(Clone, Debug)]
pub(crate) struct CsvPlan {
    pub delim: u8,
    pub width: usize,
    /// `(field, column)` pairs.
    pub cols: Vec<(usize, usize)>,
    /// For a run history with a status column (and no PowerShell `Internal` object): the
    /// status is read first, then only the cells its run needs.
    pub status_first: Option<StatusFirst>,
}

/// The cells of a run whose status was read first. Most runs succeed, and their ids, error
/// cells and triggers are never read; no run reads its status cell twice.
#[derive(Clone, Debug)]
pub(crate) struct StatusFirst {
    /// The status column.
    column: usize,
    /// The pairs a run that did not fail needs ([`RUN_NOT_FAILED_NEEDS`]).
    not_failed: Vec<(usize, usize)>,
    /// The pairs of a failed run: all but the status.
    failed: Vec<(usize, usize)>,
}

/// What a run that did not fail is counted by, besides its status (parsed once, from the
/// status column): its flow (named in an ARM id, by id or by name), owner, connection and
/// time. Its run id, environment, trigger and error cells are read only for failures (the
/// joins, groups and filters are about failures).
const RUN_NOT_FAILED_NEEDS: &[RunF] = &[
    RunF::ResourceId,
    RunF::FlowId,
    RunF::FlowName,
    RunF::Owner,
    RunF::OwnerId,
    RunF::Connection,
    RunF::Connector,
    RunF::Start,
    RunF::End,
];

impl CsvPlan {
    /// Resolve the header against the table; `overrides` (`--map`) name a column for a
    /// field and must exist.
    pub(crate) fn new(
        header: &Header,
        table: &KindTable,
        overrides: &[(usize, String)],
    ) -> Result<Self, String> {
        let names: Vec<String> = header.names.iter().map(|n| norm(n)).collect();
        let mut cols = Vec::new();
        let mut taken = vec![false; names.len()];
        // Exact names first, in table order; then keyword fallbacks on what is left.
        for (i, f) in table.fields.iter().enumerate() {
            if let Some((_, col)) = overrides.iter().find(|(fi, _)| *fi == i) {
                let n = norm(col);
                let c = names.iter().position(|h| *h == n).ok_or_else(|| {
                    format!(
                        "--map {}={col}: no such column (columns: {})",
                        f.name,
                        header.names.join(", ")
                    )
                })?;
                cols.push((i, c));
                taken[c] = true;
                continue;
            }
            if let Some(c) = f
                .columns
                .iter()
                .find_map(|alias| names.iter().position(|h| *h == norm(alias)))
            {
                cols.push((i, c));
                taken[c] = true;
            }
        }
        for (i, f) in table.fields.iter().enumerate() {
            if f.keywords.is_empty() || cols.iter().any(|(fi, _)| *fi == i) {
                continue;
            }
            if let Some(c) = names
                .iter()
                .enumerate()
                .position(|(c, h)| !taken[c] && f.keywords.iter().any(|k| h.contains(k)))
            {
                cols.push((i, c));
                taken[c] = true;
            }
        }
        let column = |field: RunF| cols.iter().find(|(f, _)| *f == field.i()).map(|p| p.1);
        let status_first = match (table.kind, column(RunF::Status), column(RunF::Internal)) {
            (InputKind::RunHistory, Some(status), None) => {
                let pairs = |keep: &dyn Fn(usize) -> bool| -> Vec<(usize, usize)> {
                    cols.iter().copied().filter(|&(f, _)| keep(f)).collect()
                };
                Some(StatusFirst {
                    column: status,
                    not_failed: pairs(&|f| RUN_NOT_FAILED_NEEDS.iter().any(|n| n.i() == f)),
                    failed: pairs(&|f| f != RunF::Status.i()),
                })
            }
            _ => None,
        };
        Ok(CsvPlan {
            delim: header.delim,
            width: header.names.len(),
            cols,
            status_first,
        })
    }

    /// A record's status, from its status cell (`cell(column)`), when the plan reads it
    /// first; and the pairs to read: those its run needs once the status is known (the
    /// status cell not again), else all.
    fn status_and_cols<'s>(
        &self,
        cell: impl FnOnce(usize) -> Option<Cow<'s, str>>,
    ) -> (Option<RunStatus>, &[(usize, usize)]) {
        let Some(first) = &self.status_first else {
            return (None, &self.cols);
        };
        let status = cell(first.column).and_then(|value| {
            let s = trim(&value);
            (!s.is_empty()).then(|| RunStatus::parse(s))
        });
        match status {
            Some(st) if st.is_failed() => (status, &first.failed),
            Some(_) => (status, &first.not_failed),
            None => (None, &self.cols),
        }
    }

    /// Whether a field has a column.
    pub(crate) fn has(&self, field: usize) -> bool {
        self.cols.iter().any(|(f, _)| *f == field)
    }
}

/// Decode the rows of one chunk.
///
/// Records are split with simd-csv, which finds the structural bytes many at a time. It
/// reads quotes by parity wherever they fall, while the csv crate opens a quoted field only
/// at a field's start: the two agree exactly as long as every quote is regular (a quoted
/// cell, quotes inside doubled). From the first record with a quote anywhere else, the rest
/// of the chunk is read by the csv crate, whose reading of malformed quoting flowdx keeps.
pub(crate) fn decode_chunk<F: FnMut(Item<'_>)>(
    plan: &CsvPlan,
    ctx: &Ctx,
    chunk: &Chunk,
    emit: &mut F,
) {
    for (pos, reason) in &chunk.notes {
        emit(ctx.malformed(pos.clone(), reason.clone()));
    }
    let data = &chunk.buf[chunk.start.min(chunk.buf.len())..];
    if data.is_empty() {
        return;
    }
    let mut rdr = simd_csv::ZeroCopyReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(plan.delim)
        .from_reader(data);
    // Newlines before `counted`, which is where the last record ended.
    let (mut counted, mut lines) = (0usize, 0u64);
    loop {
        let before = usize::try_from(rdr.position()).unwrap_or(usize::MAX);
        let rec = match rdr.read_byte_record() {
            Ok(Some(rec)) => rec,
            Ok(None) => break,
            Err(e) => {
                emit(ctx.malformed(
                    Position::Line(chunk.first_line + lines),
                    format!("unreadable CSV: {e}"),
                ));
                break;
            }
        };
        // A record starts past the line ends (and blank lines) before it, and past a byte
        // order mark at the start.
        let mut start = before.min(data.len());
        if start == 0 && data.starts_with(BOM) {
            start = BOM.len();
        }
        while start < data.len() && matches!(data[start], b'\r' | b'\n') {
            start += 1;
        }
        lines += memchr::memchr_iter(b'\n', &data[counted.min(start)..start]).count() as u64;
        let first_line = chunk.first_line + lines;
        let raw = rec.as_slice();
        let quoted = memchr::memchr(b'"', raw).is_some();
        // Only a quoted cell holds a line end.
        if quoted {
            lines += memchr::memchr_iter(b'\n', raw).count() as u64;
        }
        counted = start + raw.len();
        // By index: simd-csv's cell iterator costs 0.5% more of analyze's instructions.
        if quoted && !(0..rec.len()).all(|i| rec.get(i).is_some_and(well_quoted)) {
            decode_with_csv_crate(plan, ctx, &data[start..], first_line, emit);
            return;
        }
        let pos = Position::Line(first_line);
        let blank = || rec.unescape(0).is_some_and(|c| c.trim_ascii().is_empty());
        match shape(plan, ctx, rec.len(), blank, raw.len()) {
            Shape::Record => {}
            Shape::Blank => continue,
            Shape::Bad(reason) => {
                emit(ctx.malformed(pos, reason));
                continue;
            }
        }
        // One UTF-8 check for the whole record: its cells are slices of it (they start and
        // end at ASCII delimiters and quotes). Cells of a bad record are decoded lossily.
        let text = simdutf8::basic::from_utf8(raw).ok();
        let mut slots = Slots::new();
        let status = |c: usize| {
            let cell = rec.get(c)?;
            match text {
                Some(t) => cell_text(t, raw, cell).map(cell_value),
                None => rec
                    .unescape(c)
                    .map(|b| Cow::Owned(String::from_utf8_lossy(&b).into_owned())),
            }
        };
        let (status, cols) = plan.status_and_cols(status);
        slots.status = status;
        for &(f, c) in cols {
            let Some(cell) = rec.get(c) else { continue };
            let value = match text.and_then(|t| cell_text(t, raw, cell)) {
                Some(t) => cell_value(t),
                None => match rec.unescape(c) {
                    Some(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
                    None => continue,
                },
            };
            if !value.is_empty() {
                slots.set(f, Val::Str(value));
            }
        }
        emit(records::build(ctx, &mut slots, pos));
    }
}

/// UTF-8's byte order mark.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// Whether a raw cell is plain (no quote) or quoted the regular way: a quote at each end
/// and quotes inside only doubled.
fn well_quoted(cell: &[u8]) -> bool {
    match cell {
        [b'"', inner @ .., b'"'] => {
            let mut rest = inner;
            while let Some(i) = memchr::memchr(b'"', rest) {
                if rest.get(i + 1) != Some(&b'"') {
                    return false;
                }
                rest = &rest[i + 2..];
            }
            true
        }
        _ => memchr::memchr(b'"', cell).is_none(),
    }
}

/// A cell's text: a regularly quoted cell without its quotes and with doubled quotes made
/// single, a plain cell as it is.
fn cell_value(cell: &str) -> Cow<'_, str> {
    match cell.strip_prefix('"').and_then(|c| c.strip_suffix('"')) {
        Some(inner) => match memchr::memchr(b'"', inner.as_bytes()) {
            Some(first) => Cow::Owned(undouble(inner, first)),
            None => Cow::Borrowed(inner),
        },
        None => Cow::Borrowed(cell),
    }
}

/// `inner` with each pair of quotes made one; `first` is where its first quote is.
/// (`str::replace` searches for the two-byte pattern with a general substring searcher,
/// several times slower on the JSON bodies that fill error cells.)
fn undouble(inner: &str, first: usize) -> String {
    let b = inner.as_bytes();
    let mut out = String::with_capacity(inner.len());
    let mut from = 0;
    let mut at = Some(first);
    while let Some(q) = at {
        // Keep text up to and with this quote, and skip its double if it has one.
        out.push_str(&inner[from..=q]);
        from = q + 1 + usize::from(b.get(q + 1) == Some(&b'"'));
        at = memchr::memchr(b'"', &b[from..]).map(|i| from + i);
    }
    out.push_str(&inner[from..]);
    out
}

/// The text of `cell`, a slice of `raw`, in `text`, which is `raw` checked as UTF-8.
fn cell_text<'t>(text: &'t str, raw: &[u8], cell: &[u8]) -> Option<&'t str> {
    let at = (cell.as_ptr() as usize).checked_sub(raw.as_ptr() as usize)?;
    text.get(at..at + cell.len())
}

/// What a record of `fields` cells and `size` bytes is before its cells are read.
enum Shape {
    Record,
    /// A line of blanks, which is no record.
    Blank,
    /// Malformed, for this reason.
    Bad(String),
}

/// The [`Shape`] of a record; `blank` says whether its one cell is blank.
fn shape(
    plan: &CsvPlan,
    ctx: &Ctx,
    fields: usize,
    blank: impl FnOnce() -> bool,
    size: usize,
) -> Shape {
    if fields != plan.width {
        if fields == 1 && blank() {
            return Shape::Blank;
        }
        return Shape::Bad(format!("expected {} fields, found {fields}", plan.width));
    }
    if size > ctx.max_record {
        let limit = super::chunk::mib(ctx.max_record);
        return Shape::Bad(format!("record is larger than the {limit} limit; skipped"));
    }
    Shape::Record
}

/// Decode records with the csv crate, the first starting on line `first_line`.
fn decode_with_csv_crate<F: FnMut(Item<'_>)>(
    plan: &CsvPlan,
    ctx: &Ctx,
    data: &[u8],
    first_line: u64,
    emit: &mut F,
) {
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(plan.delim)
        .from_reader(data);
    let mut rec = ::csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                // The csv crate's line lags behind after a CRLF or blank lines: it counts
                // the `\n`s before a record only once it has read past them.
                let (mut line, mut at) = rec
                    .position()
                    .map_or((1, data.len()), |p| (p.line(), p.byte() as usize));
                while at < data.len() && matches!(data[at], b'\r' | b'\n') {
                    line += u64::from(data[at] == b'\n');
                    at += 1;
                }
                let pos = Position::Line(first_line + line - 1);
                let blank = || rec[0].trim_ascii().is_empty();
                match shape(plan, ctx, rec.len(), blank, rec.as_slice().len()) {
                    Shape::Record => {}
                    Shape::Blank => continue,
                    Shape::Bad(reason) => {
                        emit(ctx.malformed(pos, reason));
                        continue;
                    }
                }
                let mut slots = Slots::new();
                let status = |c: usize| rec.get(c).map(String::from_utf8_lossy);
                let (status, cols) = plan.status_and_cols(status);
                slots.status = status;
                for &(f, c) in cols {
                    let cell = &rec[c];
                    if !cell.is_empty() {
                        slots.set(f, Val::Str(String::from_utf8_lossy(cell)));
                    }
                }
                emit(records::build(ctx, &mut slots, pos));
            }
            Err(e) => {
                emit(ctx.malformed(Position::Line(first_line), format!("unreadable CSV: {e}")));
                break;
            }
        }
    }
}

/// Text of a cell for sniffing.
pub(crate) fn cell(rec: &::csv::ByteRecord, i: usize) -> Cow<'_, str> {
    String::from_utf8_lossy(rec.get(i).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::InputKind;
    use proptest::prelude::*;

    /// What a chunk of `text` (a header and records) decodes to, as debug lines: with the
    /// simd-csv split, and with the csv crate reading the whole chunk.
    fn decode_both(text: &str) -> (Vec<String>, Vec<String>) {
        let (header, buf) = read_header(&mut text.as_bytes(), 1 << 20).unwrap();
        let map = super::super::sniff::resolve_map(InputKind::RunHistory, &[]).unwrap();
        let table = super::super::mapping::table(InputKind::RunHistory);
        let plan = CsvPlan::new(&header, table, &map).unwrap();
        let ctx = Ctx {
            file: "t.csv".into(),
            kind: InputKind::RunHistory,
            date_order: Default::default(),
            flow_id: None,
            flow_name: None,
            max_record: 1 << 20,
        };
        let first_line = 1 + memchr::memchr_iter(b'\n', &buf[..header.consumed]).count() as u64;
        let chunk = Chunk {
            buf: buf.clone(),
            start: header.consumed,
            first_line,
            ..Default::default()
        };
        let (mut fast, mut whole) = (Vec::new(), Vec::new());
        decode_chunk(&plan, &ctx, &chunk, &mut |it| fast.push(format!("{it:?}")));
        let data = &buf[header.consumed..];
        decode_with_csv_crate(&plan, &ctx, data, first_line, &mut |it| {
            whole.push(format!("{it:?}"))
        });
        (fast, whole)
    }

    #[test]
    fn irregular_quoting_is_read_by_the_csv_crate() {
        for text in [
            "run_id,status,error_message\nab\"c,Failed,d\ne,Failed,f\n",
            "run_id,status,error_message\nx,Failed,\"a\"b\"c,d\ne,Failed,f\n",
            "run_id,status,error_message\r\nx,Failed,\"a\r\nb\"\r\n\r\n\nz,Failed,w\r\n",
            "run_id,status,error_message\nx,Failed,\"open\ny,Failed,z\n",
            "run_id,status,error_message\n\"\",Failed,\"\"\"\"\n  \nq,Failed,\"\"\n",
            "\u{feff}run_id,status,error_message\nx,Failed,caf\u{e9}\n\"y\",Succeeded,\"\"\"q\"\"\"\n",
            // An empty quoted cell alone on a line is a blank line.
            "run_id,status,error_message\nr0,Failed,\n\"\"\n",
            // After a stray quote the two readers disagree on where quotes open: the csv
            // crate's reading must go on to the end.
            "run_id,status,error_message\nr0,Failed,a\"\nr1,Failed,\"\n\"\nr2\n",
            // Regular records (one quoted over two lines, a blank line) before the first
            // irregular quote: lines carry on across the switch of readers.
            "run_id,status,error_message\nr0,Failed,\"a\nb\"\n\nr1,Failed,x\nr2,Failed,a\"b\nr3,Failed,z\n",
        ] {
            let (fast, whole) = decode_both(text);
            assert!(!fast.is_empty(), "{text:?}");
            assert_eq!(fast, whole, "{text:?}");
        }
    }

    /// Once a run's status is read, the cells read next are those its run needs, and never
    /// the status cell again: a failed run's are every other column, a run that did not
    /// fail's only what counts it.
    #[test]
    fn the_status_cell_is_read_once() {
        let head = "run_id,flow_id,owner,status,start_time,error_message\n";
        let (header, _) = read_header(&mut head.as_bytes(), 1 << 20).unwrap();
        let table = super::super::mapping::table(InputKind::RunHistory);
        let plan = CsvPlan::new(&header, table, &[]).unwrap();
        let status = plan.cols.iter().find(|p| p.0 == RunF::Status.i()).copied();
        let read = |cell: &'static str| plan.status_and_cols(|_| Some(Cow::Borrowed(cell)));
        let (st, failed) = read("Failed");
        assert_eq!(st, Some(RunStatus::Failed));
        let want: Vec<_> = plan
            .cols
            .iter()
            .copied()
            .filter(|p| Some(*p) != status)
            .collect();
        assert_eq!(failed, want.as_slice());
        let (st, ok) = read("Succeeded");
        assert_eq!(st, Some(RunStatus::Succeeded));
        assert!(
            ok.iter()
                .all(|p| RUN_NOT_FAILED_NEEDS.iter().any(|n| n.i() == p.0))
        );
        assert!(ok.len() < failed.len());
        // Without a status the record is read whole, as the builder decides what it is.
        let (st, all) = read(" ");
        assert_eq!((st, all), (None, plan.cols.as_slice()));
    }

    /// A run that did not fail is read for its flow, owner, connection and time only; a
    /// failed run for everything. Both readers agree.
    #[test]
    fn runs_that_did_not_fail_are_read_for_what_counts_them() {
        let head =
            "run_id,flow_id,environment,owner,connection,trigger,status,start_time,error_message\n";
        for quote in [false, true] {
            let rows = [
                "r1,f1,env1,ann,c1,manual,Succeeded,2024-05-02T06:01:13Z,",
                "r2,f1,env1,ann,c1,manual, failed ,2024-05-02T07:01:13Z,AADSTS50076: x",
                "r3,f2,env2,bob,c2,Recurrence,Cancelled,2024-05-02T08:01:13Z,stopped",
            ];
            let mut text = head.to_string();
            for r in rows {
                let line = if quote {
                    r.split(',')
                        .map(|c| format!("\"{c}\""))
                        .collect::<Vec<_>>()
                        .join(",")
                } else {
                    r.to_string()
                };
                text.push_str(&line);
                text.push('\n');
            }
            let (fast, whole) = decode_both(&text);
            assert_eq!(fast, whole);
            assert_eq!(fast.len(), 3);
            let has = |i: usize, what: &str| fast[i].contains(what);
            for (i, kept) in [(0, false), (1, true), (2, false)] {
                assert_eq!(has(i, "run_id: Some"), kept, "{}", fast[i]);
                assert_eq!(has(i, "environment: Some"), kept, "{}", fast[i]);
                assert_eq!(has(i, "trigger: Some"), kept, "{}", fast[i]);
                assert!(has(i, "flow_id: Some"), "{}", fast[i]);
                assert!(has(i, "owner: Some"), "{}", fast[i]);
                assert!(has(i, "connection: Some"), "{}", fast[i]);
                assert!(has(i, "time: Some"), "{}", fast[i]);
            }
            assert!(has(1, "AADSTS50076"));
            assert!(!has(2, "stopped"));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Collapsing doubled quotes by hand gives what `str::replace` gives, on any text
        /// with a quote (the only texts `cell_value` hands it).
        #[test]
        fn undouble_is_replace(head in "[a\u{e9}]{0,4}", tail in "[\"a\u{e9}]{0,12}") {
            let inner = format!("{head}\"{tail}");
            prop_assert_eq!(undouble(&inner, head.len()), inner.replace("\"\"", "\""));
        }

        /// Cells with quotes anywhere, quoted the regular way or written as they are:
        /// records, fields, lines and malformed records are the csv crate's.
        #[test]
        fn records_are_the_csv_crates(
            rows in proptest::collection::vec((super::super::tests::prop::cell(), any::<bool>(), 1usize..4), 1..20),
            crlf in any::<bool>(),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut text = format!("run_id,status,error_message{eol}");
            for (i, (c, quoted, width)) in rows.iter().enumerate() {
                let c = if *quoted {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.clone()
                };
                let cells = [format!("r{i}"), "Failed".to_string(), c];
                text.push_str(&cells[..*width.min(&3)].join(","));
                text.push_str(eol);
            }
            let (fast, whole) = decode_both(&text);
            prop_assert_eq!(fast, whole);
        }
    }
}
