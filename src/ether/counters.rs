//! Counters of the bridge: traffic in each direction, ARP activity and drops by reason.
//!
//! Plain `u64`s, bumped on the data path without allocation; the driver copies them out for a
//! status line or metrics.

use std::fmt;

/// Why the bridge dropped a frame or a packet. Every drop is counted under exactly one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// A frame shorter than an Ethernet header (14 bytes).
    Runt,
    /// A frame whose source MAC is ours: our own frame echoed back by the link.
    OwnSource,
    /// A frame for another host's unicast MAC.
    NotForUs,
    /// An EtherType we do not handle, including VLAN-tagged frames and 802.3 length/LLC frames.
    UnknownEtherType,
    /// IPv6, in either direction (counted and dropped until NDP is implemented).
    Ipv6,
    /// An ARP packet that is truncated or claims a group (multicast/broadcast) sender.
    MalformedArp,
    /// ARP for a hardware/protocol pair other than Ethernet/IPv4, or an unknown operation.
    UnsupportedArp,
    /// An IPv4 packet whose header is inconsistent, or a TUN packet that is not IP at all.
    MalformedIp,
    /// A packet that would make a frame longer than the link can carry.
    TooBig,
    /// No next hop: off-link without a gateway, or an unroutable destination (0.0.0.0, us).
    NoRoute,
    /// Address resolution of the next hop failed (no ARP reply after all tries).
    Unresolved,
    /// The next hop's pending queue was full while it was being resolved.
    PendingQueueFull,
    /// Too many next hops were being resolved at once.
    PendingTableFull,
    /// The link was down (packet from the TUN, or packets pending when the link went away).
    LinkDown,
    /// An ARP packet from another host claiming our IPv4 address.
    AddressConflict,
}

impl DropReason {
    /// The number of reasons.
    pub const COUNT: usize = 15;

    /// All reasons, in declaration order (the order of [`Counters::drops`]).
    pub const ALL: [DropReason; DropReason::COUNT] = [
        DropReason::Runt,
        DropReason::OwnSource,
        DropReason::NotForUs,
        DropReason::UnknownEtherType,
        DropReason::Ipv6,
        DropReason::MalformedArp,
        DropReason::UnsupportedArp,
        DropReason::MalformedIp,
        DropReason::TooBig,
        DropReason::NoRoute,
        DropReason::Unresolved,
        DropReason::PendingQueueFull,
        DropReason::PendingTableFull,
        DropReason::LinkDown,
        DropReason::AddressConflict,
    ];

    /// A short stable name for status lines and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Runt => "runt",
            DropReason::OwnSource => "own_source",
            DropReason::NotForUs => "not_for_us",
            DropReason::UnknownEtherType => "unknown_ethertype",
            DropReason::Ipv6 => "ipv6",
            DropReason::MalformedArp => "malformed_arp",
            DropReason::UnsupportedArp => "unsupported_arp",
            DropReason::MalformedIp => "malformed_ip",
            DropReason::TooBig => "too_big",
            DropReason::NoRoute => "no_route",
            DropReason::Unresolved => "unresolved",
            DropReason::PendingQueueFull => "pending_queue_full",
            DropReason::PendingTableFull => "pending_table_full",
            DropReason::LinkDown => "link_down",
            DropReason::AddressConflict => "address_conflict",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the bridge has seen and done since it was created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames handed to `handle_frame`, and their bytes (dropped ones included).
    pub frames_in: u64,
    pub bytes_in: u64,
    /// Frames written to the sink (data and ARP), and their bytes.
    pub frames_out: u64,
    pub bytes_out: u64,
    /// Packets handed to `handle_ip_packet` (dropped ones included).
    pub packets_from_tun: u64,
    /// Packets returned by `handle_frame` for the TUN.
    pub packets_to_tun: u64,
    pub arp_requests_sent: u64,
    pub arp_replies_sent: u64,
    /// Well-formed Ethernet/IPv4 ARP requests and replies received (for anyone).
    pub arp_requests_received: u64,
    pub arp_replies_received: u64,
    drops: [u64; DropReason::COUNT],
}

impl Counters {
    /// How many frames or packets were dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops.get(reason.index()).copied().unwrap_or(0)
    }

    /// Every reason with its count, in [`DropReason::ALL`] order (zeros included).
    pub fn drops(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.iter().map(|&r| (r, self.dropped(r)))
    }

    pub fn total_dropped(&self) -> u64 {
        self.drops
            .iter()
            .fold(0u64, |sum, &n| sum.saturating_add(n))
    }

    pub(crate) fn drop_n(&mut self, reason: DropReason, n: u64) {
        if let Some(slot) = self.drops.get_mut(reason.index()) {
            *slot = slot.wrapping_add(n);
        }
    }

    pub(crate) fn drop(&mut self, reason: DropReason) {
        self.drop_n(reason, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_reason_once_in_index_order() {
        for (i, reason) in DropReason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i, "{reason}");
        }
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT);
    }

    #[test]
    fn drops_are_counted_per_reason() {
        let mut c = Counters::default();
        c.drop(DropReason::Runt);
        c.drop_n(DropReason::Unresolved, 3);
        assert_eq!(c.dropped(DropReason::Runt), 1);
        assert_eq!(c.dropped(DropReason::Unresolved), 3);
        assert_eq!(c.dropped(DropReason::Ipv6), 0);
        assert_eq!(c.total_dropped(), 4);
        let nonzero: Vec<_> = c.drops().filter(|&(_, n)| n > 0).collect();
        assert_eq!(
            nonzero,
            [(DropReason::Runt, 1), (DropReason::Unresolved, 3)]
        );
        assert_eq!(
            DropReason::PendingQueueFull.to_string(),
            "pending_queue_full"
        );
    }
}
