//! `croupier bench SCENARIO`: runs one of the scenarios of `croupier-benches` in process and
//! reports throughput, latency percentiles and heap allocations.

use crate::alloc_count;
use anyhow::{bail, Context, Result};
use clap::{value_parser, Args, ValueEnum};
use croupier_benches::{BetsConfig, Config, GrabConfig, LatencySampling, Observer, Phase, Report, SettleConfig};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
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

Progress is drawn on stderr (updated every 65,536 operations) when stderr is a terminal.

JSON (--json), one object on stdout; these keys are stable:
  scenario, ops, seconds, ops_per_sec, latency_us {p50, p99, p999, max}, accepted,
  rejected, digest, allocations, allocations_per_op, settle_ms (engine-settle, else null),
  worst_batch_us (null for engine-settle), latency_sampling, setup_seconds, accounts, seed

Examples:
  croupier bench engine-bets
  croupier bench engine-bets --batch 64
  croupier bench engine-settle --bets 100000 --json
  croupier bench engine-grab --grabs 5000000 --seed 7";

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
}

impl ScenarioArg {
    fn name(self) -> &'static str {
        match self {
            ScenarioArg::Bets => "engine-bets",
            ScenarioArg::Settle => "engine-settle",
            ScenarioArg::Grab => "engine-grab",
        }
    }
}

/// Measure the engine's throughput and latency on a synthetic workload.
///
/// The engine runs in process on one thread, without journal or network: this is the ceiling
/// of one shard. Counts are plain integers (no separators).
#[derive(Debug, Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct BenchArgs {
    /// The workload to run
    #[arg(value_enum)]
    pub scenario: ScenarioArg,

    /// engine-bets: bets placed in the measured loop [default: 10000000]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..))]
    pub ops: Option<u64>,

    /// Funded accounts opened before the measured loop (not timed) [default: 1000000 for
    /// engine-bets and engine-settle (settle uses min(bets, accounts) of them); --grabs / 10
    /// for engine-grab, whose other grabbers get an account opened by their grab]
    #[arg(long, value_name = "N")]
    pub accounts: Option<u64>,

    /// engine-settle: open bets in the round that the one timed draw settles [default: 1000000]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..))]
    pub bets: Option<u64>,

    /// engine-grab: shares of the lucky packet, and distinct users grabbing it [default: 1000000]
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..))]
    pub grabs: Option<u64>,

    /// Seed of the workload (users, selections, stakes, grab order, lucky split); the same
    /// seed and sizes give the same final state digest
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,

    /// engine-bets and engine-grab: commands handed to Engine::execute_batch at a time, which
    /// prefetches the next commands' lookups as a shard does with what it drains from its ring;
    /// each batch is then timed whole and its time / N recorded per op. 1 = Engine::execute per
    /// command, every 64th timed alone
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = value_parser!(u64).range(1..=1_000_000))]
    pub batch: u64,

    /// Print exactly one JSON object on stdout instead of the table (see --help for the keys)
    #[arg(long)]
    pub json: bool,
}

