//! Row ids that say nothing about other stores' rows.
//!
//! Numbered in order, ids of store-scoped rows are a side channel: a store
//! manager who sees order 20,645 knows how many orders the chain has, and
//! the gaps between their own consecutive order ids count the other
//! stores' orders placed in between. So the generator numbers customers,
//! orders and order lines in order, and stores each number through a keyed
//! pseudo-random permutation of 1..2^31-1: a 4-round Feistel network over
//! 32 bits (SipHash-2-4 round function), walked until it lands back in the
//! range. The key comes from the database's own random HMAC key (made by the
//! migrations, unreadable by the query role), so every database numbers
//! differently and nobody without that key can undo it; the same database
//! and seed give the same ids.

use std::hash::Hasher;

use siphasher::sip::SipHasher24;

/// The largest id (`integer` columns).
const MAX_ID: u32 = i32::MAX as u32;

/// One table's numbering.
#[derive(Clone)]
pub struct IdPermutation {
    keys: [(u64, u64); 4],
}

impl IdPermutation {
    /// The numbering of `table` under `secret` (the database's id key).
    pub fn new(secret: &[u8; 32], table: &str) -> Self {
        use sha2::{Digest, Sha256};
        let keys = std::array::from_fn(|round| {
            let digest = Sha256::new()
                .chain_update(secret)
                .chain_update(table.as_bytes())
                .chain_update([round as u8])
                .finalize();
            let word = |i: usize| u64::from_le_bytes(digest[i..i + 8].try_into().expect("8 bytes"));
            (word(0), word(8))
        });
        Self { keys }
    }

    /// The id of the `n`-th row (1-based): a bijection on 1..=2^31-1.
    pub fn id(&self, n: u32) -> i32 {
        assert!((1..=MAX_ID).contains(&n), "row number {n} out of range");
        let mut value = n;
        // Cycle walking: a permutation of 32-bit values, applied until the
        // value is back in 1..=2^31-1, is a permutation of that range.
        loop {
            value = self.feistel(value);
            if (1..=MAX_ID).contains(&value) {
                return value as i32;
            }
        }
    }

    fn feistel(&self, value: u32) -> u32 {
        let (mut left, mut right) = ((value >> 16) as u16, value as u16);
        for (k0, k1) in self.keys {
            let mut hasher = SipHasher24::new_with_keys(k0, k1);
            hasher.write_u16(right);
            let mixed = left ^ (hasher.finish() as u16);
            left = right;
            right = mixed;
        }
        ((left as u32) << 16) | right as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_distinct_in_range_unordered_and_keyed() {
        let ids = IdPermutation::new(&[7; 32], "orders");
        let first: Vec<i32> = (1..=20_000).map(|n| ids.id(n)).collect();
        assert!(first.iter().all(|&id| id >= 1));
        assert_eq!(first.iter().collect::<HashSet<_>>().len(), first.len());
        // No order to read: about half of consecutive pairs go down.
        let down = first.windows(2).filter(|w| w[1] < w[0]).count();
        assert!((8_000..12_000).contains(&down), "{down}");
        // Spread over the range, not packed near the count.
        assert!(first.iter().any(|&id| id > 1 << 30));
        // Another key, or another table, numbers differently.
        assert_ne!(IdPermutation::new(&[8; 32], "orders").id(1), first[0]);
        assert_ne!(IdPermutation::new(&[7; 32], "customers").id(1), first[0]);
        assert_eq!(ids.id(1), first[0], "deterministic");
    }
}
