//! Instant games (seed 003) through `decide` and `evolve`: seed pairs and their rotation,
//! one-shot dice and keno, plinko's delayed settlement, mines, and property tests over random
//! histories (blackjack and the operator's refunds included) for the money invariants, the
//! nonces and the seeds. Blackjack's own flows and rule table are in `blackjack.rs`.

use croupier_domain::command::Command;
use croupier_domain::ids::{Timestamp, UserId};
use croupier_domain::instant::blackjack::{self, Action, StreamShoe};
use croupier_domain::instant::dice::DiceCall;
use croupier_domain::instant::keno::{KenoRisk, Picks};
use croupier_domain::instant::plinko::PlinkoRisk;
use croupier_domain::instant::{
    dice, keno, mines, plinko, ClientSeed, GameParams, InstantBet, InstantCommand, InstantConfig, InstantLimits,
    InstantOutcome, Phase, ServerSeed, SettleReason, Stream,
};
use croupier_domain::ledger::{LedgerAccount, LedgerBook};
use croupier_domain::state::State;
use croupier_domain::testkit::*;
use croupier_domain::{evolve, Engine, Event, ExtId, InstantReply, Money, Reject, Reply};
use proptest::prelude::*;

const T0: Timestamp = Timestamp(1_700_000_000_000);

fn config() -> InstantConfig {
    let mut c = InstantConfig::stake_defaults();
    c.limits.push(InstantLimits {
        currency: code(CURRENCY),
        min_stake: Money(1),
        max_stake: Money(1_000_000),
        max_win: Money(50_000_000),
    });
    c
}

fn engine(users: &[u64]) -> Engine {
    let mut e = Engine::default();
    for c in setup_commands(default_limits()) {
        must(&mut e, &c, T0);
    }
    must(&mut e, &Command::Instant(InstantCommand::Configure(Box::new(config()))), T0);
    for (n, &u) in users.iter().enumerate() {
        must(&mut e, &deposit(u, 1_000_000, n as u64), T0);
    }
    e
}

fn seed(n: u8) -> ServerSeed {
    ServerSeed([n; 32])
}

fn rotate(user: u64, n: u8) -> Command {
    Command::Instant(InstantCommand::RotateSeed {
        user: UserId(user),
        server_seed: seed(n),
        client_seed: ClientSeed::new("client").unwrap(),
    })
}

fn bet(user: u64, id: &str, stake: i64, game: GameParams) -> Command {
    Command::Instant(InstantCommand::Bet(InstantBet {
        id: ExtId::new(id).unwrap(),
        user: UserId(user),
        currency: code(CURRENCY),
        stake: Money(stake),
        game,
    }))
}

fn over(target: u16) -> GameParams {
    GameParams::Dice(DiceCall { target, over: true })
}

fn available(e: &Engine, user: u64) -> Money {
    let s = e.state();
    s.account(s.account_of(UserId(user), s.currency_by_code(&code(CURRENCY)).unwrap()).unwrap()).available
}

fn held(e: &Engine, user: u64) -> Money {
    let s = e.state();
    s.account(s.account_of(UserId(user), s.currency_by_code(&code(CURRENCY)).unwrap()).unwrap()).held
}

fn at(ms: u64) -> Timestamp {
    T0.saturating_add_ms(ms)
}

fn instant(r: Reply) -> InstantReply {
    let Reply::Instant(r) = r else { panic!("not an instant reply: {r:?}") };
    r
}

#[test]
fn a_bet_needs_a_committed_seed_and_uses_nonces_in_order() {
    let mut e = engine(&[1]);
    assert_eq!(e.execute(&bet(1, "b0", 100, over(5_000)), T0), Err(Reject::SeedRequired));
    let InstantReply::Rotated(first) = instant(must(&mut e, &rotate(1, 1), T0)) else { panic!() };
    assert_eq!((first.hash, first.revealed), (seed(1).hash(), None));
    for n in 0..3u64 {
        must(&mut e, &bet(1, &format!("b{n}"), 100, over(5_000)), T0);
        let no = e.state().instant().bet_by_id(UserId(1), &ExtId::numbered("b", n)).unwrap();
        assert_eq!(e.state().instant().bet(no).nonce, n);
    }
    // Rotation reveals the pair in use and how many nonces it served, and restarts at 0.
    let InstantReply::Rotated(second) = instant(must(&mut e, &rotate(1, 2), T0)) else { panic!() };
    let Some((old, client, nonces)) = second.revealed else { panic!("the replaced pair is revealed") };
    assert_eq!((old, client.as_str(), nonces), (seed(1), "client", 3));
    must(&mut e, &bet(1, "b3", 100, over(5_000)), T0);
    let no = e.state().instant().bet_by_id(UserId(1), &ExtId::new("b3").unwrap()).unwrap();
    assert_eq!((e.state().instant().bet(no).nonce, e.state().instant().bet(no).seed_no), (0, 1));
    // A seed is never committed twice for a player.
    assert!(matches!(e.execute(&rotate(1, 1), T0), Err(Reject::InvalidGameParams(_))));
    e.state().check_invariants().unwrap();
}

