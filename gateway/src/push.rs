//! Push: what WebSocket clients see, fed by tailing each shard's journal.
//!
//! One thread per shard follows its journal with a [`TailReader`] held to the shard's durable
//! watermark, so nothing is pushed that a crash could still take back (nor before the caller
//! got its answer, in `fsync` mode). Each event becomes at most a couple of small messages
//! (no JSON until a subscriber wants one), tagged with the shard and journal position of its
//! record and with its topics. The [`Hub`] keeps the last messages of each shard in a bounded
//! buffer for clients that resume, and fans messages out to subscribers through bounded
//! queues: a subscriber whose queue is full is dropped, never waited for.

use crate::activity::{ActivityFeed, Finished, Finishes};
use crate::amount;
use crate::operator::{status_name, OutcomeName};
use croupier_domain::ids::{AccountNo, PacketNo};
use croupier_domain::{Event, ExtId, Money, UserId};
use croupier_feed::{Directory, ShardFeed};
use croupier_journal::DurableWatch;
use croupier_runtime::round_coordinator;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::mpsc;

/// What a client subscribes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `round:<round_id>`: the round's lifecycle (opened, status, draw).
    Round(ExtId),
    /// `balance`: the subscriber's own balance changes (needs a token).
    Balance(UserId),
    /// `bets`: every accepted bet, without who placed it.
    Bets,
    /// `packet:<sender>:<packet_id>`: a red packet, its grabs and its expiry.
    Packet(UserId, ExtId),
    /// `crash:<channel>`: a crash channel's terms (opened, bets closed, flying, crashed with
    /// its hash, cancelled), its bets and cashouts, without who placed them.
    Crash(ExtId),
    /// `activity`: the lobby's live feed of finished instant bets, in batches
    /// ([`crate::activity`]); not replayed on resume (its history has its own request).
    Activity,
}

impl Topic {
    /// Parses a topic name; `user` is the token's player, needed for `balance`.
    pub fn parse(s: &str, user: Option<UserId>) -> Result<Topic, String> {
        if s == "bets" {
            return Ok(Topic::Bets);
        }
        if s == "activity" {
            return Ok(Topic::Activity);
        }
        if s == "balance" {
            return user.map(Topic::Balance).ok_or_else(|| "topic balance needs a session token".into());
        }
        if let Some(id) = s.strip_prefix("round:") {
            return ExtId::new(id).map(Topic::Round).map_err(|e| format!("round id: {e}"));
        }
        if let Some(id) = s.strip_prefix("crash:") {
            return ExtId::new(id).map(Topic::Crash).map_err(|e| format!("crash channel id: {e}"));
        }
        if let Some(rest) = s.strip_prefix("packet:") {
            let (sender, id) = rest.split_once(':').ok_or("topic packet:<sender>:<packet_id>")?;
            let sender: u64 = sender.parse().map_err(|_| "packet sender must be a user id")?;
            return ExtId::new(id).map(|id| Topic::Packet(UserId(sender), id)).map_err(|e| format!("packet id: {e}"));
        }
        Err(format!(
            "unknown topic {}: bets, balance, activity, round:<id>, packet:<sender>:<id>, crash:<channel>",
            crate::error::quote(s)
        ))
    }

    pub fn name(&self) -> String {
        match self {
            Topic::Round(id) => format!("round:{}", id.as_str()),
            Topic::Balance(_) => "balance".into(),
            Topic::Bets => "bets".into(),
            Topic::Packet(s, id) => format!("packet:{}:{}", s.0, id.as_str()),
            Topic::Crash(id) => format!("crash:{}", id.as_str()),
            Topic::Activity => "activity".into(),
        }
    }
}

/// An amount with its currency's exponent: a decimal string in JSON.
#[derive(Clone, Copy, Debug)]
pub struct Amount(pub Money, pub u8);

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&amount::format(self.0, self.1))
    }
}

