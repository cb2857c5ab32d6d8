//! Configuration: the TOML file → a validated, typed [`Config`].
//!
//! Two phases, as in ripgrep and just: `raw` is the syntax as written (serde,
//! `deny_unknown_fields`, every value with its position), `resolve` (with `lan`) checks it and
//! builds the typed [`Config`] of `types`. Every error names the file, the line and the dotted
//! key (`office.toml:14: ip.gateway: 10.99.0.1 is not inside 10.98.0.2/24`).
//!
//! This module reads the config file and nothing else: it opens no sockets and does not check
//! that the credential files it names exist (the credentials module reports that).
//! The schema is documented for users in `docs/config.md`.

mod error;
mod lan;
mod openvpn;
mod raw;
mod resolve;
mod tun;
mod types;

pub use error::{ConfigError, Problem};
pub use types::*;

use std::path::Path;

use serde::Deserialize;
use toml::de::DeTable;

use raw::{line_of, KeyIndex, RawConfig};
use resolve::Context;

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Validates `text` as if it had been read from `source` (which names the file in errors,
/// anchors relative paths and becomes [`Config::source`]; it is not read).
pub fn parse(text: &str, source: &Path) -> Result<Config, ConfigError> {
    let absolute = std::path::absolute(source).map_err(|source_err| ConfigError::Read {
        path: source.to_path_buf(),
        source: source_err,
    })?;
    let base = absolute.parent().unwrap_or(Path::new("/")).to_path_buf();
    let cx = Context {
        text,
        file: source,
        base: &base,
    };
    let document = DeTable::parse(text).map_err(|e| syntax_error(&cx, &e))?;
    let index = KeyIndex::build(document.get_ref());
    let raw = RawConfig::deserialize(toml::de::Deserializer::from(document))
        .map_err(|e| schema_error(&cx, &index, &e))?;
    resolve::resolve(raw, absolute, &cx)
}

fn syntax_error(cx: &Context<'_>, err: &toml::de::Error) -> ConfigError {
    ConfigError::Syntax {
        file: cx.file.to_path_buf(),
        line: err.span().map_or(1, |span| line_of(cx.text, span.start)),
        message: err.message().trim_end().to_string(),
    }
}

/// A deserializer error (unknown key or wrong type), placed by its span.
fn schema_error(cx: &Context<'_>, index: &KeyIndex, err: &toml::de::Error) -> ConfigError {
    let span = err.span().unwrap_or(0..0);
    let line = line_of(cx.text, span.start);
    let key = index.key_at(&span).unwrap_or("").to_string();
    if let Some((field, expected)) = raw::parse_unknown_field(err.message()) {
        let key = if key.is_empty() { field.clone() } else { key };
        return ConfigError::UnknownKey {
            file: cx.file.to_path_buf(),
            line,
            key,
            suggestion: error::closest_key(&field, &expected),
            expected,
        };
    }
    ConfigError::Invalid {
        file: cx.file.to_path_buf(),
        line,
        key: if key.is_empty() {
            "(top level)".into()
        } else {
            key
        },
        problem: Problem::WrongType {
            message: err.message().trim_end().to_string(),
        },
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::path::Path;

    /// The one-line message `parse` gives for `text` read from `office.toml`.
    pub fn message(text: &str) -> String {
        match super::parse(text, Path::new("office.toml")) {
            Ok(config) => panic!("expected an error, got {config:?}"),
            Err(err) => err.to_string(),
        }
    }

    /// The first lines of a valid config (6 lines), to append a section to.
    pub const MINIMAL: &str = "[server]
protocol = \"simpletun\"
remote = \"198.18.0.1\"

[ip]
address = \"10.98.0.2/24\"
";

    /// The first lines of a valid OpenVPN config (7 lines), to append a section to.
    pub const OPENVPN_MINIMAL: &str = "[server]
protocol = \"openvpn\"
remote = \"vpn.example.com\"

[tls]
ca = \"ca.crt\"
pkcs12 = \"client.p12\"
";
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::path::PathBuf;
    use std::time::Duration;

    use super::test_support::{message, MINIMAL};
    use super::*;
    use crate::ether::MacAddr;

    const FULL: &str = r#"[server]
protocol = "simpletun"
remote = "[fd00::1]:4443"
connect_timeout = 2.5

[tls]
ca = "ca.crt"
pkcs12 = "/secure/client.p12"
password_env = "TAPCLIENT_P12_PASSWORD"
verify_name = "vpn.example.com"

[tun]
name = "tap0"
mtu = 1400

[ethernet]
mac = "02:00:5E:10:00:01"

[ip]
address = "10.98.0.2/24"
gateway = "10.98.0.1"
routes = ["10.20.0.0/16", "192.168.50.0/24"]

[reconnect]
initial_delay = 0.5
max_delay = 60
first_connect_attempts = 0
"#;

    #[test]
    fn full_config_parses_to_typed_values() {
        let config = parse(FULL, Path::new("/etc/tapclient/office.toml")).unwrap();
        assert_eq!(config.source, PathBuf::from("/etc/tapclient/office.toml"));
        let server = &config.server;
        assert_eq!(server.protocol, Protocol::Simpletun);
        assert_eq!(server.remote().host, "fd00::1");
        assert_eq!(server.remote().port, 4443);
        assert_eq!(server.connect_timeout, Duration::from_millis(2500));
        assert_eq!(server.max_record, SIMPLETUN_MAX_RECORD);
        let tls = config.tls.as_ref().unwrap();
        assert_eq!(tls.ca, PathBuf::from("/etc/tapclient/ca.crt"));
        assert_eq!(tls.pkcs12, PathBuf::from("/secure/client.p12"));
        assert_eq!(
            tls.password,
            PasswordSource::Env("TAPCLIENT_P12_PASSWORD".into())
        );
        assert_eq!(tls.verify_name.as_deref(), Some("vpn.example.com"));
        assert_eq!(config.tun.name.as_deref(), Some("tap0"));
        assert_eq!(config.tun.mtu, 1400);
        assert_eq!(config.ethernet.mac, MacAddr([0x02, 0, 0x5e, 0x10, 0, 1]));
        assert!(!config.ethernet.mac_derived);
        assert!(config.openvpn.is_none());
        let ip = config.ip.as_ref().unwrap();
        assert_eq!(ip.address.to_string(), "10.98.0.2/24");
        assert_eq!(ip.gateway, Some(Ipv4Addr::new(10, 98, 0, 1)));
        let routes: Vec<String> = ip.routes.iter().map(|r| r.to_string()).collect();
        assert_eq!(routes, ["10.20.0.0/16", "192.168.50.0/24"]);
        assert_eq!(config.reconnect.initial_delay, Duration::from_millis(500));
        assert_eq!(config.reconnect.max_delay, Duration::from_secs(60));
        assert_eq!(config.reconnect.first_connect_attempts, 0);
    }

    #[test]
    fn absent_keys_take_their_defaults() {
        let config = parse(MINIMAL, Path::new("/etc/tapclient/lab.toml")).unwrap();
        assert_eq!(config.server.remote().port, SIMPLETUN_DEFAULT_PORT);
        assert_eq!(config.server.connect_timeout, Duration::from_secs(10));
        assert!(config.tls.is_none());
        assert_eq!(config.tun.name, None);
        assert_eq!(config.tun.mtu, 1500);
        assert!(config.ethernet.mac_derived);
        let expected = MacAddr::stable_local(b"198.18.0.1:55555|10.98.0.2");
        assert_eq!(config.ethernet.mac, expected);
        let ip = config.ip.as_ref().unwrap();
        assert_eq!(ip.gateway, None);
        assert!(ip.routes.is_empty());
        let defaults = ReconnectConfig::default();
        assert_eq!(config.reconnect.initial_delay, defaults.initial_delay);
        assert_eq!(config.reconnect.max_delay, defaults.max_delay);
        assert_eq!(config.reconnect.first_connect_attempts, 3);
    }

    #[test]
    fn relative_paths_resolve_against_the_config_folder() {
        let text = format!(
            "{MINIMAL}[tls]\nca = \"./pki/ca.crt\"\npkcs12 = \"../shared/c.p12\"\n\
             password_file = \"client.pass\"\n"
        );
        let config = parse(&text, Path::new("/etc/tapclient/office.toml")).unwrap();
        let tls = config.tls.unwrap();
        assert_eq!(tls.ca, PathBuf::from("/etc/tapclient/pki/ca.crt"));
        assert_eq!(tls.pkcs12, PathBuf::from("/etc/tapclient/../shared/c.p12"));
        let pass = PathBuf::from("/etc/tapclient/client.pass");
        assert_eq!(tls.password, PasswordSource::File(pass));
    }

    #[test]
    fn a_relative_source_is_made_absolute_from_the_working_directory() {
        let config = parse(MINIMAL, Path::new("conf/lab.toml")).unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(config.source, cwd.join("conf/lab.toml"));
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let msg = message("[server]\nprotocol = \"simpletun\"\nremote = \"198.18.0.1\n");
        assert!(
            msg.starts_with("office.toml:3: TOML syntax error: "),
            "{msg}"
        );
        let msg = message("[server]\nprotocol = \"a\"\n\nprotocol = \"b\"\n");
        assert!(
            msg.starts_with("office.toml:4: TOML syntax error: duplicate key"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_keys_are_named_with_their_section_and_a_suggestion() {
        let text = format!("{MINIMAL}\n[tls]\nca = \"ca.crt\"\npasword_file = \"x\"\n");
        assert_eq!(
            message(&text),
            "office.toml:10: unknown key `tls.pasword_file`, expected one of `ca`, `pkcs12`, \
             `password_file`, `password_env`, `verify_name` (did you mean `password_file`?)"
        );
        let msg = message(&format!("{MINIMAL}[tunn]\nmtu = 1400\n"));
        assert!(msg.starts_with("office.toml:7: unknown key `tunn`, expected one of `server`"));
        assert!(msg.ends_with("(did you mean `tun`?)"), "{msg}");
        let msg = message(&format!("mtu = 1400\n{MINIMAL}"));
        assert!(
            msg.starts_with("office.toml:1: unknown key `mtu`, "),
            "{msg}"
        );
    }

    #[test]
    fn wrong_types_name_the_key_and_what_was_expected() {
        assert_eq!(
            message(&format!("{MINIMAL}[tun]\nmtu = \"1400\"\n")),
            "office.toml:8: tun.mtu: invalid type: string \"1400\", expected an integer"
        );
        assert_eq!(
            message(&format!("{MINIMAL}[reconnect]\n\nmax_delay = \"30s\"\n")),
            "office.toml:9: reconnect.max_delay: invalid type: string \"30s\", \
             expected a number of seconds, like 10 or 2.5"
        );
        let msg = message(&format!(
            "{MINIMAL}gateway = \"10.98.0.1\"\nroutes = [\"10.20.0.0/16\", 7]\n"
        ));
        assert_eq!(
            msg,
            "office.toml:8: ip.routes: invalid type: integer `7`, expected a string"
        );
        let msg = message(&format!("tun = 5\n{MINIMAL}"));
        assert_eq!(
            msg,
            "office.toml:1: tun: invalid type: integer `5`, expected a [tun] table"
        );
    }

    #[test]
    fn missing_sections_and_keys_point_at_where_to_add_them() {
        let msg = message("[ip]\naddress = \"10.98.0.2/24\"\n");
        assert!(
            msg.starts_with("office.toml:1: server: this section is required"),
            "{msg}"
        );
        let msg = message("[server]\nprotocol = \"simpletun\"\nremote = \"h\"\n");
        assert!(
            msg.starts_with("office.toml:1: ip: this section is required"),
            "{msg}"
        );
        let msg = message("# office\n\n[server]\nprotocol = \"simpletun\"\n");
        assert_eq!(
            msg,
            "office.toml:3: server.remote: this key is required; add it, e.g. \
             remote = \"198.18.0.1:55555\""
        );
    }

    #[test]
    fn an_unreadable_file_is_named_with_the_os_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.toml");
        let err = load(&path).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }));
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("cannot read config file {}: ", path.display())));
        assert!(msg.contains("No such file or directory"), "{msg}");
    }

    #[test]
    fn load_reads_the_file_and_records_its_absolute_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.toml");
        std::fs::write(&path, MINIMAL).unwrap();
        let config = load(&path).unwrap();
        assert_eq!(config.source, path);
        assert_eq!(config.ip.unwrap().address.to_string(), "10.98.0.2/24");
    }

    const FULL_OPENVPN: &str = r#"[server]
