// Baccarat (seed 000): the round's countdown, the three sides with their odds, a bet, the
// draw and the settlement, all from the push (round:<id> for the table, balance for the
// player's own bets, bets for everyone's, without names).
//
// On a demo server the table's rounds come from /console/demo/table; elsewhere the round id
// is in the address (#/baccarat/<round id>) or typed in.

import { h, fill, randomId, time } from '../lib/dom.js';
import { call } from '../lib/api.js';
import { toMinor } from '../lib/money.js';

const CHIPS = ['10.00', '50.00', '100.00', '500.00'];
const FEED_LENGTH = 15;
const HEADLINE = { won: 'wins', lost: 'loses', push: 'push', void: 'void' };

export default {
  id: 'baccarat',
  title: 'Baccarat',
  order: 10,
  needsSession: true,
  mount(root, ctx) {
    const game = ctx.info.games.find((g) => g.game === 'baccarat') || ctx.info.games[0];
    if (!game) return void fill(root, h('p', {}, 'This server defines no game.'));
    const v = new BaccaratView(root, ctx, game);
    v.start();
    return () => v.stop();
  },
};

class BaccaratView {
  constructor(root, ctx, game) {
    this.root = root;
    this.ctx = ctx;
    this.game = game;
    this.round = null; // {round_id, status, bet_stop_time, result}
    this.watching = null;
    this.next = null;
    this.mine = new Map(); // bet_id → {order_no, selection, amount, outcome, payout}
    this.offs = [];
    this.rounds = new Map(); // round id → the function that stops watching it
    this.ticker = null;
  }

  start() {
    const c = this.ctx;
    const limit = this.game.limits.find((l) => l.currency === c.currency.code) || this.game.limits[0];
    this.el = {
      id: h('span', { id: 'round-id' }, '–'),
      status: h('div', { id: 'round-status', class: 'status', 'aria-live': 'polite' }, 'waiting for a round'),
      countdown: h('div', { id: 'countdown', class: 'countdown', 'aria-live': 'off' }, '–'),
      result: h('div', { id: 'round-result', 'aria-live': 'polite' }),
      stake: h('input', { id: 'stake', inputmode: 'decimal', value: CHIPS[0], size: 8, 'aria-describedby': 'stake-limits' }),
      bet: h('button', { id: 'place-bet', class: 'primary', disabled: true, onclick: () => this.placeBet() }, 'Place bet'),
      mine: h('ul', { id: 'my-bets', class: 'feed' }),
      feed: h('ul', { id: 'bet-feed', class: 'feed' }),
      sides: this.game.selections.map((s, i) => h('label', { class: s.name },
        h('input', { type: 'radio', name: 'side', value: i, checked: i === 0 }),
        h('b', {}, s.name), h('span', {}, `pays ${s.odds}`))),
    };
    const e = this.el;
    const chips = CHIPS.map((c) => h('button', { type: 'button', onclick: () => { e.stake.value = c; } }, c));
    const roundPicker = this.ctx.isDemo ? null : h('form', { class: 'row', onsubmit: (ev) => {
      ev.preventDefault();
      const id = ev.target.elements.round.value.trim();
      if (id) this.ctx.navigate(`#/baccarat/${encodeURIComponent(id)}`);
    } }, h('label', {}, 'Round id', h('input', { name: 'round', value: this.ctx.params[0] || '', required: true })), h('button', {}, 'Watch'));
    fill(this.root,
      h('h1', {}, 'Baccarat ', h('span', { class: 'muted' }, '· round '), e.id),
      roundPicker,
      h('div', { class: 'grid two' },
        h('section', { class: 'card stack', 'aria-label': 'Table' },
          e.status, e.countdown, e.result,
          h('fieldset', { class: 'sides' }, h('legend', { class: 'muted' }, 'Bet on'), e.sides),
          h('div', { class: 'row' }, h('label', {}, `Stake (${this.ctx.currency.code})`, e.stake), chips, e.bet),
          h('p', { id: 'stake-limits', class: 'muted' }, limitText(this.game, this.ctx.currency.code))),
        h('section', { class: 'card' },
          h('h2', {}, 'Your bets'), e.mine,
          h('h2', {}, 'Bets on the table'), e.feed)));
    this.offs.push(this.ctx.push.on('balance', (ev) => this.onBalance(ev)));
    this.offs.push(this.ctx.push.on('bets', (ev) => this.onPublicBet(ev)));
    this.offs.push(this.ctx.push.listen('reload', () => this.follow()));
    this.ticker = setInterval(() => this.tick(), 200);
    this.follow();
  }

