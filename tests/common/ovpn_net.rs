//! The two-endpoint harness for OpenVPN engine tests, after quinn-proto's `tests/util.rs`: the
//! real [`Client`] engine and the scripted [`Server`], a "network" between them that delivers
//! packets in order unless a test injects faults (drop, duplicate, swap adjacent, delay — by the
//! index of the control packet in one direction, or from a seeded generator), and a simulated
//! clock that jumps to the next deadline of either side. Nothing here reads the real clock.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tapclient::config::PasswordSource;
use tapclient::openvpn::client::{Client, Event, PacketError, Settings};
use tapclient::openvpn::data::{DataCipher, MAX_OVERHEAD};
use tapclient::openvpn::occ::{KeyDirection, OccOptions, PeerInfo, Platform};
use tapclient::openvpn::wire::{ControlRepr, Opcode};
use tapclient::openvpn::wrap::{AuthDigest, Wrapper};

use super::ovpn_server::{PushMode, Server, ServerConfig, ServerStage, ServerWrap};

/// The client's wall clock for the replay time field.
pub const UNIX_NOW: u32 = 1_700_000_100;
pub const HAND_WINDOW: Duration = Duration::from_secs(60);
pub const SECOND: Duration = Duration::from_secs(1);

/// TLS material shared by all tests of a binary (the PKI is generated once).
pub struct Fixture {
    pub client_tls: Arc<rustls::ClientConfig>,
    pub server_tls13: Arc<rustls::ServerConfig>,
    pub server_tls12: Arc<rustls::ServerConfig>,
    /// A server that trusts only another CA: it refuses our client certificate.
    pub server_other_ca: Arc<rustls::ServerConfig>,
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let pki = tapclient_certs::generate(dir.path(), &tapclient_certs::Options::default())
            .expect("test PKI");
        let ca = tapclient::credentials::load_ca(&pki.ca_crt).unwrap();
        let password = PasswordSource::File(pki.client_pass.clone());
        let identity = tapclient::credentials::load_pkcs12(&pki.client_p12, &password).unwrap();
        let server =
            |version, ca: &[u8]| super::tls_server::requiring_client_cert(&pki, ca, Some(version));
        Fixture {
            client_tls: tapclient::tls::client_config(&ca, identity, None).unwrap(),
            server_tls13: server(&rustls::version::TLS13, &pki.ca_der),
            server_tls12: server(&rustls::version::TLS12, &pki.ca_der),
            server_other_ca: server(&rustls::version::TLS13, &pki.other_ca_der),
        }
    })
}

/// A server config with the TLS 1.3 server and the stock EKM push.
pub fn server_config() -> ServerConfig {
    ServerConfig::new(fixture().server_tls13.clone())
}

/// The client settings `tapclient` would build for this wrapping (stock options and peer-info).
pub fn client_settings(wrap: &ServerWrap) -> Arc<Settings> {
    Arc::new(settings(wrap))
}

/// [`client_settings`] before it is shared, for a test to adjust (credentials, reneg-sec, …).
pub fn settings(wrap: &ServerWrap) -> Settings {
    let options = OccOptions {
        tls_auth: matches!(wrap, ServerWrap::TlsAuth(..)).then_some(KeyDirection::One),
        ..OccOptions::default()
    };
    Settings {
        tls: fixture().client_tls.clone(),
        server_name: tapclient::tls::server_name("192.0.2.1"),
        wrap_keys: wrap.client_keys(),
        options: options.to_options_string(),
        peer_info: PeerInfo::new(Platform::current()).encode().unwrap(),
        ciphers: DataCipher::ALL.to_vec(),
        fallback_cipher: None,
        data_auth: AuthDigest::Sha1,
        hand_window: HAND_WINDOW,
        user_pass: None,
        reneg_interval: None,
        ping: None,
        ping_restart: None,
        compression: None,
    }
}

/// What the network does to one control packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Drop,
    Duplicate,
    /// Deliver it after the next packet in the same direction.
    SwapWithNext,
    Delay(Duration),
}

