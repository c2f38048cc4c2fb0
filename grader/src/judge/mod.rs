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
//! - this file: the verdict and its order;
//! - [`process`]: checks on processes (holes, crashes, floods, leftovers,
//!   limits) and scripted peers;
//! - [`steps`]: the step that could not be carried out, and `idle`;
//! - [`expect`]: each program's `expect`;
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

use crate::run::record::{Record, What};
use crate::spec::{Stream, TestSpec};

use expect::expect;
pub(crate) use expect::transcript_vars;
pub use process::holes_in;
pub(crate) use process::processes;
use process::{holes, program, scripted, send_rate};
use steps::steps;

pub mod balance;
pub mod causal;
pub mod expect;
pub mod flow;
pub mod linear;
pub mod model;
pub mod process;
pub mod replicas;
pub mod steps;
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
    /// Requests a second under a load, beside the grader's own server.
    pub const SPEED: Kind = Kind("speed");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::record::Problem;
    use process::{panic_in, seconds};
    use std::time::Duration;

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

    /// A lab spec with one test `x` of one node, `server`, and `steps`.
    fn spec_with_steps(steps: &str) -> crate::spec::LabSpec {
        crate::spec::LabSpec::parse(
            std::path::Path::new("spec.yaml"),
            &format!(
                "lab: hw1\ntitle: t\nbinaries: [server]\ntests:\n  - name: x\n    description: d\n    nodes:\n      - {{ name: server, run: server, args: ['{{port}}'] }}\n    steps: {steps}\n"
            ),
        )
        .unwrap()
    }

    /// A record of test `x` with one node, `server`, no datagram, and
    /// `events` (`(at in ms, node, what)`), ending at `end` ms.
    fn record_of(events: Vec<(u64, Option<usize>, What)>, end: u64) -> Record {
        use crate::run::record::{Event, NodeRecord, Traffic};
        let ms = Duration::from_millis;
        Record {
            test: "x".into(),
            seed: 0,
            nodes: vec![NodeRecord::new("server")],
            events: (events.into_iter())
                .map(|(at, node, what)| Event {
                    at: ms(at),
                    node,
                    what,
                })
                .collect(),
            traffic: Traffic::of(1, &[]),
            datagrams: Vec::new(),
            forged: Vec::new(),
            duration: ms(end),
            vars: Default::default(),
            queries: Vec::new(),
            clock: crate::run::clock::Clock::new(Duration::from_secs(10), Duration::from_secs(10)),
        }
    }

    /// The verdicts of two `idle` steps that measured `first` and `second`.
    fn idle_verdicts(first: What, second: What) -> Vec<Option<String>> {
        let spec = spec_with_steps(
            "[{ start: server }, { idle: { node: server, for: 1s } }, { idle: { node: server, for: 1s } }]",
        );
        let record = record_of(
            vec![
                (0, None, What::Step { index: 0 }),
                (10, None, What::Step { index: 1 }),
                (1010, Some(0), first),
                (1010, None, What::Step { index: 2 }),
                (2010, Some(0), second),
            ],
            2010,
        );
        let v = verdict(&spec.tests[0], &record);
        (v.checks.iter())
            .filter(|c| c.kind == Kind::IDLE_CPU)
            .map(|c| c.failure.as_ref().map(|f| f.summary.clone()))
            .collect()
    }

    /// The verdict of one `load` step (`at_least: 0.1`) that measured
    /// `node` requests a second beside a baseline of 50,000.
    fn speed_verdict(node_per_second: f64, answered: u64) -> Option<String> {
        use crate::run::record::Speed;
        let spec = spec_with_steps(
            "[{ start: server }, { load: { node: server, workload: echo, for: 1s, at_least: 0.1 } }]",
        );
        let speed = |per_second: f64, answered: u64, p50: u64| Speed {
            answered,
            lost: 3,
            wrong: 0,
            elapsed: Duration::from_millis(1000),
            per_second,
            p50: Duration::from_micros(p50),
            p99: Duration::from_micros(p50 * 4),
        };
        let measured = What::LoadMeasured {
            clients: 4,
            node: speed(node_per_second, answered, 1100),
            baseline: speed(50_000.0, 50_000, 60),
        };
        let record = record_of(
            vec![
                (0, None, What::Step { index: 0 }),
                (10, None, What::Step { index: 1 }),
                (2010, Some(0), measured),
            ],
            2010,
        );
        let v = verdict(&spec.tests[0], &record);
        let mut speed = (v.checks.iter()).filter(|c| c.kind == Kind::SPEED);
        let check = speed.next().expect("a speed check");
        assert!(speed.next().is_none());
        check.failure.as_ref().map(|f| f.summary.clone())
    }

    /// Below its share of the baseline a server fails, with both figures;
    /// at or above it, it passes; answering nothing fails too.
    #[test]
    fn a_load_step_compares_with_the_baseline_of_the_same_run() {
        let slow = speed_verdict(900.0, 900).expect("900 a second is below 5000");
        assert!(
            slow.contains("server answered 900 requests a second (p50 1.10 ms, p99 4.40 ms)"),
            "{slow}"
        );
        assert!(
            slow.contains("answered 50000 requests a second (p50 0.06 ms, p99 0.24 ms)"),
            "{slow}"
        );
        assert!(
            slow.contains("at least 10% of that (5000 a second)"),
            "{slow}"
        );
        assert_eq!(speed_verdict(5000.0, 5000), None);
        assert_eq!(speed_verdict(30_000.0, 30_000), None);
        let none = speed_verdict(0.0, 0).expect("no answer fails");
        assert!(
            none.contains("answered none of the grader's requests"),
            "{none}"
        );
    }

    fn cpu(percent: f64, busy: Option<f64>, wakeups: Option<u64>) -> What {
        What::CpuMeasured {
            window: Duration::from_millis(1000),
            percent,
            busy,
            wakeups,
        }
    }

    #[test]
    fn each_idle_step_is_judged_on_its_own_window() {
        let idle = idle_verdicts(cpu(50.0, None, None), cpu(2.0, None, None));
        assert!(idle[0].is_some() && idle[1].is_none(), "{idle:?}");
    }

    /// A spinning program on a machine whose cores are taken gets little
    /// CPU but asks for all of it: judged on what it asked for. One that
    /// wakes every millisecond uses little CPU, and fails for its wake-ups.
    #[test]
    fn idle_is_judged_on_what_a_program_asks_of_the_cpu() {
        let idle = idle_verdicts(
            cpu(6.0, Some(97.0), Some(300)),
            cpu(3.0, Some(4.0), Some(1000)),
        );
        assert_eq!(
            idle[0].as_deref(),
            Some(
                "server was running or waiting to run for 97% of 1000 ms while idle (it got 6% of a CPU) (at most 10% allowed): poll(2) with a zero timeout, or a loop around a non-blocking socket, is busy polling; it also woke up 300 times in 1000 ms while idle (300 a second; at most 50 allowed): a timeout of a few milliseconds is polling too"
            )
        );
        assert_eq!(
            idle[1].as_deref(),
            Some(
                "server woke up 1000 times in 1000 ms while idle (1000 a second; at most 50 allowed): a timeout of a few milliseconds in poll(2) or recvfrom(2), when nothing is pending, is polling too"
            )
        );
        // On a busy machine a program that wakes every millisecond waits
        // for a CPU after each wake-up: both causes are named.
        let both = idle_verdicts(
            cpu(3.0, Some(53.0), Some(1000)),
            cpu(30.0, Some(100.0), Some(40)),
        );
        let waker = both[0].as_deref().unwrap_or_default();
        assert!(
            waker.contains("is busy polling; it also woke up 1000 times"),
            "{waker}"
        );
        assert!(
            waker.contains("(1000 a second; at most 50 allowed)"),
            "{waker}"
        );
        let spinner = both[1].as_deref().unwrap_or_default();
        assert!(spinner.ends_with("is busy polling"), "{spinner}");
        let quiet = idle_verdicts(cpu(0.0, Some(0.1), Some(2)), cpu(0.0, None, None));
        assert_eq!(quiet, [None, None]);
    }

    #[test]
    fn a_failed_step_about_no_node_shows_no_node_s_output() {
        let spec = spec_with_steps("[{ start: server }, { sleep: 1s }]");
        let problem = Problem::NoOutput {
            pattern: "x".into(),
            stream: Stream::Stdout,
            closed: true,
        };
        let record = record_of(vec![(10, None, What::StepFailed { index: 1, problem })], 10);
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
            forged: Vec::new(),
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
