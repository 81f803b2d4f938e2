//! `croupier bench SCENARIO`: runs one of the scenarios of `croupier-benches` in process and
//! reports throughput, latency percentiles and heap allocations.

use crate::baselines;
use crate::compare::{self, CompareConfig};
use anyhow::{bail, Context, Result};
use clap::{value_parser, Args, ValueEnum};
use croupier_benches::alloc_count;
use croupier_benches::baseline::postgres::PgBetsConfig;
use croupier_benches::baseline::redis::RedisGrabConfig;
use croupier_benches::crash::CrashPhases;
use croupier_benches::durable::{self, DurableBetsConfig, DurableBetsReport, FsyncReport};
use croupier_benches::measure;
use croupier_benches::sharded::{self, ShardedConfig, ShardedReport, ShardedScenario};
use croupier_benches::{
    BetsConfig, Config, DiceConfig, GrabConfig, LatencySampling, Measured, Observer, Phase, Report, SettleConfig,
};
use croupier_domain::crash::fair;
use croupier_journal::Durability;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

const AFTER_HELP: &str = "\
Measurement:
  Throughput is operations divided by the wall time of the measured loop; setup, the
  invariant check and the digest are not timed. Reading the clock costs ~20-25 ns, so for
  engine-bets and engine-grab every 64th operation is timed on its own (two clock reads
  around it) and recorded in an HDR histogram: percentiles are over those samples, in
  microseconds, and include about one clock read. 'worst 64 ops' is the slowest stretch of
  64 consecutive operations, which covers the operations no sample hit. With --batch N
  (Engine::execute_batch) each batch is timed whole and its time / N is recorded for each
  of its N operations; 'worst batch' is then the slowest batch. engine-settle times its
  one draw as a whole. 'allocations' counts every heap alloc/realloc made during the
  measured loop (a counting global allocator), less those of the progress bar.

Runtime scenarios (the sharded runtime in process: --shards shard threads, each with its
journal in --data-dir or a temporary folder, fed by --producers threads that each keep
--window commands in flight; --durability process (default) or fsync; --batch is the most
commands a shard runs as one group commit, default 256):
  bets      PlaceBet from random funded users (--accounts, default 1000000) on one open round
            (--ops, default 4000000).
  settle    One round holding --bets open bets (default 1000000) spread over every shard is
            stopped, then one GameDraw is broadcast and timed until every shard has settled
            its own bets and answered.
  grab      One lucky packet of --grabs shares (default 1000000), each grabbed by a distinct
            user; users live on every shard, so most credits travel as transfers between
            shards. After the loop every transfer must settle (the time is reported) and every
            grabber's balance must equal their share: credited exactly once.
  mixed     --ops commands (default 2000000): 70% bets on the current round, 12% grabs of 16
            packets, 10% deposits, 8% withdrawals, while a croupier thread plays a round (stop,
            draw, end, start) every 20 ms. Refusals (closed round, no funds) are counted.
  crash     One crash term (seed 001) on a manual clock: the bench stamps every command, so
            nothing waits on a wall clock. Setup: --bets players funded, a channel whose one
            game is the first seeded chain crashing at 3.00x-100.00x (computed with the
            domain's fair.rs), term 1 opened. Measured: (1) --bets bets (stakes 1.00-100.00;
            one in ten with an auto target of 1.01x-1.49x, four in ten with one above the
            crash point, half without); (2) after bets close and take-off, --cashouts manual
            cashouts (default --bets / 10) at the first millisecond of 2.00x; (3) one Crash,
            timed until every shard has settled its bets (auto cashouts and losses) and
            answered. Each shard's commands come from one producer in order, so a seed gives
            one digest. Checked: every bet settled as planned, and the term sums to zero per
            currency (house + players) on every shard. ops = bets + cashouts, seconds = the
            two phases' time, latency over their commands, settle_ms = phase 3. JSON adds:
            bets, placement_seconds, placement_per_sec, placement_latency_us, cashouts,
            cashout_seconds, cashout_per_sec, cashout_latency_us, settled, auto_cashouts,
            losses, crash_point, cashout_multiplier (hundredths), game_hash, stakes, payouts,
            house_result, players_result.
  Latency is every command's, from just before submit until its producer saw the answer.
  JSON adds: shards, producers, window, durability, busy (submissions refused with BUSY and
  retried), positions (each shard's journal position), transfers, transfers_settled_ms,
  rounds.

Durable scenarios (they need --data-dir; the folder is created and kept):
  shard-bets  PlaceBet through one durable shard without the runtime (journal and snapshots),
            in batches of --batch
            (default 256) with --durability process|fsync. Setup (funding --accounts players,
            default 100000, and opening one round) goes through the shard too, untimed.
            Latency is per command, from the start of its batch until its answer may be
            released: in process mode when execute_batch returns; in fsync mode when the
            shard sees the durable watermark cover the batch (it keeps executing while up
            to 64 batches wait for the flusher). Throughput runs until the last batch is
            released. Snapshots follow the shard's default policy (every 1000000 journal
            records); their count and longest stall are reported. No snapshot is written at
            exit, so `croupier restore` replays the journal after the last one. A folder that
            already holds a journal is refused unless --append is given.
  fsync     The floor under fsync durability: --ops (default 2000) times, write 4 KiB at
            offset 0 of a file in --data-dir and fdatasync it, each pair timed.

Baselines (the designs croupier is compared with, against the real servers; URLs from
--pg-url / --redis-url or else $CROUPIER_TEST_PG / $CROUPIER_TEST_REDIS; --connections clients
(default 16) on a tokio runtime in this process, each with one transaction or round trip in
flight, for --duration seconds (default 10); every operation is timed; each run uses its own
schema or keys (reported as namespace), checked after the loop and removed unless --keep):
  pg-bets     One PostgreSQL transaction per bet: BEGIN; SELECT available ... FOR UPDATE
            (refused if below the stake); INSERT the order (unique order number); UPDATE the
            balance (available -> held); INSERT the wallet_ledger row; COMMIT. --users funded
            users (default 100000) with --funds each (default 10000000.00); stakes 1.00-100.00.
            The server's synchronous_commit and fsync are used as found and reported. After the
            loop: orders = accepted bets, ledger debits = stakes = held = funds - available.
  redis-grab  The usual Redis + Lua red-packet grab: shares pre-split into a list (--shares,
            default 300000 per second of --duration, 0.01-1.99 each); one EVALSHA per grab
            (HEXISTS grabbed-by-user -> refuse; LPOP a share; HSETNX it; HINCRBY the wallet;
            RPUSH a record for the database), or --pipeline N per round trip. Grabbers are new
            users, or drawn from --users users (repeats refused). Ends early when the packet is
            empty. appendonly/appendfsync are used as found and reported. After the loop:
            grabbed + left = total, one grabber entry and one record per accepted grab.
  JSON: the standard keys plus accepted, rejected, connections, pipeline, latency_sampling,
  setup_seconds, namespace, kept, server {..}, and users, funds (pg-bets) or shares,
  packet_total, users, emptied (redis-grab).

