//! The literal scanner: a case-insensitive Aho-Corasick DFA over short literal prefixes,
//! walked by hand, with each prefix hit verified against the full literals behind it.
//!
//! `aho_corasick::dfa::DFA` builds the automaton, which is then copied into a compact table:
//! states renumbered breadth first (the shallow states, where the walk spends nearly all its
//! time, share a few kilobytes), match states moved to the end so that "is this a match?" is
//! one comparison, bytes folded into the automaton's equivalence classes, rows padded to a
//! multiple of 8 classes, and a state named by the start of its row over 8, so that the next
//! state is at `(id << 3) + class`: one address computation, no multiply or variable shift,
//! and 16-bit ids for up to 65,536 x 8 entries (32-bit ids beyond). Each match state keeps a
//! flat list of the literals behind it, verified on the bytes past the prefix.
//!
//! Measurements shaped this (the `throughput` and `instructions` tests in `classify::tests`;
//! callgrind counts per message of the bench mix, which do not depend on the machine's load):
//! - `AhoCorasick::find_overlapping_iter` re-enters the search for every match; walking the
//!   DFA's transition table directly is faster on short messages.
//! - Walking `aho_corasick::dfa::DFA` itself (32-bit premultiplied ids, rows padded to a power
//!   of two, 932 KB for the built-in rules) cost 3,336 instructions and 117 L1 data misses per
//!   message in `Classifier::scan`, 5,204 instructions per message in all. The compact table
//!   (1,804 states x 40 classes of `u16`, 156 KB with the literal lists) brings that to 2,719
//!   and 83, 4,659 in all; verifying literal tails eight bytes at a time, 4,501. 16-bit ids with a variable shift (rows of 64) saved instructions
//!   only once no call was left in the loop: a report call in the loop made the compiler keep
//!   the table, the class map and the lanes' states on the stack.
//! - The walk is a chain of dependent loads, so long texts are cut into four slices scanned in
//!   one interleaved loop, which lets the CPU overlap the chains. A slice starts
//!   (prefix length - 1) bytes early so no literal straddling a cut is lost, which is why the
//!   automaton holds short prefixes: 12-byte prefixes keep that overlap small while leaving
//!   few false prefix hits to verify (6 bytes: many hits; full literals: long overlaps; both
//!   measured about 10% slower on the bench mix with the `aho_corasick` table).
//!
//! Every occurrence of every literal is reported (overlapping), which the rules need, in the
//! order a walk of the `aho_corasick` DFA with the same lanes reports them (a test checks).

use aho_corasick::Anchored;
use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use hashbrown::{HashMap, HashSet};

/// Literal prefixes of this many bytes go into the automaton.
const PREFIX: usize = 12;

/// Texts this long or longer are scanned as this many interleaved slices: the DFA walk is a
/// chain of dependent loads, and independent chains let the CPU overlap them.
const LANES: usize = 4;
const LANE_MIN: usize = 96;

/// Match states reached and not yet reported, at most.
const PENDING: usize = 8;

/// State ids are the start of their row in the table over 2^ROW_SHIFT.
const ROW_SHIFT: u32 = 3;

/// A prefix's length and the literals (index, lower-cased bytes) that start with it.
type Behind = (usize, Vec<(usize, Box<[u8]>)>);

/// One literal behind a match state.
#[derive(Clone, Copy, Debug)]
struct Out {
    /// The literal's index.
    lit: u32,
    /// The length of its prefix in the automaton (the match state's depth for it).
    plen: u32,
    /// Its full length.
    len: u32,
    /// Where its bytes past the prefix start in `tails`.
    tail: u32,
}

/// State ids of the transition table: 16 bits when the automaton has at most 65,536 states.
trait Id: Copy {
    fn idx(self) -> usize;
}

impl Id for u16 {
    #[inline(always)]
    fn idx(self) -> usize {
        self as usize
    }
}

impl Id for u32 {
    #[inline(always)]
    fn idx(self) -> usize {
        self as usize
    }
}

