//! `crash`: one term of the crash game (seed 001, issue 14) on the sharded runtime, in three
//! measured phases.
//!
//! Setup (not timed): the default settings, `bets` players funded (one bet each, user `i + 1`
//! places bet `i`), and the channel `rocket` with a one-game chain. The chain is the first of
//! the seeded candidates whose game 1 crashes in [`CRASH_POINTS`], computed with the domain's
//! own `fair::crash_point`: nobody can choose a crash point, so the bench searches committed
//! chains as the domain's tests do. Term 1 is opened at [`T0`].
//!
//! The runtime runs on a [`ManualClock`]: every command is stamped with the time the bench
//! sets, so bets close, the flight takes off and crashes exactly when the term's rules allow,
//! and nothing waits on a wall clock.
//!
//! 1. **Placement**: `bets` `PlaceBet`s at `T0` (stakes 1.00–100.00). Half have an auto-cashout
//!    target: one bet in ten a low one (1.01x–1.49x, below the crash point: cashed out at the
//!    crash), the other even bets a target above the crash point (lost).
//! 2. **Manual cashouts in `Flying`**: bets close at `T0 + 8 s`, the term takes off at
//!    `T0 + 10 s` (neither timed); the clock is set to the first millisecond the multiplier
//!    reaches [`CASHOUT_AT`] (2.00x) and the players of `cashouts` bets without a target
//!    cash out.
//! 3. **Settlement**: the clock is set to the crash time and one `Crash` is broadcast; timed
//!    from just before it is submitted until every shard has settled its own bets (auto
//!    cashouts and losses) and answered, which in `fsync` durability includes the journal's
//!    sync.
//!
//! Every shard's commands come from one producer, in index order (producer `p` serves the
//! shards `s` with `s % producers == p`), so the same seed and sizes give the same states, and
//! the same digest, whatever the threads' timing.
//!
//! Afterwards: every bet is settled (manual, auto, lost exactly as planned, none open), every
//! payout is `floor(stake × m)` (the shards' invariants), and the term sums to zero per
//! currency: on every shard the house's change plus the players' balance changes is zero, and
//! the house's change is the term's recorded stakes minus payouts.

use crate::sharded::{self, Extra, ShardedConfig, Tally};
use crate::{setup, Error, LatencySampling, Observer, Phase, Report, Scenario};
use croupier_domain::crash::fair::{self, Chain, GameHash};
use croupier_domain::crash::testkit as kit;
use croupier_domain::crash::{curve, CashoutKind, ChannelConfig, CrashBetState, CrashLimits, TermStatus};
use croupier_domain::ids::{CurrencyId, ExtId, Timestamp, UserId};
use croupier_domain::rng::SplitMix64;
use croupier_domain::{Command, CrashReply, Reply, State, MAX_BALANCE};
use croupier_runtime::{shard_of, ManualClock, Runtime};
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

/// When the term opens (and the clock stands while bets are placed).
pub const T0: Timestamp = Timestamp(1_700_000_000_000);
/// The crash points the bench accepts for its term: above every low target and the manual
/// cashouts' multiplier, and low enough that the high targets stay within the per-bet limit.
pub const CRASH_POINTS: std::ops::Range<u64> = 300..10_000;
/// The multiplier (hundredths) at which the manual cashouts come in.
pub const CASHOUT_AT: u64 = 200;
/// Candidate chains searched for one that crashes in [`CRASH_POINTS`] (about a third do).
const CANDIDATES: u64 = 10_000;
/// What each player is funded with (minor units): far above any stake.
const FUNDS: i64 = 1_000_000;

/// What the crash scenario measured, beyond the common report.
#[derive(Debug)]
pub struct CrashPhases {
    /// Bets placed (phase 1).
    pub bets: u64,
    pub placement: Duration,
    pub placement_latency_ns: Histogram<u64>,
    /// Manual cashouts (phase 2).
    pub cashouts: u64,
    pub cashout: Duration,
    pub cashout_latency_ns: Histogram<u64>,
    /// From just before the `Crash` was submitted until every shard had answered (phase 3).
    pub settle: Duration,
    /// Bets the crash settled, over every shard: `auto_cashouts + losses`.
    pub settled: u64,
    pub auto_cashouts: u64,
    pub losses: u64,
    /// The term's crash point and the multiplier of the manual cashouts, in hundredths.
    pub crash_point: u64,
    pub cashout_multiplier: u64,
    /// The term's game hash (hex): anyone can check the crash point with bustabit's verifier.
    pub game_hash: String,
    /// The term's stakes and payouts over every shard (minor units).
    pub stakes: i64,
    pub payouts: i64,
    /// The house's change and the players' over the term, over every shard: they sum to zero.
    pub house_result: i64,
    pub players_result: i64,
}

