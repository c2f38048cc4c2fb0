//! `client [PRIMARY_PORT] [--seed S] [--count N] [--keys K] [--timeout-ms MS]
//! [--tries T]`: the client of lab hw5.
//!
//! Sends N random reads and writes (5 by default), one at a time, to the
//! primary on 127.0.0.1:PRIMARY_PORT (5001), and prints each request and its
//! reply.

use std::process::ExitCode;

use clap::Parser;
use hw5_primary_backup::cli::ClientArgs;
use hw5_primary_backup::client;

fn main() -> ExitCode {
    let args = ClientArgs::parse();
    match client::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("client: {error}");
            ExitCode::FAILURE
        }
    }
}
