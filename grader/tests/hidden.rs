//! Hidden tests: a lab's extra tests kept out of the handout, in
//! `solutions/<lab>/hidden.yaml` or a file given with `--extra-spec`. They
//! are checked like a spec, graded like the lab's own tests, and carry
//! their Gradescope visibility into `results.json`.

mod common;

use std::path::Path;

use common::{TempDir, grader, hw1_spec_with, kit_with_spec, other_language, run};
use serde_json::Value;

/// hw1's test `name` as a file of extra tests, renamed `new_name`, with
/// the spec lines `fields` added under its name.
fn extra_tests(tests: &[(&str, &str, &str)]) -> String {
    let mut out = String::from("lab: hw1\ntests:\n");
    for (name, new_name, fields) in tests {
        let spec = hw1_spec_with(&[name]);
        let (_, block) = spec.split_once("\ntests:\n").expect("a tests: list");
        out.push_str(&block.replacen(
            &format!("- name: {name}\n"),
            &format!("- name: {new_name}\n{fields}"),
            1,
        ));
    }
    out
}

/// A kit whose hw1 has only `echo`, and `hidden` as its hidden tests.
fn kit_with_hidden(name: &str, hidden: &str) -> TempDir {
    let kit = kit_with_spec(name, &hw1_spec_with(&["echo"]));
    let dir = kit.0.join("solutions/hw1-udp-echo");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hidden.yaml"), hidden).unwrap();
    kit
}

fn json(out: &str, err: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}\nstderr:\n{err}"))
}

