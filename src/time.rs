//! Timestamps as exports write them: ISO 8601 with up to 7 fractional digits, Entra's
//! `2021-04-08 23:40:36Z`, and the culture-formatted dates that Excel re-saves and
//! PowerShell's `Export-Csv` produce (`5/2/2024 6:01:13 AM`, `02/05/2024 08:01`).
//! Everything becomes seconds since the epoch, UTC. Times without a zone are taken as UTC
//! (exports write UTC; the portal's local times are the user's to correct with `--tz`-free
//! tools, and are flagged as such in the docs).

use crate::model::Ts;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

/// How to read `a/b/yyyy` dates, which are ambiguous between US and European order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DateOrder {
    /// Month first unless the first number is above 12 (then day first).
    #[default]
    Auto,
    MonthFirst,
    DayFirst,
}

impl std::str::FromStr for DateOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(DateOrder::Auto),
            "mdy" | "us" | "month-first" => Ok(DateOrder::MonthFirst),
            "dmy" | "eu" | "day-first" => Ok(DateOrder::DayFirst),
            _ => Err(format!(
                "unknown date order '{s}' (expected auto, mdy or dmy)"
            )),
        }
    }
}

/// The earliest time flowdx accepts: 1970-01-01T00:00:00Z.
pub const MIN_TS: Ts = 0;
/// The latest time flowdx accepts: 9999-12-31T23:59:59Z. Anything outside is not a run's
/// time, and bounding it keeps every day and gap computed from it far from overflow.
pub const MAX_TS: Ts = 253_402_300_799;

/// Parse one timestamp; `None` when the text is not a recognisable date and time between
/// 1970 and 9999.
pub fn parse(text: &str, order: DateOrder) -> Option<Ts> {
    parse_unbounded(text, order).filter(|ts| (MIN_TS..=MAX_TS).contains(ts))
}

fn parse_unbounded(text: &str, order: DateOrder) -> Option<Ts> {
    if let Some(ts) = parse_utc_fast(text.as_bytes()) {
        return Some(ts);
    }
    let t = text.trim().trim_matches('"').trim();
    if t.is_empty() {
        return None;
    }
    let b = t.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        return parse_iso(t);
    }
    if t.contains('/') || (t.contains('.') && t.split('.').count() >= 3) {
        return parse_slashed(t, order);
    }
    if let Ok(n) = t.parse::<i64>() {
        // Epoch seconds or milliseconds.
        return Some(if n > 100_000_000_000 { n / 1000 } else { n });
    }
    None
}

/// The shape almost every API writes, `2024-05-02T06:01:13[.fffffff]Z`, without chrono:
/// this runs twice per record on the decode path. Also Entra's `2024-05-02 06:01:13Z` and
/// both without the `Z` (with at most nine digits of fraction, as chrono reads them).
fn parse_utc_fast(b: &[u8]) -> Option<Ts> {
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    // `T` and `Z`: any fraction; otherwise at most nine digits.
    let canonical = b[10] == b'T' && b.last() == Some(&b'Z');
    let rest = &b[19..];
    let frac = if rest.first() == Some(&b'.') {
        let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || (!canonical && digits > 9) {
            return None;
        }
        digits + 1
    } else {
        0
    };
    if !matches!(rest.get(frac..), Some(b"Z" | b"")) {
        return None;
    }
    let (y, m, d) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    let (hh, mm, ss) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(civil_days(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss.min(59))
}

/// The number the `n` ASCII digits at `from` in `b` write; `None` past the end or at any
/// other byte.
fn digits(b: &[u8], from: usize, n: usize) -> Option<i64> {
    b.get(from..from + n)?.iter().try_fold(0i64, |acc, c| {
        let d = c.wrapping_sub(b'0');
        (d <= 9).then(|| acc * 10 + i64::from(d))
    })
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn civil_days(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The shape the connector token service writes, `4/8/2021 11:40:36 PM` (one or two digits
/// of month, day and hour, a four-digit year, seconds without a fraction, an optional
/// `AM`/`PM`), without chrono or allocation; `None` for anything else, which
/// [`parse_slashed`] then reads as before, to the same value.
fn parse_us_fast(b: &[u8], order: DateOrder) -> Option<Ts> {
    let mut at = 0;
    // One or two digits, then `at` past them.
    let small = |b: &[u8], at: &mut usize| -> Option<i64> {
        let d0 = b.get(*at)?.wrapping_sub(b'0');
        if d0 > 9 {
            return None;
        }
        *at += 1;
        match b.get(*at).map(|c| c.wrapping_sub(b'0')) {
            Some(d1) if d1 <= 9 => {
                *at += 1;
                Some(i64::from(d0) * 10 + i64::from(d1))
            }
            _ => Some(i64::from(d0)),
        }
    };
    let a = small(b, &mut at)?;
    if b.get(at) != Some(&b'/') {
        return None;
    }
    at += 1;
    let c = small(b, &mut at)?;
    if b.get(at) != Some(&b'/') {
        return None;
    }
    let y = digits(b, at + 1, 4)?;
    at += 5;
    let (m, d) = match order {
        DateOrder::MonthFirst => (a, c),
        DateOrder::DayFirst => (c, a),
        DateOrder::Auto if a > 12 => (c, a),
        DateOrder::Auto => (a, c),
    };
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let mut secs = 0;
    if at < b.len() {
        if b[at] != b' ' {
            return None;
        }
        at += 1;
        let mut h = small(b, &mut at)?;
        if b.get(at) != Some(&b':') || b.get(at + 3) != Some(&b':') {
            return None;
        }
        let mi = digits(b, at + 1, 2)?;
        let s = digits(b, at + 4, 2)?;
        at += 6;
        let rest = &b[at..];
        let rest = rest.strip_prefix(b" ").unwrap_or(rest);
        if rest.eq_ignore_ascii_case(b"pm") {
            if h < 12 {
                h += 12;
            }
        } else if rest.eq_ignore_ascii_case(b"am") {
            if h == 12 {
                h = 0;
            }
        } else if !rest.is_empty() {
            return None;
        }
        if h > 23 || mi > 59 || s > 59 {
            return None;
        }
        secs = h * 3600 + mi * 60 + s;
    }
    Some(civil_days(y, m, d) * 86_400 + secs)
}

fn parse_iso(t: &str) -> Option<Ts> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp());
    }
    let t = t.trim_end_matches('Z').trim_end_matches(" UTC");
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(dt.and_utc().timestamp());
        }
    }
    if let Ok(dt) = DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(dt.timestamp());
    }
    NaiveDate::parse_from_str(t.get(..10)?, "%Y-%m-%d")
        .ok()
        .filter(|_| t.len() == 10)
        .map(|d| d.and_time(NaiveTime::MIN).and_utc().timestamp())
}

