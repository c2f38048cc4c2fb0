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
use nix::unistd::{Pid, Uid, getuid};

use crate::contain::{self, Rlimit, Start};
use crate::family::{self, Family, Nursery, Stat};
use crate::global;
use crate::warden::{self, Watch};
use crate::{Exit, Identity, Limit, Observer, Status, Stray, Stream};

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
    /// The user it runs as, when not the grader's (see [`Identity`]).
    pub user: Option<&'a Identity>,
    /// Its working directory, when not the grader's.
    pub dir: Option<&'a Path>,
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

/// The rlimits of `limits`, for each process of a program run as `uid`.
fn rlimits(limits: &Limits, uid: Uid) -> Vec<Rlimit> {
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
    // exempts root): allow the program twice its `processes` more than
    // there are, and one more. The user's other programs, started after
    // this one (the client of the same test, the programs of tests beside
    // it), count too, and the warden must still see this family go past
    // its own limit, which it holds exactly; the rlimit only keeps a fork
    // bomb from outrunning it.
    if !uid.is_root() {
        let n = family::tasks_of_user(uid.as_raw()) + 2 * u64::from(limits.processes) + 1;
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
            rlimits: rlimits(
                launch.limits,
                launch.user.map_or_else(getuid, |u| Uid::from_raw(u.uid)),
            ),
            cgroup: procs.as_ref(),
            user: (launch.user)
                .filter(|u| !u.is_root())
                .map(|u| (u.uid, u.gid)),
            dir: launch.dir,
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

    /// How the program's threads have used the scheduler so far, if the
    /// kernel tells (`/proc/PID/task/*/schedstat`).
    pub fn sched(&self) -> Option<Sched> {
        Sched::of(self.pid.as_raw())
    }
}

/// How a process's threads have used the scheduler, summed: what it
/// asked of the CPU, which a busy machine does not change. A program that
/// spins is running or waiting for a CPU all the time, however little CPU
/// it gets; one that sleeps until there is work is neither, and is put on
/// a CPU only when woken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sched {
    /// Time on a CPU.
    pub running: Duration,
    /// Time ready to run, waiting for a CPU.
    pub waiting: Duration,
    /// Times a thread was put on a CPU.
    pub slices: u64,
}

impl Sched {
    /// Sums `/proc/PID/task/*/schedstat`: `running waiting slices` each,
    /// the times in nanoseconds. `None` when the kernel keeps no such
    /// counts, or the process is gone.
    pub fn of(pid: i32) -> Option<Sched> {
        let mut sum = Sched::default();
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
            let path = task.ok()?.path().join("schedstat");
            let Ok(text) = std::fs::read_to_string(path) else {
                // A thread that ended since the listing.
                continue;
            };
            let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
            let (Some(Some(run)), Some(Some(wait)), Some(Some(slices))) =
                (fields.next(), fields.next(), fields.next())
            else {
                return None;
            };
            sum.running += Duration::from_nanos(run);
            sum.waiting += Duration::from_nanos(wait);
            sum.slices += slices;
        }
        Some(sum)
    }

    /// What happened between `earlier` and this.
    #[must_use]
    pub fn since(self, earlier: Sched) -> Sched {
        Sched {
            running: self.running.saturating_sub(earlier.running),
            waiting: self.waiting.saturating_sub(earlier.waiting),
            slices: self.slices.saturating_sub(earlier.slices),
        }
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
    // Strays that waited behind this leader.
    family::reap_strays();
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
mod tests;
