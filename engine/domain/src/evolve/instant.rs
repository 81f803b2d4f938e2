//! Applies the instant games' events (see `decide/instant.rs`). Open bets (plinko waiting
//! for its animation, mines in play) hold their stake and count their most possible return
//! as exposure, exactly like round bets, so the invariants and bounds cover them too.

use super::{count_returned, count_staked, credit};
use crate::ids::{AccountNo, Timestamp};
use crate::instant::blackjack::{Action, Table};
use crate::instant::cards::Card;
use crate::instant::{
    GameParams, InstantBetRecord, InstantEvent, InstantNo, InstantOutcome, Phase, Placed, Player, SeedPair,
    SettleReason,
};
use crate::money::Money;
use crate::state::State;

pub(super) fn apply(state: &mut State, event: &InstantEvent) {
    match event {
        InstantEvent::Configured(c) => state.instant.config = Some((**c).clone()),
        InstantEvent::SeedCommitted { user, server_seed, client_seed } => {
            let pair = SeedPair { server_seed: *server_seed, client_seed: *client_seed };
            let player = state.instant.players.entry(*user).or_insert(Player {
                pairs: Vec::new(),
                nonce: 0,
                open_mines: None,
                open_blackjack: None,
            });
            assert!(
                player.open_mines.is_none() && player.open_blackjack.is_none(),
                "decide refuses a rotation during a mines or blackjack game"
            );
            player.pairs.push(pair);
            player.nonce = 0;
        }
        InstantEvent::Placed(p) => placed(state, p),
        InstantEvent::Revealed { bet, tile, at } => {
            let b = &mut state.instant.bets[bet.index()];
            assert!(b.is_open() && b.revealed & 1 << tile == 0, "decide reveals a hidden tile of an open game");
            b.revealed |= 1 << tile;
            b.last_action = *at;
        }
        InstantEvent::Settled { bet, account, stake, payout, at, why } => {
            settled(state, *bet, *account, *stake, *payout, *at, *why)
        }
        InstantEvent::Acted { bet, account, action, drawn, extra, exposure, at } => {
            acted(state, *bet, *account, *action, drawn, *extra, *exposure, *at)
        }
        InstantEvent::DealerRevealed { bet, cards } => {
            let table = state.instant.bets[bet.index()].table.as_deref_mut();
            let table = table.expect("decide reveals the dealer of a blackjack game");
            assert!(!table.over, "a game ends once");
            table.finish(cards.clone());
        }
        InstantEvent::Refunded { bet, account, stake, at } => refunded(state, *bet, *account, *stake, *at),
    }
}

/// A blackjack action: the table plays it with the cards it drew; more stake is held and the
/// exposure follows the table.
#[allow(clippy::too_many_arguments)]
fn acted(
    state: &mut State,
    bet: InstantNo,
    account: AccountNo,
    action: Action,
    drawn: &[Option<Card>; 2],
    extra: Money,
    exposure: Money,
    at: Timestamp,
) {
    let b = &mut state.instant.bets[bet.index()];
    assert!(b.is_open() && b.account == account, "decide plays an open game");
    let cards: Vec<Card> = drawn.iter().flatten().copied().collect();
    let table = b.table.as_deref_mut().expect("decide plays blackjack actions on blackjack games");
    table.apply(action, &cards);
    let old = b.payout;
    b.payout = exposure;
    b.stake += extra;
    b.last_action = at;
    let a = &mut state.accounts[account.index()];
    if extra.is_positive() {
        count_staked(a, extra, at);
    }
    a.available -= extra;
    a.held += extra;
    a.exposure += Money(exposure.0 - old.0);
    let c = &mut state.currencies[a.currency.index()];
    c.exposure += Money(exposure.0 - old.0);
    c.stakes += extra;
}

/// The operator's refund: the held stake back to the player, the bet closed.
fn refunded(state: &mut State, bet: InstantNo, account: AccountNo, stake: Money, at: Timestamp) {
    let b = &mut state.instant.bets[bet.index()];
    assert!(b.is_open() && b.account == account && b.stake == stake, "decide refunds an open bet as it stands");
    let exposure = b.payout;
    b.payout = stake;
    b.state = Phase::Settled { payout: stake, at, why: SettleReason::Refunded };
    let game = b.game;
    state.instant.idx.open.remove(&bet);
    let a = &mut state.accounts[account.index()];
    a.held -= stake;
    a.exposure -= exposure;
    let user = a.user;
    let cur = credit(state, account, stake);
    let c = &mut state.currencies[cur.index()];
    c.exposure -= exposure;
    c.stakes -= stake;
    count_returned(state, account, stake, at);
    close_game(state, user, game);
}