compare runs, one after the other in this process, each group's baseline then croupier:
  bets:  pg-bets | bets with --durability fsync | bets with --durability process (runtime
         scenario in process, --ops bets, default 4000000, over the same --users accounts)
         | http-bets fsync | http-bets process (a `croupier serve` child loaded over HTTP/1.1
         keep-alive with pg-bets' --connections, --duration and --users: a network hop on
         both sides, the like-for-like comparison)
  grab:  redis-grab | redis-grab --pipeline N (default 32) | grab process | grab fsync
         (--grabs distinct users of one packet, default 2000000)
  and prints every throughput and croupier's ratio to each baseline of its group (targets:
  bets >= 20x, grab >= 10x). --shards, --producers, --window, --batch, --seed apply to the
  croupier contenders. JSON: {scenario: compare, contenders: [{name, group, side,
  ops_per_sec, report}], ratios: [{group, croupier, baseline, ratio, target, meets_target}],
  load_average_before, load_average_after}; each report is what that scenario's --json prints.

Progress is drawn on stderr (updated every 65,536 operations) when stderr is a terminal.

JSON (--json), one object on stdout; these keys are stable:
  scenario, ops, seconds, ops_per_sec, latency_us {p50, p99, p999, max}, accepted,
  rejected, digest, allocations, allocations_per_op, settle_ms (engine-settle, settle, crash, else null),
  worst_batch_us (null for engine-settle), latency_sampling, setup_seconds, accounts, seed
  bets adds: durability, data_dir, round, batch, start_position, position (journal
  position at the end; digest is the live state's there), snapshots, max_snapshot_stall_ms
  fsync has: scenario, ops, seconds, ops_per_sec, latency_us {p50, p99, p999, max},
  write_bytes, data_dir

HTTP scenario (a load generator in this process, the server in another):
  http-bets  Opens a session for each of --users players, funds them and starts one round
            through the operator API (untimed), then --connections keep-alive connections
            each keep one POST /api/bet in flight for --duration seconds after a 1 s
            warm-up. Without --target it starts `croupier serve` (this binary) on a free
            127.0.0.1 port over a temporary data folder with --durability (default process),
            --shards and --server-workers and without SQL projection (--sql off: bet
            acceptance alone), and stops it after. With --pipeline N each
            connection writes N requests at once and reads their N answers in order. Latency
            is each request's, from the write that carried it to its complete answer. JSON:
            scenario, ops, seconds, ops_per_sec, latency_us {p50, p99, p999, max},
            connections, pipeline, users, errors (by code), target, started_server,
            durability, setup_seconds.

Examples:
  croupier bench engine-bets
  croupier bench engine-bets --batch 64
  croupier bench engine-settle --bets 100000 --json
  croupier bench engine-grab --grabs 5000000 --seed 7
  croupier bench bets --shards 2 --producers 2
  croupier bench grab --grabs 1000000 --json
  croupier bench crash --json
  croupier bench crash --bets 1000000 --shards 2 --cashouts 0 --durability fsync
  croupier bench shard-bets --data-dir /tmp/croupier-bench --durability fsync
  croupier bench fsync --data-dir /tmp/croupier-bench
  croupier bench pg-bets --duration 10 --connections 16
  croupier bench redis-grab --pipeline 32 --json
  croupier bench compare --duration 10 --ops 10000000 --grabs 4000000";

/// The workloads `croupier bench` can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScenarioArg {
    /// PlaceBet from random funded users on one long open round (ops = bets placed)
    #[value(name = "engine-bets")]
    Bets,
    /// One GameDraw with a result settling a round full of bets (ops = bets settled)
    #[value(name = "engine-settle")]
    Settle,
    /// Distinct users grabbing one lucky red packet, most opening an account (ops = grabs)
    #[value(name = "engine-grab")]
    Grab,
    /// PlaceBet through one durable shard, journal and snapshots in --data-dir (ops = bets placed)
    #[value(name = "shard-bets")]
    DurableBets,
    /// Runtime: PlaceBet from many producers over --shards shards (ops = bets answered)
    #[value(name = "bets")]
    RtBets,
    /// Runtime: one draw settling a round whose bets are on every shard (ops = bets settled)
    #[value(name = "settle")]
    RtSettle,
    /// Runtime: one hot lucky packet grabbed by users of every shard (ops = grabs)
    #[value(name = "grab")]
    RtGrab,
    /// Runtime: bets, grabs, deposits and withdrawals while rounds are played (ops = commands)
    #[value(name = "mixed")]
    Mixed,
    /// Runtime: one crash term: --bets bets, manual cashouts in Flying, the crash settling the rest (ops = bets + cashouts)
    #[value(name = "crash")]
    Crash,
    /// 4 KiB write + fdatasync on --data-dir's disk, the floor of fsync durability (ops = syncs)
    #[value(name = "fsync")]
    Fsync,
    /// HTTP/1.1 keep-alive load: POST /api/bet against --target or a started server (ops = bets answered 200)
    #[value(name = "http-bets")]
    HttpBets,
    /// Baseline: one PostgreSQL transaction per bet, --connections clients for --duration (ops = bets)
    #[value(name = "pg-bets")]
    PgBets,
    /// Dice bets (seed 003) from random players with committed seeds, HMAC and settlement included (ops = bets)
    #[value(name = "engine-dice", alias = "dice")]
    Dice,
    /// Baseline: the Redis + Lua red-packet grab (EVALSHA, optionally --pipeline'd) (ops = grabs)
    #[value(name = "redis-grab")]
    RedisGrab,
    /// pg-bets vs bets (fsync, process) and redis-grab (plain, pipelined) vs grab, in one run
    #[value(name = "compare")]
    Compare,
}

impl ScenarioArg {
    fn name(self) -> &'static str {
        match self {
            ScenarioArg::Bets => "engine-bets",
            ScenarioArg::Settle => "engine-settle",
            ScenarioArg::Grab => "engine-grab",
            ScenarioArg::DurableBets => "shard-bets",
            ScenarioArg::RtBets => "bets",
            ScenarioArg::RtSettle => "settle",
            ScenarioArg::RtGrab => "grab",
            ScenarioArg::Mixed => "mixed",
            ScenarioArg::Crash => "crash",
            ScenarioArg::Fsync => "fsync",
            ScenarioArg::HttpBets => "http-bets",
            ScenarioArg::PgBets => "pg-bets",
            ScenarioArg::RedisGrab => "redis-grab",
            ScenarioArg::Compare => "compare",
            ScenarioArg::Dice => "engine-dice",
        }
    }
}

/// What `croupier bench` will run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// An in-memory engine scenario.
    Engine(Config),
    /// `shard-bets`: one durable shard in a data folder.
    DurableBets(DurableBetsConfig),
    /// A scenario on the sharded runtime.
    Sharded(ShardedConfig),
    /// `fsync`: the disk's write + fdatasync latency.
    Fsync { data_dir: PathBuf, ops: u64 },
    /// `pg-bets`: the PostgreSQL baseline.
    PgBets(PgBetsConfig),
    /// `redis-grab`: the Redis + Lua baseline.
    RedisGrab(RedisGrabConfig),
    /// `compare`: baselines and croupier side by side.
    Compare(Box<CompareConfig>),
}

