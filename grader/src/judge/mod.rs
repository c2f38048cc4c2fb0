//! Judging a run: the spec's expectations against the run's record.
//!
//! [`verdict`] reads a finished [`Record`] and returns a [`Verdict`]: every
//! check with its result, as data (kind, node, expected, actual, where).
//! Reports render verdicts; nothing here prints.
//!
//! The order of the checks is the order a person should read them in:
//!
//! 1. **Holes.** An unfilled hole (`todo!()`) explains everything else that
//!    went wrong, so when one is found it is the only failure reported.
//! 2. **Crashes, floods, leftovers**, node by node, and scripted peers that
//!    failed. A flood is either of output (past `limits.output`) or of
//!    datagrams (past `limits.send_rate`: the node is *flooding*).
//! 3. **The step that could not be carried out**, if one could not (a
//!    program that never exited), and what `idle` measured.
//! 4. **`expect`**, node by node in the order of the spec's `nodes`: exit
//!    status, then the transcripts. When the run was cut short (3., a
//!    scripted peer that failed, a node flooding), a program the grader
//!    had to kill is not judged: "still running" and a truncated
//!    transcript would only repeat the cause.
//! 5. **`wire`**, in the order of the spec; not when a node flooded: the
//!    proxy refused part of the traffic and the grader ended the run, so
//!    the wire would only repeat the cause.
//! 6. **Rules that did not fire**, when nothing else failed: a run in
//!    which a fault the test needs never happened proves nothing, so it is
//!    void rather than passed.
//!
//! # Bounds
//!
//! Every check is one pass over what it reads (or n log n; `linearizable`
//! searches, within a bound, see [`linear`]), so judging
//! costs time in proportion to the record, which is itself bounded. A
//! check that finds many alike failures (every request of a flood
//! unanswered) lists the first [`LISTED_ALIKE`] and counts the rest in the
//! last one's [`Failure::more`]: a verdict, and every report of it, stays
//! short. When the record was cut at `limits.datagrams`, counts stay exact
//! (they come from the record's traffic counts) and a check that reads
//! datagrams one by one says it could not see them all (see [`wire`]).
//!
//! # Layout
//! - this file: the verdict, its order, and checks on processes;
//! - [`transcript`]: matching output against expected transcripts;
//! - [`wire`]: checks on the recorded datagrams, one module per kind
//!   behind one trait, with the machinery several kinds share beside it:
//!   - [`flow`]: where datagrams go and in what order;
//!   - [`model`]: a store and an LRU cache replayed as reference models;
//!   - [`causal`]: happens-before across nodes, and printed lines on the
//!     proxy's timeline;
//!   - [`balance`]: choices among candidates against requests in flight,
//!     and shares of traffic;
//!   - [`replicas`]: the clients' history and the replicas' end state,
//!     with [`linear`], the linearizability checker.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::run::record::{Ended, Problem, Record, ScriptError, What};
use crate::run::script;
use crate::spec::pattern;
use crate::spec::{ExitExpect, NodeExpect, NumberCheck, Step, Stream, TestSpec, expr};

pub mod balance;
pub mod causal;
pub mod flow;
pub mod linear;
pub mod model;
pub mod replicas;
pub mod transcript;
pub mod wire;

/// The outcome of one run of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every check held.
    Passed,
    /// Some check did not.
    Failed,
    /// Every check held, but a fault the test needs never happened: the run
    /// proves nothing either way.
    Void,
}

impl Status {
    /// `passed`, `failed` or `void`, as the machine formats write it.
    pub fn name(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Void => "void",
        }
    }
}

/// The verdict on one run: the checks made, in report order.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The outcome.
    pub status: Status,
    /// Every check made, passed or not.
    pub checks: Vec<Check>,
    /// Holes (`todo!()` texts) the programs ran into.
    pub holes: Vec<String>,
}

impl Verdict {
    /// The failed checks, in report order.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.failure.is_some())
    }
}

/// What a check looked at, by the name the machine formats use
/// (`stdout_includes`, `answered`). The kinds of the checks on processes
/// and transcripts are here; each kind of wire check declares its own in
/// its module (see [`wire`]), so adding one touches no list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind(&'static str);