/// The next state of `s` on class `c` sits at `(s << ROW_SHIFT) + c`.
#[derive(Debug)]
enum Table {
    Narrow(Box<[u16]>),
    Wide(Box<[u32]>),
}

/// A set of literals, matched ASCII case-insensitively.
#[derive(Debug)]
pub struct Literals {
    /// Each byte's equivalence class.
    class: [u8; 256],
    /// A table row's length: the class count rounded up to a multiple of 8.
    stride: usize,
    /// Transitions; state 0 is the start state.
    table: Table,
    /// States from this one on are match states (as ids: a row's start over 8).
    first_match: usize,
    /// The longest prefix in the automaton.
    max_prefix: usize,
    /// Match state `first_match + k` has the literals `outs[out_at[k]..out_at[k + stride / 8]]`.
    out_at: Box<[u32]>,
    outs: Box<[Out]>,
    /// The lower-cased bytes of the literals past their prefixes.
    tails: Box<[u8]>,
}

impl Literals {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Literals, String> {
        Literals::with_prefix(patterns, PREFIX)
    }

    /// Like [`Literals::new`] with a chosen prefix length (for measurements).
    pub fn with_prefix<S: AsRef<str>>(patterns: &[S], prefix: usize) -> Result<Literals, String> {
        let (prefixes, behind) = prefixes(patterns, prefix)?;
        let dfa = build_dfa(&prefixes)?;
        let start = dfa
            .start_state(Anchored::No)
            .map_err(|e| format!("literal automaton: {e}"))?;
        let max_prefix = behind.iter().map(|b| b.0).max().unwrap_or(1);

        // Every state reachable from the start, breadth first: shallow states get low ids and
        // share cache lines.
        let mut order: Vec<StateID> = vec![start];
        let mut seen: HashSet<StateID> = HashSet::from([start]);
        let mut k = 0;
        while k < order.len() {
            let sid = order[k];
            for b in 0..=255u8 {
                let next = dfa.next_state(Anchored::No, sid, b);
                if seen.insert(next) {
                    order.push(next);
                }
            }
            k += 1;
        }
        if dfa.is_match(start) {
            return Err("literal automaton: the start state matches".into());
        }
        // Match states last, each group keeping its breadth-first order.
        let (plain, matching): (Vec<StateID>, Vec<StateID>) =
            order.into_iter().partition(|&sid| !dfa.is_match(sid));
        let first_match = plain.len();
        let states: Vec<StateID> = plain.into_iter().chain(matching).collect();
        let id: HashMap<StateID, u32> = states
            .iter()
            .enumerate()
            .map(|(i, &sid)| (sid, i as u32))
            .collect();
        let rows: Vec<[u32; 256]> = states
            .iter()
            .map(|&sid| std::array::from_fn(|b| id[&dfa.next_state(Anchored::No, sid, b as u8)]))
            .collect();

        // Bytes that every state treats alike share a class.
        let mut class = [0u8; 256];
        let mut classes: HashMap<Vec<u32>, u8> = HashMap::new();
        let mut reps: Vec<usize> = Vec::new();
        for b in 0..256 {
            let column: Vec<u32> = rows.iter().map(|r| r[b]).collect();
            let n = classes.len();
            class[b] = *classes.entry(column).or_insert_with(|| {
                reps.push(b);
                n as u8
            });
        }
        // Rows are a multiple of 8 classes long, and a state is named by the start of its row
        // over 8: the walk finds the next state at `(id << 3) + class` with one address
        // computation, and 16-bit ids cover 65,536 x 8 table entries.
        let stride = reps.len().next_multiple_of(1 << ROW_SHIFT);
        let mut next = vec![0u32; states.len() * stride];
        let row_id = |s: u32| (s as usize * stride) >> ROW_SHIFT;
        for (s, row) in rows.iter().enumerate() {
            for (c, &b) in reps.iter().enumerate() {
                next[s * stride + c] = row_id(row[b]) as u32;
            }
        }
        let table = if row_id(states.len() as u32) <= 1 << 16 {
            Table::Narrow(next.iter().map(|&s| s as u16).collect())
        } else {
            Table::Wide(next.into_boxed_slice())
        };
        // Indexed by match-state id minus the first one: the ids are `stride / 8` apart.
        let step = stride >> ROW_SHIFT;
        let mut out_at = vec![0u32; (states.len() - first_match) * step + 1];
        let mut outs = Vec::new();
        let mut tails = Vec::new();
        for (m, &sid) in states[first_match..].iter().enumerate() {
            for k in 0..dfa.match_len(sid) {
                let (plen, lits) = &behind[dfa.match_pattern(sid, k).as_usize()];
                for (lit, full) in lits {
                    outs.push(Out {
                        lit: *lit as u32,
                        plen: *plen as u32,
                        len: full.len() as u32,
                        tail: tails.len() as u32,
                    });
                    tails.extend_from_slice(&full[*plen..]);
                }
            }
            out_at[(m + 1) * step] = outs.len() as u32;
        }
        Ok(Literals {
            class,
            stride,
            table,
            first_match: row_id(first_match as u32),
            max_prefix,
            out_at: out_at.into_boxed_slice(),
            outs: outs.into_boxed_slice(),
            tails: tails.into_boxed_slice(),
        })
    }

