//! Ring-2 tests of the sans-IO OpenVPN client engine (`tapclient::openvpn::client`): the real
//! engine against a scripted OpenVPN 2.6-like server over a simulated network and clock —
//! handshake variants (EKM, PRF, TLS 1.2, tls-auth, tls-crypt), loss, duplication and
//! reordering of control packets, hand-window and ping-restart expiry, renegotiation with a lame
//! duck, and server control messages; client-initiated renegotiation (`renegotiation`),
//! auth-user-pass and auth-token (`auth`), configured fallbacks, phase and EXIT (`lifecycle`).
//! Deterministic; no real time is measured.

// Only the OpenVPN harness of `common` (the rest of it drives the async driver).
#[path = "common/ovpn_net.rs"]
mod ovpn_net;
#[path = "common/ovpn_server.rs"]
mod ovpn_server;
#[path = "common/tls_server.rs"]
mod tls_server;

#[path = "openvpn_engine/auth.rs"]
mod auth;
#[path = "openvpn_engine/lifecycle.rs"]
mod lifecycle;
#[path = "openvpn_engine/renegotiation.rs"]
mod renegotiation;

use std::time::Duration;

use ovpn_net::{fixture, server_config, Fault, Faults, Net, HAND_WINDOW, SECOND};
use ovpn_server::{PushMode, ServerConfig, ServerWrap, EKM_PUSH, PRF_PUSH};
use tapclient::openvpn::client::{Event, PacketError};
use tapclient::openvpn::data::{DataCipher, DataError, OccKind, TRANSITION_WINDOW};
use tapclient::openvpn::push::RouteGateway;
use tapclient::openvpn::wire::{Opcode, SessionId};
use tapclient::openvpn::wrap::{AuthDigest, WrapError};

/// A stock push split in two messages (`push-continuation`, §7.1).
const CONTINUED_PUSH: &str = "PUSH_REPLY,route-gateway 10.99.0.1,ping 10,push-continuation 2\n\
     PUSH_REPLY,ifconfig 10.99.0.2 255.255.255.0,peer-id 0,cipher AES-256-GCM,\
     protocol-flags cc-exit tls-ekm,push-continuation 1";

fn static_key(salt: u8) -> [u8; 256] {
    std::array::from_fn(|i| (i as u8).wrapping_mul(7).wrapping_add(salt))
}

#[test]
fn happy_path_with_ekm() {
    let mut net = Net::new(server_config());
    net.establish();

    let first = &net.to_server.log[0];
    assert_eq!(first.raw.len(), 14, "HARD_RESET_CLIENT_V2 is 14 bytes");
    assert_eq!(first.raw[0], 0x38, "opcode 7, key_id 0");
    assert_ne!(first.raw[1..9], [0; 8], "a non-zero session id");
    assert_eq!(first.raw[9..14], [0, 0, 0, 0, 0], "no ACKs, message id 0");
    let sid = net.server.client_session_id.unwrap();
    assert_eq!(first.raw[1..9], sid.0);
    assert_eq!(
        net.to_server.log[1].acks,
        [0],
        "the server's reset ACKed at once"
    );
    let Some((_, Event::Established(pushed))) = net.event(|e| matches!(e, Event::Established(_)))
    else {
        unreachable!()
    };
    assert_eq!(pushed.ifconfig.unwrap().to_string(), "10.99.0.2/24");
    let gateway = RouteGateway::Addr([10, 99, 0, 1].into());
    assert_eq!(pushed.route_gateway, Some(gateway));
    assert_eq!(pushed.ping, Some(10 * SECOND));
    assert_eq!(pushed.ping_restart, Some(60 * SECOND));
    assert_eq!(pushed.peer_id, Some(0));
    assert!(pushed.uses_ekm());
    assert_eq!(net.client.current_key(), Some((0, DataCipher::Aes256Gcm)));
    assert_eq!(net.server.messages, ["PUSH_REQUEST"]);
    let client_key = &net.server.client_keys[0];
    assert!(
        client_key.options.contains("tls-client"),
        "{}",
        client_key.options
    );
    assert!(client_key.peer_info.contains("IV_PROTO="));
    net.round_trip("ekm 1");
    net.round_trip("ekm 2");
    assert_eq!(net.server.frames.len(), 2);
    // Message ids 0, 1, 2, … without gaps, each sent once.
    let ids: Vec<u32> = net
        .to_server
        .log
        .iter()
        .filter_map(|s| s.message_id)
        .collect();
    assert_eq!(ids, (0..ids.len() as u32).collect::<Vec<_>>());
    assert!(net.client_drops.is_empty(), "{:?}", net.client_drops);
    assert!(net.server.control_drops.is_empty());
}

