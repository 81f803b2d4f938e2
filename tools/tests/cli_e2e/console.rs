//! The web console in a real browser: `croupier serve --demo` on a free loopback port over a
//! temporary data folder, Debian's headless Chromium driven through chromedriver
//! ([`webdriver`]). A visitor's path: the console's own verifiers pass in the browser, a
//! baccarat bet is placed with the keyboard and seen settled by the push, its payout is
//! checked in the history, a lucky red packet is sent, its link opened as another player,
//! a share grabbed and the split checked, the operator's charts move, and the page fits a
//! phone's width. A failing step leaves a screenshot (its path is printed); every process
//! started is stopped.
//!
//! `CROUPIER_CONSOLE_SCREENSHOT=<file.png>` also saves the baccarat view after the
//! settlement, and `CROUPIER_CRASH_SCREENSHOT=<file.png>` the crash view once the bet's term
//! is verified (the README's pictures), and `CROUPIER_BLACKJACK_SCREENSHOT=<file.png>` the
//! blackjack view, phone-sized, once the hand is over.

use crate::webdriver::{wait_until, Browser};
use serde_json::json;
use std::cell::Cell;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The demo's betting window: long enough for a browser on a loaded 2-core machine to bet.
const WINDOW_MS: u64 = 5000;
/// Bounds for what the demo does on its own: a round is at most window + deal + show.
const ROUND: Duration = Duration::from_secs(30);
const QUICK: Duration = Duration::from_secs(15);

/// `croupier serve --demo`, stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

/// The operator key of the server without a demo (the test opens a session with it).
const KEY: &str = "console-test-operator-key";

impl Server {
    /// `croupier serve --demo`.
    fn demo() -> Server {
        Server::start(&["--demo", "--demo-window-ms", &WINDOW_MS.to_string()])
    }

    fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_croupier"))
            .args(["serve", "--listen", "127.0.0.1:0", "--shards", "2", "--durability", "process"])
            .args(extra)
            .arg("--data-dir")
            .arg(dir.path())
            .env("CROUPIER_OPERATOR_KEY", KEY)
            .env_remove("CROUPIER_CONFIG")
            .env_remove("CROUPIER_DEMO")
            .env_remove("CROUPIER_DEMO_WINDOW_MS")
            .env_remove("CROUPIER_SQL")
            .env_remove("CROUPIER_NATS")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("croupier serve starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let addr = first.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("no address line: {first:?}"));
        Server { url: format!("http://{addr}"), child, _dir: dir }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the child this test started.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// The step under way; a panic in it leaves a screenshot named after it.
struct Steps<'a> {
    browser: &'a Browser,
    step: Cell<&'static str>,
}

impl Steps<'_> {
    fn step(&self, name: &'static str) {
        eprintln!("console: {name}");
        self.step.set(name);
    }
}

impl Drop for Steps<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("console-failed-{}.png", self.step.get().replace(' ', "-")));
            match self.browser.screenshot(&path) {
                Ok(()) => eprintln!("console: step {:?} failed; screenshot {}", self.step.get(), path.display()),
                Err(e) => eprintln!("console: step {:?} failed; no screenshot: {e}", self.step.get()),
            }
        }
    }
}

