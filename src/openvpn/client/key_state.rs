//! One key state (one key_id): its reliability layer, its TLS session driven in memory, and its
//! key-method-2 exchange (§1.6, §2, §3, §10).
//!
//! This is the only place that drives `rustls::ClientConnection`. TLS bytes travel as the
//! payloads of `P_CONTROL_V1` packets, in message-id order; packet boundaries have nothing to do
//! with TLS record boundaries. Our key-method-2 message and each control string go out with a
//! single TLS write each (the server parses one TLS read at a time, §2).

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::ServerName;
use rustls::ClientConnection;

use crate::openvpn::keymethod::{
    ClientKeyMessage, KeyMethodBuildError, KeyMethodError, KeySource, PeerRandoms, ServerKeyMessage,
};
use crate::openvpn::push::ControlStream;
use crate::openvpn::reliable::{Received, Reliable};
use crate::openvpn::wire::{ControlRepr, KeyId, Opcode};

/// Bytes of TLS per `P_CONTROL_V1` payload: well inside the stock `tls-mtu` of 1250 with any
/// wrapping (the probe and the stock peers use 1100–1222, §2).
pub const CONTROL_PAYLOAD: usize = 1100;

/// Where the key exchange of this key state stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Our reset is queued; waiting for the server's reset (hard or soft).
    AwaitReset,
    /// TLS handshake running.
    Handshake,
    /// TLS done, our key-method-2 message sent; waiting for the server's.
    AwaitKeyExchange,
    /// Both key-method-2 messages exchanged: keys can be derived.
    KeysExchanged,
}

/// What went wrong in a key state; all of them end the connection.
#[derive(Debug, thiserror::Error)]
pub enum KeyStateError {
    #[error(transparent)]
    Tls(#[from] rustls::Error),
    #[error("the server's key-method-2 message is malformed: {0}")]
    ServerKeyMessage(#[from] KeyMethodError),
    #[error("cannot build our key-method-2 message: {0}")]
    ClientKeyMessage(#[from] KeyMethodBuildError),
    #[error("TLS: {0}")]
    Io(#[from] std::io::Error),
}

/// The key-method-2 inputs that stay the same for every key state of a connection.
pub struct Handshake<'a> {
    pub options: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub peer_info: &'a str,
}

pub struct KeyState {
    pub key_id: KeyId,
    pub reliable: Reliable,
    pub stage: Stage,
    tls: ClientConnection,
    source: KeySource,
    server_randoms: Option<PeerRandoms>,
    /// Decrypted TLS application data not yet consumed.
    plaintext: Vec<u8>,
    /// TLS output not yet handed to the reliability layer (its window was full).
    tls_out: Vec<u8>,
    pub control: ControlStream,
}

impl KeyState {
    /// A new key state whose first message is our `reset` (hard reset for key_id 0, soft reset
    /// for renegotiations), message id 0.
    pub fn new(
        key_id: KeyId,
        reset: Opcode,
        tls: Arc<rustls::ClientConfig>,
        server_name: ServerName<'static>,
        source: KeySource,
        now: Instant,
    ) -> Result<KeyState, KeyStateError> {
        let mut reliable = Reliable::new();
        reliable
            .send
            .push(now, reset, &[])
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(KeyState {
            key_id,
            reliable,
            stage: Stage::AwaitReset,
            tls: ClientConnection::new(tls, server_name)?,
            source,
            server_randoms: None,
            plaintext: Vec::new(),
            tls_out: Vec::new(),
            control: ControlStream::new(),
        })
    }

    /// Takes an authentic control packet of this key_id: its ACKs, and its message in order.
    /// Returns true when something new was delivered.
    pub fn handle_packet(
        &mut self,
        packet: &ControlRepr<'_>,
        handshake: &Handshake<'_>,
    ) -> Result<bool, KeyStateError> {
        let fresh = matches!(self.reliable.handle(packet), Some(Received::New));
        let mut delivered = false;
        while let Some(message) = self.reliable.pop() {
            delivered = true;
            match message.opcode {
                Opcode::HardResetServerV2 | Opcode::SoftResetV1
                    if self.stage == Stage::AwaitReset =>
                {
                    self.stage = Stage::Handshake;
                }
                Opcode::ControlV1 => {
                    let mut payload = message.payload;
                    while !payload.is_empty() {
                        self.tls.read_tls(&mut payload)?;
                        self.tls.process_new_packets()?;
                    }
                }
                other => tracing::debug!(?other, "ignoring an unexpected control message"),
            }
        }
        if delivered {
            self.progress(handshake)?;
        }
        Ok(fresh || delivered)
    }

    /// Moves the handshake on: reads TLS application data, sends our key-method-2 message once
    /// TLS is up, and parses the server's.
    fn progress(&mut self, handshake: &Handshake<'_>) -> Result<(), KeyStateError> {
        if self.stage == Stage::Handshake && !self.tls.is_handshaking() {
            let message = ClientKeyMessage {
                source: &self.source,
                options: handshake.options,
                username: handshake.username,
                password: handshake.password,
                peer_info: handshake.peer_info,
            }
            .encode()?;
            self.tls.writer().write_all(&message)?;
            self.stage = Stage::AwaitKeyExchange;
        }
        let mut chunk = [0u8; 4096];
        loop {
            match self.tls.reader().read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => self.plaintext.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
        if self.stage == Stage::AwaitKeyExchange {
            if let Some(len) = ServerKeyMessage::wire_len(&self.plaintext) {
                let message = ServerKeyMessage::parse(&self.plaintext[..len])?;
                self.server_randoms = Some(message.randoms);
                self.plaintext.drain(..len);
                self.stage = Stage::KeysExchanged;
            }
        }
        if self.stage == Stage::KeysExchanged && !self.plaintext.is_empty() {
            self.control.handle_plaintext(&self.plaintext);
            self.plaintext.clear();
        }
        Ok(())
    }

    /// Sends one control string (e.g. `PUSH_REQUEST\0`) in one TLS record.
    pub fn send_control(&mut self, message: &[u8]) -> Result<(), KeyStateError> {
        self.tls.writer().write_all(message)?;
        Ok(())
    }

    /// Hands pending TLS output to the reliability layer as `P_CONTROL_V1` messages, as far as
    /// its send window allows. TLS starts only once the server's reset has arrived.
    pub fn flush_tls(&mut self, now: Instant) -> Result<(), KeyStateError> {
        if self.stage == Stage::AwaitReset {
            return Ok(());
        }
        while self.tls.wants_write() {
            self.tls.write_tls(&mut self.tls_out)?;
        }
        let mut sent = 0;
        while sent < self.tls_out.len() && self.reliable.send.room() > 0 {
            let end = (sent + CONTROL_PAYLOAD).min(self.tls_out.len());
            self.reliable
                .send
                .push(now, Opcode::ControlV1, &self.tls_out[sent..end])
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            sent = end;
        }
        self.tls_out.drain(..sent);
        Ok(())
    }

    /// True when all we wrote (TLS output included) has reached the server and been ACKed.
    pub fn all_acknowledged(&self) -> bool {
        self.reliable.send.in_flight() == 0 && self.tls_out.is_empty() && !self.tls.wants_write()
    }

    pub fn tls(&self) -> &ClientConnection {
        &self.tls
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    pub fn server_randoms(&self) -> Option<&PeerRandoms> {
        self.server_randoms.as_ref()
    }
}
