//! Blackjack (seed 003) on Stake's cards: card `i` of a game is the `i`-th number of the bet's
//! stream as `floor(f × 52)` (`cards.rs`), an endless shoe. Cards 0 and 1 are the dealer's (0
//! face up, 1 the hole card), 2 and 3 the player's, then every card the game needs in the order
//! it needs them: the player's hits, doubles and splits hand by hand, then the dealer's draws.
//!
//! Rules (fixed, not configuration; each a test in `tests` and in the domain's rule table):
//! - the dealer shows an ace: insurance is offered (half the stake, pays 2:1) and must be
//!   answered before anything else; the dealer then peeks. A ten up: the dealer peeks at once.
//!   A dealer's blackjack ends the game there (a player's blackjack pushes, anything else loses);
//! - a player's blackjack (two cards, 21, no split) pays 3:2 and ends the game once insurance,
//!   if offered, is answered;
//! - hit, stand; double on a hand's first two cards (after a split too): one more card, stake
//!   doubled; a hand reaching 21 stands by itself;
//! - split a pair of the same rank (a king with a king, not with a queen), once per game, for
//!   a second stake: the next card goes to the first hand, the one after to the second; split
//!   aces get one card each and stand; 21 after a split is not a blackjack;
//! - the dealer draws to 16 and stands on every 17, soft 17 included, and draws nothing when
//!   every hand is bust or a blackjack;
//! - a win pays 1:1, a push returns the stake, a loss pays nothing.
//!
//! The state here holds only what the player may see: the dealer's hole card and the cards not
//! yet drawn stay in the seeds, drawn again by `decide` when the game needs them, so no record
//! or event shows them before the game is over.

use super::cards::Card;
use super::fair::Stream;
use crate::money::Money;
use serde::{Deserialize, Serialize};

/// Most cards one hand or the dealer may hold: every card is worth at least one point, and a
/// hand stops at 21.
pub const MAX_HAND: usize = 21;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Hit,
    Stand,
    Double,
    Split,
    /// The answer to the insurance offered when the dealer shows an ace.
    Insurance {
        take: bool,
    },
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Hit => "hit",
            Action::Stand => "stand",
            Action::Double => "double",
            Action::Split => "split",
            Action::Insurance { take: true } => "insurance",
            Action::Insurance { take: false } => "no_insurance",
        }
    }

    /// Every action a player may send, each answer to insurance counted as one.
    pub const ALL: [Action; 6] = [
        Action::Hit,
        Action::Stand,
        Action::Double,
        Action::Split,
        Action::Insurance { take: true },
        Action::Insurance { take: false },
    ];

    /// The action named `name` (as [`Action::name`] writes it).
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Insurance {
    NotOffered,
    /// The dealer shows an ace and the player has not answered yet.
    Offered,
    Declined,
    Taken {
        stake: Money,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hand {
    pub cards: Vec<Card>,
    pub stake: Money,
    pub doubled: bool,
    /// No more cards: stood, doubled, bust, 21, split aces or a blackjack.
    pub done: bool,
}

/// A game as the player sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// The up card while the game is played; every dealer card once it is over.
    pub dealer: Vec<Card>,
    /// One hand, two after a split.
    pub hands: Vec<Hand>,
    /// The hand being played (`hands.len()` once every hand is done).
    pub active: u8,
    pub insurance: Insurance,
    /// Cards taken from the shoe so far (the hole card included): the next card's number.
    pub drawn: u8,
    /// Every action in order: action `i` is step `i`, a retried step is recognised by it.
    pub actions: Vec<Action>,
    pub over: bool,
}

/// Why an action is refused in the table's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Insurance was offered: answer it first.
    InsurancePending,
    InsuranceNotOffered,
    /// Insurance is half the stake: a stake of one minor unit cannot buy it.
    InsuranceTooSmall,
    /// Doubling is for a hand's first two cards.
    CannotDouble,
    /// Splitting takes a pair of the same rank, once per game.
    CannotSplit,
    Over,
}

