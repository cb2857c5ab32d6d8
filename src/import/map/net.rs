//! The connection and network directives: remotes (`remote`, `proto`, `port`, `rport`,
//! `<connection>`), timers (`connect-timeout`, `connect-retry`, `ping`, `keepalive`,
//! `hand-window`), the device (`dev`, `dev-type`, `tun-mtu`, `lladdr`) and routing (`route`,
//! `route-nopull`, `redirect-gateway`).

use std::net::Ipv4Addr;

use super::{number, rejected, replace, Plan, Remote, RemoteSpec};
use crate::import::parse::Directive;
use crate::import::report::Outcome;

/// OpenVPN's port when neither `remote`, `port` nor `rport` gives one.
const DEFAULT_PORT: u16 = 1194;
/// OpenVPN's `connect-retry` ceiling when the second parameter is absent (seconds).
const OPENVPN_RETRY_MAX: u32 = 300;
/// tapclient's longest durations (seconds): one day, and an hour for `hand_window`.
pub(super) const MAX_SECONDS: u32 = 86_400;
const MAX_HAND_WINDOW: u32 = 3_600;
/// tapclient's OpenVPN TUN MTU range.
const MTU_RANGE: (u16, u16) = (576, 1500);

impl Plan {
    /// The outcome of a connection or network directive, `None` for any other.
    pub(super) fn net(
        &mut self,
        d: &Directive,
        index: usize,
        block: Option<usize>,
    ) -> Option<Outcome> {
        let outcome = match d.name.as_str() {
            "remote" => self.remote(d, index, block),
            "proto" | "port" | "rport" => self.proto_port(d, index),
            "remote-random" => {
                Outcome::Unsupported("tapclient tries the remotes in the order written".into())
            }
            "connect-timeout" | "server-poll-timeout" => {
                self.seconds(d, index, Field::ConnectTimeout)
            }
            "hand-window" => self.seconds(d, index, Field::HandWindow),
            "connect-retry" => self.connect_retry(d, index),
            "connect-retry-max" => match (number(d.arg(0)), d.args.len()) {
                (Some(n), 1) => {
                    replace(
                        &mut self.first_connect_attempts,
                        n,
                        index,
                        &mut self.entries,
                    );
                    Outcome::Mapped(
                        "reconnect.first_connect_attempts (tapclient counts attempts over all \
                         remotes; 0 = forever)"
                            .into(),
                    )
                }
                _ => rejected("`connect-retry-max` takes one number"),
            },
            "ping" => self.ping(d, index, false),
            "ping-restart" => self.ping(d, index, true),
            "keepalive" => self.keepalive(d, index),
            "dev" | "dev-type" => self.device(d, index),
            "tun-mtu" => self.tun_mtu(d, index),
            "lladdr" => self.lladdr(d, index),
            "route" => self.route(d),
            "route-nopull" => {
                replace(&mut self.route_nopull, true, index, &mut self.entries);
                Outcome::Mapped("openvpn.route_nopull".into())
            }
            "redirect-gateway" => self.redirect_gateway(d, index),
            "cd" => self.cd(d),
            _ => return None,
        };
        Some(outcome)
    }

    /// `proto P`, `port N`, `rport N`: defaults for the remotes without their own.
    fn proto_port(&mut self, d: &Directive, index: usize) -> Outcome {
        let [value] = d.args.as_slice() else {
            return rejected("it takes one parameter");
        };
        if d.name == "proto" {
            replace(&mut self.proto, value.clone(), index, &mut self.entries);
            Outcome::Mapped("server.remote (protocol)".into())
        } else {
            replace(&mut self.port, value.clone(), index, &mut self.entries);
            Outcome::Mapped("server.remote (port)".into())
        }
    }

    /// `cd DIR`: later relative file names are taken from DIR.
    fn cd(&mut self, d: &Directive) -> Outcome {
        let [dir] = d.args.as_slice() else {
            return rejected("`cd` takes one folder");
        };
        self.base = self.base.join(dir);
        Outcome::Ignored(format!(
            "files named after it are taken from {}",
            self.base.display()
        ))
    }

