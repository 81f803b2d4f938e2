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
fn bad_arguments_are_refused_with_usage() {
    let out = bench(&["no-such-scenario"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("possible values") && err.contains("engine-bets"), "the refusal lists the scenarios: {err}");
}
