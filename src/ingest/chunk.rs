//! The parallel pipeline: one reader thread cuts the stream into chunks of whole records,
//! workers decode whole chunks and fold them into their own accumulators.
//!
//! Cutting is format-aware ([`Cutter`]): JSON Lines cut at a newline, CSV at a newline
//! outside quotes (the quote parity is tracked across reads), a JSON array or API page at
//! the end of an element (see [`JsonCutter`]: a byte-level scanner that follows strings,
//! escapes and depth and records each element's span). The reader also numbers lines and
//! records, so workers can give positions without seeing earlier chunks, and it turns what
//! it cannot cut (a record over the size limit, a file that ends inside a record, a read
//! error such as a truncated gzip stream) into notes that become `Malformed` items.
//!
//! Memory stays bounded: the chunk channel holds two chunks, each worker one, and the
//! reader one; emptied buffers are recycled.

use crate::model::Position;
use memchr::{memchr, memchr_iter, memchr2, memrchr, memrchr2};
use std::io::{self, Read};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

/// A run of whole records.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    pub buf: Vec<u8>,
    /// Bytes before this belong to a record that was dropped (too large).
    pub start: usize,
    /// 1-based line number of `buf[start]` (CSV, JSON Lines, text).
    pub first_line: u64,
    /// JSON: `(start, end, record number)` of each element, relative to `buf`.
    pub spans: Vec<(usize, usize, u64)>,
    /// Problems the reader found, as `Malformed` items to be.
    pub notes: Vec<(Position, String)>,
    /// Bytes of the stream were dropped without passing through any chunk (a record over
    /// the size limit): a command that writes the input back out cannot do so faithfully.
    pub lost: bool,
}

/// Finds record boundaries in a growing buffer.
pub(crate) trait Cutter: Send {
    /// Look at `buf` (its unseen part); return `(skip, cut)`: `buf[..skip]` ends a record
    /// being dropped, `buf[skip..cut]` holds only whole records. At `eof` the end of `buf`
    /// ends a record, if the format allows it.
    fn boundary(&mut self, buf: &[u8], eof: bool) -> (usize, usize);
    /// `buf[..cut]` left the buffer; move finished spans into `spans` and rebase.
    fn consumed(&mut self, cut: usize, spans: &mut Vec<(usize, usize, u64)>);
    /// The buffer reached the size limit without a boundary: it is all dropped. Returns
    /// where in it the dropped record started, unless a drop is already under way.
    fn drop_all(&mut self, len: usize) -> Option<usize>;
    /// At the end of input, `rest` is not whole records: where and why, if it matters.
    fn leftover(&mut self, rest: &[u8]) -> Option<Leftover>;
    /// Whether positions are lines (else byte offsets).
    fn by_line(&self) -> bool;
}

/// What is left at the end of input that is not a whole record.
pub(crate) struct Leftover {
    /// Where the broken record starts in the rest.
    pub at: usize,
    pub reason: String,
    /// Where reading can go on after the broken record, if anything follows it.
    pub resume: Option<usize>,
}

/// Cuts at newlines; with `quotes`, only at newlines outside CSV quotes.
pub(crate) struct LineCutter {
    quotes: bool,
    scanned: usize,
    in_quotes: bool,
    first: Option<usize>,
    last: usize,
    skipping: bool,
}

impl LineCutter {
    pub(crate) fn new(quotes: bool) -> Self {
        LineCutter {
            quotes,
            scanned: 0,
            in_quotes: false,
            first: None,
            last: 0,
            skipping: false,
        }
    }

    /// `Cutter::boundary` once `buf`'s new bytes are scanned: `in_quotes` and `last` brought
    /// up to date, and `first` too while skipping (only then is it read).
    fn cut(&mut self, buf: &[u8], eof: bool) -> (usize, usize) {
        self.scanned = buf.len();
        let skip = if self.skipping {
            match self.first {
                Some(f) => f,
                None if eof => buf.len(),
                None => return (0, 0),
            }
        } else {
            0
        };
        // A quote still open at the end: the records before it are whole; the one that
        // opened it is left over (see `leftover`).
        let cut = if eof && !self.in_quotes {
            buf.len()
        } else {
            self.last.max(skip)
        };
        (skip, cut)
    }
}

impl Cutter for LineCutter {
    fn boundary(&mut self, buf: &[u8], eof: bool) -> (usize, usize) {
        let from = self.scanned;
        if self.quotes {
            // Whether a line end is inside quotes depends on the parity of the quotes
            // before it. Counting the new bytes' quotes (many bytes at a time) gives the
            // state at the end; the last line end outside quotes is then found walking back
            // from the end, usually over one record. Only a reader skipping a broken record
            // needs the first one, found walking forward.
            let before = self.in_quotes;
            self.in_quotes ^= memchr_iter(b'"', &buf[from..]).count() % 2 == 1;
            if self.skipping && self.first.is_none() {
                self.first = first_outside_quotes(buf, from, before);
            }
            let (mut end, mut quoted) = (buf.len(), self.in_quotes);
            while let Some(k) = memrchr2(b'"', b'\n', &buf[from..end]) {
                let at = from + k;
                if buf[at] == b'"' {
                    quoted = !quoted;
                } else if !quoted {
                    self.last = at + 1;
                    break;
                }
                end = at;
            }
        } else {
            if self.first.is_none()
                && let Some(k) = memchr(b'\n', &buf[from..])
            {
                self.first = Some(from + k + 1);
            }
            if let Some(k) = memrchr(b'\n', &buf[from..]) {
                self.last = from + k + 1;
            }
        }
        self.cut(buf, eof)
    }

