//! The driver over loopback TCP against a scripted LAN host, with an in-memory TUN: no root.
//! Proves the whole data path (TUN → bridge → records → peer → records → bridge → TUN), ARP in
//! both directions, reconnection, and the framing limits, through the real driver code.

mod common;

use common::client::{
    exchange, fast_reconnect, local, start_client, start_client_to, stop, CLIENT_MAC, WAIT,
};
use common::lan_peer::{self, CLIENT_IP};
use tapclient::driver::DriverError;
use tokio::net::TcpListener;

#[tokio::test]
async fn packets_flow_both_ways_and_arp_works_in_both_directions() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        lan_peer::serve(stream, 3).await.unwrap()
    });
    let mut client = start_client(port, None, fast_reconnect());
    for i in 0..3u8 {
        exchange(&mut client, &lan_peer::udp_packet(&[i; 100])).await;
    }
    let seen = tokio::time::timeout(WAIT, server).await.unwrap().unwrap();
    assert_eq!(
        seen.gratuitous,
        vec![(CLIENT_MAC.0, CLIENT_IP)],
        "announced once on link up"
    );
    assert_eq!(
        seen.client_mac_from_reply,
        Some(CLIENT_MAC.0),
        "answered the server's ARP"
    );
    assert!(seen.arp_requests_for_us >= 1, "resolved the peer with ARP");
    assert_eq!(seen.bad_records, 0);
    let stats = stop(client).await;
    assert!(
        stats.link.records_in >= 4 && stats.link.records_out >= 4,
        "{stats:?}"
    );
}

#[tokio::test]
async fn reconnects_after_the_server_drops_and_announces_itself_again() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        for _ in 0..2 {
            let (stream, _) = listener.accept().await.unwrap();
            seen.push(lan_peer::serve(stream, 1).await.unwrap());
        }
        seen
    });
    let mut client = start_client(port, None, fast_reconnect());
    exchange(&mut client, &lan_peer::udp_packet(b"first connection")).await;
    exchange(&mut client, &lan_peer::udp_packet(b"after reconnecting")).await;
    let seen = tokio::time::timeout(WAIT, server).await.unwrap().unwrap();
    for s in &seen {
        assert_eq!(s.gratuitous, vec![(CLIENT_MAC.0, CLIENT_IP)]);
        assert!(
            s.arp_requests_for_us >= 1,
            "neighbours re-resolved on the new link"
        );
    }
    let stats = stop(client).await;
    assert!(stats.reconnects >= 1, "{stats:?}");
}

#[tokio::test]
async fn a_dead_first_server_is_followed_by_the_second() {
    // A port with nothing listening: bind, learn the port, close.
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        lan_peer::serve(stream, 1).await.unwrap()
    });
    let mut reconnect = fast_reconnect();
    reconnect.first_connect_attempts = 1;
    let mut client = start_client_to(vec![local(dead_port), local(port)], None, reconnect);
    exchange(&mut client, &lan_peer::udp_packet(b"via the second server")).await;
    let seen = tokio::time::timeout(WAIT, server).await.unwrap().unwrap();
    assert_eq!(seen.reflected, 1);
    stop(client).await;
}

#[tokio::test]
async fn every_server_dead_gives_up_after_the_rounds() {
    let mut ports = Vec::new();
    for _ in 0..2 {
        let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
        ports.push(dead.local_addr().unwrap().port());
    }
    // The listeners are dropped here: nothing listens on either port.
    let mut reconnect = fast_reconnect();
    reconnect.first_connect_attempts = 2;
    let client = start_client_to(ports.iter().map(|&p| local(p)).collect(), None, reconnect);
    let (result, stats) = tokio::time::timeout(WAIT, client.task)
        .await
        .unwrap()
        .unwrap();
    match result {
        Err(DriverError::Unreachable {
            remotes, attempts, ..
        }) => {
            assert_eq!(remotes.len(), 2);
            assert_eq!(attempts, 2, "two rounds over both servers");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert_eq!(stats.connects, 0);
}

#[tokio::test]
async fn a_reconnect_request_reloads_and_reconnects_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(async move {
        // The first connection stays open: only the request can end it.
        let (first, _) = listener.accept().await.unwrap();
        let first = tokio::spawn(lan_peer::serve(first, usize::MAX));
        first_tx.send(()).unwrap();
        let (second, _) = listener.accept().await.unwrap();
        let seen = lan_peer::serve(second, 1).await.unwrap();
        let first = first.await.unwrap().unwrap();
        (first, seen)
    });
    let mut reconnect = fast_reconnect();
    // A backoff delay would show: the request must skip it.
    reconnect.initial_delay = std::time::Duration::from_secs(30);
    reconnect.max_delay = std::time::Duration::from_secs(30);
    let mut client = start_client(port, None, reconnect);
    first_rx.await.unwrap();
    exchange(&mut client, &lan_peer::udp_packet(b"first")).await;
    client.reconnect.notify_one();
    exchange(&mut client, &lan_peer::udp_packet(b"second")).await;
    let (first, second) = tokio::time::timeout(WAIT, server).await.unwrap().unwrap();
    assert!(first.reflected >= 1 && second.reflected == 1);
    assert_eq!(
        second.gratuitous.len(),
        1,
        "announced again on the new link"
    );
    assert_eq!(
        client.reloads.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "credentials re-read once"
    );
    let stats = stop(client).await;
    assert_eq!(stats.reconnects, 1, "{stats:?}");
}

#[tokio::test]
async fn a_reconnect_request_cuts_the_backoff_wait_short() {
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let mut reconnect = fast_reconnect();
    reconnect.initial_delay = std::time::Duration::from_secs(60);
    reconnect.max_delay = std::time::Duration::from_secs(60);
    reconnect.first_connect_attempts = 0;
    let client = start_client(port, None, reconnect);
    // The first attempt fails at once; the driver then waits 45-75 s unless asked.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    client.reconnect.notify_one();
    let reloaded = async {
        while client.reloads.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(WAIT, reloaded)
        .await
        .expect("the request ended the wait");
    stop(client).await;
}

#[tokio::test]
async fn an_oversize_record_drops_the_connection_and_the_client_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut bad, _) = listener.accept().await.unwrap();
        let mut record = vec![0x07, 0xd1];
        record.extend(std::iter::repeat_n(0u8, 2001));
        bad.write_all(&record).await.unwrap();
        // The client must hang up on us: read until EOF (or reset).
        let mut sink = [0u8; 4096];
        while let Ok(n) = bad.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
        let (good, _) = listener.accept().await.unwrap();
        lan_peer::serve(good, 1).await.unwrap()
    });
    let mut client = start_client(port, None, fast_reconnect());
    exchange(
        &mut client,
        &lan_peer::udp_packet(b"after a protocol error"),
    )
    .await;
    let seen = tokio::time::timeout(WAIT, server).await.unwrap().unwrap();
    assert_eq!(seen.reflected, 1);
    let stats = stop(client).await;
    assert_eq!(stats.connects, 2, "{stats:?}");
}

#[tokio::test]
async fn an_unreachable_server_fails_after_the_configured_attempts() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = start_client(port, None, fast_reconnect());
    let (result, stats) = tokio::time::timeout(WAIT, client.task)
        .await
        .unwrap()
        .unwrap();
    match result {
        Err(DriverError::Unreachable { attempts, .. }) => assert_eq!(attempts, 3),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert_eq!(stats.connects, 0);
}
