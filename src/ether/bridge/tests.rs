//! Behaviour of the bridge against a scripted LAN, on a simulated clock.

use std::net::Ipv4Addr;
use std::time::Instant;

use super::*;
use crate::ether::wire::vectors::{self as v, hex};
use crate::ether::PENDING_PACKETS_PER_NEXT_HOP;
use crate::testutil::{at, t0};

/// Collects emitted frames.
#[derive(Default)]
pub(super) struct Sink {
    pub(super) frames: Vec<Vec<u8>>,
}

impl FrameSink for Sink {
    fn frame_buf(&mut self, len: usize) -> &mut [u8] {
        self.frames.push(vec![0xee; len]);
        self.frames
            .last_mut()
            .map(|f| &mut f[..])
            .unwrap_or_default()
    }
}

impl Sink {
    pub(super) fn take(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.frames)
    }
}

pub(super) fn config(gateway: Option<Ipv4Addr>) -> BridgeConfig {
    BridgeConfig {
        mac: v::OUR_MAC,
        address: Ipv4Cidr::new(v::OUR_IP, 24).unwrap(),
        gateway,
        routes: vec![],
    }
}

/// A bridge whose link is up at `t`, with the link_up frames discarded.
pub(super) fn bridge_up(gateway: Option<Ipv4Addr>, t: Instant) -> (Bridge, Sink) {
    let mut bridge = Bridge::new(config(gateway));
    let mut sink = Sink::default();
    bridge.link_up(t, &mut sink);
    sink.take();
    (bridge, sink)
}

/// A UDP-ish IPv4 packet from us to `dst` with `len` payload bytes of `tag`.
pub(super) fn ipv4(dst: Ipv4Addr, len: usize, tag: u8) -> Vec<u8> {
    let total = 20 + len;
    let mut p = vec![tag; total];
    p[..12].copy_from_slice(&[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0]);
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[12..16].copy_from_slice(&v::OUR_IP.octets());
    p[16..20].copy_from_slice(&dst.octets());
    p
}

pub(super) fn frame(dst: MacAddr, src: MacAddr, ethertype: EtherType, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 14];
    EthernetRepr {
        dst,
        src,
        ethertype,
    }
    .emit(&mut f)
    .unwrap();
    f.extend_from_slice(payload);
    f
}

/// An ARP frame sent by the ARP sender itself.
pub(super) fn arp_frame(dst: MacAddr, arp: ArpRepr) -> Vec<u8> {
    let mut payload = [0u8; 28];
    arp.emit(&mut payload).unwrap();
    frame(dst, arp.sender_mac, EtherType::ARP, &payload)
}

pub(super) fn reply_from(mac: MacAddr, ip: Ipv4Addr) -> Vec<u8> {
    let request = ArpRepr::request(v::OUR_MAC, v::OUR_IP, ip);
    arp_frame(v::OUR_MAC, ArpRepr::reply_to(&request, mac))
}

pub(super) fn request_for(target: Ipv4Addr, dst: MacAddr) -> Vec<u8> {
    arp_frame(dst, ArpRepr::request(v::OUR_MAC, v::OUR_IP, target))
}

#[test]
fn link_up_announces_us_and_asks_for_the_gateway() {
    let t = t0();
    let mut bridge = Bridge::new(config(Some(v::SERVER_IP)));
    assert!(!bridge.is_link_up());
    let mut sink = Sink::default();
    bridge.link_up(t, &mut sink);
    assert_eq!(
        sink.take(),
        [
            hex(v::GRATUITOUS_ARP_OURS),
            hex(v::ARP_REQUEST_OURS_FOR_SERVER)
        ]
    );
    assert_eq!(bridge.poll_timeout(), Some(at(t, 1_000)));
    assert_eq!(bridge.counters().arp_requests_sent, 2);
    assert_eq!(bridge.counters().frames_out, 2);
    assert_eq!(bridge.counters().bytes_out, 84);

    let mut bridge = Bridge::new(config(None));
    bridge.link_up(t, &mut sink);
    assert_eq!(sink.take(), [hex(v::GRATUITOUS_ARP_OURS)]);
    assert_eq!(bridge.poll_timeout(), None);
}