impl CrashPhases {
    pub fn placement_per_sec(&self) -> f64 {
        crate::measure::rate(self.bets, self.placement.as_secs_f64())
    }

    pub fn cashout_per_sec(&self) -> f64 {
        crate::measure::rate(self.cashouts, self.cashout.as_secs_f64())
    }
}

/// Whether bet `i` has an auto target, and which: one in ten low (cashed out at the crash),
/// the other even ones above the crash point (lost); odd bets have none.
fn target(i: u64, crash_point: u64, rng: &mut SplitMix64) -> Option<u64> {
    match i % 10 {
        0 => Some(101 + rng.below(49)),
        2 | 4 | 6 | 8 => Some(crash_point + 1 + rng.below(1_000)),
        _ => None,
    }
}

/// Bets with a low target among `bets`: the auto cashouts the crash pays.
pub fn low_targets(bets: u64) -> u64 {
    bets.div_ceil(10)
}

/// Bet `i`: user `i + 1`, a seeded stake of 1.00–100.00.
fn bet(seed: u64, i: u64, crash_point: u64) -> Command {
    let mut rng = SplitMix64::new(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let stake = setup::STAKE_STEP * (1 + rng.below(setup::STAKE_STEPS) as i64);
    kit::bet(i + 1, order_no(i), stake, target(i, crash_point, &mut rng))
}

fn order_no(i: u64) -> ExtId {
    ExtId::numbered("crash-", i)
}

/// Cashout `k` is bet `2k + 1`'s (one without a target).
fn cashout(k: u64) -> Command {
    let i = 2 * k + 1;
    kit::cashout(i + 1, order_no(i))
}

/// The first candidate chain whose game 1 crashes in [`CRASH_POINTS`], its game and crash point.
pub fn committed_chain(seed: u64) -> Result<(Chain, GameHash, u64), Error> {
    (0..CANDIDATES)
        .map(|k| kit::chain(&format!("croupier-bench-crash-{seed}-{k}"), 1))
        .find_map(|chain| {
            let game = chain.game(1)?;
            let point = fair::crash_point(&game, kit::salt().as_bytes());
            CRASH_POINTS.contains(&point).then_some((chain, game, point))
        })
        .ok_or_else(|| Error::InvalidConfig(format!("no chain of seed {seed} crashes in {CRASH_POINTS:?}")))
}

/// The channel's limits: the test limits, with a term cap that never fires (the bench measures
/// the settlement, not the cap).
fn limits() -> CrashLimits {
    CrashLimits { max_profit_per_term: MAX_BALANCE, ..kit::limits() }
}

/// Indices `0..n` split by the shard of `user(i)`, then grouped so that producer `p` gets the
/// shards `s` with `s % producers == p` (each shard's indices in order).
fn lanes(n: u64, shards: usize, producers: usize, user: impl Fn(u64) -> u64) -> Vec<Vec<u64>> {
    let mut lanes = vec![Vec::new(); producers];
    for i in 0..n {
        lanes[shard_of(UserId(user(i)), shards) % producers].push(i);
    }
    lanes
}

fn driven(tally: &Tally, what: &str, expected: u64) -> Result<(), Error> {
    if tally.accepted != expected || tally.rejected > 0 {
        return Err(Error::Verification(format!(
            "{} of {expected} {what} were accepted, {} refused",
            tally.accepted, tally.rejected
        )));
    }
    Ok(())
}

/// Per shard and currency (by id): the house's balance and the sum of the players' balances.
fn sums(rt: &Runtime) -> Result<Vec<Vec<(i128, i128)>>, Error> {
    (0..rt.shards())
        .map(|i| {
            rt.inspect(i, |s: &State| {
                let mut sums: Vec<(i128, i128)> = s.currencies().iter().map(|c| (c.house.0 as i128, 0)).collect();
                for a in s.accounts().iter() {
                    sums[a.currency.index()].1 += a.balance().0 as i128;
                }
                sums
            })
            .map_err(|_| Error::Data(format!("shard {i} stayed busy")))
        })
        .collect()
}

/// One shard's view of the term after the crash.
#[derive(Default)]
struct Settled {
    manual: u64,
    auto: u64,
    lost: u64,
    other: u64,
    /// The term's totals per currency id: stakes, payouts.
    totals: Vec<(CurrencyId, i64, i64)>,
    closed: bool,
}

fn settled(rt: &Runtime, shard: usize) -> Result<Settled, Error> {
    rt.inspect(shard, |s: &State| {
        let c = s.crash();
        let mut out = Settled::default();
        let Some(term) = c.channels().first().and_then(|ch| ch.current) else { return out };
        let t = c.term(term);
        out.closed = t.status == TermStatus::Closed;
        for &b in &t.bets {
            match c.bet(b).state {
                CrashBetState::CashedOut { kind: CashoutKind::Manual, .. } => out.manual += 1,
                CrashBetState::CashedOut { kind: CashoutKind::Auto, .. } => out.auto += 1,
                CrashBetState::Lost => out.lost += 1,
                CrashBetState::CashedOut { kind: CashoutKind::Cap, .. }
                | CrashBetState::Open
                | CrashBetState::Cancelled
                | CrashBetState::Refunded => out.other += 1,
            }
        }
        let limits = &c.channel(t.channel).config.limits;
        for (slot, tot) in t.totals.iter().enumerate() {
            if let Some(cur) = s.currency_by_code(&limits[slot].currency) {
                out.totals.push((cur, tot.stakes.0, tot.payouts.0));
            }
        }
        out
    })
    .map_err(|_| Error::Data(format!("shard {shard} stayed busy")))
}

/// Runs the crash scenario on `rt`, whose clock is `clock`.
pub(crate) fn run(
    rt: &Runtime,
    cfg: &ShardedConfig,
    obs: &mut dyn Observer,
    setup_started: Instant,
    clock: &ManualClock,
) -> Result<(Report, Extra), Error> {
    let bets = cfg.ops;
    if cfg.cashouts > bets / 2 {
        return Err(Error::InvalidConfig(format!(
            "at most {} cashouts: only the {} bets without a target are cashed out by hand",
            bets / 2,
            bets / 2
        )));
    }
    let (shards, producers) = (rt.shards(), cfg.producers.max(1));
    clock.set(T0);
    let (chain, game, crash_point) = committed_chain(cfg.seed)?;
    sharded::configure_settings(rt)?;
    obs.phase(Phase::Setup, bets);
    let (funded, _) =
        sharded::drive_lanes(rt, cfg.window, lanes(bets, shards, producers, |i| i + 1), obs, |i| kit_deposit(i + 1));
    driven(&funded, "funding deposits", bets)?;
    let config = ChannelConfig::seed_001(vec![limits()]);
    sharded::call(rt, kit::create_channel(&chain, config.clone()), "create the channel")?;
    sharded::call(rt, kit::open(1), "open term 1")?;
    let before = sums(rt)?;
    let setup = setup_started.elapsed();

    // 1. Placement, at T0.
    obs.phase(Phase::Measure, bets);
    let (placed, placement) =
        sharded::drive_lanes(rt, cfg.window, lanes(bets, shards, producers, |i| i + 1), obs, |i| {
            bet(cfg.seed, i, crash_point)
        });
    driven(&placed, "bets", bets)?;

    // Bets close when the pre-start ends and the flight takes off after `starting` (untimed).
    let closing = T0.saturating_add_ms(config.pre_start_ms);
    clock.set(closing);
    sharded::call(rt, kit::close_bets(1), "close bets")?;
    let takeoff = closing.saturating_add_ms(config.starting_ms);
    clock.set(takeoff);
    sharded::call(rt, kit::take_off(1, game), "take off")?;

    // 2. Manual cashouts, at the first millisecond of 2.00x.
    let cashout_ms = curve::elapsed_to_reach(CASHOUT_AT);
    clock.set(takeoff.saturating_add_ms(cashout_ms));
    obs.phase(Phase::Measure, cfg.cashouts);
    let (cashed, cashing) =
        sharded::drive_lanes(rt, cfg.window, lanes(cfg.cashouts, shards, producers, |k| 2 * k + 2), obs, cashout);
    driven(&cashed, "manual cashouts", cfg.cashouts)?;

    // 3. The crash: every open bet settled on every shard.
    clock.set(takeoff.saturating_add_ms(curve::elapsed_to_reach(crash_point)));
    obs.phase(Phase::Measure, 1);
    let started = Instant::now();
    let answer = rt.call(kit::crash(1));
    let settle = started.elapsed();
    // The shards' answers are merged: the count is every shard's.
    let answered = match answer {
        Ok(Reply::Crash(CrashReply::Settled { bets, replayed: false, .. })) => bets as u64,
        other => return Err(Error::Verification(format!("the crash answered {other:?}"))),
    };

    obs.phase(Phase::Verify, 0);
    let views = (0..shards).map(|i| settled(rt, i)).collect::<Result<Vec<_>, _>>()?;
    let after = sums(rt)?;
    let count = |f: fn(&Settled) -> u64| views.iter().map(f).sum::<u64>();
    let (manual, auto, lost, other) = (count(|v| v.manual), count(|v| v.auto), count(|v| v.lost), count(|v| v.other));
    let expected_auto = low_targets(bets);
    let expected = (cfg.cashouts, expected_auto, bets - cfg.cashouts - expected_auto, 0);
    if !views.iter().all(|v| v.closed) || (manual, auto, lost, other) != expected || answered != auto + lost {
        return Err(Error::Verification(format!(
            "term closed on every shard: {}; (manual, auto, lost, other) = {:?}, expected {expected:?}; \
             the crash answered {answered} settled",
            views.iter().all(|v| v.closed),
            (manual, auto, lost, other)
        )));
    }
    // The term sums to zero per currency: on every shard, what the house gained the players
    // lost, and the house gained exactly the term's stakes minus its payouts.
    let (mut house_result, mut players_result, mut stakes, mut payouts) = (0i128, 0i128, 0i64, 0i64);
    for (shard, view) in views.iter().enumerate() {
        for (c, (b, a)) in before[shard].iter().zip(&after[shard]).enumerate() {
            let (house, players) = (a.0 - b.0, a.1 - b.1);
            let (s, p) = view
                .totals
                .iter()
                .filter(|(cur, ..)| cur.index() == c)
                .fold((0i64, 0i64), |(s, p), (_, ts, tp)| (s + ts, p + tp));
            if house + players != 0 || house != (s - p) as i128 {
                return Err(Error::Verification(format!(
                    "shard {shard}, currency {c}: the house changed by {house}, the players by {players}, \
                     the term's stakes {s} minus payouts {p}"
                )));
            }
            house_result += house;
            players_result += players;
            stakes += s;
            payouts += p;
        }
    }
    let phases = CrashPhases {
        bets,
        placement,
        placement_latency_ns: placed.latency_ns.clone(),
        cashouts: cfg.cashouts,
        cashout: cashing,
        cashout_latency_ns: cashed.latency_ns.clone(),
        settle,
        settled: auto + lost,
        auto_cashouts: auto,
        losses: lost,
        crash_point,
        cashout_multiplier: curve::multiplier_at(cashout_ms),
        game_hash: fair::to_hex(&game),
        stakes,
        payouts,
        house_result: house_result as i64,
        players_result: players_result as i64,
    };
    let busy = placed.busy + cashed.busy;
    let mut tally = placed;
    tally.merge(cashed);
    let mut report = sharded::report(Scenario::Crash, bets + cfg.cashouts, tally, placement + cashing, setup);
    report.settle = Some(settle);
    report.sampling = LatencySampling::EveryCommand;
    let extra =
        Extra { busy, rounds: 1, wait_transfers: false, loop_end: Instant::now(), check: None, crash: Some(phases) };
    Ok((report, extra))
}

fn kit_deposit(user: u64) -> Command {
    croupier_domain::testkit::deposit(user, FUNDS, user)
}

// The funding covers the largest stake many times over.
const _: () = assert!(FUNDS > setup::MAX_DRAWN_STAKE * 10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_chain_crashes_above_every_low_target_and_the_cashouts() {
        for seed in [1, 2, 77] {
            let (chain, game, point) = committed_chain(seed).unwrap();
            assert!(fair::chains_to(&game, &chain.terminating_hash()));
            assert_eq!(point, fair::crash_point(&game, kit::salt().as_bytes()));
            assert!(CRASH_POINTS.contains(&point) && point > 150 && point > CASHOUT_AT);
            assert!(curve::multiplier_at(curve::elapsed_to_reach(CASHOUT_AT)) < point);
        }
    }

    #[test]
    fn lanes_give_each_shard_to_one_producer_in_order() {
        let l = lanes(1_000, 3, 2, |i| i + 1);
        assert_eq!(l.iter().map(Vec::len).sum::<usize>(), 1_000);
        for lane in &l {
            assert!(lane.windows(2).all(|w| w[0] < w[1]));
        }
        for i in 0..1_000u64 {
            let s = shard_of(UserId(i + 1), 3);
            assert!(l[s % 2].contains(&i));
        }
    }

    #[test]
    fn targets_split_as_planned() {
        let point = 500;
        let mut rng = SplitMix64::new(3);
        let t: Vec<Option<u64>> = (0..1_000).map(|i| target(i, point, &mut rng)).collect();
        assert_eq!(t.iter().filter(|x| x.is_some_and(|x| x < 150)).count() as u64, low_targets(1_000));
        assert_eq!(t.iter().filter(|x| x.is_some_and(|x| x > point)).count(), 400);
        assert_eq!(t.iter().filter(|x| x.is_none()).count(), 500);
    }
}
