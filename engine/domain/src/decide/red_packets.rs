//! Red packets of seed 002: send (debit into the packet's pool), grab (one share per user,
//! decided at grab time, credited at once), expire (the rest back to the sender).

use super::{account_to_credit, bounds, currency, existing_account, positive, Reply};
use crate::command::{PacketKind, SendRedPacket, MAX_PACKET_RECIPIENTS};
use crate::event::{Event, RedPacketSent};
use crate::ids::{ExtId, PacketNo, Timestamp, UserId};
use crate::money::Money;
use crate::reject::Reject;
use crate::state::{PacketStatus, RedPacket, State};

pub(super) fn send(s: &State, p: &SendRedPacket, now: Timestamp, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    positive(p.total)?;
    let cur = currency(s, &p.currency)?;
    let recipients = recipients(p)?;
    if let Some(no) = s.packet_by_id(p.sender, &p.packet) {
        let first = s.packet(no);
        let sender = s.account(first.sender);
        let same = sender.user == p.sender
            && sender.currency == cur
            && first.total == p.total
            && first.shares == p.shares
            && first.kind == p.kind
            && first.recipients == recipients;
        return if same {
            Ok(Reply::PacketSent { packet: no, replayed: true })
        } else {
            Err(Reject::IdempotencyConflict)
        };
    }
    let max = s.settings().max_packet_shares;
    if p.shares == 0 || p.shares > max {
        return Err(Reject::PacketCount { max });
    }
    if p.total.0 < p.shares as i64 {
        return Err(Reject::PacketTooSmall);
    }
    let account = existing_account(s, p.sender, cur)?;
    let a = s.account(account);
    if a.in_debt {
        return Err(Reject::AccountInDebt);
    }
    if a.available < p.total {
        return Err(Reject::InsufficientFunds { available: a.available });
    }
    let ttl = p.ttl_ms.unwrap_or(s.settings().default_packet_ttl_ms);
    let packet = PacketNo(s.packets().len() as u32);
    out.push(Event::RedPacketSent(RedPacketSent {
        packet,
        id: p.packet,
        account,
        total: p.total,
        shares: p.shares,
        kind: p.kind,
        sent_at: now,
        expires_at: now.saturating_add_ms(ttl),
    }));
    if !recipients.is_empty() {
        out.push(Event::RedPacketRecipients { packet, recipients });
    }
    Ok(Reply::PacketSent { packet, replayed: false })
}

/// The packet's recipients as the state keeps them: sorted, each once. A packet with more
/// shares than recipients could never be grabbed whole, so it is refused with the list.
fn recipients(p: &SendRedPacket) -> Result<Vec<UserId>, Reject> {
    let max = MAX_PACKET_RECIPIENTS as u32;
    if p.recipients.len() > MAX_PACKET_RECIPIENTS {
        return Err(Reject::PacketRecipients { max });
    }
    let mut list = p.recipients.clone();
    list.sort_unstable();
    list.dedup();
    if !list.is_empty() && (p.shares as usize) > list.len() {
        return Err(Reject::PacketRecipients { max });
    }
    Ok(list)
}

#[inline]
pub(super) fn grab(
    s: &State,
    id: &ExtId,
    sender: UserId,
    user: UserId,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<Reply, Reject> {
    let no = find(s, id, sender)?;
    let p = s.packet(no);
    if let Some((share, amount)) = p.grab_of(user) {
        return Ok(Reply::Grabbed { packet: no, share, amount, replayed: true });
    }
    if !p.may_grab(user) {
        return Err(Reject::NotARecipient);
    }
    if p.status == PacketStatus::Expired || now >= p.expires_at {
        return Err(Reject::PacketExpired);
    }
    if p.status == PacketStatus::Exhausted {
        return Err(Reject::PacketEmpty);
    }
    let share = p.grabbed();
    let amount = share_amount(p);
    let cur = s.account(p.sender).currency;
    if s.owns(user) {
        let account = account_to_credit(s, user, cur, amount, out)?;
        out.push(Event::RedPacketGrabbed { packet: no, account: Some(account), user, share, amount });
    } else {
        // The share leaves through this shard's transit account to the grabber's shard.
        let to = s.topology().map_or(0, |t| t.shard_of(user));
        let transit = s.link(to).map_or(Money::ZERO, |l| l.transit(cur));
        bounds::system(transit, amount.0 as i128)?;
        out.push(Event::RedPacketGrabbed { packet: no, account: None, user, share, amount });
        super::transfers::send_share(s, no, share, user, cur, amount, out);
    }
    Ok(Reply::Grabbed { packet: no, share, amount, replayed: false })
}

/// The packet `id` sent by `sender` (packet ids are per sender): a link with another
/// sender's name finds nothing, or that sender's own packet of the same id.
fn find(s: &State, id: &ExtId, sender: UserId) -> Result<PacketNo, Reject> {
    s.packet_by_id(sender, id).ok_or(Reject::PacketNotFound)
}

pub(super) fn expire(
    s: &State,
    id: &ExtId,
    sender: UserId,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<Reply, Reject> {
    let no = find(s, id, sender)?;
    let p = s.packet(no);
    match p.status {
        PacketStatus::Expired => Ok(Reply::PacketExpired { packet: no, refund: p.remaining, replayed: true }),
        // Fully grabbed: nothing to give back.
        PacketStatus::Exhausted => Ok(Reply::PacketExpired { packet: no, refund: Money::ZERO, replayed: true }),
        PacketStatus::Open if now < p.expires_at => Err(Reject::PacketNotExpired),
        PacketStatus::Open => {
            debug_assert!(p.remaining.is_positive(), "an open packet has a share left");
            out.push(Event::RedPacketExpired { packet: no, account: p.sender, refund: p.remaining });
            Ok(Reply::PacketExpired { packet: no, refund: p.remaining, replayed: false })
        }
    }
}

/// The next share of an open packet. Every share is at least one minor unit and the last one
/// takes exactly what is left, so the shares always sum to the total.
pub fn share_amount(p: &RedPacket) -> Money {
    let k = p.grabbed();
    let left = (p.shares - k) as i64;
    let rest = p.remaining.0;
    debug_assert!(left >= 1 && rest >= left, "each remaining share can get a minor unit");
    if left == 1 {
        return Money(rest);
    }
    match p.kind {
        PacketKind::Normal => {
            let base = p.total.0 / p.shares as i64;
            let extra = (k as i64) < p.total.0 % p.shares as i64;
            Money(base + extra as i64)
        }
        PacketKind::Lucky { seed } => {
            // Double mean: uniform in [1, 2 × mean], capped so that each later share keeps
            // at least one minor unit.
            let hi = (2 * (rest / left)).min(rest - (left - 1)).max(1);
            let r = splitmix64(seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            Money(1 + (r % hi as u64) as i64)
        }
    }
}

/// SplitMix64: a small, well-mixed, seedable generator. Determinism matters more than
/// cryptographic strength here: replays must draw the same shares.
#[inline]
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
