//! Property tests over random command histories: the money invariants hold after every
//! event, repeats move nothing, and every way of rebuilding the state (replaying events,
//! restoring a snapshot and replaying the rest) lands on the same digest.

use croupier_domain::command::{
    Command, DrawResult, GameLimits, PacketKind, PartnerBetStatus, PlaceBet, SendRedPacket,
};
use croupier_domain::event::BetAccepted;
use croupier_domain::ids::{AccountNo, BetId, Code, CurrencyId, PacketNo, SelectionId, Timestamp, UserId};
use croupier_domain::ledger::{LedgerAccount, LedgerBook};
use croupier_domain::state::{Outcome, PacketStatus, PlayerLimits, RedPacket};
use croupier_domain::testkit::*;
use croupier_domain::{evolve, share_amount, Engine, Event, ExtId, Money, Odds, State, MAX_BALANCE, MAX_LEDGER};
use proptest::prelude::*;

const T0: u64 = 1_700_000_000_000;

/// An abstract step; ids come from small pools so that histories collide, repeat and conflict.
#[derive(Clone, Debug)]
enum Step {
    Deposit {
        t: u8,
        user: u8,
        amount: i64,
    },
    Withdraw {
        t: u8,
        user: u8,
        amount: i64,
    },
    Start {
        r: u8,
        window_ms: Option<u64>,
    },
    Stop {
        r: u8,
    },
    NewCard {
        r: u8,
    },
    Draw {
        r: u8,
        result: Option<u8>,
    },
    End {
        r: u8,
    },
    Cancel {
        r: u8,
    },
    Resettle {
        r: u8,
        winner: u8,
    },
    Bet {
        o: u8,
        user: u8,
        r: u8,
        sel: u16,
        stake: i64,
    },
    Check {
        user: u8,
        amount: i64,
    },
    /// Bookmaker bet `b` belongs to user `b % 6`: seed 004 names the player in every call.
    Block {
        b: u8,
        amount: i64,
    },
    Update {
        b: u8,
        status: u8,
        payout: i64,
    },
    Refund {
        b: u8,
    },
    Recalc {
        b: u8,
        tx: u8,
        status: u8,
        payout: i64,
    },
    Limits {
        user: u8,
        stake: Option<i64>,
        loss: Option<i64>,
    },
    Exclude {
        user: u8,
        for_ms: u64,
    },
    /// Packet `p` is sent by user `p`: grabs name the sender, as a packet's link does.
    Send {
        p: u8,
        total: i64,
        shares: u32,
        lucky: Option<u64>,
        ttl_ms: u64,
        /// Bit `i` names user `i` as a recipient (none set: anyone may grab).
        to: u16,
    },
    Grab {
        p: u8,
        user: u8,
    },
    Expire {
        p: u8,
    },
    /// Withdraws everything the user has available: spent winnings make resettlement bite.
    Cashout {
        t: u8,
        user: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let user = 0u8..6;
    prop_oneof![
        3 => (0u8..12, user.clone(), 1i64..200_000).prop_map(|(t, user, amount)| Step::Deposit { t, user, amount }),
        1 => (12u8..20, user.clone(), 1i64..50_000).prop_map(|(t, user, amount)| Step::Withdraw { t, user, amount }),
        2 => (0u8..3, prop::option::of(1u64..60_000)).prop_map(|(r, window_ms)| Step::Start { r, window_ms }),
        1 => (0u8..3).prop_map(|r| Step::Stop { r }),
        1 => (0u8..3).prop_map(|r| Step::NewCard { r }),
        1 => (0u8..3, prop::option::of(0u8..3)).prop_map(|(r, result)| Step::Draw { r, result }),
        1 => (0u8..3).prop_map(|r| Step::End { r }),
        1 => (0u8..3).prop_map(|r| Step::Cancel { r }),
        1 => (0u8..3, 0u8..4).prop_map(|(r, winner)| Step::Resettle { r, winner }),
        8 => (0u8..24, user.clone(), 0u8..3, 0u16..4, 50i64..30_000)
            .prop_map(|(o, user, r, sel, stake)| Step::Bet { o, user, r, sel, stake }),
        1 => (user.clone(), 1i64..50_000).prop_map(|(user, amount)| Step::Check { user, amount }),
        2 => (0u8..6, 1i64..20_000).prop_map(|(b, amount)| Step::Block { b, amount }),
        2 => (0u8..6, 0u8..3, 0i64..60_000).prop_map(|(b, status, payout)| Step::Update { b, status, payout }),
        1 => (0u8..8).prop_map(|b| Step::Refund { b }),
        1 => (0u8..6, 0u8..6, 0u8..3, 0i64..60_000)
            .prop_map(|(b, tx, status, payout)| Step::Recalc { b, tx, status, payout }),
        1 => (user.clone(), prop::option::of(0i64..50_000), prop::option::of(0i64..50_000))
            .prop_map(|(user, stake, loss)| Step::Limits { user, stake, loss }),
        1 => (user.clone(), 0u64..100_000).prop_map(|(user, for_ms)| Step::Exclude { user, for_ms }),
        2 => (0u8..4, 1i64..50_000, 1u32..25, prop::option::of(any::<u64>()), 1u64..200_000, prop_oneof![Just(0u16), 0u16..1024])
            .prop_map(|(p, total, shares, lucky, ttl_ms, to)| Step::Send { p, total, shares, lucky, ttl_ms, to }),
        5 => (0u8..4, 0u8..10).prop_map(|(p, user)| Step::Grab { p, user }),
        1 => (0u8..4).prop_map(|p| Step::Expire { p }),
        2 => (20u8..120, user.clone()).prop_map(|(t, user)| Step::Cashout { t, user }),
    ]
}

fn partner_status(status: u8, payout: i64) -> PartnerBetStatus {
    match status {
        0 => PartnerBetStatus::Won { payout: Money(payout) },
        1 => PartnerBetStatus::Lost,
        _ => PartnerBetStatus::Void,
    }
}

fn result_for(winner: u8) -> DrawResult {
    match winner {
        w @ 0..=2 => draw(SelectionId(w as u16)),
        _ => DrawResult { outcomes: vec![Outcome::Void, Outcome::Push, Outcome::Lost] },
    }
}

/// The command for a step; `state` is read only to size a cash-out.
fn command_in(s: &Step, state: &State) -> Command {
    if let Step::Cashout { t, user } = *s {
        let cur = CurrencyId(0);
        let available = state
            .account_of(UserId(user as u64 + 1), cur)
            .map_or(Money(1), |a| state.account(a).available.max(Money(1)));
        return Command::Withdraw {
            transfer: ExtId::numbered("t", t as u64),
            user: UserId(user as u64 + 1),
            currency: code(CURRENCY),
            amount: available,
        };
    }
    command(s)
}

fn command(s: &Step) -> Command {
    let u = |n: u8| UserId(n as u64 + 1);
    let cur = || code(CURRENCY);
    let n = |p: &str, k: u8| ExtId::numbered(p, k as u64);
    match *s {
        Step::Deposit { t, user, amount } => {
            Command::Deposit { transfer: n("t", t), user: u(user), currency: cur(), amount: Money(amount) }
        }
        Step::Withdraw { t, user, amount } => {
            Command::Withdraw { transfer: n("t", t), user: u(user), currency: cur(), amount: Money(amount) }
        }
        Step::Start { r, window_ms } => Command::GameStart { round: n("r", r), game: id(GAME), window_ms },
        Step::Stop { r } => Command::GameStop { round: n("r", r) },
        Step::NewCard { r } => Command::NewCard { round: n("r", r) },
        Step::Draw { r, result } => Command::GameDraw { round: n("r", r), result: result.map(result_for) },
        Step::End { r } => Command::GameEnd { round: n("r", r) },
        Step::Cancel { r } => Command::CancelRound { round: n("r", r) },
        Step::Resettle { r, winner } => Command::ResettleRound { round: n("r", r), result: result_for(winner) },
        Step::Bet { o, user, r, sel, stake } => Command::PlaceBet(PlaceBet {
            order_no: n("o", o),
            user: u(user),
            round: n("r", r),
            selection: SelectionId(sel),
            stake: Money(stake),
            currency: cur(),
            platform: code("ag"),
        }),
        Step::Check { user, amount } => Command::CheckBet { user: u(user), currency: cur(), amount: Money(amount) },
        Step::Block { b, amount } => Command::BlockFunds {
            bet: n("b", b),
            partner: code("p1"),
            user: u(b % 6),
            currency: cur(),
            amount: Money(amount),
        },
        Step::Update { b, status, payout } => {
            Command::UpdateBetStatus { bet: n("b", b), user: u(b % 6), status: partner_status(status, payout) }
        }
        Step::Refund { b } => Command::Refund { bet: n("b", b), user: u(b % 6) },
        Step::Recalc { b, tx, status, payout } => Command::RecalculateBet {
            bet: n("b", b),
            user: u(b % 6),
            transaction: n("x", tx),
            status: partner_status(status, payout),
        },
        Step::Limits { user, stake, loss } => Command::SetPlayerLimits {
            user: u(user),
            currency: cur(),
            limits: PlayerLimits { daily_stake: stake.map(Money), daily_loss: loss.map(Money) },
        },
        Step::Exclude { user, for_ms } => Command::SelfExclude { user: u(user), until: Timestamp(T0 + for_ms) },
        Step::Send { p, total, shares, lucky, ttl_ms, to } => Command::SendRedPacket(SendRedPacket {
            packet: n("p", p),
            sender: u(p),
            currency: cur(),
            total: Money(total),
            shares,
            kind: lucky.map_or(PacketKind::Normal, |seed| PacketKind::Lucky { seed }),
            ttl_ms: Some(ttl_ms),
            recipients: (0..10u8).filter(|i| to & 1 << i != 0).map(u).collect(),
        }),
        Step::Grab { p, user } => Command::GrabRedPacket { packet: n("p", p), sender: u(p), user: u(user) },
        Step::Expire { p } => Command::ExpireRedPacket { packet: n("p", p), sender: u(p) },
        Step::Cashout { .. } => unreachable!("sized by command_in"),
    }
}

fn history() -> impl Strategy<Value = Vec<(Step, u64)>> {
    // Time moves by up to 40 s per step, so windows close and packets expire mid-history.
    prop::collection::vec((step(), prop_oneof![4 => 0u64..2_000, 1 => 0u64..40_000]), 1..160)
}

fn configured(limits_liability: i64) -> Engine {
    let mut limits = default_limits();
    limits.max_stake_per_user_round = Money(40_000);
    limits.max_liability_per_selection = Money(limits_liability);
    let mut e = Engine::new(State::new());
    for c in setup_commands(limits) {
        must(&mut e, &c, Timestamp(T0));
    }
    e
}

/// Every ledger balance the book folded from events equals the engine's own.
fn assert_book_matches(book: &LedgerBook, s: &State) {
    for (i, a) in s.accounts().iter().enumerate() {
        let no = croupier_domain::ids::AccountNo(i as u32);
        assert_eq!(book.balance(LedgerAccount::Player(no)), a.available, "account {i} available");
        assert_eq!(book.balance(LedgerAccount::Held(no)), a.held, "account {i} held");
    }
    for (i, c) in s.currencies().iter().enumerate() {
        assert_eq!(book.balance(LedgerAccount::External(CurrencyId(i as u32))), c.external);
        assert_eq!(book.balance(LedgerAccount::House(CurrencyId(i as u32))), c.house);
    }
    for (i, p) in s.packets().iter().enumerate() {
        assert_eq!(book.balance(LedgerAccount::Pool(PacketNo(i as u32))), p.remaining);
    }
}

struct Run {
    digest: [u8; 32],
    /// Every event, in order, as a journal would hold them.
    events: Vec<Event>,
    engine: Engine,
    /// Steps after which some account was in debt (resettled below zero).
    steps_in_debt: usize,
}

/// Runs a history, checking the invariants after every command.
fn run(steps: &[(Step, u64)], liability: i64) -> Run {
    run_from(configured(liability), setup_events(liability), steps)
}

/// Runs a history on `e`, configured by the events `setup`.
fn run_from(mut e: Engine, setup: Vec<Event>, steps: &[(Step, u64)]) -> Run {
    let mut events: Vec<Event> = Vec::new();
    let mut book = LedgerBook::new();
    let mut now = T0;
    let mut steps_in_debt = 0;
    // The setup's events belong to the journal too.
    for ev in &setup {
        book.apply(ev, |_| {});
    }
    events.extend(setup);
    for (step, dt) in steps {
        now += dt;
        let cmd = command_in(step, e.state());
        let before = e.state().digest();
        match e.execute(&cmd, Timestamp(now)) {
            Ok(_) => {
                for ev in e.events() {
                    book.apply(ev, |line| assert!(line.entry.amount.is_positive()));
                }
                events.extend_from_slice(e.events());
                // A repeat of an accepted command at the same moment moves nothing.
                let after = e.state().digest();
                let again = e.execute(&cmd, Timestamp(now));
                assert!(again.is_ok(), "repeat of {cmd:?} refused: {again:?}");
                assert_eq!(e.state().digest(), after, "repeat of {cmd:?} changed the state");
                for ev in e.events() {
                    book.apply(ev, |_| {});
                }
                events.extend_from_slice(e.events());
            }
            Err(reject) => {
                assert_eq!(e.state().digest(), before, "a reject ({reject}) changed the state");
            }
        }
        if let Err(broken) = e.state().check_invariants() {
            panic!("after {cmd:?}: {broken}");
        }
        assert_book_matches(&book, e.state());
        steps_in_debt += e.state().accounts().iter().any(|a| a.in_debt) as usize;
    }
    Run { digest: e.state().digest(), events, engine: e, steps_in_debt }
}

fn setup_events(liability: i64) -> Vec<Event> {
    let mut limits = default_limits();
    limits.max_stake_per_user_round = Money(40_000);
    limits.max_liability_per_selection = Money(liability);
    let mut e = Engine::new(State::new());
    let mut out = Vec::new();
    for c in setup_commands(limits) {
        must(&mut e, &c, Timestamp(T0));
        out.extend_from_slice(e.events());
    }
    out
}

/// An engine whose game has no limits worth the name and a 100,000× selection, with the
/// events that configured it: every bound is `decide`'s own.
fn unlimited() -> (Engine, Vec<Event>) {
    let limits = GameLimits {
        currency: code(CURRENCY),
        min_stake: Money(1),
        max_stake: Money(i64::MAX),
        max_stake_per_user_round: Money(i64::MAX),
        max_liability_per_selection: Money(i64::MAX),
    };
    let mut game = baccarat(limits);
    game.selections[TIE.0 as usize].odds = Odds(100_000 * Odds::SCALE);
    let mut e = Engine::new(State::new());
    let mut setup = Vec::new();
    for c in setup_commands(limits).into_iter().chain([Command::DefineGame(game)]) {
        must(&mut e, &c, Timestamp(T0));
        setup.extend_from_slice(e.events());
    }
    (e, setup)
}

/// Amounts at, around and far beyond every bound, so that sums overflow unless `decide`
/// checks them.
fn extreme_amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(1),
        Just(i64::MAX),
        Just(i64::MAX / 2),
        Just(MAX_BALANCE.0 - 1),
        Just(MAX_BALANCE.0),
        Just(MAX_BALANCE.0 + 1),
        Just(MAX_LEDGER.0 / 3),
        Just(MAX_LEDGER.0),
        1i64..=i64::MAX,
    ]
}

