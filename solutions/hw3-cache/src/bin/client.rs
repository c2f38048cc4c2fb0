//! `client [CACHE_PORT] [SERVER_PORT] [--seed S] [--count N] [--timeout-ms MS]
//! [--tries T] [--keys K] [--zipf S] [--writes PCT]`: the client of lab hw3.
//!
//! Sends N requests (5 by default), one at a time: reads through the cache
//! on 127.0.0.1:CACHE_PORT (5001) with the storage server on
//! 127.0.0.1:SERVER_PORT (5002) behind it, and writes to the server and
//! then the cache. Prints each request and its answer, and at the end the
//! hit ratio on stderr.

use std::process::ExitCode;

use clap::Parser;
use hw3_cache::cli::ClientArgs;
use hw3_cache::client;

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
