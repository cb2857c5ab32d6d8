//! Ethernet II (DIX) framing, RFC 894: destination MAC, source MAC, EtherType, payload.
//!
//! No FCS: TAP devices and the VPN links carry frames without it. Frames shorter than 60 bytes
//! are legal here (Linux sends a 42-byte ARP request on a TAP device); receivers must not rely
//! on padding being present or absent.

use std::fmt;

use super::{check_len, read_mac, read_u16, WireError};
use crate::ether::MacAddr;

/// Length of an Ethernet II header: two MAC addresses and the EtherType.
pub const HEADER_LEN: usize = 14;

/// The minimum Ethernet frame without FCS (IEEE 802.3: 64 bytes with FCS). Shorter frames may
/// be padded up to this length by the sender.
pub const MIN_FRAME_LEN: usize = 60;

/// The EtherType field. Unknown code points are kept as they are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EtherType(pub u16);

impl EtherType {
    pub const IPV4: EtherType = EtherType(0x0800);
    pub const ARP: EtherType = EtherType(0x0806);
    pub const IPV6: EtherType = EtherType(0x86dd);
    /// IEEE 802.1Q VLAN tag (C-tag).
    pub const VLAN: EtherType = EtherType(0x8100);

    /// Values below 0x0600 are IEEE 802.3 length fields (LLC frames such as STP), not types.
    pub fn is_length(self) -> bool {
        self.0 < 0x0600
    }

    fn name(self) -> Option<&'static str> {
        match self {
            Self::IPV4 => Some("IPv4"),
            Self::ARP => Some("ARP"),
            Self::IPV6 => Some("IPv6"),
            Self::VLAN => Some("VLAN"),
            _ => None,
        }
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({:#06x})", self.0),
            None => write!(f, "{:#06x}", self.0),
        }
    }
}

impl fmt::Debug for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A read view of an Ethernet II frame whose header is known to be complete.
#[derive(Debug, Clone, Copy)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps `buffer` if it holds at least a full header.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        check_len(buffer.as_ref(), HEADER_LEN)?;
        Ok(EthernetFrame { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn dst(&self) -> MacAddr {
        read_mac(self.buffer.as_ref(), 0)
    }

    pub fn src(&self) -> MacAddr {
        read_mac(self.buffer.as_ref(), 6)
    }

    pub fn ethertype(&self) -> EtherType {
        EtherType(read_u16(self.buffer.as_ref(), 12))
    }

    /// Everything after the header, including any padding.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or_default()
    }
}

impl<'a> EthernetFrame<&'a [u8]> {
    /// The payload with the buffer's lifetime (for handing a sub-slice onwards).
    pub fn into_payload(self) -> &'a [u8] {
        self.buffer.get(HEADER_LEN..).unwrap_or_default()
    }
}

/// The high-level form of an Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetRepr {
    pub dst: MacAddr,
    pub src: MacAddr,
    pub ethertype: EtherType,
}

impl EthernetRepr {
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> EthernetRepr {
        EthernetRepr {
            dst: frame.dst(),
            src: frame.src(),
            ethertype: frame.ethertype(),
        }
    }

    /// The header length; the payload follows at this offset.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into the first [`HEADER_LEN`] bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        let got = buf.len();
        let header = buf.get_mut(..HEADER_LEN).ok_or(WireError::Truncated {
            needed: HEADER_LEN,
            got,
        })?;
        header[0..6].copy_from_slice(&self.dst.0);
        header[6..12].copy_from_slice(&self.src.0);
        header[12..14].copy_from_slice(&self.ethertype.0.to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ether::wire::vectors::{self, hex};

    #[test]
    fn parses_the_header_of_an_icmp_echo_frame() {
        let bytes = hex(vectors::ICMP_ECHO_REQUEST);
        let frame = EthernetFrame::new_checked(&bytes[..]).unwrap();
        let repr = EthernetRepr::parse(&frame);
        assert_eq!(repr.dst, vectors::SERVER_MAC);
        assert_eq!(repr.src, vectors::OUR_MAC);
        assert_eq!(repr.ethertype, EtherType::IPV4);
        assert_eq!(frame.payload().len(), 84);
        assert_eq!(frame.payload()[..4], [0x45, 0x00, 0x00, 0x54]);
        assert_eq!(frame.into_payload().len(), 84);
    }

    #[test]
    fn emits_the_exact_header_bytes() {
        let repr = EthernetRepr {
            dst: vectors::SERVER_MAC,
            src: vectors::OUR_MAC,
            ethertype: EtherType::IPV4,
        };
        let mut buf = [0xaau8; 16];
        repr.emit(&mut buf).unwrap();
        assert_eq!(buf[..14], hex(vectors::ICMP_ECHO_REQUEST)[..14]);
        assert_eq!(buf[14..], [0xaa, 0xaa], "bytes past the header untouched");
        assert_eq!(repr.buffer_len(), 14);
    }

    #[test]
    fn short_buffers_are_errors_not_panics() {
        for len in 0..HEADER_LEN {
            let buf = vec![0u8; len];
            assert_eq!(
                EthernetFrame::new_checked(&buf[..]).unwrap_err(),
                WireError::Truncated {
                    needed: 14,
                    got: len
                }
            );
        }
        let repr = EthernetRepr {
            dst: MacAddr::BROADCAST,
            src: vectors::OUR_MAC,
            ethertype: EtherType::ARP,
        };
        assert!(repr.emit(&mut [0u8; 13]).is_err());
        let exact = [0u8; 14];
        assert_eq!(
            EthernetFrame::new_checked(&exact[..]).unwrap().payload(),
            b""
        );
    }

    #[test]
    fn ethertype_names_and_length_fields() {
        assert_eq!(EtherType::IPV6.to_string(), "IPv6 (0x86dd)");
        assert_eq!(EtherType(0x88cc).to_string(), "0x88cc");
        assert!(EtherType(0x0026).is_length());
        assert!(!EtherType::ARP.is_length());
        let bytes = hex(vectors::ARP_REQUEST_LINUX);
        let frame = EthernetFrame::new_checked(&bytes[..]).unwrap();
        assert_eq!(frame.ethertype(), EtherType::ARP);
        assert_eq!(frame.dst(), MacAddr::BROADCAST);
    }
}
