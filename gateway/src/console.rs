//! The web console at `/`: static files from `gateway/console/`, embedded at compile time (see
//! `build.rs`; no bundler, nothing to build before `cargo run`), the games' public
//! description (`/console/info`), and, on a demo server only, the demo players with fresh
//! sessions and the demo table's rounds (`/console/demo`).
//!
//! The console is a client of the public API like any other: it holds no privilege. It
//! never sees the operator key; outside a demo the player pastes a session token, and a demo
//! server (`croupier serve --demo`, loopback by default) hands out tokens for its demo
//! players only.

use crate::error::ApiError;
use crate::{amount, now_ms, AppState};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::sync::RwLock;

include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));

/// What the console may load and talk to: its own files, its own API and push.
const CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; \
                   script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// A demo player the console may play as.
#[derive(Clone, Debug, Serialize)]
pub struct DemoPlayer {
    pub user_id: u64,
    pub name: String,
}

/// The demo table: the round open (or last played) and the one that comes next, so a page
/// can subscribe to the next round's topic before it opens.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DemoTable {
    pub game: String,
    pub round_id: Option<String>,
    pub next_round_id: String,
    pub window_ms: u64,
}

#[derive(Clone, Debug)]
struct Demo {
    players: Vec<DemoPlayer>,
    table: DemoTable,
}

/// The console's state: the demo, if this server runs one.
#[derive(Default)]
pub struct Console {
    demo: RwLock<Option<Demo>>,
}

impl Console {
    /// Makes this a demo server: `/console/demo` answers with these players and the table.
    pub fn set_demo(&self, players: Vec<DemoPlayer>, table: DemoTable) {
        *self.demo.write().unwrap_or_else(|e| e.into_inner()) = Some(Demo { players, table });
    }

    /// The demo table's rounds moved on (a demo server only).
    pub fn set_demo_table(&self, table: DemoTable) {
        if let Some(d) = self.demo.write().unwrap_or_else(|e| e.into_inner()).as_mut() {
            d.table = table;
        }
    }

