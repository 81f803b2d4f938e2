//! `croupier replay --term <channel>:<number>` (issue 14): a crash term re-derived from what
//! the journals recorded. The crash point is recomputed from the revealed game hash and the
//! channel's salt with the domain's bustabit function (`crash::fair`), the hash is checked to
//! chain back to the channel's published terminating hash, and every bet's end is recomputed
//! from its stake, target, the crash point and the take-off time with the game's rules,
//! written out here again rather than called, so a bug in the engine's settlement shows as a
//! mismatch: a cashout pays `floor(stake × m)` at its target (auto), at the shard's cap, or at
//! the multiplier of its intake time (manual) if that came before the crash; any other bet
//! is lost. The closed term's totals must be the sums of the recomputed bets. Any mismatch
//! makes the command fail (exit code 1) after printing every bet.
//!
//! The per-shard caps are taken from the journal's flight: they depend on every shard's bets
//! and are not re-derived here.

use crate::data::{shards, DataDir};
use anyhow::{anyhow, bail, Result};
use croupier_domain::crash::event::CrashBetPlaced;
use croupier_domain::crash::{curve, fair, CashoutKind, CrashEvent, Flight, TermTotals};
use croupier_domain::event::Event;
use croupier_domain::ExtId;
use serde_json::json;
use std::collections::BTreeMap;

/// How a bet ended, as the journal recorded it or as the rules recompute it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Open,
    Returned { cancelled: bool },
    CashedOut { multiplier: u64, payout: i64, kind: CashoutKind },
    Lost,
}

impl End {
    fn describe(self) -> String {
        match self {
            End::Open => "open".into(),
            End::Returned { cancelled: true } => "cancelled by the player (stake returned)".into(),
            End::Returned { cancelled: false } => "refunded".into(),
            End::CashedOut { multiplier, payout, kind } => {
                format!("cashed out {} at {}x, paid {payout}", kind.name(), fair::format_multiplier(multiplier))
            }
            End::Lost => "lost".into(),
        }
    }

    fn payout(self) -> i64 {
        match self {
            End::CashedOut { payout, .. } => payout,
            End::Open | End::Returned { .. } | End::Lost => 0,
        }
    }
}

struct Bet {
    placed: CrashBetPlaced,
    end: End,
    /// The intake time of a manual cashout.
    at: Option<u64>,
}

/// One shard's journal, as far as the term goes.
#[derive(Default)]
struct ShardTerm {
    channel: Option<(u32, Box<croupier_domain::crash::command::CreateChannel>)>,
    term: Option<u32>,
    flight: Option<Flight>,
    crashed: Option<(u64, fair::GameHash, u64)>,
    cancelled: bool,
    totals: Option<Vec<TermTotals>>,
    bets: BTreeMap<u32, Bet>,
}

impl ShardTerm {
    fn see(&mut self, e: &CrashEvent, channel_id: &ExtId, number: u64) {
        let this_term = |t: u32, term: Option<u32>| term == Some(t);
        match e {
            CrashEvent::ChannelCreated { channel, def } if def.channel == *channel_id => {
                self.channel = Some((channel.0, def.clone()));
            }
            CrashEvent::TermOpened { term, channel, number: n, .. } => {
                if self.channel.as_ref().is_some_and(|c| c.0 == channel.0) && *n == number {
                    self.term = Some(term.0);
                }
            }
            CrashEvent::TermFlying { term, flight } if this_term(term.0, self.term) => {
                self.flight = Some((**flight).clone());
            }
            CrashEvent::TermCrashed { term, game, hash, crash_point, .. } if this_term(term.0, self.term) => {
                self.crashed = Some((*game, *hash, *crash_point));
            }
            CrashEvent::TermClosed { term, totals, .. } if this_term(term.0, self.term) => {
                self.totals = Some(totals.clone());
            }
            CrashEvent::TermCancelled { term, .. } if this_term(term.0, self.term) => self.cancelled = true,
            CrashEvent::BetPlaced(p) if this_term(p.term.0, self.term) => {
                self.bets.insert(p.bet.0, Bet { placed: *p, end: End::Open, at: None });
            }
            CrashEvent::BetReturned { bet, cancelled, .. } => {
                if let Some(b) = self.bets.get_mut(&bet.0) {
                    b.end = End::Returned { cancelled: *cancelled };
                }
            }
            CrashEvent::CashedOut { bet, multiplier, payout, kind, at, .. } => {
                if let Some(b) = self.bets.get_mut(&bet.0) {
                    b.end = End::CashedOut { multiplier: *multiplier, payout: payout.0, kind: *kind };
                    b.at = Some(at.0);
                }
            }
            CrashEvent::BetLost { bet, .. } => {
                if let Some(b) = self.bets.get_mut(&bet.0) {
                    b.end = End::Lost;
                }
            }
            // Other channels, other terms, and what does not touch a term's outcome.
            CrashEvent::ChannelCreated { .. }
            | CrashEvent::ChannelPaused { .. }
            | CrashEvent::TermStarting { .. }
            | CrashEvent::TermFlying { .. }
            | CrashEvent::TermCrashed { .. }
            | CrashEvent::TermClosed { .. }
            | CrashEvent::TermCancelled { .. }
            | CrashEvent::BetPlaced(_) => {}
        }
    }
}

