//! The report for people: one line per test, details under a failure, a
//! score, and a closing `N passed, M failed`.
//!
//! It is printed as the tests finish, in spec order, on stdout (on stderr
//! when a machine format takes stdout). Colour only on a terminal and
//! never when `NO_COLOR` is set, so logs of CI runs stay plain text.

use std::io::Write;

use colored::Colorize;

use super::text::{self, Line, Tone};
use super::{LabResult, Results, TestRun};
use crate::judge::Status;
use crate::spec::TestSpec;

/// Where the human report goes while the grader runs.
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    /// Print on stderr instead of stdout.
    pub to_stderr: bool,
}

impl Terminal {
    /// Prints lines, coloured when colour is on. A closed pipe is ignored
    /// (`grader hw1 | head`): the grading goes on and still cleans up.
    pub fn print(&self, lines: &[Line]) {
        let mut out = String::new();
        for l in lines {
            out.push_str(&" ".repeat(l.indent));
            for (tone, part) in &l.parts {
                out.push_str(&paint(*tone, &text::visible(part)));
            }
            out.push('\n');
        }
        let _ = if self.to_stderr {
            std::io::stderr().write_all(out.as_bytes())
        } else {
            std::io::stdout().write_all(out.as_bytes())
        };
    }
}

fn paint(tone: Tone, s: &str) -> String {
    match tone {
        Tone::Plain => s.to_string(),
        Tone::Dim => s.dimmed().to_string(),
        Tone::Strong => s.bold().to_string(),
        Tone::Label => s.cyan().to_string(),
        Tone::Hint => s.yellow().bold().to_string(),
        Tone::Good => s.green().bold().to_string(),
        Tone::Bad => s.red().bold().to_string(),
        Tone::Warn => s.yellow().bold().to_string(),
    }
}

/// `hw1 UDP echo — labs/hw1-udp-echo, seed 7, run 2 of 3`.
pub fn lab_header(lab: &LabResult, seed: u64, run: u64, repeat: u64) -> Vec<Line> {
    let runs = if repeat > 1 {
        format!(", run {run} of {repeat}")
    } else {
        String::new()
    };
    vec![Line {
        indent: 0,
        parts: vec![
            (Tone::Strong, lab.id.clone()),
            (
                Tone::Plain,
                format!(" {} — {}, seed {seed}{runs}", lab.title, lab.graded),
            ),
        ],
    }]
}

/// What a lab that does not build gets: the compiler's messages.
pub fn build_failure(lab: &LabResult, compiler: &str) -> Vec<Line> {
    let mut out = vec![Line {
        indent: 0,
        parts: vec![
            (Tone::Strong, lab.id.clone()),
            (Tone::Plain, format!(" {} — {}: ", lab.title, lab.graded)),
            (Tone::Bad, "does not build".into()),
        ],
    }];
    out.extend(compiler.lines().map(|l| Line {
        indent: 2,
        parts: vec![(Tone::Plain, l.to_string())],
    }));
    out.push(Line {
        indent: 2,
        parts: vec![(
            Tone::Plain,
            "every test fails until it builds: fix the first error above, then run the grader again".into(),
        )],
    });
    out
}

/// One run of one test: its line, and the details when it did not pass.
pub fn run(spec: &TestSpec, run: &TestRun, verbose: bool) -> Vec<Line> {
    let status = run.verdict.status;
    let mut out = vec![text::headline(
        &spec.name,
        status,
        run.record.duration.as_secs_f64(),
    )];
    // What a speed check measured, pass or fail: a student wants the
    // figures either way.
    for e in &run.record.events {
        if let crate::run::record::What::LoadMeasured {
            clients,
            node,
            baseline,
        } = &e.what
        {
            let who = e.node.map_or("", |i| run.record.nodes[i].name.as_str());
            out.push(Line::new(
                8,
                Tone::Dim,
                node.versus(who, *clients, baseline),
            ));
        }
    }
    if status != Status::Passed {
        out.extend(text::details(spec, run, verbose));
    } else if verbose {
        // A pass can hide a surprise too: one that took 115 ms where the
        // faults should have made it take 300.
        out.extend(text::timeline_block(&run.record));
    }
    out
}

