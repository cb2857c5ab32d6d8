//! Credential bytes: base64 (the `<pkcs12>` block), PEM certificate + key → PKCS#12 (tapclient
//! takes its identity from a PKCS#12 only), and the CA certificates inside a PKCS#12 → PEM.
//!
//! The PKCS#12 is written by `p12-keystore` without a password (tapclient tries the empty one
//! first). PKCS#1 (`RSA PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`) keys are wrapped into PKCS#8
//! (RFC 5208) first, since that is what a PKCS#12 key bag holds. Encrypted keys are refused with
//! the command that converts them. Every buffer holding key bytes is wiped when dropped.
//!
//! Must not: read or write files, or print key material.

use p12_keystore::{
    Certificate, KeyStore, KeyStoreEntry, Pkcs12Archive, PrivateKey, PrivateKeyChain,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

/// rsaEncryption, 1.2.840.113549.1.1.1 (DER contents).
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// id-ecPublicKey, 1.2.840.10045.2.1 (DER contents).
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// Why a certificate and key cannot become a PKCS#12.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    #[error("no certificate in it (expected -----BEGIN CERTIFICATE-----)")]
    NoCertificate,
    #[error("no private key in it (expected -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)")]
    NoKey,
    #[error("the private key is encrypted with a passphrase")]
    EncryptedKey,
    #[error("not valid PEM: {0}")]
    BadPem(String),
    #[error("the private key cannot be used: {0}")]
    BadKey(&'static str),
    #[error("a certificate cannot be parsed")]
    BadCertificate,
    #[error("cannot write the PKCS#12: {0}")]
    Write(String),
}

/// Decodes standard base64 (RFC 4648, padding optional, whitespace ignored, canonical).
pub fn base64_decode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let compact = Zeroizing::new(
        text.chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect::<String>(),
    );
    let data = compact.trim_end_matches('=');
    if compact.len() - data.len() > 2 || data.is_empty() {
        return None;
    }
    <base64ct::Base64Unpadded as base64ct::Encoding>::decode_vec(data)
        .ok()
        .map(Zeroizing::new)
}

/// True for a PEM key that needs a passphrase (PKCS#8 `ENCRYPTED PRIVATE KEY`, or OpenSSL's
/// legacy `Proc-Type: 4,ENCRYPTED` header).
pub fn is_encrypted_key(pem: &[u8]) -> bool {
    let contains = |needle: &[u8]| pem.windows(needle.len()).any(|w| w == needle);
    contains(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || contains(b"Proc-Type: 4,ENCRYPTED")
}

/// A password-less PKCS#12 holding the key and the certificates (the leaf first, then the
/// chain from `cert_pem` and `extra_pem`).
pub fn build_pkcs12(
    cert_pem: &[u8],
    key_pem: &[u8],
    extra_pem: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>, PemError> {
    if is_encrypted_key(key_pem) {
        return Err(PemError::EncryptedKey);
    }
    let mut certs = Vec::new();
    for pem in std::iter::once(cert_pem).chain(extra_pem) {
        for item in CertificateDer::pem_slice_iter(pem) {
            let der = item.map_err(|e| PemError::BadPem(e.to_string()))?;
            certs.push(Certificate::from_der(&der).map_err(|_| PemError::BadCertificate)?);
        }
    }
    if certs.is_empty() {
        return Err(PemError::NoCertificate);
    }
    let pkcs8 = pkcs8_from_pem(key_pem, certs[0].as_der())?;
    let key = PrivateKey::from_der(&pkcs8).map_err(|_| PemError::BadKey("not a valid key"))?;
    let key_id = Sha1::digest(certs[0].as_der()).to_vec();
    let chain = PrivateKeyChain::new(key_id, key, certs);
    let mut store = KeyStore::new();
    store.add_entry("tapclient", KeyStoreEntry::PrivateKeyChain(chain));
    let der = store
        .writer("")
        .write()
        .map_err(|e| PemError::Write(e.to_string()))?;
    Ok(Zeroizing::new(der))
}

/// The key of `pem` as PKCS#8 DER. An EC key that does not name its curve takes the curve of
/// the certificate `leaf`.
fn pkcs8_from_pem(pem: &[u8], leaf: &[u8]) -> Result<Zeroizing<Vec<u8>>, PemError> {
    let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => PemError::NoKey,
        other => PemError::BadPem(other.to_string()),
    })?;
    let wrapped = match &key {
        PrivateKeyDer::Pkcs8(k) => Zeroizing::new(k.secret_pkcs8_der().to_vec()),
        PrivateKeyDer::Pkcs1(k) => {
            let algorithm = der(0x30, &[der(0x06, OID_RSA), vec![0x05, 0x00]].concat());
            pkcs8(&algorithm, k.secret_pkcs1_der())
        }
        PrivateKeyDer::Sec1(k) => {
            let curve = sec1_curve(k.secret_sec1_der())
                .or_else(|| certificate_curve(leaf))
                .ok_or(PemError::BadKey("the EC key does not name its curve"))?;
            let algorithm = der(0x30, &[der(0x06, OID_EC), curve].concat());
            pkcs8(&algorithm, k.secret_sec1_der())
        }
        _ => return Err(PemError::BadKey("unknown key format")),
    };
    Ok(wrapped)
}

