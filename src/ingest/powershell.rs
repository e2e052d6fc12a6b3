//! PowerShell's text renderings of objects.
//!
//! * `@{key=value; key=@{...}}`: how PowerShell stringifies a nested object, both in
//!   `Export-Csv` cells and in `ConvertTo-Json` output deeper than `-Depth` (default 2).
//!   Values are not quoted, so a value ends at `; key=` or at the closing brace; braces
//!   inside a value (an embedded OAuth JSON error) are balanced.
//! * `Format-List` text: blocks of `Name : value` lines separated by blank lines, with long
//!   values wrapped onto indented continuation lines.

/// A value inside `@{...}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PsValue {
    Text(String),
    Map(PsMap),
}

/// The entries of one `@{...}`, in order.
pub type PsMap = Vec<(String, PsValue)>;

impl PsValue {
    pub fn text(&self) -> Option<&str> {
        match self {
            PsValue::Text(t) => Some(t),
            PsValue::Map(_) => None,
        }
    }
}

/// Look up a `.`-separated key path (case-insensitive) in a parsed object; only text
/// values are returned, empty ones as `None`.
pub fn lookup<'m>(map: &'m PsMap, path: &str) -> Option<&'m str> {
    lookup_value(map, path)?.text().filter(|t| !t.is_empty())
}

/// Like [`lookup`], returning the value whatever it is.
pub fn lookup_value<'m>(map: &'m PsMap, path: &str) -> Option<&'m PsValue> {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let v = map
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(head))
        .map(|(_, v)| v)?;
    match (rest, v) {
        (None, v) => Some(v),
        (Some(r), PsValue::Map(m)) => lookup_value(m, r),
        (Some(_), PsValue::Text(_)) => None,
    }
}

/// Parse one `@{...}` at the start of `s` (leading whitespace allowed).
pub fn parse_object(s: &str) -> Option<PsMap> {
    let b = s.as_bytes();
    let mut i = skip_ws(b, 0);
    let m = parse_map(s, &mut i)?;
    Some(m)
}

/// Every top-level `@{...}` in `s`: a single object, PowerShell's array display
/// `{@{...}, @{...}}`, or objects separated by spaces.
pub fn parse_objects(s: &str) -> Vec<PsMap> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'@' && b[i + 1] == b'{' {
            let mut j = i;
            match parse_map(s, &mut j) {
                Some(m) => {
                    out.push(m);
                    i = j;
                }
                None => i += 2,
            }
        } else {
            i += 1;
        }
    }
    out
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'@' | b'$' | b':')
}

/// At `j` (a `;`), does `; key=` follow?
fn next_is_key(b: &[u8], j: usize) -> bool {
    let mut k = skip_ws(b, j + 1);
    let start = k;
    while k < b.len() && is_key_byte(b[k]) && b[k] != b':' {
        k += 1;
    }
    k > start && k < b.len() && b[k] == b'='
}

/// How deep `@{...}` values nest before the rest is kept as text: real exports nest two or
/// three levels, and a bound keeps hostile input from exhausting the stack.
const MAX_DEPTH: usize = 32;

fn parse_map(s: &str, i: &mut usize) -> Option<PsMap> {
    parse_map_at(s, i, 0)
}

fn parse_map_at(s: &str, i: &mut usize, level: usize) -> Option<PsMap> {
    let b = s.as_bytes();
    if !(b.get(*i) == Some(&b'@') && b.get(*i + 1) == Some(&b'{')) {
        return None;
    }
    *i += 2;
    let mut map = PsMap::new();
    loop {
        *i = skip_ws(b, *i);
        match b.get(*i) {
            None => return Some(map), // unterminated: keep what was read
            Some(b'}') => {
                *i += 1;
                return Some(map);
            }
            Some(b';') => {
                *i += 1;
                continue;
            }
            _ => {}
        }
        let ks = *i;
        while *i < b.len() && b[*i] != b'=' && b[*i] != b'}' && b[*i] != b';' {
            *i += 1;
        }
        if b.get(*i) != Some(&b'=') {
            // A bare word without `=`: not an object after all.
            return if map.is_empty() { None } else { Some(map) };
        }
        let key = s[ks..*i].trim().to_string();
        *i += 1;
        if level < MAX_DEPTH && b.get(*i) == Some(&b'@') && b.get(*i + 1) == Some(&b'{') {
            let inner = parse_map_at(s, i, level + 1)?;
            map.push((key, PsValue::Map(inner)));
            continue;
        }
        let vs = *i;
        let mut depth = 0usize;
        while *i < b.len() {
            match b[*i] {
                b'{' => depth += 1,
                b'}' if depth == 0 => break,
                b'}' => depth -= 1,
                b';' if depth == 0 && next_is_key(b, *i) => break,
                _ => {}
            }
            *i += 1;
        }
        map.push((key, PsValue::Text(s[vs..*i].trim().to_string())));
    }
}

