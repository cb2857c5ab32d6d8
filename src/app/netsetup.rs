//! Our address, MTU and routes on the TUN: from the config (simpletun) or from the server's push
//! (OpenVPN), applied through the netcfg undo journal.

use crate::driver::Configure;
use crate::ether::{BridgeConfig, MacAddr};
use std::net::{IpAddr, Ipv4Addr};

use crate::ether::Ipv4Cidr;
use crate::netcfg::{
    self, underlay, InterfaceSettings, Journal, NetcfgError, Os, Redirect, UnderlayRoute,
};
use crate::openvpn::push::{PushedConfig, RedirectGateway, Route, RouteGateway, RouteVia};

/// The user's say over pushed routes (OpenVPN's client-side `route-nopull`, `route`,
/// `redirect-gateway`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutePolicy {
    /// Ignore the pushed routes and redirect-gateway (the address is still taken).
    pub nopull: bool,
    /// Networks routed into the tunnel via the pushed route-gateway, besides the pushed ones.
    pub routes: Vec<Ipv4Cidr>,
    /// Redirect the IPv4 default route (def1) whatever the server pushes.
    pub redirect_gateway: bool,
}

impl RoutePolicy {
    /// `pushed` as this policy amends it.
    pub fn amend(&self, pushed: &PushedConfig) -> PushedConfig {
        let mut amended = pushed.clone();
        if self.nopull {
            if !amended.routes.is_empty() || amended.redirect_gateway.is_some() {
                tracing::info!("route_nopull: ignoring the server's routes and redirect-gateway");
            }
            amended.routes.clear();
            amended.redirect_gateway = None;
        }
        for &network in &self.routes {
            if !amended.routes.iter().any(|r| r.network.trunc() == network) {
                amended.routes.push(Route {
                    network,
                    gateway: None,
                    metric: None,
                });
            }
        }
        if self.redirect_gateway && !matches!(&amended.redirect_gateway, Some(r) if !r.no_ipv4) {
            amended.redirect_gateway = Some(RedirectGateway {
                def1: true,
                ..RedirectGateway::default()
            });
        }
        amended
    }
}

/// The interface as configured so far, and the journal that can take it back.
pub struct NetSetup {
    journal: Journal,
    ifname: String,
    /// The MTU the user configured: the most we use, whatever the server pushes.
    mtu: u16,
    mac: MacAddr,
    policy: RoutePolicy,
    applied: Option<InterfaceSettings>,
}

impl NetSetup {
    pub fn new(ifname: String, mtu: u16, mac: MacAddr, policy: RoutePolicy) -> NetSetup {
        NetSetup {
            journal: Journal::new(),
            ifname,
            mtu,
            mac,
            policy,
            applied: None,
        }
    }

    /// Brings the interface to `settings`; nothing happens if it is there already, and a
    /// different earlier configuration is undone first.
    pub fn apply(&mut self, settings: InterfaceSettings) -> Result<(), NetcfgError> {
        if self.applied.as_ref() == Some(&settings) {
            return Ok(());
        }
        self.journal.undo_all();
        self.applied = None;
        self.journal
            .apply(&netcfg::interface_plan(Os::current(), &settings))?;
        tracing::info!(
            tun = %settings.ifname,
            address = %settings.address,
            mtu = settings.mtu,
            mac = %self.mac,
            routes = ?settings.routes,
            "interface configured"
        );
        self.applied = Some(settings);
        Ok(())
    }

    /// Takes back every change (also done when dropped).
    pub fn undo(&mut self) {
        self.journal.undo_all();
        self.applied = None;
    }

    /// The Ethernet settings matching what was applied.
    pub fn bridge_config(&self) -> Option<BridgeConfig> {
        self.applied.as_ref().map(|s| BridgeConfig {
            mac: self.mac,
            address: s.address,
            gateway: s.gateway,
            routes: s.routes.clone(),
        })
    }
}

