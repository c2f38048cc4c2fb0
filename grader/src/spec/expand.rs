//! Node groups: `count: N` unrolled, right after parsing.
//!
//! A test of five servers names one node `server` with `count: 5`; this
//! module turns it into `server0` ... `server4`, each with the template's
//! arguments (`{index}` replaced by its number), and rewrites what names
//! the group:
//!
//! - an argument that is exactly `{peers:server}` becomes five arguments,
//!   `{peer:server0}` ... `{peer:server4}`, in order;
//! - a step on `server` (start, stop, wait for the exit, kill, pause,
//!   resume, signal, idle, wait for output) becomes that step on each
//!   member, in order; a partition lists the members;
//! - `expect: { server: ... }` applies to each member;
//! - a link's faults (`network.links`) from or to `server` apply to the
//!   link of each member.
//!
//! Wire checks keep the group's name: a check resolves it against the
//! record, where every member knows its group (see
//! [`crate::judge::wire`]), because a check about a group is not a check
//! about each member (`routed` needs the order of all of them).
//!
//! The rest of the grader sees only plain nodes, so the runner, the proxy
//! and the reports need nothing new.

use std::collections::BTreeMap;

use super::place::NodePath;
use super::validate::{Invalid, at_key};
use super::{FaultSettings, LoadStep, NodeSpec, Step, StopStep, TestSpec};

/// Unrolls the groups of every test.
///
/// # Errors
/// A group of 0 nodes, a member whose name another node has, a name given
/// to a group and to an `expect` of one of its members.
pub fn lab(tests: &mut [TestSpec]) -> Result<(), Invalid> {
    for (i, t) in tests.iter_mut().enumerate() {
        test(t).map_err(|e| e.under(&NodePath::root().key("tests").index(i)))?;
    }
    Ok(())
}

/// Where each part of a test that unrolling may multiply was written:
/// its index, or its key, in the file. Unrolling fills it for every test,
/// with or without groups, so that an error found later is located where
/// its step, node or entry was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// For each node, its index in the file's `nodes` (the members of a
    /// group share their template's).
    pub nodes: Vec<usize>,
    /// For each node, for each argument, its index in the file's `args` of
    /// that node (`{peers:NAME}` is one argument written, several run).
    pub args: Vec<Vec<usize>>,
    /// For each step, its index in the file's `steps`.
    pub steps: Vec<usize>,
    /// For each entry of `network.links`, its index in the file.
    pub links: Vec<usize>,
    /// For each `expect` entry, its key in the file: a member's may be its group's.
    pub expect: BTreeMap<String, String>,
}

impl Written {
    /// A test as it is written: every index its own.
    fn as_is(t: &TestSpec) -> Written {
        Written {
            nodes: (0..t.nodes.len()).collect(),
            args: t
                .nodes
                .iter()
                .map(|n| (0..n.args.len()).collect())
                .collect(),
            steps: (0..t.steps.len()).collect(),
            links: (0..t.network.links.len()).collect(),
            expect: t.expect.keys().map(|k| (k.clone(), k.clone())).collect(),
        }
    }
}

fn test(t: &mut TestSpec) -> Result<(), Invalid> {
    t.written = Written::as_is(t);
    if t.nodes.iter().all(|n| n.count.is_none()) {
        return Ok(());
    }
    let groups = members(t)?;
    peers(t, &groups);
    let (steps, written): (Vec<Step>, Vec<usize>) = std::mem::take(&mut t.steps)
        .into_iter()
        .enumerate()
        .flat_map(|(w, s)| step(s, &groups).into_iter().map(move |s| (s, w)))
        .unzip();
    (t.steps, t.written.steps) = (steps, written);
    links(t, &groups);
    expect(t, &groups)?;
    t.groups = groups;
    Ok(())
}

/// Unrolls the nodes with `count` into their members; returns the groups.
fn members(t: &mut TestSpec) -> Result<BTreeMap<String, Vec<String>>, Invalid> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut nodes = Vec::new();
    let mut written = Vec::new();
    for (w, node) in std::mem::take(&mut t.nodes).into_iter().enumerate() {
        let Some(count) = node.count else {
            nodes.push(node);
            written.push(w);
            continue;
        };
        if count == 0 {
            return Err(at_key(
                NodePath::root().key("nodes").index(w).key("count"),
                format!(
                    "node `{}` has `count: 0`: a group needs at least one node",
                    node.name
                ),
            ));
        }
        let members: Vec<String> = (0..count).map(|i| format!("{}{i}", node.name)).collect();
        for (i, name) in members.iter().enumerate() {
            nodes.push(NodeSpec {
                name: name.clone(),
                args: node
                    .args
                    .iter()
                    .map(|a| a.replace("{index}", &i.to_string()))
                    .collect(),
                count: None,
                member: Some((node.name.clone(), i)),
                ..node.clone()
            });
            written.push(w);
        }
        groups.insert(node.name, members);
    }
    for (n, &w) in nodes.iter().zip(&written) {
        let taken = groups.contains_key(&n.name) && n.member.is_none();
        let twice = nodes.iter().filter(|m| m.name == n.name).count() > 1;
        if taken || twice {
            return Err(at_key(
                NodePath::root().key("nodes").index(w).key("name"),
                format!(
                    "two nodes would be named `{}` (a group of `count` nodes is named NAME0, NAME1, ...): rename one",
                    n.name
                ),
            ));
        }
    }
    t.nodes = nodes;
    t.written.nodes = written;
    Ok(groups)
}

