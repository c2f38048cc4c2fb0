//! Gradescope's `results.json`, as its autograder specification describes
//! it: a score, the time taken, an output for the whole submission, and
//! one entry per test with its score, maximum, status, output and
//! visibility.
//!
//! A test's `score` is its points when it passed, 0 otherwise (a void run
//! is not a pass), so the top-level `score` is the sum of the tests'.

use serde::Serialize;

use super::text;
use super::{Results, human};
use crate::check::Status;

#[derive(Serialize)]
struct Doc {
    score: f64,
    execution_time: f64,
    output: String,
    visibility: &'static str,
    stdout_visibility: &'static str,
    tests: Vec<Test>,
}

#[derive(Serialize)]
struct Test {
    name: String,
    number: String,
    score: f64,
    max_score: f64,
    status: &'static str,
    output: String,
    visibility: &'static str,
    tags: Vec<&'static str>,
}

/// The `results.json` of `results`, pretty-printed, with a final newline.
pub fn render(results: &Results) -> String {
    let mut tests = Vec::new();
    let mut output = String::new();
    for lab in &results.labs {
        let t = lab.tally();
        output.push_str(&format!(
            "{} {} — {}: score {}/{}\n",
            lab.id, lab.title, lab.graded, t.score, t.max_score
        ));
        if let Some(compiler) = &lab.build_error {
            output.push_str(&text::plain(&human::build_failure(lab, compiler)));
        }
        for (k, test) in lab.tests.iter().enumerate() {
            let status = test.status();
            let out = match (&lab.build_error, test.shown()) {
                (Some(_), _) => format!("{} does not build: see the output above", lab.graded),
                (None, Some(run)) if status != Status::Passed => {
                    let mut s = String::new();
                    if status == Status::Void {
                        s.push_str("void: a fault this test needs never happened in this run, so it proves nothing; run it again\n");
                    }
                    s.push_str(&text::plain(&text::details(&test.spec, run, false)));
                    s
                }
                _ => test.spec.description.trim().to_string(),
            };
            tests.push(Test {
                name: format!("{} {}", lab.id, test.spec.name),
                number: format!("{}.{}", lab.id.trim_start_matches("hw"), k + 1),
                score: f64::from(test.points()),
                max_score: f64::from(test.spec.points),
                status: if status == Status::Passed {
                    "passed"
                } else {
                    "failed"
                },
                output: out,
                visibility: "visible",
                tags: vec![test.spec.part.name()],
            });
        }
    }
    let t = results.tally();
    output.push_str(&format!("score {}/{}\n", t.score, t.max_score));
    let doc = Doc {
        score: t.score as f64,
        execution_time: results.duration.as_secs_f64(),
        output,
        visibility: "visible",
        stdout_visibility: "visible",
        tests,
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("the report is JSON");
    s.push('\n');
    s
}
