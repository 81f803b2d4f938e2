//! Blackjack through `decide` and `evolve`: the rule table (every action in every state of a
//! game, allowed or refused with its stable code), exactly-once steps, the money of doubles,
//! splits and insurance on the ledger, and the operator's refunds of unfinished games.
//!
//! Games are dealt from real seeds: each test looks for a server seed whose nonce-0 deal is
//! the state it needs (an ace up, a pair, ...), computed with the domain's public functions.

use croupier_domain::command::Command;
use croupier_domain::ids::{Timestamp, UserId};
use croupier_domain::instant::blackjack::{self, Action, Insurance, Shoe, StreamShoe, Table};
use croupier_domain::instant::dice::DiceCall;
use croupier_domain::instant::plinko::PlinkoRisk;
use croupier_domain::instant::{
    ClientSeed, GameParams, InstantBet, InstantCommand, InstantConfig, InstantLimits, Phase, ServerSeed, SettleReason,
    Stream,
};
use croupier_domain::ledger::{LedgerAccount, LedgerBook};
use croupier_domain::testkit::*;
use croupier_domain::{Engine, ExtId, InstantReply, Money, Reject, Reply};

const T0: Timestamp = Timestamp(1_700_000_000_000);
const STAKE: i64 = 1_000;

fn engine(max_win: i64) -> Engine {
    let mut e = Engine::default();
    for c in setup_commands(default_limits()) {
        must(&mut e, &c, T0);
    }
    let mut config = InstantConfig::stake_defaults();
    config.limits.push(InstantLimits {
        currency: code(CURRENCY),
        min_stake: Money(1),
        max_stake: Money(1_000_000),
        max_win: Money(max_win),
    });
    must(&mut e, &Command::Instant(InstantCommand::Configure(Box::new(config))), T0);
    must(&mut e, &deposit(1, 1_000_000, 0), T0);
    e
}

fn shoe(seed: &ServerSeed) -> StreamShoe<'_> {
    StreamShoe::new(Stream::of(seed, b"client", 0))
}

/// The table after the deal and `actions`, from `seed` at nonce 0 (`None`: an action refused).
fn after(seed: &ServerSeed, actions: &[Action]) -> Option<Table> {
    blackjack::replay(&mut shoe(seed), Money(STAKE), actions).ok()
}

/// The first seed whose game, after `actions`, satisfies `wanted` (a bounded search).
fn find(actions: &[Action], wanted: impl Fn(&Table) -> bool) -> ServerSeed {
    for n in 0..200_000u32 {
        let mut b = [0xb1u8; 32];
        b[..4].copy_from_slice(&n.to_le_bytes());
        let seed = ServerSeed(b);
        if after(&seed, actions).is_some_and(|t| wanted(&t)) {
            return seed;
        }
    }
    panic!("no seed of 200,000 deals that game");
}

fn rotate(seed: ServerSeed) -> Command {
    Command::Instant(InstantCommand::RotateSeed {
        user: UserId(1),
        server_seed: seed,
        client_seed: ClientSeed::new("client").unwrap(),
    })
}

fn bet(id: &str, stake: i64, game: GameParams) -> Command {
    Command::Instant(InstantCommand::Bet(InstantBet {
        id: ExtId::new(id).unwrap(),
        user: UserId(1),
        currency: code(CURRENCY),
        stake: Money(stake),
        game,
    }))
}

fn act(step: Option<u8>, action: Action) -> Command {
    Command::Instant(InstantCommand::Act { user: UserId(1), id: ExtId::new("bj").unwrap(), step, action })
}

fn refund(id: &str) -> Command {
    Command::Instant(InstantCommand::Refund { user: UserId(1), id: ExtId::new(id).unwrap() })
}

fn available(e: &Engine) -> Money {
    let s = e.state();
    s.account(s.account_of(UserId(1), s.currency_by_code(&code(CURRENCY)).unwrap()).unwrap()).available
}

fn record(e: &Engine) -> &croupier_domain::instant::InstantBetRecord {
    let s = e.state();
    s.instant().bet(s.instant().bet_by_id(UserId(1), &ExtId::new("bj").unwrap()).unwrap())
}

/// A game dealt from `seed` with `actions` played (each with its step).
fn game(seed: ServerSeed, actions: &[Action]) -> Engine {
    let mut e = engine(50_000_000);
    must(&mut e, &rotate(seed), T0);
    must(&mut e, &bet("bj", STAKE, GameParams::Blackjack), T0);
    for (i, a) in actions.iter().enumerate() {
        must(&mut e, &act(Some(i as u8), *a), T0);
    }
    e
}

