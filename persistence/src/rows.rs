//! Engine events → table rows, in the operators' terms (seed 000: `game_round_info`, `orders`
//! with `bill_status`, `wallet_ledger`; seed 002: accounts, red packets and their grabs).
//!
//! [`Mapper`] holds what a projector must remember between events to fill columns that an
//! event does not carry itself (an account's user and currency, a pool's currency, every
//! ledger account's balance). It is rebuilt from the database on restart ([`ShardBook`] rows),
//! so a projector's memory is never the only copy of anything.
//!
//! Every event also becomes an `events` row (JSON payload) for downstream consumers.

use croupier_domain::event::Event;
use croupier_domain::ids::{AccountNo, CurrencyId, PacketNo};
use croupier_domain::ledger::{self, LedgerAccount, Reason, Reference};
use croupier_domain::state::{Outcome, RoundStatus};
use croupier_feed::Directory;
use rustc_hash::FxHashMap;

pub mod games;
pub use games::*;

/// `events`: every event, for downstream consumers.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub shard: u32,
    pub position: u64,
    pub idx: u32,
    pub name: &'static str,
    pub at: Option<i64>,
    pub payload: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CurrencyRow {
    pub shard: u32,
    pub currency: u32,
    pub code: String,
    pub exponent: u8,
}

/// `accounts` (seed 002's `account`): one per player and currency.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountRow {
    pub shard: u32,
    pub account_no: u32,
    pub user_id: i64,
    pub currency: String,
    pub position: u64,
}

/// `game_round_info` (seed 000). `game_status`: 1 betting, 3 stopped, 4 dealing, 5 drawn,
/// 6 ended, 7 cancelled.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundRow {
    pub shard: u32,
    pub round_no: u32,
    pub round_id: String,
    pub game_no: u32,
    pub game_status: i16,
    pub bet_start_time: i64,
    pub bet_stop_time: i64,
    pub game_draw_time: Option<i64>,
    pub draw_result: Option<String>,
    pub corrected: bool,
    pub ended_at: Option<i64>,
}

/// A change to a round projected in an earlier batch.
#[derive(Clone, Debug, PartialEq)]
pub enum RoundUpdate {
    Status { shard: u32, round_no: u32, status: i16, at: i64 },
    Drawn { shard: u32, round_no: u32, result: String, corrected: bool, at: i64 },
}

/// `orders` (seed 000). `bill_status`: 1 open, 2 settled.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderRow {
    pub platform: String,
    pub shard: u32,
    pub bet_id: u32,
    pub order_no: String,
    pub user_id: i64,
    pub account_no: u32,
    pub round_no: Option<u32>,
    pub selection: u16,
    pub stake: i64,
    /// Fixed point, 1/10000.
    pub odds: i64,
    pub bill_status: i16,
    pub outcome: Option<&'static str>,
    pub payout: Option<i64>,
    pub created_at: i64,
    pub settled_at: Option<i64>,
}

/// Settlement of an order projected in an earlier batch (the last one per bet wins).
#[derive(Clone, Debug, PartialEq)]
pub struct OrderSettle {
    pub shard: u32,
    pub bet_id: u32,
    pub bill_status: i16,
    pub outcome: &'static str,
    pub payout: i64,
    pub settled_at: i64,
}

/// `wallet_ledger`: one row per side of each double-entry line, `amount` signed (negative on
/// the debited side), so any sum over one currency is zero and the sum over one account is its
/// balance.
#[derive(Clone, Debug, PartialEq)]
pub struct LedgerRow {
    pub shard: u32,
    pub position: u64,
    pub idx: u32,
    pub line: u32,
    pub account_kind: &'static str,
    pub account_ref: i64,
    pub currency: String,
    pub counter_kind: &'static str,
    pub counter_ref: i64,
    pub amount: i64,
    pub balance_after: i64,
    pub reason: &'static str,
    pub ref_kind: &'static str,
    pub reference: String,
    pub at: Option<i64>,
}

/// `cash_transfers`: deposits and withdrawals.
#[derive(Clone, Debug, PartialEq)]
pub struct CashRow {
    pub shard: u32,
    pub position: u64,
    pub idx: u32,
    pub kind: &'static str,
    pub transfer_id: String,
    pub account_no: u32,
    pub amount: i64,
}