    fn remote(&mut self, d: &Directive, index: usize, block: Option<usize>) -> Outcome {
        if d.args.is_empty() || d.args.len() > 3 {
            return rejected("`remote` takes a host, then optionally a port and a protocol");
        }
        if block.is_none() && self.has_connection_blocks {
            return Outcome::Ignored(
                "OpenVPN ignores `remote` lines once the profile has <connection> blocks".into(),
            );
        }
        self.remote_specs.push(RemoteSpec {
            host: d.args[0].clone(),
            port: d.args.get(1).cloned(),
            proto: d.args.get(2).cloned(),
            block_defaults: None,
            entry: index,
        });
        Outcome::Mapped("server.remote".into())
    }

    /// Resolves every remote's port and protocol; TCP ones are kept, in order.
    pub(super) fn finish_remotes(&mut self) {
        let global_proto = self.proto.as_ref().map(|s| s.value.clone());
        let global_port = self.port.as_ref().map(|s| s.value.clone());
        let mut global_proto_used = false;
        for spec in std::mem::take(&mut self.remote_specs) {
            global_proto_used |= spec.proto.is_none() && spec.block_defaults.is_none();
            let (default_proto, default_port) = match spec.block_defaults {
                Some(defaults) => defaults,
                None => (global_proto.clone(), global_port.clone()),
            };
            let proto = spec.proto.or(default_proto).unwrap_or_else(|| "udp".into());
            let port = spec.port.or(default_port);
            let outcome = match resolve_remote(&spec.host, port.as_deref(), &proto) {
                Ok((remote, _)) if self.remotes.contains(&remote) => Outcome::Ignored(format!(
                    "{} is already in the list",
                    remote.to_config_string()
                )),
                Ok((remote, note)) => {
                    let text = format!("server.remote = \"{}\"{note}", remote.to_config_string());
                    self.remotes.push(remote);
                    Outcome::Mapped(text)
                }
                Err(why) => Outcome::Unsupported(format!("skipped: {why}")),
            };
            self.entries[spec.entry].outcome = outcome;
        }
        if let Some(slot) = &self.proto {
            if !global_proto_used {
                self.entries[slot.entry].outcome =
                    Outcome::Ignored("every remote names its own protocol".into());
            } else if is_udp(&slot.value) {
                self.entries[slot.entry].outcome = Outcome::Unsupported(
                    "UDP is not supported yet (tapclient speaks OpenVPN over TCP); the remotes \
                     using it are skipped"
                        .into(),
                );
            }
        }
        if self.remotes.is_empty() {
            self.problems.push(
                "no usable remote: tapclient needs at least one `remote` over TCP (`proto \
                 tcp-client`, or `remote HOST PORT tcp`); UDP is not supported yet"
                    .into(),
            );
        }
    }

    fn seconds(&mut self, d: &Directive, index: usize, field: Field) -> Outcome {
        let (Some(n), 1) = (number(d.arg(0)), d.args.len()) else {
            return rejected("it takes one number of seconds");
        };
        if n == 0 {
            return Outcome::Ignored("0 seconds: tapclient keeps its default".into());
        }
        let (slot, key, max) = match field {
            Field::ConnectTimeout => (
                &mut self.connect_timeout,
                "server.connect_timeout",
                MAX_SECONDS,
            ),
            Field::HandWindow => (
                &mut self.hand_window,
                "openvpn.hand_window",
                MAX_HAND_WINDOW,
            ),
        };
        if n > max {
            return Outcome::Unsupported(format!(
                "tapclient allows at most {max} s; it keeps its default"
            ));
        }
        replace(slot, n, index, &mut self.entries);
        Outcome::Mapped(key.into())
    }

