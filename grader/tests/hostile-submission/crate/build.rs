//! The build script runs as whoever runs `cargo build`, before anything
//! is graded: it tries every attack of src/lib.rs and hands its lines to
//! the programs, which print them first.

#[path = "src/lib.rs"]
mod hostile;

use std::process::ExitCode;

fn main() -> ExitCode {
    if let Some(code) = hostile::daemon_requested() {
        return code;
    }
    let lines = hostile::attack("build");
    // One line of cargo's protocol: the lines joined by `|` (no os error has one).
    println!("cargo:rustc-env=HOSTILE_BUILD_LINES={}", lines.join("|"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src");
    ExitCode::SUCCESS
}
