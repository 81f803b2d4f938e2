//! The operators' flows, end to end through `decide` and `evolve`: seed 000 rounds, seed 004
//! bookmaker calls, seed 002 red packets, limits, idempotency and resettlement.

use croupier_domain::command::{Command, PacketKind, PartnerBetStatus, PlaceBet, SendRedPacket, MAX_PACKET_RECIPIENTS};
use croupier_domain::ids::{SelectionId, Timestamp, UserId};
use croupier_domain::state::{BetState, Outcome, PacketStatus, PlayerLimits, RoundStatus};
use croupier_domain::testkit::*;
use croupier_domain::{Engine, ExtId, Money, Reject, Reply};

const T0: Timestamp = Timestamp(1_700_000_000_000);

fn engine() -> Engine {
    let mut e = Engine::default();
    for c in setup_commands(default_limits()) {
        must(&mut e, &c, T0);
    }
    e
}

fn funded(users: &[(u64, i64)]) -> Engine {
    let mut e = engine();
    for (n, &(u, amount)) in users.iter().enumerate() {
        must(&mut e, &deposit(u, amount, n as u64), T0);
    }
    e
}

fn bet(order: &str, user: u64, round: &str, sel: SelectionId, stake: i64) -> Command {
    Command::PlaceBet(PlaceBet {
        order_no: id(order),
        user: UserId(user),
        round: id(round),
        selection: sel,
        stake: Money(stake),
        currency: code(CURRENCY),
        platform: code("ag"),
    })
}

fn start(round: &str) -> Command {
    Command::GameStart { round: id(round), game: id(GAME), window_ms: None }
}

fn available(e: &Engine, user: u64) -> Money {
    let s = e.state();
    let cur = s.currency_by_code(&code(CURRENCY)).unwrap();
    s.account(s.account_of(UserId(user), cur).unwrap()).available
}

fn at(ms: u64) -> Timestamp {
    T0.saturating_add_ms(ms)
}

fn assert_books_balance(e: &Engine) {
    e.state().check_invariants().unwrap();
}

#[test]
fn a_seed_000_round_from_start_to_end() {
    let mut e = funded(&[(1, 10_000), (2, 10_000), (3, 10_000)]);
    let Reply::RoundOpened { bet_start, bet_stop, .. } = must(&mut e, &start("r1"), T0) else { panic!() };
    assert_eq!((bet_start, bet_stop), (T0, at(15_000)), "seed 000: a 15 s window");

    must(&mut e, &bet("o1", 1, "r1", BANKER, 333), at(1));
    must(&mut e, &bet("o2", 2, "r1", PLAYER, 1_000), at(2));
    must(&mut e, &bet("o3", 3, "r1", TIE, 500), at(3));
    assert_eq!(available(&e, 1), Money(10_000 - 333));
    assert_eq!(
        e.state().account(e.state().bet(e.state().bet_by_order(UserId(1), &id("o1")).unwrap()).account).held,
        Money(333)
    );

    for (cmd, status) in [
        (Command::GameStop { round: id("r1") }, RoundStatus::Stopped),
        (Command::NewCard { round: id("r1") }, RoundStatus::Dealing),
    ] {
        must(&mut e, &cmd, at(16_000));
        assert_eq!(e.state().round(e.state().round_by_id(&id("r1")).unwrap()).status, status);
    }
    assert_eq!(RoundStatus::Stopped.code(), 3);
    assert_eq!(RoundStatus::Dealing.code(), 4);

    let r = must(&mut e, &Command::GameDraw { round: id("r1"), result: Some(draw(BANKER)) }, at(20_000));
    assert!(matches!(r, Reply::RoundSettled { bets: 3, replayed: false, .. }));
    // floor(3.33 × 1.95) = 6.49: the payout rounds down to the minor unit.
    assert_eq!(available(&e, 1), Money(10_000 - 333 + 649));
    assert_eq!(available(&e, 2), Money(9_000));
    assert_eq!(available(&e, 3), Money(9_500));
    for b in e.state().bets() {
        assert_eq!(b.bill_status(), 2, "seed 000: settled orders have bill_status 2");
    }
    let round = e.state().round(e.state().round_by_id(&id("r1")).unwrap());
    assert_eq!((round.status.code(), round.drawn_at), (5, Some(at(20_000))));

    must(&mut e, &Command::GameEnd { round: id("r1") }, at(21_000));
    let round = e.state().round(e.state().round_by_id(&id("r1")).unwrap());
    assert_eq!(round.status.code(), 6);
    assert_books_balance(&e);
}

