//! The steps of a test: what the grader does, in order, to the nodes and the network.

use super::*;

/// One thing the grader does during a test.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Start a node; a listening node must bind its port before the next step.
    Start(String),
    /// Wait until a node exits (a scripted node: until its script ends).
    WaitExit(String),
    /// Send a signal (SIGINT unless told) and wait until the node exits:
    /// `stop: server`, or `stop: { node: client, signal: SIGTERM, within: 1s }`.
    Stop(StopStep),
    /// Send a signal to a node's process group, and do not wait.
    Signal {
        /// The node.
        node: String,
        /// `SIGINT`, `SIGTERM`, `SIGKILL`, `SIGSTOP`, `SIGCONT`, `SIGHUP`, `SIGUSR1` or `SIGUSR2`.
        signal: SignalName,
    },
    /// Freeze a node (SIGSTOP): it stays alive but does nothing.
    Pause(String),
    /// Let a paused node go on (SIGCONT).
    Resume(String),
    /// Kill a node at once (SIGKILL), as a crash would.
    Kill(String),
    /// Let time pass.
    Sleep(Dur),
    /// Wait until a node prints a line matching a pattern.
    WaitOutput {
        /// The node.
        node: String,
        /// A transcript pattern (`*`, `{name}`).
        line: String,
        /// `stdout` (default) or `stderr`.
        #[serde(default)]
        stream: Stream,
    },
    /// Wait until the proxy has seen `count` datagrams from one node to another.
    WaitSent {
        /// Sender.
        from: String,
        /// Receiver.
        to: String,
        /// Only datagrams of this type.
        #[serde(default, rename = "type")]
        kind: Option<TypeName>,
        /// How many (at least 1).
        count: usize,
    },
    /// Measure a node's CPU use over a window in which nothing is sent to it.
    Idle {
        /// The node.
        node: String,
        /// The window.
        #[serde(rename = "for")]
        window: Dur,
        /// The most CPU it may ask for, in percent of one core (default
        /// 10): the share of the window in which it ran or waited to run.
        #[serde(default = "default_max_cpu")]
        max_cpu: f64,
        /// The most times a second it may wake up (default 50).
        #[serde(default = "default_max_wakeups")]
        max_wakeups: f64,
    },
    /// Measure a server's speed: closed-loop clients send it requests as
    /// fast as it answers, in turns with a minimal blocking server the
    /// grader runs itself with the same load, on the same machine at the
    /// same time; the node must answer at least a share of the requests a
    /// second that server answers. The load goes to the node's port
    /// directly, not through the proxy, and is not in the record.
    Load(LoadStep),
    /// Cut both directions between two nodes until `heal`.
    Partition(Vec<String>),
    /// Undo every partition and every cut.
    Heal,
    /// Cut one direction of a link until `heal_link` or `heal`:
    /// `cut: { from: client, to: server }`.
    Cut(Link),
    /// Heal one direction of a link (`{ from: A, to: B }`) or both (`[A, B]`).
    HealLink(LinkOrPair),
    /// Change the random faults from now on: of every link, or of the link
    /// `from -> to` when both are given (overriding field by field).
    Faults(FaultSettings),
    /// Start a node that has ended again: a program with the same command
    /// line and port, a scripted node from the first step of its script.
    Restart(String),
    /// Read keys from nodes: the end state of replicas.
    Query(QueryStep),
}

impl Step {
    /// The key that writes the step: `start`, `wait_exit`, `heal_link`.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Start(_) => "start",
            Step::WaitExit(_) => "wait_exit",
            Step::Stop(_) => "stop",
            Step::Signal { .. } => "signal",
            Step::Pause(_) => "pause",
            Step::Resume(_) => "resume",
            Step::Kill(_) => "kill",
            Step::Sleep(_) => "sleep",
            Step::WaitOutput { .. } => "wait_output",
            Step::WaitSent { .. } => "wait_sent",
            Step::Idle { .. } => "idle",
            Step::Load(_) => "load",
            Step::Partition(_) => "partition",
            Step::Heal => "heal",
            Step::Cut(_) => "cut",
            Step::HealLink(_) => "heal_link",
            Step::Faults(_) => "faults",
            Step::Restart(_) => "restart",
            Step::Query(_) => "query",
        }
    }
}

