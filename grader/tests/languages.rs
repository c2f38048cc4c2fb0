//! `--bin-dir` keeps the any-language promise: the course's own C
//! programs (imitated in Python) pass the classic part and fail the robust
//! part, each for its real cause. (The labs written in Python from the
//! spec pages pass every test, on a busy machine: see `busy.rs`.)

mod common;
use common::{hw1_spec_with, kit_with_spec, other_language};

/// Programs that print only the course's lines pass every classic test.
#[test]
fn the_courses_programs_pass_the_classic_tests() {
    let classic = ["echo", "count-and-goodbye", "bad-arguments"];
    let kit = kit_with_spec("course-classic", &hw1_spec_with(&classic));
    let (code, out, err) = common::grade_kit(
        &kit,
        &["--seed", "22", "-j", "2"],
        &other_language("hw1-course"),
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.trim_end().ends_with("3 passed, 0 failed"), "{out}");
}

/// The course's programs fail the robust tests, each with the cause its
/// weakness really has (the ones that hang until the time limit are left to
/// `grader check`'s mutants, to keep this test short).
#[test]
fn the_courses_programs_fail_the_robust_tests_for_their_real_causes() {
    let causes = [
        ("stray-replies", "client stdout differs at line 3"),
        ("reply-from-stranger", "Value: FROMASTRANGER"),
        ("reply-of-wrong-type", "actual:   Type: WRITE_REP"),
        (
            "steady-strays",
            "nothing can arrive any more: client had exited with exit code 0",
        ),
        ("gives-up", "nothing arrived in 5s"),
        (
            "malformed-datagrams",
            "actual:   server sent 33 bytes: Type: READ_REP Key: ello",
        ),
        ("idle-cpu", "is busy polling"),
    ];
    let names: Vec<&str> = causes.iter().map(|c| c.0).collect();
    let kit = kit_with_spec("course-robust", &hw1_spec_with(&names));
    let (code, out, err) = common::grade_kit(
        &kit,
        &["--seed", "23", "-j", "4"],
        &other_language("hw1-course"),
    );
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    for (test, cause) in causes {
        let section = out
            .split("\n  ")
            .find(|s| s.starts_with("FAIL  ") && s.contains(&format!(" {test} ")))
            .unwrap_or_else(|| panic!("{test} did not fail:\n{out}"));
        let rest = &out[out.find(section).unwrap()..];
        let end = rest[1..]
            .find("\n  PASS")
            .or(rest[1..].find("\n  FAIL"))
            .unwrap_or(rest.len() - 1);
        let section = &rest[..end + 1];
        assert!(
            section.contains(cause),
            "{test}: expected `{cause}` in:\n{section}"
        );
        assert!(
            !section.contains("still running"),
            "{test}: a false complaint:\n{section}"
        );
    }
}
