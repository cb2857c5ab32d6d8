use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::*;
use crate::ether::Ipv4Cidr;

/// §7.1: the stock TAP push for `server 169.254.100.0 255.255.255.0` + `keepalive 10 60`.
const STOCK_PUSH: &str = "PUSH_REPLY,route-gateway 169.254.100.1,ping 10,ping-restart 60,\
                          ifconfig 169.254.100.2 255.255.255.0,peer-id 0,cipher AES-256-GCM,\
                          protocol-flags cc-exit tls-ekm dyn-tls-crypt,tun-mtu 1500";

/// §11: `server-bridge` with extra admin options.
const BRIDGE_PUSH: &str = "PUSH_REPLY,route 169.254.200.0 255.255.255.0,dhcp-option DNS \
                           169.254.100.1,dhcp-option DOMAIN example.test,comp-lzo no,\
                           route-gateway 169.254.100.1,ping 10,ping-restart 60,\
                           ifconfig 169.254.100.50 255.255.255.0,peer-id 0,cipher AES-128-GCM,\
                           protocol-flags cc-exit tls-ekm dyn-tls-crypt,tun-mtu 1500";

fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

fn cidr(s: &str) -> Ipv4Cidr {
    s.parse().unwrap()
}

fn push_reply(message: &str) -> PushReply {
    match ControlMessage::parse(message) {
        ControlMessage::PushReply(reply) => reply,
        other => panic!("not a PUSH_REPLY: {other:?}"),
    }
}

fn config(message: &str) -> PushedConfig {
    PushAssembler::new()
        .handle_reply(push_reply(message))
        .unwrap()
        .unwrap()
}

fn option_error(option: &str) -> PushError {
    PushedConfig::from_options(&[option]).unwrap_err()
}

fn messages(stream: &mut ControlStream) -> Vec<Result<String, ControlStreamError>> {
    std::iter::from_fn(|| stream.poll_message()).collect()
}

#[test]
fn stock_tap_push_is_typed() {
    let c = config(STOCK_PUSH);
    assert_eq!(
        c.route_gateway,
        Some(RouteGateway::Addr(ip(169, 254, 100, 1)))
    );
    assert_eq!(c.ping, Some(Duration::from_secs(10)));
    assert_eq!(c.ping_restart, Some(Duration::from_secs(60)));
    assert_eq!(c.ifconfig, Some(cidr("169.254.100.2/24")));
    assert_eq!(c.peer_id, Some(0));
    assert_eq!(c.cipher, Some(Cipher::Aes256Gcm));
    let flags = &c.protocol_flags;
    assert!(flags.cc_exit && flags.tls_ekm && flags.dyn_tls_crypt && flags.unknown.is_empty());
    assert_eq!(c.tun_mtu, Some(1500));
    assert!(c.uses_ekm());
    assert_eq!(
        (c.compression, c.key_derivation, c.ping_exit),
        (None, None, None)
    );
    assert!(c.routes.is_empty() && c.unknown.is_empty() && c.ignored.is_empty());
}

#[test]
fn bridge_push_is_typed() {
    let c = config(BRIDGE_PUSH);
    let route = Route {
        network: cidr("169.254.200.0/24"),
        gateway: None,
        metric: None,
    };
    assert_eq!(c.routes, vec![route]);
    assert_eq!(
        c.dhcp_options,
        vec![
            DhcpOption::Dns(IpAddr::V4(ip(169, 254, 100, 1))),
            DhcpOption::Domain("example.test".into()),
        ]
    );
    assert_eq!(c.compression, Some(Compression::CompLzo(CompLzo::No)));
    assert_eq!(c.compression.unwrap().framing(), CompressionFraming::Lzo);
    assert_eq!(c.ifconfig, Some(cidr("169.254.100.50/24")));
    assert_eq!(c.cipher, Some(Cipher::Aes128Gcm));
    assert!(c.uses_ekm() && c.unknown.is_empty());
}

