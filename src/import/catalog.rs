//! The OpenVPN options tapclient does not map, each with what the importer says about it.
//!
//! An option here is either harmless to leave out (it concerns something tapclient does anyway,
//! does differently, or a platform or mode it never uses), or not supported (leaving it out
//! changes what the user gets), or blocking (a tunnel built without it cannot work, so no TOML
//! is written). The options `map` translates are not listed; an option in neither place is
//! reported as unknown. Names and meanings from OpenVPN's manual (doc/man-sections) and
//! src/openvpn/options.c (facts only).

/// What leaving an option out means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Harmless: tapclient behaves this way anyway, or the option has no effect for it.
    Ignored,
    /// Not supported: the tunnel may work, but not as the profile asks.
    Unsupported,
    /// The profile cannot work with tapclient while this is in it.
    Blocking,
}

const SCRIPT: &str = "tapclient runs no scripts";
const LOGGING: &str = "logging is tapclient's own (stderr; -v/-q or RUST_LOG)";
const PERSIST_KEY: &str =
    "tapclient keeps its credentials in memory across reconnects (SIGHUP re-reads the files)";
const PERSIST_TUN: &str =
    "tapclient keeps the TUN interface, its address and routes across reconnects";
const CLIENT: &str =
    "tapclient is always a TLS client that pulls its options from the server (what `client` \
     stands for)";
const SERVER: &str = "this is a server option: the profile is not a client profile";
const WINDOWS: &str = "a Windows-only option";
const PROXY: &str = "tapclient connects directly; proxies are not supported";
const IPV6: &str = "IPv6 inside the tunnel is not supported by tapclient";
const SOCKET: &str = "socket and queue sizes are tapclient's own";
const PRIVS: &str =
    "tapclient does not change user, group or root directory; run it as a service instead";
const NO_BIND: &str = "tapclient never binds a local address or port";
const EXTERNAL_KEY: &str =
    "tapclient takes the client key from a PKCS#12 file only (no smart cards, no \
     management-interface keys)";

