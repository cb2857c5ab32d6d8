//! Ring-2 tests of the legacy data channel in the client engine: the real engine against the
//! scripted OpenVPN server, with a pushed CBC cipher (§6.3), with a server that pushes no cipher at
//! all (pre-NCP: the configured fallback is used), and the ways that can go wrong. Deterministic.

// Only the OpenVPN harness of `common` (the rest of it drives the async driver).
#[path = "common/ovpn_net.rs"]
mod ovpn_net;
#[path = "common/ovpn_server.rs"]
mod ovpn_server;
#[path = "common/tls_server.rs"]
mod tls_server;

use std::sync::Arc;

use ovpn_net::{server_config, Net};
use ovpn_server::{ServerConfig, ServerWrap};
use tapclient::openvpn::client::{PacketError, Settings};
use tapclient::openvpn::data::{DataCipher, DataError};
use tapclient::openvpn::wire::Opcode;
use tapclient::openvpn::wrap::AuthDigest;

/// A stock 2.6 server with `data-ciphers AES-256-CBC` pushes it like any negotiated cipher.
const CBC_PUSH: &str = "PUSH_REPLY,route-gateway 10.99.0.1,ping 10,ping-restart 60,\
     ifconfig 10.99.0.2 255.255.255.0,peer-id 0,cipher AES-256-CBC,\
     protocol-flags cc-exit tls-ekm,tun-mtu 1500";
/// A server without cipher negotiation (before 2.4, or a client it considers pre-NCP): no
/// `cipher`, no `peer-id` (P_DATA_V1), no `protocol-flags` (legacy PRF keys).
const PRE_NCP_PUSH: &str = "PUSH_REPLY,route-gateway 10.99.0.1,ping 10,ping-restart 60,\
     ifconfig 10.99.0.2 255.255.255.0";

/// The stock client settings with the data-channel fields changed.
fn settings(
    ciphers: &[DataCipher],
    fallback: Option<DataCipher>,
    auth: AuthDigest,
) -> Arc<Settings> {
    let mut settings = ovpn_net::settings(&ServerWrap::None);
    settings.ciphers = ciphers.to_vec();
    settings.fallback_cipher = fallback;
    settings.data_auth = auth;
    Arc::new(settings)
}

fn server(push: &str, fallback: Option<DataCipher>, auth: AuthDigest) -> ServerConfig {
    ServerConfig {
        push: push.to_owned(),
        fallback_cipher: fallback,
        data_auth: auth,
        ..server_config()
    }
}

/// The data packets the client sent, as they were on the wire.
fn client_data(net: &Net) -> Vec<Vec<u8>> {
    net.to_server
        .log
        .iter()
        .filter(|sent| matches!(sent.opcode, Opcode::DataV1 | Opcode::DataV2))
        .map(|sent| sent.raw.clone())
        .collect()
}

#[test]
fn a_pushed_cbc_cipher_carries_data_both_ways_and_through_a_rekey() {
    for auth in [AuthDigest::Sha1, AuthDigest::Sha256, AuthDigest::Sha512] {
        let mut net = Net::with_settings(
            settings(&DataCipher::ALL, None, auth),
            server(CBC_PUSH, None, auth),
        );
        net.establish();
        assert_eq!(net.client.current_key(), Some((0, DataCipher::Aes256Cbc)));
        net.round_trip("cbc");
        // §6.3 on the wire: V2 header, HMAC, IV, then whole blocks.
        let sent = client_data(&net);
        let packet = sent.last().expect("a data packet");
        assert_eq!(packet[..4], [0x48, 0, 0, 0]);
        assert_eq!((packet.len() - 4 - auth.tag_len() - 16) % 16, 0, "{auth:?}");
        assert_eq!(net.rekey(), 1);
        assert_eq!(net.client.current_key(), Some((1, DataCipher::Aes256Cbc)));
        net.round_trip("cbc after rekey");
        assert!(net.client_drops.is_empty(), "{:?}", net.client_drops);
        assert!(
            net.server.data_errors.is_empty(),
            "{:?}",
            net.server.data_errors
        );
    }
}

#[test]
fn a_server_that_pushes_no_cipher_gets_the_fallback() {
    let mut net = Net::with_settings(
        settings(
            &DataCipher::DEFAULT,
            Some(DataCipher::Aes128Cbc),
            AuthDigest::Sha1,
        ),
        server(PRE_NCP_PUSH, Some(DataCipher::Aes128Cbc), AuthDigest::Sha1),
    );
    net.establish();
    assert_eq!(net.client.current_key(), Some((0, DataCipher::Aes128Cbc)));
    net.round_trip("pre-NCP");
    // No peer-id pushed: P_DATA_V1, one header byte.
    let sent = client_data(&net);
    let packet = sent.last().expect("a data packet");
    assert_eq!(packet[0], 0x30);
    assert_eq!((packet.len() - 1 - 20 - 16) % 16, 0);
    // The fallback may be an AEAD cipher too.
    let mut net = Net::with_settings(
        settings(
            &DataCipher::DEFAULT,
            Some(DataCipher::Aes256Gcm),
            AuthDigest::Sha1,
        ),
        server(PRE_NCP_PUSH, Some(DataCipher::Aes256Gcm), AuthDigest::Sha1),
    );
    net.establish();
    assert_eq!(net.client.current_key(), Some((0, DataCipher::Aes256Gcm)));
    net.round_trip("pre-NCP AEAD");
}

#[test]
fn without_a_fallback_a_server_that_pushes_no_cipher_is_refused() {
    let mut net = Net::with_settings(
        settings(&DataCipher::ALL, None, AuthDigest::Sha1),
        server(PRE_NCP_PUSH, Some(DataCipher::Aes256Cbc), AuthDigest::Sha1),
    );
    assert!(net.run_until(ovpn_net::HAND_WINDOW, |n| n.fatal().is_some()));
    let (authentication, reason) = net.fatal().unwrap();
    assert!(!authentication);
    assert!(reason.contains("pushed no data cipher"), "{reason}");
    assert!(reason.contains("cipher"), "{reason}");
    assert_eq!(net.established_at(), None);
}

#[test]
fn a_pushed_cbc_cipher_we_did_not_offer_is_refused() {
    let mut net = Net::with_settings(
        settings(
            &DataCipher::DEFAULT,
            Some(DataCipher::Aes256Cbc),
            AuthDigest::Sha256,
        ),
        server(CBC_PUSH, None, AuthDigest::Sha256),
    );
    assert!(net.run_until(ovpn_net::HAND_WINDOW, |n| n.fatal().is_some()));
    let (_, reason) = net.fatal().unwrap();
    assert!(
        reason.contains("AES-256-CBC which tapclient did not offer"),
        "{reason}"
    );
}

#[test]
fn a_different_auth_digest_drops_every_data_packet_with_a_typed_error() {
    let mut net = Net::with_settings(
        settings(&DataCipher::ALL, None, AuthDigest::Sha1),
        server(CBC_PUSH, None, AuthDigest::Sha256),
    );
    net.establish();
    net.send_from_server(b"server frame");
    net.run_for(ovpn_net::SECOND);
    assert!(net.client_frames.is_empty());
    assert!(
        net.client_drops.iter().all(|drop| matches!(
            drop,
            PacketError::Data(DataError::AuthFailed { .. } | DataError::Misaligned { .. })
        )),
        "{:?}",
        net.client_drops
    );
    assert!(!net.client_drops.is_empty());
}