#[test]
fn bets_outside_the_window_or_round_are_refused() {
    let mut e = funded(&[(1, 100_000)]);
    must(&mut e, &start("r1"), T0);
    assert_eq!(e.execute(&bet("late", 1, "r1", BANKER, 100), at(15_000)), Err(Reject::RoundClosed));
    assert_eq!(e.execute(&bet("early", 1, "r1", BANKER, 100), Timestamp(T0.0 - 1)), Err(Reject::RoundClosed));
    assert_eq!(e.execute(&bet("x", 1, "nope", BANKER, 100), at(1)), Err(Reject::RoundNotFound));
    assert_eq!(e.execute(&bet("x", 1, "r1", SelectionId(9), 100), at(1)), Err(Reject::UnknownSelection));
    must(&mut e, &Command::GameStop { round: id("r1") }, at(5));
    assert_eq!(e.execute(&bet("stopped", 1, "r1", BANKER, 100), at(6)), Err(Reject::RoundClosed));
    assert_eq!(e.execute(&bet("nobody", 99, "r1", BANKER, 100), at(6)).unwrap_err().code(), "ROUND_CLOSED");
    assert!(e.state().bets().is_empty());
}

#[test]
fn invalid_round_transitions_are_refused_with_their_statuses() {
    let mut e = funded(&[(1, 100_000)]);
    must(&mut e, &start("r1"), T0);
    let end = e.execute(&Command::GameEnd { round: id("r1") }, at(1));
    assert_eq!(end, Err(Reject::InvalidRoundTransition { from: RoundStatus::Betting, to: RoundStatus::Ended }));
    let card = e.execute(&Command::NewCard { round: id("r1") }, at(1));
    assert_eq!(card.unwrap_err().code(), "INVALID_ROUND_TRANSITION");
    must(&mut e, &Command::GameStop { round: id("r1") }, at(2));
    // Timer and operator may both stop: the second is a replay, not an error.
    let again = must(&mut e, &Command::GameStop { round: id("r1") }, at(3));
    assert!(matches!(again, Reply::RoundStatus { replayed: true, .. }));
    must(&mut e, &Command::GameDraw { round: id("r1"), result: None }, at(4));
    // Drawn but not settled yet: the round cannot end and strand its holds.
    assert!(e.execute(&Command::GameEnd { round: id("r1") }, at(5)).is_err());
    let bad = e.execute(&Command::GameDraw { round: id("r1"), result: Some(draw_of(2)) }, at(6));
    assert_eq!(bad.unwrap_err().code(), "INVALID_DRAW_RESULT");
    must(&mut e, &Command::GameDraw { round: id("r1"), result: Some(draw(PLAYER)) }, at(7));
    must(&mut e, &Command::GameEnd { round: id("r1") }, at(8));
    // A second game_start with the same id and game is a replay; another game is a conflict.
    assert!(matches!(must(&mut e, &start("r1"), at(9)), Reply::RoundOpened { replayed: true, .. }));
}

fn draw_of(n: usize) -> croupier_domain::command::DrawResult {
    croupier_domain::command::DrawResult { outcomes: vec![Outcome::Lost; n] }
}