/// `red_packets` (seed 002).
#[derive(Clone, Debug, PartialEq)]
pub struct PacketRow {
    pub shard: u32,
    pub packet_no: u32,
    pub packet_id: String,
    pub account_no: u32,
    pub user_id: i64,
    pub currency: String,
    pub total: i64,
    pub shares: u32,
    pub kind: &'static str,
    pub sent_at: i64,
    pub expires_at: i64,
    pub grabbed: i64,
    pub remaining: i64,
    pub status: &'static str,
    pub refund: Option<i64>,
    /// A JSON array of the user ids that may grab; `None`: anyone with the link.
    pub recipients: Option<String>,
}

/// Grabs and expiry of a packet projected in an earlier batch, summed per batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PacketDelta {
    pub grabbed: i64,
    pub taken: i64,
    pub expired_refund: Option<i64>,
}

/// `red_packet_grabs`. `account_no` is `None` when the grabber lives on another shard (the
/// share travels as a shard transfer).
#[derive(Clone, Debug, PartialEq)]
pub struct GrabRow {
    pub shard: u32,
    pub packet_no: u32,
    pub share: u32,
    pub user_id: i64,
    pub account_no: Option<u32>,
    pub amount: i64,
    pub position: u64,
}

/// `shard_transfers`: each end of a transfer between shards (`side` "sent" on the sender's
/// shard, "received" on the receiver's).
#[derive(Clone, Debug, PartialEq)]
pub struct ShardTransferRow {
    pub from_shard: u32,
    pub to_shard: u32,
    pub seq: u64,
    pub side: &'static str,
    pub user_id: i64,
    pub currency: String,
    pub amount: i64,
    pub packet_id: String,
    pub share: u32,
    pub account_no: Option<u32>,
    pub position: u64,
}

/// `balances`: every ledger account's balance after the batch.
#[derive(Clone, Debug, PartialEq)]
pub struct BalanceRow {
    pub shard: u32,
    pub account_kind: &'static str,
    pub account_ref: i64,
    pub currency: String,
    pub balance: i64,
}

/// Everything one transaction writes.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<EventRow>,
    pub currencies: Vec<CurrencyRow>,
    pub accounts: Vec<AccountRow>,
    pub rounds: Vec<RoundRow>,
    pub round_updates: Vec<RoundUpdate>,
    pub orders: Vec<OrderRow>,
    pub order_settles: Vec<OrderSettle>,
    pub ledger: Vec<LedgerRow>,
    pub cash: Vec<CashRow>,
    pub packets: Vec<PacketRow>,
    pub packet_deltas: Vec<((u32, u32), PacketDelta)>,
    pub grabs: Vec<GrabRow>,
    pub transfers: Vec<ShardTransferRow>,
    pub balances: Vec<BalanceRow>,
    /// The crash and instant games' rows.
    pub games: GamesBatch,
    /// The position reached per shard: (shard, position, events in this batch).
    pub positions: Vec<(u32, u64, u64)>,
    // Where a row of this batch sits, so later events of the same batch change it in place
    // instead of issuing an update for a row not written yet.
    round_at: FxHashMap<(u32, u32), usize>,
    order_at: FxHashMap<(u32, u32), usize>,
    settle_at: FxHashMap<(u32, u32), usize>,
    packet_at: FxHashMap<(u32, u32), usize>,
    delta_at: FxHashMap<(u32, u32), usize>,
    touched: FxHashMap<(u32, LedgerAccount), ()>,
}

impl Batch {
    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.positions.is_empty()
    }

    pub fn clear(&mut self) {
        *self = Batch::default();
    }

    fn set_position(&mut self, shard: u32, position: u64, events: u64) {
        match self.positions.iter_mut().find(|p| p.0 == shard) {
            Some(p) => {
                p.1 = position;
                p.2 += events;
            }
            None => self.positions.push((shard, position, events)),
        }
    }
}

/// A shard's memory that columns need: currency codes, accounts' users and currencies, pools'
/// currencies and every ledger account's balance.
#[derive(Debug, Default, Clone)]
pub struct ShardBook {
    /// What the shard's numbers name (currencies, accounts, packets), as every reader keeps it.
    pub dir: Directory,
    pub balances: FxHashMap<LedgerAccount, i64>,
    /// What the games' rows need: channels' currencies, open terms' channels, seeds in use.
    pub games: GamesBook,
}

