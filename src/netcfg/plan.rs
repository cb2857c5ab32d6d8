//! Network configuration as data: which commands, with which arguments, bring the TUN up with
//! our address, MTU and routes on each OS, and which commands undo each step.
//!
//! Pure functions of their inputs, so every OS's plan is unit-tested on any OS.

use std::fmt;
use std::net::Ipv4Addr;

use crate::ether::Ipv4Cidr;

/// The operating systems we know how to configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
}

impl Os {
    /// The OS this binary was built for.
    pub fn current() -> Os {
        if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Linux
        }
    }
}

/// One program run with its arguments (no shell involved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub program: &'static str,
    pub args: Vec<String>,
}

impl Command {
    fn new(program: &'static str, args: &[&str]) -> Command {
        Command {
            program,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program)?;
        for arg in &self.args {
            write!(f, " {arg}")?;
        }
        Ok(())
    }
}

/// A change to the system and how to take it back (`None`: it goes away with the interface).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub apply: Command,
    pub undo: Option<Command>,
}

/// What the TUN should look like once the tunnel is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceSettings {
    /// The TUN's interface name.
    pub ifname: String,
    /// Our address on the VPN LAN with its prefix.
    pub address: Ipv4Cidr,
    pub mtu: u16,
    /// The gateway for `routes` (inside `address`'s prefix).
    pub gateway: Option<Ipv4Addr>,
    /// Networks routed into the tunnel.
    pub routes: Vec<Ipv4Cidr>,
    /// Send all IPv4 traffic into the tunnel (`redirect-gateway def1`).
    pub redirect: Option<Redirect>,
}

/// The default route into the tunnel as two /1 routes (`def1`: more specific than any default
/// route, which stays in place untouched), with the VPN server kept on its old path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The server's address and how it was reached before; `None` when it needs no host route
    /// (`redirect-gateway local`: the server is on a directly attached network).
    pub server: Option<(Ipv4Addr, super::underlay::UnderlayRoute)>,
}

/// The two halves of the IPv4 address space that together override the default route.
const DEF1: [&str; 2] = ["0.0.0.0/1", "128.0.0.0/1"];

/// The ordered steps that configure the interface on `os`.
pub fn interface_plan(os: Os, s: &InterfaceSettings) -> Vec<Step> {
    match os {
        Os::Linux => linux_plan(s),
        Os::MacOs => macos_plan(s),
    }
}

/// Linux (iproute2). The address brings the on-link route of its prefix with it; extra routes
/// go via the gateway, which the Ethernet layer resolves with ARP.
fn linux_plan(s: &InterfaceSettings) -> Vec<Step> {
    let dev = s.ifname.as_str();
    let addr = s.address.to_string();
    let mut steps = vec![
        Step {
            apply: Command::new(
                "ip",
                &["link", "set", "dev", dev, "mtu", &s.mtu.to_string()],
            ),
            undo: None,
        },
        // IPv6 is not carried yet: without a link-local address the kernel does not send
        // router/neighbour solicitations that could only be dropped.
        Step {
            apply: Command::new("ip", &["link", "set", "dev", dev, "addrgenmode", "none"]),
            undo: None,
        },
        Step {
            apply: Command::new("ip", &["link", "set", "dev", dev, "up"]),
            undo: None,
        },
        // After `up`, so the address and the route of its prefix appear together: nobody sees
        // the address without its route.
        Step {
            apply: Command::new("ip", &["address", "add", &addr, "dev", dev]),
            undo: Some(Command::new("ip", &["address", "del", &addr, "dev", dev])),
        },
    ];
    for route in &s.routes {
        let net = route.trunc().to_string();
        let mut args = vec!["route", "add", net.as_str()];
        let gw = s.gateway.map(|g| g.to_string());
        if let Some(gw) = gw.as_deref() {
            args.extend(["via", gw]);
        }
        args.extend(["dev", dev]);
        let apply = Command::new("ip", &args);
        let mut undo = apply.clone();
        undo.args[1] = "del".to_owned();
        steps.push(Step {
            apply,
            undo: Some(undo),
        });
    }
    if let Some(redirect) = &s.redirect {
        linux_redirect(s, redirect, &mut steps);
    }
    steps
}

/// Host route to the server on its old path first, then the two /1 routes into the tunnel.
fn linux_redirect(s: &InterfaceSettings, redirect: &Redirect, steps: &mut Vec<Step>) {
    if let Some((server, underlay)) = &redirect.server {
        let host = format!("{server}/32");
        let mut args = vec!["route", "add", host.as_str()];
        let via = underlay.via.map(|v| v.to_string());
        if let Some(via) = via.as_deref() {
            args.extend(["via", via]);
        }
        args.extend(["dev", underlay.dev.as_str()]);
        steps.push(route_step("ip", &args));
    }
    let gw = s.gateway.map(|g| g.to_string());
    for half in DEF1 {
        let mut args = vec!["route", "add", half];
        if let Some(gw) = gw.as_deref() {
            args.extend(["via", gw]);
        }
        args.extend(["dev", s.ifname.as_str()]);
        steps.push(route_step("ip", &args));
    }
}

