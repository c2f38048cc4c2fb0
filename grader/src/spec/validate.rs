//! What YAML parsing cannot check, checked before anything runs.
//!
//! A spec that passes these checks runs without a spec problem: every node
//! a step, a check or a placeholder names exists; every node is started
//! once, before anything acts on it; every `{name}` has a value where it is
//! used; every rule and check is well formed. The runner relies on this and
//! never meets a spec mistake at run time.
//!
//! An error names the node of the file it is about by its path, built as
//! the walk goes down (`steps/2/start`, within a test; the caller puts
//! `tests/3` in front), and says whether it means the node or its key
//! ([`At`]); [`super::place`] finds the line and column. Where unrolling a
//! group made several nodes, steps or entries of one, the path is the one
//! written ([`super::expand::Written`]). The node meant is:
//!
//! - a name, text or number that is wrong where it stands (a node that
//!   does not exist, a bad pattern, placeholder or expression): that value;
//! - a field whose setting is wrong as a whole (a count or probability out
//!   of range, an empty list, a name given twice, a field that lacks what
//!   it needs, a node name given as an `expect` key): its key;
//! - a step, a rule, a node, a check or a datagram to send that is wrong as
//!   a whole (a step out of order, a `send` without its datagram): that
//!   node, found where it starts.

use std::collections::{BTreeMap, BTreeSet};

use super::pattern::{self, Token};
use super::place::{At, NodePath};
use super::transcript;
use super::{
    Expr, ExtraTests, FaultSettings, LabSpec, LinkOrPair, Match, NodeSpec, NumberCheck, OneOrMany,
    RecvStep, Rule, ScriptStep, SendStep, ServeStep, Step, TestSpec, WireCheck, expr, parse_hex,
};

/// A spec error before it is located: the node it is about, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The node, or its key; within a test, from the test down.
    pub at: At,
    /// What is wrong and what would be right.
    pub message: String,
}

impl Invalid {
    /// The same error, its path put after `prefix`: an error within a
    /// test, put under `tests/N`.
    #[must_use]
    pub fn under(self, prefix: &NodePath) -> Invalid {
        Invalid {
            at: self.at.under(prefix),
            ..self
        }
    }

    /// The same error, at the key of its node: a node name given as a key
    /// (`expect: { server: ... }`) is wrong where the key is.
    #[must_use]
    fn on_key(self) -> Invalid {
        Invalid {
            at: At::Key(self.at.path().clone()),
            ..self
        }
    }
}

/// An error about the node at `path`.
pub(crate) fn at(path: NodePath, message: String) -> Invalid {
    Invalid {
        at: At::Node(path),
        message,
    }
}

/// An error about the field at `path` as a whole: it points at the key.
pub(crate) fn at_key(path: NodePath, message: String) -> Invalid {
    Invalid {
        at: At::Key(path),
        message,
    }
}

/// Each value of a one-or-many field written at `path`, with its own path:
/// the field's for one value, an index into it for a list.
pub(crate) fn each<'a, T>(values: &'a OneOrMany<T>, path: &NodePath) -> Vec<(&'a T, NodePath)> {
    match values {
        OneOrMany::One(v) => vec![(v, path.clone())],
        OneOrMany::Many(vs) => vs
            .iter()
            .enumerate()
            .map(|(i, v)| (v, path.index(i)))
            .collect(),
    }
}

/// Checks a whole spec.
///
/// # Errors
/// The first problem found.
pub fn lab(spec: &LabSpec) -> Result<(), Invalid> {
    let top = NodePath::root();
    if spec.tests.is_empty() {
        return Err(at_key(top.key("tests"), "the spec has no tests".into()));
    }
    if spec.binaries.is_empty() {
        return Err(at_key(
            top.key("binaries"),
            "`binaries` lists no executable".into(),
        ));
    }
    if spec.limits.startup.0.is_zero() {
        return Err(at_key(
            top.key("limits").key("startup"),
            "`limits.startup` of 0 leaves a program no time to start: give it a few seconds (default `10s`)".into(),
        ));
    }
    let mut names = BTreeSet::new();
    for (i, t) in spec.tests.iter().enumerate() {
        let path = top.key("tests").index(i);
        if !names.insert(t.name.as_str()) {
            return Err(at_key(
                path.key("name"),
                format!("two tests are named `{}`: names must be unique", t.name),
            ));
        }
        test(t, &spec.binaries).map_err(|e| e.under(&path))?;
    }
    Ok(())
}

