//! `croupier replay --term` over a journal written from the domain's own events: an honest
//! journal matches (crash point re-derived from the hash and salt, every payout and the totals
//! recomputed), a cancelled term shows every bet returned, and a journal with one payout off
//! by one minor unit fails with exit code 1 and names the bet.

use croupier_domain::crash::testkit::{self as kit, bet, cashout, close_bets, crash, open, stop, take_off};
use croupier_domain::crash::{curve, fair, ChannelConfig, CrashEvent};
use croupier_domain::testkit::{default_limits, deposit, id, setup_commands};
use croupier_domain::{Command, Engine, Event, Timestamp};
use croupier_journal::{Durability, Journal, JournalConfig};
use std::path::Path;
use std::process::Output;

const T0: u64 = 1_700_000_000_000;

fn croupier(args: &[&str], data: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_croupier"))
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

/// Changes a command's events before they are written.
type Tamper = Box<dyn FnMut(&mut Vec<Event>)>;

/// Shard 0's journal, written command by command from the engine's events; `tamper` may
/// change a command's events before they are written, as a buggy settlement would have.
struct Writer {
    engine: Engine,
    journal: Journal,
    tamper: Tamper,
}

impl Writer {
    fn run(&mut self, cmd: Command, at_ms: u64) {
        self.engine.execute(&cmd, Timestamp(T0 + at_ms)).unwrap_or_else(|r| panic!("{cmd:?} refused: {r}"));
        let mut events = self.engine.events().to_vec();
        (self.tamper)(&mut events);
        let journal = &mut self.journal;
        croupier_store::codec::encode(&events, journal.max_payload(), &mut Vec::new(), |part| {
            journal.append(part)?;
            Ok::<_, croupier_journal::JournalError>(())
        })
        .unwrap();
        journal.commit().unwrap();
    }
}

/// The first chain (from seeds `"replay<i>"`) whose game 1 crashes between 2x and 100x, so the
/// 1.50x target and an early manual cashout win and the targetless bet loses.
fn chain() -> (fair::Chain, u64) {
    (0..10_000)
        .map(|i| kit::chain(&format!("replay{i}"), 10))
        .map(|c| {
            let point = fair::crash_point(&c.game(1).unwrap(), kit::salt().as_bytes());
            (c, point)
        })
        .find(|(_, p)| (200..10_000).contains(p))
        .expect("a chain in range")
}

/// Term 1 crashes (auto, manual and lost bets, one cancelled by its player); term 2 is
/// stopped by the operator. Returns the crash point of term 1.
fn write_folder(data: &Path, tamper: Tamper) -> u64 {
    let mut jc = JournalConfig::new(data.join("shard-0000").join("journal"));
    jc.durability = Durability::Process;
    let (journal, _) = Journal::open(jc).unwrap();
    let mut w = Writer { engine: Engine::default(), journal, tamper };
    for c in setup_commands(default_limits()) {
        w.run(c, 0);
    }
    for u in 1..=5u64 {
        w.run(deposit(u, 1_000_000, u), 0);
    }
    let (chain, point) = chain();
    w.run(kit::create_channel(&chain, ChannelConfig::seed_001(vec![kit::limits()])), 0);
    w.run(open(1), 0);
    w.run(bet(1, id("a"), 1_000, Some(150)), 1);
    w.run(bet(2, id("b"), 2_000, None), 2);
    w.run(bet(3, id("c"), 3_333, None), 3);
    w.run(bet(4, id("d"), 500, Some(point + 1)), 4);
    w.run(bet(5, id("e"), 700, None), 5);
    w.run(
        Command::Crash(croupier_domain::crash::CrashCommand::CancelBet {
            user: croupier_domain::UserId(5),
            order_no: id("e"),
        }),
        6,
    );
    w.run(close_bets(1), 8_000);
    w.run(take_off(1, chain.game(1).unwrap()), 10_000);
    w.run(cashout(2, id("b")), 11_000);
    let crashed = 10_000 + curve::elapsed_to_reach(point) + 1;
    w.run(crash(1), crashed);
    w.run(open(2), crashed + 3_000);
    w.run(bet(1, id("f"), 1_000, Some(300)), crashed + 3_001);
    w.run(stop(2), crashed + 3_002);
    w.journal.close().unwrap();
    point
}

#[test]
fn a_term_replays_to_its_crash_point_and_payouts_and_a_forged_payout_fails() {
    let dir = tempfile::tempdir().unwrap();
    let honest = dir.path().join("honest");
    let point = write_folder(&honest, Box::new(|_| {}));

    let out = croupier(&["replay", "--term", "rocket:1"], &honest);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(!stdout.contains("MISMATCH"), "{stdout}");
    let shown = format!("re-derived {}x", fair::format_multiplier(point));
    assert!(stdout.contains(&shown), "{stdout}");
    assert!(stdout.contains("chains to the terminating hash"), "{stdout}");
    assert!(stdout.contains("term rocket:1: 5 bets"), "{stdout}");

    // The same as JSON, one object per line, each checked and true.
    let out = croupier(&["replay", "--term", "rocket:1", "--json"], &honest);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> =
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(lines.iter().all(|l| l["ok"] == true), "{lines:?}");
    let bet = |order: &str| lines.iter().find(|l| l["kind"] == "bet" && l["order_no"] == order).unwrap().clone();
    assert_eq!(bet("a")["expected_payout"], 1_500, "1.50x of 1 000 is 1 500");
    assert_eq!(bet("a")["recorded_payout"], 1_500);
    let manual = curve::multiplier_at(1_000);
    assert_eq!(bet("b")["expected_payout"].as_i64(), Some(2_000 * manual as i64 / 100));
    assert_eq!(bet("c")["expected_payout"], 0, "no target, no cashout: lost");
    assert_eq!(bet("d")["expected_payout"], 0, "a target above the crash point loses");
    assert_eq!(bet("e")["recorded"], "cancelled by the player (stake returned)");
    let crash_line = lines.iter().find(|l| l["kind"] == "crash_point").unwrap();
    assert_eq!(crash_line["derived"].as_u64(), Some(point));
    let totals = lines.iter().find(|l| l["kind"] == "totals").unwrap();
    assert_eq!(totals["expected"]["bets"], 4, "the cancelled bet counts nowhere");
    assert_eq!(totals["expected"]["staked"], 1_000 + 2_000 + 3_333 + 500);

    // A stopped term: every bet returned, no crash point revealed.
    let out = croupier(&["replay", "--term", "rocket:2"], &honest);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("was cancelled: every bet returned") && stdout.contains("refunded"), "{stdout}");

    let unknown = croupier(&["replay", "--term", "rocket:9"], &honest);
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("no term rocket:9"), "{}", text(&unknown.stderr));
    let bad = croupier(&["replay", "--term", "rocket"], &honest);
    assert!(!bad.status.success() && text(&bad.stderr).contains("<channel>:<number>"));

    // One manual cashout paid a minor unit too much: the replay names it and fails.
    let forged = dir.path().join("forged");
    write_folder(
        &forged,
        Box::new(|events: &mut Vec<Event>| {
            for e in events.iter_mut() {
                if let Event::Crash(CrashEvent::CashedOut { payout, kind, .. }) = e {
                    if kind.name() == "manual" {
                        payout.0 += 1;
                    }
                }
            }
        }),
    );
    let out = croupier(&["replay", "--term", "rocket:1"], &forged);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    let flagged: Vec<&str> = stdout.lines().filter(|l| l.starts_with("MISMATCH")).collect();
    // The totals were recorded by the honest engine: only the bet is off.
    assert_eq!(flagged.len(), 1, "{stdout}");
    assert!(flagged[0].contains("bet") && flagged[0].contains("(b,"), "{stdout}");
    assert!(text(&out.stderr).contains("1 mismatches"), "{}", text(&out.stderr));
}
