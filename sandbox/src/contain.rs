//! The last moment before a program runs: with [`crate::net`] (one
//! `ioctl(2)`), the only module of the sandbox (and of the kit's grader)
//! with `unsafe` code.
//!
//! A program must start as a shell would start it, and under hard limits
//! that hold from its first instruction. Both have to be set up inside
//! the child, between its birth and `execve(2)`.
//!
//! # Why not `fork(2)`
//!
//! `std::process::Command` with a `pre_exec` set-up forks, and `fork(2)`
//! copies the page tables of the whole parent: here a grader with some
//! hundred threads and a large heap, which then takes a copy-on-write
//! fault for each page it writes, all for a child that throws the copy
//! away at `execve(2)` a moment later. A grading run starts some 300
//! programs, and `perf` put the forks and their faults at about 8 % of
//! all its CPU time. From a process with 100 threads and 200 MiB of
//! written heap, on a busy two-core machine, a fork-based start of
//! `/bin/true` took 15 to 25 ms, and takes 1 to 2 ms this way (the test
//! `start_and_reap_cost` measures both). So [`start`] does what glibc's
//! and musl's `posix_spawn(3)` do (and `std` itself, when a command has
//! no `pre_exec`): `clone(2)` with `CLONE_VM | CLONE_VFORK`. The child
//! runs in the grader's own memory, on a small stack of its own; the
//! calling thread sleeps until the child has called `execve(2)` or
//! exited, while the grader's other threads go on; no page table is
//! copied.
//!
//! Sharing the memory makes the rules for the child stricter than after
//! a fork, where it only had to be async-signal-safe:
//!
//! - everything it needs is made before the clone, in a [`Plan`]: `argv`
//!   and `envp` as C arrays, the executable's path (looked up in the
//!   program's `PATH` here, as `execvp(3)` would), the working directory,
//!   the descriptors, the limits. The child only reads the plan. It
//!   allocates nothing, takes no lock, has no code that can panic, and
//!   makes raw system calls only (`syscall(2)`): every write of its lands
//!   in the grader's memory, and a lock it took would be the grader's;
//! - every signal is blocked in the calling thread across the clone, and
//!   the child inherits that mask: a handler of the grader's (Rust's own
//!   for SIGSEGV, say) run in the child would run on the grader's memory.
//!   The child sets every disposition back to the default first, and only
//!   then unblocks (glibc's `posix_spawn` does the same);
//! - the child asks the kernel for its pid (the raw `getpid` system
//!   call): a C library that caches the pid keeps the cache in the memory
//!   the two share, so it would answer with the grader's;
//! - a step that fails writes which step and its `errno` into a
//!   [`Shared`] report and exits with 127. When the thread wakes up, it
//!   reads the report, reaps the child and returns the error: no pipe is
//!   needed, as `std` needs one after a fork.
//!
//! # The set-up, in order
//!
//! 1. stdin from `/dev/null`, stdout and stderr onto the pipes
//!    (`dup3(2)`: the copies lose close-on-exec; every other descriptor of
//!    the grader's has it, so none leaks). A descriptor that is itself 0,
//!    1 or 2 is moved above them before the clone, as `std` does, so that
//!    one copy cannot overwrite the source of the next; then a process
//!    group of its own (`setpgid(2)`), and the working directory, if one
//!    is given (`chdir(2)`, still as the grader's user);
//! 2. every signal's disposition back to the default, glibc's two
//!    reserved real-time signals (32 and 33) included (a grader started
//!    from a shell script's background job inherits SIGINT ignored, and
//!    would pass that on), and then an empty signal mask (every thread of
//!    the grader blocks SIGINT, SIGTERM and SIGHUP, and this one has
//!    blocked all of them for the clone);
//! 3. the hard limits (`prlimit64(2)`, see `setrlimit(2)`): CPU time,
//!    address space, open files, processes, no core dumps;
//! 4. joining the program's cgroup, when the grader uses cgroups, by
//!    writing its own pid to the `cgroup.procs` the parent opened: before
//!    `execve`, so not one instruction of the program runs outside it;
//! 5. when the program runs as another user ([`crate::Identity`]): no
//!    supplementary group, then its group, then its user, all three ids of
//!    each (`setresgid(2)`, `setresuid(2)`), after the cgroup (which only
//!    root may join) and before the parent-death signal (which the kernel
//!    clears when the credentials change). Raw system calls: glibc's
//!    wrappers would try to change every thread of the process;
//! 6. the parent-death signal: SIGKILL when the grader dies, however it
//!    dies, SIGKILL included. If the grader died before this line, the
//!    parent is already someone else, and the child gives up;
//! 7. `execve(2)`. A file the kernel cannot run (`ENOEXEC`: a script
//!    without a `#!` line) goes to `/bin/sh`, as `execvp(3)` and shells
//!    do.
//!
//! [`kill_every_process_of`] starts its killer the same way.

