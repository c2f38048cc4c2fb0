//! What YAML parsing cannot check, checked before anything runs.
//!
//! A spec that passes these checks runs without a spec problem: every node
//! a step, a check or a placeholder names exists; every node is started
//! once, before anything acts on it; every `{name}` has a value where it is
//! used; every rule and check is well formed. The runner relies on this and
//! never meets a spec mistake at run time.
//!
//! An error names the test, a piece of text to look for in the source (and
//! which occurrence of it), and the message; [`super::locate`] turns the
//! first two into a line and column.

use std::collections::{BTreeMap, BTreeSet};

use super::pattern::{self, Token};
use super::transcript;
use super::{
    Expr, ExtraTests, FaultSettings, LabSpec, LinkOrPair, Match, NodeSpec, OneOrMany, Rule,
    ScriptStep, SendStep, Step, TestSpec, WireCheck, expr, parse_hex,
};

/// A spec error before it is located: where to look, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The test it is in (`None`: the top level).
    pub test: Option<String>,
    /// Text to find in the source, searching from the test's `name:` line.
    pub needle: String,
    /// Which occurrence of `needle` (0 is the first).
    pub occurrence: usize,
    /// What is wrong and what would be right.
    pub message: String,
}

pub(crate) fn at(needle: &str, message: String) -> Invalid {
    at_nth(needle, 0, message)
}

fn at_nth(needle: &str, occurrence: usize, message: String) -> Invalid {
    Invalid {
        test: None,
        needle: needle.to_string(),
        occurrence,
        message,
    }
}

/// Checks a whole spec.
///
/// # Errors
/// The first problem found.
pub fn lab(spec: &LabSpec) -> Result<(), Invalid> {
    if spec.tests.is_empty() {
        return Err(at("tests", "the spec has no tests".into()));
    }
    if spec.binaries.is_empty() {
        return Err(at("binaries", "`binaries` lists no executable".into()));
    }
    if spec.limits.startup.0.is_zero() {
        return Err(at(
            "startup",
            "`limits.startup` of 0 leaves a program no time to start: give it a few seconds (default `10s`)".into(),
        ));
    }
    let mut names = BTreeSet::new();
    for t in &spec.tests {
        if !names.insert(t.name.as_str()) {
            return Err(at_nth(
                &format!("name: {}", t.name),
                1,
                format!("two tests are named `{}`: names must be unique", t.name),
            ));
        }
        test(t, &spec.binaries).map_err(|mut e| {
            e.test = Some(t.name.clone());
            e
        })?;
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
    if extra.lab != spec.lab {
        return Err(at(
            "lab:",
            format!(
                "`lab: {}`, but these tests are added to lab {}: a file of extra tests names the lab it is for",
                extra.lab, spec.lab
            ),
        ));
    }
    if extra.tests.is_empty() {
        return Err(at("tests", "the file has no tests".into()));
    }
    let mut names = BTreeSet::new();
    for t in &extra.tests {
        let needle = format!("name: {}", t.name);
        if let Some(other) = spec.tests.iter().find(|o| o.name == t.name) {
            let place = other
                .origin
                .as_ref()
                .map_or("the lab's spec.yaml".to_string(), |p| {
                    p.display().to_string()
                });
            return Err(Invalid {
                test: Some(t.name.clone()),
                ..at(
                    &needle,
                    format!(
                        "the lab already has a test named `{}` (in {place}): an extra test needs a name of its own",
                        t.name
                    ),
                )
            });
        }
        if !names.insert(t.name.as_str()) {
            return Err(at_nth(
                &needle,
                1,
                format!("two tests are named `{}`: names must be unique", t.name),
            ));
        }
        test(t, &spec.binaries).map_err(|mut e| {
            e.test = Some(t.name.clone());
            e
        })?;
    }
    Ok(())
}

fn test(t: &TestSpec, binaries: &[String]) -> Result<(), Invalid> {
    if t.nodes.is_empty() {
        return Err(at("nodes", format!("test `{}` has no nodes", t.name)));
    }
    let mut seen = BTreeSet::new();
    for n in &t.nodes {
        node(t, n, binaries)?;
        if !seen.insert(n.name.as_str()) {
            return Err(at_nth(
                &format!("name: {}", n.name),
                1,
                format!("two nodes are named `{}`", n.name),
            ));
        }
    }
    for n in &t.nodes {
        for a in &n.args {
            placeholders(a, &|name| arg_value(t, name))?;
        }
        if let Some(steps) = &n.script {
            script(t, n, steps)?;
        }
    }
    network(t)?;
    let started = steps(t)?;
    expect(t, &started)?;
    for w in &t.wire {
        wire(t, w)?;
    }
    Ok(())
}

/// Letters, digits, `_` and `-`, at least one: what a node or a binding
/// may be called, so that `{peer:NAME}` and `{NAME.key}` can name it.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn node(t: &TestSpec, n: &NodeSpec, binaries: &[String]) -> Result<(), Invalid> {
    if !is_name(&n.name) {
        return Err(at(
            &n.name,
            format!(
                "node name `{}` may hold only letters, digits, `_` and `-`",
                n.name
            ),
        ));
    }
    match (&n.run, &n.script) {
        (Some(bin), None) if !binaries.contains(bin) => Err(at(
            bin,
            format!(
                "node `{}` runs `{bin}`, which is not one of the lab's binaries ({})",
                n.name,
                binaries.join(", ")
            ),
        )),
        (Some(_), None) => Ok(()),
        (None, Some(_)) if !n.args.is_empty() => Err(at(
            &n.name,
            format!("node `{}` is scripted: it takes no `args`", n.name),
        )),
        (None, Some(_)) => Ok(()),
        _ => Err(at(
            &n.name,
            format!(
                "node `{}` needs exactly one of `run` (a lab program) or `script` (a peer the grader plays) in test `{}`",
                n.name, t.name
            ),
        )),
    }
}

