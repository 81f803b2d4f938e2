//! `engine-bets`: many funded players place bets on one long open round.
//!
//! Setup (not timed): `accounts` players (users `1..=accounts`) each deposit enough for every
//! bet they could be drawn for; one round opens for the longest window the engine allows. The
//! state is pre-sized with [`State::with_capacity`](croupier_domain::State::with_capacity)
//! for the accounts and the bets, so that the steady state allocates nothing.
//!
//! Measured: `ops` `PlaceBet`s. Bet `i` has order number `o{i}`, a user drawn uniformly from
//! the accounts, a random selection (banker, player, tie) and a random stake from 1.00 to
//! 100.00, all from a seeded SplitMix64. Building the command is part of each timed operation.

use crate::setup::{self, MAX_DRAWN_STAKE};
use crate::workload::{self, Workload};
use crate::{Error, Observer, Report, Scenario};
use croupier_domain::command::Settings;
use croupier_domain::ids::{Code, ExtId, Timestamp};
use croupier_domain::rng::SplitMix64;
use croupier_domain::state::Capacity;
use croupier_domain::testkit;
use croupier_domain::{Command, Engine, Reply};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BetsConfig {
    /// Funded players.
    pub accounts: u64,
    /// Bets placed in the measured loop.
    pub ops: u64,
    pub seed: u64,
    /// 1: `Engine::execute` per bet; more: `Engine::execute_batch` with this many bets.
    pub batch: usize,
}

impl Default for BetsConfig {
    fn default() -> Self {
        BetsConfig { accounts: 1_000_000, ops: 10_000_000, seed: 1, batch: 1 }
    }
}

/// An engine with funded players and an open round, and the generator of the bets placed on
/// it. Reusable outside the `engine-bets` loop (criterion, the shard runtime).
#[derive(Debug)]
pub struct BetsWorkload {
    engine: Engine,
    users: u64,
    rng: SplitMix64,
    round: ExtId,
    currency: Code,
    platform: Code,
    batch: Vec<(Timestamp, Command)>,
}

impl BetsWorkload {
    /// Players `1..=accounts`, each funded for `expected_bets` bets spread over them, and an
    /// open round; the state is sized for `expected_bets` more bets.
    pub fn prepare(accounts: u64, expected_bets: u64, seed: u64, obs: &mut dyn Observer) -> Result<Self, Error> {
        setup::check_count("accounts", accounts, 1)?;
        setup::check_count("bets", expected_bets, 0)?;
        setup::announce_setup(obs, accounts);
        let mut engine = setup::configured_engine(
            Capacity { accounts: accounts as usize + 1, bets: expected_bets as usize },
            Settings::default(),
            setup::limits(),
        )?;
        // Enough for four times a player's fair share of the bets at the highest stake, and
        // at least 10,000 such bets: the draw would have to be wildly uneven to run dry.
        let per_user = expected_bets.div_ceil(accounts).saturating_mul(4).max(10_000);
        let funds = (per_user as i64)
            .saturating_mul(MAX_DRAWN_STAKE)
            .min(setup::deposit_cap(accounts))
            .min(croupier_domain::MAX_BALANCE.0);
        setup::fund_users(&mut engine, accounts, funds, obs)?;
        let round = testkit::id("bench-round");
        setup::open_round(&mut engine, round)?;
        Ok(BetsWorkload {
            engine,
            users: accounts,
            rng: SplitMix64::new(seed),
            round,
            currency: setup::currency(),
            platform: testkit::code("bench"),
            batch: Vec::new(),
        })
    }

    /// The `n`-th bet (order number `o{n}`) and the time it is placed at. Allocates nothing.
    #[inline]
    pub fn bet(&mut self, n: u64) -> (Command, Timestamp) {
        let order_no = ExtId::numbered("o", n);
        let cmd = setup::random_bet(&mut self.rng, self.users, order_no, self.round, self.currency, self.platform);
        (cmd, setup::now_at(n))
    }

