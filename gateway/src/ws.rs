//! WebSocket `/ws`: subscribe to topics, receive push messages, resume after a reconnect.
//!
//! Client → server (JSON text frames):
//! `{"op":"subscribe","topics":["round:r1","balance","bets","packet:7:p1"],"resume":{"0":41,"1":17}}`
//! (`resume`: per shard, the last position received; `balance` needs `?token=` on the URL or
//! `"token"` in the message) and `{"op":"ping"}`.
//!
//! Server → client: `{"type":"subscribed","topics":[...],"heads":{"0":52,...}}`,
//! `{"type":"event","topic":"...","shard":0,"position":52,"event":{"type":"bet_accepted",...}}`,
//! `{"type":"reload","shard":0,"oldest":40}` (what was missed is no longer buffered: reload
//! with the HTTP API, then subscribe again without resume), `{"type":"error",...}`,
//! `{"type":"pong"}`, and `{"type":"dropped"}` before the server closes a client too slow to
//! keep up.
//!
//! A connection may subscribe again to add topics (a resume then replays for the topics new
//! to the connection: the others are already flowing). Limits (`config::Limits`): a frame or message over `ws_max_frame_bytes`
//! / `ws_max_message_bytes` is answered `{"type":"error","code":"MESSAGE_TOO_LARGE"}` and the
//! socket is closed (1009: the rest of the frame cannot be skipped); more than
//! `ws_max_topics` in one subscribe or on the connection is `TOO_MANY_TOPICS` and changes
//! nothing; a resume of more than `ws_max_replay` messages of a shard gets `reload`. A
//! request to `/ws` that is not a WebSocket upgrade gets 426 `UPGRADE_REQUIRED`.

use crate::error::{clip, ApiError, MESSAGE_BYTES};
use crate::extract::Query;
use crate::push::{Delivery, Topic};
use crate::{now_ms, AppState};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use croupier_engine::UserId;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use tokio::sync::mpsc;

#[derive(Debug, Deserialize)]
pub struct WsQuery {
    pub token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum ClientMsg {
    Subscribe {
        topics: Vec<String>,
        #[serde(default)]
        resume: HashMap<String, u64>,
        #[serde(default)]
        token: Option<String>,
    },
    Ping,
}

pub async fn ws(
    State(app): State<AppState>,
    Query(q): Query<WsQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(e) => return upgrade_required(&e),
    };
    let limits = &app.cfg.limits;
    let upgrade = upgrade.max_frame_size(limits.ws_max_frame_bytes).max_message_size(limits.ws_max_message_bytes);
    upgrade.on_upgrade(move |socket| session(app, socket, q.token))
}

fn upgrade_required(e: &WebSocketUpgradeRejection) -> Response {
    let message = format!("/ws needs a WebSocket upgrade: {}", e.body_text());
    let mut resp = ApiError::new(StatusCode::UPGRADE_REQUIRED, "UPGRADE_REQUIRED", message).into_response();
    resp.headers_mut().insert(axum::http::header::UPGRADE, axum::http::HeaderValue::from_static("websocket"));
    resp
}

fn error(code: &str, message: &str) -> Message {
    Message::Text(json!({"type": "error", "code": code, "message": message}).to_string().into())
}

type Sink = SplitSink<WebSocket, Message>;

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

