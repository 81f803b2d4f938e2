//! `croupier serve`: the sharded runtime behind the HTTP and WebSocket gateway.
//!
//! Settings come, from lowest to highest precedence, from the defaults, the `--config` TOML
//! file, `CROUPIER_*` environment variables and the command line flags. A clean stop
//! (SIGTERM, Ctrl-C) stops accepting, lets requests in flight finish, closes WebSocket
//! sessions, drains every shard's ring and writes a snapshot per shard.

use crate::draws::{DrawsConfig, DrawsHandle};
use anyhow::{bail, Context, Result};
use clap::{value_parser, Args};
use croupier_gateway::{load_or_create_key, Gateway, GatewayConfig, KeySource, Limits};
use croupier_journal::Durability;
use croupier_runtime::{Runtime, RuntimeConfig};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const AFTER_HELP: &str = "\
Precedence: flags > CROUPIER_* environment variables > --config file > defaults.

The config file (TOML) may set: listen, data_dir, durability (\"process\" | \"fsync\"), shards,
workers, token_ttl_s, ring_capacity, sql, nats, draws_from, draws_stream, draws_subject,
draws_ack_wait_ms, and the client limits header_timeout_ms,
body_timeout_ms, idle_timeout_ms, max_connections, max_body_bytes, ws_max_frame_bytes,
ws_max_message_bytes, ws_max_topics, ws_max_replay, ws_max_in_flight. Example:
  listen = \"0.0.0.0:8080\"
  data_dir = \"/var/lib/croupier\"
  durability = \"fsync\"
  shards = 4
  sql = \"postgres://croupier@db/croupier\"
  nats = \"nats://127.0.0.1:4222\"

Projection: the SQL projector follows every shard's journal into the database of --sql (default:
the SQLite file <data-dir>/croupier.sqlite, created with its schema; `--sql off` runs none), and
with --nats an event-stream projector publishes every event to JetStream (stream CROUPIER,
subjects croupier.<shard>.<event>). Both resume from their stored positions, never hold the
shards back, and report their lag in /metrics (croupier_projector_lag_records,
croupier_projector_lag_seconds, croupier_projector_position) and in `croupier status`.

