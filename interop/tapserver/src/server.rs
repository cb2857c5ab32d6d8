//! The server loop: one persistent TAP reader (TAP -> current client, frames dropped while no
//! client is connected) and, per client, one TCP -> TAP thread. Clients are served one at a time.

use crate::record::{self, ReadError, RecordReader, MAX_FRAME};
use crate::tap::Tap;
use std::io::{self, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Command-line options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub tap: String,
    pub listen: SocketAddr,
    pub once: bool,
    pub faithful: bool,
    pub log_frames: bool,
}

/// Writes one line to stderr, prefixed with the program name and a UTC time of day.
pub fn log(msg: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() % 86_400;
    eprintln!(
        "tapserver {:02}:{:02}:{:02}.{:03} {msg}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        now.subsec_millis()
    );
}

/// One connected client.
struct Session {
    peer: SocketAddr,
    stream: TcpStream,
    faithful: bool,
    log_frames: bool,
    closing: AtomicBool,
    reason: Mutex<Option<String>>,
    /// client -> TAP
    rx_frames: AtomicU64,
    rx_bytes: AtomicU64,
    tap_write_errors: AtomicU64,
    /// TAP -> client
    tx_frames: AtomicU64,
    tx_bytes: AtomicU64,
    tx_refused: AtomicU64,
}

impl Session {
    /// Ends the session (first reason wins) and wakes both directions.
    fn close(&self, reason: String) {
        if !self.closing.swap(true, Ordering::SeqCst) {
            *self.reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
        }
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Sends one frame as one record: one `write` call, or (faithful) two like simpletun.
    fn send(&self, frame: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        let mut w = &self.stream;
        if self.faithful {
            let hdr = record::header(frame).map_err(io::Error::other)?;
            w.write_all(&hdr)?;
            w.write_all(frame)
        } else {
            out.clear();
            record::encode(frame, out).map_err(io::Error::other)?;
            w.write_all(out)
        }
    }

    fn summary(&self) -> String {
        let reason = self
            .reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| "session ended".into());
        let mut s = format!(
            "client {} disconnected: {reason}; client->tap {} frames {} bytes, tap->client {} frames {} bytes",
            self.peer,
            self.rx_frames.load(Ordering::Relaxed),
            self.rx_bytes.load(Ordering::Relaxed),
            self.tx_frames.load(Ordering::Relaxed),
            self.tx_bytes.load(Ordering::Relaxed),
        );
        let errors = self.tap_write_errors.load(Ordering::Relaxed);
        if errors > 0 {
            s += &format!(", {errors} tap write errors");
        }
        let refused = self.tx_refused.load(Ordering::Relaxed);
        if refused > 0 {
            s += &format!(", {refused} tap frames not sent (outside the record limits)");
        }
        s
    }
}

struct Shared {
    current: Mutex<Option<Arc<Session>>>,
    dropped_idle: AtomicU64,
}

impl Shared {
    fn current(&self) -> Option<Arc<Session>> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_current(&self, s: Option<Arc<Session>>) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = s;
    }
}