/// Measure the engine's throughput and latency on a synthetic workload.
///
/// The engine-* scenarios run the engine in process on one thread, without journal or network:
/// the ceiling of one shard. `shard-bets` adds the journal and snapshots of one durable shard in
/// a data folder; `bets`, `settle`, `grab` and `mixed` run the sharded runtime (shard threads,
/// rings, cross-shard transfers) with producer threads; `fsync` measures a folder's disk.
/// `pg-bets` and `redis-grab` run the designs croupier replaces against real servers; `compare`
/// runs them and croupier side by side.
/// Counts are plain integers (no separators).
#[derive(Debug, Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct BenchArgs {
    /// The workload to run
    #[arg(value_enum)]
    pub scenario: ScenarioArg,

    /// engine-bets, shard-bets, bets and mixed: commands in the measured loop [default:
    /// 10000000 for engine-bets, 2000000 for shard-bets and mixed, 4000000 for bets]; settle and
    /// grab take --bets and --grabs instead; fsync: timed write + fdatasync pairs [default: 2000];
    /// compare: croupier's bets per durability [default: 4000000]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..))]
    pub ops: Option<u64>,

    /// Funded accounts opened before the measured loop (not timed) [default: 1000000 for
    /// engine-bets, engine-settle (which uses min(bets, accounts) of them), bets and settle;
    /// 100000 for shard-bets and mixed; --grabs / 10 for engine-grab, whose other grabbers get
    /// an account opened by their grab]
    #[arg(long, value_name = "N")]
    pub accounts: Option<u64>,

    /// engine-settle and settle: open bets in the round that the one timed draw settles
    /// [default: 1000000]; crash: the term's bets, each from its own player [default: 1000000]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..))]
    pub bets: Option<u64>,

    /// crash: manual cashouts in Flying, by players of bets without a target (at most half of
    /// --bets) [default: --bets / 10]
    #[arg(long, value_name = "N")]
    pub cashouts: Option<u64>,

    /// engine-grab and grab: shares of the lucky packet, and distinct users grabbing it
    /// [default: 1000000]; compare: the same for croupier's grab contenders [default: 2000000]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..))]
    pub grabs: Option<u64>,

    /// Seed of the workload (users, selections, stakes, grab order, lucky split); the same
    /// seed and sizes give the same final state digest [default: 1]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// engine-bets and engine-grab: commands handed to Engine::execute_batch at a time, which
    /// prefetches the next commands' lookups as a shard does with what it drains from its ring;
    /// each batch is then timed whole and its time / N recorded per op. 1 = Engine::execute per
    /// command, every 64th timed alone [default: 1]. shard-bets and the runtime scenarios: at
    /// most this many commands per DurableShard::execute_batch, one journal commit each
    /// [default: 256]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..=1_000_000))]
    pub batch: Option<u64>,

    /// shard-bets and fsync: the data folder (created if missing, kept after the run); runtime
    /// scenarios: the data folder [default: a temporary folder removed after the run]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// When an answer may be released: required by shard-bets; runtime scenarios [default:
    /// process]
    #[arg(long, value_enum, value_name = "MODE")]
    pub durability: Option<Durability>,

    /// shard-bets: add this run to a data folder that already holds a journal (ids are made distinct
    /// by the journal position the run starts at)
    #[arg(long)]
    pub append: bool,

    /// Runtime scenarios and compare's croupier contenders: shard threads [default: the number
    /// of cores; crash: 2]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..=1024))]
    pub shards: Option<u64>,

    /// Runtime scenarios and compare's croupier contenders: producer threads submitting commands
    /// [default: the number of cores]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..=1024))]
    pub producers: Option<u64>,

    /// Runtime scenarios and compare's croupier contenders: commands each producer keeps in
    /// flight [default: 256]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..=1_000_000))]
    pub window: Option<u64>,

    /// pg-bets, redis-grab, compare and http-bets: seconds each baseline runs, or the
    /// measured seconds of http-bets after a 1 s warm-up (decimals allowed) [default: 10]
    #[arg(long, value_name = "S", value_parser = parse_seconds)]
    pub duration: Option<f64>,

    /// pg-bets, redis-grab and compare: concurrent client connections of a baseline, each with
    /// one transaction or round trip in flight; http-bets: keep-alive HTTP connections [default: 16]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..=10_000))]
    pub connections: Option<u64>,

    /// redis-grab: grabs sent per round trip (1 = no pipelining) [default: 1]; compare: the
    /// pipelined Redis contender's depth, run besides the plain one [default: 32]; http-bets:
    /// requests each connection writes at once (HTTP/1.1 pipelining) [default: 1]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..=100_000))]
    pub pipeline: Option<u64>,

    /// pg-bets and compare: funded users the bettors are drawn from (compare: also croupier's
    /// funded accounts) [default: 100000]; redis-grab: grabbers drawn at random from this many
    /// users, so some grab twice and are refused [default: a new user for every grab];
    /// http-bets: players funded and given a session before the run [default: 10000]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..=1_000_000_000))]
    pub users: Option<u64>,

    /// pg-bets and compare: what each PostgreSQL user is funded with, a decimal amount of CNY
    /// [default: 10000000.00, as croupier's bets scenario funds its accounts]
    #[arg(long, value_name = "AMOUNT")]
    pub funds: Option<String>,

    /// redis-grab and compare: shares pre-split into the packet; the run ends early if they
    /// are all grabbed [default: 300000 per second of --duration]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..=100_000_000))]
    pub shares: Option<u64>,

    /// pg-bets and compare: PostgreSQL to run against [default: $CROUPIER_TEST_PG]
    #[arg(long, value_name = "URL")]
    pub pg_url: Option<String>,

    /// redis-grab and compare: Redis to run against [default: $CROUPIER_TEST_REDIS]
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,

    /// pg-bets, redis-grab and compare: leave the baseline's schema or keys in place (their
    /// name is reported as `namespace`) instead of removing them
    #[arg(long)]
    pub keep: bool,

    /// http-bets: the server, e.g. http://127.0.0.1:8080, with its operator key in
    /// CROUPIER_OPERATOR_KEY [default: start `croupier serve` on a free 127.0.0.1 port over a
    /// temporary data folder, with --durability (default process), --shards, --server-workers]
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,

    /// http-bets: the load generator's async worker threads [default: 1]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..=256))]
    pub client_threads: Option<u64>,

    /// http-bets: the started server's async worker threads [default: its own, the cores]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..=256))]
    pub server_workers: Option<u64>,

    /// http-bets with --target: only fund the players, open their sessions and a round, and
    /// write the round and their tokens to this file for wrk (benches/wrk/README.md)
    #[arg(long, value_name = "FILE")]
    pub wrk_setup: Option<PathBuf>,

    /// Print exactly one JSON object on stdout instead of the table (see --help for the keys)
    #[arg(long)]
    pub json: bool,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(s),
        _ => Err(format!("{text:?} is not a number of seconds above 0 (at most 86400)")),
    }
}

