//! The names cache of the timing store: from the names a run carries (flow id, flow name,
//! file when it names the flow, connection, connector, owner) to the places of its flow and
//! connection entries, so that each distinct set of names is resolved once.
//!
//! A run's names are encoded into one byte string (each as a marker, a length and its bytes,
//! so no two lists of names encode alike). The table is open addressing over slots that hold
//! the key's hash and where its bytes are in one arena: a lookup is one slot (a line of
//! memory) and one compare of the stored bytes. Because the slot of a hash is known before
//! the lookup, a batch of runs can touch all its slots first and then all the stored keys,
//! so that the cache misses of many runs overlap instead of following one another.
//!
//! A miss only costs the resolution a hit saves, so the cache never changes a result. It is
//! cleared when full, which keeps it bounded on input whose every run has new names.

use std::hash::BuildHasher;

/// A run's flow and connection entries, each as (shard, index): the shard is always 0 in a
/// store of one's own, the lock to take in a shared store.
pub(super) type Entries = (Option<(usize, usize)>, Option<(usize, usize)>);

/// Most distinct sets of names remembered before the cache starts afresh.
pub(super) const MAX_KEYS: usize = 1 << 16;
/// Most bytes of names remembered before the cache starts afresh.
const MAX_BYTES: usize = 16 << 20;
/// Slots of a new table (a power of two).
const FIRST_SLOTS: usize = 1 << 10;

/// No entry in a [`Place`].
const NOWHERE: u32 = u32::MAX;

/// An entry's (shard, index) in eight bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Place {
    shard: u32,
    index: u32,
}

impl Place {
    fn pack(at: Option<(usize, usize)>) -> Option<Place> {
        match at {
            None => Some(Place {
                shard: NOWHERE,
                index: NOWHERE,
            }),
            Some((s, i)) => {
                let shard = u32::try_from(s).ok().filter(|&s| s != NOWHERE)?;
                let index = u32::try_from(i).ok()?;
                Some(Place { shard, index })
            }
        }
    }

    fn unpack(self) -> Option<(usize, usize)> {
        (self.shard != NOWHERE).then_some((self.shard as usize, self.index as usize))
    }
}

/// One slot: a key's hash (0 when empty), where its bytes are and its entries.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    hash: u64,
    start: u32,
    len: u32,
    flow: Place,
    conn: Place,
}

#[derive(Debug, Default)]
pub(super) struct Hot {
    slots: Vec<Slot>,
    keys: Vec<u8>,
    len: usize,
    state: hashbrown::DefaultHashBuilder,
}

impl Hot {
    /// The hash of an encoded key (never 0, which marks an empty slot).
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.state.hash_one(key) | 1
    }

    /// How many sets of names are cached.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// Read the slot where the search for `hash` starts. The value means nothing; the load
    /// brings the slot into the cache while the caller goes on to other runs.
    pub fn touch_slot(&self, hash: u64) -> u64 {
        self.slots
            .get(hash as usize & self.mask())
            .map_or(0, |s| s.hash)
    }

    /// The occupied slots on `hash`'s probe sequence, up to the first empty one.
    fn probe(&self, hash: u64) -> impl Iterator<Item = &Slot> {
        let (mask, first) = (self.mask(), hash as usize & self.mask());
        (0..self.slots.len())
            .map(move |k| &self.slots[(first + k) & mask])
            .take_while(|s| s.hash != 0)
    }

    /// The key bytes a slot stands for.
    fn stored_key(&self, s: &Slot) -> &[u8] {
        let start = s.start as usize;
        self.keys
            .get(start..start + s.len as usize)
            .unwrap_or_default()
    }

    /// Read the stored key that the search for `hash` will compare first, one byte per line
    /// of memory (see [`Hot::touch_slot`]).
    pub fn touch_key(&self, hash: u64) -> u64 {
        self.probe(hash).find(|s| s.hash == hash).map_or(0, |s| {
            let key = self.stored_key(s);
            key.iter().step_by(64).fold(0, |acc, &b| acc ^ u64::from(b))
        })
    }

    /// The entries cached for `key` (whose hash is `hash`).
    fn get(&self, hash: u64, key: &[u8]) -> Option<Entries> {
        self.probe(hash)
            .find(|s| s.hash == hash && self.stored_key(s) == key)
            .map(|s| (s.flow.unpack(), s.conn.unpack()))
    }

    /// The entries cached for `key` (whose hash is `hash`), else those `resolve` gives,
    /// cached.
    pub fn get_or_put(
        &mut self,
        hash: u64,
        key: &[u8],
        resolve: impl FnOnce() -> Entries,
    ) -> Entries {
        if let Some(at) = self.get(hash, key) {
            return at;
        }
        let at = resolve();
        self.put(hash, key, at);
        at
    }

    /// Remember `at` for `key` (not cached already). Keys that do not fit the table's
    /// compact form are left out: they are resolved again when seen again.
    fn put(&mut self, hash: u64, key: &[u8], at: Entries) {
        let (Some(flow), Some(conn)) = (Place::pack(at.0), Place::pack(at.1)) else {
            return;
        };
        if self.len >= MAX_KEYS || self.keys.len() + key.len() > MAX_BYTES {
            self.clear();
        }
        let (Ok(start), Ok(len)) = (u32::try_from(self.keys.len()), u32::try_from(key.len()))
        else {
            return;
        };
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        self.keys.extend_from_slice(key);
        let slot = Slot {
            hash,
            start,
            len,
            flow,
            conn,
        };
        self.place(slot);
        self.len += 1;
    }

    /// Put a slot on the first empty slot of its probe sequence (there is always one: the
    /// table is at most half full).
    fn place(&mut self, slot: Slot) {
        let mask = self.mask();
        let mut i = slot.hash as usize & mask;
        while self.slots[i].hash != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
    }

    /// Twice the slots, each key placed again by its stored hash.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(FIRST_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); size]);
        for s in old.into_iter().filter(|s| s.hash != 0) {
            self.place(s);
        }
    }

    fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = Slot::default());
        self.keys.clear();
        self.len = 0;
    }
}

