//! Which shard a command goes to.
//!
//! A user's accounts, bets and limits live on one shard, chosen by a hash of the user id
//! ([`shard_of`]). Configuration and round lifecycle go to every shard: each keeps its own
//! copy of the settings, games and rounds, and settles its own bets. Bookmaker calls carry the
//! player (seed 004 `partner_player_id`) and go to the player's shard. A red packet's pool
//! lives on its sender's shard, and its link names the sender, so grabs and expiry go there;
//! a grabber on another shard is credited by a transfer between shards. Commands internal to
//! the runtime (topology, transfers, acknowledgements) cannot be submitted from outside.
//! Crash bets and cashouts go to the player's shard, crash channels and terms everywhere.

pub use croupier_domain::topology::{mix, shard_of};
use croupier_domain::Command;

/// Where a command goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// To one shard.
    Shard(usize),
    /// To every shard; the caller gets one merged answer.
    Broadcast,
    /// Nowhere: a runtime-internal command, answered with [`croupier_domain::Reject::NotRoutable`].
    NotRoutable,
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
        | CheckBet { user, .. }
        | BlockFunds { user, .. }
        | UpdateBetStatus { user, .. }
        | Refund { user, .. }
        | RecalculateBet { user, .. } => Route::Shard(shard_of(*user, shards)),
        SendRedPacket(p) => Route::Shard(shard_of(p.sender, shards)),
        GrabRedPacket { sender, .. } | ExpireRedPacket { sender, .. } => Route::Shard(shard_of(*sender, shards)),
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
        SetTopology(_) | ReceiveTransfer(_) | AckTransfers { .. } => Route::NotRoutable,
        // The crash game: bets and cashouts on the player's shard, the channel and its terms
        // on every shard (each settles its own bets).
        Crash(c) => match c.player() {
            Some(user) => Route::Shard(shard_of(user, shards)),
            None => Route::Broadcast,
        },
        // A player's seeds and bets live on the player's shard; configuration on every shard.
        Instant(c) => c.user().map_or(Route::Broadcast, |user| Route::Shard(shard_of(user, shards))),
    }
}