    fn consumed(&mut self, cut: usize, _spans: &mut Vec<(usize, usize, u64)>) {
        self.skipping = false;
        self.scanned -= cut;
        self.first = None;
        self.last = 0;
    }

    fn drop_all(&mut self, _len: usize) -> Option<usize> {
        self.scanned = 0;
        self.first = None;
        self.last = 0;
        let fresh = !self.skipping;
        self.skipping = true;
        fresh.then_some(0)
    }

    fn leftover(&mut self, rest: &[u8]) -> Option<Leftover> {
        if !self.in_quotes || self.skipping {
            return None;
        }
        // A quote is never closed, so the rest of the file would be one record. `rest`
        // starts at that record, whose first line ends inside quotes: it holds an odd
        // number of them. Dropping that line leaves the quotes after it balanced; reading
        // starts again there.
        let end = memchr(b'\n', rest).map(|k| k + 1);
        *self = LineCutter::new(self.quotes);
        Some(Leftover {
            at: 0,
            reason: "a quoted field opened on this line is never closed; the line is skipped \
                     and the lines after it are read as records"
                .to_string(),
            resume: end.filter(|&e| e < rest.len()),
        })
    }

    fn by_line(&self) -> bool {
        true
    }
}

/// Just past the first line end outside quotes in `buf[from..]`, `quoted` saying whether
/// `from` is inside quotes (the end of a CSV header, too).
pub(crate) fn first_outside_quotes(buf: &[u8], from: usize, mut quoted: bool) -> Option<usize> {
    let mut i = from;
    while let Some(k) = memchr2(b'"', b'\n', &buf[i..]) {
        let at = i + k;
        if buf[at] == b'"' {
            quoted = !quoted;
        } else if !quoted {
            return Some(at + 1);
        }
        i = at + 1;
    }
    None
}

/// Scans one JSON value that may span reads.
#[derive(Clone, Copy, Debug, Default)]
struct ValScan {
    depth: u32,
    in_str: bool,
    esc: bool,
    scalar: bool,
}

impl ValScan {
    /// Start at the value's first byte `c` (the caller steps past it).
    fn start(c: u8) -> ValScan {
        match c {
            b'{' | b'[' => ValScan {
                depth: 1,
                ..Default::default()
            },
            b'"' => ValScan {
                in_str: true,
                ..Default::default()
            },
            _ => ValScan {
                scalar: true,
                ..Default::default()
            },
        }
    }

    /// Advance `pos`; true when the value ended (`pos` is just past it).
    #[inline]
    fn advance(&mut self, buf: &[u8], pos: &mut usize) -> bool {
        let n = buf.len();
        while *pos < n {
            if self.esc {
                self.esc = false;
                *pos += 1;
                continue;
            }
            if self.in_str {
                match memchr2(b'"', b'\\', &buf[*pos..]) {
                    None => {
                        *pos = n;
                        return false;
                    }
                    Some(k) => {
                        let at = *pos + k;
                        *pos = at + 1;
                        if buf[at] == b'\\' {
                            self.esc = true;
                        } else {
                            self.in_str = false;
                            if self.depth == 0 {
                                return true;
                            }
                        }
                    }
                }
                continue;
            }
            let c = buf[*pos];
            if self.scalar {
                if matches!(c, b',' | b']' | b'}') || c.is_ascii_whitespace() {
                    return true;
                }
                *pos += 1;
                continue;
            }
            *pos += 1;
            match c {
                b'"' => self.in_str = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return true;
                    }
                }
                _ => {}
            }
        }
        false
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Expecting a top-level value.
    Top,
    /// In the records array: expecting an element, `,` or `]`.
    Array {
        in_obj: bool,
    },
    /// Inside an element.
    Elem {
        in_obj: bool,
    },
    /// Top-level object: expecting a key, `,` or `}`.
    ObjKey,
    ObjKeyStr,
    ObjColon,
    ObjValue,
    /// Skipping a member other than `value`.
    ObjSkip,
    /// Text that is not JSON after the document.
    Junk,
}

