//! A red-packet festival: many players grab one lucky packet at once, on both shards.

use crate::common;

use common::*;
use serde_json::json;

const SHARES: u64 = 60;
const GRABBERS: u64 = 90;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_festival_of_concurrent_grabs_pays_out_exactly_the_packet() {
    let srv = TestServer::start(2).await;
    let mut op = srv.client();
    let sender = 7u64;
    fund(&mut op, sender, "1000.00", "dep-sender").await;
    let st = op.session(sender).await.unwrap();
    let sent = op
        .player(
            &st,
            "POST",
            "/api/red_packets",
            Some(&json!({"packet_id": "festival", "amount": "88.88", "shares": SHARES, "kind": "lucky"})),
        )
        .await
        .unwrap();
    assert_eq!(sent.status, 200, "{}", String::from_utf8_lossy(&sent.body));
    assert_eq!(available(&mut op, &st).await, "911.12");

    // The sender watches its packet, authenticated by its first message.
    let mut ws = ws_connect_by_message(srv.addr, &st).await;
    ws_subscribe(&mut ws, &["packet:7:festival"], json!({})).await;

    let mut tasks = Vec::new();
    for u in 1000..1000 + GRABBERS {
        let mut c = srv.client();
        tasks.push(tokio::spawn(async move {
            let token = c.session(u).await.unwrap();
            let a = c.player(&token, "POST", "/api/red_packets/7/festival/grab", None).await.unwrap();
            let got = match a.status {
                200 => {
                    let j = a.json();
                    assert_eq!(j["credited"], true, "{j}");
                    // The balance read after the answer includes the share, whichever shard
                    // the grabber lives on.
                    assert_eq!(available(&mut c, &token).await, j["amount"].as_str().unwrap());
                    let again =
                        c.player(&token, "POST", "/api/red_packets/7/festival/grab", None).await.unwrap().json();
                    assert_eq!((again["replayed"].as_bool(), &again["amount"]), (Some(true), &j["amount"]));
                    Some(cents(j["amount"].as_str().unwrap()))
                }
                409 => {
                    assert_eq!(a.code(), "PACKET_EMPTY");
                    assert_eq!(available(&mut c, &token).await, "none");
                    None
                }
                s => panic!("grab answered {s}: {}", String::from_utf8_lossy(&a.body)),
            };
            (u, got)
        }));
    }
    let mut shares = Vec::new();
    let mut shards_hit = std::collections::HashSet::new();
    for t in tasks {
        let (u, got) = t.await.unwrap();
        if let Some(c) = got {
            assert!(c >= 1);
            shares.push((u, c));
            shards_hit.insert(croupier_runtime::shard_of(croupier_domain::UserId(u), srv.runtime.shards()));
        }
    }
    assert_eq!(shares.len() as u64, SHARES);
    assert_eq!(shares.iter().map(|s| s.1).sum::<i64>(), 8888, "the grabs add up to the packet");
    assert_eq!(shards_hit.len(), 2, "grabbers on both shards");

    let packet = op.player(&st, "GET", "/api/red_packets/7/festival", None).await.unwrap().json();
    assert_eq!(packet["status"], "exhausted");
    assert_eq!(packet["remaining"], "0.00");
    let grabs = packet["grabs"].as_array().unwrap();
    assert_eq!(grabs.len() as u64, SHARES);
    for g in grabs {
        let u = g["user_id"].as_u64().unwrap();
        assert!(shares.contains(&(u, cents(g["amount"].as_str().unwrap()))), "{g}");
    }

    // The packet's topic saw the send's grabs, one message per share.
    let mut seen = 0;
    while seen < SHARES {
        let m = ws_next(&mut ws).await;
        if m["event"]["type"] == "packet_grabbed" {
            seen += 1;
        }
    }
    srv.stop().await;
}

fn cents(s: &str) -> i64 {
    let (a, b) = s.split_once('.').unwrap();
    a.parse::<i64>().unwrap() * 100 + b.parse::<i64>().unwrap()
}

