//! Launching programs as a shell would, under hard limits, so that
//! nothing outlives them.
//!
//! # As a shell would start them
//!
//! The grader blocks SIGINT, SIGTERM and SIGHUP in all its threads (a
//! thread of its own waits for them, see [`crate::install_cleanup`]), and
//! Rust ignores SIGPIPE. A child inherits the signal mask and ignored
//! signals across `execve(2)`: a program in C or Python that relies on the
//! default Ctrl+C would never see the grader's SIGINT. So `contain` sets
//! the child up before it runs: an empty signal mask, every signal's
//! disposition back to the default, a process group of its own, stdin
//! from `/dev/null`, stdout and stderr into pipes, and no other file
//! descriptor of the grader's (they are all close-on-exec).
//!
//! # Under hard limits
//!
//! The program's [`Limits`]: CPU time, address space, open files and no
//! core dumps as rlimits of each process; processes and resident memory
//! of the whole family watched by the warden; the output cap here, as the
//! pipes are read. A program that goes past one is killed, and its
//! [`Observer`] told which limit.
//!
//! # Nothing outlives a program
//!
//! A program's family is every process it started, however it started
//! them. A registry of live families lets three places kill them all: the
//! caller ([`Program::kill`]), the Ctrl+C / SIGTERM / SIGHUP handler, and
//! the panic hook. When the grader itself is killed with SIGKILL, each
//! program gets SIGKILL from the kernel (its parent-death signal), and the
//! [keeper](crate::keeper) kills what is left.
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
//! sandbox's reach that holds one open is waited for as long as the
//! observer waits ([`Observer::wait_closed`]), no longer.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::resource::Resource;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::{Pid, getuid};

use crate::contain::{self, Rlimit, Start};
use crate::family::{self, Family, Nursery, Stat};
use crate::global;
use crate::warden::{self, Watch};
use crate::{Exit, Limit, Observer, Status, Stray, Stream};

/// A program's hard limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// CPU time each process may use (`RLIMIT_CPU`, in whole seconds, at
    /// least one): past it the kernel sends SIGXCPU, and SIGKILL a second
    /// later.
    pub cpu: Duration,
    /// Resident memory of the program together with every process it
    /// started, in bytes: past it the warden kills them all.
    pub memory: u64,
    /// Address space of each process (`RLIMIT_AS`), in bytes: past it an
    /// allocation fails.
    pub address_space: u64,
    /// Processes and threads the program may run at once, its own
    /// included: past it the warden kills them all.
    pub processes: u32,
    /// Open file descriptors of each process (`RLIMIT_NOFILE`).
    pub open_files: u32,
    /// Bytes the program may print on each of stdout and stderr: past it
    /// it is killed.
    pub output: u64,
}

/// What to start.
#[derive(Debug, Clone, Copy)]
pub struct Launch<'a> {
    /// The executable.
    pub program: &'a Path,
    /// Its arguments (without the program's name).
    pub args: &'a [String],
    /// Variables set on top of this process's environment.
    pub env: &'a [(&'a str, &'a str)],
    /// Its hard limits.
    pub limits: &'a Limits,
}

/// A running (or finished) program. Dropping it kills it and waits as
/// [`Program::wait`] does.
pub struct Program {
    pid: Pid,
    family: Arc<Family>,
    observer: Arc<dyn Observer>,
    reaper: Option<JoinHandle<()>>,
    readers: Vec<JoinHandle<()>>,
    /// Closing it tells the readers to stop waiting for their pipes.
    cancel: Option<OwnedFd>,
    _watch: Arc<Watch>,
}