/// Splits a JSON array, or the `value` array of a top-level object (an API page, whose
/// `nextLink` and `@odata.*` members are skipped), into elements. A top-level object
/// without a `value` array is one record. Documents may follow each other.
pub(crate) struct JsonCutter {
    phase: Phase,
    scan: ValScan,
    pos: usize,
    elem_start: usize,
    obj_start: usize,
    key_start: usize,
    key_is_value: bool,
    found_value: bool,
    dropping: bool,
    records: u64,
    junk_at: usize,
    spans: Vec<(usize, usize, u64)>,
}

impl JsonCutter {
    pub(crate) fn new() -> Self {
        JsonCutter {
            phase: Phase::Top,
            scan: ValScan::default(),
            pos: 0,
            elem_start: 0,
            obj_start: 0,
            key_start: 0,
            key_is_value: false,
            found_value: false,
            dropping: false,
            records: 0,
            junk_at: 0,
            spans: Vec::new(),
        }
    }

    fn finish_record(&mut self, start: usize, end: usize) {
        self.records += 1;
        if self.dropping {
            self.dropping = false;
        } else {
            self.spans.push((start, end, self.records));
        }
    }

    fn scan(&mut self, buf: &[u8]) {
        let n = buf.len();
        let skip_ws = |pos: &mut usize, commas: bool| {
            while *pos < n && (buf[*pos].is_ascii_whitespace() || (commas && buf[*pos] == b',')) {
                *pos += 1;
            }
        };
        loop {
            match self.phase {
                Phase::Top => {
                    skip_ws(&mut self.pos, false);
                    if self.pos >= n {
                        return;
                    }
                    match buf[self.pos] {
                        b'[' => self.phase = Phase::Array { in_obj: false },
                        b'{' => {
                            self.obj_start = self.pos;
                            self.found_value = false;
                            self.phase = Phase::ObjKey;
                        }
                        _ => {
                            self.junk_at = self.pos;
                            self.phase = Phase::Junk;
                            continue;
                        }
                    }
                    self.pos += 1;
                }
                Phase::Array { in_obj } => {
                    skip_ws(&mut self.pos, true);
                    if self.pos >= n {
                        return;
                    }
                    let c = buf[self.pos];
                    self.pos += 1;
                    if c == b']' {
                        self.phase = if in_obj { Phase::ObjKey } else { Phase::Top };
                    } else {
                        self.elem_start = self.pos - 1;
                        self.scan = ValScan::start(c);
                        self.phase = Phase::Elem { in_obj };
                    }
                }
                Phase::Elem { in_obj } => {
                    if !self.scan.advance(buf, &mut self.pos) {
                        return;
                    }
                    self.finish_record(self.elem_start, self.pos);
                    self.phase = Phase::Array { in_obj };
                }
                Phase::ObjKey => {
                    skip_ws(&mut self.pos, true);
                    if self.pos >= n {
                        return;
                    }
                    match buf[self.pos] {
                        b'}' => {
                            self.pos += 1;
                            if !self.found_value {
                                self.finish_record(self.obj_start, self.pos);
                            }
                            self.phase = Phase::Top;
                        }
                        b'"' => {
                            self.pos += 1;
                            self.key_start = self.pos;
                            self.scan = ValScan::start(b'"');
                            self.phase = Phase::ObjKeyStr;
                        }
                        _ => {
                            self.junk_at = self.pos;
                            self.phase = Phase::Junk;
                        }
                    }
                }
                Phase::ObjKeyStr => {
                    if !self.scan.advance(buf, &mut self.pos) {
                        return;
                    }
                    self.key_is_value =
                        buf[self.key_start..self.pos - 1].eq_ignore_ascii_case(b"value");
                    self.phase = Phase::ObjColon;
                }
                Phase::ObjColon => {
                    skip_ws(&mut self.pos, false);
                    if self.pos >= n {
                        return;
                    }
                    if buf[self.pos] == b':' {
                        self.pos += 1;
                        self.phase = Phase::ObjValue;
                    } else {
                        self.junk_at = self.pos;
                        self.phase = Phase::Junk;
                    }
                }
                Phase::ObjValue => {
                    skip_ws(&mut self.pos, false);
                    if self.pos >= n {
                        return;
                    }
                    let c = buf[self.pos];
                    self.pos += 1;
                    if self.key_is_value && !self.found_value && c == b'[' {
                        self.found_value = true;
                        self.dropping = false;
                        self.phase = Phase::Array { in_obj: true };
                    } else {
                        self.scan = ValScan::start(c);
                        self.phase = Phase::ObjSkip;
                    }
                }
                Phase::ObjSkip => {
                    if !self.scan.advance(buf, &mut self.pos) {
                        return;
                    }
                    self.phase = Phase::ObjKey;
                }
                Phase::Junk => {
                    self.pos = n;
                    return;
                }
            }
        }
    }

    fn cut_point(&self) -> usize {
        match self.phase {
            Phase::Top | Phase::Array { .. } | Phase::Junk => self.pos,
            Phase::Elem { .. } => self.elem_start,
            Phase::ObjKeyStr if self.found_value => self.key_start - 1,
            _ if self.found_value => self.pos,
            _ => self.obj_start,
        }
    }
}

