//! The VPN LAN as we join it: our MAC, our address with its prefix, the gateway, the routes.
//!
//! Part of phase two (see `resolve`): checks that the numbers make sense together (the gateway
//! lies inside our prefix, routes are networks), and derives a stable MAC when none is set.

use std::net::Ipv4Addr;

use toml::Spanned;

use super::error::{ConfigError, Problem};
use super::raw::{RawEthernet, RawIp};
use super::resolve::Context;
use super::types::{EthernetConfig, IpConfig, Remote};
use crate::ether::{Ipv4Cidr, MacAddr};

/// `[ethernet]`; `address` is our configured address (`None` when the server pushes it).
pub(super) fn resolve_ethernet(
    raw: Option<Spanned<RawEthernet>>,
    remote: &Remote,
    address: Option<Ipv4Cidr>,
    cx: &Context<'_>,
) -> Result<EthernetConfig, ConfigError> {
    let Some(mac) = raw.and_then(|raw| raw.into_inner().mac) else {
        return Ok(EthernetConfig {
            mac: MacAddr::stable_local(mac_seed(remote, address).as_bytes()),
            mac_derived: true,
        });
    };
    let span = mac.span();
    let parsed: MacAddr = mac.get_ref().parse().map_err(|source| {
        let value = mac.get_ref().clone();
        cx.invalid(
            span.clone(),
            "ethernet.mac",
            Problem::BadAddress { value, source },
        )
    })?;
    if !parsed.is_unicast() {
        let why = if parsed.is_broadcast() {
            "the broadcast"
        } else if parsed.is_multicast() {
            "a group (multicast)"
        } else {
            "an all-zero"
        };
        let problem = Problem::NotUnicast { mac: parsed, why };
        return Err(cx.invalid(span, "ethernet.mac", problem));
    }
    Ok(EthernetConfig {
        mac: parsed,
        mac_derived: false,
    })
}

/// The seed of the derived MAC: `<remote host>:<port>|<our IPv4 address>`, e.g.
/// `198.18.0.1:55555|10.98.0.2`; with a pushed address (OpenVPN), `<host>:<port>|openvpn`.
/// Changing it changes every user's MAC: don't.
pub(super) fn mac_seed(remote: &Remote, address: Option<Ipv4Cidr>) -> String {
    match address {
        Some(address) => format!("{}:{}|{}", remote.host, remote.port, address.addr()),
        None => format!("{}:{}|openvpn", remote.host, remote.port),
    }
}

pub(super) fn resolve_ip(raw: Spanned<RawIp>, cx: &Context<'_>) -> Result<IpConfig, ConfigError> {
    let span = raw.span();
    let raw = raw.into_inner();
    let address = cx.required(
        raw.address,
        &span,
        "ip.address",
        "address = \"10.98.0.2/24\"",
    )?;
    let address_span = address.span();
    let address = parse_cidr(address, "ip.address", cx)?;
    check_host_address(address).map_err(|why| {
        cx.invalid(
            address_span,
            "ip.address",
            Problem::BadHostAddress { address, why },
        )
    })?;
    let gateway = match raw.gateway {
        Some(gateway) => Some(resolve_gateway(gateway, address, cx)?),
        None => None,
    };
    let mut routes = Vec::new();
    if let Some(list) = raw.routes {
        if gateway.is_none() && !list.get_ref().is_empty() {
            let problem = Problem::RoutesNeedGateway { address };
            return Err(cx.invalid(list.span(), "ip.routes", problem));
        }
        for item in list.into_inner() {
            routes.push(parse_route(item, "ip.routes", cx)?);
        }
    }
    Ok(IpConfig {
        address,
        gateway,
        routes,
    })
}

/// A network to route, `10.20.0.0/16`: host bits must be clear.
pub(super) fn parse_route(
    value: Spanned<String>,
    key: &str,
    cx: &Context<'_>,
) -> Result<Ipv4Cidr, ConfigError> {
    let span = value.span();
    let route = parse_cidr(value, key, cx)?;
    if route != route.trunc() {
        let problem = Problem::HostBitsSet {
            route,
            suggestion: route.trunc(),
        };
        return Err(cx.invalid(span, key, problem));
    }
    Ok(route)
}

