//! A deterministic simulation of several shards exchanging transfers: one thread, a seeded
//! scheduler that interleaves client commands, shard batches, message deliveries (each link
//! in order, with random delays) and crashes of single shards (their ring and their
//! not-yet-pushed messages are lost; their journal is not).
//!
//! Checked at every step, as a consistent cut across shards: each shard's currencies sum to
//! zero, and the money in transit on each pair of links equals the transfers sent and not yet
//! applied (so nothing is created or lost between shards); a receiver never applies what was
//! not sent, and a sender never counts as acknowledged what was not applied. After each crash
//! the restored shard has the digest it had. At the end, with no more crashes and every
//! message delivered, every link is settled, and every grabbed share was credited exactly once
//! to its grabber: the journals' credits per user equal the pools' grabs per user.

use croupier_domain::command::Command;
use croupier_domain::event::Event;
use croupier_domain::ids::{Code, Timestamp, UserId};
use croupier_domain::testkit::*;
use croupier_domain::State;
use croupier_journal::Durability;
use croupier_runtime::{route, Message, Outbox, Route};
use croupier_store::{journal_dir, replay_into, DurableShard, RestoreReport, ShardConfig};
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

const T0: u64 = 1_700_000_000_000;

/// xorshift64*: the scheduler's only source of choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

enum Job {
    Command(Command),
    Message(Message),
}

struct Node {
    cfg: ShardConfig,
    shard: Option<DurableShard>,
    outbox: Outbox,
    /// The shard's ring: lost when it crashes.
    ring: VecDeque<Job>,
    /// Messages it produced and has not yet pushed into a peer's ring: lost when it crashes.
    outgoing: VecDeque<(u32, Message)>,
}

struct Sim {
    rng: Rng,
    now: u64,
    nodes: Vec<Node>,
    crashes: u32,
    transfers_applied: u64,
}

fn config(dir: &Path, shard: u32) -> ShardConfig {
    let mut cfg = ShardConfig::new(dir, shard);
    cfg.durability = Durability::Process;
    cfg.segment_bytes = 128 * 1024;
    cfg.snapshot_every_records = Some(300);
    cfg.keep_snapshots = 2;
    cfg
}

fn open(cfg: &ShardConfig, shards: u32) -> (DurableShard, Outbox) {
    let (mut shard, _) = DurableShard::open(cfg.clone()).expect("shard opens");
    let topology = croupier_domain::command::Topology { shard: cfg.shard, shards };
    shard.execute(&Command::SetTopology(topology), Timestamp(T0)).unwrap().expect("topology claimed");
    let outbox = Outbox::new(shard.state()).expect("topology set");
    (shard, outbox)
}

impl Sim {
    fn new(dir: &Path, shards: u32, seed: u64) -> Sim {
        let nodes = (0..shards)
            .map(|i| {
                let cfg = config(dir, i);
                let (shard, outbox) = open(&cfg, shards);
                Node { cfg, shard: Some(shard), outbox, ring: VecDeque::new(), outgoing: VecDeque::new() }
            })
            .collect();
        let mut sim = Sim { rng: Rng(seed | 1), now: T0, nodes, crashes: 0, transfers_applied: 0 };
        for i in 0..sim.nodes.len() {
            sim.start_node(i);
        }
        sim
    }

    fn state(&self, i: usize) -> &State {
        self.nodes[i].shard.as_ref().expect("open").state()
    }

