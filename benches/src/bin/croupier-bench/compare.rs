//! `croupier bench compare`: croupier and the designs it replaces, one after the other in one
//! run, on the same machine, with the same semantics, and croupier's ratio to each.
//!
//! A run is a list of [`Contender`]s, each a closure that runs one measurement and returns its
//! standard report (the JSON its own `croupier bench … --json` prints). Contenders are grouped
//! by what they do ([`Group`]: bet acceptance, red-packet grab); within a group every croupier
//! contender is divided by every baseline. To add a contender (say the HTTP load generator),
//! push one more [`Contender::croupier`] in [`contenders`]: nothing else changes.

use crate::baselines::report_json;
use crate::bench::{latency_text, row, sharded_json, thousands, Progress};
use crate::http_bench::{run_http_bets, HttpBetsConfig};
use anyhow::{Context, Result};
use croupier_benches::baseline::postgres::PgBetsConfig;
use croupier_benches::baseline::redis::RedisGrabConfig;
use croupier_benches::sharded::{self, ShardedConfig};
use croupier_benches::Observer;
use croupier_journal::Durability;
use std::io::Write;

/// What the contenders of a group all do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Accept a bet: check the balance, hold the stake, record the bet durably.
    Bets,
    /// Grab a share of a red packet and credit the grabber.
    Grab,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Bets => "bets",
            Group::Grab => "grab",
        }
    }

    /// The ratio issue 6 asks croupier to reach against this group's baselines.
    pub fn target(self) -> f64 {
        match self {
            Group::Bets => 20.0,
            Group::Grab => 10.0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Baseline,
    Croupier,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Baseline => "baseline",
            Side::Croupier => "croupier",
        }
    }
}

type RunFn = Box<dyn FnOnce(&mut dyn Observer) -> Result<serde_json::Value>>;

/// One measurement of the comparison. `run` returns the standard report object (`scenario`,
/// `ops`, `seconds`, `ops_per_sec`, `latency_us` {p50, p99, p999, max}, …).
pub struct Contender {
    pub name: String,
    pub group: Group,
    pub side: Side,
    pub run: RunFn,
}

impl Contender {
    pub fn baseline(
        group: Group,
        name: impl Into<String>,
        run: impl FnOnce(&mut dyn Observer) -> Result<serde_json::Value> + 'static,
    ) -> Contender {
        Contender { name: name.into(), group, side: Side::Baseline, run: Box::new(run) }
    }

    pub fn croupier(
        group: Group,
        name: impl Into<String>,
        run: impl FnOnce(&mut dyn Observer) -> Result<serde_json::Value> + 'static,
    ) -> Contender {
        Contender { name: name.into(), group, side: Side::Croupier, run: Box::new(run) }
    }
}

/// The settings of a comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompareConfig {
    /// The PostgreSQL baseline (its users are also croupier's funded accounts).
    pub pg: PgBetsConfig,
    /// The Redis baseline, run once plain and once with `pipeline` grabs per round trip.
    pub redis: RedisGrabConfig,
    pub pipeline: usize,
    /// croupier's runtime `bets` scenario (run with `fsync`, then `process` durability).
    pub bets: ShardedConfig,
    /// croupier's runtime `grab` scenario (run with `process`, then `fsync` durability).
    pub grab: ShardedConfig,
    /// `croupier serve` started as a child and loaded over HTTP/1.1 keep-alive with the same
    /// connections, duration and users as the PostgreSQL baseline (run with `fsync`, then
    /// `process` durability): the like-for-like comparison, a network hop on both sides.
    pub http: HttpBetsConfig,
}

impl CompareConfig {
    /// croupier's bets per durability: a few seconds each on this machine kind.
    pub const DEFAULT_BETS: u64 = 4_000_000;
    /// croupier's grabs (distinct users of one packet) per durability.
    pub const DEFAULT_GRABS: u64 = 2_000_000;
}