#[test]
fn repeated_orders_replay_and_reused_order_numbers_conflict() {
    let mut e = funded(&[(1, 100_000), (2, 100_000)]);
    must(&mut e, &start("r1"), T0);
    let first = must(&mut e, &bet("o1", 1, "r1", BANKER, 500), at(1));
    let again = must(&mut e, &bet("o1", 1, "r1", BANKER, 500), at(20_000));
    assert!(e.events().is_empty(), "a replay moves nothing");
    match (first, again) {
        (Reply::Bet { bet: a, replayed: false, .. }, Reply::Bet { bet: b, replayed: true, .. }) => assert_eq!(a, b),
        other => panic!("{other:?}"),
    }
    assert_eq!(available(&e, 1), Money(99_500));
    assert_eq!(e.execute(&bet("o1", 1, "r1", BANKER, 600), at(2)), Err(Reject::IdempotencyConflict));
    // Order numbers are per player (on every shard count): another player's "o1" is their own bet.
    assert!(matches!(e.execute(&bet("o1", 2, "r1", BANKER, 500), at(2)), Ok(Reply::Bet { replayed: false, .. })));
    assert_eq!(available(&e, 2), Money(99_500));
    assert_eq!(e.execute(&bet("o1", 2, "r1", PLAYER, 500), at(3)), Err(Reject::IdempotencyConflict));
}

#[test]
fn stake_limits_round_limits_and_liability_are_enforced() {
    let mut limits = default_limits();
    limits.max_stake_per_user_round = Money(1_500);
    limits.max_liability_per_selection = Money(1_000); // banker pays 0.95 per unit staked
    let mut e = Engine::default();
    for c in setup_commands(limits) {
        must(&mut e, &c, T0);
    }
    must(&mut e, &deposit(1, 1_000_000, 1), T0);
    must(&mut e, &deposit(2, 1_000_000, 2), T0);
    must(&mut e, &start("r1"), T0);
    assert_eq!(e.execute(&bet("a", 1, "r1", BANKER, 99), at(1)), Err(Reject::StakeTooLow { min: Money(100) }));
    assert_eq!(e.execute(&bet("a", 1, "r1", BANKER, 2_000_000), at(1)).unwrap_err().code(), "STAKE_TOO_HIGH");
    must(&mut e, &bet("a", 1, "r1", PLAYER, 1_000), at(1));
    assert_eq!(
        e.execute(&bet("b", 1, "r1", PLAYER, 600), at(1)),
        Err(Reject::RoundStakeLimit { remaining: Money(500) })
    );
    must(&mut e, &bet("c", 2, "r1", BANKER, 1_000), at(1)); // liability 950
    assert_eq!(e.execute(&bet("d", 1, "r1", BANKER, 100), at(1)), Err(Reject::LiabilityLimit));
    let mut wrong = bet("e", 1, "r1", BANKER, 100);
    if let Command::PlaceBet(b) = &mut wrong {
        b.currency = code("USD");
    }
    assert_eq!(e.execute(&wrong, at(1)), Err(Reject::UnknownCurrency));
    assert_eq!(e.execute(&bet("f", 3, "r1", PLAYER, 100), at(1)), Err(Reject::AccountNotFound));
    assert_eq!(e.execute(&bet("g", 1, "r1", PLAYER, 0), at(1)), Err(Reject::InvalidAmount));
}

#[test]
fn insufficient_funds_are_refused_and_nothing_moves() {
    let mut e = funded(&[(1, 500)]);
    must(&mut e, &start("r1"), T0);
    assert_eq!(
        e.execute(&bet("o", 1, "r1", BANKER, 600), at(1)),
        Err(Reject::InsufficientFunds { available: Money(500) })
    );
    assert_eq!(available(&e, 1), Money(500));
}

#[test]
fn deposits_and_withdrawals_are_idempotent_by_transfer_id() {
    let mut e = funded(&[(1, 1_000)]);
    let again = must(&mut e, &deposit(1, 1_000, 0), T0);
    assert!(matches!(again, Reply::Transfer { replayed: true, .. }));
    assert_eq!(available(&e, 1), Money(1_000));
    assert_eq!(e.execute(&deposit(1, 2_000, 0), T0), Err(Reject::IdempotencyConflict));
    let w = |amount| Command::Withdraw {
        transfer: id("w1"),
        user: UserId(1),
        currency: code(CURRENCY),
        amount: Money(amount),
    };
    assert_eq!(e.execute(&w(5_000), T0), Err(Reject::InsufficientFunds { available: Money(1_000) }));
    must(&mut e, &w(400), T0);
    assert!(matches!(must(&mut e, &w(400), T0), Reply::Transfer { replayed: true, .. }));
    assert_eq!(available(&e, 1), Money(600));
    assert_eq!(e.state().currencies()[0].external, Money(-600));
    assert_eq!(e.execute(&deposit(1, -5, 9), T0), Err(Reject::InvalidAmount));
    assert_books_balance(&e);
}

