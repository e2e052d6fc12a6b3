//! The token-refresh message parser.
//!
//! The connector token service writes a stable shape when a connection's refresh fails:
//!
//! ```text
//! Failed to refresh access token for service: <service>. Correlation Id=g-<guid>,
//! UTC TimeStamp=4/8/2021 11:40:36 PM, Error: Failed to acquire token from AAD:
//! {"error":"invalid_grant","error_description":"AADSTS700082: ... The token was issued on
//! 2020-09-01T12:13:41.5336734Z and was inactive for 90.00:00:00. ...","error_codes":[700082],
//! "timestamp":"2021-04-08 23:40:36Z","trace_id":"<guid>","correlation_id":"<guid>"}
//! ```
//!
//! The embedded OAuth JSON may arrive escaped zero, one or two times (`"`, `\"`, `\\\"`)
//! depending on how many containers it passed through. Rather than unescape (and allocate),
//! the parser finds each key by name and reads the value between whatever quotes and
//! backslashes surround it. It also reads the dates Entra puts in prose: "The token was issued
//! on `<date>` and was inactive for 90.00:00:00" and "The grant was issued on `'<date>'` and
//! the TokensValidFrom date ... is `'<date>'`".

use crate::classify::TokenDetails;
use crate::classify::literals::Literals;
use crate::time::{DateOrder, parse, parse_timespan};
use std::sync::LazyLock;

/// The labels and keys the parser looks for, found in one pass of a small automaton.
pub(crate) const KEYS: &[&str] = &[
    "failed to refresh access token for service:",
    "correlation id=",
    "utc timestamp=",
    "correlation_id",
    "trace_id",
    "timestamp",
    "trace id:",
    "correlation id:",
    "timestamp:",
    "was issued on",
    "inactive for",
    "tokensvalidfrom",
];
const K_SERVICE: usize = 0;
const K_SERVICE_CORR: usize = 1;
const K_UTC_TS: usize = 2;
const K_JSON_CORR: usize = 3;
const K_JSON_TRACE: usize = 4;
const K_JSON_TS: usize = 5;
const K_PROSE_TRACE: usize = 6;
const K_PROSE_CORR: usize = 7;
const K_PROSE_TS: usize = 8;
const K_ISSUED: usize = 9;
const K_INACTIVE: usize = 10;
const K_VALID_FROM: usize = 11;

static KEY_SCANNER: LazyLock<Literals> =
    LazyLock::new(|| Literals::new(KEYS).expect("token key automaton"));

/// Where each of [`KEYS`] first occurs: the end offset, `usize::MAX` when absent.
pub(crate) type KeyPositions = [usize; KEYS.len()];

/// Record an occurrence of key `k` at `start..end`, keeping the earliest real one (JSON keys
/// must be quoted to count).
#[inline]
pub(crate) fn note_key(at: &mut KeyPositions, b: &[u8], k: usize, start: usize, end: usize) {
    if end < at[k]
        && (!matches!(k, K_JSON_CORR | K_JSON_TRACE | K_JSON_TS) || is_json_key(b, start, end))
    {
        at[k] = end;
    }
}

/// Parse what the text has of the token-refresh fields; `None` when it has none of them.
pub fn parse_token_message(text: &str) -> Option<TokenDetails> {
    let mut at = [usize::MAX; KEYS.len()];
    let b = text.as_bytes();
    KEY_SCANNER.for_each(b, |k, start, end| note_key(&mut at, b, k, start, end));
    parse_at(text, &at)
}

