//! Deciding what a file is from its first bytes (64 KiB, more only to finish a first JSON
//! record): the container format, then the export kind from CSV headers, Format-List keys
//! or the first JSON record's field paths, `type` values and the page's `@odata.context`
//! (see [`super::mapping::detect`]). The same look at the data decides whether
//! `a/b/yyyy` dates in the file are day-first or month-first, once for the whole file.

use super::chunk::{Cutter, JsonCutter};
use super::csv::{CsvPlan, parse_header};
use super::discover::{self, Mode};
use super::mapping::{self, Evidence, TABLES, norm, table};
use super::powershell::{FormatList, split_entry};
use super::{Input, Overrides, Source};
use crate::model::{InputFormat, InputKind};
use crate::time::DateOrder;
use crate::{Error, Result};
use std::io::Read;

/// How much is read to decide.
pub(crate) const HEAD: usize = 64 * 1024;
/// How far we read to find the end of a first JSON record.
const MAX_FIRST: usize = 64 << 20;

/// See [`super::sniff()`].
pub(crate) fn sniff(source: Source, ov: &Overrides) -> Result<Input> {
    let r = discover::open(&source, Mode::Peek, None).map_err(|e| Error::io(&source.path, e))?;
    sniff_reader(source, r, ov)
}

/// [`sniff`] from an already opened (decompressed, UTF-8) stream.
pub(crate) fn sniff_reader(
    source: Source,
    mut r: Box<dyn Read + Send>,
    ov: &Overrides,
) -> Result<Input> {
    let path = source.path.clone();
    let not = |reason: String| Error::NotAnExport {
        path: path.clone(),
        reason,
    };
    let mut head = Vec::new();
    let mut eof = fill(&mut *r, &mut head, HEAD).map_err(|e| Error::io(&path, e))?;
    let first = head.iter().position(|b| !b.is_ascii_whitespace());
    let Some(first) = first else {
        return Err(not("the file is empty".into()));
    };
    if let Some(what) = discover::binary_kind(&head[..head.len().min(1024)]) {
        return Err(not(what.to_string()));
    }
    let format = match ov.format {
        Some(f) => f,
        None => detect_format(&head[first..]),
    };
    let kind = match ov.kind {
        Some(k) => k,
        None => {
            let ev = match format {
                InputFormat::Json | InputFormat::JsonLines => loop {
                    match json_evidence(&head, format, eof) {
                        Some(ev) => break ev,
                        None if !eof && head.len() < MAX_FIRST => {
                            let want = head.len() * 2;
                            eof =
                                fill(&mut *r, &mut head, want).map_err(|e| Error::io(&path, e))?;
                        }
                        None => break Evidence::default(),
                    }
                },
                InputFormat::Csv => {
                    // One very long header line: take what we have.
                    let h = parse_header(&head, eof).or_else(|| parse_header(&head, true));
                    Evidence {
                        names: h
                            .map(|h| h.names.iter().map(|n| norm(n)).collect())
                            .unwrap_or_default(),
                        ..Default::default()
                    }
                }
                InputFormat::Text => Evidence {
                    names: text_keys(&head).iter().map(|k| norm(k)).collect(),
                    ..Default::default()
                },
            };
            match mapping::detect(&ev) {
                Some(k) => k,
                None => return Err(not(explain(format, &ev))),
            }
        }
    };
    let map = resolve_map(kind, &ov.map)?;
    let date_order = match ov.date_order {
        DateOrder::Auto => detect_date_order(format, kind, &head, eof, &map)?,
        o => o,
    };
    Ok(Input {
        source,
        kind,
        format,
        map: ov.map.clone(),
        date_order,
    })
}

/// Read until `buf` holds `want` bytes; true at the end of input.
fn fill(r: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    let have = buf.len();
    if want <= have {
        return Ok(false);
    }
    buf.resize(want, 0);
    let mut n = have;
    while n < want {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // A damaged stream (a truncated `.gz`) after some data: decide from what was
            // read; the decoder meets the same error and counts it as malformed.
            Err(_) if n > 0 => break,
            Err(e) => return Err(e),
        }
    }
    buf.truncate(n);
    Ok(buf.len() < want)
}

/// Decide the container format from the first non-blank bytes.
pub(crate) fn detect_format(head: &[u8]) -> InputFormat {
    match head.first() {
        Some(b'[') => InputFormat::Json,
        Some(b'{') => {
            // The first line that reads as an object decides (a broken first line does not
            // make JSON Lines a JSON page); indented lines belong to pretty-printed JSON.
            for line in head.split(|&b| b == b'\n').take(16) {
                let line = line.trim_ascii_end();
                if !line.starts_with(b"{") {
                    continue;
                }
                if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(line) {
                    let page = m
                        .iter()
                        .any(|(k, v)| k.eq_ignore_ascii_case("value") && v.is_array());
                    return if page {
                        InputFormat::Json
                    } else {
                        InputFormat::JsonLines
                    };
                }
            }
            InputFormat::Json
        }
        _ if looks_like_format_list(head) => InputFormat::Text,
        _ => InputFormat::Csv,
    }
}