impl BenchArgs {
    /// The scenario's sizes: the flags given, the defaults for the rest. A flag that belongs
    /// to another scenario is an error rather than silently ignored.
    fn plan(&self) -> Result<Plan> {
        use ScenarioArg::*;
        let s = self.scenario;
        let misplaced = |flag: &str, owners: &[ScenarioArg], what: &str| -> Result<()> {
            if owners.contains(&s) {
                return Ok(());
            }
            let names: Vec<&str> = owners.iter().map(|o| o.name()).collect();
            let owners = match names.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
                _ => names.concat(),
            };
            bail!("--{flag} does not apply to {}; it sets {what} of {owners}", s.name())
        };
        const RUNTIME: [ScenarioArg; 6] = [RtBets, RtSettle, RtGrab, Mixed, Crash, Compare];
        if s == HttpBets {
            bail!("http-bets is run by http_bench::run_cli, not planned here");
        }
        for (flag, given) in [
            ("target", self.target.is_some()),
            ("client-threads", self.client_threads.is_some()),
            ("server-workers", self.server_workers.is_some()),
            ("wrk-setup", self.wrk_setup.is_some()),
        ] {
            if given {
                misplaced(flag, &[HttpBets], "the HTTP load")?;
            }
        }
        if self.ops.is_some() {
            misplaced("ops", &[Bets, DurableBets, Fsync, RtBets, Mixed, Compare], "the size")?;
        }
        if self.accounts.is_some() {
            misplaced("accounts", &[Bets, Settle, Grab, DurableBets, RtBets, RtSettle, Mixed], "the funded accounts")?;
        }
        if self.bets.is_some() {
            misplaced("bets", &[Settle, RtSettle, Crash], "the size")?;
        }
        if self.cashouts.is_some() {
            misplaced("cashouts", &[Crash], "the manual cashouts")?;
        }
        if self.grabs.is_some() {
            misplaced("grabs", &[Grab, RtGrab, Compare], "the size")?;
        }
        if self.seed.is_some() {
            misplaced(
                "seed",
                &[Bets, Settle, Grab, DurableBets, RtBets, RtSettle, RtGrab, Mixed, Crash, PgBets, RedisGrab, Compare],
                "the workload",
            )?;
        }
        const BASELINES: [ScenarioArg; 3] = [PgBets, RedisGrab, Compare];
        for (flag, given) in [
            ("duration", self.duration.is_some()),
            ("connections", self.connections.is_some()),
            ("users", self.users.is_some()),
            ("keep", self.keep),
        ] {
            if given {
                misplaced(flag, &BASELINES, "the baseline")?;
            }
        }
        for (flag, given, owners) in [
            ("funds", self.funds.is_some(), &[PgBets, Compare]),
            ("pg-url", self.pg_url.is_some(), &[PgBets, Compare]),
            ("pipeline", self.pipeline.is_some(), &[RedisGrab, Compare]),
            ("shares", self.shares.is_some(), &[RedisGrab, Compare]),
            ("redis-url", self.redis_url.is_some(), &[RedisGrab, Compare]),
        ] {
            if given {
                misplaced(flag, owners, "the baseline")?;
            }
        }
        for (flag, given) in [("shards", self.shards), ("producers", self.producers), ("window", self.window)] {
            if given.is_some() {
                misplaced(flag, &RUNTIME, "the runtime")?;
            }
        }
        if self.batch.is_some_and(|b| b > 1) && s == Settle {
            bail!("--batch does not apply to engine-settle, which times one draw");
        }
        if self.batch.is_some() {
            misplaced(
                "batch",
                &[Bets, Settle, Grab, DurableBets, RtBets, RtSettle, RtGrab, Mixed, Crash, Compare],
                "the batch size",
            )?;
        }
        if self.data_dir.is_some() {
            misplaced("data-dir", &[DurableBets, Fsync, RtBets, RtSettle, RtGrab, Mixed, Crash], "the data folder")?;
        }
        if self.durability.is_some() {
            misplaced("durability", &[DurableBets, RtBets, RtSettle, RtGrab, Mixed, Crash], "the durability")?;
        }
        if self.append {
            misplaced("append", &[DurableBets], "the data folder")?;
        }
        let seed = self.seed.unwrap_or(1);
        let batch = self.batch.unwrap_or(1) as usize;
        let data_dir = || match &self.data_dir {
            Some(d) => Ok(d.clone()),
            None => bail!("{} needs --data-dir DIR: the folder it writes to (created if missing)", s.name()),
        };
        Ok(match s {
            Bets => {
                let d = BetsConfig::default();
                Plan::Engine(Config::Bets(BetsConfig {
                    accounts: self.accounts.unwrap_or(d.accounts),
                    ops: self.ops.unwrap_or(d.ops),
                    seed,
                    batch,
                }))
            }
            Settle => {
                let d = SettleConfig::default();
                Plan::Engine(Config::Settle(SettleConfig {
                    accounts: self.accounts.unwrap_or(d.accounts),
                    bets: self.bets.unwrap_or(d.bets),
                    seed,
                }))
            }
            Grab => {
                let d = GrabConfig::new(self.grabs.unwrap_or(GrabConfig::default().grabs), 0);
                Plan::Engine(Config::Grab(GrabConfig {
                    accounts: self.accounts.unwrap_or(d.accounts),
                    grabs: d.grabs,
                    seed,
                    batch,
                }))
            }
            Dice => {
                let d = DiceConfig::default();
                Plan::Engine(Config::Dice(DiceConfig {
                    accounts: self.accounts.unwrap_or(d.accounts),
                    ops: self.ops.unwrap_or(d.ops),
                    seed,
                    batch,
                }))
            }
            DurableBets => {
                let Some(durability) = self.durability else {
                    bail!("shard-bets needs --durability process|fsync: when an answer may be released");
                };
                let d = DurableBetsConfig::new(data_dir()?, durability);
                Plan::DurableBets(DurableBetsConfig {
                    accounts: self.accounts.unwrap_or(d.accounts),
                    ops: self.ops.unwrap_or(d.ops),
                    batch: self.batch.map_or(d.batch, |b| b as usize),
                    seed,
                    append: self.append,
                    ..d
                })
            }
            Fsync => Plan::Fsync { data_dir: data_dir()?, ops: self.ops.unwrap_or(FsyncReport::DEFAULT_OPS) },
            RtBets | RtSettle | RtGrab | Mixed | Crash => Plan::Sharded(self.sharded_plan(seed)),
            HttpBets => unreachable!("refused above"),
            PgBets => Plan::PgBets(self.pg_plan(seed)?),
            RedisGrab => Plan::RedisGrab(self.redis_plan(seed)?),
            Compare => Plan::Compare(Box::new(self.compare_plan(seed)?)),
        })
    }

    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration.unwrap_or(10.0))
    }

    fn pg_plan(&self, seed: u64) -> Result<PgBetsConfig> {
        let url = baselines::service_url(
            self.pg_url.as_deref(),
            "pg-url",
            baselines::PG_ENV,
            "PostgreSQL",
            "postgres://postgres@127.0.0.1:5432/test",
        )?;
        let d = PgBetsConfig::new(url);
        Ok(PgBetsConfig {
            connections: self.connections.map_or(d.connections, |n| n as usize),
            duration: self.duration(),
            users: self.users.unwrap_or(d.users),
            funds: match &self.funds {
                Some(text) => baselines::parse_amount(text).context("--funds")?,
                None => d.funds,
            },
            seed,
            keep: self.keep,
            ..d
        })
    }

    fn redis_plan(&self, seed: u64) -> Result<RedisGrabConfig> {
        let url = baselines::service_url(
            self.redis_url.as_deref(),
            "redis-url",
            baselines::REDIS_ENV,
            "Redis",
            "redis://127.0.0.1:6379",
        )?;
        let d = RedisGrabConfig::new(url);
        let duration = self.duration();
        Ok(RedisGrabConfig {
            connections: self.connections.map_or(d.connections, |n| n as usize),
            pipeline: self.pipeline.map_or(1, |n| n as usize),
            duration,
            shares: self.shares.unwrap_or_else(|| RedisGrabConfig::default_shares(duration)),
            users: self.users.filter(|_| self.scenario == ScenarioArg::RedisGrab),
            seed,
            keep: self.keep,
            ..d
        })
    }

    /// compare: the baselines' plans, and croupier's runtime bets and grab with the same
    /// users and --ops / --grabs (durability is set per contender).
    fn compare_plan(&self, seed: u64) -> Result<CompareConfig> {
        let pg = self.pg_plan(seed)?;
        let redis = RedisGrabConfig { pipeline: 1, ..self.redis_plan(seed)? };
        let runtime = |scenario: ShardedScenario| {
            let d = ShardedConfig::new(scenario);
            ShardedConfig {
                shards: self.shards.map_or(d.shards, |n| n as usize),
                producers: self.producers.map_or(d.producers, |n| n as usize),
                window: self.window.map_or(d.window, |n| n as usize),
                seed,
                batch_max: self.batch.map_or(d.batch_max, |b| b as usize),
                ..d
            }
        };
        let bets = ShardedConfig {
            ops: self.ops.unwrap_or(CompareConfig::DEFAULT_BETS),
            accounts: pg.users,
            ..runtime(ShardedScenario::Bets)
        };
        let grab =
            ShardedConfig { ops: self.grabs.unwrap_or(CompareConfig::DEFAULT_GRABS), ..runtime(ShardedScenario::Grab) };
        let http = crate::http_bench::HttpBetsConfig {
            connections: pg.connections,
            duration: pg.duration,
            users: pg.users,
            shards: self.shards.map(|n| n as usize),
            ..crate::http_bench::HttpBetsConfig::new()
        };
        Ok(CompareConfig { pg, redis, pipeline: self.pipeline.map_or(32, |n| n as usize), bets, grab, http })
    }

    fn sharded_plan(&self, seed: u64) -> ShardedConfig {
        let scenario = match self.scenario {
            ScenarioArg::RtSettle => ShardedScenario::Settle,
            ScenarioArg::RtGrab => ShardedScenario::Grab,
            ScenarioArg::Mixed => ShardedScenario::Mixed,
            ScenarioArg::Crash => ShardedScenario::Crash,
            _ => ShardedScenario::Bets,
        };
        let d = ShardedConfig::new(scenario);
        let ops = self.ops.or(self.bets).or(self.grabs).unwrap_or(d.ops);
        // crash: one bet per player, so the players are the bets.
        let accounts = if scenario == ShardedScenario::Crash { ops } else { self.accounts.unwrap_or(d.accounts) };
        ShardedConfig {
            shards: self.shards.map_or(d.shards, |n| n as usize),
            producers: self.producers.map_or(d.producers, |n| n as usize),
            window: self.window.map_or(d.window, |n| n as usize),
            ops,
            accounts,
            seed,
            durability: self.durability.map_or(d.durability, Into::into),
            data_dir: self.data_dir.clone(),
            batch_max: self.batch.map_or(d.batch_max, |b| b as usize),
            cashouts: self.cashouts.unwrap_or(ops / 10),
            scenario,
        }
    }
}

