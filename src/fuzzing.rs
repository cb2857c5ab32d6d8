//! Entry functions of the fuzz targets (`fuzz/fuzz_targets/*.rs`), one per parser.
//!
//! Not part of the public API. Each function takes arbitrary bytes, runs one parser on them and,
//! where the format has a `Repr` (or an encoder), re-emits what was parsed and checks that it
//! reads back the same. Any violated property is a panic, which is what the fuzzer reports.
//! `tests/fuzz_corpus.rs` runs the same functions over `fuzz/corpus/<target>/` and over
//! deterministic mutations of it, so CI exercises every target without the fuzzer.
//!
//! This module may read the clock (the sans-IO cores may not): the engines get one fixed base
//! instant per process, and every call builds its engines afresh, so an input's outcome never
//! depends on the inputs before it.

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::ether::wire::arp::ETHERNET_IPV4_LEN;
use crate::ether::wire::ethernet::HEADER_LEN;
use crate::ether::wire::{ArpPacket, ArpRepr, EtherType, EthernetFrame, EthernetRepr, Ipv4Packet};
use crate::ether::{Bridge, BridgeConfig, FrameSink, Ipv4Cidr, MacAddr, MAX_FRAME_LEN};
use crate::framing::{encode_into, Deframer, FramingError, HEADER_LEN as RECORD_HEADER_LEN};
use crate::openvpn::data::{
    Compression, DataChannel, DataCipher, DataConfig, DataError, Decrypted, KeyMaterial,
    KEY_HALF_LEN,
};
use crate::openvpn::keymethod::{ServerKeyMessage, KEY_METHOD_2, MAX_READ_STRING_LEN};
use crate::openvpn::push::{
    ControlMessage, ControlStream, PushAssembler, PushedConfig, MAX_CONTROL_MESSAGE_LEN,
};
use crate::openvpn::wire::{ControlPacket, ControlRepr, EmitError};
use crate::openvpn::wrap::{
    AuthDigest, KeyDirection, Side, StaticKey, WrapError, Wrapper, STATIC_KEY_LEN,
};

/// The base instant of every engine built here (fixed for the process).
fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn at_ms(ms: u64) -> Instant {
    base() + Duration::from_millis(ms)
}

/// A cheap deterministic hash of the input, to pick a byte to tamper with or a split point.
fn mix(data: &[u8]) -> usize {
    data.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    }) as usize
}

/// Flips one bit of `bytes` (not empty), chosen by `h`.
fn flip_one_bit(bytes: &mut [u8], h: usize) {
    let at = h % bytes.len();
    bytes[at] ^= 1 << ((h >> 16) % 8);
}

/// Decodes lowercase hex at compile time (the Appendix B keys below).
const fn hex<const N: usize>(text: &str) -> [u8; N] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not lowercase hex"),
        }
    }
    let digits = text.as_bytes();
    assert!(digits.len() == 2 * N, "wrong number of hex digits");
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = nibble(digits[2 * i]) << 4 | nibble(digits[2 * i + 1]);
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// framing

