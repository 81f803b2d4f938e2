// Mines (seed 003, Stake's): a 5×5 board with 1 to 24 mines placed by the bet's seeds. Each
// gem raises the multiplier, (1 − edge) · C(25, g) / C(25 − m, g); a mine ends the game with
// nothing; cash out takes the stake times the multiplier reached. The tiles show what each
// step pays. A page reloaded in the middle of a game resumes it (the history answers the
// game in play). Once the seeds are rotated, every game is verified in the Verify view.
//
// Keyboard: the board is a grid of buttons; arrow keys move between tiles, Enter or Space
// reveals one.

import { h, fill, randomId, toast } from '../lib/dom.js';
import { minesMultiplier, formatMultiplier, numbersAfter } from '../lib/instant.js';
import { toMinor, fromMinor, decimalsOf } from '../lib/money.js';

const SIDE = 5;
const TILES = SIDE * SIDE;

export default {
  id: 'mines',
  title: 'Mines',
  order: 19,
  needsSession: true,
  mount(root, ctx) {
    const v = new MinesView(root, ctx);
    v.start();
    return () => { v.stopped = true; };
  },
};

class MinesView {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.stopped = false;
    this.game = null; // the bet view of the game shown
    this.edgeBp = 100;
    this.busy = false;
  }

  start() {
    const e = (this.el = {
      stake: h('input', { id: 'mines-stake', inputmode: 'decimal', value: '1.00', size: 8 }),
      count: h('select', { id: 'mines-count', onchange: () => this.render() },
        Array.from({ length: 24 }, (_, i) => h('option', { value: i + 1, selected: i + 1 === 3 }, String(i + 1)))),
      start: h('button', { id: 'mines-start', class: 'primary', onclick: () => this.bet() }, 'Start'),
      cashout: h('button', { id: 'mines-cashout', disabled: true, onclick: () => this.cashOut() }, 'Cash out'),
      board: h('div', { id: 'mines-board', class: 'mines-board', role: 'grid', 'aria-label': 'Mines board, 5 by 5' }),
      result: h('div', { id: 'mines-result', class: 'big-ish', 'aria-live': 'polite' }, 'Choose the mines and start.'),
      ladder: h('p', { id: 'mines-ladder', class: 'muted' }),
      games: h('tbody', { id: 'mines-games' }),
    });
    this.tiles = Array.from({ length: TILES }, (_, i) => h('button', {
      class: 'tile', dataset: { tile: i }, disabled: true, role: 'gridcell',
      onclick: () => this.reveal(i), onkeydown: (ev) => this.arrow(ev, i),
    }, '?'));
    for (let r = 0; r < SIDE; r++) e.board.append(h('div', { role: 'row', class: 'mines-row' }, this.tiles.slice(r * SIDE, r * SIDE + SIDE)));
    fill(this.root,
      h('h1', {}, 'Mines'),
      h('div', { class: 'grid two controls-first' },
        h('section', { class: 'card stack', 'aria-label': 'Board' }, e.result, e.board),
        h('section', { class: 'card stack', 'aria-label': 'Bet' },
          h('div', { class: 'row' },
            h('label', {}, `Stake (${this.ctx.currency.code})`, e.stake),
            h('label', {}, 'Mines', e.count), e.start, e.cashout),
          e.ladder,
          h('p', { class: 'muted' }, 'Each tile shows what it pays if it is a gem. Rotate your seeds in Verify to check every game in this browser.'))),
      h('section', { class: 'card', 'aria-label': 'Your mines games' },
        h('h2', {}, 'Your mines games'),
        h('div', { class: 'scroll' }, h('table', {},
          h('thead', {}, h('tr', {}, h('th', {}, 'Nonce'), h('th', {}, 'Mines'), h('th', {}, 'Gems'), h('th', { class: 'num' }, 'Stake'), h('th', { class: 'num' }, 'Multiplier'), h('th', { class: 'num' }, 'Payout'))),
          e.games))));
    this.ctx.api.get('/api/instant/games').then((g) => {
      this.edgeBp = Math.round(parseFloat(g.mines_edge) * 100);
      this.render();
    }).catch(() => {});
    this.render();
    this.load();
  }

  /** The history, and the game in play if there is one (a reload resumes it). */
  async load() {
    try {
      this.ctx.api.get('/api/me/instant/seeds').catch(() => {}); // a first seed pair, shown before any bet
      const a = await this.ctx.api.get('/api/me/instant/bets?limit=100');
      if (this.stopped) return;
      if (a.open_mines && (!this.game || this.game.id === a.open_mines.id)) {
        if (!this.game) toast('Your mines game in play is resumed.');
        this.game = a.open_mines;
        this.el.count.value = String(this.game.mines);
        this.el.stake.value = this.game.amount;
      } else if (this.open()) {
        // The game shown ended elsewhere (another tab, or the sweeper after 5 idle minutes).
        this.game = a.bets.find((b) => b.id === this.game.id) || null;
      }
      this.render();
      this.renderGames(a.bets.filter((b) => b.game === 'mines').slice(0, 15));
    } catch (err) {
      this.ctx.fail(err);
    }
  }

  gems() { return this.game ? numbersAfter(this.game.outcome, 'gems at') : []; }
  mines() { return this.game ? numbersAfter(this.game.outcome, 'mines at') : []; }
  open() { return Boolean(this.game && this.game.state === 'open'); }
  /** The mines of the game in play, else of the next one. */
  count() { return this.open() ? this.game.mines : Number(this.el.count.value); }

  async bet() {
    if (this.busy || this.open()) return;
    this.busy = true;
    this.render();
    try {
      await this.ctx.api.get('/api/me/instant/seeds');
      this.game = await this.ctx.api.post('/api/instant/bets', { id: randomId('mines'), game: 'mines', amount: this.el.stake.value.trim(), mines: Number(this.el.count.value) });
      this.ctx.refreshBalance();
    } catch (err) {
      this.ctx.fail(err);
      if (err.code === 'GAME_IN_PROGRESS') this.load();
    } finally {
      this.busy = false;
      this.render();
    }
    // The board takes the keyboard: Enter reveals the centre tile, arrows move.
    if (this.open()) this.tiles[12].focus();
  }

  async reveal(tile) {
    if (this.busy || !this.open()) return;
    this.busy = true;
    try {
      this.game = await this.ctx.api.post(`/api/instant/bets/${encodeURIComponent(this.game.id)}/reveal`, { tile });
      if (!this.open()) this.finished();
    } catch (err) {
      this.ctx.fail(err);
      this.load();
    } finally {
      this.busy = false;
      this.render();
      this.tiles[tile].focus();
    }
  }

  async cashOut() {
    if (this.busy || !this.open()) return;
    this.busy = true;
    try {
      this.game = await this.ctx.api.post(`/api/instant/bets/${encodeURIComponent(this.game.id)}/cashout`);
      this.finished();
    } catch (err) {
      this.ctx.fail(err);
      this.load();
    } finally {
      this.busy = false;
      this.render();
    }
  }

  finished() {
    this.ctx.refreshBalance();
    this.load();
    this.el.start.focus();
  }

  /** Arrow keys move between tiles, row by row. */
  arrow(ev, i) {
    const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -SIDE, ArrowDown: SIDE }[ev.key];
    if (step === undefined) return;
    ev.preventDefault();
    const j = i + step;
    if (j >= 0 && j < TILES && !(Math.abs(step) === 1 && Math.floor(j / SIDE) !== Math.floor(i / SIDE))) this.tiles[j].focus();
  }

  mult(gems, mines = this.count()) { return formatMultiplier(minesMultiplier(mines, gems, this.edgeBp)); }

  renderLadder() {
    const m = this.count();
    const steps = Array.from({ length: Math.min(TILES - m, 8) }, (_, i) => `${i + 1}: ${this.mult(i + 1)}x`);
    fill(this.el.ladder, `${m} mine${m > 1 ? 's' : ''}, gems pay `, steps.join(' · '), TILES - m > 8 ? ' …' : '');
  }

  render() {
    const e = this.el;
    const open = this.open();
    const gems = this.gems();
    const mines = this.mines();
    const over = this.game && !open;
    const next = this.mult(gems.length + 1);
    this.tiles.forEach((t, i) => {
      const gemAt = gems.indexOf(i);
      t.className = 'tile';
      t.disabled = !open || gemAt >= 0 || this.busy;
      if (gemAt >= 0) {
        const m = this.mult(gemAt + 1, this.game.mines);
        t.classList.add('gem');
        fill(t, h('span', { 'aria-hidden': 'true' }, '◆'), h('small', {}, `${m}x`));
        t.setAttribute('aria-label', `tile ${i + 1}: gem ${gemAt + 1}, ${m}x`);
      } else if (over && mines.includes(i)) {
        t.classList.add(this.game.mine_tile === i ? 'boom' : 'mine');
        fill(t, h('span', { 'aria-hidden': 'true' }, '✹'));
        t.setAttribute('aria-label', `tile ${i + 1}: mine${this.game.mine_tile === i ? ' (hit)' : ''}`);
      } else {
        fill(t, open ? h('small', {}, `${next}x`) : '');
        t.setAttribute('aria-label', open ? `tile ${i + 1}: reveal, a gem pays ${next}x` : `tile ${i + 1}`);
      }
    });
    e.cashout.disabled = !open || gems.length === 0 || this.busy;
    e.start.disabled = open || this.busy;
    e.count.disabled = open;
    if (open) {
      e.result.dataset.state = 'open';
      e.result.dataset.bet = this.game.id;
      e.result.className = 'big-ish';
      fill(e.result, gems.length ? `${gems.length} gem${gems.length > 1 ? 's' : ''} · ${this.mult(gems.length)}x · cash out ${this.payout(this.mult(gems.length))}` : `${this.game.mines} mines · pick a tile`);
    } else if (this.game) {
      const g = this.game;
      e.result.dataset.state = 'settled';
      e.result.dataset.bet = g.id;
      e.result.className = `big-ish ${g.ended === 'mine' ? 'lost' : 'won'}`;
      fill(e.result, g.ended === 'mine' ? `mine at tile ${g.mine_tile + 1} · lost ${g.amount}` : `cashed out at ${g.multiplier}x · paid ${g.payout}`);
    }
    this.renderLadder();
  }

  /** What cashing out at `multText` pays: floor(stake × multiplier). */
  payout(multText) {
    const d = decimalsOf(this.game.amount);
    return fromMinor((toMinor(this.game.amount, d) * toMinor(multText, 4)) / 10000n, d);
  }

  renderGames(list) {
    fill(this.el.games, list.length ? list.map((b) => h('tr', { dataset: { bet: b.id } },
      h('td', {}, String(b.nonce)), h('td', {}, String(b.mines)), h('td', {}, String(numbersAfter(b.outcome, 'gems at').length)),
      h('td', { class: 'num' }, b.amount), h('td', { class: 'num' }, b.state === 'open' ? 'in play' : `${b.multiplier}x`),
      h('td', { class: `num ${b.ended === 'mine' ? 'lost' : 'won'}` }, b.payout ?? '–')))
      : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No games yet.')));
  }
}
