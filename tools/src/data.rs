//! Sub-commands that work on a data folder: `restore`, `journal verify|dump`,
//! `snapshot create|list` and `replay --round|--term`.
//!
//! The data folder's layout is `croupier_store::layout`'s alone.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use croupier_domain::event::Event;
use croupier_domain::ids::RoundNo;
use croupier_domain::{ExtId, State};
use croupier_journal::Durability;
use croupier_snapshots::SnapshotStore;
use croupier_store::{journal_dir, snapshot_dir, DurableShard, RestoreReport, ShardConfig};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Where the data lives.
#[derive(Debug, Args)]
pub struct DataDir {
    /// The data folder (journals and snapshots), as `croupier serve` and `croupier bench` write it
    /// write it.
    #[arg(long, default_value = "./croupier-data", env = "CROUPIER_DATA_DIR")]
    pub data_dir: PathBuf,
}

/// The shards of a data folder (its recorded count, else its journal folders).
pub fn shards(data_dir: &Path) -> Result<Vec<u32>> {
    Ok(croupier_store::layout::shards(data_dir)?)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------- restore

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn report_json(r: &RestoreReport) -> serde_json::Value {
    json!({
        "shard": r.shard,
        "snapshot": r.snapshot.as_ref().map(|(p, pos)| json!({"path": p, "position": pos})),
        "skipped_snapshots": r.skipped_snapshots.iter().map(|(p, why)| json!({"path": p, "reason": why})).collect::<Vec<_>>(),
        "records_replayed": r.records_replayed,
        "events_replayed": r.events_replayed,
        "commands_replayed": r.commands_replayed,
        "aborted_commands": r.aborted_commands.iter().map(|(pos, parts)| json!({"position": pos, "parts": parts})).collect::<Vec<_>>(),
        "skipped_commands": r.skipped_commands,
        "position": r.position,
        "applied_position": r.applied_position,
        "digest": hex(&r.digest),
        "snapshot_seconds": r.snapshot_seconds,
        "replay_seconds": r.replay_seconds,
        "replay_events_per_sec": if r.replay_seconds > 0.0 { r.events_replayed as f64 / r.replay_seconds } else { 0.0 },
        "cut": r.cut.as_ref().map(|c| json!({"segment": c.segment, "offset": c.offset, "bytes": c.bytes})),
    })
}

/// Restores every shard (newest valid snapshot plus the journal after it), cutting a torn
/// journal tail, and reports what it used.
pub fn restore(args: &RestoreArgs) -> Result<()> {
    let mut reports = Vec::new();
    for shard in shards(&args.data.data_dir)? {
        let mut cfg = ShardConfig::new(&args.data.data_dir, shard);
        cfg.durability = Durability::Process;
        cfg.snapshot_every_records = None;
        let (s, report) = DurableShard::open(cfg).with_context(|| format!("restoring shard {shard}"))?;
        s.state().check_invariants().map_err(anyhow::Error::msg).context("money invariants after restore")?;
        s.close(false)?;
        reports.push(report);
    }
    if args.json {
        println!("{}", json!({ "shards": reports.iter().map(report_json).collect::<Vec<_>>() }));
        return Ok(());
    }
    for r in &reports {
        println!("shard {}", r.shard);
        match &r.snapshot {
            Some((p, pos)) => println!("  snapshot         {} (position {pos})", p.display()),
            None => println!("  snapshot         none: replayed the journal from the start"),
        }
        for (p, why) in &r.skipped_snapshots {
            println!("  skipped          {}: {why}", p.display());
        }
        println!(
            "  replayed         {} records, {} events, {} commands",
            r.records_replayed, r.events_replayed, r.commands_replayed
        );
        for (pos, parts) in &r.aborted_commands {
            println!("  dropped          a command of {parts} part(s) at position {pos}, cut off by a crash (never acknowledged)");
        }
        for pos in &r.skipped_commands {
            println!("  set aside        the command at position {pos} (listed in the shard's skip file)");
        }
        if let Some(c) = &r.cut {
            println!("  cut torn tail    {} bytes at {}:{}", c.bytes, c.segment.display(), c.offset);
        }
        println!("  position         {}", r.applied_position);
        println!("  digest           {}", hex(&r.digest));
    }
    Ok(())
}

// ---------------------------------------------------------------- journal

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Check framing, checksums and the hash chain of every segment, then replay every event
    /// and check the money invariants (each currency sums to zero, no overdraft outside debt,
    /// holds equal open stakes). Exits non-zero naming the segment and offset of the first
    /// problem.
    Verify(VerifyArgs),
    /// Print the journaled events, one line per event with its position.
    Dump(DumpArgs),
    /// Set aside a command that restore cannot apply, so the shard opens again.
    ///
    /// When `restore`, `serve` or `journal verify` stops at "journal record P of shard N
    /// cannot be applied", that record was never acknowledged: the shard failed applying it
    /// (only a version with a bug could have journaled it). This records P in
    /// `<data>/shard-N/skip` (with --reason, synced to disk); every later restore reads the
    /// record and does not apply it. The journal is never edited, so its hash chain stays
    /// whole for audits. Stop `croupier serve` first and take a copy of the data folder.
    Skip(SkipArgs),
}

