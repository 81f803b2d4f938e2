//! The sharded runtime: many producers over two shards, round broadcasts, backpressure and
//! commands that cannot be routed yet. Bounded loops only, no timing assertions.

use croupier_domain::command::{Command, PlaceBet, Topology, Transfer, TransferSource};
use croupier_domain::ids::{ExtId, SelectionId, Timestamp, UserId};
use croupier_domain::testkit::*;
use croupier_domain::{Money, Reject, Reply, State};
use croupier_journal::Durability;
use croupier_runtime::{shard_of, Completion, CompletionSlot, ManualClock, Runtime, RuntimeConfig};
use croupier_store::Answer;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const T0: u64 = 1_700_000_000_000;

fn config(dir: &Path, shards: usize, durability: Durability) -> RuntimeConfig {
    let mut cfg = RuntimeConfig::new(dir);
    cfg.shards = shards;
    cfg.durability = durability;
    cfg.clock = Arc::new(ManualClock::new(Timestamp(T0)));
    cfg.segment_bytes = 256 * 1024;
    cfg.snapshot_every_records = Some(700);
    cfg.keep_snapshots = 2;
    cfg
}

fn setup(rt: &Runtime) {
    for cmd in setup_commands(default_limits()) {
        rt.call(cmd.clone()).unwrap_or_else(|r| panic!("{cmd:?} refused: {r}"));
    }
}

fn bet(order: u64, user: u64, round: &str, selection: u16, stake: i64) -> Command {
    Command::PlaceBet(PlaceBet {
        order_no: ExtId::numbered("order-", order),
        user: UserId(user),
        round: id(round),
        selection: SelectionId(selection),
        stake: Money(stake),
        currency: code(CURRENCY),
        platform: code("ag"),
    })
}

fn start_round(round: &str) -> Command {
    Command::GameStart { round: id(round), game: id(GAME), window_ms: Some(3_600_000) }
}

/// Submits each command through its own slot (retrying on `BUSY`), then takes every answer.
fn run_window(rt: &Runtime, slots: &[Completion], cmds: &[Command]) -> Vec<Answer> {
    for (slot, cmd) in slots.iter().zip(cmds) {
        let mut tries = 0;
        while let Err(busy) = rt.submit(slot, cmd.clone()) {
            assert!(busy.retry_after_ms > 0);
            tries += 1;
            assert!(tries < 10_000, "shard never made room");
            std::thread::sleep(Duration::from_millis(busy.retry_after_ms));
        }
    }
    slots.iter().take(cmds.len()).map(|s| s.wait()).collect()
}

struct ShardView {
    digest: [u8; 32],
    sums: Vec<i128>,
    invariants: Result<(), String>,
    bets: usize,
}

fn view(rt: &Runtime, shard: usize) -> ShardView {
    rt.inspect(shard, |s: &State| ShardView {
        digest: s.digest(),
        sums: s.currency_sums(),
        invariants: s.check_invariants(),
        bets: s.bets().len(),
    })
    .expect("ring has room")
}

fn balance(rt: &Runtime, user: u64) -> Option<Money> {
    let shard = shard_of(UserId(user), rt.shards());
    rt.inspect(shard, move |s: &State| {
        let currency = s.currency_by_code(&code(CURRENCY))?;
        s.account_of(UserId(user), currency).map(|a| s.account(a).balance())
    })
    .expect("ring has room")
}