#[test]
fn a_visitor_plays_baccarat_sends_and_grabs_a_red_packet_and_watches_the_engine() {
    crate::webdriver::require_browser();
    let server = Server::demo();
    let b = Browser::start(1280, 900);
    let s = Steps { browser: &b, step: Cell::new("start") };
    let url = &server.url;

    s.step("open");
    b.goto(&format!("{url}/"));
    wait_until("the console to start", QUICK, || {
        b.js("return document.body.dataset.ready || null;", json!([])).as_str().map(str::to_string)
    });
    assert_eq!(b.js("return document.body.dataset.ready;", json!([])), "true", "{:?}", b.text("main"));
    wait_until("the push to be live", QUICK, || b.text("#push-state").filter(|t| t == "push: live"));

    s.step("selftest");
    b.goto(&format!("{url}/#/verify"));
    let result = wait_until("the browser's self-test", QUICK, || {
        b.js("const e = document.getElementById('selftest'); return e && e.dataset.result || null;", json!([]))
            .as_str()
            .map(str::to_string)
    });
    let detail = b.text("#selftest").unwrap_or_default();
    assert_eq!(result, "ok", "the verifiers failed in the browser:\n{detail}");
    let count = b.js("return Number(document.getElementById('selftest').dataset.count);", json!([]));
    assert!(count.as_u64().unwrap() >= 15, "{count} self-test checks: {detail}");

    s.step("bet");
    b.goto(&format!("{url}/#/baccarat"));
    // A round whose window has more than 2 s left, so the bet lands in it.
    wait_until("a round open for betting with 2 s left", ROUND, || {
        let left = b.js(
            "const s = document.getElementById('round-status'); const c = document.getElementById('countdown');
             return s && s.dataset.status === 'betting' ? parseFloat(c.textContent) : null;",
            json!([]),
        );
        left.as_f64().filter(|l| *l > 2.0)
    });
    // With the keyboard: the banker side is selected, an arrow moves to the player side.
    b.js("document.querySelector('input[name=side]:checked').focus();", json!([]));
    b.keys(&["\u{E014}"]); // ArrowRight
    let side = b.js("return document.querySelector('input[name=side]:checked').value;", json!([]));
    assert_eq!(side, "1", "the arrow key selects the player side");
    b.type_into("#stake", "25.00");
    b.js("document.getElementById('place-bet').focus();", json!([]));
    b.keys(&["\u{E007}"]); // Enter
    wait_until("the bet in the player's list", QUICK, || b.text("#my-bets li").filter(|t| t.contains("25.00")));

    s.step("settle");
    let settled = wait_until("the bet settled by the push", ROUND, || {
        b.text("#my-bets li[data-state=settled]").filter(|t| t.contains("player 25.00"))
    });
    let expected = if settled.contains("won") {
        "paid 50.00"
    } else if settled.contains("push") {
        "paid 25.00"
    } else {
        "paid 0.00"
    };
    assert!(settled.contains(expected), "a player bet of 25.00 at 2.00: {settled:?}");
    let result = b.text("#round-result").unwrap_or_default();
    assert!(!result.is_empty(), "the draw is shown");
    // The header's balance follows the push: nothing held once the only bet is settled.
    wait_until("the balance without the held stake", QUICK, || {
        b.text("#balance").filter(|t| t.contains("CNY") && !t.contains("held"))
    });
    if let Some(path) = std::env::var_os("CROUPIER_CONSOLE_SCREENSHOT") {
        b.screenshot(std::path::Path::new(&path)).expect("the README's screenshot");
    }

    s.step("history");
    b.goto(&format!("{url}/#/wallet"));
    let row = wait_until("the bet in the history", QUICK, || {
        b.text("#history tr[data-bet]").filter(|t| t.contains("25.00 CNY"))
    });
    assert!(row.contains("payout") && !row.contains("MISMATCH"), "the payout checked in the browser: {row:?}");
    let balance = b.text("#balances").unwrap_or_default();
    assert!(balance.contains("CNY"), "{balance:?}");

    s.step("send packet");
    b.goto(&format!("{url}/#/packets"));
    wait_until("the send form", QUICK, || b.text("#send-packet"));
    b.type_into("#packet-amount", "8.88");
    b.type_into("#packet-shares", "3");
    b.js("document.getElementById('packet-kind').value = 'lucky';", json!([]));
    b.click("#send-packet");
    let link = wait_until("the packet's link", QUICK, || b.text("#packet-link"));
    assert!(link.starts_with(url) && link.contains("#/packets/1/"), "{link}");

    s.step("grab as another player");
    b.js(
        "const p = document.getElementById('player'); p.value = '2'; p.dispatchEvent(new Event('change'));",
        json!([]),
    );
    b.goto(&link);
    wait_until("the grab button", QUICK, || {
        b.js("const g = document.getElementById('grab'); return g && !g.disabled || null;", json!([])).as_bool()
    });
    b.click("#grab");
    let got = wait_until("the grabbed share", QUICK, || b.text("#my-grab").filter(|t| t.contains("You got")));
    assert!(got.contains("CNY"), "{got}");
    let checks = wait_until("the split checked", QUICK, || {
        b.js("const c = document.getElementById('packet-checks'); return c && c.dataset.result || null;", json!([]))
            .as_str()
            .map(str::to_string)
    });
    assert_eq!(checks, "ok", "{:?}", b.text("#packet-checks"));
    assert_eq!(b.text("#grabs").unwrap_or_default().lines().count(), 1, "one grab so far");

    s.step("operator charts");
    b.goto(&format!("{url}/#/operator"));
    let positions = || b.text("#fig-journal").unwrap_or_default();
    let first = wait_until("journal positions", QUICK, || Some(positions()).filter(|t| t.contains("shard 0")));
    // The demo's round goes on: the journal positions move, and the charts are redrawn.
    wait_until("the journal chart to move", ROUND, || Some(()).filter(|_| positions() != first));
    wait_until("the bets chart redrawn", QUICK, || {
        b.js("return Number(document.getElementById('chart-bets').dataset.draws);", json!([]))
            .as_u64()
            .filter(|d| *d >= 3)
    });
    let sockets = b.text("#fig-sockets").unwrap_or_default();
    assert!(!sockets.contains("open 0"), "this page's own push session is counted: {sockets:?}");
    let latency = wait_until("a bet latency figure", ROUND, || {
        b.text("#fig-latency").filter(|t| t.contains("p50") && !t.contains("p50 0.00"))
    });
    assert!(latency.contains("p99"), "{latency}");

    s.step("phone width");
    b.set_window(390, 844);
    b.goto(&format!("{url}/#/baccarat"));
    wait_until("the baccarat view", QUICK, || b.text("#place-bet"));
    let fits = b.js("return document.documentElement.scrollWidth <= window.innerWidth;", json!([]));
    assert_eq!(fits, true, "the page is wider than a phone's screen");
}

