//! The driver over loopback TLS against a rustls server that requires a client certificate (like
//! stunnel with `verify = 2`), with the identity loaded from a real PKCS#12 file: the same code
//! path as `tapclient --config` with a `[tls]` section, without root.

mod common;

use std::path::Path;

use common::client::{
    exchange, fast_reconnect, local, start_client, start_client_to, stop, CLIENT_MAC, WAIT,
};
use common::lan_peer::{self, CLIENT_IP};
use tapclient::config::{PasswordSource, TlsConfig};
use tapclient::driver::{DriverError, TlsSetup};
use tapclient_certs::{generate, Options, Pki};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

fn pki(dir: &Path) -> Pki {
    generate(dir, &Options::default()).expect("test PKI")
}

/// A TLS server with the PKI's server certificate that requires a client certificate from the
/// PKI's CA.
fn acceptor(pki: &Pki) -> TlsAcceptor {
    TlsAcceptor::from(common::tls_server::requiring_client_cert(
        pki,
        &pki.ca_der,
        None,
    ))
}

/// The client's TLS setup, built the way `tapclient` builds it from a config.
fn client_tls(pki: &Pki, pkcs12: &Path) -> TlsSetup {
    let settings = TlsConfig {
        ca: pki.ca_crt.clone(),
        pkcs12: pkcs12.to_owned(),
        password: PasswordSource::File(pki.client_pass.clone()),
        verify_name: None,
    };
    let ca = tapclient::credentials::load_ca(&settings.ca).unwrap();
    let identity =
        tapclient::credentials::load_pkcs12(&settings.pkcs12, &settings.password).unwrap();
    TlsSetup {
        config: tapclient::tls::client_config(&ca, identity, None).unwrap(),
        settings,
    }
}

#[tokio::test]
async fn traffic_flows_through_tls_with_a_pkcs12_identity() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let acceptor = acceptor(&pki);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let tls = acceptor
            .accept(tcp)
            .await
            .expect("client certificate accepted");
        lan_peer::serve(tls, 2).await.unwrap()
    });
    let mut client = start_client(
        port,
        Some(client_tls(&pki, &pki.client_p12)),
        fast_reconnect(),
    );
    exchange(&mut client, &lan_peer::udp_packet(b"inside TLS 1")).await;
    exchange(&mut client, &lan_peer::udp_packet(b"inside TLS 2")).await;
    let seen = tokio::time::timeout(WAIT, server).await.unwrap().unwrap();
    assert_eq!(seen.gratuitous, vec![(CLIENT_MAC.0, CLIENT_IP)]);
    assert_eq!(seen.client_mac_from_reply, Some(CLIENT_MAC.0));
    stop(client).await;
}

#[tokio::test]
async fn a_server_that_rejects_our_certificate_stops_the_client_without_retrying() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let acceptor = acceptor(&pki);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let mut attempts = 0;
        // Accept until the client gives up; every handshake must fail on our side.
        while let Ok(Ok((tcp, _))) =
            tokio::time::timeout(std::time::Duration::from_secs(2), listener.accept()).await
        {
            attempts += 1;
            assert!(
                acceptor.accept(tcp).await.is_err(),
                "foreign certificate accepted"
            );
        }
        attempts
    });
    // A client certificate from another CA, as stunnel's verify = 2 would refuse it.
    let client = start_client(
        port,
        Some(client_tls(&pki, &pki.other_client_p12)),
        fast_reconnect(),
    );
    let (result, _) = tokio::time::timeout(WAIT, client.task)
        .await
        .unwrap()
        .unwrap();
    match result {
        Err(DriverError::Authentication(why)) => {
            assert!(why.contains("rejected our certificate"), "{why}");
            assert!(why.contains("other-client.p12"), "names the file: {why}");
        }
        other => panic!("expected an authentication failure, got {other:?}"),
    }
    assert_eq!(server.await.unwrap(), 1, "no retry after a rejection");
}

#[tokio::test]
async fn a_server_failing_tls_is_followed_by_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    // The first server's certificate is from a CA we do not trust.
    let other_dir = tempfile::tempdir().unwrap();
    let foreign = acceptor(&generate(other_dir.path(), &Options::default()).unwrap());
    let good = acceptor(&pki);
    let first = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ports = [
        first.local_addr().unwrap().port(),
        second.local_addr().unwrap().port(),
    ];
    tokio::spawn(async move {
        let (tcp, _) = first.accept().await.unwrap();
        let _ = foreign.accept(tcp).await;
    });
    let server = tokio::spawn(async move {
        let (tcp, _) = second.accept().await.unwrap();
        let tls = good.accept(tcp).await.expect("client certificate accepted");
        lan_peer::serve(tls, 1).await.unwrap()
    });
    let mut reconnect = fast_reconnect();
    reconnect.first_connect_attempts = 1;
    let tls = client_tls(&pki, &pki.client_p12);
    let mut client = start_client_to(ports.map(local).to_vec(), Some(tls), reconnect);
    exchange(&mut client, &lan_peer::udp_packet(b"via the second server")).await;
    let seen = tokio::time::timeout(WAIT, server).await.unwrap().unwrap();
    assert_eq!(seen.reflected, 1);
    stop(client).await;
}
