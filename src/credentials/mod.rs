//! Client credentials: a PKCS#12 file and a PEM CA file turned into rustls inputs.
//!
//! Owns reading the `[tls]` files named in the config: the client identity (certificate chain
//! and private key from a `.p12`/`.pfx`, password from a file, an environment variable or a
//! terminal prompt) and the CA certificates the server must chain to. Both the OpenSSL 3
//! default PKCS#12 (PBES2/PBKDF2/AES-256-CBC, SHA-256 MAC) and the `-legacy` kind (RC2-40
//! certificates, 3DES key, SHA-1 MAC) open, as do password-less and unencrypted files.
//!
//! Must not: log or print secrets (passwords, key bytes). The private key is wiped when the
//! [`Identity`] is dropped; copies made inside `p12-keystore` while decoding cannot be reached
//! from here and are freed without wiping.

mod password;
mod pkcs12;
mod userpass;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroize;

pub use password::PromptCache;
pub use pkcs12::{load_pkcs12, load_pkcs12_cached};
pub use userpass::{load_user_pass, UserPass};

/// Why a credential file could not be used. Every message names the file (or the variable)
/// and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("{} does not exist", path.display())]
    NotFound { path: PathBuf },

    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{} is not a PKCS#12 file (expected a .p12/.pfx as made by `openssl pkcs12 -export`)", path.display())]
    NotPkcs12 { path: PathBuf },

    #[error("wrong password for {}", path.display())]
    WrongPassword { path: PathBuf },

    #[error(
        "{} is protected by a password and there is no terminal to ask for it: \
         set password_file or password_env in the [tls] section",
        path.display()
    )]
    PasswordRequired { path: PathBuf },

    #[error("cannot read the password for {} from the terminal: {source}", path.display())]
    PasswordPrompt {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("cannot read the password file {} (password_file in [tls]): {source}", path.display())]
    PasswordFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("the first line of the password file {} is not valid UTF-8", path.display())]
    PasswordFileNotUtf8 { path: PathBuf },

    #[error("environment variable {var} (password_env in [tls]) is not set")]
    PasswordEnvMissing { var: String },

    #[error("environment variable {var} (password_env in [tls]) is not valid UTF-8")]
    PasswordEnvNotUnicode { var: String },

    #[error("{} uses a PKCS#12 feature tapclient cannot open: {what}", path.display())]
    UnsupportedPkcs12 { path: PathBuf, what: &'static str },

    #[error("{} is damaged or not a valid PKCS#12 file: {source}", path.display())]
    MalformedPkcs12 {
        path: PathBuf,
        #[source]
        source: p12_keystore::error::Error,
    },

    #[error("{} contains no private key", path.display())]
    NoPrivateKey { path: PathBuf },

    #[error("{} contains no certificate", path.display())]
    NoCertificate { path: PathBuf },

    #[error("{} contains no certificate matching its private key", path.display())]
    NoMatchingCertificate { path: PathBuf },

    #[error("the private key in {} is not supported: {what}", path.display())]
    UnsupportedKeyType { path: PathBuf, what: String },

    #[error("certificate #{index} in {} cannot be parsed: {detail}", path.display())]
    BadCertificate {
        path: PathBuf,
        index: usize,
        detail: String,
    },

    #[error("{} is not a valid PEM file: {source}", path.display())]
    BadPem {
        path: PathBuf,
        #[source]
        source: pem::Error,
    },

    #[error("{} contains no certificate (expected PEM blocks `-----BEGIN CERTIFICATE-----`)", path.display())]
    NoCaCertificate { path: PathBuf },

    #[error("cannot read the auth-user-pass file {} (file in [auth_user_pass]): {source}", path.display())]
    AuthFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("the auth-user-pass file {} is not valid UTF-8", path.display())]
    AuthFileNotUtf8 { path: PathBuf },

    #[error(
        "the auth-user-pass file {} has no username on its first line \
         (the format is: username on line 1, password on line 2)",
        path.display()
    )]
    AuthFileNoUsername { path: PathBuf },

    #[error(
        "the server login needs a {what} and there is no terminal to ask for it: set file, or \
         username with password_file or password_env, in [auth_user_pass]"
    )]
    UserPassRequired { what: &'static str },

    #[error("cannot read the server login from the terminal: {source}")]
    UserPassPrompt {
        #[source]
        source: io::Error,
    },
}

/// A point in time from a certificate (UTC), e.g. `notAfter`. Displays as
/// `2035-03-02 12:00:00 UTC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CertTime {
    unix_seconds: i64,
    // Broken-down UTC fields, computed once when the certificate is read.
    ymd: (i32, u8, u8),
    hms: (u8, u8, u8),
}

