//! A ready crash channel for tests, simulations and `croupier bench`: CNY limits, a chain drawn
//! from a fixed top (never do that outside tests: a real top comes from the OS CSPRNG), and
//! the commands of a term.

use super::command::{ChannelConfig, CrashLimits, CreateChannel, PlaceCrashBet};
use super::fair::{Chain, GameHash};
use super::{CrashCommand, Salt};
use crate::command::Command;
use crate::ids::{ExtId, UserId};
use crate::money::Money;
use crate::testkit::{code, id, CURRENCY};
use sha2::{Digest, Sha256};

pub const CHANNEL: &str = "rocket";

/// Stakes from 1.00 to 10,000.00 CNY; at most 1,000,000.00 profit per bet and 10,000,000.00
/// per term.
pub fn limits() -> CrashLimits {
    CrashLimits {
        currency: code(CURRENCY),
        min_stake: Money(100),
        max_stake: Money(1_000_000),
        max_profit_per_bet: Money(100_000_000),
        max_profit_per_term: Money(1_000_000_000),
    }
}

/// A chain of `length` games from a top derived from `seed`.
pub fn chain(seed: &str, length: u64) -> Chain {
    let top: GameHash = Sha256::digest(seed.as_bytes()).into();
    Chain::new(top, length)
}

pub fn salt() -> Salt {
    Salt::new("0000000000000000000301e2801a9a9598bfb114e574a91a887f2132f33047e6").expect("salt")
}

pub fn create_channel(chain: &Chain, config: ChannelConfig) -> Command {
    Command::Crash(CrashCommand::CreateChannel(Box::new(CreateChannel {
        channel: id(CHANNEL),
        config,
        terminating_hash: chain.terminating_hash(),
        salt: salt(),
        length: chain.length(),
    })))
}

pub fn bet(user: u64, order_no: ExtId, stake: i64, auto_cashout: Option<u64>) -> Command {
    Command::Crash(CrashCommand::PlaceBet(PlaceCrashBet {
        channel: id(CHANNEL),
        order_no,
        user: UserId(user),
        currency: code(CURRENCY),
        stake: Money(stake),
        auto_cashout,
    }))
}

pub fn cashout(user: u64, order_no: ExtId) -> Command {
    Command::Crash(CrashCommand::Cashout { user: UserId(user), order_no })
}

pub fn open(number: u64) -> Command {
    Command::Crash(CrashCommand::OpenTerm { channel: id(CHANNEL), number })
}

pub fn close_bets(number: u64) -> Command {
    Command::Crash(CrashCommand::CloseBets { channel: id(CHANNEL), number })
}

pub fn take_off(number: u64, hash: GameHash) -> Command {
    Command::Crash(CrashCommand::TakeOff { channel: id(CHANNEL), number, hash })
}

pub fn crash(number: u64) -> Command {
    Command::Crash(CrashCommand::Crash { channel: id(CHANNEL), number })
}

pub fn stop(number: u64) -> Command {
    Command::Crash(CrashCommand::EmergencyStop { channel: id(CHANNEL), number })
}
