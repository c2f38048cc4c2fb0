//! The `spec.yaml` of a lab: what each test starts, does, and checks.
//!
//! Every struct here is read straight from YAML with `deny_unknown_fields`,
//! so a misspelt key is an error with its file, line and column rather than
//! a silently ignored setting. After parsing, [`validate`] checks what YAML
//! cannot: that every node a step or check names exists, that the steps
//! start and stop nodes in an order that can run, that patterns and
//! placeholders are well formed, that probabilities lie in 0..=1. Those
//! errors carry a location too: validation names the node it faults by its
//! path in the file (`tests/3/steps/2/start`, see [`At`]), and [`place`]
//! reads the file's nodes with a YAML event parser to find that path's line
//! and column, in block and flow style alike. A spec that validates runs
//! without a spec problem: the runner never discovers a mistake of the
//! spec's.
//!
//! The format is documented for instructors in `specs/spec-format.md`, and
//! as a JSON Schema in `specs/spec.schema.json`, generated from these types
//! by [`schema`]; the doc comment of every field below is the reference for
//! both.
//!
//! # Layout
//! - this file: the types of the format, loading, errors;
//! - [`expand`]: node groups (`count`) unrolled into nodes, steps and checks;
//! - [`expr`]: arithmetic over numbers and test variables;
//! - [`limits`]: hard limits of programs and bounds of the record;
//! - [`pattern`]: the one placeholder and pattern syntax (`{name}`, `*`, `{#}`);
//! - [`place`]: where each node of a file is, by its path, for errors found after parsing;
//! - [`transcript`]: expected transcripts (lines, repeats, unordered groups);
//! - [`validate`]: the checks that run after parsing;
//! - [`schema`]: the JSON Schema, for editors.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use handout::MsgType;
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer};

pub mod expand;
pub mod expr;
pub mod limits;
pub mod pattern;
pub mod place;
pub mod plan;
pub mod schema;
pub mod transcript;
pub mod validate;

pub use limits::{Limits, Size};
pub use place::{At, NodePath};
use transcript::Item;

/// A whole `spec.yaml`: one lab and its tests.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "spec.yaml of a lab of the kit")]
pub struct LabSpec {
    /// The lab's id as typed on the command line, e.g. `hw1`.
    pub lab: String,
    /// A short title for reports, e.g. `UDP echo`.
    pub title: String,
    /// The executables the lab must produce; each test runs some of them.
    pub binaries: Vec<String>,
    /// The time limit of a test that sets none (default `10s`).
    #[serde(default = "default_timeout")]
    pub timeout: Dur,
    /// Hard limits of every program, and bounds of the record (each has a default).
    #[serde(default)]
    pub limits: Limits,
    /// The tests, run in this order (in parallel when `-j` allows).
    pub tests: Vec<TestSpec>,
}

/// A file of extra tests for a lab, kept apart from its `spec.yaml`:
/// hidden tests, which students never get. It names its lab and lists
/// tests in the format of a spec's `tests`; everything else (binaries,
/// time limit, limits) is the lab's.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "extra (hidden) tests of a lab of the kit")]
pub struct ExtraTests {
    /// The lab the tests are for, e.g. `hw1`: the `lab` of its spec.yaml.
    pub lab: String,
    /// The tests, added after the lab's own; each needs a name no test of the lab has.
    pub tests: Vec<TestSpec>,
}

/// A file of extra tests as read from disk.
#[derive(Debug, Clone)]
pub struct ExtraFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its text, to locate errors found once its lab's spec is known
    /// (only then are its nodes read, see [`place`]).
    pub text: String,
    /// What it holds.
    pub tests: ExtraTests,
}

impl ExtraFile {
    /// Reads and parses a file of extra tests; checking them against their
    /// lab waits for [`LabSpec::add`].
    ///
    /// # Errors
    /// A [`SpecError`] with file, line and column.
    pub fn load(path: &Path) -> Result<ExtraFile, SpecError> {
        let text = read(path)?;
        let mut tests: ExtraTests = from_yaml(path, &text)?;
        expand::lab(&mut tests.tests).map_err(|e| located(path, &text, e))?;
        Ok(ExtraFile {
            path: path.to_path_buf(),
            text,
            tests,
        })
    }

    /// An error about the file's `lab:`, located at it.
    pub fn lab_error(&self, message: String) -> SpecError {
        SpecError::at(
            &self.path,
            &self.text,
            &At::Key(NodePath::root().key("lab")),
            message,
        )
    }
}

fn default_timeout() -> Dur {
    Dur(Duration::from_secs(10))
}

/// Which part of a lab a test belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The course's original behaviour and transcript.
    #[default]
    Classic,
    /// What a real system needs beyond it (loss, duplicates, bad input, ...).
    Robust,
}

impl Part {
    /// `classic` or `robust`, as the spec writes it.
    pub fn name(self) -> &'static str {
        match self {
            Part::Classic => "classic",
            Part::Robust => "robust",
        }
    }
}

/// What the skeleton, as handed out, does in a test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkeletonExpect {
    /// It fails by reaching a hole (`todo!()`): the test needs the student's code.
    #[default]
    Hole,
    /// It passes: the test checks what the handout already gives (argument parsing).
    Pass,
}

/// Who sees a test's result on Gradescope, in Gradescope's own words.
///
/// Only the Gradescope report carries it: the grader runs, scores and
/// reports a test alike whatever its visibility.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Students always see it.
    #[default]
    Visible,
    /// Students never see it; instructors do.
    Hidden,
    /// Students see it once the assignment's due date has passed (the late due date, if there is one).
    AfterDueDate,
    /// Students see it once the instructor publishes the grades.
    AfterPublished,
}

impl Visibility {
    /// `visible`, `hidden`, `after_due_date` or `after_published`, as the
    /// spec and Gradescope write it.
    pub fn name(self) -> &'static str {
        match self {
            Visibility::Visible => "visible",
            Visibility::Hidden => "hidden",
            Visibility::AfterDueDate => "after_due_date",
            Visibility::AfterPublished => "after_published",
        }
    }
}

