//! Authentication failures, players kept apart, bad JSON and out-of-range values: every
//! answer is a JSON error with a fitting 4xx status, never a 5xx.

mod common;

use common::*;
use croupier_gateway::client::Client;
use croupier_gateway::Auth;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_must_sign_and_players_need_a_valid_token() {
    let srv = TestServer::start(2).await;
    let mut c = srv.client();
    let body = br#"{"transfer_id":"t1","user_id":1,"amount":"5.00"}"#;
    let a = c.conn.request("POST", "/api/deposit", &[], body).await.unwrap();
    assert_eq!((a.status, a.code()), (401, "UNAUTHORIZED".into()));
    let wrong = Client::new(srv.addr, b"not the key").sign("POST", "/api/deposit", body);
    let a = c.conn.request("POST", "/api/deposit", &wrong.headers(), body).await.unwrap();
    assert_eq!((a.status, a.code()), (401, "BAD_SIGNATURE".into()));
    let mut junk = c.sign("POST", "/api/deposit", body);
    junk.signature = "zz".into();
    let a = c.conn.request("POST", "/api/deposit", &junk.headers(), body).await.unwrap();
    assert_eq!((a.status, a.code()), (401, "BAD_SIGNATURE".into()));
    // A signature over another body does not carry over.
    let sig = c.sign("POST", "/api/deposit", br#"{"transfer_id":"t1","user_id":1,"amount":"500.00"}"#);
    let a = c.conn.request("POST", "/api/deposit", &sig.headers(), body).await.unwrap();
    assert_eq!(a.status, 401);
    // A session cannot be opened without the key either.
    let a = c.conn.request("POST", "/api/sessions", &[], br#"{"user_id":1}"#).await.unwrap();
    assert_eq!(a.status, 401);

    let expired = Auth::new(KEY.to_vec()).issue(croupier_domain::UserId(1), 0, 1_000);
    let a = c.player(&expired, "GET", "/api/me/balance", None).await.unwrap();
    assert_eq!((a.status, a.code()), (401, "TOKEN_EXPIRED".into()));
    let forged = Auth::new(b"attacker".to_vec()).issue(croupier_domain::UserId(1), 0, u64::MAX);
    assert_eq!(c.player(&forged, "GET", "/api/me/balance", None).await.unwrap().status, 401);
    assert_eq!(c.player("garbage", "GET", "/api/me/balance", None).await.unwrap().status, 401);
    let a = c.conn.request("GET", "/api/me/balance", &[], b"").await.unwrap();
    assert_eq!((a.status, a.code()), (401, "UNAUTHORIZED".into()));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_never_sees_or_touches_another_players_data() {
    let srv = TestServer::start(2).await;
    let mut c = srv.client();
    fund(&mut c, 1, "100.00", "d1").await;
    fund(&mut c, 2, "50.00", "d2").await;
    let (t1, t2) = (c.session(1).await.unwrap(), c.session(2).await.unwrap());
    c.operator("/api/game_event", &json!({"event": "game_start", "round_id": "r", "window_ms": 60000})).await.unwrap();
    let a = c
        .player(
            &t1,
            "POST",
            "/api/bet",
            Some(&json!({"order_no": "mine", "round_id": "r", "selection": 0, "amount": "10.00"})),
        )
        .await
        .unwrap();
    assert_eq!(a.status, 200);
    // Player 2 cannot read player 1's bet, nor see it in their list.
    let a = c.player(&t2, "GET", "/api/me/bets/mine", None).await.unwrap();
    assert_eq!((a.status, a.code()), (404, "BET_NOT_FOUND".into()));
    assert_eq!(c.player(&t2, "GET", "/api/me/bets", None).await.unwrap().json()["bets"], json!([]));
    assert_eq!(c.player(&t1, "GET", "/api/me/bets", None).await.unwrap().json()["bets"].as_array().unwrap().len(), 1);
    // Reusing player 1's order number as player 2 does not touch player 1's bet.
    let a = c
        .player(
            &t2,
            "POST",
            "/api/bet",
            Some(&json!({"order_no": "mine", "round_id": "r", "selection": 1, "amount": "10.00"})),
        )
        .await
        .unwrap();
    assert_ne!(a.status, 500);
    assert_eq!(available(&mut c, &t1).await, "90.00");
    let me = c.player(&t2, "GET", "/api/me/balance", None).await.unwrap().json();
    assert_eq!(me["user_id"], 2);
    // The balance topic is the token's own balance only: it cannot name another user.
    let mut ws = ws_connect(srv.addr, Some(&t2)).await;
    ws_send(&mut ws, json!({"op": "subscribe", "topics": ["balance:1"]})).await;
    assert_eq!(ws_next(&mut ws).await["code"], "BAD_TOPIC");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_json_and_out_of_range_values_are_client_errors() {
    let srv = TestServer::start(2).await;
    let mut c = srv.client();
    fund(&mut c, 1, "100.00", "d1").await;
    let t = c.session(1).await.unwrap();
    c.operator("/api/game_event", &json!({"event": "game_start", "round_id": "r", "window_ms": 60000})).await.unwrap();
    let auth = format!("Bearer {t}");
    let raw = |body: &'static str| body.as_bytes();
    let cases: &[(&[u8], u16, &str)] = &[
        (raw("{bad"), 400, "BAD_JSON"),
        (raw(""), 400, "BAD_JSON"),
        (raw("[]"), 400, "INVALID_REQUEST"),
        (raw(r#"{"order_no":"a","round_id":"r","selection":0}"#), 400, "INVALID_REQUEST"),
        (raw(r#"{"order_no":"a","round_id":"r","selection":70000,"amount":"1.00"}"#), 400, "INVALID_REQUEST"),
        (raw(r#"{"order_no":"a","round_id":"r","selection":-1,"amount":"1.00"}"#), 400, "INVALID_REQUEST"),
        (raw(r#"{"order_no":"a","round_id":"r","selection":0,"amount":1}"#), 400, "INVALID_REQUEST"),
        (raw(r#"{"order_no":"a","round_id":"r","selection":0,"amount":"1.001"}"#), 422, "INVALID_AMOUNT"),
        (raw(r#"{"order_no":"a","round_id":"r","selection":0,"amount":"-1.00"}"#), 422, "INVALID_AMOUNT"),
        (raw(r#"{"order_no":"a","round_id":"r","selection":0,"amount":"0"}"#), 422, "INVALID_AMOUNT"),
        (
            raw(r#"{"order_no":"a","round_id":"r","selection":0,"amount":"99999999999999999999999"}"#),
            422,
            "INVALID_AMOUNT",
        ),
        (raw(r#"{"order_no":"a","round_id":"r","selection":0,"amount":"NaN"}"#), 422, "INVALID_AMOUNT"),
        (
            raw(r#"{"order_no":"a","round_id":"r","selection":0,"amount":"1.00","currency":"XXX"}"#),
            422,
            "UNKNOWN_CURRENCY",
        ),
        (raw(r#"{"order_no":"","round_id":"r","selection":0,"amount":"1.00"}"#), 422, "INVALID_ID"),
        (
            raw(
                r#"{"order_no":"0123456789012345678901234567890123456789x","round_id":"r","selection":0,"amount":"1.00"}"#,
            ),
            422,
            "INVALID_ID",
        ),
        (raw(r#"{"order_no":"a","round_id":"r","selection":9,"amount":"1.00"}"#), 422, "UNKNOWN_SELECTION"),
        (raw(r#"{"order_no":"a","round_id":"r","selection":0,"amount":"0.50"}"#), 422, "STAKE_TOO_LOW"),
        (raw(r#"{"order_no":"a","round_id":"r","selection":0,"amount":"100.01"}"#), 422, "INSUFFICIENT_FUNDS"),
        (raw(r#"{"order_no":"a","round_id":"nope","selection":0,"amount":"1.00"}"#), 404, "ROUND_NOT_FOUND"),
    ];
    for (body, status, code) in cases {
        let a = c.conn.request("POST", "/api/bet", &[("authorization", &auth)], body).await.unwrap();
        assert_eq!((a.status, a.code().as_str()), (*status, *code), "{}", String::from_utf8_lossy(body));
    }
    let a = c
        .operator("/api/deposit", &json!({"transfer_id": "big", "user_id": 1, "amount": "9223372036854775807"}))
        .await
        .unwrap();
    assert_eq!((a.status, a.code()), (422, "INVALID_AMOUNT".into()));
    let a = c.operator("/api/deposit", &json!({"transfer_id": "neg", "user_id": -1, "amount": "1.00"})).await.unwrap();
    assert_eq!(a.status, 400);
    let a = c.operator("/api/game_event", &json!({"event": "game_explode", "round_id": "r"})).await.unwrap();
    assert_eq!(a.status, 400);
    let a = c.operator("/api/drawresult", &json!({"round_id": "r", "outcomes": ["won"]})).await.unwrap();
    assert!(a.status == 409 || a.status == 422, "{}", a.status);
    let a = c.conn.request("GET", "/no/such/path", &[], b"").await.unwrap();
    assert_eq!((a.status, a.code()), (404, "NOT_FOUND".into()));
    let a = c.conn.request("DELETE", "/api/bet", &[], b"").await.unwrap();
    assert_eq!(a.status, 405);
    assert!(a.json()["code"].is_string());

    // Junk at every endpoint, signed and unsigned: never a 5xx, always a JSON error body.
    let paths = [
        "/api/game_event",
        "/api/drawresult",
        "/api/rounds/cancel",
        "/api/rounds/resettle",
        "/api/recalculate_bets",
        "/api/deposit",
        "/api/withdraw",
        "/api/sessions",
        "/api/check_bet",
        "/api/block_funds",
        "/api/update_bet_status",
        "/api/refund",
        "/api/recalculate_bet",
        "/api/bet",
        "/api/red_packets",
        "/api/red_packets/1/p/grab",
    ];
    let junk: [&[u8]; 8] = [
        b"",
        b"null",
        b"{}",
        b"\xff\xfe",
        b"{\"amount\":\"1e400\"}",
        b"[1,2,3]",
        b"{\"user_id\":18446744073709551616}",
        b"\"x\"",
    ];
    for p in paths {
        for body in junk {
            let sig = c.sign("POST", p, body);
            for headers in [sig.headers().to_vec(), vec![("authorization", auth.as_str())]] {
                let a = c.conn.request("POST", p, &headers, body).await.unwrap();
                assert!(a.status < 500, "{p} {:?}: {}", String::from_utf8_lossy(body), a.status);
                assert!(a.status == 200 || a.json()["code"].is_string(), "{p}: {}", String::from_utf8_lossy(&a.body));
            }
        }
    }
    srv.stop().await;
}

/// `GET /api/me/bets` pages a player's bets newest first through the shard's per-player
/// index: `limit`, then `before` = the previous page's `next_before`, until no cursor is left;
/// another player's bet id as the cursor lists nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_players_bets_are_paged_newest_first_with_a_cursor() {
    let srv = TestServer::start(2).await;
    let mut c = srv.client();
    // Another player on player 1's shard: their bets interleave in the shard's bets.
    let shard = |u: u64| croupier_runtime::shard_of(croupier_domain::UserId(u), 2);
    let other = (2..).find(|&u| shard(u) == shard(1)).unwrap();
    fund(&mut c, 1, "100.00", "d1").await;
    fund(&mut c, other, "100.00", "d3").await;
    let (t1, t3) = (c.session(1).await.unwrap(), c.session(other).await.unwrap());
    c.operator("/api/game_event", &json!({"event": "game_start", "round_id": "r", "window_ms": 60000})).await.unwrap();
    let mut mine = Vec::new();
    let mut theirs = 0;
    for i in 0..7 {
        for (token, who) in [(&t1, "a"), (&t3, "b")] {
            let body = json!({"order_no": format!("{who}-{i}"), "round_id": "r", "selection": 0, "amount": "1.00"});
            let a = c.player(token, "POST", "/api/bet", Some(&body)).await.unwrap();
            assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
            if who == "a" {
                mine.push(format!("a-{i}"));
            } else {
                theirs = a.json()["bet_id"].as_u64().unwrap();
            }
        }
    }
    mine.reverse();
    let (mut seen, mut before, mut pages) = (Vec::new(), None::<u64>, 0);
    loop {
        let path = match before {
            Some(b) => format!("/api/me/bets?limit=3&before={b}"),
            None => "/api/me/bets?limit=3".to_string(),
        };
        let page = c.player(&t1, "GET", &path, None).await.unwrap().json();
        pages += 1;
        let bets = page["bets"].as_array().unwrap();
        assert!(bets.len() <= 3);
        seen.extend(bets.iter().map(|b| b["order_no"].as_str().unwrap().to_string()));
        match page["next_before"].as_u64() {
            Some(b) => {
                assert_eq!(bets.len(), 3, "only a full page has a next one");
                assert_eq!(Some(b), bets.last().unwrap()["bet_id"].as_u64());
                before = Some(b);
            }
            None => break,
        }
    }
    assert_eq!((seen, pages), (mine, 3));
    let all = c.player(&t1, "GET", "/api/me/bets?limit=500", None).await.unwrap().json();
    assert_eq!((all["bets"].as_array().unwrap().len(), all["next_before"].is_null()), (7, true));
    let a = c.player(&t1, "GET", &format!("/api/me/bets?before={theirs}"), None).await.unwrap();
    assert_eq!((a.status, a.json()["bets"].clone()), (200, json!([])), "another player's bet is no cursor");
    srv.stop().await;
}
