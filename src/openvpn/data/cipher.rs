//! Data-channel ciphers: the AEAD ones (§6.2: AES-128-GCM, AES-256-GCM, CHACHA20-POLY1305 via
//! `ring`) and the legacy CBC+HMAC ones (§6.3, in [`super::cbc`]), behind one [`PacketKey`].
//!
//! AEAD packet layout (`crypto.c`): `| header | packet-id u32 | tag 16 | ciphertext |`. The
//! tag sits *before* the ciphertext; `ring` takes it separately, so nothing is moved. The
//! nonce is the packet-id as on the wire followed by the 8-byte implicit IV (the first bytes
//! of the direction's HMAC half of the key block, §5.3); the associated data is the header and
//! the packet-id for `P_DATA_V2`, the packet-id alone for `P_DATA_V1`.
//!
//! CBC packet layout: `| header | HMAC | IV 16 | CBC(packet-id u32 || payload || padding) |`, so
//! where the packet-id and the payload go, and how long a sealed packet is, depend on the key:
//! [`PacketKey::packet_id_at`], [`PacketKey::payload_at`], [`PacketKey::sealed_len`].

use std::fmt;

use ring::aead::{self, Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use zeroize::Zeroize;

use super::cbc::{CbcKey, BLOCK_LEN, IV_LEN, MAX_HMAC_LEN};
use crate::openvpn::wrap::AuthDigest;

/// Bytes of the data packet-id.
pub const PACKET_ID_LEN: usize = 4;
/// Bytes of an AEAD tag (`OPENVPN_AEAD_TAG_LENGTH`).
pub const TAG_LEN: usize = 16;
/// Bytes of the implicit IV (nonce length 12 minus the packet-id).
pub const IMPLICIT_IV_LEN: usize = 8;
/// Bytes of each half (cipher, HMAC) of one direction's key material (§5.3).
pub const KEY_HALF_LEN: usize = 64;
/// The most bytes any [`PacketKey`] adds between header and payload end: CBC with SHA512 (HMAC,
/// IV, packet-id and a full block of padding).
pub const MAX_CRYPTO_OVERHEAD: usize = MAX_HMAC_LEN + IV_LEN + PACKET_ID_LEN + BLOCK_LEN;

/// A data-channel cipher the server can push (`cipher` / negotiated from `data-ciphers`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataCipher {
    /// `AES-128-GCM`.
    Aes128Gcm,
    /// `AES-256-GCM`.
    Aes256Gcm,
    /// `CHACHA20-POLY1305`.
    ChaCha20Poly1305,
    /// `AES-128-CBC` with an HMAC (`auth`): legacy servers only.
    Aes128Cbc,
    /// `AES-256-CBC` with an HMAC (`auth`): legacy servers only.
    Aes256Cbc,
}

impl DataCipher {
    /// Every supported cipher: the AEAD ones in the order stock 2.6 advertises them
    /// ([`DataCipher::DEFAULT`]), then the legacy CBC ones.
    pub const ALL: [DataCipher; 5] = [
        DataCipher::Aes256Gcm,
        DataCipher::Aes128Gcm,
        DataCipher::ChaCha20Poly1305,
        DataCipher::Aes256Cbc,
        DataCipher::Aes128Cbc,
    ];

    /// What a stock 2.6 client offers by default (`IV_CIPHERS`): the AEAD ciphers only.
    pub const DEFAULT: [DataCipher; 3] = [
        DataCipher::Aes256Gcm,
        DataCipher::Aes128Gcm,
        DataCipher::ChaCha20Poly1305,
    ];

