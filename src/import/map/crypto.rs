//! The security directives: certificates and keys (`ca`, `cert`, `key`, `extra-certs`,
//! `pkcs12`, `askpass`), server checks (`verify-x509-name`, `remote-cert-tls`, `ns-cert-type`),
//! the control channel (`tls-auth`, `key-direction`, `tls-crypt`, `auth`), the data channel
//! (`data-ciphers`, `cipher`, `reneg-sec`, `comp-lzo`, `compress`) and `auth-user-pass`.

use zeroize::Zeroizing;

use super::{number, rejected, replace, ClientCert, Plan, Slot, Source};
use crate::import::parse::Directive;
use crate::import::report::Outcome;

/// Data ciphers tapclient implements, as OpenVPN spells them.
pub const SUPPORTED_CIPHERS: [&str; 5] = [
    "AES-256-GCM",
    "AES-128-GCM",
    "CHACHA20-POLY1305",
    "AES-256-CBC",
    "AES-128-CBC",
];
/// What `DEFAULT` stands for in `data-ciphers` (OpenVPN 2.6, ssl_ncp.c).
const DEFAULT_CIPHERS: [&str; 3] = ["AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305"];
/// `auth` digests tapclient implements.
const DIGESTS: [&str; 3] = ["SHA1", "SHA256", "SHA512"];
const NEVER_COMPRESSES: &str =
    "tapclient never compresses; it frames packets the way the server expects";

impl Plan {
    /// The outcome of a security directive, `None` for any other.
    pub(super) fn crypto(&mut self, d: &Directive, index: usize) -> Option<Outcome> {
        let outcome = match d.name.as_str() {
            "ca" | "cert" | "key" | "extra-certs" | "pkcs12" => self.credential(d, index),
            "askpass" => self.askpass(d, index),
            "verify-x509-name" => self.verify_name(d, index),
            "remote-cert-tls" | "ns-cert-type" => server_check(d),
            "tls-version-min" | "tls-version-max" => tls_version(d),
            "tls-auth" | "tls-crypt" => self.control_key(d, index),
            "key-direction" => match d.args.as_slice() {
                [dir] if dir == "0" || dir == "1" => {
                    let dir = u8::from(dir == "1");
                    replace(&mut self.key_direction, dir, index, &mut self.entries);
                    Outcome::Mapped("openvpn.key_direction".into())
                }
                _ => rejected("`key-direction` is 0 or 1"),
            },
            "auth" => match d.args.as_slice() {
                [digest] => {
                    replace(&mut self.auth, digest.clone(), index, &mut self.entries);
                    Outcome::Mapped("openvpn.auth".into())
                }
                _ => rejected("`auth` takes one digest name"),
            },
            "data-ciphers" | "ncp-ciphers" => self.data_ciphers(d, index),
            "cipher" | "data-ciphers-fallback" => self.cipher(d, index),
            "reneg-sec" => match (number(d.arg(0)), d.args.len()) {
                (Some(seconds), 1 | 2) if seconds > super::net::MAX_SECONDS => Outcome::Unsupported(
                    "tapclient renegotiates at least once a day (86400 s); it keeps its default (3600)"
                        .into(),
                ),
                (Some(seconds), 1 | 2) => {
                    replace(&mut self.reneg_sec, seconds, index, &mut self.entries);
                    let note = if d.args.len() == 2 {
                        " (the second value only spreads a server's renegotiations; not used)"
                    } else {
                        ""
                    };
                    Outcome::Mapped(format!("openvpn.reneg_sec{note}"))
                }
                _ => rejected("`reneg-sec` takes a number of seconds"),
            },
            "comp-lzo" | "compress" => self.compression(d, index),
            "auth-user-pass" => self.auth_user_pass(d, index),
            "auth-nocache" => Outcome::Ignored(
                "tapclient keeps typed answers in memory for the run (a reconnect or SIGHUP does \
                 not ask again) and never writes them anywhere"
                    .into(),
            ),
            _ => return None,
        };
        Some(outcome)
    }

