//! The skeleton as handed out builds, and fails each test by naming the
//! hole it stopped at, not with a confusing transcript diff.

mod common;
use common::{grader, hw1_spec, run};

/// `grader hw1` on the skeleton: every test that needs a hole fails naming it; exit 1.
#[test]
fn the_hw1_skeleton_fails_naming_its_holes() {
    let tests = common::hw1_tests();
    let handed = hw1_spec().matches("skeleton: pass").count();
    let (code, out, err) = run(grader().args(["hw1", "--seed", "3"]));
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let fails = out
        .lines()
        .filter(|l| l.trim_start().starts_with("FAIL"))
        .count();
    assert_eq!(fails, tests - handed, "{out}");
    let holes = out
        .matches("stopped at a hole that is not filled in yet: todo!(\"")
        .count();
    assert!(holes >= fails, "every failure names a hole:\n{out}");
    assert!(
        !out.contains("differs at line"),
        "no transcript diff for a skeleton:\n{out}"
    );
    assert!(!out.contains("still running"), "{out}");
    assert!(out.contains("PASS  bad-arguments"), "{out}");
    assert!(
        out.trim_end()
            .ends_with(&format!("{handed} passed, {fails} failed")),
        "{out}"
    );
    assert!(out.contains("\nscore 0/"), "{out}");
    assert!(out.contains("replay: grader hw1 -t echo --seed 3"), "{out}");
}
