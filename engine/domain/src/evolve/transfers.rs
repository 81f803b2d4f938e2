//! Money between shards: numbered transfers through per-link transit accounts.

use super::credit;
use crate::command::{Topology, Transfer};
use crate::ids::{AccountNo, CurrencyId};
use crate::state::{Link, State};

pub(super) fn topology_set(state: &mut State, t: &Topology) {
    assert!(state.topology.is_none() && t.is_valid(), "topology is set once");
    state.topology = Some(*t);
    state.links = vec![Link::default(); t.shards as usize];
}

/// The pool → this link's transit account, waiting in the outbox until acknowledged.
pub(super) fn sent(state: &mut State, t: &Transfer, currency: CurrencyId) {
    let link = &mut state.links[t.to as usize];
    assert_eq!(t.seq, link.sent + 1, "transfers to a shard are numbered without gaps");
    link.sent = t.seq;
    link.unacked.push_back(*t);
    *link.transit_mut(currency) += t.amount;
}

/// The sending shard's transit account here → the player.
pub(super) fn received(state: &mut State, t: &Transfer, account: AccountNo) {
    let cur = credit(state, account, t.amount);
    let link = &mut state.links[t.from as usize];
    assert_eq!(t.seq, link.applied + 1, "transfers from a shard are applied in order, once");
    link.applied = t.seq;
    *link.transit_mut(cur) -= t.amount;
}

pub(super) fn acked(state: &mut State, peer: u32, upto: u64) {
    let link = &mut state.links[peer as usize];
    assert!(upto > link.acked && upto <= link.sent, "an acknowledgement moves forward within what was sent");
    while link.unacked.front().is_some_and(|t| t.seq <= upto) {
        link.unacked.pop_front();
    }
    link.acked = upto;
}
