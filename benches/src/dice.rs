//! `engine-dice`: many players with committed seeds roll dice (seed 003), each bet decided,
//! settled and paid in one command, HMAC-SHA256 of Stake's stream included.
//!
//! Setup (not timed): `accounts` players (users `1..=accounts`) each deposit and commit a
//! seed pair (server seeds from the seeded SplitMix64: a benchmark, not a casino); the instant
//! games are configured with Stake's defaults and CNY limits.
//!
//! Measured: `ops` dice bets. Bet `i` has id `d{i}`, a user drawn uniformly from the
//! accounts, a target from 2.00 to 98.00 over or under, and a stake from 1.00 to 100.00.

use crate::setup::{self, MAX_DRAWN_STAKE, STAKE_STEP, STAKE_STEPS, T0};
use crate::workload;
use crate::{Error, Observer, Report, Scenario};
use croupier_domain::command::Settings;
use croupier_domain::ids::{ExtId, Timestamp, UserId};
use croupier_domain::instant::dice::DiceCall;
use croupier_domain::instant::{
    ClientSeed, GameParams, InstantBet, InstantCommand, InstantConfig, InstantLimits, ServerSeed,
};
use croupier_domain::rng::SplitMix64;
use croupier_domain::state::Capacity;
use croupier_domain::{Command, Engine, InstantReply, Money, Reply};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiceConfig {
    /// Players with a seed pair.
    pub accounts: u64,
    /// Dice bets placed in the measured loop.
    pub ops: u64,
    pub seed: u64,
    /// 1: `Engine::execute` per bet; more: `Engine::execute_batch` with this many bets.
    pub batch: usize,
}

impl Default for DiceConfig {
    fn default() -> Self {
        DiceConfig { accounts: 100_000, ops: 2_000_000, seed: 1, batch: 1 }
    }
}

#[derive(Debug)]
pub struct DiceWorkload {
    engine: Engine,
    users: u64,
    rng: SplitMix64,
    batch: Vec<(Timestamp, Command)>,
}

impl DiceWorkload {
    pub fn prepare(accounts: u64, expected_bets: u64, seed: u64, obs: &mut dyn Observer) -> Result<Self, Error> {
        setup::check_count("accounts", accounts, 1)?;
        setup::check_count("bets", expected_bets, 0)?;
        setup::announce_setup(obs, accounts);
        let cap = Capacity { accounts: accounts as usize + 1, bets: 0 };
        let mut engine = setup::configured_engine(cap, Settings::default(), setup::limits())?;
        let mut config = InstantConfig::stake_defaults();
        config.limits.push(InstantLimits {
            currency: setup::currency(),
            min_stake: Money(STAKE_STEP),
            max_stake: Money(MAX_DRAWN_STAKE),
            max_win: Money(MAX_DRAWN_STAKE * 10_000),
        });
        let configure = Command::Instant(InstantCommand::Configure(Box::new(config)));
        setup::step(&mut engine, &configure, T0, || "configure the instant games".into())?;
        // Dice returns 99 % on average: a player's fair share of losses at the highest stake,
        // four times over, keeps every bet funded.
        let per_user = expected_bets.div_ceil(accounts).saturating_mul(4).max(10_000);
        let funds = (per_user as i64).saturating_mul(MAX_DRAWN_STAKE).min(setup::deposit_cap(accounts));
        setup::fund_users(&mut engine, accounts, funds, obs)?;
        let mut seeds = SplitMix64::new(seed ^ 0x5eed);
        for u in 1..=accounts {
            let mut server = [0u8; 32];
            for chunk in server.chunks_exact_mut(8) {
                chunk.copy_from_slice(&seeds.next_u64().to_le_bytes());
            }
            let cmd = Command::Instant(InstantCommand::RotateSeed {
                user: UserId(u),
                server_seed: ServerSeed(server),
                client_seed: ClientSeed::numbered("c", u),
            });
            setup::step(&mut engine, &cmd, T0, || format!("seeds of user {u}"))?;
        }
        Ok(DiceWorkload { engine, users: accounts, rng: SplitMix64::new(seed), batch: Vec::new() })
    }

    /// The `n`-th bet (id `d{n}`) and its time. Allocates nothing.
    #[inline]
    pub fn bet(&mut self, n: u64) -> (Command, Timestamp) {
        let user = UserId(1 + self.rng.below(self.users));
        let r = self.rng.next_u64();
        let target = 200 + ((r & 0xffff) % 9_601) as u16;
        let call = DiceCall { target, over: (r >> 16) & 1 == 1 };
        let stake = Money(STAKE_STEP * (1 + ((r >> 32) % STAKE_STEPS) as i64));
        let cmd = Command::Instant(InstantCommand::Bet(InstantBet {
            id: ExtId::numbered("d", n),
            user,
            currency: setup::currency(),
            stake,
            game: GameParams::Dice(call),
        }));
        (cmd, setup::now_at(n))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

workload::impl_workload!(DiceWorkload, bet, Reply::Instant(InstantReply::Bet { replayed: false, .. }));

pub(crate) fn run(cfg: &DiceConfig, obs: &mut dyn Observer) -> Result<Report, Error> {
    setup::check_count("ops", cfg.ops, 1)?;
    let prepare = |obs: &mut dyn Observer| DiceWorkload::prepare(cfg.accounts, cfg.ops, cfg.seed, obs);
    workload::run(Scenario::EngineDice, (cfg.ops, cfg.batch), obs, prepare, |w, stats| {
        let placed = w.engine().state().instant().bets().len() as u64;
        if placed != stats.accepted {
            return Err(Error::Verification(format!(
                "{} dice bets accepted but the state holds {placed}",
                stats.accepted
            )));
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Quiet;

    #[test]
    fn every_roll_is_accepted_settled_and_reproducible() {
        let cfg = DiceConfig { accounts: 100, ops: 5_000, seed: 3, batch: 1 };
        let r = run(&cfg, &mut Quiet).unwrap();
        assert_eq!((r.accepted, r.ops), (5_000, 5_000));
        assert_eq!(run(&cfg, &mut Quiet).unwrap().digest, r.digest);
        let batched = run(&DiceConfig { batch: 64, ..cfg }, &mut Quiet).unwrap();
        assert_eq!((batched.accepted, batched.digest), (r.accepted, r.digest));
    }
}
