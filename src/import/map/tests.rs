//! Unit tests of the mapping: one directive at a time, and OpenVPN's ordering rules.

use std::path::PathBuf;

use super::*;

fn plan(text: &str) -> Plan {
    let directives = parse::parse(text, 1).expect("parses");
    map(&directives, PathBuf::from("/profiles"))
}

fn outcome(plan: &Plan, line: usize) -> &Outcome {
    &plan
        .entries
        .iter()
        .find(|e| e.line == line)
        .expect("an entry")
        .outcome
}

fn label(plan: &Plan, line: usize) -> &'static str {
    outcome(plan, line).label()
}

fn remotes(plan: &Plan) -> Vec<String> {
    plan.remotes.iter().map(Remote::to_config_string).collect()
}

/// A profile that maps cleanly, for tests that add one thing.
const BASE: &str = "dev tap\nproto tcp\nremote vpn.example.com\nca ca.crt\npkcs12 c.p12\n";

#[test]
fn proto_and_port_apply_to_every_remote_wherever_they_are_written() {
    let p = plan("remote a.example\nremote b.example 443\nremote c.example 80 udp\nport 8443\nproto tcp-client\ndev tap\nca ca.crt\npkcs12 c.p12\n");
    assert_eq!(remotes(&p), ["a.example:8443", "b.example:443"]);
    assert_eq!(label(&p, 3), "unsupported");
    assert!(outcome(&p, 3).text().contains("UDP is not supported yet"));
    assert_eq!(label(&p, 5), "mapped");
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

#[test]
fn the_default_protocol_is_udp_so_remotes_without_tcp_are_skipped() {
    let p = plan("dev tap\nremote a.example 1194\nproto udp\nca ca.crt\npkcs12 c.p12\n");
    assert!(p.remotes.is_empty());
    assert_eq!(label(&p, 2), "unsupported");
    assert_eq!(label(&p, 3), "unsupported");
    assert!(
        p.problems.iter().any(|m| m.starts_with("no usable remote")),
        "{:?}",
        p.problems
    );
    let p = plan("dev tap\nremote a.example\nca ca.crt\npkcs12 c.p12\n");
    assert!(p.remotes.is_empty(), "no proto = udp");
}

#[test]
fn remotes_keep_their_order_and_duplicates_and_bad_ports_are_reported() {
    let p = plan(&format!("{BASE}remote [fd00::1] 443\nremote vpn.example.com 1194 tcp4\nremote x 99999\nremote ok 1 tcp-server\nremote 'bad host'\n"));
    assert_eq!(remotes(&p), ["vpn.example.com:1194", "[fd00::1]:443"]);
    assert_eq!(label(&p, 7), "ignored", "{:?}", outcome(&p, 7));
    assert!(outcome(&p, 8).text().contains("not a number"));
    assert!(outcome(&p, 9).text().contains("server side"));
    assert!(outcome(&p, 10).text().contains("not a host name"));
    assert_eq!(label(&p, 2), "mapped", "proto used by the first remote");
}

#[test]
fn connection_blocks_replace_plain_remotes_and_take_proto_where_they_start() {
    let text = "dev tap\nca ca.crt\npkcs12 c.p12\nremote ignored.example 1\nproto tcp\n<connection>\nremote one.example 443\n</connection>\nproto udp\n<connection>\nremote two.example\nproto tcp-client\nconnect-timeout 5\n</connection>\n<connection>\nremote three.example\n</connection>\n";
    let p = plan(text);
    assert_eq!(remotes(&p), ["one.example:443", "two.example:1194"]);
    assert_eq!(label(&p, 4), "ignored");
    assert_eq!(label(&p, 16), "unsupported", "block 3 inherits proto udp");
    let timeout = p.connect_timeout.as_ref().unwrap();
    assert_eq!((timeout.value, timeout.line), (5, 13));
    assert!(outcome(&p, 13)
        .text()
        .contains("one setting for all remotes"));
    let p = plan(
        "dev tap\nproto tcp\nca ca.crt\npkcs12 c.p12\n<connection>\nproto tcp\n</connection>\n",
    );
    assert_eq!(label(&p, 5), "blocking");
}

#[test]
fn a_later_option_replaces_an_earlier_one_and_says_so() {
    let p = plan(&format!("{BASE}tun-mtu 1400\ntun-mtu 1300\n"));
    assert_eq!(p.mtu.as_ref().unwrap().value, 1300);
    assert_eq!(
        outcome(&p, 6),
        &Outcome::Ignored("replaced by the same option on line 7".into())
    );
}

#[test]
fn device_must_be_tap() {
    let p = plan("dev tun\nproto tcp\nremote a\nca ca.crt\npkcs12 c.p12\n");
    assert_eq!(label(&p, 1), "blocking");
    assert!(outcome(&p, 1).text().contains("TUN (layer 3)"));
    let p = plan("dev office\ndev-type tap\nproto tcp\nremote a\nca ca.crt\npkcs12 c.p12\n");
    assert_eq!((label(&p, 1), label(&p, 2)), ("mapped", "mapped"));
    assert!(p.blockers().is_empty(), "{:?}", p.blockers());
    let p = plan("dev tap0\nproto tcp\nremote a\nca ca.crt\npkcs12 c.p12\n");
    assert!(p.blockers().is_empty());
    let p = plan("proto tcp\nremote a\nca ca.crt\npkcs12 c.p12\n");
    assert!(
        p.problems.iter().any(|m| m.contains("OpenVPN needs `dev`")),
        "{:?}",
        p.problems
    );
}

#[test]
fn essentials_missing_are_problems() {
    let p = plan("dev tap\nproto tcp\nremote a\n");
    let all = p.problems.join("\n");
    assert!(all.contains("no CA"), "{all}");
    assert!(all.contains("no client certificate"), "{all}");
    let p = plan("dev tap\nproto tcp\nremote a\nca ca.crt\ncert c.crt\n");
    assert!(p
        .problems
        .iter()
        .any(|m| m.contains("only one of `cert` and `key`")));
    let p = plan(&format!("{BASE}cert c.crt\nkey c.key\n"));
    assert!(p
        .problems
        .iter()
        .any(|m| m.contains("`pkcs12` together with `cert`")));
}

#[test]
fn key_direction_comes_from_key_direction_or_the_tls_auth_argument_whichever_is_later() {
    let p = plan(&format!("{BASE}tls-auth ta.key 1\nkey-direction 0\n"));
    assert_eq!(p.key_direction.as_ref().unwrap().value, 0);
    let p = plan(&format!("{BASE}key-direction 0\ntls-auth ta.key 1\n"));
    assert_eq!(p.key_direction.as_ref().unwrap().value, 1);
    assert!(p.blockers().is_empty(), "{:?}", p.blockers());
    // No direction: OpenVPN's bidirectional mode, emitted as key_direction = "none".
    let p = plan(&format!("{BASE}tls-auth ta.key\n"));
    assert!(
        p.key_direction.is_none() && p.blockers().is_empty(),
        "{:?}",
        p.problems
    );
    let p = plan(&format!("{BASE}key-direction 1\n"));
    assert_eq!(label(&p, 6), "ignored");
    let p = plan(&format!("{BASE}tls-auth ta.key 2\n"));
    assert_eq!(label(&p, 6), "blocking");
    let p = plan(&format!("{BASE}tls-auth ta.key 1\ntls-crypt tc.key\n"));
    assert!(p
        .problems
        .iter()
        .any(|m| m.contains("together with `tls-crypt`")));
}

#[test]
fn inline_markers_refer_to_the_block() {
    let p = plan(&format!("{BASE}tls-auth [inline] 1\n<tls-auth>\n-----BEGIN OpenVPN Static key V1-----\nab\n</tls-auth>\n"));
    assert_eq!(p.key_direction.as_ref().unwrap().value, 1);
    assert!(matches!(
        p.tls_auth.as_ref().unwrap().value,
        Source::Inline(_)
    ));
    assert!(outcome(&p, 6).text().contains("<tls-auth> block"));
}

#[test]
fn relative_files_are_taken_from_the_profile_folder_and_cd() {
    let p = plan("cd keys\nca ca.crt\n");
    match &p.ca.as_ref().unwrap().value {
        Source::File { written, path } => {
            assert_eq!(written, "ca.crt");
            assert_eq!(path, &PathBuf::from("/profiles/keys/ca.crt"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn keepalive_maps_to_ping_and_conflicts_with_ping() {
    let p = plan(&format!("{BASE}keepalive 10 60\n"));
    assert_eq!(
        (
            p.ping.as_ref().unwrap().value,
            p.ping_restart.as_ref().unwrap().value
        ),
        (10, 60)
    );
    let p = plan(&format!("{BASE}keepalive 10 60\nping 5\n"));
    assert_eq!(label(&p, 6), "blocking");
    let p = plan(&format!("{BASE}keepalive 10 15\n"));
    assert!(outcome(&p, 6).text().contains("at least twice"));
    let p = plan(&format!("{BASE}ping 0\nping-restart 100000\n"));
    assert_eq!((label(&p, 6), label(&p, 7)), ("ignored", "unsupported"));
}

#[test]
fn data_ciphers_keep_supported_names_in_order() {
    let p = plan(&format!(
        "{BASE}data-ciphers aes-128-gcm:?BF-CBC:DEFAULT:AES-256-CBC\n"
    ));
    assert_eq!(
        p.ciphers.as_ref().unwrap().value,
        [
            "AES-128-GCM",
            "AES-256-GCM",
            "CHACHA20-POLY1305",
            "AES-256-CBC"
        ]
    );
    assert!(outcome(&p, 6).text().contains("without BF-CBC"));
    let p = plan(&format!(
        "{BASE}ncp-ciphers AES-192-GCM\ncipher BF-CBC\ncipher aes-128-cbc\n"
    ));
    assert!(p.ciphers.is_none());
    assert_eq!(label(&p, 6), "unsupported");
    assert_eq!(label(&p, 7), "unsupported");
    assert_eq!(p.cipher.as_ref().unwrap().value, "AES-128-CBC");
}

#[test]
fn compression_settings_map_to_their_framing_names() {
    for (line, value) in [
        ("comp-lzo", "comp-lzo"),
        ("comp-lzo no", "comp-lzo"),
        ("comp-lzo adaptive", "comp-lzo"),
        ("compress", "stub"),
        ("compress stub-v2", "stub-v2"),
        ("compress lz4", "lz4"),
        ("compress lz4-v2", "lz4-v2"),
        ("compress lzo", "lzo"),
    ] {
        let p = plan(&format!("{BASE}{line}\n"));
        assert_eq!(p.compress.as_ref().map(|s| s.value), Some(value), "{line}");
    }
    let p = plan(&format!("{BASE}compress migrate\ncompress zstd\n"));
    assert_eq!((label(&p, 6), label(&p, 7)), ("unsupported", "blocking"));
}

#[test]
fn routes_become_cidr_strings() {
    let p = plan(&format!(
        "{BASE}route 10.20.0.0 255.255.0.0\nroute 192.168.5.7\nroute 10.1.2.3 255.255.255.0 vpn_gateway 5\nroute 10.0.0.0 255.0.0.0 192.168.1.1\nroute intranet.example\nroute 10.0.0.0 255.0.255.0\n"
    ));
    assert_eq!(p.routes, ["10.20.0.0/16", "192.168.5.7/32", "10.1.2.0/24"]);
    let third = outcome(&p, 8).text();
    assert!(
        third.contains("metric 5 is not supported") && third.contains("host bits"),
        "{third}"
    );
    assert!(outcome(&p, 9)
        .text()
        .contains("gateway other than vpn_gateway"));
    assert_eq!(
        (label(&p, 10), label(&p, 11)),
        ("unsupported", "unsupported")
    );
}

#[test]
fn redirect_gateway_flags() {
    let p = plan(&format!("{BASE}redirect-gateway def1 bypass-dhcp ipv6\n"));
    assert!(p.redirect_gateway.is_some());
    assert!(outcome(&p, 6)
        .text()
        .contains("IPv6 traffic is not redirected"));
    let p = plan(&format!("{BASE}redirect-gateway\n"));
    assert!(p.redirect_gateway.is_some());
    let p = plan(&format!(
        "{BASE}redirect-gateway ipv6 !ipv4\nredirect-gateway bogus\n"
    ));
    assert!(p.redirect_gateway.is_none());
    assert_eq!((label(&p, 6), label(&p, 7)), ("unsupported", "blocking"));
}

#[test]
fn verify_x509_name_maps_only_the_name_type() {
    let p = plan(&format!("{BASE}verify-x509-name vpn.example.com name\n"));
    assert_eq!(p.verify_name.as_ref().unwrap().value, "vpn.example.com");
    let p = plan(&format!(
        "{BASE}verify-x509-name 'C=US, O=Acme, CN=vpn.acme.example'\n"
    ));
    assert!(p.verify_name.is_none());
    assert!(outcome(&p, 6)
        .text()
        .contains("tls.verify_name = \"vpn.acme.example\""));
    let p = plan(&format!("{BASE}verify-x509-name vpn name-prefix\n"));
    assert_eq!(label(&p, 6), "unsupported");
}

#[test]
fn auth_digest_blocks_only_where_it_is_used() {
    let p = plan(&format!("{BASE}auth sha256\n"));
    assert_eq!(p.auth.as_ref().unwrap().value, "SHA256");
    let p = plan(&format!("{BASE}auth SHA384\n"));
    assert_eq!(label(&p, 6), "ignored");
    let p = plan(&format!("{BASE}auth SHA384\ntls-auth ta.key 1\n"));
    assert_eq!(label(&p, 6), "blocking");
    let p = plan(&format!("{BASE}auth MD5\ncipher AES-128-CBC\n"));
    assert_eq!(label(&p, 6), "blocking");
}

#[test]
fn auth_user_pass_forms() {
    let p = plan(&format!("{BASE}auth-user-pass\n"));
    assert!(p.auth_user_pass.as_ref().unwrap().value.is_none());
    let p = plan(&format!("{BASE}auth-user-pass creds.txt\nauth-nocache\n"));
    assert!(matches!(
        p.auth_user_pass.as_ref().unwrap().value,
        Some(Source::File { .. })
    ));
    assert_eq!(label(&p, 7), "ignored");
    let p = plan(&format!(
        "{BASE}<auth-user-pass>\nalice\nsecret\n</auth-user-pass>\n"
    ));
    match &p.auth_user_pass.as_ref().unwrap().value {
        Some(Source::Inline(bytes)) => assert_eq!(bytes.as_slice(), b"alice\nsecret\n"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn reconnect_settings() {
    let p = plan(&format!("{BASE}connect-retry 5\nconnect-retry-max 4\n"));
    let value = |slot: &Option<Slot<u32>>| slot.as_ref().map(|s| s.value);
    assert_eq!(value(&p.initial_delay), Some(5));
    assert_eq!(value(&p.max_delay), Some(300), "OpenVPN's default ceiling");
    assert_eq!(value(&p.first_connect_attempts), Some(4));
    let p = plan(&format!("{BASE}connect-retry 20 10\n"));
    assert_eq!(
        (value(&p.initial_delay), value(&p.max_delay)),
        (Some(20), Some(20))
    );
}

#[test]
fn optional_and_unknown_options() {
    let p = plan(&format!(
        "{BASE}setenv opt block-outside-dns\nsetenv opt frobnicate 1\nsetenv FOO bar\nignore-unknown-option fancy-thing\nfancy-thing on\nother-thing\nsetenv opt http-proxy p 8080\nsetenv opt tun-mtu 1400\n"
    ));
    assert_eq!(label(&p, 6), "ignored");
    assert_eq!(label(&p, 7), "ignored");
    assert!(outcome(&p, 7).text().starts_with("marked optional"));
    assert_eq!(label(&p, 8), "ignored");
    assert_eq!(label(&p, 10), "ignored");
    assert_eq!(label(&p, 11), "unsupported");
    assert!(outcome(&p, 11)
        .text()
        .contains("not an OpenVPN client option"));
    assert_eq!(label(&p, 12), "ignored");
    assert_eq!(
        p.mtu.as_ref().map(|s| s.value),
        Some(1400),
        "setenv opt maps a known option"
    );
}

#[test]
fn harmless_and_server_options_from_the_catalogue() {
    let p = plan(&format!("{BASE}client\nnobind\nremote-cert-tls server\nns-cert-type server\nserver 10.8.0.0 255.255.255.0\nremote-cert-tls client\n"));
    assert_eq!(label(&p, 6), "ignored");
    assert_eq!(label(&p, 7), "ignored");
    assert!(outcome(&p, 8).text().starts_with("always enforced"));
    assert_eq!(label(&p, 9), "ignored");
    assert_eq!(label(&p, 10), "blocking");
    assert_eq!(label(&p, 11), "unsupported");
}

#[test]
fn every_directive_gets_exactly_one_entry() {
    let text =
        format!("{BASE}client\n<ca>\nx\n</ca>\n<connection>\nremote z 1 tcp\n</connection>\n");
    let p = plan(&text);
    let lines: Vec<usize> = p.entries.iter().map(|e| e.line).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5, 6, 7, 10, 11]);
    assert!(
        p.entries.iter().all(|e| !e.outcome.text().is_empty()),
        "{:?}",
        p.entries
    );
}

/// Random profiles made of real option names and awkward characters: the parser either
/// reports an error or every directive (blocks' contents included) gets exactly one outcome;
/// nothing panics.
#[test]
fn random_profiles_never_panic_and_every_directive_gets_an_outcome() {
    const WORDS: [&str; 24] = [
        "remote",
        "proto",
        "port",
        "dev",
        "ca",
        "pkcs12",
        "tls-auth",
        "key-direction",
        "route",
        "keepalive",
        "compress",
        "data-ciphers",
        "setenv",
        "opt",
        "tcp",
        "udp",
        "tap",
        "1194",
        "0",
        "1",
        "255.255.0.0",
        "[inline]",
        "<ca>",
        "</ca>",
    ];
    const ODD: [&str; 10] = [
        "\"",
        "'",
        "\\",
        "#",
        ";",
        "\r",
        "\t",
        " ",
        "--",
        "<connection>",
    ];
    let mut rng = crate::testutil::Rng(0x5eed_1e55);
    for _ in 0..2000 {
        let mut text = String::new();
        for _ in 0..rng.below(12) {
            for _ in 0..rng.below(5) {
                if rng.below(4) == 0 {
                    text.push_str(ODD[rng.below(ODD.len())]);
                } else {
                    text.push_str(WORDS[rng.below(WORDS.len())]);
                }
                text.push(' ');
            }
            text.push('\n');
        }
        let Ok(directives) = parse::parse(&text, 1) else {
            continue;
        };
        let p = map(&directives, PathBuf::from("/p"));
        let lines: std::collections::BTreeSet<usize> = p.entries.iter().map(|e| e.line).collect();
        for d in &directives {
            assert!(
                lines.contains(&d.line),
                "no entry for line {} of {text:?}",
                d.line
            );
        }
        assert!(
            p.entries.iter().all(|e| !e.outcome.text().is_empty()),
            "{text:?}: {:?}",
            p.entries
        );
    }
}
