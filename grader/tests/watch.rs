//! `grader watch`: each change to the graded files grades the lab again,
//! once per burst of changes and once for all the changes made during a
//! run; editor temporaries and `target/` change nothing; Ctrl+C ends it
//! with status 130 and leaves no program running.
//!
//! The lab graded is hw1 written in Python (`--bin-dir`), copied into a
//! temporary kit: a program is changed by rewriting a file, and no build
//! is involved. The grader's standard output is a pipe here, so each run
//! opens with a separator line (`── run 3 · changed: bin/server ───`) and
//! closes with the summary (`hw1 · 1/1 passed · ...`), which the test
//! reads line by line, each wait bounded.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::{TempDir, grader, hw1_spec, kit_with_spec, other_language};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long one run may take to show, on a busy machine: Python starts in
/// well under a second, the test `echo` takes about one.
const RUN: Duration = Duration::from_secs(90);

/// A temporary kit with hw1's spec and, in `bin/`, the hw1 programs
/// written in Python.
fn python_kit(name: &str) -> (TempDir, PathBuf) {
    let kit = kit_with_spec(name, &hw1_spec());
    let bin = kit.0.join("bin");
    std::fs::create_dir(&bin).unwrap();
    for file in ["server", "client", "hw1kit.py"] {
        std::fs::copy(other_language("hw1-python").join(file), bin.join(file)).unwrap();
    }
    (kit, bin)
}

fn write_exe(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Replaces `path` as many editors save: a new file renamed over it. A
/// script that runs from the old file goes on reading the old one.
fn replace(path: &Path, text: &str) {
    let new = path.with_file_name(format!("{}~", path.file_name().unwrap().to_string_lossy()));
    write_exe(&new, text);
    std::fs::rename(&new, path).unwrap();
}

/// A running `grader watch`, and what it printed so far.
struct Watching {
    child: Child,
    lines: Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
    /// Every line of standard output so far, for messages.
    seen: Vec<String>,
}

impl Watching {
    /// `grader watch hw1 -t echo --bin-dir BIN` on `kit`; every program
    /// it starts has `WATCH_MARK=mark` in its environment.
    fn start(kit: &TempDir, bin: &Path, mark: &str) -> Watching {
        let mut child = grader()
            .arg("--root")
            .arg(&kit.0)
            .args(["watch", "hw1", "-t", "echo", "--bin-dir"])
            .arg(bin)
            .env("WATCH_MARK", mark)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Watching {
            child,
            lines,
            stderr,
            seen: Vec::new(),
        }
    }

    /// The next line of standard output that `is`, within [`RUN`].
    fn line(&mut self, what: &str, is: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + RUN;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if is(&line) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "no {what} within {RUN:?} ({e}); the output so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The next run's opening line, without its dashes: `run 2 · changed: bin/server`.
    fn next_run(&mut self) -> String {
        let line = self.line("run", |l| l.starts_with("── run "));
        line.trim_start_matches("── ")
            .trim_end_matches(['─', ' '])
            .to_string()
    }

    /// The summary of the run under way, up to its time: `hw1 · 1/1 passed`.
    fn summary(&mut self) -> String {
        let line = self.line("summary", |l| l.starts_with("hw1 · "));
        assert!(line.ends_with(" · watching bin (Ctrl+C to stop)"), "{line}");
        let (head, _) = line.rsplit_once(" s · watching").unwrap();
        let (head, _) = head.rsplit_once(" · ").unwrap();
        head.to_string()
    }

    /// SIGINT, as Ctrl+C sends; returns the exit status and standard error.
    fn interrupt(mut self) -> (Option<i32>, String) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            // Only ends a broken run: the grader stops at once.
            assert!(
                Instant::now() < deadline,
                "the grader did not stop after SIGINT"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        (status.code(), self.stderr.join().unwrap())
    }
}

/// Processes still running (not zombies) with `WATCH_MARK=mark` in their
/// environment whose command line holds `what`, as `pid: command line`.
fn marked(mark: &str, what: &str) -> Vec<String> {
    let needle = format!("WATCH_MARK={mark}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == needle.as_bytes()))
                && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| !s.contains(") Z"))
        })
        .map(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            format!(
                "{pid}: {}",
                String::from_utf8_lossy(&cmd).replace('\0', " ")
            )
        })
        .filter(|line| line.contains(what))
        .collect()
}

