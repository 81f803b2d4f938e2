// Dice, checked in the browser with WebCrypto (no call to the server): Stake's provably fair
// stream as the engine draws it (engine/domain/src/instant/fair.rs, dice.rs). Bytes are
// HMAC-SHA256(key = the server seed's text, message = "client_seed:nonce:round"); the first
// four make u, a big-endian u32, and the roll is floor(u × 10001 / 2^32) hundredths (0.00 to
// 100.00): the product has at most 46 significant bits, exact in a double. A server seed's
// commitment, shown before any bet, is sha256 of its text.

import { bytesToHex } from './crash.js';
import { toMinor, fromMinor, decimalsOf } from './money.js';

export async function diceRoll(serverSeed, clientSeed, nonce) {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', enc.encode(serverSeed), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(`${clientSeed}:${nonce}:0`)));
  const u = ((mac[0] << 24) >>> 0) + (mac[1] << 16) + (mac[2] << 8) + mac[3];
  return Math.floor((u * 10001) / 2 ** 32);
}

export async function seedHash(serverSeed) {
  return bytesToHex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(serverSeed)));
}

export function formatRoll(hundredths) {
  return `${Math.floor(hundredths / 100)}.${String(hundredths % 100).padStart(2, '0')}`;
}

/** A dice bet as GET /api/me/instant/bets shows it, with its server seed revealed. `call`
 * ({target, over}, as typed) when this page placed it: the bet view does not repeat it.
 * Returns findings {ok, text}. */
export async function checkDiceBet(b, call = null) {
  const out = [];
  const hash = await seedHash(b.server_seed);
  out.push({ ok: hash === b.server_seed_hash, text: `sha256 of the revealed server seed is the hash shown before the bet (${b.server_seed_hash.slice(0, 12)}…)` });
  const roll = await diceRoll(b.server_seed, b.client_seed, b.nonce);
  out.push({ ok: b.outcome === `roll ${formatRoll(roll)}`, text: `nonce ${b.nonce}: roll ${formatRoll(roll)} from the seeds (shown: ${b.outcome})` });
  const d = decimalsOf(b.amount);
  const stake = toMinor(b.amount, d);
  const mult = toMinor(b.multiplier, 4);
  if (b.payout !== undefined && b.payout !== null && mult !== null) {
    const want = (stake * mult) / 10000n;
    const paid = toMinor(b.payout, d);
    out.push({ ok: mult === 0n ? paid === 0n : paid <= want && paid > 0n, text: `paid ${b.payout}: floor(${b.amount} × ${b.multiplier}) = ${fromMinor(want, d)}${mult === 0n ? '' : ' at most (the win cap)'}` });
  }
  if (call) {
    const won = call.over ? roll > call.target : roll < call.target;
    out.push({ ok: won === (mult !== 0n), text: `${call.over ? 'over' : 'under'} ${formatRoll(call.target)}: ${won ? 'won' : 'lost'}` });
  }
  return out;
}
