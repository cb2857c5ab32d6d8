//! The command line: clap definitions and the documented exit codes.
//!
//! This module only describes and parses arguments; it reads no files (the config path is
//! handed to `config::load` by the binary) and starts nothing. Usage errors from clap exit with
//! status 2, the same code as a config error ([`exit::USAGE`]).
//!
//! ```text
//! tapclient --config FILE          run until SIGINT/SIGTERM
//! tapclient run --config FILE      the same, spelled out
//! tapclient check --config FILE    validate the config and open the credentials, no connection
//! tapclient status --config FILE   state and counters of the client running with FILE [--json]
//! tapclient import PROFILE [-o FILE] [--force]   convert an OpenVPN .ovpn profile into a config
//! ```

use std::path::{Path, PathBuf};

use clap::error::ErrorKind;
use clap::{ArgAction, CommandFactory, Parser, Subcommand};

/// The process exit codes of `tapclient` (also listed in `--help`).
pub mod exit {
    /// Stopped cleanly by SIGINT/SIGTERM, or `check` found everything usable.
    pub const OK: i32 = 0;
    /// A runtime failure or an unexpected error.
    pub const RUNTIME: i32 = 1;
    /// Bad command line or bad config file.
    pub const USAGE: i32 = 2;
    /// The credentials are unusable: PKCS#12, CA file or password.
    pub const CREDENTIALS: i32 = 3;
    /// The server failed authentication or rejected us (TLS).
    pub const SERVER_AUTH: i32 = 4;
    /// A system error: TUN or network configuration (e.g. not running as root).
    pub const SYSTEM: i32 = 5;
    /// The server was unreachable: the first connection never succeeded.
    pub const UNREACHABLE: i32 = 6;
}

const ABOUT: &str =
    "A VPN client for TAP-mode servers, acting as the Ethernet host in front of a TUN device";

const LONG_ABOUT: &str = "\
A VPN client for TAP-mode (layer 2) servers. In user space it is the Ethernet host on the VPN's
LAN: it adds and strips Ethernet headers, answers ARP, and hands plain IP packets to a TUN device.

Without a subcommand it runs until SIGINT or SIGTERM. The config file format is described in
docs/config.md.";

const AFTER_LONG_HELP: &str = "\
Logging:
  -v, -vv, -vvv raise and -q, -qq lower the log level (default: info). The RUST_LOG environment
  variable, when set, overrides these flags (tracing env-filter syntax, e.g. RUST_LOG=debug).

Exit codes:
  0  stopped cleanly (SIGINT/SIGTERM), or check found everything usable, or status printed
  1  runtime failure or unexpected error; status: no tapclient is running for the config
  2  usage or config error
  3  credentials unusable (PKCS#12, CA or password)
  4  server authentication failed, or the server rejected us (TLS)
  5  system error (TUN, network configuration or status socket, e.g. not root); status:
     permission denied on the status socket
  6  server unreachable (the first connection never succeeded)";

/// Parsed command line.
#[derive(Debug, Parser)]
#[command(
    name = "tapclient",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = "See --help for logging and exit codes.",
    after_long_help = AFTER_LONG_HELP
)]
pub struct Cli {
    /// The config file (TOML). Allowed before or after the subcommand.
    #[arg(short, long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,

    /// More log output (-v debug for tapclient, -vv also other crates, -vvv trace).
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "quiet")]
    verbose: u8,

    /// Less log output (-q warnings and errors, -qq errors only).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    quiet: u8,

    #[command(subcommand)]
    command: Option<Command>,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Connect and run until SIGINT/SIGTERM (the default without a subcommand).
    Run,
    /// Validate the config and open the credentials, without connecting.
    Check,
    /// Show the state and counters of the tapclient running with this config (read from its
    /// status socket).
    Status {
        /// Print the JSON document the running client sends instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Convert an OpenVPN client profile (.ovpn) into a tapclient config (docs/import.md).
    Import(ImportArgs),
}

/// `tapclient import PROFILE [-o FILE] [--force]`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ImportArgs {
    /// The OpenVPN client profile to convert.
    #[arg(value_name = "PROFILE")]
    pub profile: PathBuf,
    /// The TOML to write (default: PROFILE with the extension .toml); extracted credentials are
    /// written beside it as <stem>-ca.crt, <stem>-ta.key, <stem>-tc.key, <stem>.p12.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite output files that exist already.
    #[arg(long)]
    pub force: bool,
}

impl Cli {
    /// Parses `std::env::args_os`; on a usage error (or `--help`/`--version`) prints and exits
    /// (status 2 for errors, 0 for help and version).
    pub fn parse_from_env() -> Cli {
        Cli::parse()
    }

    /// The subcommand; [`Command::Run`] when none was given. (Not named `command`, which would
    /// shadow clap's `CommandFactory::command`.)
    pub fn subcommand(&self) -> Command {
        self.command.clone().unwrap_or(Command::Run)
    }

    /// The `--config` path, if given.
    pub fn config_path(&self) -> Option<&Path> {
        self.config.as_deref()
    }

