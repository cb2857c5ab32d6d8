//! The program: from a parsed command line to an exit code.
//!
//! Order of a run, chosen so that nothing on the system changes until everything that can be
//! checked offline has been: config → credentials and TLS setup → TUN → addresses and routes
//! (undo journal) → tunnel. Every exit path after the TUN exists undoes the journal and closes
//! the TUN: a clean stop, a fatal error, and a panic (the journal's `Drop` runs on unwinding).

mod netsetup;
mod openvpn;

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::cli::{exit, Cli, Command, ImportArgs};
use crate::config::{self, Config, ConfigError, TlsConfig};
use crate::credentials::PromptCache;
use crate::credentials::{self, CredentialsError};
use crate::driver::{
    self, Controls, DriverConfig, DriverError, Protocol, Reload, RunStats, TlsSetup,
};
use crate::ether::Bridge;
use crate::netcfg::{InterfaceSettings, NetcfgError};
use crate::status::{self, Reporter};
use crate::tls::{self, TlsError};
use crate::tun::{OsTun, TunError};
use netsetup::{NetSetup, RoutePolicy};

/// Everything that stops the program, sorted by who can fix it (see the exit codes in `cli`).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("no configuration file: use --config FILE (see tapclient --help)")]
    NoConfig,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Tun(#[from] TunError),
    #[error("cannot configure the network: {0}")]
    Netcfg(#[from] NetcfgError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error("an OpenVPN server needs the [tls] section (ca and pkcs12) in the config")]
    OpenVpnWithoutTls,
    #[error(transparent)]
    OpenVpnSetup(#[from] openvpn::OpenVpnSetupError),
    #[error("status socket: {0}")]
    StatusServer(#[from] status::ServeError),
    #[error(transparent)]
    StatusQuery(#[from] status::QueryError),
}

impl AppError {
    /// The documented exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::NoConfig | AppError::Config(_) | AppError::OpenVpnWithoutTls => exit::USAGE,
            AppError::Credentials(_) | AppError::Tls(_) | AppError::OpenVpnSetup(_) => {
                exit::CREDENTIALS
            }
            AppError::Tun(_) | AppError::Netcfg(_) | AppError::Runtime(_) => exit::SYSTEM,
            AppError::Driver(DriverError::Authentication(_)) => exit::SERVER_AUTH,
            AppError::Driver(DriverError::Unreachable { .. }) => exit::UNREACHABLE,
            AppError::Driver(DriverError::System(_)) => exit::SYSTEM,
            AppError::Driver(DriverError::Refused(_)) => exit::RUNTIME,
            AppError::StatusServer(_) => exit::SYSTEM,
            AppError::StatusQuery(status::QueryError::PermissionDenied(_)) => exit::SYSTEM,
            AppError::StatusQuery(_) => exit::RUNTIME,
        }
    }
}

/// Runs the command line and returns the process exit code. Errors are printed here, once.
pub fn main_with(cli: Cli) -> i32 {
    init_logging(&cli);
    let result = match (cli.subcommand(), cli.config_path()) {
        (Command::Import(args), _) => return import(&args),
        (_, None) => Err(AppError::NoConfig),
        (Command::Check, Some(path)) => check(path),
        (Command::Run, Some(path)) => run(path),
        (Command::Status { json }, Some(path)) => show_status(path, json),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("tapclient: error: {}", error_chain(&e));
            e.exit_code()
        }
    }
}

/// `tapclient import`: the summary on standard output, what was left out on standard error.
fn import(args: &ImportArgs) -> i32 {
    match crate::import::run(&args.profile, args.output.as_deref(), args.force) {
        Ok(report) => {
            print!("{report}");
            for line in report.problems() {
                eprintln!("tapclient: {line}");
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("tapclient: error: {}", error_chain(&e));
            e.exit_code()
        }
    }
}

fn init_logging(cli: &Cli) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cli.log_filter()));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// `err` and its causes on one line, skipping causes whose text the message already shows.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}

