//! Data-channel packet headers (§6.1): `P_DATA_V1` (1 byte) and `P_DATA_V2` (4 bytes).
//!
//! Byte 0 is `opcode << 3 | key_id` (`ssl_pkt.h`); `P_DATA_V2` adds the sender's peer-id as a
//! 24-bit big-endian number. Received peer-ids are ignored (the server writes our own).

/// Opcode of `P_DATA_V1`.
pub const OPCODE_DATA_V1: u8 = 6;
/// Opcode of `P_DATA_V2`.
pub const OPCODE_DATA_V2: u8 = 9;
/// Largest peer-id (`MAX_PEER_ID` in `openvpn.h`; the value itself means "unset").
pub const MAX_PEER_ID: u32 = 0x00FF_FFFF;
/// Largest key_id (3 bits).
pub const MAX_KEY_ID: u8 = 7;

/// Which data header a packet carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataHeader {
    /// `[0x30 | key_id]`: the opcode byte is not authenticated.
    V1,
    /// `[0x48 | key_id][peer-id u24]`: all four bytes are part of the AEAD's associated data.
    V2 {
        /// The peer-id written on send (received ones are not checked).
        peer_id: u32,
    },
}

impl DataHeader {
    /// The header to send: V2 with the pushed peer-id, V1 without one.
    pub fn for_peer_id(peer_id: Option<u32>) -> Self {
        match peer_id {
            Some(peer_id) => DataHeader::V2 { peer_id },
            None => DataHeader::V1,
        }
    }

    /// Parses byte 0 of a received packet: the header kind and the key_id, or `None` if the
    /// opcode is not a data opcode.
    pub fn parse_first_byte(byte0: u8) -> Option<(Self, u8)> {
        let key_id = byte0 & MAX_KEY_ID;
        match byte0 >> 3 {
            OPCODE_DATA_V1 => Some((DataHeader::V1, key_id)),
            OPCODE_DATA_V2 => Some((DataHeader::V2 { peer_id: 0 }, key_id)),
            _ => None,
        }
    }

    /// Header length on the wire: 1 or 4.
    pub fn wire_len(self) -> usize {
        match self {
            DataHeader::V1 => 1,
            DataHeader::V2 { .. } => 4,
        }
    }

    /// Where the associated data starts: V2 authenticates its header, V1 only the packet-id.
    pub fn aad_start(self) -> usize {
        match self {
            DataHeader::V1 => 1,
            DataHeader::V2 { .. } => 0,
        }
    }

    /// Writes the header for `key_id` into `out[..self.wire_len()]`; `out` must be long enough.
    pub fn write(self, key_id: u8, out: &mut [u8]) {
        let key_id = key_id & MAX_KEY_ID;
        match self {
            DataHeader::V1 => out[0] = OPCODE_DATA_V1 << 3 | key_id,
            DataHeader::V2 { peer_id } => {
                let [_, a, b, c] = (peer_id & MAX_PEER_ID).to_be_bytes();
                out[..4].copy_from_slice(&[OPCODE_DATA_V2 << 3 | key_id, a, b, c]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_v1_and_v2() {
        let mut buf = [0u8; 4];
        DataHeader::V1.write(0, &mut buf);
        assert_eq!(buf[0], 0x30);
        DataHeader::V1.write(5, &mut buf);
        assert_eq!(buf[0], 0x35);
        DataHeader::V2 { peer_id: 0 }.write(1, &mut buf);
        assert_eq!(buf, [0x49, 0, 0, 0]);
        DataHeader::V2 { peer_id: 0x0A0B0C }.write(7, &mut buf);
        assert_eq!(buf, [0x4F, 0x0A, 0x0B, 0x0C]);
    }

    #[test]
    fn parses_first_byte() {
        assert_eq!(
            DataHeader::parse_first_byte(0x30),
            Some((DataHeader::V1, 0))
        );
        assert_eq!(
            DataHeader::parse_first_byte(0x4A),
            Some((DataHeader::V2 { peer_id: 0 }, 2))
        );
        // P_CONTROL_V1 (4), P_ACK_V1 (5) and garbage are not data.
        for byte0 in [0x20, 0x28, 0x38, 0x00, 0xFF] {
            assert_eq!(DataHeader::parse_first_byte(byte0), None);
        }
    }

    #[test]
    fn peer_id_selects_the_header() {
        assert_eq!(DataHeader::for_peer_id(None), DataHeader::V1);
        assert_eq!(DataHeader::for_peer_id(Some(3)).wire_len(), 4);
        assert_eq!(DataHeader::V1.aad_start(), 1);
        assert_eq!(DataHeader::V2 { peer_id: 0 }.aad_start(), 0);
    }
}