    fn connect_retry(&mut self, d: &Directive, index: usize) -> Outcome {
        let initial = number(d.arg(0));
        let max = d.arg(1).map(|m| number(Some(m)));
        let (Some(initial), true) = (initial, d.args.len() <= 2) else {
            return rejected("`connect-retry` takes one or two numbers of seconds");
        };
        let Some(max) = max.unwrap_or(Some(OPENVPN_RETRY_MAX)) else {
            return rejected("the second parameter of `connect-retry` is not a number");
        };
        if initial == 0 {
            return Outcome::Ignored("0 seconds: tapclient keeps its default first delay".into());
        }
        if initial > MAX_SECONDS {
            return Outcome::Unsupported(format!(
                "tapclient allows at most {MAX_SECONDS} s; it keeps its default"
            ));
        }
        let max = max.max(initial).min(MAX_SECONDS);
        replace(&mut self.initial_delay, initial, index, &mut self.entries);
        replace(&mut self.max_delay, max, index, &mut self.entries);
        let note = if d.arg(1).is_none() {
            " (OpenVPN's ceiling without a second parameter is 300 s)"
        } else {
            ""
        };
        Outcome::Mapped(format!(
            "reconnect.initial_delay = {initial}, reconnect.max_delay = {max}{note}"
        ))
    }

    fn ping(&mut self, d: &Directive, index: usize, restart: bool) -> Outcome {
        let (Some(n), 1) = (number(d.arg(0)), d.args.len()) else {
            return rejected("it takes one number of seconds");
        };
        self.ping_given.get_or_insert(index);
        if n == 0 {
            return Outcome::Ignored("0 = off: tapclient uses what the server pushes".into());
        }
        if n > MAX_SECONDS {
            return Outcome::Unsupported(format!(
                "tapclient allows at most {MAX_SECONDS} s; the server's pushed value applies"
            ));
        }
        let (slot, key) = if restart {
            (&mut self.ping_restart, "openvpn.ping_restart")
        } else {
            (&mut self.ping, "openvpn.ping")
        };
        replace(slot, n, index, &mut self.entries);
        Outcome::Mapped(key.into())
    }

    fn keepalive(&mut self, d: &Directive, index: usize) -> Outcome {
        let (Some(ping), Some(restart), 2) = (number(d.arg(0)), number(d.arg(1)), d.args.len())
        else {
            return rejected("`keepalive` takes two numbers of seconds");
        };
        if ping == 0 || restart == 0 {
            return rejected("both `keepalive` values must be at least 1");
        }
        if ping.saturating_mul(2) > restart {
            return rejected("the second `keepalive` value must be at least twice the first");
        }
        if restart > MAX_SECONDS {
            return Outcome::Unsupported(format!(
                "tapclient allows at most {MAX_SECONDS} s; the server's pushed values apply"
            ));
        }
        self.keepalive = Some(index);
        replace(&mut self.ping, ping, index, &mut self.entries);
        replace(&mut self.ping_restart, restart, index, &mut self.entries);
        Outcome::Mapped(format!(
            "openvpn.ping = {ping}, openvpn.ping_restart = {restart}"
        ))
    }

    /// `keepalive` together with `ping`/`ping-restart` is an error in OpenVPN (helper.c).
    pub(super) fn finish_timers(&mut self) {
        if let (Some(keepalive), Some(_)) = (self.keepalive, self.ping_given) {
            self.entries[keepalive].outcome =
                rejected("`keepalive` conflicts with `ping`/`ping-restart` (use only one of them)");
        }
    }

    fn device(&mut self, d: &Directive, index: usize) -> Outcome {
        let [value] = d.args.as_slice() else {
            return rejected("it takes one parameter");
        };
        if d.name == "dev" {
            replace(&mut self.dev, value.clone(), index, &mut self.entries);
        } else {
            replace(&mut self.dev_type, value.clone(), index, &mut self.entries);
        }
        // Decided once both are known.
        Outcome::Mapped(String::new())
    }

