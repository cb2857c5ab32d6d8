//! Phase two: the raw, spanned syntax → the validated, typed [`Config`].
//!
//! Every check that can fail names the dotted key and the line of the offending value (or of
//! the section header when a required key is missing). Paths become absolute here, resolved
//! against the config file's folder; whether the files exist is the credentials module's
//! business.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::error::{ConfigError, Problem};
use super::lan::resolve_ethernet;
use super::openvpn::{protocol_sections, ProtocolSections};
use super::raw::{line_of, RawConfig, RawReconnect, RawRemotes, RawServer, RawTls, Seconds};
use super::tun::resolve_tun;
use super::types::*;

/// Longest duration most settings accept: one day.
const MAX_SECONDS: f64 = 86_400.0;
const SECONDS_RANGE: &str = "a number of seconds above 0 and at most 86400 (one day)";

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What phase two needs to know about the file: its text (for lines) and where it lives.
pub(super) struct Context<'a> {
    pub text: &'a str,
    /// The path as the user gave it, for messages.
    pub file: &'a Path,
    /// The folder relative paths resolve against (absolute).
    pub base: &'a Path,
}

impl Context<'_> {
    pub fn invalid(&self, span: Range<usize>, key: &str, problem: Problem) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_path_buf(),
            line: line_of(self.text, span.start),
            key: key.to_string(),
            problem,
        }
    }

    /// `field`, or a "missing key" error pointing at its section's header.
    pub fn required<T>(
        &self,
        field: Option<Spanned<T>>,
        section_span: &Range<usize>,
        key: &str,
        example: &'static str,
    ) -> Result<Spanned<T>, ConfigError> {
        field
            .ok_or_else(|| self.invalid(section_span.clone(), key, Problem::MissingKey { example }))
    }

    /// An absolute path: relative ones are taken from the config file's folder.
    pub fn path(&self, value: Spanned<String>, key: &str) -> Result<PathBuf, ConfigError> {
        if value.get_ref().is_empty() {
            return Err(self.invalid(value.span(), key, Problem::Empty));
        }
        let joined = self.base.join(value.get_ref());
        // `components` drops `.` segments; `..` is kept (symlinks make it non-lexical).
        Ok(joined.components().collect())
    }

    /// A duration above 0 and at most one day.
    fn seconds(&self, value: &Spanned<Seconds>, key: &str) -> Result<Duration, ConfigError> {
        self.seconds_up_to(value, key, MAX_SECONDS, SECONDS_RANGE, "a duration")
    }

    /// A duration above 0 and at most `max` seconds; `range` and `why` explain the limit.
    pub fn seconds_up_to(
        &self,
        value: &Spanned<Seconds>,
        key: &str,
        max: f64,
        range: &'static str,
        why: &'static str,
    ) -> Result<Duration, ConfigError> {
        let Seconds(secs) = *value.get_ref();
        if secs > 0.0 && secs <= max {
            Ok(Duration::from_secs_f64(secs))
        } else {
            let problem = Problem::OutOfRange {
                value: secs.to_string(),
                range,
                why,
            };
            Err(self.invalid(value.span(), key, problem))
        }
    }
}

pub(super) fn resolve(
    raw: RawConfig,
    source: PathBuf,
    cx: &Context<'_>,
) -> Result<Config, ConfigError> {
    let server = raw.server.ok_or_else(|| {
        let example = "[server] with protocol = \"simpletun\" and remote = \"host:port\"";
        cx.invalid(0..0, "server", Problem::MissingSection { example })
    })?;
    let (server, protocol_span) = resolve_server(server, cx)?;
    let tls = raw.tls.map(|tls| resolve_tls(tls, cx)).transpose()?;
    let (ip, openvpn) = protocol_sections(
        server.protocol,
        &protocol_span,
        ProtocolSections {
            ip: raw.ip,
            openvpn: raw.openvpn,
            auth_user_pass: raw.auth_user_pass,
        },
        tls.is_some(),
        cx,
    )?;
    let tun = resolve_tun(raw.tun, server.protocol, cx)?;
    let address = ip.as_ref().map(|ip| ip.address);
    let ethernet = resolve_ethernet(raw.ethernet, server.remote(), address, cx)?;
    let reconnect = resolve_reconnect(raw.reconnect, cx)?;
    let status_socket = match raw.status.and_then(|status| status.into_inner().socket) {
        Some(path) => cx.path(path, "status.socket")?,
        None => default_status_socket(&source),
    };
    Ok(Config {
        source,
        server,
        tls,
        tun,
        ethernet,
        ip,
        openvpn,
        reconnect,
        status_socket,
    })
}

