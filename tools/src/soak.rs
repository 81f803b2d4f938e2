//! `croupier soak`: an operator burn-in that drives a durable shard with a seeded random
//! command stream until stopped, acknowledging each durable batch with its state digest. It
//! is also the child process of the kill -9 crash test (`tools/tests/crash.rs`).

use anyhow::{bail, Context, Result};
use clap::{value_parser, Args};
use croupier_domain::command::Command;
use croupier_domain::ids::{ExtId, Timestamp};
use croupier_domain::rng::SplitMix64;
use croupier_domain::testkit::{self, Generator};
use croupier_journal::{Durability, DurableWatch};
use croupier_store::{Answer, DurableShard, ShardConfig};
use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;

/// The clock of a new history (2023-11-14, UTC); the soak never reads the real clock.
pub const T0: u64 = 1_700_000_000_000;
/// Each command is stamped this much later than the one before.
pub const STEP_MS: u64 = 10;
/// Batches whose acknowledgement waits for the flusher, at most, before the soak blocks.
const MAX_PENDING: usize = 64;

const AFTER_HELP: &str = "\
What it does:
  Opens shard 0 of --data-dir (restoring it if the folder already holds a journal: newest
  valid snapshot plus the journal after it, a torn tail cut), sends the setup commands
  (currency and game) if the state has no game yet, then executes commands from the seeded
  generator of the engine's test kit (deposits, withdrawals, rounds through their lifecycle,
  bets, red packets and grabs, repeats and commands that must be refused) in batches through
  DurableShard::execute_batch, until killed or until --max-commands generated commands.

Output (stdout, one line per batch, flushed at once):
  ack <position> <digest>
  printed only once the batch's journal position meets the durability setting; <digest> is
  the hex sha256 of the live state right after that batch. Whoever reads the line may rely
  on that state surviving a crash: a restore reaches at least <position>, and replaying the
  journal to <position> reproduces <digest>. Diagnostics go to stderr.

Determinism:
  Time is not read from the clock: commands are stamped 10 ms apart, starting at
  1700000000000 (ms) for a new history, or 10 ms after the latest time the restored state
  recorded. The generator's seed is derived from --seed and the journal position the run
  starts from, and its ids (rounds, orders, transfers, packets) carry that position in hex
  (e.g. 1a3f.order-17), so a restarted soak continues with fresh ids. The same --seed on the
  same journal always produces the same next commands.

Examples:
  croupier soak --data-dir /var/tmp/burn-in --seed 7
  croupier soak --data-dir /tmp/s --seed 1 --durability process --max-commands 100000";

/// Drive a durable shard with a seeded random command stream, for burn-in and crash tests.
///
/// Operator burn-in tool: it runs until killed (or --max-commands), printing `ack <position>
/// <digest>` per durable batch. Kill it at any moment (kill -9 included) and start it again on
/// the same folder: it restores and continues. It is the child process of croupier's crash
/// test, which kills it over and over and checks every acknowledged state.
#[derive(Debug, Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct SoakArgs {
    /// The data folder (journal and snapshots of shard 0); created if missing
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,

    /// Seed of the command stream
    #[arg(long, value_name = "S")]
    pub seed: u64,

    /// Commands per DurableShard::execute_batch (one journal commit and one ack line each)
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = value_parser!(u64).range(1..=100_000))]
    pub batch: u64,

    /// Stop cleanly (with a snapshot) after this many generated commands; the setup commands
    /// are not counted [default: run until killed]
    #[arg(long, value_name = "N")]
    pub max_commands: Option<u64>,

    /// When a batch is acknowledged
    #[arg(long, value_enum, value_name = "MODE", default_value_t = Durability::Fsync)]
    pub durability: Durability,

    /// Users the generator draws from
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = value_parser!(u64).range(1..))]
    pub users: u64,

    /// Write a snapshot every N journal records (0: only at a clean stop)
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub snapshot_every: u64,

    /// Size of each journal segment file, in bytes (multiple of 8, at least 4096)
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub segment_bytes: u64,
}

