//! A small least-recently-used cache of text -> vector. Query texts repeat
//! (an assistant retries, several users ask alike), and a hit saves a model
//! run or a paid API call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub struct LruCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, (Arc<Vec<f32>>, u64)>,
    clock: u64,
}

impl LruCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn get(&self, text: &str) -> Option<Arc<Vec<f32>>> {
        let mut inner = self.inner.lock().ok()?;
        inner.clock += 1;
        let now = inner.clock;
        let entry = inner.entries.get_mut(text)?;
        entry.1 = now;
        Some(entry.0.clone())
    }

    pub fn put(&self, text: &str, vector: Arc<Vec<f32>>) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.entries.len() >= self.capacity && !inner.entries.contains_key(text) {
            // Linear scan: eviction is rare next to the cost of what it saves.
            if let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(key, _)| key.clone())
            {
                inner.entries.remove(&oldest);
            }
        }
        inner.clock += 1;
        let now = inner.clock;
        inner.entries.insert(text.to_string(), (vector, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let cache = LruCache::new(2);
        cache.put("a", Arc::new(vec![1.0]));
        cache.put("b", Arc::new(vec![2.0]));
        assert!(cache.get("a").is_some()); // a is now fresher than b
        cache.put("c", Arc::new(vec![3.0]));
        assert!(cache.get("b").is_none());
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
    }
}
