//! `croupier serve --demo`: an operator and a few players, so the console at `/` is alive the
//! moment it opens. Everything goes through the public HTTP API of the server itself, signed
//! with its operator key, exactly as an operator's own systems would call it:
//!
//! - the demo players (users 1 to 4) are funded once (idempotent transfer ids, so a restart
//!   on the same data folder funds no one twice) and topped up when they run low; the console
//!   gets a fresh session for each from `/console/demo`;
//! - a baccarat table opens a round, lets the runtime close its betting window, deals,
//!   draws a result from the OS's random numbers, ends the round, and opens the next one;
//! - a few house players (users 101 to 106) bet on each round at random moments, so the bet
//!   feed and the operator's charts have something to show;
//! - a crash channel [`CRASH_CHANNEL`] with a short betting phase, whose terms the server's
//!   own driver runs (the console's crash view watches it).

use anyhow::{bail, Context, Result};
use croupier_domain::rng::SplitMix64;
use croupier_gateway::client::Client;
use croupier_gateway::console::{DemoPlayer, DemoTable};
use croupier_gateway::AppState;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;

/// The players a visitor plays as.
const PLAYERS: [(u64, &str); 4] = [(1, "Ada"), (2, "Blaise"), (3, "Carl"), (4, "Dora")];
/// Players that bet on their own.
const HOUSE_PLAYERS: std::ops::RangeInclusive<u64> = 101..=106;
/// What a demo player starts with, and is given again when below [`LOW_MINOR`] (100.00).
const FUNDS: &str = "1000.00";
const LOW_MINOR: i64 = 10_000;
const HOUSE_FUNDS: &str = "1000000.00";
/// Stakes the house players choose from.
const STAKES: [&str; 5] = ["10.00", "20.00", "50.00", "100.00", "200.00"];
/// How long the cards take to come out, and how long a result stays on the table.
const DEAL: Duration = Duration::from_millis(1500);
const SHOW: Duration = Duration::from_millis(2500);
/// The demo's crash channel (the console's crash view opens it by default on a demo server),
/// its phases (short, so the view is alive) and its chain (one game per term: 20,000 terms
/// last more than a day at this pace, and the chain is drawn in well under a second).
pub const CRASH_CHANNEL: &str = "demo";
const CRASH_PRE_START_MS: u64 = 5000;
const CRASH_STARTING_MS: u64 = 1000;
const CRASH_PAUSE_MS: u64 = 2000;
const CRASH_CHAIN: u64 = 20_000;
/// After a failed call: wait, then start the round over.
const RETRY: Duration = Duration::from_secs(1);

/// How the demo runs.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// Betting window of each round.
    pub window: Duration,
}

/// The demo's rounds are `<prefix>-<n>`; the prefix differs per start, so a restarted demo
/// never meets a round id it already used.
fn round_id(prefix: &str, n: u64) -> String {
    format!("{prefix}-{n}")
}

/// Marks `app` as a demo server and drives the demo until `stop` is set.
pub async fn run(
    app: AppState,
    addr: SocketAddr,
    key: Vec<u8>,
    cfg: DemoConfig,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let prefix = format!("demo{}", croupier_gateway::now_ms() % 100_000_000);
    let window_ms = cfg.window.as_millis() as u64;
    let table = |open: Option<u64>, next: u64| DemoTable {
        game: croupier_domain::games::BACCARAT.into(),
        round_id: open.map(|n| round_id(&prefix, n)),
        next_round_id: round_id(&prefix, next),
        window_ms,
    };
    let players = PLAYERS.iter().map(|(id, name)| DemoPlayer { user_id: *id, name: (*name).into() }).collect();
    app.console.set_demo(players, table(None, 1));
    let mut demo = Demo { op: Client::new(addr, &key), rng: SplitMix64::new(os_seed()), house: Vec::new() };
    let work = async {
        while let Err(e) = demo.fund().await {
            eprintln!("demo: funding the players: {e:#}");
            tokio::time::sleep(RETRY).await;
        }
        eprintln!("demo: players {:?} funded; the table opens {}", PLAYERS.map(|p| p.0), round_id(&prefix, 1));
        // The crash channel once; its terms then run by themselves. On a restart over the same
        // data folder it exists already (its chain is in the vault), which is what we want.
        if let Err(e) = demo.crash_channel().await {
            eprintln!("demo: crash channel {CRASH_CHANNEL}: {e:#}");
        }
        let mut n = 1;
        loop {
            let id = round_id(&prefix, n);
            if let Err(e) = demo.round(&id, &cfg, || app.console.set_demo_table(table(Some(n), n + 1))).await {
                eprintln!("demo: round {id}: {e:#}");
                tokio::time::sleep(RETRY).await;
            }
            n += 1;
        }
    };
    tokio::select! {
        () = work => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

/// 64 bits from the OS: the demo's draws are not predictable from its start time.
fn os_seed() -> u64 {
    let mut raw = [0u8; 8];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut raw));
    match read {
        Ok(()) => u64::from_le_bytes(raw),
        Err(_) => croupier_gateway::now_ms(),
    }
}

