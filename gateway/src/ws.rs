//! WebSocket `/ws`: authenticate, subscribe to topics, receive push messages, resume after a
//! reconnect.
//!
//! Authentication (every session is a player's; the token never goes in the URL, where
//! proxies and access logs would keep it):
//! - `Authorization: Bearer <token>` on the upgrade request: an invalid, expired or revoked
//!   token is answered `401 {"code","message"}` without upgrading; or
//! - without that header, the first message `{"op":"auth","token":"..."}` (`"type":"auth"` is
//!   accepted too), answered `{"type":"authenticated","user_id":7,"expires_at":<ms>}`. A bad
//!   token, any other first message, or none within `ws_auth_timeout_ms` (10 s by default) is
//!   answered `{"type":"error","code":...}` and the server closes.
//!
//! A URL carrying `?token=` is refused (400 `TOKEN_IN_URL`) so that old clients learn of the
//! change instead of leaking the token. The session closes with `{"type":"error"}` when its
//! token expires (`TOKEN_EXPIRED`) or its user's sessions are revoked (`TOKEN_REVOKED`).
//!
//! Client → server (JSON text frames), once authenticated:
//! `{"op":"subscribe","topics":["round:r1","balance","bets","packet:7:p1"],"resume":{"0":41,"1":17}}`
//! (`resume`: per shard, the last position received; `balance` is the token's player's, with
//! their own crash bets; `crash:<channel>` a crash channel's terms, bets and cashouts without
//! who, the crash with its game hash) and `{"op":"ping"}`.
//!
//! Server → client: `{"type":"subscribed","topics":[...],"heads":{"0":52,...}}`,
//! `{"type":"event","topic":"...","shard":0,"position":52,"event":{"type":"bet_accepted",...}}`,
//! `{"type":"reload","shard":0,"oldest":40}` (what was missed is no longer buffered: reload
//! with the HTTP API, then subscribe again without resume), `{"type":"error",...}`,
//! `{"type":"pong"}`, and `{"type":"dropped"}` before the server closes a client too slow to
//! keep up.
//!
//! Game actions (the player's fast path, seed 003): `{"op":"bet","request_id":"r1","body":{...}}`
//! with the body of `POST /api/instant/bets`; `reveal` (`"id"` and `"body":{"tile":3}`),
//! `cashout`, `settle`, `hit`, `stand`, `double`, `split` (`"body":{"step":n}` optional) and
//! `insurance` (`"body":{"take":true}`), each with the bet's `"id"` as in the HTTP path. The
//! answer comes on the same socket, in any order: `{"type":"result","request_id":"r1",
//! "status":200,"body":<the HTTP answer's body>}` or `{"type":"error","request_id":"r1",
//! "status":422,"code":...,"message":...}`, from the same code as HTTP
//! (`instant::perform`). `request_id` is a number or a string of at most 64 bytes
//! (`INVALID_REQUEST_ID`). Up to `ws_max_in_flight` actions (256) may be in flight on one
//! connection; one more is answered `TOO_MANY_IN_FLIGHT` (429) and not played.
//!
//! `{"op":"get_bet_activities","game":"dice","limit":50}` (seed 003's `GET_BET_ACTIVITIES`
//! with `gameId` is accepted) answers `{"type":"bet_activities","game":...,"items":[...]}`,
//! the activity feed's history; the topic `activity` sends its live batches.
//!
//! A connection may subscribe again to add topics (a resume then replays for the topics new
//! to the connection: the others are already flowing). Limits (`config::Limits`): a frame or
//! message over `ws_max_frame_bytes` / `ws_max_message_bytes` is answered
//! `{"type":"error","code":"MESSAGE_TOO_LARGE"}` and the socket is closed (1009: the rest of
//! the frame cannot be skipped); more than `ws_max_topics` in one subscribe or on the
//! connection is `TOO_MANY_TOPICS` and changes nothing; a resume of more than `ws_max_replay`
//! messages of a shard gets `reload`. A request to `/ws` that is not a WebSocket upgrade gets
//! 426 `UPGRADE_REQUIRED`.

