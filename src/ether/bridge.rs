//! The [`Bridge`]: IP packets from the TUN ⇄ Ethernet frames on the link, with ARP.
//!
//! Outbound, a packet's next hop is its destination when that is on-link (inside our
//! address's prefix) and the gateway otherwise; broadcast and multicast destinations map
//! straight to Ethernet group addresses (RFC 1112 §6.4). A resolved next hop's MAC comes from
//! the neighbour cache; an unresolved one gets an ARP request (RFC 826) and the packet waits in
//! a bounded queue until the reply arrives or resolution gives up.
//!
//! Inbound, frames for our MAC, broadcast or multicast are accepted; IPv4 goes to the TUN
//! trimmed to its total length (never the Ethernet padding), ARP is answered and learned from
//! per RFC 826's merge rule, and everything else is dropped and counted. Conflicting claims on
//! our address are never learned and are answered with a gratuitous ARP at most once per
//! [`DEFEND_INTERVAL`] (RFC 5227 §2.4 (b)).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::counters::{Counters, DropReason};
use super::neighbor::{Lookup, NeighborCache, Refresh};
use super::pending::{Expiry, PendingTable, MAX_PENDING_NEXT_HOPS};
use super::wire::arp::ETHERNET_IPV4_LEN;
use super::wire::ethernet::HEADER_LEN;
use super::wire::ipv4::ip_version;
use super::wire::{ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetFrame, EthernetRepr};
use super::wire::{Ipv4Packet, WireError};
use super::{later, Ipv4Cidr, MacAddr};

/// The largest frame the link can carry: its records have a 2-byte length.
pub const MAX_FRAME_LEN: usize = 65535;
/// Minimum spacing of the gratuitous ARPs that defend our address against a host claiming it
/// (RFC 5227's DEFEND_INTERVAL).
pub const DEFEND_INTERVAL: Duration = Duration::from_secs(10);

/// The interface the bridge plays on the LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    /// Our MAC: the source of every frame we send. Should be unicast (see
    /// [`MacAddr::stable_local`]).
    pub mac: MacAddr,
    /// Our IPv4 address and the prefix of the on-link network.
    pub address: Ipv4Cidr,
    /// The next hop for every destination outside `address`'s prefix.
    pub gateway: Option<Ipv4Addr>,
    /// Routes through the VPN. Informational for the bridge: anything off-link goes to the
    /// gateway regardless.
    pub routes: Vec<Ipv4Cidr>,
}

/// Where the bridge writes frames for the link.
pub trait FrameSink {
    /// A buffer of exactly `len` bytes (zeroed or not) that the bridge fills completely; it
    /// becomes one record on the link. `len` never exceeds [`MAX_FRAME_LEN`].
    fn frame_buf(&mut self, len: usize) -> &mut [u8];
}

/// Where an outbound IPv4 packet goes on the link.
enum LinkDest {
    /// Straight to this address (broadcast or multicast).
    Group(MacAddr),
    /// To the MAC of this on-link next hop.
    NextHop(Ipv4Addr),
    NoRoute,
}

/// The sans-IO engine between the TUN and the link; see the module docs for the contract.
#[derive(Debug)]
pub struct Bridge {
    config: BridgeConfig,
    link_up: bool,
    neighbors: NeighborCache,
    pending: PendingTable,
    last_defense: Option<Instant>,
    counters: Counters,
}

impl Bridge {
    pub fn new(config: BridgeConfig) -> Bridge {
        Bridge {
            config,
            link_up: false,
            neighbors: NeighborCache::new(),
            pending: PendingTable::new(),
            last_defense: None,
            counters: Counters::default(),
        }
    }

    pub fn mac(&self) -> MacAddr {
        self.config.mac
    }

    pub fn config(&self) -> &BridgeConfig {
        &self.config
    }

    pub fn is_link_up(&self) -> bool {
        self.link_up
    }

