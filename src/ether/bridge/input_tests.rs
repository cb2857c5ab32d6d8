//! The bridge under hostile or odd input: every drop reason, ARP merge and conflict rules, and a
//! deterministic fuzz loop.

use std::net::Ipv4Addr;
use std::time::Instant;

use super::tests::{arp_frame, bridge_up, frame, ipv4, reply_from, Sink};
use super::*;
use crate::ether::wire::vectors::{self as v, hex};
use crate::ether::{MAX_PENDING_NEXT_HOPS, PENDING_PACKETS_PER_NEXT_HOP};
use crate::testutil::Rng;
use crate::testutil::{at, t0};

const NEW_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x00, 0x00, 0x99]);

/// Feeds `bridge` the input that must be dropped for `reason` (exhaustive on purpose: a new
/// reason must come with a way to provoke it).
fn provoke(reason: DropReason, bridge: &mut Bridge, sink: &mut Sink, t: Instant) {
    let packet = ipv4(v::OTHER_IP, 4, 0);
    let mut frame_in = |f: Vec<u8>| assert_eq!(bridge.handle_frame(t, &f, sink), None);
    match reason {
        DropReason::Runt => frame_in(vec![0xff; 13]),
        DropReason::OwnSource => frame_in(hex(v::GRATUITOUS_ARP_OURS)),
        DropReason::NotForUs => {
            frame_in(frame(v::OTHER_MAC, v::SERVER_MAC, EtherType::IPV4, &packet))
        }
        DropReason::UnknownEtherType => {
            let mut tagged = vec![0x00, 0x05, 0x08, 0x00];
            tagged.extend_from_slice(&packet);
            frame_in(frame(v::OUR_MAC, v::SERVER_MAC, EtherType::VLAN, &tagged));
        }
        DropReason::Ipv6 => frame_in(frame(
            v::OUR_MAC,
            v::SERVER_MAC,
            EtherType::IPV6,
            &[0x60; 40],
        )),
        DropReason::MalformedArp => frame_in(hex(v::ARP_REQUEST_LINUX)[..34].to_vec()),
        DropReason::UnsupportedArp => {
            let mut arp = hex(v::ARP_REQUEST_LINUX);
            arp[15] = 6; // IEEE 802 hardware type
            frame_in(arp);
        }
        DropReason::MalformedIp => frame_in(hex(v::ICMP_ECHO_REPLY_PADDED)[..40].to_vec()),
        DropReason::TooBig => bridge.handle_ip_packet(t, &ipv4(v::OTHER_IP, 65_515, 0), sink),
        DropReason::NoRoute => {
            bridge.handle_ip_packet(t, &ipv4(Ipv4Addr::new(8, 8, 8, 8), 4, 0), sink)
        }
        DropReason::Unresolved => {
            bridge.handle_ip_packet(t, &packet, sink);
            for s in 1..=3 {
                bridge.handle_timeout(at(t, s * 1_000), sink);
            }
        }
        DropReason::PendingQueueFull => {
            for _ in 0..=PENDING_PACKETS_PER_NEXT_HOP {
                bridge.handle_ip_packet(t, &packet, sink);
            }
        }
        DropReason::PendingTableFull => {
            for host in 0..=MAX_PENDING_NEXT_HOPS as u8 {
                let p = ipv4(Ipv4Addr::new(10, 98, 0, 100 + host), 4, 0);
                bridge.handle_ip_packet(t, &p, sink);
            }
        }
        DropReason::LinkDown => {
            bridge.link_down();
            bridge.handle_ip_packet(t, &packet, sink);
        }
        DropReason::AddressConflict => frame_in(arp_frame(
            MacAddr::BROADCAST,
            ArpRepr::announcement(v::OTHER_MAC, v::OUR_IP),
        )),
    }
}

#[test]
fn every_drop_reason_is_counted_once_and_alone() {
    let t = t0();
    for reason in DropReason::ALL {
        let (mut bridge, mut sink) = bridge_up(None, t);
        provoke(reason, &mut bridge, &mut sink, t);
        let drops: Vec<_> = bridge.counters().drops().filter(|&(_, n)| n > 0).collect();
        assert_eq!(drops, [(reason, 1)], "{reason}");
    }
}

