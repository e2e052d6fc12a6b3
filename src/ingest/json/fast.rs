//! The extractor's fast path: one pass over a record's bytes, guided by the same trie as
//! the serde walk ([`super::extract_serde`]), without serde's visitor machinery.
//!
//! It is strict on purpose: it accepts only records that serde_json accepts, and then fills
//! the slots exactly as the serde walk would, value for value and in the same order. On
//! anything else it declines (returns `None`) and the caller runs the serde walk, which
//! decides and words the error. Declined, beyond invalid JSON: a `\u` escape of a
//! surrogate in a string serde_json would decode (a key, a text leaf), a number read as
//! text that is not a plain integer of at most 18 digits (serde_json would reformat it),
//! nesting deeper than [`super::MAX_DEPTH`].

use super::{JsonPlan, MAX_DEPTH};
use crate::ingest::records::{Slots, Val, unescape};
use std::borrow::Cow;

/// Fill `slots` from one record, or `None` when the serde walk must decide. On `None`,
/// `slots` may hold part of the record.
pub(super) fn extract<'a>(plan: &JsonPlan, text: &'a str, slots: &mut Slots<'a>) -> Option<()> {
    let mut s = Scan::new(text);
    s.ws();
    if s.peek()? != b'{' {
        return None;
    }
    s.object(plan, 0, slots, 1)?;
    s.end()
}

/// How a field of a serde-derived struct of `Option`s is declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `Option<&RawValue>`: any value, as written; `null` is `None`.
    Raw,
    /// `Option<Cow<str>>`: a string, decoded; `null` is `None`; any other value is an error.
    Text,
}

/// A field: the keys serde matches it by (its name and aliases), and its kind.
pub(crate) type FieldSpec = (&'static [&'static str], Kind);

/// A field's value: the JSON of a [`Kind::Raw`] field, the text of a [`Kind::Text`] one.
#[derive(Debug, PartialEq)]
pub(crate) enum Field<'a> {
    Raw(&'a str),
    Text(Cow<'a, str>),
}

/// The fields of a struct, by the position of their [`FieldSpec`].
pub(crate) type Fields<'a, const N: usize> = [Option<Field<'a>>; N];

/// Read `text` as serde's derive reads a struct of the `spec` fields (each an `Option`
/// with `#[serde(default)]`, unknown keys ignored), or `None` where serde must decide:
/// anything but an object (serde also takes an array), invalid JSON, a key with an escape,
/// a field given twice (an error to serde), a text field holding neither a string nor
/// `null`, nesting deeper than [`MAX_DEPTH`].
pub(crate) fn fields<'a, const N: usize>(
    text: &'a str,
    spec: &[FieldSpec; N],
) -> Option<Fields<'a, N>> {
    let mut s = Scan::new(text);
    s.ws();
    let out = s.fields(spec, 1)?;
    s.end()?;
    Some(out)
}

/// Read `text` as a list of such structs: an object of them keyed by name (each key
/// decoded), or an array of them (no keys). `None` where serde must decide, as for
/// [`fields`], and for anything but an object or an array.
pub(crate) fn list<'a, const N: usize>(
    text: &'a str,
    spec: &[FieldSpec; N],
) -> Option<Vec<(Option<Cow<'a, str>>, Fields<'a, N>)>> {
    let mut s = Scan::new(text);
    s.ws();
    let mut out = Vec::new();
    match s.peek()? {
        b'{' => s.members(b'}', |s| {
            let k = s.key()?;
            let name = s.text(&k)?;
            out.push((Some(name), s.fields(spec, 2)?));
            Some(())
        })?,
        b'[' => s.members(b']', |s| {
            out.push((None, s.fields(spec, 2)?));
            Some(())
        })?,
        _ => return None,
    }
    s.end()?;
    Some(out)
}

/// A cursor over one JSON text.
struct Scan<'a> {
    t: &'a str,
    b: &'a [u8],
    i: usize,
}

/// A string's content, between its quotes.
struct Str {
    start: usize,
    end: usize,
    escaped: bool,
}

impl<'a> Scan<'a> {
    fn new(t: &'a str) -> Self {
        Scan {
            t,
            b: t.as_bytes(),
            i: 0,
        }
    }