    /// The cached MAC of `ip`, if it is known and not expired at `now`.
    pub fn neighbor(&self, ip: Ipv4Addr, now: Instant) -> Option<MacAddr> {
        self.neighbors.get(ip, now)
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The link (server connection) is up: forget all learned neighbours and pending packets (a
    /// restarted server's TAP usually has a new MAC), send a gratuitous ARP for our address and,
    /// if a gateway is configured, an ARP request for it so the first packet does not wait.
    pub fn link_up(&mut self, now: Instant, out: &mut (impl FrameSink + ?Sized)) {
        let stale = self.pending.clear();
        self.counters.drop_n(DropReason::LinkDown, stale as u64);
        self.neighbors.clear();
        self.link_up = true;
        self.last_defense = None;
        let ours = ArpRepr::announcement(self.config.mac, self.our_ip());
        self.send_arp(MacAddr::BROADCAST, &ours, out);
        if let Some(gateway) = self.config.gateway.filter(|&gw| gw != self.our_ip()) {
            if self.pending.start(gateway, now).is_some() {
                self.send_request(gateway, MacAddr::BROADCAST, out);
            }
        }
    }

    /// The link went down: drop (and count) pending packets; nothing is sent. Packets from the
    /// TUN are dropped as [`DropReason::LinkDown`] until the next [`Self::link_up`].
    pub fn link_down(&mut self) {
        let dropped = self.pending.clear();
        self.counters.drop_n(DropReason::LinkDown, dropped as u64);
        self.link_up = false;
    }

    /// An IP packet read from the TUN. Emits zero or more frames (the packet in a frame, or an
    /// ARP request while it waits in the pending queue).
    pub fn handle_ip_packet(
        &mut self,
        now: Instant,
        packet: &[u8],
        out: &mut (impl FrameSink + ?Sized),
    ) {
        self.counters.packets_from_tun += 1;
        if !self.link_up {
            return self.counters.drop(DropReason::LinkDown);
        }
        match ip_version(packet) {
            Some(4) => {}
            Some(6) => return self.counters.drop(DropReason::Ipv6),
            _ => return self.counters.drop(DropReason::MalformedIp),
        }
        let Ok(ipv4) = Ipv4Packet::new_checked(packet) else {
            return self.counters.drop(DropReason::MalformedIp);
        };
        let dst = ipv4.dst_addr();
        let packet = ipv4.into_trimmed();
        if packet.len() > MAX_FRAME_LEN - HEADER_LEN {
            return self.counters.drop(DropReason::TooBig);
        }
        match self.link_destination(dst) {
            LinkDest::Group(mac) => self.emit_frame(mac, EtherType::IPV4, packet, out),
            LinkDest::NextHop(hop) => self.send_via(now, hop, packet, out),
            LinkDest::NoRoute => self.counters.drop(DropReason::NoRoute),
        }
    }

    /// A frame from the link. Returns the IP packet to write to the TUN, if any: a sub-slice of
    /// `frame` trimmed to the IP header's total length. ARP replies and packets released by a
    /// resolved neighbour are emitted into `out`. While the link is down (a frame still buffered
    /// from the old connection) ARP is learned from but nothing is emitted.
    pub fn handle_frame<'a>(
        &mut self,
        now: Instant,
        frame: &'a [u8],
        out: &mut (impl FrameSink + ?Sized),
    ) -> Option<&'a [u8]> {
        self.counters.frames_in += 1;
        self.counters.bytes_in += frame.len() as u64;
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            self.counters.drop(DropReason::Runt);
            return None;
        };
        let header = EthernetRepr::parse(&eth);
        let reason = if header.src == self.config.mac {
            DropReason::OwnSource
        } else if header.dst != self.config.mac && !header.dst.is_multicast() {
            DropReason::NotForUs
        } else {
            match header.ethertype {
                EtherType::IPV4 => return self.receive_ipv4(eth.into_payload()),
                EtherType::ARP => {
                    self.receive_arp(now, eth.payload(), out);
                    return None;
                }
                EtherType::IPV6 => DropReason::Ipv6,
                _ => DropReason::UnknownEtherType,
            }
        };
        self.counters.drop(reason);
        None
    }

    /// Retries due ARP requests and gives up on next hops that never answered.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut (impl FrameSink + ?Sized)) {
        for index in 0..MAX_PENDING_NEXT_HOPS {
            match self.pending.expire(index, now) {
                Some(Expiry::Retry(hop)) => self.send_request(hop, MacAddr::BROADCAST, out),
                Some(Expiry::GaveUp { next_hop, dropped }) => {
                    tracing::debug!(%next_hop, dropped, "ARP resolution failed");
                    self.counters.drop_n(DropReason::Unresolved, dropped as u64);
                }
                None => {}
            }
        }
    }

    /// The earliest instant at which [`Self::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.poll_deadline()
    }

    fn our_ip(&self) -> Ipv4Addr {
        self.config.address.addr()
    }

    fn link_destination(&self, dst: Ipv4Addr) -> LinkDest {
        let net = self.config.address;
        if dst.is_broadcast() || (net.prefix_len() <= 30 && dst == net.broadcast()) {
            return LinkDest::Group(MacAddr::BROADCAST);
        }
        if dst.is_multicast() {
            return LinkDest::Group(MacAddr::ipv4_multicast(dst));
        }
        if dst.is_unspecified() || dst == net.addr() {
            return LinkDest::NoRoute;
        }
        if net.contains(dst) {
            return LinkDest::NextHop(dst);
        }
        match self.config.gateway {
            Some(gateway) if gateway != net.addr() => LinkDest::NextHop(gateway),
            _ => LinkDest::NoRoute,
        }
    }

    /// Sends `packet` to on-link `hop`, or queues it while `hop` is resolved.
    fn send_via(
        &mut self,
        now: Instant,
        hop: Ipv4Addr,
        packet: &[u8],
        out: &mut (impl FrameSink + ?Sized),
    ) {
        match self.neighbors.lookup(hop, now) {
            Lookup::Found { mac, refresh } => {
                self.emit_frame(mac, EtherType::IPV4, packet, out);
                match refresh {
                    Some(Refresh::Unicast(mac)) => self.send_request(hop, mac, out),
                    Some(Refresh::Broadcast) => self.send_request(hop, MacAddr::BROADCAST, out),
                    None => {}
                }
            }
            Lookup::Missing => {
                let slot = match self.pending.find(hop) {
                    Some(slot) => slot,
                    None => match self.pending.start(hop, now) {
                        Some(slot) => {
                            self.send_request(hop, MacAddr::BROADCAST, out);
                            slot
                        }
                        None => return self.counters.drop(DropReason::PendingTableFull),
                    },
                };
                if !self.pending.enqueue(slot, packet) {
                    self.counters.drop(DropReason::PendingQueueFull);
                }
            }
        }
    }

    fn receive_ipv4<'a>(&mut self, payload: &'a [u8]) -> Option<&'a [u8]> {
        match Ipv4Packet::new_checked(payload) {
            Ok(packet) => {
                self.counters.packets_to_tun += 1;
                Some(packet.into_trimmed())
            }
            Err(_) => {
                self.counters.drop(DropReason::MalformedIp);
                None
            }
        }
    }

    fn receive_arp(&mut self, now: Instant, payload: &[u8], out: &mut (impl FrameSink + ?Sized)) {
        let arp = match ArpPacket::new_checked(payload).and_then(|p| ArpRepr::parse(&p)) {
            Ok(arp) => arp,
            Err(WireError::UnsupportedArp { .. }) => {
                return self.counters.drop(DropReason::UnsupportedArp)
            }
            Err(_) => return self.counters.drop(DropReason::MalformedArp),
        };
        match arp.operation {
            ArpOperation::Request => self.counters.arp_requests_received += 1,
            ArpOperation::Reply => self.counters.arp_replies_received += 1,
            ArpOperation::Unknown(_) => return self.counters.drop(DropReason::UnsupportedArp),
        }
        if let Some(reason) = self.arp_sender_problem(&arp) {
            if reason == DropReason::AddressConflict {
                self.defend(now, &arp, out);
            }
            return self.counters.drop(reason);
        }
        let for_us = arp.target_ip == self.our_ip();
        if arp.sender_ip.is_unspecified() {
            // An RFC 5227 probe: never learned. Answer one for our address (unicast, target IP
            // 0.0.0.0, as Linux does) so the prober sees that the address is taken.
            if for_us && arp.operation == ArpOperation::Request {
                let reply = ArpRepr::reply_to(&arp, self.config.mac);
                self.send_arp(arp.sender_mac, &reply, out);
            }
            return;
        }
        self.learn(now, arp.sender_ip, arp.sender_mac, for_us, out);
        if for_us && arp.operation == ArpOperation::Request {
            let reply = ArpRepr::reply_to(&arp, self.config.mac);
            self.send_arp(arp.sender_mac, &reply, out);
        }
    }

    /// Why an ARP packet's sender must not be learned or answered, if it must not.
    fn arp_sender_problem(&self, arp: &ArpRepr) -> Option<DropReason> {
        let ip = arp.sender_ip;
        if arp.sender_mac == self.config.mac {
            Some(DropReason::OwnSource)
        } else if !arp.sender_mac.is_unicast() {
            Some(DropReason::MalformedArp)
        } else if ip == self.our_ip() {
            Some(DropReason::AddressConflict)
        } else if ip.is_broadcast() || ip.is_multicast() || self.is_directed_broadcast(ip) {
            Some(DropReason::MalformedArp)
        } else {
            None
        }
    }

    fn is_directed_broadcast(&self, ip: Ipv4Addr) -> bool {
        let net = self.config.address;
        net.prefix_len() <= 30 && ip == net.broadcast()
    }

    /// RFC 826 merge: update an existing entry for `ip`; create one if `create` (the ARP was
    /// addressed to us) or if we are resolving `ip`. A resolved next hop's queue is flushed.
    fn learn(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        mac: MacAddr,
        create: bool,
        out: &mut (impl FrameSink + ?Sized),
    ) {
        let known = self.neighbors.update(ip, mac, now);
        let pending = self.pending.find(ip);
        if !known && (create || pending.is_some()) {
            self.neighbors.insert(ip, mac, now);
        }
        if let Some(slot) = pending {
            while let Some(buf) = self.pending.pop(slot) {
                self.emit_frame(mac, EtherType::IPV4, &buf, out);
                self.pending.recycle(buf);
            }
            self.pending.release(slot);
        }
    }

    /// Answers a claim on our address with our own announcement, rate-limited.
    fn defend(&mut self, now: Instant, claim: &ArpRepr, out: &mut (impl FrameSink + ?Sized)) {
        let due = self
            .last_defense
            .map_or(true, |last| now >= later(last, DEFEND_INTERVAL));
        if !self.link_up || !due {
            return;
        }
        tracing::warn!(
            ip = %claim.sender_ip,
            mac = %claim.sender_mac,
            "another host claims our address; defending it"
        );
        self.last_defense = Some(now);
        let ours = ArpRepr::announcement(self.config.mac, self.our_ip());
        self.send_arp(MacAddr::BROADCAST, &ours, out);
    }

    fn send_request(
        &mut self,
        target: Ipv4Addr,
        dst: MacAddr,
        out: &mut (impl FrameSink + ?Sized),
    ) {
        let request = ArpRepr::request(self.config.mac, self.our_ip(), target);
        self.send_arp(dst, &request, out);
    }

    fn send_arp(&mut self, dst: MacAddr, arp: &ArpRepr, out: &mut (impl FrameSink + ?Sized)) {
        let mut payload = [0u8; ETHERNET_IPV4_LEN];
        if !self.link_up || arp.emit(&mut payload).is_err() {
            return;
        }
        match arp.operation {
            ArpOperation::Request => self.counters.arp_requests_sent += 1,
            ArpOperation::Reply => self.counters.arp_replies_sent += 1,
            ArpOperation::Unknown(_) => {}
        }
        self.emit_frame(dst, EtherType::ARP, &payload, out);
    }

    /// Writes one frame (our MAC as source) into the sink; nothing while the link is down.
    fn emit_frame(
        &mut self,
        dst: MacAddr,
        ethertype: EtherType,
        payload: &[u8],
        out: &mut (impl FrameSink + ?Sized),
    ) {
        let len = HEADER_LEN + payload.len();
        let header = EthernetRepr {
            dst,
            src: self.config.mac,
            ethertype,
        };
        if !self.link_up {
            return;
        }
        // A sink that breaks its contract (a short buffer) gets nothing rather than a panic.
        let Some(buf) = out.frame_buf(len).get_mut(..len) else {
            return;
        };
        let (head, body) = buf.split_at_mut(HEADER_LEN);
        if header.emit(head).is_err() || body.len() != payload.len() {
            return;
        }
        body.copy_from_slice(payload);
        self.counters.frames_out += 1;
        self.counters.bytes_out += len as u64;
    }
}

#[cfg(test)]
mod input_tests;
#[cfg(test)]
mod tests;
