//! The data-folder sub-commands end to end, on folders written by `croupier bench shard-bets` and
//! `croupier soak`: restore, journal verify (clean and damaged) and dump, snapshot create and
//! list, replay --round.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn croupier(args: &[&str], data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_croupier"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("CROUPIER_DATA_DIR")
        .output()
        .expect("the croupier binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

fn ok(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what} failed: {}{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

fn json(out: &Output, what: &str) -> serde_json::Value {
    let stdout = ok(out, what);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{what}: not one JSON object ({e}): {stdout}"))
}

fn segments(data: &Path) -> Vec<PathBuf> {
    let dir = data.join("shard-0000").join("journal");
    let mut segs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segs.sort();
    segs
}

/// (offset, payload length) of every data frame of a segment, read with the documented format
/// (72-byte header; 8-byte aligned frames `len:u32 | crc:u32 | seq:u64 | payload`, the top
/// bit of `len` marking a seal; an all-zero frame header ends the written area).
fn data_frames(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut off = 72;
    while off + 16 <= bytes.len() {
        let word = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap());
        if bytes[off..off + 16].iter().all(|b| *b == 0) {
            break;
        }
        let len = (word & !(1 << 31)) as usize;
        if word & (1 << 31) == 0 {
            out.push((off, len));
        }
        off += (16 + len).div_ceil(8) * 8;
    }
    out
}

#[test]
fn a_bench_folder_restores_verifies_dumps_snapshots_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["bench", "shard-bets", "--durability", "process", "--ops", "20000", "--accounts", "1000", "--json"];
    let bench = json(&croupier(&args, &data), "bench shard-bets");
    assert_eq!(bench["scenario"], "shard-bets");
    assert_eq!(bench["durability"], "process");
    assert_eq!((bench["ops"].as_u64(), bench["accepted"].as_u64()), (Some(20_000), Some(20_000)));
    assert_eq!(bench["data_dir"].as_str(), data.to_str());
    let digest = bench["digest"].as_str().unwrap().to_string();
    let position = bench["position"].as_u64().unwrap();
    let round = bench["round"].as_str().unwrap().to_string();
    // Setup (3 commands, 1,000 deposits, the round), then one record per bet.
    assert_eq!(position, 3 + 1_000 + 1 + 20_000);

    // The folder is not mixed with another run by accident.
    let again = croupier(&args, &data);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("--append"), "{}", text(&again.stderr));

    let restored = json(&croupier(&["restore", "--json"], &data), "restore");
    let shard = &restored["shards"][0];
    assert_eq!(shard["digest"].as_str(), Some(digest.as_str()));
    assert_eq!(shard["applied_position"].as_u64(), Some(position));
    assert_eq!(shard["position"].as_u64(), Some(position));

    let verified = json(&croupier(&["journal", "verify", "--json"], &data), "journal verify");
    assert_eq!(verified["ok"], true);
    assert_eq!(verified["shards"][0]["digest"].as_str(), Some(digest.as_str()));
    assert_eq!(verified["shards"][0]["last_seq"].as_u64(), Some(position));

    let dump = ok(&croupier(&["journal", "dump", "--json", "--from", "1"], &data), "journal dump");
    let mut positions = Vec::new();
    let mut bets = 0;
    for line in dump.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        positions.push(v["position"].as_u64().unwrap());
        bets += (v["event"] == "bet_accepted") as usize;
        assert!(v["data"].is_object() || v["data"].is_string(), "{line}");
    }
    assert_eq!(positions.first(), Some(&1));
    assert_eq!(positions.last(), Some(&position));
    assert!(positions.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(bets, 20_000);

    let created = ok(&croupier(&["snapshot", "create"], &data), "snapshot create");
    assert!(created.contains(&format!("position {position}")), "{created}");
    let listed = ok(&croupier(&["snapshot", "list"], &data), "snapshot list");
    let snap = listed
        .lines()
        .find(|l| l.contains(&format!("position {position:>12}")))
        .unwrap_or_else(|| panic!("no snapshot at {position}: {listed}"));
    let path = snap.split_whitespace().last().unwrap();
    assert!(path.ends_with(".snap") && Path::new(path).is_file(), "{snap}");
    // Restoring from that snapshot gives the same state.
    let restored = json(&croupier(&["restore", "--json"], &data), "restore from the snapshot");
    assert_eq!(restored["shards"][0]["snapshot"]["position"].as_u64(), Some(position));
    assert_eq!(restored["shards"][0]["digest"].as_str(), Some(digest.as_str()));

    let replay = ok(&croupier(&["replay", "--round", &round], &data), "replay --round");
    assert_eq!(replay.lines().filter(|l| l.contains(" bet_accepted ")).count(), 20_000);
    assert!(replay.lines().next().unwrap().contains(" round_opened "), "{}", &replay[..200]);
    let unknown = croupier(&["replay", "--round", "no-such-round"], &data);
    assert!(!unknown.status.success());
    assert!(unknown.stdout.is_empty());
    let err = text(&unknown.stderr);
    assert!(err.contains("no round \"no-such-round\""), "{err}");

    // One flipped byte in a sealed record in the middle of the first segment.
    let seg = segments(&data).remove(0);
    let mut bytes = std::fs::read(&seg).unwrap();
    let frames = data_frames(&bytes);
    assert!(frames.len() > 1_000, "{} frames", frames.len());
    let (off, len) = frames[frames.len() / 2];
    bytes[off + 16 + len / 2] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();
    let name = seg.file_name().unwrap().to_str().unwrap();
    for what in [&["journal", "verify"][..], &["restore"]] {
        let out = croupier(what, &data);
        assert!(!out.status.success(), "{what:?} accepted a damaged journal");
        let err = text(&out.stderr);
        assert!(err.contains(name) && err.contains("offset"), "{what:?}: {err}");
        let named: u64 = err
            .split("offset ")
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no offset in {err}"));
        assert_eq!(named, off as u64, "{what:?} names the damaged frame: {err}");
    }
}