impl Kind {
    /// A program stopped at an unfilled `todo!()`.
    pub const HOLE: Kind = Kind("hole");
    /// A program panicked.
    pub const CRASH: Kind = Kind("crash");
    /// A program printed past the output limit.
    pub const FLOOD: Kind = Kind("flood");
    /// A node sent datagrams past the send rate: it flooded the network.
    pub const SEND_RATE: Kind = Kind("send_rate");
    /// A program exited and left processes running, or left a daemon.
    pub const LEFTOVERS: Kind = Kind("leftovers");
    /// A program went past a hard limit (memory, processes, CPU).
    pub const LIMIT: Kind = Kind("limit");
    /// A peer the grader played.
    pub const SCRIPT: Kind = Kind("script");
    /// A step of the spec.
    pub const STEP: Kind = Kind("step");
    /// CPU use while idle.
    pub const IDLE_CPU: Kind = Kind("idle_cpu");
    /// The exit status.
    pub const EXIT: Kind = Kind("exit");
    /// The whole standard output.
    pub const STDOUT: Kind = Kind("stdout");
    /// Lines that must appear on stdout.
    pub const STDOUT_INCLUDES: Kind = Kind("stdout_includes");
    /// Lines that must appear on stderr.
    pub const STDERR_INCLUDES: Kind = Kind("stderr_includes");
    /// Stdout the same as another program's.
    pub const STDOUT_SAME_AS: Kind = Kind("stdout_same_as");
    /// A network rule found its datagrams.
    pub const RULE: Kind = Kind("rule");
    /// A number a program printed.
    pub const NUMBER: Kind = Kind("number");

    /// A kind of its own, for a kind of wire check.
    pub const fn new(name: &'static str) -> Kind {
        Kind(name)
    }

    /// The name the machine formats use (`stdout_includes`, `answered`).
    pub fn name(self) -> &'static str {
        self.0
    }
}

/// One check and its result.
#[derive(Debug, Clone)]
pub struct Check {
    /// What it looked at.
    pub kind: Kind,
    /// The node it concerns, if one.
    pub node: Option<String>,
    /// Why it failed; `None` when it held.
    pub failure: Option<Failure>,
}

/// What a failed check found.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// One sentence: what went wrong.
    pub summary: String,
    /// What was expected, when there is one thing to show.
    pub expected: Option<String>,
    /// What happened instead.
    pub actual: Option<String>,
    /// Where: a line of output, a time, a datagram, a step.
    pub place: Option<Place>,
    /// Further explanations, one sentence each.
    pub notes: Vec<String>,
    /// Output a reader should see with it: (node, stream), whose last lines
    /// the report shows from the record.
    pub show: Vec<(usize, Stream)>,
    /// How many further failures like this one (the same kind, the same
    /// node, right after it) the check found and the verdict does not list:
    /// at most [`LISTED_ALIKE`] are listed one by one. Usually 0.
    pub more: usize,
}

/// How many alike failures in a row (the same kind, the same node) a
/// verdict lists one by one; the last of them counts the rest.
pub const LISTED_ALIKE: usize = 20;

impl Failure {
    /// A failure with only a summary.
    pub fn new(summary: impl Into<String>) -> Failure {
        Failure {
            summary: summary.into(),
            expected: None,
            actual: None,
            place: None,
            notes: Vec::new(),
            show: Vec::new(),
            more: 0,
        }
    }

    fn note(mut self, note: impl Into<String>) -> Failure {
        self.notes.push(note.into());
        self
    }

    fn showing(mut self, node: usize, streams: &[Stream]) -> Failure {
        self.show.extend(streams.iter().map(|&s| (node, s)));
        self
    }

    /// [`Failure::showing`] the node a failure is about, when it is about one.
    fn showing_if(self, node: Option<usize>, streams: &[Stream]) -> Failure {
        match node {
            Some(n) => self.showing(n, streams),
            None => self,
        }
    }

    fn at(mut self, place: Place) -> Failure {
        self.place = Some(place);
        self
    }
}

/// Where a failure was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Line `line` (from 1) of a program's output.
    Line {
        /// The stream.
        stream: Stream,
        /// The line, from 1; one past the last line when output ended early.
        line: usize,
    },
    /// A moment of the run.
    Time(Duration),
    /// A datagram, by its index in the record.
    Datagram(usize),
    /// A step of the spec, from 0.
    Step(usize),
}

fn pass(kind: Kind, node: Option<&str>) -> Check {
    Check {
        kind,
        node: node.map(str::to_string),
        failure: None,
    }
}

fn fail(kind: Kind, node: Option<&str>, failure: Failure) -> Check {
    Check {
        kind,
        node: node.map(str::to_string),
        failure: Some(failure),
    }
}

