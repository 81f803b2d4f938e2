// Amounts are decimal strings on the wire and BigInt minor units here: never a float.

/** "12.50" with 2 decimals → 1250n; null if it is not a plain non-negative decimal. */
export function toMinor(text, decimals) {
  const m = /^(\d+)(?:\.(\d*))?$/.exec(String(text).trim());
  if (!m) return null;
  const frac = (m[2] || '');
  if (frac.length > decimals && /[1-9]/.test(frac.slice(decimals))) return null;
  const padded = (frac + '0'.repeat(decimals)).slice(0, decimals);
  return BigInt(m[1]) * 10n ** BigInt(decimals) + (decimals ? BigInt(padded || '0') : 0n);
}

/** 1250n with 2 decimals → "12.50". */
export function fromMinor(minor, decimals) {
  const neg = minor < 0n;
  const abs = neg ? -minor : minor;
  const scale = 10n ** BigInt(decimals);
  const whole = abs / scale;
  const frac = decimals ? '.' + (abs % scale).toString().padStart(decimals, '0') : '';
  return `${neg ? '-' : ''}${whole}${frac}`;
}

/** The number of decimals a wire amount was written with (the currency's, as the API writes them). */
export function decimalsOf(text) {
  const i = String(text).indexOf('.');
  return i < 0 ? 0 : String(text).length - i - 1;
}
