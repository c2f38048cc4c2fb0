//! A bounded key-value map that forgets the least recently used key first.
//!
//! A cache is small on purpose: it holds the few keys that are asked for
//! most, in fast memory, in front of a big, slow store. When it is full and
//! a new key comes in, one key must go. *Least recently used* (LRU) evicts
//! the key whose last use lies furthest in the past. It bets on temporal
//! locality: a key used a moment ago is likely to be used again soon, and a
//! key nobody has touched for a while is not. Under a skewed workload, where
//! a few keys take most of the requests, the popular keys are used so often
//! that they are almost never the least recent, so they stay.
//!
//! Two things count as a *use*: a lookup that finds the key ([`Lru::get`]),
//! and storing a value under it ([`Lru::put`]), whether the key is new or
//! already held. A lookup that finds nothing changes nothing.
//!
//! # How recency is kept here
//!
//! Every use stamps the entry with the next value of a counter, a logical
//! clock. The least recently used entry is the one with the smallest stamp.
//! Finding it means looking at every entry, which costs time proportional
//! to the capacity; with the labs' capacities (tens of keys) that is nothing.
//!
//! Production caches make every operation O(1) with a hash map whose
//! entries also sit in a doubly linked list in order of use: a use moves the
//! entry to the front, eviction takes the back (Java's `LinkedHashMap` in
//! access order; the `lru` crate in Rust). memcached keeps such lists, split
//! into hot, warm and cold segments so that one scan over many keys cannot
//! flush the popular ones. Redis does not keep an order at all: it samples a
//! few keys at random and evicts the oldest of the sample, an approximation
//! that costs no memory per key.

use std::collections::HashMap;

/// A map from keys to values that holds at most `capacity` entries and,
/// when it must drop one, drops the least recently used.
#[derive(Debug, Clone)]
pub struct Lru {
    /// The most entries the map holds after any operation; at least 1.
    capacity: usize,
    /// The entries, by key.
    entries: HashMap<String, Entry>,
    /// The logical clock: the stamp of the latest use. It only grows, so a
    /// larger stamp means a more recent use.
    clock: u64,
}

/// One value and when it was last used.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// The value stored under the key.
    value: String,
    /// The clock's value at the entry's latest use.
    last_used: u64,
}

impl Lru {
    /// An empty map that holds at most `capacity` entries.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0: such a cache could hold nothing.
    pub fn new(capacity: usize) -> Lru {
        assert!(capacity > 0, "Lru::new: the capacity must be at least 1");
        Lru {
            capacity,
            entries: HashMap::new(),
            clock: 0,
        }
    }

    /// The most entries the map holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many entries the map holds now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `key` is held. Unlike [`Lru::get`], this is not a use: it
    /// leaves the order of the entries alone.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Advances the logical clock and returns its new value: the stamp for
    /// a use happening now.
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// The value held for `key`, if any. Finding the key is a use: it
    /// becomes the most recently used entry. Not finding it changes nothing.
    pub fn get(&mut self, key: &str) -> Option<String> {
        // TODO: A hit is a use: stamp the entry with a new tick of the clock,
        //       so that it becomes the most recently used, and return its
        //       value. A miss changes nothing.
        todo!("look up a key and refresh it")
    }