/// `(option, kind, reason)`, sorted by option name.
const TABLE: &[(&str, Kind, &str)] = &[
    ("allow-compression", Kind::Ignored, "tapclient never compresses"),
    ("allow-pull-fqdn", Kind::Ignored, "tapclient takes pushed routes as addresses"),
    ("auth-retry", Kind::Unsupported, "tapclient's reaction to AUTH_FAILED is not configurable"),
    ("auth-token", Kind::Ignored, "a server-pushed option"),
    ("auth-token-user", Kind::Ignored, "a server-pushed option"),
    ("auth-user-pass-verify", Kind::Blocking, SERVER),
    ("bind", Kind::Ignored, NO_BIND),
    ("bind-dev", Kind::Unsupported, "tapclient cannot bind its socket to a device"),
    ("block-ipv6", Kind::Unsupported, IPV6),
    ("block-outside-dns", Kind::Ignored, WINDOWS),
    ("capath", Kind::Unsupported, "tapclient takes CA certificates from one PEM file (`ca`)"),
    ("cd", Kind::Ignored, "used only to find the files the profile names"),
    ("chroot", Kind::Unsupported, PRIVS),
    ("client", Kind::Ignored, CLIENT),
    ("client-cert-not-required", Kind::Blocking, SERVER),
    ("client-config-dir", Kind::Blocking, SERVER),
    ("client-connect", Kind::Blocking, SERVER),
    ("client-disconnect", Kind::Blocking, SERVER),
    ("client-nat", Kind::Unsupported, "tapclient does no NAT"),
    ("client-to-client", Kind::Blocking, SERVER),
    ("comp-noadapt", Kind::Ignored, "tapclient never compresses"),
    ("config", Kind::Unsupported, "included files are not followed; import their options by adding them to this profile"),
    ("crl-verify", Kind::Unsupported, "tapclient does not check certificate revocation lists"),
    ("cryptoapicert", Kind::Blocking, EXTERNAL_KEY),
    ("daemon", Kind::Ignored, "run tapclient as a service (launchd/systemd) instead"),
    ("dev-node", Kind::Ignored, "tapclient opens its own TUN device"),
    ("dh", Kind::Ignored, "Diffie-Hellman parameters are a server-side setting"),
    ("dhcp-option", Kind::Unsupported, "tapclient does not configure DNS or other DHCP options from the profile"),
    ("disable-dco", Kind::Ignored, "tapclient has no data channel offload"),
    ("disable-occ", Kind::Ignored, "tapclient's options string is only informational for the server"),
    ("down", Kind::Unsupported, SCRIPT),
    ("down-pre", Kind::Ignored, SCRIPT),
    ("duplicate-cn", Kind::Blocking, SERVER),
    ("engine", Kind::Ignored, "tapclient's crypto has no OpenSSL engines"),
    ("explicit-exit-notify", Kind::Ignored, "only applies over UDP; tapclient runs over TCP"),
    ("fast-io", Kind::Ignored, "a UDP option, deprecated"),
    ("float", Kind::Ignored, "only applies over UDP; tapclient runs over TCP"),
    ("fragment", Kind::Unsupported, "fragmenting is a UDP option; tapclient runs over TCP and does not fragment"),
    ("group", Kind::Unsupported, PRIVS),
    ("http-proxy", Kind::Unsupported, PROXY),
    ("http-proxy-option", Kind::Unsupported, PROXY),
    ("http-proxy-retry", Kind::Unsupported, PROXY),
    ("http-proxy-user-pass", Kind::Unsupported, PROXY),
    ("ifconfig", Kind::Unsupported, "an OpenVPN server pushes the address; tapclient takes no static one"),
    ("ifconfig-ipv6", Kind::Unsupported, IPV6),
    ("ifconfig-noexec", Kind::Unsupported, "tapclient always configures the interface it creates"),
    ("ifconfig-nowarn", Kind::Ignored, "tapclient does not compare ifconfig settings"),
    ("ifconfig-pool", Kind::Blocking, SERVER),
    ("ifconfig-pool-persist", Kind::Blocking, SERVER),
    ("inactive", Kind::Unsupported, "tapclient does not disconnect an idle tunnel"),
    ("ipchange", Kind::Unsupported, SCRIPT),
    ("iproute", Kind::Ignored, "tapclient configures the interface itself"),
    ("keysize", Kind::Ignored, "removed from OpenVPN (2.6); the cipher name fixes the key size"),
    ("learn-address", Kind::Blocking, SERVER),
    ("link-mtu", Kind::Unsupported, "tapclient sizes its records from tun-mtu; link-mtu is deprecated"),
    ("local", Kind::Ignored, NO_BIND),
    ("log", Kind::Ignored, LOGGING),
    ("log-append", Kind::Ignored, LOGGING),
    ("lport", Kind::Ignored, NO_BIND),
    ("machine-readable-output", Kind::Ignored, LOGGING),
    ("management", Kind::Unsupported, "tapclient has no management interface (see `tapclient status`)"),
    ("management-client", Kind::Unsupported, "tapclient has no management interface"),
    ("management-external-cert", Kind::Blocking, EXTERNAL_KEY),
    ("management-external-key", Kind::Blocking, EXTERNAL_KEY),
    ("management-hold", Kind::Unsupported, "tapclient has no management interface"),
    ("management-query-passwords", Kind::Unsupported, "tapclient has no management interface; it prompts on the terminal"),
    ("mark", Kind::Unsupported, "tapclient does not mark its packets"),
    ("max-clients", Kind::Blocking, SERVER),
    ("max-routes", Kind::Ignored, "deprecated and ignored by OpenVPN too"),
    ("mlock", Kind::Ignored, "tapclient wipes its keys when done with them"),
    ("mode", Kind::Blocking, SERVER),
    ("mssfix", Kind::Ignored, "over TCP the underlay never fragments; tapclient does not clamp the MSS"),
    ("mtu-disc", Kind::Ignored, "a UDP option"),
    ("mtu-test", Kind::Ignored, "a UDP option"),
    ("mute", Kind::Ignored, LOGGING),
    ("mute-replay-warnings", Kind::Ignored, LOGGING),
    ("ncp-disable", Kind::Ignored, "removed from OpenVPN (2.6); tapclient always negotiates the cipher"),
    ("nice", Kind::Ignored, "process priority is the service manager's"),
    ("nobind", Kind::Ignored, NO_BIND),
    ("opt-verify", Kind::Ignored, "tapclient does not compare options strings"),
    ("passtos", Kind::Ignored, "tapclient does not copy the TOS field"),
    ("peer-fingerprint", Kind::Unsupported, "tapclient authenticates the server by its CA (`ca`), not by fingerprint"),
    ("persist-key", Kind::Ignored, PERSIST_KEY),
    ("persist-local-ip", Kind::Ignored, NO_BIND),
    ("persist-remote-ip", Kind::Ignored, "tapclient resolves the server's name again for each connection"),
    ("persist-tun", Kind::Ignored, PERSIST_TUN),
    ("ping-exit", Kind::Unsupported, "tapclient reconnects when the server goes silent instead of exiting"),
    ("ping-timer-rem", Kind::Ignored, "tapclient's ping timer runs whenever the tunnel is up"),
    ("pkcs11-id", Kind::Blocking, EXTERNAL_KEY),
    ("pkcs11-id-management", Kind::Blocking, EXTERNAL_KEY),
    ("pkcs11-providers", Kind::Unsupported, EXTERNAL_KEY),
    ("plugin", Kind::Unsupported, "OpenVPN plugins are not supported"),
    ("port-share", Kind::Blocking, SERVER),
    ("preresolve", Kind::Ignored, "tapclient resolves names when it connects"),
    ("pull", Kind::Ignored, CLIENT),
    ("pull-filter", Kind::Unsupported, "tapclient applies the pushed options it supports; filters are not configurable"),
    ("push", Kind::Blocking, SERVER),
    ("push-peer-info", Kind::Ignored, "tapclient always sends its peer info"),
    ("rcvbuf", Kind::Ignored, SOCKET),
    ("redirect-private", Kind::Unsupported, "only `redirect-gateway` is supported"),
    ("remote-cert-eku", Kind::Unsupported, "tapclient checks the server certificate's EKU for serverAuth only"),
    ("remote-cert-ku", Kind::Unsupported, "tapclient does not check key usage values"),
    ("remote-random-hostname", Kind::Unsupported, "tapclient connects to the host names as written"),
    ("reneg-bytes", Kind::Unsupported, "tapclient renegotiates by time only (reneg-sec)"),
    ("reneg-pkts", Kind::Unsupported, "tapclient renegotiates by time only (reneg-sec)"),
    ("replay-persist", Kind::Ignored, "tapclient keeps replay state in memory"),
    ("replay-window", Kind::Ignored, "tapclient's replay window is fixed (over TCP, packets arrive in order)"),
    ("resolv-retry", Kind::Ignored, "tapclient resolves the server's name again on each connection attempt"),
    ("route-delay", Kind::Ignored, "tapclient adds routes as soon as the tunnel is up"),
    ("route-gateway", Kind::Unsupported, "tapclient routes via the gateway the server pushes"),
    ("route-ipv6", Kind::Unsupported, IPV6),
    ("route-method", Kind::Ignored, WINDOWS),
    ("route-metric", Kind::Unsupported, "route metrics are not configurable in tapclient"),
    ("route-noexec", Kind::Unsupported, "tapclient always installs the routes it is given"),
    ("route-pre-down", Kind::Unsupported, SCRIPT),
    ("route-up", Kind::Unsupported, SCRIPT),
    ("script-security", Kind::Ignored, SCRIPT),
    ("secret", Kind::Blocking, "static-key mode (no TLS) is not supported; tapclient needs a TLS server"),
    ("server", Kind::Blocking, SERVER),
    ("server-bridge", Kind::Blocking, SERVER),
    ("session-timeout", Kind::Unsupported, "tapclient does not end sessions after a fixed time"),
    ("setenv-safe", Kind::Ignored, SCRIPT),
    ("shaper", Kind::Unsupported, "tapclient does not shape traffic"),
    ("show-net-up", Kind::Ignored, LOGGING),
    ("single-session", Kind::Ignored, "tapclient runs one session at a time anyway"),
    ("sndbuf", Kind::Ignored, SOCKET),
    ("socks-proxy", Kind::Unsupported, PROXY),
    ("socks-proxy-retry", Kind::Unsupported, PROXY),
    ("static-challenge", Kind::Unsupported, "challenge/response authentication is not supported"),
    ("status", Kind::Ignored, "tapclient reports its state with `tapclient status`"),
    ("status-version", Kind::Ignored, "tapclient reports its state with `tapclient status`"),
    ("suppress-timestamps", Kind::Ignored, LOGGING),
    ("syslog", Kind::Ignored, LOGGING),
    ("tcp-nodelay", Kind::Ignored, "tapclient always sets TCP_NODELAY"),
    ("tcp-queue-limit", Kind::Ignored, SOCKET),
    ("tls-cert-profile", Kind::Ignored, "rustls accepts only modern certificate algorithms anyway"),
    ("tls-cipher", Kind::Unsupported, "tapclient uses rustls's TLS 1.2 suites (ECDHE with AES-GCM or ChaCha20); a server limited to other suites (e.g. DHE) will refuse it"),
    ("tls-ciphersuites", Kind::Ignored, "rustls chooses among its TLS 1.3 suites"),
    ("tls-client", Kind::Ignored, CLIENT),
    ("tls-crypt-v2", Kind::Blocking, "tls-crypt-v2 is not supported by tapclient"),
    ("tls-exit", Kind::Ignored, "tapclient reconnects after TLS errors"),
    ("tls-export-cert", Kind::Ignored, SCRIPT),
    ("tls-groups", Kind::Ignored, "rustls chooses the key exchange groups"),
    ("tls-remote", Kind::Unsupported, "removed from OpenVPN (2.4); use verify-x509-name NAME name"),
    ("tls-server", Kind::Blocking, SERVER),
    ("tls-timeout", Kind::Ignored, "tapclient's control channel retransmission is its own (over TCP)"),
    ("tls-verify", Kind::Unsupported, SCRIPT),
    ("topology", Kind::Ignored, "the server pushes the topology"),
    ("tran-window", Kind::Ignored, "tapclient keeps the old key for a fixed transition time"),
    ("tun-ipv6", Kind::Ignored, "obsolete"),
    ("tun-mtu-extra", Kind::Ignored, "only sizes OpenVPN's buffers"),
    ("txqueuelen", Kind::Ignored, SOCKET),
    ("up", Kind::Unsupported, SCRIPT),
    ("up-delay", Kind::Ignored, "tapclient configures the interface once the server has pushed"),
    ("up-restart", Kind::Ignored, SCRIPT),
    ("user", Kind::Unsupported, PRIVS),
    ("verb", Kind::Ignored, LOGGING),
    ("verify-client-cert", Kind::Blocking, SERVER),
    ("verify-hash", Kind::Unsupported, "tapclient authenticates the server by its CA (`ca`), not by hash"),
    ("win-sys", Kind::Ignored, WINDOWS),
    ("windows-driver", Kind::Ignored, WINDOWS),
    ("writepid", Kind::Ignored, "the service manager keeps tapclient's PID"),
    ("x509-track", Kind::Ignored, SCRIPT),
    ("x509-username-field", Kind::Blocking, SERVER),
];