/// Parse the fields at key positions found by a scan (the classifier's own pass finds them).
pub(crate) fn parse_at(text: &str, at: &KeyPositions) -> Option<TokenDetails> {
    if at.iter().all(|p| *p == usize::MAX) {
        return None;
    }
    let get = |k: usize| (at[k] != usize::MAX).then(|| &text[at[k]..]);

    let mut d = TokenDetails::default();
    if let Some(rest) = get(K_SERVICE) {
        let rest = rest.trim_start();
        let end = rest
            .find(|c: char| c == '.' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        d.service = non_empty(&rest[..end]);
    }
    if let Some(rest) = get(K_SERVICE_CORR) {
        d.service_correlation_id = non_empty(take_until(rest, |c| c == ',' || c.is_whitespace()));
    }
    if let Some(rest) = get(K_UTC_TS) {
        d.timestamp = parse(take_until(rest, |c| c == ','), DateOrder::MonthFirst);
    }
    d.correlation_id = get(K_JSON_CORR)
        .map(json_value)
        .or_else(|| get(K_PROSE_CORR).map(prose_value))
        .and_then(non_empty);
    d.trace_id = get(K_JSON_TRACE)
        .map(json_value)
        .or_else(|| get(K_PROSE_TRACE).map(prose_value))
        .and_then(non_empty);
    if d.timestamp.is_none() {
        d.timestamp = get(K_JSON_TS)
            .map(json_value)
            .or_else(|| get(K_PROSE_TS).map(prose_value_line))
            .and_then(|v| parse(v, DateOrder::Auto));
    }
    if let Some(rest) = get(K_ISSUED) {
        d.issued_on = date_after(rest);
    }
    if let Some(rest) = get(K_INACTIVE) {
        let rest = rest.trim_start();
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
            .unwrap_or(rest.len());
        d.inactive_for = parse_timespan(rest[..end].trim_end_matches('.'));
    }
    if let Some(rest) = get(K_VALID_FROM) {
        // "... date (before which tokens are not valid) for this user is '<date>'"
        let window = &rest[..floor_boundary(rest, 200)];
        if let Some(q) = find_ci(window, " is ") {
            d.tokens_valid_from = date_after(&rest[q..]);
        }
    }
    if d.is_empty() { None } else { Some(d) }
}

/// A JSON key is quoted: `"key"`, `\"key\"`, `\\\"key\\\"`: a quote or backslash on both sides.
fn is_json_key(b: &[u8], start: usize, end: usize) -> bool {
    start > 0 && matches!(b[start - 1], b'"' | b'\\') && matches!(b.get(end), Some(b'"' | b'\\'))
}

/// Case-insensitive search for an ASCII needle; returns the byte offset just after the match.
pub(crate) fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    let first = n[0].to_ascii_lowercase();
    let upper = n[0].to_ascii_uppercase();
    let mut i = 0;
    while i + n.len() <= h.len() {
        let rel = memchr::memchr2(first, upper, &h[i..=h.len() - n.len()])?;
        let s = i + rel;
        if h[s..s + n.len()].eq_ignore_ascii_case(n) {
            return Some(s + n.len());
        }
        i = s + 1;
    }
    None
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        None
    } else {
        Some(t.to_string())
    }
}

fn take_until(s: &str, stop: impl Fn(char) -> bool) -> &str {
    let s = s.trim_start();
    let end = s.find(stop).unwrap_or(s.len());
    s[..end].trim()
}

