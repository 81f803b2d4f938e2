// Verify, in this browser and without asking the server: a red packet's split against the
// engine's share rule, the player's settled bets against the payout rule, the player's
// instant bets (dice, keno, mines, plinko, blackjack replayed from its actions) from their
// revealed seeds with Stake's outcome functions, a crash game's hash (its crash point, and its
// chain down to the channel's terminating hash), and the console's own verifiers against
// known answers (lib/selftest.js).

import { h, fill } from '../lib/dom.js';
import { call } from '../lib/api.js';
import { checkPacket, checkBet } from '../lib/verify.js';
import { checkDiceBet } from '../lib/dice.js';
import { checkInstantBet } from '../lib/instant.js';
import { checkBlackjackBet } from '../lib/blackjack.js';
import { checkHash } from '../lib/crash.js';
import { run } from '../lib/selftest.js';

const INSTANT_SHOWN = 30;

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
    const instant = instantCard(ctx);
    const crash = crashCard(ctx);
    fill(root, h('h1', {}, 'Verify'),
      h('p', { class: 'muted' }, 'Every check here runs in your browser with the engine\'s published rules; the server is only asked for what it already shows you.'),
      // The checks a player came for first; the verifiers' own self-test (long) last.
      h('div', { class: 'grid two' }, needs(instant.el), crash.el),
      h('div', { class: 'grid two' },
        h('section', { class: 'card stack' }, h('h2', {}, 'A red packet\'s split'),
          needs(h('form', { class: 'row', onsubmit: checkLink }, h('label', { class: 'wide' }, 'Packet link', link), h('button', { type: 'submit' }, 'Check'))), packetOut,
          h('h2', {}, 'Your settled bets'),
          needs(h('button', { id: 'verify-bets-run', onclick: checkBets }, 'Check my last 100 bets')), betsOut),
        h('section', { class: 'card stack' }, h('h2', {}, 'The verifiers themselves'), selfOut)));
    if (ctx.player) instant.load();
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

/** Dice bets carry their call as typed: target "40.00" → hundredths. */
function diceCall(b) {
  if (b.target === null || b.target === undefined) return null;
  const [w, f = ''] = b.target.split('.');
  return { target: Number(w) * 100 + Number((f + '00').slice(0, 2)), over: b.over };
}

/** One instant bet from its revealed seed, by its game's verifier. */
function checkAny(b) {
  if (b.game === 'dice') return checkDiceBet(b, diceCall(b));
  if (b.game === 'blackjack') return checkBlackjackBet(b);
  return checkInstantBet(b);
}

/** The player's instant bets, each verified once its server seed is revealed; a rotation
 * reveals the seed in use. */
function instantCard(ctx) {
  const seed = h('code', { id: 'verify-seed-hash', class: 'hash' }, '…');
  const rows = h('tbody', { id: 'verify-instant' });
  const rotate = h('button', { id: 'verify-rotate' }, 'Rotate seeds (reveal)');
  const load = async () => {
    try {
      const [s, a] = await Promise.all([ctx.api.get('/api/me/instant/seeds'), ctx.api.get(`/api/me/instant/bets?limit=${INSTANT_SHOWN}`)]);
      seed.textContent = s.current.server_seed_hash;
      const list = await Promise.all(a.bets.map(async (b) => {
        const td = h('td', { class: 'muted' }, b.state === 'open' ? 'in play' : 'seed not revealed yet');
        if (b.server_seed && b.state !== 'open') {
          const found = await checkAny(b);
          const ok = found.every((f) => f.ok);
          td.className = ok ? 'ok' : 'bad';
          td.dataset.verified = ok ? 'ok' : 'failed';
          td.title = found.map((f) => `${f.ok ? '✓' : '✗'} ${f.text}`).join('\n');
          fill(td, ok ? 'verified' : 'MISMATCH');
        }
        return h('tr', { dataset: { bet: b.id, game: b.game } },
          h('td', {}, b.game), h('td', {}, String(b.nonce)), h('td', { class: 'outcome' }, b.outcome),
          h('td', { class: 'num' }, b.amount), h('td', { class: 'num' }, b.payout ?? '–'), td);
      }));
      fill(rows, list.length ? list : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No instant bets yet.')));
      rows.dataset.loaded = String(list.length);
    } catch (err) {
      ctx.fail(err);
    }
  };
  rotate.addEventListener('click', async () => {
    rotate.disabled = true;
    try {
      await ctx.api.post('/api/me/instant/seeds/rotate', {});
      await load();
    } catch (err) {
      ctx.fail(err);
    } finally {
      rotate.disabled = false;
    }
  });
  const el = h('section', { class: 'card stack', 'aria-label': 'Your instant bets' },
    h('h2', {}, 'Your instant bets (dice, keno, mines, plinko, blackjack)'),
    h('p', { class: 'link' }, 'server seed hash in use ', seed),
    h('div', { class: 'row' }, rotate),
    h('p', { class: 'muted' }, 'Rotating reveals the server seed in use (refused while a mines or blackjack game is in play); every bet made with it is then recomputed here from the seeds with Stake\'s functions. Hover a check for its details.'),
    h('div', { class: 'scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Game'), h('th', {}, 'Nonce'), h('th', {}, 'Outcome'), h('th', { class: 'num' }, 'Stake'), h('th', { class: 'num' }, 'Payout'), h('th', {}, 'Check'))),
      rows)));
  return { el, load };
}

