//! The games' own tables: the crash game (seed 001: `crash_channels`, `crash_terms`,
//! `crash_term_totals`, `crash_bets`) and the instant games (seed 003: `instant_seeds`,
//! `instant_bets`). Their money is in `wallet_ledger` like every other bet's; these rows say
//! what was played.
//!
//! Two secrets never reach a row before they are public: a flight's game hash and crash point
//! before the term crashes (`TermFlying` carries them for the journal; only `TermCrashed`
//! fills `hash` and `crash_point`), and a player's server seed while in use (only its
//! sha256). The rotation that reveals a seed does not carry it: the projector keeps each
//! player's seed in use in memory, never in a row, and after a restart reads it back from the
//! journal record that committed it (`instant_seeds.position`), so the revealed column does
//! not depend on when the projector restarted.

use super::{user_column, Batch, ShardBook};
use croupier_domain::crash::{fair, CrashEvent};
use croupier_domain::event::Event;
use croupier_domain::instant::{InstantEvent, ServerSeed, SettleReason};
use croupier_domain::UserId;
use rustc_hash::FxHashMap;

/// `crash_channels`: one row per shard (channels are created everywhere).
#[derive(Clone, Debug, PartialEq)]
pub struct CrashChannelRow {
    pub shard: u32,
    pub channel_no: u32,
    pub channel_id: String,
    pub terminating_hash: String,
    pub salt: String,
    pub length: i64,
    /// The limits' currency codes, comma-separated, in the order of the term totals.
    pub currencies: String,
    /// The channel's configuration as the domain's JSON.
    pub config: String,
    pub paused: bool,
    pub position: u64,
}

/// `crash_terms`: one row per shard (terms are broadcast).
#[derive(Clone, Debug, PartialEq)]
pub struct CrashTermRow {
    pub shard: u32,
    pub term_no: u32,
    pub channel_no: u32,
    pub number: i64,
    pub status: &'static str,
    pub opened_at: i64,
    pub starting_at: i64,
    pub took_off_at: Option<i64>,
    pub game: Option<i64>,
    pub hash: Option<String>,
    pub crash_point: Option<i64>,
    pub crashed_at: Option<i64>,
    pub ended_at: Option<i64>,
}

/// What later events change in a term: each field set replaces the column.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TermChange {
    pub status: Option<&'static str>,
    pub starting_at: Option<i64>,
    pub took_off_at: Option<i64>,
    pub game: Option<i64>,
    pub hash: Option<String>,
    pub crash_point: Option<i64>,
    pub crashed_at: Option<i64>,
    pub ended_at: Option<i64>,
}

impl TermChange {
    /// `later` after `self`.
    fn then(&mut self, later: TermChange) {
        self.status = later.status.or(self.status);
        self.starting_at = later.starting_at.or(self.starting_at);
        self.took_off_at = later.took_off_at.or(self.took_off_at);
        self.game = later.game.or(self.game);
        self.hash = later.hash.or(self.hash.take());
        self.crash_point = later.crash_point.or(self.crash_point);
        self.crashed_at = later.crashed_at.or(self.crashed_at);
        self.ended_at = later.ended_at.or(self.ended_at);
    }

    fn apply(self, r: &mut CrashTermRow) {
        if let Some(s) = self.status {
            r.status = s;
        }
        r.starting_at = self.starting_at.unwrap_or(r.starting_at);
        r.took_off_at = self.took_off_at.or(r.took_off_at);
        r.game = self.game.or(r.game);
        r.hash = self.hash.or(r.hash.take());
        r.crash_point = self.crash_point.or(r.crash_point);
        r.crashed_at = self.crashed_at.or(r.crashed_at);
        r.ended_at = self.ended_at.or(r.ended_at);
    }
}

/// A change to a term projected in an earlier batch (merged per term within a batch).
#[derive(Clone, Debug, PartialEq)]
pub struct TermUpdate {
    pub shard: u32,
    pub term_no: u32,
    pub change: TermChange,
}

