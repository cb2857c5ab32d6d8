//! What travels in the records of one connection, and the glue between the bridge and it.
//!
//! - simpletun: each record is one Ethernet frame; the bridge writes frames straight into the
//!   socket's write buffer (no copy beyond the one from the TUN).
//! - OpenVPN: each record is one OpenVPN packet; the [`Client`] engine turns data packets into
//!   frames (decrypted in place in the receive buffer) and frames into data packets (the bridge
//!   writes a frame into a reused scratch buffer, which is encrypted into the write buffer).
//!   Control packets, pings and events come from the engine after every input.
//!
//! The Ethernet layer only exists once the link knows our address: from the config for
//! simpletun, from the server's push for OpenVPN ([`Configure::pushed`]).

use std::net::IpAddr;
use std::time::Instant;

use bytes::{BufMut, BytesMut};

use super::session::{LinkCounters, LinkLoss, SessionEnd};
use crate::ether::{Bridge, BridgeConfig, FrameSink};
use crate::framing::{self, Deframer};
use crate::openvpn::client::{Client, Event, Stage};
use crate::openvpn::push::PushedConfig;
use crate::status::State;
use crate::tun::PacketDevice;

/// Smallest frame we send: an Ethernet header (simpletun cannot take less).
pub const MIN_FRAME: usize = 14;
/// Bytes reserved for OpenVPN's data-channel overhead around a frame (header, packet-id, tag or
/// HMAC + IV + CBC padding, compression framing).
const OPENVPN_OVERHEAD: usize = crate::openvpn::data::MAX_OVERHEAD;

/// Applies a pushed configuration to the system; returns the Ethernet settings to use.
pub trait Configure: Send {
    /// `server` is the address this connection reached (kept out of a redirected default route).
    fn pushed(
        &mut self,
        pushed: &PushedConfig,
        server: Option<IpAddr>,
    ) -> Result<BridgeConfig, String>;
}

/// The protocol of one connection.
pub enum Link {
    Simpletun,
    OpenVpn(Box<Client>),
}

/// One connection's link with what it drives.
pub struct Endpoint<'a> {
    pub link: Link,
    pub bridge: &'a mut Option<Bridge>,
    pub configure: &'a mut dyn Configure,
    pub io: LinkIo<'a>,
    /// The server's address on this connection.
    pub server: Option<IpAddr>,
    /// Whether the user was told that the server sends something we cannot read.
    pub warned_incompatible: bool,
    /// Where state changes and counters are published.
    pub reporter: &'a crate::status::Reporter,
}

/// What every sink writes through: counters, a reused scratch buffer, the record limit.
pub struct LinkIo<'a> {
    pub counters: &'a mut LinkCounters,
    /// Reused: a frame on its way to encryption, a control packet on its way out.
    pub scratch: &'a mut Vec<u8>,
    pub max_record: usize,
}

impl LinkIo<'_> {
    /// Every control packet the OpenVPN engine has queued, as records in `out`.
    fn flush_control(&mut self, client: &mut Client, now: Instant, out: &mut BytesMut) {
        loop {
            self.scratch.clear();
            if !client.poll_transmit(now, self.scratch) {
                break;
            }
            let packet = &self.scratch[..];
            if write_record(out, packet.len(), self.max_record, |buf| {
                buf.copy_from_slice(packet);
                Some(packet.len())
            }) {
                self.counters.records_out += 1;
            }
        }
    }

    fn record_sink<'s>(&'s mut self, out: &'s mut BytesMut) -> RecordSink<'s> {
        RecordSink {
            out,
            scratch: self.scratch,
            max_record: self.max_record,
            counters: self.counters,
        }
    }

    fn openvpn_sink<'s>(
        &'s mut self,
        client: &'s mut Client,
        now: Instant,
        out: &'s mut BytesMut,
    ) -> OpenVpnSink<'s> {
        OpenVpnSink {
            client,
            now,
            out,
            scratch: self.scratch,
            pending: false,
            max_record: self.max_record,
            counters: self.counters,
        }
    }
}

/// The bridge's output for a simpletun link: frames become records in the write buffer.
struct RecordSink<'a> {
    out: &'a mut BytesMut,
    scratch: &'a mut Vec<u8>,
    max_record: usize,
    counters: &'a mut LinkCounters,
}

