//! Key method 2: the binary message each side writes into the TLS stream once the handshake is
//! done (§3.1; OpenVPN `ssl.c`, `key_method_2_write` / `key_method_2_read`).
//!
//! ```text
//! client → server: u32 0 | u8 0x02 | pre_master 48 | random1 32 | random2 32
//!                  | str options | str username | str password | str peer-info
//! server → client: u32 0 | u8 0x02 | random1 32 | random2 32
//!                  | str options | str "" | str "" | str ""
//! str = u16 BE length (including the trailing NUL) | bytes | NUL;  empty = length 0
//! ```
//!
//! This module owns the encoding of our message from a [`KeySource`] (random material the caller
//! supplies) and the checked parsing of the server's. It does not pick the randoms (the engine
//! fills them from `ring::rand::SystemRandom`), does not write to TLS (the engine writes the
//! whole message with one TLS write, so it lands in one record, §2) and does not derive keys
//! (`kdf`). The random material is zeroized on drop and never printed.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

/// Method number in the low 4 bits of the method byte; the high bits are flags (0 in 2.6).
pub const KEY_METHOD_2: u8 = 2;
const KEY_METHOD_MASK: u8 = 0x0f;
/// Bytes of the client's pre-master secret (absent in the server's message).
pub const PRE_MASTER_LEN: usize = 48;
/// Bytes of each of the two random fields.
pub const RANDOM_LEN: usize = 32;
/// Largest options string we send, as its wire length (text + NUL) (`ssl.h`).
pub const MAX_OPTIONS_LEN: usize = 512;
/// Largest username or password we send, as wire length (text + NUL). Stock servers take 128
/// (`USER_PASS_LEN`, `misc.h`), builds with PKCS#11 (Debian's) 4096; the whole message must fit
/// [`MAX_MESSAGE_LEN`] anyway, so 1024 leaves room for the options and peer-info.
pub const MAX_CREDENTIAL_LEN: usize = 1024;
/// Largest string accepted from the peer (PKCS#11 builds allow 4096-byte credentials).
pub const MAX_READ_STRING_LEN: usize = 4096;
/// Largest message we send: the peer reads it with one read into a 2048-byte buffer
/// (`TLS_CHANNEL_BUF_SIZE`, `common.h`).
pub const MAX_MESSAGE_LEN: usize = 2048;
/// The literal zero word and the method byte.
const HEADER_LEN: usize = 5;

/// A field of the key-method message, named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Header,
    PreMaster,
    Random1,
    Random2,
    Options,
    Username,
    Password,
    PeerInfo,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Header => "header",
            Field::PreMaster => "pre-master secret",
            Field::Random1 => "random1",
            Field::Random2 => "random2",
            Field::Options => "options",
            Field::Username => "username",
            Field::Password => "password",
            Field::PeerInfo => "peer-info",
        })
    }
}

/// Why the peer's key-method message is unusable. Always blamed on the peer; the key exchange
/// fails (the session is reset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyMethodError {
    #[error("key-method message truncated in the {field}: {needed} bytes needed, {got} present")]
    Truncated {
        field: Field,
        needed: usize,
        got: usize,
    },
    #[error("key-method message must start with a zero word, got {0:#010x}")]
    NonZeroPrefix(u32),
    #[error("the peer uses key method {0}; only key method 2 is supported")]
    UnsupportedMethod(u8),
    #[error("the peer's {field} string is {len} bytes long, above the {max}-byte limit")]
    StringTooLong {
        field: Field,
        len: usize,
        max: usize,
    },
    #[error("the peer's {field} string does not end with a NUL byte")]
    Unterminated { field: Field },
    #[error("the peer's {field} string contains a NUL byte before its end")]
    EmbeddedNul { field: Field },
    #[error("{0} unexpected bytes after the key-method message")]
    TrailingBytes(usize),
}

/// Why our key-method message cannot be built: local misconfiguration or a failing RNG.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyMethodBuildError {
    #[error("the {field} is {len} bytes long; at most {max} bytes are allowed")]
    StringTooLong {
        field: Field,
        len: usize,
        max: usize,
    },
    #[error("the {field} contains a NUL byte")]
    EmbeddedNul { field: Field },
    #[error("the key-method message would be {len} bytes, above the {max}-byte limit")]
    MessageTooLong { len: usize, max: usize },
    #[error("the system random number generator failed")]
    Random,
}

