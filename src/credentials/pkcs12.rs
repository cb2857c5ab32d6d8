//! Opening a PKCS#12 file (RFC 7292) and picking the client identity out of it.
//!
//! Decoding and decryption are `p12-keystore`'s; this file tells the user's mistakes apart
//! (wrong password, not a PKCS#12 file, nothing usable inside) and chooses the leaf: the
//! certificate whose public key matches the private key (the `localKeyId` attribute breaks
//! ties), followed by its issuers found in the file, up to but not including a self-signed root.

use std::path::Path;

use p12_keystore::{Pkcs12Archive, PrivateKeyBag};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use super::password::{self, Prompt, TerminalPrompt};
use super::{read_file, CertTime, CredentialsError, Identity};
use crate::config::PasswordSource;

/// Longest chain taken from a file (leaf included); deeper PKIs do not exist in practice.
const MAX_CHAIN: usize = 8;

/// Reads the client identity from a PKCS#12 file.
///
/// With [`PasswordSource::Unset`] the empty password is tried first; if the file needs a real
/// one, it is asked for on the terminal (no echo) when standard input is a terminal, otherwise
/// the error tells the user to set `password_file` or `password_env`.
pub fn load_pkcs12(path: &Path, password: &PasswordSource) -> Result<Identity, CredentialsError> {
    load_with_prompt(path, password, &TerminalPrompt)
}

/// [`load_pkcs12`], but a password typed at the terminal is remembered in `cache` (and taken
/// from it on the next call: reloads do not ask again).
pub fn load_pkcs12_cached(
    path: &Path,
    password: &PasswordSource,
    cache: &super::PromptCache,
) -> Result<Identity, CredentialsError> {
    load_with_prompt(path, password, &cache.caching(&TerminalPrompt))
}

pub(crate) fn load_with_prompt(
    path: &Path,
    source: &PasswordSource,
    prompt: &dyn Prompt,
) -> Result<Identity, CredentialsError> {
    let data = read_file(path)?;
    let shape = probe(&data).ok_or_else(|| CredentialsError::NotPkcs12 {
        path: path.to_owned(),
    })?;
    let archive = match source {
        PasswordSource::File(file) => open(path, &data, shape, &password::from_file(file)?)?,
        PasswordSource::Env(var) => open(path, &data, shape, &password::from_env(var)?)?,
        PasswordSource::Unset => match open(path, &data, shape, "") {
            Err(CredentialsError::WrongPassword { .. }) => match prompt.ask(path) {
                None => {
                    return Err(CredentialsError::PasswordRequired {
                        path: path.to_owned(),
                    })
                }
                Some(Err(source)) => {
                    return Err(CredentialsError::PasswordPrompt {
                        path: path.to_owned(),
                        source,
                    })
                }
                Some(Ok(answer)) => open(path, &data, shape, &answer)?,
            },
            other => other?,
        },
    };
    identity_from(path, archive)
}

/// What the outer DER of a file says before any password is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shape {
    /// The file carries a MAC (so a wrong password shows as a MAC failure).
    has_mac: bool,
}

fn open(
    path: &Path,
    data: &[u8],
    shape: Shape,
    password: &str,
) -> Result<Pkcs12Archive, CredentialsError> {
    Pkcs12Archive::from_pkcs12(data, password).map_err(|e| classify(path, e, shape))
}

