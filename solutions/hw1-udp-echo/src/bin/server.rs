//! `server [PORT]`: the echo server of lab hw1.
//!
//! Binds 127.0.0.1:PORT (5001 by default) and answers every request with a
//! READ_REP for the same key until Ctrl+C or SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use hw1_udp_echo::cli::ServerArgs;
use hw1_udp_echo::server;

fn main() -> ExitCode {
    let args = ServerArgs::parse();
    match server::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("server: {error}");
            ExitCode::FAILURE
        }
    }
}
