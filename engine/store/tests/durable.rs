//! The durable shard: a deterministic simulation of random histories with crashes (clean
//! stops, torn journal tails, damaged snapshots), checked against an in-memory model; and a
//! settlement too big for one record, torn between its parts.

use croupier_domain::command::Command;
use croupier_domain::ids::Timestamp;
use croupier_domain::testkit::*;
use croupier_domain::{Engine, State};
use croupier_journal::Durability;
use croupier_store::{snapshot_dir, DurableShard, ShardConfig};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

const T0: u64 = 1_700_000_000_000;

fn config(dir: &Path) -> ShardConfig {
    let mut cfg = ShardConfig::new(dir, 0);
    cfg.durability = Durability::Process;
    cfg.segment_bytes = 64 * 1024;
    cfg.snapshot_every_records = Some(250);
    cfg.keep_snapshots = 2;
    cfg
}

fn newest_segment(dir: &Path) -> PathBuf {
    let jdir = croupier_store::journal_dir(dir, 0);
    let mut segs: Vec<PathBuf> = fs::read_dir(jdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segs.sort();
    segs.pop().unwrap()
}

/// Zeroes the last `n` written bytes of the newest segment: a crash that tore the tail.
fn tear_tail(dir: &Path, n: usize) -> usize {
    let seg = newest_segment(dir);
    let mut bytes = fs::read(&seg).unwrap();
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let from = end.saturating_sub(n).max(72);
    bytes[from..end].iter_mut().for_each(|b| *b = 0);
    fs::write(&seg, bytes).unwrap();
    end - from
}

/// Flips a byte in the middle of the newest snapshot.
fn damage_newest_snapshot(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(snapshot_dir(dir)) else { return false };
    let mut snaps: Vec<PathBuf> =
        entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "snap")).collect();
    snaps.sort();
    let Some(newest) = snaps.pop() else { return false };
    let mut bytes = fs::read(&newest).unwrap();
    let mid = 72 + (bytes.len() - 72) / 2;
    bytes[mid] ^= 0x40;
    fs::write(&newest, bytes).unwrap();
    true
}

struct Sim {
    dir: tempfile::TempDir,
    shard: Option<DurableShard>,
    model: Engine,
    /// Model digest after each command, by the journal position of its last record.
    digests: HashMap<u64, [u8; 32]>,
}

impl Sim {
    fn new() -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let (mut shard, report) = DurableShard::open(config(dir.path())).unwrap();
        assert_eq!(report.position, 0);
        let mut model = Engine::default();
        let mut answers = Vec::new();
        let setup: Vec<_> = setup_commands(default_limits()).into_iter().map(|c| (Timestamp(T0), c)).collect();
        shard.execute_batch(&setup, &mut answers).unwrap();
        for (now, c) in &setup {
            must(&mut model, c, *now);
        }
        let mut digests = HashMap::new();
        digests.insert(shard.position(), model.state().digest());
        Sim { dir, shard: Some(shard), model, digests }
    }

    fn run_batch(&mut self, batch: &[(Timestamp, Command)]) {
        let shard = self.shard.as_mut().unwrap();
        let mut answers = Vec::new();
        let mut positions = Vec::new();
        for (now, cmd) in batch {
            shard.execute_batch(std::slice::from_ref(&(*now, cmd.clone())), &mut answers).unwrap();
            positions.push(shard.position());
        }
        for ((now, cmd), (answer, position)) in batch.iter().zip(answers.iter().zip(positions)) {
            assert_eq!(&self.model.execute(cmd, *now), answer, "shard and model disagree on {cmd:?}");
            self.digests.insert(position, self.model.state().digest());
        }
        assert_eq!(shard.state().digest(), self.model.state().digest());
    }

    /// Stops the shard (cleanly or not), damages what a crash could, restores, and checks the
    /// restored state is exactly the model's at the restored position.
    fn crash(&mut self, kind: u64, rng: &mut u64) {
        let shard = self.shard.take().unwrap();
        drop(shard.close(kind == 0).unwrap());
        match kind {
            1 => {
                tear_tail(self.dir.path(), 1 + (next(rng) % 300) as usize);
            }
            2 => {
                damage_newest_snapshot(self.dir.path());
            }
            _ => {}
        }
        let (shard, report) = DurableShard::open(config(self.dir.path())).unwrap();
        let expected = self.digests.get(&report.applied_position).unwrap_or_else(|| {
            panic!("restored to {} which is no command boundary: {report:?}", report.applied_position)
        });
        assert_eq!(
            &report.digest, expected,
            "restore at {} differs from the live state: {report:?}",
            report.applied_position
        );
        assert_eq!(shard.state().digest(), report.digest);
        shard.state().check_invariants().unwrap();
        if kind != 1 {
            assert_eq!(report.digest, self.model.state().digest(), "nothing acknowledged may be lost: {report:?}");
        }
        // Commands lost with the torn tail are lost from the model too.
        self.model = Engine::new(State::from_canonical_bytes(&shard.state().canonical_bytes()).unwrap());
        self.digests.retain(|p, _| *p <= report.applied_position);
        self.digests.insert(shard.position(), report.digest);
        self.shard = Some(shard);
    }
}

