//! One connection's event loop: TUN ⇄ link (bridge and protocol, [`super::link`]) ⇄ record stream.
//!
//! A single task waits on whichever is ready — a packet from the TUN, bytes from the server,
//! room to write to the server, the bridge's next timer, or shutdown — so the socket is always
//! read even while writes are blocked (two peers both blocked writing can never deadlock us).
//! Buffers are allocated once per connection and reused: no allocation per packet.
//!
//! Batching: a burst of TUN packets is drained (up to [`TUN_BATCH`]) and encapsulated into one
//! write buffer, written with one call; socket reads take up to [`READ_CHUNK`] bytes and every
//! complete record in them is handled before the next wait.

use std::io;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::link::Endpoint;
use crate::framing::FramingError;
use crate::tun::PacketDevice;

/// Largest number of TUN packets taken in one burst before writing to the server.
pub const TUN_BATCH: usize = 64;
/// Bytes asked of the socket per read.
pub const READ_CHUNK: usize = 64 * 1024;
/// Stop reading the TUN while this much is waiting to be written to the server (back-pressure:
/// the TUN's own queue then fills and the kernel drops, as a full NIC queue would).
pub const WRITE_HIGH_WATER: usize = 256 * 1024;
/// How long a clean disconnect waits for the server to acknowledge our goodbye (OpenVPN
/// `EXIT`) before closing anyway.
pub const EXIT_GRACE: Duration = Duration::from_secs(1);
/// How long already-encapsulated frames get to leave on shutdown when there is no goodbye.
const FLUSH_GRACE: Duration = Duration::from_millis(200);
/// Why a session ended.
#[derive(Debug)]
pub enum SessionEnd {
    /// Shutdown was requested (signal); the caller tears down.
    Shutdown,
    /// A reconnection was requested (SIGHUP); the caller reloads credentials and reconnects.
    Reconnect,
    /// The connection is gone or unusable; the caller reconnects.
    Lost(LinkLoss),
    /// Do not retry: the server refused us (certificate, AUTH_FAILED, HALT) or failed
    /// authentication itself.
    Fatal {
        authentication: bool,
        reason: String,
        /// The TLS failure behind it, to be explained with the user's file names.
        tls: Option<rustls::Error>,
    },
    /// Applying the server's pushed configuration to the system failed.
    System(String),
}

#[derive(Debug, thiserror::Error)]
pub enum LinkLoss {
    #[error("the server closed the connection")]
    Closed,
    #[error("the server closed the connection in the middle of a record ({0} bytes pending)")]
    Truncated(usize),
    #[error("protocol error: {0}")]
    Framing(#[from] FramingError),
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Server(String),
    /// The server sent us to the next server of the list (`RESTART` with `N`).
    #[error("{0}")]
    NextServer(String),
    /// An OpenVPN connection that ended before the tunnel was up, with a guess at why.
    #[error("{0}")]
    Handshake(String),
}

/// Link-level counters kept by the driver (the bridge keeps the Ethernet ones).
#[derive(Debug, Clone, Default)]
pub struct LinkCounters {
    pub records_in: u64,
    pub records_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Packets the TUN refused (its queue full or the interface down).
    pub tun_write_errors: u64,
    /// Frames we refused to send because their size breaks the peer's limits.
    pub frames_refused: u64,
    /// Times the link came up (simpletun: connected; OpenVPN: tunnel established).
    pub established: u64,
    /// When the link last came up.
    pub last_up: Option<Instant>,
    /// TUN packets discarded while no connection (or no established tunnel) was up.
    pub dropped_link_down: u64,
    /// Packets from the server dropped by the link (failed authentication, replay, malformed).
    pub packets_rejected: u64,
}

/// Buffers reused across sessions.
pub struct Buffers {
    read: BytesMut,
    write: BytesMut,
    packet: Vec<u8>,
}

impl Buffers {
    /// `mtu` sizes the TUN packet buffer.
    pub fn new(mtu: u16) -> Buffers {
        Buffers {
            read: BytesMut::with_capacity(2 * READ_CHUNK),
            write: BytesMut::with_capacity(WRITE_HIGH_WATER + READ_CHUNK),
            // Room for a packet a little over the MTU, so one is seen (and dropped) whole.
            packet: vec![0; usize::from(mtu) + 256],
        }
    }

