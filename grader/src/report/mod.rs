//! Reports: renderings of the results for people and for machines.
//!
//! Every format renders the same data, [`Results`]: per lab, per test, per
//! run, the [record](crate::run::record::Record) of the run and the
//! [verdict](crate::judge::Verdict) on it. None of them parses another's
//! text, so they agree on every test and every point by construction.
//!
//! # Layout
//! - this file: the results, scores, and writing a report to its place;
//! - [`text`]: one test as lines of text, shared by the human report and
//!   by the failure texts of the machine formats;
//! - [`human`]: the terminal report, coloured only on a terminal;
//! - [`json`]: the documented, versioned JSON of `specs/results-format.md`;
//! - [`junit`]: JUnit XML, one testsuite per lab;
//! - [`gradescope`]: Gradescope's `results.json`;
//! - [`html`]: one self-contained page for people, with the diagrams;
//! - [`diagram`], [`pcap`], [`shiviz`]: one run as a sequence diagram, as
//!   a capture for Wireshark, as a log for ShiViz; [`trace`] writes them
//!   for failing runs, or for every run with `--trace`.
//!
//! # Scores
//! A test is worth its `points`, all of them or none: it earns them when
//! every run of it passed (with `--repeat`, a flaky pass earns nothing). A
//! void run is not a pass, and neither is a run that `--fail-fast` never
//! started.

use std::io::IsTerminal;
use std::time::Duration;

use crate::judge::{Status, Verdict};
use crate::run::record::Record;
use crate::spec::TestSpec;

pub mod diagram;
pub mod gradescope;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod pcap;
pub mod shiviz;
pub mod text;
pub mod trace;

/// What a report says of a test that `--fail-fast` did not run.
pub const NOT_RUN: &str =
    "not run: --fail-fast stopped the grading at the first test that did not pass";

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
    /// What was graded.
    pub source: crate::kit::Source,
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
    /// Its runs that `--fail-fast` never started.
    pub not_run: u64,
}

/// What became of a test over all its runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStatus {
    /// Every run passed.
    Passed,
    /// A run failed, or the crate did not build.
    Failed,
    /// No run failed, and some run was void.
    Void,
    /// No run failed, and `--fail-fast` left some run of it unstarted.
    NotRun,
}

impl TestStatus {
    /// `passed`, `failed`, `void` or `not_run`, as the machine formats write it.
    pub fn name(self) -> &'static str {
        match self {
            TestStatus::Passed => "passed",
            TestStatus::Failed => "failed",
            TestStatus::Void => "void",
            TestStatus::NotRun => "not_run",
        }
    }

    /// The status of a run that stands for this one, if runs have it.
    fn of_run(self) -> Option<Status> {
        match self {
            TestStatus::Passed => Some(Status::Passed),
            TestStatus::Failed => Some(Status::Failed),
            TestStatus::Void => Some(Status::Void),
            TestStatus::NotRun => None,
        }
    }
}

impl From<Status> for TestStatus {
    fn from(s: Status) -> TestStatus {
        match s {
            Status::Passed => TestStatus::Passed,
            Status::Failed => TestStatus::Failed,
            Status::Void => TestStatus::Void,
        }
    }
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
    /// The files drawn for it ([`trace`]), each with what it is
    /// (`diagram`, `capture`, `ShiViz log`), as the report shows them.
    pub files: Vec<(String, &'static str)>,
}

impl TestResult {
    /// Failed when a run failed (or the crate did not build); else not run
    /// when `--fail-fast` left a run unstarted; else passed when every run
    /// passed, void otherwise.
    pub fn status(&self) -> TestStatus {
        let failed = |r: &TestRun| r.verdict.status == Status::Failed;
        if self.runs.iter().any(failed) || (self.runs.is_empty() && self.not_run == 0) {
            TestStatus::Failed
        } else if self.not_run > 0 {
            TestStatus::NotRun
        } else if self.runs.iter().all(|r| r.verdict.status == Status::Passed) {
            TestStatus::Passed
        } else {
            TestStatus::Void
        }
    }

    /// The points earned: all of the test's points when it passed.
    pub fn points(&self) -> u32 {
        if self.status() == TestStatus::Passed {
            self.spec.points
        } else {
            0
        }
    }

    /// The run a summary should show: the one that explains the test's
    /// status (the first failed run of a failed test, the first void run of
    /// a void one), or the first run of a test that passed (or of one
    /// whose other runs were not run).
    pub fn shown(&self) -> Option<&TestRun> {
        let status = self.status().of_run();
        self.runs
            .iter()
            .find(|r| Some(r.verdict.status) == status)
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
    /// That `--fail-fast` did not run.
    pub not_run: usize,
    /// Points earned.
    pub score: u64,
    /// Points possible.
    pub max_score: u64,
}

impl Tally {
    fn add(&mut self, status: TestStatus) {
        match status {
            TestStatus::Passed => self.passed += 1,
            TestStatus::Failed => self.failed += 1,
            TestStatus::Void => self.void += 1,
            TestStatus::NotRun => self.not_run += 1,
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
            t.add(r.verdict.status.into());
        }
        t.not_run = self.tests.iter().map(|t| t.not_run as usize).sum();
        t
    }

    /// Whether every test of the lab passed.
    pub fn all_passed(&self) -> bool {
        self.tests.iter().all(|t| t.status() == TestStatus::Passed)
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

    /// Whether every run of every test passed.
    pub fn all_passed(&self) -> bool {
        let t = self.run_tally();
        t.failed == 0 && t.void == 0 && t.not_run == 0
    }
}

fn sum(tallies: impl Iterator<Item = Tally>) -> Tally {
    tallies.fold(Tally::default(), |a, b| Tally {
        passed: a.passed + b.passed,
        failed: a.failed + b.failed,
        void: a.void + b.void,
        not_run: a.not_run + b.not_run,
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

/// `text` as XML character data or an attribute value: markup characters
/// and quotes escaped; characters XML 1.0 cannot carry (control characters
/// but tab and newline, U+FFFE, U+FFFF) written as `\u{..}`.
pub(crate) fn xml_text(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
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
                    ..Record::of(vec![], vec![])
                },
                verdict: Verdict {
                    status,
                    checks: vec![],
                    holes: vec![],
                },
                replay: format!("run {}", i + 1),
                files: Vec::new(),
            })
            .collect();
        TestResult {
            spec: spec.tests[0].clone(),
            runs,
            not_run: 0,
        }
    }

    #[test]
    fn a_test_scores_only_when_every_run_passed() {
        let all = test_result(&[Status::Passed, Status::Passed]);
        assert_eq!((all.status(), all.points()), (TestStatus::Passed, 3));
        let flaky = test_result(&[Status::Passed, Status::Failed]);
        assert_eq!((flaky.status(), flaky.points()), (TestStatus::Failed, 0));
        let void = test_result(&[Status::Passed, Status::Void]);
        assert_eq!((void.status(), void.points()), (TestStatus::Void, 0));
        let mut cut = test_result(&[Status::Passed]);
        cut.not_run = 1;
        assert_eq!((cut.status(), cut.points()), (TestStatus::NotRun, 0));
        let mut failed_then_cut = test_result(&[Status::Failed]);
        failed_then_cut.not_run = 1;
        assert_eq!(failed_then_cut.status(), TestStatus::Failed);
        let mut never = test_result(&[]);
        never.not_run = 1;
        assert_eq!(never.status(), TestStatus::NotRun);
        assert_eq!(test_result(&[]).status(), TestStatus::Failed, "no build");
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
