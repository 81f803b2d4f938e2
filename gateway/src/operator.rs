//! Operator endpoints (seed 000 round events and draw results, cashier, seed 004 bookmaker
//! calls, sessions and their revocation), each authenticated by the [`Signed`] extractor:
//! `X-Croupier-Timestamp` and `X-Croupier-Signature` over method, path, timestamp and body
//! (see [`crate::auth`]), checked before the body is parsed.
//!
//! Every endpoint has a request type of its own that refuses unknown fields (400
//! `INVALID_REQUEST`): besides the signature binding the path, a body written for one endpoint
//! then does not parse at another. Types whose fields coincide (deposit and withdraw; the
//! three draw results; check_bet and block_funds) are still separate, so each endpoint's
//! schema can change alone.

use crate::error::{quote, ApiError, ErrorResponses};
use crate::fields::{user_id, Scalar};
use crate::{ext_id, now_ms, AppInner, AppState, Signed};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use croupier_domain::command::{DrawResult, PartnerBetStatus};
use croupier_domain::state::{Outcome, RoundStatus};
use croupier_domain::{Command, Reply};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Seed 000 game events.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GameEventKind {
    GameStart,
    GameStop,
    NewCard,
    GameDraw,
    GameEnd,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GameEventRequest {
    pub event: GameEventKind,
    /// The operator's round id (printable ASCII, at most 39 bytes).
    pub round_id: String,
    /// `game_start`: the game (default: the first configured, `baccarat`).
    #[serde(default)]
    pub game: Option<String>,
    /// `game_start`: betting window in ms (default: the game's, 15 s for baccarat).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 86400000)]
    pub window_ms: Option<u64>,
}

/// A selection's outcome in a draw result.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeName {
    Won,
    Lost,
    Void,
    Push,
}

impl From<OutcomeName> for Outcome {
    fn from(o: OutcomeName) -> Outcome {
        match o {
            OutcomeName::Won => Outcome::Won,
            OutcomeName::Lost => Outcome::Lost,
            OutcomeName::Void => Outcome::Void,
            OutcomeName::Push => Outcome::Push,
        }
    }
}

impl From<Outcome> for OutcomeName {
    fn from(o: Outcome) -> OutcomeName {
        match o {
            Outcome::Won => OutcomeName::Won,
            Outcome::Lost => OutcomeName::Lost,
            Outcome::Void => OutcomeName::Void,
            Outcome::Push => OutcomeName::Push,
        }
    }
}

/// Seed 000 `drawresult`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrawResultRequest {
    pub round_id: String,
    /// One outcome per selection of the game, in its order (baccarat: banker, player, tie).
    pub outcomes: Vec<OutcomeName>,
}

/// A corrected draw result.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResettleRequest {
    pub round_id: String,
    /// The corrected outcome per selection of the game, in its order.
    pub outcomes: Vec<OutcomeName>,
}

/// Seed 004 `recalculate_bets`: a corrected draw result for a round, which resettles its
/// bets. Exactly one of `correct_result` (the seed's form) or `outcomes`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecalculateBetsRequest {
    pub round_id: String,
    /// Seed 004: the round's correct result, the name of the winning selection of the round's
    /// game (a string, or a number for names that are digits, e.g. a dice face `"5"`): it
    /// won, every other selection lost. Only for games with one market; others send
    /// `outcomes`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "5")]
    pub correct_result: Option<Scalar>,
    /// The corrected outcome per selection of the game, in its order.
    #[serde(default)]
    pub outcomes: Option<Vec<OutcomeName>>,
}

/// Seed 004's answer to `recalculate_bets`, with the round's state.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecalculateBetsAnswer {
    /// `recalculated`.
    pub status: String,
    pub message: String,
    pub round_id: String,
    /// Seed 000 `game_status` after the correction (5, drawn).
    pub game_status: u8,
    /// How many bets changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled_bets: Option<u32>,
    /// A repeat of an accepted correction: the first answer, nothing changed.
    pub replayed: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    pub round_id: String,
}

