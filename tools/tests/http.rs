//! `croupier bench http-bets` end to end: it starts `croupier serve` as a child process,
//! opens sessions, funds players, places bets over keep-alive (and pipelined) connections,
//! reports them as JSON, and stops the server.

use std::process::Command;

fn http_bets(extra: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_croupier"))
        .args(["bench", "http-bets", "--duration", "1", "--users", "40", "--connections", "4", "--json"])
        .args(extra)
        .env_remove("CROUPIER_OPERATOR_KEY")
        .output()
        .expect("croupier runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

#[test]
fn http_bets_drives_a_started_server_and_reports_json() {
    for extra in [&[][..], &["--pipeline", "4"], &["--durability", "fsync"]] {
        let r = http_bets(extra);
        assert_eq!(r["scenario"], "http-bets");
        assert!(r["ops"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r["errors"], serde_json::json!({}), "every bet accepted: {r}");
        assert_eq!(r["started_server"], true);
        for k in ["p50", "p99", "p999", "max"] {
            assert!(r["latency_us"][k].as_u64().unwrap() > 0, "{r}");
        }
        assert!(r["latency_us"]["p50"].as_u64() <= r["latency_us"]["max"].as_u64());
    }
}
