//! `grader`: grade a lab of the kit, list the labs, or check the kit.
//!
//! This sets the process up and hands the command line to
//! [`grader::cli::run`]: first the keeper (this process may be the keeper
//! of the real grader), then the clean-up on signals, and at the end the
//! way out.

use std::process::ExitCode;

use grader::cli::{self, Cli};
use sandbox::{Leave, keeper};

fn main() -> ExitCode {
    match keeper::start() {
        Ok(keeper::Role::Worker) => {}
        Ok(keeper::Role::Done(worker)) => return cli::keeper_done(worker),
        Err(e) => {
            eprintln!("grader: cannot start: {e}");
            return ExitCode::from(2);
        }
    }
    let cleanup = match sandbox::install_cleanup(cli::report_interrupt) {
        Ok(cleanup) => cleanup,
        Err(e) => {
            eprintln!("grader: cannot set up signal handling: {e}");
            return ExitCode::from(2);
        }
    };
    grader::report::init_color();
    let code = match cli::run(Cli::from_env()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("grader: {e:#}");
            ExitCode::from(2)
        }
    };
    match cleanup.finish() {
        Leave::Finished => code,
        // A signal ended the grader: its clean-up killed every program.
        Leave::Interrupted => ExitCode::from(130),
    }
}
