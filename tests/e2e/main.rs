//! Cross-crate end-to-end tests: what only the engine's crates together can show. One test
//! binary, so the workspace links it once.
//!
//! - `shards_sim`: a deterministic simulation of shards exchanging transfers, with crashes,
//!   checking money across shards at every step and each restored digest.
//! - `shard_count`: the same histories on 1, 2, 3 and 8 shards give the same answers.

mod shard_count;
mod shards_sim;
