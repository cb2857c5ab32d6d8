//! Data-channel key derivation (§5; OpenVPN `ssl.c`, `crypto.c`, `ssl_backend.h`).
//!
//! Both methods produce a 256-byte [`KeyBlock`]:
//! - **EKM** (RFC 5705 / RFC 8446 §7.5 exporter), used iff the PUSH_REPLY said so
//!   (`PushedConfig::uses_ekm`): the engine calls rustls'
//!   `export_keying_material(out, EKM_LABEL, None)` on the TLS session of that key_id and hands
//!   the bytes over through [`KeyBlock::from_exporter`]. No context (it matters for TLS 1.2).
//! - **Legacy PRF** (the TLS 1.0 PRF of RFC 2246 §5, P_MD5 ⊕ P_SHA1) from the key-method-2
//!   randoms and both control-channel session ids: [`KeyBlock::from_prf`].
//!
//! The block is sliced into two direction keys of {cipher 64, hmac 64} (§5.3); the client
//! encrypts with bytes 0..128 and decrypts with bytes 128..256 ([`KeyBlock::client_keys`]).
//! Which part of each half a cipher uses (key length, HMAC length, the AEAD implicit IV) is the
//! data channel's business. Everything secret here is zeroized on drop and never printed.

use std::fmt;

use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use zeroize::{Zeroize, Zeroizing};

use super::keymethod::{KeySource, PeerRandoms};

/// Bytes of the key block: 2 directions × (64 cipher + 64 hmac).
pub const KEY_BLOCK_LEN: usize = 256;
/// Bytes of the cipher half and of the hmac half of one direction.
pub const DIRECTION_HALF_LEN: usize = 64;
/// Bytes of the AEAD implicit IV taken from the front of the hmac half (§6.2).
pub const IMPLICIT_IV_LEN: usize = 8;
/// Bytes of the legacy master secret.
pub const MASTER_SECRET_LEN: usize = 48;
/// Bytes of a control-channel session id (§1.4).
pub const SESSION_ID_LEN: usize = 8;
/// RFC 5705 exporter label for the data-channel keys (no context).
pub const EKM_LABEL: &[u8] = b"EXPORTER-OpenVPN-datakeys";
/// PRF label of the master secret (no trailing space, no NUL).
pub const PRF_MASTER_LABEL: &[u8] = b"OpenVPN master secret";
/// PRF label of the key expansion (no trailing space, no NUL).
pub const PRF_EXPANSION_LABEL: &[u8] = b"OpenVPN key expansion";

/// The 256 bytes both peers derive for one key_id. Zeroized on drop; `Debug` prints no bytes.
pub struct KeyBlock([u8; KEY_BLOCK_LEN]);

impl KeyBlock {
    /// Lets `export` (the TLS exporter) write the block in place, so no copy of the key
    /// material is left behind:
    /// `KeyBlock::from_exporter(|out| tls.export_keying_material(&mut out[..], EKM_LABEL, None).map(drop))`.
    pub fn from_exporter<E>(
        export: impl FnOnce(&mut [u8; KEY_BLOCK_LEN]) -> Result<(), E>,
    ) -> Result<KeyBlock, E> {
        let mut block = KeyBlock([0; KEY_BLOCK_LEN]);
        export(&mut block.0)?;
        Ok(block)
    }

    /// Copies an exported block; the caller zeroizes its own copy.
    pub fn from_bytes(bytes: &[u8; KEY_BLOCK_LEN]) -> KeyBlock {
        KeyBlock(*bytes)
    }

    /// The legacy derivation (§5.1): a master secret from our pre-master and both `random1`s,
    /// then the block from it, both `random2`s and the two session ids (ours first).
    pub fn from_prf(
        client: &KeySource,
        server: &PeerRandoms,
        client_session_id: &[u8; SESSION_ID_LEN],
        server_session_id: &[u8; SESSION_ID_LEN],
    ) -> KeyBlock {
        let master = master_secret(client, server);
        let mut block = KeyBlock([0; KEY_BLOCK_LEN]);
        tls1_prf(
            &master[..],
            &[
                PRF_EXPANSION_LABEL,
                client.random2(),
                server.random2(),
                client_session_id,
                server_session_id,
            ],
            &mut block.0,
        );
        block
    }

    pub fn as_bytes(&self) -> &[u8; KEY_BLOCK_LEN] {
        &self.0
    }

    /// The client's view (§5.3): encrypt with `key[0]` (bytes 0..128), decrypt with `key[1]`
    /// (bytes 128..256).
    pub fn client_keys(&self) -> DataKeys {
        DataKeys {
            encrypt: self.direction(0),
            decrypt: self.direction(1),
        }
    }

    /// The server's view (the mirror of [`KeyBlock::client_keys`]), for scripted test peers.
    pub fn server_keys(&self) -> DataKeys {
        DataKeys {
            encrypt: self.direction(1),
            decrypt: self.direction(0),
        }
    }