Draws from a queue: with --draws-from nats://HOST:PORT, round events and draw results also
come from JetStream (stream --draws-stream, subject --draws-subject; created if missing), through a
durable pull consumer, one message at a time in stream order. A body has the shape of the HTTP
operator body: {\"event\":\"game_start\",\"round_id\":\"R1\"} as /api/game_event, {\"round_id\":\"R1\",
\"outcomes\":[\"won\",\"lost\",\"lost\"]} as /api/drawresult. Each is validated and run as over HTTP; its
answer (the round, or the refusal with its stable code) is appended with the stream sequence to
<data-dir>/draws/<stream>.answers and synced before the message is acknowledged, then published
on <SUBJ>.answers. A redelivered sequence gets the recorded answer and acts no more. A malformed
or refused message is answered, recorded and acknowledged; a busy engine is retried. Each draw
is logged on one line (\"draw: round R1 result won,lost,lost settled 3 bets ...\"). /metrics shows
croupier_draws_position, croupier_draws_lag_messages and croupier_draws_answers_total.

The operator key signs operator requests (X-Croupier-Timestamp: Unix ms, within 5 minutes of
the server clock; X-Croupier-Signature = hex(HMAC-SHA256(key, METHOD\\nPATH\\nTIMESTAMP\\nBODY)))
and, through a key derived from it, player tokens. Revoked sessions are kept in
<data-dir>/revoked-sessions. Without CROUPIER_OPERATOR_KEY the key is read from
<data-dir>/operator.key, or generated there (mode 0600) on first start; the path is printed.

Limits: every one is answered with a JSON error (see ARCHITECTURE.md). At start the soft
descriptor limit (RLIMIT_NOFILE) is raised to the hard one, and max_connections is kept below
it, leaving room for journals, snapshots and the database.

On start the address is printed on stdout as `listening on <addr>` (with --listen
127.0.0.1:0 the port is chosen by the system). A data folder keeps its shard count: start it
again with the same --shards.";

/// Run the HTTP/WebSocket API over the sharded engine.
#[derive(Debug, Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct ServeArgs {
    /// TOML file with settings (overridden by environment variables and flags)
    #[arg(long, env = "CROUPIER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "CROUPIER_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Data folder: journals, snapshots, shard count, operator key [default: ./croupier-data]
    #[arg(long, env = "CROUPIER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// When an answer is released: after the group fsync (survives power loss) or once in the
    /// mapped pages (survives kill -9) [default: fsync]
    #[arg(long, env = "CROUPIER_DURABILITY", value_enum, value_name = "MODE")]
    pub durability: Option<Durability>,

    /// Shard threads; must stay the same for a data folder [default: the number of cores]
    #[arg(long, env = "CROUPIER_SHARDS", value_name = "N", value_parser = value_parser!(u64).range(1..=1024))]
    pub shards: Option<u64>,

    /// Async worker threads serving HTTP [default: the number of cores]
    #[arg(long, env = "CROUPIER_WORKERS", value_name = "N", value_parser = value_parser!(u64).range(1..=1024))]
    pub workers: Option<u64>,

    /// Lifetime of player session tokens, seconds [default: 86400]
    #[arg(long, env = "CROUPIER_TOKEN_TTL_S", value_name = "S", value_parser = value_parser!(u64).range(1..))]
    pub token_ttl_s: Option<u64>,

    /// Requests each shard's ring holds before the API answers 503 BUSY [default: 65536]
    #[arg(long, env = "CROUPIER_RING_CAPACITY", value_name = "N", value_parser = value_parser!(u64).range(1..))]
    pub ring_capacity: Option<u64>,

    /// Database the SQL projector writes rounds, orders and the ledger into: sqlite://FILE,
    /// postgres://..., or `off` [default: sqlite://<data-dir>/croupier.sqlite]
    #[arg(long, env = "CROUPIER_SQL", value_name = "URL")]
    pub sql: Option<String>,

    /// NATS server to publish every event to (JetStream stream CROUPIER); none if unset
    #[arg(long, env = "CROUPIER_NATS", value_name = "URL")]
    pub nats: Option<String>,

    /// A request head must arrive within this many ms, else the connection is closed; also
    /// bounds the wait for a kept-alive connection's next request [default: 10000]
    #[arg(long, env = "CROUPIER_HEADER_TIMEOUT_MS", value_name = "MS", value_parser = value_parser!(u64).range(1..))]
    pub header_timeout_ms: Option<u64>,

    /// A request body must arrive within this many ms, else 408 REQUEST_TIMEOUT [default: 30000]
    #[arg(long, env = "CROUPIER_BODY_TIMEOUT_MS", value_name = "MS", value_parser = value_parser!(u64).range(1..))]
    pub body_timeout_ms: Option<u64>,

    /// A connection on which no byte moves for this many ms is closed [default: 60000]
    #[arg(long, env = "CROUPIER_IDLE_TIMEOUT_MS", value_name = "MS", value_parser = value_parser!(u64).range(1..))]
    pub idle_timeout_ms: Option<u64>,

    /// Connections served at once (WebSockets included); one more gets 503
    /// TOO_MANY_CONNECTIONS. Kept below the descriptor limit [default: 10000]
    #[arg(long, env = "CROUPIER_MAX_CONNECTIONS", value_name = "N", value_parser = value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,

    /// Largest request body, bytes; larger gets 413 BODY_TOO_LARGE [default: 1048576]
    #[arg(long, env = "CROUPIER_MAX_BODY_BYTES", value_name = "BYTES", value_parser = value_parser!(u64).range(1..))]
    pub max_body_bytes: Option<u64>,

    /// Largest WebSocket frame a client may send, bytes [default: 65536]
    #[arg(long, env = "CROUPIER_WS_MAX_FRAME_BYTES", value_name = "BYTES", value_parser = value_parser!(u64).range(1..))]
    pub ws_max_frame_bytes: Option<u64>,

    /// Largest WebSocket message a client may send, bytes [default: 65536]
    #[arg(long, env = "CROUPIER_WS_MAX_MESSAGE_BYTES", value_name = "BYTES", value_parser = value_parser!(u64).range(1..))]
    pub ws_max_message_bytes: Option<u64>,

    /// Topics per WebSocket subscribe and per connection [default: 64]
    #[arg(long, env = "CROUPIER_WS_MAX_TOPICS", value_name = "N", value_parser = value_parser!(u64).range(1..))]
    pub ws_max_topics: Option<u64>,

    /// Most messages of a shard one WebSocket resume replays; further behind gets reload
    /// [default: 8192]
    #[arg(long, env = "CROUPIER_WS_MAX_REPLAY", value_name = "N", value_parser = value_parser!(u64).range(1..))]
    pub ws_max_replay: Option<u64>,

    /// Take round events and draw results from this NATS server's JetStream as well as over
    /// HTTP (see below); none if unset
    #[arg(long, env = "CROUPIER_DRAWS_FROM", value_name = "URL")]
    pub draws_from: Option<String>,

    /// The JetStream stream of round events and draw results, created with --draws-subject
    /// if missing [default: DEALER_DRAWS]
    #[arg(long, env = "CROUPIER_DRAWS_STREAM", value_name = "NAME")]
    pub draws_stream: Option<String>,

    /// The subject the dealing system publishes them on; answers go to <SUBJ>.answers
    /// [default: dealer.draws]
    #[arg(long, env = "CROUPIER_DRAWS_SUBJECT", value_name = "SUBJ")]
    pub draws_subject: Option<String>,

    /// How long JetStream waits for the acknowledgement of a message before redelivering it
    /// (after a crash, the unacknowledged message comes again after this) [default: 10000]
    #[arg(long, env = "CROUPIER_DRAWS_ACK_WAIT_MS", value_name = "MS", value_parser = value_parser!(u64).range(100..=3_600_000))]
    pub draws_ack_wait_ms: Option<u64>,

    /// Instant game actions one WebSocket may have in flight; one more is answered
    /// TOO_MANY_IN_FLIGHT [default: 256]
    #[arg(long, env = "CROUPIER_WS_MAX_IN_FLIGHT", value_name = "N", value_parser = value_parser!(u64).range(1..))]
    pub ws_max_in_flight: Option<u64>,

    /// Demo: fund demo players, run a baccarat table that opens rounds on its own and house
    /// players that bet, and let the console at / play as the demo players
    #[arg(long, env = "CROUPIER_DEMO")]
    pub demo: bool,

    /// Demo: each round's betting window, ms [default: 15000]
    #[arg(long, env = "CROUPIER_DEMO_WINDOW_MS", value_name = "MS", value_parser = value_parser!(u64).range(1000..=600_000))]
    pub demo_window_ms: Option<u64>,

    /// The operator key (prefer the environment variable over the flag: flags show in `ps`)
    #[arg(long, env = "CROUPIER_OPERATOR_KEY", value_name = "KEY", hide_env_values = true)]
    pub operator_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    durability: Option<String>,
    shards: Option<u64>,
    workers: Option<u64>,
    token_ttl_s: Option<u64>,
    ring_capacity: Option<u64>,
    sql: Option<String>,
    nats: Option<String>,
    header_timeout_ms: Option<u64>,
    body_timeout_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    max_connections: Option<u64>,
    max_body_bytes: Option<u64>,
    ws_max_frame_bytes: Option<u64>,
    ws_max_message_bytes: Option<u64>,
    ws_max_topics: Option<u64>,
    ws_max_replay: Option<u64>,
    draws_from: Option<String>,
    draws_stream: Option<String>,
    draws_subject: Option<String>,
    draws_ack_wait_ms: Option<u64>,
    ws_max_in_flight: Option<u64>,
}

/// The settings `serve` runs with, after precedence.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub durability: Durability,
    pub shards: usize,
    pub workers: usize,
    pub token_ttl_s: u64,
    pub ring_capacity: usize,
    /// The SQL projector's database; `None` runs none.
    pub sql: Option<String>,
    /// The event-stream projector's NATS server; `None` runs none.
    pub nats: Option<String>,
    /// What each client may cost; `max_connections` before the descriptor clamp.
    pub limits: Limits,
    /// With `--demo`: the demo's settings.
    pub demo: Option<crate::demo::DemoConfig>,
    /// With `--draws-from`: the JetStream intake of round events and draw results.
    pub draws: Option<crate::draws::DrawsConfig>,
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl ServeArgs {
    pub fn settings(&self) -> Result<Settings> {
        let file: FileConfig = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("{} is not a valid config", path.display()))?
            }
            None => FileConfig::default(),
        };
        let limits = self.limits(&file);
        let durability = match (self.durability, file.durability.as_deref()) {
            (Some(d), _) => d,
            (None, Some("process")) => Durability::Process,
            (None, Some("fsync")) | (None, None) => Durability::Fsync,
            (None, Some(other)) => bail!("durability must be \"process\" or \"fsync\", not {other:?}"),
        };
        let data_dir =
            self.data_dir.clone().or(file.data_dir.clone()).unwrap_or_else(|| PathBuf::from("croupier-data"));
        let draws = self.draws(&file, &data_dir, limits.max_body_bytes)?;
        let sql = match self.sql.clone().or(file.sql) {
            Some(off) if off == "off" => None,
            Some(url) => Some(url),
            None => Some(croupier_persistence::default_sql_url(&data_dir)),
        };
        Ok(Settings {
            draws,
            limits,
            sql,
            nats: self.nats.clone().or(file.nats).filter(|u| !u.is_empty()),
            listen: self.listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir,
            durability,
            shards: self.shards.or(file.shards).map_or_else(cores, |n| n as usize),
            workers: self.workers.or(file.workers).map_or_else(cores, |n| n as usize),
            token_ttl_s: self.token_ttl_s.or(file.token_ttl_s).unwrap_or(86_400),
            ring_capacity: self.ring_capacity.or(file.ring_capacity).map_or(65_536, |n| n as usize),
            demo: self.demo.then(|| crate::demo::DemoConfig {
                window: Duration::from_millis(self.demo_window_ms.unwrap_or(15_000)),
            }),
        })
    }

    fn draws(&self, file: &FileConfig, data_dir: &Path, max_body_bytes: usize) -> Result<Option<DrawsConfig>> {
        let Some(url) = self.draws_from.clone().or(file.draws_from.clone()).filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        let stream = self.draws_stream.clone().or(file.draws_stream.clone()).unwrap_or_else(|| "DEALER_DRAWS".into());
        crate::draws::answers_file(data_dir, &stream).map_err(anyhow::Error::msg)?;
        let subject =
            self.draws_subject.clone().or(file.draws_subject.clone()).unwrap_or_else(|| "dealer.draws".into());
        if subject.is_empty() || subject.contains(['*', '>', ' ']) {
            bail!("--draws-subject {subject:?}: one subject, without wildcards or spaces");
        }
        let ack_wait = Duration::from_millis(self.draws_ack_wait_ms.or(file.draws_ack_wait_ms).unwrap_or(10_000));
        Ok(Some(DrawsConfig {
            data_dir: data_dir.to_path_buf(),
            nats_url: url,
            stream,
            subject,
            ack_wait,
            max_body_bytes,
        }))
    }

    /// Each limit from the flag (or its variable), else the file, else the default.
    fn limits(&self, file: &FileConfig) -> Limits {
        let d = Limits::default();
        let ms = |flag: Option<u64>, file: Option<u64>, default: Duration| {
            flag.or(file).map_or(default, Duration::from_millis)
        };
        let n = |flag: Option<u64>, file: Option<u64>, default: usize| flag.or(file).map_or(default, |n| n as usize);
        Limits {
            header_timeout: ms(self.header_timeout_ms, file.header_timeout_ms, d.header_timeout),
            body_timeout: ms(self.body_timeout_ms, file.body_timeout_ms, d.body_timeout),
            idle_timeout: ms(self.idle_timeout_ms, file.idle_timeout_ms, d.idle_timeout),
            max_connections: n(self.max_connections, file.max_connections, d.max_connections),
            max_body_bytes: n(self.max_body_bytes, file.max_body_bytes, d.max_body_bytes),
            ws_max_frame_bytes: n(self.ws_max_frame_bytes, file.ws_max_frame_bytes, d.ws_max_frame_bytes),
            ws_max_message_bytes: n(self.ws_max_message_bytes, file.ws_max_message_bytes, d.ws_max_message_bytes),
            ws_max_topics: n(self.ws_max_topics, file.ws_max_topics, d.ws_max_topics),
            ws_max_replay: n(self.ws_max_replay, file.ws_max_replay, d.ws_max_replay),
            ws_max_in_flight: n(self.ws_max_in_flight, file.ws_max_in_flight, d.ws_max_in_flight),
        }
    }
}

