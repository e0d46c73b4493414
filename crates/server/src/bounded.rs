//! Maps holding at most a fixed number of entries, or entries of at most a fixed total
//! weight (bytes), dropping the oldest inserted first.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// A bounded map with first-in-first-out eviction: at most `capacity` entries whose
/// weights sum to at most `max_weight` (an entry heavier than that is not kept).
#[derive(Debug)]
pub struct BoundedMap<K, V> {
    capacity: usize,
    max_weight: u64,
    weight: u64,
    map: HashMap<K, (V, u64)>,
    order: VecDeque<K>,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    /// An empty map for at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Self::weighed(capacity, u64::MAX)
    }

    /// An empty map for at most `capacity` entries (at least one) of at most `max_weight`
    /// in total.
    pub fn weighed(capacity: usize, max_weight: u64) -> Self {
        Self {
            capacity: capacity.max(1),
            max_weight,
            weight: 0,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Every entry, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.order
            .iter()
            .filter_map(|k| self.map.get(k).map(|(v, _)| (k, v)))
    }

    /// The value for `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|(v, _)| v)
    }

    /// Insert or replace (weight 1); evicts the oldest entries beyond the capacity.
    pub fn insert(&mut self, key: K, value: V) {
        self.insert_weighed(key, value, 1);
    }

    /// Insert or replace `key` as the newest entry with `weight`; evicts the oldest entries
    /// beyond the bounds. An entry heavier than the whole bound is not kept.
    pub fn insert_weighed(&mut self, key: K, value: V, weight: u64) {
        self.remove(&key);
        if weight > self.max_weight {
            return;
        }
        self.map.insert(key.clone(), (value, weight));
        self.order.push_back(key);
        self.weight = self.weight.saturating_add(weight);
        while self.map.len() > self.capacity || self.weight > self.max_weight {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some((_, w)) = self.map.remove(&oldest) {
                self.weight = self.weight.saturating_sub(w);
            }
        }
    }

    /// Remove `key`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let (value, w) = self.map.remove(key)?;
        self.weight = self.weight.saturating_sub(w);
        if let Some(at) = self.order.iter().position(|k| k == key) {
            self.order.remove(at);
        }
        Some(value)
    }

    /// Drop the oldest entries while `stale` says so of them.
    pub fn drop_oldest_while(&mut self, stale: impl Fn(&V) -> bool) {
        while let Some(oldest) = self.order.front() {
            match self.map.get(oldest) {
                Some((v, _)) if !stale(v) => break,
                _ => {}
            }
            if let Some(oldest) = self.order.pop_front()
                && let Some((_, w)) = self.map.remove(&oldest)
            {
                self.weight = self.weight.saturating_sub(w);
            }
        }
    }

    /// Drop everything.
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.weight = 0;
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The total weight of the entries.
    pub fn weight(&self) -> u64 {
        self.weight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_oldest() {
        let mut m = BoundedMap::new(2);
        m.insert("a", 1);
        m.insert("b", 2);
        m.insert("a", 3);
        m.insert("c", 4);
        assert_eq!(m.get(&"a"), Some(&3));
        assert_eq!(m.get(&"b"), None);
        assert_eq!(m.get(&"c"), Some(&4));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn keeps_the_total_weight_under_the_bound() {
        let mut m = BoundedMap::weighed(100, 10);
        m.insert_weighed("a", (), 4);
        m.insert_weighed("b", (), 4);
        m.insert_weighed("c", (), 4);
        assert_eq!(m.get(&"a"), None);
        assert_eq!(m.weight(), 8);
        m.insert_weighed("huge", (), 11);
        assert_eq!(m.get(&"huge"), None);
        assert_eq!(m.len(), 2);
        m.drop_oldest_while(|_| true);
        assert_eq!((m.len(), m.weight()), (0, 0));
    }
}