#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, fcntl};
use nix::libc::{self, c_char, c_int, c_long, c_void};
use nix::sys::resource::{Resource, rlim_t};
use nix::sys::wait::waitpid;
use nix::unistd::{AccessFlags, Pid, access, getpid};

/// One hard limit: `setrlimit(resource, soft, hard)`.
pub(crate) type Rlimit = (Resource, rlim_t, rlim_t);

/// What to start, and how.
pub(crate) struct Start<'a> {
    /// The executable.
    pub program: &'a Path,
    /// Its arguments (without its name).
    pub args: &'a [String],
    /// Variables set on top of the grader's environment.
    pub env: Vec<(OsString, OsString)>,
    /// Where its stdout goes.
    pub stdout: OwnedFd,
    /// Where its stderr goes.
    pub stderr: OwnedFd,
    /// Its hard limits.
    pub rlimits: Vec<Rlimit>,
    /// `cgroup.procs` of its cgroup, opened for writing, if it gets one.
    pub cgroup: Option<&'a File>,
    /// The user and group it runs as, when not the grader's.
    pub user: Option<(u32, u32)>,
    /// Its working directory, when not the grader's.
    pub dir: Option<&'a Path>,
}

/// The child's stack. Its deepest calls are a few frames of plain system
/// calls, far below this; the pages cost nothing until touched.
const STACK: usize = 256 << 10;

/// The lowest part of the stack, left unmapped for reading and writing:
/// a child that overflowed its stack dies of SIGSEGV there, instead of
/// writing over the grader's memory. 64 KiB covers at least one page,
/// whatever the machine's page size (4, 16 or 64 KiB).
const GUARD: usize = 64 << 10;

/// The shell that runs a file the kernel cannot run (`ENOEXEC`).
const SHELL: &CStr = c"/bin/sh";

/// Where `execvp(3)` looks when the environment has no `PATH`.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Starts `s` (see the module docs) and returns its process id. The caller
/// reaps it: the returned child is not waited for here.
///
/// # Errors
/// What `clone(2)` said; `ENOENT` or `EACCES` when no executable of that
/// name is found on the program's `PATH`; `InvalidInput` for a NUL byte in
/// an argument or a variable; and, from the child, what `execve(2)` said
/// (the bare `errno`: the caller explains `ENOENT`, `EACCES` and
/// `ENOEXEC`), or which step of the set-up failed and why.
pub(crate) fn start(s: Start) -> io::Result<Pid> {
    let plan = Plan::new(s)?;
    let (pid, failure) = clone_vfork(&|| plan.run())?;
    match failure {
        None => Ok(pid),
        Some(f) => {
            reap(pid);
            Err(f.error(plan.dir_name.as_deref()))
        }
    }
}

/// Kills every process that runs as `uid` from a child that becomes
/// `uid`: `kill(-1, SIGKILL)` reaches every process the caller may
/// signal, all those of its own user, in one pass of the kernel. The child
/// never executes anything: it exits right after.
///
/// # Errors
/// When the child could not be started or did not become `uid`.
pub(crate) fn kill_every_process_of(uid: u32, gid: u32) -> io::Result<()> {
    let (pid, failure) = clone_vfork(&|| {
        become_user(uid, gid)?;
        // SAFETY: kill(2) on integers, then _exit(2): the child ends
        // here. `kill` fails only when there is no process left to kill.
        unsafe {
            libc::syscall(libc::SYS_kill, -1 as c_long, libc::SIGKILL as c_long);
            libc::_exit(0)
        }
    })?;
    reap(pid);
    match failure {
        None => Ok(()),
        Some(f) => Err(f.error(None)),
    }
}