use crate::auth::Player;
use crate::error::{clip, ApiError, MESSAGE_BYTES};
use crate::instant::{
    perform, ActionRequest, InstantBetRequest, InstantBetView, InsuranceRequest, PlayerAction, RevealRequest,
};
use crate::push::{Delivery, Topic};
use crate::{now_ms, AppState};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use croupier_domain::instant::blackjack::Action;
use futures_util::stream::FuturesUnordered;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::sync::mpsc;

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;

#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum ClientMsg {
    Subscribe {
        topics: Vec<String>,
        #[serde(default)]
        resume: HashMap<String, u64>,
    },
    Ping,
    /// Game actions: `body` is the HTTP request's body, `id` the path's bet id.
    Bet {
        request_id: RequestId,
        body: Box<InstantBetRequest>,
    },
    Reveal {
        request_id: RequestId,
        id: String,
        body: RevealRequest,
    },
    #[serde(alias = "cash_out")]
    Cashout {
        request_id: RequestId,
        id: String,
    },
    Settle {
        request_id: RequestId,
        id: String,
    },
    Hit {
        request_id: RequestId,
        id: String,
        #[serde(default)]
        body: Option<ActionRequest>,
    },
    Stand {
        request_id: RequestId,
        id: String,
        #[serde(default)]
        body: Option<ActionRequest>,
    },
    Double {
        request_id: RequestId,
        id: String,
        #[serde(default)]
        body: Option<ActionRequest>,
    },
    Split {
        request_id: RequestId,
        id: String,
        #[serde(default)]
        body: Option<ActionRequest>,
    },
    Insurance {
        request_id: RequestId,
        id: String,
        body: InsuranceRequest,
    },
    /// Seed 003's `GET_BET_ACTIVITIES`: the game's last items of the activity feed.
    #[serde(alias = "GET_BET_ACTIVITIES")]
    GetBetActivities {
        #[serde(default, alias = "gameId")]
        game: Option<String>,
        #[serde(default)]
        limit: Option<u32>,
    },
}

/// The caller's name for a game action, echoed in its answer: a string of at most
/// [`MAX_REQUEST_ID`] bytes or a number.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(untagged)]
enum RequestId {
    Number(u64),
    Text(String),
}

const MAX_REQUEST_ID: usize = 64;

/// Only the `request_id` of a message that did not parse, to name it in the error.
#[derive(Deserialize)]
struct JustRequestId {
    request_id: Option<RequestId>,
}

impl ClientMsg {
    /// A game action and its request id, or the message back.
    fn into_action(self) -> Result<(RequestId, PlayerAction), ClientMsg> {
        let act =
            |id, body: Option<ActionRequest>, action| PlayerAction::Act { id, step: body.and_then(|b| b.step), action };
        Ok(match self {
            ClientMsg::Bet { request_id, body } => (request_id, PlayerAction::Bet(*body)),
            ClientMsg::Reveal { request_id, id, body } => (request_id, PlayerAction::Reveal { id, tile: body.tile }),
            ClientMsg::Cashout { request_id, id } => (request_id, PlayerAction::CashOut { id }),
            ClientMsg::Settle { request_id, id } => (request_id, PlayerAction::Settle { id }),
            ClientMsg::Hit { request_id, id, body } => (request_id, act(id, body, Action::Hit)),
            ClientMsg::Stand { request_id, id, body } => (request_id, act(id, body, Action::Stand)),
            ClientMsg::Double { request_id, id, body } => (request_id, act(id, body, Action::Double)),
            ClientMsg::Split { request_id, id, body } => (request_id, act(id, body, Action::Split)),
            ClientMsg::Insurance { request_id, id, body } => {
                let action = Action::Insurance { take: body.take };
                (request_id, PlayerAction::Act { id, step: body.step, action })
            }
            other @ (ClientMsg::Subscribe { .. } | ClientMsg::Ping | ClientMsg::GetBetActivities { .. }) => {
                return Err(other)
            }
        })
    }
}

