//! [`DataChannel`]: key slots, header, packet-ids, compression framing and payload kinds put
//! together behind two calls, `encrypt_*` and `decrypt_in_place`.

use std::time::{Duration, Instant};

use super::cipher::{CryptoFailure, DataCipher, KeyMaterial, MAX_CRYPTO_OVERHEAD, PACKET_ID_LEN};
use super::compress::Compression;
use super::error::DataError;
use super::header::{DataHeader, MAX_PEER_ID};
use super::keys::KeySlots;
use super::payload::{Decrypted, OccKind, OCC_MAGIC, PING_MAGIC};
use crate::openvpn::wrap::AuthDigest;

/// How long the previous key stays usable for receiving after a new one is installed
/// (`transition-window`, default 3600 s).
pub const TRANSITION_WINDOW: Duration = Duration::from_secs(3600);

/// An upper bound of [`DataChannel::overhead`] for every configuration: a 4-byte header, the
/// heaviest cipher (AES-CBC with HMAC-SHA512: HMAC 64, IV 16, packet-id 4, padding up to 16)
/// and 2 bytes of compression framing.
pub const MAX_OVERHEAD: usize = 4 + MAX_CRYPTO_OVERHEAD + 2;

/// What the data channel needs from the pushed options; constant for one connection
/// (renegotiations change keys only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataConfig {
    /// The negotiated compression framing.
    pub compression: Compression,
    /// The pushed `peer-id`: `Some` selects `P_DATA_V2`, `None` `P_DATA_V1`.
    pub peer_id: Option<u32>,
    /// How long a replaced key keeps decrypting (see [`TRANSITION_WINDOW`]).
    pub transition_window: Duration,
    /// The HMAC digest of the CBC ciphers (OpenVPN's `auth`, not negotiated; default SHA1).
    /// The AEAD ciphers ignore it.
    pub auth: AuthDigest,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            compression: Compression::None,
            peer_id: None,
            transition_window: TRANSITION_WINDOW,
            auth: AuthDigest::Sha1,
        }
    }
}

/// The data channel of one connection: see the module documentation for the calling contract.
#[derive(Debug)]
pub struct DataChannel {
    slots: KeySlots,
    header: DataHeader,
    compression: Compression,
    transition_window: Duration,
    auth: AuthDigest,
}

impl DataChannel {
    /// A data channel without keys. Fails only for a peer-id above `0xFFFFFF`.
    pub fn new(config: DataConfig) -> Result<Self, DataError> {
        if let Some(peer_id) = config.peer_id.filter(|&id| id > MAX_PEER_ID) {
            return Err(DataError::InvalidPeerId(peer_id));
        }
        Ok(DataChannel {
            slots: KeySlots::default(),
            header: DataHeader::for_peer_id(config.peer_id),
            compression: config.compression,
            transition_window: config.transition_window,
            auth: config.auth,
        })
    }

    /// Installs the keys of generation `key_id` (0..=7) and sends with them from now on. The
    /// previous key keeps decrypting until `now + transition_window` (the lame duck). A CBC
    /// `cipher` authenticates with the configured `auth` digest.
    pub fn install(
        &mut self,
        key_id: u8,
        cipher: DataCipher,
        keys: &KeyMaterial<'_>,
        now: Instant,
    ) -> Result<(), DataError> {
        let until = now.checked_add(self.transition_window).unwrap_or(now);
        self.slots.install(key_id, cipher, self.auth, keys, until)
    }

    /// Drops the lame duck if it expired at `now`.
    pub fn expire(&mut self, now: Instant) {
        self.slots.expire(now);
    }

