use super::*;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, RwLock};
use std::thread;
use std::time::Instant;

use nix::fcntl::OFlag;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::WaitStatus;

/// A directory of its own in the temporary directory, removed when
/// dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static SERIAL: AtomicUsize = AtomicUsize::new(0);
        let n = SERIAL.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("contain-{}-{name}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir.canonicalize().unwrap())
    }

    /// File `name` of the directory, holding `text`, with permissions
    /// `mode`.
    fn file(&self, name: &str, text: &str, mode: u32) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dev_null() -> OwnedFd {
    OwnedFd::from(File::options().write(true).open("/dev/null").unwrap())
}

/// Starts `s` as `Program::spawn` does: a leader, which no sweep of
/// strays (another test's) takes for a stray and reaps.
fn start_leader(s: Start) -> io::Result<Pid> {
    let mut leaders = crate::global::leaders();
    let pid = start(s)?;
    leaders.insert(pid.as_raw());
    Ok(pid)
}

/// Reaps a leader started by [`start_leader`].
fn reap_leader(pid: Pid) -> WaitStatus {
    let mut leaders = crate::global::leaders();
    let status = waitpid(pid, None).unwrap();
    leaders.remove(&pid.as_raw());
    status
}

/// What a test program printed and how it ended.
struct Ran {
    pid: Pid,
    stdout: String,
    status: WaitStatus,
}

/// Starts `program` with `args`, `env` on top of this process's
/// environment, in `dir`; reads its stdout to the end and reaps it.
fn run_with(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    dir: Option<&Path>,
) -> io::Result<Ran> {
    let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let pid = start_leader(Start {
        program: Path::new(program),
        args: &args,
        env: env.iter().map(|&(k, v)| (k.into(), v.into())).collect(),
        stdout: out_w,
        stderr: dev_null(),
        rlimits: vec![],
        cgroup: None,
        user: None,
        dir,
    })?;
    let mut stdout = String::new();
    File::from(out_r).read_to_string(&mut stdout).unwrap();
    let status = reap_leader(pid);
    Ok(Ran {
        pid,
        stdout,
        status,
    })
}

fn run(program: &str, args: &[&str]) -> Ran {
    run_with(program, args, &[], None).unwrap()
}

