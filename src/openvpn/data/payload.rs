//! What a decrypted data-channel payload is (§8, `ping.c`, `occ.c`): an Ethernet frame, a
//! keepalive ping, or an OCC message. Pings and OCC must never reach the Ethernet layer.

use super::error::DataError;

/// The keepalive ping payload (exactly these 16 bytes).
pub const PING_MAGIC: [u8; 16] = [
    0x2a, 0x18, 0x7b, 0xf3, 0x64, 0x1e, 0xb4, 0xcb, 0x07, 0xed, 0x2d, 0x0a, 0x98, 0x1f, 0xc7, 0x48,
];

/// The prefix of every OCC message; a type byte and a type-specific body follow.
pub const OCC_MAGIC: [u8; 16] = [
    0x28, 0x7f, 0x34, 0x6b, 0xd4, 0xef, 0x7a, 0x81, 0x2d, 0x56, 0xb8, 0xd3, 0xaf, 0xc5, 0x45, 0x9c,
];

/// The OCC message type (the byte after [`OCC_MAGIC`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OccKind {
    /// 0: asks for our options string.
    Request,
    /// 1: an options string (NUL-terminated) follows.
    Reply,
    /// 2: MTU load request (u16 size follows).
    MtuLoadRequest,
    /// 3: MTU load (filler follows).
    MtuLoad,
    /// 4: MTU request.
    MtuRequest,
    /// 5: MTU reply (u16 max-recv, u16 max-send follow).
    MtuReply,
    /// 6: the peer is exiting; treat like a restart.
    Exit,
    /// A type this client does not know, kept as is.
    Unknown(u8),
}

impl OccKind {
    /// The type byte's meaning.
    pub fn from_byte(byte: u8) -> Self {
        match byte {
            0 => OccKind::Request,
            1 => OccKind::Reply,
            2 => OccKind::MtuLoadRequest,
            3 => OccKind::MtuLoad,
            4 => OccKind::MtuRequest,
            5 => OccKind::MtuReply,
            6 => OccKind::Exit,
            other => OccKind::Unknown(other),
        }
    }

    /// The type byte on the wire.
    pub fn to_byte(self) -> u8 {
        match self {
            OccKind::Request => 0,
            OccKind::Reply => 1,
            OccKind::MtuLoadRequest => 2,
            OccKind::MtuLoad => 3,
            OccKind::MtuRequest => 4,
            OccKind::MtuReply => 5,
            OccKind::Exit => 6,
            OccKind::Unknown(other) => other,
        }
    }
}

/// An authenticated, decrypted and unframed data-channel payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decrypted<'a> {
    /// An Ethernet frame for the Ethernet layer.
    Frame(&'a [u8]),
    /// A keepalive ping: drop it (it already proved the server alive).
    Ping,
    /// An OCC message.
    Occ {
        /// Its type.
        kind: OccKind,
        /// What follows the type byte.
        body: &'a [u8],
    },
}

impl<'a> Decrypted<'a> {
    /// Classifies an unframed payload.
    pub fn classify(payload: &'a [u8]) -> Result<Self, DataError> {
        if payload == PING_MAGIC {
            return Ok(Decrypted::Ping);
        }
        match payload.strip_prefix(&OCC_MAGIC) {
            Some([kind, body @ ..]) => Ok(Decrypted::Occ {
                kind: OccKind::from_byte(*kind),
                body,
            }),
            Some([]) => Err(DataError::TruncatedOcc),
            None => Ok(Decrypted::Frame(payload)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_ping_occ_and_frames() {
        assert_eq!(Decrypted::classify(&PING_MAGIC), Ok(Decrypted::Ping));
        let mut longer_ping = PING_MAGIC.to_vec();
        longer_ping.push(0);
        assert_eq!(
            Decrypted::classify(&longer_ping),
            Ok(Decrypted::Frame(&longer_ping))
        );
        let mut occ = OCC_MAGIC.to_vec();
        occ.extend_from_slice(&[1, b'V', b'4', 0]);
        assert_eq!(
            Decrypted::classify(&occ),
            Ok(Decrypted::Occ {
                kind: OccKind::Reply,
                body: b"V4\0"
            })
        );
        assert_eq!(
            Decrypted::classify(&OCC_MAGIC),
            Err(DataError::TruncatedOcc)
        );
        assert_eq!(Decrypted::classify(&[]), Ok(Decrypted::Frame(&[])));
    }

    #[test]
    fn occ_kinds_round_trip() {
        for byte in 0..=u8::MAX {
            assert_eq!(OccKind::from_byte(byte).to_byte(), byte);
        }
        assert_eq!(OccKind::from_byte(6), OccKind::Exit);
        assert_eq!(OccKind::from_byte(7), OccKind::Unknown(7));
    }
}
