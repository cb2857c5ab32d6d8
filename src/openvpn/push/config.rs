//! The pushed options as typed data (§7.2). Each known option has a small parser; the last
//! occurrence of a single-valued option wins (OpenVPN applies pushed lines in order), list
//! options (`route`, `dhcp-option`, `dns`) accumulate.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use zeroize::Zeroizing;

use super::{redact_line, Cipher, PushError};
use crate::ether::Ipv4Cidr;

/// `route-gateway`: the next hop of pushed routes on the TAP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteGateway {
    Addr(Ipv4Addr),
    /// Learn the gateway by DHCP over the tunnel (`server-bridge` without a pool).
    Dhcp,
}

/// The gateway field of a `route`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteVia {
    Addr(Ipv4Addr),
    VpnGateway,
    NetGateway,
    RemoteHost,
}

/// `route NETWORK [NETMASK [GATEWAY [METRIC]]]`; the netmask defaults to a host route and
/// `default` stands for an omitted field. Host bits of `network` are kept as pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub network: Ipv4Cidr,
    /// `None`: via `route-gateway`.
    pub gateway: Option<RouteVia>,
    pub metric: Option<u32>,
}

/// `redirect-gateway` / `redirect-private` flags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RedirectGateway {
    pub def1: bool,
    pub local: bool,
    pub autolocal: bool,
    pub bypass_dhcp: bool,
    pub bypass_dns: bool,
    pub block_local: bool,
    pub ipv6: bool,
    /// `!ipv4`: leave the IPv4 default route alone.
    pub no_ipv4: bool,
    pub unknown: Vec<String>,
}

/// `dhcp-option KIND VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhcpOption {
    Dns(IpAddr),
    Domain(String),
    DomainSearch(String),
    /// Any other kind (`WINS`, `NTP`, `DNS6`, …) with its value, kept verbatim.
    Other {
        kind: String,
        value: String,
    },
}

/// `protocol-flags` (bit 7 of IV_PROTO announced).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProtocolFlags {
    pub cc_exit: bool,
    pub tls_ekm: bool,
    pub dyn_tls_crypt: bool,
    pub unknown: Vec<String>,
}

/// `key-derivation METHOD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyDerivation {
    TlsEkm,
}

/// `comp-lzo` argument (bare `comp-lzo` means adaptive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompLzo {
    No,
    Yes,
    Adaptive,
}

/// The pushed compression option, which fixes the data-channel framing (§9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    CompLzo(CompLzo),
    /// `compress` or `compress stub`.
    Stub,
    StubV2,
    Lz4,
    Lz4V2,
    Lzo,
}

/// The first-byte framing a [`Compression`] implies for every data-channel payload (§9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressionFraming {
    /// `0xFA` prefix when sending uncompressed; `0x66` marks LZO on receive.
    Lzo,
    /// Byte 0 moved to the end behind a `0xFB` prefix; `0x69` marks LZ4 on receive.
    Swap,
    /// Raw, except a leading `0x50` is escaped as `0x50 0x00`.
    V2,
}

impl Compression {
    pub fn framing(&self) -> CompressionFraming {
        match self {
            Compression::CompLzo(_) | Compression::Lzo => CompressionFraming::Lzo,
            Compression::Stub | Compression::Lz4 => CompressionFraming::Swap,
            Compression::StubV2 | Compression::Lz4V2 => CompressionFraming::V2,
        }
    }
}

/// `topology` (informational in TAP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    Subnet,
    Net30,
    P2p,
}

/// The `auth-token` the server pushed: sent as the password on renegotiation. Zeroized on
/// drop; `Debug` prints no characters.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken(Zeroizing<String>);

impl AuthToken {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

/// The configuration the server pushed. Fields are `None`/empty when not pushed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushedConfig {
    /// `ifconfig IP NETMASK` (TAP: the second argument is a netmask).
    pub ifconfig: Option<Ipv4Cidr>,
    pub route_gateway: Option<RouteGateway>,
    pub routes: Vec<Route>,
    pub route_metric: Option<u32>,
    pub redirect_gateway: Option<RedirectGateway>,
    pub redirect_private: Option<RedirectGateway>,
    pub dhcp_options: Vec<DhcpOption>,
    /// 2.6 `dns …` options, arguments kept verbatim.
    pub dns: Vec<String>,
    pub ping: Option<Duration>,
    pub ping_restart: Option<Duration>,
    pub ping_exit: Option<Duration>,
    pub inactive: Option<Duration>,
    /// 24-bit; switches the data channel to P_DATA_V2 (0xFFFFFF means "unset", §6.1).
    pub peer_id: Option<u32>,
    pub cipher: Option<Cipher>,
    pub protocol_flags: ProtocolFlags,
    pub key_derivation: Option<KeyDerivation>,
    pub compression: Option<Compression>,
    pub tun_mtu: Option<u16>,
    pub topology: Option<Topology>,
    pub auth_token: Option<AuthToken>,
    pub auth_token_user: Option<String>,
    /// Known options we deliberately do not act on (IPv6, socket tuning, `setenv`, …).
    pub ignored: Vec<String>,
    /// Options we do not know, for one log line.
    pub unknown: Vec<String>,
}

