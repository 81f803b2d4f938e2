//! Verifying any bet, croupier's or Stake's: the outcome and payout from the seeds alone.
//! Shared by `croupier fair verify` and the HTTP endpoint, so they cannot disagree.

use super::blackjack::{self, Action, Insurance, StreamShoe, Table};
use super::cards::Card;
use super::dice::{self, DiceCall};
use super::fair::Stream;
use super::keno::{self, KenoRisk, KenoTable, Picks};
use super::mines;
use super::payout::{payout, Multiplier};
use super::plinko::{self, PlinkoRisk, PlinkoTable};
use crate::money::Money;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// What a bet asked, per game.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BetParams {
    /// Without a call, only the roll.
    Dice {
        call: Option<DiceCall>,
        edge_bp: u16,
    },
    /// Without picks, only the draw.
    Keno {
        risk: KenoRisk,
        picks: Option<Picks>,
    },
    /// `gems`: how many safe tiles were revealed before cashing out (the multiplier then).
    Mines {
        mines: u8,
        gems: u8,
        edge_bp: u16,
    },
    Plinko {
        rows: u8,
        risk: PlinkoRisk,
    },
    /// The first `cards` cards of the shoe.
    Cards {
        cards: u8,
    },
    /// A blackjack game replayed from the deal with the player's actions in order.
    Blackjack {
        actions: Vec<Action>,
    },
}

/// Most actions a verified blackjack game may list (a game takes fewer).
pub const MAX_ACTIONS: usize = 64;

/// The outcome of one bet, as printed and answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub game: &'static str,
    /// sha256 of the server seed text: compare with the hash shown before the bet.
    pub server_seed_hash: String,
    pub client_seed: String,
    pub nonce: u64,
    /// The outcome in the game's words (a roll, tiles, a path, cards).
    pub outcome: String,
    /// The multiplier the bet earns (absent when the parameters do not decide one).
    pub multiplier: Option<String>,
    /// `floor(stake × multiplier)` in the stake's minor units, when a stake was given.
    pub payout: Option<i64>,
    #[serde(skip)]
    pub multiplier_value: Option<Multiplier>,
}

/// Why parameters were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Params(&'static str),
}

