//! Ready-made configuration for tests, simulations and `croupier bench`: one currency and a
//! baccarat-like game. Real deployments define their own with the same commands.

use crate::command::{Command, DrawResult, GameLimits, Settings};
use crate::ids::{Code, ExtId, SelectionId, Timestamp, UserId};
use crate::money::Money;
use crate::state::Outcome;
use crate::{Engine, Reject, Reply};

pub const CURRENCY: &str = "CNY";
pub const GAME: &str = "baccarat";
pub const BANKER: SelectionId = SelectionId(0);
pub const PLAYER: SelectionId = SelectionId(1);
pub const TIE: SelectionId = SelectionId(2);

pub fn code(s: &str) -> Code {
    Code::new(s).expect("valid code")
}

pub fn id(s: &str) -> ExtId {
    ExtId::new(s).expect("valid id")
}

pub use crate::games::{baccarat, default_limits};

/// Commands that configure an empty engine with [`CURRENCY`] and [`baccarat`].
pub fn setup_commands(limits: GameLimits) -> Vec<Command> {
    vec![
        Command::Configure(Settings::default()),
        Command::DefineCurrency { code: code(CURRENCY), exponent: 2 },
        Command::DefineGame(baccarat(limits)),
    ]
}

/// Runs `cmd`, panicking with the reject: for setup steps that must succeed.
pub fn must(engine: &mut Engine, cmd: &Command, now: Timestamp) -> Reply {
    engine.execute(cmd, now).unwrap_or_else(|r: Reject| panic!("{cmd:?} refused: {r}"))
}

pub fn deposit(user: u64, amount: i64, n: u64) -> Command {
    Command::Deposit {
        transfer: ExtId::numbered("dep-", n),
        user: UserId(user),
        currency: code(CURRENCY),
        amount: Money(amount),
    }
}

/// A draw where `winner` wins and the other main selections lose; a tie pushes banker and player.
pub fn draw(winner: SelectionId) -> DrawResult {
    let outcomes = match winner {
        TIE => vec![Outcome::Push, Outcome::Push, Outcome::Won],
        w => (0..3).map(|i| if i == w.0 { Outcome::Won } else { Outcome::Lost }).collect(),
    };
    DrawResult { outcomes }
}

/// A seeded generator of plausible command streams: deposits, rounds moving through their
/// lifecycle, bets, withdrawals, red packets and grabs, with some repeats and some that must be
/// refused. Deterministic for a seed; used by simulations, crash tests and `croupier bench`.
pub struct Generator {
    rng: u64,
    users: u64,
    n: u64,
    round: u64,
    round_phase: u8,
    packet: u64,
    /// The sender of packet `k` (index `k`; packet 0 is never sent): links name the sender.
    senders: Vec<UserId>,
    last: Option<Command>,
}

impl Generator {
    pub fn new(seed: u64, users: u64) -> Self {
        Generator {
            rng: seed | 1,
            users: users.max(1),
            n: 0,
            round: 0,
            round_phase: 0,
            packet: 0,
            senders: vec![UserId(0)],
            last: None,
        }
    }

    fn next_u64(&mut self) -> u64 {
        // xorshift64*: small and good enough to shape test traffic.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    fn user(&mut self) -> UserId {
        UserId(self.below(self.users))
    }

    fn round_id(&self) -> ExtId {
        ExtId::numbered("round-", self.round)
    }

    /// The next command. Time is the caller's: pass `now` to `execute` as it advances.
    pub fn next_command(&mut self) -> Command {
        self.n += 1;
        let pick = self.below(100);
        let cmd = match pick {
            0..=3 if self.last.is_some() => self.last.clone().expect("checked"),
            0..=14 => deposit(self.user().0, 1_000 + self.below(100_000) as i64, self.n),
            15..=19 => Command::Withdraw {
                transfer: ExtId::numbered("wd-", self.n),
                user: self.user(),
                currency: code(CURRENCY),
                amount: Money(1 + self.below(20_000) as i64),
            },
            20..=27 => self.round_step(),
            28..=31 => {
                self.packet += 1;
                let shares = 1 + self.below(50) as u32;
                let sender = self.user();
                self.senders.push(sender);
                Command::SendRedPacket(crate::command::SendRedPacket {
                    packet: ExtId::numbered("packet-", self.packet),
                    sender,
                    currency: code(CURRENCY),
                    total: Money(shares as i64 + self.below(50_000) as i64),
                    shares,
                    kind: if self.below(2) == 0 {
                        crate::command::PacketKind::Normal
                    } else {
                        crate::command::PacketKind::Lucky { seed: self.next_u64() }
                    },
                    ttl_ms: Some(1 + self.below(120_000)),
                    recipients: Vec::new(),
                })
            }
            32..=44 => {
                let k = self.packet.saturating_sub(self.below(3));
                let sender = self.senders[k as usize];
                Command::GrabRedPacket { packet: ExtId::numbered("packet-", k), sender, user: self.user() }
            }
            45..=47 => {
                let k = self.below(self.packet + 1);
                Command::ExpireRedPacket { packet: ExtId::numbered("packet-", k), sender: self.senders[k as usize] }
            }
            _ => Command::PlaceBet(crate::command::PlaceBet {
                order_no: ExtId::numbered("order-", self.n),
                user: self.user(),
                round: self.round_id(),
                selection: SelectionId(self.below(3) as u16),
                stake: Money(100 + self.below(5_000) as i64),
                currency: code(CURRENCY),
                platform: code("ag"),
            }),
        };
        self.last = Some(cmd.clone());
        cmd
    }

    fn round_step(&mut self) -> Command {
        let round = self.round_id();
        let coin = self.below(4);
        let winner = SelectionId(self.below(3) as u16);
        let (cmd, next) = match self.round_phase {
            0 => (Command::GameStart { round, game: id(GAME), window_ms: Some(60_000) }, 1),
            1 => (Command::GameStop { round }, 2),
            2 => (Command::NewCard { round }, 3),
            3 => (Command::GameDraw { round, result: Some(draw(winner)) }, 4),
            4 if coin == 0 => (Command::ResettleRound { round, result: draw(winner) }, 4),
            4 => (Command::GameEnd { round }, 5),
            _ => {
                self.round += 1;
                (Command::GameStart { round: self.round_id(), game: id(GAME), window_ms: Some(60_000) }, 1)
            }
        };
        self.round_phase = next;
        cmd
    }
}