    /// Only whitespace left.
    fn end(&mut self) -> Option<()> {
        self.ws();
        (self.i == self.b.len()).then_some(())
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    /// Skip JSON whitespace (the four bytes serde_json skips).
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    /// Consume `lit` (`true`, `false`, `null`).
    #[inline]
    fn literal(&mut self, lit: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + lit.len())? == lit {
            self.i += lit.len();
            Some(())
        } else {
            None
        }
    }

    /// A string whose opening quote is at the cursor. Validated as serde_json does (no
    /// control characters, only JSON's escapes, `\u` with four hex digits); `decoded`
    /// also declines `\u` escapes of surrogates, which serde_json rejects when unpaired
    /// in a string it decodes. Always inlined: out of line, its result went back to the
    /// caller through memory, a load the next step waited on.
    #[inline(always)]
    fn string(&mut self, decoded: bool) -> Option<Str> {
        self.i += 1;
        let start = self.i;
        let mut escaped = false;
        loop {
            self.i = special(self.b, self.i);
            match self.b.get(self.i)? {
                b'"' => {
                    let end = self.i;
                    self.i += 1;
                    return Some(Str {
                        start,
                        end,
                        escaped,
                    });
                }
                b'\\' => {
                    escaped = true;
                    match self.b.get(self.i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                        b'u' => {
                            let n = hex4(self.b.get(self.i + 2..self.i + 6)?)?;
                            if decoded && (0xD800..=0xDFFF).contains(&n) {
                                return None;
                            }
                            self.i += 6;
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
    }

    /// A decoded string's text: borrowed without escapes.
    #[inline]
    fn text(&self, s: &Str) -> Option<Cow<'a, str>> {
        if s.escaped {
            unescape(&self.t[s.start - 1..s.end + 1]).map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(&self.t[s.start..s.end]))
        }
    }

    /// A number at the cursor (validated and skipped).
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        Some(())
    }

    #[inline]
    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }

    /// A number read as text: only a plain integer of at most 18 digits (not `-0`), whose
    /// text serde_json's `u64`/`i64` would write back unchanged.
    fn integer_text(&mut self) -> Option<&'a str> {
        let start = self.i;
        self.number()?;
        let t = &self.t[start..self.i];
        let digits = t.strip_prefix('-').unwrap_or(t);
        let plain = digits.bytes().all(|c| c.is_ascii_digit())
            && digits.len() <= 18
            && (digits == "0" && t.len() == 1 || !digits.starts_with('0'));
        plain.then_some(t)
    }

    /// Step into an object or array (the cursor on its opening byte): true, with the
    /// closing byte consumed, when it is empty.
    fn open(&mut self, close: u8) -> Option<bool> {
        self.i += 1;
        self.ws();
        let empty = self.peek()? == close;
        if empty {
            self.i += 1;
        }
        Some(empty)
    }