/// Without `--demo` the console hands out nothing: it asks for a session token, refuses a bad
/// one, and plays as the player of a good one (opened by the operator, as the README shows).
#[test]
fn without_a_demo_the_console_asks_for_a_session_token() {
    crate::webdriver::require_browser();
    let server = Server::start(&["--sql", "off"]);
    let b = Browser::start(390, 844);
    let s = Steps { browser: &b, step: Cell::new("start") };
    let addr: std::net::SocketAddr = server.url.trim_start_matches("http://").parse().unwrap();
    let token = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(croupier_gateway::client::Client::new(addr, KEY.as_bytes()).session(7))
        .expect("a session for user 7");

    s.step("token form");
    b.goto(&format!("{}/#/baccarat", server.url));
    wait_until("the token form", QUICK, || b.text("#token").map(|_| ()));
    let fits = b.js("return document.documentElement.scrollWidth <= window.innerWidth;", json!([]));
    assert_eq!(fits, true, "the token form is wider than a phone's screen");

    s.step("a bad token");
    b.type_into("#token", "v2.7.1.2.bad");
    b.keys(&["\u{E007}"]); // Enter, in the field
    wait_until("the refusal", QUICK, || b.text("#toasts").filter(|t| t.contains("refused")));
    assert!(b.text("#token").is_some(), "still asking");

    s.step("a good token");
    b.type_into("#token", &token);
    b.keys(&["\u{E007}"]);
    wait_until("the player's session", QUICK, || b.text("#who").filter(|t| t.contains("user 7")));
    wait_until("the round picker", QUICK, || b.text("main").filter(|t| t.contains("Round id")));
    wait_until("the push to be live", QUICK, || b.text("#push-state").filter(|t| t == "push: live"));
}

/// The crash view against the demo's channel: a bet with an auto cashout at 1.01x placed with
/// the keyboard, its result seen through the push (cashed out at 1.01x and paid
/// floor(stake × 1.01), or lost to a crash at 1.00x), the last terms' crash points and hashes
/// verified in the browser (the self-test first shows the verifier refuses lies), then a bet
/// in the next term cashed out by hand in the flight.
#[test]
fn a_visitor_bets_on_crash_cashes_out_automatically_and_by_hand_and_verifies_the_history() {
    crate::webdriver::require_browser();
    let server = Server::demo();
    let b = Browser::start(1280, 900);
    let s = Steps { browser: &b, step: Cell::new("start") };
    let url = &server.url;
    // A term is 5 s of bets, 1 s closed, a flight, 2 s of pause. A flight lasts
    // ln(crash point) / 0.00006 ms: 77 s to 100x (P = 1 %), 154 s to 10,000x (P = 0.01 %); the
    // bound covers crash points to about a million (P ≈ 1e-6), it is not a timing assert.
    let term = Duration::from_secs(240);

    s.step("crash selftest");
    b.goto(&format!("{url}/#/verify"));
    let result = wait_until("the browser's self-test", QUICK, || {
        b.js("const e = document.getElementById('selftest'); return e && e.dataset.result || null;", json!([]))
            .as_str()
            .map(str::to_string)
    });
    let detail = b.text("#selftest").unwrap_or_default();
    assert_eq!(result, "ok", "the verifiers failed in the browser:\n{detail}");
    assert!(detail.contains("bustabit crash points") && detail.contains("out of chain order"), "{detail}");

    s.step("open crash");
    b.goto(&format!("{url}/#/crash"));
    wait_until("the push to be live", QUICK, || b.text("#push-state").filter(|t| t == "push: live"));
    // A term whose bets stay open for more than 2 s, so the bet lands in it.
    wait_until("a crash term open for bets with 2 s left", term, || {
        b.js(
            "const s = document.getElementById('crash-status'); const m = document.getElementById('crash-multiplier');
             return s && s.dataset.status === 'pre_start' ? Number(m.dataset.countdown) : null;",
            json!([]),
        )
        .as_f64()
        .filter(|left| *left > 2000.0)
    });

    s.step("crash bet");
    b.type_into("#crash-stake", "5.00");
    b.type_into("#crash-auto", "1.01");
    b.js("document.getElementById('crash-bet').focus();", json!([]));
    b.keys(&["\u{E007}"]); // Enter
    let placed = wait_until("the bet shown as the player's", QUICK, || b.text("#crash-my-bet"));
    assert!(placed.contains("5.00") && placed.contains("auto 1.01x"), "{placed}");
    let term_no = b.text("#crash-term").unwrap_or_default();

    s.step("crash result by the push");
    let settled = wait_until("the bet settled by the push", term, || {
        b.js(
            "const e = document.querySelector('#crash-my-bet[data-push=yes]'); return e ? e.textContent : null;",
            json!([]),
        )
        .as_str()
        .map(str::to_string)
    });

    s.step("crash history verified");
    // The term ends (it may fly on for a while after a 1.01x cashout), enters the history,
    // and its crash point and hash are checked in the browser.
    let row = format!("#crash-history tr[data-term='{term_no}']");
    let verified = wait_until("the term verified in the browser", term, || {
        b.js(
            "const e = document.querySelector(arguments[0] + ' td[data-verified]'); return e ? e.dataset.verified : null;",
            json!([row]),
        )
        .as_str()
        .map(str::to_string)
    });
    let detail = b.js("return document.querySelector(arguments[0] + ' td[data-verified]').title;", json!([row]));
    assert_eq!(verified, "ok", "{detail:?}");
    assert!(detail.as_str().unwrap_or_default().contains("from the hash and salt"), "{detail:?}");
    let crashed = b.text(&format!("{row} td.num")).unwrap_or_default();
    if settled.contains("cashed out") {
        assert!(settled.contains("at 1.01x (auto)") && settled.contains("paid 5.05"), "floor(5.00 × 1.01): {settled}");
        assert_ne!(crashed, "1.00x", "a cashout at 1.01x in a term that crashed at once: {settled}");
    } else {
        assert!(settled.contains("lost"), "{settled}");
        assert_eq!(crashed, "1.00x", "a 1.01x auto cashout is lost only to an instant crash: {settled}");
    }
    let failed = b.js("return document.querySelectorAll('#crash-history td[data-verified=failed]').length;", json!([]));
    assert_eq!(failed, 0, "{:?}", b.text("#crash-history"));
    if let Some(path) = std::env::var_os("CROUPIER_CRASH_SCREENSHOT") {
        // Tall enough for the verified history under the flight.
        b.set_window(1280, 1150);
        b.screenshot(std::path::Path::new(&path)).expect("the README's crash screenshot");
        b.set_window(1280, 900);
    }

    s.step("crash manual cashout");
    // A bet without auto cashout in the next term, cashed out by hand (the keyboard) once the
    // flight is under way: cashed out at the multiplier of that moment and paid floor(stake ×
    // it), or lost if the term crashed first.
    wait_until("the next term open for bets with 2 s left", term, || {
        b.js(
            "const s = document.getElementById('crash-status'); const m = document.getElementById('crash-multiplier');
             return s && s.dataset.status === 'pre_start' && document.getElementById('crash-term').textContent !== arguments[0]
               ? Number(m.dataset.countdown) : null;",
            json!([term_no]),
        )
        .as_f64()
        .filter(|left| *left > 2000.0)
    });
    b.type_into("#crash-auto", "");
    b.click("#crash-bet");
    wait_until("the second bet shown", QUICK, || b.text("#crash-my-bet").filter(|t| !t.contains("auto")));
    wait_until("the cash out button enabled in the flight", term, || {
        b.js(
            "const c = document.getElementById('crash-cashout'); const s = document.getElementById('crash-status').dataset.status;
             return !c.disabled ? 'flying' : (s === 'closed' ? 'crashed' : null);",
            json!([]),
        )
        .as_str()
        .map(str::to_string)
    });
    b.js("const c = document.getElementById('crash-cashout'); if (!c.disabled) c.focus();", json!([]));
    b.keys(&["\u{E007}"]); // Enter
    let manual = wait_until("the manual bet settled by the push", term, || {
        b.js(
            "const e = document.querySelector('#crash-my-bet[data-push=yes]'); return e ? e.textContent : null;",
            json!([]),
        )
        .as_str()
        .map(str::to_string)
    });
    eprintln!("console: manual bet: {manual}");
    if manual.contains("cashed out") {
        assert!(manual.contains("(manual)"), "{manual}");
        let m: f64 = manual.split("cashed out at ").nth(1).and_then(|r| r.split('x').next()).unwrap().parse().unwrap();
        let hundredths = (m * 100.0).round() as u64;
        let want = format!("paid {}.{:02}", 5 * hundredths / 100, 5 * hundredths % 100);
        assert!(manual.contains(&want), "floor(5.00 × {m}): {manual}");
    } else {
        assert!(manual.contains("lost"), "{manual}");
    }

    s.step("crash at phone width");
    b.set_window(390, 844);
    b.goto(&format!("{url}/#/crash"));
    wait_until("the crash view", QUICK, || b.text("#crash-bet"));
    let fits = b.js("return document.documentElement.scrollWidth <= window.innerWidth;", json!([]));
    assert_eq!(fits, true, "the crash view is wider than a phone's screen");
}

