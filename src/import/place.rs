//! Where each credential of the plan ends up: a file the profile names (kept where it is), or
//! an inline block extracted beside the TOML (`<stem>-ca.crt`, `<stem>-ta.key`,
//! `<stem>-tc.key`, `<stem>.p12`, `<stem>-auth.txt`), or a PKCS#12 built from `cert` + `key`.
//! Also checks what can be checked before anything is written: the `<pkcs12>` block is a
//! PKCS#12, static keys look like OpenVPN static keys, named files exist.
//!
//! Reads the files the profile names (certificate, key, PKCS#12, askpass) but writes nothing.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::files::{OutputFile, PRIVATE};
use super::map::{ClientCert, Plan, Slot, Source};
use super::pem::{self, CaFromP12, PemError};
use super::report::Outcome;

/// Where the output goes: the TOML's folder (absolute) and its file stem.
#[derive(Debug, Clone)]
pub struct Target {
    pub dir: PathBuf,
    pub stem: String,
}

/// A path as the TOML writes it (relative to its folder, or absolute), and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedPath {
    pub path: String,
    /// For the TOML's comment: `<ca> (line 26), extracted` or `ca ca.crt (line 7)`.
    pub comment: String,
}

/// The TOML's credential paths, and the files to write.
#[derive(Debug, Default)]
pub struct Placed {
    pub ca: Option<PlacedPath>,
    pub pkcs12: Option<PlacedPath>,
    pub password_file: Option<PlacedPath>,
    pub tls_auth: Option<PlacedPath>,
    pub tls_crypt: Option<PlacedPath>,
    /// `Some(None)`: `[auth_user_pass]` without a file (prompt).
    pub auth_user_pass: Option<Option<PlacedPath>>,
    pub files: Vec<OutputFile>,
    /// The PKCS#12 built from PEM, to be opened before anything is written.
    pub built_pkcs12: Option<PathBuf>,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

const STATIC_KEY_BEGIN: &[u8] = b"-----BEGIN OpenVPN Static key V1-----";

/// Places every credential of `plan` for `target`.
pub fn place(plan: &mut Plan, target: &Target) -> Placed {
    let mut placed = Placed::default();
    let password = askpass(plan, &mut placed);
    let p12_bytes = client_identity(plan, target, &mut placed, &password);
    if let Some(slot) = plan.ca.take() {
        placed.ca = placed.put(plan, slot, "-ca.crt", target, None);
    } else if let Some(der) = p12_bytes {
        ca_from_pkcs12(&der, &password, target, &mut placed);
    }
    if let Some(slot) = plan.tls_auth.take() {
        placed.tls_auth = placed.put(plan, slot, "-ta.key", target, Some(STATIC_KEY_BEGIN));
    }
    if let Some(slot) = plan.tls_crypt.take() {
        placed.tls_crypt = placed.put(plan, slot, "-tc.key", target, Some(STATIC_KEY_BEGIN));
    }
    if let Some(slot) = plan.auth_user_pass.take() {
        placed.auth_user_pass = Some(match slot.transpose() {
            None => None,
            Some(slot) => placed.put(plan, slot, "-auth.txt", target, None),
        });
    }
    placed
}

/// The `askpass` file's first line (empty when there is none, or it cannot be read).
fn askpass(plan: &mut Plan, placed: &mut Placed) -> Zeroizing<String> {
    let Some(Some(source)) = plan.askpass.as_ref().map(|s| &s.value) else {
        return Zeroizing::new(String::new());
    };
    let Source::File { path, .. } = source else {
        return Zeroizing::new(String::new());
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            Zeroizing::new(String::from_utf8_lossy(line).into_owned())
        }
        Err(e) => {
            placed.warnings.push(format!(
                "cannot read the askpass file {}: {e}",
                path.display()
            ));
            Zeroizing::new(String::new())
        }
    }
}

