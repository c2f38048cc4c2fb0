//! One test run as lines of text: what the human report prints, and what
//! the machine formats carry as failure text.
//!
//! Lines carry a [`Tone`] per part instead of colour codes: the human
//! report colours them on a terminal, the other formats take the plain text.

use std::collections::BTreeSet;

use handout::Message;

use super::TestRun;
use crate::check::{Check, Failure, Status};
use crate::run::record::{Datagram, Fate, Record, What};
use crate::spec::{Stream, TestSpec};

/// How a piece of text should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// As is.
    Plain,
    /// Less important (descriptions, times).
    Dim,
    /// What went wrong.
    Strong,
    /// A label such as `ran:` or `replay:`.
    Label,
    /// The hint.
    Hint,
    /// PASS.
    Good,
    /// FAIL.
    Bad,
    /// VOID.
    Warn,
}

/// A line: an indentation and parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Spaces before it.
    pub indent: usize,
    /// Its parts, in order.
    pub parts: Vec<(Tone, String)>,
}

impl Line {
    fn new(indent: usize, tone: Tone, text: impl Into<String>) -> Line {
        Line {
            indent,
            parts: vec![(tone, text.into())],
        }
    }

    fn labelled(indent: usize, label: &str, tone: Tone, text: impl Into<String>) -> Line {
        Line {
            indent,
            parts: vec![(Tone::Label, label.to_string()), (tone, text.into())],
        }
    }

    /// The line without tones, control characters made [`visible`].
    pub fn plain(&self) -> String {
        let mut s = " ".repeat(self.indent);
        for (_, p) in &self.parts {
            s.push_str(&visible(p));
        }
        s
    }
}

