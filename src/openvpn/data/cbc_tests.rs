//! Vectors captured from stock OpenVPN 2.6.14 peers and computed with the `openssl` CLI, and the
//! ways a CBC packet can be wrong.

use super::*;
use crate::openvpn::data::cipher::tests::hex;
use crate::testutil::Rng;

/// One direction's halves with `cipher_key` and `hmac_key` at their starts, the rest patterned
/// (so a key slice of the wrong length would show).
pub(crate) fn halves(cipher_key: &str, hmac_key: &str) -> ([u8; 64], [u8; 64]) {
    let mut cipher: [u8; 64] = std::array::from_fn(|i| 0xC0 ^ i as u8);
    let mut hmac: [u8; 64] = std::array::from_fn(|i| 0x3C ^ i as u8);
    let (c, h) = (hex(cipher_key), hex(hmac_key));
    cipher[..c.len()].copy_from_slice(&c);
    hmac[..h.len()].copy_from_slice(&h);
    (cipher, hmac)
}

fn key(aes256: bool, auth: AuthDigest, halves: &([u8; 64], [u8; 64])) -> CbcKey {
    let secret = DirectionSecret {
        cipher: &halves.0,
        hmac: &halves.1,
    };
    if aes256 {
        CbcKey::aes256(auth, &secret)
    } else {
        CbcKey::aes128(auth, &secret)
    }
}

/// A captured (or computed) packet, its key, and what it carries.
pub(crate) struct Vector {
    pub(crate) aes256: bool,
    pub(crate) auth: AuthDigest,
    pub(crate) cipher_key: &'static str,
    pub(crate) hmac_key: &'static str,
    pub(crate) packet: &'static str,
    pub(crate) packet_id: u32,
    pub(crate) payload: &'static str,
}

/// Stock 2.6.14 server → stock 2.6.14 client, `data-ciphers AES-256-CBC`, `auth SHA256`, TCP, TAP
/// (lab, 2026-11): the first data packet of the session, the ARP reply for 10.99.0.1. The keys
/// are the client's "Incoming Data Channel: CIPHER KEY / HMAC KEY" lines at verb 7; the packet
/// is from a pcap of the same session (without the TCP length prefix).
pub(crate) const STOCK_AES256_SHA256: Vector = Vector {
    aes256: true,
    auth: AuthDigest::Sha256,
    cipher_key: "6c4577cfe88996e57fcd9b95189255b85fe23ec008f5b978cd9e1f430cf1cac4",
    hmac_key: "4502e30da76c15266b476811e49b725bc612ab8c412e78b1c85d297ba73ee432",
    packet: "48000000 e88a19341303128ed884907e0f8a8c4636880fd2fe57bee833696b3f8f458044 \
             8714682482139178f7b2dc022a1c721a fcba470351220a438dfc8999212b1ace52f0dbdc784a09eb\
             a3c2ea337a181841f234995d2bf5e454eb3190d2a7bc097a",
    packet_id: 1,
    payload: "32fb570c57ea a2c1f2983bcc 0806 0001080006040002 a2c1f2983bcc 0a630001 \
              32fb570c57ea 0a630002",
};

/// The same with `data-ciphers AES-128-CBC`, `auth SHA1` (another session).
pub(crate) const STOCK_AES128_SHA1: Vector = Vector {
    aes256: false,
    auth: AuthDigest::Sha1,
    cipher_key: "5ddb21c41418a22389960b3931964412",
    hmac_key: "4874437bedda7cc6b510aeb06e2b2ba0fb39f6ba",
    packet: "48000000 bb6476eff7c45472efecffbc90b420e0373a6dbd 3d658c778db372d8200035cf4c3cfad7 \
             ae08642a37f072b728d8bc641d8d944e8061e29f5b2b801c43f80fdd2ea54addb1d2cf35b51babbc\
             6d8150759dbcc1a0",
    packet_id: 1,
    payload: "e222d5b24a2a f6a3bca11c2f 0806 0001080006040002 f6a3bca11c2f 0a630001 \
              e222d5b24a2a 0a630002",
};

