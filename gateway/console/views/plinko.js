// Plinko (seed 003, Stake's): 8 to 16 rows, a risk, and the ball's path fixed by the bet's
// seeds (one number per row: right when ≥ 1/2). The engine decides the bet at once and holds
// the payout; this page draws the ball along exactly that path and, when the animation ends,
// confirms (POST …/settle), which credits the payout — seed 003's deferred settlement, so the
// balance changes when the ball lands, not before. A page closed mid-flight is settled by the
// server's sweeper after 20 s (or at the next visit here). Every bet is verified in the Verify
// view once the seeds are rotated.

import { h, fill, randomId } from '../lib/dom.js';

const W = 600;
const H = 470;
const TOP = 40;
const ROW_MS = 140;
const REDUCED_ROW_MS = 25;
const MAX_BALLS = 20;

export default {
  id: 'plinko',
  title: 'Plinko',
  order: 21,
  needsSession: true,
  mount(root, ctx) {
    const v = new PlinkoView(root, ctx);
    v.start();
    return () => v.stop();
  },
};

/** The path letters and slot of a bet view's outcome ("path RLLR… slot 5"). */
function parsePath(outcome) {
  const m = /path ([LR]+) slot (\d+)/.exec(outcome || '');
  return m ? { path: m[1], slot: Number(m[2]) } : null;
}

