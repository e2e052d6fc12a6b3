//! Byte-level writers for the generator's hot loop: integers, GUIDs, the three timestamp
//! spellings the exports use, and JSON string escaping, all appended to a reused `Vec<u8>`
//! without going through `fmt`.
//!
//! Time is kept as .NET-style ticks (100 ns) since the Unix epoch, so the 7 fractional
//! digits of the Flow API's timestamps come for free.

use super::rng::Rng;

/// Ticks (100 ns) per second.
pub const TICKS: u64 = 10_000_000;
/// Ticks per millisecond.
pub const TICKS_MS: u64 = 10_000;
/// Seconds per day.
pub const DAY: u64 = 86_400;

const HEX: &[u8; 16] = b"0123456789abcdef";

#[inline]
pub fn push_u64(buf: &mut Vec<u8>, n: u64) {
    let mut b = itoa::Buffer::new();
    buf.extend_from_slice(b.format(n).as_bytes());
}

/// `n` zero-padded to `width` digits (`width` at most 20; wider numbers are not cut).
#[inline]
pub fn push_padded(buf: &mut Vec<u8>, n: u64, width: usize) {
    let mut b = itoa::Buffer::new();
    let digits = b.format(n).as_bytes();
    for _ in digits.len()..width {
        buf.push(b'0');
    }
    buf.extend_from_slice(digits);
}

/// A random version-4 GUID, lower-case, `8-4-4-4-12`.
#[inline]
pub fn push_guid(buf: &mut Vec<u8>, rng: &mut Rng) {
    let hi = rng.next_u64();
    let lo = rng.next_u64();
    push_guid_bits(buf, hi, lo);
}

/// The GUID made from 128 given bits (version and variant bits are set here).
#[inline]
pub fn push_guid_bits(buf: &mut Vec<u8>, hi: u64, lo: u64) {
    let hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    let mut out = [b'-'; 36];
    let mut put = |bits: u64, at: usize, digits: usize| {
        for i in 0..digits {
            out[at + i] = HEX[((bits >> ((digits - 1 - i) * 4)) & 0xF) as usize];
        }
    };
    put(hi >> 32, 0, 8);
    put(hi >> 16, 9, 4);
    put(hi, 14, 4);
    put(lo >> 48, 19, 4);
    put(lo, 24, 12);
    buf.extend_from_slice(&out);
}

/// A GUID as an owned string (tenant construction, not the hot loop).
pub fn guid(rng: &mut Rng) -> String {
    let mut b = Vec::with_capacity(36);
    push_guid(&mut b, rng);
    String::from_utf8(b).expect("hex is ASCII")
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date (inverse of [`civil`]).
pub fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Two digits (`n < 100`).
#[inline]
fn push2(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
}

#[inline]
fn push_date_time(buf: &mut Vec<u8>, secs: u64, sep: u8) {
    let (y, m, d) = civil(secs / DAY);
    let s = secs % DAY;
    push2(buf, y / 100 % 100);
    push2(buf, y % 100);
    buf.push(b'-');
    push2(buf, m);
    buf.push(b'-');
    push2(buf, d);
    buf.push(sep);
    push2(buf, s / 3600);
    buf.push(b':');
    push2(buf, s / 60 % 60);
    buf.push(b':');
    push2(buf, s % 60);
}

/// `2024-05-02T06:01:13.1234567Z`, the Flow and Logic Apps API spelling.
#[inline]
pub fn push_iso7(buf: &mut Vec<u8>, ticks: u64) {
    push_date_time(buf, ticks / TICKS, b'T');
    buf.push(b'.');
    push_padded(buf, ticks % TICKS, 7);
    buf.push(b'Z');
}

/// `2024-05-02T06:01:13Z`, Dataverse's spelling.
#[inline]
pub fn push_iso(buf: &mut Vec<u8>, ticks: u64) {
    push_date_time(buf, ticks / TICKS, b'T');
    buf.push(b'Z');
}

/// `2024-05-02 06:01:13Z`, the OAuth error JSON's `timestamp`.
#[inline]
pub fn push_entra(buf: &mut Vec<u8>, ticks: u64) {
    push_date_time(buf, ticks / TICKS, b' ');
    buf.push(b'Z');
}

/// `5/2/2024 6:01:13 AM`, the token service's `UTC TimeStamp` and the US culture format.
pub fn push_us(buf: &mut Vec<u8>, ticks: u64) {
    let secs = ticks / TICKS;
    let (y, m, d) = civil(secs / DAY);
    let s = secs % DAY;
    push_u64(buf, m);
    buf.push(b'/');
    push_u64(buf, d);
    buf.push(b'/');
    push_u64(buf, y);
    buf.push(b' ');
    let h = s / 3600;
    let h12 = if h.is_multiple_of(12) { 12 } else { h % 12 };
    push_u64(buf, h12);
    buf.push(b':');
    push_padded(buf, s / 60 % 60, 2);
    buf.push(b':');
    push_padded(buf, s % 60, 2);
    buf.extend_from_slice(if h < 12 { b" AM" } else { b" PM" });
}

/// `HH:MM:SS` (hours unbounded) from milliseconds.
pub fn push_hms(buf: &mut Vec<u8>, ms: u64) {
    let s = ms / 1000;
    push_padded(buf, s / 3600, 2);
    buf.push(b':');
    push_padded(buf, s / 60 % 60, 2);
    buf.push(b':');
    push_padded(buf, s % 60, 2);
}

/// Which bytes need escaping inside a JSON string.
const fn escape_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
}
static NEEDS_ESCAPE: [bool; 256] = escape_table();

