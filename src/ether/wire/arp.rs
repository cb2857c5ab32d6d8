//! ARP, RFC 826, for Ethernet hardware and IPv4 protocol addresses only.
//!
//! The view accepts any hardware/protocol pair whose declared address lengths fit the buffer;
//! [`ArpRepr::parse`] then insists on Ethernet (htype 1, hlen 6) and IPv4 (ptype 0x0800, plen 4)
//! and returns [`WireError::UnsupportedArp`] for anything else. Unknown operation codes are kept
//! as [`ArpOperation::Unknown`].

use std::net::Ipv4Addr;

use super::{check_len, read_ipv4, read_mac, read_u16, EtherType, WireError};
use crate::ether::MacAddr;

/// Hardware type "Ethernet (10Mb)" (the ARP parameters registry's value 1).
pub const HTYPE_ETHERNET: u16 = 1;
/// Length of the fixed part: htype, ptype, hlen, plen, oper.
pub const FIXED_LEN: usize = 8;
/// Length of an Ethernet/IPv4 ARP packet.
pub const ETHERNET_IPV4_LEN: usize = FIXED_LEN + 2 * 6 + 2 * 4;

/// The ARP operation code. Code points other than request and reply are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    Request,
    Reply,
    Unknown(u16),
}

impl From<u16> for ArpOperation {
    fn from(code: u16) -> Self {
        match code {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            other => ArpOperation::Unknown(other),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(op: ArpOperation) -> u16 {
        match op {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Unknown(code) => code,
        }
    }
}

/// A read view of an ARP packet whose declared addresses all lie inside the buffer.
#[derive(Debug, Clone, Copy)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps `buffer` if it holds the fixed part and the four addresses of the declared lengths.
    /// Bytes after the last address (Ethernet padding) are allowed.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let buf = buffer.as_ref();
        check_len(buf, FIXED_LEN)?;
        let hlen = usize::from(buf[4]);
        let plen = usize::from(buf[5]);
        check_len(buf, FIXED_LEN + 2 * hlen + 2 * plen)?;
        Ok(ArpPacket { buffer })
    }

    pub fn hardware_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 0)
    }

    pub fn protocol_type(&self) -> EtherType {
        EtherType(read_u16(self.buffer.as_ref(), 2))
    }

    pub fn hardware_len(&self) -> u8 {
        self.byte(4)
    }

    pub fn protocol_len(&self) -> u8 {
        self.byte(5)
    }

    pub fn operation(&self) -> ArpOperation {
        ArpOperation::from(read_u16(self.buffer.as_ref(), 6))
    }

    pub fn sender_hardware_addr(&self) -> &[u8] {
        self.field(FIXED_LEN, self.hlen())
    }

    pub fn sender_protocol_addr(&self) -> &[u8] {
        self.field(FIXED_LEN + self.hlen(), self.plen())
    }

    pub fn target_hardware_addr(&self) -> &[u8] {
        self.field(FIXED_LEN + self.hlen() + self.plen(), self.hlen())
    }

    pub fn target_protocol_addr(&self) -> &[u8] {
        self.field(FIXED_LEN + 2 * self.hlen() + self.plen(), self.plen())
    }

    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }

    fn hlen(&self) -> usize {
        usize::from(self.hardware_len())
    }

    fn plen(&self) -> usize {
        usize::from(self.protocol_len())
    }

    fn field(&self, start: usize, len: usize) -> &[u8] {
        self.buffer
            .as_ref()
            .get(start..start + len)
            .unwrap_or_default()
    }
}