/// The contenders of a comparison, in the order they run: each group's baseline first.
pub fn contenders(cfg: &CompareConfig) -> Vec<Contender> {
    let mut list = Vec::new();

    let pg = cfg.pg.clone();
    list.push(Contender::baseline(Group::Bets, "pg-bets", move |obs| {
        Ok(report_json(&croupier_benches::baseline::postgres::run(&pg, obs)?))
    }));
    for durability in [Durability::Fsync, Durability::Process] {
        let bets = ShardedConfig { durability, ..cfg.bets.clone() };
        list.push(Contender::croupier(Group::Bets, format!("bets-{}", durability_name(durability)), move |obs| {
            Ok(sharded_json(&sharded::run(&bets, obs)?, bets.seed))
        }));
    }
    for durability in [Durability::Fsync, Durability::Process] {
        let http = HttpBetsConfig { durability, ..cfg.http.clone() };
        list.push(Contender::croupier(Group::Bets, format!("http-bets-{}", durability_name(durability)), move |_| {
            Ok(run_http_bets(http)?.to_json())
        }));
    }

    for pipeline in [1, cfg.pipeline] {
        let redis = RedisGrabConfig { pipeline, ..cfg.redis.clone() };
        list.push(Contender::baseline(Group::Grab, redis.label(), move |obs| {
            Ok(report_json(&croupier_benches::baseline::redis::run(&redis, obs)?))
        }));
    }
    for durability in [Durability::Process, Durability::Fsync] {
        let grab = ShardedConfig { durability, ..cfg.grab.clone() };
        list.push(Contender::croupier(Group::Grab, format!("grab-{}", durability_name(durability)), move |obs| {
            Ok(sharded_json(&sharded::run(&grab, obs)?, grab.seed))
        }));
    }
    list
}

fn durability_name(d: Durability) -> &'static str {
    match d {
        Durability::Process => "process",
        Durability::Fsync => "fsync",
    }
}

/// A contender's outcome.
pub struct Outcome {
    pub name: String,
    pub group: Group,
    pub side: Side,
    pub report: serde_json::Value,
}

impl Outcome {
    fn number(&self, key: &str) -> f64 {
        self.report.get(key).and_then(serde_json::Value::as_f64).unwrap_or(0.0)
    }

    fn latency(&self, key: &str) -> f64 {
        self.report.get("latency_us").and_then(|l| l.get(key)).and_then(serde_json::Value::as_f64).unwrap_or(0.0)
    }
}

/// croupier's throughput over a baseline's, in one group.
pub struct Ratio {
    pub group: Group,
    pub croupier: String,
    pub baseline: String,
    pub ratio: f64,
}

impl Ratio {
    pub fn meets(&self) -> bool {
        self.ratio >= self.group.target()
    }
}

/// Every croupier contender over every baseline of its group.
pub fn ratios(outcomes: &[Outcome]) -> Vec<Ratio> {
    let mut out = Vec::new();
    for c in outcomes.iter().filter(|o| o.side == Side::Croupier) {
        for b in outcomes.iter().filter(|o| o.side == Side::Baseline && o.group == c.group) {
            let base = b.number("ops_per_sec");
            let ratio = if base > 0.0 { c.number("ops_per_sec") / base } else { f64::INFINITY };
            out.push(Ratio { group: c.group, croupier: c.name.clone(), baseline: b.name.clone(), ratio });
        }
    }
    out
}

/// The 1, 5 and 15 minute load averages (Linux), to judge how noisy the figures are.
fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|s| s.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// Runs every contender in turn (a failure stops the comparison, naming the contender) and
/// prints the side-by-side table or one JSON object.
pub fn run(cfg: &CompareConfig, json: bool, out: &mut dyn Write) -> Result<()> {
    run_contenders(contenders(cfg), json, out)
}

pub fn run_contenders(list: Vec<Contender>, json: bool, out: &mut dyn Write) -> Result<()> {
    let load_before = load_average();
    let count = list.len();
    let mut outcomes = Vec::with_capacity(count);
    for (i, c) in list.into_iter().enumerate() {
        eprintln!("compare [{}/{count}] {} ({}, {})", i + 1, c.name, c.group.name(), c.side.name());
        let mut progress = Progress::new();
        let report = (c.run)(&mut progress).with_context(|| format!("compare: contender {} failed", c.name))?;
        progress.finish();
        outcomes.push(Outcome { name: c.name, group: c.group, side: c.side, report });
    }
    let load_after = load_average();
    let ratios = ratios(&outcomes);
    if json {
        writeln!(out, "{}", compare_json(&outcomes, &ratios, load_before, load_after))?;
    } else {
        write_table(out, &outcomes, &ratios, load_before, load_after)?;
    }
    Ok(())
}

pub fn compare_json(
    outcomes: &[Outcome],
    ratios: &[Ratio],
    load_before: Option<[f64; 3]>,
    load_after: Option<[f64; 3]>,
) -> serde_json::Value {
    serde_json::json!({
        "scenario": "compare",
        "contenders": outcomes.iter().map(|o| serde_json::json!({
            "name": o.name,
            "group": o.group.name(),
            "side": o.side.name(),
            "ops_per_sec": o.number("ops_per_sec"),
            "report": o.report,
        })).collect::<Vec<_>>(),
        "ratios": ratios.iter().map(|r| serde_json::json!({
            "group": r.group.name(),
            "croupier": r.croupier,
            "baseline": r.baseline,
            "ratio": r.ratio,
            "target": r.group.target(),
            "meets_target": r.meets(),
        })).collect::<Vec<_>>(),
        "load_average_before": load_before,
        "load_average_after": load_after,
    })
}