/// What to say about an option `map` does not translate, if it is a known one.
pub fn lookup(name: &str) -> Option<(Kind, &'static str)> {
    TABLE
        .binary_search_by(|(option, _, _)| (*option).cmp(name))
        .ok()
        .map(|i| (TABLE[i].1, TABLE[i].2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_without_duplicates_so_binary_search_finds_every_entry() {
        for pair in TABLE.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        for (name, kind, reason) in TABLE {
            assert_eq!(lookup(name), Some((*kind, *reason)), "{name}");
            assert!(!reason.is_empty());
        }
        assert_eq!(lookup("no-such-option"), None);
    }

    #[test]
    fn typical_profile_noise_is_harmless_and_server_options_block() {
        for name in [
            "nobind",
            "persist-key",
            "persist-tun",
            "resolv-retry",
            "verb",
            "mute",
            "client",
            "pull",
        ] {
            assert_eq!(lookup(name).map(|e| e.0), Some(Kind::Ignored), "{name}");
        }
        for name in ["http-proxy", "fragment", "plugin", "up", "down"] {
            assert_eq!(lookup(name).map(|e| e.0), Some(Kind::Unsupported), "{name}");
        }
        for name in ["server", "secret", "tls-crypt-v2", "pkcs11-id"] {
            assert_eq!(lookup(name).map(|e| e.0), Some(Kind::Blocking), "{name}");
        }
    }
}
