// Keno (seed 003, Stake's): pick 1 to 10 numbers of 40 (or a quick pick), choose a risk,
// and ten numbers are drawn from the bet's seeds; the payout table of the risk and the count
// of picks says what the hits pay. Settled at once. Every bet is verified in the Verify view
// once the seeds are rotated.
//
// Keyboard: the numbers are toggle buttons (Tab, then Enter or Space); arrow keys move
// between them.

import { h, fill, randomId } from '../lib/dom.js';
import { numbersAfter } from '../lib/instant.js';

const NUMBERS = 40;
const MAX_PICKS = 10;
const COLUMNS = 8;
const RISKS = ['classic', 'low', 'medium', 'high'];

export default {
  id: 'keno',
  title: 'Keno',
  order: 20,
  needsSession: true,
  mount(root, ctx) {
    const v = new KenoView(root, ctx);
    v.start();
    return () => { v.stopped = true; };
  },
};

/** Distinct numbers 1..40 drawn in this browser (crypto.getRandomValues), for a quick pick. */
function quickPick(count) {
  const left = Array.from({ length: NUMBERS }, (_, i) => i + 1);
  const out = [];
  while (out.length < count) {
    // Rejection sampling keeps every number equally likely.
    const [r] = crypto.getRandomValues(new Uint8Array(1));
    if (r >= 256 - (256 % left.length)) continue;
    out.push(left.splice(r % left.length, 1)[0]);
  }
  return out.sort((a, b) => a - b);
}

