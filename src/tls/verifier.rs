//! The server certificate check, OpenVPN style rather than web style.
//!
//! - the chain must lead to one of the configured CAs (`ca`), built with `webpki`;
//! - the leaf must carry the serverAuth extended key usage — OpenVPN's `remote-cert-tls server`
//!   (`ssl_verify.c`/`ssl_verify_openssl.c`, `x509_verify_cert_eku`), so a *missing* EKU
//!   extension fails too, unlike web PKI where no EKU means "any"; EKUs of the CAs in the chain
//!   are not constrained (OpenVPN does not either);
//! - the host name we dialled is NOT compared with the certificate (servers are commonly
//!   reached by IP address or a name their certificate does not carry);
//! - if `verify_name` is set, the leaf's subject CN or one of its DNS/IP subject alternative
//!   names must equal it exactly (OpenVPN's `verify-x509-name NAME name`, extended to SANs).
//!
//! Handshake signatures are checked with the crypto provider's algorithms.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{
    CertificateError, DigitallySignedStruct, Error, ExtendedKeyPurpose, OtherError, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter, KeyUsage};
use x509_parser::certificate::X509Certificate;

/// Rejections of the server certificate that rustls has no variant for. Carried inside
/// `rustls::Error::InvalidCertificate(CertificateError::Other(..))`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerCertError {
    /// `verify_name` is set and neither the CN nor a DNS/IP SAN equals it.
    #[error("server certificate name {} does not match verify_name \"{expected}\"", presented_list(.presented))]
    NameMismatch {
        expected: String,
        /// What the certificate carries, as `CN=…`, `DNS:…`, `IP:…`.
        presented: Vec<String>,
    },
    /// A certificate-level rejection from webpki that rustls has no variant for.
    #[error("server certificate rejected: {0}")]
    Rejected(webpki::Error),
}

fn presented_list(names: &[String]) -> String {
    if names.is_empty() {
        "(none: no CN and no DNS/IP names)".to_owned()
    } else {
        names.join(", ")
    }
}

pub(crate) struct ServerVerifier {
    roots: Vec<TrustAnchor<'static>>,
    verify_name: Option<String>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl fmt::Debug for ServerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerVerifier")
            .field("roots", &self.roots.len())
            .field("verify_name", &self.verify_name)
            .finish_non_exhaustive()
    }
}

impl ServerVerifier {
    pub(crate) fn new(
        roots: Vec<TrustAnchor<'static>>,
        verify_name: Option<String>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> Self {
        ServerVerifier {
            roots,
            verify_name,
            algorithms,
        }
    }
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let cert = EndEntityCert::try_from(end_entity).map_err(pki_error)?;
        cert.verify_for_usage(
            self.algorithms.all,
            &self.roots,
            intermediates,
            now,
            AnyPurpose,
            None,
            None,
        )
        .map_err(pki_error)?;
        let (_, leaf) = x509_parser::parse_x509_certificate(end_entity)
            .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
        check_server_auth(&leaf)?;
        if let Some(expected) = &self.verify_name {
            check_name(&leaf, expected)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Accepts any EKU on the chain's certificates: webpki applies the validator to issuers too,
/// but OpenVPN (like OpenSSL without a purpose set) requires serverAuth on the leaf only —
/// intermediates without an EKU are the norm. The leaf is checked by [`check_server_auth`].
struct AnyPurpose;

impl ExtendedKeyUsageValidator for AnyPurpose {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for purpose in iter {
            purpose?; // still reject a malformed extension
        }
        Ok(())
    }
}

/// `remote-cert-tls server`: the leaf carries an EKU extension listing serverAuth
/// (`anyExtendedKeyUsage` does not count, as in OpenVPN's `x509_verify_cert_eku`).
fn check_server_auth(leaf: &X509Certificate<'_>) -> Result<(), Error> {
    let eku = match leaf.extended_key_usage() {
        Ok(eku) => eku.map(|ext| ext.value),
        Err(_) => return Err(Error::InvalidCertificate(CertificateError::BadEncoding)),
    };
    if eku.is_some_and(|eku| eku.server_auth) {
        return Ok(());
    }
    let mut presented = Vec::new();
    if let Some(eku) = eku {
        let known = [
            (eku.any, &[2, 5, 29, 37, 0][..]),
            (eku.client_auth, KeyUsage::CLIENT_AUTH_REPR),
            (eku.code_signing, &[1, 3, 6, 1, 5, 5, 7, 3, 3][..]),
            (eku.email_protection, &[1, 3, 6, 1, 5, 5, 7, 3, 4][..]),
            (eku.time_stamping, &[1, 3, 6, 1, 5, 5, 7, 3, 8][..]),
            (eku.ocsp_signing, &[1, 3, 6, 1, 5, 5, 7, 3, 9][..]),
        ];
        for (present, oid) in known {
            if present {
                presented.push(purpose(oid.to_vec()));
            }
        }
        for oid in &eku.other {
            let arcs = oid.iter().map(|arcs| arcs.map(|a| a as usize).collect());
            presented.push(purpose(arcs.unwrap_or_default()));
        }
    }
    Err(Error::InvalidCertificate(
        CertificateError::InvalidPurposeContext {
            required: ExtendedKeyPurpose::ServerAuth,
            presented,
        },
    ))
}

/// `verify-x509-name NAME name`: the CN, a DNS SAN or an IP SAN equals `expected` exactly.
fn check_name(cert: &X509Certificate<'_>, expected: &str) -> Result<(), Error> {
    let names = presented_names(cert);
    let expected_ip = expected.parse::<IpAddr>().ok();
    let matches = names.iter().any(|name| match name {
        Presented::Cn(cn) | Presented::Dns(cn) => cn == expected,
        Presented::Ip(ip) => Some(*ip) == expected_ip,
    });
    if matches {
        return Ok(());
    }
    Err(other(ServerCertError::NameMismatch {
        expected: expected.to_owned(),
        presented: names.iter().map(Presented::to_string).collect(),
    }))
}

enum Presented {
    Cn(String),
    Dns(String),
    Ip(IpAddr),
}

impl fmt::Display for Presented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Presented::Cn(v) => write!(f, "CN={v}"),
            Presented::Dns(v) => write!(f, "DNS:{v}"),
            Presented::Ip(v) => write!(f, "IP:{v}"),
        }
    }
}

