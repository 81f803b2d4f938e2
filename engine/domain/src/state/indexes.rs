//! Derived lookups: built as entities are added, never serialized, rebuilt on restore.

use super::*;

/// Lookups from callers' ids to dense ids. Derived from the vectors; never serialized.
#[derive(Clone, Debug, Default)]
pub(crate) struct Indexes {
    /// (user, currency) → account, compared against `accounts`.
    pub account_by_user: DenseIndex,
    pub game_by_id: FxHashMap<ExtId, GameNo>,
    pub round_by_id: FxHashMap<ExtId, RoundNo>,
    /// (player, round bet order number) → bet, compared against `bets` and `accounts`.
    pub bet_by_order: DenseIndex,
    /// (player, bookmaker bet id) → bet, compared against `bets` and `accounts`.
    pub bet_by_partner_id: DenseIndex,
    /// (sender, packet id) → packet, looked up by [`ScopedId`].
    pub packet_by_id: ScopedMap<PacketNo>,
    /// (player, cashier transfer id) → index in `transfers`, looked up by [`ScopedId`].
    pub transfer_by_id: ScopedMap<u32>,
    /// Stake per (round, account), for the per-player round limit.
    pub round_stake: RoundStakes,
    /// Each player's bets, newest first, for listing them without a scan.
    pub bets_of_user: UserBets,
}

/// A map keyed by a caller's id scoped to its player.
pub(crate) type ScopedMap<V> = hashbrown::HashMap<(UserId, ExtId), V, rustc_hash::FxBuildHasher>;

/// A [`ScopedMap`] key borrowed from a command, hashed and compared in place. Building the
/// `(UserId, ExtId)` key on the stack and hashing it at once made every lookup reload the
/// 40 bytes it had just stored with loads that straddle those stores, which the CPU cannot
/// forward: a grab looks its packet up three times (two prefetch stages and `decide`), and
/// that cost it a quarter of its speed (issue 13, measured against the pre-renovation build).
/// Hashes exactly as the owned key does: the derive writes the same fields in the same order.
#[derive(Hash)]
pub(crate) struct ScopedId<'a>(pub UserId, pub &'a ExtId);

impl hashbrown::Equivalent<(UserId, ExtId)> for ScopedId<'_> {
    #[inline]
    fn equivalent(&self, key: &(UserId, ExtId)) -> bool {
        self.0 == key.0 && *self.1 == key.1
    }
}

impl State {
    /// Rebuilds the derived lookups after deserialization (snapshot restore).
    pub fn rebuild_indexes(&mut self) {
        let mut idx = Indexes {
            account_by_user: DenseIndex::with_capacity(self.accounts.len()),
            bet_by_order: DenseIndex::with_capacity(self.bets.len()),
            ..Indexes::default()
        };
        idx.round_stake.latest = (0..self.accounts.len()).map(|_| (NO_ROUND, Money::ZERO)).collect();
        for i in 0..self.accounts.len() {
            let a = &self.accounts[i];
            let owner = owner_of(&idx, &self.accounts, self.currencies.len(), a.user, a.currency);
            self.accounts[i].bets = BetsHead { owner: owner.unwrap_or(i as u32), last: NO_BET };
            index_account(&mut idx, &self.accounts, i as u32, &self.accounts[i]);
        }
        for (i, g) in self.games.iter().enumerate() {
            idx.game_by_id.insert(g.def.game, GameNo(i as u32));
        }
        for (i, r) in self.rounds.iter().enumerate() {
            idx.round_by_id.insert(r.id, RoundNo(i as u32));
        }
        for (i, b) in self.bets.iter().enumerate() {
            let id = BetId(i as u32);
            index_bet(&mut idx, &self.bets, &self.accounts, id, b);
            idx.bets_of_user.add(&mut self.accounts, b.account, id);
            match b.round {
                Some(round) if self.rounds[round.index()].status == RoundStatus::Betting => {
                    idx.round_stake.add(round, b.account, b.stake)
                }
                _ => {}
            }
        }
        for (i, p) in self.packets.iter_mut().enumerate() {
            idx.packet_by_id.insert((self.accounts[p.sender.index()].user, p.id), PacketNo(i as u32));
            p.grab_by_user = DenseIndex::with_capacity(p.grabs.len());
            for k in 0..p.grabs.len() {
                p.index_grab(k as u32);
            }
        }
        for (i, t) in self.transfers.iter().enumerate() {
            idx.transfer_by_id.insert((self.accounts[t.account.index()].user, t.id), i as u32);
        }
        self.idx = idx;
        self.crash.rebuild_indexes();
        let accounts = &self.accounts;
        self.instant.rebuild_indexes(|a| accounts[a.index()].user);
    }
}

