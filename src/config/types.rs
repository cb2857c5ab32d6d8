//! The validated, typed configuration: what the rest of the program consumes.
//!
//! Everything here has been checked (addresses parse, paths are absolute, exclusive options
//! are exclusive). Paths are resolved against the config file's folder.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use crate::ether::{Ipv4Cidr, MacAddr};

/// Default TCP port of a simpletun server (`simpletun -p`).
pub const SIMPLETUN_DEFAULT_PORT: u16 = 55555;

/// The largest record simpletun accepts (its 2000-byte read buffer).
pub const SIMPLETUN_MAX_RECORD: usize = 2000;

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this config was read from (absolute).
    pub source: PathBuf,
    pub server: ServerConfig,
    /// `None`: plain TCP (no authentication of the server at all).
    pub tls: Option<TlsConfig>,
    pub tun: TunConfig,
    pub ethernet: EthernetConfig,
    /// simpletun: required (nothing is pushed). OpenVPN: `None` — the server pushes it.
    pub ip: Option<IpConfig>,
    /// OpenVPN settings; `Some` exactly when `server.protocol` is OpenVPN.
    pub openvpn: Option<OpenVpnConfig>,
    pub reconnect: ReconnectConfig,
    /// The Unix socket `tapclient status` reads (`[status] socket`; default
    /// [`default_status_socket`]).
    pub status_socket: PathBuf,
}

/// Where the status socket of the tapclient running `config_file` (absolute) lives by default:
/// `/run/tapclient/<file stem>-<8 hex digits>.sock` (`/var/run/...` on macOS), the digits a hash
/// of the config file's path. `tapclient status --config F` finds the client started with the
/// same `F`, and two configs of the same name in different folders do not collide.
pub fn default_status_socket(config_file: &std::path::Path) -> PathBuf {
    let stem = config_file
        .file_stem()
        .map_or_else(|| "tapclient".into(), |s| s.to_string_lossy().into_owned());
    // FNV-1a (32 bits): stable across runs and builds, unlike std's SipHash keys.
    let hash = config_file
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0x811c_9dc5_u32, |h, &b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
    let run = if cfg!(target_os = "macos") {
        "/var/run/tapclient"
    } else {
        "/run/tapclient"
    };
    PathBuf::from(run).join(format!("{stem}-{hash:08x}.sock"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// A stream of 2-byte big-endian length-prefixed Ethernet frames (`simpletun -s -a`).
    Simpletun,
    /// An OpenVPN 2.x server in TAP mode over TCP (`proto tcp-server`, `dev tap`).
    OpenVpn,
}

/// Default TCP port of an OpenVPN server.
pub const OPENVPN_DEFAULT_PORT: u16 = 1194;

/// The largest OpenVPN packet we accept or send over TCP (a 1500-byte tun-mtu frame plus VLAN
/// tag and crypto overhead fits with room to spare; OpenVPN's own buffers are a little larger).
pub const OPENVPN_MAX_RECORD: usize = 2048;

/// The data ciphers offered by default, spelt as OpenVPN spells them, in preference order:
/// stock OpenVPN 2.6's `IV_CIPHERS`.
pub const OPENVPN_CIPHERS: [&str; 3] = ["AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305"];

/// The legacy CBC data ciphers (with an HMAC of `auth`), for servers without AEAD. Accepted in
/// `ciphers` and as `cipher`, never offered unless configured.
pub const OPENVPN_CBC_CIPHERS: [&str; 2] = ["AES-256-CBC", "AES-128-CBC"];

/// Default `reneg_sec`: OpenVPN's `reneg-sec` default.
pub const OPENVPN_DEFAULT_RENEG: Duration = Duration::from_secs(3600);

/// Default time allowed for the handshake (OpenVPN's own `hand-window` default).
pub const OPENVPN_DEFAULT_HAND_WINDOW: Duration = Duration::from_secs(60);

/// How the control channel is wrapped (must match the server's `tls-auth`/`tls-crypt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlWrap {
    None,
    /// `tls-auth FILE DIRECTION` with HMAC digest `auth`.
    TlsAuth {
        key: PathBuf,
        /// `key-direction`: clients normally use 1; `None` = bidirectional (the config file
        /// always gives `Some(0)` or `Some(1)`, default 1).
        direction: Option<u8>,
        digest: AuthDigest,
    },
    /// `tls-crypt FILE`.
    TlsCrypt {
        key: PathBuf,
    },
}

/// OpenVPN's `auth` digest: the tls-auth HMAC and the CBC data-channel HMAC (not negotiated:
/// must equal the server's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthDigest {
    Sha1,
    Sha256,
    Sha512,
}

