//! Launching lab programs as a shell would, so that nothing outlives a test.
//!
//! # As a shell would start them
//!
//! The grader blocks SIGINT, SIGTERM and SIGHUP in all its threads (a
//! thread of its own waits for them, see [`install_cleanup`]), and Rust
//! ignores SIGPIPE. A child inherits the signal mask and ignored signals
//! across `execve(2)`, and `std::process::Command` passes both on: a
//! program in C or Python that relies on the default Ctrl+C would never
//! see the grader's SIGINT. So programs are started with `posix_spawn(3)`,
//! which sets up the child before it runs: an empty signal mask, every
//! signal's disposition back to the default, a process group of its own,
//! stdin from `/dev/null`, stdout and stderr into pipes, and no other file
//! descriptor of the grader's (they are all close-on-exec). The one
//! exception is glibc's: its `posix_spawn` leaves the two real-time
//! signals it reserves for itself (32 and 33, below `SIGRTMIN`) ignored,
//! and no program can use those.
//!
//! # Nothing outlives a test
//!
//! A registry of live process groups lets three places kill them all: the
//! end of a test, the grader's Ctrl+C / SIGTERM handler, and its panic hook.
//!
//! Reaping is where process managers usually go wrong: once a leader has
//! been reaped its id can be reused, and signalling "its" group may hit a
//! stranger. So a reaper thread first *observes* the exit without reaping
//! (`waitid(2)` with `WNOWAIT`), kills whatever is left in the group (the
//! zombie leader keeps the group id reserved meanwhile), takes the group out
//! of the registry, and only then reaps. Signals are sent under the
//! registry's lock and only to registered groups.
//!
//! Everything a program does lands in the run's [record](super::record):
//! its start, each output line with its time, a flood, its exit.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::sys::signal::{SigSet, Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::Pid;

use super::record::{Ended, Recorder, What};
use crate::spec::{Limits, Stream};

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
/// so that every thread inherits the blocked signal mask. (Programs do not:
/// [`Proc::spawn`] gives them the default mask and dispositions.)
///
/// # Errors
/// When the signal mask cannot be set (`pthread_sigmask(3)`).
pub fn install_cleanup() -> nix::Result<()> {
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
        .map_err(|_| Errno::EAGAIN)?;
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        signal_all(Signal::SIGKILL);
        default(info);
    }));
    Ok(())
}

/// What to start.
#[derive(Debug, Clone, Copy)]
pub struct Launch<'a> {
    /// The node it plays, for the record.
    pub node: usize,
    /// The executable.
    pub program: &'a Path,
    /// Its arguments (without the program's name).
    pub args: &'a [String],
    /// Its hard limits.
    pub limits: &'a Limits,
}

/// A running (or finished) lab program.
pub struct Proc {
    node: usize,
    pid: Pid,
    rec: Recorder,
    threads: Vec<JoinHandle<()>>,
}

