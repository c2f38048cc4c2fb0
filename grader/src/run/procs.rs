//! Launching lab programs so that nothing outlives a test.
//!
//! Every program starts in a process group of its own, with its output
//! captured through pipes. A registry of live groups lets three places kill
//! them all: the end of a test, the grader's Ctrl+C / SIGTERM handler, and
//! its panic hook.
//!
//! Reaping is where process managers usually go wrong: once a leader has
//! been reaped its id can be reused, and signalling "its" group may hit a
//! stranger. So a waiter thread first *observes* the exit without reaping
//! (`waitid(2)` with `WNOWAIT`), kills whatever is left in the group (the
//! zombie leader keeps the group id reserved meanwhile), takes the group out
//! of the registry, and only then reaps. Signals are sent under the
//! registry's lock and only to registered groups.

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;

use crate::spec::Stream;

/// Process groups started and not yet reaped.
static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn live() -> MutexGuard<'static, BTreeSet<i32>> {
    // A panic while holding the lock must not stop the clean-up paths.
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends `sig` to every live process group; returns how many there were.
pub fn signal_all(sig: Signal) -> usize {
    let live = live();
    for &pgid in live.iter() {
        let _ = killpg(Pid::from_raw(pgid), sig);
    }
    live.len()
}

/// Makes Ctrl+C, SIGTERM, SIGHUP and a panic of the grader kill every
/// program it started. Call first thing in `main`, before any thread exists,
/// so that every thread inherits the blocked signal mask.
///
/// # Errors
/// When the signal mask cannot be set (`pthread_sigmask(3)`).
pub fn install_cleanup() -> nix::Result<()> {
    use nix::sys::signal::SigSet;
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGHUP);
    set.thread_block()?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Ok(sig) = set.wait() {
                let n = signal_all(Signal::SIGKILL);
                eprintln!("\ngrader: interrupted by {sig}: stopped {n} running program(s)");
                // The only exit outside `main`: a signal ends the grader at once.
                std::process::exit(130);
            }
        })
        .map_err(|_| nix::Error::EAGAIN)?;
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        signal_all(Signal::SIGKILL);
        default(info);
    }));
    Ok(())
}

/// How a program ended.
#[derive(Debug, Clone)]
pub struct Exit {
    /// Its exit status.
    pub status: ExitStatus,
    /// Processes of its group still running when it exited (killed then).
    pub leftovers: usize,
    /// When it was reaped.
    pub at: Instant,
}

/// Output captured from a program, bounded.
#[derive(Debug, Default)]
struct Captured {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    flooded: Option<Stream>,
    open: usize,
}

type Shared = Arc<(Mutex<Captured>, Condvar)>;

/// A running (or finished) lab program.
pub struct Proc {
    /// The node's name.
    pub name: String,
    pid: Pid,
    out: Shared,
    exit_rx: Receiver<Exit>,
    exit: Option<Exit>,
    readers: Vec<JoinHandle<()>>,
    /// When it was started.
    pub started: Instant,
}