/// A round's state after an operator event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoundAnswer {
    pub round_id: String,
    /// betting, stopped, dealing, drawn, ended, cancelled.
    pub status: String,
    /// Seed 000 `game_status`: 1 betting, 3 stopped, 4 dealing, 5 drawn, 6 ended, 7 cancelled.
    pub game_status: u8,
    /// `game_start`: when betting opened and closes (Unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bet_start_time: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bet_stop_time: Option<u64>,
    /// `game_start`: seconds left to bet, rounded up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub countdown: Option<u64>,
    /// Draw, cancel, resettle: how many bets changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled_bets: Option<u32>,
    /// A repeat of an accepted event: the first answer, nothing changed.
    pub replayed: bool,
}

pub fn status_name(s: RoundStatus) -> &'static str {
    match s {
        RoundStatus::Betting => "betting",
        RoundStatus::Stopped => "stopped",
        RoundStatus::Dealing => "dealing",
        RoundStatus::Drawn => "drawn",
        RoundStatus::Ended => "ended",
        RoundStatus::Cancelled => "cancelled",
    }
}

pub fn countdown_s(bet_stop_ms: u64, now: u64) -> u64 {
    bet_stop_ms.saturating_sub(now).div_ceil(1000)
}

fn round_answer(round_id: String, reply: Reply, settled_status: RoundStatus) -> RoundAnswer {
    let mut a = RoundAnswer {
        round_id,
        status: String::new(),
        game_status: 0,
        bet_start_time: None,
        bet_stop_time: None,
        countdown: None,
        settled_bets: None,
        replayed: false,
    };
    let status = match reply {
        Reply::RoundOpened { bet_start, bet_stop, replayed, .. } => {
            a.bet_start_time = Some(bet_start.0);
            a.bet_stop_time = Some(bet_stop.0);
            a.countdown = Some(countdown_s(bet_stop.0, now_ms()));
            a.replayed = replayed;
            RoundStatus::Betting
        }
        Reply::RoundStatus { status, replayed, .. } => {
            a.replayed = replayed;
            status
        }
        Reply::RoundSettled { bets, replayed, .. } => {
            a.settled_bets = Some(bets);
            a.replayed = replayed;
            settled_status
        }
        _ => settled_status,
    };
    a.status = status_name(status).into();
    a.game_status = status.code();
    a
}

fn draw_result(outcomes: &[OutcomeName]) -> DrawResult {
    DrawResult { outcomes: outcomes.iter().map(|o| Outcome::from(*o)).collect() }
}

/// Seed 000 round events.
#[utoipa::path(post, path = "/api/game_event", tag = "operator", request_body = GameEventRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "The round after the event", body = RoundAnswer), ErrorResponses))]
pub async fn game_event(
    State(app): State<AppState>,
    Signed(req): Signed<GameEventRequest>,
) -> Result<Json<RoundAnswer>, ApiError> {
    apply_game_event(&app, req).await.map(Json)
}

/// A round event's validation and engine command, shared by HTTP and the JetStream intake
/// (`croupier serve --draws-from`), so both answer alike.
pub async fn apply_game_event(app: &AppInner, req: GameEventRequest) -> Result<RoundAnswer, ApiError> {
    let round = ext_id("round_id", &req.round_id)?;
    let (cmd, after) = match req.event {
        GameEventKind::GameStart => {
            let game = match &req.game {
                Some(g) => ext_id("game", g)?,
                None => app
                    .cfg
                    .games
                    .first()
                    .map(|g| g.game)
                    .ok_or_else(|| ApiError::not_found("UNKNOWN_GAME", "no game is configured"))?,
            };
            if req.window_ms.is_some_and(|w| w == 0 || w > 86_400_000) {
                return Err(ApiError::unprocessable("INVALID_WINDOW", "window_ms must be between 1 and 86400000"));
            }
            (Command::GameStart { round, game, window_ms: req.window_ms }, RoundStatus::Betting)
        }
        GameEventKind::GameStop => (Command::GameStop { round }, RoundStatus::Stopped),
        GameEventKind::NewCard => (Command::NewCard { round }, RoundStatus::Dealing),
        GameEventKind::GameDraw => (Command::GameDraw { round, result: None }, RoundStatus::Drawn),
        GameEventKind::GameEnd => (Command::GameEnd { round }, RoundStatus::Ended),
    };
    let reply = app.engine.call(cmd).await?;
    Ok(round_answer(req.round_id, reply, after))
}

