//! Renegotiation (§10): a new key state for the next key_id while data keeps flowing on the
//! current key, which stays as the lame duck once the new one is installed.
//!
//! Either side starts one. The server does with its `SOFT_RESET_V1`; we do when the current key
//! is `reneg-sec` old ([`Settings::reneg_interval`](super::Settings)) or its packet-ids near the
//! end of their space ([`DataChannel::wants_rekey`]). Both only from a fully established key
//! (stock `tls_pre_decrypt` honours a peer's soft reset only then, too). Crossed soft resets need
//! no special case: both sides pick `key_id.next()` of the same key, so each side's reset (message
//! id 0 of the new key) is the answer the other one waits for. A renegotiation has the
//! hand-window to finish; failing that, the connection restarts.

use std::time::{Duration, Instant};

use super::key_state::{KeyState, Stage};
use super::{Client, Event};
use crate::openvpn::data::DataChannel;
use crate::openvpn::keymethod::KeySource;
use crate::openvpn::wire::{KeyId, Opcode};

/// Who started a renegotiation (for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Initiator {
    Server,
    /// `reneg-sec` reached.
    KeyAge,
    /// The data packet-ids near their end (`0xFF000000`).
    PacketIds,
}

impl Client {
    /// True when the key state in progress is the one the data channel uses: nothing is being
    /// negotiated.
    pub(super) fn key_ready(&self) -> bool {
        self.key.stage == Stage::KeysExchanged
            && self
                .data
                .as_ref()
                .and_then(DataChannel::current_key)
                .is_some_and(|(id, _)| id == self.key.key_id.value())
    }

    /// True while a renegotiation runs (the data channel still uses the previous key).
    pub fn renegotiating(&self) -> bool {
        self.data.is_some() && !self.key_ready() && !self.done
    }

    /// When we start the next renegotiation ourselves, if we will: the current key's install
    /// time plus `reneg_interval`, or its install time (i.e. now) once the packet-ids near
    /// their end. `None` while one runs, before the tunnel is up, and with no interval.
    pub fn renegotiation_due(&self) -> Option<Instant> {
        if self.done || !self.key_ready() {
            return None;
        }
        let installed = self.key_installed_at?;
        if self.data.as_ref().is_some_and(DataChannel::wants_rekey) {
            return Some(installed);
        }
        installed.checked_add(self.settings.reneg_interval?)
    }

    /// How long the data channel's current key has been in use.
    pub fn key_age(&self, now: Instant) -> Option<Duration> {
        Some(now.saturating_duration_since(self.key_installed_at?))
    }

    /// Renegotiations completed on this connection (either side started them).
    pub fn renegotiations(&self) -> u64 {
        self.renegotiations
    }

    /// Starts our own renegotiation if it is due at `now`.
    pub(super) fn renegotiate_if_due(&mut self, now: Instant) {
        if !self.renegotiation_due().is_some_and(|due| now >= due) {
            return;
        }
        let why = if self.data.as_ref().is_some_and(DataChannel::wants_rekey) {
            Initiator::PacketIds
        } else {
            Initiator::KeyAge
        };
        self.start_renegotiation(now, self.key.key_id.next(), why);
    }

    /// Replaces the key state with a new one for `key_id` whose first message is our
    /// `SOFT_RESET_V1` (message id 0), and gives it the hand-window.
    pub(super) fn start_renegotiation(&mut self, now: Instant, key_id: KeyId, why: Initiator) {
        let age = self.key_age(now).map_or(0, |age| age.as_secs());
        match why {
            Initiator::Server => {
                tracing::info!(
                    key_id = key_id.value(),
                    "the server started a renegotiation"
                )
            }
            Initiator::KeyAge => tracing::info!(
                key_id = key_id.value(),
                "renegotiating: the data key is {age} s old (reneg-sec)"
            ),
            Initiator::PacketIds => tracing::info!(
                key_id = key_id.value(),
                "renegotiating: the data key's packet-ids are nearly used up"
            ),
        }
        let source = match KeySource::generate(&self.rng) {
            Ok(source) => source,
            Err(e) => return self.restart(&format!("cannot renegotiate: {e}")),
        };
        match KeyState::new(
            key_id,
            Opcode::SoftResetV1,
            self.settings.tls.clone(),
            self.settings.server_name.clone(),
            source,
            now,
        ) {
            Ok(state) => {
                self.key = state;
                self.handshake_deadline = now.checked_add(self.settings.hand_window);
            }
            Err(e) => self.fail_key_state(e),
        }
    }