impl Cutter for JsonCutter {
    fn boundary(&mut self, buf: &[u8], eof: bool) -> (usize, usize) {
        self.scan(buf);
        if eof
            && let Phase::Elem { .. } = self.phase
            && self.scan.scalar
        {
            // A scalar element that ends the input.
            self.finish_record(self.elem_start, buf.len());
            self.phase = Phase::Top;
        }
        (0, self.cut_point())
    }

    fn consumed(&mut self, cut: usize, spans: &mut Vec<(usize, usize, u64)>) {
        spans.append(&mut self.spans);
        self.pos -= cut;
        self.elem_start = self.elem_start.saturating_sub(cut);
        self.obj_start = self.obj_start.saturating_sub(cut);
        self.key_start = self.key_start.saturating_sub(cut);
        self.junk_at = self.junk_at.saturating_sub(cut);
    }

    fn drop_all(&mut self, _len: usize) -> Option<usize> {
        let start = match self.phase {
            Phase::Elem { .. } => self.elem_start,
            _ => self.obj_start,
        };
        self.pos = 0;
        self.elem_start = 0;
        self.obj_start = 0;
        self.key_start = 0;
        let fresh = !self.dropping;
        self.dropping = true;
        fresh.then_some(start)
    }

    fn leftover(&mut self, _rest: &[u8]) -> Option<Leftover> {
        const CUT: &str = "file ends inside a record (truncated download?)";
        let (at, reason) = match self.phase {
            Phase::Elem { .. } if !self.dropping => (self.elem_start, CUT),
            Phase::ObjKey
            | Phase::ObjKeyStr
            | Phase::ObjColon
            | Phase::ObjValue
            | Phase::ObjSkip
                if !self.found_value && !self.dropping =>
            {
                (self.obj_start, CUT)
            }
            Phase::Junk => (
                self.junk_at,
                "unexpected text where a JSON value should start",
            ),
            _ => return None,
        };
        Some(Leftover {
            at,
            reason: reason.to_string(),
            resume: None,
        })
    }

    fn by_line(&self) -> bool {
        false
    }
}

/// Where the reader starts: bytes already read (e.g. after a CSV header) and the line and
/// offset of their first byte.
pub(crate) struct Start {
    pub buf: Vec<u8>,
    pub line: u64,
    pub offset: u64,
}

impl Start {
    /// The start of a stream: nothing read yet, line 1.
    pub fn beginning() -> Start {
        Start {
            buf: Vec::new(),
            line: 1,
            offset: 0,
        }
    }
}

/// Sizes for the reader.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub chunk_size: usize,
    pub max_record: usize,
}

