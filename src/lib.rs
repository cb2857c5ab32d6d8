//! tapclient: a user-space Ethernet host in front of a TUN device, for TAP-mode VPN servers
//! (OpenVPN 2.x over TCP, and simpletun-style length-prefixed frame streams).
//!
//! ```text
//!  apps ──IP──▶ TUN (tun)                     bare IPv4 packets
//!                │
//!          ether::Bridge (sans-IO)            IP ⇄ Ethernet II, ARP, neighbour cache
//!                │  Ethernet frames
//!          driver::link                       simpletun: record = frame
//!                │                            OpenVPN: openvpn::client::Client (sans-IO)
//!          framing (sans-IO)                  u16 big-endian length + packet
//!                │  records
//!          driver::transport                  TCP (+ TLS around it for simpletun)
//! ```
//!
//! The driver (tokio) is the only code doing I/O; `ether` and `openvpn` are state machines
//! driven with bytes and `now`. Platform decisions are data (`netcfg::plan`), carried out by a
//! small executor with an undo journal. See `docs/architecture.md`.

pub mod app;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod driver;
pub mod ether;
pub mod framing;
#[doc(hidden)]
pub mod fuzzing;
pub mod import;
pub mod netcfg;
pub mod openvpn;
pub mod status;
#[cfg(test)]
pub(crate) mod testutil;
pub mod tls;
pub mod tun;