/// One `Format-List` block: its 1-based block number, first line and entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub number: u64,
    pub line: u64,
    pub entries: Vec<(String, String)>,
}

/// Incremental `Format-List` parser: feed lines, get blocks.
#[derive(Debug, Default)]
pub struct FormatList {
    current: Vec<(String, String)>,
    start_line: u64,
    blocks: u64,
}

/// Split a `Key   : value` line; `None` for a continuation or a non-entry line.
pub fn split_entry(line: &str) -> Option<(&str, &str)> {
    let first = line.as_bytes().first()?;
    if first.is_ascii_whitespace() {
        return None;
    }
    let colon = line.find(':')?;
    let key = line[..colon].trim_end();
    let rest = &line[colon + 1..];
    if key.is_empty()
        || !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t'))
        || !key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b' ' | b'@'))
    {
        return None;
    }
    Some((key, rest.trim()))
}

impl FormatList {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed one line (without its line break); returns a block when a blank line ends one.
    pub fn push(&mut self, line: &str, line_no: u64) -> Option<Block> {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            return self.finish();
        }
        if let Some((k, v)) = split_entry(line) {
            if self.current.is_empty() {
                self.start_line = line_no;
            }
            self.current.push((k.to_string(), v.to_string()));
        } else if let Some(last) = self.current.last_mut() {
            // A wrapped value: PowerShell cut it at the console width.
            last.1.push_str(line.trim_start());
        }
        None
    }

    /// End of input: the last block, if any.
    pub fn finish(&mut self) -> Option<Block> {
        if self.current.is_empty() {
            return None;
        }
        self.blocks += 1;
        Some(Block {
            number: self.blocks,
            line: self.start_line,
            entries: std::mem::take(&mut self.current),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_object() {
        let m = parse_object(
            "@{status=Error; target=token; error=@{code=Unauthorized; message=Failed to refresh access token for service: office365. Correlation Id=g-1, UTC TimeStamp=5/2/2024 6:01:13 AM, Error: AADSTS50076: Due to; a change}}",
        )
        .unwrap();
        assert_eq!(lookup(&m, "status"), Some("Error"));
        assert_eq!(lookup(&m, "error.code"), Some("Unauthorized"));
        assert!(
            lookup(&m, "ERROR.message")
                .unwrap()
                .ends_with("AADSTS50076: Due to; a change")
        );
    }

    #[test]
    fn deep_nesting_is_kept_as_text_past_the_bound() {
        let depth = 100_000;
        let text = format!("{}x=1{}", "@{a=".repeat(depth), "}".repeat(depth));
        let m = parse_object(&text).expect("the outer levels are read");
        let path = vec!["a"; MAX_DEPTH + 1].join(".");
        let deepest = lookup(&m, &path).expect("the value below the bound is text");
        assert!(deepest.starts_with("@{a=@{a="));
    }

    #[test]
    fn empty_values_and_braces() {
        let m = parse_object(
            "@{name=0858CU17; id=/providers/Microsoft.ProcessSimple/environments/Default-1/flows/f/runs/0858CU17; type=x; properties=}",
        )
        .unwrap();
        assert_eq!(lookup(&m, "name"), Some("0858CU17"));
        assert_eq!(lookup(&m, "properties"), None);
        let m =
            parse_object(r#"@{message=Error: {"error":"invalid_grant","x":{"a":1}}; code=401}"#)
                .unwrap();
        assert_eq!(
            lookup(&m, "message"),
            Some(r#"Error: {"error":"invalid_grant","x":{"a":1}}"#)
        );
        assert_eq!(lookup(&m, "code"), Some("401"));
    }

    #[test]
    fn several_objects() {
        let v = parse_objects("{@{status=Connected; target=token}, @{status=Error; target=x}}");
        assert_eq!(v.len(), 2);
        assert_eq!(lookup(&v[1], "status"), Some("Error"));
        assert!(parse_objects("System.Object[]").is_empty());
    }

    #[test]
    fn format_list_blocks() {
        let text = "\nId                    : b5bf1c7c\nOdataType             :\nDefinition            : {{\"TokenLifetimePolicy\":{\"Version\":1,\n                        \"AccessTokenLifetime\":\"03:00:00\"}}}\nType                  : TokenLifetimePolicy\n\nId : second\n";
        let mut fl = FormatList::new();
        let mut blocks = Vec::new();
        for (i, l) in text.lines().enumerate() {
            blocks.extend(fl.push(l, i as u64 + 1));
        }
        blocks.extend(fl.finish());
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].line, 2);
        assert_eq!(blocks[0].entries[1], ("OdataType".into(), "".into()));
        assert_eq!(
            blocks[0].entries[2].1,
            "{{\"TokenLifetimePolicy\":{\"Version\":1,\"AccessTokenLifetime\":\"03:00:00\"}}}"
        );
        assert_eq!(blocks[1].number, 2);
    }
}