fn parse_slashed(t: &str, order: DateOrder) -> Option<Ts> {
    parse_us_fast(t.as_bytes(), order).or_else(|| parse_slashed_chrono(t, order))
}

fn parse_slashed_chrono(t: &str, order: DateOrder) -> Option<Ts> {
    // Split date and time at the first space (or `, ` as the portal writes it).
    let joined;
    let t = if t.contains(", ") {
        joined = t.replace(", ", " ");
        joined.as_str()
    } else {
        t
    };
    let (date, time) = match t.split_once(' ') {
        Some((d, rest)) => (d, rest.trim()),
        None => (t, ""),
    };
    let sep = if date.contains('/') { '/' } else { '.' };
    let mut parts = date.split(sep);
    let a: u32 = parts.next()?.trim().parse().ok()?;
    let b: u32 = parts.next()?.trim().parse().ok()?;
    let y: i32 = parts.next()?.trim().parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    let y = if y < 100 { 2000 + y } else { y };
    let (m, d) = match order {
        DateOrder::MonthFirst => (a, b),
        DateOrder::DayFirst => (b, a),
        DateOrder::Auto if sep == '.' || a > 12 => (b, a),
        DateOrder::Auto => (a, b),
    };
    let day = NaiveDate::from_ymd_opt(y, m, d)?;
    let time = if time.is_empty() {
        NaiveTime::MIN
    } else {
        parse_clock(time)?
    };
    Some(day.and_time(time).and_utc().timestamp())
}

fn parse_clock(t: &str) -> Option<NaiveTime> {
    let t = t.trim();
    let suffix = |s: &str| {
        let n = t.len().checked_sub(2)?;
        t.get(n..)
            .filter(|e| e.eq_ignore_ascii_case(s))
            .map(|_| t[..n].trim())
    };
    let (clock, pm) = if let Some(c) = suffix("PM") {
        (c, Some(true))
    } else if let Some(c) = suffix("AM") {
        (c, Some(false))
    } else {
        (t.trim_end_matches(['Z', 'z']).trim(), None)
    };
    let mut it = clock.split(':');
    let mut h: u32 = it.next()?.trim().parse().ok()?;
    let m: u32 = it.next()?.trim().parse().ok()?;
    let s: f64 = it
        .next()
        .map(|s| s.trim().parse().ok())
        .unwrap_or(Some(0.0))?;
    match pm {
        Some(true) if h < 12 => h += 12,
        Some(false) if h == 12 => h = 0,
        _ => {}
    }
    NaiveTime::from_hms_opt(h, m, s as u32)
}