/// The player's open mines or blackjack game is over.
fn close_game(state: &mut State, user: crate::ids::UserId, game: GameParams) {
    if let Some(p) = state.instant.players.get_mut(&user) {
        match game {
            GameParams::Mines { .. } => p.open_mines = None,
            GameParams::Blackjack => p.open_blackjack = None,
            // Settled by their bet alone: the player holds no open game of these.
            GameParams::Dice(_) | GameParams::Keno { .. } | GameParams::Plinko { .. } => {}
        }
    }
}

fn placed(state: &mut State, p: &Placed) {
    assert_eq!(p.bet.index(), state.instant.bets.len(), "instant bet numbers are dense");
    let user = state.accounts[p.account.index()].user;
    let player = state.instant.players.get_mut(&user).expect("decide bets only with a seed pair");
    assert_eq!(player.nonce, p.nonce, "a bet uses the player's next nonce");
    player.nonce += 1;
    let seed_no = player.pairs.len() as u32 - 1;
    if matches!(p.game, GameParams::Mines { .. }) {
        player.open_mines = Some(p.bet);
    }
    if p.game == GameParams::Blackjack {
        player.open_blackjack = Some(p.bet);
    }
    let a = &mut state.accounts[p.account.index()];
    count_staked(a, p.stake, p.at);
    let currency = a.currency;
    if p.settled {
        let cur = credit(state, p.account, Money(p.payout.0 - p.stake.0));
        state.currencies[cur.index()].house += Money(p.stake.0 - p.payout.0);
        count_returned(state, p.account, p.payout, p.at);
    } else {
        let a = &mut state.accounts[p.account.index()];
        debug_assert!(a.available >= p.stake, "decide checked the funds");
        a.available -= p.stake;
        a.held += p.stake;
        a.exposure += p.payout;
        let c = &mut state.currencies[currency.index()];
        c.exposure += p.payout;
        c.stakes += p.stake;
    }
    let state_now =
        if p.settled { Phase::Settled { payout: p.payout, at: p.at, why: SettleReason::AtBet } } else { Phase::Open };
    state.instant.bets.push(InstantBetRecord {
        id: p.id,
        account: p.account,
        game: p.game,
        stake: p.stake,
        seed_no,
        nonce: p.nonce,
        outcome: p.outcome,
        multiplier: p.multiplier,
        payout: p.payout,
        placed_at: p.at,
        revealed: 0,
        last_action: p.at,
        state: state_now,
        table: match p.outcome {
            InstantOutcome::Blackjack { up, player } => Some(Box::new(Table::deal(up, player, p.stake))),
            _ => None,
        },
    });
    state.instant.idx.by_id.insert((user, p.id), p.bet);
    state.instant.idx.of_user.entry(user).or_default().push(p.bet);
    if !p.settled {
        state.instant.idx.open.insert(p.bet);
    }
}

fn settled(
    state: &mut State,
    bet: InstantNo,
    account: AccountNo,
    stake: Money,
    payout: Money,
    at: Timestamp,
    why: SettleReason,
) {
    let b = &mut state.instant.bets[bet.index()];
    assert!(b.is_open() && b.account == account && b.stake == stake, "decide settles an open bet as it was placed");
    assert!(payout <= b.payout, "a bet never pays more than its exposure");
    let exposure = b.payout;
    b.payout = payout;
    b.state = Phase::Settled { payout, at, why };
    let game = b.game;
    state.instant.idx.open.remove(&bet);
    let a = &mut state.accounts[account.index()];
    a.held -= stake;
    a.exposure -= exposure;
    let user = a.user;
    let cur = credit(state, account, payout);
    let c = &mut state.currencies[cur.index()];
    c.exposure -= exposure;
    c.stakes -= stake;
    c.house += Money(stake.0 - payout.0);
    count_returned(state, account, payout, at);
    close_game(state, user, game);
}
