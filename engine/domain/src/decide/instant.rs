//! Instant games (seed 003): seed pairs, one-shot bets (dice, keno), plinko's delayed
//! settlement, mines' and blackjack's multi-step games, and the operator's refunds. Outcomes come from `instant::fair` with the
//! player's committed seeds and nonce; money moves on the same ledger as every bet, with the
//! same bounds (`decide::bounds`), so `evolve` stays total.

use super::{bounds, check_open_bet, check_stake, existing_account, Reply, MAX_LEDGER};
use crate::event::Event;
use crate::ids::{AccountNo, ExtId, Timestamp, UserId};
use crate::instant::blackjack::{Action, Refusal, Shoe, StreamShoe, Table};
use crate::instant::cards::Card;
use crate::instant::fair::{SeedHash, ServerSeed, Stream};
use crate::instant::payout::{payout, Multiplier};
use crate::instant::{dice, keno, mines, plinko};
use crate::instant::{
    ClientSeed, GameParams, InstantBet, InstantCommand, InstantConfig, InstantEvent, InstantNo, InstantOutcome, Phase,
    Placed, SettleReason,
};
use crate::money::Money;
use crate::reject::Reject;
use crate::state::State;

/// What an instant command did, for the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstantReply {
    Configured,
    /// The new pair's hash; the pair it replaced, revealed, with the nonces it served. Boxed:
    /// rotations are rare, and every command's answer is as large as the largest reply.
    Rotated(Box<Rotated>),
    /// A bet's number; its record has the outcome.
    Bet {
        bet: InstantNo,
        replayed: bool,
    },
    /// Mines: a gem (`ended` if it was the last one and the game cashed out).
    Gem {
        bet: InstantNo,
        ended: bool,
    },
    /// An open bet ended (mine, cash out, confirm, sweep) with this payout.
    Settled {
        bet: InstantNo,
        payout: Money,
        replayed: bool,
    },
    /// Blackjack: an action played (`ended`: the game is over, its record has the result).
    Acted {
        bet: InstantNo,
        replayed: bool,
        ended: bool,
    },
    /// The operator's refund of an open bet: its whole stake back.
    Refunded {
        bet: InstantNo,
        stake: Money,
        replayed: bool,
    },
}

/// A seed rotation's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotated {
    pub hash: SeedHash,
    pub revealed: Option<(ServerSeed, ClientSeed, u64)>,
}

pub(super) fn decide(s: &State, cmd: &InstantCommand, now: Timestamp, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    let reply = match cmd {
        InstantCommand::Configure(c) => configure(c, out)?,
        InstantCommand::RotateSeed { user, server_seed, client_seed } => {
            rotate(s, *user, *server_seed, *client_seed, out)?
        }
        InstantCommand::Bet(b) => bet(s, b, now, out)?,
        InstantCommand::Reveal { user, id, tile } => reveal(s, *user, id, *tile, now, out)?,
        InstantCommand::CashOut { user, id } => cash_out(s, *user, id, now, out)?,
        InstantCommand::Settle { user, id } => settle(s, *user, id, now, out)?,
        InstantCommand::Sweep { user, id } => sweep(s, *user, id, now, out)?,
        InstantCommand::Act { user, id, step, action } => act(s, *user, id, *step, *action, now, out)?,
        InstantCommand::Refund { user, id } => refund(s, *user, id, now, out)?,
    };
    Ok(Reply::Instant(reply))
}

fn configure(c: &InstantConfig, out: &mut Vec<Event>) -> Result<InstantReply, Reject> {
    c.validate().map_err(Reject::InvalidGame)?;
    out.push(Event::Instant(InstantEvent::Configured(Box::new(c.clone()))));
    Ok(InstantReply::Configured)
}

fn rotate(
    s: &State,
    user: UserId,
    server_seed: ServerSeed,
    client_seed: ClientSeed,
    out: &mut Vec<Event>,
) -> Result<InstantReply, Reject> {
    if !s.owns(user) {
        return Err(Reject::WrongShard);
    }
    let player = s.instant().player(user);
    // Revealing the seed of an open mines or blackjack game would show where its mines are,
    // or the dealer's hole card and the cards to come.
    if player.is_some_and(|p| p.open_mines.is_some() || p.open_blackjack.is_some()) {
        return Err(Reject::GameInProgress);
    }
    if player.is_some_and(|p| p.pairs.iter().any(|pair| pair.server_seed == server_seed)) {
        return Err(Reject::InvalidGameParams("a server seed is never used twice"));
    }
    out.push(Event::Instant(InstantEvent::SeedCommitted { user, server_seed, client_seed }));
    let revealed = player.map(|p| (p.current().server_seed, p.current().client_seed, p.nonce));
    Ok(InstantReply::Rotated(Box::new(Rotated { hash: server_seed.hash(), revealed })))
}

