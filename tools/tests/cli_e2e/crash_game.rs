//! The crash game survives `kill -9` in flight: `croupier serve` runs a channel's terms by
//! itself; a player cashes out by hand while the term flies, the server is killed with
//! SIGKILL at once, restarted on the same folder, and the term must finish by itself with the
//! crash point and take-off time it had, the acknowledged cashout standing and the other bet
//! lost.
//!
//! The test reads the channel's chain from the vault (a test may; nobody else can) to pick a
//! term whose crash point is 2.00x to 4.00x, so the flight lasts 11.5 to 23 s: the kill lands
//! while it flies, and the restarted server finishes it soon. Terms it does not want are
//! stopped at take-off (their game is then spent) and the channel resumed.

use croupier_domain::crash::fair::crash_point;
use croupier_gateway::client::Client;
use croupier_store::crash_chains::CrashChain;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const KEY: &str = "crash-game-kill-test-key-0123456";

/// A `croupier serve` child, killed (SIGKILL) when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl Server {
    pub(crate) fn start(data: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_croupier"))
            .args(["serve", "--listen", "127.0.0.1:0", "--durability", "process", "--shards", "2", "--sql", "off"])
            .arg("--data-dir")
            .arg(data)
            .env("CROUPIER_OPERATOR_KEY", KEY)
            .env_remove("CROUPIER_NATS")
            .env_remove("CROUPIER_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("croupier serve starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("first line");
        let addr = first.trim().strip_prefix("listening on ").expect("a 'listening on' line").parse().expect("addr");
        Server { child, addr }
    }

    pub(crate) fn kill(mut self) {
        // `kill` sends SIGKILL on Unix.
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(c: &mut Client, token: &str, path: &str) -> Value {
    let a = c.player(token, "GET", path, None).await.expect("request");
    assert_eq!(a.status, 200, "{path}: {}", String::from_utf8_lossy(&a.body));
    a.json()
}

async fn post(c: &mut Client, token: &str, path: &str, body: Value) -> (u16, Value) {
    let a = c.player(token, "POST", path, Some(&body)).await.expect("request");
    (a.status, a.json())
}

fn status(v: &Value) -> (String, u64) {
    (v["term"]["status"].as_str().unwrap_or("none").to_string(), v["term"]["number"].as_u64().unwrap_or(0))
}

/// Polls the channel until `pred` holds; a 90 s hang guard, not a timing assertion.
async fn wait_for(c: &mut Client, token: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let v = get(c, token, "/api/crash/channels/k9").await;
        if pred(&v) {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(90), "waited 90 s for {what}: {v}");
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

fn cents(s: &str) -> i64 {
    let (u, f) = s.split_once('.').expect("two decimals");
    u.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap()
}

async fn balance(c: &mut Client, token: &str) -> i64 {
    cents(get(c, token, "/api/me/balance").await["balances"][0]["available"].as_str().expect("balance"))
}

#[test]
fn a_term_killed_in_flight_finishes_after_restart_and_acknowledged_cashouts_stand() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(dir.path());
        let mut c = Client::new(server.addr, KEY.as_bytes());
        for user in [1u64, 2] {
            let a = c
                .operator(
                    "/api/deposit",
                    &json!({"transfer_id": format!("d{user}"), "user_id": user, "amount": "100.00"}),
                )
                .await
                .unwrap();
            assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        }
        let (t1, t2) = (c.session(1).await.unwrap(), c.session(2).await.unwrap());
        let create = json!({
            "channel": "k9", "pre_start_ms": 1500, "starting_ms": 50, "pause_ms": 100, "chain_length": 200,
            "limits": [{"min_stake": "1.00", "max_stake": "50.00", "max_profit_per_bet": "1000.00",
                        "max_profit_per_term": "100000.00"}],
        });
        let a = c.operator("/api/crash/channels", &create).await.unwrap();
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        let salt = a.json()["salt"].as_str().unwrap().to_string();
        let chain = CrashChain::open(dir.path(), "k9").unwrap().expect("the vault holds the chain");

        // A term whose crash point is at least 2.00x, entered while its bets are open.
        let (number, point, k1, k2) = loop {
            let v = wait_for(&mut c, &t1, "a term in pre_start", |v| status(v).0 == "pre_start").await;
            let game = v["games_revealed"].as_u64().unwrap() + 1;
            let point = crash_point(&chain.game(game).unwrap(), salt.as_bytes());
            let number = status(&v).1;
            if (200..=400).contains(&point) {
                let (k1, k2) = (format!("k1-{number}"), format!("k2-{number}"));
                let bet = |order: &str| json!({"channel": "k9", "order_no": order, "amount": "10.00"});
                let (s1, b1) = post(&mut c, &t1, "/api/crash/bets", bet(&k1)).await;
                let (s2, b2) = post(&mut c, &t2, "/api/crash/bets", bet(&k2)).await;
                assert!(s1 == 200 && s2 == 200, "bets refused in pre_start: {b1} {b2}");
                break (number, point, k1, k2);
            }
            wait_for(&mut c, &t1, "the take-off", |v| {
                status(v).1 > number || !["pre_start", "starting"].contains(&status(v).0.as_str())
            })
            .await;
            let a = c.operator("/api/crash/stop", &json!({"channel": "k9"})).await.unwrap();
            assert!(
                a.status == 200 || a.code() == "CRASH_INVALID_TERM_TRANSITION",
                "{}",
                String::from_utf8_lossy(&a.body)
            );
            assert_eq!(c.operator("/api/crash/resume", &json!({"channel": "k9"})).await.unwrap().status, 200);
        };

        let flying = wait_for(&mut c, &t1, "the flight", |v| status(v).0 == "flying").await;
        assert_eq!(status(&flying).1, number);
        let took_off = flying["term"]["took_off_at"].as_u64().unwrap();
        let (st, out) = post(&mut c, &t1, &format!("/api/crash/bets/{k1}/cashout"), json!({})).await;
        assert_eq!(st, 200, "a cashout at the start of a flight to {point}: {out}");
        let (m, payout) =
            (out["multiplier"].as_str().unwrap().to_string(), out["payout"].as_str().unwrap().to_string());
        assert!((cents(&m) as u64) < point);
        let before_kill = get(&mut c, &t1, "/api/crash/channels/k9").await;
        server.kill();
        assert_eq!(status(&before_kill), ("flying".to_string(), number), "killed in flight: {before_kill}");

        let server = Server::start(dir.path());
        let mut c = Client::new(server.addr, KEY.as_bytes());
        let (t1, t2) = (c.session(1).await.unwrap(), c.session(2).await.unwrap());
        wait_for(&mut c, &t1, "the killed term's crash", |v| status(v).1 > number || status(v).0 == "closed").await;
        let terms = get(&mut c, &t1, "/api/crash/channels/k9/terms").await;
        let term = terms["terms"].as_array().unwrap().iter().find(|t| t["number"] == number).unwrap().clone();
        assert_eq!(term["status"], "closed", "{term}");
        assert_eq!(cents(term["crash_point"].as_str().unwrap()) as u64, point, "the journaled crash point: {term}");
        assert_eq!(term["took_off_at"].as_u64(), Some(took_off), "the journaled take-off: {term}");
        assert!(term["ended_at"].as_u64().unwrap() >= took_off, "{term}");

        let k1 = get(&mut c, &t1, &format!("/api/me/crash/bets/{k1}")).await;
        assert_eq!(
            (k1["state"].as_str(), k1["multiplier"].as_str(), k1["payout"].as_str()),
            (Some("cashed_out"), Some(m.as_str()), Some(payout.as_str())),
            "the acknowledged cashout stands: {k1}"
        );
        let k2 = get(&mut c, &t2, &format!("/api/me/crash/bets/{k2}")).await;
        assert_eq!(k2["state"], "lost", "{k2}");
        assert_eq!(balance(&mut c, &t1).await, 10_000 - 1_000 + cents(&payout));
        assert_eq!(balance(&mut c, &t2).await, 9_000);
        // And the channel goes on by itself.
        wait_for(&mut c, &t1, "a term after the restart", |v| status(v).1 > number).await;
        server.kill();

        // The replay re-derives the crash point from the hash and salt and every payout.
        let out = Command::new(env!("CARGO_BIN_EXE_croupier"))
            .args(["replay", "--json", "--term", &format!("k9:{number}"), "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // One JSON object per check: every one ok, the crash point re-derived, both bets
        // recomputed (the cashout paid, the other lost).
        let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        assert!(lines.iter().all(|l| l["ok"] == true), "{lines:?}");
        let point_line = lines.iter().find(|l| l["kind"] == "crash_point").expect("a crash point line");
        assert_eq!(point_line["derived"].as_u64(), Some(point), "{point_line}");
        let bets: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "bet").collect();
        assert_eq!(bets.len(), 2, "{bets:?}");
        let paid: u64 = bets.iter().map(|b| b["expected_payout"].as_u64().unwrap_or(0)).sum();
        assert_eq!(paid, cents(&payout) as u64, "{bets:?}");
    });
}
