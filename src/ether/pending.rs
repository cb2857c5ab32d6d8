//! Packets waiting for their next hop to be resolved, and the ARP retry schedule for each.
//!
//! A bounded table of [`MAX_PENDING_NEXT_HOPS`] resolutions, each with a FIFO of at most
//! [`PENDING_PACKETS_PER_NEXT_HOP`] packets. A resolution sends its first ARP request when it
//! starts, retries every [`ARP_RETRY_INTERVAL`] and gives up after [`ARP_MAX_TRIES`] requests
//! without an answer. Packet buffers come from a free list and return to it, so after warm-up
//! queueing allocates nothing. All storage except packet buffers is allocated up front.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::Instant;

use super::later;
use super::neighbor::ARP_RETRY_INTERVAL;

/// Packets queued per next hop while it is resolved; further packets are dropped.
pub const PENDING_PACKETS_PER_NEXT_HOP: usize = 16;
/// Next hops resolved at the same time; packets for further next hops are dropped.
pub const MAX_PENDING_NEXT_HOPS: usize = 16;
/// ARP requests sent for an unresolved next hop before its packets are dropped.
pub const ARP_MAX_TRIES: u8 = 3;
/// Packet buffers with more capacity than this are freed instead of kept for reuse, so one
/// jumbo packet does not pin its memory.
pub const MAX_REUSED_BUFFER: usize = 9216;

#[derive(Debug, Clone, Copy)]
struct Resolution {
    next_hop: Ipv4Addr,
    tries: u8,
    deadline: Instant,
}

#[derive(Debug)]
struct Slot {
    resolution: Option<Resolution>,
    packets: VecDeque<Vec<u8>>,
}

/// What a due resolution wants done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// Send another ARP request for the next hop.
    Retry(Ipv4Addr),
    /// No answer after [`ARP_MAX_TRIES`]: the slot is free and `dropped` packets were dropped.
    GaveUp { next_hop: Ipv4Addr, dropped: usize },
}

/// The pending-resolution table.
#[derive(Debug)]
pub(crate) struct PendingTable {
    slots: Vec<Slot>,
    free: Vec<Vec<u8>>,
}

impl PendingTable {
    pub(crate) fn new() -> PendingTable {
        let slots = (0..MAX_PENDING_NEXT_HOPS)
            .map(|_| Slot {
                resolution: None,
                packets: VecDeque::with_capacity(PENDING_PACKETS_PER_NEXT_HOP),
            })
            .collect();
        PendingTable {
            slots,
            free: Vec::with_capacity(MAX_PENDING_NEXT_HOPS * PENDING_PACKETS_PER_NEXT_HOP),
        }
    }