pub fn verify(
    server_seed_text: &str,
    client_seed: &str,
    nonce: u64,
    params: BetParams,
    stake: Option<Money>,
) -> Result<Verification, VerifyError> {
    let mut s = Stream::new(server_seed_text.as_bytes(), client_seed.as_bytes(), nonce);
    let mut paid = None;
    let (game, outcome, multiplier) = match params {
        BetParams::Dice { call, edge_bp } => {
            if edge_bp >= 10_000 {
                return Err(VerifyError::Params("the edge is below 100 %"));
            }
            let roll = dice::roll(&mut s);
            let m = match call {
                Some(c) => {
                    let chance = c.chance().ok_or(VerifyError::Params("chance must be 0.01 % to 98 %"))?;
                    Some(if c.wins(roll) { dice::multiplier(chance, edge_bp) } else { Multiplier::ZERO })
                }
                None => None,
            };
            ("dice", format!("{}.{:02}", roll / 100, roll % 100), m)
        }
        BetParams::Keno { risk, picks } => {
            let drawn = keno::draw(&mut s);
            let shown: Vec<String> = drawn.iter().map(|t| (t + 1).to_string()).collect();
            let m = match picks {
                Some(p) if p.is_valid() => Some(KenoTable::stake(risk).multiplier(p.count(), p.hits(&drawn))),
                Some(_) => return Err(VerifyError::Params("pick 1 to 10 numbers from 1 to 40")),
                None => None,
            };
            ("keno", format!("drawn {}", shown.join(", ")), m)
        }
        BetParams::Mines { mines: count, gems, edge_bp } => {
            if !(mines::MIN_MINES..=mines::MAX_MINES).contains(&count) || gems > mines::TILES - count {
                return Err(VerifyError::Params("1 to 24 mines, at most 25 − mines gems"));
            }
            if edge_bp >= 10_000 {
                return Err(VerifyError::Params("the edge is below 100 %"));
            }
            let set = mines::place(&mut s, count);
            let tiles: Vec<String> = (0..mines::TILES).filter(|t| set & 1 << t != 0).map(|t| t.to_string()).collect();
            let m = (gems > 0).then(|| mines::multiplier(count, gems, edge_bp));
            ("mines", format!("mines at tiles {} (0 ..= 24, row by row)", tiles.join(", ")), m)
        }
        BetParams::Plinko { rows, risk } => {
            if !(plinko::MIN_ROWS..=plinko::MAX_ROWS).contains(&rows) {
                return Err(VerifyError::Params("8 to 16 rows"));
            }
            let path = plinko::drop_ball(&mut s, rows);
            let m = PlinkoTable::stake(rows, risk).slots[path.slot() as usize];
            ("plinko", format!("path {} slot {}", path.directions(), path.slot()), Some(m))
        }
        BetParams::Cards { cards } => {
            if !(1..=52).contains(&cards) {
                return Err(VerifyError::Params("1 to 52 cards"));
            }
            let shown: Vec<String> = (0..cards).map(|_| Card::next(&mut s).to_string()).collect();
            ("blackjack", format!("cards {}", shown.join(", ")), None)
        }
        BetParams::Blackjack { actions } => {
            if actions.len() > MAX_ACTIONS {
                return Err(VerifyError::Params("at most 64 actions"));
            }
            // The multiplier from a stake of 10,000 units (its scale): exact, a 3:2 included;
            // the payout from the stake itself, rounded per hand as the engine does.
            let unit = Multiplier::SCALE as i64;
            let table = play_blackjack(s, unit, &actions)?;
            if let Some(st) = stake {
                let own = Stream::new(server_seed_text.as_bytes(), client_seed.as_bytes(), nonce);
                let t = play_blackjack(own, st.0, &actions)?;
                paid = t.over.then(|| t.result());
            }
            let m = table.over.then(|| Multiplier(table.result().0 as u64));
            ("blackjack", describe(&table), m)
        }
    };
    let hash: [u8; 32] = Sha256::digest(server_seed_text.as_bytes()).into();
    Ok(Verification {
        game,
        server_seed_hash: hash.iter().map(|b| format!("{b:02x}")).collect(),
        client_seed: client_seed.to_owned(),
        nonce,
        outcome,
        multiplier: multiplier.map(|m| m.to_string()),
        payout: paid.map(|p| p.0).or_else(|| stake.zip(multiplier).map(|(st, m)| payout(st, m, Money(i64::MAX)).0)),
        multiplier_value: multiplier,
    })
}

fn play_blackjack(s: Stream<'_>, stake: i64, actions: &[Action]) -> Result<Table, VerifyError> {
    let mut shoe = StreamShoe::new(s);
    blackjack::replay(&mut shoe, Money(stake), actions).map_err(|(_, why)| {
        VerifyError::Params(match why {
            blackjack::Refusal::InsurancePending => "an action before the insurance was answered",
            blackjack::Refusal::InsuranceNotOffered => "insurance was not offered then",
            blackjack::Refusal::InsuranceTooSmall => "insurance costs half the stake: at least one unit",
            blackjack::Refusal::CannotDouble => "a double after a hand's first two cards",
            blackjack::Refusal::CannotSplit => "a split without a pair, or a second split",
            blackjack::Refusal::Over => "an action after the game was over",
        })
    })
}

fn cards_text(cards: &[Card]) -> String {
    let names: Vec<String> = cards.iter().map(|c| c.to_string()).collect();
    format!("{} ({})", names.join(", "), blackjack::total(cards).0)
}