    /// Call `f(literal, start, end)` for every occurrence of every literal. The order is
    /// not that of the text: long texts are scanned in [`LANES`] interleaved slices.
    #[inline]
    pub fn for_each(&self, hay: &[u8], mut f: impl FnMut(usize, usize, usize)) {
        match &self.table {
            Table::Narrow(t) => self.walk(t, hay, &mut f),
            Table::Wide(t) => self.walk(t, hay, &mut f),
        }
    }

    /// The walk keeps no call in its loops (calls would push the table, the class map and the
    /// lanes' states out of registers): the match states it reaches wait in a small buffer and
    /// are reported, in the order they were reached, when it fills and at the end.
    #[inline(always)]
    fn walk<T: Id>(&self, table: &[T], hay: &[u8], f: &mut impl FnMut(usize, usize, usize)) {
        let (class, first_match) = (&self.class, self.first_match);
        let step = |s: usize, b: u8| table[(s << ROW_SHIFT) + class[b as usize] as usize].idx();
        let mut pending = [(0usize, 0usize); PENDING];
        let mut np = 0;
        // Keep a match state reached at byte `i`; report the buffer when it is full.
        macro_rules! keep {
            ($s:expr, $i:expr) => {
                pending[np % PENDING] = ($s, $i);
                np += 1;
                if np == PENDING {
                    self.report_all(hay, &pending, f);
                    np = 0;
                }
            };
        }
        let n = hay.len();
        if n < LANE_MIN {
            let mut s = 0;
            for (i, &b) in hay.iter().enumerate() {
                s = step(s, b);
                if s >= first_match {
                    keep!(s, i);
                }
            }
            self.report_all(hay, &pending[..np], f);
            return;
        }
        let Lanes {
            lo,
            pos,
            end,
            common,
        } = Lanes::new(n, self.max_prefix);
        let lane: [&[u8]; LANES] = std::array::from_fn(|l| &hay[pos[l]..pos[l] + common]);
        let mut s = [0usize; LANES];
        #[allow(clippy::needless_range_loop)] // `j` indexes all the lanes at once
        for j in 0..common {
            for l in 0..LANES {
                s[l] = step(s[l], lane[l][j]);
                if s[l] >= first_match && pos[l] + j >= lo[l] {
                    keep!(s[l], pos[l] + j);
                }
            }
        }
        for l in 0..LANES {
            for i in pos[l] + common..end[l] {
                s[l] = step(s[l], hay[i]);
                if s[l] >= first_match && i >= lo[l] {
                    keep!(s[l], i);
                }
            }
        }
        self.report_all(hay, &pending[..np], f);
    }

    /// Report the match states `(state, byte offset)` in order.
    #[inline(never)]
    fn report_all(
        &self,
        hay: &[u8],
        pending: &[(usize, usize)],
        f: &mut impl FnMut(usize, usize, usize),
    ) {
        for &(s, i) in pending {
            self.report(hay, s, i, f);
        }
    }

