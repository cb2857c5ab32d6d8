//! Ring-2 tests of the sans-IO OpenVPN client engine (`tapclient::openvpn::client`): the real
//! engine against a scripted OpenVPN 2.6-like server over a simulated network and clock —
//! handshake variants (EKM, PRF, TLS 1.2, tls-auth, tls-crypt), loss, duplication and
//! reordering of control packets, hand-window and ping-restart expiry, renegotiation with a lame
//! duck, and server control messages. Deterministic; no real time is measured.

// Only the OpenVPN harness of `common` (the rest drives the async driver).
#[path = "common/ovpn_net.rs"]
mod ovpn_net;
#[path = "common/ovpn_server.rs"]
mod ovpn_server;

use std::time::Duration;

use ovpn_net::{server_config, Fault, Faults, Net, HAND_WINDOW};
use ovpn_server::{PushMode, ServerStage, ServerWrap, PRF_PUSH};
use tapclient::openvpn::client::{Event, PacketError};
use tapclient::openvpn::data::{DataCipher, DataError};
use tapclient::openvpn::push::RouteGateway;
use tapclient::openvpn::wire::Opcode;

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn happy_path_with_ekm() {
    let mut net = Net::new(server_config());
    net.establish();

    let first = &net.to_server.log[0];
    assert_eq!(first.raw.len(), 14, "HARD_RESET_CLIENT_V2 is 14 bytes");
    assert_eq!(first.raw[0], 0x38, "opcode 7, key_id 0");
    assert_eq!(first.raw[9], 0, "no ACKs");
    assert_eq!(first.raw[10..14], [0, 0, 0, 0], "message id 0");
    assert_ne!(first.raw[1..9], [0; 8], "a non-zero session id");
    assert_eq!(
        Some(&first.raw[1..9]),
        net.server.client_session_id.as_ref().map(|s| &s.0[..])
    );
    let Some((_, Event::Established(pushed))) = net.event(|e| matches!(e, Event::Established(_)))
    else {
        unreachable!()
    };
    assert_eq!(pushed.ifconfig.unwrap().to_string(), "10.99.0.2/24");
    assert_eq!(
        pushed.route_gateway,
        Some(RouteGateway::Addr([10, 99, 0, 1].into()))
    );
    assert_eq!(pushed.ping, Some(10 * SECOND));
    assert_eq!(pushed.ping_restart, Some(60 * SECOND));
    assert_eq!(pushed.peer_id, Some(0));
    assert!(pushed.uses_ekm());
    assert_eq!(net.client.current_key(), Some((0, DataCipher::Aes256Gcm)));
    assert_eq!(net.server.messages, ["PUSH_REQUEST"]);
    net.round_trip("ekm 1");
    net.round_trip("ekm 2");
    assert_eq!(net.server.frames.len(), 2);
    assert_eq!(net.to_server.retransmissions(), 0);
    assert!(net.client_drops.is_empty(), "{:?}", net.client_drops);
    assert!(net.server.control_drops.is_empty());
}