/// Descriptors kept free of connections: journals and their next segments, snapshots, the
/// database, the listener and the runtime's own (a fixed part and some per shard).
fn reserved_descriptors(shards: usize) -> u64 {
    128 + 16 * shards as u64
}

/// Raises the soft descriptor limit to the hard one (a server of many connections needs
/// them; the soft default is often 1024). Returns the limit now in force.
fn raise_descriptor_limit() -> Option<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    let before = lim.rlim_cur;
    // An unlimited hard limit is not a valid soft one for descriptors (Linux caps it at
    // fs.nr_open): then try a large finite one.
    for target in [lim.rlim_max, 1 << 20] {
        if target <= before {
            break;
        }
        let raised = libc::rlimit { rlim_cur: target, rlim_max: lim.rlim_max };
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            eprintln!("descriptors: soft limit raised from {before} to {target}");
            return Some(target);
        }
    }
    eprintln!("descriptors: limit {before} (hard {})", lim.rlim_max);
    Some(before)
}

/// `max_connections` kept below the descriptor limit, leaving [`reserved_descriptors`].
fn clamp_connections(limits: &mut Limits, descriptors: Option<u64>, shards: usize) {
    let Some(nofile) = descriptors else { return };
    let room = nofile.saturating_sub(reserved_descriptors(shards)).max(1);
    if limits.max_connections as u64 > room {
        eprintln!(
            "connections: at most {room} at once (not {}): {nofile} descriptors, {} kept for the rest",
            limits.max_connections,
            reserved_descriptors(shards)
        );
        limits.max_connections = room as usize;
    }
}