impl Proc {
    /// Starts `program` with `args` in a new process group, stdin closed,
    /// stdout and stderr captured up to `limit` bytes each: past that the
    /// program is killed and [`Proc::flooded`] says which stream overflowed.
    ///
    /// # Errors
    /// When the program cannot be started (`execve(2)`).
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        limit: usize,
    ) -> std::io::Result<Proc> {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_BACKTRACE", "0")
            .process_group(0);
        // Register under the lock, so no signal handler runs between the
        // fork and the registration and misses this group.
        let mut child: Child = {
            let mut live = live();
            let child = cmd.spawn()?;
            live.insert(child.id() as i32);
            child
        };
        let pid = Pid::from_raw(child.id() as i32);
        let out: Shared = Arc::new((
            Mutex::new(Captured {
                open: 2,
                ..Default::default()
            }),
            Condvar::new(),
        ));
        let mut readers = Vec::new();
        let stdout = child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        let stderr = child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        for (stream, pipe) in [(Stream::Stdout, stdout), (Stream::Stderr, stderr)] {
            let Some(mut pipe) = pipe else { continue };
            let out = Arc::clone(&out);
            readers.push(thread::spawn(move || {
                read_capped(&mut pipe, stream, &out, pid, limit)
            }));
        }
        let (tx, exit_rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(reap(child));
        });
        Ok(Proc {
            name: name.to_string(),
            pid,
            out,
            exit_rx,
            exit: None,
            readers,
            started: Instant::now(),
        })
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Sends `sig` to the program's process group if it has not been reaped.
    pub fn signal(&self, sig: Signal) -> bool {
        let live = live();
        live.contains(&self.pid.as_raw()) && killpg(self.pid, sig).is_ok()
    }

    /// How it ended, if it has.
    pub fn exit(&mut self) -> Option<&Exit> {
        if self.exit.is_none() {
            self.exit = self.exit_rx.try_recv().ok();
        }
        self.exit.as_ref()
    }

    /// Waits until it exits or `deadline` passes.
    pub fn wait_until(&mut self, deadline: Instant) -> Option<&Exit> {
        if self.exit.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.exit_rx.recv_timeout(left) {
                Ok(e) => self.exit = Some(e),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
            }
        }
        self.exit.as_ref()
    }

    /// Kills the whole group and waits until the leader is reaped and its
    /// output closed. Returns whether it was still running.
    pub fn kill(&mut self) -> bool {
        let was_running = self.exit().is_none();
        if was_running {
            self.signal(Signal::SIGCONT);
            self.signal(Signal::SIGKILL);
            self.exit = self.exit_rx.recv().ok();
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        was_running
    }

    /// Lines printed so far on a stream (a last line without newline included).
    pub fn lines(&self, stream: Stream) -> Vec<String> {
        let c = self.out.0.lock().unwrap_or_else(|e| e.into_inner());
        let bytes = match stream {
            Stream::Stdout => &c.stdout,
            Stream::Stderr => &c.stderr,
        };
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Which stream went past the output limit, if any.
    pub fn flooded(&self) -> Option<Stream> {
        self.out.0.lock().unwrap_or_else(|e| e.into_inner()).flooded
    }

    /// Waits until `pred` holds for the lines of `stream`, the program's
    /// output closes, or `deadline` passes. Returns whether `pred` held.
    pub fn wait_for_output(
        &self,
        stream: Stream,
        deadline: Instant,
        pred: impl Fn(&[String]) -> bool,
    ) -> bool {
        let (lock, cv) = &*self.out;
        let mut c = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let bytes = match stream {
                Stream::Stdout => &c.stdout,
                Stream::Stderr => &c.stderr,
            };
            let lines: Vec<String> = String::from_utf8_lossy(bytes)
                .lines()
                .map(str::to_string)
                .collect();
            if pred(&lines) {
                return true;
            }
            let now = Instant::now();
            if c.open == 0 || now >= deadline {
                return false;
            }
            c = cv
                .wait_timeout(c, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// CPU time used so far (user + system), in clock ticks, from `/proc/PID/stat`.
    pub fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        let after = &stat[stat.rfind(')')? + 1..];
        let f: Vec<&str> = after.split_whitespace().collect();
        // Fields 14 and 15 of proc(5), counted from field 3 right after ')'.
        Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_capped(pipe: &mut dyn Read, stream: Stream, out: &Shared, pid: Pid, limit: usize) {
    let mut buf = [0u8; 8192];
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let (lock, cv) = &**out;
        let mut c = lock.lock().unwrap_or_else(|e| e.into_inner());
        let kept = match stream {
            Stream::Stdout => &mut c.stdout,
            Stream::Stderr => &mut c.stderr,
        };
        if kept.len() + n > limit {
            let room = limit - kept.len();
            kept.extend_from_slice(&buf[..room]);
            if c.flooded.is_none() {
                c.flooded = Some(stream);
                let live = live();
                if live.contains(&pid.as_raw()) {
                    let _ = killpg(pid, Signal::SIGKILL);
                }
            }
        } else {
            kept.extend_from_slice(&buf[..n]);
        }
        cv.notify_all();
    }
    let (lock, cv) = &**out;
    lock.lock().unwrap_or_else(|e| e.into_inner()).open -= 1;
    cv.notify_all();
}

/// Observes the exit, cleans the group, unregisters it, then reaps.
fn reap(mut child: Child) -> Exit {
    let pid = Pid::from_raw(child.id() as i32);
    while let Err(nix::Error::EINTR) =
        waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT)
    {}
    let leftovers = group_members(pid).len();
    {
        let mut live = live();
        let _ = killpg(pid, Signal::SIGKILL);
        live.remove(&pid.as_raw());
    }
    let status = child
        .wait()
        .unwrap_or_else(|_| std::os::unix::process::ExitStatusExt::from_raw(0));
    Exit {
        status,
        leftovers,
        at: Instant::now(),
    }
}

/// Processes other than `leader` in `leader`'s process group, from `/proc`.
pub fn group_members(leader: Pid) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != leader.as_raw())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .is_some_and(|stat| {
                    let after = stat.rfind(')').map(|i| &stat[i + 1..]).unwrap_or("");
                    after.split_whitespace().nth(2) == Some(&leader.as_raw().to_string())
                })
        })
        .collect()
}

