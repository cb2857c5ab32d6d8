//! The legacy data-channel protection (§6.3): AES-128-CBC or AES-256-CBC with an HMAC over the
//! result (OpenVPN's `auth`: SHA1, SHA256 or SHA512), for servers that negotiate no AEAD cipher.
//!
//! Packet layout after the header (`crypto.c`: `openvpn_encrypt_v1` / `openvpn_decrypt_v1`):
//! ```text
//! | HMAC (H) | IV (16) | AES-CBC(key, IV, packet-id u32 || payload || PKCS#7 padding) |
//! ```
//! The HMAC covers IV and ciphertext; the header is not covered. The packet-id travels inside
//! the ciphertext (short form: TLS mode never uses the long form with a time). Receiving checks,
//! in this order: whole blocks, the HMAC (constant-time comparison), then decrypts in place and
//! strips the padding, so nothing about the plaintext is looked at before it is authenticated.
//! Sending takes a fresh, unpredictable IV for every packet without a system call: AES-128 in
//! counter mode under a random key from the operating system's CSPRNG, drawn once per data key
//! ([`IvSource`]; NIST SP 800-38A, appendix C).
//!
//! The HMAC is RustCrypto's (`hmac` with `sha1`/`sha2`, `verify_slice` compares in constant
//! time), keyed once and cloned per packet (no allocation): `ring`'s HMAC-SHA1 has no SHA-NI
//! path and measured about 3× slower here (`benches/data_channel.rs`), and SHA1 is OpenVPN's
//! default `auth`; for SHA256/SHA512 RustCrypto was as fast or faster.
//!
//! Keys (§5.3): the AES key is the first 16 or 32 bytes of the direction's cipher half, the HMAC
//! key the first H bytes of its HMAC half. The AES key schedule is zeroized on drop (`aes` with
//! `zeroize`); the keyed HMAC state is not (like the `ring` AEAD keys).

use std::fmt;

use aes::cipher::consts::U16;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, BlockEncrypt, BlockSizeUser, KeyInit};
use aes::{Aes128, Aes256, Block};
use hmac::{Hmac, Mac};
use ring::rand::{SecureRandom, SystemRandom};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use super::cipher::{CryptoFailure, DirectionSecret, PACKET_ID_LEN};
use crate::openvpn::wrap::AuthDigest;

/// AES block size, which is also the IV size and the most padding a packet can carry.
pub const BLOCK_LEN: usize = 16;
/// Bytes of the explicit IV in every packet.
pub const IV_LEN: usize = BLOCK_LEN;
/// The longest HMAC (SHA512).
pub const MAX_HMAC_LEN: usize = 64;
/// Blocks decrypted per call into the block cipher (AES-NI pipelines 8 at a time).
const PARALLEL_BLOCKS: usize = 8;

/// The AES key schedule of one direction (boxed: several hundred bytes, allocated once per key).
enum BlockCipher {
    Aes128(Box<Aes128>),
    Aes256(Box<Aes256>),
}

/// One direction's CBC+HMAC protection.
pub struct CbcKey {
    cipher: BlockCipher,
    hmac: HmacKey,
    auth: AuthDigest,
    hmac_len: usize,
    /// `None` if the system RNG failed when the key was made: sealing then fails (counted).
    ivs: Option<IvSource>,
}

/// Unpredictable CBC IVs: `AES-128(K, nonce || counter)` with `K` and `nonce` from the system
/// CSPRNG. Predicting the next IV means breaking AES; the 64-bit counter never wraps in
/// practice (one data key lives far fewer packets: the packet-id forces a rekey at 2^32).
struct IvSource {
    aes: Box<Aes128>,
    nonce: [u8; 8],
    counter: std::sync::atomic::AtomicU64,
}

impl IvSource {
    fn new() -> Option<IvSource> {
        let mut seed = zeroize::Zeroizing::new([0u8; 24]);
        SystemRandom::new().fill(&mut seed[..]).ok()?;
        let mut nonce = [0; 8];
        nonce.copy_from_slice(&seed[16..]);
        Some(IvSource {
            aes: Box::new(Aes128::new(GenericArray::from_slice(&seed[..16]))),
            nonce,
            counter: std::sync::atomic::AtomicU64::new(0),
        })
    }

