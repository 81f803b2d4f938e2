// Blackjack (seed 003, Stake's cards): deal, then hit, stand, double, split, and insurance
// when the dealer shows an ace; the dealer stands on soft 17, a blackjack pays 3:2. The engine
// decides every card from the bet's seeds; this view only draws what the bet's view shows (the
// dealer's hole card stays hidden until the game is over) and offers what it `allowed`. Each
// action carries the view's `step`, so a retried click plays nothing twice. A page reloaded in
// the middle of a game resumes it (the history's `open_blackjack`). Once the seeds are
// rotated, every game is replayed in the Verify view.
//
// Keyboard: every action is a button (Tab, Enter); and H hit, S stand, D double, P split,
// I take the insurance, N decline it, anywhere in the view but a text field.

import { h, fill, randomId, toast } from '../lib/dom.js';
import { toMinor, fromMinor, decimalsOf } from '../lib/money.js';

const ACTIONS = [
  // [action, button label, key, path, body]
  ['insurance', 'Insurance', 'i', 'insurance', { take: true }],
  ['no_insurance', 'No insurance', 'n', 'insurance', { take: false }],
  ['hit', 'Hit', 'h', 'hit', {}],
  ['stand', 'Stand', 's', 'stand', {}],
  ['double', 'Double', 'd', 'double', {}],
  ['split', 'Split', 'p', 'split', {}],
];
const SUITS = { diamond: ['♦', 'diamonds', true], heart: ['♥', 'hearts', true], spade: ['♠', 'spades', false], club: ['♣', 'clubs', false] };
const RANK_WORDS = { J: 'jack', Q: 'queen', K: 'king', A: 'ace' };

export default {
  id: 'blackjack',
  title: 'Blackjack',
  order: 22,
  needsSession: true,
  mount(root, ctx) {
    const v = new BlackjackView(root, ctx);
    v.start();
    return () => v.stop();
  },
};

/** A card as the API writes it ("10-club") drawn face up. */
function cardEl(name) {
  const [rank, suit] = name.split('-');
  const [symbol, words, red] = SUITS[suit] || ['?', suit, false];
  return h('span', { class: `pcard${red ? ' red' : ''}`, dataset: { card: name }, role: 'img', 'aria-label': `${RANK_WORDS[rank] || rank} of ${words}` },
    h('span', { 'aria-hidden': 'true' }, rank), h('span', { 'aria-hidden': 'true' }, symbol));
}

const holeCard = () => h('span', { class: 'pcard back', role: 'img', 'aria-label': 'the hole card, face down' });

/** "soft 17", "bust 24", "blackjack", "20". */
function handWords(hand, natural) {
  if (natural) return 'blackjack';
  if (hand.total > 21) return `bust ${hand.total}`;
  return hand.soft ? `soft ${hand.total}` : String(hand.total);
}

