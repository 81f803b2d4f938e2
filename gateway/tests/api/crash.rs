//! The crash game over loopback: a channel whose terms run by themselves (the gateway's
//! driver), a bet cashed out by hand paid `floor(stake × m)`, a cashout after the crash
//! refused and the bet lost, a bet cancelled, the published history checked against the
//! chain and bustabit's result function, an emergency stop that refunds, and a chain used up.
//!
//! Flights last as long as their crash point says (100x is 77 s), so the test reads the
//! channel's chain from the vault (a test may; nobody else can) and plays only a term whose
//! crash point lets a quick cashout land and ends soon; a term it does not want is stopped at
//! take-off (its game is then spent) and the channel resumed.

use crate::common;

use common::*;
use croupier_domain::crash::fair::{crash_point, from_hex, previous};
use croupier_gateway::client::Client;
use croupier_store::crash_chains::CrashChain;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SALT: &str = "croupier-test-salt";

async fn post(c: &mut Client, token: &str, path: &str, body: Value) -> (u16, Value) {
    let a = c.player(token, "POST", path, Some(&body)).await.unwrap();
    (a.status, a.json())
}

async fn get(c: &mut Client, token: &str, path: &str) -> Value {
    let a = c.player(token, "GET", path, None).await.unwrap();
    assert_eq!(a.status, 200, "{path}: {}", String::from_utf8_lossy(&a.body));
    a.json()
}

