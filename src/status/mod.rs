//! Visibility of a running tunnel: its state and counters, in the log and over a local socket.
//!
//! - [`Reporter`]: a cheap clonable handle the driver updates on every state change and, for
//!   counters, at most once a second ([`Throttle`]) — never per packet. It logs each state
//!   transition once: at info, except entering `reconnecting`, which is at warn with the reason
//!   (a lost link or a failed attempt); losing a tunnel that was up adds a one-line counter
//!   summary at info.
//! - [`Report`]: one rendering of a [`Snapshot`] at a moment — JSON on the socket, aligned
//!   `key: value` text for `tapclient status`, and the summary line of the log. The one place
//!   that names counters for humans.
//! - [`Server`]: the owner-only Unix socket of a running client; every connection gets one JSON
//!   report and is closed. [`query`] is the other end, used by `tapclient status`.
//!
//! This module reads clocks (the wall clock for "since when", the monotonic clock for ages);
//! it is not sans-IO. It reads the driver's [`LinkCounters`] and the bridge's counters as data;
//! the driver holds a [`Reporter`] and never waits on a reader of the socket.

mod query;
mod report;
mod server;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::driver::LinkCounters;
use crate::ether::{Bridge, Counters, Ipv4Cidr, MacAddr};

pub use query::{query, QueryError};
pub use report::{human_bytes, human_duration, DataKeyReport, Disconnect, Report};
pub use server::{ServeError, Server, MAX_CONNECTIONS, WRITE_TIMEOUT};

/// Counters are published at most this often.
pub const PUBLISH_INTERVAL: Duration = Duration::from_secs(1);

/// Where the client is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Opening the TUN and preparing; no connection attempted yet.
    #[default]
    Starting,
    /// Resolving and connecting over TCP (simpletun: and the TLS handshake around it).
    Connecting,
    /// OpenVPN: the control channel's reset and TLS handshake.
    Tls,
    /// OpenVPN: key-method-2 (with the username and password, if any) and the push.
    Authenticating,
    /// The tunnel carries traffic.
    Up,
    /// Waiting out the backoff after a lost link or a failed attempt.
    Reconnecting,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Connecting => "connecting",
            State::Tls => "tls",
            State::Authenticating => "authenticating",
            State::Up => "up",
            State::Reconnecting => "reconnecting",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A moment: the wall clock to say when, the monotonic clock to measure how long ago.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    pub wall: SystemTime,
    pub mono: Instant,
}

impl Stamp {
    pub fn now() -> Stamp {
        Stamp {
            wall: SystemTime::now(),
            mono: Instant::now(),
        }
    }

    /// Time from `self` to `later` (zero if `later` is earlier).
    pub fn until(&self, later: &Stamp) -> Duration {
        later.mono.saturating_duration_since(self.mono)
    }

    /// Seconds since 1970 (0 for a clock before it).
    pub fn unix_secs(&self) -> u64 {
        self.wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// Which server the client is talking to (or trying).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteInfo {
    /// As configured: `host:port`.
    pub name: String,
    /// 0-based position in the configured list, and the list's length.
    pub index: usize,
    pub count: usize,
}

/// The data channel key in use (OpenVPN).
#[derive(Debug, Clone)]
pub struct DataKey {
    pub cipher: String,
    pub key_id: u8,
    /// When this key was installed.
    pub since: Stamp,
}

/// Everything `tapclient status` shows, as the driver last published it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub config: Option<PathBuf>,
    pub started: Stamp,
    pub state: State,
    pub state_since: Stamp,
    /// Why the current state was entered (reconnecting: the loss or the failed attempt).
    pub state_reason: Option<String>,
    pub remote: Option<RemoteInfo>,
    /// The address the current (or last) connection reached.
    pub server_ip: Option<IpAddr>,
    pub connects: u64,
    pub reconnects: u64,
    /// When and why the last connection (or attempt) ended.
    pub last_disconnect: Option<(Stamp, String)>,
    pub link: LinkCounters,
    /// The bridge's counters; `None` until the Ethernet layer exists (OpenVPN: the push).
    pub ether: Option<Counters>,
    pub tun: Option<String>,
    pub address: Option<Ipv4Cidr>,
    pub gateway: Option<Ipv4Addr>,
    pub mac: Option<MacAddr>,
    /// `true` once the link is known to be OpenVPN.
    pub openvpn: bool,
    pub data_key: Option<DataKey>,
    /// Completed data-channel renegotiations in this run.
    pub renegotiations: u64,
}

impl Snapshot {
    fn new(now: Stamp) -> Snapshot {
        Snapshot {
            config: None,
            started: now,
            state: State::Starting,
            state_since: now,
            state_reason: None,
            remote: None,
            server_ip: None,
            connects: 0,
            reconnects: 0,
            last_disconnect: None,
            link: LinkCounters::default(),
            ether: None,
            tun: None,
            address: None,
            gateway: None,
            mac: None,
            openvpn: false,
            data_key: None,
            renegotiations: 0,
        }
    }