    /// `askpass [FILE]`: the PKCS#12 password's file, or a prompt.
    fn askpass(&mut self, d: &Directive, index: usize) -> Outcome {
        match (d.args.as_slice(), &d.inline) {
            ([], None) => {
                replace(&mut self.askpass, None, index, &mut self.entries);
                Outcome::Mapped(
                    "tapclient prompts for the PKCS#12 password when it needs one".into(),
                )
            }
            ([file], None) => {
                let source = self.source_file(file);
                replace(&mut self.askpass, Some(source), index, &mut self.entries);
                Outcome::Mapped("tls.password_file".into())
            }
            _ => rejected("`askpass` takes at most one file"),
        }
    }

    /// `ca`, `cert`, `key`, `extra-certs`, `pkcs12`: a file or an inline block.
    fn credential(&mut self, d: &Directive, index: usize) -> Outcome {
        let source = match (d.args.as_slice(), &d.inline) {
            ([], Some(text)) if d.name == "pkcs12" => {
                match super::super::pem::base64_decode(text) {
                    Some(der) => Source::Inline(der),
                    None => {
                        return rejected("the <pkcs12> block must be the base64 of a .p12 file")
                    }
                }
            }
            ([], Some(text)) => Source::Inline(lf_text(text)),
            ([file], None) if is_inline_marker(file) => {
                return Outcome::Ignored(format!("the contents come from the <{}> block", d.name))
            }
            ([file], None) => self.source_file(file),
            _ => return rejected("it takes one file"),
        };
        let (slot, key) = match d.name.as_str() {
            "ca" => (&mut self.ca, "tls.ca"),
            "cert" => (&mut self.cert, "tls.pkcs12 (built from cert and key)"),
            "key" => (&mut self.key, "tls.pkcs12 (built from cert and key)"),
            "extra-certs" => (
                &mut self.extra_certs,
                "tls.pkcs12 (the chain, built with cert and key)",
            ),
            _ => (&mut self.pkcs12, "tls.pkcs12"),
        };
        replace(slot, source, index, &mut self.entries);
        Outcome::Mapped(key.into())
    }

    fn verify_name(&mut self, d: &Directive, index: usize) -> Outcome {
        let (name, kind) = match d.args.as_slice() {
            [name] if !name.is_empty() => (name, "subject"),
            [name, kind] if !name.is_empty() => (name, kind.as_str()),
            _ => return rejected("`verify-x509-name` takes a name and optionally its type"),
        };
        match kind {
            "name" => {
                replace(
                    &mut self.verify_name,
                    name.clone(),
                    index,
                    &mut self.entries,
                );
                Outcome::Mapped("tls.verify_name".into())
            }
            "subject" => {
                let hint = common_name(name)
                    .map(|cn| format!("; to check the name only, set tls.verify_name = \"{cn}\""))
                    .unwrap_or_default();
                Outcome::Unsupported(format!(
                    "tapclient matches the certificate's CN or a SAN (type `name`), not a whole \
                     subject{hint}"
                ))
            }
            "name-prefix" => Outcome::Unsupported(
                "tapclient matches the CN or a SAN exactly; prefixes are not supported".into(),
            ),
            other => rejected(&format!("unknown X.509 name type `{other}`")),
        }
    }

