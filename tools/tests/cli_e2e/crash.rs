//! kill -9 crash loop: `croupier soak` is started on one data folder, killed with SIGKILL at a
//! random moment (during restore, mid-batch, mid-snapshot, mid-segment roll), and started
//! again, many times over. After each kill the folder is checked:
//!
//! - a restore succeeds and reaches at least the last acknowledged position;
//! - every acknowledged state is in the journal: replaying it from the start reproduces, at
//!   each acknowledged position, the digest the soak printed there;
//! - the restored digest (snapshot + journal) equals that of a replay of the whole journal;
//! - the money invariants hold.
//!
//! At the end `croupier journal verify` must pass. `CROUPIER_CRASH_KILLS` sets the number of
//! kills (default 50), `CROUPIER_CRASH_SEED` the seed of the kill schedule and of the soak;
//! with `CROUPIER_CRASH_KEEP` set, the folder (data and each child's stderr) is kept.

use croupier_domain::rng::SplitMix64;
use croupier_domain::State;
use croupier_journal::Durability;
use croupier_store::{journal_dir, DurableShard, RestoreReport, ShardConfig};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Small segments and frequent snapshots, so kills also land on segment rolls and snapshot
/// writes. The test's own restore uses the same segment size.
const SEGMENT_BYTES: u64 = 64 * 1024;
const SNAPSHOT_EVERY: u64 = 300;
/// A child that prints no ack in this long is stuck (debug builds restore slowly, but not this).
const FIRST_ACK_LIMIT: Duration = Duration::from_secs(30);

/// Kills and reaps the child when dropped, whatever happens to the test.
struct Soak {
    child: Child,
    reader: Option<JoinHandle<()>>,
    lines: mpsc::Receiver<String>,
    stderr: PathBuf,
}

