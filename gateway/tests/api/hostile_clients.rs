//! Hostile clients on loopback: slow heads and bodies, idle and surplus connections, oversized
//! bodies and WebSocket messages, too many topics, input that must not be echoed whole, bad
//! paths, and a large resume that must not hold up other subscribers. Every refusal is JSON.
//!
//! Limits are set small in each test's configuration; waits have generous hang guards and
//! nothing asserts how fast anything is.

use crate::common;

use common::*;
use croupier_gateway::{GatewayConfig, Limits};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// Longest any step may hang before the test fails (a guard, not a speed requirement).
const GUARD: Duration = Duration::from_secs(10);

fn with_limits(limits: Limits) -> GatewayConfig {
    GatewayConfig { limits, ..GatewayConfig::default() }
}

/// A raw answer: status, head (lower-cased) and body.
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Reads one answer (Content-Length bodies only, which is all the gateway sends here).
async fn read_answer(s: &mut TcpStream) -> Raw {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tokio::time::timeout(GUARD, s.read(&mut chunk)).await.expect("an answer").expect("read");
        assert!(n > 0, "closed before an answer: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().expect("content-length"));
    while buf.len() < head_end + len {
        let n = tokio::time::timeout(GUARD, s.read(&mut chunk)).await.expect("a body").expect("read");
        assert!(n > 0, "closed inside a body");
        buf.extend_from_slice(&chunk[..n]);
    }
    Raw { status, head, body: buf[head_end..head_end + len].to_vec() }
}

async fn raw_request(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    read_answer(&mut s).await
}

/// Waits until the server closes `s` (end of stream or reset), reading whatever comes first.
async fn closed_by_server(s: &mut TcpStream) {
    let mut chunk = [0u8; 1024];
    tokio::time::timeout(GUARD, async {
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the server closes the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_head_is_cut_off_by_the_header_timeout() {
    let limits = Limits { header_timeout: Duration::from_millis(300), ..Limits::default() };
    let srv = TestServer::start_with(1, with_limits(limits)).await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nx-slow: ").await.unwrap();
    let mut chunk = [0u8; 64];
    let closed = tokio::time::timeout(GUARD, async {
        // One header byte every 50 ms: progress, but never a whole head.
        loop {
            if s.write_all(b"a").await.is_err() {
                return;
            }
            if let Ok(r) = tokio::time::timeout(Duration::from_millis(50), s.read(&mut chunk)).await {
                if matches!(r, Ok(0) | Err(_)) {
                    return;
                }
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the dribbling connection must be closed by the server");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let limits = Limits {
        idle_timeout: Duration::from_millis(300),
        header_timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let srv = TestServer::start_with(1, with_limits(limits)).await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    assert_eq!(read_answer(&mut s).await.status, 200);
    closed_by_server(&mut s).await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_over_the_cap_gets_a_json_503_and_a_freed_slot_serves_again() {
    let cap = 4;
    let srv = TestServer::start_with(1, with_limits(Limits { max_connections: cap, ..Limits::default() })).await;
    let mut held = Vec::new();
    for _ in 0..cap {
        let mut s = TcpStream::connect(srv.addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
        assert_eq!(read_answer(&mut s).await.status, 200, "within the cap");
        held.push(s);
    }
    let over = raw_request(srv.addr, b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!((over.status, over.json()["code"].as_str()), (503, Some("TOO_MANY_CONNECTIONS")));
    assert!(over.json()["message"].is_string());
    assert!(over.head.contains("content-type: application/json") && over.head.contains("connection: close"));
    drop(held.pop());
    // The server learns of the close asynchronously: retry until the slot is back.
    let answer = tokio::time::timeout(GUARD, async {
        loop {
            let a = raw_request(srv.addr, b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await;
            if a.status != 503 {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a freed slot serves /healthz");
    assert_eq!(answer.status, 200);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_too_large_or_too_slow_get_json_413_and_408() {
    let limits = Limits { max_body_bytes: 1024, body_timeout: Duration::from_millis(300), ..Limits::default() };
    let srv = TestServer::start_with(1, with_limits(limits)).await;
    let declared =
        raw_request(srv.addr, b"POST /api/bet HTTP/1.1\r\nhost: x\r\ncontent-length: 50000000\r\n\r\n").await;
    assert_eq!((declared.status, declared.json()["code"].as_str()), (413, Some("BODY_TOO_LARGE")));
    let mut chunked = b"POST /api/deposit HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n800\r\n".to_vec();
    chunked.extend_from_slice(&[b'x'; 0x800]);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let streamed = raw_request(srv.addr, &chunked).await;
    assert_eq!((streamed.status, streamed.json()["code"].as_str()), (413, Some("BODY_TOO_LARGE")));
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"POST /api/bet HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{\"order").await.unwrap();
    let slow = read_answer(&mut s).await;
    assert_eq!((slow.status, slow.json()["code"].as_str()), (408, Some("REQUEST_TIMEOUT")));
    closed_by_server(&mut s).await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rejection_is_json_and_quotes_little_of_the_input() {
    let srv = TestServer::start(1).await;
    let mut c = srv.client();
    let token = c.session(1).await.unwrap();
    let auth = format!("Bearer {token}");
    let cases: &[(&str, &str, u16, &str)] = &[
        ("GET", "/api/me/bets/%FF", 400, "INVALID_PATH"),
        ("GET", "/api/red_packets/%C3%28/p1", 400, "INVALID_PATH"),
        ("GET", "/api/me/bets?limit=lots", 400, "INVALID_REQUEST"),
        ("GET", "/ws", 426, "UPGRADE_REQUIRED"),
        ("GET", "/no/such/route", 404, "NOT_FOUND"),
        ("DELETE", "/api/bet", 405, "METHOD_NOT_ALLOWED"),
    ];
    for (method, path, status, code) in cases {
        let a = c.conn.request(method, path, &[("authorization", &auth)], b"").await.unwrap();
        assert_eq!(
            (a.status, a.code().as_str()),
            (*status, *code),
            "{method} {path}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert!(a.json()["message"].is_string(), "{method} {path}");
    }
    let huge = "1".repeat(1_000_000);
    let a = c.operator("/api/deposit", &json!({"transfer_id": "t", "user_id": 1, "amount": huge})).await.unwrap();
    assert_eq!((a.status, a.code().as_str()), (422, "INVALID_AMOUNT"));
    let message = a.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(message.len() < 200 && message.starts_with("amount \"111"), "{message}");
    // A user id of a million digits: refused by the edge's own check, quoted short.
    let a = c.operator("/api/deposit", &json!({"transfer_id": "t", "user_id": huge, "amount": "1"})).await.unwrap();
    assert_eq!((a.status, a.code().as_str()), (422, "INVALID_ID"), "{}", String::from_utf8_lossy(&a.body));
    assert!(a.body.len() < 300, "{} bytes", a.body.len());
    // A library's message quoting the input (serde_json names the unknown field) too.
    let mut body = json!({"transfer_id": "t", "user_id": 1, "amount": "1"});
    body[huge.as_str()] = json!(1);
    let a = c.operator("/api/deposit", &body).await.unwrap();
    assert_eq!((a.status, a.code().as_str()), (400, "INVALID_REQUEST"), "{}", String::from_utf8_lossy(&a.body));
    assert!(a.body.len() < 300, "{} bytes", a.body.len());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_websocket_message_is_answered_then_closed() {
    let limits = Limits { ws_max_frame_bytes: 1024, ws_max_message_bytes: 1024, ..Limits::default() };
    let srv = TestServer::start_with(1, with_limits(limits)).await;
    let mut ws = player_ws(&srv).await;
    let big = json!({"op": "subscribe", "topics": ["bets"], "pad": "x".repeat(4096)}).to_string();
    ws.send(Message::Text(big.into())).await.unwrap();
    assert_eq!(ws_next(&mut ws).await["code"], "MESSAGE_TOO_LARGE");
    let end = tokio::time::timeout(GUARD, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return None,
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("the server closes the socket");
    assert_eq!(end, Some(1009), "closed as too big");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_topics_per_subscribe_or_per_connection_is_a_json_error() {
    let srv = TestServer::start_with(1, with_limits(Limits { ws_max_topics: 3, ..Limits::default() })).await;
    let mut ws = player_ws(&srv).await;
    ws_send(&mut ws, json!({"op": "subscribe", "topics": ["bets", "round:a", "round:b", "round:c"]})).await;
    assert_eq!(ws_next(&mut ws).await["code"], "TOO_MANY_TOPICS");
    ws_subscribe(&mut ws, &["bets", "round:a"], json!({})).await;
    ws_send(&mut ws, json!({"op": "subscribe", "topics": ["round:b", "round:c"]})).await;
    assert_eq!(ws_next(&mut ws).await["code"], "TOO_MANY_TOPICS", "three in all at most");
    let again = ws_subscribe(&mut ws, &["round:a", "round:b"], json!({})).await;
    assert_eq!(again["topics"], json!(["round:a", "round:b"]), "one more topic still fits");
    ws_send(&mut ws, json!({"op": "ping"})).await;
    assert_eq!(ws_next(&mut ws).await["type"], "pong", "the socket goes on");
    srv.stop().await;
}

/// The deposits among the next messages, until `n` are seen.
async fn deposits(ws: &mut Ws, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        let m = ws_next(ws).await;
        assert_ne!(m["type"], "dropped", "{m}");
        if m["event"]["type"] == "deposited" {
            out.push(m);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_resume_is_replayed_whole_while_other_subscribers_keep_receiving() {
    // A queue far smaller than the backlog: the backlog must not go through it.
    let cfg = GatewayConfig { ws_queue: 8, push_buffer: 4096, ..GatewayConfig::default() };
    let srv = TestServer::start_with(1, cfg).await;
    let mut c = srv.client();
    let (alice, bob) = (c.session(5).await.unwrap(), c.session(6).await.unwrap());
    let mut probe = player_ws(&srv).await;
    let start = ws_subscribe(&mut probe, &["bets"], json!({})).await["heads"]["0"].clone();
    let missed = 300;
    for i in 0..missed {
        fund(&mut c, 5, "1.00", &format!("m{i}")).await;
    }
    let mut watcher = ws_connect(srv.addr, Some(&bob)).await;
    ws_subscribe(&mut watcher, &["balance"], json!({})).await;
    let mut resumer = ws_connect(srv.addr, Some(&alice)).await;
    // Subscribe with the resume, but read nothing yet: the replay is pending on this socket.
    ws_send(&mut resumer, json!({"op": "subscribe", "topics": ["balance"], "resume": {"0": start}})).await;
    fund(&mut c, 6, "2.00", "live-bob").await;
    assert_eq!(deposits(&mut watcher, 1).await[0]["event"]["amount"], "2.00", "publishing goes on");
    assert_eq!(ws_next(&mut resumer).await["type"], "subscribed");
    let replayed = deposits(&mut resumer, missed).await;
    let positions: Vec<u64> = replayed.iter().map(|m| m["position"].as_u64().unwrap_or(0)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "in order, each once");
    fund(&mut c, 5, "3.00", "live-alice").await;
    assert_eq!(deposits(&mut resumer, 1).await[0]["event"]["amount"], "3.00", "then live messages");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_beyond_the_replay_cap_is_told_to_reload() {
    let cfg = GatewayConfig { limits: Limits { ws_max_replay: 5, ..Limits::default() }, ..GatewayConfig::default() };
    let srv = TestServer::start_with(1, cfg).await;
    let mut c = srv.client();
    let alice = c.session(5).await.unwrap();
    let mut probe = player_ws(&srv).await;
    let start = ws_subscribe(&mut probe, &["bets"], json!({})).await["heads"]["0"].as_u64().unwrap();
    for i in 0..10 {
        fund(&mut c, 5, "1.00", &format!("r{i}")).await;
    }
    // Wait until push has published them all.
    tokio::time::timeout(GUARD, async {
        loop {
            let mut p = player_ws(&srv).await;
            if ws_subscribe(&mut p, &["bets"], json!({})).await["heads"]["0"].as_u64().unwrap_or(0) >= start + 10 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("push catches up");
    let mut ws = ws_connect(srv.addr, Some(&alice)).await;
    ws_subscribe(&mut ws, &["balance"], json!({"0": start})).await;
    let m = ws_next(&mut ws).await;
    assert_eq!(m["type"], "reload", "{m}");
    srv.stop().await;
}

/// A WebSocket authenticated as a player of its own (every session is a player's).
async fn player_ws(srv: &TestServer) -> Ws {
    let token = srv.client().session(99).await.expect("a session");
    ws_connect(srv.addr, Some(&token)).await
}
