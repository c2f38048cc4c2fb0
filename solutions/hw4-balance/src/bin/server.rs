//! `server [PORT] [--delay-ms D]`: a server of lab hw4.
//!
//! Binds 127.0.0.1:PORT (5001 by default) and answers every READ_REQ with
//! `READ_REP key DDDCCCCBBBBAAAA`, one at a time, each after D milliseconds
//! (0 by default), until Ctrl+C or SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use hw4_balance::cli::ServerArgs;
use hw4_balance::server;

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