#[test]
fn dice_is_decided_settled_and_paid_in_one_command_and_is_idempotent() {
    let mut e = engine(&[1]);
    must(&mut e, &rotate(1, 1), T0);
    let expected_roll = dice::roll(&mut Stream::of(&seed(1), b"client", 0));
    let call = DiceCall { target: 5_000, over: true };
    let won = call.wins(expected_roll);
    let InstantReply::Bet { bet: no, replayed: false } = instant(must(&mut e, &bet(1, "d", 1_000, over(5_000)), T0))
    else {
        panic!()
    };
    let rec = e.state().instant().bet(no).clone();
    assert_eq!(rec.outcome, InstantOutcome::Dice { roll: expected_roll });
    let pays = if won { Money(1_980) } else { Money(0) };
    assert_eq!(rec.state, Phase::Settled { payout: pays, at: T0, why: SettleReason::AtBet });
    assert_eq!(available(&e, 1), Money(1_000_000 - 1_000 + pays.0));
    assert_eq!(held(&e, 1), Money(0));
    // The same id and content: the first answer, nothing moves; other content: a conflict.
    let digest = e.state().digest();
    assert_eq!(
        instant(must(&mut e, &bet(1, "d", 1_000, over(5_000)), T0)),
        InstantReply::Bet { bet: no, replayed: true }
    );
    assert_eq!(e.state().digest(), digest);
    assert_eq!(e.execute(&bet(1, "d", 999, over(5_000)), T0), Err(Reject::IdempotencyConflict));
    // Another player's id is another bet.
    assert!(matches!(e.execute(&bet(2, "d", 1_000, over(5_000)), T0), Err(Reject::SeedRequired)));
    // Bounds: chance and stake limits.
    assert!(matches!(e.execute(&bet(1, "x", 1_000, over(100)), T0), Err(Reject::InvalidGameParams(_))));
    assert!(matches!(e.execute(&bet(1, "x", 2_000_000, over(5_000)), T0), Err(Reject::StakeTooHigh { .. })));
    e.state().check_invariants().unwrap();
}

#[test]
fn keno_pays_by_its_table() {
    let mut e = engine(&[1]);
    must(&mut e, &rotate(1, 3), T0);
    let drawn = keno::draw(&mut Stream::of(&seed(3), b"client", 0));
    // Pick four of the drawn numbers and one that was not drawn: four hits of five.
    let missing = (0..40).find(|t| !drawn.contains(t)).unwrap();
    let picks = Picks::new(&[drawn[0], drawn[1], drawn[2], drawn[3], missing]).unwrap();
    let game = GameParams::Keno { risk: KenoRisk::Classic, picks };
    let no = match instant(must(&mut e, &bet(1, "k", 1_000, game), T0)) {
        InstantReply::Bet { bet, .. } => bet,
        r => panic!("{r:?}"),
    };
    let rec = e.state().instant().bet(no);
    assert!(matches!(rec.outcome, InstantOutcome::Keno { hits: 4, .. }));
    assert_eq!(rec.payout, Money(16_500)); // classic, 5 picks, 4 hits: 16.5×
    assert_eq!(available(&e, 1), Money(1_000_000 - 1_000 + 16_500));
    let bad = GameParams::Keno { risk: KenoRisk::Low, picks: Picks(0) };
    assert!(matches!(e.execute(&bet(1, "k2", 1_000, bad), T0), Err(Reject::InvalidGameParams(_))));
}