/// The high-level form of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    pub operation: ArpOperation,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// "Who has `target_ip`?" The target hardware address is all-zero, as Linux sends it.
    pub fn request(sender_mac: MacAddr, sender_ip: Ipv4Addr, target_ip: Ipv4Addr) -> ArpRepr {
        ArpRepr {
            operation: ArpOperation::Request,
            sender_mac,
            sender_ip,
            target_mac: MacAddr::ZERO,
            target_ip,
        }
    }

    /// A gratuitous ARP (an "ARP announcement", RFC 5227 §2.3): a request for our own address.
    pub fn announcement(mac: MacAddr, ip: Ipv4Addr) -> ArpRepr {
        ArpRepr::request(mac, ip, ip)
    }

    /// The answer to `request` from the owner of the requested address.
    pub fn reply_to(request: &ArpRepr, our_mac: MacAddr) -> ArpRepr {
        ArpRepr {
            operation: ArpOperation::Reply,
            sender_mac: our_mac,
            sender_ip: request.target_ip,
            target_mac: request.sender_mac,
            target_ip: request.sender_ip,
        }
    }

    /// Parses an Ethernet/IPv4 ARP packet; any other hardware/protocol pair is an error.
    pub fn parse<T: AsRef<[u8]>>(packet: &ArpPacket<T>) -> Result<ArpRepr, WireError> {
        let (htype, ptype) = (packet.hardware_type(), packet.protocol_type());
        let (hlen, plen) = (packet.hardware_len(), packet.protocol_len());
        if htype != HTYPE_ETHERNET || ptype != EtherType::IPV4 || hlen != 6 || plen != 4 {
            return Err(WireError::UnsupportedArp {
                htype,
                ptype: ptype.0,
                hlen,
                plen,
            });
        }
        let buf = packet.buffer.as_ref();
        Ok(ArpRepr {
            operation: packet.operation(),
            sender_mac: read_mac(buf, 8),
            sender_ip: read_ipv4(buf, 14),
            target_mac: read_mac(buf, 18),
            target_ip: read_ipv4(buf, 24),
        })
    }

    pub fn buffer_len(&self) -> usize {
        ETHERNET_IPV4_LEN
    }

    /// Writes the packet into the first [`ETHERNET_IPV4_LEN`] bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        let got = buf.len();
        let out = buf
            .get_mut(..ETHERNET_IPV4_LEN)
            .ok_or(WireError::Truncated {
                needed: ETHERNET_IPV4_LEN,
                got,
            })?;
        out[0..2].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        out[2..4].copy_from_slice(&EtherType::IPV4.0.to_be_bytes());
        out[4] = 6;
        out[5] = 4;
        out[6..8].copy_from_slice(&u16::from(self.operation).to_be_bytes());
        out[8..14].copy_from_slice(&self.sender_mac.0);
        out[14..18].copy_from_slice(&self.sender_ip.octets());
        out[18..24].copy_from_slice(&self.target_mac.0);
        out[24..28].copy_from_slice(&self.target_ip.octets());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ether::wire::ethernet::HEADER_LEN;
    use crate::ether::wire::vectors::{self as v, hex};

    fn arp_of(frame: &str) -> Vec<u8> {
        hex(frame)[HEADER_LEN..].to_vec()
    }

    fn parse(bytes: &[u8]) -> Result<ArpRepr, WireError> {
        ArpRepr::parse(&ArpPacket::new_checked(bytes)?)
    }

    #[test]
    fn parses_a_linux_request_field_by_field() {
        let bytes = arp_of(v::ARP_REQUEST_LINUX);
        let packet = ArpPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.hardware_type(), 1);
        assert_eq!(packet.protocol_type(), EtherType::IPV4);
        assert_eq!((packet.hardware_len(), packet.protocol_len()), (6, 4));
        assert_eq!(packet.operation(), ArpOperation::Request);
        assert_eq!(packet.sender_hardware_addr(), &v::SERVER_MAC.0);
        assert_eq!(packet.sender_protocol_addr(), &[10, 98, 0, 1]);
        assert_eq!(packet.target_hardware_addr(), &[0; 6]);
        assert_eq!(packet.target_protocol_addr(), &[10, 98, 0, 2]);
        let repr = ArpRepr::parse(&packet).unwrap();
        assert_eq!(
            repr,
            ArpRepr::request(v::SERVER_MAC, v::SERVER_IP, v::OUR_IP)
        );
    }

    #[test]
    fn reply_to_the_linux_request_emits_our_reply_bytes() {
        let request = parse(&arp_of(v::ARP_REQUEST_LINUX)).unwrap();
        let reply = ArpRepr::reply_to(&request, v::OUR_MAC);
        let mut buf = [0u8; 28];
        reply.emit(&mut buf).unwrap();
        assert_eq!(buf[..], arp_of(v::ARP_REPLY_OURS)[..]);
        assert_eq!(parse(&buf).unwrap(), reply);
        assert_eq!(reply.buffer_len(), 28);
    }

    #[test]
    fn gratuitous_and_resolution_requests_emit_exact_bytes() {
        let mut buf = [0u8; 28];
        ArpRepr::announcement(v::OUR_MAC, v::OUR_IP)
            .emit(&mut buf)
            .unwrap();
        assert_eq!(buf[..], arp_of(v::GRATUITOUS_ARP_OURS)[..]);
        ArpRepr::request(v::OUR_MAC, v::OUR_IP, v::SERVER_IP)
            .emit(&mut buf)
            .unwrap();
        assert_eq!(buf[..], arp_of(v::ARP_REQUEST_OURS_FOR_SERVER)[..]);
    }

    #[test]
    fn padded_reply_parses_and_ignores_the_padding() {
        let bytes = arp_of(v::ARP_REPLY_PADDED);
        assert_eq!(bytes.len(), 46);
        let repr = parse(&bytes).unwrap();
        assert_eq!(repr.operation, ArpOperation::Reply);
        assert_eq!(
            (repr.sender_mac, repr.sender_ip),
            (v::SERVER_MAC, v::SERVER_IP)
        );
        assert_eq!((repr.target_mac, repr.target_ip), (v::OUR_MAC, v::OUR_IP));
    }

    #[test]
    fn truncation_is_checked_against_the_declared_lengths() {
        let bytes = arp_of(v::ARP_REQUEST_LINUX);
        for len in 0..bytes.len() {
            assert!(
                matches!(parse(&bytes[..len]), Err(WireError::Truncated { .. })),
                "{len}"
            );
        }
        // Declared address lengths of 255 need 8 + 1020 bytes.
        let mut huge = bytes.clone();
        huge[4] = 255;
        huge[5] = 255;
        assert_eq!(
            ArpPacket::new_checked(&huge[..]).unwrap_err(),
            WireError::Truncated {
                needed: 1028,
                got: 28
            }
        );
        assert!(ArpRepr::request(v::OUR_MAC, v::OUR_IP, v::SERVER_IP)
            .emit(&mut [0u8; 27])
            .is_err());
    }

    #[test]
    fn other_hardware_or_protocol_types_are_typed_errors() {
        let base = arp_of(v::ARP_REQUEST_LINUX);
        let mut ieee802 = base.clone();
        ieee802[1] = 6;
        assert_eq!(
            parse(&ieee802),
            Err(WireError::UnsupportedArp {
                htype: 6,
                ptype: 0x0800,
                hlen: 6,
                plen: 4
            })
        );
        let mut ipv6ish = base.clone();
        ipv6ish[2..4].copy_from_slice(&[0x86, 0xdd]);
        assert!(matches!(
            parse(&ipv6ish),
            Err(WireError::UnsupportedArp { ptype: 0x86dd, .. })
        ));
        // hlen 0 / plen 0 fit any buffer, and are still not Ethernet/IPv4.
        let mut empty = base[..8].to_vec();
        empty[4] = 0;
        empty[5] = 0;
        let packet = ArpPacket::new_checked(&empty[..]).unwrap();
        assert_eq!(packet.sender_hardware_addr(), b"");
        assert!(matches!(
            ArpRepr::parse(&packet),
            Err(WireError::UnsupportedArp { hlen: 0, .. })
        ));
    }

    #[test]
    fn unknown_operations_are_kept() {
        let mut bytes = arp_of(v::ARP_REQUEST_LINUX);
        bytes[7] = 9; // InARP reply (RFC 2390)
        let repr = parse(&bytes).unwrap();
        assert_eq!(repr.operation, ArpOperation::Unknown(9));
        let mut out = [0u8; 28];
        repr.emit(&mut out).unwrap();
        assert_eq!(out[..], bytes[..]);
    }
}
