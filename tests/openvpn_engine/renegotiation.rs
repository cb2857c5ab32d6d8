//! Client-initiated renegotiation (`reneg-sec`, §10): soft resets from our side on a simulated
//! clock, key_id wrapping 7 → 1, data flowing both ways without loss, and soft resets crossing
//! the server's.

use std::sync::Arc;
use std::time::Duration;

use crate::ovpn_net::{self, server_config, Net, SECOND};
use crate::ovpn_server::ServerWrap;
use tapclient::openvpn::wire::Opcode;

const LATENCY: Duration = Duration::from_millis(20);

/// A client that renegotiates every `interval`, over a network with some latency.
fn reneg_net(interval: Duration) -> Net {
    let mut cfg = server_config();
    cfg.ping = Some(10 * SECOND);
    let mut settings = ovpn_net::settings(&ServerWrap::None);
    settings.reneg_interval = Some(interval);
    let mut net = Net::with_settings(Arc::new(settings), cfg);
    net.to_server.latency = LATENCY;
    net.to_client.latency = LATENCY;
    net
}

#[test]
fn the_client_rekeys_every_10_s_for_5_minutes_through_key_id_7_to_1_losing_nothing() {
    let mut net = reneg_net(10 * SECOND);
    net.establish();
    let (mut up, mut down) = (Vec::new(), Vec::new());
    // A frame each way every 250 ms, for 5 minutes.
    for i in 0..1200 {
        let (u, d) = (
            format!("up {i}").into_bytes(),
            format!("down {i}").into_bytes(),
        );
        net.send_from_client(&u);
        net.send_from_server(&d);
        up.push(u);
        down.push(d);
        net.run_for(Duration::from_millis(250));
    }
    net.run_for(SECOND);
    assert!(
        net.restart().is_none() && net.fatal().is_none(),
        "{:?}",
        net.events
    );
    assert!(net.client_drops.is_empty(), "{:?}", net.client_drops);
    assert!(
        net.server.data_errors.is_empty(),
        "{:?}",
        net.server.data_errors
    );
    assert!(
        net.server.control_drops.is_empty(),
        "{:?}",
        net.server.control_drops
    );
    assert!(net.server.frames == up, "every frame up arrived, in order");
    assert!(
        net.client_frames == down,
        "every frame down arrived, in order"
    );

    let rekeys = net.rekeys();
    assert!(rekeys.len() >= 25, "{} rekeys", rekeys.len());
    let expected: Vec<u8> = (0..rekeys.len()).map(|i| (i % 7) as u8 + 1).collect();
    assert_eq!(rekeys, expected, "key_ids 1..=7, then 1 again (never 0)");
    assert_eq!(net.client.renegotiations(), rekeys.len() as u64);
    // Every renegotiation was ours: our SOFT_RESET first, the server's answer a round trip later.
    let ours = net.to_server.resets(Opcode::SoftResetV1);
    let theirs = net.to_client.resets(Opcode::SoftResetV1);
    assert!(ours.len() >= rekeys.len() && ours.len() <= rekeys.len() + 1);
    for ((sent, key_id), (answered, their_key_id)) in ours.iter().zip(&theirs) {
        assert_eq!(key_id, their_key_id);
        assert!(
            answered > sent,
            "{key_id}: ours at {sent:?}, theirs at {answered:?}"
        );
    }
    // 10 s apart: from one key's installation to the next soft reset.
    for pair in ours.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(gap >= 10 * SECOND && gap < 11 * SECOND, "{gap:?}");
    }
    assert!(net.client.key_age(net.now).unwrap() <= 10 * SECOND);
    // No control packet was sent twice (key_ids recur every 7 renegotiations, 70 s apart).
    let log = &net.to_server.log;
    let repeats = log.iter().enumerate().filter(|(i, s)| {
        let earlier = log[..*i]
            .iter()
            .rev()
            .take_while(|e| s.at - e.at < 30 * SECOND);
        s.message_id.is_some()
            && earlier
                .filter(|e| e.key_id == s.key_id && e.message_id == s.message_id)
                .count()
                > 0
    });
    assert_eq!(repeats.count(), 0);
}