/// Everything the child needs, made before the clone: it only reads it.
struct Plan<'a> {
    /// The file to run: the program, or what the `PATH` search found.
    path: CString,
    /// Its arguments, the program's name first.
    argv: CArray,
    /// `/bin/sh`, the file and its arguments, for a file without `#!`.
    script: CArray,
    /// Its environment, `NAME=value` each.
    envp: CArray,
    /// Its working directory.
    dir: Option<CString>,
    /// The same, for an error message.
    dir_name: Option<PathBuf>,
    /// stdin, stdout and stderr, none of them 0, 1 or 2, each with the
    /// descriptor it goes to.
    stdio: [(OwnedFd, c_int); 3],
    /// Its hard limits, as `prlimit64(2)` takes them.
    rlimits: Vec<(c_int, libc::rlimit64)>,
    /// `cgroup.procs` of its cgroup.
    cgroup: Option<BorrowedFd<'a>>,
    /// Its user and group.
    user: Option<(u32, u32)>,
    /// The grader's pid: the child's parent, unless the grader died.
    parent: libc::pid_t,
    /// The last real-time signal.
    rtmax: c_int,
}

impl<'a> Plan<'a> {
    /// Prepares `s`: converts, looks up and opens all the child will use.
    ///
    /// # Errors
    /// A NUL byte in a string, a program not found on the `PATH`, or
    /// `/dev/null` that cannot be opened.
    fn new(s: Start<'a>) -> io::Result<Plan<'a>> {
        let env = environment(s.env);
        let path = executable(
            s.program,
            env.get(OsStr::new("PATH")).map(OsString::as_os_str),
            s.dir,
        )?;
        let path = c_string(path.into_os_string().into_vec(), "the program's path")?;
        let name = c_string(
            s.program.as_os_str().as_bytes().to_vec(),
            "the program's name",
        )?;
        let args = (s.args.iter())
            .map(|a| c_string(a.clone().into_bytes(), "an argument"))
            .collect::<io::Result<Vec<_>>>()?;
        let argv = CArray::new(std::iter::once(name).chain(args.iter().cloned()).collect());
        let script = CArray::new(
            [SHELL.to_owned(), path.clone()]
                .into_iter()
                .chain(args)
                .collect(),
        );
        let envp = (env.into_iter())
            .map(|(k, v)| {
                let mut entry = k.into_vec();
                entry.push(b'=');
                entry.extend(v.into_vec());
                c_string(entry, "a variable of the environment")
            })
            .collect::<io::Result<Vec<_>>>()?;
        let dir = (s.dir)
            .map(|d| c_string(d.as_os_str().as_bytes().to_vec(), "the working directory"))
            .transpose()?;
        let stdin = OwnedFd::from(File::open("/dev/null")?);
        let stdio = [
            (above_stdio(stdin)?, libc::STDIN_FILENO),
            (above_stdio(s.stdout)?, libc::STDOUT_FILENO),
            (above_stdio(s.stderr)?, libc::STDERR_FILENO),
        ];
        let rlimits = (s.rlimits.iter())
            .map(|&(resource, soft, hard)| {
                // A cast of nothing on 64-bit Linux, where `rlim_t` is
                // `u64` too; a widening one on 32-bit.
                #[allow(clippy::unnecessary_cast)]
                let limit = libc::rlimit64 {
                    rlim_cur: soft as u64,
                    rlim_max: hard as u64,
                };
                (resource as c_int, limit)
            })
            .collect();
        Ok(Plan {
            path,
            argv,
            script,
            envp: CArray::new(envp),
            dir,
            dir_name: s.dir.map(Path::to_path_buf),
            stdio,
            rlimits,
            cgroup: s.cgroup.map(File::as_fd),
            user: s.user,
            parent: getpid().as_raw(),
            rtmax: libc::SIGRTMAX(),
        })
    }

    /// The child's part, in the grader's memory (see the module docs):
    /// raw system calls on the plan, nothing allocated, no lock, no code
    /// that can panic. Returns only when a step failed.
    fn run(&self) -> Result<Infallible, Failure> {
        // SAFETY (every `unsafe` block of this function): system calls on
        // integers and on memory of `self`, which the parent made before
        // the clone and does not touch until this process has exec'd or
        // exited; every pointer points to a value that outlives the call.
        for (fd, target) in &self.stdio {
            let (fd, target) = (fd.as_raw_fd() as c_long, *target as c_long);
            sys(Step::Stdio, unsafe {
                libc::syscall(libc::SYS_dup3, fd, target, 0 as c_long)
            })?;
        }
        sys(Step::Group, unsafe {
            libc::syscall(libc::SYS_setpgid, 0 as c_long, 0 as c_long)
        })?;
        if let Some(dir) = &self.dir {
            sys(Step::Dir, unsafe {
                libc::syscall(libc::SYS_chdir, dir.as_ptr())
            })?;
        }
        // Through the system call itself: glibc's signal() refuses its two
        // reserved real-time signals, which a process may have inherited
        // ignored. An all-zero kernel `struct sigaction` is SIG_DFL, no
        // flags, empty mask, whatever the architecture's layout. The
        // kernel's signal mask is 8 bytes wide.
        let default = [0u64; 4];
        for sig in 1..=self.rtmax {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                unsafe {
                    libc::syscall(
                        libc::SYS_rt_sigaction,
                        sig as c_long,
                        default.as_ptr(),
                        ptr::null_mut::<u64>(),
                        8 as c_long,
                    )
                };
            }
        }
        // Only now, with no handler of the grader's left to run.
        let empty = 0u64;
        sys(Step::Signals, unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK as c_long,
                &raw const empty,
                ptr::null_mut::<u64>(),
                8 as c_long,
            )
        })?;
        for (resource, limit) in &self.rlimits {
            sys(Step::Limits, unsafe {
                libc::syscall(
                    libc::SYS_prlimit64,
                    0 as c_long,
                    *resource as c_long,
                    ptr::from_ref(limit),
                    ptr::null_mut::<libc::rlimit64>(),
                )
            })?;
        }
        if let Some(fd) = self.cgroup {
            // The kernel's answer: glibc's getpid() is not for a child
            // that shares the parent's memory (see the module docs).
            let pid = unsafe { libc::syscall(libc::SYS_getpid) };
            let mut digits = [0u8; 10];
            let text = decimal(pid as u32, &mut digits);
            sys(Step::Cgroup, unsafe {
                libc::syscall(
                    libc::SYS_write,
                    fd.as_raw_fd() as c_long,
                    text.as_ptr(),
                    text.len(),
                )
            })?;
        }
        if let Some((uid, gid)) = self.user {
            become_user(uid, gid)?;
        }
        sys(Step::ParentDeath, unsafe {
            libc::syscall(
                libc::SYS_prctl,
                libc::PR_SET_PDEATHSIG as c_long,
                libc::SIGKILL as c_long,
                0 as c_long,
                0 as c_long,
                0 as c_long,
            )
        })?;
        if unsafe { libc::syscall(libc::SYS_getppid) } != c_long::from(self.parent) {
            return Err(Failure {
                step: Step::Orphaned,
                errno: libc::ESRCH,
            });
        }
        unsafe {
            libc::syscall(
                libc::SYS_execve,
                self.path.as_ptr(),
                self.argv.as_ptr(),
                self.envp.as_ptr(),
            )
        };
        let errno = Errno::last_raw();
        if errno == libc::ENOEXEC {
            unsafe {
                libc::syscall(
                    libc::SYS_execve,
                    SHELL.as_ptr(),
                    self.script.as_ptr(),
                    self.envp.as_ptr(),
                )
            };
        }
        Err(Failure {
            step: Step::Exec,
            errno,
        })
    }
}

