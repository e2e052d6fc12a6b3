//! Finding inputs and opening them as UTF-8 byte streams.
//!
//! `discover` expands the command line's paths into [`Source`]s: files as named, folders
//! walked recursively in sorted order, `-` for stdin. Inside a folder, files that cannot be
//! read or are plainly not exports (pictures, workbooks, binaries) become [`Skipped`].
//!
//! `open` stacks the readers every decoder sees: the raw file (or stdin, replaying what
//! sniffing already consumed), a byte counter for the progress bar, gzip decompression
//! (detected by its magic bytes, not the name) on its own thread behind a bounded channel,
//! and text decoding: a UTF-8 BOM is dropped and UTF-16 (PowerShell 5's default) is
//! transcoded to UTF-8 as it streams.

use super::{Skipped, Source};
use crate::{Error, Result};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Bytes read from stdin so far (by `discover` and `sniff`), replayed to the decoder.
static STDIN_HEAD: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Reads real stdin, keeping a copy of everything read for the replay.
struct StdinRecorder;

impl Read for StdinRecorder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = io::stdin().lock().read(buf)?;
        STDIN_HEAD
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// How far into a folder we descend (guards against symlink loops).
const MAX_DEPTH: usize = 64;

/// Expand paths into sources; see the module docs.
pub fn discover(paths: &[PathBuf]) -> Result<(Vec<Source>, Vec<Skipped>)> {
    let mut sources = Vec::new();
    let mut skipped = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let head = peek_stdin(2).map_err(|e| Error::io("-", e))?;
            sources.push(Source {
                path: path.clone(),
                display: "-".into(),
                named: true,
                gzip: head.starts_with(&[0x1f, 0x8b]),
                size: None,
            });
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            walk(path, 0, &mut sources, &mut skipped);
        } else {
            let head = read_prefix(path, 2).map_err(|e| Error::io(path, e))?;
            sources.push(Source {
                path: path.clone(),
                display: path.display().to_string(),
                named: true,
                gzip: head.starts_with(&[0x1f, 0x8b]),
                size: Some(meta.len()),
            });
        }
    }
    Ok((sources, skipped))
}

fn walk(dir: &Path, depth: usize, sources: &mut Vec<Source>, skipped: &mut Vec<Skipped>) {
    let skip = |skipped: &mut Vec<Skipped>, p: &Path, reason: String| {
        skipped.push(Skipped {
            path: p.display().to_string(),
            reason,
        })
    };
    if depth > MAX_DEPTH {
        skip(skipped, dir, format!("more than {MAX_DEPTH} folders deep"));
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => return skip(skipped, dir, format!("cannot read folder: {e}")),
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        let meta = match std::fs::metadata(&p) {
            Ok(m) => m,
            Err(e) => {
                skip(skipped, &p, format!("cannot read: {e}"));
                continue;
            }
        };
        if meta.is_dir() {
            if hidden {
                skip(skipped, &p, "hidden folder, not searched".into());
            } else {
                walk(&p, depth + 1, sources, skipped);
            }
            continue;
        }
        if !meta.is_file() {
            skip(skipped, &p, "not a regular file".into());
            continue;
        }
        let head = match read_prefix(&p, 1024) {
            Ok(h) => h,
            Err(e) => {
                skip(skipped, &p, format!("cannot read: {e}"));
                continue;
            }
        };
        if hidden {
            skip(skipped, &p, "hidden file".into());
            continue;
        }
        if meta.len() == 0 {
            skip(skipped, &p, "empty file".into());
            continue;
        }
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        if !gzip && let Some(what) = binary_kind(&head) {
            skip(skipped, &p, format!("{what}, not an export"));
            continue;
        }
        sources.push(Source {
            path: p.clone(),
            display: p.display().to_string(),
            named: false,
            gzip,
            size: Some(meta.len()),
        });
    }
}

