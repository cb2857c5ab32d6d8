//! A scripted OpenVPN 2.6-like TCP/TAP server for engine tests: sans-IO, driven with a simulated
//! clock by [`super::ovpn_net::Net`].
//!
//! It answers `HARD_RESET_CLIENT_V2` with `HARD_RESET_SERVER_V2` (ACKing id 0), runs a rustls
//! `ServerConnection` over its own `Reliable`, reads the client's key-method-2 message, answers
//! with the server layout (§3.1), pushes on `PUSH_REQUEST` (or at once, or when told), derives the
//! data keys (EKM or PRF, as the push says, §5) once its key message is ACKed — as a stock server
//! activates a key — and encrypts/decrypts frames with a server-side `DataChannel`. It can start
//! renegotiations (§10) and send any control string. It never reads the clock.
//!
//! Reused from the crate: `Wrapper` (server side), `Reliable`, `ControlRepr`, `KeyBlock`,
//! `DataChannel`, the push parser. Written here: the client key-method-2 parser and the server
//! key-method-2 encoder, which the client engine does not need.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ServerConnection;
use tapclient::openvpn::client::WrapKeys;
use tapclient::openvpn::data::{
    Compression, DataChannel, DataCipher, DataConfig, DataError, Decrypted, DirectionSecret,
    KeyMaterial, OccKind,
};
use tapclient::openvpn::kdf::{KeyBlock, EKM_LABEL};
use tapclient::openvpn::keymethod::{KeySource, PeerRandoms, PRE_MASTER_LEN, RANDOM_LEN};
use tapclient::openvpn::push::{
    CompressionFraming, ControlMessage, ControlStream, PushAssembler, PushedConfig,
};
use tapclient::openvpn::reliable::Reliable;
use tapclient::openvpn::wire::{AckList, ControlRepr, KeyId, Opcode, SessionId};
use tapclient::openvpn::wrap::{AuthDigest, KeyDirection, Side, StaticKey, Wrapper};

/// The push of a stock 2.6 TAP server to a client announcing IV_PROTO 142 (§7.1).
pub const EKM_PUSH: &str = "PUSH_REPLY,route-gateway 10.99.0.1,ping 10,ping-restart 60,\
     ifconfig 10.99.0.2 255.255.255.0,peer-id 0,cipher AES-256-GCM,\
     protocol-flags cc-exit tls-ekm,tun-mtu 1500";
/// The same without `tls-ekm`: the legacy PRF derives the keys (§5.0).
pub const PRF_PUSH: &str = "PUSH_REPLY,route-gateway 10.99.0.1,ping 10,ping-restart 60,\
     ifconfig 10.99.0.2 255.255.255.0,peer-id 0,cipher AES-256-GCM,\
     protocol-flags cc-exit,tun-mtu 1500";
/// The options string of a stock TAP server (§4.1).
pub const SERVER_OPTIONS: &str = "V4,dev-type tap,link-mtu 1575,tun-mtu 1500,\
     proto TCPv4_SERVER,auth SHA1,keysize 128,key-method 2,tls-server";
/// The stock server's wall clock for the tls-auth/tls-crypt replay time field.
const UNIX_START: u32 = 1_700_000_000;

/// When the server sends its `PUSH_REPLY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushMode {
    /// After the client's `PUSH_REQUEST` (and the key being active).
    OnRequest,
    /// As soon as the key is active (IV_PROTO bit 2, what a stock 2.6 server does).
    Immediately,
    /// Only when the test calls [`Server::push`].
    Manual,
}

/// Control-channel wrapping, with the raw static key (the server uses key-direction 0).
#[derive(Clone)]
pub enum ServerWrap {
    None,
    TlsAuth([u8; 256], AuthDigest),
    TlsCrypt([u8; 256]),
}

impl ServerWrap {
    pub fn server_wrapper(&self) -> Wrapper {
        match self {
            ServerWrap::None => Wrapper::None,
            ServerWrap::TlsAuth(key, digest) => {
                Wrapper::tls_auth(&StaticKey::from_bytes(*key), *digest, KeyDirection::Zero)
            }
            ServerWrap::TlsCrypt(key) => {
                Wrapper::tls_crypt(&StaticKey::from_bytes(*key), Side::Server)
            }
        }
    }

