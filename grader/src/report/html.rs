//! The whole grading run as one HTML page (`--html FILE`): every lab and
//! every test, and under each one that did not pass, everything a student
//! needs to see what happened.
//!
//! The page opens from the file system, with no server and no network:
//! the style sheet is inline, each run's sequence diagram
//! ([`diagram::svg`]) is inline SVG, and what is open or closed is
//! `<details>`/`<summary>`, which a browser folds without a line of
//! script. A Content-Security-Policy in the page forbids fetching anything
//! and running any script, so that even a slip in escaping could not make
//! a program's output do either.
//!
//! # Layout
//! - the header: the score, the seed, what was graded, tests (and with
//!   `--repeat`, runs) passed and failed, and an index of every test;
//! - per lab, its tests: those that did not pass first, open, then those
//!   that passed, closed; within each group in the order of the spec;
//! - under a test that did not pass, each run that did not pass: its seed
//!   and replay command, the failures (a summary, what was expected beside
//!   what happened), the hint, the diagram, what each program printed beside
//!   the transcript the spec expects of it, the commands, and the timeline
//!   of `-v`;
//! - under a test that passed, its first run, the diagram, the transcripts
//!   and the timeline folded away: a pass can hide a surprise too (one that
//!   took 115 ms where the faults should have made it take 300);
//! - a lab that did not build: the compiler's output.
//!
//! The words are the terminal's ([`text`]): the same timeline, the same
//! tags (`PASS`, `FAIL`, `VOID`), the same durations.
//!
//! # Bounds
//!
//! The page stays a size a browser opens at once, whatever the programs
//! did: alike failures collapse after [`text::SHOWN_ALIKE`], a line is
//! cut at [`text::WIDTH`] characters, an expected or actual text at
//! [`text::FAILURE_LINES`] lines, a stream of a program at [`LINES`], the
//! timeline at [`text::TIMELINE`], and the diagrams bound themselves. With
//! `--repeat`, every run that did not pass is shown, but only the first run
//! that passed. Each cut says how much more there was.
//!
//! # Markup
//!
//! HTML5 written as well-formed XML (every element closed, every attribute
//! quoted and given a value), so that an XML parser reads the page as a
//! browser does: that is how the tests check it. All text is escaped
//! (`& < > " '`), and control characters are made [visible](text::visible).
//! The same results always give the same bytes.

use std::collections::BTreeSet;
use std::fmt::{self, Write};

use super::{LabResult, NOT_RUN, Results, TestResult, TestRun, TestStatus, diagram, text};
use crate::judge::transcript::{Item, Vars};
use crate::judge::{Check, Failure, Place, Status};
use crate::run::record::{Line, Record};
use crate::spec::{NodeExpect, Stream, TestSpec, pattern};

/// How many lines of each stream of each program the page shows, and of
/// each transcript the spec expects; past them, a line says how many more.
pub const LINES: usize = 200;

/// How many lines of the compiler's output a lab that did not build shows.
const COMPILER_LINES: usize = 400;

/// How many characters of a test's first failure its folded line shows.
const WHY: usize = 140;

/// What a replay repeats, and what it cannot: the terminal's wording.
const REPLAY_NOTE: &str =
    "(the same requests and the same faults; your programs' own timing may differ)";

/// The page's style sheet. The diagrams bring their own (class names
/// such as `arrow`, `node` or `note`), which applies to the whole page:
/// the names here are kept apart from theirs.
const STYLE: &str = "
:root { color-scheme: light; }
body { margin: 0 auto; max-width: 1400px; padding: 12px 24px 48px; color: #1f2328; background: #fff;
  font: 14px/1.45 'DejaVu Sans', -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; }