pub fn run(args: &BenchArgs) -> Result<()> {
    if args.scenario == ScenarioArg::HttpBets {
        return crate::http_bench::run_cli(args);
    }
    let plan = args.plan()?;
    let seed = args.seed.unwrap_or(1);
    let mut out = std::io::stdout().lock();
    let mut progress = Progress::new();
    let failed = || format!("benchmark {} failed", args.scenario.name());
    let written = |r: std::io::Result<()>| r.context("writing the report to stdout");
    match &plan {
        Plan::Engine(config) => {
            let report = croupier_benches::run(config, &mut progress).with_context(failed)?;
            progress.finish();
            written(if args.json {
                writeln!(out, "{}", report_json(&report, seed))
            } else {
                write_table(&mut out, &format!("croupier bench {} (seed {seed})", report.scenario.name()), &report)
            })
        }
        Plan::DurableBets(config) => {
            let r = durable::run_bets(config, &mut progress).with_context(failed)?;
            progress.finish();
            written(if args.json {
                writeln!(out, "{}", durable_json(&r, seed))
            } else {
                write_durable_table(&mut out, &r, seed)
            })
        }
        Plan::Sharded(config) => {
            let r = sharded::run(config, &mut progress).with_context(failed)?;
            progress.finish();
            written(if args.json {
                writeln!(out, "{}", sharded_json(&r, seed))
            } else {
                write_sharded_table(&mut out, &r, seed)
            })
        }
        // The baselines and the comparison draw their own progress and name their failures.
        Plan::PgBets(config) => {
            progress.finish();
            baselines::run_pg(config, args.json, &mut out)
        }
        Plan::RedisGrab(config) => {
            progress.finish();
            baselines::run_redis(config, args.json, &mut out)
        }
        Plan::Compare(config) => {
            progress.finish();
            compare::run(config, args.json, &mut out)
        }
        Plan::Fsync { data_dir, ops } => {
            let r = durable::run_fsync(data_dir, *ops, &mut progress).with_context(failed)?;
            progress.finish();
            written(if args.json { writeln!(out, "{}", fsync_json(&r)) } else { write_fsync_table(&mut out, &r) })
        }
    }?;
    written(out.flush())
}

