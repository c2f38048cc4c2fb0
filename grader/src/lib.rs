//! The kit's grader: it runs a lab's programs as real processes on real UDP
//! sockets, puts its own proxy between them, and checks what they print,
//! what they send, and how they end.
//!
//! The grader is four stages, and every arrow points one way:
//!
//! ```text
//!  spec.yaml ──▶ spec ──▶ run ──────────▶ judge ──────────▶ report
//!               format    processes,       transcripts,      human, json,
//!               validation proxy, scripted wire, end state    junit, gradescope
//!                         peers ──▶ the record
//! ```
//!
//! `kit` (finding labs, building them) sits underneath and uses none of
//! them; `grade` drives the stages for a lab, `check` for `grader check`,
//! and `cli` reads the command line and calls them. Underneath `run`, the
//! [`sandbox`] crate starts the programs and makes sure nothing they start
//! outlives a test, or the grader.
//!
//! A kind of wire check is one file of [`judge::wire`] that holds its
//! shape in the spec, its validation and its judging together; the spec
//! lists those kinds ([`spec::WireCheck`]) and calls their validation,
//! which is the one place the spec reaches into the judge. Once valid, a
//! test is resolved into a [`spec::plan::Plan`]: nodes by index, never by
//! name, from there on.
//!
//! What flows between the stages is data: [`run`] writes one typed record
//! of each run ([`run::record::Record`]: process events, output lines and
//! datagrams with their fate, and apart from them the datagrams the proxy
//! forged, all timed, bounded whatever a program does,
//! with counts of every datagram); [`judge`] turns a record into
//! a verdict of typed results; [`report`] renders verdicts and records.
//! Nothing downstream parses text.
//!
//! # Layout
//! - [`spec`] — the `spec.yaml` format, validation with file:line:column (from the YAML parser's positions), the resolved plan, the JSON Schema.
//! - [`run`] — one test from start to end: ports, processes (in the [`sandbox`]), the proxy, scripted peers, the record.
//! - [`judge`] — judging a record: processes, steps, transcripts, the wire (one module per kind of check), the end state.
//! - [`report`] — the human report, JSON, JUnit XML, Gradescope.
//! - [`kit`] — where labs and solutions are; building them, or `--bin-dir`.
//! - [`grade`] — every selected test of every lab in one pool, the longest first, reported lab by lab in order.
//! - [`check`] — `grader check`, the instructor's proof that the kit is sound, with its mutants.
//! - [`mod@bench`] — `grader bench`: the reference servers under load beside a baseline, idle, and grading's wall time.
//! - [`skeleton`] — generating the student skeletons from the solutions.
//! - [`watch`] — `grader watch`: grading again after each change to a lab's files.
//! - [`cli`] — the command line: its clap types (the help text), and doing what it asks.
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

pub mod bench;
pub mod check;
pub mod cli;
pub mod confine;
pub mod grade;
pub mod judge;
pub mod kit;
pub mod pool;
pub mod report;
pub mod run;
pub mod shrink;
pub mod skeleton;
pub mod spec;
pub mod watch;
