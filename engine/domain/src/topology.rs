//! Which shard owns which user. Pure: the runtime's router and `decide` (which must know
//! whether a grabber is local) use the same function, so they can never disagree.

use crate::ids::UserId;
use serde::{Deserialize, Serialize};

/// A shard's place among its runtime's shards. A single engine outside a runtime has none and
/// owns every user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    pub shard: u32,
    pub shards: u32,
}

impl Topology {
    pub fn is_valid(&self) -> bool {
        self.shards >= 1 && self.shard < self.shards
    }

    /// The shard that owns `user`.
    #[inline]
    pub fn shard_of(&self, user: UserId) -> u32 {
        shard_of(user, self.shards as usize) as u32
    }

    #[inline]
    pub fn owns(&self, user: UserId) -> bool {
        self.shard_of(user) == self.shard
    }
}

/// The splitmix64 finalizer: a cheap mix so that sequential user ids spread over shards.
/// Deliberately not the account index's mixer (`index::mix64`): with the same hash, every user
/// of shard `k` would share `hash % shards == k`, which for a power-of-two shard count puts
/// them all on the same low bits, and so on a fraction of their shard's index slots.
#[inline]
pub fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The shard that owns `user`'s accounts among `shards`.
#[inline]
pub fn shard_of(user: UserId, shards: usize) -> usize {
    debug_assert!(shards > 0);
    (mix(user.0) % shards as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_spread_over_shards() {
        let mut counts = [0u32; 4];
        for u in 0..4_000 {
            counts[shard_of(UserId(u), 4)] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
        assert_eq!(shard_of(UserId(12345), 1), 0);
        let t = Topology { shard: 2, shards: 4 };
        assert!(t.is_valid() && !Topology { shard: 4, shards: 4 }.is_valid());
        assert_eq!(t.owns(UserId(7)), shard_of(UserId(7), 4) == 2);
    }
}