    fn next(&self) -> [u8; IV_LEN] {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut block = Block::default();
        block[..8].copy_from_slice(&self.nonce);
        block[8..].copy_from_slice(&n.to_be_bytes());
        self.aes.encrypt_block(&mut block);
        block.into()
    }
}

impl CbcKey {
    /// AES-128-CBC keyed with the first 16 bytes of the cipher half.
    pub fn aes128(auth: AuthDigest, secret: &DirectionSecret<'_>) -> Self {
        let key = GenericArray::from_slice(&secret.cipher[..16]);
        Self::new(
            BlockCipher::Aes128(Box::new(Aes128::new(key))),
            auth,
            secret,
        )
    }

    /// AES-256-CBC keyed with the first 32 bytes of the cipher half.
    pub fn aes256(auth: AuthDigest, secret: &DirectionSecret<'_>) -> Self {
        let key = GenericArray::from_slice(&secret.cipher[..32]);
        Self::new(
            BlockCipher::Aes256(Box::new(Aes256::new(key))),
            auth,
            secret,
        )
    }

    fn new(cipher: BlockCipher, auth: AuthDigest, secret: &DirectionSecret<'_>) -> Self {
        let hmac_len = auth.tag_len();
        CbcKey {
            cipher,
            hmac: HmacKey::new(auth, &secret.hmac[..hmac_len]),
            auth,
            hmac_len,
            ivs: IvSource::new(),
        }
    }

    /// Where the packet-id sits, counted from the end of the header: after HMAC and IV.
    pub fn packet_id_at(&self) -> usize {
        self.hmac_len + IV_LEN
    }

    /// Bytes after the header for a payload of `payload_len` bytes.
    pub fn sealed_len(&self, payload_len: usize) -> usize {
        self.packet_id_at()
            .saturating_add(padded_len(PACKET_ID_LEN.saturating_add(payload_len)))
    }

    /// The most bytes sealing adds to a payload: HMAC, IV, packet-id and a full block of padding.
    pub fn max_overhead(&self) -> usize {
        self.packet_id_at() + PACKET_ID_LEN + BLOCK_LEN
    }

    /// The shortest well-formed packet after the header: HMAC, IV and one block.
    pub fn min_sealed_len(&self) -> usize {
        self.packet_id_at() + BLOCK_LEN
    }

    /// Seals `packet` = `header (hdr_len) | room for HMAC and IV | packet-id | payload
    /// (payload_len) | room for padding`, exactly `hdr_len + sealed_len(payload_len)` bytes, with
    /// a fresh random IV.
    pub fn seal(
        &self,
        packet: &mut [u8],
        hdr_len: usize,
        payload_len: usize,
    ) -> Result<(), CryptoFailure> {
        let iv = self.ivs.as_ref().ok_or(CryptoFailure::Random)?.next();
        self.seal_with_iv(packet, hdr_len, payload_len, &iv)
    }

    /// [`seal`](Self::seal) with a given IV (tests compare against captured packets with it).
    pub(crate) fn seal_with_iv(
        &self,
        packet: &mut [u8],
        hdr_len: usize,
        payload_len: usize,
        iv: &[u8; IV_LEN],
    ) -> Result<(), CryptoFailure> {
        let iv_at = hdr_len
            .checked_add(self.hmac_len)
            .ok_or(CryptoFailure::Length)?;
        let body_at = iv_at + IV_LEN;
        let plain_len = PACKET_ID_LEN
            .checked_add(payload_len)
            .ok_or(CryptoFailure::Length)?;
        let padded = padded_len(plain_len);
        if body_at.checked_add(padded) != Some(packet.len()) {
            return Err(CryptoFailure::Length);
        }
        packet[iv_at..body_at].copy_from_slice(iv);
        let body = &mut packet[body_at..];
        // PKCS#7: 1..=16 bytes, each holding the count.
        body[plain_len..].fill((padded - plain_len) as u8);
        self.cipher.encrypt(iv, body);
        let (head, signed) = packet.split_at_mut(iv_at);
        self.hmac.sign(signed, &mut head[hdr_len..]);
        Ok(())
    }

