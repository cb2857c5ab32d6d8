//! The neighbour cache: IPv4 address → MAC address, with expiry and refresh-before-expiry.
//!
//! Simplified from Linux's neighbour state machine (and smoltcp's cache): an entry is valid for
//! [`NEIGHBOR_LIFETIME`] after it was last confirmed by ARP. When a packet uses an entry within
//! [`NEIGHBOR_REFRESH_WINDOW`] of its expiry, the lookup asks the caller to send an ARP request
//! (unicast to the cached MAC for the first [`UNICAST_REFRESH_TRIES`], then broadcast), at most
//! once per [`ARP_RETRY_INTERVAL`]. The packet itself still goes out with the cached MAC, so
//! steady traffic never waits; a reply re-confirms the entry. Expiry is lazy: an expired entry
//! is treated as absent and removed when met, so the cache needs no timer of its own.
//!
//! The table is bounded by [`NEIGHBOR_CACHE_CAPACITY`]; when full, the entry closest to expiry
//! (the one confirmed longest ago) is evicted. Its storage is allocated once, up front.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::{later, MacAddr};

/// How long an ARP-confirmed entry is used without re-confirmation.
pub const NEIGHBOR_LIFETIME: Duration = Duration::from_secs(60);
/// How long before expiry an entry in use is refreshed by ARP.
pub const NEIGHBOR_REFRESH_WINDOW: Duration = Duration::from_secs(5);
/// Maximum number of cached neighbours.
pub const NEIGHBOR_CACHE_CAPACITY: usize = 512;
/// Refresh requests sent unicast to the cached MAC before falling back to broadcast
/// (Linux's `ucast_solicit` default).
pub const UNICAST_REFRESH_TRIES: u8 = 3;
/// Minimum spacing of ARP requests for one address (RFC 1122 §2.3.2.1: at most one per second).
pub const ARP_RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// How a refresh request for a cached neighbour is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refresh {
    /// To the cached MAC (the neighbour is probably still there).
    Unicast(MacAddr),
    /// To everyone (the neighbour may have a new MAC).
    Broadcast,
}

/// The answer to a lookup made for sending a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Send to `mac`; if `refresh` is set, also send an ARP request to re-confirm the entry.
    Found {
        mac: MacAddr,
        refresh: Option<Refresh>,
    },
    /// Unknown or expired: resolve first.
    Missing,
}

#[derive(Debug, Clone, Copy)]
struct Neighbor {
    mac: MacAddr,
    expires_at: Instant,
    refresh_tries: u8,
    last_refresh: Option<Instant>,
}

impl Neighbor {
    fn new(mac: MacAddr, now: Instant) -> Neighbor {
        Neighbor {
            mac,
            expires_at: later(now, NEIGHBOR_LIFETIME),
            refresh_tries: 0,
            last_refresh: None,
        }
    }

    /// Whether a packet sent now should trigger a refresh request, recording it if so.
    fn take_refresh(&mut self, now: Instant) -> Option<Refresh> {
        if later(now, NEIGHBOR_REFRESH_WINDOW) < self.expires_at {
            return None;
        }
        let due = self
            .last_refresh
            .map_or(true, |last| now >= later(last, ARP_RETRY_INTERVAL));
        if !due {
            return None;
        }
        self.last_refresh = Some(now);
        self.refresh_tries = self.refresh_tries.saturating_add(1);
        Some(if self.refresh_tries <= UNICAST_REFRESH_TRIES {
            Refresh::Unicast(self.mac)
        } else {
            Refresh::Broadcast
        })
    }
}

/// The bounded neighbour table.
#[derive(Debug)]
pub(crate) struct NeighborCache {
    entries: HashMap<Ipv4Addr, Neighbor>,
}

