//! One test run as lines of text: what the human report prints, and what
//! the machine formats carry as failure text.
//!
//! Lines carry a [`Tone`] per part instead of colour codes: the human
//! report colours them on a terminal, the other formats take the plain text.
//!
//! # Bounds
//!
//! Whatever a run did, what this prints for it stays short: alike failures
//! collapse after [`SHOWN_ALIKE`] ("... and N more like it", counting those
//! the verdict did not list), one failure takes at most [`FAILURE_LINES`]
//! lines of at most [`WIDTH`] characters, its output tails included, and the
//! timeline of `-v` at most [`TIMELINE`] lines, a row of alike datagrams (a
//! flood) collapsing after [`SHOWN_ALIKE`] into one line. Each is cut with
//! a line that says how much more there was, never silently.

use std::collections::BTreeSet;
use std::time::Duration;

use handout::Message;

use super::TestRun;
use crate::judge::{Check, Failure, Status};
use crate::run::record::{Datagram, Fate, Forged, Record, What};
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
    /// A line of one part.
    pub fn new(indent: usize, tone: Tone, text: impl Into<String>) -> Line {
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

/// How many lines one failure takes at most, its output tails included;
/// past them, one more says how many were left out.
pub const FAILURE_LINES: usize = 40;

/// How many characters of one line of a failure are shown.
pub const WIDTH: usize = 500;

/// How many lines of timeline `-v` shows.
pub const TIMELINE: usize = 200;

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
            (Tone::Dim, format!("{:>6}", duration(seconds))),
        ],
    }
}

/// A test's duration for the report: milliseconds under a second
/// (`115ms`: a test that took a tenth of a second does not read `0.0s`),
/// else seconds to a tenth (`2.3s`).
pub fn duration(seconds: f64) -> String {
    if seconds < 0.9995 {
        format!("{}ms", (seconds * 1000.0).round() as u64)
    } else {
        format!("{seconds:.1}s")
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
    let unkept = run.record.unkept();
    if verbose {
        out.extend(timeline_block(&run.record));
    } else if unkept > 0 {
        out.push(Line::labelled(
            8,
            "wire: ",
            Tone::Plain,
            format!(
                "add -v to see the first {n} datagrams on the wire; {unkept} more were not kept (limits.datagrams)"
            ),
        ));
    } else if n > 0 {
        out.push(Line::labelled(
            8,
            "wire: ",
            Tone::Plain,
            format!("add -v to see the {n} datagrams on the wire"),
        ));
    }
    if !run.files.is_empty() {
        let files: Vec<String> = (run.files.iter())
            .map(|(path, what)| format!("{path} ({what})"))
            .collect();
        out.push(Line::labelled(8, "see: ", Tone::Plain, files.join(", ")));
    }
    out.push(Line::labelled(
        8,
        "replay: ",
        Tone::Plain,
        run.replay.clone(),
    ));
    out.push(Line::new(
        16,
        Tone::Dim,
        "(the same requests and the same faults; your programs' own timing may differ)",
    ));
    out
}

/// `timeline (N datagrams):` and the timeline under it, as `-v` shows it
/// under a test, passed or not.
pub fn timeline_block(record: &Record) -> Vec<Line> {
    let n = record.datagrams.len();
    let unkept = record.unkept();
    let header = if unkept > 0 {
        format!("timeline (the first {n} of {} datagrams):", n + unkept)
    } else {
        format!("timeline ({n} datagrams):")
    };
    let mut out = vec![Line::new(8, Tone::Label, header)];
    out.extend(
        timeline(record)
            .into_iter()
            .map(|t| Line::new(10, Tone::Plain, t)),
    );
    out
}

/// The failed checks of a run, alike ones collapsed, each with its output
/// tails (each tail shown once).
pub fn failures(record: &Record, checks: &[Check]) -> Vec<Line> {
    let mut out = Vec::new();
    let mut shown_tails = BTreeSet::new();
    for (shown, total) in alike_failures(checks) {
        for &(_, f) in &shown {
            out.extend(failure(record, f, &mut shown_tails));
        }
        if total > shown.len() {
            out.push(Line::new(
                10,
                Tone::Dim,
                format!("... and {} more like it", total - shown.len()),
            ));
        }
    }
    out
}

/// The failed checks of a run in groups of alike ones (the same kind, the
/// same node, in a row): each group's first [`SHOWN_ALIKE`], and how many
/// failures it holds in all, those the verdict only counts included.
pub fn alike_failures(checks: &[Check]) -> Vec<(Vec<(&Check, &Failure)>, usize)> {
    let failed: Vec<(&Check, &Failure)> = checks
        .iter()
        .filter_map(|c| c.failure.as_ref().map(|f| (c, f)))
        .collect();
    let mut groups = Vec::new();
    let mut i = 0;
    while i < failed.len() {
        let (c, _) = failed[i];
        let row = &failed[i..];
        let alike = row
            .iter()
            .take_while(|(d, _)| d.kind == c.kind && d.node == c.node)
            .count();
        let total: usize = row[..alike].iter().map(|(_, f)| 1 + f.more).sum();
        groups.push((row[..alike.min(SHOWN_ALIKE)].to_vec(), total));
        i += alike;
    }
    groups
}

/// `text` cut to [`WIDTH`] characters, saying how many more there were.
fn clip(text: &str) -> String {
    match text.char_indices().nth(WIDTH) {
        None => text.to_string(),
        Some((end, _)) => format!(
            "{} ... ({} more characters)",
            &text[..end],
            text[end..].chars().count()
        ),
    }
}

/// `lines` cut to `max`, the last saying how many more there were.
fn cap(mut lines: Vec<Line>, max: usize) -> Vec<Line> {
    if lines.len() > max {
        let more = lines.len() - (max - 1);
        lines.truncate(max - 1);
        lines.push(Line::new(
            10,
            Tone::Dim,
            format!("... and {more} more lines"),
        ));
    }
    lines
}

fn failure(record: &Record, f: &Failure, shown_tails: &mut BTreeSet<(usize, Stream)>) -> Vec<Line> {
    let mut out = vec![Line::new(8, Tone::Strong, clip(&f.summary))];
    for (label, text) in [("expected: ", &f.expected), ("actual:   ", &f.actual)] {
        let Some(text) = text else { continue };
        if text.is_empty() {
            out.push(Line::new(10, Tone::Plain, format!("{label}(empty line)")));
            continue;
        }
        // One line each, so that every bound counts what is printed.
        for (k, row) in text.split('\n').enumerate() {
            out.push(match k {
                0 => Line::new(10, Tone::Plain, format!("{label}{}", clip(row))),
                _ => Line::new(12, Tone::Plain, clip(row)),
            });
        }
    }
    for n in &f.notes {
        out.push(Line::new(10, Tone::Dim, clip(n)));
    }
    for &(node, stream) in &f.show {
        if out.len() < FAILURE_LINES && shown_tails.insert((node, stream)) {
            out.extend(tail(record, node, stream));
        }
    }
    cap(out, FAILURE_LINES)
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
            .map(|l| Line::new(12, Tone::Plain, format!("| {}", clip(&l.text)))),
    );
    out
}