fn presented_names(cert: &X509Certificate<'_>) -> Vec<Presented> {
    use x509_parser::extensions::GeneralName;
    let mut names: Vec<Presented> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .map(|cn| Presented::Cn(cn.to_owned()))
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => names.push(Presented::Dns((*dns).to_owned())),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        names.push(Presented::Ip(IpAddr::from(v4)));
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        names.push(Presented::Ip(IpAddr::from(v6)));
                    }
                }
                _ => {}
            }
        }
    }
    names
}

fn other(e: ServerCertError) -> Error {
    Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
}

/// webpki's verdict as a rustls error, keeping the detail the user needs (and that decides
/// which alert rustls sends to the server).
fn pki_error(e: webpki::Error) -> Error {
    use webpki::Error as W;
    let cert_error = match e {
        W::BadDer | W::BadDerTime | W::TrailingData(_) => CertificateError::BadEncoding,
        W::CertNotValidYet { time, not_before } => {
            CertificateError::NotValidYetContext { time, not_before }
        }
        W::CertExpired { time, not_after } => CertificateError::ExpiredContext { time, not_after },
        W::UnknownIssuer => CertificateError::UnknownIssuer,
        W::InvalidSignatureForPublicKey => CertificateError::BadSignature,
        W::CertRevoked => CertificateError::Revoked,
        W::UnsupportedCriticalExtension => CertificateError::UnhandledCriticalExtension,
        W::UnsupportedSignatureAlgorithmContext(cx) => {
            CertificateError::UnsupportedSignatureAlgorithmContext {
                signature_algorithm_id: cx.signature_algorithm_id,
                supported_algorithms: cx.supported_algorithms,
            }
        }
        W::UnsupportedSignatureAlgorithmForPublicKeyContext(cx) => {
            CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext {
                signature_algorithm_id: cx.signature_algorithm_id,
                public_key_algorithm_id: cx.public_key_algorithm_id,
            }
        }
        W::RequiredEkuNotFoundContext(cx) => CertificateError::InvalidPurposeContext {
            required: ExtendedKeyPurpose::ServerAuth,
            presented: cx.present.into_iter().map(purpose).collect(),
        },
        #[allow(deprecated)]
        W::RequiredEkuNotFound => CertificateError::InvalidPurpose,
        other_error => {
            return other(ServerCertError::Rejected(other_error));
        }
    };
    Error::InvalidCertificate(cert_error)
}

