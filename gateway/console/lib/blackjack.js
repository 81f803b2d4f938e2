// Blackjack, replayed in the browser with WebCrypto (no call to the server): Stake's cards
// over Stake's byte stream, and the engine's rules (engine/domain/src/instant/blackjack.rs),
// ported line for line so that a game replayed here from its revealed seed and its actions
// shows the same cards and pays the same.
//   card i of a bet: floor(f_i × 52), f_i the i-th number of the stream (lib/instant.js), in
//   Stake's deck order: ranks 2..A, each in diamonds, hearts, spades, clubs (an endless shoe);
//   cards 0 and 1 are the dealer's (0 up, 1 the hole card), 2 and 3 the player's, then every
//   card the game needs in the order it needs them, the dealer's draws last.
//   rules: insurance (half the stake, 2:1) answered first when the dealer shows an ace, then
//   the peek; hit, stand, double on two cards, one split of a pair of one rank (split aces one
//   card each); 21 stands by itself; the dealer draws to 16 and stands on every 17; a
//   blackjack pays 3:2 (rounded down to the minor unit), a win 1:1, a push the stake back.
// Money is BigInt minor units, as everywhere in the console.

import { units, scale, formatMultiplier } from './instant.js';
import { seedHash } from './dice.js';
import { toMinor, fromMinor, decimalsOf } from './money.js';

const RANKS = ['2', '3', '4', '5', '6', '7', '8', '9', '10', 'J', 'Q', 'K', 'A'];
const SUITS = ['diamond', 'heart', 'spade', 'club'];
/** Most cards one hand or the dealer may hold (every card is worth at least a point). */
export const MAX_HAND = 21;
/** What the engine's verifier accepts (instant::verify::MAX_ACTIONS). */
const MAX_ACTIONS = 64;

/** "10-club", as the API writes a card. */
export const cardName = (c) => `${RANKS[Math.floor(c / 4)]}-${SUITS[c % 4]}`;
const rank = (c) => Math.floor(c / 4);
const isAce = (c) => rank(c) === 12;
const points = (c) => (rank(c) <= 8 ? rank(c) + 2 : rank(c) <= 11 ? 10 : 11);

/** A hand's points and whether an ace counts 11 in them. */
export function total(cards) {
  const hard = cards.reduce((s, c) => s + (isAce(c) ? 1 : points(c)), 0);
  return cards.some(isAce) && hard + 10 <= 21 ? [hard + 10, true] : [hard, false];
}

export const isBlackjack = (cards) => cards.length === 2 && total(cards)[0] === 21;

/** The first `count` cards of a bet's shoe. */
export async function shoe(serverSeed, clientSeed, nonce, count) {
  return (await units(serverSeed, clientSeed, nonce, count)).map((u) => scale(u, 52));
}

/** The cards a replay of `actions` can reach: the deal, two per action, the dealer's draws. */
export const shoeLength = (actions) => 4 + 2 * actions.length + MAX_HAND;

class Refused extends Error {}

function deal(up, player, stake) {
  const natural = isBlackjack(player);
  return {
    dealer: [up],
    hands: [{ cards: [...player], stake, doubled: false, done: natural }],
    active: natural ? 1 : 0,
    insurance: isAce(up) ? 'offered' : 'not_offered',
    insuranceStake: 0n,
    drawn: 4,
    actions: [],
    over: false,
  };
}

const natural = (t, h) => t.hands.length === 1 && isBlackjack(h.cards);

