//! A sorted set of strings that keeps at most `N` items: the `N` smallest ever offered.
//!
//! Keeping the smallest (rather than the first) is what makes the report's merge
//! commutative and associative: the `N` smallest of a union are the `N` smallest of the
//! union of each part's `N` smallest, whatever the order the parts arrive in. `len` is the
//! exact number of distinct items as long as `overflow` is false; once more than `N`
//! distinct items were offered, `overflow` says the true count is larger.
//!
//! Membership is a hash lookup (the hot path asks "seen this flow?" for every record, and a
//! tree lookup would compare strings all the way down). Order is needed only for output
//! (sorted then) and, once the set is full, for eviction: a max-heap over the same shared
//! strings, built when the set first fills.

use hashbrown::HashSet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BinaryHeap;
use std::sync::Arc;

/// What became of an offered item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Offer {
    /// The set held it already.
    Held,
    /// Kept (an item past the `N` smallest may have made room).
    Taken,
    /// Not kept: the set is full and the item is past its largest (so is any larger item).
    Past,
}

#[derive(Clone, Debug, Default)]
pub struct BoundedSet<const N: usize> {
    lookup: HashSet<Arc<str>>,
    /// The kept items as a max-heap (the next to evict on top), built only once the set
    /// is full: most sets never fill, and an ordered copy of every set cost as much memory
    /// as the items themselves.
    full: Option<BinaryHeap<Arc<str>>>,
    /// More than `N` distinct items were offered; only the `N` smallest are kept.
    overflow: bool,
}

impl<const N: usize> PartialEq for BoundedSet<N> {
    fn eq(&self, other: &Self) -> bool {
        self.overflow == other.overflow && self.lookup == other.lookup
    }
}

impl<const N: usize> Eq for BoundedSet<N> {}

impl<const N: usize> BoundedSet<N> {
    pub fn new() -> Self {
        BoundedSet {
            lookup: HashSet::new(),
            full: None,
            overflow: false,
        }
    }

    /// Offer an item; true when the set held it already. Allocates only when the item is
    /// new and among the `N` smallest.
    pub fn insert(&mut self, item: &str) -> bool {
        self.offer(item, || Arc::from(item)) == Offer::Held
    }

    /// Offer an item, `shared` giving it to keep.
    fn offer(&mut self, item: &str, shared: impl FnOnce() -> Arc<str>) -> Offer {
        let full = self.lookup.len() >= N;
        // A full set compares with its largest item before hashing: most items offered
        // to a full set (a group's run ids, say) are past it.
        if full && self.heap().peek().is_none_or(|max| item > &**max) {
            self.overflow = true;
            return Offer::Past;
        }
        if self.lookup.contains(item) {
            return Offer::Held;
        }
        // New, and (in a full set) smaller than the largest kept item, which `trim`
        // evicts for it.
        self.add(shared());
        self.trim();
        Offer::Taken
    }

    /// The ordered copy, built on first use.
    fn heap(&mut self) -> &mut BinaryHeap<Arc<str>> {
        let lookup = &self.lookup;
        self.full
            .get_or_insert_with(|| lookup.iter().cloned().collect())
    }

    fn add(&mut self, item: Arc<str>) {
        if !self.lookup.contains(&*item) {
            if let Some(h) = &mut self.full {
                h.push(item.clone());
            }
            self.lookup.insert(item);
        }
    }

    /// Union with another set, keeping the `N` smallest.
    pub fn merge(&mut self, other: BoundedSet<N>) {
        self.overflow |= other.overflow;
        let mut items: Vec<Arc<str>> = other.lookup.into_iter().collect();
        items.sort_unstable();
        for item in &items {
            if self.offer(item, || item.clone()) == Offer::Past {
                break; // every later item of `other` is larger still
            }
        }
    }

    fn trim(&mut self) {
        while self.lookup.len() > N {
            if let Some(max) = self.heap().pop() {
                self.lookup.remove(&*max);
            }
            self.overflow = true;
        }
    }

    /// Distinct items kept (exact when [`BoundedSet::overflow`] is false).
    pub fn len(&self) -> usize {
        self.lookup.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lookup.is_empty()
    }

    /// True when more than `N` distinct items were offered.
    pub fn overflow(&self) -> bool {
        self.overflow
    }

    /// The kept items, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let mut v: Vec<&str> = self.lookup.iter().map(|s| &**s).collect();
        v.sort_unstable();
        v.into_iter()
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

    /// A full set that never overflowed takes its items again, the largest too, and stays
    /// exact; one item past the largest makes it overflow.
    #[test]
    fn full_sets_take_their_own_items_again() {
        let mut s = BoundedSet::<3>::new();
        let held: Vec<bool> = ["a", "b", "c", "c", "a", "b", "c"]
            .into_iter()
            .map(|x| s.insert(x))
            .collect();
        assert_eq!(held, [false, false, false, true, true, true, true]);
        assert!(!s.overflow());
        assert_eq!(s.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(!s.insert("d"));
        assert!(s.overflow());
        assert_eq!(s.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        // An item that made room was not held; the one it evicted is not held any more.
        assert!(!s.insert("0"));
        assert!(!s.insert("c"));
        assert_eq!(s.iter().collect::<Vec<_>>(), ["0", "a", "b"]);
    }

    /// Against a model (every item ever offered, sorted, cut at N): the same items, the
    /// same overflow flag, whatever the order of inserts and merges.
    #[test]
    fn matches_the_smallest_n_of_everything_offered() {
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        for round in 0..200 {
            let n_items = next() % 40;
            let items: Vec<String> = (0..n_items)
                .map(|_| format!("i{:02}", next() % 30))
                .collect();
            let cut = if items.is_empty() {
                0
            } else {
                next() % items.len()
            };
            let (mut a, mut b) = (BoundedSet::<6>::new(), BoundedSet::<6>::new());
            items[..cut].iter().for_each(|x| {
                a.insert(x);
            });
            items[cut..].iter().for_each(|x| {
                b.insert(x);
            });
            a.merge(b);
            let mut model: Vec<&str> = items.iter().map(String::as_str).collect();
            model.sort_unstable();
            model.dedup();
            let overflow = model.len() > 6;
            model.truncate(6);
            assert_eq!(a.iter().collect::<Vec<_>>(), model, "round {round}");
            assert_eq!(a.overflow(), overflow, "round {round}");
            assert_eq!(a.len(), model.len());
            // Inserting again after the merge keeps to the cap with the heap in use.
            a.insert("a-smallest");
            assert!(a.len() <= 6 && a.contains("a-smallest"));
        }
    }

    #[test]
    fn merge_equals_inserting_everything() {
        let all = ["k", "c", "x", "a", "m", "b", "z", "c"];
        let mut whole = BoundedSet::<4>::new();
        all.iter().for_each(|x| {
            whole.insert(x);
        });
        for cut in 0..all.len() {
            let (mut l, mut r) = (BoundedSet::<4>::new(), BoundedSet::<4>::new());
            all[..cut].iter().for_each(|x| {
                l.insert(x);
            });
            all[cut..].iter().for_each(|x| {
                r.insert(x);
            });
            let mut rl = r.clone();
            l.merge(r);
            rl.merge({
                let mut l2 = BoundedSet::<4>::new();
                all[..cut].iter().for_each(|x| {
                    l2.insert(x);
                });
                l2
            });
            assert_eq!(l, whole);
            assert_eq!(rl, whole);
        }
    }
}
