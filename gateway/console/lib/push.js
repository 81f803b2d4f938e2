// The WebSocket push (/ws) as the views use it: one connection per session, authenticated
// by a first {"op":"auth"} message (a browser cannot set headers on a WebSocket, and the
// token never goes in the URL), topics subscribed on demand, and after a drop a reconnect
// that resumes from the last position seen on each shard.

/** The server refuses more than 64 topics per connection and has no unsubscribe: past this
 * many, the connection is renewed with only the topics still watched. */
const TOPIC_BUDGET = 48;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;

export class Push {
  constructor(onState = () => {}) {
    this.onState = onState;
    this.handlers = new Map(); // topic → Set of fn(event, msg)
    this.listeners = { reload: new Set(), auth: new Set() };
    this.positions = {}; // shard → last position received
    this.ws = null;
    this.token = null;
    this.live = false;
    this.onServer = new Set();
    this.retryMs = RETRY_MIN_MS;
    this.timer = null;
  }

  /** Connects (again) as the player of `token`; a new player starts without a resume. */
  connect(token) {
    if (token !== this.token) this.positions = {};
    this.token = token;
    this.renew();
  }

  close() {
    this.token = null;
    this.renew();
  }

  /** Calls fn(event, message) for every push on `topic`; returns the function that stops it. */
  on(topic, fn) {
    if (!this.handlers.has(topic)) this.handlers.set(topic, new Set());
    this.handlers.get(topic).add(fn);
    if (this.live && !this.onServer.has(topic)) {
      if (this.onServer.size >= TOPIC_BUDGET) this.renew();
      else this.subscribe([topic]);
    }
    return () => {
      const set = this.handlers.get(topic);
      set?.delete(fn);
      if (set && set.size === 0) this.handlers.delete(topic);
    };
  }

  /** 'reload' (what was missed is no longer buffered: read it again over HTTP) or 'auth'
   * (the session ended: expired or revoked). */
  listen(kind, fn) {
    this.listeners[kind].add(fn);
    return () => this.listeners[kind].delete(fn);
  }

  renew() {
    clearTimeout(this.timer);
    if (this.ws) {
      const old = this.ws;
      this.ws = null;
      old.onclose = null;
      old.close();
    }
    this.live = false;
    this.onServer = new Set();
    if (!this.token) return this.onState('off');
    this.onState('connecting');
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ op: 'auth', token: this.token }));
    ws.onmessage = (m) => this.receive(JSON.parse(m.data));
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.live = false;
      this.onState('connecting');
      this.timer = setTimeout(() => this.renew(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    };
  }

  subscribe(topics) {
    if (!topics.length) return;
    topics.forEach((t) => this.onServer.add(t));
    const msg = { op: 'subscribe', topics };
    if (Object.keys(this.positions).length) msg.resume = this.positions;
    this.ws.send(JSON.stringify(msg));
  }

  receive(msg) {
    switch (msg.type) {
      case 'authenticated':
        this.live = true;
        this.retryMs = RETRY_MIN_MS;
        this.onState('live');
        this.subscribe([...this.handlers.keys()]);
        break;
      case 'event': {
        const s = String(msg.shard);
        if (!(msg.position <= this.positions[s])) this.positions[s] = msg.position;
        for (const fn of this.handlers.get(msg.topic) || []) fn(msg.event, msg);
        break;
      }
      case 'reload':
        delete this.positions[String(msg.shard)];
        this.listeners.reload.forEach((fn) => fn(msg));
        break;
      case 'error':
        if (msg.code === 'TOKEN_EXPIRED' || msg.code === 'TOKEN_REVOKED' || msg.code === 'UNAUTHORIZED') {
          this.token = null;
          this.listeners.auth.forEach((fn) => fn(msg));
        } else {
          console.warn('push error', msg);
        }
        break;
      default:
        break; // subscribed, pong, dropped (the close that follows reconnects)
    }
  }
}
