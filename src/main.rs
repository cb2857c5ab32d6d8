//! `tapclient`: parse the command line, run, map the result to the process exit code.
//! All logic lives in the library (`tapclient::app`).

use clap::Parser;

fn main() {
    let cli = tapclient::cli::Cli::parse();
    std::process::exit(tapclient::app::main_with(cli));
}
