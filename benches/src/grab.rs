//! `engine-grab`: a festival flash grab. One lucky red packet with `grabs` shares; `grabs`
//! distinct users grab it, one share each.
//!
//! Setup (not timed): a sender (user 0) deposits the packet's total (1.00 per share on
//! average) and sends a lucky packet; users `1..=accounts` already have funded accounts (by
//! default a tenth of the grabbers), the others have none, so their grab opens one. The
//! state is sized for every account the run will open.
//!
//! Measured: `grabs` `GrabRedPacket`s. The grabbers are users `1..=grabs` in a seeded
//! order (a stride permutation), so users with and without an account are interleaved.
//!
//! Afterwards every grabber's account must exist and hold exactly its opening deposit plus
//! the share it was given, and the shares must sum to the packet's total.

use crate::setup::{self, MEAN_SHARE, PACKET_SENDER as SENDER, STRIDE, T0};
use crate::workload::{self, Workload};
use crate::{Error, Observer, Report, Scenario};
use croupier_domain::ids::{ExtId, Timestamp, UserId};
use croupier_domain::state::{Capacity, PacketStatus};
use croupier_domain::testkit;
use croupier_domain::{Command, Engine, Money, Reply};

/// What each pre-existing grabber account holds before the grab.
const OPENING_DEPOSIT: i64 = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrabConfig {
    /// Grabbers who already have a funded account (users `1..=accounts`).
    pub accounts: u64,
    /// Shares in the packet, and distinct users grabbing it.
    pub grabs: u64,
    pub seed: u64,
    /// 1: `Engine::execute` per grab; more: `Engine::execute_batch` with this many grabs.
    pub batch: usize,
}

impl GrabConfig {
    /// `grabs` grabbers of whom one in ten already has an account.
    pub fn new(grabs: u64, seed: u64) -> Self {
        GrabConfig { accounts: grabs / 10, grabs, seed, batch: 1 }
    }
}

impl Default for GrabConfig {
    fn default() -> Self {
        GrabConfig::new(1_000_000, 1)
    }
}

/// An engine holding one open lucky packet, and the order its grabbers come in.
#[derive(Debug)]
pub struct GrabWorkload {
    engine: Engine,
    packet: ExtId,
    grabs: u64,
    step: u64,
    next: u64,
    total: Money,
    accounts: u64,
    batch: Vec<(Timestamp, Command)>,
}

impl GrabWorkload {
    pub fn prepare(cfg: &GrabConfig, obs: &mut dyn Observer) -> Result<Self, Error> {
        setup::check_count("grabs", cfg.grabs, 1)?;
        setup::check_count("accounts", cfg.accounts, 0)?;
        setup::check_count("accounts plus grabs", cfg.accounts + cfg.grabs + 1, 1)?;
        setup::announce_setup(obs, cfg.accounts);
        let settings = setup::packet_settings(cfg.grabs as u32);
        let mut engine = setup::configured_engine(
            Capacity { accounts: (cfg.accounts.max(cfg.grabs) + 1) as usize, bets: 0 },
            settings,
            setup::limits(),
        )?;
        let total = Money(cfg.grabs as i64 * MEAN_SHARE);
        let fund_sender = testkit::deposit(SENDER.0, total.0, 0);
        setup::step(&mut engine, &fund_sender, T0, || "fund the sender".into())?;
        setup::fund_users(&mut engine, cfg.accounts, OPENING_DEPOSIT, obs)?;
        let packet = testkit::id("bench-packet");
        let send = setup::lucky_packet(packet, SENDER, total, cfg.grabs as u32, cfg.seed);
        setup::step(&mut engine, &send, T0, || "send the packet".into())?;
        Ok(GrabWorkload {
            engine,
            packet,
            grabs: cfg.grabs,
            step: STRIDE % cfg.grabs,
            next: cfg.seed % cfg.grabs,
            total,
            accounts: cfg.accounts,
            batch: Vec::new(),
        })
    }

    /// The next grab and its time (`n` counts grabs from 0). Allocates nothing.
    #[inline]
    pub fn grab(&mut self, n: u64) -> (Command, Timestamp) {
        let user = UserId(1 + self.next);
        self.next += self.step;
        if self.next >= self.grabs {
            self.next -= self.grabs;
        }
        let cmd = Command::GrabRedPacket { packet: self.packet, sender: SENDER, user };
        (cmd, setup::now_at(n))
    }