impl ShardBook {
    fn code(&self, c: CurrencyId) -> String {
        self.dir.currency(c).map_or_else(|| "?".to_owned(), |c| c.code.as_str().to_owned())
    }

    fn currency_of(&self, a: AccountNo) -> CurrencyId {
        self.dir.account(a).map_or(CurrencyId(0), |x| x.1)
    }

    fn user_of(&self, a: AccountNo) -> Result<i64, String> {
        self.dir.account(a).map_or(Ok(0), |x| user_column(x.0 .0))
    }

    fn currency_of_ledger(&self, a: LedgerAccount) -> CurrencyId {
        match a {
            LedgerAccount::Player(n) | LedgerAccount::Held(n) => self.currency_of(n),
            LedgerAccount::External(c) | LedgerAccount::House(c) | LedgerAccount::Transit { currency: c, .. } => c,
            LedgerAccount::Pool(p) => self.currency_of(self.dir.packet(p).map_or(AccountNo(0), |x| x.1)),
        }
    }

    /// Rebuilds a ledger account from its stored columns.
    pub fn ledger_account(&self, kind: &str, reference: i64, currency: &str) -> Option<LedgerAccount> {
        let cur = || self.dir.currency_by_code(currency);
        Some(match kind {
            "player" => LedgerAccount::Player(AccountNo(reference as u32)),
            "held" => LedgerAccount::Held(AccountNo(reference as u32)),
            "external" => LedgerAccount::External(CurrencyId(reference as u32)),
            "house" => LedgerAccount::House(CurrencyId(reference as u32)),
            "pool" => LedgerAccount::Pool(PacketNo(reference as u32)),
            "transit" => LedgerAccount::Transit { shard: reference as u32, currency: cur()? },
            _ => return None,
        })
    }
}

/// A user id as its `BIGINT` column: exactly, or an error naming it. The gateway refuses
/// ids above `i64::MAX` at the edge, so only a journal written before it did can hold one;
/// `as i64` would store it as a negative number, i.e. as another user.
pub fn user_column(user: u64) -> Result<i64, String> {
    i64::try_from(user).map_err(|_| format!("user id {user} does not fit a BIGINT column (above {})", i64::MAX))
}

/// The stored form of a ledger account: kind and reference (account, currency, packet or
/// peer shard number).
pub fn ledger_key(a: LedgerAccount) -> (&'static str, i64) {
    match a {
        LedgerAccount::Player(n) => ("player", n.0 as i64),
        LedgerAccount::Held(n) => ("held", n.0 as i64),
        LedgerAccount::External(c) => ("external", c.0 as i64),
        LedgerAccount::House(c) => ("house", c.0 as i64),
        LedgerAccount::Pool(p) => ("pool", p.0 as i64),
        LedgerAccount::Transit { shard, .. } => ("transit", shard as i64),
    }
}

fn reason_name(r: Reason) -> &'static str {
    match r {
        Reason::Deposit => "deposit",
        Reason::Withdrawal => "withdrawal",
        Reason::BetHold => "bet_hold",
        Reason::BetStake => "bet_stake",
        Reason::BetPayout => "bet_payout",
        Reason::BetRefund => "bet_refund",
        Reason::Resettlement => "resettlement",
        Reason::PacketSend => "packet_send",
        Reason::PacketGrab => "packet_grab",
        Reason::PacketRefund => "packet_refund",
        Reason::TransferOut => "transfer_out",
        Reason::TransferIn => "transfer_in",
    }
}

fn reference_cols(r: Reference) -> (&'static str, String) {
    match r {
        Reference::Transfer(id) => ("transfer", id.as_str().to_owned()),
        Reference::Bet(b) => ("bet", b.0.to_string()),
        Reference::Packet(p) => ("packet", p.0.to_string()),
        Reference::ShardTransfer { from, seq } => ("shard_transfer", format!("{from}:{seq}")),
        Reference::CrashBet(b) => ("crash_bet", b.0.to_string()),
        Reference::Instant(b) => ("instant_bet", b.0.to_string()),
    }
}