/** What `action` takes now ({cards, extra}), or a Refused. */
function check(t, action) {
  if (t.over) throw new Refused('the game is over');
  if (action === 'insurance' || action === 'no_insurance') {
    if (t.insurance !== 'offered') throw new Refused('insurance is not offered');
    const half = t.hands[0].stake / 2n;
    if (action === 'insurance' && half <= 0n) throw new Refused('the stake is too small for insurance');
    return { cards: 0, extra: action === 'insurance' ? half : 0n };
  }
  if (t.insurance === 'offered') throw new Refused('insurance must be answered first');
  const h = t.hands[t.active];
  if (!h) throw new Refused('every hand is done');
  if (action === 'hit') return { cards: 1, extra: 0n };
  if (action === 'stand') return { cards: 0, extra: 0n };
  if (action === 'double' && h.cards.length === 2) return { cards: 1, extra: h.stake };
  if (action === 'split' && t.hands.length === 1 && h.cards.length === 2 && rank(h.cards[0]) === rank(h.cards[1])) {
    return { cards: 2, extra: h.stake };
  }
  throw new Refused(`${action} is not allowed here`);
}

function apply(t, action, drawn) {
  const h = t.hands[t.active];
  if (action === 'insurance' || action === 'no_insurance') {
    t.insurance = action === 'insurance' ? 'taken' : 'declined';
    t.insuranceStake = action === 'insurance' ? t.hands[0].stake / 2n : 0n;
  } else if (action === 'hit') {
    h.cards.push(drawn[0]);
    h.done = total(h.cards)[0] >= 21 || h.cards.length >= MAX_HAND;
  } else if (action === 'stand') {
    h.done = true;
  } else if (action === 'double') {
    h.stake *= 2n;
    h.doubled = true;
    h.cards.push(drawn[0]);
    h.done = true;
  } else if (action === 'split') {
    const aces = isAce(h.cards[0]);
    const hand = (first, second) => ({ cards: [first, second], stake: h.stake, doubled: false, done: aces || total([first, second])[0] === 21 });
    t.hands = [hand(h.cards[0], drawn[0]), hand(h.cards[1], drawn[1])];
  }
  t.drawn += drawn.length;
  while (t.active < t.hands.length && t.hands[t.active].done) t.active += 1;
  t.actions.push(action);
}

/** Every dealer card once the game is over (the peek, or every hand done), else null. */
function ending(t, card) {
  if (t.insurance === 'offered') return null;
  const dealer = [t.dealer[0], card(1)];
  const dealerBj = isBlackjack(dealer);
  if (!dealerBj && t.hands.some((h) => !h.done)) return null;
  const live = t.hands.some((h) => total(h.cards)[0] <= 21 && !natural(t, h));
  if (!dealerBj && live) {
    for (let next = t.drawn; total(dealer)[0] < 17 && dealer.length < MAX_HAND; next++) dealer.push(card(next));
  }
  return dealer;
}

function finishIfOver(t, card) {
  const dealer = ending(t, card);
  if (dealer) {
    t.dealer = dealer;
    t.active = t.hands.length;
    t.over = true;
  }
}

/**
 * A game from the first card: the deal, then `actions` in turn, with `cards` the shoe and
 * `stake` the first stake (minor units). Returns {table} or {refused, at}.
 */
export function replay(cards, stake, actions) {
  const card = (i) => {
    if (i >= cards.length) throw new Refused(`card ${i} is past the shoe computed`);
    return cards[i];
  };
  let at = -1;
  try {
    const t = deal(card(0), [card(2), card(3)], stake);
    finishIfOver(t, card);
    for (at = 0; at < actions.length; at++) {
      const need = check(t, actions[at]);
      apply(t, actions[at], Array.from({ length: need.cards }, (_, i) => card(t.drawn + i)));
      finishIfOver(t, card);
    }
    return { table: t };
  } catch (e) {
    if (e instanceof Refused) return { refused: e.message, at };
    throw e;
  }
}

/** Every stake on the table: hands and insurance. */
export const staked = (t) => t.hands.reduce((s, h) => s + h.stake, 0n) + t.insuranceStake;

function returns(t, h) {
  const p = total(h.cards)[0];
  const d = total(t.dealer)[0];
  const dealerBj = isBlackjack(t.dealer);
  if (p > 21) return 0n;
  if (natural(t, h)) return dealerBj ? h.stake : (h.stake * 5n) / 2n;
  if (dealerBj) return 0n;
  if (d > 21 || p > d) return 2n * h.stake;
  return p === d ? h.stake : 0n;
}

