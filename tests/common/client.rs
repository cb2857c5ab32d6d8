//! The tapclient side of the in-process tests: the real driver and bridge with an in-memory TUN.

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::time::Duration;

use super::lan_peer;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tapclient::config::{ReconnectConfig, Remote};

use tapclient::driver::{
    self, Configure, Controls, DriverConfig, DriverError, Protocol, Reload, RunStats, TlsSetup,
};
use tapclient::ether::{Bridge, BridgeConfig, MacAddr};
use tapclient::tun::memory::{MemoryTun, MemoryTunHandle};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const CLIENT_MAC: MacAddr = MacAddr([0x02, 0x00, 0x5e, 0x10, 0x00, 0x02]);
pub const WAIT: Duration = Duration::from_secs(10);

/// simpletun servers push nothing.
struct NoPush;

impl Configure for NoPush {
    fn pushed(
        &mut self,
        _: &tapclient::openvpn::push::PushedConfig,
        _: Option<std::net::IpAddr>,
    ) -> Result<tapclient::ether::BridgeConfig, String> {
        Err("a simpletun server pushes nothing".into())
    }
}

/// Counts reloads (SIGHUP) and changes nothing.
struct CountReloads(Arc<AtomicU32>);

impl Reload for CountReloads {
    fn reload(&mut self, _: &mut DriverConfig) -> Result<(), String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

pub struct Client {
    pub tun: MemoryTunHandle,
    pub shutdown: CancellationToken,
    /// Notify to reconnect at once (what SIGHUP does).
    pub reconnect: Arc<tokio::sync::Notify>,
    /// How often the driver reloaded credentials.
    pub reloads: Arc<AtomicU32>,
    /// What the driver publishes for `tapclient status`.
    pub reporter: tapclient::status::Reporter,
    pub task: JoinHandle<(Result<(), DriverError>, RunStats)>,
}

pub fn local(port: u16) -> Remote {
    Remote {
        host: "127.0.0.1".into(),
        port,
    }
}

pub fn start_client(port: u16, tls: Option<TlsSetup>, reconnect: ReconnectConfig) -> Client {
    start_client_to(vec![local(port)], tls, reconnect)
}

/// A client trying `remotes` in order.
pub fn start_client_to(
    remotes: Vec<Remote>,
    tls: Option<TlsSetup>,
    reconnect: ReconnectConfig,
) -> Client {
    let mut config = DriverConfig {
        protocol: Protocol::Simpletun,
        remotes,
        tls,
        connect_timeout: Duration::from_secs(5),
        max_record: 2000,
        mtu: 1500,
        reconnect,
    };
    let (mut tun, handle) = MemoryTun::pair(256);
    let mut bridge = Some(Bridge::new(BridgeConfig {
        mac: CLIENT_MAC,
        address: "10.98.0.2/24".parse().unwrap(),
        gateway: Some(Ipv4Addr::new(10, 98, 0, 1)),
        routes: vec![],
    }));
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let notify = Arc::new(tokio::sync::Notify::new());
    let reconnect = notify.clone();
    let reloads = Arc::new(AtomicU32::new(0));
    let mut reload = CountReloads(reloads.clone());
    let reporter = tapclient::status::Reporter::new();
    let published = reporter.clone();
    let task = tokio::spawn(async move {
        let mut stats = RunStats {
            reporter: published,
            ..RunStats::default()
        };
        let controls = Controls {
            shutdown: &token,
            reconnect: &notify,
            reload: &mut reload,
        };
        let result = driver::run(
            &mut config,
            &mut tun,
            &mut bridge,
            &mut NoPush,
            controls,
            &mut stats,
        )
        .await;
        (result, stats)
    });
    Client {
        tun: handle,
        shutdown,
        reconnect,
        reloads,
        reporter,
        task,
    }
}

pub fn fast_reconnect() -> ReconnectConfig {
    ReconnectConfig {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        first_connect_attempts: 3,
    }
}

/// Sends `packet` into the tunnel until the reflected packet comes back (packets sent while
/// the link is down or the neighbour unresolved may be dropped, as on a real network).
pub async fn exchange(client: &mut Client, packet: &[u8]) {
    let want = lan_peer::reflected(packet);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        client.tun.to_tunnel.send(packet.to_vec()).await.unwrap();
        let got =
            tokio::time::timeout(Duration::from_millis(300), client.tun.from_tunnel.recv()).await;
        if let Ok(Some(got)) = got {
            assert_eq!(got, want, "the reflected packet arrives unchanged");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no reply through the tunnel"
        );
    }
}

pub async fn stop(client: Client) -> RunStats {
    client.shutdown.cancel();
    let (result, stats) = tokio::time::timeout(WAIT, client.task)
        .await
        .unwrap()
        .unwrap();
    result.unwrap();
    stats
}
