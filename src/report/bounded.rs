//! A sorted set of strings that keeps at most `N` items: the `N` smallest ever offered.
//!
//! Keeping the smallest (rather than the first) is what makes the report's merge
//! commutative and associative: the `N` smallest of a union are the `N` smallest of the
//! union of each part's `N` smallest, whatever the order the parts arrive in. `len` is the
//! exact number of distinct items as long as `overflow` is false; once more than `N`
//! distinct items were offered, `overflow` says the true count is larger.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundedSet<const N: usize> {
    items: BTreeSet<String>,
    /// More than `N` distinct items were offered; only the `N` smallest are kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    overflow: bool,
}

impl<const N: usize> BoundedSet<N> {
    pub fn new() -> Self {
        BoundedSet {
            items: BTreeSet::new(),
            overflow: false,
        }
    }

    /// Offer an item. Allocates only when the item is new and among the `N` smallest.
    pub fn insert(&mut self, item: &str) {
        if self.items.contains(item) {
            return;
        }
        if self.items.len() >= N {
            self.overflow = true;
            match self.items.last() {
                Some(max) if item < max.as_str() => {}
                _ => return,
            }
        }
        self.items.insert(item.to_owned());
        self.trim();
    }

    /// Union with another set, keeping the `N` smallest.
    pub fn merge(&mut self, other: BoundedSet<N>) {
        self.overflow |= other.overflow;
        if self.items.len() < other.items.len() {
            let mine = std::mem::replace(&mut self.items, other.items);
            self.items.extend(mine);
        } else {
            self.items.extend(other.items);
        }
        self.trim();
    }

    fn trim(&mut self) {
        while self.items.len() > N {
            self.items.pop_last();
            self.overflow = true;
        }
    }

    /// Distinct items kept (exact when [`BoundedSet::overflow`] is false).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// True when more than `N` distinct items were offered.
    pub fn overflow(&self) -> bool {
        self.overflow
    }

    /// The kept items, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(String::as_str)
    }

    pub fn contains(&self, item: &str) -> bool {
        self.items.contains(item)
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
