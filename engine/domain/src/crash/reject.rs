//! Why the crash game refuses a command, each with a stable code (a group of its own in
//! [`crate::Reject`]). Never rename a code; add new ones at the end.

use super::TermStatus;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CrashReject {
    #[error("unknown crash channel")]
    ChannelNotFound,
    #[error("crash channel is invalid: {0}")]
    InvalidChannel(&'static str),
    #[error("the crash channel is paused")]
    ChannelPaused,
    #[error("no such term on this channel")]
    TermNotFound,
    #[error("term cannot go from {from:?} to {to:?}")]
    InvalidTermTransition { from: TermStatus, to: TermStatus },
    #[error("term is not due yet: {wait_ms} ms to go")]
    TermNotDue { wait_ms: u64 },
    #[error("the revealed hash does not hash to the previous game's: it is not on the published chain")]
    HashNotOnChain,
    #[error("the channel's hash chain is used up")]
    ChainExhausted,
    #[error("bets are closed for this term")]
    BettingClosed,
    #[error("auto cashout must be at least 1.01x")]
    TargetTooLow,
    #[error("the bet could win more than the per-bet profit limit of {max}")]
    ProfitLimit { max: crate::money::Money },
    #[error("the bet is no longer open")]
    BetNotOpen,
    #[error("the term is not flying")]
    NotFlying,
    #[error("too late: the term crashed before this cashout")]
    TooLate,
}

impl CrashReject {
    pub fn code(&self) -> &'static str {
        use CrashReject::*;
        match self {
            ChannelNotFound => "CRASH_CHANNEL_NOT_FOUND",
            InvalidChannel(_) => "CRASH_INVALID_CHANNEL",
            ChannelPaused => "CRASH_CHANNEL_PAUSED",
            TermNotFound => "CRASH_TERM_NOT_FOUND",
            InvalidTermTransition { .. } => "CRASH_INVALID_TERM_TRANSITION",
            TermNotDue { .. } => "CRASH_TERM_NOT_DUE",
            HashNotOnChain => "CRASH_HASH_NOT_ON_CHAIN",
            ChainExhausted => "CRASH_CHAIN_EXHAUSTED",
            BettingClosed => "CRASH_BETTING_CLOSED",
            TargetTooLow => "CRASH_TARGET_TOO_LOW",
            ProfitLimit { .. } => "CRASH_PROFIT_LIMIT",
            BetNotOpen => "CRASH_BET_NOT_OPEN",
            NotFlying => "CRASH_NOT_FLYING",
            TooLate => "CRASH_TOO_LATE",
        }
    }

    /// Every code of the group.
    pub const ALL_CODES: &'static [&'static str] = &[
        "CRASH_CHANNEL_NOT_FOUND",
        "CRASH_INVALID_CHANNEL",
        "CRASH_CHANNEL_PAUSED",
        "CRASH_TERM_NOT_FOUND",
        "CRASH_INVALID_TERM_TRANSITION",
        "CRASH_TERM_NOT_DUE",
        "CRASH_HASH_NOT_ON_CHAIN",
        "CRASH_CHAIN_EXHAUSTED",
        "CRASH_BETTING_CLOSED",
        "CRASH_TARGET_TOO_LOW",
        "CRASH_PROFIT_LIMIT",
        "CRASH_BET_NOT_OPEN",
        "CRASH_NOT_FLYING",
        "CRASH_TOO_LATE",
    ];

    /// How the API answers it: `NotFound`, `Conflict` (the state forbids it now) or `Invalid`.
    pub fn kind(&self) -> RejectKind {
        use CrashReject::*;
        match self {
            ChannelNotFound | TermNotFound => RejectKind::NotFound,
            ChannelPaused
            | InvalidTermTransition { .. }
            | TermNotDue { .. }
            | ChainExhausted
            | BettingClosed
            | BetNotOpen
            | NotFlying
            | TooLate => RejectKind::Conflict,
            InvalidChannel(_) | HashNotOnChain | TargetTooLow | ProfitLimit { .. } => RejectKind::Invalid,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectKind {
    NotFound,
    Conflict,
    Invalid,
}