/// The event of a push message, as the client sees it under `event`.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PushEvent {
    RoundOpened {
        round_id: ExtId,
        bet_start_time: u64,
        bet_stop_time: u64,
    },
    RoundStatus {
        round_id: ExtId,
        status: &'static str,
        game_status: u8,
        at: u64,
    },
    /// The draw result; the round is then drawn (`game_status` 5) and its bets settled.
    RoundDrawn {
        round_id: ExtId,
        game_status: u8,
        outcomes: Vec<OutcomeName>,
        corrected: bool,
        at: u64,
    },
    /// `user_id` is left out on the public `bets` feed.
    BetAccepted {
        #[serde(skip_serializing_if = "Option::is_none")]
        user_id: Option<u64>,
        bet_id: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        order_no: Option<ExtId>,
        round_id: Option<ExtId>,
        selection: u16,
        amount: Amount,
        at: u64,
    },
    BetSettled {
        bet_id: u32,
        outcome: OutcomeName,
        stake: Amount,
        payout: Amount,
    },
    BetResettled {
        bet_id: u32,
        from: OutcomeName,
        to: OutcomeName,
        from_payout: Amount,
        to_payout: Amount,
    },
    Deposited {
        amount: Amount,
    },
    Withdrawn {
        amount: Amount,
    },
    PacketSent {
        sender: u64,
        packet_id: ExtId,
        total: Amount,
        shares: u32,
        expires_at: u64,
    },
    PacketGrabbed {
        sender: u64,
        packet_id: ExtId,
        user_id: u64,
        share: u32,
        amount: Amount,
    },
    /// A share grabbed from a packet on another shard, credited to the grabber.
    ShareReceived {
        packet_id: ExtId,
        share: u32,
        amount: Amount,
    },
    PacketExpired {
        sender: u64,
        packet_id: ExtId,
        refund: Amount,
    },
    CrashChannelPaused {
        channel: ExtId,
        paused: bool,
    },
    /// Bets are open until `starting_at`.
    CrashTermOpened {
        channel: ExtId,
        number: u64,
        at: u64,
        starting_at: u64,
    },
    CrashTermStarting {
        channel: ExtId,
        number: u64,
        at: u64,
    },
    /// Take-off: the multiplier is `floor(100 · e^(0.00006 · ms since at))` hundredths. The
    /// crash point and game hash stay secret until the crash.
    CrashTermFlying {
        channel: ExtId,
        number: u64,
        at: u64,
    },
    /// The crash, with the game's hash (check it with bustabit's verifier and the salt).
    CrashTermCrashed {
        channel: ExtId,
        number: u64,
        at: u64,
        game: u64,
        hash: String,
        crash_point: String,
    },
    CrashTermCancelled {
        channel: ExtId,
        number: u64,
        at: u64,
    },
    /// `user_id` and `order_no` only on the player's own `balance` topic.
    CrashBetPlaced {
        channel: ExtId,
        number: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        user_id: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        order_no: Option<ExtId>,
        amount: Amount,
        #[serde(skip_serializing_if = "Option::is_none")]
        auto_cashout: Option<String>,
        at: u64,
    },
    /// `user_id` and `order_no` only on the player's own `balance` topic.
    CrashCashedOut {
        channel: ExtId,
        number: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        user_id: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        order_no: Option<ExtId>,
        amount: Amount,
        multiplier: String,
        payout: Amount,
        /// `manual`, `auto` or `cap` (the term's published profit cap was reached).
        kind: &'static str,
        at: u64,
    },
    /// Cashouts of the term on one shard beyond the first
    /// [`PUBLIC_CASHOUTS_PER_TERM`], which were not pushed one by one.
    CrashCashoutsSummary {
        channel: ExtId,
        number: u64,
        shard: u32,
        cashouts: u64,
        not_pushed: u64,
    },
    /// The player's own bet lost, or came back (`cancelled` by the player, or refunded by
    /// an emergency stop).
    CrashBetEnded {
        channel: ExtId,
        number: u64,
        order_no: ExtId,
        state: &'static str,
        amount: Amount,
    },
}

/// Most cashouts of one term one shard pushes one by one on `crash:<channel>`; the rest are
/// counted in one `crash_cashouts_summary` when the term ends. A crash settles every auto
/// cashout of the term in one command (100,000 in the benchmark's term): one message each
/// would overflow every subscriber's queue and get them all dropped, and no client shows
/// that many. Each player still gets their own on `balance`.
pub const PUBLIC_CASHOUTS_PER_TERM: u32 = 100;

/// What push remembers of the crash game to name its events: channel ids, each term's
/// channel and number, each *open* bet's term, player and order number (forgotten when the
/// bet ends, so it stays as small as the open bets), and per running term the cashouts
/// pushed and counted.
#[derive(Default)]
struct CrashNames {
    channels: Vec<ExtId>,
    terms: Vec<(u32, u64)>,
    bets: HashMap<u32, (u32, UserId, ExtId)>,
    cashouts: HashMap<u32, (u32, u64)>,
}

impl CrashNames {
    /// A term's channel id and number.
    fn term(&self, term: u32) -> Option<(ExtId, u64)> {
        let (ch, number) = *self.terms.get(term as usize)?;
        Some((*self.channels.get(ch as usize)?, number))
    }
}

/// One message: an event of the record at `position` in shard `shard`'s journal, under one
/// or two topics.
#[derive(Clone, Debug)]
pub struct PushMsg {
    pub shard: u32,
    pub position: u64,
    pub topics: (Topic, Option<Topic>),
    pub event: PushEvent,
}

impl PushMsg {
    fn has(&self, t: &Topic) -> bool {
        self.topics.0 == *t || self.topics.1.as_ref() == Some(t)
    }