async fn session(app: AppState, socket: WebSocket, token: Option<String>) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Delivery>(app.cfg.ws_queue.max(1));
    let mut user: Option<UserId> = None;
    let mut token_error = None;
    if let Some(t) = token {
        match app.auth.verify(&t, now_ms()) {
            Ok(p) => user = Some(p.user),
            Err(e) => token_error = Some(e),
        }
    }
    if let Some(e) = &token_error {
        let _ = sink.send(error(e.code, &e.message)).await;
    }
    let mut id: Option<u64> = None;
    let mut shutdown = app.shutdown.clone();
    // The sender is kept only by the hub once subscribed, so a dropped subscriber's queue ends;
    // a weak one lets a later subscribe add topics while the hub still holds it.
    let weak_tx = tx.downgrade();
    let mut own_tx = Some(tx);
    let mut have: HashSet<Topic> = HashSet::new();
    let limits = &app.cfg.limits;
    loop {
        let mut backlog = Vec::new();
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
                let text = match msg {
                    Message::Text(t) => t,
                    Message::Close(_) => break,
                    _ => continue,
                };
                let reply = match serde_json::from_str::<ClientMsg>(&text) {
                    Err(e) => error("BAD_JSON", &clip(&e.to_string(), MESSAGE_BYTES)),
                    Ok(ClientMsg::Ping) => Message::Text(r#"{"type":"pong"}"#.into()),
                    Ok(ClientMsg::Subscribe { topics, resume, token }) => {
                        if let Some(t) = token {
                            match app.auth.verify(&t, now_ms()) {
                                Ok(p) => user = Some(p.user),
                                Err(e) => {
                                    let _ = sink.send(error(e.code, &e.message)).await;
                                    continue;
                                }
                            }
                        }
                        // Counted before parsing: a long list costs nothing more than its bytes.
                        let parsed: Result<Vec<Topic>, String> = if topics.len() > limits.ws_max_topics {
                            Ok(Vec::new())
                        } else {
                            topics.iter().map(|t| Topic::parse(t, user)).collect()
                        };
                        let resume: Result<HashMap<u32, u64>, _> =
                            resume.into_iter().map(|(k, v)| k.parse::<u32>().map(|k| (k, v))).collect();
                        let tx = own_tx.clone().or_else(|| weak_tx.upgrade());
                        match (parsed, resume, tx) {
                            (Err(e), _, _) => error("BAD_TOPIC", &e),
                            (_, Err(_), _) => error("BAD_RESUME", "resume keys are shard numbers"),
                            (Ok(parsed), Ok(resume), Some(tx)) => {
                                match check_topics(&topics, &parsed, &have, limits.ws_max_topics) {
                                    Err(m) => m,
                                    Ok(()) => {
                                        let fresh: Vec<Topic> = parsed.iter().filter(|t| !have.contains(t)).copied().collect();
                                        let (sub, missed) =
                                            app.hub.subscribe(id, &fresh, &resume, &tx, limits.ws_max_replay);
                                        id = Some(sub);
                                        backlog = missed;
                                        have.extend(fresh);
                                        subscribed(&app, &parsed)
                                    }
                                }
                            }
                            // The hub let go of this subscriber (too slow): its queue is ending.
                            (Ok(_), Ok(_), None) => break,
                        }
                    }
                };
                if sink.send(reply).await.is_err() || !send_backlog(&mut sink, backlog).await {
                    break;
                }
                if id.is_some() {
                    // From now on only the hub holds the queue's sender.
                    own_tx.take();
                }
            }
            delivery = rx.recv(), if own_tx.is_none() => {
                let Some(d) = delivery else {
                    let _ = sink.send(Message::Text(r#"{"type":"dropped","reason":"too slow"}"#.into())).await;
                    break;
                };
                if sink.send(Message::Text(delivery_json(d).into())).await.is_err() {
                    break;
                }
            }
            _ = shutdown.changed() => break,
        }
    }
    if let Some(id) = id {
        app.hub.unsubscribe(id);
    }
    let _ = sink.send(Message::Close(None)).await;
}

/// The answer to a subscribe: the topics and each shard's last published position.
fn subscribed(app: &AppState, topics: &[Topic]) -> Message {
    let heads: HashMap<String, u64> =
        app.hub.heads().into_iter().enumerate().map(|(i, h)| (i.to_string(), h)).collect();
    let names: Vec<String> = topics.iter().map(Topic::name).collect();
    Message::Text(json!({"type": "subscribed", "topics": names, "heads": heads}).to_string().into())
}