/// `64 MiB`, or bytes when not a whole number of MiB.
pub(crate) fn mib(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// The reader loop: cut `r` into chunks and send them.
pub(crate) fn read_chunks(
    mut r: Box<dyn Read + Send>,
    start: Start,
    mut cutter: Box<dyn Cutter>,
    limits: Limits,
    tx: SyncSender<Chunk>,
    recycle: Receiver<Vec<u8>>,
) {
    let Start {
        mut buf,
        mut line,
        mut offset,
    } = start;
    let by_line = cutter.by_line();
    let mut want = limits.chunk_size;
    let fresh_buf = |len: usize| -> Vec<u8> {
        let mut b = recycle.try_recv().unwrap_or_default();
        b.clear();
        b.reserve(len);
        b
    };
    loop {
        // Fill up to `want` bytes.
        let mut eof = false;
        let mut error: Option<io::Error> = None;
        if buf.len() < want {
            // `read_to_end` through `take` reads into the buffer's spare capacity without
            // zeroing it first when the source can (a file can), retries on interrupts,
            // and on an error keeps the bytes read before it.
            let room = want - buf.len();
            buf.reserve(room);
            match (&mut r).take(room as u64).read_to_end(&mut buf) {
                Ok(k) => eof = k < room,
                Err(e) => {
                    eof = true;
                    error = Some(e);
                }
            }
        }
        let (skip, cut) = cutter.boundary(&buf, eof && error.is_none());
        if cut > 0 {
            let mut chunk = Chunk {
                start: skip,
                ..Default::default()
            };
            if by_line {
                line += memchr_iter(b'\n', &buf[..skip]).count() as u64;
                chunk.first_line = line;
                line += memchr_iter(b'\n', &buf[skip..cut]).count() as u64;
            }
            offset += cut as u64;
            cutter.consumed(cut, &mut chunk.spans);
            let mut tail = fresh_buf(limits.chunk_size.max(buf.len() - cut) + 1024);
            tail.extend_from_slice(&buf[cut..]);
            buf.truncate(cut);
            chunk.buf = std::mem::replace(&mut buf, tail);
            if tx.send(chunk).is_err() {
                return;
            }
            want = limits.chunk_size;
            if !eof {
                continue;
            }
        }
        if eof {
            let mut notes = Vec::new();
            if let Some(e) = &error {
                let at = if by_line {
                    Position::Line(line)
                } else {
                    Position::Byte(offset)
                };
                let what = if buf.is_empty() {
                    "the stream ends early"
                } else {
                    "file ends inside a record (truncated download?)"
                };
                notes.push((at, format!("{what}: {e}; the records before were kept")));
            } else if !buf.is_empty()
                && let Some(left) = cutter.leftover(&buf)
            {
                let before = &buf[..left.at.min(buf.len())];
                let at = if by_line {
                    Position::Line(line + memchr_iter(b'\n', before).count() as u64)
                } else {
                    Position::Byte(offset + left.at as u64)
                };
                notes.push((at, left.reason));
                if let Some(resume) = left.resume {
                    // Go on with what follows the broken record. Its bytes travel with the
                    // note, before `start`, so decoders skip them and `tag` passes them on.
                    let resume = resume.min(buf.len());
                    let _ = tx.send(Chunk {
                        notes,
                        buf: buf[..resume].to_vec(),
                        start: resume,
                        ..Default::default()
                    });
                    if by_line {
                        line += memchr_iter(b'\n', &buf[..resume]).count() as u64;
                    }
                    offset += resume as u64;
                    buf.drain(..resume);
                    want = limits.chunk_size;
                    continue;
                }
            }
            if !notes.is_empty() {
                // The broken rest travels with the note, skipped by decoders (see above).
                let start = buf.len();
                let _ = tx.send(Chunk {
                    notes,
                    buf,
                    start,
                    ..Default::default()
                });
            }
            return;
        }
        if buf.len() >= limits.max_record {
            let len = buf.len();
            if let Some(rel) = cutter.drop_all(len) {
                let at = if by_line {
                    Position::Line(line)
                } else {
                    Position::Byte(offset + rel as u64)
                };
                let note = format!(
                    "record is larger than the {} limit; skipped",
                    mib(limits.max_record)
                );
                if tx
                    .send(Chunk {
                        notes: vec![(at, note)],
                        lost: true,
                        ..Default::default()
                    })
                    .is_err()
                {
                    return;
                }
            }
            if by_line {
                line += memchr_iter(b'\n', &buf).count() as u64;
            }
            offset += len as u64;
            buf.clear();
            want = limits.chunk_size;
        } else {
            want = buf.len() + limits.chunk_size;
        }
    }
}

/// Run the reader on its own thread and `workers` workers (rayon tasks, the calling thread
/// being one of them); each worker folds chunks into its own accumulator.
/// Cut `reader` into chunks with `cutter` on one reader thread and fold every chunk with
/// `work` on the workers: the pipeline every chunked decoder shares.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fold_stream<A, I, W>(
    reader: Box<dyn Read + Send>,
    start: Start,
    cutter: Box<dyn Cutter>,
    limits: Limits,
    workers: usize,
    init: &I,
    work: &W,
) -> Vec<A>
where
    A: Send,
    I: Fn() -> A + Sync,
    W: Fn(&mut A, &Chunk) + Sync,
{
    run(
        move |tx, recycle| read_chunks(reader, start, cutter, limits, tx, recycle),
        workers,
        init,
        work,
    )
}

