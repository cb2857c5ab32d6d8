//! The client config against a rustls server requiring a client certificate, pumped in memory.
//!
//! Covers the good case (TLS 1.2 and 1.3) and every rejection the user must be told about:
//! server certificate from another CA, without EKU serverAuth, not matching `verify_name`, and
//! our certificate refused by the server.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    ClientConnection, RootCertStore, ServerConfig, ServerConnection, SupportedProtocolVersion,
};
use tapclient::config::{PasswordSource, TlsConfig};
use tapclient::credentials::{load_ca, load_pkcs12};
use tapclient::tls::{client_config, explain, server_name};
use tapclient_certs::{generate, Options, Pki};

const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
const TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

struct Lab {
    _dir: tempfile::TempDir,
    pki: Pki,
}

fn lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let pki = generate(dir.path(), &Options::default()).unwrap();
    Lab { _dir: dir, pki }
}

/// What the user configured: which CA file, which PKCS#12, which name.
struct ClientSide<'a> {
    ca: &'a Path,
    pkcs12: &'a Path,
    verify_name: Option<&'a str>,
}

impl Lab {
    fn client(&self) -> ClientSide<'_> {
        ClientSide {
            ca: &self.pki.ca_crt,
            pkcs12: &self.pki.client_p12,
            verify_name: None,
        }
    }

    /// A server presenting `cert` (+ our CA) and requiring a client certificate from our CA.
    fn server(
        &self,
        cert: &[u8],
        key: &[u8],
        versions: &[&'static SupportedProtocolVersion],
    ) -> ServerConnection {
        let chain = vec![cert.to_vec(), self.pki.ca_der.clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_vec()));
        self.server_with_chain(chain, key, versions)
    }

    /// A server presenting `chain` (leaf first) and requiring a client certificate from our CA.
    fn server_with_chain(
        &self,
        chain: Vec<Vec<u8>>,
        key: PrivateKeyDer<'static>,
        versions: &[&'static SupportedProtocolVersion],
    ) -> ServerConnection {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.pki.ca_der.clone()))
            .unwrap();
        let client_verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .unwrap();
        let chain = chain.into_iter().map(CertificateDer::from).collect();
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(chain, key)
            .unwrap();
        ServerConnection::new(Arc::new(config)).unwrap()
    }

    fn good_server(&self, versions: &[&'static SupportedProtocolVersion]) -> ServerConnection {
        self.server(&self.pki.server_der, &self.pki.server_key_der, versions)
    }
}

impl ClientSide<'_> {
    fn tls_config(&self) -> TlsConfig {
        TlsConfig {
            ca: self.ca.to_owned(),
            pkcs12: self.pkcs12.to_owned(),
            password: PasswordSource::Env("TAPCLIENT_TLS_TEST_PASSWORD".into()),
            verify_name: self.verify_name.map(str::to_owned),
        }
    }

    fn connect(&self, host: &str) -> ClientConnection {
        let ca = load_ca(self.ca).unwrap();
        let pass = PasswordSource::File(self.pkcs12.with_file_name("client.pass"));
        let identity = load_pkcs12(self.pkcs12, &pass).unwrap();
        let config = client_config(&ca, identity, self.verify_name).unwrap();
        ClientConnection::new(config, server_name(host)).unwrap()
    }
}

#[derive(Debug, Default)]
struct Outcome {
    client: Option<rustls::Error>,
    server: Option<rustls::Error>,
}

/// Moves TLS records between the two ends until nothing moves; then, if both are happy,
/// sends application data both ways (TLS 1.3: the server's verdict on our certificate only
/// reaches us after our handshake "completed").
fn run(client: &mut ClientConnection, server: &mut ServerConnection) -> Outcome {
    let mut outcome = Outcome::default();
    pump(client, server, &mut outcome);
    if outcome.client.is_none() && outcome.server.is_none() {
        assert!(!client.is_handshaking() && !server.is_handshaking());
        client.writer().write_all(b"ping").unwrap();
        pump(client, server, &mut outcome);
        if outcome.client.is_none() && outcome.server.is_none() {
            let mut got = [0u8; 4];
            server.reader().read_exact(&mut got).unwrap();
            assert_eq!(&got, b"ping");
            server.writer().write_all(b"pong").unwrap();
            pump(client, server, &mut outcome);
            client.reader().read_exact(&mut got).unwrap();
            assert_eq!(&got, b"pong");
        }
    }
    outcome
}