    /// TAP is required: `dev-type`, or else the `dev` name's prefix, decides (as in OpenVPN).
    pub(super) fn finish_device(&mut self) {
        let dev_type = self.dev_type.as_ref().map(|s| s.value.clone());
        let dev = self.dev.as_ref().map(|s| (s.value.clone(), s.entry));
        let kind = dev_type.clone().or_else(|| {
            dev.as_ref().map(|(name, _)| {
                name.chars()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect()
            })
        });
        let (tap, why) = match kind.as_deref() {
            Some("tap") => (true, String::new()),
            Some("tun") => (
                false,
                "the server uses a TUN (layer 3) device; tapclient is for TAP (layer 2) servers"
                    .to_owned(),
            ),
            Some(other) => (false, format!("device type `{other}` is not TAP")),
            None => (
                false,
                "OpenVPN needs `dev`; tapclient needs `dev tap`".to_owned(),
            ),
        };
        let mapped = Outcome::Mapped(
            "TAP server (tapclient creates a TUN interface and is the Ethernet host itself; \
             tun.name chooses its name)"
                .into(),
        );
        for slot in [
            self.dev.as_ref().map(|s| s.entry),
            self.dev_type.as_ref().map(|s| s.entry),
        ]
        .into_iter()
        .flatten()
        {
            self.entries[slot].outcome = if tap {
                mapped.clone()
            } else {
                Outcome::Blocking(why.clone())
            };
        }
        if !tap && dev.is_none() && dev_type.is_none() {
            self.problems.push(format!("no device: {why}"));
        }
    }

    fn tun_mtu(&mut self, d: &Directive, index: usize) -> Outcome {
        let (Some(mtu), true) = (number(d.arg(0)), (1..=2).contains(&d.args.len())) else {
            return rejected("`tun-mtu` takes a number");
        };
        let (low, high) = MTU_RANGE;
        match u16::try_from(mtu) {
            Ok(mtu) if (low..=high).contains(&mtu) => {
                replace(&mut self.mtu, mtu, index, &mut self.entries);
                Outcome::Mapped("tun.mtu".into())
            }
            _ => Outcome::Unsupported(format!(
                "tapclient's MTU with OpenVPN is {low}–{high}; it keeps its default (1500)"
            )),
        }
    }

    fn lladdr(&mut self, d: &Directive, index: usize) -> Outcome {
        let [mac] = d.args.as_slice() else {
            return rejected("`lladdr` takes one MAC address");
        };
        let octets: Vec<Option<u8>> = mac
            .split([':', '-'])
            .map(|part| {
                (part.len() == 2)
                    .then(|| u8::from_str_radix(part, 16).ok())
                    .flatten()
            })
            .collect();
        let unicast = octets.len() == 6
            && octets.iter().all(Option::is_some)
            && octets[0].is_some_and(|first| first & 1 == 0)
            && octets.iter().any(|o| *o != Some(0));
        if !unicast {
            return Outcome::Unsupported(format!(
                "`{mac}` is not a unicast MAC address; tapclient derives one"
            ));
        }
        replace(
            &mut self.mac,
            mac.to_ascii_lowercase(),
            index,
            &mut self.entries,
        );
        Outcome::Mapped("ethernet.mac".into())
    }

    fn route(&mut self, d: &Directive) -> Outcome {
        if d.args.is_empty() || d.args.len() > 4 {
            return rejected("`route` takes a network, then optionally a mask, gateway and metric");
        }
        match route_cidr(&d.args) {
            Ok((cidr, note)) => {
                let text = format!("openvpn.routes += \"{cidr}\"{note}");
                self.routes.push(cidr);
                Outcome::Mapped(text)
            }
            Err(why) => Outcome::Unsupported(why),
        }
    }