    fn direction(&self, index: usize) -> DirectionKeys {
        let start = index * 2 * DIRECTION_HALF_LEN;
        let mut keys = DirectionKeys {
            cipher: [0; DIRECTION_HALF_LEN],
            hmac: [0; DIRECTION_HALF_LEN],
        };
        let half = &self.0[start..start + 2 * DIRECTION_HALF_LEN];
        let (cipher, hmac) = half.split_at(DIRECTION_HALF_LEN);
        keys.cipher.copy_from_slice(cipher);
        keys.hmac.copy_from_slice(hmac);
        keys
    }
}

impl Drop for KeyBlock {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for KeyBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyBlock { <redacted> }")
    }
}

/// The key material of one direction: the cipher key (first N bytes used) and the HMAC key
/// (first H bytes, CBC) or the AEAD implicit IV (first 8 bytes).
pub struct DirectionKeys {
    pub cipher: [u8; DIRECTION_HALF_LEN],
    pub hmac: [u8; DIRECTION_HALF_LEN],
}

impl DirectionKeys {
    /// The first `len` bytes of the cipher half; `None` above 64.
    pub fn cipher_key(&self, len: usize) -> Option<&[u8]> {
        self.cipher.get(..len)
    }

    /// The first `len` bytes of the hmac half; `None` above 64.
    pub fn hmac_key(&self, len: usize) -> Option<&[u8]> {
        self.hmac.get(..len)
    }

    /// The AEAD implicit IV: the first 8 bytes of the hmac half (§6.2).
    pub fn implicit_iv(&self) -> [u8; IMPLICIT_IV_LEN] {
        let mut iv = [0; IMPLICIT_IV_LEN];
        iv.copy_from_slice(&self.hmac[..IMPLICIT_IV_LEN]);
        iv
    }
}

impl Drop for DirectionKeys {
    fn drop(&mut self) {
        self.cipher.zeroize();
        self.hmac.zeroize();
    }
}

impl fmt::Debug for DirectionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DirectionKeys { <redacted> }")
    }
}

/// The two directions of one data-channel key, from our point of view.
#[derive(Debug)]
pub struct DataKeys {
    pub encrypt: DirectionKeys,
    pub decrypt: DirectionKeys,
}

/// `master = PRF(pre_master, "OpenVPN master secret" || client.random1 || server.random1)`.
fn master_secret(client: &KeySource, server: &PeerRandoms) -> Zeroizing<[u8; MASTER_SECRET_LEN]> {
    let mut master = Zeroizing::new([0u8; MASTER_SECRET_LEN]);
    tls1_prf(
        client.pre_master(),
        &[PRF_MASTER_LABEL, client.random1(), server.random1()],
        &mut master[..],
    );
    master
}

/// The TLS 1.0 PRF (RFC 2246 §5): `out = P_MD5(S1, seed) XOR P_SHA1(S2, seed)`, where S1 is
/// the first and S2 the last ⌈len/2⌉ bytes of `secret` and `seed` is the concatenation of
/// `seed_parts` (the label first).
pub fn tls1_prf(secret: &[u8], seed_parts: &[&[u8]], out: &mut [u8]) {
    let half = secret.len().div_ceil(2);
    let (s1, s2) = (&secret[..half], &secret[secret.len() - half..]);
    out.fill(0);
    p_hash_xor::<Hmac<Md5>>(s1, seed_parts, out);
    p_hash_xor::<Hmac<Sha1>>(s2, seed_parts, out);
}

