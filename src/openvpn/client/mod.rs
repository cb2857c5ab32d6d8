//! The OpenVPN client engine for one TCP connection (sans-IO), after the pattern of
//! quinn-proto's `Connection`.
//!
//! # Calling contract
//! - Create one [`Client`] per TCP connection ([`Client::new`]): a new session id, the hard reset
//!   queued. Nothing else is sent before the server's reset arrives.
//! - Feed every received packet (one TCP record, without the 2-byte length) to
//!   [`Client::handle_packet`]; it returns a decrypted Ethernet frame for data packets.
//! - After every input, drain [`Client::poll_transmit`] (control packets, already wrapped) and
//!   [`Client::poll_ping`] (keepalive data packets) into the socket, and [`Client::poll_event`].
//! - Encrypt outgoing frames with [`Client::encrypt_frame`] (only once established).
//! - Call [`Client::handle_timeout`] when [`Client::poll_timeout`] is reached.
//!
//! `now` must never go backwards. The engine reads no clock, does no I/O.
//!
//! # Life of a connection (§12.1)
//! Hard reset → TLS handshake (certificate checked by the configured verifier) → key-method-2
//! both ways → `PUSH_REQUEST` (repeated every 5 s) → `PUSH_REPLY` → data keys (EKM when the
//! server says `tls-ekm`, else the legacy PRF) → [`Event::Established`]. A server
//! `SOFT_RESET_V1` for the next key_id starts a renegotiation (§10), and so do we once the key
//! is `reneg-sec` old (`rekey.rs`): a new key state runs a full TLS handshake and key exchange
//! (with the credentials again, or the pushed auth-token, `auth.rs`) while data keeps flowing on
//! the old key, which then stays valid as the lame duck. On shutdown, [`Client::queue_exit`]
//! says goodbye when the server negotiated `cc-exit` (`messages.rs`).
//!
//! Where it stands: [`Client::phase`], [`Client::key_age`], [`Client::renegotiations`].

mod auth;
mod failure;
mod key_state;
mod messages;
mod rekey;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;

use super::data::{
    Compression as Framing, DataChannel, DataCipher, DataConfig, DataError, Decrypted, KeyMaterial,
    OccKind,
};
use super::kdf::{KeyBlock, EKM_LABEL};
use super::keymethod::KeySource;
use super::push::{CompressionFraming, PushAssembler, PushedConfig, PUSH_REQUEST};
use super::wire::{ControlRepr, KeyId, Opcode, SessionId, WireError};
use super::wrap::{WrapError, Wrapper};
pub use auth::{TokenLogin, UserPass, UserPassError, MAX_USER_PASS_LEN};
use key_state::{Handshake, KeyState};
pub use key_state::{KeyStateError, Stage};

/// `PUSH_REQUEST` repeat interval (§7.1).
pub const PUSH_REQUEST_INTERVAL: Duration = Duration::from_secs(5);

/// What a connection needs to know; the same for every connection of a run.
pub struct Settings {
    pub tls: Arc<rustls::ClientConfig>,
    pub server_name: ServerName<'static>,
    /// Control-channel wrapping keys (a fresh wrapper, with its replay state, per connection).
    pub wrap_keys: WrapKeys,
    /// The OCC options string (§4).
    pub options: String,
    /// The peer-info block (§3.2).
    pub peer_info: String,
    /// Ciphers we offered; the pushed one must be among them.
    pub ciphers: Vec<DataCipher>,
    /// The cipher to use when the server pushes none (a server without cipher negotiation:
    /// OpenVPN's `data-ciphers-fallback`/`cipher`); `None` refuses such servers.
    pub fallback_cipher: Option<DataCipher>,
    /// The HMAC digest of the CBC data ciphers (OpenVPN's `auth`; not negotiated).
    pub data_auth: super::wrap::AuthDigest,
    /// `hand-window`: from the reset to an established key.
    pub hand_window: Duration,
    /// `auth-user-pass`: sent in every key-method-2 message (empty strings when `None`).
    pub user_pass: Option<UserPass>,
    /// `reneg-sec`: we renegotiate when the data key is this old (`None`: only the server does).
    pub reneg_interval: Option<Duration>,
    /// `ping` when the server pushes none.
    pub ping: Option<Duration>,
    /// `ping-restart` when the server pushes none.
    pub ping_restart: Option<Duration>,
    /// The compression framing when the server pushes none (`compress`/`comp-lzo` configured).
    pub compression: Option<CompressionFraming>,
}

