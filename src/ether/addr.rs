//! Link and network address types shared by the Ethernet layer, the config and the platform code.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// A 48-bit IEEE 802 MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// ff:ff:ff:ff:ff:ff
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// 00:00:00:00:00:00 (the "unknown" target hardware address in ARP requests)
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// True for group (multicast and broadcast) addresses: the I/G bit of the first octet.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// True for a unicast address a host may use as its own: not group, not all-zero.
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast() && *self != Self::ZERO
    }

    /// A locally administered unicast address derived from `seed` (FNV-1a, 64 bit).
    ///
    /// The same seed always gives the same address, on every platform and Rust version, so a
    /// host keeps its MAC (and the server's neighbour tables stay valid) across restarts.
    pub fn stable_local(seed: &[u8]) -> MacAddr {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &byte in seed {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let b = hash.to_be_bytes();
        // Clear the group bit, set the locally-administered bit (IEEE 802 U/L bit).
        MacAddr([(b[0] & 0xfc) | 0x02, b[1], b[2], b[3], b[4], b[5]])
    }

    /// The Ethernet multicast address for an IPv4 multicast group (RFC 1112 §6.4):
    /// 01:00:5e followed by the low 23 bits of the group address.
    pub fn ipv4_multicast(group: Ipv4Addr) -> MacAddr {
        let o = group.octets();
        MacAddr([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a MAC address or a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrParseError {
    #[error("expected a MAC address like 02:00:5e:10:00:01")]
    Mac,
    #[error("expected an IPv4 address with a prefix length, like 10.98.0.2/24")]
    Cidr,
    #[error("prefix length {0} is out of range (0..=32)")]
    PrefixLen(u32),
}

impl FromStr for MacAddr {
    type Err = AddrParseError;

    /// Accepts `aa:bb:cc:dd:ee:ff` and `aa-bb-cc-dd-ee-ff`, either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for slot in out.iter_mut() {
            let part = parts.next().ok_or(AddrParseError::Mac)?;
            if part.len() != 2 {
                return Err(AddrParseError::Mac);
            }
            *slot = u8::from_str_radix(part, 16).map_err(|_| AddrParseError::Mac)?;
        }
        if parts.next().is_some() {
            return Err(AddrParseError::Mac);
        }
        Ok(MacAddr(out))
    }
}

/// An IPv4 address with a prefix length: an interface address (`10.98.0.2/24`) or a network
/// (`10.20.0.0/16`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    prefix_len: u8,
}

impl Ipv4Cidr {
    /// `None` when `prefix_len > 32`.
    pub fn new(addr: Ipv4Addr, prefix_len: u8) -> Option<Self> {
        (prefix_len <= 32).then_some(Ipv4Cidr { addr, prefix_len })
    }

    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask_bits())
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask_bits())
    }

    /// The directed broadcast address of the block (all host bits set).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask_bits())
    }

    /// The same block with host bits cleared (`10.98.0.2/24` → `10.98.0.0/24`).
    pub fn trunc(&self) -> Ipv4Cidr {
        Ipv4Cidr {
            addr: self.network(),
            prefix_len: self.prefix_len,
        }
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask_bits() == u32::from(self.network())
    }

    fn mask_bits(&self) -> u32 {
        match self.prefix_len {
            0 => 0,
            n => u32::MAX << (32 - u32::from(n)),
        }
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = AddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = s.split_once('/').ok_or(AddrParseError::Cidr)?;
        let addr: Ipv4Addr = addr.trim().parse().map_err(|_| AddrParseError::Cidr)?;
        let len: u32 = len.trim().parse().map_err(|_| AddrParseError::Cidr)?;
        if len > 32 {
            return Err(AddrParseError::PrefixLen(len));
        }
        Ok(Ipv4Cidr {
            addr,
            prefix_len: len as u8,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parse_and_display_round_trip() {
        let mac: MacAddr = "02:00:5E:10:00:01".parse().unwrap();
        assert_eq!(mac.0, [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01]);
        assert_eq!(mac.to_string(), "02:00:5e:10:00:01");
        assert_eq!("02-00-5e-10-00-01".parse::<MacAddr>().unwrap(), mac);
        for bad in [
            "",
            "02:00:5e:10:00",
            "02:00:5e:10:00:01:02",
            "2:00:5e:10:00:01",
            "zz:00:5e:10:00:01",
        ] {
            assert_eq!(bad.parse::<MacAddr>(), Err(AddrParseError::Mac), "{bad}");
        }
    }

    #[test]
    fn stable_local_mac_is_unicast_local_and_deterministic() {
        let a = MacAddr::stable_local(b"198.18.0.1:55555|10.98.0.2");
        assert_eq!(a, MacAddr::stable_local(b"198.18.0.1:55555|10.98.0.2"));
        assert_ne!(a, MacAddr::stable_local(b"198.18.0.1:55555|10.98.0.3"));
        assert!(a.is_unicast());
        assert_eq!(a.0[0] & 0x03, 0x02, "locally administered, individual");
        // Pinned so a change of the derivation (which would change users' MACs) is noticed.
        assert_eq!(MacAddr::stable_local(b"").to_string(), "ca:f2:9c:e4:84:22");
    }

    #[test]
    fn ipv4_multicast_mac_uses_low_23_bits() {
        let mac = MacAddr::ipv4_multicast(Ipv4Addr::new(239, 255, 1, 2));
        assert_eq!(mac.0, [0x01, 0x00, 0x5e, 0x7f, 0x01, 0x02]);
        let mac = MacAddr::ipv4_multicast(Ipv4Addr::new(224, 128, 0, 251));
        assert_eq!(mac.0, [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb]);
        assert!(mac.is_multicast());
    }

    #[test]
    fn cidr_math() {
        let c: Ipv4Cidr = "10.98.0.2/24".parse().unwrap();
        assert_eq!(c.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(c.network(), Ipv4Addr::new(10, 98, 0, 0));
        assert_eq!(c.broadcast(), Ipv4Addr::new(10, 98, 0, 255));
        assert_eq!(c.trunc().to_string(), "10.98.0.0/24");
        assert!(c.contains(Ipv4Addr::new(10, 98, 0, 200)));
        assert!(!c.contains(Ipv4Addr::new(10, 98, 1, 1)));
        let all: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(Ipv4Addr::new(8, 8, 8, 8)));
        assert_eq!(all.netmask(), Ipv4Addr::UNSPECIFIED);
        let host: Ipv4Cidr = "10.1.2.3/32".parse().unwrap();
        assert!(host.contains(Ipv4Addr::new(10, 1, 2, 3)));
        assert!(!host.contains(Ipv4Addr::new(10, 1, 2, 4)));
        assert_eq!(
            "10.0.0.1/33".parse::<Ipv4Cidr>(),
            Err(AddrParseError::PrefixLen(33))
        );
        assert_eq!("10.0.0.1".parse::<Ipv4Cidr>(), Err(AddrParseError::Cidr));
    }
}
