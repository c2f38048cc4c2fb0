//! The record of one run: a typed timeline, built while the test runs.
//!
//! Everything the grader learns about a run goes here, as data, at the
//! moment it happens, on one clock (time since the test started):
//!
//! - process events: a start with its command line, the signals the grader
//!   sent, an exit with its status, output cut off at the limit;
//! - every output line, with its time ([`NodeRecord::stdout`], `stderr`);
//! - every datagram the proxy saw: when it was sent, what the network did
//!   to it (delivered, duplicated, dropped, delayed by how much, by which
//!   rule, refused because its sender was flooding) and when each copy was
//!   delivered ([`Datagram`]);
//! - partitions and heals, CPU measurements, a sender going over the send
//!   rate, the steps and how a failing one failed.
//!
//! # A bounded record
//!
//! The record is bounded whatever a program does: output by `limits.output`
//! per stream, datagrams by `limits.datagrams` per test. Past that many, the
//! proxy goes on forwarding, but the record keeps no more entries: it only
//! counts them, in [`Traffic`], which counts every datagram per link, per
//! type, per sender and per rule. So [`Record::datagrams`] is always the
//! *first* datagrams of the run, in order, and [`Record::unkept`] says how
//! many came after. A packet capture with a count limit (`tcpdump -c`) or a
//! ring buffer does the same; keeping the start rather than the end keeps
//! the cause of a failure, which comes before its consequences.
//!
//! Whoever reads the record must say when what it judges was cut: counts
//! come from [`Traffic`] and stay exact; a check that reads datagrams one
//! by one ([`crate::judge::wire`]) says it could not see them all, and
//! fails, rather than pass on what it saw.
//!
//! The checks ([`crate::judge`]) judge a finished [`Record`]; every report
//! ([`crate::report`]) renders it. Nothing downstream parses text.
//!
//! While the test runs, the record lives behind a [`Recorder`]: the proxy,
//! the output readers, the reapers and the scripted peers append to it from
//! their threads, and anyone may wait for a condition on it (a line that
//! matches, a node that exits, a datagram delivered). That is the one way
//! the grader waits: on events, never a fixed sleep.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use handout::{DecodeError, Message, MsgType};
use nix::sys::signal::Signal;

use super::clock::Clock;
use crate::spec::Stream;

/// Everything that happened in one run of one test.
#[derive(Debug, Clone)]
pub struct Record {
    /// The test's name.
    pub test: String,
    /// The test's seed.
    pub seed: u64,
    /// The nodes, in the order of the spec.
    pub nodes: Vec<NodeRecord>,
    /// Process, step and network events, in time order.
    pub events: Vec<Event>,
    /// The datagrams the proxy saw, in the order it saw them: every one, or
    /// the first `limits.datagrams` when there were more (see [`Record::unkept`]).
    pub datagrams: Vec<Datagram>,
    /// Every datagram counted, kept in `datagrams` or not.
    pub traffic: Traffic,
    /// How long the run took.
    pub duration: Duration,
    /// The test's clock: its time limit, and when programs were starting
    /// (while the clock stood still).
    pub clock: Clock,
    /// The test's `vars`, as text.
    pub vars: std::collections::BTreeMap<String, String>,
    /// The answers of the test's `query` steps, in the order received.
    pub queries: Vec<QueryAnswer>,
}

/// One node of the run.
#[derive(Debug, Clone)]
pub struct NodeRecord {
    /// Its name in the spec.
    pub name: String,
    /// Whether the grader played it.
    pub script: bool,
    /// The node seed (`{seed}`).
    pub seed: u64,
    /// Its own port, if it has one (a listening program, a scripted node).
    pub port: Option<u16>,
    /// `faces[j]`: the port of the proxy through which it reaches node j
    /// (what `{peer:NAME}` stands for).
    pub faces: Vec<u16>,
    /// What it printed on stdout.
    pub stdout: Vec<Line>,
    /// What it printed on stderr.
    pub stderr: Vec<Line>,
    /// The group (`count`) it is a member of, and its number in it.
    pub member: Option<(String, usize)>,
}

