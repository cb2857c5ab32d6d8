//! The driver: the only place that does I/O. It connects to the server, runs a
//! [`session::Session`] per connection, and reconnects with exponential backoff and jitter when
//! the connection is lost — keeping the TUN, its addresses and routes in place, so applications
//! see a pause rather than a vanished interface.
//!
//! On every (re)connect the bridge is told the link is up: it forgets learned neighbours (a
//! restarted server's TAP usually has a new MAC) and announces us with a gratuitous ARP. For
//! OpenVPN that happens once the tunnel is established and the server's push applied.

pub mod link;
pub mod session;
pub mod transport;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::config::{ReconnectConfig, Remote};
use crate::ether::Bridge;
use crate::openvpn::client::{Client, Settings as OpenVpnSettings, TokenLogin};
use crate::tun::PacketDevice;
pub use link::{Configure, Endpoint, Link};
pub use session::{Buffers, LinkCounters, LinkLoss, SessionEnd};
pub use transport::{ConnectError, TlsSetup};

/// The protocol spoken with the server.
#[derive(Clone)]
pub enum Protocol {
    /// Length-prefixed Ethernet frames, optionally inside TLS ([`DriverConfig::tls`]).
    Simpletun,
    /// OpenVPN: TLS runs inside its control channel, never around the TCP stream.
    OpenVpn {
        settings: Arc<OpenVpnSettings>,
        /// The user's TLS files, to explain TLS failures.
        tls_files: crate::config::TlsConfig,
    },
}

/// What the driver needs to know, taken from the validated config.
#[derive(Clone)]
pub struct DriverConfig {
    pub protocol: Protocol,
    /// The servers, tried in order (never empty).
    pub remotes: Vec<Remote>,
    pub tls: Option<TlsSetup>,
    pub connect_timeout: Duration,
    pub max_record: usize,
    pub mtu: u16,
    pub reconnect: ReconnectConfig,
}

/// Fresh credentials on request (SIGHUP): re-reads the files behind `protocol` and `tls`.
pub trait Reload {
    /// Replaces `config.protocol`/`config.tls`; on error the old ones stay (the caller logs).
    fn reload(&mut self, config: &mut DriverConfig) -> Result<(), String>;
}

/// How the outside world steers a running driver.
pub struct Controls<'a> {
    /// Cancelled to stop for good (SIGINT/SIGTERM).
    pub shutdown: &'a CancellationToken,
    /// Notified to drop the connection, reload credentials and reconnect at once (SIGHUP).
    pub reconnect: &'a tokio::sync::Notify,
    pub reload: &'a mut (dyn Reload + Send),
}

/// Why the tunnel stopped other than by request.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(
        "{} unreachable after {attempts} attempt(s): {last}",
        describe(remotes)
    )]
    Unreachable {
        remotes: Vec<Remote>,
        attempts: u32,
        last: String,
    },
    #[error("{0}")]
    Authentication(String),
    /// The server stopped us for a reason other than authentication (HALT, an unusable push).
    #[error("{0}")]
    Refused(String),
    /// The server's pushed configuration could not be applied to this system.
    #[error("{0}")]
    System(String),
}

/// "server X" or "servers X, Y".
fn describe(remotes: &[Remote]) -> String {
    match remotes {
        [one] => format!("server {one}"),
        many => {
            let list: Vec<String> = many.iter().map(Remote::to_string).collect();
            format!("servers {}", list.join(", "))
        }
    }
}

/// Counters of the whole run, across connections, and the reporter that publishes them (and
/// the state) for the log and `tapclient status`.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    pub link: LinkCounters,
    pub connects: u64,
    pub reconnects: u64,
    pub reporter: crate::status::Reporter,
}

/// How one connection attempt ended, for the retry policy.
enum Attempt {
    /// Connected, then the link was lost (or a reconnect was requested); wait `delay` (`None`:
    /// not at all) before trying the same server again.
    Lost {
        why: String,
        delay: Option<Duration>,
    },
    /// No usable connection: unreachable, or refused during the OpenVPN handshake
    /// (`rejected`).
    Failed { why: String, rejected: bool },
}

