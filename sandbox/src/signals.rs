//! Ctrl+C, SIGTERM, SIGHUP and a panic: whatever ends the grader, every
//! program it started ends first.
//!
//! The three signals are blocked in every thread and taken by a thread of
//! their own with `sigwait(3)`: a thread, not an asynchronous handler, so
//! that the clean-up may take locks, read `/proc` and print. It kills
//! every live family, removes the cgroups it can at once, and reports to
//! the caller, who tells the user. Then the process must end with status
//! 130, and only one thread may end it:
//!
//! - while `main` is still at work, the signal thread ends the process
//!   itself, at once, as a shell's Ctrl+C would;
//! - once `main` is done and asks how to leave ([`Cleanup::finish`]), it
//!   waits for the clean-up to be over, then exits with 130 itself.
//!
//! The two agree under one lock on the [`Phase`]. The signal thread ends
//! the process while holding it, so a `main` that finishes meanwhile
//! waits on the lock instead of calling `exit(3)` beside it (two threads
//! in `exit(3)` at once is undefined behaviour in C). No fixed delay is
//! involved: each waits for the other's step, and for nothing else.
//!
//! The panic hook kills every live family before the default hook runs.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
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

/// Where the ending stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No signal yet; `main` is at work.
    Working,
    /// A signal came; its clean-up is under way. `awaited` once `main`
    /// waits for it.
    Stopping { awaited: bool },
    /// The clean-up is over, and `main` was waiting: it exits with 130.
    Stopped,
    /// `main` finished first, and leaves with its own status; a signal now
    /// changes nothing.
    Leaving,
}

/// What the signal thread and `main` share.
struct Ending {
    phase: Mutex<Phase>,
    changed: Condvar,
}

impl Ending {
    fn new() -> Ending {
        Ending {
            phase: Mutex::new(Phase::Working),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A signal came: its clean-up begins, unless `main` is leaving
    /// already (then `false`).
    fn begin(&self) -> bool {
        let mut phase = self.lock();
        if *phase == Phase::Leaving {
            return false;
        }
        *phase = Phase::Stopping { awaited: false };
        true
    }

    /// The clean-up is over. If `main` waits for it, wakes it (it exits)
    /// and returns `None`; else returns the lock, for the signal thread to
    /// hold while it ends the process.
    fn end(&self) -> Option<MutexGuard<'_, Phase>> {
        let mut phase = self.lock();
        if *phase == (Phase::Stopping { awaited: true }) {
            *phase = Phase::Stopped;
            self.changed.notify_all();
            return None;
        }
        Some(phase)
    }

    /// `main` is done: if no signal came, it leaves with its own status;
    /// else it waits for the clean-up to be over.
    fn finish(&self) -> Leave {
        let mut phase = self.lock();
        match *phase {
            Phase::Working => {
                *phase = Phase::Leaving;
                Leave::Finished
            }
            Phase::Stopping { .. } => {
                *phase = Phase::Stopping { awaited: true };
                while *phase != Phase::Stopped {
                    phase = (self.changed.wait(phase)).unwrap_or_else(|e| e.into_inner());
                }
                Leave::Interrupted
            }
            Phase::Stopped => Leave::Interrupted,
            Phase::Leaving => Leave::Finished,
        }
    }
}

/// How `main` is to leave: [`Cleanup::finish`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// No signal came: exit with the status of the work.
    Finished,
    /// A signal ended the grader and every program is killed: exit with
    /// 130, as a shell reports a Ctrl+C.
    Interrupted,
}

/// The clean-up on signals and panics, installed; `main` keeps it to the
/// end and then asks it how to leave.
pub struct Cleanup {
    ending: Arc<Ending>,
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
pub fn install_cleanup(report: impl Fn(Signal, usize) + Send + 'static) -> nix::Result<Cleanup> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGHUP);
    set.thread_block()?;
    family::become_subreaper()?;
    let ending = Arc::new(Ending::new());
    let shared = Arc::clone(&ending);
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Ok(sig) = set.wait() {
                stop(&shared, sig, &report);
            }
        })
        .map_err(|_| Errno::EAGAIN)?;
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        kill_all();
        default(info);
    }));
    Ok(Cleanup { ending })
}

/// The signal thread's part, once `sig` came: kill every program, remove
/// the cgroups, `report`, then end the process, or let a waiting `main`
/// end it.
fn stop(ending: &Ending, sig: Signal, report: &dyn Fn(Signal, usize)) {
    if !ending.begin() {
        return;
    }
    let n = kill_all();
    family::cleanup(false);
    report(sig, n);
    if let Some(_held) = ending.end() {
        // `main` is still at work: end the grader now. The lock stays
        // held until the process is gone, so `main` cannot exit beside
        // this.
        std::process::exit(130);
    }
}

impl Cleanup {
    /// Called by `main` once its work is done. If no signal came, removes
    /// the grader's cgroups (waiting a little for their last members to be
    /// reaped) and says [`Leave::Finished`]; a signal that comes later is
    /// ignored. If a signal came, waits until its clean-up is over and
    /// says [`Leave::Interrupted`].
    pub fn finish(&self) -> Leave {
        let leave = self.ending.finish();
        if leave == Leave::Finished {
            family::cleanup(true);
        }
        leave
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Waits until `ending` is in `phase`; the bound only ends a broken run.
    fn wait_for(ending: &Ending, phase: Phase) {
        let t = Instant::now();
        while *ending.lock() != phase {
            assert!(t.elapsed() < Duration::from_secs(60), "never {phase:?}");
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn main_done_first_leaves_with_its_status_and_a_later_signal_does_nothing() {
        let e = Ending::new();
        assert_eq!(e.finish(), Leave::Finished);
        assert!(!e.begin(), "a signal after main finished began a clean-up");
    }

    #[test]
    fn main_done_during_the_clean_up_waits_for_it_and_exits_itself() {
        let e = Arc::new(Ending::new());
        assert!(e.begin());
        let main = {
            let e = Arc::clone(&e);
            thread::spawn(move || e.finish())
        };
        wait_for(&e, Phase::Stopping { awaited: true });
        assert!(
            e.end().is_none(),
            "the signal thread would exit beside main"
        );
        assert_eq!(main.join().unwrap(), Leave::Interrupted);
    }

    #[test]
    fn main_still_at_work_is_ended_by_the_signal_thread_under_the_lock() {
        let e = Arc::new(Ending::new());
        assert!(e.begin());
        let held = e.end().expect("the signal thread ends the process");
        assert_eq!(*held, Phase::Stopping { awaited: false });
        // A main that finishes now waits on the lock.
        assert!(e.phase.try_lock().is_err());
    }
}