impl Configure for NetSetup {
    fn pushed(
        &mut self,
        pushed: &PushedConfig,
        server: Option<IpAddr>,
    ) -> Result<BridgeConfig, String> {
        let amended = self.policy.amend(pushed);
        let pushed = &amended;
        let underlay = match (server, redirects_ipv4(pushed)) {
            (Some(IpAddr::V4(server)), true) => {
                let route = underlay::lookup(server)
                    .map_err(|e| format!("cannot find the route to the server {server}: {e}"))?;
                Some((server, route))
            }
            _ => None,
        };
        let settings = from_push(&self.ifname, self.mtu, pushed, underlay)?;
        if !pushed.dhcp_options.is_empty() || !pushed.dns.is_empty() {
            tracing::info!(
                dhcp_options = ?pushed.dhcp_options,
                dns = ?pushed.dns,
                "the server pushed DNS settings; tapclient does not apply DNS yet"
            );
        }
        self.apply(settings)
            .map_err(|e| format!("cannot apply the server's configuration: {e}"))?;
        self.bridge_config()
            .ok_or_else(|| "no interface configuration".to_owned())
    }
}

/// Whether the push redirects the IPv4 default route into the tunnel.
fn redirects_ipv4(pushed: &PushedConfig) -> bool {
    pushed.redirect_gateway.as_ref().is_some_and(|r| !r.no_ipv4)
}

