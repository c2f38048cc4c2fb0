//! The resolved test: what a valid test becomes before anything runs.
//!
//! Validation checks a parsed test against the rules of the format;
//! [`resolve`] then turns it into a [`Plan`] that the runner and the judge
//! read instead of names: every node by its index (the index of the
//! record's nodes too), every program's arguments parsed once, the random
//! faults of every link merged once, every step with the nodes it acts on.
//! Nothing downstream of a plan looks a name up, so nothing there can fail
//! to find one: no `expect("validated")`, no fallback to node 0.
//!
//! Resolving is fallible all the same, and says why as a located spec
//! error: validation ran first, so it never fails on a spec the grader
//! accepts, but if the two ever disagreed the spec's author would read
//! which name and where, rather than a panic in the middle of a test.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::pattern::{self, Token};
use super::place::NodePath;
use super::validate::{Invalid, at};
use super::{FaultSettings, Faults, LinkOrPair, Match, Rule, ScriptStep, Step, Stream, TestSpec};

/// A test, resolved: see the module's docs.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The nodes, in the spec's order (after groups are unrolled).
    pub nodes: Vec<Node>,
    /// The steps, in order, one for each of the spec's.
    pub steps: Vec<Action>,
    /// The random faults of the links when the test starts.
    pub faults: LinkFaults,
    /// The network's rules, with the indexes of their sender and receiver.
    pub rules: Vec<(usize, usize, Rule)>,
}

/// The random faults of a test's links, as settings: the test-wide ones,
/// and each link's put over them in order. `faults` steps change them.
#[derive(Debug, Clone, Default)]
pub struct LinkFaults {
    /// Every link's (`network.faults`, or a test-wide `faults` step).
    pub every: FaultSettings,
    /// One link's each (`network.links`, a `faults` step naming a link).
    pub links: Vec<(usize, usize, FaultSettings)>,
}

impl LinkFaults {
    /// The faults in force on the link `from -> to`.
    pub fn of(&self, from: usize, to: usize) -> Faults {
        (self.links.iter())
            .filter(|(f, t, _)| (*f, *t) == (from, to))
            .fold(self.every.over(Faults::default()), |f, (.., l)| l.over(f))
    }

    /// A `faults` step: settings for one link go over the others; for
    /// every link they replace the test-wide ones (a field not given is 0
    /// again).
    pub fn change(&mut self, link: Option<(usize, usize)>, settings: &FaultSettings) {
        match link {
            Some((from, to)) => self.links.push((from, to, settings.clone())),
            None => self.every = settings.clone(),
        }
    }
}

/// A node, resolved.
#[derive(Debug, Clone)]
pub enum Node {
    /// A program of the lab.
    Program {
        /// The lab's executable it runs.
        bin: String,
        /// Its arguments, each parsed as a pattern (`{port}`, `{peer:X}`).
        args: Vec<Vec<Token>>,
        /// Whether it binds a port the grader leases for it (`{port}`).
        listens: bool,
    },
    /// A peer the grader plays, step by step.
    Script(Vec<ScriptStep>),
}

impl Node {
    /// Whether the grader plays this node.
    pub fn is_script(&self) -> bool {
        matches!(self, Node::Script(_))
    }
}

