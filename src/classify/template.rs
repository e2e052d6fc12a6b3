//! Message templates: a message with the values that differ from run to run zeroed in
//! place, at the same length, so that one classification serves every run that failed the
//! same way.
//!
//! Zeroed (each hex digit or digit becomes `0`; dashes, colons, letters and everything else
//! stay):
//! - GUIDs, `8-4-4-4-12` hex digits between non-word bytes;
//! - ISO dates, `YYYY-MM-DD` after a non-word byte, with the time that follows them
//!   (`[T ]HH:MM:SS`, a fraction, `Z`), before a non-word byte;
//! - US dates, `M/D/YYYY` after a non-word byte, with the time that follows them
//!   (` H:MM:SS`), before a non-word byte;
//! - runs of [`DIGIT_RUN`] or more digits at the start of a word (run names such as
//!   `08584966763275764690000529018CU25`).
//!
//! A word byte is an ASCII letter, digit or `_`, as in a regex's ASCII `\b`.
//!
//! Offsets in a template are offsets in its message (only ASCII bytes change, to ASCII), so
//! a rule's evidence and the token fields are read from the message at the places the
//! template gave. The classifier decides on the template, so a verdict depends on the
//! template alone and may be reused for every message with the same one
//! ([`super::Classifier::classify`]). Built-in rules never look inside these values: a test
//! checks their literals (`overlaps_masked_value`), and a differential test in
//! `classify::tests` compares the diagnoses of generated messages with and without templates.

/// Digit runs this long or longer at the start of a word are zeroed.
pub(crate) const DIGIT_RUN: usize = 15;

/// Byte classes, looked up in [`CLASS`].
const DIGIT: u8 = 1;
const WORD: u8 = 2;

/// Each byte's classes.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let mut k = 0;
        if b.is_ascii_digit() {
            k |= DIGIT;
        }
        if b.is_ascii_alphanumeric() || b == b'_' {
            k |= WORD;
        }
        t[c] = k;
        c += 1;
    }
    t
};

#[inline]
fn word(b: u8) -> bool {
    CLASS[b as usize] & WORD != 0
}

/// A GUID's template.
const ZERO_GUID: &[u8; 36] = b"00000000-0000-0000-0000-000000000000";

/// Whether `b[i]` is a non-word byte or outside `b` (a boundary on either side).
#[inline]
fn edge(b: &[u8], i: Option<usize>) -> bool {
    match i {
        Some(i) => b.get(i).is_none_or(|&c| !word(c)),
        None => true,
    }
}

#[inline]
fn digits(b: &[u8], at: usize, n: usize) -> bool {
    b.get(at..at + n)
        .is_some_and(|s| s.iter().all(|&c| CLASS[c as usize] & DIGIT != 0))
}

/// Whether the 36 bytes at `at` are a GUID.
#[inline]
fn guid_at(b: &[u8], at: usize) -> bool {
    b.get(at..at + 36).is_some_and(crate::model::is_guid)
}

/// Zero the digits of `b[from..to]`.
fn zero(b: &mut [u8], from: usize, to: usize) {
    for c in &mut b[from..to] {
        if CLASS[*c as usize] & DIGIT != 0 {
            *c = b'0';
        }
    }
}

/// Turn a message's bytes into its template, in place.
pub(crate) fn mask(b: &mut [u8]) {
    mask_dashed(b);
    if memchr::memchr(b'/', b).is_some() {
        mask_us_dates(b);
    }
    mask_digit_runs(b);
}

/// GUIDs and ISO dates, found from their dashes.
fn mask_dashed(b: &mut [u8]) {
    let mut from = 0;
    while let Some(d) = memchr::memchr(b'-', &b[from..]).map(|i| from + i) {
        from = d + 1;
        // A GUID whose first dash this is.
        if d >= 8 && guid_at(b, d - 8) && edge(b, (d - 8).checked_sub(1)) && edge(b, Some(d + 28)) {
            b[d - 8..d + 28].copy_from_slice(ZERO_GUID);
            from = d + 28;
            continue;
        }
        // An ISO date whose first dash this is.
        if d >= 4
            && digits(b, d - 4, 4)
            && edge(b, (d - 4).checked_sub(1))
            && digits(b, d + 1, 2)
            && b.get(d + 3) == Some(&b'-')
            && digits(b, d + 4, 2)
        {
            let date_end = d + 6;
            let end = iso_time_end(b, date_end)
                .filter(|&e| edge(b, Some(e)))
                .or_else(|| edge(b, Some(date_end)).then_some(date_end));
            if let Some(end) = end {
                zero(b, d - 4, end);
                from = end;
            }
        }
    }
}