/// What the timeline shows of a run, in time order.
enum Entry<'a> {
    /// An event, as a sentence.
    Event(Duration, String),
    /// A datagram.
    Datagram(&'a Datagram),
    /// The record kept no more datagrams after this moment.
    Unkept(Duration, usize),
}

impl Entry<'_> {
    fn at(&self) -> Duration {
        match self {
            Entry::Event(at, _) | Entry::Unkept(at, _) => *at,
            Entry::Datagram(d) => d.sent,
        }
    }
}

/// One event of the timeline, as a sentence; `None` for steps, which the
/// timeline does not show.
fn event(record: &Record, e: &crate::run::record::Event) -> Option<String> {
    let name = |i: usize| record.nodes[i].name.as_str();
    let who = e.node.map_or("", name);
    let text = match &e.what {
        What::Started { command, .. } => format!("{who} started: {}", command.join(" ")),
        What::ScriptStarted => format!("the grader's {who} started its script"),
        What::Bound { port } => format!("{who} bound UDP port {port}"),
        What::Signalled { signal } => format!("the grader sent {signal} to {who}"),
        What::Exited { status } => format!("{who} {}", status.verb()),
        What::Flooded { stream, .. } => format!("{who} went over the output limit on {stream}"),
        What::SendRateExceeded { limit } => format!(
            "{who} went over the send rate ({limit} datagrams a second): flooding; the proxy refuses the rest"
        ),
        What::KilledAtEnd => format!("{who} still running at the end: killed"),
        What::StoppedAtHole { hole } => {
            format!("{who} stopped at a hole: todo!(\"{hole}\"); the test ends")
        }
        What::LimitExceeded { limit } => format!("{who} went past its {limit}: killed"),
        What::LeftBehind { total, .. } => {
            format!(
                "{who} left {} of its own running: killed",
                crate::judge::processes(*total)
            )
        }
        What::ScriptEnded { error: None } => format!("the grader's {who} finished its script"),
        What::ScriptEnded { error: Some(e) } if e.actual == crate::run::script::ENDED => {
            format!(
                "the grader's {who} stopped at step {}: the test ended",
                e.step
            )
        }
        What::ScriptEnded { error: Some(e) } if e.actual == crate::run::script::TIME_UP => {
            format!(
                "the grader's {who} stopped at step {} ({}): the test's time limit passed",
                e.step, e.kind
            )
        }
        What::ScriptEnded { error: Some(e) } => format!("the grader's {who} failed: {e}"),
        What::Partitioned { a, b } => {
            format!("partition: {} and {} cut off", name(*a), name(*b))
        }
        What::Healed => "every partition and cut healed".to_string(),
        What::Cut { from, to } => format!("link cut: {} to {}", name(*from), name(*to)),
        What::LinkHealed { from, to } => {
            format!("link healed: {} to {}", name(*from), name(*to))
        }
        What::FaultsChanged { link, faults } => {
            let on = link.map_or("every link".to_string(), |(f, t)| {
                format!("{} to {}", name(f), name(t))
            });
            format!(
                "faults on {on} now: drop {}, duplicate {}, delay {}, jitter {}",
                faults.drop, faults.duplicate, faults.delay, faults.jitter
            )
        }
        What::ScriptHeld { how } => format!("the grader's {who} {how}"),
        What::Queried { keys, nodes } => {
            format!("the grader's {who} read {keys} key(s) from {nodes} node(s)")
        }
        What::CpuMeasured {
            percent,
            busy,
            wakeups,
            ..
        } => match (busy, wakeups) {
            (Some(b), Some(n)) => format!(
                "{who} ran or waited to run {b:.0}% of the time while idle (it got {percent:.0}% of a CPU), and woke up {n} times"
            ),
            _ => format!("{who} used {percent:.0}% of a CPU while idle"),
        },
        What::LoadMeasured {
            clients,
            node,
            baseline,
        } => node.versus(who, *clients, baseline),
        What::Step { .. } | What::StepFailed { .. } => return None,
    };
    Some(text)
}

