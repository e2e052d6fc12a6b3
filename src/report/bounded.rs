//! A sorted set of strings that keeps at most `N` items: the `N` smallest ever offered.
//!
//! Keeping the smallest (rather than the first) is what makes the report's merge
//! commutative and associative: the `N` smallest of a union are the `N` smallest of the
//! union of each part's `N` smallest, whatever the order the parts arrive in. `len` is the
//! exact number of distinct items as long as `overflow` is false; once more than `N`
//! distinct items were offered, `overflow` says the true count is larger.
//!
//! Membership is a hash lookup (the hot path asks "seen this flow?" for every record, and a
//! tree lookup would compare strings all the way down); a sorted tree over the same shared
//! strings gives the order, for eviction at the cap and for output.

use hashbrown::HashSet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct BoundedSet<const N: usize> {
    lookup: HashSet<Arc<str>>,
    sorted: BTreeSet<Arc<str>>,
    /// More than `N` distinct items were offered; only the `N` smallest are kept.
    overflow: bool,
}

impl<const N: usize> PartialEq for BoundedSet<N> {
    fn eq(&self, other: &Self) -> bool {
        self.overflow == other.overflow && self.sorted == other.sorted
    }
}

impl<const N: usize> Eq for BoundedSet<N> {}

impl<const N: usize> BoundedSet<N> {
    pub fn new() -> Self {
        BoundedSet {
            lookup: HashSet::new(),
            sorted: BTreeSet::new(),
            overflow: false,
        }
    }

    /// Offer an item. Allocates only when the item is new and among the `N` smallest.
    pub fn insert(&mut self, item: &str) {
        if self.lookup.contains(item) {
            return;
        }
        if self.sorted.len() >= N {
            self.overflow = true;
            match self.sorted.last() {
                Some(max) if item < &**max => {}
                _ => return,
            }
        }
        self.add(Arc::from(item));
        self.trim();
    }

    fn add(&mut self, item: Arc<str>) {
        if self.lookup.insert(item.clone()) {
            self.sorted.insert(item);
        }
    }

    /// Union with another set, keeping the `N` smallest.
    pub fn merge(&mut self, other: BoundedSet<N>) {
        self.overflow |= other.overflow;
        for item in other.sorted {
            if self.sorted.len() >= N && self.sorted.last().is_some_and(|max| item >= *max) {
                // Every later item of `other` is larger still.
                self.overflow |= !self.lookup.contains(&*item);
                if self.lookup.contains(&*item) {
                    continue;
                }
                break;
            }
            self.add(item);
            self.trim();
        }
    }

    fn trim(&mut self) {
        while self.sorted.len() > N {
            if let Some(max) = self.sorted.pop_last() {
                self.lookup.remove(&*max);
            }
            self.overflow = true;
        }
    }

    /// Distinct items kept (exact when [`BoundedSet::overflow`] is false).
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// True when more than `N` distinct items were offered.
    pub fn overflow(&self) -> bool {
        self.overflow
    }

    /// The kept items, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.sorted.iter().map(|s| &**s)
    }

    pub fn contains(&self, item: &str) -> bool {
        self.lookup.contains(item)
    }
}

#[derive(Serialize, Deserialize)]
struct Stored<S> {
    items: Vec<S>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    overflow: bool,
}

impl<const N: usize> Serialize for BoundedSet<N> {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        Stored {
            items: self.iter().collect(),
            overflow: self.overflow,
        }
        .serialize(s)
    }
}

impl<'de, const N: usize> Deserialize<'de> for BoundedSet<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let stored = Stored::<String>::deserialize(d)?;
        let mut set = BoundedSet::new();
        set.overflow = stored.overflow;
        for item in stored.items {
            set.add(Arc::from(item));
        }
        set.trim();
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_smallest_and_flags_overflow() {
        let mut s = BoundedSet::<3>::new();
        for x in ["d", "b", "e", "a", "b", "c"] {
            s.insert(x);
        }
        assert_eq!(s.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(s.overflow());

        let mut t = BoundedSet::<3>::new();
        t.insert("b");
        t.insert("a");
        assert!(!t.overflow());
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn merge_equals_inserting_everything() {
        let all = ["k", "c", "x", "a", "m", "b", "z", "c"];
        let mut whole = BoundedSet::<4>::new();
        all.iter().for_each(|x| whole.insert(x));
        for cut in 0..all.len() {
            let (mut l, mut r) = (BoundedSet::<4>::new(), BoundedSet::<4>::new());
            all[..cut].iter().for_each(|x| l.insert(x));
            all[cut..].iter().for_each(|x| r.insert(x));
            let mut rl = r.clone();
            l.merge(r);
            rl.merge({
                let mut l2 = BoundedSet::<4>::new();
                all[..cut].iter().for_each(|x| l2.insert(x));
                l2
            });
            assert_eq!(l, whole);
            assert_eq!(rl, whole);
        }
    }
}
