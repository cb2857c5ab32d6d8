//! PKCS#12 files as `openssl pkcs12 -export` makes them (OpenSSL 3 defaults, `-legacy`,
//! password-less, unencrypted), with RSA and ECDSA keys and a root → intermediate → leaf chain.
//!
//! These tests need the `openssl` CLI and FAIL without it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tapclient::config::PasswordSource;
use tapclient::credentials::{load_ca, load_pkcs12, CredentialsError, Identity};

const EXT_CONF: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("these tests need the `openssl` CLI on PATH");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `-newkey` arguments for a key kind.
fn newkey(kind: &str) -> Vec<&'static str> {
    match kind {
        "rsa" => vec!["-newkey", "rsa:2048"],
        "p256" => vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
        "p384" => vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1"],
        "p521" => vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp521r1"],
        "ed25519" => vec!["-newkey", "ed25519"],
        "ed448" => vec!["-newkey", "ed448"],
        other => panic!("unknown key kind {other}"),
    }
}

/// A root CA, an intermediate and a leaf (`CN=leaf-<kind>`), all with `kind` keys, in `dir`.
struct Chain {
    dir: PathBuf,
    root: Vec<u8>,
    intermediate: Vec<u8>,
    leaf: Vec<u8>,
}

fn make_chain(base: &Path, kind: &str) -> Chain {
    let dir = base.join(kind);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ext.cnf"), EXT_CONF).unwrap();
    let mut root = vec![
        "req",
        "-x509",
        "-config",
        "ext.cnf",
        "-extensions",
        "ca",
        "-nodes",
    ];
    root.extend(newkey(kind));
    root.extend(["-keyout", "root.key", "-out", "root.crt", "-days", "30"]);
    root.extend(["-subj", "/CN=root"]);
    openssl(&dir, &root);
    for (name, issuer, ext) in [("int", "root", "ca"), ("leaf", "int", "leaf")] {
        let subject = format!("/CN={name}-{kind}");
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        let mut req = vec!["req", "-new", "-config", "ext.cnf", "-nodes"];
        req.extend(newkey(kind));
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
                "30",
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
    let mut bundle = std::fs::read_to_string(dir.join("int.crt")).unwrap();
    bundle.push_str(&std::fs::read_to_string(dir.join("root.crt")).unwrap());
    std::fs::write(dir.join("chain.pem"), bundle).unwrap();
    Chain {
        root: der("root.crt"),
        intermediate: der("int.crt"),
        leaf: der("leaf.crt"),
        dir,
    }
}

impl Chain {
    /// `openssl pkcs12 -export` of leaf key + leaf + [intermediate, root] with extra options.
    fn export(&self, name: &str, extra: &[&str]) -> PathBuf {
        let mut args = vec!["pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.crt"];
        args.extend(["-certfile", "chain.pem", "-out", name]);
        args.extend(extra);
        openssl(&self.dir, &args);
        self.dir.join(name)
    }

    /// A new password file (each call its own file, so earlier sources stay valid).
    fn password_file(&self, content: &str) -> PasswordSource {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("pass-{n}.txt"));
        std::fs::write(&path, content).unwrap();
        PasswordSource::File(path)
    }

    /// Checks the identity and hands it to the TLS config (which checks key and leaf match).
    fn check(&self, id: Identity, kind: &str) {
        assert_eq!(id.cert_chain.len(), 2, "leaf + intermediate, root left out");
        assert_eq!(
            id.cert_chain[0].as_ref(),
            self.leaf.as_slice(),
            "leaf first"
        );
        assert_eq!(id.cert_chain[1].as_ref(), self.intermediate.as_slice());
        assert_eq!(id.subject(), format!("CN=leaf-{kind}"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let left = id.not_after().unix_seconds() - now;
        assert!(
            (29 * 86_400..=31 * 86_400).contains(&left),
            "not_after {}",
            id.not_after()
        );
        assert!(id.not_after().to_string().ends_with(" UTC"));
        // The key belongs to the leaf and is usable: rustls checks both.
        let root = vec![CertificateDer::from(self.root.clone())];
        tapclient::tls::client_config(&root, id, None).expect("usable identity");
    }
}

fn all_formats(kind: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let chain = make_chain(tmp.path(), kind);
    chain.export("nopass.p12", &["-passout", "pass:"]);

    // OpenSSL 3 default: PBES2/PBKDF2/AES-256-CBC, SHA-256 MAC. Password file with CRLF.
    let modern = chain.export("modern.p12", &["-passout", "pass:s3cret pw"]);
    let id = load_pkcs12(&modern, &chain.password_file("s3cret pw\r\nsecond line\n")).unwrap();
    chain.check(id, kind);

    // -legacy: RC2-40 certificates, 3DES key, SHA-1 MAC. Password from the environment.
    let legacy = chain.export("legacy.p12", &["-legacy", "-passout", "pass:s3cret pw"]);
    let var = format!("TAPCLIENT_CRED_TEST_{}", kind.to_uppercase());
    std::env::set_var(&var, "s3cret pw");
    let id = load_pkcs12(&legacy, &PasswordSource::Env(var)).unwrap();
    chain.check(id, kind);

    // Password-less: no password configured, no prompt needed.
    let nopass = chain.dir.join("nopass.p12");
    chain.check(load_pkcs12(&nopass, &PasswordSource::Unset).unwrap(), kind);
    chain.check(
        load_pkcs12(&nopass, &chain.password_file("\n")).unwrap(),
        kind,
    );

    // Unencrypted and without MAC.
    let plain = chain.export(
        "plain.p12",
        &[
            "-keypbe", "NONE", "-certpbe", "NONE", "-nomac", "-passout", "pass:",
        ],
    );
    chain.check(load_pkcs12(&plain, &PasswordSource::Unset).unwrap(), kind);
}

#[test]
fn rsa_files_of_every_kind_open() {
    all_formats("rsa");
}

#[test]
fn ecdsa_p256_files_of_every_kind_open() {
    all_formats("p256");
}

#[test]
fn ecdsa_p384_files_of_every_kind_open() {
    all_formats("p384");
}

#[test]
fn wrong_password_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = make_chain(tmp.path(), "p256");
    let files = [
        chain.export("office.p12", &["-passout", "pass:right"]),
        chain.export("legacy.p12", &["-legacy", "-passout", "pass:right"]),
        // Encrypted but without MAC: the wrong password shows as a decryption failure.
        chain.export("nomac.p12", &["-nomac", "-passout", "pass:right"]),
    ];
    let wrong = chain.password_file("wrong\n");
    for file in &files {
        let err = load_pkcs12(file, &wrong).unwrap_err();
        assert!(
            matches!(err, CredentialsError::WrongPassword { .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("wrong password for {}", file.display())
        );
        load_pkcs12(file, &chain.password_file("right")).expect("right password opens it");
    }
}

#[test]
fn non_pkcs12_files_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = make_chain(tmp.path(), "p256");
    for name in ["leaf.crt", "leaf.key", "ext.cnf"] {
        let path = chain.dir.join(name);
        let err = load_pkcs12(&path, &PasswordSource::Unset).unwrap_err();
        assert!(
            matches!(err, CredentialsError::NotPkcs12 { .. }),
            "{name}: {err:?}"
        );
        assert!(err
            .to_string()
            .starts_with(&format!("{} is not a PKCS#12 file", path.display())));
    }
    let missing = chain.dir.join("absent.p12");
    let err = load_pkcs12(&missing, &PasswordSource::Unset).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{} does not exist", missing.display())
    );
}

#[test]
fn password_source_problems_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = make_chain(tmp.path(), "p256");
    let p12 = chain.export("office.p12", &["-passout", "pass:right"]);
    let var = "TAPCLIENT_CRED_TEST_SURELY_UNSET";
    std::env::remove_var(var);
    let err = load_pkcs12(&p12, &PasswordSource::Env(var.into())).unwrap_err();
    assert!(
        matches!(err, CredentialsError::PasswordEnvMissing { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(var), "{err}");

    let no_file = chain.dir.join("no-such.pass");
    let err = load_pkcs12(&p12, &PasswordSource::File(no_file)).unwrap_err();
    assert!(
        matches!(err, CredentialsError::PasswordFile { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("no-such.pass"), "{err}");
}

#[test]
fn unsupported_key_types_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    for (kind, expect) in [("ed448", "Ed448"), ("p521", "P-256 or P-384")] {
        let chain = make_chain(tmp.path(), kind);
        let p12 = chain.export("k.p12", &["-passout", "pass:"]);
        let err = load_pkcs12(&p12, &PasswordSource::Unset).unwrap_err();
        assert!(
            matches!(err, CredentialsError::UnsupportedKeyType { .. }),
            "{kind}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(expect) && text.contains("k.p12"), "{text}");
    }
}

#[test]
fn ed25519_identity_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = make_chain(tmp.path(), "ed25519");
    let p12 = chain.export("k.p12", &["-passout", "pass:x"]);
    let id = load_pkcs12(&p12, &chain.password_file("x")).unwrap();
    assert_eq!(id.subject(), "CN=leaf-ed25519");
    assert_eq!(id.cert_chain.len(), 2);
}

#[test]
fn ca_file_with_a_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = make_chain(tmp.path(), "p256");
    let certs = load_ca(&chain.dir.join("chain.pem")).unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[0].as_ref(), chain.intermediate.as_slice());
    assert_eq!(certs[1].as_ref(), chain.root.as_slice());
    let err = load_ca(&chain.dir.join("leaf.key")).unwrap_err();
    assert!(
        matches!(err, CredentialsError::NoCaCertificate { .. }),
        "{err:?}"
    );
}