/// Options that are understood but have no effect for this client.
const IGNORED: &[&str] = &[
    "ifconfig-ipv6",
    "route-ipv6",
    "tun-ipv6",
    "block-ipv6",
    "explicit-exit-notify",
    "socket-flags",
    "sndbuf",
    "rcvbuf",
    "block-outside-dns",
    "register-dns",
    "echo",
    "setenv",
    "setenv-safe",
    "ping-timer-rem",
    "persist-tun",
    "persist-key",
    "route-delay",
    "ip-win32",
    "dhcp-pre-release",
    "dhcp-release",
    "dhcp-renew",
    "mssfix",
];

impl PushedConfig {
    /// Parses the options of an assembled PUSH_REPLY.
    pub fn from_options<S: AsRef<str>>(options: &[S]) -> Result<PushedConfig, PushError> {
        let mut config = PushedConfig::default();
        for line in options {
            config.apply(line.as_ref())?;
        }
        Ok(config)
    }

    /// True when the data keys come from the TLS exporter (`key-derivation tls-ekm` or
    /// `protocol-flags … tls-ekm`), false for the legacy PRF (§5.0).
    pub fn uses_ekm(&self) -> bool {
        self.key_derivation == Some(KeyDerivation::TlsEkm) || self.protocol_flags.tls_ekm
    }

    fn apply(&mut self, line: &str) -> Result<(), PushError> {
        let words = tokenize(line).ok_or_else(|| PushError::UnterminatedQuote {
            line: redact_line(line),
        })?;
        let Some((keyword, args)) = words.split_first() else {
            return Ok(());
        };
        let a = Args { line, args };
        match keyword.as_str() {
            "ifconfig" => self.ifconfig = Some(a.ifconfig()?),
            "route-gateway" => self.route_gateway = Some(a.route_gateway()?),
            "route" => self.routes.push(a.route()?),
            "route-metric" => self.route_metric = Some(a.single("route-metric", "METRIC")?),
            "redirect-gateway" => self.redirect_gateway = Some(redirect_flags(args)),
            "redirect-private" => self.redirect_private = Some(redirect_flags(args)),
            "dhcp-option" => self.dhcp_options.push(a.dhcp_option()?),
            "dns" => self.dns.push(args.join(" ")),
            "ping" => self.ping = Some(a.seconds("ping")?),
            "ping-restart" => self.ping_restart = Some(a.seconds("ping-restart")?),
            "ping-exit" => self.ping_exit = Some(a.seconds("ping-exit")?),
            "inactive" => self.inactive = Some(a.inactive()?),
            "peer-id" => self.peer_id = Some(a.peer_id()?),
            "cipher" => self.cipher = Some(Cipher::from_name(a.word("cipher", "CIPHER")?)),
            "protocol-flags" => self.protocol_flags.merge(args),
            "key-derivation" => self.key_derivation = Some(a.key_derivation()?),
            "comp-lzo" => self.compression = Some(a.comp_lzo()?),
            "compress" => self.compression = Some(a.compress()?),
            "tun-mtu" => self.tun_mtu = Some(a.tun_mtu()?),
            "topology" => self.topology = Some(a.topology()?),
            "auth-token" => self.auth_token = Some(a.auth_token()?),
            "auth-token-user" => {
                let user = a.word("auth-token-user", "BASE64-USERNAME")?;
                self.auth_token_user = Some(user.to_owned());
            }
            "push-continuation" => a.continuation()?,
            other if IGNORED.contains(&other) => self.ignored.push(line.to_owned()),
            _ => self.unknown.push(line.to_owned()),
        }
        Ok(())
    }
}