#[derive(Debug, Args)]
pub struct SkipArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// The shard the error names.
    #[arg(long)]
    pub shard: u32,
    /// The journal position the error names (the command's last record).
    #[arg(long)]
    pub position: u64,
    /// Why, for whoever audits the folder later.
    #[arg(long, default_value = "set aside by an operator: cannot be applied")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DumpArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// Only this shard (default: all).
    #[arg(long)]
    pub shard: Option<u32>,
    /// Start at this journal position.
    #[arg(long, default_value_t = 1)]
    pub from: u64,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn journal(cmd: &JournalCommand) -> Result<()> {
    match cmd {
        JournalCommand::Verify(a) => verify(a),
        JournalCommand::Dump(a) => dump(a),
        JournalCommand::Skip(a) => skip(a),
    }
}

fn skip(args: &SkipArgs) -> Result<()> {
    if !shards(&args.data.data_dir)?.contains(&args.shard) {
        bail!("{} has no shard {}", args.data.data_dir.display(), args.shard);
    }
    let dir = journal_dir(&args.data.data_dir, args.shard);
    let last = croupier_journal::verify(&dir).with_context(|| format!("shard {}: journal", args.shard))?.last_seq;
    if args.position == 0 || args.position > last {
        bail!("shard {} has no journal record {} (its journal ends at {last})", args.shard, args.position);
    }
    croupier_store::skip_position(&dir, args.position, &args.reason)?;
    println!(
        "shard {}: record {} is set aside ({}); restore will read it and not apply it",
        args.shard,
        args.position,
        croupier_store::skip_file(&dir).display()
    );
    Ok(())
}

fn verify(args: &VerifyArgs) -> Result<()> {
    let mut out = Vec::new();
    for shard in shards(&args.data.data_dir)? {
        let dir = journal_dir(&args.data.data_dir, shard);
        let report =
            croupier_journal::verify(&dir).with_context(|| format!("shard {shard}: journal {}", dir.display()))?;
        let mut state = State::new();
        let mut replay = RestoreReport { shard, ..RestoreReport::default() };
        croupier_store::replay_into(&mut state, &dir, 0, &mut replay, |_, _| {})
            .with_context(|| format!("shard {shard}: replaying {}", dir.display()))?;
        state.check_invariants().map_err(anyhow::Error::msg).with_context(|| {
            format!("shard {shard}: money invariants after replaying to position {}", replay.applied_position)
        })?;
        out.push(json!({
            "shard": shard,
            "segments": report.segments,
            "records": report.records,
            "seals": report.seals,
            "first_seq": report.first_seq,
            "last_seq": report.last_seq,
            "chain": report.chain_hex(),
            "unsealed_records": report.unsealed_records,
            "torn_tail": report.torn_tail.as_ref().map(|c| json!({"segment": c.segment, "offset": c.offset, "bytes": c.bytes})),
            "events": replay.events_replayed,
            "aborted_commands": replay.aborted_commands.len(),
            "skipped_commands": replay.skipped_commands,
            "digest": hex(&state.digest()),
        }));
    }
    if args.json {
        println!("{}", json!({ "ok": true, "shards": out }));
    } else {
        for s in &out {
            println!(
                "shard {}: ok — {} segments, {} records ({} sealed batches), positions {}..{}, {} events replayed, money invariants hold, chain {}, digest {}",
                s["shard"], s["segments"], s["records"], s["seals"], s["first_seq"], s["last_seq"], s["events"], s["chain"].as_str().unwrap_or(""), s["digest"].as_str().unwrap_or("")
            );
            if s["unsealed_records"].as_u64().unwrap_or(0) > 0 || !s["torn_tail"].is_null() {
                println!("  note: the tail has {} unsealed records and torn tail {}: the writer stopped mid-batch; the next open cuts or seals it", s["unsealed_records"], s["torn_tail"]);
            }
        }
    }
    Ok(())
}

