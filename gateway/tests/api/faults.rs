//! Faults met over HTTP (issue 12, findings 1 and 2): a signed call sequence that used to
//! overflow a balance inside `evolve`, poison the journal and destroy the data folder; and a
//! panicking shard that used to hang its callers forever while `/healthz` said ok.

use crate::common;

use common::*;
use croupier_domain::{State, UserId};
use croupier_runtime::shard_of;
use serde_json::json;
use std::time::Duration;

/// Waits for a request at most this long: a hung caller fails the test instead of hanging it.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pumping_payouts_is_refused_and_the_folder_stays_whole() {
    let server = TestServer::start(2).await;
    let mut c = server.client();
    fund(&mut c, 8001, "1.00", "po-deposit").await;
    let mut refused = None;
    for n in 0..100 {
        let bet = format!("po-{n}");
        let block = json!({"partner_player_id": 8001, "bet_id": bet, "amount": "1.00"});
        let win = json!({"partner_player_id": 8001, "bet_id": bet, "status": "win", "payout": "1000000000000000.00"});
        let mut last = None;
        for (path, body) in [("/api/block_funds", block), ("/api/update_bet_status", win)] {
            let a = tokio::time::timeout(ANSWER_WITHIN, c.operator(path, &body)).await.expect("answered").unwrap();
            assert!(a.status < 500, "{path} #{n}: {} {}", a.status, String::from_utf8_lossy(&a.body));
            if a.status != 200 {
                last = Some((n, a.status, a.json()["code"].as_str().unwrap_or("").to_string()));
                break;
            }
        }
        if last.is_some() {
            refused = last;
            break;
        }
    }
    let (n, status, code) = refused.expect("the ledger bound refuses the pumping");
    assert_eq!((status, code.as_str()), (422, "BALANCE_OVERFLOW"), "at payout {n}");
    let health = c.conn.request("GET", "/healthz", &[], b"").await.unwrap();
    assert_eq!(health.status, 200, "every shard still serves");
    // The folder restores (it used to panic on every restore), with the money invariants.
    let server = server.restart().await;
    for shard in 0..2 {
        let checked = server.runtime.inspect(shard, |s: &State| s.check_invariants()).expect("the shard serves");
        checked.expect("money invariants after restore");
    }
    let mut c = server.client();
    let health = c.conn.request("GET", "/healthz", &[], b"").await.unwrap();
    assert_eq!(health.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_shard_answers_unavailable_and_health_says_so() {
    let server = TestServer::start(2).await;
    let mut c = server.client();
    let on = |shard: usize| (1u64..).find(|u| shard_of(UserId(*u), 2) == shard).unwrap();
    let (victim, bystander) = (on(0), on(1));
    fund(&mut c, victim, "10.00", "f-1").await;
    fund(&mut c, bystander, "10.00", "f-2").await;
    // A bug on shard 0's thread, as a panic in the engine would be.
    server.runtime.inspect_then(0, |_| -> () { panic!("injected fault on the shard thread") }, |()| {}).unwrap();

    let body = json!({"transfer_id": "f-3", "user_id": victim, "amount": "1.00"});
    let a = tokio::time::timeout(ANSWER_WITHIN, c.operator("/api/deposit", &body)).await.expect("answered").unwrap();
    assert_eq!((a.status, a.json()["code"].as_str()), (503, Some("SHARD_UNAVAILABLE")));
    let health = c.conn.request("GET", "/healthz", &[], b"").await.unwrap();
    assert_eq!(health.status, 503);
    let h = health.json();
    assert_eq!(h["status"], "degraded");
    assert_eq!(h["failed"][0]["shard"], 0);
    assert!(h["failed"][0]["reason"].as_str().unwrap().contains("injected fault"), "{h}");
    let metrics = c.conn.request("GET", "/metrics", &[], b"").await.unwrap();
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(text.contains("croupier_shard_up{shard=\"0\"} 0") && text.contains("croupier_shard_up{shard=\"1\"} 1"));
    // The other shard goes on.
    fund(&mut c, bystander, "1.00", "f-4").await;
    server.stop().await;
}
