//! Directives → a [`Plan`]: what the TOML will say, which credentials come from where, and an
//! [`Outcome`] for every directive.
//!
//! OpenVPN semantics kept (src/openvpn/options.c): a later single-valued option replaces an
//! earlier one (the earlier one is reported as replaced); `proto` and `port` apply to every
//! `remote` without its own, wherever they are written; the default protocol is UDP; once a
//! `<connection>` block exists, plain `remote` lines are ignored and each block gives one remote
//! with the `proto`/`port` in force where the block starts (or its own).
//!
//! Must not: read or write files (the credentials step and `files` do), or know TOML syntax
//! (`emit` does).

mod crypto;
mod net;

use std::path::PathBuf;

use zeroize::Zeroizing;

use super::catalog::{self, Kind};
use super::parse::{self, Directive};
use super::report::{Entry, Outcome};

/// Where a credential comes from.
#[derive(Debug)]
pub enum Source {
    /// A file the profile names: as written, and resolved against the profile's folder (and
    /// `cd`).
    File { written: String, path: PathBuf },
    /// An inline block's bytes (PEM text with LF line endings, a tls-auth key, or the decoded
    /// `<pkcs12>` DER). Wiped when dropped.
    Inline(Zeroizing<Vec<u8>>),
}

/// A single-valued setting and the entry that set it (to report it as replaced).
#[derive(Debug)]
pub struct Slot<T> {
    pub value: T,
    pub line: usize,
    /// Index of the directive's entry in [`Plan::entries`].
    pub(in crate::import) entry: usize,
}

impl<T> Slot<Option<T>> {
    /// `Some(slot)` with the inner value, `None` when there is none.
    pub fn transpose(self) -> Option<Slot<T>> {
        let Slot { value, line, entry } = self;
        value.map(|value| Slot { value, line, entry })
    }
}

/// One `remote` (or `<connection>` block), resolved at the end.
#[derive(Debug)]
struct RemoteSpec {
    host: String,
    port: Option<String>,
    proto: Option<String>,
    /// `proto`/`port` in force where a `<connection>` block started.
    block_defaults: Option<(Option<String>, Option<String>)>,
    entry: usize,
}

/// A server to connect to (TCP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub host: String,
    pub port: u16,
}