/// One test: the processes it starts, what it does to them, what it checks.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    /// A short name, unique in the lab, used with `-t NAME`; the test's seed derives from it.
    pub name: String,
    /// One sentence on what the test shows.
    pub description: String,
    /// `classic` (default) or `robust`.
    #[serde(default)]
    pub part: Part,
    /// Points the test is worth in the score (default 1): all of them when it passes, none otherwise.
    #[serde(default = "one")]
    pub points: u32,
    /// Printed under a failure: where a student should look.
    #[serde(default)]
    pub hint: Option<String>,
    /// What `grader check` expects of the skeleton in this test.
    #[serde(default)]
    pub skeleton: SkeletonExpect,
    /// Who sees the test's result on Gradescope: `visible` (default),
    /// `hidden`, `after_due_date` or `after_published`. The grader itself
    /// runs and scores every test alike, and shows every result locally.
    #[serde(default)]
    pub visibility: Visibility,
    /// Time limit of the whole test (default: the lab's `timeout`).
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Named values of the test, bound as `{name}` wherever the grader
    /// fills in or matches text (arguments, scripts, transcripts) and usable
    /// in the expressions of `number` checks and `lru_cache`: `vars: {
    /// capacity: 3 }` with `args: [--capacity, "{capacity}"]`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, VarValue>")]
    pub vars: BTreeMap<String, VarValue>,
    /// The processes and scripted peers of the test. A node with `count: N`
    /// stands for N nodes (see [`NodeSpec::count`]).
    pub nodes: Vec<NodeSpec>,
    /// What the interposed network does to datagrams.
    #[serde(default)]
    pub network: NetworkSpec,
    /// What the grader does, in order.
    #[serde(deserialize_with = "serde_yaml::with::singleton_map_recursive::deserialize")]
    #[schemars(with = "Vec<Step>")]
    pub steps: Vec<Step>,
    /// Checks on each program once the steps are done, keyed by node name.
    #[serde(default)]
    pub expect: BTreeMap<String, NodeExpect>,
    /// Checks on the recorded datagrams.
    #[serde(
        default,
        deserialize_with = "serde_yaml::with::singleton_map_recursive::deserialize"
    )]
    #[schemars(with = "Vec<WireCheck>")]
    pub wire: Vec<WireCheck>,
    /// Not a field of the format: the file of extra tests the test was read
    /// from, or `None` for the lab's own spec.yaml.
    #[serde(skip)]
    pub origin: Option<PathBuf>,
    /// Not a field of the format: each group of nodes made by `count`, by
    /// its name, with its members in order.
    #[serde(skip)]
    pub groups: BTreeMap<String, Vec<String>>,
    /// Not a field of the format: where the nodes, arguments, steps, links
    /// and `expect` entries were written in the file, before `count`
    /// unrolled them; for the places of errors found after.
    #[serde(skip)]
    pub written: expand::Written,
    /// Not a field of the format: the test resolved, filled in once the
    /// spec is valid (see [`plan`]).
    #[serde(skip)]
    pub plan: plan::Plan,
}

/// The value of a test variable: text or a number, used as text.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(transparent)]
pub struct VarValue(#[schemars(with = "serde_json::Value")] pub String);

impl<'de> Deserialize<'de> for VarValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_yaml::Value::deserialize(d)? {
            serde_yaml::Value::String(s) => Ok(VarValue(s)),
            serde_yaml::Value::Number(n) => Ok(VarValue(n.to_string())),
            serde_yaml::Value::Bool(b) => Ok(VarValue(b.to_string())),
            _ => Err(de::Error::custom("a test variable is text or a number")),
        }
    }
}

fn one() -> u32 {
    1
}

impl TestSpec {
    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The index of the node called `name` (validation guarantees it exists
    /// wherever the spec names a node).
    pub fn index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }
}

/// A participant: a program of the lab, or a peer the grader plays itself.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// The node's name in steps, checks, reports and placeholders
    /// (`server`, `client`, `backup1`): letters, digits, `_` and `-`.
    pub name: String,
    /// The lab executable to run (one of the lab's `binaries`).
    #[serde(default)]
    pub run: Option<String>,
    /// Its arguments. `{port}` is the node's own port (a node whose
    /// arguments use it is a listening node: the grader waits until it has
    /// bound the port); `{peer:NAME}` is the port through which it reaches
    /// node NAME (a proxy endpoint); `{seed}` is this node's seed, derived
    /// from the test's seed and the node's name, and `{seed:NAME}` node
    /// NAME's seed. The same names are bound in the node's transcript
    /// patterns.
    #[serde(default)]
    pub args: Vec<String>,
    /// Instead of `run`: the grader plays this node, step by step. An
    /// empty script is a node that only lends its address (see `send`'s `from`).
    #[serde(
        default,
        deserialize_with = "serde_yaml::with::singleton_map_recursive::deserialize"
    )]
    #[schemars(with = "Option<Vec<ScriptStep>>")]
    pub script: Option<Vec<ScriptStep>>,
    /// Make N nodes of this one, named NAME0 ... NAME(N-1): a group. The
    /// group's name stands for all of them, in order, where a step starts,
    /// stops, kills or pauses nodes, in `expect` (each member must meet
    /// it), and where a wire check names a sender or receiver; in
    /// arguments, `{peers:NAME}` as a whole argument becomes one argument
    /// per member, the port through which this node reaches it, and in a
    /// member's own arguments `{index}` is its number in the group.
    #[serde(default)]
    pub count: Option<usize>,
    /// Not a field of the format: the group this node was made for by
    /// `count`, and its number in it.
    #[serde(skip)]
    pub member: Option<(String, usize)>,
}

impl NodeSpec {
    /// Whether the node binds a port of its own that the grader allocates:
    /// a scripted node, or a program with `{port}` in its arguments.
    pub fn listens(&self) -> bool {
        self.script.is_some()
            || self
                .args
                .iter()
                .any(|a| pattern::parse(a).is_ok_and(|t| pattern::names(&t).any(|n| n == "port")))
    }

    /// Whether the grader plays this node.
    pub fn is_script(&self) -> bool {
        self.script.is_some()
    }
}

/// What the interposed network does to datagrams.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Random faults on every link, drawn from the test's seed (a field
    /// not given is 0).
    #[serde(default)]
    pub faults: FaultSettings,
    /// Random faults on one direction of one link (`from` and `to`),
    /// overriding `faults` field by field.
    #[serde(default)]
    pub links: Vec<FaultSettings>,
    /// Faults that must happen: each rule names datagrams by their place on
    /// a link and decides their fate, before any random fault. A test in
    /// which a rule found fewer datagrams than it names is void, not passed.
    #[serde(
        default,
        deserialize_with = "serde_yaml::with::singleton_map_recursive::deserialize"
    )]
    #[schemars(with = "Vec<Rule>")]
    pub rules: Vec<Rule>,
}