/// Runs the tunnel until `controls.shutdown` is cancelled (→ `Ok`) or a failure retrying
/// cannot fix.
///
/// Servers are tried in order: a server that cannot be reached (or whose TLS fails) is followed
/// at once by the next; after the whole list failed, the backoff delay. A server that was
/// connected and then lost is tried again first: at once if the tunnel had been up a while
/// (see [`Retry`]), else after the delay. Until the tunnel was up once,
/// `first_connect_attempts` rounds over the list are made before giving up.
pub async fn run<T: PacketDevice>(
    config: &mut DriverConfig,
    tun: &mut T,
    bridge: &mut Option<Bridge>,
    configure: &mut dyn Configure,
    controls: Controls<'_>,
    stats: &mut RunStats,
) -> Result<(), DriverError> {
    let mut buffers = Buffers::new(config.mtu);
    let mut scratch = Vec::with_capacity(2048);
    let mut retry = Retry::new(&config.reconnect);
    let mut next = 0usize;
    let mut failed_rounds = 0u32;
    let mut auth_token = None;
    loop {
        let index = next;
        let remote = config.remotes[index].clone();
        let count = config.remotes.len();
        stats.reporter.connecting(&remote.to_string(), index, count);
        let connecting = transport::connect(&remote, config.tls.as_ref(), config.connect_timeout);
        let result = tokio::select! {
            () = controls.shutdown.cancelled() => return Ok(()),
            () = controls.reconnect.notified() => {
                reload(config, controls.reload, &mut auth_token, &mut retry);
                continue;
            }
            result = connecting => result,
        };
        let last_of_round = index + 1 == count;
        let attempt = match result {
            Ok(stream) => {
                if stats.connects > 0 {
                    stats.reconnects += 1;
                }
                stats.connects += 1;
                log_connected(config, &remote, &stream);
                let (connects, reconnects) = (stats.connects, stats.reconnects);
                let server = transport::peer_ip(&stream);
                stats.reporter.connected(server, connects, reconnects);
                let established_before = stats.link.established;
                let end = run_session(
                    config,
                    stream,
                    SessionParts {
                        tun: &mut *tun,
                        bridge: &mut *bridge,
                        configure: &mut *configure,
                        buffers: &mut buffers,
                        scratch: &mut scratch,
                        counters: &mut stats.link,
                        reporter: &stats.reporter,
                        auth_token: &mut auth_token,
                    },
                    controls.shutdown,
                    controls.reconnect,
                )
                .await?;
                if let Some(bridge) = bridge.as_mut() {
                    bridge.link_down();
                }
                let up_for = (stats.link.established > established_before)
                    .then_some(stats.link.last_up)
                    .flatten()
                    .map(|at| at.elapsed());
                match end {
                    SessionEnd::Shutdown => return Ok(()),
                    SessionEnd::Reconnect => {
                        reload(config, controls.reload, &mut auth_token, &mut retry);
                        Attempt::Lost {
                            why: format!("reconnecting to {remote} on request"),
                            delay: None,
                        }
                    }
                    SessionEnd::Lost(loss) => {
                        let rejected = matches!(loss, LinkLoss::Handshake(_));
                        let onwards = matches!(loss, LinkLoss::NextServer(_));
                        let why = format!("link to {remote} lost: {loss}");
                        match up_for {
                            Some(up_for) if !rejected && !onwards => Attempt::Lost {
                                why,
                                delay: Some(retry.after_loss(up_for)),
                            },
                            _ => Attempt::Failed { why, rejected },
                        }
                    }
                    SessionEnd::Fatal {
                        authentication,
                        reason,
                        tls,
                    } => {
                        // A TLS failure belongs to this server: the others may be fine.
                        let server_specific = tls.is_some();
                        let err = fatal(config, &remote, authentication, reason, tls);
                        if !server_specific || last_of_round {
                            return Err(err);
                        }
                        Attempt::Failed {
                            why: err.to_string(),
                            rejected: true,
                        }
                    }
                    SessionEnd::System(why) => return Err(DriverError::System(why)),
                }
            }
            Err(ConnectError::Authentication(why)) if last_of_round => {
                return Err(DriverError::Authentication(why))
            }
            Err(ConnectError::Authentication(why)) => Attempt::Failed {
                why,
                rejected: true,
            },
            Err(ConnectError::Transient(why)) => Attempt::Failed {
                why,
                rejected: false,
            },
        };
        let (why, delay) = match attempt {
            Attempt::Lost { why, delay } => (why, delay),
            Attempt::Failed { why, rejected } => {
                next = (index + 1) % count;
                let round_over = next == 0;
                if round_over && stats.link.established == 0 {
                    failed_rounds += 1;
                    let limit = config.reconnect.first_connect_attempts;
                    if limit != 0 && failed_rounds >= limit {
                        return Err(give_up(config, failed_rounds, why, rejected));
                    }
                }
                (why, round_over.then(|| retry.backoff.next_delay()))
            }
        };
        let link = &stats.link;
        stats
            .reporter
            .reconnecting(&why, delay, link, bridge.as_ref());
        if let Some(delay) = delay {
            let (shutdown, reconnect) = (controls.shutdown, controls.reconnect);
            let link = &mut stats.link;
            match wait_disconnected(delay, tun, &mut buffers, link, shutdown, reconnect).await {
                Waited::Shutdown => return Ok(()),
                Waited::Reconnect => {
                    reload(config, controls.reload, &mut auth_token, &mut retry);
                }
                Waited::Elapsed => {}
            }
        } else if count > 1 && next != index {
            tracing::info!("trying the next server");
        }
    }
}

