//! The hostile tester's findings, each replayed against the server: operator signatures
//! captured from valid calls cannot be sent to another endpoint, later, or altered; bodies
//! refuse unknown fields; player tokens need the derived token key, are revocable (durably)
//! and never travel in a WebSocket URL.

use crate::common;

use common::*;
use croupier_gateway::client::{Answer, Client, Signature};
use croupier_gateway::GatewayConfig;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const MINUTE_MS: u64 = 60_000;

fn now_ms() -> u64 {
    croupier_gateway::now_ms()
}

/// A valid signed call; returns its exact headers with the answer, for a replay.
async fn call(c: &mut Client, path: &str, body: &[u8]) -> (Signature, Answer) {
    let sig = c.sign("POST", path, body);
    let a = c.conn.request("POST", path, &sig.headers(), body).await.unwrap();
    assert_eq!(a.status, 200, "{path}: {}", String::from_utf8_lossy(&a.body));
    (sig, a)
}

/// The same bytes and signature, sent to `path`.
async fn replay(c: &mut Client, sig: &Signature, path: &str, body: &[u8]) -> Answer {
    c.conn.request("POST", path, &sig.headers(), body).await.unwrap()
}

fn refused(a: &Answer, status: u16, code: &str) {
    assert_eq!((a.status, a.code().as_str()), (status, code), "{}", String::from_utf8_lossy(&a.body));
}