/// The client's timer and the server's both fire: both SOFT_RESETs for the same key_id are on
/// the wire before either arrives. Each is the answer to the other; one new key results.
#[test]
fn crossed_soft_resets_converge_on_one_new_key() {
    let mut net = reneg_net(30 * SECOND);
    net.establish();
    for round in 1..=3u8 {
        assert!(net.run_until(40 * SECOND, |n| n.client.renegotiating()));
        net.server.start_renegotiation(net.now);
        assert!(
            net.run_until(5 * SECOND, |n| n.rekeys().len() == usize::from(round)),
            "{:?}",
            net.events
        );
        net.round_trip(&format!("after crossed resets {round}"));
    }
    assert_eq!(net.rekeys(), [1, 2, 3]);
    let ours = net.to_server.resets(Opcode::SoftResetV1);
    let theirs = net.to_client.resets(Opcode::SoftResetV1);
    assert_eq!(ours.iter().map(|r| r.1).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(theirs.iter().map(|r| r.1).collect::<Vec<_>>(), [1, 2, 3]);
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(
            a.0, b.0,
            "both sent at the same instant, crossing on the wire"
        );
    }
    assert_eq!(net.server.client_keys.len(), 4, "one key exchange per key");
    assert!(net.client_drops.is_empty(), "{:?}", net.client_drops);
    assert!(
        net.server.control_drops.is_empty(),
        "{:?}",
        net.server.control_drops
    );
    assert!(net.restart().is_none(), "{:?}", net.events);
}

/// A server renegotiation just before ours is due: we answer it and start none of our own
/// until the new key is `reneg-sec` old.
#[test]
fn a_server_renegotiation_in_progress_postpones_ours() {
    let mut net = reneg_net(30 * SECOND);
    net.establish();
    let due = net
        .client
        .renegotiation_due()
        .expect("a renegotiation planned");
    let early = due - Duration::from_millis(30); // its SOFT_RESET arrives 10 ms before `due`
    net.run_for(early - net.now);
    net.server.start_renegotiation(net.now);
    assert!(
        net.run_until(5 * SECOND, |n| n.rekeys() == [1]),
        "{:?}",
        net.events
    );
    let installed = net.now;
    assert!(net.client.renegotiation_due().unwrap() >= installed + 30 * SECOND - 2 * LATENCY);
    assert!(net.run_until(40 * SECOND, |n| n.rekeys() == [1, 2]));
    let ours = net.to_server.resets(Opcode::SoftResetV1);
    let theirs = net.to_client.resets(Opcode::SoftResetV1);
    assert_eq!(ours.iter().map(|r| r.1).collect::<Vec<_>>(), [1, 2]);
    assert!(theirs[0].0 < ours[0].0, "key 1: the server's, answered");
    assert!(ours[1].0 < theirs[1].0, "key 2: ours, 30 s after key 1");
    assert!(ours[1].0 - ours[0].0 >= 30 * SECOND - 3 * LATENCY);
    net.round_trip("key 2");
    assert!(net.restart().is_none(), "{:?}", net.events);
}

/// A server that never answers our SOFT_RESET: the old key keeps working until the
/// hand-window ends the connection.
#[test]
fn an_unanswered_renegotiation_restarts_at_the_hand_window() {
    let mut net = reneg_net(10 * SECOND);
    net.establish();
    assert!(net.run_until(20 * SECOND, |n| n.client.renegotiating()));
    let started = net.elapsed();
    net.to_server.faults = ovpn_net::Faults::none().blackhole_from(0);
    net.round_trip("the old key still carries data");
    net.run_for(ovpn_net::HAND_WINDOW + SECOND);
    let (at, why) = net.restart().expect("a restart");
    assert_eq!(at, started + ovpn_net::HAND_WINDOW);
    assert!(why.contains("did not complete within 60 s"), "{why}");
    assert!(net.rekeys().is_empty());
}