impl NodeRecord {
    /// A program node called `name` that has done nothing yet.
    pub fn new(name: &str) -> NodeRecord {
        NodeRecord {
            member: None,
            name: name.to_string(),
            script: false,
            seed: 0,
            port: None,
            faces: Vec::new(),
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    /// The lines of one stream.
    pub fn lines(&self, stream: Stream) -> &[Line] {
        match stream {
            Stream::Stdout => &self.stdout,
            Stream::Stderr => &self.stderr,
        }
    }

    /// The texts of one stream's lines.
    pub fn texts(&self, stream: Stream) -> Vec<&str> {
        self.lines(stream).iter().map(|l| l.text.as_str()).collect()
    }

    /// Whether it is a program that binds a port of its own: it is ready
    /// once it has (see [`Clock`]).
    pub fn listens(&self) -> bool {
        !self.script && self.port.is_some()
    }
}

/// One line of output (a last line without its newline included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// When the grader read it.
    pub at: Duration,
    /// The text, invalid UTF-8 replaced by `�`.
    pub text: String,
}

/// Something that happened, when, and to which node.
#[derive(Debug, Clone)]
pub struct Event {
    /// Time since the test started.
    pub at: Duration,
    /// The node it concerns, if any.
    pub node: Option<usize>,
    /// What happened.
    pub what: What,
}

/// The kinds of [`Event`].
#[derive(Debug, Clone)]
pub enum What {
    /// The runner began step `index` (from 0) of the spec.
    Step {
        /// The step's place in the spec.
        index: usize,
    },
    /// A program was started with this command line.
    Started {
        /// The executable, then the arguments.
        command: Vec<String>,
        /// Its process id (and process group id).
        pid: i32,
    },
    /// A scripted node began its script.
    ScriptStarted,
    /// A listening program bound its port.
    Bound {
        /// The port.
        port: u16,
    },
    /// The grader sent a signal to the node's process group.
    Signalled {
        /// The signal.
        signal: Signal,
    },
    /// The program exited (recorded when the grader saw it, before it
    /// killed what the program left running: see [`What::LeftBehind`]).
    Exited {
        /// How.
        status: Ended,
    },
    /// The program printed more than the limit on a stream and was killed.
    Flooded {
        /// The stream.
        stream: Stream,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The program (with the processes it started) went past one of its
    /// limits; the grader killed them all.
    LimitExceeded {
        /// Which limit.
        limit: Limit,
    },
    /// When the program ended, processes it had started were still
    /// running; the grader killed them.
    LeftBehind {
        /// Some of them (at most [`STRAYS_KEPT`]).
        strays: Vec<Stray>,
        /// How many there were in all.
        total: usize,
        /// Whether the program had exited on its own (else the grader
        /// ended it, and these are what had left its process group).
        on_exit: bool,
        /// Whether every one of them had left the program's process
        /// group: daemons, in the background.
        escaped: bool,
    },
    /// The node sent more datagrams within one second than `limits.send_rate`:
    /// it is flooding. Recorded once, at its first datagram the proxy
    /// refused; from then on the proxy refuses what it sends beyond the
    /// rate, and the test ends, its outcome known. The totals (how many it
    /// sent, over how long, how many were refused) are its
    /// [`Traffic::senders`] entry.
    SendRateExceeded {
        /// `limits.send_rate`: datagrams a second.
        limit: u32,
    },
    /// The program was still running when the steps ended; the grader killed it.
    KilledAtEnd,
    /// The program stopped at an unfilled `todo!()`: nothing else it does
    /// can pass the test, so the test ends now.
    StoppedAtHole {
        /// The hole's text.
        hole: String,
    },
    /// A scripted node's script ended, well or not.
    ScriptEnded {
        /// Why it failed, if it did.
        error: Option<ScriptError>,
    },
    /// Two nodes were cut off from each other.
    Partitioned {
        /// One node.
        a: usize,
        /// The other.
        b: usize,
    },
    /// Every partition and every cut ended.
    Healed,
    /// One direction of a link was cut.
    Cut {
        /// Sender.
        from: usize,
        /// Receiver.
        to: usize,
    },
    /// One direction of a link was healed.
    LinkHealed {
        /// Sender.
        from: usize,
        /// Receiver.
        to: usize,
    },
    /// The random faults changed: of one link, or of every link.
    FaultsChanged {
        /// The link, if only one.
        link: Option<(usize, usize)>,
        /// The faults from now on (of every link: before the spec's `links`).
        faults: crate::spec::Faults,
    },
    /// The grader paused, resumed or killed a scripted node.
    ScriptHeld {
        /// `paused`, `resumed` or `killed`.
        how: &'static str,
    },
    /// A `query` read keys from nodes; the answers are in [`Record::queries`].
    Queried {
        /// Keys asked.
        keys: usize,
        /// Nodes asked.
        nodes: usize,
    },
    /// The CPU a program used over a window of the `idle` step.
    CpuMeasured {
        /// The window.
        window: Duration,
        /// Percent of one core.
        percent: f64,
    },
    /// Step `index` could not be carried out; the remaining steps were skipped.
    StepFailed {
        /// The step's place in the spec.
        index: usize,
        /// Why.
        problem: Problem,
    },
}

impl What {
    /// Whether this event decides the test, which then ends at once: a
    /// scripted peer whose script failed (not one the end of the test or
    /// its time limit interrupted), a node flooding the network, a program killed at a
    /// hard limit or for flooding its output. Whatever the runner was
    /// waiting for, the outcome is known.
    pub fn decides(&self) -> bool {
        match self {
            What::ScriptEnded { error: Some(e) } => {
                e.actual != super::script::ENDED && e.actual != super::script::TIME_UP
            }
            What::SendRateExceeded { .. }
            | What::LimitExceeded { .. }
            | What::Flooded { .. }
            | What::StoppedAtHole { .. } => true,
            _ => false,
        }
    }
}

/// The text of the `todo!()` a line of stderr reports, if it reports one:
/// Rust prints `not yet implemented: TEXT` when a program reaches one.
pub fn hole_in(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix("not yet implemented")?;
    let text = rest.trim_start_matches(':').trim();
    Some(if text.is_empty() {
        "(a todo!() without text)".to_string()
    } else {
        text.to_string()
    })
}

/// Why a step could not be carried out.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The program could not be started at all.
    CannotStart {
        /// The executable.
        program: String,
        /// What `posix_spawn(3)` said, explained.
        error: String,
    },
    /// The program exited before it bound its port.
    ExitedBeforeBinding {
        /// The port it was given.
        port: u16,
    },
    /// The program did not bind its port within its start-up limit.
    NeverBound {
        /// The port it was given.
        port: u16,
        /// The UDP ports it had bound instead.
        instead: Vec<u16>,
        /// The start-up limit (`limits.startup`).
        startup: Duration,
    },
    /// `wait_exit`: the node did not end by the time limit.
    NotExited,
    /// `stop`: the program did not exit after the signal.
    NotStopped {
        /// The signal.
        signal: Signal,
        /// How long it had.
        within: Duration,
        /// How long the grader waited (on the wall clock).
        waited: Duration,
        /// Whether the test's time limit passed before `within` did.
        time_up: bool,
    },
    /// `stop`: the program had already exited before the signal.
    AlreadyExited,
    /// `wait_output`: no line matched.
    NoOutput {
        /// The pattern.
        pattern: String,
        /// The stream.
        stream: Stream,
        /// Whether the program had closed its output (exited) first.
        closed: bool,
    },
    /// `wait_sent`: fewer datagrams than awaited.
    NotSent {
        /// Sender.
        from: usize,
        /// Receiver.
        to: usize,
        /// Only this type.
        kind: Option<MsgType>,
        /// How many were awaited.
        count: usize,
        /// How many came.
        seen: usize,
    },
    /// `idle`: the program exited during the window.
    ExitedWhileIdle,
    /// `sleep`, `idle`: the test's time limit passed before the step's
    /// own window did.
    TimeUp,
    /// `query`: a node never answered a read of a key.
    Unanswered {
        /// The node.
        node: usize,
        /// The key.
        key: String,
        /// Why no answer came: "within 2s", "before the test's time limit
        /// (10s) passed", ...
        why: String,
    },
    /// A step acted on a node no step had started (validation rules this
    /// out; the step fails rather than the grader).
    NotStarted,
    /// `query`: no datagram carried a key to ask for.
    NoKeys {
        /// The datagrams that were to carry them.
        keys: String,
    },
}

/// One answer of an end-state `query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryAnswer {
    /// The node asked.
    pub node: usize,
    /// The key.
    pub key: String,
    /// What it answered.
    pub value: String,
    /// When the answer arrived.
    pub at: Duration,
}

