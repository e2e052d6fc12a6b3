//! Per-day values of one connection or flow, keyed by UTC day number: the timing store's
//! innermost map, looked up once per run.
//!
//! Days are held in a dense window (one slot per day from the first to the last) while the
//! window stays small against the number of days present, so a run's day is one indexed
//! load instead of a walk down a tree. Days far apart (a flow that ran twice, a year apart)
//! switch the map to a tree, which costs memory per day present only, and a tree that has
//! filled in switches back. Both forms iterate in day order and compare equal when they
//! hold the same days, so the form never shows in results.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// A dense window may always span this many days, however few are present.
const MIN_WINDOW: usize = 128;
/// Beyond [`MIN_WINDOW`], a window may span at most this many slots per day present.
const SLOTS_PER_DAY: usize = 4;
/// A tree with at least this many days goes back to a window when it fits in half the
/// slots a window may take.
const REDENSE_MIN: usize = 64;
/// A window grows by at least 1/GROWTH of its width at a time (amortized cost, little slack).
const GROWTH: usize = 16;

#[derive(Clone, Debug)]
pub enum Days<V> {
    /// `slots[i]` is day `first + i`.
    Dense {
        first: i64,
        slots: Vec<Option<V>>,
        len: usize,
    },
    Sparse(BTreeMap<i64, V>),
}

impl<V> Default for Days<V> {
    fn default() -> Self {
        Days::Dense {
            first: 0,
            slots: Vec::new(),
            len: 0,
        }
    }
}

/// The most slots a window may span with `len` days present.
fn window_cap(len: usize) -> usize {
    MIN_WINDOW.max(len.saturating_mul(SLOTS_PER_DAY))
}

impl<V> Days<V> {
    pub fn new() -> Self {
        Days::default()
    }

    pub fn len(&self) -> usize {
        match self {
            Days::Dense { len, .. } => *len,
            Days::Sparse(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, day: &i64) -> Option<&V> {
        match self {
            Days::Dense { first, slots, .. } => {
                let i = usize::try_from(day.checked_sub(*first)?).ok()?;
                slots.get(i)?.as_ref()
            }
            Days::Sparse(m) => m.get(day),
        }
    }

    /// Days and values in day order (double-ended: `.rev()` walks back from the last).
    pub fn iter(&self) -> Iter<'_, V> {
        match self {
            Days::Dense { first, slots, .. } => Iter::Dense {
                first: *first,
                inner: slots.iter().enumerate(),
            },
            Days::Sparse(m) => Iter::Sparse(m.iter()),
        }
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }

    /// Days up to and including `day`, newest first.
    pub fn back_from(&self, day: i64) -> impl Iterator<Item = (i64, &V)> {
        self.iter().rev().skip_while(move |(d, _)| *d > day)
    }

    /// The value of `day`, created with `Default` when absent.
    pub fn get_or_default(&mut self, day: i64) -> &mut V
    where
        V: Default,
    {
        if let Days::Sparse(m) = self {
            if !m.contains_key(&day) && self.should_redense(day) {
                self.redense();
            }
        } else if !self.fits(day) {
            self.sparsen();
        }
        match self {
            Days::Dense { first, slots, len } => {
                if slots.is_empty() {
                    *first = day;
                } else if day < *first {
                    // Room for a few more days before this one: exports are often newest
                    // first, and growing by one day at a time would move the window each time.
                    let need = (*first - day) as usize;
                    let room = window_cap(*len + 1).saturating_sub(slots.len());
                    let extra = (slots.len() / GROWTH).clamp(need, room.max(need));
                    slots.reserve_exact(extra);
                    slots.splice(0..0, std::iter::repeat_with(|| None).take(extra));
                    *first -= extra as i64;
                }
                let i = (day - *first) as usize;
                if i >= slots.len() {
                    // Capacity grows by a fraction, not by doubling: a window is usually
                    // near its final width after a few runs, and the slack of doubling
                    // would cost as much memory as the tree it replaces.
                    let need = i + 1 - slots.len();
                    slots.reserve_exact(need.max(slots.len() / GROWTH));
                    slots.resize_with(i + 1, || None);
                }
                let slot = &mut slots[i];
                if slot.is_none() {
                    *len += 1;
                }
                slot.get_or_insert_with(V::default)
            }
            Days::Sparse(m) => m.entry(day).or_default(),
        }
    }

    /// Set `day`'s value, replacing any.
    pub fn insert(&mut self, day: i64, v: V)
    where
        V: Default,
    {
        *self.get_or_default(day) = v;
    }

    /// Whether a window can take `day` (always, when it already holds it).
    fn fits(&self, day: i64) -> bool {
        let Days::Dense { first, slots, len } = self else {
            return false;
        };
        if slots.is_empty() {
            return true;
        }
        let last = *first + slots.len() as i64 - 1;
        let lo = (*first).min(day);
        let hi = last.max(day);
        let span = hi.checked_sub(lo).and_then(|s| usize::try_from(s).ok());
        span.is_some_and(|s| s < window_cap(*len + 1))
    }

    fn sparsen(&mut self) {
        if let Days::Dense { first, slots, .. } = self {
            let first = *first;
            let m: BTreeMap<i64, V> = std::mem::take(slots)
                .into_iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (first + i as i64, v)))
                .collect();
            *self = Days::Sparse(m);
        }
    }

    /// A tree that will hold `day` too and has filled in enough to be a window again.
    fn should_redense(&self, day: i64) -> bool {
        let Days::Sparse(m) = self else { return false };
        let len = m.len() + 1;
        if len < REDENSE_MIN {
            return false;
        }
        let (Some((&lo, _)), Some((&hi, _))) = (m.first_key_value(), m.last_key_value()) else {
            return false;
        };
        let span = hi.max(day).checked_sub(lo.min(day));
        span.and_then(|s| usize::try_from(s).ok())
            .is_some_and(|s| s < window_cap(len) / 2)
    }

    fn redense(&mut self) {
        if let Days::Sparse(m) = self {
            let m = std::mem::take(m);
            let Some(first) = m.keys().next().copied() else {
                *self = Days::default();
                return;
            };
            let last = m.keys().next_back().copied().unwrap_or(first);
            let mut slots: Vec<Option<V>> = Vec::new();
            slots.resize_with((last - first + 1) as usize, || None);
            let len = m.len();
            for (d, v) in m {
                slots[(d - first) as usize] = Some(v);
            }
            *self = Days::Dense { first, slots, len };
        }
    }
}