/// SIGHUP: fresh credentials (the old ones stay if the files are now unusable), no token of
/// the old ones, and no backoff wait before the next attempt.
fn reload(
    config: &mut DriverConfig,
    reload: &mut (dyn Reload + Send),
    auth_token: &mut Option<TokenLogin>,
    retry: &mut Retry,
) {
    match reload.reload(config) {
        Ok(()) => tracing::info!("SIGHUP: credentials re-read; reconnecting"),
        Err(e) => {
            tracing::error!("SIGHUP: cannot re-read the credentials, keeping the old ones: {e}")
        }
    }
    *auth_token = None;
    retry.backoff.reset();
}

/// What a session borrows from the driver loop.
struct SessionParts<'a, T> {
    tun: &'a mut T,
    bridge: &'a mut Option<Bridge>,
    configure: &'a mut dyn Configure,
    buffers: &'a mut Buffers,
    scratch: &'a mut Vec<u8>,
    counters: &'a mut LinkCounters,
    reporter: &'a crate::status::Reporter,
    /// The OpenVPN server's auth-token, kept across the connections of a run.
    auth_token: &'a mut Option<TokenLogin>,
}

/// Runs one connection to its end.
async fn run_session<T: PacketDevice>(
    config: &DriverConfig,
    stream: transport::Stream,
    parts: SessionParts<'_, T>,
    shutdown: &CancellationToken,
    reconnect: &tokio::sync::Notify,
) -> Result<SessionEnd, DriverError> {
    let tcp_fd = Some(transport::tcp_fd(&stream));
    let server = transport::peer_ip(&stream);
    let link = match &config.protocol {
        Protocol::Simpletun => Link::Simpletun,
        Protocol::OpenVpn { settings, .. } => {
            match Client::new(settings.clone(), Instant::now(), unix_now()) {
                Ok(mut client) => {
                    // Like stock clients: a reconnect logs in with the server's auth-token.
                    if let Some(token) = parts.auth_token.clone() {
                        client.resume_auth_token(token);
                    }
                    Link::OpenVpn(Box::new(client))
                }
                Err(e) => return Err(DriverError::Refused(e.to_string())),
            }
        }
    };
    let (end, link) = session::Session {
        tun: parts.tun,
        endpoint: Endpoint {
            link,
            bridge: parts.bridge,
            configure: parts.configure,
            io: link::LinkIo {
                counters: parts.counters,
                max_record: config.max_record,
                scratch: parts.scratch,
            },
            server,
            warned_incompatible: false,
            reporter: parts.reporter,
        },
        buffers: parts.buffers,
        tls: config.tls.as_ref(),
        tcp_fd,
        shutdown,
        reconnect,
    }
    .run(stream)
    .await;
    if let Link::OpenVpn(client) = &link {
        // `None` after AUTH_FAILED: the engine forgot a rejected token.
        *parts.auth_token = client.auth_token();
    }
    Ok(end)
}

