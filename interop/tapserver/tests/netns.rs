//! End to end in a throwaway network namespace (needs root): tapserver creates `tap0`, the
//! kernel answers an ARP request record through it, and a protocol violation drops the client,
//! after which `--once` makes it exit 0.
//!
//! Without root this test passes vacuously with a note on stderr, unless
//! `TAPCLIENT_REQUIRE_ROOT_TESTS=1` is set (as CI does): then it fails. The full lab with
//! tapclient is `interop/run-netns-tests.sh`; the server-side one `interop/run-netns-selftest.sh`.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};
use tapserver::record::{self, RecordReader};

const PORT: u16 = 55555;
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 1);
const PROBE_IP: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 250);
const PROBE_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x02];

/// Deletes the namespace (after killing the server) on every exit path, panics included.
struct Lab {
    ns: String,
    server: Option<Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

fn ip(args: &[&str]) {
    let st = Command::new("ip")
        .args(args)
        .status()
        .expect("run ip (iproute2)");
    assert!(st.success(), "ip {args:?} failed");
}

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

fn arp_request() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&PROBE_MAC);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&PROBE_MAC);
    f.extend_from_slice(&PROBE_IP.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&SERVER_IP.octets());
    f
}

/// Connects to the server from inside namespace `ns` (this thread joins it) and runs the probe.
/// Returns the server TAP's MAC from the ARP reply.
fn probe(ns: &str) -> [u8; 6] {
    let nsfile = File::open(format!("/run/netns/{ns}")).expect("open netns");
    // SAFETY: setns on a valid namespace fd; it only affects this (dedicated) thread.
    let rc = unsafe { libc::setns(nsfile.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());

    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, PORT)).expect("connect to tapserver");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut wire = Vec::new();
    record::encode(&arp_request(), &mut wire).unwrap();
    (&stream).write_all(&wire).unwrap();

    let mut reader = RecordReader::new(&stream);
    let mac = loop {
        let frame = reader
            .read_record()
            .expect("read a record")
            .expect("server hung up before the ARP reply");
        assert!((14..=2000).contains(&frame.len()));
        let is_reply = frame.len() >= 42
            && frame[12..14] == [0x08, 0x06]
            && frame[20..22] == [0, 2]
            && frame[28..32] == SERVER_IP.octets()
            && frame[0..6] == PROBE_MAC;
        if is_reply {
            assert_eq!(frame.len(), 42, "TAP frames are not padded");
            let mut mac = [0; 6];
            mac.copy_from_slice(&frame[22..28]);
            break mac;
        }
    };

    // A record simpletun could not take: the server must drop us.
    (&stream).write_all(&[0, 0]).unwrap();
    let mut buf = [0u8; 4096];
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        match (&stream).read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => assert!(Instant::now() < end, "server kept the connection open"),
        }
    }
    mac
}

#[test]
fn arp_through_tap_then_protocol_error_in_a_netns() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let required = std::env::var_os("TAPCLIENT_REQUIRE_ROOT_TESTS").is_some_and(|v| v == "1");
        assert!(
            !required,
            "TAPCLIENT_REQUIRE_ROOT_TESTS=1 but not running as root"
        );
        eprintln!("note: not root, namespace test not run (set TAPCLIENT_REQUIRE_ROOT_TESTS=1 to make this a failure)");
        return;
    }

    let ns = format!("tst{}-srv", std::process::id());
    ip(&["netns", "add", &ns]);
    let mut lab = Lab {
        ns: ns.clone(),
        server: None,
    };
    ip(&["-n", &ns, "link", "set", "lo", "up"]);

    let log_path = std::env::temp_dir().join(format!("{ns}-tapserver.log"));
    let log = File::create(&log_path).unwrap();
    let listen = format!("127.0.0.1:{PORT}");
    lab.server = Some(
        Command::new("ip")
            .args(["netns", "exec", &ns, env!("CARGO_BIN_EXE_tapserver")])
            .args(["--tap", "tap0", "--listen", &listen, "--once"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tapserver"),
    );
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    wait_for("tapserver to listen", Duration::from_secs(10), || {
        read_log().contains("listening on")
    });
    ip(&["-n", &ns, "addr", "add", "10.98.0.1/24", "dev", "tap0"]);
    ip(&["-n", &ns, "link", "set", "tap0", "up"]);

    let ns2 = ns.clone();
    let mac = thread::spawn(move || probe(&ns2))
        .join()
        .unwrap_or_else(|_| panic!("probe failed; tapserver log:\n{}", read_log()));
    assert_eq!(mac[0] & 1, 0, "TAP MAC must be unicast");

    let mut server = lab.server.take().unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(st) = server.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > end {
            let _ = server.kill();
            let _ = server.wait();
            panic!("--once: tapserver still running; log:\n{}", read_log());
        }
        thread::sleep(Duration::from_millis(50));
    };
    let text = read_log();
    let _ = std::fs::remove_file(&log_path);
    assert!(status.success(), "tapserver exit {status}; log:\n{text}");
    assert!(
        text.contains("protocol error from") && text.contains("record length 0"),
        "log:\n{text}"
    );
    assert!(
        text.contains("client->tap 1 frames 42 bytes"),
        "log:\n{text}"
    );
}
