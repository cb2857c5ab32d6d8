//! Tests of the protocol-dependent sections and `[openvpn]` (see `openvpn.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::test_support::{message, MINIMAL, OPENVPN_MINIMAL};
use crate::config::*;
use crate::ether::MacAddr;

/// [`OPENVPN_MINIMAL`] (7 lines) plus an `[openvpn]` header on line 8 and `keys` from line 9.
fn with_openvpn(keys: &str) -> String {
    format!("{OPENVPN_MINIMAL}[openvpn]\n{keys}\n")
}

fn parse_ok(text: &str) -> Config {
    parse(text, Path::new("/etc/tapclient/office.toml")).unwrap()
}

fn openvpn_of(text: &str) -> OpenVpnConfig {
    parse_ok(text).openvpn.expect("an OpenVPN config")
}

#[test]
fn a_minimal_openvpn_config_takes_the_defaults() {
    let config = parse_ok(OPENVPN_MINIMAL);
    assert_eq!(config.server.protocol, Protocol::OpenVpn);
    assert_eq!(config.server.remote.port, OPENVPN_DEFAULT_PORT);
    assert_eq!(config.server.max_record, OPENVPN_MAX_RECORD);
    assert!(config.ip.is_none());
    assert_eq!(config.tun.mtu, 1500);
    let openvpn = config.openvpn.unwrap();
    assert_eq!(openvpn.wrap, ControlWrap::None);
    assert_eq!(openvpn.ciphers, OPENVPN_CIPHERS);
    assert_eq!(openvpn.key_derivation, KeyDerivation::Auto);
    assert_eq!(openvpn.hand_window, Duration::from_secs(60));
    assert!(config.ethernet.mac_derived);
    let seed = MacAddr::stable_local(b"vpn.example.com:1194|openvpn");
    assert_eq!(config.ethernet.mac, seed);
    // An empty table means the same as none.
    let empty = openvpn_of(&with_openvpn(""));
    assert_eq!(empty.wrap, ControlWrap::None);
    assert_eq!(empty.ciphers, OPENVPN_CIPHERS);
}

#[test]
fn tls_auth_defaults_to_direction_1_and_sha1_with_the_path_resolved() {
    let openvpn = openvpn_of(&with_openvpn("tls_auth = \"keys/ta.key\""));
    let expected = ControlWrap::TlsAuth {
        key: PathBuf::from("/etc/tapclient/keys/ta.key"),
        direction: Some(1),
        digest: AuthDigest::Sha1,
    };
    assert_eq!(openvpn.wrap, expected);
    let text = with_openvpn("tls_auth = \"/k/ta.key\"\nkey_direction = 0\nauth = \"sha256\"");
    let expected = ControlWrap::TlsAuth {
        key: PathBuf::from("/k/ta.key"),
        direction: Some(0),
        digest: AuthDigest::Sha256,
    };
    assert_eq!(openvpn_of(&text).wrap, expected);
    let text = with_openvpn("auth = \"Sha512\"\ntls_auth = \"ta.key\"");
    let ControlWrap::TlsAuth { digest, .. } = openvpn_of(&text).wrap else {
        panic!("tls-auth expected");
    };
    assert_eq!(digest, AuthDigest::Sha512);
}

#[test]
fn tls_crypt_takes_a_resolved_path() {
    let openvpn = openvpn_of(&with_openvpn("tls_crypt = \"./tc.key\""));
    let key = PathBuf::from("/etc/tapclient/tc.key");
    assert_eq!(openvpn.wrap, ControlWrap::TlsCrypt { key });
    assert_eq!(
        message(&with_openvpn("tls_crypt = \"\"")),
        "office.toml:9: openvpn.tls_crypt: must not be empty"
    );
}

#[test]
fn tls_auth_and_tls_crypt_are_exclusive() {
    assert_eq!(
        message(&with_openvpn(
            "tls_auth = \"ta.key\"\ntls_crypt = \"tc.key\""
        )),
        "office.toml:10: openvpn.tls_crypt: cannot be used together with `openvpn.tls_auth`; \
         keep only one of them"
    );
    assert_eq!(
        message(&with_openvpn(
            "tls_crypt = \"tc.key\"\n\ntls_auth = \"ta.key\""
        )),
        "office.toml:11: openvpn.tls_auth: cannot be used together with `openvpn.tls_crypt`; \
         keep only one of them"
    );
}