impl ProtocolFlags {
    fn merge(&mut self, flags: &[String]) {
        for flag in flags {
            match flag.as_str() {
                "cc-exit" => self.cc_exit = true,
                "tls-ekm" => self.tls_ekm = true,
                "dyn-tls-crypt" => self.dyn_tls_crypt = true,
                other => self.unknown.push(other.to_owned()),
            }
        }
    }
}

fn redirect_flags(args: &[String]) -> RedirectGateway {
    let mut r = RedirectGateway::default();
    for flag in args {
        match flag.as_str() {
            "def1" => r.def1 = true,
            "local" => r.local = true,
            "autolocal" => r.autolocal = true,
            "bypass-dhcp" => r.bypass_dhcp = true,
            "bypass-dns" => r.bypass_dns = true,
            "block-local" => r.block_local = true,
            "ipv6" => r.ipv6 = true,
            "!ipv4" => r.no_ipv4 = true,
            other => r.unknown.push(other.to_owned()),
        }
    }
    r
}

/// The arguments of one option line, with error construction.
struct Args<'a> {
    line: &'a str,
    args: &'a [String],
}

impl<'a> Args<'a> {
    fn malformed(&self, option: &'static str, expected: &'static str) -> PushError {
        PushError::Malformed {
            option,
            line: redact_line(self.line),
            expected,
        }
    }