/// The error after `rounds` failed rounds over the servers before the tunnel was ever up.
fn give_up(config: &DriverConfig, rounds: u32, why: String, rejected: bool) -> DriverError {
    if rejected {
        DriverError::Authentication(format!("{why} (gave up after {rounds} attempt(s))"))
    } else {
        DriverError::Unreachable {
            remotes: config.remotes.clone(),
            attempts: rounds,
            last: why,
        }
    }
}

/// A fatal end of a session as the error the user sees.
fn fatal(
    config: &DriverConfig,
    remote: &Remote,
    authentication: bool,
    reason: String,
    tls: Option<rustls::Error>,
) -> DriverError {
    let files = match &config.protocol {
        Protocol::OpenVpn { tls_files, .. } => Some(tls_files),
        Protocol::Simpletun => config.tls.as_ref().map(|setup| &setup.settings),
    };
    let reason = match (&tls, files) {
        (Some(err), Some(files)) => crate::tls::explain(err, files),
        _ => reason,
    };
    if authentication {
        DriverError::Authentication(format!("{remote}: {reason}"))
    } else {
        DriverError::Refused(format!("{remote}: {reason}"))
    }
}

/// Wall-clock seconds (OpenVPN's replay time field); 0 if the clock is before 1970.
fn unix_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

fn log_connected(config: &DriverConfig, remote: &Remote, stream: &transport::Stream) {
    match (stream, &config.protocol) {
        (_, Protocol::OpenVpn { .. }) => {
            tracing::info!(remote = %remote, "connected; OpenVPN handshake")
        }
        (tokio_util::either::Either::Left(_), Protocol::Simpletun) => {
            tracing::info!(remote = %remote, "connected (plain TCP, no encryption)")
        }
        (tokio_util::either::Either::Right(tls), Protocol::Simpletun) => {
            let (_, conn) = tls.get_ref();
            tracing::info!(
                remote = %remote,
                version = ?conn.protocol_version(),
                cipher = ?conn.negotiated_cipher_suite().map(|c| c.suite()),
                "connected, server authenticated"
            );
        }
    }
}

/// How a wait between connections ended.
enum Waited {
    Elapsed,
    Shutdown,
    /// SIGHUP: reconnect now.
    Reconnect,
}

/// Sleeps `delay` while reading and discarding (counting) what the TUN sends, so stale packets
/// do not burst out on reconnect.
async fn wait_disconnected<T: PacketDevice>(
    delay: Duration,
    tun: &mut T,
    buffers: &mut Buffers,
    counters: &mut LinkCounters,
    shutdown: &CancellationToken,
    reconnect: &tokio::sync::Notify,
) -> Waited {
    let until = tokio::time::Instant::now() + delay;
    let packet = buffers.packet_buf();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Waited::Shutdown,
            () = reconnect.notified() => return Waited::Reconnect,
            () = tokio::time::sleep_until(until) => return Waited::Elapsed,
            got = tun.recv(packet) => {
                if got.is_ok() {
                    counters.dropped_link_down += 1;
                }
            }
        }
    }
}

/// When to reconnect after losing a tunnel that was up.
///
/// A tunnel that had been up at least [`QUICK_RETRY_AFTER`] (a reset by a middlebox, a
/// restarted server) is retried at once, with jitter only — but at most once per
/// [`QUICK_RETRY_EVERY`], so a server that keeps dropping us gets the backoff. The backoff
/// starts afresh only after a tunnel stayed up [`STABLE_AFTER`]: a server that accepts and then
/// rejects or kicks us never resets it.
struct Retry {
    backoff: Backoff,
    last_quick: Option<Instant>,
}

impl Retry {
    fn new(config: &ReconnectConfig) -> Retry {
        Retry {
            backoff: Backoff::new(config),
            last_quick: None,
        }
    }

