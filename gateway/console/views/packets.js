// Red packets (seed 002): send one (equal or lucky shares), share its link, grab a share,
// watch the grabs arrive (push topic packet:<sender>:<id>), and check the split in the
// browser with the engine's share rule (lib/verify.js).
//
// #/packets                     send, and the packets sent from this browser
// #/packets/<sender>/<id>       one packet: grab, grabs, the split checked

import { h, fill, randomId, time } from '../lib/dom.js';
import { checkPacket } from '../lib/verify.js';
import { toMinor } from '../lib/money.js';

const SENT_KEY = 'croupier.packets.sent';
const SENT_KEPT = 20;

export default {
  id: 'packets',
  title: 'Red packets',
  order: 20,
  needsSession: true,
  mount(root, ctx) {
    const [sender, id] = ctx.params;
    return sender && id ? packetPage(root, ctx, sender, id) : sendPage(root, ctx);
  },
};

/** The link anyone with a session can open to grab a share. */
export function packetLink(sender, id) {
  return `${location.origin}${location.pathname}#/packets/${sender}/${encodeURIComponent(id)}`;
}

function sentList() {
  try { return JSON.parse(sessionStorage.getItem(SENT_KEY)) || []; } catch { return []; }
}

function sendPage(root, ctx) {
  const amount = h('input', { id: 'packet-amount', inputmode: 'decimal', value: '8.88', size: 8, required: true });
  const shares = h('input', { id: 'packet-shares', type: 'number', min: 1, max: 1000, value: 3, size: 4, required: true });
  const kind = h('select', { id: 'packet-kind' }, h('option', { value: 'lucky' }, 'lucky (random shares)'), h('option', { value: 'normal' }, 'normal (equal shares)'));
  const result = h('div', { id: 'packet-sent', 'aria-live': 'polite' });
  const send = async (e) => {
    e.preventDefault();
    if (toMinor(amount.value, ctx.currency.decimals) === null) {
      amount.setCustomValidity('a decimal amount such as 8.88');
      return amount.reportValidity();
    }
    amount.setCustomValidity('');
    const packet_id = randomId('rp');
    try {
      const a = await ctx.api.post('/api/red_packets', { packet_id, amount: amount.value.trim(), shares: Number(shares.value), kind: kind.value });
      const link = packetLink(a.sender, a.packet_id);
      const list = [{ sender: a.sender, packet_id, amount: amount.value.trim(), shares: Number(shares.value), kind: kind.value, at: Date.now() }, ...sentList()].slice(0, SENT_KEPT);
      sessionStorage.setItem(SENT_KEY, JSON.stringify(list));
      fill(result, h('div', { class: 'card stack' },
        h('p', {}, `Sent ${amount.value} ${ctx.currency.code} in ${shares.value} shares. Share this link:`),
        h('div', { id: 'packet-link', class: 'link' }, link),
        h('div', { class: 'row' },
          h('button', { type: 'button', onclick: () => copy(link) }, 'Copy link'),
          h('a', { href: link, id: 'open-packet' }, 'Open the packet'))));
      renderSent();
      ctx.refreshBalance();
    } catch (err) {
      ctx.fail(err);
    }
  };
  const sent = h('ul', { class: 'feed', id: 'packets-sent' });
  const renderSent = () => fill(sent, sentList().map((p) => h('li', {},
    h('a', { href: packetLink(p.sender, p.packet_id) }, `${p.packet_id}`),
    h('span', { class: 'muted' }, `${p.amount} · ${p.shares} ${p.kind} · ${time(p.at)}`))));
  fill(root, h('h1', {}, 'Red packets'),
    h('div', { class: 'grid two' },
      h('section', { class: 'card stack' },
        h('h2', {}, 'Send a red packet'),
        h('form', { class: 'row', onsubmit: send },
          h('label', {}, `Amount (${ctx.currency.code})`, amount), h('label', {}, 'Shares', shares), h('label', {}, 'Kind', kind),
          h('button', { class: 'primary', type: 'submit', id: 'send-packet' }, 'Send')),
        result),
      h('section', { class: 'card' }, h('h2', {}, 'Sent from this browser'), sent,
        h('p', { class: 'muted' }, 'Someone sent you a link? Open it: the packet opens here.'))));
  renderSent();
  return null;
}

