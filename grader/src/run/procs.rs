//! Launching lab programs as a shell would, under hard limits, so that
//! nothing outlives a test.
//!
//! # As a shell would start them
//!
//! The grader blocks SIGINT, SIGTERM and SIGHUP in all its threads (a
//! thread of its own waits for them, see [`install_cleanup`]), and Rust
//! ignores SIGPIPE. A child inherits the signal mask and ignored signals
//! across `execve(2)`: a program in C or Python that relies on the default
//! Ctrl+C would never see the grader's SIGINT. So [`contain`] sets the
//! child up before it runs: an empty signal mask, every signal's
//! disposition back to the default, a process group of its own, stdin from
//! `/dev/null`, stdout and stderr into pipes, and no other file descriptor
//! of the grader's (they are all close-on-exec).
//!
//! # Under hard limits
//!
//! The lab's [`Limits`]: CPU time, address space, open files and no core
//! dumps as rlimits of each process; processes and resident memory of the
//! whole [family] watched by its warden; the output cap here, as the
//! pipes are read. A program that goes past one is killed and the record
//! says which limit.
//!
//! # Nothing outlives a test
//!
//! A program's [family] is every process it started, however it started
//! them. A registry of live families lets three places kill them all: the
//! end of a test, the grader's Ctrl+C / SIGTERM / SIGHUP handler, and its
//! panic hook. When the grader itself is killed with SIGKILL, each program
//! gets SIGKILL from the kernel (its parent-death signal), and the
//! [keeper](super::keeper) kills what is left.
//!
//! Reaping is where process managers usually go wrong: once a leader has
//! been reaped its id can be reused, and signalling "its" group may hit a
//! stranger. So a reaper thread first *observes* the exit without reaping
//! (`waitid(2)` with `WNOWAIT`), notes and kills what is left of the
//! family (the zombie leader keeps the group id reserved meanwhile), takes
//! it out of the registry, and only then reaps. Signals are sent under the
//! registry's lock and only to registered families.
//!
//! The output is read until both pipes close; a process outside the
//! grader's reach that holds one open is waited for until the test's time
//! limit, no longer.
//!
//! Everything a program does lands in the run's [record](super::record):
//! its start, each output line with its time, a flood, a limit, what it
//! left behind, its exit.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::resource::Resource;
use nix::sys::signal::{SigSet, Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::{Pid, getuid};

use super::contain::{self, Rlimit, Start};
use super::family::{self, Family, Nursery, Stat, Watch};
use super::record::{Ended, Limit, Recorder, STRAYS_KEPT, Stray, What};
use crate::spec::{Limits, Stream};

/// Families started and not yet reaped, by leader.
static LIVE: Mutex<BTreeMap<i32, Arc<Family>>> = Mutex::new(BTreeMap::new());

fn live() -> MutexGuard<'static, BTreeMap<i32, Arc<Family>>> {
    // A panic while holding the lock must not stop the clean-up paths.
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Kills every live family; returns how many programs there were.
pub fn kill_all() -> usize {
    let live = live();
    for f in live.values() {
        f.end_by_grader();
        f.kill_now();
    }
    live.len()
}

/// Set once a signal began to end the grader: it exits with 130, whatever
/// else finishes meanwhile.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether a signal is ending the grader; `main` then leaves the exit to
/// the signal's handler (status 130) rather than report a result.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Makes Ctrl+C, SIGTERM, SIGHUP and a panic of the grader kill every
/// program it started, and makes the grader a child subreaper. Call first
/// thing in `main`, before any thread exists, so that every thread
/// inherits the blocked signal mask. (Programs do not: [`contain`] gives
/// them the default mask and dispositions.)
///
/// # Errors
/// When the signal mask cannot be set (`pthread_sigmask(3)`).
pub fn install_cleanup() -> nix::Result<()> {
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
                INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
                let n = kill_all();
                family::cleanup(false);
                let s = if n == 1 { "" } else { "s" };
                eprintln!("\ngrader: interrupted by {sig}: stopped {n} running program{s}");
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
    family: Arc<Family>,
    rec: Recorder,
    reaper: Option<JoinHandle<()>>,
    readers: Vec<JoinHandle<()>>,
    /// Closing it tells the readers to stop waiting for their pipes.
    cancel: Option<OwnedFd>,
    _watch: Arc<Watch>,
}

/// The rlimits of `limits`, for each process of a program.
fn rlimits(limits: &Limits) -> Vec<Rlimit> {
    let cpu = limits.cpu.0.as_secs().max(1);
    let mut r = vec![
        (Resource::RLIMIT_CPU, cpu, cpu + 1),
        (
            Resource::RLIMIT_AS,
            limits.address_space.0,
            limits.address_space.0,
        ),
        (
            Resource::RLIMIT_NOFILE,
            limits.open_files.into(),
            limits.open_files.into(),
        ),
        (Resource::RLIMIT_CORE, 0, 0),
    ];
    // The kernel counts every task of the user against this limit (and
    // exempts root): allow the program `processes` more than there are,
    // and one more, so that the warden sees it go past its limit.
    let uid = getuid();
    if !uid.is_root() {
        let n = family::tasks_of_user(uid.as_raw()) + u64::from(limits.processes) + 1;
        r.push((Resource::RLIMIT_NPROC, n, n));
    }
    r
}

impl Proc {
    /// Starts a program as a shell would, under its limits (see the
    /// module docs), and records its start; its output and its exit are
    /// recorded as they happen.
    ///
    /// # Errors
    /// Why the program could not be started, explained for a person.
    pub fn spawn(launch: &Launch, rec: &Recorder) -> Result<Proc, String> {
        let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
        let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
        let (cancel_r, cancel_w) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
        let nursery = Nursery::new(launch.limits)
            .map_err(|e| format!("the grader cannot make the program's cgroup: {e}"))?;
        let procs = match &nursery.cgroup {
            Some(d) => Some(
                File::options()
                    .write(true)
                    .open(d.join("cgroup.procs"))
                    .map_err(|e| format!("the grader cannot open the program's cgroup: {e}"))?,
            ),
            None => None,
        };
        let start = Start {
            program: launch.program,
            args: launch.args,
            env: vec![
                ("RUST_BACKTRACE".into(), "0".into()),
                (family::TAG_VARIABLE.into(), nursery.tag.clone().into()),
            ],
            stdout: out_w,
            stderr: err_w,
            rlimits: rlimits(launch.limits),
            cgroup: procs.as_ref(),
        };

        // Register under the lock, so that no signal handler runs between
        // the spawn and the registration and misses this family.
        let at = rec.now();
        let family = {
            let mut live = live();
            let mut leaders = family::leaders();
            let pid = match contain::start(start) {
                Ok(pid) => pid,
                Err(e) => {
                    nursery.abandon();
                    return Err(explain_spawn_error(&e));
                }
            };
            let family = Arc::new(nursery.born(pid));
            live.insert(pid.as_raw(), Arc::clone(&family));
            leaders.insert(pid.as_raw());
            family
        };
        let pid = family.leader;
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
        let cancel_r = Arc::new(cancel_r);
        let mut readers = Vec::new();
        for (stream, pipe) in [(Stream::Stdout, out_r), (Stream::Stderr, err_r)] {
            let (rec, node, cancel) = (rec.clone(), launch.node, Arc::clone(&cancel_r));
            let family = Arc::clone(&family);
            let limit = usize::try_from(launch.limits.output.0).unwrap_or(usize::MAX);
            readers.push(thread::spawn(move || {
                read_lines(pipe, &cancel, stream, &rec, node, &family, limit)
            }));
        }
        let watch = Arc::new(Watch {
            family: Arc::clone(&family),
            limits: *launch.limits,
            rec: rec.clone(),
            node: launch.node,
        });
        family::watch(&watch);
        let (rec2, node, fam, limits) = (
            rec.clone(),
            launch.node,
            Arc::clone(&family),
            *launch.limits,
        );
        let reaper = thread::spawn(move || reap(&fam, node, &rec2, &limits));
        Ok(Proc {
            node: launch.node,
            pid,
            family,
            rec: rec.clone(),
            reaper: Some(reaper),
            readers,
            cancel: Some(cancel_w),
            _watch: watch,
        })
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Sends `sig` to the program's process group if it has not been reaped.
    pub fn signal(&self, sig: Signal) -> bool {
        let live = live();
        live.contains_key(&self.pid.as_raw()) && killpg(self.pid, sig).is_ok()
    }

    /// Whether it has exited (and been reaped).
    pub fn exited(&self) -> bool {
        self.rec.read(|l| !l.alive[self.node])
    }

    /// Kills the program's process group, waits until it is reaped and
    /// the rest of its family killed, and until its output closes (at most
    /// until the test's time limit). Returns whether it was still running.
    pub fn kill(&mut self) -> bool {
        let was_running = !self.exited();
        if was_running {
            let live = live();
            if live.contains_key(&self.pid.as_raw()) {
                self.family.end_by_grader();
                let _ = killpg(self.pid, Signal::SIGCONT);
                let _ = killpg(self.pid, Signal::SIGKILL);
            }
        }
        if let Some(r) = self.reaper.take() {
            let _ = r.join();
        }
        if !self.readers.is_empty() {
            let node = self.node;
            self.rec.wait(None, None, |l| l.output_closed(node));
            // Whoever still holds a pipe, the grader stops listening.
            self.cancel.take();
            for t in self.readers.drain(..) {
                let _ = t.join();
            }
        }
        was_running
    }

    /// CPU time used so far (user + system), in clock ticks, from `/proc/PID/stat`.
    pub fn cpu_ticks(&self) -> Option<u64> {
        Stat::of(self.pid.as_raw()).map(|s| s.ticks)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a person needs to hear when a program cannot be started.
fn explain_spawn_error(e: &std::io::Error) -> String {
    match e.raw_os_error().map(Errno::from_raw) {
        Some(Errno::ENOENT) => {
            "ENOENT: there is no such file, or its `#!` line names an interpreter that is not installed".into()
        }
        Some(Errno::EACCES) => "EACCES: permission denied: is it executable (chmod +x)?".into(),
        Some(Errno::ENOEXEC) => {
            "ENOEXEC: it is not an executable: a script needs a `#!` line, a binary must be built for this machine".into()
        }
        Some(e) => format!("{e}: {}", e.desc()),
        None => e.to_string(),
    }
}

/// Reads a pipe line by line into the record, until end of file or until
/// `cancel` closes. Past `limit` bytes the program is killed and the rest
/// is drained unread.
fn read_lines(
    pipe: OwnedFd,
    cancel: &OwnedFd,
    stream: Stream,
    rec: &Recorder,
    node: usize,
    family: &Family,
    limit: usize,
) {
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
        let mut fds = [
            PollFd::new(pipe.as_fd(), PollFlags::POLLIN),
            PollFd::new(cancel.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            Err(_) => break,
            Ok(_) => {}
        }
        let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
        if !ready(&fds[0]) && ready(&fds[1]) {
            break;
        }
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
            if live.contains_key(&family.leader.as_raw()) {
                family.end_by_grader();
                family.kill_now();
            }
        }
    }
    if !partial.is_empty() {
        emit(&partial);
    }
    rec.closed(node);
}

/// Observes the exit and records it at once, then kills what is left of
/// the family, unregisters it, and reaps.
///
/// The exit is recorded when it is observed, before the clean-up: a wait
/// on the program (a `stop` with its `within`) ends when the program
/// ended, not after the grader's own work, which reads `/proc` several
/// times and takes longer on a busy machine.
fn reap(family: &Family, node: usize, rec: &Recorder, limits: &Limits) {
    let pid = family.leader;
    // Not reaped yet: the zombie keeps its process group id reserved.
    let observed = loop {
        match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Err(Errno::EINTR) => continue,
            r => break r,
        }
    };
    let at = rec.now();
    let status = match observed {
        Ok(WaitStatus::Exited(_, code)) => Ended::Code(code),
        Ok(WaitStatus::Signaled(_, sig, _)) => Ended::Signal(sig as i32),
        // Neither can happen without WUNTRACED or a foreign reaper.
        Ok(_) | Err(_) => Ended::Code(-1),
    };
    let leader = Stat::of(pid.as_raw());
    let on_exit = !family.ended_by_grader();
    // What is still running: all of it if the program exited on its own;
    // if the grader ended it (its group was killed), what had left the group.
    let left: Vec<Stat> = family
        .members(None)
        .into_iter()
        .filter(|s| s.pid != pid.as_raw() && !matches!(s.state, 'Z' | 'X'))
        .filter(|s| on_exit || s.pgid != pid.as_raw())
        .collect();
    let escaped = left.iter().all(|s| s.pgid != pid.as_raw());
    let strays: Vec<Stray> = left
        .iter()
        .map(|s| Stray {
            pid: s.pid,
            command: family::command_of(s.pid),
        })
        .collect();
    let tck = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    let cpu_spent = leader.is_some_and(|s| s.ticks >= limits.cpu.0.as_secs().max(1) * tck);
    if status == Ended::Signal(Signal::SIGXCPU as i32)
        || (status == Ended::Signal(Signal::SIGKILL as i32) && on_exit && cpu_spent)
    {
        let limit = Limit::Cpu(limits.cpu);
        rec.event_at(at, Some(node), What::LimitExceeded { limit });
    }
    if !strays.is_empty() {
        rec.event_at(
            at,
            Some(node),
            What::LeftBehind {
                total: strays.len(),
                strays: strays.iter().take(STRAYS_KEPT).cloned().collect(),
                on_exit,
                escaped,
            },
        );
    }
    rec.event_at(at, Some(node), What::Exited { status });
    // Still registered meanwhile: a Ctrl+C now kills the family too.
    family.end_by_grader();
    family.kill_all();
    live().remove(&pid.as_raw());
    // The leader is a zombie: this wait returns at once. Under the lock,
    // so that its id, free again, is not unregistered from a new program.
    {
        let mut leaders = family::leaders();
        while let Err(Errno::EINTR) = waitpid(pid, None) {}
        leaders.remove(&pid.as_raw());
    }
    family.release();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::record::NodeRecord;
    use std::time::{Duration, Instant};

    /// A record whose time limit is far beyond any bound a test here
    /// asserts: `kill` waits for a program's output until it, and a test
    /// that shows it does not must not depend on how fast the machine is.
    fn recorder() -> Recorder {
        let limit = Duration::from_secs(600);
        let clock = crate::run::clock::Clock::new(limit, limit);
        Recorder::new("t", 1, clock, vec![NodeRecord::new("sh")])
    }

    fn sh(rec: &Recorder, script: &str, output: u64) -> Proc {
        let limits = Limits {
            output: crate::spec::Size(output),
            ..Limits::default()
        };
        sh_under(rec, script, &limits)
    }

    fn sh_under(rec: &Recorder, script: &str, limits: &Limits) -> Proc {
        start(rec, "/bin/sh", &["-c", script], limits).unwrap()
    }

    fn start(
        rec: &Recorder,
        program: &str,
        args: &[&str],
        limits: &Limits,
    ) -> Result<Proc, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Proc::spawn(
            &Launch {
                node: 0,
                program: Path::new(program),
                args: &args,
                limits,
            },
            rec,
        )
    }

    /// The bound of a wait that ends a broken test: far beyond what a
    /// working one takes on any machine.
    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(60)
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

    /// A program that is not a shell (a shell clears its mask itself).
    #[test]
    fn a_program_that_is_not_a_shell_starts_with_no_signal_blocked() {
        let rec = recorder();
        let mut set = SigSet::empty();
        set.add(Signal::SIGINT);
        set.add(Signal::SIGTERM);
        set.thread_block().unwrap();
        let mut p = start(
            &rec,
            "/bin/grep",
            &["-E", "^Sig(Blk|Ign)", "/proc/self/status"],
            &Limits::default(),
        )
        .unwrap();
        assert!(wait_exit(&rec, 0, soon()));
        p.kill();
        set.thread_unblock().unwrap();
        let r = rec.finish();
        assert_eq!(
            r.nodes[0].texts(Stream::Stdout),
            ["SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"]
        );
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
        // Every signal has its default disposition.
        assert!(out.contains(&"SigIgn:\t0000000000000000"), "{out:?}");
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
        assert_eq!(left_behind(&r), 1);
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
        let err = start(&rec, "/nonexistent/server", &[], &Limits::default())
            .err()
            .unwrap();
        assert!(err.starts_with("ENOENT: there is no such file"), "{err}");
    }

    /// How many processes the program left behind, by the record.
    fn left_behind(r: &crate::run::record::Record) -> usize {
        r.events_where(|w| match w {
            What::LeftBehind { total, .. } => Some(*total),
            _ => None,
        })
        .map(|(_, _, total)| total)
        .sum()
    }

    /// Whether process `pid` is gone (or a zombie about to be reaped).
    fn is_gone(pid: i32) -> bool {
        Stat::of(pid).is_none_or(|s| s.state == 'Z')
    }

    fn limit_of(r: &crate::run::record::Record) -> Option<Limit> {
        r.events.iter().find_map(|e| match e.what {
            What::LimitExceeded { limit } => Some(limit),
            _ => None,
        })
    }

    #[test]
    fn a_daemon_that_left_the_group_is_killed_and_named() {
        let rec = recorder();
        // The daemon leaves the process group and keeps the pipe open.
        let mut p = sh(
            &rec,
            "setsid sleep 31 & echo $!; while :; do sleep 1; done",
            1 << 20,
        );
        assert!(rec.wait_until(soon(), |l| !l.record.nodes[0].stdout.is_empty()));
        let daemon: i32 = rec.read(|l| l.record.nodes[0].stdout[0].text.parse().unwrap());
        // Wait until the daemon is `sleep` on its own: `setsid` has called
        // setsid(2) and then execve(2). (Read before the exec, its command
        // is still `setsid sleep 31`.) The bound only ends a broken run.
        let t = Instant::now();
        while !(Stat::of(daemon).is_some_and(|s| s.pgid == daemon)
            && family::command_of(daemon) == "sleep 31")
        {
            assert!(t.elapsed() < Duration::from_secs(30), "setsid never ran");
            thread::sleep(Duration::from_millis(2));
        }
        // Not a bound on its time: the kill waits for the output to close,
        // and the daemon holds it; it must not wait for the test's limit.
        assert!(p.kill());
        assert!(is_gone(daemon), "the daemon {daemon} is still running");
        let r = rec.finish();
        let left = r.events.iter().find_map(|e| match &e.what {
            What::LeftBehind {
                strays, on_exit, ..
            } => Some((strays.clone(), *on_exit)),
            _ => None,
        });
        let (strays, on_exit) = left.expect("the daemon is recorded");
        assert!(!on_exit);
        assert_eq!(strays[0].pid, daemon);
        assert_eq!(strays[0].command, "sleep 31");
    }

    #[test]
    fn a_double_fork_holding_stdout_does_not_hang_the_grader() {
        let rec = recorder();
        // The grandchild outlives its parent and holds stdout open.
        let mut p = sh(&rec, "(sh -c 'sleep 120' &); exit 0", 1 << 20);
        assert!(wait_exit(&rec, 0, soon()));
        // A kill that left the grandchild alone would wait for the output
        // to close: 120 s, until it ends. Half of that is a wide margin.
        let t = Instant::now();
        p.kill();
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "kill took {:?}",
            t.elapsed()
        );
        let r = rec.finish();
        // The subshell, perhaps not yet replaced by `sleep`, and `sleep`.
        assert!(left_behind(&r) >= 1, "{:?}", r.events);
    }

    #[test]
    fn a_memory_hog_is_killed_at_its_memory_limit() {
        let rec = recorder();
        let limits = Limits {
            memory: crate::spec::Size(32 << 20),
            ..Limits::default()
        };
        // Touches 16 MiB at a time, up to 1 GiB, unless stopped.
        let mut p = sh_under(
            &rec,
            "exec python3 -c 'import time\nx=[]\nfor i in range(64): x.append(bytearray(16<<20))\ntime.sleep(30)'",
            &limits,
        );
        assert!(wait_exit(&rec, 0, soon()));
        p.kill();
        let r = rec.finish();
        assert_eq!(
            limit_of(&r),
            Some(Limit::Memory(crate::spec::Size(32 << 20)))
        );
        assert_eq!(r.exit_of(0).map(|e| e.1), Some(Ended::Signal(9)));
    }

    #[test]
    fn a_fork_bomb_is_stopped_at_its_process_limit() {
        let rec = recorder();
        let limits = Limits {
            processes: 16,
            ..Limits::default()
        };
        // At most 200 processes, each gone within 30 s.
        let mut p = sh_under(
            &rec,
            "i=0; while [ $i -lt 200 ]; do sleep 33 & i=$((i+1)); done; wait",
            &limits,
        );
        assert!(wait_exit(&rec, 0, soon()));
        p.kill();
        let r = rec.finish();
        assert_eq!(limit_of(&r), Some(Limit::Processes(16)));
    }

    #[test]
    fn a_spinning_program_is_killed_at_its_cpu_limit() {
        let rec = recorder();
        let limits = Limits {
            cpu: crate::spec::Dur(Duration::from_secs(1)),
            ..Limits::default()
        };
        let mut p = sh_under(&rec, "while :; do :; done", &limits);
        assert!(wait_exit(&rec, 0, soon()));
        p.kill();
        let r = rec.finish();
        assert_eq!(limit_of(&r), Some(Limit::Cpu(limits.cpu)));
        assert_eq!(r.exit_of(0).map(|e| e.1), Some(Ended::Signal(24)));
    }

    #[test]
    fn limits_are_set_before_the_program_runs() {
        let rec = recorder();
        let mut p = sh(&rec, "ulimit -c; ulimit -n; ulimit -t; ulimit -v", 1 << 20);
        assert!(wait_exit(&rec, 0, soon()));
        p.kill();
        let r = rec.finish();
        assert_eq!(
            r.nodes[0].texts(Stream::Stdout),
            ["0", "256", "10", &(4u64 << 20).to_string()]
        );
    }

    #[test]
    fn reaping_strays_never_takes_a_program_that_exits_at_once() {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sweeper = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                // As often as programs end in a busy grader, and more.
                for _ in 0..20_000 {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    family::reap_strays();
                    thread::sleep(Duration::from_micros(200));
                }
            })
        };
        let spawners: Vec<_> = (0..3)
            .map(|_| {
                thread::spawn(|| {
                    (0..20)
                        .map(|_| {
                            let rec = recorder();
                            let mut p = sh(&rec, "exit 3", 1 << 20);
                            assert!(wait_exit(&rec, 0, soon()));
                            p.kill();
                            rec.finish().exit_of(0).map(|e| e.1)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for s in spawners {
            for status in s.join().unwrap() {
                assert_eq!(status, Some(Ended::Code(3)));
            }
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        sweeper.join().unwrap();
    }
}