impl Remote {
    /// `host:port`, with brackets around an IPv6 literal.
    pub fn to_config_string(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The client certificate and key, as the profile gives them.
#[derive(Debug, Default)]
pub enum ClientCert {
    #[default]
    Missing,
    Pkcs12(Slot<Source>),
    /// `cert` + `key` (PEM), with `extra-certs` for the chain.
    Pem {
        cert: Slot<Source>,
        key: Slot<Source>,
        extra: Option<Slot<Source>>,
    },
}

/// Everything the TOML and the credential files will hold.
#[derive(Debug, Default)]
pub struct Plan {
    pub remotes: Vec<Remote>,
    pub connect_timeout: Option<Slot<u32>>,
    pub ca: Option<Slot<Source>>,
    pub cert: Option<Slot<Source>>,
    pub key: Option<Slot<Source>>,
    pub extra_certs: Option<Slot<Source>>,
    pub pkcs12: Option<Slot<Source>>,
    pub askpass: Option<Slot<Option<Source>>>,
    pub verify_name: Option<Slot<String>>,
    pub tls_auth: Option<Slot<Source>>,
    /// From `key-direction` or the second parameter of `tls-auth` (the later one wins).
    pub key_direction: Option<Slot<u8>>,
    pub tls_crypt: Option<Slot<Source>>,
    pub auth: Option<Slot<String>>,
    pub ciphers: Option<Slot<Vec<String>>>,
    pub cipher: Option<Slot<String>>,
    pub reneg_sec: Option<Slot<u32>>,
    pub ping: Option<Slot<u32>>,
    pub ping_restart: Option<Slot<u32>>,
    pub compress: Option<Slot<&'static str>>,
    pub route_nopull: Option<Slot<bool>>,
    pub routes: Vec<String>,
    pub redirect_gateway: Option<Slot<bool>>,
    pub hand_window: Option<Slot<u32>>,
    /// `auth-user-pass`: `None` inside = prompt.
    pub auth_user_pass: Option<Slot<Option<Source>>>,
    pub initial_delay: Option<Slot<u32>>,
    pub max_delay: Option<Slot<u32>>,
    pub first_connect_attempts: Option<Slot<u32>>,
    pub mtu: Option<Slot<u16>>,
    pub mac: Option<Slot<String>>,
    /// Every directive with its outcome, in profile order.
    pub entries: Vec<Entry>,
    /// Reasons the result cannot work that belong to no single directive.
    pub problems: Vec<String>,
    // Inputs resolved at the end.
    remote_specs: Vec<RemoteSpec>,
    has_connection_blocks: bool,
    proto: Option<Slot<String>>,
    port: Option<Slot<String>>,
    dev: Option<Slot<String>>,
    dev_type: Option<Slot<String>>,
    keepalive: Option<usize>,
    ping_given: Option<usize>,
    base: PathBuf,
    optional: Vec<String>,
}

/// Maps the directives of a profile whose relative paths are taken from `base` (its folder).
pub fn map(directives: &[Directive], base: PathBuf) -> Plan {
    let mut plan = Plan {
        base,
        ..Plan::default()
    };
    for directive in directives {
        plan.directive(directive, None);
    }
    plan.finish();
    plan
}

impl Plan {
    /// Every reason the profile cannot work: blocking directives, then missing essentials.
    pub fn blockers(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .entries
            .iter()
            .filter(|e| matches!(e.outcome, Outcome::Blocking(_)))
            .map(|e| e.to_string())
            .collect();
        all.extend(self.problems.iter().cloned());
        all
    }

    /// Handles one directive (`block` = the line of the enclosing `<connection>`, if any).
    fn directive(&mut self, d: &Directive, block: Option<usize>) {
        let index = self.entries.len();
        self.entries.push(Entry {
            line: d.line,
            directive: d.display(),
            outcome: Outcome::Ignored(String::new()),
        });
        let outcome = match self.known(d, index, block) {
            Some(outcome) => outcome,
            None => self.unmapped(d),
        };
        let per_remote = matches!(d.name.as_str(), "remote" | "proto" | "port" | "rport");
        let outcome = match (block, outcome) {
            (Some(line), Outcome::Mapped(text)) if !per_remote => Outcome::Mapped(format!(
                "{text} (from the <connection> block on line {line}; tapclient has one \
                 setting for all remotes)"
            )),
            (_, outcome) => outcome,
        };
        self.entries[index].outcome = outcome;
    }

    /// The outcome of an option `map` translates, `None` for any other.
    fn known(&mut self, d: &Directive, index: usize, block: Option<usize>) -> Option<Outcome> {
        if let Some(outcome) = self.net(d, index, block) {
            return Some(outcome);
        }
        if let Some(outcome) = self.crypto(d, index) {
            return Some(outcome);
        }
        self.general(d, index)
    }

    /// Options about the profile itself rather than the tunnel.
    fn general(&mut self, d: &Directive, index: usize) -> Option<Outcome> {
        let outcome = match d.name.as_str() {
            "connection" => {
                let Some(text) = &d.inline else {
                    return Some(Outcome::Blocking(
                        "OpenVPN accepts `connection` only as an inline <connection> block".into(),
                    ));
                };
                self.connection_block(text, d.line)
            }
            "setenv" => self.setenv(d, index),
            "ignore-unknown-option" => {
                self.optional
                    .extend(d.args.iter().map(|a| a.trim_start_matches("--").to_owned()));
                Outcome::Ignored("the options it names are reported as ignored when tapclient does not know them".into())
            }
            "key-method" => match d.arg(0) {
                Some("2") => Outcome::Ignored("tapclient always uses key method 2".into()),
                _ => Outcome::Blocking(
                    "only key method 2 is supported (OpenVPN 2.6 has no other)".into(),
                ),
            },
            _ => return None,
        };
        Some(outcome)
    }

    /// `setenv NAME VALUE` (only for scripts), and `setenv opt OPTION…`, which marks OPTION as
    /// optional: OpenVPN ignores it when it does not know it, and so does the importer.
    fn setenv(&mut self, d: &Directive, index: usize) -> Outcome {
        if d.arg(0) != Some("opt") || d.args.len() < 2 {
            return Outcome::Ignored(
                "sets a variable for scripts; tapclient runs no scripts".into(),
            );
        }
        let inner = Directive {
            name: d.args[1].clone(),
            args: d.args[2..].to_vec(),
            line: d.line,
            inline: None,
        };
        match self.known(&inner, index, None) {
            Some(outcome) => outcome,
            None => match self.unmapped(&inner) {
                Outcome::Unsupported(why) | Outcome::Blocking(why) => {
                    Outcome::Ignored(format!("marked optional with `setenv opt`: {why}"))
                }
                other => other,
            },
        }
    }

    /// A `<connection>` block: its options, each with its own entry; one remote.
    fn connection_block(&mut self, text: &str, line: usize) -> Outcome {
        let inner = match parse::parse(text, line + 1) {
            Ok(inner) => inner,
            Err(e) => return Outcome::Blocking(format!("OpenVPN cannot read this block: {e}")),
        };
        if !self.has_connection_blocks {
            self.has_connection_blocks = true;
            for spec in self.remote_specs.drain(..) {
                self.entries[spec.entry].outcome = Outcome::Ignored(
                    "OpenVPN ignores `remote` lines once the profile has <connection> blocks"
                        .into(),
                );
            }
        }
        let defaults = (
            self.proto.as_ref().map(|s| s.value.clone()),
            self.port.as_ref().map(|s| s.value.clone()),
        );
        let first_remote = self.remote_specs.len();
        let (saved_proto, saved_port) = (self.proto.take(), self.port.take());
        for directive in &inner {
            self.directive(directive, Some(line));
        }
        let (block_proto, block_port) = (
            std::mem::replace(&mut self.proto, saved_proto),
            std::mem::replace(&mut self.port, saved_port),
        );
        let remotes = self.remote_specs.len() - first_remote;
        if remotes != 1 {
            return Outcome::Blocking(format!(
                "each <connection> block must hold exactly one `remote` (this one has {remotes})"
            ));
        }
        let spec = &mut self.remote_specs[first_remote];
        spec.proto = spec.proto.take().or(block_proto.map(|s| s.value));
        spec.port = spec.port.take().or(block_port.map(|s| s.value));
        spec.block_defaults = Some(defaults);
        let remote_line = self.entries[spec.entry].line;
        Outcome::Mapped(format!("one remote (see line {remote_line})"))
    }

    /// An option `map` does not translate: from the catalogue, or unknown.
    fn unmapped(&self, d: &Directive) -> Outcome {
        if let Some((kind, why)) = catalog::lookup(&d.name) {
            return match kind {
                Kind::Ignored => Outcome::Ignored(why.into()),
                Kind::Unsupported => Outcome::Unsupported(why.into()),
                Kind::Blocking => Outcome::Blocking(why.into()),
            };
        }
        if self.optional.contains(&d.name) {
            return Outcome::Ignored(
                "unknown to tapclient, and listed in ignore-unknown-option".into(),
            );
        }
        if d.inline.is_some() {
            return Outcome::Unsupported("not an inline block tapclient knows".into());
        }
        Outcome::Unsupported("not an OpenVPN client option tapclient knows".into())
    }

    /// A relative path from the profile, resolved against its folder (and `cd`).
    fn source_file(&self, written: &str) -> Source {
        Source::File {
            written: written.to_owned(),
            path: self.base.join(written),
        }
    }

    /// After the last directive: remotes, device type, and what must be there.
    fn finish(&mut self) {
        self.finish_remotes();
        self.finish_device();
        self.finish_crypto();
    }
}

/// Sets `slot` to `value` from the directive at `entries[index]`; a value it replaces has its
/// entry reported as replaced.
fn replace<T>(slot: &mut Option<Slot<T>>, value: T, index: usize, entries: &mut [Entry]) {
    let line = entries[index].line;
    if let Some(old) = slot.take() {
        entries[old.entry].outcome =
            Outcome::Ignored(format!("replaced by the same option on line {line}"));
    }
    *slot = Some(Slot {
        value,
        line,
        entry: index,
    });
}

/// A non-negative decimal integer, as OpenVPN's `positive_atoi` takes it.
fn number(text: Option<&str>) -> Option<u32> {
    let text = text?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// "OpenVPN rejects this line" for a wrong parameter count or value.
fn rejected(what: &str) -> Outcome {
    Outcome::Blocking(format!("OpenVPN rejects this line: {what}"))
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
