// Crash (seed 001): a channel's terms as the push tells them (crash:<channel>): bets open with
// a countdown, bets closed, the flight with the multiplier rising on the curve computed here
// from the take-off (resynced at each push), the crash with its hash. A bet with an optional
// auto cashout, a cashout button, the term's public cashouts, the player's own result (from
// the player's balance topic), and the last terms with their crash points checked in this
// browser against the hash, the salt and the chain (lib/crash.js).
//
// On a demo server the channel is the demo's ("demo"); elsewhere it is in the address
// (#/crash/<channel>) or typed in.

import { h, fill, randomId } from '../lib/dom.js';
import { multiplierAt, formatHundredths, checkTerms } from '../lib/crash.js';

const DEMO_CHANNEL = 'demo';
const HISTORY_SHOWN = 15;
const LABEL = { pre_start: 'bets open', starting: 'bets closed', flying: 'flying', closed: 'crashed', cancelled: 'cancelled' };

export default {
  id: 'crash',
  title: 'Crash',
  order: 15,
  needsSession: true,
  mount(root, ctx) {
    const channel = ctx.params[0] || (ctx.isDemo ? DEMO_CHANNEL : null);
    if (!channel) {
      const form = h('form', { class: 'row', onsubmit: (ev) => {
        ev.preventDefault();
        const id = ev.target.elements.channel.value.trim();
        if (id) ctx.navigate(`#/crash/${encodeURIComponent(id)}`);
      } }, h('label', {}, 'Channel', h('input', { name: 'channel', required: true })), h('button', {}, 'Watch'));
      fill(root, h('h1', {}, 'Crash'), h('div', { class: 'card' }, form));
      return null;
    }
    const v = new CrashView(root, ctx, channel);
    v.start();
    return () => v.stop();
  },
};

class CrashView {
  constructor(root, ctx, channel) {
    this.root = root;
    this.ctx = ctx;
    this.channel = channel;
    this.info = null; // GET /api/crash/channels/{c}
    this.term = null; // {number, status, deadline (local ms), takeoff (local ms), crash}
    this.mine = null; // the player's bet in the current or last term: CrashBetView-like
    this.cashouts = [];
    this.offs = [];
    this.frame = null;
    this.stopped = false;
  }

  start() {
    const e = (this.el = {
      status: h('div', { id: 'crash-status', class: 'status', 'aria-live': 'polite' }, 'loading'),
      number: h('span', { id: 'crash-term' }, '–'),
      multiplier: h('div', { id: 'crash-multiplier', class: 'countdown', 'aria-live': 'off' }, '–'),
      curve: h('canvas', { id: 'crash-curve', width: 600, height: 160, 'aria-hidden': 'true' }),
      stake: h('input', { id: 'crash-stake', inputmode: 'decimal', value: '10.00', size: 8 }),
      auto: h('input', { id: 'crash-auto', inputmode: 'decimal', placeholder: 'none', size: 6, 'aria-describedby': 'crash-auto-help' }),
      bet: h('button', { id: 'crash-bet', class: 'primary', disabled: true, onclick: () => this.placeBet() }, 'Bet'),
      cashout: h('button', { id: 'crash-cashout', disabled: true, onclick: () => this.cashout() }, 'Cash out'),
      mine: h('div', { id: 'crash-mine', 'aria-live': 'polite' }, h('span', { class: 'muted' }, 'No bet yet.')),
      cashouts: h('ul', { id: 'crash-cashouts', class: 'feed' }),
      history: h('tbody', { id: 'crash-history' }),
      fair: h('p', { id: 'crash-fair', class: 'muted link' }),
    });
    fill(this.root,
      h('h1', {}, 'Crash ', h('span', { class: 'muted' }, `· ${this.channel} · term `), e.number),
      h('div', { class: 'grid two' },
        h('section', { class: 'card stack', 'aria-label': 'Flight' },
          e.status, e.multiplier, e.curve,
          h('div', { class: 'row' },
            h('label', {}, `Stake (${this.ctx.currency.code})`, e.stake),
            h('label', {}, 'Auto cashout (x)', e.auto), e.bet, e.cashout),
          h('p', { id: 'crash-auto-help', class: 'muted' }, 'Leave auto cashout empty to cash out by hand; at least 1.01.'),
          h('h2', {}, 'Your bet'), e.mine),
        h('section', { class: 'card' },
          h('h2', {}, 'Bets and cashouts this term'), e.cashouts)),
      h('section', { class: 'card', 'aria-label': 'History' },
        h('h2', {}, 'Last terms, verified in this browser'),
        h('div', { class: 'scroll' }, h('table', {},
          h('thead', {}, h('tr', {}, h('th', {}, 'Term'), h('th', { class: 'num' }, 'Crash'), h('th', {}, 'Game hash'), h('th', {}, 'Check'))),
          e.history)),
        e.fair));
    this.offs.push(this.ctx.push.on(`crash:${this.channel}`, (ev) => this.onTerm(ev)));
    this.offs.push(this.ctx.push.on('balance', (ev) => this.onMine(ev)));
    this.offs.push(this.ctx.push.listen('reload', () => this.load()));
    this.load();
    this.loadHistory();
    const loop = () => { if (!this.stopped) { this.tick(); this.frame = requestAnimationFrame(loop); } };
    this.frame = requestAnimationFrame(loop);
  }