    fn control_key(&mut self, d: &Directive, index: usize) -> Outcome {
        let crypt = d.name == "tls-crypt";
        let source = match (d.args.as_slice(), &d.inline) {
            ([], Some(text)) => Source::Inline(lf_text(text)),
            ([file, ..], None) if d.args.len() <= 2 && !(crypt && d.args.len() == 2) => {
                if let Some(direction) = d.arg(1) {
                    match direction {
                        "0" | "1" => {
                            let dir = u8::from(direction == "1");
                            replace(&mut self.key_direction, dir, index, &mut self.entries);
                        }
                        _ => return rejected("the key direction is 0 or 1"),
                    }
                }
                if is_inline_marker(file) {
                    return Outcome::Mapped(format!(
                        "openvpn.key_direction (the key comes from the <{}> block)",
                        d.name
                    ));
                }
                self.source_file(file)
            }
            _ => return rejected("it takes a key file (and, for tls-auth, a key direction)"),
        };
        let slot = if crypt {
            &mut self.tls_crypt
        } else {
            &mut self.tls_auth
        };
        replace(slot, source, index, &mut self.entries);
        let key = if crypt {
            "openvpn.tls_crypt"
        } else {
            "openvpn.tls_auth"
        };
        if d.arg(1).is_some() {
            return Outcome::Mapped(format!("{key}, openvpn.key_direction"));
        }
        Outcome::Mapped(key.into())
    }

    fn data_ciphers(&mut self, d: &Directive, index: usize) -> Outcome {
        let [list] = d.args.as_slice() else {
            return rejected("`data-ciphers` takes one colon-separated list");
        };
        let mut kept: Vec<String> = Vec::new();
        let mut dropped = Vec::new();
        for token in list.split(':').filter(|t| !t.is_empty()) {
            let name = token.strip_prefix('?').unwrap_or(token);
            let names: Vec<&str> = if name == "DEFAULT" {
                DEFAULT_CIPHERS.to_vec()
            } else {
                match canonical_cipher(name) {
                    Some(canonical) => vec![canonical],
                    None => {
                        dropped.push(name.to_owned());
                        continue;
                    }
                }
            };
            for canonical in names {
                if !kept.iter().any(|k| k == canonical) {
                    kept.push(canonical.to_owned());
                }
            }
        }
        if kept.is_empty() {
            return Outcome::Unsupported(format!(
                "none of these ciphers is supported (tapclient has {}); it offers its default list",
                SUPPORTED_CIPHERS.join(", ")
            ));
        }
        replace(&mut self.ciphers, kept, index, &mut self.entries);
        if dropped.is_empty() {
            return Outcome::Mapped("openvpn.ciphers".into());
        }
        Outcome::Mapped(format!(
            "openvpn.ciphers, without {} (not supported by tapclient)",
            dropped.join(", ")
        ))
    }

    fn cipher(&mut self, d: &Directive, index: usize) -> Outcome {
        let [name] = d.args.as_slice() else {
            return rejected("it takes one cipher name");
        };
        match canonical_cipher(name) {
            Some(canonical) => {
                replace(
                    &mut self.cipher,
                    canonical.to_owned(),
                    index,
                    &mut self.entries,
                );
                Outcome::Mapped(
                    "openvpn.cipher (used only with a server that does not negotiate ciphers)"
                        .into(),
                )
            }
            None => Outcome::Unsupported(format!(
                "`{name}` is not supported (tapclient has {}); a server that does not negotiate \
                 ciphers and uses it will refuse tapclient",
                SUPPORTED_CIPHERS.join(", ")
            )),
        }
    }

    fn compression(&mut self, d: &Directive, index: usize) -> Outcome {
        let value = match (d.name.as_str(), d.args.as_slice()) {
            ("comp-lzo", [] | [_]) => match d.arg(0) {
                None | Some("yes" | "no" | "adaptive") => "comp-lzo",
                Some(other) => {
                    return rejected(&format!("`comp-lzo {other}`: use yes, no or adaptive"))
                }
            },
            ("compress", []) => "stub",
            ("compress", [alg]) => match alg.as_str() {
                "stub" => "stub",
                "stub-v2" => "stub-v2",
                "lz4" => "lz4",
                "lz4-v2" => "lz4-v2",
                "lzo" => "lzo",
                "migrate" => {
                    return Outcome::Unsupported(
                        "`compress migrate` is a server-side setting".into(),
                    )
                }
                other => return rejected(&format!("unknown compression `{other}`")),
            },
            _ => return rejected("it takes at most one parameter"),
        };
        replace(&mut self.compress, value, index, &mut self.entries);
        Outcome::Mapped(format!(
            "openvpn.compress = \"{value}\" ({NEVER_COMPRESSES})"
        ))
    }