struct Demo {
    op: Client,
    rng: SplitMix64,
    /// The house players' tokens, renewed every round.
    house: Vec<(u64, String)>,
}

/// An answer that must be a success.
fn ok(what: &str, a: croupier_gateway::client::Answer) -> Result<Value> {
    if a.status != 200 {
        bail!("{what}: {} {}", a.status, String::from_utf8_lossy(&a.body));
    }
    Ok(a.json())
}

impl Demo {
    async fn operator(&mut self, path: &str, body: Value) -> Result<Value> {
        let a = self.op.operator(path, &body).await.with_context(|| format!("POST {path}"))?;
        ok(path, a)
    }

    /// Funds every player once (the transfer ids make a repeat, or a restart, move nothing).
    async fn fund(&mut self) -> Result<()> {
        for (user, _) in PLAYERS {
            self.operator(
                "/api/deposit",
                json!({"transfer_id": format!("demo-fund-{user}"), "user_id": user, "amount": FUNDS}),
            )
            .await?;
        }
        for user in HOUSE_PLAYERS {
            let body = json!({"transfer_id": format!("demo-fund-{user}"), "user_id": user, "amount": HOUSE_FUNDS});
            self.operator("/api/deposit", body).await?;
        }
        Ok(())
    }

    /// Creates the demo's crash channel, unless it exists.
    async fn crash_channel(&mut self) -> Result<()> {
        let path = format!("/api/crash/channels/{CRASH_CHANNEL}");
        let a = self.op.conn.request("GET", &path, &[], b"").await?;
        if a.status == 200 {
            return Ok(());
        }
        let body = json!({
            "channel": CRASH_CHANNEL,
            "pre_start_ms": CRASH_PRE_START_MS,
            "starting_ms": CRASH_STARTING_MS,
            "pause_ms": CRASH_PAUSE_MS,
            "chain_length": CRASH_CHAIN,
            "limits": [{"min_stake": "1.00", "max_stake": "500.00", "max_profit_per_bet": "50000.00", "max_profit_per_term": "200000.00"}],
        });
        self.operator("/api/crash/channels", body).await?;
        eprintln!("demo: crash channel {CRASH_CHANNEL} runs its terms");
        Ok(())
    }

    /// Tops up the demo players who ran low, once per round at most.
    async fn top_up(&mut self, round: &str) -> Result<()> {
        for (user, _) in PLAYERS {
            let token = self.op.session(user).await?;
            let a = self.op.player(&token, "GET", "/api/me/balance", None).await?;
            let balance = ok("balance", a)?;
            let available = balance["balances"][0]["available"].as_str().unwrap_or("0");
            if minor(available) < LOW_MINOR {
                let body = json!({"transfer_id": format!("demo-top-{user}-{round}"), "user_id": user, "amount": FUNDS});
                self.operator("/api/deposit", body).await?;
            }
        }
        Ok(())
    }