/// `[server]`, and the span of its `protocol` value (other sections' rules depend on it).
fn resolve_server(
    raw: Spanned<RawServer>,
    cx: &Context<'_>,
) -> Result<(ServerConfig, Range<usize>), ConfigError> {
    let span = raw.span();
    let raw = raw.into_inner();
    let protocol = cx.required(
        raw.protocol,
        &span,
        "server.protocol",
        "protocol = \"openvpn\" (or \"simpletun\")",
    )?;
    let protocol_span = protocol.span();
    let (protocol, default_port, max_record) = match protocol.get_ref().as_str() {
        "simpletun" => (
            Protocol::Simpletun,
            SIMPLETUN_DEFAULT_PORT,
            SIMPLETUN_MAX_RECORD,
        ),
        "openvpn" => (Protocol::OpenVpn, OPENVPN_DEFAULT_PORT, OPENVPN_MAX_RECORD),
        other => {
            let problem = Problem::UnknownValue {
                value: other.to_string(),
                expected: "\"simpletun\" or \"openvpn\"",
            };
            return Err(cx.invalid(protocol_span, "server.protocol", problem));
        }
    };
    let remote = cx.required(
        raw.remote,
        &span,
        "server.remote",
        "remote = \"198.18.0.1:55555\"",
    )?;
    let remotes = resolve_remotes(remote, default_port, cx)?;
    let connect_timeout = match &raw.connect_timeout {
        Some(value) => cx.seconds(value, "server.connect_timeout")?,
        None => DEFAULT_CONNECT_TIMEOUT,
    };
    let server = ServerConfig {
        protocol,
        remotes,
        connect_timeout,
        max_record,
    };
    Ok((server, protocol_span))
}

/// `server.remote`: one address or a non-empty list of them, each checked by [`parse_remote`].
fn resolve_remotes(
    value: Spanned<RawRemotes>,
    default_port: u16,
    cx: &Context<'_>,
) -> Result<Vec<Remote>, ConfigError> {
    let list_span = value.span();
    let items = match value.into_inner() {
        RawRemotes::One(text) => vec![Spanned::new(list_span.clone(), text)],
        RawRemotes::Many(items) => items,
    };
    if items.is_empty() {
        return Err(cx.invalid(list_span, "server.remote", Problem::Empty));
    }
    let mut remotes: Vec<Remote> = Vec::with_capacity(items.len());
    for item in items {
        let remote = parse_remote(item.get_ref(), default_port).map_err(|why| {
            let value = item.get_ref().clone();
            cx.invalid(
                item.span(),
                "server.remote",
                Problem::BadRemote { value, why },
            )
        })?;
        if remotes.contains(&remote) {
            let value = item.get_ref().clone();
            return Err(cx.invalid(item.span(), "server.remote", Problem::Duplicate { value }));
        }
        remotes.push(remote);
    }
    Ok(remotes)
}

/// `host:port`, `[v6]:port`, `host`, or a bare IPv6 literal; the port defaults to
/// `default_port` (the protocol's).
pub(super) fn parse_remote(text: &str, default_port: u16) -> Result<Remote, &'static str> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("missing ']' after the IPv6 address")?;
        host.parse::<Ipv6Addr>()
            .map_err(|_| "the part in brackets is not an IPv6 address")?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("expected \":port\" after ']'")?,
            ),
        };
        (host, port)
    } else if text.parse::<Ipv6Addr>().is_ok() {
        (text, None)
    } else if let Some((host, port)) = text.rsplit_once(':') {
        if host.contains(':') {
            return Err("an IPv6 address with a port needs brackets, like [fd00::1]:55555");
        }
        (host, Some(port))
    } else {
        (text, None)
    };
    if !text.starts_with('[') && host.parse::<Ipv6Addr>().is_err() {
        check_host_name(host)?;
    }
    let port = match port {
        None => default_port,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => return Err("the port must be a number from 1 to 65535"),
        },
    };
    Ok(Remote {
        host: host.to_string(),
        port,
    })
}