pub(crate) fn run<A, I, W, R>(reader: R, workers: usize, init: &I, work: &W) -> Vec<A>
where
    A: Send,
    I: Fn() -> A + Sync,
    W: Fn(&mut A, &Chunk) + Sync,
    R: FnOnce(SyncSender<Chunk>, Receiver<Vec<u8>>) + Send,
{
    let (tx, rx) = sync_channel::<Chunk>(2);
    let (recycle_tx, recycle_rx) = channel::<Vec<u8>>();
    let rx = Mutex::new(Some(rx));
    let results = Mutex::new(Vec::new());

    let worker = |recycle: Sender<Vec<u8>>, always: bool| {
        let mut acc: Option<A> = always.then(init);
        loop {
            let next = {
                let guard = rx.lock().unwrap_or_else(|e| e.into_inner());
                match guard.as_ref() {
                    Some(r) => r.recv().ok(),
                    None => None,
                }
            };
            let Some(chunk) = next else { break };
            let acc = acc.get_or_insert_with(init);
            work(acc, &chunk);
            let _ = recycle.send(chunk.buf);
        }
        if let Some(acc) = acc {
            results.lock().unwrap_or_else(|e| e.into_inner()).push(acc);
        }
    };

    std::thread::scope(|ts| {
        let handle = ts.spawn(move || reader(tx, recycle_rx));
        {
            let _closer = Closer(&rx);
            rayon::scope(|s| {
                for _ in 1..workers.max(1) {
                    let recycle = recycle_tx.clone();
                    let worker = &worker;
                    s.spawn(move |_| worker(recycle, false));
                }
                worker(recycle_tx.clone(), true);
            });
        }
        let _ = handle.join();
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Cut `reader` into chunks like [`fold_stream`], map every chunk to an output on the
/// workers, and hand the outputs to `sink` on the calling thread in the order of the
/// chunks: for commands that write the input back out (`tag`). Memory stays bounded: a
/// worker takes a chunk only with one of `2 * workers + 2` tokens, and a token comes back
/// when its output has been written, so a slow chunk holds back at most that many outputs.
/// The first error from `sink` stops the pipeline and is returned.
pub(crate) fn map_stream<O, W, S, E>(
    reader: Box<dyn Read + Send>,
    start: Start,
    cutter: Box<dyn Cutter>,
    limits: Limits,
    workers: usize,
    work: &W,
    sink: &mut S,
) -> Result<(), E>
where
    O: Send,
    W: Fn(&Chunk) -> O + Sync,
    S: FnMut(O) -> Result<(), E>,
{
    let workers = workers.max(1);
    let window = 2 * workers + 2;
    let (tx, rx) = sync_channel::<Chunk>(2);
    let (recycle_tx, recycle_rx) = channel::<Vec<u8>>();
    let (token_tx, token_rx) = sync_channel::<()>(window);
    for _ in 0..window {
        let _ = token_tx.send(());
    }
    let (out_tx, out_rx) = channel::<(u64, std::thread::Result<O>)>();
    // The chunk receiver and the next sequence number, taken together so that numbers
    // follow the reader's order.
    let rx = Mutex::new(Some((rx, 0u64)));
    let token_rx = Mutex::new(token_rx);

    std::thread::scope(|ts| {
        let handle = ts.spawn(move || read_chunks(reader, start, cutter, limits, tx, recycle_rx));
        let mut workers_done = Vec::new();
        for _ in 0..workers {
            let (rx, token_rx, out_tx, recycle) =
                (&rx, &token_rx, out_tx.clone(), recycle_tx.clone());
            workers_done.push(ts.spawn(move || {
                let _closer = Closer(rx);
                loop {
                    let token = token_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    if token.is_err() {
                        break;
                    }
                    let next = {
                        let mut guard = rx.lock().unwrap_or_else(|e| e.into_inner());
                        match guard.as_mut() {
                            Some((r, seq)) => r.recv().ok().map(|c| {
                                *seq += 1;
                                (*seq - 1, c)
                            }),
                            None => None,
                        }
                    };
                    let Some((seq, chunk)) = next else { break };
                    // A panic goes to the writer in the chunk's place, which stops and
                    // raises it again once every thread has ended.
                    let out =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&chunk)));
                    let _ = recycle.send(chunk.buf);
                    let failed = out.is_err();
                    if out_tx.send((seq, out)).is_err() || failed {
                        break;
                    }
                }
            }));
        }
        drop(out_tx);
        let mut pending = std::collections::BTreeMap::new();
        let mut next = 0u64;
        let mut result = Ok(());
        let mut panic = None;
        'outputs: for (seq, out) in out_rx.iter() {
            pending.insert(seq, out);
            while let Some(out) = pending.remove(&next) {
                next += 1;
                let out = match out {
                    Ok(out) => out,
                    Err(p) => {
                        panic = Some(p);
                        break 'outputs;
                    }
                };
                if let Err(e) = sink(out) {
                    result = Err(e);
                    break 'outputs;
                }
                let _ = token_tx.send(());
            }
            // A panic ends its worker; the chunks after it may never come.
            if let Some(p) = pending.values_mut().find_map(|o| o.as_mut().err()) {
                panic = Some(std::mem::replace(p, Box::new(())));
                break;
            }
        }
        // Stop everything: no more tokens, no more chunks; the reader's send then fails.
        drop(token_tx);
        drop(out_rx);
        Closer(&rx).close();
        for w in workers_done {
            let _ = w.join();
        }
        let _ = handle.join();
        if let Some(p) = panic {
            std::panic::resume_unwind(p);
        }
        result
    })
}

/// Drops the chunk receiver when the workers stop (also when one panics), so that the
/// reader's send fails and the reader thread ends instead of blocking forever.
struct Closer<'r, T>(&'r Mutex<Option<T>>);