/// Why a scripted node's script failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// The step, from 1.
    pub step: usize,
    /// `recv`, `send` or `silence`.
    pub kind: &'static str,
    /// What the step expected.
    pub expected: String,
    /// What happened instead.
    pub actual: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step {} ({}): expected {}; {}",
            self.step, self.kind, self.expected, self.actual
        )
    }
}

/// How many left-behind processes a record names.
pub const STRAYS_KEPT: usize = 5;

/// A process a program left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stray {
    /// Its process id.
    pub pid: i32,
    /// Its command line, shortened.
    pub command: String,
}

/// A hard limit a program went past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Resident memory of the program and its processes.
    Memory(crate::spec::Size),
    /// Processes and threads at once.
    Processes(u32),
    /// CPU time of one process.
    Cpu(crate::spec::Dur),
}

impl fmt::Display for Limit {
    /// As a report says it: "memory limit of 256 MiB".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Memory(s) => write!(f, "memory limit of {s}"),
            Limit::Processes(n) => write!(f, "limit of {n} processes and threads"),
            Limit::Cpu(d) => write!(f, "CPU limit of {d}"),
        }
    }
}

/// How a program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl Ended {
    /// The exit code, if it exited on its own.
    pub fn code(self) -> Option<i32> {
        match self {
            Ended::Code(c) => Some(c),
            Ended::Signal(_) => None,
        }
    }

    /// The signal that killed it, if one did.
    pub fn signal(self) -> Option<Signal> {
        match self {
            Ended::Code(_) => None,
            Ended::Signal(s) => Signal::try_from(s).ok(),
        }
    }

    /// How it ended, as the verb of a sentence about the program:
    /// "exited with exit code 1", "was killed by SIGSEGV".
    pub fn verb(self) -> String {
        match self {
            Ended::Code(_) => format!("exited with {self}"),
            Ended::Signal(_) => format!("was {self}"),
        }
    }

    /// The same after "had": "had exited with exit code 1", "had been
    /// killed by SIGSEGV".
    pub fn had(self) -> String {
        match self {
            Ended::Code(_) => format!("had exited with {self}"),
            Ended::Signal(_) => format!("had been {self}"),
        }
    }
}

impl fmt::Display for Ended {
    /// As a person would say it: "exit code 1", "killed by SIGSEGV".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::Code(c) => write!(f, "exit code {c}"),
            Ended::Signal(s) => match Signal::try_from(*s) {
                Ok(sig) => write!(f, "killed by {sig}"),
                Err(_) => write!(f, "killed by signal {s}"),
            },
        }
    }
}

/// One datagram as the proxy saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Datagram {
    /// When the proxy received it from its sender.
    pub sent: Duration,
    /// Index of the sending node.
    pub from: usize,
    /// Index of the receiving node.
    pub to: usize,
    /// The bytes sent.
    pub bytes: Vec<u8>,
    /// What the network did with it.
    pub fate: Fate,
    /// For each copy on its way: how long the network held it.
    pub delays: Vec<Duration>,
    /// When each copy left the proxy for the receiver.
    pub delivered: Vec<Duration>,
    /// The spec's rule (its index in `network.rules`) that decided its fate, if one did.
    pub rule: Option<usize>,
}