/// Seed 000 `drawresult`: the draw result, which settles every bet of the round.
#[utoipa::path(post, path = "/api/drawresult", tag = "operator", request_body = DrawResultRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "Drawn and settled", body = RoundAnswer), ErrorResponses))]
pub async fn drawresult(
    State(app): State<AppState>,
    Signed(req): Signed<DrawResultRequest>,
) -> Result<Json<RoundAnswer>, ApiError> {
    apply_drawresult(&app, req).await.map(Json)
}

/// A draw result's validation and engine command, shared by HTTP and the JetStream intake.
pub async fn apply_drawresult(app: &AppInner, req: DrawResultRequest) -> Result<RoundAnswer, ApiError> {
    let round = ext_id("round_id", &req.round_id)?;
    let reply = app.engine.call(Command::GameDraw { round, result: Some(draw_result(&req.outcomes)) }).await?;
    Ok(round_answer(req.round_id, reply, RoundStatus::Drawn))
}

/// Cancels a round: every bet is voided and refunded, settled ones are reversed.
#[utoipa::path(post, path = "/api/rounds/cancel", tag = "operator", request_body = CancelRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "Cancelled", body = RoundAnswer), ErrorResponses))]
pub async fn cancel(
    State(app): State<AppState>,
    Signed(req): Signed<CancelRequest>,
) -> Result<Json<RoundAnswer>, ApiError> {
    let round = ext_id("round_id", &req.round_id)?;
    let reply = app.engine.call(Command::CancelRound { round }).await?;
    Ok(Json(round_answer(req.round_id, reply, RoundStatus::Cancelled)))
}

async fn resettle_round(
    app: &AppState,
    round_id: String,
    outcomes: &[OutcomeName],
) -> Result<Json<RoundAnswer>, ApiError> {
    let round = ext_id("round_id", &round_id)?;
    let reply = app.engine.call(Command::ResettleRound { round, result: draw_result(outcomes) }).await?;
    Ok(Json(round_answer(round_id, reply, RoundStatus::Drawn)))
}

/// A corrected draw: each bet's earlier outcome is reversed and the new one applied.
#[utoipa::path(post, path = "/api/rounds/resettle", tag = "operator", request_body = ResettleRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "Resettled", body = RoundAnswer), ErrorResponses))]
pub async fn resettle(
    State(app): State<AppState>,
    Signed(req): Signed<ResettleRequest>,
) -> Result<Json<RoundAnswer>, ApiError> {
    resettle_round(&app, req.round_id, &req.outcomes).await
}

/// Seed 004 `recalculate_bets`: the same corrected draw as `/api/rounds/resettle`, under the
/// bookmakers' name, given as the seed gives it (`correct_result`, the winning selection) or
/// as `outcomes`.
#[utoipa::path(post, path = "/api/recalculate_bets", tag = "operator", request_body = RecalculateBetsRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "Recalculated", body = RecalculateBetsAnswer), ErrorResponses))]
pub async fn recalculate_bets(
    State(app): State<AppState>,
    Signed(req): Signed<RecalculateBetsRequest>,
) -> Result<Json<RecalculateBetsAnswer>, ApiError> {
    let outcomes = match (req.outcomes, req.correct_result) {
        (Some(outcomes), None) => outcomes,
        (None, Some(winner)) => winner_outcomes(&app, &req.round_id, winner.as_str()).await?,
        _ => return Err(ApiError::invalid("send exactly one of correct_result and outcomes")),
    };
    let Json(round) = resettle_round(&app, req.round_id, &outcomes).await?;
    Ok(Json(RecalculateBetsAnswer {
        status: "recalculated".into(),
        message: format!("the bets have been recalculated for {}", round.round_id),
        round_id: round.round_id,
        game_status: round.game_status,
        settled_bets: round.settled_bets,
        replayed: round.replayed,
    }))
}

