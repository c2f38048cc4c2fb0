//! Every failure names its real cause: a wait the test's time limit cut
//! short says so rather than blame the step's own `within`, and a program
//! killed by a signal the grader sent, which it did not catch, reads as
//! such rather than as a crash.

mod common;

use std::path::Path;

use common::{TempDir, kit_with_spec};

/// A server that binds its port, and on SIGINT takes 30 s to exit.
const SLOW_TO_STOP: &str = r#"#!/usr/bin/env python3
import signal, socket, sys, time
signal.signal(signal.SIGINT, lambda *a: (time.sleep(30), sys.exit(0)))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
time.sleep(60)
"#;

/// A client that says it is ready and waits, with SIGTERM's default
/// action: the signal kills it.
const DEAF_CLIENT: &str = "#!/bin/sh\necho ready\nexec sleep 60\n";

/// A kit whose one test is `test` (its steps and expectations), with the
/// two programs above.
fn kit(name: &str, test: &str) -> TempDir {
    let spec = format!(
        "lab: hw1\ntitle: causes\nbinaries: [server, client]\ntests:\n  - name: {name}\n    description: a cause\n{test}"
    );
    let kit = kit_with_spec(name, &spec);
    let bin = kit.0.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    write_exe(&bin.join("server"), SLOW_TO_STOP);
    write_exe(&bin.join("client"), DEAF_CLIENT);
    kit
}

fn write_exe(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

fn grade(kit: &TempDir) -> String {
    let (code, out, err) = common::grade_kit(kit, &["--seed", "1"], &kit.0.join("bin"));
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    out
}

const SERVER: &str =
    "    nodes:\n      - name: server\n        run: server\n        args: [\"{port}\"]\n";

/// The stop's `within` (5 s) reaches past the test's time limit (2 s):
/// the limit ends the wait, and the report says so.
#[test]
fn a_stop_cut_short_by_the_tests_time_limit_blames_the_limit() {
    let test = format!(
        "    timeout: 2s\n{SERVER}    steps:\n      - start: server\n      - sleep: 1500ms\n      - stop: server\n"
    );
    let out = grade(&kit("limit-first", &test));
    assert!(
        out.contains("the test's time limit (2s) passed ")
            && out.contains(
                " after the grader sent server SIGINT (Ctrl+C), before server exited; it had 5s to"
            ),
        "{out}"
    );
    assert!(!out.contains("did not exit within 5s"), "{out}");
}

/// The same program, given a `within` that ends first: the report blames
/// the program.
#[test]
fn a_stop_whose_within_ends_first_blames_the_program() {
    let test = format!(
        "    timeout: 10s\n{SERVER}    steps:\n      - start: server\n      - stop: {{ node: server, within: 1s }}\n"
    );
    let out = grade(&kit("within-first", &test));
    assert!(
        out.contains("server did not exit within 1s of SIGINT (Ctrl+C)"),
        "{out}"
    );
}

/// A client that does not catch SIGTERM is killed by it: the report says
/// the grader sent it and the program did not catch it.
#[test]
fn a_signal_the_program_did_not_catch_is_named() {
    let test = "    nodes:\n      - name: client\n        run: client\n        args: []\n    steps:\n      - start: client\n      - wait_output: { node: client, line: ready }\n      - stop: { node: client, signal: SIGTERM }\n    expect:\n      client: { exit: 0 }\n";
    let out = grade(&kit("uncaught", test));
    assert!(
        out.contains("client was killed by SIGTERM (it did not catch it); expected exit code 0"),
        "{out}"
    );
    assert!(
        out.contains("the grader sent SIGTERM at ")
            && out.contains(
                "a program stopped with SIGINT or SIGTERM catches it, prints its goodbye line, and exits 0"
            ),
        "{out}"
    );
}