/// `crash_term_totals`: a closed term's totals on this shard, per currency of its channel.
#[derive(Clone, Debug, PartialEq)]
pub struct CrashTotalsRow {
    pub shard: u32,
    pub term_no: u32,
    pub currency: String,
    pub bets: i64,
    pub staked: i64,
    pub paid: i64,
    pub rake: i64,
}

/// `crash_bets`.
#[derive(Clone, Debug, PartialEq)]
pub struct CrashBetRow {
    pub shard: u32,
    pub bet_no: u32,
    pub term_no: u32,
    pub order_no: String,
    pub user_id: i64,
    pub account_no: u32,
    pub currency: String,
    pub stake: i64,
    pub requested: Option<i64>,
    pub target: i64,
    pub status: &'static str,
    pub multiplier: Option<i64>,
    pub payout: Option<i64>,
    pub cashout_kind: Option<&'static str>,
    pub placed_at: i64,
    pub settled_at: Option<i64>,
    pub position: u64,
}

/// How a crash bet ended (a bet ends once: the last one per bet is the only one).
#[derive(Clone, Debug, PartialEq)]
pub struct CrashBetSettle {
    pub shard: u32,
    pub bet_no: u32,
    pub status: &'static str,
    pub multiplier: Option<i64>,
    pub payout: Option<i64>,
    pub cashout_kind: Option<&'static str>,
    pub settled_at: i64,
}

/// `instant_seeds`: every seed pair committed to a player, the server seed as its hash, and
/// the seed itself once revealed.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedRow {
    pub shard: u32,
    pub user_id: i64,
    pub seed_no: u32,
    pub server_seed_hash: String,
    pub client_seed: String,
    pub position: u64,
    pub server_seed: Option<String>,
}

/// A seed of an earlier transaction revealed by a rotation.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedReveal {
    pub shard: u32,
    pub user_id: i64,
    pub seed_no: u32,
    pub server_seed: String,
}

/// `instant_bets`.
#[derive(Clone, Debug, PartialEq)]
pub struct InstantBetRow {
    pub shard: u32,
    pub bet_no: u32,
    /// The caller's id of the bet (idempotency key per player).
    pub order_no: String,
    pub user_id: i64,
    pub account_no: u32,
    pub currency: String,
    pub game: &'static str,
    pub params: String,
    pub stake: i64,
    pub seed_no: u32,
    pub server_seed_hash: String,
    pub client_seed: String,
    pub nonce: i64,
    pub outcome: String,
    pub multiplier: i64,
    pub max_payout: i64,
    pub payout: Option<i64>,
    pub status: &'static str,
    pub settle_reason: Option<&'static str>,
    pub mine_tile: Option<i64>,
    pub revealed: i64,
    pub placed_at: i64,
    pub settled_at: Option<i64>,
    pub position: u64,
}

/// What later events change in an instant bet projected in an earlier batch: gems revealed
/// (bits OR-ed in), blackjack's added stakes (summed) and exposure, and the settlement, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct InstantChange {
    pub shard: u32,
    pub bet_no: u32,
    pub revealed: i64,
    pub stake_add: i64,
    pub max_payout: Option<i64>,
    pub settled: Option<InstantSettled>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InstantSettled {
    /// `settled`, or `refunded` by the operator (no payout: the stakes went back, as a
    /// refunded crash bet's).
    pub status: &'static str,
    pub payout: Option<i64>,
    pub reason: &'static str,
    pub mine_tile: Option<i64>,
    pub at: i64,
}

/// One change to an instant bet.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Delta {
    revealed: i64,
    stake_add: i64,
    max_payout: Option<i64>,
    settled: Option<InstantSettled>,
}

impl InstantSettled {
    fn apply(self, r: &mut InstantBetRow) {
        r.status = self.status;
        r.payout = self.payout;
        r.settle_reason = Some(self.reason);
        r.mine_tile = self.mine_tile;
        r.settled_at = Some(self.at);
    }
}