impl Proc {
    /// Starts a program as a shell would (see the module docs) and records
    /// its start; its output and its exit are recorded as they happen.
    ///
    /// # Errors
    /// Why the program could not be started, explained for a person
    /// (`posix_spawn(3)` reports the failure of `execve(2)`).
    pub fn spawn(launch: &Launch, rec: &Recorder) -> Result<Proc, String> {
        let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
        let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
        let null = File::open("/dev/null").map_err(|e| e.to_string())?;
        let mut actions = PosixSpawnFileActions::init().map_err(|e| e.to_string())?;
        for (fd, target) in [
            (null.as_raw_fd(), 0),
            (out_w.as_raw_fd(), 1),
            (err_w.as_raw_fd(), 2),
        ] {
            actions.add_dup2(fd, target).map_err(|e| e.to_string())?;
        }
        let mut attr = PosixSpawnAttr::init().map_err(|e| e.to_string())?;
        attr.set_flags(
            PosixSpawnFlags::POSIX_SPAWN_SETPGROUP
                | PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK
                | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
        )
        .and_then(|()| attr.set_pgroup(Pid::from_raw(0)))
        .and_then(|()| attr.set_sigmask(&SigSet::empty()))
        .and_then(|()| attr.set_sigdefault(&SigSet::all()))
        .map_err(|e| e.to_string())?;

        let c = |bytes: &[u8]| {
            CString::new(bytes).map_err(|_| "an argument holds a NUL byte".to_string())
        };
        let path = c(launch.program.as_os_str().as_bytes())?;
        let mut argv = vec![path.clone()];
        for a in launch.args {
            argv.push(c(a.as_bytes())?);
        }
        let mut envp = Vec::new();
        for (k, v) in std::env::vars_os() {
            if k != "RUST_BACKTRACE" {
                envp.push(c(&[k.as_bytes(), b"=", v.as_bytes()].concat())?);
            }
        }
        envp.push(c(b"RUST_BACKTRACE=0")?);

        // Register under the lock, so that no signal handler runs between
        // the spawn and the registration and misses this group.
        let at = rec.now();
        let pid = {
            let mut live = live();
            let pid = posix_spawn(path.as_c_str(), &actions, &attr, &argv, &envp)
                .map_err(explain_spawn_error)?;
            live.insert(pid.as_raw());
            pid
        };
        drop((out_w, err_w, null));
        let mut command = vec![launch.program.display().to_string()];
        command.extend(launch.args.iter().cloned());
        rec.event_at(
            at,
            Some(launch.node),
            What::Started {
                command,
                pid: pid.as_raw(),
            },
        );
        let mut threads = Vec::new();
        for (stream, pipe) in [(Stream::Stdout, out_r), (Stream::Stderr, err_r)] {
            let (rec, node) = (rec.clone(), launch.node);
            let limit = usize::try_from(launch.limits.output.0).unwrap_or(usize::MAX);
            threads.push(thread::spawn(move || {
                read_lines(pipe, stream, &rec, node, pid, limit)
            }));
        }
        let (rec2, node) = (rec.clone(), launch.node);
        threads.push(thread::spawn(move || reap(pid, node, &rec2)));
        Ok(Proc {
            node: launch.node,
            pid,
            rec: rec.clone(),
            threads,
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

    /// Whether it has exited (and been reaped).
    pub fn exited(&self) -> bool {
        self.rec.read(|l| !l.alive[self.node])
    }

    /// Kills the whole group and waits until the leader is reaped and its
    /// output closed. Returns whether it was still running.
    pub fn kill(&mut self) -> bool {
        let was_running = !self.exited();
        if was_running {
            self.signal(Signal::SIGCONT);
            self.signal(Signal::SIGKILL);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        was_running
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

/// What a person needs to hear when `execve(2)` fails.
fn explain_spawn_error(e: Errno) -> String {
    match e {
        Errno::ENOENT => {
            "ENOENT: there is no such file, or its `#!` line names an interpreter that is not installed".into()
        }
        Errno::EACCES => "EACCES: permission denied: is it executable (chmod +x)?".into(),
        Errno::ENOEXEC => {
            "ENOEXEC: it is not an executable: a script needs a `#!` line, a binary must be built for this machine".into()
        }
        e => format!("{e}: {}", e.desc()),
    }
}

/// Reads a pipe line by line into the record, until end of file. Past
/// `limit` bytes the program is killed and the rest is drained unread.
fn read_lines(pipe: OwnedFd, stream: Stream, rec: &Recorder, node: usize, pid: Pid, limit: usize) {
    let mut pipe = File::from(pipe);
    let mut buf = [0u8; 8192];
    let mut partial: Vec<u8> = Vec::new();
    let mut kept = 0usize;
    let mut flooded = false;
    let emit = |bytes: &[u8]| {
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        rec.line(node, stream, String::from_utf8_lossy(bytes).into_owned());
    };
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
            Ok(n) => n,
        };
        if flooded {
            continue;
        }
        let room = limit - kept;
        let take = n.min(room);
        kept += take;
        let mut chunk = &buf[..take];
        while let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            partial.extend_from_slice(&chunk[..i]);
            emit(&partial);
            partial.clear();
            chunk = &chunk[i + 1..];
        }
        partial.extend_from_slice(chunk);
        if n > room {
            flooded = true;
            rec.event(Some(node), What::Flooded { stream, limit });
            let live = live();
            if live.contains(&pid.as_raw()) {
                let _ = killpg(pid, Signal::SIGKILL);
            }
        }
    }
    if !partial.is_empty() {
        emit(&partial);
    }
    rec.closed(node);
}

/// Observes the exit, cleans the group, unregisters it, reaps, records.
fn reap(pid: Pid, node: usize, rec: &Recorder) {
    while let Err(Errno::EINTR) = waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT)
    {
    }
    let leftovers = group_members(pid).len();
    {
        let mut live = live();
        let _ = killpg(pid, Signal::SIGKILL);
        live.remove(&pid.as_raw());
    }
    let status = loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => break Ended::Code(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => break Ended::Signal(sig as i32),
            Err(Errno::EINTR) => continue,
            // Neither can happen without WUNTRACED or a foreign reaper.
            Ok(_) | Err(_) => break Ended::Code(-1),
        }
    };
    rec.event(Some(node), What::Exited { status, leftovers });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::record::NodeRecord;
    use std::time::{Duration, Instant};

    fn recorder() -> Recorder {
        Recorder::new("t", 1, Duration::from_secs(10), vec![NodeRecord::new("sh")])
    }

    fn sh(rec: &Recorder, script: &str, output: u64) -> Proc {
        let args = ["-c".to_string(), script.to_string()];
        let limits = Limits {
            output: crate::spec::Size(output),
            ..Limits::default()
        };
        Proc::spawn(
            &Launch {
                node: 0,
                program: Path::new("/bin/sh"),
                args: &args,
                limits: &limits,
            },
            rec,
        )
        .unwrap()
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    /// Waits until `rec` shows that `node` exited, or `deadline` passes.
    fn wait_exit(rec: &Recorder, node: usize, deadline: Instant) -> bool {
        rec.wait_until(deadline, |l| !l.alive[node])
    }

    #[test]
    fn output_and_exit_status_are_recorded() {
        let rec = recorder();
        let mut p = sh(
            &rec,
            "echo one; printf 'two\\r\\nthree' >&2; exit 3",
            1 << 20,
        );
        assert!(wait_exit(&rec, 0, soon()));
        p.kill();
        let r = rec.finish();
        assert_eq!(r.exit_of(0).map(|e| e.1), Some(Ended::Code(3)));
        assert_eq!(r.nodes[0].texts(Stream::Stdout), ["one"]);
        assert_eq!(r.nodes[0].texts(Stream::Stderr), ["two", "three"]);
        assert_eq!(r.command_of(0).unwrap()[0], "/bin/sh");
    }

    /// Descriptors this process inherited and did not mark close-on-exec:
    /// a child may rightly inherit them too (a shell would pass them on).
    fn inherited_here() -> Vec<String> {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|fd| {
                std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).is_ok_and(|info| {
                    info.lines()
                        .find_map(|l| l.strip_prefix("flags:"))
                        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
                        .is_some_and(|flags| flags & 0o2000000 == 0)
                })
            })
            .collect()
    }