    fn auth_user_pass(&mut self, d: &Directive, index: usize) -> Outcome {
        let source = match (d.args.as_slice(), &d.inline) {
            ([], Some(text)) => Some(Source::Inline(lf_text(text))),
            ([], None) => None,
            ([only], None) if only == "username-only" => {
                replace(&mut self.auth_user_pass, None, index, &mut self.entries);
                return Outcome::Unsupported(
                    "tapclient asks for the password too (press Enter for an empty one); \
                     [auth_user_pass] prompts"
                        .into(),
                );
            }
            ([file], None) => Some(self.source_file(file)),
            _ => return rejected("`auth-user-pass` takes at most one file"),
        };
        let text = if source.is_some() {
            "auth_user_pass.file (username on line 1, password on line 2)"
        } else {
            "[auth_user_pass] without a file: tapclient prompts for username and password"
        };
        replace(&mut self.auth_user_pass, source, index, &mut self.entries);
        Outcome::Mapped(text.into())
    }

    /// Checks made once every directive is in: client certificate, CA, control channel key.
    pub(super) fn finish_crypto(&mut self) {
        self.finish_timers();
        if self.ca.is_none() && self.pkcs12.is_none() {
            self.problems.push(
                "no CA: the profile has no `ca` (or <ca> block); tapclient must know the CA \
                 that signed the server's certificate"
                    .into(),
            );
        }
        match (&self.pkcs12, &self.cert, &self.key) {
            (Some(p12), Some(other), _) | (Some(p12), None, Some(other)) => {
                let line = other.line.max(p12.line);
                self.problems.push(format!(
                    "line {line}: OpenVPN refuses `pkcs12` together with `cert`/`key`; keep one \
                     of them"
                ));
            }
            (None, Some(_), None) | (None, None, Some(_)) => self
                .problems
                .push("the profile has only one of `cert` and `key`; both are needed".into()),
            (None, None, None) => self.problems.push(
                "no client certificate: tapclient needs `pkcs12`, or `cert` and `key` (smart \
                 cards and external keys are not supported)"
                    .into(),
            ),
            _ => {}
        }
        self.finish_control_channel();
    }

    fn finish_control_channel(&mut self) {
        if let (Some(auth), Some(crypt)) = (&self.tls_auth, &self.tls_crypt) {
            let line = auth.line.max(crypt.line);
            self.problems.push(format!(
                "line {line}: OpenVPN refuses `tls-auth` together with `tls-crypt`; keep the \
                 one the server uses"
            ));
        }
        let cbc = self
            .ciphers
            .as_ref()
            .is_some_and(|c| c.value.iter().any(|n| n.ends_with("-CBC")))
            || self
                .cipher
                .as_ref()
                .is_some_and(|c| c.value.ends_with("-CBC"));
        let matters = self.tls_auth.is_some() || cbc;
        if let Some(slot) = self.auth.take() {
            match canonical_digest(&slot.value) {
                Some(canonical) => {
                    self.auth = Some(Slot {
                        value: canonical.to_owned(),
                        ..slot
                    })
                }
                None => {
                    let why = format!(
                        "`{}` is not supported (tapclient has SHA1, SHA256 and SHA512)",
                        slot.value
                    );
                    self.entries[slot.entry].outcome = if matters {
                        Outcome::Blocking(format!("{why}; tls-auth and CBC ciphers need it"))
                    } else {
                        Outcome::Ignored(format!("{why}; only tls-auth and CBC ciphers use it"))
                    };
                }
            }
        }
        if self.tls_auth.is_none() {
            if let Some(slot) = self.key_direction.take() {
                if self.entries[slot.entry].outcome
                    == Outcome::Mapped("openvpn.key_direction".into())
                {
                    self.entries[slot.entry].outcome = Outcome::Ignored(
                        "only used with tls-auth, which the profile does not have".into(),
                    );
                }
            }
        }
    }