    /// The JSON a subscriber of `topic` receives.
    pub fn to_json(&self, topic: &Topic) -> String {
        let mut event = self.event.clone();
        match (topic, &mut event) {
            (Topic::Bets, PushEvent::BetAccepted { user_id, order_no, .. })
            | (Topic::Crash(_), PushEvent::CrashBetPlaced { user_id, order_no, .. })
            | (Topic::Crash(_), PushEvent::CrashCashedOut { user_id, order_no, .. }) => {
                *user_id = None;
                *order_no = None;
            }
            _ => {}
        }
        #[derive(Serialize)]
        struct Out<'a> {
            r#type: &'static str,
            topic: String,
            shard: u32,
            position: u64,
            event: &'a PushEvent,
        }
        let out =
            Out { r#type: "event", topic: topic.name(), shard: self.shard, position: self.position, event: &event };
        serde_json::to_string(&out).unwrap_or_default()
    }
}

/// What a subscriber's queue carries.
#[derive(Clone, Debug)]
pub enum Delivery {
    Msg(Arc<PushMsg>, Topic),
    /// The buffer no longer holds what came after the client's position on this shard.
    Reload {
        shard: u32,
        oldest: u64,
    },
    /// A message made once for every subscriber of its topic (the activity feed's batches).
    Live(Arc<str>),
}

struct Subscriber {
    id: u64,
    tx: mpsc::Sender<Delivery>,
}

struct ShardBuf {
    buf: VecDeque<Arc<PushMsg>>,
    /// Highest position whose messages may have left the buffer: a client at or after it
    /// can resume from the buffer.
    complete_after: u64,
    /// Last position published.
    head: u64,
}

struct HubInner {
    shards: Vec<ShardBuf>,
    subs: HashMap<Topic, Vec<Subscriber>>,
    next_id: u64,
}

pub struct Hub {
    inner: Mutex<HubInner>,
    capacity: usize,
    /// Per shard: journal records durable but not yet pushed.
    lag: Vec<AtomicU64>,
    /// Subscribers dropped for being too slow.
    pub dropped: AtomicU64,
}

