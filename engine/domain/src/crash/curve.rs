//! bustabit's multiplier curve, `floor(100 · e^(0.00006 · t))` hundredths `t` ms after take-off,
//! identical on every machine.
//!
//! A float `exp` is a libm call whose last bits differ between platforms and libraries, and a
//! floor amplifies a last-bit difference into a different hundredth (a different payout). So
//! no float is used: `e^(0.00006 · t)` is the product of the constants `e^(0.00006 · 2^i)` for
//! the bits `i` set in `t` (t < 2^20), each a 120-bit significand with an exponent, computed
//! once offline (Python `decimal` at 120 digits, rounded down) and multiplied with 256-bit
//! integer products truncated back to 120 bits. Every step rounds down, so the result is below
//! the true value by a relative error under 2^-113, less than 2^-50 in absolute terms for every
//! value this curve takes (< 2^63). A floor is therefore exact unless the true value lies within
//! 2^-50 above an integer; `every_millisecond_floors_unambiguously` checks every `t` the curve
//! is evaluated at and finds no such `t`, so the floors are the mathematical ones, not a
//! platform's approximation of them.

/// The curve stops growing here (about 7.6 · 10^16 x), well past the highest crash point
/// ([`super::fair::MAX_CRASH_POINT`], reached at about 600,561 ms): a term is over by then.
pub const MAX_ELAPSED_MS: u64 = 650_000;

/// A positive number `m · 2^e` with `2^119 <= m < 2^120`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Soft {
    m: u128,
    e: i32,
}

const ONE: Soft = Soft { m: 1 << 119, e: -119 };

/// `e^(0.00006 · 2^i)` for `i` in `0..20`, rounded down.
const POWERS: [Soft; 20] = [
    Soft { m: 0x8001f754e269dd8742d664e370f5d2, e: -119 },
    Soft { m: 0x8003eeb1801116d14a30ca70318ff8, e: -119 },
    Soft { m: 0x8007dd81ed9138d3e270a5cb282deb, e: -119 },
    Soft { m: 0x800fbb7f94ab99c605ecb01d55f4e2, e: -119 },
    Soft { m: 0x801f78ee2de551532cc43b9eca94df, e: -119 },
    Soft { m: 0x803ef99961692efa73895f8c8c5cf4, e: -119 },
    Soft { m: 0x807e122e762032a2ce0f260f1048d0, e: -119 },
    Soft { m: 0x80fca088ba4e16bfaf098e5efd2c3e, e: -119 },
    Soft { m: 0x81fb33aa585024c91ecf010b3af57a, e: -119 },
    Soft { m: 0x83fe41200eee858855fe717c15e73f, e: -119 },
    Soft { m: 0x881c665836ee1326bdb93f4cbce45e, e: -119 },
    Soft { m: 0x90bc5fc88d26c531c18f562ac994a4, e: -119 },
    Soft { m: 0xa3a8ecbce262c9527730a3eaead952, e: -119 },
    Soft { m: 0xd14119e0363f759558fd5e12c9ed34, e: -119 },
    Soft { m: 0xab0b5cce3f0cb92ef0a8aa57c212b1, e: -118 },
    Soft { m: 0xe4905cf947329bee994a14b6cefea8, e: -117 },
    Soft { m: 0xcc117704c1065c9861cc59100093ee, e: -114 },
    Soft { m: 0xa2abd6e0999931f5abedd28a9a5416, e: -108 },
    Soft { m: 0xcebbde9a0d9eb779e726a1e32b2d08, e: -97 },
    Soft { m: 0xa6f2e41ee48ae17be5ff8b94961114, e: -74 },
];

/// The full 256-bit product of two `u128`, as (high, low).
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    const LOW: u128 = u64::MAX as u128;
    let (a1, a0) = (a >> 64, a & LOW);
    let (b1, b0) = (b >> 64, b & LOW);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 64) + (p01 & LOW) + (p10 & LOW);
    let lo = (p00 & LOW) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (hi, lo)
}

impl Soft {
    /// The product, truncated to 120 bits.
    fn mul(self, other: Soft) -> Soft {
        let (hi, lo) = mul_wide(self.m, other.m);
        // The product is in [2^238, 2^240): keep its top 120 bits.
        let shifted = (hi << 9) | (lo >> 119);
        if shifted >> 120 != 0 {
            Soft { m: shifted >> 1, e: self.e + other.e + 120 }
        } else {
            Soft { m: shifted, e: self.e + other.e + 119 }
        }
    }
}