fn dump(args: &DumpArgs) -> Result<()> {
    let shards = match args.shard {
        Some(s) => vec![s],
        None => shards(&args.data.data_dir)?,
    };
    for shard in shards {
        let dir = journal_dir(&args.data.data_dir, shard);
        let mut state = State::new();
        let mut report = RestoreReport { shard, ..RestoreReport::default() };
        let mut failed = None;
        // Events before `--from` are applied but not printed: events name accounts and bets by
        // dense numbers that only the whole history defines.
        croupier_store::replay_into(&mut state, &dir, 0, &mut report, |position, events| {
            if position < args.from {
                return;
            }
            for (i, e) in events.iter().enumerate() {
                let line = if args.json {
                    serde_json::to_string(
                        &json!({"shard": shard, "position": position, "index": i, "event": e.name(), "data": e}),
                    )
                } else {
                    Ok(format!("{shard}:{position}.{i} {} {e:?}", e.name()))
                };
                match line {
                    Ok(l) => println!("{l}"),
                    Err(err) => failed = Some(err),
                }
            }
        })
        .with_context(|| format!("reading shard {shard}"))?;
        if let Some(e) = failed {
            bail!("an event does not print as JSON: {e}");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- snapshot

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Restore each shard and write a snapshot of it now (the journal is kept).
    Create(DataDirArgs),
    /// List the snapshot files with shard, journal position and size.
    List(DataDirArgs),
}

#[derive(Debug, Args)]
pub struct DataDirArgs {
    #[command(flatten)]
    pub data: DataDir,
}

pub fn snapshot(cmd: &SnapshotCommand) -> Result<()> {
    match cmd {
        SnapshotCommand::Create(a) => {
            for shard in shards(&a.data.data_dir)? {
                let mut cfg = ShardConfig::new(&a.data.data_dir, shard);
                cfg.durability = Durability::Process;
                cfg.snapshot_every_records = None;
                let (mut s, _) = DurableShard::open(cfg).with_context(|| format!("restoring shard {shard}"))?;
                let started = std::time::Instant::now();
                let stall = s.start_snapshot()?;
                let info = s.finish_snapshot()?.context("snapshot thread wrote nothing")?;
                let written = started.elapsed();
                println!(
                    "shard {shard}: {} (position {}, {} bytes, {} accounts, written and synced in {:.2} s, shard stalled {:.3} ms)",
                    info.path.display(),
                    info.position,
                    info.bytes,
                    s.state().accounts().len(),
                    written.as_secs_f64(),
                    stall.as_secs_f64() * 1e3
                );
                s.close(false)?;
            }
            Ok(())
        }
        SnapshotCommand::List(a) => {
            let store = SnapshotStore::open(snapshot_dir(&a.data.data_dir))?;
            let list = store.list(None)?;
            if list.is_empty() {
                println!("no snapshots in {}", snapshot_dir(&a.data.data_dir).display());
            }
            for i in list {
                println!(
                    "shard {:>4}  position {:>12}  {:>12} bytes  {}",
                    i.shard,
                    i.position,
                    i.bytes,
                    i.path.display()
                );
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------- replay

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// The round id, as given to `game_start`.
    #[arg(long, required_unless_present = "term", conflicts_with = "term")]
    pub round: Option<String>,
    /// A crash term, `<channel>:<number>`: re-derives its crash point from the revealed hash
    /// and the salt, checks the hash is on the published chain, and re-derives every bet's
    /// outcome and payout; exits 1 when anything differs.
    #[arg(long, value_name = "CHANNEL:NUMBER")]
    pub term: Option<String>,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Seed 000's game replay: a round's events, bets and settlements in journal order.
pub fn replay(args: &ReplayArgs) -> Result<()> {
    let Some(round_id) = &args.round else {
        return replay_term(args, args.term.as_deref().unwrap_or_default());
    };
    let wanted = ExtId::new(round_id).map_err(|e| anyhow::anyhow!("--round {round_id:?}: {e}"))?;
    let mut found = false;
    for shard in shards(&args.data.data_dir)? {
        let dir = journal_dir(&args.data.data_dir, shard);
        let mut state = State::new();
        let mut report = RestoreReport::default();
        let mut round: Option<RoundNo> = None;
        let mut bets = std::collections::HashSet::new();
        croupier_store::replay_into(&mut state, &dir, 0, &mut report, |position, events| {
            for (i, e) in events.iter().enumerate() {
                let mine = match e {
                    Event::RoundOpened { round: no, id, .. } if *id == wanted => {
                        round = Some(*no);
                        true
                    }
                    Event::RoundStatusChanged { round: no, .. } | Event::RoundDrawn { round: no, .. } => {
                        Some(*no) == round
                    }
                    Event::BetAccepted(b) if b.round.is_some() && b.round == round => {
                        bets.insert(b.bet);
                        true
                    }
                    Event::BetSettled { bet, .. } | Event::BetResettled { bet, .. } => bets.contains(bet),
                    _ => false,
                };
                if mine {
                    found = true;
                    if args.json {
                        println!(
                            "{}",
                            json!({"shard": shard, "position": position, "index": i, "event": e.name(), "data": e})
                        );
                    } else {
                        println!("{shard}:{position}.{i} {} {e:?}", e.name());
                    }
                }
            }
        })?;
    }
    if !found {
        bail!("no round {round_id:?} in {}", args.data.data_dir.display());
    }
    Ok(())
}

/// What one shard's replay of a crash term found.
#[derive(Default)]
struct TermCheck {
    bets: u64,
    cashed_out: u64,
    lost: u64,
    returned: u64,
    open: u64,
    payouts: i128,
    mismatches: Vec<String>,
}

/// `replay --term <channel>:<number>`: replays every shard's journal and re-derives the
/// term's crash point and each bet's outcome from what the journal committed to (the
/// revealed hash, the salt, the take-off time, each bet's stake, target and cashout time).
fn replay_term(args: &ReplayArgs, spec: &str) -> Result<()> {
    use croupier_domain::crash::fair::{crash_point, format_multiplier, previous, to_hex};
    use croupier_domain::crash::{curve, payout, CashoutKind, CrashBetState, TermStatus};
    let (channel, number) =
        spec.rsplit_once(':').ok_or_else(|| anyhow::anyhow!("--term {spec:?}: <channel>:<number>"))?;
    let channel = ExtId::new(channel).map_err(|e| anyhow::anyhow!("--term channel {channel:?}: {e}"))?;
    let number: u64 = number.parse().map_err(|_| anyhow::anyhow!("--term number {number:?}: a term number"))?;
    let mut total = TermCheck::default();
    let mut summary = None;
    for shard in shards(&args.data.data_dir)? {
        let dir = journal_dir(&args.data.data_dir, shard);
        let mut state = State::new();
        let mut report = RestoreReport::default();
        croupier_store::replay_into(&mut state, &dir, 0, &mut report, |_, _| {})?;
        let crash = state.crash();
        let Some(ch_no) = crash.channel_by_id(&channel) else { bail!("no crash channel {channel} on shard {shard}") };
        let ch = crash.channel(ch_no);
        let Some(t) = crash.terms().iter().find(|t| t.channel == ch_no && t.number == number) else {
            bail!("no term {number} of channel {channel} on shard {shard}")
        };
        let mut c = TermCheck::default();
        let flight = t.flight.as_ref();
        let derived = flight.map(|f| crash_point(&f.hash, ch.salt.as_bytes()));
        if let (Some(f), Some(point)) = (flight, derived) {
            if point != f.crash_point {
                c.mismatches
                    .push(format!("shard {shard}: journaled crash point {} but the hash gives {point}", f.crash_point));
            }
            if curve::elapsed_to_reach(point) != f.crash_after_ms {
                c.mismatches.push(format!(
                    "shard {shard}: crash time {} ms, the curve says {}",
                    f.crash_after_ms,
                    curve::elapsed_to_reach(point)
                ));
            }
            // Game k hashes down to game 0, the published terminating hash, in k steps.
            let mut h = f.hash;
            for _ in 0..f.game {
                h = previous(&h);
            }
            if h != ch.terminating_hash {
                c.mismatches.push(format!("shard {shard}: game {} is not on the published chain", f.game));
            }
        }
        for &b in &t.bets {
            let bet = crash.bet(b);
            c.bets += 1;
            let why = match (bet.state, flight, derived) {
                (CrashBetState::Open, ..) => {
                    c.open += 1;
                    (t.status.is_over()).then(|| "open in a term that is over".to_string())
                }
                (CrashBetState::Cancelled | CrashBetState::Refunded, ..) => {
                    c.returned += 1;
                    (bet.state == CrashBetState::Refunded && t.status != TermStatus::Cancelled)
                        .then(|| "refunded in a term that was not stopped".to_string())
                }
                (CrashBetState::CashedOut { multiplier, payout: paid, kind, at }, Some(f), Some(point)) => {
                    c.cashed_out += 1;
                    c.payouts += paid.0 as i128;
                    let elapsed = at.0.saturating_sub(f.at.0);
                    let expected = match kind {
                        CashoutKind::Manual => curve::multiplier_at(elapsed),
                        CashoutKind::Auto => bet.target,
                        CashoutKind::Cap => f.caps.get(bet.slot as usize).copied().flatten().unwrap_or(0),
                    };
                    if paid != payout(bet.stake, multiplier) {
                        Some(format!("paid {} for {} at {}", paid.0, bet.stake.0, format_multiplier(multiplier)))
                    } else if multiplier != expected || multiplier > point {
                        Some(format!(
                            "{} cashout at {} where {} was due (crash {})",
                            kind.name(),
                            format_multiplier(multiplier),
                            format_multiplier(expected),
                            format_multiplier(point)
                        ))
                    } else if kind == CashoutKind::Manual && elapsed >= f.crash_after_ms {
                        Some(format!("manual cashout {elapsed} ms after take-off, at or past the crash"))
                    } else {
                        None
                    }
                }
                (CrashBetState::Lost, Some(f), Some(point)) => {
                    c.lost += 1;
                    let cap = f.caps.get(bet.slot as usize).copied().flatten();
                    let left =
                        (bet.target <= point && cap.is_none_or(|c| bet.target <= c)) || cap.is_some_and(|c| point > c);
                    left.then(|| {
                        format!("lost, but it left the flight before the crash at {}", format_multiplier(point))
                    })
                }
                (state, ..) => Some(format!("{} without a flight", state.name())),
            };
            if let Some(why) = why {
                c.mismatches.push(format!("shard {shard}: bet {} of user {}: {why}", bet.order_no, bet.user.0));
            }
        }
        summary.get_or_insert((t.status, flight.map(|f| (f.game, to_hex(&f.hash), f.crash_point)), derived, ch.salt));
        total.bets += c.bets;
        total.cashed_out += c.cashed_out;
        total.lost += c.lost;
        total.returned += c.returned;
        total.open += c.open;
        total.payouts += c.payouts;
        total.mismatches.extend(c.mismatches);
    }
    let Some((status, flight, derived, salt)) = summary else { bail!("no shard in {}", args.data.data_dir.display()) };
    let matches = total.mismatches.is_empty();
    let v = json!({
        "channel": channel.as_str(),
        "term": number,
        "status": status.name(),
        "game": flight.as_ref().map(|f| f.0),
        "hash": flight.as_ref().map(|f| f.1.clone()),
        "salt": salt.as_str(),
        "crash_point": flight.as_ref().map(|f| format_multiplier(f.2)),
        "derived_crash_point": derived.map(format_multiplier),
        "bets": total.bets,
        "cashed_out": total.cashed_out,
        "lost": total.lost,
        "returned": total.returned,
        "open": total.open,
        "payouts_minor_units": total.payouts.to_string(),
        "matches": matches,
        "mismatches": total.mismatches,
    });
    if args.json {
        println!("{v}");
    } else {
        println!(
            "term {number} of {channel}: {}, crash point {} (derived {}), {} bets: {} cashed out, {} lost, {} returned, {} open; {}",
            status.name(),
            v["crash_point"].as_str().unwrap_or("-"),
            v["derived_crash_point"].as_str().unwrap_or("-"),
            total.bets,
            total.cashed_out,
            total.lost,
            total.returned,
            total.open,
            if matches { "everything matches" } else { "MISMATCH" }
        );
        for m in &total.mismatches {
            println!("  {m}");
        }
    }
    if !matches {
        bail!("term {number} of {channel} does not replay to what was journaled");
    }
    Ok(())
}
