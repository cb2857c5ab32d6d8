//! Data packet-ids (§6.4): the per-key send counter and the receive replay window.
//!
//! Send: ids start at 1 for every key and grow by one per packet; from [`REKEY_TRIGGER`] on the
//! key wants replacing, and id `0xFFFF_FFFF` is never used (`packet_id.h`). Receive: a sliding
//! window over the last [`REPLAY_WINDOW_PACKETS`] ids (one `u64` bitmap, as boringtun keeps its
//! counter window) plus a time rule: a packet older than the newest one seen is accepted only
//! within [`REPLAY_WINDOW_TIME`] of the newest one's arrival (`replay-window 64 15`). Ids are
//! only marked after the packet authenticated, so forged packets cannot move the window.

use std::time::{Duration, Instant};

/// From this sent packet-id on, a key should be renegotiated (`PACKET_ID_WRAP_TRIGGER`).
pub const REKEY_TRIGGER: u32 = 0xFF00_0000;
/// How many ids behind the newest one a reordered packet may be (`replay-window` n).
pub const REPLAY_WINDOW_PACKETS: u32 = 64;
/// How long after the newest packet a reordered one is still accepted (`replay-window` t).
pub const REPLAY_WINDOW_TIME: Duration = Duration::from_secs(15);

/// Why a received packet-id was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// 0 is never a valid data packet-id.
    #[error("packet-id 0 is invalid")]
    Zero,
    /// The id was already received.
    #[error("packet-id {0} was already received (replay or duplicate)")]
    Duplicate(u32),
    /// The id is further behind the newest one than the window reaches.
    #[error("packet-id {id} is more than {REPLAY_WINDOW_PACKETS} behind the newest ({newest})")]
    TooOld {
        /// The refused id.
        id: u32,
        /// The newest id seen.
        newest: u32,
    },
    /// A reordered id that arrived too long after the newest one.
    #[error("reordered packet-id {0} arrived more than 15 s after the newest one")]
    TooLate(u32),
}

/// The send side: the next packet-id of one key.
#[derive(Clone, Debug)]
pub struct PacketIdCounter {
    next: u32,
}

impl Default for PacketIdCounter {
    fn default() -> Self {
        PacketIdCounter { next: 1 }
    }
}

impl PacketIdCounter {
    /// Takes the next id, or `None` once the id space is used up (the key must be replaced).
    pub fn take(&mut self) -> Option<u32> {
        if self.next == u32::MAX {
            return None;
        }
        let id = self.next;
        self.next += 1;
        Some(id)
    }

    /// True once an id at or past [`REKEY_TRIGGER`] was sent.
    pub fn wants_rekey(&self) -> bool {
        self.next > REKEY_TRIGGER
    }

    /// Test hook: continue counting at `next`.
    #[cfg(test)]
    pub fn set_next(&mut self, next: u32) {
        self.next = next;
    }
}

/// The receive side: which of the last 64 ids have been seen.
#[derive(Clone, Debug, Default)]
pub struct ReplayWindow {
    /// Newest id accepted so far (0: none yet).
    newest: u32,
    /// When `newest` arrived.
    newest_at: Option<Instant>,
    /// Bit `i` set: id `newest - i` was accepted.
    seen: u64,
}

impl ReplayWindow {
    /// Checks an authenticated packet's id and, if acceptable, records it.
    pub fn accept(&mut self, id: u32, now: Instant) -> Result<(), ReplayError> {
        if id == 0 {
            return Err(ReplayError::Zero);
        }
        if id > self.newest {
            let shift = id - self.newest;
            self.seen = if shift >= 64 { 0 } else { self.seen << shift };
            self.seen |= 1;
            self.newest = id;
            self.newest_at = Some(now);
            return Ok(());
        }
        let behind = self.newest - id;
        if behind >= REPLAY_WINDOW_PACKETS {
            return Err(ReplayError::TooOld {
                id,
                newest: self.newest,
            });
        }
        let bit = 1u64 << behind;
        if self.seen & bit != 0 {
            return Err(ReplayError::Duplicate(id));
        }
        let late = self
            .newest_at
            .is_some_and(|at| now.saturating_duration_since(at) > REPLAY_WINDOW_TIME);
        if late {
            return Err(ReplayError::TooLate(id));
        }
        self.seen |= bit;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{at, t0};

    #[test]
    fn counter_starts_at_one_and_stops_before_the_last_id() {
        let mut counter = PacketIdCounter::default();
        assert_eq!(counter.take(), Some(1));
        assert_eq!(counter.take(), Some(2));
        assert!(!counter.wants_rekey());
        counter.set_next(REKEY_TRIGGER - 1);
        assert_eq!(counter.take(), Some(REKEY_TRIGGER - 1));
        assert!(!counter.wants_rekey());
        assert_eq!(counter.take(), Some(REKEY_TRIGGER));
        assert!(counter.wants_rekey());
        counter.set_next(u32::MAX - 1);
        assert_eq!(counter.take(), Some(u32::MAX - 1));
        assert_eq!(counter.take(), None);
        assert_eq!(counter.take(), None);
    }

    #[test]
    fn in_order_ids_are_accepted_and_duplicates_refused() {
        let now = t0();
        let mut window = ReplayWindow::default();
        assert_eq!(window.accept(0, now), Err(ReplayError::Zero));
        for id in 1..=200 {
            assert_eq!(window.accept(id, now), Ok(()));
        }
        assert_eq!(window.accept(200, now), Err(ReplayError::Duplicate(200)));
        assert_eq!(window.accept(150, now), Err(ReplayError::Duplicate(150)));
        assert_eq!(
            window.accept(136, now),
            Err(ReplayError::TooOld {
                id: 136,
                newest: 200
            })
        );
        assert_eq!(window.accept(0, now), Err(ReplayError::Zero));
    }

    #[test]
    fn reordering_within_the_window_is_accepted_once() {
        let now = t0();
        let mut window = ReplayWindow::default();
        assert_eq!(window.accept(100, now), Ok(()));
        // 63 behind is the oldest acceptable id, 64 behind is too old.
        assert_eq!(window.accept(37, now), Ok(()));
        assert_eq!(window.accept(37, now), Err(ReplayError::Duplicate(37)));
        assert!(matches!(
            window.accept(36, now),
            Err(ReplayError::TooOld { .. })
        ));
        assert_eq!(window.accept(99, now), Ok(()));
        assert_eq!(window.accept(101, now), Ok(()));
        assert_eq!(window.accept(98, now), Ok(()));
        assert_eq!(window.accept(99, now), Err(ReplayError::Duplicate(99)));
        // A big jump clears the history; the old ids are now out of reach.
        assert_eq!(window.accept(1_000, now), Ok(()));
        assert!(matches!(
            window.accept(101, now),
            Err(ReplayError::TooOld { .. })
        ));
        assert_eq!(window.accept(999, now), Ok(()));
        assert_eq!(window.accept(u32::MAX, now), Ok(()));
        assert_eq!(window.accept(u32::MAX - 63, now), Ok(()));
    }

    #[test]
    fn reordered_packets_expire_after_fifteen_seconds() {
        let base = t0();
        let mut window = ReplayWindow::default();
        assert_eq!(window.accept(10, base), Ok(()));
        assert_eq!(window.accept(8, at(base, 15_000)), Ok(()));
        assert_eq!(
            window.accept(7, at(base, 15_001)),
            Err(ReplayError::TooLate(7))
        );
        // Newer ids are never late, and they restart the clock.
        assert_eq!(window.accept(11, at(base, 60_000)), Ok(()));
        assert_eq!(window.accept(9, at(base, 61_000)), Ok(()));
    }
}