fn pump(client: &mut ClientConnection, server: &mut ServerConnection, outcome: &mut Outcome) {
    for _ in 0..32 {
        let mut moved = false;
        let mut wire = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut wire).unwrap();
        }
        if !wire.is_empty() && outcome.server.is_none() {
            moved = true;
            let mut rd = &wire[..];
            while !rd.is_empty() && outcome.server.is_none() {
                server.read_tls(&mut rd).unwrap();
                outcome.server = server.process_new_packets().err();
            }
        }
        wire.clear();
        while server.wants_write() {
            server.write_tls(&mut wire).unwrap();
        }
        if !wire.is_empty() && outcome.client.is_none() {
            moved = true;
            let mut rd = &wire[..];
            while !rd.is_empty() && outcome.client.is_none() {
                client.read_tls(&mut rd).unwrap();
                outcome.client = client.process_new_packets().err();
            }
        }
        if !moved {
            return;
        }
    }
    panic!("handshake did not settle");
}

#[test]
fn good_pki_connects_over_tls12_and_tls13() {
    let lab = lab();
    for versions in [TLS12, TLS13] {
        for verify_name in [None, Some("server"), Some("127.0.0.1")] {
            let side = ClientSide {
                verify_name,
                ..lab.client()
            };
            let mut client = side.connect("127.0.0.1");
            let mut server = lab.good_server(versions);
            let outcome = run(&mut client, &mut server);
            assert!(
                outcome.client.is_none() && outcome.server.is_none(),
                "{versions:?} {verify_name:?}: {outcome:?}"
            );
            assert_eq!(client.protocol_version(), Some(versions[0].version));
            let peer = server.peer_certificates().unwrap();
            assert_eq!(
                peer[0].as_ref(),
                lab.pki.client_der.as_slice(),
                "the server saw our leaf"
            );
        }
    }
}

#[test]
fn sni_only_for_dns_names() {
    let lab = lab();
    let mut client = lab.client().connect("server");
    let mut server = lab.good_server(TLS13);
    assert!(run(&mut client, &mut server).client.is_none());
    assert_eq!(server.server_name(), Some("server"));

    let mut client = lab.client().connect("127.0.0.1");
    let mut server = lab.good_server(TLS13);
    assert!(run(&mut client, &mut server).client.is_none());
    assert_eq!(server.server_name(), None);
}

#[test]
fn host_name_is_not_required_in_the_certificate() {
    let lab = lab();
    let mut client = lab.client().connect("vpn.elsewhere.example");
    let mut server = lab.good_server(TLS13);
    let outcome = run(&mut client, &mut server);
    assert!(outcome.client.is_none(), "{outcome:?}");
}

/// Expects our side to reject the server with `message` (and the server to hear about it).
fn assert_client_rejects(
    lab: &Lab,
    side: ClientSide<'_>,
    server_cert: &[u8],
    server_key: &[u8],
    message: &str,
) {
    for versions in [TLS12, TLS13] {
        let mut client = side.connect("10.0.0.1");
        let mut server = lab.server(server_cert, server_key, versions);
        let outcome = run(&mut client, &mut server);
        let err = outcome
            .client
            .as_ref()
            .expect("the client must reject the server");
        assert_eq!(
            explain(err, &side.tls_config()),
            message,
            "{versions:?}: {err:?}"
        );
        assert!(
            matches!(outcome.server, Some(rustls::Error::AlertReceived(_))),
            "{outcome:?}"
        );
    }
}

#[test]
fn server_certificate_from_another_ca() {
    let lab = lab();
    // We trust only the other CA; the server's certificate comes from ours.
    let side = ClientSide {
        ca: &lab.pki.other_ca_crt,
        ..lab.client()
    };
    let message = format!(
        "server certificate is not signed by the CA in {}",
        lab.pki.other_ca_crt.display()
    );
    assert_client_rejects(
        &lab,
        side,
        &lab.pki.server_der,
        &lab.pki.server_key_der,
        &message,
    );
}