/// A NUL-terminated array of pointers to C strings, as `execve(2)` takes
/// `argv` and `envp`, with the strings it points to.
struct CArray {
    /// The strings; their bytes stay where they are when this moves.
    _strings: Vec<CString>,
    /// A pointer to each string, then a null pointer.
    pointers: Vec<*const c_char>,
}

impl CArray {
    fn new(strings: Vec<CString>) -> CArray {
        let pointers = (strings.iter().map(|s| s.as_ptr()))
            .chain(std::iter::once(ptr::null()))
            .collect();
        CArray {
            _strings: strings,
            pointers,
        }
    }

    fn as_ptr(&self) -> *const *const c_char {
        self.pointers.as_ptr()
    }
}

/// `bytes` as a C string.
///
/// # Errors
/// `InvalidInput` when they hold a NUL byte, naming `what` they are.
fn c_string(bytes: Vec<u8>, what: &str) -> io::Result<CString> {
    CString::new(bytes).map_err(|e| {
        let text = String::from_utf8_lossy(&e.into_vec()).into_owned();
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} contains a NUL byte: {text:?}"),
        )
    })
}

/// The program's environment: the grader's, `extra` on top, without the
/// keeper's variable; sorted by name, as `std` sorts it.
fn environment(extra: Vec<(OsString, OsString)>) -> BTreeMap<OsString, OsString> {
    let mut env: BTreeMap<OsString, OsString> = std::env::vars_os().collect();
    env.extend(extra);
    env.remove(OsStr::new(crate::keeper::WORKER_VARIABLE));
    env
}