/// The children of the calling thread, exited or not: a child that
/// was never reaped is listed here until it is.
fn children_of_this_thread() -> Vec<i32> {
    let text = std::fs::read_to_string("/proc/thread-self/children").unwrap();
    text.split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

#[test]
fn decimal_writes_digits() {
    let mut b = [0u8; 10];
    assert_eq!(decimal(0, &mut b), b"0");
    assert_eq!(decimal(7, &mut b), b"7");
    assert_eq!(decimal(4_194_304, &mut b), b"4194304");
    assert_eq!(decimal(u32::MAX, &mut b), b"4294967295");
}

/// The program gets this process's environment with the variables asked
/// for on top, and never the keeper's variable, which would make it
/// take itself for a grader's worker.
#[test]
fn the_program_sees_exactly_the_environment_asked_for() {
    let worker = crate::keeper::WORKER_VARIABLE;
    let ran = run_with(
        "/usr/bin/env",
        &["-0"],
        &[("CONTAIN_TEST_MARK", "here"), (worker, "1")],
        None,
    )
    .unwrap();
    assert_eq!(ran.status, WaitStatus::Exited(ran.pid, 0));
    let mut seen: Vec<&str> = ran.stdout.split('\0').filter(|v| !v.is_empty()).collect();
    seen.sort_unstable();
    let mut expected: BTreeMap<OsString, OsString> = std::env::vars_os().collect();
    expected.insert("CONTAIN_TEST_MARK".into(), "here".into());
    expected.remove(OsStr::new(worker));
    let expected: Vec<String> = (expected.iter())
        .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
        .collect();
    assert!(seen.contains(&"CONTAIN_TEST_MARK=here"), "{seen:?}");
    assert!(!seen.iter().any(|v| v.starts_with(&format!("{worker}="))));
    assert_eq!(seen, expected);
}

/// A program that is not there, or not executable, is not started: the
/// error is the bare ENOENT or EACCES, which the caller explains, and a
/// child that got as far as `execve(2)` is reaped.
#[test]
fn a_missing_or_unrunnable_program_is_enoent_or_eacces_and_reaped() {
    let dir = TempDir::new("unrunnable");
    let plain = dir.file("plain", "echo never\n", 0o644);
    let path = format!("PATH={}", dir.0.display());
    let path = path.split_once('=').unwrap();
    let before = children_of_this_thread();
    let errno = |program: &str, env: &[(&str, &str)]| {
        let e = run_with(program, &[], env, None).err();
        e.and_then(|e| e.raw_os_error())
    };
    assert_eq!(errno("/nonexistent/program", &[]), Some(libc::ENOENT));
    assert_eq!(errno(&plain, &[]), Some(libc::EACCES));
    // Looked up on the program's PATH, found nowhere, or not executable.
    assert_eq!(errno("no-such-program", &[path]), Some(libc::ENOENT));
    assert_eq!(errno("plain", &[path]), Some(libc::EACCES));
    let left: Vec<i32> = (children_of_this_thread().into_iter())
        .filter(|p| !before.contains(p))
        .collect();
    assert!(left.is_empty(), "children left unreaped: {left:?}");
}

/// A name without a `/` is looked up in the directories of the
/// program's own `PATH`, in order, skipping a file that may not be run.
#[test]
fn a_bare_name_is_looked_up_on_the_programs_path() {
    let (first, second) = (TempDir::new("path-a"), TempDir::new("path-b"));
    first.file("tool", "#!/bin/sh\necho first\n", 0o644);
    second.file("tool", "#!/bin/sh\necho second\n", 0o755);
    let path = format!("/nonexistent:{}:{}", first.0.display(), second.0.display());
    let ran = run_with("tool", &[], &[("PATH", &path)], None).unwrap();
    assert_eq!(ran.stdout, "second\n");
}

/// The working directory is the program's from its first instruction;
/// one that does not exist is named in the error.
#[test]
fn the_working_directory_is_applied() {
    let dir = TempDir::new("cwd");
    let ran = run_with("/bin/readlink", &["/proc/self/cwd"], &[], Some(&dir.0)).unwrap();
    assert_eq!(ran.stdout.trim_end(), dir.0.to_str().unwrap());
    let missing = dir.0.join("missing");
    let err = run_with("/bin/true", &[], &[], Some(&missing))
        .err()
        .unwrap();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    let named = format!("chdir(2) to {}: ", missing.display());
    assert!(err.to_string().starts_with(&named), "{err}");
}

/// A file without `#!` that the kernel will not run goes to `/bin/sh`,
/// as `execvp(3)` and shells do.
#[test]
fn a_script_without_a_shebang_is_run_by_the_shell() {
    let dir = TempDir::new("script");
    let script = dir.file("script", "echo \"run by the shell: $1\"\n", 0o755);
    let ran = run(&script, &["arg"]);
    assert_eq!(ran.stdout, "run by the shell: arg\n");
    assert_eq!(ran.status, WaitStatus::Exited(ran.pid, 0));
}

/// The program leads a process group of its own, which the grader kills
/// as one.
#[test]
fn the_program_leads_its_own_process_group() {
    // Field 5 of /proc/PID/stat is the process group; `cut`'s name
    // (field 2) has no space.
    let ran = run("/usr/bin/cut", &["-d", " ", "-f", "5", "/proc/self/stat"]);
    assert_eq!(ran.stdout.trim_end(), ran.pid.as_raw().to_string());
}

/// The child joins its cgroup itself, before it runs the program: it
/// writes its own pid, not the grader's, to the `cgroup.procs` it is
/// given (here a plain file, which takes the same write).
#[test]
fn the_child_writes_its_own_pid_to_its_cgroup() {
    let dir = TempDir::new("cgroup");
    let procs_path = dir.0.join("cgroup.procs");
    let procs = File::create(&procs_path).unwrap();
    let args = ["-c".to_string(), "exit 0".to_string()];
    let pid = start_leader(Start {
        program: Path::new("/bin/sh"),
        args: &args,
        env: vec![],
        stdout: dev_null(),
        stderr: dev_null(),
        rlimits: vec![],
        cgroup: Some(&procs),
        user: None,
        dir: None,
    })
    .unwrap();
    // Written before `execve`, so before `start` returned.
    let written = std::fs::read_to_string(&procs_path).unwrap();
    assert_eq!(reap_leader(pid), WaitStatus::Exited(pid, 0));
    assert_eq!(written, pid.as_raw().to_string());
}

/// Every signal is blocked in the calling thread only across the clone:
/// afterwards its mask is as it was.
#[test]
fn the_callers_signal_mask_is_given_back() {
    let mut usr2 = SigSet::empty();
    usr2.add(Signal::SIGUSR2);
    usr2.thread_block().unwrap();
    let before = SigSet::thread_get_mask().unwrap();
    let ran = run_with("/bin/true", &[], &[], None);
    let after = SigSet::thread_get_mask().unwrap();
    usr2.thread_unblock().unwrap();
    ran.unwrap();
    assert!(after.contains(Signal::SIGUSR2) && !after.contains(Signal::SIGUSR1));
    assert_eq!(after, before);
}

/// Many threads start programs at once, each reaping its own: every
/// program runs and ends, and none is left behind. (Each start holds
/// the leaders' lock, as in `Program::spawn`, so the clones take turns;
/// all else runs side by side.)
#[test]
fn many_threads_start_programs_at_once() {
    let threads: Vec<_> = (0..8)
        .map(|_| {
            thread::spawn(|| {
                let ran: Vec<Ran> = (0..20).map(|_| run("/bin/true", &[])).collect();
                (ran, children_of_this_thread())
            })
        })
        .collect();
    for t in threads {
        let (ran, left) = t.join().unwrap();
        assert_eq!(ran.len(), 20);
        for r in ran {
            assert_eq!(r.status, WaitStatus::Exited(r.pid, 0));
        }
        assert!(left.is_empty(), "children left unreaped: {left:?}");
    }
}

/// Set in the environment of the process that runs
/// [`stdout_on_descriptor_0`].
const LOW_DESCRIPTORS: &str = "CONTAIN_TEST_LOW_DESCRIPTORS";

/// A stdout that is descriptor 0 (in a grader started with stdin closed)
/// still gets the program's output: it is moved away before stdin's copy
/// onto 0 would replace it. The test changes descriptor 0, so it runs in
/// a process of its own.
#[test]
fn a_stdout_on_descriptor_0_is_not_overwritten() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "contain::tests::stdout_on_descriptor_0"])
        .args(["--ignored", "--test-threads=1"])
        .env(LOW_DESCRIPTORS, "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

#[test]
#[ignore = "run by a_stdout_on_descriptor_0_is_not_overwritten, in a process of its own"]
fn stdout_on_descriptor_0() {
    if std::env::var_os(LOW_DESCRIPTORS).is_none() {
        return;
    }
    let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
    nix::unistd::dup2_stdin(&out_w).unwrap();
    drop(out_w);
    // SAFETY: descriptor 0 is now the pipe's write end, and nothing else
    // in this process uses it.
    let stdout = unsafe { OwnedFd::from_raw_fd(0) };
    let args = ["on stdout".to_string()];
    let pid = start_leader(Start {
        program: Path::new("/bin/echo"),
        args: &args,
        env: vec![],
        stdout,
        stderr: dev_null(),
        rlimits: vec![],
        cgroup: None,
        user: None,
        dir: None,
    })
    .unwrap();
    let mut out = String::new();
    File::from(out_r).read_to_string(&mut out).unwrap();
    reap_leader(pid);
    assert_eq!(out, "on stdout\n");
}

/// How long starting and reaping 200 `/bin/true` takes from a process
/// like a grader at work, with 100 idle threads and 200 MiB of heap it
/// has written; beside the same with `std`'s `Command` and a `pre_exec`
/// set-up, which forks. A measurement, not a check:
///
/// `cargo test -p sandbox --release -- --ignored --nocapture start_and_reap_cost`
#[test]
#[ignore = "a measurement, not a check: run it by name"]
fn start_and_reap_cost() {
    const PROGRAMS: u32 = 200;
    // Every byte written, so that every page is mapped.
    let heap = vec![1u8; 200 << 20];
    let gate = Arc::new(RwLock::new(()));
    let closed = gate.write().unwrap();
    let idle: Vec<_> = (0..100)
        .map(|_| {
            let gate = Arc::clone(&gate);
            thread::spawn(move || drop(gate.read()))
        })
        .collect();

    let t = Instant::now();
    for _ in 0..PROGRAMS {
        let pid = start_leader(Start {
            program: Path::new("/bin/true"),
            args: &[],
            env: vec![],
            stdout: dev_null(),
            stderr: dev_null(),
            rlimits: vec![(Resource::RLIMIT_CORE, 0, 0)],
            cgroup: None,
            user: None,
            dir: None,
        })
        .unwrap();
        reap_leader(pid);
    }
    let started = t.elapsed();

    let t = Instant::now();
    for _ in 0..PROGRAMS {
        let mut cmd = Command::new("/bin/true");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        // SAFETY: it does nothing; a `pre_exec` makes `std` fork.
        unsafe { cmd.pre_exec(|| Ok(())) };
        assert!(cmd.status().unwrap().success());
    }
    let forked = t.elapsed();

    println!(
        "{PROGRAMS} programs started and reaped, beside 100 threads and {} MiB of heap:\n  \
         contain::start: {:?} ({:?} each)\n  fork (std, pre_exec): {:?} ({:?} each)",
        std::hint::black_box(&heap).len() >> 20,
        started,
        started / PROGRAMS,
        forked,
        forked / PROGRAMS,
    );
    drop(closed);
    for t in idle {
        t.join().unwrap();
    }
}
