//! A gateway served in process on 127.0.0.1:0 over a temporary data folder, and a WebSocket
//! client, for the loopback tests.

#![allow(dead_code)]

use croupier_engine::runtime::{Runtime, RuntimeConfig};
use croupier_gateway::client::Client;
use croupier_gateway::{Gateway, GatewayConfig};
use croupier_journal::Durability;
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
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start(shards: usize) -> TestServer {
        Self::start_with(shards, GatewayConfig::default()).await
    }

    pub async fn start_with(shards: usize, cfg: GatewayConfig) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut rc = RuntimeConfig::new(dir.path());
        rc.shards = shards;
        rc.durability = Durability::Process;
        let (rt, _) = Runtime::start(rc).expect("runtime starts");
        let runtime = Arc::new(rt);
        let gw = Gateway::start(runtime.clone(), dir.path().to_path_buf(), cfg, KEY.to_vec()).await.expect("gateway");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(gw.serve(listener, async move {
            let _ = rx.await;
        }));
        TestServer { addr, runtime, stop: Some(tx), task: Some(task), _dir: dir }
    }

    /// The server's data folder (journals, snapshots), for restore checks.
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn client(&self) -> Client {
        Client::new(self.addr, KEY)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("server task").expect("server");
        }
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

pub async fn ws_connect(addr: SocketAddr, token: Option<&str>) -> Ws {
    let url = match token {
        Some(t) => format!("ws://{addr}/ws?token={t}"),
        None => format!("ws://{addr}/ws"),
    };
    tokio_tungstenite::connect_async(url).await.expect("ws connect").0
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