pub fn run(args: &ServeArgs) -> Result<()> {
    let mut s = args.settings()?;
    clamp_connections(&mut s.limits, raise_descriptor_limit(), s.shards);
    std::fs::create_dir_all(&s.data_dir).with_context(|| format!("cannot create {}", s.data_dir.display()))?;
    let (key, source) = load_or_create_key(args.operator_key.as_deref(), &s.data_dir).context("operator key")?;
    match &source {
        KeySource::Environment => eprintln!("operator key: from CROUPIER_OPERATOR_KEY"),
        KeySource::File(p) => eprintln!("operator key: {}", p.display()),
        KeySource::Generated(p) => eprintln!("operator key: generated into {} (mode 0600)", p.display()),
    }
    let mut rc = RuntimeConfig::new(&s.data_dir);
    rc.shards = s.shards;
    rc.durability = s.durability;
    rc.ring_capacity = s.ring_capacity;
    let (runtime, reports) = Runtime::start(rc).with_context(|| format!("cannot open {}", s.data_dir.display()))?;
    for r in &reports {
        eprintln!(
            "shard {}: restored at position {} ({} records replayed{})",
            r.shard,
            r.position,
            r.records_replayed,
            r.snapshot.as_ref().map_or(String::new(), |(p, pos)| format!(" after snapshot {} at {pos}", p.display()))
        );
    }
    let runtime = Arc::new(runtime);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(s.workers)
        .thread_name("http")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let served = tokio.block_on(serve(&s, runtime.clone(), key));
    drop(tokio);
    let stopped = shutdown(runtime)?;
    served?;
    for st in stopped {
        eprintln!(
            "shard {}: stopped at position {}{}",
            st.shard,
            st.position,
            st.snapshot.map_or(String::new(), |i| format!(", snapshot {}", i.path.display()))
        );
    }
    Ok(())
}