/// The file to run: `program` itself when it names a path (it has a `/`);
/// else the first executable file of that name in the directories of
/// `path` (the program's `PATH`; `/bin:/usr/bin` when it has none), in
/// order, as `execvp(3)` searches them. An empty entry, or any relative
/// one, is taken from the program's working directory, `dir` when given.
///
/// # Errors
/// `ENOENT` when no directory has a file of that name, `EACCES` when
/// none of those that have one may be run.
fn executable(program: &Path, path: Option<&OsStr>, dir: Option<&Path>) -> io::Result<PathBuf> {
    let name = program.as_os_str();
    if name.is_empty() {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    if name.as_bytes().contains(&b'/') {
        return Ok(program.to_path_buf());
    }
    let path = path.unwrap_or(OsStr::new(DEFAULT_PATH));
    let mut denied = false;
    for entry in path.as_bytes().split(|&b| b == b':') {
        // `Path::new("").join(name)` is `name`: the working directory.
        let candidate = Path::new(OsStr::from_bytes(entry)).join(name);
        // The child resolves a relative path after its `chdir`.
        let seen = match dir {
            Some(d) if candidate.is_relative() => d.join(&candidate),
            _ => candidate.clone(),
        };
        if std::fs::metadata(&seen).is_ok_and(|m| m.is_file()) {
            if access(&seen, AccessFlags::X_OK).is_ok() {
                return Ok(candidate);
            }
            denied = true;
        }
    }
    let errno = if denied { libc::EACCES } else { libc::ENOENT };
    Err(io::Error::from_raw_os_error(errno))
}

/// `fd`, moved above 2 when it is 0, 1 or 2 (a grader started with its
/// own stdin closed opens `/dev/null` as 0): in the child, the copy onto
/// 0 would otherwise close the stdout it is about to copy onto 1.
///
/// # Errors
/// What `fcntl(2)` said.
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > libc::STDERR_FILENO {
        return Ok(fd);
    }
    let moved = fcntl(&fd, FcntlArg::F_DUPFD_CLOEXEC(libc::STDERR_FILENO + 1))?;
    // SAFETY: `fcntl` returned a new descriptor, owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(moved) })
}

/// A step of the child's set-up, for the parent to name the one that
/// failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Step {
    Stdio = 1,
    Group,
    Dir,
    Signals,
    Limits,
    Cgroup,
    User,
    ParentDeath,
    Orphaned,
    Exec,
}

impl Step {
    const ALL: [Step; 10] = [
        Step::Stdio,
        Step::Group,
        Step::Dir,
        Step::Signals,
        Step::Limits,
        Step::Cgroup,
        Step::User,
        Step::ParentDeath,
        Step::Orphaned,
        Step::Exec,
    ];

    /// The step stored as `raw`; `None` for 0, no step.
    fn from_raw(raw: u8) -> Option<Step> {
        Step::ALL.into_iter().find(|&s| s as u8 == raw)
    }