/// `s` with every amount it carries replaced by `a` (counts are left: they are bounded by
/// the settings).
fn with_amount(s: Step, a: i64) -> Step {
    match s {
        Step::Deposit { t, user, .. } => Step::Deposit { t, user, amount: a },
        Step::Withdraw { t, user, .. } => Step::Withdraw { t, user, amount: a },
        Step::Bet { o, user, r, sel, .. } => Step::Bet { o, user, r, sel, stake: a },
        Step::Check { user, .. } => Step::Check { user, amount: a },
        Step::Block { b, .. } => Step::Block { b, amount: a },
        Step::Update { b, status, .. } => Step::Update { b, status, payout: a },
        Step::Recalc { b, tx, status, .. } => Step::Recalc { b, tx, status, payout: a },
        Step::Limits { user, stake, loss } => Step::Limits { user, stake: stake.map(|_| a), loss: loss.map(|_| a) },
        Step::Send { p, shares, lucky, ttl_ms, to, .. } => Step::Send { p, total: a, shares, lucky, ttl_ms, to },
        other => other,
    }
}

fn extreme_history() -> impl Strategy<Value = Vec<(Step, u64)>> {
    (history(), prop::collection::vec(extreme_amount(), 160)).prop_map(|(steps, amounts)| {
        steps.into_iter().zip(amounts).map(|((s, dt), a)| (with_amount(s, a), dt)).collect()
    })
}