/// The outcomes of a draw whose winner is the selection named `winner` of the round's game:
/// it won, the others lost. A name, not an index: seed 004's `"5"` is a dice face, and an
/// index would silently mean another selection of another game.
async fn winner_outcomes(app: &AppState, round_id: &str, winner: &str) -> Result<Vec<OutcomeName>, ApiError> {
    let round = ext_id("round_id", round_id)?;
    // Every shard holds the round and the games; the coordinator's copy is as good as any.
    let shard = croupier_runtime::round_coordinator(&round, app.engine.shards());
    let selections = app
        .engine
        .read(shard, move |s| {
            let r = s.round(s.round_by_id(&round)?);
            let def = &s.games()[r.game.0 as usize].def;
            Some(def.selections.iter().map(|sel| (sel.market, sel.name)).collect::<Vec<_>>())
        })
        .await?
        .ok_or_else(|| ApiError::not_found("ROUND_NOT_FOUND", "unknown round"))?;
    if selections.windows(2).any(|w| w[0].0 != w[1].0) {
        return Err(ApiError::unprocessable(
            "INVALID_DRAW_RESULT",
            "the round's game has several markets: send outcomes, one per selection",
        ));
    }
    if !selections.iter().any(|(_, name)| name.as_str() == winner) {
        return Err(ApiError::unprocessable(
            "UNKNOWN_SELECTION",
            format!("correct_result {}: no selection of the round's game has that name", quote(winner)),
        ));
    }
    let outcome = |name: &croupier_domain::Code| {
        if name.as_str() == winner {
            OutcomeName::Won
        } else {
            OutcomeName::Lost
        }
    };
    Ok(selections.iter().map(|(_, name)| outcome(name)).collect())
}

/// Money in from the operator's cashier.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositRequest {
    /// The cashier's transfer id, unique per player (the same id for another player is another
    /// transfer, on every shard count): a repeat with the same content moves nothing and gets
    /// the first answer; the same id with other content is `IDEMPOTENCY_CONFLICT`.
    pub transfer_id: String,
    /// Digits (a JSON number or a string), at most 9223372036854775807.
    #[schema(value_type = u64, maximum = 9223372036854775807_u64)]
    pub user_id: Scalar,
    /// Decimal string, e.g. "100.00".
    pub amount: String,
    #[serde(default)]
    pub currency: Option<String>,
}

/// Money out to the operator's cashier.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// The cashier's transfer id, unique per player (the same id for another player is another
    /// transfer, on every shard count): a repeat with the same content moves nothing and gets
    /// the first answer; the same id with other content is `IDEMPOTENCY_CONFLICT`.
    pub transfer_id: String,
    /// Digits (a JSON number or a string), at most 9223372036854775807.
    #[schema(value_type = u64, maximum = 9223372036854775807_u64)]
    pub user_id: Scalar,
    /// Decimal string, e.g. "100.00".
    pub amount: String,
    #[serde(default)]
    pub currency: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CashierAnswer {
    pub transfer_id: String,
    pub user_id: u64,
    pub amount: String,
    pub currency: String,
    pub replayed: bool,
}

/// The fields deposit and withdraw share, once decoded by their own request types.
struct Cashier {
    transfer_id: String,
    user_id: Scalar,
    amount: String,
    currency: Option<String>,
    deposit: bool,
}

async fn cashier(app: &AppState, req: Cashier) -> Result<Json<CashierAnswer>, ApiError> {
    let transfer = ext_id("transfer_id", &req.transfer_id)?;
    let user = user_id("user_id", req.user_id.as_str())?;
    let (currency, amount) = app.money(req.currency.as_deref(), &req.amount)?;
    let cmd = if req.deposit {
        Command::Deposit { transfer, user, currency, amount }
    } else {
        Command::Withdraw { transfer, user, currency, amount }
    };
    let reply = app.engine.call(cmd).await?;
    let replayed = matches!(reply, Reply::Transfer { replayed: true, .. });
    Ok(Json(CashierAnswer {
        transfer_id: req.transfer_id,
        user_id: user.0,
        amount: req.amount,
        currency: currency.as_str().into(),
        replayed,
    }))
}

/// Money in from the operator's cashier.
#[utoipa::path(post, path = "/api/deposit", tag = "operator", request_body = DepositRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "Deposited", body = CashierAnswer), ErrorResponses))]
pub async fn deposit(
    State(app): State<AppState>,
    Signed(r): Signed<DepositRequest>,
) -> Result<Json<CashierAnswer>, ApiError> {
    let req = Cashier {
        transfer_id: r.transfer_id,
        user_id: r.user_id,
        amount: r.amount,
        currency: r.currency,
        deposit: true,
    };
    cashier(&app, req).await
}

