//! Ctrl+C, SIGTERM, SIGHUP and a panic: whatever ends the grader, every
//! program it started ends first.
//!
//! The three signals are blocked in every thread and taken by a thread of
//! their own with `sigwait(3)`: a thread, not an asynchronous handler, so
//! that the clean-up may take locks, read `/proc` and print. It kills
//! every live family, removes the cgroups it can at once, reports to the
//! caller, who tells the user, and ends the process with status 130.
//!
//! The panic hook kills every live family before the default hook runs.

use std::thread;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};

use crate::family;
use crate::global;

/// Kills every live family; returns how many programs there were.
fn kill_all() -> usize {
    let live = global::live();
    for f in live.values() {
        f.end_by_grader();
        f.kill_now();
    }
    live.len()
}

/// Whether a signal is ending the grader; `main` then leaves the exit to
/// the signal's thread (status 130) rather than report a result.
pub fn interrupted() -> bool {
    global::interrupted()
}

/// Makes Ctrl+C, SIGTERM, SIGHUP and a panic of the grader kill every
/// program it started, and makes the grader a child subreaper (orphans of
/// its programs come back to it). Call first thing in `main`, before any
/// thread exists, so that every thread inherits the blocked signal mask.
/// (Programs do not: they start with the default mask and dispositions.)
///
/// `report` is called on the signal thread once the programs are killed,
/// with the signal and how many programs were running, to tell the user.
///
/// # Errors
/// When the signal mask cannot be set (`pthread_sigmask(3)`), the grader
/// cannot become a subreaper (`prctl(2)`), or the thread cannot start.
pub fn install_cleanup(report: impl Fn(Signal, usize) + Send + 'static) -> nix::Result<()> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGHUP);
    set.thread_block()?;
    family::become_subreaper()?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Ok(sig) = set.wait() {
                global::interrupt();
                let n = kill_all();
                family::cleanup(false);
                report(sig, n);
                // The only exit outside `main`: a signal ends the grader at once.
                std::process::exit(130);
            }
        })
        .map_err(|_| Errno::EAGAIN)?;
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        kill_all();
        default(info);
    }));
    Ok(())
}

/// Removes the grader's cgroups at its end, waiting a little for their
/// last members to be reaped (each program's is removed when it ends).
pub fn cleanup() {
    family::cleanup(true);
}