/// AES-256-CBC + HMAC-SHA512, 13 blocks (more than one parallel decryption chunk), computed
/// independently with the openssl 3.0 CLI:
/// ```text
/// K=404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f
/// HK=808182…bf (64 bytes 0x80..0xbf)   IV=f0e1d2c3b4a5968778695a4b3c2d1e0f
/// plain.bin = 00000007 || bytes (7*i+3) mod 256 for i in 0..200
/// openssl enc -aes-256-cbc -K $K -iv $IV -in plain.bin -out ct.bin      # PKCS#7 by default
/// (printf IV bytes; cat ct.bin) > ivct.bin
/// openssl dgst -sha512 -mac hmac -macopt hexkey:$HK -binary ivct.bin > mac.bin
/// packet = 48000000 || mac.bin || ivct.bin
/// ```
const OPENSSL_AES256_SHA512: Vector = Vector {
    aes256: true,
    auth: AuthDigest::Sha512,
    cipher_key: "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f",
    hmac_key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f\
               a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
    packet: "48000000936cd0528f1c26d38acfd282d74bc3acea2abe4936759423a0c198461e3d7e979c9d17de1c\
             9eda39c48f966107979b0018f16d7d68822c15d5f7de9e8d1fa93ff0e1d2c3b4a5968778695a4b3c2d\
             1e0ff9d7ca4cb4c300244e4be1a0b90a1c75fd2a22f98d0d0a0ec017a837fe3989e19a8f91c174d692\
             16429d1fdc47510108affc743d133b5ff8aa9b7ad8c3340ad20a31ab48c089b3e5644b12921bf0bcf0\
             6566431bb95f33d9a3153ad821a7e60df3217d4631dc98d957a46f542ab1abaa6459f2d8008c161300\
             5b1b316749b21d32d99ac320521356387258e9a1cbacc03551fc32443a6b6947b8fbb13203fb4a6bd5\
             afd43f4674d6128bcefa3e02f397e6b1f2ce0e668c60923401e363148bf3f0574f44fb64dca34dd80a\
             cb624940d3",
    packet_id: 7,
    payload: "",
};

fn payload_of(vector: &Vector) -> Vec<u8> {
    if vector.payload.is_empty() {
        (0..200).map(|i: u32| (i * 7 + 3) as u8).collect()
    } else {
        hex(vector.payload)
    }
}

#[test]
fn stock_and_openssl_vectors_open_and_seal_byte_for_byte() {
    for vector in [
        STOCK_AES256_SHA256,
        STOCK_AES128_SHA1,
        OPENSSL_AES256_SHA512,
    ] {
        let halves = halves(vector.cipher_key, vector.hmac_key);
        let key = key(vector.aes256, vector.auth, &halves);
        let wire = hex(vector.packet);
        let payload = payload_of(&vector);

        let mut packet = wire.clone();
        let (packet_id, plain) = key.open(&mut packet, 4).unwrap();
        assert_eq!(packet_id, vector.packet_id);
        assert_eq!(plain, payload.as_slice());

        // Sealing the same payload with the captured IV gives the captured bytes.
        let iv_at = 4 + vector.auth.tag_len();
        let iv: [u8; IV_LEN] = wire[iv_at..iv_at + IV_LEN].try_into().unwrap();
        let mut sealed = vec![0; 4 + key.sealed_len(payload.len())];
        assert_eq!(sealed.len(), wire.len());
        sealed[..4].copy_from_slice(&wire[..4]);
        let id_at = 4 + key.packet_id_at();
        sealed[id_at..id_at + 4].copy_from_slice(&vector.packet_id.to_be_bytes());
        sealed[id_at + 4..][..payload.len()].copy_from_slice(&payload);
        key.seal_with_iv(&mut sealed, 4, payload.len(), &iv)
            .unwrap();
        assert_eq!(sealed, wire);
    }
}

#[test]
fn the_header_is_not_authenticated() {
    // §6.3: the HMAC covers IV and ciphertext only, so key_id/peer-id bits do not matter here
    // (the channel picks the key by key_id before this).
    let v = STOCK_AES256_SHA256;
    let halves = halves(v.cipher_key, v.hmac_key);
    let mut packet = hex(v.packet);
    packet[..4].copy_from_slice(&[0x4F, 0xAB, 0xCD, 0xEF]);
    assert!(key(true, v.auth, &halves).open(&mut packet, 4).is_ok());
    let mut v1 = hex(v.packet)[3..].to_vec();
    v1[0] = 0x30;
    assert!(key(true, v.auth, &halves).open(&mut v1, 1).is_ok());
}

fn sealed(key: &CbcKey, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x48; 4 + key.sealed_len(payload.len())];
    let id_at = 4 + key.packet_id_at();
    packet[id_at..id_at + 4].copy_from_slice(&9u32.to_be_bytes());
    packet[id_at + 4..][..payload.len()].copy_from_slice(payload);
    key.seal(&mut packet, 4, payload.len()).unwrap();
    packet
}