/** A crash game's hash checked here: bustabit's crash point from the hash and the channel's
 * salt, and the chain hashed down to the channel's terminating hash. */
function crashCard(ctx) {
  const channel = h('input', { id: 'verify-crash-channel', value: ctx.isDemo ? 'demo' : '', autocomplete: 'off', required: true });
  const hash = h('input', { id: 'verify-crash-hash', autocomplete: 'off', spellcheck: false, placeholder: '64 hex digits', required: true, pattern: '[0-9a-fA-F]{64}' });
  const out = h('div', { id: 'verify-crash', 'aria-live': 'polite' });
  const submit = async (ev) => {
    ev.preventDefault();
    const c = channel.value.trim();
    const x = hash.value.trim().toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(x)) return fill(out, h('p', { class: 'bad' }, 'A game hash is 64 hex digits.'));
    delete out.dataset.result;
    fill(out, h('p', { class: 'muted' }, 'Hashing down the chain…'));
    try {
      const path = `/api/crash/channels/${encodeURIComponent(c)}`;
      // What the server published: the salt and the terminating hash, and the crash point it
      // shows for this hash if the game is among the last terms.
      const [info, terms] = await Promise.all([call('GET', path), call('GET', `${path}/terms`)]);
      const shown = terms.terms.find((t) => t.hash === x);
      const r = await checkHash({ hash: x, salt: info.salt, terminating: info.terminating_hash, maxSteps: Math.max(1, info.games_revealed), expected: shown ? shown.crash_point : null });
      if (shown) r.findings.push({ ok: shown.game === r.game, text: `term ${shown.number} shows it as game ${shown.game}` });
      const ok = r.findings.every((f) => f.ok);
      out.dataset.result = ok ? 'ok' : 'failed';
      out.dataset.crashPoint = r.crashPoint;
      fill(out, h('p', { class: 'big-ish' }, `${r.crashPoint}x`, r.game ? ` · game ${r.game}` : ''),
        r.findings.map((f) => h('p', { class: f.ok ? 'ok' : 'bad' }, f.text)));
    } catch (err) {
      out.dataset.result = 'failed';
      fill(out, h('p', { class: 'bad' }, err.message));
    }
  };
  const el = h('section', { class: 'card stack', 'aria-label': 'A crash game hash' },
    h('h2', {}, 'A crash game\'s hash'),
    h('form', { class: 'row', onsubmit: submit },
      h('label', {}, 'Channel', channel), h('label', { class: 'wide' }, 'Game hash', hash),
      h('button', { id: 'verify-crash-run', type: 'submit' }, 'Check')),
    h('p', { class: 'muted' }, 'bustabit\'s crash point from the hash and the channel\'s salt, and sha256 applied until the channel\'s published terminating hash comes: the game\'s number on the chain.'),
    out);
  // #/verify/crash/<channel>/<hash> (the crash view's history links here): checked at once.
  const [kind, c, x] = ctx.params;
  if (kind === 'crash' && c && x) {
    channel.value = c;
    hash.value = x;
    queueMicrotask(() => submit({ preventDefault() {} }).then(() => el.scrollIntoView({ block: 'start' })));
  }
  return { el };
}