#[test]
fn a_corrected_draw_resettles_and_may_put_a_player_in_debt() {
    let mut e = funded(&[(1, 10_000)]);
    must(&mut e, &start("r1"), T0);
    must(&mut e, &bet("o1", 1, "r1", PLAYER, 10_000), at(1));
    must(&mut e, &Command::GameStop { round: id("r1") }, at(2));
    must(&mut e, &Command::GameDraw { round: id("r1"), result: Some(draw(PLAYER)) }, at(3));
    assert_eq!(available(&e, 1), Money(20_000));
    must(
        &mut e,
        &Command::Withdraw { transfer: id("w"), user: UserId(1), currency: code(CURRENCY), amount: Money(15_000) },
        at(4),
    );
    // The dealer misread the cards: banker won. The player already spent the winnings.
    let r = must(&mut e, &Command::ResettleRound { round: id("r1"), result: draw(BANKER) }, at(5));
    assert!(matches!(r, Reply::RoundSettled { bets: 1, replayed: false, .. }));
    assert_eq!(available(&e, 1), Money(-15_000));
    let acct = e.state().account_of(UserId(1), croupier_domain::ids::CurrencyId(0)).unwrap();
    assert!(e.state().account(acct).in_debt);
    assert_books_balance(&e);
    must(&mut e, &start("r2"), at(6));
    assert_eq!(e.execute(&bet("o2", 1, "r2", PLAYER, 100), at(7)), Err(Reject::AccountInDebt));
    // Same correction again: a replay.
    let again = must(&mut e, &Command::ResettleRound { round: id("r1"), result: draw(BANKER) }, at(8));
    assert!(matches!(again, Reply::RoundSettled { replayed: true, .. }));
    must(&mut e, &deposit(1, 15_100, 77), at(9));
    assert!(!e.state().account(acct).in_debt);
    must(&mut e, &bet("o2", 1, "r2", PLAYER, 100), at(10));
    assert_books_balance(&e);
}

#[test]
fn cancelling_a_round_refunds_open_bets_and_reverses_settled_ones() {
    let mut e = funded(&[(1, 10_000), (2, 10_000)]);
    must(&mut e, &start("r1"), T0);
    must(&mut e, &bet("o1", 1, "r1", BANKER, 1_000), at(1));
    must(&mut e, &bet("o2", 2, "r1", PLAYER, 1_000), at(1));
    must(&mut e, &Command::CancelRound { round: id("r1") }, at(2));
    assert_eq!((available(&e, 1), available(&e, 2)), (Money(10_000), Money(10_000)));
    for b in e.state().bets() {
        assert_eq!(b.state, BetState::Settled { outcome: Outcome::Void, payout: b.stake });
    }
    must(&mut e, &start("r2"), at(3));
    must(&mut e, &bet("o3", 1, "r2", BANKER, 1_000), at(4));
    must(&mut e, &Command::GameStop { round: id("r2") }, at(5));
    must(&mut e, &Command::GameDraw { round: id("r2"), result: Some(draw(BANKER)) }, at(6));
    assert_eq!(available(&e, 1), Money(10_950));
    must(&mut e, &Command::CancelRound { round: id("r2") }, at(7));
    assert_eq!(available(&e, 1), Money(10_000));
    assert!(matches!(
        must(&mut e, &Command::CancelRound { round: id("r2") }, at(8)),
        Reply::RoundSettled { replayed: true, .. }
    ));
    assert_books_balance(&e);
}

