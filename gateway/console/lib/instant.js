// Keno, mines and plinko, checked in the browser with WebCrypto (no call to the server):
// Stake's published outcome functions over Stake's byte stream, as the engine draws them
// (engine/domain/src/instant/{fair,keno,mines,plinko}.rs).
//   bytes: HMAC-SHA256(key = the server seed's text, message = "client_seed:nonce:round"),
//          round 0, 1, 2, … (32 bytes each); four bytes make u, a big-endian u32, f = u / 2^32.
//   keno: 10 of 40 and mines: m of 25 by index picking: the i-th number takes position
//          floor(f × (total − i)) among the items not yet taken;
//   plinko: one number per row, right when f ≥ 1/2; the slot is the number of rights.
// floor(f × n) = floor(u × n / 2^32): the product is below 2^38, exact in a double.
// Multipliers are integers in 1/10,000 (BigInt): Stake's tables (tables.json, checked against
// the engine by a Rust test), mines (1 − edge) · C(25, g) / C(25 − m, g) rounded down.

import { seedHash } from './dice.js';
import { toMinor, fromMinor, decimalsOf } from './money.js';

const TWO32 = 2 ** 32;
const SCALE = 10000n;

/** The first `count` numbers (u32) of a bet's stream. */
export async function units(serverSeed, clientSeed, nonce, count) {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', enc.encode(serverSeed), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const out = [];
  for (let round = 0; out.length < count; round++) {
    const mac = new DataView(await crypto.subtle.sign('HMAC', key, enc.encode(`${clientSeed}:${nonce}:${round}`)));
    for (let i = 0; i < 8 && out.length < count; i++) out.push(mac.getUint32(4 * i));
  }
  return out;
}

/** floor(f × n) for f = u / 2^32. */
export const scale = (u, n) => Math.floor((u * n) / TWO32);

/** `count` distinct items of 0..total, in the order drawn. */
export function pickDistinct(us, total, count) {
  const left = Array.from({ length: total }, (_, i) => i);
  const out = [];
  for (let i = 0; i < count; i++) out.push(left.splice(scale(us[i], total - i), 1)[0]);
  return out;
}

/** Keno's ten numbers, 1 to 40, in the order drawn. */
export async function kenoDraw(serverSeed, clientSeed, nonce) {
  return pickDistinct(await units(serverSeed, clientSeed, nonce, 10), 40, 10).map((t) => t + 1);
}

/** The tiles (0 to 24, row by row) of `mines` mines, in the order placed. */
export async function minesPlace(serverSeed, clientSeed, nonce, mines) {
  return pickDistinct(await units(serverSeed, clientSeed, nonce, mines), 25, mines);
}

/** Plinko's path over `rows` rows as "L"/"R" letters. */
export async function plinkoPath(serverSeed, clientSeed, nonce, rows) {
  return (await units(serverSeed, clientSeed, nonce, rows)).map((u) => (u >= 2 ** 31 ? 'R' : 'L')).join('');
}

let tablesPromise = null;
/** Stake's keno and plinko tables and the mines edge (lib/tables.json). */
export function tables() {
  tablesPromise ??= fetch('/console/lib/tables.json').then((r) => r.json());
  return tablesPromise;
}

/** Hundredths as a multiplier in 1/10,000. */
const fromHundredths = (h) => BigInt(h) * 100n;

export function kenoMultiplier(t, risk, picks, hits) {
  return fromHundredths(t.keno[risk][picks - 1][hits]);
}

export function plinkoMultiplier(t, risk, rows, slot) {
  return fromHundredths(t.plinko[risk][String(rows)][slot]);
}

function choose(n, k) {
  if (k > n) return 0n;
  let r = 1n;
  for (let i = 0n; i < BigInt(k); i++) r = (r * (BigInt(n) - i)) / (i + 1n);
  return r;
}

/** The mines multiplier after `gems` gems (1/10,000, rounded down), the engine's rule. */
export function minesMultiplier(mines, gems, edgeBp) {
  if (gems === 0 || gems > 25 - mines) return 0n;
  return ((10000n - BigInt(edgeBp)) * choose(25, gems)) / choose(25 - mines, gems);
}