/// `bets_of_user` (the per-player index) lists exactly what a scan of every bet finds, newest
/// first, and a page starting after any of the player's bets is the rest of that list.
fn assert_bets_listed_like_a_scan(s: &State) {
    let mut users: Vec<UserId> = s.accounts().iter().map(|a| a.user).collect();
    users.sort();
    users.dedup();
    for user in users {
        let scan: Vec<BetId> =
            (0..s.bets().len() as u32).rev().map(BetId).filter(|&b| s.account(s.bet(b).account).user == user).collect();
        let listed: Vec<BetId> = s.bets_of_user(user, None).collect();
        assert_eq!(listed, scan, "bets of {user:?}");
        for (i, &b) in scan.iter().enumerate() {
            let page: Vec<BetId> = s.bets_of_user(user, Some(b)).collect();
            assert_eq!(page, scan[i + 1..], "bets of {user:?} before {b:?}");
        }
    }
    // Another player's bet, or one that does not exist, is no cursor.
    if let Some(b) = s.bets().iter().next() {
        let stranger = UserId(u64::MAX);
        assert_eq!(s.bets_of_user(stranger, None).count(), 0);
        assert_eq!(s.bets_of_user(stranger, Some(BetId(0))).count(), 0, "{b:?} is not theirs");
    }
    assert_eq!(s.bets_of_user(UserId(1), Some(BetId(s.bets().len() as u32))).count(), 0);
}