impl Datagram {
    /// The datagram decoded as a record.
    ///
    /// # Errors
    /// Why it is not one.
    pub fn message(&self) -> Result<Message, DecodeError> {
        Message::decode(&self.bytes)
    }

    /// Its message type, read from the first byte alone.
    pub fn kind(&self) -> Option<MsgType> {
        self.bytes.first().and_then(|&b| MsgType::from_code(b))
    }
}

/// What the network did with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Delivered once (perhaps late).
    Delivered,
    /// Delivered twice.
    Duplicated,
    /// Lost on purpose (a rule, or the link's drop probability).
    Dropped,
    /// Lost because a partition separates the nodes.
    Partitioned,
    /// The receiver has no address yet (it never sent anything and has no port).
    Undeliverable,
    /// Refused before the network: its sender had already sent
    /// `limits.send_rate` datagrams in the last second.
    Refused,
}

impl Fate {
    /// How many copies reach the receiver.
    pub fn copies(self) -> usize {
        match self {
            Fate::Delivered => 1,
            Fate::Duplicated => 2,
            _ => 0,
        }
    }

    /// A word for reports: `delivered`, `duplicated`, `dropped`, ...
    pub fn name(self) -> &'static str {
        match self {
            Fate::Delivered => "delivered",
            Fate::Duplicated => "duplicated",
            Fate::Dropped => "dropped",
            Fate::Partitioned => "partitioned",
            Fate::Undeliverable => "undeliverable",
            Fate::Refused => "refused",
        }
    }
}

/// Every datagram of a run, counted: the record keeps at most
/// `limits.datagrams` of them, these counts cover them all. Each count is
/// one addition per datagram, so a flood costs no memory here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Traffic {
    /// `links[from][to]`: the datagrams of each link.
    pub links: Vec<Vec<LinkCount>>,
    /// Per node: what it sent.
    pub senders: Vec<Sending>,
    /// Per rule of the network, by its index: the datagrams it decided.
    pub fired: Vec<usize>,
}

/// The datagrams of one link (an ordered pair of nodes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkCount {
    /// Every datagram the proxy received on the link.
    pub all: usize,
    /// Of them, per message type (read from the first byte), in code order.
    pub by_type: [usize; MsgType::ALL.len()],
    /// What the network did with the last of them.
    pub last: Option<Fate>,
}

impl LinkCount {
    /// The datagrams of type `kind`, or all of them.
    pub fn of(&self, kind: Option<MsgType>) -> usize {
        kind.map_or(self.all, |k| self.by_type[k as usize])
    }
}

/// What one node sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sending {
    /// Datagrams the proxy received from it, passed on or refused.
    pub sent: usize,
    /// Of them, refused because it went over `limits.send_rate`.
    pub refused: usize,
    /// When its first datagram arrived.
    pub first: Duration,
    /// When its last datagram arrived.
    pub last: Duration,
}

impl Traffic {
    /// No datagram yet, between `nodes` nodes.
    pub fn new(nodes: usize) -> Traffic {
        Traffic {
            links: vec![vec![LinkCount::default(); nodes]; nodes],
            senders: vec![Sending::default(); nodes],
            fired: Vec::new(),
        }
    }

    /// The counts of `datagrams` between `nodes` nodes, as if the proxy had
    /// seen just these.
    pub fn of(nodes: usize, datagrams: &[Datagram]) -> Traffic {
        let mut t = Traffic::new(nodes);
        for d in datagrams {
            t.count(d);
        }
        t
    }

    /// Every datagram the proxy received.
    pub fn received(&self) -> usize {
        self.senders.iter().map(|s| s.sent).sum()
    }

    /// Counts one datagram.
    fn count(&mut self, d: &Datagram) {
        let link = &mut self.links[d.from][d.to];
        link.all += 1;
        if let Some(k) = d.kind() {
            link.by_type[k as usize] += 1;
        }
        link.last = Some(d.fate);
        let s = &mut self.senders[d.from];
        if s.sent == 0 {
            s.first = d.sent;
        }
        s.sent += 1;
        s.last = d.sent;
        if d.fate == Fate::Refused {
            s.refused += 1;
        }
        if let Some(r) = d.rule {
            if self.fired.len() <= r {
                self.fired.resize(r + 1, 0);
            }
            self.fired[r] += 1;
        }
    }
}

impl Record {
    /// A finished record of test `t` with these nodes and datagrams and
    /// nothing else, for the checks' tests.
    #[cfg(test)]
    pub fn of(nodes: Vec<NodeRecord>, datagrams: Vec<Datagram>) -> Record {
        Record {
            test: "t".into(),
            seed: 0,
            traffic: Traffic::of(nodes.len(), &datagrams),
            nodes,
            events: vec![],
            datagrams,
            duration: Duration::ZERO,
            clock: Clock::new(Duration::from_secs(10), Duration::from_secs(10)),
            vars: Default::default(),
            queries: Vec::new(),
        }
    }

    /// Datagrams the proxy received past `limits.datagrams`: counted in
    /// [`Record::traffic`], not kept in [`Record::datagrams`].
    pub fn unkept(&self) -> usize {
        self.traffic.received().saturating_sub(self.datagrams.len())
    }