  stop() {
    clearInterval(this.ticker);
    this.offs.forEach((off) => off());
    this.rounds.forEach((off) => off());
  }

  /** Watches round `id` on the push, and lets go of every round but the shown and next one
   * (the server allows a connection 64 topics; a table runs hundreds of rounds a day). */
  track(id) {
    if (!this.rounds.has(id)) this.rounds.set(id, this.ctx.push.on(`round:${id}`, (ev) => this.onRound(id, ev)));
    for (const [old, off] of this.rounds) {
      if (old !== this.watching && old !== this.next && old !== id) { off(); this.rounds.delete(old); }
    }
  }

  /** Finds the round to show and watches it (and, on a demo table, the next one). */
  async follow() {
    try {
      let id = this.ctx.params[0];
      let next = null;
      if (this.ctx.isDemo) {
        const t = await call('GET', '/console/demo/table');
        id = t.round_id || t.next_round_id;
        next = t.next_round_id;
      }
      if (!id) return;
      this.watch(id);
      if (next && next !== id) this.watchNext(next);
      await this.load(id);
    } catch (e) {
      this.ctx.fail(e);
    }
  }

  watch(id) {
    if (this.watching === id) return;
    this.watching = id;
    this.el.id.textContent = id;
    this.track(id);
  }

  watchNext(id) {
    if (this.next === id) return;
    this.next = id;
    // Subscribed before it opens: its round_opened arrives by push, not by polling.
    this.track(id);
  }

  async load(id) {
    try {
      const r = await this.ctx.api.get(`/api/rounds/${encodeURIComponent(id)}`);
      if (this.watching !== id) return;
      this.round = { round_id: id, status: r.status, bet_stop_time: r.bet_stop_time, result: r.result };
    } catch (e) {
      if (e.code !== 'ROUND_NOT_FOUND') throw e;
      this.round = { round_id: id, status: 'not open yet', bet_stop_time: 0, result: null };
    }
    this.render();
  }

  onRound(id, ev) {
    if (ev.type === 'round_opened') {
      if (id !== this.watching) {
        this.watch(id);
        this.el.result.replaceChildren();
        this.clearWinners();
        if (this.ctx.isDemo) this.follow();
      }
      this.round = { round_id: id, status: 'betting', bet_stop_time: ev.bet_stop_time, result: null };
    } else if (id !== this.watching || !this.round) {
      return;
    } else if (ev.type === 'round_status') {
      this.round.status = ev.status;
    } else if (ev.type === 'round_drawn') {
      this.round.status = 'drawn';
      this.round.result = ev.outcomes;
    }
    this.render();
  }

  onBalance(ev) {
    if (ev.type === 'bet_accepted' && ev.round_id) {
      const b = this.mine.get(ev.bet_id) || {};
      this.mine.set(ev.bet_id, { ...b, order_no: ev.order_no, round_id: ev.round_id, selection: ev.selection, amount: ev.amount });
      this.renderMine();
    } else if (ev.type === 'bet_settled' && this.mine.has(ev.bet_id)) {
      Object.assign(this.mine.get(ev.bet_id), { outcome: ev.outcome, payout: ev.payout });
      this.renderMine();
    } else if (ev.type === 'bet_resettled' && this.mine.has(ev.bet_id)) {
      Object.assign(this.mine.get(ev.bet_id), { outcome: ev.to, payout: ev.to_payout });
      this.renderMine();
    }
  }