/// Faults for one direction, applied to control packets only (data packets pass untouched).
#[derive(Debug, Default, Clone)]
pub struct Faults {
    /// By 0-based index of the control packet in this direction.
    at: HashMap<usize, Fault>,
    /// Drop every control packet from this index on.
    blackhole_from: Option<usize>,
    /// Seeded random faults: (state, drop %, duplicate %, swap %).
    random: Option<(u64, u32, u32, u32)>,
    random_until: Option<usize>,
    seen: usize,
}

impl Faults {
    pub fn none() -> Faults {
        Faults::default()
    }

    pub fn at(mut self, index: usize, fault: Fault) -> Faults {
        self.at.insert(index, fault);
        self
    }

    pub fn blackhole_from(mut self, index: usize) -> Faults {
        self.blackhole_from = Some(index);
        self
    }

    /// Each control packet is dropped, duplicated or swapped with the given percentages, from a
    /// xorshift generator seeded with `seed` (deterministic).
    pub fn random(mut self, seed: u64, drop: u32, duplicate: u32, swap: u32) -> Faults {
        self.random = Some((seed.max(1), drop, duplicate, swap));
        self
    }

    /// Random faults stop after this many control packets (the network heals), so that whether
    /// a handshake fits the hand-window does not hinge on unrelated timer constants.
    pub fn random_until(mut self, index: usize) -> Faults {
        self.random_until = Some(index);
        self
    }

    fn next(&mut self) -> Option<Fault> {
        let index = self.seen;
        self.seen += 1;
        if self.blackhole_from.is_some_and(|from| index >= from) {
            return Some(Fault::Drop);
        }
        if let Some(fault) = self.at.get(&index) {
            return Some(*fault);
        }
        if self.random_until.is_some_and(|until| index >= until) {
            return None;
        }
        let (state, drop, duplicate, swap) = self.random.as_mut()?;
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        let roll = (*state % 100) as u32;
        if roll < *drop {
            Some(Fault::Drop)
        } else if roll < *drop + *duplicate {
            Some(Fault::Duplicate)
        } else if roll < *drop + *duplicate + *swap {
            Some(Fault::SwapWithNext)
        } else {
            None
        }
    }
}

/// One packet put on the wire (before faults), as an observer decoded it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: Duration,
    pub raw: Vec<u8>,
    pub opcode: Opcode,
    pub key_id: u8,
    /// For control packets (unwrapped by a tap with the receiver's keys).
    pub message_id: Option<u32>,
    pub acks: Vec<u32>,
    pub fault: Option<Fault>,
}

/// One direction of the network.
pub struct Link {
    pub faults: Faults,
    /// One-way delay of every packet (zero: delivered in the same round).
    pub latency: Duration,
    /// Everything sent in this direction, in order.
    pub log: Vec<Sent>,
    tap: Wrapper,
    /// (delivery time, sequence, packet), delivered in that order.
    queue: Vec<(Instant, u64, Vec<u8>)>,
    held: Option<Vec<u8>>,
    seq: u64,
}

impl Link {
    fn new(tap: Wrapper) -> Link {
        Link {
            faults: Faults::none(),
            latency: Duration::ZERO,
            log: Vec::new(),
            tap,
            queue: Vec::new(),
            held: None,
            seq: 0,
        }
    }

    fn enqueue(&mut self, at: Instant, packet: Vec<u8>) {
        self.seq += 1;
        self.queue.push((at + self.latency, self.seq, packet));
    }

    fn send(&mut self, now: Instant, epoch: Instant, packet: Vec<u8>) {
        let opcode = Opcode::from_byte0(packet[0]);
        let mut sent = Sent {
            at: now - epoch,
            raw: packet.clone(),
            opcode,
            key_id: packet[0] & 7,
            message_id: None,
            acks: Vec::new(),
            fault: None,
        };
        if opcode.is_control() {
            // A tap with the receiver's keys; a packet it cannot authenticate stays opaque.
            let plain = self.tap.unwrap(&packet, now).map(<[u8]>::to_vec);
            if let Some(repr) = plain
                .as_deref()
                .ok()
                .and_then(|p| ControlRepr::parse(p).ok())
            {
                sent.message_id = repr.message_id;
                sent.acks = repr.acks.as_slice().to_vec();
            }
            sent.fault = self.faults.next();
        }
        let fault = sent.fault;
        self.log.push(sent);
        let held = self.held.take();
        if fault == Some(Fault::SwapWithNext) {
            self.held = Some(packet);
        } else {
            self.deliver_now(now, fault, packet);
        }
        // A held packet goes right behind the one sent after it.
        if let Some(held) = held {
            self.enqueue(now, held);
        }
    }