/// The random faults in force on one link: what the proxy draws with. A
/// spec never writes this whole; it writes [`FaultSettings`], which say
/// what changes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// Probability that a datagram is lost (0 to 1).
    pub drop: f64,
    /// Probability that a datagram is delivered twice.
    pub duplicate: f64,
    /// Fixed delay added to every datagram.
    pub delay: Dur,
    /// Extra random delay, uniform in 0..jitter: datagrams overtake each other.
    pub jitter: Dur,
}

/// Random faults, wherever a spec sets them: `network.faults` (every
/// link), each of `network.links` (one direction of one link, over
/// `network.faults`), and the `faults` step (from then on: one link with
/// `from` and `to`, every link with neither). Every draw comes from the
/// test's seed.
///
/// One type, merged by [`FaultSettings::over`] and validated in one
/// function, so a new kind of fault is one field here and one in
/// [`Faults`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSettings {
    /// With `to`: only the link `from -> to` (required in `network.links`,
    /// not allowed in `network.faults`).
    #[serde(default)]
    pub from: Option<String>,
    /// With `from`: only the link `from -> to`.
    #[serde(default)]
    pub to: Option<String>,
    /// Probability that a datagram is lost (0 to 1).
    #[serde(default)]
    pub drop: Option<f64>,
    /// Probability that a datagram is delivered twice (0 to 1).
    #[serde(default)]
    pub duplicate: Option<f64>,
    /// Fixed delay added to every datagram.
    #[serde(default)]
    pub delay: Option<Dur>,
    /// Extra random delay, uniform in 0..jitter: datagrams overtake each other.
    #[serde(default)]
    pub jitter: Option<Dur>,
}

impl FaultSettings {
    /// The link they apply to, if they name one.
    pub fn link(&self) -> Option<(&str, &str)> {
        Some((self.from.as_deref()?, self.to.as_deref()?))
    }

    /// `base` with the fields given here put over it.
    pub fn over(&self, base: Faults) -> Faults {
        Faults {
            drop: self.drop.unwrap_or(base.drop),
            duplicate: self.duplicate.unwrap_or(base.duplicate),
            delay: self.delay.unwrap_or(base.delay),
            jitter: self.jitter.unwrap_or(base.jitter),
        }
    }

    /// The probabilities they set, with their names.
    pub fn probabilities(&self) -> impl Iterator<Item = (f64, &'static str)> {
        [(self.drop, "drop"), (self.duplicate, "duplicate")]
            .into_iter()
            .filter_map(|(p, what)| Some((p?, what)))
    }
}

impl NetworkSpec {
    /// The random faults in force on the link `from -> to`: `faults`, with
    /// every entry of `links` for that link put over them in order.
    pub fn faults_for(&self, from: &str, to: &str) -> Faults {
        (self.links.iter())
            .filter(|l| l.link() == Some((from, to)))
            .fold(self.faults.over(Faults::default()), |f, l| l.over(f))
    }
}

/// A fault that must happen: what the proxy does to the datagrams it names.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// Lose them.
    Drop(RuleMatch),
    /// Deliver them twice.
    Duplicate(RuleMatch),
    /// Deliver them late, by `by` on top of the link's delay.
    Delay(RuleMatch),
}

impl Rule {
    /// Which datagrams the rule names.
    pub fn matcher(&self) -> &RuleMatch {
        match self {
            Rule::Drop(m) | Rule::Duplicate(m) | Rule::Delay(m) => m,
        }
    }

    /// `drop`, `duplicate` or `delay`.
    pub fn action(&self) -> &'static str {
        match self {
            Rule::Drop(_) => "drop",
            Rule::Duplicate(_) => "duplicate",
            Rule::Delay(_) => "delay",
        }
    }

    /// How many datagrams the rule must find for the test to count: one
    /// per entry of `nth`, or per pair of `request` and `copy` entries, and
    /// at least one.
    pub fn required(&self) -> usize {
        let m = self.matcher();
        match (&m.nth, &m.request) {
            (Some(nth), _) => nth.len(),
            (None, Some(req)) => req.len() * m.copy.as_ref().map_or(1, Vec::len),
            (None, None) => m.copy.as_ref().map_or(1, Vec::len),
        }
        .max(1)
    }
}

impl fmt::Display for Rule {
    /// The rule as a spec would write it: `drop { from: client, to: server, type: READ_REQ, nth: [1] }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.matcher();
        let list = |v: &[usize]| {
            v.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(f, "{} {{ from: {}, to: {}", self.action(), m.from, m.to)?;
        if let Some(t) = m.kind {
            write!(f, ", type: {}", t.0)?;
        }
        if let Some(n) = &m.nth {
            write!(f, ", nth: [{}]", list(n))?;
        }
        if let Some(r) = &m.request {
            write!(f, ", request: [{}]", list(r))?;
        }
        if let Some(c) = &m.copy {
            write!(f, ", copy: [{}]", list(c))?;
        }
        if let Some(by) = m.by {
            write!(f, ", by: {by}")?;
        }
        write!(f, " }}")
    }
}

/// The datagrams a rule names, on one link.
///
/// Datagrams are counted per link, among those of `type` (all of them
/// without it), every one sent, lost ones included. A rule decides the
/// fate of a datagram it names unless a partition or an unknown address
/// already has.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleMatch {
    /// Sending node.
    pub from: String,
    /// Receiving node.
    pub to: String,
    /// Only datagrams of this message type.
    #[serde(default, rename = "type")]
    pub kind: Option<TypeName>,
    /// The 1st, 2nd, ... datagram on the link: `nth: [1]` is the first.
    #[serde(default)]
    pub nth: Option<Vec<usize>>,
    /// Datagrams about the Nth key seen on the link, from 0 like the
    /// course's `Request ID`: `request: [0, 2]` names the datagrams that
    /// carry the first and the third key (a request, its retransmissions,
    /// its replies).
    #[serde(default)]
    pub request: Option<Vec<usize>>,
    /// Only the Nth datagram with its key, from 1: `copy: [1]` is the
    /// first try of a request, or the first reply to it. With `request`,
    /// of those keys only; without, of every key.
    #[serde(default)]
    pub copy: Option<Vec<usize>>,
    /// For `delay`: how much later the datagram arrives.
    #[serde(default)]
    pub by: Option<Dur>,
}

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
        /// The most CPU it may use, in percent of one core (default 10).
        #[serde(default = "default_max_cpu")]
        max_cpu: f64,
    },
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

