//! A rustls server that requires a client certificate issued by `trusted_ca` (like stunnel's
//! `verify = 2`, or an OpenVPN server), with the test PKI's server certificate.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tapclient_certs::Pki;

/// `version`: one protocol version, or `None` for rustls' safe defaults.
pub fn requiring_client_cert(
    pki: &Pki,
    trusted_ca: &[u8],
    version: Option<&'static rustls::SupportedProtocolVersion>,
) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(trusted_ca.to_vec()))
        .unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider);
    let builder = match version {
        Some(version) => builder.with_protocol_versions(&[version]),
        None => builder.with_safe_default_protocol_versions(),
    };
    let config = builder
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(pki.server_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key_der.clone())),
        )
        .unwrap();
    Arc::new(config)
}