fn write_table(
    out: &mut dyn Write,
    outcomes: &[Outcome],
    ratios: &[Ratio],
    load_before: Option<[f64; 3]>,
    load_after: Option<[f64; 3]>,
) -> std::io::Result<()> {
    writeln!(out, "croupier bench compare")?;
    writeln!(
        out,
        "  {:<5} {:<24} {:<8} {:>12} {:>12} {:>8}  latency (µs)",
        "group", "contender", "side", "ops/s", "ops", "seconds"
    )?;
    for o in outcomes {
        writeln!(
            out,
            "  {:<5} {:<24} {:<8} {:>12} {:>12} {:>8.2}  {}",
            o.group.name(),
            o.name,
            o.side.name(),
            thousands(o.number("ops_per_sec").round() as u64),
            thousands(o.number("ops") as u64),
            o.number("seconds"),
            latency_text(o.latency("p50"), o.latency("p99"), o.latency("p999"), o.latency("max")),
        )?;
    }
    writeln!(out, "croupier's throughput / the baseline's (target: bets ≥ 20×, grab ≥ 10×)")?;
    for r in ratios {
        let verdict = if r.meets() { "meets" } else { "BELOW" };
        writeln!(
            out,
            "  {:<5} {:<24} / {:<24} {:>9.1}×  {verdict} ≥ {}×",
            r.group.name(),
            r.croupier,
            r.baseline,
            r.ratio,
            r.group.target()
        )?;
    }
    let load = |l: Option<[f64; 3]>| l.map_or("unknown".to_string(), |[a, b, c]| format!("{a:.2} {b:.2} {c:.2}"));
    row(out, "load average", format!("{} before, {} after (1, 5, 15 min)", load(load_before), load(load_after)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(name: &str, group: Group, side: Side, ops_per_sec: f64) -> Outcome {
        Outcome {
            name: name.into(),
            group,
            side,
            report: serde_json::json!({ "ops_per_sec": ops_per_sec, "ops": 10, "seconds": 1.0 }),
        }
    }

    #[test]
    fn every_croupier_contender_is_divided_by_every_baseline_of_its_group() {
        let outcomes = [
            outcome("pg-bets", Group::Bets, Side::Baseline, 5_000.0),
            outcome("bets-fsync", Group::Bets, Side::Croupier, 500_000.0),
            outcome("redis-grab", Group::Grab, Side::Baseline, 100_000.0),
            outcome("redis-grab-pipeline-32", Group::Grab, Side::Baseline, 200_000.0),
            outcome("grab-process", Group::Grab, Side::Croupier, 1_000_000.0),
        ];
        let r = ratios(&outcomes);
        let got: Vec<(&str, &str, f64, bool)> =
            r.iter().map(|r| (r.croupier.as_str(), r.baseline.as_str(), r.ratio, r.meets())).collect();
        assert_eq!(
            got,
            [
                ("bets-fsync", "pg-bets", 100.0, true),
                ("grab-process", "redis-grab", 10.0, true),
                ("grab-process", "redis-grab-pipeline-32", 5.0, false),
            ]
        );
        let v = compare_json(&outcomes, &r, Some([0.5, 0.4, 0.3]), None);
        assert_eq!(v["contenders"].as_array().unwrap().len(), 5);
        assert_eq!(v["ratios"][2]["meets_target"], false);
        assert_eq!(v["ratios"][0]["target"], 20.0);
    }

    #[test]
    fn adding_a_contender_is_one_push() {
        let list = vec![
            Contender::baseline(Group::Bets, "base", |_| Ok(serde_json::json!({ "ops_per_sec": 10.0 }))),
            Contender::croupier(Group::Bets, "extra", |obs| {
                obs.progress(1);
                Ok(serde_json::json!({ "ops_per_sec": 300.0, "ops": 300, "seconds": 1.0 }))
            }),
        ];
        let mut out = Vec::new();
        run_contenders(list, true, &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["ratios"][0]["ratio"], 30.0);
        assert_eq!(v["ratios"][0]["croupier"], "extra");
        let list = vec![Contender::croupier(Group::Grab, "broken", |_| anyhow::bail!("no server"))];
        let e = run_contenders(list, true, &mut Vec::new()).unwrap_err();
        assert!(format!("{e:#}").contains("contender broken failed: no server"), "{e:#}");
    }
}
