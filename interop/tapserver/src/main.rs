//! `tapserver`: see the crate documentation and `--help`.
//! Exit codes: 0 done (`--once`) or stopped by SIGTERM/SIGINT, 1 runtime error, 2 usage error.

use std::process::ExitCode;
use tapserver::server::log;

fn main() -> ExitCode {
    let opts = match tapserver::parse_args(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{}", tapserver::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprint!("tapserver: {e}\n{}", tapserver::USAGE);
            return ExitCode::from(2);
        }
    };
    if let Err(e) = exit_on_signals() {
        log(&format!("cannot set up signal handling: {e}"));
        return ExitCode::from(1);
    }
    match tapserver::run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log(&format!("error: {e}"));
            ExitCode::from(1)
        }
    }
}

/// Blocks SIGTERM and SIGINT in every thread (threads inherit the mask) and waits for them on a
/// dedicated thread, which exits 0. The TAP (unless persistent) goes away with the process.
fn exit_on_signals() -> std::io::Result<()> {
    // SAFETY: plain signal-set manipulation on a local, zero-initialised sigset_t.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        set
    };
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let mut sig: libc::c_int = 0;
            // SAFETY: `set` is an initialised sigset_t and `sig` a valid out-pointer.
            if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
                let name = if sig == libc::SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                log(&format!("{name} received, exiting"));
                std::process::exit(0);
            }
        })?;
    Ok(())
}
