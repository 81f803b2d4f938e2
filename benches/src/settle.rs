//! `engine-settle`: one round holding many open bets is drawn, which settles every bet.
//!
//! Setup (not timed): `min(bets, accounts)` funded players place `bets` bets on one round,
//! round-robin (bet `i` by user `1 + i % players`) with a random selection and stake; the
//! round is then stopped. Measured: ONE `GameDraw` with a result (banker wins, a tie pushes),
//! which decides and applies a `BetSettled` for every bet. ops = bets settled; the latency is
//! that one duration.

use crate::measure;
use crate::setup::{self, MAX_DRAWN_STAKE, STAKE_STEP, STAKE_STEPS};
use crate::{verify_state, Error, LatencySampling, Observer, Phase, Report, Scenario};
use croupier_domain::command::{PlaceBet, Settings};
use croupier_domain::ids::{ExtId, SelectionId, UserId};
use croupier_domain::rng::SplitMix64;
use croupier_domain::state::{BetState, Capacity};
use croupier_domain::testkit::{self, BANKER};
use croupier_domain::{Command, Engine, Money, Reply};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettleConfig {
    /// Players available; `min(bets, accounts)` of them bet.
    pub accounts: u64,
    /// Bets in the round, all settled by the one measured draw.
    pub bets: u64,
    pub seed: u64,
}

impl Default for SettleConfig {
    fn default() -> Self {
        SettleConfig { accounts: 1_000_000, bets: 1_000_000, seed: 1 }
    }
}

/// An engine whose one round holds `bets` open bets and is stopped, ready to be drawn.
#[derive(Debug)]
pub struct SettleWorkload {
    engine: Engine,
    round: ExtId,
    bets: u64,
}

impl SettleWorkload {
    pub fn prepare(cfg: &SettleConfig, obs: &mut dyn Observer) -> Result<Self, Error> {
        setup::check_count("bets", cfg.bets, 1)?;
        setup::check_count("accounts", cfg.accounts, 1)?;
        let players = cfg.bets.min(cfg.accounts);
        setup::announce_setup(obs, players + cfg.bets);
        let mut engine = setup::configured_engine(
            Capacity { accounts: players as usize + 1, bets: cfg.bets as usize },
            Settings::default(),
            setup::limits(),
        )?;
        // Exactly enough for each player's bets at the highest stake: none can be refused.
        let funds = (cfg.bets.div_ceil(players) as i64).saturating_mul(MAX_DRAWN_STAKE);
        if funds > setup::deposit_cap(players).min(croupier_domain::MAX_BALANCE.0) {
            return Err(Error::InvalidConfig(format!(
                "{} bets over {players} players need more money per player than the engine \
                 allows; use more accounts",
                cfg.bets
            )));
        }
        setup::fund_users(&mut engine, players, funds, obs)?;
        let round = testkit::id("bench-settle");
        setup::open_round(&mut engine, round)?;
        let mut rng = SplitMix64::new(cfg.seed);
        let currency = setup::currency();
        let platform = testkit::code("bench");
        for i in 0..cfg.bets {
            let r = rng.next_u64();
            let cmd = Command::PlaceBet(PlaceBet {
                order_no: ExtId::numbered("s", i),
                user: UserId(1 + i % players),
                round,
                selection: SelectionId(((r & 0xffff_ffff) % 3) as u16),
                stake: Money(STAKE_STEP * (1 + ((r >> 32) % STAKE_STEPS) as i64)),
                currency,
                platform,
            });
            setup::step(&mut engine, &cmd, setup::now_at(i), || format!("bet {i}"))?;
            if (i + 1) % measure::PROGRESS_EVERY == 0 {
                obs.progress(players + i + 1);
            }
        }
        let stop = Command::GameStop { round };
        setup::step(&mut engine, &stop, setup::now_at(cfg.bets), || "stop the round".into())?;
        Ok(SettleWorkload { engine, round, bets: cfg.bets })
    }

    /// The command that settles the round.
    pub fn draw_command(&self) -> Command {
        Command::GameDraw { round: self.round, result: Some(testkit::draw(BANKER)) }
    }

