//! Reports: renderings of the results for people and for machines.
//!
//! Every format renders the same data, [`Results`]: per lab, per test, per
//! run, the [record](crate::run::record::Record) of the run and the
//! [verdict](crate::check::Verdict) on it. None of them parses another's
//! text, so they agree on every test and every point by construction.
//!
//! # Layout
//! - this file: the results, scores, and writing a report to its place;
//! - [`text`]: one test as lines of text, shared by the human report and
//!   by the failure texts of the machine formats;
//! - [`human`]: the terminal report, coloured only on a terminal;
//! - [`json`]: the documented, versioned JSON of `specs/results-format.md`;
//! - [`junit`]: JUnit XML, one testsuite per lab;
//! - [`gradescope`]: Gradescope's `results.json`.
//!
//! # Scores
//! A test is worth its `points`, all of them or none: it earns them when
//! every run of it passed (with `--repeat`, a flaky pass earns nothing). A
//! void run is not a pass.

use std::io::IsTerminal;
use std::time::Duration;

use crate::check::{Status, Verdict};
use crate::run::record::Record;
use crate::spec::TestSpec;

pub mod gradescope;
pub mod human;
pub mod json;
pub mod junit;
pub mod text;

/// Whether output to the terminal should be coloured.
pub fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Sets the colour choice for everything printed after.
pub fn init_color() {
    colored::control::set_override(color_wanted());
}

/// The report formats of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The report for people (the default).
    Human,
    /// The JSON of `specs/results-format.md`.
    Json,
    /// JUnit XML, for CI systems.
    Junit,
    /// Gradescope's `results.json`.
    Gradescope,
}

/// Everything one invocation of the grader found.
#[derive(Debug, Clone)]
pub struct Results {
    /// The seed of the first run.
    pub seed: u64,
    /// How many runs (`--repeat`).
    pub repeat: u64,
    /// What was graded: `skeleton`, `solution` or `bin-dir`.
    pub source: &'static str,
    /// The labs, in order.
    pub labs: Vec<LabResult>,
    /// How long the whole grading took.
    pub duration: Duration,
}

/// One lab's results.
#[derive(Debug, Clone)]
pub struct LabResult {
    /// `hw1`.
    pub id: String,
    /// `UDP echo`.
    pub title: String,
    /// What was graded, for people: `labs/hw1-udp-echo`.
    pub graded: String,
    /// The compiler's messages when the crate did not build.
    pub build_error: Option<String>,
    /// The selected tests, in spec order.
    pub tests: Vec<TestResult>,
}

/// One test, over every run.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// The test as the spec has it.
    pub spec: TestSpec,
    /// Its runs, in order (none when the crate did not build).
    pub runs: Vec<TestRun>,
}

/// One run of one test.
#[derive(Debug, Clone)]
pub struct TestRun {
    /// Which run, from 1.
    pub run: u64,
    /// The run seed (`--seed` replays it).
    pub run_seed: u64,
    /// What happened.
    pub record: Record,
    /// The verdict on it.
    pub verdict: Verdict,
    /// The command that replays it.
    pub replay: String,
}

impl TestResult {
    /// Passed when every run passed; failed when any failed (or the crate
    /// did not build); void otherwise.
    pub fn status(&self) -> Status {
        if self.runs.is_empty() || self.runs.iter().any(|r| r.verdict.status == Status::Failed) {
            Status::Failed
        } else if self.runs.iter().all(|r| r.verdict.status == Status::Passed) {
            Status::Passed
        } else {
            Status::Void
        }
    }

    /// The points earned: all of the test's points when it passed.
    pub fn points(&self) -> u32 {
        if self.status() == Status::Passed {
            self.spec.points
        } else {
            0
        }
    }

    /// The run a summary should show: the one that explains the test's
    /// status (the first failed run of a failed test, the first void run of
    /// a void one), or the first run of a test that passed.
    pub fn shown(&self) -> Option<&TestRun> {
        let status = self.status();
        self.runs
            .iter()
            .find(|r| r.verdict.status == status)
            .or(self.runs.first())
    }

    /// How long all its runs took.
    pub fn duration(&self) -> Duration {
        self.runs.iter().map(|r| r.record.duration).sum()
    }
}

/// Test counts and points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Tests (or runs) that passed.
    pub passed: usize,
    /// That failed.
    pub failed: usize,
    /// That were void.
    pub void: usize,
    /// Points earned.
    pub score: u64,
    /// Points possible.
    pub max_score: u64,
}