/// The cards of one game, by number.
pub trait Shoe {
    fn card(&mut self, i: u8) -> Card;
}

/// The cards of a bet: its stream read as `floor(f × 52)`.
pub struct StreamShoe<'a> {
    stream: Stream<'a>,
    next: u64,
}

impl<'a> StreamShoe<'a> {
    pub fn new(stream: Stream<'a>) -> StreamShoe<'a> {
        StreamShoe { stream, next: 0 }
    }
}

impl Shoe for StreamShoe<'_> {
    fn card(&mut self, i: u8) -> Card {
        if u64::from(i) != self.next {
            self.stream.seek_unit(u64::from(i));
        }
        self.next = u64::from(i) + 1;
        Card::next(&mut self.stream)
    }
}

/// Scripted cards (tests and what-ifs): card `i` is `self[i]`.
impl Shoe for &[Card] {
    fn card(&mut self, i: u8) -> Card {
        self[i as usize]
    }
}

/// A hand's points and whether an ace counts 11 in them.
pub fn total(cards: &[Card]) -> (u32, bool) {
    let hard: u32 = cards.iter().map(|c| if c.is_ace() { 1 } else { u32::from(c.points()) }).sum();
    if cards.iter().any(|c| c.is_ace()) && hard + 10 <= 21 {
        (hard + 10, true)
    } else {
        (hard, false)
    }
}

pub fn is_blackjack(cards: &[Card]) -> bool {
    cards.len() == 2 && total(cards).0 == 21
}

/// What an action takes: cards from the shoe and more stake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Need {
    pub cards: u8,
    pub extra: Money,
}

/// What an action did, for its event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub drawn: [Option<Card>; 2],
    pub extra: Money,
    /// The game ended: every dealer card.
    pub dealer: Option<Vec<Card>>,
}

impl Table {
    /// The table after the deal: the dealer's up card and the player's two cards.
    pub fn deal(up: Card, player: [Card; 2], stake: Money) -> Table {
        let natural = is_blackjack(&player);
        let hand = Hand { cards: player.to_vec(), stake, doubled: false, done: natural };
        Table {
            dealer: vec![up],
            hands: vec![hand],
            active: u8::from(natural),
            insurance: if up.is_ace() { Insurance::Offered } else { Insurance::NotOffered },
            drawn: 4,
            actions: Vec::new(),
            over: false,
        }
    }

    pub fn up(&self) -> Card {
        self.dealer[0]
    }

    /// Every stake on the table: hands and insurance.
    pub fn staked(&self) -> Money {
        let hands: i64 = self.hands.iter().map(|h| h.stake.0).sum();
        Money(hands + self.insurance_stake().0)
    }

    fn insurance_stake(&self) -> Money {
        match self.insurance {
            Insurance::Taken { stake } => stake,
            _ => Money::ZERO,
        }
    }

    fn natural(&self, h: &Hand) -> bool {
        self.hands.len() == 1 && is_blackjack(&h.cards)
    }

    /// Whether `action` may be played now, and what it takes.
    pub fn check(&self, action: Action) -> Result<Need, Refusal> {
        if self.over {
            return Err(Refusal::Over);
        }
        let none = Need { cards: 0, extra: Money::ZERO };
        if let Action::Insurance { take } = action {
            if self.insurance != Insurance::Offered {
                return Err(Refusal::InsuranceNotOffered);
            }
            let half = Money(self.hands[0].stake.0 / 2);
            if take && !half.is_positive() {
                return Err(Refusal::InsuranceTooSmall);
            }
            return Ok(Need { extra: if take { half } else { Money::ZERO }, ..none });
        }
        if self.insurance == Insurance::Offered {
            return Err(Refusal::InsurancePending);
        }
        let h = self.hands.get(self.active as usize).ok_or(Refusal::Over)?;
        match action {
            Action::Hit => Ok(Need { cards: 1, ..none }),
            Action::Stand => Ok(none),
            Action::Double if h.cards.len() == 2 => Ok(Need { cards: 1, extra: h.stake }),
            Action::Double => Err(Refusal::CannotDouble),
            Action::Split if self.hands.len() == 1 && h.cards.len() == 2 && h.cards[0].rank() == h.cards[1].rank() => {
                Ok(Need { cards: 2, extra: h.stake })
            }
            Action::Split => Err(Refusal::CannotSplit),
            Action::Insurance { .. } => unreachable!("answered above"),
        }
    }