/// Checks a file of extra tests against the spec they are added to:
/// the same lab, names of their own, and every test as a spec's test
/// (with the spec's binaries).
///
/// # Errors
/// The first problem found, to be located in the extra file.
pub fn extra(spec: &LabSpec, extra: &ExtraTests) -> Result<(), Invalid> {
    let top = NodePath::root();
    if extra.lab != spec.lab {
        return Err(at_key(
            top.key("lab"),
            format!(
                "`lab: {}`, but these tests are added to lab {}: a file of extra tests names the lab it is for",
                extra.lab, spec.lab
            ),
        ));
    }
    if extra.tests.is_empty() {
        return Err(at_key(top.key("tests"), "the file has no tests".into()));
    }
    let mut names = BTreeSet::new();
    for (i, t) in extra.tests.iter().enumerate() {
        let path = top.key("tests").index(i);
        if let Some(other) = spec.tests.iter().find(|o| o.name == t.name) {
            let place = other
                .origin
                .as_ref()
                .map_or("the lab's spec.yaml".to_string(), |p| {
                    p.display().to_string()
                });
            return Err(at_key(
                path.key("name"),
                format!(
                    "the lab already has a test named `{}` (in {place}): an extra test needs a name of its own",
                    t.name
                ),
            ));
        }
        if !names.insert(t.name.as_str()) {
            return Err(at_key(
                path.key("name"),
                format!("two tests are named `{}`: names must be unique", t.name),
            ));
        }
        test(t, &spec.binaries).map_err(|e| e.under(&path))?;
    }
    Ok(())
}

/// Checks one test; the paths of its errors start at the test.
fn test(t: &TestSpec, binaries: &[String]) -> Result<(), Invalid> {
    let top = NodePath::root();
    if t.nodes.is_empty() {
        return Err(at_key(
            top.key("nodes"),
            format!("test `{}` has no nodes", t.name),
        ));
    }
    let mut seen = BTreeSet::new();
    for (k, n) in t.nodes.iter().enumerate() {
        let path = node_path(t, k);
        node(t, n, binaries, &path)?;
        if !seen.insert(n.name.as_str()) {
            return Err(at_key(
                path.key("name"),
                format!("two nodes are named `{}`", n.name),
            ));
        }
    }
    for (k, n) in t.nodes.iter().enumerate() {
        let path = node_path(t, k);
        for (a, &w) in n.args.iter().zip(&t.written.args[k]) {
            placeholders(a, &|name| arg_value(t, name), path.key("args").index(w))?;
        }
        if let Some(steps) = &n.script {
            script(t, n, steps, &path.key("script"))?;
        }
    }
    network(t)?;
    let started = steps(t)?;
    expect(t, &started)?;
    for (i, w) in t.wire.iter().enumerate() {
        wire(t, w, &top.key("wire").index(i))?;
    }
    Ok(())
}

/// Where node `k` of the test (a group's member: its group) was written.
fn node_path(t: &TestSpec, k: usize) -> NodePath {
    NodePath::root().key("nodes").index(t.written.nodes[k])
}

/// Letters, digits, `_` and `-`, at least one: what a node or a binding
/// may be called, so that `{peer:NAME}` and `{NAME.key}` can name it.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn node(t: &TestSpec, n: &NodeSpec, binaries: &[String], path: &NodePath) -> Result<(), Invalid> {
    if !is_name(&n.name) {
        return Err(at(
            path.key("name"),
            format!(
                "node name `{}` may hold only letters, digits, `_` and `-`",
                n.name
            ),
        ));
    }
    match (&n.run, &n.script) {
        (Some(bin), None) if !binaries.contains(bin) => Err(at(
            path.key("run"),
            format!(
                "node `{}` runs `{bin}`, which is not one of the lab's binaries ({})",
                n.name,
                binaries.join(", ")
            ),
        )),
        (Some(_), None) => Ok(()),
        (None, Some(_)) if !n.args.is_empty() => Err(at_key(
            path.key("args"),
            format!("node `{}` is scripted: it takes no `args`", n.name),
        )),
        (None, Some(_)) => Ok(()),
        _ => Err(at(
            path.clone(),
            format!(
                "node `{}` needs exactly one of `run` (a lab program) or `script` (a peer the grader plays) in test `{}`",
                n.name, t.name
            ),
        )),
    }
}