    /// What the child was doing, for an error message.
    fn doing(self) -> &'static str {
        match self {
            Step::Stdio => "dup3(2) of stdin, stdout or stderr",
            Step::Group => "setpgid(2), a process group of its own",
            Step::Dir => "chdir(2) to its working directory",
            Step::Signals => "rt_sigprocmask(2), an empty signal mask",
            Step::Limits => "setrlimit(2), its hard limits",
            Step::Cgroup => "joining its cgroup",
            Step::User => "setresuid(2), becoming its user",
            Step::ParentDeath => "prctl(2), its parent-death signal",
            Step::Orphaned => "the grader ended while it was starting",
            Step::Exec => "execve(2)",
        }
    }
}

/// The step that failed in the child, and its `errno`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Failure {
    step: Step,
    errno: i32,
}

impl Failure {
    /// The error to return. `execve(2)`'s is its bare `errno`, which the
    /// caller explains (a missing file, one not executable): the program
    /// is at fault. The others say which step failed; `dir` is the working
    /// directory, if any.
    fn error(self, dir: Option<&Path>) -> io::Error {
        let os = io::Error::from_raw_os_error(self.errno);
        match (self.step, dir) {
            (Step::Exec, _) => os,
            (Step::Dir, Some(d)) => {
                io::Error::new(os.kind(), format!("chdir(2) to {}: {os}", d.display()))
            }
            (step, _) => io::Error::new(os.kind(), format!("{}: {os}", step.doing())),
        }
    }
}

/// `r`, the result of a raw system call, or `step`'s failure with
/// `errno` when it is -1.
fn sys(step: Step, r: c_long) -> Result<c_long, Failure> {
    if r == -1 {
        Err(Failure {
            step,
            errno: Errno::last_raw(),
        })
    } else {
        Ok(r)
    }
}

/// What the child reports to the thread that started it, in the memory
/// the two share; and what the child is to run.
struct Shared<'a> {
    /// The child's work: returns only when it failed.
    child: &'a dyn Fn() -> Result<Infallible, Failure>,
    /// The failed [`Step`], 0 if none.
    step: AtomicU8,
    /// Its `errno`.
    errno: AtomicI32,
}

