//! The last moment before a program runs: with [`crate::net`] (one
//! `ioctl(2)`), the only module of the sandbox (and of the kit's grader)
//! with `unsafe` code.
//!
//! A program must start as a shell would start it, and under hard limits
//! that hold from its first instruction. Both have to be set up inside
//! the child, between `fork(2)` and `execve(2)`, which only
//! [`CommandExt::pre_exec`] offers, and `pre_exec` is `unsafe`: the code
//! runs in a copy of a multi-threaded process, where only async-signal-safe
//! calls are allowed. So the closure below allocates nothing, takes no
//! lock, and makes plain system calls only:
//!
//! 1. every signal's disposition back to the default, glibc's two
//!    reserved real-time signals (32 and 33) included (a grader started
//!    from a shell script's background job inherits SIGINT ignored, and
//!    would pass that on), and an empty signal mask (the grader's threads
//!    block SIGINT, SIGTERM and SIGHUP, and `std` passes the forking
//!    thread's mask on); `std` has already put the program in a process
//!    group of its own;
//! 2. the hard limits ([`setrlimit(2)`](nix::sys::resource::setrlimit)):
//!    CPU time, address space, open files, processes, no core dumps;
//! 3. the parent-death signal (step 6, in fact: last of all, see 5):
//!    SIGKILL when the grader dies, however it dies, SIGKILL included. If
//!    the grader died before this line, the parent is already someone
//!    else, and the child gives up;
//! 4. joining the program's cgroup, when the grader uses cgroups, by
//!    writing its own pid to the `cgroup.procs` the parent opened: before
//!    `execve`, so not one instruction of the program runs outside it;
//! 5. when the program runs as another user ([`crate::Identity`]): no
//!    supplementary group, then its group, then its user, all three ids of
//!    each (`setresgid(2)`, `setresuid(2)`), after the cgroup (which only
//!    root may join) and before the parent-death signal (which the kernel
//!    clears when the credentials change). Raw system calls: glibc's
//!    wrappers would try to change every thread of the process.
//!
//! Everything the closure needs is computed before the fork.

#![allow(unsafe_code)]

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::libc;
use nix::sys::resource::{Resource, rlim_t, setrlimit};
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::{Pid, getpid, getppid};

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

/// Starts `s` (see the module docs) and returns its process id. The caller
/// reaps it: the returned child is not waited for here.
///
/// # Errors
/// What `fork(2)`, the set-up in the child, or `execve(2)` said.
pub(crate) fn start(s: Start) -> io::Result<Pid> {
    let parent = getpid();
    let rlimits = s.rlimits;
    let rtmax = libc::SIGRTMAX();
    let cgroup = s
        .cgroup
        .map(|f| f.as_fd().try_clone_to_owned())
        .transpose()?;
    let mut cmd = Command::new(s.program);
    cmd.args(s.args)
        .envs(s.env)
        .env_remove(crate::keeper::WORKER_VARIABLE)
        .stdin(Stdio::null())
        .stdout(Stdio::from(s.stdout))
        .stderr(Stdio::from(s.stderr))
        .process_group(0);
    if let Some(d) = s.dir {
        cmd.current_dir(d);
    }
    let user = s.user;
    let setup = move || -> io::Result<()> {
        // Through the system call itself: glibc's signal() refuses its two
        // reserved real-time signals, which a process may have inherited
        // ignored. An all-zero kernel `struct sigaction` is SIG_DFL, no
        // flags, empty mask, whatever the architecture's layout.
        let default = [0u64; 4];
        for sig in 1..=rtmax {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                // SAFETY: rt_sigaction(2) is async-signal-safe and reads
                // 8 bytes of mask size from `default`, which outlives it.
                unsafe {
                    libc::syscall(
                        libc::SYS_rt_sigaction,
                        sig,
                        default.as_ptr(),
                        std::ptr::null_mut::<u8>(),
                        8usize,
                    )
                };
            }
        }
        // `std` leaves the mask as the forking thread had it, and every
        // thread of the grader blocks SIGINT, SIGTERM and SIGHUP.
        SigSet::empty().thread_set_mask()?;
        for &(resource, soft, hard) in &rlimits {
            setrlimit(resource, soft, hard)?;
        }
        if let Some(fd) = &cgroup {
            let mut digits = [0u8; 20];
            let text = decimal(getpid().as_raw() as u32, &mut digits);
            nix::unistd::write(fd, text)?;
        }
        if let Some((uid, gid)) = user {
            become_user(uid, gid)?;
        }
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
        if getppid() != parent {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        Ok(())
    };
    // SAFETY: `setup` runs in the child between fork and exec. It only
    // makes async-signal-safe system calls (rt_sigaction, sigprocmask,
    // setrlimit, write, setgroups, setresgid, setresuid, prctl, getppid,
    // getpid) on data prepared before the fork, and allocates nothing:
    // `decimal` writes into a stack buffer.
    unsafe { cmd.pre_exec(setup) };
    let child = cmd.spawn()?;
    // Dropping a `Child` neither waits for it nor kills it.
    Ok(Pid::from_raw(child.id() as i32))
}

/// Drops every supplementary group, then becomes group `gid` and user
/// `uid` (real, effective and saved ids), through the system calls
/// themselves: glibc's wrappers signal every thread of the process to
/// change too, which is not for a child between fork and exec.
fn become_user(uid: u32, gid: u32) -> io::Result<()> {
    let check = |r: libc::c_long| {
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    // SAFETY: plain system calls on integers; setgroups(0, NULL) reads
    // no memory.
    unsafe {
        check(libc::syscall(
            libc::SYS_setgroups,
            0usize,
            std::ptr::null::<libc::gid_t>(),
        ))?;
        check(libc::syscall(libc::SYS_setresgid, gid, gid, gid))?;
        check(libc::syscall(libc::SYS_setresuid, uid, uid, uid))?;
    }
    Ok(())
}

/// Kills every process that runs as `uid` from a child that becomes
/// `uid`: `kill(-1, SIGKILL)` reaches every process the caller may
/// signal, all those of its own user, in one pass of the kernel. The child
/// never executes anything: it exits right after.
///
/// # Errors
/// When the child could not be started or did not become `uid`.
pub(crate) fn kill_every_process_of(uid: u32, gid: u32) -> io::Result<()> {
    let mut cmd = Command::new("/");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let kill_all = move || -> io::Result<()> {
        become_user(uid, gid)?;
        // SAFETY: kill(2) and _exit(2) are async-signal-safe; _exit ends
        // the child here, so the exec that would follow never happens.
        unsafe {
            libc::kill(-1, libc::SIGKILL);
            libc::_exit(0);
        }
    };
    // SAFETY: as for `start`: only async-signal-safe system calls, nothing
    // allocated.
    unsafe { cmd.pre_exec(kill_all) };
    let status = cmd.spawn()?.wait()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("the killer ended with {status}")))
    }
}

/// `n` in decimal, written into `buf` without allocating.
fn decimal(mut n: u32, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimal_writes_digits() {
        let mut b = [0u8; 20];
        assert_eq!(decimal(0, &mut b), b"0");
        assert_eq!(decimal(4_194_304, &mut b), b"4194304");
        assert_eq!(decimal(u32::MAX, &mut b), b"4294967295");
    }
}
