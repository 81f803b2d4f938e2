//! How one command's events become journal records, and back.
//!
//! A command's events are applied all or not at all, so they must be recognisable as one unit
//! in the journal. Most commands fit one record; a settlement of a million bets does not, so
//! events are packed into records of at most [`PART_BYTES`] ("parts"), each headed by
//! `flags: u8` and `part: u32` (little endian, counting from 0), then the events, bincode,
//! back to back. Replay applies a command only once its last part is read; a command whose
//! parts stop short (a crash mid-append, never acknowledged) is discarded and reported.
//!
//! `flags`: bit 0 marks the last part; bits 4-7 hold the codec version that wrote the record
//! ([`CODEC_VERSION`]). Version 1 is bincode 1 of [`Event`] as it is now: the variant's index
//! in declaration order (u32), then its fields. Records written before versions were recorded
//! carry 0 there and are version 1's layout. A change to the encoding — reordering, removing
//! or changing a variant's fields — is a new version with its own decoder beside the old ones;
//! a new variant at the end is not (old records never name it). The golden files in
//! `engine/store/golden/v1/` (every event kind, written by version 1) must decode to the same
//! events forever after: the tests below read them.

use croupier_domain::event::Event;

/// Largest payload of one part; also bounded by the journal's own record limit.
pub const PART_BYTES: usize = 256 * 1024;
const HEADER: usize = 5;
const LAST: u8 = 1;
/// The codec version this build writes; it reads this one and every earlier one.
pub const CODEC_VERSION: u8 = 1;
const VERSION_SHIFT: u32 = 4;

/// Encodes `events` as parts, calling `emit` with each part's payload in order. `buf` is reused
/// between calls so that a one-event command allocates nothing.
pub fn encode<E>(
    events: &[Event],
    max_payload: usize,
    buf: &mut Vec<u8>,
    mut emit: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<u32, E> {
    let limit = PART_BYTES.min(max_payload);
    let mut part = 0u32;
    buf.clear();
    buf.extend_from_slice(&[0; HEADER]);
    for (i, e) in events.iter().enumerate() {
        let mark = buf.len();
        bincode::serialize_into(&mut *buf, e).expect("events serialize");
        let full = buf.len() > limit && mark > HEADER;
        if full {
            // The event that overflowed starts the next part.
            let spill = buf.split_off(mark);
            seal(buf, part, false);
            emit(buf)?;
            part += 1;
            buf.clear();
            buf.extend_from_slice(&[0; HEADER]);
            buf.extend_from_slice(&spill);
        }
        assert!(buf.len() <= max_payload, "event {i} alone exceeds the journal's record limit");
    }
    seal(buf, part, true);
    emit(buf)?;
    Ok(part + 1)
}

fn seal(buf: &mut [u8], part: u32, last: bool) {
    buf[0] = (CODEC_VERSION << VERSION_SHIFT) | if last { LAST } else { 0 };
    buf[1..HEADER].copy_from_slice(&part.to_le_bytes());
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("record too short for a part header")]
    Short,
    #[error("part {got} where part {expected} was due")]
    OutOfOrder { expected: u32, got: u32 },
    #[error("event does not decode: {0}")]
    Event(#[from] bincode::Error),
    #[error(
        "record written by codec version {0}, newer than this build's {CODEC_VERSION}: upgrade croupier to read it"
    )]
    UnknownVersion(u8),
}

/// Reassembles commands from parts.
#[derive(Debug, Default)]
pub struct Assembler {
    pending: Vec<Event>,
    next_part: u32,
    /// Journal position of the first part of the pending command.
    pending_from: u64,
    /// An earlier command cut off before the pending one began, reported with the pending
    /// one when it completes.
    aborted: Option<(u64, u32)>,
}

/// What a part completed.
pub enum Assembled<'a> {
    /// More parts are due.
    Partial,
    /// A whole command's events. `aborted` counts parts of an earlier command that never
    /// finished (a crash mid-append) and were dropped.
    Command { events: &'a [Event], aborted: Option<(u64, u32)> },
}