fn looks_like_format_list(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&head[..head.len().min(8192)]);
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(first) = lines.next() else {
        return false;
    };
    if split_entry(first).is_none() || first.contains(',') && !first.contains(" : ") {
        return false;
    }
    let more = lines.take(9).filter(|l| split_entry(l).is_some()).count();
    more >= 1 && first.contains(':')
}

/// Keys of the first Format-List block.
fn text_keys(head: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(head);
    let mut fl = FormatList::new();
    for (i, l) in text.lines().enumerate() {
        if let Some(b) = fl.push(l, i as u64 + 1) {
            return b.entries.into_iter().map(|(k, _)| k).collect();
        }
    }
    fl.finish()
        .map(|b| b.entries.into_iter().map(|(k, _)| k).collect())
        .unwrap_or_default()
}

/// Evidence from the first JSON record, or `None` if `head` does not hold one yet.
fn json_evidence(head: &[u8], format: InputFormat, eof: bool) -> Option<Evidence> {
    let (record, before): (&[u8], &[u8]) = match format {
        InputFormat::JsonLines => {
            // The first line that parses (one broken line does not hide the kind), else the
            // first line.
            let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
            let body = &head[start..];
            let complete = match memchr::memrchr(b'\n', body) {
                Some(e) => &body[..e],
                None if eof => body,
                None => return None,
            };
            let lines = complete
                .split(|&b| b == b'\n')
                .map(<[u8]>::trim_ascii)
                .filter(|l| !l.is_empty());
            let first = lines.clone().next().unwrap_or_default();
            let good = lines.take(64).find(|l| {
                l.starts_with(b"{") && serde_json::from_slice::<serde::de::IgnoredAny>(l).is_ok()
            });
            (good.unwrap_or(first), &[])
        }
        _ => {
            let mut c = JsonCutter::new();
            let (_, cut) = c.boundary(head, false);
            let mut spans = Vec::new();
            c.consumed(cut, &mut spans);
            match spans.first() {
                Some(&(s, e, _)) => (&head[s..e], &head[..s]),
                // No record: an empty page still has its context.
                None if page_context(head).is_some() && cut > 0 => (&b"{}"[..], head),
                None => return None,
            }
        }
    };
    let v: serde_json::Value = serde_json::from_slice(record).ok().unwrap_or_default();
    let mut ev = Evidence {
        json: true,
        ..Default::default()
    };
    super::json::key_paths(&v, 4, "", &mut ev.names);
    if let Some(o) = v.as_object() {
        for (k, x) in o {
            let k = norm(k);
            if let Some(s) = x.as_str() {
                match k.as_str() {
                    "type" | "odatatype" => ev.types.push(s.trim_start_matches('#').to_string()),
                    "id" => ev.id = Some(s.to_string()),
                    "odatacontext" => ev.context = Some(s.to_string()),
                    _ => {}
                }
            }
        }
    }
    // `#microsoft.graph.signIn` is listed with its `#`.
    ev.types = ev
        .types
        .iter()
        .flat_map(|t| [t.clone(), format!("#{t}")])
        .collect();
    if ev.context.is_none() {
        ev.context = page_context(before);
    }
    Some(ev)
}

/// The `@odata.context` of a page, from the bytes before its first record.
fn page_context(before: &[u8]) -> Option<String> {
    let key = b"\"@odata.context\"";
    let at = memchr::memmem::find(before, key)? + key.len();
    let rest = &before[at..];
    let colon = rest.iter().position(|&b| b == b':')?;
    let rest = &rest[colon + 1..];
    let q = rest.iter().position(|&b| b == b'"')?;
    let rest = &rest[q + 1..];
    let end = rest.iter().position(|&b| b == b'"')?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// What was looked for, for a person.
fn explain(format: InputFormat, ev: &Evidence) -> String {
    if format == InputFormat::Csv && ev.names.len() <= 1 {
        // Prose, Markdown or a log: no delimiter on the first line, so one "column".
        let kinds: Vec<&str> = TABLES.iter().map(|t| t.label).collect();
        return format!(
            "text without columns: expected CSV with a header row, JSON, JSON Lines or \
             PowerShell Format-List holding one of: {}",
            kinds.join(", ")
        );
    }
    let mut names: Vec<&str> = ev.names.iter().map(String::as_str).collect();
    let total = names.len();
    names.truncate(12);
    let more = if total > 12 { ", ..." } else { "" };
    let seen = match format {
        InputFormat::Csv => format!("CSV columns ({}{more})", names.join(", ")),
        InputFormat::Text => format!("PowerShell list keys ({}{more})", names.join(", ")),
        _ if ev.names.is_empty() => "no JSON object record and no `value` array".to_string(),
        _ => format!("JSON fields ({}{more})", names.join(", ")),
    };
    let wanted: Vec<String> = TABLES
        .iter()
        .map(|t| format!("{} ({})", t.label, t.needs))
        .collect();
    format!(
        "{seen} match no export kind; expected one of: {}; use --kind KIND (and --map FIELD=COLUMN)",
        wanted.join("; ")
    )
}

/// Resolve `--map FIELD=COLUMN` against the kind's field names.
pub(crate) fn resolve_map(
    kind: InputKind,
    map: &[(String, String)],
) -> Result<Vec<(usize, String)>> {
    let t = table(kind);
    map.iter()
        .map(|(field, col)| {
            let want = field.trim().replace('-', "_");
            t.fields
                .iter()
                .position(|f| f.name.eq_ignore_ascii_case(&want))
                .map(|i| (i, col.trim().to_string()))
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "--map {field}={col}: a {} has no field '{field}' (fields: {})",
                        t.label,
                        mapping::field_names(kind).join(", ")
                    ))
                })
        })
        .collect()
}

