//! Money between shards: a grabbed share for a user of another shard leaves as a numbered
//! transfer, is applied there exactly once, and is acknowledged back.
//!
//! Exactly once rests on three facts checked here: the sender numbers its transfers to each
//! peer without gaps (`TransferSent.seq = sent + 1`), the receiver applies only `applied + 1`
//! (a repeat is answered as replayed, a gap is deferred until the sender re-sends), and an
//! acknowledgement only moves forward within what was sent.

use super::Reply;
use crate::command::{Topology, Transfer, TransferSource};
use crate::event::Event;
use crate::ids::{AccountNo, CurrencyId, PacketNo, UserId};
use crate::money::Money;
use crate::reject::Reject;
use crate::state::State;

pub(super) fn set_topology(s: &State, t: &Topology, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    if !t.is_valid() {
        return Err(Reject::InvalidSettings("the shard number must be below the shard count"));
    }
    match s.topology() {
        None => {
            out.push(Event::TopologySet(*t));
            Ok(Reply::Done)
        }
        Some(existing) if existing == *t => Ok(Reply::Done),
        Some(existing) => Err(Reject::TopologyMismatch { shard: existing.shard, shards: existing.shards }),
    }
}

/// The share of red packet `packet` grabbed by `user`, who lives on another shard. Called by
/// `grab` after it pushed the `RedPacketGrabbed` event, so it cannot fail.
pub(super) fn send_share(
    s: &State,
    packet: PacketNo,
    share: u32,
    user: UserId,
    currency: CurrencyId,
    amount: Money,
    out: &mut Vec<Event>,
) {
    let topo = s.topology().expect("a user belongs elsewhere only under a topology");
    let to = topo.shard_of(user);
    debug_assert_ne!(to, topo.shard);
    let seq = s.link(to).expect("a link to every shard").sent + 1;
    let transfer = Transfer {
        from: topo.shard,
        to,
        seq,
        user,
        currency: s.currencies()[currency.index()].code,
        amount,
        source: TransferSource::PacketShare { packet: s.packet(packet).id, share },
    };
    out.push(Event::TransferSent { transfer, pool: packet, currency });
}

pub(super) fn receive(s: &State, t: &Transfer, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    let topo = s.topology().ok_or(Reject::WrongShard)?;
    if t.to != topo.shard || t.from >= topo.shards || t.from == topo.shard || !topo.owns(t.user) {
        return Err(Reject::WrongShard);
    }
    if !t.amount.is_positive() {
        return Err(Reject::InvalidAmount);
    }
    let applied = s.link(t.from).expect("a link to every shard").applied;
    if t.seq <= applied {
        return Ok(Reply::TransferReceived { applied: false, deferred: false });
    }
    if t.seq > applied + 1 {
        return Ok(Reply::TransferReceived { applied: false, deferred: true });
    }
    // Currencies are broadcast to every shard before any packet in them can be sent, and a
    // shard's ring is FIFO, so the currency is known here.
    let cur = s.currency_by_code(&t.currency).ok_or(Reject::UnknownCurrency)?;
    if !fits(s, t, cur) {
        // The money already left the other shard and cannot be refused: it waits in transit,
        // accounted for, until the player's balance has room (see `fits`).
        return Ok(Reply::TransferReceived { applied: false, deferred: true });
    }
    let account = account_for_transfer(s, t.user, cur, out);
    out.push(Event::TransferReceived { transfer: *t, account });
    Ok(Reply::TransferReceived { applied: true, deferred: false })
}

/// Whether crediting `t` keeps the player and this end of the link within the ledger bound.
/// Only a player holding about 2.3 × 10^18 minor units could fail it; the transfer is then
/// deferred (the link from that shard waits behind it until a restart's hello re-sends it),
/// never applied past the bound and never lost.
fn fits(s: &State, t: &Transfer, cur: CurrencyId) -> bool {
    let player = s.account_of(t.user, cur).map(|a| s.account(a));
    let transit = s.link(t.from).map_or(Money::ZERO, |l| l.transit(cur));
    let amount = t.amount.0 as i128;
    super::bounds::player(player, amount, 0, super::MAX_LEDGER).is_ok()
        && super::bounds::system(transit, -amount).is_ok()
}

/// The account a transfer credits, opened if needed. Unlike a deposit, a transfer is not
/// refused for the soft balance cap: the money already left the other shard.
fn account_for_transfer(s: &State, user: UserId, cur: CurrencyId, out: &mut Vec<Event>) -> AccountNo {
    s.account_of(user, cur).unwrap_or_else(|| {
        let account = AccountNo(s.accounts().len() as u32);
        out.push(Event::AccountOpened { account, user, currency: cur });
        account
    })
}

pub(super) fn ack(s: &State, peer: u32, upto: u64, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    let link = s.link(peer).ok_or(Reject::WrongShard)?;
    if upto > link.sent {
        return Err(Reject::WrongShard);
    }
    if upto > link.acked {
        out.push(Event::TransfersAcked { peer, upto });
    }
    Ok(Reply::Done)
}
