//! Settings that stand in for what the server does not push (ping, ping-restart, compression
//! framing), the connection's phase, and the `EXIT` goodbye (§7.3, §8, §9).

use std::sync::Arc;
use std::time::Duration;

use crate::ovpn_net::{self, server_config, Net, HAND_WINDOW, SECOND};
use crate::ovpn_server::{PushMode, ServerConfig, ServerWrap, EKM_PUSH};
use tapclient::openvpn::client::{Phase, Settings};
use tapclient::openvpn::data::Compression;
use tapclient::openvpn::push::CompressionFraming;

/// A stock push without keepalive or compression options.
const BARE_PUSH: &str = "PUSH_REPLY,route-gateway 10.99.0.1,ifconfig 10.99.0.2 255.255.255.0,\
     peer-id 0,cipher AES-256-GCM,protocol-flags cc-exit tls-ekm";
/// The same without `cc-exit`.
const NO_CC_EXIT_PUSH: &str = "PUSH_REPLY,route-gateway 10.99.0.1,\
     ifconfig 10.99.0.2 255.255.255.0,peer-id 0,cipher AES-256-GCM,protocol-flags tls-ekm";

fn net(cfg: ServerConfig, adjust: impl FnOnce(&mut Settings)) -> Net {
    let mut settings = ovpn_net::settings(&ServerWrap::None);
    adjust(&mut settings);
    Net::with_settings(Arc::new(settings), cfg)
}

fn keepalive(s: &mut Settings) {
    s.ping = Some(7 * SECOND);
    s.ping_restart = Some(25 * SECOND);
}

/// When the client pinged the server and when it gave up on it, with the server silent.
fn pings_and_restart(push: &str) -> (Duration, Duration) {
    let mut cfg = server_config();
    cfg.push = push.to_owned();
    let mut net = net(cfg, keepalive);
    net.establish();
    let quiet_since = net.to_server.log.last().unwrap().at;
    let heard = net.to_client.log.last().unwrap().at;
    assert!(net.run_until(20 * SECOND, |n| n.server.pings == 1));
    let first_ping = net.elapsed() - quiet_since;
    net.run_for(2 * 60 * SECOND);
    let (at, why) = net.restart().expect("ping-restart");
    assert!(why.contains("ping-restart"), "{why}");
    (first_ping, at - heard)
}

#[test]
fn configured_ping_and_ping_restart_apply_unless_pushed() {
    assert_eq!(pings_and_restart(BARE_PUSH), (7 * SECOND, 25 * SECOND));
    assert_eq!(pings_and_restart(EKM_PUSH), (10 * SECOND, 60 * SECOND));
    // Neither configured nor pushed: no pings, no restart.
    let mut cfg = server_config();
    cfg.push = BARE_PUSH.to_owned();
    let mut net = net(cfg, |_| {});
    net.establish();
    net.run_for(10 * 60 * SECOND);
    assert_eq!(net.server.pings, 0);
    assert!(net.restart().is_none());
}

/// A round trip whose frames start with 0x50 (a MAC the stub-v2 escape applies to) and 0xFA,
/// so every framing mismatch shows.
fn framed_round_trip(net: &mut Net) -> bool {
    let frames: [&[u8]; 2] = [b"\x50\x00\x00\x00\x00\x01 frame", b"\xfa plain frame"];
    for frame in frames {
        net.send_from_client(frame);
        net.send_from_server(frame);
    }
    net.run_for(SECOND);
    net.server.frames == frames && net.client_frames == frames
}

#[test]
fn configured_compression_framing_applies_unless_pushed() {
    let comp_lzo_server = |push: &str| {
        let mut cfg = server_config();
        cfg.push = push.to_owned();
        cfg.framing = Some(Compression::CompLzo);
        cfg
    };
    let lzo = |s: &mut Settings| s.compression = Some(CompressionFraming::Lzo);
    // A `comp-lzo` server that does not push it: only the configured framing talks to it.
    let mut with = net(comp_lzo_server(BARE_PUSH), lzo);
    with.establish();
    assert!(
        framed_round_trip(&mut with),
        "{:?}",
        with.server.data_errors
    );
    let mut without = net(comp_lzo_server(BARE_PUSH), |_| {});
    without.establish();
    assert!(
        !framed_round_trip(&mut without),
        "unframed packets must not pass"
    );
    // A pushed framing wins over the configured one.
    let stub_v2 = format!("{BARE_PUSH},compress stub-v2");
    let mut pushed = net(comp_lzo_server(&stub_v2), lzo);
    pushed.establish();
    assert!(
        framed_round_trip(&mut pushed),
        "{:?}",
        pushed.server.data_errors
    );
}

#[test]
fn the_phase_follows_the_handshake() {
    let mut cfg = server_config();
    cfg.push_mode = PushMode::Manual;
    let mut net = Net::new(cfg);
    let mut phases = vec![net.client.phase()];
    net.run_until(HAND_WINDOW, |n| {
        if phases.last() != Some(&n.client.phase()) {
            phases.push(n.client.phase());
        }
        n.server.stage() == Some(crate::ovpn_server::ServerStage::Active)
    });
    net.run_for(SECOND);
    assert_eq!(
        net.client.phase(),
        Phase::Authenticating,
        "waiting for the push"
    );
    assert_eq!(net.client.key_age(net.now), None);
    net.server.push();
    net.establish();
    phases.push(net.client.phase());
    let expected = [
        Phase::AwaitServerReset,
        Phase::TlsHandshake,
        Phase::Authenticating,
        Phase::Established,
    ];
    assert_eq!(phases, expected);
    net.run_for(5 * SECOND);
    assert_eq!(net.client.key_age(net.now), Some(5 * SECOND));
    assert_eq!(net.client.renegotiations(), 0);
}

#[test]
fn exit_is_sent_only_when_the_server_negotiated_cc_exit() {
    let mut net = Net::new(server_config());
    assert!(
        !net.client.queue_exit(),
        "nothing to say before the tunnel is up"
    );
    net.establish();
    assert!(net.client.queue_exit());
    assert!(!net.client.exit_acknowledged());
    assert!(net.run_until(SECOND, |n| n.client.exit_acknowledged()));
    assert_eq!(net.server.messages, ["PUSH_REQUEST", "EXIT"]);

    let mut cfg = server_config();
    cfg.push = NO_CC_EXIT_PUSH.to_owned();
    let mut net = Net::new(cfg);
    net.establish();
    assert!(!net.client.queue_exit());
    net.run_for(SECOND);
    assert_eq!(net.server.messages, ["PUSH_REQUEST"]);
    assert!(!net.client.exit_acknowledged());
}