#[test]
fn plinko_holds_the_stake_until_the_animation_ends_or_the_sweeper_comes() {
    let mut e = engine(&[1]);
    must(&mut e, &rotate(1, 4), T0);
    let path = plinko::drop_ball(&mut Stream::of(&seed(4), b"client", 0), 16);
    let m = plinko::PlinkoTable::stake(16, PlinkoRisk::High).slots[path.slot() as usize];
    let pays = croupier_domain::instant::payout::payout(Money(1_000), m, Money(i64::MAX));
    let game = GameParams::Plinko { rows: 16, risk: PlinkoRisk::High };
    must(&mut e, &bet(1, "p", 1_000, game), T0);
    assert_eq!((available(&e, 1), held(&e, 1)), (Money(999_000), Money(1_000)));
    let settle = Command::Instant(InstantCommand::Settle { user: UserId(1), id: ExtId::new("p").unwrap() });
    let first = instant(must(&mut e, &settle, at(3_000)));
    assert_eq!(
        first,
        InstantReply::Settled { bet: croupier_domain::instant::InstantNo(0), payout: pays, replayed: false }
    );
    assert_eq!((available(&e, 1), held(&e, 1)), (Money(999_000 + pays.0), Money(0)));
    // A repeated confirmation, or a late sweep, gets the first answer and moves nothing.
    let digest = e.state().digest();
    assert!(matches!(instant(must(&mut e, &settle, at(4_000))), InstantReply::Settled { replayed: true, .. }));
    let sweep = Command::Instant(InstantCommand::Sweep { user: UserId(1), id: ExtId::new("p").unwrap() });
    assert!(matches!(instant(must(&mut e, &sweep, at(60_000))), InstantReply::Settled { replayed: true, .. }));
    assert_eq!(e.state().digest(), digest);

    // A second drop nobody confirms: the sweeper may settle it only after 20 s.
    must(&mut e, &bet(1, "p2", 1_000, game), at(10_000));
    let sweep2 = Command::Instant(InstantCommand::Sweep { user: UserId(1), id: ExtId::new("p2").unwrap() });
    assert_eq!(e.execute(&sweep2, at(29_999)), Err(Reject::NotDue { due: at(30_000) }));
    assert!(matches!(instant(must(&mut e, &sweep2, at(30_000))), InstantReply::Settled { replayed: false, .. }));
    assert_eq!(held(&e, 1), Money(0));
    e.state().check_invariants().unwrap();
}

fn mines_of(n: u8, nonce: u64, count: u8) -> u32 {
    mines::place(&mut Stream::of(&seed(n), b"client", nonce), count)
}

fn reveal(id: &str, tile: u8) -> Command {
    Command::Instant(InstantCommand::Reveal { user: UserId(1), id: ExtId::new(id).unwrap(), tile })
}

#[test]
fn mines_reveal_cash_out_lose_and_sweep() {
    let mut e = engine(&[1]);
    must(&mut e, &rotate(1, 5), T0);
    let set = mines_of(5, 0, 3);
    let safe: Vec<u8> = (0..25).filter(|t| set & 1 << t == 0).collect();
    must(&mut e, &bet(1, "m", 1_000, GameParams::Mines { mines: 3 }), T0);
    assert_eq!(held(&e, 1), Money(1_000));
    let cash = Command::Instant(InstantCommand::CashOut { user: UserId(1), id: ExtId::new("m").unwrap() });
    assert_eq!(e.execute(&cash, T0), Err(Reject::NoGemsRevealed));
    // One game at a time, and no rotation while it runs (it would reveal the mines).
    assert_eq!(e.execute(&bet(1, "m2", 1_000, GameParams::Mines { mines: 3 }), T0), Err(Reject::GameInProgress));
    assert_eq!(e.execute(&rotate(1, 6), T0), Err(Reject::GameInProgress));
    assert!(matches!(instant(must(&mut e, &reveal("m", safe[0]), at(1))), InstantReply::Gem { ended: false, .. }));
    assert_eq!(e.execute(&reveal("m", safe[0]), at(2)), Err(Reject::TileRevealed));
    must(&mut e, &reveal("m", safe[1]), at(3));
    // Two gems with three mines: 0.99 × C(25,2)/C(22,2) = 1.2857×.
    assert!(matches!(
        instant(must(&mut e, &cash, at(4))),
        InstantReply::Settled { payout: Money(1_285), replayed: false, .. }
    ));
    assert_eq!((available(&e, 1), held(&e, 1)), (Money(1_000_000 - 1_000 + 1_285), Money(0)));
    assert_eq!(e.execute(&cash, at(5)), Err(Reject::BetSettled));

    // The next game (nonce 1) hits a mine.
    let set = mines_of(5, 1, 3);
    let mine = (0..25).find(|t| set & 1 << t != 0).unwrap();
    must(&mut e, &bet(1, "m3", 1_000, GameParams::Mines { mines: 3 }), at(10));
    assert!(matches!(
        instant(must(&mut e, &reveal("m3", mine), at(11))),
        InstantReply::Settled { payout: Money(0), .. }
    ));
    assert_eq!(available(&e, 1), Money(1_000_000 - 2_000 + 1_285));

    // A game left alone is cashed out after 5 minutes of inactivity (counted from the last reveal).
    let set = mines_of(5, 2, 1);
    let safe = (0..25).find(|t| set & 1 << t == 0).unwrap();
    must(&mut e, &bet(1, "m4", 1_000, GameParams::Mines { mines: 1 }), at(20));
    must(&mut e, &reveal("m4", safe), at(100));
    let sweep = Command::Instant(InstantCommand::Sweep { user: UserId(1), id: ExtId::new("m4").unwrap() });
    assert_eq!(e.execute(&sweep, at(300_099)), Err(Reject::NotDue { due: at(300_100) }));
    assert!(matches!(instant(must(&mut e, &sweep, at(300_100))), InstantReply::Settled { payout: Money(1_031), .. }));
    e.state().check_invariants().unwrap();
}

