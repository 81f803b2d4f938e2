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
//! (`resume`: per shard, the last position received; `balance` is the token's player's) and
//! `{"op":"ping"}`.
//!
//! Server → client: `{"type":"subscribed","topics":[...],"heads":{"0":52,...}}`,
//! `{"type":"event","topic":"...","shard":0,"position":52,"event":{"type":"bet_accepted",...}}`,
//! `{"type":"reload","shard":0,"oldest":40}` (what was missed is no longer buffered: reload
//! with the HTTP API, then subscribe again without resume), `{"type":"error",...}`,
//! `{"type":"pong"}`, and `{"type":"dropped"}` before the server closes a client too slow to
//! keep up.

use crate::auth::Player;
use crate::error::ApiError;
use crate::push::{Delivery, Topic};
use crate::{now_ms, AppState};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
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
}

/// The first message of a session without an `Authorization` header.
#[derive(Debug, Deserialize)]
struct AuthMsg {
    #[serde(alias = "type")]
    op: String,
    #[serde(default)]
    token: Option<String>,
}

pub async fn ws(State(app): State<AppState>, uri: Uri, headers: HeaderMap, upgrade: WebSocketUpgrade) -> Response {
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
    upgrade.on_upgrade(move |socket| session(app, socket, player))
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

async fn session(app: AppState, socket: WebSocket, player: Option<Player>) {
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

/// An authenticated session: subscriptions and pushes until the client leaves, the server
/// stops, or the token expires or is revoked.
async fn serve(app: AppState, mut sink: Sink, mut stream: Stream, player: Player) {
    let (tx, mut rx) = mpsc::channel::<Delivery>(app.cfg.ws_queue.max(1));
    let mut id: Option<u64> = None;
    let mut shutdown = app.shutdown.clone();
    let mut revocations = app.revocations.subscribe();
    let expiry = tokio::time::sleep(Duration::from_millis(player.expires_ms.saturating_sub(now_ms())));
    tokio::pin!(expiry);
    // The sender is kept only by the hub once subscribed, so a dropped subscriber's queue ends.
    let mut own_tx = Some(tx);
    loop {
        tokio::select! {
            incoming = stream.next() => {
                let Some(Ok(msg)) = incoming else { break };
                let raw = match msg {
                    Message::Text(t) => t,
                    Message::Close(_) => break,
                    _ => continue,
                };
                let Some(reply) = answer(&app, &player, &raw, &mut id, own_tx.as_ref()) else { break };
                if sink.send(reply).await.is_err() {
                    break;
                }
                if id.is_some() {
                    // From now on only the hub holds the queue's sender.
                    own_tx.take();
                }
            }
            delivery = rx.recv(), if own_tx.is_none() => {
                let msg = match delivery {
                    Some(Delivery::Msg(m, topic)) => m.to_json(&topic),
                    Some(Delivery::Reload { shard, oldest }) => {
                        json!({"type": "reload", "shard": shard, "oldest": oldest}).to_string()
                    }
                    None => {
                        let _ = sink.send(Message::Text(r#"{"type":"dropped","reason":"too slow"}"#.into())).await;
                        break;
                    }
                };
                if sink.send(Message::Text(msg.into())).await.is_err() {
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
    if let Some(id) = id {
        app.hub.unsubscribe(id);
    }
    let _ = sink.send(Message::Close(None)).await;
}

/// The answer to one client message; `None` ends the session (the hub is gone).
fn answer(
    app: &AppState,
    player: &Player,
    raw: &str,
    id: &mut Option<u64>,
    tx: Option<&mpsc::Sender<Delivery>>,
) -> Option<Message> {
    let (topics, resume) = match serde_json::from_str::<ClientMsg>(raw) {
        Err(e) => return Some(error("BAD_JSON", &e.to_string())),
        Ok(ClientMsg::Ping) => return Some(Message::Text(r#"{"type":"pong"}"#.into())),
        Ok(ClientMsg::Subscribe { topics, resume }) => (topics, resume),
    };
    let parsed: Result<Vec<Topic>, String> = topics.iter().map(|t| Topic::parse(t, Some(player.user))).collect();
    let resume: Result<HashMap<u32, u64>, _> =
        resume.into_iter().map(|(k, v)| k.parse::<u32>().map(|k| (k, v))).collect();
    match (parsed, resume, tx) {
        (Err(e), _, _) => Some(error("BAD_TOPIC", &e)),
        (_, Err(_), _) => Some(error("BAD_RESUME", "resume keys are shard numbers")),
        (Ok(parsed), Ok(resume), Some(tx)) => {
            let sub = app.hub.subscribe(*id, &parsed, &resume, tx).ok()?;
            *id = Some(sub);
            let heads: HashMap<String, u64> =
                app.hub.heads().into_iter().enumerate().map(|(i, h)| (i.to_string(), h)).collect();
            let names: Vec<String> = parsed.iter().map(Topic::name).collect();
            Some(text(json!({"type": "subscribed", "topics": names, "heads": heads})))
        }
        (Ok(_), Ok(_), None) => None,
    }
}