/// With `--repeat`: one row per test, its runs passed and failed, and the
/// seeds of the failed ones, under `runs of each test:`.
pub fn repeat_table(results: &Results) -> Vec<Line> {
    let mut out = vec![Line::new(0, Tone::Label, "runs of each test:")];
    let width = (results.labs.iter())
        .flat_map(|l| {
            l.tests
                .iter()
                .map(move |t| l.id.len() + 1 + t.spec.name.len())
        })
        .max()
        .unwrap_or(0);
    for lab in &results.labs {
        for t in &lab.tests {
            let passed = t
                .runs
                .iter()
                .filter(|r| r.verdict.status == Status::Passed)
                .count();
            let failed: Vec<String> = (t.runs.iter())
                .filter(|r| r.verdict.status != Status::Passed)
                .map(|r| r.run_seed.to_string())
                .collect();
            let name = format!("{} {}", lab.id, t.spec.name);
            let mut parts = vec![(
                Tone::Plain,
                format!(
                    "{name:<width$}  {passed:>3} passed  {:>3} failed",
                    failed.len()
                ),
            )];
            if !failed.is_empty() {
                parts.push((Tone::Bad, format!("  seeds {}", failed.join(", "))));
            }
            if t.not_run > 0 {
                parts.push((Tone::Dim, format!("  {} not run", t.not_run)));
            }
            out.push(Line { indent: 2, parts });
        }
    }
    out
}

/// `hw1 score 9/10`, under a lab when several are graded.
pub fn lab_score(lab: &LabResult) -> Vec<Line> {
    let t = lab.tally();
    vec![Line {
        indent: 0,
        parts: vec![(
            Tone::Plain,
            format!("{} score {}/{}", lab.id, t.score, t.max_score),
        )],
    }]
}

/// The closing lines: `score 17/20`, then `N passed, M failed`, where the
/// counts are runs and a void run counts as failed.
pub fn summary(results: &Results) -> Vec<Line> {
    let t = results.tally();
    let runs = results.run_tally();
    let mut out = Vec::new();
    if results.repeat > 1 {
        out.extend(repeat_table(results));
    }
    if runs.void > 0 {
        out.push(Line {
            indent: 0,
            parts: vec![(
                Tone::Warn,
                format!(
                    "{} void run(s): a fault the test needs never happened; they count as failed",
                    runs.void
                ),
            )],
        });
    }
    if runs.not_run > 0 {
        out.push(Line {
            indent: 0,
            parts: vec![(
                Tone::Warn,
                format!(
                    "--fail-fast: stopped at the first test that did not pass; {} test run(s) not started",
                    runs.not_run
                ),
            )],
        });
    }
    let note = if results.repeat > 1 {
        " (a test scores only if every run passed)"
    } else {
        ""
    };
    out.push(Line {
        indent: 0,
        parts: vec![(
            Tone::Strong,
            format!("score {}/{}{note}", t.score, t.max_score),
        )],
    });
    let mut line = format!("{} passed, {} failed", runs.passed, runs.failed + runs.void);
    if runs.not_run > 0 {
        line.push_str(&format!(", {} not run", runs.not_run));
    }
    let tone = if results.all_passed() {
        Tone::Good
    } else {
        Tone::Bad
    };
    out.push(Line {
        indent: 0,
        parts: vec![(tone, line)],
    });
    out
}

/// The whole report as plain text, for `--format human --output FILE`.
pub fn render_all(results: &Results) -> String {
    let mut lines = Vec::new();
    for lab in &results.labs {
        if let Some(compiler) = &lab.build_error {
            lines.extend(build_failure(lab, compiler));
            continue;
        }
        for r in 0..results.repeat {
            lines.extend(lab_header(
                lab,
                results.seed.wrapping_add(r),
                r + 1,
                results.repeat,
            ));
            for t in &lab.tests {
                if let Some(run) = t.runs.iter().find(|x| x.run == r + 1) {
                    lines.extend(run_lines(t, run));
                }
            }
        }
        if results.labs.len() > 1 {
            lines.extend(lab_score(lab));
        }
    }
    lines.extend(summary(results));
    text::plain(&lines)
}

fn run_lines(t: &super::TestResult, r: &TestRun) -> Vec<Line> {
    run(&t.spec, r, false)
}