    /// The literals behind match state `s` reached at byte `i`, verified against the text.
    #[inline(always)]
    fn report(&self, hay: &[u8], s: usize, i: usize, f: &mut impl FnMut(usize, usize, usize)) {
        let k = s - self.first_match;
        let step = self.stride >> ROW_SHIFT;
        let (from, to) = (self.out_at[k] as usize, self.out_at[k + step] as usize);
        for o in &self.outs[from..to] {
            let (plen, len) = (o.plen as usize, o.len as usize);
            let start = i + 1 - plen;
            let end = start + len;
            if len == plen
                || (end <= hay.len()
                    && lower_eq(
                        &hay[start + plen..end],
                        &self.tails[o.tail as usize..][..len - plen],
                    ))
            {
                f(o.lit as usize, start, end);
            }
        }
    }

    /// Heap bytes used by the automaton.
    pub fn memory_usage(&self) -> usize {
        let table = match &self.table {
            Table::Narrow(t) => std::mem::size_of_val(&**t),
            Table::Wide(t) => std::mem::size_of_val(&**t),
        };
        table
            + std::mem::size_of_val(&*self.out_at)
            + std::mem::size_of_val(&*self.outs)
            + self.tails.len()
    }

    /// The number of states in the automaton.
    #[cfg(test)]
    fn states(&self) -> usize {
        match &self.table {
            Table::Narrow(t) => t.len() / self.stride,
            Table::Wide(t) => t.len() / self.stride,
        }
    }
}

/// How a long text is cut into [`LANES`] slices scanned in step: lane `l` reports the
/// matches whose prefix ends in `lo[l]..end[l]` and starts scanning at `pos[l]`, (longest
/// prefix - 1) bytes early, so that no prefix straddling a cut is missed; all lanes scan
/// `common` bytes together, then each finishes alone.
struct Lanes {
    lo: [usize; LANES],
    pos: [usize; LANES],
    end: [usize; LANES],
    common: usize,
}

impl Lanes {
    fn new(n: usize, max_prefix: usize) -> Lanes {
        let chunk = n / LANES;
        let lo: [usize; LANES] = std::array::from_fn(|l| l * chunk);
        let pos = lo.map(|x| x.saturating_sub(max_prefix - 1));
        let end = std::array::from_fn(|l| if l == LANES - 1 { n } else { (l + 1) * chunk });
        let common = (0..LANES).map(|l| end[l] - pos[l]).min().unwrap_or(0);
        Lanes {
            lo,
            pos,
            end,
            common,
        }
    }
}

/// Does `hay`, ASCII-lower-cased, equal `lower` (as long, already lower-cased)? Eight bytes at
/// a time: the tails of long literals (a token message's keys) are verified on every message
/// that has them.
#[inline]
fn lower_eq(hay: &[u8], lower: &[u8]) -> bool {
    /// Bytes 'A'..='Z' of `x` lower-cased; other bytes, non-ASCII included, kept.
    fn lower8(x: u64) -> u64 {
        const ONES: u64 = 0x0101_0101_0101_0101;
        let low7 = x & (0x7f * ONES);
        let ge_a = low7 + (0x80 - u64::from(b'A')) * ONES;
        let gt_z = low7 + (0x80 - u64::from(b'Z') - 1) * ONES;
        let upper = ge_a & !gt_z & !x & (0x80 * ONES);
        x | (upper >> 2)
    }
    if hay.len() != lower.len() {
        return false;
    }
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
    let mut h = hay.chunks_exact(8);
    let mut l = lower.chunks_exact(8);
    for (a, b) in h.by_ref().zip(l.by_ref()) {
        if lower8(word(a)) != word(b) {
            return false;
        }
    }
    h.remainder()
        .iter()
        .zip(l.remainder())
        .all(|(a, b)| a.to_ascii_lowercase() == *b)
}