pub(crate) fn index_account(idx: &mut Indexes, accounts: &Chunked<Account>, no: u32, a: &Account) {
    let rehash = |i: u32| hash_account_key(accounts[i as usize].user, accounts[i as usize].currency);
    idx.account_by_user.insert(hash_account_key(a.user, a.currency), no, rehash);
}

/// The account that holds `user`'s list of bets: the user's first account on this shard,
/// `None` (the account about to open will) if the user has none yet. Called before the new
/// account (in `opening`) is indexed; one lookup per other currency, only when an account
/// opens (none with one currency: a grab by a new player opens the account and nothing else).
pub(crate) fn owner_of(
    idx: &Indexes,
    accounts: &Chunked<Account>,
    currencies: usize,
    user: UserId,
    opening: CurrencyId,
) -> Option<u32> {
    (0..currencies as u32).filter(|&c| c != opening.0).find_map(|c| {
        let found = idx.account_by_user.get(hash_account_key(user, CurrencyId(c)), |i| {
            let a = &accounts[i as usize];
            a.user == user && a.currency == CurrencyId(c)
        })?;
        Some(accounts[found as usize].bets.owner)
    })
}

/// "No bet" in [`UserBets`].
pub(crate) const NO_BET: u32 = u32::MAX;

/// Each player's bets as a list linked through the bets, newest first: per bet the player's
/// previous bet (4 bytes, in chunks that never copy on growth), per account the player's
/// newest bet ([`BetsHead`], kept in the account record itself). All of a player's accounts
/// (one per currency) share one list, kept at the player's first account (`owner`), so a page
/// of bets across currencies is a walk down one list and a cursor is a bet id. Derived from
/// `accounts` and `bets` in order, like the other indexes: not in the canonical encoding (the
/// digest does not see it), rebuilt on restore.
#[derive(Clone, Debug, Default)]
pub(crate) struct UserBets {
    /// Per bet: the same player's bet before it, or `NO_BET`.
    pub(crate) prev: Chunked<u32>,
}

/// Where an account's player keeps its list of bets. Part of the account record, so the bet
/// path finds it on the cache lines it already loads for the balance (it had its own table,
/// one more random cache line per bet: issue 13's bet-path regression). Derived, never
/// serialized: [`State::rebuild_indexes`] sets it after a restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BetsHead {
    /// The account holding its player's list (itself for the player's first account).
    pub(crate) owner: u32,
    /// Meaningful at owners: the player's newest bet, or `NO_BET`.
    pub(crate) last: u32,
}

impl Default for BetsHead {
    fn default() -> Self {
        BetsHead { owner: 0, last: NO_BET }
    }
}

impl UserBets {
    pub(crate) fn reserve(&mut self, cap: Capacity) {
        self.prev.reserve(cap.bets);
    }

    /// The player's newest bet, or `NO_BET`.
    #[inline]
    pub(crate) fn last(accounts: &Chunked<Account>, account: usize) -> u32 {
        accounts[accounts[account].bets.owner as usize].bets.last
    }