/// One step of a random instant history: which player, what, and how much time passes.
#[derive(Clone, Debug)]
enum Step {
    Rotate { user: u64 },
    Dice { user: u64, stake: i64, target: u16, over: bool },
    Keno { user: u64, stake: i64, picks: Vec<u8>, risk: u8 },
    Plinko { user: u64, stake: i64, rows: u8, risk: u8 },
    Mines { user: u64, stake: i64, mines: u8 },
    Reveal { user: u64, tile: u8 },
    CashOut { user: u64 },
    Settle { user: u64, back: u8 },
    Sweep { user: u64, back: u8 },
    Blackjack { user: u64, stake: i64 },
    Act { user: u64, action: u8, step: Option<u8> },
    Refund { user: u64, back: u8 },
}

fn step() -> impl Strategy<Value = (Step, u64)> {
    let user = 1u64..4;
    let stake = prop_oneof![1i64..100, 100i64..1_000_000, Just(1_000_000i64), Just(2_000_000i64)];
    let s = prop_oneof![
        1 => user.clone().prop_map(|user| Step::Rotate { user }),
        4 => (user.clone(), stake.clone(), 0u16..10_001, any::<bool>())
            .prop_map(|(user, stake, target, over)| Step::Dice { user, stake, target, over }),
        2 => (user.clone(), stake.clone(), prop::collection::vec(0u8..41, 0..12), 0u8..4)
            .prop_map(|(user, stake, picks, risk)| Step::Keno { user, stake, picks, risk }),
        2 => (user.clone(), stake.clone(), 7u8..18, 0u8..3)
            .prop_map(|(user, stake, rows, risk)| Step::Plinko { user, stake, rows, risk }),
        2 => (user.clone(), stake, 0u8..26).prop_map(|(user, stake, mines)| Step::Mines { user, stake, mines }),
        4 => (user.clone(), 0u8..26).prop_map(|(user, tile)| Step::Reveal { user, tile }),
        1 => user.clone().prop_map(|user| Step::CashOut { user }),
        2 => (user.clone(), 0u8..3).prop_map(|(user, back)| Step::Settle { user, back }),
        1 => (user.clone(), 0u8..3).prop_map(|(user, back)| Step::Sweep { user, back }),
        2 => (user.clone(), prop_oneof![1i64..100, 100i64..1_000_000]).prop_map(|(user, stake)| Step::Blackjack { user, stake }),
        5 => (user.clone(), 0u8..6, prop::option::of(0u8..4)).prop_map(|(user, action, step)| Step::Act { user, action, step }),
        1 => (user, 0u8..3).prop_map(|(user, back)| Step::Refund { user, back }),
    ];
    (s, prop_oneof![Just(0u64), 1u64..1_000, Just(20_000), Just(300_000)])
}