/// The node called `name`, which the value at `path` names.
pub(crate) fn known<'a>(
    t: &'a TestSpec,
    name: &str,
    path: NodePath,
) -> Result<&'a NodeSpec, Invalid> {
    t.node(name).ok_or_else(|| {
        let names: Vec<&str> = t.nodes.iter().map(|n| n.name.as_str()).collect();
        at(
            path,
            format!(
                "test `{}` has no node `{name}` (its nodes: {})",
                t.name,
                names.join(", ")
            ),
        )
    })
}

/// A link between two different nodes, for `cut`, `heal_link` and `faults`.
fn link_of(t: &TestSpec, from: &str, to: &str) -> Result<(), String> {
    for n in [from, to] {
        if t.index(n).is_none() {
            return Err(format!("no node `{n}` in this test"));
        }
    }
    if from == to {
        return Err(format!(
            "a link joins two different nodes, not `{from}` and itself"
        ));
    }
    Ok(())
}

/// A node or a group of nodes (`count`), where a wire check names one.
pub(crate) fn node_or_group(t: &TestSpec, name: &str, path: NodePath) -> Result<(), Invalid> {
    if t.groups.contains_key(name) {
        return Ok(());
    }
    known(t, name, path).map(|_| ())
}

/// The nodes a match at `path` names.
pub(crate) fn matcher(t: &TestSpec, m: &Match, path: &NodePath) -> Result<(), Invalid> {
    for (n, field) in [(&m.from, "from"), (&m.to, "to")] {
        if let Some(n) = n {
            node_or_group(t, n, path.key(field))?;
        }
    }
    Ok(())
}

/// An expression of a check: its syntax, and that its names are the test's `vars`.
pub(crate) fn expression(t: &TestSpec, e: &Expr, path: NodePath) -> Result<(), Invalid> {
    let names = expr::names(&e.0).map_err(|m| at(path.clone(), m))?;
    for name in names {
        if !t.vars.contains_key(&name) {
            return Err(at(
                path,
                format!(
                    "in `{}`: the test has no variable `{name}` in its `vars`",
                    e.0
                ),
            ));
        }
    }
    Ok(())
}

/// The program node called `name`, for `what`, which needs one.
pub(crate) fn program<'a>(
    t: &'a TestSpec,
    name: &str,
    what: &str,
    path: NodePath,
) -> Result<&'a NodeSpec, Invalid> {
    let n = known(t, name, path.clone())?;
    if n.is_script() {
        return Err(at(
            path,
            format!("node `{name}` is scripted: {what} needs a program"),
        ));
    }
    Ok(n)
}

/// Whether `name` has a value in a node's `args`.
fn arg_value(t: &TestSpec, name: &str) -> Result<(), String> {
    match name.split_once(':') {
        None if name == "port" || name == "seed" || t.vars.contains_key(name) => Ok(()),
        Some(("peer" | "seed", node)) if t.node(node).is_some() => Ok(()),
        Some(("peer" | "seed", node)) => Err(format!("test `{}` has no node `{node}`", t.name)),
        _ => Err(format!(
            "unknown placeholder `{{{name}}}`: use {{port}}, {{seed}}, {{peer:NODE}}, {{seed:NODE}} or a name of the test's `vars`"
        )),
    }
}

/// Checks the syntax of `text`, written at `path`, and that each of its
/// names has a value.
fn placeholders(
    text: &str,
    value: &dyn Fn(&str) -> Result<(), String>,
    path: NodePath,
) -> Result<(), Invalid> {
    let tokens = pattern::parse(text).map_err(|e| at(path.clone(), format!("in `{text}`: {e}")))?;
    if tokens.contains(&Token::Index) {
        return Err(at(
            path,
            format!("in `{text}`: `{{#}}` only means something in a transcript"),
        ));
    }
    for name in pattern::names(&tokens) {
        value(name).map_err(|e| at(path.clone(), format!("in `{text}`: {e}")))?;
    }
    Ok(())
}