/// The games' rows of one transaction.
#[derive(Debug, Default)]
pub struct GamesBatch {
    pub channels: Vec<CrashChannelRow>,
    /// (shard, channel, paused) for channels of earlier batches, in order.
    pub pauses: Vec<(u32, u32, bool)>,
    pub terms: Vec<CrashTermRow>,
    pub term_updates: Vec<TermUpdate>,
    pub totals: Vec<CrashTotalsRow>,
    pub crash_bets: Vec<CrashBetRow>,
    pub crash_settles: Vec<CrashBetSettle>,
    pub seeds: Vec<SeedRow>,
    pub reveals: Vec<SeedReveal>,
    pub instant_bets: Vec<InstantBetRow>,
    pub instant_changes: Vec<InstantChange>,
    channel_at: FxHashMap<(u32, u32), usize>,
    term_at: FxHashMap<(u32, u32), usize>,
    term_update_at: FxHashMap<(u32, u32), usize>,
    crash_bet_at: FxHashMap<(u32, u32), usize>,
    crash_settle_at: FxHashMap<(u32, u32), usize>,
    seed_at: FxHashMap<(u32, i64, u32), usize>,
    instant_at: FxHashMap<(u32, u32), usize>,
    instant_change_at: FxHashMap<(u32, u32), usize>,
}

impl GamesBatch {
    fn change_term(&mut self, shard: u32, term: u32, change: TermChange) {
        if let Some(&i) = self.term_at.get(&(shard, term)) {
            change.apply(&mut self.terms[i]);
            return;
        }
        match self.term_update_at.get(&(shard, term)) {
            Some(&i) => self.term_updates[i].change.then(change),
            None => {
                self.term_update_at.insert((shard, term), self.term_updates.len());
                self.term_updates.push(TermUpdate { shard, term_no: term, change });
            }
        }
    }

    fn settle_crash_bet(&mut self, s: CrashBetSettle) {
        if let Some(&i) = self.crash_bet_at.get(&(s.shard, s.bet_no)) {
            let r = &mut self.crash_bets[i];
            r.status = s.status;
            r.multiplier = s.multiplier;
            r.payout = s.payout;
            r.cashout_kind = s.cashout_kind;
            r.settled_at = Some(s.settled_at);
            return;
        }
        match self.crash_settle_at.get(&(s.shard, s.bet_no)) {
            Some(&i) => self.crash_settles[i] = s,
            None => {
                self.crash_settle_at.insert((s.shard, s.bet_no), self.crash_settles.len());
                self.crash_settles.push(s);
            }
        }
    }

    fn reveal(&mut self, r: SeedReveal) {
        match self.seed_at.get(&(r.shard, r.user_id, r.seed_no)) {
            Some(&i) => self.seeds[i].server_seed = Some(r.server_seed),
            None => self.reveals.push(r),
        }
    }

    fn change_instant(&mut self, shard: u32, bet: u32, d: Delta) {
        if let Some(&i) = self.instant_at.get(&(shard, bet)) {
            let r = &mut self.instant_bets[i];
            r.revealed |= d.revealed;
            r.stake += d.stake_add;
            r.max_payout = d.max_payout.unwrap_or(r.max_payout);
            if let Some(s) = d.settled {
                s.apply(r);
            }
            return;
        }
        match self.instant_change_at.get(&(shard, bet)) {
            Some(&i) => {
                let c = &mut self.instant_changes[i];
                c.revealed |= d.revealed;
                c.stake_add += d.stake_add;
                c.max_payout = d.max_payout.or(c.max_payout);
                c.settled = d.settled.or(c.settled);
            }
            None => {
                self.instant_change_at.insert((shard, bet), self.instant_changes.len());
                self.instant_changes.push(InstantChange {
                    shard,
                    bet_no: bet,
                    revealed: d.revealed,
                    stake_add: d.stake_add,
                    max_payout: d.max_payout,
                    settled: d.settled,
                });
            }
        }
    }
}

