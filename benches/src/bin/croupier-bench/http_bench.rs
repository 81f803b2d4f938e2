//! `croupier bench http-bets`: a load generator over HTTP/1.1 keep-alive, in its own process.
//!
//! It opens a session per user, funds every user and starts one long round through the
//! operator API (untimed), then keeps `connections` connections busy placing bets (one
//! request in flight per connection) for `duration`, timing each from write to full answer.
//! Without a target it starts `croupier serve` as a child process on a free 127.0.0.1 port
//! over a temporary data folder, and stops it afterwards. [`run_http_bets`] is the library
//! entry point (`croupier bench compare` calls it).

use anyhow::{bail, Context, Result};
use croupier_gateway::client::{Client, Conn};
use croupier_journal::Durability;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpBetsConfig {
    /// `http://host:port` of a running server; `None` starts one.
    pub target: Option<String>,
    /// The operator key of the target (for a started server one is made up).
    pub operator_key: Option<String>,
    pub connections: usize,
    /// Requests written at once per connection (HTTP/1.1 pipelining); 1 = one in flight.
    pub pipeline: usize,
    pub duration: Duration,
    /// Untimed warm-up before the measured `duration`.
    pub warmup: Duration,
    pub users: u64,
    /// Async worker threads of the load generator.
    pub threads: usize,
    /// For a started server.
    pub durability: Durability,
    pub shards: Option<usize>,
    pub server_workers: Option<usize>,
    /// The `croupier` binary to start (default: this one).
    pub server_bin: Option<PathBuf>,
    /// Only set up (round, funded players, sessions) and write the round and the players'
    /// `Authorization` values to this file, one a line, for `benches/wrk/bets.lua`.
    pub wrk_setup: Option<PathBuf>,
}

impl HttpBetsConfig {
    pub fn new() -> Self {
        HttpBetsConfig {
            target: None,
            operator_key: None,
            connections: 16,
            pipeline: 1,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            users: 10_000,
            threads: 1,
            durability: Durability::Process,
            shards: None,
            server_workers: None,
            server_bin: None,
            wrk_setup: None,
        }
    }
}

impl Default for HttpBetsConfig {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Clone, Debug)]
pub struct HttpBetsReport {
    pub target: String,
    pub started_server: bool,
    pub durability: Option<&'static str>,
    pub connections: usize,
    pub pipeline: usize,
    pub users: u64,
    /// Bets answered 200 in the measured window.
    pub ops: u64,
    pub seconds: f64,
    pub ops_per_sec: f64,
    /// p50, p99, p999, max in µs over every answered request (errors included).
    pub latency_us: [u64; 4],
    /// Non-200 answers by code, and transport failures as `IO`.
    pub errors: BTreeMap<String, u64>,
    pub setup_seconds: f64,
}

impl HttpBetsReport {
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "scenario": "http-bets",
            "ops": self.ops,
            "seconds": self.seconds,
            "ops_per_sec": self.ops_per_sec,
            "latency_us": {"p50": self.latency_us[0], "p99": self.latency_us[1], "p999": self.latency_us[2], "max": self.latency_us[3]},
            "connections": self.connections,
            "pipeline": self.pipeline,
            "users": self.users,
            "errors": self.errors,
            "target": self.target,
            "started_server": self.started_server,
            "durability": self.durability,
            "setup_seconds": self.setup_seconds,
        })
    }
}

/// A `croupier serve` child, stopped (SIGTERM, then waited for) when dropped.
struct ServerChild {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        // SIGTERM lets it drain and snapshot; this process started it, so it owns the pid.
        // SAFETY: kill(2) on a pid this process spawned and has not reaped yet.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `croupier` binary beside this one (cargo builds both into the same folder).
fn croupier_beside_me() -> Result<PathBuf> {
    let me = std::env::current_exe().context("cannot find this binary's path")?;
    let bin = me.with_file_name("croupier");
    if !bin.is_file() {
        bail!("{} is not built: http-bets starts `croupier serve` from beside croupier-bench (cargo build -p croupier), or give --target", bin.display());
    }
    Ok(bin)
}

fn start_server(cfg: &HttpBetsConfig, key: &str) -> Result<(ServerChild, SocketAddr)> {
    let bin = match &cfg.server_bin {
        Some(b) => b.clone(),
        None => croupier_beside_me()?,
    };
    let dir = tempfile::tempdir().context("temporary data folder")?;
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--durability")
        .arg(match cfg.durability {
            Durability::Fsync => "fsync",
            _ => "process",
        })
        // Bet acceptance alone: the SQL projector would share these two cores with the load
        // generator (its own figures: `croupier project`, BENCHMARKS.md).
        .arg("--sql")
        .arg("off")
        .env("CROUPIER_OPERATOR_KEY", key)
        .env_remove("CROUPIER_CONFIG")
        .env_remove("CROUPIER_NATS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(s) = cfg.shards {
        cmd.arg("--shards").arg(s.to_string());
    }
    if let Some(w) = cfg.server_workers {
        cmd.arg("--workers").arg(w.to_string());
    }
    let mut child = cmd.spawn().context("cannot start croupier serve")?;
    let stdout = child.stdout.take().context("server stdout")?;
    let server = ServerChild { child, _dir: dir };
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).context("reading the server's address")?;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .with_context(|| format!("the server did not say where it listens: {line:?}"))?;
    Ok((server, addr))
}

