//! Control-channel wrapping with a pre-shared static key: tls-auth (§1.8) and tls-crypt (§1.9).
//!
//! Owns the static key file, the key slicing per direction, HMAC/encryption of whole control
//! packets and the replay protection of the wrapping layer (`ssl_pkt.c`, `tls_crypt.c`,
//! `packet_id.c`). It never parses the inner packet: [`Wrapper::unwrap`] authenticates (and for
//! tls-crypt decrypts) first and hands back the *plain* layout of §1.3 (`op | sid | acks … |
//! msg-id | payload`), which [`super::wire::ControlRepr::parse`] reads unchanged whatever the
//! wrapping. [`Wrapper::wrap`] takes that plain layout and produces the wire form.
//!
//! Replay ids: the sender counts from 1 for *every* packet it wraps (retransmissions and
//! `P_ACK_V1` included) and fixes the time field at its first packet; the receiver keeps a
//! sliding window of 64 ids / 15 s and rejects id 0. This is not the reliability layer's message
//! id. Keys are zeroized on drop and never printed by `Debug`.

use std::fmt;
use std::time::Instant;

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use ring::hmac;
use zeroize::{Zeroize, Zeroizing};

// `--replay-window 64 15` governs the control and the data channel alike (`packet_id.h`).
use super::data::ReplayWindow;

/// Bytes of an OpenVPN static key (2 × {64 cipher, 64 HMAC}).
pub const STATIC_KEY_LEN: usize = 256;
/// Bytes of the replay block (packet id + time).
const REPLAY_LEN: usize = 8;
/// Opcode byte and own session id: the clear prefix every wrapping keeps in place.
const HEAD_LEN: usize = 9;
/// tls-crypt tag (HMAC-SHA256) length.
const TAG_LEN: usize = 32;

const BEGIN: &str = "-----BEGIN OpenVPN Static key V1-----";
const END: &str = "-----END OpenVPN Static key V1-----";

/// Why a static key file could not be read. Local misconfiguration: stop with this message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StaticKeyError {
    #[error("no '{BEGIN}' line: not an OpenVPN static key file")]
    MissingBegin,
    #[error("no '{END}' line after the BEGIN line")]
    MissingEnd,
    #[error("line {line}: the key must be hexadecimal digits only")]
    NotHex { line: usize },
    #[error("the key holds {got} hex digits, 512 (256 bytes) are expected")]
    WrongLength { got: usize },
}

/// An OpenVPN static key (`-----BEGIN OpenVPN Static key V1-----`), as used by tls-auth and
/// tls-crypt. Zeroized on drop.
pub struct StaticKey {
    bytes: Zeroizing<[u8; STATIC_KEY_LEN]>,
}

impl StaticKey {
    /// Reads the key file text: 256 bytes in hex between the BEGIN and END lines, whitespace
    /// allowed anywhere; text outside the markers (comments) is ignored.
    pub fn parse(text: &str) -> Result<StaticKey, StaticKeyError> {
        let mut lines = text.lines().enumerate();
        lines
            .by_ref()
            .find(|(_, l)| l.trim() == BEGIN)
            .ok_or(StaticKeyError::MissingBegin)?;
        let mut bytes = Zeroizing::new([0u8; STATIC_KEY_LEN]);
        let mut digits = 0usize;
        for (index, line) in lines {
            if line.trim() == END {
                if digits != 2 * STATIC_KEY_LEN {
                    return Err(StaticKeyError::WrongLength { got: digits });
                }
                return Ok(StaticKey { bytes });
            }
            for c in line.chars().filter(|c| !c.is_whitespace()) {
                let nibble = c
                    .to_digit(16)
                    .ok_or(StaticKeyError::NotHex { line: index + 1 })?;
                if let Some(b) = bytes.get_mut(digits / 2) {
                    *b = (*b << 4) | nibble as u8;
                }
                digits += 1;
            }
        }
        Err(StaticKeyError::MissingEnd)
    }

    pub fn from_bytes(bytes: [u8; STATIC_KEY_LEN]) -> StaticKey {
        StaticKey {
            bytes: Zeroizing::new(bytes),
        }
    }

    /// `N` key bytes starting at `start` (a fixed offset of §1.8/§1.9, always in range).
    fn part<const N: usize>(&self, start: usize) -> Zeroizing<[u8; N]> {
        let mut out = Zeroizing::new([0u8; N]);
        if let Some(src) = self.bytes.get(start..start + N) {
            out.copy_from_slice(src);
        }
        out
    }
}