/// Several currencies: a player's accounts share one list, in acceptance order across them,
/// built the same by `evolve` and by a restore's index rebuild.
fn bets_in_currencies(picks: &[(u8, u8)]) -> State {
    let mut s = State::new();
    for c in 0..3u32 {
        let code = Code::new(["CNY", "USD", "EUR"][c as usize]).unwrap();
        evolve(&mut s, &Event::CurrencyDefined { currency: CurrencyId(c), code, exponent: 2 });
    }
    for (i, &(user, cur)) in picks.iter().enumerate() {
        let (user, currency) = (UserId(user as u64 % 5 + 1), CurrencyId(cur as u32 % 3));
        let account = s.account_of(user, currency).unwrap_or_else(|| {
            let account = AccountNo(s.accounts().len() as u32);
            evolve(&mut s, &Event::AccountOpened { account, user, currency });
            evolve(
                &mut s,
                &Event::Deposited {
                    account,
                    transfer: ExtId::new(&format!("d{}", account.0)).unwrap(),
                    amount: Money(1_000_000),
                },
            );
            account
        });
        evolve(
            &mut s,
            &Event::BetAccepted(BetAccepted {
                bet: BetId(i as u32),
                account,
                round: None,
                selection: SelectionId(0),
                stake: Money(1),
                odds: Odds(20_000),
                order_no: ExtId::new(&format!("b{i}")).unwrap(),
                platform: Code::new("ag").unwrap(),
                at: Timestamp(T0 + i as u64),
            }),
        );
    }
    s
}