/// The progress bar on stderr (hidden when stderr is not a terminal), and the allocation
/// counter.
pub(crate) struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub(crate) fn new() -> Self {
        Progress { bar: ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr()) }
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for Progress {
    fn phase(&mut self, phase: Phase, total: u64) {
        self.bar.reset();
        self.bar.set_message(phase.to_string());
        if total > 0 {
            self.bar.set_style(
                ProgressStyle::with_template(
                    "{msg:>8} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} \
                     ({per_sec}, eta {eta})",
                )
                .expect("valid progress template"),
            );
            self.bar.set_length(total);
        } else if phase == Phase::Measure {
            // A run for a duration (the baselines): a count of operations and their rate.
            self.bar.set_style(
                ProgressStyle::with_template("{msg:>8} {spinner} [{elapsed_precise}] {human_pos} ops ({per_sec})")
                    .expect("valid progress template"),
            );
            self.bar.enable_steady_tick(Duration::from_millis(120));
        } else {
            // Only the untimed checks have no known length: a ticking spinner (its thread
            // allocates, which is harmless outside the measured loop).
            self.bar.set_style(
                ProgressStyle::with_template("{msg:>8} {spinner} [{elapsed_precise}]")
                    .expect("valid progress template"),
            );
            self.bar.enable_steady_tick(Duration::from_millis(120));
        }
    }

    fn progress(&mut self, done: u64) {
        self.bar.set_position(done);
    }

    fn allocations(&self) -> Option<u64> {
        Some(alloc_count::allocations())
    }
}

fn sampling_text(s: LatencySampling) -> String {
    match s {
        LatencySampling::EveryNth(n) => format!("every {n}th op timed alone"),
        LatencySampling::Batched(n) => format!("batches of {n} timed whole, batch time / {n} per op"),
        LatencySampling::Single => "the one settlement timed as a whole".to_string(),
        LatencySampling::Released(n) => {
            format!("every command, batches of {n}: from its batch's start until its answer may be released")
        }
        LatencySampling::EveryCommand => "every command, from submit until its producer saw the answer".to_string(),
    }
}

/// Every report's JSON: the standard keys (`scenario`, `ops`, `seconds`, `ops_per_sec`,
/// `latency_us` {p50, p99, p999, max}), then the report kind's own `extra` keys.
pub(crate) fn measured_json(scenario: &str, r: &dyn Measured, extra: serde_json::Value) -> serde_json::Value {
    let v = serde_json::json!({
        "scenario": scenario,
        "ops": r.ops(),
        "seconds": r.seconds(),
        "ops_per_sec": r.ops_per_sec(),
        "latency_us": {
            "p50": r.latency_us(0.5),
            "p99": r.latency_us(0.99),
            "p999": r.latency_us(0.999),
            "max": r.max_latency_us(),
        },
    });
    extended(v, extra)
}

/// `v` with the keys of `extra` added.
fn extended(mut v: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    if let (Some(obj), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
        obj.extend(extra);
    }
    v
}

fn report_json(r: &Report, seed: u64) -> serde_json::Value {
    let extra = serde_json::json!({
        "accepted": r.accepted,
        "rejected": r.rejected,
        "digest": r.digest_hex(),
        "allocations": r.allocations,
        "allocations_per_op": r.allocations_per_op(),
        "settle_ms": r.settle.map(|d| d.as_secs_f64() * 1_000.0),
        "worst_batch_us": r.worst_batch.map(|d| d.as_secs_f64() * 1_000_000.0),
        "latency_sampling": sampling_text(r.sampling),
        "setup_seconds": r.setup.as_secs_f64(),
        "accounts": r.accounts,
        "seed": seed,
    });
    measured_json(r.scenario.name(), r, extra)
}

fn durable_json(r: &DurableBetsReport, seed: u64) -> serde_json::Value {
    let v = report_json(&r.report, seed);
    let extra = serde_json::json!({
        "durability": durability_name(r.durability),
        "data_dir": r.data_dir,
        "round": r.round.as_str(),
        "batch": match r.report.sampling {
            LatencySampling::Released(n) => n,
            _ => 0,
        },
        "start_position": r.start_position,
        "position": r.position,
        "snapshots": r.snapshots,
        "max_snapshot_stall_ms": r.max_snapshot_stall.map(|d| d.as_secs_f64() * 1_000.0),
    });
    extended(v, extra)
}

pub(crate) fn sharded_json(r: &ShardedReport, seed: u64) -> serde_json::Value {
    let v = report_json(&r.report, seed);
    let extra = serde_json::json!({
        "shards": r.shards,
        "producers": r.producers,
        "window": r.window,
        "durability": durability_name(r.durability),
        "busy": r.busy,
        "positions": r.positions,
        "position": r.positions.iter().sum::<u64>(),
        "transfers": r.transfers,
        "transfers_settled_ms": r.transfers_settled.map(|d| d.as_secs_f64() * 1_000.0),
        "rounds": r.rounds,
    });
    let v = extended(v, extra);
    match &r.crash {
        Some(c) => extended(v, crash_json(c)),
        None => v,
    }
}

/// The crash scenario's phases: rates, the settlement and what the term did.
fn crash_json(c: &CrashPhases) -> serde_json::Value {
    let latency = |h: &hdrhistogram::Histogram<u64>| {
        serde_json::json!({
            "p50": measure::quantile_us(h, 0.5),
            "p99": measure::quantile_us(h, 0.99),
            "p999": measure::quantile_us(h, 0.999),
            "max": measure::max_us(h),
        })
    };
    serde_json::json!({
        "bets": c.bets,
        "placement_seconds": c.placement.as_secs_f64(),
        "placement_per_sec": c.placement_per_sec(),
        "placement_latency_us": latency(&c.placement_latency_ns),
        "cashouts": c.cashouts,
        "cashout_seconds": c.cashout.as_secs_f64(),
        "cashout_per_sec": (c.cashouts > 0).then(|| c.cashout_per_sec()),
        "cashout_latency_us": (c.cashouts > 0).then(|| latency(&c.cashout_latency_ns)),
        "settled": c.settled,
        "auto_cashouts": c.auto_cashouts,
        "losses": c.losses,
        "crash_point": c.crash_point,
        "cashout_multiplier": c.cashout_multiplier,
        "game_hash": c.game_hash,
        "stakes": c.stakes,
        "payouts": c.payouts,
        "house_result": c.house_result,
        "players_result": c.players_result,
    })
}

fn write_sharded_table(out: &mut dyn Write, r: &ShardedReport, seed: u64) -> std::io::Result<()> {
    let title = format!(
        "croupier bench {} (seed {seed}, {} shards, {} producers x {} in flight, durability {})",
        r.report.scenario.name(),
        r.shards,
        r.producers,
        r.window,
        durability_name(r.durability)
    );
    write_table(out, &title, &r.report)?;
    row(out, "busy", format!("{} submissions refused with BUSY and retried", thousands(r.busy)))?;
    row(out, "positions", format!("{:?} (journal, per shard)", r.positions))?;
    if r.transfers > 0 || r.transfers_settled.is_some() {
        let settled = r.transfers_settled.map_or(String::new(), |d| {
            format!(", all applied and acknowledged {:.1} ms after the loop", d.as_secs_f64() * 1e3)
        });
        row(out, "transfers", format!("{} between shards{settled}", thousands(r.transfers)))?;
    }
    if r.rounds > 0 && r.crash.is_none() {
        row(out, "rounds", thousands(r.rounds))?;
    }
    if let Some(c) = &r.crash {
        write_crash_rows(out, c)?;
    }
    Ok(())
}

