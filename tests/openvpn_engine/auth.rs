//! auth-user-pass (§3.1, §7.3): the credentials in key-method-2 as the server parses them, the
//! pushed auth-token on renegotiations, and the reactions to `AUTH_FAILED`.

use std::sync::Arc;

use crate::ovpn_net::{self, server_config, Net, HAND_WINDOW, SECOND};
use crate::ovpn_server::{PushMode, ServerConfig, ServerStage, ServerWrap, EKM_PUSH};
use tapclient::openvpn::client::{Event, UserPass};

fn alice() -> UserPass {
    UserPass::new("alice".to_owned(), "correct horse".to_owned()).unwrap()
}

fn net_with(cfg: ServerConfig, user_pass: Option<UserPass>) -> Net {
    let mut settings = ovpn_net::settings(&ServerWrap::None);
    settings.user_pass = user_pass;
    Net::with_settings(Arc::new(settings), cfg)
}

fn logins(net: &Net) -> Vec<(String, String)> {
    let login = |k: &crate::ovpn_server::ClientKeyMessage| (k.username.clone(), k.password.clone());
    net.server.client_keys.iter().map(login).collect()
}

fn login(user: &str, password: &str) -> (String, String) {
    (user.to_owned(), password.to_owned())
}

#[test]
fn credentials_travel_in_every_key_method_2_message_and_are_empty_without_them() {
    let mut cfg = server_config();
    cfg.ping = Some(10 * SECOND);
    let mut net = net_with(cfg, None);
    net.establish();
    net.rekey();
    assert_eq!(logins(&net), [login("", ""), login("", "")]);

    let mut cfg = server_config();
    cfg.ping = Some(10 * SECOND);
    let mut net = net_with(cfg, Some(alice()));
    net.establish();
    net.rekey();
    let alice = login("alice", "correct horse");
    assert_eq!(logins(&net), [alice.clone(), alice]);
    net.round_trip("after a renegotiation with credentials");
}

#[test]
fn a_pushed_auth_token_is_the_password_of_later_renegotiations() {
    let mut cfg = server_config();
    cfg.ping = Some(10 * SECOND);
    cfg.push = format!("{EKM_PUSH},auth-token SESS_one");
    let mut net = net_with(cfg, Some(alice()));
    net.establish();
    assert_eq!(net.rekey(), 1);
    // A stock server renews the token after each renegotiation with a bare PUSH_REPLY; this
    // one also names another user (base64 "carol").
    net.server
        .send_control_message("PUSH_REPLY,auth-token SESS_two,auth-token-user Y2Fyb2w=");
    net.run_for(SECOND);
    assert_eq!(net.rekey(), 2);
    assert_eq!(
        logins(&net),
        [
            login("alice", "correct horse"),
            login("alice", "SESS_one"),
            login("carol", "SESS_two"),
        ]
    );
    let established = net
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Established(_)));
    assert_eq!(established.count(), 1, "the update re-established nothing");
    net.round_trip("key 2");

    // The next connection of the run may log in with the token right away.
    let token = net.client.auth_token().expect("a token");
    assert!(!format!("{token:?}").contains("SESS"));
    let mut next = net_with(server_config(), Some(alice()));
    next.client.resume_auth_token(token);
    next.establish();
    assert_eq!(logins(&next), [login("carol", "SESS_two")]);
}

fn refused_with(message: &str, user_pass: Option<UserPass>) -> Net {
    let mut cfg = server_config();
    cfg.push_mode = PushMode::Manual;
    let mut net = net_with(cfg, user_pass);
    let active = |n: &Net| n.server.stage() == Some(ServerStage::Active);
    assert!(net.run_until(HAND_WINDOW, active));
    net.server.send_control_message(message);
    assert!(
        net.run_until(SECOND, |n| !n.events.is_empty()),
        "{message}: no reaction"
    );
    net
}

#[test]
fn auth_failed_after_a_password_is_fatal_and_names_the_credentials_not_their_values() {
    let net = refused_with("AUTH_FAILED", Some(alice()));
    let (authentication, reason) = net.fatal().expect("fatal");
    assert!(authentication);
    assert!(reason.contains("username and password"), "{reason}");
    assert!(
        !reason.contains("alice") && !reason.contains("horse"),
        "{reason}"
    );
    assert!(net.restart().is_none());
    assert_eq!(net.client.poll_timeout(), None, "the engine is done");

    let net = refused_with("AUTH_FAILED,user unknown", None);
    let (authentication, reason) = net.fatal().expect("fatal");
    assert!(authentication);
    assert!(reason.contains("AUTH_FAILED: user unknown"), "{reason}");
    assert!(
        reason.contains("may require a username and password"),
        "{reason}"
    );
}

#[test]
fn temporary_and_session_auth_failures_reconnect() {
    for (message, why) in [
        ("AUTH_FAILED,TEMP[backoff 30]:try later", "TEMP: try later"),
        ("AUTH_FAILED,TEMP", "for now"),
        (
            "AUTH_FAILED,SESSION:token expired",
            "SESSION: token expired",
        ),
    ] {
        let net = refused_with(message, Some(alice()));
        let (_, reason) = net.restart().expect("a restart");
        assert!(reason.contains(why), "{message}: {reason}");
        assert!(net.fatal().is_none(), "{message}");
    }
}

/// Stock clients read any AUTH_FAILED while they hold a token as "the token expired" (a
/// restarted server sends plain AUTH_FAILED): forget it and log in with the password again.
#[test]
fn auth_failed_while_holding_a_token_forgets_it_and_reconnects() {
    let mut cfg = server_config();
    cfg.push = format!("{EKM_PUSH},auth-token SESS_one");
    let mut net = net_with(cfg, Some(alice()));
    net.establish();
    assert!(net.client.auth_token().is_some());
    net.server.send_control_message("AUTH_FAILED");
    assert!(net.run_until(SECOND, |n| n.restart().is_some()));
    let (_, reason) = net.restart().unwrap();
    assert!(reason.contains("auth-token"), "{reason}");
    assert!(net.fatal().is_none());
    assert!(net.client.auth_token().is_none(), "forgotten");
}
