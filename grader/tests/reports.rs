//! The machine formats (JSON, JUnit XML, Gradescope) agree with each other and with the human report.

mod common;

use std::path::Path;

use common::{TempDir, grader, hw1_solution, hw1_spec_with, kit_with_spec, other_language, run};
use serde_json::Value;

/// The grader's output of one grading, in every format.
struct Reports {
    /// The exit status of each run: json, junit, gradescope.
    codes: [i32; 3],
    /// `--format json`.
    json: Value,
    /// The human report (the stderr of the json run).
    human: String,
    /// `--format junit`.
    junit: String,
    /// `--format gradescope`.
    gradescope: Value,
}

/// Grades with `args` three times at once, once per machine format.
fn grade_in_formats(args: &[String]) -> Reports {
    let outs: Vec<(i32, String, String)> = std::thread::scope(|s| {
        let runs: Vec<_> = ["json", "junit", "gradescope"]
            .into_iter()
            .map(|f| s.spawn(move || run(grader().args(args).args(["--format", f]))))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let parse = |(code, out, err): &(i32, String, String)| -> Value {
        serde_json::from_str(out)
            .unwrap_or_else(|e| panic!("not JSON ({e}), exit {code}:\n{out}\nstderr:\n{err}"))
    };
    Reports {
        codes: [outs[0].0, outs[1].0, outs[2].0],
        json: parse(&outs[0]),
        human: outs[0].2.clone(),
        junit: outs[1].1.clone(),
        gradescope: parse(&outs[2]),
    }
}

/// `(lab, test, status)` in report order.
type Rows = Vec<(String, String, String)>;

/// The JSON report's tests.
fn json_rows(json: &Value) -> Rows {
    let mut rows = Vec::new();
    for lab in json["labs"].as_array().unwrap() {
        for t in lab["tests"].as_array().unwrap() {
            rows.push((
                lab["lab"].as_str().unwrap().to_string(),
                t["name"].as_str().unwrap().to_string(),
                t["status"].as_str().unwrap().to_string(),
            ));
        }
    }
    rows
}

/// What the human report says: its tests, its score, its last line's counts.
struct Human {
    rows: Rows,
    score: (u64, u64),
    passed: usize,
    failed: usize,
}

fn human(text: &str) -> Human {
    let mut rows = Vec::new();
    let mut lab = String::new();
    let mut score = None;
    for line in text.lines() {
        if !line.starts_with(' ') && line.contains(" — ") && line.contains(", seed ") {
            lab = line.split(' ').next().unwrap().to_string();
        } else if let Some(rest) = line.strip_prefix("  ")
            && !rest.starts_with(' ')
        {
            let mut words = rest.split_whitespace();
            let status = match words.next() {
                Some("PASS") => "passed",
                Some("FAIL") => "failed",
                Some("VOID") => "void",
                _ => continue,
            };
            let name = words.next().unwrap().to_string();
            rows.push((lab.clone(), name, status.to_string()));
        } else if let Some(s) = line.strip_prefix("score ") {
            let s = s.split(' ').next().unwrap();
            let (a, b) = s.split_once('/').unwrap();
            score = Some((a.parse().unwrap(), b.parse().unwrap()));
        }
    }
    let last = text.trim_end().lines().last().unwrap_or("");
    let (p, f) = last
        .split_once(" passed, ")
        .unwrap_or_else(|| panic!("no `N passed, M failed` at the end:\n{text}"));
    Human {
        rows,
        score: score.unwrap_or_else(|| panic!("no score line:\n{text}")),
        passed: p.parse().unwrap(),
        failed: f.trim_end_matches(" failed").parse().unwrap(),
    }
}

/// One `<testcase>`.
#[derive(Debug)]
struct Case {
    lab: String,
    name: String,
    classname: String,
    status: String,
    /// `type`, `message` and text of its `<failure>` or `<error>`.
    problem: Option<(String, String, String)>,
    system_out: Option<String>,
}

/// One `<testsuite>`: its attributes, its properties, its cases.
struct Suite {
    name: String,
    attrs: [usize; 3],
    score: String,
    cases: Vec<Case>,
}

fn junit(xml: &str) -> (Vec<Suite>, [usize; 3]) {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not XML ({e}):\n{xml}"));
    let top = doc.root_element();
    assert_eq!(top.tag_name().name(), "testsuites");
    let counts = |n: roxmltree::Node| -> [usize; 3] {
        ["tests", "failures", "errors"].map(|a| n.attribute(a).unwrap().parse().unwrap())
    };
    let mut suites = Vec::new();
    for s in top.children().filter(|n| n.has_tag_name("testsuite")) {
        let lab = s.attribute("name").unwrap().to_string();
        let score = s
            .descendants()
            .find(|p| p.has_tag_name("property") && p.attribute("name") == Some("score"))
            .and_then(|p| p.attribute("value"))
            .unwrap()
            .to_string();
        let mut cases = Vec::new();
        for c in s.children().filter(|n| n.has_tag_name("testcase")) {
            let child = |tag: &str| c.children().find(|n| n.has_tag_name(tag));
            let problem = child("failure").or_else(|| child("error"));
            let status = match problem {
                None => "passed",
                Some(p) if p.has_tag_name("error") && p.attribute("type") == Some("void") => "void",
                Some(p) if p.has_tag_name("failure") => "failed",
                Some(p) => panic!("unexpected {p:?}"),
            };
            cases.push(Case {
                lab: lab.clone(),
                name: c.attribute("name").unwrap().to_string(),
                classname: c.attribute("classname").unwrap().to_string(),
                status: status.to_string(),
                problem: problem.map(|p| {
                    (
                        p.attribute("type").unwrap().to_string(),
                        p.attribute("message").unwrap().to_string(),
                        p.text().unwrap_or("").to_string(),
                    )
                }),
                system_out: child("system-out").map(|n| n.text().unwrap_or("").to_string()),
            });
        }
        suites.push(Suite {
            name: lab,
            attrs: counts(s),
            score,
            cases,
        });
    }
    (suites, counts(top))
}

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Asserts that the JSON is consistent in itself, and that the human
/// report, the JUnit XML and the Gradescope file say the same of every
/// test and of the totals; returns the JSON's rows.
fn assert_agree(r: &Reports) -> Rows {
    let j = &r.json;
    let ctx = format!("human report:\n{}\njson:\n{j:#}", r.human);
    assert_eq!(j["format"], "dslab-kit-results", "{ctx}");
    assert_eq!(j["version"], 1, "{ctx}");
    assert_eq!(j["repeat"], 1, "{ctx}");

    // The JSON in itself: points, counts and scores add up.
    let (mut score, mut max, mut runs) = (0, 0, [0usize; 3]);
    let mut tests = [0usize; 3];
    let idx = |s: &str| {
        ["passed", "failed", "void"]
            .iter()
            .position(|x| *x == s)
            .unwrap()
    };
    for lab in j["labs"].as_array().unwrap() {
        let (mut ls, mut lm, mut lt) = (0, 0, [0usize; 3]);
        for t in lab["tests"].as_array().unwrap() {
            let status = t["status"].as_str().unwrap();
            let statuses: Vec<&str> = t["runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["status"].as_str().unwrap())
                .collect();
            for s in &statuses {
                runs[idx(s)] += 1;
            }
            let want = if statuses.is_empty() || statuses.contains(&"failed") {
                "failed"
            } else if statuses.iter().all(|s| *s == "passed") {
                "passed"
            } else {
                "void"
            };
            assert_eq!(status, want, "{}: {ctx}", t["name"]);
            let earned = if status == "passed" {
                num(&t["max_points"])
            } else {
                0
            };
            assert_eq!(num(&t["points"]), earned, "{}: {ctx}", t["name"]);
            assert_eq!(
                t["failures"].as_array().unwrap().is_empty(),
                status == "passed",
                "{}: {ctx}",
                t["name"]
            );
            lt[idx(status)] += 1;
            ls += earned;
            lm += num(&t["max_points"]);
        }
        assert_eq!(
            (num(&lab["score"]), num(&lab["max_score"])),
            (ls, lm),
            "{ctx}"
        );
        let counts = ["passed", "failed", "void"].map(|k| num(&lab[k]) as usize);
        assert_eq!(counts, lt, "{ctx}");
        score += ls;
        max += lm;
        for k in 0..3 {
            tests[k] += lt[k];
        }
    }
    assert_eq!(
        (num(&j["score"]), num(&j["max_score"])),
        (score, max),
        "{ctx}"
    );
    assert_eq!(
        ["passed", "failed", "void"].map(|k| num(&j[k]) as usize),
        tests,
        "{ctx}"
    );
    assert_eq!(
        ["passed", "failed", "void"].map(|k| num(&j["runs"][k]) as usize),
        runs,
        "{ctx}"
    );
    let rows = json_rows(j);

    // The human report: same tests, same statuses, same score, and its
    // last line counts runs, void ones as failed.
    let h = human(&r.human);
    assert_eq!(h.rows, rows, "{ctx}");
    assert_eq!(h.score, (score, max), "{ctx}");
    assert_eq!((h.passed, h.failed), (runs[0], runs[1] + runs[2]), "{ctx}");

    // JUnit: one suite per lab, one case per test, failures and errors as the JSON says.
    let (suites, totals) = junit(&r.junit);
    let ctx = format!("{ctx}\njunit:\n{}", r.junit);
    assert_eq!(totals, [rows.len(), tests[1], tests[2]], "{ctx}");
    let labs = j["labs"].as_array().unwrap();
    assert_eq!(suites.len(), labs.len(), "{ctx}");
    for (suite, lab) in suites.iter().zip(labs) {
        assert_eq!(suite.name, lab["lab"].as_str().unwrap(), "{ctx}");
        let t = &lab["tests"];
        assert_eq!(
            suite.attrs,
            [
                t.as_array().unwrap().len(),
                num(&lab["failed"]) as usize,
                num(&lab["void"]) as usize
            ],
            "{ctx}"
        );
        assert_eq!(
            suite.score,
            format!("{}/{}", lab["score"], lab["max_score"]),
            "{ctx}"
        );
    }
    let cases: Vec<&Case> = suites.iter().flat_map(|s| &s.cases).collect();
    let junit_rows: Rows = cases
        .iter()
        .map(|c| (c.lab.clone(), c.name.clone(), c.status.clone()))
        .collect();
    assert_eq!(junit_rows, rows, "{ctx}");
    let json_tests: Vec<&Value> = labs
        .iter()
        .flat_map(|l| l["tests"].as_array().unwrap())
        .collect();
    for (c, t) in cases.iter().zip(&json_tests) {
        assert_eq!(
            c.classname,
            format!("{}.{}", c.lab, t["part"].as_str().unwrap()),
            "{ctx}"
        );
        if let Some((kind, message, text)) = &c.problem {
            let first = &t["failures"][0];
            if c.status == "failed" {
                assert_eq!(kind, first["kind"].as_str().unwrap(), "{ctx}");
            } else {
                assert_eq!(kind, "void", "{ctx}");
            }
            assert_eq!(message, first["message"].as_str().unwrap(), "{ctx}");
            assert!(text.contains(message.as_str()), "{ctx}");
            assert!(text.contains("replay: "), "{ctx}");
        }
    }

    // Gradescope: one entry per test, void counted as failed, scores as the JSON's points.
    let g = &r.gradescope;
    let ctx = format!("{ctx}\ngradescope:\n{g:#}");
    let entries = g["tests"].as_array().unwrap();
    assert_eq!(entries.len(), rows.len(), "{ctx}");
    let (mut sum, mut sum_max) = (0.0, 0.0);
    for (k, (e, t)) in entries.iter().zip(&json_tests).enumerate() {
        let lab = t["lab"].as_str().unwrap();
        let name = t["name"].as_str().unwrap();
        assert_eq!(e["name"], format!("{lab} {name}"), "{ctx}");
        // Numbered per lab: `2.3` is hw2's third test.
        let nth = json_tests[..k]
            .iter()
            .filter(|p| p["lab"] == t["lab"])
            .count()
            + 1;
        let number = e["number"].as_str().unwrap();
        assert_eq!(
            number,
            format!("{}.{nth}", lab.trim_start_matches("hw")),
            "{ctx}"
        );
        let passed = t["status"] == "passed";
        assert_eq!(
            e["status"],
            if passed { "passed" } else { "failed" },
            "{ctx}"
        );
        let s = e["score"].as_f64().unwrap();
        assert_eq!(s, num(&t["points"]) as f64, "{ctx}");
        assert_eq!(
            e["max_score"].as_f64().unwrap(),
            num(&t["max_points"]) as f64,
            "{ctx}"
        );
        assert_eq!(e["tags"], serde_json::json!([t["part"]]), "{ctx}");
        assert_eq!(e["visibility"], "visible", "{ctx}");
        sum += s;
        sum_max += e["max_score"].as_f64().unwrap();
    }
    assert_eq!(g["score"].as_f64().unwrap(), sum, "{ctx}");
    assert_eq!((sum, sum_max), (score as f64, max as f64), "{ctx}");
    assert!(
        g["output"]
            .as_str()
            .unwrap()
            .ends_with(&format!("score {score}/{max}\n")),
        "{ctx}"
    );
    rows
}

/// `--root ROOT`, then `args`, then the paths `more`.
fn kit_args(args: &[&str], root: &Path, more: &[&Path]) -> Vec<String> {
    let mut v = vec!["--root".to_string(), root.display().to_string()];
    v.extend(args.iter().map(|s| s.to_string()));
    v.extend(more.iter().map(|p| p.display().to_string()));
    v
}

/// Every reference solution, graded in the three machine formats with one seed, is reported alike everywhere.
#[test]
fn the_formats_agree_on_the_solutions() {
    let args: Vec<String> = ["all", "--solutions", "--seed", "7", "-j", "2"]
        .map(String::from)
        .to_vec();
    let r = grade_in_formats(&args);
    assert_eq!(r.codes, [0, 0, 0], "{}", r.human);
    let rows = assert_agree(&r);
    assert!(rows.len() > 5, "{rows:?}");
    assert!(rows.iter().all(|(_, _, s)| s == "passed"), "{rows:?}");
    assert_eq!(r.json["score"], r.json["max_score"]);
    assert_eq!(r.json["source"], "solution");
    assert_eq!(r.json["seed"], 7);
}

/// Programs that fail some tests: the formats agree, and failures carry their details.
///
/// The three formats come from three runs, so their messages agree only
/// where every failure is the same on every run: the failing tests here
/// are those where the grader's scripted server decides what happens in
/// what order (not `malformed-datagrams`, where a slow machine moves the
/// first failure from the `silence` step to the next `recv`).
#[test]
fn the_formats_agree_when_tests_fail() {
    let keep = [
        "echo",
        "same-seed",
        "stray-replies",
        "reply-from-stranger",
        "reply-of-wrong-type",
        "bad-arguments",
    ];
    let kit = kit_with_spec("reports-course", &hw1_spec_with(&keep));
    let bins = other_language("hw1-course");
    let args = kit_args(
        &["hw1", "--seed", "3", "-j", "2", "--bin-dir"],
        &kit.0,
        &[&bins],
    );
    let r = grade_in_formats(&args);
    assert_eq!(r.codes, [1, 1, 1], "{}", r.human);
    let rows = assert_agree(&r);
    let status = |name: &str| {
        rows.iter()
            .find(|(_, n, _)| n == name)
            .map(|(_, _, s)| s.as_str())
            .unwrap()
    };
    for passed in ["echo", "same-seed", "bad-arguments"] {
        assert_eq!(status(passed), "passed", "{}", r.human);
    }
    let failed = [
        "stray-replies",
        "reply-from-stranger",
        "reply-of-wrong-type",
    ];
    for f in failed {
        assert_eq!(status(f), "failed", "{}", r.human);
    }

    for t in r.json["labs"][0]["tests"].as_array().unwrap() {
        if t["status"] != "failed" {
            continue;
        }
        let f = &t["failures"][0];
        for field in ["kind", "node", "message", "expected", "actual"] {
            assert!(
                f[field].as_str().is_some_and(|s| !s.is_empty()),
                "{} lacks {field}: {f:#}",
                t["name"]
            );
        }
        assert!(f["where"].is_object(), "{f:#}");
        assert_eq!(t["failures"], t["runs"][0]["failures"], "{t:#}");
    }

    let (suites, _) = junit(&r.junit);
    let cases = &suites[0].cases;
    let with_failure: Vec<&str> = cases
        .iter()
        .filter(|c| c.status == "failed")
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(with_failure, failed, "{}", r.junit);
    for c in cases {
        match (&c.problem, c.status.as_str()) {
            (Some((_, message, _)), "failed") => assert!(!message.is_empty(), "{c:?}"),
            (None, "passed") => {}
            _ => panic!("neither a failure nor a pass: {c:?}"),
        }
    }
}

/// `--output FILE --format json`: the file holds the JSON, stdout the human report.
#[test]
fn output_file_holds_the_json_and_stdout_the_human_report() {
    let dir = TempDir::new("reports-output");
    let file = dir.0.join("results.json");
    let (code, out, err) = run(grader()
        .args([
            "hw1", "-t", "echo", "--seed", "7", "-j", "2", "--format", "json",
        ])
        .arg("--bin-dir")
        .arg(hw1_solution())
        .arg("--output")
        .arg(&file));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(json["format"], "dslab-kit-results");
    assert_eq!(
        json_rows(&json),
        [("hw1".into(), "echo".into(), "passed".into())]
    );
    assert!(!out.contains('{'), "no JSON on stdout:\n{out}");
    assert!(out.contains("  PASS  echo"), "{out}");
    assert!(out.trim_end().ends_with("1 passed, 0 failed"), "{out}");
}

/// A rule that never fires makes the run void: VOID, "void", an `<error type="void">`, and no points.
#[test]
fn a_void_run_is_reported_as_void_and_scores_nothing() {
    let mut spec: serde_yaml::Value = serde_yaml::from_str(&common::hw1_spec()).unwrap();
    let tests = spec["tests"].as_sequence_mut().unwrap();
    tests.retain(|t| t["name"] == "echo");
    let network: serde_yaml::Value = serde_yaml::from_str(
        "rules: [ { drop: { from: client, to: server, type: READ_REQ, nth: [99] } } ]",
    )
    .unwrap();
    tests[0]
        .as_mapping_mut()
        .unwrap()
        .insert("network".into(), network);
    let kit = kit_with_spec("reports-void", &serde_yaml::to_string(&spec).unwrap());
    let args = kit_args(
        &["hw1", "--seed", "5", "-j", "2", "--bin-dir"],
        &kit.0,
        &[hw1_solution()],
    );
    let r = grade_in_formats(&args);
    assert_eq!(r.codes, [1, 1, 1], "{}", r.human);
    let rows = assert_agree(&r);
    assert_eq!(rows, [("hw1".into(), "echo".into(), "void".into())]);
    assert!(r.human.contains("  VOID  echo"), "{}", r.human);
    assert!(
        r.human.trim_end().ends_with("0 passed, 1 failed"),
        "{}",
        r.human
    );
    let t = &r.json["labs"][0]["tests"][0];
    assert_eq!(t["status"], "void");
    assert_eq!(t["points"], 0);
    assert_eq!(t["failures"][0]["kind"], "rule");
    assert_eq!(r.json["runs"]["void"], 1);
    assert!(r.junit.contains("<error message=\""), "{}", r.junit);
    assert!(r.junit.contains("type=\"void\""), "{}", r.junit);
    assert!(!r.junit.contains("<failure"), "{}", r.junit);
    let g = &r.gradescope["tests"][0];
    assert_eq!(g["status"], "failed");
    assert_eq!(g["score"].as_f64(), Some(0.0));
    assert_eq!(r.gradescope["score"].as_f64(), Some(0.0));
    assert!(g["output"].as_str().unwrap().starts_with("void: "), "{g:#}");
}

/// Output with bytes XML cannot carry still makes well-formed JUnit, with `\u{1}` spelt out.
#[test]
fn junit_escapes_what_xml_cannot_carry() {
    let spec = r#"
lab: hw1
title: UDP echo
binaries: [server, client]
tests:
  - name: odd-bytes
    description: the server prints control characters and markup, fakes a panic and exits 1
    nodes:
      - name: server
        run: server
        args: [x]
    steps:
      - start: server
      - wait_exit: server
    expect:
      server: { exit: 0 }
"#;
    let kit = kit_with_spec("reports-escape", spec);
    let bins = kit.0.join("bin");
    std::fs::create_dir_all(&bins).unwrap();
    let script = r#"#!/bin/sh
printf 'a\001b <&> "q"\n'
printf "thread 'main' panicked at src/main.rs:1:1:\n" >&2
printf 'x\001y <&> "q" \033[0m\n' >&2
exit 1
"#;
    for name in ["server", "client"] {
        let p = bins.join(name);
        std::fs::write(&p, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let args = kit_args(
        &["hw1", "--seed", "1", "-j", "2", "--bin-dir"],
        &kit.0,
        &[&bins],
    );
    let (code, xml, err) = run(grader().args(&args).args(["--format", "junit"]));
    assert_eq!(code, 1, "{xml}\n{err}");
    assert!(
        !xml.chars()
            .any(|c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r')),
        "a raw control character in:\n{xml}"
    );
    let (suites, totals) = junit(&xml);
    assert_eq!(totals, [1, 1, 0], "{xml}");
    let case = &suites[0].cases[0];
    let (kind, message, text) = case.problem.as_ref().unwrap();
    assert_eq!(kind, "crash", "{xml}");
    assert_eq!(
        message, "server crashed: x\\u{1}y <&> \"q\" \\u{1b}[0m (at src/main.rs:1:1)",
        "{xml}"
    );
    assert!(text.contains("| x\\u{1}y <&> \"q\" \\u{1b}[0m\n"), "{xml}");
    let out = case.system_out.as_deref().unwrap();
    assert!(
        out.contains("--- server stdout ---\na\\u{1}b <&> \"q\"\n"),
        "{xml}"
    );

    // The JSON carries the same text as it is.
    let (_, json, _) = run(grader().args(&args).args(["--format", "json"]));
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json["labs"][0]["tests"][0]["failures"][0]["message"],
        "server crashed: x\u{1}y <&> \"q\" \u{1b}[0m (at src/main.rs:1:1)"
    );
}
