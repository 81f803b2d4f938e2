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

/// `croupier serve` on its defaults projects into SQLite while it serves: the projector's
/// position shows in /metrics and catches up with the bets placed over HTTP.
#[test]
fn serve_projects_into_sqlite_by_default() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let key = "0123456789abcdef0123456789abcdef";
    let mut child = Command::new(env!("CARGO_BIN_EXE_croupier"))
        .args(["serve", "--listen", "127.0.0.1:0", "--durability", "process", "--shards", "2", "--data-dir"])
        .arg(dir.path())
        .env("CROUPIER_OPERATOR_KEY", key)
        .env_remove("CROUPIER_SQL")
        .env_remove("CROUPIER_NATS")
        .env_remove("CROUPIER_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let addr = first.trim().strip_prefix("listening on ").expect("address line").to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_croupier"))
        .args(["bench", "http-bets", "--duration", "1", "--users", "40", "--connections", "2", "--json", "--target"])
        .arg(format!("http://{addr}"))
        .env("CROUPIER_OPERATOR_KEY", key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metrics = || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    };
    let gauge = |text: &str, name: &str, shard: u32| -> u64 {
        let prefix = format!("{name}{{projector=\"sql\",shard=\"{shard}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    // Bounded wait for the projector to catch up with what was accepted (not a speed check).
    let mut caught_up = false;
    for _ in 0..300 {
        let text = metrics();
        caught_up = (0..2).all(|s| {
            gauge(&text, "croupier_projector_position", s) > 0 && gauge(&text, "croupier_projector_lag_records", s) == 0
        });
        if caught_up {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SAFETY: kill(2) on the child this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert!(child.wait().unwrap().success(), "clean stop on SIGTERM");
    assert!(caught_up, "the SQL projector's position and lag in /metrics never showed both shards caught up");
    assert!(dir.path().join("croupier.sqlite").exists(), "the default SQLite file");
}
