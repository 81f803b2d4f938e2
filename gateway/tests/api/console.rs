//! The web console's routes over loopback: the shell and its files with their security
//! headers, the games' public description, and the demo sessions, which exist only on a demo
//! server and work as any session does.

use crate::common::TestServer;
use croupier_gateway::console::{DemoPlayer, DemoTable};

async fn get(s: &TestServer, path: &str) -> croupier_gateway::client::Answer {
    s.client().conn.request("GET", path, &[], b"").await.expect("an answer")
}

#[tokio::test]
async fn the_console_is_served_at_the_root_with_its_files() {
    let s = TestServer::start(2).await;
    let a = get(&s, "/").await;
    assert_eq!(a.status, 200);
    assert!(String::from_utf8_lossy(&a.body).contains("/console/app.js"));
    let views: Vec<String> = serde_json::from_slice(&get(&s, "/console/views.json").await.body).unwrap();
    for file in ["app.js", "style.css", "lib/push.js"].iter().map(|f| f.to_string()).chain(views) {
        assert_eq!(get(&s, &format!("/console/{file}")).await.status, 200, "{file}");
    }
    for missing in ["/console/nope.js", "/console/../Cargo.toml", "/console/%2e%2e/build.rs"] {
        let a = get(&s, missing).await;
        assert_eq!((a.status, a.code().as_str()), (404, "NOT_FOUND"), "{missing}");
    }
    let info = get(&s, "/console/info").await.json();
    assert_eq!(info["games"][0]["game"], "baccarat");
    assert_eq!(info["games"][0]["selections"][1]["odds"], "2.00");
    assert_eq!((info["shards"].as_u64(), &info["demo"]), (Some(2), &serde_json::json!(false)));
    s.stop().await;
}

#[tokio::test]
async fn demo_sessions_exist_only_on_a_demo_server_and_play_as_their_player() {
    let s = TestServer::start(2).await;
    let a = get(&s, "/console/demo").await;
    assert_eq!((a.status, a.code().as_str()), (404, "NOT_A_DEMO"), "a real server hands out no session");
    assert_eq!(get(&s, "/console/demo/table").await.status, 404);
    let table = DemoTable { game: "baccarat".into(), round_id: None, next_round_id: "d-1".into(), window_ms: 5000 };
    s.app.console.set_demo(vec![DemoPlayer { user_id: 7, name: "Ada".into() }], table.clone());
    let demo = get(&s, "/console/demo").await.json();
    assert_eq!(demo["players"][0]["user_id"], 7);
    assert_eq!(demo["table"]["next_round_id"], "d-1");
    let token = demo["players"][0]["token"].as_str().expect("a token").to_string();
    let mut c = s.client();
    let balance = c.player(&token, "GET", "/api/me/balance", None).await.unwrap();
    assert_eq!((balance.status, balance.json()["user_id"].as_u64()), (200, Some(7)));
    s.app.console.set_demo_table(DemoTable { round_id: Some("d-1".into()), next_round_id: "d-2".into(), ..table });
    let t = get(&s, "/console/demo/table").await.json();
    assert_eq!((t["round_id"].as_str(), t["next_round_id"].as_str()), (Some("d-1"), Some("d-2")));
    s.stop().await;
}