#[test]
fn gateway_reply_resolves_it_before_the_first_packet() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(Some(v::SERVER_IP), t);
    let reply = hex(v::ARP_REPLY_PADDED);
    assert_eq!(bridge.handle_frame(at(t, 5), &reply, &mut sink), None);
    assert!(sink.take().is_empty());
    assert_eq!(bridge.neighbor(v::SERVER_IP, at(t, 5)), Some(v::SERVER_MAC));
    assert_eq!(bridge.poll_timeout(), None, "resolution finished");
    let echo = hex(v::ICMP_ECHO_REQUEST);
    bridge.handle_ip_packet(at(t, 10), &echo[14..], &mut sink);
    assert_eq!(sink.take(), [echo], "the exact ping frame");
    assert_eq!(bridge.counters().arp_replies_received, 1);
}

#[test]
fn answers_a_linux_request_and_learns_the_requester() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(None, t);
    let request = hex(v::ARP_REQUEST_LINUX);
    assert_eq!(bridge.handle_frame(t, &request, &mut sink), None);
    assert_eq!(sink.take(), [hex(v::ARP_REPLY_OURS)]);
    assert_eq!(bridge.neighbor(v::SERVER_IP, t), Some(v::SERVER_MAC));
    let c = bridge.counters();
    assert_eq!((c.arp_requests_received, c.arp_replies_sent), (1, 1));
    assert_eq!((c.frames_in, c.bytes_in), (1, 42));
    assert_eq!(c.total_dropped(), 0);
}

#[test]
fn resolution_queues_packets_and_flushes_them_in_order() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(None, t);
    let packets: Vec<_> = (1..=3)
        .map(|i| ipv4(v::OTHER_IP, 10 * i, i as u8))
        .collect();
    for p in &packets {
        bridge.handle_ip_packet(at(t, 1), p, &mut sink);
    }
    assert_eq!(
        sink.take(),
        [request_for(v::OTHER_IP, MacAddr::BROADCAST)],
        "one request"
    );
    assert_eq!(bridge.poll_timeout(), Some(at(t, 1_001)));
    bridge.handle_frame(at(t, 50), &reply_from(v::OTHER_MAC, v::OTHER_IP), &mut sink);
    let expected: Vec<_> = packets
        .iter()
        .map(|p| frame(v::OTHER_MAC, v::OUR_MAC, EtherType::IPV4, p))
        .collect();
    assert_eq!(sink.take(), expected);
    assert_eq!(bridge.poll_timeout(), None);
    bridge.handle_ip_packet(at(t, 60), &packets[0], &mut sink);
    assert_eq!(sink.take(), [expected[0].clone()], "sent at once now");
    assert_eq!(bridge.counters().total_dropped(), 0);
}

#[test]
fn retries_once_a_second_then_gives_up_and_counts_unresolved() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(None, t);
    let request = request_for(v::OTHER_IP, MacAddr::BROADCAST);
    bridge.handle_ip_packet(t, &ipv4(v::OTHER_IP, 4, 1), &mut sink);
    bridge.handle_ip_packet(at(t, 400), &ipv4(v::OTHER_IP, 4, 2), &mut sink);
    assert_eq!(sink.take(), std::slice::from_ref(&request));
    bridge.handle_timeout(at(t, 999), &mut sink);
    assert!(
        sink.take().is_empty(),
        "early and spurious timeouts do nothing"
    );
    assert_eq!(bridge.poll_timeout(), Some(at(t, 1_000)));
    bridge.handle_timeout(at(t, 1_000), &mut sink);
    bridge.handle_timeout(at(t, 1_000), &mut sink);
    assert_eq!(sink.take(), std::slice::from_ref(&request));
    assert_eq!(bridge.poll_timeout(), Some(at(t, 2_000)));
    bridge.handle_timeout(at(t, 2_000), &mut sink);
    assert_eq!(sink.take(), std::slice::from_ref(&request));
    bridge.handle_timeout(at(t, 3_000), &mut sink);
    assert!(sink.take().is_empty());
    assert_eq!(bridge.counters().dropped(DropReason::Unresolved), 2);
    assert_eq!(
        bridge.counters().arp_requests_sent,
        1 + 3,
        "gratuitous + 3 tries"
    );
    assert_eq!(bridge.poll_timeout(), None);
    // The next packet starts a fresh resolution.
    bridge.handle_ip_packet(at(t, 3_001), &ipv4(v::OTHER_IP, 4, 3), &mut sink);
    assert_eq!(sink.take(), [request]);
}