    /// Enters `state`; returns the state left, or `None` if it is the same one.
    fn enter(&mut self, state: State, reason: Option<String>) -> Option<State> {
        if self.state == state {
            return None;
        }
        let old = std::mem::replace(&mut self.state, state);
        self.state_since = Stamp::now();
        self.state_reason = reason;
        Some(old)
    }

    fn copy_counters(&mut self, link: &LinkCounters, bridge: Option<&Bridge>) {
        self.link.clone_from(link);
        if let Some(bridge) = bridge {
            match &mut self.ether {
                Some(ether) => ether.clone_from(bridge.counters()),
                None => self.ether = Some(bridge.counters().clone()),
            }
            let config = bridge.config();
            self.address = Some(config.address);
            self.gateway = config.gateway;
            self.mac = Some(config.mac);
        }
    }
}

/// The published state of a run, shared by the driver (writer) and the status socket (reader).
///
/// Cloning is cheap (one `Arc`). Every method takes the lock only to copy a few fields; nothing
/// waits on I/O while holding it.
#[derive(Clone)]
pub struct Reporter {
    inner: Arc<Mutex<Snapshot>>,
}

impl Default for Reporter {
    fn default() -> Reporter {
        Reporter::new()
    }
}

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reporter")
            .field("state", &self.lock().state)
            .finish_non_exhaustive()
    }
}

impl Reporter {
    pub fn new() -> Reporter {
        Reporter {
            inner: Arc::new(Mutex::new(Snapshot::new(Stamp::now()))),
        }
    }

    /// A reporter for the run of `config` (the path is shown by `tapclient status`).
    pub fn for_config(config: &Path) -> Reporter {
        let reporter = Reporter::new();
        reporter.lock().config = Some(config.to_path_buf());
        reporter
    }

    fn lock(&self) -> MutexGuard<'_, Snapshot> {
        // A panic elsewhere while holding the lock leaves plain data behind: still readable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of what was last published.
    pub fn snapshot(&self) -> Snapshot {
        self.lock().clone()
    }

    /// The snapshot rendered now.
    pub fn report(&self) -> Report {
        Report::new(&self.snapshot(), &Stamp::now())
    }

    /// The one-line counter summary for the log.
    pub fn summary(&self) -> String {
        self.report().summary_line()
    }

    pub fn set_tun(&self, name: &str) {
        self.lock().tun = Some(name.to_owned());
    }

    /// A connection attempt to `remote` (`index` of `count` configured remotes, 0-based) starts.
    pub fn connecting(&self, remote: &str, index: usize, count: usize) {
        let info = RemoteInfo {
            name: remote.to_owned(),
            index,
            count,
        };
        let of = if count > 1 {
            format!(" (remote {} of {count})", index + 1)
        } else {
            String::new()
        };
        let old = {
            let mut snap = self.lock();
            snap.remote = Some(info);
            snap.enter(State::Connecting, None)
        };
        if let Some(old) = old {
            tracing::info!("state {old} -> connecting: {remote}{of}");
        }
    }

    /// The TCP connection (simpletun: and its TLS) is up; `connects`/`reconnects` are the run's
    /// totals including this one.
    pub fn connected(&self, server: Option<IpAddr>, connects: u64, reconnects: u64) {
        let mut snap = self.lock();
        snap.server_ip = server;
        snap.connects = connects;
        snap.reconnects = reconnects;
    }

    /// OpenVPN before the tunnel is up: [`State::Tls`] or [`State::Authenticating`]. Cheap
    /// when nothing changes (no log, no allocation).
    pub fn handshake(&self, state: State) {
        let old = {
            let mut snap = self.lock();
            snap.openvpn = true;
            snap.enter(state, None)
        };
        if let Some(old) = old {
            tracing::info!("state {old} -> {state}");
        }
    }

    /// The tunnel carries traffic. `key`: OpenVPN's data-channel key_id and cipher.
    pub fn up(&self, key: Option<(u8, &str)>) {
        let now = Stamp::now();
        let old = {
            let mut snap = self.lock();
            snap.data_key = key.map(|(key_id, cipher)| DataKey {
                cipher: cipher.to_owned(),
                key_id,
                since: now,
            });
            snap.openvpn |= key.is_some();
            snap.enter(State::Up, None)
        };
        match (old, key) {
            (Some(old), Some((key_id, cipher))) => {
                tracing::info!("state {old} -> up: data channel {cipher}, key_id {key_id}")
            }
            (Some(old), None) => tracing::info!("state {old} -> up"),
            (None, _) => {}
        }
    }

    /// A renegotiation installed a new data-channel key.
    pub fn rekeyed(&self, key_id: u8, cipher: &str) {
        let mut snap = self.lock();
        snap.renegotiations += 1;
        snap.data_key = Some(DataKey {
            cipher: cipher.to_owned(),
            key_id,
            since: Stamp::now(),
        });
    }

