//! `client [PORT]... [--seed S] [--count N] [--timeout-ms MS] [--tries T]
//! [--keys K]`: the client of lab hw2.
//!
//! Sends N random reads and writes (5 by default), one at a time, each to
//! the server that owns its key among the servers on 127.0.0.1:PORT... (5001
//! and 5002 by default), and prints each request and its reply.

use std::process::ExitCode;

use clap::Parser;
use hw2_kv_store::cli::ClientArgs;
use hw2_kv_store::client;

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
