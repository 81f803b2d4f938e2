//! Runs the built `croupier` binary as a user would.

use std::process::{Command, Output};

fn croupier(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_croupier")).args(args).output().expect("the croupier binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

#[test]
fn bench_json_has_every_key_with_sane_numbers() {
    let out = croupier(&["bench", "engine-bets", "--ops", "20000", "--accounts", "1000", "--json"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.trim().lines().count(), 1, "exactly one JSON object: {stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    let obj = v.as_object().expect("a JSON object");
    for key in [
        "scenario",
        "ops",
        "seconds",
        "ops_per_sec",
        "latency_us",
        "accepted",
        "rejected",
        "digest",
        "allocations",
        "allocations_per_op",
        "settle_ms",
        "worst_batch_us",
    ] {
        assert!(obj.contains_key(key), "missing {key} in {stdout}");
    }
    assert_eq!(v["scenario"], "engine-bets");
    assert_eq!(v["ops"], 20_000);
    let accepted = v["accepted"].as_u64().unwrap();
    let rejected = v["rejected"].as_u64().unwrap();
    assert_eq!(accepted + rejected, 20_000);
    assert!(accepted >= 19_000, "nearly every bet is accepted: {accepted}");
    let seconds = v["seconds"].as_f64().unwrap();
    let ops_per_sec = v["ops_per_sec"].as_f64().unwrap();
    assert!(seconds > 0.0 && seconds < 600.0);
    assert!((ops_per_sec * seconds - 20_000.0).abs() < 1.0);
    let lat = &v["latency_us"];
    let q: Vec<f64> = ["p50", "p99", "p999", "max"]
        .iter()
        .map(|k| lat[*k].as_f64().unwrap_or_else(|| panic!("latency_us.{k} in {stdout}")))
        .collect();
    assert!(q[0] > 0.0, "{q:?}");
    assert!(q.windows(2).all(|w| w[0] <= w[1]), "percentiles rise: {q:?}");
    assert!(q[3] < seconds * 1e6, "no op took longer than the loop: {q:?}");
    let digest = v["digest"].as_str().unwrap();
    assert_eq!(digest.len(), 64);
    assert!(digest.chars().all(|c| c.is_ascii_hexdigit()));
    let allocations = v["allocations"].as_u64().unwrap();
    let per_op = v["allocations_per_op"].as_f64().unwrap();
    assert!((per_op - allocations as f64 / 20_000.0).abs() < 1e-9);
    assert!(per_op < 0.01, "no allocation per accepted bet: {per_op}");
    assert!(v["settle_ms"].is_null());

    // The same seed and sizes reproduce the state exactly.
    let again = croupier(&["bench", "engine-bets", "--ops", "20000", "--accounts", "1000", "--json"]);
    let w: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(w["digest"], v["digest"]);
}

#[test]
fn settle_and_grab_report_their_own_figures() {
    let out = croupier(&["bench", "engine-settle", "--bets", "5000", "--accounts", "500", "--json"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["ops"].as_u64(), v["accepted"].as_u64()), (Some(5_000), Some(5_000)));
    let settle_ms = v["settle_ms"].as_f64().unwrap();
    assert!((settle_ms / 1e3 - v["seconds"].as_f64().unwrap()).abs() < 1e-9);

    let out = croupier(&["bench", "engine-grab", "--grabs", "5000", "--json"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["ops"].as_u64(), v["accepted"].as_u64()), (Some(5_000), Some(5_000)));
    // The sender and every grabber.
    assert_eq!(v["accounts"].as_u64(), Some(5_001));

    // Through Engine::execute_batch: the same state, every op in the histogram.
    let out = croupier(&["bench", "engine-grab", "--grabs", "5000", "--batch", "64", "--json"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let b: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(b["digest"], v["digest"]);
    assert_eq!(b["latency_sampling"], "batches of 64 timed whole, batch time / 64 per op");
}

#[test]
fn the_table_names_the_figures() {
    let out = croupier(&["bench", "engine-grab", "--grabs", "3000"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for word in ["engine-grab", "ops/s", "p99.9", "allocations", "digest"] {
        assert!(stdout.contains(word), "{word} missing from:\n{stdout}");
    }
}

#[test]
fn help_explains_every_scenario() {
    let top = croupier(&["--help"]);
    assert!(top.status.success());
    assert!(text(&top.stdout).contains("bench"));
    let out = croupier(&["bench", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for needle in [
        "engine-bets",
        "engine-settle",
        "engine-grab",
        "--ops",
        "--accounts",
        "--bets",
        "--grabs",
        "--seed",
        "--json",
        "every 64th",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}

#[test]
fn bad_arguments_fail_with_a_clear_message() {
    let out = croupier(&["bench", "engine-roulette"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("invalid value 'engine-roulette'") && err.contains("engine-bets"), "{err}");

    let out = croupier(&["bench", "engine-bets", "--ops", "lots"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--ops"));

    let out = croupier(&["bench", "engine-grab", "--ops", "10"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("--ops does not apply to engine-grab"), "{err}");
    assert!(!err.contains("backtrace"), "{err}");

    let out = croupier(&["bench", "engine-bets", "--accounts", "0", "--ops", "10"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("benchmark engine-bets failed") && err.contains("accounts must be"), "{err}");
}

/// `fair crash` against hashes and crash points bustabit's own verifier code printed (the
/// domain's `crash::fair` vectors): points, chain links, the terminating hash reached, and a
/// broken chain refused with exit 1.
#[test]
fn fair_crash_prints_bustabits_points_and_checks_the_chain() {
    const SALT: &str = "00000000000000000001e08b7fd44f95e3e950ac65650a8031a6d5e1750e34be";
    const H: [&str; 6] = [
        "d044badb345afe2be773f67e47c408d6fd0d6f24e58ccafb07383d3fdb88a8ca",
        "e2bf03f91a34e7d58dd35d1761035a10e096159c6e271b5b58cd4e255888f581",
        "c0b4f45f07d48c53acdec67bf31938fe1d4e7db9416fd7035ab31e8fe57d617f",
        "e12211f2aff95cceee3d6b4c6f9f3bc7bdbce281416d852f0f7ef2f5ec8c6786",
        "3dde7dae96ea88159d95eb93db07d0ec1d231ac1d485c09ddb119cc74ab8f619",
        "25524a5521159bbb6741a756a7abe1c696707c31a8bc1ca96168ffedb964cdf4",
    ];
    let out = croupier(&["fair", "crash", "--hash", H[0], "--salt", SALT, "--games", "3", "--terminating", H[5]]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).expect("JSON");
    let games = v["games"].as_array().unwrap();
    let points: Vec<&str> = games.iter().map(|g| g["crash_point"].as_str().unwrap()).collect();
    assert_eq!(points, ["1.53", "2.08", "2.49"]);
    let hashes: Vec<&str> = games.iter().map(|g| g["hash"].as_str().unwrap()).collect();
    assert_eq!(hashes, H[..3]);
    assert_eq!((v["chain_ok"].as_bool(), v["terminating"]["oldest_game"].as_u64()), (Some(true), Some(3)), "{v}");

    let given = croupier(&["fair", "crash", "--hash", H[0], "--hash", H[1], "--hash", H[2], "--salt", SALT]);
    assert!(given.status.success(), "stderr: {}", text(&given.stderr));
    let broken = croupier(&["fair", "crash", "--hash", H[0], "--hash", H[2], "--salt", SALT]);
    assert!(!broken.status.success(), "a gap in the chain is refused");
    let v: serde_json::Value = serde_json::from_str(&text(&broken.stdout)).expect("JSON");
    assert_eq!(v["games"][0]["chains_to_next"], false, "{v}");
    assert!(text(&broken.stderr).contains("do not form one chain"));
}

/// `fair verify --game blackjack` replays a game from Stake's card stream and the actions: at
/// nonce 20 of the verifier's seeds the dealer shows the ace of diamonds over a queen, so the
/// declined insurance ends the game with the dealer's blackjack, and taken it pays 2:1.
#[test]
fn fair_verify_replays_a_blackjack_game() {
    const SERVER: &str = "735249f062ac025044a8523aa92e034803f02d6b75129abc97e8b1be19aab9b4";
    let run = |actions: &str, stake: &str| {
        let args = ["fair", "verify", "--game", "blackjack", "--server-seed", SERVER, "--client-seed"];
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["ec75fca98de6f2d9", "--nonce", "20", "--actions", actions, "--stake", stake]);
        croupier(&all)
    };
    let out = run("no_insurance", "1000");
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).expect("JSON");
    assert_eq!(v["outcome"], "dealer A-diamond, Q-club (21); hand 4-heart, 9-spade (13); insurance declined", "{v}");
    assert_eq!((v["multiplier"].as_str(), v["payout"].as_i64()), (Some("0"), Some(0)));
    let v: serde_json::Value = serde_json::from_str(&text(&run("insurance", "1000").stdout)).expect("JSON");
    assert_eq!(v["payout"].as_i64(), Some(1_500), "{v}");
    // An action the game refuses, and a name that is no action.
    assert!(!run("hit", "1000").status.success(), "a hit before the insurance answer");
    let bad = run("surrender", "1000");
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("--actions"), "{}", text(&bad.stderr));
}