#[test]
fn many_producers_two_shards_then_restart() {
    const USERS: u64 = 200;
    const THREADS: u64 = 4;
    const PER_THREAD: usize = 2_000;
    const WINDOW: usize = 16;
    let dir = tempfile::tempdir().unwrap();
    let (rt, reports) = Runtime::start(config(dir.path(), 2, Durability::Process)).unwrap();
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| r.position == 0));
    setup(&rt);
    assert!(matches!(rt.call(start_round("round-1")), Ok(Reply::RoundOpened { .. })));

    let answered = AtomicU64::new(0);
    let bets_sent = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (rt, answered, bets_sent) = (&rt, &answered, &bets_sent);
            scope.spawn(move || {
                let slots: Vec<Completion> = (0..WINDOW).map(|_| CompletionSlot::new()).collect();
                let users: Vec<u64> = (0..USERS).filter(|u| u % THREADS == t).collect();
                let mut cmds: Vec<Command> =
                    users.iter().enumerate().map(|(k, &u)| deposit(u, 1_000_000, t * 100_000 + k as u64)).collect();
                let deposits = cmds.len();
                let mut bets = 0;
                while cmds.len() < PER_THREAD {
                    let n = cmds.len() as u64;
                    let user = users[cmds.len() % users.len()];
                    cmds.push(if n.is_multiple_of(10) {
                        Command::Withdraw {
                            transfer: ExtId::numbered("wd-", t * 100_000 + n),
                            user: UserId(user),
                            currency: code(CURRENCY),
                            amount: Money(50),
                        }
                    } else {
                        bets += 1;
                        bet(t * 100_000 + n, user, "round-1", (n % 3) as u16, 100 + (n % 500) as i64)
                    });
                }
                bets_sent.fetch_add(bets, Ordering::Relaxed);
                // Each user's deposit is answered before any of their bets is sent.
                let mut answers = Vec::new();
                for chunk in cmds[..deposits].chunks(WINDOW) {
                    answers.extend(run_window(rt, &slots, chunk));
                }
                for chunk in cmds[deposits..].chunks(WINDOW) {
                    answers.extend(run_window(rt, &slots, chunk));
                }
                assert_eq!(answers.len(), PER_THREAD);
                for (cmd, answer) in cmds.iter().zip(&answers) {
                    assert!(answer.is_ok(), "{cmd:?}: {answer:?}");
                }
                answered.fetch_add(answers.len() as u64, Ordering::Relaxed);
            });
        }
    });
    assert_eq!(answered.load(Ordering::Relaxed), THREADS * PER_THREAD as u64);

    let before: Vec<ShardView> = (0..2).map(|i| view(&rt, i)).collect();
    for (i, v) in before.iter().enumerate() {
        assert_eq!(v.invariants, Ok(()), "shard {i}");
        assert!(v.bets > 0, "shard {i} got no bets");
        assert!(v.sums.iter().all(|&s| s == 0), "shard {i}: {:?}", v.sums);
    }
    let total: i128 = before.iter().flat_map(|v| v.sums.iter()).sum();
    assert_eq!(total, 0);
    assert_eq!(before.iter().map(|v| v.bets as u64).sum::<u64>(), bets_sent.load(Ordering::Relaxed));

    let stopped = rt.shutdown(true).unwrap();
    assert_eq!(stopped.len(), 2);
    assert!(stopped.iter().all(|s| s.snapshot.is_some()));

    let (rt, reports) = Runtime::start(config(dir.path(), 2, Durability::Process)).unwrap();
    for (i, (report, v)) in reports.iter().zip(&before).enumerate() {
        assert_eq!(report.shard, i as u32);
        assert!(report.snapshot.is_some(), "shard {i} restored from its shutdown snapshot");
        assert_eq!(report.digest, v.digest, "shard {i}");
        assert_eq!(view(&rt, i).digest, v.digest, "shard {i}");
    }
    rt.shutdown(false).unwrap();
}

