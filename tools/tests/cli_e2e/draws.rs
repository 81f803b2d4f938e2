//! `croupier serve --draws-from`: seed 000's round events and draw results from NATS
//! JetStream. A round published on the stream is settled once, also when the server dies
//! (abort at a chosen point, or SIGKILL) around the draw and restarts on the same folder; a
//! malformed or refused message is answered and does not block the next one.
//!
//! Needs the NATS server of `CROUPIER_TEST_NATS` (default nats://127.0.0.1:4222, JetStream
//! on); each test uses a stream of its own and deletes it at the end.

use super::crash_game::KEY;
use croupier_gateway::client::Client;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn nats_url() -> String {
    std::env::var("CROUPIER_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A stream and subject no other test run uses.
#[derive(Clone)]
struct Names {
    stream: String,
    subject: String,
}

fn names(test: &str) -> Names {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let tag = format!("{test}_{}_{nanos}", std::process::id());
    Names { stream: format!("DRAWS_{tag}"), subject: format!("test.draws.{tag}") }
}

struct Nats {
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    answers: async_nats::Subscriber,
    names: Names,
}

impl Nats {
    async fn connect(names: Names) -> Nats {
        Nats::connect_to(&nats_url(), names).await
    }

    /// Connects and creates the stream (as it is, if it is there).
    async fn connect_to(url: &str, names: Names) -> Nats {
        let client = tokio::time::timeout(Duration::from_secs(5), async_nats::connect(&url))
            .await
            .unwrap_or_else(|_| panic!("NATS at {url} (CROUPIER_TEST_NATS) did not answer within 5 s"))
            .unwrap_or_else(|e| panic!("NATS at {url} (CROUPIER_TEST_NATS) does not answer: {e}"));
        let js = async_nats::jetstream::new(client.clone());
        js.get_or_create_stream(async_nats::jetstream::stream::Config {
            name: names.stream.clone(),
            subjects: vec![names.subject.clone()],
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("JetStream at {url}: cannot create a stream: {e}"));
        let answers = client.subscribe(format!("{}.answers", names.subject)).await.unwrap();
        client.flush().await.unwrap();
        Nats { client, js, answers, names }
    }

    /// Publishes and waits for JetStream's acknowledgement; returns the stream sequence.
    async fn publish(&self, body: &[u8]) -> u64 {
        let ack = self.js.publish(self.names.subject.clone(), body.to_vec().into()).await.unwrap();
        ack.await.expect("stored by JetStream").sequence
    }

    /// The next answer the server publishes (a 60 s hang guard, not a timing).
    async fn answer(&mut self) -> Value {
        let msg = tokio::time::timeout(Duration::from_secs(60), self.answers.next())
            .await
            .expect("an answer within 60 s")
            .expect("subscribed");
        serde_json::from_slice(&msg.payload).expect("a JSON answer")
    }

    /// Answers until the one of stream sequence `seq`.
    async fn answer_of(&mut self, seq: u64) -> Value {
        loop {
            let a = self.answer().await;
            if a["seq"] == seq {
                return a;
            }
        }
    }

    async fn delete(self) {
        self.js.delete_stream(&self.names.stream).await.expect("test stream deleted");
        drop(self.client);
    }
}

struct Server {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    fn start(data: &Path, n: &Names, fault: Option<String>) -> Server {
        Server::start_at(data, n, &nats_url(), fault)
    }

    fn start_at(data: &Path, n: &Names, url: &str, fault: Option<String>) -> Server {
        std::fs::create_dir_all(data).unwrap();
        let log = unique(data.join("serve.log"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_croupier"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--durability", "fsync", "--shards", "2", "--sql", "off"])
            .arg("--data-dir")
            .arg(data)
            .args(["--draws-from", url, "--draws-stream", &n.stream, "--draws-subject", &n.subject])
            .args(["--draws-ack-wait-ms", "1000"])
            .env("CROUPIER_OPERATOR_KEY", KEY)
            .env_remove("CROUPIER_NATS")
            .env_remove("CROUPIER_CONFIG")
            .env_remove("CROUPIER_DRAWS_FAULT")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(f) = fault {
            cmd.env("CROUPIER_DRAWS_FAULT", f);
        }
        let mut child = cmd.spawn().expect("croupier serve starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("first line");
        let addr = first.trim().strip_prefix("listening on ").expect("a 'listening on' line").parse().expect("addr");
        Server { child, addr, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for a server that aborts itself at its fault point.
    fn wait_aborted(mut self) -> String {
        let status = self.child.wait().expect("reaped");
        assert!(!status.success(), "the fault point stops the server");
        self.log()
    }

    /// SIGTERM: a clean stop, the intake included, must exit 0.
    fn terminate(mut self) -> String {
        // SAFETY: kill(2) on the child this test started.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let status = self.child.wait().expect("reaped");
        let log = self.log();
        assert!(status.success(), "a clean stop on SIGTERM:\n{log}");
        log
    }

    fn kill_9(mut self) -> String {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
        self.log()
    }

    fn metrics(&self) -> String {
        let mut s = std::net::TcpStream::connect(self.addr).unwrap();
        write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique(mut p: PathBuf) -> PathBuf {
    let mut n = 0;
    while p.exists() {
        n += 1;
        p.set_extension(format!("{n}.log"));
    }
    p
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

async fn fund(c: &mut Client, user: u64) -> String {
    let body = json!({"transfer_id": format!("d{user}"), "user_id": user, "amount": "100.00"});
    assert_eq!(c.operator("/api/deposit", &body).await.unwrap().status, 200);
    c.session(user).await.unwrap()
}

async fn player_get(c: &mut Client, token: &str, path: &str) -> Value {
    let a = c.player(token, "GET", path, None).await.expect("request");
    assert_eq!(a.status, 200, "{path}: {}", String::from_utf8_lossy(&a.body));
    a.json()
}

async fn bet(c: &mut Client, token: &str, round: &str) {
    let body = json!({"order_no": "o1", "round_id": round, "selection": 0, "amount": "10.00"});
    let a = c.player(token, "POST", "/api/bet", Some(&body)).await.expect("request");
    assert_eq!(a.status, 200, "bet: {}", String::from_utf8_lossy(&a.body));
}

/// 100.00 deposited, 10.00 on the banker at 1.95, the banker won: 109.50, paid once.
async fn assert_paid_once(c: &mut Client, token: &str) {
    let b = player_get(c, token, "/api/me/balance").await;
    assert_eq!(
        (b["balances"][0]["available"].as_str(), b["balances"][0]["held"].as_str()),
        (Some("109.50"), Some("0.00"))
    );
    let v = player_get(c, token, "/api/me/bets/o1").await;
    assert_eq!((v["bill_status"].as_u64(), v["payout"].as_str()), (Some(2), Some("19.50")), "{v}");
}

const BANKER_WON: &[u8] = br#"{"round_id":"R1","outcomes":["won","lost","lost"]}"#;

fn event(name: &str) -> Vec<u8> {
    json!({"event": name, "round_id": "R1"}).to_string().into_bytes()
}

fn draw_lines(log: &str) -> usize {
    log.lines().filter(|l| l.starts_with("draw: round R1 ")).count()
}

fn gauge(text: &str, name: &str) -> Option<u64> {
    text.lines().find(|l| l.starts_with(name) && !l.starts_with('#'))?.rsplit(' ').next()?.parse().ok()
}

#[test]
fn a_round_published_on_jetstream_is_settled_once() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let n = names("once");
        let server = Server::start(dir.path(), &n, None);
        let mut nats = Nats::connect(n).await;
        let mut c = Client::new(server.addr, KEY.as_bytes());
        let token = fund(&mut c, 7).await;
        let start = nats
            .publish(&json!({"event": "game_start", "round_id": "R1", "window_ms": 600000}).to_string().into_bytes())
            .await;
        let a = nats.answer_of(start).await;
        assert_eq!((a["status"].as_u64(), a["answer"]["status"].as_str()), (Some(200), Some("betting")), "{a}");
        bet(&mut c, &token, "R1").await;
        nats.publish(&event("game_stop")).await;
        let draw = nats.publish(BANKER_WON).await;
        let end = nats.publish(&event("game_end")).await;
        let a = nats.answer_of(draw).await;
        assert_eq!(
            (a["answer"]["settled_bets"].as_u64(), a["answer"]["replayed"].as_bool()),
            (Some(1), Some(false)),
            "{a}"
        );
        let a = nats.answer_of(end).await;
        assert_eq!(a["answer"]["status"], "ended", "{a}");
        assert_paid_once(&mut c, &token).await;
        // The position is stored after the answer is published: a bounded wait, not a timing.
        let mut m = server.metrics();
        for _ in 0..100 {
            if gauge(&m, "croupier_draws_position") == Some(end) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            m = server.metrics();
        }
        assert_eq!(gauge(&m, "croupier_draws_position"), Some(end), "{m}");
        assert_eq!(gauge(&m, "croupier_draws_lag_messages"), Some(0), "{m}");
        let log = server.terminate();
        assert_eq!(draw_lines(&log), 1, "one line per draw:\n{log}");
        nats.delete().await;
    });
}

/// The draw's message dies with the server at `fault` (or by SIGKILL once answered); after a
/// restart it is redelivered and the bet is still paid exactly once.
async fn crash_around_the_draw(fault: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let n = names(fault.map_or("kill9", |f| if f == "before-ack" { "ack" } else { "record" }));
    // The draw is the third message of a fresh stream.
    let server = Server::start(dir.path(), &n, fault.map(|f| format!("{f}:3")));
    let mut nats = Nats::connect(n).await;
    let mut c = Client::new(server.addr, KEY.as_bytes());
    let token = fund(&mut c, 7).await;
    let start = nats
        .publish(&json!({"event": "game_start", "round_id": "R1", "window_ms": 600000}).to_string().into_bytes())
        .await;
    assert_eq!(start, 1);
    nats.answer_of(start).await;
    bet(&mut c, &token, "R1").await;
    nats.publish(&event("game_stop")).await;
    let draw = nats.publish(BANKER_WON).await;
    assert_eq!(draw, 3);
    let first = match fault {
        Some(_) => server.wait_aborted(),
        None => {
            nats.answer_of(draw).await;
            server.kill_9()
        }
    };
    let end = nats.publish(&event("game_end")).await;

    let server = Server::start(dir.path(), &nats.names, None);
    // A SIGKILL may come after the ack: then the draw is not redelivered.
    let mut redelivered = None;
    loop {
        let a = nats.answer().await;
        if a["seq"] == draw {
            redelivered = Some(a);
        } else if a["seq"] == end {
            assert_eq!(a["answer"]["status"], "ended", "{a}");
            break;
        }
    }
    let mut c = Client::new(server.addr, KEY.as_bytes());
    let token = c.session(7).await.unwrap();
    assert_paid_once(&mut c, &token).await;
    let recorded = std::fs::read_to_string(dir.path().join(format!("draws/{}.answers", nats.names.stream))).unwrap();
    let draws: Vec<Value> =
        recorded.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|v| v["seq"] == draw).collect();
    assert_eq!(draws.len(), 1, "the draw's answer is recorded once:\n{recorded}");
    let settled = |a: &Value| (a["answer"]["settled_bets"].as_u64(), a["answer"]["replayed"].as_bool());
    match fault {
        // The engine had settled, the answer log had not: the rerun is the engine's replay.
        Some("before-record") => {
            assert_eq!(draw_lines(&first), 0, "{first}");
            let a = redelivered.expect("an unrecorded draw is redelivered");
            assert_eq!(settled(&a), (Some(0), Some(true)), "{a}");
        }
        // Recorded, not acknowledged: the redelivery gets the recorded answer.
        Some(_) => {
            assert_eq!(draw_lines(&first), 1, "{first}");
            let a = redelivered.expect("an unacknowledged draw is redelivered");
            assert_eq!(settled(&a), (Some(1), Some(false)), "{a}");
        }
        None => {
            assert_eq!(draw_lines(&first), 1, "{first}");
            assert_eq!(settled(&draws[0]), (Some(1), Some(false)), "{}", draws[0]);
            if let Some(a) = redelivered {
                assert_eq!(a, draws[0], "a redelivery gets the recorded answer");
            }
        }
    }
    let log = server.log();
    if fault == Some("before-ack") {
        assert!(log.contains("(stream seq 3) (redelivered: the recorded answer)"), "{log}");
    }
    assert!(draw_lines(&log) <= 1, "{log}");
    drop(server);
    nats.delete().await;
}

#[test]
fn a_draw_cut_before_its_answer_is_recorded_settles_once_after_a_restart() {
    runtime().block_on(crash_around_the_draw(Some("before-record")));
}

#[test]
fn a_draw_recorded_but_not_acknowledged_is_answered_from_the_record_after_a_restart() {
    runtime().block_on(crash_around_the_draw(Some("before-ack")));
}

#[test]
fn a_draw_answered_then_kill_9_settles_once_after_a_restart() {
    runtime().block_on(crash_around_the_draw(None));
}

#[test]
fn a_malformed_or_refused_message_is_answered_and_does_not_block_the_next() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let n = names("poison");
        let server = Server::start(dir.path(), &n, None);
        let mut nats = Nats::connect(n).await;
        let bad = nats.publish(b"{not json").await;
        let unknown = nats.publish(br#"{"round_id":"R9","outcomes":["won","lost","lost"]}"#).await;
        let neither = nats.publish(br#"{"round_id":"R1"}"#).await;
        let extra = nats.publish(br#"{"event":"game_start","round_id":"R1","colour":"red"}"#).await;
        let good = nats.publish(&event("game_start")).await;
        let expect = [
            (bad, 400, "BAD_JSON"),
            (unknown, 404, "ROUND_NOT_FOUND"),
            (neither, 400, "INVALID_REQUEST"),
            (extra, 400, "INVALID_REQUEST"),
        ];
        for (seq, status, code) in expect {
            let a = nats.answer_of(seq).await;
            assert_eq!((a["status"].as_u64(), a["error"]["code"].as_str()), (Some(status), Some(code)), "{a}");
        }
        let a = nats.answer_of(good).await;
        assert_eq!((a["status"].as_u64(), a["answer"]["status"].as_str()), (Some(200), Some("betting")), "{a}");
        let recorded =
            std::fs::read_to_string(dir.path().join(format!("draws/{}.answers", nats.names.stream))).unwrap();
        assert_eq!(recorded.lines().count(), 5, "every answer recorded for audit:\n{recorded}");
        assert!(server.log().contains("drawresult refused ROUND_NOT_FOUND"), "{}", server.log());
        drop(server);
        nats.delete().await;
    });
}

/// A JetStream server of this test's own (`nats-server`, on a free port, its store in `dir`).
struct OwnNats {
    child: Child,
}

impl OwnNats {
    fn start(port: u16, dir: &Path) -> OwnNats {
        let mut owned = OwnNats { child: OwnNats::spawn(port, dir) };
        // Bounded wait for the port (a hang guard, not a timing).
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return owned;
            }
            if let Ok(Some(status)) = owned.child.try_wait() {
                panic!("nats-server exited at start: {status}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("nats-server did not listen on {port} within 5 s");
    }

    fn spawn(port: u16, dir: &Path) -> Child {
        Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is installed")
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// NATS goes away between two messages and comes back: the intake reconnects on its own and
/// answers the next message; /metrics counted the reconnect.
#[test]
fn the_intake_reconnects_when_nats_comes_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("nats://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("nats");
    let nats_server = OwnNats::start(port, &store);
    let n = names("reconnect");
    let data = dir.path().join("data");
    let server = Server::start_at(&data, &n, &url, None);
    runtime().block_on(async {
        let mut nats = Nats::connect_to(&url, n.clone()).await;
        let start = nats.publish(&event("game_start")).await;
        assert_eq!(nats.answer_of(start).await["answer"]["status"], "betting");
        drop(nats);
        drop(nats_server);
        // Bounded wait until the intake noticed (a hang guard, not a timing).
        for _ in 0..200 {
            if gauge(&server.metrics(), "croupier_draws_connected") == Some(0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(gauge(&server.metrics(), "croupier_draws_connected"), Some(0), "{}", server.log());
        let _nats_server = OwnNats::start(port, &store);
        let mut nats = Nats::connect_to(&url, n).await;
        let stop = nats.publish(&event("game_stop")).await;
        assert_eq!(stop, start + 1, "the stream survived the NATS restart");
        assert_eq!(nats.answer_of(stop).await["answer"]["status"], "stopped", "{}", server.log());
        let m = server.metrics();
        assert_eq!(gauge(&m, "croupier_draws_connected"), Some(1), "{m}");
        assert!(gauge(&m, "croupier_draws_reconnects_total").unwrap() >= 1, "{m}");
    });
    drop(server);
}
