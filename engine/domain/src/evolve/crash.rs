//! Applies the crash game's events. Money moves like round bets (`evolve::bets`): the stake is
//! held, the most the bet can return is exposure until it is settled.

use super::{count_returned, count_staked, credit};
use crate::crash::event::CrashBetPlaced;
use crate::crash::{Channel, CrashBet, CrashBetNo, CrashBetState, CrashEvent, Term, TermStatus, TermTotals};
use crate::ids::AccountNo;
use crate::money::Money;
use crate::state::State;
use croupier_collections::Chunked;

pub(super) fn evolve(state: &mut State, e: &CrashEvent) {
    match e {
        CrashEvent::ChannelCreated { channel, def } => {
            let c = &mut state.crash;
            assert_eq!(channel.index(), c.channels.len(), "channel numbers are dense");
            c.idx.channel_by_id.insert(def.channel, *channel);
            c.channels.push(Channel {
                id: def.channel,
                config: def.config.clone(),
                terminating_hash: def.terminating_hash,
                salt: def.salt,
                length: def.length,
                revealed: 0,
                last_hash: def.terminating_hash,
                paused: false,
                current: None,
                terms: 0,
            });
        }
        CrashEvent::ChannelPaused { channel, paused } => state.crash.channels[channel.index()].paused = *paused,
        CrashEvent::TermOpened { term, channel, number, at, starting_at } => {
            let c = &mut state.crash;
            assert_eq!(term.index(), c.terms.len(), "term numbers are dense");
            let ch = &mut c.channels[channel.index()];
            assert_eq!(*number, ch.terms + 1, "a channel's terms are numbered in order");
            ch.terms = *number;
            ch.current = Some(*term);
            let slots = ch.config.limits.len();
            c.terms.push(Term {
                channel: *channel,
                number: *number,
                status: TermStatus::PreStart,
                opened_at: *at,
                starting_at: *starting_at,
                flight: None,
                ended_at: None,
                bets: Chunked::new(),
                totals: vec![TermTotals::default(); slots],
            });
        }
        CrashEvent::TermStarting { term, at } => {
            let t = &mut state.crash.terms[term.index()];
            t.status = TermStatus::Starting;
            t.starting_at = *at;
        }
        CrashEvent::TermFlying { term, flight } => {
            let t = &mut state.crash.terms[term.index()];
            t.status = TermStatus::Flying;
            let ch = &mut state.crash.channels[t.channel.index()];
            assert_eq!(flight.game, ch.revealed + 1, "games are revealed in order");
            ch.revealed = flight.game;
            ch.last_hash = flight.hash;
            t.flight = Some((**flight).clone());
        }
        CrashEvent::BetPlaced(b) => placed(state, b),
        CrashEvent::BetReturned { bet, account, stake, cancelled, at } => {
            let b = release(state, *bet, *account, *stake);
            b.state = if *cancelled { CrashBetState::Cancelled } else { CrashBetState::Refunded };
            let (term, slot) = (b.term, b.slot);
            let tot = &mut state.crash.terms[term.index()].totals[slot as usize];
            tot.bets -= 1;
            tot.stakes -= *stake;
            credit(state, *account, *stake);
            count_returned(state, *account, *stake, *at);
        }
        CrashEvent::CashedOut { bet, account, stake, multiplier, payout, kind, at } => {
            let b = release(state, *bet, *account, *stake);
            b.state = CrashBetState::CashedOut { multiplier: *multiplier, payout: *payout, kind: *kind, at: *at };
            let (term, slot) = (b.term, b.slot);
            state.crash.terms[term.index()].totals[slot as usize].payouts += *payout;
            let cur = state.accounts[account.index()].currency;
            let house = &mut state.currencies[cur.index()].house;
            *house += *stake;
            *house -= *payout;
            credit(state, *account, *payout);
            count_returned(state, *account, *payout, *at);
        }
        CrashEvent::BetLost { bet, account, stake, .. } => {
            let b = release(state, *bet, *account, *stake);
            b.state = CrashBetState::Lost;
            let cur = state.accounts[account.index()].currency;
            state.currencies[cur.index()].house += *stake;
        }
        CrashEvent::TermCrashed { term, at, .. } => {
            let t = &mut state.crash.terms[term.index()];
            assert_eq!(t.status, TermStatus::Flying, "only a flying term crashes");
            t.ended_at = Some(*at);
        }
        CrashEvent::TermClosed { term, at, totals } => {
            let t = &mut state.crash.terms[term.index()];
            assert_eq!(&t.totals, totals, "the close records the totals the bets made");
            t.status = TermStatus::Closed;
            t.ended_at = Some(*at);
        }
        CrashEvent::TermCancelled { term, at } => {
            let t = &mut state.crash.terms[term.index()];
            t.status = TermStatus::Cancelled;
            t.ended_at = Some(*at);
            let channel = t.channel;
            state.crash.channels[channel.index()].paused = true;
        }
    }
}

fn placed(state: &mut State, e: &CrashBetPlaced) {
    let c = &mut state.crash;
    assert_eq!(e.bet.index(), c.bets.len(), "crash bet numbers are dense");
    let bet = CrashBet {
        order_no: e.order_no,
        user: e.user,
        account: e.account,
        term: e.term,
        stake: e.stake,
        slot: e.slot,
        requested: e.requested,
        target: e.target,
        placed_at: e.at,
        state: CrashBetState::Open,
    };
    let max_return = bet.max_return();
    c.bets.push(bet);
    c.index_bet(e.bet);
    let t = &mut c.terms[e.term.index()];
    t.bets.push(e.bet);
    let tot = &mut t.totals[e.slot as usize];
    tot.bets += 1;
    tot.stakes += e.stake;
    let a = &mut state.accounts[e.account.index()];
    debug_assert!(a.available >= e.stake, "decide checked the funds");
    a.available -= e.stake;
    a.held += e.stake;
    a.exposure += max_return;
    count_staked(a, e.stake, e.at);
    let cur = &mut state.currencies[a.currency.index()];
    cur.exposure += max_return;
    cur.stakes += e.stake;
}

/// An open bet leaves the flight: its hold and exposure are released (the caller says where
/// the stake goes). Returns the bet for its new state.
fn release(state: &mut State, bet: CrashBetNo, account: AccountNo, stake: Money) -> &mut CrashBet {
    let b = &state.crash.bets[bet.index()];
    assert_eq!(b.state, CrashBetState::Open, "only open crash bets settle");
    debug_assert_eq!((b.account, b.stake), (account, stake));
    let max_return = b.max_return();
    let a = &mut state.accounts[account.index()];
    a.held -= stake;
    a.exposure -= max_return;
    let cur = &mut state.currencies[a.currency.index()];
    cur.exposure -= max_return;
    cur.stakes -= stake;
    &mut state.crash.bets[bet.index()]
}