fn parse_cidr(
    value: Spanned<String>,
    key: &str,
    cx: &Context<'_>,
) -> Result<Ipv4Cidr, ConfigError> {
    value.get_ref().parse::<Ipv4Cidr>().map_err(|source| {
        let value_text = value.get_ref().clone();
        let problem = Problem::BadAddress {
            value: value_text,
            source,
        };
        cx.invalid(value.span(), key, problem)
    })
}

/// Our own address must be a usable unicast host address of its network.
fn check_host_address(address: Ipv4Cidr) -> Result<(), &'static str> {
    let ip = address.addr();
    if address.prefix_len() == 0 {
        return Err("a /0 prefix would make the whole Internet the VPN LAN; use the LAN's prefix");
    }
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() || ip.is_broadcast() {
        return Err("it is not a unicast host address");
    }
    if address.prefix_len() <= 30 && ip == address.network() {
        return Err("it is the network address of its prefix (host bits all zero)");
    }
    if address.prefix_len() <= 30 && ip == address.broadcast() {
        return Err("it is the broadcast address of its prefix (host bits all one)");
    }
    Ok(())
}

fn resolve_gateway(
    value: Spanned<String>,
    address: Ipv4Cidr,
    cx: &Context<'_>,
) -> Result<Ipv4Addr, ConfigError> {
    let span = value.span();
    let gateway: Ipv4Addr = value.get_ref().parse().map_err(|_| {
        let problem = Problem::BadIp {
            value: value.get_ref().clone(),
        };
        cx.invalid(span.clone(), "ip.gateway", problem)
    })?;
    if !address.contains(gateway) {
        let problem = Problem::GatewayOutside { gateway, address };
        return Err(cx.invalid(span, "ip.gateway", problem));
    }
    let why = if gateway == address.addr() {
        Some("our own address")
    } else if address.prefix_len() <= 30 && gateway == address.network() {
        Some("the network address")
    } else if address.prefix_len() <= 30 && gateway == address.broadcast() {
        Some("the broadcast address")
    } else {
        None
    };
    match why {
        Some(why) => {
            let problem = Problem::GatewayNotHost {
                gateway,
                address,
                why,
            };
            Err(cx.invalid(span, "ip.gateway", problem))
        }
        None => Ok(gateway),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::test_support::{message, MINIMAL};

    /// A valid [server] (lines 1-3) followed by `ip` as the [ip] section (from line 5).
    fn with_ip(ip: &str) -> String {
        format!("[server]\nprotocol = \"simpletun\"\nremote = \"198.18.0.1\"\n\n[ip]\n{ip}\n")
    }

    fn parse_ok(text: &str) -> crate::config::Config {
        crate::config::parse(text, Path::new("office.toml")).unwrap()
    }

    #[test]
    fn derived_mac_is_seeded_by_remote_and_address() {
        let remote = Remote {
            host: "198.18.0.1".into(),
            port: 55555,
        };
        let address: Ipv4Cidr = "10.98.0.2/24".parse().unwrap();
        assert_eq!(
            mac_seed(&remote, Some(address)),
            "198.18.0.1:55555|10.98.0.2"
        );
        assert_eq!(mac_seed(&remote, None), "198.18.0.1:55555|openvpn");
        let a = parse_ok(&with_ip("address = \"10.98.0.2/24\""));
        let b = parse_ok(&with_ip("address = \"10.98.0.3/24\""));
        assert!(a.ethernet.mac_derived && a.ethernet.mac.is_unicast());
        assert_ne!(a.ethernet.mac, b.ethernet.mac);
        let again = parse_ok(&with_ip("address = \"10.98.0.2/16\""));
        assert_eq!(
            a.ethernet.mac, again.ethernet.mac,
            "the prefix length is not in the seed"
        );
    }

    #[test]
    fn configured_mac_must_be_unicast() {
        let cases = [
            (
                "01:00:5e:00:00:01",
                "01:00:5e:00:00:01 is a group (multicast) address",
            ),
            (
                "ff:ff:ff:ff:ff:ff",
                "ff:ff:ff:ff:ff:ff is the broadcast address",
            ),
            (
                "00:00:00:00:00:00",
                "00:00:00:00:00:00 is an all-zero address",
            ),
        ];
        for (mac, start) in cases {
            let text = format!("{MINIMAL}\n[ethernet]\nmac = \"{mac}\"\n");
            assert_eq!(
                message(&text),
                format!(
                    "office.toml:9: ethernet.mac: {start}; use a unicast one such as \
                     02:00:5e:10:00:01"
                )
            );
        }
        let text = format!("{MINIMAL}[ethernet]\nmac = \"02:00:5e:10:00\"\n");
        assert_eq!(
            message(&text),
            "office.toml:8: ethernet.mac: \"02:00:5e:10:00\": expected a MAC address like \
             02:00:5e:10:00:01"
        );
    }

    #[test]
    fn address_needs_a_prefix_and_must_be_a_host() {
        assert_eq!(
            message(&with_ip("address = \"10.98.0.2\"")),
            "office.toml:6: ip.address: \"10.98.0.2\": expected an IPv4 address with a prefix \
             length, like 10.98.0.2/24"
        );
        let cases = [
            ("10.98.0.0/24", "it is the network address of its prefix"),
            (
                "10.98.0.255/24",
                "it is the broadcast address of its prefix",
            ),
            ("10.98.0.2/0", "a /0 prefix"),
            ("127.0.0.1/8", "it is not a unicast host address"),
            ("224.0.0.1/24", "it is not a unicast host address"),
        ];
        for (address, why) in cases {
            let msg = message(&with_ip(&format!("address = \"{address}\"")));
            let start =
                format!("office.toml:6: ip.address: {address} cannot be our address: {why}");
            assert!(msg.starts_with(&start), "{msg}");
        }
        assert!(
            crate::config::parse(&with_ip("address = \"10.98.0.0/31\""), Path::new("a")).is_ok()
        );
        let text =
            "[server]\nprotocol = \"simpletun\"\nremote = \"vpn\"\n[ip]\ngateway = \"10.0.0.1\"\n";
        assert!(message(text).starts_with("office.toml:4: ip.address: this key is required"));
    }

    #[test]
    fn gateway_must_be_another_host_inside_our_prefix() {
        let text = "# office VPN\n\n[server]\nprotocol = \"simpletun\"\nremote = \"vpn\"\n\n\
                    [tun]\nmtu = 1500\n\n[ip]\n# our address\naddress = \"10.98.0.2/24\"\n\n\
                    gateway = \"10.99.0.1\"\n";
        assert_eq!(
            message(text),
            "office.toml:14: ip.gateway: 10.99.0.1 is not inside 10.98.0.2/24"
        );
        let cases = [
            ("10.98.0.2", "our own address"),
            ("10.98.0.0", "the network address"),
            ("10.98.0.255", "the broadcast address"),
        ];
        for (gateway, why) in cases {
            let text = with_ip(&format!(
                "address = \"10.98.0.2/24\"\ngateway = \"{gateway}\""
            ));
            assert_eq!(
                message(&text),
                format!(
                    "office.toml:7: ip.gateway: {gateway} is {why} of 10.98.0.2/24; use another \
                     host of that network"
                )
            );
        }
        let text = with_ip("address = \"10.98.0.2/24\"\ngateway = \"10.98.0\"");
        assert_eq!(
            message(&text),
            "office.toml:7: ip.gateway: \"10.98.0\" is not an IPv4 address like 10.98.0.1"
        );
    }

    #[test]
    fn routes_need_a_gateway_and_clear_host_bits() {
        let text = with_ip("address = \"10.98.0.2/24\"\nroutes = [\"10.20.0.0/16\"]");
        assert_eq!(
            message(&text),
            "office.toml:7: ip.routes: routes need a next hop; add ip.gateway (an address inside \
             10.98.0.2/24)"
        );
        let text = with_ip(
            "address = \"10.98.0.2/24\"\ngateway = \"10.98.0.1\"\nroutes = [\n  \"10.30.0.0/16\",\n  \
             \"10.20.1.0/16\",\n]",
        );
        assert_eq!(
            message(&text),
            "office.toml:10: ip.routes: 10.20.1.0/16 has host bits set; did you mean 10.20.0.0/16?"
        );
        let text =
            with_ip("address = \"10.98.0.2/24\"\ngateway = \"10.98.0.1\"\nroutes = [\"10.20/16\"]");
        assert!(message(&text).starts_with("office.toml:8: ip.routes: \"10.20/16\": expected"));
        let empty = parse_ok(&with_ip("address = \"10.98.0.2/24\"\nroutes = []"));
        assert!(empty.ip.unwrap().routes.is_empty());
    }
}