async fn serve(s: &Settings, runtime: Arc<Runtime>, key: Vec<u8>) -> Result<()> {
    let cfg = GatewayConfig {
        token_ttl_ms: s.token_ttl_s.saturating_mul(1000),
        limits: s.limits.clone(),
        ..GatewayConfig::default()
    };
    let demo_key = s.demo.is_some().then(|| key.clone());
    let gateway = Gateway::start(runtime, s.data_dir.clone(), cfg, key).await.map_err(anyhow::Error::msg)?;
    let projectors = Projectors::start(s, &gateway);
    let (stop_draws, draws) = start_draws(s, &gateway)?;
    let listener =
        tokio::net::TcpListener::bind(s.listen).await.with_context(|| format!("cannot listen on {}", s.listen))?;
    let addr = listener.local_addr()?;
    if let (Some(demo), Some(key)) = (&s.demo, demo_key) {
        if !addr.ip().is_loopback() {
            eprintln!("demo: WARNING: {addr} is not a loopback address; anyone who reaches it plays the demo players");
        }
        // The demo calls the server itself: over loopback when it listens on every address.
        let target = if addr.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], addr.port())) } else { addr };
        let app = gateway.app().clone();
        let stop = app.shutdown.clone();
        tokio::spawn(crate::demo::run(app, target, key, demo.clone(), stop));
    }
    println!("listening on {addr}");
    eprintln!(
        "croupier serving http://{addr} (console at /; data {}, {} shards, durability {:?})",
        s.data_dir.display(),
        s.shards,
        s.durability
    );
    let served = gateway.serve(listener, stop_signal()).await.context("server");
    let _ = stop_draws.send(true);
    if let Some(d) = draws {
        d.stop().await;
    }
    projectors.stop().await;
    eprintln!("stopping: draining the shards and writing snapshots");
    served
}