/// Judges the record of one run of `test`.
pub fn verdict(test: &TestSpec, record: &Record) -> Verdict {
    let holes = holes(record);
    if !holes.is_empty() {
        let checks = holes
            .iter()
            .map(|(node, hole)| {
                let name = &record.nodes[*node].name;
                fail(
                    Kind::HOLE,
                    Some(name),
                    Failure::new(format!(
                        "{name} stopped at a hole that is not filled in yet: todo!(\"{hole}\")"
                    ))
                    .note(format!(
                        "write the code marked `// TODO:` above `todo!(\"{hole}\")` in your lab crate"
                    )),
                )
            })
            .collect();
        return Verdict {
            status: Status::Failed,
            checks,
            holes: holes.into_iter().map(|(_, h)| h).collect(),
        };
    }
    // A run cut short (a step that could not be carried out, a scripted
    // peer that failed) says nothing about a program the grader then had
    // to kill, or a peer the end of the test interrupted: their exit
    // status, transcript or unfinished script would only repeat the cause.
    let cut_short = record
        .events
        .iter()
        .any(|e| matches!(e.what, What::StepFailed { .. }) || e.what.decides());
    let flooded = record
        .events
        .iter()
        .any(|e| matches!(e.what, What::SendRateExceeded { .. }));
    let mut checks = Vec::new();
    for (i, node) in record.nodes.iter().enumerate() {
        if node.script {
            checks.extend(scripted(record, i, cut_short));
            checks.extend(send_rate(record, i).filter(|c| c.failure.is_some()));
        } else if record.started(i) {
            checks.extend(program(record, i));
            checks.extend(send_rate(record, i));
        }
    }
    checks.extend(steps(test, record));
    for (i, node) in test.nodes.iter().enumerate() {
        // Killed by the grader: at the end, or at a limit (which level 2
        // reports, as the cause).
        let killed = record.events.iter().any(|e| {
            e.node == Some(i)
                && matches!(
                    e.what,
                    What::KilledAtEnd | What::LimitExceeded { .. } | What::Flooded { .. }
                )
        });
        if cut_short && killed {
            continue;
        }
        if let Some(e) = test.expect.get(&node.name) {
            checks.extend(expect(record, i, e));
        }
    }
    if !flooded {
        for w in &test.wire {
            checks.extend(wire::check(w, record));
        }
    }
    // A rule that did not fire matters only to a run that would otherwise
    // pass: then it makes the run void. Next to a real failure it is noise.
    if !checks.iter().any(|c| c.failure.is_some()) {
        checks.extend(wire::rules(test, record));
    }
    let checks = fold_alike(checks);
    let failed = |c: &&Check| c.failure.is_some();
    let status = if checks.iter().filter(failed).any(|c| c.kind != Kind::RULE) {
        Status::Failed
    } else if checks.iter().any(|c| failed(&c)) {
        Status::Void
    } else {
        Status::Passed
    };
    Verdict {
        status,
        checks,
        holes: Vec::new(),
    }
}

/// The checks with each row of alike failures (the same kind, the same
/// node) cut to [`LISTED_ALIKE`], the last listed counting the rest.
fn fold_alike(checks: Vec<Check>) -> Vec<Check> {
    let mut out: Vec<Check> = Vec::with_capacity(checks.len().min(256));
    let mut row = 0;
    for c in checks {
        let Some(f) = &c.failure else {
            row = 0;
            out.push(c);
            continue;
        };
        let alike = out
            .last()
            .is_some_and(|p| p.failure.is_some() && p.kind == c.kind && p.node == c.node);
        row = if alike { row + 1 } else { 1 };
        if row <= LISTED_ALIKE {
            out.push(c);
        } else if let Some(last) = out.last_mut().and_then(|p| p.failure.as_mut()) {
            last.more += 1 + f.more;
        }
    }
    out
}

/// The `todo!()` texts in the programs' stderr, with their node.
fn holes(record: &Record) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, n) in record.nodes.iter().enumerate() {
        for h in holes_in(&n.texts(Stream::Stderr)) {
            out.push((i, h));
        }
    }
    out
}

/// The texts of `todo!()` panics in a program's stderr.
pub fn holes_in(stderr: &[&str]) -> Vec<String> {
    stderr
        .iter()
        .filter_map(|l| crate::run::record::hole_in(l))
        .collect()
}

/// The message of a Rust panic in a program's stderr, if any.
fn panic_in(stderr: &[&str]) -> Option<String> {
    let i = stderr.iter().position(|l| l.contains("panicked at"))?;
    let msg = stderr
        .get(i + 1)
        .filter(|m| !m.starts_with("note:"))
        .map(|m| m.to_string())
        .unwrap_or_default();
    let at = stderr[i]
        .split("panicked at")
        .nth(1)
        .unwrap_or("")
        .trim()
        .trim_end_matches(':');
    Some(if msg.is_empty() {
        format!("a panic at {at}")
    } else {
        format!("{msg} (at {at})")
    })
}

