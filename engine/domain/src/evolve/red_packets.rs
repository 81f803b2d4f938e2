//! Seed 002's red packets: the pool, its shares, its expiry.

use super::credit;
use crate::event::RedPacketSent;
use crate::ids::{AccountNo, PacketNo, UserId};
use crate::money::Money;
use crate::state::{PacketStatus, RedPacket, State};
use croupier_collections::DenseIndex;

pub(super) fn sent(state: &mut State, e: &RedPacketSent) {
    assert_eq!(e.packet.index(), state.packets.len(), "packet numbers are dense");
    let a = &mut state.accounts[e.account.index()];
    a.available -= e.total;
    // The pool's money may come back at expiry: it stays in the sender's exposure until grabbed.
    a.exposure += e.total;
    debug_assert!(!a.available.is_negative(), "decide checked the funds");
    let sender = a.user;
    state.idx.packet_by_id.insert((sender, e.id), e.packet);
    state.packets.push(RedPacket {
        id: e.id,
        sender: e.account,
        total: e.total,
        shares: e.shares,
        kind: e.kind,
        sent_at: e.sent_at,
        expires_at: e.expires_at,
        remaining: e.total,
        status: PacketStatus::Open,
        // Every share will be grabbed in a festival: reserve them all (capped) up front.
        grabs: Vec::with_capacity(e.shares.min(1 << 20) as usize),
        grab_by_user: DenseIndex::with_capacity(e.shares.min(1 << 20) as usize),
        recipients: Vec::new(),
    });
}

/// Comes right after the packet's `RedPacketSent`, in the same command.
pub(super) fn recipients_named(state: &mut State, packet: PacketNo, recipients: &[UserId]) {
    let p = &mut state.packets[packet.index()];
    assert!(p.grabs.is_empty() && p.recipients.is_empty(), "recipients are named at the send");
    p.recipients = recipients.to_vec();
}

/// `account: None`: the grabber lives on another shard, and the share leaves in the
/// `TransferSent` that follows.
pub(super) fn grabbed(
    state: &mut State,
    packet: PacketNo,
    account: Option<AccountNo>,
    user: UserId,
    share: u32,
    amount: Money,
) {
    let p = &mut state.packets[packet.index()];
    assert_eq!(share, p.grabbed(), "shares are grabbed in order");
    p.remaining -= amount;
    let sender = p.sender;
    p.grabs.push((user, amount));
    p.index_grab(share);
    if p.grabbed() == p.shares {
        assert_eq!(p.remaining, Money::ZERO, "the last share takes the rest");
        p.status = PacketStatus::Exhausted;
    }
    state.accounts[sender.index()].exposure -= amount;
    if let Some(account) = account {
        credit(state, account, amount);
    }
}

pub(super) fn expired(state: &mut State, packet: PacketNo, account: AccountNo, refund: Money) {
    let p = &mut state.packets[packet.index()];
    assert_eq!(p.remaining, refund, "expiry refunds exactly the rest");
    p.remaining = Money::ZERO;
    p.status = PacketStatus::Expired;
    state.accounts[account.index()].exposure -= refund;
    credit(state, account, refund);
}
