//! The status socket and the reporter: owner-only modes, what a query returns (text and JSON),
//! stale and live sockets, removal on drop, readers that never read, and the driver publishing
//! its state and counters over a real (loopback) connection. No root needed.

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener as StdListener, UnixStream as StdStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::client::{exchange, fast_reconnect, start_client, stop, CLIENT_MAC};
use common::lan_peer;
use tapclient::driver::LinkCounters;
use tapclient::ether::{Bridge, BridgeConfig};
use tapclient::status::{self, QueryError, Report, Reporter, ServeError, Server, State};
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_secs(5);

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

fn query(path: &Path) -> Result<(String, Report), QueryError> {
    status::query(path, "office.toml", TIMEOUT)
}

/// A reporter as a client that is up would leave it, with counters from a real bridge.
fn published() -> Reporter {
    let reporter = Reporter::for_config(Path::new("/etc/tapclient/office.toml"));
    reporter.set_tun("tun7");
    reporter.connecting("vpn.example.com:1194", 1, 2);
    reporter.connected(Some("198.18.0.1".parse().unwrap()), 3, 2);
    reporter.handshake(State::Tls);
    reporter.handshake(State::Authenticating);
    reporter.up(Some((2, "AES-256-GCM")));
    reporter.rekeyed(3, "AES-256-GCM");
    let bridge = Bridge::new(BridgeConfig {
        mac: CLIENT_MAC,
        address: "10.99.0.2/24".parse().unwrap(),
        gateway: Some("10.99.0.1".parse().unwrap()),
        routes: vec![],
    });
    let link = LinkCounters {
        bytes_in: 5 * 1024 * 1024,
        records_in: 4000,
        bytes_out: 2048,
        records_out: 20,
        dropped_link_down: 6,
        ..LinkCounters::default()
    };
    reporter.publish(&link, Some(&bridge));
    reporter
}

#[tokio::test]
async fn the_folder_is_0700_the_socket_0600_and_an_existing_folder_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("run/tapclient/office.sock");
    let server = Server::bind(&path, Reporter::new()).unwrap();
    assert_eq!(server.path(), path);
    assert_eq!(mode(&path), 0o600, "socket");
    assert_eq!(mode(path.parent().unwrap()), 0o700, "created folder");
    assert_eq!(mode(&dir.path().join("run")), 0o700, "created parent");
    assert_eq!(mode(dir.path()), 0o755, "an existing folder keeps its mode");

    // A second socket in the existing folder: the folder is not touched.
    let other = dir.path().join("run/tapclient/home.sock");
    std::fs::set_permissions(
        path.parent().unwrap(),
        std::fs::Permissions::from_mode(0o750),
    )
    .unwrap();
    let _second = Server::bind(&other, Reporter::new()).unwrap();
    assert_eq!(mode(path.parent().unwrap()), 0o750);
    assert_eq!(mode(&other), 0o600);
}

#[tokio::test]
async fn a_query_returns_what_was_published_as_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("office.sock");
    let _server = Server::bind(&path, published()).unwrap();
    let (document, report) = tokio::task::spawn_blocking(move || query(&path).unwrap())
        .await
        .unwrap();

    let json: serde_json::Value = serde_json::from_str(&document).unwrap();
    assert_eq!(json["state"], "up");
    assert_eq!(json["pid"], std::process::id());
    assert_eq!(json["remote"], "vpn.example.com:1194");
    assert_eq!(json["remote_index"], 2);
    assert_eq!(json["connects"], 3);
    assert_eq!(json["reconnects"], 2);
    assert_eq!(json["bytes_in"], 5 * 1024 * 1024);
    assert_eq!(json["address"], "10.99.0.2/24");
    assert_eq!(json["drops"]["no_tunnel"], 6);
    assert_eq!(json["data_channel"]["cipher"], "AES-256-GCM");
    assert_eq!(json["data_channel"]["key_id"], 3);
    assert_eq!(json["data_channel"]["renegotiations"], 1);
    assert_eq!(serde_json::from_str::<Report>(&document).unwrap(), report);

    let text = report.to_text();
    for (key, value) in [
        ("state", "up for 0s"),
        ("server", "vpn.example.com:1194 (198.18.0.1), remote 2 of 2"),
        (
            "interface",
            "tun7, 10.99.0.2/24, gateway 10.99.0.1, mac 02:00:5e:10:00:02",
        ),
        ("connections", "3 (2 reconnects)"),
        (
            "data channel",
            "AES-256-GCM, key_id 3, key age 0s, 1 renegotiations",
        ),
        ("from server", "5.00 MiB in 4000 records"),
        ("to server", "2.00 KiB in 20 records"),
        ("drops", "no_tunnel 6"),
    ] {
        let found = text.lines().any(|l| {
            l.split_once(':')
                .is_some_and(|(k, v)| k == key && v.trim_start() == value)
        });
        assert!(found, "missing {key}: {value} in\n{text}");
    }
}

