//! `[tun]`: the interface name and the MTU, whose range depends on the protocol.
//!
//! Part of phase two (see `resolve`).

use toml::Spanned;

use super::error::{ConfigError, Problem};
use super::raw::{Int, RawTun};
use super::resolve::Context;
use super::types::{Protocol, TunConfig, OPENVPN_MAX_RECORD, SIMPLETUN_MAX_RECORD};

/// Smallest MTU every IPv4 host must handle (RFC 791).
const MIN_MTU: i64 = 576;
/// Largest MTU whose Ethernet frame (MTU + 14-byte header) fits a simpletun record.
const SIMPLETUN_MAX_MTU: i64 = 1986;
const _: () = assert!(SIMPLETUN_MAX_MTU as usize + 14 == SIMPLETUN_MAX_RECORD);
/// Largest MTU for OpenVPN: the server's TAP runs at `tun-mtu 1500` unless changed, and it
/// drops frames larger than its own MTU.
const OPENVPN_MAX_MTU: i64 = 1500;
// A frame (plus a VLAN tag) with the heaviest data-channel overhead (AES-CBC with HMAC-SHA512:
// header, HMAC, IV, packet-id, a full padding block, compression framing) fits a record.
const _: () = assert!(
    OPENVPN_MAX_MTU as usize + 18 + crate::openvpn::data::MAX_OVERHEAD <= OPENVPN_MAX_RECORD
);
const DEFAULT_MTU: u16 = 1500;

/// `[tun]`; absent, the system chooses the name and the MTU is 1500.
pub(super) fn resolve_tun(
    raw: Option<Spanned<RawTun>>,
    protocol: Protocol,
    cx: &Context<'_>,
) -> Result<TunConfig, ConfigError> {
    let Some(raw) = raw.map(Spanned::into_inner) else {
        return Ok(TunConfig {
            name: None,
            mtu: DEFAULT_MTU,
        });
    };
    if let Some(name) = &raw.name {
        check_interface_name(name.get_ref()).map_err(|why| {
            let value = name.get_ref().clone();
            cx.invalid(
                name.span(),
                "tun.name",
                Problem::BadInterfaceName { value, why },
            )
        })?;
    }
    let (max, range, why) = match protocol {
        Protocol::Simpletun => (
            SIMPLETUN_MAX_MTU,
            "576..=1986",
            "frames of mtu+14 bytes must fit simpletun's 2000-byte records",
        ),
        Protocol::OpenVpn => (
            OPENVPN_MAX_MTU,
            "576..=1500 with protocol = \"openvpn\"",
            "an OpenVPN server's TAP runs at tun-mtu 1500 unless changed and drops larger frames",
        ),
    };
    let mtu = match raw.mtu {
        None => DEFAULT_MTU,
        Some(mtu) => match *mtu.get_ref() {
            Int(value) if (MIN_MTU..=max).contains(&value) => value as u16,
            Int(value) => {
                let value = value.to_string();
                let problem = Problem::OutOfRange { value, range, why };
                return Err(cx.invalid(mtu.span(), "tun.mtu", problem));
            }
        },
    };
    Ok(TunConfig {
        name: raw.name.map(Spanned::into_inner),
        mtu,
    })
}

/// A valid network interface name: 1..=15 bytes (Linux `IFNAMSIZ` minus the NUL), no '/', no
/// whitespace or control characters, not `.` or `..` (Linux `dev_valid_name`); on macOS the
/// kernel only creates `utunN`.
fn check_interface_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty; remove the key to let the system choose");
    }
    if name.len() > 15 {
        return Err("it is longer than 15 bytes");
    }
    if name.contains('/') {
        return Err("it contains '/'");
    }
    if name.chars().any(char::is_whitespace) {
        return Err("it contains whitespace");
    }
    if name.chars().any(char::is_control) {
        return Err("it contains a control character");
    }
    if name == "." || name == ".." {
        return Err("'.' and '..' are reserved");
    }
    #[cfg(target_os = "macos")]
    {
        let digits = name.strip_prefix("utun").unwrap_or("");
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("macOS only allows utunN names, like utun7");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::test_support::{message, MINIMAL, OPENVPN_MINIMAL};

    #[test]
    fn interface_names_follow_the_kernel_rules() {
        assert_eq!(
            check_interface_name(""),
            Err("it is empty; remove the key to let the system choose")
        );
        assert_eq!(
            check_interface_name("a-very-long-name"),
            Err("it is longer than 15 bytes")
        );
        assert_eq!(check_interface_name("tap/0"), Err("it contains '/'"));
        assert_eq!(check_interface_name("tap 0"), Err("it contains whitespace"));
        assert_eq!(
            check_interface_name("tap\u{1}"),
            Err("it contains a control character")
        );
        assert_eq!(check_interface_name(".."), Err("'.' and '..' are reserved"));
        #[cfg(target_os = "linux")]
        assert_eq!(check_interface_name("exactly15bytes_"), Ok(()));
        let text = format!("{MINIMAL}[tun]\nname = \"tap 0\"\n");
        assert_eq!(
            message(&text),
            "office.toml:8: tun.name: \"tap 0\" is not a valid interface name: it contains whitespace"
        );
    }

    #[test]
    fn mtu_range_keeps_frames_inside_simpletun_records() {
        for (mtu, line) in [("575", 8), ("1987", 8), ("-1", 8)] {
            let text = format!("{MINIMAL}[tun]\nmtu = {mtu}\n");
            assert_eq!(
                message(&text),
                format!(
                    "office.toml:{line}: tun.mtu: {mtu} is out of range; use 576..=1986 \
                     (frames of mtu+14 bytes must fit simpletun's 2000-byte records)"
                )
            );
        }
        for mtu in [576, 1986] {
            let text = format!("{MINIMAL}[tun]\nmtu = {mtu}\n");
            let config = crate::config::parse(&text, Path::new("a.toml")).unwrap();
            assert_eq!(i64::from(config.tun.mtu), mtu);
        }
    }

    #[test]
    fn openvpn_mtu_is_at_most_1500() {
        for mtu in ["1501", "1986", "575"] {
            assert_eq!(
                message(&format!("{OPENVPN_MINIMAL}[tun]\nmtu = {mtu}\n")),
                format!(
                    "office.toml:9: tun.mtu: {mtu} is out of range; use 576..=1500 with protocol = \
                     \"openvpn\" (an OpenVPN server's TAP runs at tun-mtu 1500 unless changed and \
                     drops larger frames)"
                )
            );
        }
        for mtu in [576, 1500] {
            let config = crate::config::parse(
                &format!("{OPENVPN_MINIMAL}[tun]\nmtu = {mtu}\n"),
                Path::new("a.toml"),
            )
            .unwrap();
            assert_eq!(config.tun.mtu, mtu);
        }
    }
}
