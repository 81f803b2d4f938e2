//! `redis-grab`: the red-packet grab as it is usually built on Redis (seed 002's "write the
//! cache first, sync to the database asynchronously"): the sender's money is pre-split into
//! shares pushed onto a list, and one Lua script per grab, run atomically by Redis:
//!
//! ```lua
//! -- KEYS: shares (list), grabbed (hash user -> share), log (list, for the async DB sync),
//! --       wallet (hash user -> balance);  ARGV: user, now_ms
//! if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return -1 end   -- one share per user
//! local share = redis.call('LPOP', KEYS[1])
//! if not share then return 0 end                                       -- packet empty
//! redis.call('HSETNX', KEYS[2], ARGV[1], share)
//! redis.call('HINCRBY', KEYS[4], ARGV[1], share)                       -- credit the grabber
//! redis.call('RPUSH', KEYS[3], ARGV[1] .. ':' .. share .. ':' .. ARGV[2])
//! return tonumber(share)
//! ```
//!
//! Called with `EVALSHA` (loaded once), one call per round trip per connection, or `pipeline`
//! calls per round trip. One packet of `shares` shares (each 0.01–1.99, mean 1.00, like
//! croupier's `grab` scenario), all grabbed from the start of the loop; the loop ends after
//! `duration` or when the packet is empty. Grabbers are new users each time, or drawn at
//! random from `users` users (then some grab twice and are refused, as the script must).
//!
//! Redis's own durability settings (`appendonly`, `appendfsync`) are used as found and
//! reported. After the loop, by a script: the shares grabbed plus those left equal the total;
//! one `grabbed` entry and one log record per accepted grab; the wallets hold what was grabbed.

use super::{drive, BaselineReport, Error, Fact, Tally};
use crate::{Observer, Phase};
use ::redis::aio::MultiplexedConnection;
use ::redis::{Client, Script, Value};
use croupier_domain::Money;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The grab script (see the module documentation).
pub const GRAB_SCRIPT: &str = r#"
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return -1 end
local share = redis.call('LPOP', KEYS[1])
if not share then return 0 end
redis.call('HSETNX', KEYS[2], ARGV[1], share)
redis.call('HINCRBY', KEYS[4], ARGV[1], share)
redis.call('RPUSH', KEYS[3], ARGV[1] .. ':' .. share .. ':' .. ARGV[2])
return tonumber(share)
"#;

/// Sums for the check after the loop: grabbed (sum, count), left (sum), log records, wallets.
const AUDIT_SCRIPT: &str = r#"
local function sum(values) local s = 0 for _, v in ipairs(values) do s = s + tonumber(v) end return s end
return { sum(redis.call('HVALS', KEYS[2])), redis.call('HLEN', KEYS[2]),
         sum(redis.call('LRANGE', KEYS[1], 0, -1)), redis.call('LLEN', KEYS[3]),
         sum(redis.call('HVALS', KEYS[4])) }
"#;

/// Shares are 1 to 199 minor units: mean 100, like croupier's grab scenario.
const MEAN_SHARE: u64 = 100;
/// Shares pushed per `RPUSH` during setup.
const PUSH_CHUNK: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisGrabConfig {
    /// `redis://host:port`.
    pub url: String,
    /// Concurrent connections, each with one round trip in flight.
    pub connections: usize,
    /// Grabs per round trip (1: no pipelining).
    pub pipeline: usize,
    pub duration: Duration,
    /// Shares in the packet; the loop ends early if they run out.
    pub shares: u64,
    /// `None`: every grab by a new user. `Some(n)`: grabbers drawn from users 1..=n.
    pub users: Option<u64>,
    pub seed: u64,
    /// Leave the keys in place for inspection.
    pub keep: bool,
}

impl RedisGrabConfig {
    pub const DEFAULT_CONNECTIONS: usize = 16;
    /// Shares per second of `duration` by default: above what Redis grabs on this machine
    /// kind even pipelined, so the packet lasts the whole run.
    pub const DEFAULT_SHARES_PER_SEC: u64 = 300_000;

    pub fn new(url: impl Into<String>) -> Self {
        let duration = Duration::from_secs(10);
        RedisGrabConfig {
            url: url.into(),
            connections: Self::DEFAULT_CONNECTIONS,
            pipeline: 1,
            duration,
            shares: Self::default_shares(duration),
            users: None,
            seed: 1,
            keep: false,
        }
    }

    pub fn default_shares(duration: Duration) -> u64 {
        ((duration.as_secs_f64() * Self::DEFAULT_SHARES_PER_SEC as f64) as u64).max(10_000)
    }