fn code_of(r: Result<Reply, Reject>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(r) => r.code(),
    }
}

fn pair(t: &Table) -> bool {
    let h = &t.hands[0].cards;
    h[0].rank() == h[1].rank()
}

fn open_without_insurance(t: &Table) -> bool {
    !t.over && t.insurance == Insurance::NotOffered
}

/// Every action in every state of a game, with the stable code it gets.
#[test]
fn the_rule_table() {
    use Action::{Hit, Split, Stand};
    type Row = (&'static str, &'static [Action], fn(&Table) -> bool, [&'static str; 6]);
    let rows: [Row; 8] = [
        (
            "the dealer shows an ace",
            &[],
            |t| !t.over && t.insurance == Insurance::Offered && !pair(t),
            ["INSURANCE_PENDING", "INSURANCE_PENDING", "INSURANCE_PENDING", "INSURANCE_PENDING", "ok", "ok"],
        ),
        (
            "insurance answered, the game goes on",
            &[Action::Insurance { take: false }],
            |t| !t.over && !pair(t) && t.hands[0].cards.len() == 2,
            ["ok", "ok", "ok", "CANNOT_SPLIT", "INSURANCE_NOT_OFFERED", "INSURANCE_NOT_OFFERED"],
        ),
        (
            "two cards, no pair",
            &[],
            |t| open_without_insurance(t) && !pair(t),
            ["ok", "ok", "ok", "CANNOT_SPLIT", "INSURANCE_NOT_OFFERED", "INSURANCE_NOT_OFFERED"],
        ),
        (
            "a pair",
            &[],
            |t| open_without_insurance(t) && pair(t) && !t.hands[0].cards[0].is_ace(),
            ["ok", "ok", "ok", "ok", "INSURANCE_NOT_OFFERED", "INSURANCE_NOT_OFFERED"],
        ),
        (
            "three cards after a hit",
            &[Hit],
            |t| open_without_insurance(t) && !pair(t),
            ["ok", "ok", "CANNOT_DOUBLE", "CANNOT_SPLIT", "INSURANCE_NOT_OFFERED", "INSURANCE_NOT_OFFERED"],
        ),
        (
            "the first hand of a split",
            &[Split],
            |t| !t.over && t.active == 0 && t.hands[0].cards.len() == 2,
            ["ok", "ok", "ok", "CANNOT_SPLIT", "INSURANCE_NOT_OFFERED", "INSURANCE_NOT_OFFERED"],
        ),
        (
            "over at the deal (a blackjack or the dealer's)",
            &[],
            |t| t.over,
            ["BET_SETTLED", "BET_SETTLED", "BET_SETTLED", "BET_SETTLED", "BET_SETTLED", "BET_SETTLED"],
        ),
        (
            "over after a stand",
            &[Stand],
            |t| t.over && t.insurance == Insurance::NotOffered,
            ["BET_SETTLED", "BET_SETTLED", "BET_SETTLED", "BET_SETTLED", "BET_SETTLED", "BET_SETTLED"],
        ),
    ];
    for (state, played, wanted, codes) in rows {
        let seed = find(played, wanted);
        for (action, expected) in Action::ALL.iter().zip(codes) {
            let mut e = game(seed, played);
            let before = e.state().digest();
            let got = code_of(e.execute(&act(Some(played.len() as u8), *action), T0));
            assert_eq!(got, expected, "{state}: {action:?}");
            if got != "ok" {
                assert_eq!(e.state().digest(), before, "{state}: a refusal changes nothing");
            }
            e.state().check_invariants().unwrap();
        }
    }
    // A refunded game takes no action; a bet of another game takes none either.
    let seed = find(&[], open_without_insurance);
    let mut e = game(seed, &[]);
    must(&mut e, &refund("bj"), T0);
    for action in Action::ALL {
        assert_eq!(code_of(e.execute(&act(None, action), T0)), "BET_SETTLED");
    }
    must(&mut e, &bet("d", 100, GameParams::Dice(DiceCall { target: 5_000, over: true })), T0);
    let on_dice = Command::Instant(InstantCommand::Act {
        user: UserId(1),
        id: ExtId::new("d").unwrap(),
        step: None,
        action: Action::Hit,
    });
    assert_eq!(code_of(e.execute(&on_dice, T0)), "INVALID_GAME_PARAMS");
    let unknown = Command::Instant(InstantCommand::Act {
        user: UserId(1),
        id: ExtId::new("nope").unwrap(),
        step: None,
        action: Action::Hit,
    });
    assert_eq!(code_of(e.execute(&unknown, T0)), "BET_NOT_FOUND");
}

#[test]
fn a_step_is_played_once_and_a_retry_gets_the_first_answer() {
    let seed = find(&[Action::Hit], open_without_insurance);
    let mut e = game(seed, &[]);
    let first = must(&mut e, &act(Some(0), Action::Hit), T0);
    assert!(matches!(first, Reply::Instant(InstantReply::Acted { replayed: false, ended: false, .. })));
    let digest = e.state().digest();
    let again = must(&mut e, &act(Some(0), Action::Hit), T0);
    assert!(matches!(again, Reply::Instant(InstantReply::Acted { replayed: true, .. })));
    assert_eq!(e.state().digest(), digest, "a retry draws no second card");
    assert_eq!(e.execute(&act(Some(0), Action::Stand), T0), Err(Reject::IdempotencyConflict));
    assert_eq!(e.execute(&act(Some(2), Action::Stand), T0), Err(Reject::StepAhead));
    assert_eq!(record(&e).table.as_ref().unwrap().hands[0].cards.len(), 3);
    // The last step ends the game; its retry after the end still gets the first answer.
    must(&mut e, &act(Some(1), Action::Stand), T0);
    assert!(!record(&e).is_open());
    let late = must(&mut e, &act(Some(1), Action::Stand), T0);
    assert!(matches!(late, Reply::Instant(InstantReply::Acted { replayed: true, ended: true, .. })));
    // One game at a time per player, and no rotation while one runs.
    let seed2 = find(&[], |t| !t.over);
    let mut e = game(seed2, &[]);
    assert_eq!(e.execute(&bet("bj2", STAKE, GameParams::Blackjack), T0), Err(Reject::GameInProgress));
    assert_eq!(e.execute(&rotate(ServerSeed([3; 32])), T0), Err(Reject::GameInProgress));
    // The same bet id and content: the first answer.
    let replay = must(&mut e, &bet("bj", STAKE, GameParams::Blackjack), T0);
    assert!(matches!(replay, Reply::Instant(InstantReply::Bet { replayed: true, .. })));
}

/// Replays the ledger of `e`'s events against its balances.
fn book_of(events: &[croupier_domain::Event]) -> LedgerBook {
    let mut book = LedgerBook::new();
    for ev in events {
        book.apply(ev, |_| {});
    }
    book
}

#[test]
fn doubles_splits_and_insurance_hold_more_and_pay_by_the_table() {
    use Action::{Double, Split, Stand};
    // A pair of eights (no ace up): split, double the first hand, stand the second.
    let script = [Split, Double, Stand];
    let seed = find(&script, |t| t.over && t.hands.len() == 2 && t.hands[0].doubled);
    let expected = after(&seed, &script).unwrap();
    let mut e = engine(50_000_000);
    must(&mut e, &rotate(seed), T0);
    must(&mut e, &bet("bj", STAKE, GameParams::Blackjack), T0);
    for (i, a) in script.iter().enumerate() {
        must(&mut e, &act(Some(i as u8), *a), T0);
        if i < 2 {
            assert!(record(&e).is_open());
            let table = record(&e).table.as_ref().unwrap();
            assert_eq!(table.dealer.len(), 1, "only the up card is shown while the game runs");
        }
    }
    let r = record(&e);
    assert_eq!(r.stake, Money(3 * STAKE), "three stakes: the hand, the split, the double");
    let paid = expected.result();
    assert_eq!(r.state, Phase::Settled { payout: paid, at: T0, why: SettleReason::Finished });
    assert_eq!(r.table.as_deref(), Some(&expected));
    assert_eq!(available(&e), Money(1_000_000 - 3 * STAKE + paid.0));
    e.state().check_invariants().unwrap();

    // Insurance taken against an ace: half the stake held; a dealer's blackjack pays it 2:1.
    let seed = find(&[Action::Insurance { take: true }], |t| t.over && blackjack::is_blackjack(&t.dealer));
    let e = game(seed, &[Action::Insurance { take: true }]);
    let r = record(&e);
    assert_eq!(r.stake, Money(STAKE + STAKE / 2));
    let back = after(&seed, &[Action::Insurance { take: true }]).unwrap().result();
    assert!(back.0 >= 3 * STAKE / 2, "insurance pays 2:1 with its stake");
    assert_eq!(available(&e), Money(1_000_000 - STAKE - STAKE / 2 + back.0));
    e.state().check_invariants().unwrap();

    // The max win caps what a game pays, and its exposure.
    let seed = find(&[], |t| t.over && t.result() == Money(STAKE * 5 / 2));
    let mut e = engine(2_000);
    must(&mut e, &rotate(seed), T0);
    must(&mut e, &bet("bj", STAKE, GameParams::Blackjack), T0);
    assert_eq!(record(&e).payout, Money(2_000), "a blackjack paying 2,500 is capped at the max win");
    assert_eq!(available(&e), Money(1_000_000 - STAKE + 2_000));
    e.state().check_invariants().unwrap();
}

#[test]
fn the_operator_refunds_unfinished_games_and_only_those() {
    // A pair split: two stakes held, then refunded by the operator.
    let seed = find(&[Action::Split], |t| !t.over);
    let mut e = engine(50_000_000);
    must(&mut e, &rotate(seed), T0);
    let mut events = Vec::new();
    must(&mut e, &bet("bj", STAKE, GameParams::Blackjack), T0);
    events.extend_from_slice(e.events());
    must(&mut e, &act(Some(0), Action::Split), T0);
    events.extend_from_slice(e.events());
    assert_eq!(available(&e), Money(1_000_000 - 2 * STAKE));
    let first = must(&mut e, &refund("bj"), T0);
    events.extend_from_slice(e.events());
    let no = croupier_domain::instant::InstantNo(0);
    assert_eq!(first, Reply::Instant(InstantReply::Refunded { bet: no, stake: Money(2 * STAKE), replayed: false }));
    assert_eq!(available(&e), Money(1_000_000), "every stake back");
    assert_eq!(record(&e).state, Phase::Settled { payout: Money(2 * STAKE), at: T0, why: SettleReason::Refunded });
    // Idempotent: the first answer again, nothing moves.
    let digest = e.state().digest();
    assert!(matches!(must(&mut e, &refund("bj"), T0), Reply::Instant(InstantReply::Refunded { replayed: true, .. })));
    assert_eq!(e.state().digest(), digest);
    // The held stakes went back on the ledger: nothing is left held.
    let s = e.state();
    let account = s.account_of(UserId(1), s.currency_by_code(&code(CURRENCY)).unwrap()).unwrap();
    let book = book_of(&events);
    assert_eq!(book.balance(LedgerAccount::Held(account)), Money(0));
    assert_eq!(s.account(account).held, Money(0));
    // The game is over: a new one and a rotation are allowed again.
    must(&mut e, &rotate(ServerSeed([4; 32])), T0);

    // Plinko pending and mines in play are refunded too; a settled bet or an unknown one is not.
    must(&mut e, &bet("p", STAKE, GameParams::Plinko { rows: 8, risk: PlinkoRisk::High }), T0);
    must(&mut e, &bet("m", STAKE, GameParams::Mines { mines: 3 }), T0);
    must(&mut e, &bet("d", STAKE, GameParams::Dice(DiceCall { target: 5_000, over: true })), T0);
    let before = available(&e);
    must(&mut e, &refund("p"), T0);
    must(&mut e, &refund("m"), T0);
    assert_eq!(available(&e), Money(before.0 + 2 * STAKE));
    assert_eq!(e.execute(&refund("d"), T0), Err(Reject::BetSettled));
    assert_eq!(e.execute(&refund("zz"), T0), Err(Reject::BetNotFound));
    let settle = Command::Instant(InstantCommand::Settle { user: UserId(1), id: ExtId::new("p").unwrap() });
    assert!(matches!(must(&mut e, &settle, T0), Reply::Instant(InstantReply::Settled { replayed: true, .. })));
    assert_eq!(available(&e), Money(before.0 + 2 * STAKE), "a refunded plinko bet pays nothing more");
    e.state().check_invariants().unwrap();
}

/// The deal the engine records is Stake's card order: dealer up card 0, player 2 and 3.
#[test]
fn the_engine_deals_stakes_cards() {
    let seed = ServerSeed([0x42; 32]);
    let mut e = engine(50_000_000);
    must(&mut e, &rotate(seed), T0);
    must(&mut e, &bet("bj", STAKE, GameParams::Blackjack), T0);
    let mut s = shoe(&seed);
    let cards: Vec<_> = (0..4).map(|i| s.card(i)).collect();
    let t = record(&e).table.as_deref().unwrap();
    assert_eq!(t.dealer[0], cards[0]);
    assert_eq!(t.hands[0].cards[..2], cards[2..4]);
    if t.over {
        assert_eq!(t.dealer[1], cards[1], "the hole card is card 1");
    } else {
        assert_eq!(t.dealer.len(), 1, "the hole card stays hidden while the game runs");
    }
}