fn next(rng: &mut u64) -> u64 {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng
}

#[test]
fn random_histories_with_crashes_restore_to_the_live_digest() {
    for seed in 1..=6u64 {
        let mut sim = Sim::new();
        let mut gen = Generator::new(seed, 40);
        let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut now = T0;
        for step in 0..120 {
            let len = 1 + next(&mut rng) % 12;
            let batch: Vec<_> = (0..len)
                .map(|_| {
                    now += next(&mut rng) % 3_000;
                    (Timestamp(now), gen.next_command())
                })
                .collect();
            sim.run_batch(&batch);
            if step % 17 == 16 {
                let kind = next(&mut rng) % 4;
                sim.crash(kind, &mut rng);
            }
        }
        sim.crash(0, &mut rng);
    }
}

#[test]
fn a_settlement_torn_between_its_parts_is_dropped_whole_and_can_be_redone() {
    let dir = tempfile::tempdir().unwrap();
    let users = 3_000u64;
    let (mut shard, _) = DurableShard::open(config(dir.path())).unwrap();
    let mut cmds: Vec<Command> = setup_commands(default_limits());
    cmds.extend((0..users).map(|u| deposit(u, 1_000_000, u)));
    cmds.push(Command::GameStart { round: id("big"), game: id(GAME), window_ms: Some(60_000) });
    cmds.extend((0..users).map(|u| {
        Command::PlaceBet(croupier_domain::command::PlaceBet {
            order_no: croupier_domain::ExtId::numbered("o", u),
            user: croupier_domain::UserId(u),
            round: id("big"),
            selection: BANKER,
            stake: croupier_domain::Money(1_000),
            currency: code(CURRENCY),
            platform: code("ag"),
        })
    }));
    cmds.push(Command::GameStop { round: id("big") });
    let batch: Vec<_> = cmds.into_iter().map(|c| (Timestamp(T0), c)).collect();
    let mut answers = Vec::new();
    shard.execute_batch(&batch, &mut answers).unwrap();
    assert!(answers.iter().all(|a| a.is_ok()));
    let before = shard.state().digest();
    let position = shard.position();

    let draw_cmd = Command::GameDraw { round: id("big"), result: Some(draw(BANKER)) };
    shard.execute(&draw_cmd, Timestamp(T0 + 1)).unwrap().unwrap();
    let parts = shard.position() - position;
    assert!(parts >= 2, "3,000 settlements span several records, got {parts}");
    drop(shard.close(false).unwrap());

    // Tear off the seal and the last part: the settlement must vanish whole.
    tear_tail(dir.path(), 600);
    let (shard, report) = DurableShard::open(config(dir.path())).unwrap();
    assert_eq!(report.aborted_commands.len(), 1, "{report:?}");
    assert_eq!(report.applied_position, position);
    assert_eq!(report.digest, before, "a half-settled round would be worse than none");
    shard.state().check_invariants().unwrap();

    // The operator repeats the draw, which now settles every bet once.
    let mut shard = shard;
    shard.execute(&draw_cmd, Timestamp(T0 + 2)).unwrap().unwrap();
    assert_eq!(shard.state().bets().iter().filter(|b| b.bill_status() == 2).count(), users as usize);
    let redone = shard.state().digest();
    assert_ne!(redone, before);
    drop(shard.close(false).unwrap());
    let (shard, report) = DurableShard::open(config(dir.path())).unwrap();
    assert_eq!(report.digest, redone);
    assert_eq!(report.aborted_commands.len(), 1, "{report:?}");
    shard.state().check_invariants().unwrap();
}