/// The rlimits of `limits`, for each process of a program.
fn rlimits(limits: &Limits) -> Vec<Rlimit> {
    let cpu = limits.cpu.as_secs().max(1);
    let mut r = vec![
        (Resource::RLIMIT_CPU, cpu, cpu + 1),
        (
            Resource::RLIMIT_AS,
            limits.address_space,
            limits.address_space,
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

/// The pipes of a program about to start: read ends here, write ends for
/// the child, and the one that cancels the reading.
struct Pipes {
    out: (OwnedFd, OwnedFd),
    err: (OwnedFd, OwnedFd),
    cancel: (OwnedFd, OwnedFd),
}

impl Pipes {
    fn new() -> Result<Pipes, String> {
        let pipe = || nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e.to_string());
        Ok(Pipes {
            out: pipe()?,
            err: pipe()?,
            cancel: pipe()?,
        })
    }
}

impl Program {
    /// Starts a program as a shell would, under its limits (see the
    /// module docs), and tells `observer` it started; its output and its
    /// end are told as they happen.
    ///
    /// # Errors
    /// Why the program could not be started, explained for a person
    /// (`ENOENT: there is no such file, ...`).
    pub fn spawn(launch: &Launch, observer: Arc<dyn Observer>) -> Result<Program, String> {
        let Pipes { out, err, cancel } = Pipes::new()?;
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
        let mut env: Vec<_> = (launch.env.iter())
            .map(|&(k, v)| (k.into(), v.into()))
            .collect();
        env.push((family::TAG_VARIABLE.into(), nursery.tag.clone().into()));
        let start = Start {
            program: launch.program,
            args: launch.args,
            env,
            stdout: out.1,
            stderr: err.1,
            rlimits: rlimits(launch.limits),
            cgroup: procs.as_ref(),
        };

        // Register under the lock, so that no signal handler runs between
        // the spawn and the registration and misses this family.
        let at = Instant::now();
        let family = {
            let mut live = global::live();
            let mut leaders = global::leaders();
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
        observer.started(at, pid);
        let cancel_r = Arc::new(cancel.0);
        let limit = usize::try_from(launch.limits.output).unwrap_or(usize::MAX);
        let readers = [(Stream::Stdout, out.0), (Stream::Stderr, err.0)]
            .into_iter()
            .map(|(stream, pipe)| {
                let (observer, cancel) = (Arc::clone(&observer), Arc::clone(&cancel_r));
                let family = Arc::clone(&family);
                thread::spawn(move || {
                    read_lines(pipe, &cancel, stream, &*observer, &family, limit);
                })
            })
            .collect();
        let watch = Arc::new(Watch {
            family: Arc::clone(&family),
            limits: *launch.limits,
            observer: Arc::clone(&observer),
        });
        warden::watch(&watch);
        let (fam, obs, limits) = (Arc::clone(&family), Arc::clone(&observer), *launch.limits);
        let reaper = thread::spawn(move || reap(&fam, &*obs, &limits));
        Ok(Program {
            pid,
            family,
            observer,
            reaper: Some(reaper),
            readers,
            cancel: Some(cancel.1),
            _watch: watch,
        })
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Sends `sig` to the program's process group if it has not been
    /// reaped; returns whether it was sent.
    pub fn signal(&self, sig: Signal) -> bool {
        let live = global::live();
        live.contains_key(&self.pid.as_raw()) && killpg(self.pid, sig).is_ok()
    }

    /// Kills the program's process group (SIGCONT first, for a stopped
    /// one, then SIGKILL), as ended by the caller, unless it has been
    /// reaped; returns whether it had not been. What it started outside
    /// its group is killed by its reaper, once it ends: see
    /// [`Program::wait`].
    pub fn kill(&self) -> bool {
        let live = global::live();
        if !live.contains_key(&self.pid.as_raw()) {
            return false;
        }
        self.family.end_by_grader();
        let _ = killpg(self.pid, Signal::SIGCONT);
        let _ = killpg(self.pid, Signal::SIGKILL);
        true
    }

    /// Waits until the program has ended and been reaped and the rest of
    /// its family killed, then until its output closes (as long as the
    /// observer waits: [`Observer::wait_closed`]), and stops reading it.
    /// It does not end the program: [`Program::kill`] does.
    pub fn wait(&mut self) {
        if let Some(r) = self.reaper.take() {
            let _ = r.join();
        }
        if !self.readers.is_empty() {
            self.observer.wait_closed();
            // Whoever still holds a pipe, the sandbox stops listening.
            self.cancel.take();
            for t in self.readers.drain(..) {
                let _ = t.join();
            }
        }
    }

    /// CPU time used so far (user + system), in clock ticks
    /// (`sysconf(_SC_CLK_TCK)` a second), from `/proc/PID/stat`.
    pub fn cpu_ticks(&self) -> Option<u64> {
        Stat::of(self.pid.as_raw()).map(|s| s.ticks)
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        self.kill();
        self.wait();
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

/// Reads a pipe line by line to the observer, until end of file or until
/// `cancel` closes. Past `limit` bytes the program is killed and the rest
/// is drained unread.
fn read_lines(
    pipe: OwnedFd,
    cancel: &OwnedFd,
    stream: Stream,
    observer: &dyn Observer,
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
        observer.line(stream, String::from_utf8_lossy(bytes).into_owned());
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
            observer.flooded(stream, limit);
            let live = global::live();
            if live.contains_key(&family.leader.as_raw()) {
                family.end_by_grader();
                family.kill_now();
            }
        }
    }
    if !partial.is_empty() {
        emit(&partial);
    }
    observer.closed(stream);
}

/// Observes the exit and tells it at once, then kills what is left of
/// the family, unregisters it, and reaps.
///
/// The exit is told when it is observed, before the clean-up: a wait on
/// the program (the grader's `stop` with its `within`) ends when the
/// program ended, not after the sandbox's own work, which reads `/proc`
/// several times and takes longer on a busy machine.
fn reap(family: &Family, observer: &dyn Observer, limits: &Limits) {
    let pid = family.leader;
    // Not reaped yet: the zombie keeps its process group id reserved.
    let observed = loop {
        match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Err(Errno::EINTR) => continue,
            r => break r,
        }
    };
    let at = Instant::now();
    let status = match observed {
        Ok(WaitStatus::Exited(_, code)) => Status::Code(code),
        Ok(WaitStatus::Signaled(_, sig, _)) => Status::Signal(sig as i32),
        // Neither can happen without WUNTRACED or a foreign reaper.
        Ok(_) | Err(_) => Status::Code(-1),
    };
    observer.exited(ended(family, at, status, limits));
    // Still registered meanwhile: a Ctrl+C now kills the family too.
    family.end_by_grader();
    family.kill_all();
    global::live().remove(&pid.as_raw());
    // The leader is a zombie: this wait returns at once. Under the lock,
    // so that its id, free again, is not unregistered from a new program.
    {
        let mut leaders = global::leaders();
        while let Err(Errno::EINTR) = waitpid(pid, None) {}
        leaders.remove(&pid.as_raw());
    }
    family.release();
}

/// The end of `family`'s program, seen at `at` with `status`, its leader
/// not yet reaped: which limit it says, and what is still running.
fn ended(family: &Family, at: Instant, status: Status, limits: &Limits) -> Exit {
    let pid = family.leader.as_raw();
    let leader = Stat::of(pid);
    let on_exit = !family.ended_by_grader();
    // What is still running: all of it if the program exited on its own;
    // if the grader ended it (its group was killed), what had left the group.
    let left: Vec<Stat> = family
        .members(None)
        .into_iter()
        .filter(|s| s.pid != pid && !s.zombie())
        .filter(|s| on_exit || s.pgid != pid)
        .collect();
    let escaped = left.iter().all(|s| s.pgid != pid);
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
    let cpu_spent = leader.is_some_and(|s| s.ticks >= limits.cpu.as_secs().max(1) * tck);
    let exceeded = (status == Status::Signal(Signal::SIGXCPU as i32)
        || (status == Status::Signal(Signal::SIGKILL as i32) && on_exit && cpu_spent))
        .then_some(Limit::Cpu(limits.cpu));
    Exit {
        at,
        status,
        exceeded,
        strays,
        on_exit,
        escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Condvar, Mutex, MutexGuard};

    use nix::sys::signal::SigSet;

    /// What a program was seen to do.
    #[derive(Default)]
    struct Seen {
        started: Option<Pid>,
        stdout: Vec<String>,
        stderr: Vec<String>,
        /// Output streams still open.
        open: usize,
        flooded: Vec<(Stream, usize)>,
        exceeded: Vec<Limit>,
        exit: Option<Exit>,
    }

    /// An observer that keeps everything, and lets a test wait on it.
    #[derive(Default)]
    struct Log {
        seen: Mutex<Seen>,
        changed: Condvar,
    }

    impl Log {
        fn lock(&self) -> MutexGuard<'_, Seen> {
            self.seen.lock().unwrap_or_else(|e| e.into_inner())
        }

        fn update(&self, f: impl FnOnce(&mut Seen)) {
            f(&mut self.lock());
            self.changed.notify_all();
        }

        fn read<R>(&self, f: impl FnOnce(&Seen) -> R) -> R {
            f(&self.lock())
        }

        /// Waits until `ready`, or `deadline` passes; says whether `ready`.
        fn wait_until(&self, deadline: Instant, ready: impl Fn(&Seen) -> bool) -> bool {
            let mut seen = self.lock();
            while !ready(&seen) {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return false;
                }
                seen = (self.changed.wait_timeout(seen, left))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            true
        }

        /// Waits until the program's end is told; the bound only ends a
        /// broken run.
        fn wait_exit(&self) -> Exit {
            assert!(self.wait_until(soon(), |s| s.exit.is_some()), "no exit");
            self.read(|s| s.exit.clone()).unwrap()
        }

        /// The limit the program went past, told either way.
        fn limit(&self) -> Option<Limit> {
            self.read(|s| {
                (s.exceeded.first().copied()).or(s.exit.as_ref().and_then(|e| e.exceeded))
            })
        }
    }

    impl Observer for Log {
        fn started(&self, _: Instant, pid: Pid) {
            self.update(|s| {
                s.started = Some(pid);
                s.open = 2;
            });
        }

        fn line(&self, stream: Stream, text: String) {
            self.update(|s| match stream {
                Stream::Stdout => s.stdout.push(text),
                Stream::Stderr => s.stderr.push(text),
            });
        }

        fn closed(&self, _: Stream) {
            self.update(|s| s.open = s.open.saturating_sub(1));
        }

        fn flooded(&self, stream: Stream, limit: usize) {
            self.update(|s| s.flooded.push((stream, limit)));
        }

        fn exceeded(&self, limit: Limit) {
            self.update(|s| s.exceeded.push(limit));
        }

        fn exited(&self, exit: Exit) {
            self.update(|s| s.exit = Some(exit));
        }

        /// Far beyond any bound a test here asserts, as a test's time
        /// limit would be: a test that shows `wait` does not wait for a
        /// pipe must not depend on how fast the machine is.
        fn wait_closed(&self) {
            let limit = Instant::now() + Duration::from_secs(600);
            self.wait_until(limit, |s| s.open == 0);
        }
    }

    /// The grader's default limits.
    fn limits() -> Limits {
        Limits {
            cpu: Duration::from_secs(10),
            memory: 256 << 20,
            address_space: 4 << 30,
            processes: 64,
            open_files: 256,
            output: 1 << 20,
        }
    }

    fn sh(script: &str, output: u64) -> (Program, Arc<Log>) {
        sh_under(script, &Limits { output, ..limits() })
    }

    fn sh_under(script: &str, limits: &Limits) -> (Program, Arc<Log>) {
        start("/bin/sh", &["-c", script], limits).unwrap()
    }

    fn start(program: &str, args: &[&str], limits: &Limits) -> Result<(Program, Arc<Log>), String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let log = Arc::new(Log::default());
        let launch = Launch {
            program: Path::new(program),
            args: &args,
            env: &[("RUST_BACKTRACE", "0")],
            limits,
        };
        let p = Program::spawn(&launch, Arc::clone(&log) as Arc<dyn Observer>)?;
        Ok((p, log))
    }

    /// The bound of a wait that ends a broken test: far beyond what a
    /// working one takes on any machine.
    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[test]
    fn output_and_exit_status_are_told() {
        let (mut p, log) = sh("echo one; printf 'two\\r\\nthree' >&2; exit 3", 1 << 20);
        let exit = log.wait_exit();
        p.wait();
        assert_eq!(exit.status, Status::Code(3));
        assert!(exit.on_exit && exit.strays.is_empty() && exit.exceeded.is_none());
        assert_eq!(log.read(|s| s.started), Some(p.pid()));
        assert_eq!(log.read(|s| s.stdout.clone()), ["one"]);
        assert_eq!(log.read(|s| s.stderr.clone()), ["two", "three"]);
        assert_eq!(log.read(|s| s.open), 0);
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
        let mut set = SigSet::empty();
        set.add(Signal::SIGINT);
        set.add(Signal::SIGTERM);
        set.thread_block().unwrap();
        let (mut p, log) = start(
            "/bin/grep",
            &["-E", "^Sig(Blk|Ign)", "/proc/self/status"],
            &limits(),
        )
        .unwrap();
        log.wait_exit();
        p.wait();
        set.thread_unblock().unwrap();
        assert_eq!(
            log.read(|s| s.stdout.clone()),
            ["SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"]
        );
    }

    #[test]
    fn programs_start_with_the_default_signal_mask_and_dispositions() {
        // Block what the grader blocks in every thread: the child must not
        // inherit it. (Rust also ignores SIGPIPE in this process.)
        let mut set = SigSet::empty();
        set.add(Signal::SIGINT);
        set.add(Signal::SIGTERM);
        set.add(Signal::SIGHUP);
        set.thread_block().unwrap();
        let (mut p, log) = sh(
            "grep -E '^Sig(Blk|Ign)' /proc/self/status; for f in /proc/self/fd/*; do echo \"fd ${f##*/} $(readlink $f)\"; done",
            1 << 20,
        );
        log.wait_exit();
        p.wait();
        set.thread_unblock().unwrap();
        let out = log.read(|s| s.stdout.clone());
        assert!(
            out.iter().any(|l| l == "SigBlk:\t0000000000000000"),
            "{out:?}"
        );
        // Every signal has its default disposition.
        assert!(
            out.iter().any(|l| l == "SigIgn:\t0000000000000000"),
            "{out:?}"
        );
        // Nothing of the grader's leaks into the program: only 0, 1 and 2,
        // the shell's own descriptors, and what this process inherited.
        let inherited = inherited_here();
        let leaked: Vec<&String> = out
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
        let (mut p, log) = sh("yes flood", 4096);
        let exit = log.wait_exit();
        p.wait();
        assert_eq!(exit.status, Status::Signal(9));
        assert_eq!(log.read(|s| s.flooded.clone()), [(Stream::Stdout, 4096)]);
        assert!(log.read(|s| s.stdout.len()) <= 4096 / 6 + 1);
    }

    #[test]
    fn children_left_behind_are_named_and_killed() {
        let (mut p, log) = sh("sleep 30 & echo $!; exit 0", 1 << 20);
        let exit = log.wait_exit();
        p.wait();
        assert_eq!(exit.strays.len(), 1);
        assert!(exit.on_exit);
        let child: i32 = log.read(|s| s.stdout[0].parse().unwrap());
        assert_eq!(exit.strays[0].pid, child);
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
        let (mut p, log) = sh("exec sleep 30", 1 << 20);
        assert!(p.kill());
        p.wait();
        let exit = log
            .read(|s| s.exit.clone())
            .expect("told before wait returns");
        assert_eq!(exit.status, Status::Signal(Signal::SIGKILL as i32));
        assert!(!exit.on_exit);
        assert!(!p.kill(), "a reaped group is not killed");
        assert!(
            !p.signal(Signal::SIGTERM),
            "a reaped group is not signalled"
        );
    }

    #[test]
    fn a_missing_program_is_explained() {
        let err = start("/nonexistent/server", &[], &limits()).err().unwrap();
        assert!(err.starts_with("ENOENT: there is no such file"), "{err}");
    }

    /// Whether process `pid` is gone (or a zombie about to be reaped).
    fn is_gone(pid: i32) -> bool {
        Stat::of(pid).is_none_or(|s| s.state == 'Z')
    }

    #[test]
    fn a_daemon_that_left_the_group_is_killed_and_named() {
        // The daemon leaves the process group and keeps the pipe open.
        let (mut p, log) = sh(
            "setsid sleep 31 & echo $!; while :; do sleep 1; done",
            1 << 20,
        );
        assert!(log.wait_until(soon(), |s| !s.stdout.is_empty()));
        let daemon: i32 = log.read(|s| s.stdout[0].parse().unwrap());
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
        // Not a bound on its time: the wait waits for the output to close,
        // and the daemon holds it; it must not wait for the observer's limit.
        assert!(p.kill());
        p.wait();
        assert!(is_gone(daemon), "the daemon {daemon} is still running");
        let exit = log.read(|s| s.exit.clone()).expect("the exit is told");
        assert!(!exit.on_exit);
        assert!(exit.escaped);
        assert_eq!(exit.strays[0].pid, daemon);
        assert_eq!(exit.strays[0].command, "sleep 31");
    }

    #[test]
    fn a_double_fork_holding_stdout_does_not_hang_the_wait() {
        // The grandchild outlives its parent and holds stdout open.
        let (mut p, log) = sh("(sh -c 'sleep 120' &); exit 0", 1 << 20);
        log.wait_exit();
        // A wait that left the grandchild alone would wait for the output
        // to close: 120 s, until it ends. Half of that is a wide margin.
        let t = Instant::now();
        p.wait();
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "wait took {:?}",
            t.elapsed()
        );
        // The subshell, perhaps not yet replaced by `sleep`, and `sleep`.
        let exit = log.read(|s| s.exit.clone()).unwrap();
        assert!(!exit.strays.is_empty(), "{exit:?}");
    }

    #[test]
    fn a_memory_hog_is_killed_at_its_memory_limit() {
        let limits = Limits {
            memory: 32 << 20,
            ..limits()
        };
        // Touches 16 MiB at a time, up to 1 GiB, unless stopped.
        let (mut p, log) = sh_under(
            "exec python3 -c 'import time\nx=[]\nfor i in range(64): x.append(bytearray(16<<20))\ntime.sleep(30)'",
            &limits,
        );
        let exit = log.wait_exit();
        p.wait();
        assert_eq!(log.limit(), Some(Limit::Memory(32 << 20)));
        assert_eq!(exit.status, Status::Signal(9));
    }

    #[test]
    fn a_fork_bomb_is_stopped_at_its_process_limit() {
        let limits = Limits {
            processes: 16,
            ..limits()
        };
        // At most 200 processes, each gone within 30 s.
        let (mut p, log) = sh_under(
            "i=0; while [ $i -lt 200 ]; do sleep 33 & i=$((i+1)); done; wait",
            &limits,
        );
        log.wait_exit();
        p.wait();
        assert_eq!(log.limit(), Some(Limit::Processes(16)));
    }

    #[test]
    fn a_spinning_program_is_killed_at_its_cpu_limit() {
        let limits = Limits {
            cpu: Duration::from_secs(1),
            ..limits()
        };
        let (mut p, log) = sh_under("while :; do :; done", &limits);
        let exit = log.wait_exit();
        p.wait();
        assert_eq!(exit.exceeded, Some(Limit::Cpu(Duration::from_secs(1))));
        assert_eq!(exit.status, Status::Signal(24));
    }

    #[test]
    fn limits_are_set_before_the_program_runs() {
        let (mut p, log) = sh("ulimit -c; ulimit -n; ulimit -t; ulimit -v", 1 << 20);
        log.wait_exit();
        p.wait();
        assert_eq!(
            log.read(|s| s.stdout.clone()),
            ["0", "256", "10", &(4u64 << 20).to_string()]
        );
    }

    #[test]
    fn programs_start_with_their_variables_and_their_family_tag() {
        let (mut p, log) = sh("echo $RUST_BACKTRACE; echo $GRADER_PROGRAM", 1 << 20);
        log.wait_exit();
        p.wait();
        let out = log.read(|s| s.stdout.clone());
        assert_eq!(out[0], "0");
        let tag = format!("{}-", std::process::id());
        assert!(out[1].starts_with(&tag), "{out:?}");
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
                            let (mut p, log) = sh("exit 3", 1 << 20);
                            let exit = log.wait_exit();
                            p.wait();
                            exit.status
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for s in spawners {
            for status in s.join().unwrap() {
                assert_eq!(status, Status::Code(3));
            }
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        sweeper.join().unwrap();
    }
}