/// The end of `[T ]HH:MM:SS[.f+][Z]` at `at`, if that is what follows.
fn iso_time_end(b: &[u8], at: usize) -> Option<usize> {
    if !matches!(b.get(at), Some(b'T' | b' ')) {
        return None;
    }
    let t = at + 1;
    if !(digits(b, t, 2)
        && b.get(t + 2) == Some(&b':')
        && digits(b, t + 3, 2)
        && b.get(t + 5) == Some(&b':')
        && digits(b, t + 6, 2))
    {
        return None;
    }
    let mut end = t + 8;
    if b.get(end) == Some(&b'.') && digits(b, end + 1, 1) {
        end += 1;
        while digits(b, end, 1) {
            end += 1;
        }
    }
    if b.get(end) == Some(&b'Z') {
        end += 1;
    }
    Some(end)
}

/// US dates (`4/8/2021 11:40:36 PM`), found from their first slash.
fn mask_us_dates(b: &mut [u8]) {
    let mut from = 0;
    while let Some(s) = memchr::memchr(b'/', &b[from..]).map(|i| from + i) {
        from = s + 1;
        // One or two digits of month before the slash, after a non-word byte.
        let start = match (s.checked_sub(2), s.checked_sub(1)) {
            (Some(a), Some(_)) if digits(b, a, 2) => a,
            (_, Some(a)) if digits(b, a, 1) => a,
            _ => continue,
        };
        if !edge(b, start.checked_sub(1)) {
            continue;
        }
        let day = s + 1;
        let day_len = if digits(b, day, 2) {
            2
        } else if digits(b, day, 1) {
            1
        } else {
            continue;
        };
        let slash = day + day_len;
        if b.get(slash) != Some(&b'/') || !digits(b, slash + 1, 4) {
            continue;
        }
        let date_end = slash + 5;
        let end = us_time_end(b, date_end)
            .filter(|&e| edge(b, Some(e)))
            .or_else(|| edge(b, Some(date_end)).then_some(date_end));
        if let Some(end) = end {
            zero(b, start, end);
            from = end;
        }
    }
}

/// The end of ` H:MM:SS` at `at`, if that is what follows.
fn us_time_end(b: &[u8], at: usize) -> Option<usize> {
    if b.get(at) != Some(&b' ') {
        return None;
    }
    let h = at + 1;
    let hl = if digits(b, h, 2) {
        2
    } else if digits(b, h, 1) {
        1
    } else {
        return None;
    };
    let m = h + hl;
    (b.get(m) == Some(&b':')
        && digits(b, m + 1, 2)
        && b.get(m + 3) == Some(&b':')
        && digits(b, m + 4, 2))
    .then_some(m + 6)
}

/// Whether all eight bytes of `w` are ASCII digits: high nibble 3, low nibble at most 9
/// (so adding 6 carries into no high nibble).
#[inline]
fn all_digits(w: u64) -> bool {
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    w & HIGH == 0x3030_3030_3030_3030 && ((w & !HIGH) + 0x0606_0606_0606_0606) & HIGH == 0
}

/// Runs of [`DIGIT_RUN`] or more digits at a word's start. Every such run holds eight digits
/// at an offset that is a multiple of eight, so only those blocks are tested.
fn mask_digit_runs(b: &mut [u8]) {
    // `k` stays a multiple of eight.
    let mut k = 0;
    while let Some(i) = b.get(k..).and_then(|rest| {
        rest.chunks_exact(8).position(|c| {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            all_digits(u64::from_le_bytes(w))
        })
    }) {
        let block = k + i * 8;
        let mut start = block;
        while start > 0 && b[start - 1].is_ascii_digit() {
            start -= 1;
        }
        let mut end = block + 8;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if end - start >= DIGIT_RUN && edge(b, start.checked_sub(1)) {
            zero(b, start, end);
        }
        k = end.next_multiple_of(8);
    }
}