    /// The OpenVPN name, as in `data-ciphers` and `IV_CIPHERS`.
    pub fn name(self) -> &'static str {
        match self {
            DataCipher::Aes128Gcm => "AES-128-GCM",
            DataCipher::Aes256Gcm => "AES-256-GCM",
            DataCipher::ChaCha20Poly1305 => "CHACHA20-POLY1305",
            DataCipher::Aes128Cbc => "AES-128-CBC",
            DataCipher::Aes256Cbc => "AES-256-CBC",
        }
    }

    /// Parses an OpenVPN cipher name (case-insensitive); `None` if unsupported.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|cipher| cipher.name().eq_ignore_ascii_case(name))
    }

    /// Bytes of the cipher key taken from the direction's cipher half.
    pub fn key_len(self) -> usize {
        match self {
            DataCipher::Aes128Gcm | DataCipher::Aes128Cbc => 16,
            DataCipher::Aes256Gcm | DataCipher::ChaCha20Poly1305 | DataCipher::Aes256Cbc => 32,
        }
    }

    /// True for the AEAD ciphers; false for CBC, which needs an HMAC digest (`auth`).
    pub fn is_aead(self) -> bool {
        self.aead_algorithm().is_some()
    }

    /// The most bytes the cipher puts around a payload (after the header), with `auth` as the
    /// HMAC digest of the CBC ciphers (ignored by the AEAD ones).
    pub fn max_overhead(self, auth: AuthDigest) -> usize {
        if self.is_aead() {
            PACKET_ID_LEN + TAG_LEN
        } else {
            auth.tag_len() + IV_LEN + PACKET_ID_LEN + BLOCK_LEN
        }
    }

    fn aead_algorithm(self) -> Option<&'static aead::Algorithm> {
        match self {
            DataCipher::Aes128Gcm => Some(&aead::AES_128_GCM),
            DataCipher::Aes256Gcm => Some(&aead::AES_256_GCM),
            DataCipher::ChaCha20Poly1305 => Some(&aead::CHACHA20_POLY1305),
            DataCipher::Aes128Cbc | DataCipher::Aes256Cbc => None,
        }
    }
}

impl fmt::Display for DataCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One direction's key material, borrowed from the key block (§5.3); the owner zeroizes it.
#[derive(Clone, Copy)]
pub struct DirectionSecret<'a> {
    /// The cipher half: the cipher key is its first [`DataCipher::key_len`] bytes.
    pub cipher: &'a [u8; KEY_HALF_LEN],
    /// The HMAC half: for AEAD ciphers its first 8 bytes are the implicit IV.
    pub hmac: &'a [u8; KEY_HALF_LEN],
}

impl fmt::Debug for DirectionSecret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DirectionSecret(<redacted>)")
    }
}

/// The client's two directions of one key generation.
#[derive(Clone, Copy, Debug)]
pub struct KeyMaterial<'a> {
    /// Client → server (`key[0]`, bytes 0..128 of the key block).
    pub encrypt: DirectionSecret<'a>,
    /// Server → client (`key[1]`, bytes 128..256 of the key block).
    pub decrypt: DirectionSecret<'a>,
}

impl<'a> KeyMaterial<'a> {
    /// Slices a 256-byte key block the way a client uses it (§5.3).
    pub fn from_key_block(block: &'a [u8; 4 * KEY_HALF_LEN]) -> Self {
        let quarter = |i: usize| -> &'a [u8; KEY_HALF_LEN] {
            <&[u8; KEY_HALF_LEN]>::try_from(&block[i * KEY_HALF_LEN..(i + 1) * KEY_HALF_LEN])
                .expect("a quarter of 256 bytes is 64 bytes")
        };
        KeyMaterial {
            encrypt: DirectionSecret {
                cipher: quarter(0),
                hmac: quarter(1),
            },
            decrypt: DirectionSecret {
                cipher: quarter(2),
                hmac: quarter(3),
            },
        }
    }
}

/// Why a packet could not be sealed or opened; the channel turns it into a [`super::DataError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CryptoFailure {
    /// The AEAD tag or the HMAC did not verify (or the AEAD refused to seal).
    Auth,
    /// The buffer does not fit the layout (too short, or not the length sealing needs).
    Length,
    /// CBC: the ciphertext is not a whole number of blocks.
    Misaligned,
    /// CBC: authenticated, but the padding is invalid or leaves no room for the packet-id.
    BadPadding,
    /// The system's random generator gave no IV.
    Random,
}

/// One direction's packet protection.
// Four of these exist per connection (two directions, current key and lame duck): the size
// difference between the variants costs nothing worth a pointer chase per packet.
#[allow(clippy::large_enum_variant)]
pub enum PacketKey {
    /// AES-GCM or ChaCha20-Poly1305.
    Aead(AeadKey),
    /// AES-CBC with an HMAC.
    Cbc(CbcKey),
}

