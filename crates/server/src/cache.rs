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

/// A string key held in the map's entry itself when it is at most `N`
/// bytes, else on the heap. The map allocates each entry (key and value)
/// as one block, so an inline key is compared on the entry's own cache
/// lines: a `String` key's separate buffer was one more cache miss on
/// every lookup of a cold entry (a ~300-byte bearer token, 2,000 users
/// rotating; docs/benchmarks.md, "Read path CPU, again (issue 12, session
/// 10, `readcpu`)"). Looked up with [`KeyBytes`].
#[derive(Clone)]
pub enum InlineKey<const N: usize> {
    Inline { len: u16, bytes: [u8; N] },
    Heap(Box<[u8]>),
}

impl<const N: usize> InlineKey<N> {
    /// The key `key`.
    pub fn new(key: &str) -> Self {
        match u16::try_from(key.len()) {
            Ok(len) if key.len() <= N => {
                let mut bytes = [0u8; N];
                bytes[..key.len()].copy_from_slice(key.as_bytes());
                InlineKey::Inline { len, bytes }
            }
            _ => InlineKey::Heap(key.as_bytes().into()),
        }
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            InlineKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            InlineKey::Heap(bytes) => bytes,
        }
    }

    /// Whether the key is held inline.
    pub fn is_inline(&self) -> bool {
        matches!(self, InlineKey::Inline { .. })
    }
}

impl<const N: usize> PartialEq for InlineKey<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const N: usize> Eq for InlineKey<N> {}

impl<const N: usize> Hash for InlineKey<N> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        KeyBytes(self.as_bytes()).hash(state);
    }
}

/// An [`InlineKey`] to look up, by its bytes (hashed as the key hashes).
pub struct KeyBytes<'a>(pub &'a [u8]);

impl Hash for KeyBytes<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(self.0);
        state.write_u8(0xff);
    }
}

impl<const N: usize> Equivalent<InlineKey<N>> for KeyBytes<'_> {
    fn equivalent(&self, key: &InlineKey<N>) -> bool {
        self.0 == key.as_bytes()
    }
}

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
    fn an_inline_key_is_found_by_its_bytes_inline_or_on_the_heap() {
        let map: BoundedMap<InlineKey<8>, u32> = BoundedMap::new(16);
        let short = InlineKey::<8>::new("abcdefgh");
        let long = InlineKey::<8>::new("abcdefghi");
        assert!(short.is_inline() && !long.is_inline());
        map.insert(short, 1, |_| true);
        map.insert(long, 2, |_| true);
        map.insert(InlineKey::new(""), 3, |_| true);
        assert_eq!(map.read(&KeyBytes(b"abcdefgh"), |v| *v), Some(1));
        assert_eq!(map.read(&KeyBytes(b"abcdefghi"), |v| *v), Some(2));
        assert_eq!(map.read(&KeyBytes(b""), |v| *v), Some(3));
        // A prefix, or the bytes after the key's end, are other keys.
        assert_eq!(map.read(&KeyBytes(b"abcdefg"), |v| *v), None);
        assert_eq!(map.read(&KeyBytes(b"abcdefgh\0"), |v| *v), None);
        assert!(InlineKey::<8>::new("ab") == InlineKey::<8>::new("ab"));
        assert!(InlineKey::<8>::new("ab") != InlineKey::<8>::new("abc"));
        map.remove(&KeyBytes(b"abcdefghi"));
        assert_eq!(map.read(&KeyBytes(b"abcdefghi"), |v| *v), None);
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