    /// How `node` ended, if it exited (its last run, if it was restarted).
    pub fn exit_of(&self, node: usize) -> Option<(Duration, Ended)> {
        self.events.iter().rev().find_map(|e| match e.what {
            What::Exited { status } if e.node == Some(node) => Some((e.at, status)),
            _ => None,
        })
    }

    /// Whether `node` was started.
    pub fn started(&self, node: usize) -> bool {
        self.events.iter().any(|e| {
            e.node == Some(node) && matches!(e.what, What::Started { .. } | What::ScriptStarted)
        })
    }

    /// The command line `node` was started with, if it is a program that started.
    pub fn command_of(&self, node: usize) -> Option<&[String]> {
        self.events.iter().find_map(|e| match &e.what {
            What::Started { command, .. } if e.node == Some(node) => Some(command.as_slice()),
            _ => None,
        })
    }

    /// The events of one kind, with their node.
    pub fn events_where<'a, T>(
        &'a self,
        pick: impl Fn(&'a What) -> Option<T> + 'a,
    ) -> impl Iterator<Item = (Option<usize>, Duration, T)> + 'a {
        self.events
            .iter()
            .filter_map(move |e| pick(&e.what).map(|t| (e.node, e.at, t)))
    }

    /// The nodes `name` stands for: the node of that name, or the members
    /// of the group of that name, in order.
    pub fn members(&self, name: &str) -> Vec<usize> {
        if let Some(i) = self.node_index(name) {
            return vec![i];
        }
        let mut members: Vec<(usize, usize)> = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match &n.member {
                Some((group, k)) if group == name => Some((*k, i)),
                _ => None,
            })
            .collect();
        members.sort_unstable();
        members.into_iter().map(|(_, i)| i).collect()
    }

    /// The nodes' names, by index.
    pub fn names(&self) -> Vec<&str> {
        self.nodes.iter().map(|n| n.name.as_str()).collect()
    }

    /// The index of a node by name.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }
}

/// The record while it is written, and what waiters need to know.
#[derive(Debug)]
pub struct Live {
    /// The record so far.
    pub record: Record,
    /// Per node: output streams still open (0, 1 or 2).
    open: Vec<usize>,
    /// Per node: copies delivered to it so far.
    pub delivered_to: Vec<usize>,
    /// Per node: copies on their way to it (held by a delay).
    pub pending_to: Vec<usize>,
    /// Per node: running (a started program that has not exited, a script
    /// that has not ended).
    pub alive: Vec<bool>,
    /// Per node: a later step may still start it.
    pub may_start: Vec<bool>,
    /// The test is ending: scripts must stop.
    pub ending: bool,
    /// Per scripted node: paused by the test (it neither acts nor reads).
    pub paused: Vec<bool>,
    /// Per scripted node: killed by the test (its script must stop).
    pub halted: Vec<bool>,
    /// The outcome of the test is known (an event that
    /// [decides](What::decides) it was recorded): the runner ends it.
    pub decided: bool,
    /// How many requests to settle the proxy has answered (see
    /// [`super::proxy::Network::settle`]).
    pub settled: u64,
    /// Datagrams the scripted nodes bound with `as` (`r0.key` and so on),
    /// shared by every scripted node of the test.
    pub bindings: std::collections::BTreeMap<String, String>,
}

impl Live {
    /// Whether `node`'s output is closed (both streams at end of file).
    pub fn output_closed(&self, node: usize) -> bool {
        self.open[node] == 0
    }

    /// Whether a peer that serves (`serve`) can stop: every program (not
    /// the scripted nodes, which may be serving too) has ended and will not
    /// start again, and nothing is on its way to `node`.
    pub fn programs_done_for(&self, node: usize) -> bool {
        self.pending_to[node] == 0
            && (0..self.alive.len())
                .filter(|&j| j != node && !self.record.nodes[j].script)
                .all(|j| !self.alive[j] && !self.may_start[j])
    }

    /// Whether nothing can arrive at `node` any more: nothing is on its way
    /// to it, and every other node has ended and will not start again.
    pub fn nobody_left_for(&self, node: usize) -> bool {
        self.pending_to[node] == 0
            && (0..self.alive.len())
                .filter(|&j| j != node)
                .all(|j| !self.alive[j] && !self.may_start[j])
    }
}

struct Shared {
    t0: Instant,
    live: Mutex<Live>,
    changed: Condvar,
}

/// How a [`Recorder::wait`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// What it waited for happened.
    Ready,
    /// Its own bound passed first.
    Passed,
    /// The test's time limit passed first.
    TimeUp,
}

/// Appends to the record of a running test and waits on it; cheap to clone,
/// one per thread that writes.
#[derive(Clone)]
pub struct Recorder(Arc<Shared>);

impl Recorder {
    /// A new record for `test` with `nodes`, timed by `clock`, which
    /// starts now.
    pub fn new(test: &str, seed: u64, clock: Clock, nodes: Vec<NodeRecord>) -> Recorder {
        let n = nodes.len();
        Recorder(Arc::new(Shared {
            t0: Instant::now(),
            live: Mutex::new(Live {
                record: Record {
                    test: test.to_string(),
                    seed,
                    nodes,
                    events: Vec::new(),
                    datagrams: Vec::new(),
                    traffic: Traffic::new(n),
                    duration: Duration::ZERO,
                    clock,
                    vars: std::collections::BTreeMap::new(),
                    queries: Vec::new(),
                },
                open: vec![0; n],
                delivered_to: vec![0; n],
                pending_to: vec![0; n],
                alive: vec![false; n],
                may_start: vec![true; n],
                ending: false,
                paused: vec![false; n],
                halted: vec![false; n],
                decided: false,
                settled: 0,
                bindings: std::collections::BTreeMap::new(),
            }),
            changed: Condvar::new(),
        }))
    }