    fn deliver_now(&mut self, now: Instant, fault: Option<Fault>, packet: Vec<u8>) {
        match fault {
            Some(Fault::Drop) => {}
            Some(Fault::Duplicate) => {
                self.enqueue(now, packet.clone());
                self.enqueue(now, packet);
            }
            Some(Fault::Delay(d)) => self.enqueue(now + d, packet),
            Some(Fault::SwapWithNext) | None => self.enqueue(now, packet),
        }
    }

    /// The earliest queued packet due at `now`.
    fn pop_due(&mut self, now: Instant) -> Option<Vec<u8>> {
        let (i, _) = self
            .queue
            .iter()
            .enumerate()
            .filter(|(_, (at, ..))| *at <= now)
            .min_by_key(|(_, (at, seq, _))| (*at, *seq))?;
        Some(self.queue.remove(i).2)
    }

    fn next_delivery(&self) -> Option<Instant> {
        self.queue.iter().map(|(at, ..)| *at).min()
    }

    /// A held packet with nothing after it is released when the sender goes quiet.
    fn release_held(&mut self, now: Instant) -> bool {
        match self.held.take() {
            Some(packet) => {
                self.enqueue(now, packet);
                true
            }
            None => false,
        }
    }

    /// Control packets that repeat a (key_id, message id) sent before.
    pub fn retransmissions(&self) -> usize {
        let mut seen = std::collections::HashSet::new();
        self.log
            .iter()
            .filter_map(|s| Some((s.key_id, s.message_id?)))
            .filter(|id| !seen.insert(*id))
            .count()
    }

    /// Distinct (key_id, message id) pairs sent.
    pub fn distinct_messages(&self) -> usize {
        let ids: std::collections::HashSet<_> = self
            .log
            .iter()
            .filter_map(|s| Some((s.key_id, s.message_id?)))
            .collect();
        ids.len()
    }

    /// When each control packet with this opcode and message id 0 was first sent, with its
    /// key_id (retransmissions of the same reset left out).
    pub fn resets(&self, opcode: Opcode) -> Vec<(Duration, u8)> {
        let mut resets: Vec<(Duration, u8)> = Vec::new();
        for s in self.log.iter().filter(|s| s.opcode == opcode) {
            // A retransmission repeats the key_id of the reset just before it.
            if s.message_id == Some(0) && resets.last().map(|r| r.1) != Some(s.key_id) {
                resets.push((s.at, s.key_id));
            }
        }
        resets
    }

    /// The key_id of the last data packet sent.
    pub fn last_data_key_id(&self) -> Option<u8> {
        let data = |s: &&Sent| matches!(s.opcode, Opcode::DataV1 | Opcode::DataV2);
        self.log.iter().rev().find(data).map(|s| s.key_id)
    }

    /// When the packets carrying this (opcode, key_id, message id) were sent.
    pub fn send_times(&self, opcode: Opcode, key_id: u8, message_id: u32) -> Vec<Duration> {
        self.log
            .iter()
            .filter(|s| s.opcode == opcode && s.key_id == key_id)
            .filter(|s| s.message_id == Some(message_id))
            .map(|s| s.at)
            .collect()
    }
}

/// Client, server, both directions of the network and the simulated clock.
pub struct Net {
    pub client: Client,
    pub server: Server,
    pub epoch: Instant,
    pub now: Instant,
    pub to_server: Link,
    pub to_client: Link,
    /// Client events with the simulated time they appeared.
    pub events: Vec<(Duration, Event)>,
    /// Frames the client decrypted.
    pub client_frames: Vec<Vec<u8>>,
    /// Packets the client refused.
    pub client_drops: Vec<PacketError>,
    steps: usize,
}

impl Net {
    pub fn new(cfg: ServerConfig) -> Net {
        let settings = client_settings(&cfg.wrap);
        Net::with_settings(settings, cfg)
    }

