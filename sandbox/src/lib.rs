//! The grader's sandbox: it starts untrusted programs as a shell would,
//! under hard limits, and makes sure that nothing they start outlives
//! them, whatever they do and however the grader ends.
//!
//! The grader runs students' programs as real processes. A program may
//! fork, daemonise with `setsid`, double-fork, spin, eat memory, print
//! without end or start a fork bomb; the grader may be stopped with
//! Ctrl+C, killed by a CI runner, or panic. This crate is the part of the
//! grader that deals with all of that and with nothing else: it knows no
//! spec, no test and no record. A caller starts a [`Program`] with an
//! [`Observer`] of its own, and is told what the program prints, which
//! limit it went past, what it left running and how it ended. It is a
//! crate of its own so that the `unsafe` code, the process-wide state and
//! the signal handling the grader needs sit behind a small API, tested
//! by themselves. It is Linux-only: it reads `/proc`, and uses cgroup v2
//! where the machine delegates it.
//!
//! Production systems do the same with heavier tools: systemd puts each
//! service in a cgroup of its own and kills the cgroup; container
//! runtimes add namespaces and seccomp. A grader on a student's laptop
//! cannot count on any of them, so this crate falls back to process
//! groups, a child subreaper and `/proc` where cgroups are not delegated.
//!
//! The names it gives things are the grader's: the `GRADER_PROGRAM`,
//! `GRADER_CGROUP` and `GRADER_KEEPER` variables, the `grader-PID`
//! cgroups.
//!
//! # How a grader uses it
//!
//! 1. First thing in `main`: [`keeper::start`], which makes this process
//!    the keeper of a worker or the worker itself; then, in the worker,
//!    [`install_cleanup`].
//! 2. For each program: [`Program::spawn`] with a [`Launch`] and an
//!    [`Observer`]; [`Program::signal`], [`Program::kill`] and
//!    [`Program::wait`] while it runs.
//! 3. At the end of `main`: [`Cleanup::finish`] says how to leave.
//!
//! # Layout
//! - `program` — [`Program`]: starting one as a shell would, reading its
//!   output, reaping it, killing it.
//! - `observer` — [`Observer`]: what the sandbox tells a caller, and the
//!   types it tells it with.
//! - `contain` — starting a program (`clone(2)` with `CLONE_VM | CLONE_VFORK`)
//!   and its set-up before `execve(2)`: signals, rlimits,
//!   cgroup, user, parent-death signal (with [`net`], the only `unsafe`
//!   code).
//! - [`identity`] — [`Identity`]: the unprivileged user programs run as
//!   when the grader is root, and killing every process of it.
//! - [`net`] — [`net::Loopback`]: a network namespace of its own, with only
//!   the loopback interface, for the thread of one test.
//! - `family` — every process a program starts, found (cgroup v2 or
//!   tracking), measured and killed; [`describe`] says which way.
//! - `warden` — the thread that kills a family past its memory or process
//!   limit.
//! - `signals` — [`install_cleanup`]: Ctrl+C, SIGTERM, SIGHUP and panics
//!   kill every program; the exit with status 130.
//! - [`keeper`] — the parent process that outlives a killed grader and
//!   kills what it left.
//! - `global` — the process-wide state, all of it, and why each piece must
//!   be process-wide.

mod contain;
mod family;
mod global;
pub mod identity;
pub mod keeper;
pub mod net;
mod observer;
mod program;
mod signals;
mod warden;

pub use family::describe;
pub use identity::Identity;
pub use observer::{Exit, Limit, Observer, Status, Stray, Stream};
pub use program::{Launch, Limits, Program, Sched};
pub use signals::{Cleanup, Leave, install_cleanup};