/// Name a binary format from its first bytes; `None` for text (including UTF-16 with BOM).
pub(crate) fn binary_kind(head: &[u8]) -> Option<&'static str> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x89PNG", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"%PDF", "a PDF document"),
        (
            b"PK\x03\x04",
            "a ZIP archive or Office workbook (save it as CSV)",
        ),
        (
            b"\xd0\xcf\x11\xe0",
            "an old Office document (save it as CSV)",
        ),
        (b"\x7fELF", "a program"),
        (b"MZ", "a program"),
        (b"BZh", "a bzip2 archive (decompress it first)"),
        (b"\xfd7zXZ", "an xz archive (decompress it first)"),
        (b"7z\xbc\xaf", "a 7-Zip archive (extract it first)"),
        (b"SQLite format 3", "an SQLite database"),
    ];
    for (m, what) in MAGIC {
        if head.starts_with(m) {
            return Some(what);
        }
    }
    if utf16_order(head).is_some() {
        return None;
    }
    if head.contains(&0) {
        return Some("a binary file");
    }
    None
}

/// `Some(true)` for UTF-16 big-endian, `Some(false)` little-endian, by BOM or by the
/// pattern of zero bytes in ASCII text.
fn utf16_order(head: &[u8]) -> Option<bool> {
    match head {
        [0xff, 0xfe, ..] => Some(false),
        [0xfe, 0xff, ..] => Some(true),
        [a, 0, c, 0, ..] if *a != 0 && *c != 0 => Some(false),
        [0, b, 0, d, ..] if *b != 0 && *d != 0 => Some(true),
        _ => None,
    }
}

fn read_prefix(path: &Path, n: usize) -> io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    let mut buf = vec![0; n];
    let got = read_full(&mut f, &mut buf)?;
    buf.truncate(got);
    Ok(buf)
}

/// Read until `buf` is full or the reader ends.
pub(crate) fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Make sure at least `n` bytes of stdin (or all of it) are in the replay buffer.
fn peek_stdin(n: usize) -> io::Result<Vec<u8>> {
    let have = STDIN_HEAD.lock().unwrap_or_else(|e| e.into_inner()).len();
    if have < n {
        let mut buf = vec![0; n - have];
        read_full(&mut StdinRecorder, &mut buf)?;
    }
    Ok(STDIN_HEAD.lock().unwrap_or_else(|e| e.into_inner()).clone())
}

/// Whether the (decompressed) text starts with a UTF-8 byte order mark, which [`open`]
/// drops: `tag` writes it back. Stdin is looked at through the bytes sniffing recorded.
pub(crate) fn utf8_bom(source: &Source) -> io::Result<bool> {
    let raw: Box<dyn Read> = if source.display == "-" && source.path.as_os_str() == "-" {
        Box::new(io::Cursor::new(peek_stdin(64)?))
    } else {
        Box::new(File::open(&source.path)?)
    };
    let mut r: Box<dyn Read> = if source.gzip {
        Box::new(flate2::read::MultiGzDecoder::new(raw))
    } else {
        raw
    };
    let mut head = [0u8; 3];
    // A stream too broken to show three bytes has no BOM worth keeping.
    let n = read_full(&mut r, &mut head).unwrap_or(0);
    Ok(n == 3 && head == [0xef, 0xbb, 0xbf])
}

/// Counts raw bytes into the progress bar.
struct Counting<R> {
    inner: R,
    progress: indicatif::ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}

/// How a stream is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// For sniffing: stdin bytes are recorded for replay; gzip inflates inline.
    Peek,
    /// For decoding: stdin replays the recorded head; gzip inflates on its own thread.
    Stream,
}

/// Open a source as a UTF-8 byte stream (see module docs).
pub(crate) fn open(
    source: &Source,
    mode: Mode,
    progress: Option<indicatif::ProgressBar>,
) -> io::Result<Box<dyn Read + Send>> {
    let raw: Box<dyn Read + Send> = if source.display == "-" && source.path.as_os_str() == "-" {
        let head = STDIN_HEAD.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match mode {
            Mode::Peek => Box::new(io::Cursor::new(head).chain(StdinRecorder)),
            Mode::Stream => {
                STDIN_HEAD.lock().unwrap_or_else(|e| e.into_inner()).clear();
                Box::new(io::Cursor::new(head).chain(io::stdin()))
            }
        }
    } else {
        Box::new(File::open(&source.path)?)
    };
    stack(raw, source.gzip, mode, progress)
}

