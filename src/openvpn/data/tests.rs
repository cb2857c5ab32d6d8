//! [`DataChannel`] end to end: Appendix B.1, a client/server pair in every configuration,
//! tampering, replay, key changes, packet-id exhaustion and a deterministic fuzz loop.

use std::time::Instant;

use super::cipher::tests::{b1_halves, hex, B1_PACKET, PING};
use super::*;
use crate::openvpn::wrap::AuthDigest;
use crate::testutil::{at, t0};

pub(super) const COMPRESSIONS: [Compression; 4] = [
    Compression::None,
    Compression::CompLzo,
    Compression::Stub,
    Compression::StubV2,
];

use crate::testutil::Rng;

pub(super) fn key_block(seed: u64) -> [u8; 256] {
    let mut block = [0; 256];
    Rng(seed | 1).fill(&mut block);
    block
}

/// The server's view of a client key block: the directions swapped.
pub(super) fn server_keys(block: &[u8; 256]) -> KeyMaterial<'_> {
    let client = KeyMaterial::from_key_block(block);
    KeyMaterial {
        encrypt: client.decrypt,
        decrypt: client.encrypt,
    }
}

pub(super) fn config(compression: Compression, peer_id: Option<u32>) -> DataConfig {
    DataConfig {
        compression,
        peer_id,
        ..DataConfig::default()
    }
}

/// A client and a server channel sharing key generation `key_id` from `block`.
pub(super) fn pair(
    cfg: DataConfig,
    cipher: DataCipher,
    block: &[u8; 256],
    now: Instant,
) -> (DataChannel, DataChannel) {
    let mut client = DataChannel::new(cfg).unwrap();
    let mut server = DataChannel::new(cfg).unwrap();
    client
        .install(0, cipher, &KeyMaterial::from_key_block(block), now)
        .unwrap();
    server.install(0, cipher, &server_keys(block), now).unwrap();
    (client, server)
}

pub(super) fn seal(channel: &mut DataChannel, frame: &[u8]) -> Vec<u8> {
    let mut out = vec![0; frame.len() + channel.overhead()];
    let n = channel.encrypt_frame(frame, &mut out).unwrap();
    out.truncate(n);
    out
}

pub(super) fn open_frame(
    channel: &mut DataChannel,
    mut packet: Vec<u8>,
    now: Instant,
) -> Result<Vec<u8>, DataError> {
    match channel.decrypt_in_place(&mut packet, now)? {
        Decrypted::Frame(frame) => Ok(frame.to_vec()),
        other => panic!("expected a frame, got {other:?}"),
    }
}

#[test]
fn appendix_b1_decrypts_to_a_ping_and_encrypts_byte_for_byte() {
    let now = t0();
    let (cipher_half, hmac_half) = b1_halves();
    let secret = DirectionSecret {
        cipher: &cipher_half,
        hmac: &hmac_half,
    };
    let keys = KeyMaterial {
        encrypt: secret,
        decrypt: secret,
    };
    let mut channel = DataChannel::new(config(Compression::None, Some(0))).unwrap();
    channel
        .install(1, DataCipher::Aes256Gcm, &keys, now)
        .unwrap();
    let mut packet = hex(B1_PACKET);
    assert_eq!(
        channel.decrypt_in_place(&mut packet, now),
        Ok(Decrypted::Ping)
    );

    let mut out = [0; 64];
    let n = channel.encrypt_ping(&mut out).unwrap();
    assert_eq!(n, 40, "§6.2: a ping is 40 bytes");
    assert_eq!(out[..n], hex(B1_PACKET));
    assert_eq!(hex(PING), PING_MAGIC);
}

#[test]
fn every_cipher_header_and_framing_round_trips() {
    let now = t0();
    let frames: [&[u8]; 5] = [
        &[0xAA; 98],
        &[0x50, 0x00, 0x00, 0x00, 0x00, 0x02],
        &[0x50],
        &[0xFA],
        &[0x00; 1514],
    ];
    let digests = [AuthDigest::Sha1, AuthDigest::Sha256, AuthDigest::Sha512];
    for (i, cipher) in DataCipher::ALL.into_iter().enumerate() {
        for (j, peer_id) in [None, Some(0x0012_3456)].into_iter().enumerate() {
            for (k, compression) in COMPRESSIONS.into_iter().enumerate() {
                let block = key_block(i as u64 + 7);
                let cfg = DataConfig {
                    auth: digests[(j + k) % 3],
                    ..config(compression, peer_id)
                };
                let (mut client, mut server) = pair(cfg, cipher, &block, now);
                for frame in frames {
                    let packet = seal(&mut client, frame);
                    let header = if peer_id.is_some() { 0x48 } else { 0x30 };
                    assert_eq!(packet[0], header);
                    assert_eq!(open_frame(&mut server, packet, now), Ok(frame.to_vec()));
                    let packet = seal(&mut server, frame);
                    assert_eq!(open_frame(&mut client, packet, now), Ok(frame.to_vec()));
                }
                let mut out = [0; 16 + MAX_OVERHEAD];
                let n = client.encrypt_ping(&mut out).unwrap();
                assert!(n <= 16 + client.overhead());
                assert_eq!(
                    server.decrypt_in_place(&mut out[..n], now),
                    Ok(Decrypted::Ping)
                );
                let n = server.encrypt_occ(OccKind::Request, &[], &mut out).unwrap();
                assert_eq!(
                    client.decrypt_in_place(&mut out[..n], now),
                    Ok(Decrypted::Occ {
                        kind: OccKind::Request,
                        body: &[]
                    })
                );
            }
        }
    }
}