/// The generator's seed for a run starting at journal `position`.
pub fn generator_seed(seed: u64, position: u64) -> u64 {
    let mut r = SplitMix64::new(seed);
    let a = r.next_u64();
    SplitMix64::new(a ^ position.wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64()
}

/// `cmd` with every caller id (round, order, transfer, packet, bookmaker bet) prefixed by
/// `tag`, so that the ids of a restarted generator never meet those of an earlier run.
pub fn scoped(cmd: Command, tag: &str) -> Result<Command> {
    let s = |id: ExtId| -> Result<ExtId> {
        let text = format!("{tag}{}", id.as_str());
        ExtId::new(&text).map_err(|e| anyhow::anyhow!("id {text:?}: {e}"))
    };
    Ok(match cmd {
        Command::Deposit { transfer, user, currency, amount } => {
            Command::Deposit { transfer: s(transfer)?, user, currency, amount }
        }
        Command::Withdraw { transfer, user, currency, amount } => {
            Command::Withdraw { transfer: s(transfer)?, user, currency, amount }
        }
        Command::GameStart { round, game, window_ms } => Command::GameStart { round: s(round)?, game, window_ms },
        Command::GameStop { round } => Command::GameStop { round: s(round)? },
        Command::NewCard { round } => Command::NewCard { round: s(round)? },
        Command::GameDraw { round, result } => Command::GameDraw { round: s(round)?, result },
        Command::GameEnd { round } => Command::GameEnd { round: s(round)? },
        Command::CancelRound { round } => Command::CancelRound { round: s(round)? },
        Command::ResettleRound { round, result } => Command::ResettleRound { round: s(round)?, result },
        Command::PlaceBet(mut b) => {
            b.order_no = s(b.order_no)?;
            b.round = s(b.round)?;
            Command::PlaceBet(b)
        }
        Command::BlockFunds { bet, partner, user, currency, amount } => {
            Command::BlockFunds { bet: s(bet)?, partner, user, currency, amount }
        }
        Command::UpdateBetStatus { bet, user, status } => Command::UpdateBetStatus { bet: s(bet)?, user, status },
        Command::Refund { bet, user } => Command::Refund { bet: s(bet)?, user },
        Command::RecalculateBet { bet, user, transaction, status } => {
            Command::RecalculateBet { bet: s(bet)?, user, transaction: s(transaction)?, status }
        }
        Command::SendRedPacket(mut p) => {
            p.packet = s(p.packet)?;
            Command::SendRedPacket(p)
        }
        Command::GrabRedPacket { packet, sender, user } => Command::GrabRedPacket { packet: s(packet)?, sender, user },
        Command::ExpireRedPacket { packet, sender } => Command::ExpireRedPacket { packet: s(packet)?, sender },
        Command::Crash(c) => {
            use croupier_domain::crash::CrashCommand;
            Command::Crash(match c {
                CrashCommand::PlaceBet(mut b) => {
                    b.order_no = s(b.order_no)?;
                    CrashCommand::PlaceBet(b)
                }
                CrashCommand::CancelBet { user, order_no } => CrashCommand::CancelBet { user, order_no: s(order_no)? },
                CrashCommand::Cashout { user, order_no } => CrashCommand::Cashout { user, order_no: s(order_no)? },
                // A channel and its terms are one per run already: their ids stay.
                other @ (CrashCommand::CreateChannel(_)
                | CrashCommand::SetPaused { .. }
                | CrashCommand::OpenTerm { .. }
                | CrashCommand::CloseBets { .. }
                | CrashCommand::TakeOff { .. }
                | CrashCommand::Crash { .. }
                | CrashCommand::EmergencyStop { .. }) => other,
            })
        }
        other @ (Command::Configure(_)
        | Command::SetTopology(_)
        | Command::ReceiveTransfer(_)
        | Command::AckTransfers { .. }
        | Command::DefineCurrency { .. }
        | Command::DefineGame(_)
        | Command::SetPlayerLimits { .. }
        | Command::SelfExclude { .. }
        | Command::CheckBet { .. }
        | Command::Instant(_)) => other,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Batches executed, waiting for their acknowledgement.
struct Acks<W: Write> {
    out: W,
    watch: DurableWatch,
    pending: VecDeque<(u64, [u8; 32])>,
    printed: u64,
}

impl<W: Write> Acks<W> {
    fn push(&mut self, position: u64, digest: [u8; 32]) -> Result<()> {
        self.pending.push_back((position, digest));
        self.release()?;
        if self.pending.len() >= MAX_PENDING {
            self.wait_front()?;
        }
        Ok(())
    }

    fn wait_front(&mut self) -> Result<()> {
        if let Some(&(position, _)) = self.pending.front() {
            self.watch.wait(position).context("waiting for the journal to become durable")?;
            self.release()?;
        }
        Ok(())
    }

    /// Prints every pending batch the durable watermark covers.
    fn release(&mut self) -> Result<()> {
        let durable = self.watch.durable_seq();
        let mut wrote = false;
        while let Some(&(position, digest)) = self.pending.front() {
            if position > durable {
                break;
            }
            writeln!(self.out, "ack {position} {}", hex(&digest)).context("writing to stdout")?;
            self.pending.pop_front();
            self.printed += 1;
            wrote = true;
        }
        if wrote {
            self.out.flush().context("writing to stdout")?;
        }
        Ok(())
    }
}

pub fn run(args: &SoakArgs) -> Result<()> {
    let mut cfg = ShardConfig::new(&args.data_dir, 0);
    cfg.durability = args.durability;
    cfg.segment_bytes = args.segment_bytes;
    cfg.snapshot_every_records = (args.snapshot_every > 0).then_some(args.snapshot_every);
    let (mut shard, report) =
        DurableShard::open(cfg).with_context(|| format!("opening {}", args.data_dir.display()))?;
    match &report.snapshot {
        Some((path, at)) => eprintln!(
            "soak: restored shard 0 from {} (position {at}) and {} journal records: position {}",
            path.display(),
            report.records_replayed,
            report.applied_position
        ),
        None if report.records_replayed > 0 => eprintln!(
            "soak: restored shard 0 from {} journal records: position {}",
            report.records_replayed, report.applied_position
        ),
        None => eprintln!("soak: new history in {}", args.data_dir.display()),
    }
    if let Some(cut) = &report.cut {
        eprintln!("soak: cut a torn tail of {} bytes at {}:{}", cut.bytes, cut.segment.display(), cut.offset);
    }
    for (position, parts) in &report.aborted_commands {
        eprintln!("soak: dropped a command of {parts} part(s) at position {position}, never acknowledged");
    }
    shard.state().check_invariants().map_err(anyhow::Error::msg).context("money invariants after restore")?;

    let mut acks =
        Acks { out: std::io::stdout().lock(), watch: shard.durable_watch(), pending: VecDeque::new(), printed: 0 };
    let mut now = shard.state().latest_timestamp().map_or(T0, |t| t.0 + STEP_MS);
    let mut answers: Vec<Answer> = Vec::with_capacity(args.batch as usize);
    let mut start_position = report.applied_position;
    if shard.state().game_by_id(&testkit::id(testkit::GAME)).is_none() {
        // A new history, or one killed before its setup was journaled. A step already applied
        // is refused (or answered as a repeat), which is harmless.
        let setup: Vec<_> = testkit::setup_commands(testkit::default_limits())
            .into_iter()
            .map(|c| {
                let stamped = (Timestamp(now), c);
                now += STEP_MS;
                stamped
            })
            .collect();
        start_position = shard.execute_batch(&setup, &mut answers).context("journaling the setup")?;
        if shard.state().game_by_id(&testkit::id(testkit::GAME)).is_none() {
            bail!("the setup commands were refused: {answers:?}");
        }
        acks.push(start_position, shard.state().digest())?;
    }

    let seed = generator_seed(args.seed, start_position);
    let tag = format!("{start_position:x}.");
    eprintln!("soak: generator seed {seed:#018x}, ids tagged {tag:?}, first command at {now} ms");
    let mut generator = Generator::new(seed, args.users);
    let mut batch: Vec<(Timestamp, Command)> = Vec::with_capacity(args.batch as usize);
    let (mut sent, mut accepted) = (0u64, 0u64);
    loop {
        let n = match args.max_commands {
            Some(max) => args.batch.min(max - sent),
            None => args.batch,
        };
        if n == 0 {
            break;
        }
        batch.clear();
        for _ in 0..n {
            batch.push((Timestamp(now), scoped(generator.next_command(), &tag)?));
            now += STEP_MS;
        }
        answers.clear();
        let position = shard.execute_batch(&batch, &mut answers).context("executing a batch")?;
        sent += n;
        accepted += answers.iter().filter(|a| a.is_ok()).count() as u64;
        acks.push(position, shard.state().digest())?;
    }
    while !acks.pending.is_empty() {
        acks.wait_front()?;
    }
    let printed = acks.printed;
    drop(acks);
    shard.state().check_invariants().map_err(anyhow::Error::msg).context("money invariants")?;
    let position = shard.position();
    let snapshot = shard.close(true).context("closing the shard")?;
    eprintln!(
        "soak: stopped after {sent} commands ({accepted} accepted), {printed} acks, position {position}{}",
        snapshot.map(|s| format!(", snapshot {}", s.path.display())).unwrap_or_default()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoping_prefixes_every_caller_id_and_keeps_the_rest() {
        let mut g = Generator::new(3, 20);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2_000 {
            let cmd = g.next_command();
            let tagged = scoped(cmd.clone(), "ff.").unwrap();
            let t = |id: &ExtId| format!("ff.{}", id.as_str());
            let ok = match (&cmd, &tagged) {
                (Command::PlaceBet(a), Command::PlaceBet(b)) => {
                    b.order_no.as_str() == t(&a.order_no) && b.round.as_str() == t(&a.round) && a.user == b.user
                }
                (Command::GameStart { round: a, game: ga, .. }, Command::GameStart { round: b, game: gb, .. }) => {
                    b.as_str() == t(a) && ga == gb
                }
                (Command::Deposit { transfer: a, amount: x, .. }, Command::Deposit { transfer: b, amount: y, .. })
                | (
                    Command::Withdraw { transfer: a, amount: x, .. },
                    Command::Withdraw { transfer: b, amount: y, .. },
                ) => b.as_str() == t(a) && x == y,
                (Command::SendRedPacket(a), Command::SendRedPacket(b)) => {
                    b.packet.as_str() == t(&a.packet) && a.total == b.total
                }
                (Command::GrabRedPacket { packet: a, .. }, Command::GrabRedPacket { packet: b, .. })
                | (Command::ExpireRedPacket { packet: a, .. }, Command::ExpireRedPacket { packet: b, .. })
                | (Command::GameStop { round: a }, Command::GameStop { round: b })
                | (Command::NewCard { round: a }, Command::NewCard { round: b })
                | (Command::GameDraw { round: a, .. }, Command::GameDraw { round: b, .. })
                | (Command::ResettleRound { round: a, .. }, Command::ResettleRound { round: b, .. })
                | (Command::GameEnd { round: a }, Command::GameEnd { round: b }) => b.as_str() == t(a),
                _ => false,
            };
            assert!(ok, "{cmd:?} became {tagged:?}");
            seen.insert(std::mem::discriminant(&cmd));
        }
        assert!(seen.len() >= 10, "the generator covered {} kinds of command", seen.len());
        let configure = Command::Configure(Default::default());
        assert!(matches!(scoped(configure, "ff.").unwrap(), Command::Configure(_)));
        assert!(scoped(testkit::deposit(1, 100, 1), &"x".repeat(40)).is_err());
    }

    #[test]
    fn the_seed_depends_on_the_start_position() {
        assert_eq!(generator_seed(1, 3), generator_seed(1, 3));
        assert_ne!(generator_seed(1, 3), generator_seed(1, 4));
        assert_ne!(generator_seed(1, 3), generator_seed(2, 3));
    }
}