/// The interface settings a push asks for (TAP mode: `ifconfig ADDRESS NETMASK`). `server` is
/// the VPN server with its path outside the tunnel, for `redirect-gateway`.
pub fn from_push(
    ifname: &str,
    max_mtu: u16,
    pushed: &PushedConfig,
    server: Option<(Ipv4Addr, UnderlayRoute)>,
) -> Result<InterfaceSettings, String> {
    let address = pushed.ifconfig.ok_or(
        "the server pushed no address (ifconfig); servers that expect DHCP over the tunnel \
         are not supported yet",
    )?;
    let gateway = match pushed.route_gateway {
        Some(RouteGateway::Addr(ip)) => Some(ip),
        Some(RouteGateway::Dhcp) => {
            tracing::warn!("the server wants the route gateway learned by DHCP, which is not supported yet; pushed routes are not installed");
            None
        }
        None => None,
    };
    let mut routes = Vec::new();
    for route in &pushed.routes {
        match (route.gateway, gateway) {
            (None | Some(RouteVia::VpnGateway), Some(_)) => routes.push(route.network.trunc()),
            (Some(RouteVia::Addr(ip)), Some(gw)) if ip == gw => routes.push(route.network.trunc()),
            (via, _) => tracing::warn!(
                route = %route.network,
                ?via,
                "not installing a pushed route whose gateway is not the pushed route-gateway"
            ),
        }
    }
    let redirect = match &pushed.redirect_gateway {
        Some(r) if redirects_ipv4(pushed) => {
            if gateway.is_none() {
                return Err("the server pushed redirect-gateway without a route-gateway".into());
            }
            if !r.def1 {
                tracing::info!("redirect-gateway without def1: using the def1 method anyway (two /1 routes; the default route stays untouched)");
            }
            Some(Redirect {
                server: if r.local { None } else { server },
            })
        }
        _ => None,
    };
    Ok(InterfaceSettings {
        ifname: ifname.to_owned(),
        address,
        mtu: pushed.tun_mtu.map_or(max_mtu, |m| m.min(max_mtu)),
        gateway,
        routes,
        redirect,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_policy_amends_the_push() {
        let pushed = push(&[
            "route 10.77.0.0 255.255.255.0",
            "redirect-gateway def1",
            "route-gateway 10.99.0.1",
            "ifconfig 10.99.0.2 255.255.255.0",
        ]);
        let nopull = RoutePolicy {
            nopull: true,
            routes: vec!["10.5.0.0/16".parse().unwrap()],
            redirect_gateway: false,
        };
        let s = from_push("tc0", 1500, &nopull.amend(&pushed), None).unwrap();
        let routes: Vec<String> = s.routes.iter().map(ToString::to_string).collect();
        assert_eq!(routes, ["10.5.0.0/16"]);
        assert_eq!(s.redirect, None);
        assert_eq!(
            s.address.to_string(),
            "10.99.0.2/24",
            "the address is still taken"
        );
        let redirect = RoutePolicy {
            redirect_gateway: true,
            ..RoutePolicy::default()
        };
        let plain = push(&[
            "route-gateway 10.99.0.1",
            "ifconfig 10.99.0.2 255.255.255.0",
        ]);
        let s = from_push("tc0", 1500, &redirect.amend(&plain), None).unwrap();
        assert_eq!(s.redirect, Some(Redirect { server: None }));
        assert_eq!(RoutePolicy::default().amend(&pushed), pushed);
    }

    fn push(options: &[&str]) -> PushedConfig {
        PushedConfig::from_options(options).unwrap()
    }

    #[test]
    fn a_stock_tap_push_gives_the_address_netmask_and_gateway() {
        // §7.1: what a stock `server 10.99.0.0 255.255.255.0` TAP server pushes.
        let pushed = push(&[
            "route-gateway 10.99.0.1",
            "ping 10",
            "ping-restart 60",
            "ifconfig 10.99.0.2 255.255.255.0",
            "peer-id 0",
            "cipher AES-256-GCM",
            "protocol-flags cc-exit tls-ekm dyn-tls-crypt",
            "tun-mtu 1500",
        ]);
        let s = from_push("tc0", 1500, &pushed, None).unwrap();
        assert_eq!(s.address.to_string(), "10.99.0.2/24");
        assert_eq!(s.gateway, Some("10.99.0.1".parse().unwrap()));
        assert_eq!(s.mtu, 1500);
        assert!(s.routes.is_empty());
    }

    #[test]
    fn pushed_routes_go_via_the_route_gateway_and_the_mtu_never_grows() {
        let pushed = push(&[
            "route 10.77.0.0 255.255.255.0",
            "route 10.78.1.0 255.255.0.0 vpn_gateway",
            "route 192.0.2.0 255.255.255.0 net_gateway",
            "route-gateway 10.99.0.1",
            "ifconfig 10.99.0.2 255.255.255.0",
            "tun-mtu 1500",
        ]);
        let s = from_push("tc0", 1400, &pushed, None).unwrap();
        let routes: Vec<String> = s.routes.iter().map(ToString::to_string).collect();
        assert_eq!(routes, ["10.77.0.0/24", "10.78.0.0/16"]);
        assert_eq!(s.mtu, 1400, "never above the configured MTU");
    }

    #[test]
    fn a_push_without_an_address_is_refused_with_a_reason() {
        let err = from_push("tc0", 1500, &push(&["route-gateway dhcp"]), None).unwrap_err();
        assert!(err.contains("no address"), "{err}");
    }

    #[test]
    fn redirect_gateway_def1_keeps_the_server_outside_unless_local() {
        let server = (
            Ipv4Addr::new(198, 18, 0, 1),
            UnderlayRoute {
                via: Some(Ipv4Addr::new(192, 0, 2, 1)),
                dev: "eth0".into(),
            },
        );
        let base = [
            "route-gateway 10.99.0.1",
            "ifconfig 10.99.0.2 255.255.255.0",
        ];
        let with = |extra: &str| {
            let mut o = base.to_vec();
            o.push(extra);
            from_push("tc0", 1500, &push(&o), Some(server.clone())).unwrap()
        };
        assert_eq!(
            with("redirect-gateway def1").redirect,
            Some(Redirect {
                server: Some(server.clone())
            })
        );
        assert_eq!(
            with("redirect-gateway local def1").redirect,
            Some(Redirect { server: None })
        );
        assert_eq!(with("redirect-gateway !ipv4 ipv6").redirect, None);
        assert_eq!(with("ping 10").redirect, None);
        let no_gw = push(&["ifconfig 10.99.0.2 255.255.255.0", "redirect-gateway def1"]);
        assert!(from_push("tc0", 1500, &no_gw, Some(server)).is_err());
    }
}
