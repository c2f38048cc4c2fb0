//! `expect`, node by node: the exit status, the transcripts, numbers a
//! program printed, and output the same as another program's.

use super::transcript;
use super::{Check, Failure, Kind, Place, fail, pass};
use nix::sys::signal::Signal;

use super::process::seconds;
use crate::run::record::{Ended, Record, What};
use crate::spec::pattern;
use crate::spec::{ExitExpect, NodeExpect, NumberCheck, Stream, expr};

/// One program's `expect`.
pub(super) fn expect(record: &Record, i: usize, e: &NodeExpect) -> Vec<Check> {
    let node = &record.nodes[i];
    let name = node.name.as_str();
    let mut out = Vec::new();
    if !record.started(i) {
        out.push(fail(
            Kind::EXIT,
            Some(name),
            Failure::new(format!(
                "{name} was never started: the test ended before its `start` step, so its checks cannot pass"
            )),
        ));
        return out;
    }
    if let Some(want) = e.exit {
        out.push(exit_check(record, i, want));
    }
    let vars = transcript_vars(record, i);
    let transcripts = [
        (&e.stdout, Stream::Stdout, true, Kind::STDOUT),
        (
            &e.stdout_includes,
            Stream::Stdout,
            false,
            Kind::STDOUT_INCLUDES,
        ),
        (
            &e.stderr_includes,
            Stream::Stderr,
            false,
            Kind::STDERR_INCLUDES,
        ),
    ];
    for (items, stream, exact, kind) in transcripts {
        if let Some(items) = items {
            out.push(transcript_check(
                record,
                i,
                &vars,
                items,
                (stream, exact, kind),
            ));
        }
    }
    for number in &e.numbers {
        out.push(number_check(record, i, number));
    }
    if let Some(other) = &e.stdout_same_as {
        out.push(match record.node_index(other) {
            Some(j) => same_stdout(record, i, j),
            None => fail(
                Kind::STDOUT_SAME_AS,
                Some(name),
                Failure::new(format!(
                    "the test has no node `{other}` to compare {name}'s stdout with"
                )),
            ),
        });
    }
    out
}

/// `exit`: how the program ended, against what the spec wants.
fn exit_check(record: &Record, i: usize, want: ExitExpect) -> Check {
    let name = record.nodes[i].name.as_str();
    let killed_at_end = record
        .events
        .iter()
        .any(|ev| ev.node == Some(i) && matches!(ev.what, What::KilledAtEnd));
    match record.exit_of(i) {
        _ if killed_at_end => fail(
            Kind::EXIT,
            Some(name),
            Failure::new(format!(
                "{name} was still running at the end of the test; expected {want}"
            )),
        ),
        Some((at, status)) if !exit_ok(want, status) => fail(
            Kind::EXIT,
            Some(name),
            exit_failure(record, i, want, status)
                .showing(i, &[Stream::Stderr])
                .at(Place::Time(at)),
        ),
        Some(_) => pass(Kind::EXIT, Some(name)),
        None => fail(
            Kind::EXIT,
            Some(name),
            Failure::new(format!("{name} did not exit; expected {want}")),
        ),
    }
}

/// One transcript of a program (`stdout`, `stdout_includes`,
/// `stderr_includes`): its stream, whether it must match exactly, and the
/// kind of check it is.
fn transcript_check(
    record: &Record,
    i: usize,
    vars: &transcript::Vars,
    items: &[transcript::Item],
    (stream, exact, kind): (Stream, bool, Kind),
) -> Check {
    let name = record.nodes[i].name.as_str();
    let lines = record.nodes[i].texts(stream);
    let r = if exact {
        transcript::match_exact(items, &lines, vars)
    } else {
        transcript::match_includes(items, &lines, vars)
    };
    let m = match r {
        Ok(()) => return pass(kind, Some(name)),
        Err(m) => m,
    };
    let what = if exact {
        ""
    } else {
        " (lines that must appear)"
    };
    let mut notes: Vec<String> = (m.note.iter())
        .flat_map(|n| n.lines())
        .map(str::to_string)
        .collect();
    if !exact && let Some((k, near)) = closest(&m.expected, &lines) {
        notes.push(format!(
            "the closest line {name} printed is line {}: `{near}`",
            k + 1
        ));
    }
    fail(
        kind,
        Some(name),
        Failure {
            expected: Some(m.expected.clone()),
            actual: Some(m.actual.clone()),
            notes,
            ..Failure::new(format!("{name} {stream}{what} differs at line {}", m.line))
        }
        .at(Place::Line {
            stream,
            line: m.line,
        }),
    )
}