class BlackjackView {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.stopped = false;
    this.game = null; // the bet view of the game shown
    this.busy = false;
    this.onKey = (ev) => this.key(ev);
  }

  start() {
    const e = (this.el = {
      stake: h('input', { id: 'bj-stake', inputmode: 'decimal', value: '1.00', size: 8 }),
      deal: h('button', { id: 'bj-deal', class: 'primary', onclick: () => this.deal() }, 'Deal'),
      result: h('div', { id: 'bj-result', class: 'big-ish', 'aria-live': 'polite' }, 'Choose a stake and deal.'),
      dealer: h('div', { id: 'bj-dealer', class: 'bj-row', 'aria-label': 'The dealer\'s cards' }),
      dealerTotal: h('span', { id: 'bj-dealer-total', class: 'muted' }),
      hands: h('div', { id: 'bj-hands', class: 'bj-hands' }),
      offer: h('p', { id: 'bj-offer', class: 'muted', hidden: true }),
      actions: h('div', { id: 'bj-actions', class: 'row', role: 'group', 'aria-label': 'Actions' }),
      games: h('tbody', { id: 'bj-games' }),
    });
    this.buttons = new Map(ACTIONS.map(([name, label, key, path, body]) => [name, h('button', {
      id: `bj-${name.replace('_', '-')}`, disabled: true, 'aria-keyshortcuts': key.toUpperCase(),
      onclick: () => this.act(name, path, body),
    }, label, h('kbd', { 'aria-hidden': 'true' }, key.toUpperCase()))]));
    e.actions.append(...this.buttons.values());
    fill(this.root,
      h('h1', {}, 'Blackjack'),
      h('div', { class: 'grid two controls-first' },
        h('section', { class: 'card stack', 'aria-label': 'Table' },
          e.result,
          h('div', {}, h('h2', {}, 'Dealer ', e.dealerTotal), e.dealer),
          h('div', {}, h('h2', {}, 'You'), e.hands),
          e.offer, e.actions),
        h('section', { class: 'card stack', 'aria-label': 'Bet' },
          h('div', { class: 'row' }, h('label', {}, `Stake (${this.ctx.currency.code})`, e.stake), e.deal),
          h('p', { class: 'muted' }, 'The dealer stands on soft 17; a blackjack pays 3:2, insurance 2:1 (half the stake, offered when the dealer shows an ace). Double on two cards; split a pair once. Keys: H hit, S stand, D double, P split, I insurance, N no insurance.'),
          h('p', { class: 'muted' }, 'Every card comes from your seeds: rotate them in Verify to replay each game in this browser.'))),
      h('section', { class: 'card', 'aria-label': 'Your blackjack games' },
        h('h2', {}, 'Your blackjack games'),
        h('div', { class: 'scroll' }, h('table', {},
          h('thead', {}, h('tr', {}, h('th', {}, 'Nonce'), h('th', {}, 'Dealer'), h('th', {}, 'You'), h('th', { class: 'num' }, 'Staked'), h('th', { class: 'num' }, 'Payout'))),
          e.games))));
    document.addEventListener('keydown', this.onKey);
    this.render();
    this.load();
  }

  stop() {
    this.stopped = true;
    document.removeEventListener('keydown', this.onKey);
  }

  open() { return Boolean(this.game && this.game.state === 'open'); }
  allowed(name) { return this.open() && this.game.blackjack.allowed.includes(name); }

  /** The history, and the game in play if there is one (a reload resumes it). */
  async load() {
    try {
      const a = await this.ctx.api.get('/api/me/instant/bets?limit=100');
      if (this.stopped) return;
      if (a.open_blackjack && (!this.game || this.game.id === a.open_blackjack.id)) {
        if (!this.game) toast('Your blackjack game in play is resumed.');
        this.game = a.open_blackjack;
        const first = this.game.blackjack.hands[0];
        const d = decimalsOf(first.amount);
        this.el.stake.value = fromMinor(toMinor(first.amount, d) / (first.doubled ? 2n : 1n), d);
      } else if (this.open()) {
        // The game shown ended elsewhere (another tab, or the operator's refund).
        this.game = a.bets.find((b) => b.id === this.game.id) || null;
      }
      this.render();
      this.renderGames(a.bets.filter((b) => b.game === 'blackjack').slice(0, 15));
      if (this.open()) this.focusAction();
    } catch (err) {
      this.ctx.fail(err);
    }
  }

  async deal() {
    if (this.busy || this.open()) return;
    this.busy = true;
    this.render();
    try {
      await this.ctx.api.get('/api/me/instant/seeds'); // a first seed pair, committed before the bet
      this.game = await this.ctx.api.post('/api/instant/bets', { id: randomId('bj'), game: 'blackjack', amount: this.el.stake.value.trim() });
      this.ctx.refreshBalance();
    } catch (err) {
      this.ctx.fail(err);
      if (err.code === 'GAME_IN_PROGRESS') this.load();
    } finally {
      this.busy = false;
      this.render();
    }
    if (this.open()) this.focusAction();
    else if (this.game) this.finished();
  }

  async act(name, path, body) {
    if (this.busy || !this.allowed(name)) return;
    this.busy = true;
    this.render();
    try {
      const step = this.game.blackjack.step;
      this.game = await this.ctx.api.post(`/api/instant/bets/${encodeURIComponent(this.game.id)}/${path}`, { ...body, step });
      this.ctx.refreshBalance();
    } catch (err) {
      this.ctx.fail(err);
      this.load();
    } finally {
      this.busy = false;
      this.render();
    }
    if (this.open()) this.focusAction();
    else this.finished();
  }

  finished() {
    this.ctx.refreshBalance();
    this.load();
    this.el.deal.focus();
  }

  /** The keyboard's place after a step: the first action allowed. */
  focusAction() {
    const first = [...this.buttons.values()].find((b) => !b.disabled);
    if (first) first.focus();
  }

  key(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || /^(INPUT|SELECT|TEXTAREA)$/.test(ev.target.tagName || '')) return;
    const a = ACTIONS.find(([, , key]) => key === ev.key.toLowerCase());
    if (!a || !this.allowed(a[0])) return;
    ev.preventDefault();
    this.act(a[0], a[3], a[4]);
  }

  render() {
    const e = this.el;
    const g = this.game;
    const open = this.open();
    for (const [name, b] of this.buttons) b.disabled = this.busy || !this.allowed(name);
    e.deal.disabled = open || this.busy;
    e.stake.disabled = open;
    if (!g) return fill(e.hands, h('p', { class: 'muted' }, 'No game yet.'));
    const t = g.blackjack;
    fill(e.dealer, t.dealer.map(cardEl), open ? holeCard() : null);
    fill(e.dealerTotal, open ? `shows ${t.dealer_total}` : handWords({ total: t.dealer_total, soft: false }, t.dealer.length === 2 && t.dealer_total === 21));
    const natural = t.hands.length === 1 && t.hands[0].cards.length === 2 && t.hands[0].total === 21;
    fill(e.hands, t.hands.map((hand, i) => h('div', {
      class: `bj-hand${open && t.active === i ? ' active' : ''}`, dataset: { hand: i, total: hand.total },
      'aria-current': open && t.active === i ? 'true' : false,
    },
      h('div', { class: 'bj-row' }, hand.cards.map(cardEl)),
      h('p', { class: 'muted' }, `${handWords(hand, natural)} · ${hand.amount}${hand.doubled ? ' · doubled' : ''}${t.hands.length > 1 && open && t.active === i ? ' · playing' : ''}`))));
    const offered = t.insurance === 'offered' && open;
    e.offer.hidden = !offered;
    if (offered) fill(e.offer, `The dealer shows an ace: insurance costs ${this.half(g.amount)} and pays 2:1 if the dealer has a blackjack.`);
    e.result.dataset.bet = g.id;
    e.result.dataset.state = g.state;
    e.result.dataset.step = String(t.step);
    if (open) {
      e.result.className = 'big-ish';
      fill(e.result, t.insurance === 'offered' ? 'Insurance?' : `Your move · ${g.amount} staked`);
    } else {
      const word = this.verdict(g);
      e.result.dataset.verdict = word;
      e.result.className = `big-ish ${word === 'lost' ? 'lost' : word === 'push' ? 'push' : 'won'}`;
      fill(e.result, `${word} · paid ${g.payout} of ${g.amount} staked`);
    }
  }

  /** Half a stake (insurance), rounded down to the minor unit as the engine does. */
  half(amount) {
    const d = decimalsOf(amount);
    return fromMinor(toMinor(amount, d) / 2n, d);
  }

  /** won, push or lost, by what came back against what was staked. */
  verdict(g) {
    if (g.ended === 'refunded') return 'refunded';
    const d = decimalsOf(g.amount);
    const [paid, staked] = [toMinor(g.payout, d), toMinor(g.amount, d)];
    return paid > staked ? 'won' : paid === staked ? 'push' : 'lost';
  }

  renderGames(list) {
    const cards = (c) => c.join(' ');
    fill(this.el.games, list.length ? list.map((b) => h('tr', { dataset: { bet: b.id, state: b.state } },
      h('td', {}, String(b.nonce)),
      h('td', {}, `${cards(b.blackjack.dealer)} (${b.blackjack.dealer_total})`),
      h('td', {}, b.blackjack.hands.map((x) => `${cards(x.cards)} (${x.total})`).join(' · ')),
      h('td', { class: 'num' }, b.amount),
      h('td', { class: `num ${b.state === 'open' ? '' : this.verdict(b)}` }, b.state === 'open' ? 'in play' : b.payout)))
      : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No games yet.')));
  }
}
