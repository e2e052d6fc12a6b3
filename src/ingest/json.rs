//! JSON records: the field extractor shared by JSON arrays, API pages and JSON Lines, and
//! the array/page decoder.
//!
//! The extractor walks one record with serde, guided by a trie compiled from the kind's
//! JSON paths ([`JsonPlan`]): keys on no path are skipped without building anything
//! (`IgnoredAny`), leaves are captured as borrowed raw values, so strings without escapes
//! are never copied. Keys match normalised (case and punctuation ignored), which covers
//! camelCase APIs and PascalCase PowerShell output with one table.

use super::chunk::Chunk;
use super::mapping::{KindTable, norm, norm_path, norm_user_path};
use super::records::{self, Ctx, Slots, Val};
use crate::model::{Item, Position};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

pub(crate) mod fast;

/// A trie of the kind's JSON paths.
#[derive(Debug)]
pub(crate) struct JsonPlan {
    nodes: Vec<Node>,
}

#[derive(Debug, Default)]
struct Node {
    children: Vec<(Box<[u8]>, usize)>,
    /// The children whose normalised key has at most 16 bytes, by [`pack`]ed key.
    short: hashbrown::HashMap<u128, usize>,
    field: Option<usize>,
    /// The field may be an object or array, kept raw.
    raw: bool,
}

/// A normalised key of at most 16 bytes as one number (zero-padded; normalised keys hold
/// no zero byte, so keys of different lengths differ).
fn pack(k: &[u8]) -> Option<u128> {
    let mut buf = [0u8; 16];
    buf.get_mut(..k.len())?.copy_from_slice(k);
    Some(u128::from_le_bytes(buf))
}

impl JsonPlan {
    /// Compile the table's paths; `overrides` replace a field's paths (`--map`).
    pub(crate) fn new(table: &KindTable, overrides: &[(usize, String)]) -> Self {
        let mut plan = JsonPlan {
            nodes: vec![Node::default()],
        };
        for (i, f) in table.fields.iter().enumerate() {
            let mapped: Vec<Vec<String>> = overrides
                .iter()
                .filter(|(fi, _)| *fi == i)
                .map(|(_, p)| norm_user_path(p))
                .collect();
            let paths: Vec<Vec<String>> = if mapped.is_empty() {
                f.paths.iter().map(|p| norm_path(p)).collect()
            } else {
                mapped
            };
            for p in paths {
                plan.insert(&p, i);
            }
        }
        plan.mark_raw(table.structured);
        plan.index();
        plan
    }

    /// Fill each node's table of short keys.
    fn index(&mut self) {
        for n in &mut self.nodes {
            n.short = n
                .children
                .iter()
                .filter_map(|(k, c)| Some((pack(k)?, *c)))
                .collect();
        }
    }

    fn insert(&mut self, segs: &[String], field: usize) {
        let mut node = 0;
        for s in segs {
            let found = self.nodes[node]
                .children
                .iter()
                .find(|(k, _)| **k == *s.as_bytes())
                .map(|(_, c)| *c);
            node = match found {
                Some(c) => c,
                None => {
                    self.nodes.push(Node::default());
                    let c = self.nodes.len() - 1;
                    self.nodes[node].children.push((s.as_bytes().into(), c));
                    c
                }
            };
        }
        if node != 0 && self.nodes[node].field.is_none() {
            self.nodes[node].field = Some(field);
        }
    }

    fn mark_raw(&mut self, structured: &[usize]) {
        for n in &mut self.nodes {
            n.raw = n.field.is_some_and(|f| structured.contains(&f));
        }
    }

    /// The child of `node` for a key (normalised here).
    #[inline]
    fn child(&self, node: usize, key: &str) -> Option<usize> {
        self.child_in(node, key, 0, key.len())
    }