/// A probability, written at `path`, for field `what`.
fn probability(p: f64, what: &str, path: NodePath) -> Result<(), Invalid> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(at_key(
            path,
            format!("`{what}` is a probability from 0 to 1, got {p}"),
        ))
    }
}

/// Where fault settings appear, and what each place asks of their link.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FaultsAt {
    /// `network.faults`: every link, so no `from` or `to`.
    Network,
    /// An entry of `network.links`: one link, so both.
    Link,
    /// A `faults` step: both, or neither.
    Step,
}

/// Fault settings written at `path`, wherever they appear: their link, if
/// they name one, and their probabilities.
fn faults(
    t: &TestSpec,
    f: &FaultSettings,
    place: FaultsAt,
    path: &NodePath,
) -> Result<(), Invalid> {
    let wrong = |message: &str| Err(at(path.clone(), message.into()));
    match (f.link(), f.from.is_some() || f.to.is_some(), place) {
        (Some((from, to)), _, FaultsAt::Link | FaultsAt::Step) => {
            link_of(t, from, to).map_err(|m| at(path.clone(), m))?;
        }
        (None, false, FaultsAt::Network | FaultsAt::Step) => {}
        (_, _, FaultsAt::Network) => {
            return wrong(
                "`network.faults` apply to every link; the faults of one link go under `network.links`",
            );
        }
        (_, _, FaultsAt::Link) => {
            return wrong("each of `network.links` names its link with `from` and `to`");
        }
        (_, _, FaultsAt::Step) => {
            return wrong(
                "`faults` changes one link with both `from` and `to`, or every link with neither",
            );
        }
    }
    for (p, what) in f.probabilities() {
        probability(p, what, path.key(what))?;
    }
    Ok(())
}

fn network(t: &TestSpec) -> Result<(), Invalid> {
    let top = NodePath::root().key("network");
    faults(t, &t.network.faults, FaultsAt::Network, &top.key("faults"))?;
    for (k, l) in t.network.links.iter().enumerate() {
        let path = top.key("links").index(t.written.links[k]);
        faults(t, l, FaultsAt::Link, &path)?;
    }
    for (i, r) in t.network.rules.iter().enumerate() {
        rule(t, r, &top.key("rules").index(i))?;
    }
    Ok(())
}

/// A network rule, item `item` of `network.rules`.
fn rule(t: &TestSpec, r: &Rule, item: &NodePath) -> Result<(), Invalid> {
    let m = r.matcher();
    let fields = item.key(r.action());
    known(t, &m.from, fields.key("from"))?;
    known(t, &m.to, fields.key("to"))?;
    let here = |msg: String| Err(at(item.clone(), format!("rule `{r}`: {msg}")));
    match (r, m.by) {
        (Rule::Delay(_), None) => return here("a `delay` rule needs `by`".into()),
        (Rule::Delay(_) | Rule::Duplicate(_), Some(by)) if by.0.is_zero() => {
            return here("`by` must be more than 0".into());
        }
        (Rule::Drop(_) | Rule::Forge(_), Some(_)) => {
            return here("only a `delay` or a `duplicate` rule takes `by`".into());
        }
        _ => {}
    }
    forge(r, &fields)?;
    if m.nth.is_some() && (m.request.is_some() || m.copy.is_some()) {
        return here(
            "`nth` counts every datagram on the link; it does not combine with `request` or `copy`"
                .into(),
        );
    }
    for (list, what) in [(&m.nth, "nth"), (&m.copy, "copy")] {
        if let Some(list) = list
            && (list.is_empty() || list.contains(&0))
        {
            return here(format!(
                "`{what}` counts from 1 and lists at least one number"
            ));
        }
    }
    if m.request.as_ref().is_some_and(Vec::is_empty) {
        return here("`request` lists no number".into());
    }
    Ok(())
}