fn default_max_cpu() -> f64 {
    10.0
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

/// One step of a peer the grader plays.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ScriptStep {
    /// Wait for the next datagram; it must match every field given.
    Recv(RecvStep),
    /// Send a datagram to a peer.
    Send(SendStep),
    /// No datagram may arrive during the window.
    Silence {
        /// The window.
        #[serde(rename = "for")]
        window: Dur,
    },
    /// Let time pass.
    Sleep(Dur),
    /// Run steps again and again: `repeat: { times: 20, steps: [...] }`.
    /// Inside, `{i}` is the number of the round, from 0.
    Repeat {
        /// How many rounds.
        times: usize,
        /// The steps of one round.
        #[schemars(with = "Vec<ScriptStep>")]
        steps: Vec<ScriptStep>,
    },
    /// Run `then` when a value (after its names are filled in) is one of
    /// `is`, else `else`: `if: { value: "{a.type}", is: [CACHE_MISS], then: [...] }`.
    If(IfStep),
    /// Answer every datagram that arrives by the first rule that matches
    /// it, keeping a store of keys and values, until every program of the
    /// test has ended (or `for` passes).
    Serve(ServeStep),
}

/// `if`: a choice in a script.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IfStep {
    /// A text with names (`"{a.type}"`).
    pub value: String,
    /// The values that choose `then`.
    pub is: OneOrMany<String>,
    /// Steps when the value is one of `is`.
    #[serde(default)]
    #[schemars(with = "Vec<ScriptStep>")]
    pub then: Vec<ScriptStep>,
    /// Steps otherwise.
    #[serde(default, rename = "else")]
    #[schemars(with = "Vec<ScriptStep>")]
    pub otherwise: Vec<ScriptStep>,
}

/// `serve`: a peer that reacts.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServeStep {
    /// The rules, tried in order for each datagram; a datagram no rule
    /// matches fails the script.
    pub rules: Vec<ServeRule>,
    /// The value `{stored}` has for a key never stored (default empty).
    #[serde(default)]
    pub initial: String,
    /// Serve for this long at most (default: until the programs end).
    #[serde(default, rename = "for")]
    pub window: Option<Dur>,
}

/// One rule of `serve`: which datagrams it takes and what it does.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServeRule {
    /// The message types it takes (any record, if not given).
    #[serde(default, rename = "on")]
    pub kinds: Option<OneOrMany<TypeName>>,
    /// Only from this node.
    #[serde(default)]
    pub from: Option<String>,
    /// Store the datagram's value under its key first.
    #[serde(default)]
    pub store: bool,
    /// The answer, sent back to the sender. Its fields may use `{req.key}`,
    /// `{req.value}`, `{req.type}` (the datagram), and `{stored}` (the
    /// value stored under its key). No `reply`: the datagram is taken
    /// silently.
    #[serde(default)]
    pub reply: Option<OneOrMany<ReplyStep>>,
}

/// The answer a `serve` rule sends back.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyStep {
    /// Message type.
    #[serde(rename = "type")]
    pub kind: TypeName,
    /// Send it from another scripted node's address: the receiver sees a
    /// stranger (default: this node).
    #[serde(default)]
    pub from: Option<String>,
    /// Key (default `{req.key}`).
    #[serde(default)]
    pub key: Option<String>,
    /// Value (default empty).
    #[serde(default)]
    pub value: Option<String>,
    /// Send only this many bytes of the record (default: the type's length on the wire).
    #[serde(default)]
    pub len: Option<usize>,
}

/// One value, or a list of them: `type: READ_REP` or `type: [CACHE_HIT, CACHE_MISS]`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// One.
    One(T),
    /// Any of these.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The values, one or many.
    pub fn all(&self) -> &[T] {
        match self {
            OneOrMany::One(t) => std::slice::from_ref(t),
            OneOrMany::Many(v) => v,
        }
    }
}

impl OneOrMany<TypeName> {
    /// Whether `kind` is one of the types.
    pub fn has(&self, kind: MsgType) -> bool {
        self.all().iter().any(|t| t.0 == kind)
    }

    /// The types as the course prints them, joined with ` or `.
    pub fn names(&self) -> String {
        let v: Vec<&str> = self.all().iter().map(|t| t.0.name()).collect();
        v.join(" or ")
    }
}

/// Expectations on a datagram a scripted node receives.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecvStep {
    /// The node it must come from.
    #[serde(default)]
    pub from: Option<String>,
    /// Its message type, or one of several (`[CACHE_HIT, CACHE_MISS]`).
    #[serde(default, rename = "type")]
    pub kind: Option<OneOrMany<TypeName>>,
    /// Its key (`{r.key}` refers to a datagram bound earlier with `as`).
    #[serde(default)]
    pub key: Option<String>,
    /// Its value.
    #[serde(default)]
    pub value: Option<String>,
    /// Its length in bytes.
    #[serde(default)]
    pub len: Option<usize>,
    /// Bind it as NAME, so later steps (of any scripted node) can use
    /// `{NAME.key}`, `{NAME.value}`, `{NAME.type}`.
    #[serde(default, rename = "as")]
    pub bind: Option<String>,
    /// How long to wait (default 5s, and never past the test's limit).
    #[serde(default)]
    pub within: Option<Dur>,
    /// While waiting, send this datagram again and again.
    #[serde(default)]
    pub meanwhile: Option<Meanwhile>,
}

/// A datagram a scripted node keeps sending while it waits in a `recv`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Meanwhile {
    /// How often: the first copy goes at once, then one per period.
    pub every: Dur,
    /// What to send.
    pub send: SendStep,
}

