//! `croupier`: the one binary an operator runs. Each sub-command lives in its own module.

mod data;
mod demo;
mod draws;
mod fair;
mod project;
mod serve;
mod soak;
mod term_replay;
mod watch;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// croupier: an in-memory bet acceptance and settlement engine.
///
/// Holds every live round, balance and red-packet pool in memory on single-threaded shards,
/// journals every change before it answers, and restores from snapshot plus journal.
#[derive(Debug, Parser)]
#[command(name = "croupier", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the operators' HTTP API and WebSocket push over the sharded engine (defaults:
    /// 127.0.0.1:8080, data in ./croupier-data, fsync durability, one shard per core).
    Serve(Box<serve::ServeArgs>),
    /// Print the push messages of a running server's WebSocket (/ws) as JSON lines.
    Watch(watch::WatchArgs),
    /// Measure throughput and latency on a synthetic workload: the engine alone (engine-*, one
    /// thread, no journal), a durable shard (shard-bets), the sharded runtime (bets, settle,
    /// grab, mixed), the disk's fsync, the HTTP API (http-bets), the PostgreSQL and Redis
    /// baselines (pg-bets, redis-grab) or all side by side (compare). Runs the croupier-bench
    /// binary beside this one (`croupier bench --help` lists everything), so that the server
    /// links none of the benchmark harness.
    #[command(disable_help_flag = true)]
    Bench(BenchHandOff),
    /// Restore every shard of a data folder (newest valid snapshot plus the journal after it),
    /// cutting a torn journal tail, and print per shard the snapshot used, what was replayed,
    /// the position and the state digest.
    Restore(data::RestoreArgs),
    /// Audit or print a data folder's journals.
    #[command(subcommand)]
    Journal(data::JournalCommand),
    /// Write or list snapshots.
    #[command(subcommand)]
    Snapshot(data::SnapshotCommand),
    /// Print one round's events, bets and settlements in order (seed 000's game replay), or
    /// (--term <channel>:<number>) verify a crash term: crash point, payouts and totals.
    Replay(data::ReplayArgs),
    /// Burn-in: drive a durable shard with a seeded random command stream until killed,
    /// printing `ack <position> <digest>` per durable batch; restarts continue the history
    /// (the child process of the kill -9 crash test).
    Soak(soak::SoakArgs),
    /// Build or update the SQL projection (embedded SQLite by default, or PostgreSQL) from a
    /// data folder's journals, with a progress bar; resumes from the stored positions, or
    /// starts over with --rebuild.
    Project(project::ProjectArgs),
    /// Per shard: the journal's last position, the SQL projection's position and how far it
    /// is behind (records and seconds).
    Status(project::StatusArgs),
    /// Provably fair instant games: verify a bet from its seeds (Stake's algorithm).
    #[command(subcommand)]
    Fair(fair::FairCommand),
}

/// Everything after `croupier bench`, handed to `croupier-bench` unread.
#[derive(Debug, clap::Args)]
struct BenchHandOff {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<std::ffi::OsString>,
}

impl BenchHandOff {
    /// Replaces this process with `croupier-bench` (same arguments, terminal, signals and exit
    /// status); returns only if it cannot.
    fn run(&self) -> anyhow::Result<()> {
        use std::os::unix::process::CommandExt;
        let me = std::env::current_exe()?;
        let bench = me.with_file_name("croupier-bench");
        if !bench.is_file() {
            anyhow::bail!(
                "{} is not built: build the benchmarks beside croupier with `cargo build --release -p croupier-benches` (or run `cargo run --release -p croupier-benches --bin croupier-bench -- ...`)",
                bench.display()
            );
        }
        let err = std::process::Command::new(&bench).args(&self.args).exec();
        Err(anyhow::anyhow!("cannot run {}: {err}", bench.display()))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(&args),
        Command::Watch(args) => watch::run(&args),
        Command::Bench(args) => args.run(),
        Command::Restore(args) => data::restore(&args),
        Command::Journal(cmd) => data::journal(&cmd),
        Command::Snapshot(cmd) => data::snapshot(&cmd),
        Command::Replay(args) => data::replay(&args),
        Command::Soak(args) => soak::run(&args),
        Command::Project(args) => project::project_cmd(&args),
        Command::Status(args) => project::status_cmd(&args),
        Command::Fair(cmd) => fair::run(&cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The message with its chain of causes, on one line; no backtrace for users.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