    /// One round: open, house bets during the window, deal, draw, end.
    async fn round(&mut self, id: &str, cfg: &DemoConfig, opened: impl FnOnce()) -> Result<()> {
        self.top_up(id).await?;
        self.house.clear();
        for user in HOUSE_PLAYERS {
            let token = self.op.session(user).await?;
            self.house.push((user, token));
        }
        let window_ms = cfg.window.as_millis() as u64;
        let open = self
            .operator("/api/game_event", json!({"event": "game_start", "round_id": id, "window_ms": window_ms}))
            .await?;
        opened();
        let stop_at = open["bet_stop_time"].as_u64().unwrap_or_else(|| croupier_gateway::now_ms() + window_ms);
        self.house_bets(id, stop_at).await;
        // The runtime closes the window on its own at bet_stop_time; wait for that moment.
        let left = stop_at.saturating_sub(croupier_gateway::now_ms());
        tokio::time::sleep(Duration::from_millis(left + 100)).await;
        self.operator("/api/game_event", json!({"event": "new_card", "round_id": id})).await?;
        tokio::time::sleep(DEAL).await;
        let outcomes = self.draw();
        self.operator("/api/drawresult", json!({"round_id": id, "outcomes": outcomes})).await?;
        self.operator("/api/game_event", json!({"event": "game_end", "round_id": id})).await?;
        tokio::time::sleep(SHOW).await;
        Ok(())
    }

    /// The house players' bets, each at a random moment of the window's first 80 %.
    async fn house_bets(&mut self, round: &str, stop_at: u64) {
        let now = croupier_gateway::now_ms();
        let span = stop_at.saturating_sub(now) * 4 / 5;
        let mut plan: Vec<(u64, usize, u16, &str)> = Vec::new();
        for i in 0..self.house.len() {
            for _ in 0..self.rng.below(3) {
                let at = now + self.rng.below(span.max(1));
                let selection = [0u16, 0, 1, 1, 2][self.rng.below(5) as usize];
                plan.push((at, i, selection, STAKES[self.rng.below(STAKES.len() as u64) as usize]));
            }
        }
        plan.sort_unstable();
        for (k, (at, i, selection, stake)) in plan.into_iter().enumerate() {
            tokio::time::sleep(Duration::from_millis(at.saturating_sub(croupier_gateway::now_ms()))).await;
            let (user, token) = self.house[i].clone();
            let body = json!({"order_no": format!("{round}-{user}-{k}"), "round_id": round, "selection": selection, "amount": stake});
            match self.op.player(&token, "POST", "/api/bet", Some(&body)).await {
                Ok(a) if a.status == 200 => {}
                // A refused bet (a limit, the window closing under load) is part of the game.
                Ok(a) => eprintln!("demo: house bet refused: {} {}", a.status, a.code()),
                Err(e) => eprintln!("demo: house bet: {e}"),
            }
        }
    }

    /// A baccarat result with the game's odds (banker 45.86 %, player 44.62 %, tie 9.52 %);
    /// on a tie, banker and player bets are given back (push).
    fn draw(&mut self) -> [&'static str; 3] {
        match self.rng.below(10_000) {
            0..=4585 => ["won", "lost", "lost"],
            4586..=9047 => ["lost", "won", "lost"],
            _ => ["push", "push", "won"],
        }
    }
}

/// A decimal amount with two decimals in minor units (the demo's currency); 0 if unreadable.
fn minor(s: &str) -> i64 {
    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
    let frac: String = frac.chars().chain(std::iter::repeat('0')).take(2).collect();
    whole.parse::<i64>().unwrap_or(0).saturating_mul(100).saturating_add(frac.parse::<i64>().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_minor_units() {
        assert_eq!(minor("1000.00"), 100_000);
        assert_eq!(minor("0.5"), 50);
        assert_eq!(minor("12"), 1200);
        assert_eq!(minor("junk"), 0);
    }

    #[test]
    fn draws_follow_the_odds_and_every_result_names_three_outcomes() {
        let mut d = Demo { op: Client::new(([127, 0, 0, 1], 9).into(), b"k"), rng: SplitMix64::new(7), house: vec![] };
        let mut ties = 0;
        for _ in 0..10_000 {
            let r = d.draw();
            assert!(r.iter().all(|o| ["won", "lost", "push"].contains(o)));
            assert_eq!(r.iter().filter(|o| **o == "won").count(), 1, "exactly one side wins: {r:?}");
            ties += usize::from(r[2] == "won");
        }
        assert!((700..1200).contains(&ties), "about 9.5 % ties, got {ties} in 10000");
    }
}
