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

pub(super) fn resolve_ethernet(
    raw: Option<Spanned<RawEthernet>>,
    remote: &Remote,
    ip: &IpConfig,
    cx: &Context<'_>,
) -> Result<EthernetConfig, ConfigError> {
    let Some(mac) = raw.and_then(|raw| raw.into_inner().mac) else {
        return Ok(EthernetConfig {
            mac: MacAddr::stable_local(mac_seed(remote, ip.address).as_bytes()),
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
            "broadcast"
        } else if parsed.is_multicast() {
            "group (multicast)"
        } else {
            "all-zero"
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
/// `198.18.0.1:55555|10.98.0.2`. Changing it changes every user's MAC: don't.
pub(super) fn mac_seed(remote: &Remote, address: Ipv4Cidr) -> String {
    format!("{}:{}|{}", remote.host, remote.port, address.addr())
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
            let span = item.span();
            let route = parse_cidr(item, "ip.routes", cx)?;
            if route != route.trunc() {
                let problem = Problem::HostBitsSet {
                    route,
                    suggestion: route.trunc(),
                };
                return Err(cx.invalid(span, "ip.routes", problem));
            }
            routes.push(route);
        }
    }
    Ok(IpConfig {
        address,
        gateway,
        routes,
    })
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