    /// A client with its own settings (e.g. a wrong key) against this server.
    pub fn with_settings(settings: Arc<Settings>, cfg: ServerConfig) -> Net {
        let epoch = Instant::now();
        let to_server = Link::new(cfg.wrap.server_wrapper());
        let to_client = Link::new(cfg.wrap.client_keys().wrapper());
        Net {
            client: Client::new(settings, epoch, UNIX_NOW).expect("client"),
            server: Server::new(cfg),
            epoch,
            now: epoch,
            to_server,
            to_client,
            events: Vec::new(),
            client_frames: Vec::new(),
            client_drops: Vec::new(),
            steps: 0,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.epoch
    }

    fn drive_client(&mut self) {
        loop {
            let mut out = Vec::new();
            if !self.client.poll_transmit(self.now, &mut out) {
                break;
            }
            self.to_server.send(self.now, self.epoch, out);
        }
        let mut ping = [0u8; 128];
        if let Some(n) = self.client.poll_ping(self.now, &mut ping) {
            self.to_server
                .send(self.now, self.epoch, ping[..n].to_vec());
        }
        self.collect_events();
    }

    fn drive_server(&mut self) {
        while let Some(packet) = self.server.poll_transmit(self.now) {
            self.to_client.send(self.now, self.epoch, packet);
        }
        if let Some(ping) = self.server.poll_ping(self.now) {
            self.to_client.send(self.now, self.epoch, ping);
        }
    }

    fn collect_events(&mut self) {
        while let Some(event) = self.client.poll_event() {
            self.events.push((self.elapsed(), event));
        }
    }

    /// Hands one packet to the client as if it came off the socket.
    pub fn deliver_to_client(&mut self, mut packet: Vec<u8>) {
        match self.client.handle_packet(self.now, &mut packet) {
            Ok(Some(frame)) => self.client_frames.push(frame.to_vec()),
            Ok(None) => {}
            Err(e) => self.client_drops.push(e),
        }
        self.collect_events();
    }

    fn deliver(&mut self) -> bool {
        let mut any = false;
        while let Some(mut packet) = self.to_server.pop_due(self.now) {
            self.server.handle_packet(self.now, &mut packet);
            any = true;
        }
        while let Some(packet) = self.to_client.pop_due(self.now) {
            self.deliver_to_client(packet);
            any = true;
        }
        any
    }

    /// One round: both sides send, due packets arrive, both sides answer; else the clock jumps
    /// to the next deadline (at most `limit`) and timers fire. False when nothing is left
    /// before `limit` (the clock then stands at `limit`).
    pub fn step(&mut self, limit: Instant) -> bool {
        self.steps += 1;
        assert!(self.steps < 200_000, "the simulation does not settle");
        self.drive_client();
        self.drive_server();
        let delivered = self.deliver();
        self.drive_client();
        self.drive_server();
        if delivered {
            return true;
        }
        if self.to_server.release_held(self.now) | self.to_client.release_held(self.now) {
            return true;
        }
        let next = [
            self.client.poll_timeout(),
            self.server.poll_timeout(),
            self.to_server.next_delivery(),
            self.to_client.next_delivery(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next.filter(|&t| t <= limit) else {
            self.now = self.now.max(limit);
            self.fire_timers();
            return false;
        };
        self.now = self.now.max(next);
        self.fire_timers();
        true
    }

    fn fire_timers(&mut self) {
        if self.client.poll_timeout().is_some_and(|t| t <= self.now) {
            self.client.handle_timeout(self.now);
            self.collect_events();
        }
    }

    /// Runs until `done` holds (true) or `max` of simulated time passed (false).
    pub fn run_until(&mut self, max: Duration, mut done: impl FnMut(&Net) -> bool) -> bool {
        let limit = self.now + max;
        loop {
            if done(self) {
                return true;
            }
            if !self.step(limit) {
                return done(self);
            }
        }
    }

    /// Lets `d` of simulated time pass.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(d, |_| false);
    }

    /// A connection whose server holds its push back until the test sends one, run until the
    /// server's key state is active (TLS and key exchange done).
    pub fn awaiting_push() -> Net {
        let mut cfg = server_config();
        cfg.push_mode = PushMode::Manual;
        let mut net = Net::new(cfg);
        let active = net.run_until(HAND_WINDOW, |n| {
            n.server.stage() == Some(ServerStage::Active)
        });
        assert!(active, "the server's key state never became active");
        net
    }

    /// Runs the handshake to `Event::Established` (within the hand-window) and returns when.
    pub fn establish(&mut self) -> Duration {
        let up = self.run_until(HAND_WINDOW, |n| n.established_at().is_some());
        assert!(up, "not established; events: {:?}", self.events);
        self.established_at().unwrap()
    }

    pub fn established_at(&self) -> Option<Duration> {
        self.events
            .iter()
            .find(|(_, e)| matches!(e, Event::Established(_)))
            .map(|(at, _)| *at)
    }

    /// The first `Restart`: when, and why.
    pub fn restart(&self) -> Option<(Duration, &str)> {
        self.events.iter().find_map(|(at, e)| match e {
            Event::Restart(why) => Some((*at, why.as_str())),
            _ => None,
        })
    }

    /// The first `Fatal`: whether it blames authentication, and why.
    pub fn fatal(&self) -> Option<(bool, &str)> {
        self.events.iter().find_map(|(_, e)| match e {
            Event::Fatal {
                authentication,
                reason,
                ..
            } => Some((*authentication, reason.as_str())),
            _ => None,
        })
    }

    /// The key_ids of the `Rekeyed` events, in order.
    pub fn rekeys(&self) -> Vec<u8> {
        let rekeyed = |(_, e): &(Duration, Event)| match e {
            Event::Rekeyed { key_id } => Some(*key_id),
            _ => None,
        };
        self.events.iter().filter_map(rekeyed).collect()
    }

    /// A server-initiated renegotiation run until both sides use the new key; returns its id.
    pub fn rekey(&mut self) -> u8 {
        let before = self.rekeys().len();
        self.server.start_renegotiation(self.now);
        let done = self.run_until(10 * SECOND, |n| n.rekeys().len() > before);
        assert!(done, "no rekey; events {:?}", self.events);
        let key_id = *self.rekeys().last().unwrap();
        assert_eq!(self.client.current_key().map(|k| k.0), Some(key_id));
        // The server switches once our ACK of its key message arrives.
        let switched = self.run_until(SECOND, |n| n.server.data_key_id() == Some(key_id));
        assert!(switched, "the server did not activate key {key_id}");
        key_id
    }

    /// The first event matching `pred`, with its time.
    pub fn event(&self, pred: impl Fn(&Event) -> bool) -> Option<&(Duration, Event)> {
        self.events.iter().find(|(_, e)| pred(e))
    }

    /// Encrypts a frame with the client's current key without sending it.
    pub fn client_packet(&mut self, frame: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; frame.len() + MAX_OVERHEAD];
        let n = self
            .client
            .encrypt_frame(self.now, frame, &mut out)
            .unwrap();
        out.truncate(n);
        out
    }

    pub fn send_from_client(&mut self, frame: &[u8]) {
        let packet = self.client_packet(frame);
        self.to_server.send(self.now, self.epoch, packet);
    }

    pub fn send_from_server(&mut self, frame: &[u8]) {
        let packet = self.server.encrypt_frame(self.now, frame);
        self.to_client.send(self.now, self.epoch, packet);
    }

    /// A frame each way through the data channel; panics unless both arrive intact.
    pub fn round_trip(&mut self, tag: &str) {
        let up = format!("client->server {tag}").into_bytes();
        let before = self.server.frames.len();
        self.send_from_client(&up);
        let arrived = self.run_until(SECOND, |n| n.server.frames[before..].contains(&up));
        assert!(
            arrived,
            "{tag}: server errors {:?}",
            self.server.data_errors
        );
        let down = format!("server->client {tag}").into_bytes();
        let before = self.client_frames.len();
        self.send_from_server(&down);
        let arrived = self.run_until(SECOND, |n| n.client_frames[before..].contains(&down));
        assert!(arrived, "{tag}: client drops {:?}", self.client_drops);
    }
}