/// Key material for the control-channel wrapper.
pub enum WrapKeys {
    None,
    TlsAuth {
        key: super::wrap::StaticKey,
        digest: super::wrap::AuthDigest,
        direction: super::wrap::KeyDirection,
    },
    TlsCrypt {
        key: super::wrap::StaticKey,
    },
}

impl WrapKeys {
    /// The wrapper for a new connection (client side).
    pub fn wrapper(&self) -> Wrapper {
        match self {
            WrapKeys::None => Wrapper::None,
            WrapKeys::TlsAuth {
                key,
                digest,
                direction,
            } => Wrapper::tls_auth(key, *digest, *direction),
            WrapKeys::TlsCrypt { key } => Wrapper::tls_crypt(key, super::wrap::Side::Client),
        }
    }
}

/// Something the driver must act on.
#[derive(Debug)]
pub enum Event {
    /// The first data key is in place: configure the interface from the push and let data flow.
    Established(Box<PushedConfig>),
    /// A renegotiation completed; data now uses `key_id`.
    Rekeyed { key_id: u8 },
    /// This connection is over; reconnect (server `RESTART`, `ping-restart`, a handshake that
    /// did not finish in time, a TLS failure that retrying may fix).
    Restart(String),
    /// The server sent `RESTART` with the `N` flag: reconnect, to the next server of the list.
    NextServer(String),
    /// Stop for good: the server refused us (`AUTH_FAILED`, `HALT`, our certificate rejected) or
    /// failed authentication itself.
    Fatal {
        authentication: bool,
        reason: String,
        /// The TLS failure behind it, if any (to be explained with the user's file names).
        tls: Option<rustls::Error>,
    },
}

/// How far a connection got, for status displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Our hard reset is out; waiting for the server's.
    AwaitServerReset,
    /// The TLS handshake runs (the server's certificate is checked, ours presented).
    TlsHandshake,
    /// Key exchange and authentication: waiting for the server to accept us and push.
    Authenticating,
    /// Data flows (renegotiations included).
    Established,
}