    fn redirect_gateway(&mut self, d: &Directive, index: usize) -> Outcome {
        let mut ipv4 = true;
        let mut notes = Vec::new();
        for flag in &d.args {
            match flag.as_str() {
                "def1" => {}
                "local" | "autolocal" | "bypass-dhcp" | "bypass-dns" | "block-local" => {
                    notes.push(format!("`{flag}` is not supported"))
                }
                "ipv6" => notes.push("`ipv6`: IPv6 traffic is not redirected".to_owned()),
                "!ipv4" => ipv4 = false,
                other => return rejected(&format!("unknown redirect-gateway flag `{other}`")),
            }
        }
        if !ipv4 {
            return Outcome::Unsupported(
                "only IPv6 is redirected (`!ipv4`), and IPv6 inside the tunnel is not supported"
                    .into(),
            );
        }
        replace(&mut self.redirect_gateway, true, index, &mut self.entries);
        let note = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        Outcome::Mapped(format!("openvpn.redirect_gateway = true{note}"))
    }
}

#[derive(Clone, Copy)]
enum Field {
    ConnectTimeout,
    HandWindow,
}

fn is_udp(proto: &str) -> bool {
    matches!(proto, "udp" | "udp4" | "udp6")
}

/// A TCP remote with its port, and a note for the report; or why it is skipped.
fn resolve_remote(host: &str, port: Option<&str>, proto: &str) -> Result<(Remote, String), String> {
    let note = match proto {
        "tcp" | "tcp-client" => "",
        "tcp4" | "tcp4-client" | "tcp6" | "tcp6-client" => {
            " (tapclient does not force the address family; it uses what the name resolves to)"
        }
        p if is_udp(p) => {
            return Err("UDP is not supported yet (tapclient speaks OpenVPN over TCP)".into())
        }
        "tcp-server" | "tcp4-server" | "tcp6-server" => {
            return Err(format!("`{proto}` is the server side"))
        }
        other => return Err(format!("unknown protocol `{other}`")),
    };
    let port = match port {
        None => DEFAULT_PORT,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port > 0 && text.bytes().all(|b| b.is_ascii_digit()) => port,
            _ => return Err(format!("port `{text}` is not a number from 1 to 65535")),
        },
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let valid = !host.is_empty()
        && (host.parse::<std::net::Ipv6Addr>().is_ok()
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')));
    if !valid {
        return Err(format!("`{host}` is not a host name or IP address"));
    }
    Ok((
        Remote {
            host: host.to_owned(),
            port,
        },
        note.to_owned(),
    ))
}

/// `route NET [MASK [GW [METRIC]]]` as `a.b.c.d/len` and a note, or why not.
fn route_cidr(args: &[String]) -> Result<(String, String), String> {
    let network: Ipv4Addr = args[0].parse().map_err(|_| {
        format!(
            "`{}` is not an IPv4 network address (host names and the vpn_gateway, \
             net_gateway and remote_host keywords are not supported)",
            args[0]
        )
    })?;
    let mask = match args.get(1).map(String::as_str) {
        None | Some("default") => Ipv4Addr::BROADCAST,
        Some(text) => text
            .parse::<Ipv4Addr>()
            .map_err(|_| format!("`{text}` is not a netmask"))?,
    };
    let bits = u32::from(mask);
    let prefix = bits.leading_ones();
    if bits.checked_shl(prefix).unwrap_or(0) != 0 {
        return Err(format!("`{mask}` is not a contiguous netmask"));
    }
    let mut notes = Vec::new();
    match args.get(2).map(String::as_str) {
        None | Some("vpn_gateway") | Some("default") => {}
        Some(gateway) => {
            return Err(format!(
                "a gateway other than vpn_gateway (`{gateway}`) is not supported; tapclient \
                 routes through the gateway the server pushes"
            ))
        }
    }
    if let Some(metric) = args.get(3).filter(|m| *m != "default") {
        notes.push(format!("metric {metric} is not supported"));
    }
    let masked = Ipv4Addr::from(u32::from(network) & bits);
    if masked != network {
        notes.push(format!("host bits of {network} cleared"));
    }
    let note = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    };
    Ok((format!("{masked}/{prefix}"), note))
}