#[test]
fn round_broadcast_settles_bets_on_every_shard() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, _) = Runtime::start(config(dir.path(), 2, Durability::Fsync)).unwrap();
    setup(&rt);
    assert!(matches!(rt.call(start_round("round-b")), Ok(Reply::RoundOpened { replayed: false, .. })));
    // A repeated start is idempotent on every shard.
    assert!(matches!(rt.call(start_round("round-b")), Ok(Reply::RoundOpened { replayed: true, .. })));

    let users: Vec<u64> = (0..20).collect();
    let mut per_shard = [0u32; 2];
    for &u in &users {
        rt.call(deposit(u, 100_000, u)).unwrap();
    }
    let slot = CompletionSlot::new();
    let mut order = 0;
    for &u in &users {
        for selection in [0, 1] {
            order += 1;
            rt.submit(&slot, bet(order, u, "round-b", selection, 1_000)).unwrap();
            assert!(matches!(slot.wait(), Ok(Reply::Bet { replayed: false, .. })));
            per_shard[shard_of(UserId(u), 2)] += 1;
        }
    }
    assert!(per_shard.iter().all(|&n| n > 0), "bets on both shards: {per_shard:?}");

    assert!(matches!(rt.call(Command::GameStop { round: id("round-b") }), Ok(Reply::RoundStatus { .. })));
    assert_eq!(rt.call(Command::GameStop { round: id("no-such-round") }), Err(Reject::RoundNotFound));
    let settled = rt.call(Command::GameDraw { round: id("round-b"), result: Some(draw(BANKER)) });
    match settled {
        Ok(Reply::RoundSettled { bets, replayed: false, .. }) => assert_eq!(bets, per_shard[0] + per_shard[1]),
        other => panic!("expected a settlement, got {other:?}"),
    }
    // Banker won at 1.95: each user staked 10.00 on banker and 10.00 on player.
    for &u in &users {
        assert_eq!(balance(&rt, u), Some(Money(100_000 - 2_000 + 1_950)), "user {u}");
    }
    assert!(matches!(rt.call(Command::GameEnd { round: id("round-b") }), Ok(Reply::RoundStatus { .. })));

    let before: Vec<ShardView> = (0..2).map(|i| view(&rt, i)).collect();
    assert!(before.iter().all(|v| v.invariants.is_ok() && v.sums.iter().all(|&s| s == 0)));
    rt.shutdown(false).unwrap();
    let (rt, reports) = Runtime::start(config(dir.path(), 2, Durability::Fsync)).unwrap();
    for (report, v) in reports.iter().zip(&before) {
        assert!(report.commands_replayed > 0);
        assert_eq!(report.digest, v.digest);
    }
    rt.shutdown(false).unwrap();
}

#[test]
fn a_full_ring_answers_busy_and_drops_nothing_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1, Durability::Process);
    cfg.ring_capacity = 4;
    cfg.start_paused = true;
    let (rt, _) = Runtime::start(cfg).unwrap();

    let mut accepted: Vec<Command> = setup_commands(default_limits());
    accepted.push(deposit(1, 5_000, 1));
    let slots: Vec<Completion> = accepted.iter().map(|_| CompletionSlot::new()).collect();
    for (slot, cmd) in slots.iter().zip(&accepted) {
        rt.submit(slot, cmd.clone()).expect("room in the ring");
        assert!(slot.is_pending());
    }

    let refused = CompletionSlot::new();
    let busy = rt.submit(&refused, deposit(2, 7_000, 2)).unwrap_err();
    assert!(busy.retry_after_ms > 0);
    assert!(!refused.is_pending(), "a refused command leaves its slot free");
    match rt.call(deposit(3, 1_000, 3)) {
        Err(Reject::Busy { retry_after_ms }) => assert!(retry_after_ms > 0),
        other => panic!("expected BUSY, got {other:?}"),
    }
    assert_eq!(Reject::Busy { retry_after_ms: 1 }.code(), "BUSY");
    // A broadcast is refused whole.
    assert!(rt.submit(&refused, start_round("round-x")).is_err());
    assert!(!refused.is_pending());

    rt.resume();
    for (slot, cmd) in slots.iter().zip(&accepted) {
        assert!(slot.wait().is_ok(), "{cmd:?}");
        assert_eq!(slot.try_wait(), None, "answered exactly once");
    }
    // The refused slot is reusable, and the retried deposit goes through.
    rt.submit(&refused, deposit(2, 7_000, 2)).unwrap();
    assert!(matches!(refused.wait(), Ok(Reply::Transfer { replayed: false, .. })));
    assert_eq!(balance(&rt, 1), Some(Money(5_000)));
    assert_eq!(balance(&rt, 2), Some(Money(7_000)));
    assert_eq!(balance(&rt, 3), None, "the refused call never ran");
    rt.shutdown(false).unwrap();
}

#[test]
fn shutdown_answers_everything_accepted_while_paused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 2, Durability::Process);
    cfg.ring_capacity = 64;
    cfg.start_paused = true;
    let (rt, _) = Runtime::start(cfg).unwrap();
    let cmds: Vec<Command> =
        setup_commands(default_limits()).into_iter().chain((0..20).map(|u| deposit(u, 100, u))).collect();
    let slots: Vec<Completion> = cmds.iter().map(|_| CompletionSlot::new()).collect();
    for (slot, cmd) in slots.iter().zip(&cmds) {
        rt.submit(slot, cmd.clone()).unwrap();
    }
    rt.shutdown(true).unwrap();
    for slot in &slots {
        assert!(slot.wait().is_ok());
    }
}

