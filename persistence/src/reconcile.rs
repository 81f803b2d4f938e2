//! Reconciliation of the SQL ledger with the engine: the balance of every ledger account as the
//! engine holds it, and as `wallet_ledger` sums it, keyed the same way (shard, `account_kind`,
//! `account_ref`, currency) so that the two maps must be equal. Used by the tests and by anyone
//! auditing a projection against a restored data folder.

use crate::db::Db;
use crate::ProjectError;
use croupier_domain::ids::{AccountNo, CurrencyId, PacketNo};
use croupier_domain::State;
use std::collections::BTreeMap;

/// Non-zero balances by (shard, account kind, account reference, currency code).
pub type LedgerBalances = BTreeMap<(u32, String, i64, String), i64>;

/// Adds `shard`'s non-zero ledger balances from the engine's state: currencies' external and
/// house accounts, players' available and held funds, red-packet pools, and money in transit
/// to each peer shard.
pub fn engine_balances(shard: u32, s: &State, out: &mut LedgerBalances) {
    let code = |c: usize| s.currencies()[c].code.as_str().to_owned();
    let mut put = |kind: &str, r: i64, cur: String, v: i64| {
        if v != 0 {
            out.insert((shard, kind.to_owned(), r, cur), v);
        }
    };
    for (i, c) in s.currencies().iter().enumerate() {
        put("external", i as i64, code(i), c.external.0);
        put("house", i as i64, code(i), c.house.0);
    }
    for i in 0..s.accounts().len() {
        let a = s.account(AccountNo(i as u32));
        put("player", i as i64, code(a.currency.index()), a.available.0);
        put("held", i as i64, code(a.currency.index()), a.held.0);
    }
    for i in 0..s.packets().len() {
        let p = s.packet(PacketNo(i as u32));
        put("pool", i as i64, code(s.account(p.sender).currency.index()), p.remaining.0);
    }
    for (peer, link) in s.links().iter().enumerate() {
        for c in 0..s.currencies().len() {
            put("transit", peer as i64, code(c), link.transit(CurrencyId(c as u32)).0);
        }
    }
}

/// The same balances summed from `wallet_ledger`.
pub async fn ledger_balances(db: &Db) -> Result<LedgerBalances, ProjectError> {
    keyed(
        db.pairs(
            "SELECT shard || '|' || account_kind || '|' || account_ref || '|' || currency, \
             CAST(SUM(amount) AS BIGINT) FROM wallet_ledger GROUP BY shard, account_kind, account_ref, currency",
        )
        .await?,
    )
}

/// The same balances as the `balances` table holds them (kept by upserts, so it must equal
/// [`ledger_balances`]).
pub async fn table_balances(db: &Db) -> Result<LedgerBalances, ProjectError> {
    keyed(
        db.pairs("SELECT shard || '|' || account_kind || '|' || account_ref || '|' || currency, balance FROM balances")
            .await?,
    )
}

fn keyed(rows: Vec<(String, i64)>) -> Result<LedgerBalances, ProjectError> {
    let bad = |k: &str| ProjectError::Ledger(format!("key {k:?} is not shard|kind|ref|currency"));
    let mut out = LedgerBalances::new();
    for (k, v) in rows.into_iter().filter(|r| r.1 != 0) {
        let p: Vec<&str> = k.split('|').collect();
        let [shard, kind, reference, currency] = p[..] else { return Err(bad(&k)) };
        let shard = shard.parse().map_err(|_| bad(&k))?;
        let reference = reference.parse().map_err(|_| bad(&k))?;
        out.insert((shard, kind.to_owned(), reference, currency.to_owned()), v);
    }
    Ok(out)
}
