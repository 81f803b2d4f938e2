//! `croupier project` (offline (re)build of the SQL projection from the journals) and
//! `croupier status` (shards, journal positions, projector lag).

use anyhow::{Context, Result};
use clap::Args;
use croupier_persistence::{default_sql_url, lag, project, ProjectorConfig};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// The data folder whose journals are projected.
    #[arg(long, default_value = "./croupier-data", env = "CROUPIER_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Where to write: sqlite://PATH or postgres://USER@HOST:PORT/DB [default: sqlite://<data-dir>/croupier.sqlite]
    #[arg(long, value_name = "URL", env = "CROUPIER_SQL")]
    pub sql: Option<String>,
    /// Empty every projected table first and project the journals from the beginning.
    #[arg(long)]
    pub rebuild: bool,
    /// Most events written per transaction.
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub batch: u64,
    /// Print one JSON object on stdout (events, commands, transactions, seconds, events_per_sec, positions).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The data folder.
    #[arg(long, default_value = "./croupier-data", env = "CROUPIER_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The SQL projection to compare with [default: sqlite://<data-dir>/croupier.sqlite]
    #[arg(long, value_name = "URL", env = "CROUPIER_SQL")]
    pub sql: Option<String>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("starting tokio")
}

pub fn project_cmd(args: &ProjectArgs) -> Result<()> {
    let url = args.sql.clone().unwrap_or_else(|| default_sql_url(&args.data_dir));
    let rt = runtime()?;
    rt.block_on(async {
        // The total for the bar: records still to project, counted before starting.
        let before = if args.rebuild { None } else { lag::status(&args.data_dir, &url).await.ok() };
        let total: u64 = match &before {
            Some(l) => l.iter().map(|s| s.records_behind).sum(),
            None => {
                let positions = Default::default();
                lag::lags_at(&args.data_dir, &positions)?.iter().map(|s| s.journal_position).sum()
            }
        };
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("project {bar:40} {pos}/{len} records [{elapsed_precise}] {msg}")
                .expect("valid template"),
        );
        let mut cfg = ProjectorConfig::new(&args.data_dir);
        cfg.sql_url = url.clone();
        cfg.batch_events = args.batch;
        cfg.rebuild = args.rebuild;
        let r = project(cfg, |r| {
            bar.set_position(r.commands);
            bar.set_message(format!("{} events, {:.0}/s", r.events, r.events_per_sec));
        })
        .await
        .with_context(|| format!("projecting {} into {url}", args.data_dir.display()))?;
        bar.finish_and_clear();
        if args.json {
            println!(
                "{}",
                json!({
                    "sql": url,
                    "shards": r.shards,
                    "events": r.events,
                    "commands": r.commands,
                    "transactions": r.transactions,
                    "seconds": r.seconds,
                    "events_per_sec": r.events_per_sec,
                    "positions": r.positions.iter().map(|(s, p)| json!({"shard": s, "position": p})).collect::<Vec<_>>(),
                })
            );
        } else {
            println!(
                "projected {} events ({} commands) in {} transactions, {:.2} s, {:.0} events/s into {url}",
                r.events, r.commands, r.transactions, r.seconds, r.events_per_sec
            );
            for (s, p) in &r.positions {
                println!("  shard {s}: position {p}");
            }
        }
        Ok(())
    })
}

pub fn status_cmd(args: &StatusArgs) -> Result<()> {
    let url = args.sql.clone().unwrap_or_else(|| default_sql_url(&args.data_dir));
    let rt = runtime()?;
    let lags = rt
        .block_on(lag::status(&args.data_dir, &url))
        .with_context(|| format!("reading {} and {url}", args.data_dir.display()))?;
    if args.json {
        println!("{}", json!({ "data_dir": args.data_dir, "sql": url, "shards": lags }));
    } else {
        println!(
            "{:>5} {:>12} {:>12} {:>14} {:>14} {:>10}",
            "shard", "journal", "projected", "records behind", "events behind", "seconds"
        );
        for l in &lags {
            println!(
                "{:>5} {:>12} {:>12} {:>14} {:>14} {:>10.1}",
                l.shard,
                l.journal_position,
                l.projected_position,
                l.records_behind,
                l.events_behind.unwrap_or(0),
                l.seconds_behind
            );
        }
    }
    Ok(())
}