    /// Exactly one argument.
    fn word(&self, option: &'static str, expected: &'static str) -> Result<&'a str, PushError> {
        match self.args {
            [one] => Ok(one),
            _ => Err(self.malformed(option, expected)),
        }
    }

    fn single<T: std::str::FromStr>(
        &self,
        option: &'static str,
        expected: &'static str,
    ) -> Result<T, PushError> {
        let word = self.word(option, expected)?;
        word.parse().map_err(|_| self.malformed(option, expected))
    }

    fn seconds(&self, option: &'static str) -> Result<Duration, PushError> {
        self.single(option, "SECONDS").map(Duration::from_secs)
    }

    fn ifconfig(&self) -> Result<Ipv4Cidr, PushError> {
        let bad = || self.malformed("ifconfig", "ADDRESS NETMASK");
        let [addr, mask] = self.args else {
            return Err(bad());
        };
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix = mask.parse().ok().and_then(prefix_len).ok_or_else(bad)?;
        Ipv4Cidr::new(addr, prefix).ok_or_else(bad)
    }

    fn route_gateway(&self) -> Result<RouteGateway, PushError> {
        match self.word("route-gateway", "ADDRESS or dhcp")? {
            "dhcp" => Ok(RouteGateway::Dhcp),
            ip => ip
                .parse()
                .map(RouteGateway::Addr)
                .map_err(|_| self.malformed("route-gateway", "ADDRESS or dhcp")),
        }
    }

    fn route(&self) -> Result<Route, PushError> {
        const EXPECTED: &str = "NETWORK [NETMASK [GATEWAY [METRIC]]]";
        let bad = || self.malformed("route", EXPECTED);
        if self.args.is_empty() || self.args.len() > 4 {
            return Err(bad());
        }
        // `default` stands for an omitted positional field.
        let field = |i: usize| {
            self.args
                .get(i)
                .map(String::as_str)
                .filter(|&a| a != "default")
        };
        let addr: Ipv4Addr = self.args[0].parse().map_err(|_| bad())?;
        let prefix = match field(1) {
            None => 32,
            Some(mask) => mask.parse().ok().and_then(prefix_len).ok_or_else(bad)?,
        };
        let gateway = match field(2) {
            None => None,
            Some("vpn_gateway") => Some(RouteVia::VpnGateway),
            Some("net_gateway") => Some(RouteVia::NetGateway),
            Some("remote_host") => Some(RouteVia::RemoteHost),
            Some(ip) => Some(RouteVia::Addr(ip.parse().map_err(|_| bad())?)),
        };
        let metric = match field(3) {
            None => None,
            Some(m) => Some(m.parse().map_err(|_| bad())?),
        };
        let network = Ipv4Cidr::new(addr, prefix).ok_or_else(bad)?;
        Ok(Route {
            network,
            gateway,
            metric,
        })
    }

    fn dhcp_option(&self) -> Result<DhcpOption, PushError> {
        const EXPECTED: &str = "KIND VALUE";
        let [kind, value] = self.args else {
            return Err(self.malformed("dhcp-option", EXPECTED));
        };
        Ok(match kind.as_str() {
            "DNS" => DhcpOption::Dns(
                value
                    .parse()
                    .map_err(|_| self.malformed("dhcp-option", "DNS IP-ADDRESS"))?,
            ),
            "DOMAIN" => DhcpOption::Domain(value.clone()),
            "DOMAIN-SEARCH" => DhcpOption::DomainSearch(value.clone()),
            _ => DhcpOption::Other {
                kind: kind.clone(),
                value: value.clone(),
            },
        })
    }

    /// `inactive SECONDS [BYTES]`: the byte threshold is not used by this client.
    fn inactive(&self) -> Result<Duration, PushError> {
        let bad = || self.malformed("inactive", "SECONDS [BYTES]");
        match self.args {
            [secs] | [secs, _] => secs.parse().map(Duration::from_secs).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }

    fn peer_id(&self) -> Result<u32, PushError> {
        let id: u32 = self.single("peer-id", "a number up to 16777215")?;
        if id > 0x00ff_ffff {
            return Err(self.malformed("peer-id", "a number up to 16777215"));
        }
        Ok(id)
    }

    fn key_derivation(&self) -> Result<KeyDerivation, PushError> {
        match self.word("key-derivation", "tls-ekm")? {
            "tls-ekm" => Ok(KeyDerivation::TlsEkm),
            _ => Err(self.malformed("key-derivation", "tls-ekm")),
        }
    }

    fn comp_lzo(&self) -> Result<Compression, PushError> {
        let mode = match self.args {
            [] => CompLzo::Adaptive,
            [mode] => match mode.as_str() {
                "no" => CompLzo::No,
                "yes" => CompLzo::Yes,
                "adaptive" => CompLzo::Adaptive,
                _ => return Err(self.malformed("comp-lzo", "no, yes or adaptive")),
            },
            _ => return Err(self.malformed("comp-lzo", "no, yes or adaptive")),
        };
        Ok(Compression::CompLzo(mode))
    }

    fn compress(&self) -> Result<Compression, PushError> {
        const EXPECTED: &str = "stub, stub-v2, lz4, lz4-v2 or lzo";
        let algorithm = match self.args {
            [] => return Ok(Compression::Stub),
            [one] => one.as_str(),
            _ => return Err(self.malformed("compress", EXPECTED)),
        };
        Ok(match algorithm {
            "stub" => Compression::Stub,
            "stub-v2" => Compression::StubV2,
            "lz4" => Compression::Lz4,
            "lz4-v2" => Compression::Lz4V2,
            "lzo" => Compression::Lzo,
            _ => return Err(self.malformed("compress", EXPECTED)),
        })
    }

    fn tun_mtu(&self) -> Result<u16, PushError> {
        let mtu: u16 = self.single("tun-mtu", "an MTU of 68..=65535")?;
        if mtu < 68 {
            return Err(self.malformed("tun-mtu", "an MTU of 68..=65535"));
        }
        Ok(mtu)
    }

    fn topology(&self) -> Result<Topology, PushError> {
        match self.word("topology", "subnet, net30 or p2p")? {
            "subnet" => Ok(Topology::Subnet),
            "net30" => Ok(Topology::Net30),
            "p2p" => Ok(Topology::P2p),
            _ => Err(self.malformed("topology", "subnet, net30 or p2p")),
        }
    }

    /// `auth-token TOKEN`; further words are ignored (the token never shows in errors).
    fn auth_token(&self) -> Result<AuthToken, PushError> {
        match self.args.first() {
            Some(token) => Ok(AuthToken(Zeroizing::new(token.clone()))),
            None => Err(self.malformed("auth-token", "TOKEN")),
        }
    }

    /// `push-continuation 1|2`, normally removed by `ControlMessage::parse` already.
    fn continuation(&self) -> Result<(), PushError> {
        match self.word("push-continuation", "1 or 2")? {
            "1" | "2" => Ok(()),
            _ => Err(self.malformed("push-continuation", "1 or 2")),
        }
    }
}

/// The prefix length of a contiguous netmask.
fn prefix_len(mask: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(mask);
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// Splits an option line into words like OpenVPN's config parser: whitespace separates,
/// `"…"` groups (backslash escapes inside), `'…'` groups literally, a backslash outside quotes
/// escapes the next character. `None` for an unterminated quote.
fn tokenize(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_ascii_whitespace() => words.extend(word.take()),
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => w.push(chars.next()?),
                        other => w.push(other),
                    }
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        other => w.push(other),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).push(chars.next()?),
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    words.extend(word);
    Some(words)
}