/// Turns a `p12-keystore` error into the user's problem.
fn classify(path: &Path, err: p12_keystore::error::Error, shape: Shape) -> CredentialsError {
    use p12_keystore::error::Error as E;
    let unsupported = |what| CredentialsError::UnsupportedPkcs12 {
        path: path.to_owned(),
        what,
    };
    match err {
        // A bare HMAC mismatch: the password is wrong (the file is intact, or we could not
        // have parsed this far).
        E::MacError(_) => CredentialsError::WrongPassword {
            path: path.to_owned(),
        },
        // Without a MAC, a wrong password surfaces as bad padding or garbage plaintext.
        E::Pkcs5Error(_)
        | E::UnpadError
        | E::DerError(_)
        | E::X509Error(_)
        | E::InvalidPrivateKey
        | E::InvalidData
        | E::InvalidLength
            if !shape.has_mac =>
        {
            CredentialsError::WrongPassword {
                path: path.to_owned(),
            }
        }
        E::InvalidVersion => unsupported("a PKCS#12 version other than 3"),
        E::UnsupportedContentType => unsupported("public-key integrity or privacy mode"),
        E::UnsupportedCertificateType => unsupported("a certificate type other than X.509"),
        E::UnsupportedEncryptionScheme => unsupported(
            "an encryption scheme other than PBES2/AES, 3DES or RC2-40 (re-export it with \
             `openssl pkcs12 -export`)",
        ),
        E::UnsupportedMacAlgorithm => unsupported("a MAC other than HMAC with SHA-1 or SHA-2"),
        E::InvalidParameters => unsupported(
            "encryption parameters out of bounds (more than 1,000,000 iterations, or huge scrypt cost)",
        ),
        source => CredentialsError::MalformedPkcs12 {
            path: path.to_owned(),
            source,
        },
    }
}

/// A certificate from the file with the parts needed to pick the leaf and order the chain.
struct Cert {
    der: Vec<u8>,
    subject_raw: Vec<u8>,
    issuer_raw: Vec<u8>,
    spki_raw: Vec<u8>,
    local_key_id: Option<Vec<u8>>,
    subject: String,
    not_after: CertTime,
}

impl Cert {
    fn parse(
        path: &Path,
        index: usize,
        der: &[u8],
        local_key_id: Option<Vec<u8>>,
    ) -> Result<Cert, CredentialsError> {
        let (_, x509) = x509_parser::parse_x509_certificate(der).map_err(|e| {
            CredentialsError::BadCertificate {
                path: path.to_owned(),
                index,
                detail: e.to_string(),
            }
        })?;
        Ok(Cert {
            der: der.to_vec(),
            subject_raw: x509.subject().as_raw().to_vec(),
            issuer_raw: x509.issuer().as_raw().to_vec(),
            spki_raw: x509.public_key().raw.to_vec(),
            local_key_id,
            subject: x509.subject().to_string(),
            not_after: CertTime::from_asn1(&x509.validity().not_after),
        })
    }

    fn is_self_signed(&self) -> bool {
        self.subject_raw == self.issuer_raw
    }
}

