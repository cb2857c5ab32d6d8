//! A simpletun-compatible TAP server (server mode only): a test peer for tapclient.
//!
//! Wire format and limits: `shared/simpletun-wire.md`. This is a clean-room implementation of
//! the documented behaviour; no simpletun code is used.

pub mod record;
pub mod server;
pub mod tap;

pub use server::{run, Options};

/// Usage text for `--help` and argument errors.
pub const USAGE: &str = "\
usage: tapserver --tap NAME [--listen ADDR:PORT] [--once] [--faithful] [--log-frames]

  --tap NAME          TAP interface to create or attach to (IFF_TAP|IFF_NO_PI); addresses
                      and link state are left to the caller
  --listen ADDR:PORT  where to accept clients (default 0.0.0.0:55555)
  --once              serve exactly one client, exit when it disconnects (like simpletun)
  --faithful          emulate simpletun: no TCP_NODELAY, length and frame in two write()s
  --log-frames        log every frame (direction, length, MACs, EtherType)
";

/// Parses the command line (without the program name).
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Option<Options>, String> {
    let mut tap = None;
    let mut listen: std::net::SocketAddr = ([0, 0, 0, 0], 55555).into();
    let mut once = false;
    let mut faithful = false;
    let mut log_frames = false;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--tap" => tap = Some(it.next().ok_or("--tap needs a NAME")?),
            "--listen" => {
                let v = it.next().ok_or("--listen needs ADDR:PORT")?;
                listen = v
                    .parse()
                    .map_err(|e| format!("--listen {v:?}: {e} (expected ADDR:PORT)"))?;
            }
            "--once" => once = true,
            "--faithful" => faithful = true,
            "--log-frames" => log_frames = true,
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let tap = tap.ok_or("--tap NAME is required")?;
    Ok(Some(Options {
        tap,
        listen,
        once,
        faithful,
        log_frames,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Options>, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults() {
        let o = parse(&["--tap", "tap0"]).unwrap().unwrap();
        assert_eq!(o.tap, "tap0");
        assert_eq!(o.listen, "0.0.0.0:55555".parse().unwrap());
        assert!(!o.once && !o.faithful && !o.log_frames);
    }

    #[test]
    fn all_flags() {
        let o = parse(&[
            "--listen",
            "127.0.0.1:4000",
            "--once",
            "--faithful",
            "--log-frames",
            "--tap",
            "t1",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(o.listen, "127.0.0.1:4000".parse().unwrap());
        assert!(o.once && o.faithful && o.log_frames);
    }

    #[test]
    fn errors() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["--tap"]).is_err());
        assert!(parse(&["--tap", "t", "--listen", "nope"]).is_err());
        assert!(parse(&["--tap", "t", "--bogus"]).is_err());
        assert_eq!(parse(&["--help"]), Ok(None));
    }
}