#[test]
fn queues_are_bounded_per_next_hop_and_in_number() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(None, t);
    for i in 0..PENDING_PACKETS_PER_NEXT_HOP + 2 {
        bridge.handle_ip_packet(t, &ipv4(v::OTHER_IP, 1, i as u8), &mut sink);
    }
    assert_eq!(bridge.counters().dropped(DropReason::PendingQueueFull), 2);
    for host in 100..100 + MAX_PENDING_NEXT_HOPS as u8 {
        bridge.handle_ip_packet(t, &ipv4(Ipv4Addr::new(10, 98, 0, host), 1, 0), &mut sink);
    }
    assert_eq!(
        sink.take().len(),
        MAX_PENDING_NEXT_HOPS,
        "one request per next hop"
    );
    assert_eq!(bridge.counters().dropped(DropReason::PendingTableFull), 1);
    bridge.handle_frame(t, &reply_from(v::OTHER_MAC, v::OTHER_IP), &mut sink);
    let flushed = sink.take();
    assert_eq!(flushed.len(), PENDING_PACKETS_PER_NEXT_HOP);
    assert_eq!(
        flushed[15][34], 15,
        "the first 16 packets were kept, in order"
    );
}

#[test]
fn steady_traffic_refreshes_the_entry_and_never_stalls() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(None, t);
    bridge.handle_frame(t, &reply_from(v::SERVER_MAC, v::SERVER_IP), &mut sink);
    let packet = ipv4(v::SERVER_IP, 8, 7);
    let data = frame(v::SERVER_MAC, v::OUR_MAC, EtherType::IPV4, &packet);
    let refresh = request_for(v::SERVER_IP, v::SERVER_MAC);
    let mut refreshes = 0;
    for second in 1..=200 {
        let now = at(t, second * 1_000);
        bridge.handle_ip_packet(now, &packet, &mut sink);
        let frames = sink.take();
        assert_eq!(frames[0], data, "packet at {second}s went out at once");
        if frames.len() > 1 {
            assert_eq!(
                &frames[1..],
                std::slice::from_ref(&refresh),
                "unicast refresh at {second}s"
            );
            refreshes += 1;
            // The server's kernel answers the unicast request.
            bridge.handle_frame(now, &reply_from(v::SERVER_MAC, v::SERVER_IP), &mut sink);
        }
    }
    assert_eq!(refreshes, 3, "at 55 s, 110 s and 165 s");
    assert_eq!(bridge.poll_timeout(), None);
    assert_eq!(bridge.counters().total_dropped(), 0);
}

#[test]
fn an_unanswered_refresh_goes_broadcast_and_the_entry_expires() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(None, t);
    bridge.handle_frame(t, &reply_from(v::SERVER_MAC, v::SERVER_IP), &mut sink);
    let packet = ipv4(v::SERVER_IP, 8, 7);
    let mut requests = Vec::new();
    for ms in (55_000..60_000).step_by(500) {
        bridge.handle_ip_packet(at(t, ms), &packet, &mut sink);
        let frames = sink.take();
        assert_eq!(
            frames[0][..6],
            v::SERVER_MAC.0,
            "still sent with the cached MAC"
        );
        requests.extend(frames.into_iter().skip(1).map(|f| f[..6].to_vec()));
    }
    let unicast = v::SERVER_MAC.0.to_vec();
    let broadcast = MacAddr::BROADCAST.0.to_vec();
    assert_eq!(
        requests,
        [
            unicast.clone(),
            unicast.clone(),
            unicast,
            broadcast.clone(),
            broadcast
        ]
    );
    bridge.handle_ip_packet(at(t, 60_000), &packet, &mut sink);
    assert_eq!(
        sink.take(),
        [request_for(v::SERVER_IP, MacAddr::BROADCAST)],
        "expired: queued"
    );
    assert_eq!(bridge.neighbor(v::SERVER_IP, at(t, 60_000)), None);
}

