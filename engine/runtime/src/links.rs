//! Messages between shards and the bookkeeping that makes transfers exactly once.
//!
//! The durable half lives in each shard's [`State`] ([`croupier_domain::state::Link`]): what it sent to
//! each peer and which of those the peer acknowledged, and how far it applied each peer's
//! transfers. That half is journaled, so it survives a crash. This module is the volatile
//! half, kept by whoever moves messages (the shard threads, or a test's simulated network):
//! what was already pushed to each peer since the start, and which acknowledgement was last
//! told. Losing it is harmless: a restarting shard says hello, and every peer re-sends what is
//! unacknowledged and acknowledges what it applied.
//!
//! Rules, each needed for exactly once:
//! - A transfer is forwarded only after the batch that journaled it is durable (the caller
//!   calls [`Outbox::after_batch`] then), so a receiver never applies money a crash could
//!   take back from the sender. The same holds for acknowledgements.
//! - Per link, messages are delivered in the order they were sent, or lost (a crashed
//!   receiver's ring): the receiver applies only the next sequence and drops repeats and gaps;
//!   a gap is filled when the sender re-sends after the receiver's hello.

use croupier_domain::command::{Command, Transfer};
use croupier_domain::state::State;

/// What travels between shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    Transfer(Transfer),
    /// `from` applied the receiver's transfers up to `upto` (durably).
    Ack {
        from: u32,
        upto: u64,
    },
    /// `from` (re)started having applied the receiver's transfers up to `applied`: re-send
    /// what comes after, and acknowledge what you applied of mine.
    Hello {
        from: u32,
        applied: u64,
    },
}

/// One shard's volatile view of its links (see the module docs).
#[derive(Clone, Debug)]
pub struct Outbox {
    me: u32,
    /// Per peer: the highest transfer sequence pushed since the start.
    forwarded: Vec<u64>,
    /// Per peer: the highest applied sequence told to it.
    acked: Vec<u64>,
    /// Per peer: the highest transfer sequence turned into a command, which may still wait in
    /// the current batch (the state has not applied it yet).
    queued: Vec<u64>,
}

impl Outbox {
    /// The outbox of the shard whose state is `state`; `None` without a topology (a single
    /// engine has no peers).
    pub fn new(state: &State) -> Option<Outbox> {
        let t = state.topology()?;
        let n = t.shards as usize;
        let queued = state.links().iter().map(|l| l.applied).collect();
        Some(Outbox { me: t.shard, forwarded: vec![0; n], acked: vec![0; n], queued })
    }

    pub fn shard(&self) -> u32 {
        self.me
    }

    fn peers(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.forwarded.len() as u32).filter(move |&p| p != self.me)
    }

    /// At start (after restore): hello to every peer, and every unacknowledged transfer again.
    pub fn on_start(&mut self, state: &State, send: &mut impl FnMut(u32, Message)) {
        for peer in self.peers().collect::<Vec<_>>() {
            let link = state.link(peer).expect("a link per peer");
            send(peer, Message::Hello { from: self.me, applied: link.applied });
            self.acked[peer as usize] = link.applied;
            for t in &link.unacked {
                send(peer, Message::Transfer(*t));
            }
            self.forwarded[peer as usize] = link.sent;
        }
    }

    /// After a batch is durable, when nothing executed after it is pending: the transfers it
    /// sent, and acknowledgements for the transfers it applied.
    pub fn after_batch(&mut self, state: &State, send: &mut impl FnMut(u32, Message)) {
        for (peer, link) in state.links().iter().enumerate() {
            self.release(state, peer as u32, link.sent, link.applied, send);
        }
    }

    /// Records, for the batch just executed, the per-peer counters that become safe to tell
    /// once it is durable: `sent[peer]` and `applied[peer]` (see [`Outbox::after_durable`]).
    pub fn mark(state: &State, sent: &mut Vec<u64>, applied: &mut Vec<u64>) {
        sent.clear();
        applied.clear();
        for link in state.links() {
            sent.push(link.sent);
            applied.push(link.applied);
        }
    }

    /// A batch marked by [`Outbox::mark`] is durable (and every batch before it): forward the
    /// transfers up to its `sent` and acknowledge up to its `applied`, never anything a later,
    /// not yet durable batch did.
    pub fn after_durable(&mut self, state: &State, sent: &[u64], applied: &[u64], send: &mut impl FnMut(u32, Message)) {
        for (peer, (&s, &a)) in sent.iter().zip(applied).enumerate() {
            self.release(state, peer as u32, s, a, send);
        }
    }

    fn release(&mut self, state: &State, p: u32, sent: u64, applied: u64, send: &mut impl FnMut(u32, Message)) {
        if p == self.me {
            return;
        }
        let Some(link) = state.link(p) else { return };
        let peer = p as usize;
        let forwarded = &mut self.forwarded[peer];
        if sent > *forwarded {
            // `unacked` holds `acked + 1 ..= link.sent` in order: skip what was pushed already
            // (or acknowledged meanwhile), stop at what is durable.
            let skip = forwarded.saturating_sub(link.acked) as usize;
            for t in link.unacked.iter().skip(skip).take_while(|t| t.seq <= sent) {
                debug_assert!(t.seq > *forwarded);
                send(p, Message::Transfer(*t));
            }
            *forwarded = sent;
        }
        if applied > self.acked[peer] {
            send(p, Message::Ack { from: self.me, upto: applied });
            self.acked[peer] = applied;
        }
    }

    /// A message from a peer: the command it asks this shard to run, if any. Repeats are
    /// answered here with an acknowledgement (so a sender that lost acks can trim), and a hello
    /// re-sends what the peer has not applied.
    pub fn receive(&mut self, state: &State, msg: Message, send: &mut impl FnMut(u32, Message)) -> Option<Command> {
        match msg {
            Message::Transfer(t) => {
                let applied = state.link(t.from)?.applied;
                let queued = self.queued.get_mut(t.from as usize)?;
                *queued = (*queued).max(applied);
                if t.seq <= *queued {
                    // A repeat. Acknowledge only what is applied durably (what was told), not
                    // what is queued or applied by a batch still waiting for its sync.
                    let durable = self.acked[t.from as usize];
                    if t.seq <= durable {
                        send(t.from, Message::Ack { from: self.me, upto: durable });
                    }
                    return None;
                }
                if t.seq != *queued + 1 {
                    // A gap is dropped: it comes again after the sender's re-send.
                    return None;
                }
                *queued = t.seq;
                Some(Command::ReceiveTransfer(t))
            }
            Message::Ack { from, upto } => {
                let link = state.link(from)?;
                (upto > link.acked && upto <= link.sent).then_some(Command::AckTransfers { peer: from, upto })
            }
            Message::Hello { from, applied } => {
                let link = state.link(from)?;
                // Only what was forwarded already is durable; the rest goes when its batch is.
                let durable = self.forwarded[from as usize];
                for t in link.unacked.iter().filter(|t| t.seq > applied && t.seq <= durable) {
                    send(from, Message::Transfer(*t));
                }
                // The peer lost what we told it: tell it again.
                send(from, Message::Ack { from: self.me, upto: self.acked[from as usize] });
                (applied > link.acked && applied <= link.sent)
                    .then_some(Command::AckTransfers { peer: from, upto: applied })
            }
        }
    }
}