/// The run as a timeline: programs starting, signals, exits, partitions,
/// every line a program printed (`client | True` on stdout, `client ! ...`
/// on stderr), and every datagram with its fate; at most [`TIMELINE`] lines. A row of
/// more than [`SHOWN_ALIKE`] alike datagrams (the same sender, receiver and
/// fate) shows its first ones and a count; where the record stopped keeping
/// datagrams, a line says how many more there were.
///
/// Events and printed lines are sorted by time (stably: an event before a
/// line of the same moment), then merged with the datagrams, which are in
/// time order already; only what is shown is written out.
pub fn timeline(record: &Record) -> Vec<String> {
    let name = |i: usize| record.nodes[i].name.as_str();
    let mut events: Vec<Entry> = (record.events.iter())
        .filter_map(|e| Some(Entry::Event(e.at, event(record, e)?)))
        .collect();
    // What the programs printed, on the same clock: a decision placed
    // among the datagrams it depended on.
    for (i, node) in record.nodes.iter().enumerate() {
        for (stream, label) in [(Stream::Stdout, "|"), (Stream::Stderr, "!")] {
            for l in node.lines(stream) {
                events.push(Entry::Event(
                    l.at,
                    format!("{} {label} {}", name(i), l.text),
                ));
            }
        }
    }
    // The grader's forgeries, among the events: at the time of the
    // datagram each was made from, and before it.
    for f in &record.forged {
        events.push(Entry::Event(f.sent, forged(record, f)));
    }
    events.sort_by_key(Entry::at);
    let unkept = record.unkept();
    let last = record.datagrams.last().map_or(Duration::ZERO, |d| d.sent);
    let total = events.len() + record.datagrams.len() + usize::from(unkept > 0);
    let mut datagrams = record
        .datagrams
        .iter()
        .map(Entry::Datagram)
        .chain((unkept > 0).then_some(Entry::Unkept(last, unkept)))
        .peekable();
    let mut events = events.into_iter().peekable();
    let line = |at: Duration, text: &str| format!("{:>6} ms  {text}", at.as_millis());
    let mut out = Vec::new();
    let mut taken = 0;
    // The current row of alike datagrams: its first, its length, and the
    // last one hidden.
    let mut row: Option<(&Datagram, usize, Option<&Datagram>)> = None;
    let hidden = |row: &Option<(&Datagram, usize, Option<&Datagram>)>| match row {
        Some((first, len, Some(last))) if *len > SHOWN_ALIKE => Some(line(
            last.sent,
            &format!(
                "... and {} more {} -> {} like these",
                len - SHOWN_ALIKE,
                name(first.from),
                name(first.to)
            ),
        )),
        _ => None,
    };
    // Room for the lines that close the timeline: what a row hid, and
    // what was left out.
    while out.len() + 4 <= TIMELINE {
        // At equal times an event comes first.
        let next = match (events.peek(), datagrams.peek()) {
            (Some(e), Some(d)) if e.at() <= d.at() => events.next(),
            (_, Some(_)) => datagrams.next(),
            (Some(_), None) => events.next(),
            (None, None) => break,
        };
        let Some(entry) = next else { break };
        taken += 1;
        if let Entry::Datagram(d) = entry
            && let Some((first, len, last)) = &mut row
            && (first.from, first.to, first.fate, first.rule) == (d.from, d.to, d.fate, d.rule)
        {
            *len += 1;
            if *len <= SHOWN_ALIKE {
                out.push(line(d.sent, &datagram(record, d)));
            } else {
                *last = Some(d);
            }
            continue;
        }
        out.extend(hidden(&row));
        row = None;
        match entry {
            Entry::Event(at, text) => out.push(line(at, &text)),
            Entry::Datagram(d) => {
                row = Some((d, 1, None));
                out.push(line(d.sent, &datagram(record, d)));
            }
            Entry::Unkept(at, n) => out.push(line(
                at,
                &format!(
                    "the record kept no more datagrams: {n} more were not kept (limits.datagrams)"
                ),
            )),
        }
    }
    out.extend(hidden(&row));
    if total > taken {
        out.push(format!("... and {} more", total - taken));
    }
    out
}

