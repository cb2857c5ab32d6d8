//! The driver's OpenVPN glue over loopback TCP: the real driver, session loop and engine
//! against the scripted OpenVPN server (`common/ovpn_server.rs`) served by a small tokio task.
//! Proves the clean disconnect: on shutdown the session sends `EXIT` when the server
//! negotiated `cc-exit` (§7.3), waits for its acknowledgement, and closes; without `cc-exit` it
//! just closes.

mod common;

use std::time::{Duration, Instant};

use common::client::{local, CLIENT_MAC, WAIT};
use common::ovpn_net::{client_settings, server_config};
use common::ovpn_server::{Server, ServerConfig, ServerWrap, EKM_PUSH};
use tapclient::config::{PasswordSource, ReconnectConfig, TlsConfig};
use tapclient::driver::{self, Configure, Controls, DriverConfig, Protocol, Reload, RunStats};
use tapclient::ether::{Bridge, BridgeConfig};
use tapclient::openvpn::push::{PushedConfig, RouteGateway};
use tapclient::tun::memory::MemoryTun;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// The stock push without `cc-exit`.
const NO_CC_EXIT_PUSH: &str = "PUSH_REPLY,route-gateway 10.99.0.1,\
     ifconfig 10.99.0.2 255.255.255.0,peer-id 0,cipher AES-256-GCM,protocol-flags tls-ekm";

/// The pushed address, as the app would apply it (no system changes here).
struct FromPush;

impl Configure for FromPush {
    fn pushed(
        &mut self,
        pushed: &PushedConfig,
        _: Option<std::net::IpAddr>,
    ) -> Result<BridgeConfig, String> {
        Ok(BridgeConfig {
            mac: CLIENT_MAC,
            address: pushed.ifconfig.ok_or("no ifconfig pushed")?,
            gateway: match pushed.route_gateway {
                Some(RouteGateway::Addr(ip)) => Some(ip),
                _ => None,
            },
            routes: vec![],
        })
    }
}

/// Credentials never change here.
struct NoReload;

impl Reload for NoReload {
    fn reload(&mut self, _: &mut DriverConfig) -> Result<(), String> {
        Ok(())
    }
}

/// Serves one connection with the scripted server until the client closes it; `up` fires
/// when the first frame (the client's gratuitous ARP) arrives. Returns the server to inspect.
async fn serve(listener: TcpListener, cfg: ServerConfig, up: oneshot::Sender<()>) -> Server {
    let (sock, _) = listener.accept().await.unwrap();
    serve_on(sock, cfg, Some(up), false).await
}

/// Serves `sock` until the client closes it, or (`hang_up_when_up`) until the tunnel is up.
async fn serve_on(
    mut sock: tokio::net::TcpStream,
    cfg: ServerConfig,
    mut up: Option<oneshot::Sender<()>>,
    hang_up_when_up: bool,
) -> Server {
    sock.set_nodelay(true).unwrap();
    let mut server = Server::new(cfg);
    let (mut pending, mut chunk) = (Vec::new(), [0u8; 4096]);
    loop {
        let now = Instant::now();
        let mut out = Vec::new();
        while let Some(packet) = server.poll_transmit(now) {
            out.extend_from_slice(&(packet.len() as u16).to_be_bytes());
            out.extend_from_slice(&packet);
        }
        if sock.write_all(&out).await.is_err() {
            return server;
        }
        let wait = server
            .poll_timeout()
            .map_or(Duration::from_millis(100), |t| {
                t.saturating_duration_since(now)
            })
            .min(Duration::from_millis(100));
        let n = match tokio::time::timeout(wait, sock.read(&mut chunk)).await {
            Err(_) => continue,
            Ok(Ok(0) | Err(_)) => return server,
            Ok(Ok(n)) => n,
        };
        pending.extend_from_slice(&chunk[..n]);
        while let Some(mut record) = take_record(&mut pending) {
            server.handle_packet(Instant::now(), &mut record);
        }
        if !server.frames.is_empty() {
            if let Some(up) = up.take() {
                let _ = up.send(());
            }
            if hang_up_when_up {
                return server;
            }
        }
    }
}

fn take_record(pending: &mut Vec<u8>) -> Option<Vec<u8>> {
    let len = usize::from(u16::from_be_bytes([*pending.first()?, *pending.get(1)?]));
    let record = pending.get(2..2 + len)?.to_vec();
    pending.drain(..2 + len);
    Some(record)
}

/// A driver config for the scripted server on `port`.
fn driver_config(
    port: u16,
    settings: std::sync::Arc<tapclient::openvpn::client::Settings>,
) -> DriverConfig {
    DriverConfig {
        protocol: Protocol::OpenVpn {
            settings,
            tls_files: TlsConfig {
                ca: "ca.crt".into(),
                pkcs12: "client.p12".into(),
                password: PasswordSource::Unset,
                verify_name: None,
            },
        },
        remotes: vec![local(port)],
        tls: None,
        connect_timeout: WAIT,
        max_record: 2000,
        mtu: 1500,
        reconnect: ReconnectConfig {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            first_connect_attempts: 1,
        },
    }
}