impl FrameSink for RecordSink<'_> {
    fn frame_buf(&mut self, len: usize) -> &mut [u8] {
        let before = self.out.len();
        if framing::reserve_record(self.out, len, MIN_FRAME, self.max_record).is_ok() {
            self.counters.records_out += 1;
            return &mut self.out[before + framing::HEADER_LEN..];
        }
        // Never put a record on the wire that the peer cannot take; the frame goes nowhere.
        self.counters.frames_refused += 1;
        self.scratch.clear();
        self.scratch.resize(len, 0);
        &mut self.scratch[..]
    }
}

/// The bridge's output for an OpenVPN link: each frame is built in `scratch`, then encrypted
/// into a record when the next one starts or at [`OpenVpnSink::finish`].
struct OpenVpnSink<'a> {
    client: &'a mut Client,
    now: Instant,
    out: &'a mut BytesMut,
    scratch: &'a mut Vec<u8>,
    pending: bool,
    max_record: usize,
    counters: &'a mut LinkCounters,
}

impl FrameSink for OpenVpnSink<'_> {
    fn frame_buf(&mut self, len: usize) -> &mut [u8] {
        self.seal_pending();
        self.scratch.clear();
        self.scratch.resize(len, 0);
        self.pending = true;
        &mut self.scratch[..]
    }
}

impl OpenVpnSink<'_> {
    fn seal_pending(&mut self) {
        if !std::mem::take(&mut self.pending) {
            return;
        }
        let (client, now) = (&mut *self.client, self.now);
        let frame = &self.scratch[..];
        let room = frame.len() + OPENVPN_OVERHEAD;
        if write_record(self.out, room, self.max_record, |buf| {
            client.encrypt_frame(now, frame, buf).ok()
        }) {
            self.counters.records_out += 1;
        } else {
            self.counters.frames_refused += 1;
        }
    }

    fn finish(mut self) {
        self.seal_pending();
    }
}

/// Appends a record whose payload `fill` writes into a buffer of `room` bytes, returning the
/// length it used; nothing is appended when it returns `None` or the length breaks the limits.
fn write_record(
    out: &mut BytesMut,
    room: usize,
    max_record: usize,
    fill: impl FnOnce(&mut [u8]) -> Option<usize>,
) -> bool {
    let start = out.len();
    out.put_u16(0);
    out.resize(start + framing::HEADER_LEN + room, 0);
    match fill(&mut out[start + framing::HEADER_LEN..]) {
        Some(n) if n > 0 && n <= max_record.min(room) => {
            out.truncate(start + framing::HEADER_LEN + n);
            out[start..start + framing::HEADER_LEN].copy_from_slice(&(n as u16).to_be_bytes());
            true
        }
        _ => {
            out.truncate(start);
            false
        }
    }
}

/// Logs a dropped server packet: a feature we lack once as a warning (every such packet is
/// lost, so the user must hear of it), the rest at debug level (they are counted).
fn report_dropped(e: &crate::openvpn::client::PacketError, warned: &mut bool) {
    use crate::openvpn::client::PacketError;
    use crate::openvpn::data::ErrorKind;
    match e {
        PacketError::Data(data) if data.kind() == ErrorKind::Incompatible => {
            if !std::mem::replace(warned, true) {
                tracing::warn!("dropping packets from the server: {data}");
            }
        }
        // Per packet, and counted: trace only.
        _ => tracing::trace!("dropped a packet from the server: {e}"),
    }
}