impl BenchArgs {
    /// The scenario's sizes: the flags given, the defaults for the rest. A size flag that
    /// belongs to another scenario is an error rather than silently ignored.
    fn config(&self) -> Result<Config> {
        let misplaced = |flag: &str, owner: &str| -> Result<()> {
            bail!("--{flag} does not apply to {}; it sets the size of {owner}", self.scenario.name())
        };
        let s = self.scenario;
        if self.ops.is_some() && s != ScenarioArg::Bets {
            misplaced("ops", "engine-bets")?;
        }
        if self.bets.is_some() && s != ScenarioArg::Settle {
            misplaced("bets", "engine-settle")?;
        }
        if self.grabs.is_some() && s != ScenarioArg::Grab {
            misplaced("grabs", "engine-grab")?;
        }
        if self.batch > 1 && s == ScenarioArg::Settle {
            bail!("--batch does not apply to engine-settle, which times one draw");
        }
        Ok(match s {
            ScenarioArg::Bets => {
                let d = BetsConfig::default();
                Config::Bets(BetsConfig {
                    accounts: self.accounts.unwrap_or(d.accounts),
                    ops: self.ops.unwrap_or(d.ops),
                    seed: self.seed,
                    batch: self.batch as usize,
                })
            }
            ScenarioArg::Settle => {
                let d = SettleConfig::default();
                Config::Settle(SettleConfig {
                    accounts: self.accounts.unwrap_or(d.accounts),
                    bets: self.bets.unwrap_or(d.bets),
                    seed: self.seed,
                })
            }
            ScenarioArg::Grab => {
                let d = GrabConfig::new(self.grabs.unwrap_or(GrabConfig::default().grabs), 0);
                Config::Grab(GrabConfig {
                    accounts: self.accounts.unwrap_or(d.accounts),
                    grabs: d.grabs,
                    seed: self.seed,
                    batch: self.batch as usize,
                })
            }
        })
    }
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let config = args.config()?;
    let mut progress = Progress::new();
    let report = croupier_benches::run(&config, &mut progress)
        .with_context(|| format!("benchmark {} failed", args.scenario.name()))?;
    progress.finish();
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = report_json(&report, args.seed);
        writeln!(out, "{json}")
    } else {
        write_table(&mut out, &report, args.seed)
    }
    .context("writing the report to stdout")?;
    out.flush().context("writing the report to stdout")
}

/// The progress bar on stderr (hidden when stderr is not a terminal), and the allocation
/// counter.
struct Progress {
    bar: ProgressBar,
}

impl Progress {
    fn new() -> Self {
        Progress { bar: ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr()) }
    }

    fn finish(&self) {
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
    }
}

fn report_json(r: &Report, seed: u64) -> serde_json::Value {
    serde_json::json!({
        "scenario": r.scenario.name(),
        "ops": r.ops,
        "seconds": r.seconds(),
        "ops_per_sec": r.ops_per_sec(),
        "latency_us": {
            "p50": r.latency_us(0.5),
            "p99": r.latency_us(0.99),
            "p999": r.latency_us(0.999),
            "max": r.max_latency_us(),
        },
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
    })
}

/// 1234567 -> "1,234,567".
fn thousands(n: u64) -> String {
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

fn write_table(out: &mut impl Write, r: &Report, seed: u64) -> std::io::Result<()> {
    let row = |out: &mut dyn Write, k: &str, v: String| writeln!(out, "  {k:<14} {v}");
    writeln!(out, "croupier bench {} (seed {seed})", r.scenario.name())?;
    row(
        out,
        "ops",
        format!("{} ({} accepted, {} rejected)", thousands(r.ops), thousands(r.accepted), thousands(r.rejected)),
    )?;
    row(
        out,
        "throughput",
        format!(
            "{} ops/s over {:.3} s (setup {:.2} s, not timed)",
            thousands(r.ops_per_sec().round() as u64),
            r.seconds(),
            r.setup.as_secs_f64()
        ),
    )?;
    if let Some(settle) = r.settle {
        row(out, "settle", format!("{:.3} ms for the whole round", settle.as_secs_f64() * 1e3))?;
    }
    row(
        out,
        "latency (µs)",
        format!(
            "p50 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  ({})",
            r.latency_us(0.5),
            r.latency_us(0.99),
            r.latency_us(0.999),
            r.max_latency_us(),
            sampling_text(r.sampling)
        ),
    )?;
    if let Some(w) = r.worst_batch {
        let label = match r.sampling {
            LatencySampling::Batched(_) => "worst batch",
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn parse(args: &[&str]) -> Result<Config> {
        let cli = Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))?;
        cli.bench.config()
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
    fn numbers_get_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(12_345), "12,345");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(10_000_000), "10,000,000");
    }
}