impl fmt::Debug for StaticKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticKey(<redacted>)")
    }
}

/// `--key-direction` for tls-auth (§1.8). Clients normally use `One`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyDirection {
    /// No direction: both sides sign and verify with the same HMAC key (bytes 64..).
    Bidirectional,
    /// `key-direction 0`: send with bytes 64.., verify with bytes 192.. (usual on servers).
    Zero,
    /// `key-direction 1`: send with bytes 192.., verify with bytes 64.. (usual on clients).
    One,
}

/// The `--auth` digest of tls-auth. Not negotiated: it must match the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthDigest {
    Sha1,
    Sha256,
    Sha512,
}

impl AuthDigest {
    /// Bytes of the HMAC on the wire (and of the HMAC key used).
    pub fn tag_len(self) -> usize {
        match self {
            AuthDigest::Sha1 => 20,
            AuthDigest::Sha256 => 32,
            AuthDigest::Sha512 => 64,
        }
    }

    fn algorithm(self) -> hmac::Algorithm {
        match self {
            AuthDigest::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            AuthDigest::Sha256 => hmac::HMAC_SHA256,
            AuthDigest::Sha512 => hmac::HMAC_SHA512,
        }
    }
}

/// Which end of the connection we are; tls-crypt has fixed per-side key halves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// Why a packet could not be wrapped or unwrapped. Every variant except `PlainTooShort` is a
/// per-packet problem: drop the packet, count it, carry on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WrapError {
    /// Malformed input: too short for the wrapping's fixed fields.
    #[error("wrapped control packet truncated: {needed} bytes needed, {got} present")]
    Truncated { needed: usize, got: usize },
    /// Peer misbehaved (or wrong key / `key-direction` / `--auth`): not authentic.
    #[error("tls-auth HMAC mismatch (forged packet, or wrong key, key-direction or --auth)")]
    BadHmac,
    /// Peer misbehaved (or wrong key): not authentic.
    #[error("tls-crypt tag mismatch (forged packet or wrong tls-crypt key)")]
    BadTag,
    /// Peer misbehaved: replay packet-id 0 is never sent.
    #[error("control packet with replay packet-id 0")]
    ZeroPacketId,
    /// Peer misbehaved or an attacker replayed: seen before, or outside the 64 / 15 s window.
    #[error("replayed or too old control packet (replay packet-id {packet_id}, time {time})")]
    Replay { packet_id: u32, time: u32 },
    /// Caller bug: a plain packet must at least hold the opcode and session id.
    #[error("refusing to wrap a {0}-byte control packet (opcode and session id need 9)")]
    PlainTooShort(usize),
}

/// The wrapping configured for the control channel, with its replay state.
#[derive(Debug)]
pub enum Wrapper {
    /// No `--tls-auth` / `--tls-crypt`: packets go out as they are.
    None,
    TlsAuth(TlsAuth),
    TlsCrypt(TlsCrypt),
}

impl Wrapper {
    pub fn tls_auth(key: &StaticKey, digest: AuthDigest, direction: KeyDirection) -> Wrapper {
        Wrapper::TlsAuth(TlsAuth::new(key, digest, direction))
    }

    pub fn tls_crypt(key: &StaticKey, side: Side) -> Wrapper {
        Wrapper::TlsCrypt(TlsCrypt::new(key, side))
    }

    /// Bytes the wrapping adds to a plain packet (for sizing control packets).
    pub fn overhead(&self) -> usize {
        match self {
            Wrapper::None => 0,
            Wrapper::TlsAuth(t) => t.digest.tag_len() + REPLAY_LEN,
            Wrapper::TlsCrypt(_) => TAG_LEN + REPLAY_LEN,
        }
    }

    /// Appends the wire form of the plain packet `plain` to `out`. Consumes one replay id;
    /// `now_unix` (seconds) becomes the time field on the first call only.
    pub fn wrap(
        &mut self,
        plain: &[u8],
        now_unix: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), WrapError> {
        if plain.len() < HEAD_LEN {
            return Err(WrapError::PlainTooShort(plain.len()));
        }
        match self {
            Wrapper::None => out.extend_from_slice(plain),
            Wrapper::TlsAuth(t) => t.wrap(plain, now_unix, out),
            Wrapper::TlsCrypt(t) => t.wrap(plain, now_unix, out),
        }
        Ok(())
    }

