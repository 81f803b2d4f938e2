//! The journal's integration tests, in one binary to cut link time: each module is one concern
//! (round trip, recovery from torn and corrupted files, durability, tail readers).

mod common;
mod durability;
mod recovery;
mod roundtrip;
mod tail;
mod tail_big_batches;
