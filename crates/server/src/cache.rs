//! A bounded concurrent map for the caches read on every request: the
//! verified-token cache (`auth`) and the per-user active views
//! (`app::visibility`).
//!
//! A read is one hash (foldhash) and a lock-free lookup (`papaya`) that
//! writes nothing shared: no access is recorded, so there is no LRU or
//! frequency bookkeeping and no housekeeping run inline by a reader (what
//! `moka` did, 18.5 % of the read path's samples; docs/benchmarks.md,
//! "Read path CPU (issue 12, session 6, `readcpu`)"). What a cache needs
//! besides, its owner does: it checks an entry's freshness on every read
//! and drops stale entries in its own passes. The bound is kept on insert:
//! at capacity, entries the owner no longer wants go first, then arbitrary
//! ones, down to seven eighths of it.

use std::hash::Hash;

use papaya::{Equivalent, Operation, ResizeMode};

/// A concurrent map that never holds more than its capacity.
pub struct BoundedMap<K, V> {
    map: papaya::HashMap<K, V, foldhash::quality::RandomState>,
    capacity: usize,
}

impl<K, V> BoundedMap<K, V>
where
    K: Hash + Eq,
{
    /// An empty map holding at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        BoundedMap {
            map: papaya::HashMap::builder()
                .hasher(foldhash::quality::RandomState::default())
                // Reads and the owners' sweeps over every entry are what
                // matter; a resize blocking writers is rare and brief.
                .resize_mode(ResizeMode::Blocking)
                .build(),
            capacity: capacity.max(1),
        }
    }

    /// What `read` makes of the entry for `key`, if there is one.
    pub fn read<Q, T>(&self, key: &Q, read: impl FnOnce(&V) -> T) -> Option<T>
    where
        Q: Equivalent<K> + Hash + ?Sized,
    {
        self.map.pin().get(key).map(read)
    }

    /// Inserts (or replaces) the entry for `key`. When the map is full,
    /// first the entries `keep` refuses are dropped, then arbitrary ones,
    /// until an eighth of the capacity is free: amortised constant work
    /// per insert, and never more than the capacity.
    pub fn insert(&self, key: K, value: V, keep: impl Fn(&V) -> bool) {
        let map = self.map.pin();
        if map.len() >= self.capacity {
            map.retain(|_, value| keep(value));
            let target = self.capacity - self.capacity / 8;
            let mut excess = map.len().saturating_sub(target);
            if excess > 0 {
                map.retain(|_, _| {
                    if excess == 0 {
                        return true;
                    }
                    excess -= 1;
                    false
                });
            }
        }
        map.insert(key, value);
    }

    /// Keeps only the entries `keep` accepts.
    pub fn retain(&self, keep: impl FnMut(&K, &V) -> bool) {
        self.map.pin().retain(keep);
    }

    /// What `pick` makes of each entry it picks.
    pub fn collect<T>(&self, mut pick: impl FnMut(&K, &V) -> Option<T>) -> Vec<T> {
        self.map
            .pin()
            .iter()
            .filter_map(|(key, value)| pick(key, value))
            .collect()
    }

    /// Replaces the entry for `key` by `next` (removes it when `None`),
    /// only while `still` accepts the entry there: an entry replaced or
    /// removed meanwhile by someone else is left as it is.
    pub fn replace_if(&self, key: K, still: impl Fn(&V) -> bool, next: Option<V>)
    where
        V: Clone,
    {
        self.map.pin().compute(key, |entry| match entry {
            Some((_, current)) if still(current) => match &next {
                Some(next) => Operation::Insert(next.clone()),
                None => Operation::Remove,
            },
            _ => Operation::Abort(()),
        });
    }

    /// Removes the entry for `key`.
    pub fn remove<Q>(&self, key: &Q)
    where
        Q: Equivalent<K> + Hash + ?Sized,
    {
        self.map.pin().remove(key);
    }

    /// How many entries the map holds.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_never_holds_more_than_its_capacity_and_drops_unwanted_entries_first() {
        let map = BoundedMap::new(16);
        for i in 0..16u32 {
            map.insert(i, i, |_| true);
        }
        assert_eq!(map.len(), 16);
        // Full: the odd entries are unwanted, so they go and no even one does.
        map.insert(100, 100, |v| v % 2 == 0);
        assert_eq!(map.len(), 9);
        for i in (0..16u32).step_by(2) {
            assert_eq!(map.read(&i, |v| *v), Some(i));
        }
        assert_eq!(map.read(&100, |v| *v), Some(100));
        // Every entry wanted: arbitrary ones go, down to 7/8 of the capacity.
        for i in 200..10_000u32 {
            map.insert(i, i, |_| true);
            assert!(map.len() <= 16);
        }
        assert_eq!(
            map.read(&9_999, |v| *v),
            Some(9_999),
            "the new entry is kept"
        );
    }

    #[test]
    fn replace_if_leaves_an_entry_someone_else_changed() {
        let map = BoundedMap::new(4);
        map.insert("k".to_string(), 1, |_| true);
        map.replace_if("k".to_string(), |v| *v == 1, Some(2));
        assert_eq!(map.read("k", |v| *v), Some(2));
        map.replace_if("k".to_string(), |v| *v == 1, Some(3));
        assert_eq!(map.read("k", |v| *v), Some(2), "not the entry checked");
        map.replace_if("k".to_string(), |v| *v == 2, None);
        assert_eq!(map.read("k", |v| *v), None);
        map.replace_if("k".to_string(), |_| true, Some(4));
        assert_eq!(map.read("k", |v| *v), None, "no entry: nothing inserted");
        assert!(map.is_empty());
    }
}
