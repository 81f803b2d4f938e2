//! `croupier-bench`: the benchmark harness and the baselines croupier is compared with, in a
//! binary of their own so that `croupier serve` links none of it (no PostgreSQL or Redis
//! client, no counting allocator). Operators run it as `croupier bench ...`, which hands over
//! to this binary (found beside `croupier`), or directly.

mod baselines;
mod bench;
mod compare;
mod http_bench;

use clap::Parser;
use std::process::ExitCode;

/// Counts every allocation of every thread, so a benchmark can prove its hot path allocates
/// nothing. It touches one shared atomic per allocation: fine here, never in the server.
#[global_allocator]
static ALLOCATOR: croupier_benches::alloc_count::Counting = croupier_benches::alloc_count::Counting;

/// Measure throughput and latency on a synthetic workload: the engine alone (engine-*, one
/// thread, no journal), a durable shard (shard-bets), the sharded runtime (bets, settle, grab,
/// mixed), the disk's fsync, the HTTP API (http-bets), the PostgreSQL and Redis baselines
/// (pg-bets, redis-grab) or all side by side (compare); a progress bar on stderr and a table
/// or JSON on stdout.
#[derive(Debug, Parser)]
#[command(name = "croupier bench", bin_name = "croupier bench", version)]
struct Cli {
    #[command(flatten)]
    args: bench::BenchArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match bench::run(&cli.args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
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