/// What a `forge` rule changes, at `fields` (the rule's map): at least
/// one thing, each a datagram the proxy can send; no other rule takes
/// these fields.
fn forge(r: &Rule, fields: &NodePath) -> Result<(), Invalid> {
    let m = r.matcher();
    let given = [
        ("sender", m.sender.is_some()),
        ("retype", m.retype.is_some()),
        ("key", m.key.is_some()),
        ("value", m.value.is_some()),
        ("bytes", m.bytes.is_some()),
    ];
    let field = |name: &str, msg: String| Err(at(fields.key(name), format!("rule `{r}`: {msg}")));
    if !matches!(r, Rule::Forge(_)) {
        return match given.iter().find(|(_, g)| *g) {
            Some((name, _)) => field(name, format!("only a `forge` rule takes `{name}`")),
            None => Ok(()),
        };
    }
    if !given.iter().any(|(_, g)| *g) {
        return Err(at(
            fields.clone(),
            format!(
                "rule `{r}`: a `forge` rule changes something: give at least one of `sender`, `retype`, `key`, `value` and `bytes`"
            ),
        ));
    }
    if let Some(s) = &m.sender
        && s != crate::spec::STRANGER
    {
        return field(
            "sender",
            format!("`sender` is `stranger` (the grader's own socket), not `{s}`"),
        );
    }
    let text = |t: &str| t.len() <= handout::MAX_TEXT_LEN && !t.contains('\0');
    if let Some(k) = &m.key
        && k != crate::spec::OTHER_KEY
        && (k.is_empty() || !text(k))
    {
        return field(
            "key",
            format!(
                "`key` is `other` or a key of 1 to {} bytes without NUL; `{k}` has {} bytes",
                handout::MAX_TEXT_LEN,
                k.len()
            ),
        );
    }
    if let Some(v) = &m.value
        && !text(v)
    {
        return field(
            "value",
            format!(
                "`value` holds at most {} bytes without NUL; `{v}` has {} bytes",
                handout::MAX_TEXT_LEN,
                v.len()
            ),
        );
    }
    if let Some(n) = m.bytes
        && !(1..=crate::spec::MAX_FORGED).contains(&n)
    {
        return field(
            "bytes",
            format!(
                "`bytes` is from 1 to {} (a UDP datagram's largest payload), not {n}",
                crate::spec::MAX_FORGED
            ),
        );
    }
    Ok(())
}

/// How far the steps have taken a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    NotStarted,
    Running,
    Ended,
}

/// Walks the steps in order, as the runner will; returns the nodes started.
fn steps(t: &TestSpec) -> Result<BTreeSet<String>, Invalid> {
    let top = NodePath::root().key("steps");
    if t.steps.is_empty() {
        return Err(at_key(top, format!("test `{}` has no steps", t.name)));
    }
    let mut lives = Lives {
        t,
        life: t
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), Life::NotStarted))
            .collect(),
    };
    for (k, s) in t.steps.iter().enumerate() {
        lives.step(s, &top.index(t.written.steps[k]))?;
    }
    Ok(lives
        .life
        .into_iter()
        .filter(|(_, l)| *l != Life::NotStarted)
        .map(|(n, _)| n.to_string())
        .collect())
}

/// Each node's life so far, as the steps are walked.
struct Lives<'a> {
    t: &'a TestSpec,
    /// By node name; every node of the test is here.
    life: BTreeMap<&'a str, Life>,
}

