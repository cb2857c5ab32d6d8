//! The protocol-dependent part of phase two: which sections a protocol takes, and `[openvpn]`.
//!
//! simpletun pushes nothing, so it needs `[ip]` and has no use for `[openvpn]`. An OpenVPN
//! server pushes our address and routes, so `[ip]` is refused; OpenVPN always runs TLS in its
//! control channel, so `[tls]` is required. `[openvpn]` itself is optional (every key has a
//! default); its key-related rules (tls-auth vs tls-crypt, `key_direction` and `auth` only with
//! tls-auth) name both keys involved.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::error::{ConfigError, Problem};
use super::lan::{parse_route, resolve_ip};
use super::raw::{IntOrText, RawAuthUserPass, RawIp, RawOpenVpn, Seconds};
use super::resolve::{password_source, Context};
use super::types::{
    AuthDigest, AuthUserPass, CompressFraming, ControlWrap, IpConfig, KeyDerivation, OpenVpnConfig,
    Protocol, OPENVPN_CBC_CIPHERS, OPENVPN_CIPHERS,
};

/// The longest `hand_window`: one hour.
const MAX_HAND_WINDOW: f64 = 3600.0;
const HAND_WINDOW_RANGE: &str = "a number of seconds above 0 and at most 3600 (one hour)";
/// What OpenVPN clients use (the server side uses 0).
const DEFAULT_KEY_DIRECTION: u8 = 1;
const CIPHER_NAMES: &str = "\"AES-256-GCM\", \"AES-128-GCM\", \"CHACHA20-POLY1305\", \
                            \"AES-256-CBC\" or \"AES-128-CBC\" (the data ciphers tapclient \
                            implements)";
/// The longest `reneg_sec`, `ping` and `ping_restart`: one day.
const MAX_TIMER: f64 = 86_400.0;
const COMPRESS_NAMES: &str = "\"comp-lzo\", \"lzo\", \"stub\", \"lz4\", \"stub-v2\" or \
                              \"lz4-v2\" (the server's comp-lzo/compress setting; tapclient only \
                              frames, it never compresses)";

/// The sections whose use depends on the protocol.
pub(super) struct ProtocolSections {
    pub ip: Option<Spanned<RawIp>>,
    pub openvpn: Option<Spanned<RawOpenVpn>>,
    pub auth_user_pass: Option<Spanned<RawAuthUserPass>>,
}

