//! `croupier fair verify`: the outcome and payout of any instant-game bet (croupier's or
//! Stake's) from its seeds, printed as JSON. The work is the domain's
//! (`croupier_domain::instant::verify`), shared with the HTTP endpoint.
//!
//! `croupier fair crash`: crash points of published crash games (bustabit v2, the domain's
//! `crash::fair`) and the check that each game's hash chains to the game before it, down to
//! the channel's terminating hash when given.

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use croupier_domain::instant::blackjack::Action;
use croupier_domain::instant::dice::DiceCall;
use croupier_domain::instant::keno::{KenoRisk, Picks};
use croupier_domain::instant::plinko::PlinkoRisk;
use croupier_domain::instant::verify::{verify, BetParams};
use croupier_domain::Money;

#[derive(Debug, Subcommand)]
pub enum FairCommand {
    /// Print the outcome and payout of a bet: `--game G --server-seed S --client-seed C
    /// --nonce N` and the game's parameters (dice: --target and --over/--under; keno: --picks
    /// and --risk; mines: --mines and --gems; plinko: --rows and --risk; blackjack: --actions
    /// to replay a game, or --cards to print the shoe).
    Verify(VerifyArgs),
    /// Print the crash points of crash games and check their hash chain: `--hash H` (the
    /// newest game's hash; repeat it to check published hashes, newest first, each the
    /// sha256 of the one before in the list), `--salt S`, `--games N` games in all (walked
    /// down from the oldest given), `--terminating T` to check the chain reaches the
    /// channel's published terminating hash. Exits 1 when a check fails.
    Crash(CrashArgs),
}

#[derive(Debug, Args)]
pub struct CrashArgs {
    /// A game hash (64 hex digits); repeat, newest first.
    #[arg(long = "hash", required = true)]
    hashes: Vec<String>,
    /// The channel's salt (the HMAC key's text).
    #[arg(long)]
    salt: String,
    /// How many games to print in all (at least the hashes given).
    #[arg(long, default_value_t = 1)]
    games: u64,
    /// The channel's terminating hash (game 0): checked to be reached from the oldest game.
    #[arg(long)]
    terminating: Option<String>,
}

/// At most this many games printed, and hashed down to a terminating hash: a chain's length.
const MAX_WALK: u64 = croupier_domain::crash::fair::Chain::MAX_LENGTH;