/// Opens the TAP, listens, and serves clients until `--once` is satisfied (or forever).
pub fn run(opts: &Options) -> io::Result<()> {
    let tap = Tap::open(&opts.tap)?;
    let listener = TcpListener::bind(opts.listen)
        .map_err(|e| io::Error::new(e.kind(), format!("listen on {}: {e}", opts.listen)))?;
    let shared = Arc::new(Shared {
        current: Mutex::new(None),
        dropped_idle: AtomicU64::new(0),
    });

    let reader_tap = tap.try_clone()?;
    let reader_shared = Arc::clone(&shared);
    let log_frames = opts.log_frames;
    thread::Builder::new()
        .name("tap->tcp".into())
        .spawn(move || tap_to_tcp(&reader_tap, &reader_shared, log_frames))?;

    log(&format!(
        "listening on {} (tap {}; {}; {})",
        listener.local_addr()?,
        tap.name(),
        if opts.faithful {
            "faithful simpletun: no TCP_NODELAY, length and frame in two writes"
        } else {
            "TCP_NODELAY, one write per record"
        },
        if opts.once {
            "one client, then exit"
        } else {
            "clients served one at a time"
        }
    ));

    loop {
        let (stream, peer) = match listener.accept() {
            Ok(c) => c,
            Err(e) => {
                log(&format!("accept failed: {e}"));
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if let Err(e) = configure(&stream, opts.faithful) {
            log(&format!("client {peer}: socket options: {e}"));
        }
        let session = Arc::new(Session {
            peer,
            stream,
            faithful: opts.faithful,
            log_frames: opts.log_frames,
            closing: AtomicBool::new(false),
            reason: Mutex::new(None),
            rx_frames: AtomicU64::new(0),
            rx_bytes: AtomicU64::new(0),
            tap_write_errors: AtomicU64::new(0),
            tx_frames: AtomicU64::new(0),
            tx_bytes: AtomicU64::new(0),
            tx_refused: AtomicU64::new(0),
        });
        let idle = shared.dropped_idle.swap(0, Ordering::Relaxed);
        log(&format!(
            "client {peer} connected ({idle} tap frames dropped while no client was connected)"
        ));
        shared.set_current(Some(Arc::clone(&session)));
        thread::scope(|scope| {
            let worker = thread::Builder::new()
                .name("tcp->tap".into())
                .spawn_scoped(scope, || tcp_to_tap(&session, &tap));
            match worker {
                Ok(h) => {
                    if h.join().is_err() {
                        session.close("tcp->tap thread panicked".into());
                    }
                }
                Err(e) => session.close(format!("cannot start tcp->tap thread: {e}")),
            }
        });
        shared.set_current(None);
        session.close("session ended".into());
        log(&session.summary());
        if opts.once {
            return Ok(());
        }
    }
}

/// TCP_NODELAY unless faithful; TCP keepalive so a vanished client does not block the next one.
fn configure(stream: &TcpStream, faithful: bool) -> io::Result<()> {
    stream.set_nodelay(!faithful)?;
    let fd = stream.as_raw_fd();
    let set = |level, name, value: libc::c_int| -> io::Result<()> {
        // SAFETY: `value` is a c_int that outlives the call and its size is passed.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)?;
    set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 10)?;
    set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 5)?;
    set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3)
}

/// Client records -> TAP frames, until the client goes away or breaks the protocol.
fn tcp_to_tap(s: &Session, tap: &Tap) {
    let mut reader = RecordReader::new(BufReader::with_capacity(64 * 1024, &s.stream));
    loop {
        match reader.read_record() {
            Ok(Some(frame)) => {
                if s.log_frames {
                    log(&format!("client->tap {}", record::describe_frame(frame)));
                }
                s.rx_frames.fetch_add(1, Ordering::Relaxed);
                s.rx_bytes.fetch_add(frame.len() as u64, Ordering::Relaxed);
                if let Err(e) = tap.write_frame(frame) {
                    if s.tap_write_errors.fetch_add(1, Ordering::Relaxed) == 0 {
                        log(&format!(
                            "tap write failed ({e}); frame dropped (is {} up?)",
                            tap.name()
                        ));
                    }
                }
            }
            Ok(None) => {
                s.close("client closed the connection".into());
                return;
            }
            Err(ReadError::Limit(e)) => {
                log(&format!(
                    "protocol error from {}: {e}; dropping the client",
                    s.peer
                ));
                s.close(format!("protocol error: {e}"));
                return;
            }
            Err(e) => {
                if !s.is_closing() {
                    s.close(e.to_string());
                }
                return;
            }
        }
    }
}

/// TAP frames -> the current client; dropped while there is none.
fn tap_to_tcp(tap: &Tap, shared: &Shared, log_frames: bool) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(record::HEADER_LEN + MAX_FRAME);
    loop {
        let n = match tap.read_frame(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                log(&format!("reading tap {} failed: {e}; exiting", tap.name()));
                std::process::exit(1);
            }
        };
        let frame = &buf[..n];
        let Some(s) = shared.current() else {
            shared.dropped_idle.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        if s.is_closing() {
            continue;
        }
        if let Err(e) = record::check_len(n) {
            if s.tx_refused.fetch_add(1, Ordering::Relaxed) == 0 {
                log(&format!("tap frame not sent to the client: {e}"));
            }
            continue;
        }
        if log_frames {
            log(&format!("tap->client {}", record::describe_frame(frame)));
        }
        match s.send(frame, &mut out) {
            Ok(()) => {
                s.tx_frames.fetch_add(1, Ordering::Relaxed);
                s.tx_bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) => {
                if !s.is_closing() {
                    s.close(format!("write to client failed: {e}"));
                }
            }
        }
    }
}