/// The legacy PRF (push without `tls-ekm`), TLS 1.2, an unsolicited and a two-part push.
#[test]
fn prf_tls12_and_push_variants_establish() {
    let (tls13, tls12) = (&fixture().server_tls13, &fixture().server_tls12);
    let cases = [
        ("TLS 1.3, PRF", tls13, PRF_PUSH, PushMode::OnRequest),
        ("TLS 1.2, PRF", tls12, PRF_PUSH, PushMode::Immediately),
        ("TLS 1.2, EKM", tls12, EKM_PUSH, PushMode::OnRequest),
        (
            "TLS 1.3, unsolicited",
            tls13,
            EKM_PUSH,
            PushMode::Immediately,
        ),
        (
            "TLS 1.3, two-part push",
            tls13,
            CONTINUED_PUSH,
            PushMode::OnRequest,
        ),
    ];
    for (name, tls, push, push_mode) in cases {
        let mut cfg = ServerConfig::new(tls.clone());
        cfg.push = push.to_owned();
        cfg.push_mode = push_mode;
        let mut net = Net::new(cfg);
        net.establish();
        let pushed = net.client.pushed().expect("pushed config");
        assert_eq!(pushed.uses_ekm(), push.contains("tls-ekm"), "{name}");
        assert!(
            pushed.route_gateway.is_some() && pushed.ifconfig.is_some(),
            "{name}"
        );
        net.round_trip(name);
        assert!(
            net.client_drops.is_empty(),
            "{name}: {:?}",
            net.client_drops
        );
    }
}

#[test]
fn tls_auth_and_tls_crypt_variants_establish() {
    let cases = [
        (
            ServerWrap::TlsAuth(static_key(1), AuthDigest::Sha1),
            14 + 20 + 8,
        ),
        (
            ServerWrap::TlsAuth(static_key(2), AuthDigest::Sha512),
            14 + 64 + 8,
        ),
        (ServerWrap::TlsCrypt(static_key(3)), 14 + 32 + 8),
    ];
    for (wrap, reset_len) in cases {
        let mut cfg = server_config();
        cfg.wrap = wrap;
        let mut net = Net::new(cfg);
        net.establish();
        assert_eq!(
            net.to_server.log[0].raw.len(),
            reset_len,
            "wrapped reset size"
        );
        net.round_trip("wrapped");
        assert!(
            net.server.control_drops.is_empty(),
            "{:?}",
            net.server.control_drops
        );
        assert!(net.client_drops.is_empty(), "{:?}", net.client_drops);
    }
}

#[test]
fn a_server_refusing_our_certificate_is_fatal() {
    let mut net = Net::new(ServerConfig::new(fixture().server_other_ca.clone()));
    assert!(
        net.run_until(HAND_WINDOW, |n| n.fatal().is_some()),
        "{:?}",
        net.events
    );
    assert!(net.server.tls_error().is_some());
    let (authentication, reason) = net.fatal().unwrap();
    assert!(authentication, "{reason}");
    assert!(net.restart().is_none());
}

#[test]
fn a_lost_server_reset_is_recovered_by_the_client_retransmitting_after_2s() {
    let mut net = Net::new(server_config());
    net.to_client.faults = Faults::none().at(0, Fault::Drop);
    net.establish();
    let resets = net.to_server.send_times(Opcode::HardResetClientV2, 0, 0);
    assert_eq!(resets, [Duration::ZERO, 2 * SECOND]);
    assert_eq!(
        net.to_server.retransmissions(),
        1,
        "only the reset was repeated"
    );
    net.round_trip("after a lost reset");
}