  onPublicBet(ev) {
    if (ev.type !== 'bet_accepted' || !ev.round_id) return;
    const side = this.game.selections[ev.selection]?.name || ev.selection;
    this.el.feed.prepend(h('li', {}, h('span', {}, `${time(ev.at)} · ${side}`), h('span', { class: 'num' }, ev.amount)));
    while (this.el.feed.children.length > FEED_LENGTH) this.el.feed.lastChild.remove();
  }

  async placeBet() {
    const e = this.el;
    const selection = Number(this.root.querySelector('input[name=side]:checked')?.value ?? 0);
    const amount = e.stake.value.trim();
    if (toMinor(amount, this.ctx.currency.decimals) === null) {
      e.stake.setCustomValidity('a decimal amount such as 10.00');
      e.stake.reportValidity();
      return;
    }
    e.stake.setCustomValidity('');
    e.bet.disabled = true;
    const order_no = randomId('web');
    try {
      const a = await this.ctx.api.post('/api/bet', { order_no, round_id: this.round.round_id, selection, amount });
      const b = this.mine.get(a.bet_id) || {};
      this.mine.set(a.bet_id, { selection, amount, ...b, order_no, round_id: this.round.round_id });
      this.renderMine();
      this.ctx.refreshBalance();
    } catch (err) {
      this.ctx.fail(err);
    } finally {
      this.render();
    }
  }

  tick() {
    if (!this.round || this.round.status !== 'betting') return;
    const left = Math.max(0, this.round.bet_stop_time - Date.now());
    this.el.countdown.textContent = `${(left / 1000).toFixed(1)} s`;
    this.el.bet.disabled = left <= 0;
  }

  clearWinners() {
    this.el.sides.forEach((s) => s.classList.remove('winner'));
  }

  render() {
    const r = this.round;
    const e = this.el;
    if (!r) return;
    e.status.textContent = r.status;
    e.status.dataset.status = r.status;
    e.bet.disabled = r.status !== 'betting';
    if (r.status !== 'betting') e.countdown.textContent = r.status === 'ended' && this.ctx.isDemo ? 'next round soon' : '–';
    this.clearWinners();
    if (r.result) {
      const names = this.game.selections.map((s) => s.name);
      const won = r.result.map((o, i) => (o === 'won' ? names[i] : null)).filter(Boolean);
      r.result.forEach((o, i) => { if (o === 'won') e.sides[i]?.classList.add('winner'); });
      fill(e.result, h('div', { class: 'big' }, won.length ? `${won.join(', ')} ${won.length === 1 && won[0] === 'tie' ? '' : 'wins'}`.trim() : 'no winner'),
        h('div', { class: 'muted' }, r.result.map((o, i) => `${names[i]} ${HEADLINE[o] || o}`).join(' · ')));
    }
    this.tick();
  }

  renderMine() {
    const rows = [...this.mine.entries()].sort((a, b) => b[0] - a[0]).slice(0, 20);
    fill(this.el.mine, rows.map(([id, b]) => {
      const side = this.game.selections[b.selection]?.name || b.selection;
      const settled = Boolean(b.outcome);
      return h('li', { dataset: { bet: id, state: settled ? 'settled' : 'open' } },
        h('span', {}, `${b.round_id === this.watching ? '' : `${b.round_id} · `}${side} ${b.amount}`),
        settled ? h('span', { class: b.outcome }, `${b.outcome} · paid ${b.payout}`) : h('span', { class: 'muted' }, 'open'));
    }));
  }
}

function limitText(game, currency) {
  const l = game.limits.find((x) => x.currency === currency) || game.limits[0];
  return l ? `Stakes ${l.min_stake} to ${l.max_stake} ${l.currency}.` : '';
}