#[test]
fn packet_sizes_follow_the_brief() {
    let now = t0();
    let block = key_block(1);
    let (mut v2, _) = pair(
        config(Compression::None, Some(0)),
        DataCipher::Aes128Gcm,
        &block,
        now,
    );
    assert_eq!(seal(&mut v2, &[0; 98]).len(), 122);
    assert_eq!(v2.overhead(), 24);
    let (mut v1, _) = pair(
        config(Compression::StubV2, None),
        DataCipher::Aes128Gcm,
        &block,
        now,
    );
    assert_eq!(seal(&mut v1, &[0; 98]).len(), 98 + 21);
    assert_eq!(v1.overhead(), 23);
    assert!(v1.overhead() <= MAX_OVERHEAD);
}

/// The peer (raw framing) writes the plaintext bytes; `client` reads them with `compression`.
fn receive_framed(compression: Compression, plaintext: &[u8]) -> Result<Vec<u8>, DataError> {
    let now = t0();
    let block = key_block(3);
    let (mut client, _) = pair(
        config(compression, Some(1)),
        DataCipher::Aes256Gcm,
        &block,
        now,
    );
    let (_, mut raw_server) = pair(
        config(Compression::None, Some(1)),
        DataCipher::Aes256Gcm,
        &block,
        now,
    );
    let packet = seal(&mut raw_server, plaintext);
    open_frame(&mut client, packet, now)
}

#[test]
fn received_framing_quirks_and_compressed_data() {
    let frame = [0x50, 0, 0, 0, 0, 2, 1, 1];
    let mut stock_escape = vec![0x50, 0x0A];
    stock_escape.extend_from_slice(&frame);
    assert_eq!(
        receive_framed(Compression::StubV2, &stock_escape),
        Ok(frame.to_vec())
    );
    let lzo = DataError::UnsupportedCompression(CompressionAlgorithm::Lzo);
    let lz4 = DataError::UnsupportedCompression(CompressionAlgorithm::Lz4);
    assert_eq!(
        receive_framed(Compression::CompLzo, &[0x66, 1, 2]),
        Err(lzo.clone())
    );
    assert_eq!(
        receive_framed(Compression::Stub, &[0x69, 1, 2]),
        Err(lz4.clone())
    );
    assert_eq!(
        receive_framed(Compression::StubV2, &[0x50, 0x01, 2]),
        Err(lz4)
    );
    assert_eq!(lzo.kind(), ErrorKind::Incompatible);
    // An unframed ping where comp-lzo framing was negotiated is refused (the stock behaviour).
    assert_eq!(
        receive_framed(Compression::CompLzo, &PING_MAGIC),
        Err(DataError::BadCompressionByte(0x2A))
    );
}

#[test]
fn any_single_bit_flip_is_rejected_and_does_not_disturb_the_window() {
    let now = t0();
    for peer_id in [None, Some(5)] {
        let block = key_block(11);
        let (mut client, mut server) = pair(
            config(Compression::CompLzo, peer_id),
            DataCipher::ChaCha20Poly1305,
            &block,
            now,
        );
        let packet = seal(&mut client, &[0x11; 60]);
        for byte in 0..packet.len() {
            for bit in 0..8 {
                let mut forged = packet.clone();
                forged[byte] ^= 1 << bit;
                let result = server.decrypt_in_place(&mut forged, now);
                assert!(result.is_err(), "flip {byte}.{bit} accepted: {result:?}");
            }
        }
        let mut forged = packet.clone();
        forged[peer_id.map_or(1, |_| 4) + 5] ^= 1; // inside the tag
        assert_eq!(
            server.decrypt_in_place(&mut forged, now),
            Err(DataError::AuthFailed { key_id: 0 })
        );
        assert_eq!(open_frame(&mut server, packet, now), Ok(vec![0x11; 60]));
    }
}