/// One direction of a link.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Sending node.
    pub from: String,
    /// Receiving node.
    pub to: String,
}

/// `heal_link`: one direction, or both directions between two nodes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum LinkOrPair {
    /// `{ from: A, to: B }`: that direction only.
    One(Link),
    /// `[A, B]`: both directions.
    Both(Vec<String>),
}

impl LinkOrPair {
    /// The directions it names, as (from, to).
    pub fn directions(&self) -> Vec<(String, String)> {
        match self {
            LinkOrPair::One(l) => vec![(l.from.clone(), l.to.clone())],
            LinkOrPair::Both(p) => match p.as_slice() {
                [a, b] => vec![(a.clone(), b.clone()), (b.clone(), a.clone())],
                _ => Vec::new(),
            },
        }
    }
}

/// `query`: a scripted node reads keys from nodes, for checks of the end
/// state (`replicas`, `linearizable` with `query: true`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryStep {
    /// The scripted node that asks (`script: []` is enough).
    pub by: String,
    /// The nodes (or groups) to read from.
    pub nodes: OneOrMany<String>,
    /// The keys: every key carried by a datagram that matches, in the order
    /// first seen.
    pub keys: Match,
    /// How long to keep asking one node for one key (default `2s`).
    #[serde(default)]
    pub within: Option<Dur>,
}

/// `load`: a speed check of a listening node.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadStep {
    /// The node (a program that listens on its port).
    pub node: String,
    /// What the clients send: `echo` (a READ_REQ, answered by a READ_REP
    /// of its key: hw1's server) or `store` (each client writes keys of
    /// its own and reads them back: hw2's server).
    pub workload: WorkloadName,
    /// Closed-loop clients, each with one request in flight (default 4).
    #[serde(default = "default_load_clients")]
    pub clients: usize,
    /// How long the node is driven, in all; the grader's own server is
    /// driven as long, in turns with it.
    #[serde(rename = "for")]
    pub window: Dur,
    /// The least share of the grader's own server's requests a second the
    /// node must answer, above 0 and at most 1.
    pub at_least: f64,
}

/// The requests of a `load` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadName {
    /// READ_REQ → READ_REP of the same key.
    Echo,
    /// WRITE_REQ → WRITE_REP, then READ_REQ → READ_REP of the value written.
    Store,
}

fn default_load_clients() -> usize {
    4
}

fn default_max_cpu() -> f64 {
    10.0
}

fn default_max_wakeups() -> f64 {
    50.0
}

/// `stop`: a signal, then a bounded wait for the node to exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopStep {
    /// The node.
    pub node: String,
    /// The signal (default `SIGINT`, as Ctrl+C sends).
    pub signal: SignalName,
    /// How long the node has to exit (default `5s`, never past the test's limit).
    pub within: Dur,
}

impl<'de> Deserialize<'de> for StopStep {
    /// `stop: NODE`, or `stop: { node: NODE, signal: SIG, within: DURATION }`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Fields {
            node: String,
            #[serde(default)]
            signal: Option<SignalName>,
            #[serde(default)]
            within: Option<Dur>,
        }
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = StopStep;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a node name, or a map with `node` and optional `signal`, `within`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StopStep, E> {
                Ok(StopStep::new(v, None, None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<StopStep, A::Error> {
                let f = Fields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(StopStep::new(&f.node, f.signal, f.within))
            }
        }
        d.deserialize_any(V)
    }
}

impl StopStep {
    fn new(node: &str, signal: Option<SignalName>, within: Option<Dur>) -> StopStep {
        StopStep {
            node: node.to_string(),
            signal: signal.unwrap_or(SignalName(nix::sys::signal::Signal::SIGINT)),
            within: within.unwrap_or(Dur(Duration::from_secs(5))),
        }
    }
}

/// An output stream of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Standard output.
    #[default]
    Stdout,
    /// Standard error.
    Stderr,
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        })
    }
}