/// One forged datagram: the sender of the datagram it was made from, the
/// receiver, length, content, and what the rule changed.
pub fn forged(record: &Record, f: &Forged) -> String {
    let what = match Message::decode(&f.bytes) {
        Ok(m) => m.to_string(),
        Err(e) => format!("malformed: {e}"),
    };
    format!(
        "{} -> {}  {} bytes  {what}  [forged by rule {}: {}]",
        record.nodes[f.from].name,
        record.nodes[f.to].name,
        f.bytes.len(),
        f.rule + 1,
        f.changes
    )
}

/// One datagram: sender, receiver, length, content, and what the network did.
pub fn datagram(record: &Record, d: &Datagram) -> String {
    let what = match Message::decode(&d.bytes) {
        Ok(m) => m.to_string(),
        Err(e) => format!("malformed: {e}"),
    };
    let ms = |x: &Duration| format!("{} ms", x.as_millis());
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
    #[test]
    fn durations_under_a_second_are_in_milliseconds() {
        use super::duration;
        assert_eq!(duration(0.1), "100ms");
        assert_eq!(duration(0.0004), "0ms");
        assert_eq!(duration(0.115), "115ms");
        assert_eq!(duration(0.9996), "1.0s");
        assert_eq!(duration(12.34), "12.3s");
    }

    use super::*;

    #[test]
    fn control_characters_are_spelt_out() {
        assert_eq!(visible("plain\ttext"), "plain\ttext");
        assert_eq!(visible("\u{1b}[31mred"), "\\u{1b}[31mred");
        let l = Line::new(2, Tone::Plain, "a\u{7}b");
        assert_eq!(l.plain(), "  a\\u{7}b");
    }

    use crate::judge::LISTED_ALIKE;
    use crate::judge::wire::answered;
    use crate::run::record::{Event, NodeRecord, Traffic};

    fn record(datagrams: Vec<Datagram>, events: Vec<Event>, received: usize) -> Record {
        let mut traffic = Traffic::of(2, &datagrams);
        traffic.senders[1].sent += received - datagrams.len();
        let nodes = vec![NodeRecord::new("server"), NodeRecord::new("client")];
        Record {
            events,
            traffic,
            ..Record::of(nodes, datagrams)
        }
    }

    fn request(at: u64, fate: Fate) -> Datagram {
        let m = Message::new(handout::MsgType::ReadReq, "K", "").unwrap();
        Datagram {
            sent: Duration::from_micros(at),
            from: 1,
            to: 0,
            bytes: m.encode(),
            fate,
            delays: vec![Duration::ZERO; fate.copies()],
            delivered: vec![],
            rule: None,
        }
    }

    #[test]
    fn one_failure_takes_at_most_a_screenful() {
        let r = record(vec![], vec![], 0);
        let many: Vec<String> = (0..1000).map(|i| format!("line {i}")).collect();
        let f = Failure {
            expected: Some(many.join("\n")),
            actual: Some("x".repeat(100_000)),
            notes: many.clone(),
            ..Failure::new("client stdout differs at line 3")
        };
        let lines = failure(&r, &f, &mut BTreeSet::new());
        assert_eq!(lines.len(), FAILURE_LINES);
        assert_eq!(lines[1].plain(), "          expected: line 0");
        assert_eq!(lines[2].plain(), "            line 1", "one line per line");
        assert_eq!(
            lines[FAILURE_LINES - 1].plain(),
            format!(
                "          ... and {} more lines",
                2000 + 1 + 1 - (FAILURE_LINES - 1)
            )
        );
        let f = Failure {
            actual: Some("x".repeat(100_000)),
            ..Failure::new("s")
        };
        let actual = failure(&r, &f, &mut BTreeSet::new())[1].plain();
        assert!(actual.len() < WIDTH + 100, "{}", actual.len());
        assert!(actual.ends_with(&format!("... ({} more characters)", 100_000 - WIDTH)));
    }

    #[test]
    fn alike_failures_count_those_the_verdict_did_not_list() {
        let r = record(vec![], vec![], 0);
        let mut checks: Vec<Check> = (0..LISTED_ALIKE)
            .map(|i| Check {
                kind: answered::KIND,
                node: Some("server".into()),
                failure: Some(Failure::new(format!("failure {i}"))),
            })
            .collect();
        if let Some(f) = checks.last_mut().and_then(|c| c.failure.as_mut()) {
            f.more = 1000;
        }
        let text = plain(&failures(&r, &checks));
        assert_eq!(text.lines().count(), SHOWN_ALIKE + 1, "{text}");
        assert!(
            text.ends_with(&format!(
                "... and {} more like it\n",
                LISTED_ALIKE + 1000 - SHOWN_ALIKE
            )),
            "{text}"
        );
    }

    #[test]
    fn a_flood_takes_a_few_lines_of_the_timeline() {
        let mut log: Vec<Datagram> = (0..15_000).map(|i| request(i, Fate::Delivered)).collect();
        log.extend((15_000..20_000).map(|i| request(i, Fate::Refused)));
        let events = vec![
            Event {
                at: Duration::ZERO,
                node: Some(1),
                what: What::Started {
                    command: vec!["client".into()],
                    pid: 1,
                },
            },
            Event {
                at: Duration::from_micros(15_000),
                node: Some(1),
                what: What::SendRateExceeded { limit: 5000 },
            },
            Event {
                at: Duration::from_millis(900),
                node: Some(1),
                what: What::KilledAtEnd,
            },
        ];
        let r = record(log, events, 32_000);
        let t = timeline(&r);
        assert!(t.len() <= TIMELINE);
        let text = t.join("\n");
        assert_eq!(t.len(), 12, "{text}");
        assert!(t[0].ends_with("client started: client"), "{text}");
        assert!(
            t[4].ends_with("... and 14997 more client -> server like these"),
            "{text}"
        );
        assert!(
            t[5].contains("went over the send rate (5000 datagrams a second)"),
            "{text}"
        );
        assert!(t[6].ends_with("[refused]"), "{text}");
        assert!(
            t[9].ends_with("... and 4997 more client -> server like these"),
            "{text}"
        );
        assert!(
            t[10].ends_with(
                "the record kept no more datagrams: 12000 more were not kept (limits.datagrams)"
            ),
            "{text}"
        );
        assert!(
            t[11].ends_with("client still running at the end: killed"),
            "{text}"
        );
    }

    #[test]
    fn a_long_timeline_is_cut_with_a_count() {
        // Alternating senders: no row to collapse.
        let log: Vec<Datagram> = (0..1000)
            .map(|i| {
                let mut d = request(i, Fate::Delivered);
                if i % 2 == 1 {
                    (d.from, d.to) = (0, 1);
                }
                d
            })
            .collect();
        let t = timeline(&record(log, vec![], 1000));
        assert_eq!(t.len(), TIMELINE - 2);
        assert_eq!(
            t[t.len() - 1],
            format!("... and {} more", 1000 - (TIMELINE - 3))
        );
    }
}