/// The printed line nearest to a missing one (a typo, a word changed), if
/// one is near enough to be worth showing: at most a fifth of its
/// characters differ. Patterns keep their `*` and `{...}`, so only plain
/// expected lines find a neighbour.
fn closest<'a>(expected: &str, lines: &[&'a str]) -> Option<(usize, &'a str)> {
    if expected.contains('\n') || expected.chars().count() < 8 {
        return None;
    }
    let budget = expected.chars().count() / 5;
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.chars().count().abs_diff(expected.chars().count()) <= budget)
        .map(|(k, l)| (edits(expected, l), k, *l))
        .filter(|&(d, ..)| d > 0 && d <= budget)
        .min_by_key(|&(d, k, _)| (d, k))
        .map(|(_, k, l)| (k, l))
}

/// The Levenshtein distance between two lines, in characters.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// A `numbers` check: the number in the last line that matches, against
/// its bounds.
pub(super) fn number_check(record: &Record, i: usize, c: &NumberCheck) -> Check {
    let node = &record.nodes[i];
    let name = node.name.as_str();
    let vars = transcript_vars(record, i);
    let lines = node.lines(c.stream);
    let found = pattern::parse(&c.line).ok().and_then(|tokens| {
        lines.iter().enumerate().rev().find_map(|(k, l)| {
            let got = pattern::match_line(&tokens, &l.text, &vars, 0)?;
            let text = got.into_iter().find(|(n, _)| n == "number")?.1;
            Some((k, text))
        })
    });
    let Some((k, text)) = found else {
        return fail(
            Kind::NUMBER,
            Some(name),
            Failure {
                expected: Some(c.line.clone()),
                ..Failure::new(format!(
                    "{name} printed no line like `{}` on {}",
                    c.line, c.stream
                ))
            }
            .showing(i, &[c.stream]),
        );
    };
    let place = Place::Line {
        stream: c.stream,
        line: k + 1,
    };
    let Ok(number) = text.parse::<f64>() else {
        return fail(
            Kind::NUMBER,
            Some(name),
            Failure::new(format!(
                "{name} printed `{text}` where a number was expected, in `{}`",
                lines[k].text
            ))
            .at(place),
        );
    };
    let lookup = |n: &str| record.vars.get(n).cloned();
    for (bound, low) in [(&c.at_least, true), (&c.at_most, false)] {
        let Some(e) = bound else { continue };
        let limit = match expr::eval(&e.0, &lookup) {
            Ok(v) => v,
            Err(m) => return fail(Kind::NUMBER, Some(name), Failure::new(m)),
        };
        let bad = if low { number < limit } else { number > limit };
        if bad {
            let (word, sign) = if low {
                ("at least", ">=")
            } else {
                ("at most", "<=")
            };
            let shown = if e.0.contains(['{', '*', '/', '+']) {
                format!("{limit:.3} (= {})", e.0)
            } else {
                format!("{limit}")
            };
            return fail(
                Kind::NUMBER,
                Some(name),
                Failure {
                    expected: Some(format!("{sign} {shown}")),
                    actual: Some(text.clone()),
                    ..Failure::new(format!(
                        "{name} printed {text} in `{}`; expected {word} {shown}",
                        lines[k].text
                    ))
                }
                .at(place),
            );
        }
    }
    pass(Kind::NUMBER, Some(name))
}

