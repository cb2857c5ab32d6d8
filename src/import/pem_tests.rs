//! Unit tests of base64, the PKCS#8 wrapping and PKCS#12 building.

use std::path::Path;

use super::*;
use crate::config::PasswordSource;
use crate::credentials::{load_pkcs12, CredentialsError};

#[test]
fn base64_decodes_rfc4648_vectors_with_whitespace_and_rejects_garbage() {
    let cases: [(&str, &[u8]); 5] = [
        ("Zg==", b"f"),
        ("Zm8=", b"fo"),
        ("Zm9v", b"foo"),
        ("Zm9vYg==\r\n", b"foob"),
        ("Zm9v\nYmFy", b"foobar"),
    ];
    for (text, bytes) in cases {
        assert_eq!(
            base64_decode(text).as_deref().map(Vec::as_slice),
            Some(bytes),
            "{text}"
        );
    }
    for bad in ["", "Zm9v!", "Zg==Zg", "Z", "Zm9vY", "Zg==="] {
        assert!(base64_decode(bad).is_none(), "{bad:?}");
    }
}

#[test]
fn pem_encode_round_trips_through_base64_and_wraps_at_64() {
    let der: Vec<u8> = (0u8..=200).collect();
    let text = pem_encode("CERTIFICATE", &der);
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(text.lines().all(|l| l.len() <= 64));
    assert_eq!(base64_decode(&body).unwrap().as_slice(), der.as_slice());
    assert!(text.starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(text.ends_with("-----END CERTIFICATE-----\n"));
}

#[test]
fn pkcs1_is_wrapped_in_a_pkcs8_private_key_info() {
    let pkcs1 = [0x30, 0x03, 0x02, 0x01, 0x00];
    let algorithm = der(0x30, &[der(0x06, OID_RSA), vec![0x05, 0x00]].concat());
    let wrapped = pkcs8(&algorithm, &pkcs1);
    let expected = [
        &[0x30, 0x19, 0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09][..],
        OID_RSA,
        &[0x05, 0x00, 0x04, 0x05],
        &pkcs1,
    ]
    .concat();
    assert_eq!(wrapped.as_slice(), expected.as_slice());
}

#[test]
fn der_lengths_use_the_long_form_above_127() {
    assert_eq!(&der(0x04, &[0; 127])[..2], &[0x04, 0x7f]);
    assert_eq!(&der(0x04, &[0; 128])[..3], &[0x04, 0x81, 0x80]);
    assert_eq!(&der(0x04, &[0; 300])[..4], &[0x04, 0x82, 0x01, 0x2c]);
    let long = der(0x30, &[7; 300]);
    let (tag, body, rest) = tlv(&long).unwrap();
    assert_eq!((tag, body.len(), rest.len()), (0x30, 300, 0));
    assert!(tlv(&[0x30, 0x85, 1, 2, 3, 4, 5]).is_none());
    assert!(tlv(&[0x30, 0x05, 1]).is_none());
}

#[test]
fn encrypted_keys_are_recognised() {
    assert!(is_encrypted_key(
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
    ));
    let legacy = b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAAAA\n";
    assert!(is_encrypted_key(legacy));
    assert!(!is_encrypted_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n"));
    assert_eq!(
        build_pkcs12(b"", legacy, None).unwrap_err(),
        PemError::EncryptedKey
    );
}

/// The test PKI (fresh keys) in a temporary folder.
fn pki() -> (tempfile::TempDir, tapclient_certs::Pki) {
    let dir = tempfile::tempdir().unwrap();
    let pki = tapclient_certs::generate(dir.path(), &tapclient_certs::Options::default()).unwrap();
    (dir, pki)
}

fn load(dir: &Path, der: &[u8]) -> Result<String, CredentialsError> {
    let path = dir.join("built.p12");
    std::fs::write(&path, der).unwrap();
    load_pkcs12(&path, &PasswordSource::Unset).map(|identity| identity.subject())
}

#[test]
fn a_pkcs8_key_and_its_certificate_become_a_password_less_pkcs12() {
    let (dir, pki) = pki();
    let cert = std::fs::read(&pki.client_crt).unwrap();
    let key = std::fs::read(&pki.client_key).unwrap();
    let ca = std::fs::read(&pki.ca_crt).unwrap();
    let der = build_pkcs12(&cert, &key, Some(&ca)).unwrap();
    assert_eq!(load(dir.path(), &der).unwrap(), "CN=client");
    let archive = Pkcs12Archive::from_pkcs12(&der, "").unwrap();
    assert_eq!((archive.keys.len(), archive.certs.len()), (1, 2));
}

#[test]
fn a_sec1_key_without_curve_parameters_takes_the_certificates_curve() {
    let (dir, pki) = pki();
    // PKCS#8 → the ECPrivateKey inside its OCTET STRING (ring writes it without parameters).
    let (_, info, _) = tlv(&pki.client_key_der).unwrap();
    let (_, _, rest) = tlv(info).unwrap();
    let (_, _, rest) = tlv(rest).unwrap();
    let (tag, sec1, _) = tlv(rest).unwrap();
    assert_eq!(tag, 0x04);
    let key = pem_encode("EC PRIVATE KEY", sec1);
    let cert = std::fs::read(&pki.client_crt).unwrap();
    let der = build_pkcs12(&cert, key.as_bytes(), None).unwrap();
    assert_eq!(load(dir.path(), &der).unwrap(), "CN=client");
}

#[test]
fn a_key_that_does_not_match_the_certificate_builds_but_does_not_load() {
    let (dir, pki) = pki();
    let cert = std::fs::read(&pki.server_crt).unwrap();
    let key = std::fs::read(&pki.client_key).unwrap();
    let der = build_pkcs12(&cert, &key, None).unwrap();
    let err = load(dir.path(), &der).unwrap_err();
    assert!(
        matches!(err, CredentialsError::NoMatchingCertificate { .. }),
        "{err}"
    );
}

#[test]
fn missing_pieces_are_named() {
    let (_dir, pki) = pki();
    let cert = std::fs::read(&pki.client_crt).unwrap();
    let key = std::fs::read(&pki.client_key).unwrap();
    assert_eq!(
        build_pkcs12(b"", &key, None).unwrap_err(),
        PemError::NoCertificate
    );
    assert_eq!(
        build_pkcs12(&cert, &cert, None).unwrap_err(),
        PemError::NoKey
    );
}

#[test]
fn the_ca_certificates_of_a_pkcs12_are_taken_out() {
    let (_dir, pki) = pki();
    let der = std::fs::read(&pki.client_p12).unwrap();
    let password = tapclient_certs::Options::default().password;
    let pem = ca_from_pkcs12(&der, &password).unwrap();
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].as_ref(), pki.ca_der.as_slice());
    assert_eq!(
        ca_from_pkcs12(&der, "").unwrap_err(),
        CaFromP12::NeedsPassword
    );
    let cert = std::fs::read(&pki.client_crt).unwrap();
    let key = std::fs::read(&pki.client_key).unwrap();
    let leaf_only = build_pkcs12(&cert, &key, None).unwrap();
    assert_eq!(ca_from_pkcs12(&leaf_only, "").unwrap_err(), CaFromP12::NoCa);
    assert_eq!(
        ca_from_pkcs12(b"not der", "x").unwrap_err(),
        CaFromP12::Unreadable
    );
}
