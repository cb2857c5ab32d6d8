//! The reading end of the status socket, for `tapclient status`: connect, read one JSON
//! report to the end, parse it. Blocking (std) with a deadline: no runtime needed.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Report;

/// The most a report may take; a running client sends a few KiB.
const MAX_REPORT: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no tapclient is running for {config} ({why} at {})", socket.display())]
    NotRunning {
        config: String,
        socket: PathBuf,
        /// "no socket", "a stale socket".
        why: &'static str,
    },
    #[error(
        "permission denied on the status socket {}: run as root or as the user that runs tapclient",
        .0.display()
    )]
    PermissionDenied(PathBuf),
    #[error("cannot read the status from {}: {source}", socket.display())]
    Io { socket: PathBuf, source: io::Error },
    #[error(
        "the status socket {} belongs to uid {owner}, neither root nor you: not trusting what it \
         says (is another user's program using this path?)",
        socket.display()
    )]
    ForeignOwner { socket: PathBuf, owner: u32 },
    #[error("the status from {} is not a tapclient report: {source}", socket.display())]
    Malformed {
        socket: PathBuf,
        source: serde_json::Error,
    },
}

/// Reads the report of the client serving `socket`. `config` names the config file in the
/// "not running" message. Returns the document as sent, and parsed.
pub fn query(
    socket: &Path,
    config: &str,
    timeout: Duration,
) -> Result<(String, Report), QueryError> {
    let io_error = |source: io::Error| match source.kind() {
        io::ErrorKind::PermissionDenied => QueryError::PermissionDenied(socket.to_path_buf()),
        _ => QueryError::Io {
            socket: socket.to_path_buf(),
            source,
        },
    };
    let not_running = |why| QueryError::NotRunning {
        config: config.to_owned(),
        socket: socket.to_path_buf(),
        why,
    };
    // Only a socket bound by root or by us speaks for tapclient (a custom path in a shared
    // folder could be taken by anyone first).
    if let Ok(meta) = std::fs::symlink_metadata(socket) {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != 0 && meta.uid() != me {
            return Err(QueryError::ForeignOwner {
                socket: socket.to_path_buf(),
                owner: meta.uid(),
            });
        }
    }
    let mut stream = match UnixStream::connect(socket) {
        Ok(stream) => stream,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_running("no socket")),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            return Err(not_running("only a stale socket"))
        }
        Err(e) => return Err(io_error(e)),
    };
    stream.set_read_timeout(Some(timeout)).map_err(io_error)?;
    let mut text = String::new();
    (&mut stream)
        .take(MAX_REPORT)
        .read_to_string(&mut text)
        .map_err(io_error)?;
    if text.is_empty() {
        // Answered by closing: the client refused us (another user) or was busy.
        return Err(io_error(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the client closed the connection without a report (busy, or not our user's)",
        )));
    }
    match serde_json::from_str(&text) {
        Ok(report) => Ok((text, report)),
        Err(source) => Err(QueryError::Malformed {
            socket: socket.to_path_buf(),
            source,
        }),
    }
}

impl QueryError {
    /// Whether the error says no client is running (as opposed to one we could not read).
    pub fn is_not_running(&self) -> bool {
        matches!(self, QueryError::NotRunning { .. })
    }
}