impl Hub {
    pub fn new(shards: usize, capacity: usize) -> Hub {
        Hub {
            inner: Mutex::new(HubInner {
                shards: (0..shards).map(|_| ShardBuf { buf: VecDeque::new(), complete_after: 0, head: 0 }).collect(),
                subs: HashMap::new(),
                next_id: 1,
            }),
            capacity: capacity.max(1),
            lag: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            dropped: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn lags(&self) -> Vec<u64> {
        self.lag.iter().map(|l| l.load(Ordering::Relaxed)).collect()
    }

    /// Each shard's last published position.
    pub fn heads(&self) -> Vec<u64> {
        self.lock().shards.iter().map(|s| s.head).collect()
    }

    /// Where a shard's push starts (messages up to `position` were never buffered).
    fn start_at(&self, shard: usize, position: u64) {
        let mut g = self.lock();
        let s = &mut g.shards[shard];
        s.complete_after = position;
        s.head = position;
    }

    /// Publishes shard `shard`'s messages up to `position`, in order.
    fn publish(&self, shard: usize, position: u64, msgs: Vec<PushMsg>) {
        let mut g = self.lock();
        let inner = &mut *g;
        let mut slow = Vec::new();
        for m in msgs {
            let m = Arc::new(m);
            for t in std::iter::once(&m.topics.0).chain(m.topics.1.as_ref()) {
                if let Some(list) = inner.subs.get(t) {
                    for s in list {
                        if s.tx.try_send(Delivery::Msg(m.clone(), *t)).is_err() {
                            slow.push(s.id);
                        }
                    }
                }
            }
            let sb = &mut inner.shards[shard];
            if sb.buf.len() == self.capacity {
                if let Some(old) = sb.buf.pop_front() {
                    // Messages of one record share a position: the client must resume after it.
                    sb.complete_after = sb.complete_after.max(old.position);
                }
            }
            sb.buf.push_back(m);
        }
        inner.shards[shard].head = position;
        self.drop_slow(inner, &slow);
    }

    /// Sends `text` to every subscriber of `topic`, buffering nothing for resumes.
    pub fn broadcast(&self, topic: Topic, text: Arc<str>) {
        let mut g = self.lock();
        let inner = &mut *g;
        let Some(list) = inner.subs.get(&topic) else { return };
        let slow: Vec<u64> =
            list.iter().filter(|s| s.tx.try_send(Delivery::Live(text.clone())).is_err()).map(|s| s.id).collect();
        self.drop_slow(inner, &slow);
    }

    /// Lets go of subscribers whose queue was full.
    fn drop_slow(&self, inner: &mut HubInner, slow: &[u64]) {
        if slow.is_empty() {
            return;
        }
        self.dropped.fetch_add(slow.len() as u64, Ordering::Relaxed);
        // Dropping every sender of a subscriber closes its queue: it sees the end.
        for list in inner.subs.values_mut() {
            list.retain(|s| !slow.contains(&s.id));
        }
        inner.subs.retain(|_, l| !l.is_empty());
    }

    /// Subscribes to `topics` and returns the subscriber id (for [`Hub::unsubscribe`]) and,
    /// with `resume` (per shard, the last position the client saw), what it missed: the
    /// buffered messages of its topics, or a reload notice for a shard whose buffer no longer
    /// reaches back that far or holds more than `max_replay` messages after it.
    ///
    /// The lock is held only to register the queue and clone at most `max_replay` `Arc`s per
    /// shard; the caller sends the backlog itself, before anything from the queue, so a
    /// resume never stalls publishers and cannot overflow the queue. Messages published after
    /// the lock was let go go to the queue only: nothing is missed or repeated.
    pub fn subscribe(
        &self,
        id: Option<u64>,
        topics: &[Topic],
        resume: &HashMap<u32, u64>,
        tx: &mpsc::Sender<Delivery>,
        max_replay: usize,
    ) -> (u64, Vec<Delivery>) {
        let (id, missed) = {
            let mut g = self.lock();
            let inner = &mut *g;
            let id = id.unwrap_or_else(|| {
                inner.next_id += 1;
                inner.next_id
            });
            let missed: Vec<Missed> =
                resume.iter().filter_map(|(&shard, &from)| missed(&inner.shards, shard, from, max_replay)).collect();
            for t in topics {
                let list = inner.subs.entry(*t).or_default();
                if !list.iter().any(|s| s.id == id) {
                    list.push(Subscriber { id, tx: tx.clone() });
                }
            }
            (id, missed)
        };
        (id, backlog(missed, topics))
    }

    pub fn unsubscribe(&self, id: u64) {
        let mut g = self.lock();
        for list in g.subs.values_mut() {
            list.retain(|s| s.id != id);
        }
        g.subs.retain(|_, l| !l.is_empty());
    }
}

/// A shard's part of a resume, taken under the hub's lock.
enum Missed {
    Reload { shard: u32, oldest: u64 },
    Msgs(Vec<Arc<PushMsg>>),
}

/// What shard `shard`'s buffer holds after position `from`, if at most `max_replay` messages.
fn missed(shards: &[ShardBuf], shard: u32, from: u64, max_replay: usize) -> Option<Missed> {
    let sb = shards.get(shard as usize)?;
    if from < sb.complete_after {
        return Some(Missed::Reload { shard, oldest: sb.complete_after });
    }
    // Positions only grow along the buffer: the first message after `from` is found by halving.
    let start = sb.buf.partition_point(|m| m.position <= from);
    let count = sb.buf.len() - start;
    if count > max_replay {
        // A client at or after this position would get at most `max_replay` messages
        // (`count > max_replay` makes the index valid).
        let oldest = sb.buf[sb.buf.len() - max_replay - 1].position;
        return Some(Missed::Reload { shard, oldest });
    }
    Some(Missed::Msgs(sb.buf.range(start..).cloned().collect()))
}

/// The deliveries of `missed` for `topics`, outside the lock.
fn backlog(missed: Vec<Missed>, topics: &[Topic]) -> Vec<Delivery> {
    let mut out = Vec::new();
    for m in missed {
        match m {
            Missed::Reload { shard, oldest } => out.push(Delivery::Reload { shard, oldest }),
            Missed::Msgs(msgs) => {
                for m in msgs {
                    for t in topics.iter().filter(|t| m.has(t)) {
                        out.push(Delivery::Msg(m.clone(), *t));
                    }
                }
            }
        }
    }
    out
}

/// An account's player and its currency's decimals, as push names them; an account the
/// directory does not know (never, for a feed read from the journal's start) shows as user 0.
fn named(n: &Directory, account: AccountNo) -> (UserId, u8) {
    n.account(account).map_or((UserId(0), 0), |(user, _)| (user, n.exponent_of(account).unwrap_or(0)))
}

/// A packet's id, its sender and its currency's decimals.
fn packet_named(n: &Directory, packet: PacketNo) -> Option<(ExtId, UserId, u8)> {
    let (id, sender) = n.packet(packet)?;
    let (user, x) = named(n, sender);
    Some((id, user, x))
}

/// Turns one event into messages (and learns names from it).
fn translate(
    shard: u32,
    shards: usize,
    position: u64,
    e: &Event,
    n: &mut Directory,
    crash: &mut CrashNames,
    out: &mut Vec<PushMsg>,
) {
    n.learn(e);
    let mut push = |t: Topic, t2: Option<Topic>, event: PushEvent| {
        out.push(PushMsg { shard, position, topics: (t, t2), event });
    };
    let coordinates = |id: &ExtId| round_coordinator(id, shards) == shard as usize;
    match e {
        Event::Deposited { account, amount, .. } => {
            let (u, x) = named(n, *account);
            push(Topic::Balance(u), None, PushEvent::Deposited { amount: Amount(*amount, x) });
        }
        Event::Withdrawn { account, amount, .. } => {
            let (u, x) = named(n, *account);
            push(Topic::Balance(u), None, PushEvent::Withdrawn { amount: Amount(*amount, x) });
        }
        Event::RoundOpened { id, bet_start, bet_stop, .. } => {
            if coordinates(id) {
                let ev =
                    PushEvent::RoundOpened { round_id: *id, bet_start_time: bet_start.0, bet_stop_time: bet_stop.0 };
                push(Topic::Round(*id), None, ev);
            }
        }
        Event::RoundStatusChanged { round, status, at } => {
            let id = n.round(*round);
            if let Some(id) = id.filter(|id| coordinates(id)) {
                let ev = PushEvent::RoundStatus {
                    round_id: id,
                    status: status_name(*status),
                    game_status: status.code(),
                    at: at.0,
                };
                push(Topic::Round(id), None, ev);
            }
        }
        Event::RoundDrawn { round, result, corrected, at } => {
            let id = n.round(*round);
            if let Some(id) = id.filter(|id| coordinates(id)) {
                let outcomes = result.outcomes.iter().map(|o| OutcomeName::from(*o)).collect();
                push(
                    Topic::Round(id),
                    None,
                    PushEvent::RoundDrawn { round_id: id, game_status: 5, outcomes, corrected: *corrected, at: at.0 },
                );
            }
        }
        Event::BetAccepted(b) => {
            let (u, x) = named(n, b.account);
            let ev = PushEvent::BetAccepted {
                user_id: Some(u.0),
                bet_id: b.bet.0,
                order_no: Some(b.order_no),
                round_id: b.round.and_then(|r| n.round(r)),
                selection: b.selection.0,
                amount: Amount(b.stake, x),
                at: b.at.0,
            };
            push(Topic::Balance(u), Some(Topic::Bets), ev);
        }
        Event::BetSettled { bet, account, stake, outcome, payout, .. } => {
            let (u, x) = named(n, *account);
            let ev = PushEvent::BetSettled {
                bet_id: bet.0,
                outcome: (*outcome).into(),
                stake: Amount(*stake, x),
                payout: Amount(*payout, x),
            };
            push(Topic::Balance(u), None, ev);
        }
        Event::BetResettled { bet, account, from, from_payout, to, to_payout, .. } => {
            let (u, x) = named(n, *account);
            let ev = PushEvent::BetResettled {
                bet_id: bet.0,
                from: (*from).into(),
                to: (*to).into(),
                from_payout: Amount(*from_payout, x),
                to_payout: Amount(*to_payout, x),
            };
            push(Topic::Balance(u), None, ev);
        }
        Event::RedPacketSent(p) => {
            let (u, x) = named(n, p.account);
            let ev = PushEvent::PacketSent {
                sender: u.0,
                packet_id: p.id,
                total: Amount(p.total, x),
                shares: p.shares,
                expires_at: p.expires_at.0,
            };
            push(Topic::Packet(u, p.id), Some(Topic::Balance(u)), ev);
        }
        Event::RedPacketGrabbed { packet, account, user, share, amount } => {
            let Some((id, sender, x)) = packet_named(n, *packet) else { return };
            let ev = PushEvent::PacketGrabbed {
                sender: sender.0,
                packet_id: id,
                user_id: user.0,
                share: *share,
                amount: Amount(*amount, x),
            };
            push(Topic::Packet(sender, id), account.map(|_| Topic::Balance(*user)), ev);
        }
        Event::TransferReceived { transfer, account } => {
            let x = named(n, *account).1;
            let croupier_domain::command::TransferSource::PacketShare { packet, share } = transfer.source;
            push(
                Topic::Balance(transfer.user),
                None,
                PushEvent::ShareReceived { packet_id: packet, share, amount: Amount(transfer.amount, x) },
            );
        }
        Event::RedPacketExpired { packet, account, refund } => {
            let Some((id, sender, x)) = packet_named(n, *packet) else { return };
            let _ = account;
            let ev = PushEvent::PacketExpired { sender: sender.0, packet_id: id, refund: Amount(*refund, x) };
            push(Topic::Packet(sender, id), Some(Topic::Balance(sender)), ev);
        }
        // Not pushed: configuration, limits and the runtime's bookkeeping between shards
        // (a transfer is pushed once, as `share_received`, where it is credited). Named one
        // by one so that a new event is a compile error here until someone decides.
        Event::Configured(_)
        | Event::CurrencyDefined { .. }
        | Event::AccountOpened { .. }
        | Event::GameDefined { .. }
        | Event::LimitsSet { .. }
        | Event::SelfExcluded { .. }
        | Event::PartnerRefundRemembered { .. }
        | Event::PartnerRefundRememberedFor { .. }
        | Event::PartnerTransactionRecorded { .. }
        | Event::TopologySet(_)
        | Event::TransferSent { .. }
        | Event::TransfersAcked { .. } => {}
        // Who may grab is in the packet's view; a grab's push already names the grabber.
        Event::RedPacketRecipients { .. } => {}
        Event::Crash(c) => translate_crash(shard, c, n, crash, coordinates, push),
        // Instant games: their finished bets go to the activity feed (see `tail`), not here.
        Event::Instant(_) => {}
    }
}

/// The crash game's events. Channel and term events are on every shard (broadcast): only
/// the channel's coordinator shard pushes them. Bets are on their player's shard, pushed to
/// the channel's topic (without who) and to the player's own `balance` topic. `TermFlying`
/// carries the game hash and crash point: only its time is pushed; they come with the crash.
fn translate_crash(
    shard: u32,
    c: &croupier_domain::crash::CrashEvent,
    n: &Directory,
    names: &mut CrashNames,
    coordinates: impl Fn(&ExtId) -> bool,
    mut push: impl FnMut(Topic, Option<Topic>, PushEvent),
) {
    use croupier_domain::crash::fair::{format_multiplier, to_hex};
    use croupier_domain::crash::CrashEvent as C;
    let term_event = |names: &CrashNames,
                      term: u32,
                      make: &dyn Fn(ExtId, u64) -> PushEvent,
                      push: &mut dyn FnMut(Topic, Option<Topic>, PushEvent)| {
        if let Some((ch, number)) = names.term(term).filter(|(ch, _)| coordinates(ch)) {
            push(Topic::Crash(ch), None, make(ch, number));
        }
    };
    match c {
        C::ChannelCreated { channel, def } => {
            let i = channel.index();
            if names.channels.len() <= i {
                names.channels.resize(i + 1, def.channel);
            }
            names.channels[i] = def.channel;
        }
        C::ChannelPaused { channel, paused } => {
            if let Some(ch) = names.channels.get(channel.index()).copied().filter(|ch| coordinates(ch)) {
                push(Topic::Crash(ch), None, PushEvent::CrashChannelPaused { channel: ch, paused: *paused });
            }
        }
        C::TermOpened { term, channel, number, at, starting_at } => {
            let i = term.index();
            if names.terms.len() <= i {
                names.terms.resize(i + 1, (channel.0, *number));
            }
            names.terms[i] = (channel.0, *number);
            let (at, starting_at) = (at.0, starting_at.0);
            term_event(
                names,
                term.0,
                &|channel, number| PushEvent::CrashTermOpened { channel, number, at, starting_at },
                &mut push,
            );
        }
        C::TermStarting { term, at } => {
            let at = at.0;
            term_event(
                names,
                term.0,
                &|channel, number| PushEvent::CrashTermStarting { channel, number, at },
                &mut push,
            );
        }
        C::TermFlying { term, flight } => {
            let at = flight.at.0;
            term_event(names, term.0, &|channel, number| PushEvent::CrashTermFlying { channel, number, at }, &mut push);
        }
        C::TermCrashed { term, at, game, hash, crash_point } => {
            let (at, game, hash, point) = (at.0, *game, to_hex(hash), format_multiplier(*crash_point));
            term_event(
                names,
                term.0,
                &|channel, number| PushEvent::CrashTermCrashed {
                    channel,
                    number,
                    at,
                    game,
                    hash: hash.clone(),
                    crash_point: point.clone(),
                },
                &mut push,
            );
        }
        C::TermCancelled { term, at } => {
            cashout_summary(shard, names, term.0, &mut push);
            let at = at.0;
            term_event(
                names,
                term.0,
                &|channel, number| PushEvent::CrashTermCancelled { channel, number, at },
                &mut push,
            );
        }
        C::TermClosed { term, .. } => cashout_summary(shard, names, term.0, &mut push),
        C::BetPlaced(b) => {
            names.bets.insert(b.bet.0, (b.term.0, b.user, b.order_no));
            let Some((channel, number)) = names.term(b.term.0) else { return };
            let x = named(n, b.account).1;
            let ev = PushEvent::CrashBetPlaced {
                channel,
                number,
                user_id: Some(b.user.0),
                order_no: Some(b.order_no),
                amount: Amount(b.stake, x),
                auto_cashout: b.requested.map(format_multiplier),
                at: b.at.0,
            };
            push(Topic::Crash(channel), Some(Topic::Balance(b.user)), ev);
        }
        C::CashedOut { bet, account, stake, multiplier, payout, kind, at } => {
            let Some((term, user, order_no)) = names.bets.remove(&bet.0) else { return };
            let Some((channel, number)) = names.term(term) else { return };
            let x = named(n, *account).1;
            let ev = PushEvent::CrashCashedOut {
                channel,
                number,
                user_id: Some(user.0),
                order_no: Some(order_no),
                amount: Amount(*stake, x),
                multiplier: format_multiplier(*multiplier),
                payout: Amount(*payout, x),
                kind: kind.name(),
                at: at.0,
            };
            let (shown, total) = names.cashouts.entry(term).or_default();
            *total += 1;
            if *shown < PUBLIC_CASHOUTS_PER_TERM {
                *shown += 1;
                push(Topic::Crash(channel), Some(Topic::Balance(user)), ev);
            } else {
                push(Topic::Balance(user), None, ev);
            }
        }
        C::BetLost { bet, account, stake, .. } | C::BetReturned { bet, account, stake, .. } => {
            let Some((term, user, order_no)) = names.bets.remove(&bet.0) else { return };
            let Some((channel, number)) = names.term(term) else { return };
            let state = match c {
                C::BetReturned { cancelled: true, .. } => "cancelled",
                C::BetReturned { .. } => "refunded",
                _ => "lost",
            };
            let ev = PushEvent::CrashBetEnded {
                channel,
                number,
                order_no,
                state,
                amount: Amount(*stake, named(n, *account).1),
            };
            push(Topic::Balance(user), None, ev);
        }
    }
}

/// At a term's end on this shard: how many of its cashouts were not pushed one by one.
fn cashout_summary(
    shard: u32,
    names: &mut CrashNames,
    term: u32,
    push: &mut impl FnMut(Topic, Option<Topic>, PushEvent),
) {
    let Some((shown, total)) = names.cashouts.remove(&term) else { return };
    let Some((channel, number)) = names.term(term) else { return };
    if total > u64::from(shown) {
        let ev = PushEvent::CrashCashoutsSummary {
            channel,
            number,
            shard,
            cashouts: total,
            not_pushed: total - u64::from(shown),
        };
        push(Topic::Crash(channel), None, ev);
    }
}

/// The tail threads, one per shard.
pub struct Pusher {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Pusher {
    /// Starts following each shard's journal in `data_dir`, publishing into `hub` what becomes
    /// durable from now on (the history before is read only to learn names).
    /// Finished instant bets are offered to `activity` (its history rebuilt from the journal,
    /// only what becomes durable from now on sent live).
    pub fn start(
        data_dir: PathBuf,
        watches: Vec<DurableWatch>,
        hub: Arc<Hub>,
        activity: Arc<ActivityFeed>,
    ) -> std::io::Result<Pusher> {
        let stop = Arc::new(AtomicBool::new(false));
        let shards = watches.len();
        let mut threads = Vec::new();
        for (i, watch) in watches.into_iter().enumerate() {
            let quiet_until = watch.durable_seq();
            hub.start_at(i, quiet_until);
            let feed = ShardFeed::open(&data_dir, i as u32, 0).follow_durable(watch.clone());
            let (hub, stop, activity) = (hub.clone(), stop.clone(), activity.clone());
            threads.push(std::thread::Builder::new().name(format!("push-{i}")).spawn(move || {
                let to = Outlets { hub: &hub, activity: &activity };
                tail(i, shards, feed, watch, quiet_until, to, &stop)
            })?);
        }
        Ok(Pusher { stop, threads })
    }

    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Records read before publishing what they produced: bounds the hub lock's hold time and
/// amortises it over many records.
const PUBLISH_EVERY: usize = 4096;

/// Pause of a caught-up tail thread: bounds push's added latency and its CPU.
const PUSH_POLL: Duration = Duration::from_millis(1);

/// Where a tail thread sends what it reads.
struct Outlets<'a> {
    hub: &'a Hub,
    activity: &'a ActivityFeed,
}

impl Outlets<'_> {
    /// Offers the finished bets read (`history`: before push started, only remembered) and
    /// sends the activity batches that are due.
    fn offer(&self, history: &[Finished], live: &[Finished]) {
        let now = crate::now_ms();
        let sent = [self.activity.offer(history, now, false), self.activity.offer(live, now, true)];
        for batch in sent.into_iter().flatten().chain(self.activity.due(now)) {
            self.hub.broadcast(Topic::Activity, batch.into());
        }
    }
}

fn tail(
    shard: usize,
    shards: usize,
    mut feed: ShardFeed,
    watch: DurableWatch,
    quiet_until: u64,
    to: Outlets<'_>,
    stop: &AtomicBool,
) {
    let mut names = Directory::default();
    let mut crash = CrashNames::default();
    let mut finishes = Finishes::default();
    let (mut msgs, mut history, mut live) = (Vec::new(), Vec::new(), Vec::new());
    while !stop.load(Ordering::Relaxed) {
        let mut last = 0;
        let read = feed.read(PUBLISH_EVERY as u64, |seq, events| {
            last = seq;
            let (out, done) = if seq > quiet_until { (&mut msgs, &mut live) } else { (&mut Vec::new(), &mut history) };
            for e in events {
                translate(shard as u32, shards, seq, e, &mut names, &mut crash, out);
                if let Event::Instant(i) = e {
                    done.extend(finishes.of(shard as u32, i, &names));
                }
            }
        });
        if last > quiet_until {
            to.hub.publish(shard, last, std::mem::take(&mut msgs));
        } else {
            msgs.clear();
        }
        to.offer(&history, &live);
        history.clear();
        live.clear();
        to.hub.lag[shard].store(watch.durable_seq().saturating_sub(feed.last_seq()), Ordering::Relaxed);
        match read {
            Err(e) => {
                eprintln!("push: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
            // Each poll re-reads the journal from the last seal onwards: polling a journal
            // that grows a few records at a time would copy far more than it decodes. Once
            // caught up, wait a millisecond so the next poll finds many records at once.
            Ok(r) if r.caught_up => std::thread::sleep(PUSH_POLL),
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use croupier_domain::crash::fair::crash_point;
    use croupier_domain::crash::{testkit, ChannelConfig, TermNo};
    use croupier_domain::ids::Timestamp;
    use croupier_domain::testkit::{default_limits, deposit, id, must, setup_commands};
    use croupier_domain::{Command, Engine};

    /// A term of 150 auto cashouts, through push: the channel's topic gets the term's phases,
    /// the first 100 cashouts without who and one summary of the other 50; every player gets
    /// their own cashout on `balance`; the flight's secret is not in any message.
    #[test]
    fn a_big_crash_is_pushed_in_bounded_messages_and_every_player_sees_their_own() {
        let mut e = Engine::default();
        let mut events = Vec::new();
        let run = |e: &mut Engine, cmd: &Command, at: u64, events: &mut Vec<Event>| {
            must(e, cmd, Timestamp(at));
            events.extend(e.events().iter().cloned());
        };
        for c in setup_commands(default_limits()) {
            run(&mut e, &c, 0, &mut events);
        }
        let chain = (0..)
            .map(|i| testkit::chain(&format!("push-{i}"), 1))
            .find(|c| crash_point(&c.game(1).unwrap(), testkit::salt().as_bytes()) >= 200)
            .unwrap();
        let config =
            ChannelConfig { pre_start_ms: 1_000, starting_ms: 0, pause_ms: 0, limits: vec![testkit::limits()] };
        run(&mut e, &testkit::create_channel(&chain, config), 0, &mut events);
        run(&mut e, &testkit::open(1), 0, &mut events);
        for user in 1..=150u64 {
            run(&mut e, &deposit(user, 10_000, user), 1, &mut events);
            run(&mut e, &testkit::bet(user, id("o"), 100, Some(150)), 2, &mut events);
        }
        run(&mut e, &testkit::close_bets(1), 1_000, &mut events);
        run(&mut e, &testkit::take_off(1, chain.game(1).unwrap()), 1_000, &mut events);
        let f = e.state().crash().term(TermNo(0)).flight.clone().unwrap();
        run(&mut e, &testkit::crash(1), 1_000 + f.crash_after_ms, &mut events);

        let (mut names, mut crash, mut out) = (Directory::default(), CrashNames::default(), Vec::new());
        for (i, ev) in events.iter().enumerate() {
            translate(0, 1, i as u64 + 1, ev, &mut names, &mut crash, &mut out);
        }
        let topic = Topic::Crash(id(testkit::CHANNEL));
        let public: Vec<String> = out.iter().filter(|m| m.has(&topic)).map(|m| m.to_json(&topic)).collect();
        let kinds = |k: &str| public.iter().filter(|j| j.contains(&format!("\"type\":\"{k}\""))).count();
        assert_eq!(kinds("crash_cashed_out"), PUBLIC_CASHOUTS_PER_TERM as usize);
        assert_eq!(kinds("crash_bet_placed"), 150);
        assert_eq!((kinds("crash_term_flying"), kinds("crash_term_crashed")), (1, 1));
        let summary: Vec<&String> = public.iter().filter(|j| j.contains("crash_cashouts_summary")).collect();
        assert_eq!(summary.len(), 1);
        assert!(summary[0].contains("\"cashouts\":150") && summary[0].contains("\"not_pushed\":50"), "{}", summary[0]);
        assert!(public.iter().all(|j| !j.contains("user_id") && !j.contains("order_no")), "nobody is named");
        let hash = croupier_domain::crash::fair::to_hex(&f.hash);
        let flying = public.iter().find(|j| j.contains("crash_term_flying")).unwrap();
        assert!(!flying.contains(&hash) && !flying.contains("crash_point"), "{flying}");
        for user in 1..=150u64 {
            let own = Topic::Balance(UserId(user));
            let mine =
                out.iter().filter(|m| m.has(&own) && matches!(m.event, PushEvent::CrashCashedOut { .. })).count();
            assert_eq!(mine, 1, "user {user} sees their own cashout");
        }
    }
}
