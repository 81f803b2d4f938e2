//! croupier's engine: bet acceptance and settlement as a pure, deterministic state machine.
//!
//! - [`decide`] checks a [`Command`] against the [`State`] at time `now` and says what happened
//!   as [`Event`]s, or refuses with a [`Reject`] that has a stable code.
//! - [`evolve`] applies one event. It cannot fail. Only events are journaled; recovery is
//!   `evolve` over the journal.
//!
//! Nothing here reads a clock, starts a thread, does I/O or draws hidden randomness: time and
//! seeds are inputs, so the same history always gives the same state and [`State::digest`].
//! Money is [`Money`], integer minor units; every balance change is a double-entry transfer
//! ([`ledger`]), so each currency's accounts sum to zero after every event.
//!
//! This crate is the domain boundary that Cargo enforces: it depends on no clock, thread,
//! file, network or random number generator crate, and forbids `unsafe` (the data
//! structures that need it live in `croupier-collections`).

#![forbid(unsafe_code)]

pub mod command;
pub mod crash;
mod decide;
pub mod event;
mod evolve;
pub mod games;
pub mod ids;
pub mod instant;
pub mod ledger;
pub mod money;
pub mod reject;
pub mod rng;
pub mod shake;
pub mod state;
pub mod testkit;
pub mod topology;

pub use command::Command;
pub use decide::{decide, CrashReply, InstantReply, Reply, Rotated, MAX_BALANCE, MAX_LEDGER};
pub use event::Event;
pub use evolve::evolve;
pub use ids::{Code, ExtId, Timestamp, UserId};
pub use money::{Money, Odds};
pub use reject::Reject;
pub use state::State;

/// The red-packet share rule, exposed for tests and for `croupier fair`.
pub use decide::share_amount;

/// How many commands ahead [`Engine::execute_batch`] prefetches index slots.
pub const PREFETCH_LOOKUPS_AHEAD: usize = 6;
/// How many commands ahead [`Engine::execute_batch`] prefetches the records behind them.
pub const PREFETCH_RECORDS_AHEAD: usize = 3;

/// A state with a reusable event buffer: `decide` then `evolve` in one call. This is what a
/// shard runs per command; it allocates nothing once the buffer has grown.
#[derive(Debug, Default)]
pub struct Engine {
    state: State,
    events: Vec<Event>,
}

impl Engine {
    pub fn new(state: State) -> Self {
        Engine { state, events: Vec::with_capacity(16) }
    }

    /// Decides and applies `cmd`. On success the command's events are in [`Engine::events`].
    #[inline]
    pub fn execute(&mut self, cmd: &Command, now: Timestamp) -> Result<Reply, Reject> {
        let reply = self.decide(cmd, now)?;
        self.apply_decided();
        Ok(reply)
    }

    /// Decides `cmd` without applying it: the events wait in [`Engine::events`] until
    /// [`Engine::apply_decided`] (a durable shard journals them in between).
    #[inline]
    pub fn decide(&mut self, cmd: &Command, now: Timestamp) -> Result<Reply, Reject> {
        self.events.clear();
        decide(&self.state, cmd, now, &mut self.events)
    }

    /// Applies the events of the last `decide`.
    #[inline]
    pub fn apply_decided(&mut self) {
        // A settlement applies a million events, each touching a random account: fetch the
        // accounts a few events ahead so their misses overlap.
        const AHEAD: usize = 8;
        for i in 0..self.events.len() {
            if let Some(ahead) = self.events.get(i + AHEAD) {
                self.state.prefetch_event(ahead);
            }
            evolve(&mut self.state, &self.events[i]);
        }
    }

    /// Executes a batch of stamped commands in order, as a shard does with what it drained
    /// from its ring. While one command runs, the lookups of the commands
    /// [`PREFETCH_RECORDS_AHEAD`] and [`PREFETCH_LOOKUPS_AHEAD`] places later are already
    /// being fetched from memory, so a batch pays its cache misses in parallel rather than
    /// one after another. Results are exactly those of calling [`Engine::execute`] in turn.
    /// `done` gets each command's index, result and events.
    #[inline]
    pub fn execute_batch(
        &mut self,
        batch: &[(Timestamp, Command)],
        mut done: impl FnMut(usize, Result<Reply, Reject>, &[Event]),
    ) {
        for i in 0..batch.len() {
            self.state.prefetch_ahead(batch, i);
            let (now, cmd) = &batch[i];
            let result = self.execute(cmd, *now);
            done(i, result, &self.events);
        }
    }

    /// The events of the last successful command.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn into_state(self) -> State {
        self.state
    }
}

impl State {
    /// sha256 over the canonical encoding: equal for equal histories, and what a restore must
    /// reproduce. Streams into the hasher, so a large state needs no second copy in memory.
    pub fn digest(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        struct HashWriter(Sha256);
        impl std::io::Write for HashWriter {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.update(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut w = HashWriter(Sha256::new());
        bincode::serialize_into(&mut w, self).expect("state serializes");
        w.0.finalize().into()
    }

    /// Decodes a snapshot payload written by [`State::canonical_bytes`].
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<State, bincode::Error> {
        let mut s: State = bincode::deserialize(bytes)?;
        s.rebuild_indexes();
        Ok(s)
    }
}
