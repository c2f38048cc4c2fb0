//! Gradescope's `results.json`, as its autograder specification describes
//! it: a score, the time taken, an output for the whole submission, and
//! one entry per test with its score, maximum, status, output and
//! visibility.
//!
//! A test's `score` is its points when it passed, 0 otherwise (a void run
//! is not a pass), so the top-level `score` is the sum of the tests'.
//!
//! A test's `visibility` is its spec's. When some test is not `visible`,
//! nothing students always see may give it away: the top-level `output`
//! counts only the visible tests, and the autograder's stdout (the human
//! report, which shows every test) becomes `hidden`, for instructors only.

use serde::Serialize;

use super::text;
use super::{LabResult, NOT_RUN, Results, TestStatus, human};
use crate::spec::Visibility;

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
    let all_visible = results
        .labs
        .iter()
        .flat_map(|l| &l.tests)
        .all(|t| t.spec.visibility == Visibility::Visible);
    let shown = if all_visible {
        ""
    } else {
        " in the tests always shown"
    };
    let mut tests = Vec::new();
    let mut output = String::new();
    let (mut score, mut max_score) = (0, 0);
    for lab in &results.labs {
        let (s, m) = visible_points(lab);
        score += s;
        max_score += m;
        output.push_str(&format!(
            "{} {} — {}: score {s}/{m}{shown}\n",
            lab.id, lab.title, lab.graded
        ));
        if let Some(compiler) = &lab.build_error {
            output.push_str(&text::plain(&human::build_failure(lab, compiler)));
        }
        for (k, test) in lab.tests.iter().enumerate() {
            let status = test.status();
            let out = match (&lab.build_error, test.shown()) {
                (Some(_), _) => format!("{} does not build: see the output above", lab.graded),
                _ if status == TestStatus::NotRun => {
                    format!("{NOT_RUN}\n{}", test.spec.description.trim())
                }
                (None, Some(run)) if status != TestStatus::Passed => {
                    let mut s = String::new();
                    if status == TestStatus::Void {
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
                status: if status == TestStatus::Passed {
                    "passed"
                } else {
                    "failed"
                },
                output: out,
                visibility: test.spec.visibility.name(),
                tags: vec![test.spec.part.name()],
            });
        }
    }
    if all_visible {
        output.push_str(&format!("score {score}/{max_score}\n"));
    } else {
        output.push_str(&format!(
            "score {score}/{max_score}{shown}; the other tests count too\n"
        ));
    }
    let doc = Doc {
        score: results.tally().score as f64,
        execution_time: results.duration.as_secs_f64(),
        output,
        visibility: "visible",
        stdout_visibility: if all_visible { "visible" } else { "hidden" },
        tests,
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("the report is JSON");
    s.push('\n');
    s
}

/// The points earned and possible in the lab's visible tests.
fn visible_points(lab: &LabResult) -> (u64, u64) {
    lab.tests
        .iter()
        .filter(|t| t.spec.visibility == Visibility::Visible)
        .fold((0, 0), |(s, m), t| {
            (s + u64::from(t.points()), m + u64::from(t.spec.points))
        })
}
