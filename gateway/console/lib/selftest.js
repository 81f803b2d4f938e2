// The console's own checks, run in the browser (the Verify view shows them; the browser test
// requires every one to pass): the money conversions, the port of the engine's share rule
// against splits made by the engine itself (lib/vectors.json, checked by a Rust test against
// croupier_domain::share_amount), the payout rule, and the metrics reader. Each check also
// feeds a tampered answer to the verifier and requires it to be refused: a verifier that
// says yes to everything fails here.

import { toMinor, fromMinor } from './money.js';
import { splitmix64, shareAmount, checkPacket, checkBet } from './verify.js';
import { parse, buckets, quantile, byLabel } from './metrics.js';
import { crashPoint, checkTerms, checkHash, multiplierAt, formatHundredths } from './crash.js';
import { diceRoll, checkDiceBet, formatRoll, seedHash } from './dice.js';
import { kenoDraw, minesPlace, plinkoPath, minesMultiplier, formatMultiplier, checkInstantBet, tables, plinkoMultiplier } from './instant.js';
import { shoe, shoeLength, cardName, replay, staked, result, checkBlackjackBet } from './blackjack.js';

const allOk = (found) => found.length > 0 && found.every((c) => c.ok);
const someBad = (found) => found.some((c) => !c.ok);

function packetOf({ kind, total, shares, grabs, remaining, status }) {
  return { total, shares, kind, status, remaining, grabs: grabs.map((amount, i) => ({ user_id: i + 1, amount })) };
}

