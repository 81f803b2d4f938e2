// The player's balance (available and held per currency, live from the push) and history:
// GET /api/me/bets a page at a time (newest first, `before` = the previous page's
// `next_before`), each settled bet's payout checked in the browser against the payout rule.

import { h, fill, time } from '../lib/dom.js';
import { checkBet } from '../lib/verify.js';

const PAGE = 20;
const OUTCOME_NAMES = { won: 'won', lost: 'lost', void: 'void', push: 'push' };

export default {
  id: 'wallet',
  title: 'Balance & history',
  order: 40,
  needsSession: true,
  mount(root, ctx) {
    const balances = h('tbody', { id: 'balances' });
    const rows = h('tbody', { id: 'history' });
    const more = h('button', { id: 'older', disabled: true }, 'Older bets');
    const games = Object.fromEntries(ctx.info.games.map((g) => [g.game, g]));
    const sideName = (b) => (b.round_id ? games.baccarat?.selections[b.selection]?.name : null) ?? `selection ${b.selection}`;
    fill(root, h('h1', {}, 'Balance & history'),
      h('section', { class: 'card' },
        h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'currency'), h('th', { class: 'num' }, 'available'), h('th', { class: 'num' }, 'held (open bets)'))), balances)),
      h('section', { class: 'card' }, h('h2', {}, 'Bets'),
        h('div', { style: 'overflow-x:auto' }, h('table', {},
          h('thead', {}, h('tr', {}, h('th', {}, 'placed'), h('th', {}, 'order'), h('th', {}, 'round'), h('th', {}, 'on'),
            h('th', { class: 'num' }, 'stake'), h('th', { class: 'num' }, 'odds'), h('th', {}, 'result'), h('th', { class: 'num' }, 'payout'), h('th', {}, 'checked'))),
          rows)),
        h('div', { class: 'row' }, more)));
    const showBalances = (list) => fill(balances, list.length ? list.map((b) => h('tr', {}, h('td', {}, b.currency), h('td', { class: 'num' }, b.available), h('td', { class: 'num' }, b.held)))
      : h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'No money yet.')));
    showBalances(ctx.balances());
    const onBalance = (e) => showBalances(e.detail);
    window.addEventListener('croupier:balance', onBalance);
    ctx.refreshBalance();
    let next = null;
    const page = async (before) => {
      more.disabled = true;
      try {
        const q = before ? `?limit=${PAGE}&before=${before}` : `?limit=${PAGE}`;
        const a = await ctx.api.get(`/api/me/bets${q}`);
        if (!before) rows.replaceChildren();
        for (const b of a.bets) {
          const check = checkBet(b);
          rows.append(h('tr', { dataset: { bet: b.bet_id } },
            h('td', {}, time(b.placed_at)), h('td', {}, b.order_no), h('td', {}, b.round_id || '–'), h('td', {}, sideName(b)),
            h('td', { class: 'num' }, `${b.amount} ${b.currency}`), h('td', { class: 'num' }, b.odds),
            h('td', { class: b.outcome || '' }, b.outcome ? OUTCOME_NAMES[b.outcome] : 'open'), h('td', { class: 'num' }, b.payout ?? '–'),
            h('td', { title: check[0]?.text || '' }, check.length ? h('span', { class: check[0].ok ? 'ok' : 'bad' }, check[0].ok ? 'payout' : 'MISMATCH') : '')));
        }
        if (!rows.children.length) rows.append(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'No bets yet.')));
        next = a.next_before ?? null;
        more.disabled = next === null;
        rows.dataset.loaded = String(rows.children.length);
      } catch (e) {
        ctx.fail(e);
      }
    };
    more.addEventListener('click', () => page(next));
    page(null);
    return () => window.removeEventListener('croupier:balance', onBalance);
  },
};
