//! Every reason the engine refuses a command, each with a stable code that the API returns.
//!
//! This is the one list of reject codes. Codes are part of the public contract: never rename
//! one; add new ones at the end of their group. A repeated idempotent command is *not* a
//! reject: it is answered with the first answer and `replayed: true` (see [`crate::Reply`]).

use crate::ids::Timestamp;
use crate::money::Money;
use crate::state::RoundStatus;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    // --- input and configuration ---
    #[error("amount must be positive")]
    InvalidAmount,
    #[error("unknown currency")]
    UnknownCurrency,
    #[error("currency is already defined with other settings")]
    CurrencyConflict,
    #[error("unknown game")]
    UnknownGame,
    #[error("game definition is invalid: {0}")]
    InvalidGame(&'static str),
    #[error("setting is invalid: {0}")]
    InvalidSettings(&'static str),
    #[error("the same id was used before with other content")]
    IdempotencyConflict,

    // --- accounts ---
    #[error("no account for this user and currency")]
    AccountNotFound,
    #[error("insufficient funds: {available} available")]
    InsufficientFunds { available: Money },
    #[error("account is in debt after a resettlement and takes no new bets or withdrawals")]
    AccountInDebt,
    #[error("balance would exceed the largest representable amount")]
    BalanceOverflow,

    // --- responsible gaming ---
    #[error("player is self-excluded until {until:?}")]
    SelfExcluded { until: Timestamp },
    #[error("daily stake limit reached: {remaining} left today")]
    DailyStakeLimit { remaining: Money },
    #[error("daily loss limit reached: {remaining} left today")]
    DailyLossLimit { remaining: Money },

    // --- rounds ---
    #[error("unknown round")]
    RoundNotFound,
    #[error("betting is closed for this round")]
    RoundClosed,
    #[error("round cannot go from {from:?} to {to:?}")]
    InvalidRoundTransition { from: RoundStatus, to: RoundStatus },
    #[error("draw result does not fit the game: {0}")]
    InvalidDrawResult(&'static str),

    // --- bets ---
    #[error("unknown selection for this game")]
    UnknownSelection,
    #[error("currency not accepted by this game")]
    CurrencyNotAccepted,
    #[error("stake below the minimum of {min}")]
    StakeTooLow { min: Money },
    #[error("stake above the maximum of {max}")]
    StakeTooHigh { max: Money },
    #[error("stake limit per player per round reached: {remaining} left")]
    RoundStakeLimit { remaining: Money },
    #[error("house liability limit for this selection reached")]
    LiabilityLimit,
    #[error("unknown bet")]
    BetNotFound,
    #[error("bet is already settled")]
    BetSettled,
    #[error("bet is not settled yet")]
    BetNotSettled,
    #[error("bet id was refunded before it was placed; it can no longer be used")]
    BetRefunded,

    // --- red packets ---
    #[error("unknown red packet")]
    PacketNotFound,
    #[error("red packet share count must be between 1 and {max}")]
    PacketCount { max: u32 },
    #[error("red packet total must be at least one minor unit per share")]
    PacketTooSmall,
    #[error("red packet has no shares left")]
    PacketEmpty,
    #[error("red packet has expired")]
    PacketExpired,
    #[error("red packet has not expired yet")]
    PacketNotExpired,

    // --- runtime ---
    #[error("this command is internal to the runtime and cannot be submitted")]
    NotRoutable,
    #[error("the shard is busy: retry after {retry_after_ms} ms")]
    Busy { retry_after_ms: u64 },
    #[error("the shard stopped after a failure; the command's outcome is known only after a restart")]
    ShardUnavailable,
    /// The engine hit a bug deciding this command; nothing changed and nothing was journaled.
    #[error("internal error deciding this command; nothing changed")]
    Internal,
    #[error("this data folder belongs to shard {shard} of {shards}; start with the same shard count")]
    TopologyMismatch { shard: u32, shards: u32 },
    #[error("this shard does not own that user, packet or transfer")]
    WrongShard,

    // --- crash game (its own group of codes) ---
    #[error(transparent)]
    Crash(#[from] crate::crash::CrashReject),
    // --- instant games ---
    #[error("the player has no seed pair yet: fetch the seeds (their hash) before the first bet")]
    SeedRequired,
    #[error("game parameters are invalid: {0}")]
    InvalidGameParams(&'static str),
    #[error("the player has a game in progress")]
    GameInProgress,
    #[error("this tile is already revealed")]
    TileRevealed,
    #[error("reveal at least one gem before cashing out")]
    NoGemsRevealed,
    #[error("not due before {due:?}")]
    NotDue { due: Timestamp },
    #[error("answer the insurance offered first")]
    InsurancePending,
    #[error("insurance is offered only when the dealer shows an ace, before any other action")]
    InsuranceNotOffered,
    #[error("doubling is only allowed on a hand's first two cards")]
    CannotDouble,
    #[error("splitting takes a pair of the same rank, once per game")]
    CannotSplit,
    #[error("the game has not reached this step yet")]
    StepAhead,
    // --- red packets for chosen recipients (seed 002) ---
    #[error("a red packet names at most {max} recipients, and no fewer than its shares")]
    PacketRecipients { max: u32 },
    #[error("this red packet is for other recipients")]
    NotARecipient,
}

impl Reject {
    /// The stable code the API returns, e.g. `INSUFFICIENT_FUNDS`.
    pub fn code(&self) -> &'static str {
        use Reject::*;
        match self {
            InvalidAmount => "INVALID_AMOUNT",
            UnknownCurrency => "UNKNOWN_CURRENCY",
            CurrencyConflict => "CURRENCY_CONFLICT",
            UnknownGame => "UNKNOWN_GAME",
            InvalidGame(_) => "INVALID_GAME",
            InvalidSettings(_) => "INVALID_SETTINGS",
            IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
            AccountNotFound => "ACCOUNT_NOT_FOUND",
            InsufficientFunds { .. } => "INSUFFICIENT_FUNDS",
            AccountInDebt => "ACCOUNT_IN_DEBT",
            BalanceOverflow => "BALANCE_OVERFLOW",
            SelfExcluded { .. } => "SELF_EXCLUDED",
            DailyStakeLimit { .. } => "DAILY_STAKE_LIMIT",
            DailyLossLimit { .. } => "DAILY_LOSS_LIMIT",
            RoundNotFound => "ROUND_NOT_FOUND",
            RoundClosed => "ROUND_CLOSED",
            InvalidRoundTransition { .. } => "INVALID_ROUND_TRANSITION",
            InvalidDrawResult(_) => "INVALID_DRAW_RESULT",
            UnknownSelection => "UNKNOWN_SELECTION",
            CurrencyNotAccepted => "CURRENCY_NOT_ACCEPTED",
            StakeTooLow { .. } => "STAKE_TOO_LOW",
            StakeTooHigh { .. } => "STAKE_TOO_HIGH",
            RoundStakeLimit { .. } => "ROUND_STAKE_LIMIT",
            LiabilityLimit => "LIABILITY_LIMIT",
            BetNotFound => "BET_NOT_FOUND",
            BetSettled => "BET_SETTLED",
            BetNotSettled => "BET_NOT_SETTLED",
            BetRefunded => "BET_REFUNDED",
            PacketNotFound => "PACKET_NOT_FOUND",
            PacketCount { .. } => "PACKET_COUNT",
            PacketTooSmall => "PACKET_TOO_SMALL",
            PacketEmpty => "PACKET_EMPTY",
            PacketExpired => "PACKET_EXPIRED",
            PacketNotExpired => "PACKET_NOT_EXPIRED",
            NotRoutable => "NOT_ROUTABLE",
            Busy { .. } => "BUSY",
            ShardUnavailable => "SHARD_UNAVAILABLE",
            Internal => "INTERNAL_ERROR",
            TopologyMismatch { .. } => "TOPOLOGY_MISMATCH",
            WrongShard => "WRONG_SHARD",
            Crash(r) => r.code(),
            SeedRequired => "SEED_REQUIRED",
            InvalidGameParams(_) => "INVALID_GAME_PARAMS",
            GameInProgress => "GAME_IN_PROGRESS",
            TileRevealed => "TILE_REVEALED",
            NoGemsRevealed => "NO_GEMS_REVEALED",
            NotDue { .. } => "NOT_DUE",
            InsurancePending => "INSURANCE_PENDING",
            InsuranceNotOffered => "INSURANCE_NOT_OFFERED",
            CannotDouble => "CANNOT_DOUBLE",
            CannotSplit => "CANNOT_SPLIT",
            StepAhead => "STEP_AHEAD",
            PacketRecipients { .. } => "PACKET_RECIPIENTS",
            NotARecipient => "NOT_A_RECIPIENT",
        }
    }

    /// Every code, for documentation and for the test that keeps codes unique.
    pub const ALL_CODES: &'static [&'static str] = &[
        "INVALID_AMOUNT",
        "UNKNOWN_CURRENCY",
        "CURRENCY_CONFLICT",
        "UNKNOWN_GAME",
        "INVALID_GAME",
        "INVALID_SETTINGS",
        "IDEMPOTENCY_CONFLICT",
        "ACCOUNT_NOT_FOUND",
        "INSUFFICIENT_FUNDS",
        "ACCOUNT_IN_DEBT",
        "BALANCE_OVERFLOW",
        "SELF_EXCLUDED",
        "DAILY_STAKE_LIMIT",
        "DAILY_LOSS_LIMIT",
        "ROUND_NOT_FOUND",
        "ROUND_CLOSED",
        "INVALID_ROUND_TRANSITION",
        "INVALID_DRAW_RESULT",
        "UNKNOWN_SELECTION",
        "CURRENCY_NOT_ACCEPTED",
        "STAKE_TOO_LOW",
        "STAKE_TOO_HIGH",
        "ROUND_STAKE_LIMIT",
        "LIABILITY_LIMIT",
        "BET_NOT_FOUND",
        "BET_SETTLED",
        "BET_NOT_SETTLED",
        "BET_REFUNDED",
        "PACKET_NOT_FOUND",
        "PACKET_COUNT",
        "PACKET_TOO_SMALL",
        "PACKET_EMPTY",
        "PACKET_EXPIRED",
        "PACKET_NOT_EXPIRED",
        "NOT_ROUTABLE",
        "BUSY",
        "SHARD_UNAVAILABLE",
        "INTERNAL_ERROR",
        "TOPOLOGY_MISMATCH",
        "WRONG_SHARD",
        "SEED_REQUIRED",
        "INVALID_GAME_PARAMS",
        "GAME_IN_PROGRESS",
        "TILE_REVEALED",
        "NO_GEMS_REVEALED",
        "NOT_DUE",
        "INSURANCE_PENDING",
        "INSURANCE_NOT_OFFERED",
        "CANNOT_DOUBLE",
        "CANNOT_SPLIT",
        "STEP_AHEAD",
        "PACKET_RECIPIENTS",
        "NOT_A_RECIPIENT",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_screaming_snake_case() {
        let all: Vec<_> = Reject::ALL_CODES.iter().chain(crate::crash::CrashReject::ALL_CODES).collect();
        let set: HashSet<_> = all.iter().collect();
        assert_eq!(set.len(), all.len());
        for c in all {
            assert!(c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_'), "{c}");
        }
        // Spot-check that code() and the list agree.
        for r in [
            Reject::InsufficientFunds { available: Money(0) },
            Reject::RoundClosed,
            Reject::PacketEmpty,
            Reject::SelfExcluded { until: Timestamp(0) },
            Reject::NotRoutable,
            Reject::Busy { retry_after_ms: 1 },
            Reject::ShardUnavailable,
            Reject::Internal,
            Reject::PacketRecipients { max: 1 },
            Reject::NotARecipient,
        ] {
            assert!(Reject::ALL_CODES.contains(&r.code()));
        }
    }
}