    /// What the TOML's `[tls]` will name as the client identity.
    pub fn client_cert(&mut self) -> ClientCert {
        if let Some(p12) = self.pkcs12.take() {
            return ClientCert::Pkcs12(p12);
        }
        match (self.cert.take(), self.key.take()) {
            (Some(cert), Some(key)) => ClientCert::Pem {
                cert,
                key,
                extra: self.extra_certs.take(),
            },
            _ => ClientCert::Missing,
        }
    }

    /// "the directive as written (line N)" for the directive that set `slot`.
    pub fn origin<T>(&self, slot: &Slot<T>) -> String {
        let directive = self
            .entries
            .get(slot.entry)
            .map_or("", |e| e.directive.as_str());
        format!("{directive} (line {})", slot.line)
    }
}

/// `tls-version-min`/`tls-version-max`: rustls speaks TLS 1.2 and 1.3.
fn tls_version(d: &Directive) -> Outcome {
    if d.name == "tls-version-max" {
        return Outcome::Ignored(
            "tapclient negotiates the highest version both sides speak (TLS 1.2 or 1.3)".into(),
        );
    }
    match d.arg(0) {
        Some("1.0" | "1.1" | "1.2") => {
            Outcome::Ignored("tapclient (rustls) speaks TLS 1.2 and 1.3 only".into())
        }
        Some("1.3") => Outcome::Unsupported("tapclient also accepts TLS 1.2".into()),
        _ => rejected("unknown TLS version"),
    }
}

/// `remote-cert-tls server` and `ns-cert-type server` are what tapclient always checks.
fn server_check(d: &Directive) -> Outcome {
    match (d.name.as_str(), d.args.as_slice()) {
        ("remote-cert-tls", [kind]) if kind == "server" => Outcome::Ignored(
            "always enforced: tapclient requires the server certificate's extended key usage \
             serverAuth"
                .into(),
        ),
        ("ns-cert-type", [kind]) if kind == "server" => Outcome::Ignored(
            "tapclient checks the extended key usage serverAuth instead (as remote-cert-tls \
             server): a server certificate with only the Netscape type is refused"
                .into(),
        ),
        (_, [kind]) if kind == "client" => Outcome::Unsupported(
            "asks the server to present a client certificate; tapclient requires serverAuth".into(),
        ),
        _ => rejected("it takes `server` or `client`"),
    }
}

/// `[inline]` (or OpenVPN 2.4's `[[INLINE]]`) stands for the option's inline block.
fn is_inline_marker(arg: &str) -> bool {
    arg.eq_ignore_ascii_case("[inline]") || arg == "[[INLINE]]"
}

/// A block's text with CRLF line endings made LF, as bytes to write out.
fn lf_text(text: &str) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len()));
    for line in text.split_inclusive('\n') {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

/// The supported cipher `name` as OpenVPN spells it (names are case-insensitive there too).
pub fn canonical_cipher(name: &str) -> Option<&'static str> {
    SUPPORTED_CIPHERS
        .iter()
        .copied()
        .find(|c| c.eq_ignore_ascii_case(name))
}

fn canonical_digest(name: &str) -> Option<&'static str> {
    DIGESTS
        .iter()
        .copied()
        .find(|d| d.eq_ignore_ascii_case(name))
}

/// The CN of a subject DN in OpenVPN's forms (`C=US, O=X, CN=server` or `/C=US/CN=server`).
fn common_name(subject: &str) -> Option<String> {
    subject
        .split([',', '/'])
        .filter_map(|part| part.trim().split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case("CN"))
        .map(|(_, value)| value.trim().to_owned())
        .filter(|cn| !cn.is_empty())
}