/// Crash, flood and leftovers of one program.
fn program(record: &Record, i: usize) -> Vec<Check> {
    let name = record.nodes[i].name.as_str();
    let err = record.nodes[i].texts(Stream::Stderr);
    let mut out = Vec::new();
    out.push(match panic_in(&err) {
        Some(panic) => fail(
            Kind::CRASH,
            Some(name),
            Failure::new(format!("{name} crashed: {panic}")).showing(i, &[Stream::Stderr]),
        ),
        None => pass(Kind::CRASH, Some(name)),
    });
    let flood = record.events_where(|w| match w {
        What::Flooded { stream, limit } => Some((*stream, *limit)),
        _ => None,
    });
    match flood
        .filter(|(n, _, _)| *n == Some(i))
        .map(|(_, _, f)| f)
        .next()
    {
        Some((stream, limit)) => out.push(fail(
            Kind::FLOOD,
            Some(name),
            Failure::new(format!(
                "{name} printed more than {} on {stream}; the grader stopped it",
                bytes(limit)
            )),
        )),
        None => out.push(pass(Kind::FLOOD, Some(name))),
    }
    let mut limit = record.events_where(|w| match w {
        What::LimitExceeded { limit } => Some(*limit),
        _ => None,
    });
    match limit.find(|(n, _, _)| *n == Some(i)) {
        Some((_, at, limit)) => out.push(fail(
            Kind::LIMIT,
            Some(name),
            Failure::new(format!("{name} exceeded its {limit}; the grader killed it"))
                .at(Place::Time(at)),
        )),
        None => out.push(pass(Kind::LIMIT, Some(name))),
    }
    let mut left = record.events_where(|w| match w {
        What::LeftBehind {
            strays,
            total,
            on_exit,
            escaped,
        } => Some((strays.clone(), *total, *on_exit && !*escaped)),
        _ => None,
    });
    match left.find(|(n, _, _)| *n == Some(i)) {
        Some((_, at, (strays, total, on_exit))) => {
            let list: Vec<String> = strays
                .iter()
                .map(|s| format!("pid {}, `{}`", s.pid, s.command))
                .collect();
            let more = if total > strays.len() {
                format!("; and {} more", total - strays.len())
            } else {
                String::new()
            };
            let (them, it) = if total == 1 {
                ("a background process", "it")
            } else {
                ("background processes", "them")
            };
            let summary = if on_exit {
                format!(
                    "{name} exited but left {} of its own running: {}{more}; the grader killed {it}",
                    processes(total),
                    list.join("; ")
                )
            } else {
                format!(
                    "{name} left {} running: {}{more}; the grader killed {it}",
                    if total == 1 {
                        them.to_string()
                    } else {
                        format!("{total} {them}")
                    },
                    list.join("; ")
                )
            };
            out.push(fail(
                Kind::LEFTOVERS,
                Some(name),
                Failure::new(summary).at(Place::Time(at)).note(
                    "a lab program starts no process that outlives it: no `&`, no daemon, no fork left running",
                ),
            ));
        }
        None => out.push(pass(Kind::LEFTOVERS, Some(name))),
    }
    out
}

/// Whether node `i` kept to the send rate; a node that went over it
/// flooded the network. The totals are the whole run's.
fn send_rate(record: &Record, i: usize) -> Option<Check> {
    let node = &record.nodes[i];
    let name = node.name.as_str();
    let over = record
        .events_where(|w| match w {
            What::SendRateExceeded { limit } => Some(*limit),
            _ => None,
        })
        .find(|(n, _, _)| *n == Some(i));
    let Some((_, at, limit)) = over else {
        return Some(pass(Kind::SEND_RATE, Some(name)));
    };
    let s = record.traffic.senders[i];
    let who = if node.script {
        format!("the grader's {name}")
    } else {
        name.to_string()
    };
    Some(fail(
        Kind::SEND_RATE,
        Some(name),
        Failure::new(format!(
            "{who} sent {} datagram{} in {}: flooding (limit {limit} a second)",
            s.sent,
            if s.sent == 1 { "" } else { "s" },
            seconds(s.last.saturating_sub(s.first)),
        ))
        .note(format!(
            "the proxy passed on at most {limit} in any one second and refused the other {}; the grader ended the test when the rate was first exceeded, at {} ms",
            s.refused,
            at.as_millis()
        ))
        .note("send a datagram when there is a reason to (a request, a reply, a retransmission after its timeout); a loop around sendto(2) that never waits floods the network")
        .at(Place::Time(at)),
    ))
}

/// "1 process", "3 processes".
pub(crate) fn processes(n: usize) -> String {
    if n == 1 {
        "1 process".to_string()
    } else {
        format!("{n} processes")
    }
}

/// A duration as a report says it: `40 ms`, `1.5 s`, `2 s`, `12 s`.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if s >= 10.0 || (s - s.round()).abs() < 0.05 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