/// A datagram a scripted node sends: a message, or raw bytes.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendStep {
    /// The peer to send to.
    pub to: String,
    /// Send it from this other scripted node's address, so that `to` sees a
    /// different sender (default: this node).
    #[serde(default)]
    pub from: Option<String>,
    /// Message type (with `key` and `value`).
    #[serde(default, rename = "type")]
    pub kind: Option<TypeName>,
    /// The key; may use `{NAME.key}`.
    #[serde(default)]
    pub key: Option<String>,
    /// The value; may use `{NAME.value}`.
    #[serde(default)]
    pub value: Option<String>,
    /// Send only this many bytes of the record (default: the type's length on the wire).
    #[serde(default)]
    pub len: Option<usize>,
    /// Raw bytes instead of a message, in hex (`"00 41 42"`).
    #[serde(default)]
    pub hex: Option<String>,
    /// Raw bytes instead of a message, as text.
    #[serde(default)]
    pub text: Option<String>,
}

/// What must be true of a program at the end of a test.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeExpect {
    /// `0`, another exit code, or `nonzero`.
    #[serde(default)]
    pub exit: Option<ExitExpect>,
    /// Its whole standard output, line by line.
    #[serde(default)]
    pub stdout: Option<Vec<Item>>,
    /// Lines that must appear in its standard output, in order.
    #[serde(default)]
    pub stdout_includes: Option<Vec<Item>>,
    /// Lines that must appear in its standard error, in order.
    #[serde(default)]
    pub stderr_includes: Option<Vec<Item>>,
    /// Its standard output must be line for line the same as that of this
    /// other program node (a rerun with the same seed, say).
    #[serde(default)]
    pub stdout_same_as: Option<String>,
    /// Checks on numbers it prints.
    #[serde(default)]
    pub numbers: Vec<NumberCheck>,
}

/// The exit status a program must end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitExpect {
    /// Exactly this code.
    Code(i32),
    /// Any code but 0 (a usage error, giving up).
    Nonzero,
}

impl<'de> Deserialize<'de> for ExitExpect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ExitExpect;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an exit code or `nonzero`")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ExitExpect, E> {
                i32::try_from(v)
                    .map(ExitExpect::Code)
                    .map_err(|_| E::custom(format!("exit code {v} is out of range")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ExitExpect, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ExitExpect, E> {
                match v {
                    "nonzero" => Ok(ExitExpect::Nonzero),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for ExitExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitExpect::Code(c) => write!(f, "exit code {c}"),
            ExitExpect::Nonzero => f.write_str("a non-zero exit code"),
        }
    }
}

pub use crate::judge::wire::WireCheck;

/// The default of a flag that is on unless turned off.
pub(crate) fn yes() -> bool {
    true
}

/// Which datagrams a wire check is about; every field given must hold.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Sent by this node (a group: any member).
    #[serde(default)]
    pub from: Option<String>,
    /// Sent to this node (a group: any member).
    #[serde(default)]
    pub to: Option<String>,
    /// Of this type, or one of these types.
    #[serde(default, rename = "type")]
    pub kind: Option<OneOrMany<TypeName>>,
}

/// How `routed` finds the partition of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RouteBy {
    /// `hash64(key) % N`, with the course's `hash64`.
    Hash64,
}

/// A number, or arithmetic over numbers and test variables:
/// `"0.5 * {capacity} / {keys}"` (`+ - * /` and parentheses).
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(transparent)]
pub struct Expr(#[schemars(with = "serde_json::Value")] pub String);

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_yaml::Value::deserialize(d)? {
            serde_yaml::Value::String(s) => Ok(Expr(s)),
            serde_yaml::Value::Number(n) => Ok(Expr(n.to_string())),
            _ => Err(de::Error::custom(
                "expected a number or an expression in quotes",
            )),
        }
    }
}

/// A check on a number a program prints.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberCheck {
    /// A transcript pattern with `{number}` where the number is:
    /// `"client: hit ratio * = {number}"`. The last line that matches counts.
    pub line: String,
    /// `stdout` (default) or `stderr`.
    #[serde(default)]
    pub stream: Stream,
    /// The number must be at least this.
    #[serde(default)]
    pub at_least: Option<Expr>,
    /// The number must be at most this.
    #[serde(default)]
    pub at_most: Option<Expr>,
}

/// A message type written as the course prints it (`READ_REQ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeName(pub MsgType);

impl<'de> Deserialize<'de> for TypeName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        MsgType::from_name(&s).map(TypeName).ok_or_else(|| {
            let names: Vec<&str> = MsgType::ALL.iter().map(|t| t.name()).collect();
            de::Error::custom(format!(
                "unknown message type `{s}`, expected one of {}",
                names.join(", ")
            ))
        })
    }
}

/// The signals a step may send, by name.
pub const SIGNALS: [(&str, nix::sys::signal::Signal); 8] = {
    use nix::sys::signal::Signal::*;
    [
        ("SIGINT", SIGINT),
        ("SIGTERM", SIGTERM),
        ("SIGKILL", SIGKILL),
        ("SIGSTOP", SIGSTOP),
        ("SIGCONT", SIGCONT),
        ("SIGHUP", SIGHUP),
        ("SIGUSR1", SIGUSR1),
        ("SIGUSR2", SIGUSR2),
    ]
};

/// A signal a step may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalName(pub nix::sys::signal::Signal);

impl<'de> Deserialize<'de> for SignalName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match SIGNALS.iter().find(|(name, _)| *name == s) {
            Some(&(_, sig)) => Ok(SignalName(sig)),
            None => Err(de::Error::custom(format!(
                "unknown signal `{s}`, expected SIGINT, SIGTERM, SIGKILL, SIGSTOP, SIGCONT, SIGHUP, SIGUSR1 or SIGUSR2"
            ))),
        }
    }
}

/// A duration written as `250ms`, `2s`, `1.5s` or `1m`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl Dur {
    /// Parses `250ms`, `2s`, `1.5s`, `1m`.
    ///
    /// # Errors
    /// A message naming the accepted forms.
    pub fn parse(s: &str) -> Result<Dur, String> {
        let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
            Some(i) => s.split_at(i),
            None => (s, ""),
        };
        // Exactly what the JSON Schema says: digits, perhaps a fraction,
        // and the unit right after, nothing else.
        let (whole, fraction) = num.split_once('.').unwrap_or((num, "1"));
        let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || !digits(fraction) {
            return Err(bad_duration(s));
        }
        let n: f64 = num.parse().map_err(|_| bad_duration(s))?;
        let secs = match unit {
            "ms" => n / 1000.0,
            "s" => n,
            "m" => n * 60.0,
            _ => return Err(bad_duration(s)),
        };
        if !(0.0..=86_400.0).contains(&secs) {
            return Err(format!("duration `{s}` is out of range (0 to 24 hours)"));
        }
        Ok(Dur(Duration::from_secs_f64(secs)))
    }
}