impl AuthDigest {
    /// The name as OpenVPN's `auth` option writes it (`SHA1`, `SHA256`, `SHA512`).
    pub fn name(self) -> &'static str {
        match self {
            AuthDigest::Sha1 => "SHA1",
            AuthDigest::Sha256 => "SHA256",
            AuthDigest::Sha512 => "SHA512",
        }
    }
}

/// Data-channel key derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyDerivation {
    /// Offer the TLS keying-material exporter (EKM); the server decides (it pushes `tls-ekm`).
    Auto,
    /// Do not offer EKM, so the server uses the legacy TLS 1.0 PRF.
    Prf,
}

/// The compression framing to use when the server pushes none (`compress` / `comp-lzo` in the
/// client profile). tapclient never compresses; it only frames packets as the server expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressFraming {
    /// `comp-lzo` or `compress lzo`: a `0xFA` byte before every uncompressed packet.
    CompLzo,
    /// `compress` (stub) or `compress lz4`: the first byte swapped to the end behind `0xFB`.
    Swap,
    /// `compress stub-v2` or `compress lz4-v2`: raw, a leading `0x50` escaped.
    V2,
}

#[derive(Debug, Clone)]
pub struct OpenVpnConfig {
    pub wrap: ControlWrap,
    /// Data ciphers offered (IV_CIPHERS), in preference order: names as OpenVPN spells them
    /// (upper case, members of [`OPENVPN_CIPHERS`] or [`OPENVPN_CBC_CIPHERS`]), never empty,
    /// no duplicates.
    pub ciphers: Vec<String>,
    /// OpenVPN's `cipher`: the data cipher used when the server pushes none (servers older than
    /// 2.4, or without cipher negotiation). Canonical name, as in `ciphers`.
    pub cipher: Option<String>,
    /// OpenVPN's `auth`: the HMAC digest of CBC data ciphers (and of tls-auth, which carries
    /// the same value in [`ControlWrap::TlsAuth`]).
    pub auth: AuthDigest,
    pub key_derivation: KeyDerivation,
    /// Time allowed from the first packet to an established tunnel (`hand-window`).
    pub hand_window: Duration,
    /// Renegotiate the data keys after this long (`reneg-sec`); `None` = never (0).
    pub reneg: Option<Duration>,
    /// Keepalive interval and restart timeout used when the server pushes none.
    pub ping: Option<Duration>,
    pub ping_restart: Option<Duration>,
    /// Compression framing used when the server pushes none.
    pub compress: Option<CompressFraming>,
    /// Ignore pushed routes and redirect-gateway (`route-nopull`); the address is still taken.
    pub route_nopull: bool,
    /// Extra networks routed into the tunnel via the pushed `route-gateway` (`route`).
    pub routes: Vec<Ipv4Cidr>,
    /// Send all IPv4 traffic through the tunnel (`redirect-gateway def1`), as if pushed.
    pub redirect_gateway: bool,
    /// Username and password for the server's `auth-user-pass-verify` (`[auth_user_pass]`).
    pub auth_user_pass: Option<AuthUserPass>,
}

/// Where the username and password sent to the server come from. Missing pieces are asked for
/// on the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUserPass {
    /// OpenVPN's auth-user-pass file: username on line 1, password on line 2 (optional).
    pub file: Option<PathBuf>,
    pub username: Option<String>,
    /// The password, when `file` does not hold it.
    pub password: PasswordSource,
}