#[test]
fn key_direction_and_auth_only_apply_with_tls_auth() {
    assert_eq!(
        message(&with_openvpn("key_direction = 1")),
        "office.toml:9: openvpn.key_direction: only applies together with `openvpn.tls_auth`; \
         add openvpn.tls_auth (the server's tls-auth key) or remove openvpn.key_direction"
    );
    assert_eq!(
        message(&with_openvpn("tls_crypt = \"tc.key\"\nkey_direction = 1")),
        "office.toml:10: openvpn.key_direction: only applies together with `openvpn.tls_auth`; \
         tls-crypt uses fixed key directions; remove openvpn.key_direction"
    );
    assert_eq!(
        message(&with_openvpn("auth = \"SHA256\"")),
        "office.toml:9: openvpn.auth: only applies together with `openvpn.tls_auth`; \
         add openvpn.tls_auth (the server's tls-auth key) or remove openvpn.auth"
    );
    assert_eq!(
        message(&with_openvpn("auth = \"SHA256\"\ntls_crypt = \"tc.key\"")),
        "office.toml:9: openvpn.auth: only applies together with `openvpn.tls_auth`; \
         tls-crypt always uses HMAC-SHA256; remove openvpn.auth"
    );
    // Both stray: the first one written is reported.
    let msg = message(&with_openvpn("auth = \"SHA1\"\nkey_direction = 1"));
    assert!(
        msg.starts_with("office.toml:9: openvpn.auth: only applies"),
        "{msg}"
    );
}

#[test]
fn key_direction_is_0_or_1_and_auth_a_known_digest() {
    for value in ["2", "-1"] {
        assert_eq!(
            message(&with_openvpn(&format!(
                "tls_auth = \"ta.key\"\nkey_direction = {value}"
            ))),
            format!(
                "office.toml:10: openvpn.key_direction: {value} is out of range; use 0 or 1 \
                 (the opposite of the server's key-direction; clients normally use 1)"
            )
        );
    }
    assert_eq!(
        message(&with_openvpn("tls_auth = \"ta.key\"\nauth = \"MD5\"")),
        "office.toml:10: openvpn.auth: unknown value \"MD5\"; expected one of \"SHA1\", \
         \"SHA256\" or \"SHA512\" (the same as the server's `auth`)"
    );
    assert_eq!(
        message(&with_openvpn(
            "tls_auth = \"ta.key\"\nkey_direction = \"1\""
        )),
        "office.toml:10: openvpn.key_direction: invalid type: string \"1\", expected an integer"
    );
}

#[test]
fn ciphers_are_made_canonical_and_keep_their_order() {
    let text = with_openvpn("ciphers = [\"chacha20-poly1305\", \"Aes-128-Gcm\"]");
    assert_eq!(
        openvpn_of(&text).ciphers,
        ["CHACHA20-POLY1305", "AES-128-GCM"]
    );
}

#[test]
fn ciphers_must_be_known_distinct_and_not_empty() {
    let text = with_openvpn("ciphers = [\n  \"AES-256-GCM\",\n  \"AES-256-CBC\",\n]");
    assert_eq!(
        message(&text),
        "office.toml:11: openvpn.ciphers: unknown value \"AES-256-CBC\"; expected one of \
         \"AES-256-GCM\", \"AES-128-GCM\" or \"CHACHA20-POLY1305\" (the AEAD data ciphers \
         tapclient implements)"
    );
    let text = with_openvpn("ciphers = [\n  \"AES-256-GCM\",\n  \"aes-256-gcm\",\n]");
    assert_eq!(
        message(&text),
        "office.toml:11: openvpn.ciphers: \"aes-256-gcm\" is listed more than once; keep one"
    );
    assert_eq!(
        message(&with_openvpn("\nciphers = []")),
        "office.toml:10: openvpn.ciphers: must not be empty"
    );
    assert_eq!(
        message(&with_openvpn("ciphers = \"AES-256-GCM\"")),
        "office.toml:9: openvpn.ciphers: invalid type: string \"AES-256-GCM\", expected a \
         sequence"
    );
}