impl Endpoint<'_> {
    /// Runs `f` with the bridge and the sink that carries its frames over this link; `None`
    /// when there is no bridge yet (OpenVPN before the push).
    fn with_sink<R>(
        &mut self,
        now: Instant,
        out: &mut BytesMut,
        f: impl FnOnce(&mut Bridge, &mut dyn FrameSink) -> R,
    ) -> Option<R> {
        let bridge = self.bridge.as_mut()?;
        Some(match &mut self.link {
            Link::Simpletun => f(bridge, &mut self.io.record_sink(out)),
            Link::OpenVpn(client) => {
                let mut sink = self.io.openvpn_sink(client, now, out);
                let result = f(bridge, &mut sink);
                sink.finish();
                result
            }
        })
    }

    /// The connection is up: simpletun's link is usable at once; OpenVPN sends its reset.
    pub fn start(&mut self, now: Instant, out: &mut BytesMut) -> Result<(), SessionEnd> {
        match self.link {
            Link::Simpletun => {
                self.io.counters.established += 1;
                self.io.counters.last_up = Some(now);
                self.with_sink(now, out, |bridge, sink| bridge.link_up(now, sink));
                self.reporter.up(None);
                Ok(())
            }
            Link::OpenVpn(_) => self.after_openvpn_input(now, out),
        }
    }

    /// Every complete record in `rbuf` through the link and the bridge, packets to the TUN;
    /// the consumed bytes are dropped from `rbuf`.
    pub fn handle_records<T: PacketDevice>(
        &mut self,
        now: Instant,
        rbuf: &mut BytesMut,
        tun: &mut T,
        out: &mut BytesMut,
    ) -> Result<(), SessionEnd> {
        let mut consumed = 0;
        let result = loop {
            let range = match Deframer::new(&rbuf[consumed..], self.io.max_record).next_record() {
                Ok(Some(record)) => {
                    let start = consumed + framing::HEADER_LEN;
                    consumed = start + record.len();
                    start..consumed
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(SessionEnd::Lost(LinkLoss::Framing(e))),
            };
            self.io.counters.records_in += 1;
            self.handle_record(now, &mut rbuf[range], tun, out);
        };
        bytes::Buf::advance(rbuf, consumed);
        result?;
        match self.link {
            Link::Simpletun => Ok(()),
            Link::OpenVpn(_) => self.after_openvpn_input(now, out),
        }
    }

    fn handle_record<T: PacketDevice>(
        &mut self,
        now: Instant,
        record: &mut [u8],
        tun: &mut T,
        out: &mut BytesMut,
    ) {
        let frame = match &mut self.link {
            Link::Simpletun => Some(&*record),
            Link::OpenVpn(client) => match client.handle_packet(now, record) {
                Ok(frame) => frame,
                Err(e) => {
                    self.io.counters.packets_rejected += 1;
                    report_dropped(&e, &mut self.warned_incompatible);
                    return;
                }
            },
        };
        let Some(frame) = frame else { return };
        let packet = self.with_sink(now, out, |bridge, sink| {
            bridge.handle_frame(now, frame, sink)
        });
        if let Some(packet) = packet.flatten() {
            if tun.send(packet).is_err() {
                self.io.counters.tun_write_errors += 1;
            }
        }
    }

    /// One packet from the TUN into the link (dropped and counted until the link is up).
    pub fn handle_ip_packet(&mut self, now: Instant, packet: &[u8], out: &mut BytesMut) {
        let ready = match &self.link {
            Link::Simpletun => true,
            Link::OpenVpn(client) => client.is_established(),
        };
        let sent = ready
            && self
                .with_sink(now, out, |bridge, sink| {
                    bridge.handle_ip_packet(now, packet, sink)
                })
                .is_some();
        if !sent {
            self.io.counters.dropped_link_down += 1;
        }
    }

    /// A loss as the user should hear of it: an OpenVPN connection that ends before the tunnel
    /// was established is a failed handshake, with the engine's guess at why.
    pub fn explain_loss(&self, loss: LinkLoss) -> LinkLoss {
        match &self.link {
            Link::OpenVpn(client) => match client.handshake_failure() {
                Some(why) => LinkLoss::Handshake(format!("{loss}; {why}")),
                None => loss,
            },
            Link::Simpletun => loss,
        }
    }

    /// Publishes the counters (see [`crate::status::Throttle`] for how often).
    pub fn publish_status(&self) {
        self.reporter
            .publish(self.io.counters, self.bridge.as_ref());
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let bridge = self.bridge.as_ref().and_then(Bridge::poll_timeout);
        let link = match &self.link {
            Link::Simpletun => None,
            Link::OpenVpn(client) => client.poll_timeout(),
        };
        bridge.into_iter().chain(link).min()
    }

    pub fn handle_timeout(&mut self, now: Instant, out: &mut BytesMut) -> Result<(), SessionEnd> {
        if let Link::OpenVpn(client) = &mut self.link {
            client.handle_timeout(now);
        }
        self.with_sink(now, out, |bridge, sink| bridge.handle_timeout(now, sink));
        match self.link {
            Link::Simpletun => Ok(()),
            Link::OpenVpn(_) => self.after_openvpn_input(now, out),
        }
    }

    /// Queues a goodbye for the server where the protocol has one: OpenVPN's `EXIT` when the
    /// server negotiated `cc-exit` (§7.3). True when it is in `out` and its acknowledgement is
    /// worth waiting for ([`Endpoint::exit_acknowledged`]); false: just close.
    pub fn queue_exit(&mut self, now: Instant, out: &mut BytesMut) -> bool {
        let Link::OpenVpn(client) = &mut self.link else {
            return false;
        };
        if !client.queue_exit() {
            return false;
        }
        self.io.flush_control(client, now, out);
        true
    }

    /// True once the server acknowledged the goodbye of [`Endpoint::queue_exit`].
    pub fn exit_acknowledged(&self) -> bool {
        match &self.link {
            Link::OpenVpn(client) => client.exit_acknowledged(),
            Link::Simpletun => false,
        }
    }

    /// Sends what the OpenVPN engine has queued (control packets, a keepalive ping) and acts on
    /// its events.
    fn after_openvpn_input(&mut self, now: Instant, out: &mut BytesMut) -> Result<(), SessionEnd> {
        let Link::OpenVpn(client) = &mut self.link else {
            return Ok(());
        };
        let io = &mut self.io;
        io.flush_control(client, now, out);
        let room = crate::openvpn::data::PING_MAGIC.len() + OPENVPN_OVERHEAD;
        if write_record(out, room, io.max_record, |buf| client.poll_ping(now, buf)) {
            io.counters.records_out += 1;
        }
        if !client.is_established() {
            self.reporter.handshake(match client.handshake_stage() {
                Stage::AwaitReset | Stage::Handshake => State::Tls,
                Stage::AwaitKeyExchange | Stage::KeysExchanged => State::Authenticating,
            });
        }
        while let Some(event) = self.next_event() {
            self.handle_event(event, now, out)?;
        }
        Ok(())
    }

    fn current_key(&self) -> Option<(u8, crate::openvpn::data::DataCipher)> {
        match &self.link {
            Link::OpenVpn(client) => client.current_key(),
            Link::Simpletun => None,
        }
    }

    fn next_event(&mut self) -> Option<Event> {
        match &mut self.link {
            Link::OpenVpn(client) => client.poll_event(),
            Link::Simpletun => None,
        }
    }

    fn handle_event(
        &mut self,
        event: Event,
        now: Instant,
        out: &mut BytesMut,
    ) -> Result<(), SessionEnd> {
        match event {
            Event::Established(pushed) => {
                self.io.counters.established += 1;
                self.io.counters.last_up = Some(now);
                let config = self
                    .configure
                    .pushed(&pushed, self.server)
                    .map_err(SessionEnd::System)?;
                if self.bridge.as_ref().map(Bridge::config) != Some(&config) {
                    *self.bridge = Some(Bridge::new(config));
                }
                self.with_sink(now, out, |bridge, sink| bridge.link_up(now, sink));
                self.reporter
                    .up(self.current_key().map(|(id, c)| (id, c.name())));
                Ok(())
            }
            Event::Rekeyed { key_id } => {
                let cipher = self.current_key().map_or("?", |(_, c)| c.name());
                // The engine logs the renegotiation at info already.
                tracing::debug!(key_id, cipher, "data channel rekeyed");
                self.reporter.rekeyed(key_id, cipher);
                Ok(())
            }
            Event::Restart(reason) => Err(SessionEnd::Lost(LinkLoss::Server(reason))),
            Event::NextServer(reason) => Err(SessionEnd::Lost(LinkLoss::NextServer(reason))),
            Event::Fatal {
                authentication,
                reason,
                tls,
            } => Err(SessionEnd::Fatal {
                authentication,
                reason,
                tls,
            }),
        }
    }
}