    /// The `--config` path, or the usage error to report (`err.exit()` prints it with the
    /// usage line and exits with status 2).
    ///
    /// `--config` cannot be marked required in clap because it is global (accepted on either
    /// side of the subcommand); this is where it becomes required.
    pub fn require_config(&self) -> Result<&Path, clap::Error> {
        self.config_path().ok_or_else(|| {
            Cli::command().error(
                ErrorKind::MissingRequiredArgument,
                "the config file is required: --config <FILE>",
            )
        })
    }

    /// A `tracing` env-filter string for the verbosity flags (default `"info"`).
    ///
    /// The binary should prefer the `RUST_LOG` environment variable when it is set.
    pub fn log_filter(&self) -> &'static str {
        match (self.verbose, self.quiet) {
            (0, 0) => "info",
            (0, 1) => "warn",
            (0, _) => "error",
            (1, _) => "info,tapclient=debug",
            (2, _) => "debug,tapclient=trace",
            _ => "trace",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tapclient").chain(args.iter().copied()))
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_runs() {
        let cli = parse(&["--config", "office.toml"]).unwrap();
        assert_eq!(cli.subcommand(), Command::Run);
        assert_eq!(cli.config_path(), Some(Path::new("office.toml")));
        let cli = parse(&["run", "-c", "lab.toml"]).unwrap();
        assert_eq!(cli.subcommand(), Command::Run);
        assert_eq!(cli.require_config().unwrap(), Path::new("lab.toml"));
    }

    #[test]
    fn config_is_accepted_before_or_after_the_subcommand() {
        for args in [
            &["check", "-c", "a.toml"][..],
            &["--config", "a.toml", "check"][..],
        ] {
            let cli = parse(args).unwrap();
            assert_eq!(cli.subcommand(), Command::Check, "{args:?}");
            assert_eq!(cli.config_path(), Some(Path::new("a.toml")), "{args:?}");
        }
    }

    #[test]
    fn a_missing_config_is_a_usage_error() {
        let cli = parse(&["check"]).unwrap();
        assert_eq!(cli.config_path(), None);
        let err = cli.require_config().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(err.exit_code(), exit::USAGE);
        assert!(err.to_string().contains("--config <FILE>"), "{err}");
    }

    #[test]
    fn clap_usage_errors_exit_with_the_usage_code() {
        for args in [
            &["connect"][..],
            &["--bogus"][..],
            &["-v", "-q"][..],
            &["-c"][..],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), exit::USAGE, "{args:?}: {err}");
        }
        assert_eq!(
            parse(&["-v", "-q"]).unwrap_err().kind(),
            ErrorKind::ArgumentConflict
        );
    }

    #[test]
    fn import_takes_a_profile_an_output_and_force() {
        let cli = parse(&["import", "office.ovpn"]).unwrap();
        let expected = ImportArgs {
            profile: PathBuf::from("office.ovpn"),
            output: None,
            force: false,
        };
        assert_eq!(cli.subcommand(), Command::Import(expected));
        let cli = parse(&["import", "a.ovpn", "-o", "/etc/tapclient/a.toml", "--force"]).unwrap();
        let Command::Import(args) = cli.subcommand() else {
            panic!("not import");
        };
        assert_eq!(
            args.output.as_deref(),
            Some(Path::new("/etc/tapclient/a.toml"))
        );
        assert!(args.force);
        let err = parse(&["import"]).unwrap_err();
        assert_eq!(err.exit_code(), exit::USAGE);
    }

    #[test]
    fn verbosity_maps_to_log_filters() {
        let filter = |args: &[&str]| parse(args).unwrap().log_filter();
        assert_eq!(filter(&[]), "info");
        assert_eq!(filter(&["-q"]), "warn");
        assert_eq!(filter(&["-qq"]), "error");
        assert_eq!(filter(&["-v"]), "info,tapclient=debug");
        assert_eq!(filter(&["check", "-vv"]), "debug,tapclient=trace");
        assert_eq!(filter(&["run", "-vvv"]), "trace");
        assert_eq!(filter(&["-vvvv"]), "trace");
    }

    #[test]
    fn help_and_version_are_not_errors() {
        let help = parse(&["--help"]).unwrap_err();
        assert_eq!(help.kind(), ErrorKind::DisplayHelp);
        assert_eq!(help.exit_code(), exit::OK);
        let version = parse(&["--version"]).unwrap_err();
        assert_eq!(version.kind(), ErrorKind::DisplayVersion);
        assert!(version.to_string().contains(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn long_help_documents_every_exit_code_and_rust_log() {
        let help = Cli::command().render_long_help().to_string();
        let codes = [
            (exit::OK, "stopped cleanly"),
            (exit::RUNTIME, "runtime failure"),
            (exit::USAGE, "usage or config error"),
            (exit::CREDENTIALS, "credentials unusable"),
            (exit::SERVER_AUTH, "server authentication failed"),
            (exit::SYSTEM, "system error"),
            (exit::UNREACHABLE, "server unreachable"),
        ];
        for (code, meaning) in codes {
            let line = format!("  {code}  {meaning}");
            assert!(help.contains(&line), "missing {line:?} in:\n{help}");
        }
        assert!(help.contains("RUST_LOG"));
    }
}
