//! Player endpoints, authenticated by `Authorization: Bearer <token>`. Every read and write
//! is for the token's player only: another player's bet is answered 404 (its existence is
//! not revealed), another player's account cannot be named at all.

use crate::amount;
use crate::error::{ApiError, ErrorResponses};
use crate::extract::{Path, Query};
use crate::fields::Scalar;
use crate::operator::{countdown_s, status_name, OutcomeName};
use crate::{ext_id, now_ms, parse_body, AppState};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use croupier_domain::command::{PacketKind, PlaceBet, SendRedPacket, Transfer, TransferSource, MAX_PACKET_RECIPIENTS};
use croupier_domain::ids::{BetId, SelectionId};
use croupier_domain::state::{BetState, PacketStatus, State as EngineState};
use croupier_domain::Reject;
use croupier_domain::{Command, ExtId, Reply, UserId};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, ToSchema)]
pub struct BetRequest {
    /// The caller's order number, unique per player (seed 000: made by the player's client;
    /// another player's bet with the same number is another bet, on every shard count): a
    /// repeat with the same content is answered with the first answer (`replayed: true`) and
    /// moves nothing; the same number with other content is `IDEMPOTENCY_CONFLICT`.
    pub order_no: String,
    pub round_id: String,
    /// Index of the selection in the game (baccarat: 0 banker, 1 player, 2 tie).
    #[schema(minimum = 0, maximum = 65535)]
    pub selection: u16,
    /// Stake, decimal string such as "10.00".
    pub amount: String,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub platform: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BetAnswer {
    pub order_no: String,
    pub bet_id: u32,
    /// Seed 000 `bill_status`: 1 open, 2 settled.
    pub bill_status: u8,
    pub replayed: bool,
}

/// Seed 000 `bet`: places a bet on an open round.
#[utoipa::path(post, path = "/api/bet", tag = "player", request_body = BetRequest,
    security(("player_token" = [])),
    responses((status = 200, description = "Accepted", body = BetAnswer), ErrorResponses))]
pub async fn bet(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Json<BetAnswer>, ApiError> {
    let player = app.player(&headers)?;
    let req: BetRequest = parse_body(&body)?;
    let (currency, stake) = app.money(req.currency.as_deref(), &req.amount)?;
    let platform = match &req.platform {
        Some(p) => crate::code("platform", p)?,
        None => crate::code("platform", &app.cfg.default_platform)?,
    };
    let cmd = Command::PlaceBet(PlaceBet {
        order_no: ext_id("order_no", &req.order_no)?,
        user: player.user,
        round: ext_id("round_id", &req.round_id)?,
        selection: SelectionId(req.selection),
        stake,
        currency,
        platform,
    });
    match app.engine.call(cmd).await? {
        Reply::Bet { bet, state, replayed } => Ok(Json(BetAnswer {
            order_no: req.order_no,
            bet_id: bet.0,
            bill_status: if state == BetState::Open { 1 } else { 2 },
            replayed,
        })),
        other => Err(ApiError::unavailable(format!("unexpected answer {other:?}"))),
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Balance {
    pub currency: String,
    /// What the player may stake or withdraw.
    pub available: String,
    /// Stakes of open bets.
    pub held: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BalanceAnswer {
    pub user_id: u64,
    pub balances: Vec<Balance>,
}

fn balances_of(s: &EngineState, user: UserId) -> Vec<Balance> {
    s.currencies()
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let acc = s.account_of(user, croupier_domain::ids::CurrencyId(i as u32))?;
            let a = s.account(acc);
            Some(Balance {
                currency: c.code.as_str().into(),
                available: amount::format(a.available, c.exponent),
                held: amount::format(a.held, c.exponent),
            })
        })
        .collect()
}

/// The token's player's balances, one per currency they hold. Red-packet shares grabbed from
/// a sender on another shard arrive as a transfer between shards; the grab answers only once
/// it is credited (`credited: true`), so a balance read after the grab's answer includes it.
#[utoipa::path(get, path = "/api/me/balance", tag = "player", security(("player_token" = [])),
    responses((status = 200, description = "Balances", body = BalanceAnswer), ErrorResponses))]