/// What the games' rows need to remember between events: each channel's currencies (a
/// term's totals come per currency slot), each unfinished term's channel, and each player's
/// seed pair in use (a bet names neither its player nor its seeds). Reloaded from the
/// games' tables on restart.
#[derive(Debug, Default, Clone)]
pub struct GamesBook {
    pub channels: FxHashMap<u32, Vec<String>>,
    pub term_channel: FxHashMap<u32, u32>,
    /// Each player's seed pair in use.
    pub seeds: FxHashMap<u64, SeedInUse>,
}

/// A player's seed pair in use, as the projector remembers it.
#[derive(Clone, PartialEq)]
pub struct SeedInUse {
    pub seed_no: u32,
    pub hash: String,
    pub client_seed: String,
    /// The journal record that committed it.
    pub position: u64,
    /// The seed itself when this run saw its commit; after a restart it is read back from the
    /// journal at `position` when a rotation reveals it. Memory only, never a row.
    pub secret: Option<ServerSeed>,
}

impl std::fmt::Debug for SeedInUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `ServerSeed`'s own Debug hides it too; this says whether it is known.
        f.debug_struct("SeedInUse")
            .field("seed_no", &self.seed_no)
            .field("hash", &self.hash)
            .field("position", &self.position)
            .field("secret_known", &self.secret.is_some())
            .finish()
    }
}

/// Reads back the events of journal record `position` of `shard`, if it can.
pub type Lookup<'a> = &'a mut dyn FnMut(u32, u64) -> Option<Vec<Event>>;

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain values serialize to JSON")
}