fn check_host_name(host: &str) -> Result<(), &'static str> {
    if host.is_empty() {
        return Err("the host is empty");
    }
    if host.len() > 253 {
        return Err("the host name is longer than 253 characters");
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return host
            .parse::<Ipv4Addr>()
            .map(|_| ())
            .map_err(|_| "the host is not a valid IPv4 address");
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
    if !host.bytes().all(allowed) {
        return Err("the host name may only hold letters, digits, '-', '.' and '_'");
    }
    Ok(())
}

fn resolve_tls(raw: Spanned<RawTls>, cx: &Context<'_>) -> Result<TlsConfig, ConfigError> {
    let span = raw.span();
    let raw = raw.into_inner();
    let ca = cx.required(raw.ca, &span, "tls.ca", "ca = \"ca.crt\"")?;
    let pkcs12 = cx.required(raw.pkcs12, &span, "tls.pkcs12", "pkcs12 = \"client.p12\"")?;
    let password = password_source(
        raw.password_file,
        raw.password_env,
        ["tls.password_file", "tls.password_env"],
        cx,
    )?;
    let verify_name = match raw.verify_name {
        Some(name) if name.get_ref().is_empty() => {
            return Err(cx.invalid(name.span(), "tls.verify_name", Problem::Empty));
        }
        other => other.map(Spanned::into_inner),
    };
    Ok(TlsConfig {
        ca: cx.path(ca, "tls.ca")?,
        pkcs12: cx.path(pkcs12, "tls.pkcs12")?,
        password,
        verify_name,
    })
}

