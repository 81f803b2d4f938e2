//! The crash game through the public API: a term from open to close, cancel, manual and auto
//! cashouts, a cashout racing the crash, the profit cap, an emergency stop, the chain check,
//! replay to the same digest, property tests for the money and the crash point distribution.

use croupier_domain::crash::fair::{self, Chain};
use croupier_domain::crash::testkit::{self as kit, bet, cashout, close_bets, crash, open, stop, take_off};
use croupier_domain::crash::{
    curve, CashoutKind, ChannelConfig, CrashBetState, CrashCommand, CrashEvent, CrashLimits, CrashReject, TermStatus,
};
use croupier_domain::ids::{Timestamp, UserId};
use croupier_domain::testkit::*;
use croupier_domain::{evolve, CrashReply, Engine, Event, ExtId, Money, Reject, Reply, State};
use proptest::prelude::*;

const T0: Timestamp = Timestamp(1_700_000_000_000);

fn at(ms: u64) -> Timestamp {
    Timestamp(T0.0 + ms)
}

/// An engine that checks every invariant after each command and keeps every event, so a test
/// can rebuild the state from them.
struct Run {
    engine: Engine,
    events: Vec<Event>,
}

impl Run {
    fn new(config: ChannelConfig, chain: &Chain, users: &[(u64, i64)]) -> Run {
        let mut run = Run { engine: Engine::default(), events: Vec::new() };
        for c in setup_commands(default_limits()) {
            run.ok(&c, T0);
        }
        for (n, &(u, amount)) in users.iter().enumerate() {
            run.ok(&deposit(u, amount, n as u64), T0);
        }
        run.ok(&kit::create_channel(chain, config), T0);
        run
    }

    fn exec(&mut self, cmd: &Command, now: Timestamp) -> Result<Reply, Reject> {
        let before = self.engine.state().digest();
        let r = self.engine.execute(cmd, now);
        match &r {
            Ok(_) => self.events.extend_from_slice(self.engine.events()),
            Err(_) => assert_eq!(self.engine.state().digest(), before, "a reject changed the state"),
        }
        self.engine.state().check_invariants().unwrap_or_else(|e| panic!("after {cmd:?}: {e}"));
        r
    }

    fn ok(&mut self, cmd: &Command, now: Timestamp) -> Reply {
        self.exec(cmd, now).unwrap_or_else(|r| panic!("{cmd:?} refused: {r}"))
    }

    fn refused(&mut self, cmd: &Command, now: Timestamp) -> Reject {
        self.exec(cmd, now).expect_err("must be refused")
    }

    fn available(&self, user: u64) -> Money {
        let s = self.engine.state();
        let cur = s.currency_by_code(&code(CURRENCY)).unwrap();
        s.account(s.account_of(UserId(user), cur).unwrap()).available
    }

    fn bet_state(&self, user: u64, order: &str) -> CrashBetState {
        let c = self.engine.state().crash();
        c.bet(c.bet_by_order(UserId(user), &id(order)).unwrap()).state
    }

    /// The state rebuilt from the events alone, and from its canonical bytes, has the live digest.
    fn check_replay(&self) {
        let mut rebuilt = State::new();
        for e in &self.events {
            evolve(&mut rebuilt, e);
        }
        assert_eq!(rebuilt.digest(), self.engine.state().digest(), "events rebuild the state");
        let restored = State::from_canonical_bytes(&self.engine.state().canonical_bytes()).unwrap();
        assert_eq!(restored.digest(), self.engine.state().digest(), "a snapshot restores the state");
        for b in self.engine.state().crash().bets() {
            assert!(restored.crash().bet_by_order(b.user, &b.order_no).is_some(), "indexes rebuilt");
        }
    }
}

use croupier_domain::Command;

/// The first chain (from seeds `"<prefix><i>"`) whose game 1 crashes within `range`: the tests
/// pick their crash points by searching committed chains, as nobody can choose one.
fn chain_crashing_in(prefix: &str, range: std::ops::Range<u64>) -> (Chain, u64) {
    (0..10_000)
        .map(|i| kit::chain(&format!("{prefix}{i}"), 50))
        .map(|c| {
            let point = fair::crash_point(&c.game(1).unwrap(), kit::salt().as_bytes());
            (c, point)
        })
        .find(|(_, p)| range.contains(p))
        .expect("a chain in range")
}