impl CertTime {
    pub(crate) fn from_asn1(t: &x509_parser::time::ASN1Time) -> Self {
        let dt = t.to_datetime();
        CertTime {
            unix_seconds: t.timestamp(),
            ymd: (dt.year(), u8::from(dt.month()), dt.day()),
            hms: (dt.hour(), dt.minute(), dt.second()),
        }
    }

    /// The time `secs` after the Unix epoch; `None` past year 9999.
    pub fn from_unix(secs: u64) -> Option<Self> {
        let secs = i64::try_from(secs).ok()?;
        let t = x509_parser::time::ASN1Time::from_timestamp(secs).ok()?;
        (t.to_datetime().year() <= 9999).then(|| Self::from_asn1(&t))
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.unix_seconds
    }
}

impl fmt::Display for CertTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d) = self.ymd;
        let (h, mi, s) = self.hms;
        write!(f, "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
    }
}

/// The client's TLS identity: its certificate chain (leaf first, then intermediates; no
/// self-signed root) and its private key (PKCS#8). The key is wiped on drop and never shown by
/// `Debug`.
pub struct Identity {
    pub cert_chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    subject: String,
    not_after: CertTime,
    source: PathBuf,
}

impl Identity {
    /// The leaf certificate's subject, e.g. `CN=client`.
    pub fn subject(&self) -> String {
        self.subject.clone()
    }

    /// When the leaf certificate expires.
    pub fn not_after(&self) -> CertTime {
        self.not_after
    }

    /// The file this identity was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("subject", &self.subject)
            .field("not_after", &format_args!("{}", self.not_after))
            .field("chain_len", &self.cert_chain.len())
            .field(
                "key",
                &format_args!("<private key, {} bytes>", self.key.secret_der().len()),
            )
            .field("source", &self.source)
            .finish()
    }
}

impl Drop for Identity {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

/// Reads a PEM file holding one or more CA certificates (other PEM blocks are ignored).
pub fn load_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>, CredentialsError> {
    let data = read_file(path)?;
    let mut certs = Vec::new();
    for item in CertificateDer::pem_slice_iter(&data) {
        match item {
            Ok(cert) => certs.push(cert),
            Err(source) => {
                return Err(CredentialsError::BadPem {
                    path: path.to_owned(),
                    source,
                })
            }
        }
    }
    if certs.is_empty() {
        return Err(CredentialsError::NoCaCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// Reads a whole credential file, telling a missing file from an unreadable one.
fn read_file(path: &Path) -> Result<Vec<u8>, CredentialsError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => CredentialsError::NotFound {
            path: path.to_owned(),
        },
        _ => CredentialsError::Unreadable {
            path: path.to_owned(),
            source,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cert_time_displays_utc() {
        let t = x509_parser::time::ASN1Time::from_timestamp(2_056_000_000).unwrap();
        let ct = CertTime::from_asn1(&t);
        assert_eq!(ct.unix_seconds(), 2_056_000_000);
        assert_eq!(ct.to_string(), "2035-02-25 07:06:40 UTC");
        assert_eq!(CertTime::from_unix(2_056_000_000), Some(ct));
        assert_eq!(
            CertTime::from_unix(0).unwrap().to_string(),
            "1970-01-01 00:00:00 UTC"
        );
        assert_eq!(CertTime::from_unix(u64::MAX), None);
    }

    #[test]
    fn load_ca_reads_every_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let pki = tapclient_certs::generate(dir.path(), &Default::default()).unwrap();
        let both = dir.path().join("both.pem");
        let mut text = std::fs::read_to_string(&pki.ca_crt).unwrap();
        text.push_str("junk between blocks\n");
        text.push_str(&std::fs::read_to_string(&pki.other_ca_crt).unwrap());
        std::fs::write(&both, text).unwrap();
        let certs = load_ca(&both).unwrap();
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[0].as_ref(), pki.ca_der.as_slice());
        assert_eq!(certs[1].as_ref(), pki.other_ca_der.as_slice());
    }

    #[test]
    fn load_ca_without_certificate_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.crt");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let err = load_ca(&path).unwrap_err();
        assert!(
            matches!(err, CredentialsError::NoCaCertificate { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("ca.crt"), "{err}");
    }

    #[test]
    fn load_ca_missing_file_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_ca(&dir.path().join("nope.crt")).unwrap_err();
        assert!(matches!(err, CredentialsError::NotFound { .. }), "{err:?}");
        assert!(
            err.to_string().ends_with("nope.crt does not exist"),
            "{err}"
        );
    }

    #[test]
    fn load_ca_broken_pem_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.crt");
        std::fs::write(&path, "-----BEGIN CERTIFICATE-----\n!!!!\n").unwrap();
        let err = load_ca(&path).unwrap_err();
        assert!(matches!(err, CredentialsError::BadPem { .. }), "{err:?}");
    }
}