#[test]
fn runtime_internal_commands_cannot_be_submitted() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, _) = Runtime::start(config(dir.path(), 2, Durability::Process)).unwrap();
    setup(&rt);
    let internal = [
        Command::SetTopology(Topology { shard: 0, shards: 1 }),
        Command::AckTransfers { peer: 1, upto: 1 },
        Command::ReceiveTransfer(Transfer {
            from: 1,
            to: 0,
            seq: 1,
            user: UserId(7),
            currency: code(CURRENCY),
            amount: Money(100),
            source: TransferSource::PacketShare { packet: id("p"), share: 0 },
        }),
    ];
    for cmd in internal {
        assert_eq!(rt.call(cmd.clone()), Err(Reject::NotRoutable));
        let slot = CompletionSlot::new();
        rt.submit(&slot, cmd).unwrap();
        assert_eq!(slot.wait(), Err(Reject::NotRoutable));
    }
    assert_eq!(Reject::NotRoutable.code(), "NOT_ROUTABLE");
    rt.shutdown(false).unwrap();
}

fn send_packet(packet: &str, sender: u64, total: i64, shares: u32, ttl_ms: Option<u64>) -> Command {
    Command::SendRedPacket(croupier_domain::command::SendRedPacket {
        packet: id(packet),
        sender: UserId(sender),
        currency: code(CURRENCY),
        total: Money(total),
        shares,
        kind: croupier_domain::command::PacketKind::Lucky { seed: 99 },
        ttl_ms,
        recipients: Vec::new(),
    })
}

#[test]
fn a_hot_packet_credits_grabbers_on_every_shard_exactly_once() {
    hot_packet(Durability::Process);
}

/// In `fsync` mode batches wait for their sync while the shard runs the next ones: answers
/// and transfers must still leave only once durable, and each share be credited once.
#[test]
fn a_hot_packet_with_fsync_pipelining_credits_exactly_once() {
    hot_packet(Durability::Fsync);
}

