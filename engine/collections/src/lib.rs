//! The engine's data structures, and all of its `unsafe` code: [`Chunked`], copy-on-write
//! storage in fixed-size chunks (growth never copies, a clone shares chunks), and
//! [`DenseIndex`], an open-addressing table from a 64-bit hash to a dense id with 8-byte
//! slots on huge pages. Each `unsafe` block carries its SAFETY argument; the domain crate
//! above forbids `unsafe` altogether.
//!
//! Neither structure knows the domain: a [`DenseIndex`] stores only hash tags and ids and
//! confirms a candidate through a closure over the caller's entities.

pub mod chunked;
pub mod index;

pub use chunked::Chunked;
pub use index::{mix64, prefetch, DenseIndex};