#[test]
fn replays_are_refused_and_reordering_within_the_window_is_accepted() {
    let now = t0();
    let block = key_block(5);
    let (mut client, mut server) = pair(
        config(Compression::None, Some(0)),
        DataCipher::Aes128Gcm,
        &block,
        now,
    );
    let packets: Vec<Vec<u8>> = (0..70u8).map(|i| seal(&mut client, &[i; 20])).collect();
    for i in [2, 0, 1, 4, 3] {
        assert_eq!(
            open_frame(&mut server, packets[i].clone(), now),
            Ok(vec![i as u8; 20])
        );
    }
    let duplicate = open_frame(&mut server, packets[1].clone(), now);
    assert_eq!(
        duplicate,
        Err(DataError::Replay {
            key_id: 0,
            reason: ReplayError::Duplicate(2)
        })
    );
    assert_eq!(
        open_frame(&mut server, packets[69].clone(), now),
        Ok(vec![69; 20])
    );
    let too_old = open_frame(&mut server, packets[5].clone(), now);
    assert_eq!(
        too_old,
        Err(DataError::Replay {
            key_id: 0,
            reason: ReplayError::TooOld { id: 6, newest: 70 }
        })
    );
    assert_eq!(
        open_frame(&mut server, packets[6].clone(), now),
        Ok(vec![6; 20])
    );
    let late = open_frame(&mut server, packets[7].clone(), at(now, 16_000));
    assert_eq!(
        late,
        Err(DataError::Replay {
            key_id: 0,
            reason: ReplayError::TooLate(8)
        })
    );
}

#[test]
fn key_change_keeps_the_lame_duck_until_it_expires() {
    let base = t0();
    let (block0, block1) = (key_block(20), key_block(21));
    let cfg = config(Compression::StubV2, Some(9));
    let (mut client, mut server) = pair(cfg, DataCipher::Aes256Gcm, &block0, base);
    let old_packets: Vec<Vec<u8>> = (0..3u8).map(|i| seal(&mut server, &[i; 30])).collect();

    client
        .install(
            1,
            DataCipher::Aes256Gcm,
            &KeyMaterial::from_key_block(&block1),
            at(base, 1_000),
        )
        .unwrap();
    server
        .install(
            1,
            DataCipher::Aes256Gcm,
            &server_keys(&block1),
            at(base, 1_000),
        )
        .unwrap();
    assert_eq!(client.current_key(), Some((1, DataCipher::Aes256Gcm)));
    assert_eq!(client.lame_duck_key_id(), Some(0));
    assert_eq!(client.next_expiry(), Some(at(base, 1_000 + 3_600_000)));

    let new_packet = seal(&mut client, &[7; 30]);
    assert_eq!(new_packet[..4], [0x49, 0, 0, 9]);
    assert_eq!(
        new_packet[4..8],
        [0, 0, 0, 1],
        "packet-ids restart at 1 per key"
    );
    assert_eq!(
        open_frame(&mut server, new_packet, at(base, 1_001)),
        Ok(vec![7; 30])
    );
    assert_eq!(
        open_frame(&mut client, old_packets[0].clone(), at(base, 2_000)),
        Ok(vec![0; 30])
    );
    let fresh = seal(&mut server, &[8; 30]);
    assert_eq!(
        open_frame(&mut client, fresh, at(base, 2_000)),
        Ok(vec![8; 30])
    );

    // Lazily ignored once expired, and freed by `expire`.
    let expiry = at(base, 1_000 + 3_600_000);
    assert_eq!(
        open_frame(&mut client, old_packets[1].clone(), expiry),
        Err(DataError::NoKey(0))
    );
    assert_eq!(client.lame_duck_key_id(), None);
    client.expire(expiry);
    assert_eq!(client.next_expiry(), None);
    assert_eq!(
        open_frame(&mut client, old_packets[2].clone(), expiry),
        Err(DataError::NoKey(0))
    );
}