fn bytes(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// A scripted peer's result; one that the end of a run cut short
/// interrupted is not judged.
fn scripted(record: &Record, i: usize, cut_short: bool) -> Vec<Check> {
    let name = record.nodes[i].name.as_str();
    let ended = record.events_where(|w| match w {
        What::ScriptEnded { error } => Some(error.clone()),
        _ => None,
    });
    let error = ended
        .filter(|(n, _, _)| *n == Some(i))
        .map(|(_, at, e)| (at, e))
        .next();
    match error {
        // The end of the test, or its time limit, which the failed step
        // reports as the cause.
        Some((_, Some(e)))
            if cut_short && (e.actual == script::ENDED || e.actual == script::TIME_UP) =>
        {
            Vec::new()
        }
        Some((at, Some(e))) => vec![fail(
            Kind::SCRIPT,
            Some(name),
            script_failure(name, &e).at(Place::Time(at)),
        )],
        Some((_, None)) => vec![pass(Kind::SCRIPT, Some(name))],
        None => Vec::new(),
    }
}

fn script_failure(name: &str, e: &ScriptError) -> Failure {
    if e.actual == script::ENDED {
        return Failure::new(format!(
            "the grader's {name} had not finished its script when the test ended (it was at step {})",
            e.step
        ))
        .note("the spec should wait for it with `wait_exit`");
    }
    Failure {
        expected: Some(e.expected.clone()),
        actual: Some(e.actual.clone()),
        ..Failure::new(format!(
            "the grader's {name} stopped at step {} of its script ({})",
            e.step, e.kind
        ))
    }
}

/// The step that could not be carried out, and CPU measurements.
fn steps(test: &TestSpec, record: &Record) -> Vec<Check> {
    let mut out = Vec::new();
    let name = |i: usize| record.nodes[i].name.as_str();
    let limit = test_limit(record);
    for (node, failed_at, (index, problem)) in record.events_where(|w| match w {
        What::StepFailed { index, problem } => Some((*index, problem.clone())),
        _ => None,
    }) {
        let step = &test.steps[index];
        let subject = node.or_else(|| step_node(test, step));
        let who = subject.map_or("", name).to_string();
        let all = [Stream::Stderr, Stream::Stdout];
        // "exited with exit code 1", "was killed by SIGSEGV".
        let exited = |i: Option<usize>| {
            (i.and_then(|i| record.exit_of(i))).map_or("exited".to_string(), |(_, s)| s.verb())
        };
        let f = match &problem {
            Problem::CannotStart { program, error } => {
                Failure::new(format!("cannot start {who} ({program}): {error}"))
            }
            Problem::ExitedBeforeBinding { port } => Failure::new(format!(
                "{who} {} before binding UDP port {port} (its first argument)",
                exited(subject)
            ))
            .showing_if(subject, &all),
            Problem::NeverBound {
                port,
                instead,
                startup,
            } => Failure::new(format!(
                "{who} did not bind UDP port {port} (its first argument) within its start-up limit ({}, limits.startup){}",
                crate::spec::Dur(*startup),
                match instead.as_slice() {
                    [] => String::new(),
                    [p] => format!("; it bound UDP port {p} instead"),
                    ps => format!(
                        "; it bound UDP ports {} instead",
                        ps.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
                    ),
                }
            ))
            .showing_if(subject, &all),
            Problem::NotExited => match subject {
                Some(s) if record.nodes[s].script => Failure::new(format!(
                    "the grader's {who} did not finish its script within the test's time limit ({limit})"
                )),
                Some(s) => Failure::new(format!(
                    "{who} did not exit within the test's time limit ({limit})"
                ))
                .showing(s, &all),
                None => Failure::new("a step did not finish within the test's time limit"),
            },
            Problem::NotStopped {
                signal,
                within,
                waited,
                time_up,
            } => {
                let signal = format!(
                    "{signal}{}",
                    if *signal == nix::sys::signal::Signal::SIGINT {
                        " (Ctrl+C)"
                    } else {
                        ""
                    }
                );
                let within = crate::spec::Dur(*within);
                if *time_up {
                    Failure::new(format!(
                        "the test's time limit ({limit}) passed {} after the grader sent {who} {signal}, before {who} exited; it had {within} to",
                        seconds(*waited)
                    ))
                    .note("the steps before this one took the test's time: see the timeline (-v)")
                } else {
                    Failure::new(format!("{who} did not exit within {within} of {signal}"))
                }
                .showing_if(subject, &all)
            }
            Problem::AlreadyExited => Failure::new(format!(
                "{who} {} before the grader could stop it",
                (subject.and_then(|s| record.exit_of(s)))
                    .map_or("had exited".to_string(), |(_, s)| s.had())
            ))
            .showing_if(subject, &[Stream::Stderr]),
            Problem::NoOutput {
                pattern,
                stream,
                closed,
            } => {
                let f = Failure::new(format!(
                    "{who} never printed a line matching `{pattern}` on {stream}"
                ))
                .showing_if(subject, &[*stream]);
                let exit = (subject.and_then(|s| record.exit_of(s)))
                    .filter(|&(at, _)| at <= failed_at);
                if *closed {
                    f.note(match exit {
                        Some((_, status)) => format!("it {} first", status.verb()),
                        None => "it closed its stdout and stderr first".to_string(),
                    })
                } else {
                    f.note(format!("the grader waited until the test's time limit ({limit})"))
                }
            }
            Problem::NotSent {
                from,
                to,
                kind,
                count,
                seen,
            } => {
                let s = if *seen == 1 { "" } else { "s" };
                let what = kind.map_or(format!("datagram{s}"), |k| format!("{}{s}", k.name()));
                let until = match record.exit_of(*from) {
                    Some((_, status))
                        if record.clock.reading(failed_at) < record.clock.limit =>
                    {
                        format!("it {}", status.verb())
                    }
                    _ => format!("the test's time limit ({limit}) passed"),
                };
                Failure::new(format!(
                    "{} sent {seen} {what} to {}; the test waited for {count}, until {until}",
                    name(*from),
                    name(*to)
                ))
                .showing(*from, &all)
            }
            Problem::ExitedWhileIdle => Failure::new(format!(
                "{who} {} while the grader watched it idle",
                exited(subject)
            ))
            .showing_if(subject, &all),
            Problem::Unanswered { node, key, why } => Failure::new(format!(
                "{} did not answer the grader's READ_REQ for key {key} {why}",
                name(*node),
            ))
            .note("at the end of the test the grader reads every key from every replica: each must answer READ_REQ with READ_REP and the value it holds")
            .showing(*node, &[Stream::Stderr]),
            Problem::TimeUp => Failure::new(match step {
                Step::Idle { window, .. } => format!(
                    "the test's time limit ({limit}) passed while the grader watched {who} idle, before its window of {window} ended: its CPU use was not measured"
                ),
                Step::Sleep(d) => format!(
                    "the test's time limit ({limit}) passed during `sleep: {d}`"
                ),
                _ => format!("the test's time limit ({limit}) passed during this step"),
            }),
            Problem::NoKeys { keys } => Failure::new(format!(
                "the grader had no key to read back: nothing on the wire was {keys}"
            )),
        };
        out.push(fail(
            Kind::STEP,
            subject.map(name),
            started_slowly(record, failed_at, f).at(Place::Step(index)),
        ));
    }
    for step in &test.steps {
        let Step::Idle { node, max_cpu, .. } = step else {
            continue;
        };
        let n = record.node_index(node);
        let measured = record
            .events_where(|w| match w {
                What::CpuMeasured { window, percent } => Some((*window, *percent)),
                _ => None,
            })
            .find(|(who, _, _)| *who == n);
        let Some((_, at, (window, percent))) = measured else {
            continue;
        };
        out.push(if percent > *max_cpu {
            fail(
                Kind::IDLE_CPU,
                Some(node),
                Failure::new(format!(
                    "{node} used {percent:.0}% of a CPU while idle for {} ms (at most {max_cpu:.0}% allowed): poll(2) with a zero timeout, or a loop around a non-blocking socket, is busy polling",
                    window.as_millis()
                ))
                .note("a program with nothing to do must block: in poll(2) with a timeout of -1 or until its next deadline, or in a blocking recvfrom(2)")
                .at(Place::Time(at)),
            )
        } else {
            pass(Kind::IDLE_CPU, Some(node))
        });
    }
    out
}

/// The node a step is about.
fn step_node(test: &TestSpec, step: &Step) -> Option<usize> {
    let name = match step {
        Step::Start(n)
        | Step::WaitExit(n)
        | Step::Pause(n)
        | Step::Resume(n)
        | Step::Kill(n)
        | Step::Restart(n) => n,
        Step::Query(q) => &q.by,
        Step::Stop(s) => &s.node,
        Step::Signal { node, .. } | Step::WaitOutput { node, .. } | Step::Idle { node, .. } => node,
        Step::WaitSent { from, .. } => from,
        Step::Sleep(_)
        | Step::Partition(_)
        | Step::Heal
        | Step::Cut(_)
        | Step::HealLink(_)
        | Step::Faults(_) => return None,
    };
    test.index(name)
}

/// The test's time limit as the report says it.
fn test_limit(record: &Record) -> String {
    crate::spec::Dur(record.clock.limit).to_string()
}

/// `f`, for a step that failed at `at`, with a note on the time programs
/// took to start when the test's time limit had passed by then and the
/// start-ups were long enough to matter: the test lasted longer than its
/// limit says, and a person should see why (see [`crate::run::clock`]).
fn started_slowly(record: &Record, at: Duration, f: Failure) -> Failure {
    let starting = record.clock.standing(at);
    if record.clock.reading(at) < record.clock.limit || starting < STARTUP_WORTH_SAYING {
        return f;
    }
    f.note(format!(
        "the test's clock stood still for the {} its programs took to start (limits.startup); its time limit counts the rest",
        seconds(starting)
    ))
}

/// Start-up time a report mentions: below it, a person would only wonder
/// why it is there.
const STARTUP_WORTH_SAYING: Duration = Duration::from_millis(500);

/// One program's `expect`.
fn expect(record: &Record, i: usize, e: &NodeExpect) -> Vec<Check> {
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
        let killed_at_end = record
            .events
            .iter()
            .any(|ev| ev.node == Some(i) && matches!(ev.what, What::KilledAtEnd));
        out.push(match record.exit_of(i) {
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
        });
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
        let Some(items) = items else { continue };
        let lines = node.texts(stream);
        let r = if exact {
            transcript::match_exact(items, &lines, &vars)
        } else {
            transcript::match_includes(items, &lines, &vars)
        };
        out.push(match r {
            Ok(()) => pass(kind, Some(name)),
            Err(m) => {
                let what = if exact {
                    ""
                } else {
                    " (lines that must appear)"
                };
                fail(
                    kind,
                    Some(name),
                    Failure {
                        expected: Some(m.expected.clone()),
                        actual: Some(m.actual.clone()),
                        notes: m
                            .note
                            .iter()
                            .flat_map(|n| n.lines())
                            .map(str::to_string)
                            .collect(),
                        ..Failure::new(format!("{name} {stream}{what} differs at line {}", m.line))
                    }
                    .at(Place::Line {
                        stream,
                        line: m.line,
                    }),
                )
            }
        });
    }
    for number in &e.numbers {
        out.push(number_check(record, i, number));
    }
    if let Some(other) = &e.stdout_same_as
        && let Some(j) = record.node_index(other)
    {
        out.push(same_stdout(record, i, j));
    }
    out
}

