//! Prefetch hints for a batch of commands.

use super::*;

/// Prefetching: hints that let a batch of commands overlap their cache misses. They read
/// the state and change nothing, so a wrong guess costs only a wasted fetch.
impl State {
    /// Stage one, a few commands ahead: the index slots `decide` will probe.
    #[inline]
    pub fn prefetch_lookups(&self, cmd: &crate::Command) {
        match cmd {
            crate::Command::PlaceBet(b) => {
                self.idx.bet_by_order.prefetch(hash_scoped(b.user, &b.order_no));
                if let Some(cur) = self.currency_by_code(&b.currency) {
                    self.idx.account_by_user.prefetch(hash_account_key(b.user, cur));
                }
            }
            crate::Command::GrabRedPacket { packet, sender, user } => {
                if let Some(p) = self.packet_by_id(*sender, packet) {
                    let p = &self.packets[p.index()];
                    p.grab_by_user.prefetch(hash_user(*user));
                    let cur = self.accounts[p.sender.index()].currency;
                    self.idx.account_by_user.prefetch(hash_account_key(*user, cur));
                }
            }
            _ => {}
        }
    }

    /// The look-ahead of a batch: before running command `i`, fetch the index slots of the
    /// command [`crate::PREFETCH_LOOKUPS_AHEAD`] places later and the records of the one
    /// [`crate::PREFETCH_RECORDS_AHEAD`] places later. Shared by every batch path.
    #[inline]
    pub fn prefetch_ahead(&self, batch: &[(Timestamp, crate::Command)], i: usize) {
        if let Some((_, ahead)) = batch.get(i + crate::PREFETCH_LOOKUPS_AHEAD) {
            self.prefetch_lookups(ahead);
        }
        if let Some((_, ahead)) = batch.get(i + crate::PREFETCH_RECORDS_AHEAD) {
            self.prefetch_records(ahead);
        }
    }

    /// The account an event will change, fetched ahead while earlier events are applied.
    #[inline]
    pub fn prefetch_event(&self, event: &Event) {
        let account = match event {
            Event::BetSettled { account, .. } | Event::BetResettled { account, .. } => *account,
            Event::RedPacketGrabbed { account: Some(account), .. } => *account,
            Event::TransferReceived { account, .. } => *account,
            Event::Crash(e) => match e.account() {
                Some(account) => account,
                None => return,
            },
            Event::Deposited { account, .. } | Event::Withdrawn { account, .. } => *account,
            Event::BetAccepted(b) => {
                let index = if b.round.is_some() { &self.idx.bet_by_order } else { &self.idx.bet_by_partner_id };
                if let Some(a) = self.accounts.get(b.account.index()) {
                    index.prefetch(hash_scoped(a.user, &b.order_no));
                }
                if let Some(stake) = self.idx.round_stake.latest.get(b.account.index()) {
                    croupier_collections::prefetch(stake);
                }
                b.account
            }
            _ => return,
        };
        if let Some(a) = self.accounts.get(account.index()) {
            croupier_collections::prefetch(a);
        }
    }

    /// Stage two, a command or two ahead, once the slots are cached: the records behind them.
    #[inline]
    pub fn prefetch_records(&self, cmd: &crate::Command) {
        let (user, cur) = match cmd {
            crate::Command::PlaceBet(b) => match self.currency_by_code(&b.currency) {
                Some(cur) => (b.user, cur),
                None => return,
            },
            crate::Command::GrabRedPacket { packet, sender, user } => match self.packet_by_id(*sender, packet) {
                Some(p) => (*user, self.accounts[self.packets[p.index()].sender.index()].currency),
                None => return,
            },
            _ => return,
        };
        // Unconfirmed on purpose: confirming would wait for the very record being fetched.
        if let Some(a) = self.idx.account_by_user.peek(hash_account_key(user, cur)) {
            if let Some(account) = self.accounts.get(a as usize) {
                croupier_collections::prefetch(account);
                croupier_collections::prefetch(&self.idx.round_stake.latest[a as usize]);
            }
        }
    }
}
