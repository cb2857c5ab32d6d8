//! [`DataChannel`] with the legacy CBC+HMAC ciphers: a stock server's packet opened through the
//! channel, sizes, every kind of bad packet with its typed error, replay, key changes.

use super::cbc::tests::{halves, STOCK_AES128_SHA1, STOCK_AES256_SHA256};
use super::cipher::tests::hex;
use super::tests::{config, key_block, open_frame, pair, seal, COMPRESSIONS};
use super::*;
use crate::openvpn::wrap::AuthDigest;
use crate::testutil::{t0, Rng};

const CBC: [DataCipher; 2] = [DataCipher::Aes128Cbc, DataCipher::Aes256Cbc];
const DIGESTS: [AuthDigest; 3] = [AuthDigest::Sha1, AuthDigest::Sha256, AuthDigest::Sha512];

fn cbc_config(auth: AuthDigest, peer_id: Option<u32>) -> DataConfig {
    DataConfig {
        auth,
        ..config(Compression::None, peer_id)
    }
}

#[test]
fn stock_server_packets_open_through_the_channel() {
    let now = t0();
    for (vector, cipher) in [
        (STOCK_AES256_SHA256, DataCipher::Aes256Cbc),
        (STOCK_AES128_SHA1, DataCipher::Aes128Cbc),
    ] {
        let (cipher_half, hmac_half) = halves(vector.cipher_key, vector.hmac_key);
        let secret = DirectionSecret {
            cipher: &cipher_half,
            hmac: &hmac_half,
        };
        let keys = KeyMaterial {
            encrypt: secret,
            decrypt: secret,
        };
        let mut channel = DataChannel::new(cbc_config(vector.auth, Some(0))).unwrap();
        channel.install(0, cipher, &keys, now).unwrap();
        let mut packet = hex(vector.packet);
        let frame = hex(vector.payload);
        match channel.decrypt_in_place(&mut packet, now) {
            Ok(Decrypted::Frame(payload)) => assert_eq!(payload, frame.as_slice()),
            other => panic!("{other:?}"),
        }
        // The same packet again is a replay of packet-id 1.
        let mut again = hex(vector.packet);
        assert!(matches!(
            channel.decrypt_in_place(&mut again, now),
            Err(DataError::Replay { key_id: 0, .. })
        ));
        // With the wrong `auth` the HMAC cannot verify (or the lengths no longer fit).
        let other = if vector.auth == AuthDigest::Sha1 {
            AuthDigest::Sha256
        } else {
            AuthDigest::Sha1
        };
        let mut wrong = DataChannel::new(cbc_config(other, Some(0))).unwrap();
        wrong.install(0, cipher, &keys, now).unwrap();
        let mut packet = hex(vector.packet);
        let result = wrong.decrypt_in_place(&mut packet, now);
        assert!(
            matches!(
                result,
                Err(DataError::AuthFailed { .. } | DataError::Misaligned { .. })
            ),
            "{result:?}"
        );
    }
}

#[test]
fn sizes_and_overheads() {
    let now = t0();
    let block = key_block(70);
    // V2 header 4 + HMAC-SHA256 32 + IV 16 + CBC(4 + 98 + 10 padding) = 164, as captured (§6.3).
    let (mut client, _) = pair(
        cbc_config(AuthDigest::Sha256, Some(0)),
        DataCipher::Aes256Cbc,
        &block,
        now,
    );
    assert_eq!(seal(&mut client, &[0; 98]).len(), 164);
    assert_eq!(client.overhead(), 4 + 32 + 16 + 4 + 16);
    let mut out = [0; 16 + MAX_OVERHEAD];
    // A ping: 4 + 32 + 16 + CBC(4 + 16 + 12) = 84.
    assert_eq!(client.encrypt_ping(&mut out), Ok(84));
    // The worst case: SHA512, V2, stub framing.
    let (mut heavy, _) = pair(
        DataConfig {
            auth: AuthDigest::Sha512,
            ..config(Compression::StubV2, Some(0))
        },
        DataCipher::Aes128Cbc,
        &block,
        now,
    );
    assert_eq!(heavy.overhead(), MAX_OVERHEAD);
    for len in 0..64 {
        let frame = vec![0x50; len];
        assert!(seal(&mut heavy, &frame).len() <= len + heavy.overhead());
    }
    // Before any key: the worst case for the configured digest.
    let empty = DataChannel::new(cbc_config(AuthDigest::Sha1, None)).unwrap();
    assert_eq!(empty.overhead(), 1 + 20 + 16 + 4 + 16);
}