fn run_crash(a: &CrashArgs) -> anyhow::Result<()> {
    use croupier_domain::crash::fair::{crash_point, format_multiplier, from_hex, previous, to_hex};
    let mut given = Vec::with_capacity(a.hashes.len());
    for h in &a.hashes {
        given.push(from_hex(h).ok_or_else(|| anyhow!("--hash {h:?}: 64 hex digits"))?);
    }
    if a.games > MAX_WALK {
        bail!("--games: at most {MAX_WALK}");
    }
    let terminating = match &a.terminating {
        Some(t) => Some(from_hex(t).ok_or_else(|| anyhow!("--terminating {t:?}: 64 hex digits"))?),
        None => None,
    };
    // Newest first: each next game is the previous one's sha256 (given, checked, or computed).
    let mut games = Vec::new();
    let mut ok = true;
    let total = a.games.max(given.len() as u64);
    let mut hash = given[0];
    for i in 0..total {
        let before = previous(&hash);
        let next_given = given.get(i as usize + 1);
        let links = next_given.is_none_or(|n| *n == before);
        ok &= links;
        games.push(serde_json::json!({
            "hash": to_hex(&hash),
            "crash_point": format_multiplier(crash_point(&hash, a.salt.as_bytes())),
            "hundredths": crash_point(&hash, a.salt.as_bytes()),
            "chains_to_next": links,
        }));
        hash = *next_given.unwrap_or(&before);
    }
    let mut out = serde_json::json!({ "salt": a.salt, "games": games, "chain_ok": ok });
    if let Some(t) = terminating {
        // From the oldest game printed down to game 0.
        let oldest = from_hex(games.last().and_then(|g| g["hash"].as_str()).unwrap_or_default()).unwrap_or(given[0]);
        let mut h = oldest;
        let mut game = None;
        for k in 0..=MAX_WALK {
            if h == t {
                game = Some(k);
                break;
            }
            h = previous(&h);
        }
        ok &= game.is_some();
        out["terminating"] = serde_json::json!({ "hash": to_hex(&t), "reached": game.is_some(), "oldest_game": game });
        out["chain_ok"] = ok.into();
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    if !ok {
        bail!("the hashes do not form one chain");
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Game {
    Dice,
    Keno,
    Mines,
    Plinko,
    Blackjack,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[arg(long, value_enum)]
    game: Game,
    /// The revealed server seed, as shown (its text is the HMAC key).
    #[arg(long)]
    server_seed: String,
    #[arg(long)]
    client_seed: String,
    #[arg(long)]
    nonce: u64,
    /// Dice: the target, 0.00 to 100.00.
    #[arg(long)]
    target: Option<String>,
    /// Dice: the bet wins above the target (the default).
    #[arg(long, conflicts_with = "under")]
    over: bool,
    /// Dice: the bet wins below the target.
    #[arg(long)]
    under: bool,
    /// Dice and mines: the house edge in percent.
    #[arg(long, default_value = "1")]
    edge: String,
    /// Keno: the numbers picked, 1 to 40, comma separated.
    #[arg(long, value_delimiter = ',')]
    picks: Vec<u8>,
    /// Keno (classic, low, medium, high) and plinko (low, medium, high).
    #[arg(long)]
    risk: Option<String>,
    /// Mines: how many mines (1 to 24).
    #[arg(long, default_value_t = 3)]
    mines: u8,
    /// Mines: how many gems were revealed before cashing out.
    #[arg(long, default_value_t = 0)]
    gems: u8,
    /// Plinko: rows, 8 to 16.
    #[arg(long, default_value_t = 16)]
    rows: u8,
    /// Blackjack: print this many cards of the shoe instead of replaying a game.
    #[arg(long)]
    cards: Option<u8>,
    /// Blackjack: the player's actions in order, comma separated (hit, stand, double, split,
    /// insurance, no_insurance); the game is replayed from the deal, dealer included.
    #[arg(long, value_delimiter = ',')]
    actions: Vec<String>,
    /// The stake, in the currency's minor units, for the payout.
    #[arg(long)]
    stake: Option<i64>,
}

pub fn run(cmd: &FairCommand) -> anyhow::Result<()> {
    let a = match cmd {
        FairCommand::Verify(a) => a,
        FairCommand::Crash(a) => return run_crash(a),
    };
    let params = match a.game {
        Game::Dice => {
            let call = match &a.target {
                Some(t) => Some(DiceCall { target: hundredths(t).context("--target")?, over: !a.under }),
                None => None,
            };
            BetParams::Dice { call, edge_bp: hundredths(&a.edge).context("--edge")? }
        }
        Game::Keno => {
            let risk = a.risk.as_deref().unwrap_or("classic");
            let risk = KenoRisk::from_name(risk).ok_or_else(|| anyhow!("--risk: classic, low, medium or high"))?;
            let picks = if a.picks.is_empty() {
                None
            } else {
                let tiles: Vec<u8> = a.picks.iter().map(|p| p.wrapping_sub(1)).collect();
                Some(Picks::new(&tiles).ok_or_else(|| anyhow!("--picks: 1 to 10 distinct numbers from 1 to 40"))?)
            };
            BetParams::Keno { risk, picks }
        }
        Game::Mines => {
            BetParams::Mines { mines: a.mines, gems: a.gems, edge_bp: hundredths(&a.edge).context("--edge")? }
        }
        Game::Plinko => {
            let risk = a.risk.as_deref().unwrap_or("low");
            let risk = PlinkoRisk::from_name(risk).ok_or_else(|| anyhow!("--risk: low, medium or high"))?;
            BetParams::Plinko { rows: a.rows, risk }
        }
        Game::Blackjack => match a.cards {
            Some(cards) => BetParams::Cards { cards },
            None => {
                let mut actions = Vec::with_capacity(a.actions.len());
                for name in &a.actions {
                    actions.push(Action::from_name(name).ok_or_else(|| {
                        anyhow!("--actions: {name:?} is not hit, stand, double, split, insurance or no_insurance")
                    })?);
                }
                BetParams::Blackjack { actions }
            }
        },
    };
    if a.stake.is_some_and(|s| s <= 0) {
        bail!("--stake must be positive");
    }
    let v = verify(&a.server_seed, &a.client_seed, a.nonce, params, a.stake.map(Money))?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// A decimal with at most two places, in hundredths (`50.5` → 5050).
fn hundredths(s: &str) -> anyhow::Result<u16> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || frac.len() > 2 || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        bail!("{s:?} is not a decimal with at most two places");
    }
    let frac: u32 = format!("{frac:0<2}").parse()?;
    let value = whole.parse::<u32>()? * 100 + frac;
    u16::try_from(value).map_err(|_| anyhow!("{s} is too large"))
}

#[cfg(test)]
mod tests {
    use super::hundredths;

    #[test]
    fn decimals_read_as_hundredths() {
        assert_eq!(hundredths("50").unwrap(), 5_000);
        assert_eq!(hundredths("50.5").unwrap(), 5_050);
        assert_eq!(hundredths("0.01").unwrap(), 1);
        assert!(hundredths("1.005").is_err());
        assert!(hundredths("-1").is_err());
        assert!(hundredths("").is_err());
    }
}