    /// Skip one value, validating it as serde_json's `ignore_value` does.
    fn skip(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string(false).map(drop),
            b'{' if depth < MAX_DEPTH => self.members(b'}', |s| {
                s.key()?;
                s.skip(depth + 1)
            }),
            b'[' if depth < MAX_DEPTH => self.members(b']', |s| s.skip(depth + 1)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// The members of an object or the elements of an array (the cursor on its opening
    /// byte), each read by `each`, up to `close`.
    #[inline]
    fn members(&mut self, close: u8, mut each: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if self.open(close)? {
            return Some(());
        }
        loop {
            each(self)?;
            if self.after_member(close)? {
                return Some(());
            }
        }
    }

    /// A member's key and the `:` after it.
    #[inline]
    fn key(&mut self) -> Option<Str> {
        if self.peek()? != b'"' {
            return None;
        }
        let k = self.string(true)?;
        self.colon()?;
        Some(k)
    }

    /// After a key: whitespace, `:`, whitespace.
    #[inline]
    fn colon(&mut self) -> Option<()> {
        self.ws();
        if self.next()? != b':' {
            return None;
        }
        self.ws();
        Some(())
    }

    /// After a member or element: `,` (then whitespace; `Some(false)`) or `close`
    /// (`Some(true)`).
    #[inline]
    fn after_member(&mut self, close: u8) -> Option<bool> {
        self.ws();
        match self.next()? {
            b',' => {
                self.ws();
                Some(false)
            }
            c if c == close => Some(true),
            _ => None,
        }
    }

    /// An object the trie follows (the cursor on `{`): as `NodeSeed::visit_map`.
    fn object(
        &mut self,
        plan: &JsonPlan,
        node: usize,
        slots: &mut Slots<'a>,
        depth: usize,
    ) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.members(b'}', |s| {
            let k = s.key()?;
            let child = if k.escaped {
                plan.child(node, &s.text(&k)?)
            } else {
                plan.child_in(node, s.t, k.start, k.end)
            };
            let Some(c) = child else {
                return s.skip(depth);
            };
            let n = &plan.nodes[c];
            if !n.children.is_empty() {
                s.node(plan, c, slots, depth)
            } else if n.raw {
                let start = s.i;
                s.skip(depth)?;
                if let Some(f) = n.field {
                    slots.set_raw(f, &s.t[start..s.i]);
                }
                Some(())
            } else {
                match n.field {
                    Some(f) => s.leaf(f, slots, depth),
                    None => s.skip(depth),
                }
            }
        })
    }

    /// A struct of `spec` fields (the cursor on its `{`), as [`fields`] reads it.
    fn fields<const N: usize>(
        &mut self,
        spec: &[FieldSpec; N],
        depth: usize,
    ) -> Option<Fields<'a, N>> {
        if depth > MAX_DEPTH || self.peek()? != b'{' {
            return None;
        }
        let mut out: Fields<'a, N> = std::array::from_fn(|_| None);
        let mut given = [false; N];
        self.members(b'}', |s| {
            let k = s.key()?;
            if k.escaped {
                return None;
            }
            let key = &s.t[k.start..k.end];
            let Some(i) = spec.iter().position(|(keys, _)| keys.contains(&key)) else {
                return s.skip(depth);
            };
            if std::mem::replace(&mut given[i], true) {
                return None;
            }
            let start = s.i;
            match (spec[i].1, s.peek()?) {
                (_, b'n') => s.literal(b"null")?,
                (Kind::Raw, _) => {
                    s.skip(depth)?;
                    out[i] = Some(Field::Raw(&s.t[start..s.i]));
                }
                (Kind::Text, b'"') => {
                    let st = s.string(true)?;
                    out[i] = Some(Field::Text(s.text(&st)?));
                }
                (Kind::Text, _) => return None,
            }
            Some(())
        })?;
        Some(out)
    }

    /// The value of a trie node with children: as `NodeSeed` below the root.
    fn node(
        &mut self,
        plan: &JsonPlan,
        node: usize,
        slots: &mut Slots<'a>,
        depth: usize,
    ) -> Option<()> {
        let field = plan.nodes[node].field;
        match self.peek()? {
            b'{' => self.object(plan, node, slots, depth + 1),
            b'[' => self.skip(depth),
            _ => self.scalar(field, slots),
        }
    }

    /// A leaf read as text: as `TextSeed` (objects and arrays skipped).
    #[inline]
    fn leaf(&mut self, field: usize, slots: &mut Slots<'a>, depth: usize) -> Option<()> {
        match self.peek()? {
            b'{' | b'[' => self.skip(depth),
            _ => self.scalar(Some(field), slots),
        }
    }

    /// A string, number, boolean or null, set as text (null sets nothing).
    #[inline]
    fn scalar(&mut self, field: Option<usize>, slots: &mut Slots<'a>) -> Option<()> {
        let v = match self.peek()? {
            b'"' => {
                let s = self.string(true)?;
                self.text(&s)?
            }
            b't' => {
                self.literal(b"true")?;
                Cow::Borrowed("true")
            }
            b'f' => {
                self.literal(b"false")?;
                Cow::Borrowed("false")
            }
            b'n' => return self.literal(b"null"),
            b'-' | b'0'..=b'9' => Cow::Borrowed(self.integer_text()?),
            _ => return None,
        };
        if let Some(f) = field {
            slots.set(f, Val::Str(v));
        }
        Some(())
    }
}

