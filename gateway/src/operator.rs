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

use crate::error::{ApiError, ErrorResponses};
use crate::{ext_id, now_ms, AppState, Signed};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use croupier_domain::command::{DrawResult, PartnerBetStatus};
use croupier_domain::state::{Outcome, RoundStatus};
use croupier_domain::{Command, Reply, UserId};
use serde::{Deserialize, Deserializer, Serialize};
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

/// Seed 004 `recalculate_bets`: a corrected draw result.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecalculateBetsRequest {
    pub round_id: String,
    /// The corrected outcome per selection of the game, in its order.
    pub outcomes: Vec<OutcomeName>,
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
    Ok(Json(round_answer(req.round_id, reply, after)))
}

/// Seed 000 `drawresult`: the draw result, which settles every bet of the round.
#[utoipa::path(post, path = "/api/drawresult", tag = "operator", request_body = DrawResultRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "Drawn and settled", body = RoundAnswer), ErrorResponses))]
pub async fn drawresult(
    State(app): State<AppState>,
    Signed(req): Signed<DrawResultRequest>,
) -> Result<Json<RoundAnswer>, ApiError> {
    let round = ext_id("round_id", &req.round_id)?;
    let reply = app.engine.call(Command::GameDraw { round, result: Some(draw_result(&req.outcomes)) }).await?;
    Ok(Json(round_answer(req.round_id, reply, RoundStatus::Drawn)))
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

/// Seed 004 `recalculate_bets`: the same corrected draw, under the bookmakers' name.
#[utoipa::path(post, path = "/api/recalculate_bets", tag = "operator", request_body = RecalculateBetsRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "Recalculated", body = RoundAnswer), ErrorResponses))]
pub async fn recalculate_bets(
    State(app): State<AppState>,
    Signed(req): Signed<RecalculateBetsRequest>,
) -> Result<Json<RoundAnswer>, ApiError> {
    resettle_round(&app, req.round_id, &req.outcomes).await
}

/// A user id as a JSON number or a string of digits (seed 004 sends strings).
pub fn de_user<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrStr {
        N(u64),
        S(String),
    }
    match NumOrStr::deserialize(d)? {
        NumOrStr::N(n) => Ok(n),
        NumOrStr::S(s) => s.parse().map_err(|_| serde::de::Error::custom("a user id is an unsigned integer")),
    }
}

/// Money in from the operator's cashier.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositRequest {
    /// The cashier's transfer id, unique per player (the same id for another player is another
    /// transfer, on every shard count): a repeat with the same content moves nothing and gets
    /// the first answer; the same id with other content is `IDEMPOTENCY_CONFLICT`.
    pub transfer_id: String,
    #[serde(deserialize_with = "de_user")]
    #[schema(value_type = u64)]
    pub user_id: u64,
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
    #[serde(deserialize_with = "de_user")]
    #[schema(value_type = u64)]
    pub user_id: u64,
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
    user_id: u64,
    amount: String,
    currency: Option<String>,
    deposit: bool,
}

