//! The lobby's live bet feed over loopback: finished instant bets reach `activity`
//! subscribers in batches, masked, and the history answers over HTTP and the WebSocket; a
//! bet still open (plinko before its confirmation) is not in it until it ends.

use crate::common;

use common::*;
use croupier_gateway::activity::ActivityConfig;
use croupier_gateway::GatewayConfig;
use serde_json::{json, Value};

async fn post(c: &mut croupier_gateway::client::Client, token: &str, path: &str, body: Value) -> (u16, Value) {
    let a = c.player(token, "POST", path, Some(&body)).await.unwrap();
    (a.status, a.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_bets_are_batched_to_subscribers_and_kept_per_game() {
    // Every bet shown (no sampling), batches of 3, and a long wait so only fullness sends.
    let activity = ActivityConfig { sample_per_mille: 1_000, batch_items: 3, batch_ms: 60_000, ..Default::default() };
    let srv = TestServer::start_with(2, GatewayConfig { activity, ..GatewayConfig::default() }).await;
    let mut c = srv.client();
    let user = 1_234_567;
    fund(&mut c, user, "100.00", "dep-1").await;
    let token = c.session(user).await.unwrap();
    c.player(&token, "GET", "/api/me/instant/seeds", None).await.unwrap();
    let mut ws = ws_connect(srv.addr, Some(&token)).await;
    ws_subscribe(&mut ws, &["activity"], json!({})).await;

    let plinko = json!({"id": "p1", "game": "plinko", "amount": "1.00", "rows": 8, "risk": "low"});
    assert_eq!(post(&mut c, &token, "/api/instant/bets", plinko).await.0, 200);
    let mut payouts = Vec::new();
    for i in 0..2 {
        // Target 2.00 over: a win almost always, at 1.0102x: never a big win.
        let dice = json!({"id": format!("d{i}"), "game": "dice", "amount": "1.00", "target": "2.00"});
        let (status, bet) = post(&mut c, &token, "/api/instant/bets", dice).await;
        assert_eq!(status, 200, "{bet}");
        payouts.push(bet["payout"].clone());
    }
    // Two dice bets finished, the plinko bet is still open: no batch yet. Its confirmation
    // finishes it and fills the batch.
    let (status, p1) = post(&mut c, &token, "/api/instant/bets/p1/settle", json!(null)).await;
    assert_eq!(status, 200, "{p1}");
    let batch = ws_next(&mut ws).await;
    assert_eq!((batch["type"].as_str(), batch["topic"].as_str()), (Some("bet_activity_batch"), Some("activity")));
    let items = batch["items"].as_array().unwrap();
    let games: Vec<&str> = items.iter().map(|i| i["game"].as_str().unwrap()).collect();
    assert_eq!(games, ["dice", "dice", "plinko"], "{batch}");
    assert!(items.iter().all(|i| i["player"] == "12***67"), "masked: {batch}");
    assert!(!batch.to_string().contains("1234567"), "{batch}");
    assert_eq!((items[0]["amount"].as_str(), &items[0]["payout"]), (Some("1.00"), &payouts[0]));
    assert_eq!(items[2]["payout"], p1["payout"]);

    // History per game, newest first, over HTTP (public) and over the WebSocket.
    let dice = c.player(&token, "GET", "/api/instant/activity?game=dice", None).await.unwrap();
    assert_eq!(dice.status, 200);
    let dice = dice.json();
    let bets: Vec<u64> = dice["items"].as_array().unwrap().iter().map(|i| i["bet_no"].as_u64().unwrap()).collect();
    assert_eq!(bets.len(), 2);
    assert!(bets[0] > bets[1], "newest first: {dice}");
    let one = c.player(&token, "GET", "/api/instant/activity?game=dice&limit=1", None).await.unwrap().json();
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    let missing = c.player(&token, "GET", "/api/instant/activity", None).await.unwrap();
    assert_eq!((missing.status, missing.json()["code"].as_str()), (422, Some("MISSING_GAME_ID")));
    ws_send(&mut ws, json!({"op": "GET_BET_ACTIVITIES", "gameId": "inhousegame:plinko", "limit": 50})).await;
    let answer = ws_next(&mut ws).await;
    assert_eq!((answer["type"].as_str(), answer["game"].as_str()), (Some("bet_activities"), Some("plinko")));
    assert_eq!(answer["items"].as_array().unwrap().len(), 1, "{answer}");
    ws_send(&mut ws, json!({"op": "get_bet_activities", "game": "roulette"})).await;
    let refused = ws_next(&mut ws).await;
    assert_eq!((refused["type"].as_str(), refused["code"].as_str()), (Some("error"), Some("UNKNOWN_GAME")));

    // After a restart the history is rebuilt from the journal (by push's tail threads, as
    // they read it: a bounded wait, a hang guard).
    drop(ws);
    let srv = srv.restart().await;
    let mut c = srv.client();
    let mut again = Value::Null;
    for _ in 0..500 {
        again = c.player(&token, "GET", "/api/instant/activity?game=dice", None).await.unwrap().json();
        if again["items"] == dice["items"] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(again["items"], dice["items"]);
    srv.stop().await;
}