/// PrivateKeyInfo ::= SEQUENCE { version 0, algorithm, privateKey OCTET STRING } (RFC 5208).
fn pkcs8(algorithm: &[u8], private_key: &[u8]) -> Zeroizing<Vec<u8>> {
    let inner = Zeroizing::new(der(0x04, private_key));
    let body = Zeroizing::new([&[0x02, 0x01, 0x00][..], algorithm, &inner].concat());
    Zeroizing::new(der(0x30, &body))
}

/// The curve OID (whole TLV) from ECPrivateKey's `[0] parameters` (RFC 5915).
fn sec1_curve(sec1: &[u8]) -> Option<Vec<u8>> {
    let (tag, body, _) = tlv(sec1)?;
    if tag != 0x30 {
        return None;
    }
    let (_, _, rest) = tlv(body)?; // version
    let (_, _, mut rest) = tlv(rest)?; // privateKey
    while !rest.is_empty() {
        let (tag, inner, next) = tlv(rest)?;
        if tag == 0xa0 {
            let (oid_tag, oid, _) = tlv(inner)?;
            return (oid_tag == 0x06).then(|| der(0x06, oid));
        }
        rest = next;
    }
    None
}

/// The named curve (OID TLV) of a certificate's EC public key.
fn certificate_curve(der_cert: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der_cert).ok()?;
    let params = cert.public_key().algorithm.parameters.as_ref()?;
    let oid = params.as_oid().ok()?;
    Some(der(0x06, oid.as_bytes()))
}

/// One DER TLV: (tag, contents, rest). Short tags only; lengths up to 4 bytes.
fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// A DER TLV with `tag` around `content`.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// Why the CA certificates of a PKCS#12 could not be taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaFromP12 {
    /// It needs a password the importer does not have.
    NeedsPassword,
    /// It holds no certificate besides the client's own.
    NoCa,
    /// It cannot be read (not a PKCS#12, or damaged).
    Unreadable,
}

/// The PEM text of the certificates in a PKCS#12 that do not belong to its key (OpenVPN's
/// CA source when the profile has `pkcs12` and no `ca`).
pub fn ca_from_pkcs12(der: &[u8], password: &str) -> Result<String, CaFromP12> {
    let archive = Pkcs12Archive::from_pkcs12(der, password).map_err(|e| match e {
        p12_keystore::error::Error::MacError(_) => CaFromP12::NeedsPassword,
        _ if password.is_empty() => CaFromP12::NeedsPassword,
        _ => CaFromP12::Unreadable,
    })?;
    let key_ids: Vec<&[u8]> = archive
        .keys
        .iter()
        .filter_map(|k| k.local_key_id.as_ref().map(|id| id.as_ref()))
        .collect();
    let mut pem = String::new();
    for bag in &archive.certs {
        let own = bag
            .local_key_id
            .as_deref()
            .is_some_and(|id| key_ids.contains(&id));
        if !own && is_ca(bag.cert.as_der()) {
            pem.push_str(&pem_encode("CERTIFICATE", bag.cert.as_der()));
        }
    }
    if pem.is_empty() {
        return Err(CaFromP12::NoCa);
    }
    Ok(pem)
}

/// True for a certificate with basicConstraints cA = TRUE.
fn is_ca(der: &[u8]) -> bool {
    x509_parser::parse_x509_certificate(der)
        .ok()
        .and_then(|(_, cert)| {
            cert.basic_constraints()
                .ok()
                .flatten()
                .map(|bc| bc.value.ca)
        })
        .unwrap_or(false)
}

/// PEM text (RFC 7468) for `der` under `label`.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut body = String::new();
    for chunk in der.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                body.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                body.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
#[path = "pem_tests.rs"]
mod tests;
