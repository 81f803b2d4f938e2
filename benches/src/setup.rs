//! Building the starting states. Nothing here is timed.

use crate::{Error, Observer, Phase};
use croupier_domain::command::{GameLimits, Settings};
use croupier_domain::ids::{Code, ExtId, Timestamp};
use croupier_domain::state::Capacity;
use croupier_domain::testkit::{self, CURRENCY, GAME};
use croupier_domain::{Command, Engine, Money, Reply, State};

/// The clock the scenarios start at (2023-11-14, UTC).
pub(crate) const T0: Timestamp = Timestamp(1_700_000_000_000);
/// The longest betting window the engine allows (24 h): long enough for any run.
pub(crate) const WINDOW_MS: u64 = 86_400_000;
/// The engine numbers accounts, bets and shares with u32.
pub(crate) const MAX_COUNT: u64 = u32::MAX as u64 - 1;
/// Stakes are drawn from 1.00 to 100.00 in steps of 1.00 (minor units of CNY).
pub(crate) const STAKE_STEP: i64 = 100;
pub(crate) const STAKE_STEPS: u64 = 100;
pub(crate) const MAX_DRAWN_STAKE: i64 = STAKE_STEP * STAKE_STEPS as i64;
/// The sum of all deposits stays below this, far from i64's limit on the cashier's account.
const TOTAL_DEPOSITS: i64 = 1_000_000_000_000_000_000;
/// Progress during setup is reported this often.
const SETUP_PROGRESS_EVERY: u64 = 65_536;

pub(crate) fn currency() -> Code {
    testkit::code(CURRENCY)
}

/// The game limits of the bet scenarios: the engine's stake bounds, but caps per player and
/// per selection high enough that every drawn bet is accepted.
pub(crate) fn limits() -> GameLimits {
    GameLimits {
        max_stake_per_user_round: Money(i64::MAX / 4),
        max_liability_per_selection: Money(i64::MAX / 4),
        ..testkit::default_limits()
    }
}

pub(crate) fn check_count(what: &str, n: u64, min: u64) -> Result<(), Error> {
    if n < min || n > MAX_COUNT {
        return Err(Error::InvalidConfig(format!("{what} must be between {min} and {MAX_COUNT}, not {n}")));
    }
    Ok(())
}

/// Runs a setup command, naming it if it is refused.
pub(crate) fn step(
    engine: &mut Engine,
    cmd: &Command,
    now: Timestamp,
    what: impl FnOnce() -> String,
) -> Result<Reply, Error> {
    engine.execute(cmd, now).map_err(|reject| Error::Setup { step: what(), reject })
}

/// An engine with the test currency and game, sized for `cap`.
pub(crate) fn configured_engine(cap: Capacity, settings: Settings, limits: GameLimits) -> Result<Engine, Error> {
    let mut engine = Engine::new(State::with_capacity(cap));
    for cmd in testkit::setup_commands(limits) {
        let cmd = match cmd {
            Command::Configure(_) => Command::Configure(settings),
            other => other,
        };
        step(&mut engine, &cmd, T0, || format!("{cmd:?}"))?;
    }
    Ok(engine)
}

/// Per account, a deposit that keeps the sum of all deposits in bounds.
pub(crate) fn deposit_cap(accounts: u64) -> i64 {
    TOTAL_DEPOSITS / accounts.max(1) as i64
}

/// Opens and funds accounts for users `1..=count` with `amount` each.
pub(crate) fn fund_users(engine: &mut Engine, count: u64, amount: i64, obs: &mut dyn Observer) -> Result<(), Error> {
    for u in 1..=count {
        let cmd = testkit::deposit(u, amount, u);
        step(engine, &cmd, T0, || format!("deposit for user {u}"))?;
        if u % SETUP_PROGRESS_EVERY == 0 {
            obs.progress(u);
        }
    }
    Ok(())
}

/// Opens the round every bet scenario bets on, for the longest window the engine allows.
pub(crate) fn open_round(engine: &mut Engine, round: ExtId) -> Result<(), Error> {
    let cmd = Command::GameStart { round, game: testkit::id(GAME), window_ms: Some(WINDOW_MS) };
    step(engine, &cmd, T0, || "open the round".into())?;
    Ok(())
}

/// The time of operation `i` of a loop: the clock advances 1 ms per 1,024 operations.
#[inline]
pub(crate) fn now_at(i: u64) -> Timestamp {
    Timestamp(T0.0 + (i >> 10))
}

pub(crate) fn announce_setup(obs: &mut dyn Observer, total: u64) {
    obs.phase(Phase::Setup, total);
}

/// Runs a filled batch through `Engine::execute_batch` and counts the results that `counts`.
#[inline]
pub(crate) fn count_batch(
    engine: &mut croupier_domain::Engine,
    batch: &[(croupier_domain::Timestamp, croupier_domain::Command)],
    counts: impl Fn(&Result<croupier_domain::Reply, croupier_domain::Reject>) -> bool,
) -> u64 {
    let mut counted = 0u64;
    engine.execute_batch(batch, |_, result, _| counted += counts(&result) as u64);
    counted
}

/// A bet from a random one of `users` (ids 1..=users) on a random selection with a random
/// stake in whole steps. Draws the user, then one more number, from `rng`: the draws, and so
/// every run's digest, are the same as long as this stays as it is. Allocates nothing.
#[inline]
pub(crate) fn random_bet(
    rng: &mut croupier_domain::rng::SplitMix64,
    users: u64,
    order_no: ExtId,
    round: ExtId,
    currency: Code,
    platform: Code,
) -> Command {
    let user = croupier_domain::UserId(1 + rng.below(users));
    let r = rng.next_u64();
    Command::PlaceBet(croupier_domain::command::PlaceBet {
        order_no,
        user,
        round,
        selection: croupier_domain::ids::SelectionId(((r & 0xffff_ffff) % 3) as u16),
        stake: Money(STAKE_STEP * (1 + ((r >> 32) % STAKE_STEPS) as i64)),
        currency,
        platform,
    })
}

/// The sender of the grab scenarios' packets.
pub(crate) const PACKET_SENDER: croupier_domain::UserId = croupier_domain::UserId(0);
/// What each share of their packets is worth on average, in minor units.
pub(crate) const MEAN_SHARE: i64 = 100;
/// A prime above `u32::MAX`: coprime with any number of grabs, so `i * STRIDE mod grabs`
/// visits every grabber exactly once (spread over the shards, on the sharded runtime).
pub(crate) const STRIDE: u64 = 4_294_967_311;

/// The default settings, with room for a packet of `shares` shares.
pub(crate) fn packet_settings(shares: u32) -> Settings {
    Settings { max_packet_shares: shares.max(Settings::default().max_packet_shares), ..Settings::default() }
}

/// A lucky packet of `shares` shares and `total` from `sender`, drawn with `seed`, that does
/// not expire.
pub(crate) fn lucky_packet(
    packet: ExtId,
    sender: croupier_domain::UserId,
    total: Money,
    shares: u32,
    seed: u64,
) -> Command {
    Command::SendRedPacket(croupier_domain::command::SendRedPacket {
        packet,
        sender,
        currency: currency(),
        total,
        shares,
        kind: croupier_domain::command::PacketKind::Lucky { seed },
        ttl_ms: None,
        recipients: Vec::new(),
    })
}