fn rebuild(events: &[Event]) -> State {
    let mut s = State::new();
    for ev in events {
        evolve(&mut s, ev);
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// Zero sum per currency, no negative balance outside debt, holds equal open stakes,
    /// ledger book equals balances, repeats are no-ops: checked inside `run` after each step.
    /// Here: the same history gives the same digest, and evolve over the events rebuilds it.
    #[test]
    fn histories_keep_every_money_invariant_and_rebuild_exactly(
        steps in history(),
        liability in prop_oneof![Just(i64::MAX / 4), 1_000i64..100_000],
    ) {
        let first = run(&steps, liability);
        let second = run(&steps, liability);
        prop_assert_eq!(first.digest, second.digest, "same history, same digest");
        let rebuilt = rebuild(&first.events);
        prop_assert_eq!(rebuilt.digest(), first.digest, "evolve over the events rebuilds the state");
        prop_assert!(rebuilt == *first.engine.state());
        assert_bets_listed_like_a_scan(first.engine.state());
    }

    /// A crash at any point: restore the snapshot taken there (canonical bytes) and replay the
    /// journal after it; the digest equals the live one.
    #[test]
    fn snapshot_plus_replay_reproduces_the_live_digest(
        steps in history(),
        cut in any::<prop::sample::Index>(),
    ) {
        let live = run(&steps, i64::MAX / 4);
        let at = cut.index(live.events.len() + 1);
        let snapshot = rebuild(&live.events[..at]).canonical_bytes();
        let mut restored = State::from_canonical_bytes(&snapshot).expect("snapshot decodes");
        for ev in &live.events[at..] {
            evolve(&mut restored, ev);
        }
        prop_assert_eq!(restored.digest(), live.digest);
        assert_bets_listed_like_a_scan(&restored);
        // The restored state keeps deciding exactly like the live one.
        let mut a = live.engine;
        let mut b = Engine::new(restored);
        for (step, _) in steps.iter().take(20) {
            let cmd = command_in(step, a.state());
            let now = Timestamp(T0 + 10_000_000);
            prop_assert_eq!(a.execute(&cmd, now), b.execute(&cmd, now));
        }
        prop_assert_eq!(a.state().digest(), b.state().digest());
    }

    /// The per-player bet index across currencies, live and restored from a snapshot.
    #[test]
    fn bets_of_a_player_are_listed_like_a_scan(picks in prop::collection::vec((0u8..8, 0u8..3), 0..300)) {
        let live = bets_in_currencies(&picks);
        assert_bets_listed_like_a_scan(&live);
        let restored = State::from_canonical_bytes(&live.canonical_bytes()).expect("snapshot decodes");
        assert_bets_listed_like_a_scan(&restored);
    }

    /// The pipelined batch path decides exactly as one command at a time.
    #[test]
    fn batches_decide_exactly_like_single_commands(steps in history()) {
        let mut single = configured(i64::MAX / 4);
        let mut batched = configured(i64::MAX / 4);
        let mut now = T0;
        let mut batch = Vec::new();
        let mut expected = Vec::new();
        for (step, dt) in &steps {
            now += dt;
            let cmd = command_in(step, single.state());
            expected.push((single.execute(&cmd, Timestamp(now)), single.events().to_vec()));
            batch.push((Timestamp(now), cmd));
        }
        let mut got = Vec::new();
        batched.execute_batch(&batch, |_, r, events| got.push((r, events.to_vec())));
        prop_assert_eq!(got, expected);
        prop_assert_eq!(batched.state().digest(), single.state().digest());
    }

    /// Every command with amounts at and beyond every bound, on a game with 100,000× odds and
    /// no limits: nothing panics (`run` would), every invariant holds after every step, and
    /// the events rebuild the state, so `evolve` is total over whatever `decide` emits.
    #[test]
    fn extreme_amounts_never_overflow_and_evolve_stays_total(steps in extreme_history()) {
        let (e, setup) = unlimited();
        let live = run_from(e, setup, &steps);
        prop_assert_eq!(rebuild(&live.events).digest(), live.digest);
    }

    /// Red-packet shares: each at least one minor unit, summing exactly to the total, for
    /// any total, count and seed.
    #[test]
    fn red_packet_shares_sum_to_the_total(
        shares in 1u32..3_000,
        extra in 0i64..10_000_000,
        seed in prop::option::of(any::<u64>()),
    ) {
        let total = Money(shares as i64 + extra);
        let mut p = packet(total, shares, seed.map_or(PacketKind::Normal, |seed| PacketKind::Lucky { seed }));
        let mut sum = 0i64;
        for k in 0..shares {
            let amount = share_amount(&p);
            prop_assert!(amount.0 >= 1, "share {} is {}", k, amount);
            prop_assert!(p.remaining.0 - amount.0 >= (shares - k - 1) as i64, "later shares keep a unit each");
            sum += amount.0;
            p.remaining = Money(p.remaining.0 - amount.0);
            p.grabs.push((UserId(k as u64), amount));
        }
        prop_assert_eq!(sum, total.0);
        prop_assert_eq!(p.remaining, Money::ZERO);
    }
}

fn packet(total: Money, shares: u32, kind: PacketKind) -> RedPacket {
    // Build through the engine so the packet is a real one.
    let mut e = configured(i64::MAX / 4);
    must(&mut e, &deposit(1, total.0, 0), Timestamp(T0));
    let send = Command::SendRedPacket(SendRedPacket {
        packet: id("p"),
        sender: UserId(1),
        currency: code(CURRENCY),
        total,
        shares,
        kind,
        ttl_ms: None,
        recipients: Vec::new(),
    });
    must(&mut e, &send, Timestamp(T0));
    let p = e.state().packets()[0].clone();
    assert_eq!(p.status, PacketStatus::Open);
    p
}

/// The signed call sequence that used to destroy a data folder (issue 12): one unit
/// deposited, then holds of one unit settled as wins of 10^17 again and again. Each payout
/// was checked alone and the 93rd overflowed the balance inside `evolve`. Now the sums are
/// checked before anything is emitted: the pumping stops with `BALANCE_OVERFLOW`, and the
/// state stays whole.
#[test]
fn pumping_payouts_is_refused_before_any_balance_overflows() {
    let (mut e, _) = unlimited();
    must(&mut e, &deposit(8001, 100, 0), Timestamp(T0));
    let mut refused = None;
    for n in 0..200u64 {
        let bet = ExtId::numbered("po-", n);
        let user = UserId(8001);
        let block =
            Command::BlockFunds { bet, partner: code("p1"), user, currency: code(CURRENCY), amount: Money(100) };
        if let Err(r) = e.execute(&block, Timestamp(T0)) {
            refused = Some((n, r));
            break;
        }
        let win = PartnerBetStatus::Won { payout: MAX_BALANCE };
        if let Err(r) = e.execute(&Command::UpdateBetStatus { bet, user, status: win }, Timestamp(T0)) {
            refused = Some((n, r));
            break;
        }
        e.state().check_invariants().unwrap();
    }
    let (n, reject) = refused.expect("the ledger bound stops the pumping");
    assert_eq!(reject.code(), "BALANCE_OVERFLOW");
    assert!(n < 93, "refused at payout {n}, before any i64 could overflow");
    e.state().check_invariants().unwrap();
}

/// Guards the generator: random histories must reach the interesting states (settlement,
/// resettlement into debt, grabs, expiry, bookmaker settlement), or the properties above
/// would pass vacuously.
#[test]
fn random_histories_reach_every_kind_of_event() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::BTreeMap::<&'static str, usize>::new();
    let mut debt = 0;
    for _ in 0..200 {
        let steps = history().new_tree(&mut runner).unwrap().current();
        let r = run(&steps, i64::MAX / 4);
        for ev in &r.events {
            *seen.entry(ev.name()).or_default() += 1;
        }
        debt += r.steps_in_debt;
    }
    for name in [
        "deposited",
        "withdrawn",
        "round_opened",
        "round_status_changed",
        "round_drawn",
        "bet_accepted",
        "bet_settled",
        "bet_resettled",
        "partner_refund_remembered_for",
        "partner_transaction_recorded",
        "red_packet_sent",
        "red_packet_grabbed",
        "red_packet_expired",
        "limits_set",
        "self_excluded",
    ] {
        assert!(seen.get(name).copied().unwrap_or(0) > 0, "no {name} in 200 histories: {seen:?}");
    }
    assert!(debt > 0, "no history drove an account into debt");
}