    /// The TUN packet buffer, for use between sessions.
    pub fn packet_buf(&mut self) -> &mut [u8] {
        &mut self.packet
    }

    fn clear(&mut self) {
        self.read.clear();
        self.write.clear();
    }
}

/// Everything a session borrows from its caller.
pub struct Session<'a, 'e, T> {
    pub tun: &'a mut T,
    pub endpoint: Endpoint<'e>,
    pub buffers: &'a mut Buffers,
    /// For explaining TLS failures (names the user's files).
    pub tls: Option<&'a super::TlsSetup>,
    /// The TCP socket under the stream, for `TCP_QUICKACK` (see [`super::transport::quickack`]).
    pub tcp_fd: Option<std::os::fd::RawFd>,
    pub shutdown: &'a CancellationToken,
    /// Notified to drop this connection and reconnect at once (SIGHUP).
    pub reconnect: &'a tokio::sync::Notify,
}

impl<T: PacketDevice> Session<'_, '_, T> {
    /// Runs until the connection is lost or shutdown is requested. Starts the link (simpletun:
    /// the bridge's link comes up at once; OpenVPN: the reset goes out).
    /// Returns the link too, so the caller can read what outlives the connection (the OpenVPN
    /// auth-token).
    pub async fn run<S: AsyncRead + AsyncWrite>(self, stream: S) -> (SessionEnd, super::Link) {
        let Session {
            tun,
            mut endpoint,
            buffers,
            tls,
            tcp_fd,
            shutdown,
            reconnect,
        } = self;
        let end = tokio::select! {
            end = pump(tun, &mut endpoint, buffers, tls, tcp_fd, shutdown, stream) => end,
            () = reconnect.notified() => SessionEnd::Reconnect,
        };
        let end = match end {
            SessionEnd::Lost(loss) => SessionEnd::Lost(endpoint.explain_loss(loss)),
            other => other,
        };
        (end, endpoint.link)
    }
}

/// The event loop of [`Session::run`].
async fn pump<T: PacketDevice, S: AsyncRead + AsyncWrite>(
    tun: &mut T,
    endpoint: &mut Endpoint<'_>,
    buffers: &mut Buffers,
    tls: Option<&super::TlsSetup>,
    tcp_fd: Option<std::os::fd::RawFd>,
    shutdown: &CancellationToken,
    stream: S,
) -> SessionEnd {
    buffers.clear();
    let Buffers {
        read: rbuf,
        write: wbuf,
        packet,
    } = buffers;
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut needs_flush = false;
    if let Err(end) = endpoint.start(Instant::now(), wbuf) {
        return end;
    }
    let mut publish = crate::status::Throttle::new(Instant::now());
    loop {
        // Timers first when due: under a sustained download the socket is always readable, and
        // `biased` would otherwise starve them (rekeying, retransmits, hand-window).
        let now = Instant::now();
        if endpoint.poll_timeout().is_some_and(|at| at <= now) {
            if let Err(end) = endpoint.handle_timeout(now, wbuf) {
                return end;
            }
        }
        let deadline = endpoint.poll_timeout().map(tokio::time::Instant::from_std);
        let publish_at = publish.deadline().map(tokio::time::Instant::from_std);
        if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
            rbuf.reserve(READ_CHUNK);
        }
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                close(&mut reader, &mut writer, endpoint, tun, rbuf, wbuf).await;
                return SessionEnd::Shutdown;
            }
            progress = write_or_flush(&mut writer, wbuf), if !wbuf.is_empty() || needs_flush => match progress {
                Ok(Some(0)) => return SessionEnd::Lost(LinkLoss::Closed),
                Ok(Some(n)) => {
                    endpoint.io.counters.bytes_out += n as u64;
                    wbuf.advance(n);
                    needs_flush = true;
                }
                Ok(None) => needs_flush = false,
                Err(e) => return lost(e, tls),
            },
            read = reader.read_buf(rbuf) => match read {
                Ok(0) if rbuf.is_empty() => return SessionEnd::Lost(LinkLoss::Closed),
                Ok(0) => return SessionEnd::Lost(LinkLoss::Truncated(rbuf.len())),
                Ok(n) => {
                    endpoint.io.counters.bytes_in += n as u64;
                    if let Some(fd) = tcp_fd {
                        super::transport::quickack(fd);
                    }
                    if let Err(end) = endpoint.handle_records(Instant::now(), rbuf, tun, wbuf) {
                        return end;
                    }
                }
                Err(e) => return lost(e, tls),
            },
            got = tun.recv(packet), if wbuf.len() < WRITE_HIGH_WATER => {
                if let Err(e) = handle_tun_burst(got, tun, packet, endpoint, wbuf) {
                    tracing::warn!("reading the TUN failed: {e}");
                }
            }
            () = sleep_until(deadline), if deadline.is_some() => {
                if let Err(end) = endpoint.handle_timeout(Instant::now(), wbuf) {
                    return end;
                }
            }
            () = sleep_until(publish_at), if publish_at.is_some() => {}
        }
        if publish.after_event(Instant::now()) {
            endpoint.publish_status();
        }
    }
}