/// [`Deframer`] with the simpletun (2000) and OpenVPN-sized (2048) limits: the records it
/// returns, re-encoded, are exactly the consumed prefix, and it stops for the right reason.
pub fn framing(data: &[u8]) {
    for max in [2000, 2048] {
        let mut deframer = Deframer::new(data, max);
        let mut reencoded = BytesMut::new();
        let stop = loop {
            match deframer.next_record() {
                Ok(Some(record)) => {
                    assert!(!record.is_empty() && record.len() <= max);
                    encode_into(&mut reencoded, record, 1, max).expect("a record re-encodes");
                }
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        let consumed = deframer.consumed();
        assert_eq!(&reencoded[..], &data[..consumed]);
        let rest = &data[consumed..];
        let declared = rest
            .get(..RECORD_HEADER_LEN)
            .map(|h| usize::from(u16::from_be_bytes([h[0], h[1]])));
        match (stop, declared) {
            (None, None) => {}
            (None, Some(len)) => assert!(len >= 1 && len <= max && rest.len() < 2 + len),
            (Some(FramingError::Empty), Some(len)) => assert_eq!(len, 0),
            (Some(FramingError::Oversize { len, max: m }), Some(declared)) => {
                assert_eq!((len, m), (declared, max));
                assert!(len > max);
            }
            (Some(e), None) => panic!("{e} without a length prefix"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Ethernet layer

const OUR_MAC: MacAddr = MacAddr([0x02, 0x00, 0x5e, 0x10, 0x00, 0x01]);
const OUR_IP: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 2);
const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 1);

/// An Ethernet II header: the [`EthernetRepr`] re-emits the header bytes exactly, and the
/// payload is parsed by its EtherType ([`arp`], or the IPv4 view).
pub fn ethernet(data: &[u8]) {
    let Ok(frame) = EthernetFrame::new_checked(data) else {
        assert!(data.len() < HEADER_LEN);
        return;
    };
    let repr = EthernetRepr::parse(&frame);
    assert_eq!(repr.buffer_len(), HEADER_LEN);
    let mut header = [0u8; HEADER_LEN];
    repr.emit(&mut header).expect("a parsed header re-emits");
    assert_eq!(header[..], data[..HEADER_LEN]);
    assert!(repr.emit(&mut header[..HEADER_LEN - 1]).is_err());
    let again = EthernetFrame::new_checked(&header[..]).expect("a full header");
    assert_eq!(EthernetRepr::parse(&again), repr);
    assert_eq!(frame.payload(), &data[HEADER_LEN..]);
    let _ = (repr.ethertype.to_string(), repr.ethertype.is_length());
    let payload = frame.into_payload();
    match repr.ethertype {
        EtherType::ARP => arp(payload),
        EtherType::IPV4 => ipv4(payload),
        _ => {}
    }
}

/// An ARP packet (without Ethernet header): the view's fields lie where the declared address
/// lengths put them, and an Ethernet/IPv4 [`ArpRepr`] re-emits its 28 bytes exactly.
pub fn arp(data: &[u8]) {
    let Ok(packet) = ArpPacket::new_checked(data) else {
        return;
    };
    let hlen = usize::from(packet.hardware_len());
    let plen = usize::from(packet.protocol_len());
    let fields = [
        (packet.sender_hardware_addr(), 8, hlen),
        (packet.sender_protocol_addr(), 8 + hlen, plen),
        (packet.target_hardware_addr(), 8 + hlen + plen, hlen),
        (packet.target_protocol_addr(), 8 + 2 * hlen + plen, plen),
    ];
    for (field, at, len) in fields {
        assert_eq!(field, &data[at..at + len]);
    }
    let _ = (
        packet.hardware_type(),
        packet.protocol_type(),
        packet.operation(),
    );
    let Ok(repr) = ArpRepr::parse(&packet) else {
        return;
    };
    assert_eq!(repr.buffer_len(), ETHERNET_IPV4_LEN);
    let mut out = [0u8; ETHERNET_IPV4_LEN];
    repr.emit(&mut out).expect("a parsed ARP packet re-emits");
    assert_eq!(out[..], data[..ETHERNET_IPV4_LEN]);
    assert!(repr.emit(&mut out[..ETHERNET_IPV4_LEN - 1]).is_err());
    assert_eq!(parse_arp(&out), repr);
    let reply = ArpRepr::reply_to(&repr, OUR_MAC);
    reply.emit(&mut out).expect("a reply emits");
    assert_eq!(parse_arp(&out), reply);
}

fn parse_arp(bytes: &[u8]) -> ArpRepr {
    ArpPacket::new_checked(bytes)
        .and_then(|p| ArpRepr::parse(&p))
        .expect("an emitted ARP packet parses")
}

/// The IPv4 view: lengths consistent, trimming cuts at the total length.
fn ipv4(data: &[u8]) {
    let Ok(packet) = Ipv4Packet::new_checked(data) else {
        return;
    };
    let (header, total) = (packet.header_len(), packet.total_len());
    assert!(header >= 20 && header <= total && total <= data.len());
    let _ = (packet.protocol(), packet.src_addr(), packet.dst_addr());
    assert_eq!(packet.into_trimmed(), &data[..total]);
}

/// Collects the frames a [`Bridge`] emits.
#[derive(Default)]
struct Frames(Vec<Vec<u8>>);

impl FrameSink for Frames {
    fn frame_buf(&mut self, len: usize) -> &mut [u8] {
        assert!(
            len <= MAX_FRAME_LEN,
            "the bridge asked for a {len}-byte frame"
        );
        self.0.push(vec![0; len]);
        self.0.last_mut().map(|f| &mut f[..]).unwrap_or_default()
    }
}

/// The bridge on the LAN of `src/ether/wire/vectors.rs` (we are 10.98.0.2/24, gateway .1):
/// the bytes as a frame from the link, as a packet from the TUN, as a frame again (after what
/// the first one taught it), then its timers run out. Every packet for the TUN is the IPv4
/// packet inside the frame, every frame it emits is ours and well-formed, timers make progress.
pub fn ether_frame(data: &[u8]) {
    let mut bridge = Bridge::new(BridgeConfig {
        mac: OUR_MAC,
        address: Ipv4Cidr::new(OUR_IP, 24).expect("a /24"),
        gateway: Some(GATEWAY),
        routes: vec![],
    });
    let mut sink = Frames::default();
    bridge.link_up(at_ms(0), &mut sink);
    check_to_tun(data, bridge.handle_frame(at_ms(1), data, &mut sink));
    bridge.handle_ip_packet(at_ms(2), data, &mut sink);
    check_to_tun(data, bridge.handle_frame(at_ms(3), data, &mut sink));
    let mut last = at_ms(3);
    for _ in 0..64 {
        let Some(deadline) = bridge.poll_timeout() else {
            break;
        };
        assert!(
            deadline > last,
            "poll_timeout did not move on after handle_timeout"
        );
        bridge.handle_timeout(deadline, &mut sink);
        last = deadline;
    }
    assert_eq!(bridge.poll_timeout(), None, "ARP resolution never gives up");
    bridge.link_down();
    let emitted = sink.0.len();
    check_to_tun(data, bridge.handle_frame(last, data, &mut sink));
    assert_eq!(
        sink.0.len(),
        emitted,
        "frames emitted while the link is down"
    );
    let counters = bridge.counters();
    assert_eq!(counters.frames_out, emitted as u64);
    assert!(counters.packets_to_tun <= counters.frames_in);
    sink.0.iter().for_each(|frame| check_emitted(frame));
}

fn check_to_tun(frame: &[u8], packet: Option<&[u8]>) {
    let Some(packet) = packet else {
        return;
    };
    let offset = (packet.as_ptr() as usize).wrapping_sub(frame.as_ptr() as usize);
    assert_eq!(
        offset, HEADER_LEN,
        "the packet for the TUN is not the frame's payload"
    );
    let ip = Ipv4Packet::new_checked(packet).expect("the TUN gets IPv4");
    assert_eq!(ip.total_len(), packet.len(), "padding reached the TUN");
}

fn check_emitted(frame: &[u8]) {
    let eth = EthernetFrame::new_checked(frame).expect("an emitted frame has a header");
    let header = EthernetRepr::parse(&eth);
    assert_eq!(header.src, OUR_MAC);
    match header.ethertype {
        EtherType::IPV4 => {
            let ip = Ipv4Packet::new_checked(eth.payload()).expect("we send IPv4");
            assert_eq!(ip.total_len(), eth.payload().len());
        }
        EtherType::ARP => {
            let arp = parse_arp(eth.payload());
            assert_eq!((arp.sender_mac, arp.sender_ip), (OUR_MAC, OUR_IP));
        }
        other => panic!("the bridge sent EtherType {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// OpenVPN control channel

/// A plain control packet: [`ControlRepr`] re-emits exactly the parsed bytes and agrees with
/// the [`ControlPacket`] view.
pub fn openvpn_control(data: &[u8]) {
    let Ok(repr) = ControlRepr::parse(data) else {
        return;
    };
    assert_eq!(repr.buffer_len(), data.len());
    let mut out = Vec::new();
    repr.emit_to_vec(&mut out)
        .expect("a parsed packet re-emits");
    assert_eq!(out, data);
    let mut exact = vec![0u8; data.len()];
    repr.emit(&mut exact)
        .expect("a parsed packet fits its length");
    assert_eq!(exact, data);
    if let Some(short) = exact.len().checked_sub(1) {
        assert!(matches!(
            repr.emit(&mut exact[..short]),
            Err(EmitError::BufferTooShort { .. })
        ));
    }
    assert_eq!(ControlRepr::parse(&out), Ok(repr));
    let view = ControlPacket::new_checked(data).expect("parse accepted it");
    assert_eq!(
        (view.opcode(), view.key_id(), view.session_id(), view.acks()),
        (repr.opcode, repr.key_id, repr.session_id, repr.acks)
    );
    assert_eq!(view.remote_session_id(), repr.remote_session_id);
    assert_eq!(
        (view.message_id(), view.payload()),
        (repr.message_id, repr.payload)
    );
}

/// Appendix B.2: the tls-auth HMAC-SHA1 key (static key bytes 192..212).
const B2_HMAC_KEY: [u8; 20] = hex("1392e59bed9b48498281afd0ac0075a6c2106175");
/// Appendix B.3: the tls-crypt client→server Ke and Ka.
const B3_KE: [u8; 32] = hex("995d44cc865259a1087cfddb657201ce4c2d9edb6604207bf92812344de47060");
const B3_KA: [u8; 32] = hex("2e739eb4a2e5d5e07b4f4c014faac882d87f9e4d4a709af59dd1fd22a92b9357");
/// The time field the senders here write.
const WRAP_TIME: u32 = 0x6b02_4719;

/// A static key holding `parts` (offset, bytes) over a fixed pattern.
fn static_key(parts: &[(usize, &[u8])]) -> StaticKey {
    let mut bytes: [u8; STATIC_KEY_LEN] = std::array::from_fn(|i| (i * 7 + 3) as u8);
    for (offset, part) in parts {
        bytes[*offset..*offset + part.len()].copy_from_slice(part);
    }
    StaticKey::from_bytes(bytes)
}

/// The client's receivers (tls-auth SHA1 `key-direction 1`, tls-crypt) and matching server
/// senders. Both directions carry the Appendix B keys, so the B.2/B.3 captures (client→server)
/// authenticate at the client too.
fn wrappers() -> [(Wrapper, Wrapper); 2] {
    let auth = static_key(&[(64, &B2_HMAC_KEY), (192, &B2_HMAC_KEY)]);
    let crypt = static_key(&[(0, &B3_KE), (64, &B3_KA), (128, &B3_KE), (192, &B3_KA)]);
    [
        (
            Wrapper::tls_auth(&auth, AuthDigest::Sha1, KeyDirection::One),
            Wrapper::tls_auth(&auth, AuthDigest::Sha1, KeyDirection::Zero),
        ),
        (
            Wrapper::tls_crypt(&crypt, Side::Client),
            Wrapper::tls_crypt(&crypt, Side::Server),
        ),
    ]
}

/// [`Wrapper::unwrap`] for tls-auth and tls-crypt, on the bytes as received and on the bytes
/// wrapped as a plain packet by the peer: that one unwraps to the same bytes once, is a replay
/// the second time, and with any byte changed does not authenticate.
pub fn openvpn_unwrap(data: &[u8]) {
    let now = base();
    for (mut rx, _) in wrappers() {
        let overhead = rx.overhead();
        if let Ok(plain) = rx.unwrap(data, now) {
            assert_eq!(plain.len() + overhead, data.len());
            let _ = ControlRepr::parse(plain);
            assert!(matches!(
                rx.unwrap(data, now),
                Err(WrapError::Replay { .. })
            ));
        }
    }
    assert_eq!(Wrapper::None.unwrap(data, now), Ok(data));
    for (mut rx, mut tx) in wrappers() {
        let mut wire = Vec::new();
        if let Err(e) = tx.wrap(data, WRAP_TIME, &mut wire) {
            assert_eq!(e, WrapError::PlainTooShort(data.len()));
            assert!(wire.is_empty() && data.len() < 9);
            continue;
        }
        assert_eq!(wire.len(), data.len() + tx.overhead());
        assert_eq!(wire[..9], data[..9], "opcode and session id stay in clear");
        let plain = rx.unwrap(&wire, now).map(<[u8]>::to_vec);
        assert_eq!(plain.as_deref(), Ok(data));
        assert!(matches!(
            rx.unwrap(&wire, now),
            Err(WrapError::Replay { .. })
        ));
        flip_one_bit(&mut wire, mix(data));
        assert!(matches!(
            rx.unwrap(&wire, now),
            Err(WrapError::BadHmac | WrapError::BadTag)
        ));
    }
}

/// The server's key-method-2 message: `wire_len` agrees with `parse`, and the parsed fields,
/// written again in the server layout, parse to the same fields.
pub fn openvpn_keymethod(data: &[u8]) {
    let wire_len = ServerKeyMessage::wire_len(data);
    if let Some(n) = wire_len {
        assert!(n <= data.len());
        assert_eq!(ServerKeyMessage::wire_len(&data[..n]), Some(n));
    }
    let Ok(message) = ServerKeyMessage::parse(data) else {
        return;
    };
    // All four strings present: the whole input; a string missing at the end: incomplete.
    assert!(wire_len.map_or(true, |n| n == data.len()));
    let _ = format!("{message:?}");
    let strings = [
        &message.options,
        &message.username,
        &*message.password,
        &message.peer_info,
    ];
    if strings.iter().any(|s| s.len() >= MAX_READ_STRING_LEN) {
        return; // U+FFFD replacements made it longer than a readable string
    }
    let mut bytes = vec![0, 0, 0, 0, message.flags << 4 | KEY_METHOD_2];
    bytes.extend_from_slice(message.randoms.random1());
    bytes.extend_from_slice(message.randoms.random2());
    for s in strings {
        if !s.is_empty() {
            let len = u16::try_from(s.len() + 1).expect("checked above");
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(s.as_bytes());
            bytes.push(0);
        } else {
            bytes.extend_from_slice(&[0, 0]);
        }
    }
    assert_eq!(ServerKeyMessage::wire_len(&bytes), Some(bytes.len()));
    let again = ServerKeyMessage::parse(&bytes).expect("a re-written message parses");
    assert_eq!(
        (
            again.flags,
            again.randoms.random1(),
            again.randoms.random2()
        ),
        (
            message.flags,
            message.randoms.random1(),
            message.randoms.random2()
        )
    );
    assert_eq!(
        [
            &again.options,
            &again.username,
            &*again.password,
            &again.peer_info
        ],
        strings
    );
}

/// The control stream after the key exchange: the messages do not depend on how the bytes
/// were split into TLS records; each parses as a [`ControlMessage`], PUSH_REPLYs go through
/// [`PushAssembler`] and [`PushedConfig::from_options`]; the bytes read as comma/newline
/// separated option lines go to [`PushedConfig::from_options`] directly.
pub fn openvpn_push(data: &[u8]) {
    let whole = control_messages(&[data]);
    let cut = mix(data) % (data.len() + 1);
    let (head, tail) = data.split_at(cut);
    assert_eq!(control_messages(&[head, tail]), whole);
    let bytes: Vec<&[u8]> = data.chunks(1).collect();
    assert_eq!(control_messages(&bytes), whole);
    let mut assembler = PushAssembler::new();
    for message in whole.into_iter().flatten() {
        assert!(!message.is_empty() && message.len() <= MAX_CONTROL_MESSAGE_LEN);
        assert!(message.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        match ControlMessage::parse(&message) {
            ControlMessage::PushReply(reply) => {
                let _ = format!("{reply:?}");
                assert!(reply
                    .options
                    .iter()
                    .all(|o| !o.is_empty() && !o.contains(',')));
                check_pushed(PushedConfig::from_options(&reply.options));
                let _ = assembler.handle_reply(reply).map(check_pushed_opt);
            }
            other => {
                let _ = format!("{other:?}");
            }
        }
    }
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split([',', '\n', '\0']).collect();
    check_pushed(PushedConfig::from_options(&lines));
}

fn control_messages(chunks: &[&[u8]]) -> Vec<Result<String, String>> {
    let mut stream = ControlStream::new();
    let mut out = Vec::new();
    for chunk in chunks {
        stream.handle_plaintext(chunk);
        while let Some(message) = stream.poll_message() {
            out.push(message.map_err(|e| e.to_string()));
        }
    }
    let _ = stream.has_partial();
    out
}

fn check_pushed(result: Result<PushedConfig, crate::openvpn::push::PushError>) {
    match result {
        Ok(config) => {
            let _ = (config.uses_ekm(), format!("{config:?}"));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

fn check_pushed_opt(config: Option<PushedConfig>) {
    config.into_iter().for_each(|c| check_pushed(Ok(c)));
}

// ---------------------------------------------------------------------------------------------
// OpenVPN data channel

/// Appendix B.1: the server→client AES-256-GCM key and implicit IV (key_id 1, peer-id 0).
const B1_KEY: [u8; 32] = hex("a86038f2af1afea0046495093c8a67e382e814d16f8b9f1b96f5a045e9a49105");
const B1_IV: [u8; 8] = hex("399e63563f5dc917");

/// A stock 2.6.14 server's AES-256-CBC / HMAC-SHA256 keys (server→client, key_id 0; lab
/// capture, see `data/cbc_tests.rs`), under which the `cbc-aes256-sha256-arp-reply` seed
/// authenticates.
const CBC_KEY: [u8; 32] = hex("6c4577cfe88996e57fcd9b95189255b85fe23ec008f5b978cd9e1f430cf1cac4");
const CBC_HMAC_KEY: [u8; 32] =
    hex("4502e30da76c15266b476811e49b725bc612ab8c412e78b1c85d297ba73ee432");

/// The fixed key block of generation `key_id`: a pattern, except that generation 1's
/// server→client direction is B.1's (so the B.1 capture authenticates) and generation 0's is
/// the stock CBC session's.
fn key_block(key_id: u8) -> [u8; 4 * KEY_HALF_LEN] {
    let mut block: [u8; 4 * KEY_HALF_LEN] =
        std::array::from_fn(|i| (i as u8).wrapping_mul(13) ^ key_id.wrapping_mul(0x5b));
    let (cipher, hmac): (&[u8], &[u8]) = if key_id == 1 {
        (&B1_KEY, &B1_IV)
    } else {
        (&CBC_KEY, &CBC_HMAC_KEY)
    };
    block[2 * KEY_HALF_LEN..][..cipher.len()].copy_from_slice(cipher);
    block[3 * KEY_HALF_LEN..][..hmac.len()].copy_from_slice(hmac);
    block
}

/// The CBC digests, in the order the fuzz entry cycles through them.
const DIGESTS: [AuthDigest; 3] = [AuthDigest::Sha256, AuthDigest::Sha1, AuthDigest::Sha512];

/// A channel with key_id 0 (the lame duck) and key_id 1 (current) installed, as the client or
/// (directions swapped) as the server.
fn data_channel(
    cipher: DataCipher,
    auth: AuthDigest,
    compression: Compression,
    peer_id: Option<u32>,
    server: bool,
) -> DataChannel {
    let config = DataConfig {
        compression,
        peer_id,
        auth,
        ..DataConfig::default()
    };
    let mut channel = DataChannel::new(config).expect("a valid peer-id");
    for key_id in [0, 1] {
        let block = key_block(key_id);
        let client = KeyMaterial::from_key_block(&block);
        let keys = if server {
            KeyMaterial {
                encrypt: client.decrypt,
                decrypt: client.encrypt,
            }
        } else {
            client
        };
        channel
            .install(key_id, cipher, &keys, base())
            .expect("a valid key_id");
    }
    channel
}

const COMPRESSIONS: [Compression; 4] = [
    Compression::None,
    Compression::CompLzo,
    Compression::Stub,
    Compression::StubV2,
];

/// [`DataChannel::decrypt_in_place`] with fixed keys for every cipher (CBC with SHA256 for the
/// raw bytes, a digest chosen by the input for the round trip): the bytes as received (the B.1
/// capture authenticates under AES-256-GCM, the stock CBC capture under AES-256-CBC/SHA256), and
/// the bytes as a frame sealed by the server, which opens once to what [`Decrypted::classify`]
/// makes of them, is a replay the second time, and with any byte changed is refused. Each
/// compression framing is also removed from the raw bytes.
pub fn openvpn_data(data: &[u8]) {
    for compression in COMPRESSIONS {
        let _ = compression.unframe(&mut data.to_vec());
    }
    let h = mix(data);
    for (i, cipher) in DataCipher::ALL.into_iter().enumerate() {
        let mut client = data_channel(cipher, DIGESTS[0], Compression::None, None, false);
        let mut packet = data.to_vec();
        if let Ok(decrypted) = client.decrypt_in_place(&mut packet, at_ms(1)) {
            let _ = format!("{decrypted:?}");
            let mut again = data.to_vec();
            let replay = client.decrypt_in_place(&mut again, at_ms(2));
            assert!(matches!(replay, Err(DataError::Replay { .. })));
        }
        let compression = COMPRESSIONS[(h + i) % COMPRESSIONS.len()];
        let peer_id = (h & 0x100 != 0).then_some((h >> 9) as u32 & 0x00ff_ffff);
        let auth = DIGESTS[(h >> 3) % DIGESTS.len()];
        data_round_trip((cipher, auth), compression, peer_id, data);
    }
}

fn data_round_trip(
    (cipher, auth): (DataCipher, AuthDigest),
    compression: Compression,
    peer_id: Option<u32>,
    frame: &[u8],
) {
    let mut server = data_channel(cipher, auth, compression, peer_id, true);
    let mut client = data_channel(cipher, auth, compression, peer_id, false);
    let mut sealed = vec![0u8; frame.len() + server.overhead()];
    let n = server
        .encrypt_frame(frame, &mut sealed)
        .expect("a frame seals");
    sealed.truncate(n);
    let mut packet = sealed.clone();
    let opened = client.decrypt_in_place(&mut packet, at_ms(1));
    assert_eq!(
        opened,
        Decrypted::classify(frame),
        "{cipher} {compression:?}"
    );
    let mut packet = sealed.clone();
    let replay = client.decrypt_in_place(&mut packet, at_ms(2));
    assert!(matches!(replay, Err(DataError::Replay { .. })));
    // CBC does not authenticate the header (§6.3): the peer-id bytes of P_DATA_V2 may change.
    // Every other bit is checked (key_id and opcode bits select no key, or the wrong one).
    let unchecked = if cipher.is_aead() || peer_id.is_none() {
        0..0
    } else {
        1..4
    };
    let h = mix(frame);
    let tampered = if unchecked.contains(&(h % sealed.len())) {
        &mut sealed[unchecked.end..]
    } else {
        &mut sealed[..]
    };
    flip_one_bit(tampered, h);
    let mut fresh = data_channel(cipher, auth, compression, peer_id, false);
    assert!(fresh.decrypt_in_place(&mut sealed, at_ms(1)).is_err());
}

// ---------------------------------------------------------------------------------------------
// configuration

/// [`crate::config::parse`] on UTF-8 text: a config or an error that formats.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::config::parse(text, Path::new("/fuzz/tapclient.toml")) {
        Ok(config) => {
            let _ = format!("{config:?}");
        }
        Err(e) => {
            let _ = (e.to_string(), e.line(), e.key());
        }
    }
}
