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
use crate::openvpn::client::{Client, Settings as OpenVpnSettings};
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
    pub remote: Remote,
    pub tls: Option<TlsSetup>,
    pub connect_timeout: Duration,
    pub max_record: usize,
    pub mtu: u16,
    pub reconnect: ReconnectConfig,
}

/// Why the tunnel stopped other than by request.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("server {remote} unreachable after {attempts} attempt(s): {last}")]
    Unreachable {
        remote: Remote,
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

/// Counters of the whole run, across connections, and the reporter that publishes them (and
/// the state) for the log and `tapclient status`.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    pub link: LinkCounters,
    pub connects: u64,
    pub reconnects: u64,
    pub reporter: crate::status::Reporter,
}

/// Runs the tunnel until `shutdown` is cancelled (→ `Ok`) or a failure retrying cannot fix.
pub async fn run<T: PacketDevice>(
    config: &DriverConfig,
    tun: &mut T,
    bridge: &mut Option<Bridge>,
    configure: &mut dyn Configure,
    shutdown: &CancellationToken,
    stats: &mut RunStats,
) -> Result<(), DriverError> {
    let mut buffers = Buffers::new(config.mtu);
    let mut scratch = Vec::with_capacity(2048);
    let mut backoff = Backoff::new(&config.reconnect);
    let mut failed_first_attempts = 0u32;
    loop {
        stats.reporter.connecting(&config.remote.to_string(), 0, 1);
        let connecting =
            transport::connect(&config.remote, config.tls.as_ref(), config.connect_timeout);
        let result = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            result = connecting => result,
        };
        let (why, rejected) = match result {
            Ok(stream) => {
                if stats.connects > 0 {
                    stats.reconnects += 1;
                }
                stats.connects += 1;
                log_connected(config, &stream);
                let tcp_fd = Some(transport::tcp_fd(&stream));
                let server = transport::peer_ip(&stream);
                let reporter = &stats.reporter;
                reporter.connected(server, stats.connects, stats.reconnects);
                let link = match &config.protocol {
                    Protocol::Simpletun => Link::Simpletun,
                    Protocol::OpenVpn { settings, .. } => {
                        match Client::new(settings.clone(), Instant::now(), unix_now()) {
                            Ok(client) => Link::OpenVpn(Box::new(client)),
                            Err(e) => return Err(DriverError::Refused(e.to_string())),
                        }
                    }
                };
                let records_before = stats.link.records_in;
                let end = session::Session {
                    tun: &mut *tun,
                    endpoint: Endpoint {
                        link,
                        bridge: &mut *bridge,
                        configure: &mut *configure,
                        io: link::LinkIo {
                            counters: &mut stats.link,
                            max_record: config.max_record,
                            scratch: &mut scratch,
                        },
                        server,
                        warned_incompatible: false,
                        reporter,
                    },
                    buffers: &mut buffers,
                    tls: config.tls.as_ref(),
                    tcp_fd,
                    shutdown,
                }
                .run(stream)
                .await;
                if let Some(bridge) = bridge.as_mut() {
                    bridge.link_down();
                }
                match end {
                    SessionEnd::Shutdown => return Ok(()),
                    SessionEnd::Fatal {
                        authentication,
                        reason,
                        tls,
                    } => return Err(fatal(config, authentication, reason, tls)),
                    SessionEnd::System(why) => return Err(DriverError::System(why)),
                    SessionEnd::Lost(why) => {
                        // A server that answered starts the backoff afresh.
                        if stats.link.records_in > records_before {
                            backoff.reset();
                        }
                        let rejected = matches!(why, LinkLoss::Handshake(_));
                        (format!("link to {} lost: {why}", config.remote), rejected)
                    }
                }
            }
            Err(ConnectError::Authentication(why)) => return Err(DriverError::Authentication(why)),
            Err(ConnectError::Transient(why)) => (why, false),
        };
        // Until the link has come up once, every failure counts against the first attempts.
        if stats.link.established == 0 {
            failed_first_attempts += 1;
            let limit = config.reconnect.first_connect_attempts;
            if limit != 0 && failed_first_attempts >= limit {
                return Err(if rejected {
                    DriverError::Authentication(format!(
                        "{why} (gave up after {failed_first_attempts} attempt(s))"
                    ))
                } else {
                    DriverError::Unreachable {
                        remote: config.remote.clone(),
                        attempts: failed_first_attempts,
                        last: why,
                    }
                });
            }
        }
        let delay = backoff.next_delay();
        stats
            .reporter
            .reconnecting(&why, delay, &stats.link, bridge.as_ref());
        if wait_disconnected(delay, tun, &mut buffers, &mut stats.link, shutdown).await {
            return Ok(());
        }
    }
}

/// A fatal end of a session as the error the user sees.
fn fatal(
    config: &DriverConfig,
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
        DriverError::Authentication(format!("{}: {reason}", config.remote))
    } else {
        DriverError::Refused(format!("{}: {reason}", config.remote))
    }
}

/// Wall-clock seconds (OpenVPN's replay time field); 0 if the clock is before 1970.
fn unix_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

fn log_connected(config: &DriverConfig, stream: &transport::Stream) {
    match (stream, &config.protocol) {
        (_, Protocol::OpenVpn { .. }) => {
            tracing::info!(remote = %config.remote, "connected; OpenVPN handshake")
        }
        (tokio_util::either::Either::Left(_), Protocol::Simpletun) => {
            tracing::info!(remote = %config.remote, "connected (plain TCP, no encryption)")
        }
        (tokio_util::either::Either::Right(tls), Protocol::Simpletun) => {
            let (_, conn) = tls.get_ref();
            tracing::info!(
                remote = %config.remote,
                version = ?conn.protocol_version(),
                cipher = ?conn.negotiated_cipher_suite().map(|c| c.suite()),
                "connected, server authenticated"
            );
        }
    }
}

/// Sleeps `delay` while reading and discarding (counting) what the TUN sends, so stale packets
/// do not burst out on reconnect. Returns true when shutdown was requested.
async fn wait_disconnected<T: PacketDevice>(
    delay: Duration,
    tun: &mut T,
    buffers: &mut Buffers,
    counters: &mut LinkCounters,
    shutdown: &CancellationToken,
) -> bool {
    let until = tokio::time::Instant::now() + delay;
    let packet = buffers.packet_buf();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return true,
            () = tokio::time::sleep_until(until) => return false,
            got = tun.recv(packet) => {
                if got.is_ok() {
                    counters.dropped_link_down += 1;
                }
            }
        }
    }
}

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
        // xorshift64: cheap, good enough for jitter.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let factor = 0.75 + (self.seed % 1000) as f64 / 2000.0;
        base.mul_f64(factor).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