pub(crate) fn known<'a>(t: &'a TestSpec, name: &str) -> Result<&'a NodeSpec, Invalid> {
    t.node(name).ok_or_else(|| {
        let names: Vec<&str> = t.nodes.iter().map(|n| n.name.as_str()).collect();
        at(
            name,
            format!(
                "test `{}` has no node `{name}` (its nodes: {})",
                t.name,
                names.join(", ")
            ),
        )
    })
}

/// A node or a group of nodes (`count`), where a wire check names one.
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

pub(crate) fn node_or_group(t: &TestSpec, name: &str) -> Result<(), Invalid> {
    if t.groups.contains_key(name) {
        return Ok(());
    }
    known(t, name).map(|_| ())
}

pub(crate) fn matcher(t: &TestSpec, m: &Match) -> Result<(), Invalid> {
    for n in [&m.from, &m.to].into_iter().flatten() {
        node_or_group(t, n)?;
    }
    Ok(())
}

/// An expression of a check: its syntax, and that its names are the test's `vars`.
pub(crate) fn expression(t: &TestSpec, e: &Expr) -> Result<(), Invalid> {
    let names = expr::names(&e.0).map_err(|m| at(&e.0, m))?;
    for name in names {
        if !t.vars.contains_key(&name) {
            return Err(at(
                &e.0,
                format!(
                    "in `{}`: the test has no variable `{name}` in its `vars`",
                    e.0
                ),
            ));
        }
    }
    Ok(())
}

