//! `--fail-fast` starts no test after the first one that does not pass,
//! and every report says which tests were not run; `--jobs N` (or `-j N`)
//! sets how many tests run at once.

mod common;

use common::{grader, hw1_spec_with, kit_with_spec, other_language, run};
use serde_json::Value;

/// The course's programs pass the first two and fail the other three
/// (hw1's spec order).
const TESTS: [&str; 5] = [
    "echo",
    "bad-arguments",
    "stray-replies",
    "reply-from-stranger",
    "reply-of-wrong-type",
];

/// Grades the course's programs on [`TESTS`] with `args`; (exit code,
/// stdout, stderr).
fn grade(name: &str, args: &[&str]) -> (i32, String, String) {
    let kit = kit_with_spec(name, &hw1_spec_with(&TESTS));
    common::grade_kit(&kit, args, &other_language("hw1-course"))
}

fn json(out: &str, err: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}\nstderr:\n{err}"))
}

/// `(name, status)` of every test of the JSON report.
fn statuses(j: &Value) -> Vec<(String, String)> {
    j["labs"][0]["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn rows(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect()
}

/// One test at a time, the first failure stops the grading: the tests
/// after it are not run, score nothing, and every format says so.
#[test]
fn fail_fast_runs_nothing_after_the_first_failure() {
    let args = ["--seed", "41", "--jobs", "1", "--fail-fast"];
    let (code, out, err) = grade("ff-json", &[&args[..], &["--format", "json"]].concat());
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let j = json(&out, &err);
    assert_eq!(
        statuses(&j),
        rows(&[
            ("echo", "passed"),
            ("bad-arguments", "passed"),
            ("stray-replies", "failed"),
            ("reply-from-stranger", "not_run"),
            ("reply-of-wrong-type", "not_run"),
        ]),
        "{j:#}"
    );
    assert_eq!(
        (&j["not_run"], &j["runs"]["not_run"], &j["score"]),
        (&Value::from(2), &Value::from(2), &Value::from(2)),
        "{j:#}"
    );
    let skipped = &j["labs"][0]["tests"][3];
    assert_eq!(skipped["runs"], Value::Array(vec![]), "{j:#}");
    assert_eq!(skipped["points"], 0, "{j:#}");
    // The human report shows the tests that ran, then says what did not.
    assert!(err.contains("  FAIL  stray-replies "), "{err}");
    assert!(!err.contains("reply-from-stranger "), "{err}");
    assert!(
        err.contains(
            "--fail-fast: stopped at the first test that did not pass; 2 test run(s) not started"
        ),
        "{err}"
    );
    assert!(
        err.trim_end().ends_with("2 passed, 1 failed, 2 not run"),
        "{err}"
    );

    let (code, xml, err) = grade("ff-junit", &[&args[..], &["--format", "junit"]].concat());
    assert_eq!(code, 1, "{err}");
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}:\n{xml}"));
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(
        (suite.attribute("tests"), suite.attribute("skipped")),
        (Some("5"), Some("2")),
        "{xml}"
    );
    let skipped: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter(|c| c.children().any(|k| k.has_tag_name("skipped")))
        .map(|c| c.attribute("name").unwrap())
        .collect();
    assert_eq!(
        skipped,
        ["reply-from-stranger", "reply-of-wrong-type"],
        "{xml}"
    );

    let (code, out, err) = grade("ff-gs", &[&args[..], &["--format", "gradescope"]].concat());
    assert_eq!(code, 1, "{err}");
    let g = json(&out, &err);
    let last = &g["tests"][4];
    assert_eq!(
        (&last["status"], &last["score"]),
        (&Value::from("failed"), &Value::from(0.0)),
        "{g:#}"
    );
    assert!(
        last["output"].as_str().unwrap().starts_with(
            "not run: --fail-fast stopped the grading at the first test that did not pass\n"
        ),
        "{g:#}"
    );
}

/// Without `--fail-fast` the same grading runs every test.
#[test]
fn without_fail_fast_every_test_runs() {
    let (code, out, err) = grade("ff-off", &["--seed", "41", "-j", "1", "--format", "json"]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let j = json(&out, &err);
    assert_eq!(
        statuses(&j),
        rows(&[
            ("echo", "passed"),
            ("bad-arguments", "passed"),
            ("stray-replies", "failed"),
            ("reply-from-stranger", "failed"),
            ("reply-of-wrong-type", "failed"),
        ]),
        "{j:#}"
    );
    assert_eq!(j["not_run"], 0, "{j:#}");
    assert!(err.trim_end().ends_with("2 passed, 3 failed"), "{err}");
}

/// With `--repeat`, the runs after the first failure are not started either.
#[test]
fn fail_fast_stops_the_repeats_too() {
    let kit = kit_with_spec("ff-repeat", &hw1_spec_with(&["stray-replies"]));
    let (code, out, err) = common::grade_kit(
        &kit,
        &["--seed", "42", "--repeat", "3", "--fail-fast"],
        &other_language("hw1-course"),
    );
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("seed 42, run 1 of 3"), "{out}");
    assert!(!out.contains("run 2 of 3"), "{out}");
    assert!(
        out.trim_end().ends_with("0 passed, 1 failed, 2 not run"),
        "{out}"
    );
}

/// `--jobs N` is `-j N`, and at least 1.
#[test]
fn jobs_has_a_long_name_and_must_be_positive() {
    for flag in ["--jobs", "-j"] {
        let (code, out, err) = run(grader().args(["hw1", flag, "0"]));
        assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
        assert!(
            err.contains("invalid value '0'") && err.contains("0 is not in 1.."),
            "{err}"
        );
    }
    let kit = kit_with_spec("jobs", &hw1_spec_with(&["echo", "bad-arguments"]));
    let (code, out, err) = common::grade_kit(
        &kit,
        &["--seed", "43", "--jobs", "2"],
        &other_language("hw1-python"),
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.trim_end().ends_with("2 passed, 0 failed"), "{out}");
    let (_, help, _) = run(grader().arg("--help"));
    assert!(help.contains("-j, --jobs <N>"), "{help}");
    assert!(help.contains("--fail-fast"), "{help}");
}
