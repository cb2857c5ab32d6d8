//! Configuration errors: each one names the file, the line (1-based) and the dotted key, and
//! says what to do about it.
//!
//! Sorted by blame, all of them local misconfiguration: the file cannot be read, it is not TOML,
//! it has a key the schema does not know, or a value is of the wrong type or fails validation.

use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::ether::{AddrParseError, Ipv4Cidr, MacAddr};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, permissions, not UTF-8, …).
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The text is not valid TOML (the message is the TOML parser's).
    #[error("{}:{line}: TOML syntax error: {message}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        message: String,
    },
    /// A key (or section) the schema does not have, e.g. a misspelling.
    #[error(
        "{}:{line}: unknown key `{key}`, {}{}",
        file.display(),
        ExpectedList(expected),
        Suggestion(suggestion.as_deref())
    )]
    UnknownKey {
        file: PathBuf,
        line: usize,
        /// Dotted path, e.g. `tls.pasword_file`.
        key: String,
        /// The keys allowed at that place.
        expected: Vec<String>,
        /// The allowed key closest to the misspelt one, if any is close.
        suggestion: Option<String>,
    },
    /// A key is missing, has the wrong type, or its value fails validation.
    #[error("{}:{line}: {key}: {problem}", file.display())]
    Invalid {
        file: PathBuf,
        line: usize,
        /// Dotted path, e.g. `ip.gateway`.
        key: String,
        problem: Problem,
    },
}

impl ConfigError {
    /// The 1-based line the error points at (`None` for [`ConfigError::Read`]).
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Syntax { line, .. }
            | ConfigError::UnknownKey { line, .. }
            | ConfigError::Invalid { line, .. } => Some(*line),
        }
    }

    /// The dotted key the error is about, when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownKey { key, .. } | ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::Read { .. } | ConfigError::Syntax { .. } => None,
        }
    }
}

/// What is wrong with one key's value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("this section is required; add it, e.g. {example}")]
    MissingSection { example: &'static str },
    #[error("this key is required; add it, e.g. {example}")]
    MissingKey { example: &'static str },
    /// The deserializer's own description of a type mismatch.
    #[error("{message}")]
    WrongType { message: String },
    /// A section the chosen protocol needs (e.g. `[tls]` for OpenVPN).
    #[error(
        "this section is required with protocol = \"{protocol}\" ({why}); add it, e.g. {example}"
    )]
    RequiredByProtocol {
        protocol: &'static str,
        why: &'static str,
        example: &'static str,
    },
    /// A section the chosen protocol does not use; `why` says why and what to do.
    #[error("{why}")]
    NotForProtocol { why: &'static str },
    #[error("unknown value {value:?}; expected one of {expected}")]
    UnknownValue {
        value: String,
        expected: &'static str,
    },
    #[error("must not be empty")]
    Empty,
    #[error("{value} is out of range; use {range} ({why})")]
    OutOfRange {
        value: String,
        range: &'static str,
        why: &'static str,
    },
    #[error("{value:?} is not a valid server address: {why}; use host:port, [v6]:port or host")]
    BadRemote { value: String, why: &'static str },
    #[error("{value:?} is not a valid interface name: {why}")]
    BadInterfaceName { value: String, why: &'static str },
    #[error("{value:?}: {source}")]
    BadAddress {
        value: String,
        source: AddrParseError,
    },
    #[error("{value:?} is not an IPv4 address like 10.98.0.1")]
    BadIp { value: String },
    #[error("{mac} is {why} address; use a unicast one such as 02:00:5e:10:00:01")]
    NotUnicast { mac: MacAddr, why: &'static str },
    #[error("{address} cannot be our address: {why}")]
    BadHostAddress {
        address: Ipv4Cidr,
        why: &'static str,
    },
    #[error("{gateway} is not inside {address}")]
    GatewayOutside {
        gateway: Ipv4Addr,
        address: Ipv4Cidr,
    },
    #[error("{gateway} is {why} of {address}; use another host of that network")]
    GatewayNotHost {
        gateway: Ipv4Addr,
        address: Ipv4Cidr,
        why: &'static str,
    },
    #[error("{route} has host bits set; did you mean {suggestion}?")]
    HostBitsSet {
        route: Ipv4Cidr,
        suggestion: Ipv4Cidr,
    },
    #[error("routes need a next hop; add ip.gateway (an address inside {address})")]
    RoutesNeedGateway { address: Ipv4Cidr },
    #[error("cannot be used together with `{other}`; keep only one of them")]
    Exclusive { other: &'static str },
    /// A key that means something only next to `other`.
    #[error("only applies together with `{other}`; {hint}")]
    OnlyWith {
        other: &'static str,
        hint: &'static str,
    },
    #[error("{value:?} is listed more than once; keep one")]
    Duplicate { value: String },
    #[error("{value:?} is not a usable environment variable name (empty, or contains '=' or NUL)")]
    BadEnvName { value: String },
    #[error(
        "max_delay ({max}s) is shorter than initial_delay ({initial}s); raise max_delay or \
         lower initial_delay"
    )]
    MaxBelowInitial { max: f64, initial: f64 },
}

/// Renders `expected one of `a`, `b``, or the serde wording when nothing is allowed.
struct ExpectedList<'a>(&'a [String]);

impl fmt::Display for ExpectedList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [] => f.write_str("no keys are allowed here"),
            [one] => write!(f, "expected `{one}`"),
            many => {
                f.write_str("expected one of ")?;
                for (i, key) in many.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}`{key}`")?;
                }
                Ok(())
            }
        }
    }
}

struct Suggestion<'a>(Option<&'a str>);

impl fmt::Display for Suggestion<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(key) => write!(f, " (did you mean `{key}`?)"),
            None => Ok(()),
        }
    }
}

/// The allowed key closest to `unknown` (edit distance at most 2, or a case-only difference).
pub(super) fn closest_key(unknown: &str, expected: &[String]) -> Option<String> {
    let unknown_lower = unknown.to_ascii_lowercase();
    expected
        .iter()
        .map(|key| {
            (
                edit_distance(&unknown_lower, &key.to_ascii_lowercase()),
                key,
            )
        })
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, key)| key.clone())
}

/// Levenshtein distance over chars (two-row dynamic programming).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("pasword_file", "password_file"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "mtu"), 3);
    }

    #[test]
    fn closest_key_suggests_only_near_misses() {
        let expected = keys(&[
            "ca",
            "pkcs12",
            "password_file",
            "password_env",
            "verify_name",
        ]);
        assert_eq!(
            closest_key("pasword_file", &expected).as_deref(),
            Some("password_file")
        );
        assert_eq!(closest_key("PKCS12", &expected).as_deref(), Some("pkcs12"));
        assert_eq!(closest_key("certificate", &expected), None);
    }

    #[test]
    fn unknown_key_message_lists_expected_keys() {
        let err = ConfigError::UnknownKey {
            file: PathBuf::from("office.toml"),
            line: 9,
            key: "tls.pasword_file".into(),
            expected: keys(&["ca", "password_file"]),
            suggestion: Some("password_file".into()),
        };
        assert_eq!(
            err.to_string(),
            "office.toml:9: unknown key `tls.pasword_file`, expected one of `ca`, \
             `password_file` (did you mean `password_file`?)"
        );
        assert_eq!(err.line(), Some(9));
        assert_eq!(err.key(), Some("tls.pasword_file"));
    }
}