/// A `numbers` check: the number in the last line that matches, against
/// its bounds.
fn number_check(record: &Record, i: usize, c: &NumberCheck) -> Check {
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
fn exit_failure(record: &Record, i: usize, want: ExitExpect, status: Ended) -> Failure {
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

fn exit_ok(want: ExitExpect, status: Ended) -> bool {
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

fn same_stdout(record: &Record, i: usize, j: usize) -> Check {
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
mod tests {
    use super::*;

    #[test]
    fn holes_are_found_in_panic_messages() {
        let err = [
            "thread 'main' panicked at src/socket.rs:12:5:",
            "not yet implemented: bind the server socket",
        ];
        assert_eq!(holes_in(&err), ["bind the server socket"]);
        assert_eq!(
            holes_in(&["not yet implemented"]),
            ["(a todo!() without text)"]
        );
        assert!(holes_in(&["all fine"]).is_empty());
    }

    #[test]
    fn a_panic_is_summarised() {
        let err = [
            "thread 'main' panicked at src/main.rs:3:5:",
            "index out of bounds",
        ];
        assert_eq!(
            panic_in(&err).unwrap(),
            "index out of bounds (at src/main.rs:3:5)"
        );
    }

    fn failed(kind: Kind, node: &str, i: usize) -> Check {
        fail(kind, Some(node), Failure::new(format!("failure {i}")))
    }

    #[test]
    fn a_long_row_of_alike_failures_is_listed_in_part_and_counted() {
        let mut checks: Vec<Check> = (0..1000)
            .map(|i| failed(wire::answered::KIND, "server", i))
            .collect();
        checks.push(failed(wire::answered::KIND, "client", 0));
        checks.extend((0..30).map(|i| failed(wire::length::KIND, "server", i)));
        checks.push(pass(wire::count::KIND, Some("server")));
        let out = fold_alike(checks);
        assert_eq!(out.len(), LISTED_ALIKE + 1 + LISTED_ALIKE + 1);
        let listed = &out[LISTED_ALIKE - 1];
        assert_eq!(
            listed
                .failure
                .as_ref()
                .map(|f| (f.summary.as_str(), f.more)),
            Some((
                format!("failure {}", LISTED_ALIKE - 1).as_str(),
                1000 - LISTED_ALIKE
            ))
        );
        let client = out[LISTED_ALIKE].failure.as_ref().unwrap();
        assert_eq!(client.more, 0);
        let length = out[2 * LISTED_ALIKE].failure.as_ref().unwrap();
        assert_eq!(length.more, 30 - LISTED_ALIKE);
        assert!(out.last().unwrap().failure.is_none());
    }

    #[test]
    fn durations_read_as_seconds() {
        assert_eq!(seconds(Duration::from_millis(400)), "400 ms");
        assert_eq!(seconds(Duration::from_millis(2020)), "2 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(seconds(Duration::from_millis(12_340)), "12 s");
    }

    #[test]
    fn a_failed_step_about_no_node_shows_no_node_s_output() {
        use crate::run::record::{Event, NodeRecord, Traffic};
        let spec = crate::spec::LabSpec::parse(
            std::path::Path::new("spec.yaml"),
            "lab: hw1\ntitle: t\nbinaries: [server]\ntests:\n  - name: x\n    description: d\n    nodes:\n      - { name: server, run: server, args: ['{port}'] }\n    steps: [{ start: server }, { sleep: 1s }]\n",
        )
        .unwrap();
        let ms = Duration::from_millis;
        let problem = Problem::NoOutput {
            pattern: "x".into(),
            stream: Stream::Stdout,
            closed: true,
        };
        let record = Record {
            test: "x".into(),
            seed: 0,
            nodes: vec![NodeRecord::new("server")],
            events: vec![Event {
                at: ms(10),
                node: None,
                what: What::StepFailed { index: 1, problem },
            }],
            traffic: Traffic::of(1, &[]),
            datagrams: Vec::new(),
            duration: ms(10),
            vars: Default::default(),
            queries: Vec::new(),
            clock: crate::run::clock::Clock::new(Duration::from_secs(10), Duration::from_secs(10)),
        };
        let v = verdict(&spec.tests[0], &record);
        let step = v.failures().find(|c| c.kind == Kind::STEP).unwrap();
        assert!(
            step.failure.as_ref().unwrap().show.is_empty(),
            "the server's output is not this step's: {:?}",
            step.failure
        );
    }

    #[test]
    fn a_flood_is_the_failure_and_the_wire_is_not_judged() {
        use crate::run::record::{Datagram, Fate, NodeRecord, Traffic};
        let spec = crate::spec::LabSpec::parse(
            std::path::Path::new("spec.yaml"),
            "lab: hw1\ntitle: t\nbinaries: [server, client]\ntests:\n  - name: x\n    description: d\n    nodes:\n      - { name: server, run: server, args: ['{port}'] }\n      - { name: client, run: client }\n    steps: [{ start: server }, { start: client }, { wait_exit: client }]\n    expect:\n      client: { exit: 0 }\n    wire:\n      - answered: { by: server, request: READ_REQ, reply: READ_REP }\n",
        )
        .unwrap();
        let ms = Duration::from_millis;
        let request = handout::Message::new(handout::MsgType::ReadReq, "K", "").unwrap();
        let log: Vec<Datagram> = (0..12)
            .map(|i| Datagram {
                sent: ms(100 + i * 125),
                from: 1,
                to: 0,
                bytes: request.encode(),
                fate: if i < 10 {
                    Fate::Delivered
                } else {
                    Fate::Refused
                },
                delays: vec![],
                delivered: vec![],
                rule: None,
            })
            .collect();
        let event = |at: u64, node: usize, what: What| crate::run::record::Event {
            at: ms(at),
            node: Some(node),
            what,
        };
        let started = || What::Started {
            command: vec![],
            pid: 1,
        };
        let record = Record {
            test: "x".into(),
            seed: 0,
            nodes: vec![NodeRecord::new("server"), NodeRecord::new("client")],
            events: vec![
                event(0, 0, started()),
                event(50, 1, started()),
                event(1350, 1, What::SendRateExceeded { limit: 10 }),
                event(1400, 0, What::KilledAtEnd),
                event(1400, 1, What::KilledAtEnd),
            ],
            traffic: Traffic::of(2, &log),
            datagrams: log,
            duration: ms(1400),
            vars: Default::default(),
            queries: Vec::new(),
            clock: crate::run::clock::Clock::new(Duration::from_secs(10), Duration::from_secs(10)),
        };
        let v = verdict(&spec.tests[0], &record);
        assert_eq!(v.status, Status::Failed);
        let failed: Vec<(Kind, &str)> = v
            .failures()
            .map(|c| (c.kind, c.failure.as_ref().unwrap().summary.as_str()))
            .collect();
        assert_eq!(
            failed,
            [(
                Kind::SEND_RATE,
                "client sent 12 datagrams in 1.4 s: flooding (limit 10 a second)"
            )],
            "the exit status of a killed client and the unanswered requests only repeat the cause"
        );
        let f = v.failures().next().unwrap().failure.clone().unwrap();
        assert!(f.notes[0].contains("refused the other 2"), "{:?}", f.notes);
    }
}
