//! The protocol-dependent part of phase two: which sections a protocol takes, and `[openvpn]`.
//!
//! simpletun pushes nothing, so it needs `[ip]` and has no use for `[openvpn]`. An OpenVPN
//! server pushes our address and routes, so `[ip]` is refused; OpenVPN always runs TLS in its
//! control channel, so `[tls]` is required. `[openvpn]` itself is optional (every key has a
//! default); its key-related rules (tls-auth vs tls-crypt, `key_direction` and `auth` only with
//! tls-auth) name both keys involved.

use std::ops::Range;

use toml::Spanned;

use super::error::{ConfigError, Problem};
use super::lan::resolve_ip;
use super::raw::{Int, RawIp, RawOpenVpn};
use super::resolve::Context;
use super::types::{
    AuthDigest, ControlWrap, IpConfig, KeyDerivation, OpenVpnConfig, Protocol, OPENVPN_CIPHERS,
};

/// The longest `hand_window`: one hour.
const MAX_HAND_WINDOW: f64 = 3600.0;
const HAND_WINDOW_RANGE: &str = "a number of seconds above 0 and at most 3600 (one hour)";
/// What OpenVPN clients use (the server side uses 0).
const DEFAULT_KEY_DIRECTION: u8 = 1;
const CIPHER_NAMES: &str = "\"AES-256-GCM\", \"AES-128-GCM\" or \"CHACHA20-POLY1305\" \
                            (the AEAD data ciphers tapclient implements)";

/// `[ip]` and `[openvpn]` as `protocol` wants them, after checking that OpenVPN has `[tls]`
/// (`has_tls`). `protocol_span` is where `server.protocol` is written.
pub(super) fn protocol_sections(
    protocol: Protocol,
    protocol_span: &Range<usize>,
    ip: Option<Spanned<RawIp>>,
    openvpn: Option<Spanned<RawOpenVpn>>,
    has_tls: bool,
    cx: &Context<'_>,
) -> Result<(Option<IpConfig>, Option<OpenVpnConfig>), ConfigError> {
    match protocol {
        Protocol::Simpletun => {
            if let Some(table) = openvpn {
                let why = "only used with protocol = \"openvpn\"; remove [openvpn] or set \
                           server.protocol = \"openvpn\"";
                let problem = Problem::NotForProtocol { why };
                return Err(cx.invalid(table.span(), "openvpn", problem));
            }
            let ip = ip.ok_or_else(|| {
                let example = "[ip] with address = \"10.98.0.2/24\"";
                cx.invalid(0..0, "ip", Problem::MissingSection { example })
            })?;
            Ok((Some(resolve_ip(ip, cx)?), None))
        }
        Protocol::OpenVpn => {
            if let Some(table) = ip {
                let why = "the OpenVPN server pushes the address and routes; remove [ip]";
                let problem = Problem::NotForProtocol { why };
                return Err(cx.invalid(table.span(), "ip", problem));
            }
            if !has_tls {
                let problem = Problem::RequiredByProtocol {
                    protocol: "openvpn",
                    why: "OpenVPN always runs TLS in its control channel",
                    example: "[tls] with ca = \"ca.crt\" and pkcs12 = \"client.p12\"",
                };
                return Err(cx.invalid(protocol_span.clone(), "tls", problem));
            }
            Ok((None, Some(resolve_openvpn(openvpn, cx)?)))
        }
    }
}

/// `[openvpn]`; absent, every key takes its default ([`OpenVpnConfig::default`]).
fn resolve_openvpn(
    raw: Option<Spanned<RawOpenVpn>>,
    cx: &Context<'_>,
) -> Result<OpenVpnConfig, ConfigError> {
    let defaults = OpenVpnConfig::default();
    let Some(raw) = raw.map(Spanned::into_inner) else {
        return Ok(defaults);
    };
    let wrap = resolve_wrap(raw.tls_auth, raw.tls_crypt, raw.key_direction, raw.auth, cx)?;
    let ciphers = match raw.ciphers {
        Some(list) => resolve_ciphers(list, cx)?,
        None => defaults.ciphers,
    };
    let key_derivation = match raw.key_derivation {
        None => defaults.key_derivation,
        Some(value) => match value.get_ref().as_str() {
            "auto" => KeyDerivation::Auto,
            "prf" => KeyDerivation::Prf,
            other => {
                let problem = Problem::UnknownValue {
                    value: other.to_string(),
                    expected: "\"auto\" (offer EKM; the server decides) or \"prf\" (force the \
                               legacy TLS PRF)",
                };
                return Err(cx.invalid(value.span(), "openvpn.key_derivation", problem));
            }
        },
    };
    let hand_window = match &raw.hand_window {
        None => defaults.hand_window,
        Some(value) => cx.seconds_up_to(
            value,
            "openvpn.hand_window",
            MAX_HAND_WINDOW,
            HAND_WINDOW_RANGE,
            "the time allowed for the handshake, like OpenVPN's hand-window",
        )?,
    };
    Ok(OpenVpnConfig {
        wrap,
        ciphers,
        key_derivation,
        hand_window,
    })
}

