//! The keeper: what is left to clean up when the grader is killed with
//! SIGKILL.
//!
//! A process killed with SIGKILL runs no code, so a grader cannot clean up
//! after its own SIGKILL (what a CI runner sends when its own time limit
//! passes). Each program dies with it (its parent-death signal, set
//! before `execve`), but what a program started, a daemon above
//! all, would live on. So the `grader` a person or CI starts is a small
//! *keeper*: it starts the real grader, the *worker*, as its one child
//! (the same executable, the same arguments, and the same `argv[0]`, so
//! that the worker names itself as the user called it), passes Ctrl+C,
//! SIGTERM and SIGHUP on to it, and waits. The keeper is a child
//! subreaper: when the worker ends, however it ends, every process left
//! below it comes back to the keeper, which kills them all, removes the
//! worker's cgroups and private directories, and exits with the worker's status (128 + the
//! signal, if a signal killed it). What to tell the user is the caller's:
//! [`start`] returns the [`Outcome`].
//!
//! If the keeper itself is killed, the worker gets SIGTERM from the kernel
//! (its parent-death signal) and cleans up as for a Ctrl+C. Only SIGKILL
//! of both at once (of their process group, say) leaves a daemon that
//! escaped its program's process group running where cgroups are not in
//! use.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::thread;
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpid, getppid};

use crate::family::{self, Stat};

/// Set in the worker's environment to the keeper's process id.
pub(crate) const WORKER_VARIABLE: &str = "GRADER_KEEPER";

/// What this process is to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Do the work: this is the worker.
    Worker,
    /// The keeper is done: exit as its [`Outcome`] says.
    Done(Outcome),
}

/// How the worker ended, and what the keeper cleaned up after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The status to exit with: the worker's exit code, 128 + the signal
    /// that killed it, 130 if the keeper died before the worker was set
    /// up, 2 if the worker could not be waited for.
    pub status: u8,
    /// How many processes the worker left running, which the keeper killed.
    pub swept: usize,
}

/// Sets up the worker, or runs the keeper until its worker is gone and
/// everything below it is killed. Call first thing in `main`, before any
/// thread exists.
///
/// # Errors
/// When the worker cannot be started or set up (`prctl(2)`, `fork(2)`).
pub fn start() -> std::io::Result<Role> {
    if let Some(keeper) = std::env::var_os(WORKER_VARIABLE) {
        nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
        if keeper.to_str() != Some(&getppid().to_string()) {
            // The keeper died before the line above: do as it would ask.
            return Ok(Role::Done(Outcome {
                status: 130,
                swept: 0,
            }));
        }
        return Ok(Role::Worker);
    }
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGHUP);
    signals.thread_block()?;
    family::become_subreaper()?;
    // `/proc/self/exe` runs even when the file was rebuilt meanwhile; the
    // worker still gets the name it was called by, for its messages.
    let mut args = std::env::args_os();
    let mut worker = Command::new("/proc/self/exe");
    if let Some(name) = args.next() {
        worker.arg0(name);
    }
    let child = worker
        .args(args)
        .env(WORKER_VARIABLE, getpid().to_string())
        .spawn()?;
    let worker = Pid::from_raw(child.id() as i32);
    thread::Builder::new()
        .name("forward".into())
        .spawn(move || {
            while let Ok(sig) = signals.wait() {
                let _ = kill(worker, sig);
            }
        })?;
    let status = loop {
        match waitpid(worker, None) {
            Ok(WaitStatus::Exited(_, code)) => break code,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break 2,
        }
    };
    let swept = sweep();
    family::remove_cgroups_of(worker);
    remove_private_dirs_of(worker);
    Ok(Role::Done(Outcome {
        status: u8::try_from(status).unwrap_or(2),
        swept,
    }))
}

/// The start of the names of the private directories a worker makes in
/// the temporary directory (see the grader's `confine`): the keeper
/// removes those a killed worker left.
pub fn private_dir_prefix(worker: u32) -> String {
    format!("grader-{worker}-")
}

/// Removes the private directories `worker` left, once nothing of it runs.
fn remove_private_dirs_of(worker: Pid) {
    let prefix = private_dir_prefix(worker.as_raw() as u32);
    let tmp = std::env::temp_dir();
    let Ok(entries) = std::fs::read_dir(&tmp) else {
        return;
    };
    for e in entries.flatten() {
        let ours = e
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(&prefix));
        let owned = std::os::unix::fs::MetadataExt::uid(&match e.path().symlink_metadata() {
            Ok(m) if m.is_dir() => m,
            _ => continue,
        }) == nix::unistd::geteuid().as_raw();
        if ours && owned {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Kills and reaps every process below the keeper, round after round
/// (each death may hand more orphans to the keeper); returns how many.
fn sweep() -> usize {
    let me = getpid().as_raw();
    let mut killed = std::collections::BTreeSet::new();
    for _ in 0..1000 {
        let mine: Vec<Stat> = family::all_processes()
            .into_iter()
            .filter(|s| s.ppid == me)
            .collect();
        if mine.is_empty() {
            break;
        }
        for s in &mine {
            if !matches!(s.state, 'Z' | 'X') {
                killed.insert(s.pid);
                let _ = kill(Pid::from_raw(s.pid), Signal::SIGKILL);
            }
            let _ = waitpid(Pid::from_raw(s.pid), Some(WaitPidFlag::WNOHANG));
        }
        thread::sleep(Duration::from_millis(2));
    }
    killed.len()
}