fn config() -> ChannelConfig {
    ChannelConfig::seed_001(vec![kit::limits()])
}

fn crash_reject(r: Reject) -> CrashReject {
    match r {
        Reject::Crash(c) => c,
        other => panic!("not a crash reject: {other:?}"),
    }
}

/// Opens term `number`, closes bets at 8 s and takes off at 10 s after `start`.
fn fly(run: &mut Run, chain: &Chain, number: u64, start: Timestamp) -> Timestamp {
    run.ok(&close_bets(number), Timestamp(start.0 + 8_000));
    let takeoff = Timestamp(start.0 + 10_000);
    run.ok(&take_off(number, chain.game(run.engine.state().crash().channels()[0].revealed + 1).unwrap()), takeoff);
    takeoff
}

#[test]
fn a_term_from_open_to_close_pays_exactly_floor_stake_times_multiplier() {
    let (chain, point) = chain_crashing_in("term", 300..100_000);
    let mut run = Run::new(config(), &chain, &[(1, 100_000), (2, 100_000), (3, 100_000), (4, 100_000)]);
    assert!(matches!(
        run.ok(&open(1), T0),
        Reply::Crash(CrashReply::Term { number: 1, status: TermStatus::PreStart, replayed: false, .. })
    ));
    run.ok(&bet(1, id("a"), 1_000, Some(150)), at(1));
    run.ok(&bet(2, id("b"), 2_000, None), at(2));
    run.ok(&bet(3, id("c"), 500, Some(point + 1)), at(3));
    run.ok(&bet(4, id("d"), 1_000, None), at(4));
    // Idempotent by order number; the same number with other content is a conflict.
    assert!(matches!(
        run.ok(&bet(1, id("a"), 1_000, Some(150)), at(5)),
        Reply::Crash(CrashReply::Bet { replayed: true, .. })
    ));
    assert_eq!(run.refused(&bet(1, id("a"), 1_000, Some(160)), at(5)), Reject::IdempotencyConflict);
    // Hostile bets: below 1.01x, beyond the per-bet profit limit.
    assert_eq!(crash_reject(run.refused(&bet(1, id("x"), 1_000, Some(100)), at(6))), CrashReject::TargetTooLow);
    assert!(matches!(
        crash_reject(run.refused(&bet(1, id("x"), 1_000_000, Some(100_000)), at(6))),
        CrashReject::ProfitLimit { .. }
    ));
    // Player 4 takes their bet back before bets close.
    run.ok(&Command::Crash(CrashCommand::CancelBet { user: UserId(4), order_no: id("d") }), at(100));
    assert_eq!(run.available(4), Money(100_000));
    assert_eq!(crash_reject(run.refused(&bet(1, id("late"), 1_000, None), at(8_000))), CrashReject::BettingClosed);

    let takeoff = fly(&mut run, &chain, 1, T0);
    let term = run.engine.state().crash().term(croupier_domain::crash::TermNo(0));
    let flight = term.flight.clone().unwrap();
    assert_eq!(flight.crash_point, point);
    assert_eq!(flight.game, 1);
    assert_eq!(term.revealed(), None, "the crash point is not shown before the crash");
    assert_eq!(
        crash_reject(
            run.refused(&Command::Crash(CrashCommand::CancelBet { user: UserId(2), order_no: id("b") }), takeoff)
        ),
        CrashReject::BettingClosed
    );

    // Player 2 cashes out manually at exactly 2.00x.
    let two = Timestamp(takeoff.0 + curve::elapsed_to_reach(200));
    run.ok(&cashout(2, id("b")), two);
    assert_eq!(
        run.bet_state(2, "b"),
        CrashBetState::CashedOut { multiplier: 200, payout: Money(4_000), kind: CashoutKind::Manual, at: two }
    );
    // Player 1 asks after their 1.50x target passed: paid at the target, when it was reached.
    run.ok(&cashout(1, id("a")), two);
    assert!(matches!(
        run.bet_state(1, "a"),
        CrashBetState::CashedOut { multiplier: 150, payout: Money(1_500), kind: CashoutKind::Auto, .. }
    ));
    // A repeat is the first answer.
    assert!(matches!(run.ok(&cashout(2, id("b")), two), Reply::Crash(CrashReply::Bet { replayed: true, .. })));

    // Nobody can end the flight early.
    let due = Timestamp(takeoff.0 + flight.crash_after_ms);
    assert!(matches!(
        crash_reject(run.refused(&crash(1), Timestamp(due.0 - 1))),
        CrashReject::TermNotDue { wait_ms: 1 }
    ));
    assert!(matches!(run.ok(&crash(1), due), Reply::Crash(CrashReply::Settled { bets: 1, replayed: false, .. })));
    let last = &run.events[run.events.len() - 1];
    let Event::Crash(CrashEvent::TermClosed { totals, .. }) = last else { panic!("{last:?}") };
    assert_eq!(totals[0].stakes, Money(3_500));
    assert_eq!(totals[0].payouts, Money(5_500));
    assert_eq!(totals[0].rake(), Money(-2_000));
    assert_eq!(run.bet_state(3, "c"), CrashBetState::Lost);
    assert_eq!(run.available(1), Money(100_500));
    assert_eq!(run.available(2), Money(102_000));
    assert_eq!(run.available(3), Money(99_500));
    let term = run.engine.state().crash().term(croupier_domain::crash::TermNo(0));
    assert_eq!(term.status, TermStatus::Closed);
    assert_eq!(term.revealed().map(|f| f.hash), Some(chain.game(1).unwrap()));
    assert_eq!(crash_reject(run.refused(&cashout(3, id("c")), due)), CrashReject::TooLate);
    assert!(matches!(run.ok(&crash(1), due), Reply::Crash(CrashReply::Settled { replayed: true, .. })));

    // The next term must reveal game 2: game 1 again (or any other hash) is not on the chain.
    run.ok(&open(2), Timestamp(due.0 + 3_000));
    run.ok(&close_bets(2), Timestamp(due.0 + 11_000));
    let t2 = Timestamp(due.0 + 13_000);
    assert_eq!(crash_reject(run.refused(&take_off(2, chain.game(1).unwrap()), t2)), CrashReject::HashNotOnChain);
    assert_eq!(crash_reject(run.refused(&take_off(2, chain.game(3).unwrap()), t2)), CrashReject::HashNotOnChain);
    run.ok(&take_off(2, chain.game(2).unwrap()), t2);
    run.check_replay();
}