fn parse_target(t: &str) -> Result<SocketAddr> {
    let hostport = t.strip_prefix("http://").unwrap_or(t).trim_end_matches('/');
    use std::net::ToSocketAddrs;
    hostport
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {t}"))?
        .next()
        .with_context(|| format!("{t} names no address"))
}

/// Runs the scenario and returns its figures.
pub fn run_http_bets(cfg: HttpBetsConfig) -> Result<HttpBetsReport> {
    if cfg.connections == 0 || cfg.users == 0 {
        bail!("--connections and --users must be positive");
    }
    let (server, addr, key) = match &cfg.target {
        Some(t) => {
            let key = cfg
                .operator_key
                .clone()
                .or_else(|| std::env::var("CROUPIER_OPERATOR_KEY").ok())
                .context("a --target needs its operator key in CROUPIER_OPERATOR_KEY")?;
            (None, parse_target(t)?, key)
        }
        None => {
            let key = format!("bench-{:x}", std::process::id() as u64 ^ croupier_gateway::now_ms());
            let (child, addr) = start_server(&cfg, &key)?;
            (Some(child), addr, key)
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads.max(1))
        .enable_all()
        .build()
        .context("async runtime")?;
    let report = rt.block_on(load(&cfg, addr, key.as_bytes()));
    drop(server);
    let mut r = report?;
    r.target = format!("http://{addr}");
    r.started_server = cfg.target.is_none();
    r.durability = cfg.target.is_none().then_some(match cfg.durability {
        Durability::Fsync => "fsync",
        _ => "process",
    });
    Ok(r)
}

async fn load(cfg: &HttpBetsConfig, addr: SocketAddr, key: &[u8]) -> Result<HttpBetsReport> {
    let setup_started = Instant::now();
    let run = format!("{:x}", croupier_gateway::now_ms() % 0xffff_ffff);
    let round = format!("bench-{run}");
    let mut op = Client::new(addr, key);
    let a = op
        .operator("/api/game_event", &json!({"event": "game_start", "round_id": round, "window_ms": 86_400_000u64}))
        .await
        .context("cannot reach the server")?;
    if a.status != 200 {
        bail!("game_start answered {}: {}", a.status, String::from_utf8_lossy(&a.body));
    }
    // Sessions and funding, many at a time; tokens are made by the server's /api/sessions.
    let setup_conns = 32.min(cfg.users as usize).max(1);
    let mut tasks = Vec::new();
    for t in 0..setup_conns {
        let (users, run) = (cfg.users, run.clone());
        let mut c = Client::new(addr, key);
        tasks.push(tokio::spawn(async move {
            let mut tokens = Vec::new();
            let mut u = t as u64;
            while u < users {
                let user = 1_000_000 + u;
                let dep = json!({"transfer_id": format!("bf-{run}-{u}"), "user_id": user, "amount": "1000000.00"});
                let a = c.operator("/api/deposit", &dep).await?;
                if a.status != 200 {
                    bail!("deposit answered {}: {}", a.status, String::from_utf8_lossy(&a.body));
                }
                tokens.push((u, c.session(user).await?));
                u += setup_conns as u64;
            }
            Ok::<_, anyhow::Error>(tokens)
        }));
    }
    let mut tokens = vec![String::new(); cfg.users as usize];
    for t in tasks {
        for (u, tok) in t.await.context("setup task")?? {
            tokens[u as usize] = format!("Bearer {tok}");
        }
    }
    let setup_seconds = setup_started.elapsed().as_secs_f64();
    if let Some(path) = &cfg.wrk_setup {
        let text =
            std::iter::once(round.as_str()).chain(tokens.iter().map(String::as_str)).collect::<Vec<_>>().join("\n");
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        return Ok(HttpBetsReport {
            target: String::new(),
            started_server: false,
            durability: None,
            connections: 0,
            pipeline: 0,
            users: cfg.users,
            ops: 0,
            seconds: 0.0,
            ops_per_sec: 0.0,
            latency_us: [0; 4],
            errors: BTreeMap::new(),
            setup_seconds,
        });
    }

    let tokens = Arc::new(tokens);
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..cfg.connections {
        let (tokens, measuring, stop, done, round, run) =
            (tokens.clone(), measuring.clone(), stop.clone(), done.clone(), round.clone(), run.clone());
        let pipeline = cfg.pipeline;
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
            let mut errors: BTreeMap<String, u64> = BTreeMap::new();
            let (mut ok, mut k) = (0u64, 0u64);
            let users = tokens.len() as u64;
            let mut body = String::with_capacity(160);
            let depth = pipeline.max(1);
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..depth {
                    let user = (c as u64 + k * 7919) % users;
                    body.clear();
                    use std::fmt::Write;
                    let _ = write!(
                        body,
                        r#"{{"order_no":"{run}-{c}-{k}","round_id":"{round}","selection":{},"amount":"1.00"}}"#,
                        k % 3
                    );
                    k += 1;
                    conn.queue("POST", "/api/bet", &[("authorization", &tokens[user as usize])], body.as_bytes());
                }
                // Each request is timed from the write that carried it to its own answer.
                let started = Instant::now();
                let mut sent = conn.send_queued().await.is_ok();
                for _ in 0..depth {
                    let answer =
                        if sent { conn.read_answer().await } else { Err(std::io::Error::other("connection lost")) };
                    let us = started.elapsed().as_micros() as u64;
                    let failed = answer.is_err();
                    if measuring.load(Ordering::Relaxed) {
                        let _ = hist.record(us.max(1));
                        match answer {
                            Ok(a) if a.status == 200 => {
                                ok += 1;
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(a) => *errors.entry(a.code()).or_default() += 1,
                            Err(_) => *errors.entry("IO".into()).or_default() += 1,
                        }
                    }
                    if failed {
                        // The connection is gone with the rest of this burst: reconnect.
                        sent = false;
                    }
                }
                if !sent {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            (ok, hist, errors)
        }));
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("template"));
    bar.set_message("warm-up");
    tokio::time::sleep(cfg.warmup).await;
    measuring.store(true, Ordering::SeqCst);
    let started = Instant::now();
    while started.elapsed() < cfg.duration {
        tokio::time::sleep(Duration::from_millis(250).min(cfg.duration)).await;
        let n = done.load(Ordering::Relaxed);
        bar.set_message(format!("{n} bets, {:.0}/s", n as f64 / started.elapsed().as_secs_f64()));
        bar.tick();
    }
    measuring.store(false, Ordering::SeqCst);
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    bar.finish_and_clear();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    let mut errors = BTreeMap::new();
    let mut ops = 0;
    for t in tasks {
        let (ok, h, e) = t.await.context("load task")?;
        ops += ok;
        hist.add(h).context("merging histograms")?;
        for (k, v) in e {
            *errors.entry(k).or_default() += v;
        }
    }
    Ok(HttpBetsReport {
        target: String::new(),
        started_server: false,
        durability: None,
        connections: cfg.connections,
        pipeline: cfg.pipeline,
        users: cfg.users,
        ops,
        seconds,
        ops_per_sec: ops as f64 / seconds,
        latency_us: [
            hist.value_at_quantile(0.5),
            hist.value_at_quantile(0.99),
            hist.value_at_quantile(0.999),
            hist.max(),
        ],
        errors,
        setup_seconds,
    })
}

