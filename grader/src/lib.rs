//! The kit's grader: it runs a lab's programs as real processes on real UDP
//! sockets, puts its own proxy between them, and checks what they print,
//! what they send, and how they end.
//!
//! ```text
//!  spec.yaml ──▶ spec ──▶ runner ──▶ procs  (server, client: real processes,
//!                           │                 each in its own process group)
//!                           ├──────▶ proxy  (every datagram passes through it:
//!                           │                 recorded, dropped, duplicated, delayed)
//!                           ├──────▶ script (peers the grader plays itself)
//!                           └──▶ judge: transcript, wire, exit status, CPU ──▶ report
//! ```
//!
//! # Layout
//! - [`spec`] — the `spec.yaml` format, parsed strictly, errors with file:line:column.
//! - [`transcript`] — expected output: line patterns, repeats, unordered groups.
//! - [`kit`] — where labs and solutions are; building them, or `--bin-dir`.
//! - [`ports`] — leasing free UDP ports so tests run side by side.
//! - [`procs`] — launching programs; nothing outlives a test, a Ctrl+C or a panic.
//! - [`proxy`] — the interposed network and its seeded faults.
//! - [`script`] — peers played by the grader (a lying server, a garbage-sending client).
//! - [`wire`] — checks on recorded datagrams.
//! - [`runner`] — one test from start to verdict.
//! - [`grade`] — a lab's tests in parallel, reported in order.
//! - [`report`] — what is printed, coloured only on a terminal.
//! - [`skeleton`] — generating the student skeletons from the solutions.
//! - [`check`] — `grader check`, the instructor's proof that the kit is sound.
//!
//! The grader needs Linux: it reads `/proc` for CPU use, bound ports and
//! process groups.

/// `println!` that ignores a closed standard output (`grader hw1 | head`)
/// instead of panicking: the grading goes on and still cleans up.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub mod check;
pub mod grade;
pub mod kit;
pub mod ports;
pub mod procs;
pub mod proxy;
pub mod report;
pub mod runner;
pub mod script;
pub mod skeleton;
pub mod spec;
pub mod transcript;
pub mod wire;