/// The game in words: the dealer's cards, each hand (doubled or not), insurance, and whether
/// it is over.
fn describe(t: &Table) -> String {
    let mut text = format!("dealer {}", cards_text(&t.dealer));
    for h in &t.hands {
        text += &format!("; hand {}{}", cards_text(&h.cards), if h.doubled { " doubled" } else { "" });
    }
    match t.insurance {
        Insurance::Taken { .. } => text += "; insurance taken",
        Insurance::Declined => text += "; insurance declined",
        Insurance::Offered => text += "; insurance offered",
        Insurance::NotOffered => {}
    }
    if !t.over {
        text += "; not over (the dealer's hole card stays hidden)";
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: &str = "735249f062ac025044a8523aa92e034803f02d6b75129abc97e8b1be19aab9b4";

    #[test]
    fn a_verified_dice_bet_shows_roll_multiplier_and_payout() {
        let call = DiceCall { target: 5_000, over: true };
        let params = BetParams::Dice { call: Some(call), edge_bp: 100 };
        let v = verify(SERVER, "ec75fca98de6f2d9", 20, params, Some(Money(1_000))).unwrap();
        assert_eq!(v.outcome, "93.08");
        assert_eq!(v.multiplier.as_deref(), Some("1.98"));
        assert_eq!(v.payout, Some(1_980));
        let under = BetParams::Dice { call: Some(DiceCall { target: 5_000, over: false }), edge_bp: 100 };
        assert_eq!(verify(SERVER, "ec75fca98de6f2d9", 20, under, Some(Money(1_000))).unwrap().payout, Some(0));
    }

    #[test]
    fn keno_mines_plinko_and_cards_verify() {
        let picks = Picks::new(&[0, 1, 4, 39]).unwrap(); // 1, 2, 5 and 40: three hits
        let k = verify(
            SERVER,
            "ec75fca98de6f2d9",
            20,
            BetParams::Keno { risk: KenoRisk::Classic, picks: Some(picks) },
            None,
        );
        let k = k.unwrap();
        assert_eq!(k.outcome, "drawn 38, 33, 8, 23, 21, 30, 5, 2, 7, 1");
        assert_eq!(k.multiplier.as_deref(), Some("5"));
        let m = verify(SERVER, "ec75fca98de6f2d9", 21, BetParams::Mines { mines: 3, gems: 2, edge_bp: 100 }, None);
        assert_eq!(m.unwrap().outcome, "mines at tiles 0, 18, 20 (0 ..= 24, row by row)");
        let p = verify(SERVER, "ec75fca98de6f2d9", 21, BetParams::Plinko { rows: 8, risk: PlinkoRisk::High }, None);
        assert_eq!(p.unwrap().multiplier.as_deref(), Some("1.5"));
        let c = verify(SERVER, "ec75fca98de6f2d9", 20, BetParams::Cards { cards: 2 }, None).unwrap();
        assert_eq!(c.outcome, "cards A-diamond, Q-club");
    }

    #[test]
    fn a_blackjack_game_replays_from_its_actions() {
        // Nonce 20's shoe (verifier_vectors): dealer A-diamond up, Q-club in the hole; the
        // player 4-heart, 9-spade. An ace up: insurance first; the dealer has a blackjack.
        let no = BetParams::Blackjack { actions: vec![Action::Insurance { take: false }] };
        let v = verify(SERVER, "ec75fca98de6f2d9", 20, no, Some(Money(1_000))).unwrap();
        assert_eq!(v.outcome, "dealer A-diamond, Q-club (21); hand 4-heart, 9-spade (13); insurance declined");
        assert_eq!((v.multiplier.as_deref(), v.payout), (Some("0"), Some(0)));
        let yes = BetParams::Blackjack { actions: vec![Action::Insurance { take: true }] };
        let v = verify(SERVER, "ec75fca98de6f2d9", 20, yes, Some(Money(1_001))).unwrap();
        assert_eq!((v.multiplier.as_deref(), v.payout), (Some("1.5"), Some(1_500)), "insurance 500 pays 2:1");
        // Before the answer the game is not over and the hole card is not shown.
        let v = verify(SERVER, "ec75fca98de6f2d9", 20, BetParams::Blackjack { actions: vec![] }, None).unwrap();
        assert!(v.outcome.starts_with("dealer A-diamond (11); hand 4-heart, 9-spade (13)"), "{}", v.outcome);
        assert_eq!(v.multiplier, None);
        // A hit before the answer is refused.
        let hit = BetParams::Blackjack { actions: vec![Action::Hit] };
        assert!(verify(SERVER, "ec75fca98de6f2d9", 20, hit, None).is_err());
    }

    #[test]
    fn bad_parameters_are_refused() {
        let dice = BetParams::Dice { call: Some(DiceCall { target: 100, over: true }), edge_bp: 100 };
        assert!(verify(SERVER, "c", 1, dice, None).is_err());
        assert!(verify(SERVER, "c", 1, BetParams::Mines { mines: 25, gems: 0, edge_bp: 100 }, None).is_err());
        assert!(verify(SERVER, "c", 1, BetParams::Plinko { rows: 17, risk: PlinkoRisk::Low }, None).is_err());
        assert!(verify(SERVER, "c", 1, BetParams::Cards { cards: 53 }, None).is_err());
    }
}
