//! CSV: header, delimiter, column plan and the parallel chunk decoder.
//!
//! The header is the file's first record (after an Excel `sep=;` line, if any); the
//! delimiter (`,` `;` or tab) is the one the header line uses most, outside quotes. Header
//! names are resolved to fields once ([`CsvPlan`]) and the plan is shared by every worker.
//! Workers parse their chunk with one reused `csv::ByteRecord` and borrow cells straight
//! from it. A row whose field count differs from the header's is malformed
//! ("expected N fields, found M"); cells that are not UTF-8 are decoded lossily.

use super::chunk::Chunk;
use super::mapping::{KindTable, norm};
use super::records::{self, Ctx, Slots, Val};
use crate::model::{Item, Position};
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

/// End of the first record (just past its newline) in `buf`, outside quotes.
fn first_record_end(buf: &[u8]) -> Option<usize> {
    let mut q = false;
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'"' => q = !q,
            b'\n' if !q => return Some(i + 1),
            _ => {}
        }
    }
    None
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
    let end = match first_record_end(rest) {
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
}

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
        Ok(CsvPlan {
            delim: header.delim,
            width: header.names.len(),
            cols,
        })
    }

    /// Whether a field has a column.
    pub(crate) fn has(&self, field: usize) -> bool {
        self.cols.iter().any(|(f, _)| *f == field)
    }
}

/// Decode the rows of one chunk.
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
                let pos = Position::Line(chunk.first_line + line - 1);
                if rec.len() != plan.width {
                    if rec.len() == 1 && rec[0].trim_ascii().is_empty() {
                        continue; // a line of blanks
                    }
                    emit(ctx.malformed(
                        pos,
                        format!("expected {} fields, found {}", plan.width, rec.len()),
                    ));
                    continue;
                }
                if rec.as_slice().len() > ctx.max_record {
                    let limit = super::chunk::mib(ctx.max_record);
                    emit(ctx.malformed(
                        pos,
                        format!("record is larger than the {limit} limit; skipped"),
                    ));
                    continue;
                }
                // One UTF-8 check for the whole record; cells of a bad one are decoded
                // lossily, one by one.
                rec = match ::csv::StringRecord::from_byte_record(std::mem::take(&mut rec)) {
                    Ok(text) => {
                        let mut slots = Slots::new();
                        for &(f, c) in &plan.cols {
                            let cell = &text[c];
                            if !cell.is_empty() {
                                slots.set(f, Val::Str(Cow::Borrowed(cell)));
                            }
                        }
                        emit(records::build(ctx, slots, pos));
                        text.into_byte_record()
                    }
                    Err(e) => {
                        let bytes = e.into_byte_record();
                        let mut slots = Slots::new();
                        for &(f, c) in &plan.cols {
                            let cell = &bytes[c];
                            if !cell.is_empty() {
                                slots.set(f, Val::Str(String::from_utf8_lossy(cell)));
                            }
                        }
                        emit(records::build(ctx, slots, pos));
                        bytes
                    }
                };
            }
            Err(e) => {
                emit(ctx.malformed(
                    Position::Line(chunk.first_line),
                    format!("unreadable CSV: {e}"),
                ));
                break;
            }
        }
    }
}

/// Text of a cell for sniffing.
pub(crate) fn cell(rec: &::csv::ByteRecord, i: usize) -> Cow<'_, str> {
    String::from_utf8_lossy(rec.get(i).unwrap_or_default())
}