#[test]
fn a_snapshot_that_does_not_reproduce_its_digest_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (mut shard, _) = DurableShard::open(config(dir.path())).unwrap();
    let mut gen = Generator::new(99, 20);
    let mut answers = Vec::new();
    let mut batch: Vec<_> = setup_commands(default_limits()).into_iter().map(|c| (Timestamp(T0), c)).collect();
    batch.extend((0..400).map(|_| (Timestamp(T0), gen.next_command())));
    shard.execute_batch(&batch, &mut answers).unwrap();
    shard.start_snapshot().unwrap();
    let info = shard.finish_snapshot().unwrap().unwrap();
    let live = shard.state().digest();
    drop(shard.close(false).unwrap());

    // Rewrite the snapshot with a header digest that is checksummed but wrong.
    let store = croupier_snapshots::SnapshotStore::open(snapshot_dir(dir.path())).unwrap();
    let (mut header, payload) = store.load(&info.path).unwrap();
    header.digest[0] ^= 1;
    store.write(&header, &payload).unwrap();
    let (shard, report) = DurableShard::open(config(dir.path())).unwrap();
    assert!(report.skipped_snapshots.iter().any(|(_, why)| why.contains("digest")), "{report:?}");
    assert_eq!(report.digest, live);
    drop(shard);
}

/// Appends `events` to shard 0's journal as one command, the way a buggy version could
/// have: no `decide` checked them.
fn append_raw(dir: &Path, events: &[croupier_domain::Event]) -> u64 {
    use croupier_journal::{Journal, JournalConfig};
    let mut jc = JournalConfig::new(croupier_store::journal_dir(dir, 0));
    jc.durability = Durability::Process;
    jc.segment_bytes = 64 * 1024;
    let (mut journal, _) = Journal::open(jc).unwrap();
    let max = journal.max_payload();
    let mut last = 0;
    croupier_store::codec::encode(events, max, &mut Vec::new(), |part| {
        last = journal.append(part)?;
        Ok::<_, croupier_journal::JournalError>(())
    })
    .unwrap();
    journal.commit().unwrap();
    journal.close().unwrap();
    last
}

/// A record that cannot be applied (issue 12: a poison record made every restore and
/// `journal verify` panic, and the folder could not be opened without editing the journal):
/// restore now refuses with the shard and position and says how to set it aside; once set
/// aside, the shard opens with everything before it, and the journal itself is untouched.
#[test]
fn a_poison_record_is_named_and_can_be_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let (mut shard, _) = DurableShard::open(config(dir.path())).unwrap();
    for c in setup_commands(default_limits()).iter().chain([&deposit(1, 5_000, 1)]) {
        shard.execute(c, Timestamp(T0)).unwrap().unwrap();
    }
    let digest = shard.state().digest();
    shard.close(false).unwrap();
    // An acknowledgement for transfers never sent: `evolve` asserts it cannot happen.
    let poison = append_raw(dir.path(), &[croupier_domain::Event::TransfersAcked { peer: 3, upto: 9 }]);

    let err = DurableShard::open(config(dir.path())).err().expect("a poison record refuses to open");
    let text = err.to_string();
    assert!(text.contains(&format!("journal record {poison} of shard 0 cannot be applied")), "{text}");
    assert!(text.contains("croupier journal skip"), "{text}");
    let jdir = croupier_store::journal_dir(dir.path(), 0);
    let mut report = croupier_store::RestoreReport::default();
    let replayed = croupier_store::replay_into(&mut State::new(), &jdir, 0, &mut report, |_, _| {});
    assert!(replayed.is_err(), "an audit replay names it too, without panicking");

    croupier_store::skip_position(&jdir, poison, "test: poison").unwrap();
    let (mut shard, report) = DurableShard::open(config(dir.path())).unwrap();
    assert_eq!(report.skipped_commands, vec![poison]);
    assert_eq!(shard.state().digest(), digest, "everything before the record is back");
    assert!(shard.execute(&deposit(1, 1, 2), Timestamp(T0)).unwrap().is_ok(), "and the shard serves again");
    shard.close(false).unwrap();
    let (shard, _) = DurableShard::open(config(dir.path())).unwrap();
    let cur = shard.state().currency_by_code(&code(CURRENCY)).unwrap();
    let account = shard.state().account_of(croupier_domain::UserId(1), cur).unwrap();
    assert_eq!(shard.state().account(account).balance(), croupier_domain::Money(5_001), "after a restart too");
    shard.close(false).unwrap();
    assert!(croupier_journal::verify(&jdir).is_ok(), "the journal's chain is whole: nothing was edited");
}