#[test]
fn lost_tls_packets_are_retransmitted() {
    // Index 1 is the ClientHello (client → server) / the server's first TLS packet.
    for to_server in [true, false] {
        let mut cfg = server_config();
        cfg.control_payload = 300;
        let mut net = Net::new(cfg);
        let faults = Faults::none().at(1, Fault::Drop);
        if to_server {
            net.to_server.faults = faults;
        } else {
            net.to_client.faults = faults;
        }
        let at = net.establish();
        assert!(
            at >= 2 * SECOND && at < 10 * SECOND,
            "established at {at:?}"
        );
        let retransmitted = net.to_server.retransmissions();
        assert!(
            (1..=2).contains(&retransmitted),
            "{retransmitted} retransmissions"
        );
        net.round_trip("after a lost TLS packet");
    }
}

#[test]
fn a_late_packet_within_the_retransmit_timeout_causes_no_retransmission() {
    let mut net = Net::new(server_config());
    let late = Duration::from_millis(1500);
    net.to_client.faults = Faults::none().at(1, Fault::Delay(late)); // the server's TLS flight
    assert_eq!(net.establish(), late);
    assert_eq!(net.to_server.retransmissions(), 0);
    assert_eq!(net.to_client.retransmissions(), 0);
}

#[test]
fn duplicated_control_packets_are_harmless() {
    let mut cfg = server_config();
    cfg.control_payload = 300;
    let mut net = Net::new(cfg);
    net.to_server.faults = Faults::none().random(1, 0, 100, 0);
    net.to_client.faults = Faults::none().random(2, 0, 100, 0);
    assert_eq!(net.establish(), Duration::ZERO, "no timer needed");
    assert_eq!(net.to_server.retransmissions(), 0);
    assert_eq!(net.to_client.retransmissions(), 0);
    net.round_trip("after duplicates");
}

#[test]
fn reordered_control_packets_are_delivered_in_order() {
    let mut cfg = server_config();
    cfg.control_payload = 200; // the server's TLS flight spans several packets
    let mut net = Net::new(cfg);
    let swaps = |indices: &[usize]| {
        let swap = |f: Faults, &i: &usize| f.at(i, Fault::SwapWithNext);
        indices.iter().fold(Faults::none(), swap)
    };
    net.to_client.faults = swaps(&[1, 3, 5, 8]);
    net.to_server.faults = swaps(&[2, 4]);
    assert_eq!(
        net.establish(),
        Duration::ZERO,
        "buffered, no retransmission needed"
    );
    assert_eq!(net.to_server.retransmissions(), 0);
    net.round_trip("after reordering");
}

#[test]
fn seeded_random_loss_duplication_and_reordering_still_establish() {
    for seed in 1..=16u64 {
        let mut cfg = server_config();
        cfg.control_payload = 400;
        let mut net = Net::new(cfg);
        let faults = |seed| Faults::none().random(seed, 20, 10, 10).random_until(16);
        net.to_server.faults = faults(seed);
        net.to_client.faults = faults(seed * 1000 + 7);
        let at = net.establish();
        net.round_trip("after random faults");
        let messages = net.to_server.distinct_messages();
        let retransmitted = net.to_server.retransmissions();
        assert!(
            retransmitted <= 2 * messages,
            "seed {seed}: {retransmitted} retransmissions of {messages} messages by {at:?}"
        );
    }
}

/// Every retransmission needs a fresh replay id, or the server's replay window drops it.
#[test]
fn wrapped_control_channels_survive_loss_and_duplicates() {
    let wraps = [
        ServerWrap::TlsAuth(static_key(4), AuthDigest::Sha256),
        ServerWrap::TlsCrypt(static_key(5)),
    ];
    for (seed, wrap) in (1..=6u64).zip(wraps.iter().cycle()) {
        let mut cfg = server_config();
        cfg.wrap = wrap.clone();
        let mut net = Net::new(cfg);
        let lossy = |seed| {
            let faults = Faults::none().at(0, Fault::Drop).random(seed, 20, 20, 0);
            faults.random_until(16)
        };
        net.to_server.faults = lossy(seed);
        net.to_client.faults = lossy(seed + 100);
        net.establish();
        net.round_trip("wrapped, lossy");
        // Only the network's duplicates were refused, as replays.
        let replay = |e: &PacketError| matches!(e, PacketError::Wrap(WrapError::Replay { .. }));
        assert!(
            net.client_drops.iter().all(replay),
            "{:?}",
            net.client_drops
        );
        let drops = &net.server.control_drops;
        assert!(drops.iter().all(|d| d.contains("replayed")), "{drops:?}");
    }
}