/// A step, resolved: the nodes it acts on by index.
#[derive(Debug, Clone)]
pub enum Action {
    /// `start`.
    Start(usize),
    /// `wait_exit`.
    WaitExit(usize),
    /// `stop`: a signal, then up to `within` for the node to exit.
    Stop {
        /// The node.
        node: usize,
        /// The signal sent.
        signal: Signal,
        /// How long it has to exit.
        within: Duration,
    },
    /// `signal`.
    Signal {
        /// The node.
        node: usize,
        /// The signal sent.
        signal: Signal,
    },
    /// `pause`.
    Pause(usize),
    /// `resume`.
    Resume(usize),
    /// `kill`.
    Kill(usize),
    /// `restart`.
    Restart(usize),
    /// `sleep`.
    Sleep(Duration),
    /// `wait_output`.
    WaitOutput {
        /// The node.
        node: usize,
        /// The pattern, parsed.
        pattern: Vec<Token>,
        /// The pattern as written, for messages.
        line: String,
        /// The stream it must appear on.
        stream: Stream,
    },
    /// `wait_sent`.
    WaitSent {
        /// Sender.
        from: usize,
        /// Receiver.
        to: usize,
        /// Only datagrams of this type.
        kind: Option<handout::MsgType>,
        /// How many.
        count: usize,
    },
    /// `idle`.
    Idle {
        /// The node.
        node: usize,
        /// The window.
        window: Duration,
    },
    /// `load`.
    Load {
        /// The node.
        node: usize,
        /// What the clients send.
        workload: super::WorkloadName,
        /// Closed-loop clients.
        clients: usize,
        /// How long the node is driven (the grader's own server as long).
        window: Duration,
    },
    /// `partition`.
    Partition(usize, usize),
    /// `heal`.
    Heal,
    /// `cut`: one direction of a link.
    Cut {
        /// Sender.
        from: usize,
        /// Receiver.
        to: usize,
    },
    /// `heal_link`: each direction given.
    HealLink(Vec<(usize, usize)>),
    /// `faults`: the settings, and the link they change (every link when
    /// none).
    Faults {
        /// The link, if one.
        link: Option<(usize, usize)>,
        /// What changes.
        settings: FaultSettings,
    },
    /// `query`.
    Query {
        /// The scripted node that asks.
        by: usize,
        /// The nodes it reads from, each member of a group.
        nodes: Vec<usize>,
        /// The datagrams whose keys it reads.
        keys: Match,
        /// How long each answer may take.
        within: Duration,
    },
}

impl Action {
    /// The node the step is about, if it is about one.
    pub fn node(&self) -> Option<usize> {
        match self {
            Action::Start(n)
            | Action::WaitExit(n)
            | Action::Pause(n)
            | Action::Resume(n)
            | Action::Kill(n)
            | Action::Restart(n)
            | Action::Stop { node: n, .. }
            | Action::Signal { node: n, .. }
            | Action::WaitOutput { node: n, .. }
            | Action::Idle { node: n, .. }
            | Action::Load { node: n, .. }
            | Action::Query { by: n, .. }
            | Action::WaitSent { from: n, .. } => Some(*n),
            Action::Sleep(_)
            | Action::Partition(..)
            | Action::Heal
            | Action::Cut { .. }
            | Action::HealLink(_)
            | Action::Faults { .. } => None,
        }
    }

    /// Whether the step starts node `i` (`start` or `restart`).
    pub fn starts(&self, i: usize) -> bool {
        matches!(self, Action::Start(n) | Action::Restart(n) if *n == i)
    }
}