impl Assembler {
    /// Feeds the part stored at journal position `seq`.
    pub fn push(&mut self, seq: u64, payload: &[u8]) -> Result<Assembled<'_>, DecodeError> {
        if payload.len() < HEADER {
            return Err(DecodeError::Short);
        }
        match payload[0] >> VERSION_SHIFT {
            // 0: written before versions were recorded, in version 1's layout.
            0 | 1 => {}
            v => return Err(DecodeError::UnknownVersion(v)),
        }
        let last = payload[0] & LAST != 0;
        let part = u32::from_le_bytes(payload[1..HEADER].try_into().expect("4 bytes"));
        if part == 0 {
            if self.next_part != 0 {
                // A new command began before the pending one ended: the pending one was cut
                // off by a crash and never acknowledged.
                self.aborted = Some((self.pending_from, self.next_part));
            }
            self.pending.clear();
            self.pending_from = seq;
        } else if part != self.next_part {
            return Err(DecodeError::OutOfOrder { expected: self.next_part, got: part });
        }
        let mut rest = &payload[HEADER..];
        while !rest.is_empty() {
            self.pending.push(bincode::deserialize_from(&mut rest)?);
        }
        if last {
            self.next_part = 0;
            Ok(Assembled::Command { events: &self.pending, aborted: self.aborted.take() })
        } else {
            self.next_part = part + 1;
            Ok(Assembled::Partial)
        }
    }

    /// Commands cut off at the end of the journal: an unfinished one, and one it displaced.
    pub fn unfinished(&self) -> impl Iterator<Item = (u64, u32)> {
        let pending = (self.next_part != 0).then_some((self.pending_from, self.next_part));
        self.aborted.into_iter().chain(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use croupier_domain::ids::{AccountNo, ExtId};
    use croupier_domain::money::Money;

    fn deposits(n: u32) -> Vec<Event> {
        (0..n)
            .map(|i| Event::Deposited {
                account: AccountNo(i),
                transfer: ExtId::numbered("t", i as u64),
                amount: Money(1),
            })
            .collect()
    }

    fn roundtrip(events: &[Event], max: usize) -> (u32, Vec<Event>) {
        let mut parts = Vec::new();
        let n = encode::<()>(events, max, &mut Vec::new(), |p| {
            parts.push(p.to_vec());
            Ok(())
        })
        .unwrap();
        let mut a = Assembler::default();
        let mut out = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            if let Assembled::Command { events, aborted } = a.push(i as u64 + 1, p).unwrap() {
                assert!(aborted.is_none());
                out = events.to_vec();
            }
        }
        assert_eq!(a.unfinished().count(), 0);
        (n, out)
    }

    #[test]
    fn small_commands_take_one_part_and_big_ones_split() {
        let one = deposits(1);
        assert_eq!(roundtrip(&one, 1 << 20), (1, one));
        let many = deposits(20_000);
        let (parts, back) = roundtrip(&many, 1 << 20);
        assert!(parts > 1, "{parts}");
        assert_eq!(back, many);
        let (parts, back) = roundtrip(&many, 4096);
        assert!(parts > 100);
        assert_eq!(back, many);
    }

    #[test]
    fn a_command_cut_short_is_dropped_when_the_next_begins() {
        let mut parts = Vec::new();
        encode::<()>(&deposits(20_000), 4096, &mut Vec::new(), |p| {
            parts.push(p.to_vec());
            Ok(())
        })
        .unwrap();
        let mut a = Assembler::default();
        for (i, p) in parts.iter().take(3).enumerate() {
            assert!(matches!(a.push(i as u64 + 10, p).unwrap(), Assembled::Partial));
        }
        assert_eq!(a.unfinished().collect::<Vec<_>>(), vec![(10, 3)]);
        let mut next = Vec::new();
        encode::<()>(&deposits(1), 4096, &mut Vec::new(), |p| {
            next = p.to_vec();
            Ok(())
        })
        .unwrap();
        match a.push(13, &next).unwrap() {
            Assembled::Command { events, aborted } => {
                assert_eq!(events.len(), 1);
                assert_eq!(aborted, Some((10, 3)));
            }
            Assembled::Partial => panic!("one-part command"),
        }
        assert!(matches!(a.push(14, &parts[5]), Err(DecodeError::OutOfOrder { .. })));

        // Cut off, then followed by a command of several parts: still reported, once.
        let mut a = Assembler::default();
        assert!(matches!(a.push(1, &parts[0]).unwrap(), Assembled::Partial));
        let mut reported = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            if let Assembled::Command { aborted, .. } = a.push(i as u64 + 2, p).unwrap() {
                reported.extend(aborted);
            }
        }
        assert_eq!(reported, vec![(1, 1)]);
    }

    /// One event of every kind, from a scripted history on shard 0 of 2 (so that transfers
    /// between shards appear too), in the order they first happen.
    fn one_of_each() -> Vec<Event> {
        use croupier_domain::command::{
            Command, PacketKind, PartnerBetStatus, PlaceBet, SendRedPacket, Topology, Transfer, TransferSource,
        };
        use croupier_domain::ids::{Timestamp, UserId};
        use croupier_domain::state::PlayerLimits;
        use croupier_domain::testkit::*;
        use croupier_domain::topology::shard_of;
        use croupier_domain::{Engine, State};
        let here: Vec<u64> = (1..).filter(|u| shard_of(UserId(*u), 2) == 0).take(3).collect();
        let there = (1..).find(|u| shard_of(UserId(*u), 2) == 1).unwrap();
        let (a, b, c) = (UserId(here[0]), UserId(here[1]), UserId(here[2]));
        let t = Timestamp(1_700_000_000_000);
        let id = |s: &str| ExtId::new(s).unwrap();
        let mut script = setup_commands(default_limits());
        script.extend([
            Command::SetTopology(Topology { shard: 0, shards: 2 }),
            deposit(a.0, 100_000, 1),
            deposit(b.0, 100_000, 2),
            Command::Withdraw { transfer: id("w1"), user: a, currency: code(CURRENCY), amount: Money(1_000) },
            Command::SetPlayerLimits { user: a, currency: code(CURRENCY), limits: PlayerLimits::default() },
            Command::SelfExclude { user: c, until: t },
            Command::GameStart { round: id("r1"), game: id(GAME), window_ms: Some(60_000) },
            Command::PlaceBet(PlaceBet {
                order_no: id("o1"),
                user: a,
                round: id("r1"),
                selection: BANKER,
                stake: Money(500),
                currency: code(CURRENCY),
                platform: code("ag"),
            }),
            Command::GameStop { round: id("r1") },
            Command::GameDraw { round: id("r1"), result: Some(draw(BANKER)) },
            Command::ResettleRound { round: id("r1"), result: draw(PLAYER) },
            Command::Refund { bet: id("b0"), user: a },
            Command::BlockFunds {
                bet: id("b1"),
                partner: code("p1"),
                user: a,
                currency: code(CURRENCY),
                amount: Money(700),
            },
            Command::UpdateBetStatus { bet: id("b1"), user: a, status: PartnerBetStatus::Lost },
            Command::RecalculateBet { bet: id("b1"), user: a, transaction: id("x1"), status: PartnerBetStatus::Void },
            Command::SendRedPacket(SendRedPacket {
                packet: id("p1"),
                sender: a,
                currency: code(CURRENCY),
                total: Money(1_000),
                shares: 3,
                kind: PacketKind::Lucky { seed: 7 },
                ttl_ms: Some(1),
                recipients: Vec::new(),
            }),
            Command::GrabRedPacket { packet: id("p1"), sender: a, user: b },
            Command::GrabRedPacket { packet: id("p1"), sender: a, user: UserId(there) },
            Command::AckTransfers { peer: 1, upto: 1 },
            Command::ReceiveTransfer(Transfer {
                from: 1,
                to: 0,
                seq: 1,
                user: b,
                currency: code(CURRENCY),
                amount: Money(250),
                source: TransferSource::PacketShare { packet: id("p9"), share: 0 },
            }),
        ]);
        let mut e = Engine::new(State::new());
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for cmd in &script {
            must(&mut e, cmd, t);
            out.extend(e.events().iter().filter(|ev| seen.insert(ev.name())).cloned());
        }
        let expire = Command::ExpireRedPacket { packet: id("p1"), sender: a };
        must(&mut e, &expire, Timestamp(t.0 + 10));
        out.extend(e.events().iter().filter(|ev| seen.insert(ev.name())).cloned());
        let named = Command::SendRedPacket(SendRedPacket {
            packet: id("p2"),
            sender: a,
            currency: code(CURRENCY),
            total: Money(100),
            shares: 2,
            kind: PacketKind::Normal,
            ttl_ms: None,
            recipients: vec![b, UserId(there)],
        });
        must(&mut e, &named, t);
        out.extend(e.events().iter().filter(|ev| seen.insert(ev.name())).cloned());
        for cmd in instant_script(a) {
            must(&mut e, &cmd, t);
            out.extend(e.events().iter().filter(|ev| seen.insert(ev.name())).cloned());
        }
        // No longer written (refunds are remembered per player since), still read.
        out.push(Event::PartnerRefundRemembered { bet: id("b0") });
        out.extend(crash_samples(&mut e, &mut seen, Timestamp(t.0 + 20)));
        out
    }

    /// One of each crash event: a term run to its crash (a cancelled bet, an auto cashout, a
    /// loss), then a stopped term.
    fn crash_samples(
        e: &mut croupier_domain::Engine,
        seen: &mut std::collections::BTreeSet<&'static str>,
        t: croupier_domain::ids::Timestamp,
    ) -> Vec<Event> {
        use croupier_domain::command::Command;
        use croupier_domain::crash::testkit as kit;
        use croupier_domain::crash::{curve, ChannelConfig, CrashCommand};
        use croupier_domain::ids::{Timestamp, UserId};
        use croupier_domain::testkit::*;
        use croupier_domain::Engine;
        let chain = kit::chain("golden crash", 4);
        let u = UserId(7);
        let after = |ms: u64| Timestamp(t.0 + ms);
        let mut out = Vec::new();
        let mut run = |e: &mut Engine, cmd: &Command, now: Timestamp| {
            must(e, cmd, now);
            out.extend(e.events().iter().filter(|ev| seen.insert(ev.name())).cloned());
        };
        run(
            e,
            &Command::Deposit { transfer: id("crash-dep"), user: u, currency: code(CURRENCY), amount: Money(100_000) },
            t,
        );
        run(e, &kit::create_channel(&chain, ChannelConfig::seed_001(vec![kit::limits()])), t);
        run(e, &Command::Crash(CrashCommand::SetPaused { channel: id(kit::CHANNEL), paused: true }), t);
        run(e, &Command::Crash(CrashCommand::SetPaused { channel: id(kit::CHANNEL), paused: false }), t);
        run(e, &kit::open(1), t);
        run(e, &kit::bet(7, id("c1"), 1_000, Some(101)), after(1));
        run(e, &kit::bet(7, id("c2"), 1_000, Some(1_000_000)), after(1));
        run(e, &kit::bet(7, id("c3"), 1_000, None), after(1));
        run(e, &Command::Crash(CrashCommand::CancelBet { user: u, order_no: id("c3") }), after(2));
        run(e, &kit::close_bets(1), after(8_000));
        run(e, &kit::take_off(1, chain.game(1).unwrap()), after(10_000));
        let flight = e.state().crash().terms()[0].flight.clone().unwrap();
        assert!((101..1_000_000).contains(&flight.crash_point), "the sample needs a win and a loss");
        run(e, &kit::crash(1), after(10_000 + curve::elapsed_to_reach(flight.crash_point)));
        run(e, &kit::open(2), after(20_000));
        run(e, &kit::bet(7, id("c4"), 1_000, None), after(20_001));
        run(e, &kit::stop(2), after(20_002));
        out
    }

    /// The instant games' events: configuration, a seed, a dice bet, a mines game with a gem
    /// and a cash out.
    fn instant_script(user: croupier_domain::ids::UserId) -> Vec<croupier_domain::Command> {
        use croupier_domain::instant::dice::DiceCall;
        use croupier_domain::instant::*;
        use croupier_domain::testkit::*;
        use croupier_domain::Command;
        let mut config = InstantConfig::stake_defaults();
        config.limits.push(InstantLimits {
            currency: code(CURRENCY),
            min_stake: Money(1),
            max_stake: Money(10_000),
            max_win: Money(1_000_000),
        });
        let seed = ServerSeed([9; 32]);
        let client = ClientSeed::new("golden").unwrap();
        let bet = |id: &str, game| {
            let (id, currency, stake) = (ExtId::new(id).unwrap(), code(CURRENCY), Money(100));
            Command::Instant(InstantCommand::Bet(InstantBet { id, user, currency, stake, game }))
        };
        // Nonce 1 is the mines game: a tile without its mine.
        let mine = mines::place(&mut Stream::of(&seed, b"golden", 1), 1);
        let tile = (0..25).find(|t| mine & 1 << t == 0).unwrap();
        let game = ExtId::new("m1").unwrap();
        let mut script = vec![
            Command::Instant(InstantCommand::Configure(Box::new(config))),
            Command::Instant(InstantCommand::RotateSeed { user, server_seed: seed, client_seed: client }),
            bet("d1", GameParams::Dice(DiceCall { target: 5_000, over: true })),
            bet("m1", GameParams::Mines { mines: 1 }),
            Command::Instant(InstantCommand::Reveal { user, id: game, tile }),
            Command::Instant(InstantCommand::CashOut { user, id: game }),
        ];
        // Blackjack from nonce 2 on: games dealt until one stays open after the deal, played
        // to its end by standing (declining insurance first); then a plinko bet refunded.
        let mut nonce = 2;
        let played = loop {
            let id = ExtId::numbered("bj", nonce);
            script.push(bet(id.as_str(), GameParams::Blackjack));
            let mut shoe = blackjack::StreamShoe::new(Stream::of(&seed, b"golden", nonce));
            nonce += 1;
            let (mut t, mut actions) = (blackjack::replay(&mut shoe, Money(100), &[]).unwrap(), Vec::new());
            if t.over {
                continue;
            }
            while !t.over {
                let a = if t.insurance == blackjack::Insurance::Offered {
                    blackjack::Action::Insurance { take: false }
                } else {
                    blackjack::Action::Stand
                };
                actions.push(a);
                t = blackjack::replay(&mut shoe, Money(100), &actions).unwrap();
            }
            break (id, actions);
        };
        for (step, action) in played.1.into_iter().enumerate() {
            script.push(Command::Instant(InstantCommand::Act { user, id: played.0, step: Some(step as u8), action }));
        }
        script.push(bet("p1", GameParams::Plinko { rows: 8, risk: plinko::PlinkoRisk::Low }));
        script.push(Command::Instant(InstantCommand::Refund { user, id: ExtId::new("p1").unwrap() }));
        script
    }

    fn golden_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden").join("v1")
    }

    /// The sample history yields every kind of event there is: bincode numbers variants from
    /// 0, so a record naming the next number must not decode (were a variant added, it would,
    /// and this fails until the new kind has a sample and a golden file).
    #[test]
    fn the_samples_cover_every_kind_of_event() {
        let samples = one_of_each();
        let kind = |bytes: Vec<u8>| u32::from_le_bytes(bytes[..4].try_into().unwrap());
        let mut kinds: Vec<u32> = samples.iter().map(|e| kind(bincode::serialize(e).unwrap())).collect();
        kinds.sort_unstable();
        // A game's events nest under one variant of `Event` (`Crash`, `Instant`), sharing its
        // outer number: one sample per top-level kind, and per kind of each nested enum.
        kinds.dedup();
        let n = kinds.len() as u32;
        assert_eq!(kinds, (0..n).collect::<Vec<_>>(), "one sample per kind");
        assert!(bincode::deserialize::<Event>(&n.to_le_bytes()).is_err(), "an event kind has no sample");
        let nested = |pick: &dyn Fn(&Event) -> Option<Vec<u8>>| -> (u32, u32) {
            let outer = samples.iter().find(|e| pick(e).is_some()).map(|e| kind(bincode::serialize(e).unwrap()));
            let inner: std::collections::BTreeSet<u32> = samples.iter().filter_map(|e| pick(e).map(kind)).collect();
            let k = inner.len() as u32;
            assert_eq!(inner.into_iter().collect::<Vec<_>>(), (0..k).collect::<Vec<_>>(), "one sample per nested kind");
            (outer.expect("a sample of the nested enum"), k)
        };
        let crash = nested(&|e| match e {
            Event::Crash(c) => Some(bincode::serialize(c).unwrap()),
            _ => None,
        });
        let instant = nested(&|e| match e {
            Event::Instant(i) => Some(bincode::serialize(i).unwrap()),
            _ => None,
        });
        for (outer, k) in [crash, instant] {
            let beyond = [outer.to_le_bytes(), k.to_le_bytes()].concat();
            assert!(bincode::deserialize::<Event>(&beyond).is_err(), "a nested event kind has no sample");
        }
    }

    /// Golden files: each kind of event as version 1 wrote it (`<name>.bin`, a whole record)
    /// and what it means (`<name>.json`). Every later build must decode each `.bin` to the same
    /// JSON; this build must also write exactly the same bytes. `CROUPIER_BLESS=1` writes them
    /// (only ever for a new kind: changing an existing file breaks old journals).
    #[test]
    fn golden_records_of_every_event_kind_decode_identically() {
        let dir = golden_dir();
        let bless = std::env::var_os("CROUPIER_BLESS").is_some();
        for event in one_of_each() {
            let name = event.name();
            let mut record = Vec::new();
            encode::<()>(std::slice::from_ref(&event), 1 << 20, &mut Vec::new(), |p| {
                record = p.to_vec();
                Ok(())
            })
            .unwrap();
            let json = serde_json::to_string_pretty(&event).unwrap() + "\n";
            let (bin_path, json_path) = (dir.join(format!("{name}.bin")), dir.join(format!("{name}.json")));
            if bless && !bin_path.exists() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&bin_path, &record).unwrap();
                std::fs::write(&json_path, &json).unwrap();
            }
            let golden = std::fs::read(&bin_path).unwrap_or_else(|e| panic!("{}: {e}", bin_path.display()));
            let meaning: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
            let mut a = Assembler::default();
            let Ok(Assembled::Command { events, .. }) = a.push(1, &golden) else {
                panic!("{name}: not one whole record")
            };
            assert_eq!(events.len(), 1, "{name}");
            assert_eq!(
                serde_json::to_value(&events[0]).unwrap(),
                meaning,
                "{name}: the golden record decodes differently"
            );
            assert_eq!(record, golden, "{name}: this build writes other bytes than version 1 did");
        }
    }

    #[test]
    fn a_record_from_a_newer_codec_is_refused_by_name() {
        let mut record = Vec::new();
        encode::<()>(&deposits(1), 4096, &mut Vec::new(), |p| {
            record = p.to_vec();
            Ok(())
        })
        .unwrap();
        assert_eq!(record[0] >> VERSION_SHIFT, CODEC_VERSION);
        record[0] = (CODEC_VERSION + 1) << VERSION_SHIFT | LAST;
        assert!(matches!(Assembler::default().push(1, &record), Err(DecodeError::UnknownVersion(2))));
        // Records from before versions were recorded (0) read as version 1.
        record[0] = LAST;
        assert!(matches!(Assembler::default().push(1, &record), Ok(Assembled::Command { .. })));
    }
}
