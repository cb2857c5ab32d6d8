//! The OpenVPN data channel (sans-IO): Ethernet frames ⇄ encrypted `P_DATA_V1`/`P_DATA_V2`
//! packets (§6, §8, §9, §10).
//!
//! Owns: the ciphers ([`DataCipher`]): AEAD (`crypto.c` layout, tag before ciphertext) and the
//! legacy AES-CBC + HMAC of servers that negotiate no AEAD (§6.3, digest from
//! [`DataConfig::auth`]), the data headers and peer-id, the send packet-id and the receive
//! replay window (64 packets / 15 s), the key slots (current key + lame duck, selected by
//! key_id), the compression *framing* (never real compression), and telling frames from
//! keepalive pings and OCC messages.
//! Must not: read the clock, do I/O, allocate per packet, derive keys (that is `kdf`), or know
//! about the control channel.
//!
//! # Calling contract of [`DataChannel`]
//! 1. After PUSH_REPLY (cipher, `peer-id`, compression known), the session creates one
//!    [`DataChannel::new`] per connection from a [`DataConfig`].
//! 2. Whenever a key generation is derived (key_id 0, then every renegotiation), it calls
//!    [`DataChannel::install`] with the key_id, cipher and [`KeyMaterial`] (borrowed from the
//!    256-byte key block, e.g. [`KeyMaterial::from_key_block`]) and `now`. Sending switches to the
//!    new key at once; the previous key keeps decrypting for `transition_window` (lame duck).
//! 3. Send (driver): write the payload's packet into the TCP write buffer right after the
//!    2-byte length: `n = encrypt_frame(frame, &mut wbuf[2..])?`, then store `n` as u16 BE in
//!    `wbuf[..2]`. `out` must hold `payload.len() + overhead()` bytes (at most
//!    `payload.len() + MAX_OVERHEAD` = +106, the AES-CBC/HMAC-SHA512 worst case; AEAD adds at
//!    most 26); a ping needs at most `16 + MAX_OVERHEAD`.
//!    Pings and OCC replies go through [`DataChannel::encrypt_ping`] / [`DataChannel::encrypt_occ`]
//!    with the same framing. The only copy is the payload into `out`; encryption is in place.
//! 4. Receive (driver): for every deframed record whose opcode is `P_DATA_*`, call
//!    [`DataChannel::decrypt_in_place`] on the record itself (mutable, without the length
//!    prefix). [`Decrypted::Frame`] goes to the Ethernet layer; [`Decrypted::Ping`] is dropped;
//!    [`Decrypted::Occ`] goes to the session (answer `Request`, restart on `Exit`). Every `Ok`
//!    proves the server alive (reset the ping-restart timer). Errors: see [`ErrorKind`] via
//!    [`DataError::kind`]; all are per packet and never fatal; `NoKey` is expected around key
//!    changes and is dropped quietly.
//! 5. After sending, the session checks [`DataChannel::wants_rekey`] (level-triggered: packet-id
//!    ≥ `0xFF000000`) and starts a renegotiation; at the id space's end `encrypt_*` fails with
//!    [`DataError::PacketIdExhausted`] until a new key is installed.
//! 6. Call [`DataChannel::expire`] at [`DataChannel::next_expiry`] (decrypting also ignores an
//!    expired lame duck on its own, so this only frees the key early).
//!
//! `now` must be monotonic. Key material is held by `ring` (AEAD and HMAC keys), by `aes`
//! (zeroized on drop) and in zeroized implicit IVs; `Debug` output never shows keys. CBC IVs come
//! from the operating system's CSPRNG, one per packet.

mod cbc;
mod channel;
mod cipher;
mod compress;
mod error;
mod header;
mod keys;
mod payload;
mod replay;

pub use channel::{DataChannel, DataConfig, MAX_OVERHEAD, TRANSITION_WINDOW};
pub use cipher::{
    DataCipher, DirectionSecret, KeyMaterial, KEY_HALF_LEN, MAX_CRYPTO_OVERHEAD, PACKET_ID_LEN,
    TAG_LEN,
};
pub use compress::Compression;
pub use error::{CompressionAlgorithm, DataError, ErrorKind};
pub use header::{MAX_KEY_ID, MAX_PEER_ID};
pub use payload::{Decrypted, OccKind, OCC_MAGIC, PING_MAGIC};
pub use replay::{
    ReplayError, ReplayWindow, REKEY_TRIGGER, REPLAY_WINDOW_PACKETS, REPLAY_WINDOW_TIME,
};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cbc;
