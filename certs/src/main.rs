//! `tapclient-certs --out DIR [--password PW] [--server-name NAME] [--server-ip IP]...`
//!
//! Writes the tapclient test PKI (see the library docs and `certs/README.md`). Test material
//! only.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use tapclient_certs::{generate, Options};

const USAGE: &str = "usage: tapclient-certs --out DIR [--password PW] [--server-name NAME] \
                     [--server-ip IP]...\n\
                     Writes a TEST PKI (CA, server, client, client.p12) into DIR.\n\
                     --server-ip may be repeated; it replaces the default 127.0.0.1 and ::1.";

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Help,
    Generate { out: PathBuf, opts: Options },
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut out = None;
    let mut opts = Options::default();
    let mut ips: Vec<IpAddr> = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--password" => opts.password = value("--password")?,
            "--server-name" => opts.server_name = value("--server-name")?,
            "--server-ip" => {
                let text = value("--server-ip")?;
                let ip = text
                    .parse()
                    .map_err(|_| format!("--server-ip: {text:?} is not an IP address"))?;
                ips.push(ip);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if !ips.is_empty() {
        opts.server_ips = ips;
    }
    let out = out.ok_or("--out DIR is required")?;
    Ok(Command::Generate { out, opts })
}

fn main() -> ExitCode {
    let (out, opts) = match parse(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Generate { out, opts }) => (out, opts),
        Err(e) => {
            eprintln!("tapclient-certs: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match generate(&out, &opts) {
        Ok(pki) => {
            println!("wrote test PKI (test material only) to {}:", out.display());
            for file in pki.files() {
                println!("  {}", file.display());
            }
            println!("client.p12 password: in {}", pki.client_pass.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tapclient-certs: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_all_options() {
        let cmd = parse(args(&[
            "--out",
            "/tmp/x",
            "--password",
            "pw",
            "--server-name",
            "vpn",
            "--server-ip",
            "10.0.0.1",
            "--server-ip",
            "fd00::1",
        ]))
        .unwrap();
        let Command::Generate { out, opts } = cmd else {
            panic!("expected generate, got {cmd:?}");
        };
        assert_eq!(out, PathBuf::from("/tmp/x"));
        assert_eq!(opts.password, "pw");
        assert_eq!(opts.server_name, "vpn");
        assert_eq!(
            opts.server_ips,
            vec![
                "10.0.0.1".parse::<IpAddr>().unwrap(),
                "fd00::1".parse().unwrap()
            ]
        );
    }

    #[test]
    fn defaults_and_errors() {
        let Ok(Command::Generate { opts, .. }) = parse(args(&["--out", "d"])) else {
            panic!("--out alone must work");
        };
        assert_eq!(opts, Options::default());
        assert_eq!(parse(args(&["--help"])), Ok(Command::Help));
        assert!(parse(args(&[])).unwrap_err().contains("--out"));
        assert!(parse(args(&["--out"]))
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse(args(&["--out", "d", "--server-ip", "x"])).is_err());
        assert!(parse(args(&["--bogus"])).unwrap_err().contains("--bogus"));
    }
}