/// Runs `child` in a new process that shares this one's memory until it
/// calls `execve(2)` or exits (`clone(2)` with `CLONE_VM | CLONE_VFORK`),
/// on a stack of its own, with every signal blocked; this thread sleeps
/// meanwhile. Returns the child's pid, and the failure `child` returned,
/// if it did (it has then exited, and waits to be reaped).
///
/// `child` runs in the grader's memory: see the module docs for what it
/// may do.
///
/// # Errors
/// What `mmap(2)` or `clone(2)` said.
fn clone_vfork(
    child: &dyn Fn() -> Result<Infallible, Failure>,
) -> io::Result<(Pid, Option<Failure>)> {
    let stack = Stack::new()?;
    let shared = Shared {
        child,
        step: AtomicU8::new(0),
        errno: AtomicI32::new(0),
    };
    let pid = {
        let _blocked = AllSignalsBlocked::new()?;
        // SAFETY: `child_main` gets a pointer to `shared`, which outlives
        // the child's use of it: this thread sleeps (CLONE_VFORK) until
        // the child has exec'd or exited. The stack is a mapping of its
        // own, alive as long, its top page-aligned as every ABI asks. The
        // child does only what the module docs allow; every signal is
        // blocked meanwhile, so no handler of the grader's runs in it.
        let pid = unsafe {
            libc::clone(
                child_main,
                stack.top(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                ptr::from_ref(&shared).cast_mut().cast::<c_void>(),
            )
        };
        if pid == -1 {
            return Err(io::Error::last_os_error());
        }
        pid
    };
    let failure = Step::from_raw(shared.step.load(Ordering::Acquire)).map(|step| Failure {
        step,
        errno: shared.errno.load(Ordering::Relaxed),
    });
    Ok((Pid::from_raw(pid), failure))
}

/// The child's first function, on its own stack: runs the child's work,
/// which returns only when it failed, and reports the failure.
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Shared` of `clone_vfork`, alive until this
    // process has exec'd or exited (its thread sleeps until then).
    let shared = unsafe { &*arg.cast_const().cast::<Shared<'_>>() };
    let Err(failure) = (shared.child)();
    shared.errno.store(failure.errno, Ordering::Relaxed);
    shared.step.store(failure.step as u8, Ordering::Release);
    // SAFETY: _exit(2) ends the child at once, running nothing of the
    // grader's (no `atexit` handler, no buffer flushed).
    unsafe { libc::_exit(127) }
}

/// The child's stack: an anonymous mapping of its own, with [`GUARD`]
/// bytes at the bottom that may be neither read nor written.
struct Stack {
    base: *mut c_void,
}

impl Stack {
    /// # Errors
    /// What `mmap(2)` or `mprotect(2)` said.
    fn new() -> io::Result<Stack> {
        // SAFETY: a new anonymous mapping, where the kernel likes; no
        // memory of ours is touched.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                STACK,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack { base };
        // SAFETY: the lowest bytes of the mapping just made, which nothing
        // uses yet.
        if unsafe { libc::mprotect(base, GUARD, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// Its top, where the child starts: stacks grow down.
    fn top(&self) -> *mut c_void {
        self.base.wrapping_byte_add(STACK)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; the child that used it has
        // exec'd or exited.
        unsafe { libc::munmap(self.base, STACK) };
    }
}

/// Every signal blocked in this thread while it lives, glibc's two
/// reserved real-time signals included (glibc's `posix_spawn` blocks them
/// too); dropped, the mask it found is back. Raw system calls: glibc's
/// `pthread_sigmask` would leave its own two unblocked.
struct AllSignalsBlocked {
    old: u64,
}

impl AllSignalsBlocked {
    /// # Errors
    /// What `rt_sigprocmask(2)` said.
    fn new() -> io::Result<AllSignalsBlocked> {
        let all = u64::MAX;
        let mut old = 0u64;
        // SAFETY: reads `all` and writes `old`, both alive; the kernel's
        // signal mask is 8 bytes wide.
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK as c_long,
                &raw const all,
                &raw mut old,
                8 as c_long,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(AllSignalsBlocked { old })
    }
}

impl Drop for AllSignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: reads `self.old`, alive; sets back a mask the kernel
        // gave.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK as c_long,
                &raw const self.old,
                ptr::null_mut::<u64>(),
                8 as c_long,
            )
        };
    }
}

/// Reaps `pid`, which has exited (its set-up failed, or it was the
/// killer). Another thread that reaps strays may have been first
/// (`ECHILD`): either way it is gone.
fn reap(pid: Pid) {
    while let Err(Errno::EINTR) = waitpid(pid, None) {}
}

/// Drops every supplementary group, then becomes group `gid` and user
/// `uid` (real, effective and saved ids), through the system calls
/// themselves: glibc's wrappers signal every thread of the process to
/// change too, which is not for a child that shares the grader's memory.
fn become_user(uid: u32, gid: u32) -> Result<(), Failure> {
    let (uid, gid) = (c_long::from(uid), c_long::from(gid));
    // SAFETY: plain system calls on integers; setgroups(0, NULL) reads
    // no memory.
    unsafe {
        sys(
            Step::User,
            libc::syscall(libc::SYS_setgroups, 0 as c_long, ptr::null::<libc::gid_t>()),
        )?;
        sys(
            Step::User,
            libc::syscall(libc::SYS_setresgid, gid, gid, gid),
        )?;
        sys(
            Step::User,
            libc::syscall(libc::SYS_setresuid, uid, uid, uid),
        )?;
    }
    Ok(())
}

/// `n` in decimal, written into `buf`, with nothing allocated and no
/// check that could panic: the child calls it.
fn decimal(mut n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut start = buf.len();
    for (i, slot) in buf.iter_mut().enumerate().rev() {
        *slot = b'0'.wrapping_add((n % 10) as u8);
        n /= 10;
        start = i;
        if n == 0 {
            break;
        }
    }
    buf.get(start..).unwrap_or_default()
}

#[cfg(test)]
mod tests;