class PlinkoView {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.stopped = false;
    this.tables = new Map(); // "16 rows low" → multipliers by slot
    this.balls = []; // {bet, path, rows, start, done}
    this.frame = null;
    this.rowMs = window.matchMedia?.('(prefers-reduced-motion: reduce)').matches ? REDUCED_ROW_MS : ROW_MS;
  }

  start() {
    const e = (this.el = {
      stake: h('input', { id: 'plinko-stake', inputmode: 'decimal', value: '1.00', size: 8 }),
      rows: h('select', { id: 'plinko-rows', onchange: () => this.layout() },
        Array.from({ length: 9 }, (_, i) => h('option', { value: i + 8, selected: i + 8 === 12 }, String(i + 8)))),
      risk: h('select', { id: 'plinko-risk', onchange: () => this.layout() }, ['low', 'medium', 'high'].map((r) => h('option', { value: r }, r))),
      drop: h('button', { id: 'plinko-drop', class: 'primary', onclick: () => this.bet() }, 'Drop a ball'),
      canvas: h('canvas', { id: 'plinko-canvas', width: W, height: H, role: 'img', 'aria-label': 'The plinko board' }),
      slots: h('div', { id: 'plinko-slots', class: 'plinko-slots' }),
      result: h('div', { id: 'plinko-result', class: 'big-ish', 'aria-live': 'polite' }, 'Choose rows and risk, then drop a ball.'),
      bets: h('tbody', { id: 'plinko-bets' }),
    });
    fill(this.root,
      h('h1', {}, 'Plinko'),
      h('div', { class: 'grid two controls-first' },
        h('section', { class: 'card stack', 'aria-label': 'Board' }, e.canvas, e.slots),
        h('section', { class: 'card stack', 'aria-label': 'Bet' },
          h('div', { class: 'row' },
            h('label', {}, `Stake (${this.ctx.currency.code})`, e.stake),
            h('label', {}, 'Rows', e.rows), h('label', {}, 'Risk', e.risk), e.drop),
          e.result,
          h('p', { class: 'muted' }, 'The path comes from your seeds when you bet; the payout is credited when the ball lands. Rotate your seeds in Verify to check every path in this browser.'))),
      h('section', { class: 'card', 'aria-label': 'Your plinko bets' },
        h('h2', {}, 'Your plinko bets'),
        h('div', { class: 'scroll' }, h('table', {},
          h('thead', {}, h('tr', {}, h('th', {}, 'Nonce'), h('th', {}, 'Rows'), h('th', {}, 'Path'), h('th', { class: 'num' }, 'Stake'), h('th', { class: 'num' }, 'Multiplier'), h('th', { class: 'num' }, 'Payout'), h('th', {}, 'State'))),
          e.bets))));
    this.ctx.api.get('/api/instant/games').then((g) => {
      for (const t of g.plinko) this.tables.set(t.name, t.multipliers);
      this.layout();
    }).catch(() => {});
    this.ctx.api.get('/api/me/instant/seeds').catch(() => {}); // a first seed pair, shown before any bet
    this.layout();
    this.loadBets(true);
    const loop = (now) => { if (!this.stopped) { this.tick(now); this.frame = requestAnimationFrame(loop); } };
    this.frame = requestAnimationFrame(loop);
  }

  stop() {
    this.stopped = true;
    cancelAnimationFrame(this.frame);
    // Balls still in the air: their bets are confirmed now (the player saw them fall), so
    // leaving the page does not leave the payout to the sweeper.
    for (const b of this.balls) if (!b.done) this.settle(b);
  }

  rows() { return Number(this.el.rows.value); }

  /** The slots under the board for the rows and risk chosen. */
  layout() {
    const rows = this.rows();
    const mults = this.tables.get(`${rows} rows ${this.el.risk.value}`) || Array(rows + 1).fill('…');
    fill(this.el.slots, mults.map((m, i) => h('span', { dataset: { slot: i }, class: slotClass(m) }, `${m}x`)));
    this.el.slots.style.setProperty('--slots', String(rows + 1));
    this.draw(performance.now());
  }

  async bet() {
    if (this.balls.filter((b) => !b.done).length >= MAX_BALLS) return;
    this.el.drop.disabled = true;
    try {
      await this.ctx.api.get('/api/me/instant/seeds');
      const bet = await this.ctx.api.post('/api/instant/bets', {
        id: randomId('plinko'), game: 'plinko', amount: this.el.stake.value.trim(), rows: this.rows(), risk: this.el.risk.value,
      });
      const p = parsePath(bet.outcome);
      if (!p) throw new Error(`unexpected outcome ${bet.outcome}`);
      this.ctx.refreshBalance();
      if (bet.rows !== this.rows() || bet.risk !== this.el.risk.value) { this.el.rows.value = String(bet.rows); this.el.risk.value = bet.risk; this.layout(); }
      this.balls.push({ bet, path: p.path, slot: p.slot, rows: bet.rows, start: performance.now(), done: false });
      this.el.result.dataset.state = 'falling';
      this.el.result.dataset.bet = bet.id;
      fill(this.el.result, 'The ball is falling…');
    } catch (err) {
      this.ctx.fail(err);
    } finally {
      this.el.drop.disabled = false;
    }
  }

  /** The animation ended: the payout is credited now. */
  async settle(ball) {
    ball.done = true;
    try {
      const b = await this.ctx.api.post(`/api/instant/bets/${encodeURIComponent(ball.bet.id)}/settle`);
      if (this.stopped) return;
      const r = this.el.result;
      r.dataset.state = 'settled';
      r.dataset.bet = b.id;
      r.dataset.ended = b.ended || '';
      r.className = `big-ish ${Number(b.multiplier) >= 1 ? 'won' : 'lost'}`;
      fill(r, `slot ${ball.slot} · ${b.multiplier}x · paid ${b.payout}`);
      this.ctx.refreshBalance();
      this.loadBets(false);
    } catch (err) {
      this.ctx.fail(err);
    }
  }

  /** Where a ball of `path` is at `t` rows into its fall (t from 0 to rows + 1). */
  position(path, rows, t) {
    const g = geometry(rows);
    const at = (i) => {
      // After i rows (i = 0: above the first), the ball is between the pegs by its rights.
      const rights = [...path.slice(0, i)].filter((c) => c === 'R').length;
      return { x: W / 2 + (rights - i / 2) * g.dx, y: TOP - g.dy / 2 + i * g.dy };
    };
    const i = Math.min(Math.floor(t), rows);
    const f = Math.min(1, t - i);
    const a = at(i);
    const b = at(Math.min(i + 1, rows));
    if (i >= rows) return { x: a.x, y: a.y + f * g.dy * 0.6 };
    // Across, then down: a small hop over each peg.
    const hop = Math.sin(Math.PI * f) * g.dy * 0.25;
    return { x: a.x + (b.x - a.x) * f, y: a.y + (b.y - a.y) * f * f - hop };
  }

  tick(now) {
    for (const b of this.balls) {
      if (!b.done && (now - b.start) / this.rowMs >= b.rows + 1) this.settle(b);
    }
    this.balls = this.balls.filter((b) => !b.done || now - b.start < (b.rows + 1) * this.rowMs + 1500);
    this.draw(now);
  }

  draw(now) {
    const g2 = this.el.canvas.getContext('2d');
    if (!g2) return;
    const rows = this.rows();
    const g = geometry(rows);
    g2.clearRect(0, 0, W, H);
    g2.fillStyle = '#8d9aa8';
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < r + 3; j++) {
        g2.beginPath();
        g2.arc(W / 2 + (j - (r + 2) / 2) * g.dx, TOP + r * g.dy, Math.max(2, g.dx * 0.08), 0, 2 * Math.PI);
        g2.fill();
      }
    }
    const landed = new Set();
    for (const b of this.balls) {
      if (b.rows !== rows) continue;
      const t = Math.min((now - b.start) / this.rowMs, rows + 1);
      if (t >= rows) landed.add(b.slot);
      const p = this.position(b.path, rows, t);
      g2.fillStyle = '#f2b233';
      g2.beginPath();
      g2.arc(p.x, p.y, Math.max(4, g.dx * 0.2), 0, 2 * Math.PI);
      g2.fill();
    }
    for (const s of this.el.slots.children) s.classList.toggle('landed', landed.has(Number(s.dataset.slot)));
  }

  /** The bets list; at the first load, bets left unconfirmed (a page closed mid-fall) are
   * confirmed now. */
  async loadBets(first) {
    try {
      const a = await this.ctx.api.get('/api/me/instant/bets?limit=100');
      if (this.stopped) return;
      const list = a.bets.filter((b) => b.game === 'plinko');
      if (first) {
        for (const b of list.filter((x) => x.state === 'open')) {
          this.ctx.api.post(`/api/instant/bets/${encodeURIComponent(b.id)}/settle`).then(() => this.ctx.refreshBalance()).catch(() => {});
        }
      }
      fill(this.el.bets, list.length ? list.slice(0, 15).map((b) => h('tr', { dataset: { bet: b.id } },
        h('td', {}, String(b.nonce)), h('td', {}, `${b.rows} ${b.risk}`), h('td', {}, h('code', {}, parsePath(b.outcome)?.path ?? '')),
        h('td', { class: 'num' }, b.amount), h('td', { class: 'num' }, `${b.multiplier}x`),
        h('td', { class: `num ${Number(b.multiplier) >= 1 ? 'won' : 'lost'}` }, b.payout ?? '–'), h('td', {}, b.state === 'open' ? 'falling' : b.ended)))
        : h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No plinko bets yet.')));
    } catch (err) {
      this.ctx.fail(err);
    }
  }
}

/** Peg spacing for `rows` rows: the widest row (rows + 2 pegs) spans the board. */
function geometry(rows) {
  const dx = W / (rows + 2);
  const dy = (H - TOP - 20) / rows;
  return { dx, dy };
}

function slotClass(m) {
  const x = Number(m);
  return `slot ${x >= 10 ? 'hot' : x >= 2 ? 'warm' : x >= 1 ? 'even' : 'cold'}`;
}
