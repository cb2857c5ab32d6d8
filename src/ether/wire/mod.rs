//! Wire formats of the Ethernet layer: zero-copy views and their `Repr`s.
//!
//! Each format has a view over a byte buffer whose only constructor is `new_checked`: once the
//! length (and, for ARP, the declared address lengths) has been checked, no accessor can panic.
//! A `Repr` is the high-level form: `parse` from a view, `buffer_len` and `emit` into a buffer.
//! `emit` checks the buffer length too, so a short buffer is an error, never a panic.
//!
//! - [`ethernet`]: Ethernet II headers (RFC 894) and EtherType code points.
//! - [`arp`]: ARP for Ethernet/IPv4 (RFC 826); other hardware/protocol pairs are a typed error.
//! - [`ipv4`]: just enough of the IPv4 header (RFC 791) to route a packet and to trim padding.

pub mod arp;
pub mod ethernet;
pub mod ipv4;

#[cfg(test)]
pub(crate) mod vectors;

pub use arp::{ArpOperation, ArpPacket, ArpRepr};
pub use ethernet::{EtherType, EthernetFrame, EthernetRepr};
pub use ipv4::Ipv4Packet;

/// Why bytes are not a valid header of the expected kind. Always blamed on the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("truncated: {needed} bytes needed, {got} present")]
    Truncated { needed: usize, got: usize },
    #[error(
        "unsupported ARP: hardware type {htype:#06x}, protocol type {ptype:#06x}, address \
         lengths {hlen}/{plen} (only Ethernet/IPv4 is supported)"
    )]
    UnsupportedArp {
        htype: u16,
        ptype: u16,
        hlen: u8,
        plen: u8,
    },
    #[error("not an IPv4 header: IP version {0}")]
    NotIpv4(u8),
    #[error("IPv4 header length {0} words is below the minimum of 5")]
    Ipv4HeaderLen(u8),
    #[error("IPv4 total length {total} does not fit header ({header}) and buffer ({buffer})")]
    Ipv4TotalLen {
        total: usize,
        header: usize,
        buffer: usize,
    },
}

/// `Ok(())` when `buf` holds at least `needed` bytes.
pub(crate) fn check_len(buf: &[u8], needed: usize) -> Result<(), WireError> {
    if buf.len() < needed {
        Err(WireError::Truncated {
            needed,
            got: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// Big-endian u16 at `at`; 0 when out of range (callers check lengths first).
pub(crate) fn read_u16(buf: &[u8], at: usize) -> u16 {
    match buf.get(at..at + 2) {
        Some(b) => u16::from_be_bytes([b[0], b[1]]),
        None => 0,
    }
}

/// The six bytes at `at` as a MAC address; zero when out of range (callers check first).
pub(crate) fn read_mac(buf: &[u8], at: usize) -> super::MacAddr {
    let mut mac = [0u8; 6];
    if let Some(b) = buf.get(at..at + 6) {
        mac.copy_from_slice(b);
    }
    super::MacAddr(mac)
}

/// The four bytes at `at` as an IPv4 address; 0.0.0.0 when out of range (callers check first).
pub(crate) fn read_ipv4(buf: &[u8], at: usize) -> std::net::Ipv4Addr {
    match buf.get(at..at + 4) {
        Some(b) => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]),
        None => std::net::Ipv4Addr::UNSPECIFIED,
    }
}
