// The console's shell: the session (a demo player, or a pasted session token), the
// navigation, the hash router, the push connection and the balance in the header. Each view
// is one file in views/ (listed by the server in /console/views.json) exporting
//   { id, title, order, needsSession, mount(root, ctx) → cleanup function }
// so a new game view is one new file and nothing else.

import { h, fill, toast } from './lib/dom.js';
import { call, session as bind, ApiError } from './lib/api.js';
import { Push } from './lib/push.js';

const TOKEN_KEY = 'croupier.token';
const DEMO_USER_KEY = 'croupier.demo.user';

const app = {
  info: null,
  demo: null, // GET /console/demo on a demo server
  player: null, // {user_id, name, token}
  views: [],
  cleanup: null,
  balances: [],
  push: new Push((s) => {
    const el = document.getElementById('push-state');
    el.dataset.state = s;
    el.textContent = `push: ${s}`;
  }),
};

async function boot() {
  app.info = await call('GET', '/console/info');
  if (app.info.demo) app.demo = await call('GET', '/console/demo');
  const names = await call('GET', '/console/views.json');
  const modules = await Promise.all(names.map((n) => import(`/console/${n}`)));
  app.views = modules.map((m) => m.default).filter((v) => v && v.id).sort((a, b) => (a.order ?? 99) - (b.order ?? 99));
  app.push.listen('auth', () => sessionLost());
  app.push.on('balance', () => refreshBalance());
  await restoreSession();
  window.addEventListener('hashchange', route);
  route();
  document.body.dataset.ready = 'true';
}

async function restoreSession() {
  if (app.demo) {
    const want = Number(sessionStorage.getItem(DEMO_USER_KEY));
    const p = app.demo.players.find((x) => x.user_id === want) || app.demo.players[0];
    return usePlayer({ user_id: p.user_id, name: p.name, token: p.token });
  }
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) {
    try {
      const b = await call('GET', '/api/me/balance', { token });
      return usePlayer({ user_id: b.user_id, name: `user ${b.user_id}`, token });
    } catch {
      sessionStorage.removeItem(TOKEN_KEY);
    }
  }
  usePlayer(null);
}

function usePlayer(p) {
  app.player = p;
  if (p) {
    app.push.connect(p.token);
    if (app.demo) sessionStorage.setItem(DEMO_USER_KEY, String(p.user_id));
    else sessionStorage.setItem(TOKEN_KEY, p.token);
  } else {
    app.push.close();
  }
  renderWho();
  refreshBalance();
}

/** The session expired or was revoked: a demo takes fresh tokens, otherwise ask again. */
async function sessionLost() {
  if (app.demo) {
    app.demo = await call('GET', '/console/demo');
    const p = app.demo.players.find((x) => x.user_id === app.player?.user_id) || app.demo.players[0];
    usePlayer({ user_id: p.user_id, name: p.name, token: p.token });
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
    toast('The session ended; paste a new session token.', 'error');
    usePlayer(null);
  }
  route();
}

let balanceTimer = null;
/** Reads the balance again, at most once per 150 ms however many pushes arrive. */
function refreshBalance() {
  clearTimeout(balanceTimer);
  balanceTimer = setTimeout(async () => {
    if (!app.player) return;
    try {
      const b = await call('GET', '/api/me/balance', { token: app.player.token });
      app.balances = b.balances;
      renderBalance();
      window.dispatchEvent(new CustomEvent('croupier:balance', { detail: b.balances }));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) sessionLost();
    }
  }, 150);
}

function renderBalance() {
  const el = document.getElementById('balance');
  if (!el) return;
  const b = app.balances[0];
  const cur = app.info.currencies[0]?.code || '';
  fill(el, b ? `${b.available} ${b.currency}` : `0 ${cur}`, b && b.held !== '0.00' && b.held !== '0' ? ` (${b.held} held)` : '');
}

function renderWho() {
  const who = document.getElementById('who');
  if (app.demo) {
    const select = h('select', { id: 'player', 'aria-label': 'Play as', onchange: (e) => {
      const p = app.demo.players.find((x) => x.user_id === Number(e.target.value));
      usePlayer({ user_id: p.user_id, name: p.name, token: p.token });
      route();
    } }, app.demo.players.map((p) => h('option', { value: p.user_id, selected: p.user_id === app.player?.user_id }, `${p.name} (user ${p.user_id})`)));
    fill(who, h('span', { class: 'tag' }, 'demo'), h('label', {}, 'Play as', select), h('span', { id: 'balance', class: 'big-ish' }));
  } else if (app.player) {
    fill(who, h('span', {}, `user ${app.player.user_id}`), h('span', { id: 'balance' }),
      h('button', { onclick: () => { sessionStorage.removeItem(TOKEN_KEY); usePlayer(null); route(); } }, 'Sign out'));
  } else {
    fill(who, h('span', { class: 'muted' }, 'no session'));
  }
  renderBalance();
}

function renderNav(current) {
  fill(document.getElementById('nav'), app.views.map((v) =>
    h('a', { href: `#/${v.id}`, 'aria-current': v.id === current ? 'page' : false }, v.title)));
}

function tokenForm(root) {
  const input = h('input', { id: 'token', type: 'text', autocomplete: 'off', spellcheck: false, placeholder: 'v2.7.…' });
  const submit = async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    try {
      const b = await call('GET', '/api/me/balance', { token });
      usePlayer({ user_id: b.user_id, name: `user ${b.user_id}`, token });
      route();
    } catch (err) {
      toast(`That token was refused: ${err.message}`, 'error');
    }
  };
  fill(root, h('div', { class: 'card stack' },
    h('h1', {}, 'Session token'),
    h('p', {}, 'This view plays as a player. Paste a session token from your operator ',
      '(POST /api/sessions; see the README), or start the server with ', h('code', {}, '--demo'), '.'),
    h('form', { class: 'row', onsubmit: submit }, h('label', { class: 'wide' }, 'Token', input), h('button', { class: 'primary', type: 'submit' }, 'Use this session'))));
  input.focus();
}

function route() {
  const [id, ...params] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const view = app.views.find((v) => v.id === id) || app.views[0];
  renderNav(view?.id);
  if (app.cleanup) { try { app.cleanup(); } catch (e) { console.error(e); } app.cleanup = null; }
  const root = document.getElementById('main');
  fill(root);
  if (!view) return fill(root, h('p', {}, 'No views.'));
  root.dataset.view = view.id;
  if (view.needsSession && !app.player) return tokenForm(root);
  const api = app.player ? bind(app.player.token) : null;
  const ctx = {
    info: app.info,
    isDemo: Boolean(app.demo),
    player: app.player,
    api,
    push: app.push,
    params: params.filter(Boolean),
    currency: app.info.currencies[0] || { code: '', decimals: 2 },
    balances: () => app.balances,
    refreshBalance,
    navigate: (hash) => { location.hash = hash; },
    fail: (e) => {
      toast(e.message || String(e), 'error');
      if (e instanceof ApiError && e.status === 401) sessionLost();
    },
  };
  app.cleanup = view.mount(root, ctx) || null;
}

boot().catch((e) => {
  fill(document.getElementById('main'), h('div', { class: 'card' }, h('h1', {}, 'The console could not start'), h('p', {}, String(e.message || e))));
  document.body.dataset.ready = 'error';
});