protocol = "openvpn"
remote = "vpn.example.com"
connect_timeout = 5

[tls]
ca = "pki/ca.crt"
pkcs12 = "client.p12"
password_file = "client.pass"
verify_name = "server"

[openvpn]
tls_auth = "ta.key"
key_direction = 1
auth = "sha256"
ciphers = ["aes-128-gcm", "AES-256-GCM"]
key_derivation = "prf"
hand_window = 30

[tun]
mtu = 1400

[reconnect]
max_delay = 120
"#;

    #[test]
    fn full_openvpn_config_parses_to_typed_values() {
        let config = parse(FULL_OPENVPN, Path::new("/etc/tapclient/office.toml")).unwrap();
        let server = &config.server;
        assert_eq!(server.protocol, Protocol::OpenVpn);
        assert_eq!(server.remote().to_string(), "vpn.example.com:1194");
        assert_eq!(server.connect_timeout, Duration::from_secs(5));
        assert_eq!(server.max_record, OPENVPN_MAX_RECORD);
        let tls = config.tls.as_ref().unwrap();
        assert_eq!(tls.ca, PathBuf::from("/etc/tapclient/pki/ca.crt"));
        let pass = PathBuf::from("/etc/tapclient/client.pass");
        assert_eq!(tls.password, PasswordSource::File(pass));
        assert_eq!(tls.verify_name.as_deref(), Some("server"));
        assert!(config.ip.is_none());
        let openvpn = config.openvpn.as_ref().unwrap();
        let wrap = ControlWrap::TlsAuth {
            key: PathBuf::from("/etc/tapclient/ta.key"),
            direction: Some(1),
            digest: AuthDigest::Sha256,
        };
        assert_eq!(openvpn.wrap, wrap);
        assert_eq!(openvpn.ciphers, ["AES-128-GCM", "AES-256-GCM"]);
        assert_eq!(openvpn.key_derivation, KeyDerivation::Prf);
        assert_eq!(openvpn.hand_window, Duration::from_secs(30));
        assert_eq!(config.tun.mtu, 1400);
        let seed = MacAddr::stable_local(b"vpn.example.com:1194|openvpn");
        assert!(config.ethernet.mac_derived && config.ethernet.mac == seed);
        assert_eq!(config.reconnect.max_delay, Duration::from_secs(120));
    }

    /// The ```toml blocks of `docs/config.md`: each is a complete config.
    fn toml_blocks(doc: &str) -> Vec<&str> {
        doc.split("```toml\n")
            .skip(1)
            .map(|rest| rest.split("```").next().unwrap_or(""))
            .collect()
    }

    #[test]
    fn the_complete_examples_in_config_md_parse() {
        let doc = include_str!("../../docs/config.md");
        let blocks = toml_blocks(doc);
        assert_eq!(blocks.len(), 2, "one OpenVPN and one simpletun example");
        let source = Path::new("/etc/tapclient/a.toml");
        let openvpn = parse(blocks[0], source).unwrap();
        let wrap = &openvpn.openvpn.as_ref().unwrap().wrap;
        assert!(matches!(wrap, ControlWrap::TlsCrypt { .. }), "{wrap:?}");
        assert_eq!(openvpn.server.remote().port, OPENVPN_DEFAULT_PORT);
        let simpletun = parse(blocks[1], source).unwrap();
        assert_eq!(simpletun.tun.name.as_deref(), Some("tap0"));
        assert_eq!(simpletun.ip.unwrap().routes.len(), 2);
        assert!(simpletun.tls.is_some() && !simpletun.ethernet.mac_derived);
    }

    #[test]
    fn the_documented_examples_load() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples");
        let tls = load(&examples.join("simpletun-tls.toml")).unwrap();
        let tls_section = tls
            .tls
            .as_ref()
            .expect("the TLS example has a [tls] section");
        assert_eq!(tls_section.ca, examples.join("ca.crt"));
        assert_eq!(tls.server.remote().to_string(), "vpn.example.com:55555");
        assert_eq!(tls.ip.unwrap().routes.len(), 2);
        let plain = load(&examples.join("simpletun-plain.toml")).unwrap();
        assert!(plain.tls.is_none());
        assert_eq!(plain.server.remote().port, SIMPLETUN_DEFAULT_PORT);
    }

    #[test]
    fn the_openvpn_example_loads() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples");
        let config = load(&examples.join("openvpn-office.toml")).unwrap();
        assert_eq!(config.server.protocol, Protocol::OpenVpn);
        assert_eq!(config.server.remote().to_string(), "vpn.example.com:1194");
        assert_eq!(config.tls.unwrap().verify_name.as_deref(), Some("server"));
        assert!(config.ip.is_none());
        let openvpn = config.openvpn.unwrap();
        let wrap = ControlWrap::TlsAuth {
            key: examples.join("ta.key"),
            direction: Some(1),
            digest: AuthDigest::Sha1,
        };
        assert_eq!(openvpn.wrap, wrap);
        assert_eq!(openvpn.ciphers, OPENVPN_CIPHERS);
        assert_eq!(openvpn.key_derivation, KeyDerivation::Auto);
        assert_eq!(openvpn.hand_window, OPENVPN_DEFAULT_HAND_WINDOW);
    }
}