#[test]
fn bad_packets_get_typed_errors_and_leave_the_window_alone() {
    let now = t0();
    for (cipher, auth) in CBC.into_iter().zip([AuthDigest::Sha1, AuthDigest::Sha512]) {
        let block = key_block(80);
        let (mut client, mut server) = pair(cbc_config(auth, Some(3)), cipher, &block, now);
        let packet = seal(&mut client, &[0x22; 45]);
        let h = auth.tag_len();
        // Any flipped bit after the header: HMAC (0..h), IV, ciphertext.
        for byte in 4..packet.len() {
            let mut forged = packet.clone();
            forged[byte] ^= 0x10;
            assert_eq!(
                server.decrypt_in_place(&mut forged, now),
                Err(DataError::AuthFailed { key_id: 0 }),
                "{cipher} byte {byte}"
            );
        }
        // Truncated below one block, then not whole blocks.
        let min = 4 + h + 16 + 16;
        for len in 1..packet.len() {
            let mut truncated = packet[..len].to_vec();
            let result = server.decrypt_in_place(&mut truncated, now);
            let expected = if len < min {
                DataError::TooShort { len, min }
            } else if (len - 4 - h - 16) % 16 != 0 {
                DataError::Misaligned { len }
            } else {
                DataError::AuthFailed { key_id: 0 }
            };
            assert_eq!(result, Err(expected), "{cipher} len {len}");
        }
        assert_eq!(
            DataError::Misaligned { len: 1 }.kind(),
            ErrorKind::Malformed
        );
        // None of that consumed packet-id 1.
        assert_eq!(
            open_frame(&mut server, packet.clone(), now),
            Ok(vec![0x22; 45])
        );
        assert!(matches!(
            open_frame(&mut server, packet, now),
            Err(DataError::Replay { key_id: 0, .. })
        ));
    }
}

#[test]
fn replay_and_reordering_follow_the_window() {
    let now = t0();
    let block = key_block(90);
    let (mut client, mut server) = pair(
        cbc_config(AuthDigest::Sha256, None),
        DataCipher::Aes256Cbc,
        &block,
        now,
    );
    let packets: Vec<Vec<u8>> = (0..70u8).map(|i| seal(&mut client, &[i; 33])).collect();
    let open = |server: &mut DataChannel, i: usize| open_frame(server, packets[i].clone(), now);
    for i in [1, 0, 6] {
        assert_eq!(open(&mut server, i), Ok(vec![i as u8; 33]));
    }
    let replay = |reason| Err(DataError::Replay { key_id: 0, reason });
    assert_eq!(open(&mut server, 0), replay(ReplayError::Duplicate(1)));
    assert_eq!(open(&mut server, 69), Ok(vec![69; 33]));
    assert_eq!(
        open(&mut server, 5),
        replay(ReplayError::TooOld { id: 6, newest: 70 })
    );
}

#[test]
fn cbc_keys_rotate_like_aead_keys() {
    let now = t0();
    let (block0, block1) = (key_block(100), key_block(101));
    let cfg = cbc_config(AuthDigest::Sha256, Some(1));
    let (mut client, mut server) = pair(cfg, DataCipher::Aes128Cbc, &block0, now);
    let old = seal(&mut server, &[1; 20]);
    client
        .install(
            1,
            DataCipher::Aes128Cbc,
            &KeyMaterial::from_key_block(&block1),
            now,
        )
        .unwrap();
    assert_eq!(client.current_key(), Some((1, DataCipher::Aes128Cbc)));
    assert_eq!(open_frame(&mut client, old, now), Ok(vec![1; 20]));
    let new = seal(&mut client, &[2; 20]);
    assert_eq!(new[0], 0x49);
    // The server has no key_id 1 yet: quiet.
    assert_eq!(open_frame(&mut server, new, now), Err(DataError::NoKey(1)));
}

#[test]
fn random_packets_never_panic_and_seal_respects_the_buffer() {
    let now = t0();
    let mut rng = Rng(0xCBC0_0000_0000_0001);
    for (i, auth) in DIGESTS.into_iter().enumerate() {
        let compression = COMPRESSIONS[i];
        let block = key_block(110 + i as u64);
        let cfg = DataConfig {
            auth,
            ..config(compression, Some(2))
        };
        let (mut client, mut server) = pair(cfg, CBC[i % 2], &block, now);
        let valid = seal(&mut server, &[0x50, 0, 1, 2]);
        let mut buf = [0u8; 300];
        for _ in 0..2_000 {
            let len = rng.below(buf.len());
            rng.fill(&mut buf[..len]);
            if len > 0 && rng.below(2) == 0 {
                buf[0] = [0x30, 0x48][rng.below(2)];
            }
            assert!(client.decrypt_in_place(&mut buf[..len], now).is_err());
            let mut out = [0u8; 200];
            let out_len = rng.below(out.len());
            let frame_len = rng.below(100);
            let n = client.encrypt_frame(&buf[..frame_len], &mut out[..out_len]);
            if let Ok(n) = n {
                assert!(n <= out_len && n <= frame_len + client.overhead());
            }
        }
        assert_eq!(open_frame(&mut client, valid, now), Ok(vec![0x50, 0, 1, 2]));
    }
}