    /// The client's settings for this wrapping (key-direction 1 for tls-auth).
    pub fn client_keys(&self) -> WrapKeys {
        match self {
            ServerWrap::None => WrapKeys::None,
            ServerWrap::TlsAuth(key, digest) => WrapKeys::TlsAuth {
                key: StaticKey::from_bytes(*key),
                digest: *digest,
                direction: KeyDirection::One,
            },
            ServerWrap::TlsCrypt(key) => WrapKeys::TlsCrypt {
                key: StaticKey::from_bytes(*key),
            },
        }
    }
}

pub struct ServerConfig {
    pub tls: Arc<rustls::ServerConfig>,
    /// The `PUSH_REPLY,…` message(s), one per line (several for `push-continuation`).
    pub push: String,
    pub push_mode: PushMode,
    pub wrap: ServerWrap,
    /// TLS bytes per `P_CONTROL_V1` (small values split flights over many packets).
    pub control_payload: usize,
    /// Keepalive: a ping after this long without sending (stock `keepalive 10 60` → 10 s).
    pub ping: Option<Duration>,
    /// The data cipher when the push names none (a server without cipher negotiation).
    pub fallback_cipher: Option<DataCipher>,
    /// The CBC data-channel HMAC digest (`auth`).
    pub data_auth: AuthDigest,
    /// The server's own compression framing when its push names none (a `comp-lzo` server
    /// that does not push it).
    pub framing: Option<Compression>,
}

impl ServerConfig {
    pub fn new(tls: Arc<rustls::ServerConfig>) -> ServerConfig {
        ServerConfig {
            tls,
            push: EKM_PUSH.to_owned(),
            push_mode: PushMode::OnRequest,
            wrap: ServerWrap::None,
            control_payload: 1100,
            ping: None,
            fallback_cipher: None,
            data_auth: AuthDigest::Sha1,
            framing: None,
        }
    }
}

/// Where one server key state stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ServerStage {
    /// TLS handshake running (the client's reset has been seen).
    Handshake,
    /// TLS up; waiting for the client's key-method-2 message.
    AwaitClientKey,
    /// Our key-method-2 message sent; waiting for all our packets to be ACKed.
    AwaitKeyAck,
    /// Data keys installed.
    Active,
}

struct ServerKey {
    key_id: KeyId,
    reliable: Reliable,
    tls: ServerConnection,
    tls_out: Vec<u8>,
    plaintext: Vec<u8>,
    stage: ServerStage,
    client_source: Option<KeySource>,
    /// Set when our TLS refused the client (its alert goes out like any TLS output).
    tls_error: Option<rustls::Error>,
    random1: [u8; RANDOM_LEN],
    random2: [u8; RANDOM_LEN],
}

/// The client's key-method-2 message (client layout, §3.1).
pub struct ClientKeyMessage {
    pub source: KeySource,
    pub options: String,
    pub username: String,
    pub password: String,
    pub peer_info: String,
}

pub struct Server {
    cfg: ServerConfig,
    pub session_id: SessionId,
    pub client_session_id: Option<SessionId>,
    wrapper: Wrapper,
    key: Option<ServerKey>,
    data: Option<DataChannel>,
    pushed: PushedConfig,
    control: ControlStream,
    push_requested: bool,
    pub push_sent: bool,
    /// Control strings received, in order (`PUSH_REQUEST`, …).
    pub messages: Vec<String>,
    /// Key-method-2 messages received, in order (one per key state).
    pub client_keys: Vec<ClientKeyMessage>,
    pub frames: Vec<Vec<u8>>,
    pub pings: usize,
    /// Control packets refused, with the reason.
    pub control_drops: Vec<String>,
    pub data_errors: Vec<DataError>,
    last_sent: Option<Instant>,
    rng: ring::rand::SystemRandom,
}

