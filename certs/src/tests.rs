//! Tests of the generator: file set, certificate contents, PKCS#12 readable by OpenSSL.

use std::process::Command;

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::*;

use super::*;

fn eku(cert: &X509Certificate<'_>) -> Option<(bool, bool)> {
    cert.extended_key_usage()
        .unwrap()
        .map(|e| (e.value.server_auth, e.value.client_auth))
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    x509_parser::parse_x509_certificate(der).unwrap().1
}

#[test]
fn writes_the_fixed_file_set() {
    let dir = tempfile::tempdir().unwrap();
    let pki = generate(dir.path(), &Options::default()).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ca.crt",
            "ca.key",
            "client.crt",
            "client.key",
            "client.p12",
            "client.pass",
            "other-ca.crt",
            "other-client.p12",
            "server-noeku.crt",
            "server-noeku.key",
            "server.crt",
            "server.key",
        ]
    );
    assert_eq!(pki.files().len(), names.len());
    assert_eq!(
        std::fs::read_to_string(&pki.client_pass).unwrap(),
        "tapclient-test\n"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for key in [
            &pki.ca_key,
            &pki.server_key,
            &pki.client_p12,
            &pki.client_pass,
        ] {
            let mode = std::fs::metadata(key).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{} is readable by others", key.display());
        }
    }
    let pem = std::fs::read_to_string(&pki.server_key).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
}

#[test]
fn certificates_have_the_promised_contents() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        server_name: "vpn.test".into(),
        server_ips: vec!["10.1.2.3".parse().unwrap()],
        ..Options::default()
    };
    let pki = generate(dir.path(), &opts).unwrap();

    let ca = parse(&pki.ca_der);
    assert_eq!(ca.subject().to_string(), "CN=tapclient test CA");
    assert!(ca.is_ca());
    let other = parse(&pki.other_ca_der);
    assert_eq!(other.subject().to_string(), "CN=tapclient other CA");

    let server = parse(&pki.server_der);
    assert_eq!(server.subject().to_string(), "CN=vpn.test");
    assert_eq!(server.issuer(), ca.subject());
    assert_eq!(eku(&server), Some((true, false)));
    let sans = server.subject_alternative_name().unwrap().unwrap().value;
    assert_eq!(sans.general_names.len(), 2);
    assert!(matches!(
        sans.general_names[0],
        GeneralName::DNSName("vpn.test")
    ));
    assert!(matches!(
        sans.general_names[1],
        GeneralName::IPAddress(&[10, 1, 2, 3])
    ));

    let noeku = parse(&pki.server_noeku_der);
    assert_eq!(noeku.subject(), server.subject());
    assert_eq!(noeku.issuer(), ca.subject());
    assert_eq!(eku(&noeku), None, "server-noeku must carry no EKU at all");

    let client = parse(&pki.client_der);
    assert_eq!(client.subject().to_string(), "CN=client");
    assert_eq!(eku(&client), Some((false, true)));
    let other_client = parse(&pki.other_client_der);
    assert_eq!(other_client.subject().to_string(), "CN=client");
    assert_eq!(other_client.issuer(), other.subject());

    let now = ASN1Time::now().timestamp();
    for cert in [&ca, &server, &client] {
        let v = cert.validity();
        let (from, to) = (v.not_before.timestamp(), v.not_after.timestamp());
        assert!(
            (now - 86_400 - 60..=now - 86_400 + 60).contains(&from),
            "not_before"
        );
        assert!((now + 3650 * 86_400 - 60..=now + 3650 * 86_400 + 60).contains(&to));
    }
}

#[test]
fn keys_are_fresh_each_run() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let pa = generate(a.path(), &Options::default()).unwrap();
    let pb = generate(b.path(), &Options::default()).unwrap();
    assert_ne!(pa.client_key_der, pb.client_key_der);
    assert_ne!(pa.ca_der, pb.ca_der);
}

#[test]
fn p12_is_modern_and_readable_by_p12_keystore() {
    let dir = tempfile::tempdir().unwrap();
    let pki = generate(dir.path(), &Options::default()).unwrap();
    let data = std::fs::read(&pki.client_p12).unwrap();
    let store = KeyStore::from_pkcs12(&data, "tapclient-test", Default::default()).unwrap();
    let (_, chain) = store.private_key_chain().unwrap();
    assert_eq!(chain.key().as_der(), pki.client_key_der.as_slice());
    assert_eq!(chain.certs()[0].as_der(), pki.client_der.as_slice());
    assert_eq!(chain.certs()[1].as_der(), pki.ca_der.as_slice());
    assert!(KeyStore::from_pkcs12(&data, "wrong", Default::default()).is_err());
}

/// Needs the `openssl` CLI; fails (does not skip) without it.
#[test]
fn openssl_reads_client_p12_without_legacy() {
    let dir = tempfile::tempdir().unwrap();
    let pki = generate(dir.path(), &Options::default()).unwrap();
    let out = Command::new("openssl")
        .args([
            "pkcs12",
            "-info",
            "-nodes",
            "-passin",
            "pass:tapclient-test",
            "-in",
        ])
        .arg(&pki.client_p12)
        .output()
        .expect("the openssl CLI is required for this test");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "openssl failed: {stderr}");
    assert!(stderr.contains("MAC: sha256"), "{stderr}");
    assert!(
        stderr.contains("PBES2") && stderr.contains("AES-256-CBC"),
        "{stderr}"
    );
    assert!(stdout.contains("subject=CN = client"), "{stdout}");
    assert!(stdout.contains("BEGIN PRIVATE KEY"));

    let wrong = Command::new("openssl")
        .args(["pkcs12", "-noout", "-passin", "pass:nope", "-in"])
        .arg(&pki.client_p12)
        .output()
        .unwrap();
    assert!(!wrong.status.success());
}

#[test]
fn bad_server_name_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        server_name: "s\u{e9}rveur".into(),
        ..Options::default()
    };
    let err = generate(dir.path(), &opts).unwrap_err();
    assert!(matches!(err, Error::Certificate(_)), "{err}");
}
