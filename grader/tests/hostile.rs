//! Programs nobody should trust: each is contained, fails its test with a
//! clear reason, costs no more than the test's time limit, and leaves
//! nothing running, with cgroups and without, with `-j`, and whatever
//! signal ends the grader (SIGINT, SIGTERM, SIGHUP, SIGKILL).
//!
//! Every hostile program is a small script in a `--bin-dir`; each loop in
//! it is bounded in count and time. The processes of one test are found
//! afterwards by a variable set in the grader's environment, which every
//! program and its children inherit.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{TempDir, grader, kit_with_spec, run};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A server that answers every datagram with itself and exits 0 on SIGTERM.
const SERVER: &str = r#"#!/usr/bin/env python3
import signal, socket, sys
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    data, addr = s.recvfrom(2048)
    s.sendto(data, addr)
"#;

/// A client that sends one datagram, waits for it back, and exits 0.
const CLIENT: &str = r#"#!/usr/bin/env python3
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"\x01hello", ("127.0.0.1", int(sys.argv[1])))
s.recvfrom(2048)
"#;

/// The hostile programs: (test, role replaced, script, expected reason).
const HOSTILE: &[(&str, &str, &str, &str)] = &[
    (
        "fork-bomb",
        "server",
        // Binds, then every process forks up to 8 children, which do the same.
        r#"#!/usr/bin/env python3
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
end = time.time() + 60
for i in range(8):
    try:
        if os.fork() == 0:
            continue
    except OSError:
        pass
while time.time() < end:
    time.sleep(0.5)
"#,
        "server exceeded its limit of 32 processes and threads; the grader killed it",
    ),
    (
        "memory-hog",
        "client",
        // Touches up to 3 GiB, 16 MiB at a time.
        r#"#!/usr/bin/env python3
import time
hoard = []
for i in range(192):
    hoard.append(bytearray(16 << 20))
time.sleep(60)
"#,
        "client exceeded its memory limit of 64 MiB; the grader killed it",
    ),
    (
        "endless-printer",
        "client",
        "#!/bin/sh\ni=0\nwhile [ $i -lt 100000000 ]; do echo \"line $i of a program that never stops\"; i=$((i+1)); done\n",
        "client printed more than 1 MiB on stdout; the grader stopped it",
    ),
    (
        "deaf-to-signals",
        "server",
        r#"#!/usr/bin/env python3
import signal, socket, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.settimeout(0.2)
end = time.time() + 60
while time.time() < end:
    try:
        data, addr = s.recvfrom(2048)
        s.sendto(data, addr)
    except socket.timeout:
        pass
"#,
        "server did not exit within 1s of SIGINT (Ctrl+C)",
    ),
    (
        "setsid-daemon",
        "server",
        "#!/bin/sh\nsetsid sleep 65 &\nexec python3 -c \"$SERVER_CODE\" \"$1\"\n",
        "server left a background process running: pid ",
    ),
    (
        "double-fork",
        "client",
        // The grandchild keeps stdout open after the client exits.
        "#!/bin/sh\n(sleep 66 &)\nexec python3 -c \"$CLIENT_CODE\" \"$1\"\n",
        "client exited but left 1 process of its own running: pid ",
    ),
    (
        "never-binds",
        "server",
        "#!/bin/sh\nexec sleep 67\n",
        "server did not bind UDP port ",
    ),
    (
        "wrong-port",
        "server",
        "#!/bin/sh\nexec python3 -c \"$SERVER_CODE\" $(($1 + 1))\n",
        "instead",
    ),
];

/// A spec with one test per hostile program, each with time limit `timeout`.
fn spec(timeout: &str) -> String {
    let mut s = format!(
        "lab: hw1\ntitle: hostile programs\nbinaries: [server, client]\ntimeout: {timeout}\n\
         limits: {{memory: 64 MiB, processes: 32, startup: 8s}}\ntests:\n",
    );
    for (name, ..) in HOSTILE {
        s.push_str(&format!(
            r#"  - name: {name}
    description: a hostile program is contained
    nodes:
      - name: server
        run: server
        args: ["{{port}}", {name}]
      - name: client
        run: client
        args: ["{{peer:server}}", {name}]
    steps:
      - start: server
      - start: client
      - wait_exit: client
      - stop: {{node: server, within: 1s}}
    expect:
      client: {{exit: 0}}
"#
        ));
    }
    s
}

