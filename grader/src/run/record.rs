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
//! - apart from them, the datagrams the proxy forged by a `forge` rule
//!   ([`Forged`]): the grader's, delivered but sent by no node, so that no
//!   check counts them as a program's;
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

use std::time::Duration;

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
    /// The datagrams the proxy forged (`forge` rules), in the order it
    /// sent them: the grader's, not a program's, so they are not in
    /// `datagrams` and no wire check counts them; the first
    /// `limits.datagrams` of them, all counted in [`Traffic::forged`].
    pub forged: Vec<Forged>,
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
        /// The CPU it got, in percent of one core.
        percent: f64,
        /// The CPU it asked for: the share of the window in which a thread
        /// of it ran or waited to run, in percent of one core (summed over
        /// threads), when the kernel keeps scheduler counts. On a busy
        /// machine a spinning program gets little CPU but asks for all.
        busy: Option<f64>,
        /// Times a thread of it was put on a CPU, when the kernel tells.
        wakeups: Option<u64>,
    },
    /// What a `load` step measured: the node, and the grader's own
    /// minimal server under the same load in turns with it.
    LoadMeasured {
        /// Closed-loop clients.
        clients: usize,
        /// The node's figures.
        node: Speed,
        /// The grader's own server's figures.
        baseline: Speed,
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

/// How a server did under a closed-loop load ([`crate::run::load`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speed {
    /// Requests answered.
    pub answered: u64,
    /// Requests not answered in time.
    pub lost: u64,
    /// Replies that answered no request in flight.
    pub wrong: u64,
    /// Time it was driven.
    pub elapsed: Duration,
    /// Requests answered a second.
    pub per_second: f64,
    /// Median latency of the answered requests.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

impl Speed {
    /// `14210 requests a second (p50 0.21 ms, p99 0.90 ms)`.
    pub fn describe(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "{:.0} requests a second (p50 {:.2} ms, p99 {:.2} ms)",
            self.per_second,
            ms(self.p50),
            ms(self.p99)
        )
    }

    /// What `who` did under `clients` clients beside the grader's own
    /// server `baseline`: the line the report, the diagram and the ShiViz
    /// log show.
    pub fn versus(&self, who: &str, clients: usize, baseline: &Speed) -> String {
        let ratio = if baseline.per_second > 0.0 {
            format!(" ({:.2}x)", self.per_second / baseline.per_second)
        } else {
            String::new()
        };
        format!(
            "{who} answered {}{ratio} under {clients} client(s); the grader's minimal server, in turns with it: {}",
            self.describe(),
            baseline.describe()
        )
    }
}

impl From<&crate::run::load::Figures> for Speed {
    fn from(f: &crate::run::load::Figures) -> Speed {
        Speed {
            answered: f.answered,
            lost: f.lost,
            wrong: f.wrong,
            elapsed: f.elapsed,
            per_second: f.per_second,
            p50: f.p50,
            p99: f.p99,
        }
    }
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
    /// `load`: the program exited while the grader sent it requests.
    ExitedUnderLoad,
    /// `load`: the grader could not drive the load (a socket of its own).
    LoadFailed {
        /// What went wrong.
        error: String,
    },
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
    /// A step named a node or group the test does not have (validation
    /// rules this out too).
    UnknownNode {
        /// The name.
        name: String,
    },
    /// `query`: no datagram carried a key to ask for.
    NoKeys {
        /// The datagrams that were to carry them.
        keys: String,
    },
    /// `query`: copies were still on their way to the nodes to read after
    /// `within`: the programs kept sending.
    Unsettled {
        /// The nodes to read.
        nodes: Vec<String>,
        /// Copies still held for them.
        held: usize,
        /// How long the step waited.
        within: Duration,
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

/// A datagram the proxy made from one it received, by a `forge` rule,
/// and sent to that datagram's receiver just before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Forged {
    /// When it left the proxy: when the original arrived.
    pub sent: Duration,
    /// The sender of the original (it did not send this one).
    pub from: usize,
    /// The receiver.
    pub to: usize,
    /// Whether it came from the grader's stranger socket rather than from
    /// where the receiver sees `from`.
    pub stranger: bool,
    /// The bytes sent.
    pub bytes: Vec<u8>,
    /// The rule (its index in `network.rules`) that forged it.
    pub rule: usize,
    /// What the rule changed, for the timeline: `from a stranger, value X`.
    pub changes: String,
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
    /// Per rule of the network, by its index: the datagrams it decided,
    /// or for `forge`, the datagrams it forged.
    pub fired: Vec<usize>,
    /// Datagrams the proxy forged: in no link's or sender's count.
    pub forged: usize,
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
            forged: 0,
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
            self.fire(r);
        }
    }

    /// Counts one forged datagram, for its rule only.
    fn count_forged(&mut self, f: &Forged) {
        self.forged += 1;
        self.fire(f.rule);
    }

    /// Counts a datagram rule `r` decided or forged.
    fn fire(&mut self, r: usize) {
        if self.fired.len() <= r {
            self.fired.resize(r + 1, 0);
        }
        self.fired[r] += 1;
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
            forged: Vec::new(),
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
    ///
    /// # Errors
    /// A name the test has no node or group for: a check that meets one
    /// fails saying so, rather than find nothing and pass.
    pub fn members(&self, name: &str) -> Result<Vec<usize>, UnknownNode> {
        if let Some(i) = self.node_index(name) {
            return Ok(vec![i]);
        }
        let mut members: Vec<(usize, usize)> = (self.nodes.iter().enumerate())
            .filter_map(|(i, n)| match &n.member {
                Some((group, k)) if group == name => Some((*k, i)),
                _ => None,
            })
            .collect();
        if members.is_empty() {
            return Err(UnknownNode(name.to_string()));
        }
        members.sort_unstable();
        Ok(members.into_iter().map(|(_, i)| i).collect())
    }

    /// The node called `name`.
    ///
    /// # Errors
    /// A name the test has no node for.
    pub fn node(&self, name: &str) -> Result<usize, UnknownNode> {
        self.node_index(name)
            .ok_or_else(|| UnknownNode(name.to_string()))
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

/// A name a check or step uses that the test has no node or group for.
/// Validation rules this out; a check that meets one anyway fails naming
/// it, so that no check drops out of the verdict unseen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownNode(pub String);

impl fmt::Display for UnknownNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the test has no node or group `{}`", self.0)
    }
}

mod live;
pub use live::{Live, Recorder, Settler, Wake};

#[cfg(test)]
mod tests;