/// The dice view: two rolls placed (one with the keyboard), the server seed revealed by a
/// rotation, and both bets verified in the browser from the revealed seed (its hash, the roll
/// from Stake's stream, the payout, the win against the call typed).
#[test]
fn a_visitor_rolls_dice_rotates_the_seeds_and_verifies_the_rolls_in_the_browser() {
    crate::webdriver::require_browser();
    let server = Server::demo();
    let b = Browser::start(390, 844);
    let s = Steps { browser: &b, step: Cell::new("start") };
    let url = &server.url;

    s.step("open dice");
    b.goto(&format!("{url}/#/dice"));
    let committed = wait_until("the server seed's hash", QUICK, || {
        b.text("#dice-seed-hash").filter(|t| t.len() == 64 && t.bytes().all(|c| c.is_ascii_hexdigit()))
    });
    let fits = b.js("return document.documentElement.scrollWidth <= window.innerWidth;", json!([]));
    assert_eq!(fits, true, "the dice view is wider than a phone's screen");

    s.step("roll");
    b.type_into("#dice-stake", "2.00");
    b.type_into("#dice-target", "40.00");
    b.js("document.getElementById('dice-roll').focus();", json!([]));
    b.keys(&["\u{E007}"]); // Enter
    let bet_id = || {
        b.js(
            "const e = document.querySelector('#dice-result span[data-bet]'); return e ? e.dataset.bet : null;",
            json!([]),
        )
        .as_str()
        .map(str::to_string)
    };
    let first = wait_until("the first roll", QUICK, bet_id);
    b.js(
        "const o = document.getElementById('dice-over'); o.value = 'false'; o.dispatchEvent(new Event('change'));",
        json!([]),
    );
    b.click("#dice-roll");
    wait_until("the second roll", QUICK, || bet_id().filter(|id| *id != first));
    let rows = wait_until("both bets listed", QUICK, || {
        b.js("return document.querySelectorAll('#dice-bets tr[data-bet]').length;", json!([]))
            .as_u64()
            .filter(|n| *n == 2)
    });
    assert_eq!(rows, 2);
    let unrevealed = b.text("#dice-bets").unwrap_or_default();
    assert!(unrevealed.contains("not revealed"), "nothing is verifiable before the rotation: {unrevealed}");

    s.step("rotate and verify");
    b.click("#dice-rotate");
    wait_until("a new server seed hash", QUICK, || b.text("#dice-seed-hash").filter(|t| *t != committed));
    let verified = wait_until("both bets verified in the browser", QUICK, || {
        let marks = b.js(
            "return [...document.querySelectorAll('#dice-bets td[data-verified]')].map((e) => e.dataset.verified + ' ' + e.title);",
            json!([]),
        );
        marks.as_array().filter(|m| m.len() == 2).cloned()
    });
    for m in verified {
        let m = m.as_str().unwrap_or_default();
        assert!(m.starts_with("ok "), "{m}");
        assert!(m.contains("from the seeds") && (m.contains("over 40.00") || m.contains("under 40.00")), "{m}");
    }
}