pub async fn balance(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<BalanceAnswer>, ApiError> {
    let player = app.player(&headers)?;
    let user = player.user;
    let balances = app.engine.read(app.engine.shard_of(user), move |s| balances_of(s, user)).await?;
    Ok(Json(BalanceAnswer { user_id: user.0, balances }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BetView {
    pub order_no: String,
    pub bet_id: u32,
    /// The round, or none for a bookmaker bet.
    pub round_id: Option<String>,
    pub selection: u16,
    pub amount: String,
    pub currency: String,
    /// Decimal odds accepted, e.g. "1.95".
    pub odds: String,
    pub bill_status: u8,
    /// Once settled.
    pub outcome: Option<OutcomeName>,
    pub payout: Option<String>,
    pub placed_at: u64,
}

fn bet_view(s: &EngineState, id: BetId) -> BetView {
    let b = s.bet(id);
    let a = s.account(b.account);
    let c = &s.currencies()[a.currency.0 as usize];
    let (outcome, payout) = match b.state {
        BetState::Open => (None, None),
        BetState::Settled { outcome, payout } => {
            (Some(OutcomeName::from(outcome)), Some(amount::format(payout, c.exponent)))
        }
    };
    BetView {
        order_no: b.order_no.as_str().into(),
        bet_id: id.0,
        round_id: b.round.map(|r| s.round(r).id.as_str().into()),
        selection: b.selection.0,
        amount: amount::format(b.stake, c.exponent),
        currency: c.code.as_str().into(),
        odds: b.odds.to_decimal().to_string(),
        bill_status: b.bill_status(),
        outcome,
        payout,
        placed_at: b.placed_at.0,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct BetsQuery {
    /// Most bets returned, newest first [default 50, at most 500].
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The cursor: list the bets placed before this one (the `next_before` of the previous
    /// page). A bet id that is not one of the player's lists nothing.
    pub before: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BetsAnswer {
    pub bets: Vec<BetView>,
    /// The cursor for the next (older) page, as `before`; absent on the last page.
    pub next_before: Option<u32>,
}

/// The player's bets, newest first, a page at a time (`limit`, then `before` = the previous
/// page's `next_before`). Found through the shard's per-player index: a page costs the shard
/// the bets it returns, however many bets the shard or the player has.
#[utoipa::path(get, path = "/api/me/bets", tag = "player", params(BetsQuery), security(("player_token" = [])),
    responses((status = 200, description = "Bets", body = BetsAnswer), ErrorResponses))]
pub async fn my_bets(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<BetsQuery>,
) -> Result<Json<BetsAnswer>, ApiError> {
    let player = app.player(&headers)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500) as usize;
    let (user, before) = (player.user, q.before.map(BetId));
    let (bets, next_before) = app
        .engine
        .read(app.engine.shard_of(user), move |s| {
            let mut ids = s.bets_of_user(user, before);
            let bets: Vec<BetView> = ids.by_ref().take(limit).map(|id| bet_view(s, id)).collect();
            let more = ids.next().is_some();
            let next = if more { bets.last().map(|b| b.bet_id) } else { None };
            (bets, next)
        })
        .await?;
    Ok(Json(BetsAnswer { bets, next_before }))
}

/// One of the player's bets by order number; another player's is not found.
#[utoipa::path(get, path = "/api/me/bets/{order_no}", tag = "player", security(("player_token" = [])),
    params(("order_no" = String, Path, description = "The bet's order number")),
    responses((status = 200, description = "The bet", body = BetView), ErrorResponses))]
pub async fn my_bet(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(order_no): Path<String>,
) -> Result<Json<BetView>, ApiError> {
    let player = app.player(&headers)?;
    let order = ext_id("order_no", &order_no).map_err(|_| ApiError::not_found("BET_NOT_FOUND", "unknown bet"))?;
    let user = player.user;
    let view = app
        .engine
        .read(app.engine.shard_of(user), move |s| {
            let id = s.bet_by_order(user, &order)?;
            (s.account(s.bet(id).account).user == user).then(|| bet_view(s, id))
        })
        .await?;
    view.map(Json).ok_or_else(|| ApiError::not_found("BET_NOT_FOUND", "unknown bet"))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoundView {
    pub round_id: String,
    pub game: String,
    pub status: String,
    pub game_status: u8,
    pub bet_start_time: u64,
    pub bet_stop_time: u64,
    /// Seconds left to bet (0 once closed).
    pub countdown: u64,
    /// Once drawn: one outcome per selection.
    pub result: Option<Vec<OutcomeName>>,
}

/// A round with its betting countdown.
#[utoipa::path(get, path = "/api/rounds/{round_id}", tag = "player", security(("player_token" = [])),
    params(("round_id" = String, Path, description = "The operator's round id")),
    responses((status = 200, description = "The round", body = RoundView), ErrorResponses))]
pub async fn round(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(round_id): Path<String>,
) -> Result<Json<RoundView>, ApiError> {
    app.player(&headers)?;
    let not_found = || ApiError::not_found("ROUND_NOT_FOUND", "unknown round");
    let id = ext_id("round_id", &round_id).map_err(|_| not_found())?;
    // Every shard holds a copy of every round: read the coordinator's.
    let shard = croupier_runtime::round_coordinator(&id, app.engine.shards());
    let now = now_ms();
    let view = app
        .engine
        .read(shard, move |s| {
            let r = s.round(s.round_by_id(&id)?);
            let betting = r.status == croupier_domain::state::RoundStatus::Betting;
            Some(RoundView {
                round_id: r.id.as_str().into(),
                game: s.games()[r.game.0 as usize].def.game.as_str().into(),
                status: status_name(r.status).into(),
                game_status: r.status.code(),
                bet_start_time: r.bet_start.0,
                bet_stop_time: r.bet_stop.0,
                countdown: if betting { countdown_s(r.bet_stop.0, now) } else { 0 },
                result: r.result.as_ref().map(|d| d.outcomes.iter().map(|o| OutcomeName::from(*o)).collect()),
            })
        })
        .await?;
    view.map(Json).ok_or_else(not_found)
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PacketKindName {
    /// Equal shares.
    Normal,
    /// Random shares (double-mean method).
    Lucky,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SendPacketRequest {
    /// The sender's packet id, unique per sender (a packet's link names both): a repeat with
    /// the same content moves nothing; the same id with other content is `IDEMPOTENCY_CONFLICT`.
    pub packet_id: String,
    /// Total, decimal string.
    pub amount: String,
    #[schema(minimum = 1)]
    pub shares: u32,
    #[serde(default)]
    pub kind: Option<PacketKindName>,
    /// How long it can be grabbed (default 24 h).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 2592000000_u64)]
    pub ttl_ms: Option<u64>,
    #[serde(default)]
    pub currency: Option<String>,
    /// Seed 002 "选择红包接收人": the only players who may grab, as user ids (digits, JSON
    /// numbers or strings), one or at most 1,000, and at least as many as the shares; order
    /// and repeats do not matter. Absent or empty: anyone with the packet's link.
    #[serde(default)]
    #[schema(value_type = Option<Vec<u64>>, max_items = 1000)]
    pub recipients: Option<Vec<Scalar>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SendPacketAnswer {
    pub packet_id: String,
    /// The sender's user id: with the packet id, the packet's link.
    pub sender: u64,
    pub replayed: bool,
}

/// Sends a red packet: the total leaves the sender's balance into the packet's pool.
#[utoipa::path(post, path = "/api/red_packets", tag = "player", request_body = SendPacketRequest,
    security(("player_token" = [])),
    responses((status = 200, description = "Sent", body = SendPacketAnswer), ErrorResponses))]
pub async fn send_packet(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SendPacketAnswer>, ApiError> {
    let player = app.player(&headers)?;
    let req: SendPacketRequest = parse_body(&body)?;
    let (currency, total) = app.money(req.currency.as_deref(), &req.amount)?;
    let packet = ext_id("packet_id", &req.packet_id)?;
    if req.ttl_ms.is_some_and(|t| t == 0 || t > 30 * 86_400_000) {
        return Err(ApiError::unprocessable("INVALID_TTL", "ttl_ms must be between 1 and 2592000000"));
    }
    let kind = match req.kind.unwrap_or(PacketKindName::Normal) {
        PacketKindName::Normal => PacketKind::Normal,
        // The split's seed is an input of the command, so a replay of the journal agrees; it
        // is keyed and derived from the request, so a repeat (also after a restart) matches
        // the first send and players cannot predict it (see `Auth::lucky_seed`).
        PacketKindName::Lucky => PacketKind::Lucky {
            seed: app.auth.lucky_seed(player.user, &req.packet_id, currency.as_str(), total.0, req.shares),
        },
    };
    let recipients = recipients(req.recipients.as_deref().unwrap_or_default())?;
    let cmd = Command::SendRedPacket(SendRedPacket {
        packet,
        sender: player.user,
        currency,
        total,
        shares: req.shares,
        kind,
        ttl_ms: req.ttl_ms,
        recipients,
    });
    let replayed = matches!(app.engine.call(cmd).await?, Reply::PacketSent { replayed: true, .. });
    Ok(Json(SendPacketAnswer { packet_id: req.packet_id, sender: player.user.0, replayed }))
}

/// A packet's recipients as user ids; the list's length is checked before any id is read.
fn recipients(list: &[Scalar]) -> Result<Vec<UserId>, ApiError> {
    if list.len() > MAX_PACKET_RECIPIENTS {
        return Err(Reject::PacketRecipients { max: MAX_PACKET_RECIPIENTS as u32 }.into());
    }
    list.iter().map(|u| crate::fields::user_id("recipients", u.as_str())).collect()
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GrabAnswer {
    pub packet_id: String,
    pub sender: u64,
    /// Which share (from 0).
    pub share: u32,
    pub amount: String,
    pub replayed: bool,
    /// Whether the share is already in the grabber's balance. A share for a grabber on
    /// another shard than the sender's travels as a transfer between shards; the answer awaits
    /// (at most 2 s) its application on the grabber's shard, made durable, and says false if
    /// it was not yet.
    pub credited: bool,
}

/// The sender of a packet link. An id the edge would refuse (not digits, above
/// `MAX_USER_ID`) cannot have sent a packet: not found.
fn parse_sender(s: &str) -> Result<UserId, ApiError> {
    crate::fields::user_id("sender", s).map_err(|_| ApiError::not_found("PACKET_NOT_FOUND", "unknown red packet"))
}

/// Grabs a share of a red packet (one per player per packet).
#[utoipa::path(post, path = "/api/red_packets/{sender}/{packet_id}/grab", tag = "player",
    security(("player_token" = [])),
    params(("sender" = u64, Path, description = "The sender's user id"), ("packet_id" = String, Path, description = "The packet id")),
    responses((status = 200, description = "Grabbed", body = GrabAnswer), ErrorResponses))]
pub async fn grab(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((sender, packet_id)): Path<(String, String)>,
) -> Result<Json<GrabAnswer>, ApiError> {
    let player = app.player(&headers)?;
    let sender = parse_sender(&sender)?;
    let packet =
        ext_id("packet_id", &packet_id).map_err(|_| ApiError::not_found("PACKET_NOT_FOUND", "unknown red packet"))?;
    let (from, to) = (app.engine.shard_of(sender), app.engine.shard_of(player.user));
    let reply = app.engine.call(Command::GrabRedPacket { packet, sender, user: player.user }).await?;
    let Reply::Grabbed { share, amount: got, replayed, packet: no } = reply else {
        return Err(ApiError::unavailable(format!("unexpected answer {reply:?}")));
    };
    // On the sender's shard: the currency's exponent and, for a grabber elsewhere, the
    // transfer that carries the share (journaled, and durable, before the grab was answered).
    let (exponent, transfer) = app
        .engine
        .read(from, move |s| {
            let p = s.packet(no);
            let exponent = s.currencies()[s.account(p.sender).currency.0 as usize].exponent;
            (exponent, (from != to).then(|| share_transfer(s, to as u32, &p.id, share)))
        })
        .await?;
    let credited = match transfer {
        None => true,
        Some(seq) => app.engine.transfer_applied(from, to, seq, CREDIT_WAIT).await,
    };
    Ok(Json(GrabAnswer {
        packet_id,
        sender: sender.0,
        share,
        amount: amount::format(got, exponent),
        replayed,
        credited,
    }))
}

/// How long a grab waits for its share to be credited on the grabber's shard.
const CREDIT_WAIT: Duration = Duration::from_secs(2);
/// How many of the newest unacknowledged transfers are searched for a grab's own.
const SHARE_SEARCH: usize = 1024;

/// The sequence to await on the link to shard `to` for share `share` of packet `packet`: its
/// transfer's own, found among the newest unacknowledged ones; if every unacknowledged one was
/// searched, it was acknowledged (so applied): the acknowledged sequence, already applied; else
/// the last one sent, which comes no earlier (a link applies in order).
fn share_transfer(s: &EngineState, to: u32, packet: &ExtId, share: u32) -> u64 {
    let Some(link) = s.link(to) else { return 0 };
    let mine = |t: &&Transfer| matches!(t.source, TransferSource::PacketShare { packet: p, share: k } if p == *packet && k == share);
    match link.unacked.iter().rev().take(SHARE_SEARCH).find(mine) {
        Some(t) => t.seq,
        None if link.unacked.len() <= SHARE_SEARCH => link.acked,
        None => link.sent,
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GrabView {
    pub user_id: u64,
    pub amount: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PacketView {
    pub packet_id: String,
    pub sender: u64,
    pub currency: String,
    pub total: String,
    pub shares: u32,
    pub kind: PacketKindName,
    /// open, exhausted, expired.
    pub status: String,
    /// Still in the pool.
    pub remaining: String,
    pub sent_at: u64,
    pub expires_at: u64,
    /// In grab order: share i is grabs[i].
    pub grabs: Vec<GrabView>,
    /// The players named as recipients (sorted), or `null`: anyone with the link may grab.
    pub recipients: Option<Vec<u64>>,
    /// Of the recipients, those who have not grabbed yet, while `status` is open (empty once
    /// exhausted or expired); `null` for a packet open to anyone.
    pub may_still_grab: Option<Vec<u64>>,
}

/// A red packet and its grabs (anyone with the packet's link may see it).
#[utoipa::path(get, path = "/api/red_packets/{sender}/{packet_id}", tag = "player",
    security(("player_token" = [])),
    params(("sender" = u64, Path, description = "The sender's user id"), ("packet_id" = String, Path, description = "The packet id")),
    responses((status = 200, description = "The packet", body = PacketView), ErrorResponses))]
pub async fn packet(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((sender, packet_id)): Path<(String, String)>,
) -> Result<Json<PacketView>, ApiError> {
    app.player(&headers)?;
    let not_found = || ApiError::not_found("PACKET_NOT_FOUND", "unknown red packet");
    let sender = parse_sender(&sender)?;
    let id = ext_id("packet_id", &packet_id).map_err(|_| not_found())?;
    let view = app
        .engine
        .read(app.engine.shard_of(sender), move |s| {
            let p = s.packet(s.packet_by_id(sender, &id)?);
            let acc = s.account(p.sender);
            if acc.user != sender {
                return None;
            }
            let c = &s.currencies()[acc.currency.0 as usize];
            Some(PacketView {
                packet_id: p.id.as_str().into(),
                sender: sender.0,
                currency: c.code.as_str().into(),
                total: amount::format(p.total, c.exponent),
                shares: p.shares,
                kind: match p.kind {
                    PacketKind::Normal => PacketKindName::Normal,
                    PacketKind::Lucky { .. } => PacketKindName::Lucky,
                },
                status: match p.status {
                    PacketStatus::Open => "open",
                    PacketStatus::Exhausted => "exhausted",
                    PacketStatus::Expired => "expired",
                }
                .into(),
                remaining: amount::format(p.remaining, c.exponent),
                sent_at: p.sent_at.0,
                expires_at: p.expires_at.0,
                grabs: p
                    .grabs
                    .iter()
                    .map(|(u, m)| GrabView { user_id: u.0, amount: amount::format(*m, c.exponent) })
                    .collect(),
                recipients: (!p.recipients.is_empty()).then(|| p.recipients.iter().map(|u| u.0).collect()),
                may_still_grab: (!p.recipients.is_empty()).then(|| {
                    let open = p.status == PacketStatus::Open;
                    p.waiting_recipients().filter(|_| open).map(|u| u.0).collect()
                }),
            })
        })
        .await?;
    view.map(Json).ok_or_else(not_found)
}