impl Tally {
    fn add(&mut self, status: Status) {
        match status {
            Status::Passed => self.passed += 1,
            Status::Failed => self.failed += 1,
            Status::Void => self.void += 1,
        }
    }
}

impl LabResult {
    /// Tests by status, and the lab's score.
    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for test in &self.tests {
            t.add(test.status());
            t.score += u64::from(test.points());
            t.max_score += u64::from(test.spec.points);
        }
        t
    }

    /// Runs by status (a lab that did not build has none).
    fn runs(&self) -> Tally {
        let mut t = Tally::default();
        for r in self.tests.iter().flat_map(|t| &t.runs) {
            t.add(r.verdict.status);
        }
        t
    }
}

impl Results {
    /// Tests by status and the score, over every lab.
    pub fn tally(&self) -> Tally {
        sum(self.labs.iter().map(LabResult::tally))
    }

    /// Runs by status over every lab: what the human report's last line
    /// counts. A lab that did not build counts each of its tests as failed
    /// once per run.
    pub fn run_tally(&self) -> Tally {
        let mut t = sum(self.labs.iter().map(LabResult::runs));
        for lab in self.labs.iter().filter(|l| l.build_error.is_some()) {
            t.failed += lab.tests.len() * self.repeat as usize;
        }
        t
    }

    /// Whether every test passed.
    pub fn all_passed(&self) -> bool {
        let t = self.run_tally();
        t.failed == 0 && t.void == 0
    }
}

fn sum(tallies: impl Iterator<Item = Tally>) -> Tally {
    tallies.fold(Tally::default(), |a, b| Tally {
        passed: a.passed + b.passed,
        failed: a.failed + b.failed,
        void: a.void + b.void,
        score: a.score + b.score,
        max_score: a.max_score + b.max_score,
    })
}

/// Renders `results` in a machine format.
pub fn render(format: Format, results: &Results) -> String {
    match format {
        Format::Human => human::render_all(results),
        Format::Json => json::render(results),
        Format::Junit => junit::render(results),
        Format::Gradescope => gradescope::render(results),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::LabSpec;

    fn test_result(statuses: &[Status]) -> TestResult {
        let spec = LabSpec::parse(
            std::path::Path::new("spec.yaml"),
            "lab: hw1\ntitle: t\nbinaries: [p]\ntests:\n  - name: x\n    description: d\n    points: 3\n    nodes: [{ name: p, run: p }]\n    steps: [{ start: p }]\n",
        )
        .unwrap();
        let runs = statuses
            .iter()
            .enumerate()
            .map(|(i, &status)| TestRun {
                run: i as u64 + 1,
                run_seed: i as u64,
                record: Record {
                    test: "x".into(),
                    seed: 0,
                    nodes: vec![],
                    events: vec![],
                    datagrams: vec![],
                    traffic: Default::default(),
                    duration: Duration::ZERO,
                    limit: Duration::ZERO,
                },
                verdict: Verdict {
                    status,
                    checks: vec![],
                    holes: vec![],
                },
                replay: format!("run {}", i + 1),
            })
            .collect();
        TestResult {
            spec: spec.tests[0].clone(),
            runs,
        }
    }

    #[test]
    fn a_test_scores_only_when_every_run_passed() {
        let all = test_result(&[Status::Passed, Status::Passed]);
        assert_eq!((all.status(), all.points()), (Status::Passed, 3));
        let flaky = test_result(&[Status::Passed, Status::Failed]);
        assert_eq!((flaky.status(), flaky.points()), (Status::Failed, 0));
        let void = test_result(&[Status::Passed, Status::Void]);
        assert_eq!((void.status(), void.points()), (Status::Void, 0));
    }

    #[test]
    fn the_run_shown_explains_the_status() {
        let t = test_result(&[Status::Void, Status::Failed, Status::Failed]);
        assert_eq!(
            t.shown().unwrap().replay,
            "run 2",
            "a failed test shows a failed run"
        );
        let t = test_result(&[Status::Passed, Status::Void]);
        assert_eq!(t.shown().unwrap().replay, "run 2");
        let t = test_result(&[Status::Passed, Status::Passed]);
        assert_eq!(t.shown().unwrap().replay, "run 1");
    }
}