/// Append `s` escaped for the inside of a JSON string (no surrounding quotes).
#[inline]
pub fn push_json_escaped(buf: &mut Vec<u8>, s: &[u8]) {
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        if !NEEDS_ESCAPE[b as usize] {
            continue;
        }
        buf.extend_from_slice(&s[start..i]);
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            _ => {
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[(b >> 4) as usize]);
                buf.push(HEX[(b & 0xF) as usize]);
            }
        }
        start = i + 1;
    }
    buf.extend_from_slice(&s[start..]);
}

/// Append `"s"` as a JSON string.
#[inline]
pub fn push_json_str(buf: &mut Vec<u8>, s: &[u8]) {
    buf.push(b'"');
    push_json_escaped(buf, s);
    buf.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut b = Vec::new();
        f(&mut b);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn timestamps() {
        // 2022-11-17T14:30:59.2453442Z, the runs API sample.
        let t = 1_668_695_459 * TICKS + 2_453_442;
        assert_eq!(s(|b| push_iso7(b, t)), "2022-11-17T14:30:59.2453442Z");
        assert_eq!(s(|b| push_iso(b, t)), "2022-11-17T14:30:59Z");
        assert_eq!(s(|b| push_entra(b, t)), "2022-11-17 14:30:59Z");
        assert_eq!(s(|b| push_us(b, t)), "11/17/2022 2:30:59 PM");
        let morning = days_from_civil(2024, 5, 2) * DAY * TICKS + (6 * 3600 + 73) * TICKS;
        assert_eq!(s(|b| push_us(b, morning)), "5/2/2024 6:01:13 AM");
        let midnight = days_from_civil(2024, 2, 29) * DAY * TICKS + 5 * TICKS;
        assert_eq!(s(|b| push_us(b, midnight)), "2/29/2024 12:00:05 AM");
        assert_eq!(s(|b| push_hms(b, 3_723_999)), "01:02:03");
        for days in [0, 59, 60, 365, 11_016, 19_845, 20_000] {
            let (y, m, d) = civil(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(
            crate::time::format_iso((t / TICKS) as i64),
            s(|b| push_iso(b, t))
        );
    }

    #[test]
    fn guids_and_numbers() {
        let mut r = Rng::new(1, 0);
        let g = s(|b| push_guid(b, &mut r));
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "4");
        assert_eq!(g.matches('-').count(), 4);
        assert_eq!(s(|b| push_padded(b, 42, 5)), "00042");
        assert_eq!(s(|b| push_u64(b, 1234567)), "1234567");
    }

    #[test]
    fn json_escaping_round_trips() {
        let raw = "a \"q\" \\ \r\n\t\u{1} é end";
        let out = s(|b| push_json_str(b, raw.as_bytes()));
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, raw);
    }
}
