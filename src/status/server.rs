//! The status socket of a running client: a Unix stream socket only its owner can open.
//!
//! - The folder is created 0700 when missing; an existing folder (e.g. `/run`) is left as it is.
//! - The socket is bound, made 0600, and only then listens: until `listen` every connection is
//!   refused, so there is no moment at which another user could talk to it.
//! - A socket file left by a client that died (connecting is refused) is replaced; one that
//!   answers means another tapclient runs with this config ([`ServeError::AlreadyRunning`]).
//! - Every accepted connection gets one JSON [`Report`](super::Report) and is closed. The
//!   client's request is never read. Each connection runs in its own task with a write
//!   deadline, at most [`MAX_CONNECTIONS`] at once (more are closed at once), so no reader can
//!   hold up the tunnel: the driver only ever takes the snapshot's lock for a copy.
//! - Peers are checked with `SO_PEERCRED` as well: only our own user and root are answered.
//! - The socket file is removed when the [`Server`] is dropped (every exit path but SIGKILL;
//!   the next start replaces what SIGKILL leaves), and only if it is still ours.

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;

use super::Reporter;

/// Connections served at the same time; further ones are closed unanswered.
pub const MAX_CONNECTIONS: usize = 8;
/// Time a reader gets to take its report.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "another tapclient is already running with this config: its status socket {0} answers \
         (stop it first, or give this one another [status] socket)"
    )]
    AlreadyRunning(PathBuf),
    #[error("{0} exists and is not a socket: remove it, or choose another [status] socket")]
    NotASocket(PathBuf),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ServeError + 'a {
    move |source| ServeError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The listening status socket; dropping it stops serving and removes the socket file.
#[derive(Debug)]
pub struct Server {
    path: PathBuf,
    /// Device and inode of the socket file we bound, so Drop never removes someone else's.
    identity: (u64, u64),
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds `path` and serves `reporter`'s snapshot there. Must be called inside a tokio
    /// runtime (the accept loop is a task of it).
    pub fn bind(path: &Path, reporter: Reporter) -> Result<Server, ServeError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| ServeError::Io {
            action: "serve",
            path: path.to_path_buf(),
            source: io::Error::other(e),
        })?;
        prepare_folder(path)?;
        clear_stale(path)?;
        let listener = listen(path)?;
        let meta = std::fs::symlink_metadata(path).map_err(io_error("inspect", path))?;
        let listener = {
            let _guard = runtime.enter();
            UnixListener::from_std(listener).map_err(io_error("serve", path))
        };
        let listener = match listener {
            Ok(listener) => listener,
            Err(e) => {
                let _ = std::fs::remove_file(path);
                return Err(e);
            }
        };
        tracing::debug!(path = %path.display(), "status socket listening");
        Ok(Server {
            path: path.to_path_buf(),
            identity: (meta.dev(), meta.ino()),
            task: runtime.spawn(accept_loop(listener, reporter)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| (m.dev(), m.ino()) == self.identity);
        if ours {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!(
                    "cannot remove the status socket {}: {e}",
                    self.path.display()
                );
            }
        }
    }
}

/// Creates the socket's folder (0700, parents too) when it does not exist.
fn prepare_folder(path: &Path) -> Result<(), ServeError> {
    let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty()) else {
        return Ok(());
    };
    if folder.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(folder)
        .map_err(io_error("create the folder", folder))
}

/// Removes a socket file nobody listens on; refuses when someone does or it is no socket.
fn clear_stale(path: &Path) -> Result<(), ServeError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error("inspect", path)(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(ServeError::NotASocket(path.to_path_buf()));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(ServeError::AlreadyRunning(path.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(path = %path.display(), "removing a stale status socket");
            std::fs::remove_file(path).map_err(io_error("remove the stale socket", path))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("check the existing socket", path)(e)),
    }
}

/// Bind, chmod 0600, listen — in that order (see the module doc).
fn listen(path: &Path) -> Result<std::os::unix::net::UnixListener, ServeError> {
    use socket2::{Domain, SockAddr, Socket, Type};
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)
        .map_err(io_error("create a socket for", path))?;
    let addr = SockAddr::unix(path).map_err(io_error("use the socket path", path))?;
    if let Err(e) = socket.bind(&addr) {
        return Err(match e.kind() {
            // Another instance bound it since we looked.
            io::ErrorKind::AddrInUse => ServeError::AlreadyRunning(path.to_path_buf()),
            _ => io_error("bind", path)(e),
        });
    }
    let ready = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io_error("set the mode of", path))
        .and_then(|()| socket.listen(16).map_err(io_error("listen on", path)))
        .and_then(|()| {
            socket
                .set_nonblocking(true)
                .map_err(io_error("configure", path))
        });
    match ready {
        Ok(()) => Ok(socket.into()),
        Err(e) => {
            let _ = std::fs::remove_file(path);
            Err(e)
        }
    }
}

async fn accept_loop(listener: UnixListener, reporter: Reporter) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and the like: wait a little rather than spin.
                tracing::debug!("status socket: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::debug!("status socket: too many readers at once; closing a connection");
            continue;
        };
        if !allowed(&stream, me) {
            continue;
        }
        let reporter = reporter.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let json = reporter.report().to_json();
            let _ = tokio::time::timeout(WRITE_TIMEOUT, send(stream, json.as_bytes())).await;
        });
    }
}

async fn send(mut stream: UnixStream, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes).await?;
    stream.shutdown().await
}

/// Root and the user this client runs as may read the status.
fn allowed(stream: &UnixStream, me: u32) -> bool {
    match stream.peer_cred() {
        Ok(cred) => cred.uid() == 0 || cred.uid() == me,
        Err(_) => false,
    }
}