/// `tapclient check`: validate the config and open the credentials, without connecting.
fn check(path: &Path) -> Result<(), AppError> {
    let config = config::load(path)?;
    println!("config: {} is valid", config.source.display());
    let protocol_name = match config.server.protocol {
        config::Protocol::Simpletun => "simpletun",
        config::Protocol::OpenVpn => "openvpn",
    };
    for (i, remote) in config.server.remotes.iter().enumerate() {
        let order = if config.server.remotes.len() > 1 {
            format!(" #{}", i + 1)
        } else {
            String::new()
        };
        println!("server{order}: {remote} ({protocol_name})");
    }
    println!(
        "ethernet: mac {}{}",
        config.ethernet.mac,
        if config.ethernet.mac_derived {
            " (derived from the config)"
        } else {
            ""
        }
    );
    match &config.ip {
        Some(ip) => println!("ip: {}", ip.address),
        None => println!("ip: pushed by the server"),
    }
    match &config.tls {
        None => println!("tls: off (plain TCP: the server is not authenticated)"),
        Some(tls_config) => {
            let ca = credentials::load_ca(&tls_config.ca)?;
            println!(
                "tls: CA {} ({} certificate(s))",
                tls_config.ca.display(),
                ca.len()
            );
            let cache = PromptCache::default();
            let identity =
                credentials::load_pkcs12_cached(&tls_config.pkcs12, &tls_config.password, &cache)?;
            println!(
                "tls: client certificate {}: subject {}, expires {}",
                tls_config.pkcs12.display(),
                identity.subject(),
                identity.not_after()
            );
            // What a run builds before it touches the system (the key files too), without
            // opening the PKCS#12 twice (a second password prompt).
            let client = tls::client_config(&ca, identity, tls_config.verify_name.as_deref())?;
            if let Some(openvpn) = &config.openvpn {
                self::openvpn::settings(&config, openvpn, client, &cache)?;
                if let Some(login) = &openvpn.auth_user_pass {
                    let login = credentials::load_user_pass(login, &cache)?;
                    println!("auth-user-pass: username {}", login.username);
                }
            }
        }
    }
    if let Some(openvpn) = &config.openvpn {
        match &openvpn.wrap {
            config::ControlWrap::None => println!("openvpn: no tls-auth/tls-crypt"),
            config::ControlWrap::TlsAuth {
                key,
                direction,
                digest,
            } => println!(
                "openvpn: tls-auth {} ({}, key-direction {})",
                key.display(),
                digest.name(),
                direction.map_or("none".to_owned(), |d| d.to_string())
            ),
            config::ControlWrap::TlsCrypt { key } => {
                println!("openvpn: tls-crypt {}", key.display())
            }
        }
        println!(
            "openvpn: data ciphers offered {}",
            openvpn.ciphers.join(":")
        );
    }
    println!("status: {}", config.status_socket.display());
    println!("ok");
    Ok(())
}

fn client_tls(
    tls_config: &TlsConfig,
    cache: &PromptCache,
) -> Result<Arc<rustls::ClientConfig>, AppError> {
    let ca = credentials::load_ca(&tls_config.ca)?;
    let identity =
        credentials::load_pkcs12_cached(&tls_config.pkcs12, &tls_config.password, cache)?;
    tracing::info!(subject = %identity.subject(), expires = %identity.not_after(), "client certificate");
    Ok(tls::client_config(
        &ca,
        identity,
        tls_config.verify_name.as_deref(),
    )?)
}

/// How to talk to the server: the protocol, and TLS around the stream (simpletun only). Reads
/// every credential file; what the terminal was asked for once comes from `cache`.
fn protocol(
    config: &Config,
    cache: &PromptCache,
) -> Result<(Protocol, Option<TlsSetup>), AppError> {
    let tls_files = config.tls.as_ref();
    match (&config.openvpn, tls_files) {
        (Some(openvpn), Some(files)) => {
            let client = client_tls(files, cache)?;
            let settings = self::openvpn::settings(config, openvpn, client, cache)?;
            let protocol = Protocol::OpenVpn {
                settings: Arc::new(settings),
                tls_files: files.clone(),
            };
            Ok((protocol, None))
        }
        (Some(_), None) => Err(AppError::OpenVpnWithoutTls),
        (None, Some(files)) => {
            let setup = TlsSetup {
                config: client_tls(files, cache)?,
                settings: files.clone(),
            };
            Ok((Protocol::Simpletun, Some(setup)))
        }
        (None, None) => {
            tracing::warn!(
                "TLS is off: the server is not authenticated and traffic is not encrypted"
            );
            Ok((Protocol::Simpletun, None))
        }
    }
}