/// A password from `file` or `env` (exclusive), or [`PasswordSource::Unset`]; `keys` are the
/// two keys' dotted names, file first.
pub(super) fn password_source(
    file: Option<Spanned<String>>,
    env: Option<Spanned<String>>,
    keys: [&'static str; 2],
    cx: &Context<'_>,
) -> Result<PasswordSource, ConfigError> {
    let [file_key, env_key] = keys;
    Ok(match (file, env) {
        (Some(file), Some(env)) => {
            let (key, span, other) = if env.span().start > file.span().start {
                (env_key, env.span(), file_key)
            } else {
                (file_key, file.span(), env_key)
            };
            return Err(cx.invalid(span, key, Problem::Exclusive { other }));
        }
        (Some(file), None) => PasswordSource::File(cx.path(file, file_key)?),
        (None, Some(env)) => {
            let name = env.get_ref();
            if name.is_empty() || name.contains(['=', '\0']) {
                let problem = Problem::BadEnvName {
                    value: name.clone(),
                };
                return Err(cx.invalid(env.span(), env_key, problem));
            }
            PasswordSource::Env(env.into_inner())
        }
        (None, None) => PasswordSource::Unset,
    })
}

fn resolve_reconnect(
    raw: Option<Spanned<RawReconnect>>,
    cx: &Context<'_>,
) -> Result<ReconnectConfig, ConfigError> {
    let defaults = ReconnectConfig::default();
    let Some(raw) = raw.map(Spanned::into_inner) else {
        return Ok(defaults);
    };
    let initial_delay = match &raw.initial_delay {
        Some(value) => cx.seconds(value, "reconnect.initial_delay")?,
        None => defaults.initial_delay,
    };
    let max_delay = match &raw.max_delay {
        Some(value) => cx.seconds(value, "reconnect.max_delay")?,
        None => defaults.max_delay,
    };
    if max_delay < initial_delay {
        // Point at whichever of the two the user wrote (max_delay if both).
        let (span, key) = match (&raw.max_delay, &raw.initial_delay) {
            (Some(max), _) => (max.span(), "reconnect.max_delay"),
            (None, Some(initial)) => (initial.span(), "reconnect.initial_delay"),
            (None, None) => (0..0, "reconnect"),
        };
        let problem = Problem::MaxBelowInitial {
            max: max_delay.as_secs_f64(),
            initial: initial_delay.as_secs_f64(),
        };
        return Err(cx.invalid(span, key, problem));
    }
    let first_connect_attempts = match raw.first_connect_attempts {
        None => defaults.first_connect_attempts,
        Some(value) => u32::try_from(value.get_ref().0).map_err(|_| {
            let problem = Problem::OutOfRange {
                value: value.get_ref().0.to_string(),
                range: "0..=4294967295",
                why: "a number of tries, 0 = forever",
            };
            cx.invalid(value.span(), "reconnect.first_connect_attempts", problem)
        })?,
    };
    Ok(ReconnectConfig {
        initial_delay,
        max_delay,
        first_connect_attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::{message, MINIMAL};

    /// A config whose [server] section (starting on line 1) is `server`, plus a valid [ip].
    fn with_server(server: &str) -> String {
        format!("[server]\n{server}\n[ip]\naddress = \"10.98.0.2/24\"\n")
    }

    #[test]
    fn remote_forms() {
        let ok = |text: &str| {
            parse_remote(text, SIMPLETUN_DEFAULT_PORT)
                .map(|r| (r.host, r.port))
                .unwrap()
        };
        assert_eq!(ok("198.18.0.1:4443"), ("198.18.0.1".into(), 4443));
        assert_eq!(ok("198.18.0.1"), ("198.18.0.1".into(), 55555));
        assert_eq!(ok("vpn.example.com"), ("vpn.example.com".into(), 55555));
        assert_eq!(ok("vpn-1.example.com:1"), ("vpn-1.example.com".into(), 1));
        assert_eq!(ok("[fd00::1]:443"), ("fd00::1".into(), 443));
        assert_eq!(ok("[fd00::1]"), ("fd00::1".into(), 55555));
        assert_eq!(ok("fd00::1"), ("fd00::1".into(), 55555));
        let openvpn = parse_remote("vpn", OPENVPN_DEFAULT_PORT).unwrap();
        assert_eq!(openvpn.port, 1194);
    }

    #[test]
    fn bad_remotes_say_why() {
        let why = |text: &str| parse_remote(text, SIMPLETUN_DEFAULT_PORT).unwrap_err();
        assert_eq!(why(""), "the host is empty");
        assert_eq!(why(":55555"), "the host is empty");
        assert_eq!(why("host:0"), "the port must be a number from 1 to 65535");
        assert_eq!(
            why("host:65536"),
            "the port must be a number from 1 to 65535"
        );
        assert_eq!(why("host:"), "the port must be a number from 1 to 65535");
        assert_eq!(why("[fd00::1"), "missing ']' after the IPv6 address");
        assert_eq!(
            why("[vpn]:1"),
            "the part in brackets is not an IPv6 address"
        );
        assert_eq!(why("[fd00::1]443"), "expected \":port\" after ']'");
        assert!(why("fd00::1:x:443").contains("needs brackets"));
        assert_eq!(why("300.1.1.1"), "the host is not a valid IPv4 address");
        assert!(why("vpn example.com").starts_with("the host name may only hold"));
    }

    #[test]
    fn remote_errors_point_at_the_value() {
        assert_eq!(
            message(&with_server("protocol = \"simpletun\"\nremote = \"vpn:0\"")),
            "office.toml:3: server.remote: \"vpn:0\" is not a valid server address: the port \
             must be a number from 1 to 65535; use host:port, [v6]:port or host"
        );
    }

    #[test]
    fn protocols_are_simpletun_or_openvpn() {
        let text = with_server("protocol = \"wireguard\"\nremote = \"vpn\"");
        assert_eq!(
            message(&text),
            "office.toml:2: server.protocol: unknown value \"wireguard\"; expected one of \
             \"simpletun\" or \"openvpn\""
        );
        let text = with_server("protocol = \"OpenVPN\"\nremote = \"vpn\"");
        assert!(message(&text).starts_with("office.toml:2: server.protocol: unknown value"));
        assert_eq!(
            message(&with_server("remote = \"vpn\"")),
            "office.toml:1: server.protocol: this key is required; add it, e.g. \
             protocol = \"openvpn\" (or \"simpletun\")"
        );
        let config = crate::config::parse(MINIMAL, Path::new("a.toml")).unwrap();
        assert_eq!(config.server.protocol, Protocol::Simpletun);
    }

    #[test]
    fn durations_must_be_positive_and_at_most_a_day() {
        for (value, shown) in [("0", "0"), ("-1", "-1"), ("86401", "86401"), ("nan", "NaN")] {
            let text = with_server(&format!(
                "protocol = \"simpletun\"\nremote = \"vpn\"\nconnect_timeout = {value}"
            ));
            assert_eq!(
                message(&text),
                format!(
                    "office.toml:4: server.connect_timeout: {shown} is out of range; use {SECONDS_RANGE} \
                     (a duration)"
                )
            );
        }
        let text =
            with_server("protocol = \"simpletun\"\nremote = \"vpn\"\nconnect_timeout = 86400");
        assert!(crate::config::parse(&text, Path::new("a.toml")).is_ok());
    }

    #[test]
    fn tls_requires_ca_and_pkcs12() {
        let text = format!("{MINIMAL}\n[tls]\npkcs12 = \"c.p12\"\n");
        assert_eq!(
            message(&text),
            "office.toml:8: tls.ca: this key is required; add it, e.g. ca = \"ca.crt\""
        );
        let text = format!("{MINIMAL}\n[tls]\nca = \"ca.crt\"\n");
        assert!(message(&text).starts_with("office.toml:8: tls.pkcs12: this key is required"));
        let text = format!("{MINIMAL}[tls]\nca = \"\"\npkcs12 = \"c.p12\"\n");
        assert_eq!(message(&text), "office.toml:8: tls.ca: must not be empty");
    }

    #[test]
    fn password_file_and_env_are_exclusive() {
        let tls = "[tls]\nca = \"ca.crt\"\npkcs12 = \"c.p12\"\n";
        let text = format!("{MINIMAL}{tls}password_file = \"p\"\npassword_env = \"P\"\n");
        assert_eq!(
            message(&text),
            "office.toml:11: tls.password_env: cannot be used together with \
             `tls.password_file`; keep only one of them"
        );
        let text = format!("{MINIMAL}{tls}password_env = \"P\"\npassword_file = \"p\"\n");
        assert!(message(&text).starts_with("office.toml:11: tls.password_file: cannot be used"));
        let text = format!("{MINIMAL}{tls}password_env = \"A=B\"\n");
        assert!(message(&text).starts_with("office.toml:10: tls.password_env: \"A=B\" is not"));
        let text = format!("{MINIMAL}{tls}verify_name = \"\"\n");
        assert_eq!(
            message(&text),
            "office.toml:10: tls.verify_name: must not be empty"
        );
    }

    #[test]
    fn reconnect_delays_must_be_ordered_and_attempts_unsigned() {
        let text = format!("{MINIMAL}[reconnect]\ninitial_delay = 10\nmax_delay = 5\n");
        assert_eq!(
            message(&text),
            "office.toml:9: reconnect.max_delay: max_delay (5s) is shorter than initial_delay \
             (10s); raise max_delay or lower initial_delay"
        );
        let text = format!("{MINIMAL}[reconnect]\ninitial_delay = 60\n");
        assert!(
            message(&text).starts_with("office.toml:8: reconnect.initial_delay: max_delay (30s)")
        );
        let text = format!("{MINIMAL}[reconnect]\nfirst_connect_attempts = -1\n");
        assert_eq!(
            message(&text),
            "office.toml:8: reconnect.first_connect_attempts: -1 is out of range; use \
             0..=4294967295 (a number of tries, 0 = forever)"
        );
    }
}