/// `[ip]` and `[openvpn]` as `protocol` wants them, after checking that OpenVPN has `[tls]`
/// (`has_tls`). `protocol_span` is where `server.protocol` is written.
pub(super) fn protocol_sections(
    protocol: Protocol,
    protocol_span: &Range<usize>,
    sections: ProtocolSections,
    has_tls: bool,
    cx: &Context<'_>,
) -> Result<(Option<IpConfig>, Option<OpenVpnConfig>), ConfigError> {
    let ProtocolSections {
        ip,
        openvpn,
        auth_user_pass,
    } = sections;
    match protocol {
        Protocol::Simpletun => {
            if let Some(table) = openvpn {
                let why = "only used with protocol = \"openvpn\"; remove [openvpn] or set \
                           server.protocol = \"openvpn\"";
                let problem = Problem::NotForProtocol { why };
                return Err(cx.invalid(table.span(), "openvpn", problem));
            }
            if let Some(table) = auth_user_pass {
                let why = "only used with protocol = \"openvpn\" (simpletun has no login); \
                           remove [auth_user_pass]";
                let problem = Problem::NotForProtocol { why };
                return Err(cx.invalid(table.span(), "auth_user_pass", problem));
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
            let mut config = resolve_openvpn(openvpn, cx)?;
            config.auth_user_pass = auth_user_pass
                .map(|table| resolve_auth_user_pass(table, cx))
                .transpose()?;
            Ok((None, Some(config)))
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
    let auth = match &raw.auth {
        Some(value) => parse_digest(value, cx)?,
        None => defaults.auth,
    };
    let wrap = resolve_wrap(raw.tls_auth, raw.tls_crypt, raw.key_direction, auth, cx)?;
    let ciphers = match raw.ciphers {
        Some(list) => resolve_ciphers(list, cx)?,
        None => defaults.ciphers,
    };
    let cipher = match raw.cipher {
        None => None,
        Some(value) => Some(cipher_name(&value, "openvpn.cipher", cx)?.to_owned()),
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
    let reneg = match &raw.reneg_sec {
        None => defaults.reneg,
        Some(value) if value.get_ref().0 == 0.0 => None,
        Some(value) => Some(timer(value, "openvpn.reneg_sec", cx)?),
    };
    let ping = raw
        .ping
        .map(|value| timer(&value, "openvpn.ping", cx))
        .transpose()?;
    let ping_restart = raw
        .ping_restart
        .map(|value| timer(&value, "openvpn.ping_restart", cx))
        .transpose()?;
    let compress = raw
        .compress
        .map(|value| parse_compress(&value, cx))
        .transpose()?;
    let routes = match raw.routes {
        None => Vec::new(),
        Some(list) => list
            .into_inner()
            .into_iter()
            .map(|item| parse_route(item, "openvpn.routes", cx))
            .collect::<Result<_, _>>()?,
    };
    Ok(OpenVpnConfig {
        wrap,
        ciphers,
        cipher,
        auth,
        key_derivation,
        hand_window,
        reneg,
        ping,
        ping_restart,
        compress,
        route_nopull: raw.route_nopull.is_some_and(|v| *v.get_ref()),
        routes,
        redirect_gateway: raw.redirect_gateway.is_some_and(|v| *v.get_ref()),
        auth_user_pass: None,
    })
}

/// A keepalive or renegotiation interval: above 0, at most a day.
fn timer(value: &Spanned<Seconds>, key: &str, cx: &Context<'_>) -> Result<Duration, ConfigError> {
    cx.seconds_up_to(
        value,
        key,
        MAX_TIMER,
        "a number of seconds above 0 and at most 86400 (reneg_sec also takes 0 = never)",
        "like the OpenVPN option of the same name",
    )
}

fn parse_compress(
    value: &Spanned<String>,
    cx: &Context<'_>,
) -> Result<CompressFraming, ConfigError> {
    match value.get_ref().to_ascii_lowercase().as_str() {
        "comp-lzo" | "lzo" => Ok(CompressFraming::CompLzo),
        "stub" | "lz4" => Ok(CompressFraming::Swap),
        "stub-v2" | "lz4-v2" => Ok(CompressFraming::V2),
        _ => {
            let problem = Problem::UnknownValue {
                value: value.get_ref().clone(),
                expected: COMPRESS_NAMES,
            };
            Err(cx.invalid(value.span(), "openvpn.compress", problem))
        }
    }
}

/// `[auth_user_pass]`: `file`, or `username` with `password_file`/`password_env`; what is
/// missing is asked for on the terminal at start.
fn resolve_auth_user_pass(
    raw: Spanned<RawAuthUserPass>,
    cx: &Context<'_>,
) -> Result<AuthUserPass, ConfigError> {
    let raw = raw.into_inner();
    if let Some(file) = &raw.file {
        let clash = [
            (raw.username.as_ref(), "auth_user_pass.username"),
            (raw.password_file.as_ref(), "auth_user_pass.password_file"),
        ]
        .into_iter()
        .find_map(|(value, key)| value.map(|v| (v.span(), key)));
        if let Some((span, key)) = clash {
            let (span, key, other) = if span.start > file.span().start {
                (span, key, "auth_user_pass.file")
            } else {
                (file.span(), "auth_user_pass.file", key)
            };
            return Err(cx.invalid(span, key, Problem::Exclusive { other }));
        }
    }
    if let Some(name) = raw.username.as_ref().filter(|n| n.get_ref().is_empty()) {
        return Err(cx.invalid(name.span(), "auth_user_pass.username", Problem::Empty));
    }
    let password = password_source(
        raw.password_file,
        raw.password_env,
        [
            "auth_user_pass.password_file",
            "auth_user_pass.password_env",
        ],
        cx,
    )?;
    Ok(AuthUserPass {
        file: raw
            .file
            .map(|file| cx.path(file, "auth_user_pass.file"))
            .transpose()?,
        username: raw.username.map(Spanned::into_inner),
        password,
    })
}

/// `tls_auth` (with `key_direction` and `auth`) or `tls_crypt`, or neither.
fn resolve_wrap(
    tls_auth: Option<Spanned<String>>,
    tls_crypt: Option<Spanned<String>>,
    key_direction: Option<Spanned<IntOrText>>,
    digest: AuthDigest,
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
                None => Some(DEFAULT_KEY_DIRECTION),
            };
            Ok(ControlWrap::TlsAuth {
                key: cx.path(key, "openvpn.tls_auth")?,
                direction,
                digest,
            })
        }
        (None, crypt_key) => {
            let with_crypt = crypt_key.is_some();
            if let Some(err) = stray_key_direction(key_direction, with_crypt, cx) {
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

/// The error for `key_direction` without `tls_auth`, if written.
fn stray_key_direction(
    key_direction: Option<Spanned<IntOrText>>,
    with_crypt: bool,
    cx: &Context<'_>,
) -> Option<ConfigError> {
    let value = key_direction?;
    let hint = if with_crypt {
        "tls-crypt uses fixed key directions; remove openvpn.key_direction"
    } else {
        "add openvpn.tls_auth (the server's tls-auth key) or remove openvpn.key_direction"
    };
    let problem = Problem::OnlyWith {
        other: "openvpn.tls_auth",
        hint,
    };
    Some(cx.invalid(value.span(), "openvpn.key_direction", problem))
}

/// `0`, `1`, or `"none"` (the key used in both directions: `None`).
fn parse_direction(
    value: &Spanned<IntOrText>,
    cx: &Context<'_>,
) -> Result<Option<u8>, ConfigError> {
    let shown = match value.get_ref() {
        IntOrText::Int(0) => return Ok(Some(0)),
        IntOrText::Int(1) => return Ok(Some(1)),
        IntOrText::Text(text) if text == "none" => return Ok(None),
        IntOrText::Int(other) => other.to_string(),
        IntOrText::Text(text) => format!("{text:?}"),
    };
    let problem = Problem::OutOfRange {
        value: shown,
        range: "0, 1 or \"none\"",
        why: "the opposite of the server's key-direction; clients normally use 1; \"none\" when \
              the server's tls-auth has no direction",
    };
    Err(cx.invalid(value.span(), "openvpn.key_direction", problem))
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
        let name = cipher_name(&item, "openvpn.ciphers", cx)?;
        if ciphers.iter().any(|seen| seen == name) {
            let problem = Problem::Duplicate {
                value: item.get_ref().clone(),
            };
            return Err(cx.invalid(item.span(), "openvpn.ciphers", problem));
        }
        ciphers.push(name.to_string());
    }
    Ok(ciphers)
}

/// The canonical (upper-case) name of a supported data cipher.
fn cipher_name(
    value: &Spanned<String>,
    key: &str,
    cx: &Context<'_>,
) -> Result<&'static str, ConfigError> {
    OPENVPN_CIPHERS
        .iter()
        .chain(OPENVPN_CBC_CIPHERS.iter())
        .find(|name| name.eq_ignore_ascii_case(value.get_ref()))
        .copied()
        .ok_or_else(|| {
            let problem = Problem::UnknownValue {
                value: value.get_ref().clone(),
                expected: CIPHER_NAMES,
            };
            cx.invalid(value.span(), key, problem)
        })
}

#[cfg(test)]
#[path = "openvpn_tests.rs"]
mod tests;