#[test]
fn every_length_digest_and_key_size_round_trips() {
    let halves = halves("", "");
    for auth in [AuthDigest::Sha1, AuthDigest::Sha256, AuthDigest::Sha512] {
        for aes256 in [false, true] {
            let key = key(aes256, auth, &halves);
            assert_eq!(key.max_overhead(), auth.tag_len() + 36);
            for len in (0..=300).chain([1514, 1518]) {
                let payload: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
                let packet = sealed(&key, &payload);
                // HMAC, IV, then packet-id + payload + 1..=16 bytes of padding in whole blocks.
                let body = packet.len() - 4 - auth.tag_len() - IV_LEN;
                assert_eq!(body % BLOCK_LEN, 0);
                assert!((1..=BLOCK_LEN).contains(&(body - 4 - len)), "{len}");
                assert!(packet.len() - 4 - len <= key.max_overhead());
                let mut opened = packet.clone();
                let (id, plain) = key.open(&mut opened, 4).unwrap();
                assert_eq!((id, &*plain), (9, payload.as_slice()), "{auth:?} {len}");
            }
        }
    }
}

#[test]
fn ivs_are_fresh_for_every_packet() {
    let halves = halves("", "");
    let first = key(true, AuthDigest::Sha256, &halves);
    let a = sealed(&first, b"same payload");
    let b = sealed(&first, b"same payload");
    let iv = 4 + 32..4 + 32 + IV_LEN;
    assert_ne!(a[iv.clone()], b[iv.clone()]);
    assert_ne!(a, b);
    // Many IVs, all distinct, and another key with the same secret has another sequence.
    let ivs: std::collections::HashSet<Vec<u8>> = (0..1000)
        .map(|_| sealed(&first, b"x")[iv.clone()].to_vec())
        .collect();
    assert_eq!(ivs.len(), 1000);
    let other = key(true, AuthDigest::Sha256, &halves);
    assert!(!ivs.contains(&sealed(&other, b"x")[iv]));
}

#[test]
fn any_flipped_bit_in_hmac_iv_or_ciphertext_fails_authentication() {
    let v = STOCK_AES128_SHA1;
    let halves = halves(v.cipher_key, v.hmac_key);
    let key = key(v.aes256, v.auth, &halves);
    let wire = hex(v.packet);
    for at in 4..wire.len() {
        for bit in [0, 3, 7] {
            let mut packet = wire.clone();
            packet[at] ^= 1 << bit;
            assert_eq!(
                key.open(&mut packet, 4).map(|(id, _)| id),
                Err(CryptoFailure::Auth),
                "byte {at} bit {bit}"
            );
        }
    }
    // The wrong digest or the wrong key fails the same way.
    let other = self::key(v.aes256, AuthDigest::Sha256, &halves);
    assert_eq!(
        other.open(&mut wire.clone(), 4).map(|(id, _)| id),
        Err(CryptoFailure::Misaligned)
    );
    let shifted = self::halves(v.cipher_key, &v.hmac_key[2..]);
    let other = self::key(v.aes256, v.auth, &shifted);
    assert_eq!(
        other.open(&mut wire.clone(), 4).map(|(id, _)| id),
        Err(CryptoFailure::Auth)
    );
}

#[test]
fn truncated_and_misaligned_packets_are_refused_before_the_hmac() {
    let v = STOCK_AES256_SHA256;
    let halves = halves(v.cipher_key, v.hmac_key);
    let key = key(true, v.auth, &halves);
    let wire = hex(v.packet);
    assert_eq!(key.min_sealed_len(), 32 + 16 + 16);
    for len in 0..wire.len() {
        let mut packet = wire[..len].to_vec();
        let expected = if len < 4 + key.min_sealed_len() {
            CryptoFailure::Length
        } else if (len - 4 - 48) % 16 != 0 {
            CryptoFailure::Misaligned
        } else {
            CryptoFailure::Auth
        };
        assert_eq!(
            key.open(&mut packet, 4).map(|(id, _)| id),
            Err(expected),
            "{len}"
        );
    }
    let mut longer = wire.clone();
    longer.push(0);
    assert_eq!(
        key.open(&mut longer, 4).map(|(id, _)| id),
        Err(CryptoFailure::Misaligned)
    );
}

/// An authenticated packet whose plaintext is `plain` (whole blocks, padding not checked), as a
/// broken peer holding our keys would send it.
fn forge(key: &CbcKey, iv: &[u8; IV_LEN], plain: &[u8]) -> Vec<u8> {
    let hmac_len = key.auth.tag_len();
    let mut packet = vec![0x48; 4 + hmac_len];
    packet.extend_from_slice(iv);
    let at = packet.len();
    packet.extend_from_slice(plain);
    key.cipher.encrypt(iv, &mut packet[at..]);
    let (head, signed) = packet.split_at_mut(4 + hmac_len);
    key.hmac.sign(signed, &mut head[4..]);
    packet
}