    /// Authenticates (and decrypts) `wire`, checks and records its replay id, and returns the
    /// plain packet. Nothing of an inauthentic packet is looked at, nor does it move the window.
    pub fn unwrap<'a>(&'a mut self, wire: &'a [u8], now: Instant) -> Result<&'a [u8], WrapError> {
        match self {
            Wrapper::None => Ok(wire),
            Wrapper::TlsAuth(t) => t.unwrap(wire, now),
            Wrapper::TlsCrypt(t) => t.unwrap(wire, now),
        }
    }
}

/// tls-auth: an HMAC over the packet with the replay block in front (§1.8).
pub struct TlsAuth {
    digest: AuthDigest,
    send_key: Zeroizing<[u8; 64]>,
    recv_key: Zeroizing<[u8; 64]>,
    send: ReplaySend,
    recv: ControlReplay,
    scratch: Vec<u8>,
}

impl TlsAuth {
    /// Slices the HMAC halves of `key` for `direction`; the first `digest.tag_len()` bytes are used.
    pub fn new(key: &StaticKey, digest: AuthDigest, direction: KeyDirection) -> TlsAuth {
        let (send_at, recv_at) = match direction {
            KeyDirection::Bidirectional => (64, 64),
            KeyDirection::Zero => (64, 192),
            KeyDirection::One => (192, 64),
        };
        TlsAuth {
            digest,
            send_key: key.part(send_at),
            recv_key: key.part(recv_at),
            send: ReplaySend::default(),
            recv: ControlReplay::default(),
            scratch: Vec::new(),
        }
    }

    fn key(&self, bytes: &[u8; 64]) -> hmac::Key {
        hmac::Key::new(self.digest.algorithm(), &bytes[..self.digest.tag_len()])
    }

    /// `out += op | sid | HMAC | rid | time | rest`, HMAC over `rid | time | op | sid | rest`.
    fn wrap(&mut self, plain: &[u8], now_unix: u32, out: &mut Vec<u8>) {
        let replay = self.send.next(now_unix);
        self.scratch.clear();
        self.scratch.extend_from_slice(&replay);
        self.scratch.extend_from_slice(plain);
        let tag = hmac::sign(&self.key(&self.send_key), &self.scratch);
        out.extend_from_slice(&plain[..HEAD_LEN]);
        out.extend_from_slice(tag.as_ref());
        out.extend_from_slice(&replay);
        out.extend_from_slice(&plain[HEAD_LEN..]);
    }

    fn unwrap(&mut self, wire: &[u8], now: Instant) -> Result<&[u8], WrapError> {
        let h = self.digest.tag_len();
        let replay_at = HEAD_LEN + h;
        let rest_at = replay_at + REPLAY_LEN;
        check_len(wire, rest_at)?;
        self.scratch.clear();
        self.scratch.extend_from_slice(&wire[replay_at..rest_at]);
        self.scratch.extend_from_slice(&wire[..HEAD_LEN]);
        self.scratch.extend_from_slice(&wire[rest_at..]);
        hmac::verify(
            &self.key(&self.recv_key),
            &self.scratch,
            &wire[HEAD_LEN..replay_at],
        )
        .map_err(|_| WrapError::BadHmac)?;
        self.recv.accept(replay_block(&self.scratch), now)?;
        Ok(&self.scratch[REPLAY_LEN..])
    }
}

impl fmt::Debug for TlsAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAuth")
            .field("digest", &self.digest)
            .field("keys", &"<redacted>")
            .field("send", &self.send)
            .field("recv", &self.recv)
            .finish()
    }
}

/// tls-crypt: HMAC-SHA256 tag over header and plaintext, then AES-256-CTR with the tag as IV
/// (§1.9). Directions are fixed by the side, not by `key-direction`.
pub struct TlsCrypt {
    send_ke: Zeroizing<[u8; 32]>,
    send_ka: Zeroizing<[u8; 32]>,
    recv_ke: Zeroizing<[u8; 32]>,
    recv_ka: Zeroizing<[u8; 32]>,
    send: ReplaySend,
    recv: ControlReplay,
    scratch: Vec<u8>,
}

impl TlsCrypt {
    /// Client sends with Ke = bytes 128.., Ka = 192.. and receives with 0.., 64..; server the
    /// opposite.
    pub fn new(key: &StaticKey, side: Side) -> TlsCrypt {
        let (send_at, recv_at) = match side {
            Side::Client => (128, 0),
            Side::Server => (0, 128),
        };
        TlsCrypt {
            send_ke: key.part(send_at),
            send_ka: key.part(send_at + 64),
            recv_ke: key.part(recv_at),
            recv_ka: key.part(recv_at + 64),
            send: ReplaySend::default(),
            recv: ControlReplay::default(),
            scratch: Vec::new(),
        }
    }