async fn cashier(app: &AppState, req: Cashier) -> Result<Json<CashierAnswer>, ApiError> {
    let transfer = ext_id("transfer_id", &req.transfer_id)?;
    let (currency, amount) = app.money(req.currency.as_deref(), &req.amount)?;
    let user = UserId(req.user_id);
    let cmd = if req.deposit {
        Command::Deposit { transfer, user, currency, amount }
    } else {
        Command::Withdraw { transfer, user, currency, amount }
    };
    let reply = app.engine.call(cmd).await?;
    let replayed = matches!(reply, Reply::Transfer { replayed: true, .. });
    Ok(Json(CashierAnswer {
        transfer_id: req.transfer_id,
        user_id: req.user_id,
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
    #[serde(deserialize_with = "de_user")]
    #[schema(value_type = u64)]
    pub user_id: u64,
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
    let issued = now_ms().max(app.revocations.not_before(req.user_id));
    let expires_at = issued.saturating_add(app.cfg.token_ttl_ms);
    let token = app.auth.issue(UserId(req.user_id), issued, expires_at);
    Ok(Json(SessionAnswer { user_id: req.user_id, token, expires_at }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    #[serde(deserialize_with = "de_user")]
    #[schema(value_type = u64)]
    pub user_id: u64,
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
    let user_id = req.user_id;
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
    #[serde(default)]
    pub partner_id: Option<String>,
    #[serde(deserialize_with = "de_user")]
    #[schema(value_type = String, example = "67890")]
    pub partner_player_id: u64,
    /// The bookmaker's bet id, unique per player (`partner_player_id`): the same id for another
    /// player names another bet.
    pub bet_id: String,
    /// The stake, a decimal string.
    pub amount: String,
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
    #[serde(deserialize_with = "de_user")]
    #[schema(value_type = String, example = "67890")]
    pub partner_player_id: u64,
    /// The bookmaker's bet id, unique per player (`partner_player_id`): the same id for another
    /// player names another bet.
    pub bet_id: String,
    /// The stake to hold, a decimal string.
    pub amount: String,
    #[serde(default)]
    pub currency: Option<String>,
}

/// Seed 004 `update_bet_status`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBetStatusRequest {
    #[serde(default)]
    pub partner_id: Option<String>,
    #[serde(deserialize_with = "de_user")]
    #[schema(value_type = String, example = "67890")]
    pub partner_player_id: u64,
    pub bet_id: String,
    /// Accepted as seed 004 sends it; the held stake is what settles.
    #[serde(default)]
    pub amount: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    pub status: PartnerStatus,
    /// With status win: the payout, a decimal string.
    #[serde(default)]
    pub payout: Option<String>,
}

/// Seed 004 `refund`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    #[serde(default)]
    pub partner_id: Option<String>,
    #[serde(deserialize_with = "de_user")]
    #[schema(value_type = String, example = "67890")]
    pub partner_player_id: u64,
    pub bet_id: String,
    /// Accepted as seed 004 sends it; the whole hold is released.
    #[serde(default)]
    pub amount: Option<String>,
    /// Accepted as seed 004 callers send it; the hold's currency is used.
    #[serde(default)]
    pub currency: Option<String>,
}

/// Recalculation of one settled bookmaker bet.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecalculateBetRequest {
    #[serde(default)]
    pub partner_id: Option<String>,
    #[serde(deserialize_with = "de_user")]
    #[schema(value_type = String, example = "67890")]
    pub partner_player_id: u64,
    pub bet_id: String,
    #[serde(default)]
    pub currency: Option<String>,
    pub status: PartnerStatus,
    /// With status win: the payout, a decimal string.
    #[serde(default)]
    pub payout: Option<String>,
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
    payout: Option<&str>,
    currency: Option<&str>,
) -> Result<PartnerBetStatus, ApiError> {
    match status {
        PartnerStatus::Win => {
            let payout = payout.ok_or_else(|| ApiError::invalid("payout is required with win"))?;
            Ok(PartnerBetStatus::Won { payout: app.money(currency, payout)?.1 })
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
    let (currency, amount) = app.money(req.currency.as_deref(), &req.amount)?;
    app.engine.call(Command::CheckBet { user: UserId(req.partner_player_id), currency, amount }).await?;
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
    let (currency, amount) = app.money(req.currency.as_deref(), &req.amount)?;
    let bet = ext_id("bet_id", &req.bet_id)?;
    let partner = crate::code("partner_id", req.partner_id.as_deref().unwrap_or("default"))?;
    let user = UserId(req.partner_player_id);
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
    let bet = ext_id("bet_id", &req.bet_id)?;
    let status = partner_status(&app, req.status, req.payout.as_deref(), req.currency.as_deref())?;
    app.engine.call(Command::UpdateBetStatus { bet, user: UserId(req.partner_player_id), status }).await?;
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
    let bet = ext_id("bet_id", &req.bet_id)?;
    app.engine.call(Command::Refund { bet, user: UserId(req.partner_player_id) }).await?;
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
    let bet = ext_id("bet_id", &req.bet_id)?;
    let status = partner_status(&app, req.status, req.payout.as_deref(), req.currency.as_deref())?;
    let transaction = ext_id("transaction_id", &req.transaction_id)?;
    app.engine.call(Command::RecalculateBet { bet, user: UserId(req.partner_player_id), transaction, status }).await?;
    Ok(partner_answer("recalculated", "the bet has been recalculated", req.bet_id))
}