/// Our random material for one key exchange: the pre-master secret and two randoms.
///
/// Fresh for every key exchange (initial and each renegotiation). Zeroized on drop; `Debug`
/// prints no bytes.
pub struct KeySource {
    pre_master: [u8; PRE_MASTER_LEN],
    random1: [u8; RANDOM_LEN],
    random2: [u8; RANDOM_LEN],
}

impl KeySource {
    /// Builds a key source from given bytes (tests use fixed values).
    pub fn from_parts(
        pre_master: [u8; PRE_MASTER_LEN],
        random1: [u8; RANDOM_LEN],
        random2: [u8; RANDOM_LEN],
    ) -> KeySource {
        KeySource {
            pre_master,
            random1,
            random2,
        }
    }

    /// Fills all three fields from `rng` (the engine passes `ring::rand::SystemRandom`).
    pub fn generate(rng: &dyn ring::rand::SecureRandom) -> Result<KeySource, KeyMethodBuildError> {
        let mut source =
            KeySource::from_parts([0; PRE_MASTER_LEN], [0; RANDOM_LEN], [0; RANDOM_LEN]);
        for field in [
            &mut source.pre_master[..],
            &mut source.random1[..],
            &mut source.random2[..],
        ] {
            rng.fill(field).map_err(|_| KeyMethodBuildError::Random)?;
        }
        Ok(source)
    }

    pub fn pre_master(&self) -> &[u8; PRE_MASTER_LEN] {
        &self.pre_master
    }

    pub fn random1(&self) -> &[u8; RANDOM_LEN] {
        &self.random1
    }

    pub fn random2(&self) -> &[u8; RANDOM_LEN] {
        &self.random2
    }
}

impl Drop for KeySource {
    fn drop(&mut self) {
        self.pre_master.zeroize();
        self.random1.zeroize();
        self.random2.zeroize();
    }
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySource { <redacted> }")
    }
}

/// The peer's two randoms from its key-method message (input of the legacy PRF, §5.1).
/// Zeroized on drop; `Debug` prints no bytes.
pub struct PeerRandoms {
    random1: [u8; RANDOM_LEN],
    random2: [u8; RANDOM_LEN],
}

impl PeerRandoms {
    pub fn from_parts(random1: [u8; RANDOM_LEN], random2: [u8; RANDOM_LEN]) -> PeerRandoms {
        PeerRandoms { random1, random2 }
    }

    pub fn random1(&self) -> &[u8; RANDOM_LEN] {
        &self.random1
    }

    pub fn random2(&self) -> &[u8; RANDOM_LEN] {
        &self.random2
    }
}

impl Drop for PeerRandoms {
    fn drop(&mut self) {
        self.random1.zeroize();
        self.random2.zeroize();
    }
}

impl fmt::Debug for PeerRandoms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PeerRandoms { <redacted> }")
    }
}

/// Our key-method-2 message, ready to be encoded. Empty strings are sent as length 0.
pub struct ClientKeyMessage<'a> {
    pub source: &'a KeySource,
    /// The OCC options string (`occ::OccOptions::to_options_string`).
    pub options: &'a str,
    /// Empty for certificate-only authentication.
    pub username: &'a str,
    /// Empty for certificate-only authentication; the auth-token after one was pushed.
    pub password: &'a str,
    /// `KEY=VALUE\n` lines (`occ::PeerInfo::encode`).
    pub peer_info: &'a str,
}

impl ClientKeyMessage<'_> {
    /// The wire bytes. They hold the pre-master secret and the password, hence `Zeroizing`.
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>, KeyMethodBuildError> {
        let strings = [self.options, self.username, self.password, self.peer_info];
        let len = Self::checked_len(strings)?;
        let mut out = Zeroizing::new(Vec::with_capacity(len));
        out.extend_from_slice(&0u32.to_be_bytes());
        out.push(KEY_METHOD_2);
        out.extend_from_slice(&self.source.pre_master);
        out.extend_from_slice(&self.source.random1);
        out.extend_from_slice(&self.source.random2);
        for text in strings {
            write_string(&mut out, text);
        }
        Ok(out)
    }

    /// The wire length of a message with these strings (options, username, password,
    /// peer-info), or why it cannot be sent. Needs no secrets: settings are checked with it
    /// before any connection.
    pub fn checked_len(strings: [&str; 4]) -> Result<usize, KeyMethodBuildError> {
        let fields = [
            (Field::Options, MAX_OPTIONS_LEN),
            (Field::Username, MAX_CREDENTIAL_LEN),
            (Field::Password, MAX_CREDENTIAL_LEN),
            (Field::PeerInfo, MAX_MESSAGE_LEN),
        ];
        let mut len = HEADER_LEN + PRE_MASTER_LEN + 2 * RANDOM_LEN;
        for ((field, max), text) in fields.into_iter().zip(strings) {
            len += 2 + check_outgoing(field, text, max)?;
        }
        if len > MAX_MESSAGE_LEN {
            return Err(KeyMethodBuildError::MessageTooLong {
                len,
                max: MAX_MESSAGE_LEN,
            });
        }
        Ok(len)
    }
}