/// Append one name of a key: `0xff` when absent, else `0`, its length (4 bytes) and its
/// bytes (`1` and 8 bytes of length for a name of 4 GiB or more).
pub(super) fn encode_name(out: &mut Vec<u8>, name: Option<&str>) {
    match name {
        None => out.push(0xff),
        Some(n) => {
            match u32::try_from(n.len()) {
                Ok(len) => {
                    out.push(0);
                    out.extend_from_slice(&len.to_le_bytes());
                }
                Err(_) => {
                    out.push(1);
                    out.extend_from_slice(&(n.len() as u64).to_le_bytes());
                }
            }
            out.extend_from_slice(n.as_bytes());
        }
    }
}

/// The names of a key written by [`encode_name`], in order; `None` past a malformed end.
pub(super) fn decode_names<const N: usize>(mut key: &[u8]) -> [Option<&str>; N] {
    let mut out = [None; N];
    for slot in &mut out {
        let Some((&marker, rest)) = key.split_first() else {
            break;
        };
        let width = match marker {
            0 => 4,
            1 => 8,
            _ => {
                key = rest;
                continue;
            }
        };
        let Some((len, rest)) = rest.split_at_checked(width) else {
            break;
        };
        let mut wide = [0u8; 8];
        wide[..width].copy_from_slice(len);
        let Some((name, rest)) = usize::try_from(u64::from_le_bytes(wide))
            .ok()
            .and_then(|n| rest.split_at_checked(n))
        else {
            break;
        };
        *slot = std::str::from_utf8(name).ok();
        key = rest;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(names: &[Option<&str>]) -> Vec<u8> {
        let mut k = Vec::new();
        for n in names {
            encode_name(&mut k, *n);
        }
        k
    }

    #[test]
    fn names_decode_as_they_were_encoded() {
        let names = [
            Some("f1"),
            None,
            Some(""),
            Some("conné"),
            None,
            Some("ann@x"),
        ];
        assert_eq!(decode_names::<6>(&key(&names)), names);
        // A key cut short decodes as far as it goes.
        let k = key(&names);
        assert_eq!(
            decode_names::<6>(&k[..9]),
            [Some("f1"), None, None, None, None, None]
        );
    }

    #[test]
    fn lookups_find_what_was_put_through_growth_and_clearing() {
        let mut hot = Hot::default();
        let keys: Vec<Vec<u8>> = (0..5000)
            .map(|i| key(&[Some(&format!("flow-{i}")), None, Some("c")]))
            .collect();
        for (i, k) in keys.iter().enumerate() {
            let h = hot.hash(k);
            assert_eq!(hot.get(h, k), None);
            let at = (Some((i % 64, i)), (i % 3 != 0).then_some((0, i + 1)));
            hot.put(h, k, at);
            assert_eq!(hot.get(h, k), Some(at));
        }
        for (i, k) in keys.iter().enumerate() {
            let h = hot.hash(k);
            assert_eq!(
                hot.get(h, k).map(|a| a.0),
                Some(Some((i % 64, i))),
                "key {i}"
            );
            hot.touch_slot(h);
            hot.touch_key(h);
        }
        assert!(hot.slots.len() >= 2 * keys.len());
        // Past the cap it starts afresh, and still answers what it was told last.
        let mut hot = Hot::default();
        for i in 0..MAX_KEYS + 10 {
            let k = key(&[Some(&i.to_string())]);
            hot.put(hot.hash(&k), &k, (None, Some((1, i))));
        }
        assert_eq!(hot.len, 10);
        let k = key(&[Some(&(MAX_KEYS + 9).to_string())]);
        assert_eq!(
            hot.get(hot.hash(&k), &k),
            Some((None, Some((1, MAX_KEYS + 9))))
        );
    }

    #[test]
    fn places_that_do_not_fit_are_not_cached() {
        let mut hot = Hot::default();
        let k = key(&[Some("f")]);
        let h = hot.hash(&k);
        hot.put(h, &k, (Some((0, usize::MAX)), None));
        assert_eq!(hot.get(h, &k), None);
        hot.put(h, &k, (Some((0, 7)), None));
        assert_eq!(hot.get(h, &k), Some((Some((0, 7)), None)));
    }
}
