//! JUnit XML, the format CI systems (GitLab, Jenkins, GitHub's test
//! reporters) read: one `<testsuite>` per lab, one `<testcase>` per test.
//!
//! A failed test has a `<failure>` whose text is the human report's detail
//! for its first failing run; a void one has an `<error type="void">` (it
//! could not be judged); one that `--fail-fast` did not run, `<skipped>`. Every test carries the output its programs
//! printed in `<system-out>`, the last lines of each stream.
//!
//! The XML is written by hand: it is small, and escaping is the only
//! subtle part. Program output may hold any byte; characters XML 1.0
//! cannot carry are written as `\u{..}`.

use std::fmt::Write;

use super::text;
use super::{LabResult, NOT_RUN, Results, TestResult, TestStatus};
use crate::judge::Status;
use crate::spec::Stream;

/// How many lines of each stream of each program `<system-out>` keeps.
const OUTPUT_LINES: usize = 100;

/// The JUnit XML report of `results`.
pub fn render(results: &Results) -> String {
    let runs = results.tally();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"grader\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        runs.passed + runs.failed + runs.void + runs.not_run,
        runs.failed,
        runs.void,
        runs.not_run,
        results.duration.as_secs_f64()
    );
    for lab in &results.labs {
        suite(&mut x, results, lab);
    }
    x.push_str("</testsuites>\n");
    x
}

fn suite(x: &mut String, results: &Results, lab: &LabResult) {
    let t = lab.tally();
    let time: f64 = lab.tests.iter().map(|t| t.duration().as_secs_f64()).sum();
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{time:.3}\">",
        attr(&lab.id),
        lab.tests.len(),
        t.failed,
        t.void,
        t.not_run
    );
    x.push_str("    <properties>\n");
    for (name, value) in [
        ("title", lab.title.clone()),
        ("graded", lab.graded.clone()),
        ("seed", results.seed.to_string()),
        ("repeat", results.repeat.to_string()),
        ("score", format!("{}/{}", t.score, t.max_score)),
    ] {
        let _ = writeln!(
            x,
            "      <property name=\"{name}\" value=\"{}\"/>",
            attr(&value)
        );
    }
    x.push_str("    </properties>\n");
    for test in &lab.tests {
        case(x, lab, test);
    }
    x.push_str("  </testsuite>\n");
}

fn case(x: &mut String, lab: &LabResult, test: &TestResult) {
    let spec = &test.spec;
    let _ = writeln!(
        x,
        "    <testcase name=\"{}\" classname=\"{}.{}\" time=\"{:.3}\">",
        attr(&spec.name),
        attr(&lab.id),
        spec.part.name(),
        test.duration().as_secs_f64()
    );
    match (test.status(), &lab.build_error) {
        (_, Some(compiler)) => {
            let _ = writeln!(
                x,
                "      <failure message=\"{} does not build\" type=\"build\">{}</failure>",
                attr(&lab.graded),
                body(compiler)
            );
        }
        (TestStatus::Passed, None) => {}
        (TestStatus::NotRun, None) => {
            let _ = writeln!(x, "      <skipped message=\"{}\"/>", attr(NOT_RUN));
        }
        (status, None) => {
            let run = test.shown().expect("a judged test has a run");
            let first = run
                .verdict
                .failures()
                .next()
                .and_then(|c| {
                    c.failure
                        .as_ref()
                        .map(|f| (c.kind.name(), f.summary.as_str()))
                })
                .unwrap_or(("failed", "the test failed"));
            let failing: Vec<String> = test
                .runs
                .iter()
                .filter(|r| r.verdict.status != Status::Passed)
                .map(|r| {
                    format!(
                        "run {} (seed {}): {}",
                        r.run,
                        r.run_seed,
                        r.verdict.status.name()
                    )
                })
                .collect();
            let mut detail = String::new();
            if test.runs.len() > 1 {
                detail.push_str(&failing.join("\n"));
                detail.push_str("\nthe first of them:\n");
            }
            detail.push_str(&text::plain(&text::details(spec, run, true)));
            let element = if status == TestStatus::Void {
                "error"
            } else {
                "failure"
            };
            let kind = if status == TestStatus::Void {
                "void"
            } else {
                first.0
            };
            let _ = writeln!(
                x,
                "      <{element} message=\"{}\" type=\"{kind}\">{}</{element}>",
                attr(first.1),
                body(&detail)
            );
        }
    }
    if let Some(run) = test.shown() {
        let mut out = String::new();
        for node in &run.record.nodes {
            for stream in [Stream::Stdout, Stream::Stderr] {
                let lines = node.lines(stream);
                if lines.is_empty() {
                    continue;
                }
                let skip = lines.len().saturating_sub(OUTPUT_LINES);
                let _ = writeln!(
                    out,
                    "--- {} {stream}{} ---",
                    node.name,
                    if skip > 0 {
                        format!(" (last {OUTPUT_LINES} of {} lines)", lines.len())
                    } else {
                        String::new()
                    }
                );
                for l in &lines[skip..] {
                    let _ = writeln!(out, "{}", l.text);
                }
            }
        }
        if !out.is_empty() {
            let _ = writeln!(x, "      <system-out>{}</system-out>", body(&out));
        }
    }
    x.push_str("    </testcase>\n");
}

/// Text for an attribute value.
fn attr(s: &str) -> String {
    escape(s, true)
}

/// Text for element content.
fn body(s: &str) -> String {
    escape(s, false)
}

fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            // A parser turns these into spaces in an attribute, and a
            // carriage return into a newline anywhere: keep them as written.
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
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

    #[test]
    fn text_is_escaped_and_control_characters_spelt_out() {
        assert_eq!(
            attr("a<b & \"c\"\nd\te"),
            "a&lt;b &amp; &quot;c&quot;&#10;d&#9;e"
        );
        assert_eq!(body("x\u{1}y\tz\r\n"), "x\\u{1}y\tz&#13;\n");
    }
}