/// `(name, status, visibility)` of each entry of a Gradescope `results.json`.
fn gradescope_rows(g: &Value) -> Vec<(String, String, String)> {
    g["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["status"].as_str().unwrap().to_string(),
                t["visibility"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The tests of `solutions/hw1-*/hidden.yaml` are graded with the lab's
/// own, shown locally, and hidden from students on Gradescope, stdout
/// included.
#[test]
fn hidden_tests_beside_the_solution_are_graded_and_keep_their_visibility() {
    let kit = kit_with_hidden(
        "hidden-default",
        &extra_tests(&[
            ("echo", "echo-hidden", "    visibility: hidden\n"),
            (
                "bad-arguments",
                "bad-arguments-later",
                "    visibility: after_due_date\n",
            ),
        ]),
    );
    let (code, out, err) = common::grade_kit(
        &kit,
        &["--seed", "31", "--format", "gradescope"],
        &other_language("hw1-python"),
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let g = json(&out, &err);
    let row = |n: &str, v: &str| (format!("hw1 {n}"), "passed".to_string(), v.to_string());
    assert_eq!(
        gradescope_rows(&g),
        [
            row("echo", "visible"),
            row("echo-hidden", "hidden"),
            row("bad-arguments-later", "after_due_date"),
        ],
        "{g:#}"
    );
    assert_eq!(g["score"].as_f64(), Some(4.0), "{g:#}");
    assert_eq!(g["stdout_visibility"], "hidden", "{g:#}");
    let output = g["output"].as_str().unwrap();
    assert!(
        output.ends_with("score 2/2 in the tests always shown; the other tests count too\n"),
        "the output students always see counts only the visible tests:\n{output}"
    );
    // Graded locally like any test: the human report shows them.
    assert!(err.contains("  PASS  echo-hidden "), "{err}");
    assert!(err.trim_end().ends_with("3 passed, 0 failed"), "{err}");

    let (code, listed, err) = run(grader().arg("--root").arg(&kit.0).arg("list"));
    assert_eq!(code, 0, "{err}");
    assert!(
        listed.contains("[from solutions/hw1-udp-echo/hidden.yaml]  [hidden on Gradescope]"),
        "{listed}"
    );
}

/// Without a hidden file, a lab whose tests are all visible keeps
/// Gradescope's stdout visible and its plain score line.
#[test]
fn without_hidden_tests_everything_is_visible() {
    let kit = kit_with_spec("hidden-none", &hw1_spec_with(&["echo"]));
    let (code, out, err) = common::grade_kit(
        &kit,
        &["--seed", "32", "--format", "gradescope"],
        &other_language("hw1-python"),
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let g = json(&out, &err);
    assert_eq!(gradescope_rows(&g).len(), 1, "{g:#}");
    assert_eq!(g["stdout_visibility"], "visible", "{g:#}");
    assert!(
        g["output"].as_str().unwrap().ends_with("\nscore 2/2\n"),
        "{g:#}"
    );
}

/// `--extra-spec FILE` adds the tests of FILE; a failure among them replays
/// with the same file, and the JSON carries the visibility.
#[test]
fn extra_spec_adds_tests_that_replay_with_their_file() {
    let kit = kit_with_spec("extra-flag", &hw1_spec_with(&["echo"]));
    let file = kit.0.join("instructor-tests.yaml");
    std::fs::write(
        &file,
        extra_tests(&[(
            "stray-replies",
            "strays-unseen",
            "    visibility: after_published\n",
        )]),
    )
    .unwrap();
    let (code, out, err) = common::grade_kit(
        &kit,
        &[
            "--seed",
            "33",
            "--format",
            "json",
            "--extra-spec",
            file.to_str().unwrap(),
        ],
        &other_language("hw1-course"),
    );
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let j = json(&out, &err);
    let tests = j["labs"][0]["tests"].as_array().unwrap();
    let names: Vec<&str> = tests.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["echo", "strays-unseen"], "{j:#}");
    let hidden = &tests[1];
    assert_eq!(hidden["status"], "failed", "{j:#}");
    assert_eq!(hidden["visibility"], "after_published", "{j:#}");
    assert_eq!(tests[0]["visibility"], "visible", "{j:#}");
    let replay = hidden["replay"].as_str().unwrap();
    let want = format!("--extra-spec {}", file.display());
    assert!(replay.contains(&want), "`{want}` not in {replay}");

    // The replay line, run as printed, fails the same way.
    let words: Vec<&str> = replay.split(' ').collect();
    assert_eq!(words[0], "grader", "{replay}");
    let (code, out, err) = run(grader().args(&words[1..]));
    assert_eq!(code, 1, "{replay}\nstdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("  FAIL  strays-unseen "), "{out}");
    assert!(out.trim_end().ends_with("0 passed, 1 failed"), "{out}");
}

/// Extra tests are checked as strictly as a spec, with file, line and
/// column: the lab they name, names of their own, known fields and nodes.
#[test]
fn extra_tests_are_checked_like_a_spec() {
    let good = extra_tests(&[("echo", "echo-hidden", "")]);
    let line_of =
        |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let cases = [
        (
            good.replacen("- name: echo-hidden", "- name: echo", 1),
            format!(
                "{}:5: the lab already has a test named `echo` (in the lab's spec.yaml): an extra test needs a name of its own",
                line_of(&good, "- name: echo-hidden")
            ),
        ),
        (
            good.replacen("lab: hw1", "lab: hw2", 1),
            "1:1: `lab: hw2`, but these tests are added to lab hw1".to_string(),
        ),
        (
            good.replacen("lab: hw1\n", "lab: hw1\ntitle: UDP echo\n", 1),
            "2:1: unknown field `title`, expected `lab` or `tests`".to_string(),
        ),
        (
            good.replacen(
                "    description:",
                "    visibility: secret\n    description:",
                1,
            ),
            format!(
                "{}:17: tests[0].visibility: unknown variant `secret`, expected one of `visible`, `hidden`, `after_due_date`, `after_published`",
                line_of(&good, "    description:")
            ),
        ),
        (
            good.replacen("      - stop: server", "      - stop: sevrer", 1),
            format!(
                "{}:15: test `echo-hidden` has no node `sevrer`",
                line_of(&good, "      - stop: server")
            ),
        ),
        (
            good.replacen("      - stop: server", "      - {  \"stop\" :  sevrer }", 1),
            format!(
                "{}:22: test `echo-hidden` has no node `sevrer`",
                line_of(&good, "      - stop: server")
            ),
        ),
    ];
    for (k, (text, want)) in cases.iter().enumerate() {
        let kit = kit_with_hidden(&format!("hidden-bad-{k}"), text);
        let (code, out, err) = common::grade_kit(&kit, &[], Path::new("/nonexistent"));
        assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
        let want = format!("solutions/hw1-udp-echo/hidden.yaml:{want}");
        assert!(err.contains(&want), "expected `{want}` in:\n{err}");
    }

    // Two files may not hold the same test either; and a file given with
    // --extra-spec must name a lab that is graded.
    let kit = kit_with_hidden("hidden-twice", &good);
    let (code, _, err) = run(grader()
        .arg("--root")
        .arg(&kit.0)
        .args(["hw1", "--bin-dir", "/nonexistent", "--extra-spec"])
        .arg(kit.0.join("solutions/hw1-udp-echo/hidden.yaml")));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "hidden.yaml:{}:5: the lab already has a test named `echo-hidden` (in ",
            line_of(&good, "- name: echo-hidden")
        )),
        "{err}"
    );
    let other = kit.0.join("hw2-tests.yaml");
    std::fs::write(&other, good.replacen("lab: hw1", "lab: hw2", 1)).unwrap();
    let (code, _, err) = run(grader()
        .arg("--root")
        .arg(&kit.0)
        .args(["hw1", "--bin-dir", "/nonexistent", "--extra-spec"])
        .arg(&other));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "hw2-tests.yaml:1:1: `lab: hw2`, but lab hw2 is not graded here (graded: hw1)"
        ),
        "{err}"
    );
}