impl PacketKey {
    /// Keys `cipher` with one direction's material; `auth` is the HMAC digest of the CBC
    /// ciphers (the AEAD ones ignore it).
    pub fn new(cipher: DataCipher, auth: AuthDigest, secret: &DirectionSecret<'_>) -> Self {
        let aead = |algorithm| PacketKey::Aead(AeadKey::new(algorithm, secret));
        match cipher {
            DataCipher::Aes128Gcm => aead(&aead::AES_128_GCM),
            DataCipher::Aes256Gcm => aead(&aead::AES_256_GCM),
            DataCipher::ChaCha20Poly1305 => aead(&aead::CHACHA20_POLY1305),
            DataCipher::Aes128Cbc => PacketKey::Cbc(CbcKey::aes128(auth, secret)),
            DataCipher::Aes256Cbc => PacketKey::Cbc(CbcKey::aes256(auth, secret)),
        }
    }

    /// The most bytes sealing adds between the header and the end of the payload.
    pub fn max_overhead(&self) -> usize {
        match self {
            PacketKey::Aead(_) => PACKET_ID_LEN + TAG_LEN,
            PacketKey::Cbc(key) => key.max_overhead(),
        }
    }

    /// The shortest packet after the header that can be well formed.
    pub fn min_sealed_len(&self) -> usize {
        match self {
            PacketKey::Aead(_) => PACKET_ID_LEN + TAG_LEN,
            PacketKey::Cbc(key) => key.min_sealed_len(),
        }
    }

    /// Where the packet-id goes, counted from the end of the header.
    pub fn packet_id_at(&self) -> usize {
        match self {
            PacketKey::Aead(_) => 0,
            PacketKey::Cbc(key) => key.packet_id_at(),
        }
    }

    /// Where the payload goes, counted from the end of the header.
    pub fn payload_at(&self) -> usize {
        self.packet_id_at() + PACKET_ID_LEN + if self.is_aead() { TAG_LEN } else { 0 }
    }

    /// Bytes after the header of a sealed packet with `payload_len` bytes of payload.
    pub fn sealed_len(&self, payload_len: usize) -> usize {
        match self {
            PacketKey::Aead(_) => payload_len.saturating_add(PACKET_ID_LEN + TAG_LEN),
            PacketKey::Cbc(key) => key.sealed_len(payload_len),
        }
    }

    fn is_aead(&self) -> bool {
        matches!(self, PacketKey::Aead(_))
    }

    /// Protects `packet`, exactly `hdr_len + sealed_len(payload_len)` bytes, whose header,
    /// packet-id (at [`packet_id_at`](Self::packet_id_at)) and payload (at
    /// [`payload_at`](Self::payload_at), `payload_len` bytes) are already written. AEAD: the
    /// associated data starts at `aad_start`. CBC: a fresh random IV is drawn.
    pub fn seal(
        &self,
        packet: &mut [u8],
        hdr_len: usize,
        aad_start: usize,
        payload_len: usize,
    ) -> Result<(), CryptoFailure> {
        match self {
            PacketKey::Aead(key) => key.seal(packet, hdr_len, aad_start),
            PacketKey::Cbc(key) => key.seal(packet, hdr_len, payload_len),
        }
    }

    /// Verifies and decrypts `packet` in place; returns the packet-id and the plaintext.
    pub fn open<'a>(
        &self,
        packet: &'a mut [u8],
        hdr_len: usize,
        aad_start: usize,
    ) -> Result<(u32, &'a mut [u8]), CryptoFailure> {
        match self {
            PacketKey::Aead(key) => key.open(packet, hdr_len, aad_start),
            PacketKey::Cbc(key) => key.open(packet, hdr_len),
        }
    }
}

impl fmt::Debug for PacketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PacketKey::Aead(key) => write!(f, "Aead({:?}, <redacted>)", key.key.algorithm()),
            PacketKey::Cbc(key) => key.fmt(f),
        }
    }
}

