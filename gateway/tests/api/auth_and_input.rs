//! Authentication failures, players kept apart, bad JSON and out-of-range values: every
//! answer is a JSON error with a fitting 4xx status, never a 5xx.

use crate::common;

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
    assert_eq!((a.status, a.code()), (422, "INVALID_ID".into()));
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

/// User ids above i64::MAX (the SQL projection's BIGINT) are refused at the edge, wherever a
/// user id enters, with a JSON error naming the field; they used to be accepted and projected
/// as negative numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_ids_above_i64_max_are_refused_at_the_edge() {
    let srv = TestServer::start(2).await;
    let mut c = srv.client();
    let big = (1u64 << 63) + 5;
    let cases = [
        ("/api/deposit", json!({"transfer_id": "big-1", "user_id": big, "amount": "1.00"})),
        ("/api/deposit", json!({"transfer_id": "big-2", "user_id": big.to_string(), "amount": "1.00"})),
        ("/api/withdraw", json!({"transfer_id": "big-3", "user_id": big, "amount": "1.00"})),
        ("/api/sessions", json!({"user_id": big})),
        ("/api/sessions/revoke", json!({"user_id": u64::MAX})),
        ("/api/check_bet", json!({"partner_player_id": big.to_string(), "bet_id": "b", "amount": "1.00"})),
        ("/api/block_funds", json!({"partner_player_id": big, "bet_id": "b", "amount": 1})),
        ("/api/update_bet_status", json!({"partner_player_id": big, "bet_id": "b", "status": "lose"})),
        ("/api/refund", json!({"partner_player_id": big.to_string(), "bet_id": "b"})),
        (
            "/api/recalculate_bet",
            json!({"partner_player_id": big, "bet_id": "b", "status": "lose", "transaction_id": "t"}),
        ),
    ];
    for (path, body) in cases {
        let a = c.operator(path, &body).await.unwrap();
        assert_eq!((a.status, a.code().as_str()), (422, "INVALID_ID"), "{path} {body}");
        let message = a.json()["message"].as_str().unwrap_or("").to_string();
        assert!(message.contains("at most 9223372036854775807"), "{path}: {message}");
    }
    // Past u64 too, and text that is not digits.
    let raw = br#"{"transfer_id":"big-4","user_id":18446744073709551621,"amount":"1.00"}"#;
    let a = c.operator_raw("/api/deposit", raw).await.unwrap();
    assert_eq!((a.status, a.code().as_str()), (422, "INVALID_ID"));
    let not_digits = json!({"partner_player_id": "67890x", "bet_id": "b", "amount": "1.00"});
    let a = c.operator("/api/block_funds", &not_digits).await.unwrap();
    assert_eq!((a.status, a.code().as_str()), (422, "INVALID_ID"));
    assert!(a.json()["message"].as_str().unwrap().starts_with("partner_player_id"), "{}", a.json());
    // i64::MAX itself is a user like any other.
    fund(&mut c, i64::MAX as u64, "1.00", "max-1").await;
    srv.stop().await;
}

/// Seed 004's example bodies, byte for byte as the seed prints them (Russian original:
/// `../shared/seeds/004_*.txt`), signed and sent: amounts as JSON numbers (`100`, `200`),
/// the player as a string (`"67890"`), `partner_id`, and `recalculate_bets` as
/// `{round_id, correct_result}`. Each is accepted and does what it says.
mod seed_004 {
    use super::*;

