//! A map from strings to values for the hot path: hashed lookup by `&str` (no allocation
//! for an existing key, no string comparisons along a tree path), written and iterated in
//! key order so output stays deterministic.
//!
//! Entries are never removed, so an entry's index ([`StrMap::index_or_default`]) stays valid
//! for the life of the map: a caller that has resolved a key once can come back by index
//! without hashing the key again.

use hashbrown::DefaultHashBuilder;
use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct StrMap<V>(IndexMap<String, V, DefaultHashBuilder>);

impl<V> Default for StrMap<V> {
    fn default() -> Self {
        StrMap(IndexMap::default())
    }
}

/// Equal when they hold the same keys and values, whatever the order of insertion.
impl<V: PartialEq> PartialEq for StrMap<V> {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .all(|(k, v)| other.0.get(k.as_str()).is_some_and(|o| o == v))
    }
}

impl<V: Eq> Eq for StrMap<V> {}

impl<V> StrMap<V> {
    pub fn new() -> Self {
        StrMap::default()
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.0.get_mut(key)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value for `key`, created with `Default` when new (the key is copied only then).
    pub fn get_or_default(&mut self, key: &str) -> &mut V
    where
        V: Default,
    {
        let i = self.index_or_default(key);
        &mut self.0[i]
    }

    /// The index of `key`'s entry, inserted (copying the key) only when new. Stable: entries
    /// are never removed.
    pub fn index_or_default(&mut self, key: &str) -> usize
    where
        V: Default,
    {
        match self.0.get_index_of(key) {
            Some(i) => i,
            None => self.0.insert_full(key.to_owned(), V::default()).0,
        }
    }

    /// The value at an index from [`StrMap::index_or_default`].
    pub fn at(&self, index: usize) -> &V {
        &self.0[index]
    }

    /// The value at an index from [`StrMap::index_or_default`].
    pub fn at_mut(&mut self, index: usize) -> &mut V {
        &mut self.0[index]
    }

    /// Add an entry under a key that is not in the map yet (else replace its value).
    pub fn insert(&mut self, key: String, v: V) {
        self.0.insert(key, v);
    }

    /// The value for an owned key, created with `Default` when new.
    pub fn entry_owned(&mut self, key: String) -> &mut V
    where
        V: Default,
    {
        self.0.entry(key).or_default()
    }

    /// Entries in key order.
    pub fn sorted(&self) -> Vec<(&str, &V)> {
        let mut v: Vec<(&str, &V)> = self.0.iter().map(|(k, v)| (k.as_str(), v)).collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// Entries in key order (as a `BTreeMap` would iterate).
    pub fn iter(&self) -> std::vec::IntoIter<(&str, &V)> {
        self.sorted().into_iter()
    }

    /// Entries in no particular order, for merging and for order-free folds.
    pub fn iter_unordered(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Values in no particular order (for sums).
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.values()
    }

    /// Entries in no particular order, for merging.
    pub fn into_unordered(self) -> impl Iterator<Item = (String, V)> {
        self.0.into_iter()
    }
}

impl<'a, V> IntoIterator for &'a StrMap<V> {
    type Item = (&'a str, &'a V);
    type IntoIter = std::vec::IntoIter<(&'a str, &'a V)>;

    /// In key order.
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<V> std::ops::Index<&str> for StrMap<V> {
    type Output = V;

    fn index(&self, key: &str) -> &V {
        self.get(key).expect("no entry for this key")
    }
}

impl<V: Serialize> Serialize for StrMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.sorted())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for StrMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = BTreeMap::<String, V>::deserialize(d)?;
        Ok(StrMap(m.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_stable_and_equality_ignores_insertion_order() {
        let mut a: StrMap<u32> = StrMap::new();
        let x = a.index_or_default("x");
        let y = a.index_or_default("y");
        for k in 0..100 {
            *a.get_or_default(&format!("k{k}")) += 1;
        }
        assert_eq!(a.index_or_default("x"), x);
        *a.at_mut(y) += 7;
        assert_eq!(a["y"], 7);

        let mut b: StrMap<u32> = StrMap::new();
        for k in (0..100).rev() {
            *b.get_or_default(&format!("k{k}")) += 1;
        }
        *b.get_or_default("y") += 7;
        b.get_or_default("x");
        assert_eq!(a, b);
        *b.get_or_default("x") += 1;
        assert_ne!(a, b);
        let keys: Vec<&str> = a.iter().map(|(k, _)| k).take(3).collect();
        assert_eq!(keys, ["k0", "k1", "k10"]);
    }
}