/// An AEAD key and its implicit IV. `ring` keeps the expanded key; the IV copy is zeroized.
pub struct AeadKey {
    key: LessSafeKey,
    implicit_iv: [u8; IMPLICIT_IV_LEN],
}

impl AeadKey {
    fn new(algorithm: &'static aead::Algorithm, secret: &DirectionSecret<'_>) -> Self {
        let unbound = UnboundKey::new(algorithm, &secret.cipher[..algorithm.key_len()])
            .expect("the key slice has the algorithm's key length");
        let mut implicit_iv = [0; IMPLICIT_IV_LEN];
        implicit_iv.copy_from_slice(&secret.hmac[..IMPLICIT_IV_LEN]);
        AeadKey {
            key: LessSafeKey::new(unbound),
            implicit_iv,
        }
    }

    fn nonce(&self, packet_id: &[u8]) -> Nonce {
        let mut nonce = [0; aead::NONCE_LEN];
        nonce[..PACKET_ID_LEN].copy_from_slice(packet_id);
        nonce[PACKET_ID_LEN..].copy_from_slice(&self.implicit_iv);
        Nonce::assume_unique_for_key(nonce)
    }

    fn seal(
        &self,
        packet: &mut [u8],
        hdr_len: usize,
        aad_start: usize,
    ) -> Result<(), CryptoFailure> {
        let tag_at = hdr_len + PACKET_ID_LEN;
        if packet.len() < tag_at + TAG_LEN || aad_start > hdr_len {
            return Err(CryptoFailure::Length);
        }
        let (head, plaintext) = packet.split_at_mut(tag_at + TAG_LEN);
        let nonce = self.nonce(&head[hdr_len..tag_at]);
        let aad = Aad::from(&head[aad_start..tag_at]);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, aad, plaintext)
            .map_err(|_| CryptoFailure::Auth)?;
        head[tag_at..].copy_from_slice(tag.as_ref());
        Ok(())
    }

    fn open<'a>(
        &self,
        packet: &'a mut [u8],
        hdr_len: usize,
        aad_start: usize,
    ) -> Result<(u32, &'a mut [u8]), CryptoFailure> {
        let tag_at = hdr_len + PACKET_ID_LEN;
        if packet.len() < tag_at + TAG_LEN || aad_start > hdr_len {
            return Err(CryptoFailure::Length);
        }
        let (head, ciphertext) = packet.split_at_mut(tag_at + TAG_LEN);
        let mut packet_id = [0; PACKET_ID_LEN];
        packet_id.copy_from_slice(&head[hdr_len..tag_at]);
        let tag = Tag::try_from(&head[tag_at..]).map_err(|_| CryptoFailure::Length)?;
        let aad = Aad::from(&head[aad_start..tag_at]);
        let plaintext = self
            .key
            .open_in_place_separate_tag(self.nonce(&packet_id), aad, tag, ciphertext, 0..)
            .map_err(|_| CryptoFailure::Auth)?;
        Ok((u32::from_be_bytes(packet_id), plaintext))
    }
}

