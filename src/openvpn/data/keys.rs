//! Key slots (§6.5, §10): the current key generation and the lame duck (the previous one).
//!
//! Each generation is named by its key_id (0 for the first session, then 1..7 wrapping to 1).
//! Packets are sent with the current key only; received packets are opened with whichever of
//! the two slots carries their key_id, the lame duck only until it expires. A generation is
//! split into a send half and a receive half (own packet-id counter / own replay window), as
//! boringtun splits its session, so the two directions stay independent.

use std::time::Instant;

use super::cipher::{DataCipher, KeyMaterial, PacketKey};
use super::error::DataError;
use super::header::MAX_KEY_ID;
use super::replay::{PacketIdCounter, ReplayWindow};
use crate::openvpn::wrap::AuthDigest;

/// The send half of one key generation.
#[derive(Debug)]
pub struct SendKey {
    /// The generation's key_id (written into every header).
    pub key_id: u8,
    /// Client → server protection.
    pub key: PacketKey,
    /// The next packet-id.
    pub packet_ids: PacketIdCounter,
}

/// The receive half of one key generation.
#[derive(Debug)]
pub struct RecvKey {
    /// Server → client protection.
    pub key: PacketKey,
    /// Which packet-ids were already received.
    pub replay: ReplayWindow,
}

#[derive(Debug)]
struct Generation {
    key_id: u8,
    cipher: DataCipher,
    send: SendKey,
    recv: RecvKey,
}

/// The current key and the lame duck.
#[derive(Debug, Default)]
pub struct KeySlots {
    current: Option<Generation>,
    lame_duck: Option<(Generation, Instant)>,
}

impl KeySlots {
    /// Installs a new generation as the current key. A different previous current key becomes
    /// the lame duck, usable for receiving until `lame_duck_until` (an older lame duck goes);
    /// re-installing the current key_id replaces that key and keeps the lame duck. `auth` is
    /// the HMAC digest of a CBC cipher.
    pub fn install(
        &mut self,
        key_id: u8,
        cipher: DataCipher,
        auth: AuthDigest,
        keys: &KeyMaterial<'_>,
        lame_duck_until: Instant,
    ) -> Result<(), DataError> {
        if key_id > MAX_KEY_ID {
            return Err(DataError::InvalidKeyId(key_id));
        }
        let generation = Generation {
            key_id,
            cipher,
            send: SendKey {
                key_id,
                key: PacketKey::new(cipher, auth, &keys.encrypt),
                packet_ids: PacketIdCounter::default(),
            },
            recv: RecvKey {
                key: PacketKey::new(cipher, auth, &keys.decrypt),
                replay: ReplayWindow::default(),
            },
        };
        if let Some(previous) = self.current.replace(generation) {
            if previous.key_id != key_id {
                self.lame_duck = Some((previous, lame_duck_until));
            }
        }
        if self
            .lame_duck
            .as_ref()
            .is_some_and(|(old, _)| old.key_id == key_id)
        {
            self.lame_duck = None;
        }
        Ok(())
    }

    /// Drops the lame duck once `now` reached its expiry.
    pub fn expire(&mut self, now: Instant) {
        if self
            .lame_duck
            .as_ref()
            .is_some_and(|(_, until)| now >= *until)
        {
            self.lame_duck = None;
        }
    }

    /// When the lame duck expires, if there is one.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.lame_duck.as_ref().map(|(_, until)| *until)
    }

    /// The current key's key_id and cipher.
    pub fn current(&self) -> Option<(u8, DataCipher)> {
        self.current.as_ref().map(|g| (g.key_id, g.cipher))
    }

    /// The lame duck's key_id.
    pub fn lame_duck_key_id(&self) -> Option<u8> {
        self.lame_duck.as_ref().map(|(g, _)| g.key_id)
    }

    /// The send half of the current key.
    pub fn sender(&mut self) -> Option<&mut SendKey> {
        self.current.as_mut().map(|g| &mut g.send)
    }

    /// The send half of the current key, read-only.
    pub fn sender_ref(&self) -> Option<&SendKey> {
        self.current.as_ref().map(|g| &g.send)
    }

    /// The receive half for `key_id`, from the current key or the unexpired lame duck.
    pub fn receiver(&mut self, key_id: u8, now: Instant) -> Option<&mut RecvKey> {
        self.expire(now);
        if let Some(current) = self.current.as_mut().filter(|g| g.key_id == key_id) {
            return Some(&mut current.recv);
        }
        self.lame_duck
            .as_mut()
            .filter(|(g, _)| g.key_id == key_id)
            .map(|(g, _)| &mut g.recv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{at, t0};

    fn keys(block: &[u8; 256]) -> KeyMaterial<'_> {
        KeyMaterial::from_key_block(block)
    }

    #[test]
    fn install_moves_the_current_key_to_the_lame_duck() {
        let base = t0();
        let block = [7u8; 256];
        let mut slots = KeySlots::default();
        assert!(slots.sender().is_none());
        assert!(slots.receiver(0, base).is_none());
        slots
            .install(
                0,
                DataCipher::Aes128Gcm,
                AuthDigest::Sha1,
                &keys(&block),
                at(base, 1),
            )
            .unwrap();
        assert_eq!(slots.current(), Some((0, DataCipher::Aes128Gcm)));
        assert_eq!(slots.next_expiry(), None);
        slots
            .install(
                1,
                DataCipher::Aes128Gcm,
                AuthDigest::Sha1,
                &keys(&block),
                at(base, 1_000),
            )
            .unwrap();
        assert_eq!(slots.sender().map(|s| s.key_id), Some(1));
        assert_eq!(slots.lame_duck_key_id(), Some(0));
        assert_eq!(slots.next_expiry(), Some(at(base, 1_000)));
        assert!(slots.receiver(0, at(base, 999)).is_some());
        assert!(slots.receiver(1, at(base, 999)).is_some());
        assert!(slots.receiver(2, at(base, 999)).is_none());
        assert!(slots.receiver(0, at(base, 1_000)).is_none());
        assert_eq!(slots.lame_duck_key_id(), None);
        assert!(slots.receiver(1, at(base, 5_000)).is_some());
    }

    #[test]
    fn reinstalling_the_current_key_id_keeps_the_lame_duck() {
        let base = t0();
        let block = [1u8; 256];
        let mut slots = KeySlots::default();
        for key_id in [0, 1, 1] {
            slots
                .install(
                    key_id,
                    DataCipher::Aes256Gcm,
                    AuthDigest::Sha1,
                    &keys(&block),
                    at(base, 10),
                )
                .unwrap();
        }
        assert_eq!(slots.current(), Some((1, DataCipher::Aes256Gcm)));
        assert_eq!(slots.lame_duck_key_id(), Some(0));
        slots.expire(at(base, 9));
        assert_eq!(slots.lame_duck_key_id(), Some(0));
        slots.expire(at(base, 10));
        assert_eq!(slots.lame_duck_key_id(), None);
        assert_eq!(
            slots.install(
                8,
                DataCipher::Aes256Gcm,
                AuthDigest::Sha1,
                &keys(&block),
                base
            ),
            Err(DataError::InvalidKeyId(8))
        );
    }
}
