// The operator's view of the engine, live: bets per second, bet latency percentiles, ring
// depth per shard, journal positions, projector and push lag, WebSocket sessions. Read from
// /metrics (public, no session needed) once a second, and from the push (the public bets
// feed) when a session is open.

import { h, fill } from '../lib/dom.js';
import { parse, sum, byLabel, buckets, quantile } from '../lib/metrics.js';
import { LineChart, fmt } from '../lib/chart.js';

const EVERY_MS = 1000;
const BET_ROUTE = { route: '/api/bet' };

export default {
  id: 'operator',
  title: 'Operator',
  order: 80,
  needsSession: false,
  mount(root, ctx) {
    const panels = {};
    const panel = (id, title, unit, note) => {
      const canvas = h('canvas', { id: `chart-${id}`, role: 'img', 'aria-label': title });
      const figures = h('div', { class: 'metric', id: `fig-${id}` });
      panels[id] = { chart: new LineChart(canvas, { unit }), figures };
      return h('section', { class: 'card' }, h('h2', {}, title), canvas, figures, note ? h('p', { class: 'muted' }, note) : null);
    };
    fill(root, h('h1', {}, 'Operator'),
      h('p', { class: 'muted' }, `${ctx.info.shards} shards · figures from /metrics every second`, ctx.player ? ' and the push' : ''),
      h('div', { class: 'grid three' },
        panel('bets', 'Bets per second', '/s', 'Accepted bets (HTTP 200 on /api/bet), and bets on the push feed.'),
        panel('latency', 'Bet latency', ' ms', 'Percentiles of /api/bet answers in the last second, from the histogram.'),
        panel('ring', 'Ring depth per shard', '', 'Commands waiting in each shard\'s ring.'),
        panel('journal', 'Journal position per shard', '', 'Last durable record of each shard\'s journal.'),
        panel('lag', 'Projector and push lag', ' rec', 'Durable records not yet projected (SQL, stream) or pushed.'),
        panel('sockets', 'WebSocket sessions', '', 'Open sessions, and subscribers dropped as too slow.')));
    let before = null;
    let pushBets = 0;
    const offBets = ctx.player ? ctx.push.on('bets', (ev) => { if (ev.type === 'bet_accepted') pushBets += 1; }) : () => {};
    const show = (id, values, digits = fmt) => {
      panels[id].chart.push(values);
      fill(panels[id].figures, Object.entries(values).map(([k, v], i) =>
        h('span', {}, h('span', { style: `color:${panels[id].chart.color(i)}` }, '■ '), `${k} `, h('b', {}, digits(v)))));
    };
    const scrape = async () => {
      let text;
      try {
        const r = await fetch('/metrics');
        text = await r.text();
      } catch {
        return;
      }
      const now = { at: performance.now(), samples: parse(text) };
      now.bets = sum(now.samples, 'croupier_http_requests_total', { ...BET_ROUTE, status: '200' });
      now.hist = buckets(now.samples, 'croupier_http_request_duration_seconds', BET_ROUTE);
      if (before) {
        const secs = (now.at - before.at) / 1000;
        const bets = { 'HTTP bets/s': (now.bets - before.bets) / secs };
        if (ctx.player) bets['push bets/s'] = pushBets / secs;
        show('bets', bets);
        const ms = (q) => { const v = quantile(q, before.hist, now.hist); return v === null ? 0 : v * 1000; };
        show('latency', { p50: ms(0.5), p99: ms(0.99), 'p99.9': ms(0.999) });
      }
      pushBets = 0;
      const perShard = (name, match) => Object.fromEntries(Object.entries(byLabel(now.samples, name, 'shard', match)).map(([s, v]) => [`shard ${s}`, v]));
      show('ring', perShard('croupier_ring_depth'), (v) => String(v));
      show('journal', perShard('croupier_journal_position'), (v) => String(v));
      const lag = {};
      for (const s of now.samples.filter((x) => x.name === 'croupier_projector_lag_records')) {
        lag[`${s.labels.projector} ${s.labels.shard}`] = s.value;
      }
      lag.push = sum(now.samples, 'croupier_journal_lag_records');
      show('lag', lag, (v) => String(v));
      show('sockets', { open: sum(now.samples, 'croupier_ws_sessions'), dropped: sum(now.samples, 'croupier_ws_dropped_total') }, (v) => String(v));
      before = now;
    };
    scrape();
    const timer = setInterval(scrape, EVERY_MS);
    return () => { clearInterval(timer); offBets(); };
  },
};