impl Default for OpenVpnConfig {
    /// What an absent `[openvpn]` table means: no control-channel wrapping, the stock 2.6
    /// cipher list, EKM offered, a 60-second hand window, renegotiation every hour, keepalive
    /// and compression as pushed, pushed routes taken, no username/password.
    fn default() -> Self {
        OpenVpnConfig {
            wrap: ControlWrap::None,
            ciphers: OPENVPN_CIPHERS.iter().map(|c| c.to_string()).collect(),
            cipher: None,
            auth: AuthDigest::Sha1,
            key_derivation: KeyDerivation::Auto,
            hand_window: OPENVPN_DEFAULT_HAND_WINDOW,
            reneg: Some(OPENVPN_DEFAULT_RENEG),
            ping: None,
            ping_restart: None,
            compress: None,
            route_nopull: false,
            routes: Vec::new(),
            redirect_gateway: false,
            auth_user_pass: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// A host name or an IP literal (IPv6 literals without brackets).
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl ServerConfig {
    /// The first (preferred) server.
    pub fn remote(&self) -> &Remote {
        &self.remotes[0]
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub protocol: Protocol,
    /// The servers to try, in order (never empty).
    pub remotes: Vec<Remote>,
    /// TCP connect plus TLS handshake must finish within this.
    pub connect_timeout: Duration,
    /// Largest record accepted from or sent to the server ([`SIMPLETUN_MAX_RECORD`] or
    /// [`OPENVPN_MAX_RECORD`]).
    pub max_record: usize,
}

/// Where the PKCS#12 password comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// Not configured: try an empty password; if the file needs one, prompt when standard input
    /// is a terminal, else fail with a message naming the options.
    Unset,
    /// First line of this file (trailing newline stripped).
    File(PathBuf),
    /// The value of this environment variable.
    Env(String),
}

impl std::fmt::Debug for PasswordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only where the secret lives, never the secret.
        match self {
            PasswordSource::Unset => f.write_str("Unset"),
            PasswordSource::File(p) => write!(f, "File({})", p.display()),
            PasswordSource::Env(v) => write!(f, "Env({v})"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// PEM file with the CA certificate(s) the server's chain must lead to.
    pub ca: PathBuf,
    /// The client identity: certificate, chain and private key.
    pub pkcs12: PathBuf,
    pub password: PasswordSource,
    /// If set, the server certificate's subject CN or a SAN must equal this (like OpenVPN's
    /// `verify-x509-name NAME name`). Not web hostname rules.
    pub verify_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TunConfig {
    /// Interface name (Linux: any valid name, default chosen by the kernel, `tun0`…;
    /// macOS: `utunN`).
    pub name: Option<String>,
    /// The TUN's MTU (IP packet size). Ethernet frames are this plus 14 bytes.
    pub mtu: u16,
}

#[derive(Debug, Clone)]
pub struct EthernetConfig {
    /// Our MAC on the VPN LAN: configured, or derived stably from the config
    /// (`MacAddr::stable_local`).
    pub mac: MacAddr,
    /// True when `mac` was derived rather than configured (for logs).
    pub mac_derived: bool,
}

#[derive(Debug, Clone)]
pub struct IpConfig {
    /// Our address on the VPN LAN with its prefix length (`10.98.0.2/24`).
    pub address: Ipv4Cidr,
    /// Next hop for destinations off the LAN (needed when `routes` is not empty).
    pub gateway: Option<Ipv4Addr>,
    /// Extra networks routed into the tunnel (via `gateway`).
    pub routes: Vec<Ipv4Cidr>,
}

#[derive(Debug, Clone)]
pub struct ReconnectConfig {
    /// First delay after a lost connection; doubles per failed attempt, with jitter.
    pub initial_delay: Duration,
    /// Ceiling of the delay.
    pub max_delay: Duration,
    /// How many times to try the very first connection before giving up (0 = forever).
    /// Once connected, reconnection never gives up.
    pub first_connect_attempts: u32,
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        ReconnectConfig {
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            first_connect_attempts: 3,
        }
    }
}