fn identity_from(path: &Path, archive: Pkcs12Archive) -> Result<Identity, CredentialsError> {
    if archive.keys.is_empty() {
        return Err(CredentialsError::NoPrivateKey {
            path: path.to_owned(),
        });
    }
    if archive.certs.is_empty() {
        return Err(CredentialsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    let certs = archive
        .certs
        .iter()
        .enumerate()
        .map(|(i, bag)| Cert::parse(path, i + 1, bag.cert.as_der(), bag.local_key_id.clone()))
        .collect::<Result<Vec<_>, _>>()?;

    let mut unsupported = None;
    for bag in &archive.keys {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(bag.key.as_der().to_vec()));
        let signer = match rustls::crypto::ring::sign::any_supported_type(&key) {
            Ok(signer) => signer,
            Err(_) => {
                unsupported = Some(describe_key(&bag.key.oid().to_string()));
                continue;
            }
        };
        let spki = signer.public_key();
        let Some(leaf) = find_leaf(&certs, spki.as_ref().map(|s| s.as_ref()), bag) else {
            continue;
        };
        let chain = chain_from(&certs, leaf);
        return Ok(Identity {
            cert_chain: chain.iter().map(|&i| certs[i].der.clone().into()).collect(),
            key,
            subject: certs[leaf].subject.clone(),
            not_after: certs[leaf].not_after,
            source: path.to_owned(),
        });
    }
    Err(match unsupported {
        Some(what) => CredentialsError::UnsupportedKeyType {
            path: path.to_owned(),
            what,
        },
        None => CredentialsError::NoMatchingCertificate {
            path: path.to_owned(),
        },
    })
}

/// The certificate for `key`: same public key (preferring the one whose `localKeyId` matches);
/// if the key's public half is unknown, the one with the same `localKeyId`.
fn find_leaf(certs: &[Cert], key_spki: Option<&[u8]>, key: &PrivateKeyBag) -> Option<usize> {
    let key_id = key.local_key_id.as_ref().map(|id| id.as_ref());
    let same_id = |c: &Cert| key_id.is_some() && c.local_key_id.as_deref() == key_id;
    match key_spki {
        Some(spki) => {
            let matching = || (0..certs.len()).filter(|&i| certs[i].spki_raw == spki);
            matching()
                .find(|&i| same_id(&certs[i]))
                .or_else(|| matching().next())
        }
        None => (0..certs.len()).find(|&i| same_id(&certs[i])),
    }
}

/// Indexes of the leaf and its issuers present in the file, leaf first, without a self-signed
/// root (the server has its own copy of its trust anchor).
fn chain_from(certs: &[Cert], leaf: usize) -> Vec<usize> {
    let mut chain = vec![leaf];
    let mut current = leaf;
    while chain.len() < MAX_CHAIN && !certs[current].is_self_signed() {
        let issuer = (0..certs.len())
            .find(|&i| !chain.contains(&i) && certs[i].subject_raw == certs[current].issuer_raw);
        match issuer {
            Some(i) if !certs[i].is_self_signed() => {
                chain.push(i);
                current = i;
            }
            _ => break,
        }
    }
    chain
}

fn describe_key(oid: &str) -> String {
    let kind = match oid {
        "1.2.840.113549.1.1.1" => "an RSA key of a size outside 2048..8192 bits",
        "1.2.840.10045.2.1" => "an EC key on a curve other than P-256 or P-384",
        "1.3.101.113" => "an Ed448 key",
        "1.3.101.110" | "1.3.101.111" => "an X25519/X448 key, which cannot sign",
        "1.2.840.10040.4.1" => "a DSA key",
        "1.2.840.113549.1.1.10" => "an RSASSA-PSS-only key",
        other => {
            return format!("key algorithm {other} (supported: RSA, ECDSA P-256/P-384, Ed25519)")
        }
    };
    format!("{kind} (supported: RSA 2048..8192 bits, ECDSA P-256/P-384, Ed25519)")
}

/// Checks the outer structure `PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo,
/// macData MacData OPTIONAL }` (RFC 7292 §4) without any password. `None`: not PKCS#12.
fn probe(data: &[u8]) -> Option<Shape> {
    const PKCS7_CONTENT_TYPE_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07];
    let (tag, start, len) = der_header(data, 0)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, version_at, version_len) = der_header(data, start)?;
    if tag != 0x02 || version_len != Some(1) || data.get(version_at) != Some(&3) {
        return None;
    }
    let (tag, content_info_at, content_info_len) = der_header(data, version_at + 1)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, oid_at, oid_len) = der_header(data, content_info_at)?;
    let oid = data.get(oid_at..oid_at.checked_add(oid_len?)?)?;
    if tag != 0x06 || !oid.starts_with(PKCS7_CONTENT_TYPE_PREFIX) {
        return None;
    }
    let has_mac = match (len, content_info_len) {
        (Some(len), Some(ci_len)) => content_info_at + ci_len < start + len,
        // Indefinite (BER) lengths: cannot tell cheaply; assume a MAC.
        _ => true,
    };
    Some(Shape { has_mac })
}

