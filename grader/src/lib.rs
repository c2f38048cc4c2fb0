//! The kit's grader: it runs a lab's programs as real processes on real UDP
//! sockets, puts its own proxy between them, and checks what they print,
//! what they send, and how they end.
//!
//! The grader is four stages, and every arrow points one way:
//!
//! ```text
//!  spec.yaml ──▶ spec ──▶ run ──────────▶ check ──────────▶ report
//!               format    processes,       transcripts,      human, json,
//!               validation proxy, scripted wire, end state    junit, gradescope
//!                         peers ──▶ the record
//! ```
//!
//! `kit` (finding labs, building them) sits underneath and uses none of
//! them; `grade` drives the stages for a lab, `audit` for `grader check`.
//!
//! # Layout
//! - [`spec`] — the `spec.yaml` format, parsed strictly, errors with file:line:column.
//! - [`run`] — one test from start to end: ports, processes, the proxy, scripted peers.
//! - [`check`] — judging a run: transcripts, the wire, the end state.
//! - [`report`] — what is printed, coloured only on a terminal.
//! - [`kit`] — where labs and solutions are; building them, or `--bin-dir`.
//! - [`grade`] — a lab's tests in parallel, reported in order.
//! - [`audit`] — `grader check`, the instructor's proof that the kit is sound.
//! - [`skeleton`] — generating the student skeletons from the solutions.
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

pub mod audit;
pub mod check;
pub mod grade;
pub mod kit;
pub mod report;
pub mod run;
pub mod skeleton;
pub mod spec;