/// The command for a step: ids are per player and numbered; settle, sweep, reveal and cash
/// out name one of the player's latest bets.
fn command(step: &Step, s: &State, n: u64) -> Command {
    let latest = |user: u64, back: u8| {
        let no = s.instant().bets_of_user(UserId(user)).nth(back as usize);
        no.map_or(ExtId::new("none").unwrap(), |no| s.instant().bet(no).id)
    };
    let id = ExtId::numbered("i", n);
    let bet = |user: u64, stake: i64, game| {
        Command::Instant(InstantCommand::Bet(InstantBet {
            id,
            user: UserId(user),
            currency: code(CURRENCY),
            stake: Money(stake),
            game,
        }))
    };
    match step {
        Step::Rotate { user } => {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&n.to_le_bytes());
            Command::Instant(InstantCommand::RotateSeed {
                user: UserId(*user),
                server_seed: ServerSeed(bytes),
                client_seed: ClientSeed::numbered("c", n),
            })
        }
        Step::Dice { user, stake, target, over } => {
            bet(*user, *stake, GameParams::Dice(DiceCall { target: *target, over: *over }))
        }
        Step::Keno { user, stake, picks, risk } => {
            let bits = picks.iter().fold(0u64, |b, &t| b | 1 << t);
            bet(*user, *stake, GameParams::Keno { risk: KenoRisk::ALL[*risk as usize], picks: Picks(bits) })
        }
        Step::Plinko { user, stake, rows, risk } => {
            bet(*user, *stake, GameParams::Plinko { rows: *rows, risk: PlinkoRisk::ALL[*risk as usize] })
        }
        Step::Mines { user, stake, mines } => bet(*user, *stake, GameParams::Mines { mines: *mines }),
        Step::Reveal { user, tile } => {
            let id = s.instant().player(UserId(*user)).and_then(|p| p.open_mines).map(|no| s.instant().bet(no).id);
            Command::Instant(InstantCommand::Reveal {
                user: UserId(*user),
                id: id.unwrap_or(ExtId::new("none").unwrap()),
                tile: *tile,
            })
        }
        Step::CashOut { user } => {
            let id = s.instant().player(UserId(*user)).and_then(|p| p.open_mines).map(|no| s.instant().bet(no).id);
            Command::Instant(InstantCommand::CashOut {
                user: UserId(*user),
                id: id.unwrap_or(ExtId::new("none").unwrap()),
            })
        }
        Step::Settle { user, back } => {
            Command::Instant(InstantCommand::Settle { user: UserId(*user), id: latest(*user, *back) })
        }
        Step::Sweep { user, back } => {
            Command::Instant(InstantCommand::Sweep { user: UserId(*user), id: latest(*user, *back) })
        }
        Step::Blackjack { user, stake } => bet(*user, *stake, GameParams::Blackjack),
        Step::Act { user, action, step } => {
            let p = s.instant().player(UserId(*user));
            let open = p.and_then(|p| p.open_blackjack).map(|no| s.instant().bet(no));
            // A step near the game's own (a retry, the next one, one ahead) or none.
            let played = open.and_then(|b| b.table.as_ref()).map_or(0, |t| t.actions.len() as u8);
            Command::Instant(InstantCommand::Act {
                user: UserId(*user),
                id: open.map_or(ExtId::new("none").unwrap(), |b| b.id),
                step: step.map(|d| (played + d).saturating_sub(2)),
                action: Action::ALL[*action as usize],
            })
        }
        Step::Refund { user, back } => {
            Command::Instant(InstantCommand::Refund { user: UserId(*user), id: latest(*user, *back) })
        }
    }
}

fn assert_book_matches(book: &LedgerBook, s: &State) {
    for (i, a) in s.accounts().iter().enumerate() {
        let no = croupier_domain::ids::AccountNo(i as u32);
        assert_eq!(book.balance(LedgerAccount::Player(no)), a.available, "account {i} available");
        assert_eq!(book.balance(LedgerAccount::Held(no)), a.held, "account {i} held");
    }
    for (i, c) in s.currencies().iter().enumerate() {
        let cur = croupier_domain::ids::CurrencyId(i as u32);
        assert_eq!(book.balance(LedgerAccount::House(cur)), c.house);
    }
}