impl Server {
    pub fn new(cfg: ServerConfig) -> Server {
        let pushed = parse_push(&cfg.push);
        let rng = ring::rand::SystemRandom::new();
        let mut sid = [0u8; 8];
        while sid == [0; 8] {
            ring::rand::SecureRandom::fill(&rng, &mut sid).unwrap();
        }
        Server {
            wrapper: cfg.wrap.server_wrapper(),
            cfg,
            session_id: SessionId(sid),
            client_session_id: None,
            key: None,
            data: None,
            pushed,
            control: ControlStream::new(),
            push_requested: false,
            push_sent: false,
            messages: Vec::new(),
            client_keys: Vec::new(),
            frames: Vec::new(),
            pings: 0,
            control_drops: Vec::new(),
            data_errors: Vec::new(),
            last_sent: None,
            rng,
        }
    }

    pub fn key_id(&self) -> Option<u8> {
        self.key.as_ref().map(|k| k.key_id.value())
    }

    /// Why our TLS refused the client, if it did.
    pub fn tls_error(&self) -> Option<&rustls::Error> {
        self.key.as_ref()?.tls_error.as_ref()
    }

    pub fn stage(&self) -> Option<ServerStage> {
        self.key.as_ref().map(|k| k.stage)
    }

    /// The key_id the server encrypts data with.
    pub fn data_key_id(&self) -> Option<u8> {
        self.data.as_ref()?.current_key().map(|(id, _)| id)
    }

    /// Handles one packet from the client (without the TCP length prefix).
    pub fn handle_packet(&mut self, now: Instant, packet: &mut [u8]) {
        match Opcode::from_byte0(packet[0]) {
            Opcode::DataV1 | Opcode::DataV2 => self.handle_data(now, packet),
            _ => self.handle_control(now, packet),
        }
    }

    fn handle_data(&mut self, now: Instant, packet: &mut [u8]) {
        let Some(data) = self.data.as_mut() else {
            return self.data_errors.push(DataError::NoKey(packet[0] & 7));
        };
        match data.decrypt_in_place(packet, now) {
            Ok(Decrypted::Frame(frame)) => self.frames.push(frame.to_vec()),
            Ok(Decrypted::Ping) => self.pings += 1,
            Ok(Decrypted::Occ { .. }) => {}
            Err(e) => self.data_errors.push(e),
        }
    }

    fn handle_control(&mut self, now: Instant, wire: &[u8]) {
        let plain = match self.wrapper.unwrap(wire, now) {
            Ok(plain) => plain.to_vec(),
            Err(e) => return self.control_drops.push(format!("unwrap: {e}")),
        };
        let packet = match ControlRepr::parse(&plain) {
            Ok(p) => p,
            Err(e) => return self.control_drops.push(format!("parse: {e}")),
        };
        match self.client_session_id {
            None if packet.opcode == Opcode::HardResetClientV2
                && packet.key_id == KeyId::ZERO
                && packet.message_id == Some(0) =>
            {
                self.client_session_id = Some(packet.session_id);
                self.key = Some(self.new_key(now, KeyId::ZERO, Opcode::HardResetServerV2));
            }
            None => {
                return self
                    .control_drops
                    .push(format!("{:?} first", packet.opcode))
            }
            Some(sid) if sid != packet.session_id => {
                return self.control_drops.push("foreign session id".into())
            }
            Some(_) => {}
        }
        if packet
            .remote_session_id
            .is_some_and(|sid| sid != self.session_id)
        {
            return self.control_drops.push("ACK for another session".into());
        }
        let current = self.key.as_ref().map(|k| k.key_id).unwrap_or_default();
        if packet.key_id != current {
            if packet.opcode == Opcode::SoftResetV1 && packet.key_id == current.next() {
                self.key = Some(self.new_key(now, packet.key_id, Opcode::SoftResetV1));
            } else {
                let why = format!("stale key_id {}", packet.key_id.value());
                return self.control_drops.push(why);
            }
        }
        self.feed(&packet);
        self.progress(now);
    }

    fn new_key(&self, now: Instant, key_id: KeyId, reset: Opcode) -> ServerKey {
        let mut reliable = Reliable::new();
        reliable.send.push(now, reset, &[]).unwrap();
        let mut random1 = [0u8; RANDOM_LEN];
        let mut random2 = [0u8; RANDOM_LEN];
        ring::rand::SecureRandom::fill(&self.rng, &mut random1).unwrap();
        ring::rand::SecureRandom::fill(&self.rng, &mut random2).unwrap();
        ServerKey {
            key_id,
            reliable,
            tls: ServerConnection::new(self.cfg.tls.clone()).unwrap(),
            tls_out: Vec::new(),
            plaintext: Vec::new(),
            stage: ServerStage::Handshake,
            client_source: None,
            tls_error: None,
            random1,
            random2,
        }
    }