    /// The link is lost (or an attempt failed) for `why`; the next attempt is in `delay`
    /// (`None`: at once). Publishes the counters. Logged at warn (the reason is a problem the
    /// user may have to act on); losing a tunnel that was up adds the counter summary at info.
    pub fn reconnecting(
        &self,
        why: &str,
        delay: Option<Duration>,
        link: &LinkCounters,
        bridge: Option<&Bridge>,
    ) {
        let now = Stamp::now();
        let (old, summary) = {
            let mut snap = self.lock();
            snap.copy_counters(link, bridge);
            snap.data_key = None;
            snap.last_disconnect = Some((now, why.to_owned()));
            let old = snap.enter(State::Reconnecting, Some(why.to_owned()));
            let was_up = old == Some(State::Up);
            (old, was_up.then(|| Report::new(&snap, &now).summary_line()))
        };
        let old = old.unwrap_or(State::Reconnecting);
        let when = match delay {
            Some(delay) => format!("in {:.1} s", delay.as_secs_f32()),
            None => "at once".to_owned(),
        };
        tracing::warn!("state {old} -> reconnecting {when}: {why}");
        if let Some(summary) = summary {
            tracing::info!("counters: {summary}");
        }
    }

    /// Copies the counters (and our address, from the bridge's config). No allocation once
    /// the bridge's counters exist.
    pub fn publish(&self, link: &LinkCounters, bridge: Option<&Bridge>) {
        self.lock().copy_counters(link, bridge);
    }
}

/// Decides when the driver publishes counters: at most once per [`PUBLISH_INTERVAL`], and at
/// the latest one interval after something changed — no wake-ups while nothing happens.
#[derive(Debug)]
pub struct Throttle {
    last: Instant,
    dirty: bool,
}

impl Throttle {
    pub fn new(now: Instant) -> Throttle {
        Throttle {
            last: now,
            dirty: false,
        }
    }

    /// Call after every event of the loop: `true` when the counters are to be published now
    /// (otherwise they are remembered as changed, and [`Throttle::deadline`] says when).
    pub fn after_event(&mut self, now: Instant) -> bool {
        if now.saturating_duration_since(self.last) >= PUBLISH_INTERVAL {
            self.last = now;
            self.dirty = false;
            true
        } else {
            self.dirty = true;
            false
        }
    }

    /// When to wake up to publish counters that changed since the last publication.
    pub fn deadline(&self) -> Option<Instant> {
        self.dirty.then(|| self.last + PUBLISH_INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_publishes_at_most_once_per_interval_and_catches_up_later() {
        let t0 = Instant::now();
        let mut t = Throttle::new(t0);
        assert_eq!(t.deadline(), None, "nothing changed yet");
        assert!(!t.after_event(t0 + Duration::from_millis(10)));
        assert_eq!(t.deadline(), Some(t0 + PUBLISH_INTERVAL));
        assert!(!t.after_event(t0 + Duration::from_millis(900)));
        assert!(t.after_event(t0 + PUBLISH_INTERVAL));
        assert_eq!(t.deadline(), None, "published: no wake-up needed");
        assert!(!t.after_event(t0 + PUBLISH_INTERVAL + Duration::from_millis(1)));
        assert!(t.after_event(t0 + 5 * PUBLISH_INTERVAL));
    }

    #[test]
    fn transitions_keep_the_reason_and_the_counts() {
        let r = Reporter::new();
        assert_eq!(r.snapshot().state, State::Starting);
        r.connecting("vpn.example.com:1194", 1, 2);
        r.connected(Some("198.18.0.1".parse().unwrap()), 1, 0);
        r.handshake(State::Tls);
        r.handshake(State::Tls);
        r.handshake(State::Authenticating);
        r.up(Some((0, "AES-256-GCM")));
        let snap = r.snapshot();
        assert_eq!(snap.state, State::Up);
        assert!(snap.openvpn);
        assert_eq!(snap.data_key.as_ref().unwrap().cipher, "AES-256-GCM");
        assert_eq!(snap.remote.as_ref().unwrap().index, 1);
        r.rekeyed(1, "AES-256-GCM");
        assert_eq!(r.snapshot().renegotiations, 1);
        assert_eq!(r.snapshot().data_key.unwrap().key_id, 1);
        let link = LinkCounters {
            bytes_in: 4096,
            ..LinkCounters::default()
        };
        r.reconnecting("server closed", Some(Duration::from_secs(2)), &link, None);
        let snap = r.snapshot();
        assert_eq!(snap.state, State::Reconnecting);
        assert_eq!(snap.state_reason.as_deref(), Some("server closed"));
        assert_eq!(snap.last_disconnect.unwrap().1, "server closed");
        assert!(snap.data_key.is_none(), "no key while disconnected");
        assert_eq!(snap.link.bytes_in, 4096);
    }
}