/// `tls_auth` (with `key_direction` and `auth`) or `tls_crypt`, or neither.
fn resolve_wrap(
    tls_auth: Option<Spanned<String>>,
    tls_crypt: Option<Spanned<String>>,
    key_direction: Option<Spanned<Int>>,
    auth: Option<Spanned<String>>,
    cx: &Context<'_>,
) -> Result<ControlWrap, ConfigError> {
    match (tls_auth, tls_crypt) {
        (Some(auth_key), Some(crypt_key)) => {
            let (key, span, other) = if crypt_key.span().start > auth_key.span().start {
                ("openvpn.tls_crypt", crypt_key.span(), "openvpn.tls_auth")
            } else {
                ("openvpn.tls_auth", auth_key.span(), "openvpn.tls_crypt")
            };
            Err(cx.invalid(span, key, Problem::Exclusive { other }))
        }
        (Some(key), None) => {
            let direction = match key_direction {
                Some(value) => parse_direction(&value, cx)?,
                None => DEFAULT_KEY_DIRECTION,
            };
            let digest = match auth {
                Some(value) => parse_digest(&value, cx)?,
                None => AuthDigest::Sha1,
            };
            Ok(ControlWrap::TlsAuth {
                key: cx.path(key, "openvpn.tls_auth")?,
                direction: Some(direction),
                digest,
            })
        }
        (None, crypt_key) => {
            let with_crypt = crypt_key.is_some();
            if let Some(err) = stray_tls_auth_option(key_direction, auth, with_crypt, cx) {
                return Err(err);
            }
            match crypt_key {
                Some(key) => Ok(ControlWrap::TlsCrypt {
                    key: cx.path(key, "openvpn.tls_crypt")?,
                }),
                None => Ok(ControlWrap::None),
            }
        }
    }
}

/// The error for `key_direction` or `auth` without `tls_auth` (the first one written), if any.
fn stray_tls_auth_option(
    key_direction: Option<Spanned<Int>>,
    auth: Option<Spanned<String>>,
    with_crypt: bool,
    cx: &Context<'_>,
) -> Option<ConfigError> {
    let direction = key_direction.map(|value| {
        let hint = if with_crypt {
            "tls-crypt uses fixed key directions; remove openvpn.key_direction"
        } else {
            "add openvpn.tls_auth (the server's tls-auth key) or remove openvpn.key_direction"
        };
        (value.span(), "openvpn.key_direction", hint)
    });
    let auth = auth.map(|value| {
        let hint = if with_crypt {
            "tls-crypt always uses HMAC-SHA256; remove openvpn.auth"
        } else {
            "add openvpn.tls_auth (the server's tls-auth key) or remove openvpn.auth"
        };
        (value.span(), "openvpn.auth", hint)
    });
    let (span, key, hint) = [direction, auth]
        .into_iter()
        .flatten()
        .min_by_key(|(span, _, _)| span.start)?;
    let problem = Problem::OnlyWith {
        other: "openvpn.tls_auth",
        hint,
    };
    Some(cx.invalid(span, key, problem))
}

fn parse_direction(value: &Spanned<Int>, cx: &Context<'_>) -> Result<u8, ConfigError> {
    match value.get_ref().0 {
        0 => Ok(0),
        1 => Ok(1),
        other => {
            let problem = Problem::OutOfRange {
                value: other.to_string(),
                range: "0 or 1",
                why: "the opposite of the server's key-direction; clients normally use 1",
            };
            Err(cx.invalid(value.span(), "openvpn.key_direction", problem))
        }
    }
}

/// `SHA1`, `SHA256` or `SHA512`, in any case.
fn parse_digest(value: &Spanned<String>, cx: &Context<'_>) -> Result<AuthDigest, ConfigError> {
    let digest = [AuthDigest::Sha1, AuthDigest::Sha256, AuthDigest::Sha512]
        .into_iter()
        .find(|digest| digest.name().eq_ignore_ascii_case(value.get_ref()));
    digest.ok_or_else(|| {
        let problem = Problem::UnknownValue {
            value: value.get_ref().clone(),
            expected: "\"SHA1\", \"SHA256\" or \"SHA512\" (the same as the server's `auth`)",
        };
        cx.invalid(value.span(), "openvpn.auth", problem)
    })
}

/// A non-empty list of supported cipher names without duplicates, made canonical (upper case).
fn resolve_ciphers(
    list: Spanned<Vec<Spanned<String>>>,
    cx: &Context<'_>,
) -> Result<Vec<String>, ConfigError> {
    if list.get_ref().is_empty() {
        return Err(cx.invalid(list.span(), "openvpn.ciphers", Problem::Empty));
    }
    let mut ciphers: Vec<String> = Vec::new();
    for item in list.into_inner() {
        let name = OPENVPN_CIPHERS
            .iter()
            .find(|name| name.eq_ignore_ascii_case(item.get_ref()));
        let problem = match name {
            None => Problem::UnknownValue {
                value: item.get_ref().clone(),
                expected: CIPHER_NAMES,
            },
            Some(name) if ciphers.iter().any(|seen| seen == name) => Problem::Duplicate {
                value: item.get_ref().clone(),
            },
            Some(name) => {
                ciphers.push(name.to_string());
                continue;
            }
        };
        return Err(cx.invalid(item.span(), "openvpn.ciphers", problem));
    }
    Ok(ciphers)
}

#[cfg(test)]
#[path = "openvpn_tests.rs"]
mod tests;
