//! `client [PORT...] [--seed S] [--count N] [--faults F] [--keys K]
//! [--timeout-ms MS] [--tries T]`: the client of lab hw6.
//!
//! Sends N reads (5 by default), one at a time, each to every server
//! (127.0.0.1:5001, 5002 and 5003 by default), and prints `True` as soon as
//! F+1 distinct servers agree on the value, `False` when no value can get
//! there.

use std::process::ExitCode;

use hw6_voting::cli::ClientArgs;
use hw6_voting::client;

fn main() -> ExitCode {
    let args = match ClientArgs::try_from_args(std::env::args_os()) {
        Ok(args) => args,
        // A usage error: clap prints it and exits with status 2 (or prints
        // the help and exits with 0).
        Err(error) => error.exit(),
    };
    match client::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("client: {error}");
            ExitCode::FAILURE
        }
    }
}
