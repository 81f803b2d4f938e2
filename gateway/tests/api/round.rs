//! A full seed 000 round over loopback: start, bets from many players, stop, new card, draw
//! with settlement, end; checked through the API and on the WebSocket.

use crate::common;

use common::*;
use serde_json::json;
use std::collections::HashMap;

const PLAYERS: u64 = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_round_is_played_and_seen_on_the_websocket() {
    let srv = TestServer::start(2).await;
    let mut op = srv.client();
    let mut tokens = HashMap::new();
    for u in 1..=PLAYERS {
        fund(&mut op, u, "1000.00", &format!("dep-{u}")).await;
        tokens.insert(u, op.session(u).await.unwrap());
    }

    let mut ws = ws_connect(srv.addr, Some(&tokens[&1])).await;
    ws_subscribe(&mut ws, &["round:r-000", "bets", "balance"], json!({})).await;

    let a = op
        .operator("/api/game_event", &json!({"event": "game_start", "round_id": "r-000", "window_ms": 60000}))
        .await
        .unwrap();
    assert_eq!(a.status, 200);
    let started = a.json();
    assert_eq!(started["game_status"], 1);
    let (bet_start, bet_stop) =
        (started["bet_start_time"].as_u64().unwrap(), started["bet_stop_time"].as_u64().unwrap());
    assert_eq!(bet_stop - bet_start, 60_000);
    assert!((59..=60).contains(&started["countdown"].as_u64().unwrap()), "{started}");

    // Every player bets 10.00 at once, each on its own connection: selection u % 3.
    let mut tasks = Vec::new();
    for u in 1..=PLAYERS {
        let (mut c, token) = (srv.client(), tokens[&u].clone());
        tasks.push(tokio::spawn(async move {
            let body =
                json!({"order_no": format!("o-{u}"), "round_id": "r-000", "selection": u % 3, "amount": "10.00"});
            let a = c.player(&token, "POST", "/api/bet", Some(&body)).await.unwrap();
            assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
            assert_eq!(a.json()["bill_status"], 1);
            // A repeat is the first answer again.
            let again = c.player(&token, "POST", "/api/bet", Some(&body)).await.unwrap();
            assert_eq!(again.json()["replayed"], true);
            assert_eq!(again.json()["bet_id"], a.json()["bet_id"]);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let round = op.player(&tokens[&2], "GET", "/api/rounds/r-000", None).await.unwrap().json();
    assert_eq!(round["status"], "betting");
    assert_eq!(available(&mut op, &tokens[&1]).await, "990.00");

    for event in ["game_stop", "new_card"] {
        let a = op.operator("/api/game_event", &json!({"event": event, "round_id": "r-000"})).await.unwrap();
        assert_eq!(a.status, 200, "{event}: {}", String::from_utf8_lossy(&a.body));
    }
    let late = op
        .player(
            &tokens[&3],
            "POST",
            "/api/bet",
            Some(&json!({"order_no": "late", "round_id": "r-000", "selection": 0, "amount": "1.00"})),
        )
        .await
        .unwrap();
    assert_eq!((late.status, late.code()), (409, "ROUND_CLOSED".to_string()));

    // Banker wins.
    let a = op
        .operator("/api/drawresult", &json!({"round_id": "r-000", "outcomes": ["won", "lost", "lost"]}))
        .await
        .unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["settled_bets"], PLAYERS);
    assert_eq!(a.json()["game_status"], 5);
    let a = op.operator("/api/game_event", &json!({"event": "game_end", "round_id": "r-000"})).await.unwrap();
    assert_eq!(a.json()["game_status"], 6);

    for u in 1..=PLAYERS {
        let expected = if u % 3 == 0 { "1009.50" } else { "990.00" };
        assert_eq!(available(&mut op, &tokens[&u]).await, expected, "player {u}");
        let bet = op.player(&tokens[&u], "GET", &format!("/api/me/bets/o-{u}"), None).await.unwrap().json();
        assert_eq!(bet["bill_status"], 2);
        assert_eq!(bet["outcome"], if u % 3 == 0 { "won" } else { "lost" });
    }
    let round = op.player(&tokens[&2], "GET", "/api/rounds/r-000", None).await.unwrap().json();
    assert_eq!((round["status"].as_str(), round["countdown"].as_u64()), (Some("ended"), Some(0)));

    // The WebSocket saw the round's lifecycle, every bet on the public feed (without who),
    // and player 1's own bet and settlement, each with increasing positions per shard.
    let (mut feed, mut statuses, mut drawn, mut own) = (0, Vec::new(), false, Vec::new());
    let mut last: HashMap<u64, u64> = HashMap::new();
    while statuses.last() != Some(&6) || feed < PLAYERS || own.len() < 2 {
        let m = ws_next(&mut ws).await;
        assert_eq!(m["type"], "event", "{m}");
        let (shard, pos) = (m["shard"].as_u64().unwrap(), m["position"].as_u64().unwrap());
        assert!(pos >= *last.get(&shard).unwrap_or(&0), "positions go forward per shard");
        last.insert(shard, pos);
        let e = &m["event"];
        match (m["topic"].as_str().unwrap(), e["type"].as_str().unwrap()) {
            ("bets", "bet_accepted") => {
                assert!(e.get("user_id").is_none(), "the public feed does not say who bet");
                feed += 1;
            }
            ("round:r-000", "round_status") => statuses.push(e["game_status"].as_u64().unwrap()),
            ("round:r-000", "round_drawn") => {
                assert_eq!(e["outcomes"], json!(["won", "lost", "lost"]));
                statuses.push(e["game_status"].as_u64().unwrap());
                drawn = true;
            }
            ("round:r-000", "round_opened") => assert_eq!(e["bet_stop_time"].as_u64(), Some(bet_stop)),
            ("balance", kind) => own.push((kind.to_string(), e.clone())),
            other => panic!("unexpected {other:?}: {m}"),
        }
    }
    assert!(drawn);
    assert_eq!(statuses, vec![3, 4, 5, 6]);
    assert_eq!(own[0].0, "bet_accepted");
    assert_eq!(own[0].1["user_id"], 1);
    assert_eq!((own[1].0.as_str(), own[1].1["outcome"].as_str()), ("bet_settled", Some("lost")));
    srv.stop().await;
}