/// Describes an exit status as a person would: "exit code 1", "killed by SIGSEGV".
pub fn describe(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(c) = status.code() {
        format!("exit code {c}")
    } else if let Some(s) = status.signal() {
        match Signal::try_from(s) {
            Ok(sig) => format!("killed by {sig}"),
            Err(_) => format!("killed by signal {s}"),
        }
    } else {
        "an unknown status".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sh(script: &str, limit: usize) -> Proc {
        Proc::spawn(
            "sh",
            Path::new("/bin/sh"),
            &["-c".into(), script.into()],
            limit,
        )
        .unwrap()
    }

    #[test]
    fn output_and_exit_status_are_captured() {
        let mut p = sh("echo one; echo two >&2; exit 3", 1 << 20);
        let e = p
            .wait_until(Instant::now() + Duration::from_secs(10))
            .unwrap()
            .clone();
        assert_eq!(e.status.code(), Some(3));
        p.kill();
        assert_eq!(p.lines(Stream::Stdout), ["one"]);
        assert_eq!(p.lines(Stream::Stderr), ["two"]);
    }

    #[test]
    fn a_flood_is_cut_and_the_program_killed() {
        let mut p = sh("yes flood", 4096);
        let e = p
            .wait_until(Instant::now() + Duration::from_secs(10))
            .unwrap()
            .clone();
        assert_eq!(describe(&e.status), "killed by SIGKILL");
        assert_eq!(p.flooded(), Some(Stream::Stdout));
    }

    #[test]
    fn children_left_behind_are_counted_and_killed() {
        let mut p = sh("sleep 30 & echo $!; exit 0", 1 << 20);
        let e = p
            .wait_until(Instant::now() + Duration::from_secs(10))
            .unwrap()
            .clone();
        assert_eq!(e.leftovers, 1);
        p.kill();
        let child: i32 = p.lines(Stream::Stdout)[0].parse().unwrap();
        // The orphan was killed with the group; once reparented it is reaped.
        let gone = (0..200).any(|_| {
            thread::sleep(Duration::from_millis(10));
            !Path::new(&format!("/proc/{child}")).exists()
                || std::fs::read_to_string(format!("/proc/{child}/stat"))
                    .is_ok_and(|s| s.contains(") Z"))
        });
        assert!(gone, "the orphan {child} is still running");
    }

    #[test]
    fn kill_stops_a_running_program() {
        let mut p = sh("exec sleep 30", 1 << 20);
        assert!(p.exit().is_none());
        assert!(p.kill());
        assert_eq!(describe(&p.exit().unwrap().status), "killed by SIGKILL");
        assert!(
            !p.signal(Signal::SIGTERM),
            "a reaped group is not signalled"
        );
    }
}