fn bet(s: &State, b: &InstantBet, now: Timestamp, out: &mut Vec<Event>) -> Result<InstantReply, Reject> {
    let inst = s.instant();
    if let Some(no) = inst.bet_by_id(b.user, &b.id) {
        let first = inst.bet(no);
        let a = s.account(first.account);
        let same =
            first.game == b.game && first.stake == b.stake && s.currencies()[a.currency.index()].code == b.currency;
        return if same { Ok(InstantReply::Bet { bet: no, replayed: true }) } else { Err(Reject::IdempotencyConflict) };
    }
    let config = inst.config().ok_or(Reject::UnknownGame)?;
    let player = inst.player(b.user).ok_or(Reject::SeedRequired)?;
    let limits = config.limits(&b.currency).ok_or(Reject::CurrencyNotAccepted)?;
    if b.stake < limits.min_stake {
        return Err(Reject::StakeTooLow { min: limits.min_stake });
    }
    if b.stake > limits.max_stake {
        return Err(Reject::StakeTooHigh { max: limits.max_stake });
    }
    let cur = s.currency_by_code(&b.currency).ok_or(Reject::UnknownCurrency)?;
    let account = existing_account(s, b.user, cur)?;
    let pair = player.current();
    let mut stream = Stream::of(&pair.server_seed, pair.client_seed.as_str().as_bytes(), player.nonce);
    let (outcome, multiplier) = match b.game {
        GameParams::Dice(call) => {
            let chance = call.chance().ok_or(Reject::InvalidGameParams("dice chance must be 0.01 % to 98 %"))?;
            let roll = dice::roll(&mut stream);
            let m = if call.wins(roll) { dice::multiplier(chance, config.dice_edge_bp) } else { Multiplier::ZERO };
            (InstantOutcome::Dice { roll }, m)
        }
        GameParams::Keno { risk, picks } => {
            if !picks.is_valid() {
                return Err(Reject::InvalidGameParams("keno takes 1 to 10 numbers from 1 to 40"));
            }
            let drawn = keno::draw(&mut stream);
            let hits = picks.hits(&drawn);
            let set = drawn.iter().fold(0u64, |set, &t| set | 1 << t);
            (
                InstantOutcome::Keno { drawn: set, hits: hits as u8 },
                config.keno_table(risk).multiplier(picks.count(), hits),
            )
        }
        GameParams::Plinko { rows, risk } => {
            if !(plinko::MIN_ROWS..=plinko::MAX_ROWS).contains(&rows) {
                return Err(Reject::InvalidGameParams("plinko has 8 to 16 rows"));
            }
            let path = plinko::drop_ball(&mut stream, rows);
            (
                InstantOutcome::Plinko { rights: path.rights },
                config.plinko_table(rows, risk).slots[path.slot() as usize],
            )
        }
        GameParams::Mines { mines: count } => {
            if !(mines::MIN_MINES..=mines::MAX_MINES).contains(&count) {
                return Err(Reject::InvalidGameParams("mines takes 1 to 24 mines"));
            }
            if player.open_mines.is_some() {
                return Err(Reject::GameInProgress);
            }
            (InstantOutcome::Mines, Multiplier::ZERO)
        }
        GameParams::Blackjack => {
            if player.open_blackjack.is_some() {
                return Err(Reject::GameInProgress);
            }
            let mut shoe = StreamShoe::new(stream);
            (InstantOutcome::Blackjack { up: shoe.card(0), player: [shoe.card(2), shoe.card(3)] }, Multiplier::ZERO)
        }
    };
    check_stake(s, account, b.stake, now)?;
    let settled = !b.game.stays_open();
    let pays = match b.game {
        // The most a mines game can pay: every gem found, capped by the max win.
        GameParams::Mines { mines: count } => {
            payout(b.stake, mines::multiplier(count, mines::TILES - count, config.mines_edge_bp), limits.max_win)
        }
        // The most the dealt hand can return with this stake (a double or split raises it).
        GameParams::Blackjack => match outcome {
            InstantOutcome::Blackjack { up, player: cards } => {
                Table::deal(up, cards, b.stake).max_return().min(limits.max_win)
            }
            _ => unreachable!("a blackjack bet deals cards"),
        },
        _ => payout(b.stake, multiplier, limits.max_win),
    };
    if settled {
        let a = s.account(account);
        let d_player = pays.0 as i128 - b.stake.0 as i128;
        bounds::player(Some(a), d_player, 0, MAX_LEDGER)?;
        bounds::house(&s.currencies()[cur.index()], -d_player, 0, 0)?;
    } else {
        check_open_bet(s, account, b.stake, pays)?;
    }
    let bet = InstantNo(inst.bets().len() as u32);
    out.push(Event::Instant(InstantEvent::Placed(Placed {
        bet,
        account,
        id: b.id,
        game: b.game,
        stake: b.stake,
        nonce: player.nonce,
        outcome,
        multiplier,
        payout: pays,
        settled,
        at: now,
    })));
    if let InstantOutcome::Blackjack { up, player: cards } = outcome {
        // A blackjack, or the dealer's at the peek, ends the game at the deal.
        let table = Table::deal(up, cards, b.stake);
        let mut shoe = shoe_of(pair, player.nonce);
        if let Some(dealer) = table.ending(&mut shoe) {
            let end = End { bet, account, stake: b.stake, max_win: limits.max_win, at: now };
            finish_blackjack(table, dealer, end, out);
        }
    }
    Ok(InstantReply::Bet { bet, replayed: false })
}

