//! Issue 13, item 5: answers do not depend on the shard count. The same history, whose
//! callers' ids collide across users and shards on purpose, runs on 1, 2, 3 and 8 shards
//! through the whole engine (domain, store, runtime with its transfers between shards), and
//! must give the same answers, balances and money.

use croupier_domain::command::{Command, PlaceBet};
use croupier_domain::ids::{SelectionId, Timestamp, UserId};
use croupier_domain::testkit::*;
use croupier_domain::{Money, Reply, State};
use croupier_journal::Durability;
use croupier_runtime::{shard_of, ManualClock, Runtime, RuntimeConfig};
use croupier_store::Answer;
use std::sync::Arc;
use std::time::Duration;

const T0: u64 = 1_700_000_000_000;

fn start(shards: usize, dir: &std::path::Path) -> Runtime {
    let mut cfg = RuntimeConfig::new(dir);
    cfg.shards = shards;
    cfg.durability = Durability::Process;
    cfg.clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let (rt, _) = Runtime::start(cfg).unwrap();
    for cmd in setup_commands(default_limits()) {
        rt.call(cmd.clone()).unwrap_or_else(|r| panic!("{cmd:?} refused: {r}"));
    }
    rt
}

/// A seeded generator for the histories below (splitmix64: no dependency, same on every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        croupier_domain::topology::mix(self.0)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, of: &[T]) -> T {
        of[self.below(of.len() as u64) as usize]
    }
}

/// A history whose callers' ids collide across users on purpose: every id-bearing command
/// draws its id from a pool of four, its user from six (spread over the shards at 2, 3 and 8)
/// and its amounts from two, so repeats with the same content, repeats with other content
/// and the same id from other users all happen many times.
fn colliding_history(seed: u64, len: usize) -> Vec<Command> {
    use croupier_domain::command::{PacketKind, PartnerBetStatus, SendRedPacket};
    let mut r = Rng(seed);
    let users = [1u64, 2, 3, 4, 5, 6];
    let ids = ["SAME", "X1", "X2", "X3"];
    let mut cmds = vec![Command::GameStart { round: id("r1"), game: id(GAME), window_ms: Some(3_600_000) }];
    for n in 0..len {
        let user = UserId(r.pick(&users));
        let x = id(r.pick(&ids));
        let status = || match seed.wrapping_add(n as u64) % 3 {
            0 => PartnerBetStatus::Won { payout: Money(30) },
            1 => PartnerBetStatus::Lost,
            _ => PartnerBetStatus::Void,
        };
        cmds.push(match r.below(12) {
            0 | 1 => {
                Command::Deposit { transfer: x, user, currency: code(CURRENCY), amount: Money(r.pick(&[100, 200])) }
            }
            2 => Command::Withdraw { transfer: x, user, currency: code(CURRENCY), amount: Money(r.pick(&[50, 100])) },
            3 | 4 => Command::PlaceBet(PlaceBet {
                order_no: x,
                user,
                round: id("r1"),
                selection: SelectionId(r.below(2) as u16),
                stake: Money(r.pick(&[10, 20])),
                currency: code(CURRENCY),
                platform: code("ag"),
            }),
            5 => Command::BlockFunds {
                bet: x,
                partner: code("bk"),
                user,
                currency: code(CURRENCY),
                amount: Money(r.pick(&[10, 20])),
            },
            6 => Command::UpdateBetStatus { bet: x, user, status: status() },
            7 => Command::Refund { bet: x, user },
            8 => Command::RecalculateBet { bet: x, user, transaction: id(r.pick(&ids)), status: status() },
            9 => {
                // Open to anyone, for one user, or for three (seed 002's chosen recipients):
                // recipients and outsiders alike live on every shard at 2, 3 and 8.
                let recipients: Vec<UserId> = match r.below(3) {
                    0 => Vec::new(),
                    1 => vec![UserId(r.pick(&users))],
                    _ => (0..3).map(|_| UserId(r.pick(&users))).collect(),
                };
                Command::SendRedPacket(SendRedPacket {
                    packet: x,
                    sender: user,
                    currency: code(CURRENCY),
                    total: Money(r.pick(&[60, 90])),
                    shares: if recipients.len() == 1 { 1 } else { 3 },
                    kind: PacketKind::Normal,
                    ttl_ms: None,
                    recipients,
                })
            }
            10 => Command::GrabRedPacket { packet: x, sender: user, user: UserId(r.pick(&users)) },
            _ if n > len / 2 && r.below(8) == 0 => Command::GameDraw { round: id("r1"), result: Some(draw(BANKER)) },
            _ => Command::CheckBet { user, currency: code(CURRENCY), amount: Money(r.pick(&[10, 1_000])) },
        });
    }
    cmds
}

