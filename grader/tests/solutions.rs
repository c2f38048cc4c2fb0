//! The reference solutions pass every test, and `grader check` holds.

mod common;
use common::{grader, run};

/// `grader hw1 --solutions` passes every test and exits 0.
#[test]
fn the_hw1_solution_passes_every_test() {
    let (code, out, err) = run(grader().args(["hw1", "--solutions", "--seed", "11"]));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("hw1 UDP echo — solutions/hw1-udp-echo (reference solution), seed 11"),
        "{out}"
    );
    assert!(!out.contains("FAIL"), "{out}");
    assert!(out.trim_end().ends_with("10 passed, 0 failed"), "{out}");
}

/// `--repeat` runs everything again with the next seeds, and counts every run.
#[test]
fn repeat_runs_again_with_the_next_seeds() {
    let (code, out, err) = run(grader().args([
        "hw1",
        "--solutions",
        "-t",
        "echo",
        "--seed",
        "40",
        "--repeat",
        "3",
    ]));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    for (seed, run) in [(40, 1), (41, 2), (42, 3)] {
        assert!(
            out.contains(&format!("seed {seed}, run {run} of 3")),
            "{out}"
        );
    }
    assert!(out.trim_end().ends_with("3 passed, 0 failed"), "{out}");
}

/// `grader check`: specs valid, solutions pass, skeletons fail at holes and are in sync.
#[test]
fn grader_check_passes_on_the_kit() {
    let (code, out, err) = run(grader().args(["check", "--seed", "5"]));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("ok    hw1: skeleton is generated from the solution"),
        "{out}"
    );
    assert!(
        out.contains("ok    hw1: skeleton fails `loss` at `"),
        "{out}"
    );
    assert!(!out.contains("FAIL"), "{out}");
}

/// The report is plain text when NO_COLOR is set (and when it is not a terminal).
#[test]
fn output_is_plain_without_a_terminal() {
    let (_, out, _) = run(grader()
        .args(["hw1", "--solutions", "-t", "idle-cpu", "--seed", "1"])
        .env_remove("NO_COLOR"));
    assert!(!out.contains('\u{1b}'), "escape codes in: {out:?}");
}