fn shoe_of(pair: &crate::instant::SeedPair, nonce: u64) -> StreamShoe<'_> {
    StreamShoe::new(Stream::of(&pair.server_seed, pair.client_seed.as_str().as_bytes(), nonce))
}

/// What ending a blackjack game needs besides its table.
struct End {
    bet: InstantNo,
    account: AccountNo,
    /// Every stake held for it, extras included.
    stake: Money,
    max_win: Money,
    at: Timestamp,
}

/// The dealer's cards shown and the game paid (capped by the max win).
fn finish_blackjack(mut table: Table, dealer: Vec<Card>, e: End, out: &mut Vec<Event>) -> Money {
    table.finish(dealer.clone());
    let pays = table.result().min(e.max_win);
    out.push(Event::Instant(InstantEvent::DealerRevealed { bet: e.bet, cards: dealer }));
    out.push(Event::Instant(InstantEvent::Settled {
        bet: e.bet,
        account: e.account,
        stake: e.stake,
        payout: pays,
        at: e.at,
        why: SettleReason::Finished,
    }));
    pays
}

fn refusal(r: Refusal) -> Reject {
    match r {
        Refusal::InsurancePending => Reject::InsurancePending,
        Refusal::InsuranceNotOffered => Reject::InsuranceNotOffered,
        Refusal::InsuranceTooSmall => Reject::InvalidGameParams("insurance costs half the stake: at least one unit"),
        Refusal::CannotDouble => Reject::CannotDouble,
        Refusal::CannotSplit => Reject::CannotSplit,
        Refusal::Over => Reject::BetSettled,
    }
}

/// The max win of bet `no`'s currency now (the largest balance if its limits were removed).
fn max_win_of(s: &State, no: InstantNo) -> Money {
    let b = s.instant().bet(no);
    let cur = &s.currencies()[s.account(b.account).currency.index()].code;
    let config = s.instant().config().expect("a bet was placed, so the games are configured");
    config.limits(cur).map_or(crate::MAX_BALANCE, |l| l.max_win)
}

