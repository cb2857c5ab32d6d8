//! Test PKI for tapclient: a CA, a server and a client certificate, the client's PKCS#12, and
//! material for negative tests. Test material only — never use it to protect anything.
//!
//! Every run writes the same file names with the same subjects, extensions and validity window
//! (one day ago until ten years from now) into the chosen folder; the keys (ECDSA P-256) are
//! fresh each run and must never be committed.
//!
//! | file | what |
//! |---|---|
//! | `ca.crt`, `ca.key` | CA `CN=tapclient test CA` |
//! | `server.crt`, `server.key` | `CN=<server name>`, SAN DNS `<server name>` + IPs, EKU serverAuth |
//! | `client.crt`, `client.key` | `CN=client`, EKU clientAuth |
//! | `client.p12`, `client.pass` | client key + [client, CA] certificates; PBES2/PBKDF2/AES-256-CBC, HMAC-SHA-256 (10,000 iterations each); its password |
//! | `other-ca.crt` | a second CA, `CN=tapclient other CA` |
//! | `other-client.p12` | `CN=client` issued by the other CA (same password) |
//! | `server-noeku.crt`, `server-noeku.key` | like `server.crt`, same CA, but without any EKU |
//!
//! The `.p12` files are written by `p12-keystore`, which can produce the OpenSSL 3 default
//! format (PBES2 with AES-256-CBC, SHA-256 MAC); `openssl pkcs12` reads them without `-legacy`.

use std::fmt;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Password of `client.p12` and `other-client.p12`.
    pub password: String,
    /// CN and DNS SAN of the server certificates.
    pub server_name: String,
    /// IP SANs of the server certificates.
    pub server_ips: Vec<IpAddr>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            password: "tapclient-test".to_owned(),
            server_name: "server".to_owned(),
            server_ips: vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ],
        }
    }
}

/// What [`generate`] wrote: paths, and the DER of certificates and keys (PKCS#8) for tests.
/// `Debug` shows the paths only.
#[derive(Clone)]
pub struct Pki {
    pub dir: PathBuf,
    pub ca_crt: PathBuf,
    pub ca_key: PathBuf,
    pub server_crt: PathBuf,
    pub server_key: PathBuf,
    pub client_crt: PathBuf,
    pub client_key: PathBuf,
    pub client_p12: PathBuf,
    pub client_pass: PathBuf,
    pub other_ca_crt: PathBuf,
    pub other_client_p12: PathBuf,
    pub server_noeku_crt: PathBuf,
    pub server_noeku_key: PathBuf,
    pub ca_der: Vec<u8>,
    pub server_der: Vec<u8>,
    pub server_key_der: Vec<u8>,
    pub client_der: Vec<u8>,
    pub client_key_der: Vec<u8>,
    pub other_ca_der: Vec<u8>,
    pub other_client_der: Vec<u8>,
    pub server_noeku_der: Vec<u8>,
    pub server_noeku_key_der: Vec<u8>,
}

impl Pki {
    /// Every file written, in the order written.
    pub fn files(&self) -> Vec<&Path> {
        vec![
            &self.ca_crt,
            &self.ca_key,
            &self.server_crt,
            &self.server_key,
            &self.client_crt,
            &self.client_key,
            &self.client_p12,
            &self.client_pass,
            &self.other_ca_crt,
            &self.other_client_p12,
            &self.server_noeku_crt,
            &self.server_noeku_key,
        ]
    }
}

impl fmt::Debug for Pki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pki")
            .field("dir", &self.dir)
            .field("files", &self.files())
            .finish_non_exhaustive()
    }
}

/// Why generation failed.
#[derive(Debug)]
pub enum Error {
    /// rcgen refused the parameters (e.g. a server name that is not a valid DNS name).
    Certificate(rcgen::Error),
    /// p12-keystore could not build a PKCS#12 file.
    Pkcs12(p12_keystore::error::Error),
    /// Writing a file failed.
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Certificate(e) => write!(f, "cannot make a certificate: {e}"),
            Error::Pkcs12(e) => write!(f, "cannot make a PKCS#12 file: {e}"),
            Error::Write { path, source } => write!(f, "cannot write {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Certificate(e) => Some(e),
            Error::Pkcs12(e) => Some(e),
            Error::Write { source, .. } => Some(source),
        }
    }
}

impl From<rcgen::Error> for Error {
    fn from(e: rcgen::Error) -> Self {
        Error::Certificate(e)
    }
}

impl From<p12_keystore::error::Error> for Error {
    fn from(e: p12_keystore::error::Error) -> Self {
        Error::Pkcs12(e)
    }
}

/// A certificate and its key, as DER and PEM.
struct Issued {
    cert: Vec<u8>,
    cert_pem: String,
    key: Vec<u8>,
    key_pem: String,
}