/// The answer to a game action: the HTTP answer's status and body, or its error.
fn action_answer(request_id: &RequestId, answer: Result<InstantBetView, ApiError>) -> Message {
    match answer {
        Ok(view) => text(json!({"type": "result", "request_id": request_id, "status": 200, "body": view})),
        Err(e) => action_error(Some(request_id), &e),
    }
}

fn action_error(request_id: Option<&RequestId>, e: &ApiError) -> Message {
    let mut v = json!({"type": "error", "request_id": request_id, "status": e.status.as_u16(), "code": e.code,
        "message": e.message});
    if let Some(ms) = e.retry_after_ms {
        v["retry_after_ms"] = json!(ms);
    }
    text(v)
}

/// The first message of a session without an `Authorization` header.
#[derive(Debug, Deserialize)]
struct AuthMsg {
    #[serde(alias = "type")]
    op: String,
    #[serde(default)]
    token: Option<String>,
}

pub async fn ws(
    State(app): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(e) => return upgrade_required(&e),
    };
    if uri.query().is_some_and(|q| q.split('&').any(|kv| kv.starts_with("token="))) {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "TOKEN_IN_URL",
            "send the token as Authorization: Bearer <token> or in a first {\"op\":\"auth\"} message, never in the URL",
        )
        .into_response();
    }
    // A header token is checked before upgrading: a bad one costs the server no session.
    let player = if headers.contains_key(header::AUTHORIZATION) {
        match app.player(&headers) {
            Ok(p) => Some(p),
            Err(e) => return e.into_response(),
        }
    } else {
        None
    };
    let limits = &app.cfg.limits;
    let upgrade = upgrade.max_frame_size(limits.ws_max_frame_bytes).max_message_size(limits.ws_max_message_bytes);
    upgrade.on_upgrade(move |socket| session(app, socket, player))
}

fn upgrade_required(e: &WebSocketUpgradeRejection) -> Response {
    let message = format!("/ws needs a WebSocket upgrade: {}", e.body_text());
    let mut resp = ApiError::new(StatusCode::UPGRADE_REQUIRED, "UPGRADE_REQUIRED", message).into_response();
    resp.headers_mut().insert(header::UPGRADE, axum::http::HeaderValue::from_static("websocket"));
    resp
}

fn text(v: serde_json::Value) -> Message {
    Message::Text(v.to_string().into())
}

fn error(code: &str, message: &str) -> Message {
    text(json!({"type": "error", "code": code, "message": message}))
}

/// Tells the client why and closes.
async fn refuse(mut sink: Sink, e: &ApiError) {
    let _ = sink.send(error(e.code, &e.message)).await;
    let _ = sink.send(Message::Close(None)).await;
}

/// Counts a WebSocket session in `/metrics` while it lives.
struct Open(AppState);

