//! Byte-exact frames for the tests, as they appear on a TAP link (no FCS).
//!
//! Addresses: we are 02:00:5e:10:00:01 / 10.98.0.2/24; the server's TAP (also the gateway) is
//! 52:54:00:12:34:56 / 10.98.0.1; another LAN host is 52:54:00:ab:cd:ef / 10.98.0.7. Frames are
//! written field by field (Ethernet header on the first line) in the layout `tcpdump -xx` shows
//! for a Linux host on a TAP device; IPv4 and ICMP checksums are the real ones.

use std::net::Ipv4Addr;

use crate::ether::MacAddr;

pub const OUR_MAC: MacAddr = MacAddr([0x02, 0x00, 0x5e, 0x10, 0x00, 0x01]);
pub const OUR_IP: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 2);
pub const SERVER_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 1);
pub const OTHER_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);
pub const OTHER_IP: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 7);

/// The server's Linux kernel asks who has 10.98.0.2: broadcast, 42 bytes, not padded.
pub const ARP_REQUEST_LINUX: &str = "
    ff ff ff ff ff ff  52 54 00 12 34 56  08 06
    00 01  08 00  06  04  00 01
    52 54 00 12 34 56  0a 62 00 01
    00 00 00 00 00 00  0a 62 00 02";

/// Our answer to [`ARP_REQUEST_LINUX`]: unicast to the requester.
pub const ARP_REPLY_OURS: &str = "
    52 54 00 12 34 56  02 00 5e 10 00 01  08 06
    00 01  08 00  06  04  00 02
    02 00 5e 10 00 01  0a 62 00 02
    52 54 00 12 34 56  0a 62 00 01";

/// Our gratuitous ARP (announcement): a broadcast request with sender = target = our IP.
pub const GRATUITOUS_ARP_OURS: &str = "
    ff ff ff ff ff ff  02 00 5e 10 00 01  08 06
    00 01  08 00  06  04  00 01
    02 00 5e 10 00 01  0a 62 00 02
    00 00 00 00 00 00  0a 62 00 02";

/// We ask who has 10.98.0.1 (the gateway).
pub const ARP_REQUEST_OURS_FOR_SERVER: &str = "
    ff ff ff ff ff ff  02 00 5e 10 00 01  08 06
    00 01  08 00  06  04  00 01
    02 00 5e 10 00 01  0a 62 00 02
    00 00 00 00 00 00  0a 62 00 01";

/// The server's reply to [`ARP_REQUEST_OURS_FOR_SERVER`] after a hardware switch padded it to
/// the 60-byte Ethernet minimum (18 bytes of zeros).
pub const ARP_REPLY_PADDED: &str = "
    02 00 5e 10 00 01  52 54 00 12 34 56  08 06
    00 01  08 00  06  04  00 02
    52 54 00 12 34 56  0a 62 00 01
    02 00 5e 10 00 01  0a 62 00 02
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00";

/// `ping 10.98.0.1` from us: IPv4 (DF, TTL 64) + ICMP echo request, id 0x1c2b seq 1, the
/// 56-byte payload of iputils ping (timestamp, then 0x10..0x37). 98 bytes.
pub const ICMP_ECHO_REQUEST: &str = "
    52 54 00 12 34 56  02 00 5e 10 00 01  08 00
    45 00 00 54 5b 1e 40 00 40 01 ca c4 0a 62 00 02 0a 62 00 01
    08 00 de 51 1c 2b 00 01
    6c 1b 3b 66 00 00 00 00 8a 2d 0d 00 00 00 00 00
    10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f
    20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f
    30 31 32 33 34 35 36 37";

/// An ICMP echo reply without payload from the server: a 28-byte IPv4 packet padded to a
/// 60-byte frame (18 bytes of zeros the TUN must never see).
pub const ICMP_ECHO_REPLY_PADDED: &str = "
    02 00 5e 10 00 01  52 54 00 12 34 56  08 00
    45 00 00 1c 0c 4d 00 00 40 01 59 ce 0a 62 00 01 0a 62 00 02
    00 00 e3 d2 1c 2b 00 02
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00";

/// Decodes whitespace-separated hex byte pairs.
pub fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).expect("test vector is hex"))
        .collect()
}

#[test]
fn vectors_have_their_documented_lengths() {
    assert_eq!(hex(ARP_REQUEST_LINUX).len(), 42);
    assert_eq!(hex(ARP_REPLY_OURS).len(), 42);
    assert_eq!(hex(GRATUITOUS_ARP_OURS).len(), 42);
    assert_eq!(hex(ARP_REQUEST_OURS_FOR_SERVER).len(), 42);
    assert_eq!(hex(ARP_REPLY_PADDED).len(), 60);
    assert_eq!(hex(ICMP_ECHO_REQUEST).len(), 98);
    assert_eq!(hex(ICMP_ECHO_REPLY_PADDED).len(), 60);
}
