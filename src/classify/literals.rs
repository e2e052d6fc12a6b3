//! The literal scanner: a case-insensitive Aho-Corasick DFA over short literal prefixes,
//! walked by hand, with each prefix hit verified against the full literals behind it.
//!
//! Measurements shaped this (the `throughput` test in `classify::tests`):
//! - `AhoCorasick::find_overlapping_iter` re-enters the search for every match; walking the
//!   DFA's transition table directly is faster on short messages.
//! - The walk is a chain of dependent loads (about 4 ns a byte here), so long texts are cut
//!   into four slices scanned in one interleaved loop, which lets the CPU overlap the chains.
//!   A slice starts (prefix length - 1) bytes early so no literal straddling a cut is lost,
//!   which is why the automaton holds short prefixes: 12-byte prefixes keep that overlap small
//!   while leaving few false prefix hits to verify (6 bytes: many hits; full literals: long
//!   overlaps; both measured about 10% slower on the bench mix).
//!
//! Every occurrence of every literal is reported (overlapping), which the rules need.

use aho_corasick::Anchored;
use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;

/// Literal prefixes of this many bytes go into the automaton.
const PREFIX: usize = 12;

/// Texts this long or longer are scanned as this many interleaved slices: the DFA walk is a
/// chain of dependent loads, and independent chains let the CPU overlap them.
const LANES: usize = 4;
const LANE_MIN: usize = 96;

/// A prefix's length and the literals (index, lower-cased bytes) that start with it.
type Behind = (usize, Vec<(usize, Box<[u8]>)>);

/// A set of literals, matched ASCII case-insensitively.
#[derive(Debug)]
pub struct Literals {
    dfa: DFA,
    start: StateID,
    /// The longest prefix in the automaton.
    max_prefix: usize,
    /// Per prefix: its length and the literals (index, lower-cased bytes) that start with it.
    behind: Vec<Behind>,
}

impl Literals {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Literals, String> {
        Literals::with_prefix(patterns, PREFIX)
    }

    /// Like [`Literals::new`] with a chosen prefix length (for measurements).
    pub fn with_prefix<S: AsRef<str>>(patterns: &[S], prefix: usize) -> Result<Literals, String> {
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
        let dfa = DFA::builder()
            .ascii_case_insensitive(true)
            .prefilter(false)
            .build(&prefixes)
            .map_err(|e| format!("literal automaton: {e}"))?;
        let start = dfa
            .start_state(Anchored::No)
            .map_err(|e| format!("literal automaton: {e}"))?;
        let max_prefix = behind.iter().map(|b| b.0).max().unwrap_or(1);
        Ok(Literals {
            dfa,
            start,
            max_prefix,
            behind,
        })
    }

    /// Call `f(literal, start, end)` for every occurrence of every literal. The order is
    /// not that of the text: long texts are scanned in [`LANES`] interleaved slices.
    #[inline]
    pub fn for_each(&self, hay: &[u8], mut f: impl FnMut(usize, usize, usize)) {
        let n = hay.len();
        if n < LANE_MIN {
            let mut sid = self.start;
            for (i, &b) in hay.iter().enumerate() {
                sid = self.dfa.next_state(Anchored::No, sid, b);
                if self.dfa.is_special(sid) {
                    self.report(hay, sid, i, &mut f);
                }
            }
            return;
        }
        // Lane l reports the matches whose prefix ends in slice l, and starts scanning
        // (longest prefix - 1) bytes early so that no prefix straddling a cut is missed.
        let chunk = n / LANES;
        let mut lo = [0usize; LANES];
        let mut pos = [0usize; LANES];
        let mut end = [0usize; LANES];
        for l in 0..LANES {
            lo[l] = l * chunk;
            pos[l] = lo[l].saturating_sub(self.max_prefix - 1);
            end[l] = if l == LANES - 1 { n } else { (l + 1) * chunk };
        }
        let common = (0..LANES).map(|l| end[l] - pos[l]).min().unwrap_or(0);
        let mut sid = [self.start; LANES];
        for _ in 0..common {
            for l in 0..LANES {
                let i = pos[l];
                sid[l] = self.dfa.next_state(Anchored::No, sid[l], hay[i]);
                if self.dfa.is_special(sid[l]) && i >= lo[l] {
                    self.report(hay, sid[l], i, &mut f);
                }
                pos[l] = i + 1;
            }
        }
        for l in 0..LANES {
            for i in pos[l]..end[l] {
                sid[l] = self.dfa.next_state(Anchored::No, sid[l], hay[i]);
                if self.dfa.is_special(sid[l]) && i >= lo[l] {
                    self.report(hay, sid[l], i, &mut f);
                }
            }
        }
    }

    /// The literals behind the prefixes that end at byte `i`, verified against the text.
    #[inline]
    fn report(&self, hay: &[u8], sid: StateID, i: usize, f: &mut impl FnMut(usize, usize, usize)) {
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
                    f(*id, start, end);
                }
            }
        }
    }

    /// Heap bytes used by the automaton.
    pub fn memory_usage(&self) -> usize {
        self.dfa.memory_usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut got = Vec::new();
        l.for_each(
            b"The refresh TOKEN has EXPIRED due to inactivity (aadsts70008)",
            |p, s, e| got.push((p, s, e)),
        );
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
            let mut got = Vec::new();
            l.for_each(hay, |p, s, e| got.push((s, e, p)));
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
        let mut n = 0;
        l.for_each(b"... failed to ref", |_, _, _| n += 1);
        assert_eq!(n, 0);
    }
}