    fn start_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let shard = node.shard.as_ref().expect("open");
        let outgoing = &mut node.outgoing;
        node.outbox.on_start(shard.state(), &mut |p, m| outgoing.push_back((p, m)));
    }

    fn submit(&mut self, cmd: Command) {
        match route(&cmd, self.nodes.len()) {
            Route::Shard(i) => self.nodes[i].ring.push_back(Job::Command(cmd)),
            Route::Broadcast => self.nodes.iter_mut().for_each(|n| n.ring.push_back(Job::Command(cmd.clone()))),
            Route::NotRoutable => panic!("the generator makes only routable commands: {cmd:?}"),
        }
    }

    /// Shard `i` drains up to `max` jobs as one batch, as a shard thread does.
    fn run_batch(&mut self, i: usize, max: usize) {
        let now = Timestamp(self.now);
        let node = &mut self.nodes[i];
        let shard = node.shard.as_mut().expect("open");
        let mut batch = Vec::new();
        while batch.len() < max {
            let outgoing = &mut node.outgoing;
            match node.ring.pop_front() {
                Some(Job::Command(cmd)) => batch.push((now, cmd)),
                Some(Job::Message(msg)) => {
                    if let Some(cmd) = node.outbox.receive(shard.state(), msg, &mut |p, m| outgoing.push_back((p, m))) {
                        batch.push((now, cmd));
                    }
                }
                None => break,
            }
        }
        if batch.is_empty() {
            return;
        }
        let mut answers = Vec::new();
        shard.execute_batch(&batch, &mut answers).expect("journal works");
        for ((_, cmd), answer) in batch.iter().zip(&answers) {
            if let (Command::ReceiveTransfer(_), Ok(croupier_domain::Reply::TransferReceived { applied: true, .. })) =
                (cmd, answer)
            {
                self.transfers_applied += 1;
            }
        }
        // Process durability: the batch is durable once executed; only now may it leave.
        let outgoing = &mut node.outgoing;
        node.outbox.after_batch(shard.state(), &mut |p, m| outgoing.push_back((p, m)));
    }

    /// Shard `i` pushes its oldest waiting message into its peer's ring (in order per peer,
    /// since one queue holds them all in the order they were made).
    fn deliver(&mut self, i: usize) {
        if let Some((peer, msg)) = self.nodes[i].outgoing.pop_front() {
            self.nodes[peer as usize].ring.push_back(Job::Message(msg));
        }
    }

    fn crash(&mut self, i: usize) {
        let shards = self.nodes.len() as u32;
        let node = &mut self.nodes[i];
        let mut shard = node.shard.take().expect("open");
        let digest = shard.state().digest();
        // The snapshot writer is a thread of its own; let it finish so that the restarted
        // shard does not race a writer of the dead one. The journal is left as it is.
        shard.finish_snapshot().expect("snapshot writer");
        drop(shard);
        node.ring.clear();
        node.outgoing.clear();
        let (shard, outbox) = open(&node.cfg, shards);
        assert_eq!(shard.state().digest(), digest, "shard {i} restores the state it had");
        node.shard = Some(shard);
        node.outbox = outbox;
        self.crashes += 1;
        self.start_node(i);
    }

    fn quiet(&self) -> bool {
        self.nodes.iter().all(|n| n.ring.is_empty() && n.outgoing.is_empty())
    }

    /// The consistent-cut checks (see the module docs).
    fn check(&self) {
        let n = self.nodes.len();
        for i in 0..n {
            let s = self.state(i);
            s.check_invariants().unwrap_or_else(|e| panic!("shard {i}: {e}"));
        }
        for a in 0..n {
            for b in (a + 1)..n {
                let (sa, sb) = (self.state(a), self.state(b));
                let (ab, ba) = (sa.link(b as u32).unwrap(), sb.link(a as u32).unwrap());
                assert!(ba.applied <= ab.sent && ab.applied <= ba.sent, "applied only what was sent");
                assert!(ab.acked <= ba.applied && ba.acked <= ab.applied, "acknowledged only what was applied");
                let in_flight = |from: &State, to: &State, peer: u32, back: u32| -> BTreeMap<Code, i64> {
                    let applied = to.link(back).unwrap().applied;
                    let mut m = BTreeMap::new();
                    for t in from.link(peer).unwrap().unacked.iter().filter(|t| t.seq > applied) {
                        *m.entry(t.currency).or_insert(0) += t.amount.0;
                    }
                    m
                };
                let mut expected = in_flight(sa, sb, b as u32, a as u32);
                for (c, v) in in_flight(sb, sa, a as u32, b as u32) {
                    *expected.entry(c).or_insert(0) += v;
                }
                for (c, cur) in sa.currencies().iter().enumerate() {
                    let ta = ab.transit(croupier_domain::ids::CurrencyId(c as u32)).0;
                    let tb = sb.currency_by_code(&cur.code).map_or(0, |id| ba.transit(id).0);
                    let want = expected.get(&cur.code).copied().unwrap_or(0);
                    assert_eq!(ta + tb, want, "money in transit between {a} and {b} is what is in flight");
                }
            }
        }
    }
}