impl<'a> Lives<'a> {
    /// One step, item `item` of `steps` (for a step a group unrolled, the
    /// step written). A step that changes no node's life goes to [`other_step`].
    fn step(&mut self, s: &'a Step, item: &NodePath) -> Result<(), Invalid> {
        let t = self.t;
        let node = item.key(s.name());
        let fail = |message: String| Err(at(item.clone(), message));
        match s {
            Step::Start(n) => {
                known(t, n, node)?;
                if self.life[n.as_str()] != Life::NotStarted {
                    return fail(format!("node `{n}` is started twice: a node starts once"));
                }
                self.life.insert(n, Life::Running);
            }
            Step::WaitExit(n) => {
                known(t, n, node)?;
                self.started(n, "wait_exit", item)?;
                if self.life[n.as_str()] == Life::Ended {
                    return fail(format!("`{n}` has already ended by this step"));
                }
                self.life.insert(n, Life::Ended);
            }
            Step::Stop(stop) => {
                let n = &stop.node;
                program(t, n, "`stop`", node.key("node"))?;
                self.started(n, "stop", item)?;
                if self.life[n.as_str()] == Life::Ended {
                    return fail(format!("`{n}` has already ended by this step"));
                }
                self.life.insert(n, Life::Ended);
            }
            Step::Kill(n) => {
                known(t, n, node)?;
                self.running(n, "kill", item)?;
                self.life.insert(n, Life::Ended);
            }
            Step::Restart(n) => {
                known(t, n, node)?;
                self.started(n, "restart", item)?;
                if self.life[n.as_str()] != Life::Ended {
                    return fail(format!(
                        "`restart: {n}` needs `{n}` ended first: by `wait_exit`, `stop` or `kill`"
                    ));
                }
                self.life.insert(n, Life::Running);
            }
            Step::Signal { node: n, .. } => {
                program(t, n, "`signal`", node.key("node"))?;
                self.running(n, "signal", item)?;
            }
            Step::Pause(n) | Step::Resume(n) => {
                known(t, n, node)?;
                self.running(n, "pause/resume", item)?;
            }
            Step::Idle {
                node: n, window, ..
            } => {
                program(t, n, "`idle`", node.key("node"))?;
                self.running(n, "idle", item)?;
                if window.0.is_zero() {
                    return Err(at_key(
                        node.key("for"),
                        "`idle` needs a window longer than 0".into(),
                    ));
                }
            }
            Step::Load(l) => {
                let n = &l.node;
                program(t, n, "`load`", node.key("node"))?;
                self.running(n, "load", item)?;
                if !t.nodes.iter().any(|d| &d.name == n && d.listens()) {
                    return Err(at_key(
                        node.key("node"),
                        format!(
                            "`load` sends to {n}'s port, but {n} has none: its `args` need `{{port}}`"
                        ),
                    ));
                }
                if l.window.0.is_zero() {
                    return Err(at_key(
                        node.key("for"),
                        "`load` needs a window longer than 0".into(),
                    ));
                }
                if l.clients == 0 || l.clients > 64 {
                    return Err(at_key(
                        node.key("clients"),
                        format!("`clients: {}`: from 1 to 64", l.clients),
                    ));
                }
                if !(l.at_least > 0.0 && l.at_least <= 1.0) {
                    return Err(at_key(
                        node.key("at_least"),
                        format!(
                            "`at_least: {}`: a share of the grader's own server's speed, above 0 and at most 1",
                            l.at_least
                        ),
                    ));
                }
            }
            Step::WaitOutput { node: n, line, .. } => {
                program(t, n, "`wait_output`", node.key("node"))?;
                self.started(n, "wait_output", item)?;
                transcript::validate(&[transcript::Item::Line(line.clone())])
                    .map_err(|m| at(node.key("line"), m))?;
            }
            Step::WaitSent { .. }
            | Step::Partition(_)
            | Step::Cut(_)
            | Step::HealLink(_)
            | Step::Faults(_)
            | Step::Query(_)
            | Step::Sleep(_)
            | Step::Heal => other_step(t, s, item)?,
        }
        Ok(())
    }

    /// A step that acts on `name` (found) needs it started first.
    fn started(&self, name: &str, verb: &str, item: &NodePath) -> Result<(), Invalid> {
        match self.life[name] {
            Life::NotStarted => Err(at(
                item.clone(),
                format!("the step `{verb}` acts on `{name}` before any step starts it"),
            )),
            _ => Ok(()),
        }
    }

    /// Signals, pauses and measures need a program that still runs.
    fn running(&self, name: &str, verb: &str, item: &NodePath) -> Result<(), Invalid> {
        self.started(name, verb, item)?;
        match self.life[name] {
            Life::Ended => Err(at(
                item.clone(),
                format!("the step `{verb}` acts on `{name}`, which has already ended by this step"),
            )),
            _ => Ok(()),
        }
    }
}