export async function run() {
  const results = [];
  const check = (name, ok, detail = '') => results.push({ name, ok: Boolean(ok), detail });
  const attempt = async (name, f) => {
    try { await f(); } catch (e) { check(name, false, String(e && e.stack || e)); }
  };

  await attempt('money', () => {
    check('decimal strings to minor units and back', toMinor('12.50', 2) === 1250n && fromMinor(1250n, 2) === '12.50'
      && toMinor('0.05', 2) === 5n && toMinor('3', 2) === 300n && fromMinor(-5n, 2) === '-0.05'
      && toMinor('9007199254740993.01', 2) === 900719925474099301n);
    check('malformed amounts are refused', [toMinor('1.234', 2), toMinor('-1', 2), toMinor('1e3', 2), toMinor('', 2)].every((x) => x === null));
  });

  await attempt('splitmix64', () => {
    // The first output of SplitMix64 from state 0, as published with the generator.
    check('SplitMix64 reference value', splitmix64(0n) === 0xe220a8397b1dcdafn);
  });

  await attempt('lucky vectors', async () => {
    const v = await (await fetch('/console/lib/vectors.json')).json();
    for (const p of v.lucky) {
      const seed = BigInt(p.seed);
      const total = toMinor(p.total, 2);
      const shares = BigInt(p.shares);
      let rest = total;
      const mine = [];
      for (let k = 0n; k < shares; k++) {
        const s = shareAmount({ kind: 'lucky', total, shares, k, rest, seed });
        mine.push(fromMinor(s, 2));
        rest -= s;
      }
      check(`lucky split of ${p.total} in ${p.shares} (seed ${p.seed}) equals the engine's`, JSON.stringify(mine) === JSON.stringify(p.grabs), `${mine} vs ${p.grabs}`);
      const packet = packetOf({ kind: 'lucky', total: p.total, shares: p.shares, grabs: p.grabs, remaining: '0.00', status: 'exhausted' });
      check(`the engine's lucky split of ${p.total} passes with its seed and within the bounds`, allOk(checkPacket(packet, seed)) && allOk(checkPacket(packet)));
      const other = checkPacket(packet, seed ^ 1n);
      if (p.shares > 2 && p.total !== '0.05') check(`another seed is refused for ${p.total}`, someBad(other));
    }
  });

  await attempt('normal packets', () => {
    const good = packetOf({ kind: 'normal', total: '10.00', shares: 3, grabs: ['3.34', '3.33', '3.33'], remaining: '0.00', status: 'exhausted' });
    check('10.00 in 3 equal shares: 3.34, 3.33, 3.33', allOk(checkPacket(good)));
    const swapped = packetOf({ kind: 'normal', total: '10.00', shares: 3, grabs: ['3.33', '3.34', '3.33'], remaining: '0.00', status: 'exhausted' });
    check('the remainder given to a later share is refused', someBad(checkPacket(swapped)));
    const short = packetOf({ kind: 'normal', total: '10.00', shares: 3, grabs: ['3.34', '3.33'], remaining: '3.32', status: 'open' });
    check('money missing from the pool is refused', someBad(checkPacket(short)));
    const open = packetOf({ kind: 'lucky', total: '1.00', shares: 4, grabs: ['0.60'], remaining: '0.40', status: 'open' });
    check('a lucky share above twice the mean is refused', someBad(checkPacket(open)));
  });

  await attempt('payouts', () => {
    const bet = { order_no: 'o', bill_status: 2, amount: '10.00', odds: '1.95', outcome: 'won', payout: '19.50' };
    check('won 10.00 at 1.95 pays 19.50', allOk(checkBet(bet)));
    check('a payout off by one minor unit is refused', someBad(checkBet({ ...bet, payout: '19.51' })));
    check('a push gives the stake back', allOk(checkBet({ ...bet, outcome: 'push', payout: '10.00' })));
    check('a lost bet pays nothing', allOk(checkBet({ ...bet, outcome: 'lost', payout: '0.00' })) && someBad(checkBet({ ...bet, outcome: 'lost', payout: '10.00' })));
    check('floor, not rounding: 0.33 at 1.95 pays 0.64', allOk(checkBet({ ...bet, amount: '0.33', payout: '0.64' })));
  });

  await attempt('crash', async () => {
    // bustabit's own results (lib/vectors.json, checked by a Rust test against the engine).
    const v = (await (await fetch('/console/lib/vectors.json')).json()).crash;
    const points = async (salt, games) => Promise.all(games.map(([hash]) => crashPoint(hash, salt)));
    const chain = await points(v.salt, v.chain);
    check('bustabit crash points of a chain', chain.every((p, i) => p === v.chain[i][1]), chain.join(' '));
    const ext = await points(v.salt, v.extremes);
    check('instant crashes and the highest busts', ext.every((p, i) => p === v.extremes[i][1]), ext.join(' '));
    const other = await points(v.other_salt.salt, v.other_salt.games);
    check('another salt', other.every((p, i) => p === v.other_salt.games[i][1]), other.join(' '));
    check('the curve: 1.00x at take-off, 2.00x after 11,553 ms', multiplierAt(0) === 100 && multiplierAt(11552) === 199 && multiplierAt(11553) === 200);
    // The chain's lines as games n..1 over a terminating hash (its last line).
    const n = v.chain.length - 1;
    const terms = v.chain.slice(0, n).map(([hash, p], i) => ({ number: n - i, game: n - i, hash, crash_point: formatHundredths(p) }));
    const published = { salt: v.salt, terminating_hash: v.chain[n][0], terms };
    const good = await checkTerms(published);
    check('a published history verifies', good.size === n && [...good.values()].every((r) => r.ok));
    const lied = await checkTerms({ ...published, terms: terms.map((t, i) => (i === 3 ? { ...t, crash_point: '9.99' } : t)) });
    check('a crash point that is not the hash\'s is refused', !lied.get(terms[3].number).ok);
    const resalted = await checkTerms({ ...published, salt: v.other_salt.salt });
    check('another salt is refused', [...resalted.values()].some((r) => !r.ok));
    const swapped = terms.map((t, i) => (i === 1 ? { ...t, hash: terms[2].hash, crash_point: terms[2].crash_point } : i === 2 ? { ...t, hash: terms[1].hash, crash_point: terms[1].crash_point } : t));
    const broken = await checkTerms({ ...published, terms: swapped });
    check('hashes out of chain order are refused', !broken.get(terms[1].number).ok && !broken.get(terms[2].number).ok);
    const one = await checkHash({ hash: terms[0].hash, salt: v.salt, terminating: published.terminating_hash, maxSteps: 50, expected: terms[0].crash_point });
    check(`a pasted hash is found on its chain (game ${n}) with its crash point`, one.ok && one.game === n, one.findings.map((f) => f.text).join('; '));
    const stray = await checkHash({ hash: v.other_salt.games[0][0], salt: v.salt, terminating: published.terminating_hash, maxSteps: 50 });
    check('a hash of another chain is refused', !stray.ok && stray.game === null);
    const wrong = await checkHash({ hash: terms[0].hash, salt: v.salt, terminating: published.terminating_hash, maxSteps: 50, expected: '9.99' });
    check('a pasted hash with another crash point shown is refused', !wrong.ok);
  });

  await attempt('dice', async () => {
    // Stake's verifier's rolls (lib/vectors.json, checked by a Rust test against the engine).
    const v = (await (await fetch('/console/lib/vectors.json')).json()).dice;
    const rolls = await Promise.all(v.map((c) => diceRoll(c.server, c.client, c.nonce)));
    check("dice rolls equal Stake's verifier's", rolls.every((r, i) => r === v[i].roll), rolls.join(' '));
    const c = v[0];
    const bet = { amount: '10.00', multiplier: '2', payout: '20.00', outcome: `roll ${formatRoll(c.roll)}`,
      server_seed: c.server, server_seed_hash: await seedHash(c.server), client_seed: c.client, nonce: c.nonce };
    const call = { target: c.roll - 1, over: true };
    check('a revealed dice bet verifies', allOk(await checkDiceBet(bet, call)));
    check('another roll is refused', someBad(await checkDiceBet({ ...bet, outcome: 'roll 50.00' }, call)));
    check('a seed that is not the committed one is refused', someBad(await checkDiceBet({ ...bet, server_seed_hash: '0'.repeat(64) }, call)));
    check('a win on a losing call is refused', someBad(await checkDiceBet(bet, { target: c.roll, over: true })));
  });

  await attempt('keno, mines, plinko', async () => {
    // Stake's verifiers' boards (lib/vectors.json, checked by a Rust test against the engine).
    const v = (await (await fetch('/console/lib/vectors.json')).json()).stake;
    const t = await tables();
    const keno = await Promise.all(v.map((c) => kenoDraw(c.server, c.client, c.nonce)));
    check("keno draws equal Stake's verifiers'", keno.every((d, i) => d.join() === v[i].keno.map((x) => x + 1).join()), keno.join(' | '));
    const mines = await Promise.all(v.map((c) => minesPlace(c.server, c.client, c.nonce, 24)));
    check("mines boards (24 mines, in order) equal Stake's verifiers'", mines.every((m, i) => m.join() === v[i].mines.join()), mines.join(' | '));
    const plinko = await Promise.all(v.flatMap((c) => c.plinko.map(([rows]) => plinkoPath(c.server, c.client, c.nonce, rows))));
    const want = v.flatMap((c) => c.plinko);
    check("plinko paths and multipliers equal Stake's verifiers'", plinko.every((p, i) => p === want[i][2]
      && plinkoMultiplier(t, want[i][1], want[i][0], [...p].filter((x) => x === 'R').length) === BigInt(want[i][3]) * 100n), plinko.join(' '));
    check('mines multipliers: 1 mine 1 gem 1.0312x, 3 mines 2 gems 1.2857x, 24 mines 1 gem 24.75x',
      formatMultiplier(minesMultiplier(1, 1, 100)) === '1.0312' && formatMultiplier(minesMultiplier(3, 2, 100)) === '1.2857' && formatMultiplier(minesMultiplier(24, 1, 100)) === '24.75');
    // Whole bets as the history shows them, then each one tampered with.
    const c = v[0];
    const common = { server_seed: c.server, server_seed_hash: await seedHash(c.server), client_seed: c.client, nonce: c.nonce, amount: '10.00' };
    const drawn = c.keno.map((x) => x + 1);
    // Two numbers drawn and one not: two hits.
    const picks = [drawn[0], drawn[1], [...Array(40).keys()].map((x) => x + 1).find((x) => !drawn.includes(x))];
    const hits = picks.filter((p) => drawn.includes(p)).length;
    const km = BigInt(t.keno.classic[picks.length - 1][hits]) * 100n;
    const kenoBet = { ...common, game: 'keno', picks, risk: 'classic', outcome: `drawn ${[...drawn].sort((a, b) => a - b).join(', ')}; ${hits} hits`,
      multiplier: formatMultiplier(km), payout: fromMinor((1000n * km) / 10000n, 2) };
    check('a revealed keno bet verifies', allOk(await checkInstantBet(kenoBet)));
    check('another draw is refused', someBad(await checkInstantBet({ ...kenoBet, outcome: kenoBet.outcome.replace(/^drawn \d+/, 'drawn 41') })));
    check('a keno payout above the table is refused', someBad(await checkInstantBet({ ...kenoBet, multiplier: '1000', payout: '10000.00' })));
    const [rows, , path] = c.plinko[0];
    const slot = [...path].filter((x) => x === 'R').length;
    const pm = plinkoMultiplier(t, 'high', rows, slot);
    const plinkoBet = { ...common, game: 'plinko', rows, risk: 'high', outcome: `path ${path} slot ${slot}`, multiplier: formatMultiplier(pm), payout: fromMinor((1000n * pm) / 10000n, 2) };
    check('a revealed plinko bet verifies', allOk(await checkInstantBet(plinkoBet)));
    check('a plinko path that is not the seeds\' is refused', someBad(await checkInstantBet({ ...plinkoBet, outcome: `path ${'R'.repeat(rows)} slot ${rows}` })));
    const three = c.mines.slice(0, 3);
    const gems = [0, 1, 2, 3, 4, 5].filter((x) => !three.includes(x)).slice(0, 2);
    const mm = minesMultiplier(3, 2, t.mines_edge_bp);
    const minesBet = { ...common, game: 'mines', mines: 3, ended: 'cashed_out', outcome: `gems at ${gems.join(', ')}; mines at ${[...three].sort((a, b) => a - b).join(', ')}`,
      multiplier: formatMultiplier(mm), payout: fromMinor((1000n * mm) / 10000n, 2) };
    check('a revealed mines game verifies', allOk(await checkInstantBet(minesBet)));
    check('mines moved after the game are refused', someBad(await checkInstantBet({ ...minesBet, outcome: `gems at ${gems.join(', ')}; mines at ${three[0]}, ${three[1]}, ${(three[2] + 1) % 25}` })));
    check('a gem on a mine is refused', someBad(await checkInstantBet({ ...minesBet, outcome: `gems at ${three[0]}, ${gems[1]}; mines at ${[...three].sort((a, b) => a - b).join(', ')}` })));
    check('a seed that is not the committed one is refused', someBad(await checkInstantBet({ ...minesBet, server_seed_hash: '0'.repeat(64) })));
  });

  await attempt('blackjack', async () => {
    // The domain's verifier vectors: Stake's cards, and whole games the engine replays to the
    // same cards and payouts (lib/vectors.json, checked by a Rust test against the engine).
    const v = await (await fetch('/console/lib/vectors.json')).json();
    const decks = await Promise.all(v.stake.map((c) => shoe(c.server, c.client, c.nonce, 8)));
    check("blackjack cards equal Stake's verifier's", decks.every((d, i) => d.map(cardName).join() === v.stake[i].cards.join()), decks.map((d) => d.map(cardName).join(' ')).join(' | '));
    const names = (cards) => cards.map(cardName).join();
    for (const g of v.blackjack) {
      const r = replay(await shoe(g.server, g.client, g.nonce, shoeLength(g.actions)), toMinor(g.stake, 2), g.actions);
      const t = r.table;
      const same = t && t.over && names(t.dealer) === g.dealer.join() && t.hands.length === g.hands.length
        && t.hands.every((h, i) => names(h.cards) === g.hands[i].join())
        && fromMinor(staked(t), 2) === g.staked && fromMinor(result(t), 2) === g.payout;
      check(`blackjack nonce ${g.nonce}, ${g.actions.join(', ') || 'dealt'}: the engine's cards, stakes ${g.staked}, paid ${g.payout}`, same, JSON.stringify(r, (k, x) => (typeof x === 'bigint' ? String(x) : x)));
    }
    // Whole bets as the history shows them, then each one tampered with.
    const bet = async (g) => {
      const paid = toMinor(g.payout, 2);
      return { game: 'blackjack', server_seed: g.server, server_seed_hash: await seedHash(g.server), client_seed: g.client, nonce: g.nonce,
        amount: g.staked, payout: g.payout, multiplier: formatMultiplier((paid * 10000n) / toMinor(g.staked, 2)),
        blackjack: { dealer: g.dealer, hands: g.hands.map((cards) => ({ cards, amount: g.stake, doubled: false })), actions: g.actions } };
    };
    const won = await bet(v.blackjack.find((g) => g.payout !== '0.00' && g.actions.includes('hit')));
    check('a revealed blackjack game verifies', allOk(await checkBlackjackBet(won)));
    const bj = won.blackjack;
    check('a dealer card that is not the seeds\' is refused', someBad(await checkBlackjackBet({ ...won, blackjack: { ...bj, dealer: [...bj.dealer.slice(0, -1), '2-club'] } })));
    check('another action than the one played is refused', someBad(await checkBlackjackBet({ ...won, blackjack: { ...bj, actions: bj.actions.map((a) => (a === 'hit' ? 'stand' : a)) } })));
    check('a payout above the rules is refused', someBad(await checkBlackjackBet({ ...won, payout: fromMinor(toMinor(won.payout, 2) + 1n, 2) })));
    check('a seed that is not the committed one is refused', someBad(await checkBlackjackBet({ ...won, server_seed_hash: '0'.repeat(64) })));
    const game = v.blackjack.find((g) => g.actions.length >= 3);
    const cut = { ...game, actions: game.actions.slice(0, 1) };
    const open = replay(await shoe(cut.server, cut.client, cut.nonce, shoeLength(cut.actions)), toMinor(cut.stake, 2), cut.actions).table;
    const back = fromMinor(staked(open), 2);
    const refunded = { ...(await bet({ ...cut, payout: back, staked: back, dealer: open.dealer.map(cardName), hands: open.hands.map((h) => h.cards.map(cardName)) })), ended: 'refunded' };
    check('a game refunded in play verifies with its stakes back, and not as a finished one', !open.over && allOk(await checkBlackjackBet(refunded))
      && someBad(await checkBlackjackBet({ ...refunded, ended: 'finished' })) && someBad(await checkBlackjackBet({ ...refunded, payout: '0.00' })));
    const lost = await bet(v.blackjack.find((g) => g.payout === '0.00'));
    check('a lost blackjack game verifies, and paying it is refused', allOk(await checkBlackjackBet(lost)) && someBad(await checkBlackjackBet({ ...lost, payout: lost.amount })));
  });

  await attempt('metrics', () => {
    const text = [
      '# TYPE x histogram',
      'h_bucket{route="/api/bet",le="0.001"} 50', 'h_bucket{route="/api/bet",le="0.002"} 90',
      'h_bucket{route="/api/bet",le="0.005"} 100', 'h_bucket{route="/api/bet",le="+Inf"} 100',
      'croupier_ring_depth{shard="0"} 3', 'croupier_ring_depth{shard="1"} 0',
    ].join('\n');
    const s = parse(text);
    const after = buckets(s, 'h', { route: '/api/bet' });
    const before = after.map(([le]) => [le, 0]);
    check('p50 interpolated within its bucket', Math.abs(quantile(0.5, before, after) - 0.001) < 1e-9);
    check('p95 in the third bucket', Math.abs(quantile(0.95, before, after) - 0.0035) < 1e-9);
    check('no observations: no quantile', quantile(0.5, after, after) === null);
    const ring = byLabel(s, 'croupier_ring_depth', 'shard');
    check('gauges per shard', ring['0'] === 3 && ring['1'] === 0);
  });

  return results;
}