#[test]
fn a_cashout_racing_the_crash_wins_only_at_or_below_the_crash_point() {
    let (chain, point) = chain_crashing_in("race", 150..100_000);
    let mut run = Run::new(config(), &chain, &[(1, 100_000), (2, 100_000), (3, 100_000)]);
    run.ok(&open(1), T0);
    for u in 1..=3 {
        run.ok(&bet(u, id("r"), 1_000, None), at(u));
    }
    let takeoff = fly(&mut run, &chain, 1, T0);
    let after = curve::elapsed_to_reach(point);
    // The last millisecond before the crash: the multiplier is below the crash point, it wins.
    run.ok(&cashout(1, id("r")), Timestamp(takeoff.0 + after - 1));
    assert!(matches!(run.bet_state(1, "r"), CrashBetState::CashedOut { multiplier, .. } if multiplier < point));
    // From the crash time on, whatever the client saw: too late, even before the crash command.
    assert_eq!(crash_reject(run.refused(&cashout(2, id("r")), Timestamp(takeoff.0 + after))), CrashReject::TooLate);
    assert_eq!(crash_reject(run.refused(&cashout(3, id("r")), Timestamp(takeoff.0 + after + 1))), CrashReject::TooLate);
    run.ok(&crash(1), Timestamp(takeoff.0 + after + 5));
    assert_eq!(run.bet_state(2, "r"), CrashBetState::Lost);
    assert_eq!(run.bet_state(3, "r"), CrashBetState::Lost);
    for e in &run.events {
        if let Event::Crash(CrashEvent::CashedOut { multiplier, stake, payout, .. }) = e {
            assert!(*multiplier <= point);
            assert_eq!(payout.0, stake.0 * *multiplier as i64 / 100);
        }
    }
    run.check_replay();
}

