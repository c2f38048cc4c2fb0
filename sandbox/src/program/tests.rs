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
        self.read(|s| (s.exceeded.first().copied()).or(s.exit.as_ref().and_then(|e| e.exceeded)))
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
        user: None,
        dir: None,
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
        is_gone(child)
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

/// As root, a program runs as the user it is given, with no group of
/// root's, in the directory it is given; what it leaves behind, in a
/// session of its own, is gone after a sweep of its user.
#[test]
fn a_program_runs_as_its_user_and_a_sweep_leaves_none_of_it() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: only root can run a program as another user");
        return;
    }
    let who = crate::Identity::pick().unwrap();
    let args: Vec<String> = [
        "-c",
        "id -u; id -g; id -G; pwd; setsid sleep 30 >/dev/null 2>&1 </dev/null & echo started",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let log = Arc::new(Log::default());
    let launch = Launch {
        program: Path::new("/bin/sh"),
        args: &args,
        env: &[],
        limits: &limits(),
        user: Some(&who),
        dir: Some(Path::new("/")),
    };
    let mut p = Program::spawn(&launch, Arc::clone(&log) as Arc<dyn Observer>).unwrap();
    p.wait();
    let out = log.read(|s| s.stdout.clone());
    let uid = who.uid.to_string();
    assert_eq!(out, [uid.as_str(), &uid, &uid, "/", "started"], "{out:?}");
    who.sweep().unwrap();
    assert!(who.processes().is_empty());
}