  stop() {
    this.stopped = true;
    cancelAnimationFrame(this.frame);
    this.offs.forEach((f) => f());
  }

  /** The channel as it is now (at the start, and after the push lost events). */
  async load() {
    try {
      const c = await this.ctx.api.get(`/api/crash/channels/${encodeURIComponent(this.channel)}`);
      this.info = c;
      const t = c.term;
      if (!t) return this.render();
      const now = Date.now();
      const term = { number: t.number, status: t.status, deadline: null, takeoff: null, crash: t.crash_point || null };
      if (t.countdown_ms !== undefined) term.deadline = now + t.countdown_ms;
      // The server's multiplier now tells how long ago it took off (the curve inverted).
      if (t.status === 'flying' && t.multiplier) term.takeoff = now - Math.log(Number(t.multiplier)) / 0.00006;
      if (!this.term || this.term.number !== term.number) this.cashouts = [];
      this.term = term;
      this.render();
    } catch (err) {
      // The demo creates its channel a moment after the server starts: ask again.
      fill(this.el.status, err.message);
      if (!this.stopped) setTimeout(() => { if (!this.stopped && !this.term) { this.load(); this.loadHistory(); } }, 1000);
    }
  }

  async loadHistory() {
    try {
      const a = await this.ctx.api.get(`/api/crash/channels/${encodeURIComponent(this.channel)}/terms`);
      const shown = { ...a, terms: a.terms.slice(0, HISTORY_SHOWN + 1) };
      const rows = new Map();
      fill(this.el.history, shown.terms.slice(0, HISTORY_SHOWN).filter((t) => t.hash).map((t) => {
        const check = h('td', { class: 'muted' }, 'checking…');
        rows.set(t.number, check);
        const cls = Number(t.crash_point) >= 2 ? 'won' : 'lost';
        return h('tr', { dataset: { term: t.number } },
          h('td', {}, `#${t.number}`), h('td', { class: `num ${cls}` }, `${t.crash_point}x`),
          // The hash opens Verify with it filled in: no copying a 64-digit hash on a phone.
          h('td', {}, h('a', { href: `#/verify/crash/${encodeURIComponent(this.channel)}/${t.hash}`, 'aria-label': `Verify term ${t.number}'s hash` },
            h('code', { class: 'hash', title: t.hash }, `${t.hash.slice(0, 16)}…`))), check);
      }));
      fill(this.el.fair, `salt ${a.salt} · terminating hash ${a.terminating_hash}`);
      const results = await checkTerms(shown);
      for (const [n, td] of rows) {
        const r = results.get(n);
        if (!r) continue;
        td.className = r.ok ? 'ok' : 'bad';
        td.dataset.verified = r.ok ? 'ok' : 'failed';
        td.title = r.findings.map((f) => `${f.ok ? '✓' : '✗'} ${f.text}`).join('\n');
        fill(td, r.ok ? 'verified' : 'MISMATCH');
      }
    } catch (err) {
      fill(this.el.fair, err.message);
    }
  }

  onTerm(ev) {
    const now = Date.now();
    const same = this.term && this.term.number === ev.number;
    switch (ev.type) {
      case 'crash_term_opened':
        this.term = { number: ev.number, status: 'pre_start', deadline: now + (ev.starting_at - ev.at), takeoff: null, crash: null };
        this.cashouts = [];
        this.el.curve.getContext('2d')?.clearRect(0, 0, this.el.curve.width, this.el.curve.height);
        break;
      case 'crash_term_starting':
        this.term = { ...(same ? this.term : { number: ev.number }), status: 'starting', deadline: now + (this.info?.starting_ms ?? 0) };
        break;
      case 'crash_term_flying':
        this.term = { ...(same ? this.term : { number: ev.number }), status: 'flying', takeoff: now, deadline: null };
        break;
      case 'crash_term_crashed':
        this.term = { ...(same ? this.term : { number: ev.number }), status: 'closed', crash: ev.crash_point };
        this.loadHistory();
        break;
      case 'crash_term_cancelled':
        this.term = { ...(same ? this.term : { number: ev.number }), status: 'cancelled' };
        break;
      case 'crash_bet_placed':
        this.cashouts.unshift({ text: `bet ${ev.amount}${ev.auto_cashout ? ` · auto ${ev.auto_cashout}x` : ''}`, cls: 'muted' });
        break;
      case 'crash_cashed_out':
        this.cashouts.unshift({ text: `${ev.amount} cashed out at ${ev.multiplier}x · ${ev.payout} (${ev.kind})`, cls: 'won' });
        break;
      case 'crash_cashouts_summary':
        this.cashouts.unshift({ text: `${ev.not_pushed} more cashouts on shard ${ev.shard}`, cls: 'muted' });
        break;
      case 'crash_channel_paused':
        if (this.info) this.info.paused = ev.paused;
        break;
      default:
        break;
    }
    this.render();
  }