class KenoView {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.stopped = false;
    this.picks = new Set();
    this.last = null; // the last bet's view
    this.tables = new Map(); // "classic 5 picks" → multipliers by hits
  }

  start() {
    const e = (this.el = {
      stake: h('input', { id: 'keno-stake', inputmode: 'decimal', value: '1.00', size: 8 }),
      risk: h('select', { id: 'keno-risk', onchange: () => this.render() }, RISKS.map((r) => h('option', { value: r }, r))),
      quickCount: h('select', { id: 'keno-quick-count', 'aria-label': 'Numbers for a quick pick' },
        Array.from({ length: MAX_PICKS }, (_, i) => h('option', { value: i + 1, selected: i + 1 === 5 }, String(i + 1)))),
      quick: h('button', { id: 'keno-quick', onclick: () => { this.picks = new Set(quickPick(Number(this.el.quickCount.value))); this.render(); } }, 'Quick pick'),
      clear: h('button', { id: 'keno-clear', onclick: () => { this.picks.clear(); this.render(); } }, 'Clear'),
      bet: h('button', { id: 'keno-bet', class: 'primary', onclick: () => this.bet() }, 'Bet'),
      board: h('div', { id: 'keno-board', class: 'keno-board', role: 'group', 'aria-label': 'Numbers 1 to 40' }),
      result: h('div', { id: 'keno-result', class: 'big-ish', 'aria-live': 'polite' }, 'Pick 1 to 10 numbers.'),
      table: h('p', { id: 'keno-table', class: 'muted' }),
      bets: h('tbody', { id: 'keno-bets' }),
    });
    this.buttons = Array.from({ length: NUMBERS }, (_, i) => h('button', {
      class: 'ball', dataset: { n: i + 1 }, 'aria-pressed': 'false',
      onclick: () => this.toggle(i + 1), onkeydown: (ev) => this.arrow(ev, i),
    }, String(i + 1)));
    e.board.append(...this.buttons);
    fill(this.root,
      h('h1', {}, 'Keno'),
      h('div', { class: 'grid two controls-first' },
        h('section', { class: 'card stack', 'aria-label': 'Numbers' }, e.result, e.board),
        h('section', { class: 'card stack', 'aria-label': 'Bet' },
          h('div', { class: 'row' },
            h('label', {}, `Stake (${this.ctx.currency.code})`, e.stake),
            h('label', {}, 'Risk', e.risk), e.bet),
          h('div', { class: 'row' }, h('label', {}, 'Quick pick of', e.quickCount), e.quick, e.clear),
          e.table,
          h('p', { class: 'muted' }, 'Ten numbers are drawn from your seeds; rotate them in Verify to check every draw in this browser.'))),
      h('section', { class: 'card', 'aria-label': 'Your keno bets' },
        h('h2', {}, 'Your keno bets'),
        h('div', { class: 'scroll' }, h('table', {},
          h('thead', {}, h('tr', {}, h('th', {}, 'Nonce'), h('th', {}, 'Picks'), h('th', {}, 'Hits'), h('th', { class: 'num' }, 'Stake'), h('th', { class: 'num' }, 'Multiplier'), h('th', { class: 'num' }, 'Payout'))),
          e.bets))));
    this.ctx.api.get('/api/instant/games').then((g) => {
      for (const t of g.keno) this.tables.set(t.name, t.multipliers);
      this.render();
    }).catch(() => {});
    this.ctx.api.get('/api/me/instant/seeds').catch(() => {}); // a first seed pair, shown before any bet
    this.render();
    this.loadBets();
  }

  toggle(n) {
    if (this.picks.has(n)) this.picks.delete(n);
    else if (this.picks.size < MAX_PICKS) this.picks.add(n);
    this.render();
  }

  arrow(ev, i) {
    const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -COLUMNS, ArrowDown: COLUMNS }[ev.key];
    if (step === undefined) return;
    ev.preventDefault();
    this.buttons[Math.min(NUMBERS - 1, Math.max(0, i + step))].focus();
  }

  async bet() {
    if (!this.picks.size) return this.ctx.fail(new Error('Pick 1 to 10 numbers first.'));
    this.el.bet.disabled = true;
    try {
      await this.ctx.api.get('/api/me/instant/seeds');
      this.last = await this.ctx.api.post('/api/instant/bets', {
        id: randomId('keno'), game: 'keno', amount: this.el.stake.value.trim(), picks: [...this.picks].sort((a, b) => a - b), risk: this.el.risk.value,
      });
      this.ctx.refreshBalance();
      this.loadBets();
    } catch (err) {
      this.ctx.fail(err);
    } finally {
      this.el.bet.disabled = false;
      this.render();
    }
  }

  render() {
    const drawn = this.last ? numbersAfter(this.last.outcome, 'drawn') : [];
    this.buttons.forEach((b, i) => {
      const n = i + 1;
      const picked = this.picks.has(n);
      b.setAttribute('aria-pressed', String(picked));
      b.className = `ball${picked ? ' picked' : ''}${drawn.includes(n) ? ' drawn' : ''}${picked && drawn.includes(n) ? ' hit' : ''}`;
      // Not disabled when ten are picked: the arrow keys still move through every number.
      b.setAttribute('aria-disabled', String(!picked && this.picks.size >= MAX_PICKS));
    });
    const count = this.picks.size;
    const mults = count ? this.tables.get(`${this.el.risk.value} ${count} picks`) : null;
    fill(this.el.table, count
      ? [`${count} pick${count > 1 ? 's' : ''}, ${this.el.risk.value}: `, mults ? mults.map((m, hits) => `${hits} hits ${m}x`).join(' · ') : '…']
      : 'Pick 1 to 10 numbers (or a quick pick) to see what the hits pay.');
    const b = this.last;
    if (!b) return;
    const hits = /; (\d+) hits/.exec(b.outcome)?.[1] ?? '?';
    const won = b.multiplier !== '0';
    this.el.result.dataset.bet = b.id;
    this.el.result.dataset.state = b.state;
    this.el.result.className = `big-ish ${won ? 'won' : 'lost'}`;
    fill(this.el.result, `${hits} hits of ${b.picks.length} · ${b.multiplier}x · ${won ? `paid ${b.payout}` : 'lost'}`);
  }

  async loadBets() {
    try {
      const a = await this.ctx.api.get('/api/me/instant/bets?limit=100');
      if (this.stopped) return;
      const list = a.bets.filter((b) => b.game === 'keno').slice(0, 15);
      fill(this.el.bets, list.length ? list.map((b) => h('tr', { dataset: { bet: b.id } },
        h('td', {}, String(b.nonce)), h('td', {}, `${(b.picks || []).join(' ')} (${b.risk})`), h('td', {}, /; (\d+) hits/.exec(b.outcome)?.[1] ?? ''),
        h('td', { class: 'num' }, b.amount), h('td', { class: 'num' }, `${b.multiplier}x`),
        h('td', { class: `num ${b.multiplier === '0' ? 'lost' : 'won'}` }, b.payout ?? '–')))
        : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No keno bets yet.')));
    } catch (err) {
      this.ctx.fail(err);
    }
  }
}