/// Day-first or month-first for the whole file, from the date columns of the rows read.
fn detect_date_order(
    format: InputFormat,
    kind: InputKind,
    head: &[u8],
    eof: bool,
    map: &[(usize, String)],
) -> Result<DateOrder> {
    let t = table(kind);
    let mut values: Vec<String> = Vec::new();
    match format {
        InputFormat::Csv => {
            let Some(h) = parse_header(head, eof) else {
                return Ok(DateOrder::Auto);
            };
            let plan = CsvPlan::new(&h, t, map).map_err(Error::Usage)?;
            let cols: Vec<usize> = plan
                .cols
                .iter()
                .filter(|(f, _)| t.time_fields.contains(f))
                .map(|&(_, c)| c)
                .collect();
            if cols.is_empty() {
                return Ok(DateOrder::Auto);
            }
            let mut rdr = ::csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(h.delim)
                .from_reader(&head[h.consumed.min(head.len())..]);
            let mut rec = ::csv::ByteRecord::new();
            while let Ok(true) = rdr.read_byte_record(&mut rec) {
                for &c in &cols {
                    values.push(super::csv::cell(&rec, c).into_owned());
                }
            }
        }
        InputFormat::Text => {
            let plan = super::text::KeyPlan::new(t, map);
            let text = String::from_utf8_lossy(head);
            for l in text.lines() {
                if let Some((k, v)) = split_entry(l)
                    && plan.field(k).is_some_and(|f| t.time_fields.contains(&f))
                {
                    values.push(v.to_string());
                }
            }
        }
        _ => {}
    }
    Ok(date_order_of(&values))
}

/// Votes of `a/b/yyyy` values: a first number above 12 means day-first, a second above 12
/// month-first; dotted dates are day-first. Mixed or no votes leave it to each value.
pub(crate) fn date_order_of(values: &[String]) -> DateOrder {
    let (mut day, mut month) = (0, 0);
    for v in values {
        let v = v.trim();
        let date = v.split([' ', 'T', ',']).next().unwrap_or("");
        let sep = if date.contains('/') {
            '/'
        } else if date.matches('.').count() == 2 {
            '.'
        } else {
            continue;
        };
        let parts: Vec<u32> = date
            .split(sep)
            .filter_map(|p| p.trim().parse().ok())
            .collect();
        if parts.len() != 3 {
            continue;
        }
        if sep == '.' || parts[0] > 12 {
            day += 1;
        } else if parts[1] > 12 {
            month += 1;
        }
    }
    match (day, month) {
        (d, 0) if d > 0 => DateOrder::DayFirst,
        (0, m) if m > 0 => DateOrder::MonthFirst,
        _ => DateOrder::Auto,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(detect_format(b"[{\"a\":1}]"), InputFormat::Json);
        assert_eq!(detect_format(b"{\"value\":[{}]}\n"), InputFormat::Json);
        assert_eq!(detect_format(b"{\n \"value\": []\n}"), InputFormat::Json);
        assert_eq!(
            detect_format(b"{\"a\":1}\n{\"a\":2}\n"),
            InputFormat::JsonLines
        );
        assert_eq!(
            detect_format(b"Id                    : b5bf\nOdataType             :\nType : x\n"),
            InputFormat::Text
        );
        assert_eq!(
            detect_format(b"Status,Start time\nFailed,x\n"),
            InputFormat::Csv
        );
        assert_eq!(detect_format(b"Date (UTC);Request ID\n"), InputFormat::Csv);
        // A broken first line does not turn JSON Lines into a JSON page ...
        assert_eq!(
            detect_format(b"{\"a\":\n{\"a\":2}\n"),
            InputFormat::JsonLines
        );
        // ... and an indented object inside pretty-printed JSON is not a line of its own.
        assert_eq!(
            detect_format(b"{\n  \"value\": [\n    {\"a\": 1}\n  ]\n}"),
            InputFormat::Json
        );
    }

    #[test]
    fn date_order_votes() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            date_order_of(&v(&["3/12/2025 7:22:01 AM", "17/11/2022 14:33"])),
            DateOrder::DayFirst
        );
        assert_eq!(
            date_order_of(&v(&["3/12/2025 7:22:01 AM", "11/17/2022 2:33 PM"])),
            DateOrder::MonthFirst
        );
        assert_eq!(
            date_order_of(&v(&["3/12/2025", "2024-05-02T06:01:12Z"])),
            DateOrder::Auto
        );
        assert_eq!(
            date_order_of(&v(&["17.11.2022 14:33"])),
            DateOrder::DayFirst
        );
    }
}