fn hot_packet(durability: Durability) {
    let dir = tempfile::tempdir().unwrap();
    let shards = 3;
    let (rt, _) = Runtime::start(config(dir.path(), shards, durability)).unwrap();
    setup(&rt);
    let sender = 1u64;
    rt.call(deposit(sender, 1_000_000, 1)).unwrap();
    rt.call(send_packet("festival", sender, 600_000, 300, None)).unwrap();
    // 400 grabbers from every shard race for 300 shares, from 4 producer threads; each grabs
    // twice, and the repeat must get the same share without moving money.
    let got: Vec<(u64, Money)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let rt = &rt;
                s.spawn(move || {
                    let slot = CompletionSlot::new();
                    let mut got = Vec::new();
                    for u in (100 + t..500).step_by(4) {
                        let grab =
                            Command::GrabRedPacket { packet: id("festival"), sender: UserId(sender), user: UserId(u) };
                        for attempt in 0..2 {
                            while rt.submit(&slot, grab.clone()).is_err() {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                            match slot.wait() {
                                Ok(Reply::Grabbed { amount, replayed, .. }) => {
                                    assert_eq!(replayed, attempt == 1);
                                    if attempt == 0 {
                                        got.push((u, amount));
                                    }
                                }
                                Err(Reject::PacketEmpty) => {}
                                other => panic!("grab answered {other:?}"),
                            }
                        }
                    }
                    got
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(got.len(), 300, "every share is grabbed once");
    assert_eq!(got.iter().map(|g| g.1 .0).sum::<i64>(), 600_000);
    let remote = got.iter().filter(|(u, _)| shard_of(UserId(*u), shards) != shard_of(UserId(sender), shards)).count();
    assert!(remote > 100, "grabbers live on other shards too: {remote}");
    assert!(rt.wait_transfers_settled(Duration::from_secs(20)), "transfers settle");
    for (u, amount) in &got {
        assert_eq!(balance(&rt, *u), Some(*amount), "user {u} credited once with their share");
    }
    for shard in 0..shards {
        let v = view(&rt, shard);
        assert_eq!(v.invariants, Ok(()));
        assert!(v.sums.iter().all(|s| *s == 0));
    }
    let links = rt.links().unwrap();
    let sent: u64 = links.iter().flat_map(|l| l.sent.iter()).sum();
    assert_eq!(sent as usize, remote, "one transfer per remote share");
    // A restart keeps every link's counters, and re-sends nothing that was acknowledged.
    let digests: Vec<_> = (0..shards).map(|i| view(&rt, i).digest).collect();
    rt.shutdown(false).unwrap();
    let (rt, _) = Runtime::start(config(dir.path(), shards, durability)).unwrap();
    assert!(rt.wait_transfers_settled(Duration::from_secs(20)));
    assert_eq!(rt.links().unwrap(), links);
    let again: Vec<_> = (0..shards).map(|i| view(&rt, i).digest).collect();
    assert_eq!(digests, again);
    rt.shutdown(false).unwrap();
}

#[test]
fn bookmaker_calls_reach_the_players_shard() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, _) = Runtime::start(config(dir.path(), 3, Durability::Process)).unwrap();
    setup(&rt);
    for user in [7u64, 8, 9] {
        rt.call(deposit(user, 1_000, user)).unwrap();
        let bet = ExtId::numbered("bk-", user);
        let block = Command::BlockFunds {
            bet,
            partner: code("bk"),
            user: UserId(user),
            currency: code(CURRENCY),
            amount: Money(100),
        };
        assert!(matches!(rt.call(block), Ok(Reply::Bet { replayed: false, .. })));
        let status = croupier_domain::command::PartnerBetStatus::Won { payout: Money(250) };
        let update = Command::UpdateBetStatus { bet, user: UserId(user), status };
        assert!(matches!(rt.call(update), Ok(Reply::Bet { replayed: false, .. })));
        assert_eq!(balance(&rt, user), Some(Money(1_150)));
        // Another player naming this bet cannot touch it: on their own shard the id is unknown
        // (a refund of an unknown id is remembered for them), on this one it is not theirs.
        let other = Command::Refund { bet, user: UserId(user + 1) };
        assert!(matches!(rt.call(other), Ok(Reply::Done) | Err(Reject::BetNotFound)));
        assert_eq!(balance(&rt, user), Some(Money(1_150)));
    }
    rt.shutdown(false).unwrap();
}

#[test]
fn timers_close_betting_and_expire_packets_on_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let mut cfg = config(dir.path(), 2, Durability::Process);
    cfg.clock = clock.clone();
    let (rt, _) = Runtime::start(cfg.clone()).unwrap();
    setup(&rt);
    rt.call(deposit(1, 10_000, 1)).unwrap();
    let start = Command::GameStart { round: id("timed"), game: id(GAME), window_ms: Some(15_000) };
    rt.call(start).unwrap();
    rt.call(send_packet("short", 1, 1_000, 10, Some(60_000))).unwrap();
    clock.advance_ms(15_000);
    let stopped = |rt: &Runtime| {
        (0..2).all(|i| rt.inspect(i, |s| s.round(s.round_by_id(&id("timed")).unwrap()).status.code()).unwrap() == 3)
    };
    wait_until(|| stopped(&rt));
    // The packet's timer survives a restart: it is rebuilt from the state.
    rt.shutdown(false).unwrap();
    let (rt, _) = Runtime::start(cfg).unwrap();
    assert_eq!(balance(&rt, 1), Some(Money(9_000)));
    clock.advance_ms(60_000);
    wait_until(|| balance(&rt, 1) == Some(Money(10_000)));
    rt.shutdown(false).unwrap();
}

/// Polls `done` for up to 10 s: timers fire on shard threads.
fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("condition not reached in 10 s");
}

#[test]
fn a_data_folder_keeps_its_shard_count() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, _) = Runtime::start(config(dir.path(), 2, Durability::Process)).unwrap();
    setup(&rt);
    rt.shutdown(true).unwrap();
    for other in [1, 3] {
        let err = Runtime::start(config(dir.path(), other, Durability::Process)).err().expect("refused");
        assert!(err.to_string().contains("shard"), "{err}");
    }
    let (rt, _) = Runtime::start(config(dir.path(), 2, Durability::Process)).unwrap();
    rt.shutdown(false).unwrap();
}