    /// ACKs and in-order messages of one authentic packet of the current key.
    fn feed(&mut self, packet: &ControlRepr<'_>) {
        let key = self.key.as_mut().expect("a key state");
        key.reliable.handle(packet);
        while let Some(message) = key.reliable.pop() {
            if message.opcode != Opcode::ControlV1 {
                continue; // the client's hard/soft reset
            }
            let mut payload = message.payload;
            while !payload.is_empty() && key.tls_error.is_none() {
                key.tls.read_tls(&mut payload).unwrap();
                key.tls_error = key.tls.process_new_packets().err();
            }
        }
    }

    fn progress(&mut self, now: Instant) {
        let key = self.key.as_mut().expect("a key state");
        if key.tls_error.is_some() {
            return;
        }
        if key.stage == ServerStage::Handshake && !key.tls.is_handshaking() {
            key.stage = ServerStage::AwaitClientKey;
        }
        let mut chunk = [0u8; 4096];
        loop {
            match key.tls.reader().read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => key.plaintext.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("server TLS read: {e}"),
            }
        }
        if key.stage == ServerStage::AwaitClientKey {
            if let Some((message, len)) = parse_client_key(&key.plaintext) {
                key.plaintext.drain(..len);
                let reply = server_key_message(&key.random1, &key.random2, SERVER_OPTIONS);
                key.tls.writer().write_all(&reply).unwrap();
                key.client_source = Some(KeySource::from_parts(
                    *message.source.pre_master(),
                    *message.source.random1(),
                    *message.source.random2(),
                ));
                self.client_keys.push(message);
                key.stage = ServerStage::AwaitKeyAck;
            }
        }
        if key.stage >= ServerStage::AwaitKeyAck && !key.plaintext.is_empty() {
            self.control.handle_plaintext(&key.plaintext);
            key.plaintext.clear();
        }
        while let Some(message) = self.control.poll_message() {
            let message = message.expect("printable control string");
            if message == "PUSH_REQUEST" {
                self.push_requested = true;
            }
            self.messages.push(message);
        }
        self.check_active(now);
    }

    /// A key becomes active when everything we sent for it (our key message) is ACKed.
    fn check_active(&mut self, now: Instant) {
        let Some(key) = self.key.as_mut() else { return };
        if key.stage == ServerStage::AwaitKeyAck
            && key.tls_out.is_empty()
            && !key.tls.wants_write()
            && key.reliable.send.in_flight() == 0
        {
            key.stage = ServerStage::Active;
            self.install_keys(now);
        }
        let push_due = match self.cfg.push_mode {
            PushMode::OnRequest => self.push_requested,
            PushMode::Immediately => true,
            PushMode::Manual => false,
        };
        if push_due && !self.push_sent && self.data.is_some() {
            self.push();
        }
    }

    fn install_keys(&mut self, now: Instant) {
        let key = self.key.as_ref().expect("a key state");
        let client_sid = self.client_session_id.expect("client session id");
        let block = if self.pushed.uses_ekm() {
            KeyBlock::from_exporter(|out| {
                key.tls
                    .export_keying_material(&mut out[..], EKM_LABEL, None)
                    .map(drop)
            })
            .expect("EKM")
        } else {
            let server = PeerRandoms::from_parts(key.random1, key.random2);
            let client = key.client_source.as_ref().expect("client key message");
            KeyBlock::from_prf(client, &server, &client_sid.0, &self.session_id.0)
        };
        let keys = block.server_keys();
        let material = KeyMaterial {
            encrypt: DirectionSecret {
                cipher: &keys.encrypt.cipher,
                hmac: &keys.encrypt.hmac,
            },
            decrypt: DirectionSecret {
                cipher: &keys.decrypt.cipher,
                hmac: &keys.decrypt.hmac,
            },
        };
        let cipher = self
            .pushed
            .cipher
            .as_ref()
            .and_then(|c| DataCipher::from_name(c.name()))
            .or(self.cfg.fallback_cipher)
            .expect("a supported pushed cipher");
        let data = self.data.get_or_insert_with(|| {
            let config = DataConfig {
                auth: self.cfg.data_auth,
                ..data_config(&self.pushed, self.cfg.framing)
            };
            DataChannel::new(config).expect("data channel config")
        });
        data.install(key.key_id.value(), cipher, &material, now)
            .expect("install server keys");
    }

    /// Sends the configured `PUSH_REPLY` now.
    pub fn push(&mut self) {
        let text = self.cfg.push.clone();
        text.lines()
            .for_each(|part| self.send_control_message(part));
        self.push_sent = true;
    }

    /// Sends one NUL-terminated control string in one TLS record on the current key.
    pub fn send_control_message(&mut self, text: &str) {
        let key = self.key.as_mut().expect("a key state");
        let mut message = text.as_bytes().to_vec();
        message.push(0);
        key.tls.writer().write_all(&message).unwrap();
    }

    /// Starts a renegotiation: `SOFT_RESET_V1` for the next key_id and a new TLS session.
    pub fn start_renegotiation(&mut self, now: Instant) {
        let key = self.key.as_ref().expect("a key state");
        assert_eq!(
            key.stage,
            ServerStage::Active,
            "renegotiate from an active key"
        );
        let next = key.key_id.next();
        self.key = Some(self.new_key(now, next, Opcode::SoftResetV1));
    }

    /// The next control packet to send, wrapped, without the TCP length prefix.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        let chunk = self.cfg.control_payload;
        let key = self.key.as_mut()?;
        while key.tls.wants_write() {
            key.tls.write_tls(&mut key.tls_out).unwrap();
        }
        let mut sent = 0;
        while sent < key.tls_out.len() && key.reliable.send.room() > 0 {
            let end = (sent + chunk).min(key.tls_out.len());
            let payload = &key.tls_out[sent..end];
            key.reliable
                .send
                .push(now, Opcode::ControlV1, payload)
                .unwrap();
            sent = end;
        }
        key.tls_out.drain(..sent);
        let out = key.reliable.poll_transmit(now)?;
        self.last_sent = Some(now);
        let repr = ControlRepr {
            opcode: out.opcode,
            key_id: key.key_id,
            session_id: self.session_id,
            acks: out.acks,
            remote_session_id: (!out.acks.is_empty())
                .then_some(self.client_session_id)
                .flatten(),
            message_id: out.message_id,
            payload: out.payload,
        };
        let mut plain = Vec::new();
        repr.emit_to_vec(&mut plain).unwrap();
        Some(self.wrap_plain(&plain))
    }

    /// Wraps a plain control packet with the server's wrapper (for crafted packets too).
    pub fn wrap_plain(&mut self, plain: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        self.wrapper.wrap(plain, UNIX_START, &mut wire).unwrap();
        wire
    }

    /// A wrapped `P_CONTROL_V1` with arbitrary header fields (for forged or stale packets).
    pub fn craft_control(
        &mut self,
        key_id: u8,
        session_id: SessionId,
        acks: &[u32],
        remote_session_id: Option<SessionId>,
        message_id: u32,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut plain = Vec::new();
        let repr = ControlRepr {
            opcode: Opcode::ControlV1,
            key_id: KeyId::new(key_id).unwrap(),
            session_id,
            acks: AckList::from_slice(acks).unwrap(),
            remote_session_id,
            message_id: Some(message_id),
            payload,
        };
        repr.emit_to_vec(&mut plain).unwrap();
        self.wrap_plain(&plain)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let ping = self.cfg.ping.zip(self.last_sent).map(|(i, t)| t + i);
        let retransmit = self.key.as_ref()?.reliable.poll_timeout();
        [ping.filter(|_| self.data.is_some()), retransmit]
            .into_iter()
            .flatten()
            .min()
    }

    /// A keepalive ping when the configured interval passed without sending.
    pub fn poll_ping(&mut self, now: Instant) -> Option<Vec<u8>> {
        let due = self.cfg.ping.zip(self.last_sent).map(|(i, t)| t + i)?;
        if now < due || self.data.is_none() {
            return None;
        }
        Some(self.encrypt_ping(now))
    }

    /// Encrypts a frame on the current data key.
    pub fn encrypt_frame(&mut self, now: Instant, frame: &[u8]) -> Vec<u8> {
        self.seal(now, |data, out| data.encrypt_frame(frame, out))
    }

    /// Encrypts a keepalive ping on the current data key.
    pub fn encrypt_ping(&mut self, now: Instant) -> Vec<u8> {
        self.seal(now, |data, out| data.encrypt_ping(out))
    }

    /// Encrypts an OCC message (without body) on the current data key.
    pub fn encrypt_occ(&mut self, now: Instant, kind: OccKind) -> Vec<u8> {
        self.seal(now, |data, out| data.encrypt_occ(kind, &[], out))
    }

    fn seal(
        &mut self,
        now: Instant,
        encrypt: impl FnOnce(&mut DataChannel, &mut [u8]) -> Result<usize, DataError>,
    ) -> Vec<u8> {
        self.last_sent = Some(now);
        let data = self.data.as_mut().expect("server data keys");
        let mut out = vec![0u8; 2048];
        let n = encrypt(data, &mut out).unwrap();
        out.truncate(n);
        out
    }
}

