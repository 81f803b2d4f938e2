// Dice (seed 003, Stake's): roll over or under a target, settled at once. The current server
// seed's hash is shown before any bet; rotating the seeds reveals the old server seed, and
// every bet made with it is then verified here (lib/dice.js): the seed against its hash, the
// roll from the seeds, the payout, and the win against the call the bet view repeats.

import { h, fill, randomId } from '../lib/dom.js';
import { checkDiceBet, formatRoll } from '../lib/dice.js';

const HISTORY = 20;

export default {
  id: 'dice',
  title: 'Dice',
  order: 18,
  needsSession: true,
  mount(root, ctx) {
    const v = new DiceView(root, ctx);
    v.start();
    return () => { v.stopped = true; };
  },
};

/** The call as the bet view repeats it: target "40.00" → hundredths. */
function callOf(b) {
  const m = /^(\d{1,3})\.(\d{2})$/.exec(b.target ?? '');
  return m ? { target: Number(m[1]) * 100 + Number(m[2]), over: b.over !== false } : null;
}

class DiceView {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.stopped = false;
  }

  start() {
    const e = (this.el = {
      stake: h('input', { id: 'dice-stake', inputmode: 'decimal', value: '1.00', size: 8 }),
      target: h('input', { id: 'dice-target', inputmode: 'decimal', value: '50.00', size: 6, 'aria-describedby': 'dice-chance' }),
      over: h('select', { id: 'dice-over' }, h('option', { value: 'true' }, 'over'), h('option', { value: 'false' }, 'under')),
      roll: h('button', { id: 'dice-roll', class: 'primary', onclick: () => this.bet() }, 'Roll'),
      chance: h('p', { id: 'dice-chance', class: 'muted' }),
      result: h('div', { id: 'dice-result', class: 'big', 'aria-live': 'polite' }, '–'),
      seedHash: h('code', { id: 'dice-seed-hash', class: 'hash' }, '…'),
      client: h('input', { id: 'dice-client-seed', autocomplete: 'off', spellcheck: false }),
      rotate: h('button', { id: 'dice-rotate', onclick: () => this.rotate() }, 'Rotate seeds (reveal)'),
      bets: h('tbody', { id: 'dice-bets' }),
    });
    const edge = h('span', { id: 'dice-edge' });
    e.target.addEventListener('input', () => this.renderChance());
    e.over.addEventListener('change', () => this.renderChance());
    fill(this.root,
      h('h1', {}, 'Dice'),
      h('div', { class: 'grid two' },
        h('section', { class: 'card stack', 'aria-label': 'Roll' },
          e.result,
          h('div', { class: 'row' },
            h('label', {}, `Stake (${this.ctx.currency.code})`, e.stake),
            h('label', {}, 'Roll', e.over),
            h('label', {}, 'Target', e.target), e.roll),
          e.chance, h('p', { class: 'muted' }, 'House edge ', edge, '.')),
        h('section', { class: 'card stack', 'aria-label': 'Seeds' },
          h('h2', {}, 'Seeds'),
          h('p', { class: 'link' }, 'server seed hash ', e.seedHash),
          h('div', { class: 'row' }, h('label', { class: 'wide' }, 'Next client seed (optional)', e.client), e.rotate),
          h('p', { class: 'muted' }, 'Rotating reveals the current server seed; every bet made with it is then verified in this browser.'))),
      h('section', { class: 'card', 'aria-label': 'Your dice bets' },
        h('h2', {}, 'Your dice bets'),
        h('div', { class: 'scroll' }, h('table', {},
          h('thead', {}, h('tr', {}, h('th', {}, 'Nonce'), h('th', {}, 'Roll'), h('th', { class: 'num' }, 'Stake'), h('th', { class: 'num' }, 'Payout'), h('th', {}, 'Check'))),
          e.bets))));
    this.renderChance();
    this.ctx.api.get('/api/instant/games').then((g) => { edge.textContent = g.dice_edge; }).catch(() => {});
    this.loadSeeds();
    this.loadBets();
  }

  call() {
    const m = /^(\d{1,3})(?:\.(\d{1,2}))?$/.exec(this.el.target.value.trim());
    if (!m) return null;
    return { target: Number(m[1]) * 100 + Number((m[2] || '0').padEnd(2, '0')), over: this.el.over.value === 'true' };
  }

  renderChance() {
    const c = this.call();
    if (!c) return fill(this.el.chance, 'The target is a number such as 49.50.');
    const chance = c.over ? 10000 - c.target : c.target;
    fill(this.el.chance, `Wins on a roll ${c.over ? 'above' : 'below'} ${formatRoll(c.target)}: chance ${formatRoll(Math.max(0, chance))} %.`);
  }

  async loadSeeds() {
    try {
      const s = await this.ctx.api.get('/api/me/instant/seeds');
      this.el.seedHash.textContent = s.current.server_seed_hash;
      this.el.client.placeholder = s.current.client_seed;
    } catch (err) {
      this.ctx.fail(err);
    }
  }

  async bet() {
    const c = this.call();
    if (!c) return this.ctx.fail(new Error('The target is a number such as 49.50.'));
    const id = randomId('dice');
    this.el.roll.disabled = true;
    try {
      const b = await this.ctx.api.post('/api/instant/bets', { id, game: 'dice', amount: this.el.stake.value.trim(), target: this.el.target.value.trim(), over: c.over });
      const won = b.multiplier !== '0';
      fill(this.el.result, h('span', { class: won ? 'won' : 'lost', dataset: { bet: b.id } }, `${b.outcome.replace('roll ', '')} · ${won ? `won ${b.payout}` : 'lost'}`));
      this.ctx.refreshBalance();
      this.loadBets();
    } catch (err) {
      this.ctx.fail(err);
    } finally {
      this.el.roll.disabled = false;
    }
  }

  async rotate() {
    this.el.rotate.disabled = true;
    try {
      const client = this.el.client.value.trim();
      const a = await this.ctx.api.post('/api/me/instant/seeds/rotate', client ? { client_seed: client } : {});
      this.el.seedHash.textContent = a.current.server_seed_hash;
      this.el.client.value = '';
      this.el.client.placeholder = a.current.client_seed;
      this.loadBets();
    } catch (err) {
      this.ctx.fail(err);
    } finally {
      this.el.rotate.disabled = false;
    }
  }

  async loadBets() {
    try {
      const a = await this.ctx.api.get(`/api/me/instant/bets?limit=${HISTORY * 3}`);
      if (this.stopped) return;
      const dice = a.bets.filter((b) => b.game === 'dice').slice(0, HISTORY);
      const rows = await Promise.all(dice.map(async (b) => {
        const check = h('td', { class: 'muted' }, 'seed not revealed yet');
        if (b.server_seed) {
          const found = await checkDiceBet(b, callOf(b));
          const ok = found.every((f) => f.ok);
          check.className = ok ? 'ok' : 'bad';
          check.dataset.verified = ok ? 'ok' : 'failed';
          check.title = found.map((f) => `${f.ok ? '✓' : '✗'} ${f.text}`).join('\n');
          fill(check, ok ? 'verified' : 'MISMATCH');
        }
        return h('tr', { dataset: { bet: b.id } },
          h('td', {}, String(b.nonce)), h('td', {}, b.outcome.replace('roll ', '')),
          h('td', { class: 'num' }, b.amount), h('td', { class: `num ${b.multiplier === '0' ? 'lost' : 'won'}` }, b.payout ?? '–'), check);
      }));
      if (!this.stopped) fill(this.el.bets, rows);
    } catch (err) {
      this.ctx.fail(err);
    }
  }
}