    /// Stores `value` under `key`, replacing any value held for it; the key
    /// becomes the most recently used. Then, while more than `capacity`
    /// entries are held, removes the least recently used one.
    ///
    /// Returns the keys removed, oldest first: none when the key was already
    /// held or there was room, one when the map was full.
    pub fn put(&mut self, key: &str, value: &str) -> Vec<String> {
        // TODO: Store the value, stamped as the most recent use. Then, only
        //       while more than `capacity` entries are held, remove the one
        //       used longest ago (the smallest stamp), and return the keys
        //       removed.
        todo!("insert a key and evict the least recently used")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    use handout::Rng;

    /// A new map holds nothing and finds nothing.
    #[test]
    fn a_new_map_is_empty() {
        let mut lru = Lru::new(3);
        assert!(lru.is_empty());
        assert_eq!(lru.capacity(), 3);
        assert_eq!(lru.get("a"), None);
        assert_eq!(lru.len(), 0);
    }

    /// What is put can be got back, and a miss inserts nothing.
    #[test]
    fn put_then_get() {
        let mut lru = Lru::new(3);
        assert_eq!(lru.put("a", "1"), Vec::<String>::new());
        assert_eq!(lru.get("a"), Some("1".to_string()));
        assert_eq!(lru.get("b"), None);
        assert_eq!(lru.len(), 1);
        assert!(lru.contains("a") && !lru.contains("b"));
    }

    /// A full map evicts its least recently used key, one per new key, in
    /// the order the keys were put.
    #[test]
    fn eviction_follows_the_order_of_use() {
        let mut lru = Lru::new(3);
        for key in ["a", "b", "c"] {
            assert!(lru.put(key, key).is_empty(), "{key}: there was room");
        }
        assert_eq!(lru.put("d", "d"), ["a"]);
        assert_eq!(lru.put("e", "e"), ["b"]);
        assert_eq!(lru.len(), 3);
        assert_eq!(lru.get("a"), None);
        assert_eq!(lru.get("b"), None);
        for key in ["c", "d", "e"] {
            assert_eq!(lru.get(key), Some(key.to_string()));
        }
    }

    /// The map never holds more than its capacity.
    #[test]
    fn capacity_is_never_exceeded() {
        for capacity in [1, 2, 5] {
            let mut lru = Lru::new(capacity);
            for n in 0..20 {
                let key = format!("k{n}");
                let evicted = lru.put(&key, "v");
                assert!(lru.len() <= capacity, "capacity {capacity}");
                assert_eq!(evicted.len(), usize::from(n >= capacity));
            }
            assert_eq!(lru.len(), capacity);
        }
    }

    /// With capacity 1, every new key evicts the one before it.
    #[test]
    fn capacity_one_keeps_the_last_key() {
        let mut lru = Lru::new(1);
        assert!(lru.put("a", "1").is_empty());
        assert_eq!(lru.put("b", "2"), ["a"]);
        assert_eq!(lru.get("a"), None);
        assert_eq!(lru.get("b"), Some("2".to_string()));
    }

    /// A `get` that finds its key is a use: the key is no longer the first
    /// to go.
    #[test]
    fn get_refreshes_recency() {
        let mut lru = Lru::new(3);
        for key in ["a", "b", "c"] {
            lru.put(key, key);
        }
        assert_eq!(lru.get("a"), Some("a".to_string()));
        assert_eq!(lru.put("d", "d"), ["b"]);
        assert!(lru.contains("a"));
    }

    /// A `get` that misses is not a use: it changes neither the content nor
    /// the order.
    #[test]
    fn a_miss_changes_nothing() {
        let mut lru = Lru::new(2);
        lru.put("a", "a");
        lru.put("b", "b");
        assert_eq!(lru.get("zzz"), None);
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.put("c", "c"), ["a"]);
    }

    /// Putting a key that is held replaces its value, evicts nothing, and
    /// makes the key the most recently used.
    #[test]
    fn overwrite_replaces_and_refreshes() {
        let mut lru = Lru::new(3);
        for key in ["a", "b", "c"] {
            lru.put(key, "old");
        }
        assert!(
            lru.put("a", "new").is_empty(),
            "an overwrite evicts nothing"
        );
        assert_eq!(lru.len(), 3);
        assert_eq!(lru.put("d", "d"), ["b"]);
        assert_eq!(lru.get("a"), Some("new".to_string()));
    }

    /// `contains` is not a use.
    #[test]
    fn contains_does_not_refresh() {
        let mut lru = Lru::new(2);
        lru.put("a", "a");
        lru.put("b", "b");
        assert!(lru.contains("a"));
        assert_eq!(lru.put("c", "c"), ["a"]);
    }

    /// Over a long random mix of gets and puts, the map agrees with the
    /// simplest possible LRU: a list in order of use, most recent last.
    #[test]
    fn agrees_with_a_list_in_order_of_use() {
        let mut rng = Rng::new(3);
        for capacity in [1, 2, 3, 7] {
            let mut lru = Lru::new(capacity);
            let mut model: VecDeque<(String, String)> = VecDeque::new();
            for step in 0..2000 {
                let key = format!("k{}", rng.below(10));
                if rng.below(2) == 0 {
                    let expected = model.iter().position(|(k, _)| *k == key).map(|at| {
                        let entry = model.remove(at).unwrap();
                        let value = entry.1.clone();
                        model.push_back(entry);
                        value
                    });
                    assert_eq!(lru.get(&key), expected, "step {step}: get {key}");
                } else {
                    let value = format!("v{step}");
                    model.retain(|(k, _)| *k != key);
                    model.push_back((key.clone(), value.clone()));
                    let mut expected = Vec::new();
                    while model.len() > capacity {
                        expected.push(model.pop_front().unwrap().0);
                    }
                    assert_eq!(lru.put(&key, &value), expected, "step {step}: put {key}");
                }
                assert_eq!(lru.len(), model.len());
            }
        }
    }

    /// A cache that could hold nothing is a programming error.
    #[test]
    #[should_panic(expected = "at least 1")]
    fn capacity_zero_panics() {
        Lru::new(0);
    }
}
