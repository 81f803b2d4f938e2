//! Provably fair crash points, compatible with bustabit's open-source verifier
//! (github.com/bustabit/verifier, `src/utils/math.ts` and `src/verifier.worker.ts`).
//!
//! - A channel's games form a hash chain: game `n - 1`'s hash is `sha256` of game `n`'s 32 raw
//!   bytes. The chain is drawn once (its top, the last game's hash, from the OS CSPRNG at the
//!   edge) and only its *terminating hash* (game 0's, the hash of game 1) is published with a
//!   salt before the first game. Game `k` reveals the `k`-th hash; anyone checks that it hashes
//!   to game `k - 1`'s, so no hash can be chosen after publication.
//! - Game `k`'s crash point is bustabit's v2 result function: `HMAC-SHA256(key = the salt's
//!   text, message = the game hash's raw bytes)`, its 52 most significant bits as `r`,
//!   `X = r / 2^52`, `floor(99 / (1 - X))` hundredths, at least 100 (1.00x). The reference does
//!   this in IEEE double arithmetic; [`crash_point_of_r`] reproduces that division's correctly
//!   rounded result with integers, so no float (and no platform) is involved here.
//!
//! `P(crash >= m) = 0.99 / m` for every `m >= 1`: the house edge is exactly 1 %.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// A game hash: 32 raw bytes (shown as 64 lowercase hex digits).
pub type GameHash = [u8; 32];

/// The most any game can crash at, in hundredths: `floor(99 · 2^52 / 1)` (`r = 2^52 - 1`).
pub const MAX_CRASH_POINT: u64 = 99 << 52;

/// Game `n - 1`'s hash from game `n`'s.
pub fn previous(hash: &GameHash) -> GameHash {
    Sha256::digest(hash).into()
}

/// Whether `hash` is the game right after `before` on its chain.
pub fn chains_to(hash: &GameHash, before: &GameHash) -> bool {
    previous(hash) == *before
}

/// The 52 most significant bits of `HMAC-SHA256(key = salt, message = hash)`.
pub fn hmac_r(hash: &GameHash, salt: &[u8]) -> u64 {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(salt).expect("HMAC takes keys of any length");
    mac.update(hash);
    let out = mac.finalize().into_bytes();
    let top = u64::from_be_bytes(out[..8].try_into().expect("8 bytes"));
    top >> 12
}

/// The crash point of a game, in hundredths (`153` is 1.53x).
pub fn crash_point(hash: &GameHash, salt: &[u8]) -> u64 {
    crash_point_of_r(hmac_r(hash, salt))
}

/// `max(100, floor(99 / (1 - r / 2^52)))` exactly as IEEE 754 double arithmetic computes it.
///
/// `r / 2^52` and `1 - X` are exact in a double (52 bits of fraction), so the only rounding in
/// the reference is the division: `99 / (d / 2^52) = 99 · 2^52 / d` with `d = 2^52 - r`,
/// rounded to the nearest double (ties to even). Here that quotient is computed as a 53-bit
/// significand with its remainder, rounded the same way, then floored.
pub fn crash_point_of_r(r: u64) -> u64 {
    assert!(r < 1 << 52, "r has 52 bits");
    let n: u128 = 99 << 52;
    let d: u128 = ((1u64 << 52) - r) as u128;
    // The binade of the exact quotient: 2^k <= n / d < 2^(k + 1).
    let mut k = (128 - n.leading_zeros()) as i32 - (128 - d.leading_zeros()) as i32;
    if n < d << k {
        k -= 1;
    }
    // The significand scaled into [2^52, 2^53): n · 2^(52 - k) / d.
    let (num, den) = if k <= 52 { (n << (52 - k), d) } else { (n, d << (k - 52)) };
    let mut s = num / den;
    let rem = num % den;
    if 2 * rem > den || (2 * rem == den && s & 1 == 1) {
        s += 1;
    }
    let floor = if k <= 52 { s >> (52 - k) } else { s << (k - 52) };
    (floor as u64).max(100)
}

