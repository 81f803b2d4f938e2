// Reading Prometheus text (/metrics) in the browser: samples, and quantiles estimated from
// the difference of two histogram scrapes.

/** Every sample: {name, labels, value}. Comments and malformed lines are passed over. */
export function parse(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The samples named `name` whose labels include `match`. */
export function select(samples, name, match = {}) {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

export function sum(samples, name, match = {}) {
  return select(samples, name, match).reduce((a, s) => a + s.value, 0);
}

/** Per value of label `by`: the sample's value (e.g. ring depth per shard). */
export function byLabel(samples, name, by, match = {}) {
  const out = {};
  for (const s of select(samples, name, match)) out[s.labels[by]] = (out[s.labels[by]] || 0) + s.value;
  return out;
}

/** A histogram's cumulative buckets: [[le, count]], le ascending (+Inf last). */
export function buckets(samples, name, match = {}) {
  return select(samples, `${name}_bucket`, match)
    .map((s) => [s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value])
    .sort((a, b) => a[0] - b[0]);
}

/** Quantile q of what was observed between two scrapes of the same histogram, interpolated
 * within its bucket; null when nothing was observed. Past the last finite bucket the answer
 * is that bucket's bound (a floor, as Prometheus' histogram_quantile does). */
export function quantile(q, before, after) {
  const delta = after.map(([le, c], i) => [le, c - (before[i] ? before[i][1] : 0)]);
  const total = delta.length ? delta[delta.length - 1][1] : 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, c] of delta) {
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      const inBucket = c - prevCount;
      return inBucket > 0 ? prevLe + (le - prevLe) * ((rank - prevCount) / inBucket) : le;
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}