    /// The instant the test's clock started.
    pub fn t0(&self) -> Instant {
        self.0.t0
    }

    /// Time since the test started.
    pub fn now(&self) -> Duration {
        self.0.t0.elapsed()
    }

    fn lock(&self) -> MutexGuard<'_, Live> {
        // A panic in one writer must not silence the others.
        self.0.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the live state and wakes every waiter.
    pub fn update<R>(&self, f: impl FnOnce(&mut Live) -> R) -> R {
        let r = f(&mut self.lock());
        self.0.changed.notify_all();
        r
    }

    /// Reads the live state.
    pub fn read<R>(&self, f: impl FnOnce(&Live) -> R) -> R {
        f(&self.lock())
    }

    /// Records an event now.
    pub fn event(&self, node: Option<usize>, what: What) {
        self.event_at(self.now(), node, what);
    }

    /// Records an event that happened at `at` (a start is timed before the
    /// spawn, so that the program's first datagram comes after it). The
    /// events stay in time order.
    pub fn event_at(&self, at: Duration, node: Option<usize>, what: What) {
        self.update(|l| {
            if let Some(n) = node {
                match what {
                    What::Started { .. } => {
                        l.alive[n] = true;
                        l.open[n] = 2;
                        l.record.clock.started(n, at);
                    }
                    What::ScriptStarted => l.alive[n] = true,
                    What::Exited { .. } => {
                        l.alive[n] = false;
                        l.record.clock.ready(n, at);
                    }
                    What::ScriptEnded { .. } => l.alive[n] = false,
                    What::Bound { .. } => l.record.clock.ready(n, at),
                    _ => {}
                }
            }
            l.decided |= what.decides();
            let place = l.record.events.partition_point(|e| e.at <= at);
            l.record.events.insert(place, Event { at, node, what });
        });
    }

    /// Records a line of output now. A `todo!()` panic on stderr decides
    /// the test: an unfilled hole explains every failure that would follow.
    pub fn line(&self, node: usize, stream: Stream, text: String) {
        let at = self.now();
        let hole = match stream {
            Stream::Stderr => hole_in(&text),
            Stream::Stdout => None,
        };
        self.update(|l| {
            if !l.record.nodes[node].listens() {
                l.record.clock.ready(node, at);
            }
            let n = &mut l.record.nodes[node];
            match stream {
                Stream::Stdout => n.stdout.push(Line { at, text }),
                Stream::Stderr => n.stderr.push(Line { at, text }),
            }
            if let Some(hole) = hole {
                l.decided = true;
                let place = l.record.events.partition_point(|e| e.at <= at);
                let what = What::StoppedAtHole { hole };
                l.record.events.insert(
                    place,
                    Event {
                        at,
                        node: Some(node),
                        what,
                    },
                );
            }
        });
    }

    /// Records that one of `node`'s output streams reached end of file.
    pub fn closed(&self, node: usize) {
        self.update(|l| l.open[node] = l.open[node].saturating_sub(1));
    }

    /// Records a datagram: counts it, and keeps it when the record holds
    /// fewer than `keep` datagrams. Returns its index, if it was kept.
    pub fn datagram(&self, d: Datagram, keep: usize) -> Option<usize> {
        self.update(|l| {
            if !l.record.nodes[d.from].listens() {
                l.record.clock.ready(d.from, d.sent);
            }
            let copies = d.fate.copies();
            let now_delivered = d.delivered.len();
            l.delivered_to[d.to] += now_delivered;
            l.pending_to[d.to] += copies - now_delivered;
            l.record.traffic.count(&d);
            let kept = &mut l.record.datagrams;
            (kept.len() < keep).then(|| {
                kept.push(d);
                kept.len() - 1
            })
        })
    }

    /// Records that a held copy of a datagram to node `to` was delivered:
    /// it left the proxy at `at` (timed before the send, so that nothing
    /// the receiver does about it can come before). `index` is the
    /// datagram's in the record, if it was kept.
    pub fn delivered(&self, to: usize, index: Option<usize>, at: Duration) {
        self.update(|l| {
            if let Some(d) = index.map(|i| &mut l.record.datagrams[i]) {
                d.delivered.push(at);
            }
            l.delivered_to[to] += 1;
            l.pending_to[to] = l.pending_to[to].saturating_sub(1);
        });
    }

    /// What the test's [clock](Clock) reads now.
    pub fn clock(&self) -> Duration {
        let now = self.now();
        self.read(|l| l.record.clock.reading(now))
    }

    /// Whether the test's time limit has passed on its clock.
    pub fn time_up(&self) -> bool {
        let now = self.now();
        self.read(|l| l.record.clock.reading(now) >= l.record.clock.limit)
    }

