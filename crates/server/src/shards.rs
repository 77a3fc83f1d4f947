//! A string-keyed map split into shards, each behind its own `std` lock, for
//! the caches every request reads (verified tokens, users' active-session
//! views): a read takes one uncontended shard's read lock, never an async
//! mutex and never one global lock.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Shards per map: enough that two cores rarely meet on one.
const SHARDS: usize = 32;

type Hasher = foldhash::fast::RandomState;

/// A sharded `String → V` map with a cap on entries per shard.
pub struct ShardedMap<V> {
    hasher: Hasher,
    shards: Box<[RwLock<HashMap<String, V, Hasher>>]>,
    per_shard: usize,
}

impl<V> ShardedMap<V> {
    /// A map holding about `capacity` entries at most.
    pub fn new(capacity: usize) -> Self {
        let hasher = Hasher::default();
        ShardedMap {
            shards: (0..SHARDS)
                .map(|_| RwLock::new(HashMap::with_hasher(hasher)))
                .collect(),
            hasher,
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, key: &str) -> &RwLock<HashMap<String, V, Hasher>> {
        // Low bits pick the shard; the map hashes again with its own seed.
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }

    fn read(&self, key: &str) -> RwLockReadGuard<'_, HashMap<String, V, Hasher>> {
        self.shard(key)
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self, key: &str) -> RwLockWriteGuard<'_, HashMap<String, V, Hasher>> {
        self.shard(key)
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the entry for `key` through `f`.
    pub fn with<R>(&self, key: &str, f: impl FnOnce(&V) -> R) -> Option<R> {
        self.read(key).get(key).map(f)
    }

    /// Inserts an entry. A full shard first drops the entries `keep` refuses,
    /// then everything if that was not enough.
    pub fn insert(&self, key: String, value: V, keep: impl Fn(&V) -> bool) {
        let mut shard = self.write(&key);
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.retain(|_, v| keep(v));
            if shard.len() >= self.per_shard {
                shard.clear();
            }
        }
        shard.insert(key, value);
    }

    /// Removes the entry for `key`.
    pub fn remove(&self, key: &str) {
        self.write(key).remove(key);
    }

    /// Keeps only the entries `keep` accepts, in every shard.
    pub fn retain(&self, keep: impl Fn(&V) -> bool) {
        for shard in self.shards.iter() {
            shard
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .retain(|_, v| keep(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_found_replaced_removed_and_capped() {
        let map = ShardedMap::new(64);
        map.insert("a".into(), 1, |_| true);
        map.insert("a".into(), 2, |_| true);
        assert_eq!(map.with("a", |v| *v), Some(2));
        map.remove("a");
        assert_eq!(map.with("a", |v| *v), None);
        for n in 0..10_000 {
            map.insert(n.to_string(), n, |_| true);
        }
        let held = (0..10_000)
            .filter(|n| map.with(&n.to_string(), |_| ()).is_some())
            .count();
        assert!(held <= 64 + SHARDS, "{held} entries held");
        assert_eq!(map.with("9999", |v| *v), Some(9999));
        map.retain(|v| *v != 9999);
        assert_eq!(map.with("9999", |v| *v), None);
    }
}