#[test]
fn no_answer_restarts_at_the_hand_window_naming_the_wrapping_keys() {
    let mut net = Net::new(server_config());
    net.to_server.faults = Faults::none().blackhole_from(0);
    net.run_for(HAND_WINDOW + 30 * SECOND);
    let (at, why) = net.restart().expect("a restart");
    assert_eq!(at, HAND_WINDOW);
    assert!(why.contains("tls-auth/tls-crypt"), "{why}");
    assert_eq!(net.events.len(), 1);
    let resets = net.to_server.send_times(Opcode::HardResetClientV2, 0, 0);
    assert_eq!(
        resets[..3],
        [Duration::ZERO, 2 * SECOND, 6 * SECOND],
        "2 s, doubling"
    );
    assert!(resets.len() <= 8, "{resets:?}");
    assert!(
        net.to_server.log.iter().all(|s| s.at < HAND_WINDOW),
        "silent after the restart"
    );
    assert_eq!(net.client.poll_timeout(), None);
}

#[test]
fn a_wrong_tls_crypt_key_looks_like_no_answer() {
    let mut cfg = server_config();
    cfg.wrap = ServerWrap::TlsCrypt(static_key(9));
    let settings = ovpn_net::client_settings(&ServerWrap::TlsCrypt(static_key(10)));
    let mut net = Net::with_settings(settings, cfg);
    net.run_for(HAND_WINDOW + SECOND);
    let (at, why) = net.restart().expect("a restart");
    assert_eq!(at, HAND_WINDOW);
    assert!(why.contains("tls-auth/tls-crypt"), "{why}");
    assert!(!net.server.control_drops.is_empty());
    assert!(net.to_client.log.is_empty(), "the server never answered");
}

#[test]
fn a_stalled_handshake_restarts_at_the_hand_window() {
    let mut net = Net::new(server_config());
    net.to_client.faults = Faults::none().blackhole_from(1); // only the server's reset arrives
    net.run_for(HAND_WINDOW + SECOND);
    let (at, why) = net.restart().expect("a restart");
    assert_eq!(at, HAND_WINDOW);
    assert!(why.contains("handshake"), "{why}");
    assert!(!why.contains("tls-auth"), "the server did answer: {why}");
    assert!(
        net.to_server.retransmissions() <= 8,
        "bounded retransmissions"
    );
}

#[test]
fn server_renegotiation_keeps_data_flowing_and_keeps_a_lame_duck() {
    for push in [EKM_PUSH, PRF_PUSH] {
        let mut cfg = server_config();
        cfg.push = push.to_owned();
        cfg.ping = Some(10 * SECOND); // the server's keepalive keeps the client from restarting
        let mut net = Net::new(cfg);
        net.establish();
        net.round_trip("key 0");
        let late_from_server = net.server.encrypt_frame(net.now, b"late key 0 from server");
        let mut late_from_client = net.client_packet(b"late key 0 from client");
        let too_late = net.server.encrypt_frame(net.now, b"key 0 after two rekeys");

        net.run_for(100 * SECOND);
        net.server.start_renegotiation(net.now);
        let started = net.run_until(5 * SECOND, |n| {
            let hello = |s: &ovpn_net::Sent| s.key_id == 1 && s.opcode == Opcode::ControlV1;
            n.to_server.log.iter().any(hello)
        });
        assert!(
            started,
            "the client answered the SOFT_RESET with a ClientHello"
        );
        let soft_reset = net
            .to_server
            .log
            .iter()
            .find(|s| s.opcode == Opcode::SoftResetV1);
        assert_eq!(
            soft_reset.unwrap().acks,
            [0],
            "its own SOFT_RESET ACKs the server's"
        );
        net.round_trip("during the renegotiation");
        assert_eq!(
            net.client.current_key().map(|k| k.0),
            Some(0),
            "still key 0"
        );
        assert!(net.rekeys().is_empty());

        assert!(
            net.run_until(10 * SECOND, |n| n.rekeys() == [1]),
            "{:?}",
            net.events
        );
        net.round_trip("key 1");
        assert_eq!(net.server.data_key_id(), Some(1));
        assert_eq!(net.to_server.last_data_key_id(), Some(1));
        assert_eq!(net.to_client.last_data_key_id(), Some(1));
        assert_eq!(
            net.server.client_keys.len(),
            2,
            "a key-method exchange per key"
        );

        // Packets of the old key still decrypt after the switch (lame duck), both ways.
        net.deliver_to_client(late_from_server);
        assert_eq!(net.client_frames.last().unwrap(), b"late key 0 from server");
        net.server.handle_packet(net.now, &mut late_from_client);
        assert_eq!(net.server.frames.last().unwrap(), b"late key 0 from client");
        // Control packets of the old key are refused.
        let sid = net.server.session_id;
        let stale = net.server.craft_control(0, sid, &[], None, 99, b"");
        net.deliver_to_client(stale);
        assert!(matches!(
            net.client_drops.last(),
            Some(PacketError::StaleKeyId(0))
        ));

        net.run_for(50 * SECOND);
        assert_eq!(net.rekey(), 2);
        net.round_trip("key 2");
        assert_eq!(net.client.current_key(), Some((2, DataCipher::Aes256Gcm)));
        assert_eq!(net.to_client.last_data_key_id(), Some(2));
        // Two generations back, key 0 is gone.
        net.deliver_to_client(too_late);
        let last = net.client_drops.last();
        assert!(
            matches!(last, Some(PacketError::Data(DataError::NoKey(0)))),
            "{last:?}"
        );
        assert!(net.restart().is_none(), "{:?}", net.events);
    }
}