    /// Draws the round; the number of bets settled, or the engine's refusal.
    pub fn settle(&mut self) -> Result<u32, croupier_domain::Reject> {
        let cmd = self.draw_command();
        self.settle_with(&cmd)
    }

    /// Draws the round with a command built beforehand (so that building it is not timed).
    #[inline]
    pub fn settle_with(&mut self, cmd: &Command) -> Result<u32, croupier_domain::Reject> {
        let now = setup::now_at(self.bets + 1024);
        match self.engine.execute(cmd, now)? {
            Reply::RoundSettled { bets, .. } => Ok(bets),
            other => panic!("a draw answered {other:?}"),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn into_engine(self) -> Engine {
        self.engine
    }
}

pub(crate) fn run(cfg: &SettleConfig, obs: &mut dyn Observer) -> Result<Report, Error> {
    let setup_start = Instant::now();
    let mut w = SettleWorkload::prepare(cfg, obs)?;
    let setup = setup_start.elapsed();
    let cmd = w.draw_command();

    obs.phase(Phase::Measure, cfg.bets);
    let allocs_before = obs.allocations();
    let start = Instant::now();
    let result = w.settle_with(&cmd);
    let elapsed = start.elapsed();
    let allocs_after = obs.allocations();
    obs.progress(cfg.bets);

    let settled = result.map_err(|reject| Error::Setup { step: "the draw".into(), reject })? as u64;
    let engine = w.into_engine();
    let state = engine.state();
    if settled != cfg.bets {
        return Err(Error::Verification(format!("the draw settled {settled} bets, not {}", cfg.bets)));
    }
    if let Some(open) = state.bets().iter().position(|b| b.state == BetState::Open) {
        return Err(Error::Verification(format!("bet {open} is still open")));
    }
    let digest = verify_state(&engine, obs)?;
    let mut latency_ns = measure::latency_histogram();
    latency_ns.saturating_record((elapsed.as_nanos() as u64).max(1));
    Ok(Report {
        scenario: Scenario::EngineSettle,
        ops: settled,
        accepted: settled,
        rejected: 0,
        elapsed,
        latency_ns,
        sampling: LatencySampling::Single,
        worst_batch: None,
        allocations: allocs_before.zip(allocs_after).map(|(a, b)| b - a),
        settle: Some(elapsed),
        setup,
        accounts: state.accounts().len() as u64,
        digest,
    })
}

/// Settles a prepared round and returns how long it took: for criterion's `iter_batched`.
pub fn time_settle(w: &mut SettleWorkload) -> Duration {
    let cmd = w.draw_command();
    let start = Instant::now();
    w.settle_with(&cmd).expect("the draw settles");
    start.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Quiet;

    #[test]
    fn one_draw_settles_every_bet() {
        let cfg = SettleConfig { accounts: 1_000, bets: 10_000, seed: 5 };
        let r = run(&cfg, &mut Quiet).unwrap();
        assert_eq!((r.ops, r.accepted, r.rejected), (10_000, 10_000, 0));
        assert_eq!(r.accounts, 1_000);
        assert_eq!(r.latency_ns.len(), 1);
        assert_eq!(r.settle, Some(r.elapsed));
        assert_eq!(run(&cfg, &mut Quiet).unwrap().digest, r.digest);
    }

    #[test]
    fn fewer_bets_than_accounts_uses_one_player_per_bet() {
        let cfg = SettleConfig { accounts: 1_000, bets: 10, seed: 5 };
        let w = SettleWorkload::prepare(&cfg, &mut Quiet).unwrap();
        assert_eq!(w.engine().state().accounts().len(), 10);
        assert_eq!(w.engine().state().bets().len(), 10);
    }

    #[test]
    fn a_settled_round_is_not_settled_twice() {
        let cfg = SettleConfig { accounts: 3, bets: 30, seed: 5 };
        let mut w = SettleWorkload::prepare(&cfg, &mut Quiet).unwrap();
        assert_eq!(w.settle(), Ok(30));
        assert_eq!(w.settle(), Ok(0), "the same draw again is a replay");
        w.engine().state().check_invariants().unwrap();
    }
}