/// `[tls] pkcs12` (and `password_file`); returns the PKCS#12 bytes when they are at hand (for
/// the CA certificates).
fn client_identity(
    plan: &mut Plan,
    target: &Target,
    placed: &mut Placed,
    password: &str,
) -> Option<Zeroizing<Vec<u8>>> {
    let askpass = plan.askpass.take();
    match plan.client_cert() {
        ClientCert::Missing => None,
        ClientCert::Pkcs12(slot) => {
            let bytes = match &slot.value {
                Source::Inline(der) => Some(der.clone()),
                Source::File { path, .. } => std::fs::read(path).ok().map(Zeroizing::new),
            };
            let askpass_file = askpass.and_then(Slot::transpose);
            if let Some(der) = &bytes {
                check_pkcs12(der, password, askpass_file.is_some(), placed);
            }
            placed.pkcs12 = placed.put(plan, slot, ".p12", target, None);
            if let Some(file) = askpass_file {
                placed.password_file = placed.put(plan, file, "", target, None);
            }
            bytes
        }
        ClientCert::Pem { cert, key, extra } => {
            if let Some(slot) = askpass {
                plan.entries[slot.entry].outcome =
                    Outcome::Ignored("the PKCS#12 built from cert and key has no password".into());
            }
            build_from_pem(plan, (cert, key, extra), target, placed);
            None
        }
    }
}

/// Whether the PKCS#12 opens: with the askpass password when there is one; without, a
/// password-protected file is fine (tapclient asks for it), anything else is a problem.
fn check_pkcs12(der: &[u8], password: &str, has_askpass: bool, placed: &mut Placed) {
    use p12_keystore::error::Error as E;
    match p12_keystore::Pkcs12Archive::from_pkcs12(der, password) {
        Ok(_) => {}
        Err(E::MacError(_)) if has_askpass => placed
            .problems
            .push("the password in the askpass file does not open the PKCS#12".into()),
        Err(E::MacError(_)) => placed.warnings.push(
            "the PKCS#12 is protected by a password: tapclient asks for it at start (or set \
             tls.password_file)"
                .into(),
        ),
        Err(e) => placed
            .problems
            .push(format!("the PKCS#12 cannot be read: {e}")),
    }
}

fn build_from_pem(
    plan: &Plan,
    (cert, key, extra): (Slot<Source>, Slot<Source>, Option<Slot<Source>>),
    target: &Target,
    placed: &mut Placed,
) {
    let comment = format!(
        "built from {} and {}",
        plan.origin(&cert),
        plan.origin(&key)
    );
    let (cert, key, extra) = (cert.value, key.value, extra.map(|s| s.value));
    let (cert_name, key_name) = (source_name(&cert, "<cert>"), source_name(&key, "<key>"));
    let (Some(cert_pem), Some(key_pem)) = (read(&cert, placed), read(&key, placed)) else {
        return;
    };
    let extra_pem = match &extra {
        Some(source) => match read(source, placed) {
            Some(bytes) => Some(bytes),
            None => return,
        },
        None => None,
    };
    let out = target.dir.join(format!("{}.p12", target.stem));
    match pem::build_pkcs12(
        &cert_pem,
        &key_pem,
        extra_pem.as_deref().map(|v| v.as_slice()),
    ) {
        Ok(der) => {
            placed.files.push(OutputFile {
                path: out.clone(),
                contents: der,
                mode: PRIVATE,
            });
            placed.pkcs12 = Some(PlacedPath {
                path: format!("{}.p12", target.stem),
                comment: format!("{comment}, no password"),
            });
            placed.built_pkcs12 = Some(out);
        }
        Err(PemError::EncryptedKey) => placed.problems.push(format!(
            "the private key {key_name} is encrypted with a passphrase, and tapclient takes a \
             PKCS#12 only: convert it with `openssl pkcs12 -export -in {cert_name} -inkey \
             {key_name} -out {}` (it asks for the key's passphrase and a password for the \
             .p12), then use `pkcs12 {}` in the profile instead of cert and key",
            out.display(),
            out.display()
        )),
        Err(e) => placed.problems.push(format!(
            "cannot build a PKCS#12 from {cert_name} and {key_name}: {e}"
        )),
    }
}