/// A route step whose undo is the same command with `add` turned into `del`/`delete`.
fn route_step(program: &'static str, args: &[&str]) -> Step {
    let apply = Command::new(program, args);
    let mut undo = apply.clone();
    if let Some(verb) = undo.args.iter_mut().find(|a| *a == "add") {
        *verb = if program == "ip" { "del" } else { "delete" }.to_owned();
    }
    Step {
        apply,
        undo: Some(undo),
    }
}

/// macOS (ifconfig/route). A utun is point-to-point: it gets our address as both ends, and the
/// LAN prefix and every extra route point at the interface; the Ethernet layer picks the next
/// hop (the gateway for off-LAN destinations) itself.
fn macos_plan(s: &InterfaceSettings) -> Vec<Step> {
    let dev = s.ifname.as_str();
    let ip = s.address.addr().to_string();
    let mask = s.address.netmask().to_string();
    let mut steps = vec![Step {
        apply: Command::new(
            "ifconfig",
            &[
                dev,
                "inet",
                &ip,
                &ip,
                "netmask",
                &mask,
                "mtu",
                &s.mtu.to_string(),
                "up",
            ],
        ),
        undo: Some(Command::new("ifconfig", &[dev, "inet", &ip, "-alias"])),
    }];
    let lan = std::iter::once(s.address.trunc());
    for net in lan.chain(s.routes.iter().map(Ipv4Cidr::trunc)) {
        let net = net.to_string();
        steps.push(Step {
            apply: Command::new("route", &["-n", "add", "-net", &net, "-interface", dev]),
            undo: Some(Command::new(
                "route",
                &["-n", "delete", "-net", &net, "-interface", dev],
            )),
        });
    }
    if let Some(redirect) = &s.redirect {
        if let Some((server, underlay)) = &redirect.server {
            let server = server.to_string();
            match underlay.via {
                Some(via) => steps.push(route_step(
                    "route",
                    &["-n", "add", "-host", &server, &via.to_string()],
                )),
                None => steps.push(route_step(
                    "route",
                    &["-n", "add", "-host", &server, "-interface", &underlay.dev],
                )),
            }
        }
        for half in DEF1 {
            steps.push(route_step(
                "route",
                &["-n", "add", "-net", half, "-interface", dev],
            ));
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(routes: &[&str]) -> InterfaceSettings {
        InterfaceSettings {
            ifname: "tc0".into(),
            address: "10.98.0.2/24".parse().unwrap(),
            mtu: 1500,
            gateway: Some(Ipv4Addr::new(10, 98, 0, 1)),
            routes: routes.iter().map(|r| r.parse().unwrap()).collect(),
            redirect: None,
        }
    }

    fn redirected(via: Option<Ipv4Addr>) -> Redirect {
        Redirect {
            server: Some((
                Ipv4Addr::new(198, 18, 0, 1),
                super::super::underlay::UnderlayRoute {
                    via,
                    dev: "eth0".into(),
                },
            )),
        }
    }

    #[test]
    fn linux_redirect_keeps_the_server_on_its_old_path_before_the_def1_routes() {
        let mut s = settings(&[]);
        s.redirect = Some(redirected(Some(Ipv4Addr::new(192, 0, 2, 1))));
        let got = lines(&interface_plan(Os::Linux, &s));
        let tail: Vec<_> = got[got.len() - 3..].to_vec();
        let expected = [
            (
                "ip route add 198.18.0.1/32 via 192.0.2.1 dev eth0",
                "ip route del 198.18.0.1/32 via 192.0.2.1 dev eth0",
            ),
            (
                "ip route add 0.0.0.0/1 via 10.98.0.1 dev tc0",
                "ip route del 0.0.0.0/1 via 10.98.0.1 dev tc0",
            ),
            (
                "ip route add 128.0.0.0/1 via 10.98.0.1 dev tc0",
                "ip route del 128.0.0.0/1 via 10.98.0.1 dev tc0",
            ),
        ];
        let expected: Vec<_> = expected
            .iter()
            .map(|(a, u)| (a.to_string(), Some(u.to_string())))
            .collect();
        assert_eq!(tail, expected);
        // On-link server: no via; `local`: no host route at all.
        s.redirect = Some(redirected(None));
        let got = lines(&interface_plan(Os::Linux, &s));
        assert!(
            got.iter()
                .any(|(a, _)| a == "ip route add 198.18.0.1/32 dev eth0"),
            "{got:?}"
        );
        s.redirect = Some(Redirect { server: None });
        let got = lines(&interface_plan(Os::Linux, &s));
        assert!(!got.iter().any(|(a, _)| a.contains("/32")), "{got:?}");
        assert_eq!(got.iter().filter(|(a, _)| a.contains("/1 ")).count(), 2);
    }

    #[test]
    fn macos_redirect_host_route_then_def1_to_the_interface() {
        let mut s = settings(&[]);
        s.ifname = "utun7".into();
        s.redirect = Some(redirected(Some(Ipv4Addr::new(192, 168, 1, 1))));
        let got = lines(&interface_plan(Os::MacOs, &s));
        let tail: Vec<_> = got[got.len() - 3..]
            .iter()
            .map(|(a, u)| (a.as_str(), u.as_deref()))
            .collect();
        assert_eq!(
            tail,
            [
                (
                    "route -n add -host 198.18.0.1 192.168.1.1",
                    Some("route -n delete -host 198.18.0.1 192.168.1.1")
                ),
                (
                    "route -n add -net 0.0.0.0/1 -interface utun7",
                    Some("route -n delete -net 0.0.0.0/1 -interface utun7")
                ),
                (
                    "route -n add -net 128.0.0.0/1 -interface utun7",
                    Some("route -n delete -net 128.0.0.0/1 -interface utun7")
                ),
            ]
        );
    }

    fn lines(steps: &[Step]) -> Vec<(String, Option<String>)> {
        steps
            .iter()
            .map(|s| {
                (
                    s.apply.to_string(),
                    s.undo.as_ref().map(ToString::to_string),
                )
            })
            .collect()
    }

    #[test]
    fn linux_plan_sets_mtu_address_up_then_routes_via_gateway() {
        let plan = interface_plan(Os::Linux, &settings(&["10.20.0.0/16", "192.0.2.7/32"]));
        let expected = [
            ("ip link set dev tc0 mtu 1500", None),
            ("ip link set dev tc0 addrgenmode none", None),
            ("ip link set dev tc0 up", None),
            (
                "ip address add 10.98.0.2/24 dev tc0",
                Some("ip address del 10.98.0.2/24 dev tc0"),
            ),
            (
                "ip route add 10.20.0.0/16 via 10.98.0.1 dev tc0",
                Some("ip route del 10.20.0.0/16 via 10.98.0.1 dev tc0"),
            ),
            (
                "ip route add 192.0.2.7/32 via 10.98.0.1 dev tc0",
                Some("ip route del 192.0.2.7/32 via 10.98.0.1 dev tc0"),
            ),
        ];
        let expected: Vec<_> = expected
            .iter()
            .map(|(a, u)| (a.to_string(), u.map(str::to_owned)))
            .collect();
        assert_eq!(lines(&plan), expected);
    }

    #[test]
    fn linux_plan_without_routes_has_no_route_steps() {
        let mut s = settings(&[]);
        s.gateway = None;
        let plan = interface_plan(Os::Linux, &s);
        assert_eq!(plan.len(), 4);
        assert!(plan
            .iter()
            .all(|s| !s.apply.args.contains(&"route".to_owned())));
    }

    #[test]
    fn macos_plan_addresses_utun_point_to_point_and_routes_to_interface() {
        let mut s = settings(&["10.20.0.0/16"]);
        s.ifname = "utun7".into();
        let plan = interface_plan(Os::MacOs, &s);
        let got = lines(&plan);
        assert_eq!(
            got[0],
            (
                "ifconfig utun7 inet 10.98.0.2 10.98.0.2 netmask 255.255.255.0 mtu 1500 up".into(),
                Some("ifconfig utun7 inet 10.98.0.2 -alias".into())
            )
        );
        assert_eq!(
            got[1],
            (
                "route -n add -net 10.98.0.0/24 -interface utun7".into(),
                Some("route -n delete -net 10.98.0.0/24 -interface utun7".into())
            )
        );
        assert_eq!(
            got[2],
            (
                "route -n add -net 10.20.0.0/16 -interface utun7".into(),
                Some("route -n delete -net 10.20.0.0/16 -interface utun7".into())
            )
        );
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn routes_are_normalised_to_their_network() {
        let plan = interface_plan(Os::Linux, &settings(&["10.20.3.4/16"]));
        assert_eq!(
            plan[4].apply.to_string(),
            "ip route add 10.20.0.0/16 via 10.98.0.1 dev tc0"
        );
    }
}
