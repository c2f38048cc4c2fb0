//! `server [PORT] [--role primary|backup] [--backups PORT...]
//! [--timeout-ms MS] [--tries T]`: a replica of lab hw5.
//!
//! Binds 127.0.0.1:PORT (5001 by default). The primary (by default the
//! server on 5001) serves the client and forwards each write to its backups
//! (5002 and 5003 by default); a backup applies what the primary forwards.
//! Both run until Ctrl+C or SIGTERM.

use std::process::ExitCode;

use hw5_primary_backup::cli::parse_server_args;
use hw5_primary_backup::server;

fn main() -> ExitCode {
    let args = match parse_server_args(std::env::args_os()) {
        Ok(args) => args,
        // A usage error (status 2), or --help (status 0).
        Err(error) => error.exit(),
    };
    match server::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("server: {error}");
            ExitCode::FAILURE
        }
    }
}