pub fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Won => "won",
        Outcome::Lost => "lost",
        Outcome::Void => "void",
        Outcome::Push => "push",
    }
}

pub fn status_code(s: RoundStatus) -> i16 {
    s.code() as i16
}

/// The time an event carries, if any.
fn event_time(e: &Event) -> Option<i64> {
    let t = match e {
        Event::RoundOpened { bet_start, .. } => *bet_start,
        Event::RoundStatusChanged { at, .. } | Event::RoundDrawn { at, .. } => *at,
        Event::BetAccepted(b) => b.at,
        Event::BetSettled { at, .. } | Event::BetResettled { at, .. } => *at,
        Event::RedPacketSent(p) => p.sent_at,
        Event::SelfExcluded { .. }
        | Event::Configured(_)
        | Event::CurrencyDefined { .. }
        | Event::GameDefined { .. }
        | Event::AccountOpened { .. }
        | Event::Deposited { .. }
        | Event::Withdrawn { .. }
        | Event::LimitsSet { .. }
        | Event::PartnerRefundRemembered { .. }
        | Event::PartnerRefundRememberedFor { .. }
        | Event::PartnerTransactionRecorded { .. }
        | Event::RedPacketGrabbed { .. }
        | Event::RedPacketExpired { .. }
        | Event::TopologySet(_)
        | Event::TransferSent { .. }
        | Event::TransferReceived { .. }
        | Event::TransfersAcked { .. }
        | Event::RedPacketRecipients { .. } => return None,
        Event::Crash(c) => return c.at().map(|t| t.0 as i64),
        Event::Instant(e) => return e.at().map(|t| t.0 as i64),
    };
    Some(t.0 as i64)
}

/// Maps the events of one whole command (journal record `position` of `shard`) into `batch`,
/// updating the shard's book. Refuses a command with a value no column can hold exactly (a
/// user id above `i64::MAX`): the caller drops the batch and stops, so nothing is stored
/// wrong and the position does not move past it.
pub fn map_command(
    book: &mut ShardBook,
    shard: u32,
    position: u64,
    events: &[Event],
    batch: &mut Batch,
) -> Result<(), crate::ProjectError> {
    map_command_with(book, shard, position, events, batch, &mut |_, _| None)
}

/// [`map_command`], with a way to read back an earlier journal record (`lookup`): a seed
/// rotation reveals a seed committed before the projector's last restart.
pub fn map_command_with(
    book: &mut ShardBook,
    shard: u32,
    position: u64,
    events: &[Event],
    batch: &mut Batch,
    lookup: Lookup<'_>,
) -> Result<(), crate::ProjectError> {
    for (idx, e) in events.iter().enumerate() {
        map_event(book, shard, position, idx as u32, e, batch, &mut *lookup)
            .map_err(|reason| crate::ProjectError::Unprojectable { shard, seq: position, reason })?;
    }
    batch.set_position(shard, position, events.len() as u64);
    Ok(())
}