/// The distinct lower-cased prefixes of `patterns` (at most `prefix` bytes), and for each
/// the literals behind it.
fn prefixes<S: AsRef<str>>(
    patterns: &[S],
    prefix: usize,
) -> Result<(Vec<Vec<u8>>, Vec<Behind>), String> {
    let mut prefixes: Vec<Vec<u8>> = Vec::new();
    let mut behind: Vec<Behind> = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        let full = p.as_ref().as_bytes().to_ascii_lowercase();
        if full.is_empty() {
            return Err(format!("literal #{} is empty", i + 1));
        }
        let pre = full[..full.len().min(prefix.max(1))].to_vec();
        let k = match prefixes.iter().position(|q| *q == pre) {
            Some(k) => k,
            None => {
                prefixes.push(pre.clone());
                behind.push((pre.len(), Vec::new()));
                prefixes.len() - 1
            }
        };
        behind[k].1.push((i, full.into_boxed_slice()));
    }
    Ok((prefixes, behind))
}

fn build_dfa(prefixes: &[Vec<u8>]) -> Result<DFA, String> {
    DFA::builder()
        .ascii_case_insensitive(true)
        .prefilter(false)
        .build(prefixes)
        .map_err(|e| format!("literal automaton: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Literals {
        /// The same automaton with 32-bit state ids.
        fn widened(mut self) -> Literals {
            if let Table::Narrow(t) = &self.table {
                self.table = Table::Wide(t.iter().map(|&s| u32::from(s)).collect());
            }
            self
        }

        fn all(&self, hay: &[u8]) -> Vec<(usize, usize, usize)> {
            let mut got = Vec::new();
            self.for_each(hay, |p, s, e| got.push((p, s, e)));
            got
        }
    }

    /// The scanner this module replaced: `aho_corasick::dfa::DFA` walked through its
    /// `Automaton` methods, with the same prefixes, lanes and order of reports.
    struct Reference {
        dfa: DFA,
        start: StateID,
        max_prefix: usize,
        behind: Vec<Behind>,
    }

    impl Reference {
        fn new(patterns: &[String]) -> Reference {
            let (prefixes, behind) = prefixes(patterns, PREFIX).unwrap();
            let dfa = build_dfa(&prefixes).unwrap();
            let start = dfa.start_state(Anchored::No).unwrap();
            let max_prefix = behind.iter().map(|b| b.0).max().unwrap_or(1);
            Reference {
                dfa,
                start,
                max_prefix,
                behind,
            }
        }

        fn all(&self, hay: &[u8]) -> Vec<(usize, usize, usize)> {
            let mut out = Vec::new();
            let n = hay.len();
            if n < LANE_MIN {
                let mut sid = self.start;
                for (i, &b) in hay.iter().enumerate() {
                    sid = self.dfa.next_state(Anchored::No, sid, b);
                    self.report(hay, sid, i, &mut out);
                }
                return out;
            }
            let Lanes {
                lo,
                mut pos,
                end,
                common,
            } = Lanes::new(n, self.max_prefix);
            let mut sid = [self.start; LANES];
            for _ in 0..common {
                for l in 0..LANES {
                    let i = pos[l];
                    sid[l] = self.dfa.next_state(Anchored::No, sid[l], hay[i]);
                    if i >= lo[l] {
                        self.report(hay, sid[l], i, &mut out);
                    }
                    pos[l] = i + 1;
                }
            }
            for l in 0..LANES {
                for i in pos[l]..end[l] {
                    sid[l] = self.dfa.next_state(Anchored::No, sid[l], hay[i]);
                    if i >= lo[l] {
                        self.report(hay, sid[l], i, &mut out);
                    }
                }
            }
            out
        }

        fn report(&self, hay: &[u8], sid: StateID, i: usize, out: &mut Vec<(usize, usize, usize)>) {
            if !self.dfa.is_match(sid) {
                return;
            }
            for k in 0..self.dfa.match_len(sid) {
                let (plen, lits) = &self.behind[self.dfa.match_pattern(sid, k).as_usize()];
                let start = i + 1 - plen;
                for (id, full) in lits {
                    let end = start + full.len();
                    if end <= hay.len()
                        && (full.len() == *plen || hay[start..end].eq_ignore_ascii_case(full))
                    {
                        out.push((*id, start, end));
                    }
                }
            }
        }
    }

    /// Every literal the classifier's automaton holds: the rules' and the special ones.
    fn builtin_patterns() -> Vec<String> {
        crate::classify::rules::compile(crate::classify::rules::builtin_list())
            .unwrap()
            .patterns
    }

    /// The project's seeded generator, drawing indices.
    struct Rng(crate::r#gen::rng::Rng);

    impl Rng {
        fn new(seed: u64) -> Self {
            Rng(crate::r#gen::rng::Rng::new(seed, 0))
        }
        fn below(&mut self, n: usize) -> usize {
            self.0.below(n as u64) as usize
        }
    }

    /// Texts made of literals (whole, cut short, in mixed case), ASCII noise and non-ASCII
    /// text (including characters whose Unicode case folding is ASCII: `ſ`, `K`, `İ`).
    fn texts(pats: &[String], count: usize, seed: u64) -> Vec<Vec<u8>> {
        const NOISE: &[&str] = &[
            " ",
            ". ",
            ", ",
            "\\r\\n",
            "\"",
            "\\\"",
            ":",
            "{",
            "}",
            "[700082]",
            "AADSTS50076",
            "g-6c1d2e3f-0000-4000-8000-000000000001",
            "é",
            "ſ",
            "K",
            "İ",
            "ß",
            "日本語",
            "😀",
            "\u{0}",
            "0123456789",
            "x",
        ];
        let mut rng = Rng::new(seed);
        (0..count)
            .map(|_| {
                let want = match rng.below(4) {
                    0 => rng.below(LANE_MIN),
                    1 => LANE_MIN + rng.below(64),
                    _ => rng.below(1200),
                };
                let mut t: Vec<u8> = Vec::new();
                while t.len() < want {
                    match rng.below(6) {
                        0..=2 => {
                            let p = pats[rng.below(pats.len())].as_bytes();
                            let cut = if rng.below(4) == 0 {
                                rng.below(p.len() + 1)
                            } else {
                                p.len()
                            };
                            for &b in &p[..cut] {
                                t.push(if rng.below(3) == 0 {
                                    b.to_ascii_uppercase()
                                } else {
                                    b
                                });
                            }
                        }
                        3 | 4 => t.extend_from_slice(NOISE[rng.below(NOISE.len())].as_bytes()),
                        _ => t.push(rng.below(256) as u8),
                    }
                }
                t
            })
            .collect()
    }

    #[test]
    fn overlapping_case_insensitive() {
        let l = Literals::new(&[
            "token has expired",
            "expired due to inactivity",
            "aadsts",
            "token",
            "expi",
        ])
        .unwrap();
        let mut got = l.all(b"The refresh TOKEN has EXPIRED due to inactivity (aadsts70008)");
        got.sort();
        assert_eq!(
            got,
            vec![
                (0, 12, 29),
                (1, 22, 47),
                (2, 49, 55),
                (3, 12, 17),
                (4, 22, 26)
            ]
        );
        assert!(l.memory_usage() > 0);
        assert!(Literals::new(&[""]).is_err());
    }

    #[test]
    fn lanes_find_what_one_pass_finds() {
        let pats = [
            "aadsts",
            "token has expired",
            "expired",
            "ed due",
            "x",
            "inactivity",
        ];
        let l = Literals::new(&pats).unwrap();
        let text = "AADSTS70008: The refresh token has expired due to inactivity. ".repeat(7);
        for cut in 0..text.len() {
            let hay = &text.as_bytes()[cut..];
            let mut got: Vec<_> = l.all(hay).into_iter().map(|(p, s, e)| (s, e, p)).collect();
            got.sort();
            let mut want = Vec::new();
            for (p, lit) in pats.iter().enumerate() {
                for s in 0..hay.len() {
                    if hay[s..].len() >= lit.len()
                        && hay[s..s + lit.len()].eq_ignore_ascii_case(lit.as_bytes())
                    {
                        want.push((s, s + lit.len(), p));
                    }
                }
            }
            want.sort();
            assert_eq!(got, want, "cut {cut}");
        }
    }

    #[test]
    fn literal_cut_off_by_the_end_of_the_text() {
        let l = Literals::new(&["failed to refresh"]).unwrap();
        assert!(l.all(b"... failed to ref").is_empty());
        assert_eq!(l.all(b"... FAILED TO REFRESH"), vec![(0, 4, 21)]);
    }

    #[test]
    fn reports_what_the_aho_corasick_dfa_reports_in_the_same_order() {
        let pats = builtin_patterns();
        let ours = Literals::new(&pats).unwrap();
        let reference = Reference::new(&pats);
        let mut hits = 0;
        let mut texts = texts(&pats, 3000, 0x9e37_79b9_7f4a_7c15);
        texts.extend(
            crate::classify::tests::bench_messages()
                .iter()
                .map(|m| m.as_bytes().to_vec()),
        );
        for t in &texts {
            let want = reference.all(t);
            hits += want.len();
            assert_eq!(ours.all(t), want, "{:?}", String::from_utf8_lossy(t));
        }
        // The texts exercise the scanner: many hits, including literals longer than a prefix.
        assert!(hits > 30_000, "{hits}");
        assert!(ours.outs.iter().any(|o| o.len > o.plen));
        assert!(ours.max_prefix == PREFIX);
    }

    #[test]
    fn wide_state_ids_walk_alike() {
        let pats = builtin_patterns();
        let narrow = Literals::new(&pats).unwrap();
        let wide = Literals::new(&pats).unwrap().widened();
        assert!(matches!(wide.table, Table::Wide(_)));
        for t in texts(&pats, 300, 7) {
            assert_eq!(narrow.all(&t), wide.all(&t));
        }
    }

    #[test]
    fn lower_eq_is_eq_ignore_ascii_case_against_lower_case() {
        let mut rng = Rng::new(42);
        for _ in 0..20_000 {
            let n = rng.below(24);
            let lower: Vec<u8> = (0..n)
                .map(|_| (rng.below(256) as u8).to_ascii_lowercase())
                .collect();
            let mut hay: Vec<u8> = lower
                .iter()
                .map(|&b| {
                    if rng.below(2) == 0 {
                        b.to_ascii_uppercase()
                    } else {
                        b
                    }
                })
                .collect();
            if n > 0 && rng.below(2) == 0 {
                let k = rng.below(n);
                hay[k] = rng.below(256) as u8;
            }
            assert_eq!(
                lower_eq(&hay, &lower),
                hay.eq_ignore_ascii_case(&lower),
                "{hay:?} {lower:?}"
            );
        }
        // Every byte pair, where only ASCII letters fold.
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let lower = [b.to_ascii_lowercase(); 9];
                assert_eq!(lower_eq(&[a; 9], &lower), a.eq_ignore_ascii_case(&lower[0]));
            }
        }
        assert!(!lower_eq(b"abc", b"ab"));
        assert!(
            !lower_eq(b"abcdefghABCDEFGH", b"abcdefgh"),
            "a whole word longer"
        );
    }

    #[test]
    fn the_builtin_automaton_is_compact() {
        let l = Literals::new(&builtin_patterns()).unwrap();
        let classes = l.class.iter().map(|&c| c as usize + 1).max().unwrap();
        println!(
            "{} states, {} classes (rows of {}), {} match states, {} bytes",
            l.states(),
            classes,
            l.stride,
            l.states() - (l.first_match << ROW_SHIFT) / l.stride,
            l.memory_usage()
        );
        assert!(matches!(l.table, Table::Narrow(_)));
        // 16-bit state ids keep the table a sixth of the 32-bit automaton's (932 KB).
        assert!(l.memory_usage() < 200_000, "{} bytes", l.memory_usage());
        // Upper- and lower-case letters share a class; bytes in no literal share one.
        assert_eq!(l.class[b'a' as usize], l.class[b'A' as usize]);
        assert_eq!(l.class[0xff], l.class[b'\x01' as usize]);
        assert_ne!(l.class[b'a' as usize], l.class[b'b' as usize]);
    }
}