/// The text of `css`'s `data-<key>`, or None while there is no such element or attribute.
fn data(b: &Browser, css: &str, key: &str) -> Option<String> {
    b.js(
        "const e = document.querySelector(arguments[0]); return e && e.dataset[arguments[1]] || null;",
        json!([css, key]),
    )
    .as_str()
    .map(str::to_string)
}

/// floor(stake × multiplier) in hundredths, both as the console writes them ("2.00", "1.0312").
fn floor_payout(stake: &str, multiplier: &str) -> String {
    let minor = |text: &str, places: usize| {
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        let frac = format!("{frac:0<places$}");
        whole.parse::<u128>().unwrap() * 10u128.pow(places as u32) + frac[..places].parse::<u128>().unwrap()
    };
    let paid = minor(stake, 2) * minor(multiplier, 4) / 10_000;
    format!("{}.{:02}", paid / 100, paid % 100)
}

/// The instant games and the rest of the Verify view, at a phone's width and mostly with the
/// keyboard: a mines game (one mine) started, a gem revealed, the page reloaded in the middle
/// of the game and the game resumed, then cashed out at 1.0312x; a keno quick pick settled; a
/// plinko ball dropped and its bet confirmed by the page when the animation ends (not by the
/// sweeper); the seeds rotated in Verify and the three bets verified in the browser; a crash
/// game's hash, followed from the crash view's history, checked in Verify (its crash point and
/// its chain to the channel's terminating hash), and a hash typed in that is on no chain refused.
#[test]
fn a_visitor_plays_mines_keno_and_plinko_and_verifies_them_and_a_crash_hash_in_the_browser() {
    crate::webdriver::require_browser();
    let server = Server::demo();
    let b = Browser::start(390, 844);
    let s = Steps { browser: &b, step: Cell::new("start") };
    let url = &server.url;
    let fits = |view: &str| {
        let fits = b.js("return document.documentElement.scrollWidth <= window.innerWidth;", json!([]));
        assert_eq!(fits, true, "the {view} view is wider than a phone's screen");
    };
    let ready = || {
        wait_until("the console to start", QUICK, || {
            b.js("return document.body.dataset.ready || null;", json!([])).as_str().map(str::to_string)
        })
    };

    s.step("mines start");
    b.goto(&format!("{url}/#/mines"));
    wait_until("the mines board", QUICK, || b.text("#mines-board button[data-tile]"));
    fits("mines");
    b.type_into("#mines-stake", "2.00");
    b.js(
        "const c = document.getElementById('mines-count'); c.value = '1'; c.dispatchEvent(new Event('change'));",
        json!([]),
    );
    // One mine of 25: the first tile is a gem 24 times in 25; a mine ends the game, and the
    // next one starts (five mines in a row: 1 in 10 million).
    let mut gem = false;
    for _ in 0..5 {
        b.js("document.getElementById('mines-start').focus();", json!([]));
        b.keys(&["\u{E007}"]); // Enter: the game starts and the board takes the focus
        wait_until("the game in play", QUICK, || data(&b, "#mines-result", "state").filter(|s| s == "open"));
        let focused = b.js("return document.activeElement.dataset.tile || null;", json!([]));
        assert_eq!(focused, "12", "the centre tile has the focus");
        b.keys(&["\u{E012}", "\u{E007}"]); // ArrowLeft, Enter: tile 11
        let end = wait_until("the tile revealed", QUICK, || {
            b.js("return document.querySelector('#mines-board .gem') ? 'gem' : (document.querySelector('#mines-board .boom') ? 'mine' : null);", json!([]))
                .as_str()
                .map(str::to_string)
        });
        if end == "gem" {
            gem = true;
            break;
        }
        let lost = b.text("#mines-result").unwrap_or_default();
        assert!(lost.contains("mine at tile 12") && lost.contains("lost 2.00"), "{lost}");
    }
    assert!(gem, "five mines in a row");
    let tile = b.js("return document.querySelector('#mines-board .gem').dataset.tile;", json!([]));
    assert_eq!(tile, "11");
    let shown = b.text("#mines-result").unwrap_or_default();
    assert!(shown.contains("1 gem · 1.0312x · cash out 2.06"), "{shown}");

    s.step("mines resumed after a reload");
    b.js("location.reload();", json!([]));
    assert_eq!(ready(), "true");
    wait_until("the game resumed", QUICK, || data(&b, "#mines-result", "state").filter(|s| s == "open"));
    let gems =
        b.js("return [...document.querySelectorAll('#mines-board .gem')].map((e) => e.dataset.tile);", json!([]));
    assert_eq!(gems, json!(["11"]), "the revealed gem is shown again");

    s.step("mines cash out");
    b.js("document.getElementById('mines-cashout').focus();", json!([]));
    b.keys(&["\u{E007}"]);
    wait_until("the game settled", QUICK, || data(&b, "#mines-result", "state").filter(|s| s == "settled"));
    let out = b.text("#mines-result").unwrap_or_default();
    assert!(out.contains("cashed out at 1.0312x · paid 2.06"), "floor(2.00 × 1.0312): {out}");
    let mines = b.js("return document.querySelectorAll('#mines-board .mine').length;", json!([]));
    assert_eq!(mines, 1, "the mine is shown once the game is over");

    s.step("keno");
    b.goto(&format!("{url}/#/keno"));
    wait_until("the keno board", QUICK, || b.text("#keno-board button[data-n]"));
    fits("keno");
    b.js("document.getElementById('keno-quick').focus();", json!([]));
    b.keys(&["\u{E007}"]); // a quick pick of 5
    let picked = b.js("return document.querySelectorAll('#keno-board [aria-pressed=true]').length;", json!([]));
    assert_eq!(picked, 5);
    b.js("document.getElementById('keno-bet').focus();", json!([]));
    b.keys(&["\u{E007}"]);
    wait_until("the keno bet settled", QUICK, || data(&b, "#keno-result", "bet"));
    let keno = b.text("#keno-result").unwrap_or_default();
    assert!(keno.contains("hits of 5"), "{keno}");
    let m = keno.split(" · ").nth(1).and_then(|x| x.strip_suffix('x')).expect("a multiplier").to_string();
    if m == "0" {
        assert!(keno.ends_with("lost"), "{keno}");
    } else {
        assert!(keno.ends_with(&format!("paid {}", floor_payout("1.00", &m))), "{keno}");
    }
    let drawn = b.js("return document.querySelectorAll('#keno-board .drawn').length;", json!([]));
    assert_eq!(drawn, 10, "ten numbers drawn");

    s.step("plinko");
    b.goto(&format!("{url}/#/plinko"));
    wait_until("the plinko slots", QUICK, || b.text("#plinko-slots span"));
    fits("plinko");
    b.js(
        "const r = document.getElementById('plinko-rows'); r.value = '8'; r.dispatchEvent(new Event('change'));",
        json!([]),
    );
    b.js("document.getElementById('plinko-drop').focus();", json!([]));
    b.keys(&["\u{E007}"]);
    wait_until("the ball falling", QUICK, || data(&b, "#plinko-result", "bet"));
    // The page confirms when the animation ends (about a second), well before the sweeper's 20 s.
    wait_until("the plinko bet settled", QUICK, || data(&b, "#plinko-result", "state").filter(|s| s == "settled"));
    assert_eq!(data(&b, "#plinko-result", "ended").as_deref(), Some("confirmed"), "settled by the page's call");
    let plinko = b.text("#plinko-result").unwrap_or_default();
    let m = plinko.split(" · ").nth(1).and_then(|x| x.strip_suffix('x')).expect("a multiplier").to_string();
    assert!(plinko.ends_with(&format!("paid {}", floor_payout("1.00", &m))), "{plinko}");
    let landed = b.js("return document.querySelectorAll('#plinko-slots .landed').length;", json!([]));
    assert_eq!(landed, 1, "the ball is drawn in its slot");

    s.step("verify instant bets");
    b.goto(&format!("{url}/#/verify"));
    wait_until("the instant bets listed", QUICK, || data(&b, "#verify-instant", "loaded").filter(|n| n != "0"));
    fits("verify");
    let unrevealed = b.text("#verify-instant").unwrap_or_default();
    assert!(unrevealed.contains("not revealed"), "nothing is verifiable before the rotation: {unrevealed}");
    b.click("#verify-rotate");
    let marks = wait_until("the bets verified in the browser", QUICK, || {
        let marks = b.js(
            "return [...document.querySelectorAll('#verify-instant tr[data-game]')].map((r) => {
               const c = r.querySelector('td[data-verified]'); return [r.dataset.game, c ? c.dataset.verified : null, c ? c.title : ''];
             });",
            json!([]),
        );
        marks.as_array().filter(|m| m.len() >= 3 && m.iter().all(|r| !r[1].is_null())).cloned()
    });
    for game in ["mines", "keno", "plinko"] {
        let row = marks.iter().find(|r| r[0] == game).unwrap_or_else(|| panic!("no {game} bet in {marks:?}"));
        assert_eq!(row[1], "ok", "{row}");
        assert!(row[2].as_str().unwrap_or_default().contains("from the seeds"), "{row}");
    }
    assert!(marks.iter().all(|r| r[1] == "ok"), "{marks:?}");

    s.step("crash hash from the crash view");
    // A term of the demo's channel that has crashed (a flight to 100x lasts 77 s; the bound is
    // not a timing assert) and been verified in the crash view.
    b.goto(&format!("{url}/#/crash"));
    let term = Duration::from_secs(240);
    let (hash, crashed) = wait_until("a crashed term in the history", term, || {
        let row = b.js(
            "const r = document.querySelector('#crash-history tr[data-term]'); if (!r) return null;
             return [r.querySelector('code.hash').title, r.querySelector('td.num').textContent];",
            json!([]),
        );
        row.as_array()
            .map(|r| (r[0].as_str().unwrap_or_default().to_string(), r[1].as_str().unwrap_or_default().to_string()))
    });
    assert_eq!(hash.len(), 64, "{hash}");

    s.step("crash hash verified");
    // The history's hash is a link to Verify with the hash filled in and checked at once.
    b.js("document.querySelector(`#crash-history a[href$='${arguments[0]}']`).focus();", json!([hash]));
    b.keys(&["\u{E007}"]); // Enter follows the link
    let result = wait_until("the hash checked in the browser", QUICK, || data(&b, "#verify-crash", "result"));
    let typed = b.js("return document.getElementById('verify-crash-hash').value;", json!([]));
    assert_eq!(typed, hash.as_str(), "the form shows the hash checked");
    let detail = b.text("#verify-crash").unwrap_or_default();
    assert_eq!(result, "ok", "{detail}");
    assert_eq!(format!("{}x", data(&b, "#verify-crash", "crashPoint").unwrap_or_default()), crashed, "{detail}");
    assert!(detail.contains("is the terminating hash") && detail.contains("from the hash and salt"), "{detail}");

    s.step("a hash not on the chain");
    let stray = format!("{}{}", &hash[..63], if hash.ends_with('0') { '1' } else { '0' });
    b.type_into("#verify-crash-hash", &stray);
    b.keys(&["\u{E007}"]);
    // The submit handler clears the last result before its first await, so this is the new one.
    let result = wait_until("the stray hash refused", QUICK, || data(&b, "#verify-crash", "result"));
    let detail = b.text("#verify-crash").unwrap_or_default();
    assert_eq!(result, "failed", "{detail}");
    assert!(detail.contains("no chain to the terminating hash"), "{detail}");
}