fn floor_boundary(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The value after a JSON key however often the JSON was escaped: `":"v"`, `\":\"v\"`.
fn json_value(rest: &str) -> &str {
    let v = rest.trim_start_matches(['"', '\\', ':', ' ']);
    let stop = v.find(['"', '\\', ',', '}']).unwrap_or(v.len());
    &v[..stop]
}

/// A value written in prose after a label, up to the end of the token (`Trace ID: <guid>`).
fn prose_value(rest: &str) -> &str {
    let v = rest.trim_start();
    let stop = v
        .find(|c: char| c.is_whitespace() || matches!(c, '\\' | '"' | ',' | '\''))
        .unwrap_or(v.len());
    &v[..stop]
}

/// A value written in prose after a label, up to the end of the line (`Timestamp: 2021-04-08 23:40:36Z`).
fn prose_value_line(rest: &str) -> &str {
    let v = rest.trim_start();
    let stop = v.find(['\\', '"', '\r', '\n', ',']).unwrap_or(v.len());
    &v[..stop]
}

/// A date right after the current position: quoted (`'2021-01-02T...'`, `\'...\'`) or bare,
/// in which case it ends at " and", whitespace or a sentence end.
fn date_after(s: &str) -> Option<i64> {
    let s = s.trim_start().trim_start_matches('\\');
    if let Some(q) = s.strip_prefix(['\'', '"']) {
        let end = q.find(['\'', '"', '\\']).unwrap_or(q.len());
        return parse(&q[..end], DateOrder::Auto);
    }
    let end = find_ci(s, " and ").map(|e| e - 5).unwrap_or(s.len());
    let cand = &s[..end];
    // Bare ISO dates have no spaces; US dates do ("4/8/2021 11:40:36 PM").
    parse(cand.trim_end_matches('.'), DateOrder::Auto).or_else(|| {
        let first = cand.split_whitespace().next()?;
        parse(first.trim_end_matches('.'), DateOrder::Auto)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"Failed to refresh access token for service: aadcertificate. Correlation Id=g-3bdeeea8-ae1f-4ac3-82dc-7fee7f16a1e2, UTC TimeStamp=4/8/2021 11:40:36 PM, Error: Failed to acquire token from AAD: {"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity.The token was issued on 2020-09-01T12:13:41.5336734Z and was inactive for 90.00:00:00.\r\nTrace ID: b6f03183-79e9-4f81-a640-efcf65c30400\r\nCorrelation ID: 52b391c3-9c1d-42c7-99f3-a219b7675aee\r\nTimestamp: 2021-04-08 23:40:36Z","error_codes":[700082],"timestamp":"2021-04-08 23:40:36Z","trace_id":"b6f03183-79e9-4f81-a640-efcf65c30400","correlation_id":"52b391c3-9c1d-42c7-99f3-a219b7675aee","error_uri":"https://login.windows.net/error?code=700082"}"#;

    fn ts(s: &str) -> i64 {
        parse(s, DateOrder::Auto).unwrap()
    }

    /// Escape the text the way a JSON container would: quotes and backslashes.
    fn escape(s: &str) -> String {
        s.replace('\\', "\\\\").replace('"', "\\\"")
    }

    fn check(text: &str) {
        let d = parse_token_message(text).expect("details");
        assert_eq!(d.service.as_deref(), Some("aadcertificate"));
        assert_eq!(
            d.service_correlation_id.as_deref(),
            Some("g-3bdeeea8-ae1f-4ac3-82dc-7fee7f16a1e2")
        );
        assert_eq!(
            d.correlation_id.as_deref(),
            Some("52b391c3-9c1d-42c7-99f3-a219b7675aee")
        );
        assert_eq!(
            d.trace_id.as_deref(),
            Some("b6f03183-79e9-4f81-a640-efcf65c30400")
        );
        assert_eq!(d.timestamp, Some(ts("2021-04-08T23:40:36Z")));
        assert_eq!(d.issued_on, Some(ts("2020-09-01T12:13:41Z")));
        assert_eq!(d.inactive_for, Some(90 * 86_400));
        assert_eq!(d.tokens_valid_from, None);
    }

    #[test]
    fn sample_unescaped() {
        check(SAMPLE);
    }

    #[test]
    fn sample_escaped_once() {
        check(&escape(SAMPLE));
    }

    #[test]
    fn sample_escaped_twice() {
        check(&escape(&escape(SAMPLE)));
    }

    #[test]
    fn grant_revoked_dates() {
        let t = "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '2023-02-01T08:00:00.0000000Z' and the TokensValidFrom date (before which tokens are not valid) for this user is '2023-03-15T09:30:00.0000000Z'.";
        let d = parse_token_message(t).unwrap();
        assert_eq!(d.issued_on, Some(ts("2023-02-01T08:00:00Z")));
        assert_eq!(d.tokens_valid_from, Some(ts("2023-03-15T09:30:00Z")));
        let d = parse_token_message(&escape(&escape(t))).unwrap();
        assert_eq!(d.tokens_valid_from, Some(ts("2023-03-15T09:30:00Z")));
    }

    #[test]
    fn bare_inactivity_text() {
        let t = "The refresh token has expired due to inactivity. The token was issued on 2024-01-05T10:00:00Z and was inactive for 90.00:00:00.";
        let d = parse_token_message(t).unwrap();
        assert_eq!(d.issued_on, Some(ts("2024-01-05T10:00:00Z")));
        assert_eq!(d.inactive_for, Some(90 * 86_400));
        assert_eq!(d.service, None);
    }

    #[test]
    fn missing_refresh_token_variant() {
        let t = "Failed to refresh access token for service: oauth2. Correlation Id=g-11111111-2222-3333-4444-555555555555, UTC TimeStamp=5/2/2024 6:01:13 AM, Error: Missing refresh token.";
        let d = parse_token_message(t).unwrap();
        assert_eq!(d.service.as_deref(), Some("oauth2"));
        assert_eq!(d.timestamp, Some(ts("2024-05-02T06:01:13Z")));
        assert_eq!(d.trace_id, None);
    }

    #[test]
    fn nothing_to_parse() {
        assert_eq!(parse_token_message("ActionFailed"), None);
        assert_eq!(find_ci("abc ÄÖ xyz", "xyz"), Some(12));
    }
}