#[test]
fn ekm_selection_follows_section_5_0() {
    assert!(!config("PUSH_REPLY,cipher AES-256-GCM,peer-id 3").uses_ekm());
    assert!(!config("PUSH_REPLY,protocol-flags cc-exit").uses_ekm());
    assert!(config("PUSH_REPLY,key-derivation tls-ekm").uses_ekm());
    let bare = config("PUSH_REPLY");
    assert_eq!(bare, PushedConfig::default());
}

/// 70 routes as the stock server splits them: every part starts with PUSH_REPLY, all but the
/// last end with `push-continuation 2`, the last with `push-continuation 1`.
#[test]
fn three_part_continuation_is_applied_only_after_the_last() {
    let routes: Vec<String> = (0..70)
        .map(|i| format!("route 10.{i}.0.0 255.255.0.0"))
        .collect();
    let parts = [
        format!("PUSH_REPLY,{},push-continuation 2", routes[..30].join(",")),
        format!(
            "PUSH_REPLY,{},push-continuation 2",
            routes[30..60].join(",")
        ),
        format!(
            "PUSH_REPLY,{},ping 10,peer-id 7,push-continuation 1",
            routes[60..].join(",")
        ),
    ];
    let mut assembler = PushAssembler::new();
    assert_eq!(assembler.handle_reply(push_reply(&parts[0])), Ok(None));
    assert!(assembler.in_progress());
    assert_eq!(assembler.handle_reply(push_reply(&parts[1])), Ok(None));
    let c = assembler
        .handle_reply(push_reply(&parts[2]))
        .unwrap()
        .unwrap();
    assert!(!assembler.in_progress());
    assert_eq!(c.routes.len(), 70);
    assert_eq!(c.routes[69].network, cidr("10.69.0.0/16"));
    assert_eq!(
        (c.peer_id, c.ping),
        (Some(7), Some(Duration::from_secs(10)))
    );
    assert!(c.unknown.is_empty());
    // A second, single-part reply starts from scratch.
    let next = assembler
        .handle_reply(push_reply("PUSH_REPLY,ping 5"))
        .unwrap()
        .unwrap();
    assert!(next.routes.is_empty());
}