    /// `out += op | sid | rid | time | tag | CTR(P)`, tag over `op | sid | rid | time | P`.
    fn wrap(&mut self, plain: &[u8], now_unix: u32, out: &mut Vec<u8>) {
        let replay = self.send.next(now_unix);
        self.scratch.clear();
        self.scratch.extend_from_slice(&plain[..HEAD_LEN]);
        self.scratch.extend_from_slice(&replay);
        self.scratch.extend_from_slice(&plain[HEAD_LEN..]);
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.send_ka[..]);
        let tag = hmac::sign(&key, &self.scratch);
        let tag = tag.as_ref();
        let header = HEAD_LEN + REPLAY_LEN;
        out.extend_from_slice(&self.scratch[..header]);
        out.extend_from_slice(tag);
        let start = out.len();
        out.extend_from_slice(&self.scratch[header..]);
        ctr_apply(&self.send_ke, tag, &mut out[start..]);
    }

    fn unwrap(&mut self, wire: &[u8], now: Instant) -> Result<&[u8], WrapError> {
        let header = HEAD_LEN + REPLAY_LEN;
        let body = header + TAG_LEN;
        check_len(wire, body)?;
        let tag = &wire[header..body];
        self.scratch.clear();
        self.scratch.extend_from_slice(&wire[..header]);
        self.scratch.extend_from_slice(&wire[body..]);
        ctr_apply(&self.recv_ke, tag, &mut self.scratch[header..]);
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.recv_ka[..]);
        hmac::verify(&key, &self.scratch, tag).map_err(|_| WrapError::BadTag)?;
        self.recv
            .accept(replay_block(&self.scratch[HEAD_LEN..]), now)?;
        // Drop the replay block: op | sid | P is the plain layout.
        self.scratch.copy_within(header.., HEAD_LEN);
        self.scratch.truncate(self.scratch.len() - REPLAY_LEN);
        Ok(&self.scratch)
    }
}

impl fmt::Debug for TlsCrypt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsCrypt")
            .field("keys", &"<redacted>")
            .field("send", &self.send)
            .field("recv", &self.recv)
            .finish()
    }
}

/// AES-256-CTR over `data` with the first 16 tag bytes as the initial big-endian counter block.
fn ctr_apply(key: &[u8; 32], tag: &[u8], data: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&tag[..16]);
    let mut cipher = ctr::Ctr128BE::<Aes256>::new(key.into(), (&iv).into());
    cipher.apply_keystream(data);
    iv.zeroize();
}

fn check_len(buf: &[u8], needed: usize) -> Result<(), WrapError> {
    if buf.len() < needed {
        return Err(WrapError::Truncated {
            needed,
            got: buf.len(),
        });
    }
    Ok(())
}

/// (packet id, time) from the first 8 bytes of `buf` (callers check the length first).
fn replay_block(buf: &[u8]) -> (u32, u32) {
    let word = |at: usize| {
        let mut b = [0u8; 4];
        if let Some(src) = buf.get(at..at + 4) {
            b.copy_from_slice(src);
        }
        u32::from_be_bytes(b)
    };
    (word(0), word(4))
}

/// The send side of the replay block: ids from 1, time fixed at the first packet.
#[derive(Debug, Default)]
struct ReplaySend {
    /// The last id sent (0 before the first packet).
    last: u32,
    time: Option<u32>,
}

impl ReplaySend {
    /// The next `rid | time` block. When the 32-bit id space is used up, a new epoch starts
    /// (id 1, a later time), as the receiver's window expects.
    fn next(&mut self, now_unix: u32) -> [u8; REPLAY_LEN] {
        let time = match (self.time, self.last) {
            (None, _) => now_unix,
            (Some(t), u32::MAX) => now_unix.max(t.wrapping_add(1)),
            (Some(t), _) => t,
        };
        self.time = Some(time);
        self.last = if self.last == u32::MAX {
            1
        } else {
            self.last + 1
        };
        let mut block = [0u8; REPLAY_LEN];
        block[..4].copy_from_slice(&self.last.to_be_bytes());
        block[4..].copy_from_slice(&time.to_be_bytes());
        block
    }
}