/// A packet that was dropped (counted by the caller); the connection goes on.
#[derive(Debug, thiserror::Error)]
pub enum PacketError {
    #[error("control packet failed authentication: {0}")]
    Wrap(#[from] WrapError),
    #[error("malformed control packet: {0}")]
    Wire(#[from] WireError),
    #[error("data packet: {0}")]
    Data(#[from] DataError),
    #[error("control packet from another session")]
    WrongSession,
    #[error("control packet for key_id {0}, not the current one")]
    StaleKeyId(u8),
    #[error("unexpected opcode {0:?}")]
    UnexpectedOpcode(Opcode),
}

pub struct Client {
    settings: Arc<Settings>,
    session_id: SessionId,
    remote_session_id: Option<SessionId>,
    wrapper: Wrapper,
    unix_start: u32,
    key: KeyState,
    push: PushAssembler,
    pushed: Option<PushedConfig>,
    data: Option<DataChannel>,
    rng: ring::rand::SystemRandom,
    events: std::collections::VecDeque<Event>,
    next_push_request: Option<Instant>,
    /// The handshake window of the key state in progress.
    handshake_deadline: Option<Instant>,
    last_sent: Instant,
    last_received: Instant,
    server_heard: bool,
    /// The token that replaces the password on later logins.
    login: auth::Login,
    /// `ping` / `ping-restart` in force (pushed, else configured), once established.
    ping: Option<Duration>,
    ping_restart: Option<Duration>,
    /// When the data channel's current key was installed.
    key_installed_at: Option<Instant>,
    renegotiations: u64,
    exit_queued: bool,
    /// Scratch for one emitted control packet before wrapping.
    plain: Vec<u8>,
    /// Scratch for one received control packet after unwrapping.
    rx_plain: Vec<u8>,
    done: bool,
}

impl Client {
    /// Starts a connection: a random session id and the hard reset queued. `unix_now` is the
    /// wall-clock time in seconds (the tls-auth/tls-crypt replay time field).
    pub fn new(
        settings: Arc<Settings>,
        now: Instant,
        unix_now: u32,
    ) -> Result<Client, KeyStateError> {
        let rng = ring::rand::SystemRandom::new();
        let mut sid = [0u8; 8];
        while sid == [0; 8] {
            ring::rand::SecureRandom::fill(&rng, &mut sid).map_err(|_| failure::rng_error())?;
        }
        let source = KeySource::generate(&rng)?;
        let key = KeyState::new(
            KeyId::from_byte0(0),
            Opcode::HardResetClientV2,
            settings.tls.clone(),
            settings.server_name.clone(),
            source,
            now,
        )?;
        Ok(Client {
            wrapper: settings.wrap_keys.wrapper(),
            handshake_deadline: Some(now + settings.hand_window),
            settings,
            session_id: SessionId(sid),
            remote_session_id: None,
            unix_start: unix_now,
            key,
            push: PushAssembler::new(),
            pushed: None,
            data: None,
            rng,
            events: Default::default(),
            next_push_request: None,
            last_sent: now,
            last_received: now,
            server_heard: false,
            login: auth::Login::default(),
            ping: None,
            ping_restart: None,
            key_installed_at: None,
            renegotiations: 0,
            exit_queued: false,
            plain: Vec::with_capacity(2048),
            rx_plain: Vec::with_capacity(2048),
            done: false,
        })
    }

    pub fn is_established(&self) -> bool {
        self.data.is_some()
    }

    /// How far the connection got (renegotiations do not leave `Established`).
    pub fn phase(&self) -> Phase {
        if self.data.is_some() {
            return Phase::Established;
        }
        match self.key.stage {
            Stage::AwaitReset => Phase::AwaitServerReset,
            Stage::Handshake => Phase::TlsHandshake,
            Stage::AwaitKeyExchange | Stage::KeysExchanged => Phase::Authenticating,
        }
    }

    /// The auth-token login the server pushed, for the next connection of this run (stock
    /// clients keep it across reconnects); `None` without one or after it was refused.
    pub fn auth_token(&self) -> Option<TokenLogin> {
        self.login.token().cloned()
    }

    /// Logs in with `token` instead of the configured password (call before the TLS handshake
    /// completes, i.e. right after [`Client::new`]).
    pub fn resume_auth_token(&mut self, token: TokenLogin) {
        self.login.resume(token);
    }

    /// The pushed configuration, once established.
    pub fn pushed(&self) -> Option<&PushedConfig> {
        self.pushed.as_ref()
    }

    /// How far the handshake of the key state in progress got (for status reports).
    pub fn handshake_stage(&self) -> Stage {
        self.key.stage
    }

    /// The data channel's current key and cipher, for logs.
    pub fn current_key(&self) -> Option<(u8, DataCipher)> {
        self.data.as_ref().and_then(DataChannel::current_key)
    }

    /// Handles one packet from the server. Returns the Ethernet frame of a data packet.
    pub fn handle_packet<'a>(
        &mut self,
        now: Instant,
        packet: &'a mut [u8],
    ) -> Result<Option<&'a [u8]>, PacketError> {
        let Some(&byte0) = packet.first() else {
            return Err(PacketError::Wire(WireError::Truncated {
                needed: 1,
                got: 0,
            }));
        };
        match Opcode::from_byte0(byte0) {
            Opcode::DataV1 | Opcode::DataV2 => self.handle_data(now, packet),
            _ => {
                self.handle_control(now, packet)?;
                Ok(None)
            }
        }
    }

    fn handle_data<'a>(
        &mut self,
        now: Instant,
        packet: &'a mut [u8],
    ) -> Result<Option<&'a [u8]>, PacketError> {
        let Some(data) = self.data.as_mut() else {
            // Data before keys (§6.5, §12.2 item 16): dropped quietly by the caller.
            return Err(PacketError::Data(DataError::NoKey(
                KeyId::from_byte0(packet[0]).value(),
            )));
        };
        let decrypted = data.decrypt_in_place(packet, now)?;
        self.last_received = now;
        match decrypted {
            Decrypted::Frame(frame) => Ok(Some(frame)),
            Decrypted::Ping => Ok(None),
            Decrypted::Occ { kind, .. } => {
                if kind == OccKind::Exit {
                    self.restart("the server sent OCC EXIT");
                }
                Ok(None)
            }
        }
    }

    fn handle_control(&mut self, now: Instant, wire: &[u8]) -> Result<(), PacketError> {
        // The unwrapped packet borrows the wrapper; work on a copy in a reused buffer.
        let mut plain = std::mem::take(&mut self.rx_plain);
        plain.clear();
        let result = match self.wrapper.unwrap(wire, now) {
            Ok(unwrapped) => {
                plain.extend_from_slice(unwrapped);
                self.handle_plain_control(now, &plain)
            }
            Err(e) => Err(e.into()),
        };
        self.rx_plain = plain;
        result
    }

    fn handle_plain_control(&mut self, now: Instant, plain: &[u8]) -> Result<(), PacketError> {
        let packet = ControlRepr::parse(plain)?;
        match self.remote_session_id {
            Some(remote) if remote != packet.session_id => return Err(PacketError::WrongSession),
            None if packet.opcode != Opcode::HardResetServerV2 => {
                return Err(PacketError::UnexpectedOpcode(packet.opcode))
            }
            _ => {}
        }
        if packet
            .remote_session_id
            .is_some_and(|sid| sid != self.session_id)
        {
            return Err(PacketError::WrongSession);
        }
        self.remote_session_id = Some(packet.session_id);
        self.server_heard = true;
        self.last_received = now;
        if packet.key_id != self.key.key_id {
            let next = packet.key_id == self.key.key_id.next();
            if packet.opcode == Opcode::SoftResetV1 && next && self.key_ready() {
                self.start_renegotiation(now, packet.key_id, rekey::Initiator::Server);
            } else {
                return Err(PacketError::StaleKeyId(packet.key_id.value()));
            }
        }
        let (username, password) = self.login.credentials(self.settings.user_pass.as_ref());
        let handshake = Handshake {
            options: &self.settings.options,
            username,
            password,
            peer_info: &self.settings.peer_info,
        };
        let before = self.key.stage;
        if let Err(e) = self.key.handle_packet(&packet, &handshake) {
            self.fail_key_state(e);
            return Ok(());
        }
        if before != Stage::KeysExchanged && self.key.stage == Stage::KeysExchanged {
            self.on_keys_exchanged(now);
        }
        self.handle_control_messages(now);
        Ok(())
    }

    fn request_push(&mut self, now: Instant) {
        if let Err(e) = self.key.send_control(PUSH_REQUEST) {
            return self.fail_key_state(e);
        }
        self.next_push_request = Some(now + PUSH_REQUEST_INTERVAL);
    }

    fn handle_push_reply(&mut self, now: Instant, reply: super::push::PushReply) {
        let pushed = match self.push.handle_reply(reply) {
            Ok(Some(pushed)) => pushed,
            Ok(None) => return,
            Err(e) => {
                return self.fatal(false, format!("the server's PUSH_REPLY is unusable: {e}"))
            }
        };
        if !pushed.unknown.is_empty() {
            tracing::info!(
                "ignoring pushed options tapclient does not know: {:?}",
                pushed.unknown
            );
        }
        self.next_push_request = None;
        let compression = match pushed
            .compression
            .map(|c| c.framing())
            .or(self.settings.compression)
        {
            None => Framing::None,
            Some(CompressionFraming::Lzo) => Framing::CompLzo,
            Some(CompressionFraming::Swap) => Framing::Stub,
            Some(CompressionFraming::V2) => Framing::StubV2,
        };
        let config = DataConfig {
            compression,
            peer_id: pushed.peer_id,
            auth: self.settings.data_auth,
            ..DataConfig::default()
        };
        match DataChannel::new(config) {
            Ok(channel) => self.data = Some(channel),
            Err(e) => return self.fatal(false, format!("the server's push is unusable: {e}")),
        }
        self.pushed = Some(pushed);
        if let Err(reason) = self.install_keys(now) {
            self.data = None;
            return self.fatal(false, reason);
        }
        self.handshake_deadline = None;
        self.on_first_key(now);
        if let Some(pushed) = &self.pushed {
            self.events
                .push_back(Event::Established(Box::new(pushed.clone())));
        }
    }

    /// The first data key is installed: keepalive (pushed, else configured), the auth-token.
    fn on_first_key(&mut self, now: Instant) {
        self.key_installed_at = Some(now);
        let Some(pushed) = self.pushed.take() else {
            return;
        };
        self.ping = pushed.ping.or(self.settings.ping);
        self.ping_restart = pushed.ping_restart.or(self.settings.ping_restart);
        self.absorb_login(&pushed);
        self.pushed = Some(pushed);
    }

    /// Derives this key state's data keys (EKM or PRF, as pushed for key_id 0) and installs them.
    fn install_keys(&mut self, now: Instant) -> Result<(), String> {
        let (Some(pushed), Some(data)) = (self.pushed.as_ref(), self.data.as_mut()) else {
            return Err("no push yet".into());
        };
        let cipher = data_cipher(pushed, &self.settings)?;
        let block = if pushed.uses_ekm() {
            KeyBlock::from_exporter(|out| {
                self.key
                    .tls()
                    .export_keying_material(&mut out[..], EKM_LABEL, None)
                    .map(drop)
            })
            .map_err(|e| format!("TLS keying-material export failed: {e}"))?
        } else {
            let (Some(server), Some(remote)) = (self.key.server_randoms(), self.remote_session_id)
            else {
                return Err("key exchange incomplete".into());
            };
            KeyBlock::from_prf(self.key.source(), server, &self.session_id.0, &remote.0)
        };
        let material = KeyMaterial::from_key_block(block.as_bytes());
        data.install(self.key.key_id.value(), cipher, &material, now)
            .map_err(|e| format!("cannot install data keys: {e}"))
    }

    /// Encrypts one Ethernet frame into `out` (which needs `frame.len() + data::MAX_OVERHEAD`
    /// bytes).
    pub fn encrypt_frame(
        &mut self,
        now: Instant,
        frame: &[u8],
        out: &mut [u8],
    ) -> Result<usize, DataError> {
        let data = self.data.as_mut().ok_or(DataError::NoSendKey)?;
        let n = data.encrypt_frame(frame, out)?;
        self.last_sent = now;
        Ok(n)
    }

    /// The next control packet to send, appended to `out` wrapped and without the length
    /// prefix. Returns false when there is nothing to send.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        if let Err(e) = self.key.flush_tls(now) {
            self.fail_key_state(e);
        }
        let Some(outgoing) = self.key.reliable.poll_transmit(now) else {
            return false;
        };
        let repr = ControlRepr {
            opcode: outgoing.opcode,
            key_id: self.key.key_id,
            session_id: self.session_id,
            acks: outgoing.acks,
            remote_session_id: (!outgoing.acks.is_empty())
                .then_some(self.remote_session_id)
                .flatten(),
            message_id: outgoing.message_id,
            payload: outgoing.payload,
        };
        self.plain.clear();
        if let Err(e) = repr.emit_to_vec(&mut self.plain) {
            tracing::error!("cannot build a control packet: {e}");
            return false;
        }
        if let Err(e) = self.wrapper.wrap(&self.plain, self.unix_start, out) {
            tracing::error!("cannot wrap a control packet: {e}");
            return false;
        }
        self.last_sent = now;
        true
    }

    /// A keepalive ping (data channel) when nothing was sent for the pushed `ping` interval.
    /// Writes it into `out` (`16 + data::MAX_OVERHEAD` bytes suffice) and returns its length.
    pub fn poll_ping(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        let interval = self.ping?;
        if now < self.last_sent + interval {
            return None;
        }
        let n = self.data.as_mut()?.encrypt_ping(out).ok()?;
        self.last_sent = now;
        Some(n)
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest instant at which [`Client::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.done {
            return None;
        }
        [
            self.key.reliable.poll_timeout(),
            self.handshake_deadline,
            self.next_push_request,
            self.ping.and_then(|i| self.last_sent.checked_add(i)),
            self.ping_restart
                .and_then(|i| self.last_received.checked_add(i)),
            self.data.as_ref().and_then(DataChannel::next_expiry),
            self.renegotiation_due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.done {
            return;
        }
        if self.handshake_deadline.is_some_and(|d| now >= d) {
            self.handshake_deadline = None;
            let what = if self.server_heard {
                "the TLS handshake and key exchange did not complete"
            } else {
                "no answer from the OpenVPN server (with tls-auth/tls-crypt, check the key file and key_direction)"
            };
            return self.restart(&format!(
                "{what} within {} s",
                self.settings.hand_window.as_secs()
            ));
        }
        if self.next_push_request.is_some_and(|t| now >= t) {
            self.request_push(now);
        }
        if let Some(limit) = self.ping_restart {
            if self
                .last_received
                .checked_add(limit)
                .is_some_and(|t| now >= t)
            {
                return self.restart(&format!(
                    "nothing heard from the server for {} s (ping-restart)",
                    limit.as_secs()
                ));
            }
        }
        if let Some(data) = self.data.as_mut() {
            data.expire(now);
        }
        self.renegotiate_if_due(now);
    }
}

/// The data cipher for this connection: the pushed `cipher` if we offered it; without a pushed
/// cipher (a server that does not negotiate), the configured fallback.
fn data_cipher(pushed: &PushedConfig, settings: &Settings) -> Result<DataCipher, String> {
    let Some(pushed) = pushed.cipher.as_ref() else {
        return settings.fallback_cipher.ok_or_else(|| {
            "the server pushed no data cipher (it does not negotiate ciphers); set `cipher` in \
             [openvpn] to the server's cipher (its `cipher` or `data-ciphers-fallback`)"
                .to_owned()
        });
    };
    DataCipher::from_name(pushed.name())
        .filter(|c| settings.ciphers.contains(c))
        .ok_or_else(|| {
            format!("the server chose data cipher {pushed} which tapclient did not offer")
        })
}