/// A lucky packet repeated after a restart (same sender, id and content) is the same packet:
/// its split seed is derived from the request under a key that outlives the process, so the
/// engine's idempotency check sees the same command and replays it (it used to be a
/// per-process random key: 409 `IDEMPOTENCY_CONFLICT` once the process had restarted).
///
/// The restart here is in the same test process, where the old per-process key would have
/// survived too; so the test also checks the journaled seed is the one any process holding
/// the operator key computes (`Auth::lucky_seed`), which is what makes the replay hold across
/// processes. Before the fix that assertion failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lucky_packet_repeated_after_a_restart_is_replayed() {
    let srv = TestServer::start(2).await;
    let mut op = srv.client();
    let sender = 11u64;
    fund(&mut op, sender, "100.00", "dep-lucky").await;
    let body = json!({"packet_id": "again", "amount": "10.00", "shares": 5, "kind": "lucky"});
    let st = op.session(sender).await.unwrap();
    let first = op.player(&st, "POST", "/api/red_packets", Some(&body)).await.unwrap();
    assert_eq!((first.status, first.json()["replayed"].as_bool()), (200, Some(false)));
    // One grab, so the split already shows in the packet.
    let grabber = op.session(12).await.unwrap();
    let grabbed = op.player(&grabber, "POST", "/api/red_packets/11/again/grab", None).await.unwrap();
    assert_eq!(grabbed.status, 200, "{}", String::from_utf8_lossy(&grabbed.body));
    let before = op.player(&st, "GET", "/api/red_packets/11/again", None).await.unwrap().json();

    let srv = srv.restart().await;
    let mut op = srv.client();
    let st = op.session(sender).await.unwrap();
    let again = op.player(&st, "POST", "/api/red_packets", Some(&body)).await.unwrap();
    assert_eq!(again.status, 200, "{}", String::from_utf8_lossy(&again.body));
    assert_eq!(again.json()["replayed"], true);
    assert_eq!(available(&mut op, &st).await, "90.00", "the repeat moved nothing");
    let after = op.player(&st, "GET", "/api/red_packets/11/again", None).await.unwrap().json();
    assert_eq!(after, before, "the same packet, the same grab");
    let shard = croupier_runtime::shard_of(croupier_domain::UserId(sender), srv.runtime.shards());
    let id = croupier_domain::ExtId::new("again").unwrap();
    let kind = srv
        .runtime
        .inspect(shard, move |s| s.packet(s.packet_by_id(croupier_domain::UserId(sender), &id).unwrap()).kind)
        .unwrap();
    let seed =
        croupier_gateway::Auth::new(KEY.to_vec()).lucky_seed(croupier_domain::UserId(sender), "again", "CNY", 1000, 5);
    assert_eq!(kind, croupier_domain::command::PacketKind::Lucky { seed }, "a seed any process with the key computes");
    // Other content under the same id is still a conflict.
    let other = json!({"packet_id": "again", "amount": "10.00", "shares": 4, "kind": "lucky"});
    let a = op.player(&st, "POST", "/api/red_packets", Some(&other)).await.unwrap();
    assert_eq!((a.status, a.code().as_str()), (409, "IDEMPOTENCY_CONFLICT"));
    srv.stop().await;
}

/// Seed 002 "选择红包接收人": a packet for chosen recipients, on 1, 2 and 3 shards; recipients
/// and outsiders on every shard. Only the named grab; the view says who may still grab.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_chosen_recipients_grab_and_the_view_names_who_may_still() {
    for shards in 1..=3 {
        let srv = TestServer::start(shards).await;
        let mut op = srv.client();
        fund(&mut op, 7, "100.00", "dep-7").await;
        let st = op.session(7).await.unwrap();
        let body = json!({"packet_id": "for-friends", "amount": "9.00", "shares": 3, "recipients": [31, "32", 33, 31]});
        let sent = op.player(&st, "POST", "/api/red_packets", Some(&body)).await.unwrap();
        assert_eq!(sent.status, 200, "{}", String::from_utf8_lossy(&sent.body));
        let view = op.player(&st, "GET", "/api/red_packets/7/for-friends", None).await.unwrap().json();
        assert_eq!(view["recipients"], json!([31, 32, 33]));
        assert_eq!(view["may_still_grab"], json!([31, 32, 33]));

        for outsider in [7u64, 30, 34, 35, 36] {
            let t = op.session(outsider).await.unwrap();
            let a = op.player(&t, "POST", "/api/red_packets/7/for-friends/grab", None).await.unwrap();
            assert_eq!((a.status, a.code()), (403, "NOT_A_RECIPIENT".into()), "user {outsider} on {shards} shards");
            assert_eq!(available(&mut op, &t).await, if outsider == 7 { "91.00" } else { "none" });
        }
        let t = op.session(32).await.unwrap();
        let a = op.player(&t, "POST", "/api/red_packets/7/for-friends/grab", None).await.unwrap().json();
        assert_eq!((&a["amount"], &a["credited"]), (&json!("3.00"), &json!(true)), "{a}");
        assert_eq!(available(&mut op, &t).await, "3.00");
        let view = op.player(&t, "GET", "/api/red_packets/7/for-friends", None).await.unwrap().json();
        assert_eq!(view["may_still_grab"], json!([31, 33]));

        // Anyone may still see an open packet: its view says null for both lists.
        let open = json!({"packet_id": "open", "amount": "1.00", "shares": 1});
        assert_eq!(op.player(&st, "POST", "/api/red_packets", Some(&open)).await.unwrap().status, 200);
        let view = op.player(&st, "GET", "/api/red_packets/7/open", None).await.unwrap().json();
        assert_eq!((&view["recipients"], &view["may_still_grab"]), (&json!(null), &json!(null)));

        // The list's bounds, answered as JSON before anything moves.
        let few = json!({"packet_id": "few", "amount": "1.00", "shares": 2, "recipients": [31]});
        let a = op.player(&st, "POST", "/api/red_packets", Some(&few)).await.unwrap();
        assert_eq!((a.status, a.code()), (422, "PACKET_RECIPIENTS".into()));
        let many: Vec<u64> = (1..=1_001).collect();
        let big = json!({"packet_id": "big", "amount": "1.00", "shares": 1, "recipients": many});
        let a = op.player(&st, "POST", "/api/red_packets", Some(&big)).await.unwrap();
        assert_eq!((a.status, a.code()), (422, "PACKET_RECIPIENTS".into()));
        let bad = json!({"packet_id": "bad", "amount": "1.00", "shares": 1, "recipients": ["x1"]});
        let a = op.player(&st, "POST", "/api/red_packets", Some(&bad)).await.unwrap();
        assert_eq!((a.status, a.code()), (422, "INVALID_ID".into()));
        assert_eq!(available(&mut op, &st).await, "90.00");
        srv.stop().await;
    }
}