/// The JetStream intake of round events and draw results, if configured, with its figures in
/// `/metrics`; it stops when the returned sender says so.
fn start_draws(s: &Settings, gateway: &Gateway) -> Result<(tokio::sync::watch::Sender<bool>, Option<DrawsHandle>)> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let Some(cfg) = s.draws.clone() else { return Ok((stop, None)) };
    eprintln!("draws: from {}", redact(&cfg.nats_url));
    let stream = cfg.stream.clone();
    let handle = DrawsHandle::spawn(cfg, gateway.app().clone(), stopped).context("draws")?;
    let status = handle.status.clone();
    gateway.app().metrics.add_source(Box::new(move |out| crate::draws::write_metrics(out, &stream, &status)));
    Ok((stop, Some(handle)))
}

/// The projectors `serve` runs beside the gateway. They read the journals, never the shards:
/// a slow or failed projector costs lag, never a refused bet; what it has not written is
/// written at the next start from its stored positions.
struct Projectors {
    sql: Option<croupier_persistence::ProjectorHandle>,
    stream: Option<croupier_persistence::StreamHandle>,
}

impl Projectors {
    fn start(s: &Settings, gateway: &Gateway) -> Projectors {
        use croupier_persistence::{ProjectorConfig, SqlProjector, StreamConfig, StreamProjector};
        let sql = s.sql.as_ref().map(|url| {
            eprintln!("sql projection: {}", redact(url));
            SqlProjector::spawn(ProjectorConfig { sql_url: url.clone(), ..ProjectorConfig::new(&s.data_dir) })
        });
        let stream = s.nats.as_ref().map(|url| {
            eprintln!("event stream: {} (JetStream stream CROUPIER)", redact(url));
            StreamProjector::spawn(StreamConfig::new(&s.data_dir, url.clone()))
        });
        let mut lags: Vec<(&'static str, LagFn)> = Vec::new();
        if let Some(p) = &sql {
            lags.push(("sql", Box::new(p.lag_source())));
        }
        if let Some(p) = &stream {
            lags.push(("nats", Box::new(p.lag_source())));
        }
        if !lags.is_empty() {
            gateway.app().metrics.add_source(Box::new(move |out| write_lags(out, &lags)));
        }
        Projectors { sql, stream }
    }

    /// Lets each projector finish its batch in flight; reports errors it met.
    async fn stop(self) {
        if let Some(p) = self.sql {
            for e in p.errors() {
                eprintln!("sql projection stopped on an error (it resumes at the next start): {e}");
            }
            if let Err(e) = p.stop().await {
                eprintln!("sql projection: {e}");
            }
        }
        if let Some(p) = self.stream {
            for e in p.errors() {
                eprintln!("event stream stopped on an error (it resumes at the next start): {e}");
            }
            if let Err(e) = p.stop().await {
                eprintln!("event stream: {e}");
            }
        }
    }
}

type LagFn = Box<dyn Fn() -> Vec<croupier_persistence::ShardLag> + Send + Sync>;

fn write_lags(out: &mut String, projectors: &[(&'static str, LagFn)]) {
    use std::fmt::Write;
    let lags: Vec<_> = projectors.iter().map(|(name, lag)| (*name, lag())).collect();
    let _ = writeln!(out, "# HELP croupier_projector_lag_records Journal records not yet projected, per shard.");
    let _ = writeln!(out, "# TYPE croupier_projector_lag_records gauge");
    for (p, l) in lags.iter().flat_map(|(p, ls)| ls.iter().map(move |l| (p, l))) {
        let _ = writeln!(
            out,
            "croupier_projector_lag_records{{projector=\"{p}\",shard=\"{}\"}} {}",
            l.shard, l.records_behind
        );
    }
    let _ = writeln!(out, "# HELP croupier_projector_position Last journal record projected, per shard.");
    let _ = writeln!(out, "# TYPE croupier_projector_position gauge");
    for (p, l) in lags.iter().flat_map(|(p, ls)| ls.iter().map(move |l| (p, l))) {
        let _ = writeln!(
            out,
            "croupier_projector_position{{projector=\"{p}\",shard=\"{}\"}} {}",
            l.shard, l.projected_position
        );
    }
    let _ =
        writeln!(out, "# HELP croupier_projector_lag_seconds Age of the oldest record not yet projected, per shard.");
    let _ = writeln!(out, "# TYPE croupier_projector_lag_seconds gauge");
    for (p, l) in lags.iter().flat_map(|(p, ls)| ls.iter().map(move |l| (p, l))) {
        let _ = writeln!(
            out,
            "croupier_projector_lag_seconds{{projector=\"{p}\",shard=\"{}\"}} {}",
            l.shard, l.seconds_behind
        );
    }
}

/// A database URL without its password, for the log.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user = &url[scheme + 3..at];
            let user = user.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// Shuts the runtime down with a snapshot once the gateway has let go of it.
fn shutdown(mut runtime: Arc<Runtime>) -> Result<Vec<croupier_runtime::ShardStopped>> {
    for _ in 0..500 {
        match Arc::try_unwrap(runtime) {
            Ok(rt) => return rt.shutdown(true).context("shutdown"),
            Err(shared) => {
                runtime = shared;
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    bail!("the runtime is still in use after 5 s; stopping without a snapshot")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn settings(args: &[&str]) -> Result<Settings> {
        Cli::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))?.serve.settings()
    }

    #[test]
    fn defaults_then_config_file_then_flags() {
        // CROUPIER_* variables would take part too; the test sets none and reads none that
        // a developer might have set, by passing every flag it checks.
        let s = settings(&["--listen", "127.0.0.1:8080", "--data-dir", "croupier-data"]).unwrap();
        assert_eq!(
            (s.listen.port(), s.data_dir, s.durability),
            (8080, PathBuf::from("croupier-data"), Durability::Fsync)
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("croupier.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\ndurability = \"process\"\nshards = 3\n").unwrap();
        let f = file.to_str().unwrap();
        let s = settings(&["--config", f, "--durability", "fsync", "--shards", "3"]).unwrap();
        assert_eq!((s.durability, s.shards), (Durability::Fsync, 3), "a flag beats the file");
        let s = settings(&["--config", f, "--listen", "127.0.0.1:9001"]).unwrap();
        assert_eq!(s.listen.port(), 9001);
        let s = settings(&["--data-dir", "d"]).unwrap();
        assert_eq!(s.sql, Some(croupier_persistence::default_sql_url(std::path::Path::new("d"))), "SQLite by default");
        assert_eq!(s.nats, None);
        assert_eq!(settings(&["--sql", "off"]).unwrap().sql, None);
        std::fs::write(&file, "sql = \"postgres://u:pw@h/db\"\nnats = \"nats://127.0.0.1:4222\"\n").unwrap();
        let s = settings(&["--config", f]).unwrap();
        assert_eq!(
            (s.sql.as_deref(), s.nats.as_deref()),
            (Some("postgres://u:pw@h/db"), Some("nats://127.0.0.1:4222"))
        );
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        std::fs::write(&file, "durability = \"sometimes\"\n").unwrap();
        assert!(settings(&["--config", f]).is_err());
        std::fs::write(&file, "colour = \"red\"\n").unwrap();
        assert!(settings(&["--config", f]).is_err(), "unknown keys are refused");
    }

    #[test]
    fn draws_are_off_unless_a_nats_url_is_given_and_names_are_checked() {
        assert!(settings(&["--data-dir", "d"]).unwrap().draws.is_none());
        let d = settings(&["--data-dir", "d", "--draws-from", "nats://h:4222", "--draws-ack-wait-ms", "500"]).unwrap();
        let d = d.draws.expect("on with --draws-from");
        assert_eq!((d.stream.as_str(), d.subject.as_str()), ("DEALER_DRAWS", "dealer.draws"));
        assert_eq!((d.nats_url.as_str(), d.ack_wait), ("nats://h:4222", Duration::from_millis(500)));
        let from = ["--data-dir", "d", "--draws-from", "nats://h:4222"];
        let with = |extra: &[&str]| settings(&[&from[..], extra].concat());
        assert!(with(&["--draws-stream", "a.b"]).is_err(), "a stream name is a file name");
        assert!(with(&["--draws-subject", "dealer.>"]).is_err(), "one subject, no wildcard");
        assert_eq!(with(&["--draws-subject", "t1.draws"]).unwrap().draws.unwrap().subject, "t1.draws");
    }

    #[test]
    fn limits_come_from_flags_then_the_file_then_defaults() {
        // Every limit this test reads is passed as a flag or set in the file, so CROUPIER_*
        // variables a developer may have set cannot change the outcome.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("croupier.toml");
        std::fs::write(&file, "header_timeout_ms = 2000\nmax_connections = 500\nws_max_topics = 8\n").unwrap();
        let f = file.to_str().unwrap();
        let s = settings(&["--config", f, "--max-connections", "300", "--max-body-bytes", "4096"]).unwrap();
        let l = &s.limits;
        assert_eq!(l.header_timeout, Duration::from_millis(2000), "from the file");
        assert_eq!((l.max_connections, l.max_body_bytes, l.ws_max_topics), (300, 4096, 8), "a flag beats the file");
        let mut l = Limits { max_connections: 10_000, ..Limits::default() };
        clamp_connections(&mut l, Some(1024), 2);
        assert_eq!(l.max_connections as u64, 1024 - reserved_descriptors(2), "kept below the descriptor limit");
        let mut l = Limits { max_connections: 100, ..Limits::default() };
        clamp_connections(&mut l, Some(1 << 20), 2);
        assert_eq!(l.max_connections, 100, "a cap below the limit stays");
    }
}