#[test]
fn unknown_key_ids_and_missing_keys_are_quiet() {
    let now = t0();
    let mut empty = DataChannel::new(DataConfig::default()).unwrap();
    let mut packet = hex(B1_PACKET);
    let error = empty.decrypt_in_place(&mut packet, now).unwrap_err();
    assert_eq!(error, DataError::NoKey(1));
    assert_eq!(error.kind(), ErrorKind::Quiet);
    assert_eq!(empty.encrypt_ping(&mut [0; 64]), Err(DataError::NoSendKey));
    assert!(!empty.wants_rekey());
    assert_eq!(empty.current_key(), None);

    let block = key_block(30);
    let (mut client, mut server) = pair(
        config(Compression::None, None),
        DataCipher::Aes128Gcm,
        &block,
        now,
    );
    let mut packet = seal(&mut client, &[1; 10]);
    packet[0] = 0x33; // P_DATA_V1, key_id 3
    assert_eq!(
        server.decrypt_in_place(&mut packet, now),
        Err(DataError::NoKey(3))
    );
    packet[0] = 0x20; // P_CONTROL_V1
    assert_eq!(
        server.decrypt_in_place(&mut packet, now),
        Err(DataError::NotData(0x20))
    );
    assert_eq!(
        DataChannel::new(config(Compression::None, Some(0x0100_0000))).unwrap_err(),
        DataError::InvalidPeerId(0x0100_0000)
    );
    assert_eq!(
        client.install(
            8,
            DataCipher::Aes128Gcm,
            &KeyMaterial::from_key_block(&block),
            now
        ),
        Err(DataError::InvalidKeyId(8))
    );
}

#[test]
fn packet_id_exhaustion_asks_for_a_rekey_then_refuses() {
    let now = t0();
    let block = key_block(40);
    let (mut client, mut server) = pair(
        config(Compression::Stub, Some(0)),
        DataCipher::ChaCha20Poly1305,
        &block,
        now,
    );
    client.set_next_packet_id(REKEY_TRIGGER - 1);
    let _ = seal(&mut client, &[1; 8]);
    assert!(!client.wants_rekey());
    let _ = seal(&mut client, &[1; 8]);
    assert!(client.wants_rekey());
    client.set_next_packet_id(u32::MAX - 1);
    let last = seal(&mut client, &[2; 8]);
    assert_eq!(last[4..8], [0xFF, 0xFF, 0xFF, 0xFE]);
    assert_eq!(open_frame(&mut server, last, now), Ok(vec![2; 8]));
    let mut out = [0; 64];
    let error = client.encrypt_frame(&[3; 8], &mut out).unwrap_err();
    assert_eq!(error, DataError::PacketIdExhausted(0));
    assert_eq!(error.kind(), ErrorKind::Local);

    let fresh = key_block(41);
    client
        .install(
            1,
            DataCipher::ChaCha20Poly1305,
            &KeyMaterial::from_key_block(&fresh),
            now,
        )
        .unwrap();
    assert!(!client.wants_rekey());
    assert!(client.encrypt_frame(&[3; 8], &mut out).is_ok());
}

#[test]
fn a_too_small_buffer_is_refused_without_using_a_packet_id() {
    let now = t0();
    let block = key_block(50);
    let (mut client, mut server) = pair(
        config(Compression::CompLzo, Some(0)),
        DataCipher::Aes128Gcm,
        &block,
        now,
    );
    let frame = [9u8; 40];
    let mut out = vec![0; frame.len() + client.overhead()];
    assert_eq!(
        client.encrypt_frame(&frame, &mut out[..64]),
        Err(DataError::BufferTooSmall { need: 65, have: 64 })
    );
    let n = client.encrypt_frame(&frame, &mut out).unwrap();
    assert_eq!(n, out.len());
    assert_eq!(out[4..8], [0, 0, 0, 1]);
    assert_eq!(open_frame(&mut server, out, now), Ok(frame.to_vec()));
}

#[test]
fn fuzzed_and_truncated_packets_never_panic() {
    let now = t0();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    for compression in COMPRESSIONS {
        let block = key_block(60);
        let cfg = config(compression, Some(2));
        let (mut client, mut server) = pair(cfg, DataCipher::Aes256Gcm, &block, now);
        let valid = seal(&mut server, &[0x50, 0, 1, 2, 3, 4, 5]);
        for len in 0..valid.len() {
            assert!(client
                .decrypt_in_place(&mut valid[..len].to_vec(), now)
                .is_err());
        }
        let mut buf = [0u8; 200];
        for _ in 0..3_000 {
            let len = rng.below(buf.len());
            rng.fill(&mut buf[..len]);
            if len > 0 && rng.below(2) == 0 {
                buf[0] = [0x30, 0x48, 0x31, 0x49][rng.below(4)];
            }
            assert!(client.decrypt_in_place(&mut buf[..len], now).is_err());
            let mut out = [0u8; 100];
            let out_len = rng.below(out.len());
            let frame = &buf[..rng.below(64)];
            let _ = client.encrypt_frame(frame, &mut out[..out_len]);
        }
        assert_eq!(
            open_frame(&mut client, valid, now),
            Ok(vec![0x50, 0, 1, 2, 3, 4, 5])
        );
    }
}
