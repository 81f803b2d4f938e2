//! `croupier`: the one binary an operator runs. Each sub-command lives in its own module.

mod baselines;
mod bench;
mod compare;
mod data;
mod http_bench;
mod project;
mod serve;
mod soak;
mod watch;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: croupier_benches::alloc_count::Counting = croupier_benches::alloc_count::Counting;

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
    /// grab, mixed), the disk's fsync, the PostgreSQL and Redis baselines (pg-bets, redis-grab)
    /// or all side by side (compare); a progress bar on stderr and a table or JSON on stdout.
    Bench(Box<bench::BenchArgs>),
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
    /// Print one round's events, bets and settlements in order (seed 000's game replay).
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(&args),
        Command::Watch(args) => watch::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Restore(args) => data::restore(&args),
        Command::Journal(cmd) => data::journal(&cmd),
        Command::Snapshot(cmd) => data::snapshot(&cmd),
        Command::Replay(args) => data::replay(&args),
        Command::Soak(args) => soak::run(&args),
        Command::Project(args) => project::project_cmd(&args),
        Command::Status(args) => project::status_cmd(&args),
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
    fn the_counting_allocator_is_installed_and_counts() {
        let before = croupier_benches::alloc_count::allocations();
        let mut v: Vec<u64> = Vec::with_capacity(4);
        v.extend_from_slice(&[1, 2, 3, 4, 5]);
        std::hint::black_box(&v);
        // Other tests may allocate at the same time: at least ours were counted.
        assert!(croupier_benches::alloc_count::allocations() - before >= 2);
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