async fn balance(c: &mut Client, token: &str) -> Value {
    let a = c.player(token, "GET", "/api/me/balance", None).await.unwrap();
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    a.json()["balances"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_signature_does_not_work_at_another_endpoint() {
    let srv = TestServer::start(2).await;
    let mut c = srv.client();
    fund(&mut c, 1, "100.00", "d1").await;
    let t1 = c.session(1).await.unwrap();

    // game_start → /api/rounds/cancel: the round keeps betting.
    let start = br#"{"event":"game_start","round_id":"r1","window_ms":600000}"#;
    let (sig, _) = call(&mut c, "/api/game_event", start).await;
    refused(&replay(&mut c, &sig, "/api/rounds/cancel", start).await, 401, "BAD_SIGNATURE");
    // Even signed for the cancel endpoint, the game_start body does not parse there.
    refused(&c.operator_raw("/api/rounds/cancel", start).await.unwrap(), 400, "INVALID_REQUEST");
    let round = c.player(&t1, "GET", "/api/rounds/r1", None).await.unwrap().json();
    assert_eq!(round["status"], "betting", "{round}");

    // deposit → /api/sessions: no token is minted.
    let deposit = br#"{"transfer_id":"d2","user_id":1,"amount":"5.00"}"#;
    let (sig, _) = call(&mut c, "/api/deposit", deposit).await;
    let a = replay(&mut c, &sig, "/api/sessions", deposit).await;
    refused(&a, 401, "BAD_SIGNATURE");
    assert!(a.json().get("token").is_none());
    refused(&c.operator_raw("/api/sessions", deposit).await.unwrap(), 400, "INVALID_REQUEST");
    assert_eq!(balance(&mut c, &t1).await, json!({"currency": "CNY", "available": "105.00", "held": "0.00"}));

    // check_bet → /api/block_funds: nothing is held. (The two bodies have the same fields, so
    // here the signature's path is the only defence.)
    let check = br#"{"partner_id":"bk","partner_player_id":"1","bet_id":"pb1","amount":"10.00"}"#;
    let (sig, _) = call(&mut c, "/api/check_bet", check).await;
    refused(&replay(&mut c, &sig, "/api/block_funds", check).await, 401, "BAD_SIGNATURE");
    let before_block = balance(&mut c, &t1).await;
    assert_eq!(before_block["available"], "105.00");

    // block_funds → /api/refund: the hold stays.
    let block = br#"{"partner_id":"bk","partner_player_id":"1","bet_id":"pb2","amount":"20.00"}"#;
    let (sig, _) = call(&mut c, "/api/block_funds", block).await;
    let held = balance(&mut c, &t1).await;
    assert_eq!(held["available"], "85.00", "{held}");
    refused(&replay(&mut c, &sig, "/api/refund", block).await, 401, "BAD_SIGNATURE");
    assert_eq!(balance(&mut c, &t1).await, held);
    // The hold is still there to settle: the bet was not voided.
    let lose = json!({"partner_id": "bk", "partner_player_id": "1", "bet_id": "pb2", "status": "lose"});
    assert_eq!(c.operator("/api/update_bet_status", &lose).await.unwrap().status, 200);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_expire_and_cover_method_path_timestamp_and_body() {
    let srv = TestServer::start(1).await;
    let mut c = srv.client();
    fund(&mut c, 1, "100.00", "d1").await;
    let t1 = c.session(1).await.unwrap();
    let body = br#"{"transfer_id":"late","user_id":1,"amount":"1.00"}"#;
    let send = |sig: Signature, path: &'static str, body: &'static [u8]| {
        let mut conn = srv.client();
        async move { conn.conn.request("POST", path, &sig.headers(), body).await.unwrap() }
    };

    for skew in [-(6 * MINUTE_MS as i64), 6 * MINUTE_MS as i64] {
        let sig = c.sign_at("POST", "/api/deposit", now_ms().saturating_add_signed(skew), body);
        refused(&send(sig, "/api/deposit", body).await, 401, "STALE_TIMESTAMP");
    }
    let sig = c.sign("POST", "/api/deposit", body);
    refused(&send(c.sign("PUT", "/api/deposit", body), "/api/deposit", body).await, 401, "BAD_SIGNATURE");
    refused(&send(sig.clone(), "/api/withdraw", body).await, 401, "BAD_SIGNATURE");
    refused(&send(sig.clone(), "/api/deposit?x=1", body).await, 401, "BAD_SIGNATURE");
    let other = br#"{"transfer_id":"late","user_id":1,"amount":"9.00"}"#;
    refused(&send(sig.clone(), "/api/deposit", other).await, 401, "BAD_SIGNATURE");
    let moved = Signature { timestamp: (sig.timestamp.parse::<u64>().unwrap() + 1).to_string(), ..sig.clone() };
    refused(&send(moved, "/api/deposit", body).await, 401, "BAD_SIGNATURE");
    for timestamp in ["", "soon", "-1", "1e12"] {
        let odd = Signature { timestamp: timestamp.into(), ..sig.clone() };
        refused(&send(odd, "/api/deposit", body).await, 401, "UNAUTHORIZED");
    }
    let a = c.conn.request("POST", "/api/deposit", &[("x-croupier-signature", &sig.signature)], body).await.unwrap();
    refused(&a, 401, "UNAUTHORIZED");
    assert_eq!(balance(&mut c, &t1).await["available"], "100.00", "nothing refused moved money");

    // Inside the window, either way, a signature is good.
    let sig = c.sign_at("POST", "/api/deposit", now_ms() - 4 * MINUTE_MS, body);
    assert_eq!(send(sig, "/api/deposit", body).await.status, 200);
    assert_eq!(balance(&mut c, &t1).await["available"], "101.00");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_are_refused() {
    let srv = TestServer::start(1).await;
    let mut c = srv.client();
    let cases = [
        ("/api/deposit", json!({"transfer_id": "t", "user_id": 1, "amount": "1.00", "extra": 1})),
        ("/api/sessions", json!({"user_id": 1, "admin": true})),
        ("/api/sessions/revoke", json!({"user_id": 1, "all": true})),
        ("/api/block_funds", json!({"partner_player_id": "1", "bet_id": "b", "ammount": "1.00", "amount": "1.00"})),
        ("/api/game_event", json!({"event": "game_start", "round_id": "r", "windw_ms": 5})),
        ("/api/drawresult", json!({"round_id": "r", "outcomes": [], "correct_result": "5"})),
    ];
    for (path, body) in cases {
        refused(&c.operator(path, &body).await.unwrap(), 400, "INVALID_REQUEST");
    }
    let t = c.session(1).await.unwrap();
    let a = c.player(&t, "GET", "/api/me/balance", None).await.unwrap();
    assert_eq!(a.json()["balances"], json!([]), "the refused deposit moved nothing");
    srv.stop().await;
}

fn mac_hex(key: &[u8], msg: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_tokens_and_tokens_signed_with_the_operator_key_are_refused() {
    let srv = TestServer::start(1).await;
    let mut c = srv.client();
    let exp = now_ms() + 3_600_000;
    let v1 = format!("v1.1.{exp}");
    let v1 = format!("{v1}.{}", mac_hex(KEY, &v1));
    let raw = format!("v2.1.{}.{exp}", now_ms());
    let raw = format!("{raw}.{}", mac_hex(KEY, &raw));
    for token in [v1, raw] {
        refused(&c.player(&token, "GET", "/api/me/balance", None).await.unwrap(), 401, "UNAUTHORIZED");
    }
    let good = c.session(1).await.unwrap();
    assert!(good.starts_with("v2.1."), "{good}");
    assert_eq!(c.player(&good, "GET", "/api/me/balance", None).await.unwrap().status, 200);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_session_is_refused_everywhere_and_a_new_one_works_across_a_restart() {
    let srv = TestServer::start(2).await;
    let mut c = srv.client();
    let (old, other) = (c.session(1).await.unwrap(), c.session(2).await.unwrap());
    let mut watching = ws_connect(srv.addr, Some(&old)).await;
    ws_subscribe(&mut watching, &["balance"], json!({})).await;

    refused(
        &c.conn.request("POST", "/api/sessions/revoke", &[], br#"{"user_id":1}"#).await.unwrap(),
        401,
        "UNAUTHORIZED",
    );
    let a = c.operator("/api/sessions/revoke", &json!({"user_id": "1"})).await.unwrap();
    assert_eq!((a.status, a.json()["user_id"].as_u64()), (200, Some(1)), "{}", String::from_utf8_lossy(&a.body));
    refused(&c.player(&old, "GET", "/api/me/balance", None).await.unwrap(), 401, "TOKEN_REVOKED");
    // The open WebSocket of the revoked session is told and closed.
    ws_refused(&mut watching, "TOKEN_REVOKED").await;
    assert_eq!(c.player(&other, "GET", "/api/me/balance", None).await.unwrap().status, 200, "user 2 untouched");
    let new = c.session(1).await.unwrap();
    assert_eq!(c.player(&new, "GET", "/api/me/balance", None).await.unwrap().status, 200);

    let srv = srv.restart().await;
    let mut c = srv.client();
    refused(&c.player(&old, "GET", "/api/me/balance", None).await.unwrap(), 401, "TOKEN_REVOKED");
    assert_eq!(c.player(&new, "GET", "/api/me/balance", None).await.unwrap().status, 200);
    let newer = c.session(1).await.unwrap();
    assert_eq!(c.player(&newer, "GET", "/api/me/balance", None).await.unwrap().status, 200);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_auth_by_header_or_first_message_and_never_without() {
    let cfg = GatewayConfig { ws_auth_timeout_ms: 300, ..GatewayConfig::default() };
    let srv = TestServer::start_with(1, cfg).await;
    let mut c = srv.client();
    let token = c.session(3).await.unwrap();

    let both = [ws_connect(srv.addr, Some(&token)).await, ws_connect_by_message(srv.addr, &token).await];
    for (i, mut ws) in both.into_iter().enumerate() {
        ws_subscribe(&mut ws, &["balance"], json!({})).await;
        fund(&mut c, 3, "1.00", &format!("w{i}")).await;
        let m = ws_next(&mut ws).await;
        assert_eq!((m["type"].as_str(), m["event"]["type"].as_str()), (Some("event"), Some("deposited")), "{m}");
    }

    // Not authenticated first: an error, then the server closes.
    let mut ws = ws_connect(srv.addr, None).await;
    ws_send(&mut ws, json!({"op": "subscribe", "topics": ["bets"]})).await;
    ws_refused(&mut ws, "UNAUTHORIZED").await;
    for bad in
        [json!({"op": "auth"}), json!({"op": "auth", "token": "v2.3.0.9.00"}), json!({"type": "auth", "token": "x"})]
    {
        let mut ws = ws_connect(srv.addr, None).await;
        ws_send(&mut ws, bad).await;
        ws_refused(&mut ws, "UNAUTHORIZED").await;
    }
    // Nothing sent: refused once the (configured, short) wait is over.
    let mut ws = ws_connect(srv.addr, None).await;
    ws_refused(&mut ws, "AUTH_TIMEOUT").await;

    // A bad header token is refused before the upgrade, with a JSON error.
    match ws_try_connect(srv.addr, Some("v2.3.0.9.00")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 401);
            let body: Value = serde_json::from_slice(resp.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body["code"], "UNAUTHORIZED");
        }
        other => panic!("expected a refused upgrade, got {:?}", other.map(|_| ())),
    }
    // The token no longer goes in the URL.
    let url = format!("ws://{}/ws?token={token}", srv.addr);
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 400),
        other => panic!("expected a refused upgrade, got {:?}", other.map(|_| ())),
    }
    // A revoked token by message: told why, then closed.
    c.operator("/api/sessions/revoke", &json!({"user_id": 3})).await.unwrap();
    let mut ws = ws_connect(srv.addr, None).await;
    ws_send(&mut ws, json!({"op": "auth", "token": token})).await;
    ws_refused(&mut ws, "TOKEN_REVOKED").await;
    srv.stop().await;
}
