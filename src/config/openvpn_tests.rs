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
    assert_eq!(config.server.remote().port, OPENVPN_DEFAULT_PORT);
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
fn key_direction_only_applies_with_tls_auth_and_auth_always() {
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
    // `auth` is also the CBC data channel's HMAC: valid on its own, and shared with tls-auth.
    assert_eq!(
        openvpn_of(&with_openvpn("auth = \"SHA256\"")).auth,
        AuthDigest::Sha256
    );
    let both = openvpn_of(&with_openvpn("auth = \"sha512\"\ntls_auth = \"ta.key\""));
    assert_eq!(both.auth, AuthDigest::Sha512);
    assert!(matches!(
        both.wrap,
        ControlWrap::TlsAuth {
            digest: AuthDigest::Sha512,
            ..
        }
    ));
}

#[test]
fn key_direction_is_0_1_or_none_and_auth_a_known_digest() {
    for (value, shown) in [("2", "2"), ("-1", "-1"), ("\"1\"", "\"1\"")] {
        assert_eq!(
            message(&with_openvpn(&format!(
                "tls_auth = \"ta.key\"\nkey_direction = {value}"
            ))),
            format!(
                "office.toml:10: openvpn.key_direction: {shown} is out of range; use 0, 1 or \
                 \"none\" (the opposite of the server's key-direction; clients normally use 1; \
                 \"none\" when the server's tls-auth has no direction)"
            )
        );
    }
    let none = openvpn_of(&with_openvpn(
        "tls_auth = \"ta.key\"\nkey_direction = \"none\"",
    ));
    assert!(matches!(
        none.wrap,
        ControlWrap::TlsAuth {
            direction: None,
            ..
        }
    ));
    assert_eq!(
        message(&with_openvpn("tls_auth = \"ta.key\"\nauth = \"MD5\"")),
        "office.toml:10: openvpn.auth: unknown value \"MD5\"; expected one of \"SHA1\", \
         \"SHA256\" or \"SHA512\" (the same as the server's `auth`)"
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
    let text = with_openvpn("ciphers = [\n  \"AES-256-GCM\",\n  \"BF-CBC\",\n]");
    assert_eq!(
        message(&text),
        "office.toml:11: openvpn.ciphers: unknown value \"BF-CBC\"; expected one of \
         \"AES-256-GCM\", \"AES-128-GCM\", \"CHACHA20-POLY1305\", \"AES-256-CBC\" or \
         \"AES-128-CBC\" (the data ciphers tapclient implements)"
    );
    let cbc = openvpn_of(&with_openvpn(
        "ciphers = [\"aes-256-cbc\", \"AES-128-GCM\"]",
    ));
    assert_eq!(cbc.ciphers, ["AES-256-CBC", "AES-128-GCM"]);
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
    assert_eq!(
        parse_ok(&text).server.remote().to_string(),
        "[fd00::1]:1194"
    );
    let text = OPENVPN_MINIMAL.replace("vpn.example.com", "vpn.example.com:443");
    assert_eq!(parse_ok(&text).server.remote().port, 443);
    assert_eq!(
        parse_ok(MINIMAL).server.remote().port,
        SIMPLETUN_DEFAULT_PORT
    );
}

#[test]
fn issue_4_keys_take_their_defaults() {
    let config = parse_ok(OPENVPN_MINIMAL);
    let openvpn = config.openvpn.unwrap();
    assert_eq!(openvpn.cipher, None);
    assert_eq!(openvpn.auth, AuthDigest::Sha1);
    assert_eq!(openvpn.reneg, Some(Duration::from_secs(3600)));
    assert_eq!((openvpn.ping, openvpn.ping_restart), (None, None));
    assert_eq!(openvpn.compress, None);
    assert!(!openvpn.route_nopull && !openvpn.redirect_gateway && openvpn.routes.is_empty());
    assert_eq!(openvpn.auth_user_pass, None);
    let socket = config.status_socket.to_string_lossy().into_owned();
    assert!(
        socket.starts_with("/run/tapclient/office-") && socket.ends_with(".sock"),
        "{socket}"
    );
    assert_eq!(
        config.status_socket,
        default_status_socket(Path::new("/etc/tapclient/office.toml")),
        "the same file, the same socket"
    );
    assert_ne!(
        config.status_socket,
        default_status_socket(Path::new("/home/me/office.toml")),
        "another folder, another socket"
    );
}

#[test]
fn issue_4_keys_parse() {
    let text = with_openvpn(
        "cipher = \"aes-128-cbc\"\nreneg_sec = 0\nping = 10\nping_restart = 60\n\
         compress = \"stub-v2\"\nroute_nopull = true\nroutes = [\"10.5.0.0/16\"]\n\
         redirect_gateway = true\n[auth_user_pass]\nusername = \"alice\"\n\
         password_env = \"VPN_PW\"\n[status]\nsocket = \"run/office.sock\"",
    );
    let config = parse_ok(&text);
    assert_eq!(
        config.status_socket,
        PathBuf::from("/etc/tapclient/run/office.sock")
    );
    let openvpn = config.openvpn.unwrap();
    assert_eq!(openvpn.cipher.as_deref(), Some("AES-128-CBC"));
    assert_eq!(openvpn.reneg, None, "0 = never");
    assert_eq!(openvpn.ping, Some(Duration::from_secs(10)));
    assert_eq!(openvpn.ping_restart, Some(Duration::from_secs(60)));
    assert_eq!(openvpn.compress, Some(CompressFraming::V2));
    assert!(openvpn.route_nopull && openvpn.redirect_gateway);
    assert_eq!(openvpn.routes, ["10.5.0.0/16".parse().unwrap()]);
    assert_eq!(
        openvpn.auth_user_pass,
        Some(AuthUserPass {
            file: None,
            username: Some("alice".into()),
            password: PasswordSource::Env("VPN_PW".into()),
        })
    );
    for (value, framing) in [
        ("comp-lzo", CompressFraming::CompLzo),
        ("lzo", CompressFraming::CompLzo),
        ("stub", CompressFraming::Swap),
        ("LZ4", CompressFraming::Swap),
        ("lz4-v2", CompressFraming::V2),
    ] {
        let config = openvpn_of(&with_openvpn(&format!("compress = \"{value}\"")));
        assert_eq!(config.compress, Some(framing), "{value}");
    }
}

#[test]
fn issue_4_keys_are_checked() {
    assert!(message(&with_openvpn("cipher = \"BF-CBC\""))
        .starts_with("office.toml:9: openvpn.cipher: unknown value \"BF-CBC\""));
    assert!(message(&with_openvpn("compress = \"zstd\""))
        .starts_with("office.toml:9: openvpn.compress: unknown value \"zstd\""));
    assert!(message(&with_openvpn("ping = 0"))
        .starts_with("office.toml:9: openvpn.ping: 0 is out of range"));
    assert_eq!(
        message(&with_openvpn("routes = [\"10.5.1.0/16\"]")),
        "office.toml:9: openvpn.routes: 10.5.1.0/16 has host bits set; did you mean 10.5.0.0/16?"
    );
    let login = |keys: &str| message(&format!("{OPENVPN_MINIMAL}[auth_user_pass]\n{keys}\n"));
    assert_eq!(
        login("file = \"a.auth\"\nusername = \"bob\""),
        "office.toml:10: auth_user_pass.username: cannot be used together with \
         `auth_user_pass.file`; keep only one of them"
    );
    assert!(login("password_env = \"A\"\npassword_file = \"p\"")
        .starts_with("office.toml:10: auth_user_pass.password_file: cannot be used together"));
    assert_eq!(
        login("username = \"\""),
        "office.toml:9: auth_user_pass.username: must not be empty"
    );
    let simpletun = format!("{MINIMAL}[auth_user_pass]\nusername = \"bob\"\n");
    assert!(message(&simpletun).contains("auth_user_pass: only used with protocol = \"openvpn\""));
}

#[test]
fn several_remotes_are_tried_in_order() {
    let text = OPENVPN_MINIMAL.replace(
        "remote = \"vpn.example.com\"",
        "remote = [\"vpn1.example.com\", \"198.18.0.9:443\"]",
    );
    assert_ne!(text, OPENVPN_MINIMAL, "the fixture names vpn.example.com");
    let remotes: Vec<String> = parse_ok(&text)
        .server
        .remotes
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(remotes, ["vpn1.example.com:1194", "198.18.0.9:443"]);
    let dup = OPENVPN_MINIMAL.replace(
        "remote = \"vpn.example.com\"",
        "remote = [\"vpn\", \"vpn:1194\"]",
    );
    assert!(message(&dup).contains("server.remote: \"vpn:1194\" is listed more than once"));
    let empty = OPENVPN_MINIMAL.replace("remote = \"vpn.example.com\"", "remote = []");
    assert!(message(&empty).contains("server.remote: must not be empty"));
    let bad = OPENVPN_MINIMAL.replace("remote = \"vpn.example.com\"", "remote = [\"vpn:0\"]");
    assert!(message(&bad).contains("\"vpn:0\" is not a valid server address"));
}
