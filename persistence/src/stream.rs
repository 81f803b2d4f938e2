//! The event-stream projector: every event of every shard to one NATS JetStream stream, on
//! subject `<prefix>.<shard>.<event name>`, JSON payload, with the `Nats-Msg-Id` header
//! `<shard>:<position>:<index within the record>`. A re-send after a restart carries the same
//! id, so JetStream's duplicate window drops it. The position per shard is kept in
//! `<data>/projector/stream-<stream>-shard-<n>`, written only after every message of a batch was
//! acknowledged: a crash re-sends at most the unacknowledged tail, never skips.

use crate::driver::{open_sources, Handle, Shared};
use crate::ProjectError;
use async_nats::jetstream::{self, context::Publish};
use croupier_feed::shards as shard_ids;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct StreamConfig {
    pub data_dir: PathBuf,
    /// `nats://HOST:PORT`.
    pub nats_url: String,
    /// The JetStream stream (created if missing).
    pub stream: String,
    /// Subjects are `<prefix>.<shard>.<event>`; the stream takes `<prefix>.>`.
    pub subject_prefix: String,
    /// Events published before waiting for their acknowledgements.
    pub batch_events: u64,
    pub idle_poll: Duration,
    /// JetStream's duplicate window for a stream it creates.
    pub duplicate_window: Duration,
}

impl StreamConfig {
    pub fn new(data_dir: impl Into<PathBuf>, nats_url: impl Into<String>) -> Self {
        StreamConfig {
            data_dir: data_dir.into(),
            nats_url: nats_url.into(),
            stream: "CROUPIER".into(),
            subject_prefix: "croupier".into(),
            batch_events: 5_000,
            idle_poll: Duration::from_millis(20),
            duplicate_window: Duration::from_secs(120),
        }
    }
}

/// What a stream projector did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct StreamReport {
    pub published: u64,
    /// Acknowledged as duplicates (re-sends after a restart).
    pub duplicates: u64,
    pub seconds: f64,
    pub positions: Vec<(u32, u64)>,
}

/// A running stream projector (a tokio task).
pub type StreamHandle = Handle<StreamReport>;

pub struct StreamProjector;

impl StreamProjector {
    /// Follows every shard's journal of `cfg.data_dir` on the current tokio runtime.
    pub fn spawn(cfg: StreamConfig) -> StreamHandle {
        Handle::spawn(|shared| async move { run(cfg, &shared, true).await })
    }

    /// Publishes everything the journals hold now, then returns.
    pub async fn publish_all(cfg: StreamConfig) -> Result<StreamReport, ProjectError> {
        run(cfg, &Shared::default(), false).await
    }
}

/// `<data>/projector/stream-<stream>-shard-<n>`.
pub fn position_file(data_dir: &Path, stream: &str, shard: u32) -> PathBuf {
    data_dir.join("projector").join(format!("stream-{stream}-shard-{shard}"))
}

fn read_position(path: &Path) -> Result<u64, ProjectError> {
    match std::fs::read_to_string(path) {
        Ok(t) => {
            t.trim().parse().map_err(|_| ProjectError::Data(format!("{} does not hold a position", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(ProjectError::Data(format!("cannot read {}: {e}", path.display()))),
    }
}

fn write_position(path: &Path, position: u64) -> Result<(), ProjectError> {
    let io = |e: std::io::Error| ProjectError::Data(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{position}\n")).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

fn nats<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> ProjectError {
    move |e| ProjectError::Nats(format!("{what}: {e}"))
}

async fn run(cfg: StreamConfig, shared: &Shared<StreamReport>, follow: bool) -> Result<StreamReport, ProjectError> {
    let shards = shard_ids(&cfg.data_dir)?;
    let client = async_nats::connect(&cfg.nats_url).await.map_err(nats("connect"))?;
    let js = jetstream::new(client);
    js.get_or_create_stream(jetstream::stream::Config {
        name: cfg.stream.clone(),
        subjects: vec![format!("{}.>", cfg.subject_prefix)],
        duplicate_window: cfg.duplicate_window,
        ..Default::default()
    })
    .await
    .map_err(nats("create stream"))?;
    let mut positions = Vec::with_capacity(shards.len());
    for &shard in &shards {
        positions.push((shard, read_position(&position_file(&cfg.data_dir, &cfg.stream, shard))?));
    }
    let (mut sources, mut ends) = open_sources(&cfg.data_dir, positions);
    let start = Instant::now();
    let mut report = StreamReport::default();
    let per_shard = (cfg.batch_events.max(1) / shards.len().max(1) as u64).max(1);
    let mut messages: Vec<(String, String, bytes::Bytes)> = Vec::new();
    let mut acks = Vec::new();
    while !shared.stopping() {
        let mut caught_up = true;
        let mut any = false;
        for src in sources.iter_mut() {
            let shard = src.shard();
            let before = src.position();
            messages.clear();
            let read = src.read(per_shard, |pos, events| {
                for (idx, e) in events.iter().enumerate() {
                    let subject = format!("{}.{shard}.{}", cfg.subject_prefix, e.name());
                    // A flight's secret (game hash, crash point) is not published before the crash.
                    let payload = serde_json::to_vec(&*croupier_domain::crash::event::published(e))
                        .expect("events serialize to JSON");
                    messages.push((subject, format!("{shard}:{pos}:{idx}"), payload.into()));
                }
            })?;
            caught_up &= read.caught_up;
            if src.position() == before {
                continue;
            }
            any = true;
            // Publish the whole batch, then wait for every acknowledgement, then store the
            // position: a crash in between only causes re-sends, which JetStream drops.
            acks.clear();
            for (subject, id, payload) in messages.drain(..) {
                let ack = js
                    .send_publish(subject, Publish::build().payload(payload).message_id(id))
                    .await
                    .map_err(nats("publish"))?;
                acks.push(ack);
            }
            for ack in acks.drain(..) {
                let ack = ack.await.map_err(nats("acknowledgement"))?;
                report.published += 1;
                report.duplicates += ack.duplicate as u64;
            }
            write_position(&position_file(&cfg.data_dir, &cfg.stream, shard), src.position())?;
        }
        report.seconds = start.elapsed().as_secs_f64();
        report.positions = sources.iter().map(|s| (s.shard(), s.position())).collect();
        shared.set_report(&report);
        if follow {
            shared.update_lag(&mut ends, sources.iter().map(|s| (s.shard(), s.position())))?;
        }
        if caught_up && !any {
            if !follow {
                break;
            }
            tokio::time::sleep(cfg.idle_poll).await;
        }
    }
    Ok(report)
}