/// `tapclient --config FILE`: run the tunnel until SIGINT/SIGTERM.
fn run(path: &Path) -> Result<(), AppError> {
    let config = config::load(path)?;
    let cache = PromptCache::default();
    let (protocol, tls) = protocol(&config, &cache)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AppError::Runtime)?;
    runtime.block_on(run_tunnel(&config, protocol, tls, &cache))
}

/// SIGHUP: re-read the credential files (the config file itself is not re-read).
struct CredentialReload<'a> {
    config: &'a Config,
    cache: &'a PromptCache,
}

impl Reload for CredentialReload<'_> {
    fn reload(&mut self, driver: &mut DriverConfig) -> Result<(), String> {
        let (protocol, tls) = protocol(self.config, self.cache).map_err(|e| error_chain(&e))?;
        driver.protocol = protocol;
        driver.tls = tls;
        Ok(())
    }
}

async fn run_tunnel(
    config: &Config,
    protocol: Protocol,
    tls: Option<TlsSetup>,
    cache: &PromptCache,
) -> Result<(), AppError> {
    // Before anything changes on the system: a second client for this config stops here.
    let reporter = Reporter::for_config(&config.source);
    let status_server = status::Server::bind(&config.status_socket, reporter.clone())?;
    let mut tun = OsTun::open(config.tun.name.as_deref())?;
    reporter.set_tun(tun.name());
    let policy = config
        .openvpn
        .as_ref()
        .map(|o| RoutePolicy {
            nopull: o.route_nopull,
            routes: o.routes.clone(),
            redirect_gateway: o.redirect_gateway,
        })
        .unwrap_or_default();
    let mut net = NetSetup::new(
        tun.name().to_owned(),
        config.tun.mtu,
        config.ethernet.mac,
        policy,
    );
    // simpletun: nothing is pushed, the interface is configured now; OpenVPN: on the push.
    if let Some(ip) = &config.ip {
        net.apply(InterfaceSettings {
            ifname: tun.name().to_owned(),
            address: ip.address,
            mtu: config.tun.mtu,
            gateway: ip.gateway,
            routes: ip.routes.clone(),
            redirect: None,
        })?;
    }
    let mut bridge = net.bridge_config().map(Bridge::new);
    let mut driver_config = DriverConfig {
        protocol,
        remotes: config.server.remotes.clone(),
        tls,
        connect_timeout: config.server.connect_timeout,
        max_record: config.server.max_record,
        mtu: config.tun.mtu,
        reconnect: config.reconnect.clone(),
    };
    let shutdown = CancellationToken::new();
    let reconnect = Arc::new(tokio::sync::Notify::new());
    let signals = tokio::spawn(handle_signals(shutdown.clone(), reconnect.clone()));
    let mut stats = RunStats {
        reporter: reporter.clone(),
        ..RunStats::default()
    };
    let mut reload = CredentialReload { config, cache };
    let controls = Controls {
        shutdown: &shutdown,
        reconnect: &reconnect,
        reload: &mut reload,
    };
    let result = driver::run(
        &mut driver_config,
        &mut tun,
        &mut bridge,
        &mut net,
        controls,
        &mut stats,
    )
    .await;
    signals.abort();
    net.undo();
    drop(tun);
    reporter.publish(&stats.link, bridge.as_ref());
    tracing::info!(
        "stopped; network configuration undone; {}",
        reporter.summary()
    );
    drop(status_server);
    Ok(result?)
}

/// `tapclient status`: the running client's state and counters, as text or JSON.
fn show_status(path: &Path, json: bool) -> Result<(), AppError> {
    let config = config::load(path)?;
    let label = path.display().to_string();
    let timeout = std::time::Duration::from_secs(5);
    let (document, report) = status::query(&config.status_socket, &label, timeout)?;
    if json {
        print!("{document}");
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

/// Cancels `shutdown` on SIGINT or SIGTERM; notifies `reconnect` on every SIGHUP.
async fn handle_signals(shutdown: CancellationToken, reconnect: Arc<tokio::sync::Notify>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!(
            "cannot install signal handlers; stop tapclient with SIGKILL only as a last resort"
        );
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: disconnecting"),
            _ = int.recv() => tracing::info!("SIGINT: disconnecting"),
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reconnecting with freshly read credentials");
                reconnect.notify_one();
                continue;
            }
        }
        shutdown.cancel();
        return;
    }
}