/// Whether a literal could match text overlapping a zeroed value: whether some part of it
/// could be bytes of such a value that a template changes, with the bytes around that part
/// as the value's edges need them. A part inside the literal (bounded by the literal's own
/// bytes on both sides) is a whole value, so it must be as long as one.
/// Used to check that the rules never look inside what templates zero.
#[cfg(test)]
pub(crate) fn overlaps_masked_value(literal: &str) -> bool {
    let l = literal.to_ascii_lowercase().into_bytes();
    let n = l.len();
    struct Kind {
        /// Bytes the value is made of.
        inside: fn(u8) -> bool,
        /// Bytes the template changes in it.
        changed: fn(u8) -> bool,
        /// What may follow the value.
        after: fn(u8) -> bool,
        /// Its shortest length.
        min: usize,
    }
    let kinds = [
        // GUIDs.
        Kind {
            inside: |c| c.is_ascii_hexdigit() || c == b'-',
            changed: |c| c.is_ascii_hexdigit(),
            after: |c| !word(c),
            min: 36,
        },
        // ISO and US dates with their times (`0/0/0000` at the shortest).
        Kind {
            inside: |c| c.is_ascii_digit() || b"-:/. tz".contains(&c),
            changed: |c| c.is_ascii_digit(),
            after: |c| !word(c),
            min: 8,
        },
        // Digit runs.
        Kind {
            inside: |c| c.is_ascii_digit(),
            changed: |c| c.is_ascii_digit(),
            after: |c| !c.is_ascii_digit(),
            min: DIGIT_RUN,
        },
    ];
    for k in &kinds {
        for i in 0..n {
            // A value starts after a non-word byte (or before the literal).
            if i > 0 && word(l[i - 1]) {
                continue;
            }
            for j in i + 1..=n {
                if !(k.inside)(l[j - 1]) {
                    break;
                }
                let part = &l[i..j];
                let whole = i > 0 && j < n;
                if part.iter().any(|&c| (k.changed)(c))
                    && (j == n || (k.after)(l[j]))
                    && (!whole || part.len() >= k.min)
                {
                    return true;
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn masked(s: &str) -> String {
        let mut b = s.as_bytes().to_vec();
        mask(&mut b);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn values_are_zeroed_at_their_length() {
        let cases = [
            (
                "Trace ID: 4f594dbd-39ea-4039-940d-5fb8da2c2167 Correlation ID: g-e1d1db7d-7964-4f43-9ace-dd78b8f660c1,",
                "Trace ID: 00000000-0000-0000-0000-000000000000 Correlation ID: g-00000000-0000-0000-0000-000000000000,",
            ),
            (
                "Timestamp: 2024-01-10 23:49:18Z\",\"issued on 2020-09-01T12:13:41.5336734Z and",
                "Timestamp: 0000-00-00 00:00:00Z\",\"issued on 0000-00-00T00:00:00.0000000Z and",
            ),
            (
                "UTC TimeStamp=4/8/2021 11:40:36 PM, on 12/31/2023.",
                "UTC TimeStamp=0/0/0000 00:00:00 PM, on 00/00/0000.",
            ),
            (
                "Request tracking id '08584966763275764690000529018CU25'.",
                "Request tracking id '00000000000000000000000000000CU25'.",
            ),
            (
                "on 2024-01-10 only; 123456789012345 and 2024-01-10T23:49 (no seconds)",
                "on 0000-00-00 only; 000000000000000 and 2024-01-10T23:49 (no seconds)",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(masked(text), want, "{text}");
        }
    }

    #[test]
    fn what_only_looks_like_a_value_is_kept() {
        for text in [
            // Not between non-word bytes.
            "x4f594dbd-39ea-4039-940d-5fb8da2c2167",
            "4f594dbd-39ea-4039-940d-5fb8da2c2167x",
            "a2024-01-10",
            "2024-01-10x",
            "a4/8/2021",
            // Short or inside a word.
            "AADSTS700082: error_codes\":[700082,50076] code 429 in 23 seconds",
            "idx10223 12345678901234 x123456789012345678",
            "was inactive for 90.00:00:00.",
            // Wrong shapes.
            "4f594dbd-39ea-4039-940d-5fb8da2c216",
            "2024-1-10 12/2024 1/2/24",
        ] {
            assert_eq!(masked(text), text);
        }
    }

    #[test]
    fn literals_that_could_see_a_value_are_found() {
        for lit in [
            "trace id: 0",
            "-0000-",
            "deadbeef",
            "2024",
            "code 4",
            "at 12:00",
            "id '0858",
        ] {
            assert!(overlaps_masked_value(lit), "{lit}");
        }
        for lit in [
            "aadsts",
            "failed to refresh access token for service:",
            "trace id:",
            "inactive for",
            "idx10223",
            "status code",
            "access token",
        ] {
            assert!(!overlaps_masked_value(lit), "{lit}");
        }
    }

    proptest! {
        /// Bytes that change are digits or hex letters and become `0`; nothing else moves.
        /// (Two alphabets: one with every byte the shapes use, one dense in digits, where
        /// runs of digits end anywhere, also at the end of the text.)
        #[test]
        fn only_digits_and_hex_letters_change(
            s in "[0-9a-fA-Fxz: TZ/._'-]{0,80}|[0-9 x/-]{0,80}|[0-9]{0,40}",
        ) {
            let m = masked(&s);
            prop_assert_eq!(m.len(), s.len());
            for (a, b) in s.bytes().zip(m.bytes()) {
                prop_assert!(a == b || (b == b'0' && a.is_ascii_hexdigit()), "{s:?} -> {m:?}");
            }
            // A template is its own template.
            prop_assert_eq!(masked(&m), m.clone());
        }
    }
}
