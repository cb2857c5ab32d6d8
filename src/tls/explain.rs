//! One sentence for the user per TLS handshake failure.
//!
//! Two directions matter: *we* rejected the server (our verifier's typed errors), or the
//! *server* rejected us (an alert we received — `bad_certificate`, `unknown_ca`,
//! `certificate_required`… mean our client certificate was refused). With TLS 1.3 the latter
//! arrives after our side already considers the handshake done, on the first read.

use rustls::{AlertDescription, CertificateError, Error, ExtendedKeyPurpose, OtherError};
use rustls_pki_types::UnixTime;

use super::verifier::ServerCertError;
use crate::config::TlsConfig;
use crate::credentials::CertTime;

/// Turns a rustls error from the handshake (or the first reads after it) into one clear
/// sentence, naming the `[tls]` files involved.
pub fn explain(err: &Error, tls: &TlsConfig) -> String {
    match err {
        Error::InvalidCertificate(e) => explain_server_cert(e, tls),
        Error::AlertReceived(alert) => explain_alert(*alert, tls),
        Error::NoCertificatesPresented => "the server sent no certificate".to_owned(),
        Error::InvalidMessage(_)
        | Error::InappropriateMessage { .. }
        | Error::InappropriateHandshakeMessage { .. } => format!(
            "the server did not answer with proper TLS ({err}): is this the TLS port \
             (e.g. stunnel's), not the plain one?"
        ),
        Error::PeerIncompatible(_) => {
            format!("the server's TLS settings are incompatible with tapclient: {err}")
        }
        Error::PeerMisbehaved(_) => format!("the server broke the TLS protocol: {err}"),
        Error::DecryptError => {
            "TLS record decryption failed: the connection was corrupted in transit".to_owned()
        }
        _ => format!("TLS failed: {err}"),
    }
}

fn explain_server_cert(e: &CertificateError, tls: &TlsConfig) -> String {
    let ca = tls.ca.display();
    match e {
        CertificateError::UnknownIssuer => {
            format!("server certificate is not signed by the CA in {ca}")
        }
        CertificateError::BadSignature => format!(
            "server certificate is not signed by the CA in {ca} (a signature in its chain \
             does not verify)"
        ),
        CertificateError::InvalidPurposeContext { presented, .. } => format!(
            "server certificate lacks the serverAuth extended key usage (required like \
             OpenVPN's remote-cert-tls server); it has {}",
            purposes(presented)
        ),
        CertificateError::InvalidPurpose => "server certificate lacks the serverAuth extended \
             key usage (required like OpenVPN's remote-cert-tls server)"
            .to_owned(),
        CertificateError::ExpiredContext { time, not_after } => format!(
            "server certificate expired on {} (this machine's clock says {})",
            date(*not_after),
            date(*time)
        ),
        CertificateError::Expired => "server certificate has expired".to_owned(),
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "server certificate is not valid before {} (this machine's clock says {}; \
             check the clock)",
            date(*not_before),
            date(*time)
        ),
        CertificateError::NotValidYet => "server certificate is not valid yet".to_owned(),
        CertificateError::Revoked => "server certificate has been revoked".to_owned(),
        CertificateError::BadEncoding => "server sent a malformed certificate".to_owned(),
        CertificateError::UnhandledCriticalExtension => {
            "server certificate has a critical extension tapclient does not understand".to_owned()
        }
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "server certificate is signed with an algorithm tapclient does not support".to_owned()
        }
        CertificateError::Other(OtherError(inner)) => match inner.downcast_ref::<ServerCertError>()
        {
            Some(ours) => ours.to_string(),
            None => format!("server certificate rejected: {inner}"),
        },
        other => format!(
            "server certificate rejected: {}",
            Error::InvalidCertificate(other.clone())
        ),
    }
}

fn explain_alert(alert: AlertDescription, tls: &TlsConfig) -> String {
    let name = alert_name(alert);
    let p12 = tls.pkcs12.display();
    match alert {
        AlertDescription::UnknownCA => format!(
            "the server rejected our certificate ({name}): the certificate in {p12} is not \
             issued by a CA the server trusts"
        ),
        AlertDescription::BadCertificate
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::CertificateUnknown => format!(
            "the server rejected our certificate ({name}): check that {p12} holds a client \
             certificate (clientAuth) issued by the CA the server trusts"
        ),
        AlertDescription::CertificateExpired => format!(
            "the server rejected our certificate ({name}): the certificate in {p12} has \
             expired or is not valid yet (check `tapclient check` and the clocks)"
        ),
        AlertDescription::CertificateRevoked => format!(
            "the server rejected our certificate ({name}): the certificate in {p12} has been \
             revoked"
        ),
        AlertDescription::CertificateRequired | AlertDescription::NoCertificate => format!(
            "the server rejected our certificate ({name}): it requires a client certificate \
             it accepts; check {p12}"
        ),
        AlertDescription::AccessDenied => format!(
            "the server rejected our certificate ({name}): the certificate in {p12} is valid \
             but not allowed in"
        ),
        AlertDescription::DecryptError => format!(
            "the server could not verify our handshake signature ({name}): does the key in \
             {p12} belong to its certificate?"
        ),
        AlertDescription::HandshakeFailure => format!(
            "the server aborted the handshake ({name}): no TLS version or cipher in common, \
             or it refused our certificate in {p12}"
        ),
        AlertDescription::ProtocolVersion => {
            format!("the server does not accept TLS 1.2 or 1.3 ({name})")
        }
        AlertDescription::InsufficientSecurity => {
            format!("the server wants stronger TLS parameters than tapclient offers ({name})")
        }
        _ => format!("the server aborted the TLS handshake ({name})"),
    }
}

