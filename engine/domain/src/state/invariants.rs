//! The invariants a broken engine would violate, checked by tests and `journal verify`.

use super::*;

impl State {
    /// Per currency, the sum over every account (players' available and held, `external`,
    /// `house`, red-packet pools). Double entry makes each sum zero, always.
    pub fn currency_sums(&self) -> Vec<i128> {
        let mut sums: Vec<i128> = self.currencies.iter().map(|c| c.external.0 as i128 + c.house.0 as i128).collect();
        for a in &self.accounts {
            sums[a.currency.index()] += a.available.0 as i128 + a.held.0 as i128;
        }
        for p in &self.packets {
            let cur = self.accounts[p.sender.index()].currency;
            sums[cur.index()] += p.remaining.0 as i128;
        }
        for l in &self.links {
            for (cur, t) in l.transit.iter().enumerate() {
                sums[cur] += t.0 as i128;
            }
        }
        sums
    }

    /// Checks every invariant that a broken engine would violate; used by tests and by
    /// `journal verify`. Returns the first violation found.
    pub fn check_invariants(&self) -> Result<(), String> {
        for (i, s) in self.currency_sums().iter().enumerate() {
            if *s != 0 {
                return Err(format!("currency {i} sums to {s}, not zero"));
            }
        }
        let mut held = vec![0i64; self.accounts.len()];
        for b in &self.bets {
            if b.state == BetState::Open {
                held[b.account.index()] += b.stake.0;
            }
        }
        let crash = self.crash_open_sums();
        for (h, c) in held.iter_mut().zip(&crash.held) {
            *h += *c as i64;
        }
        self.crash.check()?;
        for b in self.instant.bets().iter().filter(|b| b.is_open()) {
            held[b.account.index()] += b.stake.0;
        }
        self.check_exposure()?;
        self.instant.check(|a| self.accounts[a.index()].user)?;
        for (i, a) in self.accounts.iter().enumerate() {
            if a.available.is_negative() && !a.in_debt {
                return Err(format!("account {i} has {} available without being in debt", a.available));
            }
            if a.held.0 != held[i] {
                return Err(format!("account {i} holds {} but its open bets stake {}", a.held, held[i]));
            }
        }
        for (peer, l) in self.links.iter().enumerate() {
            let expected = l.sent.saturating_sub(l.acked);
            if l.acked > l.sent || l.unacked.len() as u64 != expected {
                return Err(format!("link to shard {peer} has {} unacked of {expected}", l.unacked.len()));
            }
            if l.unacked.iter().zip(l.acked + 1..).any(|(t, seq)| t.seq != seq || t.to != peer as u32) {
                return Err(format!("link to shard {peer} holds transfers out of order"));
            }
        }
        for (i, p) in self.packets.iter().enumerate() {
            let grabbed: i64 = p.grabs.iter().map(|g| g.1 .0).sum();
            let refunded = if p.status == PacketStatus::Expired { p.total.0 - grabbed } else { 0 };
            if grabbed + p.remaining.0 + refunded != p.total.0 || p.remaining.is_negative() {
                return Err(format!("packet {i} does not add up to its total"));
            }
            if p.grabs.iter().any(|g| g.1 .0 < 1) {
                return Err(format!("packet {i} has a share below one minor unit"));
            }
            if p.grabs.iter().any(|g| !p.may_grab(g.0)) || !p.recipients.windows(2).all(|w| w[0] < w[1]) {
                return Err(format!("packet {i} was grabbed by someone it does not name"));
            }
        }
        Ok(())
    }

    /// Exposure is what open bets and packets may still return, and every bound `decide`
    /// keeps holds (see `decide::bounds`).
    fn check_exposure(&self) -> Result<(), String> {
        let mut account = vec![0i128; self.accounts.len()];
        let mut currency = vec![(0i128, 0i128); self.currencies.len()];
        for b in self.bets.iter().filter(|b| b.state == BetState::Open) {
            account[b.account.index()] += b.max_return().0 as i128;
            let c = &mut currency[self.accounts[b.account.index()].currency.index()];
            c.0 += b.max_return().0 as i128;
            c.1 += b.stake.0 as i128;
        }
        let crash = self.crash_open_sums();
        for (a, c) in account.iter_mut().zip(&crash.exposure) {
            *a += c;
        }
        for (cur, c) in currency.iter_mut().zip(&crash.currency) {
            cur.0 += c.0;
            cur.1 += c.1;
        }
        for p in &self.packets {
            account[p.sender.index()] += p.remaining.0 as i128;
        }
        // An open instant bet may return its `payout` (plinko's fixed payout, mines' most).
        for b in self.instant.bets().iter().filter(|b| b.is_open()) {
            account[b.account.index()] += b.payout.0 as i128;
            let c = &mut currency[self.accounts[b.account.index()].currency.index()];
            c.0 += b.payout.0 as i128;
            c.1 += b.stake.0 as i128;
        }
        let ledger = crate::decide::MAX_LEDGER.0 as i128;
        for (i, a) in self.accounts.iter().enumerate() {
            if a.exposure.0 as i128 != account[i] {
                return Err(format!(
                    "account {i} has exposure {} but its open bets and packets {}",
                    a.exposure, account[i]
                ));
            }
            if a.available.0 as i128 + a.exposure.0 as i128 > ledger || (a.available.0 as i128) < -ledger {
                return Err(format!("account {i} is beyond the ledger bound"));
            }
        }
        for (i, c) in self.currencies.iter().enumerate() {
            if (c.exposure.0 as i128, c.stakes.0 as i128) != currency[i] {
                return Err(format!(
                    "currency {i} records exposure {} and stakes {}, not {:?}",
                    c.exposure, c.stakes, currency[i]
                ));
            }
            let house = c.house.0 as i128;
            if house - currency[i].0 < -ledger
                || house + currency[i].1 > ledger
                || (c.external.0 as i128).abs() > ledger
            {
                return Err(format!("currency {i} is beyond the ledger bound"));
            }
        }
        for (peer, l) in self.links.iter().enumerate() {
            if l.transit.iter().any(|t| (t.0 as i128).abs() > ledger) {
                return Err(format!("transit with shard {peer} is beyond the ledger bound"));
            }
        }
        Ok(())
    }
}

impl State {
    /// What the open crash bets hold and may return.
    fn crash_open_sums(&self) -> crate::crash::OpenSums {
        self.crash.open_sums(self.accounts.len(), |a| self.accounts[a.index()].currency)
    }
}