/// Shutdown: says goodbye where the protocol has one (OpenVPN `EXIT` after `cc-exit`), lets
/// already-encapsulated frames leave, waits up to [`EXIT_GRACE`] for the goodbye to be
/// acknowledged (reading meanwhile, so the ACK is seen), then closes our side.
async fn close<T: PacketDevice, R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    reader: &mut R,
    writer: &mut W,
    endpoint: &mut Endpoint<'_>,
    tun: &mut T,
    rbuf: &mut BytesMut,
    wbuf: &mut BytesMut,
) {
    let exiting = endpoint.queue_exit(Instant::now(), wbuf);
    let grace = if exiting { EXIT_GRACE } else { FLUSH_GRACE };
    let goodbye = async {
        writer.write_all(wbuf).await?;
        wbuf.clear();
        writer.flush().await?;
        while exiting && !endpoint.exit_acknowledged() {
            if reader.read_buf(rbuf).await? == 0 {
                break;
            }
            if endpoint
                .handle_records(Instant::now(), rbuf, tun, wbuf)
                .is_err()
            {
                break;
            }
            writer.write_all(wbuf).await?;
            wbuf.clear();
        }
        writer.shutdown().await
    };
    let result = tokio::time::timeout(grace, goodbye).await;
    if exiting {
        let acknowledged = endpoint.exit_acknowledged();
        tracing::info!(acknowledged, "told the server we are leaving (EXIT)");
    }
    if let Ok(Err(e)) = result {
        tracing::debug!("closing the connection: {e}");
    }
}

/// Writes some of `buf` (`Some(n)`), or flushes when it is empty (`None`): TLS may hold
/// encrypted bytes back until flushed.
async fn write_or_flush<W: AsyncWrite + Unpin>(w: &mut W, buf: &[u8]) -> io::Result<Option<usize>> {
    if buf.is_empty() {
        w.flush().await.map(|()| None)
    } else {
        w.write(buf).await.map(Some)
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Maps a socket error to how the session ends: a certificate rejection by the server is final.
fn lost(e: io::Error, setup: Option<&super::TlsSetup>) -> SessionEnd {
    if let (Some(err), Some(setup)) = (super::transport::tls_error(&e), setup) {
        if super::transport::is_rejection_alert(err) {
            return SessionEnd::Fatal {
                authentication: true,
                reason: crate::tls::explain(err, &setup.settings),
                tls: None,
            };
        }
    }
    SessionEnd::Lost(LinkLoss::Io(e))
}

/// Encapsulates the packet just read and every other packet ready right now (up to
/// [`TUN_BATCH`]), so they leave in one socket write.
fn handle_tun_burst<T: PacketDevice>(
    first: io::Result<usize>,
    tun: &mut T,
    packet: &mut [u8],
    endpoint: &mut Endpoint<'_>,
    out: &mut BytesMut,
) -> io::Result<()> {
    let now = Instant::now();
    endpoint.handle_ip_packet(now, &packet[..first?], out);
    for _ in 1..TUN_BATCH {
        if out.len() >= WRITE_HIGH_WATER {
            break;
        }
        match tun.try_recv(packet)? {
            Some(n) => endpoint.handle_ip_packet(now, &packet[..n], out),
            None => break,
        }
    }
    Ok(())
}