impl Soak {
    fn spawn(data: &Path, stderr: PathBuf, seed: u64, durability: &str, batch: u64) -> Soak {
        let log = std::fs::File::create(&stderr).expect("stderr log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_croupier"))
            .args(["soak", "--data-dir"])
            .arg(data)
            .args(["--seed", &seed.to_string(), "--durability", durability, "--batch", &batch.to_string()])
            .args(["--snapshot-every", &SNAPSHOT_EVERY.to_string(), "--segment-bytes", &SEGMENT_BYTES.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("croupier soak starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Soak { child, reader: Some(reader), lines, stderr }
    }

    /// SIGKILL, reap, and every line the child wrote before it died.
    fn kill(mut self) -> Vec<String> {
        self.stop();
        self.lines.try_iter().collect()
    }

    fn stop(&mut self) {
        // `kill` sends SIGKILL on Unix; it fails only if the child was already reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Soak {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `ack <position> <digest>`.
fn parse_ack(line: &str) -> (u64, String) {
    let mut parts = line.split(' ');
    let (Some("ack"), Some(pos), Some(digest), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        panic!("not an ack line: {line:?}");
    };
    assert!(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()), "{line:?}");
    (pos.parse().unwrap_or_else(|_| panic!("bad position in {line:?}")), digest.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The checks after a kill. `check` are the acknowledged (position, digest) pairs to look for
/// in the journal; `last_acked` is the highest position ever acknowledged.
fn check_folder(data: &Path, check: &BTreeMap<u64, String>, last_acked: u64, kill: usize) -> u64 {
    let mut cfg = ShardConfig::new(data, 0);
    cfg.durability = Durability::Process;
    cfg.segment_bytes = SEGMENT_BYTES;
    cfg.snapshot_every_records = None;
    let (shard, report) = DurableShard::open(cfg).unwrap_or_else(|e| panic!("kill {kill}: restore failed: {e}"));
    assert!(
        report.applied_position >= last_acked,
        "kill {kill}: restored to {} but {last_acked} was acknowledged ({report:?})",
        report.applied_position
    );
    shard.state().check_invariants().unwrap_or_else(|e| panic!("kill {kill}: invariants after restore: {e}"));
    let restored = shard.state().digest();
    assert_eq!(restored, report.digest, "kill {kill}");
    shard.close(false).unwrap_or_else(|e| panic!("kill {kill}: close: {e}"));

    // A fresh replay of the whole journal; a shadow state follows the events handed to the
    // callback, so that the state at each acknowledged position can be hashed there. The state
    // at position p is the state after the last whole command ending at or before p (an ack
    // after a batch that journaled nothing repeats the previous position).
    let mut state = State::new();
    let mut shadow = State::new();
    let mut replay = RestoreReport::default();
    let mut compared = 0usize;
    let mut mismatch = None;
    let mut previous = 0u64;
    let mut compare = |shadow: &State, range: std::ops::RangeInclusive<u64>| {
        let mut digest = None;
        for (position, acked) in check.range(range) {
            let found = digest.get_or_insert_with(|| hex(&shadow.digest()));
            compared += 1;
            if acked != found && mismatch.is_none() {
                mismatch = Some((*position, acked.clone(), found.clone()));
            }
        }
    };
    croupier_store::replay_into(&mut state, &journal_dir(data, 0), 0, &mut replay, |position, events| {
        if position > previous + 1 {
            compare(&shadow, previous + 1..=position - 1);
        }
        for e in events {
            croupier_domain::evolve(&mut shadow, e);
        }
        compare(&shadow, position..=position);
        previous = position;
    })
    .unwrap_or_else(|e| panic!("kill {kill}: replay from the start failed: {e}"));
    compare(&shadow, previous + 1..=u64::MAX);
    if let Some((position, acked, found)) = mismatch {
        panic!("kill {kill}: acknowledged {acked} at position {position}, the journal replays to {found}");
    }
    assert_eq!(compared, check.len(), "kill {kill}");
    assert_eq!(shadow.digest(), state.digest(), "kill {kill}: the callback saw every event");
    assert_eq!(replay.applied_position, report.applied_position, "kill {kill}");
    assert_eq!(state.digest(), restored, "kill {kill}: snapshot + journal differs from the whole journal");
    state.check_invariants().unwrap_or_else(|e| panic!("kill {kill}: invariants after replay: {e}"));
    report.applied_position
}

#[test]
fn kill_9_at_random_moments_loses_no_acknowledged_state() {
    let kills: usize = std::env::var("CROUPIER_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let seed: u64 = std::env::var("CROUPIER_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut rng = SplitMix64::new(seed);
    let started = Instant::now();
    let mut acks: BTreeMap<u64, String> = BTreeMap::new();
    let mut last_acked = 0u64;
    let (mut total_acks, mut during_startup, mut position) = (0usize, 0usize, 0u64);
    for kill in 0..kills {
        let durability = if (kill / 3) % 2 == 0 { "process" } else { "fsync" };
        let batch = [1, 4, 16, 64][rng.below(4) as usize];
        let soak = Soak::spawn(&data, dir.path().join(format!("soak-{kill}.stderr")), seed, durability, batch);
        let spawned = Instant::now();
        let mut lines = Vec::new();
        if rng.below(5) == 0 {
            // Kill at a random moment from the start: often during the restore.
            let wait = Duration::from_millis(rng.below(120));
            while let Some(left) = wait.checked_sub(spawned.elapsed()) {
                match soak.lines.recv_timeout(left) {
                    Ok(line) => lines.push(line),
                    Err(_) => break,
                }
            }
        } else {
            // Kill a random while after the first acknowledgement, or after a few acks.
            match soak.lines.recv_timeout(FIRST_ACK_LIMIT) {
                Ok(line) => lines.push(line),
                Err(e) => {
                    panic!("kill {kill}: no ack within {FIRST_ACK_LIMIT:?} ({e}); stderr:\n{}", soak.stderr_text())
                }
            }
            let until = Instant::now() + Duration::from_millis(20 + rng.below(130));
            let max_acks = 1 + rng.below(40) as usize;
            while lines.len() < max_acks {
                let Some(left) = until.checked_duration_since(Instant::now()) else { break };
                match soak.lines.recv_timeout(left) {
                    Ok(line) => lines.push(line),
                    Err(_) => break,
                }
            }
        }
        let stderr = soak.stderr.clone();
        lines.extend(soak.kill());
        if lines.is_empty() {
            during_startup += 1;
        }

        // This child's acks, plus a few earlier ones: an acknowledged state must stay forever.
        let mut check = BTreeMap::new();
        let mut previous = last_acked;
        for line in &lines {
            let (pos, digest) = parse_ack(line);
            assert!(pos >= previous, "kill {kill}: ack positions go back: {pos} after {previous}");
            previous = pos;
            if let Some(earlier) = acks.insert(pos, digest.clone()) {
                assert_eq!(earlier, digest, "kill {kill}: position {pos} acknowledged with two digests");
            }
            check.insert(pos, digest);
        }
        total_acks += lines.len();
        last_acked = previous;
        let earlier: Vec<_> = acks.iter().map(|(p, d)| (*p, d.clone())).collect();
        for _ in 0..4.min(earlier.len()) {
            let (p, d) = &earlier[rng.below(earlier.len() as u64) as usize];
            check.insert(*p, d.clone());
        }
        let restored = std::panic::catch_unwind(|| check_folder(&data, &check, last_acked, kill));
        match restored {
            Ok(p) => position = p,
            Err(e) => {
                eprintln!("child stderr:\n{}", std::fs::read_to_string(&stderr).unwrap_or_default());
                std::panic::resume_unwind(e);
            }
        }
    }

    let verify = Command::new(env!("CARGO_BIN_EXE_croupier"))
        .args(["journal", "verify", "--data-dir"])
        .arg(&data)
        .output()
        .expect("croupier journal verify runs");
    assert!(
        verify.status.success(),
        "journal verify failed: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(total_acks > 0, "no child ever acknowledged a batch");
    assert!(last_acked > 0 && position >= last_acked);
    if std::env::var_os("CROUPIER_CRASH_KEEP").is_some() {
        println!("crash loop: kept {}", dir.keep().display());
    }
    println!(
        "crash loop: {kills} kills ({during_startup} before any ack), {total_acks} acks seen ({} distinct \
         positions checked), last acked position {last_acked}, restored position {position}, {:.1} s",
        acks.len(),
        started.elapsed().as_secs_f64()
    );
}
