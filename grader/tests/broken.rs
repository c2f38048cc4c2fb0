//! Deliberately broken programs (grader/tests/fixtures) are caught by the
//! test meant for them, with a message that says what is wrong.

mod common;
use common::{grader, hw1_bin_dir, run};

fn grade(dir: &common::TempDir, test: &str, seed: &str) -> (i32, String) {
    let (code, out, err) = run(grader()
        .args(["hw1", "-t", test, "--seed", seed, "--bin-dir"])
        .arg(&dir.0));
    (code, format!("{out}\n--- stderr ---\n{err}"))
}

/// A client that never retransmits hangs once a datagram is lost: the loss test catches it.
#[test]
fn a_client_without_retransmission_fails_the_loss_test() {
    let dir = hw1_bin_dir("no-retransmit", &[("client", "client-no-retransmit")]);
    // With seed 1 the proxy drops datagrams among the first ten on the
    // client's link: the same decisions on every run, since the broken
    // client sends each request exactly once.
    let (code, out) = grade(&dir, "loss", "1");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  loss"), "{out}");
    assert!(
        out.contains("client did not exit within the test's time limit"),
        "{out}"
    );
    assert!(out.contains("replay: grader hw1 --bin-dir"), "{out}");
    // The same programs pass the classic test: only the loss exposes the bug.
    let (code, out) = grade(&dir, "echo", "1");
    assert_eq!(code, 0, "{out}");
}

/// A server that polls a non-blocking socket in a loop fails the CPU check.
#[test]
fn a_spinning_server_fails_the_idle_cpu_test() {
    let dir = hw1_bin_dir("spin", &[("server", "server-spin")]);
    let (code, out) = grade(&dir, "idle-cpu", "1");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  idle-cpu"), "{out}");
    assert!(out.contains("server used"), "{out}");
    assert!(out.contains("it is busy-polling"), "{out}");
}

/// A client that takes any READ_REP as its answer is caught by the stray-replies test.
#[test]
fn a_client_accepting_stale_replies_fails_the_stray_replies_test() {
    let dir = hw1_bin_dir("stale", &[("client", "client-accepts-stale")]);
    let (code, out) = grade(&dir, "stray-replies", "1");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  stray-replies"), "{out}");
    assert!(out.contains("client stdout differs at line 5"), "{out}");
    assert!(out.contains("expected: Type: READ_REP Key: "), "{out}");
}

/// A server that panics on a short datagram is reported as a crash.
#[test]
fn a_server_crashing_on_garbage_fails_the_malformed_test() {
    let dir = hw1_bin_dir("crash", &[("server", "server-crash-on-garbage")]);
    let (code, out) = grade(&dir, "malformed-datagrams", "1");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("server crashed: "), "{out}");
}