fn block(bet: &str, user: u64, amount: i64) -> Command {
    Command::BlockFunds {
        bet: id(bet),
        partner: code("12345"),
        user: UserId(user),
        currency: code(CURRENCY),
        amount: Money(amount),
    }
}

#[test]
fn the_bookmaker_flows_of_seed_004() {
    let mut e = funded(&[(67890, 1_000)]);
    let check = Command::CheckBet { user: UserId(67890), currency: code(CURRENCY), amount: Money(100) };
    assert_eq!(must(&mut e, &check, T0), Reply::BetApproved);
    assert!(e.events().is_empty(), "check_bet moves nothing");
    let too_much = Command::CheckBet { user: UserId(67890), currency: code(CURRENCY), amount: Money(5_000) };
    assert_eq!(e.execute(&too_much, T0).unwrap_err().code(), "INSUFFICIENT_FUNDS");

    must(&mut e, &block("abcde12345", 67890, 100), T0);
    assert!(matches!(must(&mut e, &block("abcde12345", 67890, 100), T0), Reply::Bet { replayed: true, .. }));
    assert_eq!(e.execute(&block("abcde12345", 67890, 200), T0), Err(Reject::IdempotencyConflict));
    assert_eq!(available(&e, 67890), Money(900));

    let win = Command::UpdateBetStatus {
        bet: id("abcde12345"),
        user: UserId(67890),
        status: PartnerBetStatus::Won { payout: Money(200) },
    };
    must(&mut e, &win, T0);
    assert_eq!(available(&e, 67890), Money(1_100));
    assert!(matches!(must(&mut e, &win, T0), Reply::Bet { replayed: true, .. }));
    let lost = Command::UpdateBetStatus { bet: id("abcde12345"), user: UserId(67890), status: PartnerBetStatus::Lost };
    assert_eq!(e.execute(&lost, T0), Err(Reject::BetSettled));
    assert_eq!(e.execute(&Command::Refund { bet: id("abcde12345"), user: UserId(67890) }, T0), Err(Reject::BetSettled));

    // Recalculate: the round's result changed; idempotent by transaction id.
    let recalc = Command::RecalculateBet {
        bet: id("abcde12345"),
        user: UserId(67890),
        transaction: id("tx-1"),
        status: PartnerBetStatus::Lost,
    };
    must(&mut e, &recalc, T0);
    assert_eq!(available(&e, 67890), Money(900));
    assert!(matches!(must(&mut e, &recalc, T0), Reply::Bet { replayed: true, .. }));
    assert_eq!(available(&e, 67890), Money(900));

    // Refund of a held bet releases it; a second refund or void returns the first outcome.
    must(&mut e, &block("b2", 67890, 300), T0);
    must(&mut e, &Command::Refund { bet: id("b2"), user: UserId(67890) }, T0);
    assert_eq!(available(&e, 67890), Money(900));
    assert!(matches!(
        must(&mut e, &Command::Refund { bet: id("b2"), user: UserId(67890) }, T0),
        Reply::Bet { replayed: true, .. }
    ));
    let void = Command::UpdateBetStatus { bet: id("b2"), user: UserId(67890), status: PartnerBetStatus::Void };
    assert!(matches!(must(&mut e, &void, T0), Reply::Bet { replayed: true, .. }));

    // A refund for a bet never seen is answered OK and remembered: the late bet is refused.
    assert_eq!(must(&mut e, &Command::Refund { bet: id("late"), user: UserId(67890) }, T0), Reply::Done);
    assert_eq!(must(&mut e, &Command::Refund { bet: id("late"), user: UserId(67890) }, T0), Reply::Done);
    assert_eq!(e.execute(&block("late", 67890, 100), T0), Err(Reject::BetRefunded));
    assert_eq!(available(&e, 67890), Money(900));
    let unknown = Command::UpdateBetStatus { bet: id("nope"), user: UserId(67890), status: PartnerBetStatus::Lost };
    assert_eq!(e.execute(&unknown, T0), Err(Reject::BetNotFound));
    // Another player's bet is not found: a partner names the player in every call.
    let someone_else =
        Command::UpdateBetStatus { bet: id("abcde12345"), user: UserId(1), status: PartnerBetStatus::Lost };
    assert_eq!(e.execute(&someone_else, T0), Err(Reject::BetNotFound));
    // Bet ids are per player: for player 1 this id is unknown, so the refund is remembered for
    // player 1 only, and player 67890's bet is untouched.
    assert_eq!(e.execute(&Command::Refund { bet: id("abcde12345"), user: UserId(1) }, T0), Ok(Reply::Done));
    assert_eq!(e.execute(&block("abcde12345", 1, 100), T0), Err(Reject::BetRefunded));
    assert_books_balance(&e);
}

