//! Applies the instant games' events (see `decide/instant.rs`). Open bets (plinko waiting
//! for its animation, mines in play) hold their stake and count their most possible return
//! as exposure, exactly like round bets, so the invariants and bounds cover them too.

use super::{count_returned, count_staked, credit};
use crate::ids::{AccountNo, Timestamp};
use crate::instant::{
    GameParams, InstantBetRecord, InstantEvent, InstantNo, Phase, Placed, Player, SeedPair, SettleReason,
};
use crate::money::Money;
use crate::state::State;

pub(super) fn apply(state: &mut State, event: &InstantEvent) {
    match event {
        InstantEvent::Configured(c) => state.instant.config = Some((**c).clone()),
        InstantEvent::SeedCommitted { user, server_seed, client_seed } => {
            let pair = SeedPair { server_seed: *server_seed, client_seed: *client_seed };
            let player =
                state.instant.players.entry(*user).or_insert(Player { pairs: Vec::new(), nonce: 0, open_mines: None });
            assert!(player.open_mines.is_none(), "decide refuses a rotation during a mines game");
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
    let is_mines = matches!(b.game, GameParams::Mines { .. });
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
    if is_mines {
        if let Some(p) = state.instant.players.get_mut(&user) {
            p.open_mines = None;
        }
    }
}