/// A credential's bytes: a block's, or a file's (a problem when it cannot be read).
fn read(source: &Source, placed: &mut Placed) -> Option<Zeroizing<Vec<u8>>> {
    match source {
        Source::Inline(bytes) => Some(bytes.clone()),
        Source::File { path, .. } => match std::fs::read(path) {
            Ok(bytes) => Some(Zeroizing::new(bytes)),
            Err(e) => {
                placed
                    .problems
                    .push(format!("cannot read {}: {e}", path.display()));
                None
            }
        },
    }
}

/// A file name for messages: the path written in the profile, or a hint for a block.
fn source_name(source: &Source, block: &str) -> String {
    match source {
        Source::File { written, .. } => written.clone(),
        Source::Inline(_) => format!("{block} (save the block to a file first)"),
    }
}

/// OpenVPN's CA when the profile has `pkcs12` and no `ca`: the PKCS#12's CA certificates.
fn ca_from_pkcs12(der: &[u8], password: &str, target: &Target, placed: &mut Placed) {
    let name = format!("{}-ca.crt", target.stem);
    match pem::ca_from_pkcs12(der, password) {
        Ok(text) => {
            placed.files.push(OutputFile {
                path: target.dir.join(&name),
                contents: Zeroizing::new(text.into_bytes()),
                mode: PRIVATE,
            });
            placed.warnings.push(format!(
                "the profile has no `ca`: the CA certificates inside the PKCS#12 were written \
                 to {name} (OpenVPN uses them the same way)"
            ));
            placed.ca = Some(PlacedPath {
                comment: "the CA certificates inside the PKCS#12 (the profile has no ca)".into(),
                path: name,
            });
        }
        Err(CaFromP12::NeedsPassword) => placed.problems.push(format!(
            "no CA: the profile has no `ca`, and the CA certificates inside the PKCS#12 need its \
             password; extract them with `openssl pkcs12 -in FILE.p12 -cacerts -nokeys -out \
             {name}` and add `ca {name}` to the profile"
        )),
        Err(CaFromP12::NoCa) => placed
            .problems
            .push("no CA: the profile has no `ca`, and the PKCS#12 holds no CA certificate".into()),
        Err(CaFromP12::Unreadable) => placed
            .problems
            .push("no CA: the profile has no `ca`, and the PKCS#12 cannot be read".into()),
    }
}

impl Placed {
    /// The TOML path for the credential in `slot`: a referenced file as it can be found from
    /// the TOML's folder (with a warning when it does not exist), or an inline block written to
    /// `<stem><suffix>`. `marker`: bytes an inline block must contain.
    fn put(
        &mut self,
        plan: &Plan,
        slot: Slot<Source>,
        suffix: &str,
        target: &Target,
        marker: Option<&[u8]>,
    ) -> Option<PlacedPath> {
        let origin = plan.origin(&slot);
        match slot.value {
            Source::File { written, path } => {
                if !path.exists() {
                    self.warnings.push(format!(
                        "line {}: {} does not exist (yet); tapclient will need it",
                        slot.line,
                        path.display()
                    ));
                }
                Some(PlacedPath {
                    path: toml_path(&written, &path, &target.dir),
                    comment: origin,
                })
            }
            Source::Inline(bytes) => {
                if let Some(marker) = marker {
                    if !bytes.windows(marker.len()).any(|w| w == marker) {
                        self.problems.push(format!(
                            "line {}: the block is not an OpenVPN static key (no `{}` line)",
                            slot.line,
                            String::from_utf8_lossy(marker)
                        ));
                        return None;
                    }
                }
                let name = format!("{}{suffix}", target.stem);
                self.files.push(OutputFile {
                    path: target.dir.join(&name),
                    contents: bytes,
                    mode: PRIVATE,
                });
                Some(PlacedPath {
                    path: name,
                    comment: format!("{origin}, extracted"),
                })
            }
        }
    }
}

/// A referenced file's path for the TOML: as written when the profile's relative path means the
/// same from the TOML's folder, else absolute.
fn toml_path(written: &str, resolved: &Path, toml_dir: &Path) -> String {
    let written_path = Path::new(written);
    if written_path.is_absolute() || toml_dir.join(written_path) == resolved {
        return written.to_owned();
    }
    resolved.to_string_lossy().into_owned()
}