/// A bin dir whose `role` program, in the test its second argument names,
/// is that test's hostile script (else the well-behaved one).
fn bin_dir(dir: &Path) {
    for role in ["server", "client"] {
        let mut sh = String::from("#!/bin/sh\ncase \"$2\" in\n");
        for (name, r, _, _) in HOSTILE {
            if *r == role {
                sh.push_str(&format!(
                    "  {name}) exec \"$(dirname \"$0\")/{name}\" \"$@\";;\n"
                ));
            }
        }
        sh.push_str(&format!(
            "esac\nexec \"$(dirname \"$0\")/good-{role}\" \"$@\"\n"
        ));
        write_exe(&dir.join(role), &sh);
    }
    write_exe(&dir.join("good-server"), SERVER);
    write_exe(&dir.join("good-client"), CLIENT);
    for (name, _, script, _) in HOSTILE {
        write_exe(&dir.join(name), script);
    }
}

fn write_exe(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// Processes still running (not zombies) whose environment holds `mark`.
fn survivors(mark: &str) -> Vec<String> {
    let needle = format!("HOSTILE_MARK={mark}");
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
        .collect()
}

/// Waits until no process of `mark` is left; returns those left. The
/// bound only ends a broken run: the hostile programs run for 60 s, and a
/// busy machine kills and reaps in far less than 30.
fn settle(mark: &str) -> Vec<String> {
    let t = Instant::now();
    loop {
        let left = survivors(mark);
        if left.is_empty() || t.elapsed() > Duration::from_secs(30) {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The grader, on the hostile kit, with the environment the scripts need.
fn hostile_grader(kit: &TempDir, bin: &Path, mark: &str, test: Option<&str>) -> Command {
    let mut c = grader();
    c.arg("--root")
        .arg(&kit.0)
        .arg("hw1")
        .arg("--bin-dir")
        .arg(bin);
    c.args(["--seed", "1", "-j", "4"]);
    if let Some(t) = test {
        c.args(["-t", t]);
    }
    c.env("HOSTILE_MARK", mark)
        .env("SERVER_CODE", SERVER.split_once('\n').unwrap().1)
        .env("CLIENT_CODE", CLIENT.split_once('\n').unwrap().1);
    c
}

/// Grades every hostile program at once (`-j 4`). Checks each reason and
/// kind, each test's cost, and `/proc` afterwards.
fn every_hostile_program_is_contained(cgroups: bool) {
    let tag = if cgroups { "cg" } else { "nocg" };
    let kit = kit_with_spec(&format!("hostile-{tag}"), &spec("4s"));
    let bin = kit.0.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    bin_dir(&bin);
    let mark = format!("{}-{tag}", std::process::id());
    let mut c = hostile_grader(&kit, &bin, &mark, None);
    c.args(["--format", "json"]);
    if !cgroups {
        c.env("GRADER_CGROUP", "off");
    }
    let (code, json, human) = run(&mut c);
    assert_eq!(code, 1, "{human}");
    let results: serde_json::Value = serde_json::from_str(&json).unwrap();
    let tests = results["labs"][0]["tests"].as_array().unwrap();
    assert_eq!(tests.len(), HOSTILE.len());
    for (name, _, _, reason) in HOSTILE {
        let t = tests.iter().find(|t| t["name"] == *name).unwrap();
        assert_eq!(t["status"], "failed", "{name}: {human}");
        let messages: Vec<&str> = t["failures"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["message"].as_str())
            .collect();
        assert!(
            messages.iter().any(|m| m.contains(reason)),
            "{name}: expected `{reason}` among {messages:?}"
        );
        // Each hostile program would keep a grader that waited for it
        // 60 s. A test may take its time limit (4 s) plus the start-up of
        // each program (up to 8 s each: `never-binds` takes all of it), and
        // more on a busy machine: 40 s is a wide margin, and still proves
        // the grader never waited for a hostile program to end.
        let ms = t["duration_ms"].as_u64().unwrap();
        eprintln!("{tag}: {name} failed in {ms} ms");
        assert!(ms < 40_000, "{name} took {ms} ms");
    }
    let left = settle(&mark);
    assert!(left.is_empty(), "processes left running: {left:?}");
}

#[test]
fn hostile_programs_are_contained_with_cgroups_where_delegated() {
    every_hostile_program_is_contained(true);
}

#[test]
fn hostile_programs_are_contained_without_cgroups() {
    every_hostile_program_is_contained(false);
}

/// Starts the grader on the setsid daemon and waits until the daemon runs.
fn grader_with_a_daemon(name: &str, cgroups: bool) -> (TempDir, String, std::process::Child) {
    let kit = kit_with_spec(name, &spec("30s"));
    let bin = kit.0.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    bin_dir(&bin);
    // The client never finishes: the test is still running when the grader is signalled.
    write_exe(&bin.join("good-client"), "#!/bin/sh\nexec sleep 68\n");
    let mark = format!("{}-{name}", std::process::id());
    let mut c = hostile_grader(&kit, &bin, &mark, Some("setsid-daemon"));
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    if !cgroups {
        c.env("GRADER_CGROUP", "off");
    }
    let child = c.spawn().unwrap();
    let t = Instant::now();
    // The daemon runs once `sleep` has left the group (setsid(2) done).
    while !survivors(&mark)
        .iter()
        .any(|p| p.contains("sleep 65") && own_group(p))
    {
        // Only ends a broken run: the daemon starts in milliseconds.
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the daemon never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (kit, mark, child)
}

/// Whether the process of a `survivors` line leads a process group.
fn own_group(line: &str) -> bool {
    let pid = line.split(':').next().unwrap_or("");
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(2))
            .is_some_and(|pgid| pgid == pid)
    })
}

/// The worker: the keeper's one child.
fn worker_of(keeper: u32) -> i32 {
    let t = Instant::now();
    loop {
        let w = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .find(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                    s.rsplit_once(')')
                        .and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<u32>().ok())
                        == Some(keeper)
                })
            });
        if let Some(w) = w {
            return w;
        }
        // Only ends a broken run: the keeper starts its worker at once.
        assert!(t.elapsed() < Duration::from_secs(60), "no worker");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_signal_to_the_grader_leaves_no_daemon_running() {
    for (i, sig) in [Signal::SIGTERM, Signal::SIGHUP, Signal::SIGINT]
        .into_iter()
        .enumerate()
    {
        let (_kit, mark, child) = grader_with_a_daemon(&format!("signal-{i}"), i != 1);
        kill(Pid::from_raw(child.id() as i32), sig).unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{sig}: {stderr}");
        assert!(
            stderr.contains(&format!("interrupted by {sig}")),
            "{stderr}"
        );
        let left = settle(&mark);
        assert!(left.is_empty(), "after {sig}: {left:?}");
    }
}

#[test]
fn sigkill_of_the_grader_leaves_no_daemon_running() {
    // The worker killed (what an out-of-memory killer does), then the
    // keeper (what a CI runner does to the process it started).
    for (i, cgroups) in [true, false].into_iter().enumerate() {
        let (_kit, mark, mut child) = grader_with_a_daemon(&format!("kill-worker-{i}"), cgroups);
        kill(Pid::from_raw(worker_of(child.id())), Signal::SIGKILL).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(128 + 9));
        let left = settle(&mark);
        assert!(left.is_empty(), "after SIGKILL of the worker: {left:?}");

        let (_kit, mark, mut child) = grader_with_a_daemon(&format!("kill-keeper-{i}"), cgroups);
        kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
        child.wait().unwrap();
        let left = settle(&mark);
        assert!(left.is_empty(), "after SIGKILL of the keeper: {left:?}");
    }
}