    /// Both key-method-2 messages are through. The first key waits for the push (it names the
    /// cipher and the derivation); a renegotiated key is installed at once.
    pub(super) fn on_keys_exchanged(&mut self, now: Instant) {
        if self.data.is_none() {
            self.request_push(now);
            return;
        }
        let key_id = self.key.key_id.value();
        match self.install_keys(now) {
            Ok(()) => {
                self.handshake_deadline = None;
                self.key_installed_at = Some(now);
                self.renegotiations += 1;
                tracing::info!(key_id, "renegotiation complete");
                self.events.push_back(Event::Rekeyed { key_id });
            }
            Err(reason) => self.restart(&reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::{Settings, WrapKeys};
    use super::*;
    use crate::openvpn::data::{DataCipher, DataConfig, KeyMaterial, REKEY_TRIGGER};
    use crate::testutil::{at, t0};

    /// A client whose first key is installed by hand (no server needed), at `now`.
    fn established(reneg_interval: Option<Duration>, now: Instant) -> Client {
        let tls = crate::testutil::tls_client_without_roots();
        let settings = Settings {
            tls,
            server_name: crate::tls::server_name("192.0.2.1"),
            wrap_keys: WrapKeys::None,
            options: "V4".into(),
            peer_info: "IV_PROTO=142\n".into(),
            ciphers: vec![DataCipher::Aes256Gcm],
            fallback_cipher: None,
            data_auth: crate::openvpn::wrap::AuthDigest::Sha1,
            hand_window: Duration::from_secs(60),
            user_pass: None,
            reneg_interval,
            ping: None,
            ping_restart: None,
            compression: None,
        };
        let mut client = Client::new(Arc::new(settings), now, 1_700_000_000).unwrap();
        let mut data = DataChannel::new(DataConfig::default()).unwrap();
        let block = [7u8; 256];
        let keys = KeyMaterial::from_key_block(&block);
        data.install(0, DataCipher::Aes256Gcm, &keys, now).unwrap();
        client.data = Some(data);
        client.key.stage = Stage::KeysExchanged;
        client.key_installed_at = Some(now);
        client.handshake_deadline = None;
        client
    }

    /// The control packets queued now: (byte0, message id) of each.
    fn sent(client: &mut Client, now: Instant) -> Vec<u8> {
        let mut first_bytes = Vec::new();
        let mut out = Vec::new();
        while client.poll_transmit(now, &mut out) {
            first_bytes.push(out[0]);
            out.clear();
        }
        first_bytes
    }

    #[test]
    fn the_key_age_starts_a_soft_reset_for_the_next_key_id() {
        let base = t0();
        let mut client = established(Some(Duration::from_secs(10)), base);
        assert!(client.key_ready() && !client.renegotiating());
        assert_eq!(client.renegotiation_due(), Some(at(base, 10_000)));
        assert_eq!(
            client.key_age(at(base, 4_000)),
            Some(Duration::from_secs(4))
        );
        client.handle_timeout(at(base, 9_999));
        assert_eq!(client.key.key_id.value(), 0);
        client.handle_timeout(at(base, 10_000));
        assert_eq!(client.key.key_id.value(), 1);
        assert!(client.renegotiating());
        assert_eq!(client.renegotiation_due(), None, "one at a time");
        assert_eq!(client.handshake_deadline, Some(at(base, 70_000)));
        // SOFT_RESET_V1 (opcode 3) for key_id 1, and nothing else.
        assert_eq!(sent(&mut client, at(base, 10_000)), [3 << 3 | 1]);
        assert_eq!(client.current_key(), Some((0, DataCipher::Aes256Gcm)));
        // Unanswered, it restarts at the hand-window.
        client.handle_timeout(at(base, 70_000));
        assert!(matches!(client.poll_event(), Some(Event::Restart(why)) if why.contains("60 s")));
    }

    #[test]
    fn packet_ids_near_their_end_start_a_renegotiation_without_an_interval() {
        let base = t0();
        let mut client = established(None, base);
        assert_eq!(client.renegotiation_due(), None);
        client.handle_timeout(at(base, 1_000_000));
        assert_eq!(
            client.key.key_id.value(),
            0,
            "no reneg-sec, no renegotiation"
        );
        let data = client.data.as_mut().unwrap();
        data.set_next_packet_id(REKEY_TRIGGER);
        let mut out = [0u8; 128];
        let now = at(base, 2_000_000);
        client.encrypt_frame(now, &[0x02; 20], &mut out).unwrap();
        assert!(
            client.poll_timeout().is_some_and(|t| t <= now),
            "due at once"
        );
        client.handle_timeout(now);
        assert_eq!(client.key.key_id.value(), 1);
        assert_eq!(sent(&mut client, now), [3 << 3 | 1]);
    }

    #[test]
    fn key_ids_after_7_wrap_to_1() {
        let base = t0();
        let mut client = established(Some(Duration::from_secs(1)), base);
        client.key.key_id = KeyId::new(7).unwrap();
        client
            .data
            .as_mut()
            .unwrap()
            .install(
                7,
                DataCipher::Aes256Gcm,
                &KeyMaterial::from_key_block(&[9u8; 256]),
                base,
            )
            .unwrap();
        client.handle_timeout(at(base, 1_000));
        assert_eq!(client.key.key_id.value(), 1);
        assert_eq!(sent(&mut client, at(base, 1_000)), [3 << 3 | 1]);
    }
}