    /// When [`expire`](Self::expire) has work to do next, if ever.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.slots.next_expiry()
    }

    /// The key_id and cipher packets are sent with, once keys are installed.
    pub fn current_key(&self) -> Option<(u8, DataCipher)> {
        self.slots.current()
    }

    /// The key_id of the previous key while it still decrypts (the lame duck).
    pub fn lame_duck_key_id(&self) -> Option<u8> {
        self.slots.lame_duck_key_id()
    }

    /// True once the current key sent a packet-id at or past `0xFF000000`: renegotiate.
    pub fn wants_rekey(&self) -> bool {
        self.slots
            .sender_ref()
            .is_some_and(|sender| sender.packet_ids.wants_rekey())
    }

    /// The most bytes an `encrypt_*` call adds to its payload in this configuration (with no
    /// key yet: the most any cipher would add with the configured `auth`).
    pub fn overhead(&self) -> usize {
        let crypto = self.slots.sender_ref().map_or_else(
            || {
                DataCipher::ALL
                    .into_iter()
                    .map(|cipher| cipher.max_overhead(self.auth))
                    .max()
                    .unwrap_or(MAX_CRYPTO_OVERHEAD)
            },
            |sender| sender.key.max_overhead(),
        );
        self.header.wire_len() + crypto + self.compression.max_overhead()
    }

    /// Encrypts one Ethernet frame into `out[..n]` and returns `n`. `out` needs
    /// `frame.len() + overhead()` bytes.
    pub fn encrypt_frame(&mut self, frame: &[u8], out: &mut [u8]) -> Result<usize, DataError> {
        self.seal_parts(&[frame], out)
    }

    /// Encrypts a keepalive ping into `out[..n]` (at most `16 + overhead()` bytes).
    pub fn encrypt_ping(&mut self, out: &mut [u8]) -> Result<usize, DataError> {
        self.seal_parts(&[&PING_MAGIC], out)
    }

    /// Encrypts an OCC message (`magic | kind | body`) into `out[..n]`.
    pub fn encrypt_occ(
        &mut self,
        kind: OccKind,
        body: &[u8],
        out: &mut [u8],
    ) -> Result<usize, DataError> {
        self.seal_parts(&[&OCC_MAGIC, &[kind.to_byte()], body], out)
    }

    /// Authenticates, decrypts and unframes one received data packet (without the TCP length
    /// prefix) inside its own buffer, and says what it carried.
    pub fn decrypt_in_place<'a>(
        &mut self,
        packet: &'a mut [u8],
        now: Instant,
    ) -> Result<Decrypted<'a>, DataError> {
        let &byte0 = packet
            .first()
            .ok_or(DataError::TooShort { len: 0, min: 1 })?;
        let (header, key_id) =
            DataHeader::parse_first_byte(byte0).ok_or(DataError::NotData(byte0))?;
        let receiver = self
            .slots
            .receiver(key_id, now)
            .ok_or(DataError::NoKey(key_id))?;
        let min = header.wire_len() + receiver.key.min_sealed_len();
        let len = packet.len();
        if len < min {
            return Err(DataError::TooShort { len, min });
        }
        let (packet_id, plain) = receiver
            .key
            .open(packet, header.wire_len(), header.aad_start())
            .map_err(|failure| match failure {
                CryptoFailure::Misaligned => DataError::Misaligned { len },
                CryptoFailure::BadPadding => DataError::BadPadding { key_id },
                CryptoFailure::Length => DataError::TooShort { len, min },
                CryptoFailure::Auth | CryptoFailure::Random => DataError::AuthFailed { key_id },
            })?;
        receiver
            .replay
            .accept(packet_id, now)
            .map_err(|reason| DataError::Replay { key_id, reason })?;
        let payload = self.compression.unframe(plain)?;
        Decrypted::classify(payload)
    }

    /// Seals `parts` (framed by the compression) with the current key into `out`: header,
    /// packet-id and payload are written where the cipher wants them, then sealed in place.
    fn seal_parts(&mut self, parts: &[&[u8]], out: &mut [u8]) -> Result<usize, DataError> {
        let sender = self.slots.sender().ok_or(DataError::NoSendKey)?;
        let hdr_len = self.header.wire_len();
        let framed_len = self.compression.framed_len(parts);
        let total = hdr_len.saturating_add(sender.key.sealed_len(framed_len));
        if out.len() < total {
            return Err(DataError::BufferTooSmall {
                need: total,
                have: out.len(),
            });
        }
        let packet_id = sender
            .packet_ids
            .take()
            .ok_or(DataError::PacketIdExhausted(sender.key_id))?;
        let packet = &mut out[..total];
        self.header.write(sender.key_id, packet);
        let id_at = hdr_len + sender.key.packet_id_at();
        packet[id_at..id_at + PACKET_ID_LEN].copy_from_slice(&packet_id.to_be_bytes());
        self.compression
            .frame_into(parts, &mut packet[hdr_len + sender.key.payload_at()..]);
        sender
            .key
            .seal(packet, hdr_len, self.header.aad_start(), framed_len)
            .map_err(|failure| match failure {
                CryptoFailure::Random => DataError::RandomFailed,
                _ => DataError::PayloadTooLarge(framed_len),
            })?;
        Ok(total)
    }

    /// Test hook: the current key's next send packet-id.
    #[cfg(test)]
    pub(crate) fn set_next_packet_id(&mut self, next: u32) {
        if let Some(sender) = self.slots.sender() {
            sender.packet_ids.set_next(next);
        }
    }
}
