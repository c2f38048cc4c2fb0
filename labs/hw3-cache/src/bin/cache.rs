//! `cache [PORT] [--capacity C]`: the look-aside cache of lab hw3.
//!
//! Binds 127.0.0.1:PORT (5001 by default) and answers CACHE_HIT or
//! CACHE_MISS to READ_REQs, and stores the WRITE_REQs it is sent in an LRU
//! of at most C keys (16 by default), until Ctrl+C or SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use hw3_cache::cache;
use hw3_cache::cli::CacheArgs;

fn main() -> ExitCode {
    let args = CacheArgs::parse();
    match cache::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cache: {error}");
            ExitCode::FAILURE
        }
    }
}