/// `text` with every control character but the tab written out as
/// `\u{..}`: a program's output must not drive the reader's terminal
/// (colours, cursor moves, a cleared screen).
pub fn visible(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Lines as plain text, one per line.
pub fn plain(lines: &[Line]) -> String {
    let mut s = String::new();
    for l in lines {
        s.push_str(&l.plain());
        s.push('\n');
    }
    s
}

/// How many failures of one kind, for one node, are shown in full before
/// the rest collapse into "... and N more like it".
pub const SHOWN_ALIKE: usize = 3;

/// How many lines of output a tail shows.
const TAIL: usize = 6;

/// How many entries of the timeline `-v` shows.
const TIMELINE: usize = 200;

/// The status tag of a test: `PASS`, `FAIL`, `VOID`.
pub fn tag(status: Status) -> (Tone, &'static str) {
    match status {
        Status::Passed => (Tone::Good, "PASS"),
        Status::Failed => (Tone::Bad, "FAIL"),
        Status::Void => (Tone::Warn, "VOID"),
    }
}

/// The one line every test gets: `  PASS  echo     0.0s`.
pub fn headline(name: &str, status: Status, seconds: f64) -> Line {
    let (tone, word) = tag(status);
    Line {
        indent: 2,
        parts: vec![
            (tone, word.to_string()),
            (Tone::Plain, format!("  {name:<28} ")),
            (Tone::Dim, format!("{:>6}", format!("{seconds:.1}s"))),
        ],
    }
}

/// Everything under a run that did not pass: the description, each
/// failure with its details, the command lines, the hint, the datagrams
/// (all of them with `verbose`) and the replay command.
pub fn details(spec: &TestSpec, run: &TestRun, verbose: bool) -> Vec<Line> {
    let mut out = vec![Line::new(8, Tone::Dim, spec.description.trim())];
    out.extend(failures(&run.record, &run.verdict.checks));
    let commands: Vec<(usize, &[String])> = (0..run.record.nodes.len())
        .filter_map(|i| run.record.command_of(i).map(|c| (i, c)))
        .collect();
    if !commands.is_empty() {
        out.push(Line::new(8, Tone::Label, "ran:"));
        for (i, c) in commands {
            out.push(Line::new(
                10,
                Tone::Plain,
                format!("{}: {}", run.record.nodes[i].name, c.join(" ")),
            ));
        }
    }
    if let Some(h) = &spec.hint {
        out.push(Line {
            indent: 8,
            parts: vec![
                (Tone::Hint, "hint: ".into()),
                (Tone::Plain, h.trim().into()),
            ],
        });
    }
    let n = run.record.datagrams.len();
    if verbose {
        out.push(Line::new(
            8,
            Tone::Label,
            format!("timeline ({n} datagrams):"),
        ));
        out.extend(
            timeline(&run.record)
                .into_iter()
                .map(|t| Line::new(10, Tone::Plain, t)),
        );
    } else if n > 0 {
        out.push(Line::labelled(
            8,
            "wire: ",
            Tone::Plain,
            format!("add -v to see the {n} datagrams on the wire"),
        ));
    }
    out.push(Line::labelled(
        8,
        "replay: ",
        Tone::Plain,
        run.replay.clone(),
    ));
    out
}

/// The failed checks of a run, alike ones collapsed, each with its output
/// tails (each tail shown once).
pub fn failures(record: &Record, checks: &[Check]) -> Vec<Line> {
    let mut out = Vec::new();
    let mut shown_tails = BTreeSet::new();
    let failed: Vec<(&Check, &Failure)> = checks
        .iter()
        .filter_map(|c| c.failure.as_ref().map(|f| (c, f)))
        .collect();
    let mut i = 0;
    while i < failed.len() {
        let (c, _) = failed[i];
        let alike = failed[i..]
            .iter()
            .take_while(|(d, _)| d.kind == c.kind && d.node == c.node)
            .count();
        for (_, f) in &failed[i..i + alike.min(SHOWN_ALIKE)] {
            out.extend(failure(record, f, &mut shown_tails));
        }
        if alike > SHOWN_ALIKE {
            out.push(Line::new(
                10,
                Tone::Dim,
                format!("... and {} more like it", alike - SHOWN_ALIKE),
            ));
        }
        i += alike;
    }
    out
}

fn failure(record: &Record, f: &Failure, shown_tails: &mut BTreeSet<(usize, Stream)>) -> Vec<Line> {
    let mut out = vec![Line::new(8, Tone::Strong, f.summary.clone())];
    let shown = |text: &str| match text {
        "" => "(empty line)".to_string(),
        t => t.replace('\n', "\n            "),
    };
    if let Some(e) = &f.expected {
        out.push(Line::new(
            10,
            Tone::Plain,
            format!("expected: {}", shown(e)),
        ));
    }
    if let Some(a) = &f.actual {
        out.push(Line::new(
            10,
            Tone::Plain,
            format!("actual:   {}", shown(a)),
        ));
    }
    for n in &f.notes {
        out.push(Line::new(10, Tone::Dim, n.clone()));
    }
    for &(node, stream) in &f.show {
        if shown_tails.insert((node, stream)) {
            out.extend(tail(record, node, stream));
        }
    }
    out
}

/// The last lines a program printed on a stream, labelled.
pub fn tail(record: &Record, node: usize, stream: Stream) -> Vec<Line> {
    let n = &record.nodes[node];
    let lines = n.lines(stream);
    if lines.is_empty() {
        return Vec::new();
    }
    let skip = lines.len().saturating_sub(TAIL);
    let label = if skip > 0 {
        format!(
            "{} {stream} (last {TAIL} of {} lines):",
            n.name,
            lines.len()
        )
    } else {
        format!("{} {stream}:", n.name)
    };
    let mut out = vec![Line::new(10, Tone::Dim, label)];
    out.extend(
        lines[skip..]
            .iter()
            .map(|l| Line::new(12, Tone::Plain, format!("| {}", l.text))),
    );
    out
}

/// The run as a timeline: programs starting, signals, exits, partitions,
/// and every datagram with its fate; at most 200 entries.
pub fn timeline(record: &Record) -> Vec<String> {
    let name = |i: usize| record.nodes[i].name.as_str();
    let mut entries: Vec<(std::time::Duration, String)> = Vec::new();
    for e in &record.events {
        let who = e.node.map_or("", name);
        let text = match &e.what {
            What::Started { command, .. } => format!("{who} started: {}", command.join(" ")),
            What::ScriptStarted => format!("the grader's {who} started its script"),
            What::Bound { port } => format!("{who} bound UDP port {port}"),
            What::Signalled { signal } => format!("the grader sent {signal} to {who}"),
            What::Exited { status, .. } => format!("{who} exited: {status}"),
            What::Flooded { stream, .. } => format!("{who} went over the output limit on {stream}"),
            What::SendRateExceeded { limit } => format!(
                "{who} went over the send rate ({limit} datagrams a second): flooding; the proxy refuses the rest"
            ),
            What::KilledAtEnd => format!("{who} still running at the end: killed"),
            What::ScriptEnded { error: None } => format!("the grader's {who} finished its script"),
            What::ScriptEnded { error: Some(e) } => format!("the grader's {who} failed: {e}"),
            What::Partitioned { a, b } => {
                format!("partition: {} and {} cut off", name(*a), name(*b))
            }
            What::Healed => "partitions healed".to_string(),
            What::CpuMeasured { percent, .. } => {
                format!("{who} used {percent:.0}% of a CPU while idle")
            }
            What::Step { .. } | What::StepFailed { .. } => continue,
        };
        entries.push((e.at, text));
    }
    for d in &record.datagrams {
        entries.push((d.sent, datagram(record, d)));
    }
    entries.sort_by_key(|(at, _)| *at);
    let total = entries.len();
    let mut out: Vec<String> = entries
        .into_iter()
        .take(TIMELINE)
        .map(|(at, text)| format!("{:>6} ms  {text}", at.as_millis()))
        .collect();
    if total > TIMELINE {
        out.push(format!("... and {} more", total - TIMELINE));
    }
    out
}

/// One datagram: sender, receiver, length, content, and what the network did.
pub fn datagram(record: &Record, d: &Datagram) -> String {
    let what = match Message::decode(&d.bytes) {
        Ok(m) => m.to_string(),
        Err(e) => format!("malformed: {e}"),
    };
    let ms = |x: &std::time::Duration| format!("{} ms", x.as_millis());
    let by = d
        .rule
        .map_or(String::new(), |r| format!(" by rule {}", r + 1));
    let fate = match d.fate {
        Fate::Delivered if d.delays.iter().all(|x| x.is_zero()) && d.rule.is_none() => {
            String::new()
        }
        Fate::Delivered => format!(
            "  [delayed {}{by}]",
            d.delays.iter().map(ms).collect::<Vec<_>>().join(", ")
        ),
        Fate::Duplicated => format!(
            "  [duplicated{by}: +{}]",
            d.delays.iter().map(ms).collect::<Vec<_>>().join(", +")
        ),
        f => format!("  [{}{by}]", f.name()),
    };
    format!(
        "{} -> {}  {} bytes  {what}{fate}",
        record.nodes[d.from].name,
        record.nodes[d.to].name,
        d.bytes.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_spelt_out() {
        assert_eq!(visible("plain\ttext"), "plain\ttext");
        assert_eq!(visible("\u{1b}[31mred"), "\\u{1b}[31mred");
        let l = Line::new(2, Tone::Plain, "a\u{7}b");
        assert_eq!(l.plain(), "  a\\u{7}b");
    }
}