    #[test]
    fn programs_start_with_the_default_signal_mask_and_dispositions() {
        let rec = recorder();
        // Block what the grader blocks in every thread: the child must not
        // inherit it. (Rust also ignores SIGPIPE in this process.)
        let mut set = SigSet::empty();
        set.add(Signal::SIGINT);
        set.add(Signal::SIGTERM);
        set.add(Signal::SIGHUP);
        set.thread_block().unwrap();
        let mut p = sh(
            &rec,
            "grep -E '^Sig(Blk|Ign)' /proc/self/status; for f in /proc/self/fd/*; do echo \"fd ${f##*/} $(readlink $f)\"; done",
            1 << 20,
        );
        assert!(wait_exit(&rec, 0, soon()));
        p.kill();
        set.thread_unblock().unwrap();
        let r = rec.finish();
        let out = r.nodes[0].texts(Stream::Stdout);
        assert!(out.contains(&"SigBlk:\t0000000000000000"), "{out:?}");
        // glibc's posix_spawn leaves its own two internal signals (32 and
        // 33, which no program may use) ignored; every other signal has its
        // default disposition.
        let ign = out
            .iter()
            .find_map(|l| l.strip_prefix("SigIgn:\t"))
            .unwrap();
        let ign = u64::from_str_radix(ign, 16).unwrap();
        assert_eq!(ign & !(0b11 << 31), 0, "ignored signals: {ign:x}");
        // Nothing of the grader's leaks into the program: only 0, 1 and 2,
        // the shell's own descriptors, and what this process inherited.
        let inherited = inherited_here();
        let leaked: Vec<&&str> = out
            .iter()
            .filter(|l| l.starts_with("fd "))
            .filter(|l| {
                let fd = l.split(' ').nth(1).unwrap_or("");
                !matches!(fd, "0" | "1" | "2" | "255")
                    && !inherited.iter().any(|i| i == fd)
                    && !l.contains("/proc/")
                    // The shell's own handle on the directory, closed by now.
                    && !l.trim_end().ends_with(&format!("fd {fd}"))
            })
            .collect();
        assert!(
            leaked.is_empty(),
            "descriptors leaked to the program: {leaked:?}"
        );
    }

    #[test]
    fn a_flood_is_cut_and_the_program_killed() {
        let rec = recorder();
        let mut p = sh(&rec, "yes flood", 4096);
        assert!(wait_exit(&rec, 0, soon()));
        p.kill();
        let r = rec.finish();
        assert_eq!(r.exit_of(0).map(|e| e.1), Some(Ended::Signal(9)));
        assert!(r.events.iter().any(|e| matches!(
            e.what,
            What::Flooded {
                stream: Stream::Stdout,
                ..
            }
        )));
        assert!(r.nodes[0].stdout.len() <= 4096 / 6 + 1);
    }

    #[test]
    fn children_left_behind_are_counted_and_killed() {
        let rec = recorder();
        let mut p = sh(&rec, "sleep 30 & echo $!; exit 0", 1 << 20);
        assert!(wait_exit(&rec, 0, soon()));
        p.kill();
        let r = rec.finish();
        assert_eq!(r.exit_of(0).map(|e| e.2), Some(1));
        let child: i32 = r.nodes[0].stdout[0].text.parse().unwrap();
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
        let rec = recorder();
        let mut p = sh(&rec, "exec sleep 30", 1 << 20);
        assert!(!p.exited());
        assert!(p.kill());
        let r = rec.finish();
        assert_eq!(
            r.exit_of(0).map(|e| e.1.to_string()).unwrap(),
            "killed by SIGKILL"
        );
        assert!(
            !p.signal(Signal::SIGTERM),
            "a reaped group is not signalled"
        );
    }

    #[test]
    fn a_missing_program_is_explained() {
        let rec = recorder();
        let err = Proc::spawn(
            &Launch {
                node: 0,
                program: Path::new("/nonexistent/server"),
                args: &[],
                limits: &Limits::default(),
            },
            &rec,
        )
        .err()
        .unwrap();
        assert!(err.starts_with("ENOENT: there is no such file"), "{err}");
    }
}