/// Waits until `cond` holds; the bound only ends a broken run.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < RUN, "{what} did not happen within {RUN:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until no process of `mark` is left (the grader's included), and
/// says which are left if some stay.
fn nothing_left(mark: &str) {
    let t = Instant::now();
    loop {
        let left = marked(mark, "");
        if left.is_empty() {
            return;
        }
        // Killed processes take a moment to be reaped; 30 s only ends a
        // broken run.
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "processes left running: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A burst of saves grades once, and temporaries beside the programs are
/// not changes; a broken program fails, put back it passes; Ctrl+C during
/// a run exits with 130 and kills what the run started.
#[test]
fn each_change_grades_again_once_and_ctrl_c_leaves_nothing_running() {
    let (kit, bin) = python_kit("watch-changes");
    let server = bin.join("server");
    let good = std::fs::read_to_string(&server).unwrap();
    let mark = format!("{}-changes", std::process::id());
    let mut watch = Watching::start(&kit, &bin, &mark);
    assert_eq!(watch.next_run(), "run 1");
    assert_eq!(watch.summary(), "hw1 · 1/1 passed");

    // An editor saves five files within 50 ms, and writes its
    // temporaries beside them, as cargo writes target/: one run, which
    // names the five files and nothing else.
    let mut run = 1;
    for attempt in 1.. {
        let names: Vec<String> = (0..5).map(|i| format!("module{attempt}-{i}.py")).collect();
        let longest_gap = burst(&bin, &names);
        run += 1;
        if longest_gap < STALL {
            let files: Vec<String> = names.iter().map(|n| format!("bin/{n}")).collect();
            assert_eq!(
                watch.next_run(),
                format!("run {run} · changed: {}", files.join(", "))
            );
            assert_eq!(watch.summary(), "hw1 · 1/1 passed");
            break;
        }
        // The machine stalled between two saves: the watch may rightly
        // have seen two bursts. A last change after them, and every run
        // until the one that names it, settle the watch; then try again.
        eprintln!("two saves were {longest_gap:?} apart: the burst is tried again");
        assert!(attempt < 5, "the machine stalled in every burst");
        let last = format!("settled{attempt}.py");
        std::fs::write(bin.join(&last), "# saved\n").unwrap();
        loop {
            let opening = watch.next_run();
            run = opening[4..].split(' ').next().unwrap().parse().unwrap();
            assert_eq!(watch.summary(), "hw1 · 1/1 passed");
            if opening.contains(&last) {
                break;
            }
        }
    }

    // Broken: the next run fails, and it is the very next one, so the
    // burst made one run.
    replace(&server, "#!/bin/sh\nexit 3\n");
    assert_eq!(
        watch.next_run(),
        format!("run {} · changed: bin/server", run + 1)
    );
    assert_eq!(watch.summary(), "hw1 · 0/1 passed · 1 failed: echo");

    replace(&server, &good);
    assert_eq!(
        watch.next_run(),
        format!("run {} · changed: bin/server", run + 2)
    );
    assert_eq!(watch.summary(), "hw1 · 1/1 passed");

    // A server that never binds its port keeps the next run going:
    // Ctrl+C then.
    replace(&server, "#!/bin/sh\nexec sleep 300\n");
    assert_eq!(
        watch.next_run(),
        format!("run {} · changed: bin/server", run + 3)
    );
    wait_for("the server that never binds starting", || {
        !marked(&mark, "sleep 300").is_empty()
    });
    let (status, stderr) = watch.interrupt();
    assert_eq!(status, Some(130), "{stderr}");
    assert!(stderr.contains("grader: interrupted by SIGINT"), "{stderr}");
    nothing_left(&mark);
}

/// A gap between two saves of a burst past which the watch (quiet for
/// 200 ms) may rightly see two bursts; a busy machine sometimes stalls
/// the test that long.
const STALL: Duration = Duration::from_millis(100);

/// Saves the files `names` in `bin` 10 ms apart, as an editor's writes
/// come, so that the watch sees them one by one and only its quiet window
/// makes them one run (a run per save would name only the first); in the
/// middle, writes the temporaries of editors, Python and cargo. Returns
/// the longest gap between two saves.
fn burst(bin: &Path, names: &[String]) -> Duration {
    std::fs::create_dir_all(bin.join("target/debug")).unwrap();
    std::fs::create_dir_all(bin.join("__pycache__")).unwrap();
    let mut last = Instant::now();
    let mut longest_gap = Duration::ZERO;
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::fs::write(bin.join(name), "# saved\n").unwrap();
        if i == names.len() / 2 {
            for temporary in [
                ".server.swp",
                "server~",
                "4913",
                ".#server",
                "target/debug/server",
                "__pycache__/hw1kit.cpython-311.pyc",
            ] {
                std::fs::write(bin.join(temporary), "temporary").unwrap();
            }
        }
        if i > 0 {
            longest_gap = longest_gap.max(last.elapsed());
        }
        last = Instant::now();
    }
    longest_gap
}

/// Changes made while a run is under way do not cut it short: it ends,
/// then one more run grades them all; Ctrl+C between runs exits with 130.
#[test]
fn changes_during_a_run_grade_once_more_after_it() {
    let (kit, bin) = python_kit("watch-during");
    let server = bin.join("server");
    let good = std::fs::read_to_string(&server).unwrap();
    // The server of run 1 waits at a gate (a FIFO every user may open:
    // the grader may run it as another user) until the test opens it.
    let gate = kit.0.join("gate");
    nix::unistd::mkfifo(&gate, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    std::fs::set_permissions(&gate, std::fs::Permissions::from_mode(0o666)).unwrap();
    write_exe(&bin.join("server.py"), &good);
    write_exe(
        &server,
        &format!(
            "#!/bin/sh\nread go < {}\nexec python3 \"$(dirname \"$0\")/server.py\" \"$@\"\n",
            gate.display()
        ),
    );
    let mark = format!("{}-during", std::process::id());
    let mut watch = Watching::start(&kit, &bin, &mark);
    assert_eq!(watch.next_run(), "run 1");
    wait_for("the server of run 1 waiting at its gate", || {
        !marked(&mark, "/server ").is_empty()
    });

    // Three changes while run 1 waits: two saves of the module, and the
    // server replaced by one without a gate.
    let kit_module = bin.join("hw1kit.py");
    for i in 0..2 {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&kit_module)
            .unwrap();
        writeln!(f, "# saved {i}").unwrap();
    }
    replace(&server, &good);
    // Opening the gate blocks until the server reads it: a thread of its own.
    let opened = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).open(&gate).unwrap();
        writeln!(f, "go").unwrap();
    });
    assert_eq!(watch.summary(), "hw1 · 1/1 passed");
    opened.join().unwrap();
    assert_eq!(
        watch.next_run(),
        "run 2 · changed: bin/hw1kit.py, bin/server"
    );
    assert_eq!(watch.summary(), "hw1 · 1/1 passed");

    // The next change is run 3's: the changes of run 1 made one run.
    replace(&server, &format!("{good}# saved again\n"));
    assert_eq!(watch.next_run(), "run 3 · changed: bin/server");
    assert_eq!(watch.summary(), "hw1 · 1/1 passed");

    let (status, stderr) = watch.interrupt();
    assert_eq!(status, Some(130), "{stderr}");
    nothing_left(&mark);
}
