//! `client [PORT] [--seed S] [--count N] [--timeout-ms MS] [--tries T]`: the
//! client of lab hw1.
//!
//! Sends N READ_REQs (5 by default) to the server on 127.0.0.1:PORT (5001 by
//! default), one at a time, and prints each request and its reply.

use std::process::ExitCode;

use clap::Parser;
use hw1_udp_echo::cli::ClientArgs;
use hw1_udp_echo::client;

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