#[test]
fn responsible_gaming_limits_refuse_with_their_own_codes() {
    let mut e = funded(&[(1, 1_000_000)]);
    let limits = PlayerLimits { daily_stake: Some(Money(1_000)), daily_loss: Some(Money(600)) };
    must(&mut e, &Command::SetPlayerLimits { user: UserId(1), currency: code(CURRENCY), limits }, T0);
    must(&mut e, &start("r1"), T0);
    must(&mut e, &bet("a", 1, "r1", PLAYER, 500), at(1));
    // Open bets count as lost: 500 + 200 > 600.
    assert_eq!(
        e.execute(&bet("b", 1, "r1", PLAYER, 200), at(2)),
        Err(Reject::DailyLossLimit { remaining: Money(100) })
    );
    must(&mut e, &Command::GameStop { round: id("r1") }, at(3));
    must(&mut e, &Command::GameDraw { round: id("r1"), result: Some(draw(PLAYER)) }, at(4));
    must(&mut e, &Command::GameEnd { round: id("r1") }, at(5));
    // Won 1000 back: net loss is now -500, but the daily stake limit has 500 left.
    must(&mut e, &start("r2"), at(6));
    assert_eq!(
        e.execute(&bet("c", 1, "r2", PLAYER, 600), at(7)),
        Err(Reject::DailyStakeLimit { remaining: Money(500) })
    );
    must(&mut e, &bet("c", 1, "r2", PLAYER, 500), at(7));
    // Next UTC day: counters start again.
    let tomorrow = Timestamp((T0.day() as u64 + 1) * Timestamp::MS_PER_DAY);
    must(&mut e, &Command::GameStart { round: id("r3"), game: id(GAME), window_ms: None }, tomorrow);
    must(&mut e, &bet("d", 1, "r3", PLAYER, 600), tomorrow);

    let until = tomorrow.saturating_add_ms(3_600_000);
    must(&mut e, &Command::SelfExclude { user: UserId(1), until }, tomorrow);
    assert_eq!(e.execute(&bet("e", 1, "r3", PLAYER, 100), tomorrow), Err(Reject::SelfExcluded { until }));
    let check = Command::CheckBet { user: UserId(1), currency: code(CURRENCY), amount: Money(100) };
    assert_eq!(e.execute(&check, tomorrow).unwrap_err().code(), "SELF_EXCLUDED");
}

fn send(packet: &str, sender: u64, total: i64, shares: u32, kind: PacketKind) -> Command {
    Command::SendRedPacket(SendRedPacket {
        packet: id(packet),
        sender: UserId(sender),
        currency: code(CURRENCY),
        total: Money(total),
        shares,
        kind,
        ttl_ms: None,
        recipients: Vec::new(),
    })
}

fn send_to(packet: &str, total: i64, shares: u32, recipients: &[u64]) -> Command {
    let Command::SendRedPacket(mut p) = send(packet, 1, total, shares, PacketKind::Normal) else { unreachable!() };
    p.recipients = recipients.iter().map(|u| UserId(*u)).collect();
    Command::SendRedPacket(p)
}