fn bad_duration(s: &str) -> String {
    format!("invalid duration `{s}`: write a number and a unit, e.g. `250ms`, `2s`, `1m`")
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) && ms > 0 {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Dur::parse(&s).map_err(de::Error::custom)
    }
}

/// A spec error with the place it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The spec file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for SpecError {}

impl SpecError {
    /// An error about the node `at` of the file at `file`, whose text is
    /// `text`: located by the file's nodes ([`place`]).
    pub fn at(file: &Path, text: &str, at: &At, message: String) -> SpecError {
        let pos = place::Places::of(text).find(at);
        SpecError {
            file: file.to_path_buf(),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            message,
        }
    }
}

impl LabSpec {
    /// Reads and validates a spec file.
    ///
    /// # Errors
    /// A [`SpecError`] with file, line and column for unreadable files, YAML
    /// errors, unknown fields, and references to nodes that do not exist.
    pub fn load(path: &Path) -> Result<LabSpec, SpecError> {
        let text = read(path)?;
        LabSpec::parse(path, &text)
    }

    /// Parses and validates spec text; `path` is only used in errors.
    ///
    /// # Errors
    /// As [`LabSpec::load`].
    pub fn parse(path: &Path, text: &str) -> Result<LabSpec, SpecError> {
        let mut spec: LabSpec = from_yaml(path, text)?;
        expand::lab(&mut spec.tests).map_err(|e| located(path, text, e))?;
        validate::lab(&spec).map_err(|e| located(path, text, e))?;
        resolve(&mut spec.tests).map_err(|e| located(path, text, e))?;
        Ok(spec)
    }

    /// Adds the tests of a file of extra tests after the spec's own, once
    /// they are valid for this lab: its `lab:`, names that no test of the
    /// lab has, and every test as valid as a spec's.
    ///
    /// # Errors
    /// A [`SpecError`] located in the extra file.
    pub fn add(&mut self, extra: &ExtraFile) -> Result<(), SpecError> {
        validate::extra(self, &extra.tests).map_err(|e| located(&extra.path, &extra.text, e))?;
        let mut tests = extra.tests.tests.clone();
        resolve(&mut tests).map_err(|e| located(&extra.path, &extra.text, e))?;
        self.tests.extend(tests.into_iter().map(|mut t| {
            t.origin = Some(extra.path.clone());
            t
        }));
        Ok(())
    }

    /// The tests whose name is `name`, or all of them.
    pub fn select(&self, name: Option<&str>) -> Vec<&TestSpec> {
        self.tests
            .iter()
            .filter(|t| name.is_none_or(|n| t.name == n))
            .collect()
    }
}

/// The text of a spec file, or an error naming it.
/// Resolves every test of a valid spec into its plan.
fn resolve(tests: &mut [TestSpec]) -> Result<(), validate::Invalid> {
    for (i, t) in tests.iter_mut().enumerate() {
        t.plan = plan::resolve(t).map_err(|e| e.under(&NodePath::root().key("tests").index(i)))?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, SpecError> {
    std::fs::read_to_string(path).map_err(|e| SpecError {
        file: path.to_path_buf(),
        line: None,
        column: None,
        message: format!("cannot read the spec: {e}"),
    })
}

/// Parses YAML text into `T`, with serde_yaml's location as the error's.
fn from_yaml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, SpecError> {
    serde_yaml::from_str(text).map_err(|e| {
        let loc = e.location();
        SpecError {
            file: path.to_path_buf(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            message: strip_location(&e.to_string()),
        }
    })
}

/// A validation error of the file at `path`, located in its `text`.
fn located(path: &Path, text: &str, e: validate::Invalid) -> SpecError {
    SpecError::at(path, text, &e.at, e.message)
}

/// Parses hex bytes, spaces allowed: `"00 41 ff"`.
///
/// # Errors
/// A message naming the offending text.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("hex `{s}` has an odd number of digits"));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16)
                .map_err(|_| format!("`{}` in `{s}` is not a hex byte", &digits[i..i + 2]))
        })
        .collect()
}

