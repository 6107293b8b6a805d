//! A map whose values are built on first use and then shared, read-mostly, by every thread:
//! the per-vocabulary parts of the trie index and the per-list parts of a mask table.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, RwLock};

/// Values by key, each built once (two threads asking at once may both build it; the first
/// stored wins and both get it) and handed out behind an `Arc`.
pub(crate) struct SharedMap<K, V>(RwLock<HashMap<K, Arc<V>>>);

impl<K: Eq + Hash, V> SharedMap<K, V> {
    pub(crate) fn new() -> SharedMap<K, V> {
        SharedMap(RwLock::new(HashMap::new()))
    }

    /// The value of `key`, built by `build` if it is not there yet.
    pub(crate) fn get_or_build(&self, key: K, build: impl FnOnce() -> V) -> Arc<V> {
        if let Some(v) = self.0.read().expect("shared map lock").get(&key) {
            return Arc::clone(v);
        }
        let v = Arc::new(build());
        let mut map = self.0.write().expect("shared map lock");
        Arc::clone(map.entry(key).or_insert(v))
    }

    /// The sum of `size` over the values built so far.
    pub(crate) fn total(&self, size: impl Fn(&V) -> usize) -> usize {
        self.0
            .read()
            .expect("shared map lock")
            .values()
            .map(|v| size(v))
            .sum()
    }
}
