//! The few IPv4 header fields (RFC 791) the bridge needs: version, header and total length (to
//! trim Ethernet padding) and the addresses (to pick a next hop). Checksums and options are the
//! operating system's business; this view does not verify them.

use std::net::Ipv4Addr;

use super::{check_len, read_ipv4, read_u16, WireError};

/// Length of an IPv4 header without options.
pub const MIN_HEADER_LEN: usize = 20;

/// The IP version nibble of a packet's first byte, if it has one.
pub fn ip_version(packet: &[u8]) -> Option<u8> {
    packet.first().map(|b| b >> 4)
}

/// A read view of an IPv4 packet whose header and declared total length lie inside the buffer.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buffer` if it starts with an IPv4 header whose IHL and total length are consistent
    /// and fit. The buffer may be longer than the total length (Ethernet padding).
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let buf = buffer.as_ref();
        check_len(buf, MIN_HEADER_LEN)?;
        let version = buf[0] >> 4;
        if version != 4 {
            return Err(WireError::NotIpv4(version));
        }
        let ihl = buf[0] & 0x0f;
        if ihl < 5 {
            return Err(WireError::Ipv4HeaderLen(ihl));
        }
        let header = usize::from(ihl) * 4;
        let total = usize::from(read_u16(buf, 2));
        if total < header || total > buf.len() {
            return Err(WireError::Ipv4TotalLen {
                total,
                header,
                buffer: buf.len(),
            });
        }
        Ok(Ipv4Packet { buffer })
    }

    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref().first().copied().unwrap_or(0) & 0x0f) * 4
    }

    /// The Total Length field: header plus payload, in bytes.
    pub fn total_len(&self) -> usize {
        usize::from(read_u16(self.buffer.as_ref(), 2))
    }

    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref().get(9).copied().unwrap_or(0)
    }

    pub fn src_addr(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), 12)
    }

    pub fn dst_addr(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), 16)
    }
}

impl<'a> Ipv4Packet<&'a [u8]> {
    /// The packet without anything after its total length.
    pub fn into_trimmed(self) -> &'a [u8] {
        let total = self.total_len();
        self.buffer.get(..total).unwrap_or(self.buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ether::wire::ethernet::HEADER_LEN;
    use crate::ether::wire::vectors::{self as v, hex};

    #[test]
    fn reads_the_echo_request_header() {
        let frame = hex(v::ICMP_ECHO_REQUEST);
        let packet = Ipv4Packet::new_checked(&frame[HEADER_LEN..]).unwrap();
        assert_eq!(packet.header_len(), 20);
        assert_eq!(packet.total_len(), 84);
        assert_eq!(packet.protocol(), 1);
        assert_eq!(packet.src_addr(), v::OUR_IP);
        assert_eq!(packet.dst_addr(), v::SERVER_IP);
        assert_eq!(packet.into_trimmed(), &frame[HEADER_LEN..]);
        assert_eq!(ip_version(&frame[HEADER_LEN..]), Some(4));
        assert_eq!(ip_version(b""), None);
    }

    #[test]
    fn trims_ethernet_padding() {
        let frame = hex(v::ICMP_ECHO_REPLY_PADDED);
        let packet = Ipv4Packet::new_checked(&frame[HEADER_LEN..]).unwrap();
        let trimmed = packet.into_trimmed();
        assert_eq!(trimmed.len(), 28);
        assert_eq!(trimmed, &frame[14..42]);
        assert_eq!(
            trimmed[20..],
            [0x00, 0x00, 0xe3, 0xd2, 0x1c, 0x2b, 0x00, 0x02]
        );
    }

    #[test]
    fn rejects_inconsistent_headers() {
        let frame = hex(v::ICMP_ECHO_REQUEST);
        let good = &frame[HEADER_LEN..];
        for len in 0..MIN_HEADER_LEN {
            assert!(matches!(
                Ipv4Packet::new_checked(&good[..len]),
                Err(WireError::Truncated { .. })
            ));
        }
        // Total length 84 does not fit a 60-byte buffer.
        assert_eq!(
            Ipv4Packet::new_checked(&good[..60]).unwrap_err(),
            WireError::Ipv4TotalLen {
                total: 84,
                header: 20,
                buffer: 60
            }
        );
        let mut v6 = good.to_vec();
        v6[0] = 0x60;
        assert_eq!(
            Ipv4Packet::new_checked(&v6[..]).unwrap_err(),
            WireError::NotIpv4(6)
        );
        let mut short_ihl = good.to_vec();
        short_ihl[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&short_ihl[..]).unwrap_err(),
            WireError::Ipv4HeaderLen(4)
        );
        let mut total_below_header = good.to_vec();
        total_below_header[0] = 0x46; // 24-byte header
        total_below_header[2..4].copy_from_slice(&[0, 20]);
        assert!(matches!(
            Ipv4Packet::new_checked(&total_below_header[..]),
            Err(WireError::Ipv4TotalLen {
                total: 20,
                header: 24,
                ..
            })
        ));
    }
}
