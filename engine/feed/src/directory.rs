//! The one directory of names for every reader of a shard's events.
//!
//! Events number what they create (accounts, rounds, red packets, currencies) and afterwards
//! name it by that dense number only, so a reader that shows or stores events (push, the SQL
//! projection, the CLI) must remember what each number stands for: whose account, which
//! currency with how many decimals, which round id, which packet of which sender. This is
//! that memory, learned from the events in journal order by [`Directory::learn`] (the only
//! place that knows which events name something new), built from a restored [`State`] by
//! [`Directory::of_state`], or restored entry by entry by a reader that keeps its own copy
//! (the SQL projection reloads it from its tables when it resumes mid-journal).

use croupier_domain::event::Event;
use croupier_domain::ids::{AccountNo, Code, CurrencyId, ExtId, PacketNo, RoundNo, UserId};
use croupier_domain::State;

/// A currency as readers show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurrencyName {
    pub code: Code,
    /// Decimal places of the minor unit (2 for CNY: 100 minor units = 1.00).
    pub exponent: u8,
}

/// Dense numbers of one shard → what callers call them. Unknown numbers (a reader that
/// started mid-journal without restoring) answer `None`, never a made-up name.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    currencies: Vec<Option<CurrencyName>>,
    accounts: Vec<Option<(UserId, CurrencyId)>>,
    rounds: Vec<Option<ExtId>>,
    /// Per packet: its caller's id and the sender's account.
    packets: Vec<Option<(ExtId, AccountNo)>>,
}

fn set<T>(v: &mut Vec<Option<T>>, i: usize, x: T) {
    if v.len() <= i {
        v.resize_with(i + 1, || None);
    }
    v[i] = Some(x);
}

fn get<T: Copy>(v: &[Option<T>], i: usize) -> Option<T> {
    v.get(i).copied().flatten()
}

impl Directory {
    /// Everything `state` has created, as if learned from its whole history.
    pub fn of_state(state: &State) -> Directory {
        let mut d = Directory::default();
        for (i, c) in state.currencies().iter().enumerate() {
            d.set_currency(CurrencyId(i as u32), CurrencyName { code: c.code, exponent: c.exponent });
        }
        for (i, a) in state.accounts().iter().enumerate() {
            d.set_account(AccountNo(i as u32), a.user, a.currency);
        }
        for (i, r) in state.rounds().iter().enumerate() {
            set(&mut d.rounds, i, r.id);
        }
        for (i, p) in state.packets().iter().enumerate() {
            d.set_packet(PacketNo(i as u32), p.id, p.sender);
        }
        d
    }

    /// Learns what `e` names for the first time. Call it for every event in journal order,
    /// before using the directory to name the event's own numbers.
    pub fn learn(&mut self, e: &Event) {
        match e {
            Event::CurrencyDefined { currency, code, exponent } => {
                self.set_currency(*currency, CurrencyName { code: *code, exponent: *exponent })
            }
            Event::AccountOpened { account, user, currency } => self.set_account(*account, *user, *currency),
            Event::RoundOpened { round, id, .. } => set(&mut self.rounds, round.index(), *id),
            Event::RedPacketSent(p) => self.set_packet(p.packet, p.id, p.account),
            // Named one by one, so that a new event is a compile error here until someone
            // decides whether it names something new.
            Event::Configured(_)
            | Event::GameDefined { .. }
            | Event::Deposited { .. }
            | Event::Withdrawn { .. }
            | Event::LimitsSet { .. }
            | Event::SelfExcluded { .. }
            | Event::RoundStatusChanged { .. }
            | Event::RoundDrawn { .. }
            | Event::BetAccepted(_)
            | Event::BetSettled { .. }
            | Event::BetResettled { .. }
            | Event::PartnerRefundRemembered { .. }
            | Event::PartnerRefundRememberedFor { .. }
            | Event::PartnerTransactionRecorded { .. }
            | Event::RedPacketGrabbed { .. }
            | Event::RedPacketExpired { .. }
            | Event::TopologySet(_)
            | Event::TransferSent { .. }
            | Event::TransferReceived { .. }
            | Event::TransfersAcked { .. }
            | Event::RedPacketRecipients { .. } => {}
            // The games' events name their channels, terms and bets within their own state
            // and their players by account, which the directory already knows.
            Event::Crash(_) | Event::Instant(_) => {}
        }
    }

    pub fn set_currency(&mut self, currency: CurrencyId, name: CurrencyName) {
        set(&mut self.currencies, currency.index(), name);
    }

    pub fn set_account(&mut self, account: AccountNo, user: UserId, currency: CurrencyId) {
        set(&mut self.accounts, account.index(), (user, currency));
    }

    pub fn set_packet(&mut self, packet: PacketNo, id: ExtId, sender: AccountNo) {
        set(&mut self.packets, packet.index(), (id, sender));
    }

    pub fn currency(&self, currency: CurrencyId) -> Option<CurrencyName> {
        get(&self.currencies, currency.index())
    }

    /// The currency with this code, if the shard defined it.
    pub fn currency_by_code(&self, code: &str) -> Option<CurrencyId> {
        let i = self.currencies.iter().position(|c| c.is_some_and(|c| c.code.as_str() == code))?;
        Some(CurrencyId(i as u32))
    }

    /// The account's player and currency.
    pub fn account(&self, account: AccountNo) -> Option<(UserId, CurrencyId)> {
        get(&self.accounts, account.index())
    }

    /// Decimal places of the account's currency.
    pub fn exponent_of(&self, account: AccountNo) -> Option<u8> {
        self.account(account).and_then(|(_, c)| self.currency(c)).map(|c| c.exponent)
    }

    pub fn round(&self, round: RoundNo) -> Option<ExtId> {
        get(&self.rounds, round.index())
    }

    /// The packet's caller's id and its sender's account.
    pub fn packet(&self, packet: PacketNo) -> Option<(ExtId, AccountNo)> {
        get(&self.packets, packet.index())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use croupier_domain::testkit::*;
    use croupier_domain::Engine;

    /// Learning from a history and reading the state it built give the same directory.
    #[test]
    fn learning_the_events_and_reading_the_state_agree() {
        let mut engine = Engine::new(State::new());
        let mut learned = Directory::default();
        let mut cmds = setup_commands(default_limits());
        cmds.push(croupier_domain::Command::GameStart { round: id("r1"), game: id(GAME), window_ms: None });
        cmds.extend((1..=5).map(|u| deposit(u, 1_000, u)));
        for cmd in &cmds {
            engine.execute(cmd, croupier_domain::Timestamp(1_700_000_000_000)).unwrap();
            engine.events().iter().for_each(|e| learned.learn(e));
        }
        let read = Directory::of_state(engine.state());
        let cur = read.currency_by_code(CURRENCY).expect("the testkit's currency");
        assert_eq!(learned.currency(cur), read.currency(cur));
        assert_eq!(read.currency(cur).unwrap().exponent, 2);
        for a in 0..5 {
            assert_eq!(learned.account(AccountNo(a)), read.account(AccountNo(a)));
            assert_eq!(read.account(AccountNo(a)).map(|(_, c)| c), Some(cur));
        }
        assert_eq!(learned.round(RoundNo(0)), Some(id("r1")));
        assert_eq!(read.round(RoundNo(0)), Some(id("r1")));
        assert_eq!(read.account(AccountNo(99)), None, "unknown numbers answer None");
    }
}