    /// `redis-grab`, or `redis-grab-pipeline-N` when pipelined (names in `compare`).
    pub fn label(&self) -> String {
        if self.pipeline > 1 {
            format!("redis-grab-pipeline-{}", self.pipeline)
        } else {
            "redis-grab".to_string()
        }
    }
}

/// The run's keys, hash-tagged so that a cluster would keep them on one node.
#[derive(Clone, Debug)]
pub struct Keys {
    pub shares: String,
    pub grabbed: String,
    pub log: String,
    pub wallet: String,
}

impl Keys {
    pub fn new(namespace: &str) -> Keys {
        Keys {
            shares: format!("{{{namespace}}}:shares"),
            grabbed: format!("{{{namespace}}}:grabbed"),
            log: format!("{{{namespace}}}:log"),
            wallet: format!("{{{namespace}}}:wallet"),
        }
    }

    fn all(&self) -> [&str; 4] {
        [&self.shares, &self.grabbed, &self.log, &self.wallet]
    }
}

async fn connect(client: &Client, url: &str) -> Result<MultiplexedConnection, Error> {
    client.get_multiplexed_async_connection().await.map_err(|e| Error::Connect {
        service: "Redis",
        url: url.to_string(),
        message: e.to_string(),
    })
}

/// Runs the baseline: setup, `connections` clients for `duration` (or until the packet is
/// empty), checks, then removes the keys unless `keep` (also after a failure).
pub fn run(cfg: &RedisGrabConfig, obs: &mut dyn Observer) -> Result<BaselineReport, Error> {
    if cfg.connections == 0 || cfg.pipeline == 0 || cfg.shares == 0 || cfg.duration.is_zero() {
        return Err(Error::InvalidConfig("connections, pipeline, shares and duration must be above zero".into()));
    }
    if cfg.users == Some(0) {
        return Err(Error::InvalidConfig("users must be above zero".into()));
    }
    let client = Client::open(cfg.url.as_str()).map_err(|e| Error::Connect {
        service: "Redis",
        url: cfg.url.clone(),
        message: e.to_string(),
    })?;
    let namespace = super::unique_namespace("redis");
    let keys = Keys::new(&namespace);
    super::runtime()?.block_on(async {
        let setup_started = Instant::now();
        let mut admin = connect(&client, &cfg.url).await?;
        let outcome = measure(cfg, &client, &mut admin, &keys, &namespace, setup_started, obs).await;
        super::cleaned_up(outcome, cfg.keep, async {
            ::redis::cmd("UNLINK").arg(&keys.all()[..]).query_async::<i64>(&mut admin).await.map(drop)
        })
        .await
    })
}

async fn measure(
    cfg: &RedisGrabConfig,
    client: &Client,
    admin: &mut MultiplexedConnection,
    keys: &Keys,
    namespace: &str,
    setup_started: Instant,
    obs: &mut dyn Observer,
) -> Result<BaselineReport, Error> {
    obs.phase(Phase::Setup, cfg.shares);
    let total = push_shares(admin, keys, cfg, obs).await?;
    let sha = Script::new(GRAB_SCRIPT).load_async(admin).await?;
    let server = server_facts(admin).await;
    let mut clients = Vec::with_capacity(cfg.connections);
    for _ in 0..cfg.connections {
        clients.push(connect(client, &cfg.url).await?);
    }
    let setup = setup_started.elapsed();
    let next_user = Arc::new(AtomicU64::new(1));
    let numbered: Vec<_> = clients.into_iter().enumerate().collect();
    let (pipeline, users, seed) = (cfg.pipeline, cfg.users, cfg.seed);
    let (keys_c, sha_c) = (Arc::new(keys.clone()), Arc::new(sha));
    let (tally, elapsed) = drive(numbered, cfg.duration, obs, move |(worker, mut conn), clock| {
        let (keys, sha, next_user) = (keys_c.clone(), sha_c.clone(), next_user.clone());
        async move {
            let mut rng = super::client_rng(seed, worker);
            let mut tally = Tally::new();
            let mut pipe = ::redis::pipe();
            while clock.running() {
                pipe.clear();
                let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
                for _ in 0..pipeline {
                    let user = match users {
                        Some(n) => 1 + rng.below(n),
                        None => next_user.fetch_add(1, Ordering::Relaxed),
                    };
                    pipe.cmd("EVALSHA").arg(sha.as_str()).arg(4).arg(&keys.all()[..]).arg(user).arg(now_ms);
                }
                let started = Instant::now();
                let answers: Vec<i64> = pipe.query_async(&mut conn).await?;
                tally.record(started.elapsed(), answers.len() as u64);
                for a in &answers {
                    match a {
                        s if *s > 0 => tally.accepted += 1,
                        0 => {
                            tally.rejected += 1;
                            clock.stop();
                        }
                        _ => tally.rejected += 1,
                    }
                }
                clock.count(answers.len() as u64);
            }
            Ok(tally)
        }
    })
    .await?;
    obs.phase(Phase::Verify, 0);
    verify(admin, keys, total, tally.accepted).await?;
    let emptied: i64 = ::redis::cmd("LLEN").arg(&keys.shares).query_async(admin).await?;
    let clients = (cfg.connections, cfg.pipeline);
    let mut report = BaselineReport::of_run("redis-grab", tally, (elapsed, setup), clients, (namespace, cfg.keep));
    report.server = server;
    report.facts = vec![
        ("shares", Fact::Count(cfg.shares)),
        ("packet_total", Fact::Amount(Money(total as i64))),
        ("users", Fact::Count(cfg.users.unwrap_or(0))),
        ("emptied", Fact::Flag(emptied == 0)),
    ];
    Ok(report)
}