    fn demo(&self) -> Option<Demo> {
        self.demo.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The bytes and media type of a console file, if there is one by that name. Names are
/// looked up in the embedded list, never joined to a folder: `..` finds nothing.
pub fn asset(name: &str) -> Option<(&'static [u8], &'static str)> {
    let (_, bytes) = ASSETS.iter().find(|(n, _)| *n == name)?;
    Some((bytes, media_type(name)))
}

fn media_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map_or("", |(_, ext)| ext) {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

/// The game views, as the console's shell imports them: every file of `views/`. A new game
/// view is one file there.
pub fn views() -> Vec<&'static str> {
    ASSETS.iter().map(|(n, _)| *n).filter(|n| n.starts_with("views/") && n.ends_with(".js")).collect()
}

fn served(body: impl IntoResponse, media: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    // Revalidated on every load: a new binary's console is seen at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    resp
}

fn not_found() -> ApiError {
    ApiError::not_found("NOT_FOUND", "no such console file")
}

/// `GET /`: the console.
pub async fn index() -> Result<Response, ApiError> {
    asset("index.html").map(|(b, m)| served(b, m)).ok_or_else(not_found)
}

/// `GET /console/{*path}`: a console file.
pub async fn file(Path(path): Path<String>) -> Result<Response, ApiError> {
    if path == "views.json" {
        return Ok(served(serde_json::to_vec(&views()).unwrap_or_default(), "application/json"));
    }
    asset(&path).map(|(b, m)| served(b, m)).ok_or_else(not_found)
}

/// Odds as players read them: "2.00", "1.95", "1.9525".
fn odds_text(odds: croupier_domain::Odds) -> String {
    let mut d = odds.to_decimal();
    if d.scale() < 2 {
        d.rescale(2);
    }
    d.to_string()
}

#[derive(Serialize)]
pub struct SelectionInfo {
    pub name: String,
    pub market: String,
    pub odds: String,
}

#[derive(Serialize)]
pub struct LimitInfo {
    pub currency: String,
    pub min_stake: String,
    pub max_stake: String,
}

#[derive(Serialize)]
pub struct GameInfo {
    pub game: String,
    pub betting_window_ms: u64,
    pub selections: Vec<SelectionInfo>,
    pub limits: Vec<LimitInfo>,
}

#[derive(Serialize)]
pub struct CurrencyInfo {
    pub code: String,
    pub decimals: u8,
}

#[derive(Serialize)]
pub struct Info {
    pub currencies: Vec<CurrencyInfo>,
    pub games: Vec<GameInfo>,
    pub shards: usize,
    pub demo: bool,
}

/// `GET /console/info`: what every player may know: currencies, the games' selections, odds
/// and stake limits, the shard count, and whether this is a demo server.
pub async fn info(State(app): State<AppState>) -> Json<Info> {
    let exponent = |c: &str| app.cfg.exponent(c).unwrap_or(0);
    let games = app
        .cfg
        .games
        .iter()
        .map(|g| GameInfo {
            game: g.game.as_str().into(),
            betting_window_ms: g.betting_window_ms,
            selections: g
                .selections
                .iter()
                .map(|s| SelectionInfo {
                    name: s.name.as_str().into(),
                    market: s.market.as_str().into(),
                    odds: odds_text(s.odds),
                })
                .collect(),
            limits: g
                .limits
                .iter()
                .map(|l| LimitInfo {
                    currency: l.currency.as_str().into(),
                    min_stake: amount::format(l.min_stake, exponent(l.currency.as_str())),
                    max_stake: amount::format(l.max_stake, exponent(l.currency.as_str())),
                })
                .collect(),
        })
        .collect();
    let currencies = app.cfg.currencies.iter().map(|(c, d)| CurrencyInfo { code: c.clone(), decimals: *d }).collect();
    let demo = app.console.demo().is_some();
    Json(Info { currencies, games, shards: app.engine.shards(), demo })
}

#[derive(Serialize)]
pub struct DemoSession {
    pub user_id: u64,
    pub name: String,
    pub token: String,
    pub expires_at: u64,
}

#[derive(Serialize)]
pub struct DemoAnswer {
    pub players: Vec<DemoSession>,
    pub table: DemoTable,
}

/// `GET /console/demo`: on a demo server, a fresh session for each demo player and the demo
/// table's rounds; elsewhere 404 `NOT_A_DEMO` (a real server never hands out sessions).
pub async fn demo(State(app): State<AppState>) -> Result<Json<DemoAnswer>, ApiError> {
    let demo = app
        .console
        .demo()
        .ok_or_else(|| ApiError::not_found("NOT_A_DEMO", "this server runs no demo; paste a session token"))?;
    let players = demo
        .players
        .into_iter()
        .map(|p| {
            // Never before the player's last revocation, as POST /api/sessions.
            let issued = now_ms().max(app.revocations.not_before(p.user_id));
            let expires_at = issued.saturating_add(app.cfg.token_ttl_ms);
            let token = app.auth.issue(croupier_domain::UserId(p.user_id), issued, expires_at);
            DemoSession { user_id: p.user_id, name: p.name, token, expires_at }
        })
        .collect();
    Ok(Json(DemoAnswer { players, table: demo.table }))
}

/// `GET /console/demo/table`: the demo table's rounds alone (no sessions), which a page
/// reads whenever a round ends.
pub async fn demo_table(State(app): State<AppState>) -> Result<Json<DemoTable>, ApiError> {
    let demo = app.console.demo().ok_or_else(|| ApiError::not_found("NOT_A_DEMO", "this server runs no demo"))?;
    Ok(Json(demo.table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_embedded_with_its_media_type() {
        let (html, media) = asset("index.html").expect("the shell");
        assert_eq!(media, "text/html; charset=utf-8");
        assert!(std::str::from_utf8(html).unwrap().contains("<script type=\"module\""));
        for (name, _) in ASSETS {
            assert_ne!(media_type(name), "application/octet-stream", "{name} has no media type");
        }
        assert!(asset("../Cargo.toml").is_none() && asset("/etc/passwd").is_none() && asset("").is_none());
    }

    #[test]
    fn the_views_are_the_files_of_views() {
        let v = views();
        assert!(v.contains(&"views/baccarat.js"), "{v:?}");
        assert!(v.iter().all(|n| n.starts_with("views/") && n.ends_with(".js")));
    }

    #[test]
    fn every_import_of_a_console_script_names_an_embedded_file() {
        // A typo in an import path would only show in a browser: check them here.
        for (name, bytes) in ASSETS.iter().filter(|(n, _)| n.ends_with(".js")) {
            let text = std::str::from_utf8(bytes).unwrap();
            let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let Some(spec) = line.split(['"', '\'']).nth(1) else { continue };
                let target = resolve(dir, spec);
                assert!(asset(&target).is_some(), "{name} imports {spec} ({target}), which is not embedded");
            }
        }
    }

    /// The lucky packets of `lib/vectors.json`, which the browser's self-test reproduces with
    /// the console's port of the share rule, split here by the engine's own `share_amount`:
    /// so the port is checked against the engine, not against itself.
    #[test]
    fn the_browser_vectors_are_the_engines_lucky_splits() {
        let (bytes, _) = asset("lib/vectors.json").expect("the vectors");
        let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        let lucky = v["lucky"].as_array().expect("lucky packets");
        assert!(lucky.len() >= 3);
        for p in lucky {
            let seed: u64 = p["seed"].as_str().unwrap().parse().unwrap();
            let shares = p["shares"].as_u64().unwrap() as u32;
            let total = crate::amount::parse(p["total"].as_str().unwrap(), 2).unwrap();
            let split = engine_split(seed, total.0, shares);
            let want: Vec<String> = split.iter().map(|m| crate::amount::format(*m, 2)).collect();
            assert_eq!(
                p["grabs"],
                serde_json::json!(want),
                "seed {seed}: the engine splits {} into {shares} as {want:?}",
                p["total"]
            );
        }
    }

    /// The crash games of `lib/vectors.json` (bustabit's own results, which the browser's
    /// self-test recomputes with WebCrypto) are the engine's crash points, and the chain's
    /// lines each hash to the next (the self-test builds a published history from them).
    #[test]
    fn the_browser_crash_vectors_are_the_engines_crash_points() {
        use croupier_domain::crash::fair::{chains_to, crash_point, from_hex};
        let (bytes, _) = asset("lib/vectors.json").expect("the vectors");
        let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        let c = &v["crash"];
        let games = |salt: &str, list: &serde_json::Value| {
            let list = list.as_array().expect("games");
            assert!(list.len() >= 3);
            for g in list {
                let hash = from_hex(g[0].as_str().unwrap()).expect("a hash");
                assert_eq!(crash_point(&hash, salt.as_bytes()), g[1].as_u64().unwrap(), "{g}");
            }
        };
        let salt = c["salt"].as_str().unwrap();
        games(salt, &c["chain"]);
        games(salt, &c["extremes"]);
        games(c["other_salt"]["salt"].as_str().unwrap(), &c["other_salt"]["games"]);
        let chain: Vec<_> =
            c["chain"].as_array().unwrap().iter().map(|g| from_hex(g[0].as_str().unwrap()).unwrap()).collect();
        for w in chain.windows(2) {
            assert!(chains_to(&w[0], &w[1]), "each line is the game before the one above");
        }
    }

    /// The dice rolls of `lib/vectors.json` (Stake's verifier's, which the browser's self-test
    /// recomputes with WebCrypto) are the engine's.
    #[test]
    fn the_browser_dice_vectors_are_the_engines_rolls() {
        use croupier_domain::instant::{dice, fair::Stream};
        let (bytes, _) = asset("lib/vectors.json").expect("the vectors");
        let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        let cases = v["dice"].as_array().expect("dice");
        assert!(cases.len() >= 3);
        for c in cases {
            let client = c["client"].as_str().unwrap().as_bytes();
            let mut s = Stream::new(c["server"].as_str().unwrap().as_bytes(), client, c["nonce"].as_u64().unwrap());
            assert_eq!(u64::from(dice::roll(&mut s)), c["roll"].as_u64().unwrap(), "{c}");
        }
    }

    /// The keno draws, mines boards and plinko paths of `lib/vectors.json` (Stake's
    /// verifiers', which the browser's self-test recomputes with WebCrypto) are the engine's.
    #[test]
    fn the_browser_stake_vectors_are_the_engines_outcomes() {
        use croupier_domain::instant::{fair::Stream, plinko};
        let (bytes, _) = asset("lib/vectors.json").expect("the vectors");
        let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        let cases = v["stake"].as_array().expect("stake cases");
        assert!(cases.len() >= 3);
        let numbers =
            |x: &serde_json::Value| x.as_array().unwrap().iter().map(|n| n.as_u64().unwrap() as u8).collect::<Vec<_>>();
        for c in cases {
            let (server, client) = (c["server"].as_str().unwrap().as_bytes(), c["client"].as_str().unwrap().as_bytes());
            let stream = || Stream::new(server, client, c["nonce"].as_u64().unwrap());
            let mut keno = [0u8; 10];
            stream().pick_distinct(40, &mut keno);
            assert_eq!(keno.to_vec(), numbers(&c["keno"]), "{c}");
            let mut mines = [0u8; 24];
            stream().pick_distinct(25, &mut mines);
            assert_eq!(mines.to_vec(), numbers(&c["mines"]), "{c}");
            for p in c["plinko"].as_array().unwrap() {
                let rows = p[0].as_u64().unwrap() as u8;
                let risk = plinko::PlinkoRisk::from_name(p[1].as_str().unwrap()).unwrap();
                let path = plinko::drop_ball(&mut stream(), rows);
                assert_eq!(path.directions(), p[2].as_str().unwrap(), "{c}");
                let m = plinko::PlinkoTable::stake(rows, risk).slots[path.slot() as usize];
                assert_eq!(m.0, p[3].as_u64().unwrap() * 100, "{p}");
            }
        }
    }

    /// The cards of `lib/vectors.json`'s Stake cases (the domain's verifier vectors) and its
    /// blackjack games (replayed by the browser's port of the rules from those seeds) are the
    /// engine's: its shoe, and its `blackjack::replay` to the same cards, stakes and result.
    #[test]
    fn the_browser_blackjack_vectors_are_the_engines_games() {
        use croupier_domain::instant::blackjack::{replay, Action, StreamShoe};
        use croupier_domain::instant::{cards::Card, fair::Stream};
        let (bytes, _) = asset("lib/vectors.json").expect("the vectors");
        let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        let text = |x: &serde_json::Value| x.as_str().unwrap().to_owned();
        fn stream(c: &serde_json::Value) -> Stream<'_> {
            let text = |k: &str| c[k].as_str().unwrap().as_bytes();
            Stream::new(text("server"), text("client"), c["nonce"].as_u64().unwrap())
        }
        for c in v["stake"].as_array().unwrap() {
            let mut s = stream(c);
            let cards: Vec<String> = (0..8).map(|_| Card::next(&mut s).to_string()).collect();
            let shown: Vec<String> = c["cards"].as_array().expect("the case's cards").iter().map(text).collect();
            assert_eq!(cards, shown, "{c}");
        }
        let games = v["blackjack"].as_array().expect("blackjack games");
        assert!(games.len() >= 6);
        let names = |cards: &[Card]| cards.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        let mut seen_actions = std::collections::BTreeSet::new();
        for g in games {
            let actions: Vec<Action> = g["actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| Action::from_name(a.as_str().unwrap()).unwrap())
                .collect();
            seen_actions.extend(actions.iter().map(|a| a.name()));
            let stake = crate::amount::parse(g["stake"].as_str().unwrap(), 2).unwrap();
            let t = replay(&mut StreamShoe::new(stream(g)), stake, &actions).expect("a game the rules allow");
            assert!(t.over, "{g}");
            assert_eq!(names(&t.dealer), g["dealer"].as_array().unwrap().iter().map(text).collect::<Vec<_>>(), "{g}");
            let hands: Vec<Vec<String>> = t.hands.iter().map(|h| names(&h.cards)).collect();
            let shown: Vec<Vec<String>> = g["hands"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_array().unwrap().iter().map(text).collect())
                .collect();
            assert_eq!(hands, shown, "{g}");
            assert_eq!(crate::amount::format(t.staked(), 2), text(&g["staked"]), "{g}");
            assert_eq!(crate::amount::format(t.result(), 2), text(&g["payout"]), "{g}");
        }
        assert_eq!(seen_actions.len(), 6, "every action is replayed: {seen_actions:?}");
    }

    /// `lib/tables.json`, the tables the browser checks keno, plinko and mines multipliers
    /// against, are the engine's defaults (Stake's).
    #[test]
    fn the_browser_tables_are_the_engines() {
        use croupier_domain::instant::{keno::KenoRisk, plinko::PlinkoRisk, InstantConfig};
        let (bytes, _) = asset("lib/tables.json").expect("the tables");
        let t: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        let c = InstantConfig::stake_defaults();
        assert_eq!(t["mines_edge_bp"].as_u64(), Some(u64::from(c.mines_edge_bp)));
        let hundredths = |ms: &[croupier_domain::instant::Multiplier]| {
            ms.iter().map(|m| serde_json::json!(m.0 / 100)).collect::<Vec<_>>()
        };
        for risk in KenoRisk::ALL {
            let table = c.keno_table(risk);
            let rows: Vec<_> = table.payouts.iter().map(|row| serde_json::Value::Array(hundredths(row))).collect();
            assert_eq!(t["keno"][risk.name()], serde_json::Value::Array(rows), "keno {}", risk.name());
        }
        let mut count = 0;
        for rows in 8..=16u8 {
            for risk in PlinkoRisk::ALL {
                let slots = &c.plinko_table(rows, risk).slots;
                assert!(slots.iter().all(|m| m.0 % 100 == 0), "hundredths are exact");
                assert_eq!(t["plinko"][risk.name()][rows.to_string()], serde_json::Value::Array(hundredths(slots)));
                count += 1;
            }
        }
        assert_eq!(count, 27);
    }

    /// Every share of a lucky packet, in grab order, by `croupier_domain::share_amount`.
    fn engine_split(seed: u64, total: i64, shares: u32) -> Vec<croupier_domain::Money> {
        let mut p: croupier_domain::state::RedPacket = serde_json::from_value(serde_json::json!({
            "id": "v", "sender": 0, "total": total, "shares": shares, "kind": {"Lucky": {"seed": seed}},
            "sent_at": 0, "expires_at": 1, "remaining": total, "status": "Open", "grabs": [], "recipients": []
        }))
        .expect("a packet");
        for i in 0..shares {
            let m = croupier_domain::share_amount(&p);
            p.remaining.0 -= m.0;
            p.grabs.push((croupier_domain::UserId(u64::from(i) + 1), m));
        }
        assert_eq!(p.remaining.0, 0);
        p.grabs.iter().map(|g| g.1).collect()
    }

    /// A relative import specifier resolved against a folder under `console/`.
    fn resolve(dir: &str, spec: &str) -> String {
        let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        for seg in spec.split('/') {
            match seg {
                "." | "" => {}
                ".." => {
                    parts.pop();
                }
                s => parts.push(s),
            }
        }
        parts.join("/")
    }
}