impl Issued {
    fn new(cert: &rcgen::Certificate, key: &KeyPair) -> Issued {
        Issued {
            cert: cert.der().to_vec(),
            cert_pem: cert.pem(),
            key: key.serialize_der(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// Writes the test PKI into `dir` (created if missing), replacing files of the same names.
pub fn generate(dir: &Path, opts: &Options) -> Result<Pki, Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_owned(),
        source,
    })?;
    let (ca, ca_issuer) = make_ca("tapclient test CA")?;
    let (other_ca, other_issuer) = make_ca("tapclient other CA")?;
    let server = make_leaf(&ca_issuer, server_params(opts, true)?)?;
    let server_noeku = make_leaf(&ca_issuer, server_params(opts, false)?)?;
    let client = make_leaf(&ca_issuer, client_params())?;
    let other_client = make_leaf(&other_issuer, client_params())?;

    let path = |name: &str| dir.join(name);
    let pki = Pki {
        dir: dir.to_owned(),
        ca_crt: path("ca.crt"),
        ca_key: path("ca.key"),
        server_crt: path("server.crt"),
        server_key: path("server.key"),
        client_crt: path("client.crt"),
        client_key: path("client.key"),
        client_p12: path("client.p12"),
        client_pass: path("client.pass"),
        other_ca_crt: path("other-ca.crt"),
        other_client_p12: path("other-client.p12"),
        server_noeku_crt: path("server-noeku.crt"),
        server_noeku_key: path("server-noeku.key"),
        ca_der: ca.cert.clone(),
        server_der: server.cert.clone(),
        server_key_der: server.key.clone(),
        client_der: client.cert.clone(),
        client_key_der: client.key.clone(),
        other_ca_der: other_ca.cert.clone(),
        other_client_der: other_client.cert.clone(),
        server_noeku_der: server_noeku.cert.clone(),
        server_noeku_key_der: server_noeku.key.clone(),
    };

    write(&pki.ca_crt, ca.cert_pem.as_bytes(), false)?;
    write(&pki.ca_key, ca.key_pem.as_bytes(), true)?;
    write(&pki.server_crt, server.cert_pem.as_bytes(), false)?;
    write(&pki.server_key, server.key_pem.as_bytes(), true)?;
    write(&pki.client_crt, client.cert_pem.as_bytes(), false)?;
    write(&pki.client_key, client.key_pem.as_bytes(), true)?;
    let p12 = pkcs12(&client, &ca, &opts.password)?;
    write(&pki.client_p12, &p12, true)?;
    write(
        &pki.client_pass,
        format!("{}\n", opts.password).as_bytes(),
        true,
    )?;
    write(&pki.other_ca_crt, other_ca.cert_pem.as_bytes(), false)?;
    let other_p12 = pkcs12(&other_client, &other_ca, &opts.password)?;
    write(&pki.other_client_p12, &other_p12, true)?;
    write(
        &pki.server_noeku_crt,
        server_noeku.cert_pem.as_bytes(),
        false,
    )?;
    write(&pki.server_noeku_key, server_noeku.key_pem.as_bytes(), true)?;
    Ok(pki)
}

fn validity(params: &mut CertificateParams) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(3650);
}

fn make_ca(cn: &str) -> Result<(Issued, Issuer<'static, KeyPair>), Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut params);
    let issued = Issued::new(&params.self_signed(&key)?, &key);
    Ok((issued, Issuer::new(params, key)))
}

fn server_params(opts: &Options, server_auth: bool) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, opts.server_name.as_str());
    params.subject_alt_names = vec![SanType::DnsName(opts.server_name.clone().try_into()?)];
    params
        .subject_alt_names
        .extend(opts.server_ips.iter().map(|ip| SanType::IpAddress(*ip)));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if server_auth {
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    }
    Ok(params)
}

fn client_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "client");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

fn make_leaf(issuer: &Issuer<'_, KeyPair>, mut params: CertificateParams) -> Result<Issued, Error> {
    let key = KeyPair::generate()?;
    validity(&mut params);
    params.use_authority_key_identifier_extension = true;
    Ok(Issued::new(&params.signed_by(&key, issuer)?, &key))
}

/// A PKCS#12 with the leaf's key and [leaf, CA], as `openssl pkcs12 -export` with OpenSSL 3
/// defaults makes it (PBES2/PBKDF2-SHA256/AES-256-CBC, HMAC-SHA-256).
fn pkcs12(leaf: &Issued, ca: &Issued, password: &str) -> Result<Vec<u8>, Error> {
    let key = PrivateKey::from_der(&leaf.key)?;
    let certs = vec![
        Certificate::from_der(&leaf.cert)?,
        Certificate::from_der(&ca.cert)?,
    ];
    let chain = PrivateKeyChain::new(b"tapclient-certs".as_slice(), key, certs);
    let mut store = KeyStore::new();
    store.add_entry("client", KeyStoreEntry::PrivateKeyChain(chain));
    Ok(store.writer(password).write()?)
}

fn write(path: &Path, data: &[u8], secret: bool) -> Result<(), Error> {
    let err = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(err)?;
    file.write_all(data).map_err(err)?;
    #[cfg(unix)]
    if secret {
        // `mode` only applies to new files; tighten a file left by an earlier run too.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
