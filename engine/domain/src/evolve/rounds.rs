//! Games and the seed 000 round lifecycle.

use crate::command::{DrawResult, GameDef};
use crate::ids::{ExtId, GameNo, RoundNo, Timestamp};
use crate::money::Money;
use crate::state::{Game, Round, RoundStatus, State};
use croupier_collections::Chunked;

/// `game` is new when it equals the number of games so far, else it replaces that game.
pub(super) fn game_defined(state: &mut State, game: GameNo, def: &GameDef) {
    let g = Game { def: def.clone() };
    if game.index() == state.games.len() {
        state.idx.game_by_id.insert(def.game, game);
        state.games.push(g);
    } else {
        state.games[game.index()] = g;
    }
}

pub(super) fn round_opened(
    state: &mut State,
    round: RoundNo,
    id: ExtId,
    game: GameNo,
    bet_start: Timestamp,
    bet_stop: Timestamp,
) {
    assert_eq!(round.index(), state.rounds.len(), "round numbers are dense");
    let selections = state.games[game.index()].def.selections.len();
    state.rounds.push(Round {
        id,
        game,
        status: RoundStatus::Betting,
        bet_start,
        bet_stop,
        stopped_at: None,
        drawn_at: None,
        ended_at: None,
        result: None,
        bets: Chunked::new(),
        liability: vec![Money::ZERO; selections],
    });
    state.idx.round_by_id.insert(id, round);
}

pub(super) fn status_changed(state: &mut State, round: RoundNo, status: RoundStatus, at: Timestamp) {
    let r = &mut state.rounds[round.index()];
    r.status = status;
    if status != RoundStatus::Betting {
        state.idx.round_stake.close(round);
    }
    match status {
        RoundStatus::Stopped => r.stopped_at = Some(at),
        RoundStatus::Ended | RoundStatus::Cancelled => r.ended_at = Some(at),
        RoundStatus::Betting | RoundStatus::Dealing | RoundStatus::Drawn => {}
    }
}

/// A first draw moves the round to `Drawn`; a correction only replaces the result.
pub(super) fn drawn(state: &mut State, round: RoundNo, result: &DrawResult, corrected: bool, at: Timestamp) {
    let r = &mut state.rounds[round.index()];
    if !corrected {
        r.status = RoundStatus::Drawn;
        r.drawn_at = Some(at);
    }
    r.result = Some(result.clone());
}