fn purposes(presented: &[ExtendedKeyPurpose]) -> String {
    if presented.is_empty() {
        return "no extended key usage at all".to_owned();
    }
    let names: Vec<String> = presented
        .iter()
        .map(|p| match p {
            ExtendedKeyPurpose::ClientAuth => "clientAuth".to_owned(),
            ExtendedKeyPurpose::ServerAuth => "serverAuth".to_owned(),
            ExtendedKeyPurpose::Other(oid) => oid
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join("."),
        })
        .collect();
    names.join(", ")
}

fn date(t: UnixTime) -> String {
    match CertTime::from_unix(t.as_secs()) {
        Some(t) => t.to_string(),
        None => format!("{} seconds after 1970", t.as_secs()),
    }
}

/// The TLS registry name of an alert (`bad_certificate`), from rustls' `BadCertificate`.
fn alert_name(alert: AlertDescription) -> String {
    let camel = format!("{alert:?}");
    let chars: Vec<char> = camel.chars().collect();
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase() || (prev.is_ascii_uppercase() && next_lower) {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::config::PasswordSource;

    fn tls() -> TlsConfig {
        TlsConfig {
            ca: PathBuf::from("/etc/tapclient/ca.crt"),
            pkcs12: PathBuf::from("/etc/tapclient/office.p12"),
            password: PasswordSource::Unset,
            verify_name: None,
        }
    }

    fn cert(e: CertificateError) -> String {
        explain(&Error::InvalidCertificate(e), &tls())
    }

    #[test]
    fn alert_names_follow_the_tls_registry() {
        assert_eq!(
            alert_name(AlertDescription::BadCertificate),
            "bad_certificate"
        );
        assert_eq!(alert_name(AlertDescription::UnknownCA), "unknown_ca");
        assert_eq!(
            alert_name(AlertDescription::CertificateRequired),
            "certificate_required"
        );
        assert_eq!(
            alert_name(AlertDescription::UnknownPSKIdentity),
            "unknown_psk_identity"
        );
    }

    #[test]
    fn server_certificate_problems() {
        assert_eq!(
            cert(CertificateError::UnknownIssuer),
            "server certificate is not signed by the CA in /etc/tapclient/ca.crt"
        );
        let eku = cert(CertificateError::InvalidPurposeContext {
            required: ExtendedKeyPurpose::ServerAuth,
            presented: vec![ExtendedKeyPurpose::ClientAuth],
        });
        assert!(eku.starts_with("server certificate lacks the serverAuth extended key usage"));
        assert!(eku.ends_with("it has clientAuth"), "{eku}");
        let expired = cert(CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(Duration::from_secs(2_056_000_000)),
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(2_000_000_000)),
        });
        assert_eq!(
            expired,
            "server certificate expired on 2033-05-18 03:33:20 UTC (this machine's clock says \
             2035-02-25 07:06:40 UTC)"
        );
        let name = ServerCertError::NameMismatch {
            expected: "vpn".into(),
            presented: vec!["CN=server".into()],
        };
        assert_eq!(
            cert(CertificateError::Other(OtherError(Arc::new(name)))),
            "server certificate name CN=server does not match verify_name \"vpn\""
        );
    }

    #[test]
    fn alerts_from_the_server_blame_our_certificate() {
        for alert in [
            AlertDescription::BadCertificate,
            AlertDescription::UnknownCA,
            AlertDescription::CertificateRequired,
            AlertDescription::CertificateExpired,
            AlertDescription::UnsupportedCertificate,
        ] {
            let text = explain(&Error::AlertReceived(alert), &tls());
            assert!(
                text.starts_with("the server rejected our certificate ("),
                "{text}"
            );
            assert!(text.contains(&alert_name(alert)), "{text}");
            assert!(text.contains("office.p12"), "{text}");
        }
        let other = explain(
            &Error::AlertReceived(AlertDescription::InternalError),
            &tls(),
        );
        assert_eq!(
            other,
            "the server aborted the TLS handshake (internal_error)"
        );
    }

    #[test]
    fn non_tls_peer_is_pointed_out() {
        let err = Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        assert!(explain(&err, &tls()).contains("is this the TLS port"));
    }
}
