//! `tapclient import`: realistic profiles (tests/data/ovpn) → TOML → `config::load`, with the
//! extracted files' contents and modes, the reporting of what was left out, the refusal to
//! overwrite, and the binary's exit codes. Each test works in its own temporary folder with a
//! fresh PKI (see tests/data/ovpn/README.md for the placeholders).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tapclient::config::{self, AuthDigest, CompressFraming, Config, ControlWrap, PasswordSource};
use tapclient::credentials::load_pkcs12;
use tapclient::import::{self, ImportError, Outcome, Report, WriteError};

const P12_PASSWORD: &str = "tapclient-test";

/// A temporary folder holding the PKI and the support files the profiles name.
struct Lab {
    dir: tempfile::TempDir,
    pki: tapclient_certs::Pki,
    ta_key: String,
    tc_key: String,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let pki_dir = dir.path().join("pki");
        fs::create_dir(&pki_dir).unwrap();
        let options = tapclient_certs::Options {
            password: P12_PASSWORD.into(),
            ..Default::default()
        };
        let pki = tapclient_certs::generate(&pki_dir, &options).unwrap();
        let lab = Lab {
            dir,
            pki,
            ta_key: static_key(1),
            tc_key: static_key(2),
        };
        let copies = [
            (&lab.pki.ca_crt, "ca.crt"),
            (&lab.pki.client_crt, "client.crt"),
            (&lab.pki.client_key, "client.key"),
            (&lab.pki.client_p12, "client.p12"),
        ];
        for (from, to) in copies {
            fs::copy(from, lab.path(to)).unwrap();
        }
        fs::create_dir(lab.path("keys dir")).unwrap();
        fs::copy(&lab.pki.ca_crt, lab.path("keys dir/ca.crt")).unwrap();
        fs::copy(&lab.pki.client_p12, lab.path("keys dir/client.p12")).unwrap();
        fs::write(lab.path("pass.txt"), format!("{P12_PASSWORD}\n")).unwrap();
        fs::write(lab.path("auth.txt"), "alice\nsecret\n").unwrap();
        fs::write(lab.path("ta.key"), &lab.ta_key).unwrap();
        fs::write(lab.path("tc.key"), &lab.tc_key).unwrap();
        lab
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes tests/data/ovpn/NAME into the lab with the placeholders filled in (keeping the
    /// template's line endings), and returns its path.
    fn profile(&self, name: &str) -> PathBuf {
        let template_path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/ovpn")
            .join(name);
        let template = fs::read_to_string(template_path).unwrap();
        let crlf = template.contains("\r\n");
        let read = |p: &Path| fs::read_to_string(p).unwrap().trim_end().to_owned();
        let p12 = base64(&fs::read(&self.pki.client_p12).unwrap());
        let mut text = template
            .replace("{{CA}}", &read(&self.pki.ca_crt))
            .replace("{{CERT}}", &read(&self.pki.client_crt))
            .replace("{{KEY}}", &read(&self.pki.client_key))
            .replace("{{P12_BASE64}}", p12.trim_end())
            .replace("{{TA_KEY}}", self.ta_key.trim_end())
            .replace("{{TC_KEY}}", self.tc_key.trim_end());
        if crlf {
            text = text.replace("\r\n", "\n").replace('\n', "\r\n");
        }
        let path = self.path(name);
        fs::write(&path, text).unwrap();
        path
    }

    /// Imports NAME to the default output; the report and the loaded config.
    fn import(&self, name: &str) -> (Report, Config) {
        let profile = self.profile(name);
        let report = import::run(&profile, None, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        let config = config::load(&report.config).unwrap_or_else(|e| panic!("{name}: {e}"));
        (report, config)
    }

    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// An OpenVPN static key file (the tls-auth/tls-crypt format), deterministic per `seed`.
fn static_key(seed: u8) -> String {
    let mut text = String::from("-----BEGIN OpenVPN Static key V1-----\n");
    for line in 0..16u8 {
        for i in 0..16u8 {
            text.push_str(&format!(
                "{:02x}",
                seed.wrapping_mul(31).wrapping_add(line * 16 + i)
            ));
        }
        text.push('\n');
    }
    text.push_str("-----END OpenVPN Static key V1-----\n");
    text
}

/// Standard base64 in 64-character lines (as `openssl base64` writes it).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut flat = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().fold(0u32, |a, &b| (a << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            flat.push(if i <= chunk.len() {
                ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    flat.as_bytes()
        .chunks(64)
        .map(|l| format!("{}\n", String::from_utf8_lossy(l)))
        .collect()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn outcome(report: &Report, line: usize) -> &Outcome {
    &report
        .entries
        .iter()
        .find(|e| e.line == line)
        .unwrap_or_else(|| panic!("no entry for line {line}"))
        .outcome
}

fn remotes(config: &Config) -> Vec<String> {
    config
        .server
        .remotes
        .iter()
        .map(|r| r.to_string())
        .collect()
}

#[test]
fn an_inline_crlf_profile_round_trips_with_extracted_files() {
    let lab = Lab::new();
    let (report, config) = lab.import("office-inline.ovpn");
    let dir = lab.dir.path();
    assert_eq!(report.config, lab.path("office-inline.toml"));
    assert_eq!(
        remotes(&config),
        ["vpn.office.example:443", "vpn2.office.example:443"]
    );
    let tls = config.tls.as_ref().unwrap();
    assert_eq!(tls.ca, dir.join("office-inline-ca.crt"));
    assert_eq!(tls.pkcs12, dir.join("office-inline.p12"));
    assert_eq!(tls.password, PasswordSource::Unset);
    let openvpn = config.openvpn.as_ref().unwrap();
    let wrap = ControlWrap::TlsAuth {
        key: dir.join("office-inline-ta.key"),
        direction: Some(1),
        digest: AuthDigest::Sha256,
    };
    assert_eq!(openvpn.wrap, wrap);
    assert_eq!(openvpn.ciphers, ["AES-256-GCM", "AES-128-GCM"]);
    assert_eq!(openvpn.auth, AuthDigest::Sha256);
    assert_eq!(openvpn.ping, Some(Duration::from_secs(10)));
    assert_eq!(openvpn.ping_restart, Some(Duration::from_secs(120)));
    assert_eq!(openvpn.compress, Some(CompressFraming::CompLzo));
    let userpass = openvpn.auth_user_pass.as_ref().expect("[auth_user_pass]");
    assert_eq!((&userpass.file, &userpass.username), (&None, &None));

    // Extracted files: LF line endings, mode 0600, the block's text verbatim.
    let ca = fs::read_to_string(&tls.ca).unwrap();
    assert_eq!(ca, fs::read_to_string(&lab.pki.ca_crt).unwrap());
    let ta = fs::read_to_string(dir.join("office-inline-ta.key")).unwrap();
    assert_eq!(
        ta,
        format!("#\n# 2048 bit OpenVPN static key\n#\n{}", lab.ta_key)
    );
    for name in [
        "office-inline-ca.crt",
        "office-inline-ta.key",
        "office-inline.p12",
        "office-inline.toml",
    ] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        let text = fs::read(dir.join(name)).unwrap();
        assert!(
            name.ends_with(".p12") || !text.contains(&b'\r'),
            "{name} has CR"
        );
    }
    let identity = load_pkcs12(&tls.pkcs12, &tls.password).unwrap();
    assert_eq!(identity.subject(), "CN=client");
    assert_eq!(
        identity.cert_chain[0].as_ref(),
        lab.pki.client_der.as_slice()
    );
    assert_eq!(report.files.len(), 3);

    // What was left out is reported and listed in the TOML.
    assert!(
        matches!(outcome(&report, 8), Outcome::Unsupported(why) if why.contains("in the order written"))
    );
    assert!(
        matches!(outcome(&report, 14), Outcome::Mapped(why) if why.contains("without AES-192-CBC"))
    );
    assert!(
        matches!(outcome(&report, 20), Outcome::Ignored(_)),
        "verb with a comment"
    );
    let toml = fs::read_to_string(&report.config).unwrap();
    assert!(toml.starts_with("# tapclient configuration imported from office-inline.ovpn"));
    assert!(
        toml.contains(
            "#   line 8: remote-random: tapclient tries the remotes in the order written"
        ),
        "{toml}"
    );
    assert!(toml.contains("key_direction = 1"));
    assert!(!toml.contains("BEGIN"), "no key material in the TOML");
    assert_eq!(
        report.problems(),
        ["unsupported: line 8: remote-random: tapclient tries the remotes in the order written"]
    );
}

#[test]
fn an_inline_pkcs12_without_ca_gives_its_ca_certificates_and_keeps_its_password_file() {
    let lab = Lab::new();
    let (report, config) = lab.import("pkcs12-inline.ovpn");
    let dir = lab.dir.path();
    let tls = config.tls.as_ref().unwrap();
    assert_eq!(
        fs::read(&tls.pkcs12).unwrap(),
        fs::read(&lab.pki.client_p12).unwrap()
    );
    assert_eq!(tls.password, PasswordSource::File(dir.join("pass.txt")));
    let ca = fs::read_to_string(&tls.ca).unwrap();
    assert_eq!(
        ca.trim_end(),
        fs::read_to_string(&lab.pki.ca_crt).unwrap().trim_end()
    );
    assert!(report
        .warnings
        .iter()
        .any(|w| w.contains("CA certificates inside the PKCS#12")));
    let openvpn = config.openvpn.as_ref().unwrap();
    assert_eq!(
        openvpn.wrap,
        ControlWrap::TlsCrypt {
            key: dir.join("pkcs12-inline-tc.key")
        }
    );
    assert_eq!(
        fs::read_to_string(dir.join("pkcs12-inline-tc.key")).unwrap(),
        lab.tc_key
    );
    assert_eq!(openvpn.compress, Some(CompressFraming::V2));
    assert_eq!(openvpn.reneg, None, "reneg-sec 0 = never");
    assert_eq!(openvpn.hand_window, Duration::from_secs(30));
    assert_eq!(remotes(&config), ["198.18.0.1:1194"]);
    for name in [
        "pkcs12-inline.p12",
        "pkcs12-inline-ca.crt",
        "pkcs12-inline-tc.key",
    ] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    assert!(load_pkcs12(&tls.pkcs12, &tls.password).is_ok());
}

#[test]
fn a_file_based_profile_keeps_its_files_and_maps_every_setting() {
    let lab = Lab::new();
    let (report, config) = lab.import("files.ovpn");
    let dir = lab.dir.path();
    assert!(
        report.files.is_empty(),
        "nothing to extract: {:?}",
        report.files
    );
    assert_eq!(
        remotes(&config),
        [
            "vpn-a.example.com:1194",
            "vpn-c.example.com:8443",
            "[2001:db8::10]:443"
        ]
    );
    assert!(matches!(outcome(&report, 12), Outcome::Unsupported(why) if why.contains("UDP")));
    assert_eq!(config.server.connect_timeout, Duration::from_secs(15));
    assert_eq!(config.reconnect.initial_delay, Duration::from_secs(2));
    assert_eq!(config.reconnect.max_delay, Duration::from_secs(30));
    assert_eq!(config.reconnect.first_connect_attempts, 5);
    let tls = config.tls.as_ref().unwrap();
    assert_eq!(
        (tls.ca.clone(), tls.pkcs12.clone()),
        (dir.join("ca.crt"), dir.join("client.p12"))
    );
    assert_eq!(tls.password, PasswordSource::File(dir.join("pass.txt")));
    assert_eq!(tls.verify_name.as_deref(), Some("vpn-server"));
    let openvpn = config.openvpn.as_ref().unwrap();
    let wrap = ControlWrap::TlsAuth {
        key: dir.join("ta.key"),
        direction: Some(1),
        digest: AuthDigest::Sha512,
    };
    assert_eq!(openvpn.wrap, wrap);
    assert_eq!(openvpn.ciphers, ["AES-128-GCM", "CHACHA20-POLY1305"]);
    assert_eq!(openvpn.reneg, Some(Duration::from_secs(600)));
    assert_eq!(
        (openvpn.ping, openvpn.ping_restart),
        (Some(Duration::from_secs(15)), Some(Duration::from_secs(90)))
    );
    assert_eq!(openvpn.compress, Some(CompressFraming::V2));
    assert_eq!(
        openvpn.auth_user_pass.as_ref().unwrap().file,
        Some(dir.join("auth.txt"))
    );
    assert!(openvpn.route_nopull && openvpn.redirect_gateway);
    let routes: Vec<String> = openvpn.routes.iter().map(|r| r.to_string()).collect();
    assert_eq!(routes, ["10.20.0.0/16", "172.16.4.0/24"]);
    assert_eq!(config.tun.mtu, 1400);
    assert_eq!(config.ethernet.mac.to_string(), "02:00:5e:10:00:99");
    let toml = fs::read_to_string(&report.config).unwrap();
    assert!(
        toml.contains("ca = \"ca.crt\""),
        "relative paths stay relative beside the profile"
    );
}

#[test]
fn output_elsewhere_names_the_profiles_files_by_absolute_path() {
    let lab = Lab::new();
    let profile = lab.profile("files.ovpn");
    let out_dir = lab.path("etc");
    fs::create_dir(&out_dir).unwrap();
    let output = out_dir.join("work.toml");
    let report = import::run(&profile, Some(&output), false).unwrap();
    assert_eq!(report.config, output);
    let config = config::load(&output).unwrap();
    assert_eq!(config.tls.unwrap().ca, lab.path("ca.crt"));
    // Inline blocks go beside the output, named after its stem.
    let report = import::run(&lab.profile("office-inline.ovpn"), Some(&output), true).unwrap();
    assert!(
        report.files.contains(&out_dir.join("work-ca.crt")),
        "{:?}",
        report.files
    );
    assert!(out_dir.join("work-ta.key").exists() && out_dir.join("work.p12").exists());
}

#[test]
fn cert_and_key_files_become_a_pkcs12_and_a_server_side_direction_is_kept() {
    let lab = Lab::new();
    let (report, config) = lab.import("cert-key-files.ovpn");
    let tls = config.tls.as_ref().unwrap();
    assert_eq!(tls.pkcs12, lab.path("cert-key-files.p12"));
    assert_eq!(
        load_pkcs12(&tls.pkcs12, &tls.password).unwrap().subject(),
        "CN=client"
    );
    let ControlWrap::TlsAuth { direction, key, .. } = &config.openvpn.as_ref().unwrap().wrap else {
        panic!("tls-auth expected");
    };
    assert_eq!(
        (direction, key),
        (&Some(0), &lab.path("cert-key-files-ta.key"))
    );
    assert_eq!(remotes(&config), ["198.18.0.1:1194"]);
    let why = outcome(&report, 9).text();
    assert!(why.contains("tls.verify_name = \"server\""), "{why}");
    assert!(tls.verify_name.is_none());
}

#[test]
fn a_legacy_cbc_profile_with_dashes_and_quoted_paths() {
    let lab = Lab::new();
    let (report, config) = lab.import("legacy-cbc.ovpn");
    let openvpn = config.openvpn.as_ref().unwrap();
    assert_eq!(openvpn.cipher.as_deref(), Some("AES-256-CBC"));
    assert_eq!(openvpn.auth, AuthDigest::Sha256);
    assert!(
        matches!(
            &openvpn.wrap,
            ControlWrap::TlsAuth {
                direction: None,
                digest: AuthDigest::Sha256,
                ..
            }
        ),
        "tls-auth without key-direction is bidirectional: {:?}",
        openvpn.wrap
    );
    let tls = config.tls.as_ref().unwrap();
    assert_eq!(tls.ca, lab.path("keys dir/ca.crt"));
    assert_eq!(tls.pkcs12, lab.path("keys dir/client.p12"));
    assert!(matches!(outcome(&report, 11), Outcome::Ignored(why) if why.contains("serverAuth")));
    assert!(
        report
            .entries
            .iter()
            .all(|e| !matches!(e.outcome, Outcome::Unsupported(_))),
        "{:?}",
        report.entries
    );
}

#[test]
fn connection_blocks_give_one_remote_each() {
    let lab = Lab::new();
    let (report, config) = lab.import("connection-blocks.ovpn");
    assert_eq!(
        remotes(&config),
        ["primary.example:443", "fallback.example:8080"]
    );
    assert_eq!(config.server.connect_timeout, Duration::from_secs(10));
    assert!(matches!(outcome(&report, 6), Outcome::Ignored(why) if why.contains("<connection>")));
    assert!(matches!(outcome(&report, 15), Outcome::Unsupported(why) if why.contains("UDP")));
}

#[test]
fn unsupported_directives_are_reported_with_reasons_but_do_not_stop_a_usable_profile() {
    let lab = Lab::new();
    let (report, config) = lab.import("unsupported.ovpn");
    assert_eq!(remotes(&config), ["tcp.example:443"]);
    let expect = [
        (3, "unsupported", "UDP"),
        (4, "unsupported", "UDP"),
        (8, "unsupported", "fragment"),
        (9, "ignored", "MSS"),
        (10, "unsupported", "proxies"),
        (12, "unsupported", "plugins"),
        (13, "ignored", "scripts"),
        (14, "unsupported", "scripts"),
        (15, "unsupported", "scripts"),
        (16, "unsupported", "DNS"),
        (17, "ignored", "Windows"),
        (18, "ignored", "optional"),
        (19, "ignored", "UDP"),
        (20, "unsupported", "user"),
        (22, "unsupported", "revocation"),
        (23, "unsupported", "not an OpenVPN client option"),
    ];
    for (line, label, word) in expect {
        let got = outcome(&report, line);
        assert_eq!(got.label(), label, "line {line}: {got:?}");
        assert!(got.text().contains(word), "line {line}: {got:?}");
    }
    let toml = fs::read_to_string(&report.config).unwrap();
    assert!(
        toml.contains("#   line 23: frobnicate yes: not an OpenVPN client option tapclient knows"),
        "{toml}"
    );
    assert!(report
        .problems()
        .iter()
        .any(|p| p.contains("line 10: http-proxy")));
}

#[test]
fn a_tun_udp_profile_is_refused_with_every_reason_and_nothing_is_written() {
    let lab = Lab::new();
    let profile = lab.profile("tun-udp.ovpn");
    let before = lab.files();
    let err = import::run(&profile, None, false).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    let ImportError::Unusable { reasons, .. } = &err else {
        panic!("{err}")
    };
    let all = reasons.join("\n");
    assert!(
        all.contains("line 2: dev tun: the server uses a TUN (layer 3) device"),
        "{all}"
    );
    assert!(all.contains("no usable remote"), "{all}");
    assert!(err.to_string().contains("nothing was written"));
    assert_eq!(lab.files(), before);
}

#[test]
fn an_encrypted_key_is_refused_with_the_command_that_converts_it() {
    let lab = Lab::new();
    let err = import::run(&lab.profile("encrypted-key.ovpn"), None, false).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("encrypted with a passphrase"), "{text}");
    assert!(text.contains("openssl pkcs12 -export -in <cert>"), "{text}");
    assert!(!lab.path("encrypted-key.toml").exists());
}

#[test]
fn existing_output_is_refused_without_force_and_replaced_with_it() {
    let lab = Lab::new();
    let profile = lab.profile("office-inline.ovpn");
    import::run(&profile, None, false).unwrap();
    let toml = lab.path("office-inline.toml");
    fs::write(&toml, "# edited by hand\n").unwrap();
    let err = import::run(&profile, None, false).unwrap_err();
    match &err {
        ImportError::Write(WriteError::Exists { paths }) => {
            assert_eq!(paths.len(), 4, "{paths:?}");
            assert!(paths.contains(&toml));
        }
        other => panic!("{other}"),
    }
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("--force"));
    assert_eq!(fs::read_to_string(&toml).unwrap(), "# edited by hand\n");
    let report = import::run(&profile, None, true).unwrap();
    assert!(fs::read_to_string(&toml)
        .unwrap()
        .starts_with("# tapclient configuration"));
    assert_eq!(mode(&lab.path("office-inline.p12")), 0o600);
    assert_eq!(report.files.len(), 3);
    let err = import::run(&profile, Some(&profile), true).unwrap_err();
    assert!(matches!(err, ImportError::OutputIsProfile { .. }), "{err}");
    let err = import::run(&profile, Some(lab.dir.path()), true).unwrap_err();
    assert!(matches!(err, ImportError::OutputIsFolder { .. }), "{err}");
}