/// Waits at most `limit` for `slot`'s answer: a hung caller fails the test instead of
/// hanging it (a bound on a liveness check, not a speed assertion).
fn answer_within(slot: &Completion, limit: Duration) -> Option<Answer> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(a) = slot.try_wait() {
            return Some(a);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A panic on a shard thread (issue 12: it used to drop the ring unanswered and hang every
/// caller) fails that shard visibly: the callers already queued and every later one get
/// `SHARD_UNAVAILABLE` at once, readers get it too, the failure is reported, the other shard
/// goes on serving, and shutdown reports the failure instead of panicking. A restart
/// restores the failed shard from its journal with everything it had acknowledged.
#[test]
fn a_panicking_shard_answers_unavailable_and_the_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, _) = Runtime::start(config(dir.path(), 2, Durability::Process)).unwrap();
    setup(&rt);
    let users: Vec<u64> = (1..).filter(|u| shard_of(UserId(*u), 2) == 0).take(2).collect();
    let other = (1..).find(|u| shard_of(UserId(*u), 2) == 1).unwrap();
    for (n, u) in users.iter().chain([&other]).enumerate() {
        rt.call(deposit(*u, 10_000, n as u64)).unwrap();
    }
    // Hold shard 0 still so that commands queue behind the panic.
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    rt.inspect_then(
        0,
        move |_| -> () {
            let _ = gate_rx.recv();
            panic!("injected fault on the shard thread");
        },
        |()| {},
    )
    .unwrap();
    let queued = CompletionSlot::new();
    rt.submit(&queued, deposit(users[0], 5, 100)).unwrap();
    gate_tx.send(()).unwrap();
    let answer = answer_within(&queued, Duration::from_secs(30)).expect("a queued caller is answered, not hung");
    assert_eq!(answer, Err(Reject::ShardUnavailable));
    // Later callers: answered at once, reads too.
    assert_eq!(rt.call(deposit(users[1], 5, 101)), Err(Reject::ShardUnavailable));
    assert_eq!(rt.inspect(0, |s| s.accounts().len()), Err(Reject::ShardUnavailable));
    let failures = rt.shard_failures();
    assert!(failures[0].as_deref().is_some_and(|f| f.contains("injected fault")), "{failures:?}");
    assert!(failures[1].is_none());
    // A round needs every shard: refused whole rather than half opened.
    assert_eq!(rt.call(start_round("after-fault")), Err(Reject::ShardUnavailable));
    // The other shard serves on.
    assert!(rt.call(deposit(other, 7, 102)).is_ok());
    let stopped = rt.shutdown(false);
    assert!(matches!(&stopped, Err(e) if e.to_string().contains("injected fault")), "{stopped:?}");

    let (rt, _) = Runtime::start(config(dir.path(), 2, Durability::Process)).unwrap();
    assert_eq!(
        balance(&rt, users[0]),
        Some(Money(10_000)),
        "the acknowledged deposit survived, the refused one never happened"
    );
    assert_eq!(balance(&rt, other), Some(Money(10_007)));
    assert!(rt.call(deposit(users[1], 5, 101)).is_ok(), "the restored shard serves again");
    rt.shutdown(false).unwrap();
}

/// A grab's share for a grabber on another shard: the caller awaits the transfer's
/// completion on the grabber's shard (applied, durably) instead of polling, and a read after
/// it includes the share. A transfer not yet sent never completes.
#[test]
fn a_transfer_between_shards_is_awaited_until_applied_and_durable() {
    for durability in [Durability::Fsync, Durability::Process] {
        let dir = tempfile::tempdir().unwrap();
        let (rt, _) = Runtime::start(config(dir.path(), 2, durability)).unwrap();
        setup(&rt);
        let sender = 1u64;
        let (from, to) = (shard_of(UserId(sender), 2), 1 - shard_of(UserId(sender), 2));
        rt.call(deposit(sender, 1_000_000, 1)).unwrap();
        rt.call(send_packet("p", sender, 100_000, 50, None)).unwrap();
        let grabbers: Vec<u64> = (100..).filter(|&u| shard_of(UserId(u), 2) == to).take(20).collect();
        for (i, &u) in grabbers.iter().enumerate() {
            let grab = Command::GrabRedPacket { packet: id("p"), sender: UserId(sender), user: UserId(u) };
            let Ok(Reply::Grabbed { amount, .. }) = rt.call(grab) else { panic!("grab refused") };
            // The grab's transfer was journaled (and durable) before it was answered.
            let seq = rt.inspect(from, move |s: &State| s.link(to as u32).unwrap().sent).unwrap();
            assert_eq!(seq, i as u64 + 1, "one transfer per remote share");
            assert!(!rt.transfer_applied(from as u32, to, seq + 1).is_done(), "not sent, never applied");
            assert!(rt.wait_transfer_applied(from as u32, to, seq, Duration::from_secs(20)), "transfer {seq} arrives");
            assert!(rt.transfer_applied(from as u32, to, seq).is_done());
            assert_eq!(balance(&rt, u), Some(amount), "the share is in the grabber's balance once awaited");
            let applied = rt.inspect(to, move |s: &State| s.link(from as u32).unwrap().applied).unwrap();
            assert!(applied >= seq);
        }
        assert!(!rt.wait_transfer_applied(from as u32, to, 1_000, Duration::from_millis(20)), "never sent");
        rt.shutdown(false).unwrap();
        // After a restart the restored watermark completes what was applied before.
        let (rt, _) = Runtime::start(config(dir.path(), 2, durability)).unwrap();
        assert!(rt.transfer_applied(from as u32, to, grabbers.len() as u64).is_done());
        rt.shutdown(false).unwrap();
    }
}