/// serde_yaml puts " at line L column C" into its messages; the location
/// is printed in front instead, so the phrase is taken out wherever it is.
fn strip_location(msg: &str) -> String {
    let Some(i) = msg.find(" at line ") else {
        return msg.to_string();
    };
    let rest = &msg[i + " at line ".len()..];
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let l = digits(rest);
    let Some(after) = rest[l..].strip_prefix(" column ") else {
        return msg.to_string();
    };
    let c = digits(after);
    format!("{}{}", &msg[..i], &after[c..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "\
lab: hw1
title: UDP echo
binaries: [server, client]
tests:
  - name: echo
    description: the client gets its replies
    nodes:
      - name: server
        run: server
        args: [\"{port}\"]
      - name: client
        run: client
        args: [\"{peer:server}\", --seed, \"{seed}\"]
    steps:
      - start: server
      - start: client
      - wait_exit: client
      - stop: server
    expect:
      client:
        exit: 0
        stdout:
          - repeat: 5
            lines: [\"Request ID: {#}\"]
    wire:
      - answered: { by: server, request: READ_REQ, reply: READ_REP }
";

    fn parse(text: &str) -> Result<LabSpec, SpecError> {
        LabSpec::parse(Path::new("labs/hw1/spec.yaml"), text)
    }

    /// A test of the kit's own scripted forms: serve, repeat, if, random.
    const REACTIVE: &str = "\
lab: hw1
title: t
binaries: [server, client]
tests:
  - name: r
    description: d
    vars: { capacity: 3 }
    nodes:
      - name: store
        script:
          - serve:
              rules:
                - { on: WRITE_REQ, store: true, reply: { type: WRITE_REP } }
                - { on: [READ_REQ], reply: { type: READ_REP, value: \"{stored}\" } }
      - name: tester
        script:
          - repeat:
              times: 3
              steps:
                - send: { to: store, type: READ_REQ, key: \"K{random:4}-{i}\" }
                - recv: { from: store, type: [READ_REP, CACHE_HIT], as: a }
                - if: { value: \"{a.type}\", is: READ_REP, then: [{ sleep: 1ms }] }
      - name: client
        run: client
        args: [--capacity, \"{capacity}\"]
    steps: [{ start: store }, { start: tester }, { start: client }, { wait_exit: tester }]
    expect:
      client:
        numbers: [{ line: \"ratio {number}\", at_least: \"{capacity} / 10\" }]
";

    #[test]
    fn a_minimal_spec_parses() {
        let s = parse(MINIMAL).unwrap();
        assert_eq!(s.tests.len(), 1);
        let t = &s.tests[0];
        assert!(t.node("server").unwrap().listens());
        assert!(!t.node("client").unwrap().listens());
        let escaped =
            parse(&MINIMAL.replace("args: [\"{port}\"]", "args: ['\\{port\\}']")).unwrap();
        assert!(!escaped.tests[0].node("server").unwrap().listens());
        assert_eq!(t.steps.len(), 4);
        assert_eq!(s.timeout, Dur(Duration::from_secs(10)));
        assert_eq!(t.expect["client"].exit, Some(ExitExpect::Code(0)));
    }

    #[test]
    fn an_unknown_field_is_reported_with_line_and_column() {
        let text = MINIMAL.replace("    description:", "    descripton:");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, Some(6));
        assert!(e.message.contains("unknown field `descripton`"), "{e}");
        assert!(e.message.contains("expected one of"), "{e}");
        assert!(e.to_string().starts_with("labs/hw1/spec.yaml:6:"), "{e}");
    }

    #[test]
    fn an_unknown_step_names_the_accepted_ones() {
        let text = MINIMAL.replace("- stop: server", "- halt: server");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, Some(18));
        assert!(e.message.contains("unknown variant `halt`"), "{e}");
    }

    #[test]
    fn locations_skip_descriptions_and_hints() {
        let text = MINIMAL
            .replace(
                "description: the client gets its replies",
                "description: the sever answers",
            )
            .replace("- stop: server", "- stop: sever");
        let e = parse(&text).unwrap_err();
        assert_eq!((e.line, e.column), (Some(18), Some(15)), "{e}");
    }

    #[test]
    fn a_reference_to_a_missing_node_is_located() {
        let text = MINIMAL.replace("- stop: server", "- stop: sever");
        let e = parse(&text).unwrap_err();
        assert_eq!((e.line, e.column), (Some(18), Some(15)), "{e}");
        assert!(e.message.contains("no node `sever`"), "{e}");
    }

    #[test]
    fn a_bad_duration_and_probability_are_rejected() {
        let text = MINIMAL.replace("    steps:", "    timeout: 3 parsecs\n    steps:");
        assert!(
            parse(&text)
                .unwrap_err()
                .message
                .contains("invalid duration")
        );
        let text = MINIMAL.replace(
            "    steps:",
            "    network: { faults: { drop: 1.5 } }\n    steps:",
        );
        assert!(parse(&text).unwrap_err().message.contains("probability"));
    }

    #[test]
    fn a_bad_placeholder_is_rejected() {
        let text = MINIMAL.replace("{peer:server}", "{peer:srv}");
        assert!(parse(&text).unwrap_err().message.contains("no node `srv`"));
        let text = MINIMAL.replace("{peer:server}", "{server}");
        assert!(
            parse(&text)
                .unwrap_err()
                .message
                .contains("unknown placeholder")
        );
    }

    /// MINIMAL's test in flow style, with odd spacing and quoted keys.
    const FLOW: &str = "\
lab: hw1
title: UDP echo
binaries: [server, client]
tests:
  - {name: echo, description: the client gets its replies,
     nodes: [ {name: server, run: server, args: [\"{port}\"]},
              { \"name\" :  client,  'run': client, args: [\"{peer:server}\"] } ],
     steps: [ {start:   server}, {  start : client }, {wait_exit: client}, {  stop : server } ],
     expect: { \"client\" : {exit: 0} } }
";

    /// The line and column where `marker`, found once in `text`, starts.
    fn place_of(text: &str, marker: &str) -> (Option<usize>, Option<usize>) {
        assert_eq!(text.matches(marker).count(), 1, "`{marker}` in:\n{text}");
        let before = &text[..text.find(marker).unwrap()];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
        (Some(line), Some(column))
    }

    /// Each `(from, to)` change of `base` is an error that says `says`,
    /// located where `marker` starts in the changed text.
    fn located_at(base: &str, cases: &[(&str, &str, &str, &str)]) {
        for &(from, to, says, marker) in cases {
            assert!(base.contains(from), "{from}");
            let text = base.replacen(from, to, 1);
            let e = parse(&text).unwrap_err();
            assert!(e.message.contains(says), "expected `{says}` in: {e}");
            assert_eq!(
                (e.line, e.column),
                place_of(&text, marker),
                "{to}: {e}\n{text}"
            );
        }
    }

    #[test]
    fn errors_in_flow_style_are_located_at_their_node() {
        parse(FLOW).unwrap();
        located_at(
            FLOW,
            &[
                // A node name as a value, after odd spacing.
                (
                    "{  stop : server }",
                    "{  stop : sevrer }",
                    "test `echo` has no node `sevrer`",
                    "sevrer",
                ),
                // A step as a whole: its `{`.
                (
                    "{  start : client }",
                    "{  start : server }",
                    "node `server` is started twice",
                    "{  start : server }",
                ),
                // A value after a quoted key, in a flow mapping for a node.
                (
                    "'run': client",
                    "'run': clint",
                    "runs `clint`, which is not one of the lab's binaries",
                    "clint",
                ),
                (
                    "{  stop : server }",
                    "{  stop : {  node :   sevrer, within: 1s } }",
                    "test `echo` has no node `sevrer`",
                    "sevrer",
                ),
                (
                    "{wait_exit: client}",
                    "{\"wait_exit\":   clinet}",
                    "test `echo` has no node `clinet`",
                    "clinet",
                ),
                // A pattern, at its opening quote.
                (
                    "\"{peer:server}\"",
                    "\"{peer:srv}\"",
                    "test `echo` has no node `srv`",
                    "\"{peer:srv}\"",
                ),
                // A node name as a quoted key.
                (
                    "\"client\" : {exit: 0}",
                    "\"clinet\" : {exit: 0}",
                    "test `echo` has no node `clinet`",
                    "\"clinet\"",
                ),
            ],
        );
    }

    #[test]
    fn an_error_in_an_unrolled_step_is_located_where_it_was_written() {
        let groups = FLOW
            .replace(
                "{name: server, run: server, args: [\"{port}\"]}",
                "{name: server, run: server, args: [\"{port}\"], count: 2}",
            )
            .replace(
                "\"{peer:server}\"",
                "--verbose, \"{peers:server}\", \"{seed}\"",
            );
        parse(&groups).unwrap();
        located_at(
            &groups,
            &[
                (
                    "{  stop : server } ]",
                    "{  stop : server }, { kill: server1 } ]",
                    "the step `kill` acts on `server1`, which has already ended by this step",
                    "{ kill: server1 }",
                ),
                // `{peers:server}` became two arguments: the one after is the third written.
                (
                    "\"{seed}\"",
                    "\"{sed}\"",
                    "unknown placeholder `{sed}`",
                    "\"{sed}\"",
                ),
            ],
        );
    }

    #[test]
    fn an_error_in_a_file_of_extra_tests_is_located_in_that_file() {
        let dir = std::env::temp_dir().join(format!("grader-extra-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hidden.yaml");
        let (_, tests) = FLOW.split_once("tests:\n").unwrap();
        let extra = format!(
            "# hidden\nlab: hw1\ntests:\n{}",
            tests
                .replace("{name: echo,", "{name: echo-hidden,")
                .replace("{  stop : server }", "{  stop : sevrer }")
        );
        std::fs::write(&path, &extra).unwrap();
        let file = ExtraFile::load(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        let mut spec = parse(MINIMAL).unwrap();
        let e = spec.add(&file.unwrap()).unwrap_err();
        assert_eq!(e.file, path);
        assert!(e.message.contains("no node `sevrer`"), "{e}");
        assert_eq!((e.line, e.column), place_of(&extra, "sevrer"), "{e}");
    }

    #[test]
    fn every_step_node_and_check_of_the_kit_is_where_its_path_says() {
        let kit = crate::kit::Kit::find(None).unwrap();
        for lab in kit.labs().unwrap() {
            let text = std::fs::read_to_string(&lab.spec_path).unwrap();
            let spec = LabSpec::parse(&lab.spec_path, &text).unwrap();
            let places = place::Places::of(&text);
            for (i, t) in spec.tests.iter().enumerate() {
                let test = NodePath::root().key("tests").index(i);
                let mut paths = Vec::new();
                for (k, s) in t.steps.iter().enumerate() {
                    let item = test.key("steps").index(t.written.steps[k]);
                    paths.push(item.key(s.name()));
                }
                for (k, w) in t.wire.iter().enumerate() {
                    paths.push(test.key("wire").index(k).key(w.name()));
                }
                for (k, n) in t.nodes.iter().enumerate() {
                    let node = test.key("nodes").index(t.written.nodes[k]);
                    for &a in &t.written.args[k] {
                        paths.push(node.key("args").index(a));
                    }
                    paths.push(node.key(if n.is_script() { "script" } else { "run" }));
                }
                for written in t.written.expect.values() {
                    paths.push(test.key("expect").key(written));
                }
                for p in paths {
                    assert!(places.has(&p), "{}: no {p}", lab.spec_path.display());
                }
            }
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(Dur::parse("250ms").unwrap().0, Duration::from_millis(250));
        assert_eq!(Dur::parse("1.5s").unwrap().0, Duration::from_millis(1500));
        assert_eq!(Dur::parse("1m").unwrap().0, Duration::from_secs(60));
        assert!(Dur::parse("5").is_err());
        assert!(Dur::parse("-1s").is_err());
        for loose in [".5s", "2 s", " 2s", "1.s", "1e3ms", "2sec"] {
            assert!(Dur::parse(loose).is_err(), "{loose}");
        }
        assert_eq!(Dur::parse("2s").unwrap().to_string(), "2s");
    }

    #[test]
    fn link_faults_override_defaults() {
        let n: NetworkSpec = serde_yaml::from_str(
            "faults: { drop: 0.1, delay: 5ms }\nlinks: [{ from: a, to: b, drop: 0.5 }]",
        )
        .unwrap();
        assert_eq!(n.faults_for("a", "b").drop, 0.5);
        assert_eq!(n.faults_for("a", "b").delay.0, Duration::from_millis(5));
        assert_eq!(n.faults_for("b", "a").drop, 0.1);
    }

    #[test]
    fn the_location_phrase_is_taken_out_of_messages() {
        assert_eq!(
            strip_location("bad at line 3 column 1, while scanning"),
            "bad, while scanning"
        );
        assert_eq!(strip_location("bad at line 12 column 5"), "bad");
        assert_eq!(strip_location("no place"), "no place");
    }

    #[test]
    fn hex_parses() {
        assert_eq!(parse_hex("00 41 ff").unwrap(), vec![0, 0x41, 0xff]);
        assert!(parse_hex("0").is_err());
        assert!(parse_hex("zz").is_err());
    }

    #[test]
    fn reactive_scripts_and_numbers_validate() {
        parse(REACTIVE).unwrap();
        for (from, to, says) in [
            (
                "K{random:4}-{i}",
                "K{i}{random:0}",
                "must be a whole number above 0",
            ),
            ("{stored}", "{stowed}", "unknown placeholder `{stowed}`"),
            ("ratio {number}", "ratio {num}", "has no `{number}`"),
            ("{capacity} / 10", "{cap} / 10", "no variable `cap`"),
            (
                "is: READ_REP, then",
                "is: READ_REP, than",
                "unknown field `than`",
            ),
        ] {
            let text = REACTIVE.replace(from, to);
            assert_ne!(text, REACTIVE, "{from}");
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(says), "{to}: {e}");
        }
        // `{i}` means something only inside a repeat.
        let text = REACTIVE.replace(
            "      - name: client\n",
            "          - send: { to: store, type: READ_REQ, key: \"{i}\" }\n      - name: client\n",
        );
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("unknown placeholder `{i}`"), "{e}");
    }
}