/// XORs `P_hash(key, seed)` (RFC 2246 §5) into `out`:
/// `A(0) = seed`, `A(i) = HMAC(key, A(i-1))`, output `HMAC(key, A(i) || seed)` for i = 1, 2, …
fn p_hash_xor<M: Mac + hmac::digest::KeyInit + Clone>(
    key: &[u8],
    seed_parts: &[&[u8]],
    out: &mut [u8],
) {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let Ok(keyed) = <M as Mac>::new_from_slice(key) else {
        return;
    };
    let mut a = {
        let mut mac = keyed.clone();
        seed_parts.iter().for_each(|part| mac.update(part));
        Zeroizing::new(mac.finalize().into_bytes().to_vec())
    };
    for chunk in out.chunks_mut(a.len()) {
        let mut mac = keyed.clone();
        mac.update(&a);
        seed_parts.iter().for_each(|part| mac.update(part));
        let block = Zeroizing::new(mac.finalize().into_bytes().to_vec());
        chunk
            .iter_mut()
            .zip(block.iter())
            .for_each(|(o, b)| *o ^= b);
        let mut next = keyed.clone();
        next.update(&a);
        a = Zeroizing::new(next.finalize().into_bytes().to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn counting<const N: usize>(start: u8) -> [u8; N] {
        std::array::from_fn(|i| start.wrapping_add(i as u8))
    }

    /// The inputs of Appendix B.4.
    fn b4_inputs() -> (KeySource, PeerRandoms, [u8; 8], [u8; 8]) {
        (
            KeySource::from_parts(counting(0x00), counting(0x40), counting(0x80)),
            PeerRandoms::from_parts(counting(0x60), counting(0xa0)),
            [1, 2, 3, 4, 5, 6, 7, 8],
            [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18],
        )
    }

    #[test]
    fn legacy_master_secret_matches_appendix_b4() {
        let (client, server, _, _) = b4_inputs();
        let master = master_secret(&client, &server);
        assert_eq!(
            master[..],
            hex(
                "0520ed5bef47cd2c1a5bc0e84254a42563fd7fd5caf5ccac49be59e7a71461ae\
                 9c6876df8467a4fa34cbe95fdc22977f"
            )[..]
        );
    }

    #[test]
    fn legacy_key_block_matches_appendix_b4() {
        let (client, server, csid, ssid) = b4_inputs();
        let block = KeyBlock::from_prf(&client, &server, &csid, &ssid);
        let b = block.as_bytes();
        assert_eq!(
            b[0..32],
            hex("72344b92208ff03a1063f3bc96b0a052e478e56bfe3de63672fabdb19acbde84")[..]
        );
        assert_eq!(b[64..72], hex("8078818a396e6c22")[..]);
        assert_eq!(
            b[128..160],
            hex("2e5835792c6cb49bffad1c65ba31a8e66bc8b81a8c8213d5c452260b2930370a")[..]
        );
        assert_eq!(b[192..200], hex("863e112df3c18ad3")[..]);
        assert_eq!(
            Sha256::digest(b)[..],
            hex("5e16f4f692738a38ca68d1872b2c1bee3c287fe009272ac78b205035afb56c24")[..]
        );
    }

    #[test]
    fn session_ids_and_their_order_matter() {
        let (client, server, csid, ssid) = b4_inputs();
        let reference = KeyBlock::from_prf(&client, &server, &csid, &ssid);
        let swapped = KeyBlock::from_prf(&client, &server, &ssid, &csid);
        assert_ne!(reference.as_bytes(), swapped.as_bytes());
    }

    #[test]
    fn tls1_prf_matches_an_independent_computation() {
        // 20 bytes of output from a 5-byte (odd-length) secret: S1 and S2 share the middle
        // byte. Reference value computed with Python's hmac module.
        let mut out = [0u8; 20];
        tls1_prf(b"abcde", &[b"label", b"seed"], &mut out);
        assert_eq!(out[..], hex("8afeb45509ed5b5775fc52cdb079e10d47db21ca")[..]);
        // Splitting the seed differently changes nothing.
        let mut again = [0u8; 20];
        tls1_prf(b"abcde", &[b"lab", b"elseed"], &mut again);
        assert_eq!(out, again);
    }

    #[test]
    fn client_keys_slice_the_block_per_direction() {
        let block = KeyBlock::from_exporter(|out| {
            out.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
            Ok::<(), ()>(())
        })
        .unwrap();
        let keys = block.client_keys();
        assert_eq!(keys.encrypt.cipher, counting::<64>(0));
        assert_eq!(keys.encrypt.hmac, counting::<64>(64));
        assert_eq!(keys.decrypt.cipher, counting::<64>(128));
        assert_eq!(keys.decrypt.hmac, counting::<64>(192));
        assert_eq!(keys.encrypt.cipher_key(32), Some(&counting::<32>(0)[..]));
        assert_eq!(keys.decrypt.hmac_key(20), Some(&counting::<20>(192)[..]));
        assert_eq!(keys.encrypt.cipher_key(65), None);
        assert_eq!(keys.decrypt.implicit_iv(), counting::<8>(192));
        assert_eq!(
            KeyBlock::from_bytes(block.as_bytes()).as_bytes(),
            block.as_bytes()
        );
        let server = block.server_keys();
        assert_eq!(server.encrypt.cipher, keys.decrypt.cipher);
        assert_eq!(server.decrypt.hmac, keys.encrypt.hmac);
    }

    #[test]
    fn exporter_errors_pass_through() {
        let err = KeyBlock::from_exporter(|_| Err("no session")).unwrap_err();
        assert_eq!(err, "no session");
    }

    #[test]
    fn debug_prints_no_key_material() {
        let block = KeyBlock::from_exporter(|out| {
            out.fill(0xab);
            Ok::<(), ()>(())
        })
        .unwrap();
        let shown = format!("{block:?} {:?}", block.client_keys());
        assert!(!shown.contains("171") && !shown.contains("ab,"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn labels_are_exact() {
        assert_eq!(EKM_LABEL, b"EXPORTER-OpenVPN-datakeys");
        assert_eq!(PRF_MASTER_LABEL.len(), 21);
        assert_eq!(PRF_EXPANSION_LABEL.len(), 21);
    }
}
