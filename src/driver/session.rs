//! One connection's event loop: TUN ⇄ [`Bridge`] ⇄ record stream.
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
use std::time::Instant;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::ether::{Bridge, FrameSink};
use crate::framing::{self, Deframer, FramingError};
use crate::tun::PacketDevice;

/// Largest number of TUN packets taken in one burst before writing to the server.
pub const TUN_BATCH: usize = 64;
/// Bytes asked of the socket per read.
pub const READ_CHUNK: usize = 64 * 1024;
/// Stop reading the TUN while this much is waiting to be written to the server (back-pressure:
/// the TUN's own queue then fills and the kernel drops, as a full NIC queue would).
pub const WRITE_HIGH_WATER: usize = 256 * 1024;
/// Smallest frame we send: an Ethernet header (simpletun cannot take less).
pub const MIN_FRAME: usize = 14;

/// Why a session ended.
#[derive(Debug)]
pub enum SessionEnd {
    /// Shutdown was requested (signal); the caller tears down.
    Shutdown,
    /// The connection is gone or unusable; the caller reconnects.
    Lost(LinkLoss),
    /// The server refused our certificate (a TLS alert after the handshake): do not retry.
    Rejected(String),
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
    /// TUN packets discarded while no connection was up.
    pub dropped_link_down: u64,
}

/// The bridge's output for the link: frames become records in the write buffer.
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

/// Buffers reused across sessions.
pub struct Buffers {
    read: BytesMut,
    write: BytesMut,
    packet: Vec<u8>,
    scratch: Vec<u8>,
}

impl Buffers {
    /// `mtu` sizes the TUN packet buffer.
    pub fn new(mtu: u16) -> Buffers {
        Buffers {
            read: BytesMut::with_capacity(2 * READ_CHUNK),
            write: BytesMut::with_capacity(WRITE_HIGH_WATER + READ_CHUNK),
            // Room for a packet a little over the MTU, so one is seen (and dropped) whole.
            packet: vec![0; usize::from(mtu) + 256],
            scratch: Vec::new(),
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
pub struct Session<'a, T> {
    pub tun: &'a mut T,
    pub bridge: &'a mut Bridge,
    pub buffers: &'a mut Buffers,
    pub counters: &'a mut LinkCounters,
    pub max_record: usize,
    /// For explaining TLS failures (names the user's files).
    pub tls: Option<&'a super::TlsSetup>,
    /// The TCP socket under the stream, for `TCP_QUICKACK` (see [`super::transport::quickack`]).
    pub tcp_fd: Option<std::os::fd::RawFd>,
    pub shutdown: &'a CancellationToken,
}

impl<T: PacketDevice> Session<'_, T> {
    /// Runs until the connection is lost or shutdown is requested. Starts by telling the bridge
    /// the link is up (fresh neighbour table, gratuitous ARP); the caller tells it `link_down`.
    pub async fn run<S: AsyncRead + AsyncWrite>(self, stream: S) -> SessionEnd {
        let Session {
            tun,
            bridge,
            buffers,
            counters,
            max_record,
            tls,
            tcp_fd,
            shutdown,
        } = self;
        buffers.clear();
        let Buffers {
            read: rbuf,
            write: wbuf,
            packet,
            scratch,
        } = buffers;
        let (mut reader, mut writer) = tokio::io::split(stream);
        let mut needs_flush = false;
        bridge.link_up(
            Instant::now(),
            &mut RecordSink {
                out: wbuf,
                scratch,
                max_record,
                counters,
            },
        );
        loop {
            let deadline = bridge.poll_timeout().map(tokio::time::Instant::from_std);
            if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
                rbuf.reserve(READ_CHUNK);
            }
            tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    // Best effort: let already-encapsulated frames leave, briefly.
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_millis(200),
                        async { writer.write_all(wbuf).await?; writer.shutdown().await },
                    ).await;
                    return SessionEnd::Shutdown;
                }
                progress = write_or_flush(&mut writer, wbuf), if !wbuf.is_empty() || needs_flush => match progress {
                    Ok(Some(0)) => return SessionEnd::Lost(LinkLoss::Closed),
                    Ok(Some(n)) => {
                        counters.bytes_out += n as u64;
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
                        counters.bytes_in += n as u64;
                        if let Some(fd) = tcp_fd {
                            super::transport::quickack(fd);
                        }
                        let mut sink = RecordSink { out: wbuf, scratch, max_record, counters: &mut *counters };
                        if let Err(e) = handle_records(rbuf, max_record, bridge, tun, &mut sink) {
                            return SessionEnd::Lost(e.into());
                        }
                    }
                    Err(e) => return lost(e, tls),
                },
                got = tun.recv(packet), if wbuf.len() < WRITE_HIGH_WATER => {
                    let mut sink = RecordSink { out: wbuf, scratch, max_record, counters: &mut *counters };
                    if let Err(e) = handle_tun_burst(got, tun, packet, bridge, &mut sink) {
                        tracing::warn!("reading the TUN failed: {e}");
                    }
                }
                () = sleep_until(deadline), if deadline.is_some() => {
                    let mut sink = RecordSink { out: wbuf, scratch, max_record, counters: &mut *counters };
                    bridge.handle_timeout(Instant::now(), &mut sink);
                }
            }
        }
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
            return SessionEnd::Rejected(crate::tls::explain(err, &setup.settings));
        }
    }
    SessionEnd::Lost(LinkLoss::Io(e))
}

/// Hands every complete record in `rbuf` to the bridge and the packets it yields to the TUN,
/// then drops the consumed bytes.
fn handle_records<T: PacketDevice>(
    rbuf: &mut BytesMut,
    max_record: usize,
    bridge: &mut Bridge,
    tun: &mut T,
    sink: &mut RecordSink<'_>,
) -> Result<(), FramingError> {
    let now = Instant::now();
    let mut deframer = Deframer::new(rbuf, max_record);
    let result = loop {
        match deframer.next_record() {
            Ok(Some(frame)) => {
                sink.counters.records_in += 1;
                if let Some(packet) = bridge.handle_frame(now, frame, sink) {
                    if tun.send(packet).is_err() {
                        sink.counters.tun_write_errors += 1;
                    }
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let consumed = deframer.consumed();
    rbuf.advance(consumed);
    result
}

/// Encapsulates the packet just read and every other packet ready right now (up to
/// [`TUN_BATCH`]), so they leave in one socket write.
fn handle_tun_burst<T: PacketDevice>(
    first: io::Result<usize>,
    tun: &mut T,
    packet: &mut [u8],
    bridge: &mut Bridge,
    sink: &mut RecordSink<'_>,
) -> io::Result<()> {
    let now = Instant::now();
    bridge.handle_ip_packet(now, &packet[..first?], sink);
    for _ in 1..TUN_BATCH {
        if sink.out.len() >= WRITE_HIGH_WATER {
            break;
        }
        match tun.try_recv(packet)? {
            Some(n) => bridge.handle_ip_packet(now, &packet[..n], sink),
            None => break,
        }
    }
    Ok(())
}