/// The receive side: the data channel's 64-id sliding window ([`ReplayWindow`]), restarted
/// whenever the sender starts a new epoch (a later time value); earlier epochs are replays.
#[derive(Debug, Default)]
struct ControlReplay {
    /// Sender time of the current epoch.
    epoch: Option<u32>,
    window: ReplayWindow,
}

impl ControlReplay {
    /// Checks `(id, time)` and, if acceptable, records it.
    fn accept(&mut self, (id, time): (u32, u32), now: Instant) -> Result<(), WrapError> {
        let replay = WrapError::Replay {
            packet_id: id,
            time,
        };
        if id == 0 {
            return Err(WrapError::ZeroPacketId);
        }
        match self.epoch {
            Some(epoch) if time < epoch => return Err(replay),
            Some(epoch) if time == epoch => {}
            // First packet, or the sender started a new epoch.
            _ => {
                self.epoch = Some(time);
                self.window = ReplayWindow::default();
            }
        }
        self.window.accept(id, now).map_err(|_| replay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openvpn::wire::tests::hex;
    use crate::openvpn::wire::ControlRepr;
    use crate::testutil::{at, t0};

    /// A static key holding `parts` (offset, hex) and zeros elsewhere.
    fn key_with(parts: &[(usize, &str)]) -> StaticKey {
        let mut bytes = [0u8; STATIC_KEY_LEN];
        for (offset, h) in parts {
            let part = hex(h);
            bytes[*offset..*offset + part.len()].copy_from_slice(&part);
        }
        StaticKey::from_bytes(bytes)
    }

    /// A full key whose byte `i` is `i * 7 + 3`: every half differs from every other.
    fn patterned_key() -> StaticKey {
        StaticKey::from_bytes(std::array::from_fn(|i| (i * 7 + 3) as u8))
    }

    const B2_KEY: &str = "1392e59bed9b48498281afd0ac0075a6c2106175";
    const B2_PLAIN: &str = "38 b27449ed4a3599ef 00 00000000";
    const B2_WIRE: &str = "38 b27449ed4a3599ef 9e484f187605d8db9ddc0ce0ec6edcfc8f606412
                           00000001 6b024719 00 00000000";
    const B3_KE: &str = "995d44cc865259a1087cfddb657201ce4c2d9edb6604207bf92812344de47060";
    const B3_KA: &str = "2e739eb4a2e5d5e07b4f4c014faac882d87f9e4d4a709af59dd1fd22a92b9357";
    const B3_PLAIN: &str = "38 6de8ef4873ad9e46 00 00000000";
    const B3_WIRE: &str = "38 6de8ef4873ad9e46 00000001 6b02474f
        1e49c574aa159e272556fdd5d88f7fc2994743fae7895becd05f9092dbf190ce a73065c963";

    fn wrapped(w: &mut Wrapper, plain: &[u8], now_unix: u32) -> Vec<u8> {
        let mut out = Vec::new();
        w.wrap(plain, now_unix, &mut out).unwrap();
        assert_eq!(out.len(), plain.len() + w.overhead());
        out
    }

    #[test]
    fn tls_auth_reproduces_vector_b2() {
        let key = key_with(&[(192, B2_KEY)]);
        let mut client = Wrapper::tls_auth(&key, AuthDigest::Sha1, KeyDirection::One);
        let wire = wrapped(&mut client, &hex(B2_PLAIN), 0x6b02_4719);
        assert_eq!(wire, hex(B2_WIRE));
        assert_eq!(wire.len(), 42);
        // The server (key-direction 0) verifies with bytes 192..: it gets the plain packet back.
        let mut server = Wrapper::tls_auth(&key, AuthDigest::Sha1, KeyDirection::Zero);
        assert_eq!(server.unwrap(&wire, t0()).unwrap(), &hex(B2_PLAIN)[..]);
        // The client itself verifies with bytes 64.. and must refuse its own packet.
        assert_eq!(client.unwrap(&wire, t0()), Err(WrapError::BadHmac));
    }

    #[test]
    fn tls_crypt_reproduces_vector_b3() {
        let key = key_with(&[(128, B3_KE), (192, B3_KA)]);
        let mut client = Wrapper::tls_crypt(&key, Side::Client);
        let wire = wrapped(&mut client, &hex(B3_PLAIN), 0x6b02_474f);
        assert_eq!(wire, hex(B3_WIRE));
        assert_eq!(wire.len(), 54);
        let mut server = Wrapper::tls_crypt(&key, Side::Server);
        let plain = server.unwrap(&wire, t0()).unwrap();
        assert_eq!(plain, &hex(B3_PLAIN)[..]);
        assert_eq!(ControlRepr::parse(plain).unwrap().message_id, Some(0));
        assert_eq!(client.unwrap(&wire, t0()), Err(WrapError::BadTag));
    }

    #[test]
    fn every_flipped_bit_is_rejected_before_parsing() {
        let plain = hex("20 0102030405060708 01 00000007 1112131415161718 00000003 160301");
        for digest in [AuthDigest::Sha1, AuthDigest::Sha256, AuthDigest::Sha512] {
            let key = patterned_key();
            let mut tx = Wrapper::tls_auth(&key, digest, KeyDirection::One);
            let wire = wrapped(&mut tx, &plain, 1000);
            for i in 0..wire.len() {
                let mut rx = Wrapper::tls_auth(&key, digest, KeyDirection::Zero);
                let mut bad = wire.clone();
                bad[i] ^= 0x10;
                assert_eq!(
                    rx.unwrap(&bad, t0()),
                    Err(WrapError::BadHmac),
                    "{digest:?} {i}"
                );
            }
        }
        let mut tx = Wrapper::tls_crypt(&patterned_key(), Side::Client);
        let wire = wrapped(&mut tx, &plain, 1000);
        for i in 0..wire.len() {
            let mut rx = Wrapper::tls_crypt(&patterned_key(), Side::Server);
            let mut bad = wire.clone();
            bad[i] ^= 0x01;
            assert_eq!(rx.unwrap(&bad, t0()), Err(WrapError::BadTag), "byte {i}");
        }
    }

    #[test]
    fn roundtrip_all_wrappings_and_directions() {
        let key = patterned_key();
        let plain = hex("28 0102030405060708 02 00000001 00000000 1112131415161718");
        let pairs = [
            (Wrapper::None, Wrapper::None),
            (
                Wrapper::tls_auth(&key, AuthDigest::Sha256, KeyDirection::Bidirectional),
                Wrapper::tls_auth(&key, AuthDigest::Sha256, KeyDirection::Bidirectional),
            ),
            (
                Wrapper::tls_auth(&key, AuthDigest::Sha512, KeyDirection::Zero),
                Wrapper::tls_auth(&key, AuthDigest::Sha512, KeyDirection::One),
            ),
            (
                Wrapper::tls_crypt(&key, Side::Server),
                Wrapper::tls_crypt(&key, Side::Client),
            ),
        ];
        for (mut tx, mut rx) in pairs {
            for n in 0..3 {
                let wire = wrapped(&mut tx, &plain, 77);
                assert_eq!(rx.unwrap(&wire, at(t0(), n)).unwrap(), &plain[..], "{tx:?}");
            }
        }
        // Mismatched directions or digests do not authenticate.
        let mut tx = Wrapper::tls_auth(&key, AuthDigest::Sha256, KeyDirection::One);
        let mut rx = Wrapper::tls_auth(&key, AuthDigest::Sha256, KeyDirection::One);
        let wire = wrapped(&mut tx, &plain, 77);
        assert_eq!(rx.unwrap(&wire, t0()), Err(WrapError::BadHmac));
        let mut rx = Wrapper::tls_auth(&key, AuthDigest::Sha1, KeyDirection::Zero);
        assert_eq!(rx.unwrap(&wire, t0()), Err(WrapError::BadHmac));
    }

    #[test]
    fn replay_ids_count_every_packet_and_time_stays_fixed() {
        let mut tx = Wrapper::tls_crypt(&patterned_key(), Side::Client);
        let plain = hex(B3_PLAIN);
        for (n, now_unix) in [(1u32, 500u32), (2, 501), (3, 900)] {
            let wire = wrapped(&mut tx, &plain, now_unix);
            assert_eq!(replay_block(&wire[HEAD_LEN..]), (n, 500));
        }
        let mut send = ReplaySend {
            last: u32::MAX - 1,
            time: Some(500),
        };
        assert_eq!(send.next(600), [0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0xf4]);
        assert_eq!(send.next(600), [0, 0, 0, 1, 0, 0, 2, 0x58]);
        assert_eq!(send.next(700), [0, 0, 0, 2, 0, 0, 2, 0x58]);
    }

    #[test]
    fn replays_are_rejected_reordering_within_the_window_is_not() {
        let key = patterned_key();
        let mut tx = Wrapper::tls_auth(&key, AuthDigest::Sha1, KeyDirection::One);
        let mut rx = Wrapper::tls_auth(&key, AuthDigest::Sha1, KeyDirection::Zero);
        let wires: Vec<Vec<u8>> = (0..70)
            .map(|_| wrapped(&mut tx, &hex(B2_PLAIN), 9))
            .collect();
        let now = t0();
        assert!(rx.unwrap(&wires[0], now).is_ok());
        // (packet index, ms after start, accepted?)
        let script = [
            (0, 0, false),
            (5, 0, true),
            (3, 0, true), // reordered, inside the window
            (3, 0, false),
            (69, 0, true),
            (4, 0, false), // 65 behind the newest
            (6, 0, true),  // 64 behind: the last slot
            (6, 0, false),
            (68, 15_000, true),
            (67, 15_001, false), // too late after the newest
        ];
        for (i, ms, ok) in script {
            let expected = match ok {
                true => Ok(&hex(B2_PLAIN)[..]),
                false => Err(WrapError::Replay {
                    packet_id: i as u32 + 1,
                    time: 9,
                }),
            };
            assert_eq!(
                rx.unwrap(&wires[i], at(now, ms)).map(|p| p.to_vec()),
                expected.map(|p| p.to_vec()),
                "{i}"
            );
        }
    }

    #[test]
    fn epochs_and_zero_id() {
        let key = patterned_key();
        let mut rx = Wrapper::tls_crypt(&key, Side::Server);
        let mut old = Wrapper::tls_crypt(&key, Side::Client);
        let mut new = Wrapper::tls_crypt(&key, Side::Client);
        let plain = hex(B3_PLAIN);
        let old_wire = wrapped(&mut old, &plain, 100);
        let new_wire = wrapped(&mut new, &plain, 101);
        assert!(rx.unwrap(&old_wire, t0()).is_ok());
        assert!(
            rx.unwrap(&new_wire, t0()).is_ok(),
            "a later time starts a new epoch"
        );
        let older = wrapped(&mut old, &plain, 100);
        assert_eq!(
            rx.unwrap(&older, t0()),
            Err(WrapError::Replay {
                packet_id: 2,
                time: 100
            })
        );
        if let Wrapper::TlsCrypt(t) = &mut new {
            t.send.last = u32::MAX; // the next id wraps to 1 in a new epoch...
        }
        let wrapped_id = wrapped(&mut new, &plain, 50);
        assert_eq!(replay_block(&wrapped_id[HEAD_LEN..]), (1, 102));
        assert!(
            rx.unwrap(&wrapped_id, t0()).is_ok(),
            "...which the receiver accepts"
        );
        // Id 0 is never valid, even when authentic: sign one by hand with the B.2 key.
        let key = key_with(&[(192, B2_KEY)]);
        let mut server = Wrapper::tls_auth(&key, AuthDigest::Sha1, KeyDirection::Zero);
        let hmac_key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &hex(B2_KEY));
        let signed = hex("00000000 6b024719 38 b27449ed4a3599ef 00 00000000");
        let tag = hmac::sign(&hmac_key, &signed);
        let mut wire = hex("38 b27449ed4a3599ef");
        wire.extend_from_slice(tag.as_ref());
        wire.extend_from_slice(&signed[..8]);
        wire.extend_from_slice(&signed[17..]);
        assert_eq!(server.unwrap(&wire, t0()), Err(WrapError::ZeroPacketId));
        // The same packet with id 1 (re-signed) is fine: only the id made the difference.
        let mut signed = signed;
        signed[3] = 1;
        wire[HEAD_LEN..HEAD_LEN + 20].copy_from_slice(hmac::sign(&hmac_key, &signed).as_ref());
        wire[HEAD_LEN + 23] = 1;
        assert!(server.unwrap(&wire, t0()).is_ok());
    }

    fn key_file(body_lines: &[String]) -> String {
        let mut text = String::from("#\n# 2048 bit OpenVPN static key\n#\n");
        text.push_str(BEGIN);
        text.push('\n');
        for line in body_lines {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(END);
        text.push_str("\ntrailing words ignored\n");
        text
    }

    fn key_lines() -> Vec<String> {
        (0..16)
            .map(|l| {
                (0..16)
                    .map(|i| format!("{:02x}", (l * 16 + i) as u8))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn static_key_file_parses() {
        let key = StaticKey::parse(&key_file(&key_lines())).unwrap();
        assert_eq!(
            key.bytes[..],
            std::array::from_fn::<u8, 256, _>(|i| i as u8)[..]
        );
        assert_eq!(&key.part::<4>(192)[..], &[192, 193, 194, 195]);
        let mut crlf = key_file(&key_lines()).replace('\n', "\r\n");
        crlf = crlf.replace("0001", "00 01");
        assert_eq!(StaticKey::parse(&crlf).unwrap().bytes[..], key.bytes[..]);
    }

    #[test]
    fn static_key_file_errors_name_the_problem() {
        assert_eq!(
            StaticKey::parse("hello").unwrap_err(),
            StaticKeyError::MissingBegin
        );
        let no_end = key_file(&key_lines())
            .replace(END, "")
            .replace("trailing words ignored", "");
        assert_eq!(
            StaticKey::parse(&no_end).unwrap_err(),
            StaticKeyError::MissingEnd
        );
        let mut lines = key_lines();
        lines[2].replace_range(5..6, "g");
        assert_eq!(
            StaticKey::parse(&key_file(&lines)).unwrap_err(),
            StaticKeyError::NotHex { line: 7 }
        );
        let short = key_file(&key_lines()[..15]);
        assert_eq!(
            StaticKey::parse(&short).unwrap_err(),
            StaticKeyError::WrongLength { got: 480 }
        );
        let mut long = key_lines();
        long.push("ab".into());
        assert_eq!(
            StaticKey::parse(&key_file(&long)).unwrap_err(),
            StaticKeyError::WrongLength { got: 514 }
        );
    }

    #[test]
    fn debug_never_prints_key_bytes() {
        let key = key_with(&[(0, B3_KA), (64, B3_KA), (128, B3_KE), (192, B3_KA)]);
        let texts = [
            format!("{key:?}"),
            format!("{:?}", Wrapper::tls_crypt(&key, Side::Client)),
            format!(
                "{:?}",
                Wrapper::tls_auth(&key, AuthDigest::Sha512, KeyDirection::One)
            ),
        ];
        for text in texts {
            assert!(text.contains("redacted"), "{text}");
            for needle in ["2e739e", "995d44", "2e, 73", "46, 115"] {
                assert!(!text.to_lowercase().contains(needle), "{text}");
            }
        }
    }

    #[test]
    fn short_packets_are_typed_errors() {
        let key = patterned_key();
        let mut auth = Wrapper::tls_auth(&key, AuthDigest::Sha1, KeyDirection::One);
        assert_eq!(
            auth.unwrap(&[0x38; 36], t0()),
            Err(WrapError::Truncated {
                needed: 37,
                got: 36
            })
        );
        let mut crypt = Wrapper::tls_crypt(&key, Side::Client);
        assert_eq!(
            crypt.unwrap(&[0x38; 48], t0()),
            Err(WrapError::Truncated {
                needed: 49,
                got: 48
            })
        );
        let mut out = Vec::new();
        assert_eq!(
            crypt.wrap(&[0x38; 8], 1, &mut out),
            Err(WrapError::PlainTooShort(8))
        );
        assert!(out.is_empty());
        // A refused wrap does not consume a replay id.
        let wire = wrapped(&mut crypt, &hex(B3_PLAIN), 1);
        assert_eq!(replay_block(&wire[HEAD_LEN..]).0, 1);
    }

    #[test]
    fn fuzz_unwrap_never_panics() {
        let key = patterned_key();
        let mut wrappers = [
            Wrapper::None,
            Wrapper::tls_auth(&key, AuthDigest::Sha1, KeyDirection::One),
            Wrapper::tls_auth(&key, AuthDigest::Sha512, KeyDirection::Bidirectional),
            Wrapper::tls_crypt(&key, Side::Client),
        ];
        let mut tx = Wrapper::tls_crypt(&key, Side::Server);
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut buf = Vec::new();
        let mut authentic = 0;
        for round in 0..8_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.clear();
            if round % 4 == 0 {
                // Real packets, some cut short by a byte or two.
                let plain: Vec<u8> = (0..9 + x % 40).map(|i| (x >> (i % 50)) as u8).collect();
                tx.wrap(&plain, 5, &mut buf).unwrap();
                buf.truncate(buf.len() - (x >> 32) as usize % 3);
            } else {
                buf.extend((0..x % 120).map(|i| (x >> (i % 56)) as u8));
            }
            for w in wrappers.iter_mut() {
                if let Ok(plain) = w.unwrap(&buf, at(t0(), round)) {
                    assert!(plain.len() + w.overhead() == buf.len());
                    authentic += usize::from(!matches!(w, Wrapper::None));
                }
            }
        }
        assert!(
            authentic > 100,
            "untruncated real packets authenticate: {authentic}"
        );
    }
}