/// Lowercase hex of a hash.
pub fn to_hex(hash: &GameHash) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in hash {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// A hash from 64 hex digits (either case); `None` for anything else.
pub fn from_hex(text: &str) -> Option<GameHash> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// A crash point in hundredths as the verifier shows it (`1.53`).
pub fn format_multiplier(hundredths: u64) -> String {
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// A hash chain held by whoever reveals the games (the edge, never the domain): its top
/// (game `length`'s hash) and a checkpoint every [`Chain::STRIDE`] games, so game `k`'s hash
/// costs at most `STRIDE` hashes, and the whole chain `length` hashes once.
#[derive(Clone, Debug)]
pub struct Chain {
    length: u64,
    top: GameHash,
    /// `checkpoints[i]` is game `i · STRIDE`'s hash (game 0 is the terminating hash).
    checkpoints: Vec<GameHash>,
}

impl Chain {
    pub const STRIDE: u64 = 1024;
    /// Most games one chain may have: ten million (bustabit's second chain), a few seconds to build.
    pub const MAX_LENGTH: u64 = 10_000_000;

    /// The chain whose last game (`length`) has hash `top`.
    pub fn new(top: GameHash, length: u64) -> Chain {
        assert!((1..=Self::MAX_LENGTH).contains(&length), "a chain has 1 to {} games", Self::MAX_LENGTH);
        let mut checkpoints = vec![[0u8; 32]; (length / Self::STRIDE + 1) as usize];
        let mut h = top;
        for game in (0..=length).rev() {
            if game % Self::STRIDE == 0 {
                checkpoints[(game / Self::STRIDE) as usize] = h;
            }
            if game > 0 {
                h = previous(&h);
            }
        }
        Chain { length, top, checkpoints }
    }

    pub fn length(&self) -> u64 {
        self.length
    }

    /// Game 0's hash: what is published before the first game.
    pub fn terminating_hash(&self) -> GameHash {
        self.checkpoints[0]
    }

    /// Game `game`'s hash (`0..=length`).
    pub fn game(&self, game: u64) -> Option<GameHash> {
        if game > self.length {
            return None;
        }
        // Walk down from the nearest checkpoint at or above `game`, or from the top.
        let above = game.div_ceil(Self::STRIDE) * Self::STRIDE;
        let (mut at, mut h) = if above <= self.length {
            (above, self.checkpoints[(above / Self::STRIDE) as usize])
        } else {
            (self.length, self.top)
        };
        while at > game {
            h = previous(&h);
            at -= 1;
        }
        Some(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// bustabit's current salt (github.com/bustabit/verifier `src/constants.ts`, `GAME_SALT`).
    const BUSTABIT_SALT: &str = "00000000000000000001e08b7fd44f95e3e950ac65650a8031a6d5e1750e34be";

    /// Expected values produced by bustabit's own code: `gameResult` of bustabit/verifier
    /// `src/utils/math.ts` (commit f45fc0c) run with node 20, its `hmac`/`sha256` calls served by
    /// node's `crypto` (the same HMAC-SHA256 and SHA-256), key = `utf8ToBytes(salt)` and message =
    /// the game hash's raw bytes as in `src/verifier.worker.ts`. The chain starts at
    /// `sha256("croupier crash test vector seed")` and each next line is `sha256` of the raw bytes
    /// of the one before (so each line is the *previous* game of the line above it). The bust the
    /// script printed (`1.53`) is given here in hundredths.
    const VECTORS: &[(&str, u64)] = &[
        ("d044badb345afe2be773f67e47c408d6fd0d6f24e58ccafb07383d3fdb88a8ca", 153),
        ("e2bf03f91a34e7d58dd35d1761035a10e096159c6e271b5b58cd4e255888f581", 208),
        ("c0b4f45f07d48c53acdec67bf31938fe1d4e7db9416fd7035ab31e8fe57d617f", 249),
        ("e12211f2aff95cceee3d6b4c6f9f3bc7bdbce281416d852f0f7ef2f5ec8c6786", 143),
        ("3dde7dae96ea88159d95eb93db07d0ec1d231ac1d485c09ddb119cc74ab8f619", 157),
        ("25524a5521159bbb6741a756a7abe1c696707c31a8bc1ca96168ffedb964cdf4", 278),
        ("977ee23ec9957693da512ade0e151ad0177f2db1a5c8fab03bcd88b2c2664908", 782),
        ("84018234029033c0ab245f514add6d7221d4380014ca79b4baeb50bb6f08d550", 517),
        ("fd322cb5b2ad4e1d407560f9287eb0a6d918b0722c136c563c20ff2b87265298", 4806),
        ("2a0a010ab4ece9ce702d35728fac473d0ffd2a0f3f70174210e220acdf54c819", 213),
        ("c9875081086a13fae26d48eeb517941a1eba991344c47058cd847ed833244d34", 163),
        ("91f8e5d58e0672dd73b52da00787277edb82be370a8599efa2ee1f646172aa38", 274),
    ];

    /// Found by the same script further down the same chain (20,000 games): instant crashes
    /// (`1.00`) and the three highest busts.
    const EXTREMES: &[(&str, u64)] = &[
        ("9ed9f18f08833fa14b27486ff0efbe1e906ded223950bd2a03c4f419e21c1b5f", 100),
        ("1a55dda6e349716c78cfd8ae31782db15c99b45e7c5363679e63aa7c348ff56b", 100),
        ("cee5052af63b0df3d707067c277c84e7e912d4eb827bee037d7944283849d71d", 100),
        ("7ea897aee5e008d3dce14ee176d3b9f5550e7783ef31831c51d5d7c93d9b7043", 1_301_382),
        ("0c3c71420f3d947c4ffc1899e3bd69a1f376b767e42e16c53f160c33cc5cd52e", 1_927_033),
        ("ea42d12fb27a03a509798386aff5b398a8e525b6365f8cca0527cc1d754d4078", 3_358_484),
    ];

    /// The same script with salt `croupier-salt-v1` and the chain from
    /// `sha256("another seed")`: the salt is the key, so another salt gives other busts.
    const OTHER_SALT: &[(&str, u64)] = &[
        ("2af4ac5e14c71b0a188aee5d4f35ac149737c543990d696e1c34a64c699ef572", 166),
        ("9fa8c4ab2035b026ca18ea6b392748ec654690f1ffd1b7e77866dec7ebd6f53e", 503),
        ("4d22223dd6000356ca07cd5f11c413cecda0932d99499330a38836a3615a272e", 962),
        ("7d1b5df78657130a02290f236dd44e42784482fb800071ac72c893b81392436f", 106),
        ("18fc5b127934dd5e3c3f734ab020acc8c65483177ff7b44363077de44d7d08ff", 194),
        ("2691762a9df676f7bfd97aa3145e33e071f32a0d811ef9c15d1206e8b1cc7593", 105),
    ];

    #[test]
    fn crash_points_match_bustabits_verifier() {
        for (hash, bust) in VECTORS.iter().chain(EXTREMES) {
            assert_eq!(crash_point(&from_hex(hash).unwrap(), BUSTABIT_SALT.as_bytes()), *bust, "{hash}");
        }
        for (hash, bust) in OTHER_SALT {
            assert_eq!(crash_point(&from_hex(hash).unwrap(), b"croupier-salt-v1"), *bust, "{hash}");
        }
    }

    #[test]
    fn each_vector_line_is_the_previous_game_of_the_one_above() {
        assert_eq!(
            from_hex(VECTORS[0].0).unwrap(),
            <[u8; 32]>::from(Sha256::digest(b"croupier crash test vector seed"))
        );
        for pair in VECTORS.windows(2) {
            let (game, before) = (from_hex(pair[0].0).unwrap(), from_hex(pair[1].0).unwrap());
            assert!(chains_to(&game, &before));
            assert!(!chains_to(&before, &game));
        }
    }

    /// The script's 20,000 lines (`<hash> <bust in hundredths>\n`, from the seed above) hash to
    /// this; the whole run is reproduced here, not only the lines quoted above.
    #[test]
    fn twenty_thousand_games_match_the_reference_run() {
        let mut h: GameHash = Sha256::digest(b"croupier crash test vector seed").into();
        let mut lines = Sha256::new();
        for _ in 0..20_000 {
            lines.update(format!("{} {}\n", to_hex(&h), crash_point(&h, BUSTABIT_SALT.as_bytes())));
            h = previous(&h);
        }
        assert_eq!(
            to_hex(&lines.finalize().into()),
            "0e64e2a3b0d96af3e0e1970ffb7f32057a687a64b25db0535f055ab9ee1e3e7d"
        );
    }

    /// The integer division agrees with the IEEE double division the reference does (tests may
    /// use a float: this is the float being checked against).
    #[test]
    fn integer_crash_point_equals_ieee_double_arithmetic() {
        let ieee = |r: u64| {
            let x = r as f64 / (1u64 << 52) as f64;
            ((99.0 / (1.0 - x)).floor() as u64).max(100)
        };
        let mut rng = SplitMix64::new(14);
        let edges =
            [0, 1, 2, 1 << 51, (1 << 52) - 1, (1 << 52) - 2, (1 << 52) - 99, 45_035_996_273_705, 455_000_000_000_000];
        for r in edges.into_iter().chain((0..1_000_000).map(|_| rng.next_u64() >> 12)) {
            assert_eq!(crash_point_of_r(r), ieee(r), "r = {r}");
        }
        // Near the top, where the quotient is huge and the double an integer already.
        for r in ((1u64 << 52) - 100_000)..(1u64 << 52) {
            assert_eq!(crash_point_of_r(r), ieee(r), "r = {r}");
        }
        assert_eq!(crash_point_of_r((1 << 52) - 1), MAX_CRASH_POINT);
    }

    #[test]
    fn a_chain_reveals_every_game_and_each_hashes_to_the_one_before() {
        let top: GameHash = Sha256::digest(b"top").into();
        for length in [1, 5, 1023, 1024, 1025, 2100] {
            let chain = Chain::new(top, length);
            assert_eq!(chain.game(length), Some(top));
            assert_eq!(chain.game(length + 1), None);
            let mut h = top;
            for game in (0..length).rev() {
                h = previous(&h);
                // Every game near a checkpoint or an end, and a sample between (debug sha256 is slow).
                let near = |x: u64| game.abs_diff(x) <= 2;
                if near(0) || near(length) || near(game / Chain::STRIDE * Chain::STRIDE) || game % 97 == 0 {
                    assert_eq!(chain.game(game), Some(h), "game {game} of {length}");
                    assert!(chains_to(&chain.game(game + 1).unwrap(), &h));
                }
            }
            assert_eq!(chain.terminating_hash(), h);
        }
    }

    #[test]
    fn hex_round_trips_and_refuses_anything_else() {
        let h: GameHash = Sha256::digest(b"x").into();
        assert_eq!(from_hex(&to_hex(&h)), Some(h));
        assert_eq!(from_hex(&to_hex(&h).to_uppercase()), Some(h));
        assert_eq!(from_hex(&to_hex(&h)[1..]), None);
        assert_eq!(from_hex(&format!("{}g", &to_hex(&h)[1..])), None);
        assert_eq!(format_multiplier(153), "1.53");
        assert_eq!(format_multiplier(100), "1.00");
        assert_eq!(format_multiplier(1_301_382), "13013.82");
    }
}
