//! A blackjack hand survives `kill -9`: `croupier serve` deals a game, the player answers
//! the insurance if offered, the server is killed with SIGKILL, restarted on the same folder,
//! and the game must be there as it was (cards, stakes, step) and play on to its end, with the
//! balance equal to the deposit less every stake plus every payout.

use super::crash_game::{Server, KEY};
use croupier_gateway::client::Client;
use serde_json::{json, Value};

async fn post(c: &mut Client, token: &str, path: &str, body: Value) -> Value {
    let a = c.player(token, "POST", path, Some(&body)).await.expect("request");
    assert_eq!(a.status, 200, "{path}: {}", String::from_utf8_lossy(&a.body));
    a.json()
}

async fn get(c: &mut Client, token: &str, path: &str) -> Value {
    let a = c.player(token, "GET", path, None).await.expect("request");
    assert_eq!(a.status, 200, "{path}: {}", String::from_utf8_lossy(&a.body));
    a.json()
}

fn cents(s: &str) -> i64 {
    let (u, f) = s.split_once('.').expect("two decimals");
    u.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap()
}

async fn game(c: &mut Client, token: &str, id: &str) -> Value {
    let history = get(c, token, "/api/me/instant/bets?limit=200").await;
    history["bets"].as_array().unwrap().iter().find(|b| b["id"] == id).expect("the game is in the history").clone()
}

/// A game still open after the deal and, if insurance was offered, after declining it (a
/// bound of 60 games, not a timing).
async fn open_game(c: &mut Client, token: &str) -> Value {
    for n in 0..60 {
        let id = format!("bj{n}");
        let v = post(c, token, "/api/instant/bets", json!({"id": id, "game": "blackjack", "amount": "2.00"})).await;
        if v["state"] != "open" {
            continue;
        }
        let offered = v["blackjack"]["allowed"].as_array().unwrap().iter().any(|a| a == "no_insurance");
        if !offered {
            return v;
        }
        let path = format!("/api/instant/bets/{id}/insurance");
        let v = post(c, token, &path, json!({"take": false, "step": 0})).await;
        if v["state"] == "open" {
            return v;
        }
    }
    panic!("60 games in a row ended before the player's turn");
}

#[test]
fn a_blackjack_hand_survives_kill_9_and_plays_on() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(dir.path());
        let mut c = Client::new(server.addr, KEY.as_bytes());
        let a = c.operator("/api/deposit", &json!({"transfer_id": "d5", "user_id": 5, "amount": "50.00"})).await;
        assert_eq!(a.unwrap().status, 200);
        let token = c.session(5).await.unwrap();
        get(&mut c, &token, "/api/me/instant/seeds").await;
        let before = open_game(&mut c, &token).await;
        let id = before["id"].as_str().unwrap().to_owned();
        server.kill();

        let server = Server::start(dir.path());
        let mut c = Client::new(server.addr, KEY.as_bytes());
        let token = c.session(5).await.unwrap();
        let after = game(&mut c, &token, &id).await;
        assert_eq!(after["state"], "open", "{after}");
        assert_eq!(after["blackjack"], before["blackjack"], "the table as it was acknowledged");
        assert_eq!(
            (after["nonce"].clone(), after["amount"].clone()),
            (before["nonce"].clone(), before["amount"].clone())
        );
        // Play on: stand every hand, each step sent.
        let mut view = after;
        for _ in 0..3 {
            if view["state"] != "open" {
                break;
            }
            let step = view["blackjack"]["step"].as_u64().unwrap();
            view = post(&mut c, &token, &format!("/api/instant/bets/{id}/stand"), json!({"step": step})).await;
        }
        assert_eq!((view["state"].as_str(), view["ended"].as_str()), (Some("settled"), Some("finished")), "{view}");
        // The money: 50.00 less every stake plus every payout, games before the kill included.
        let history = get(&mut c, &token, "/api/me/instant/bets?limit=200").await;
        let net: i64 = history["bets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| cents(b["payout"].as_str().unwrap()) - cents(b["amount"].as_str().unwrap()))
            .sum();
        let balance = get(&mut c, &token, "/api/me/balance").await;
        assert_eq!(cents(balance["balances"][0]["available"].as_str().unwrap()), 5_000 + net, "{history}");
        server.kill();
    });
}