fn map_event(
    book: &mut ShardBook,
    shard: u32,
    position: u64,
    idx: u32,
    e: &Event,
    b: &mut Batch,
    lookup: Lookup<'_>,
) -> Result<(), String> {
    let at = event_time(e);
    b.events.push(EventRow {
        shard,
        position,
        idx,
        name: e.name(),
        at,
        // A flight's secret (game hash, crash point) is not stored before the crash.
        payload: serde_json::to_string(&*croupier_domain::crash::event::published(e))
            .expect("events serialize to JSON"),
    });
    // Names that the rows and ledger lines of this very event need come first.
    book.dir.learn(e);
    match e {
        Event::CurrencyDefined { currency, code, exponent } => {
            b.currencies.push(CurrencyRow {
                shard,
                currency: currency.0,
                code: code.as_str().to_owned(),
                exponent: *exponent,
            });
        }
        Event::AccountOpened { account, user, currency } => {
            b.accounts.push(AccountRow {
                shard,
                account_no: account.0,
                user_id: user_column(user.0)?,
                currency: book.code(*currency),
                position,
            });
        }
        // Named one by one, so that a new event is a compile error here until someone
        // decides whether it has a row of its own here.
        Event::RedPacketSent(_)
        | Event::Configured(_)
        | Event::GameDefined { .. }
        | Event::Deposited { .. }
        | Event::Withdrawn { .. }
        | Event::LimitsSet { .. }
        | Event::SelfExcluded { .. }
        | Event::RoundOpened { .. }
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
        // The games' accounts are opened by `AccountOpened` like any other; nothing here.
        Event::Crash(_) | Event::Instant(_) => {}
    }
    ledger_rows(book, shard, position, idx, e, at, b);
    match e {
        Event::RoundOpened { round, id, game, bet_start, bet_stop } => {
            b.round_at.insert((shard, round.0), b.rounds.len());
            b.rounds.push(RoundRow {
                shard,
                round_no: round.0,
                round_id: id.as_str().to_owned(),
                game_no: game.0,
                game_status: status_code(RoundStatus::Betting),
                bet_start_time: bet_start.0 as i64,
                bet_stop_time: bet_stop.0 as i64,
                game_draw_time: None,
                draw_result: None,
                corrected: false,
                ended_at: None,
            });
        }
        Event::RoundStatusChanged { round, status, at } => {
            let (code, at) = (status_code(*status), at.0 as i64);
            match b.round_at.get(&(shard, round.0)) {
                Some(&i) => apply_status(&mut b.rounds[i], code, at),
                None => b.round_updates.push(RoundUpdate::Status { shard, round_no: round.0, status: code, at }),
            }
        }
        Event::RoundDrawn { round, result, corrected, at } => {
            let result = serde_json::to_string(&result.outcomes).expect("outcomes serialize");
            let at = at.0 as i64;
            match b.round_at.get(&(shard, round.0)) {
                Some(&i) => {
                    let r = &mut b.rounds[i];
                    r.game_status = status_code(RoundStatus::Drawn);
                    r.game_draw_time = Some(at);
                    r.draw_result = Some(result);
                    r.corrected |= *corrected;
                }
                None => b.round_updates.push(RoundUpdate::Drawn {
                    shard,
                    round_no: round.0,
                    result,
                    corrected: *corrected,
                    at,
                }),
            }
        }
        Event::BetAccepted(bet) => {
            b.order_at.insert((shard, bet.bet.0), b.orders.len());
            b.orders.push(OrderRow {
                platform: bet.platform.as_str().to_owned(),
                shard,
                bet_id: bet.bet.0,
                order_no: bet.order_no.as_str().to_owned(),
                user_id: book.user_of(bet.account)?,
                account_no: bet.account.0,
                round_no: bet.round.map(|r| r.0),
                selection: bet.selection.0,
                stake: bet.stake.0,
                odds: bet.odds.0 as i64,
                bill_status: 1,
                outcome: None,
                payout: None,
                created_at: bet.at.0 as i64,
                settled_at: None,
            });
        }
        Event::BetSettled { bet, outcome, payout, at, .. } => {
            settle(b, shard, bet.0, outcome_name(*outcome), payout.0, at.0 as i64)
        }
        Event::BetResettled { bet, to, to_payout, at, .. } => {
            settle(b, shard, bet.0, outcome_name(*to), to_payout.0, at.0 as i64)
        }
        Event::Deposited { account, transfer, amount } | Event::Withdrawn { account, transfer, amount } => {
            b.cash.push(CashRow {
                shard,
                position,
                idx,
                kind: if matches!(e, Event::Deposited { .. }) { "deposit" } else { "withdrawal" },
                transfer_id: transfer.as_str().to_owned(),
                account_no: account.0,
                amount: amount.0,
            })
        }
        Event::RedPacketSent(p) => {
            b.packet_at.insert((shard, p.packet.0), b.packets.len());
            b.packets.push(PacketRow {
                shard,
                packet_no: p.packet.0,
                packet_id: p.id.as_str().to_owned(),
                account_no: p.account.0,
                user_id: book.user_of(p.account)?,
                currency: book.code(book.currency_of(p.account)),
                total: p.total.0,
                shares: p.shares,
                kind: match p.kind {
                    croupier_domain::command::PacketKind::Normal => "normal",
                    croupier_domain::command::PacketKind::Lucky { .. } => "lucky",
                },
                sent_at: p.sent_at.0 as i64,
                expires_at: p.expires_at.0 as i64,
                grabbed: 0,
                remaining: p.total.0,
                status: "open",
                refund: None,
                recipients: None,
            });
        }
        Event::RedPacketRecipients { packet, recipients } => {
            // Always in the command of its `RedPacketSent`, and a command is never split
            // between batches: the row is in this batch.
            let i = *b.packet_at.get(&(shard, packet.0)).ok_or("recipients of a packet sent in another command")?;
            let ids = recipients.iter().map(|u| user_column(u.0)).collect::<Result<Vec<_>, _>>()?;
            b.packets[i].recipients = Some(serde_json::to_string(&ids).expect("ids serialize"));
        }
        Event::RedPacketGrabbed { packet, account, user, share, amount } => {
            b.grabs.push(GrabRow {
                shard,
                packet_no: packet.0,
                share: *share,
                user_id: user_column(user.0)?,
                account_no: account.map(|a| a.0),
                amount: amount.0,
                position,
            });
            match b.packet_at.get(&(shard, packet.0)) {
                Some(&i) => {
                    let p = &mut b.packets[i];
                    p.grabbed += 1;
                    p.remaining -= amount.0;
                    if p.grabbed >= p.shares as i64 {
                        p.status = "exhausted";
                    }
                }
                None => {
                    let d = packet_delta(b, shard, packet.0);
                    d.grabbed += 1;
                    d.taken += amount.0;
                }
            }
        }
        Event::RedPacketExpired { packet, refund, .. } => match b.packet_at.get(&(shard, packet.0)) {
            Some(&i) => {
                let p = &mut b.packets[i];
                p.remaining -= refund.0;
                p.status = "expired";
                p.refund = Some(refund.0);
            }
            None => packet_delta(b, shard, packet.0).expired_refund = Some(refund.0),
        },
        Event::TransferSent { transfer: t, .. } | Event::TransferReceived { transfer: t, .. } => {
            let (side, account_no) = match e {
                Event::TransferReceived { account, .. } => ("received", Some(account.0)),
                _ => ("sent", None),
            };
            let croupier_domain::command::TransferSource::PacketShare { packet, share } = t.source;
            b.transfers.push(ShardTransferRow {
                from_shard: t.from,
                to_shard: t.to,
                seq: t.seq,
                side,
                user_id: user_column(t.user.0)?,
                currency: t.currency.as_str().to_owned(),
                amount: t.amount.0,
                packet_id: packet.as_str().to_owned(),
                share,
                account_no,
                position,
            });
        }
        // Only in `events`: configuration, limits, exclusions, bookmaker idempotency records,
        // topology and acknowledgements change no table of their own (currencies and accounts
        // were handled above).
        Event::Configured(_)
        | Event::CurrencyDefined { .. }
        | Event::GameDefined { .. }
        | Event::AccountOpened { .. }
        | Event::LimitsSet { .. }
        | Event::SelfExcluded { .. }
        | Event::PartnerRefundRemembered { .. }
        | Event::PartnerRefundRememberedFor { .. }
        | Event::PartnerTransactionRecorded { .. }
        | Event::TopologySet(_)
        | Event::TransfersAcked { .. } => {}
        // The games' own tables (`rows::games`); their money is in `wallet_ledger` (above).
        Event::Crash(c) => games::map_crash(book, shard, position, c, b)?,
        Event::Instant(i) => games::map_instant(book, shard, position, i, b, lookup)?,
    }
    Ok(())
}