/// Turns a valid test into its plan.
///
/// # Errors
/// A name the test does not have, or a pattern that does not parse, where
/// it is written (validation reports these first: see the module's docs).
pub fn resolve(t: &TestSpec) -> Result<Plan, Invalid> {
    let names = Names(t);
    let nodes = (t.nodes.iter().enumerate())
        .map(|(k, n)| node(t, k, n))
        .collect::<Result<Vec<_>, _>>()?;
    let steps = (t.steps.iter().enumerate())
        .map(|(k, s)| {
            let item = NodePath::root()
                .key("steps")
                .index(t.written.steps.get(k).copied().unwrap_or(k));
            action(&names, s, &item.key(s.name()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let faults = LinkFaults {
        every: t.network.faults.clone(),
        links: (t.network.links.iter().enumerate())
            .map(|(k, l)| {
                let path = NodePath::root().key("network").key("links").index(k);
                let Some((from, to)) = l.link() else {
                    return Err(at(path, "a link needs `from` and `to`".into()));
                };
                Ok((names.one(from, &path)?, names.one(to, &path)?, l.clone()))
            })
            .collect::<Result<Vec<_>, Invalid>>()?,
    };
    let rules = (t.network.rules.iter().enumerate())
        .map(|(k, r)| {
            let path = NodePath::root().key("network").key("rules").index(k);
            let m = r.matcher();
            Ok((
                names.one(&m.from, &path)?,
                names.one(&m.to, &path)?,
                r.clone(),
            ))
        })
        .collect::<Result<Vec<_>, Invalid>>()?;
    Ok(Plan {
        nodes,
        steps,
        faults,
        rules,
    })
}

fn node(t: &TestSpec, k: usize, n: &super::NodeSpec) -> Result<Node, Invalid> {
    let path = NodePath::root()
        .key("nodes")
        .index(t.written.nodes.get(k).copied().unwrap_or(k));
    if let Some(steps) = &n.script {
        return Ok(Node::Script(steps.clone()));
    }
    let Some(bin) = &n.run else {
        return Err(at(
            path,
            format!("node `{}` needs `run` or `script`", n.name),
        ));
    };
    let args = (n.args.iter().enumerate())
        .map(|(a, text)| pattern::parse(text).map_err(|m| at(path.key("args").index(a), m)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Node::Program {
        bin: bin.clone(),
        listens: n.listens(),
        args,
    })
}

/// Looking names up, once, while resolving.
struct Names<'a>(&'a TestSpec);

impl Names<'_> {
    /// The node called `name`.
    fn one(&self, name: &str, path: &NodePath) -> Result<usize, Invalid> {
        self.0
            .index(name)
            .ok_or_else(|| at(path.clone(), format!("no node `{name}` in this test")))
    }

    /// The nodes `name` stands for: the node, or its group's members.
    fn members(&self, name: &str, path: &NodePath) -> Result<Vec<usize>, Invalid> {
        match self.0.groups.get(name) {
            Some(members) => members.iter().map(|m| self.one(m, path)).collect(),
            None => Ok(vec![self.one(name, path)?]),
        }
    }
}

/// One step, at `path` (its body, under its key).
fn action(names: &Names, s: &Step, path: &NodePath) -> Result<Action, Invalid> {
    let one = |name: &str| names.one(name, path);
    Ok(match s {
        Step::Start(n) => Action::Start(one(n)?),
        Step::WaitExit(n) => Action::WaitExit(one(n)?),
        Step::Stop(s) => Action::Stop {
            node: one(&s.node)?,
            signal: s.signal.0,
            within: s.within.0,
        },
        Step::Signal { node, signal } => Action::Signal {
            node: one(node)?,
            signal: signal.0,
        },
        Step::Pause(n) => Action::Pause(one(n)?),
        Step::Resume(n) => Action::Resume(one(n)?),
        Step::Kill(n) => Action::Kill(one(n)?),
        Step::Restart(n) => Action::Restart(one(n)?),
        Step::Sleep(d) => Action::Sleep(d.0),
        Step::WaitOutput { node, line, stream } => Action::WaitOutput {
            node: one(node)?,
            pattern: pattern::parse(line).map_err(|m| at(path.key("line"), m))?,
            line: line.clone(),
            stream: *stream,
        },
        Step::WaitSent {
            from,
            to,
            kind,
            count,
        } => Action::WaitSent {
            from: one(from)?,
            to: one(to)?,
            kind: kind.map(|k| k.0),
            count: *count,
        },
        Step::Idle { node, window, .. } => Action::Idle {
            node: one(node)?,
            window: window.0,
        },
        Step::Load(l) => Action::Load {
            node: one(&l.node)?,
            workload: l.workload,
            clients: l.clients,
            window: l.window.0,
        },
        Step::Partition(pair) => match pair.as_slice() {
            [a, b] => Action::Partition(one(a)?, one(b)?),
            _ => return Err(at(path.clone(), "`partition` takes two nodes".into())),
        },
        Step::Heal => Action::Heal,
        Step::Cut(link) => Action::Cut {
            from: one(&link.from)?,
            to: one(&link.to)?,
        },
        Step::HealLink(which) => Action::HealLink(directions(names, which, path)?),
        Step::Faults(settings) => Action::Faults {
            link: match settings.link() {
                Some((f, t)) => Some((one(f)?, one(t)?)),
                None => None,
            },
            settings: settings.clone(),
        },
        Step::Query(q) => Action::Query {
            by: one(&q.by)?,
            nodes: (q.nodes.all().iter())
                .map(|n| names.members(n, path))
                .collect::<Result<Vec<_>, _>>()?
                .concat(),
            keys: q.keys.clone(),
            within: q.within.map_or(Duration::from_secs(2), |w| w.0),
        },
    })
}

fn directions(
    names: &Names,
    which: &LinkOrPair,
    path: &NodePath,
) -> Result<Vec<(usize, usize)>, Invalid> {
    (which.directions().iter())
        .map(|(f, t)| Ok((names.one(f, path)?, names.one(t, path)?)))
        .collect()
}
