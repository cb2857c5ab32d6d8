//! The path to the VPN server outside the tunnel ("underlay"), needed before the default route
//! is redirected into the tunnel: the server must stay reachable the old way, or the tunnel's
//! own TCP connection would loop into itself.
//!
//! The lookup is a command per OS whose output is parsed by pure functions, tested on any OS.

use std::net::Ipv4Addr;

use super::plan::{Command, Os};
use super::NetcfgError;

/// How packets to one address leave the machine without the tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnderlayRoute {
    /// The next hop, or `None` when the address is on a directly attached network.
    pub via: Option<Ipv4Addr>,
    /// The outgoing interface.
    pub dev: String,
}

/// The command that asks the OS how it reaches `dst`.
pub fn lookup_command(os: Os, dst: Ipv4Addr) -> Command {
    let dst = dst.to_string();
    match os {
        Os::Linux => Command {
            program: "ip",
            args: vec!["-4".into(), "route".into(), "get".into(), dst],
        },
        Os::MacOs => Command {
            program: "route",
            args: vec!["-n".into(), "get".into(), dst],
        },
    }
}

/// Parses `ip -4 route get` output: `198.18.0.1 via 192.0.2.1 dev eth0 src 192.0.2.2 uid 0`.
pub fn parse_linux(output: &str) -> Option<UnderlayRoute> {
    let words: Vec<&str> = output.lines().next()?.split_whitespace().collect();
    let after = |key: &str| words.windows(2).find(|w| w[0] == key).map(|w| w[1]);
    Some(UnderlayRoute {
        via: after("via").and_then(|v| v.parse().ok()),
        dev: after("dev")?.to_owned(),
    })
}

/// Parses `route -n get` output (macOS): `gateway: 192.0.2.1` and `interface: en0` lines.
pub fn parse_macos(output: &str) -> Option<UnderlayRoute> {
    let field = |key: &str| {
        output.lines().find_map(|line| {
            let (k, v) = line.trim().split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_owned())
        })
    };
    Some(UnderlayRoute {
        via: field("gateway").and_then(|g| g.parse().ok()),
        dev: field("interface")?,
    })
}

/// Asks this OS how it reaches `dst` now.
pub fn lookup(dst: Ipv4Addr) -> Result<UnderlayRoute, NetcfgError> {
    let os = Os::current();
    let command = lookup_command(os, dst);
    let output = super::output(&command)?;
    let parsed = match os {
        Os::Linux => parse_linux(&output),
        Os::MacOs => parse_macos(&output),
    };
    parsed.ok_or_else(|| NetcfgError::Unparsed {
        command: command.to_string(),
        output: output.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_route_get_via_a_gateway_and_on_link() {
        let via =
            parse_linux("198.18.0.1 via 192.0.2.1 dev eth0 src 192.0.2.2 uid 0 \n    cache \n");
        assert_eq!(
            via,
            Some(UnderlayRoute {
                via: Some(Ipv4Addr::new(192, 0, 2, 1)),
                dev: "eth0".into()
            })
        );
        let on_link = parse_linux("198.18.0.1 dev u-cli src 198.18.0.2 uid 0 \n    cache \n");
        assert_eq!(
            on_link,
            Some(UnderlayRoute {
                via: None,
                dev: "u-cli".into()
            })
        );
        assert_eq!(
            parse_linux("RTNETLINK answers: Network is unreachable"),
            None
        );
        assert_eq!(parse_linux(""), None);
    }

    #[test]
    fn macos_route_get() {
        let out = "   route to: 198.18.0.1\ndestination: default\n       mask: default\n    gateway: 192.168.1.1\n  interface: en0\n      flags: <UP,GATEWAY,DONE,STATIC,PRCLONING>\n";
        assert_eq!(
            parse_macos(out),
            Some(UnderlayRoute {
                via: Some(Ipv4Addr::new(192, 168, 1, 1)),
                dev: "en0".into()
            })
        );
        let on_link = "   route to: 10.0.0.5\ndestination: 10.0.0.0\n  interface: en1\n";
        assert_eq!(parse_macos(on_link).unwrap().via, None);
        assert_eq!(
            parse_macos("route: writing to routing socket: not in table"),
            None
        );
    }

    #[test]
    fn lookup_commands_per_os() {
        let ip = Ipv4Addr::new(198, 18, 0, 1);
        assert_eq!(
            lookup_command(Os::Linux, ip).to_string(),
            "ip -4 route get 198.18.0.1"
        );
        assert_eq!(
            lookup_command(Os::MacOs, ip).to_string(),
            "route -n get 198.18.0.1"
        );
    }
}
