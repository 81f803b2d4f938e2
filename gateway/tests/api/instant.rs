//! Instant games over loopback: seeds (hash first, rotation revealing the seed), a dice bet
//! verified afterwards with the revealed seed through the public verifier, keno, plinko with
//! its confirmation, mines, and a restart that keeps a mines game in play.

use crate::common;

use common::*;
use serde_json::{json, Value};

async fn post(c: &mut croupier_gateway::client::Client, token: &str, path: &str, body: Value) -> (u16, Value) {
    let a = c.player(token, "POST", path, Some(&body)).await.unwrap();
    (a.status, a.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_bets_and_verification_over_http() {
    let srv = TestServer::start(2).await;
    let mut c = srv.client();
    fund(&mut c, 7, "100.00", "dep-7").await;
    let token = c.session(7).await.unwrap();

    // No bet before the player has seen a hash.
    let dice = json!({"id": "d1", "game": "dice", "amount": "1.00", "target": "50.00", "over": true});
    let (status, refused) = post(&mut c, &token, "/api/instant/bets", dice.clone()).await;
    assert_eq!((status, refused["code"].as_str()), (422, Some("SEED_REQUIRED")), "{refused}");
    let seeds = c.player(&token, "GET", "/api/me/instant/seeds", None).await.unwrap().json();
    let hash = seeds["current"]["server_seed_hash"].as_str().unwrap().to_owned();
    assert_eq!(hash.len(), 64);
    assert!(seeds["current"]["server_seed"].is_null(), "{seeds}");
    assert_eq!(seeds["next_nonce"], 0);

    let (status, placed) = post(&mut c, &token, "/api/instant/bets", dice.clone()).await;
    assert_eq!(status, 200, "{placed}");
    assert_eq!((placed["state"].as_str(), placed["nonce"].as_u64()), (Some("settled"), Some(0)));
    assert!(placed["server_seed"].is_null(), "the seed in use is never shown: {placed}");
    assert_eq!(placed["server_seed_hash"].as_str(), Some(hash.as_str()));
    let (_, again) = post(&mut c, &token, "/api/instant/bets", dice).await;
    assert_eq!((again["replayed"].as_bool(), again["bet_no"].clone()), (Some(true), placed["bet_no"].clone()));

    // Keno and plinko; plinko pays only once confirmed.
    let keno = json!({"id": "k1", "game": "keno", "amount": "1.00", "picks": [1, 2, 3, 4, 5], "risk": "high"});
    let (status, k) = post(&mut c, &token, "/api/instant/bets", keno).await;
    assert_eq!((status, k["nonce"].as_u64()), (200, Some(1)), "{k}");
    // The view repeats what was bet on, so a verifier needs nothing else.
    assert_eq!((k["picks"].clone(), k["risk"].as_str()), (json!([1, 2, 3, 4, 5]), Some("high")), "{k}");
    assert!(k["rows"].is_null() && k["mines"].is_null() && k["target"].is_null(), "{k}");
    let plinko = json!({"id": "p1", "game": "plinko", "amount": "1.00", "rows": 8, "risk": "low"});
    let (status, p) = post(&mut c, &token, "/api/instant/bets", plinko).await;
    assert_eq!((status, p["state"].as_str()), (200, Some("open")), "{p}");
    assert_eq!((p["rows"].as_u64(), p["risk"].as_str()), (Some(8), Some("low")), "{p}");
    let (status, settled) = post(&mut c, &token, "/api/instant/bets/p1/settle", json!(null)).await;
    assert_eq!(
        (status, settled["state"].as_str(), settled["ended"].as_str()),
        (200, Some("settled"), Some("confirmed"))
    );
    let (_, twice) = post(&mut c, &token, "/api/instant/bets/p1/settle", json!(null)).await;
    assert_eq!(twice["replayed"], true);

    // Rotation reveals the seed; the history then shows it, and the public verifier
    // reproduces the dice roll from it.
    let (status, rotated) = post(&mut c, &token, "/api/me/instant/seeds/rotate", json!({"client_seed": "mine"})).await;
    assert_eq!(status, 200, "{rotated}");
    let revealed = rotated["revealed"]["server_seed"].as_str().unwrap().to_owned();
    assert_eq!(rotated["revealed"]["nonces"], 3);
    assert_eq!(rotated["current"]["client_seed"], "mine");
    let history = c.player(&token, "GET", "/api/me/instant/bets?limit=10", None).await.unwrap().json();
    let bets = history["bets"].as_array().unwrap();
    assert_eq!(bets.len(), 3);
    assert!(history["open_mines"].is_null(), "{history}");
    let d1 = bets.iter().find(|b| b["id"] == "d1").unwrap();
    assert_eq!((d1["target"].as_str(), d1["over"].as_bool()), (Some("50.00"), Some(true)), "{d1}");
    assert_eq!(d1["server_seed"].as_str(), Some(revealed.as_str()));
    let check = json!({"game": "dice", "server_seed": revealed, "client_seed": d1["client_seed"], "nonce": 0,
        "target": "50.00", "over": true});
    let a = c.player(&token, "POST", "/api/fair/verify", Some(&check)).await.unwrap();
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["server_seed_hash"].as_str(), Some(hash.as_str()));
    assert_eq!(format!("roll {}", v["outcome"].as_str().unwrap()), d1["outcome"].as_str().unwrap());
    assert_eq!(v["multiplier"], d1["multiplier"]);

    let games = c.player(&token, "GET", "/api/instant/games", None).await.unwrap().json();
    assert_eq!(games["dice_edge"], "1.00%");
    assert_eq!(games["plinko"].as_array().unwrap().len(), 27);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mines_game_survives_a_restart() {
    let srv = TestServer::start(1).await;
    let mut c = srv.client();
    fund(&mut c, 9, "100.00", "dep-9").await;
    let token = c.session(9).await.unwrap();
    c.player(&token, "GET", "/api/me/instant/seeds", None).await.unwrap();
    let (status, m) =
        post(&mut c, &token, "/api/instant/bets", json!({"id": "m1", "game": "mines", "amount": "1.00", "mines": 1}))
            .await;
    assert_eq!((status, m["state"].as_str()), (200, Some("open")), "{m}");
    // Rotation would reveal where the mine is: refused while the game runs.
    let (status, refused) = post(&mut c, &token, "/api/me/instant/seeds/rotate", json!({})).await;
    assert_eq!((status, refused["code"].as_str()), (409, Some("GAME_IN_PROGRESS")));
    let srv = srv.restart().await;
    let mut c = srv.client();
    // A page reloaded in the game finds it, with its mines count, whatever came after it.
    let dice = json!({"id": "d9", "game": "dice", "amount": "1.00", "target": "50.00"});
    let (_, d) = post(&mut c, &token, "/api/instant/bets", dice).await;
    assert_eq!(d["state"], "settled", "{d}");
    // What the balance holds besides the mines game: 100.00 − the dice stake + its payout.
    let cents = |a: &str| a.replace('.', "").parse::<i64>().unwrap();
    let dice_payout = cents(d["payout"].as_str().unwrap());
    let after = |mines_payout: i64| {
        let c = 10_000 - 100 + dice_payout - 100 + mines_payout;
        format!("{}.{:02}", c / 100, c % 100)
    };
    let history = c.player(&token, "GET", "/api/me/instant/bets?limit=1", None).await.unwrap().json();
    assert_eq!(history["bets"][0]["id"], "d9");
    assert_eq!((history["open_mines"]["id"].as_str(), history["open_mines"]["mines"].as_u64()), (Some("m1"), Some(1)));
    // One mine of 25: tile 0 is a gem (cash out at 1.0312×) or the mine (nothing back).
    let (status, r) = post(&mut c, &token, "/api/instant/bets/m1/reveal", json!({"tile": 0})).await;
    assert_eq!(status, 200, "{r}");
    if r["state"] == "open" {
        assert_eq!(r["multiplier"], "1.0312");
        let (status, out) = post(&mut c, &token, "/api/instant/bets/m1/cashout", json!(null)).await;
        assert_eq!((status, out["payout"].as_str(), out["ended"].as_str()), (200, Some("1.03"), Some("cashed_out")));
        assert!(out["outcome"].as_str().unwrap().contains("mines at"), "{out}");
        assert!(r["mine_tile"].is_null(), "{r}");
        assert_eq!(available(&mut c, &token).await, after(103));
    } else {
        assert_eq!((r["ended"].as_str(), r["payout"].as_str()), (Some("mine"), Some("0.00")), "{r}");
        assert!(r["outcome"].as_str().unwrap().contains("mines at 0"), "{r}");
        assert_eq!(r["mine_tile"], 0, "{r}");
        assert_eq!(available(&mut c, &token).await, after(0));
    }
    srv.stop().await;
}

/// Deals blackjack games (`<prefix><n>`, 1.00 each) until one is still open after the deal
/// (a blackjack or the dealer's ends some at once); a bound, not a timing.
async fn open_blackjack(c: &mut croupier_gateway::client::Client, token: &str, prefix: &str) -> Value {
    for n in 0..40 {
        let bet = json!({"id": format!("{prefix}{n}"), "game": "blackjack", "amount": "1.00"});
        let (status, v) = post(c, token, "/api/instant/bets", bet).await;
        assert_eq!(status, 200, "{v}");
        if v["state"] == "open" {
            return v;
        }
        assert_eq!(v["ended"], "finished", "{v}");
    }
    panic!("40 blackjack games in a row ended at the deal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackjack_over_http_with_safe_retries_and_the_operators_refund() {
    let srv = TestServer::start(2).await;
    let mut c = srv.client();
    fund(&mut c, 11, "100.00", "dep-11").await;
    let token = c.session(11).await.unwrap();
    c.player(&token, "GET", "/api/me/instant/seeds", None).await.unwrap();

    let game = open_blackjack(&mut c, &token, "g").await;
    let id = game["id"].as_str().unwrap().to_owned();
    // The history answers the game in play wherever it is: a reloaded page resumes it.
    let history = c.player(&token, "GET", "/api/me/instant/bets?limit=1", None).await.unwrap().json();
    assert_eq!(history["open_blackjack"]["id"].as_str(), Some(id.as_str()), "{history}");
    assert!(history["open_mines"].is_null(), "{history}");
    let bj = &game["blackjack"];
    assert_eq!(bj["dealer"].as_array().unwrap().len(), 1, "the hole card stays hidden: {game}");
    assert_eq!((bj["step"].as_u64(), game["payout"].is_null()), (Some(0), true), "{game}");
    assert!(game["server_seed"].is_null());
    // Insurance first when offered (declined), then stand every hand; each step sent.
    let mut played = Vec::new();
    let mut view = game.clone();
    for _ in 0..4 {
        if view["state"] != "open" {
            break;
        }
        let step = view["blackjack"]["step"].as_u64().unwrap();
        let allowed: Vec<&str> =
            view["blackjack"]["allowed"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        let (path, body, name) = if allowed.contains(&"no_insurance") {
            ("insurance", json!({"take": false, "step": step}), "no_insurance")
        } else {
            ("stand", json!({"step": step}), "stand")
        };
        let url = format!("/api/instant/bets/{id}/{path}");
        let (status, next) = post(&mut c, &token, &url, body.clone()).await;
        assert_eq!((status, next["replayed"].as_bool()), (200, Some(false)), "{next}");
        // The same step again: the first answer, nothing drawn twice.
        let (status, again) = post(&mut c, &token, &url, body).await;
        assert_eq!((status, again["replayed"].as_bool()), (200, Some(true)), "{again}");
        assert_eq!(again["blackjack"], next["blackjack"]);
        played.push(name);
        assert_eq!(next["blackjack"]["actions"], json!(played), "the actions played, in order");
        view = next;
    }
    assert_eq!((view["state"].as_str(), view["ended"].as_str()), (Some("settled"), Some("finished")), "{view}");
    assert!(view["blackjack"]["dealer"].as_array().unwrap().len() >= 2, "the dealer's cards are shown: {view}");
    let paid = view["payout"].as_str().unwrap().to_owned();
    let history = c.player(&token, "GET", "/api/me/instant/bets?limit=1", None).await.unwrap().json();
    assert!(history["open_blackjack"].is_null(), "over: nothing to resume: {history}");
    // A step not reached, and an action on a finished game.
    let (status, e) = post(&mut c, &token, &format!("/api/instant/bets/{id}/hit"), json!({"step": 9})).await;
    assert_eq!((status, e["code"].as_str()), (409, Some("STEP_AHEAD")));
    let (status, e) = post(&mut c, &token, &format!("/api/instant/bets/{id}/hit"), json!(null)).await;
    assert_eq!((status, e["code"].as_str()), (409, Some("BET_SETTLED")));

    // The operator refunds an open game: both stakes of a double would come back; here one.
    let before = available(&mut c, &token).await;
    let open = open_blackjack(&mut c, &token, "r").await;
    let rid = open["id"].as_str().unwrap().to_owned();
    let a = c.operator("/api/instant/refund", &json!({"user_id": 11, "id": rid})).await.unwrap();
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    assert_eq!((v["status"].as_str(), v["bet"]["ended"].as_str()), (Some("ROLLED_BACK"), Some("refunded")), "{v}");
    let again = c.operator("/api/instant/refund", &json!({"user_id": 11, "id": rid})).await.unwrap().json();
    assert_eq!(again["status"], "ALREADY_ROLLED_BACK");
    let a = c.operator("/api/instant/refund", &json!({"user_id": 11, "id": id})).await.unwrap();
    assert_eq!((a.status, a.code().as_str()), (409, "BET_SETTLED"));
    let a = c.operator("/api/instant/refund", &json!({"user_id": 11, "id": "nope"})).await.unwrap();
    assert_eq!((a.status, a.code().as_str()), (404, "BET_NOT_FOUND"));
    // The games dealt while looking for an open one settled; the refunded one moved nothing.
    let history = c.player(&token, "GET", "/api/me/instant/bets?limit=200", None).await.unwrap().json();
    let since: f64 = history["bets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["id"].as_str().unwrap().starts_with('r') && b["id"] != rid.as_str())
        .map(|b| b["payout"].as_str().unwrap().parse::<f64>().unwrap() - 1.0)
        .sum();
    let after: f64 = available(&mut c, &token).await.parse().unwrap();
    assert!((after - before.parse::<f64>().unwrap() - since).abs() < 0.001, "{after} {before} {since}");

    // Rotation reveals the seed: the public verifier replays the played game to its multiplier.
    let (status, rotated) = post(&mut c, &token, "/api/me/instant/seeds/rotate", json!({})).await;
    assert_eq!(status, 200, "{rotated}");
    let check = json!({"game": "blackjack", "server_seed": rotated["revealed"]["server_seed"],
        "client_seed": view["client_seed"], "nonce": view["nonce"], "actions": played});
    let v = c.player(&token, "POST", "/api/fair/verify", Some(&check)).await.unwrap().json();
    assert_eq!(v["multiplier"], view["multiplier"], "{v} {view} paid {paid}");
    srv.stop().await;
}