/// Whether a byte ends a run of plain string content: `"`, `\` or a control character.
#[inline]
fn is_special(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

/// The index of the first `"`, `\` or control character at or after `i` (`b.len()` if
/// none), sixteen bytes at a time; of the last fifteen or fewer, eight as one word, then
/// the rest a byte at a time.
#[inline]
fn special(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + 16) {
        let m = special_mask16(chunk);
        if m != 0 {
            return i + m.trailing_zeros() as usize;
        }
        i += 16;
    }
    if let Some(chunk) = b.get(i..i + 8) {
        let m = special_mask(chunk);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !is_special(b[i]) {
        i += 1;
    }
    i
}

/// For sixteen bytes, a mask with bit `k` set when byte `k` is a `"`, `\` or a control
/// character: one SSE2 compare of each kind (SSE2 is part of every x86-64 CPU).
#[cfg(target_arch = "x86_64")]
#[inline]
fn special_mask16(chunk: &[u8]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    assert!(chunk.len() >= 16);
    // SAFETY: SSE2 is part of the x86-64 baseline, so every x86-64 CPU runs these
    // instructions; the assert keeps the unaligned sixteen-byte load within `chunk`.
    unsafe {
        let x = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
        // A byte below 0x20 is its own unsigned minimum with 0x1f.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
    }
}

/// For sixteen bytes, a mask whose lowest set bit is the first `"`, `\` or control
/// character (bits above it may be set too): the word masks of the halves, one bit per
/// byte.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline]
fn special_mask16_words(chunk: &[u8]) -> u32 {
    let bits = |m: u64| (0..8).fold(0u32, |acc, k| acc | (((m >> (8 * k + 7)) & 1) as u32) << k);
    bits(special_mask(&chunk[..8])) | bits(special_mask(&chunk[8..16])) << 8
}

#[cfg(not(target_arch = "x86_64"))]
use special_mask16_words as special_mask16;

/// For eight bytes, a word whose lowest set bit is the high bit of the first `"`, `\` or
/// control byte (`0` if none).
#[inline]
fn special_mask(chunk: &[u8]) -> u64 {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
    // A byte's high bit is set in each mask when the byte matches; a borrow can only set
    // bits above a true match, so the lowest set bit is the first match.
    let ctrl = x.wrapping_sub(ONES * 0x20) & !x;
    let q = x ^ (ONES * u64::from(b'"'));
    let q = q.wrapping_sub(ONES) & !q;
    let bs = x ^ (ONES * u64::from(b'\\'));
    let bs = bs.wrapping_sub(ONES) & !bs;
    (ctrl | q | bs) & HIGH
}

/// Four hex digits.
#[inline]
fn hex4(h: &[u8]) -> Option<u32> {
    h.iter()
        .try_fold(0u32, |n, &c| Some(n * 16 + (c as char).to_digit(16)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_finds_the_first_quote_backslash_or_control() {
        for (s, want) in [
            ("", 0),
            ("abc", 3),
            ("abc\"", 3),
            ("abcdefghij\"", 10),
            ("abcdefgh\\ij\"", 8),
            ("abcdefghijklmnop\tq", 16),
            ("\"\\", 0),
            ("aé€\u{1F600}zzzzzzzz\"", 18),
            ("abcdefg\u{7f}\u{80}hijk\"", 14),
        ] {
            assert_eq!(special(s.as_bytes(), 0), want, "{s:?}");
        }
        // Every position, every special byte, from every start, in a long run.
        for pos in 0..100 {
            for c in [b'"', b'\\', 0u8, 0x1f] {
                let mut v = vec![b'x'; 100];
                v[pos] = c;
                for start in 0..=pos {
                    assert_eq!(special(&v, start), pos);
                }
                assert_eq!(special(&v, pos + 1), 100);
                assert_eq!(special(&v[..pos], 0), pos);
            }
        }
    }

    #[test]
    fn special_reads_every_byte_value_in_every_lane() {
        // Every byte value at every position of a block of sixteen and of the tail behind
        // it, after plain bytes: found exactly when it is `"`, `\` or a control character.
        for c in 0..=255u8 {
            for len in [16, 23, 40] {
                for pos in 0..len {
                    let mut v = vec![b'x'; len];
                    v[pos] = c;
                    let want = if is_special(c) { pos } else { len };
                    assert_eq!(special(&v, 0), want, "byte {c:#04x} at {pos} of {len}");
                    // Behind it, a special byte the scan must still find.
                    v.push(b'"');
                    assert_eq!(
                        special(&v, 0),
                        want,
                        "byte {c:#04x} at {pos} of {len}, then a quote"
                    );
                }
            }
            // Both ways of masking sixteen bytes, whichever this target uses.
            for pos in 0..16 {
                let mut v = [b'x'; 16];
                v[pos] = c;
                let want = if is_special(c) { pos as u32 } else { 32 };
                assert_eq!(
                    special_mask16(&v).trailing_zeros(),
                    want,
                    "byte {c:#04x} at {pos}"
                );
                assert_eq!(
                    special_mask16_words(&v).trailing_zeros(),
                    want,
                    "byte {c:#04x} at {pos}"
                );
            }
        }
    }

    #[test]
    fn string_text_decodes_escapes() {
        for (t, want) in [
            (r#""plain""#, "plain"),
            (
                r#""a\"b\\c\/d\be\ff\ng\rh\ti""#,
                "a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti",
            ),
            (r#""\u00e9\u20ac x \u0041""#, "é€ x A"),
            (r#""\\r\\n trailing \\""#, "\\r\\n trailing \\"),
        ] {
            let mut s = Scan::new(t);
            let str = s.string(true).unwrap();
            assert_eq!(s.text(&str).as_deref(), Some(want), "{t}");
        }
    }

    #[test]
    fn strings_validate_like_serde_json() {
        let scan = |t: &str, decoded: bool| {
            let mut s = Scan {
                t,
                b: t.as_bytes(),
                i: 0,
            };
            s.string(decoded).map(|x| (x.end, x.escaped))
        };
        assert_eq!(scan(r#""abc""#, true), Some((4, false)));
        assert_eq!(scan(r#""a\"c""#, true), Some((5, true)));
        assert_eq!(scan(r#""a\u00e9""#, true), Some((8, true)));
        assert_eq!(scan(r#""\ud83d\ude00""#, false), Some((13, true)));
        assert_eq!(scan(r#""\ud83d\ude00""#, true), None);
        assert_eq!(scan(r#""a\x""#, false), None);
        assert_eq!(scan(r#""a\u00g0""#, false), None);
        assert_eq!(scan("\"a\tb\"", false), None);
        assert_eq!(scan(r#""abc"#, false), None);
        assert_eq!(scan(r#""a\"#, false), None);
    }

    #[test]
    fn integers_as_text_only_when_written_as_serde_would() {
        let int = |t: &str| {
            let mut s = Scan {
                t,
                b: t.as_bytes(),
                i: 0,
            };
            s.integer_text().map(str::to_string)
        };
        assert_eq!(int("0"), Some("0".into()));
        assert_eq!(int("42"), Some("42".into()));
        assert_eq!(int("-7"), Some("-7".into()));
        assert_eq!(int("123456789012345678"), Some("123456789012345678".into()));
        assert_eq!(int("1234567890123456789"), None);
        assert_eq!(int("-0"), None);
        assert_eq!(int("1.5"), None);
        assert_eq!(int("1e3"), None);
        assert_eq!(int("-"), None);
        // A leading zero ends the number; the caller then fails on the next digit.
        assert_eq!(int("01"), Some("0".into()));
    }
}

#[cfg(test)]
mod agreement {
    //! The fast path against the serde walk: on every input, either it declines or it
    //! fills exactly the slots the serde walk fills (and the serde walk accepts).

    use super::super::extract_serde;
    use super::*;
    use crate::ingest::mapping::TABLES;
    use std::io::Read;

    /// Records of every shape the samples and the malformed corpus hold, and edge cases.
    fn seeds() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out: Vec<String> = Vec::new();
        let add_value = |v: &serde_json::Value, out: &mut Vec<String>| {
            let mut records = vec![v];
            if let Some(a) = v.as_array() {
                records = a.iter().collect();
            } else if let Some(a) = v.get("value").and_then(|x| x.as_array()) {
                records.extend(a.iter());
            }
            for r in records {
                out.push(r.to_string());
                out.push(serde_json::to_string_pretty(r).unwrap());
            }
        };
        for dir in [
            "samples/runs",
            "samples/inventory",
            "samples/signins",
            "samples/policy",
        ] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let p = e.unwrap().path();
                let name = p.to_string_lossy().to_string();
                if name.ends_with(".json") {
                    let text = std::fs::read_to_string(&p).unwrap();
                    add_value(&serde_json::from_str(&text).unwrap(), &mut out);
                } else if name.ends_with(".jsonl.gz") {
                    let mut text = String::new();
                    flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap())
                        .read_to_string(&mut text)
                        .unwrap();
                    out.extend(text.lines().take(200).map(str::to_string));
                }
            }
        }
        for e in std::fs::read_dir(root.join("tests/malformed")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "jsonl" || x == "json")
                && let Ok(text) = std::fs::read_to_string(&p)
            {
                out.extend(text.lines().take(200).map(str::to_string));
            }
        }
        let edge = [
            r#"{"name":"a","properties":{"status":"Failed","error":{"code":"X","message":"m"}}}"#,
            r#"{ "name" : "a" , "properties" : { "status" : "Failed" } }"#,
            "{\n\t\"name\":\r\n\"a\"}",
            r#"{"na\u006de":"a\u00e9","st\"atus":"x","status":"Failed"}"#,
            r#"{"name":"\ud83d\ude00","status":"Failed"}"#,
            r#"{"name":"\ud83d","status":"Failed"}"#,
            r#"{"skipped":"\ud83d","status":"Failed"}"#,
            r#"{"\ud83d":1,"status":"Failed"}"#,
            r#"{"run_id":1.5,"status":-0,"owner":1e3,"connection":-12,"trigger":0}"#,
            r#"{"run_id":12345678901234567890,"status":-9223372036854775808}"#,
            r#"{"run_id":"","name":"b","status":" ","Status":"Failed"}"#,
            r#"{"properties":{"status":"A"},"properties":{"status":"B"}}"#,
            r#"{"properties":"text","status":"Failed"}"#,
            r#"{"properties":["a",{"status":"x"}],"status":true}"#,
            r#"{"properties":{"error":"plain text","status":false}}"#,
            r#"{"properties":{"error":null,"actions":{"A":{"status":"Failed","error":{"code":"c","message":"m"}}},"status":"Failed"}}"#,
            r#"{"properties":{"actions":[{"name":"A","status":"Failed"}],"status":"Failed"}}"#,
            r#"{"properties":{"actions":"nope","status":"Failed"}}"#,
            r#"{"properties":{"actions":null,"status":"Failed"}}"#,
            r#"{"Internal":{"properties":{"status":"Failed"}},"name":"x"}"#,
            r#"{"status":{"a":[1,2,{"b":null}]},"name":["x"],"owner":{"\ud83d":1}}"#,
            r#"{"deep":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]],"status":"x"}"#,
            r#"{"a":1,}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul,"b":2}"#,
            r#"{"a" 1}"#,
            r#"{"a":1} x"#,
            r#"{"a":1}  "#,
            r#"{a:1}"#,
            "{\"a\":\"tab\tinside\"}",
            r#"{"a":"\x"}"#,
            r#"[{"a":1}]"#,
            r#""text""#,
            "{}",
            "",
        ];
        out.extend(edge.iter().map(|s| s.to_string()));
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(127), "]".repeat(127));
        out.push(deep);
        let deeper = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        out.push(deeper);
        out
    }

    fn agree(plan: &JsonPlan, text: &str) -> bool {
        let mut fast = Slots::new();
        let f = extract(plan, text, &mut fast);
        let mut slow = Slots::new();
        let s = extract_serde(plan, text, &mut slow);
        if f.is_some() {
            assert!(
                s.is_ok(),
                "fast path accepted what serde rejects: {text:?}: {s:?}"
            );
            assert_eq!(fast.values(), slow.values(), "{text:?}");
        }
        f.is_some()
    }

    #[test]
    fn fast_path_agrees_with_the_serde_walk() {
        let seeds = seeds();
        assert!(seeds.len() > 100);
        let plans: Vec<JsonPlan> = TABLES.iter().map(|t| JsonPlan::new(t, &[])).collect();
        let mut taken = 0;
        for text in &seeds {
            for plan in &plans {
                if agree(plan, text) {
                    taken += 1;
                }
            }
        }
        // The common shapes take the fast path.
        assert!(taken * 10 > seeds.len() * plans.len() * 8, "{taken}");
    }

    #[test]
    fn fast_path_agrees_on_mutated_records() {
        const BYTES: &[u8] = b"\"\\{}[],: \t\nu0-.eE+19afnt\x01/";
        let plans: Vec<JsonPlan> = TABLES.iter().map(|t| JsonPlan::new(t, &[])).collect();
        let texts = super::super::mutations(&seeds(), 60, BYTES, 0x9E37_79B9_7F4A_7C15);
        let tried = texts.len();
        let taken = texts
            .iter()
            .filter(|(k, text)| agree(&plans[k % plans.len()], text))
            .count();
        // Enough mutated records take the fast path for the comparison to mean something
        // (about a third do).
        assert!(taken * 10 > tried, "{taken} of {tried}");
    }
}