fn write_crash_rows(out: &mut dyn Write, c: &CrashPhases) -> std::io::Result<()> {
    let h = |h: &hdrhistogram::Histogram<u64>| {
        latency_text(
            measure::quantile_us(h, 0.5),
            measure::quantile_us(h, 0.99),
            measure::quantile_us(h, 0.999),
            measure::max_us(h),
        )
    };
    row(
        out,
        "placement",
        format!(
            "{} bets/s ({} bets in {:.3} s; µs {})",
            thousands(c.placement_per_sec().round() as u64),
            thousands(c.bets),
            c.placement.as_secs_f64(),
            h(&c.placement_latency_ns)
        ),
    )?;
    if c.cashouts > 0 {
        row(
            out,
            "cashouts",
            format!(
                "{} cashouts/s ({} at {} in {:.3} s; µs {})",
                thousands(c.cashout_per_sec().round() as u64),
                thousands(c.cashouts),
                fair::format_multiplier(c.cashout_multiplier),
                c.cashout.as_secs_f64(),
                h(&c.cashout_latency_ns)
            ),
        )?;
    }
    row(
        out,
        "crash",
        format!(
            "{:.3} ms from the Crash to every bet settled ({} auto cashouts, {} losses) at {}",
            c.settle.as_secs_f64() * 1e3,
            thousands(c.auto_cashouts),
            thousands(c.losses),
            fair::format_multiplier(c.crash_point)
        ),
    )?;
    row(
        out,
        "term",
        format!(
            "stakes {} payouts {} (minor units); house {:+}, players {:+}: sums to zero",
            c.stakes, c.payouts, c.house_result, c.players_result
        ),
    )?;
    row(out, "game hash", c.game_hash.clone())
}

fn durability_name(d: Durability) -> &'static str {
    match d {
        Durability::Process => "process",
        Durability::Fsync => "fsync",
    }
}

fn fsync_json(r: &FsyncReport) -> serde_json::Value {
    let extra = serde_json::json!({ "write_bytes": durable::FSYNC_WRITE_BYTES, "data_dir": r.data_dir });
    measured_json("fsync", r, extra)
}

/// 1234567 -> "1,234,567".
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let head = match digits.len() % 3 {
        0 => 3.min(digits.len()),
        r => r,
    };
    let (first, rest) = digits.split_at(head);
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    out.push_str(first);
    for group in rest.as_bytes().chunks(3) {
        out.push(',');
        out.push_str(std::str::from_utf8(group).expect("ascii digits"));
    }
    out
}

pub(crate) fn row(out: &mut dyn Write, k: &str, v: String) -> std::io::Result<()> {
    writeln!(out, "  {k:<14} {v}")
}

pub(crate) fn latency_text(p50: f64, p99: f64, p999: f64, max: f64) -> String {
    format!("p50 {p50:.3}  p99 {p99:.3}  p99.9 {p999:.3}  max {max:.3}")
}

/// Every report's table starts so: its title, the operations with what was accepted and
/// refused, and the throughput.
pub(crate) fn write_head(
    out: &mut dyn Write,
    title: &str,
    r: &dyn Measured,
    (accepted, rejected): (u64, u64),
    setup: Duration,
) -> std::io::Result<()> {
    writeln!(out, "{title}")?;
    row(
        out,
        "ops",
        format!("{} ({} accepted, {} rejected)", thousands(r.ops()), thousands(accepted), thousands(rejected)),
    )?;
    row(
        out,
        "throughput",
        format!(
            "{} ops/s over {:.3} s (setup {:.2} s, not timed)",
            thousands(r.ops_per_sec().round() as u64),
            r.seconds(),
            setup.as_secs_f64()
        ),
    )
}

/// The latency row of every report's table; `how` says how the latencies were taken.
pub(crate) fn latency_row(out: &mut dyn Write, r: &dyn Measured, how: &str) -> std::io::Result<()> {
    let latency = latency_text(r.latency_us(0.5), r.latency_us(0.99), r.latency_us(0.999), r.max_latency_us());
    row(out, "latency (µs)", format!("{latency}  ({how})"))
}

fn write_table(out: &mut dyn Write, title: &str, r: &Report) -> std::io::Result<()> {
    write_head(out, title, r, (r.accepted, r.rejected), r.setup)?;
    if let Some(settle) = r.settle {
        row(out, "settle", format!("{:.3} ms for the whole round", settle.as_secs_f64() * 1e3))?;
    }
    latency_row(out, r, &sampling_text(r.sampling))?;
    if let Some(w) = r.worst_batch {
        let label = match r.sampling {
            LatencySampling::Batched(_) => "worst batch",
            LatencySampling::Released(_) => "worst execute",
            _ => "worst 64 ops",
        };
        row(out, label, format!("{:.1} µs", w.as_secs_f64() * 1e6))?;
    }
    if let (Some(a), Some(per_op)) = (r.allocations, r.allocations_per_op()) {
        row(out, "allocations", format!("{} in the loop ({per_op:.7} per op)", thousands(a)))?;
    }
    row(out, "accounts", thousands(r.accounts))?;
    row(out, "digest", r.digest_hex())?;
    Ok(())
}

fn write_durable_table(out: &mut dyn Write, r: &DurableBetsReport, seed: u64) -> std::io::Result<()> {
    let d = durability_name(r.durability);
    write_table(out, &format!("croupier bench shard-bets (seed {seed}, durability {d})"), &r.report)?;
    row(out, "position", format!("{} (journal; started at {})", r.position, r.start_position))?;
    let snapshots = match r.max_snapshot_stall {
        Some(stall) => format!("{} written, longest stall {:.1} ms", r.snapshots, stall.as_secs_f64() * 1e3),
        None => format!("{} written", r.snapshots),
    };
    row(out, "snapshots", snapshots)?;
    row(out, "round", r.round.as_str().to_string())?;
    row(out, "data dir", format!("{} (kept)", r.data_dir.display()))?;
    Ok(())
}