#[test]
fn key_ids_wrap_from_7_to_1_and_the_lame_duck_expires() {
    let mut cfg = server_config();
    cfg.ping = Some(10 * SECOND);
    let mut net = Net::new(cfg);
    net.establish();
    for expected in [1, 2, 3, 4, 5, 6, 7, 1, 2] {
        assert_eq!(net.rekey(), expected);
        net.round_trip(&format!("key {expected}"));
    }
    let early = net.server.encrypt_frame(net.now, b"lame duck, early");
    let late = net.server.encrypt_frame(net.now, b"lame duck, too late");
    assert_eq!(net.rekey(), 3);
    net.run_for(TRANSITION_WINDOW - 10 * SECOND);
    net.deliver_to_client(early);
    assert_eq!(
        net.client_frames.last().unwrap(),
        b"lame duck, early",
        "{:?}",
        net.client_drops
    );
    net.run_for(20 * SECOND);
    net.deliver_to_client(late);
    let last = net.client_drops.last();
    assert!(
        matches!(last, Some(PacketError::Data(DataError::NoKey(2)))),
        "{last:?}"
    );
    net.round_trip("key 3, an hour later");
    assert!(net.restart().is_none(), "{:?}", net.events);
}

#[test]
fn auth_failed_is_fatal_and_push_requests_repeat_until_then() {
    let mut net = Net::awaiting_push();
    net.run_for(12 * SECOND);
    assert_eq!(net.server.messages, ["PUSH_REQUEST"; 3], "every 5 s");
    net.server.send_control_message("AUTH_FAILED");
    assert!(net.run_until(SECOND, |n| n.fatal().is_some()));
    let (authentication, reason) = net.fatal().unwrap();
    assert!(authentication);
    assert!(reason.contains("AUTH_FAILED"), "{reason}");
    assert!(!net.client.is_established());
    assert_eq!(net.client.poll_timeout(), None, "the engine is done");
}

#[test]
fn restart_halt_and_exit_from_the_server() {
    let cases = [
        ("RESTART,server restarting", true, "server restarting"),
        ("HALT,maintenance", false, "maintenance"),
        ("EXIT", true, "exiting"),
    ];
    for (message, restarts, why) in cases {
        let mut net = Net::new(server_config());
        net.establish();
        net.server.send_control_message(message);
        assert!(net.run_until(SECOND, |n| n.events.len() == 2), "{message}");
        if restarts {
            let (_, reason) = net.restart().expect("a restart");
            assert!(reason.contains(why), "{message}: {reason}");
            assert!(net.fatal().is_none(), "{message}");
        } else {
            let (authentication, reason) = net.fatal().expect("fatal");
            assert!(
                !authentication && reason.contains(why),
                "{message}: {reason}"
            );
            assert!(net.restart().is_none(), "{message}");
        }
    }
    // `N`: the server sends us to the next server of the list.
    let mut net = Net::new(server_config());
    net.establish();
    net.server.send_control_message("RESTART,[N]go elsewhere");
    assert!(net.run_until(SECOND, |n| n.events.len() == 2));
    assert!(
        matches!(net.events.last(), Some((_, Event::NextServer(why))) if why.contains("go elsewhere")),
        "{:?}",
        net.events
    );
    // OCC EXIT over the data channel (§8) ends the connection too.
    let mut net = Net::new(server_config());
    net.establish();
    let exit = net.server.encrypt_occ(net.now, OccKind::Exit);
    net.deliver_to_client(exit);
    let (_, reason) = net.restart().expect("a restart");
    assert!(reason.contains("OCC EXIT"), "{reason}");
}

