//! Time limits measure the programs, not the machine: the test's clock
//! stands still while a program starts (until it binds its port, or for
//! any other program until its first output or datagram), and each
//! start-up has a limit of its own, `limits.startup`.
//!
//! Each test grades scripts in a `--bin-dir` while busy loops of its own
//! keep the CPUs busy, as a shared grading machine would.

mod common;

use std::path::Path;

use common::{BusyLoops, TempDir, kit_with_spec};

/// An echo server that sleeps `$SLOW` seconds before it binds its port
/// (its first argument), and exits 0 on SIGTERM.
const SERVER: &str = r#"#!/usr/bin/env python3
import os, signal, socket, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
time.sleep(float(os.environ.get("SLOW", "0")))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    data, addr = s.recvfrom(2048)
    s.sendto(data, addr)
"#;

/// A client that sleeps `$SLOW` seconds before anything else, sends one
/// datagram to the port of its first argument, waits for it back, and
/// exits 0.
const CLIENT: &str = r#"#!/usr/bin/env python3
import os, socket, sys, time
time.sleep(float(os.environ.get("SLOW", "0")))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"\x01hello", ("127.0.0.1", int(sys.argv[1])))
s.recvfrom(2048)
print("echoed")
"#;

/// A kit with one test: the server starts, then the client; the client
/// must exit 0, then the server is stopped with SIGTERM.
fn kit(name: &str, timeout: &str, limits: &str) -> TempDir {
    let spec = format!(
        r#"lab: hw1
title: start-up
binaries: [server, client]
timeout: {timeout}
limits: {limits}
tests:
  - name: echo
    description: the client's datagram comes back
    nodes:
      - name: server
        run: server
        args: ["{{port}}"]
      - name: client
        run: client
        args: ["{{peer:server}}"]
    steps:
      - start: server
      - start: client
      - wait_exit: client
      - stop: {{ node: server, signal: SIGTERM }}
    expect:
      client: {{ exit: 0, stdout: [echoed] }}
      server: {{ exit: 0 }}
"#
    );
    let kit = kit_with_spec(name, &spec);
    let bin = kit.0.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    write_exe(&bin.join("server"), SERVER);
    write_exe(&bin.join("client"), CLIENT);
    kit
}

fn write_exe(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// Two programs that each take 2 s to start (4 s in all) pass a test
/// whose time limit is 3 s, beside busy loops: the clock stood still
/// while they started. Without that, the client would still be asleep
/// when the 3 s ran out.
#[test]
fn slow_start_ups_do_not_spend_the_tests_time() {
    let kit = kit("slow-start", "3s", "{}");
    let _busy = BusyLoops::one_per_cpu();
    let (code, out, err) = run_slow(&kit, "2");
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.trim_end().ends_with("1 passed, 0 failed"), "{out}");
}

/// A server that takes longer to bind than `limits.startup` fails its
/// start, and the message names the start-up limit, not the test's.
#[test]
fn a_program_that_never_binds_fails_at_its_start_up_limit() {
    let kit = kit("never-binds", "3s", "{startup: 1s}");
    let (code, out, err) = run_slow(&kit, "60");
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("server did not bind UDP port ")
            && out.contains(" (its first argument) within its start-up limit (1s, limits.startup)"),
        "{out}"
    );
}

/// Grades `kit`, its programs sleeping `seconds` before they start (the
/// variable reaches them through the grader's environment).
fn run_slow(kit: &TempDir, seconds: &str) -> (i32, String, String) {
    let bin = kit.0.join("bin");
    let mut c = common::grader();
    c.arg("--root")
        .arg(&kit.0)
        .args(["hw1", "--seed", "1", "--bin-dir"])
        .arg(&bin)
        .env("SLOW", seconds);
    common::run(&mut c)
}