#[test]
fn tun_side_garbage_ipv6_and_unroutable_packets_are_counted() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(None, t);
    let inputs: [(&[u8], DropReason); 6] = [
        (&[], DropReason::MalformedIp),
        (&[0x45, 0, 0], DropReason::MalformedIp),
        (&[0x00; 40], DropReason::MalformedIp),
        (&[0x60, 0, 0, 0], DropReason::Ipv6),
        (&ipv4(Ipv4Addr::UNSPECIFIED, 1, 0), DropReason::NoRoute),
        (&ipv4(v::OUR_IP, 1, 0), DropReason::NoRoute),
    ];
    for (i, (packet, reason)) in inputs.iter().enumerate() {
        bridge.handle_ip_packet(t, packet, &mut sink);
        assert_eq!(
            bridge.counters().dropped(*reason) as usize,
            inputs[..=i].iter().filter(|(_, r)| r == reason).count()
        );
    }
    assert!(sink.take().is_empty());
    assert_eq!(bridge.counters().packets_from_tun, 6);
}

#[test]
fn claims_on_our_address_are_not_learned_and_are_defended_rate_limited() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(None, t);
    let claim = arp_frame(
        MacAddr::BROADCAST,
        ArpRepr::announcement(v::OTHER_MAC, v::OUR_IP),
    );
    bridge.handle_frame(t, &claim, &mut sink);
    assert_eq!(sink.take(), [hex(v::GRATUITOUS_ARP_OURS)]);
    let request = ArpRepr::request(v::OTHER_MAC, v::OUR_IP, v::SERVER_IP);
    bridge.handle_frame(
        at(t, 9_999),
        &arp_frame(MacAddr::BROADCAST, request),
        &mut sink,
    );
    assert!(sink.take().is_empty(), "defended less than 10 s ago");
    bridge.handle_frame(at(t, 10_000), &claim, &mut sink);
    assert_eq!(sink.take(), [hex(v::GRATUITOUS_ARP_OURS)]);
    assert_eq!(bridge.counters().dropped(DropReason::AddressConflict), 3);
    assert_eq!(bridge.neighbor(v::OUR_IP, at(t, 10_000)), None);
    bridge.link_down();
    bridge.handle_frame(at(t, 30_000), &claim, &mut sink);
    assert!(
        sink.take().is_empty(),
        "nothing is sent while the link is down"
    );
}

#[test]
fn a_probe_for_our_address_is_answered_and_nothing_is_learned() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(None, t);
    let probe = |target| ArpRepr {
        operation: ArpOperation::Request,
        sender_mac: v::OTHER_MAC,
        sender_ip: Ipv4Addr::UNSPECIFIED,
        target_mac: MacAddr::ZERO,
        target_ip: target,
    };
    bridge.handle_frame(
        t,
        &arp_frame(MacAddr::BROADCAST, probe(v::OUR_IP)),
        &mut sink,
    );
    let answer = hex("52 54 00 ab cd ef  02 00 5e 10 00 01  08 06
        00 01  08 00  06  04  00 02
        02 00 5e 10 00 01  0a 62 00 02
        52 54 00 ab cd ef  00 00 00 00");
    assert_eq!(sink.take(), [answer]);
    bridge.handle_frame(
        t,
        &arp_frame(MacAddr::BROADCAST, probe(v::SERVER_IP)),
        &mut sink,
    );
    assert!(sink.take().is_empty());
    assert_eq!(bridge.neighbor(Ipv4Addr::UNSPECIFIED, t), None);
    assert_eq!(bridge.counters().total_dropped(), 0);
    assert_eq!(bridge.counters().arp_requests_received, 2);
}

#[test]
fn rfc826_merge_updates_known_entries_and_creates_only_for_us() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(None, t);
    let other_asks_server = ArpRepr::request(v::OTHER_MAC, v::OTHER_IP, v::SERVER_IP);
    bridge.handle_frame(
        t,
        &arp_frame(MacAddr::BROADCAST, other_asks_server),
        &mut sink,
    );
    let reply_to_other = ArpRepr::reply_to(&other_asks_server, v::SERVER_MAC);
    bridge.handle_frame(t, &arp_frame(v::OTHER_MAC, reply_to_other), &mut sink);
    assert_eq!(
        bridge.neighbor(v::OTHER_IP, t),
        None,
        "not addressed to us: not created"
    );
    assert_eq!(bridge.neighbor(v::SERVER_IP, t), None);
    assert!(sink.take().is_empty());

    bridge.handle_frame(t, &reply_from(v::OTHER_MAC, v::OTHER_IP), &mut sink);
    assert_eq!(
        bridge.neighbor(v::OTHER_IP, t),
        Some(v::OTHER_MAC),
        "a reply to us creates"
    );
    let moved = ArpRepr::request(NEW_MAC, v::OTHER_IP, v::SERVER_IP);
    bridge.handle_frame(at(t, 1), &arp_frame(MacAddr::BROADCAST, moved), &mut sink);
    assert_eq!(
        bridge.neighbor(v::OTHER_IP, at(t, 1)),
        Some(NEW_MAC),
        "merge updates"
    );
    assert!(sink.take().is_empty());
}