#[test]
fn authenticated_packets_with_bad_padding_are_refused() {
    let halves = halves("", "");
    let key = key(true, AuthDigest::Sha256, &halves);
    let iv = [0x11; IV_LEN];
    let mut block = [0u8; 16];
    block[..4].copy_from_slice(&5u32.to_be_bytes());
    // Valid: 12 bytes of 0x0c after the packet-id.
    block[4..].fill(12);
    assert_eq!(key.open(&mut forge(&key, &iv, &block), 4).unwrap().0, 5);
    type Spoil = dyn Fn(&mut [u8; 16]);
    let bad_paddings: [&Spoil; 5] = [
        &|b| b[15] = 0,       // a zero pad byte
        &|b| b[15] = 17,      // longer than a block
        &|b| b[10] = 0x0b,    // one pad byte differs
        &|b| b[4..].fill(13), // claims 13 bytes: the 13th is the packet-id's last byte
        &|b| b.fill(16),      // a whole block of padding: no packet-id left
    ];
    for (i, spoil) in bad_paddings.iter().enumerate() {
        let mut plain = block;
        spoil(&mut plain);
        let result = key.open(&mut forge(&key, &iv, &plain), 4).map(|(id, _)| id);
        assert_eq!(result, Err(CryptoFailure::BadPadding), "case {i}");
    }
    // A whole block of padding after a one-block payload is valid.
    let mut two = [16u8; 32];
    two[..4].copy_from_slice(&6u32.to_be_bytes());
    two[4..16].fill(0xAA);
    let mut packet = forge(&key, &iv, &two);
    let (id, payload) = key.open(&mut packet, 4).unwrap();
    assert_eq!((id, payload.len()), (6, 12));
}

#[test]
fn seal_refuses_a_buffer_of_the_wrong_length() {
    let halves = halves("", "");
    let key = key(false, AuthDigest::Sha1, &halves);
    for len in [0, 10, 4 + key.sealed_len(5) - 1, 4 + key.sealed_len(5) + 1] {
        let mut packet = vec![0; len];
        assert_eq!(key.seal(&mut packet, 4, 5), Err(CryptoFailure::Length));
    }
    assert_eq!(
        key.seal(&mut [0; 64], usize::MAX, 0),
        Err(CryptoFailure::Length)
    );
    assert_eq!(
        key.open(&mut [0; 64], usize::MAX).map(|(id, _)| id),
        Err(CryptoFailure::Length)
    );
}

#[test]
fn random_packets_never_panic() {
    let halves = halves("", "");
    let keys = [
        key(false, AuthDigest::Sha1, &halves),
        key(true, AuthDigest::Sha512, &halves),
    ];
    let seeds = vec![
        hex(STOCK_AES128_SHA1.packet),
        hex(OPENSSL_AES256_SHA512.packet),
    ];
    let mut rng = Rng(0x00C0_FFEE);
    for _ in 0..2_000 {
        let mut packet = rng.mutate(&seeds);
        for (i, key) in keys.iter().enumerate() {
            let hdr = rng.below(6);
            let _ = key.open(&mut packet.clone(), hdr);
            let _ = key.seal(&mut packet, hdr, rng.below(40) * i);
        }
    }
}

#[test]
fn parallel_decryption_matches_the_serial_definition() {
    // Lengths around the 8-block chunk size, decrypted by the chunked code and by the plain
    // definition P_i = D(C_i) ^ C_(i-1).
    let aes = Aes256::new(GenericArray::from_slice(&[7; 32]));
    let iv = [0x5A; IV_LEN];
    for blocks in [1, 7, 8, 9, 16, 17, 95] {
        let mut data: Vec<u8> = (0..blocks * BLOCK_LEN).map(|i| (i * 13) as u8).collect();
        let ciphertext = data.clone();
        cbc_decrypt(&aes, &iv, &mut data);
        let mut chain = iv.to_vec();
        for (i, c) in ciphertext.chunks(BLOCK_LEN).enumerate() {
            let mut block = Block::clone_from_slice(c);
            aes.decrypt_block(&mut block);
            let expected: Vec<u8> = block.iter().zip(&chain).map(|(d, p)| d ^ p).collect();
            assert_eq!(
                &data[i * BLOCK_LEN..][..BLOCK_LEN],
                expected.as_slice(),
                "{blocks}/{i}"
            );
            chain = c.to_vec();
        }
        cbc_encrypt(&aes, &iv, &mut data);
        assert_eq!(data, ciphertext);
    }
}
