//! A shard on disk: the one owner of the data-folder layout ([`layout`]), the journal codec
//! of a command's events ([`codec`]), and [`DurableShard`] — decide, evolve, journal,
//! answer once durable — with snapshots and restore.
//!
//! This crate does I/O and starts a snapshot thread; the domain crate below it does neither,
//! and nothing here decides anything the domain has not.

pub mod codec;
pub mod crash_chains;
pub mod layout;
mod shard;

pub use layout::{journal_dir, skip_file, skip_position, skipped_positions, snapshot_dir, LayoutError};
pub use shard::*;