/// Money out to the operator's cashier.
#[utoipa::path(post, path = "/api/withdraw", tag = "operator", request_body = WithdrawRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "Withdrawn", body = CashierAnswer), ErrorResponses))]
pub async fn withdraw(
    State(app): State<AppState>,
    Signed(r): Signed<WithdrawRequest>,
) -> Result<Json<CashierAnswer>, ApiError> {
    let req = Cashier {
        transfer_id: r.transfer_id,
        user_id: r.user_id,
        amount: r.amount,
        currency: r.currency,
        deposit: false,
    };
    cashier(&app, req).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// Digits (a JSON number or a string), at most 9223372036854775807.
    #[schema(value_type = u64, maximum = 9223372036854775807_u64)]
    pub user_id: Scalar,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionAnswer {
    pub user_id: u64,
    /// `Authorization: Bearer <token>` for the player endpoints and the WebSocket:
    /// `v2.<user>.<issued_ms>.<expiry_ms>.<mac>`.
    pub token: String,
    /// Unix ms after which the token is refused.
    pub expires_at: u64,
}

/// Opens a player session: a signed token with an expiry.
#[utoipa::path(post, path = "/api/sessions", tag = "operator", request_body = SessionRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "A token for the player", body = SessionAnswer), ErrorResponses))]
pub async fn sessions(
    State(app): State<AppState>,
    Signed(req): Signed<SessionRequest>,
) -> Result<Json<SessionAnswer>, ApiError> {
    // Never before the user's last revocation: a session opened once a revocation has been
    // answered must work, even within the revocation's millisecond.
    let user = user_id("user_id", req.user_id.as_str())?;
    let issued = now_ms().max(app.revocations.not_before(user.0));
    let expires_at = issued.saturating_add(app.cfg.token_ttl_ms);
    let token = app.auth.issue(user, issued, expires_at);
    Ok(Json(SessionAnswer { user_id: user.0, token, expires_at }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Digits (a JSON number or a string), at most 9223372036854775807.
    #[schema(value_type = u64, maximum = 9223372036854775807_u64)]
    pub user_id: Scalar,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevokeAnswer {
    pub user_id: u64,
    /// Tokens of the user issued before this Unix ms are refused (`TOKEN_REVOKED`); sessions
    /// opened from now on are not.
    pub not_before: u64,
}

/// Revokes every session of a player opened up to now, durably (kept across restarts).
/// Open WebSocket sessions of the player are closed.
#[utoipa::path(post, path = "/api/sessions/revoke", tag = "operator", request_body = RevokeRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "Revoked", body = RevokeAnswer), ErrorResponses))]
pub async fn revoke(
    State(app): State<AppState>,
    Signed(req): Signed<RevokeRequest>,
) -> Result<Json<RevokeAnswer>, ApiError> {
    let user_id = user_id("user_id", req.user_id.as_str())?.0;
    let now = now_ms();
    // The revocation is fsynced before the answer: off the async workers.
    let app2 = app.clone();
    let not_before = tokio::task::spawn_blocking(move || app2.revocations.revoke(user_id, now))
        .await
        .map_err(|_| ApiError::unavailable("the revocation task stopped"))?
        .map_err(|e| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "STORAGE_UNAVAILABLE", format!("revocation: {e}"))
        })?;
    Ok(Json(RevokeAnswer { user_id, not_before }))
}

/// Seed 004 `check_bet`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBetRequest {
    /// Accepted and ignored: checking a stake moves nothing, whoever the bookmaker is.
    #[serde(default)]
    pub partner_id: Option<String>,
    /// The player: digits, as a string (as seed 004 sends it) or a number, at most
    /// 9223372036854775807.
    #[schema(value_type = String, example = "67890")]
    pub partner_player_id: Scalar,
    /// The bookmaker's bet id, unique per player (`partner_player_id`): the same id for another
    /// player names another bet.
    pub bet_id: String,
    /// The stake: a decimal string, or a JSON number read exactly as written (`100`).
    #[schema(value_type = String, example = "100.00")]
    pub amount: Scalar,
    #[serde(default)]
    pub currency: Option<String>,
}

/// Seed 004 `block_funds`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockFundsRequest {
    /// The bookmaker (default `default`).
    #[serde(default)]
    pub partner_id: Option<String>,
    /// The player: digits, as a string (as seed 004 sends it) or a number, at most
    /// 9223372036854775807.
    #[schema(value_type = String, example = "67890")]
    pub partner_player_id: Scalar,
    /// The bookmaker's bet id, unique per player (`partner_player_id`): the same id for another
    /// player names another bet.
    pub bet_id: String,
    /// The stake to hold: a decimal string, or a JSON number read exactly as written (`100`).
    #[schema(value_type = String, example = "100.00")]
    pub amount: Scalar,
    #[serde(default)]
    pub currency: Option<String>,
}