    /// Runs the next grab; true if it gave out a new share.
    #[inline]
    pub fn take(&mut self, n: u64) -> bool {
        self.run_one(n)
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn into_engine(self) -> Engine {
        self.engine
    }

    /// Checks that every share went to its grabber and that they add up to the total.
    pub fn verify(&self) -> Result<(), Error> {
        let state = self.engine.state();
        let bad = |m: String| Err(Error::Verification(m));
        let no =
            state.packet_by_id(SENDER, &self.packet).ok_or_else(|| Error::Verification("the packet is gone".into()))?;
        let p = state.packet(no);
        if p.grabbed() as u64 != self.grabs || p.status != PacketStatus::Exhausted {
            return bad(format!("{} of {} shares grabbed, packet {:?}", p.grabbed(), self.grabs, p.status));
        }
        let shares: i64 = p.grabs.iter().map(|g| g.1 .0).sum();
        if shares != self.total.0 || p.remaining != Money::ZERO {
            return bad(format!("shares sum to {shares} with {} left, the total is {}", p.remaining.0, self.total.0));
        }
        let currency = state.account(p.sender).currency;
        let mut credited = 0i64;
        for u in 1..=self.grabs {
            let user = UserId(u);
            let (_, share) = p.grab_of(user).ok_or_else(|| Error::Verification(format!("user {u} got no share")))?;
            let account = state
                .account_of(user, currency)
                .ok_or_else(|| Error::Verification(format!("user {u} has no account")))?;
            let opening = if u <= self.accounts { OPENING_DEPOSIT } else { 0 };
            let a = state.account(account);
            if a.available.0 != opening + share.0 || a.held != Money::ZERO {
                return bad(format!(
                    "user {u} holds {} available, expected {opening} plus a share of {}",
                    a.available.0, share.0
                ));
            }
            credited += a.available.0 - opening;
        }
        if credited != self.total.0 {
            return bad(format!("grabbers were credited {credited}, the packet held {}", self.total.0));
        }
        Ok(())
    }
}

workload::impl_workload!(GrabWorkload, grab, Reply::Grabbed { replayed: false, .. });

pub(crate) fn run(cfg: &GrabConfig, obs: &mut dyn Observer) -> Result<Report, Error> {
    let prepare = |obs: &mut dyn Observer| GrabWorkload::prepare(cfg, obs);
    workload::run(Scenario::EngineGrab, (cfg.grabs, cfg.batch), obs, prepare, |w, _| w.verify())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Quiet;

    #[test]
    fn every_share_is_grabbed_once_and_sums_to_the_total() {
        let cfg = GrabConfig { accounts: 300, grabs: 10_000, seed: 9, batch: 1 };
        let r = run(&cfg, &mut Quiet).unwrap();
        assert_eq!((r.ops, r.accepted, r.rejected), (10_000, 10_000, 0));
        // The sender plus every grabber.
        assert_eq!(r.accounts, 10_001);
        assert_eq!(run(&cfg, &mut Quiet).unwrap().digest, r.digest);
        // Batches grab exactly the same shares, including a short last batch.
        for batch in [2, 64, 333] {
            let b = run(&GrabConfig { batch, ..cfg }, &mut Quiet).unwrap();
            assert_eq!((b.accepted, b.digest), (r.accepted, r.digest), "batch {batch}");
        }
    }

    #[test]
    fn grabbers_come_in_a_permutation() {
        for (grabs, seed) in [(1u64, 0u64), (7, 3), (1_000, 12_345), (4_096, 1)] {
            let mut w = GrabWorkload::prepare(&GrabConfig::new(grabs, seed), &mut Quiet).unwrap();
            let mut seen = vec![false; grabs as usize + 1];
            for n in 0..grabs {
                let Command::GrabRedPacket { user, .. } = w.grab(n).0 else { unreachable!() };
                assert!(!seen[user.0 as usize], "user {} twice", user.0);
                seen[user.0 as usize] = true;
            }
            assert!(seen[1..].iter().all(|s| *s));
        }
    }

    #[test]
    fn a_second_round_of_grabs_is_refused_or_replayed() {
        let cfg = GrabConfig::new(100, 2);
        let mut w = GrabWorkload::prepare(&cfg, &mut Quiet).unwrap();
        for n in 0..100 {
            assert!(w.take(n));
        }
        w.verify().unwrap();
        // The same users again: replays, not new shares.
        for n in 0..100 {
            assert!(!w.take(n));
        }
        w.verify().unwrap();
    }

    #[test]
    fn more_shares_than_the_default_bound_are_allowed() {
        let cfg = GrabConfig { accounts: 0, grabs: 1_000_001, seed: 1, batch: 1 };
        let w = GrabWorkload::prepare(&cfg, &mut Quiet).unwrap();
        assert_eq!(w.engine().state().packets()[0].shares, 1_000_001);
    }
}
