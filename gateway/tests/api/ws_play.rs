//! Instant games played over the WebSocket: actions with a request id, many in flight, each
//! answered on the same socket with the HTTP answer's status and body; errors with the HTTP
//! codes; the in-flight limit.

use crate::common;

use common::*;
use croupier_gateway::{GatewayConfig, Limits};
use serde_json::{json, Value};
use std::collections::HashMap;

async fn post(c: &mut croupier_gateway::client::Client, token: &str, path: &str, body: Value) -> (u16, Value) {
    let a = c.player(token, "POST", path, Some(&body)).await.unwrap();
    (a.status, a.json())
}

/// The answers to `n` actions, by request id (they may come in any order).
async fn answers(ws: &mut Ws, n: usize) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    while out.len() < n {
        let m = ws_next(ws).await;
        let id = m["request_id"].as_str().unwrap_or_else(|| panic!("no request id: {m}")).to_owned();
        out.insert(id, m);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn game_actions_over_the_websocket_answer_like_http() {
    let srv = TestServer::start(2).await;
    let mut c = srv.client();
    fund(&mut c, 9, "1000.00", "dep-9").await;
    let token = c.session(9).await.unwrap();
    c.player(&token, "GET", "/api/me/instant/seeds", None).await.unwrap();
    let mut ws = ws_connect(srv.addr, Some(&token)).await;

    // Ten dice bets sent at once, before any answer.
    for i in 0..10 {
        let body = json!({"id": format!("d{i}"), "game": "dice", "amount": "1.00", "target": "50.00"});
        ws_send(&mut ws, json!({"op": "bet", "request_id": format!("r{i}"), "body": body})).await;
    }
    let got = answers(&mut ws, 10).await;
    for i in 0..10 {
        let a = &got[&format!("r{i}")];
        assert_eq!((a["type"].as_str(), a["status"].as_u64()), (Some("result"), Some(200)), "{a}");
        // The same bet over HTTP is a replay with the same view.
        let body = json!({"id": format!("d{i}"), "game": "dice", "amount": "1.00", "target": "50.00"});
        let (status, http) = post(&mut c, &token, "/api/instant/bets", body).await;
        assert_eq!(status, 200);
        let mut ws_view = a["body"].clone();
        assert_eq!(ws_view["replayed"], false);
        ws_view["replayed"] = json!(true);
        assert_eq!(ws_view, http, "the WebSocket answers with the HTTP body");
    }

    // Plinko, then its confirmation; mines with a reveal; an unknown bet and a bad body.
    let plinko = json!({"id": "p1", "game": "plinko", "amount": "1.00", "rows": 8});
    ws_send(&mut ws, json!({"op": "bet", "request_id": 1, "body": plinko})).await;
    let p = ws_next(&mut ws).await;
    assert_eq!((p["request_id"].as_u64(), p["body"]["state"].as_str()), (Some(1), Some("open")), "{p}");
    ws_send(&mut ws, json!({"op": "settle", "request_id": 2, "id": "p1"})).await;
    let s = ws_next(&mut ws).await;
    assert_eq!(s["body"]["ended"], "confirmed", "{s}");
    ws_send(
        &mut ws,
        json!({"op": "bet", "request_id": "m", "body": {"id": "m1", "game": "mines", "amount": "1.00",
        "mines": 1}}),
    )
    .await;
    assert_eq!(ws_next(&mut ws).await["body"]["state"], "open");
    ws_send(&mut ws, json!({"op": "reveal", "request_id": "t", "id": "m1", "body": {"tile": 3}})).await;
    let t = ws_next(&mut ws).await;
    assert_eq!((t["request_id"].as_str(), t["status"].as_u64()), (Some("t"), Some(200)), "{t}");
    assert!(t["body"]["outcome"].as_str().unwrap().contains("3"), "{t}");

    let (status, http) = post(&mut c, &token, "/api/instant/bets/nope/cashout", json!(null)).await;
    ws_send(&mut ws, json!({"op": "cashout", "request_id": "x", "id": "nope"})).await;
    let e = ws_next(&mut ws).await;
    assert_eq!((e["type"].as_str(), e["request_id"].as_str()), (Some("error"), Some("x")), "{e}");
    assert_eq!((e["status"].as_u64(), &e["code"]), (Some(u64::from(status)), &http["code"]), "{e} vs {http}");
    ws_send(&mut ws, json!({"op": "bet", "request_id": "bad", "body": {"id": "b"}})).await;
    let e = ws_next(&mut ws).await;
    assert_eq!((e["code"].as_str(), e["request_id"].as_str()), (Some("BAD_JSON"), Some("bad")), "{e}");
    ws_send(&mut ws, json!({"op": "hit", "request_id": "y".repeat(65), "id": "m1"})).await;
    assert_eq!(ws_next(&mut ws).await["code"], "INVALID_REQUEST_ID");

    // Blackjack: a deal, then stand (with the step, a safe retry) until it is over.
    ws_send(
        &mut ws,
        json!({"op": "bet", "request_id": "bj", "body": {"id": "bj1", "game": "blackjack",
        "amount": "1.00"}}),
    )
    .await;
    let mut view = ws_next(&mut ws).await["body"].clone();
    for n in 0..4 {
        if view["state"] == "settled" {
            break;
        }
        let allowed: Vec<&str> =
            view["blackjack"]["allowed"].as_array().unwrap().iter().filter_map(|a| a.as_str()).collect();
        let (op, body) = if allowed.contains(&"no_insurance") {
            ("insurance", json!({"take": false, "step": view["blackjack"]["step"]}))
        } else {
            ("stand", json!({"step": view["blackjack"]["step"]}))
        };
        ws_send(&mut ws, json!({"op": op, "request_id": n, "id": "bj1", "body": body})).await;
        let a = ws_next(&mut ws).await;
        assert_eq!(a["status"], 200, "{a}");
        view = a["body"].clone();
    }
    assert_eq!(view["state"], "settled", "{view}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_beyond_the_in_flight_limit_are_refused_and_not_played() {
    let cfg = GatewayConfig { limits: Limits { ws_max_in_flight: 0, ..Limits::default() }, ..GatewayConfig::default() };
    let srv = TestServer::start_with(1, cfg).await;
    let mut c = srv.client();
    fund(&mut c, 3, "10.00", "dep-3").await;
    let token = c.session(3).await.unwrap();
    c.player(&token, "GET", "/api/me/instant/seeds", None).await.unwrap();
    let mut ws = ws_connect(srv.addr, Some(&token)).await;
    let body = json!({"id": "d1", "game": "dice", "amount": "1.00", "target": "50.00"});
    ws_send(&mut ws, json!({"op": "bet", "request_id": "r", "body": body})).await;
    let e = ws_next(&mut ws).await;
    assert_eq!(
        (e["code"].as_str(), e["request_id"].as_str(), e["status"].as_u64()),
        (Some("TOO_MANY_IN_FLIGHT"), Some("r"), Some(429))
    );
    let history = c.player(&token, "GET", "/api/me/instant/bets", None).await.unwrap().json();
    assert!(history["bets"].as_array().unwrap().is_empty(), "not played: {history}");
    srv.stop().await;
}