    /// Verifies and decrypts `packet` (header of `hdr_len` bytes) in place; returns the
    /// packet-id and the payload.
    pub fn open<'a>(
        &self,
        packet: &'a mut [u8],
        hdr_len: usize,
    ) -> Result<(u32, &'a mut [u8]), CryptoFailure> {
        let iv_at = hdr_len
            .checked_add(self.hmac_len)
            .ok_or(CryptoFailure::Length)?;
        let body_at = iv_at + IV_LEN;
        if packet.len() < body_at + BLOCK_LEN {
            return Err(CryptoFailure::Length);
        }
        if (packet.len() - body_at) % BLOCK_LEN != 0 {
            return Err(CryptoFailure::Misaligned);
        }
        if !self.hmac.verify(&packet[iv_at..], &packet[hdr_len..iv_at]) {
            return Err(CryptoFailure::Auth);
        }
        let (head, body) = packet.split_at_mut(body_at);
        let mut iv = [0; IV_LEN];
        iv.copy_from_slice(&head[iv_at..]);
        self.cipher.decrypt(&iv, body);
        let plain_len = unpadded_len(body).ok_or(CryptoFailure::BadPadding)?;
        if plain_len < PACKET_ID_LEN {
            return Err(CryptoFailure::BadPadding);
        }
        let (packet_id, rest) = body[..plain_len].split_at_mut(PACKET_ID_LEN);
        let mut id = [0; PACKET_ID_LEN];
        id.copy_from_slice(packet_id);
        Ok((u32::from_be_bytes(id), rest))
    }
}

impl fmt::Debug for CbcKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cipher = match self.cipher {
            BlockCipher::Aes128(_) => "AES-128-CBC",
            BlockCipher::Aes256(_) => "AES-256-CBC",
        };
        write!(f, "Cbc({cipher}, {:?}, <redacted>)", self.auth)
    }
}

impl BlockCipher {
    fn encrypt(&self, iv: &[u8; IV_LEN], data: &mut [u8]) {
        match self {
            BlockCipher::Aes128(aes) => cbc_encrypt(&**aes, iv, data),
            BlockCipher::Aes256(aes) => cbc_encrypt(&**aes, iv, data),
        }
    }

    fn decrypt(&self, iv: &[u8; IV_LEN], data: &mut [u8]) {
        match self {
            BlockCipher::Aes128(aes) => cbc_decrypt(&**aes, iv, data),
            BlockCipher::Aes256(aes) => cbc_decrypt(&**aes, iv, data),
        }
    }
}

/// A keyed HMAC for OpenVPN's `auth` digest (the key's inner and outer states, computed once).
#[derive(Clone)]
enum HmacKey {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

impl HmacKey {
    fn new(auth: AuthDigest, key: &[u8]) -> Self {
        const ANY_LENGTH: &str = "HMAC takes keys of any length";
        match auth {
            AuthDigest::Sha1 => HmacKey::Sha1(Mac::new_from_slice(key).expect(ANY_LENGTH)),
            AuthDigest::Sha256 => HmacKey::Sha256(Mac::new_from_slice(key).expect(ANY_LENGTH)),
            AuthDigest::Sha512 => HmacKey::Sha512(Mac::new_from_slice(key).expect(ANY_LENGTH)),
        }
    }

    /// Writes the HMAC of `data` into `out` (exactly the digest's length).
    fn sign(&self, data: &[u8], out: &mut [u8]) {
        fn tag<M: Mac + Clone>(key: &M, data: &[u8], out: &mut [u8]) {
            out.copy_from_slice(&keyed(key, data).finalize().into_bytes());
        }
        match self {
            HmacKey::Sha1(key) => tag(key, data, out),
            HmacKey::Sha256(key) => tag(key, data, out),
            HmacKey::Sha512(key) => tag(key, data, out),
        }
    }