impl NeighborCache {
    pub(crate) fn new() -> NeighborCache {
        NeighborCache {
            entries: HashMap::with_capacity(NEIGHBOR_CACHE_CAPACITY),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Entries stored, expired ones not yet removed included.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The MAC for `ip` if a valid entry exists (no side effects).
    pub(crate) fn get(&self, ip: Ipv4Addr, now: Instant) -> Option<MacAddr> {
        self.entries
            .get(&ip)
            .filter(|n| now < n.expires_at)
            .map(|n| n.mac)
    }

    /// Looks `ip` up for sending a packet now; see [`Lookup`].
    pub(crate) fn lookup(&mut self, ip: Ipv4Addr, now: Instant) -> Lookup {
        let Some(entry) = self.entries.get_mut(&ip) else {
            return Lookup::Missing;
        };
        if now >= entry.expires_at {
            self.entries.remove(&ip);
            return Lookup::Missing;
        }
        Lookup::Found {
            mac: entry.mac,
            refresh: entry.take_refresh(now),
        }
    }

    /// RFC 826 "merge": if a valid entry for `ip` exists, set its MAC and restart its lifetime.
    /// Returns whether it existed.
    pub(crate) fn update(&mut self, ip: Ipv4Addr, mac: MacAddr, now: Instant) -> bool {
        match self.entries.get_mut(&ip) {
            Some(entry) if now < entry.expires_at => {
                *entry = Neighbor::new(mac, now);
                true
            }
            _ => false,
        }
    }

    /// Creates or replaces the entry for `ip`, evicting the oldest entry if the table is full.
    pub(crate) fn insert(&mut self, ip: Ipv4Addr, mac: MacAddr, now: Instant) {
        if !self.entries.contains_key(&ip) && self.entries.len() >= NEIGHBOR_CACHE_CAPACITY {
            self.evict_oldest();
        }
        self.entries.insert(ip, Neighbor::new(mac, now));
    }

    fn evict_oldest(&mut self) {
        let victim = self
            .entries
            .iter()
            .min_by_key(|(ip, n)| (n.expires_at, **ip))
            .map(|(ip, _)| *ip);
        if let Some(ip) = victim {
            self.entries.remove(&ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{at, t0};

    const MAC_A: MacAddr = MacAddr([0x52, 0x54, 0, 0, 0, 0x0a]);
    const MAC_B: MacAddr = MacAddr([0x52, 0x54, 0, 0, 0, 0x0b]);
    const IP: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 1);

    fn found(mac: MacAddr, refresh: Option<Refresh>) -> Lookup {
        Lookup::Found { mac, refresh }
    }

    #[test]
    fn entries_expire_after_their_lifetime() {
        let t = t0();
        let mut cache = NeighborCache::new();
        assert_eq!(cache.lookup(IP, t), Lookup::Missing);
        cache.insert(IP, MAC_A, t);
        assert_eq!(cache.lookup(IP, at(t, 1_000)), found(MAC_A, None));
        assert_eq!(cache.get(IP, at(t, 59_999)), Some(MAC_A));
        assert_eq!(cache.get(IP, at(t, 60_000)), None);
        assert_eq!(cache.lookup(IP, at(t, 60_000)), Lookup::Missing);
        assert_eq!(cache.len(), 0, "expired entry removed when met");
    }

    #[test]
    fn use_near_expiry_asks_for_rate_limited_unicast_then_broadcast_refresh() {
        let t = t0();
        let mut cache = NeighborCache::new();
        cache.insert(IP, MAC_A, t);
        assert_eq!(cache.lookup(IP, at(t, 54_999)), found(MAC_A, None));
        let unicast = Some(Refresh::Unicast(MAC_A));
        assert_eq!(cache.lookup(IP, at(t, 55_000)), found(MAC_A, unicast));
        assert_eq!(
            cache.lookup(IP, at(t, 55_500)),
            found(MAC_A, None),
            "rate limited"
        );
        assert_eq!(cache.lookup(IP, at(t, 56_000)), found(MAC_A, unicast));
        assert_eq!(cache.lookup(IP, at(t, 57_000)), found(MAC_A, unicast));
        let broadcast = Some(Refresh::Broadcast);
        assert_eq!(cache.lookup(IP, at(t, 58_000)), found(MAC_A, broadcast));
        // A reply re-confirms the entry: a new lifetime and no refresh for a while.
        assert!(cache.update(IP, MAC_A, at(t, 58_100)));
        assert_eq!(cache.lookup(IP, at(t, 59_000)), found(MAC_A, None));
        assert_eq!(cache.lookup(IP, at(t, 113_099)), found(MAC_A, None));
        assert_eq!(cache.lookup(IP, at(t, 113_100)), found(MAC_A, unicast));
    }

    #[test]
    fn update_only_touches_valid_entries() {
        let t = t0();
        let mut cache = NeighborCache::new();
        assert!(!cache.update(IP, MAC_A, t));
        assert_eq!(cache.get(IP, t), None);
        cache.insert(IP, MAC_A, t);
        assert!(cache.update(IP, MAC_B, at(t, 10)));
        assert_eq!(cache.get(IP, at(t, 10)), Some(MAC_B));
        assert!(!cache.update(IP, MAC_A, at(t, 60_010)), "expired");
        cache.clear();
        assert_eq!(cache.get(IP, at(t, 20)), None);
    }

    #[test]
    fn a_full_table_evicts_the_oldest_entry() {
        let t = t0();
        let mut cache = NeighborCache::new();
        let ip = |i: usize| Ipv4Addr::from(0x0a00_0000 + i as u32);
        for i in 0..NEIGHBOR_CACHE_CAPACITY {
            cache.insert(ip(i), MAC_A, at(t, i as u64));
        }
        assert_eq!(cache.len(), NEIGHBOR_CACHE_CAPACITY);
        cache.insert(ip(0), MAC_B, at(t, 1_000)); // replacing never evicts
        assert_eq!(cache.len(), NEIGHBOR_CACHE_CAPACITY);
        cache.insert(ip(9_999), MAC_B, at(t, 1_001));
        assert_eq!(cache.len(), NEIGHBOR_CACHE_CAPACITY);
        let now = at(t, 1_002);
        assert_eq!(
            cache.get(ip(1), now),
            None,
            "oldest (confirmed at t+1ms) evicted"
        );
        assert_eq!(cache.get(ip(0), now), Some(MAC_B));
        assert_eq!(cache.get(ip(2), now), Some(MAC_A));
        assert_eq!(cache.get(ip(9_999), now), Some(MAC_B));
    }
}