pub enum Iter<'a, V> {
    Dense {
        first: i64,
        inner: std::iter::Enumerate<std::slice::Iter<'a, Option<V>>>,
    },
    Sparse(std::collections::btree_map::Iter<'a, i64, V>),
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (i64, &'a V);
    fn next(&mut self) -> Option<(i64, &'a V)> {
        match self {
            Iter::Dense { first, inner } => {
                let first = *first;
                inner.find_map(|(i, v)| v.as_ref().map(|v| (first + i as i64, v)))
            }
            Iter::Sparse(it) => it.next().map(|(d, v)| (*d, v)),
        }
    }
}

impl<V> DoubleEndedIterator for Iter<'_, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Dense { first, inner } => {
                let first = *first;
                inner
                    .rfind(|(_, v)| v.is_some())
                    .and_then(|(i, v)| v.as_ref().map(|v| (first + i as i64, v)))
            }
            Iter::Sparse(it) => it.next_back().map(|(d, v)| (*d, v)),
        }
    }
}

impl<'a, V> IntoIterator for &'a Days<V> {
    type Item = (i64, &'a V);
    type IntoIter = Iter<'a, V>;
    fn into_iter(self) -> Iter<'a, V> {
        self.iter()
    }
}

impl<V: Default> FromIterator<(i64, V)> for Days<V> {
    fn from_iter<I: IntoIterator<Item = (i64, V)>>(iter: I) -> Self {
        let mut days = Days::new();
        for (d, v) in iter {
            days.insert(d, v);
        }
        days
    }
}

/// Equal when they hold the same days and values, in whichever form.
impl<V: PartialEq> PartialEq for Days<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<V: Eq> Eq for Days<V> {}

