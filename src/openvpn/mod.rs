//! The OpenVPN 2.x client protocol over TCP (sans-IO).
//!
//! No I/O, no clock reads, no threads: bytes and `now` in; bytes, events and deadlines out.
//! Facts and test vectors: `shared/openvpn-protocol.md` (section numbers cited as §n).

pub mod client;
pub mod data;
pub mod kdf;
pub mod keymethod;
pub mod occ;
pub mod push;
pub mod reliable;
pub mod wire;
pub mod wrap;