pub(crate) fn program<'a>(
    t: &'a TestSpec,
    name: &str,
    what: &str,
) -> Result<&'a NodeSpec, Invalid> {
    let n = known(t, name)?;
    if n.is_script() {
        return Err(at(
            name,
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

/// Checks the syntax of `text` and that each of its names has a value.
fn placeholders(text: &str, value: &dyn Fn(&str) -> Result<(), String>) -> Result<(), Invalid> {
    let tokens = pattern::parse(text).map_err(|e| at(text, format!("in `{text}`: {e}")))?;
    if tokens.contains(&Token::Index) {
        return Err(at(
            text,
            format!("in `{text}`: `{{#}}` only means something in a transcript"),
        ));
    }
    for name in pattern::names(&tokens) {
        value(name).map_err(|e| at(text, format!("in `{text}`: {e}")))?;
    }
    Ok(())
}

fn script(t: &TestSpec, n: &NodeSpec, steps: &[ScriptStep]) -> Result<(), Invalid> {
    // Names bound by `as` in the other scripts may be used anywhere (the
    // step waits until they are bound); in this one, only after the binding.
    let elsewhere: BTreeSet<String> = t
        .nodes
        .iter()
        .filter(|o| o.name != n.name)
        .flat_map(|o| o.script.iter().flatten())
        .flat_map(bound_by)
        .collect();
    let mut scope = Scope {
        t,
        n,
        elsewhere: &elsewhere,
        here: BTreeSet::new(),
        locals: BTreeSet::new(),
    };
    scope.steps(steps)
}

/// What a script step may name where it stands.
struct Scope<'a> {
    t: &'a TestSpec,
    n: &'a NodeSpec,
    /// Bound by `as` in other scripts.
    elsewhere: &'a BTreeSet<String>,
    /// Bound by `as` in this script, before this step.
    here: BTreeSet<String>,
    /// `i` inside a `repeat`, `req.*` and `stored` in a `serve` reply.
    locals: BTreeSet<&'static str>,
}

impl Scope<'_> {
    fn value(&self, name: &str) -> Result<(), String> {
        if self.locals.contains(name) {
            return Ok(());
        }
        if let Some(n) = name.strip_prefix("random:") {
            return match n.parse::<u64>() {
                Ok(n) if n > 0 => Ok(()),
                _ => Err(format!(
                    "`{{{name}}}`: N in {{random:N}} must be a whole number above 0"
                )),
            };
        }
        if let Some((bind, field)) = name.rsplit_once('.') {
            if !matches!(field, "key" | "value" | "type") {
                return Err(format!(
                    "`{{{name}}}`: a bound datagram has `.key`, `.value` and `.type`"
                ));
            }
            if self.here.contains(bind) || self.elsewhere.contains(bind) {
                return Ok(());
            }
            return Err(format!(
                "`{bind}` is not bound by a `recv` with `as: {bind}` before this step"
            ));
        }
        arg_value(self.t, name).map_err(|e| {
            format!("{e} (or a datagram bound with `as`, as in `{{r.key}}`, or `{{random:N}}`)")
        })
    }

    fn steps(&mut self, steps: &[ScriptStep]) -> Result<(), Invalid> {
        let (t, n) = (self.t, self.n);
        for s in steps {
            match s {
                ScriptStep::Recv(r) => {
                    if let Some(f) = &r.from {
                        known(t, f)?;
                    }
                    for text in [&r.key, &r.value].into_iter().flatten() {
                        placeholders(text, &|x| self.value(x))?;
                        fits(text)?;
                    }
                    if let Some(m) = &r.meanwhile {
                        if m.every.0.is_zero() {
                            return Err(at(
                                "every",
                                "`meanwhile.every` must be more than 0".into(),
                            ));
                        }
                        send(t, n, &m.send, &|x| self.value(x))?;
                    }
                    if let Some(b) = &r.bind {
                        if !is_name(b) {
                            return Err(at(
                                b,
                                format!("`as: {b}`: a name is letters, digits, `_` and `-`"),
                            ));
                        }
                        self.here.insert(b.clone());
                    }
                }
                ScriptStep::Send(s) => send(t, n, s, &|x| self.value(x))?,
                ScriptStep::Silence { .. } | ScriptStep::Sleep(_) => {}
                ScriptStep::Repeat { times, steps } => {
                    if *times == 0 {
                        return Err(at("times", "`repeat` needs `times` of at least 1".into()));
                    }
                    let outer = self.locals.insert("i");
                    self.steps(steps)?;
                    if outer {
                        self.locals.remove("i");
                    }
                }
                ScriptStep::If(c) => {
                    placeholders(&c.value, &|x| self.value(x))?;
                    let before = self.here.clone();
                    self.steps(&c.then)?;
                    // A name bound in one branch only is not bound after it.
                    let then = std::mem::replace(&mut self.here, before.clone());
                    self.steps(&c.otherwise)?;
                    let otherwise = std::mem::replace(&mut self.here, before);
                    self.here.extend(then.intersection(&otherwise).cloned());
                }
                ScriptStep::Serve(sv) => {
                    if sv.rules.is_empty() {
                        return Err(at("rules", "`serve` needs at least one rule".into()));
                    }
                    let added: Vec<&'static str> = ["req.key", "req.value", "req.type", "stored"]
                        .into_iter()
                        .filter(|l| self.locals.insert(l))
                        .collect();
                    for r in &sv.rules {
                        if let Some(f) = &r.from {
                            known(t, f)?;
                        }
                        for reply in r.reply.iter().flat_map(OneOrMany::all) {
                            if let Some(f) = &reply.from {
                                let node = known(t, f)?;
                                if !node.is_script() {
                                    return Err(at(
                                        f,
                                        format!(
                                            "a reply can leave only from a scripted node's address, and `{f}` is a program"
                                        ),
                                    ));
                                }
                            }
                            for text in [&reply.key, &reply.value].into_iter().flatten() {
                                placeholders(text, &|x| self.value(x))?;
                            }
                            if reply.len.is_some_and(|l| l > handout::RECORD_LEN) {
                                return Err(at(
                                    "len",
                                    format!("`len` is at most {}", handout::RECORD_LEN),
                                ));
                            }
                        }
                    }
                    for l in added {
                        self.locals.remove(l);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The names a step binds with `as`, inner steps included.
fn bound_by(s: &ScriptStep) -> Vec<String> {
    match s {
        ScriptStep::Recv(r) => r.bind.iter().cloned().collect(),
        ScriptStep::Repeat { steps, .. } => steps.iter().flat_map(bound_by).collect(),
        ScriptStep::If(c) => c
            .then
            .iter()
            .chain(&c.otherwise)
            .flat_map(bound_by)
            .collect(),
        _ => Vec::new(),
    }
}

fn send(
    t: &TestSpec,
    n: &NodeSpec,
    s: &SendStep,
    value: &dyn Fn(&str) -> Result<(), String>,
) -> Result<(), Invalid> {
    known(t, &s.to)?;
    if let Some(from) = &s.from
        && !known(t, from)?.is_script()
    {
        return Err(at(
            from,
            format!(
                "`{}` sends `from: {from}`, but only a scripted node lends its address",
                n.name
            ),
        ));
    }
    let raw = usize::from(s.hex.is_some()) + usize::from(s.text.is_some());
    let msg = s.kind.is_some() || s.key.is_some() || s.value.is_some();
    if raw > 1 || (raw == 1 && msg) || (raw == 0 && s.kind.is_none()) {
        return Err(at(
            &s.to,
            "a `send` needs either `type` (with `key`, `value`) or one of `hex`, `text`".into(),
        ));
    }
    if let Some(h) = &s.hex {
        parse_hex(h).map_err(|m| at(h, m))?;
    }
    if let Some(len) = s.len {
        if raw > 0 {
            return Err(at(
                &format!("len: {len}"),
                "`len` cuts a record built from `type`; `hex` and `text` are sent whole".into(),
            ));
        }
        if len > handout::RECORD_LEN {
            return Err(at(
                &format!("len: {len}"),
                format!("`len` is at most {} (a whole record)", handout::RECORD_LEN),
            ));
        }
    }
    for text in [&s.key, &s.value].into_iter().flatten() {
        placeholders(text, value)?;
        fits(text)?;
    }
    Ok(())
}

/// A key or value without placeholders must fit in a record's field.
fn fits(text: &str) -> Result<(), Invalid> {
    let literal = pattern::parse(text).is_ok_and(|t| pattern::names(&t).next().is_none());
    if literal && (text.len() > handout::MAX_TEXT_LEN || text.contains('\0')) {
        return Err(at(
            text,
            format!(
                "`{text}` is {} bytes long: a key or value holds at most {} bytes",
                text.len(),
                handout::MAX_TEXT_LEN
            ),
        ));
    }
    Ok(())
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

/// Fault settings, wherever they appear: their link, if they name one, and
/// their probabilities. The message says what is wrong; the caller
/// locates it.
fn faults(t: &TestSpec, f: &FaultSettings, place: FaultsAt) -> Result<(), String> {
    match (f.link(), f.from.is_some() || f.to.is_some(), place) {
        (Some((from, to)), _, FaultsAt::Link | FaultsAt::Step) => link_of(t, from, to)?,
        (None, false, FaultsAt::Network | FaultsAt::Step) => {}
        (_, _, FaultsAt::Network) => {
            return Err(
                "`network.faults` apply to every link; the faults of one link go under `network.links`"
                    .into(),
            );
        }
        (_, _, FaultsAt::Link) => {
            return Err("each of `network.links` names its link with `from` and `to`".into());
        }
        (_, _, FaultsAt::Step) => {
            return Err(
                "`faults` changes one link with both `from` and `to`, or every link with neither"
                    .into(),
            );
        }
    }
    for (p, what) in f.probabilities() {
        if !(0.0..=1.0).contains(&p) {
            return Err(format!("`{what}` is a probability from 0 to 1, got {p}"));
        }
    }
    Ok(())
}

fn network(t: &TestSpec) -> Result<(), Invalid> {
    // Placed at the field at fault, or at the settings' first field.
    let place = |f: &FaultSettings, m: String| {
        let field = f
            .probabilities()
            .find(|(p, _)| !(0.0..=1.0).contains(p))
            .map_or("faults", |(_, what)| what);
        at(&format!("{field}:"), m)
    };
    faults(t, &t.network.faults, FaultsAt::Network).map_err(|m| place(&t.network.faults, m))?;
    for l in &t.network.links {
        faults(t, l, FaultsAt::Link).map_err(|m| place(l, m))?;
    }
    for r in &t.network.rules {
        let m = r.matcher();
        known(t, &m.from)?;
        known(t, &m.to)?;
        let here = |msg: String| at(r.action(), format!("rule `{r}`: {msg}"));
        match (r, m.by) {
            (Rule::Delay(_), None) => return Err(here("a `delay` rule needs `by`".into())),
            (Rule::Delay(_) | Rule::Duplicate(_), Some(by)) if by.0.is_zero() => {
                return Err(here("`by` must be more than 0".into()));
            }
            (Rule::Drop(_), Some(_)) => {
                return Err(here(
                    "only a `delay` or a `duplicate` rule takes `by`".into(),
                ));
            }
            _ => {}
        }
        if m.nth.is_some() && (m.request.is_some() || m.copy.is_some()) {
            return Err(here(
                "`nth` counts every datagram on the link; it does not combine with `request` or `copy`"
                    .into(),
            ));
        }
        for (list, what) in [(&m.nth, "nth"), (&m.copy, "copy")] {
            if let Some(list) = list
                && (list.is_empty() || list.contains(&0))
            {
                return Err(here(format!(
                    "`{what}` counts from 1 and lists at least one number"
                )));
            }
        }
        if m.request.as_ref().is_some_and(Vec::is_empty) {
            return Err(here("`request` lists no number".into()));
        }
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
    if t.steps.is_empty() {
        return Err(at("steps", format!("test `{}` has no steps", t.name)));
    }
    let mut life: BTreeMap<&str, Life> = t
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), Life::NotStarted))
        .collect();
    // How often each step text has been seen, to point at the right one.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for s in &t.steps {
        let needle = step_needle(s);
        let occurrence = {
            let n = seen.entry(needle.clone()).or_default();
            *n += 1;
            *n - 1
        };
        let fail = |message: String| at_nth(&needle, occurrence, message);
        let require_started = |name: &str, verb: &str| -> Result<(), Invalid> {
            match life[name] {
                Life::NotStarted => Err(fail(format!(
                    "the step `{verb}` acts on `{name}` before any step starts it"
                ))),
                _ => Ok(()),
            }
        };
        // Signals, pauses and measures need a program that still runs.
        let require_running = |name: &str, verb: &str| -> Result<(), Invalid> {
            require_started(name, verb)?;
            match life[name] {
                Life::Ended => Err(fail(format!(
                    "the step `{verb}` acts on `{name}`, which has already ended by this step"
                ))),
                _ => Ok(()),
            }
        };
        match s {
            Step::Start(n) => {
                known(t, n)?;
                match life[n.as_str()] {
                    Life::NotStarted => {
                        life.insert(n, Life::Running);
                    }
                    _ => {
                        return Err(fail(format!(
                            "node `{n}` is started twice: a node starts once"
                        )));
                    }
                }
            }
            Step::WaitExit(n) => {
                known(t, n)?;
                require_started(n, "wait_exit")?;
                if life[n.as_str()] == Life::Ended {
                    return Err(fail(format!("`{n}` has already ended by this step")));
                }
                life.insert(n, Life::Ended);
            }
            Step::Stop(stop) => {
                program(t, &stop.node, "`stop`")?;
                require_started(&stop.node, "stop")?;
                if life[stop.node.as_str()] == Life::Ended {
                    return Err(fail(format!(
                        "`{}` has already ended by this step",
                        stop.node
                    )));
                }
                life.insert(&stop.node, Life::Ended);
            }
            Step::Kill(n) => {
                known(t, n)?;
                require_running(n, "kill")?;
                life.insert(n, Life::Ended);
            }
            Step::Restart(n) => {
                known(t, n)?;
                require_started(n, "restart")?;
                if life[n.as_str()] != Life::Ended {
                    return Err(fail(format!(
                        "`restart: {n}` needs `{n}` ended first: by `wait_exit`, `stop` or `kill`"
                    )));
                }
                life.insert(n, Life::Running);
            }
            Step::Signal { node, .. } => {
                program(t, node, "`signal`")?;
                require_running(node, "signal")?;
            }
            Step::Pause(n) | Step::Resume(n) => {
                known(t, n)?;
                require_running(n, "pause/resume")?;
            }
            Step::Idle { node, window, .. } => {
                program(t, node, "`idle`")?;
                require_running(node, "idle")?;
                if window.0.is_zero() {
                    return Err(fail("`idle` needs a window longer than 0".into()));
                }
            }
            Step::WaitOutput { node, line, .. } => {
                program(t, node, "`wait_output`")?;
                require_started(node, "wait_output")?;
                transcript::validate(&[transcript::Item::Line(line.clone())])
                    .map_err(|m| at(line, m))?;
            }
            Step::WaitSent {
                from, to, count, ..
            } => {
                known(t, from)?;
                known(t, to)?;
                if *count == 0 {
                    return Err(fail("`wait_sent` waits for at least 1 datagram".into()));
                }
            }
            Step::Partition(nodes) => {
                if nodes.len() != 2 || nodes[0] == nodes[1] {
                    return Err(fail("`partition` takes two different nodes".into()));
                }
                for n in nodes {
                    known(t, n)?;
                }
            }
            Step::Cut(link) => {
                link_of(t, &link.from, &link.to).map_err(&fail)?;
            }
            Step::HealLink(which) => {
                if let LinkOrPair::Both(pair) = which
                    && pair.len() != 2
                {
                    return Err(fail("`heal_link: [A, B]` takes two different nodes".into()));
                }
                for (from, to) in which.directions() {
                    link_of(t, &from, &to).map_err(&fail)?;
                }
            }
            Step::Faults(change) => {
                faults(t, change, FaultsAt::Step).map_err(&fail)?;
            }
            Step::Query(q) => {
                let by = known(t, &q.by)?;
                if !by.is_script() {
                    return Err(fail(format!(
                        "`query` asks from a scripted node's address, and `{}` is a program",
                        q.by
                    )));
                }
                for n in q.nodes.all() {
                    node_or_group(t, n)?;
                }
                matcher(t, &q.keys)?;
            }
            Step::Sleep(_) | Step::Heal => {}
        }
    }
    Ok(life
        .into_iter()
        .filter(|(_, l)| *l != Life::NotStarted)
        .map(|(n, _)| n.to_string())
        .collect())
}

/// The text a step has in the source, to locate errors on it.
fn step_needle(s: &Step) -> String {
    match s {
        Step::Start(n) => format!("start: {n}"),
        Step::WaitExit(n) => format!("wait_exit: {n}"),
        Step::Stop(_) => "stop:".into(),
        Step::Kill(n) => format!("kill: {n}"),
        Step::Pause(n) => format!("pause: {n}"),
        Step::Resume(n) => format!("resume: {n}"),
        Step::Signal { .. } => "signal:".into(),
        Step::Idle { .. } => "idle:".into(),
        Step::WaitOutput { .. } => "wait_output:".into(),
        Step::WaitSent { .. } => "wait_sent:".into(),
        Step::Partition(_) => "partition:".into(),
        Step::Sleep(_) => "sleep:".into(),
        Step::Heal => "heal".into(),
        Step::Cut(_) => "cut:".into(),
        Step::HealLink(_) => "heal_link:".into(),
        Step::Faults(_) => "faults:".into(),
        Step::Restart(n) => format!("restart: {n}"),
        Step::Query(_) => "query:".into(),
    }
}

fn expect(t: &TestSpec, started: &BTreeSet<String>) -> Result<(), Invalid> {
    for (name, e) in &t.expect {
        let node = known(t, name)?;
        if node.is_script() {
            return Err(at(
                name,
                format!("node `{name}` is scripted: its checks are its `recv` steps, not `expect`"),
            ));
        }
        if !started.contains(name) {
            return Err(at(
                name,
                format!("`expect` checks `{name}`, but no step starts it"),
            ));
        }
        for items in [&e.stdout, &e.stdout_includes, &e.stderr_includes]
            .into_iter()
            .flatten()
        {
            transcript::validate(items).map_err(|m| at(name, m))?;
        }
        for number in &e.numbers {
            let tokens = pattern::parse(&number.line)
                .map_err(|m| at(&number.line, format!("in `{}`: {m}", number.line)))?;
            if !pattern::names(&tokens).any(|n| n == "number") {
                return Err(at(
                    &number.line,
                    format!(
                        "`{}` has no `{{number}}`: put it where the number is printed",
                        number.line
                    ),
                ));
            }
            if number.at_least.is_none() && number.at_most.is_none() {
                return Err(at(
                    &number.line,
                    "a number check needs `at_least`, `at_most` or both".into(),
                ));
            }
            for e in [&number.at_least, &number.at_most].into_iter().flatten() {
                expression(t, e)?;
            }
        }
        if let Some(other) = &e.stdout_same_as {
            program(t, other, "`stdout_same_as`")?;
            if other == name {
                return Err(at(other, format!("`{name}` is compared with itself")));
            }
            if !started.contains(other) {
                return Err(at(
                    other,
                    format!("`stdout_same_as: {other}`, but no step starts `{other}`"),
                ));
            }
        }
    }
    Ok(())
}

fn wire(t: &TestSpec, w: &WireCheck) -> Result<(), Invalid> {
    w.as_kind().validate(t)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{LabSpec, SpecError};

    /// A test of replicas: two servers, a client that chooses among them
    /// and is run twice, and a probe that reads the end state.
    const REPLICAS: &str = "\
lab: hw5
title: replicas
binaries: [server, client]
tests:
  - name: end-state
    description: the servers agree
    nodes:
      - name: server
        run: server
        args: [\"{port}\"]
        count: 2
      - name: client
        run: client
        args: [\"{peers:server}\"]
      - name: probe
        script: []
    steps:
      - start: server
      - start: client
      - cut: { from: client, to: server0 }
      - heal_link: { from: client, to: server0 }
      - faults: { from: client, to: server1, drop: 0.5 }
      - wait_exit: client
      - restart: client
      - wait_exit: client
      - query: { by: probe, nodes: server, keys: { from: client, type: WRITE_REQ } }
      - stop: server
    wire:
      - replicas: { nodes: server }
      - choices:
          node: client
          line: \"key {key} to {chosen} of {first} and {second}\"
          peers: server
          request: READ_REQ
          reply: READ_REP
";

    fn parse(text: &str) -> Result<LabSpec, SpecError> {
        LabSpec::parse(Path::new("labs/hw5/spec.yaml"), text)
    }

    /// The error of `REPLICAS` with `from` replaced by `to`; it must say
    /// `says`, on the line of the first `at` from the test's name on.
    fn rejected(from: &str, to: &str, says: &str, at: &str) {
        rejected_at(from, to, says, at, 0);
    }

    /// [`rejected`], on the line of occurrence `nth` (from 0) of `at`.
    fn rejected_at(from: &str, to: &str, says: &str, at: &str, nth: usize) {
        assert!(REPLICAS.contains(from), "{from}");
        let text = REPLICAS.replacen(from, to, 1);
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains(says), "expected `{says}` in: {e}");
        let start = text
            .lines()
            .position(|l| l.contains("- name: end-state"))
            .unwrap();
        let line = text
            .lines()
            .enumerate()
            .skip(start)
            .filter(|(_, l)| l.contains(at))
            .nth(nth)
            .unwrap()
            .0
            + 1;
        assert_eq!(e.line, Some(line), "{e}");
    }

    #[test]
    fn the_replicas_test_validates() {
        let s = parse(REPLICAS).unwrap();
        assert_eq!(s.tests[0].steps.len(), 12, "start and stop on each server");
    }

    #[test]
    fn restart_before_the_node_ended_is_an_error() {
        rejected(
            "      - wait_exit: client\n      - restart: client\n",
            "      - restart: client\n",
            "`restart: client` needs `client` ended first: by `wait_exit`, `stop` or `kill`",
            "restart: client",
        );
        rejected(
            "      - restart: client\n",
            "      - restart: client\n      - restart: probe\n",
            "the step `restart` acts on `probe` before any step starts it",
            "restart: probe",
        );
        // Restarted, it runs: it must end again before another restart.
        rejected_at(
            "      - restart: client\n",
            "      - restart: client\n      - restart: client\n",
            "`restart: client` needs `client` ended first",
            "restart: client",
            1,
        );
    }

    #[test]
    fn faults_with_only_one_end_of_a_link_is_an_error() {
        for only in ["{ from: client, drop: 0.5 }", "{ to: server1, drop: 0.5 }"] {
            rejected(
                "{ from: client, to: server1, drop: 0.5 }",
                only,
                "`faults` changes one link with both `from` and `to`, or every link with neither",
                "faults:",
            );
        }
        // Neither: every link.
        let text = REPLICAS.replacen(
            "{ from: client, to: server1, drop: 0.5 }",
            "{ drop: 0.5 }",
            1,
        );
        parse(&text).unwrap();
    }

    #[test]
    fn fault_settings_are_checked_alike_wherever_they_are() {
        // The same settings under `network`: every link, or one named link.
        let network = |net: &str| {
            REPLICAS.replacen(
                "    steps:\n",
                &format!("    network:\n{net}    steps:\n"),
                1,
            )
        };
        let cases = [
            (
                "      faults: { from: client, drop: 0.5 }\n",
                "`network.faults` apply to every link",
            ),
            (
                "      links: [{ from: client, drop: 0.5 }]\n",
                "each of `network.links` names its link with `from` and `to`",
            ),
            (
                "      links: [{ from: client, to: client, drop: 0.5 }]\n",
                "a link joins two different nodes",
            ),
            (
                "      links: [{ from: client, to: server0, duplicate: 1.5 }]\n",
                "`duplicate` is a probability from 0 to 1, got 1.5",
            ),
            (
                "      faults: { drop: -1 }\n",
                "`drop` is a probability from 0 to 1, got -1",
            ),
        ];
        for (net, says) in cases {
            let e = parse(&network(net)).unwrap_err();
            assert!(e.message.contains(says), "expected `{says}` in: {e}");
        }
        rejected(
            "{ from: client, to: server1, drop: 0.5 }",
            "{ from: client, to: server1, drop: 2 }",
            "`drop` is a probability from 0 to 1, got 2",
            "faults:",
        );
        parse(&network(
            "      faults: { drop: 0.1 }\n      links: [{ from: client, to: server0, jitter: 5ms }]\n",
        ))
        .unwrap();
    }

    #[test]
    fn a_query_by_a_program_is_an_error() {
        rejected(
            "by: probe",
            "by: client",
            "`query` asks from a scripted node's address, and `client` is a program",
            "query:",
        );
    }

    #[test]
    fn replicas_without_a_query_step_is_an_error() {
        rejected(
            "      - query: { by: probe, nodes: server, keys: { from: client, type: WRITE_REQ } }\n",
            "",
            "`replicas` compares the answers of a `query` step, and the test has none",
            "replicas",
        );
    }

    #[test]
    fn a_choices_line_without_chosen_is_an_error() {
        rejected(
            "to {chosen} of",
            "to {pick} of",
            "has no `{chosen}`",
            "line: \"key {key} to {pick}",
        );
    }

    #[test]
    fn a_link_from_a_node_to_itself_is_an_error() {
        rejected(
            "cut: { from: client, to: server0 }",
            "cut: { from: client, to: client }",
            "a link joins two different nodes, not `client` and itself",
            "cut:",
        );
        rejected(
            "heal_link: { from: client, to: server0 }",
            "heal_link: [server0, server0]",
            "a link joins two different nodes, not `server0` and itself",
            "heal_link:",
        );
        rejected(
            "cut: { from: client, to: server0 }",
            "cut: { from: client, to: server }",
            "no node `server` in this test",
            "cut:",
        );
    }
}