    /// Places the `n`-th bet; true if it was accepted as a new bet.
    #[inline]
    pub fn place(&mut self, n: u64) -> bool {
        self.run_one(n)
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    pub fn into_engine(self) -> Engine {
        self.engine
    }

    /// The round the bets go to.
    pub fn round(&self) -> ExtId {
        self.round
    }
}

workload::impl_workload!(BetsWorkload, bet, Reply::Bet { replayed: false, .. });

pub(crate) fn run(cfg: &BetsConfig, obs: &mut dyn Observer) -> Result<Report, Error> {
    setup::check_count("ops", cfg.ops, 1)?;
    let prepare = |obs: &mut dyn Observer| BetsWorkload::prepare(cfg.accounts, cfg.ops, cfg.seed, obs);
    workload::run(Scenario::EngineBets, (cfg.ops, cfg.batch), obs, prepare, |w, stats| {
        let held = w.engine().state().bets().len() as u64;
        if held != stats.accepted {
            return Err(Error::Verification(format!("{} bets accepted but the state holds {held}", stats.accepted)));
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::STAKE_STEP;
    use crate::Quiet;
    use crate::{measure, LatencySampling, Measured};

    #[test]
    fn small_run_accepts_every_bet_and_keeps_invariants() {
        let cfg = BetsConfig { accounts: 1_000, ops: 10_000, seed: 7, batch: 1 };
        let r = run(&cfg, &mut Quiet).unwrap();
        assert_eq!(r.ops, 10_000);
        assert_eq!(r.accepted + r.rejected, r.ops);
        assert_eq!(r.accepted, r.ops, "the limits are set so that every bet fits");
        assert_eq!(r.accounts, 1_000);
        assert!(r.ops_per_sec() > 0.0);
        assert_eq!(r.latency_ns.len(), 10_000_u64.div_ceil(measure::SAMPLE_EVERY));
        // Same seed, same history, same digest; another seed, another one.
        assert_eq!(run(&cfg, &mut Quiet).unwrap().digest, r.digest);
        let other = BetsConfig { seed: 8, ..cfg };
        assert_ne!(run(&other, &mut Quiet).unwrap().digest, r.digest);
        // Batches reach exactly the same state, including a short last batch.
        for batch in [2, 64, 333] {
            let b = run(&BetsConfig { batch, ..cfg }, &mut Quiet).unwrap();
            assert_eq!((b.accepted, b.digest), (r.accepted, r.digest), "batch {batch}");
            assert_eq!(b.sampling, LatencySampling::Batched(batch as u64));
            assert_eq!(b.latency_ns.len(), 10_000);
        }
    }

    #[test]
    fn bets_spread_over_users_selections_and_stakes() {
        let mut w = BetsWorkload::prepare(10, 1_000, 3, &mut Quiet).unwrap();
        for n in 0..1_000 {
            assert!(w.place(n));
        }
        let state = w.engine().state();
        let mut selections = [0u32; 3];
        for b in state.bets() {
            selections[b.selection.0 as usize] += 1;
            assert!(b.stake.0 >= STAKE_STEP && b.stake.0 <= MAX_DRAWN_STAKE);
            assert_eq!(b.stake.0 % STAKE_STEP, 0);
        }
        assert!(selections.iter().all(|&c| c > 250), "{selections:?}");
        let players = state.accounts().iter().filter(|a| a.held.0 > 0).count();
        assert_eq!(players, 10);
        assert_eq!(state.bets()[999].order_no.as_str(), "o999");
    }

    #[test]
    fn a_repeated_order_number_is_not_counted_as_a_new_bet() {
        let mut w = BetsWorkload::prepare(10, 10, 3, &mut Quiet).unwrap();
        let (cmd, now) = w.bet(5);
        let first = w.engine_mut().execute(&cmd, now);
        assert!(matches!(first, Ok(Reply::Bet { replayed: false, .. })), "{first:?}");
        // The same command again (a client's retry): the first answer, replayed, not a new bet.
        let again = w.engine_mut().execute(&cmd, now);
        assert!(matches!(again, Ok(Reply::Bet { replayed: true, .. })), "{again:?}");
        assert_eq!(w.engine().state().bets().len(), 1);
    }

    #[test]
    fn sizes_are_checked() {
        let zero_ops = BetsConfig { ops: 0, ..BetsConfig::default() };
        assert!(matches!(run(&zero_ops, &mut Quiet), Err(Error::InvalidConfig(_))));
        let zero_accounts = BetsConfig { accounts: 0, ops: 10, seed: 1, batch: 1 };
        assert!(matches!(run(&zero_accounts, &mut Quiet), Err(Error::InvalidConfig(_))));
    }
}