/// Minor units (hundredths) of an amount as the console writes it ("2.00", "-1.50").
fn hundredths(text: &str) -> i64 {
    let t = text.trim();
    let (sign, t) = t.strip_prefix('-').map_or((1, t), |rest| (-1, rest));
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    sign * (whole.parse::<i64>().unwrap() * 100 + format!("{frac:0<2}")[..2].parse::<i64>().unwrap())
}

/// The blackjack view at a phone's width, played with the keyboard: games dealt (some end at
/// the deal on a blackjack) until one is in play, the page reloaded and the game resumed with
/// its cards, then played to the end (insurance declined when the dealer shows an ace, a pair
/// split, 10 or 11 doubled, a hit below 12, else stand; again if the dealer's blackjack ended
/// it before any other action);
/// the header's balance moved by every game's payout less its stakes; the seeds rotated in
/// Verify and every blackjack game replayed in the browser from its revealed seed and actions.
#[test]
fn a_visitor_plays_blackjack_resumes_it_after_a_reload_and_verifies_it_in_the_browser() {
    crate::webdriver::require_browser();
    let server = Server::demo();
    let b = Browser::start(390, 844);
    let s = Steps { browser: &b, step: Cell::new("start") };
    let url = &server.url;
    let result = |key: &str| data(&b, "#bj-result", key);
    // The header shows "0 CNY" until the first balance is read, and "(… held)" during a game.
    let balance =
        || b.text("#balance").and_then(|t| t.strip_suffix(" CNY").filter(|a| a.contains('.')).map(hundredths));
    let cards =
        || b.js("return [...document.querySelectorAll('#bj-hands .pcard')].map((c) => c.dataset.card);", json!([]));
    let enabled = |id: &str| {
        b.js("const e = document.getElementById(arguments[0]); return Boolean(e && !e.disabled);", json!([id]))
            == json!(true)
    };

    s.step("blackjack open");
    b.goto(&format!("{url}/#/blackjack"));
    wait_until("the deal button", QUICK, || b.text("#bj-deal"));
    let fits = b.js("return document.documentElement.scrollWidth <= window.innerWidth;", json!([]));
    assert_eq!(fits, true, "the blackjack view is wider than a phone's screen");
    let before = wait_until("the balance", QUICK, balance);
    b.type_into("#bj-stake", "2.00");

    // Deals until a game is in play: a blackjack, or the dealer's with a ten up, ends one at
    // the deal (20 in a row is about 1e-21).
    let deal = || {
        for _ in 0..20 {
            let last = result("bet");
            b.js("document.getElementById('bj-deal').focus();", json!([]));
            b.keys(&["\u{E007}"]); // Enter
            let id = wait_until("the cards dealt", QUICK, || result("bet").filter(|id| Some(id) != last.as_ref()));
            let state = result("state").unwrap_or_default();
            if state == "open" {
                return id;
            }
            assert_eq!(state, "settled", "a game ended at the deal");
            let text = b.text("#bj-result").unwrap_or_default();
            assert!(text.contains("paid") && text.contains("of 2.00 staked"), "{text}");
        }
        panic!("20 games in a row ended at the deal");
    };
    // Plays the game in play to its end with the keys; the actions played.
    let play = || {
        let mut played = Vec::new();
        for _ in 0..12 {
            if result("state").as_deref() == Some("settled") {
                break;
            }
            let step = result("step");
            let total = b.js(
                "const h = document.querySelector('#bj-hands .bj-hand.active'); return h ? Number(h.dataset.total) : 21;",
                json!([]),
            );
            let total_now = total.as_u64().unwrap_or(21);
            let (key, action) = if enabled("bj-no-insurance") {
                ("n", "no_insurance")
            } else if enabled("bj-split") {
                ("p", "split")
            } else if enabled("bj-double") && (10..=11).contains(&total_now) {
                ("d", "double")
            } else if enabled("bj-hit") && total_now < 12 {
                ("h", "hit")
            } else {
                assert!(enabled("bj-stand"), "a game in play can stand: {:?}", b.text("#bj-actions"));
                ("s", "stand")
            };
            b.keys(&[key]);
            wait_until("the action played", QUICK, || {
                Some(()).filter(|_| result("step") != step || result("state").as_deref() == Some("settled"))
            });
            played.push(action);
        }
        assert_eq!(result("state").as_deref(), Some("settled"), "{:?}", b.text("#bj-result"));
        played
    };

    s.step("deal");
    let mut game = deal();
    let dealt = cards();
    assert_eq!(dealt.as_array().map(Vec::len), Some(2), "two cards: {dealt}");
    let dealer = b.js("return document.querySelectorAll('#bj-dealer .pcard').length;", json!([]));
    let hidden = b.js("return document.querySelectorAll('#bj-dealer .pcard.back').length;", json!([]));
    assert_eq!((dealer, hidden), (json!(2), json!(1)), "the up card and the hole card face down");

    s.step("blackjack resumed after a reload");
    b.js("location.reload();", json!([]));
    wait_until("the game resumed", QUICK, || {
        result("bet").filter(|id| *id == game && result("state").as_deref() == Some("open"))
    });
    assert_eq!(cards(), dealt, "the same cards after the reload");
    let stake = b.js("return document.getElementById('bj-stake').value;", json!([]));
    assert_eq!(stake, "2.00", "the stake of the game resumed");

    s.step("play to the end");
    let mut played = play();
    for _ in 0..5 {
        if played.iter().any(|a| *a != "no_insurance") {
            break;
        }
        // The dealer's blackjack at the peek ended it: another game, for a hit, a stand, ...
        game = deal();
        played = play();
    }
    assert!(played.iter().any(|a| *a != "no_insurance"), "an action beyond the insurance: {played:?}");
    eprintln!("console: blackjack played {played:?}: {:?}", b.text("#bj-result"));
    let text = b.text("#bj-result").unwrap_or_default();
    assert!(text.contains("paid"), "{text}");
    let dealer = b.js("return document.querySelectorAll('#bj-dealer .pcard:not(.back)').length;", json!([]));
    assert!(dealer.as_u64().unwrap_or(0) >= 2, "every dealer card is shown once the game is over");

    s.step("balance");
    let rows = wait_until("every game in the history, settled", QUICK, || {
        let rows = b.js(
            "return [...document.querySelectorAll('#bj-games tr[data-bet]')].map((r) => [r.dataset.state, r.cells[3].textContent, r.cells[4].textContent]);",
            json!([]),
        );
        rows.as_array().filter(|r| !r.is_empty() && r.iter().all(|x| x[0] == "settled")).cloned()
    });
    let moved: i64 = rows.iter().map(|r| hundredths(r[2].as_str().unwrap()) - hundredths(r[1].as_str().unwrap())).sum();
    wait_until("the balance after every game", QUICK, || balance().filter(|now| *now == before + moved));
    if let Some(path) = std::env::var_os("CROUPIER_BLACKJACK_SCREENSHOT") {
        // Taken once the balance has settled, with the finished hand in view (the README's picture).
        b.js("document.getElementById('bj-result').scrollIntoView({block: 'center'});", json!([]));
        b.screenshot(std::path::Path::new(&path)).expect("the blackjack view's screenshot");
    }

    s.step("verify blackjack");
    b.goto(&format!("{url}/#/verify"));
    wait_until("the instant bets listed", QUICK, || data(&b, "#verify-instant", "loaded").filter(|n| n != "0"));
    let unrevealed = b.text("#verify-instant").unwrap_or_default();
    assert!(unrevealed.contains("not revealed"), "nothing is verifiable before the rotation: {unrevealed}");
    b.click("#verify-rotate");
    let marks = wait_until("the games replayed in the browser", QUICK, || {
        let marks = b.js(
            "return [...document.querySelectorAll('#verify-instant tr[data-game]')].map((r) => {
               const c = r.querySelector('td[data-verified]'); return [r.dataset.bet, c ? c.dataset.verified : null, c ? c.title : ''];
             });",
            json!([]),
        );
        marks.as_array().filter(|m| !m.is_empty() && m.iter().all(|r| !r[1].is_null())).cloned()
    });
    assert_eq!(marks.len(), rows.len(), "every blackjack game is listed: {marks:?}");
    for m in &marks {
        assert_eq!(m[1], "ok", "{m}");
        assert!(m[2].as_str().unwrap_or_default().contains("from the seeds"), "{m}");
    }
    let selftest = wait_until("the browser's self-test", QUICK, || data(&b, "#selftest", "result"));
    let detail = b.text("#selftest").unwrap_or_default();
    assert_eq!(selftest, "ok", "the verifiers failed in the browser:\n{detail}");
    assert!(
        detail.contains("blackjack cards equal Stake's verifier's")
            && detail.contains("another action than the one played is refused"),
        "{detail}"
    );
    let row = marks.iter().find(|m| m[0] == game.as_str()).expect("the game played is verified");
    let detail = row[2].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!(", {}: dealer", played.join(", "))),
        "replayed with its actions {played:?}: {detail}"
    );
}