#[test]
fn an_announcement_from_a_next_hop_being_resolved_releases_its_queue() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(None, t);
    let packet = ipv4(v::OTHER_IP, 2, 5);
    bridge.handle_ip_packet(t, &packet, &mut sink);
    sink.take();
    let announce = ArpRepr::announcement(v::OTHER_MAC, v::OTHER_IP);
    bridge.handle_frame(
        at(t, 20),
        &arp_frame(MacAddr::BROADCAST, announce),
        &mut sink,
    );
    assert_eq!(
        sink.take(),
        [frame(v::OTHER_MAC, v::OUR_MAC, EtherType::IPV4, &packet)]
    );
    assert_eq!(bridge.poll_timeout(), None);
}

#[test]
fn group_or_broadcast_senders_are_malformed_and_not_learned() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(None, t);
    let group_sender =
        ArpRepr::request(MacAddr::ipv4_multicast(v::OTHER_IP), v::OTHER_IP, v::OUR_IP);
    bridge.handle_frame(t, &arp_frame(MacAddr::BROADCAST, group_sender), &mut sink);
    let bcast_ip = ArpRepr::request(v::OTHER_MAC, Ipv4Addr::new(10, 98, 0, 255), v::OUR_IP);
    bridge.handle_frame(t, &arp_frame(MacAddr::BROADCAST, bcast_ip), &mut sink);
    let mut ours_inside = hex(v::ARP_REQUEST_LINUX);
    ours_inside[22..28].copy_from_slice(&v::OUR_MAC.0); // ARP sender MAC is ours
    bridge.handle_frame(t, &ours_inside, &mut sink);
    assert!(sink.take().is_empty());
    assert_eq!(bridge.counters().dropped(DropReason::MalformedArp), 2);
    assert_eq!(bridge.counters().dropped(DropReason::OwnSource), 1);
    assert_eq!(bridge.neighbor(v::OTHER_IP, t), None);
    assert_eq!(bridge.neighbor(v::SERVER_IP, t), None);
}

#[test]
fn fuzzed_frames_and_packets_never_panic_and_keep_the_invariants() {
    let t = t0();
    let (mut bridge, mut sink) = bridge_up(Some(v::SERVER_IP), t);
    let mut frame_seeds: Vec<Vec<u8>> = [
        v::ARP_REQUEST_LINUX,
        v::ARP_REPLY_PADDED,
        v::ICMP_ECHO_REQUEST,
        v::ICMP_ECHO_REPLY_PADDED,
        v::GRATUITOUS_ARP_OURS,
    ]
    .iter()
    .map(|s| hex(s))
    .collect();
    frame_seeds.push(reply_from(v::OTHER_MAC, v::OTHER_IP));
    let packet_seeds = [
        ipv4(v::OTHER_IP, 30, 1),
        ipv4(Ipv4Addr::new(10, 98, 0, 77), 0, 2),
        ipv4(Ipv4Addr::new(1, 1, 1, 1), 10, 3),
        ipv4(Ipv4Addr::new(224, 0, 0, 1), 10, 4),
        hex(v::ICMP_ECHO_REQUEST)[14..].to_vec(),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut now = t;
    let rounds = 20_000;
    for round in 0..rounds {
        now = at(now, rng.below(700) as u64);
        let input = rng.mutate(&frame_seeds);
        if let Some(packet) = bridge.handle_frame(now, &input, &mut sink) {
            let start = packet.as_ptr() as usize - input.as_ptr() as usize;
            assert_eq!(start, 14, "a sub-slice right after the header");
            assert!(packet.len() <= input.len() - 14 && packet[0] >> 4 == 4);
        }
        bridge.handle_ip_packet(now, &rng.mutate(&packet_seeds), &mut sink);
        if bridge.poll_timeout().is_some_and(|d| d <= now) {
            bridge.handle_timeout(now, &mut sink);
        }
        match rng.below(1_000) {
            0 => bridge.link_down(),
            1..=5 => bridge.link_up(now, &mut sink),
            _ => {}
        }
        for f in sink.take() {
            assert!(f.len() >= 14 && f.len() <= MAX_FRAME_LEN, "round {round}");
            assert_eq!(f[6..12], v::OUR_MAC.0, "round {round}: our source MAC");
        }
    }
    let c = bridge.counters();
    assert_eq!((c.frames_in, c.packets_from_tun), (rounds, rounds));
    assert!(c.packets_to_tun > 0 && c.frames_out > 0 && c.arp_replies_sent > 0);
    assert!(c.drops().filter(|&(_, n)| n > 0).count() >= 8, "{c:?}");
}