#[test]
fn an_emergency_stop_refunds_every_open_bet_and_pauses_the_channel() {
    let (chain, _) = chain_crashing_in("stop", 300..100_000);
    let mut run = Run::new(config(), &chain, &[(1, 100_000), (2, 100_000)]);
    run.ok(&open(1), T0);
    run.ok(&bet(1, id("s"), 1_000, None), at(1));
    run.ok(&bet(2, id("s"), 3_000, None), at(2));
    let takeoff = fly(&mut run, &chain, 1, T0);
    run.ok(&cashout(1, id("s")), Timestamp(takeoff.0 + curve::elapsed_to_reach(150)));
    assert!(matches!(
        run.ok(&stop(1), Timestamp(takeoff.0 + 12_000)),
        Reply::Crash(CrashReply::Settled { bets: 1, .. })
    ));
    assert_eq!(run.available(1), Money(100_500), "a cashout made before the stop stands");
    assert_eq!(run.available(2), Money(100_000), "refunded");
    assert_eq!(run.bet_state(2, "s"), CrashBetState::Refunded);
    assert_eq!(crash_reject(run.refused(&open(2), Timestamp(takeoff.0 + 20_000))), CrashReject::ChannelPaused);
    assert_eq!(
        crash_reject(run.refused(&crash(1), Timestamp(takeoff.0 + 10_000_000))).code(),
        "CRASH_INVALID_TERM_TRANSITION"
    );
    let resume = Command::Crash(CrashCommand::SetPaused { channel: id(kit::CHANNEL), paused: false });
    run.ok(&resume, Timestamp(takeoff.0 + 20_000));
    run.ok(&open(2), Timestamp(takeoff.0 + 20_000));
    // The stopped term's game is burnt: the next term reveals game 2.
    fly(&mut run, &chain, 2, Timestamp(takeoff.0 + 20_000));
    assert_eq!(run.engine.state().crash().channels()[0].revealed, 2);
    run.check_replay();
}

#[test]
fn the_profit_cap_cashes_out_every_bet_still_flying() {
    let (chain, point) = chain_crashing_in("cap", 300..100_000);
    let limits = CrashLimits { max_profit_per_term: Money(10_000), ..kit::limits() };
    let mut run = Run::new(
        ChannelConfig::seed_001(vec![limits]),
        &chain,
        &[(1, 100_000), (2, 100_000), (3, 100_000), (4, 100_000), (5, 100_000)],
    );
    run.ok(&open(1), T0);
    for u in 1..=5 {
        run.ok(&bet(u, id("k"), 10_000, None), at(u));
    }
    let takeoff = fly(&mut run, &chain, 1, T0);
    // Five bets of 100.00: profit 500 m - 50,000 (m in hundredths) reaches 100.00 at 1.20x.
    let flight = run.engine.state().crash().term(croupier_domain::crash::TermNo(0)).flight.clone().unwrap();
    assert_eq!(flight.caps, vec![Some(120)]);
    run.ok(&cashout(1, id("k")), Timestamp(takeoff.0 + curve::elapsed_to_reach(110)));
    // Past the cap a cashout is paid at the cap, whatever the multiplier now.
    run.ok(&cashout(2, id("k")), Timestamp(takeoff.0 + curve::elapsed_to_reach(250)));
    assert!(matches!(run.bet_state(2, "k"), CrashBetState::CashedOut { multiplier: 120, kind: CashoutKind::Cap, .. }));
    run.ok(&crash(1), Timestamp(takeoff.0 + curve::elapsed_to_reach(point)));
    for u in 3..=5 {
        assert!(matches!(
            run.bet_state(u, "k"),
            CrashBetState::CashedOut { multiplier: 120, kind: CashoutKind::Cap, .. }
        ));
    }
    let profit: i64 = (1..=5).map(|u| run.available(u).0 - 100_000).sum();
    assert!(profit <= 10_000, "{profit}");
    run.check_replay();
}