/// One DER/BER header at `at`: (tag, content start, content length; `None` = indefinite).
fn der_header(data: &[u8], at: usize) -> Option<(u8, usize, Option<usize>)> {
    let tag = *data.get(at)?;
    let first = *data.get(at.checked_add(1)?)?;
    let mut pos = at + 2;
    let len = match first {
        0x80 => None,
        0..=0x7f => Some(usize::from(first)),
        _ => {
            let count = usize::from(first & 0x7f);
            if count > 4 {
                return None;
            }
            let mut len = 0usize;
            for _ in 0..count {
                len = len
                    .checked_mul(256)?
                    .checked_add(usize::from(*data.get(pos)?))?;
                pos += 1;
            }
            Some(len)
        }
    };
    if let Some(len) = len {
        if pos.checked_add(len)? > data.len() {
            return None;
        }
    }
    Some((tag, pos, len))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::io;

    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    use zeroize::Zeroizing;

    use super::*;
    use crate::credentials::password::Password;

    /// A scripted prompt that records how often it was asked.
    struct Scripted {
        answer: Option<&'static str>,
        asked: Cell<u32>,
    }

    impl Prompt for Scripted {
        fn ask(&self, _file: &Path) -> Option<io::Result<Password>> {
            self.asked.set(self.asked.get() + 1);
            self.answer.map(|a| Ok(Zeroizing::new(a.to_owned())))
        }
    }

    fn scripted(answer: Option<&'static str>) -> Scripted {
        Scripted {
            answer,
            asked: Cell::new(0),
        }
    }

    #[test]
    fn probe_tells_pkcs12_from_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let pki = tapclient_certs::generate(dir.path(), &Default::default()).unwrap();
        let p12 = std::fs::read(&pki.client_p12).unwrap();
        assert_eq!(probe(&p12), Some(Shape { has_mac: true }));
        assert_eq!(probe(&pki.ca_der), None, "a certificate is not a PFX");
        assert_eq!(probe(b"-----BEGIN CERTIFICATE-----"), None);
        assert_eq!(probe(&[]), None);
        assert_eq!(probe(&p12[..p12.len() / 2]), None, "truncated");
        assert_eq!(probe(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn unset_password_prompts_on_a_terminal_only_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        let opts = tapclient_certs::Options {
            password: "s3cret".into(),
            ..Default::default()
        };
        let pki = tapclient_certs::generate(dir.path(), &opts).unwrap();

        let nobody = scripted(None);
        let err = load_with_prompt(&pki.client_p12, &PasswordSource::Unset, &nobody).unwrap_err();
        assert!(
            matches!(err, CredentialsError::PasswordRequired { .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("password_file") && msg.contains("password_env") && msg.contains("[tls]")
        );
        assert!(msg.contains("client.p12"), "{msg}");

        let user = scripted(Some("s3cret"));
        let id = load_with_prompt(&pki.client_p12, &PasswordSource::Unset, &user).unwrap();
        assert_eq!(user.asked.get(), 1);
        assert_eq!(id.subject(), "CN=client");

        let typo = scripted(Some("s3cr3t"));
        let err = load_with_prompt(&pki.client_p12, &PasswordSource::Unset, &typo).unwrap_err();
        assert!(
            matches!(err, CredentialsError::WrongPassword { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn empty_password_file_opens_without_prompt() {
        let dir = tempfile::tempdir().unwrap();
        let pki = tapclient_certs::generate(dir.path(), &Default::default()).unwrap();
        let ks = keystore_with(&pki, false);
        let path = dir.path().join("empty.p12");
        std::fs::write(&path, ks.writer("").write().unwrap()).unwrap();
        let never = scripted(None);
        let id = load_with_prompt(&path, &PasswordSource::Unset, &never).unwrap();
        assert_eq!(never.asked.get(), 0);
        assert_eq!(id.cert_chain.len(), 1);
    }

    /// A keystore holding the client key with [CA, client] in the "wrong" order and a bogus
    /// local key id on request, so the leaf must be found by public key.
    fn keystore_with(pki: &tapclient_certs::Pki, shuffled: bool) -> KeyStore {
        let key = PrivateKey::from_der(&pki.client_key_der).unwrap();
        let client = Certificate::from_der(&pki.client_der).unwrap();
        let ca = Certificate::from_der(&pki.ca_der).unwrap();
        let certs = if shuffled {
            vec![ca, client]
        } else {
            vec![client, ca]
        };
        let chain = PrivateKeyChain::new(b"id-1".as_slice(), key, certs);
        let mut ks = KeyStore::new();
        ks.add_entry("client", KeyStoreEntry::PrivateKeyChain(chain));
        ks
    }

    #[test]
    fn leaf_is_found_by_public_key_whatever_the_order() {
        let dir = tempfile::tempdir().unwrap();
        let pki = tapclient_certs::generate(dir.path(), &Default::default()).unwrap();
        let path = dir.path().join("shuffled.p12");
        std::fs::write(
            &path,
            keystore_with(&pki, true).writer("pw").write().unwrap(),
        )
        .unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "pw\n").unwrap();
        let id = load_pkcs12(&path, &PasswordSource::File(pw)).unwrap();
        assert_eq!(id.cert_chain.len(), 1, "the self-signed CA is left out");
        assert_eq!(id.cert_chain[0].as_ref(), pki.client_der.as_slice());
        assert_eq!(id.subject(), "CN=client");
    }

    #[test]
    fn key_without_its_certificate_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let pki = tapclient_certs::generate(dir.path(), &Default::default()).unwrap();
        let key = PrivateKey::from_der(&pki.client_key_der).unwrap();
        let wrong = Certificate::from_der(&pki.server_der).unwrap();
        let mut ks = KeyStore::new();
        let chain = PrivateKeyChain::new(b"id".as_slice(), key, vec![wrong]);
        ks.add_entry("k", KeyStoreEntry::PrivateKeyChain(chain));
        let path = dir.path().join("mismatch.p12");
        std::fs::write(&path, ks.writer("").write().unwrap()).unwrap();
        let err = load_with_prompt(&path, &PasswordSource::Unset, &scripted(None)).unwrap_err();
        assert!(
            matches!(err, CredentialsError::NoMatchingCertificate { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn certificate_only_file_has_no_private_key() {
        let dir = tempfile::tempdir().unwrap();
        let pki = tapclient_certs::generate(dir.path(), &Default::default()).unwrap();
        let mut ks = KeyStore::new();
        let ca = Certificate::from_der(&pki.ca_der).unwrap();
        ks.add_entry("ca", KeyStoreEntry::Certificate(ca));
        let path = dir.path().join("trust.p12");
        std::fs::write(&path, ks.writer("").write().unwrap()).unwrap();
        let err = load_with_prompt(&path, &PasswordSource::Unset, &scripted(None)).unwrap_err();
        assert!(
            matches!(err, CredentialsError::NoPrivateKey { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("trust.p12"), "{err}");
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let pki = tapclient_certs::generate(dir.path(), &Default::default()).unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(
            &pw,
            format!("{}\n", tapclient_certs::Options::default().password),
        )
        .unwrap();
        let id = load_pkcs12(&pki.client_p12, &PasswordSource::File(pw)).unwrap();
        let shown = format!("{id:?}");
        assert!(shown.contains("CN=client"), "{shown}");
        let key = id.key.secret_der();
        let hex: String = key[key.len() - 8..]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!shown.to_lowercase().contains(&hex), "{shown}");
        assert!(
            !shown.contains(&format!("{:?}", &key[key.len() - 8..])),
            "{shown}"
        );
    }

    #[test]
    fn describe_key_names_the_algorithm() {
        assert!(describe_key("1.3.101.113").contains("Ed448"));
        assert!(describe_key("1.2.3.4").contains("1.2.3.4"));
    }
}
