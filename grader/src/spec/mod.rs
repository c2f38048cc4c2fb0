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
//! spec's. A valid test is then resolved into its [`plan`]: nodes by
//! index, arguments parsed, faults merged; the runner reads the plan.
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
//! - [`plan`]: a valid test resolved, as the runner and the judge read it;
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
mod expect;
pub mod expr;
pub mod limits;
pub mod pattern;
pub mod place;
pub mod plan;
pub mod schema;
mod script;
mod steps;
pub mod transcript;
pub mod validate;
mod values;

pub use crate::judge::wire::WireCheck;
pub use expect::{ExitExpect, NodeExpect};
pub use limits::{Limits, Size};
pub use place::{At, NodePath};
pub use script::{
    IfStep, Meanwhile, OneOrMany, RecvStep, ReplyStep, ScriptStep, SendStep, ServeRule, ServeStep,
};
pub use steps::{Link, LinkOrPair, LoadStep, QueryStep, Step, StopStep, Stream, WorkloadName};
use transcript::Item;
pub use values::{Dur, Expr, Match, NumberCheck, RouteBy, SIGNALS, SignalName, TypeName};

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
    /// Send the receiver a forged datagram made from each, just before
    /// it: changed by `sender`, `retype`, `key`, `value` and `bytes`. The
    /// original's fate is left to the other rules and the link.
    Forge(RuleMatch),
}

impl Rule {
    /// Which datagrams the rule names.
    pub fn matcher(&self) -> &RuleMatch {
        match self {
            Rule::Drop(m) | Rule::Duplicate(m) | Rule::Delay(m) | Rule::Forge(m) => m,
        }
    }

    /// `drop`, `duplicate`, `delay` or `forge`.
    pub fn action(&self) -> &'static str {
        match self {
            Rule::Drop(_) => "drop",
            Rule::Duplicate(_) => "duplicate",
            Rule::Delay(_) => "delay",
            Rule::Forge(_) => "forge",
        }
    }

    /// Whether the rule decides the fate of what it names: every rule but
    /// `forge`, which adds a datagram and leaves the original to the
    /// rules after it and to the link.
    pub fn decides(&self) -> bool {
        !matches!(self, Rule::Forge(_))
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
        let forged = m.forged();
        if !forged.is_empty() {
            write!(f, ", {forged}")?;
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
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
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
    /// For `forge`: `stranger` sends the forged datagram from a socket of
    /// the grader's that is no node's address. Without it, it comes from
    /// where the receiver sees the real sender.
    #[serde(default)]
    pub sender: Option<String>,
    /// For `forge`: the forged record's type.
    #[serde(default)]
    pub retype: Option<TypeName>,
    /// For `forge`: `other` (the key with its last character changed) or
    /// the key to send, 1 to 15 bytes.
    #[serde(default)]
    pub key: Option<String>,
    /// For `forge`: the value to send, at most 15 bytes (the record then
    /// has its value field: 33 bytes).
    #[serde(default)]
    pub value: Option<String>,
    /// For `forge`: the forged datagram cut to, or padded with NUL bytes
    /// to, this many bytes (1 to 65507).
    #[serde(default)]
    pub bytes: Option<usize>,
}

/// The word of `forge`'s `sender` that sends from a stranger.
pub const STRANGER: &str = "stranger";

/// The word of `forge`'s `key` that changes the key's last character.
pub const OTHER_KEY: &str = "other";

/// The largest UDP payload over IPv4, and so the largest `bytes`.
pub const MAX_FORGED: usize = 65_507;

impl RuleMatch {
    /// What a `forge` rule changes, as the spec writes it: `sender:
    /// stranger, value: X`; empty for a rule that changes nothing.
    pub fn forged(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.sender {
            parts.push(format!("sender: {s}"));
        }
        if let Some(t) = self.retype {
            parts.push(format!("retype: {}", t.0));
        }
        if let Some(k) = &self.key {
            parts.push(format!("key: {k}"));
        }
        if let Some(v) = &self.value {
            parts.push(format!("value: {v}"));
        }
        if let Some(n) = self.bytes {
            parts.push(format!("bytes: {n}"));
        }
        parts.join(", ")
    }

    /// What a `forge` rule changes, as the timeline says it: `from a
    /// stranger, value FROMASTRANGER`.
    pub fn forgery(&self) -> String {
        let mut parts = Vec::new();
        if self.sender.is_some() {
            parts.push("from a stranger".to_string());
        }
        if let Some(t) = self.retype {
            parts.push(format!("type {}", t.0));
        }
        match self.key.as_deref() {
            Some(OTHER_KEY) => parts.push("another key".to_string()),
            Some(k) => parts.push(format!("key {k}")),
            None => {}
        }
        if let Some(v) = &self.value {
            parts.push(format!("value {v}"));
        }
        if let Some(n) = self.bytes {
            parts.push(format!("{n} bytes"));
        }
        parts.join(", ")
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

/// The default of a flag that is on unless turned off.
pub(crate) fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests;
