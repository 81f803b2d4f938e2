//! A gateway served in process on 127.0.0.1:0 over a temporary data folder, and a WebSocket
//! client, for the loopback tests.

#![allow(dead_code)]

use croupier_gateway::client::Client;
use croupier_gateway::{Gateway, GatewayConfig};
use croupier_journal::Durability;
use croupier_runtime::{Runtime, RuntimeConfig};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

pub const KEY: &[u8] = b"test-operator-key";

pub struct TestServer {
    pub addr: SocketAddr,
    pub runtime: Arc<Runtime>,
    /// The gateway's shared state (e.g. to make it a demo server).
    pub app: croupier_gateway::AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    dir: tempfile::TempDir,
    shards: usize,
    cfg: GatewayConfig,
}

impl TestServer {
    pub async fn start(shards: usize) -> TestServer {
        Self::start_with(shards, GatewayConfig::default()).await
    }

    pub async fn start_with(shards: usize, cfg: GatewayConfig) -> TestServer {
        Self::start_in(tempfile::tempdir().expect("tempdir"), shards, cfg).await
    }

    /// A server over `dir`, which may hold an earlier server's data.
    pub async fn start_in(dir: tempfile::TempDir, shards: usize, cfg: GatewayConfig) -> TestServer {
        let mut rc = RuntimeConfig::new(dir.path());
        rc.shards = shards;
        rc.durability = Durability::Process;
        let (rt, _) = Runtime::start(rc).expect("runtime starts");
        let runtime = Arc::new(rt);
        let gw = Gateway::start(runtime.clone(), dir.path().to_path_buf(), cfg.clone(), KEY.to_vec())
            .await
            .expect("gateway");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = gw.app().clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(gw.serve(listener, async move {
            let _ = rx.await;
        }));
        TestServer { addr, runtime, app, stop: Some(tx), task: Some(task), dir, shards, cfg }
    }

    /// The server's data folder (tests may read what the server keeps there).
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn client(&self) -> Client {
        Client::new(self.addr, KEY)
    }

    pub async fn stop(mut self) {
        self.halt().await;
    }

    async fn halt(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("server task").expect("server");
        }
    }

    /// Stops the server and its runtime, then starts a new one on the same data folder (on
    /// a new port).
    pub async fn restart(mut self) -> TestServer {
        self.halt().await;
        let TestServer { mut runtime, dir, shards, cfg, app, .. } = self;
        // The gateway's state holds the runtime too.
        drop(app);
        // The gateway lets go of the runtime as its last tasks end; a bounded wait (a hang
        // guard, not a timing assertion) before the shards are stopped and the folder reused.
        for _ in 0..500 {
            match Arc::try_unwrap(runtime) {
                Ok(rt) => {
                    rt.shutdown(false).expect("runtime stops");
                    return TestServer::start_in(dir, shards, cfg).await;
                }
                Err(shared) => runtime = shared,
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the runtime is still shared 5 s after the server stopped");
    }
}

/// Deposits `amount` for `user` and checks it was accepted.
pub async fn fund(c: &mut Client, user: u64, amount: &str, transfer: &str) {
    let a =
        c.operator("/api/deposit", &json!({"transfer_id": transfer, "user_id": user, "amount": amount})).await.unwrap();
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
}

pub async fn available(c: &mut Client, token: &str) -> String {
    let a = c.player(token, "GET", "/api/me/balance", None).await.unwrap();
    assert_eq!(a.status, 200);
    a.json()["balances"][0]["available"].as_str().unwrap_or("none").to_string()
}

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket to `/ws`, authenticated by `Authorization: Bearer` when a token is given.
pub async fn ws_connect(addr: SocketAddr, token: Option<&str>) -> Ws {
    ws_try_connect(addr, token).await.expect("ws connect")
}

pub async fn ws_try_connect(
    addr: SocketAddr,
    token: Option<&str>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{addr}/ws").into_client_request()?;
    if let Some(t) = token {
        req.headers_mut().insert("authorization", format!("Bearer {t}").parse().expect("header value"));
    }
    Ok(tokio_tungstenite::connect_async(req).await?.0)
}

/// A WebSocket authenticated by its first message, the ack checked.
pub async fn ws_connect_by_message(addr: SocketAddr, token: &str) -> Ws {
    let mut ws = ws_connect(addr, None).await;
    ws_send(&mut ws, json!({"op": "auth", "token": token})).await;
    let ack = ws_next(&mut ws).await;
    assert_eq!(ack["type"], "authenticated", "{ack}");
    ws
}

/// The next message is `{"type":"error","code":code}` and then the server closes.
pub async fn ws_refused(ws: &mut Ws, code: &str) {
    let m = ws_next(ws).await;
    assert_eq!((m["type"].as_str(), m["code"].as_str()), (Some("error"), Some(code)), "{m}");
    ws_closed(ws).await;
}

/// The server closes: a Close frame or the end of the stream, within 10 s (a hang guard).
pub async fn ws_closed(ws: &mut Ws) {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("closed within 10 s");
        match msg {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
            Some(Ok(Message::Text(t))) => panic!("expected a close, got {t}"),
            Some(Ok(_)) => continue,
        }
    }
}

pub async fn ws_send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.expect("ws send");
}

/// The next JSON text message; panics if none comes within 10 s (a hang guard, not a
/// performance assertion).
pub async fn ws_next(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a WebSocket message within 10 s")
            .expect("stream open")
            .expect("message");
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).expect("json");
        }
    }
}

/// Subscribes and returns the `subscribed` answer.
pub async fn ws_subscribe(ws: &mut Ws, topics: &[&str], resume: Value) -> Value {
    ws_send(ws, json!({"op": "subscribe", "topics": topics, "resume": resume})).await;
    let v = ws_next(ws).await;
    assert_eq!(v["type"], "subscribed", "{v}");
    v
}