#[test]
fn link_up_forgets_neighbours_and_pending_packets() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(None, t);
    bridge.handle_frame(t, &reply_from(v::SERVER_MAC, v::SERVER_IP), &mut sink);
    bridge.handle_ip_packet(t, &ipv4(v::OTHER_IP, 1, 1), &mut sink);
    assert_eq!(bridge.neighbor(v::SERVER_IP, t), Some(v::SERVER_MAC));
    sink.take();
    bridge.link_up(at(t, 10), &mut sink);
    assert_eq!(sink.take(), [hex(v::GRATUITOUS_ARP_OURS)]);
    assert_eq!(bridge.neighbor(v::SERVER_IP, at(t, 10)), None);
    assert_eq!(bridge.counters().dropped(DropReason::LinkDown), 1);
    assert_eq!(bridge.poll_timeout(), None);
}

#[test]
fn link_down_drops_pending_and_new_packets_and_sends_nothing() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(Some(v::SERVER_IP), t);
    bridge.handle_ip_packet(t, &ipv4(Ipv4Addr::new(8, 8, 8, 8), 1, 1), &mut sink);
    bridge.handle_ip_packet(t, &ipv4(Ipv4Addr::new(8, 8, 4, 4), 1, 2), &mut sink);
    assert!(
        sink.take().is_empty(),
        "both wait for the gateway's resolution already asked"
    );
    bridge.link_down();
    assert!(!bridge.is_link_up());
    assert_eq!(bridge.counters().dropped(DropReason::LinkDown), 2);
    assert_eq!(bridge.poll_timeout(), None);
    bridge.handle_ip_packet(at(t, 1), &ipv4(v::SERVER_IP, 1, 3), &mut sink);
    bridge.handle_timeout(at(t, 5_000), &mut sink);
    assert!(sink.take().is_empty());
    assert_eq!(bridge.counters().dropped(DropReason::LinkDown), 3);
    assert_eq!(bridge.counters().packets_from_tun, 3);
}

#[test]
fn ethernet_padding_never_reaches_the_tun() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(None, t);
    let padded = hex(v::ICMP_ECHO_REPLY_PADDED);
    let packet = bridge.handle_frame(t, &padded, &mut sink).unwrap();
    assert_eq!(packet, &padded[14..42]);
    assert_eq!(packet.len(), 28);
    assert_eq!(bridge.counters().packets_to_tun, 1);
    let broadcast = frame(
        MacAddr::BROADCAST,
        v::SERVER_MAC,
        EtherType::IPV4,
        &padded[14..],
    );
    assert_eq!(
        bridge.handle_frame(t, &broadcast, &mut sink),
        Some(&broadcast[14..42])
    );
    let mcast = frame(
        MacAddr::ipv4_multicast(Ipv4Addr::new(224, 0, 0, 251)),
        v::SERVER_MAC,
        EtherType::IPV4,
        &padded[14..42],
    );
    assert_eq!(
        bridge.handle_frame(t, &mcast, &mut sink).map(<[u8]>::len),
        Some(28)
    );
    assert!(sink.take().is_empty());
}

#[test]
fn broadcast_and_multicast_destinations_map_to_group_macs() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(None, t);
    let cases = [
        (Ipv4Addr::BROADCAST, [0xff; 6]),
        (Ipv4Addr::new(10, 98, 0, 255), [0xff; 6]),
        (
            Ipv4Addr::new(224, 0, 0, 251),
            [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb],
        ),
        (
            Ipv4Addr::new(239, 255, 255, 250),
            [0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa],
        ),
        (
            Ipv4Addr::new(225, 129, 1, 2),
            [0x01, 0x00, 0x5e, 0x01, 0x01, 0x02],
        ),
    ];
    for (dst, mac) in cases {
        let packet = ipv4(dst, 3, 9);
        bridge.handle_ip_packet(t, &packet, &mut sink);
        assert_eq!(
            sink.take(),
            [frame(MacAddr(mac), v::OUR_MAC, EtherType::IPV4, &packet)],
            "{dst}"
        );
    }
    assert_eq!(
        bridge.counters().arp_requests_sent,
        1,
        "only the gratuitous ARP"
    );
}

#[test]
fn off_link_destinations_go_to_the_gateway() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(Some(v::SERVER_IP), t);
    bridge.handle_frame(t, &hex(v::ARP_REPLY_PADDED), &mut sink);
    let packet = ipv4(Ipv4Addr::new(10, 20, 1, 1), 5, 1);
    bridge.handle_ip_packet(t, &packet, &mut sink);
    assert_eq!(
        sink.take(),
        [frame(v::SERVER_MAC, v::OUR_MAC, EtherType::IPV4, &packet)]
    );
}
