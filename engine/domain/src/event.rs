//! What happened. Events are the only thing journaled; recovery, projections and push all read
//! them. Each event is self-describing for money: the ledger lines it implies are derived by
//! [`crate::ledger::entries`] without looking at engine state.

use crate::command::{DrawResult, GameDef, PacketKind, Settings, Topology, Transfer};
use crate::ids::{
    AccountNo, BetId, Code, CurrencyId, ExtId, GameNo, PacketNo, RoundNo, SelectionId, Timestamp, UserId,
};
use crate::money::{Money, Odds};
use crate::state::{Outcome, PlayerLimits, RoundStatus};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    Configured(Settings),
    CurrencyDefined {
        currency: CurrencyId,
        code: Code,
        exponent: u8,
    },
    /// `game` is new when it equals the number of games so far, else it replaces that game.
    GameDefined {
        game: GameNo,
        def: Box<GameDef>,
    },

    AccountOpened {
        account: AccountNo,
        user: UserId,
        currency: CurrencyId,
    },
    /// `external` → player.
    Deposited {
        account: AccountNo,
        transfer: ExtId,
        amount: Money,
    },
    /// Player → `external`.
    Withdrawn {
        account: AccountNo,
        transfer: ExtId,
        amount: Money,
    },
    LimitsSet {
        account: AccountNo,
        limits: PlayerLimits,
    },
    SelfExcluded {
        user: UserId,
        until: Timestamp,
    },

    RoundOpened {
        round: RoundNo,
        id: ExtId,
        game: GameNo,
        bet_start: Timestamp,
        bet_stop: Timestamp,
    },
    RoundStatusChanged {
        round: RoundNo,
        status: RoundStatus,
        at: Timestamp,
    },
    /// The draw result; the bets' `BetSettled`/`BetResettled` events follow it.
    RoundDrawn {
        round: RoundNo,
        result: DrawResult,
        corrected: bool,
        at: Timestamp,
    },

    /// The stake moves from available to held. `round` is `None` for a bookmaker bet.
    BetAccepted(BetAccepted),
    /// An open bet's hold is released: the stake goes to the house, and `payout` comes back
    /// from it (the stake itself for void and push).
    BetSettled {
        bet: BetId,
        account: AccountNo,
        stake: Money,
        outcome: Outcome,
        payout: Money,
        at: Timestamp,
    },
    /// A settled bet gets another outcome: the difference of the payouts moves between the
    /// house and the player, and may take the player's balance below zero.
    BetResettled {
        bet: BetId,
        account: AccountNo,
        from: Outcome,
        from_payout: Money,
        to: Outcome,
        to_payout: Money,
        at: Timestamp,
    },
    /// A bookmaker refund for a bet id never seen, as journaled before callers' ids were per
    /// player: it names no player, so the id stays refused to every player. No longer written
    /// (see [`Event::PartnerRefundRememberedFor`]); read from older journals.
    PartnerRefundRemembered {
        bet: ExtId,
    },
    /// A bookmaker recalculation's transaction id, remembered for idempotency.
    PartnerTransactionRecorded {
        transaction: ExtId,
        bet: BetId,
    },

    /// Sender → the packet's pool.
    RedPacketSent(RedPacketSent),
    /// The packet's pool → grabber. `share` counts from 0. `account` is `None` when the
    /// grabber lives on another shard: the `TransferSent` event that follows carries the share.
    RedPacketGrabbed {
        packet: PacketNo,
        account: Option<AccountNo>,
        user: UserId,
        share: u32,
        amount: Money,
    },
    /// The packet's pool → sender: what was not grabbed before expiry.
    RedPacketExpired {
        packet: PacketNo,
        account: AccountNo,
        refund: Money,
    },

    /// This shard's place among the runtime's shards; the first event of its journal.
    TopologySet(Topology),
    /// Money leaves this shard for a user of shard `transfer.to`: the packet's pool → the
    /// transit account of that shard, until the peer acknowledges it.
    TransferSent {
        transfer: Transfer,
        pool: PacketNo,
        currency: CurrencyId,
    },
    /// A transfer from shard `transfer.from` is applied: that shard's transit account → the
    /// user's account. Exactly once per (from, seq).
    TransferReceived {
        transfer: Transfer,
        account: AccountNo,
    },
    /// Shard `peer` applied this shard's transfers up to `upto`: they leave the outbox.
    TransfersAcked {
        peer: u32,
        upto: u64,
    },
    /// A bookmaker refund from `user` for a bet id that player never used: remembered so that
    /// player's later `BlockFunds` with that id is refused. Callers' ids are per player.
    PartnerRefundRememberedFor {
        bet: ExtId,
        user: UserId,
    },
    /// The crash game (seed 001).
    Crash(crate::crash::CrashEvent),
    /// Instant games (seed 003): `crate::instant`.
    Instant(crate::instant::InstantEvent),
    /// Follows the `RedPacketSent` of a packet that names its recipients: only these users
    /// may grab it. Sorted, without repeats, at most `MAX_PACKET_RECIPIENTS`. Moves no money.
    RedPacketRecipients {
        packet: PacketNo,
        recipients: Vec<UserId>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BetAccepted {
    pub bet: BetId,
    pub account: AccountNo,
    pub round: Option<RoundNo>,
    pub selection: SelectionId,
    pub stake: Money,
    pub odds: Odds,
    pub order_no: ExtId,
    pub platform: Code,
    pub at: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedPacketSent {
    pub packet: PacketNo,
    pub id: ExtId,
    pub account: AccountNo,
    pub total: Money,
    pub shares: u32,
    pub kind: PacketKind,
    pub sent_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Event {
    /// A short stable name, used for NATS subjects and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Configured(_) => "configured",
            Event::CurrencyDefined { .. } => "currency_defined",
            Event::GameDefined { .. } => "game_defined",
            Event::AccountOpened { .. } => "account_opened",
            Event::Deposited { .. } => "deposited",
            Event::Withdrawn { .. } => "withdrawn",
            Event::LimitsSet { .. } => "limits_set",
            Event::SelfExcluded { .. } => "self_excluded",
            Event::RoundOpened { .. } => "round_opened",
            Event::RoundStatusChanged { .. } => "round_status_changed",
            Event::RoundDrawn { .. } => "round_drawn",
            Event::BetAccepted(_) => "bet_accepted",
            Event::BetSettled { .. } => "bet_settled",
            Event::BetResettled { .. } => "bet_resettled",
            Event::PartnerRefundRemembered { .. } => "partner_refund_remembered",
            Event::PartnerTransactionRecorded { .. } => "partner_transaction_recorded",
            Event::RedPacketSent(_) => "red_packet_sent",
            Event::RedPacketGrabbed { .. } => "red_packet_grabbed",
            Event::RedPacketExpired { .. } => "red_packet_expired",
            Event::TopologySet(_) => "topology_set",
            Event::TransferSent { .. } => "transfer_sent",
            Event::TransferReceived { .. } => "transfer_received",
            Event::TransfersAcked { .. } => "transfers_acked",
            Event::PartnerRefundRememberedFor { .. } => "partner_refund_remembered_for",
            Event::Crash(e) => e.name(),
            Event::Instant(e) => e.name(),
            Event::RedPacketRecipients { .. } => "red_packet_recipients",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_stay_small_enough_to_copy_cheaply() {
        // Settlement emits one event per bet; a large enum would multiply memory traffic.
        assert!(std::mem::size_of::<Event>() <= 128, "{}", std::mem::size_of::<Event>());
    }
}
