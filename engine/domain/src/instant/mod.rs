//! Instant games (seed 003): dice, keno, mines, plinko and blackjack, provably fair and
//! Stake-compatible. Everything here is a pure function of committed seeds: the outcome of a
//! bet is decided by [`fair::Stream`] from the player's server seed, client seed and nonce,
//! so any public Stake verifier reproduces it once the server seed is revealed.
//!
//! This module owns the fairness stream, each game's outcome function and its payout tables
//! (with their returns to player). It never draws randomness (seeds arrive in commands) and
//! never uses a float.

pub mod blackjack;
pub mod cards;
pub mod dice;
pub mod fair;
pub mod game;
pub mod keno;
pub(crate) mod ledger;
pub mod mines;
pub mod payout;
pub mod plinko;
pub mod verify;

#[cfg(test)]
mod verifier_vectors;

pub use fair::{SeedHash, ServerSeed, Stream, Unit};
pub use game::{
    ClientSeed, GameParams, Instant, InstantBet, InstantBetRecord, InstantCommand, InstantConfig, InstantEvent,
    InstantLimits, InstantNo, InstantOutcome, Phase, Placed, Player, SeedPair, SettleReason,
};
pub use payout::{Multiplier, Rtp};