#[test]
fn crash_points_follow_point_nine_nine_over_m_over_a_million_committed_games() {
    // One chain of 1,000,000 games under one salt, as a channel would use it.
    let salt = kit::salt();
    let thresholds = [101u64, 150, 200, 500, 1_000, 10_000];
    let mut at_least = [0u64; 6];
    let mut h = kit::chain("distribution", 1).game(1).unwrap();
    let n = 1_000_000u64;
    for _ in 0..n {
        let p = fair::crash_point(&h, salt.as_bytes());
        for (k, m) in thresholds.iter().enumerate() {
            at_least[k] += u64::from(p >= *m);
        }
        h = fair::previous(&h);
    }
    // Tolerance: five standard deviations of a binomial count (a false alarm about once in
    // 1.7 million runs; the chain is fixed, so this test's outcome is too).
    for (k, m) in thresholds.iter().enumerate() {
        let p = 0.99 / (*m as f64 / 100.0);
        let expected = n as f64 * p;
        let sd = (n as f64 * p * (1.0 - p)).sqrt();
        let got = at_least[k] as f64;
        assert!((got - expected).abs() <= 5.0 * sd, "P(crash >= {m}): {got} vs {expected} ± {}", 5.0 * sd);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any term: the currency sums to zero (checked after every command by `Run`), every
    /// payout is exactly floor(stake × m) with m at most the crash point, every stake is
    /// accounted for once, and the events rebuild the same digest.
    #[test]
    fn every_term_sums_to_zero_and_no_cashout_above_the_crash_point_wins(
        seed in 0u64..1_000_000,
        bets in proptest::collection::vec((100i64..50_000, proptest::option::of(101u64..2_000), proptest::option::of(0u64..40_000)), 1..24),
        cap in 0i64..2_000_000,
        stopped in any::<bool>(),
    ) {
        let chain = kit::chain(&format!("prop{seed}"), 4);
        let limits = CrashLimits { max_profit_per_term: Money(cap), ..kit::limits() };
        let users: Vec<(u64, i64)> = (0..bets.len() as u64).map(|u| (u, 100_000)).collect();
        let mut run = Run::new(ChannelConfig::seed_001(vec![limits]), &chain, &users);
        run.ok(&open(1), T0);
        for (u, (stake, auto, _)) in bets.iter().enumerate() {
            run.ok(&bet(u as u64, ExtId::numbered("o", u as u64), *stake, *auto), at(u as u64));
        }
        let takeoff = fly(&mut run, &chain, 1, T0);
        let point = fair::crash_point(&chain.game(1).unwrap(), kit::salt().as_bytes());
        let mut times: Vec<(u64, u64)> = bets.iter().enumerate().filter_map(|(u, b)| b.2.map(|t| (t, u as u64))).collect();
        times.sort();
        for (t, u) in times {
            let _ = run.exec(&cashout(u, ExtId::numbered("o", u)), Timestamp(takeoff.0 + t));
        }
        let end = Timestamp(takeoff.0 + curve::elapsed_to_reach(point) + 1);
        if stopped { run.ok(&stop(1), end); } else { run.ok(&crash(1), end); }
        let (mut paid, mut lost) = (0i64, 0i64);
        for e in &run.events {
            if let Event::Crash(CrashEvent::CashedOut { multiplier, stake, payout, .. }) = e {
                prop_assert!(*multiplier <= point);
                prop_assert!(*multiplier >= 100);
                prop_assert_eq!(payout.0 as i128, stake.0 as i128 * *multiplier as i128 / 100);
                paid += payout.0 - stake.0;
            }
            if let Event::Crash(CrashEvent::BetLost { stake, .. }) = e {
                lost += stake.0;
            }
        }
        let players: i64 = users.iter().map(|(u, a)| run.available(*u).0 - a).sum();
        prop_assert_eq!(players, paid - lost, "players gained the profits paid and lost the stakes lost");
        // The published cap holds whatever the players did (manual cashouts only lower it).
        prop_assert!(paid <= cap, "paid {} over the cap {}", paid, cap);
        run.check_replay();
    }
}