/// Pre-splits the packet into shares (1 to 199 minor units each, seeded) and pushes them;
/// returns the packet's total.
async fn push_shares(
    admin: &mut MultiplexedConnection,
    keys: &Keys,
    cfg: &RedisGrabConfig,
    obs: &mut dyn Observer,
) -> Result<u64, Error> {
    let mut rng = croupier_domain::rng::SplitMix64::new(cfg.seed);
    let mut total = 0u64;
    let mut pushed = 0u64;
    let mut chunk = Vec::with_capacity(PUSH_CHUNK);
    while pushed < cfg.shares {
        chunk.clear();
        let n = (cfg.shares - pushed).min(PUSH_CHUNK as u64);
        for _ in 0..n {
            let share = 1 + rng.below(2 * MEAN_SHARE - 1);
            total += share;
            chunk.push(share);
        }
        let _: i64 = ::redis::cmd("RPUSH").arg(&keys.shares).arg(&chunk[..]).query_async(&mut *admin).await?;
        pushed += n;
        obs.progress(pushed);
    }
    Ok(total)
}

/// `redis_version`, `appendonly`, `appendfsync` as the server reports them ("unknown" where
/// it refuses, e.g. a renamed `CONFIG`).
async fn server_facts(admin: &mut MultiplexedConnection) -> Vec<(String, String)> {
    let mut facts = Vec::new();
    let info: Result<String, _> = ::redis::cmd("INFO").arg("server").query_async(&mut *admin).await;
    let version =
        info.ok().and_then(|i| i.lines().find_map(|l| l.strip_prefix("redis_version:").map(|v| v.trim().to_string())));
    facts.push(("redis_version".to_string(), version.unwrap_or_else(|| "unknown".into())));
    for setting in ["appendonly", "appendfsync"] {
        let got: Result<Vec<String>, _> = ::redis::cmd("CONFIG").arg("GET").arg(setting).query_async(&mut *admin).await;
        let value = got.ok().and_then(|v| v.get(1).cloned()).unwrap_or_else(|| "unknown".into());
        facts.push((setting.to_string(), value));
    }
    facts
}

/// Every share handed out at most once and accounted for (see the module documentation).
async fn verify(admin: &mut MultiplexedConnection, keys: &Keys, total: u64, accepted: u64) -> Result<(), Error> {
    let audit: Value = Script::new(AUDIT_SCRIPT)
        .key(&keys.shares)
        .key(&keys.grabbed)
        .key(&keys.log)
        .key(&keys.wallet)
        .invoke_async(admin)
        .await?;
    let numbers: Vec<i64> = ::redis::from_redis_value(&audit)?;
    let [grabbed_sum, grabbed, left_sum, log, wallet_sum] = numbers[..] else {
        return Err(Error::Verification(format!("the audit script answered {numbers:?}")));
    };
    let checks = [
        (grabbed_sum + left_sum == total as i64, format!("grabbed {grabbed_sum} + left {left_sum} != total {total}")),
        (grabbed as u64 == accepted, format!("{grabbed} grabbers recorded for {accepted} accepted grabs")),
        (log as u64 == accepted, format!("{log} log records for {accepted} accepted grabs")),
        (wallet_sum == grabbed_sum, format!("wallets hold {wallet_sum} for {grabbed_sum} grabbed")),
    ];
    match checks.into_iter().find(|(ok, _)| !ok) {
        Some((_, why)) => Err(Error::Verification(why)),
        None => Ok(()),
    }
}