    /// The slot resolving `next_hop`, if any.
    pub(crate) fn find(&self, next_hop: Ipv4Addr) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.resolution.is_some_and(|r| r.next_hop == next_hop))
    }

    /// Starts resolving `next_hop` in a free slot, counting the request the caller sends now.
    /// `None` when every slot is busy.
    pub(crate) fn start(&mut self, next_hop: Ipv4Addr, now: Instant) -> Option<usize> {
        let index = self.slots.iter().position(|s| s.resolution.is_none())?;
        let slot = self.slots.get_mut(index)?;
        slot.resolution = Some(Resolution {
            next_hop,
            tries: 1,
            deadline: later(now, ARP_RETRY_INTERVAL),
        });
        Some(index)
    }

    /// Appends a copy of `packet` to the slot's queue; `false` (nothing queued) when it is full.
    pub(crate) fn enqueue(&mut self, index: usize, packet: &[u8]) -> bool {
        let Some(slot) = self.slots.get_mut(index) else {
            return false;
        };
        if slot.packets.len() >= PENDING_PACKETS_PER_NEXT_HOP {
            return false;
        }
        let mut buf = self.free.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(packet);
        slot.packets.push_back(buf);
        true
    }

    /// The oldest queued packet of the slot. Hand the buffer back with [`Self::recycle`].
    pub(crate) fn pop(&mut self, index: usize) -> Option<Vec<u8>> {
        self.slots.get_mut(index)?.packets.pop_front()
    }

    /// Returns a packet buffer to the free list.
    pub(crate) fn recycle(&mut self, buf: Vec<u8>) {
        let bound = MAX_PENDING_NEXT_HOPS * PENDING_PACKETS_PER_NEXT_HOP;
        if buf.capacity() <= MAX_REUSED_BUFFER && self.free.len() < bound {
            self.free.push(buf);
        }
    }

    /// Frees the slot, dropping (and returning the number of) packets still queued.
    pub(crate) fn release(&mut self, index: usize) -> usize {
        let mut dropped = 0;
        while let Some(buf) = self.pop(index) {
            self.recycle(buf);
            dropped += 1;
        }
        if let Some(slot) = self.slots.get_mut(index) {
            slot.resolution = None;
        }
        dropped
    }

    /// Frees every slot; returns the number of packets dropped.
    pub(crate) fn clear(&mut self) -> usize {
        (0..self.slots.len()).map(|i| self.release(i)).sum()
    }

    /// The earliest retry or give-up deadline.
    pub(crate) fn poll_deadline(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| s.resolution.map(|r| r.deadline))
            .min()
    }

    /// Advances slot `index` if its deadline has passed; call for every index in
    /// `0..MAX_PENDING_NEXT_HOPS`.
    pub(crate) fn expire(&mut self, index: usize, now: Instant) -> Option<Expiry> {
        let slot = self.slots.get_mut(index)?;
        let resolution = slot.resolution.as_mut()?;
        if now < resolution.deadline {
            return None;
        }
        if resolution.tries < ARP_MAX_TRIES {
            resolution.tries += 1;
            resolution.deadline = later(now, ARP_RETRY_INTERVAL);
            return Some(Expiry::Retry(resolution.next_hop));
        }
        let next_hop = resolution.next_hop;
        let dropped = self.release(index);
        Some(Expiry::GaveUp { next_hop, dropped })
    }

    #[cfg(test)]
    pub(crate) fn free_buffers(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{at, t0};

    const HOP: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 1);

    fn expire_all(table: &mut PendingTable, now: Instant) -> Vec<Expiry> {
        (0..MAX_PENDING_NEXT_HOPS)
            .filter_map(|i| table.expire(i, now))
            .collect()
    }

    #[test]
    fn queues_in_order_and_reuses_buffers() {
        let mut table = PendingTable::new();
        let slot = table.start(HOP, t0()).unwrap();
        assert_eq!(table.find(HOP), Some(slot));
        for i in 0..PENDING_PACKETS_PER_NEXT_HOP as u8 {
            assert!(table.enqueue(slot, &[i, i, i]));
        }
        assert!(!table.enqueue(slot, b"one too many"));
        let mut seen = Vec::new();
        while let Some(buf) = table.pop(slot) {
            seen.push(buf[0]);
            table.recycle(buf);
        }
        assert_eq!(seen, (0..16).collect::<Vec<u8>>());
        assert_eq!(table.free_buffers(), 16);
        assert_eq!(table.release(slot), 0);
        assert_eq!(table.find(HOP), None);
        let slot = table.start(HOP, t0()).unwrap();
        assert!(table.enqueue(slot, b"again"));
        assert_eq!(table.free_buffers(), 15, "a buffer came from the free list");
        assert_eq!(table.pop(slot).unwrap(), b"again");
    }

    #[test]
    fn retries_once_per_interval_then_gives_up() {
        let t = t0();
        let mut table = PendingTable::new();
        let slot = table.start(HOP, t).unwrap();
        table.enqueue(slot, b"a");
        table.enqueue(slot, b"b");
        assert_eq!(table.poll_deadline(), Some(at(t, 1_000)));
        assert_eq!(expire_all(&mut table, at(t, 999)), []);
        assert_eq!(expire_all(&mut table, at(t, 1_000)), [Expiry::Retry(HOP)]);
        assert_eq!(expire_all(&mut table, at(t, 1_500)), []);
        assert_eq!(expire_all(&mut table, at(t, 2_100)), [Expiry::Retry(HOP)]);
        assert_eq!(table.poll_deadline(), Some(at(t, 3_100)));
        let gave_up = Expiry::GaveUp {
            next_hop: HOP,
            dropped: 2,
        };
        assert_eq!(expire_all(&mut table, at(t, 3_100)), [gave_up]);
        assert_eq!(table.poll_deadline(), None);
        assert_eq!(table.find(HOP), None);
    }

    #[test]
    fn the_table_is_bounded_and_clear_counts_packets() {
        let t = t0();
        let mut table = PendingTable::new();
        for i in 0..MAX_PENDING_NEXT_HOPS as u32 {
            let slot = table.start(Ipv4Addr::from(0x0a00_0000 + i), t).unwrap();
            assert!(table.enqueue(slot, b"x"));
        }
        assert_eq!(table.start(HOP, t), None);
        assert_eq!(table.clear(), MAX_PENDING_NEXT_HOPS);
        assert_eq!(table.poll_deadline(), None);
        assert!(table.start(HOP, t).is_some());
    }

    #[test]
    fn oversized_buffers_are_not_kept() {
        let mut table = PendingTable::new();
        let slot = table.start(HOP, t0()).unwrap();
        assert!(table.enqueue(slot, &vec![0u8; MAX_REUSED_BUFFER + 1]));
        assert!(!table.enqueue(usize::MAX, b"no such slot"));
        assert_eq!(table.release(slot), 1);
        assert_eq!(table.free_buffers(), 0);
    }
}