#[test]
fn continuation_flags_are_stripped_and_bad_ones_reported() {
    let reply = push_reply("PUSH_REPLY,ping 10,push-continuation 2");
    assert_eq!(
        (reply.options, reply.more_follows),
        (vec!["ping 10".to_owned()], true)
    );
    assert!(!push_reply("PUSH_REPLY,ping 10,push-continuation 1").more_follows);
    let reply = push_reply("PUSH_REPLY,push-continuation 3");
    assert!(!reply.more_follows);
    let err = PushAssembler::new().handle_reply(reply).unwrap_err();
    assert!(
        matches!(
            err,
            PushError::Malformed {
                option: "push-continuation",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn assembler_bounds_parts() {
    let mut assembler = PushAssembler::new();
    for _ in 0..MAX_PUSH_PARTS {
        let part = push_reply("PUSH_REPLY,ping 1,push-continuation 2");
        assert_eq!(assembler.handle_reply(part), Ok(None));
    }
    let part = push_reply("PUSH_REPLY,ping 1,push-continuation 2");
    assert_eq!(
        assembler.handle_reply(part),
        Err(PushError::TooManyParts {
            max: MAX_PUSH_PARTS
        })
    );
    assert!(!assembler.in_progress());
    let huge = PushReply {
        options: vec!["ping 1".to_owned(); MAX_PUSHED_OPTIONS + 1],
        more_follows: false,
    };
    assert_eq!(
        assembler.handle_reply(huge),
        Err(PushError::TooManyOptions {
            max: MAX_PUSHED_OPTIONS
        })
    );
}

#[test]
fn routes_redirects_and_gateways() {
    let c = PushedConfig::from_options(&[
        "route 10.1.0.0 255.255.0.0 10.8.0.9 5",
        "route 10.2.0.1",
        "route 10.3.0.0 255.255.255.0 default 7",
        "route 10.4.0.0 255.255.0.0 net_gateway",
        "route-gateway dhcp",
        "route-metric 40",
        "redirect-gateway def1 bypass-dhcp !ipv4 weird",
        "redirect-private local",
    ])
    .unwrap();
    let gw = |s: &str, via, metric| Route {
        network: cidr(s),
        gateway: via,
        metric,
    };
    assert_eq!(
        c.routes,
        vec![
            gw(
                "10.1.0.0/16",
                Some(RouteVia::Addr(ip(10, 8, 0, 9))),
                Some(5)
            ),
            gw("10.2.0.1/32", None, None),
            gw("10.3.0.0/24", None, Some(7)),
            gw("10.4.0.0/16", Some(RouteVia::NetGateway), None),
        ]
    );
    assert_eq!(
        (c.route_gateway, c.route_metric),
        (Some(RouteGateway::Dhcp), Some(40))
    );
    let r = c.redirect_gateway.unwrap();
    assert!(r.def1 && r.bypass_dhcp && r.no_ipv4 && !r.local && !r.ipv6);
    assert_eq!(r.unknown, vec!["weird".to_owned()]);
    assert!(c.redirect_private.unwrap().local);
}

#[test]
fn compression_variants_and_framing() {
    let cases = [
        (
            "comp-lzo",
            Compression::CompLzo(CompLzo::Adaptive),
            CompressionFraming::Lzo,
        ),
        (
            "comp-lzo yes",
            Compression::CompLzo(CompLzo::Yes),
            CompressionFraming::Lzo,
        ),
        ("compress", Compression::Stub, CompressionFraming::Swap),
        ("compress stub", Compression::Stub, CompressionFraming::Swap),
        ("compress lz4", Compression::Lz4, CompressionFraming::Swap),
        (
            "compress stub-v2",
            Compression::StubV2,
            CompressionFraming::V2,
        ),
        (
            "compress lz4-v2",
            Compression::Lz4V2,
            CompressionFraming::V2,
        ),
        ("compress lzo", Compression::Lzo, CompressionFraming::Lzo),
    ];
    for (line, compression, framing) in cases {
        let c = PushedConfig::from_options(&[line]).unwrap();
        assert_eq!(c.compression, Some(compression), "{line}");
        assert_eq!(compression.framing(), framing, "{line}");
    }
}

#[test]
fn misc_options_dns_tokens_and_last_wins() {
    let c = PushedConfig::from_options(&[
        "dns server 1 address 10.8.0.1",
        "dhcp-option DNS fd00::53",
        "dhcp-option DOMAIN-SEARCH corp.example",
        "dhcp-option WINS 10.8.0.2",
        "dhcp-option DOMAIN \"my domain\"",
        "ping-exit 120",
        "inactive 300 1000",
        "topology subnet",
        "auth-token-user Ym9i",
        "cipher chacha20-poly1305",
        "cipher BF-CBC",
        "tun-mtu 1400",
        "tun-mtu 1500",
        "setenv-safe FOO bar",
        "protocol-flags cc-exit aead-epoch",
        "frobnicate 1",
    ])
    .unwrap();
    assert_eq!(c.dns, vec!["server 1 address 10.8.0.1".to_owned()]);
    assert_eq!(
        c.dhcp_options[0],
        DhcpOption::Dns("fd00::53".parse().unwrap())
    );
    assert_eq!(
        c.dhcp_options[1],
        DhcpOption::DomainSearch("corp.example".into())
    );
    let wins = DhcpOption::Other {
        kind: "WINS".into(),
        value: "10.8.0.2".into(),
    };
    assert_eq!(c.dhcp_options[2], wins);
    assert_eq!(c.dhcp_options[3], DhcpOption::Domain("my domain".into()));
    assert_eq!(c.ping_exit, Some(Duration::from_secs(120)));
    assert_eq!(c.inactive, Some(Duration::from_secs(300)));
    assert_eq!(c.topology, Some(Topology::Subnet));
    assert_eq!(c.auth_token_user.as_deref(), Some("Ym9i"));
    assert_eq!(
        c.cipher,
        Some(Cipher::Other("BF-CBC".into())),
        "last one wins"
    );
    assert_eq!(
        Cipher::from_name("chacha20-poly1305"),
        Cipher::Chacha20Poly1305
    );
    assert_eq!(c.tun_mtu, Some(1500));
    assert_eq!(c.ignored, vec!["setenv-safe FOO bar".to_owned()]);
    assert_eq!(c.protocol_flags.unknown, vec!["aead-epoch".to_owned()]);
    assert!(c.protocol_flags.cc_exit && !c.uses_ekm());
    assert_eq!(c.unknown, vec!["frobnicate 1".to_owned()]);
}

#[test]
fn malformed_known_options_name_the_option() {
    let cases = [
        ("ifconfig 10.0.0.2", "ifconfig"),
        ("ifconfig 10.0.0.2 255.0.255.0", "ifconfig"),
        ("ifconfig 10.0.0.300 255.255.255.0", "ifconfig"),
        ("route", "route"),
        ("route example.com", "route"),
        ("route 10.0.0.0 255.0.0.0 gw", "route"),
        ("route 10.0.0.0 255.0.0.0 10.8.0.1 x", "route"),
        ("route 10.0.0.0 255.0.0.0 10.8.0.1 1 extra", "route"),
        ("route-gateway", "route-gateway"),
        ("route-gateway nope", "route-gateway"),
        ("ping ten", "ping"),
        ("ping-restart", "ping-restart"),
        ("peer-id 16777216", "peer-id"),
        ("peer-id -1", "peer-id"),
        ("comp-lzo maybe", "comp-lzo"),
        ("compress snappy", "compress"),
        ("key-derivation tls-prf", "key-derivation"),
        ("tun-mtu 20", "tun-mtu"),
        ("tun-mtu 70000", "tun-mtu"),
        ("topology star", "topology"),
        ("dhcp-option DNS dns.example", "dhcp-option"),
        ("dhcp-option DOMAIN", "dhcp-option"),
        ("cipher", "cipher"),
        ("auth-token", "auth-token"),
        ("inactive", "inactive"),
    ];
    for (line, option) in cases {
        match option_error(line) {
            PushError::Malformed {
                option: o, line: l, ..
            } => {
                let shown = if option == "auth-token" {
                    "auth-token <redacted>"
                } else {
                    line
                };
                assert_eq!((o, l.as_str()), (option, shown));
            }
            other => panic!("{line}: {other:?}"),
        }
    }
    let unterminated = option_error("dhcp-option DOMAIN \"open");
    assert!(matches!(unterminated, PushError::UnterminatedQuote { .. }));
    assert_eq!(
        peer_id_ok("peer-id 16777215"),
        Some(0xff_ffff),
        "the largest 24-bit id is fine"
    );
}

fn peer_id_ok(line: &str) -> Option<u32> {
    PushedConfig::from_options(&[line]).unwrap().peer_id
}

#[test]
fn auth_token_never_shows() {
    let c = config("PUSH_REPLY,auth-token SESS_c2VjcmV0,ping 10");
    assert_eq!(c.auth_token.as_ref().unwrap().expose(), "SESS_c2VjcmV0");
    assert!(!format!("{c:?}").contains("c2VjcmV0"));
    let reply = push_reply("PUSH_REPLY,auth-token SESS_c2VjcmV0");
    assert!(!format!("{reply:?}").contains("c2VjcmV0"));
    let err = option_error("auth-token 'SESS_c2VjcmV0");
    assert!(!err.to_string().contains("c2VjcmV0"), "{err}");
}

#[test]
fn auth_failed_variants() {
    let parse = |m: &str| match ControlMessage::parse(m) {
        ControlMessage::AuthFailed { failure, reason } => (failure, reason),
        other => panic!("{m}: {other:?}"),
    };
    assert_eq!(
        parse("AUTH_FAILED"),
        (AuthFailure::Permanent, String::new())
    );
    assert_eq!(
        parse("AUTH_FAILED,Data channel cipher negotiation failed (no shared cipher)"),
        (
            AuthFailure::Permanent,
            "Data channel cipher negotiation failed (no shared cipher)".into()
        )
    );
    assert_eq!(
        parse("AUTH_FAILED,TEMP[backoff 30,advance remote]:server busy"),
        (
            AuthFailure::Temporary {
                backoff: Some(Duration::from_secs(30)),
                advance: Some(Advance::Remote),
            },
            "server busy".into()
        )
    );
    let bare_temp = AuthFailure::Temporary {
        backoff: None,
        advance: None,
    };
    assert_eq!(
        parse("AUTH_FAILED,TEMP:try later"),
        (bare_temp, "try later".into())
    );
    assert_eq!(parse("AUTH_FAILED,TEMP"), (bare_temp, String::new()));
    assert_eq!(
        parse("AUTH_FAILED,TEMPERATURE too high"),
        (AuthFailure::Permanent, "TEMPERATURE too high".into())
    );
    assert_eq!(
        parse("AUTH_FAILED,SESSION:token expired"),
        (AuthFailure::SessionExpired, "token expired".into())
    );
}

#[test]
fn other_control_messages() {
    use ControlMessage as M;
    let cases = [
        ("AUTH_PENDING", M::AuthPending { timeout: None }),
        (
            "AUTH_PENDING,timeout 120",
            M::AuthPending {
                timeout: Some(Duration::from_secs(120)),
            },
        ),
        (
            "INFO,OPEN_URL:https://x",
            M::Info {
                pre: false,
                text: "OPEN_URL:https://x".into(),
            },
        ),
        (
            "INFO_PRE,CR_TEXT:E,R:pin?",
            M::Info {
                pre: true,
                text: "CR_TEXT:E,R:pin?".into(),
            },
        ),
        (
            "RESTART",
            M::Restart {
                flags: RestartFlags::default(),
                message: String::new(),
            },
        ),
        (
            "RESTART,[PN]maintenance",
            M::Restart {
                flags: RestartFlags {
                    keep_credentials: true,
                    next_server: true,
                },
                message: "maintenance".into(),
            },
        ),
        (
            "RESTART,server shutdown",
            M::Restart {
                flags: RestartFlags::default(),
                message: "server shutdown".into(),
            },
        ),
        (
            "HALT",
            M::Halt {
                message: String::new(),
            },
        ),
        (
            "HALT,bye",
            M::Halt {
                message: "bye".into(),
            },
        ),
        ("EXIT", M::Exit),
        ("PUSH_REPLYX", M::Unknown("PUSH_REPLYX".into())),
        ("AUTH_FAILEDx", M::Unknown("AUTH_FAILEDx".into())),
        ("EXIT,now", M::Unknown("EXIT,now".into())),
        ("push_reply,ping 1", M::Unknown("push_reply,ping 1".into())),
        ("", M::Unknown(String::new())),
    ];
    for (text, expected) in cases {
        assert_eq!(ControlMessage::parse(text), expected, "{text:?}");
    }
}

#[test]
fn control_stream_splits_strips_and_drops() {
    let mut s = ControlStream::new();
    s.handle_plaintext(b"PUSH_REPLY,ping 10\0AUTH_PEN");
    assert_eq!(messages(&mut s), vec![Ok("PUSH_REPLY,ping 10".to_owned())]);
    assert!(s.has_partial());
    s.handle_plaintext(b"DING\r\n\0\0\n\0bad\x01byte\0caf\xc3\xa9\0HALT");
    assert_eq!(
        messages(&mut s),
        vec![
            Ok("AUTH_PENDING".to_owned()),
            Err(ControlStreamError::NonPrintable { len: 8 }),
            Err(ControlStreamError::NonPrintable { len: 5 }),
        ]
    );
    s.handle_plaintext(b"\0");
    assert_eq!(messages(&mut s), vec![Ok("HALT".to_owned())]);
    assert!(!s.has_partial());
}

#[test]
fn control_stream_drops_oversize_messages_and_recovers() {
    let mut s = ControlStream::new();
    let chunk = vec![b'a'; 1000];
    for _ in 0..5 {
        s.handle_plaintext(&chunk);
    }
    assert!(s.has_partial() && s.poll_message().is_none());
    s.handle_plaintext(b"tail\0EXIT\0");
    assert_eq!(
        messages(&mut s),
        vec![
            Err(ControlStreamError::Oversize {
                max: MAX_CONTROL_MESSAGE_LEN
            }),
            Ok("EXIT".to_owned()),
        ]
    );
    let exact = vec![b'b'; MAX_CONTROL_MESSAGE_LEN];
    s.handle_plaintext(&exact);
    s.handle_plaintext(b"\0");
    assert_eq!(
        messages(&mut s),
        vec![Ok(String::from_utf8(exact).unwrap())]
    );
}

#[test]
fn outgoing_messages_are_nul_terminated() {
    assert_eq!(PUSH_REQUEST, b"PUSH_REQUEST\0");
    assert_eq!(EXIT, b"EXIT\0");
}

use crate::testutil::Rng;

/// Mutations of real messages: truncation, byte and separator changes, random bytes.
fn mutate(rng: &mut Rng, seeds: &[&str]) -> Vec<u8> {
    let mut input = seeds[rng.below(seeds.len())].as_bytes().to_vec();
    match rng.below(4) {
        0 => input.truncate(rng.below(input.len() + 1)),
        1 => {
            for _ in 0..=rng.below(6) {
                let at = rng.below(input.len().max(1));
                const PICKS: &[u8] = b" ,:[]\"'\\0-.9\0\x7f\xff";
                let pick = PICKS[rng.below(PICKS.len())];
                if let Some(b) = input.get_mut(at) {
                    *b = pick;
                }
            }
        }
        2 => {
            let at = rng.below(input.len() + 1);
            let junk: Vec<u8> = (0..rng.below(20)).map(|_| rng.next() as u8).collect();
            input.splice(at..at, junk);
        }
        _ => input = (0..rng.below(200)).map(|_| rng.next() as u8).collect(),
    }
    input
}

#[test]
fn fuzzed_control_input_never_panics() {
    let seeds = [
        STOCK_PUSH,
        BRIDGE_PUSH,
        "PUSH_REPLY,route 10.0.0.0 255.0.0.0 10.8.0.1 5,redirect-gateway def1,push-continuation 2",
        "PUSH_REPLY,dhcp-option DOMAIN \"a b\",auth-token 'x y',compress stub-v2,topology subnet",
        "AUTH_FAILED,TEMP[backoff 30,advance addr]:busy",
        "RESTART,[P]x",
        "AUTH_PENDING,timeout 5",
    ];
    let mut rng = Rng(0x0bad_5eed_1234_5678);
    let mut stream = ControlStream::new();
    let mut assembler = PushAssembler::new();
    let (mut configs, mut errors, mut messages_seen) = (0, 0, 0);
    for _ in 0..20_000 {
        let input = mutate(&mut rng, &seeds);
        stream.handle_plaintext(&input);
        if rng.below(2) == 0 {
            stream.handle_plaintext(b"\0");
        }
        while let Some(message) = stream.poll_message() {
            let Ok(text) = message else { continue };
            messages_seen += 1;
            assert!(text.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            if let ControlMessage::PushReply(reply) = ControlMessage::parse(&text) {
                match assembler.handle_reply(reply) {
                    Ok(Some(_)) => configs += 1,
                    Ok(None) => {}
                    Err(_) => errors += 1,
                }
            }
        }
    }
    assert!(messages_seen > 2_000, "{messages_seen}");
    assert!(
        configs > 500 && errors > 200,
        "configs {configs}, errors {errors}"
    );
}
