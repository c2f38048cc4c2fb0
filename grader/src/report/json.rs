//! The JSON report: a documented, versioned schema for scripts and CI.
//!
//! `specs/results-format.md` is this format's reference: a change that
//! removes or renames a field, or changes its meaning, raises
//! [`VERSION`]; adding a field does not.

use serde::Serialize;

use super::{LabResult, Results, Tally, TestResult, TestRun};
use crate::judge::{Check, Place};
use crate::spec::Stream;

/// The format's name, in the `format` field.
pub const FORMAT: &str = "dslab-kit-results";

/// The schema version, in the `version` field.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct Doc<'a> {
    format: &'static str,
    version: u32,
    grader_version: &'static str,
    seed: u64,
    repeat: u64,
    source: &'static str,
    duration_ms: u128,
    score: u64,
    max_score: u64,
    #[serde(flatten)]
    tests: Counts,
    runs: Counts,
    labs: Vec<Lab<'a>>,
}

#[derive(Serialize)]
struct Counts {
    passed: usize,
    failed: usize,
    void: usize,
    not_run: usize,
}

impl From<Tally> for Counts {
    fn from(t: Tally) -> Counts {
        Counts {
            passed: t.passed,
            failed: t.failed,
            void: t.void,
            not_run: t.not_run,
        }
    }
}

#[derive(Serialize)]
struct Lab<'a> {
    lab: &'a str,
    title: &'a str,
    graded: &'a str,
    builds: bool,
    build_output: Option<&'a str>,
    score: u64,
    max_score: u64,
    #[serde(flatten)]
    counts: Counts,
    tests: Vec<Test<'a>>,
}

#[derive(Serialize)]
struct Test<'a> {
    name: &'a str,
    lab: &'a str,
    part: &'static str,
    description: &'a str,
    points: u32,
    max_points: u32,
    status: &'static str,
    visibility: &'static str,
    duration_ms: u128,
    seed: Option<u64>,
    test_seed: Option<u64>,
    replay: Option<&'a str>,
    hint: Option<&'a str>,
    failures: Vec<FailureDoc<'a>>,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
struct Run<'a> {
    run: u64,
    seed: u64,
    test_seed: u64,
    status: &'static str,
    duration_ms: u128,
    replay: &'a str,
    datagrams: usize,
    datagrams_kept: usize,
    failures: Vec<FailureDoc<'a>>,
}

#[derive(Serialize)]
struct FailureDoc<'a> {
    kind: &'static str,
    node: Option<&'a str>,
    message: &'a str,
    expected: Option<&'a str>,
    actual: Option<&'a str>,
    #[serde(rename = "where")]
    place: Option<Where>,
    notes: &'a [String],
    more: usize,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Where {
    Line { stream: &'static str, line: usize },
    Time { at_ms: u128 },
    Datagram { datagram: usize },
    Step { step: usize },
}

fn stream_name(s: Stream) -> &'static str {
    match s {
        Stream::Stdout => "stdout",
        Stream::Stderr => "stderr",
    }
}

fn failures(checks: &[Check]) -> Vec<FailureDoc<'_>> {
    checks
        .iter()
        .filter_map(|c| {
            let f = c.failure.as_ref()?;
            Some(FailureDoc {
                kind: c.kind.name(),
                node: c.node.as_deref(),
                message: &f.summary,
                expected: f.expected.as_deref(),
                actual: f.actual.as_deref(),
                place: f.place.map(|p| match p {
                    Place::Line { stream, line } => Where::Line {
                        stream: stream_name(stream),
                        line,
                    },
                    Place::Time(t) => Where::Time {
                        at_ms: t.as_millis(),
                    },
                    Place::Datagram(d) => Where::Datagram { datagram: d },
                    Place::Step(s) => Where::Step { step: s },
                }),
                notes: &f.notes,
                more: f.more,
            })
        })
        .collect()
}

fn run(r: &TestRun) -> Run<'_> {
    Run {
        run: r.run,
        seed: r.run_seed,
        test_seed: r.record.seed,
        status: r.verdict.status.name(),
        duration_ms: r.record.duration.as_millis(),
        replay: &r.replay,
        datagrams: r.record.traffic.received(),
        datagrams_kept: r.record.datagrams.len(),
        failures: failures(&r.verdict.checks),
    }
}

fn test<'a>(lab: &'a LabResult, t: &'a TestResult) -> Test<'a> {
    let shown = t.shown();
    let mut fails = shown
        .map(|r| failures(&r.verdict.checks))
        .unwrap_or_default();
    if lab.build_error.is_some() {
        fails.push(FailureDoc {
            kind: "build",
            node: None,
            message: "the crate does not build (see build_output)",
            expected: None,
            actual: None,
            place: None,
            notes: &[],
            more: 0,
        });
    }
    Test {
        name: &t.spec.name,
        lab: &lab.id,
        part: t.spec.part.name(),
        description: &t.spec.description,
        points: t.points(),
        max_points: t.spec.points,
        status: t.status().name(),
        visibility: t.spec.visibility.name(),
        duration_ms: t.duration().as_millis(),
        seed: shown.map(|r| r.run_seed),
        test_seed: shown.map(|r| r.record.seed),
        replay: shown.map(|r| r.replay.as_str()),
        hint: t.spec.hint.as_deref().map(str::trim),
        failures: fails,
        runs: t.runs.iter().map(run).collect(),
    }
}

/// The JSON report of `results`, pretty-printed, with a final newline.
pub fn render(results: &Results) -> String {
    let t = results.tally();
    let doc = Doc {
        format: FORMAT,
        version: VERSION,
        grader_version: env!("CARGO_PKG_VERSION"),
        seed: results.seed,
        repeat: results.repeat,
        source: results.source.name(),
        duration_ms: results.duration.as_millis(),
        score: t.score,
        max_score: t.max_score,
        tests: t.into(),
        runs: results.run_tally().into(),
        labs: results
            .labs
            .iter()
            .map(|lab| {
                let lt = lab.tally();
                Lab {
                    lab: &lab.id,
                    title: &lab.title,
                    graded: &lab.graded,
                    builds: lab.build_error.is_none(),
                    build_output: lab.build_error.as_deref(),
                    score: lt.score,
                    max_score: lt.max_score,
                    counts: lt.into(),
                    tests: lab.tests.iter().map(|t| test(lab, t)).collect(),
                }
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("the report is JSON");
    s.push('\n');
    s
}