/** A multiplier in 1/10,000 as the API writes it: "1.0312", "2", "0.2". */
export function formatMultiplier(m) {
  const whole = m / SCALE;
  const frac = (m % SCALE).toString().padStart(4, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : `${whole}`;
}

/** The numbers after `label` in a view's outcome ("drawn 3, 7; 2 hits"), or []. */
export function numbersAfter(text, label) {
  const m = new RegExp(`${label} ([\\d, ]+)`).exec(text || '');
  return m ? m[1].split(',').map((x) => x.trim()).filter(Boolean).map(Number) : [];
}

const sameSet = (a, b) => a.length === b.length && [...a].sort((x, y) => x - y).every((x, i) => x === [...b].sort((p, q) => p - q)[i]);

/** The payout check shared by the games: floor(stake × multiplier), at most that (a win cap). */
function payoutFinding(b, mult) {
  if (b.payout === undefined || b.payout === null) return [];
  const d = decimalsOf(b.amount);
  const want = (toMinor(b.amount, d) * mult) / SCALE;
  const paid = toMinor(b.payout, d);
  const ok = mult === 0n ? paid === 0n : paid === want || (paid < want && paid > 0n);
  return [{ ok, text: `paid ${b.payout}: floor(${b.amount} × ${formatMultiplier(mult)}) = ${fromMinor(want, d)}${paid < want ? ' (capped by the max win)' : ''}` }];
}

async function checkKeno(b, t) {
  const drawn = await kenoDraw(b.server_seed, b.client_seed, b.nonce);
  const out = [{ ok: sameSet(drawn, numbersAfter(b.outcome, 'drawn')), text: `nonce ${b.nonce}: drawn ${drawn.join(', ')} from the seeds (shown: ${b.outcome})` }];
  const picks = b.picks || [];
  const hits = picks.filter((p) => drawn.includes(p)).length;
  out.push({ ok: picks.length >= 1 && b.outcome.includes(`; ${hits} hits`), text: `picks ${picks.join(', ')}: ${hits} hits` });
  const mult = kenoMultiplier(t, b.risk, picks.length, hits);
  out.push({ ok: toMinor(b.multiplier, 4) === mult, text: `${b.risk}, ${picks.length} picks, ${hits} hits: ${formatMultiplier(mult)}x by the table (shown ${b.multiplier}x)` });
  return out.concat(payoutFinding(b, mult));
}

async function checkPlinko(b, t) {
  const path = await plinkoPath(b.server_seed, b.client_seed, b.nonce, b.rows);
  const slot = [...path].filter((c) => c === 'R').length;
  const out = [{ ok: b.outcome === `path ${path} slot ${slot}`, text: `nonce ${b.nonce}: path ${path}, slot ${slot} from the seeds (shown: ${b.outcome})` }];
  const mult = plinkoMultiplier(t, b.risk, b.rows, slot);
  out.push({ ok: toMinor(b.multiplier, 4) === mult, text: `${b.rows} rows ${b.risk}, slot ${slot}: ${formatMultiplier(mult)}x by the table (shown ${b.multiplier}x)` });
  return out.concat(payoutFinding(b, mult));
}

async function checkMines(b, t) {
  const mines = await minesPlace(b.server_seed, b.client_seed, b.nonce, b.mines);
  const shown = numbersAfter(b.outcome, 'mines at');
  const gems = numbersAfter(b.outcome, 'gems at');
  const out = [{ ok: sameSet(mines, shown), text: `nonce ${b.nonce}: ${b.mines} mines at ${[...mines].sort((x, y) => x - y).join(', ')} from the seeds (shown: ${shown.join(', ') || 'none'})` }];
  out.push({ ok: gems.every((g) => !mines.includes(g)), text: `the gems revealed (${gems.join(', ') || 'none'}) are no mines` });
  let mult;
  if (b.ended === 'mine') {
    out.push({ ok: mines.includes(b.mine_tile), text: `tile ${b.mine_tile}, which ended the game, is a mine` });
    mult = 0n;
  } else {
    mult = minesMultiplier(b.mines, gems.length, t.mines_edge_bp);
    out.push({ ok: toMinor(b.multiplier, 4) === mult, text: `${b.mines} mines, ${gems.length} gems: ${formatMultiplier(mult)}x (shown ${b.multiplier}x)` });
  }
  return out.concat(payoutFinding(b, mult));
}

/**
 * A keno, mines or plinko bet as GET /api/me/instant/bets shows it, its server seed revealed:
 * the seed against the hash shown before the bet, the outcome from the seeds, the multiplier
 * from the published rules, the payout. Returns findings {ok, text}.
 */
export async function checkInstantBet(b) {
  const t = await tables();
  const hash = await seedHash(b.server_seed);
  const out = [{ ok: hash === b.server_seed_hash, text: `sha256 of the revealed server seed is the hash shown before the bet (${b.server_seed_hash.slice(0, 12)}…)` }];
  const per = { keno: checkKeno, plinko: checkPlinko, mines: checkMines }[b.game];
  if (!per) return out.concat([{ ok: false, text: `no verifier for ${b.game} here` }]);
  return out.concat(await per(b, t));
}
