//! Deadlines a shard turns into commands: a round's betting window closing, a red packet
//! expiring. The commands are stamped with the clock when they fire, like any other intake.
//!
//! A min-heap rather than a hashed wheel: the entries are few (open rounds and open packets,
//! not bets), a heap needs no tick and so no work while idle, and it tells exactly how long an
//! idle shard may park. Bounded by what the state holds open; rebuilt from the state at start.

use croupier_domain::ids::{ExtId, Timestamp, UserId};
use croupier_domain::state::{PacketStatus, RoundStatus, State};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// Broadcast `GameStop` for the round (only its coordinator shard keeps this timer).
    CloseBetting { round: ExtId },
    /// `ExpireRedPacket` on the pool's shard.
    ExpirePacket { packet: ExtId, sender: UserId },
}

#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Timestamp, Timer)>>,
}

/// The shard that coordinates round `round`: it keeps the round's timers.
pub fn round_coordinator(round: &ExtId, shards: usize) -> usize {
    (croupier_domain::topology::mix(round.hash64()) % shards.max(1) as u64) as usize
}

impl Timers {
    /// The timers a shard owns in `state`: the betting windows of open rounds it coordinates,
    /// and the expiry of its open packets.
    pub fn from_state(state: &State, shard: usize, shards: usize) -> Timers {
        let mut t = Timers::default();
        for r in state.rounds() {
            if r.status == RoundStatus::Betting && round_coordinator(&r.id, shards) == shard {
                t.add(r.bet_stop, Timer::CloseBetting { round: r.id });
            }
        }
        for p in state.packets() {
            if p.status == PacketStatus::Open {
                let sender = state.account(p.sender).user;
                t.add(p.expires_at, Timer::ExpirePacket { packet: p.id, sender });
            }
        }
        t
    }

    pub fn add(&mut self, at: Timestamp, timer: Timer) {
        self.heap.push(Reverse((at, timer)));
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The earliest deadline.
    pub fn next_at(&self) -> Option<Timestamp> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes the next timer due at `now`.
    pub fn pop_due(&mut self, now: Timestamp) -> Option<Timer> {
        if self.next_at()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse((_, timer))| timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use croupier_domain::testkit::id;

    #[test]
    fn timers_fire_in_deadline_order_and_only_when_due() {
        let mut t = Timers::default();
        t.add(Timestamp(30), Timer::CloseBetting { round: id("b") });
        t.add(Timestamp(10), Timer::ExpirePacket { packet: id("p"), sender: UserId(1) });
        t.add(Timestamp(20), Timer::CloseBetting { round: id("a") });
        assert_eq!(t.pop_due(Timestamp(9)), None);
        assert_eq!(t.pop_due(Timestamp(25)), Some(Timer::ExpirePacket { packet: id("p"), sender: UserId(1) }));
        assert_eq!(t.pop_due(Timestamp(25)), Some(Timer::CloseBetting { round: id("a") }));
        assert_eq!(t.pop_due(Timestamp(25)), None);
        assert_eq!(t.next_at(), Some(Timestamp(30)));
        assert_eq!(t.len(), 1);
    }
}
