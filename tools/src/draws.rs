//! `croupier serve --draws-from`: round events and draw results from the operator's dealing
//! system over NATS JetStream (seed 000: "消费消息队列开奖结果消息"), besides HTTP.
//!
//! A durable pull consumer takes the messages of one subject, one at a time in stream order
//! (the round lifecycle is ordered: a draw must not overtake its stop after a redelivery).
//! Each body has the shape of an HTTP operator body (`/api/game_event` when it has `event`,
//! `/api/drawresult` when it has `outcomes`) and goes through the same validation and the same
//! engine command as HTTP ([`croupier_gateway::operator`]).
//!
//! Exactly once: the answer (accepted or refused, with its stable code) is appended, with the
//! message's stream sequence, to the intake's answer log (`<data>/draws/<stream>.answers`) and
//! synced before the message is acknowledged. A redelivered sequence found there is answered
//! with the recorded answer and acknowledged, without reaching the engine. A crash between
//! the engine's durable answer and the log's sync leaves a sequence the log does not know:
//! its redelivery runs the command again, and the engine's own idempotency on round commands
//! (a repeat of an accepted event or the same draw is `replayed`, moves nothing) answers it.
//! A 5xx answer (a full ring, a stopped shard) is no answer: the message is retried, never
//! recorded or acknowledged.

use croupier_gateway::error::ApiError;
use croupier_gateway::operator::{self, DrawResultRequest, GameEventRequest, OutcomeName, RoundAnswer};
use croupier_gateway::{parse_body, AppInner, AppState};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Where and how the intake reads.
#[derive(Clone, Debug)]
pub struct DrawsConfig {
    pub data_dir: PathBuf,
    /// `nats://HOST:PORT`.
    pub nats_url: String,
    /// The JetStream stream (created with `subject` if missing).
    pub stream: String,
    /// The subject the dealing system publishes on; answers go to `<subject>.answers`.
    pub subject: String,
    /// How long JetStream waits for an acknowledgement before it redelivers.
    pub ack_wait: Duration,
    /// Largest message body, bytes; a larger one is answered `BODY_TOO_LARGE`.
    pub max_body_bytes: usize,
}

impl DrawsConfig {
    /// The durable consumer's name, one per stream.
    pub fn consumer(&self) -> String {
        format!("croupier-draws-{}", self.stream)
    }
}

/// The intake's figures for `/metrics`.
#[derive(Default)]
pub struct DrawsStatus {
    /// Stream sequence of the last message acknowledged.
    pub position: AtomicU64,
    /// Messages of the subject not yet answered: undelivered, or delivered and not acknowledged.
    pub lag: AtomicU64,
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
    /// Redeliveries answered from the answer log.
    pub replayed: AtomicU64,
    pub connected: AtomicBool,
    pub reconnects: AtomicU64,
}

/// The answer log of a stream: `<data>/draws/<stream>.answers`. Stream names become file
/// names: letters, digits, `-` and `_` (which JetStream accepts too).
pub fn answers_file(data_dir: &Path, stream: &str) -> Result<PathBuf, String> {
    croupier_store::layout::draws_answers_file(data_dir, stream)
        .ok_or_else(|| format!("--draws-stream {stream:?}: use only letters, digits, '-' and '_'"))
}

/// The answer log: one JSON line per answered message, appended and synced before the ack.
struct AnswerLog {
    file: std::fs::File,
    path: PathBuf,
    /// Answers by stream sequence, for redeliveries; those at or below the consumer's ack
    /// floor are dropped (JetStream never redelivers them).
    answers: BTreeMap<u64, Value>,
}