#[test]
fn a_profile_openvpn_cannot_read_is_an_error_with_its_line() {
    let lab = Lab::new();
    let path = lab.path("broken.ovpn");
    fs::write(&path, "client\nca \"unterminated\n").unwrap();
    let err = import::run(&path, None, false).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string()
            .ends_with("broken.ovpn: line 2: no closing quotation (\") before the end of the line"),
        "{err}"
    );
    let err = import::run(&lab.path("absent.ovpn"), None, false).unwrap_err();
    assert!(
        err.to_string().starts_with("cannot read the profile"),
        "{err}"
    );
}

fn tapclient(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tapclient"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn the_binary_prints_a_summary_and_the_unsupported_list_and_exits_with_the_documented_codes() {
    let lab = Lab::new();
    lab.profile("unsupported.ovpn");
    let (code, stdout, stderr) = tapclient(
        &["import", "unsupported.ovpn", "-o", "out.toml"],
        lab.dir.path(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("imported unsupported.ovpn -> out.toml\n"),
        "{stdout}"
    );
    assert!(stdout.contains("mapped: "), "{stdout}");
    assert!(
        stdout.contains("next: tapclient check --config out.toml"),
        "{stdout}"
    );
    assert!(
        stderr.contains("tapclient: unsupported: line 12: plugin "),
        "{stderr}"
    );
    assert!(lab.path("out.toml").exists());
    let (code, _, stderr) = tapclient(
        &["import", "unsupported.ovpn", "-o", "out.toml"],
        lab.dir.path(),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("already exists; use --force"), "{stderr}");
    lab.profile("tun-udp.ovpn");
    let (code, stdout, stderr) = tapclient(&["import", "tun-udp.ovpn"], lab.dir.path());
    assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
    assert!(
        stderr.starts_with("tapclient: error: tun-udp.ovpn cannot be used with tapclient"),
        "{stderr}"
    );
    let (code, _, _) = tapclient(&["import", "nothing-here.ovpn"], lab.dir.path());
    assert_eq!(code, 2);
}

#[test]
fn the_example_in_docs_import_md_is_a_valid_config() {
    let doc = include_str!("../docs/import.md");
    let block = doc
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a toml block");
    let config = config::parse(block, Path::new("/etc/tapclient/office.toml")).unwrap();
    assert_eq!(
        remotes(&config),
        ["vpn1.example.com:443", "vpn2.example.com:443"]
    );
    let openvpn = config.openvpn.unwrap();
    assert_eq!(openvpn.cipher.as_deref(), Some("AES-256-CBC"));
    assert!(openvpn.auth_user_pass.is_some());
}