    /// Plays `action` with the cards it drew (`check` allowed it and said how many). The one
    /// place the table changes, for `decide` and `evolve` alike.
    pub fn apply(&mut self, action: Action, drawn: &[Card]) {
        let a = self.active as usize;
        match action {
            Action::Insurance { take } => {
                let half = Money(self.hands[0].stake.0 / 2);
                self.insurance = if take { Insurance::Taken { stake: half } } else { Insurance::Declined };
            }
            Action::Hit => {
                let h = &mut self.hands[a];
                h.cards.push(drawn[0]);
                h.done = total(&h.cards).0 >= 21 || h.cards.len() >= MAX_HAND;
            }
            Action::Stand => self.hands[a].done = true,
            Action::Double => {
                let h = &mut self.hands[a];
                h.stake = Money(h.stake.0 * 2);
                h.doubled = true;
                h.cards.push(drawn[0]);
                h.done = true;
            }
            Action::Split => {
                let h = self.hands[a].clone();
                let aces = h.cards[0].is_ace();
                let hand = |first: Card, second: Card| {
                    let cards = vec![first, second];
                    let done = aces || total(&cards).0 == 21;
                    Hand { cards, stake: h.stake, doubled: false, done }
                };
                self.hands = vec![hand(h.cards[0], drawn[0]), hand(h.cards[1], drawn[1])];
            }
        }
        self.drawn += drawn.len() as u8;
        while (self.active as usize) < self.hands.len() && self.hands[self.active as usize].done {
            self.active += 1;
        }
        self.actions.push(action);
    }

    /// Whether the game is over now, and then every dealer card: the hole card shown and the
    /// dealer's draws made. Over once insurance is answered (or never offered) and either the
    /// dealer has a blackjack (the peek) or every hand is done.
    pub fn ending(&self, shoe: &mut impl Shoe) -> Option<Vec<Card>> {
        if self.insurance == Insurance::Offered {
            return None;
        }
        let mut dealer = vec![self.up(), shoe.card(1)];
        let dealer_bj = is_blackjack(&dealer);
        if !dealer_bj && self.hands.iter().any(|h| !h.done) {
            return None;
        }
        let live = self.hands.iter().any(|h| total(&h.cards).0 <= 21 && !self.natural(h));
        if !dealer_bj && live {
            let mut next = self.drawn;
            while total(&dealer).0 < 17 && dealer.len() < MAX_HAND {
                dealer.push(shoe.card(next));
                next += 1;
            }
        }
        Some(dealer)
    }

    /// The dealer's cards shown: the game is over.
    pub fn finish(&mut self, dealer: Vec<Card>) {
        self.dealer = dealer;
        self.active = self.hands.len() as u8;
        self.over = true;
    }

    /// Checks and plays `action` on a copy, drawing what it needs from `shoe`.
    pub fn play(&self, action: Action, shoe: &mut impl Shoe) -> Result<(Table, Step), Refusal> {
        let need = self.check(action)?;
        let mut cards = [Card(0); 2];
        for (i, c) in cards.iter_mut().enumerate().take(need.cards as usize) {
            *c = shoe.card(self.drawn + i as u8);
        }
        let drawn = &cards[..need.cards as usize];
        let mut t = self.clone();
        t.apply(action, drawn);
        let dealer = t.ending(shoe);
        let mut shown = [None; 2];
        for (slot, c) in shown.iter_mut().zip(drawn) {
            *slot = Some(*c);
        }
        Ok((t, Step { drawn: shown, extra: need.extra, dealer }))
    }

