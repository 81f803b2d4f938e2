//! `croupier project` and `croupier status` end to end: a `croupier bench` run writes a data
//! folder of 2 shards, `project` builds the SQLite projection, and the SQL tables must agree
//! with what `croupier restore` reports (positions, digests) and with the restored engine's
//! balances, account by account.

use croupier_persistence::Db;
use croupier_store::{DurableShard, ShardConfig};
use std::path::Path;
use std::process::{Command, Output};

fn croupier(args: &[&str], data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_croupier"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("CROUPIER_DATA_DIR")
        .env_remove("CROUPIER_SQL")
        .output()
        .expect("the croupier binary runs")
}

fn json(out: &Output, what: &str) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{what} failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{what}: not one JSON object ({e}): {stdout}"))
}

use croupier_persistence::reconcile::LedgerBalances as Balances;

fn check(scenario: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let bench = croupier(
        &[
            "bench",
            scenario,
            "--shards",
            "2",
            "--durability",
            "process",
            "--ops",
            "20000",
            "--accounts",
            "3000",
            "--json",
        ],
        &data,
    );
    let bench = json(&bench, "bench");
    assert!(bench["accepted"].as_u64().unwrap() > 0);

    let before = json(&croupier(&["status", "--json"], &data), "status before");
    let behind: u64 = before["shards"].as_array().unwrap().iter().map(|s| s["events_behind"].as_u64().unwrap()).sum();
    assert!(before["shards"].as_array().unwrap().iter().all(|s| s["records_behind"].as_u64().unwrap() > 0));
    let projected = json(&croupier(&["project", "--json"], &data), "project");
    assert_eq!(projected["events"].as_u64().unwrap(), behind, "status counted the events project wrote");
    let restore = json(&croupier(&["restore", "--json"], &data), "restore");
    let status = json(&croupier(&["status", "--json"], &data), "status");

    let shards = restore["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 2);
    let positions = projected["positions"].as_array().unwrap();
    for (r, (p, s)) in shards.iter().zip(positions.iter().zip(status["shards"].as_array().unwrap())) {
        assert_eq!(r["applied_position"], p["position"], "projected to restore's position");
        assert_eq!(s["records_behind"], 0, "status: nothing behind");
        assert_eq!(s["events_behind"], 0);
        assert_eq!(s["projected_position"], p["position"]);
    }

    // The engine restored from the same folder (digests as restore printed them) against SQL.
    let mut engine = Balances::new();
    for (shard, r) in shards.iter().enumerate() {
        let (s, _) = DurableShard::open(ShardConfig::new(&data, shard as u32)).unwrap();
        let digest: String = s.state().digest().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(r["digest"].as_str().unwrap(), digest, "the state compared is restore's");
        croupier_persistence::reconcile::engine_balances(shard as u32, s.state(), &mut engine);
        s.close(false).unwrap();
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let db = Db::connect(&croupier_persistence::default_sql_url(&data)).await.unwrap();
        assert_eq!(
            croupier_persistence::reconcile::ledger_balances(&db).await.unwrap(),
            engine,
            "{scenario}: SQL ledger sums equal the engine's balances"
        );
        let zero = db.pairs("SELECT currency, SUM(amount) FROM wallet_ledger GROUP BY currency").await.unwrap();
        assert!(zero.iter().all(|z| z.1 == 0), "zero sum per currency: {zero:?}");
        let bets = db.scalar("SELECT COUNT(*) FROM orders").await.unwrap();
        assert!(bets > 0);
        let events = db.scalar("SELECT COUNT(*) FROM events").await.unwrap();
        assert_eq!(events as u64, projected["events"].as_u64().unwrap());
        db.close().await;
    });
    // A second run has nothing to do.
    let again = json(&croupier(&["project", "--json"], &data), "project again");
    assert_eq!(again["events"], 0);
}

#[test]
fn projected_bets_agree_with_restore() {
    check("bets");
}

#[test]
fn projected_mixed_history_agrees_with_restore() {
    check("mixed");
}
