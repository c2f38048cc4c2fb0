//! `client [PORT...] [--seed S] [--count N] [--concurrency W]
//! [--policy p2c|random|least] [--timeout-ms MS] [--tries T] [--keys K]`:
//! the client of lab hw4.
//!
//! Sends N reads (5 by default) to the servers on 127.0.0.1:PORT... (5001 to
//! 5004), up to W at a time (1), each to the server the policy chooses (the
//! power of two choices by default). Prints each request and its reply, and
//! at the end, on stderr, how many requests each server answered.

use std::process::ExitCode;

use hw4_balance::cli::ClientArgs;
use hw4_balance::client;

fn main() -> ExitCode {
    let args =
        ClientArgs::try_parse_checked(std::env::args_os()).unwrap_or_else(|error| error.exit());
    match client::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("client: {error}");
            ExitCode::FAILURE
        }
    }
}