    /// Whether `tag` is the HMAC of `data` (compared in constant time).
    fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        match self {
            HmacKey::Sha1(key) => keyed(key, data).verify_slice(tag).is_ok(),
            HmacKey::Sha256(key) => keyed(key, data).verify_slice(tag).is_ok(),
            HmacKey::Sha512(key) => keyed(key, data).verify_slice(tag).is_ok(),
        }
    }
}

/// A copy of the keyed state that has absorbed `data`.
fn keyed<M: Mac + Clone>(key: &M, data: &[u8]) -> M {
    let mut mac = key.clone();
    mac.update(data);
    mac
}

/// `len` rounded up to whole blocks with at least one byte of padding (PKCS#7).
fn padded_len(len: usize) -> usize {
    (len / BLOCK_LEN + 1).saturating_mul(BLOCK_LEN)
}

/// The plaintext length once PKCS#7 padding is removed, or `None` if the padding is invalid.
/// Only ever called on authenticated data, so it need not be constant time.
fn unpadded_len(plain: &[u8]) -> Option<usize> {
    let &pad = plain.last()?;
    let pad_len = usize::from(pad);
    if pad_len == 0 || pad_len > BLOCK_LEN || pad_len > plain.len() {
        return None;
    }
    let (text, padding) = plain.split_at(plain.len() - pad_len);
    padding.iter().all(|&b| b == pad).then_some(text.len())
}

/// CBC encryption in place; `data` is whole blocks. Inherently serial.
fn cbc_encrypt<C: BlockEncrypt + BlockSizeUser<BlockSize = U16>>(
    cipher: &C,
    iv: &[u8; IV_LEN],
    data: &mut [u8],
) {
    let mut chain = Block::clone_from_slice(iv);
    for chunk in data.chunks_exact_mut(BLOCK_LEN) {
        let block = Block::from_mut_slice(chunk);
        block
            .iter_mut()
            .zip(chain.iter())
            .for_each(|(b, c)| *b ^= c);
        cipher.encrypt_block(block);
        chain = *block;
    }
}

/// CBC decryption in place; `data` is whole blocks. Decrypts up to [`PARALLEL_BLOCKS`] blocks per
/// call into the cipher (from a copy), then XORs each with the ciphertext block before it, going
/// backwards through the chunk so that block is still intact when it is needed.
fn cbc_decrypt<C: BlockDecrypt + BlockSizeUser<BlockSize = U16>>(
    cipher: &C,
    iv: &[u8; IV_LEN],
    data: &mut [u8],
) {
    let mut chain = *iv;
    for chunk in data.chunks_mut(PARALLEL_BLOCKS * BLOCK_LEN) {
        let n = chunk.len() / BLOCK_LEN;
        if n == 0 {
            break; // a partial block: the callers only pass whole blocks
        }
        let mut blocks = [Block::default(); PARALLEL_BLOCKS];
        for (block, ciphertext) in blocks.iter_mut().zip(chunk.chunks_exact(BLOCK_LEN)) {
            block.copy_from_slice(ciphertext);
        }
        cipher.decrypt_blocks(&mut blocks[..n]);
        let mut next_chain = [0; BLOCK_LEN];
        next_chain.copy_from_slice(&chunk[(n - 1) * BLOCK_LEN..n * BLOCK_LEN]);
        for i in (0..n).rev() {
            let (before, this) = chunk.split_at_mut(i * BLOCK_LEN);
            let previous: &[u8] = if i == 0 {
                &chain
            } else {
                &before[(i - 1) * BLOCK_LEN..]
            };
            for ((out, plain), prev) in this[..BLOCK_LEN].iter_mut().zip(&blocks[i]).zip(previous) {
                *out = plain ^ prev;
            }
        }
        chain = next_chain;
    }
}

#[cfg(test)]
#[path = "cbc_tests.rs"]
pub(crate) mod tests;