    /// What a hand returns against the dealer's final cards.
    fn returns(&self, h: &Hand) -> i128 {
        let stake = i128::from(h.stake.0);
        let (p, _) = total(&h.cards);
        let (d, _) = total(&self.dealer);
        let dealer_bj = is_blackjack(&self.dealer);
        if p > 21 {
            0
        } else if self.natural(h) {
            if dealer_bj {
                stake
            } else {
                stake * 5 / 2
            }
        } else if dealer_bj {
            0
        } else if d > 21 || p > d {
            2 * stake
        } else if p == d {
            stake
        } else {
            0
        }
    }

    /// What the game pays once over (before the max win): every hand, and insurance 2:1 with
    /// its stake back when the dealer has a blackjack.
    pub fn result(&self) -> Money {
        debug_assert!(self.over);
        let hands: i128 = self.hands.iter().map(|h| self.returns(h)).sum();
        let insurance = if is_blackjack(&self.dealer) { 3 * i128::from(self.insurance_stake().0) } else { 0 };
        Money((hands + insurance) as i64)
    }

    /// The most the game can still return with the stakes on the table (before the max
    /// win): a blackjack 2.5×, another live hand 2×, insurance 3×. Only a double or split
    /// adds stakes, and its event raises this again.
    pub fn max_return(&self) -> Money {
        let hands: i128 = self
            .hands
            .iter()
            .map(|h| {
                let stake = i128::from(h.stake.0);
                if self.natural(h) {
                    stake * 5 / 2
                } else if total(&h.cards).0 > 21 {
                    0
                } else {
                    2 * stake
                }
            })
            .sum();
        Money((hands + 3 * i128::from(self.insurance_stake().0)) as i64)
    }
}