/// Every bet made with a revealed pair is reproduced by the stream from that pair alone.
fn assert_revealed_seeds_reproduce_their_bets(s: &State) {
    for (i, b) in s.instant().bets().iter().enumerate() {
        let user = s.account(b.account).user;
        let Some(pair) = s.instant().player(user).unwrap().revealed(b.seed_no) else { continue };
        let mut stream = Stream::of(&pair.server_seed, pair.client_seed.as_str().as_bytes(), b.nonce);
        let again = match b.game {
            GameParams::Dice(_) => InstantOutcome::Dice { roll: dice::roll(&mut stream) },
            GameParams::Keno { picks, .. } => {
                let drawn = keno::draw(&mut stream);
                let set = drawn.iter().fold(0u64, |s, &t| s | 1 << t);
                InstantOutcome::Keno { drawn: set, hits: picks.hits(&drawn) as u8 }
            }
            GameParams::Plinko { rows, .. } => {
                InstantOutcome::Plinko { rights: plinko::drop_ball(&mut stream, rows).rights }
            }
            GameParams::Mines { mines: count } => {
                // The mines never revealed a gem where the stream put a mine.
                let set = mines::place(&mut stream, count);
                assert_eq!(b.revealed & set, 0, "bet {i} revealed a gem on a mine");
                InstantOutcome::Mines
            }
            GameParams::Blackjack => {
                // The whole game, dealer included, replays from the seeds and its actions.
                let table = b.table.as_deref().expect("a blackjack bet has its table");
                let first = &table.hands[0];
                let stake = if first.doubled { Money(first.stake.0 / 2) } else { first.stake };
                let mut shoe = StreamShoe::new(stream);
                let again = blackjack::replay(&mut shoe, stake, &table.actions).expect("its actions were allowed");
                assert_eq!(&again, table, "bet {i}");
                let mut shoe =
                    StreamShoe::new(Stream::of(&pair.server_seed, pair.client_seed.as_str().as_bytes(), b.nonce));
                use blackjack::Shoe;
                InstantOutcome::Blackjack { up: shoe.card(0), player: [shoe.card(2), shoe.card(3)] }
            }
        };
        assert_eq!(again, b.outcome, "bet {i}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Money sums to zero and the ledger folds to the engine's balances after every command;
    /// rejects change nothing; nonces rise by one per bet per pair; a revealed seed
    /// reproduces every bet made with it; the events rebuild the state and a snapshot plus
    /// the events after it reproduce the digest; no JSON encoding of an event shows a seed.
    #[test]
    fn instant_histories_keep_the_money_and_the_seeds_honest(steps in prop::collection::vec(step(), 1..150)) {
        let mut e = engine(&[1, 2, 3]);
        let mut events: Vec<Event> = Vec::new();
        let mut book = LedgerBook::new();
        // The setup's events, for the book and the replay.
        let mut base = Engine::default();
        for c in setup_commands(default_limits()) {
            base.execute(&c, T0).unwrap();
            events.extend_from_slice(base.events());
        }
        base.execute(&Command::Instant(InstantCommand::Configure(Box::new(config()))), T0).unwrap();
        events.extend_from_slice(base.events());
        for (n, u) in [1u64, 2, 3].into_iter().enumerate() {
            base.execute(&deposit(u, 1_000_000, n as u64), T0).unwrap();
            events.extend_from_slice(base.events());
        }
        prop_assert_eq!(base.state().digest(), e.state().digest());
        for ev in &events {
            book.apply(ev, |_| {});
        }
        let mut now = T0;
        let mut snapshot_at = None;
        for (n, (step, dt)) in steps.iter().enumerate() {
            now = now.saturating_add_ms(*dt);
            let cmd = command(step, e.state(), n as u64);
            let before = e.state().digest();
            match e.execute(&cmd, now) {
                Ok(_) => {
                    for ev in e.events() {
                        book.apply(ev, |line| assert!(line.entry.amount.is_positive()));
                        let json = serde_json::to_string(ev).unwrap();
                        for (_, p) in e.state().instant().players() {
                            for pair in &p.pairs {
                                prop_assert!(!json.contains(&pair.server_seed.to_hex()), "a seed in JSON: {}", json);
                            }
                        }
                    }
                    events.extend_from_slice(e.events());
                }
                Err(_) => prop_assert_eq!(e.state().digest(), before),
            }
            if let Err(broken) = e.state().check_invariants() {
                panic!("after {cmd:?}: {broken}");
            }
            assert_book_matches(&book, e.state());
            if n == steps.len() / 2 {
                snapshot_at = Some((e.state().canonical_bytes(), events.len()));
            }
        }
        assert_revealed_seeds_reproduce_their_bets(e.state());
        let mut rebuilt = State::new();
        for ev in &events {
            evolve(&mut rebuilt, ev);
        }
        prop_assert_eq!(rebuilt.digest(), e.state().digest());
        if let Some((bytes, from)) = snapshot_at {
            let mut restored = State::from_canonical_bytes(&bytes).unwrap();
            for ev in &events[from..] {
                evolve(&mut restored, ev);
            }
            prop_assert_eq!(restored.digest(), e.state().digest());
            prop_assert_eq!(restored.instant().bets_of_user(UserId(1)).count(), e.state().instant().bets_of_user(UserId(1)).count());
        }
    }
}