/// `{peers:NAME}`, as a whole argument, becomes one `{peer:MEMBER}` per member.
fn peers(t: &mut TestSpec, groups: &BTreeMap<String, Vec<String>>) {
    t.written.args.clear();
    for n in &mut t.nodes {
        let (args, written): (Vec<String>, Vec<usize>) = n
            .args
            .iter()
            .enumerate()
            .flat_map(|(w, a)| {
                let group = a
                    .strip_prefix("{peers:")
                    .and_then(|r| r.strip_suffix('}'))
                    .and_then(|g| groups.get(g));
                match group {
                    Some(members) => members
                        .iter()
                        .map(|m| (format!("{{peer:{m}}}"), w))
                        .collect(),
                    None => vec![(a.clone(), w)],
                }
            })
            .unzip();
        n.args = args;
        t.written.args.push(written);
    }
}

/// A link's faults from or to a group apply to the link of each member.
fn links(t: &mut TestSpec, groups: &BTreeMap<String, Vec<String>>) {
    let names_of = |n: &str| {
        groups
            .get(n)
            .cloned()
            .unwrap_or_else(|| vec![n.to_string()])
    };
    let (links, written): (Vec<FaultSettings>, Vec<usize>) = std::mem::take(&mut t.network.links)
        .into_iter()
        .enumerate()
        .flat_map(|(w, l)| {
            // A link without both ends is left for validation to report.
            let Some((from, to)) = l.link().map(|(f, t)| (names_of(f), names_of(t))) else {
                return vec![(l, w)];
            };
            (from.iter())
                .flat_map(|f| to.iter().map(move |t| (f, t)))
                .map(|(f, t)| {
                    let link = FaultSettings {
                        from: Some(f.clone()),
                        to: Some(t.clone()),
                        ..l.clone()
                    };
                    (link, w)
                })
                .collect()
        })
        .unzip();
    t.network.links = links;
    t.written.links = written;
}

/// `expect` of a group applies to each member.
fn expect(t: &mut TestSpec, groups: &BTreeMap<String, Vec<String>>) -> Result<(), Invalid> {
    t.written.expect.clear();
    for (name, e) in std::mem::take(&mut t.expect) {
        let path = NodePath::root().key("expect").key(&name);
        match groups.get(&name) {
            Some(members) => {
                for m in members {
                    if t.expect.insert(m.clone(), e.clone()).is_some() {
                        return Err(at_key(
                            path,
                            format!("`expect` has `{m}` and its group `{name}`: give one of them"),
                        ));
                    }
                    t.written.expect.insert(m.clone(), name.clone());
                }
            }
            None => {
                if t.expect.insert(name.clone(), e).is_some() {
                    return Err(at_key(
                        path,
                        format!("`expect` has `{name}` and its group: give one of them"),
                    ));
                }
                t.written.expect.insert(name.clone(), name);
            }
        }
    }
    Ok(())
}

/// A step on a group, as steps on each member.
fn step(s: Step, groups: &BTreeMap<String, Vec<String>>) -> Vec<Step> {
    let each = |name: &str, make: &dyn Fn(String) -> Step| -> Option<Vec<Step>> {
        groups
            .get(name)
            .map(|members| members.iter().map(|m| make(m.clone())).collect())
    };
    let expanded = match &s {
        Step::Start(n) => each(n, &Step::Start),
        Step::WaitExit(n) => each(n, &Step::WaitExit),
        Step::Pause(n) => each(n, &Step::Pause),
        Step::Resume(n) => each(n, &Step::Resume),
        Step::Kill(n) => each(n, &Step::Kill),
        Step::Restart(n) => each(n, &Step::Restart),
        Step::Stop(stop) => each(&stop.node, &|node| {
            Step::Stop(StopStep {
                node,
                ..stop.clone()
            })
        }),
        Step::Signal { node, signal } => each(node, &|node| Step::Signal {
            node,
            signal: *signal,
        }),
        Step::Idle {
            node,
            window,
            max_cpu,
            max_wakeups,
        } => each(node, &|node| Step::Idle {
            node,
            window: *window,
            max_cpu: *max_cpu,
            max_wakeups: *max_wakeups,
        }),
        Step::Load(l) => each(&l.node, &|node| Step::Load(LoadStep { node, ..l.clone() })),
        Step::WaitOutput { node, line, stream } => each(node, &|node| Step::WaitOutput {
            node,
            line: line.clone(),
            stream: *stream,
        }),
        Step::Partition(names) => Some(vec![Step::Partition(
            names
                .iter()
                .flat_map(|n| groups.get(n).cloned().unwrap_or_else(|| vec![n.clone()]))
                .collect(),
        )]),
        _ => None,
    };
    expanded.unwrap_or_else(|| vec![s])
}