#[test]
fn a_packet_for_chosen_recipients_refuses_everyone_else() {
    let mut e = funded(&[(1, 10_000)]);
    // Order and repeats do not matter: the packet keeps the list sorted, each user once.
    must(&mut e, &send_to("p", 300, 2, &[30, 10, 20, 10]), T0);
    let p = &e.state().packets()[0];
    assert_eq!(p.recipients, vec![UserId(10), UserId(20), UserId(30)]);
    assert_eq!(e.execute(&grab("p", 11), at(1)), Err(Reject::NotARecipient));
    assert_eq!(e.execute(&grab("p", 11), at(1)).unwrap_err().code(), "NOT_A_RECIPIENT");
    assert_eq!(e.execute(&grab("p", 1), at(1)), Err(Reject::NotARecipient), "nor the sender, unless named");
    must(&mut e, &grab("p", 20), at(1));
    let waiting: Vec<_> = e.state().packets()[0].waiting_recipients().collect();
    assert_eq!(waiting, vec![UserId(10), UserId(30)]);
    must(&mut e, &grab("p", 30), at(2));
    assert_eq!(e.execute(&grab("p", 10), at(3)), Err(Reject::PacketEmpty), "a recipient comes too late");
    assert_eq!(e.execute(&grab("p", 11), at(3)), Err(Reject::NotARecipient), "an outsider is told why");
    assert!(matches!(must(&mut e, &grab("p", 20), at(4)), Reply::Grabbed { replayed: true, .. }));
    // A repeat of the send with the same recipients in another order is the same packet.
    assert!(matches!(must(&mut e, &send_to("p", 300, 2, &[10, 20, 30]), T0), Reply::PacketSent { replayed: true, .. }));
    assert_eq!(e.execute(&send_to("p", 300, 2, &[10, 20]), T0), Err(Reject::IdempotencyConflict));
    assert_eq!(e.execute(&send("p", 1, 300, 2, PacketKind::Normal), T0), Err(Reject::IdempotencyConflict));
    assert_books_balance(&e);
}

#[test]
fn a_packet_for_one_user_and_the_bounds_of_the_list() {
    let mut e = funded(&[(1, 10_000)]);
    must(&mut e, &send_to("one", 500, 1, &[7]), T0);
    assert_eq!(e.execute(&grab("one", 8), at(1)), Err(Reject::NotARecipient));
    assert!(matches!(must(&mut e, &grab("one", 7), at(1)), Reply::Grabbed { amount: Money(500), .. }));
    let max = MAX_PACKET_RECIPIENTS as u32;
    let too_many: Vec<u64> = (0..=MAX_PACKET_RECIPIENTS as u64).collect();
    assert_eq!(e.execute(&send_to("big", 5_000, 1, &too_many), T0), Err(Reject::PacketRecipients { max }));
    assert_eq!(
        e.execute(&send_to("few", 500, 3, &[7, 8, 7]), T0),
        Err(Reject::PacketRecipients { max }),
        "more shares than distinct recipients could never be grabbed whole"
    );
    let most: Vec<u64> = (100..100 + MAX_PACKET_RECIPIENTS as u64).collect();
    must(&mut e, &send_to("most", 5_000, 1_000, &most), T0);
    assert_eq!(available(&e, 1), Money(10_000 - 500 - 5_000), "a refused send moves nothing");
    // Nobody grabs: the whole pool goes back to the sender at expiry, as for any packet.
    let day = 24 * 3_600_000;
    must(&mut e, &Command::ExpireRedPacket { packet: id("most"), sender: UserId(1) }, at(day));
    assert_eq!(available(&e, 1), Money(10_000 - 500));
    assert_books_balance(&e);
}

fn grab(packet: &str, user: u64) -> Command {
    // Every packet in these tests is sent by user 1, whom its link names.
    Command::GrabRedPacket { packet: id(packet), sender: UserId(1), user: UserId(user) }
}