/// Seed 004 `update_bet_status`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBetStatusRequest {
    /// Accepted and ignored: the bet, named by `bet_id` and its player, was blocked for its
    /// bookmaker already.
    #[serde(default)]
    pub partner_id: Option<String>,
    /// The player: digits, as a string (as seed 004 sends it) or a number, at most
    /// 9223372036854775807.
    #[schema(value_type = String, example = "67890")]
    pub partner_player_id: Scalar,
    pub bet_id: String,
    /// Accepted and ignored, as seed 004 sends it (string or number): the held stake is what
    /// settles.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub amount: Option<Scalar>,
    #[serde(default)]
    pub currency: Option<String>,
    pub status: PartnerStatus,
    /// With status win: the payout, a decimal string or a JSON number read exactly as
    /// written (`200`, `200.5`).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "200.00")]
    pub payout: Option<Scalar>,
}

/// Seed 004 `refund`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Accepted and ignored: the bet, named by `bet_id` and its player, was blocked for its
    /// bookmaker already.
    #[serde(default)]
    pub partner_id: Option<String>,
    /// The player: digits, as a string (as seed 004 sends it) or a number, at most
    /// 9223372036854775807.
    #[schema(value_type = String, example = "67890")]
    pub partner_player_id: Scalar,
    pub bet_id: String,
    /// Accepted and ignored, as seed 004 sends it (string or number): the whole hold is
    /// released.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub amount: Option<Scalar>,
    /// Accepted as seed 004 callers send it; the hold's currency is used.
    #[serde(default)]
    pub currency: Option<String>,
}