impl fmt::Debug for ClientKeyMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKeyMessage")
            .field("source", self.source)
            .field("options", &self.options)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("peer_info", &self.peer_info)
            .finish()
    }
}

/// The wire length of `text` as a string field (text + NUL, or 0 when empty), if allowed.
fn check_outgoing(field: Field, text: &str, max: usize) -> Result<usize, KeyMethodBuildError> {
    if text.as_bytes().contains(&0) {
        return Err(KeyMethodBuildError::EmbeddedNul { field });
    }
    let wire = if text.is_empty() { 0 } else { text.len() + 1 };
    if wire > max {
        return Err(KeyMethodBuildError::StringTooLong {
            field,
            len: wire,
            max,
        });
    }
    Ok(wire)
}

/// Appends a checked string field (its length fits `u16`: every limit is below 2^16).
fn write_string(out: &mut Vec<u8>, text: &str) {
    if text.is_empty() {
        out.extend_from_slice(&[0, 0]);
        return;
    }
    let wire = u16::try_from(text.len() + 1).unwrap_or(u16::MAX);
    out.extend_from_slice(&wire.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    out.push(0);
}

/// The server's key-method-2 message. Invalid UTF-8 in a string is replaced with U+FFFD: the
/// strings are informational (the OCC string is only compared for warnings, §4.2).
pub struct ServerKeyMessage {
    /// The high 4 bits of the method byte (0 from a 2.6 server).
    pub flags: u8,
    pub randoms: PeerRandoms,
    pub options: String,
    pub username: String,
    pub password: Zeroizing<String>,
    pub peer_info: String,
}

impl ServerKeyMessage {
    /// The length of the server's message at the start of `stream` (TLS plaintext, where
    /// control strings may follow in the same read), or `None` while it is incomplete. Counts
    /// all four strings, which a 2.6 server always writes (empty ones as length 0, §3.1).
    pub fn wire_len(stream: &[u8]) -> Option<usize> {
        let mut pos = HEADER_LEN + 2 * RANDOM_LEN;
        for _ in 0..4 {
            let len = stream.get(pos..pos.checked_add(2)?)?;
            pos = pos.checked_add(2 + usize::from(u16::from_be_bytes([len[0], len[1]])))?;
        }
        (stream.len() >= pos).then_some(pos)
    }

    /// Parses the server layout. Absent trailing strings (the message ends right after the
    /// options, username or password) read as empty; a lone-NUL string reads as empty.
    pub fn parse(bytes: &[u8]) -> Result<ServerKeyMessage, KeyMethodError> {
        let mut r = Reader { buf: bytes, pos: 0 };
        let prefix = r.u32(Field::Header)?;
        if prefix != 0 {
            return Err(KeyMethodError::NonZeroPrefix(prefix));
        }
        let method = r.take(1, Field::Header)?[0];
        if method & KEY_METHOD_MASK != KEY_METHOD_2 {
            return Err(KeyMethodError::UnsupportedMethod(method & KEY_METHOD_MASK));
        }
        let random1 = r.array::<RANDOM_LEN>(Field::Random1)?;
        let random2 = r.array::<RANDOM_LEN>(Field::Random2)?;
        let randoms = PeerRandoms::from_parts(random1, random2);
        let options = lossy(r.string(Field::Options)?);
        let username = lossy(r.optional_string(Field::Username)?);
        let password = Zeroizing::new(lossy(r.optional_string(Field::Password)?));
        let peer_info = lossy(r.optional_string(Field::PeerInfo)?);
        if r.remaining() > 0 {
            return Err(KeyMethodError::TrailingBytes(r.remaining()));
        }
        Ok(ServerKeyMessage {
            flags: method >> 4,
            randoms,
            options,
            username,
            password,
            peer_info,
        })
    }
}

impl fmt::Debug for ServerKeyMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerKeyMessage")
            .field("flags", &self.flags)
            .field("randoms", &self.randoms)
            .field("options", &self.options)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("peer_info", &self.peer_info)
            .finish()
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A checked cursor: every read checks the remaining length first.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize, field: Field) -> Result<&'a [u8], KeyMethodError> {
        let got = self.remaining();
        let end = self.pos.checked_add(n).filter(|_| n <= got);
        let bytes =
            end.and_then(|end| self.buf.get(self.pos..end))
                .ok_or(KeyMethodError::Truncated {
                    field,
                    needed: n,
                    got,
                })?;
        self.pos += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, field: Field) -> Result<[u8; N], KeyMethodError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn u32(&mut self, field: Field) -> Result<u32, KeyMethodError> {
        Ok(u32::from_be_bytes(self.array::<4>(field)?))
    }

    /// A string field without its NUL; empty for length 0 or a lone NUL.
    fn string(&mut self, field: Field) -> Result<&'a [u8], KeyMethodError> {
        let len = usize::from(u16::from_be_bytes(self.array::<2>(field)?));
        if len > MAX_READ_STRING_LEN {
            return Err(KeyMethodError::StringTooLong {
                field,
                len,
                max: MAX_READ_STRING_LEN,
            });
        }
        if len == 0 {
            return Ok(&[]);
        }
        let bytes = self.take(len, field)?;
        let (last, text) = bytes.split_last().unwrap_or((&0, &[]));
        if *last != 0 {
            return Err(KeyMethodError::Unterminated { field });
        }
        if text.contains(&0) {
            return Err(KeyMethodError::EmbeddedNul { field });
        }
        Ok(text)
    }

    /// Like [`Reader::string`], but the end of the message reads as an empty string.
    fn optional_string(&mut self, field: Field) -> Result<&'a [u8], KeyMethodError> {
        if self.remaining() == 0 {
            Ok(&[])
        } else {
            self.string(field)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT_OCC: &str = "V4,dev-type tap,link-mtu 1575,tun-mtu 1500,proto TCPv4_CLIENT,\
                              auth SHA1,keysize 128,key-method 2,tls-client";
    const SERVER_OCC: &str = "V4,dev-type tap,link-mtu 1575,tun-mtu 1500,proto TCPv4_SERVER,\
                              auth SHA1,keysize 128,key-method 2,tls-server";

    fn counting<const N: usize>(start: u8) -> [u8; N] {
        std::array::from_fn(|i| start.wrapping_add(i as u8))
    }

    fn fixed_source() -> KeySource {
        KeySource::from_parts(counting(0x00), counting(0x40), counting(0x80))
    }

    /// The server's reply as the stock 2.6 server sends it: randoms, OCC string, three empty
    /// strings (185 bytes observed, §3.1).
    fn stock_server_message() -> Vec<u8> {
        let mut m = vec![0, 0, 0, 0, 2];
        m.extend_from_slice(&counting::<32>(0x60));
        m.extend_from_slice(&counting::<32>(0xa0));
        m.extend_from_slice(&(SERVER_OCC.len() as u16 + 1).to_be_bytes());
        m.extend_from_slice(SERVER_OCC.as_bytes());
        m.push(0);
        m.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        m
    }

    fn encode(
        options: &str,
        username: &str,
        password: &str,
        peer_info: &str,
    ) -> Result<Zeroizing<Vec<u8>>, KeyMethodBuildError> {
        let source = fixed_source();
        let msg = ClientKeyMessage {
            source: &source,
            options,
            username,
            password,
            peer_info,
        };
        msg.encode()
    }

    #[test]
    fn client_message_layout_is_byte_exact() {
        let peer_info = "IV_VER=2.6.14\nIV_PROTO=142\n";
        let bytes = encode(CLIENT_OCC, "", "", peer_info).unwrap();
        assert_eq!(bytes[..5], [0, 0, 0, 0, 2]);
        assert_eq!(bytes[5..53], counting::<48>(0x00));
        assert_eq!(bytes[53..85], counting::<32>(0x40));
        assert_eq!(bytes[85..117], counting::<32>(0x80));
        assert_eq!(bytes[117..119], [0, 108], "107 characters + NUL");
        assert_eq!(&bytes[119..226], CLIENT_OCC.as_bytes());
        assert_eq!(bytes[226], 0);
        assert_eq!(bytes[227..231], [0, 0, 0, 0], "empty username and password");
        assert_eq!(bytes[231..233], [0, 28]);
        assert_eq!(&bytes[233..260], peer_info.as_bytes());
        assert_eq!(bytes[260], 0);
        assert_eq!(bytes.len(), 261);
    }

    #[test]
    fn client_credentials_are_length_prefixed_and_nul_terminated() {
        let bytes = encode("V4", "alice", "pw", "").unwrap();
        let tail = b"\0\x03V4\0\0\x06alice\0\0\x03pw\0\0\0";
        assert_eq!(bytes[117..], tail[..]);
    }

    #[test]
    fn outgoing_limits_are_enforced() {
        use KeyMethodBuildError as E;
        let max = MAX_CREDENTIAL_LEN;
        let (ok_user, long) = ("u".repeat(max - 1), "u".repeat(max));
        assert!(encode(CLIENT_OCC, &ok_user, "", "").is_ok());
        let too_long = |field, len, max| Err(E::StringTooLong { field, len, max });
        assert_eq!(
            encode("", &long, "", "").map(drop),
            too_long(Field::Username, max + 1, max)
        );
        assert_eq!(
            encode("", "", &long, "").map(drop),
            too_long(Field::Password, max + 1, max)
        );
        // Each fits alone; both together overflow the peer's 2048-byte read.
        assert!(matches!(
            encode(CLIENT_OCC, &ok_user, &ok_user, ""),
            Err(E::MessageTooLong { .. })
        ));
        let options = "o".repeat(512);
        assert_eq!(
            encode(&options, "", "", "").map(drop),
            too_long(Field::Options, 513, 512)
        );
        let nul = Err(E::EmbeddedNul {
            field: Field::Username,
        });
        assert_eq!(encode("", "a\0b", "", "").map(drop), nul);
        let info = "x".repeat(1900);
        let too_big = Err(E::MessageTooLong {
            len: 2134,
            max: 2048,
        });
        assert_eq!(encode(CLIENT_OCC, "", "", &info).map(drop), too_big);
    }

    #[test]
    fn generate_fills_every_field_from_the_rng() {
        let rng = ring::rand::SystemRandom::new();
        let (a, b) = (
            KeySource::generate(&rng).unwrap(),
            KeySource::generate(&rng).unwrap(),
        );
        for s in [&a, &b] {
            assert_ne!(s.pre_master(), &[0; 48]);
            assert_ne!((s.random1(), s.random2()), (&[0; 32], &[0; 32]));
            assert_ne!(s.random1(), s.random2());
        }
        assert_ne!(a.pre_master(), b.pre_master());
    }

    #[test]
    fn stock_server_message_parses() {
        let bytes = stock_server_message();
        assert_eq!(bytes.len(), 185, "size observed from a stock 2.6.14 server");
        let m = ServerKeyMessage::parse(&bytes).unwrap();
        assert_eq!(m.flags, 0);
        assert_eq!(m.randoms.random1(), &counting::<32>(0x60));
        assert_eq!(m.randoms.random2(), &counting::<32>(0xa0));
        assert_eq!(m.options, SERVER_OCC);
        assert_eq!(
            (
                m.username.as_str(),
                m.password.as_str(),
                m.peer_info.as_str()
            ),
            ("", "", "")
        );
    }

    #[test]
    fn server_message_accepts_lone_nul_and_absent_trailing_strings() {
        let mut bytes = stock_server_message();
        bytes.truncate(185 - 6);
        bytes.extend_from_slice(&[0, 1, 0, 0, 3, b'a', b'b', 0, 0, 0]);
        let m = ServerKeyMessage::parse(&bytes).unwrap();
        assert_eq!((m.username.as_str(), m.password.as_str()), ("", "ab"));
        for cut in [185 - 6, 185 - 4, 185 - 2] {
            let m = ServerKeyMessage::parse(&stock_server_message()[..cut]).unwrap();
            assert_eq!(m.options, SERVER_OCC, "cut at {cut}");
        }
    }

    #[test]
    fn server_message_errors_are_typed() {
        use KeyMethodError as E;
        let good = stock_server_message();
        let parse = |bytes: &[u8]| ServerKeyMessage::parse(bytes).map(drop);
        let with = |at: usize, byte: u8| {
            let mut b = good.clone();
            b[at] = byte;
            parse(&b)
        };
        let options = Field::Options;
        assert_eq!(with(0, 1), Err(E::NonZeroPrefix(0x0100_0000)));
        assert_eq!(with(4, 1), Err(E::UnsupportedMethod(1)));
        assert_eq!(with(178, b'x'), Err(E::Unterminated { field: options }));
        assert_eq!(with(100, 0), Err(E::EmbeddedNul { field: options }));
        let too_long = E::StringTooLong {
            field: options,
            len: 0x106c,
            max: 4096,
        };
        assert_eq!(with(69, 0x10), Err(too_long));
        let trailing = [&good[..], &[7]].concat();
        assert_eq!(parse(&trailing), Err(E::TrailingBytes(1)));
        let truncated = |field, needed, got| Err(E::Truncated { field, needed, got });
        assert_eq!(parse(&good[..40]), truncated(Field::Random2, 32, 3));
        assert_eq!(parse(&good[..100]), truncated(options, 108, 29));
        assert_eq!(parse(&good[..184]), truncated(Field::PeerInfo, 2, 1));
        assert_eq!(parse(&good[..3]), truncated(Field::Header, 4, 3));
    }

    #[test]
    fn flags_and_non_utf8_are_tolerated() {
        let mut bytes = stock_server_message();
        bytes[4] = 0x32;
        bytes[80] = 0xff;
        let m = ServerKeyMessage::parse(&bytes).unwrap();
        assert_eq!(m.flags, 3);
        assert!(m.options.contains('\u{fffd}'));
    }

    #[test]
    fn debug_redacts_secrets() {
        let source = KeySource::from_parts([0x5a; 48], [0x5b; 32], [0x5c; 32]);
        let msg = ClientKeyMessage {
            source: &source,
            options: "V4",
            username: "alice",
            password: "hunter2",
            peer_info: "",
        };
        let shown = format!("{msg:?}");
        assert!(
            shown.contains("alice") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(!shown.contains("90") && !shown.contains("5a"), "{shown}");
        let mut bytes = stock_server_message();
        bytes.truncate(179);
        bytes.extend_from_slice(&[0, 0, 0, 7, b's', b'e', b'c', b'r', b'e', b't', 0, 0, 0]);
        let m = ServerKeyMessage::parse(&bytes).unwrap();
        assert_eq!(m.password.as_str(), "secret");
        let shown = format!("{m:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("96"),
            "{shown}"
        );
    }

    use crate::testutil::Rng;

    #[test]
    fn fuzzed_server_messages_never_panic() {
        let seed = stock_server_message();
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let (mut ok, mut err) = (0, 0);
        for _ in 0..20_000 {
            let mut input = seed.clone();
            match rng.below(4) {
                0 => input.truncate(rng.below(seed.len() + 1)),
                1 => {
                    for _ in 0..=rng.below(4) {
                        let at = rng.below(input.len());
                        input[at] = rng.next() as u8;
                    }
                }
                2 => {
                    // Hit the length fields of the strings and the tail.
                    let at = [69, 70, 179, 180, 181, 182, 183, 184][rng.below(8)];
                    input[at] = rng.next() as u8;
                    input.truncate(input.len() - rng.below(3));
                }
                _ => input = (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
            }
            match ServerKeyMessage::parse(&input) {
                Ok(m) => {
                    ok += 1;
                    assert!(m.options.len() <= 3 * MAX_READ_STRING_LEN);
                }
                Err(_) => err += 1,
            }
        }
        assert!(ok > 1_000 && err > 5_000, "ok {ok}, err {err}");
    }

    #[test]
    fn server_message_length_is_found_at_the_front_of_the_stream() {
        let mut msg = vec![0, 0, 0, 0, 2];
        msg.extend_from_slice(&[0x11; 64]);
        msg.extend_from_slice(&[0, 4]);
        msg.extend_from_slice(b"V4,\0");
        msg.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        let len = msg.len();
        assert_eq!(len, 5 + 64 + 6 + 6);
        let mut stream = msg.clone();
        stream.extend_from_slice(b"PUSH_REPLY,ping 10\0");
        assert_eq!(ServerKeyMessage::wire_len(&stream), Some(len));
        assert!(ServerKeyMessage::parse(&stream[..len]).is_ok());
        for cut in 0..len {
            assert_eq!(
                ServerKeyMessage::wire_len(&stream[..cut]),
                None,
                "cut {cut}"
            );
        }
    }
}
