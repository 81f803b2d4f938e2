// Verify, in this browser and without asking the server: a red packet's split against the
// engine's share rule, the player's settled bets against the payout rule, and the console's
// own verifiers against known answers (lib/selftest.js).

import { h, fill } from '../lib/dom.js';
import { checkPacket, checkBet } from '../lib/verify.js';
import { run } from '../lib/selftest.js';

export default {
  id: 'verify',
  title: 'Verify',
  order: 60,
  needsSession: false,
  mount(root, ctx) {
    const packetOut = h('div', { id: 'verify-packet' });
    const betsOut = h('div', { id: 'verify-bets' });
    const selfOut = h('div', { id: 'selftest', 'aria-live': 'polite' }, 'Running…');
    const link = h('input', { id: 'verify-link', placeholder: 'http://…/#/packets/7/rp-…' });
    const checkLink = async (e) => {
      e.preventDefault();
      const m = /#\/packets\/(\d+)\/([^/?#]+)/.exec(link.value) || /^(\d+)\/([^/?#]+)$/.exec(link.value.trim());
      if (!m) return fill(packetOut, h('p', { class: 'bad' }, 'Paste a packet link (…#/packets/<sender>/<id>).'));
      try {
        const p = await ctx.api.get(`/api/red_packets/${m[1]}/${m[2]}`);
        show(packetOut, checkPacket(p));
      } catch (err) {
        fill(packetOut, h('p', { class: 'bad' }, err.message));
      }
    };
    const checkBets = async () => {
      try {
        const a = await ctx.api.get('/api/me/bets?limit=100');
        const found = a.bets.flatMap(checkBet);
        if (!found.length) return fill(betsOut, h('p', { class: 'muted' }, 'No settled bets yet.'));
        show(betsOut, found);
      } catch (err) {
        fill(betsOut, h('p', { class: 'bad' }, err.message));
      }
    };
    const needs = (el) => (ctx.player ? el : h('p', { class: 'muted' }, 'Needs a session.'));
    fill(root, h('h1', {}, 'Verify'),
      h('p', { class: 'muted' }, 'Every check here runs in your browser with the engine\'s published rules; the server is only asked for what it already shows you.'),
      h('div', { class: 'grid two' },
        h('section', { class: 'card stack' }, h('h2', {}, 'A red packet\'s split'),
          needs(h('form', { class: 'row', onsubmit: checkLink }, h('label', { class: 'wide' }, 'Packet link', link), h('button', { type: 'submit' }, 'Check'))), packetOut,
          h('h2', {}, 'Your settled bets'),
          needs(h('button', { id: 'verify-bets-run', onclick: checkBets }, 'Check my last 100 bets')), betsOut),
        h('section', { class: 'card stack' }, h('h2', {}, 'The verifiers themselves'), selfOut)));
    run().then((results) => {
      selfOut.dataset.result = results.every((r) => r.ok) ? 'ok' : 'failed';
      selfOut.dataset.count = String(results.length);
      fill(selfOut, results.map((r) => h('p', { class: r.ok ? 'ok' : 'bad', title: r.detail }, r.name)));
    });
    return null;
  },
};

function show(el, found) {
  el.dataset.result = found.every((c) => c.ok) ? 'ok' : 'failed';
  fill(el, found.map((c) => h('p', { class: c.ok ? 'ok' : 'bad' }, c.text)));
}