impl AnswerLog {
    /// Opens the log, cutting a torn last line (a crash mid-append: that answer was never
    /// acknowledged, so its message comes again).
    fn open(path: PathBuf) -> std::io::Result<AnswerLog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new().create(true).read(true).append(true).open(&path)?;
        let mut answers = BTreeMap::new();
        let mut good = 0u64;
        let mut reader = std::io::BufReader::new(&file);
        let mut line = String::new();
        while reader.read_line(&mut line)? > 0 {
            let whole = line.ends_with('\n');
            match serde_json::from_str::<Value>(&line) {
                Ok(v) if whole => {
                    if let Some(seq) = v["seq"].as_u64() {
                        answers.insert(seq, v);
                    }
                    good += line.len() as u64;
                }
                _ => break,
            }
            line.clear();
        }
        if file.metadata()?.len() > good {
            eprintln!("draws: cut a torn answer at byte {good} of {}", path.display());
            file.set_len(good)?;
            file.sync_all()?;
        }
        Ok(AnswerLog { file, path, answers })
    }

    fn get(&self, seq: u64) -> Option<&Value> {
        self.answers.get(&seq)
    }

    fn record(&mut self, answer: Value) -> std::io::Result<()> {
        let mut line = answer.to_string();
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.sync_data()?;
        if let Some(seq) = answer["seq"].as_u64() {
            self.answers.insert(seq, answer);
        }
        Ok(())
    }

    fn forget_through(&mut self, floor: u64) {
        self.answers = self.answers.split_off(&(floor + 1));
    }
}

/// A running intake.
pub struct DrawsHandle {
    pub status: Arc<DrawsStatus>,
    task: tokio::task::JoinHandle<()>,
}

impl DrawsHandle {
    /// Starts the intake on the current tokio runtime; it stops when `stop` turns true.
    pub fn spawn(cfg: DrawsConfig, app: AppState, stop: watch::Receiver<bool>) -> std::io::Result<DrawsHandle> {
        let path = answers_file(&cfg.data_dir, &cfg.stream).map_err(std::io::Error::other)?;
        let log = AnswerLog::open(path)?;
        eprintln!(
            "draws: JetStream stream {} subject {} (consumer {}), answers in {}",
            cfg.stream,
            cfg.subject,
            cfg.consumer(),
            log.path.display()
        );
        let status = Arc::new(DrawsStatus::default());
        let task = tokio::spawn(run(cfg, app, log, status.clone(), stop));
        Ok(DrawsHandle { status, task })
    }

    /// Waits for the message in hand to be answered and recorded (the intake checks `stop`
    /// between messages), so nothing is cut between the engine's answer and the answer log; a
    /// message the engine cannot answer (5xx) is left unacknowledged, for the next start.
    pub async fn stop(self) {
        let _ = self.task.await;
    }
}

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

