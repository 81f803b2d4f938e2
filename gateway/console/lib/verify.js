// Checks a player can run in the browser, against what the API shows them, with the
// engine's published rules (engine/domain: decide/red_packets.rs `share_amount`, money.rs
// `payout`). Nothing here asks the server whether it was right.
//
// Each check returns a list of findings {ok, text}; a tampered answer yields ok: false.

import { toMinor, fromMinor, decimalsOf } from './money.js';

const MASK = (1n << 64n) - 1n;
const GOLDEN = 0x9e3779b97f4a7c15n;

/** SplitMix64, as the engine draws lucky shares. */
export function splitmix64(x) {
  x = (x + GOLDEN) & MASK;
  x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return x ^ (x >> 31n);
}

/** The highest share a lucky packet may give next: twice the mean of what is left, capped so
 * every later share keeps one minor unit (the double-mean method). */
export function luckyCap(rest, left) {
  let hi = 2n * (rest / left);
  if (rest - (left - 1n) < hi) hi = rest - (left - 1n);
  return hi < 1n ? 1n : hi;
}

/** Share k of a packet (all BigInt minor units), given what is still in it: the engine's
 * `share_amount`. For a lucky packet, `seed` (a u64 as BigInt) decides it exactly. */
export function shareAmount({ kind, total, shares, k, rest, seed }) {
  const left = shares - k;
  if (left === 1n) return rest;
  if (kind === 'normal') return total / shares + (k < total % shares ? 1n : 0n);
  const r = splitmix64(seed ^ ((k * GOLDEN) & MASK));
  return 1n + (r % luckyCap(rest, left));
}

/** A packet as GET /api/red_packets/{sender}/{id} shows it, checked share by share. With
 * `seed` a lucky packet's every share is recomputed; without it (players are not told the
 * seed) each share is checked against the bounds the rule guarantees. */
export function checkPacket(p, seed = null) {
  const d = decimalsOf(p.total);
  const m = (s) => toMinor(s, d);
  const total = m(p.total);
  const shares = BigInt(p.shares);
  const out = [];
  const say = (ok, text) => out.push({ ok, text });
  const got = p.grabs.map((g) => m(g.amount));
  const sum = got.reduce((a, b) => a + b, 0n);
  say(sum + m(p.remaining) === total,
    `grabbed ${fromMinor(sum, d)} + remaining ${p.remaining} = total ${p.total}`);
  say(got.length <= p.shares, `${got.length} of ${p.shares} shares grabbed`);
  const users = new Set(p.grabs.map((g) => g.user_id));
  say(users.size === p.grabs.length, 'one share per player');
  const full = got.length === p.shares;
  if (p.status !== 'expired') {
    say((p.status === 'exhausted') === full, `status ${p.status} with ${got.length}/${p.shares} grabbed`);
  }
  let rest = total;
  got.forEach((amount, i) => {
    const k = BigInt(i);
    const left = shares - k;
    const label = `share ${i + 1}: ${fromMinor(amount, d)}`;
    if (left === 1n) {
      say(amount === rest, `${label} is exactly what was left (${fromMinor(rest, d)})`);
    } else if (p.kind === 'normal' || seed !== null) {
      const want = shareAmount({ kind: p.kind, total, shares, k, rest, seed });
      say(amount === want, `${label} = ${fromMinor(want, d)} by the ${p.kind} rule`);
    } else {
      const hi = luckyCap(rest, left);
      say(amount >= 1n && amount <= hi, `${label} within [${fromMinor(1n, d)}, ${fromMinor(hi, d)}] (double mean)`);
    }
    rest -= amount;
  });
  return out;
}

/** A settled bet as GET /api/me/bets shows it: the payout by the engine's one rule,
 * payout = floor(stake × odds) for a won bet, the stake back for void and push, nothing
 * for a lost one. */
export function checkBet(b) {
  if (b.bill_status !== 2 || !b.outcome) return [];
  const d = decimalsOf(b.amount);
  const stake = toMinor(b.amount, d);
  const odds = toMinor(b.odds, 4); // odds are fixed point, 1/10000
  const want = { won: (stake * odds) / 10000n, lost: 0n, void: stake, push: stake }[b.outcome];
  const payout = toMinor(b.payout, d);
  const rule = b.outcome === 'won' ? `floor(${b.amount} × ${b.odds})` : b.outcome === 'lost' ? 'nothing' : 'the stake';
  return [{ ok: payout === want, text: `${b.order_no}: ${b.outcome}, payout ${b.payout} = ${rule} = ${fromMinor(want, d)}` }];
}