/// An answer without the dense numbers that legitimately differ with the shard count
/// (accounts, bets, packets are numbered per shard): codes, replayed flags, amounts, states.
fn comparable(answer: &Answer) -> String {
    match answer {
        Err(reject) => format!("{reject:?}"),
        Ok(Reply::Transfer { replayed, .. }) => format!("transfer replayed={replayed}"),
        Ok(Reply::Bet { state, replayed, .. }) => format!("bet {state:?} replayed={replayed}"),
        Ok(Reply::PacketSent { replayed, .. }) => format!("packet replayed={replayed}"),
        Ok(Reply::Grabbed { share, amount, replayed, .. }) => format!("grab {share} {amount:?} replayed={replayed}"),
        Ok(Reply::RoundOpened { replayed, .. }) => format!("round opened replayed={replayed}"),
        Ok(Reply::RoundStatus { status, replayed, .. }) => format!("round {status:?} replayed={replayed}"),
        Ok(Reply::RoundSettled { bets, replayed, .. }) => format!("settled {bets} replayed={replayed}"),
        Ok(other) => format!("{other:?}"),
    }
}

/// What a history leaves: every answer, each user's (available, held), and the money of the
/// house, the cashier and the red-packet pools summed over the shards.
#[derive(Debug, PartialEq)]
struct Outcome {
    answers: Vec<String>,
    balances: Vec<(u64, Option<(Money, Money)>)>,
    house: i128,
    external: i128,
}

fn run_history(cmds: &[Command], shards: usize) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let rt = start(shards, dir.path());
    let mut answers = Vec::with_capacity(cmds.len());
    for cmd in cmds {
        answers.push(comparable(&rt.call(cmd.clone())));
        if matches!(cmd, Command::GrabRedPacket { .. }) {
            // A share for a user of another shard travels as a transfer; the next command of
            // that user must see it, as it would on one shard.
            assert!(rt.wait_transfers_settled(Duration::from_secs(20)));
        }
    }
    assert!(rt.wait_transfers_settled(Duration::from_secs(20)));
    let balances = (1..=6u64)
        .map(|user| {
            let shard = shard_of(UserId(user), shards);
            let held = rt
                .inspect(shard, move |s: &State| {
                    let currency = s.currency_by_code(&code(CURRENCY))?;
                    s.account_of(UserId(user), currency).map(|a| (s.account(a).available, s.account(a).held))
                })
                .expect("ring has room");
            (user, held)
        })
        .collect();
    let (mut house, mut external) = (0i128, 0i128);
    for shard in 0..shards {
        let (invariants, sums) =
            rt.inspect(shard, |s: &State| (s.check_invariants(), s.currency_sums())).expect("ring has room");
        assert_eq!(invariants, Ok(()), "shard {shard} of {shards}");
        assert!(sums.iter().all(|s| *s == 0), "shard {shard} of {shards}: {sums:?}");
        let (h, e) = rt
            .inspect(shard, |s: &State| {
                let c = &s.currencies()[0];
                (c.house.0 as i128, c.external.0 as i128)
            })
            .expect("ring has room");
        house += h;
        external += e;
    }
    rt.shutdown(false).unwrap();
    Outcome { answers, balances, house, external }
}

/// Issue 13, item 5: for any history, 1, 2, 3 and 8 shards give the same answers and the same
/// balances, however the callers' ids collide across users and shards.
#[test]
fn answers_and_balances_do_not_depend_on_the_shard_count() {
    let mut outsiders_refused = 0;
    for seed in 0..20u64 {
        let cmds = colliding_history(seed, 300);
        let one = run_history(&cmds, 1);
        outsiders_refused += one.answers.iter().filter(|a| *a == "NotARecipient").count();
        assert!(one.answers.iter().any(|a| a.contains("replayed=true")), "seed {seed}: the history replays");
        assert!(one.answers.iter().any(|a| a.contains("IdempotencyConflict")), "seed {seed}: and conflicts");
        for shards in [2, 3, 8] {
            let other = run_history(&cmds, shards);
            for (k, (a, b)) in one.answers.iter().zip(&other.answers).enumerate() {
                assert_eq!(a, b, "seed {seed}, command {k} ({:?}): 1 shard vs {shards}", cmds[k]);
            }
            assert_eq!(one, other, "seed {seed}: 1 shard vs {shards}");
        }
    }
    assert!(outsiders_refused > 0, "the histories grab packets named for others");
}