  /** The player's own bets, from the balance topic. */
  onMine(ev) {
    if (!this.mine || ev.channel !== this.channel || ev.order_no !== this.mine.order_no) return;
    if (ev.type === 'crash_cashed_out') {
      Object.assign(this.mine, { state: 'cashed_out', multiplier: ev.multiplier, payout: ev.payout, cashout_kind: ev.kind });
    } else if (ev.type === 'crash_bet_ended') {
      Object.assign(this.mine, { state: ev.state, payout: ev.state === 'lost' ? '0.00' : ev.amount });
    } else {
      return;
    }
    this.mine.settledByPush = true;
    this.renderMine();
    this.render();
  }

  async placeBet() {
    const auto = this.el.auto.value.trim();
    const body = { channel: this.channel, order_no: randomId('cr'), amount: this.el.stake.value.trim() };
    if (auto) body.auto_cashout = auto;
    this.el.bet.disabled = true;
    try {
      const b = await this.ctx.api.post('/api/crash/bets', body);
      this.mine = b;
      this.renderMine();
      this.ctx.refreshBalance();
    } catch (err) {
      this.ctx.fail(err);
    } finally {
      this.render();
    }
  }

  async cashout() {
    if (!this.mine) return;
    this.el.cashout.disabled = true;
    try {
      const b = await this.ctx.api.post(`/api/crash/bets/${encodeURIComponent(this.mine.order_no)}/cashout`);
      if (this.mine.state === 'open') Object.assign(this.mine, b);
      this.renderMine();
    } catch (err) {
      this.ctx.fail(err);
    } finally {
      this.render();
    }
  }

  /** Every frame: the countdown or the multiplier, and the curve. */
  tick() {
    const t = this.term;
    const e = this.el;
    if (!t) return;
    if ((t.status === 'pre_start' || t.status === 'starting') && t.deadline) {
      const left = Math.max(0, t.deadline - Date.now());
      e.multiplier.textContent = `${(left / 1000).toFixed(1)} s`;
      e.multiplier.dataset.countdown = String(left);
    } else if (t.status === 'flying' && t.takeoff) {
      e.multiplier.textContent = `${formatHundredths(multiplierAt(Date.now() - t.takeoff))}x`;
      this.drawCurve(Date.now() - t.takeoff, false);
    }
  }

  drawCurve(ms, crashed) {
    const c = this.el.curve;
    const g = c.getContext('2d');
    if (!g) return;
    const w = c.width;
    const hgt = c.height;
    g.clearRect(0, 0, w, hgt);
    const span = Math.max(ms, 8000);
    const top = Math.max(multiplierAt(span), 200) / 100;
    g.strokeStyle = crashed ? '#ff6b6b' : '#f2b233';
    g.lineWidth = 3;
    g.beginPath();
    for (let i = 0; i <= 60; i++) {
      const t = (ms * i) / 60;
      const m = multiplierAt(t) / 100;
      const x = (t / span) * w;
      const y = hgt - ((m - 1) / (top - 1)) * (hgt - 6) - 3;
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    }
    g.stroke();
  }

  render() {
    const t = this.term;
    const e = this.el;
    if (!t) {
      e.status.textContent = this.info?.paused ? 'paused' : 'waiting for a term';
      return;
    }
    e.number.textContent = String(t.number);
    e.status.textContent = this.info?.paused && t.status === 'closed' ? 'paused' : LABEL[t.status] || t.status;
    e.status.dataset.status = t.status;
    e.bet.disabled = t.status !== 'pre_start' || Boolean(this.mine && this.mine.term === t.number);
    e.cashout.disabled = !(t.status === 'flying' && this.mine && this.mine.term === t.number && this.mine.state === 'open');
    if (t.status === 'closed' && t.crash) {
      e.multiplier.textContent = `crashed at ${t.crash}x`;
      if (t.takeoff) this.drawCurve(Date.now() - t.takeoff, true);
    } else if (t.status === 'cancelled') {
      e.multiplier.textContent = 'cancelled';
    }
    fill(e.cashouts, this.cashouts.slice(0, 30).map((c) => h('li', { class: c.cls }, c.text)));
  }

  renderMine() {
    const b = this.mine;
    if (!b) return;
    const settled = b.state !== 'open';
    const result = {
      cashed_out: `cashed out at ${b.multiplier}x (${b.cashout_kind}) · paid ${b.payout}`,
      lost: 'lost · paid 0.00',
      cancelled: `cancelled · ${b.amount} back`,
      refunded: `refunded · ${b.amount} back`,
    }[b.state];
    fill(this.el.mine, h('div', { id: 'crash-my-bet', class: settled ? (b.state === 'cashed_out' ? 'won' : 'lost') : '', dataset: { state: settled ? 'settled' : 'open', push: b.settledByPush ? 'yes' : 'no' } },
      `Term ${b.term} · ${b.amount} ${b.currency}${b.auto_cashout ? ` · auto ${b.auto_cashout}x` : ''} · `,
      settled ? result : 'open'));
  }
}