impl Drop for AeadKey {
    fn drop(&mut self) {
        self.implicit_iv.zeroize();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Parses hex with optional spaces.
    pub(crate) fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    /// Appendix B.1: the server→client key halves.
    pub(crate) fn b1_halves() -> ([u8; 64], [u8; 64]) {
        let mut cipher = [0; 64];
        cipher[..32].copy_from_slice(&hex(
            "a86038f2af1afea0046495093c8a67e382e814d16f8b9f1b96f5a045e9a49105",
        ));
        let mut hmac = [0; 64];
        hmac[..8].copy_from_slice(&hex("399e63563f5dc917"));
        (cipher, hmac)
    }

    pub(crate) const B1_PACKET: &str = "49000000 00000001 33cebbb21d7270c25ce5381b7718e062 \
                                        274a2c2f048578c16e1b31b241cacaf6";
    pub(crate) const PING: &str = "2a187bf3641eb4cb07ed2d0a981fc748";

    #[test]
    fn appendix_b1_opens_and_seals_byte_for_byte() {
        let (cipher, hmac) = b1_halves();
        let secret = DirectionSecret {
            cipher: &cipher,
            hmac: &hmac,
        };
        let key = PacketKey::new(DataCipher::Aes256Gcm, AuthDigest::Sha512, &secret);
        assert_eq!((key.packet_id_at(), key.payload_at()), (0, 20));
        assert_eq!(key.sealed_len(16), 36);
        let mut packet = hex(B1_PACKET);
        let (packet_id, plain) = key.open(&mut packet, 4, 0).unwrap();
        assert_eq!(packet_id, 1);
        assert_eq!(plain, hex(PING).as_slice());

        let mut sealed = hex("49000000 00000001");
        sealed.extend_from_slice(&[0; TAG_LEN]);
        sealed.extend_from_slice(&hex(PING));
        key.seal(&mut sealed, 4, 0, 16).unwrap();
        assert_eq!(sealed, hex(B1_PACKET));
    }

    #[test]
    fn names_and_lengths() {
        assert_eq!(
            DataCipher::from_name("aes-256-gcm"),
            Some(DataCipher::Aes256Gcm)
        );
        assert_eq!(
            DataCipher::from_name("CHACHA20-POLY1305"),
            Some(DataCipher::ChaCha20Poly1305)
        );
        assert_eq!(
            DataCipher::from_name("aes-256-cbc"),
            Some(DataCipher::Aes256Cbc)
        );
        assert_eq!(DataCipher::from_name("BF-CBC"), None);
        assert_eq!(DataCipher::Aes128Gcm.key_len(), 16);
        assert_eq!(DataCipher::Aes256Gcm.key_len(), 32);
        assert_eq!(DataCipher::ChaCha20Poly1305.key_len(), 32);
        assert_eq!(DataCipher::Aes128Cbc.key_len(), 16);
        assert_eq!(DataCipher::Aes256Cbc.key_len(), 32);
        assert_eq!(DataCipher::Aes128Gcm.to_string(), "AES-128-GCM");
        for cipher in DataCipher::ALL {
            assert_eq!(DataCipher::from_name(cipher.name()), Some(cipher));
            assert_eq!(cipher.is_aead(), DataCipher::DEFAULT.contains(&cipher));
        }
        // AEAD: packet-id and tag; CBC: HMAC, IV, packet-id and up to a block of padding.
        assert_eq!(DataCipher::Aes256Gcm.max_overhead(AuthDigest::Sha512), 20);
        assert_eq!(DataCipher::Aes128Cbc.max_overhead(AuthDigest::Sha1), 56);
        assert_eq!(
            DataCipher::Aes256Cbc.max_overhead(AuthDigest::Sha512),
            MAX_CRYPTO_OVERHEAD
        );
    }

    #[test]
    fn key_block_is_sliced_client_side() {
        let mut block = [0u8; 256];
        for (i, byte) in block.iter_mut().enumerate() {
            *byte = (i / 64) as u8;
        }
        let keys = KeyMaterial::from_key_block(&block);
        assert_eq!(keys.encrypt.cipher[0], 0);
        assert_eq!(keys.encrypt.hmac[63], 1);
        assert_eq!(keys.decrypt.cipher[0], 2);
        assert_eq!(keys.decrypt.hmac[0], 3);
        assert_eq!(format!("{keys:?}").matches("redacted").count(), 2);
    }

    #[test]
    fn short_packets_fail_without_panicking() {
        let (cipher, hmac) = b1_halves();
        let secret = DirectionSecret {
            cipher: &cipher,
            hmac: &hmac,
        };
        let key = PacketKey::new(DataCipher::ChaCha20Poly1305, AuthDigest::Sha1, &secret);
        for len in 0..24 {
            let mut packet = vec![0x48; len];
            assert_eq!(key.open(&mut packet, 4, 0), Err(CryptoFailure::Length));
            assert_eq!(key.seal(&mut packet, 4, 0, 0), Err(CryptoFailure::Length));
        }
        assert!(format!("{key:?}").contains("redacted"));
        let key = PacketKey::new(DataCipher::Aes256Cbc, AuthDigest::Sha256, &secret);
        assert_eq!(format!("{key:?}"), "Cbc(AES-256-CBC, Sha256, <redacted>)");
    }
}
