//! The reference solutions pass every test, and `grader check` holds.

mod common;
use common::{grader, root, run};

/// `grader hw1 --solutions` passes every test, scores every point, and exits 0.
#[test]
fn the_hw1_solution_passes_every_test() {
    let tests = common::hw1_tests();
    let (code, out, err) = run(grader().args(["hw1", "--solutions", "--seed", "11"]));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("hw1 UDP echo — solutions/hw1-udp-echo (reference solution), seed 11"),
        "{out}"
    );
    assert!(!out.contains("FAIL"), "{out}");
    let score = out.lines().find(|l| l.starts_with("score ")).unwrap();
    let (got, max) = score["score ".len()..].split_once('/').unwrap();
    assert_eq!(got, max, "{out}");
    assert!(
        out.trim_end()
            .ends_with(&format!("{tests} passed, 0 failed")),
        "{out}"
    );
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
    assert!(
        out.contains("score 2/2 (a test scores only if every run passed)"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("3 passed, 0 failed"), "{out}");
}

/// `grader check`: specs valid, solutions pass, skeletons fail at holes and
/// are in sync, every mutant of the solution is caught by its test, every
/// lab's requirements are traced, and the course's programs pass the
/// classic tests.
#[test]
fn grader_check_passes_on_the_kit() {
    let (code, out, err) = run(grader().args(["check", "--seed", "5"]));
    // What failed first, then everything: the output is long.
    let failed = out.split_once("failed checks").map_or("", |(_, f)| f);
    assert_eq!(
        code, 0,
        "failed checks{failed}\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(
        out.contains("ok    hw1: skeleton is generated from the solution"),
        "{out}"
    );
    assert!(
        out.contains("ok    hw1: skeleton fails `loss` at `"),
        "{out}"
    );
    assert!(
        out.contains("ok    hw1: mutant `transcript-once-per-try` is caught by `loss` on 5 seeds"),
        "{out}"
    );
    for lab in ["hw1", "hw2", "hw3", "hw4", "hw5", "hw6"] {
        assert!(
            out.lines()
                .any(|l| l.contains(&format!("ok    {lab}: labs/{lab}-"))
                    && l.contains("/requirements.yaml traces")),
            "{lab}'s requirements are not traced:\n{out}"
        );
        assert!(
            out.contains(&format!("ok    {lab}: the course's programs pass `")),
            "{lab}'s course programs are not graded:\n{out}"
        );
    }
    assert!(!out.contains("FAIL"), "{out}");
    // The mutants never reach the student's crate.
    assert!(!root().join("labs/hw1-udp-echo/mutants.yaml").exists());
}

/// The report is plain text when NO_COLOR is set (and when it is not a terminal).
#[test]
fn output_is_plain_without_a_terminal() {
    let (_, out, _) = run(grader()
        .args(["hw1", "--solutions", "-t", "idle-cpu", "--seed", "1"])
        .env_remove("NO_COLOR"));
    assert!(!out.contains('\u{1b}'), "escape codes in: {out:?}");
}

/// Through the kit's `cargo grader` alias, the replay line says `cargo grader`,
/// and a `--root` given on the command line is part of it.
#[test]
fn the_replay_line_can_be_pasted() {
    let bin = common::hw1_solution();
    let args = ["hw1", "-t", "echo", "--seed", "9", "--format", "json"];
    let (_, out, _) = run(grader().args(args).arg("--bin-dir").arg(bin));
    assert!(out.contains("\"replay\": \"grader hw1 --bin-dir "), "{out}");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let (_, out, _) = run(grader()
        .env("CARGO", cargo)
        .args(args)
        .arg("--bin-dir")
        .arg(bin)
        .arg("--root")
        .arg(root()));
    let want = format!(
        " -t echo --seed 9 --root {}\"",
        root().canonicalize().unwrap().display()
    );
    assert!(
        out.contains("\"replay\": \"cargo grader hw1 --bin-dir "),
        "{out}"
    );
    assert!(out.contains(&want), "{out}");
}