    pub const CHECK_BET: &str = r#"{
  "partner_id": "12345",
  "partner_player_id": "67890",
  "amount": 100,
  "bet_id": "abcde12345"
}"#;
    pub const BLOCK_FUNDS: &str = CHECK_BET;
    pub const UPDATE_BET_STATUS: &str = r#"{
  "partner_id": "12345",
  "partner_player_id": "67890",
  "amount": 100,
  "bet_id": "abcde12345",
  "status": "win",
  "payout": 200
}"#;
    pub const REFUND: &str = CHECK_BET;
    pub const RECALCULATE_BETS: &str = r#"{
  "round_id": "round123",
  "correct_result": "5"
}"#;

    /// A die: six selections named by their face, as seed 004's `"correct_result": "5"`
    /// names the winner.
    pub fn dice() -> croupier_domain::command::GameDef {
        use croupier_domain::{Code, ExtId, Odds};
        let mut g = croupier_gateway::config::baccarat();
        g.game = ExtId::new("dice").unwrap();
        let face = |n: u32| croupier_domain::command::SelectionDef {
            market: Code::new("main").unwrap(),
            name: Code::new(&n.to_string()).unwrap(),
            odds: Odds(60_000),
        };
        g.selections = (1..=6).map(face).collect();
        g
    }

    /// (available, held) of the token's player.
    pub async fn balance(c: &mut Client, token: &str) -> (String, String) {
        let b = c.player(token, "GET", "/api/me/balance", None).await.unwrap().json();
        let s = |k: &str| b["balances"][0][k].as_str().unwrap_or("none").to_string();
        (s("available"), s("held"))
    }

    pub async fn send(c: &mut Client, path: &str, body: &str, status: &str) -> serde_json::Value {
        let a = c.operator_raw(path, body.as_bytes()).await.unwrap();
        assert_eq!(a.status, 200, "{path}: {}", String::from_utf8_lossy(&a.body));
        let j = a.json();
        assert_eq!(j["status"], status, "{path}: {j}");
        j
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_004_example_bodies_sent_verbatim_are_accepted() {
    use seed_004::*;
    let mut cfg = croupier_gateway::GatewayConfig::default();
    cfg.games.push(dice());
    let srv = TestServer::start_with(2, cfg).await;
    let mut c = srv.client();
    fund(&mut c, 67890, "1000.00", "s4-fund").await;
    let player = c.session(67890).await.unwrap();

    // check_bet: approved, nothing moves.
    let j = send(&mut c, "/api/check_bet", CHECK_BET, "approved").await;
    assert_eq!(j["bet_id"], "abcde12345");
    assert_eq!(balance(&mut c, &player).await, ("1000.00".into(), "0.00".into()));
    // block_funds: `100` is 100.00, exactly as "100.00" would be.
    send(&mut c, "/api/block_funds", BLOCK_FUNDS, "blocked").await;
    assert_eq!(balance(&mut c, &player).await, ("900.00".into(), "100.00".into()));
    // update_bet_status: won, the payout `200` (200.00) is paid, the hold is gone.
    send(&mut c, "/api/update_bet_status", UPDATE_BET_STATUS, "updated").await;
    assert_eq!(balance(&mut c, &player).await, ("1100.00".into(), "0.00".into()));
    // A number with decimals is read from its text: 200.5 is 200.50, never a float's rounding.
    let exact = UPDATE_BET_STATUS.replace("abcde12345", "fractional").replace("\"payout\": 200", "\"payout\": 200.5");
    send(&mut c, "/api/block_funds", &BLOCK_FUNDS.replace("abcde12345", "fractional"), "blocked").await;
    send(&mut c, "/api/update_bet_status", &exact, "updated").await;
    assert_eq!(balance(&mut c, &player).await, ("1200.50".into(), "0.00".into()));

    // refund: the same bet id on a fresh bet, since the one above is settled.
    let other = TestServer::start(1).await;
    let mut c2 = other.client();
    fund(&mut c2, 67890, "1000.00", "s4-fund").await;
    let p2 = c2.session(67890).await.unwrap();
    send(&mut c2, "/api/block_funds", BLOCK_FUNDS, "blocked").await;
    assert_eq!(balance(&mut c2, &p2).await, ("900.00".into(), "100.00".into()));
    send(&mut c2, "/api/refund", REFUND, "refunded").await;
    assert_eq!(balance(&mut c2, &p2).await, ("1000.00".into(), "0.00".into()));
    other.stop().await;

    // recalculate_bets: round123 of the die was drawn 3; the correct result is 5.
    let start = json!({"event": "game_start", "round_id": "round123", "game": "dice", "window_ms": 60000});
    assert_eq!(c.operator("/api/game_event", &start).await.unwrap().status, 200);
    let (on_five, on_three) = (71u64, 72u64);
    let mut tokens = Vec::new();
    for (user, selection) in [(on_five, 4), (on_three, 2)] {
        fund(&mut c, user, "10.00", &format!("s4-{user}")).await;
        let t = c.session(user).await.unwrap();
        let bet =
            json!({"order_no": format!("o-{user}"), "round_id": "round123", "selection": selection, "amount": "10.00"});
        let a = c.player(&t, "POST", "/api/bet", Some(&bet)).await.unwrap();
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        tokens.push(t);
    }
    for event in ["game_stop", "new_card"] {
        assert_eq!(
            c.operator("/api/game_event", &json!({"event": event, "round_id": "round123"})).await.unwrap().status,
            200
        );
    }
    let three = json!({"round_id": "round123", "outcomes": ["lost", "lost", "won", "lost", "lost", "lost"]});
    assert_eq!(c.operator("/api/drawresult", &three).await.unwrap().status, 200);
    assert_eq!(available(&mut c, &tokens[0]).await, "0.00");
    assert_eq!(available(&mut c, &tokens[1]).await, "60.00");
    let j = send(&mut c, "/api/recalculate_bets", RECALCULATE_BETS, "recalculated").await;
    assert_eq!((j["round_id"].as_str(), j["replayed"].as_bool()), (Some("round123"), Some(false)), "{j}");
    assert!(j["message"].as_str().unwrap().contains("round123"), "{j}");
    assert_eq!(available(&mut c, &tokens[0]).await, "60.00", "the bet on 5 won");
    assert_eq!(available(&mut c, &tokens[1]).await, "0.00", "the bet on 3 lost");
    let round = c.player(&tokens[0], "GET", "/api/rounds/round123", None).await.unwrap().json();
    assert_eq!(round["result"], json!(["lost", "lost", "lost", "lost", "won", "lost"]));
    // The same correction again changes nothing.
    let again = send(&mut c, "/api/recalculate_bets", RECALCULATE_BETS, "recalculated").await;
    assert_eq!(again["replayed"], true, "{again}");
    assert_eq!(available(&mut c, &tokens[0]).await, "60.00");
    // A result no selection is named, and both forms at once, are refused with JSON errors.
    let a = c.operator_raw("/api/recalculate_bets", br#"{"round_id":"round123","correct_result":"7"}"#).await.unwrap();
    assert_eq!((a.status, a.code().as_str()), (422, "UNKNOWN_SELECTION"));
    let both = br#"{"round_id":"round123","correct_result":"5","outcomes":["won"]}"#;
    let a = c.operator_raw("/api/recalculate_bets", both).await.unwrap();
    assert_eq!((a.status, a.code().as_str()), (400, "INVALID_REQUEST"));
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
