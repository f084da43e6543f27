//! A small cache of text -> vector. Query texts repeat (an assistant
//! retries, several users ask alike), and a hit saves a model run or a paid
//! API call.
//!
//! The cache is `quick_cache`, the crate the SQL guard's memo uses too: it
//! keeps what was used recently and repeatedly, in constant time per call,
//! and a text asked for once does not push out one asked for again and again.

use std::sync::Arc;

use quick_cache::sync::Cache;

pub struct VectorCache {
    /// `None` when the configured capacity is 0 (caching off).
    entries: Option<Cache<String, Arc<Vec<f32>>>>,
}

impl VectorCache {
    /// Holds up to `capacity` texts (quick_cache divides them among its
    /// shards, so the bound is per shard and the total about `capacity`);
    /// 0 caches nothing.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: (capacity > 0).then(|| Cache::new(capacity)),
        }
    }

    pub fn get(&self, text: &str) -> Option<Arc<Vec<f32>>> {
        self.entries.as_ref()?.get(text)
    }

    pub fn put(&self, text: &str, vector: Arc<Vec<f32>>) {
        if let Some(entries) = &self.entries {
            entries.insert(text.to_string(), vector);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_an_entry_not_used_since_it_was_put() {
        let cache = VectorCache::new(2);
        cache.put("a", Arc::new(vec![1.0]));
        cache.put("b", Arc::new(vec![2.0]));
        assert!(cache.get("a").is_some()); // a is now fresher than b
        cache.put("c", Arc::new(vec![3.0]));
        assert!(cache.get("b").is_none());
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
    }

    #[test]
    fn holds_no_more_than_its_capacity() {
        let cache = VectorCache::new(100);
        for i in 0..1_000 {
            cache.put(&i.to_string(), Arc::new(vec![i as f32]));
        }
        let held = (0..1_000)
            .filter(|i| cache.get(&i.to_string()).is_some())
            .count();
        assert!((1..=100).contains(&held), "{held} entries held");
        assert_eq!(cache.get("999").as_deref(), Some(&vec![999.0]));
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let cache = VectorCache::new(0);
        cache.put("a", Arc::new(vec![1.0]));
        assert!(cache.get("a").is_none());
    }
}