fn purpose(oid: Vec<usize>) -> ExtendedKeyPurpose {
    match oid.as_slice() {
        KeyUsage::SERVER_AUTH_REPR => ExtendedKeyPurpose::ServerAuth,
        KeyUsage::CLIENT_AUTH_REPR => ExtendedKeyPurpose::ClientAuth,
        _ => ExtendedKeyPurpose::Other(oid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pki() -> (tempfile::TempDir, tapclient_certs::Pki) {
        let dir = tempfile::tempdir().unwrap();
        let opts = tapclient_certs::Options {
            server_name: "vpn.example".into(),
            server_ips: vec!["192.0.2.7".parse().unwrap()],
            ..Default::default()
        };
        let pki = tapclient_certs::generate(dir.path(), &opts).unwrap();
        (dir, pki)
    }

    fn verifier(pki: &tapclient_certs::Pki, verify_name: Option<&str>) -> ServerVerifier {
        let ca = CertificateDer::from(pki.ca_der.clone());
        let anchor = webpki::anchor_from_trusted_cert(&ca).unwrap().to_owned();
        let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        ServerVerifier::new(vec![anchor], verify_name.map(str::to_owned), algs)
    }

    fn verify(v: &ServerVerifier, leaf: &[u8]) -> Result<ServerCertVerified, Error> {
        let name = ServerName::try_from("unrelated.invalid").unwrap();
        v.verify_server_cert(
            &CertificateDer::from(leaf),
            &[],
            &name,
            &[],
            UnixTime::now(),
        )
    }

    #[test]
    fn host_name_is_not_checked_web_style() {
        let (_dir, pki) = pki();
        assert!(verify(&verifier(&pki, None), &pki.server_der).is_ok());
    }

    #[test]
    fn verify_name_matches_cn_dns_or_ip_exactly() {
        let (_dir, pki) = pki();
        for name in ["vpn.example", "192.0.2.7"] {
            assert!(
                verify(&verifier(&pki, Some(name)), &pki.server_der).is_ok(),
                "{name}"
            );
        }
        for name in ["VPN.example", "vpn", "example", "192.0.2.8", ""] {
            let err = verify(&verifier(&pki, Some(name)), &pki.server_der).unwrap_err();
            let Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) = &err else {
                panic!("{name}: unexpected {err:?}");
            };
            let inner = inner.downcast_ref::<ServerCertError>();
            assert!(
                matches!(inner, Some(ServerCertError::NameMismatch { expected, .. }) if expected == name),
                "{name}: {err:?}"
            );
        }
    }

    #[test]
    fn name_mismatch_lists_what_the_certificate_has() {
        let (_dir, pki) = pki();
        let err = verify(&verifier(&pki, Some("other")), &pki.server_der).unwrap_err();
        let Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) = &err else {
            panic!("unexpected {err:?}");
        };
        let inner = inner.downcast_ref::<ServerCertError>().unwrap();
        assert_eq!(
            inner,
            &ServerCertError::NameMismatch {
                expected: "other".into(),
                presented: vec![
                    "CN=vpn.example".into(),
                    "DNS:vpn.example".into(),
                    "IP:192.0.2.7".into()
                ],
            }
        );
        assert_eq!(
            inner.to_string(),
            "server certificate name CN=vpn.example, DNS:vpn.example, IP:192.0.2.7 does not \
             match verify_name \"other\""
        );
    }

    #[test]
    fn missing_eku_is_rejected_even_without_any_eku_extension() {
        let (_dir, pki) = pki();
        let err = verify(&verifier(&pki, None), &pki.server_noeku_der).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidCertificate(CertificateError::InvalidPurposeContext {
                required: ExtendedKeyPurpose::ServerAuth,
                presented: vec![],
            })
        );
    }

    #[test]
    fn client_certificate_is_not_a_server_certificate() {
        let (_dir, pki) = pki();
        let err = verify(&verifier(&pki, None), &pki.client_der).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidCertificate(CertificateError::InvalidPurposeContext {
                required: ExtendedKeyPurpose::ServerAuth,
                presented: vec![ExtendedKeyPurpose::ClientAuth],
            })
        );
    }

    #[test]
    fn foreign_ca_is_unknown_issuer() {
        let (_dir, pki) = pki();
        let other = CertificateDer::from(pki.other_ca_der.clone());
        let anchor = webpki::anchor_from_trusted_cert(&other).unwrap().to_owned();
        let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        let trusts_other = ServerVerifier::new(vec![anchor], None, algs);
        let err = verify(&trusts_other, &pki.server_der).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidCertificate(CertificateError::UnknownIssuer)
        );
    }

    #[test]
    fn same_ca_name_other_key_is_bad_signature() {
        let (_dir, pki) = pki();
        let (_dir2, impostor) = self::pki();
        let err = verify(&verifier(&pki, None), &impostor.server_der).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidCertificate(CertificateError::BadSignature)
        );
    }

    #[test]
    fn garbage_certificate_is_bad_encoding() {
        let (_dir, pki) = pki();
        let err = verify(&verifier(&pki, None), b"\x30\x03\x02\x01").unwrap_err();
        assert_eq!(
            err,
            Error::InvalidCertificate(CertificateError::BadEncoding)
        );
    }
}