    /// Bet `bet` (the next one) was accepted on `account`.
    #[inline]
    pub(crate) fn add(&mut self, accounts: &mut Chunked<Account>, account: AccountNo, bet: BetId) {
        debug_assert_eq!(bet.index(), self.prev.len(), "bets are listed in order");
        let owner = accounts[account.index()].bets.owner as usize;
        let head = &mut accounts[owner].bets;
        self.prev.push(head.last);
        head.last = bet.0;
    }
}

/// Round bets are found by (player, order number), bookmaker bets by (player, the
/// bookmaker's bet id); the two live in separate indexes so one operator's ids cannot collide
/// with the other's.
#[inline]
pub(crate) fn index_bet(idx: &mut Indexes, bets: &Chunked<Bet>, accounts: &Chunked<Account>, id: BetId, b: &Bet) {
    let rehash = |i: u32| bet_key(bets, accounts, i);
    let index = if b.round.is_some() { &mut idx.bet_by_order } else { &mut idx.bet_by_partner_id };
    index.insert(hash_scoped(accounts[b.account.index()].user, &b.order_no), id.0, rehash);
}

/// The hash bet `i` is indexed by: its player and its caller's id.
#[inline]
pub(crate) fn bet_key(bets: &Chunked<Bet>, accounts: &Chunked<Account>, i: u32) -> u64 {
    let b = &bets[i as usize];
    hash_scoped(accounts[b.account.index()].user, &b.order_no)
}

/// "No round yet" in [`RoundStakes::latest`].
pub(crate) const NO_ROUND: RoundNo = RoundNo(u32::MAX);

/// What each player has staked on each round still taking bets, for the per-round limit.
/// Almost every player bets on one round at a time, so each account has one slot for its
/// latest round (read beside the account, no hash lookup); stakes on other open rounds spill
/// into a map. Entries of a round that stops taking bets are dropped, so this stays bounded.
#[derive(Clone, Debug, Default)]
pub(crate) struct RoundStakes {
    /// Per account: the round it last bet on, and its stake there.
    pub latest: Chunked<(RoundNo, Money)>,
    earlier: FxHashMap<(RoundNo, AccountNo), Money>,
}

impl RoundStakes {
    #[inline]
    pub fn get(&self, round: RoundNo, account: AccountNo) -> Money {
        match self.latest[account.index()] {
            (r, stake) if r == round => stake,
            _ if self.earlier.is_empty() => Money::ZERO,
            _ => self.earlier.get(&(round, account)).copied().unwrap_or_default(),
        }
    }

    #[inline]
    pub fn add(&mut self, round: RoundNo, account: AccountNo, stake: Money) {
        let slot = &mut self.latest[account.index()];
        if slot.0 != round {
            if slot.0 != NO_ROUND && slot.1.is_positive() {
                self.earlier.insert((slot.0, account), slot.1);
            }
            let before = self.earlier.remove(&(round, account)).unwrap_or_default();
            *slot = (round, before);
        }
        slot.1 += stake;
    }

    /// The round takes no more bets: forget its stakes.
    pub fn close(&mut self, round: RoundNo) {
        if !self.earlier.is_empty() {
            self.earlier.retain(|(r, _), _| *r != round);
        }
        // Slots still naming the round are harmless: bets on a closed round are refused
        // before the limit is read, and the next bet elsewhere overwrites the slot.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A borrowed key must hash and compare as the owned one, or every lookup would miss.
    #[test]
    fn a_scoped_id_finds_its_owned_key_and_only_it() {
        let mut map: ScopedMap<u32> = ScopedMap::default();
        for n in 0..1000u32 {
            map.insert((UserId(u64::from(n % 7)), ExtId::numbered("p", u64::from(n))), n);
        }
        for n in 0..1000u32 {
            let id = ExtId::numbered("p", u64::from(n));
            assert_eq!(map.get(&ScopedId(UserId(u64::from(n % 7)), &id)), Some(&n));
            assert_eq!(map.get(&ScopedId(UserId(u64::from(n % 7) + 1), &id)), None, "another player's id");
        }
    }
}
