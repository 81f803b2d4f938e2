// The crash game's fairness, checked in the browser with WebCrypto (no call to the server):
// bustabit's v2 crash point of a game hash and salt, and the hash chain. The rules are the
// engine's (engine/domain/src/crash/fair.rs), which are bustabit's open-source verifier's:
//   crash point = max(100, floor(99 / (1 − X))) hundredths, X = r / 2^52, r the 52 most
//   significant bits of HMAC-SHA256(key = the salt's text, message = the hash's raw bytes);
//   game n − 1's hash = sha256(game n's 32 raw bytes).
// The division is done in IEEE doubles, exactly as the reference does (JavaScript's numbers
// are those doubles), so the floor is the same; the result is formatted through BigInt.

/** The curve: the multiplier `ms` after take-off, in hundredths (floor(100 · e^(0.00006 t))). */
export function multiplierAt(ms) {
  return Math.max(100, Math.floor(100 * Math.exp(0.00006 * Math.max(0, ms))));
}

/** Hundredths → "1.53". */
export function formatHundredths(h) {
  const n = BigInt(h);
  return `${n / 100n}.${(n % 100n).toString().padStart(2, '0')}`;
}

export function hexToBytes(hex) {
  if (!/^[0-9a-f]{64}$/i.test(hex)) throw new Error(`not a 32-byte hash: ${hex}`);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The crash point of a game, in hundredths (a Number; exact below 2^53, and the reference's
 * double above). */
export async function crashPoint(hashHex, salt) {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(salt), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = bytesToHex(await crypto.subtle.sign('HMAC', key, hexToBytes(hashHex)));
  const r = parseInt(mac.slice(0, 13), 16); // 13 hex digits = the top 52 bits
  const x = r / 2 ** 52;
  return Math.max(100, Math.floor(99 / (1 - x)));
}

/** The hash of the game before `hashHex` on its chain. */
export async function previousHash(hashHex) {
  return bytesToHex(await crypto.subtle.digest('SHA-256', hexToBytes(hashHex)));
}

/** Hashes down `steps` games. */
export async function hashDown(hashHex, steps) {
  let h = hashHex;
  for (let i = 0; i < steps; i++) h = await previousHash(h);
  return h;
}

/** Most hashes computed to link a game to the nearest known one below it. */
export const MAX_CHAIN_WALK = 2000;

/**
 * Checks the finished terms of GET /api/crash/channels/{c}/terms: each one's crash point
 * recomputed from its hash and the salt, and its hash chained down to the nearest older game
 * shown (or to the published terminating hash). Returns, per term number, {ok, findings}.
 */
export async function checkTerms({ salt, terminating_hash: terminating, terms }) {
  const known = new Map(terms.filter((t) => t.hash && t.game).map((t) => [t.game, t.hash]));
  known.set(0, terminating);
  const games = [...known.keys()].sort((a, b) => a - b);
  const out = new Map();
  for (const t of terms) {
    if (!t.hash || !t.game) continue;
    const findings = [];
    const cp = await crashPoint(t.hash, salt);
    findings.push({ ok: formatHundredths(cp) === t.crash_point, text: `crash point ${formatHundredths(cp)}x from the hash and salt (shown ${t.crash_point}x)` });
    const below = games.filter((g) => g < t.game).pop();
    const steps = t.game - below;
    if (steps > MAX_CHAIN_WALK) {
      findings.push({ ok: false, text: `game ${t.game}: no known hash within ${MAX_CHAIN_WALK} games below to chain to` });
    } else {
      const down = await hashDown(t.hash, steps);
      const to = below === 0 ? 'the terminating hash' : `game ${below}'s hash`;
      findings.push({ ok: down === known.get(below), text: `sha256^${steps} of game ${t.game}'s hash is ${to}` });
    }
    out.set(t.number, { ok: findings.every((f) => f.ok), findings });
  }
  return out;
}

/** Most hashes computed to find a game's place on its chain (a channel's games revealed so
 * far bound it further). */
export const MAX_CHAIN_SEARCH = 200000;

/**
 * One game hash checked on its own, as a player pastes it: its crash point from the hash and
 * the salt, and its place on the chain, found by hashing down (sha256 of game n's hash is
 * game n − 1's) until the channel's published terminating hash (game 0) comes, at most
 * `maxSteps` times. `expected` (optional) is the crash point shown for it ("2.53").
 * Returns {ok, game, crashPoint, findings}.
 */
export async function checkHash({ hash, salt, terminating, maxSteps = MAX_CHAIN_SEARCH, expected = null }) {
  const findings = [];
  const cp = await crashPoint(hash, salt);
  findings.push({ ok: true, text: `crash point ${formatHundredths(cp)}x from the hash and salt` });
  if (expected !== null) findings.push({ ok: formatHundredths(cp) === expected, text: `the crash point shown is ${expected}x` });
  let h = hash.toLowerCase();
  let game = null;
  for (let n = 1; n <= Math.min(maxSteps, MAX_CHAIN_SEARCH); n++) {
    h = await previousHash(h);
    if (h === terminating) { game = n; break; }
  }
  findings.push(game === null
    ? { ok: false, text: `no chain to the terminating hash within ${Math.min(maxSteps, MAX_CHAIN_SEARCH)} games` }
    : { ok: true, text: `game ${game}: sha256^${game} of the hash is the terminating hash ${terminating.slice(0, 12)}…` });
  return { ok: findings.every((f) => f.ok), game, crashPoint: formatHundredths(cp), findings };
}