#[tokio::test]
async fn a_stale_socket_is_replaced_and_a_live_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("office.sock");
    // What a SIGKILLed client leaves: the file, nobody listening.
    drop(StdListener::bind(&path).unwrap());
    let q = path.clone();
    let err = tokio::task::spawn_blocking(move || query(&q).unwrap_err())
        .await
        .unwrap();
    assert!(err.is_not_running(), "{err}");
    assert!(err.to_string().contains("stale socket"), "{err}");

    let server = Server::bind(&path, published()).unwrap();
    let q = path.clone();
    let (_, report) = tokio::task::spawn_blocking(move || query(&q).unwrap())
        .await
        .unwrap();
    assert_eq!(report.state, State::Up);

    let err = Server::bind(&path, Reporter::new()).unwrap_err();
    assert!(matches!(err, ServeError::AlreadyRunning(_)), "{err}");
    assert!(
        err.to_string()
            .contains("another tapclient is already running"),
        "{err}"
    );
    let q = path.clone();
    tokio::task::spawn_blocking(move || query(&q).unwrap())
        .await
        .unwrap();
    drop(server);

    // Not a socket: never removed.
    std::fs::write(&path, "notes").unwrap();
    let err = Server::bind(&path, Reporter::new()).unwrap_err();
    assert!(matches!(err, ServeError::NotASocket(_)), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "notes");
}

#[tokio::test]
async fn the_socket_is_removed_on_drop_but_only_if_it_is_still_ours() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("office.sock");
    drop(Server::bind(&path, Reporter::new()).unwrap());
    assert!(!path.exists(), "removed on drop");
    let err = query(&path).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("no tapclient is running for office.toml (no socket at"),
        "{err}"
    );

    // Someone removed ours and another client took the path: ours must not delete theirs.
    let server = Server::bind(&path, Reporter::new()).unwrap();
    std::fs::remove_file(&path).unwrap();
    let theirs = StdListener::bind(&path).unwrap();
    drop(server);
    assert!(path.exists(), "the other socket survives our drop");
    drop(theirs);
}