#[test]
fn keepalive_pings_after_ten_seconds_of_send_silence() {
    let mut net = Net::new(server_config());
    net.establish();
    let quiet_since = net.to_server.log.last().unwrap().at;
    assert!(net.run_until(20 * SECOND, |n| n.server.pings == 1));
    assert_eq!(net.elapsed(), quiet_since + 10 * SECOND);
    // Sending data postpones the next ping.
    net.run_for(4 * SECOND);
    let sent_at = net.elapsed();
    net.send_from_client(b"some traffic");
    assert!(net.run_until(20 * SECOND, |n| n.server.pings == 2));
    assert_eq!(net.elapsed(), sent_at + 10 * SECOND);
    assert_eq!(net.server.frames, [b"some traffic".to_vec()]);
    assert!(
        net.server.data_errors.is_empty(),
        "{:?}",
        net.server.data_errors
    );
}

#[test]
fn ping_restart_when_the_server_falls_silent() {
    let mut net = Net::new(server_config());
    net.establish();
    let heard = net.to_client.log.last().unwrap().at;
    net.run_for(30 * SECOND);
    // Any authentic packet, a ping included, restarts the 60 s timer.
    let ping = net.server.encrypt_ping(net.now);
    net.deliver_to_client(ping);
    let pinged = net.elapsed();
    assert!(pinged < heard + 60 * SECOND);
    net.run_for(120 * SECOND);
    let (at, why) = net.restart().expect("ping-restart");
    assert_eq!(at, pinged + 60 * SECOND);
    assert!(why.contains("ping-restart"), "{why}");
    assert!(
        net.server.pings >= 8,
        "the client kept pinging: {}",
        net.server.pings
    );
    let after = net.to_server.log.iter().filter(|s| s.at > at);
    assert_eq!(after.count(), 0, "silent after the restart");
}

#[test]
fn control_packets_from_another_session_are_dropped() {
    let mut net = Net::new(server_config());
    let hello = |n: &Net| {
        n.to_server
            .log
            .iter()
            .any(|s| s.opcode == Opcode::ControlV1)
    };
    assert!(net.run_until(SECOND, hello));
    // Message id 1 is the one the client expects next: accepting either would corrupt TLS.
    let foreign = SessionId([0xAA; 8]);
    let server_sid = net.server.session_id;
    let bogus = b"\x16\x03\x03 bogus";
    let forged = [
        net.server.craft_control(0, foreign, &[], None, 1, bogus),
        net.server
            .craft_control(0, server_sid, &[1], Some(foreign), 1, bogus),
    ];
    for packet in forged {
        net.deliver_to_client(packet);
        let last = net.client_drops.last();
        assert!(matches!(last, Some(PacketError::WrongSession)), "{last:?}");
    }
    net.establish();
    net.round_trip("after forged packets");
    assert_eq!(net.client_drops.len(), 2);
}

#[test]
fn data_before_keys_is_dropped_quietly() {
    let mut net = Net::awaiting_push();
    net.send_from_server(b"broadcast before the push");
    net.run_for(SECOND);
    let last = net.client_drops.last();
    assert!(
        matches!(last, Some(PacketError::Data(DataError::NoKey(0)))),
        "{last:?}"
    );
    assert!(net.events.is_empty(), "{:?}", net.events);
    net.server.push();
    net.establish();
    net.round_trip("after early data");
    assert!(net
        .client_frames
        .iter()
        .all(|f| f != b"broadcast before the push"));
}
