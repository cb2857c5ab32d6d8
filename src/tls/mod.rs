//! The rustls client configuration for authenticating to a TAP-mode VPN server.
//!
//! Owns: the `ClientConfig` (ring provider passed explicitly — no process-wide default —,
//! TLS 1.2 and 1.3, our client certificate), the OpenVPN-style server check
//! (`verifier`: chain to the configured CA, EKU serverAuth, optional exact name match, no web
//! host-name rules), the `ServerName` we hand to rustls, and [`explain`], which turns a
//! handshake failure into one sentence for the user.
//!
//! Must not: do I/O (the caller drives the `ClientConnection`), or relax any check without an
//! explicit `danger_` option in the config.

mod explain;
mod verifier;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::ResolvesClientCert;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::ClientConfig;
use rustls_pki_types::{CertificateDer, ServerName};

use crate::credentials::Identity;

pub use explain::explain;
pub use verifier::ServerCertError;

/// Why a client configuration could not be built (local misconfiguration).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("no CA certificate to check the server against")]
    NoCaCertificate,

    #[error("CA certificate #{index} cannot be used as a trust anchor: {source}")]
    BadCaCertificate {
        /// 1-based position in the CA file.
        index: usize,
        #[source]
        source: webpki::Error,
    },

    #[error("the private key in {} cannot be used for TLS: {source}", pkcs12.display())]
    UnusableKey {
        pkcs12: PathBuf,
        #[source]
        source: rustls::Error,
    },

    #[error("the certificate in {} does not belong to its private key", pkcs12.display())]
    KeyMismatch { pkcs12: PathBuf },

    #[error("TLS 1.2/1.3 are not available from the crypto provider: {0}")]
    Provider(#[source] rustls::Error),
}

/// A client config that presents `identity` and accepts only a server whose certificate chains
/// to one of `ca`, carries EKU serverAuth and — if `verify_name` is set — has that CN or DNS/IP
/// SAN. Both TLS 1.2 and 1.3 are offered.
pub fn client_config(
    ca: &[CertificateDer<'static>],
    identity: Identity,
    verify_name: Option<&str>,
) -> Result<Arc<ClientConfig>, TlsError> {
    if ca.is_empty() {
        return Err(TlsError::NoCaCertificate);
    }
    let roots = ca
        .iter()
        .enumerate()
        .map(|(i, cert)| {
            webpki::anchor_from_trusted_cert(cert)
                .map(|anchor| anchor.to_owned())
                .map_err(|source| TlsError::BadCaCertificate {
                    index: i + 1,
                    source,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = verifier::ServerVerifier::new(
        roots,
        verify_name.map(str::to_owned),
        provider.signature_verification_algorithms,
    );
    let resolver = client_cert(&identity)?;
    // `identity` (and with it our copy of the key DER) is wiped when dropped here; rustls keeps
    // only the parsed signing key.
    drop(identity);

    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(TlsError::Provider)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_cert_resolver(resolver);
    Ok(Arc::new(config))
}

/// Our certificate chain and signing key, checked to belong together.
fn client_cert(identity: &Identity) -> Result<Arc<dyn ResolvesClientCert>, TlsError> {
    let pkcs12 = identity.source().to_owned();
    // Parsed from a borrowed key so no un-wiped copy of the DER is handed over.
    let key = rustls::crypto::ring::sign::any_supported_type(&identity.key).map_err(|source| {
        TlsError::UnusableKey {
            pkcs12: pkcs12.clone(),
            source,
        }
    })?;
    let certified = CertifiedKey::new(identity.cert_chain.clone(), key);
    match certified.keys_match() {
        Ok(()) => Ok(Arc::new(SingleCertAndKey::from(certified))),
        Err(rustls::Error::InconsistentKeys(_)) => Err(TlsError::KeyMismatch { pkcs12 }),
        Err(source) => Err(TlsError::UnusableKey { pkcs12, source }),
    }
}

/// The name handed to rustls for `host` (a configured `remote`). An IP literal becomes an
/// IP address, so no SNI is sent; a DNS name is sent as SNI. The certificate is never checked
/// against it (see [`client_config`]). A host that is neither (it could not be resolved
/// anyway) gets no SNI either.
pub fn server_name(host: &str) -> ServerName<'static> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ServerName::IpAddress(ip.into());
    }
    ServerName::try_from(host.to_owned()).unwrap_or(ServerName::IpAddress(
        IpAddr::V4(Ipv4Addr::UNSPECIFIED).into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PasswordSource;

    #[test]
    fn server_name_ip_literals_send_no_sni() {
        assert!(matches!(server_name("10.0.0.1"), ServerName::IpAddress(_)));
        assert!(matches!(server_name("fd00::1"), ServerName::IpAddress(_)));
        assert!(matches!(server_name("[fd00::1]"), ServerName::IpAddress(_)));
        match server_name("vpn.example.com") {
            ServerName::DnsName(name) => assert_eq!(name.as_ref(), "vpn.example.com"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            server_name("not a name"),
            ServerName::IpAddress(_)
        ));
    }

    fn identity(pki: &tapclient_certs::Pki) -> Identity {
        let pass = PasswordSource::File(pki.client_pass.clone());
        crate::credentials::load_pkcs12(&pki.client_p12, &pass).unwrap()
    }

    /// TLS 1.2 and 1.3 handshakes are exercised in `tests/tls.rs`.
    #[test]
    fn config_presents_our_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let pki = tapclient_certs::generate(dir.path(), &Default::default()).unwrap();
        let ca = vec![CertificateDer::from(pki.ca_der.clone())];
        let config = client_config(&ca, identity(&pki), Some("server")).unwrap();
        assert!(config.client_auth_cert_resolver.has_certs());
    }

    #[test]
    fn config_errors() {
        let dir = tempfile::tempdir().unwrap();
        let pki = tapclient_certs::generate(dir.path(), &Default::default()).unwrap();
        let err = client_config(&[], identity(&pki), None).unwrap_err();
        assert!(matches!(err, TlsError::NoCaCertificate), "{err:?}");

        let garbage = vec![CertificateDer::from(vec![0x30, 0x00])];
        let err = client_config(&garbage, identity(&pki), None).unwrap_err();
        assert!(
            matches!(err, TlsError::BadCaCertificate { index: 1, .. }),
            "{err:?}"
        );

        let mut id = identity(&pki);
        id.cert_chain = vec![CertificateDer::from(pki.server_der.clone())];
        let ca = vec![CertificateDer::from(pki.ca_der.clone())];
        let err = client_config(&ca, id, None).unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
        assert!(err.to_string().contains("client.p12"), "{err}");
    }
}