h1 { font-size: 22px; margin: 8px 0 2px; }
h2 { font-size: 19px; margin: 30px 0 8px; padding-bottom: 4px; border-bottom: 2px solid #d0d7de; }
h2 .lab-score { font-size: 15px; font-weight: normal; color: #57606a; margin-left: 10px; }
h4 { font-size: 14px; margin: 18px 0 6px; color: #32383f; }
h5 { font-size: 12px; margin: 0 0 4px; color: #57606a; font-weight: 600; }
pre, code { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 12px; }
pre { margin: 0; padding: 8px 10px; background: #f6f8fa; border: 1px solid #d8dee4; border-radius: 4px;
  white-space: pre-wrap; overflow-wrap: anywhere; }
code { background: #f0f2f4; padding: 1px 4px; border-radius: 3px; overflow-wrap: anywhere; }
.total { font-size: 30px; font-weight: 700; margin: 4px 0 8px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; margin: 6px 0 10px; }
dl.facts dt { color: #57606a; }
dl.facts dd { margin: 0; }
.aside { color: #6e7781; }
.tag { display: inline-block; min-width: 4.2em; text-align: center; font-weight: 700; font-size: 12px;
  padding: 1px 6px; border-radius: 3px; color: #fff; }
.verdict-passed { background: #1a7f37; }
.verdict-failed { background: #cf222e; }
.verdict-void { background: #9a6700; }
.verdict-not_run { background: #6e7781; }
table.index { border-collapse: collapse; margin: 10px 0 4px; }
table.index th, table.index td { padding: 3px 12px 3px 0; border-bottom: 1px solid #eaeef2; text-align: left;
  vertical-align: top; }
table.index th { color: #57606a; font-weight: 600; }
table.index td:first-child { white-space: nowrap; }
table.index td.why { color: #a40e26; }
details.test { border: 1px solid #d0d7de; border-radius: 6px; margin: 10px 0; }
details.test[data-status=failed] { border-color: #e8a3a8; }
details.test[data-status=void] { border-color: #d4a72c; }
details.test > summary { padding: 8px 12px; cursor: pointer; background: #f6f8fa; border-radius: 6px; }
details.test[open] > summary { border-bottom: 1px solid #d0d7de; border-radius: 6px 6px 0 0; }
.test-name { font-weight: 700; font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; margin-left: 8px; }
.test-points, .test-took { color: #57606a; margin-left: 10px; }
.test-why { color: #a40e26; margin-left: 12px; }
.test-body { padding: 4px 16px 14px; }
.description { color: #32383f; font-style: italic; }
details.run { border-top: 1px dashed #d0d7de; margin: 10px 0; padding-top: 6px; }
details.run > summary, details.folded > summary { cursor: pointer; font-weight: 600; color: #32383f; }
details.folded { margin: 10px 0; }
.problem { border-left: 4px solid #cf222e; background: #fff8f8; padding: 6px 12px 8px; margin: 8px 0; }
.problem-what { margin: 0 0 6px; font-weight: 600; }
.problem-kind { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-weight: normal; font-size: 12px;
  color: #57606a; background: #eaeef2; border-radius: 3px; padding: 0 5px; margin-right: 6px; }
.problem-where { margin: 0 0 6px; color: #57606a; }
.problem-notes { margin: 6px 0 0; padding-left: 20px; color: #32383f; }
.more-alike { color: #57606a; margin: 4px 0 0 16px; }
.sides { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 12px; }
.sides.single { grid-template-columns: minmax(0, 1fr); }
.program { margin: 10px 0; }
.program-name { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-weight: 700; }
.hint { border-left: 4px solid #bf8700; background: #fff8c5; padding: 6px 12px; margin: 12px 0; }
.hint-label { font-weight: 700; color: #7d4e00; margin-right: 6px; }
.picture { overflow-x: auto; border: 1px solid #d8dee4; border-radius: 4px; background: #fff; }
.picture > svg { display: block; }
.num { color: #8c959f; }
mark { background: #ffe08a; }
.compiler { max-height: 40em; overflow: auto; }
@media (max-width: 900px) { .sides { grid-template-columns: minmax(0, 1fr); } }
";

/// The page for `results`.
pub fn render(results: &Results) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = page(&mut out, results);
    out
}

/// The document: its head, with the style sheet and the policy, and its body.
fn page(out: &mut String, results: &Results) -> fmt::Result {
    let ids = anchors(results);
    let labs: Vec<&str> = results.labs.iter().map(|l| l.id.as_str()).collect();
    let title = format!("grader: {}", labs.join(", "));
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(
        out,
        r#"<html xmlns="http://www.w3.org/1999/xhtml" lang="en">"#
    )?;
    writeln!(out, "<head>")?;
    writeln!(out, r#"<meta charset="utf-8"/>"#)?;
    // Nothing to fetch and nothing to run: only the inline style sheets
    // (the page's and the diagrams') and pictures of its own.
    writeln!(
        out,
        r#"<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"/>"#
    )?;
    writeln!(
        out,
        r#"<meta name="viewport" content="width=device-width, initial-scale=1"/>"#
    )?;
    writeln!(out, "<title>{}</title>", esc(&title))?;
    writeln!(out, "<style>{STYLE}</style>")?;
    writeln!(out, "</head>")?;
    writeln!(out, "<body>")?;
    header(out, results, &ids)?;
    for (l, lab) in results.labs.iter().enumerate() {
        lab_section(out, results, lab, &ids[l])?;
    }
    writeln!(out, "</body>")?;
    writeln!(out, "</html>")
}

/// The anchor of each test (`hw1-echo`), per lab: letters, digits, `-`
/// and `_` only, and unique in the page.
fn anchors(results: &Results) -> Vec<Vec<String>> {
    let mut taken = BTreeSet::new();
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' => c,
                _ => '_',
            })
            .collect()
    };
    (results.labs.iter())
        .map(|lab| {
            (lab.tests.iter())
                .map(|t| {
                    let base = format!("{}-{}", clean(&lab.id), clean(&t.spec.name));
                    let mut id = base.clone();
                    let mut n = 1;
                    while !taken.insert(id.clone()) {
                        n += 1;
                        id = format!("{base}-{n}");
                    }
                    id
                })
                .collect()
        })
        .collect()
}

/// The tests of a lab in the order the page shows them: failed, void, not
/// run, passed; in spec order within each.
fn order(lab: &LabResult) -> Vec<usize> {
    let rank = |s: TestStatus| match s {
        TestStatus::Failed => 0,
        TestStatus::Void => 1,
        TestStatus::NotRun => 2,
        TestStatus::Passed => 3,
    };
    let mut order: Vec<usize> = (0..lab.tests.len()).collect();
    order.sort_by_key(|&t| rank(lab.tests[t].status()));
    order
}

/// `PASS`, `FAIL`, `VOID` as the terminal writes them, or `NOT RUN`.
fn word(status: TestStatus) -> &'static str {
    match status {
        TestStatus::Passed => text::tag(Status::Passed).1,
        TestStatus::Failed => text::tag(Status::Failed).1,
        TestStatus::Void => text::tag(Status::Void).1,
        TestStatus::NotRun => "NOT RUN",
    }
}

/// The coloured tag of a status.
fn tag(status: TestStatus) -> String {
    format!(
        r#"<span class="tag verdict-{}">{}</span>"#,
        status.name(),
        word(status)
    )
}

/// `5 passed, 2 failed`, then the void and not run ones if any.
fn counts(t: &super::Tally) -> String {
    let mut s = format!("{} passed, {} failed", t.passed, t.failed);
    if t.void > 0 {
        let _ = write!(s, ", {} void", t.void);
    }
    if t.not_run > 0 {
        let _ = write!(s, ", {} not run", t.not_run);
    }
    s
}

/// The one line a test's failure is known by: its shown run's first
/// failure, or why it has no run.
fn why(lab: &LabResult, test: &TestResult) -> Option<String> {
    if lab.build_error.is_some() {
        return Some(format!("{} does not build", lab.graded));
    }
    match test.status() {
        TestStatus::Passed => None,
        TestStatus::NotRun => Some("not run (--fail-fast)".into()),
        TestStatus::Failed | TestStatus::Void => {
            let run = test.shown()?;
            let first = run.verdict.failures().find_map(|c| c.failure.as_ref());
            Some(first.map_or_else(
                || format!("the run was {}", run.verdict.status.name()),
                |f| f.summary.clone(),
            ))
        }
    }
}

/// The score, the seed, what was graded, the counts, and the index of tests.
fn header(out: &mut String, results: &Results, ids: &[Vec<String>]) -> fmt::Result {
    let t = results.tally();
    writeln!(out, "<header>")?;
    writeln!(out, "<h1>Grading report</h1>")?;
    writeln!(
        out,
        r#"<p class="total">score {}/{}</p>"#,
        t.score, t.max_score
    )?;
    writeln!(out, r#"<dl class="facts">"#)?;
    for lab in &results.labs {
        writeln!(
            out,
            "<dt>graded</dt><dd>{} {}: {}</dd>",
            esc(&lab.id),
            esc(&lab.title),
            esc(&lab.graded)
        )?;
    }
    let seed = if results.repeat > 1 {
        format!(
            "{}, for the first of {} runs (--repeat {})",
            results.seed, results.repeat, results.repeat
        )
    } else {
        results.seed.to_string()
    };
    writeln!(out, "<dt>seed</dt><dd>{}</dd>", esc(&seed))?;
    writeln!(out, "<dt>tests</dt><dd>{}</dd>", counts(&t))?;
    if results.repeat > 1 {
        writeln!(
            out,
            "<dt>runs</dt><dd>{}</dd>",
            counts(&results.run_tally())
        )?;
    }
    writeln!(
        out,
        "<dt>took</dt><dd>{}</dd>",
        text::duration(results.duration.as_secs_f64())
    )?;
    writeln!(out, "</dl>")?;
    writeln!(out, r#"<table class="index">"#)?;
    writeln!(
        out,
        "<tr><th>test</th><th>result</th><th>points</th><th></th></tr>"
    )?;
    for (l, lab) in results.labs.iter().enumerate() {
        for t in order(lab) {
            let test = &lab.tests[t];
            writeln!(
                out,
                r##"<tr><td><a href="#{}">{} {}</a></td><td>{}</td><td>{}/{}</td><td class="why">{}</td></tr>"##,
                ids[l][t],
                esc(&lab.id),
                esc(&test.spec.name),
                tag(test.status()),
                test.points(),
                test.spec.points,
                why(lab, test).map_or(String::new(), |w| esc(&cut(&w, WHY)))
            )?;
        }
    }
    writeln!(out, "</table>")?;
    writeln!(out, "</header>")
}

/// A lab: its score, the compiler's output if it did not build, its tests.
fn lab_section(
    out: &mut String,
    results: &Results,
    lab: &LabResult,
    ids: &[String],
) -> fmt::Result {
    let t = lab.tally();
    writeln!(out, r#"<section class="lab" data-lab="{}">"#, esc(&lab.id))?;
    writeln!(
        out,
        r#"<h2>{} {} <span class="lab-score">score {}/{} · {}</span></h2>"#,
        esc(&lab.id),
        esc(&lab.title),
        t.score,
        t.max_score,
        counts(&t)
    )?;
    writeln!(out, r#"<p class="aside">graded: {}</p>"#, esc(&lab.graded))?;
    if let Some(compiler) = &lab.build_error {
        writeln!(
            out,
            r#"<div class="problem build"><p class="problem-what">{} does not build: every test fails until it builds; fix the first error below, then run the grader again</p>"#,
            esc(&lab.graded)
        )?;
        writeln!(out, "<h5>the compiler's output</h5>")?;
        let lines: Vec<&str> = compiler.lines().collect();
        writeln!(
            out,
            r#"<pre class="compiler">{}</pre>"#,
            bounded(&lines, COMPILER_LINES, |l| esc(l))
        )?;
        writeln!(out, "</div>")?;
    }
    for t in order(lab) {
        test_section(out, results, lab, &lab.tests[t], &ids[t])?;
    }
    writeln!(out, "</section>")
}

/// A test: one line, open when it did not pass; under it, the runs shown.
fn test_section(
    out: &mut String,
    results: &Results,
    lab: &LabResult,
    test: &TestResult,
    id: &str,
) -> fmt::Result {
    let spec = &test.spec;
    let status = test.status();
    let open = matches!(status, TestStatus::Failed | TestStatus::Void);
    writeln!(
        out,
        r#"<details class="test" id="{id}" data-test="{}" data-status="{}"{}>"#,
        esc(&spec.name),
        status.name(),
        if open { r#" open="""# } else { "" }
    )?;
    write!(
        out,
        r#"<summary>{}<span class="test-name">{}</span><span class="test-points">{}/{} points</span>"#,
        tag(status),
        esc(&spec.name),
        test.points(),
        spec.points
    )?;
    if !test.runs.is_empty() {
        write!(
            out,
            r#"<span class="test-took">{}</span>"#,
            text::duration(test.duration().as_secs_f64())
        )?;
    }
    if let Some(w) = why(lab, test) {
        write!(
            out,
            r#"<span class="test-why">{}</span>"#,
            esc(&cut(&w, WHY))
        )?;
    }
    writeln!(out, "</summary>")?;
    writeln!(out, r#"<div class="test-body">"#)?;
    writeln!(
        out,
        r#"<p class="description">{}</p>"#,
        esc(spec.description.trim())
    )?;
    if lab.build_error.is_some() {
        writeln!(
            out,
            r#"<p class="aside">no run: {} does not build (the compiler's output is above)</p>"#,
            esc(&lab.graded)
        )?;
    }
    // Every run that did not pass, and the first that did.
    let mut passed = 0;
    let shown: Vec<&TestRun> = (test.runs.iter())
        .filter(|r| {
            let pass = r.verdict.status == Status::Passed;
            passed += usize::from(pass);
            !pass || passed == 1
        })
        .collect();
    let repeated = test.runs.len() as u64 + test.not_run > 1;
    let mut first_failed = true;
    for run in shown {
        let failed = run.verdict.status != Status::Passed;
        let opened = failed && std::mem::replace(&mut first_failed, false);
        run_section(out, results, spec, run, repeated.then_some(opened))?;
    }
    if passed > 1 {
        let more = passed - 1;
        writeln!(
            out,
            r#"<p class="aside">{more} more {} passed (not shown)</p>"#,
            if more == 1 { "run" } else { "runs" }
        )?;
    }
    if test.not_run > 0 {
        writeln!(
            out,
            r#"<p class="aside">{} run(s) {}</p>"#,
            test.not_run,
            esc(NOT_RUN)
        )?;
    }
    writeln!(out, "</div>")?;
    writeln!(out, "</details>")
}

/// One run; in a `<details>` of its own (open or not) when the test ran
/// more than once.
fn run_section(
    out: &mut String,
    results: &Results,
    spec: &TestSpec,
    run: &TestRun,
    folded: Option<bool>,
) -> fmt::Result {
    let status = run.verdict.status;
    let took = text::duration(run.record.duration.as_secs_f64());
    match folded {
        Some(open) => {
            writeln!(
                out,
                r#"<details class="run" data-run="{}" data-status="{}"{}>"#,
                run.run,
                status.name(),
                if open { r#" open="""# } else { "" }
            )?;
            writeln!(
                out,
                "<summary>{} run {} of {}, seed {}, {took}</summary>",
                tag(status.into()),
                run.run,
                results.repeat,
                run.run_seed
            )?;
        }
        None => writeln!(
            out,
            r#"<div class="run" data-run="{}" data-status="{}">"#,
            run.run,
            status.name()
        )?,
    }
    writeln!(out, r#"<dl class="facts">"#)?;
    writeln!(out, "<dt>seed</dt><dd>{}</dd>", run.run_seed)?;
    writeln!(out, "<dt>took</dt><dd>{took}</dd>")?;
    writeln!(
        out,
        r#"<dt>replay</dt><dd><code>{}</code> <span class="aside">{}</span></dd>"#,
        esc(&run.replay),
        esc(REPLAY_NOTE)
    )?;
    if !run.files.is_empty() {
        let files: Vec<String> = (run.files.iter())
            .map(|(path, what)| format!("<code>{}</code> ({})", esc(path), esc(what)))
            .collect();
        writeln!(out, "<dt>files</dt><dd>{}</dd>", files.join(", "))?;
    }
    writeln!(out, "</dl>")?;
    if status == Status::Passed {
        writeln!(out, r#"<details class="folded">"#)?;
        writeln!(
            out,
            "<summary>the sequence diagram, what the programs printed, the timeline ({} datagrams)</summary>",
            run.record.datagrams.len() + run.record.unkept()
        )?;
        picture(out, run)?;
        transcripts(out, spec, run)?;
        timeline(out, &run.record)?;
        writeln!(out, "</details>")?;
    } else {
        writeln!(out, "<h4>What went wrong</h4>")?;
        failures(out, &run.record, &run.verdict.checks)?;
        if let Some(h) = &spec.hint {
            writeln!(
                out,
                r#"<p class="hint"><span class="hint-label">hint</span>{}</p>"#,
                esc(h.trim())
            )?;
        }
        picture(out, run)?;
        transcripts(out, spec, run)?;
        timeline(out, &run.record)?;
    }
    writeln!(
        out,
        "{}",
        if folded.is_some() {
            "</details>"
        } else {
            "</div>"
        }
    )
}

/// The failed checks of a run, alike ones (the same kind, the same node,
/// in a row) collapsed after [`text::SHOWN_ALIKE`], as the terminal does.
fn failures(out: &mut String, record: &Record, checks: &[Check]) -> fmt::Result {
    if checks.iter().all(|c| c.failure.is_none()) {
        return writeln!(
            out,
            r#"<p class="aside">no check failed: a fault the test needs never happened, so the run proves nothing either way</p>"#
        );
    }
    for (shown, total) in text::alike_failures(checks) {
        for &(c, f) in &shown {
            failure(out, record, c, f)?;
        }
        if total > shown.len() {
            writeln!(
                out,
                r#"<p class="more-alike">... and {} more like it</p>"#,
                total - shown.len()
            )?;
        }
    }
    Ok(())
}

/// One failure: what went wrong, where, and what was expected beside what
/// happened.
fn failure(out: &mut String, record: &Record, c: &Check, f: &Failure) -> fmt::Result {
    writeln!(out, r#"<div class="problem">"#)?;
    let who = c
        .node
        .as_deref()
        .map_or(String::new(), |n| format!("{n} · "));
    writeln!(
        out,
        r#"<p class="problem-what"><span class="problem-kind">{}{}</span>{}</p>"#,
        esc(&who),
        esc(c.kind.name()),
        esc(&clip(&f.summary))
    )?;
    if let Some(place) = f.place.and_then(|p| place(record, c, p)) {
        writeln!(out, r#"<p class="problem-where">{}</p>"#, esc(&place))?;
    }
    let sides: Vec<(&str, &String)> = [("expected", &f.expected), ("actual", &f.actual)]
        .into_iter()
        .filter_map(|(label, text)| text.as_ref().map(|t| (label, t)))
        .collect();
    if !sides.is_empty() {
        writeln!(
            out,
            r#"<div class="sides{}">"#,
            if sides.len() == 1 { " single" } else { "" }
        )?;
        for (label, text) in sides {
            let body = if text.is_empty() {
                r#"<span class="aside">(empty line)</span>"#.to_string()
            } else {
                let lines: Vec<&str> = text.split('\n').collect();
                bounded(&lines, text::FAILURE_LINES, |l| esc(&clip(l)))
            };
            writeln!(
                out,
                r#"<div class="side-{label}"><h5>{label}</h5><pre>{body}</pre></div>"#
            )?;
        }
        writeln!(out, "</div>")?;
    }
    if !f.notes.is_empty() {
        writeln!(out, r#"<ul class="problem-notes">"#)?;
        for n in &f.notes {
            writeln!(out, "<li>{}</li>", esc(&clip(n)))?;
        }
        writeln!(out, "</ul>")?;
    }
    writeln!(out, "</div>")
}

/// Where a failure happened, in words.
fn place(record: &Record, c: &Check, place: Place) -> Option<String> {
    Some(match place {
        Place::Line { stream, line } => match &c.node {
            Some(n) => format!("at line {line} of {n}'s {stream}"),
            None => format!("at line {line} of {stream}"),
        },
        Place::Time(at) => format!("at {} ms", at.as_millis()),
        Place::Datagram(i) => {
            let d = record.datagrams.get(i)?;
            // Numbered as the diagram numbers it, by its index in the record.
            format!(
                "datagram #{i} at {} ms: {}",
                d.sent.as_millis(),
                text::datagram(record, d)
            )
        }
        Place::Step(i) => format!("at step {} of the test", i + 1),
    })
}

/// The run's sequence diagram, inline; its failed checks drawn where they
/// happened.
fn picture(out: &mut String, run: &TestRun) -> fmt::Result {
    writeln!(out, "<h4>Sequence diagram</h4>")?;
    writeln!(out, r#"<div class="picture">"#)?;
    out.push_str(diagram::svg(&run.record, Some(&run.verdict)).trim_end());
    writeln!(out, "\n</div>")
}

/// What each program printed, each stream beside what the spec expects of
/// it (when it expects something), the lines where a check failed marked.
fn transcripts(out: &mut String, spec: &TestSpec, run: &TestRun) -> fmt::Result {
    let record = &run.record;
    // The lines at which a check failed: node, stream, line from 1.
    let marked: BTreeSet<(usize, Stream, usize)> = (run.verdict.failures())
        .filter_map(|c| {
            let node = record.node_index(c.node.as_deref()?)?;
            match c.failure.as_ref()?.place? {
                Place::Line { stream, line } => Some((node, stream, line)),
                _ => None,
            }
        })
        .collect();
    writeln!(out, "<h4>What the programs printed</h4>")?;
    let mut any = false;
    for (i, node) in record.nodes.iter().enumerate() {
        let expect = spec.expect.get(&node.name);
        let streams: Vec<(Stream, Option<Wanted>)> = [Stream::Stdout, Stream::Stderr]
            .into_iter()
            .map(|stream| (stream, wanted(expect, stream)))
            .filter(|(stream, w)| w.is_some() || !node.lines(*stream).is_empty())
            .collect();
        let command = record.command_of(i);
        if streams.is_empty() && command.is_none() {
            continue;
        }
        any = true;
        writeln!(
            out,
            r#"<div class="program" data-node="{}">"#,
            esc(&node.name)
        )?;
        write!(
            out,
            r#"<h5><span class="program-name">{}</span>"#,
            esc(&node.name)
        )?;
        if let Some(c) = command {
            write!(out, " ran <code>{}</code>", esc(&c.join(" ")))?;
        }
        writeln!(out, "</h5>")?;
        let vars = crate::judge::transcript_vars(record, i);
        for (stream, wanted) in streams {
            let lines = node.lines(stream);
            let actual = format!(
                r#"<div class="side-printed"><h5>printed on {stream} ({})</h5><pre>{}</pre></div>"#,
                lines_of(lines.len()),
                printed(lines, |line| marked.contains(&(i, stream, line)))
            );
            match wanted {
                None => writeln!(out, r#"<div class="sides single">{actual}</div>"#)?,
                Some((how, items)) => {
                    writeln!(out, r#"<div class="sides">"#)?;
                    writeln!(
                        out,
                        r#"<div class="side-expected"><h5>expected on {stream}, {how}</h5><pre>{}</pre><p class="aside">* is any text; {{name}} a word the program chose</p></div>"#,
                        expected(items, &vars)
                    )?;
                    writeln!(out, "{actual}")?;
                    writeln!(out, "</div>")?;
                }
            }
        }
        writeln!(out, "</div>")?;
    }
    if !any {
        writeln!(out, r#"<p class="aside">no program ran</p>"#)?;
    }
    Ok(())
}

/// What the spec expects of one stream: how it is matched, and the
/// transcript.
type Wanted<'a> = (&'static str, &'a [Item]);

/// What `expect` wants of a program's `stream`, if anything: its whole
/// stdout, or lines it must include.
fn wanted(expect: Option<&NodeExpect>, stream: Stream) -> Option<Wanted<'_>> {
    let e = expect?;
    let (how, items) = match stream {
        Stream::Stdout => match (&e.stdout, &e.stdout_includes) {
            (Some(all), _) => ("line by line", all),
            (None, Some(some)) => ("in order, among others", some),
            (None, None) => return None,
        },
        Stream::Stderr => ("in order, among others", e.stderr_includes.as_ref()?),
    };
    Some((how, items.as_slice()))
}

/// The lines a program printed, numbered, each with the time the grader
/// read it on hover; those `marked` (by number, from 1) highlighted, and
/// a marked line past the last one shown as the end of the output.
fn printed(lines: &[Line], marked: impl Fn(usize) -> bool) -> String {
    let mut rows: Vec<String> = (lines.iter().enumerate())
        .map(|(k, l)| {
            let row = format!(
                r#"<span title="read at {} ms"><span class="num">{:>3}</span>  {}</span>"#,
                l.at.as_millis(),
                k + 1,
                esc(&clip(&l.text))
            );
            if marked(k + 1) {
                format!("<mark>{row}</mark>")
            } else {
                row
            }
        })
        .collect();
    // A check that wanted a line after the last one.
    if marked(lines.len() + 1) {
        rows.push(format!(
            r#"<mark><span class="num">{:>3}</span>  (end of output)</mark>"#,
            lines.len() + 1
        ));
    }
    if rows.is_empty() {
        rows.push(r#"<span class="aside">(nothing)</span>"#.to_string());
    }
    bounded(&rows, LINES, String::clone)
}

/// One row of an expected transcript as the page shows it.
enum Row {
    /// A line pattern, its grader-bound names filled in.
    Line(String),
    /// A remark on the lines after it (`in any order:`).
    Remark(String),
}

/// An expected transcript: its patterns with the names the grader binds
/// filled in and `{#}` counted, as the terminal shows an expected line;
/// `repeat` blocks written out; at most [`LINES`] lines, numbered.
fn expected(items: &[Item], vars: &Vars) -> String {
    let mut rows = Vec::new();
    walk(items, vars, 0, &mut rows);
    let total = count(items);
    let mut number = 0;
    let mut out: Vec<String> = rows
        .iter()
        .map(|r| match r {
            Row::Line(l) => {
                number += 1;
                format!(
                    r#"<span class="num">{number:>3}</span>  {}"#,
                    if l.is_empty() {
                        r#"<span class="aside">(empty line)</span>"#.to_string()
                    } else {
                        esc(&clip(l))
                    }
                )
            }
            Row::Remark(r) => format!(r#"<span class="aside">     {}</span>"#, esc(r)),
        })
        .collect();
    if total > number {
        out.push(format!(
            r#"<span class="aside">... and {} more lines</span>"#,
            total - number
        ));
    }
    out.join("\n")
}

/// Writes out `items` into `rows`, `{#}` standing for `index`, until
/// [`LINES`] lines are written.
fn walk(items: &[Item], vars: &Vars, index: usize, rows: &mut Vec<Row>) {
    let full = |rows: &Vec<Row>| rows.iter().filter(|r| matches!(r, Row::Line(_))).count() >= LINES;
    let line = |p: &str| match pattern::parse(p) {
        Ok(tokens) => pattern::render(&tokens, vars, index),
        Err(_) => p.to_string(),
    };
    for item in items {
        if full(rows) {
            return;
        }
        match item {
            Item::Line(p) => rows.push(Row::Line(line(p))),
            Item::Repeat { times, lines } => {
                for k in 0..*times {
                    if full(rows) {
                        return;
                    }
                    walk(lines, vars, k, rows);
                }
            }
            Item::Unordered(ps) => {
                rows.push(Row::Remark(format!("the next {} in any order:", ps.len())));
                for p in ps.iter().take(LINES) {
                    rows.push(Row::Line(line(p)));
                }
            }
        }
    }
}

/// How many lines a transcript expects, its `repeat` blocks written out.
fn count(items: &[Item]) -> usize {
    items
        .iter()
        .map(|i| match i {
            Item::Line(_) => 1,
            Item::Repeat { times, lines } => times.saturating_mul(count(lines)),
            Item::Unordered(ps) => ps.len(),
        })
        .fold(0, usize::saturating_add)
}

/// The timeline of `-v`, as the terminal prints it.
fn timeline(out: &mut String, record: &Record) -> fmt::Result {
    let mut lines = text::timeline_block(record).into_iter();
    // `timeline (4 datagrams):` as a heading: `Timeline (4 datagrams)`.
    let head = lines.next().map(|l| l.plain()).unwrap_or_default();
    let head = head.trim().trim_end_matches(':');
    let mut chars = head.chars();
    let head: String = (chars.next().map(|c| c.to_ascii_uppercase()).into_iter())
        .chain(chars)
        .collect();
    writeln!(out, "<h4>{}</h4>", esc(&head))?;
    let rows: Vec<String> = lines
        .map(|l| esc(&text::Line { indent: 0, ..l }.plain()))
        .collect();
    writeln!(out, r#"<pre class="timeline">{}</pre>"#, rows.join("\n"))
}

/// At most `max` of `rows`, each made HTML by `html`, one per line; the
/// last saying how many more there were when there were more.
fn bounded<T>(rows: &[T], max: usize, html: impl Fn(&T) -> String) -> String {
    let mut out: Vec<String> = rows.iter().take(max).map(html).collect();
    if rows.len() > max {
        out.push(format!(
            r#"<span class="aside">... and {} more lines</span>"#,
            rows.len() - max
        ));
    }
    out.join("\n")
}

/// `1 line`, `2 lines`.
fn lines_of(n: usize) -> String {
    if n == 1 {
        "1 line".into()
    } else {
        format!("{n} lines")
    }
}

/// `line` cut to [`text::WIDTH`] characters, saying how many more there were.
fn clip(line: &str) -> String {
    match line.char_indices().nth(text::WIDTH) {
        None => line.to_string(),
        Some((end, _)) => format!(
            "{} ... ({} more characters)",
            &line[..end],
            line[end..].chars().count()
        ),
    }
}

/// `line` cut to `max` characters, for a one-line summary.
fn cut(line: &str, max: usize) -> String {
    match line.char_indices().nth(max) {
        None => line.to_string(),
        Some((end, _)) => format!("{}…", &line[..end]),
    }
}

/// `text` for the page, in an element or an attribute: control characters
/// made [visible](text::visible) (a newline too: text of several lines is
/// escaped line by line), then escaped as XML ([`super::xml_text`]).
fn esc(text: &str) -> String {
    super::xml_text(&text::visible(text))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use handout::{Message, MsgType};

    use super::*;
    use crate::judge::Kind;
    use crate::kit::Source;
    use crate::run::record::{Datagram, Event, Fate, Line, NodeRecord, What};
    use crate::spec::LabSpec;

    const HOSTILE: &str = "<script>alert(1)</script>";

    /// A lab of three tests: `echo` (client and server, a transcript),
    /// `quiet` and `loud`.
    fn spec() -> LabSpec {
        LabSpec::parse(
            std::path::Path::new("spec.yaml"),
            r#"lab: hw1
title: UDP echo
binaries: [server, client]
tests:
  - name: echo
    description: the client sends a READ_REQ and prints the reply
    points: 2
    hint: "answer with READ_REP & the same key, \"quoted\" <bold>"
    nodes:
      - { name: server, run: server, args: ["{port}"] }
      - { name: client, run: client, args: ["{peer:server}"] }
    steps: [{ start: server }, { start: client }, { wait_exit: client }]
    expect:
      client:
        stdout:
          - repeat: 2
            lines: ["Request ID: {#}", "Type: READ_REP Key: {key} Value: *"]
  - name: quiet
    description: nothing happens
    points: 1
    nodes: [{ name: server, run: server }]
    steps: [{ start: server }]
  - name: loud
    description: something else happens
    points: 3
    nodes: [{ name: server, run: server }]
    steps: [{ start: server }]
"#,
        )
        .unwrap()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn line(at: u64, text: &str) -> Line {
        Line {
            at: ms(at),
            text: text.into(),
        }
    }

    /// A client and a server: a request dropped, sent again and answered;
    /// the client printing a hostile line.
    fn record() -> Record {
        let message = |kind, key: &str| Message::new(kind, key, "v").unwrap().encode();
        let datagram = |at: u64, from: usize, kind, fate: Fate| Datagram {
            sent: ms(at),
            from,
            to: 1 - from,
            bytes: message(kind, "k"),
            fate,
            delays: vec![Duration::ZERO; fate.copies()],
            delivered: vec![ms(at + 1); fate.copies()],
            rule: (fate == Fate::Dropped).then_some(0),
        };
        let mut server = NodeRecord::new("server");
        server.port = Some(40_000);
        server.faces = vec![0, 40_001];
        let mut client = NodeRecord::new("client");
        client.faces = vec![40_002, 0];
        client.stdout = vec![line(30, "Request ID: 0"), line(31, HOSTILE)];
        client.stderr = vec![line(32, "warning: it's \"late\" & slow")];
        let datagrams = vec![
            datagram(10, 1, MsgType::ReadReq, Fate::Dropped),
            datagram(20, 1, MsgType::ReadReq, Fate::Delivered),
            datagram(21, 0, MsgType::ReadRep, Fate::Duplicated),
        ];
        let started = |at, node: usize, command: &str| Event {
            at: ms(at),
            node: Some(node),
            what: What::Started {
                command: vec![command.into()],
                pid: 100 + node as i32,
            },
        };
        Record {
            test: "echo".into(),
            seed: 7,
            duration: ms(115),
            events: vec![started(0, 0, "./server"), started(5, 1, "./client")],
            ..Record::of(vec![server, client], datagrams)
        }
    }

    fn run(n: u64, status: Status) -> TestRun {
        let checks = match status {
            Status::Passed => vec![],
            _ => vec![Check {
                kind: Kind::STDOUT,
                node: Some("client".into()),
                failure: Some(Failure {
                    expected: Some("Type: READ_REP Key: {key} Value: *".into()),
                    actual: Some(HOSTILE.into()),
                    place: Some(Place::Line {
                        stream: Stream::Stdout,
                        line: 2,
                    }),
                    notes: vec![format!("note: {HOSTILE}")],
                    ..Failure::new(format!("client stdout differs at line 2: {HOSTILE}"))
                }),
            }],
        };
        TestRun {
            run: n,
            run_seed: 100 + n,
            record: record(),
            verdict: crate::judge::Verdict {
                status,
                checks,
                holes: vec![],
            },
            replay: format!("grader hw1 -t echo --seed {}", 100 + n),
            files: vec![(format!("target/grader/hw1/echo-{n}.pcap"), "capture")],
        }
    }

    /// `echo` with runs of these statuses, `quiet` passing `quiet` times,
    /// `loud` failing once.
    fn results(echo: &[Status], quiet: usize) -> Results {
        let spec = spec();
        let test = |i: usize, runs: Vec<TestRun>| TestResult {
            spec: spec.tests[i].clone(),
            runs,
            not_run: 0,
        };
        let numbered = |statuses: &[Status]| -> Vec<TestRun> {
            (statuses.iter().enumerate())
                .map(|(k, &s)| run(k as u64 + 1, s))
                .collect()
        };
        Results {
            seed: 101,
            repeat: echo.len().max(quiet) as u64,
            source: Source::Solution,
            labs: vec![LabResult {
                id: "hw1".into(),
                title: "UDP echo".into(),
                graded: "labs/hw1-udp-echo".into(),
                build_error: None,
                tests: vec![
                    test(0, numbered(echo)),
                    test(1, numbered(&vec![Status::Passed; quiet])),
                    test(2, numbered(&[Status::Failed])),
                ],
            }],
            duration: ms(1234),
        }
    }

    fn parse(page: &str) -> roxmltree::Document<'_> {
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        };
        roxmltree::Document::parse_with_options(page, options)
            .unwrap_or_else(|e| panic!("the page is not well-formed: {e}"))
    }

    fn class_is(n: &roxmltree::Node, class: &str) -> bool {
        n.attribute("class")
            .is_some_and(|c| c.split(' ').any(|x| x == class))
    }

    #[test]
    fn the_page_is_well_formed_and_self_contained() {
        let page = render(&results(&[Status::Failed], 1));
        let doc = parse(&page);
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "html");
        let names: BTreeSet<&str> = root.descendants().map(|n| n.tag_name().name()).collect();
        for absent in ["script", "link", "img", "iframe", "object"] {
            assert!(!names.contains(absent), "a <{absent}> in the page");
        }
        // Links only within the page, each to a test: nothing to fetch.
        let ids: BTreeSet<&str> = root
            .descendants()
            .filter_map(|n| n.attribute("id"))
            .collect();
        for n in root.descendants() {
            for a in n.attributes() {
                if matches!(a.name(), "href" | "src") {
                    let target = a.value().strip_prefix('#');
                    assert!(
                        target.is_some_and(|t| ids.contains(t)),
                        "{}={}",
                        a.name(),
                        a.value()
                    );
                }
            }
        }
        assert!(names.contains("svg") && names.contains("details"));
    }

    #[test]
    fn failing_tests_come_first_and_open_passing_ones_closed() {
        let page = render(&results(&[Status::Passed], 1));
        let doc = parse(&page);
        let tests: Vec<(&str, bool)> = (doc.descendants())
            .filter(|n| n.has_tag_name("details") && class_is(n, "test"))
            .map(|n| {
                (
                    n.attribute("data-test").unwrap(),
                    n.attribute("open").is_some(),
                )
            })
            .collect();
        assert_eq!(
            tests,
            [("loud", true), ("echo", false), ("quiet", false)],
            "failing first, open; then the passing ones in spec order, closed"
        );
        let index = page.find(r##"href="#hw1-loud""##).unwrap();
        assert!(index < page.find(r##"href="#hw1-echo""##).unwrap());
        assert!(page.contains(r#"<p class="total">score 3/6</p>"#), "{page}");
    }

    #[test]
    fn program_output_is_escaped_everywhere() {
        let page = render(&results(&[Status::Failed], 1));
        assert!(!page.contains(HOSTILE), "a raw hostile line");
        assert!(!page.contains("<bold>"), "a raw hint");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("it&#39;s &quot;late&quot; &amp; slow"));
        assert!(page.contains("READ_REP &amp; the same key, &quot;quoted&quot; &lt;bold&gt;"));
        assert_eq!(
            esc("a\u{1b}[31m\u{fffe}\n"),
            "a\\u{1b}[31m\\u{fffe}\\u{a}",
            "control characters spelt out"
        );
        // The hostile line as text, in the failure and in the transcript.
        let doc = parse(&page);
        let texts = doc
            .descendants()
            .filter(|n| n.is_text() && n.text().is_some_and(|t| t.contains(HOSTILE)))
            .count();
        assert!(texts >= 3, "{texts}");
    }

    #[test]
    fn each_shown_run_embeds_its_diagram_once() {
        // echo: failed, passed, passed, void, failed; quiet: 3 passed.
        use Status::*;
        let results = results(&[Failed, Passed, Passed, Void, Failed], 3);
        let page = render(&results);
        let doc = parse(&page);
        let runs: Vec<(&str, &str, usize, bool)> = (doc.descendants())
            .filter(|n| class_is(n, "run"))
            .map(|run| {
                let test = run.ancestors().find(|a| class_is(a, "test")).unwrap();
                let svgs: Vec<_> = run
                    .descendants()
                    .filter(|d| d.has_tag_name("svg"))
                    .collect();
                // A passing run folds its diagram away.
                let folded = svgs.iter().all(|s| {
                    s.ancestors()
                        .any(|a| class_is(&a, "folded") && a.attribute("open").is_none())
                });
                (
                    test.attribute("data-test").unwrap(),
                    run.attribute("data-run").unwrap(),
                    svgs.len(),
                    folded,
                )
            })
            .collect();
        assert_eq!(
            runs,
            [
                ("echo", "1", 1, false),
                ("echo", "2", 1, true),
                ("echo", "4", 1, false),
                ("echo", "5", 1, false),
                ("loud", "1", 1, false),
                ("quiet", "1", 1, true),
            ],
            "every run that did not pass, the first that did; failing tests in spec order"
        );
        assert_eq!(page.matches("<svg").count(), runs.len());
        assert!(page.contains("1 more run passed (not shown)"));
        assert!(page.contains("2 more runs passed (not shown)"));
        // Only the first run that did not pass is open.
        let open: Vec<&str> = (doc.descendants())
            .filter(|n| {
                n.has_tag_name("details") && class_is(n, "run") && n.attribute("open").is_some()
            })
            .map(|n| n.attribute("data-run").unwrap())
            .collect();
        assert_eq!(open, ["1"]);
    }

    #[test]
    fn a_failing_run_shows_the_expected_beside_the_actual() {
        let page = render(&results(&[Status::Failed], 1));
        // The failure's two sides, and the transcript the spec expects
        // ({#} counted, the grader's names filled in) beside the output.
        assert!(page.contains(r#"<div class="side-expected"><h5>expected</h5><pre>Type: READ_REP Key: {key} Value: *</pre></div>"#), "{page}");
        assert!(
            page.contains(r#"<span class="num">  3</span>  Request ID: 1"#),
            "{page}"
        );
        assert!(page.contains("<h5>printed on stdout (2 lines)</h5>"));
        assert!(page.contains("<h5>printed on stderr (1 line)</h5>"));
        assert!(
            page.contains("<mark><span title=\"read at 31 ms\">"),
            "the failing line marked"
        );
        assert!(page.contains("at line 2 of client&#39;s stdout"));
        assert!(page.contains("grader hw1 -t echo --seed 101"));
        assert!(page.contains("<span class=\"hint-label\">hint</span>"));
        assert!(
            page.contains("client -&gt; server  17 bytes"),
            "the timeline: {page}"
        );
    }

    #[test]
    fn a_lab_that_does_not_build_shows_the_compiler() {
        let mut r = results(&[Status::Failed], 1);
        let lab = &mut r.labs[0];
        lab.build_error = Some("error[E0425]: cannot find value `x`\n  --> src/main.rs:3:5".into());
        for t in &mut lab.tests {
            t.runs.clear();
        }
        let page = render(&r);
        parse(&page);
        assert!(page.contains("<pre class=\"compiler\">error[E0425]: cannot find value `x`\n  --&gt; src/main.rs:3:5</pre>"));
        assert_eq!(page.matches("<svg").count(), 0);
        assert_eq!(page.matches(r#"data-status="failed" open="""#).count(), 3);
    }

    #[test]
    fn a_flood_keeps_the_page_small() {
        let mut r = results(&[Status::Failed], 1);
        let run = &mut r.labs[0].tests[0].runs[0];
        let record = &mut run.record;
        let request = record.datagrams[1].clone();
        record.datagrams = (0..20_000u64)
            .map(|i| Datagram {
                sent: Duration::from_micros(20_000 + i * 10),
                ..request.clone()
            })
            .collect();
        record.traffic = crate::run::record::Traffic::of(2, &record.datagrams);
        record.nodes[1].stdout = (0..50_000)
            .map(|i| line(40, &format!("line {i}")))
            .collect();
        let f = run.verdict.checks[0].failure.as_mut().unwrap();
        f.actual = Some("x".repeat(1_000_000));
        f.expected = Some(vec!["e"; 10_000].join("\n"));
        let page = render(&r);
        parse(&page);
        assert!(page.len() < 1_500_000, "{} bytes", page.len());
        assert!(page.contains("... and 49800 more lines"));
        assert!(page.contains(&format!(
            "... ({} more characters)",
            1_000_000 - text::WIDTH
        )));
    }

    #[test]
    fn the_same_results_give_the_same_page() {
        let r = results(&[Status::Failed, Status::Passed], 2);
        assert_eq!(render(&r), render(&r));
    }
}
