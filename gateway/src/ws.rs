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

use crate::push::{Delivery, Topic};
use crate::{now_ms, AppState};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use croupier_engine::UserId;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
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

pub async fn ws(State(app): State<AppState>, Query(q): Query<WsQuery>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| session(app, socket, q.token))
}

fn error(code: &str, message: &str) -> Message {
    Message::Text(json!({"type": "error", "code": code, "message": message}).to_string().into())
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
    // The sender is kept only by the hub once subscribed, so a dropped subscriber's queue ends.
    let mut own_tx = Some(tx);
    loop {
        tokio::select! {
            incoming = stream.next() => {
                let Some(Ok(msg)) = incoming else { break };
                let text = match msg {
                    Message::Text(t) => t,
                    Message::Close(_) => break,
                    _ => continue,
                };
                let reply = match serde_json::from_str::<ClientMsg>(&text) {
                    Err(e) => error("BAD_JSON", &e.to_string()),
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
                        let parsed: Result<Vec<Topic>, String> = topics.iter().map(|t| Topic::parse(t, user)).collect();
                        let resume: Result<HashMap<u32, u64>, _> =
                            resume.into_iter().map(|(k, v)| k.parse::<u32>().map(|k| (k, v))).collect();
                        match (parsed, resume, own_tx.as_ref()) {
                            (Err(e), _, _) => error("BAD_TOPIC", &e),
                            (_, Err(_), _) => error("BAD_RESUME", "resume keys are shard numbers"),
                            (Ok(parsed), Ok(resume), Some(tx)) => match app.hub.subscribe(id, &parsed, &resume, tx) {
                                Ok(sub) => {
                                    id = Some(sub);
                                    let heads: HashMap<String, u64> =
                                        app.hub.heads().into_iter().enumerate().map(|(i, h)| (i.to_string(), h)).collect();
                                    let names: Vec<String> = parsed.iter().map(Topic::name).collect();
                                    Message::Text(json!({"type": "subscribed", "topics": names, "heads": heads}).to_string().into())
                                }
                                Err(_) => break,
                            },
                            (Ok(_), Ok(_), None) => break,
                        }
                    }
                };
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
            _ = shutdown.changed() => break,
        }
    }
    if let Some(id) = id {
        app.hub.unsubscribe(id);
    }
    let _ = sink.send(Message::Close(None)).await;
}