/// Parse a .NET `TimeSpan` as token policies and Entra messages write it
/// (`90.00:00:00`, `8:00:00`, `14.00:00:00`) into seconds. `until-revoked` is `None`, and
/// so is a span longer than 10,000 years (no token lives that long; bounding it keeps the
/// sums made from it far from overflow).
pub fn parse_timespan(text: &str) -> Option<i64> {
    const MAX_SPAN: i64 = 10_000 * 366 * 86_400;
    let t = text.trim();
    let (days, clock) = match t.split_once('.') {
        Some((d, rest)) if rest.contains(':') && !d.contains(':') => (d.parse::<i64>().ok()?, rest),
        _ => (0, t),
    };
    let mut it = clock.split(':');
    let h: i64 = it.next()?.trim().parse().ok()?;
    let m: i64 = it.next()?.trim().parse().ok()?;
    let s: f64 = it.next()?.trim().parse().ok()?;
    if !(0.0..=MAX_SPAN as f64).contains(&s) {
        return None;
    }
    let total = days
        .checked_mul(86_400)?
        .checked_add(h.checked_mul(3600)?)?
        .checked_add(m.checked_mul(60)?)?
        .checked_add(s as i64)?;
    (0..=MAX_SPAN).contains(&total).then_some(total)
}

/// `2024-05-02T06:01:13Z`.
pub fn format_iso(ts: Ts) -> String {
    DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// `2024-05-02`.
pub fn format_day(ts: Ts) -> String {
    DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The UTC day number (days since the epoch) of a timestamp.
pub fn day_of(ts: Ts) -> i64 {
    ts.div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(s: &str) -> Ts {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    #[test]
    fn times_outside_1970_to_9999_are_not_times() {
        assert_eq!(parse("-9223372036854775808", DateOrder::Auto), None);
        assert_eq!(parse("9223372036854775807", DateOrder::Auto), None);
        assert_eq!(parse("-1", DateOrder::Auto), None);
        assert_eq!(parse("0", DateOrder::Auto), Some(MIN_TS));
        assert_eq!(parse("9999-12-31T23:59:59Z", DateOrder::Auto), Some(MAX_TS));
        assert_eq!(parse("0000-01-01T00:00:00Z", DateOrder::Auto), None);
        assert_eq!(parse("1714629673", DateOrder::Auto), Some(1_714_629_673));
        assert_eq!(parse("1714629673000", DateOrder::Auto), Some(1_714_629_673));
    }

    #[test]
    fn iso_variants() {
        let want = iso("2022-11-17T14:30:59Z");
        assert_eq!(
            parse("2022-11-17T14:30:59.2453442Z", DateOrder::Auto),
            Some(want)
        );
        assert_eq!(parse("2022-11-17T14:30:59Z", DateOrder::Auto), Some(want));
        assert_eq!(parse("2022-11-17 14:30:59Z", DateOrder::Auto), Some(want));
        assert_eq!(
            parse("2022-11-17T14:30:59.245", DateOrder::Auto),
            Some(want)
        );
        assert_eq!(
            parse("2022-11-17T15:30:59+01:00", DateOrder::Auto),
            Some(want)
        );
        assert_eq!(
            parse("2022-11-17", DateOrder::Auto),
            Some(iso("2022-11-17T00:00:00Z"))
        );
    }

    #[test]
    fn fast_path_agrees_with_chrono() {
        for s in [
            "2022-11-17T14:30:59.2453442Z",
            "2024-02-29T23:59:59Z",
            "1999-12-31T00:00:00.5Z",
            "2000-03-01T12:00:00Z",
            "2100-02-28T01:02:03.1Z",
        ] {
            assert_eq!(parse_utc_fast(s.as_bytes()), Some(iso(s)), "{s}");
        }
        // Entra's space and times without a zone: what chrono's formats make of them.
        for s in [
            "2021-04-08 23:40:36Z",
            "2021-04-08 23:40:36",
            "2024-05-02T06:01:13",
            "2024-05-02 06:01:13.123456789",
            "2024-02-29 23:59:59.5Z",
        ] {
            let fmt = if s.as_bytes()[10] == b'T' {
                "%Y-%m-%dT%H:%M:%S%.f"
            } else {
                "%Y-%m-%d %H:%M:%S%.f"
            };
            let want = NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), fmt)
                .unwrap()
                .and_utc()
                .timestamp();
            assert_eq!(parse_utc_fast(s.as_bytes()), Some(want), "{s}");
            assert_eq!(parse_iso(s), Some(want), "{s}");
        }
        for s in [
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-05-02T06:01:13.Z",
            "2024-05-02 06:01:13.1234567890",
            "2024-05-02 06:01:13 Z",
            "2024-05-02x06:01:13Z",
        ] {
            assert_eq!(parse_utc_fast(s.as_bytes()), None, "{s}");
        }
    }

    proptest::proptest! {
        /// The fast reading of US dates gives what the chrono reading gives, or leaves the
        /// text to it.
        #[test]
        fn us_fast_path_agrees_with_chrono(
            a in 0u32..40, c in 0u32..40, y in 1990u32..2100,
            h in 0u32..30, mi in 0u32..70, s in 0u32..70,
            pad in proptest::bool::ANY, clock in 0usize..4, suffix in 0usize..6,
            order in 0usize..3,
        ) {
            let order = [DateOrder::Auto, DateOrder::MonthFirst, DateOrder::DayFirst][order];
            let a = if pad { format!("{a:02}") } else { a.to_string() };
            let time = match clock {
                0 => String::new(),
                1 => format!(" {h}:{mi:02}:{s:02}"),
                2 => format!(" {h:02}:{mi:02}:{s:02}"),
                _ => format!(" {h}:{mi}:{s}"),
            };
            let suffix = [" PM", " AM", "pm", " am", "", " Z"][suffix];
            let text = format!("{a}/{c}/{y}{time}{}", if clock == 0 { "" } else { suffix });
            let fast = parse_us_fast(text.as_bytes(), order);
            let slow = parse_slashed_chrono(&text, order);
            if fast.is_some() {
                proptest::prop_assert_eq!(fast, slow, "{}", text);
            }
            proptest::prop_assert_eq!(parse_slashed(&text, order), slow, "{}", text);
        }
    }

    #[test]
    fn us_fast_path_reads_the_token_services_dates() {
        for t in [
            "4/8/2021 11:40:36 PM",
            "12/31/2023 12:00:00 AM",
            "1/2/2024",
            "2/29/2024 0:00:00",
        ] {
            assert!(
                parse_us_fast(t.as_bytes(), DateOrder::MonthFirst).is_some(),
                "{t}"
            );
            assert_eq!(
                parse_us_fast(t.as_bytes(), DateOrder::MonthFirst),
                parse_slashed_chrono(t, DateOrder::MonthFirst),
                "{t}"
            );
        }
    }

    #[test]
    fn clocks_in_any_case() {
        // The chrono reading itself: the fast one takes most of these texts first.
        let t = |s| parse_slashed_chrono(s, DateOrder::MonthFirst);
        assert_eq!(t("4/8/2021 11:40:36 PM"), t("4/8/2021 23:40:36"));
        assert_eq!(t("4/8/2021 11:40:36 pm"), t("4/8/2021 23:40:36"));
        assert_eq!(t("4/8/2021, 12:05:00 AM"), t("4/8/2021 00:05:00"));
        assert_eq!(t("4/8/2021 12:05:00Z"), t("4/8/2021 12:05:00"));
        assert_eq!(t("4/8/2021 1:05:00 am"), t("4/8/2021 01:05:00"));
        assert!(t("4/8/2021 25:00:00").is_none());
    }

    #[test]
    fn culture_formats() {
        assert_eq!(
            parse("4/8/2021 11:40:36 PM", DateOrder::Auto),
            Some(iso("2021-04-08T23:40:36Z"))
        );
        assert_eq!(
            parse("5/2/2024, 7:00:02 AM", DateOrder::Auto),
            Some(iso("2024-05-02T07:00:02Z"))
        );
        assert_eq!(
            parse("02/05/2024 08:01", DateOrder::DayFirst),
            Some(iso("2024-05-02T08:01:00Z"))
        );
        assert_eq!(
            parse("17/11/2022 14:33:45", DateOrder::Auto),
            Some(iso("2022-11-17T14:33:45Z"))
        );
        assert_eq!(
            parse("17.11.2022 14:33", DateOrder::Auto),
            Some(iso("2022-11-17T14:33:00Z"))
        );
        assert_eq!(
            parse("12/1/2024 12:05:00 AM", DateOrder::Auto),
            Some(iso("2024-12-01T00:05:00Z"))
        );
        assert_eq!(parse("not a date", DateOrder::Auto), None);
        assert_eq!(parse("13/13/2024", DateOrder::Auto), None);
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("90.00:00:00"), Some(90 * 86_400));
        assert_eq!(parse_timespan("8:00:00"), Some(8 * 3600));
        assert_eq!(parse_timespan("14.00:00:00"), Some(14 * 86_400));
        assert_eq!(parse_timespan("until-revoked"), None);
        assert_eq!(parse_timespan("9999999999999999:0:0"), None);
        assert_eq!(parse_timespan("9223372036854775807.00:00:00"), None);
        assert_eq!(parse_timespan("0:0:1e300"), None);
        assert_eq!(parse_timespan("-1:00:00"), None);
    }

    #[test]
    fn formatting() {
        assert_eq!(
            format_iso(iso("2024-05-02T06:01:13Z")),
            "2024-05-02T06:01:13Z"
        );
        assert_eq!(format_day(iso("2024-05-02T06:01:13Z")), "2024-05-02");
    }
}
