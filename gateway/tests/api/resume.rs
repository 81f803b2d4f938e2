//! Reconnect and resume on /ws: a client that comes back with its last positions gets what
//! it missed, in order; one whose position left the buffer is told to reload.

use crate::common;

use common::*;
use croupier_gateway::GatewayConfig;
use serde_json::{json, Value};

async fn deposits(ws: &mut Ws, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        let m = ws_next(ws).await;
        if m["event"]["type"] == "deposited" {
            out.push(m);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reconnects_gets_what_it_missed() {
    let srv = TestServer::start(2).await;
    let mut c = srv.client();
    let token = c.session(5).await.unwrap();
    let mut ws = ws_connect(srv.addr, Some(&token)).await;
    ws_subscribe(&mut ws, &["balance"], json!({})).await;
    for i in 1..=2 {
        fund(&mut c, 5, &format!("{i}.00"), &format!("a{i}")).await;
    }
    let seen = deposits(&mut ws, 2).await;
    assert_eq!(seen[0]["event"]["amount"], "1.00");
    let (shard, pos) = (seen[1]["shard"].as_u64().unwrap(), seen[1]["position"].as_u64().unwrap());
    drop(ws);

    for i in 3..=5 {
        fund(&mut c, 5, &format!("{i}.00"), &format!("a{i}")).await;
    }
    let mut ws = ws_connect(srv.addr, Some(&token)).await;
    ws_subscribe(&mut ws, &["balance"], json!({ shard.to_string(): pos })).await;
    let missed = deposits(&mut ws, 3).await;
    let amounts: Vec<&str> = missed.iter().map(|m| m["event"]["amount"].as_str().unwrap()).collect();
    assert_eq!(amounts, ["3.00", "4.00", "5.00"], "exactly what was missed, in order");
    // And live messages keep coming after the backlog.
    fund(&mut c, 5, "6.00", "a6").await;
    assert_eq!(deposits(&mut ws, 1).await[0]["event"]["amount"], "6.00");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_too_far_behind_is_told_to_reload() {
    let srv = TestServer::start_with(1, GatewayConfig { push_buffer: 4, ..GatewayConfig::default() }).await;
    let mut c = srv.client();
    let token = c.session(5).await.unwrap();
    let mut ws = ws_connect(srv.addr, Some(&token)).await;
    ws_subscribe(&mut ws, &["balance"], json!({})).await;
    fund(&mut c, 5, "1.00", "b0").await;
    let first = deposits(&mut ws, 1).await.remove(0);
    drop(ws);
    for i in 1..=10 {
        fund(&mut c, 5, "1.00", &format!("b{i}")).await;
    }
    let mut ws = ws_connect(srv.addr, Some(&token)).await;
    // Wait until push has published the last deposit, so the buffer has moved past `first`.
    let heads = loop {
        let mut probe = ws_connect(srv.addr, Some(&token)).await;
        let s = ws_subscribe(&mut probe, &["bets"], json!({})).await;
        if s["heads"]["0"].as_u64().unwrap() >= first["position"].as_u64().unwrap() + 10 {
            break s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    assert!(heads["heads"]["0"].is_u64());
    ws_subscribe(&mut ws, &["balance"], json!({"0": first["position"]})).await;
    let m = ws_next(&mut ws).await;
    assert_eq!(m["type"], "reload", "{m}");
    assert_eq!(m["shard"], 0);
    srv.stop().await;
}