    /// [`Self::child`] for the key `text[start..end]` (a key written without escapes is
    /// read where it lies in the record). Always inlined: it is the members loop's lookup
    /// of every key, and [`Self::child`] calls it too.
    #[inline(always)]
    fn child_in(&self, node: usize, text: &str, start: usize, end: usize) -> Option<usize> {
        match fold16_in(text.as_bytes(), start, end) {
            Some(k) => self.short_child(node, k),
            None => self.child_slow(node, &text[start..end]),
        }
    }

    /// The child of `node` for a packed normalised key.
    #[inline]
    fn short_child(&self, node: usize, k: u128) -> Option<usize> {
        self.nodes[node].short.get(&k).copied()
    }

    /// [`Self::child`] for a key that is not only letters and digits, or is longer than
    /// 16 bytes.
    fn child_slow(&self, node: usize, key: &str) -> Option<usize> {
        let mut buf = [0u8; 96];
        let mut n = 0;
        for &b in key.as_bytes() {
            if b.is_ascii_alphanumeric() {
                if n == buf.len() {
                    return None;
                }
                buf[n] = b.to_ascii_lowercase();
                n += 1;
            }
        }
        let k = &buf[..n];
        let first = *k.first()?;
        if let Some(p) = pack(k) {
            return self.short_child(node, p);
        }
        self.nodes[node]
            .children
            .iter()
            .find(|(c, _)| c.len() == n && c[0] == first && **c == *k)
            .map(|(_, c)| *c)
    }
}

/// A key of 1 to 16 bytes, all ASCII letters and digits, normalised and [`pack`]ed in one
/// go (the common case, which compilers turn into a few vector instructions); `None` for
/// any other key.
#[inline]
fn fold16(key: &[u8]) -> Option<u128> {
    let len = key.len();
    if len == 0 || len > 16 {
        return None;
    }
    let mut buf = [0u8; 16];
    buf[..len].copy_from_slice(key);
    fold_window(buf, len)
}

/// [`fold16`] of `text[start..end]`. When the text holds 16 bytes from `start` (a key is
/// followed by its value), they are read at once, without copying the key out first.
#[inline]
fn fold16_in(text: &[u8], start: usize, end: usize) -> Option<u128> {
    let len = end.checked_sub(start)?;
    if len == 0 || len > 16 {
        return None;
    }
    match text
        .get(start..start + 16)
        .and_then(|w| <[u8; 16]>::try_from(w).ok())
    {
        Some(window) => fold_window(window, len),
        None => fold16(text.get(start..end)?),
    }
}

/// [`fold16`] of the first `len` (1 to 16) bytes of `window`; the bytes after them are
/// neither checked nor kept. Each half is checked and lowered eight bytes at a time.
#[inline]
fn fold_window(window: [u8; 16], len: usize) -> Option<u128> {
    let key = u128::MAX >> (8 * (16 - len));
    // The bytes past the key become `0` digits, which pass, and are cleared at the end.
    let padded = (u128::from_le_bytes(window) & key) | (u128::from_le_bytes([b'0'; 16]) & !key);
    let (lo, hi) = (padded as u64, (padded >> 64) as u64);
    let (lo, ok_lo) = fold8(lo);
    let (hi, ok_hi) = fold8(hi);
    (ok_lo && ok_hi).then(|| (u128::from(lo) | (u128::from(hi) << 64)) & key)
}

/// Eight bytes with their ASCII letters lowered, and whether every byte is an ASCII letter
/// or digit.
#[inline]
fn fold8(x: u64) -> (u64, bool) {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    const LOW7: u64 = !HIGH;
    // A byte's high bit, after adding `0x80 - c` to its low seven bits, says whether it is
    // at least `c`; the low seven bits plus that are at most 0xfe, so no lane carries.
    let at_least = |t: u64, c: u8| (t + ONES * u64::from(0x80 - c)) & HIGH;
    let ascii = !x & HIGH;
    let t = x & LOW7;
    let folded = t | (ONES * 0x20);
    let letter = at_least(folded, b'a') & !at_least(folded, b'z' + 1) & ascii;
    let digit = at_least(t, b'0') & !at_least(t, b'9' + 1) & ascii;
    (x | (letter >> 2), letter | digit == HIGH)
}

