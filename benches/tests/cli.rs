//! The `croupier-bench` binary itself (its scenarios are tested in depth through
//! `croupier bench`, which hands over to it, in `tools/tests/`). Being an integration test of
//! this package also makes `cargo test --workspace` build the binary beside `croupier`.

use std::process::Command;

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_croupier-bench")).args(args).output().expect("croupier-bench runs")
}

#[test]
fn a_scenario_prints_one_standard_json_object() {
    let out = bench(&["engine-bets", "--ops", "20000", "--accounts", "1000", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["scenario"], "engine-bets");
    assert_eq!(v["ops"], 20000);
    for key in ["seconds", "ops_per_sec"] {
        assert!(v[key].as_f64().is_some_and(|x| x > 0.0), "{key}: {v}");
    }
    for p in ["p50", "p99", "p999", "max"] {
        assert!(v["latency_us"][p].is_number(), "latency_us.{p}: {v}");
    }
}

#[test]
fn crash_reports_its_three_phases_in_the_one_object() {
    let out = bench(&["crash", "--bets", "3000", "--shards", "2", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(
        (v["scenario"].as_str(), v["ops"].as_u64(), v["cashouts"].as_u64()),
        (Some("crash"), Some(3300), Some(300))
    );
    for key in ["seconds", "ops_per_sec", "placement_per_sec", "cashout_per_sec", "settle_ms"] {
        assert!(v[key].as_f64().is_some_and(|x| x > 0.0), "{key}: {v}");
    }
    assert_eq!((v["auto_cashouts"].as_u64(), v["losses"].as_u64()), (Some(300), Some(2400)));
    assert_eq!(v["house_result"].as_i64().unwrap() + v["players_result"].as_i64().unwrap(), 0);
    assert_eq!(v["digest"].as_str().map(str::len), Some(64));
}

#[test]
fn bad_arguments_are_refused_with_usage() {
    let out = bench(&["no-such-scenario"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("possible values") && err.contains("engine-bets"), "the refusal lists the scenarios: {err}");
}
