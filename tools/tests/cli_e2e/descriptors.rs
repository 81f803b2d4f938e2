//! Descriptor exhaustion: `croupier serve` started with a descriptor limit of 256 (its own
//! process only, through `sh -c 'ulimit ...; exec croupier serve'`) and more idle connections
//! than it has descriptors. The server must keep answering: the connections over its cap get
//! a JSON 503, `/healthz` on a new connection is answered (200, or the same 503), and once the
//! idle connections go, `/healthz` answers 200.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const LIMIT: u32 = 256;

/// More connections than the server has descriptors.
const IDLE: usize = 300;

/// Longest any one read may hang (a guard, not a speed requirement).
const GUARD: Duration = Duration::from_secs(10);

fn start(data: &std::path::Path, log: &std::path::Path) -> (Child, String) {
    // Soft first, then hard: the server raises its soft limit to the hard one at start.
    let script = format!("ulimit -S -n {LIMIT} && ulimit -H -n {LIMIT} && exec \"$0\" \"$@\"");
    let mut child = Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_croupier")])
        .args(["serve", "--listen", "127.0.0.1:0", "--durability", "process", "--shards", "1", "--sql", "off"])
        // Idle connections must stay open for the length of the test.
        .args(["--header-timeout-ms", "60000", "--idle-timeout-ms", "60000", "--data-dir"])
        .arg(data)
        .env("CROUPIER_OPERATOR_KEY", "0123456789abcdef0123456789abcdef")
        .env_remove("CROUPIER_CONFIG")
        .env_remove("CROUPIER_MAX_CONNECTIONS")
        .env_remove("CROUPIER_NATS")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("sh runs");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("a line");
    let addr = first.trim().strip_prefix("listening on ").expect("address line").to_string();
    (child, addr)
}

/// Status and body of one answer on `s` (the server closes after it or sends Content-Length).
fn answer(s: &mut TcpStream) -> Option<(u16, serde_json::Value)> {
    s.set_read_timeout(Some(GUARD)).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head.lines().find_map(|l| l.strip_prefix("content-length:"))?.trim().parse().ok()?;
            if buf.len() >= end + 4 + len {
                let status = head.split(' ').nth(1)?.parse().ok()?;
                return Some((status, serde_json::from_slice(&buf[end + 4..end + 4 + len]).ok()?));
            }
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn healthz(addr: &str) -> Option<(u16, serde_json::Value)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").ok()?;
    answer(&mut s)
}

fn stop(mut child: Child) {
    // SAFETY: kill only sends a signal to the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}

#[test]
fn more_idle_connections_than_descriptors_never_leave_the_server_unanswering() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let (child, addr) = start(&dir.path().join("data"), &log);
    let idle: Vec<TcpStream> = (0..IDLE).filter_map(|_| TcpStream::connect(&addr).ok()).collect();
    assert_eq!(idle.len(), IDLE, "the kernel queues connections the server has not accepted");
    let health = healthz(&addr);
    let mut last = idle.last().expect("connections").try_clone().expect("clone");
    let refused = answer(&mut last);
    drop(idle);
    let after = (0..500).find_map(|_| {
        healthz(&addr).filter(|(s, _)| *s == 200).or_else(|| {
            std::thread::sleep(Duration::from_millis(20));
            None
        })
    });
    stop(child);
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(log.contains(&format!("descriptors: limit {LIMIT}")), "{log}");
    assert!(log.contains("connections: at most"), "the cap was kept below the limit: {log}");
    let (status, body) = health.unwrap_or_else(|| panic!("/healthz unanswered with {IDLE} idle connections: {log}"));
    assert!(status == 200 || (status == 503 && body["code"] == "TOO_MANY_CONNECTIONS"), "{status} {body}");
    let (status, body) = refused.expect("a connection over the cap is answered");
    assert_eq!((status, body["code"].as_str()), (503, Some("TOO_MANY_CONNECTIONS")), "{body}");
    assert!(after.is_some(), "/healthz answers 200 once the idle connections are gone");
}