    /// Waits until `ready` holds, or the test's [clock](Clock) reads
    /// `until`, or the wall clock reaches `wall`, and never past the
    /// test's time limit; says which came first.
    pub fn wait(
        &self,
        until: Option<Duration>,
        wall: Option<Instant>,
        mut ready: impl FnMut(&Live) -> bool,
    ) -> Wake {
        let t0 = self.0.t0;
        let mut live = self.lock();
        loop {
            if ready(&live) {
                return Wake::Ready;
            }
            let clock = &live.record.clock;
            let time_up = t0 + clock.when(clock.limit);
            let own = match (until.map(|u| t0 + clock.when(u)), wall) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let now = Instant::now();
            match own {
                Some(own) if own <= time_up && now >= own => return Wake::Passed,
                _ if now >= time_up => return Wake::TimeUp,
                _ => {}
            }
            let next = own.map_or(time_up, |o| o.min(time_up));
            live = self
                .0
                .changed
                .wait_timeout(live, next - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until `ready` holds or the wall clock reaches `deadline`,
    /// whatever the test's clock reads; returns whether it held.
    pub fn wait_until(&self, deadline: Instant, mut ready: impl FnMut(&Live) -> bool) -> bool {
        let mut live = self.lock();
        loop {
            if ready(&live) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            live = self
                .0
                .changed
                .wait_timeout(live, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The finished record. Its datagrams move out of the live record
    /// rather than being copied (they are most of it): call it once, when
    /// nothing writes any more.
    pub fn finish(&self) -> Record {
        let duration = self.now();
        let mut live = self.lock();
        let datagrams = std::mem::take(&mut live.record.datagrams);
        let mut record = Record {
            datagrams,
            ..live.record.clone()
        };
        record.duration = duration;
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ten_seconds() -> Clock {
        Clock::new(Duration::from_secs(10), Duration::from_secs(10))
    }

    #[test]
    fn a_hole_on_stderr_decides_the_test() {
        let r = Recorder::new("t", 1, ten_seconds(), vec![NodeRecord::new("a")]);
        r.line(0, Stream::Stdout, "not yet implemented: on stdout".into());
        r.line(
            0,
            Stream::Stderr,
            "thread 'main' panicked at src/x.rs:3:5:".into(),
        );
        assert!(!r.read(|l| l.decided), "no hole yet");
        r.line(
            0,
            Stream::Stderr,
            "not yet implemented: route the request".into(),
        );
        assert!(r.read(|l| l.decided));
        let holes: Vec<String> = r.read(|l| {
            l.record
                .events
                .iter()
                .filter_map(|e| match &e.what {
                    What::StoppedAtHole { hole } => Some(hole.clone()),
                    _ => None,
                })
                .collect()
        });
        assert_eq!(holes, ["route the request"]);
        assert_eq!(
            hole_in("not yet implemented").as_deref(),
            Some("(a todo!() without text)")
        );
    }

    /// A wait says whether its own bound or the test's time limit ended
    /// it: whichever comes first on the test's clock.
    #[test]
    fn a_wait_names_what_ended_it() {
        let short = Clock::new(Duration::from_millis(20), Duration::from_secs(10));
        let r = Recorder::new("t", 1, short, vec![NodeRecord::new("a")]);
        assert_eq!(
            r.wait(Some(Duration::from_secs(5)), None, |_| false),
            Wake::TimeUp
        );
        assert!(r.time_up());
        let r = Recorder::new("t", 1, ten_seconds(), vec![NodeRecord::new("a")]);
        let until = r.clock() + Duration::from_millis(20);
        assert_eq!(r.wait(Some(until), None, |_| false), Wake::Passed);
        let soon = Instant::now() + Duration::from_millis(20);
        assert_eq!(r.wait(None, Some(soon), |_| false), Wake::Passed);
        assert_eq!(r.wait(None, None, |_| true), Wake::Ready);
    }

    /// While a program starts, the test's time limit cannot pass: a wait
    /// ends only after the program's first sign of life (however late
    /// this machine runs the waiter, never before it).
    #[test]
    fn the_time_limit_waits_for_a_program_that_is_starting() {
        let clock = Clock::new(Duration::from_millis(50), Duration::from_secs(60));
        let r = Recorder::new("t", 1, clock, vec![NodeRecord::new("client")]);
        let started = What::Started {
            command: vec!["client".into()],
            pid: 1,
        };
        r.event(Some(0), started);
        let w = r.clone();
        let waiter = std::thread::spawn(move || {
            let wake = w.wait(None, None, |_| false);
            (wake, w.now())
        });
        // Four times the limit, on the wall clock, before it shows life.
        std::thread::sleep(Duration::from_millis(200));
        let ready = r.now();
        r.line(0, Stream::Stderr, "client: seed 7".into());
        let (wake, ended) = waiter.join().unwrap();
        assert_eq!(wake, Wake::TimeUp);
        assert!(ended >= ready, "ended at {ended:?}, ready at {ready:?}");
        let c = r.read(|l| l.record.clock.clone());
        assert!(c.standing(ended) >= Duration::from_millis(200));
    }

    #[test]
    fn waiters_wake_on_events() {
        let r = Recorder::new(
            "t",
            1,
            ten_seconds(),
            vec![NodeRecord::new("a"), NodeRecord::new("b")],
        );
        let w = r.clone();
        let t = std::thread::spawn(move || {
            w.wait_until(Instant::now() + Duration::from_secs(10), |l| {
                l.record.nodes[0].stdout.iter().any(|x| x.text == "ready")
            })
        });
        r.line(0, Stream::Stdout, "not yet".into());
        r.line(0, Stream::Stdout, "ready".into());
        assert!(t.join().unwrap());
        assert!(!r.wait_until(Instant::now(), |_| false));
    }

    #[test]
    fn life_and_deliveries_are_tracked() {
        let r = Recorder::new(
            "t",
            1,
            ten_seconds(),
            vec![NodeRecord::new("server"), NodeRecord::new("client")],
        );
        r.event(
            Some(1),
            What::Started {
                command: vec![],
                pid: 1,
            },
        );
        r.update(|l| l.may_start = vec![false, false]);
        assert!(!r.read(|l| l.nobody_left_for(0)), "the client is running");
        let i = r.datagram(
            Datagram {
                sent: Duration::ZERO,
                from: 1,
                to: 0,
                bytes: vec![1],
                fate: Fate::Duplicated,
                delays: vec![Duration::ZERO, Duration::from_millis(5)],
                delivered: vec![Duration::ZERO],
                rule: None,
            },
            10,
        );
        r.event(
            Some(1),
            What::Exited {
                status: Ended::Code(0),
            },
        );
        assert!(!r.read(|l| l.nobody_left_for(0)), "a copy is on its way");
        r.delivered(0, i, r.now());
        assert!(r.read(|l| l.nobody_left_for(0)));
        let rec = r.finish();
        assert_eq!(rec.exit_of(1).map(|e| e.1), Some(Ended::Code(0)));
        assert_eq!(rec.datagrams[0].delivered.len(), 2);
        assert_eq!(Ended::Signal(9).to_string(), "killed by SIGKILL");
        assert_eq!(Ended::Signal(15).verb(), "was killed by SIGTERM");
        assert_eq!(Ended::Code(3).verb(), "exited with exit code 3");
        assert_eq!(Ended::Signal(11).had(), "had been killed by SIGSEGV");
        assert_eq!(Ended::Code(0).had(), "had exited with exit code 0");
    }

    fn datagram(at: u64, from: usize, to: usize, fate: Fate) -> Datagram {
        Datagram {
            sent: Duration::from_millis(at),
            from,
            to,
            bytes: vec![MsgType::ReadReq as u8, b'K'],
            fate,
            delays: vec![Duration::ZERO; fate.copies()],
            delivered: vec![Duration::ZERO; fate.copies()],
            rule: (fate == Fate::Dropped).then_some(1),
        }
    }

    #[test]
    fn past_its_bound_the_record_counts_what_it_does_not_keep() {
        let r = Recorder::new(
            "t",
            1,
            ten_seconds(),
            vec![NodeRecord::new("server"), NodeRecord::new("client")],
        );
        let kept: Vec<Option<usize>> = (0..5)
            .map(|i| r.datagram(datagram(i, 1, 0, Fate::Delivered), 3))
            .collect();
        assert_eq!(kept, [Some(0), Some(1), Some(2), None, None]);
        r.datagram(datagram(7, 1, 0, Fate::Dropped), 3);
        r.datagram(datagram(9, 0, 1, Fate::Refused), 3);
        // Deliveries of datagrams not kept still count for their receiver.
        assert_eq!(r.read(|l| l.delivered_to[0]), 5);
        let rec = r.finish();
        assert_eq!(rec.datagrams.len(), 3, "the first three, in order");
        assert_eq!(rec.datagrams[2].sent, Duration::from_millis(2));
        assert_eq!(rec.unkept(), 4);
        let t = &rec.traffic;
        assert_eq!(t.received(), 7);
        assert_eq!(t.links[1][0].all, 6);
        assert_eq!(t.links[1][0].of(Some(MsgType::ReadReq)), 6);
        assert_eq!(t.links[1][0].of(Some(MsgType::ReadRep)), 0);
        assert_eq!(t.links[1][0].last, Some(Fate::Dropped));
        assert_eq!(t.fired, [0, 1]);
        let client = t.senders[1];
        assert_eq!(
            (client.sent, client.refused, client.first, client.last),
            (6, 0, Duration::ZERO, Duration::from_millis(7))
        );
        assert_eq!(t.senders[0].refused, 1);
        assert_eq!(Traffic::of(2, &rec.datagrams).received(), 3);
    }

    #[test]
    fn a_failed_script_or_a_flood_decides_the_test() {
        let r = Recorder::new("t", 1, ten_seconds(), vec![NodeRecord::new("a")]);
        r.event(Some(0), What::ScriptStarted);
        r.event(Some(0), What::KilledAtEnd);
        assert!(!r.read(|l| l.decided));
        let ended = |actual: &str| What::ScriptEnded {
            error: Some(ScriptError {
                step: 1,
                kind: "recv",
                expected: "a datagram".into(),
                actual: actual.into(),
            }),
        };
        assert!(
            !ended(super::super::script::ENDED).decides(),
            "interrupted by the end of the test"
        );
        assert!(
            !ended(super::super::script::TIME_UP).decides(),
            "cut short by the test's time limit, which the runner sees too"
        );
        assert!(ended("nothing arrived in 5s").decides());
        r.event(Some(0), What::SendRateExceeded { limit: 10 });
        assert!(r.read(|l| l.decided));
    }
}