/// A map key, borrowed when it has no escapes.
pub(crate) struct Key<'de>(pub Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

struct NodeSeed<'p, 's, 'de> {
    plan: &'p JsonPlan,
    node: usize,
    slots: &'s mut Slots<'de>,
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// A leaf read as text: strings borrowed, numbers and booleans as written; objects and
/// arrays skipped.
struct TextSeed<'s, 'de> {
    field: usize,
    slots: &'s mut Slots<'de>,
}

impl<'de> DeserializeSeed<'de> for TextSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TextSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.slots.set(self.field, Val::Str(Cow::Borrowed(v)));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.slots
            .set(self.field, Val::Str(Cow::Owned(v.to_string())));
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.visit_str(if v { "true" } else { "false" })
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.visit_str(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.visit_str(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.visit_str(&v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

impl<'de> NodeSeed<'_, '_, 'de> {
    fn set(&mut self, v: Val<'de>) {
        if let Some(f) = self.plan.nodes[self.node].field {
            self.slots.set(f, v);
        }
    }

    fn scalar<E: de::Error>(mut self, text: String, what: de::Unexpected) -> Result<(), E> {
        if self.node == 0 {
            return Err(E::invalid_type(what, &self));
        }
        self.set(Val::Str(Cow::Owned(text)));
        Ok(())
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match self.plan.child(self.node, &key.0) {
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some(c) if self.plan.nodes[c].children.is_empty() && self.plan.nodes[c].raw => {
                    let raw: &'de RawValue = map.next_value()?;
                    if let Some(f) = self.plan.nodes[c].field {
                        self.slots.set_raw(f, raw.get());
                    }
                }
                Some(c) if self.plan.nodes[c].children.is_empty() => {
                    if let Some(f) = self.plan.nodes[c].field {
                        map.next_value_seed(TextSeed {
                            field: f,
                            slots: &mut *self.slots,
                        })?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Some(c) => map.next_value_seed(NodeSeed {
                    plan: self.plan,
                    node: c,
                    slots: &mut *self.slots,
                })?,
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.node == 0 {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_borrowed_str<E: de::Error>(mut self, v: &'de str) -> Result<(), E> {
        if self.node == 0 {
            return Err(E::invalid_type(de::Unexpected::Str(v), &self));
        }
        self.set(Val::Str(Cow::Borrowed(v)));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.scalar(v.to_string(), de::Unexpected::Str(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.scalar(v.to_string(), de::Unexpected::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.scalar(v.to_string(), de::Unexpected::Signed(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.scalar(v.to_string(), de::Unexpected::Unsigned(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.scalar(v.to_string(), de::Unexpected::Float(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        if self.node == 0 {
            return Err(E::invalid_type(de::Unexpected::Unit, &self));
        }
        Ok(())
    }
}

/// Fill `slots` from one JSON record: the fast path when it can decide, else, within the
/// depth limit, the serde walk (which also words the error of an invalid record). Err is
/// why the record is malformed.
fn extract<'a>(plan: &JsonPlan, text: &'a str, slots: &mut Slots<'a>) -> Result<(), String> {
    if fast::extract(plan, text, slots).is_some() {
        return Ok(());
    }
    // A record the fast path takes is valid JSON nested no deeper than the limit, so the
    // depth check is only needed before the serde walk.
    if too_deep(text.as_bytes(), MAX_DEPTH) {
        return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
    }
    *slots = Slots::new();
    extract_serde(plan, text, slots).map_err(|e| reason(&e))
}

/// Fill `slots` from one JSON record with serde_json, guided by the trie.
fn extract_serde<'a>(
    plan: &JsonPlan,
    text: &'a str,
    slots: &mut Slots<'a>,
) -> serde_json::Result<()> {
    // From a `str`, serde_json does not validate UTF-8 again for every string and raw value.
    let mut de = serde_json::Deserializer::from_str(text);
    NodeSeed {
        plan,
        node: 0,
        slots,
    }
    .deserialize(&mut de)?;
    de.end()
}

/// Deepest nesting a record may have.
pub(crate) const MAX_DEPTH: usize = 128;

/// Whether a JSON text nests deeper than `max` (strings are skipped). serde_json skips
/// ignored values without a depth limit, so the limit is checked here; a record with no
/// more than `max` brackets in all is cleared by one fast count.
pub(crate) fn too_deep(bytes: &[u8], max: usize) -> bool {
    if memchr::memchr2_iter(b'{', b'[', bytes).count() <= max {
        return false;
    }
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for &b in bytes {
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Why a record did not parse, for a person.
fn reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if text.contains("recursion limit") {
        "nesting deeper than 128 levels".to_string()
    } else if e.is_eof() {
        format!("record ends early (truncated?): {text}")
    } else if text.starts_with("invalid type") {
        format!("not a JSON object: {text}")
    } else {
        format!("invalid JSON: {text}")
    }
}

/// Decode one JSON record and emit its item. Invalid UTF-8 is decoded lossily and the
/// record kept.
pub(crate) fn decode_record<F: FnMut(Item<'_>)>(
    plan: &JsonPlan,
    ctx: &Ctx,
    bytes: &[u8],
    pos: Position,
    emit: &mut F,
) {
    if bytes.len() > ctx.max_record {
        let limit = super::chunk::mib(ctx.max_record);
        return emit(ctx.malformed(
            pos,
            format!("record is larger than the {limit} limit; skipped"),
        ));
    }
    let lossy;
    let text = match simdutf8::basic::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) => {
            lossy = String::from_utf8_lossy(bytes).into_owned();
            lossy.as_str()
        }
    };
    let mut slots = Slots::new();
    match extract(plan, text, &mut slots) {
        Ok(()) => emit(records::build(ctx, &mut slots, pos)),
        Err(reason) => emit(ctx.malformed(pos, reason)),
    }
}

/// Describe a non-object element.
fn not_object(first: u8) -> &'static str {
    match first {
        b'"' => "a string",
        b'[' => "an array",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        _ => "a number",
    }
}

/// Decode the elements of one chunk.
pub(crate) fn decode_chunk<F: FnMut(Item<'_>)>(
    plan: &JsonPlan,
    ctx: &Ctx,
    chunk: &Chunk,
    emit: &mut F,
) {
    for (pos, reason) in &chunk.notes {
        emit(ctx.malformed(pos.clone(), reason.clone()));
    }
    for &(s, e, n) in &chunk.spans {
        let bytes = &chunk.buf[s..e];
        if bytes[0] != b'{' {
            emit(ctx.malformed(
                Position::Record(n),
                format!("record is {}, not a JSON object", not_object(bytes[0])),
            ));
            continue;
        }
        decode_record(plan, ctx, bytes, Position::Record(n), emit);
    }
}

/// Normalised key paths of a JSON value (objects only, up to `depth` levels), for
/// detecting the kind.
pub(crate) fn key_paths(v: &serde_json::Value, depth: usize, prefix: &str, out: &mut Vec<String>) {
    if depth == 0 {
        return;
    }
    if let serde_json::Value::Object(m) = v {
        for (k, child) in m {
            let p = if prefix.is_empty() {
                norm(k)
            } else {
                format!("{prefix}/{}", norm(k))
            };
            key_paths(child, depth - 1, &p, out);
            out.push(p);
        }
    }
}

/// Test texts made by damaging `seeds`: `per_seed` copies of each non-empty seed, each
/// with one to three edits (a byte removed, inserted or replaced from `alphabet`, or the
/// text cut) drawn from a xorshift generator started at `rng`. Copies that are no longer
/// UTF-8 are left out; each text comes with the index of its seed.
#[cfg(test)]
pub(crate) fn mutations(
    seeds: &[String],
    per_seed: usize,
    alphabet: &[u8],
    mut rng: u64,
) -> Vec<(usize, String)> {
    let mut next = |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let mut out = Vec::new();
    for (k, seed) in seeds.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
        for _ in 0..per_seed {
            let mut b = seed.as_bytes().to_vec();
            for _ in 0..1 + next(3) {
                let at = next(b.len().max(1));
                match next(4) {
                    0 if !b.is_empty() => {
                        b.remove(at.min(b.len() - 1));
                    }
                    1 => b.insert(at.min(b.len()), alphabet[next(alphabet.len())]),
                    2 if !b.is_empty() => {
                        let i = at.min(b.len() - 1);
                        b[i] = alphabet[next(alphabet.len())];
                    }
                    _ => b.truncate(at),
                }
            }
            if let Ok(text) = String::from_utf8(b) {
                out.push((k, text));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::mapping::{RunF, table};
    use crate::model::InputKind;

    #[test]
    fn extractor_borrows_and_follows_paths() {
        let plan = JsonPlan::new(table(InputKind::RunHistory), &[]);
        let rec = br#"{"name":"r1","Ignored":{"deep":[1,2,{"x":"y"}]},"properties":{"Status":"Failed","startTime":"2022-11-17T14:30:59Z","error":{"code":"ActionFailed","message":"An \"action\" failed."},"trigger":{"name":"manual"}}}"#;
        let mut slots = Slots::new();
        extract(&plan, std::str::from_utf8(rec).unwrap(), &mut slots).unwrap();
        assert_eq!(slots.text(RunF::RunId.i()), Some("r1"));
        assert_eq!(slots.text(RunF::Status.i()), Some("Failed"));
        assert_eq!(slots.text(RunF::ErrorCode.i()), Some("ActionFailed"));
        assert_eq!(
            slots.text(RunF::ErrorMessage.i()),
            Some("An \"action\" failed.")
        );
        assert_eq!(slots.text(RunF::Trigger.i()), Some("manual"));
        assert!(matches!(
            slots.take(RunF::RunId.i()),
            Some(Cow::Borrowed("r1"))
        ));
    }

    #[test]
    fn fold16_is_norm_then_pack_for_plain_keys() {
        for key in [
            "a",
            "Z",
            "0",
            "status",
            "startTime",
            "PROPERTIES",
            "abcdefghijklmnop",
            "A1b2C3",
            "connectionName",
            "az09AZ",
        ] {
            assert_eq!(fold16(key.as_bytes()), pack(norm(key).as_bytes()), "{key}");
        }
        for key in [
            "",
            "abcdefghijklmnopq",
            "start_time",
            "@odata.type",
            "a b",
            "a\0b",
            "é",
            "a\u{7f}",
            "[",
            "`",
            "{",
            "@",
            "/",
            ":",
        ] {
            assert_eq!(fold16(key.as_bytes()), None, "{key:?}");
        }
    }

    /// Every byte value, in every lane, among letters or digits: checked and lowered as
    /// one byte at a time would be.
    #[test]
    fn fold8_reads_every_byte_value_in_every_lane() {
        for lane in 0..8 {
            for v in 0..=255u8 {
                for fill in [b'a', b'Z', b'0', b'9'] {
                    let mut bytes = [fill; 8];
                    bytes[lane] = v;
                    let (folded, plain) = fold8(u64::from_le_bytes(bytes));
                    let want = bytes.iter().all(u8::is_ascii_alphanumeric);
                    assert_eq!(plain, want, "{bytes:?}");
                    if want {
                        assert_eq!(folded.to_le_bytes(), bytes.map(|b| b.to_ascii_lowercase()));
                    }
                }
            }
        }
    }

    proptest::proptest! {
        /// A key of 1 to 16 ASCII letters and digits folds to its lowercase packed; any
        /// other key does not fold.
        #[test]
        fn fold16_is_its_definition(key in "[a-zA-Z0-9]{0,17}|[a-zA-Z0-9ðó]{1,8}|[ -~éðó\u{80}\u{7f}\u{0}]{0,17}") {
            let plain = (1..=16).contains(&key.len())
                && key.bytes().all(|b| b.is_ascii_alphanumeric());
            let want = plain.then(|| pack(key.to_ascii_lowercase().as_bytes())).flatten();
            proptest::prop_assert_eq!(fold16(key.as_bytes()), want);
        }
    }

    proptest::proptest! {
        /// Folding a key where it lies in a text, whatever follows it, is folding the key
        /// alone.
        #[test]
        fn keys_fold_in_place_as_alone(
            before in "[a-zA-Z0-9_\":{ ]{0,20}",
            key in "[a-zA-Z0-9]{1,16}|[a-zA-Z0-9_@.é ]{0,20}",
            after in "[a-zA-Z0-9]{0,20}|[a-zA-Z0-9_\":{}é ]{0,20}",
        ) {
            let text = format!("{before}{key}{after}");
            let (start, end) = (before.len(), before.len() + key.len());
            proptest::prop_assert_eq!(
                fold16_in(text.as_bytes(), start, end),
                fold16(key.as_bytes())
            );
            // With sixteen bytes behind the key, whatever the draw: the in-place fold,
            // not its fallback to `fold16`.
            let long = format!("{text}{}", "z".repeat(16));
            proptest::prop_assert_eq!(
                fold16_in(long.as_bytes(), start, end),
                fold16(key.as_bytes())
            );
        }
    }

    #[test]
    fn child_keys_match_normalised() {
        let plan = JsonPlan::new(table(InputKind::RunHistory), &[]);
        let props = plan.child(0, "properties").unwrap();
        assert_eq!(plan.child(0, "Properties"), Some(props));
        assert_eq!(plan.child(0, "PROPER_ties"), Some(props));
        assert_eq!(plan.child(0, "propertie"), None);
        assert_eq!(plan.child(0, "propertiess"), None);
        assert_eq!(plan.child(0, ""), None);
        assert_eq!(plan.child(0, "_-"), None);
        assert_eq!(plan.child(0, "type"), None);
        let start = plan.child(props, "startTime").unwrap();
        assert_eq!(plan.nodes[start].field, Some(RunF::Start.i()));
        assert_eq!(plan.child(props, "start_time"), Some(start));
        // Longer than 16 bytes once normalised.
        let owner = plan
            .child(
                0,
                "_ownerid_value@OData.Community.Display.V1.FormattedValue",
            )
            .unwrap();
        assert_eq!(plan.nodes[owner].field, Some(RunF::Owner.i()));
        assert_eq!(
            plan.child(0, "_ownerid_value@OData.Community.Display.V1"),
            None
        );
        // Exactly 16 bytes, and a miss of 16 bytes.
        let plan = JsonPlan::new(
            table(InputKind::RunHistory),
            &[(RunF::Owner.i(), "abcdefghijklmnop".to_string())],
        );
        assert!(plan.child(0, "ABCDEFGHIJKLMNOP").is_some());
        assert!(plan.child(0, "abcdefghijklmnoq").is_none());
        // Every child of every node of every kind is found by its own key.
        for t in crate::ingest::mapping::TABLES {
            let plan = JsonPlan::new(t, &[]);
            for (n, node) in plan.nodes.iter().enumerate() {
                for (k, c) in &node.children {
                    let key = std::str::from_utf8(k).unwrap();
                    assert_eq!(plan.child(n, key), Some(*c), "{key}");
                    assert_eq!(plan.child(n, &key.to_uppercase()), Some(*c), "{key}");
                }
            }
        }
    }

    #[test]
    fn non_objects_and_deep_nesting_are_errors() {
        let plan = JsonPlan::new(table(InputKind::RunHistory), &[]);
        let mut slots = Slots::new();
        assert!(extract(&plan, "[1]", &mut slots).is_err());
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(too_deep(deep.as_bytes(), MAX_DEPTH));
        let wide = format!("{{\"a\":[{}]}}", "[1],".repeat(300) + "[2]");
        assert!(!too_deep(wide.as_bytes(), MAX_DEPTH));
        assert!(!too_deep(
            format!("{{\"s\":\"{}\"}}", "[".repeat(300)).as_bytes(),
            MAX_DEPTH
        ));
    }
}