/// Stack counting, gzip and text decoding over a raw byte stream (see [`open`]).
pub(crate) fn stack(
    raw: Box<dyn Read + Send>,
    gzip: bool,
    mode: Mode,
    progress: Option<indicatif::ProgressBar>,
) -> io::Result<Box<dyn Read + Send>> {
    let raw: Box<dyn Read + Send> = match progress {
        Some(progress) => Box::new(Counting {
            inner: raw,
            progress,
        }),
        None => raw,
    };
    let inflated: Box<dyn Read + Send> = if gzip {
        match mode {
            Mode::Peek => Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(raw))),
            Mode::Stream => Box::new(inflate_on_thread(raw)),
        }
    } else {
        raw
    };
    decode_text(inflated)
}

/// Drop a UTF-8 BOM, or transcode UTF-16 to UTF-8.
pub(crate) fn decode_text(mut r: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let mut head = [0u8; 4];
    let n = read_full(&mut r, &mut head)?;
    let head = &head[..n];
    if head.starts_with(&[0xef, 0xbb, 0xbf]) {
        return Ok(Box::new(io::Cursor::new(head[3..].to_vec()).chain(r)));
    }
    match utf16_order(head) {
        Some(be) => {
            let bom = head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]);
            let rest = if bom { &head[2..] } else { head };
            let inner = io::Cursor::new(rest.to_vec()).chain(r);
            Ok(Box::new(Utf16Reader::new(inner, be)))
        }
        None => Ok(Box::new(io::Cursor::new(head.to_vec()).chain(r))),
    }
}

/// Size of the buffers the inflating thread sends.
const INFLATE_BUF: usize = 128 * 1024;
/// Inflated buffers on their way to the reader: enough that the inflating thread rarely
/// waits while the workers have a chunk to cut.
const INFLATE_QUEUE: usize = 4;