pub(super) fn map_crash(
    book: &mut ShardBook,
    shard: u32,
    position: u64,
    e: &CrashEvent,
    b: &mut Batch,
) -> Result<(), String> {
    let g = &mut b.games;
    match e {
        CrashEvent::ChannelCreated { channel, def } => {
            let currencies: Vec<String> = def.config.limits.iter().map(|l| l.currency.as_str().to_owned()).collect();
            g.channel_at.insert((shard, channel.0), g.channels.len());
            g.channels.push(CrashChannelRow {
                shard,
                channel_no: channel.0,
                channel_id: def.channel.as_str().to_owned(),
                terminating_hash: fair::to_hex(&def.terminating_hash),
                salt: def.salt.as_str().to_owned(),
                length: i64::try_from(def.length).map_err(|_| format!("chain length {} above i64", def.length))?,
                currencies: currencies.join(","),
                config: json(&def.config),
                paused: false,
                position,
            });
            book.games.channels.insert(channel.0, currencies);
        }
        CrashEvent::ChannelPaused { channel, paused } => match g.channel_at.get(&(shard, channel.0)) {
            Some(&i) => g.channels[i].paused = *paused,
            None => g.pauses.push((shard, channel.0, *paused)),
        },
        CrashEvent::TermOpened { term, channel, number, at, starting_at } => {
            g.term_at.insert((shard, term.0), g.terms.len());
            g.terms.push(CrashTermRow {
                shard,
                term_no: term.0,
                channel_no: channel.0,
                number: *number as i64,
                status: "pre_start",
                opened_at: at.0 as i64,
                starting_at: starting_at.0 as i64,
                took_off_at: None,
                game: None,
                hash: None,
                crash_point: None,
                crashed_at: None,
                ended_at: None,
            });
            book.games.term_channel.insert(term.0, channel.0);
        }
        CrashEvent::TermStarting { term, at } => g.change_term(
            shard,
            term.0,
            TermChange { status: Some("starting"), starting_at: Some(at.0 as i64), ..TermChange::default() },
        ),
        // Only the take-off time: the hash and crash point are the flight's secret.
        CrashEvent::TermFlying { term, flight } => g.change_term(
            shard,
            term.0,
            TermChange { status: Some("flying"), took_off_at: Some(flight.at.0 as i64), ..TermChange::default() },
        ),
        CrashEvent::TermCrashed { term, at, game, hash, crash_point } => g.change_term(
            shard,
            term.0,
            TermChange {
                status: Some("crashed"),
                game: Some(*game as i64),
                hash: Some(fair::to_hex(hash)),
                crash_point: Some(*crash_point as i64),
                crashed_at: Some(at.0 as i64),
                ..TermChange::default()
            },
        ),
        CrashEvent::TermClosed { term, at, totals } => {
            let channel =
                book.games.term_channel.remove(&term.0).ok_or_else(|| format!("crash term {} unknown", term.0))?;
            let currencies =
                book.games.channels.get(&channel).ok_or_else(|| format!("crash channel {channel} unknown"))?;
            for (slot, t) in totals.iter().enumerate() {
                let currency =
                    currencies.get(slot).ok_or_else(|| format!("crash channel {channel} has no currency {slot}"))?;
                g.totals.push(CrashTotalsRow {
                    shard,
                    term_no: term.0,
                    currency: currency.clone(),
                    bets: t.bets as i64,
                    staked: t.stakes.0,
                    paid: t.payouts.0,
                    rake: t.rake().0,
                });
            }
            g.change_term(
                shard,
                term.0,
                TermChange { status: Some("closed"), ended_at: Some(at.0 as i64), ..TermChange::default() },
            );
        }
        CrashEvent::TermCancelled { term, at } => {
            book.games.term_channel.remove(&term.0);
            g.change_term(
                shard,
                term.0,
                TermChange { status: Some("cancelled"), ended_at: Some(at.0 as i64), ..TermChange::default() },
            );
        }
        CrashEvent::BetPlaced(p) => {
            g.crash_bet_at.insert((shard, p.bet.0), g.crash_bets.len());
            g.crash_bets.push(CrashBetRow {
                shard,
                bet_no: p.bet.0,
                term_no: p.term.0,
                order_no: p.order_no.as_str().to_owned(),
                user_id: user_column(p.user.0)?,
                account_no: p.account.0,
                currency: book.code(book.currency_of(p.account)),
                stake: p.stake.0,
                requested: p.requested.map(|r| r as i64),
                target: p.target as i64,
                status: "open",
                multiplier: None,
                payout: None,
                cashout_kind: None,
                placed_at: p.at.0 as i64,
                settled_at: None,
                position,
            });
        }
        CrashEvent::BetReturned { bet, cancelled, at, .. } => g.settle_crash_bet(CrashBetSettle {
            shard,
            bet_no: bet.0,
            status: if *cancelled { "cancelled" } else { "refunded" },
            multiplier: None,
            payout: None,
            cashout_kind: None,
            settled_at: at.0 as i64,
        }),
        CrashEvent::CashedOut { bet, multiplier, payout, kind, at, .. } => g.settle_crash_bet(CrashBetSettle {
            shard,
            bet_no: bet.0,
            status: "cashed_out",
            multiplier: Some(*multiplier as i64),
            payout: Some(payout.0),
            cashout_kind: Some(kind.name()),
            settled_at: at.0 as i64,
        }),
        CrashEvent::BetLost { bet, at, .. } => g.settle_crash_bet(CrashBetSettle {
            shard,
            bet_no: bet.0,
            status: "lost",
            multiplier: None,
            payout: Some(0),
            cashout_kind: None,
            settled_at: at.0 as i64,
        }),
    }
    Ok(())
}

fn reason_name(r: SettleReason) -> (&'static str, Option<i64>) {
    match r {
        SettleReason::AtBet => ("at_bet", None),
        SettleReason::Confirmed => ("confirmed", None),
        SettleReason::CashedOut => ("cashed_out", None),
        SettleReason::Mine { tile } => ("mine", Some(tile as i64)),
        SettleReason::Swept => ("swept", None),
        SettleReason::Finished => ("finished", None),
        SettleReason::Refunded => ("refunded", None),
    }
}