/// `floor(stake × m)`, `m` in hundredths, in 128 bits.
fn floor_payout(stake: i64, hundredths: u64) -> i64 {
    i64::try_from(stake as i128 * hundredths as i128 / 100).unwrap_or(i64::MAX)
}

/// What the rules say bet `b` ended as, on a flight with this shard's caps that crashed at
/// `crash_point`; `recorded` only tells whether (and when) the player asked to cash out.
fn recompute(b: &Bet, flight: &Flight, crash_point: u64) -> End {
    let p = &b.placed;
    let cap = flight.caps.get(p.slot as usize).copied().flatten();
    // Where an open bet leaves a flight that reached `m`: its target first, then the cap.
    let left = |m: u64| -> Option<(u64, CashoutKind)> {
        if p.target <= m && cap.is_none_or(|c| p.target <= c) {
            Some((p.target, CashoutKind::Auto))
        } else {
            cap.filter(|c| m > *c).map(|c| (c, CashoutKind::Cap))
        }
    };
    let paid =
        |(m, kind): (u64, CashoutKind)| End::CashedOut { multiplier: m, payout: floor_payout(p.stake.0, m), kind };
    match (b.end, b.at) {
        (End::Returned { cancelled }, _) => End::Returned { cancelled },
        (End::CashedOut { kind: CashoutKind::Manual, .. }, Some(at)) => {
            let elapsed = at.saturating_sub(flight.at.0);
            if elapsed >= curve::elapsed_to_reach(crash_point) {
                // Asked at or after the crash: too late, the bet ends as the crash leaves it.
                return left(crash_point).map_or(End::Lost, paid);
            }
            let m = curve::multiplier_at(elapsed);
            paid(left(m).unwrap_or((m, CashoutKind::Manual)))
        }
        _ => left(crash_point).map_or(End::Lost, paid),
    }
}

struct Report {
    json: bool,
    mismatches: u64,
}

impl Report {
    fn line(&mut self, ok: bool, text: String, value: serde_json::Value) {
        if !ok {
            self.mismatches += 1;
        }
        if self.json {
            let mut v = value;
            v["ok"] = json!(ok);
            println!("{v}");
        } else {
            println!("{} {text}", if ok { "ok      " } else { "MISMATCH" });
        }
    }
}

