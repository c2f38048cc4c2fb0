//! `server [PORT]`: the storage server of lab hw3.
//!
//! Binds 127.0.0.1:PORT (5002 by default), stores WRITE_REQs and answers
//! READ_REQs with the value stored last, printing every reply it sends,
//! until Ctrl+C or SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use hw3_cache::cli::ServerArgs;
use hw3_cache::server;

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