/// Readers never stall the shard, and never learn more than callers were told: a reader's
/// result is delivered only after every command its state includes was answered (each bet it
/// sees has its caller's answer already), in `fsync` mode with batches pending and in
/// `process` mode. Readers interleaved with bets in the same rings, from several threads.
#[test]
fn readers_are_delivered_after_the_answers_of_what_they_saw() {
    for durability in [Durability::Fsync, Durability::Process] {
        let dir = tempfile::tempdir().unwrap();
        let (rt, _) = Runtime::start(config(dir.path(), 2, durability)).unwrap();
        setup(&rt);
        for u in 1..=40 {
            rt.call(deposit(u, 10_000_000, u)).unwrap();
        }
        rt.call(start_round("r")).unwrap();
        const PER_THREAD: u64 = 600;
        let slots: Arc<Vec<Completion>> = Arc::new((0..3 * PER_THREAD).map(|_| CompletionSlot::new()).collect());
        let delivered = Arc::new(AtomicU64::new(0));
        let early = Arc::new(AtomicU64::new(0));
        let readers = std::thread::scope(|s| {
            let handles: Vec<_> = (0..3u64)
                .map(|t| {
                    let (rt, slots, delivered, early) = (&rt, slots.clone(), delivered.clone(), early.clone());
                    s.spawn(move || {
                        let mut readers = 0u64;
                        for k in 0..PER_THREAD {
                            let n = t * PER_THREAD + k;
                            let cmd = bet(n, 1 + n % 40, "r", (n % 2) as u16, 100);
                            while rt.submit(&slots[n as usize], cmd.clone()).is_err() {
                                std::thread::yield_now();
                            }
                            if k % 3 == 0 {
                                let shard = (n % 2) as usize;
                                let (check, delivered, early) = (slots.clone(), delivered.clone(), early.clone());
                                // The slots of the bets this state holds, by order number.
                                let read = |s: &State| -> Vec<usize> {
                                    s.bets().iter().map(|b| order_index(&b.order_no)).collect()
                                };
                                // On delivery, each of them must have its caller's answer.
                                let then = move |seen: Vec<usize>| {
                                    let before = seen.iter().filter(|&&i| check[i].is_pending()).count();
                                    early.fetch_add(before as u64, Ordering::Relaxed);
                                    delivered.fetch_add(1, Ordering::Relaxed);
                                };
                                while rt.inspect_then(shard, read, then.clone()).is_err() {
                                    std::thread::yield_now();
                                }
                                readers += 1;
                            }
                        }
                        readers
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        });
        for slot in slots.iter() {
            assert!(matches!(slot.wait(), Ok(Reply::Bet { .. })));
        }
        // Every reader is delivered (a blocking read after them on each shard comes later).
        for shard in 0..2 {
            rt.inspect(shard, |_| ()).unwrap();
        }
        assert_eq!(delivered.load(Ordering::Relaxed), readers);
        assert_eq!(early.load(Ordering::Relaxed), 0, "readers saw bets before their callers were answered");
        rt.shutdown(false).unwrap();
    }
}

/// The slot index of a bet placed by `bet(n, ..)`: its order number `order-<n>`.
fn order_index(order: &ExtId) -> usize {
    order.as_str().trim_start_matches("order-").parse().unwrap()
}