pub fn replay_term(data: &DataDir, spec: &str, json_out: bool) -> Result<()> {
    let (channel, number) = spec
        .rsplit_once(':')
        .and_then(|(c, n)| Some((c, n.parse::<u64>().ok()?)))
        .ok_or_else(|| anyhow!("--term {spec:?}: expected <channel>:<number>, e.g. rocket:12"))?;
    let channel_id = ExtId::new(channel).map_err(|e| anyhow!("--term {spec:?}: channel {channel:?}: {e}"))?;
    let mut report = Report { json: json_out, mismatches: 0 };
    let mut found = false;
    let mut bets = 0u64;
    for shard in shards(&data.data_dir)? {
        let mut st = ShardTerm::default();
        // The events as recorded, never applied to a state: a journal whose settlement
        // disagrees with itself must be reported here, not stop the replay.
        croupier_feed::ShardFeed::open(&data.data_dir, shard, 0).read(u64::MAX, |_, events| {
            for e in events {
                // Only the crash game's events can touch a term.
                if let Event::Crash(c) = e {
                    st.see(c, &channel_id, number);
                }
            }
        })?;
        let (Some((_, def)), Some(term)) = (&st.channel, st.term) else { continue };
        found = true;
        let head = json!({"kind": "term", "shard": shard, "channel": channel, "number": number, "term": term});
        if st.cancelled {
            // Stopped by an operator: no crash point was revealed; every bet went back.
            for (no, b) in &st.bets {
                bets += 1;
                let ok = matches!(b.end, End::Returned { .. });
                let text = format!("shard {shard} bet {no} ({}): {}", b.placed.order_no.as_str(), b.end.describe());
                report.line(
                    ok,
                    text,
                    json!({"kind": "bet", "shard": shard, "bet": no, "order_no": b.placed.order_no.as_str(),
                           "recorded": b.end.describe(), "expected": "returned"}),
                );
            }
            report.line(true, format!("shard {shard}: term {spec} was cancelled: every bet returned"), head);
            continue;
        }
        let (Some(flight), Some((game, hash, recorded_point))) = (&st.flight, st.crashed) else {
            bail!("term {spec} has not crashed yet on shard {shard}: nothing to verify");
        };
        // The crash point, re-derived from the revealed hash and the channel's salt.
        let derived = fair::crash_point(&hash, def.salt.as_bytes());
        let ok = derived == recorded_point && derived == flight.crash_point && hash == flight.hash;
        report.line(
            ok,
            format!(
                "shard {shard}: game {game} hash {} salt {}: crash point recorded {}x, re-derived {}x",
                fair::to_hex(&hash),
                def.salt.as_str(),
                fair::format_multiplier(recorded_point),
                fair::format_multiplier(derived)
            ),
            json!({"kind": "crash_point", "shard": shard, "game": game, "hash": fair::to_hex(&hash),
                   "salt": def.salt.as_str(), "recorded": recorded_point, "derived": derived}),
        );
        // The hash chains back to the published terminating hash in `game` steps.
        let chained = game <= def.length && {
            let mut h = hash;
            for _ in 0..game {
                h = fair::previous(&h);
            }
            h == def.terminating_hash
        };
        report.line(
            chained,
            format!("shard {shard}: game {game} chains to the terminating hash {}", fair::to_hex(&def.terminating_hash)),
            json!({"kind": "chain", "shard": shard, "game": game, "terminating_hash": fair::to_hex(&def.terminating_hash)}),
        );
        let slots = def.config.limits.len();
        let mut totals = vec![TermTotals::default(); slots];
        for (no, b) in &st.bets {
            bets += 1;
            let expected = recompute(b, flight, derived);
            let p = &b.placed;
            if let (End::CashedOut { .. } | End::Lost, Some(t)) = (expected, totals.get_mut(p.slot as usize)) {
                t.bets += 1;
                t.stakes.0 += p.stake.0;
                t.payouts.0 += expected.payout();
            }
            let ok = expected == b.end;
            let text = format!(
                "shard {shard} bet {no} ({}, user {}, stake {}, target {}x): recorded {}; recomputed {}",
                p.order_no.as_str(),
                p.user.0,
                p.stake.0,
                fair::format_multiplier(p.target),
                b.end.describe(),
                expected.describe()
            );
            report.line(
                ok,
                text,
                json!({"kind": "bet", "shard": shard, "bet": no, "order_no": p.order_no.as_str(), "user": p.user.0,
                       "stake": p.stake.0, "target": p.target, "recorded": b.end.describe(),
                       "expected": expected.describe(), "recorded_payout": b.end.payout(),
                       "expected_payout": expected.payout()}),
            );
        }
        match &st.totals {
            Some(recorded) => {
                for (slot, limits) in def.config.limits.iter().enumerate() {
                    let r = recorded.get(slot).copied().unwrap_or_default();
                    let e = totals[slot];
                    report.line(
                        r == e,
                        format!(
                            "shard {shard} totals {}: recorded {} bets, staked {}, paid {}; recomputed {} bets, staked {}, paid {}",
                            limits.currency.as_str(),
                            r.bets,
                            r.stakes.0,
                            r.payouts.0,
                            e.bets,
                            e.stakes.0,
                            e.payouts.0
                        ),
                        json!({"kind": "totals", "shard": shard, "currency": limits.currency.as_str(),
                               "recorded": {"bets": r.bets, "staked": r.stakes.0, "paid": r.payouts.0},
                               "expected": {"bets": e.bets, "staked": e.stakes.0, "paid": e.payouts.0}}),
                    );
                }
            }
            None => report.line(false, format!("shard {shard}: the term crashed but never closed"), head),
        }
    }
    if !found {
        bail!("no term {spec} in {}", data.data_dir.display());
    }
    if report.mismatches > 0 {
        bail!("term {spec}: {} mismatches ({bets} bets checked)", report.mismatches);
    }
    if !json_out {
        println!("term {spec}: {bets} bets, every crash point, payout and total matches the journal");
    }
    Ok(())
}
