//! Which shard a command goes to.
//!
//! A user's accounts, bets and limits live on one shard, chosen by a hash of the user id.
//! Configuration and round lifecycle go to every shard: each keeps its own copy of the
//! settings, games and rounds, and settles its own bets. Bookmaker bets (seed 004) and red
//! packets (seed 002) touch state that is keyed by something other than one user (a bet id, a
//! pool shared by many grabbers), so they need messages between shards, which this runtime
//! does not have yet (issue 5): they are answered `NOT_ROUTABLE`.

use crate::ids::UserId;
use crate::Command;

/// Where a command goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// To one shard.
    Shard(usize),
    /// To every shard; the caller gets one merged answer.
    Broadcast,
    /// Nowhere yet: answered with [`crate::Reject::NotRoutable`].
    NotRoutable,
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

/// Routes `cmd` among `shards` shards.
pub fn route(cmd: &Command, shards: usize) -> Route {
    use Command::*;
    match cmd {
        PlaceBet(bet) => Route::Shard(shard_of(bet.user, shards)),
        Deposit { user, .. }
        | Withdraw { user, .. }
        | SetPlayerLimits { user, .. }
        | SelfExclude { user, .. }
        | CheckBet { user, .. } => Route::Shard(shard_of(*user, shards)),
        Configure(_)
        | DefineCurrency { .. }
        | DefineGame(_)
        | GameStart { .. }
        | GameStop { .. }
        | NewCard { .. }
        | GameDraw { .. }
        | GameEnd { .. }
        | CancelRound { .. }
        | ResettleRound { .. } => Route::Broadcast,
        // A bookmaker bet's hold is on its user's shard, but its status updates, refunds and
        // recalculations name only the bet id.
        BlockFunds { .. } | UpdateBetStatus { .. } | Refund { .. } | RecalculateBet { .. } => Route::NotRoutable,
        // A pool lives on its sender's shard; grabbers' credits would have to travel.
        SendRedPacket(_) | GrabRedPacket { .. } | ExpireRedPacket { .. } => Route::NotRoutable,
    }
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
    }
}