impl Open {
    fn new(app: &AppState) -> Open {
        app.metrics.ws_sessions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Open(app.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.metrics.ws_sessions.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn session(app: AppState, socket: WebSocket, player: Option<Player>) {
    let _open = Open::new(&app);
    let (mut sink, mut stream) = socket.split();
    let player = match player {
        Some(p) => p,
        None => {
            let timeout = Duration::from_millis(app.cfg.ws_auth_timeout_ms);
            let first = tokio::time::timeout(timeout, first_message_auth(&app, &mut stream)).await;
            match first.unwrap_or_else(|_| Err(Some(auth_timeout(timeout)))) {
                Ok(p) => {
                    let ack = json!({"type": "authenticated", "user_id": p.user.0, "expires_at": p.expires_ms});
                    if sink.send(text(ack)).await.is_err() {
                        return;
                    }
                    p
                }
                Err(Some(e)) => return refuse(sink, &e).await,
                Err(None) => return,
            }
        }
    };
    serve(app, sink, stream, player).await
}

fn auth_timeout(t: Duration) -> ApiError {
    ApiError::unauthorized("AUTH_TIMEOUT", format!("no {{\"op\":\"auth\"}} message within {} ms", t.as_millis()))
}

/// Waits for the `auth` message; `Err(None)` when the client went away first.
async fn first_message_auth(app: &AppState, stream: &mut Stream) -> Result<Player, Option<ApiError>> {
    let unauthorized = |m: &str| Some(ApiError::unauthorized("UNAUTHORIZED", m));
    loop {
        let t = match stream.next().await {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Binary(_))) => return Err(unauthorized("the first message must be a JSON auth message")),
            Some(Ok(Message::Close(_)) | Err(_)) | None => return Err(None),
        };
        let msg: AuthMsg = serde_json::from_str(&t)
            .map_err(|_| unauthorized("authenticate first: {\"op\":\"auth\",\"token\":\"...\"}"))?;
        if msg.op != "auth" {
            return Err(unauthorized("authenticate first: {\"op\":\"auth\",\"token\":\"...\"}"));
        }
        let token = msg.token.ok_or_else(|| unauthorized("the auth message has no token"))?;
        return app.session(&token).map_err(Some);
    }
}

/// Sends a resume's backlog straight to the client, before anything from the queue.
async fn send_backlog(sink: &mut Sink, backlog: Vec<Delivery>) -> bool {
    for d in backlog {
        if sink.send(Message::Text(delivery_json(d).into())).await.is_err() {
            return false;
        }
    }
    true
}

fn delivery_json(d: Delivery) -> String {
    match d {
        Delivery::Msg(m, topic) => m.to_json(&topic),
        Delivery::Reload { shard, oldest } => json!({"type": "reload", "shard": shard, "oldest": oldest}).to_string(),
        Delivery::Live(text) => text.to_string(),
    }
}

/// A read error ends the session: a frame or message over the limit is named (the
/// tungstenite error under axum's is not a public type of axum's: its text is what we have).
async fn read_failed(sink: &mut Sink, e: &axum::Error) {
    let text = e.to_string();
    let (code, close) = if text.contains("Space limit exceeded") || text.contains("too long") {
        ("MESSAGE_TOO_LARGE", close_code::SIZE)
    } else {
        ("PROTOCOL_ERROR", close_code::PROTOCOL)
    };
    let _ = sink.send(error(code, &clip(&text, MESSAGE_BYTES))).await;
    let frame = CloseFrame { code: close, reason: code.into() };
    let _ = sink.send(Message::Close(Some(frame))).await;
}

/// What one session subscribed to: its id at the hub, its topics, and its queue's sender,
/// kept here only until the hub holds it (so a dropped subscriber's queue ends); a weak one
/// lets a later subscribe add topics while the hub still holds it.
struct Subscription {
    id: Option<u64>,
    have: HashSet<Topic>,
    own_tx: Option<mpsc::Sender<Delivery>>,
    weak_tx: mpsc::WeakSender<Delivery>,
}

/// An authenticated session: subscriptions and pushes until the client leaves, the server
/// stops, or the token expires or is revoked.
async fn serve(app: AppState, mut sink: Sink, mut stream: Stream, player: Player) {
    let (tx, mut rx) = mpsc::channel::<Delivery>(app.cfg.ws_queue.max(1));
    let mut sub = Subscription { id: None, have: HashSet::new(), weak_tx: tx.downgrade(), own_tx: Some(tx) };
    let mut shutdown = app.shutdown.clone();
    let mut revocations = app.revocations.subscribe();
    let expiry = tokio::time::sleep(Duration::from_millis(player.expires_ms.saturating_sub(now_ms())));
    tokio::pin!(expiry);
    // Game actions being played: polled here, on the session's task (no task per action).
    let mut in_flight = FuturesUnordered::new();
    loop {
        tokio::select! {
            incoming = stream.next() => {
                let msg = match incoming {
                    Some(Ok(msg)) => msg,
                    Some(Err(e)) => {
                        read_failed(&mut sink, &e).await;
                        break;
                    }
                    None => break,
                };
                let raw = match msg {
                    Message::Text(t) => t,
                    Message::Close(_) => break,
                    _ => continue,
                };
                let msg = match serde_json::from_str::<ClientMsg>(&raw).map(ClientMsg::into_action) {
                    Ok(Ok((request_id, action))) => {
                        let reply = start_action(&app, &player, request_id, action, &mut in_flight);
                        if let Some(reply) = reply {
                            if sink.send(reply).await.is_err() {
                                break;
                            }
                        }
                        continue;
                    }
                    Ok(Err(msg)) => Ok(msg),
                    Err(e) => Err((e, raw.as_str())),
                };
                let Some((reply, backlog)) = answer(&app, &player, msg, &mut sub) else { break };
                if sink.send(reply).await.is_err() || !send_backlog(&mut sink, backlog).await {
                    break;
                }
                if sub.id.is_some() {
                    // From now on only the hub holds the queue's sender.
                    sub.own_tx.take();
                }
            }
            Some(reply) = in_flight.next(), if !in_flight.is_empty() => {
                if sink.send(reply).await.is_err() {
                    break;
                }
            }
            delivery = rx.recv(), if sub.own_tx.is_none() => {
                let Some(d) = delivery else {
                    let _ = sink.send(Message::Text(r#"{"type":"dropped","reason":"too slow"}"#.into())).await;
                    break;
                };
                if sink.send(Message::Text(delivery_json(d).into())).await.is_err() {
                    break;
                }
            }
            Ok(()) = revocations.changed() => {
                if !app.revocations.allows(&player) {
                    let e = ApiError::unauthorized("TOKEN_REVOKED", "this session was revoked");
                    let _ = sink.send(error(e.code, &e.message)).await;
                    break;
                }
            }
            () = &mut expiry => {
                let _ = sink.send(error("TOKEN_EXPIRED", "session token has expired; open a new session")).await;
                break;
            }
            _ = shutdown.changed() => break,
        }
    }
    if let Some(id) = sub.id {
        app.hub.unsubscribe(id);
    }
    let _ = sink.send(Message::Close(None)).await;
}

/// The answer to one client message and the backlog a resume owes; `None` ends the session
/// (the hub let go of this subscriber: its queue is ending).
fn answer(
    app: &AppState,
    player: &Player,
    msg: Result<ClientMsg, (serde_json::Error, &str)>,
    sub: &mut Subscription,
) -> Option<(Message, Vec<Delivery>)> {
    let limits = &app.cfg.limits;
    let (topics, resume) = match msg {
        Err((e, raw)) => {
            // A game action that did not parse is answered under its request id.
            let request_id = serde_json::from_str::<JustRequestId>(raw).ok().and_then(|j| j.request_id);
            let e = ApiError::bad_json(clip(&e.to_string(), MESSAGE_BYTES));
            let reply = match request_id {
                Some(id) => action_error(Some(&id), &e),
                None => error(e.code, &e.message),
            };
            return Some((reply, Vec::new()));
        }
        Ok(ClientMsg::Ping) => return Some((Message::Text(r#"{"type":"pong"}"#.into()), Vec::new())),
        Ok(ClientMsg::GetBetActivities { game, limit }) => {
            let reply = match crate::activity::history(&app.activity, game.as_deref(), limit) {
                Ok(a) => text(json!({"type": "bet_activities", "game": a.game, "items": a.items})),
                Err(e) => error(e.code, &e.message),
            };
            return Some((reply, Vec::new()));
        }
        Ok(ClientMsg::Subscribe { topics, resume }) => (topics, resume),
        Ok(action) => {
            let e = ApiError::unavailable(format!("unexpected game action {action:?}"));
            return Some((error(e.code, &e.message), Vec::new()));
        }
    };
    // Counted before parsing: a long list costs nothing more than its bytes.
    let parsed: Result<Vec<Topic>, String> = if topics.len() > limits.ws_max_topics {
        Ok(Vec::new())
    } else {
        topics.iter().map(|t| Topic::parse(t, Some(player.user))).collect()
    };
    let resume: Result<HashMap<u32, u64>, _> =
        resume.into_iter().map(|(k, v)| k.parse::<u32>().map(|k| (k, v))).collect();
    let tx = sub.own_tx.clone().or_else(|| sub.weak_tx.upgrade());
    let reply = match (parsed, resume, tx) {
        (Err(e), _, _) => error("BAD_TOPIC", &e),
        (_, Err(_), _) => error("BAD_RESUME", "resume keys are shard numbers"),
        (Ok(parsed), Ok(resume), Some(tx)) => {
            if let Err(m) = check_topics(&topics, &parsed, &sub.have, limits.ws_max_topics) {
                return Some((m, Vec::new()));
            }
            let fresh: Vec<Topic> = parsed.iter().filter(|t| !sub.have.contains(t)).copied().collect();
            let (id, missed) = app.hub.subscribe(sub.id, &fresh, &resume, &tx, limits.ws_max_replay);
            sub.id = Some(id);
            sub.have.extend(fresh);
            return Some((subscribed(app, &parsed), missed));
        }
        (Ok(_), Ok(_), None) => return None,
    };
    Some((reply, Vec::new()))
}

/// Starts a game action on the session, or answers at once: a request id over
/// [`MAX_REQUEST_ID`] bytes is `INVALID_REQUEST_ID`, an action beyond `ws_max_in_flight`
/// `TOO_MANY_IN_FLIGHT` (not played).
fn start_action(
    app: &AppState,
    player: &Player,
    request_id: RequestId,
    action: PlayerAction,
    in_flight: &mut FuturesUnordered<std::pin::Pin<Box<dyn std::future::Future<Output = Message> + Send>>>,
) -> Option<Message> {
    if matches!(&request_id, RequestId::Text(t) if t.len() > MAX_REQUEST_ID) {
        let e = ApiError::invalid(format!("request_id: at most {MAX_REQUEST_ID} bytes"));
        return Some(action_error(None, &ApiError { code: "INVALID_REQUEST_ID", ..e }));
    }
    let max = app.cfg.limits.ws_max_in_flight;
    if in_flight.len() >= max {
        let m = format!("at most {max} game actions in flight on one connection: wait for an answer");
        let e = ApiError::new(axum::http::StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_IN_FLIGHT", m);
        return Some(action_error(Some(&request_id), &e));
    }
    let (app, user) = (app.clone(), player.user);
    in_flight.push(Box::pin(async move { action_answer(&request_id, perform(&app, user, action).await) }));
    None
}

/// The topics of a subscribe, if within the limits: `max` per message and per connection
/// (counting those it already has).
fn check_topics(requested: &[String], parsed: &[Topic], have: &HashSet<Topic>, max: usize) -> Result<(), Message> {
    let after = have.len() + parsed.iter().filter(|t| !have.contains(t)).count();
    if requested.len() > max || after > max {
        let m = format!("at most {max} topics per subscribe and per connection ({after} asked)");
        return Err(error("TOO_MANY_TOPICS", &m));
    }
    Ok(())
}

/// The answer to a subscribe: the topics and each shard's last published position.
fn subscribed(app: &AppState, topics: &[Topic]) -> Message {
    let heads: HashMap<String, u64> =
        app.hub.heads().into_iter().enumerate().map(|(i, h)| (i.to_string(), h)).collect();
    let names: Vec<String> = topics.iter().map(Topic::name).collect();
    text(json!({"type": "subscribed", "topics": names, "heads": heads}))
}