fn write_fsync_table(out: &mut dyn Write, r: &FsyncReport) -> std::io::Result<()> {
    writeln!(out, "croupier bench fsync ({})", r.data_dir.display())?;
    row(
        out,
        "ops",
        format!("{} writes of {} bytes at offset 0, each + fdatasync", thousands(r.ops), durable::FSYNC_WRITE_BYTES),
    )?;
    row(
        out,
        "throughput",
        format!("{} syncs/s over {:.3} s", thousands(r.ops_per_sec().round() as u64), r.elapsed.as_secs_f64()),
    )?;
    latency_row(out, r, "each write + fdatasync timed")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn plan(args: &[&str]) -> Result<Plan> {
        let cli = Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))?;
        cli.bench.plan()
    }

    fn parse(args: &[&str]) -> Result<Config> {
        match plan(args)? {
            Plan::Engine(c) => Ok(c),
            other => bail!("not an engine scenario: {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_scenario() {
        assert_eq!(parse(&["engine-bets"]).unwrap(), Config::Bets(BetsConfig::default()));
        assert_eq!(parse(&["engine-settle", "--seed", "1"]).unwrap(), Config::Settle(SettleConfig::default()));
        assert_eq!(
            parse(&["engine-grab", "--grabs", "50"]).unwrap(),
            Config::Grab(GrabConfig { accounts: 5, grabs: 50, seed: 1, batch: 1 })
        );
        assert_eq!(
            parse(&["engine-grab", "--accounts", "0", "--seed", "3"]).unwrap(),
            Config::Grab(GrabConfig { accounts: 0, grabs: 1_000_000, seed: 3, batch: 1 })
        );
    }

    #[test]
    fn size_flags_of_another_scenario_are_refused() {
        let e = parse(&["engine-grab", "--ops", "5"]).unwrap_err();
        assert!(e.to_string().contains("--ops does not apply to engine-grab"));
        assert!(parse(&["engine-bets", "--bets", "5"]).is_err());
        assert!(parse(&["engine-settle", "--grabs", "5"]).is_err());
        assert!(parse(&["engine-settle", "--batch", "8"]).is_err());
        assert!(parse(&["engine-bets", "--batch", "0"]).is_err());
        assert_eq!(
            parse(&["engine-bets", "--batch", "64"]).unwrap(),
            Config::Bets(BetsConfig { batch: 64, ..BetsConfig::default() })
        );
        assert!(parse(&["engine-bets", "--ops", "0"]).is_err());
    }

    #[test]
    fn durable_scenarios_need_their_folder_and_own_their_flags() {
        let p = plan(&["shard-bets", "--data-dir", "/tmp/x", "--durability", "fsync"]).unwrap();
        assert_eq!(p, Plan::DurableBets(DurableBetsConfig::new("/tmp/x", Durability::Fsync)));
        let p = plan(&[
            "shard-bets",
            "--data-dir",
            "d",
            "--durability",
            "process",
            "--ops",
            "5",
            "--batch",
            "8",
            "--append",
        ]);
        assert_eq!(
            p.unwrap(),
            Plan::DurableBets(DurableBetsConfig {
                ops: 5,
                batch: 8,
                append: true,
                ..DurableBetsConfig::new("d", Durability::Process)
            })
        );
        let e = plan(&["shard-bets", "--durability", "fsync"]).unwrap_err();
        assert!(e.to_string().contains("needs --data-dir"), "{e}");
        let e = plan(&["shard-bets", "--data-dir", "d"]).unwrap_err();
        assert!(e.to_string().contains("needs --durability"), "{e}");
        for args in [
            &["engine-bets", "--data-dir", "d"][..],
            &["engine-grab", "--durability", "fsync"],
            &["engine-settle", "--append"],
            &["fsync", "--data-dir", "d", "--durability", "fsync"],
            &["fsync", "--data-dir", "d", "--accounts", "5"],
            &["fsync", "--data-dir", "d", "--batch", "5"],
            &["fsync", "--data-dir", "d", "--seed", "5"],
        ] {
            let e = plan(args).unwrap_err();
            assert!(e.to_string().contains("does not apply to"), "{args:?}: {e}");
        }
        let e = plan(&["engine-bets", "--data-dir", "d"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--data-dir does not apply to engine-bets; it sets the data folder of shard-bets, fsync, bets, settle, grab, mixed and crash"
        );
        assert_eq!(
            plan(&["fsync", "--data-dir", "d"]).unwrap(),
            Plan::Fsync { data_dir: "d".into(), ops: FsyncReport::DEFAULT_OPS }
        );
        assert!(plan(&["fsync"]).is_err());
    }

    #[test]
    fn baselines_take_their_flags_and_compare_shares_the_users() {
        let p =
            plan(&["pg-bets", "--pg-url", "postgres://h/db", "--duration", "2.5", "--users", "7", "--funds", "300.50"]);
        let Plan::PgBets(pg) = p.unwrap() else { panic!("pg-bets plans the PostgreSQL baseline") };
        assert_eq!((pg.url.as_str(), pg.users, pg.funds.0), ("postgres://h/db", 7, 30_050));
        assert_eq!(pg.duration, Duration::from_millis(2_500));
        assert_eq!(pg.connections, PgBetsConfig::DEFAULT_CONNECTIONS);
        let p = plan(&["redis-grab", "--redis-url", "redis://h", "--pipeline", "16", "--duration", "2"]);
        let Plan::RedisGrab(r) = p.unwrap() else { panic!("redis-grab plans the Redis baseline") };
        assert_eq!((r.pipeline, r.shares, r.users), (16, 600_000, None));
        let p = plan(&[
            "compare",
            "--pg-url",
            "p",
            "--redis-url",
            "r",
            "--users",
            "500",
            "--ops",
            "9",
            "--grabs",
            "8",
            "--keep",
        ]);
        let Plan::Compare(c) = p.unwrap() else { panic!("compare plans a comparison") };
        assert_eq!((c.pg.users, c.bets.accounts, c.bets.ops, c.grab.ops), (500, 500, 9, 8));
        assert_eq!((c.pipeline, c.redis.pipeline, c.redis.users), (32, 1, None));
        assert!(c.pg.keep && c.redis.keep);
        for args in [
            &["bets", "--pg-url", "p"][..],
            &["engine-bets", "--duration", "1"],
            &["pg-bets", "--pg-url", "p", "--shares", "5"],
            &["pg-bets", "--pg-url", "p", "--pipeline", "5"],
            &["redis-grab", "--redis-url", "r", "--funds", "5"],
            &["compare", "--pg-url", "p", "--redis-url", "r", "--durability", "fsync"],
            &["compare", "--pg-url", "p", "--redis-url", "r", "--data-dir", "d"],
        ] {
            let e = plan(args).unwrap_err();
            assert!(e.to_string().contains("does not apply to"), "{args:?}: {e}");
        }
        assert!(plan(&["pg-bets", "--pg-url", "p", "--duration", "0"]).is_err());
        assert!(plan(&["pg-bets", "--pg-url", "p", "--funds", "1.001"]).is_err());
    }

    #[test]
    fn crash_takes_its_bets_cashouts_and_the_runtime_flags() {
        let p = plan(&["crash", "--bets", "1000", "--cashouts", "50", "--shards", "2", "--durability", "fsync"]);
        let Plan::Sharded(c) = p.unwrap() else { panic!("crash runs on the runtime") };
        assert_eq!((c.scenario, c.ops, c.accounts, c.cashouts, c.shards), (ShardedScenario::Crash, 1000, 1000, 50, 2));
        assert_eq!(c.durability, Durability::Fsync);
        let Plan::Sharded(d) = plan(&["crash"]).unwrap() else { panic!("crash runs on the runtime") };
        assert_eq!((d.ops, d.accounts, d.cashouts, d.shards), (1_000_000, 1_000_000, 100_000, 2));
        for args in [&["bets", "--cashouts", "5"][..], &["crash", "--grabs", "5"], &["crash", "--accounts", "5"]] {
            let e = plan(args).unwrap_err();
            assert!(e.to_string().contains("does not apply to"), "{args:?}: {e}");
        }
    }

    #[test]
    fn numbers_get_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(12_345), "12,345");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(10_000_000), "10,000,000");
    }
}