async fn run(
    cfg: DrawsConfig,
    app: AppState,
    mut log: AnswerLog,
    status: Arc<DrawsStatus>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = BACKOFF_MIN;
    while !*stop.borrow() {
        match consume(&cfg, &app, &mut log, &status, &mut stop, &mut backoff).await {
            Ok(()) => return,
            Err(e) => {
                status.connected.store(false, Ordering::Relaxed);
                status.reconnects.fetch_add(1, Ordering::Relaxed);
                eprintln!("draws: {e}; reconnecting in {} ms", backoff.as_millis());
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => {}
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

type Consumer = async_nats::jetstream::consumer::Consumer<async_nats::jetstream::consumer::pull::Config>;

/// Connects, makes sure the stream and the durable consumer exist, and returns the consumer
/// with its ack floor.
async fn connect(cfg: &DrawsConfig, status: &Arc<DrawsStatus>) -> Result<(async_nats::Client, Consumer, u64), String> {
    use async_nats::jetstream::{self, consumer};
    let seen = status.clone();
    let client = async_nats::ConnectOptions::new()
        // The client reconnects by itself once connected; this is its backoff.
        .reconnect_delay_callback(|attempts| BACKOFF_MIN.saturating_mul(1 << attempts.min(6) as u32).min(BACKOFF_MAX))
        .event_callback(move |event| {
            let seen = seen.clone();
            async move {
                match event {
                    async_nats::Event::Connected => seen.connected.store(true, Ordering::Relaxed),
                    async_nats::Event::Disconnected => {
                        seen.connected.store(false, Ordering::Relaxed);
                        seen.reconnects.fetch_add(1, Ordering::Relaxed);
                        eprintln!("draws: disconnected from NATS; reconnecting");
                    }
                    _ => {}
                }
            }
        })
        .connect(&cfg.nats_url)
        .await
        .map_err(|e| format!("connect {}: {e}", cfg.nats_url))?;
    let js = jetstream::new(client.clone());
    let stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: cfg.stream.clone(),
            subjects: vec![cfg.subject.clone()],
            ..Default::default()
        })
        .await
        .map_err(|e| format!("stream {}: {e}", cfg.stream))?;
    let name = cfg.consumer();
    // Created or updated: a changed --draws-ack-wait-ms applies, and one message at a time is
    // enforced on a consumer someone else changed.
    let mut consumer: Consumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some(name.clone()),
            filter_subject: cfg.subject.clone(),
            ack_policy: consumer::AckPolicy::Explicit,
            // One message at a time: a redelivery is never overtaken by a later message.
            max_ack_pending: 1,
            ack_wait: cfg.ack_wait,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("consumer {name}: {e}"))?;
    let floor = consumer.info().await.map_err(|e| format!("consumer {name}: {e}"))?.ack_floor.stream_sequence;
    Ok((client, consumer, floor))
}

async fn consume(
    cfg: &DrawsConfig,
    app: &AppState,
    log: &mut AnswerLog,
    status: &Arc<DrawsStatus>,
    stop: &mut watch::Receiver<bool>,
    backoff: &mut Duration,
) -> Result<(), String> {
    use futures_util::StreamExt;
    let (client, mut consumer, floor) = connect(cfg, status).await?;
    log.forget_through(floor);
    status.position.fetch_max(floor, Ordering::Relaxed);
    status.connected.store(true, Ordering::Relaxed);
    *backoff = BACKOFF_MIN;
    while !*stop.borrow() {
        let mut batch = consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .map_err(|e| format!("fetch: {e}"))?;
        let mut none = true;
        while let Some(msg) = batch.next().await {
            let msg = msg.map_err(|e| format!("fetch: {e}"))?;
            handle(cfg, app, log, status, &client, &msg, stop).await?;
            none = false;
        }
        if none {
            // Nothing came: the lag is what JetStream holds back (a message stuck unacknowledged
            // by a dead process waits for its ack wait).
            let info = consumer.info().await.map_err(|e| format!("consumer info: {e}"))?;
            status.lag.store(info.num_pending + info.num_ack_pending as u64, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Answers one message (from the log, or by running it), records it, publishes the answer and
/// acknowledges the message, in that order.
async fn handle(
    cfg: &DrawsConfig,
    app: &AppInner,
    log: &mut AnswerLog,
    status: &DrawsStatus,
    client: &async_nats::Client,
    msg: &async_nats::jetstream::Message,
    stop: &watch::Receiver<bool>,
) -> Result<(), String> {
    let info = msg.info().map_err(|e| format!("message info: {e}"))?;
    let (seq, pending) = (info.stream_sequence, info.pending);
    let answer = match log.get(seq) {
        Some(recorded) => {
            status.replayed.fetch_add(1, Ordering::Relaxed);
            log_answer(recorded, " (redelivered: the recorded answer)");
            recorded.clone()
        }
        None => {
            let Some(answer) = answer_of(app, seq, msg, cfg.max_body_bytes, stop).await else {
                // Stopping with no answer: unacknowledged, so it comes again after a restart.
                return Ok(());
            };
            fault("before-record", seq);
            log.record(answer.clone()).map_err(|e| format!("cannot record in {}: {e}", log.path.display()))?;
            let counter = if answer["status"] == 200 { &status.accepted } else { &status.refused };
            counter.fetch_add(1, Ordering::Relaxed);
            log_answer(&answer, "");
            answer
        }
    };
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Croupier-Stream-Seq", seq.to_string().as_str());
    // The log is the durable record; the subject is for the dealing system's eyes.
    let answers = format!("{}.answers", cfg.subject);
    if let Err(e) = client.publish_with_headers(answers, headers, answer.to_string().into()).await {
        eprintln!("draws: cannot publish the answer of {seq}: {e}");
    }
    fault("before-ack", seq);
    msg.double_ack().await.map_err(|e| format!("ack {seq}: {e}"))?;
    status.position.store(seq, Ordering::Relaxed);
    status.lag.store(pending, Ordering::Relaxed);
    Ok(())
}

/// The message's answer as recorded: its sequence and subject, the HTTP status, and the
/// round's state or the error. Retries while the engine answers 5xx (busy, a failed shard),
/// until the server stops (then `None`: no answer).
async fn answer_of(
    app: &AppInner,
    seq: u64,
    msg: &async_nats::jetstream::Message,
    max: usize,
    stop: &watch::Receiver<bool>,
) -> Option<Value> {
    let mut wait = BACKOFF_MIN;
    while !*stop.borrow() {
        let (kind, result) = run_message(app, &msg.payload, max).await;
        let head = json!({"seq": seq, "subject": msg.subject.as_str(), "kind": kind});
        match result {
            Ok((round, outcomes)) => {
                let mut v = head;
                v["status"] = json!(200);
                v["answer"] = serde_json::to_value(&round).unwrap_or(Value::Null);
                if let Some(o) = outcomes {
                    v["outcomes"] = json!(o);
                }
                return Some(v);
            }
            Err(e) if e.status.is_server_error() => {
                eprintln!("draws: message {seq} not answered ({}: {}); retrying", e.code, e.message);
                tokio::time::sleep(e.retry_after_ms.map_or(wait, Duration::from_millis)).await;
                wait = (wait * 2).min(BACKOFF_MAX);
                // Keeps JetStream from redelivering it meanwhile.
                let _ = msg.ack_with(async_nats::jetstream::AckKind::Progress).await;
            }
            Err(e) => {
                let mut v = head;
                v["status"] = json!(e.status.as_u16());
                v["error"] = json!({"code": e.code, "message": e.message});
                return Some(v);
            }
        }
    }
    None
}

type Ran = (&'static str, Result<(RoundAnswer, Option<Vec<OutcomeName>>), ApiError>);

/// Decodes a body as its HTTP endpoint would and runs it: `event` names a round event,
/// `outcomes` a draw result.
async fn run_message(app: &AppInner, body: &[u8], max: usize) -> Ran {
    if body.len() > max {
        return ("unknown", Err(ApiError::body_too_large(max)));
    }
    let v: Value = match parse_body(body) {
        Ok(v) => v,
        Err(e) => return ("unknown", Err(e)),
    };
    if v.get("event").is_some() {
        let r = match parse_body::<GameEventRequest>(body) {
            Ok(req) => operator::apply_game_event(app, req).await.map(|a| (a, None)),
            Err(e) => Err(e),
        };
        return ("game_event", r);
    }
    if v.get("outcomes").is_some() {
        let r = match parse_body::<DrawResultRequest>(body) {
            Ok(req) => {
                let outcomes = req.outcomes.clone();
                operator::apply_drawresult(app, req).await.map(|a| (a, Some(outcomes)))
            }
            Err(e) => Err(e),
        };
        return ("drawresult", r);
    }
    let e = ApiError::invalid("a message is a round event (with \"event\") or a draw result (with \"outcomes\")");
    ("unknown", Err(e))
}

/// Seed 000 (4.7) prints each draw result on the console: one line per draw, accepted or
/// refused; other answers only when refused.
fn log_answer(a: &Value, note: &str) {
    let seq = &a["seq"];
    let round = a["answer"]["round_id"].as_str().unwrap_or("?");
    match (a["kind"].as_str(), a["status"].as_u64()) {
        (Some("drawresult"), Some(200)) => {
            let outcomes: Vec<&str> =
                a["outcomes"].as_array().into_iter().flatten().filter_map(|o| o.as_str()).collect();
            eprintln!(
                "draw: round {round} result {} settled {} bets, game_status {}{} (stream seq {seq}){note}",
                outcomes.join(","),
                a["answer"]["settled_bets"],
                a["answer"]["game_status"],
                if a["answer"]["replayed"] == true { ", a repeat" } else { "" },
            );
        }
        (kind, Some(200)) => {
            eprintln!("draws: {} {round} {} (stream seq {seq}){note}", kind.unwrap_or("?"), a["answer"]["status"]);
        }
        (kind, _) => eprintln!(
            "draws: {} refused {} {} (stream seq {seq}){note}",
            kind.unwrap_or("?"),
            a["error"]["code"].as_str().unwrap_or("?"),
            a["error"]["message"].as_str().unwrap_or(""),
        ),
    }
}

/// Crash tests stop the process at a chosen point of a chosen message:
/// `CROUPIER_DRAWS_FAULT=before-record:SEQ` (after the engine's durable answer, before the
/// answer log) or `before-ack:SEQ` (after the log, before the ack). Unset in production.
fn fault(point: &str, seq: u64) {
    if let Ok(v) = std::env::var("CROUPIER_DRAWS_FAULT") {
        if v.split_once(':').is_some_and(|(p, s)| p == point && s.parse() == Ok(seq)) {
            eprintln!("draws: fault {point} at stream seq {seq}: aborting");
            std::process::abort();
        }
    }
}

/// `/metrics` text for the intake.
pub fn write_metrics(out: &mut String, stream: &str, s: &DrawsStatus) {
    let gauge = |out: &mut String, name: &str, help: &str, kind: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name}{{stream=\"{stream}\"}} {value}");
    };
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    gauge(
        out,
        "croupier_draws_position",
        "Stream sequence of the last message acknowledged.",
        "gauge",
        load(&s.position),
    );
    gauge(
        out,
        "croupier_draws_lag_messages",
        "Messages of the subject not yet answered (undelivered, or delivered and not acknowledged).",
        "gauge",
        load(&s.lag),
    );
    gauge(
        out,
        "croupier_draws_connected",
        "1 while connected to JetStream.",
        "gauge",
        s.connected.load(Ordering::Relaxed) as u64,
    );
    gauge(out, "croupier_draws_reconnects_total", "Lost or failed connections.", "counter", load(&s.reconnects));
    let _ = writeln!(out, "# HELP croupier_draws_answers_total Messages answered, by result.");
    let _ = writeln!(out, "# TYPE croupier_draws_answers_total counter");
    for (result, n) in [("accepted", &s.accepted), ("refused", &s.refused), ("replayed", &s.replayed)] {
        let _ = writeln!(out, "croupier_draws_answers_total{{stream=\"{stream}\",result=\"{result}\"}} {}", load(n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_log_keeps_whole_lines_and_cuts_a_torn_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = answers_file(dir.path(), "S").unwrap();
        let mut log = AnswerLog::open(path.clone()).unwrap();
        log.record(json!({"seq": 3, "status": 200})).unwrap();
        log.record(json!({"seq": 4, "status": 422})).unwrap();
        drop(log);
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"seq\": 5, \"sta").unwrap();
        drop(f);
        let mut log = AnswerLog::open(path.clone()).unwrap();
        assert_eq!(log.get(4).unwrap()["status"], 422);
        assert!(log.get(5).is_none(), "a torn line is no answer");
        log.record(json!({"seq": 5, "status": 200})).unwrap();
        drop(log);
        let mut log = AnswerLog::open(path).unwrap();
        assert_eq!(log.get(5).unwrap()["status"], 200, "appended after the cut, whole");
        log.forget_through(4);
        assert!(log.get(3).is_none() && log.get(4).is_none() && log.get(5).is_some());
    }

    #[test]
    fn stream_names_must_be_file_safe() {
        let d = Path::new("d");
        assert_eq!(answers_file(d, "DEALER_1").unwrap(), Path::new("d/draws/DEALER_1.answers"));
        for bad in ["a.b", "../x", "", "a b", "a*"] {
            assert!(answers_file(d, bad).is_err(), "{bad:?}");
        }
    }
}