impl<T> Closer<'_, T> {
    fn close(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

impl<T> Drop for Closer<'_, T> {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out at most 16 bytes per read, like a slow pipe.
    struct Trickle(io::Cursor<Vec<u8>>);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(16);
            self.0.read(&mut buf[..n])
        }
    }

    fn split_all(input: &[u8], cutter: Box<dyn Cutter>, chunk: usize, max: usize) -> Vec<Chunk> {
        let (tx, rx) = sync_channel(1000);
        let (_rtx, rrx) = channel();
        read_chunks(
            Box::new(Trickle(io::Cursor::new(input.to_vec()))),
            Start {
                buf: Vec::new(),
                line: 1,
                offset: 0,
            },
            cutter,
            Limits {
                chunk_size: chunk,
                max_record: max,
            },
            tx,
            rrx,
        );
        rx.into_iter().collect()
    }

    fn elements(input: &[u8], chunk: usize) -> (Vec<String>, Vec<String>) {
        let chunks = split_all(input, Box::new(JsonCutter::new()), chunk, 1 << 20);
        let mut out = Vec::new();
        let mut notes = Vec::new();
        for c in &chunks {
            for &(s, e, _) in &c.spans {
                out.push(String::from_utf8(c.buf[s..e].to_vec()).unwrap());
            }
            notes.extend(c.notes.iter().map(|(p, r)| format!("{p}: {r}")));
        }
        (out, notes)
    }

    #[test]
    fn json_splitter_on_nested_and_escaped_strings() {
        let doc = br#"{"@odata.context":"x{[\"]}", "value": [ {"a":"}\\\"]","b":[1,{"c":"]"}]} ,{"d":{}}, "s", 12 ], "nextLink":"https://x/?a=[{"}"#;
        for chunk in [1, 2, 3, 7, 64, 4096] {
            let (els, notes) = elements(doc, chunk);
            assert_eq!(
                els,
                [
                    r#"{"a":"}\\\"]","b":[1,{"c":"]"}]}"#,
                    r#"{"d":{}}"#,
                    r#""s""#,
                    "12"
                ],
                "chunk {chunk}"
            );
            assert!(notes.is_empty(), "{notes:?}");
        }
    }

    #[test]
    fn json_array_object_and_concatenated_documents() {
        let (els, _) = elements(b" [ {\"a\":1}, {\"b\":2} ] ", 3);
        assert_eq!(els, [r#"{"a":1}"#, r#"{"b":2}"#]);
        let (els, _) = elements(b"{\"name\":\"one\",\"value\":3}", 5);
        assert_eq!(els, [r#"{"name":"one","value":3}"#]);
        let (els, _) = elements(b"{\"value\":[{\"a\":1}]}\n{\"value\":[{\"b\":2}]}", 4);
        assert_eq!(els, [r#"{"a":1}"#, r#"{"b":2}"#]);
    }

    #[test]
    fn json_truncated_mid_record_keeps_the_records_before() {
        let (els, notes) = elements(b"[{\"a\":1},{\"b\":2},{\"c\":\"trunc", 4);
        assert_eq!(els.len(), 2);
        assert_eq!(
            notes,
            ["byte 17: file ends inside a record (truncated download?)"]
        );
    }

    #[test]
    fn oversized_records_are_dropped_with_a_note() {
        let big = format!("[{{\"a\":\"{}\"}},{{\"b\":1}}]", "x".repeat(5000));
        let chunks = split_all(big.as_bytes(), Box::new(JsonCutter::new()), 64, 1024);
        let spans: Vec<_> = chunks
            .iter()
            .flat_map(|c| c.spans.iter().map(|s| s.2))
            .collect();
        assert_eq!(spans, [2]);
        let notes: Vec<_> = chunks.iter().flat_map(|c| c.notes.clone()).collect();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].0, Position::Byte(1));

        let text = format!("a\n{}\nb\nc\n", "y".repeat(5000));
        let chunks = split_all(text.as_bytes(), Box::new(LineCutter::new(true)), 64, 1024);
        let mut lines = Vec::new();
        for c in &chunks {
            for l in c.buf[c.start..]
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
            {
                lines.push(String::from_utf8(l.to_vec()).unwrap());
            }
        }
        assert_eq!(lines, ["a", "b", "c"]);
        let notes: Vec<_> = chunks.iter().flat_map(|c| c.notes.clone()).collect();
        assert_eq!(notes[0].0, Position::Line(2));
    }

    #[test]
    fn an_unclosed_quote_drops_its_line_and_reading_goes_on() {
        // Line 2 opens a quote that never closes.
        let text = b"a,1\nb,\"open\nc,2\n\"d\",3\ne,4\n";
        for chunk in 1..text.len() + 2 {
            let chunks = split_all(text, Box::new(LineCutter::new(true)), chunk, 1 << 20);
            let mut lines = Vec::new();
            for c in &chunks {
                for (line, l) in (c.first_line..).zip(c.buf[c.start..].split(|&b| b == b'\n')) {
                    if !l.is_empty() {
                        lines.push((line, String::from_utf8(l.to_vec()).unwrap()));
                    }
                }
            }
            assert_eq!(
                lines,
                [
                    (1, "a,1".into()),
                    (3, "c,2".into()),
                    (4, "\"d\",3".into()),
                    (5, "e,4".into())
                ],
                "chunk size {chunk}"
            );
            let notes: Vec<_> = chunks
                .iter()
                .flat_map(|c| c.notes.iter().map(|n| n.0.clone()))
                .collect();
            assert_eq!(notes, [Position::Line(2)]);
        }
    }

    #[test]
    fn csv_cuts_only_outside_quotes_and_counts_lines() {
        let text = b"a,\"x\ny\",1\nb,\"\"\"q\"\"\n\",2\r\nc,z,3";
        for chunk in 1..12 {
            let chunks = split_all(text, Box::new(LineCutter::new(true)), chunk, 1 << 20);
            let mut starts = Vec::new();
            for c in &chunks {
                if c.buf.len() > c.start {
                    starts.push((c.first_line, c.buf[c.start]));
                }
                // Every chunk ends at a record boundary.
                let quotes = c.buf.iter().filter(|&&b| b == b'"').count();
                assert_eq!(quotes % 2, 0);
            }
            assert_eq!(starts[0], (1, b'a'));
            assert!(starts.iter().all(|(l, c)| match c {
                b'a' => *l == 1,
                b'b' => *l == 3,
                b'c' => *l == 5,
                _ => false,
            }));
        }
    }

    /// The quoted line cutter walking every quote and line end forward: the reference
    /// for the one that counts quotes and walks back.
    struct Forward(LineCutter);
    impl Cutter for Forward {
        fn boundary(&mut self, buf: &[u8], eof: bool) -> (usize, usize) {
            let c = &mut self.0;
            let mut i = c.scanned;
            while let Some(k) = memchr2(b'"', b'\n', &buf[i..]) {
                let at = i + k;
                if buf[at] == b'"' {
                    c.in_quotes = !c.in_quotes;
                } else if !c.in_quotes {
                    c.first.get_or_insert(at + 1);
                    c.last = at + 1;
                }
                i = at + 1;
            }
            c.cut(buf, eof)
        }
        fn consumed(&mut self, cut: usize, spans: &mut Vec<(usize, usize, u64)>) {
            self.0.consumed(cut, spans)
        }
        fn drop_all(&mut self, len: usize) -> Option<usize> {
            self.0.drop_all(len)
        }
        fn leftover(&mut self, rest: &[u8]) -> Option<Leftover> {
            self.0.leftover(rest)
        }
        fn by_line(&self) -> bool {
            true
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// Quoted CSV is cut into the same chunks (bytes, lines, skipped records, notes)
        /// as by walking forward, whatever the read and chunk sizes and the record limit.
        #[test]
        fn quoted_lines_cut_as_walking_forward(
            text in proptest::collection::vec(proptest::sample::select(b"a,\"\n\r".to_vec()), 0..300),
            chunk in 1usize..64,
            max in 8usize..200,
        ) {
            let view = |cutter: Box<dyn Cutter>| -> Vec<_> {
                split_all(&text, cutter, chunk, max)
                    .into_iter()
                    .map(|c| (c.buf, c.start, c.first_line, c.notes, c.lost))
                    .collect()
            };
            proptest::prop_assert_eq!(
                view(Box::new(LineCutter::new(true))),
                view(Box::new(Forward(LineCutter::new(true))))
            );
        }
    }

    fn map_all(input: &[u8], chunk: usize, max: usize, workers: usize) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let mut lost = false;
        let r: Result<(), ()> = map_stream(
            Box::new(Trickle(io::Cursor::new(input.to_vec()))),
            Start::beginning(),
            Box::new(LineCutter::new(true)),
            Limits {
                chunk_size: chunk,
                max_record: max,
            },
            workers,
            &|c: &Chunk| (c.buf.clone(), c.lost),
            &mut |(bytes, l): (Vec<u8>, bool)| {
                out.extend_from_slice(&bytes);
                lost |= l;
                Ok(())
            },
        );
        r.unwrap();
        (out, lost)
    }

    #[test]
    fn map_stream_keeps_every_byte_in_order() {
        let mut input = Vec::new();
        for i in 0..500 {
            input.extend_from_slice(format!("r{i},\"a\nb\",{}\r\n", "x".repeat(i % 37)).as_bytes());
        }
        // An unclosed quote at the end: its bytes still come through, with the note.
        input.extend_from_slice(b"bad,\"never closed\nlast,line\n");
        for workers in [1, 2, 4, 7] {
            for chunk in [16, 100, 4096] {
                let (out, lost) = map_all(&input, chunk, 1 << 20, workers);
                assert!(out == input, "workers {workers}, chunk {chunk}");
                assert!(!lost);
            }
        }
    }

    #[test]
    fn map_stream_flags_a_dropped_record_and_stops_on_a_sink_error() {
        let mut input = b"a,b\n".to_vec();
        input.extend_from_slice(&[b'x'; 300]);
        input.extend_from_slice(b"\nc,d\n");
        let (out, lost) = map_all(&input, 16, 64, 2);
        assert!(lost, "a record over the limit cannot be written back");
        assert!(out.len() < input.len());

        let mut calls = 0;
        let r = map_stream(
            Box::new(Trickle(io::Cursor::new(b"1\n2\n3\n4\n5\n6\n".repeat(100)))),
            Start::beginning(),
            Box::new(LineCutter::new(false)),
            Limits {
                chunk_size: 4,
                max_record: 1 << 20,
            },
            3,
            &|c: &Chunk| c.buf.len(),
            &mut |_| {
                calls += 1;
                if calls == 3 { Err("full") } else { Ok(()) }
            },
        );
        assert_eq!(r, Err("full"));
        assert_eq!(calls, 3);
    }
}