/// Recalculation of one settled bookmaker bet.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecalculateBetRequest {
    /// Accepted and ignored: the bet, named by `bet_id` and its player, was blocked for its
    /// bookmaker already.
    #[serde(default)]
    pub partner_id: Option<String>,
    /// The player: digits, as a string (as seed 004 sends it) or a number, at most
    /// 9223372036854775807.
    #[schema(value_type = String, example = "67890")]
    pub partner_player_id: Scalar,
    pub bet_id: String,
    #[serde(default)]
    pub currency: Option<String>,
    pub status: PartnerStatus,
    /// With status win: the payout, a decimal string or a JSON number read exactly as
    /// written (`200`, `200.5`).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "200.00")]
    pub payout: Option<Scalar>,
    /// The recalculation's id (idempotency), unique per player.
    pub transaction_id: String,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartnerStatus {
    Win,
    Lose,
    Void,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PartnerAnswer {
    /// approved, blocked, updated, refunded, recalculated.
    pub status: String,
    pub message: String,
    pub bet_id: String,
}

fn partner_answer(status: &str, message: &str, bet_id: String) -> Json<PartnerAnswer> {
    Json(PartnerAnswer { status: status.into(), message: message.into(), bet_id })
}

/// A bookmaker's result, with its payout (in `currency`) when won.
fn partner_status(
    app: &AppState,
    status: PartnerStatus,
    payout: Option<&Scalar>,
    currency: Option<&str>,
) -> Result<PartnerBetStatus, ApiError> {
    match status {
        PartnerStatus::Win => {
            let payout = payout.ok_or_else(|| ApiError::invalid("payout is required with win"))?;
            Ok(PartnerBetStatus::Won { payout: app.money(currency, payout.as_str())?.1 })
        }
        PartnerStatus::Lose => Ok(PartnerBetStatus::Lost),
        PartnerStatus::Void => Ok(PartnerBetStatus::Void),
    }
}

/// Seed 004 `check_bet`: would the stake be accepted? Moves nothing.
#[utoipa::path(post, path = "/api/check_bet", tag = "operator", request_body = CheckBetRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "approved", body = PartnerAnswer), ErrorResponses))]
pub async fn check_bet(
    State(app): State<AppState>,
    Signed(req): Signed<CheckBetRequest>,
) -> Result<Json<PartnerAnswer>, ApiError> {
    let user = user_id("partner_player_id", req.partner_player_id.as_str())?;
    let (currency, amount) = app.money(req.currency.as_deref(), req.amount.as_str())?;
    app.engine.call(Command::CheckBet { user, currency, amount }).await?;
    Ok(partner_answer("approved", "the stake is possible", req.bet_id))
}

/// Seed 004 `block_funds`: holds the stake of a bookmaker bet.
#[utoipa::path(post, path = "/api/block_funds", tag = "operator", request_body = BlockFundsRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "blocked", body = PartnerAnswer), ErrorResponses))]
pub async fn block_funds(
    State(app): State<AppState>,
    Signed(req): Signed<BlockFundsRequest>,
) -> Result<Json<PartnerAnswer>, ApiError> {
    let user = user_id("partner_player_id", req.partner_player_id.as_str())?;
    let (currency, amount) = app.money(req.currency.as_deref(), req.amount.as_str())?;
    let bet = ext_id("bet_id", &req.bet_id)?;
    let partner = crate::code("partner_id", req.partner_id.as_deref().unwrap_or("default"))?;
    app.engine.call(Command::BlockFunds { bet, partner, user, currency, amount }).await?;
    Ok(partner_answer("blocked", "funds have been blocked", req.bet_id))
}

/// Seed 004 `update_bet_status`: win (with payout), lose or void.
#[utoipa::path(post, path = "/api/update_bet_status", tag = "operator", request_body = UpdateBetStatusRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "updated", body = PartnerAnswer), ErrorResponses))]
pub async fn update_bet_status(
    State(app): State<AppState>,
    Signed(req): Signed<UpdateBetStatusRequest>,
) -> Result<Json<PartnerAnswer>, ApiError> {
    let user = user_id("partner_player_id", req.partner_player_id.as_str())?;
    let bet = ext_id("bet_id", &req.bet_id)?;
    let status = partner_status(&app, req.status, req.payout.as_ref(), req.currency.as_deref())?;
    app.engine.call(Command::UpdateBetStatus { bet, user, status }).await?;
    Ok(partner_answer("updated", "the bet status has been updated", req.bet_id))
}

/// Seed 004 `refund`: releases the hold of a bookmaker bet.
#[utoipa::path(post, path = "/api/refund", tag = "operator", request_body = RefundRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "refunded", body = PartnerAnswer), ErrorResponses))]
pub async fn refund(
    State(app): State<AppState>,
    Signed(req): Signed<RefundRequest>,
) -> Result<Json<PartnerAnswer>, ApiError> {
    let user = user_id("partner_player_id", req.partner_player_id.as_str())?;
    let bet = ext_id("bet_id", &req.bet_id)?;
    app.engine.call(Command::Refund { bet, user }).await?;
    Ok(partner_answer("refunded", "funds have been refunded", req.bet_id))
}

/// Seed 004 recalculation of one settled bookmaker bet.
#[utoipa::path(post, path = "/api/recalculate_bet", tag = "operator", request_body = RecalculateBetRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "recalculated", body = PartnerAnswer), ErrorResponses))]
pub async fn recalculate_bet(
    State(app): State<AppState>,
    Signed(req): Signed<RecalculateBetRequest>,
) -> Result<Json<PartnerAnswer>, ApiError> {
    let user = user_id("partner_player_id", req.partner_player_id.as_str())?;
    let bet = ext_id("bet_id", &req.bet_id)?;
    let status = partner_status(&app, req.status, req.payout.as_ref(), req.currency.as_deref())?;
    let transaction = ext_id("transaction_id", &req.transaction_id)?;
    app.engine.call(Command::RecalculateBet { bet, user, transaction, status }).await?;
    Ok(partner_answer("recalculated", "the bet has been recalculated", req.bet_id))
}