#[test]
fn key_derivation_is_auto_or_prf() {
    let prf = openvpn_of(&with_openvpn("key_derivation = \"prf\""));
    assert_eq!(prf.key_derivation, KeyDerivation::Prf);
    let auto = openvpn_of(&with_openvpn("key_derivation = \"auto\""));
    assert_eq!(auto.key_derivation, KeyDerivation::Auto);
    assert_eq!(
        message(&with_openvpn("key_derivation = \"ekm\"")),
        "office.toml:9: openvpn.key_derivation: unknown value \"ekm\"; expected one of \"auto\" \
         (offer EKM; the server decides) or \"prf\" (force the legacy TLS PRF)"
    );
}

#[test]
fn hand_window_is_above_0_and_at_most_an_hour() {
    for value in ["0", "3601", "-5"] {
        assert_eq!(
            message(&with_openvpn(&format!("hand_window = {value}"))),
            format!(
                "office.toml:9: openvpn.hand_window: {value} is out of range; use a number of \
                 seconds above 0 and at most 3600 (one hour) (the time allowed for the \
                 handshake, like OpenVPN's hand-window)"
            )
        );
    }
    let hour = openvpn_of(&with_openvpn("hand_window = 3600"));
    assert_eq!(hour.hand_window, Duration::from_secs(3600));
    let short = openvpn_of(&with_openvpn("hand_window = 2.5"));
    assert_eq!(short.hand_window, Duration::from_millis(2500));
}

#[test]
fn unknown_openvpn_keys_get_a_suggestion() {
    let msg = message(&with_openvpn("tls_auht = \"ta.key\""));
    assert!(
        msg.starts_with(
            "office.toml:9: unknown key `openvpn.tls_auht`, expected one of `tls_auth`, \
             `key_direction`, `auth`, `tls_crypt`, `ciphers`, `key_derivation`, `hand_window`"
        ),
        "{msg}"
    );
    assert!(msg.ends_with("(did you mean `tls_auth`?)"), "{msg}");
}

#[test]
fn openvpn_refuses_ip_and_requires_tls() {
    let text = format!("{OPENVPN_MINIMAL}\n[ip]\naddress = \"10.98.0.2/24\"\n");
    assert_eq!(
        message(&text),
        "office.toml:9: ip: the OpenVPN server pushes the address and routes; remove [ip]"
    );
    let text =
        "# office\n[server]\nremote = \"vpn\"\nprotocol = \"openvpn\"\n\n[tun]\nmtu = 1400\n";
    assert_eq!(
        message(text),
        "office.toml:4: tls: this section is required with protocol = \"openvpn\" (OpenVPN \
         always runs TLS in its control channel); add it, e.g. [tls] with ca = \"ca.crt\" and \
         pkcs12 = \"client.p12\""
    );
}

#[test]
fn simpletun_refuses_openvpn_and_still_requires_ip() {
    let text = format!("{MINIMAL}\n[openvpn]\ntls_auth = \"ta.key\"\n");
    assert_eq!(
        message(&text),
        "office.toml:8: openvpn: only used with protocol = \"openvpn\"; remove [openvpn] or set \
         server.protocol = \"openvpn\""
    );
    let config = parse_ok(MINIMAL);
    assert!(config.openvpn.is_none() && config.ip.is_some());
    let text = "[server]\nprotocol = \"simpletun\"\nremote = \"vpn\"\n";
    assert!(message(text).starts_with("office.toml:1: ip: this section is required"));
}

#[test]
fn the_default_port_follows_the_protocol() {
    let text = OPENVPN_MINIMAL.replace("vpn.example.com", "[fd00::1]");
    assert_eq!(parse_ok(&text).server.remote.to_string(), "[fd00::1]:1194");
    let text = OPENVPN_MINIMAL.replace("vpn.example.com", "vpn.example.com:443");
    assert_eq!(parse_ok(&text).server.remote.port, 443);
    assert_eq!(parse_ok(MINIMAL).server.remote.port, SIMPLETUN_DEFAULT_PORT);
}