#[cfg(test)]
mod tests {
    use super::super::LabSpec;
    use std::path::Path;

    const SPEC: &str = "lab: hw2\ntitle: t\nbinaries: [server, client]\ntests:\n  - name: x\n    description: d\n    nodes:\n      - { name: server, run: server, args: ['{port}', '--id', '{index}'], count: 3 }\n      - { name: client, run: client, args: ['{peers:server}', --seed, '{seed}'] }\n    steps: [{ start: server }, { start: client }, { wait_exit: client }, { stop: server }]\n    expect:\n      server: { exit: 0 }\n    wire:\n      - routed: { from: client, to: server, by: hash64 }\n";

    #[test]
    fn a_group_becomes_its_members_everywhere() {
        let spec = LabSpec::parse(Path::new("spec.yaml"), SPEC).unwrap();
        let t = &spec.tests[0];
        let names: Vec<&str> = t.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["server0", "server1", "server2", "client"]);
        assert_eq!(t.nodes[1].args, ["{port}", "--id", "1"]);
        assert_eq!(
            t.nodes[3].args,
            [
                "{peer:server0}",
                "{peer:server1}",
                "{peer:server2}",
                "--seed",
                "{seed}"
            ]
        );
        assert_eq!(t.steps.len(), 3 + 1 + 1 + 3);
        assert_eq!(t.expect.len(), 3);
        assert_eq!(t.groups["server"], ["server0", "server1", "server2"]);
        assert_eq!(t.nodes[2].member, Some(("server".to_string(), 2)));
    }

    #[test]
    fn what_was_unrolled_keeps_where_it_was_written() {
        let spec = LabSpec::parse(Path::new("spec.yaml"), SPEC).unwrap();
        let w = &spec.tests[0].written;
        assert_eq!(w.nodes, [0, 0, 0, 1]);
        assert_eq!(w.args[1], [0, 1, 2]);
        assert_eq!(w.args[3], [0, 0, 0, 1, 2]);
        assert_eq!(w.steps, [0, 0, 0, 1, 2, 3, 3, 3]);
        assert_eq!(w.expect["server2"], "server");
        // Without groups, everything is where it was written.
        let plain = SPEC
            .replace(", count: 3", "")
            .replace("'{index}'", "'1'")
            .replace("{peers:server}", "{peer:server}");
        let spec = LabSpec::parse(Path::new("spec.yaml"), &plain).unwrap();
        let w = &spec.tests[0].written;
        assert_eq!((w.nodes.as_slice(), w.steps.len()), ([0, 1].as_slice(), 4));
        assert_eq!(w.args[1], [0, 1, 2]);
        assert_eq!(w.expect["server"], "server");
    }

    #[test]
    fn a_member_takes_its_own_variable_through_its_index() {
        let spec = SPEC
            .replace("'--id', '{index}'", "'--delay-ms', '{delay{index}}'")
            .replace(
                "    nodes:\n",
                "    vars: { delay0: 2, delay1: 2, delay2: 20 }\n    nodes:\n",
            );
        let spec = LabSpec::parse(Path::new("spec.yaml"), &spec).unwrap();
        assert_eq!(
            spec.tests[0].nodes[2].args,
            ["{port}", "--delay-ms", "{delay2}"]
        );
    }

    #[test]
    fn groups_are_checked() {
        let zero = SPEC.replace("count: 3", "count: 0");
        let e = LabSpec::parse(Path::new("spec.yaml"), &zero).unwrap_err();
        assert!(e.to_string().contains("`count: 0`"), "{e}");
        let clash = SPEC.replace(
            "      - { name: client,",
            "      - { name: server1, run: server }\n      - { name: client,",
        );
        let e = LabSpec::parse(Path::new("spec.yaml"), &clash).unwrap_err();
        assert!(
            e.to_string().contains("two nodes would be named `server1`"),
            "{e}"
        );
    }
}