#[test]
fn a_normal_packet_splits_equally_with_the_remainder_first() {
    let mut e = funded(&[(1, 10_000)]);
    must(&mut e, &send("p", 1, 1_003, 4, PacketKind::Normal), T0);
    assert_eq!(available(&e, 1), Money(8_997), "the sender is debited at once");
    let amounts: Vec<i64> = (10..14)
        .map(|u| match must(&mut e, &grab("p", u), at(1)) {
            Reply::Grabbed { amount, .. } => amount.0,
            r => panic!("{r:?}"),
        })
        .collect();
    assert_eq!(amounts, vec![251, 251, 251, 250]);
    assert_eq!(e.execute(&grab("p", 20), at(2)), Err(Reject::PacketEmpty));
    // A grabber's repeat gets the same share and moves nothing.
    assert!(matches!(must(&mut e, &grab("p", 10), at(3)), Reply::Grabbed { amount: Money(251), replayed: true, .. }));
    assert_eq!(e.state().packets()[0].status, PacketStatus::Exhausted);
    assert_books_balance(&e);
}

#[test]
fn a_lucky_packet_gives_every_grabber_at_least_a_minor_unit_and_sums_exactly() {
    let mut e = funded(&[(1, 1_000_000)]);
    must(&mut e, &send("p", 1, 10_000, 1_000, PacketKind::Lucky { seed: 42 }), T0);
    let mut sum = 0;
    for u in 0..1_000 {
        let Reply::Grabbed { amount, .. } = must(&mut e, &grab("p", 100 + u), at(1)) else { panic!() };
        assert!(amount.0 >= 1);
        sum += amount.0;
    }
    assert_eq!(sum, 10_000);
    assert_books_balance(&e);
}

#[test]
fn an_expired_packet_refunds_the_rest_and_refuses_grabs() {
    let mut e = funded(&[(1, 10_000)]);
    must(&mut e, &send("p", 1, 1_000, 10, PacketKind::Lucky { seed: 7 }), T0);
    must(&mut e, &grab("p", 2), at(1));
    let got = 1_000 - e.state().packets()[0].remaining.0;
    let expire = Command::ExpireRedPacket { packet: id("p"), sender: UserId(1) };
    let wrong_sender = Command::ExpireRedPacket { packet: id("p"), sender: UserId(2) };
    assert_eq!(e.execute(&wrong_sender, at(1_000)), Err(Reject::PacketNotFound));
    assert_eq!(e.execute(&expire, at(1_000)), Err(Reject::PacketNotExpired));
    let day = 24 * 3_600_000;
    assert_eq!(e.execute(&grab("p", 3), at(day)), Err(Reject::PacketExpired));
    must(&mut e, &expire, at(day));
    assert_eq!(available(&e, 1), Money(10_000 - got));
    assert!(matches!(must(&mut e, &expire, at(day + 1)), Reply::PacketExpired { replayed: true, .. }));
    assert_eq!(e.execute(&grab("p", 3), at(day + 2)), Err(Reject::PacketExpired));
    assert_books_balance(&e);
}

#[test]
fn packets_check_their_size_and_the_senders_funds() {
    let mut e = funded(&[(1, 1_000)]);
    assert_eq!(e.execute(&send("p", 1, 5, 10, PacketKind::Normal), T0), Err(Reject::PacketTooSmall));
    assert_eq!(e.execute(&send("p", 1, 500, 0, PacketKind::Normal), T0).unwrap_err().code(), "PACKET_COUNT");
    assert_eq!(e.execute(&send("p", 1, 5_000, 10, PacketKind::Normal), T0).unwrap_err().code(), "INSUFFICIENT_FUNDS");
    assert_eq!(e.execute(&grab("none", 2), T0), Err(Reject::PacketNotFound));
    must(&mut e, &send("p", 1, 500, 10, PacketKind::Normal), T0);
    assert!(matches!(
        must(&mut e, &send("p", 1, 500, 10, PacketKind::Normal), T0),
        Reply::PacketSent { replayed: true, .. }
    ));
    assert_eq!(e.execute(&send("p", 1, 600, 10, PacketKind::Normal), T0), Err(Reject::IdempotencyConflict));
}

#[test]
fn ids_are_checked_at_the_edge() {
    assert!(ExtId::new(&"x".repeat(40)).is_err());
}