#[test]
fn server_certificate_without_server_auth() {
    let lab = lab();
    assert_client_rejects(
        &lab,
        lab.client(),
        &lab.pki.server_noeku_der,
        &lab.pki.server_noeku_key_der,
        "server certificate lacks the serverAuth extended key usage (required like OpenVPN's \
         remote-cert-tls server); it has no extended key usage at all",
    );
}

#[test]
fn server_certificate_name_mismatch() {
    let lab = lab();
    let side = ClientSide {
        verify_name: Some("vpn.example"),
        ..lab.client()
    };
    assert_client_rejects(
        &lab,
        side,
        &lab.pki.server_der,
        &lab.pki.server_key_der,
        "server certificate name CN=server, DNS:server, IP:127.0.0.1, IP:::1 does not match \
         verify_name \"vpn.example\"",
    );
}

#[test]
fn server_rejects_our_certificate_from_another_ca() {
    let lab = lab();
    let side = ClientSide {
        pkcs12: &lab.pki.other_client_p12,
        ..lab.client()
    };
    for versions in [TLS12, TLS13] {
        let mut client = side.connect("127.0.0.1");
        let mut server = lab.good_server(versions);
        let outcome = run(&mut client, &mut server);
        let server_err = outcome
            .server
            .expect("the server must reject our certificate");
        assert!(
            matches!(server_err, rustls::Error::InvalidCertificate(_)),
            "{server_err:?}"
        );
        let err = outcome.client.expect("the client must hear about it");
        assert!(matches!(err, rustls::Error::AlertReceived(_)), "{err:?}");
        let text = explain(&err, &side.tls_config());
        assert!(
            text.starts_with("the server rejected our certificate ("),
            "{versions:?}: {text}"
        );
        assert!(text.contains("other-client.p12"), "{text}");
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("this test needs the `openssl` CLI on PATH");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "openssl {args:?} failed: {stderr}");
}

/// Real PKIs put an intermediate CA (without any EKU) between the root and the server: only
/// the leaf must carry serverAuth. Needs the `openssl` CLI (fails without it).
#[test]
fn intermediate_ca_without_eku_is_accepted() {
    let lab = lab();
    let dir = lab.pki.dir.join("chain");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ext.cnf"),
        "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n\
         [ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign\n\
         [server]\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut root = vec!["req", "-x509", "-config", "ext.cnf", "-extensions", "ca"];
    root.extend(ec);
    root.extend([
        "-keyout",
        "root.key",
        "-out",
        "root.crt",
        "-subj",
        "/CN=Corp Root",
    ]);
    openssl(&dir, &root);
    for (name, issuer, ext) in [("int", "root", "ca"), ("srv", "int", "server")] {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        let subject = format!("/CN=corp-{name}");
        let mut req = vec!["req", "-new", "-config", "ext.cnf"];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr, "-subj", &subject]);
        openssl(&dir, &req);
        let (ca, ca_key) = (format!("{issuer}.crt"), format!("{issuer}.key"));
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-extensions",
                ext,
            ],
        );
    }
    let der = |name: &str| {
        CertificateDer::from_pem_file(dir.join(name))
            .unwrap()
            .to_vec()
    };
    let key = PrivateKeyDer::from_pem_file(dir.join("srv.key")).unwrap();
    let root_crt = dir.join("root.crt");
    let side = ClientSide {
        ca: &root_crt,
        verify_name: Some("corp-srv"),
        ..lab.client()
    };
    for versions in [TLS12, TLS13] {
        let mut client = side.connect("10.0.0.1");
        let chain = vec![der("srv.crt"), der("int.crt")];
        let mut server = lab.server_with_chain(chain, key.clone_key(), versions);
        let outcome = run(&mut client, &mut server);
        assert!(
            outcome.client.is_none() && outcome.server.is_none(),
            "{outcome:?}"
        );
    }
}
