//! What the sandbox tells about a program, as it happens: the
//! [`Observer`] a caller hands to [`Program::spawn`](crate::Program::spawn),
//! and what it is told.
//!
//! The sandbox keeps no history of its own. Its caller decides what to
//! keep and how to time it (the grader writes each call into the record
//! of a test, on the test's clock). Every call comes from a thread of the
//! sandbox's: the two that read the program's output, the one that reaps
//! it, and the warden. So an observer is `Send + Sync`, and must not block
//! for long in any call but [`Observer::wait_closed`].

use std::time::{Duration, Instant};

use nix::unistd::Pid;

/// One of the two output streams of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// A hard limit a program went past (its value, as the
/// [`Limits`](crate::Limits) set it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Resident memory of the program and its processes, in bytes.
    Memory(u64),
    /// Processes and threads at once.
    Processes(u32),
    /// CPU time of one process.
    Cpu(Duration),
}

/// How a program ended, as `waitid(2)` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it (its number: a signal this machine has no name
    /// for stays a number).
    Signal(i32),
}

/// A process a program left running when it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stray {
    /// Its process id.
    pub pid: i32,
    /// Its command line, at most 80 characters.
    pub command: String,
}

/// The end of a program, told once, when the reaper saw it (before the
/// sandbox killed what it left and reaped it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// When the reaper saw it end: the time of everything below.
    pub at: Instant,
    /// How it ended.
    pub status: Status,
    /// The limit it went past, if its end says so: the kernel's SIGXCPU,
    /// or SIGKILL at the hard CPU limit. (The warden's limits are told
    /// when it acts, through [`Observer::exceeded`].)
    pub exceeded: Option<Limit>,
    /// What it left running, which the sandbox then killed: all of it if
    /// the program ended on its own; if the caller (or a limit) ended it,
    /// what had left its process group.
    pub strays: Vec<Stray>,
    /// Whether the program ended on its own.
    pub on_exit: bool,
    /// Whether every stray had left the program's process group: daemons,
    /// in the background.
    pub escaped: bool,
}

/// Who is told what a program does. One observer per program.
pub trait Observer: Send + Sync {
    /// The program was started as process `pid` (also its process group),
    /// at `at`, taken before the fork, so that whatever the program does
    /// comes after. Told before anything else.
    fn started(&self, at: Instant, pid: Pid);

    /// It printed a line on `stream` (without its `\n` or `\r\n`; a last
    /// line without either counts too; invalid UTF-8 replaced by `�`).
    fn line(&self, stream: Stream, text: String);

    /// `stream` reached end of file, or the sandbox stopped reading it.
    fn closed(&self, stream: Stream);

    /// It printed more than `limit` bytes on `stream`: the rest is drained
    /// unread, and the program killed.
    fn flooded(&self, stream: Stream, limit: usize);

    /// It went past `limit` (memory or processes): the warden is killing
    /// it.
    fn exceeded(&self, limit: Limit);

    /// It ended; told once.
    fn exited(&self, exit: Exit);

    /// Blocks until both streams are [closed](Observer::closed), or until
    /// the observer gives up on them (the grader waits until the test's
    /// time limit): a process outside the sandbox's reach may hold a pipe
    /// open. Called by [`Program::wait`](crate::Program::wait).
    fn wait_closed(&self);
}