/// Runs the driver with `config` until `shutdown`.
fn spawn_driver(
    mut config: DriverConfig,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<(Result<(), tapclient::driver::DriverError>, RunStats)> {
    tokio::spawn(async move {
        let (mut tun, _handle) = MemoryTun::pair(16);
        let mut bridge: Option<Bridge> = None;
        let mut stats = RunStats::default();
        let (reconnect, mut reload) = (tokio::sync::Notify::new(), NoReload);
        let controls = Controls {
            shutdown: &shutdown,
            reconnect: &reconnect,
            reload: &mut reload,
        };
        let result = driver::run(
            &mut config,
            &mut tun,
            &mut bridge,
            &mut FromPush,
            controls,
            &mut stats,
        )
        .await;
        (result, stats)
    })
}

/// Connects the driver to a scripted server with `push`, waits for the tunnel, shuts the
/// client down; returns the server and how long the shutdown took.
async fn connect_and_shut_down(push: &str) -> (Server, Duration) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut cfg = server_config();
    cfg.push = push.to_owned();
    let (up_tx, up_rx) = oneshot::channel();
    let server = tokio::spawn(serve(listener, cfg, up_tx));
    let config = driver_config(port, client_settings(&ServerWrap::None));
    let shutdown = CancellationToken::new();
    let driver = spawn_driver(config, shutdown.clone());
    tokio::time::timeout(WAIT, up_rx).await.unwrap().unwrap();
    let started = Instant::now();
    shutdown.cancel();
    let (result, stats) = tokio::time::timeout(WAIT, driver).await.unwrap().unwrap();
    let took = started.elapsed();
    result.unwrap();
    assert_eq!(stats.link.established, 1, "{stats:?}");
    let server = tokio::time::timeout(WAIT, server).await.unwrap().unwrap();
    (server, took)
}

#[tokio::test]
async fn shutdown_sends_exit_when_the_server_negotiated_cc_exit() {
    let (server, took) = connect_and_shut_down(EKM_PUSH).await;
    assert_eq!(server.messages, ["PUSH_REQUEST", "EXIT"]);
    assert!(
        took < driver::session::EXIT_GRACE,
        "ACKed at once, took {took:?}"
    );
}

#[tokio::test]
async fn shutdown_just_closes_without_cc_exit() {
    let (server, took) = connect_and_shut_down(NO_CC_EXIT_PUSH).await;
    assert_eq!(server.messages, ["PUSH_REQUEST"]);
    assert!(took < driver::session::EXIT_GRACE, "took {took:?}");
}

#[tokio::test]
async fn a_reconnect_logs_in_with_the_pushed_auth_token() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = || {
        let mut cfg = server_config();
        cfg.push = format!("{EKM_PUSH},auth-token SESS_tok");
        cfg
    };
    let servers = tokio::spawn(async move {
        let (first, _) = listener.accept().await.unwrap();
        // Up, then the connection drops (a network blip): the client must come back.
        let first = serve_on(first, config(), None, true).await;
        let (second, _) = listener.accept().await.unwrap();
        let (up_tx, up_rx) = oneshot::channel();
        let second = tokio::spawn(serve_on(second, config(), Some(up_tx), false));
        (first, second, up_rx)
    });
    let mut settings = common::ovpn_net::settings(&ServerWrap::None);
    settings.user_pass = Some(
        tapclient::openvpn::client::UserPass::new("alice".to_owned(), "otp-123456".to_owned())
            .unwrap(),
    );
    let shutdown = CancellationToken::new();
    let driver = spawn_driver(driver_config(port, settings.into()), shutdown.clone());
    let (first, second, up_rx) = tokio::time::timeout(WAIT, servers).await.unwrap().unwrap();
    tokio::time::timeout(WAIT, up_rx).await.unwrap().unwrap();
    shutdown.cancel();
    let (result, stats) = tokio::time::timeout(WAIT, driver).await.unwrap().unwrap();
    result.unwrap();
    let second = tokio::time::timeout(WAIT, second).await.unwrap().unwrap();
    let login = |s: &Server| {
        let key = &s.client_keys[0];
        (key.username.clone(), key.password.clone())
    };
    assert_eq!(login(&first), ("alice".into(), "otp-123456".into()));
    assert_eq!(
        login(&second),
        ("alice".into(), "SESS_tok".into()),
        "the one-time password is not sent again"
    );
    assert_eq!(stats.reconnects, 1, "{stats:?}");
}