#[test]
fn a_soak_that_stops_restores_to_its_last_ack() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut last = None;
    for (run, durability) in ["process", "fsync"].iter().enumerate() {
        let args = ["soak", "--seed", "9", "--max-commands", "600", "--batch", "32", "--durability", durability];
        let out = ok(&croupier(&args, &data), "soak");
        let acks: Vec<(u64, String)> = out
            .lines()
            .map(|l| {
                let mut p = l.split(' ');
                assert_eq!(p.next(), Some("ack"), "{l}");
                (p.next().unwrap().parse().unwrap(), p.next().unwrap().to_string())
            })
            .collect();
        // 600 commands in batches of 32, plus the setup batch on the first run.
        assert_eq!(acks.len(), 600usize.div_ceil(32) + (run == 0) as usize);
        last = acks.last().cloned();
        let (position, digest) = last.clone().unwrap();
        let restored = json(&croupier(&["restore", "--json"], &data), "restore");
        assert_eq!(restored["shards"][0]["applied_position"].as_u64(), Some(position));
        assert_eq!(restored["shards"][0]["digest"].as_str(), Some(digest.as_str()));
    }
    // The same seed on a copy of the same journal continues identically.
    let copy = dir.path().join("copy");
    copy_dir(&data, &copy);
    let args = ["soak", "--seed", "9", "--max-commands", "100", "--durability", "process"];
    let a = ok(&croupier(&args, &data), "soak");
    let b = ok(&croupier(&args, &copy), "soak on the copy");
    assert_eq!(a, b);
    assert!(a.lines().next().unwrap().split(' ').nth(1).unwrap().parse::<u64>().unwrap() >= last.unwrap().0);
    ok(&croupier(&["journal", "verify"], &data), "journal verify");
}

/// `journal dump --from N` with N > 1 replays the events after N into an empty state, and
/// `evolve` panics on the first bet ("bet ids are dense"): dump must decode without applying.
#[test]
fn dump_starts_in_the_middle_of_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["soak", "--seed", "4", "--max-commands", "300", "--durability", "process"];
    let out = ok(&croupier(&args, &data), "soak");
    let position: u64 = out.lines().last().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let from = (position / 2).to_string();
    let tail = ok(&croupier(&["journal", "dump", "--json", "--from", &from], &data), "journal dump --from");
    let first: serde_json::Value = serde_json::from_str(tail.lines().next().unwrap()).unwrap();
    assert_eq!(first["position"].as_u64(), Some(position / 2));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Appends one command's events to shard 0's journal as a buggy version could have: no
/// `decide` checked them. Returns the record's position.
fn append_poison(data: &Path) -> u64 {
    use croupier_journal::{Durability, Journal, JournalConfig};
    let mut jc = JournalConfig::new(data.join("shard-0000").join("journal"));
    jc.durability = Durability::Process;
    let (mut journal, _) = Journal::open(jc).unwrap();
    // An acknowledgement of transfers never sent: `evolve` asserts this cannot happen.
    let poison = [croupier_domain::Event::TransfersAcked { peer: 7, upto: 3 }];
    let mut last = 0;
    croupier_store::codec::encode(&poison, journal.max_payload(), &mut Vec::new(), |part| {
        last = journal.append(part)?;
        Ok::<_, croupier_journal::JournalError>(())
    })
    .unwrap();
    journal.commit().unwrap();
    journal.close().unwrap();
    last
}

/// A record that cannot be applied (issue 12: `restore` and `journal verify` panicked on it,
/// and the folder could not be opened without editing the journal by hand): both now fail
/// with the shard, the position and the way out, and `journal skip` sets it aside so the
/// folder restores again, journal untouched.
#[test]
fn a_poison_record_is_reported_and_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["soak", "--seed", "9", "--max-commands", "200", "--durability", "process"];
    let out = ok(&croupier(&args, &data), "soak");
    let acked: u64 = out.lines().last().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let before = json(&croupier(&["restore", "--json"], &data), "restore before");
    let poison = append_poison(&data);
    assert!(poison > acked);

    for cmd in [&["journal", "verify"][..], &["restore"][..]] {
        let out = croupier(cmd, &data);
        let err = text(&out.stderr);
        // 1 is an error the command reports; a panic that escaped would exit 101.
        assert_eq!(out.status.code(), Some(1), "{cmd:?} did not fail cleanly: {err}");
        assert!(err.contains(&format!("journal record {poison} of shard 0 cannot be applied")), "{cmd:?}: {err}");
        assert!(err.contains(&format!("croupier journal skip --shard 0 --position {poison}")), "{cmd:?}: {err}");
    }
    let wrong = croupier(&["journal", "skip", "--shard", "0", "--position", &(poison + 5).to_string()], &data);
    assert!(!wrong.status.success(), "a position past the journal is refused");
    let skip = ["journal", "skip", "--shard", "0", "--position", &poison.to_string(), "--reason", "test"];
    ok(&croupier(&skip, &data), "journal skip");
    let verify = json(&croupier(&["journal", "verify", "--json"], &data), "verify after skip");
    assert_eq!(verify["shards"][0]["skipped_commands"][0].as_u64(), Some(poison));
    let after = json(&croupier(&["restore", "--json"], &data), "restore after skip");
    assert_eq!(after["shards"][0]["digest"], before["shards"][0]["digest"], "the state before the record is back");
    assert_eq!(after["shards"][0]["skipped_commands"][0].as_u64(), Some(poison));
}