#[tokio::test]
async fn readers_that_never_read_block_neither_publishing_nor_other_readers_for_long() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("office.sock");
    let reporter = published();
    // A report larger than a socket buffer, so writing it to a reader that never reads blocks.
    let long_reason = "x".repeat(600 * 1024);
    let link = LinkCounters::default();
    reporter.reconnecting(&long_reason, Some(Duration::from_secs(1)), &link, None);
    let _server = Server::bind(&path, reporter.clone()).unwrap();
    let q = path.clone();
    let idle: Vec<StdStream> = tokio::task::spawn_blocking(move || {
        (0..4 * status::MAX_CONNECTIONS)
            .map(|_| StdStream::connect(&q).unwrap())
            .collect()
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The driver's side never waits for them.
    let started = Instant::now();
    for _ in 0..10_000 {
        reporter.publish(&link, None);
    }
    reporter.connecting("vpn.example.com:1194", 0, 1);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "publishing waited on readers"
    );

    // A reader that does read gets a report once the stuck ones have timed out.
    let q = path.clone();
    let (report, waited) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        loop {
            match query(&q) {
                Ok((_, report)) => return (report, started.elapsed()),
                Err(e) => assert!(
                    started.elapsed() < TIMEOUT,
                    "no report within {TIMEOUT:?}: {e}"
                ),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    assert_eq!(report.state, State::Connecting);
    assert!(
        waited <= status::WRITE_TIMEOUT + Duration::from_secs(1),
        "{waited:?}"
    );
    drop(idle);
}

#[tokio::test]
async fn a_reader_gets_one_report_and_the_connection_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("office.sock");
    let _server = Server::bind(&path, published()).unwrap();
    let text = tokio::task::spawn_blocking(move || {
        let mut stream = StdStream::connect(&path).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    })
    .await
    .unwrap();
    assert!(text.ends_with("}\n"), "{text}");
    serde_json::from_str::<Report>(&text).unwrap();
}

/// Waits until `check` accepts the published snapshot (the driver publishes counters at most
/// once a second).
async fn eventually(reporter: &Reporter, what: &str, check: impl Fn(&Report) -> bool) -> Report {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let report = reporter.report();
        if check(&report) {
            return report;
        }
        assert!(Instant::now() < deadline, "{what}: last report {report:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_driver_publishes_states_counters_and_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (drop_tx, drop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let (first, _) = listener.accept().await.unwrap();
        let _ = drop_rx.await;
        drop(first);
        let (second, _) = listener.accept().await.unwrap();
        lan_peer::serve(second, 1).await.unwrap();
    });
    let mut client = start_client(port, None, fast_reconnect());
    let reporter = client.reporter.clone();
    let up = eventually(&reporter, "up", |r| r.state == State::Up).await;
    assert_eq!((up.connects, up.reconnects), (1, 0));
    assert_eq!(
        up.remote.as_deref(),
        Some(format!("127.0.0.1:{port}").as_str())
    );
    assert_eq!(up.server_ip.as_deref(), Some("127.0.0.1"));
    assert!(up.data_channel.is_none(), "simpletun has no data channel");

    // Packets while the peer says nothing: counted from the TUN, published within a second.
    for i in 0..3u8 {
        client
            .tun
            .to_tunnel
            .send(lan_peer::udp_packet(&[i; 40]))
            .await
            .unwrap();
    }
    eventually(&reporter, "counters published", |r| {
        r.packets_from_tun >= 3 && r.bytes_out > 0 && r.address.as_deref() == Some("10.98.0.2/24")
    })
    .await;

    drop_tx.send(()).unwrap();
    let lost = eventually(&reporter, "reconnect", |r| {
        r.reconnects == 1 && r.state == State::Up
    })
    .await;
    let last = lost.last_disconnect.expect("the loss is remembered");
    assert!(last.reason.contains("lost"), "{}", last.reason);
    exchange(&mut client, &lan_peer::udp_packet(b"after reconnecting")).await;
    let after = eventually(&reporter, "traffic counted", |r| r.packets_to_tun >= 1).await;
    assert_eq!(after.connects, 2);
    let stats = stop(client).await;
    assert_eq!(stats.reconnects, 1);
    server.await.unwrap();
}

/// A config whose status socket is `office.sock` beside it.
fn write_config(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("office.toml");
    let text = "[server]\nprotocol = \"simpletun\"\nremote = \"127.0.0.1:9\"\n\n\
                [ip]\naddress = \"10.98.0.2/24\"\n\n[status]\nsocket = \"office.sock\"\n";
    std::fs::write(&config, text).unwrap();
    config
}

/// `tapclient ARGS...` (run off the runtime thread, so the test's server keeps serving).
async fn tapclient(args: &[&std::ffi::OsStr]) -> std::process::Output {
    let args: Vec<_> = args.iter().map(|a| a.to_os_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tapclient"))
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn tapclient_status_prints_text_or_json_and_exits_1_when_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let status = std::ffi::OsStr::new("status");
    let flag = std::ffi::OsStr::new("--config");
    let out = tapclient(&[status, flag, config.as_os_str()]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let socket = dir.path().join("office.sock");
    let want = format!(
        "no tapclient is running for {} (no socket at {})",
        config.display(),
        socket.display()
    );
    assert!(stderr.contains(&want), "{stderr}");

    let _server = Server::bind(&socket, published()).unwrap();
    let out = tapclient(&[status, flag, config.as_os_str()]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("tapclient:"), "{stdout}");
    assert!(
        stdout.contains("\nstate:") && stdout.contains("up for"),
        "{stdout}"
    );

    let json = std::ffi::OsStr::new("--json");
    let out = tapclient(&[status, flag, config.as_os_str(), json]).await;
    assert_eq!(out.status.code(), Some(0));
    let report: Report = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report.state, report.connects), (State::Up, 3));
}

#[test]
fn a_socket_of_another_user_is_not_trusted() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let required = std::env::var_os("TAPCLIENT_REQUIRE_ROOT_TESTS").is_some_and(|v| v == "1");
        assert!(
            !required,
            "TAPCLIENT_REQUIRE_ROOT_TESTS=1 but not running as root"
        );
        eprintln!("note: not root, cannot give a socket to another user; test not run");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("office.sock");
    let _listener = StdListener::bind(&path).unwrap();
    std::os::unix::fs::lchown(&path, Some(65534), Some(65534)).unwrap();
    match query(&path) {
        Err(QueryError::ForeignOwner { owner, .. }) => assert_eq!(owner, 65534),
        other => panic!("expected ForeignOwner, got {other:?}"),
    }
}