/// `croupier bench http-bets` from the CLI flags.
pub fn run_cli(args: &crate::bench::BenchArgs) -> Result<()> {
    let mut cfg = HttpBetsConfig::new();
    cfg.target = args.target.clone();
    if let Some(c) = args.connections {
        cfg.connections = c as usize;
    }
    if let Some(p) = args.pipeline {
        cfg.pipeline = p as usize;
    }
    if let Some(d) = args.duration {
        cfg.duration = Duration::from_secs_f64(d);
    }
    if let Some(u) = args.users {
        cfg.users = u;
    }
    if let Some(t) = args.client_threads {
        cfg.threads = t as usize;
    }
    if let Some(d) = args.durability {
        if cfg.target.is_some() {
            bail!("--durability applies to the server http-bets starts, not to a --target");
        }
        cfg.durability = d;
    }
    cfg.shards = args.shards.map(|s| s as usize);
    cfg.server_workers = args.server_workers.map(|s| s as usize);
    cfg.wrk_setup = args.wrk_setup.clone();
    if cfg.wrk_setup.is_some() && cfg.target.is_none() {
        bail!("--wrk-setup prepares a running server for wrk: give its --target");
    }
    let wrk = cfg.wrk_setup.clone();
    let r = run_http_bets(cfg)?;
    if let Some(path) = wrk {
        println!("{} players and round written to {} for benches/wrk/bets.lua", r.users, path.display());
        return Ok(());
    }
    if args.json {
        println!("{}", r.to_json());
    } else {
        println!(
            "croupier bench http-bets against {}{}",
            r.target,
            r.durability.map_or(String::new(), |d| format!(" (started, durability {d})"))
        );
        println!("  connections      {} (pipeline {})", r.connections, r.pipeline);
        println!("  bets             {} in {:.2} s", r.ops, r.seconds);
        println!("  throughput       {:.0} bets/s", r.ops_per_sec);
        println!(
            "  latency µs       p50 {}  p99 {}  p99.9 {}  max {}",
            r.latency_us[0], r.latency_us[1], r.latency_us[2], r.latency_us[3]
        );
        println!("  errors           {:?}", r.errors);
    }
    Ok(())
}