/// A step that changes no node's life, item `item` of `steps`: it waits
/// for datagrams, changes the network, or queries.
fn other_step(t: &TestSpec, s: &Step, item: &NodePath) -> Result<(), Invalid> {
    let node = item.key(s.name());
    let fail = |message: String| at(item.clone(), message);
    match s {
        Step::WaitSent {
            from, to, count, ..
        } => {
            known(t, from, node.key("from"))?;
            known(t, to, node.key("to"))?;
            if *count == 0 {
                return Err(at_key(
                    node.key("count"),
                    "`wait_sent` waits for at least 1 datagram".into(),
                ));
            }
        }
        Step::Partition(nodes) => {
            if nodes.len() != 2 || nodes[0] == nodes[1] {
                return Err(fail("`partition` takes two different nodes".into()));
            }
            // A group in the list was unrolled: the list as a whole is meant.
            for n in nodes {
                known(t, n, node.clone())?;
            }
        }
        Step::Cut(link) => link_of(t, &link.from, &link.to).map_err(fail)?,
        Step::HealLink(which) => {
            if let LinkOrPair::Both(pair) = which
                && pair.len() != 2
            {
                return Err(fail("`heal_link: [A, B]` takes two different nodes".into()));
            }
            for (from, to) in which.directions() {
                link_of(t, &from, &to).map_err(fail)?;
            }
        }
        Step::Faults(change) => faults(t, change, FaultsAt::Step, item)?,
        Step::Query(q) => {
            if !known(t, &q.by, node.key("by"))?.is_script() {
                return Err(fail(format!(
                    "`query` asks from a scripted node's address, and `{}` is a program",
                    q.by
                )));
            }
            for (n, path) in each(&q.nodes, &node.key("nodes")) {
                node_or_group(t, n, path)?;
            }
            matcher(t, &q.keys, &node.key("keys"))?;
        }
        // The steps on one node's life are [`Lives::step`]'s.
        _ => {}
    }
    Ok(())
}

fn expect(t: &TestSpec, started: &BTreeSet<String>) -> Result<(), Invalid> {
    for (name, e) in &t.expect {
        let path = NodePath::root().key("expect").key(&t.written.expect[name]);
        let node = known(t, name, path.clone()).map_err(Invalid::on_key)?;
        if node.is_script() {
            return Err(at_key(
                path,
                format!("node `{name}` is scripted: its checks are its `recv` steps, not `expect`"),
            ));
        }
        if !started.contains(name) {
            return Err(at_key(
                path,
                format!("`expect` checks `{name}`, but no step starts it"),
            ));
        }
        for (items, field) in [
            (&e.stdout, "stdout"),
            (&e.stdout_includes, "stdout_includes"),
            (&e.stderr_includes, "stderr_includes"),
        ] {
            if let Some(items) = items {
                transcript::validate(items).map_err(|m| at(path.key(field), m))?;
            }
        }
        for (j, number) in e.numbers.iter().enumerate() {
            number_check(t, number, &path.key("numbers").index(j))?;
        }
        if let Some(other) = &e.stdout_same_as {
            let same = path.key("stdout_same_as");
            program(t, other, "`stdout_same_as`", same.clone())?;
            if other == name {
                return Err(at(same, format!("`{name}` is compared with itself")));
            }
            if !started.contains(other) {
                return Err(at(
                    same,
                    format!("`stdout_same_as: {other}`, but no step starts `{other}`"),
                ));
            }
        }
    }
    Ok(())
}

/// A check on a printed number, item `item` of `numbers`.
fn number_check(t: &TestSpec, number: &NumberCheck, item: &NodePath) -> Result<(), Invalid> {
    let line = &number.line;
    let tokens =
        pattern::parse(line).map_err(|m| at(item.key("line"), format!("in `{line}`: {m}")))?;
    if !pattern::names(&tokens).any(|n| n == "number") {
        return Err(at(
            item.key("line"),
            format!("`{line}` has no `{{number}}`: put it where the number is printed"),
        ));
    }
    if number.at_least.is_none() && number.at_most.is_none() {
        return Err(at(
            item.clone(),
            "a number check needs `at_least`, `at_most` or both".into(),
        ));
    }
    for (e, field) in [(&number.at_least, "at_least"), (&number.at_most, "at_most")] {
        if let Some(e) = e {
            expression(t, e, item.key(field))?;
        }
    }
    Ok(())
}

/// A wire check, item `item` of `wire`: its kind validates it (see
/// [`crate::judge::wire::WireKind`]).
fn wire(t: &TestSpec, w: &WireCheck, item: &NodePath) -> Result<(), Invalid> {
    let (key, kind) = w.as_kind();
    kind.validate(
        t,
        &crate::judge::wire::Written {
            item: item.clone(),
            check: item.key(key),
        },
    )
}

mod script;
use script::script;

#[cfg(test)]
mod tests;