/// `floor(100 · e^(0.00006 · t))` and whether the computed value came within 2^-50 of the next
/// integer (where the floor could differ from the true one; never, see the tests).
fn evaluate(t: u64) -> (u64, bool) {
    debug_assert!(t <= MAX_ELAPSED_MS);
    let mut v = ONE;
    for (i, power) in POWERS.iter().enumerate() {
        if t >> i & 1 == 1 {
            v = v.mul(*power);
        }
    }
    // 100 · m < 2^127; the value is below 2^63 (t <= MAX_ELAPSED_MS), so e < -56.
    let scaled = 100 * v.m;
    let shift = (-v.e) as u32;
    let floor = scaled >> shift;
    let fraction = scaled & ((1u128 << shift) - 1);
    let close = (1u128 << shift) - fraction <= 1u128 << (shift - 50);
    (floor as u64, close)
}

/// The multiplier in hundredths `elapsed_ms` after take-off (100 at take-off).
pub fn multiplier_at(elapsed_ms: u64) -> u64 {
    evaluate(elapsed_ms.min(MAX_ELAPSED_MS)).0
}

/// The first millisecond after take-off at which the multiplier reaches `hundredths` (0 for
/// 1.00x and below). Beyond the curve's end: [`MAX_ELAPSED_MS`].
pub fn elapsed_to_reach(hundredths: u64) -> u64 {
    let (mut lo, mut hi) = (0u64, MAX_ELAPSED_MS);
    if multiplier_at(hi) < hundredths {
        return MAX_ELAPSED_MS;
    }
    // Invariant: multiplier_at(hi) >= hundredths; the answer is in [lo, hi].
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if multiplier_at(mid) >= hundredths {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::fair::MAX_CRASH_POINT;

    #[test]
    fn the_curve_starts_at_one_and_follows_bustabits_values() {
        assert_eq!(multiplier_at(0), 100);
        // 100 · e^0.06 = 106.18..., e^0.6 = 182.21..., e^6 = 40342.87...
        assert_eq!(multiplier_at(1_000), 106);
        assert_eq!(multiplier_at(10_000), 182);
        assert_eq!(multiplier_at(100_000), 40_342);
        // ln 2 / 0.00006 = 11552.45...: 2.00x is first reached at 11,553 ms.
        assert_eq!(elapsed_to_reach(200), 11_553);
        assert_eq!(multiplier_at(11_552), 199);
        assert_eq!(elapsed_to_reach(100), 0);
        assert_eq!(elapsed_to_reach(0), 0);
    }

    /// The proof that no floor depends on the last bits: every millisecond the curve is
    /// evaluated at is far enough from an integer. Also: the curve never decreases.
    #[test]
    fn every_millisecond_floors_unambiguously() {
        let mut before = 0;
        for t in 0..=MAX_ELAPSED_MS {
            let (m, close) = evaluate(t);
            assert!(!close, "t = {t} ms lies within 2^-50 of an integer");
            assert!(m >= before, "the curve decreases at {t} ms");
            before = m;
        }
        assert!(multiplier_at(MAX_ELAPSED_MS) > MAX_CRASH_POINT);
        assert_eq!(multiplier_at(u64::MAX), multiplier_at(MAX_ELAPSED_MS));
    }

    /// Where a double holds the value with room to spare (below 10^9 hundredths) the libm
    /// curve agrees; the test may use a float, the engine does not.
    #[test]
    fn agrees_with_the_float_curve_where_a_double_is_precise() {
        let mut mismatches = Vec::new();
        for t in 0..=MAX_ELAPSED_MS {
            let float = (100.0 * (0.00006 * t as f64).exp()).floor();
            if float < 1e9 && multiplier_at(t) as f64 != float {
                mismatches.push(t);
            }
        }
        assert!(mismatches.is_empty(), "{mismatches:?}");
    }

    #[test]
    fn elapsed_to_reach_is_the_first_millisecond_at_or_above() {
        for m in [101, 150, 199, 200, 201, 1_000, 10_000, 123_456, 10_000_000, MAX_CRASH_POINT] {
            let t = elapsed_to_reach(m);
            assert!(multiplier_at(t) >= m, "{m}");
            assert!(t == 0 || multiplier_at(t - 1) < m, "{m}");
        }
        assert_eq!(elapsed_to_reach(u64::MAX), MAX_ELAPSED_MS);
    }

    #[test]
    fn the_constants_square_into_each_other() {
        // e^(a · 2^(i+1)) = (e^(a · 2^i))^2, within the truncation of one product.
        for i in 0..19 {
            let sq = POWERS[i].mul(POWERS[i]);
            let next = POWERS[i + 1];
            assert_eq!(sq.e, next.e, "{i}");
            assert!(next.m - sq.m < 1 << 4, "{i}: {} vs {}", sq.m, next.m);
        }
    }
}