/// A whole game from the first card: the deal, then `actions` in turn. For the verifier and
/// tests; `decide` plays one action per command with the same functions.
pub fn replay(shoe: &mut impl Shoe, stake: Money, actions: &[Action]) -> Result<Table, (usize, Refusal)> {
    let mut t = Table::deal(shoe.card(0), [shoe.card(2), shoe.card(3)], stake);
    if let Some(dealer) = t.ending(shoe) {
        t.finish(dealer);
    }
    for (i, &a) in actions.iter().enumerate() {
        let (mut next, step) = t.play(a, shoe).map_err(|r| (i, r))?;
        if let Some(dealer) = step.dealer {
            next.finish(dealer);
        }
        t = next;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A card of rank `r` ("2".."10", "J", "Q", "K", "A"), diamonds.
    fn c(r: &str) -> Card {
        let rank = ["2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K", "A"].iter().position(|x| *x == r);
        Card(rank.expect("a rank") as u8 * 4)
    }

    /// A shoe: dealer up, hole, player, player, then the rest in order.
    fn shoe(cards: &[&str]) -> Vec<Card> {
        cards.iter().map(|r| c(r)).collect()
    }

    fn play(cards: &[&str], actions: &[Action]) -> Result<Table, (usize, Refusal)> {
        let s = shoe(cards);
        replay(&mut s.as_slice(), Money(100), actions)
    }

    use Action::{Double, Hit, Split, Stand};

    #[test]
    fn totals_count_an_ace_as_eleven_when_it_fits() {
        assert_eq!(total(&shoe(&["A", "6"])), (17, true));
        assert_eq!(total(&shoe(&["A", "6", "10"])), (17, false));
        assert_eq!(total(&shoe(&["A", "A", "9"])), (21, true));
        assert_eq!(total(&shoe(&["K", "Q", "2"])), (22, false));
        assert!(is_blackjack(&shoe(&["A", "K"])) && !is_blackjack(&shoe(&["7", "7", "7"])));
    }

    #[test]
    fn a_win_a_push_and_a_loss() {
        // Dealer 10+7 stands on 17; player 10+9 = 19 wins 1:1.
        let t = play(&["10", "7", "10", "9"], &[Stand]).unwrap();
        assert_eq!((t.over, t.result()), (true, Money(200)));
        // Player 10+7 = 17: a push returns the stake.
        assert_eq!(play(&["10", "7", "10", "7"], &[Stand]).unwrap().result(), Money(100));
        // Player 10+6 stands on 16 and loses.
        assert_eq!(play(&["10", "7", "10", "6"], &[Stand]).unwrap().result(), Money(0));
    }

    #[test]
    fn the_dealer_stands_on_soft_17_and_draws_to_16() {
        // Dealer A+6 (soft 17) stands: no insurance offered? An ace up offers it: decline.
        let t = play(&["A", "6", "10", "8", "5"], &[Action::Insurance { take: false }, Stand]).unwrap();
        assert_eq!(t.dealer, shoe(&["A", "6"]), "soft 17 stands");
        assert_eq!(t.result(), Money(200));
        // Dealer 10+6 draws: the next card after the player's.
        let t = play(&["10", "6", "10", "8", "5", "2"], &[Stand]).unwrap();
        assert_eq!(t.dealer, shoe(&["10", "6", "5"]));
        assert_eq!(t.result(), Money(0), "dealer 21 beats 18");
        let t = play(&["10", "6", "10", "8", "Q"], &[Stand]).unwrap();
        assert_eq!(t.result(), Money(200), "dealer bust");
    }

    #[test]
    fn blackjack_pays_three_to_two_at_once() {
        let t = play(&["10", "7", "A", "K"], &[]).unwrap();
        assert!(t.over);
        assert_eq!(t.dealer, shoe(&["10", "7"]), "the dealer draws nothing against a blackjack");
        assert_eq!(t.result(), Money(250));
        assert_eq!(play(&["10", "7", "A", "K"], &[Stand]).unwrap_err(), (0, Refusal::Over));
    }

    #[test]
    fn a_dealer_blackjack_ends_the_game_at_the_peek() {
        // Ten up, ace in the hole: over at the deal, the player loses; a player's blackjack pushes.
        let t = play(&["K", "A", "10", "9"], &[]).unwrap();
        assert_eq!((t.over, t.result()), (true, Money(0)));
        assert_eq!(play(&["K", "A", "A", "Q"], &[]).unwrap().result(), Money(100));
        // Ten up without a blackjack: the game goes on.
        assert!(!play(&["K", "9", "10", "9"], &[]).unwrap().over);
    }

    #[test]
    fn insurance_is_offered_on_an_ace_and_pays_two_to_one() {
        let t = play(&["A", "K", "10", "9"], &[]).unwrap();
        assert_eq!((t.over, t.insurance), (false, Insurance::Offered));
        assert_eq!(t.check(Hit), Err(Refusal::InsurancePending));
        // Taken: 50 more staked; the dealer has a blackjack: insurance returns 150, the hand 0.
        let t = play(&["A", "K", "10", "9"], &[Action::Insurance { take: true }]).unwrap();
        assert_eq!((t.over, t.staked(), t.result()), (true, Money(150), Money(150)));
        // Taken, no dealer blackjack: the insurance is lost, the game goes on.
        let t = play(&["A", "7", "10", "9"], &[Action::Insurance { take: true }]).unwrap();
        assert!(!t.over);
        let t = play(&["A", "7", "10", "9"], &[Action::Insurance { take: true }, Stand]).unwrap();
        assert_eq!((t.staked(), t.result()), (Money(150), Money(200)), "19 beats soft 18; insurance lost");
        // Not offered without an ace.
        assert_eq!(
            play(&["10", "7", "10", "9"], &[Action::Insurance { take: false }]).unwrap_err().1,
            Refusal::InsuranceNotOffered
        );
        // A player's blackjack against an ace: answered, then paid 3:2 (or pushed by the dealer's).
        let t = play(&["A", "7", "A", "K"], &[Action::Insurance { take: false }]).unwrap();
        assert_eq!((t.over, t.result()), (true, Money(250)));
        let t = play(&["A", "Q", "A", "K"], &[Action::Insurance { take: true }]).unwrap();
        assert_eq!((t.over, t.result()), (true, Money(100 + 150)));
    }

    #[test]
    fn double_takes_one_card_for_a_second_stake() {
        let t = play(&["10", "7", "5", "6", "10"], &[Double]).unwrap();
        assert_eq!((t.over, t.staked(), t.result()), (true, Money(200), Money(400)));
        assert_eq!(t.hands[0].cards.len(), 3);
        // Only on the first two cards.
        assert_eq!(play(&["10", "7", "2", "3", "4"], &[Hit, Double]).unwrap_err(), (1, Refusal::CannotDouble));
    }

    #[test]
    fn split_plays_two_hands_and_split_aces_get_one_card() {
        // 8,8 split: hand one gets 3 (11), hand two gets 10 (18); double the first: 10 → 21.
        let t = play(&["10", "7", "8", "8", "3", "10", "10"], &[Split, Double, Stand]).unwrap();
        assert_eq!(t.hands.len(), 2);
        assert_eq!(t.hands[0].cards, shoe(&["8", "3", "10"]));
        assert_eq!(t.hands[1].cards, shoe(&["8", "10"]));
        assert_eq!((t.staked(), t.result()), (Money(300), Money(400 + 200)));
        // Aces: one card each, both stand at once, and A+K is 21, not a blackjack (1:1).
        let t = play(&["10", "7", "A", "A", "K", "5"], &[Split]).unwrap();
        assert!(t.over);
        assert_eq!((t.staked(), t.result()), (Money(200), Money(200)), "21 wins 1:1, 16 loses");
        // One split per game, and only a pair of one rank.
        assert_eq!(play(&["10", "7", "8", "8", "8", "2"], &[Split, Split]).unwrap_err(), (1, Refusal::CannotSplit));
        assert_eq!(play(&["10", "7", "K", "Q"], &[Split]).unwrap_err(), (0, Refusal::CannotSplit));
    }

    #[test]
    fn hands_bust_and_stand_at_21_by_themselves() {
        let t = play(&["10", "7", "10", "5", "K"], &[Hit]).unwrap();
        assert!(t.over);
        assert_eq!(t.dealer, shoe(&["10", "7"]), "the dealer draws nothing when every hand is bust");
        assert_eq!(t.result(), Money(0));
        let t = play(&["10", "7", "10", "5", "6"], &[Hit]).unwrap();
        assert_eq!((t.over, t.result()), (true, Money(200)), "21 stands by itself");
    }

    #[test]
    fn the_dealer_never_holds_more_than_a_hand_can() {
        // Every dealer hand the rule can draw, from every up and hole card: it ends below the bound.
        fn walk(cards: &mut Vec<u8>, longest: &mut usize) {
            let as_cards: Vec<Card> = cards.iter().map(|r| Card(r * 4)).collect();
            if total(&as_cards).0 >= 17 {
                *longest = (*longest).max(cards.len());
                return;
            }
            for r in 0..13 {
                cards.push(r);
                walk(cards, longest);
                cards.pop();
            }
        }
        let mut longest = 0;
        walk(&mut Vec::new(), &mut longest);
        assert!(longest < MAX_HAND, "{longest}");
    }

    #[test]
    fn max_return_covers_every_result() {
        for cards in [
            &["A", "K", "A", "Q"][..],
            &["10", "7", "A", "K"],
            &["A", "7", "10", "9", "5"],
            &["10", "7", "8", "8", "3", "10", "10"],
        ] {
            let s = shoe(cards);
            let mut t = Table::deal(s[0], [s[2], s[3]], Money(100));
            let mut shoe = s.as_slice();
            if let Some(d) = t.ending(&mut shoe) {
                let cap = t.max_return();
                t.finish(d);
                assert!(t.result() <= cap, "{cards:?}");
            }
        }
    }
}