fn parse_push(text: &str) -> PushedConfig {
    let mut assembler = PushAssembler::new();
    let mut pushed = None;
    for part in text.lines() {
        let ControlMessage::PushReply(reply) = ControlMessage::parse(part) else {
            panic!("not a PUSH_REPLY: {part}");
        };
        pushed = assembler.handle_reply(reply).expect("usable push");
    }
    pushed.expect("a complete push")
}

fn data_config(pushed: &PushedConfig, own: Option<Compression>) -> DataConfig {
    let compression = match pushed.compression.map(|c| c.framing()) {
        None => own.unwrap_or(Compression::None),
        Some(CompressionFraming::Lzo) => Compression::CompLzo,
        Some(CompressionFraming::Swap) => Compression::Stub,
        Some(CompressionFraming::V2) => Compression::StubV2,
    };
    DataConfig {
        compression,
        peer_id: pushed.peer_id,
        ..DataConfig::default()
    }
}

/// The server's key-method-2 message: `u32 0 | 2 | random1 | random2 | options | "" | "" | ""`.
pub fn server_key_message(random1: &[u8; 32], random2: &[u8; 32], options: &str) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 0, 2];
    out.extend_from_slice(random1);
    out.extend_from_slice(random2);
    out.extend_from_slice(&u16::try_from(options.len() + 1).unwrap().to_be_bytes());
    out.extend_from_slice(options.as_bytes());
    out.push(0);
    out.extend_from_slice(&[0; 6]);
    out
}

