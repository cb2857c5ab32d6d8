//! Reaching the server: name resolution, TCP connect with a deadline, `TCP_NODELAY`, and the
//! optional TLS handshake. Nothing is sent to the server before TLS has authenticated it.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_util::either::Either;

use crate::config::Remote;

/// The byte stream to the server: plain TCP or TLS over TCP.
pub type Stream = Either<TcpStream, TlsStream<TcpStream>>;

/// The TCP connection under `stream`, TLS or not.
fn tcp(stream: &Stream) -> &TcpStream {
    match stream {
        Either::Left(tcp) => tcp,
        Either::Right(tls) => tls.get_ref().0,
    }
}

/// The TCP socket under `stream` (for socket options during the session).
pub fn tcp_fd(stream: &Stream) -> std::os::fd::RawFd {
    std::os::fd::AsRawFd::as_raw_fd(tcp(stream))
}

/// The server's address on this connection.
pub fn peer_ip(stream: &Stream) -> Option<std::net::IpAddr> {
    tcp(stream).peer_addr().ok().map(|a| a.ip())
}

/// Asks the kernel to acknowledge received data at once instead of delaying the ACK (Linux
/// `TCP_QUICKACK`, which the kernel clears again by itself, so it is re-armed after every read).
///
/// A peer that writes without `TCP_NODELAY` and splits records over several writes — simpletun
/// writes the length and the frame separately — otherwise waits for our delayed ACK (Nagle)
/// before sending the rest of each record: ~15-40 ms per packet. Elsewhere this does nothing.
pub fn quickack(fd: std::os::fd::RawFd) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `fd` is the session's TCP socket, open for as long as the session runs.
        let sock = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        // Best effort: a failure only costs latency.
        let _ = socket2::SockRef::from(&sock).set_tcp_quickack(true);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = fd;
}

/// Why a connection attempt failed, sorted by what the reconnect loop does about it.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Worth retrying: DNS, refused, reset, timeout, a handshake cut off.
    #[error("{0}")]
    Transient(String),
    /// Not worth retrying: the server failed authentication, or it rejected ours.
    #[error("{0}")]
    Authentication(String),
}

/// TLS settings for the connection (the server name is each remote's host).
#[derive(Clone)]
pub struct TlsSetup {
    pub config: Arc<rustls::ClientConfig>,
    /// The user's TLS settings, so failures can name the files involved.
    pub settings: crate::config::TlsConfig,
}

/// Connects to `remote` within `timeout`, trying each resolved address in turn.
pub async fn connect(
    remote: &Remote,
    tls: Option<&TlsSetup>,
    timeout: Duration,
) -> Result<Stream, ConnectError> {
    match tokio::time::timeout(timeout, connect_inner(remote, tls)).await {
        Ok(result) => result,
        Err(_) => Err(ConnectError::Transient(format!(
            "no connection to {remote} within {} s",
            timeout.as_secs_f32()
        ))),
    }
}

async fn connect_inner(remote: &Remote, tls: Option<&TlsSetup>) -> Result<Stream, ConnectError> {
    let tcp = connect_tcp(remote).await?;
    let Some(tls) = tls else {
        return Ok(Either::Left(tcp));
    };
    let connector = TlsConnector::from(tls.config.clone());
    match connector
        .connect(crate::tls::server_name(&remote.host), tcp)
        .await
    {
        Ok(stream) => Ok(Either::Right(stream)),
        Err(e) => Err(classify_tls_io_error(remote, tls, &e)),
    }
}

async fn connect_tcp(remote: &Remote) -> Result<TcpStream, ConnectError> {
    let addrs = tokio::net::lookup_host((remote.host.as_str(), remote.port))
        .await
        .map_err(|e| ConnectError::Transient(format!("cannot resolve {}: {e}", remote.host)))?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                stream
                    .set_nodelay(true)
                    .map_err(|e| ConnectError::Transient(format!("cannot set TCP_NODELAY: {e}")))?;
                return Ok(stream);
            }
            Err(e) => last = Some(format!("{addr}: {e}")),
        }
    }
    Err(ConnectError::Transient(match last {
        Some(detail) => format!("cannot connect to {remote} ({detail})"),
        None => format!("{} resolved to no address", remote.host),
    }))
}

/// A TLS failure (rustls error inside the I/O error) means the peer is not who it must be, or
/// refused us: retrying cannot help. Anything else is the network.
pub fn classify_tls_io_error(remote: &Remote, setup: &TlsSetup, e: &io::Error) -> ConnectError {
    match tls_error(e) {
        Some(tls) => ConnectError::Authentication(format!(
            "TLS with {remote} failed: {}",
            crate::tls::explain(tls, &setup.settings)
        )),
        None => ConnectError::Transient(format!("TLS handshake with {remote} failed: {e}")),
    }
}

/// The rustls error carried inside an I/O error, if any.
pub fn tls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// True for an alert by which the server says it does not accept our certificate (with TLS 1.3
/// this arrives after the handshake, on the first read).
pub fn is_rejection_alert(e: &rustls::Error) -> bool {
    use rustls::AlertDescription as A;
    matches!(
        e,
        rustls::Error::AlertReceived(
            A::BadCertificate
                | A::UnsupportedCertificate
                | A::CertificateRevoked
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::UnknownCA
                | A::AccessDenied
                | A::CertificateRequired
                | A::HandshakeFailure
                | A::DecryptError
        )
    )
}
