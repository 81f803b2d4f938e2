//! How one command's events become journal records, and back.
//!
//! A command's events are applied all or not at all, so they must be recognisable as one unit
//! in the journal. Most commands fit one record; a settlement of a million bets does not, so
//! events are packed into records of at most [`PART_BYTES`] ("parts"), each headed by
//! `flags: u8` (bit 0: last part) and `part: u32` (counting from 0), then the events, bincode,
//! back to back. Replay applies a command only once its last part is read; a command whose
//! parts stop short (a crash mid-append, never acknowledged) is discarded and reported.

use croupier_domain::event::Event;

/// Largest payload of one part; also bounded by the journal's own record limit.
pub const PART_BYTES: usize = 256 * 1024;
const HEADER: usize = 5;
const LAST: u8 = 1;

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
    buf[0] = if last { LAST } else { 0 };
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
}