/// Parses the client's key-method-2 message at the start of `stream`: `None` while incomplete,
/// the message and its length once complete; panics on a malformed one (a test failure).
pub fn parse_client_key(stream: &[u8]) -> Option<(ClientKeyMessage, usize)> {
    const FIXED: usize = 5 + PRE_MASTER_LEN + 2 * RANDOM_LEN;
    let fixed = stream.get(..FIXED)?;
    assert_eq!(
        fixed[..4],
        [0, 0, 0, 0],
        "key-method message starts with u32 0"
    );
    assert_eq!(fixed[4], 2, "key method 2");
    let mut pos = FIXED;
    let mut strings = Vec::new();
    for _ in 0..4 {
        let len = stream.get(pos..pos + 2)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let bytes = stream.get(pos + 2..pos + 2 + len)?;
        let text = match bytes.split_last() {
            None => "",
            Some((0, text)) => std::str::from_utf8(text).expect("UTF-8 string"),
            Some(_) => panic!("key-method string without its NUL"),
        };
        strings.push(text.to_owned());
        pos += 2 + len;
    }
    let array = |at: usize| -> [u8; RANDOM_LEN] { stream[at..at + RANDOM_LEN].try_into().unwrap() };
    let source = KeySource::from_parts(
        stream[5..5 + PRE_MASTER_LEN].try_into().unwrap(),
        array(5 + PRE_MASTER_LEN),
        array(5 + PRE_MASTER_LEN + RANDOM_LEN),
    );
    let [options, username, password, peer_info] = <[String; 4]>::try_from(strings).unwrap();
    let message = ClientKeyMessage {
        source,
        options,
        username,
        password,
        peer_info,
    };
    Some((message, pos))
}