fn apply_status(r: &mut RoundRow, code: i16, at: i64) {
    r.game_status = code;
    // Seed 000: game_stop writes bet_stop_time; game_end ends the round.
    if code == status_code(RoundStatus::Stopped) {
        r.bet_stop_time = at;
    } else if code == status_code(RoundStatus::Ended) {
        r.ended_at = Some(at);
    }
}

fn settle(b: &mut Batch, shard: u32, bet: u32, outcome: &'static str, payout: i64, at: i64) {
    if let Some(&i) = b.order_at.get(&(shard, bet)) {
        let o = &mut b.orders[i];
        o.bill_status = 2;
        o.outcome = Some(outcome);
        o.payout = Some(payout);
        o.settled_at = Some(at);
        return;
    }
    let s = OrderSettle { shard, bet_id: bet, bill_status: 2, outcome, payout, settled_at: at };
    match b.settle_at.get(&(shard, bet)) {
        Some(&i) => b.order_settles[i] = s,
        None => {
            b.settle_at.insert((shard, bet), b.order_settles.len());
            b.order_settles.push(s);
        }
    }
}

fn packet_delta(b: &mut Batch, shard: u32, packet: u32) -> &mut PacketDelta {
    let i = *b.delta_at.entry((shard, packet)).or_insert_with(|| {
        b.packet_deltas.push(((shard, packet), PacketDelta::default()));
        b.packet_deltas.len() - 1
    });
    &mut b.packet_deltas[i].1
}