/// Run a `MultiGzDecoder` on its own thread; the returned reader receives its output. The
/// reader hands each emptied buffer back, so the thread neither allocates nor zeroes one
/// per send.
fn inflate_on_thread(raw: Box<dyn Read + Send>) -> ChannelReader {
    let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(INFLATE_QUEUE);
    let (back_tx, back_rx) = sync_channel::<Vec<u8>>(INFLATE_QUEUE + 2);
    std::thread::spawn(move || {
        let mut gz =
            flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(256 * 1024, raw));
        loop {
            let mut buf = back_rx.try_recv().unwrap_or_default();
            // Only a short last buffer comes back shorter, and only its tail is zeroed.
            buf.resize(INFLATE_BUF, 0);
            // Not `read_full`: on an error (a truncated stream) the bytes inflated before it
            // must still reach the decoder, then the error.
            let mut n = 0;
            let mut error = None;
            while n < buf.len() {
                match gz.read(&mut buf[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            buf.truncate(n);
            if n > 0 && tx.send(Ok(buf)).is_err() {
                break; // the reader went away
            }
            if let Some(e) = error {
                let _ = tx.send(Err(e));
                break;
            }
            if n == 0 {
                break;
            }
        }
    });
    ChannelReader {
        rx,
        back: back_tx,
        buf: Vec::new(),
        pos: 0,
        done: false,
    }
}

struct ChannelReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    /// Emptied buffers, back to the inflating thread (dropped when its queue is full).
    back: SyncSender<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.buf.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(b)) => {
                    let used = std::mem::replace(&mut self.buf, b);
                    if used.capacity() > 0 {
                        let _ = self.back.try_send(used);
                    }
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Streaming UTF-16 to UTF-8 transcoder. Unpaired surrogates become U+FFFD.
pub(crate) struct Utf16Reader<R> {
    inner: R,
    big_endian: bool,
    raw: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    high: Option<u16>,
    eof: bool,
}

impl<R: Read> Utf16Reader<R> {
    pub(crate) fn new(inner: R, big_endian: bool) -> Self {
        Utf16Reader {
            inner,
            big_endian,
            raw: Vec::with_capacity(64 * 1024),
            out: Vec::with_capacity(96 * 1024),
            out_pos: 0,
            high: None,
            eof: false,
        }
    }

    fn push_char(&mut self, c: char) {
        let mut b = [0u8; 4];
        self.out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
    }

    fn refill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.out_pos = 0;
        while self.out.is_empty() && !self.eof {
            let keep = self.raw.len();
            self.raw.resize(keep + 64 * 1024, 0);
            let n = self.inner.read(&mut self.raw[keep..])?;
            self.raw.truncate(keep + n);
            if n == 0 {
                self.eof = true;
            }
            let whole = self.raw.len() & !1;
            let mut i = 0;
            while i < whole {
                let pair = [self.raw[i], self.raw[i + 1]];
                let u = if self.big_endian {
                    u16::from_be_bytes(pair)
                } else {
                    u16::from_le_bytes(pair)
                };
                i += 2;
                match (self.high.take(), u) {
                    (None, 0xD800..=0xDBFF) => self.high = Some(u),
                    (None, 0xDC00..=0xDFFF) => self.push_char(char::REPLACEMENT_CHARACTER),
                    (None, u) => self.push_char(char::from_u32(u as u32).unwrap_or('\u{fffd}')),
                    (Some(h), 0xDC00..=0xDFFF) => {
                        let c = 0x10000 + (((h as u32) - 0xD800) << 10) + ((u as u32) - 0xDC00);
                        self.push_char(char::from_u32(c).unwrap_or('\u{fffd}'));
                    }
                    (Some(_), 0xD800..=0xDBFF) => {
                        self.push_char(char::REPLACEMENT_CHARACTER);
                        self.high = Some(u);
                    }
                    (Some(_), u) => {
                        self.push_char(char::REPLACEMENT_CHARACTER);
                        self.push_char(char::from_u32(u as u32).unwrap_or('\u{fffd}'));
                    }
                }
            }
            self.raw.drain(..whole);
            if self.eof && (self.high.take().is_some() || !self.raw.is_empty()) {
                self.raw.clear();
                self.push_char(char::REPLACEMENT_CHARACTER);
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Utf16Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.out_pos >= self.out.len() {
            self.refill()?;
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(r: &mut dyn Read) -> Vec<u8> {
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        v
    }

    #[test]
    fn utf16_le_and_be_with_surrogates() {
        let text = "Status,Naïve 😀\r\nFailed,x";
        for be in [false, true] {
            let mut bytes = if be {
                vec![0xfe, 0xff]
            } else {
                vec![0xff, 0xfe]
            };
            for u in text.encode_utf16() {
                bytes.extend(if be { u.to_be_bytes() } else { u.to_le_bytes() });
            }
            let mut r = decode_text(Box::new(io::Cursor::new(bytes))).unwrap();
            assert_eq!(String::from_utf8(read_all(&mut r)).unwrap(), text);
        }
    }

    #[test]
    fn bom_is_dropped_and_plain_text_passes() {
        let mut r = decode_text(Box::new(io::Cursor::new(b"\xef\xbb\xbfa,b\n".to_vec()))).unwrap();
        assert_eq!(read_all(&mut r), b"a,b\n");
        let mut r = decode_text(Box::new(io::Cursor::new(b"ab".to_vec()))).unwrap();
        assert_eq!(read_all(&mut r), b"ab");
    }

    #[test]
    fn gzip_inflates_on_a_thread_and_reports_truncation() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let data: Vec<u8> = (0..400_000u32)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        gz.write_all(&data).unwrap();
        let packed = gz.finish().unwrap();
        let mut r = inflate_on_thread(Box::new(io::Cursor::new(packed.clone())));
        assert_eq!(read_all(&mut r), data);
        let mut r = inflate_on_thread(Box::new(io::Cursor::new(
            packed[..packed.len() / 2].to_vec(),
        )));
        let mut v = Vec::new();
        assert!(r.read_to_end(&mut v).is_err());
    }

    #[test]
    fn discover_is_sorted_and_skips_binaries() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::write(d.join("b.csv"), "Status\n").unwrap();
        std::fs::write(d.join("a.json"), "[]").unwrap();
        std::fs::write(d.join("sub/c.jsonl"), "{}\n").unwrap();
        std::fs::write(d.join("pic.png"), b"\x89PNG\r\n\x1a\n\0\0").unwrap();
        std::fs::write(d.join(".hidden"), "x").unwrap();
        let (src, skipped) = discover(&[d.to_path_buf()]).unwrap();
        let names: Vec<_> = src
            .iter()
            .map(|s| s.path.strip_prefix(d).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a.json", "b.csv", "sub/c.jsonl"]);
        assert_eq!(skipped.len(), 2);
        assert!(skipped.iter().any(|s| s.reason.contains("PNG")));
        let err = discover(&[d.join("missing.csv")]).unwrap_err();
        assert!(err.to_string().contains("missing.csv"));
    }
}