/// Why a program's exit status is not the one expected, with the cause
/// when the record knows it: a signal the grader sent and the program did
/// not catch reads differently from a crash.
pub(super) fn exit_failure(record: &Record, i: usize, want: ExitExpect, status: Ended) -> Failure {
    let name = record.nodes[i].name.as_str();
    let sent = |sig: Signal| {
        record
            .events_where(|w| match w {
                What::Signalled { signal } => Some(*signal),
                _ => None,
            })
            .find(|&(n, _, s)| n == Some(i) && s == sig)
            .map(|(_, at, _)| at)
    };
    let f = Failure {
        expected: Some(want.to_string()),
        actual: Some(status.to_string()),
        ..Failure::new(format!("{name} {}; expected {want}", status.verb()))
    };
    match status.signal() {
        Some(Signal::SIGKILL) if sent(Signal::SIGKILL).is_some() => Failure {
            summary: format!("{name} was killed by SIGKILL, which the grader sent; expected {want}"),
            ..f
        },
        Some(sig) => match sent(sig) {
            Some(at) => Failure {
                summary: format!("{name} was killed by {sig} (it did not catch it); expected {want}"),
                ..f
            }
            .note(format!(
                "the grader sent {sig} at {}: a program stopped with SIGINT or SIGTERM catches it, prints its goodbye line, and exits 0",
                seconds(at)
            )),
            None => f.note(format!(
                "the grader sent no {sig}: the program crashed or killed itself, or the system killed it"
            )),
        },
        None => f,
    }
}

pub(super) fn exit_ok(want: ExitExpect, status: Ended) -> bool {
    match (want, status.code()) {
        (ExitExpect::Code(c), Some(code)) => code == c,
        (ExitExpect::Nonzero, Some(code)) => code != 0,
        (_, None) => false,
    }
}

/// The names the grader binds in a node's transcripts: `{seed}`,
/// `{port}`, `{peer:X}`, `{seed:X}`, as in its arguments.
pub(crate) fn transcript_vars(record: &Record, i: usize) -> transcript::Vars {
    let mut v: transcript::Vars = record.vars.clone().into_iter().collect();
    let node = &record.nodes[i];
    v.insert("seed".into(), node.seed.to_string());
    if let Some(p) = node.port {
        v.insert("port".into(), p.to_string());
    }
    for (j, other) in record.nodes.iter().enumerate() {
        v.insert(format!("seed:{}", other.name), other.seed.to_string());
        if let Some(face) = node.faces.get(j) {
            v.insert(format!("peer:{}", other.name), face.to_string());
        }
    }
    v
}

pub(super) fn same_stdout(record: &Record, i: usize, j: usize) -> Check {
    let (a, b) = (&record.nodes[j], &record.nodes[i]);
    let (la, lb) = (a.texts(Stream::Stdout), b.texts(Stream::Stdout));
    let differ = (0..la.len().max(lb.len())).find(|&k| la.get(k) != lb.get(k));
    let Some(k) = differ else {
        return pass(Kind::STDOUT_SAME_AS, Some(&b.name));
    };
    let line = |l: &[&str]| {
        l.get(k)
            .map_or(transcript::END_OF_OUTPUT.to_string(), |s| s.to_string())
    };
    fail(
        Kind::STDOUT_SAME_AS,
        Some(&b.name),
        Failure {
            expected: Some(line(&la)),
            actual: Some(line(&lb)),
            ..Failure::new(format!(
                "{} stdout differs from {}'s at line {}",
                b.name,
                a.name,
                k + 1
            ))
        }
        .note(format!(
            "expected is {}'s line, actual is {}'s",
            a.name, b.name
        ))
        .at(Place::Line {
            stream: Stream::Stdout,
            line: k + 1,
        }),
    )
}

#[cfg(test)]
mod near {
    use super::{closest, edits};

    #[test]
    fn a_line_with_a_typo_is_found_and_a_different_one_is_not() {
        assert_eq!(edits("closing", "cloing"), 1);
        assert_eq!(edits("", "abc"), 3);
        let printed = [
            "",
            "Ctrl+C pressed. Exit the program after cloing the socket",
            "client: seed 7",
        ];
        let want = "Ctrl+C pressed. Exit the program after closing the socket";
        assert_eq!(closest(want, &printed), Some((1, printed[1])));
        assert_eq!(closest("Request ID: 0 of many", &printed), None);
        // A pattern's candidates (an unordered group) are not compared.
        assert_eq!(closest("a line\nanother", &printed), None);
    }
}