/// Written as a map from day number to value, like a `BTreeMap<i64, V>`.
impl<V: Serialize> Serialize for Days<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de, V: Deserialize<'de> + Default> Deserialize<'de> for Days<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(BTreeMap::<i64, V>::deserialize(d)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn is_dense<V>(d: &Days<V>) -> bool {
        matches!(d, Days::Dense { .. })
    }

    fn width<V>(d: &Days<V>) -> usize {
        match d {
            Days::Dense { slots, .. } => slots.len(),
            Days::Sparse(_) => 0,
        }
    }

    proptest! {
        /// Whatever the order and spread of days, the map holds what a tree would, in day
        /// order both ways, and a window never spans more than it may.
        #[test]
        fn behaves_like_a_tree(ops in prop::collection::vec((-400i64..400, 0u32..5), 0..300)) {
            let mut days: Days<u32> = Days::new();
            let mut model: BTreeMap<i64, u32> = BTreeMap::new();
            for (d, v) in ops {
                *days.get_or_default(d) += v;
                *model.entry(d).or_default() += v;
                if let Days::Dense { slots, len, .. } = &days {
                    prop_assert!(slots.len() <= window_cap(*len));
                }
            }
            prop_assert_eq!(days.len(), model.len());
            let fwd: Vec<(i64, u32)> = days.iter().map(|(d, v)| (d, *v)).collect();
            let want: Vec<(i64, u32)> = model.iter().map(|(d, v)| (*d, *v)).collect();
            prop_assert_eq!(&fwd, &want);
            let back: Vec<(i64, u32)> = days.iter().rev().map(|(d, v)| (d, *v)).collect();
            let want_back: Vec<(i64, u32)> = want.iter().rev().copied().collect();
            prop_assert_eq!(back, want_back);
            for d in -410..410 {
                prop_assert_eq!(days.get(&d), model.get(&d));
            }
            let from: Vec<i64> = days.back_from(17).map(|(d, _)| d).collect();
            let want_from: Vec<i64> = model.range(..=17).rev().map(|(d, _)| *d).collect();
            prop_assert_eq!(from, want_from);
        }
    }

    #[test]
    fn days_far_apart_make_a_tree_and_filling_in_makes_a_window_again() {
        let mut days: Days<u32> = Days::new();
        days.insert(0, 1);
        days.insert(10, 1);
        assert!(is_dense(&days));
        days.insert(1_000, 1);
        assert!(!is_dense(&days), "a 1,001-day window for three days");
        for d in 1..200 {
            days.insert(d, 1);
        }
        assert!(!is_dense(&days), "201 of 1,001 days present");
        for d in 200..600 {
            days.insert(d, 1);
        }
        assert!(is_dense(&days), "601 of 1,001 days present");
        assert_eq!(days.len(), 601);
        assert_eq!(days.get(&1_000), Some(&1));
        assert_eq!(days.get(&800), None);
    }

    #[test]
    fn newest_first_grows_with_little_slack() {
        let mut days: Days<u32> = Days::new();
        for d in (0..365).rev() {
            days.insert(d, 1);
        }
        assert!(is_dense(&days));
        assert_eq!(days.len(), 365);
        assert!(
            width(&days) < 365 + 365 / GROWTH + 1,
            "width {}",
            width(&days)
        );
        assert_eq!(days.iter().next().map(|(d, _)| d), Some(0));
    }

    #[test]
    fn equality_ignores_the_form_and_json_is_a_day_map() {
        let dense: Days<u32> = [(3, 7), (5, 9)].into_iter().collect();
        let sparse = Days::Sparse(BTreeMap::from([(3, 7), (5, 9)]));
        assert_eq!(dense, sparse);
        assert_ne!(dense, Days::Sparse(BTreeMap::from([(3, 7)])));
        let json = serde_json::to_string(&dense).unwrap();
        assert_eq!(json, r#"{"3":7,"5":9}"#);
        assert_eq!(json, serde_json::to_string(&sparse).unwrap());
        let back: Days<u32> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, dense);
    }

    #[test]
    fn extreme_days_never_overflow() {
        let mut days: Days<u32> = Days::new();
        days.insert(i64::MIN, 1);
        days.insert(i64::MAX, 2);
        days.insert(0, 3);
        assert_eq!(days.len(), 3);
        assert_eq!(days.get(&i64::MAX), Some(&2));
        assert_eq!(days.get(&i64::MIN), Some(&1));
        let order: Vec<i64> = days.iter().map(|(d, _)| d).collect();
        assert_eq!(order, [i64::MIN, 0, i64::MAX]);
    }
}
