//! `croupier bench pg-bets` and `croupier bench redis-grab`: the designs croupier is compared
//! with (`croupier_benches::baseline`), run against the real servers, and their reports.

use crate::bench::{latency_row, measured_json, row, thousands, write_head, Progress};
use anyhow::{bail, Context, Result};
use croupier_benches::baseline::{self, postgres::PgBetsConfig, redis::RedisGrabConfig, BaselineReport, Fact};
use croupier_domain::Money;
use std::io::Write;

/// The environment variables the service URLs default to (the same the tests read).
pub const PG_ENV: &str = "CROUPIER_TEST_PG";
pub const REDIS_ENV: &str = "CROUPIER_TEST_REDIS";

/// A service's URL: the flag, else the environment variable, else a clear error.
pub fn service_url(given: Option<&str>, flag: &str, env: &str, what: &str, example: &str) -> Result<String> {
    if let Some(url) = given {
        return Ok(url.to_string());
    }
    match std::env::var(env) {
        Ok(url) if !url.trim().is_empty() => Ok(url),
        _ => bail!("no {what} to run against: give --{flag} URL or set {env} (for example {example})"),
    }
}

/// The CNY amount of a decimal string such as "10000000.00".
pub fn parse_amount(text: &str) -> Result<Money> {
    let d: rust_decimal::Decimal = text.trim().parse().with_context(|| format!("{text:?} is not a decimal amount"))?;
    match Money::from_decimal(d, 2) {
        Some(m) if m.is_positive() => Ok(m),
        _ => bail!("{text:?} must be a positive amount with at most 2 decimal places"),
    }
}

pub fn amount_text(m: Money) -> String {
    m.to_decimal(2).to_string()
}

pub fn run_pg(cfg: &PgBetsConfig, json: bool, out: &mut dyn Write) -> Result<()> {
    let mut progress = Progress::new();
    let r = baseline::postgres::run(cfg, &mut progress).context("baseline pg-bets failed")?;
    progress.finish();
    write_report(out, &r, json)
}

pub fn run_redis(cfg: &RedisGrabConfig, json: bool, out: &mut dyn Write) -> Result<()> {
    let mut progress = Progress::new();
    let r = baseline::redis::run(cfg, &mut progress).context("baseline redis-grab failed")?;
    progress.finish();
    write_report(out, &r, json)
}

fn write_report(out: &mut dyn Write, r: &BaselineReport, json: bool) -> Result<()> {
    if json {
        writeln!(out, "{}", report_json(r))?;
    } else {
        write_table(out, r)?;
    }
    Ok(())
}

pub const SAMPLING: &str = "every operation, from just before it was sent until its answer (pipelined: the round \
                            trip, for each operation in it)";

/// The standard report keys, plus the baseline's own.
pub fn report_json(r: &BaselineReport) -> serde_json::Value {
    let mut extra = serde_json::json!({
        "accepted": r.accepted,
        "rejected": r.rejected,
        "connections": r.connections,
        "pipeline": r.pipeline,
        "latency_sampling": SAMPLING,
        "setup_seconds": r.setup.as_secs_f64(),
        "namespace": r.namespace,
        "kept": r.kept,
        "server": r.server.iter().map(|(k, v)| (k.clone(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
    });
    if let Some(obj) = extra.as_object_mut() {
        for (k, fact) in &r.facts {
            let value = match fact {
                Fact::Count(n) => serde_json::json!(n),
                Fact::Amount(m) => serde_json::json!(amount_text(*m)),
                Fact::Flag(b) => serde_json::json!(b),
            };
            obj.insert((*k).to_string(), value);
        }
    }
    measured_json(r.scenario, r, extra)
}

fn fact_text(f: &Fact) -> String {
    match f {
        Fact::Count(n) => thousands(*n),
        Fact::Amount(m) => amount_text(*m),
        Fact::Flag(b) => b.to_string(),
    }
}

fn write_table(out: &mut dyn Write, r: &BaselineReport) -> std::io::Result<()> {
    let pipelined = if r.pipeline > 1 { format!(", {} per round trip", r.pipeline) } else { String::new() };
    let title = format!("croupier bench {} (baseline, {} connections{pipelined})", r.scenario, r.connections);
    write_head(out, &title, r, (r.accepted, r.rejected), r.setup)?;
    latency_row(out, r, "every operation")?;
    let server: Vec<String> = r.server.iter().map(|(k, v)| format!("{k}={v}")).collect();
    row(out, "server", server.join(" "))?;
    let facts: Vec<String> = r.facts.iter().map(|(k, f)| format!("{k}={}", fact_text(f))).collect();
    row(out, "workload", facts.join(" "))?;
    let kept = if r.kept { "kept" } else { "removed" };
    row(out, "namespace", format!("{} ({kept})", r.namespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_decimal_strings_of_cny() {
        assert_eq!(parse_amount("10.50").unwrap(), Money(1050));
        assert_eq!(parse_amount("10000000").unwrap(), Money(1_000_000_000));
        assert!(parse_amount("0").is_err());
        assert!(parse_amount("1.005").is_err());
        assert!(parse_amount("-3").is_err());
        assert!(parse_amount("ten").is_err());
        assert_eq!(amount_text(Money(1_000_000_000)), "10000000.00");
    }

    #[test]
    fn a_url_flag_wins_over_the_environment() {
        assert_eq!(
            service_url(Some("postgres://x"), "pg-url", "CROUPIER_NO_SUCH_VAR", "PostgreSQL", "").unwrap(),
            "postgres://x"
        );
        let e = service_url(None, "pg-url", "CROUPIER_NO_SUCH_VAR", "PostgreSQL", "postgres://h/db").unwrap_err();
        assert!(e.to_string().contains("--pg-url") && e.to_string().contains("CROUPIER_NO_SUCH_VAR"), "{e}");
    }
}