/// The server seed `user`'s pair committed at journal record `position`, read back.
fn committed_seed(lookup: Lookup<'_>, shard: u32, position: u64, user: UserId) -> Option<ServerSeed> {
    lookup(shard, position)?.into_iter().find_map(|e| {
        if let Event::Instant(InstantEvent::SeedCommitted { user: u, server_seed, .. }) = e {
            (u == user).then_some(server_seed)
        } else {
            None
        }
    })
}

pub(super) fn map_instant(
    book: &mut ShardBook,
    shard: u32,
    position: u64,
    e: &InstantEvent,
    b: &mut Batch,
    lookup: Lookup<'_>,
) -> Result<(), String> {
    let g = &mut b.games;
    match e {
        // The configuration is in `events`; it has no table of its own.
        InstantEvent::Configured(_) => {}
        InstantEvent::SeedCommitted { user, server_seed, client_seed } => {
            let user_id = user_column(user.0)?;
            let previous = book.games.seeds.get(&user.0).cloned();
            if let Some(prev) = &previous {
                // This rotation reveals the pair in use.
                let secret = prev.secret.or_else(|| committed_seed(lookup, shard, prev.position, *user));
                // Checked against the commitment: never reveal a wrong seed as this one.
                if let Some(seed) = secret.filter(|s| s.hash().to_string() == prev.hash) {
                    g.reveal(SeedReveal { shard, user_id, seed_no: prev.seed_no, server_seed: seed.to_hex() });
                }
            }
            let seed_no = previous.map_or(0, |s| s.seed_no + 1);
            let hash = server_seed.hash().to_string();
            g.seed_at.insert((shard, user_id, seed_no), g.seeds.len());
            g.seeds.push(SeedRow {
                shard,
                user_id,
                seed_no,
                server_seed_hash: hash.clone(),
                client_seed: client_seed.as_str().to_owned(),
                position,
                server_seed: None,
            });
            book.games.seeds.insert(
                user.0,
                SeedInUse {
                    seed_no,
                    hash,
                    client_seed: client_seed.as_str().to_owned(),
                    position,
                    secret: Some(*server_seed),
                },
            );
        }
        InstantEvent::Placed(p) => {
            let user: UserId =
                book.dir.account(p.account).map(|a| a.0).ok_or_else(|| format!("account {} unknown", p.account.0))?;
            let seed = book.games.seeds.get(&user.0).ok_or_else(|| format!("player {} has no seed", user.0))?;
            let (seed_no, hash, client) = (seed.seed_no, seed.hash.clone(), seed.client_seed.clone());
            let settled = p.settled.then_some(InstantSettled {
                status: "settled",
                payout: Some(p.payout.0),
                reason: "at_bet",
                mine_tile: None,
                at: p.at.0 as i64,
            });
            g.instant_at.insert((shard, p.bet.0), g.instant_bets.len());
            let mut row = InstantBetRow {
                shard,
                bet_no: p.bet.0,
                order_no: p.id.as_str().to_owned(),
                user_id: user_column(user.0)?,
                account_no: p.account.0,
                currency: book.code(book.currency_of(p.account)),
                game: p.game.name(),
                params: json(&p.game),
                stake: p.stake.0,
                seed_no,
                server_seed_hash: hash,
                client_seed: client,
                nonce: i64::try_from(p.nonce).map_err(|_| format!("nonce {} above i64", p.nonce))?,
                outcome: json(&p.outcome),
                multiplier: i64::try_from(p.multiplier.0)
                    .map_err(|_| format!("multiplier {} above i64", p.multiplier.0))?,
                max_payout: p.payout.0,
                payout: None,
                status: "open",
                settle_reason: None,
                mine_tile: None,
                revealed: 0,
                placed_at: p.at.0 as i64,
                settled_at: None,
                position,
            };
            if let Some(s) = settled {
                s.apply(&mut row);
            }
            g.instant_bets.push(row);
        }
        InstantEvent::Revealed { bet, tile, .. } => {
            let bit = 1i64.checked_shl(u32::from(*tile)).filter(|b| *b > 0).ok_or_else(|| format!("tile {tile}"))?;
            g.change_instant(shard, bet.0, Delta { revealed: bit, ..Delta::default() })
        }
        InstantEvent::Settled { bet, payout, at, why, .. } => {
            let (reason, mine_tile) = reason_name(*why);
            let settled =
                InstantSettled { status: "settled", payout: Some(payout.0), reason, mine_tile, at: at.0 as i64 };
            g.change_instant(shard, bet.0, Delta { settled: Some(settled), ..Delta::default() })
        }
        // Blackjack's cards are in `events` (`Acted`, `DealerRevealed`); the row keeps the
        // deal as its outcome, the stakes summed and the exposure.
        InstantEvent::Acted { bet, extra, exposure, .. } => g.change_instant(
            shard,
            bet.0,
            Delta { stake_add: extra.0, max_payout: Some(exposure.0), ..Delta::default() },
        ),
        InstantEvent::DealerRevealed { .. } => {}
        InstantEvent::Refunded { bet, at, .. } => {
            let settled = InstantSettled {
                status: "refunded",
                payout: None,
                reason: "refunded",
                mine_tile: None,
                at: at.0 as i64,
            };
            g.change_instant(shard, bet.0, Delta { settled: Some(settled), ..Delta::default() })
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use croupier_domain::instant::ClientSeed;

    fn commit(user: u64, seed: u8) -> Event {
        Event::Instant(InstantEvent::SeedCommitted {
            user: UserId(user),
            server_seed: ServerSeed([seed; 32]),
            client_seed: ClientSeed::new("c").unwrap(),
        })
    }

    /// A rotation after a restart reveals the seed read back from the journal, checked
    /// against its commitment; a seed that does not match, or a record that cannot be read,
    /// reveals nothing.
    #[test]
    fn a_rotation_after_a_restart_reveals_the_seed_read_back_from_the_journal() {
        let mut first = ShardBook::default();
        let mut batch = Batch::default();
        crate::rows::map_command(&mut first, 0, 5, &[commit(1, 7)], &mut batch).unwrap();
        assert_eq!(batch.games.seeds[0].server_seed, None, "a seed in use is never in a row");
        // The book as `load_book` rebuilds it: everything but the secret.
        let restarted = {
            let mut b = ShardBook::default();
            let s = first.games.seeds[&1].clone();
            b.games.seeds.insert(1, SeedInUse { secret: None, ..s });
            b
        };
        for (journal, revealed) in [
            (Some(vec![commit(1, 7)]), Some(ServerSeed([7; 32]).to_hex())),
            (Some(vec![commit(1, 8)]), None),
            (Some(vec![commit(2, 7)]), None),
            (None, None),
        ] {
            let mut book = restarted.clone();
            let mut batch = Batch::default();
            let mut read = |shard: u32, position: u64| {
                assert_eq!((shard, position), (0, 5), "the record that committed the seed");
                journal.clone()
            };
            crate::rows::map_command_with(&mut book, 0, 9, &[commit(1, 9)], &mut batch, &mut read).unwrap();
            let shown: Vec<_> = batch.games.reveals.iter().map(|r| (r.seed_no, r.server_seed.clone())).collect();
            assert_eq!(shown, revealed.iter().map(|s| (0, s.clone())).collect::<Vec<_>>());
            assert_eq!(batch.games.seeds[0].seed_no, 1);
            assert_eq!(batch.games.seeds[0].server_seed, None);
        }
        // Without a restart the seed is known, and a rotation in the same batch fills the row.
        crate::rows::map_command(&mut first, 0, 6, &[commit(1, 9)], &mut batch).unwrap();
        assert_eq!(batch.games.seeds[0].server_seed, Some(ServerSeed([7; 32]).to_hex()));
        assert!(batch.games.reveals.is_empty());
    }
}