fn ledger_rows(book: &mut ShardBook, shard: u32, position: u64, idx: u32, e: &Event, at: Option<i64>, b: &mut Batch) {
    let mut lines = Vec::new();
    ledger::entries(e, |a| book.currency_of(a), |entry| lines.push(entry));
    for (n, entry) in lines.into_iter().enumerate() {
        let currency = book.code(book.currency_of_ledger(entry.from));
        let (ref_kind, reference) = reference_cols(entry.reference);
        let reason = reason_name(entry.reason);
        let from = book.balances.entry(entry.from).or_default();
        *from -= entry.amount.0;
        let from_after = *from;
        let to = book.balances.entry(entry.to).or_default();
        *to += entry.amount.0;
        let to_after = *to;
        b.touched.insert((shard, entry.from), ());
        b.touched.insert((shard, entry.to), ());
        let (fk, fr) = ledger_key(entry.from);
        let (tk, tr) = ledger_key(entry.to);
        let row = |line, kind, r, ck, cr, amount, after| LedgerRow {
            shard,
            position,
            idx,
            line,
            account_kind: kind,
            account_ref: r,
            currency: currency.clone(),
            counter_kind: ck,
            counter_ref: cr,
            amount,
            balance_after: after,
            reason,
            ref_kind,
            reference: reference.clone(),
            at,
        };
        b.ledger.push(row(2 * n as u32, fk, fr, tk, tr, -entry.amount.0, from_after));
        b.ledger.push(row(2 * n as u32 + 1, tk, tr, fk, fr, entry.amount.0, to_after));
    }
}

/// Fills `batch.balances` with the final balance of every ledger account the batch touched.
pub fn finish_balances(books: &FxHashMap<u32, ShardBook>, batch: &mut Batch) {
    let mut keys: Vec<(u32, LedgerAccount)> = batch.touched.keys().copied().collect();
    keys.sort();
    for (shard, a) in keys {
        let book = &books[&shard];
        let (kind, r) = ledger_key(a);
        batch.balances.push(BalanceRow {
            shard,
            account_kind: kind,
            account_ref: r,
            currency: book.code(book.currency_of_ledger(a)),
            balance: book.balances.get(&a).copied().unwrap_or(0),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use croupier_domain::ids::{AccountNo, CurrencyId};
    use croupier_domain::UserId;

    #[test]
    fn user_ids_are_stored_exactly_or_refused() {
        assert_eq!(user_column(0), Ok(0));
        assert_eq!(user_column(i64::MAX as u64), Ok(i64::MAX));
        // 2^63 + 5 used to be stored as -9223372036854775803.
        let e = user_column((1u64 << 63) + 5).unwrap_err();
        assert!(e.contains("9223372036854775813"), "{e}");

        let mut book = ShardBook::default();
        let mut batch = Batch::default();
        let opened = |user| Event::AccountOpened { account: AccountNo(0), user: UserId(user), currency: CurrencyId(0) };
        map_command(&mut book, 0, 1, &[opened(42)], &mut batch).unwrap();
        assert_eq!(batch.accounts[0].user_id, 42);
        let err = map_command(&mut book, 0, 2, &[opened(u64::MAX)], &mut batch).unwrap_err();
        assert!(matches!(err, crate::ProjectError::Unprojectable { shard: 0, seq: 2, .. }), "{err}");
        assert_eq!(batch.accounts.len(), 1, "no row with a wrong user id");
    }
}
