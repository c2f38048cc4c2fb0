//! `server [PORT]`: one partition of the key-value store of lab hw2.
//!
//! Binds 127.0.0.1:PORT (5001 by default) and serves reads and writes until
//! Ctrl+C or SIGTERM. The course runs two: `./server 5001` and
//! `./server 5002`.

use std::process::ExitCode;

use clap::Parser;
use hw2_kv_store::cli::ServerArgs;
use hw2_kv_store::server;

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