/// Per user: what the pools gave out, and what the journals credited (locally or by transfer).
fn shares_given_and_credited(dir: &Path, sim: &Sim) -> (BTreeMap<UserId, i64>, BTreeMap<UserId, i64>) {
    let mut given = BTreeMap::new();
    for i in 0..sim.nodes.len() {
        for p in sim.state(i).packets() {
            for (user, amount) in &p.grabs {
                *given.entry(*user).or_insert(0) += amount.0;
            }
        }
    }
    let mut credited = BTreeMap::new();
    for i in 0..sim.nodes.len() {
        let mut scratch = State::new();
        let mut report = RestoreReport::default();
        replay_into(&mut scratch, &journal_dir(dir, i as u32), 0, &mut report, |_, events| {
            for e in events {
                match e {
                    Event::RedPacketGrabbed { account: Some(_), user, amount, .. } => {
                        *credited.entry(*user).or_insert(0) += amount.0
                    }
                    Event::TransferReceived { transfer, .. } => {
                        *credited.entry(transfer.user).or_insert(0) += transfer.amount.0
                    }
                    _ => {}
                }
            }
        })
        .expect("journal replays");
        assert_eq!(scratch.digest(), sim.state(i).digest(), "the whole journal rebuilds shard {i}");
    }
    (given, credited)
}

fn simulate(seed: u64, shards: u32, steps: u32) {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = Sim::new(dir.path(), shards, seed);
    let mut gen = Generator::new(seed, 24);
    for cmd in setup_commands(default_limits()) {
        sim.submit(cmd);
    }
    for i in 0..shards as usize {
        sim.run_batch(i, usize::MAX);
    }
    for step in 0..steps {
        sim.now += sim.rng.below(400);
        let n = shards as u64;
        match sim.rng.below(100) {
            0..=39 => {
                let k = 1 + sim.rng.below(6);
                for _ in 0..k {
                    let cmd = gen.next_command();
                    sim.submit(cmd);
                }
            }
            40..=64 => {
                let i = sim.rng.below(n) as usize;
                let max = 1 + sim.rng.below(16) as usize;
                sim.run_batch(i, max);
            }
            65..=97 => {
                let i = sim.rng.below(n) as usize;
                sim.deliver(i);
            }
            _ if step > 20 => {
                let i = sim.rng.below(n) as usize;
                sim.crash(i);
            }
            _ => {}
        }
        sim.check();
    }
    // No more crashes: run until every ring and queue is empty and every link settled.
    for _ in 0..100_000 {
        for i in 0..shards as usize {
            sim.run_batch(i, 64);
            while !sim.nodes[i].outgoing.is_empty() {
                sim.deliver(i);
            }
        }
        if sim.quiet() {
            break;
        }
    }
    assert!(sim.quiet(), "messages settle");
    // Nothing in flight: `check` now asserts that each pair's transit accounts cancel out.
    sim.check();
    for a in 0..shards {
        for b in 0..shards {
            if a != b {
                let (la, lb) = (sim.state(a as usize).link(b).unwrap(), sim.state(b as usize).link(a).unwrap());
                assert_eq!(la.sent, lb.applied, "everything {a} sent to {b} was applied");
                assert_eq!(la.acked, la.sent, "and acknowledged");
                assert!(la.unacked.is_empty());
            }
        }
    }
    let (given, credited) = shares_given_and_credited(dir.path(), &sim);
    assert_eq!(given, credited, "seed {seed}: every grabbed share credited exactly once");
    assert!(sim.crashes > 0, "seed {seed}: the schedule crashed shards");
    let sent: u64 = (0..shards).flat_map(|a| sim.state(a as usize).links().iter().map(|l| l.sent)).sum();
    assert_eq!(sent, sim.transfers_applied, "each transfer applied once");
    eprintln!("seed {seed}: {shards} shards, {} crashes, {sent} transfers", sim.crashes);
    // A clean restart of every shard gives the same digests.
    let digests: Vec<_> = (0..shards as usize).map(|i| sim.state(i).digest()).collect();
    for (i, node) in sim.nodes.iter_mut().enumerate() {
        node.shard.take().unwrap().close(i % 2 == 0).unwrap();
    }
    for (i, want) in digests.iter().enumerate() {
        let (shard, _) = open(&config(dir.path(), i as u32), shards);
        assert_eq!(&shard.state().digest(), want);
    }
}

#[test]
fn random_histories_with_single_shard_crashes_keep_transfers_exactly_once() {
    let seeds: u64 = std::env::var("CROUPIER_SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    for seed in 1..=seeds {
        let shards = 2 + (seed % 3) as u32;
        simulate(seed * 7_919, shards, 2_500);
    }
}