async function copy(text) {
  try { await navigator.clipboard.writeText(text); } catch { /* the link is on screen to copy by hand */ }
}

function packetPage(root, ctx, sender, id) {
  const head = h('div', { id: 'packet-head', 'aria-live': 'polite' }, 'Loading…');
  const grab = h('button', { id: 'grab', class: 'primary', disabled: true, onclick: () => doGrab() }, 'Grab a share');
  const mine = h('div', { id: 'my-grab', 'aria-live': 'polite' });
  const grabs = h('tbody', { id: 'grabs' });
  const checks = h('div', { id: 'packet-checks' });
  const link = packetLink(sender, id);
  fill(root, h('h1', {}, 'Red packet ', h('span', { class: 'muted' }, id)),
    h('div', { class: 'grid two' },
      h('section', { class: 'card stack' }, head, h('div', { class: 'row' }, grab, h('button', { onclick: () => copy(link) }, 'Copy link')), mine,
        h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'player'), h('th', { class: 'num' }, 'share'))), grabs)),
      h('section', { class: 'card' }, h('h2', {}, 'Split checked in this browser'),
        h('p', { class: 'muted' }, 'Each share against the engine\'s rule: equal shares (the remainder a minor unit each to the first), or for a lucky packet at most twice the mean of what is left and at least one minor unit, the last share taking exactly the rest. A lucky packet\'s seed is secret, so the bounds are checked, not the draw.'),
        checks)));
  let view = null;
  const load = async () => {
    try {
      view = await ctx.api.get(`/api/red_packets/${encodeURIComponent(sender)}/${encodeURIComponent(id)}`);
      render();
    } catch (e) {
      fill(head, h('p', {}, e.code === 'PACKET_NOT_FOUND' ? 'No such red packet.' : e.message));
    }
  };
  const render = () => {
    const me = view.grabs.findIndex((g) => g.user_id === ctx.player.user_id);
    fill(head, h('div', { class: 'big' }, `${view.total} ${view.currency}`),
      h('div', {}, h('span', { class: 'tag', id: 'packet-status' }, view.status), ` ${view.kind} · ${view.grabs.length}/${view.shares} grabbed · ${view.remaining} left · from user ${view.sender}`));
    grab.disabled = view.status !== 'open' || me >= 0;
    if (me >= 0) fill(mine, h('p', { class: 'won' }, `You got ${view.grabs[me].amount} ${view.currency} (share ${me + 1}).`));
    fill(grabs, view.grabs.map((g, i) => h('tr', { class: g.user_id === ctx.player.user_id ? 'won' : '' },
      h('td', {}, String(i + 1)), h('td', {}, `user ${g.user_id}`), h('td', { class: 'num' }, g.amount))));
    const found = checkPacket(view);
    checks.dataset.result = found.every((c) => c.ok) ? 'ok' : 'failed';
    fill(checks, found.map((c) => h('p', { class: c.ok ? 'ok' : 'bad' }, c.text)));
  };
  const doGrab = async () => {
    grab.disabled = true;
    try {
      const a = await ctx.api.post(`/api/red_packets/${encodeURIComponent(sender)}/${encodeURIComponent(id)}/grab`);
      fill(mine, h('p', { class: 'won' }, `You got ${a.amount} ${view?.currency || ''} (share ${a.share + 1})${a.credited ? '' : '; it is on its way to your balance'}.`));
      ctx.refreshBalance();
      await load();
    } catch (e) {
      ctx.fail(e);
      grab.disabled = false;
    }
  };
  const off = ctx.push.on(`packet:${sender}:${id}`, () => load());
  load();
  return off;
}
