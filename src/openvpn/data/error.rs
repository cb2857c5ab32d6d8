//! Data-channel errors, sorted by blame, and the reaction each one calls for.

use std::fmt;

use super::replay::ReplayError;

/// A compression algorithm this client recognises on the wire but does not implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressionAlgorithm {
    /// LZO1X (`comp-lzo`, `compress lzo`).
    Lzo,
    /// LZ4 (`compress lz4`, `compress lz4-v2`).
    Lz4,
}

impl fmt::Display for CompressionAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompressionAlgorithm::Lzo => "LZO",
            CompressionAlgorithm::Lz4 => "LZ4",
        })
    }
}

/// Everything that can go wrong with one data packet, or with installing keys.
///
/// None of these is fatal to the connection by itself; see [`DataError::kind`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    // --- malformed input ---
    /// The packet (or its plaintext) is shorter than its layout requires.
    #[error("data packet too short: {len} bytes, need at least {min}")]
    TooShort {
        /// Bytes present.
        len: usize,
        /// Bytes required.
        min: usize,
    },
    /// Byte 0 does not carry a data opcode (the caller routed a control packet here).
    #[error("not a data-channel packet (first byte {0:#04x})")]
    NotData(u8),
    /// The plaintext's compression framing byte does not fit the negotiated compression.
    #[error("unexpected compression framing byte {0:#04x} for the negotiated compression")]
    BadCompressionByte(u8),
    /// An OCC message without its type byte.
    #[error("OCC message without a type byte")]
    TruncatedOcc,
    /// A CBC packet whose ciphertext is not a whole number of 16-byte blocks.
    #[error(
        "CBC data packet of {len} bytes: the ciphertext is not a whole number of 16-byte blocks"
    )]
    Misaligned {
        /// Bytes of the whole packet.
        len: usize,
    },

    // --- peer misbehaved, or an attack ---
    /// The AEAD tag did not verify: corrupted, forged, or keyed differently.
    #[error("data packet for key_id {key_id} failed authentication")]
    AuthFailed {
        /// The packet's key_id.
        key_id: u8,
    },
    /// A CBC packet passed its HMAC check but its padding is invalid (or leaves no packet-id):
    /// the server's own encryption is broken, or its `auth` key is ours but not its cipher key.
    #[error("data packet for key_id {key_id} authenticated but its CBC padding is invalid")]
    BadPadding {
        /// The packet's key_id.
        key_id: u8,
    },
    /// The packet authenticated but its packet-id was refused.
    #[error("data packet for key_id {key_id} refused: {reason}")]
    Replay {
        /// The packet's key_id.
        key_id: u8,
        /// Why.
        #[source]
        reason: ReplayError,
    },

    // --- expected, drop quietly ---
    /// No key is installed under the packet's key_id (data may precede our keys, §6.5).
    #[error("no data key for key_id {0}")]
    NoKey(u8),

    // --- peer incompatible ---
    /// The server really compressed a payload.
    #[error(
        "the server sent data compressed with {0}, which this client does not support; \
         the server must not compress (e.g. `allow-compression no`, or no `comp-lzo`/`compress` \
         algorithm)"
    )]
    UnsupportedCompression(CompressionAlgorithm),

    // --- local: the caller must act ---
    /// Nothing to encrypt with yet: no key installed.
    #[error("no data key installed to encrypt with")]
    NoSendKey,
    /// The send key used up its packet-ids; a renegotiation (or reconnect) is needed.
    #[error("packet-ids of data key_id {0} are used up; renegotiate before sending more")]
    PacketIdExhausted(u8),
    /// The output buffer cannot hold the packet.
    #[error("output buffer too small for a data packet: need {need} bytes, have {have}")]
    BufferTooSmall {
        /// Bytes required.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// The operating system's random generator failed to give a CBC IV.
    #[error("the system random generator failed; cannot pick an IV for a CBC data packet")]
    RandomFailed,
    /// The AEAD refused to encrypt a payload this large.
    #[error("data payload of {0} bytes is too large to encrypt")]
    PayloadTooLarge(usize),
    /// A key_id outside 0..=7 was given to `install`.
    #[error("invalid key_id {0}: must be 0..=7")]
    InvalidKeyId(u8),
    /// A peer-id above 0xFFFFFF was configured.
    #[error("invalid peer-id {0:#x}: must be at most 0xFFFFFF")]
    InvalidPeerId(u32),
}

/// Who is to blame for a [`DataError`], which decides the reaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Garbage on the wire: drop the packet and count it.
    Malformed,
    /// Failed authentication or replay: drop the packet and count it (never reset on it).
    PeerMisbehaved,
    /// Normal during key changes: drop the packet without logging.
    Quiet,
    /// The server uses a feature this client lacks: drop, and tell the user (once) what to change.
    Incompatible,
    /// The caller must act: renegotiate, install keys, or size its buffer.
    Local,
}

impl DataError {
    /// The blame class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DataError::TooShort { .. }
            | DataError::NotData(_)
            | DataError::BadCompressionByte(_)
            | DataError::TruncatedOcc
            | DataError::Misaligned { .. } => ErrorKind::Malformed,
            DataError::AuthFailed { .. }
            | DataError::BadPadding { .. }
            | DataError::Replay { .. } => ErrorKind::PeerMisbehaved,
            DataError::NoKey(_) => ErrorKind::Quiet,
            DataError::UnsupportedCompression(_) => ErrorKind::Incompatible,
            DataError::NoSendKey
            | DataError::PacketIdExhausted(_)
            | DataError::BufferTooSmall { .. }
            | DataError::PayloadTooLarge(_)
            | DataError::RandomFailed
            | DataError::InvalidKeyId(_)
            | DataError::InvalidPeerId(_) => ErrorKind::Local,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_problem() {
        let lzo = DataError::UnsupportedCompression(CompressionAlgorithm::Lzo).to_string();
        assert!(lzo.contains("compressed with LZO, which this client does not support"));
        let replay = DataError::Replay {
            key_id: 1,
            reason: ReplayError::Duplicate(5),
        };
        assert_eq!(replay.kind(), ErrorKind::PeerMisbehaved);
        assert!(std::error::Error::source(&replay).is_some());
        assert_eq!(DataError::NoKey(3).kind(), ErrorKind::Quiet);
        assert_eq!(DataError::PacketIdExhausted(0).kind(), ErrorKind::Local);
        assert_eq!(
            DataError::TooShort { len: 1, min: 2 }.kind(),
            ErrorKind::Malformed
        );
        assert_eq!(
            DataError::Misaligned { len: 61 }.kind(),
            ErrorKind::Malformed
        );
        assert_eq!(
            DataError::BadPadding { key_id: 0 }.kind(),
            ErrorKind::PeerMisbehaved
        );
        assert_eq!(DataError::RandomFailed.kind(), ErrorKind::Local);
    }
}