/// Polls the channel until `pred` holds for it; a hang guard of 60 s, not a timing assertion.
async fn wait_for(c: &mut Client, token: &str, channel: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let v = get(c, token, &format!("/api/crash/channels/{channel}")).await;
        if pred(&v) {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "waited 60 s for {what}: {v}");
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

fn status(v: &Value) -> (&str, u64) {
    (v["term"]["status"].as_str().unwrap_or("none"), v["term"]["number"].as_u64().unwrap_or(0))
}

/// Waits for the next term in `pre_start` whose game's crash point is in `range` (hundredths),
/// stopping the others at take-off; returns the channel's view and the crash point.
async fn term_crashing_in(
    c: &mut Client,
    token: &str,
    chain: &CrashChain,
    range: std::ops::RangeInclusive<u64>,
) -> (Value, u64) {
    loop {
        let v = wait_for(c, token, "moon", "a term in pre_start", |v| status(v).0 == "pre_start").await;
        let game = v["games_revealed"].as_u64().unwrap() + 1;
        let point = crash_point(&chain.game(game).unwrap(), SALT.as_bytes());
        if range.contains(&point) {
            return (v, point);
        }
        let number = status(&v).1;
        wait_for(c, token, "moon", "the take-off", |v| {
            status(v).1 > number || !["pre_start", "starting"].contains(&status(v).0)
        })
        .await;
        let a = c.operator("/api/crash/stop", &json!({"channel": "moon"})).await.unwrap();
        assert!(a.status == 200 || a.code() == "CRASH_INVALID_TERM_TRANSITION", "{}", String::from_utf8_lossy(&a.body));
        let a = c.operator("/api/crash/resume", &json!({"channel": "moon"})).await.unwrap();
        assert_eq!(a.status, 200);
    }
}

/// Minor units of a decimal string with two places.
fn cents(s: &str) -> i64 {
    let (units, frac) = s.split_once('.').unwrap();
    units.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terms_run_by_themselves_and_pay_cashouts_refuse_late_ones_and_refund_a_stop() {
    let srv = TestServer::start(2).await;
    let mut c = srv.client();
    for user in [1u64, 2, 3] {
        fund(&mut c, user, "100.00", &format!("dep-{user}")).await;
    }
    let (t1, t2, t3) = (c.session(1).await.unwrap(), c.session(2).await.unwrap(), c.session(3).await.unwrap());
    // Player 1 follows the channel and their own bets.
    let mut ws = ws_connect(srv.addr, Some(&t1)).await;
    ws_subscribe(&mut ws, &["crash:moon", "balance"], json!({})).await;

    let create = json!({
        "channel": "moon", "pre_start_ms": 1500, "starting_ms": 100, "pause_ms": 200, "chain_length": 40,
        "salt": SALT,
        "limits": [{"min_stake": "1.00", "max_stake": "50.00", "max_profit_per_bet": "1000.00",
                    "max_profit_per_term": "100000.00"}],
    });
    let a = c.operator("/api/crash/channels", &create).await.unwrap();
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let created = a.json();
    let terminating = from_hex(created["terminating_hash"].as_str().unwrap()).expect("hex");
    assert_eq!((created["salt"].as_str(), created["chain_length"].as_u64()), (Some(SALT), Some(40)));
    // A repeat answers the same channel; other settings conflict.
    let again = c.operator("/api/crash/channels", &create).await.unwrap();
    assert_eq!((again.status, again.json()["terminating_hash"].clone()), (200, created["terminating_hash"].clone()));
    let mut other = create.clone();
    other["pre_start_ms"] = json!(999);
    assert_eq!(c.operator("/api/crash/channels", &other).await.unwrap().code(), "IDEMPOTENCY_CONFLICT");
    let mut bad = create.clone();
    bad["channel"] = json!("../etc");
    assert_eq!(c.operator("/api/crash/channels", &bad).await.unwrap().code(), "INVALID_ID");
    let chain = CrashChain::open(srv.data_dir(), "moon").unwrap().expect("the vault keeps the chain");
    assert_eq!(chain.terminating_hash(), terminating);

    // A bet cancelled while bets are open is returned.
    let v = wait_for(&mut c, &t3, "moon", "a term in pre_start", |v| status(v).0 == "pre_start").await;
    let (st, b) =
        post(&mut c, &t3, "/api/crash/bets", json!({"channel": "moon", "order_no": "c1", "amount": "5.00"})).await;
    if st == 200 {
        let (st, cancelled) = post(&mut c, &t3, "/api/crash/bets/c1/cancel", json!({})).await;
        assert_eq!((st, cancelled["state"].as_str()), (200, Some("cancelled")), "{cancelled}");
    } else {
        assert_eq!(b["code"], "CRASH_BETTING_CLOSED", "{b} in {v}");
    }
    assert_eq!(available(&mut c, &t3).await, "100.00");
    let bet = |target: &str| json!({"channel": "moon", "order_no": "t1", "amount": "5.00", "auto_cashout": target});
    let (st, refused) = post(&mut c, &t3, "/api/crash/bets", bet("2x")).await;
    assert_eq!((st, refused["code"].as_str()), (422, Some("INVALID_MULTIPLIER")), "{refused}");
    let (_, refused) = post(&mut c, &t3, "/api/crash/bets", bet("1.00")).await;
    let code = refused["code"].as_str().unwrap_or("");
    assert!(code == "CRASH_TARGET_TOO_LOW" || code == "CRASH_BETTING_CLOSED", "{refused}");

    // Term after term until a manual cashout lands below the crash point (a low crash point
    // can come before the poll sees the flight): it pays floor(stake × m); the other
    // player's bet left flying loses and its late cashout is refused.
    let (mut balance1, mut balance2) = (10_000i64, 10_000i64);
    let mut won = false;
    for attempt in 0..15 {
        // 1.30x is 4.4 s into the flight, 5.00x 26.8 s.
        let (v, point) = term_crashing_in(&mut c, &t1, &chain, 130..=500).await;
        let number = status(&v).1;
        let (a1, b2) = (format!("a{attempt}"), format!("b{attempt}"));
        let (st1, p1) =
            post(&mut c, &t1, "/api/crash/bets", json!({"channel": "moon", "order_no": a1, "amount": "10.00"})).await;
        let (st2, p2) =
            post(&mut c, &t2, "/api/crash/bets", json!({"channel": "moon", "order_no": b2, "amount": "7.00"})).await;
        if st1 != 200 || st2 != 200 {
            // Bets closed under us (a slow machine): the accepted one is settled below anyway.
            assert!(p1["code"] == "CRASH_BETTING_CLOSED" || st1 == 200, "{p1}");
            assert!(p2["code"] == "CRASH_BETTING_CLOSED" || st2 == 200, "{p2}");
        }
        if st1 == 200 {
            assert_eq!((p1["state"].as_str(), p1["term"].as_u64()), (Some("open"), Some(number)));
            let (_, replay) =
                post(&mut c, &t1, "/api/crash/bets", json!({"channel": "moon", "order_no": a1, "amount": "10.00"}))
                    .await;
            assert_eq!(replay["replayed"], true, "{replay}");
            balance1 -= 1000;
        }
        if st2 == 200 {
            balance2 -= 700;
        }
        wait_for(&mut c, &t1, "moon", "the flight", |v| status(v).1 > number || status(v).0 == "flying").await;
        let mut cashed = None;
        if st1 == 200 {
            let (st, out) = post(&mut c, &t1, &format!("/api/crash/bets/{a1}/cashout"), json!({})).await;
            if st == 200 {
                assert_eq!((out["state"].as_str(), out["cashout_kind"].as_str()), (Some("cashed_out"), Some("manual")));
                let m = cents(out["multiplier"].as_str().unwrap());
                let payout = cents(out["payout"].as_str().unwrap());
                assert_eq!(payout, 1000 * m / 100, "floor(stake × m): {out}");
                balance1 += payout;
                cashed = Some(m);
            } else {
                assert_eq!(out["code"], "CRASH_TOO_LATE", "{out}");
            }
        }
        let done =
            wait_for(&mut c, &t1, "moon", "the crash", |v| status(v).1 > number || status(v).0 == "closed").await;
        let terms = get(&mut c, &t1, "/api/crash/channels/moon/terms").await;
        let term = terms["terms"].as_array().unwrap().iter().find(|t| t["number"] == number).unwrap().clone();
        assert_eq!(term["status"], "closed", "{term} ({done})");
        assert_eq!(cents(term["crash_point"].as_str().unwrap()) as u64, point, "the vault's game: {term}");
        if let Some(m) = cashed {
            assert!(m as u64 <= point, "a cashout at {m} under a crash at {point}");
        }
        if st2 == 200 {
            let (st, late) = post(&mut c, &t2, &format!("/api/crash/bets/{b2}/cashout"), json!({})).await;
            assert_eq!((st, late["code"].as_str()), (409, Some("CRASH_TOO_LATE")), "{late}");
            let bet = get(&mut c, &t2, &format!("/api/me/crash/bets/{b2}")).await;
            assert_eq!(bet["state"], "lost", "{bet}");
        }
        assert_eq!(cents(&available(&mut c, &t1).await), balance1);
        assert_eq!(cents(&available(&mut c, &t2).await), balance2);
        if let Some(m) = cashed {
            // The push saw, once durable: the take-off without its secret, player 1's own
            // cashout on `balance` and, without who, on the channel; the crash with the hash
            // the history shows.
            let (mut own, mut public, mut crash_seen) = (false, false, false);
            while !(own && public && crash_seen) {
                let msg = ws_next(&mut ws).await;
                let (topic, ev) = (msg["topic"].as_str().unwrap_or(""), &msg["event"]);
                if ev["number"] != number {
                    continue;
                }
                match (topic, ev["type"].as_str().unwrap_or("")) {
                    ("crash:moon", "crash_term_flying") => {
                        assert!(ev["hash"].is_null() && ev["crash_point"].is_null(), "no secret in flight: {msg}")
                    }
                    ("balance", "crash_cashed_out") if ev["order_no"] == a1.as_str() => {
                        assert_eq!(cents(ev["multiplier"].as_str().unwrap()), m, "{msg}");
                        own = true;
                    }
                    ("crash:moon", "crash_cashed_out") => {
                        assert!(ev["user_id"].is_null() && ev["order_no"].is_null(), "nobody named: {msg}");
                        public |= cents(ev["multiplier"].as_str().unwrap()) == m;
                    }
                    ("crash:moon", "crash_term_crashed") => {
                        assert_eq!((&ev["hash"], &ev["crash_point"]), (&term["hash"], &term["crash_point"]), "{msg}");
                        crash_seen = true;
                    }
                    _ => {}
                }
            }
            won = true;
            break;
        }
    }
    assert!(won, "no manual cashout landed in 15 terms crashing at 1.30x or more");

    // The history: every crashed term's hash chains down to the terminating hash, and its
    // crash point is bustabit's for that hash and the salt.
    let terms = get(&mut c, &t1, "/api/crash/channels/moon/terms").await;
    assert_eq!(terms["salt"], SALT);
    let mut crashed: Vec<&Value> =
        terms["terms"].as_array().unwrap().iter().filter(|t| t["status"] == "closed").collect();
    crashed.sort_by_key(|t| t["game"].as_u64());
    assert!(!crashed.is_empty());
    for t in &crashed {
        let mut h = from_hex(t["hash"].as_str().unwrap()).unwrap();
        assert_eq!(cents(t["crash_point"].as_str().unwrap()) as u64, crash_point(&h, SALT.as_bytes()), "{t}");
        for _ in 0..t["game"].as_u64().unwrap() {
            h = previous(&h);
        }
        assert_eq!(h, terminating, "game {} is on the published chain", t["game"]);
    }

    // Emergency stop: the open bet is refunded, the channel paused, no term opens until it
    // is resumed.
    let (number, placed) = loop {
        let v = wait_for(&mut c, &t3, "moon", "a term in pre_start", |v| status(v).0 == "pre_start").await;
        let (st, p) =
            post(&mut c, &t3, "/api/crash/bets", json!({"channel": "moon", "order_no": "s1", "amount": "9.00"})).await;
        if st == 200 {
            break (status(&v).1, p);
        }
        assert_eq!(p["code"], "CRASH_BETTING_CLOSED", "{p}");
    };
    assert_eq!(placed["state"], "open");
    assert_eq!(available(&mut c, &t3).await, "91.00");
    let a = c.operator("/api/crash/stop", &json!({"channel": "moon"})).await.unwrap();
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let stopped = a.json();
    assert_eq!((status(&stopped), stopped["paused"].as_bool()), (("cancelled", number), Some(true)), "{stopped}");
    assert_eq!(get(&mut c, &t3, "/api/me/crash/bets/s1").await["state"], "refunded");
    assert_eq!(available(&mut c, &t3).await, "100.00");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let still = get(&mut c, &t3, "/api/crash/channels/moon").await;
    assert_eq!(status(&still), ("cancelled", number), "a paused channel opens no term: {still}");
    let a = c.operator("/api/crash/resume", &json!({"channel": "moon"})).await.unwrap();
    assert_eq!(a.status, 200);
    wait_for(&mut c, &t3, "moon", "the next term", |v| status(v).1 == number + 1).await;
    // Starting a term early closes its bets now.
    let a = c.operator("/api/crash/start", &json!({"channel": "moon"})).await.unwrap();
    assert!(a.status == 200 || a.code() == "CRASH_INVALID_TERM_TRANSITION", "{}", String::from_utf8_lossy(&a.body));

    // A chain of one game: once it is spent (here stopped at take-off), no term opens and
    // starting one is refused clearly.
    let mut tiny = create.clone();
    tiny["channel"] = json!("tiny");
    tiny["chain_length"] = json!(1);
    let a = c.operator("/api/crash/channels", &tiny).await.unwrap();
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    wait_for(&mut c, &t3, "tiny", "its take-off", |v| !["none", "pre_start", "starting"].contains(&status(v).0)).await;
    let a = c.operator("/api/crash/stop", &json!({"channel": "tiny"})).await.unwrap();
    assert!(a.status == 200 || a.code() == "CRASH_INVALID_TERM_TRANSITION", "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(c.operator("/api/crash/resume", &json!({"channel": "tiny"})).await.unwrap().status, 200);
    let used_up = get(&mut c, &t3, "/api/crash/channels/tiny").await;
    assert_eq!((used_up["games_revealed"].as_u64(), status(&used_up).1), (Some(1), 1), "{used_up}");
    assert!(used_up["next_term_in_ms"].is_null(), "no next term: {used_up}");
    let a = c.operator("/api/crash/start", &json!({"channel": "tiny"})).await.unwrap();
    assert_eq!((a.status, a.code().as_str()), (409, "CRASH_CHAIN_EXHAUSTED"), "{}", String::from_utf8_lossy(&a.body));
    srv.stop().await;
}
