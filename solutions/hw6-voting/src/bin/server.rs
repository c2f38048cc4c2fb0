//! `server [PORT] [--faulty | --honest]`: a server of lab hw6.
//!
//! Binds 127.0.0.1:PORT (5001 by default) and answers every READ_REQ with
//! a READ_REP: `DDDDCCCCBBBBAAA` when honest, `SSWUCSE` when faulty, until
//! Ctrl+C or SIGTERM. Without a flag, the server on port 5003 is the faulty
//! one, as in the course.

use std::process::ExitCode;

use clap::Parser;
use hw6_voting::cli::ServerArgs;
use hw6_voting::server;

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