/// Blackjack: one action on the player's open game, exactly once per step when a step is given.
fn act(
    s: &State,
    user: UserId,
    id: &ExtId,
    step: Option<u8>,
    action: Action,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<InstantReply, Reject> {
    let inst = s.instant();
    let no = inst.bet_by_id(user, id).ok_or(Reject::BetNotFound)?;
    let b = inst.bet(no);
    let table = b.table.as_deref().ok_or(Reject::InvalidGameParams("only a blackjack game takes these actions"))?;
    if let Some(step) = step.map(usize::from) {
        let played = table.actions.len();
        if step < played {
            let replay = InstantReply::Acted { bet: no, replayed: true, ended: !b.is_open() };
            return if table.actions[step] == action { Ok(replay) } else { Err(Reject::IdempotencyConflict) };
        }
        if step > played {
            return Err(Reject::StepAhead);
        }
    }
    if !b.is_open() {
        return Err(Reject::BetSettled);
    }
    let pair = &inst.player(user).expect("a bet's player has seeds").pairs[b.seed_no as usize];
    let (table, played) = table.play(action, &mut shoe_of(pair, b.nonce)).map_err(refusal)?;
    let max_win = max_win_of(s, no);
    let exposure = table.max_return().min(max_win);
    if played.extra.is_positive() {
        check_stake(s, b.account, played.extra, now)?;
    }
    let a = s.account(b.account);
    let d_exposure = exposure.0 as i128 - b.payout.0 as i128;
    bounds::player(Some(a), -(played.extra.0 as i128), d_exposure, MAX_LEDGER)?;
    bounds::house(&s.currencies()[a.currency.index()], 0, d_exposure, played.extra.0 as i128)?;
    out.push(Event::Instant(InstantEvent::Acted {
        bet: no,
        account: b.account,
        action,
        drawn: played.drawn,
        extra: played.extra,
        exposure,
        at: now,
    }));
    let ended = played.dealer.is_some();
    if let Some(dealer) = played.dealer {
        let stake = Money(b.stake.0 + played.extra.0);
        finish_blackjack(table, dealer, End { bet: no, account: b.account, stake, max_win, at: now }, out);
    }
    Ok(InstantReply::Acted { bet: no, replayed: false, ended })
}

/// The operator's refund of an unfinished bet: every stake back, the game closed. A finished
/// bet is `BET_SETTLED`; a refunded one gets the first answer.
fn refund(s: &State, user: UserId, id: &ExtId, now: Timestamp, out: &mut Vec<Event>) -> Result<InstantReply, Reject> {
    let no = s.instant().bet_by_id(user, id).ok_or(Reject::BetNotFound)?;
    let b = s.instant().bet(no);
    match b.state {
        Phase::Settled { why: SettleReason::Refunded, .. } => {
            Ok(InstantReply::Refunded { bet: no, stake: b.stake, replayed: true })
        }
        Phase::Settled { .. } => Err(Reject::BetSettled),
        Phase::Open => {
            // The stake comes back where the exposure counted what it might win: the player's
            // room is checked for the difference (a plinko bet may pay less than its stake).
            bounds::player(Some(s.account(b.account)), b.stake.0 as i128, -(b.payout.0 as i128), MAX_LEDGER)?;
            out.push(Event::Instant(InstantEvent::Refunded { bet: no, account: b.account, stake: b.stake, at: now }));
            Ok(InstantReply::Refunded { bet: no, stake: b.stake, replayed: false })
        }
    }
}

/// The player's open bet `id`, or why not.
fn open_bet(s: &State, user: UserId, id: &ExtId) -> Result<InstantNo, Reject> {
    let no = s.instant().bet_by_id(user, id).ok_or(Reject::BetNotFound)?;
    match s.instant().bet(no).state {
        Phase::Open => Ok(no),
        Phase::Settled { .. } => Err(Reject::BetSettled),
    }
}

fn settled(s: &State, no: InstantNo, payout: Money, why: SettleReason, now: Timestamp, out: &mut Vec<Event>) {
    let b = s.instant().bet(no);
    out.push(Event::Instant(InstantEvent::Settled {
        bet: no,
        account: b.account,
        stake: b.stake,
        payout,
        at: now,
        why,
    }));
}

/// The mines of game `no`, from its seeds: recomputed on each reveal, never stored, so no
/// record or event shows them before the game ends.
fn mines_of(s: &State, no: InstantNo, user: UserId) -> (u8, u32) {
    let b = s.instant().bet(no);
    let GameParams::Mines { mines: count } = b.game else { unreachable!("called for mines games only") };
    let pair = &s.instant().player(user).expect("a bet's player has seeds").pairs[b.seed_no as usize];
    let mut stream = Stream::of(&pair.server_seed, pair.client_seed.as_str().as_bytes(), b.nonce);
    (count, mines::place(&mut stream, count))
}

fn mines_payout(s: &State, no: InstantNo, count: u8, gems: u8) -> Money {
    let b = s.instant().bet(no);
    let config = s.instant().config().expect("a bet was placed, so the games are configured");
    let cur = &s.currencies()[s.account(b.account).currency.index()].code;
    let max_win = config.limits(cur).map_or(b.payout, |l| l.max_win.min(b.payout));
    payout(b.stake, mines::multiplier(count, gems, config.mines_edge_bp), max_win)
}

fn reveal(
    s: &State,
    user: UserId,
    id: &ExtId,
    tile: u8,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<InstantReply, Reject> {
    let no = open_bet(s, user, id)?;
    let b = s.instant().bet(no);
    if !matches!(b.game, GameParams::Mines { .. }) {
        return Err(Reject::InvalidGameParams("only a mines game reveals tiles"));
    }
    if tile >= mines::TILES {
        return Err(Reject::InvalidGameParams("tiles are 0 to 24"));
    }
    if b.revealed & 1 << tile != 0 {
        return Err(Reject::TileRevealed);
    }
    let (count, set) = mines_of(s, no, user);
    if set & 1 << tile != 0 {
        settled(s, no, Money::ZERO, SettleReason::Mine { tile }, now, out);
        return Ok(InstantReply::Settled { bet: no, payout: Money::ZERO, replayed: false });
    }
    out.push(Event::Instant(InstantEvent::Revealed { bet: no, tile, at: now }));
    let gems = (b.revealed | 1 << tile).count_ones() as u8;
    let ended = gems == mines::TILES - count;
    if ended {
        // Every gem found: nothing is left to risk, the game cashes out.
        settled(s, no, mines_payout(s, no, count, gems), SettleReason::CashedOut, now, out);
    }
    Ok(InstantReply::Gem { bet: no, ended })
}

fn cash_out(s: &State, user: UserId, id: &ExtId, now: Timestamp, out: &mut Vec<Event>) -> Result<InstantReply, Reject> {
    let no = open_bet(s, user, id)?;
    let b = s.instant().bet(no);
    let GameParams::Mines { mines: count } = b.game else {
        return Err(Reject::InvalidGameParams("only a mines game cashes out"));
    };
    let gems = b.revealed.count_ones() as u8;
    if gems == 0 {
        return Err(Reject::NoGemsRevealed);
    }
    let pays = mines_payout(s, no, count, gems);
    settled(s, no, pays, SettleReason::CashedOut, now, out);
    Ok(InstantReply::Settled { bet: no, payout: pays, replayed: false })
}

/// Plinko's confirmation; a repeat gets the first answer.
fn settle(s: &State, user: UserId, id: &ExtId, now: Timestamp, out: &mut Vec<Event>) -> Result<InstantReply, Reject> {
    let no = s.instant().bet_by_id(user, id).ok_or(Reject::BetNotFound)?;
    let b = s.instant().bet(no);
    if !matches!(b.game, GameParams::Plinko { .. }) {
        return Err(Reject::InvalidGameParams("only a plinko bet waits for its animation"));
    }
    match b.state {
        Phase::Settled { payout, .. } => Ok(InstantReply::Settled { bet: no, payout, replayed: true }),
        Phase::Open => {
            settled(s, no, b.payout, SettleReason::Confirmed, now, out);
            Ok(InstantReply::Settled { bet: no, payout: b.payout, replayed: false })
        }
    }
}

/// The sweeper: refused before the bet is due, so a sweep can never cut a live game short.
fn sweep(s: &State, user: UserId, id: &ExtId, now: Timestamp, out: &mut Vec<Event>) -> Result<InstantReply, Reject> {
    let no = s.instant().bet_by_id(user, id).ok_or(Reject::BetNotFound)?;
    let b = s.instant().bet(no);
    if let Phase::Settled { payout, .. } = b.state {
        return Ok(InstantReply::Settled { bet: no, payout, replayed: true });
    }
    if b.game == GameParams::Blackjack {
        // Never due: a hand waits for its player or the operator's refund.
        return Err(Reject::NotDue { due: s.instant().sweep_due(no) });
    }
    let due = s.instant().sweep_due(no);
    let pays = match b.game {
        GameParams::Plinko { .. } => b.payout,
        GameParams::Mines { mines: count } => {
            let gems = b.revealed.count_ones() as u8;
            // Seed 003: an idle game with gems is cashed out; one without ends with nothing.
            if gems == 0 {
                Money::ZERO
            } else {
                mines_payout(s, no, count, gems)
            }
        }
        GameParams::Dice(_) | GameParams::Keno { .. } => unreachable!("one-shot bets are never open"),
        GameParams::Blackjack => unreachable!("refused above"),
    };
    if now < due {
        return Err(Reject::NotDue { due });
    }
    settled(s, no, pays, SettleReason::Swept, now, out);
    Ok(InstantReply::Settled { bet: no, payout: pays, replayed: false })
}