    /// The delay before retrying the server of a tunnel that was up for `up_for`.
    fn after_loss(&mut self, up_for: Duration) -> Duration {
        if up_for >= STABLE_AFTER {
            self.backoff.reset();
        }
        let quick_allowed = self
            .last_quick
            .map_or(true, |at| at.elapsed() >= QUICK_RETRY_EVERY);
        if up_for >= QUICK_RETRY_AFTER && quick_allowed {
            self.last_quick = Some(Instant::now());
            self.backoff.jitter_only()
        } else {
            self.backoff.next_delay()
        }
    }
}

/// A tunnel up at least this long is reconnected without the backoff delay when lost.
const QUICK_RETRY_AFTER: Duration = Duration::from_secs(2);
/// At most one quick reconnect per this long.
const QUICK_RETRY_EVERY: Duration = Duration::from_secs(60);
/// A tunnel up this long was working: its loss starts the backoff afresh.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// The most a quick reconnect waits (jitter, so the clients of a restarted server spread out).
const QUICK_RETRY_JITTER: Duration = Duration::from_millis(250);

/// Exponential backoff with ±25 % jitter, so many clients of one restarted server do not
/// come back in lock-step.
#[derive(Debug)]
struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
    seed: u64,
}

impl Backoff {
    fn new(config: &ReconnectConfig) -> Backoff {
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = clock ^ (u64::from(std::process::id()) << 32);
        Backoff {
            initial: config.initial_delay,
            max: config.max_delay,
            current: config.initial_delay,
            seed: seed | 1,
        }
    }

    fn reset(&mut self) {
        self.current = self.initial;
    }

    fn next_delay(&mut self) -> Duration {
        let base = self.current;
        self.current = (self.current * 2).min(self.max);
        let factor = 0.75 + self.random_thousandth() as f64 / 2000.0;
        base.mul_f64(factor).min(self.max)
    }

    /// A short random wait (up to [`QUICK_RETRY_JITTER`]) instead of the backoff step.
    fn jitter_only(&mut self) -> Duration {
        QUICK_RETRY_JITTER.mul_f64(self.random_thousandth() as f64 / 1000.0)
    }

    /// 0..1000 from xorshift64: cheap, good enough for jitter.
    fn random_thousandth(&mut self) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed % 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_working_tunnel_is_retried_at_once_but_a_flapping_one_backs_off() {
        let config = ReconnectConfig {
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            first_connect_attempts: 0,
        };
        let mut retry = Retry::new(&config);
        let quick = |d: Duration| d <= QUICK_RETRY_JITTER;
        // Up for a while, then lost: at once.
        assert!(quick(retry.after_loss(Duration::from_secs(5))));
        // Kicked again soon after: the backoff, growing (no reset: never stable).
        let delays: Vec<Duration> = (0..4)
            .map(|_| retry.after_loss(Duration::from_secs(5)))
            .collect();
        assert!(delays.iter().all(|&d| !quick(d)), "{delays:?}");
        assert!(delays[3] > delays[0] * 4, "{delays:?}");
        // Up only a moment: never quick.
        let mut fresh = Retry::new(&config);
        assert!(!quick(fresh.after_loss(Duration::from_millis(500))));
        // A stable tunnel starts the backoff afresh.
        for _ in 0..5 {
            retry.backoff.next_delay();
        }
        retry.after_loss(STABLE_AFTER);
        assert!(retry.backoff.next_delay() <= Duration::from_millis(2500));
    }

    #[test]
    fn backoff_doubles_to_the_ceiling_with_bounded_jitter() {
        let config = ReconnectConfig {
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            first_connect_attempts: 0,
        };
        let mut b = Backoff::new(&config);
        let bases = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0];
        for base in bases {
            let d = b.next_delay().as_secs_f64();
            assert!(
                d >= base * 0.75 - 1e-9 && d <= (base * 1.25).min(8.0) + 1e-9,
                "{d} for {base}"
            );
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(1250));
        for _ in 0..100 {
            assert!(b.jitter_only() <= QUICK_RETRY_JITTER);
        }
    }
}
