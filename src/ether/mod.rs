//! The Ethernet layer (sans-IO): we are an Ethernet host on the server's LAN, in user space.
//!
//! This module owns everything between bare IP packets (the TUN side) and Ethernet frames (the
//! link side): the wire formats ([`wire`]: Ethernet II per RFC 894, ARP per RFC 826, the IPv4
//! header fields we need), the neighbour cache with expiry and refresh, the bounded queues of
//! packets waiting for ARP resolution, the mapping of IPv4 broadcast and multicast (RFC 1112
//! §6.4) to Ethernet addresses, and the [`Bridge`] engine that ties them together. Addresses and
//! the MAC choice live in `addr`.
//!
//! It must not know about OpenVPN, the link's framing or the operating system, and it does no
//! I/O: no sockets, no files, no threads, no clock reads. Time is passed in by the caller as
//! `now`; everything time-driven happens in [`Bridge::handle_timeout`], whose next deadline is
//! [`Bridge::poll_timeout`].
//!
//! # Calling contract of [`Bridge`]
//! 1. [`Bridge::new`] with the interface configuration; the link starts down.
//! 2. When the link (the authenticated server connection) is up, call [`Bridge::link_up`] and
//!    write what it emits: our gratuitous ARP and, with a gateway, an ARP request for it.
//! 3. Feed every IP packet read from the TUN to [`Bridge::handle_ip_packet`] and every frame
//!    from the link to [`Bridge::handle_frame`]; write the packet the latter returns (if any) to
//!    the TUN. Frames emitted into the [`FrameSink`] go to the link, in emission order.
//! 4. Sleep until [`Bridge::poll_timeout`] (re-read it after every call) and then call
//!    [`Bridge::handle_timeout`]. Calling it early or spuriously is harmless.
//! 5. When the link goes away call [`Bridge::link_down`]; call `link_up` again after reconnect.
//!
//! `now` must never go backwards between calls (use one monotonic clock). Malformed input is
//! dropped and counted in [`Counters`] by [`DropReason`]; no input makes a method panic or fail.
//! After warm-up the data path allocates nothing: frames are written into the sink's buffers and
//! queued packets live in recycled buffers.

mod addr;
mod bridge;
mod counters;
mod neighbor;
mod pending;
pub mod wire;

use std::time::{Duration, Instant};

pub use addr::{AddrParseError, Ipv4Cidr, MacAddr};
pub use bridge::{Bridge, BridgeConfig, FrameSink, DEFEND_INTERVAL, MAX_FRAME_LEN};
pub use counters::{Counters, DropReason};
pub use neighbor::{
    ARP_RETRY_INTERVAL, NEIGHBOR_CACHE_CAPACITY, NEIGHBOR_LIFETIME, NEIGHBOR_REFRESH_WINDOW,
    UNICAST_REFRESH_TRIES,
};
pub use pending::{
    ARP_MAX_TRIES, MAX_PENDING_NEXT_HOPS, MAX_REUSED_BUFFER, PENDING_PACKETS_PER_NEXT_HOP,
};

/// `now + d`, or `now` in the (practically impossible) case that the sum overflows `Instant`.
pub(crate) fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d).unwrap_or(now)
}