/** What a game over pays before the max win: every hand, and insurance 3× on a dealer's blackjack. */
export function result(t) {
  const hands = t.hands.reduce((s, h) => s + returns(t, h), 0n);
  return hands + (isBlackjack(t.dealer) ? 3n * t.insuranceStake : 0n);
}

/** "A-diamond, Q-club (21)". */
export const describe = (cards) => `${cards.map(cardName).join(', ')} (${total(cards)[0]})`;

/**
 * A finished blackjack bet as GET /api/me/instant/bets shows it, its server seed revealed:
 * the seed against the hash shown before the bet, the game replayed from the deal with the
 * actions it lists (every card the same as shown), the stakes it took, what it paid (by the
 * rules, or the stakes back for a game the operator refunded in play) and the multiplier
 * shown. Returns findings {ok, text}.
 */
export async function checkBlackjackBet(b) {
  const hash = await seedHash(b.server_seed);
  const out = [{ ok: hash === b.server_seed_hash, text: `sha256 of the revealed server seed is the hash shown before the bet (${b.server_seed_hash.slice(0, 12)}…)` }];
  const view = b.blackjack;
  if (!view || !Array.isArray(view.actions) || view.actions.length > MAX_ACTIONS || !view.hands.length) {
    return out.concat([{ ok: false, text: 'the bet shows no blackjack table to replay' }]);
  }
  const d = decimalsOf(b.amount);
  // The first stake: every hand starts with it; a double is twice it.
  const first = toMinor(view.hands[0].amount, d) / (view.hands[0].doubled ? 2n : 1n);
  const cards = await shoe(b.server_seed, b.client_seed, b.nonce, shoeLength(view.actions));
  const r = replay(cards, first, view.actions);
  const played = view.actions.join(', ') || 'no action';
  if (r.refused) return out.concat([{ ok: false, text: `nonce ${b.nonce}: ${played}: action ${r.at + 1} refused by the rules (${r.refused})` }]);
  const t = r.table;
  // The operator's refund closes a game in play: its cards stay as dealt, its stakes come back.
  const refunded = b.ended === 'refunded';
  const same = (mine, shown) => mine.length === shown.length && mine.every((c, i) => cardName(c) === shown[i]);
  const hands = t.hands.map((h) => describe(h.cards)).join('; ');
  out.push({
    ok: t.over !== refunded && same(t.dealer, view.dealer) && t.hands.length === view.hands.length && t.hands.every((h, i) => same(h.cards, view.hands[i].cards)),
    text: `nonce ${b.nonce}, ${played}: dealer ${describe(t.dealer)}, hand ${hands} from the seeds (shown: dealer ${view.dealer.join(', ')}; hand ${view.hands.map((h) => h.cards.join(', ')).join('; ')})`,
  });
  const stakes = staked(t);
  out.push({ ok: toMinor(b.amount, d) === stakes, text: `stakes ${fromMinor(stakes, d)} (first stake ${fromMinor(first, d)}${t.insurance === 'taken' ? ', insurance' : ''}; shown ${b.amount})` });
  const want = refunded ? staked(t) : result(t);
  const paid = b.payout === null || b.payout === undefined ? null : toMinor(b.payout, d);
  out.push({
    ok: paid !== null && (want === 0n ? paid === 0n : paid === want || (paid > 0n && paid < want)),
    text: `paid ${b.payout}: ${refunded ? 'the refund is the stakes' : 'the rules pay'} ${fromMinor(want, d)}${paid !== null && paid < want && paid > 0n ? ' (capped by the max win)' : ''}`,
  });
  if (paid !== null && stakes > 0n) {
    const mult = (paid * 10000n) / stakes;
    out.push({ ok: toMinor(b.multiplier, 4) === mult, text: `multiplier: paid over staked, ${formatMultiplier(mult)}x (shown ${b.multiplier}x)` });
  }
  return out;
}
